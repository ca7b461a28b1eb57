/* server: `zpanel serve`, the control plane: an HTTP/1.1 JSON API (libmicrohttpd) over
 * the same library the CLI uses, a persistent job queue in the state directory's
 * zpanel.db, token auth, job logs as files streamed as server-sent events. Also the
 * account operations that `zpanel user` and `zpanel token` run on the state directory. */
#ifndef ZP_SERVER_H
#define ZP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

struct server_opts {
    const char *listen;    /* "ADDR:PORT" or "[ADDR6]:PORT"; NULL: 127.0.0.1:7070 */
    const char *state_dir; /* borrowed; not NULL */
    const char *host;      /* the Docker engine (-H), NULL: DOCKER_HOST or the socket */
    int workers;           /* jobs run at once across projects; <= 0: the host's cores */
    int max_connections;   /* <= 0: 256 */
    bool quiet;            /* no request log lines on stderr */
};

struct server;

/* Open the state (zpanel.db; jobs left running by a killed serve are queued again),
 * start the job workers and listen. Returns 0 and *ret (server_free stops it).
 * Errors: ZP_E_INPUT (bad listen address, a state database that is not ours or newer),
 * ZP_E_SYSTEM (cannot listen: the message names the address). */
int server_start(const struct server_opts *opts, struct server **ret, struct zp_err *err);
/* The port actually bound (useful with port 0). */
int server_port(const struct server *s);
/* Stop listening, interrupt running jobs (they are queued again for the next start), join
 * every thread and free s. NULL is accepted. */
void server_free(struct server *s);

/* ---- accounts (used by `zpanel user` and `zpanel token`; safe while serve runs) ---- */

/* Add user name (letters, digits, '.', '-', '_', 1 to 64) with role ("admin", "member",
 * "viewer") and password (at least 8 bytes; hashed with argon2id, never stored).
 * Errors: ZP_E_INPUT (name, role, password), ZP_E_CONFLICT (exists), store errors. */
int server_user_add(const char *state_dir, const char *name, const char *role, const char *password,
                    struct zp_err *err);

/* Create an API token for user with scope ("read", "deploy", "write", "admin"; not above
 * what the user's role allows: viewer read, member write, admin admin), expiring after
 * ttl_s seconds (0: never). *ret_token (the only copy of the secret; the caller frees it)
 * is stored as its SHA-256. Errors: ZP_E_INPUT (scope), ZP_E_NOTFOUND (user). */
int server_token_create(const char *state_dir, const char *user, const char *scope, int64_t ttl_s,
                        char **ret_token, struct zp_err *err);

/* ---- notification channels (used by `zpanel notify`; safe while serve runs) ---- */

struct notify_channel;
struct store_channel;
/* Check channel c (errors name the field: ZP_E_INPUT) and store it, its secret sealed. */
int server_notify_add(const char *state_dir, const struct notify_channel *c, int64_t *ret_id,
                      struct zp_err *err);
/* The stored channels (secrets sealed), oldest first (store_channels_free). */
int server_notify_list(const char *state_dir, struct store_channel **ret, size_t *ret_n,
                       struct zp_err *err);
/* Errors: ZP_E_NOTFOUND. */
int server_notify_remove(const char *state_dir, int64_t id, struct zp_err *err);
/* Send a "test" event on channel id now. Errors: ZP_E_NOTFOUND, ZP_E_SYSTEM (delivery). */
int server_notify_test(const char *state_dir, int64_t id, struct zp_err *err);
/* ---- backup schedules (used by `zpanel schedule`; safe while serve runs) ---- */

struct server_schedule_spec {
    const char *cron; /* backup/schedule.h syntax */
    int64_t keep_last, keep_daily, keep_weekly;
    const char *webhook; /* http:// URL or NULL */
    bool notify_success;
    const char *destination; /* a stored S3 destination's name; NULL: local archives */
    int64_t keep_bytes;      /* retention by size, 0: none */
};

/* Add a schedule to registered project (checked: the expression, counts 0..10000, a size
 * >= 0, an http:// webhook, a stored destination). *ret_id and *ret_next (Unix seconds; either may
 * be NULL) get its id and first run. Errors: ZP_E_INPUT (naming the field), ZP_E_NOTFOUND
 * (project), store errors. */
int server_schedule_add(const char *state_dir, const char *project,
                        const struct server_schedule_spec *spec, int64_t *ret_id, int64_t *ret_next,
                        struct zp_err *err);
/* Remove schedule id of project. Errors: ZP_E_NOTFOUND. */
int server_schedule_remove(const char *state_dir, const char *project, int64_t id,
                           struct zp_err *err);

/* ---- S3 destinations (used by `zpanel destination`; safe while serve runs) ---- */

struct store_destination;

struct server_destination_spec {
    const char *name;     /* 1 to 63 of a-z A-Z 0-9 - _ ., a letter or digit first */
    const char *endpoint; /* http[s]://HOST[:PORT] */
    const char *region;
    const char *bucket;
    const char *prefix; /* NULL or "": the bucket's top */
    bool path_style;
    const char *access_key; /* the access key id (shown by list) */
    const char *secret_key; /* sealed at rest, never shown */
};

/* Check d (errors name the field: ZP_E_INPUT) and store it, its secret key sealed under
 * the state directory's key. Errors: ZP_E_CONFLICT (the name exists), store errors. */
int server_destination_add(const char *state_dir, const struct server_destination_spec *d,
                           struct zp_err *err);
/* The stored destinations by name (secret keys sealed; store_destinations_free). */
int server_destination_list(const char *state_dir, struct store_destination **ret, size_t *ret_n,
                            struct zp_err *err);
/* Errors: ZP_E_NOTFOUND, ZP_E_CONFLICT (a schedule uses it). */
int server_destination_remove(const char *state_dir, const char *name, struct zp_err *err);

#endif

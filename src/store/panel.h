/* store/panel: the control plane's own database, <state>/zpanel.db (SQLite, WAL, numbered
 * migrations, application_id "ZPpn"): users, API tokens, registered projects, the job
 * queue and the audit trail of `zpanel serve`. Library code: it never prints. */
#ifndef ZP_STORE_PANEL_H
#define ZP_STORE_PANEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

/* The schema version this zpanel writes for zpanel.db. */
#define STORE_PANEL_SCHEMA_VERSION 4

/* One connection to zpanel.db: one thread at a time (each thread opens its own; WAL and a
 * 5 s busy timeout order them). */
struct store_panel;

/* <state_dir>/zpanel.db (newly allocated). */
char *store_panel_path(const char *state_dir);

/* Open (creating the state directory 0700, the file 0600 and the schema when absent,
 * migrating an older schema) the control plane's database. *ret belongs to the caller.
 * Errors: ZP_E_INPUT (not a zpanel control-plane database, or a newer schema: the message
 * names the file), ZP_E_SYSTEM (I/O, naming the path), ZP_E_CONFLICT (stayed locked). */
int store_panel_open(const char *state_dir, struct store_panel **ret, struct zp_err *err);
/* NULL is accepted. */
void store_panel_close(struct store_panel *p);

/* Every call below returns 0 or a negative zp_code with err naming the database file.
 * ret_ outputs are written only on success and belong to the caller. */

/* ---- users and tokens ---- */

enum store_role { STORE_ROLE_VIEWER, STORE_ROLE_MEMBER, STORE_ROLE_ADMIN };

/* Token scopes, ordered: a larger scope includes every smaller one. */
enum store_scope {
    STORE_SCOPE_NONE = 0, /* routes without auth */
    STORE_SCOPE_READ,
    STORE_SCOPE_DEPLOY,
    STORE_SCOPE_WRITE,
    STORE_SCOPE_ADMIN,
};

/* "viewer", "member", "admin"; store_role_parse returns -1 for anything else. */
const char *store_role_name(enum store_role r);
int store_role_parse(const char *s);
/* "read", "deploy", "write", "admin" ("none" for 0); store_scope_parse returns -1 for
 * anything else (and for "none"). */
const char *store_scope_name(enum store_scope s);
int store_scope_parse(const char *s);

/* Add a user with a password hash (an argon2id string; the store does not hash).
 * Errors: ZP_E_CONFLICT (the name exists). */
int store_panel_user_add(struct store_panel *p, const char *name, enum store_role role,
                         const char *pwhash, int64_t *ret_id, struct zp_err *err);
/* The id and role of user name. Errors: ZP_E_NOTFOUND. */
int store_panel_user_get(struct store_panel *p, const char *name, int64_t *ret_id,
                         enum store_role *ret_role, struct zp_err *err);

/* user_get with the password hash too (*ret_pwhash a new string; ret_pwhash NULL: not read).
 * Errors: ZP_E_NOTFOUND. */
int store_panel_user_pwhash(struct store_panel *p, const char *name, int64_t *ret_id,
                            enum store_role *ret_role, char **ret_pwhash, struct zp_err *err);

/* Remove the token whose hash is hash_hex (none: nothing happens). */
int store_panel_token_delete(struct store_panel *p, const char *hash_hex, struct zp_err *err);

/* Record a token by the SHA-256 hex of its text (never the text). expires: Unix seconds,
 * 0 for never. */
int store_panel_token_add(struct store_panel *p, int64_t user_id, const char *hash_hex,
                          enum store_scope scope, int64_t expires, int64_t *ret_id,
                          struct zp_err *err);

struct store_token_info {
    int64_t id;
    char *user; /* the owner's name */
    enum store_role role;
    enum store_scope scope;
    int64_t expires; /* 0: never */
};

/* The token whose hash is hash_hex, unless it expired before now. Errors: ZP_E_NOTFOUND. */
int store_panel_token_find(struct store_panel *p, const char *hash_hex, int64_t now,
                           struct store_token_info *ret, struct zp_err *err);
void store_token_info_release(struct store_token_info *t);

/* ---- projects registered with serve ---- */

struct store_panel_project {
    char *name;
    char *env_json; /* {"K": "V", ...} as given */
    int64_t created, updated;
};

/* Errors: ZP_E_CONFLICT (registered already). */
int store_panel_project_add(struct store_panel *p, const char *name, const char *env_json,
                            struct zp_err *err);
/* Touch updated; env_json replaces the environment unless NULL. Errors: ZP_E_NOTFOUND. */
int store_panel_project_update(struct store_panel *p, const char *name, const char *env_json,
                               struct zp_err *err);
/* Errors: ZP_E_NOTFOUND. */
int store_panel_project_get(struct store_panel *p, const char *name,
                            struct store_panel_project *ret, struct zp_err *err);
/* Sorted by name. */
int store_panel_project_list(struct store_panel *p, struct store_panel_project **ret, size_t *ret_n,
                             struct zp_err *err);
/* Errors: ZP_E_NOTFOUND. Its jobs stay (history). */
int store_panel_project_delete(struct store_panel *p, const char *name, struct zp_err *err);
void store_panel_project_release(struct store_panel_project *pr);
void store_panel_projects_free(struct store_panel_project *pr, size_t n);

/* ---- the job queue ---- */

enum store_job_status {
    STORE_JOB_QUEUED,
    STORE_JOB_RUNNING,
    STORE_JOB_SUCCEEDED,
    STORE_JOB_FAILED,
    STORE_JOB_CANCELLED,
};
#define STORE_JOB_NSTATUS 5

/* "queued", "running", "succeeded", "failed", "cancelled"; parse returns -1 otherwise. */
const char *store_job_status_name(enum store_job_status s);
int store_job_status_parse(const char *s);

struct store_job {
    int64_t id;
    char *project;
    char *kind;      /* "deploy", "stop", ... (the server defines them) */
    char *args_json; /* the job's parameters, "{}" when none */
    char *user;      /* who asked, or NULL */
    enum store_job_status status;
    int64_t created, started, finished; /* Unix milliseconds; 0: not yet */
    int64_t attempts;                   /* runs started (a restart of serve runs it again) */
    char *error;                        /* why it failed, or NULL */
};

/* Queue a job: j->id, j->created (now) and status QUEUED are set here; project, kind and
 * args_json must not be NULL. */
int store_panel_job_add(struct store_panel *p, struct store_job *j, struct zp_err *err);
/* Errors: ZP_E_NOTFOUND. */
int store_panel_job_get(struct store_panel *p, int64_t id, struct store_job *ret,
                        struct zp_err *err);
/* Newest first, at most limit (0: 1000); project NULL and status < 0 mean any. */
int store_panel_job_list(struct store_panel *p, const char *project, int status, size_t limit,
                         struct store_job **ret, size_t *ret_n, struct zp_err *err);
/* Take the oldest queued job whose project has no running job, mark it RUNNING (started =
 * now_ms, or the project's last finish when later: the caller read its clock before the
 * write lock; attempts + 1) and return it. Errors: ZP_E_NOTFOUND when none can run. */
int store_panel_job_claim(struct store_panel *p, int64_t now_ms, struct store_job *ret,
                          struct zp_err *err);
/* A running job ended: status SUCCEEDED, FAILED or CANCELLED, error NULL or why. */
int store_panel_job_finish(struct store_panel *p, int64_t id, enum store_job_status status,
                           const char *error, int64_t now_ms, struct zp_err *err);
/* Cancel a job that is still queued. Errors: ZP_E_NOTFOUND, ZP_E_CONFLICT (not queued). */
int store_panel_job_cancel_queued(struct store_panel *p, int64_t id, int64_t now_ms,
                                  struct zp_err *err);
/* After a crash: every RUNNING job goes back to QUEUED (keeping its place). Their ids are
 * returned (*ret_ids NULL when none). */
int store_panel_job_requeue_running(struct store_panel *p, int64_t **ret_ids, size_t *ret_n,
                                    struct zp_err *err);

struct store_job_count {
    char *kind;
    enum store_job_status status;
    int64_t count;
    int64_t duration_ms; /* the sum over finished jobs */
};
/* Jobs by kind and status (for metrics). */
int store_panel_job_counts(struct store_panel *p, struct store_job_count **ret, size_t *ret_n,
                           struct zp_err *err);
void store_job_counts_free(struct store_job_count *c, size_t n);
void store_job_release(struct store_job *j);
void store_jobs_free(struct store_job *j, size_t n);

/* ---- backup schedules (version 2) ---- */

struct store_schedule {
    int64_t id;
    char *project;
    char *cron; /* checked by the caller (backup/schedule.h) */
    int64_t keep_last, keep_daily, keep_weekly;
    char *webhook;       /* http:// URL POSTed after a failed run, or NULL */
    bool notify_success; /* also after a successful one */
    int64_t next_run;    /* Unix seconds: when the scheduler queues the next run */
    int64_t last_job;    /* the job of the last run, 0: none yet */
    int64_t created;     /* Unix milliseconds */
    char *destination;   /* (version 4) a stored S3 destination's name, NULL: local archives */
    int64_t keep_bytes;  /* (version 4) retention by size: newest first up to this, 0: none */
};

/* Add s (id and created set here). */
int store_panel_schedule_add(struct store_panel *p, struct store_schedule *s, struct zp_err *err);
/* The schedules of project (NULL: all), by id. */
int store_panel_schedule_list(struct store_panel *p, const char *project,
                              struct store_schedule **ret, size_t *ret_n, struct zp_err *err);
/* Errors: ZP_E_NOTFOUND. */
int store_panel_schedule_get(struct store_panel *p, int64_t id, struct store_schedule *ret,
                             struct zp_err *err);
/* Remove schedule id of project. Errors: ZP_E_NOTFOUND. */
int store_panel_schedule_delete(struct store_panel *p, const char *project, int64_t id,
                                struct zp_err *err);
/* A run was queued as job: next_run and last_job move on, only when next_run is still
 * was_next (another scheduler did not take it first); *ret_taken says whether it did. */
int store_panel_schedule_advance(struct store_panel *p, int64_t id, int64_t was_next,
                                 int64_t next_run, int64_t job, bool *ret_taken,
                                 struct zp_err *err);
/* Remove every schedule of project (none is fine). */
int store_panel_schedule_delete_project(struct store_panel *p, const char *project,
                                        struct zp_err *err);
void store_schedule_release(struct store_schedule *s);
void store_schedules_free(struct store_schedule *s, size_t n);

/* ---- S3 destinations (version 4) ---- */

struct store_destination {
    char *name;
    char *endpoint; /* http[s]://HOST[:PORT] */
    char *region;
    char *bucket;
    char *prefix; /* "" or a key prefix */
    bool path_style;
    char *access_key;
    char *secret_key; /* as the caller stored it (sealed by server/) */
    int64_t created;  /* Unix milliseconds */
};

/* Store d, checked by the caller (d->created set here). Errors: ZP_E_CONFLICT (the name
 * exists). */
int store_panel_destination_add(struct store_panel *p, struct store_destination *d,
                                struct zp_err *err);
/* Sorted by name. */
int store_panel_destination_list(struct store_panel *p, struct store_destination **ret,
                                 size_t *ret_n, struct zp_err *err);
/* Errors: ZP_E_NOTFOUND. */
int store_panel_destination_get(struct store_panel *p, const char *name,
                                struct store_destination *ret, struct zp_err *err);
/* Errors: ZP_E_NOTFOUND, ZP_E_CONFLICT (a schedule still uses it). */
int store_panel_destination_delete(struct store_panel *p, const char *name, struct zp_err *err);
void store_destination_release(struct store_destination *d);
void store_destinations_free(struct store_destination *d, size_t n);

/* ---- audit ---- */

/* One mutating request: who (NULL when unauthenticated), method, path, the answer's
 * status and the peer's address. */
int store_panel_audit_add(struct store_panel *p, int64_t now_ms, const char *user,
                          const char *method, const char *path, int status, const char *remote,
                          struct zp_err *err);
/* Rows in the audit table (tests). */
int store_panel_audit_count(struct store_panel *p, int64_t *ret, struct zp_err *err);

/* ---- notification channels ---- */

struct store_channel {
    int64_t id;
    char *project; /* NULL: every project */
    char *kind;    /* "webhook" or "email" */
    char *url;
    char *secret;    /* as the caller stored it (sealed by server/), or NULL */
    char *user;      /* the SMTP login, or NULL */
    char *mail_from; /* NULL for a webhook */
    char *mail_to;
    char *events; /* NULL: every job kind */
    bool failures_only;
    int64_t created; /* Unix milliseconds */
};

/* Store c (c->id and c->created are set here). */
int store_panel_channel_add(struct store_panel *p, struct store_channel *c, struct zp_err *err);
/* Oldest first. */
int store_panel_channel_list(struct store_panel *p, struct store_channel **ret, size_t *ret_n,
                             struct zp_err *err);
/* Errors: ZP_E_NOTFOUND. */
int store_panel_channel_delete(struct store_panel *p, int64_t id, struct zp_err *err);
void store_channel_release(struct store_channel *c);
void store_channels_free(struct store_channel *c, size_t n);

/* ---- dashboard: listing and removing accounts, reading the audit trail ---- */

struct store_user_row {
    int64_t id;
    char *name;
    enum store_role role;
    int64_t created; /* Unix seconds */
};
/* Every user, sorted by name. */
int store_panel_user_list(struct store_panel *p, struct store_user_row **ret, size_t *ret_n,
                          struct zp_err *err);
void store_user_rows_free(struct store_user_row *u, size_t n);
/* Remove user name and its tokens and sessions. Errors: ZP_E_NOTFOUND. */
int store_panel_user_delete(struct store_panel *p, const char *name, struct zp_err *err);

struct store_token_row {
    int64_t id;
    char *user;
    enum store_scope scope;
    int64_t created, expires; /* Unix seconds; expires 0: never */
};
/* Every token and session (never their hashes) not expired before now, newest first. */
int store_panel_token_list(struct store_panel *p, int64_t now, struct store_token_row **ret,
                           size_t *ret_n, struct zp_err *err);
void store_token_rows_free(struct store_token_row *t, size_t n);
/* Remove token id. Errors: ZP_E_NOTFOUND. */
int store_panel_token_delete_id(struct store_panel *p, int64_t id, struct zp_err *err);

struct store_audit_row {
    int64_t id, time; /* time: Unix milliseconds */
    char *user;       /* NULL: unauthenticated */
    char *method, *path, *remote;
    int status;
};
/* The newest limit entries (0: 100) with id < before (0: any), newest first. */
int store_panel_audit_list(struct store_panel *p, int64_t before, size_t limit,
                           struct store_audit_row **ret, size_t *ret_n, struct zp_err *err);
void store_audit_rows_free(struct store_audit_row *a, size_t n);

#endif

/* store: zpanel's persistent state in SQLite (WAL), one small database per project under
 * the state directory. Holds the releases recorded by release/ (`up`, `update`,
 * `rollback`). Every change of state is one transaction: a failed write (a full disk, a
 * crash) leaves the state as it was before. Library code: it never prints. */
#ifndef ZP_STORE_H
#define ZP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

/* The state directory: $ZPANEL_STATE_DIR when set (and not empty), else /var/lib/zpanel
 * when running as root, else $XDG_STATE_HOME/zpanel (when absolute) or
 * $HOME/.local/state/zpanel (the passwd entry's home without $HOME). The returned string is
 * newly allocated, never NULL. It is not created here (store_open does that). */
char *store_state_dir(void);

/* The schema version this zpanel writes (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 1

/* One open project database: use it from one thread at a time (give each thread its own;
 * several processes may open the same file, SQLite's locks and a 5 s busy timeout order
 * them). */
struct store;

/* Is name a valid project name (Compose rules: lowercase letters, digits, '-' and '_',
 * starting with a letter or a digit, at most 200 characters)? Only such names are used
 * as file names. */
bool store_project_name_valid(const char *name);

/* The database file of project: <state_dir>/projects/<project>.db (newly allocated). */
char *store_db_path(const char *state_dir, const char *project);
/* Does project have a state database already? (Commands that only read state use it so
 * as not to create one.) */
bool store_exists(const char *state_dir, const char *project);

/* Open (creating the directory, the file <state>/projects/<project>.db and its schema
 * when absent, and migrating an older schema) the state of project. Directories are
 * created 0700, the database file 0600. *ret belongs to the caller (store_close).
 * Errors: ZP_E_INPUT (invalid project name; the file is not a zpanel state database, or
 * its schema is newer than this zpanel: the message names the file), ZP_E_SYSTEM
 * (directory or file not writable: the message names the path), ZP_E_CONFLICT (the
 * database stayed locked by another process for the whole busy timeout). */
int store_open(const char *state_dir, const char *project, struct store **ret, struct zp_err *err);
/* Open the existing state of project for reading only: nothing is created, migrated or
 * written (the state directory may be read-only; a database whose WAL index cannot be
 * created there is read as an immutable file). *ret belongs to the caller; every write
 * call on it fails. Errors: ZP_E_NOTFOUND (no database, or one without any schema yet),
 * ZP_E_INPUT (as store_open), ZP_E_SYSTEM, ZP_E_CONFLICT. An older schema is read as it
 * is (migrations only add tables and columns; only a writer migrates). */
int store_open_readonly(const char *state_dir, const char *project, struct store **ret,
                        struct zp_err *err);
/* Create <state_dir>/projects (0700, parents too) and give its path (newly allocated): the
 * directory of databases, locks and release model files. Errors: ZP_E_SYSTEM naming the
 * directory, ZP_E_INPUT (empty state_dir). */
int store_projects_dir(const char *state_dir, char **ret, struct zp_err *err);
/* Close s; NULL is accepted. */
void store_close(struct store *s);
/* The database file of s (borrowed). */
const char *store_path(const struct store *s);

/* What one service ran in a release. */
struct store_release_service {
    char *service;
    char *image_ref; /* the image reference the containers run ("hello-web", "nginx:1") */
    char *image_id;  /* "sha256:..." */
    char *keep_tag; /* the tag that keeps the image for rollbacks ("zpanel-release/hello-web:3"), or
                       NULL */
    char *config_hash; /* io.zpanel.config-hash of its containers */
};

enum store_release_status {
    STORE_RELEASE_DEPLOYING,  /* recorded, being brought up */
    STORE_RELEASE_DEPLOYED,   /* up and healthy: the one running */
    STORE_RELEASE_FAILED,     /* its health check failed, it was rolled back */
    STORE_RELEASE_SUPERSEDED, /* an older release that ran before */
};

struct store_release {
    int64_t id;      /* 1, 2, 3, ... in recording order */
    int64_t created; /* Unix seconds */
    char *kind;      /* "up", "update", "rollback", "observed" (what ran before the first) */
    enum store_release_status status;
    int64_t source;   /* rollback: the release redeployed; else 0 */
    char *model_json; /* the finalised model as `zpanel config --format json` prints it */
    char *note;       /* free text ("health check of web failed: ..."), or NULL */
    struct store_release_service *services;
    size_t nservices;
};

/* Every call below: 0, or a negative zp_code with err naming the database file
 * (ZP_E_SYSTEM for I/O, ZP_E_CONFLICT when it stayed locked, ZP_E_INPUT when it is
 * corrupt). ret_ outputs are written only on success and belong to the caller: release
 * them with store_release_release / store_releases_free. */

/* Record a release and its services in one transaction. r->id: the id to give it (> 0, as
 * store_release_next_id said), or 0 for the next one; ids are never reused. r->id and
 * r->created (now) are set here; r is otherwise only read. A release recorded DEPLOYED
 * makes every other DEPLOYED one SUPERSEDED in the same transaction. kind and model_json
 * must not be NULL; neither may a service's service, image_ref, image_id or config_hash.
 * Errors also: ZP_E_CONFLICT when the id is taken. */
int store_release_add(struct store *s, struct store_release *r, struct zp_err *err);
/* The id the next store_release_add gives (the caller holds the project's lock, so it
 * stays the next one: keep tags are made with it before the release is recorded). */
int store_release_next_id(struct store *s, int64_t *ret, struct zp_err *err);
/* Change the status of release id in one transaction; note replaces its note when not NULL
 * (NULL keeps it). DEPLOYED also makes every other DEPLOYED release SUPERSEDED, in the same
 * transaction: at most one release is ever DEPLOYED. Errors: ZP_E_NOTFOUND. */
int store_release_set_status(struct store *s, int64_t id, enum store_release_status status,
                             const char *note, struct zp_err *err);
/* Mark every DEPLOYING release FAILED with note (NULL keeps theirs), in one statement; the
 * caller holds the project's lock, so whoever was deploying them stopped. *ret_n (may be
 * NULL) gets how many. */
int store_release_fail_stale(struct store *s, const char *note, size_t *ret_n, struct zp_err *err);
/* Errors: ZP_E_NOTFOUND. */
int store_release_get(struct store *s, int64_t id, struct store_release *ret, struct zp_err *err);
/* The newest release with status (any status when status < 0); ZP_E_NOTFOUND when none. */
int store_release_latest(struct store *s, int status, struct store_release *ret,
                         struct zp_err *err);
/* All releases, newest first. */
int store_release_list(struct store *s, struct store_release **ret, size_t *ret_n,
                       struct zp_err *err);
/* Delete releases beyond the newest keep ones (never the newest DEPLOYED one), in one
 * transaction, and give them (newest first, with their services) to the caller so that it
 * can remove their keep tags; *ret_pruned is NULL when none was pruned. */
int store_release_prune(struct store *s, size_t keep, struct store_release **ret_pruned,
                        size_t *ret_n, struct zp_err *err);
/* Free the contents of r (r itself is not freed); NULL and a zeroed r are accepted. */
void store_release_release(struct store_release *r);
/* Release n releases and free the array; NULL is accepted. */
void store_releases_free(struct store_release *r, size_t n);
/* "deploying", "deployed", "failed", "superseded" (as stored in the database). */
const char *store_release_status_name(enum store_release_status st);

#endif

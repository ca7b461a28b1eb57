/* store: zpanel's persistent state in SQLite (WAL), one small database per project under
 * the state directory. Holds the releases recorded by `update` and `rollback`. Library
 * code: it never prints. */
#ifndef ZP_STORE_H
#define ZP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

/* The state directory: $ZPANEL_STATE_DIR when set (and not empty), else /var/lib/zpanel
 * when running as root, else $XDG_STATE_HOME/zpanel or ~/.local/state/zpanel. The
 * returned string is newly allocated. It is not created here. */
char *store_state_dir(void);

struct store;

/* Open (creating the directory, the file <state>/projects/<project>.db and its schema
 * when absent, and migrating an older schema) the state of project. Errors: ZP_E_SYSTEM
 * (directory or file not writable: the message names the path), ZP_E_INPUT (the file is
 * not a zpanel state database, or is newer than this zpanel). */
int store_open(const char *state_dir, const char *project, struct store **ret, struct zp_err *err);
void store_close(struct store *s);

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
    char *kind;      /* "update", "rollback" */
    enum store_release_status status;
    int64_t source;   /* rollback: the release redeployed; else 0 */
    char *model_json; /* the finalised model as `zpanel config --format json` prints it */
    char *note;       /* free text ("health check of web failed: ..."), or NULL */
    struct store_release_service *services;
    size_t nservices;
};

/* Record a release (r->id and r->created are set here; ret_id may be NULL). */
int store_release_add(struct store *s, struct store_release *r, struct zp_err *err);
int store_release_set_status(struct store *s, int64_t id, enum store_release_status status,
                             const char *note, struct zp_err *err);
/* Errors: ZP_E_NOTFOUND. */
int store_release_get(struct store *s, int64_t id, struct store_release *ret, struct zp_err *err);
/* The newest release with status (any status when status < 0); ZP_E_NOTFOUND when none. */
int store_release_latest(struct store *s, int status, struct store_release *ret,
                         struct zp_err *err);
/* All releases, newest first. */
int store_release_list(struct store *s, struct store_release **ret, size_t *ret_n,
                       struct zp_err *err);
/* Delete releases beyond the newest keep ones (never the newest DEPLOYED one) and give
 * them to the caller (so that it can remove their keep tags). */
int store_release_prune(struct store *s, size_t keep, struct store_release **ret_pruned,
                        size_t *ret_n, struct zp_err *err);
void store_release_release(struct store_release *r);
void store_releases_free(struct store_release *r, size_t n);
const char *store_release_status_name(enum store_release_status st);

#endif

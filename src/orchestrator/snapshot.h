/* orchestrator/snapshot: what a project runs (its containers as the engine lists them) and
 * what `up` would run from the session's files (per service the image ID and the config
 * hash, building images as `up --build` would), and the health verdict over the running
 * containers. The facts release/ records; nothing here knows releases or the store.
 * Library code: it reports progress through the session and never prints. */
#ifndef ZP_ORCH_SNAPSHOT_H
#define ZP_ORCH_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../compose/compose.h"
#include "../util/util.h"

struct orch;
struct engine_container_list;

/* Images kept for releases are tagged "<ORCH_RELEASE_KEEP_REPO><project>-<service>:<id>"
 * (orch_release_repo in status.h builds the repository). */
#define ORCH_RELEASE_KEEP_REPO "zpanel-release/"

/* One container of the project as the engine lists it. Strings are never NULL ("" when
 * the engine or a label does not say). */
struct orch_snap {
    char *id;
    char *service;
    char *image_id;    /* "sha256:..." */
    char *config_hash; /* io.zpanel.config-hash */
    char *state;       /* "running", "exited", ... */
    int number;        /* io.zpanel.number, 0 without */
    bool oneoff;       /* a `run` container */
};

/* Convert an engine container list (the project's) into snapshots; *ret belongs to the
 * caller (orch_snap_free). Pure. */
void orch_snap_from_list(const struct engine_container_list *l, struct orch_snap **ret,
                         size_t *ret_n);
/* Free n snapshots and the array; NULL is accepted. */
void orch_snap_free(struct orch_snap *s, size_t n);

/* The container that shows what service runs: running ones before others, then the
 * lowest number; never a one-off container. NULL when the service has none. Pure;
 * borrowed from s. */
const struct orch_snap *orch_snap_pick(const char *service, const struct orch_snap *s, size_t n);

/* Do the two lists hold different non-one-off containers (an ID in one and not in the
 * other)? Tells whether an `up` between the two observations changed containers. Pure. */
bool orch_snap_changed(const struct orch_snap *before, size_t nbefore,
                       const struct orch_snap *after, size_t nafter);

/* The project's containers on the session's engine (all states, one-offs included).
 * Errors: ZP_E_ENGINE. */
int orch_snap_observe(struct orch *o, struct orch_snap **ret, size_t *ret_n, struct zp_err *err);

/* The same list kept whole, with the engine's time just before it, so that an `up` right
 * after can plan from it (orch_up_opts.listed) instead of listing again. */
struct orch_listing;
int orch_list_project(struct orch *o, struct orch_listing **ret, struct zp_err *err);
void orch_listing_free(struct orch_listing *l);
/* Its snapshots, as orch_snap_observe gives them. */
void orch_snap_from_listing(const struct orch_listing *l, struct orch_snap **ret, size_t *ret_n);

/* What `up --no-build` will run for one service. */
struct orch_snap_target {
    char *service;
    char *image_id;
    char *config_hash;
};

void orch_snap_targets_free(struct orch_snap_target *t, size_t n);

/* The config hash `up` gives service's containers when they run image image_id (svc from
 * the session's model, limits adapted to the engine's host unless no_adapt_limits).
 * Errors: ZP_E_ENGINE (the host's facts). */
int orch_snap_config_hash(struct orch *o, const char *service, const struct zp_node *svc,
                          const char *image_id, bool no_adapt_limits, char out[65],
                          struct zp_err *err);

/* Bring the images of the selected services (services; none: all; plus their
 * dependencies) up to the session's files: build those with a build section whose image is
 * missing or whose build-input digest changed (progress as `up --build` reports it), and
 * compute what `up --no-build` will then run: per selected service its image ID and config
 * hash (*ret for orch_snap_targets_free). Errors: a failed build, an image that is missing
 * and cannot be built (nothing is pulled: ZP_E_NOTFOUND naming service and image),
 * ZP_E_CANCELLED after orch_cancel. */
int orch_snap_prepare(struct orch *o, const char *const *services, size_t nservices,
                      bool no_adapt_limits, struct orch_snap_target **ret, size_t *ret_n,
                      struct zp_err *err);

/* For services of the session's model that have containers in s: does the config hash
 * of the container that shows what they run differ from what the session's files give
 * with the image it runs? *ret_names gets NULL when none differs, else a new string
 * naming those that do ("web, db"); *ret_n their count. Errors: ZP_E_ENGINE. */
int orch_snap_drift(struct orch *o, const struct orch_snap *s, size_t n, bool no_adapt_limits,
                    char **ret_names, size_t *ret_n, struct zp_err *err);

/* The health verdict over the selected services' containers (services; none: every
 * service of the session's model; a service marked exclude_from_health is never
 * counted): each must run and be healthy when it has a health
 * check (exited with 0 is fine for a service that does not restart; a restarting or
 * paused container is not fine). *ret_problem gets NULL when all are fine, else a new
 * string naming the first that is not, with its last probe output ("service 'web':
 * container app-web-1 is unhealthy; last probe exited 1: ..."). Errors: ZP_E_ENGINE. */
int orch_snap_health(struct orch *o, const char *const *services, size_t nservices,
                     char **ret_problem, struct zp_err *err);

#endif

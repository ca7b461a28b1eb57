/* orchestrator/release: what a release records (the finalised model, and per service the
 * image reference its containers run, the image ID, the config hash and a keep tag), taken
 * from the files and the engine, and what restoring one needs: keep tags moved back onto
 * the image references, the recorded model loaded again, health checked. Records are
 * store.h's structs, but nothing here calls the store: the CLI records. Never prints. */
#ifndef ZP_ORCH_RELEASE_H
#define ZP_ORCH_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../compose/compose.h"
#include "../store/store.h"
#include "../util/util.h"

struct orch;
struct engine;
struct engine_container_list;

/* Keep tags are "<RELEASE_KEEP_REPO><project>-<service>:<release id>". */
#define RELEASE_KEEP_REPO "zpanel-release/"
/* How many releases are kept when neither --keep nor ZPANEL_KEEP_RELEASES says. */
#define RELEASE_KEEP_DEFAULT 5
/* The most releases --keep may ask for. */
#define RELEASE_KEEP_MAX 1000

/* ---- pure parts ---- */

/* The keep tag of service in release id of project. Returns a new string. */
char *release_keep_tag(const char *project, const char *service, int64_t id);

/* Split an image reference into repository and tag: "nginx:1" -> "nginx", "1";
 * "hello-web" -> "hello-web", "latest"; "reg:5000/a/b:2" -> "reg:5000/a/b", "2".
 * Both results are new strings. Errors: ZP_E_INPUT for an empty reference or one pinned
 * by digest ("name@sha256:..."), which cannot be tagged. */
int release_ref_split(const char *ref, char **ret_repo, char **ret_tag, struct zp_err *err);

/* The release running now: the newest DEPLOYED one of list (any order), or NULL. */
const struct store_release *release_running(const struct store_release *list, size_t n);

/* The release `rollback` redeploys. requested > 0: that release, which must exist and not
 * be still DEPLOYING. requested == 0: the newest release older than the running one that
 * ran successfully (SUPERSEDED), i.e. the one that ran before the one running now.
 * Errors: ZP_E_NOTFOUND (no such release, nothing running, nothing before it),
 * ZP_E_CONFLICT (the release is being deployed). */
int release_pick_target(const struct store_release *list, size_t n, int64_t requested,
                        int64_t *ret_id, struct zp_err *err);

/* The model as `zpanel config --format json` prints it: sorted keys, two-space indented,
 * every '$' doubled so that loading it again (with interpolation) gives the same values.
 * Returns a new string. */
char *release_model_json(const struct zp_node *model);

/* One container of the project as the engine lists it. */
struct release_obs {
    char *service;
    char *image_id;    /* "sha256:..." */
    char *config_hash; /* io.zpanel.config-hash, "" without */
    char *state;       /* "running", "exited", ... */
    int number;        /* io.zpanel.number, 0 without */
    bool oneoff;       /* a `run` container */
};

/* Convert an engine container list (the project's) into observed containers. */
void release_obs_from_list(const struct engine_container_list *l, struct release_obs **ret,
                           size_t *ret_n);
void release_obs_free(struct release_obs *obs, size_t n);

/* What a deploy will run for one service, computed before it (release_prepare). */
struct release_want {
    char *service;
    char *image_id;
    char *config_hash;
};

void release_wants_free(struct release_want *w, size_t n);

/* The services of release id: one per service of model (the finalised project model, in
 * the model's order) that has a want (its image ID and config hash), else a container
 * (the lowest-numbered non-one-off one, running ones first: what it runs). Services with
 * neither are left out. image_ref is what `up` runs for the service (its `image`, or
 * "<project>-<service>"), keep_tag release_keep_tag(project, service, id). The result
 * belongs to the caller (release_services_free, or store_release_release once it is in a
 * struct store_release). */
void release_services_build(const char *project, const struct zp_node *model, int64_t id,
                            const struct release_want *wants, size_t nwants,
                            const struct release_obs *obs, size_t nobs,
                            struct store_release_service **ret, size_t *ret_n);
void release_services_free(struct store_release_service *s, size_t n);

/* Compare r's services with the project's containers: every service of r must have at
 * least one (non-one-off) container and all of them must carry the recorded config hash.
 * Returns the number of services that differ and, when ret_diff is not NULL and some
 * differ, a new string naming them ("web: 1 of 2 containers differ; db: no container"),
 * else NULL. */
size_t release_compare(const struct store_release *r, const struct release_obs *obs, size_t nobs,
                       char **ret_diff);

/* ---- with the engine ---- */

/* The project's containers on the session's engine (all states). */
int release_observe(struct orch *o, struct release_obs **ret, size_t *ret_n, struct zp_err *err);

/* The config hash `up` gives service's containers when it runs image image_id (svc from
 * the session's model, limits adapted to the engine's host unless no_adapt_limits). */
int release_config_hash(struct orch *o, const char *service, const struct zp_node *svc,
                        const char *image_id, bool no_adapt_limits, char out[65],
                        struct zp_err *err);

/* Bring the images of the selected services (services; none: all; plus their
 * dependencies) up to the session's files: build those with a build section whose image is
 * missing or whose build-input digest changed (progress as `up --build` reports it), and
 * compute what `up --no-build` will then run: per selected service its image ID and config
 * hash. Errors: a failed build, an image that is missing and cannot be built (nothing is
 * pulled), ZP_E_CANCELLED. */
int release_prepare(struct orch *o, const char *const *services, size_t nservices,
                    bool no_adapt_limits, struct release_want **ret, size_t *ret_n,
                    struct zp_err *err);

/* For services that have running containers: do their config hashes differ from what the
 * session's files give with the image they run? Returns a new note naming those that
 * differ ("the files changed since web was deployed: ..."), or NULL when none does. */
int release_drift(struct orch *o, const struct release_obs *obs, size_t nobs, bool no_adapt_limits,
                  char **ret_note, struct zp_err *err);

/* Put r's keep tags on the image IDs they record. Errors: ZP_E_NOTFOUND naming the
 * service when its image is gone. */
int release_keep(struct engine *e, const struct store_release *r, struct zp_err *err);

/* Check that every keep tag of r still names its image, then move each service's image
 * reference back onto it (a rebuilt "<project>-web" points at the recorded image again).
 * Errors: ZP_E_NOTFOUND naming the service and tag when an image is gone. */
int release_restore_images(struct orch *o, const struct store_release *r, struct zp_err *err);

/* Remove the keep tags of releases (the tags only: an image still tagged otherwise stays,
 * and an image a container uses is never forced out). Problems are not errors: they are
 * returned as a new string of "tag: why" lines in *ret_warnings (NULL when none). */
void release_unkeep(struct engine *e, const struct store_release *r, size_t n, char **ret_warnings);

/* Check the health of the selected services' containers (services; none: every service
 * of the session's model): each must run and be healthy when it has a health check
 * (exited with 0 is fine for a service that does not restart). *ret_problem gets NULL
 * when all are fine, else a new string naming the first that is not, with its last probe
 * output ("service 'web': container app-web-1 is unhealthy: probe exited 1: ..."). */
int release_health(struct orch *o, const char *const *services, size_t nservices,
                   char **ret_problem, struct zp_err *err);

/* Load r's model as a project again: it is written to <dir>/<project>.release-<id>.json
 * (0600, removed afterwards) and loaded like `-f FILE --project-directory workdir -p
 * project` with every profile its services name enabled, so that the services and
 * definitions are those recorded (values were interpolated when recorded, `$` is kept
 * escaped as `$$`; env_file entries are read again and only add keys). *ret belongs to
 * the caller; problems go to diags. Errors: those of compose_project_load, ZP_E_SYSTEM. */
int release_load_model(const struct store_release *r, const char *dir, const char *project,
                       const char *workdir, struct compose_project **ret, struct zp_diags *diags,
                       struct zp_err *err);

/* Take the lock of project's updates and rollbacks (<dir>/<project>.lock, flock) and return
 * its descriptor (release_unlock frees it). Errors: ZP_E_CONFLICT when another zpanel
 * holds it, ZP_E_SYSTEM. */
int release_lock(const char *dir, const char *project, int *ret_fd, struct zp_err *err);
void release_unlock(int fd);

#endif

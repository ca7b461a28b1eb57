/* release: the deployment workflows that the CLI and the server share. A release is one
 * recorded deployment: the exact model it applied (the finalised project as `zpanel config
 * --format json` prints it) and per service the image reference, the image ID, the config
 * hash its containers carry and a keep tag that keeps the image for rollbacks. Workflows:
 * deploy (`up` that records what it applied), update (record, deploy, health verdict,
 * automatic rollback), rollback (redeploy a recorded release exactly), list, cleanup.
 * Every workflow that writes holds the project's lock; every state change is one
 * transaction of the store. Sits above orchestrator/ and store/; library code: it reports
 * through a progress sink and never prints. */
#ifndef ZP_RELEASE_H
#define ZP_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../compose/compose.h"
#include "../orchestrator/orchestrator.h"
#include "../orchestrator/snapshot.h"
#include "../orchestrator/status.h"
#include "../store/store.h"
#include "../util/util.h"

struct engine;

/* Keep tags are "<RELEASE_KEEP_REPO><project>-<service>:<release id>". */
#define RELEASE_KEEP_REPO ORCH_RELEASE_KEEP_REPO
/* How many releases are kept when the caller does not say. */
#define RELEASE_KEEP_DEFAULT 5
/* The most releases a caller may keep. */
#define RELEASE_KEEP_MAX 1000
/* How long a deploy waits for health when the caller does not say. */
#define RELEASE_WAIT_DEFAULT_MS 60000

/* ==== the workflows ==== */

/* ---- progress sink ---- */

enum release_level {
    RELEASE_INFO,    /* "Deploying release 3", "Rolling back to release 2" */
    RELEASE_WARNING, /* something the user should know; the workflow goes on */
};

/* Where a workflow reports. Both callbacks may be NULL; both may be called from different
 * threads (events from the orchestrator's workers), so a sink that writes one log must
 * lock. Strings are valid during the call only. */
struct release_sink {
    /* The orchestrator's events of every session the workflow opens (images built and
     * restored, containers created, health). */
    orch_progress_fn event;
    /* One line of the workflow's own, without a trailing newline. */
    void (*line)(void *ud, enum release_level level, const char *text);
    void *ud;
};

/* ---- cancellation ---- */

/* A cancel token: one per running workflow, fired from another thread (a signal thread,
 * a server's cancel request). Firing cancels the orchestrator session the workflow runs
 * now (and any it opens later), so the workflow returns ZP_E_CANCELLED soon; what was done
 * stays done and is recorded as such. */
struct release_cancel;

/* A new token (never NULL); release_cancel_free frees it once no workflow uses it. */
struct release_cancel *release_cancel_new(void);
void release_cancel_free(struct release_cancel *c);
/* Fire c; thread-safe, idempotent. */
void release_cancel_fire(struct release_cancel *c);
/* Has c fired? Thread-safe. */
bool release_cancel_fired(struct release_cancel *c);

/* ---- options and results ---- */

struct release_opts {
    const char *state_dir;           /* the state directory; NULL: store_state_dir() */
    const char *host;                /* the engine (as orch_new takes it); NULL: DOCKER_HOST */
    int64_t wait_timeout_ms;         /* how long a deploy waits for health; 0: the default */
    size_t keep;                     /* releases kept after a deploy; 0: RELEASE_KEEP_DEFAULT */
    const struct release_sink *sink; /* NULL: nothing is reported */
    struct release_cancel *cancel;   /* NULL: not cancellable through a token */
    bool swarm; /* deploy: as Swarm services even when the files don't ask (`up --swarm`) */
};

enum release_outcome {
    RELEASE_NOT_RECORDED, /* nothing recorded (a deploy that changed no container) */
    RELEASE_DEPLOYED,     /* a new release was recorded and deployed (healthy for update
                             and rollback) */
    RELEASE_UP_TO_DATE,   /* update: the files and images are those of the running release;
                             what runs was converged and checked */
    RELEASE_FAILED,       /* the new release failed; nothing was restored (no earlier
                             release, cancelled, or restoring it failed too) */
    RELEASE_ROLLED_BACK,  /* the new release failed and the one before runs again */
};

/* What a workflow did, filled by every workflow call whatever it returns (so that a
 * caller can say which release failed); release it with release_result_release. */
struct release_result {
    enum release_outcome outcome;
    int64_t id;       /* the release recorded (or found up to date); 0: none */
    int64_t previous; /* the release that ran before; 0: none */
    int64_t source;   /* rollback: the release redeployed; else 0 */
    int64_t baseline; /* update: the release recorded from what ran (a project deployed
                         before releases were recorded); else 0 */
    char *problem;    /* why the new release failed (a new string), else NULL */
};

void release_result_release(struct release_result *r);

/* Errors common to the workflows below: ZP_E_CONFLICT (another update, rollback, deploy
 * or cleanup of the project holds its lock; the state database stayed locked),
 * ZP_E_SYSTEM (the state directory: the message names the path), ZP_E_INPUT (a state
 * database that is not zpanel's, or newer), ZP_E_ENGINE, ZP_E_CANCELLED (the token fired:
 * what was recorded says how far it got). A release that was recorded and then failed
 * returns ZP_E_ENGINE (or ZP_E_CANCELLED) with err saying "release N failed: WHY", and
 * out->outcome RELEASE_FAILED or RELEASE_ROLLED_BACK. */

/* Swarm projects. Every workflow below makes the Swarm decision itself, so that the CLI
 * and the server's jobs behave the same: a project is deployed as Swarm services when
 * opts->swarm is set or its files ask (x-zpanel.swarm), and update/rollback treat a project
 * that runs as Swarm services (orch_swarm_project) as one. On Swarm, deploy and update run
 * orch_swarm_up (Swarm's own rolling update, update_config honoured) and record a release
 * when a service changed (or the update failed): its model is the one applied, with
 * x-zpanel.swarm set and --scale folded into deploy.replicas, so that a rollback redeploys
 * it as services exactly; its services are those whose image is on the manager (the
 * image ID and a keep tag; images only the nodes pull are named by the model) with the
 * service's config hash. A rollback of a Swarm release converges the swarm to the recorded
 * model (orphans removed). Containers are never started beside a project's services: a
 * deploy of files that don't ask for Swarm, or a rollback to a container release, of a
 * project that runs as services is refused (ZP_E_CONFLICT), and flags about containers
 * (no_start, build, recreate, no_deps) are refused on Swarm (ZP_E_INPUT). */

/* `up` that records what it applied: take the project's lock, run orch_up(o, up) and,
 * when it created, recreated or removed a container, record a release of kind "up" with
 * p's model and what the containers run (DEPLOYED when orch_up succeeded, FAILED with its
 * error otherwise), keep its images, supersede the release that ran before and prune
 * beyond opts->keep. A no-op `up` records nothing (RELEASE_NOT_RECORDED). o is a session
 * on p (borrowed). When the state directory cannot be written, the up still runs and a
 * warning says that nothing was recorded. Returns orch_up's result, or a lock/store
 * error before anything changed. */
int release_deploy(struct orch *o, const struct compose_project *p, const struct orch_up_opts *up,
                   const struct release_opts *opts, struct release_result *out, struct zp_err *err);

/* `update`: build what changed (as `up --build` would), record a release (DEPLOYING) of
 * p's model and the images and config hashes `up` will give the selected services
 * (services; none: all, plus dependencies), keep its images, bring the project up (no
 * builds, no pulls) and wait for health (opts->wait_timeout_ms). Healthy: the release is
 * DEPLOYED and the one before SUPERSEDED, in one transaction. Not healthy: the release
 * before is redeployed exactly (release_rollback's way) and the new one marked FAILED
 * with why (the probe's output, the exit code). Nothing new (same model, images, hashes):
 * converge and check what runs, RELEASE_UP_TO_DATE. A project that runs but has no
 * release yet (deployed by an older zpanel) first gets a release of kind "observed" from
 * its containers and the files (its note says when they differ). o is a session on p. */
int release_update(struct orch *o, const struct compose_project *p, const char *const *services,
                   size_t nservices, const struct release_opts *opts, struct release_result *out,
                   struct zp_err *err);

/* `rollback`: redeploy release target (0: the newest one that ran successfully before the
 * running one) of project exactly: its keep tags moved back onto the image references,
 * its recorded model loaded again (relative paths against workdir, the project
 * directory) and brought up with orphans removed, health checked. Recorded as a release of
 * kind "rollback" with source target; when it fails, the release that ran before is
 * redeployed the same way. Does not read the project's files: it works when they are
 * broken. Errors also: ZP_E_NOTFOUND (no such release, none before the running one, or an
 * image that is no longer on the engine), ZP_E_CONFLICT (the target is still DEPLOYING). */
int release_rollback(const char *project, const char *workdir, int64_t target,
                     const struct release_opts *opts, struct release_result *out,
                     struct zp_err *err);

/* The releases of project under state_dir (NULL: store_state_dir()), newest first, read
 * without writing anything (a read-only state directory works; a project never deployed
 * has none: *ret NULL, *ret_n 0). *ret for store_releases_free. Errors: ZP_E_INPUT (not a
 * zpanel database, or a newer one), ZP_E_SYSTEM. */
int release_list(const char *state_dir, const char *project, struct store_release **ret,
                 size_t *ret_n, struct zp_err *err);

/* `cleanup`: orch_cleanup(o, co) with the keep tags that recorded releases name
 * protected. A real cleanup holds the project's lock (so that it never runs between an
 * update's tagging and its record); a dry run takes no lock and writes nothing. o is a
 * session on the project named project. *ret as orch_cleanup fills it. */
int release_cleanup(struct orch *o, const char *project, const struct orch_cleanup_opts *co,
                    const struct release_opts *opts, struct orch_cleanup_result *ret,
                    struct zp_err *err);

/* ==== the parts of the workflows, public for tests and tools ==== */

/* ---- pure ---- */

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
 * every '$' doubled so that loading it again (with interpolation) gives the same values,
 * and without the services' env_file entries (their values are in `environment`: the
 * record stands alone). Returns a new string. */
char *release_model_json(const struct zp_node *model);

/* The services of release id: one per service of model (the finalised project model, in
 * the model's order) that has a target (its image ID and config hash), else a container
 * (orch_snap_pick: what it runs). Services with neither are left out. image_ref is what
 * `up` runs for the service (its `image`, or "<project>-<service>"), keep_tag
 * release_keep_tag(project, service, id). *ret belongs to the caller
 * (release_services_free, or store_release_release once it is in a struct
 * store_release). */
void release_services_build(const char *project, const struct zp_node *model, int64_t id,
                            const struct orch_snap_target *targets, size_t ntargets,
                            const struct orch_snap *obs, size_t nobs,
                            struct store_release_service **ret, size_t *ret_n);
void release_services_free(struct store_release_service *s, size_t n);

/* Compare r's services with the project's containers: every service of r must have at
 * least one (non-one-off) container and all of them must carry the recorded config hash.
 * Returns the number of services that differ and, when ret_diff is not NULL and some
 * differ, a new string naming them ("web: 1 of 2 containers differ; db: no container"),
 * else NULL. */
size_t release_compare(const struct store_release *r, const struct orch_snap *obs, size_t nobs,
                       char **ret_diff);

/* Load r's model as a project again: it is written to <dir>/<project>.release-<id>.json
 * (0600, removed afterwards) and loaded like `-f FILE --project-directory workdir -p
 * project` with every profile its services name enabled, so that the services and
 * definitions are exactly those recorded (`$` is kept escaped as `$$`; a record made by
 * release_model_json names no env_file, so no file is read again). *ret belongs to the
 * caller; problems go to diags. Errors: those of compose_project_load, ZP_E_SYSTEM. */
int release_load_model(const struct store_release *r, const char *dir, const char *project,
                       const char *workdir, struct compose_project **ret, struct zp_diags *diags,
                       struct zp_err *err);

/* Take the lock of project's deployments (<dir>/<project>.lock, flock, released when
 * the descriptor closes: also when the process dies) and return its descriptor
 * (release_unlock closes it). Errors: ZP_E_CONFLICT when another zpanel holds it,
 * ZP_E_SYSTEM. */
int release_lock(const char *dir, const char *project, int *ret_fd, struct zp_err *err);
void release_unlock(int fd);

/* ---- with the engine ---- */

/* Put r's keep tags on the image IDs they record. Errors: ZP_E_NOTFOUND naming the
 * service when its image is gone, ZP_E_ENGINE. */
int release_keep(struct engine *e, const struct store_release *r, struct zp_err *err);

/* Remove the keep tags of n releases (the tags only: an image still tagged otherwise stays,
 * and an image a container uses is never forced out). Problems are not errors: they are
 * returned as a new string of "tag: why" lines in *ret_warnings (NULL when none). */
void release_unkeep(struct engine *e, const struct store_release *r, size_t n, char **ret_warnings);

#endif

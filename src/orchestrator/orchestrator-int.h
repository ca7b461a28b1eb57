/* orchestrator-int: what the orchestrator's files share: the dependency graph (graph.c),
 * the observed state (observe.c), the plan (plan.c), the session, worker pool and
 * scheduler (converge.c). graph.c and plan.c are pure; only observe.c, converge.c, ops.c
 * and run.c talk to the engine. */
#ifndef ZP_ORCHESTRATOR_INT_H
#define ZP_ORCHESTRATOR_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../compose/compose.h"
#include "../engine/engine.h"
#include "../proxy/proxy.h"
#include "../util/util.h"
#include "mapping.h"
#include "orchestrator.h"

/* ---- the dependency graph (graph.c, pure) ---- */

enum orch_cond {
    ORCH_COND_STARTED,
    ORCH_COND_HEALTHY,
    ORCH_COND_COMPLETED,
};

/* One edge: the service depends on node `target` of the same graph. */
struct orch_dep {
    size_t target;
    enum orch_cond cond;
    bool required;
    bool restart; /* restart: true: restart the dependent when target is recreated */
};

struct orch_gnode {
    const char *name;          /* borrowed from the model */
    const struct zp_node *svc; /* borrowed */
    bool selected;
    struct orch_dep *deps; /* dependencies present in the model */
    size_t ndeps;
    size_t *dependents; /* nodes that depend on this one */
    size_t ndependents;
    size_t branch; /* independent component among the selected nodes */
};

struct orch_graph {
    struct orch_gnode *nodes; /* every service of the model, in model order */
    size_t n;
    size_t *order; /* the selected nodes, dependencies first */
    size_t norder;
    size_t nbranches;
};

/* Build the graph of every service of model (the normalised project model) and select
 * `services` (none: all) plus, unless no_deps, their dependencies (depends_on, links,
 * network_mode/ipc/pid "service:x", volumes_from). A dependency that is not in the model
 * is skipped when `required: false`, else an error. Errors: ZP_E_NOTFOUND (unknown
 * service named), ZP_E_INPUT (missing required dependency, cycle). */
int orch__graph_build(const struct zp_node *model, const char *const *services, size_t nservices,
                      bool no_deps, struct orch_graph *ret, struct zp_err *err);
void orch__graph_release(struct orch_graph *g);
/* Index of service name, or -1. */
long orch__graph_find(const struct orch_graph *g, const char *name);

/* ---- what the engine holds (observe.c) ---- */

struct orch_obs_container {
    char *id;
    char *name;
    char *service;
    char *hash; /* "" without the label */
    char *state;
    char *health; /* from the list's Status: "healthy", "unhealthy", "starting" or NULL */
    char *status; /* the list's Status as the engine words it: "Up 3 seconds (healthy)" */
    char *image;
    int number; /* 0 without a valid label */
    bool oneoff;
    bool routed; /* carries io.zpanel.routes: the proxy routes to it */
    int64_t created;
    int64_t exit_code; /* from "Exited (N) ..." */
    struct engine_ports ports;
};

struct orch_observed {
    struct orch_obs_container *c; /* sorted by service, number, name */
    size_t nc;
};

/* Convert an engine container list (the project's, by label) into observed containers. */
void orch__observed_from_list(const struct engine_container_list *l, struct orch_observed *ret);

/* A list of the project's containers kept for the up after it (snapshot.c). */
struct orch_listing {
    struct engine_container_list l;
    int64_t ns; /* the engine's time just before the list; 0: unknown */
};
/* healthcheck.start_interval reaches the engine from API 1.44 (Docker 25) on; an older one
 * would drop it without a word, so containers (mapping-runtime.c) and Swarm services
 * (swarm.c) refuse it there, with this message (the engine's minor version its argument). */
#define ORCH_API_START_INTERVAL 44
#define ORCH_START_INTERVAL_REFUSED                                                                \
    "needs the engine's API 1.44 (Docker 25) or newer; this engine speaks 1.%d"

/* The engine's list of the project's containers (all states, by label) on e (observe.c). */
int orch__list_containers(struct engine *e, const char *project, struct engine_container_list *ret,
                          struct zp_err *err);
/* List the project's containers (all states) on e. */
int orch__observe(struct engine *e, const char *project, struct orch_observed *ret,
                  struct zp_err *err);
void orch__observed_release(struct orch_observed *o);

/* ---- the plan (plan.c, pure) ---- */

enum orch_step {
    ORCH_STEP_NONE,     /* running with the right config: nothing to do */
    ORCH_STEP_CREATE,   /* no container for this number yet */
    ORCH_STEP_RECREATE, /* config changed (or forced): replace `old` */
    ORCH_STEP_START,    /* exists with the right config but stopped */
    ORCH_STEP_RESTART,  /* a restart: true dependency was recreated */
    ORCH_STEP_REMOVE,   /* scaled down, or a stale duplicate of a number */
};

struct orch_step_item {
    enum orch_step kind;
    int number;
    long old; /* index into the observed containers, -1 for none */
};

/* What up wants for one service. */
struct orch_want {
    const char *hash;           /* the config hash the containers must have */
    const char *container_name; /* container_name, or NULL */
    int64_t replicas;
};

struct orch_svc_plan {
    struct orch_step_item *items; /* ordered by number; removes last */
    size_t n;
    bool active;    /* some item is not ORCH_STEP_NONE */
    bool recreated; /* some item is ORCH_STEP_RECREATE or CREATE */
};

struct orch_plan {
    struct orch_svc_plan *svcs; /* one per graph node; only selected nodes are planned */
    size_t n;
    size_t *orphans; /* observed indices of containers of services not in the model */
    size_t norphans;
};

/* The canonical container name of replica number of service. Returns a new string. */
char *orch__container_name(const char *project, const char *service, const char *container_name,
                           int number);

/* Compare wants (one per graph node, for the selected ones) with the observed containers
 * and decide each container's step. One-off containers are left alone. */
void orch__plan_make(const char *project, const struct orch_graph *g, const struct orch_want *wants,
                     const struct orch_observed *obs, enum orch_recreate recreate, bool no_start,
                     struct orch_plan *ret);
void orch__plan_release(struct orch_plan *p);
const char *orch__step_name(enum orch_step s);

/* ---- the session (session.c) ---- */

struct orch {
    const struct compose_project *p;
    char *host;
    struct engine *e; /* the calling thread's */
    orch_progress_fn progress;
    void *ud;
    pthread_mutex_t progress_lock;
    atomic_bool cancelled;
    pthread_mutex_t lock; /* guards events_engine and the scheduler state of a call */
    pthread_cond_t cond;
    struct engine *events_engine; /* guarded by lock; cancelled by orch_cancel */
    bool have_host;
    struct orch_host hostinfo;
    int64_t engine_clock_ns; /* the engine's SystemTime when hostinfo was read (0: unknown) */
    int64_t engine_clock_at; /* zp_mono_ns() then */
    bool have_swarm_role;    /* swarm_manager is known (orch_swarm_deployed asked) */
    bool swarm_manager;      /* the engine was a Swarm manager then */
    bool up_unchanged;       /* the last orch_up's plan had nothing to do (orch_up_unchanged) */
};

/* Create the networks and volumes that the services of g use and that do not exist yet
 * (external ones must exist), and with routed the proxy's network `zpanel` (objects.c).
 * Used by `up` and by `run`. */
int orch__ensure_objects(struct orch *o, const struct orch_graph *g, bool routed,
                         struct zp_err *err);
/* Is the network or volume definition def `external: true`? */
bool orch__object_external(const struct zp_node *def);
/* The engine name of the model's network or volume `key`: its `name`, else
 * "<project>_<key>". New string. */
char *orch__object_name(const char *project, const char *key, const struct zp_node *def);

/* An orch_progress_fn (ud: the session) that forwards to the user's callback under the
 * session's progress lock: pass it to code that reports from several threads (builds). */
void orch__relay(void *ud, const struct orch_event *ev);
void orch__emit(struct orch *o, enum orch_obj obj, const char *name, const char *service,
                enum orch_state state, const char *fmt, ...) ZP_PRINTF(6, 7);
bool orch__cancelled(struct orch *o);
int orch__interrupted(struct zp_err *err);
/* Stop timeout in seconds from stop_grace_period (rounded up), or -1 without it. */
int orch__stop_timeout(const struct zp_node *svc);
/* The engine's CPUs and memory (queried once per session). */
int orch__host(struct orch *o, struct orch_host *ret, struct zp_err *err);
/* The engine's clock now (Unix ns): the host's for an engine on this machine (the same
 * kernel's clock); another machine's from its SystemTime at orch__host plus the monotonic
 * time since, or the host's when it did not say (orch__host not called, or it failed). */
int64_t orch__engine_now(struct orch *o);
/* Does orch__engine_now tell the engine's clock (not the host's standing in)? */
bool orch__engine_clock_known(const struct orch *o);

/* Stop (timeout seconds, -1: the container's own) and remove c, with progress; a container
 * already gone is not an error. volumes: also its anonymous volumes (containers.c). */
int orch__remove_container(struct orch *o, struct engine *e, const struct orch_obs_container *c,
                           int timeout, bool volumes, struct zp_err *err);

/* ---- images (images.c), shared by up and release; replicas (plan.c), by up and status ---- */

/* Does the local image id (NULL: any), known as ref, carry the build-digest label digest? */
bool orch__image_has_digest(struct engine *e, const char *ref, const char *id, const char *digest);
/* Build the image of service (tagged image; digest: its build digest, or NULL) with
 * progress events; *ret_id gets the new image's ID. Errors name the service. */
int orch__build_image(struct orch *o, const char *service, const struct zp_node *svc,
                      const char *image, const char *digest, char **ret_id, struct zp_err *err);
/* Replicas the model asks for (deploy.replicas, scale; global mode: 1). */
int64_t orch__model_replicas(const struct zp_node *svc);

/* ---- container states from the engine's events (watch.c) ---- */

/* A container's state as last seen by an inspect or an event; guarded by o->lock. */
struct orch_cstate {
    char *id;
    char *name;
    bool known; /* inspected, or seen by an event */
    bool running;
    bool exited;
    int64_t exit_code;
    char health[16]; /* "" without a health check */
    int64_t time_ns; /* engine time (Unix ns) of the newest information applied */
    bool said_waiting, said_ok;
};

/* The events thread of one call and the states it keeps (guarded by o->lock). */
struct orch_watch {
    struct orch *o;
    struct orch_cstate *cs;
    size_t ncs, cap;
    bool started;
    bool done; /* the stream ended (err says why, unless cancelled) */
    struct zp_err err;
    struct engine *ee; /* the events thread's engine */
    pthread_t thread;
    int64_t since;    /* events from this engine time (Unix seconds) on */
    bool drop_health; /* tests only (ZP_TEST_DROP_HEALTH_EVENTS=1): ignore health events */
};

void orch__watch_init(struct orch_watch *w, struct orch *o);
/* Start the events thread (the project's containers); o->events_engine is its engine,
 * so that orch_cancel stops it. */
int orch__watch_start(struct orch_watch *w, struct zp_err *err);
/* Stop the events thread; nothing when it did not start. */
void orch__watch_stop(struct orch_watch *w);
/* Stop, and free the states. */
void orch__watch_release(struct orch_watch *w);
/* The state of container id (o->lock held); add: create it when unknown. NULL when not
 * found (or, adding, when the table is full). */
struct orch_cstate *orch__watch_find(struct orch_watch *w, const char *id, bool add);
/* The events thread's callback (an engine_event_fn, ctx: the watch): applies a container's
 * start, die or health_status event unless the state holds newer information (engine
 * time against engine time). Takes o->lock. */
int orch__watch_event(void *ctx, const struct engine_event *ev, struct zp_err *err);
/* What a container list (taken at engine time time_ns) said of a running container, health
 * NULL without a health check: an event newer than time_ns overrides it. */
void orch__watch_seed(struct orch_watch *w, const char *id, const char *name, const char *health,
                      int64_t time_ns);
/* Inspect container id once (after the subscription) so that states reached before it
 * are known; events newer than the inspect win. Takes o->lock. */
int orch__watch_inspect(struct orch_watch *w, struct engine *e, const char *id, struct zp_err *err);

/* ---- a gate's early readiness probes (probe.c) ---- */

/* While a `service_healthy` gate waits, zpanel runs the dependency's healthcheck test in
 * the container itself (the engine runs its first check only an interval after the start);
 * a passing run opens the gate. All calls but free with o->lock held. */
struct orch_probes;
struct orch_probes *orch__probes_new(struct orch *o);
/* Did zpanel's run of healthcheck hc (the service's model) pass in container id? The
 * first ask for a container queues its probes (on up to four threads of the call's own,
 * started as probes queue); a broadcast on o->cond says when one passed. False without a
 * test. */
bool orch__probe_passed(struct orch_probes *p, const char *id, const struct zp_node *hc);
/* The engine has its own verdict on container id (healthy, unhealthy, exited): probe it no
 * more. */
void orch__probe_forget(struct orch_probes *p, const char *id);
/* Stop the probes (a running one is left to finish in the container) and free; NULL is
 * fine. Takes o->lock itself. */
void orch__probes_free(struct orch_probes *p);

/* ---- the worker pool and the graph scheduler (session.c) ---- */

struct orch_pool;

struct orch_worker {
    struct orch *o;
    struct orch_pool *pool;
    struct engine *e;
    pthread_t thread;
};

typedef void (*orch_job_fn)(struct orch_worker *w, void *arg);

/* Start n workers (0: 4), each with its own engine. Errors: ZP_E_INPUT (host),
 * ZP_E_SYSTEM (threads). */
int orch__pool_start(struct orch *o, int n, struct orch_pool **ret, struct zp_err *err);
void orch__pool_submit(struct orch_pool *pool, orch_job_fn fn, void *arg);
/* Finish the queued jobs, join the workers and free the pool; NULL is fine. */
void orch__pool_stop(struct orch_pool *pool);

enum orch_gate {
    ORCH_GATE_OPEN,
    ORCH_GATE_WAIT,
    ORCH_GATE_FAIL,
};

/* The scheduler: runs job(node) for each node of `nodes` (graph indices) on the pool,
 * each once every dependency (reverse: every dependent) in `nodes` is done and, forward,
 * gate(ud, node, dep) is open. Called with o->lock held: gate and done bookkeeping.
 * job runs on a worker without the lock and returns 0 or an error (copied). A gate that
 * fails sets *ret_fail_node and stops the run (fail_fn, without the lock, fills err).
 * No new job starts after orch_cancel. */
struct orch_sched_ops {
    void *ud;
    int (*job)(void *ud, struct orch_worker *w, size_t node, struct zp_err *err);
    enum orch_gate (*gate)(void *ud, size_t node, const struct orch_dep *dep);
    void (*gate_failed)(void *ud, size_t node, const struct orch_dep *dep, struct zp_err *err);
    bool (*skip)(void *ud, size_t node); /* nothing to do: done at once (may be NULL) */
    /* while gates wait and nothing was heard for ORCH_RECHECK_MS: look again (called with
     * o->lock held, may drop it meanwhile; may be NULL) */
    void (*recheck)(void *ud);
};

/* how long a wait on the events goes unchecked by an inspect (ms) */
#define ORCH_RECHECK_MS 2000
/* How long a container without a health check must have run to count as up in the
 * release health verdict (orch_snap_health). */
#define ORCH_SETTLE_MS 1000

int orch__schedule(struct orch *o, struct orch_pool *pool, const struct orch_graph *g, bool reverse,
                   const struct orch_sched_ops *ops, struct zp_err *err);

/* ---- zero-downtime rollouts of routed services (rollout.c) ---- */

enum orch_update_order {
    ORCH_ORDER_START_FIRST, /* the new container runs beside the old one until switched */
    ORCH_ORDER_STOP_FIRST,  /* the old one stops before the new one starts */
};

/* How a routed service's replicas are replaced: deploy.update_config (pure). */
struct orch_rollout_plan {
    enum orch_update_order order; /* the order used (after any fallback) */
    bool fallback;                /* start-first was asked for but cannot work: see why */
    char *why;                    /* with fallback: "publishes host port 8080", else NULL */
    size_t *batches;              /* replicas replaced together, in order; sum is n */
    size_t nbatches;
    int64_t delay_ms; /* update_config.delay, waited between batches */
};

/* Plan the replacement of n replicas of svc (a normalised service): batches of
 * update_config.parallelism (default 1; 0: all at once), update_config.order (default
 * start-first, the point of routing a service), and stop-first when two containers of
 * the service cannot run at once (orch__single_instance_why). Pure. */
void orch__rollout_plan(const struct zp_node *svc, size_t n, struct orch_rollout_plan *ret);
void orch__rollout_plan_release(struct orch_rollout_plan *p);

/* Why two containers of svc cannot run side by side ("publishes host port 8080",
 * "has the fixed address 10.0.0.5 on network 'front'", "uses network_mode 'host'"), or
 * NULL when they can. Returns a new string. Pure. */
char *orch__single_instance_why(const struct zp_node *svc);

/* How long the container health check of svc may take to decide (start_period plus
 * (interval + timeout) per retry, with Docker's defaults, plus a margin), in ms; 0 when
 * svc has no (or a disabled) health check. Pure. */
int64_t orch__health_budget_ms(const struct zp_node *svc);

/* The name of a replacement while it runs beside the old container. New string. */
char *orch__temp_name(const char *canonical);

/* What the rollouts of one `up` share: the proxy's location, the overrides in force (the
 * replacements routed before their rename, the old containers no longer routed), one
 * lock so that proxy_sync calls (each one /load of the whole router configuration) never
 * interleave. */
struct orch_proxy_ctx {
    struct proxy_opts opts;
    pthread_mutex_t lock; /* guards everything below */
    char **include;       /* container IDs */
    size_t ninclude;
    char **exclude;
    size_t nexclude;
    bool checked;    /* proxy_sync ran once: running is known */
    bool running;    /* the proxy's containers run */
    bool warned;     /* "the proxy is not running" was said */
    char *conflicts; /* the host conflicts last warned about, or NULL */
    bool touched;    /* up changed a routed service's containers */
};

void orch__proxy_ctx_init(struct orch_proxy_ctx *px, const char *state_dir);
void orch__proxy_ctx_release(struct orch_proxy_ctx *px);
/* Rebuild the proxy's configuration from the engine with the overrides in force (see
 * proxy_sync). When the proxy does not run, says so once (ORCH_WARNING) and returns 0. */
int orch__proxy_sync(struct orch *o, struct engine *e, struct orch_proxy_ctx *px,
                     struct zp_err *err);

/* One replica to replace; new_id is set (caller frees) when it was replaced. */
struct orch_roll_item {
    int number;
    const struct orch_obs_container *old;
    char *new_id;
};

/* What a rollout needs from the executor (converge.c). */
struct orch_rollout_ops {
    void *ud;
    /* Create replica `number` under `name` (not started), connected to every network. */
    int (*create)(void *ud, struct engine *e, int number, const char *name, char **ret_id,
                  struct zp_err *err);
    /* Wait (on the engine's events) until container id runs and, when it has a health
     * check, is healthy; errors name why not (exited, unhealthy, timeout_ms passed). */
    int (*wait_ready)(void *ud, struct engine *e, const char *id, int64_t timeout_ms,
                      struct zp_err *err);
};

struct orch_rollout {
    struct orch *o;
    struct engine *e; /* the worker's */
    struct orch_proxy_ctx *px;
    const char *service;
    const struct zp_node *svc; /* normalised, adapted */
    const struct proxy_site *site;
    const char *container_name; /* container_name, or NULL */
    const char *hash;           /* the config hash the replacements get, or NULL */
    const struct orch_rollout_ops *ops;
};

/* Replace items (the service's RECREATE steps, by number) without downtime: per batch,
 * start the replacements beside the old containers (under orch__temp_name), wait until
 * they are ready (health check, then the route's HTTP probe from the proxy's network),
 * switch the routes in one /load, drain the old containers, remove them and give the
 * replacements their names. Stop-first batches stop and drain first, and put the old
 * container back when the new one fails. A replacement that never becomes ready is
 * removed, the old container keeps serving, and the error carries the probe's output and
 * the replacement's last log lines. A replacement left under its temporary name by an
 * interrupted rollout (its old container gone) that runs the wanted hash only gets its
 * name ("Renamed"); a container that holds the temporary name but is not a replacement
 * of this service (its labels: project, service, replica number) is never removed: the
 * rollout stops with ZP_E_CONFLICT naming it and its owner. Progress: "Rolling out",
 * "Switched", "Draining", "Rolled out". The test-only environment variable
 * ZP_TEST_CRASH_AT=after-retire kills the process (SIGKILL) once the old containers of a
 * start-first batch are removed, before the renames. */
int orch__rollout(const struct orch_rollout *r, struct orch_roll_item *items, size_t n,
                  struct zp_err *err);

/* The last log lines of container id (at most lines), "" when none. New string. */
char *orch__last_logs(struct engine *e, const char *id, int lines);

/* ---- many calls at once (wide.c) ---- */

/* Runs fn(e, ctx, i) for i in [0, n) on up to max threads at once, each with its own
 * engine. The engines persist across runs (each negotiates the API version once). */
struct orch_wide {
    const char *host;
    const struct engine *like; /* the session's engine: its negotiated API version */
    struct engine **e;
    size_t ne;
};

int orch__wide_exec(struct orch_wide *w, size_t n, size_t max,
                    void (*fn)(struct engine *e, void *ctx, size_t i), void *ctx,
                    struct zp_err *err);
void orch__wide_release(struct orch_wide *w);

/* ---- Swarm (swarm.c) ---- */

/* Where an image built for a Swarm project is pushed: image's name without its tag under
 * registry, unless it starts with registry already (owned; pure). */
char *orch__swarm_push_repo(const char *registry, const char *image);

/* A config or secret as tasks get it: the model's key, the engine's content-addressed
 * name and its ID. */
struct orch__swarm_obj {
    char *key;
    char *name;
    char *id;
};

/* The Swarm service spec of one service of p (pure): its ServiceSpec body (owned), the
 * service's hash and its tasks' hash. configs and secrets are the objects the service's
 * references resolve to; api_minor the engine's API version (1.<api_minor>). Errors:
 * ZP_E_INPUT naming the field, ZP_E_NOTFOUND. */
int orch__swarm_spec_json(const struct compose_project *p, const char *service,
                          const char *image_id, int64_t replicas_override, int api_minor,
                          const struct orch__swarm_obj *configs, size_t nconfigs,
                          const struct orch__swarm_obj *secrets, size_t nsecrets, char **ret_json,
                          char ret_hash[65], char ret_task_hash[65], struct zp_err *err);

#endif

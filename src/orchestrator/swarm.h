/* orchestrator/swarm: the same Compose model converged as Docker Swarm services instead
 * of containers (`zpanel up --swarm`, or `x-zpanel: {swarm: true}` at the top level),
 * and the operations on such a project (ps, status, down, rollback). Part of the
 * orchestrator's interface; library code: it reports through the session's progress
 * callback (warnings for fields Swarm cannot honour included) and never prints. */
#ifndef ZP_ORCH_SWARM_H
#define ZP_ORCH_SWARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orchestrator.h"

/* Labels of the configs and secrets zpanel creates: the model's key. */
#define ORCH_LABEL_CONFIG "io.zpanel.config"
#define ORCH_LABEL_SECRET "io.zpanel.secret"

/* Does the project ask for Swarm (`x-zpanel: {swarm: true}` at the top level)? */
bool orch_swarm_wanted(const struct compose_project *p);

/* Is the project deployed as Swarm services on the session's engine (the engine is a
 * Swarm manager and has services labelled for the project)? An engine outside a swarm
 * gives false, not an error. */
int orch_swarm_deployed(struct orch *o, bool *ret, struct zp_err *err);

/* The Swarm decision every command and workflow on an existing project makes (the CLI's
 * ps/logs/update/rollback, the release workflows the server's jobs run): is the session's
 * project a Swarm project, because its files ask (orch_swarm_wanted) or because it runs
 * as Swarm services on the engine (orch_swarm_deployed)? */
int orch_swarm_project(struct orch *o, bool *ret, struct zp_err *err);

struct orch_swarm_up_opts {
    const char *const *services; /* only these; none: every service */
    size_t nservices;
    const struct orch_scale *scale; /* --scale SERVICE=N: replicas */
    size_t nscale;
    bool remove_orphans;     /* remove the project's services the files no longer name */
    bool no_wait;            /* return once the engine accepted the specs */
    int64_t wait_timeout_ms; /* 0: 300 s */
};

/* Converge the swarm to the project: overlay attachable networks, configs and secrets
 * (content-addressed names: new content is a new object, so a change rolls the services
 * that use it), then one service per Compose service, created, updated (only when its
 * config hash changed: a second `up` changes nothing) or left alone; then wait until
 * every changed service runs its new tasks (health checks passed). Fields Swarm cannot
 * honour are reported as warnings naming them. An update that Swarm rolled back is an
 * error saying so. Errors: ZP_E_ENGINE (not a manager, engine failures, rollback, tasks
 * that keep failing), ZP_E_INPUT (a value that cannot be mapped, naming the field),
 * ZP_E_CANCELLED. */
int orch_swarm_up(struct orch *o, const struct orch_swarm_up_opts *opts, struct zp_err *err);

/* Remove the project's services, wait for their tasks to go, then its overlay networks,
 * configs and secrets, and with volumes its named volumes (this node's). */
int orch_swarm_down(struct orch *o, bool volumes, struct zp_err *err);

/* Roll the named services (none: every one of the project) back to their previous spec
 * and wait for it. Errors: ZP_E_NOTFOUND (no such deployed service), ZP_E_ENGINE. */
int orch_swarm_rollback(struct orch *o, const char *const *services, size_t nservices,
                        struct zp_err *err);

/* One task of the project, for `ps`. */
struct orch_swarm_task {
    char *service; /* the Compose service: "web" */
    char *name;    /* "<project>_<service>.<slot>" (or ".<node id>" in global mode) */
    char *id;
    char *node;    /* the node's host name (its ID when unknown) */
    char *desired; /* "running", "shutdown" */
    char *state;   /* "running", "failed", ... */
    char *error;   /* "" when none */
    char *container_id;
    char *config_hash;
    int64_t since; /* Unix seconds of the last state change */
};

/* The project's tasks (all: also those no longer desired), sorted by service, slot. */
int orch_swarm_ps(struct orch *o, bool all, struct orch_swarm_task **ret, size_t *ret_n,
                  struct zp_err *err);
void orch_swarm_tasks_free(struct orch_swarm_task *t, size_t n);

/* One service of the project, for `status`. */
struct orch_swarm_service {
    char *service; /* "web" */
    char *name;    /* "<project>_web" */
    char *mode;    /* "replicated", "global" */
    int64_t running;
    int64_t desired;
    char *update_state; /* "" when never updated */
    char *update_message;
    char *image;
    char *config_hash;
};

int orch_swarm_services(struct orch *o, struct orch_swarm_service **ret, size_t *ret_n,
                        struct zp_err *err);
/* Why service s is not healthy, for `health` (owned; NULL when it is: as many tasks run as
 * are desired, at least one, and no update is paused or rolling back). A task counts as
 * running only once its health check passed (Swarm's own rule). Pure. */
char *orch_swarm_service_problem(const struct orch_swarm_service *s);
void orch_swarm_services_free(struct orch_swarm_service *s, size_t n);

/* The proxy following Swarm tasks while a long-running process (`zpanel serve`) runs, so
 * that a task Swarm replaces on its own (a crash, a node lost) is routed again without any
 * zpanel command: a thread follows the engine's events of Swarm task containers of zpanel
 * projects (start, die, kill, destroy, health_status) and resyncs the proxy (proxy_sync,
 * the proxy of state_dir) at each one, then once a second for a few seconds (the manager
 * marks a task running shortly after its container's events). Only this engine's task
 * containers send events (a task on another node is seen at the next of these syncs or
 * the next command). host as orch_new takes it. Errors: ZP_E_ENGINE, ZP_E_SYSTEM. */
struct orch_swarm_router;
int orch_swarm_router_start(const char *host, const char *state_dir, struct orch_swarm_router **ret,
                            struct zp_err *err);
/* Stop the thread and free r (NULL is fine). */
void orch_swarm_router_stop(struct orch_swarm_router *r);
/* How many syncs r ran, for tests and metrics. */
int64_t orch_swarm_router_syncs(struct orch_swarm_router *r);

#endif

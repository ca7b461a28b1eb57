/* engine/swarm: the Engine API calls of Docker Swarm mode (swarm, nodes, services, tasks,
 * configs and secrets), part of engine.h's interface (included from it). Same error
 * convention as engine.h; every call needs an engine that is a Swarm manager (the
 * engine's own message says so otherwise, HTTP 503). */
#ifndef ZP_ENGINE_SWARM_H
#define ZP_ENGINE_SWARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

/* Included at the end of engine.h (its types are complete here); include engine.h. */

/* ---- the swarm ---- */

/* What GET /info says about Swarm mode (engine_swarm_state). Strings "" when absent. */
struct engine_swarm_state {
    char
        *local_state; /* Swarm.LocalNodeState: "inactive", "pending", "active", "error", "locked" */
    char *node_id;    /* Swarm.NodeID */
    char *node_addr;  /* Swarm.NodeAddr */
    char *cluster_id; /* Swarm.Cluster.ID ("" on a worker) */
    bool control_available; /* a manager: may create services */
    int64_t nodes;          /* Swarm.Nodes (managers only) */
    int64_t managers;       /* Swarm.Managers */
};

int engine_swarm_state(struct engine *e, struct engine_swarm_state *ret, struct zp_err *err);
/* GET /swarm: *ret = whether the engine is a swarm manager (may create services); the
 * cheap question where GET /info (engine_swarm_state) makes the engine run helpers. */
int engine_swarm_manager(struct engine *e, bool *ret, struct zp_err *err);
void engine_swarm_state_release(struct engine_swarm_state *s);

/* POST /swarm/init: make this engine a single-manager swarm. advertise_addr and
 * listen_addr may be NULL ("0.0.0.0:2377" for listen). *ret_node_id (may be NULL) gets
 * the node's ID. Errors: ZP_E_ENGINE (already part of a swarm: HTTP 503). */
int engine_swarm_init(struct engine *e, const char *advertise_addr, const char *listen_addr,
                      char **ret_node_id, struct zp_err *err);
/* POST /swarm/join: join the swarm a manager at remote_addr ("HOST:2377") runs, with
 * token (worker or manager). advertise_addr, listen_addr may be NULL. */
int engine_swarm_join(struct engine *e, const char *remote_addr, const char *token,
                      const char *advertise_addr, const char *listen_addr, struct zp_err *err);
/* POST /swarm/leave; force: also the last manager (destroys the swarm's state). */
int engine_swarm_leave(struct engine *e, bool force, struct zp_err *err);

/* GET /swarm (managers only): the cluster's ID and join tokens. */
struct engine_swarm_info {
    char *id;
    char *worker_token;
    char *manager_token;
};

int engine_swarm_inspect(struct engine *e, struct engine_swarm_info *ret, struct zp_err *err);
void engine_swarm_info_release(struct engine_swarm_info *s);

/* ---- nodes ---- */

struct engine_node {
    char *id;
    char *hostname;
    char *role;           /* "manager", "worker" */
    char *availability;   /* "active", "pause", "drain" */
    char *state;          /* "ready", "down", "unknown", "disconnected" */
    char *addr;           /* Status.Addr */
    char *manager_status; /* "leader", "reachable", "unreachable", or "" for workers */
    char *engine_version;
};

struct engine_node_list {
    struct engine_node *items;
    size_t n;
};

/* GET /nodes: every node of the swarm, sorted by hostname then ID. */
int engine_node_list(struct engine *e, struct engine_node_list *ret_list, struct zp_err *err);
void engine_node_list_release(struct engine_node_list *l);

/* ---- services ---- */

/* A file given to a task (a config or a secret), all borrowed. */
struct engine_service_file {
    const char *id;     /* ConfigID / SecretID */
    const char *name;   /* ConfigName / SecretName */
    const char *target; /* file name: "/app.conf" (configs), "db_pw" or a path (secrets) */
    const char *uid;    /* NULL: "0" */
    const char *gid;    /* NULL: "0" */
    uint32_t mode;      /* 0: 0444 */
};

struct engine_service_mount {
    const char *type;   /* "volume", "bind", "tmpfs" */
    const char *source; /* NULL for tmpfs */
    const char *target;
    bool read_only;
};

struct engine_service_network {
    const char *target;         /* network name or ID */
    const char *const *aliases; /* NULL-terminated, may be NULL */
};

struct engine_service_port {
    uint16_t target;
    uint16_t published;       /* 0: none (the engine picks one in ingress mode) */
    const char *protocol;     /* NULL: "tcp" */
    const char *publish_mode; /* NULL: "ingress"; "host" */
};

/* UpdateConfig and RollbackConfig. Fields left at their "unset" value are not sent (the
 * engine's default applies). */
struct engine_update_config {
    bool set;                   /* false: not sent at all */
    int64_t parallelism;        /* -1: unset (0 means all at once) */
    int64_t delay_ns;           /* -1: unset */
    const char *failure_action; /* "pause", "continue", "rollback"; NULL: unset */
    int64_t monitor_ns;         /* -1: unset */
    double max_failure_ratio;   /* < 0: unset */
    const char *order;          /* "stop-first", "start-first"; NULL: unset */
};

/* A service's whole specification (everything borrowed). Zero-initialise, then set
 * what is needed; note the "-1: unset" fields (engine_service_spec_init sets them). */
struct engine_service_spec {
    const char *name;
    const struct engine_kv *labels; /* the service's own labels, n_labels items */
    size_t n_labels;
    /* the container */
    const char *image;
    const char *const *command; /* ContainerSpec.Command (the entrypoint), NULL-terminated */
    const char *const *args;    /* ContainerSpec.Args (the command), NULL-terminated */
    const char *const *env;     /* "KEY=VALUE", NULL-terminated */
    const char *workdir;
    const char *user;
    const char *hostname;
    const char *stop_signal;
    int64_t stop_grace_ns; /* -1: unset */
    bool init;
    bool tty;
    bool open_stdin;
    bool read_only;
    const struct engine_kv *container_labels;
    size_t n_container_labels;
    const struct engine_service_mount *mounts;
    size_t n_mounts;
    const struct engine_service_file *configs;
    size_t n_configs;
    const struct engine_service_file *secrets;
    size_t n_secrets;
    /* the health check: health_test NULL means the image's own; {"NONE"} disables it */
    const char *const *health_test;
    int64_t health_interval_ns;       /* -1: unset */
    int64_t health_timeout_ns;        /* -1: unset */
    int64_t health_start_period_ns;   /* -1: unset */
    int64_t health_start_interval_ns; /* -1: unset (API 1.44 and newer) */
    int64_t health_retries;           /* -1: unset */
    /* resources (0: unset) */
    int64_t limit_nano_cpus;
    int64_t limit_memory;
    int64_t limit_pids;
    int64_t reserve_nano_cpus;
    int64_t reserve_memory;
    /* restart policy */
    const char *restart_condition; /* "none", "on-failure", "any"; NULL: unset */
    int64_t restart_delay_ns;      /* -1: unset */
    int64_t restart_max_attempts;  /* -1: unset */
    int64_t restart_window_ns;     /* -1: unset */
    /* placement */
    const char *const *constraints; /* "node.role==manager", NULL-terminated */
    const char *const *spread;      /* preferences: spread descriptors, NULL-terminated */
    int64_t max_replicas_per_node;  /* 0: unset */
    const struct engine_service_network *networks;
    size_t n_networks;
    /* mode */
    bool global;
    int64_t replicas; /* replicated mode; -1: unset (the engine's 1) */
    struct engine_update_config update;
    struct engine_update_config rollback;
    const char *endpoint_mode; /* "vip", "dnsrr"; NULL: unset */
    const struct engine_service_port *ports;
    size_t n_ports;
    uint64_t force_update; /* TaskTemplate.ForceUpdate: a change restarts every task */
};

/* Zero *spec and set every "-1: unset" field to -1. */
void engine_service_spec_init(struct engine_service_spec *spec);
void engine_update_config_init(struct engine_update_config *u);

/* The JSON body of a spec (owned, compact): what create and update send. Pure. */
char *engine_service_spec_json(const struct engine_service_spec *spec);

/* POST /services/create. *ret_id (may be NULL) gets the ID. Errors: ZP_E_CONFLICT (a
 * service of that name exists), ZP_E_ENGINE (invalid spec, not a manager). */
int engine_service_create(struct engine *e, const struct engine_service_spec *spec, char **ret_id,
                          struct zp_err *err);
/* POST /services/{id}/update at the version index read by the last inspect or list (the
 * engine refuses a stale one: ZP_E_ENGINE "update out of sequence"). */
int engine_service_update(struct engine *e, const char *id, uint64_t version,
                          const struct engine_service_spec *spec, struct zp_err *err);
/* Roll service id back to its previous spec (rollback=previous); spec_json is the
 * current spec as inspect returned it. Errors: ZP_E_ENGINE (no previous spec). */
int engine_service_rollback(struct engine *e, const char *id, uint64_t version,
                            const char *spec_json, struct zp_err *err);
/* DELETE /services/{id}. Errors: ZP_E_NOTFOUND. */
int engine_service_remove(struct engine *e, const char *id, struct zp_err *err);

struct engine_service {
    char *id;
    char *name;
    uint64_t version;            /* Version.Index */
    struct engine_labels labels; /* Spec.Labels */
    char *image;                 /* Spec.TaskTemplate.ContainerSpec.Image */
    bool global;
    int64_t replicas;      /* replicated mode's Replicas (0 for global) */
    int64_t running_tasks; /* ServiceStatus (list only; -1 when not said) */
    int64_t desired_tasks;
    char *update_state;   /* UpdateStatus.State: "updating", "completed", "paused",
                           * "rollback_started", "rollback_completed", ... or "" */
    char *update_message; /* UpdateStatus.Message */
    bool tty;             /* Spec.TaskTemplate.ContainerSpec.TTY */
    char *spec_json;      /* Spec as the engine sent it (for a rollback) */
    bool has_previous_spec;
    /* the names of the configs and secrets that Spec and PreviousSpec use, NULL-terminated
     * (a rollback needs the previous ones) */
    char **object_refs;
};

struct engine_service_list {
    struct engine_service *items;
    size_t n;
};

/* GET /services/{id}. Errors: ZP_E_NOTFOUND. */
int engine_service_inspect(struct engine *e, const char *name_or_id, struct engine_service *ret,
                           struct zp_err *err);
void engine_service_release(struct engine_service *s);
/* GET /services?status=true with every label filter, sorted by name. */
int engine_service_list(struct engine *e, const char *const *label_filters,
                        struct engine_service_list *ret_list, struct zp_err *err);
void engine_service_list_release(struct engine_service_list *l);

/* Stream a service's logs (GET /services/{id}/logs: every task's output, on any node) to
 * on_frame, as engine_container_logs does (opts->tty: the service's containers have a
 * TTY; with follow it returns on engine_cancel or when on_frame stops it). Errors:
 * ZP_E_INPUT (opts->until: the endpoint has no end time), ZP_E_NOTFOUND, ZP_E_ENGINE. */
int engine_service_logs(struct engine *e, const char *id, const struct engine_logs_opts *opts,
                        engine_frame_fn on_frame, void *ctx, struct zp_err *err);

/* POST /images/{repo}/push?tag=TAG: push the local image repo:tag (tag NULL: every tag
 * of repo) to the registry its name starts with, without credentials (an open registry,
 * as a private one on the swarm's network). on_progress (may be NULL) sees each progress
 * line. Errors: ZP_E_NOTFOUND (no such local image), ZP_E_ENGINE (the registry refused
 * or could not be reached: the stream's error message). */
int engine_image_push(struct engine *e, const char *repo, const char *tag,
                      engine_progress_fn on_progress, void *ctx, struct zp_err *err);

/* ---- tasks ---- */

/* A task's address on one of its networks (NetworksAttachments). */
struct engine_task_addr {
    char *network; /* the network's name: "zpanel-shop" */
    char *ip;      /* without the prefix length: "10.0.3.7" */
};

struct engine_task {
    char *id;
    char *service_id;
    char *node_id;
    int64_t slot; /* replicated mode's slot (0 for global tasks) */
    char *state;  /* Status.State: "new", ..., "running", "complete", "failed", "shutdown",
                   * "rejected", "orphaned", "remove" */
    char *desired_state;
    char *message;      /* Status.Message */
    char *error;        /* Status.Err, "" when none */
    char *container_id; /* "" before the container exists */
    int64_t exit_code;
    int64_t timestamp;              /* Status.Timestamp, Unix seconds */
    int64_t version;                /* Version.Index */
    struct engine_labels labels;    /* Spec.ContainerSpec.Labels: what the task was made from */
    struct engine_task_addr *addrs; /* one per network address (the first of each network) */
    size_t n_addrs;
};

struct engine_task_list {
    struct engine_task *items;
    size_t n;
};

/* GET /tasks with the label filters (the labels of the task's service) and, when service
 * is not NULL, only that service's tasks; desired_running: only tasks whose desired state
 * is running. Sorted by service, slot, then newest first. */
int engine_task_list(struct engine *e, const char *const *label_filters, const char *service,
                     bool desired_running, struct engine_task_list *ret_list, struct zp_err *err);
void engine_task_list_release(struct engine_task_list *l);

/* ---- configs and secrets ---- */

enum engine_swarm_kind {
    ENGINE_CONFIG,
    ENGINE_SECRET,
};

struct engine_swarm_obj {
    char *id;
    char *name;
    struct engine_labels labels;
};

struct engine_swarm_obj_list {
    struct engine_swarm_obj *items;
    size_t n;
};

/* POST /configs/create or /secrets/create with data (len bytes, sent base64) and labels.
 * *ret_id (may be NULL) gets the ID. Errors: ZP_E_CONFLICT (the name exists; configs and
 * secrets cannot change: give new data a new name). */
int engine_swarm_obj_create(struct engine *e, enum engine_swarm_kind kind, const char *name,
                            const struct engine_kv *labels, size_t n_labels, const void *data,
                            size_t len, char **ret_id, struct zp_err *err);
/* Those matching every label filter, sorted by name. */
int engine_swarm_obj_list(struct engine *e, enum engine_swarm_kind kind,
                          const char *const *label_filters, struct engine_swarm_obj_list *ret_list,
                          struct zp_err *err);
void engine_swarm_obj_list_release(struct engine_swarm_obj_list *l);
/* DELETE. Errors: ZP_E_NOTFOUND, ZP_E_ENGINE or ZP_E_CONFLICT (in use by a service). */
int engine_swarm_obj_remove(struct engine *e, enum engine_swarm_kind kind, const char *id,
                            struct zp_err *err);

/* Standard base64 of len bytes (owned, NUL-terminated). */
char *engine_base64(const void *data, size_t len);

#endif

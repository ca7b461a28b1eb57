/* orchestrator/status: the everyday operating views of a deployed project: status (state,
 * health, restarts, uptime, resource use, ports, image age), the health verdict, resource
 * usage sampled like `docker stats`, and cleanup of what the project left behind.
 * Library code: fills results, never prints. */
#ifndef ZP_ORCH_STATUS_H
#define ZP_ORCH_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/engine.h"
#include "../util/util.h"
#include "orchestrator.h"

/* ---- pure helpers (unit-tested) ---- */

/* Resource usage of one container, computed as `docker stats` does. */
struct orch_usage {
    bool have_cpu;      /* false when no CPU delta was available (first sample) */
    double cpu_percent; /* (cpu delta / system delta) x online CPUs x 100 */
    uint64_t mem_used;  /* usage minus the inactive file cache */
    uint64_t mem_limit; /* the cgroup's limit (the host's memory when unlimited) */
    double mem_percent; /* mem_used / mem_limit x 100; 0 without a limit */
    uint64_t net_rx;    /* bytes received, all networks */
    uint64_t net_tx;    /* bytes sent */
    uint64_t blk_read;  /* block I/O bytes read */
    uint64_t blk_write; /* block I/O bytes written */
    uint64_t pids;      /* processes */
};

/* Compute usage from the sample cur and the one before it. prev NULL: cur's own
 * precpu fields are the previous sample (a non-one-shot sample); when those are zero (a
 * one-shot sample) have_cpu is false. A counter that went backwards (the container
 * restarted between samples) gives 0 %, not a wrap-around. */
void orch_stats_compute(const struct engine_stats *prev, const struct engine_stats *cur,
                        struct orch_usage *ret);

/* Average CPU % (of one CPU, as docker counts) since the container started: cpu_total_ns
 * of CPU time over the wall time from started_ns to now_ns. 0 when that time is not
 * positive. */
double orch_cpu_average(uint64_t cpu_total_ns, int64_t started_ns, int64_t now_ns);

/* Buffer sizes for the formatters below (always enough, NUL included). */
#define ORCH_FMT_BYTES 16
#define ORCH_FMT_DURATION 24

/* A size for people with three significant digits: binary units ("512B", "1.50KiB",
 * "12.3MiB", "1.02GiB"; memory, as docker shows it) or decimal units ("1.50kB",
 * "12.3MB"; network and block I/O). */
void orch_fmt_bytes(uint64_t n, bool binary, char out[ORCH_FMT_BYTES]);

/* A duration in seconds, compact, two units at most: "45s", "4m12s", "3h05m",
 * "2d04h", "400d"; negative durations print as "0s". */
void orch_fmt_duration(int64_t secs, char out[ORCH_FMT_DURATION]);

/* ---- the health verdict (pure) ---- */

/* What is known about one container, as the engine reported it (all borrowed). */
struct orch_health_facts {
    const char *state;         /* State.Status: "running", "restarting", "exited", ... */
    const char *health;        /* State.Health.Status, NULL without a health check */
    const char *health_output; /* the last probe's output, or NULL */
    int64_t health_exit_code;  /* the last probe's exit code */
    int64_t failing_streak;    /* consecutive failed probes */
    int64_t exit_code;         /* State.ExitCode: the last exit */
    bool oom_killed;           /* State.OOMKilled */
    int64_t restart_count;     /* RestartCount */
};

enum orch_verdict {
    ORCH_VERDICT_HEALTHY,    /* running and its health check passes */
    ORCH_VERDICT_RUNNING,    /* running, without a health check */
    ORCH_VERDICT_STARTING,   /* running, the health check has not passed yet */
    ORCH_VERDICT_UNHEALTHY,  /* running, the health check fails */
    ORCH_VERDICT_RESTARTING, /* the engine keeps restarting it (a crash loop) */
    ORCH_VERDICT_EXITED,     /* stopped, or exited and not restarted */
    ORCH_VERDICT_PAUSED,
    ORCH_VERDICT_CREATED, /* created, never started */
    ORCH_VERDICT_DEAD,    /* dead or being removed */
    ORCH_VERDICT_MISSING, /* the service has no container at all */
};

/* Is v a passing verdict (healthy, or running without a health check)? */
bool orch_verdict_ok(enum orch_verdict v);
/* "healthy", "running", "starting", "unhealthy", "restarting", "exited", "paused",
 * "created", "dead", "not running". */
const char *orch_verdict_name(enum orch_verdict v);

/* Decide f's verdict. *ret_reason (may be NULL) gets one line saying why it is not
 * passing (caller frees; NULL for a passing verdict): "unhealthy: <probe output>",
 * "restarting in a loop: exit code 3, not OOM-killed, 5 restarts", "exited with code 1
 * (OOM-killed)". Probe output is flattened to one line (newlines become " | ") and
 * capped at 300 bytes. */
enum orch_verdict orch_health_verdict(const struct orch_health_facts *f, char **ret_reason);

/* Is the service (a node of the model's services) marked `x-zpanel.exclude_from_health`
 * (Coolify's exclude_from_hc)? Such a service does not count for the project's health:
 * `--wait` does not wait for it, a release's verdict leaves it out, and orch_health and
 * orch_status flag its rows so that callers leave it out of their verdicts. */
bool orch_health_excluded(const struct zp_node *svc);

/* ---- status ---- */

struct orch_status_opts {
    const char *const *services; /* only these; none: every service of the model */
    size_t nservices;
    bool no_usage;    /* skip the per-container stats call (CPU and memory use) */
    int max_parallel; /* connections (threads) at a time; 0: 128 */
};

/* One row of `status`: a container of a service, or a service without any. */
struct orch_status_row {
    char *service;
    char *name; /* the container's name; NULL for a service without a container */
    char *id;
    int number;
    char *state;         /* State.Status; "not created" without a container */
    char *health;        /* NULL without a health check */
    char *health_output; /* the last probe's output when the check is failing, else NULL */
    enum orch_verdict verdict;
    char *reason;         /* orch_health_verdict's reason, NULL when passing */
    bool health_excluded; /* the service is marked exclude_from_health */
    int64_t exit_code;
    bool oom_killed;
    int64_t restart_count;
    int64_t started_at;     /* Unix seconds; 0 when never started */
    int64_t uptime_s;       /* -1 when not running */
    bool have_usage;        /* the fields below were sampled (running, and not no_usage) */
    double cpu_avg_percent; /* CPU % averaged since the container started */
    uint64_t mem_used;
    uint64_t mem_cgroup_limit; /* the cgroup's limit from the stats (host memory if none) */
    int64_t memory_limit;      /* the configured limit (HostConfig.Memory); 0: none */
    char *restart_policy;      /* "" when none */
    struct orch_port *ports;
    size_t nports;
    char *image;           /* as the container was created from */
    char *image_id;        /* "sha256:..." */
    int64_t image_created; /* Unix seconds; 0 when unknown */
    int64_t now;           /* when the row was observed, Unix seconds */
};

/* The project's service containers (one-off `run` containers are left out) and one row
 * per selected service that has none, sorted by service then number.
 * Engine round trips: one container list and one image list for the whole project, then
 * per container one inspect and, for a running one (unless no_usage), one one-shot stats
 * call. The per-container calls all run at once (up to max_parallel connections, each of
 * which first negotiates the API version): the engine answers one-shot stats only at its
 * collector's next tick (up to a second), so they must wait together, not in turns.
 * Errors: those of engine.h (a container removed meanwhile is skipped), ZP_E_NOTFOUND
 * for a service not in the model. */
int orch_status(struct orch *o, const struct orch_status_opts *opts, struct orch_status_row **ret,
                size_t *ret_n, struct zp_err *err);
void orch_status_rows_free(struct orch_status_row *rows, size_t n);

/* ---- health ---- */

/* One result of `health`: a container of a service, or a service with none. */
struct orch_health_item {
    char *service;
    char *name; /* the container; NULL when the service has none */
    enum orch_verdict verdict;
    char *reason;  /* NULL when passing */
    bool excluded; /* the service is marked exclude_from_health (orch_health_excluded) */
};

/* The verdict for every container of the selected services (none: every service of the
 * model), plus ORCH_VERDICT_MISSING for a service without a container (a service scaled
 * to 0 replicas is left out). One container list; one inspect only per container whose
 * listed state is not already passing. Sorted by service, then container name.
 * Errors: those of engine.h. */
int orch_health(struct orch *o, const char *const *services, size_t nservices,
                struct orch_health_item **ret, size_t *ret_n, struct zp_err *err);
void orch_health_items_free(struct orch_health_item *items, size_t n);

/* ---- stats ---- */

struct orch_stats_row {
    char *id;
    char *name;
    char *service;
    struct orch_usage u;
};

/* A sampler of the project's running containers: each round lists them (one call) and
 * takes a one-shot sample of each (one call each, all at once on connections kept
 * across rounds; a round ends at the engine's next stats tick); CPU %
 * is the delta against the previous round's sample of the same container, so the first
 * round has no CPU figure. Containers that appear or stop between rounds come and go. */
struct orch_stats;

/* Open a sampler for services (none: all; borrowed, must outlive it). max_parallel 0: 128.
 * Errors: ZP_E_SYSTEM, ZP_E_INPUT (threads, engines). */
int orch_stats_open(struct orch *o, const char *const *services, size_t nservices, int max_parallel,
                    struct orch_stats **ret, struct zp_err *err);
/* Take one round. *ret gets the rows (sorted by service, number; caller frees with
 * orch_stats_rows_free). Errors: those of engine.h; ZP_E_CANCELLED "interrupted" after
 * orch_cancel. */
int orch_stats_round(struct orch_stats *s, struct orch_stats_row **ret, size_t *ret_n,
                     struct zp_err *err);
void orch_stats_close(struct orch_stats *s);
void orch_stats_rows_free(struct orch_stats_row *rows, size_t n);

/* ---- cleanup ---- */

/* The repository of a service's release images: "zpanel-release/<project>-<service>";
 * each release is a numeric tag. Returns a new string. */
char *orch_release_repo(const char *project, const char *service);

#define ORCH_CLEANUP_KEEP_DEFAULT 5

struct orch_cleanup_opts {
    bool dry_run; /* decide and report, remove nothing */
    bool all;     /* also stopped service containers and unused project images */
    int64_t keep; /* release images to keep per service (newest by number); < 0: default */
    /* Release tags a recorded release still names (the CLI reads them from the state
     * database): never removed, whatever keep says, so a rollback always finds them. */
    const char *const *protected_tags;
    size_t nprotected;
};

enum orch_cleanup_kind {
    ORCH_CLEAN_CONTAINER, /* a stopped one-off (or, with all, service) container */
    ORCH_CLEAN_IMAGE,     /* a dangling (or, with all, unused) image of the project */
    ORCH_CLEAN_RELEASE,   /* a release tag beyond the retention count */
    ORCH_CLEAN_NETWORK,   /* a project network no longer in the model */
};

struct orch_cleanup_item {
    enum orch_cleanup_kind kind;
    char *name;   /* container name, image ID, "repo:tag", network name */
    char *id;     /* the engine ID (or the reference to remove) */
    int64_t size; /* bytes freed when removed (images; a release tag counts its image's
                   * size when it is the image's last tag), else 0 */
    bool removed; /* done (false in a dry run, or when it failed) */
    char *error;  /* why removing failed (e.g. a network still in use), or NULL */
};

struct orch_cleanup_result {
    struct orch_cleanup_item *items;
    size_t n;
    int64_t freed; /* sum of size over removed items (over all items in a dry run) */
};

/* What the engine holds, for the pure planner (all borrowed). */
struct orch_cleanup_input {
    const char *project;
    const struct zp_node *model;                        /* the normalised model */
    const struct engine_container_list *containers;     /* the project's, by label, all states */
    const struct engine_container_list *all_containers; /* every container: images in use */
    const struct engine_image_list *dangling;           /* dangling, labelled for the project */
    const struct engine_image_list *project_images;     /* labelled for the project */
    const struct engine_image_list *release_images;     /* tagged zpanel-release/... */
    const struct engine_network_list *networks;         /* labelled for the project */
    /* labelled for the project, intermediate images too: the parents of the images above,
     * to tell an image zpanel built from one built by hand FROM it (inherited labels) */
    const struct engine_image_list *parents;
};

/* Decide what cleanup removes, without touching the engine (pure). Only objects that
 * carry io.zpanel.project=<project> (containers, dangling and project images, networks)
 * or a release tag of one of the model's services are ever chosen; images used by any
 * container are never chosen. Items come in removal order: containers, release tags,
 * images, networks. */
void orch_cleanup_plan(const struct orch_cleanup_input *in, const struct orch_cleanup_opts *opts,
                       struct orch_cleanup_result *ret);

/* List what the engine holds, plan, and (unless dry_run) remove. A failure to remove one
 * object is recorded in its item and does not stop the others. Errors: those of
 * engine.h for the listing calls. */
int orch_cleanup(struct orch *o, const struct orch_cleanup_opts *opts,
                 struct orch_cleanup_result *ret, struct zp_err *err);
void orch_cleanup_result_release(struct orch_cleanup_result *r);

#endif

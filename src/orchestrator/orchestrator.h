/* orchestrator: converge a Docker engine to a normalised Compose model (networks, volumes,
 * images, containers in dependency order with health gates, in parallel), and act on what
 * was deployed (down, start, stop, restart, kill, rm, pause, unpause, ps).
 * Library code: it reports progress through a callback and never prints. */
#ifndef ZP_ORCHESTRATOR_H
#define ZP_ORCHESTRATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../compose/compose.h"
#include "../util/util.h"

struct engine;

/* ---- progress ---- */

enum orch_obj {
    ORCH_OBJ_PROJECT,
    ORCH_OBJ_NETWORK,
    ORCH_OBJ_VOLUME,
    ORCH_OBJ_IMAGE,
    ORCH_OBJ_CONTAINER,
    ORCH_OBJ_SERVICE, /* a Swarm service (orchestrator/swarm.c) */
    ORCH_OBJ_CONFIG,  /* a Swarm config */
    ORCH_OBJ_SECRET,  /* a Swarm secret */
};

enum orch_state {
    ORCH_WORKING, /* an action started: "Creating", "Starting", "Waiting", "Stopping" */
    ORCH_DONE,    /* it finished: "Created", "Started", "Healthy", "Stopped", "Removed" */
    ORCH_FAILED,  /* it failed: text is the error message */
    ORCH_INFO,    /* a note: "Running" (nothing to do), a limit adjustment, log lines */
    ORCH_WARNING, /* something the user should know: "port 80 is bound on the host, ..." */
};

struct orch_event {
    enum orch_obj obj;
    const char *name;    /* "hello-web-1", "hello_default", "hello" (project) */
    const char *service; /* the service, or NULL */
    enum orch_state state;
    const char *text;
    int64_t time_ns; /* CLOCK_MONOTONIC */
};

/* Called from any thread, never concurrently (the orchestrator serialises calls). The
 * event and its strings are valid during the call only. */
typedef void (*orch_progress_fn)(void *ud, const struct orch_event *ev);

/* ---- a session ---- */

struct orch;

/* Open a session for project p (borrowed: it must outlive the session) on the engine at
 * host (NULL: DOCKER_HOST, else the default socket). Connects and negotiates the API
 * version. progress may be NULL. Errors: ZP_E_ENGINE (engine unreachable, too old). */
int orch_new(const struct compose_project *p, const char *host, orch_progress_fn progress, void *ud,
             struct orch **ret, struct zp_err *err);
void orch_free(struct orch *o);

/* Ask a running orch_up/orch_down/... (in another thread, or from a signal handler's
 * self-pipe reader) to stop as soon as it safely can: no new actions start, waits end.
 * The call returns ZP_E_CANCELLED ("interrupted"). What was done stays done; the next `up`
 * converges from there. Thread-safe. */
void orch_cancel(struct orch *o);

/* ---- up ---- */

enum orch_recreate {
    ORCH_RECREATE_CHANGED, /* only containers whose config hash changed (default) */
    ORCH_RECREATE_FORCE,   /* --force-recreate */
    ORCH_RECREATE_NEVER,   /* --no-recreate */
};

enum orch_pull {
    ORCH_PULL_MISSING, /* pull images that are missing (no registry here: fails clearly) */
    ORCH_PULL_NEVER,   /* never pull: a missing image without build is an error */
};

struct orch_scale {
    const char *service;
    int64_t replicas;
};

struct orch_listing; /* snapshot.h */

struct orch_up_opts {
    /* the project's containers listed by the caller just before this up, with nothing
     * changed since (release_deploy's snapshot): the plan starts from it instead of a
     * second list; NULL: up lists them */
    const struct orch_listing *listed;
    const char *const *services; /* only these (and their dependencies unless no_deps) */
    size_t nservices;
    bool no_deps;
    enum orch_recreate recreate;
    bool remove_orphans;
    bool no_start;           /* create only */
    bool wait;               /* return once every started service is running/healthy */
    int64_t wait_timeout_ms; /* 0: no limit */
    enum orch_pull pull;
    bool build;                     /* --build: rebuild images that have a build section */
    bool no_build;                  /* --no-build: never build */
    const struct orch_scale *scale; /* --scale SERVICE=N */
    size_t nscale;
    bool no_adapt_limits;         /* keep limits as written (except clamping to the host) */
    int max_parallel;             /* concurrent engine actions; 0: default (4) */
    bool abort_on_container_exit; /* used by the CLI when attached; informational here */
};

/* Converge the engine to the project: networks and volumes first, then containers in
 * dependency order, independent branches in parallel, each gate (service_started,
 * service_healthy, service_completed_successfully) opened by the engine's events. A
 * container is recreated only when its config hash changed. Returns 0, or the first error
 * (err names the object; a failed health gate includes the dependency's last log lines). */
int orch_up(struct orch *o, const struct orch_up_opts *opts, struct zp_err *err);
/* After orch_up: did it leave every container as it was (its plan had nothing to create,
 * recreate, start or remove)? False when it changed one, or may have (it failed before its
 * plan was made). Lets a caller skip looking again at what a no-op up left. */
bool orch_up_unchanged(const struct orch *o);

/* ---- down ---- */

enum orch_rmi { ORCH_RMI_NONE, ORCH_RMI_LOCAL, ORCH_RMI_ALL };

struct orch_down_opts {
    bool volumes; /* -v: also the non-external volumes the files declare (those labelled as
                   * the project's) and the containers' anonymous volumes; other volumes
                   * labelled for the project are kept and named in a warning */
    bool remove_orphans;
    int timeout_s; /* stop timeout; < 0: the service's stop_grace_period, else 10 s */
    enum orch_rmi rmi;
};

/* Stop (reverse dependency order, parallel where independent, honouring stop_signal and
 * stop_grace_period) and remove the project's containers, then its networks (not
 * external ones), and volumes with -v. Works from the labels on the engine, so it also
 * cleans up what an older version of the files created. */
int orch_down(struct orch *o, const struct orch_down_opts *opts, struct zp_err *err);

/* ---- acting on deployed containers ---- */

enum orch_action {
    ORCH_START,
    ORCH_STOP,
    ORCH_RESTART,
    ORCH_KILL,
    ORCH_PAUSE,
    ORCH_UNPAUSE,
    ORCH_RM,
};

struct orch_action_opts {
    const char *const *services; /* none: every service */
    size_t nservices;
    int timeout_s;      /* stop/restart; < 0: stop_grace_period or 10 s */
    const char *signal; /* kill: NULL means SIGKILL */
    bool force;         /* rm -f: also running containers (stopped first) */
    bool stop_first;    /* rm -s */
    bool volumes;       /* rm -v: anonymous volumes of the removed containers */
};

/* Start in dependency order; stop, restart, kill in reverse order. */
int orch_act(struct orch *o, enum orch_action action, const struct orch_action_opts *opts,
             struct zp_err *err);

/* ---- one-off containers (`run`) ---- */

struct orch_run_opts {
    const char *service;
    const char *const *argv; /* the command; none: the service's command */
    size_t argc;
    const char *entrypoint; /* --entrypoint (shell-split), or NULL */
    const char *const *env; /* -e KEY=VALUE, added to the service's environment */
    size_t nenv;
    const char *user;    /* -u, or NULL */
    const char *workdir; /* -w, or NULL */
    const char *name;    /* --name, or NULL for "<project>-<service>-run-<random>" */
    bool tty;            /* allocate a TTY (stdin is a terminal and no -T) */
    bool interactive;    /* keep stdin open */
    bool no_deps;        /* do not start the service's dependencies */
    bool service_ports;  /* publish the service's ports (off by default, as compose) */
    bool rm;             /* the CLI removes it afterwards; recorded for AutoRemove */
};

/* Bring the service's dependencies up (as orch_up with those services, unless no_deps),
 * then create (not start) a one-off container of the service labelled
 * io.zpanel.oneoff=true. Returns its ID (caller frees). */
int orch_run_create(struct orch *o, const struct orch_run_opts *opts, char **ret_id,
                    struct zp_err *err);
/* Run the service's post_start hooks in its one-off container id once the caller started
 * it, as `up` does for its containers (through e, the caller's engine). */
int orch_run_post_start(struct orch *o, struct engine *e, const char *service, const char *id,
                        struct zp_err *err);

/* The engine session's client, for commands that stream from a container (logs, exec,
 * attach, top). Borrowed; use only from the calling thread. */
struct engine *orch_engine(struct orch *o);

/* The engine's clock now, in Unix seconds (an engine on this machine: the host's clock;
 * another machine's: its SystemTime, read once per session, plus the monotonic time since;
 * the host's clock if it cannot say): compare it with times the engine reports
 * (StartedAt, events). */
int64_t orch_engine_now_s(struct orch *o);

/* ---- observing ---- */

struct orch_port {
    char *host_ip; /* "127.0.0.1", "0.0.0.0", or "" when not published */
    int host_port; /* 0 when not published */
    int container_port;
    char *protocol; /* "tcp", "udp", "sctp" */
};

struct orch_container {
    char *id;
    char *name;    /* "hello-web-1" */
    char *service; /* "web" */
    int number;    /* io.zpanel.number */
    bool oneoff;   /* created by `run` */
    char *image;
    char *state;  /* "running", "exited", "created", "paused", "restarting", ... */
    char *health; /* "healthy", "unhealthy", "starting", or NULL without a health check */
    int64_t exit_code;
    char *status;       /* as the engine words it: "Up 3 seconds (healthy)", "Exited (0) ..." */
    int64_t created;    /* Unix seconds */
    int64_t started_at; /* Unix seconds, 0 when never started; only orch_ps_inspected */
    char *config_hash;
    struct orch_port *ports;
    size_t nports;
};

/* The project's containers (running only unless all), sorted by service then number,
 * optionally only those of the named services: one list request, as `docker compose ps`
 * makes (the list carries state, health, exit code, status text and every port, also those
 * only exposed). started_at stays 0. */
int orch_ps(struct orch *o, const char *const *services, size_t nservices, bool all,
            struct orch_container **ret, size_t *ret_n, struct zp_err *err);
/* orch_ps and then an inspect of each container (in parallel) for what the list lacks: the
 * exact start time (started_at) and the state at that moment. */
int orch_ps_inspected(struct orch *o, const char *const *services, size_t nservices, bool all,
                      struct orch_container **ret, size_t *ret_n, struct zp_err *err);
void orch_containers_free(struct orch_container *c, size_t n);

#endif

/* cli/up: converge the engine to the project, then (without -d) follow the
 * containers' output until Ctrl-C or their exit, and stop them. */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "../orchestrator/swarm.h"
#include "../release/release.h"
#include "cli.h"

#include "../util/banned.h"

enum phase { PHASE_UP, PHASE_ATTACHED, PHASE_STOPPING };

struct up_ctx {
    struct orch *orch;
    const char *host;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t cond;
    enum phase phase;
    struct cli_logs *logs;
    bool stop_requested; /* Ctrl-C while attached */
    size_t exited;       /* containers whose output ended */
    char *first_exited;  /* ID of the first of them */
    char **ids;          /* the attached containers, for a forced kill */
    size_t nids;
    bool killed;
};

/* Second Ctrl-C: kill every attached container with an engine of our own (the
 * main thread is busy stopping them through the orchestrator). */
static void kill_all(struct up_ctx *u)
{
    struct zp_err err;
    zp_err_init(&err);
    struct engine *e = engine_new(u->host, &err);
    if (!e)
        return;
    for (size_t i = 0; i < u->nids; i++) {
        zp_err_init(&err);
        engine_container_kill(e, u->ids[i], NULL, &err);
    }
    engine_free(e);
}

static void on_signal(void *ud, int signo, unsigned count)
{
    struct up_ctx *u = ud;
    if (signo == SIGWINCH || count == 0)
        return;
    pthread_mutex_lock(&u->lock);
    switch (u->phase) {
    case PHASE_UP:
        orch_cancel(u->orch);
        break;
    case PHASE_ATTACHED:
        u->stop_requested = true;
        if (u->logs)
            cli_logs_cancel(u->logs);
        pthread_cond_broadcast(&u->cond);
        break;
    case PHASE_STOPPING:
        if (!u->killed) {
            u->killed = true;
            pthread_mutex_unlock(&u->lock);
            kill_all(u);
            return;
        }
        break;
    }
    pthread_mutex_unlock(&u->lock);
}

static void on_end(void *ud, const char *name, const char *id)
{
    struct up_ctx *u = ud;
    (void)name;
    pthread_mutex_lock(&u->lock);
    if (u->exited++ == 0)
        u->first_exited = zp_strdup(id);
    pthread_cond_broadcast(&u->cond);
    pthread_mutex_unlock(&u->lock);
}

static int parse_seconds(const char *flag, const char *v, int64_t *ret)
{
    int64_t ns;
    if (zp_parse_int64(v, 0, 86400 * 365, ret) == 0)
        return 0;
    if (zp_parse_duration(v, false, &ns) == 0 && ns >= 0) {
        *ret = ns / 1000000000;
        return 0;
    }
    return cli_usage_error(&cli_cmd_up, "%s: '%s' is not a number of seconds", flag, v);
}

/* Follow the output of the started containers until they all end, one ends
 * (abort), or Ctrl-C; then stop them. Returns the exit code. */
static int attach(const struct cli_global *g, struct cli_session *s, struct up_ctx *u,
                  const struct orch_up_opts *uo, int timeout_s, int64_t since)
{
    struct orch_container *cs = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    int rc = 0;
    /* from now on Ctrl-C means "stop the containers", not "cancel up" */
    pthread_mutex_lock(&u->lock);
    u->phase = PHASE_ATTACHED;
    pthread_mutex_unlock(&u->lock);
    if (orch_ps_inspected(s->orch, uo->services, uo->nservices, true, &cs, &n, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    /* the containers that run or ran since this `up` began (one that already exited still
     * shows its output); not the one-off containers of `run` */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool live = strcmp(cs[i].state, "running") == 0 || strcmp(cs[i].state, "restarting") == 0 ||
                    strcmp(cs[i].state, "paused") == 0;
        if (cs[i].oneoff || (!live && cs[i].started_at < since - 1))
            continue;
        if (k != i) {
            struct orch_container t = cs[k];
            cs[k] = cs[i];
            cs[i] = t;
        }
        k++;
    }
    if (k == 0)
        goto out;
    /* services with `attach: false` run without their output shown (as compose does) */
    k = cli_logs_attached(s->project, cs, k);
    struct zp_buf names = ZP_BUF_INIT;
    u->ids = zp_calloc(k, sizeof(*u->ids));
    for (size_t i = 0; i < k; i++) {
        zp_buf_addf(&names, "%s%s", i ? ", " : "", cs[i].name);
        u->ids[i] = zp_strdup(cs[i].id);
    }
    u->nids = k;
    cli_progress_note(s->progress, "Attaching to %s", zp_buf_cstr(&names));
    zp_buf_release(&names);

    struct engine_logs_opts eo;
    memset(&eo, 0, sizeof(eo));
    eo.follow = true;
    eo.since = since;
    struct cli_logs_opts lo = {
        .engine = &eo,
        .prefix = true,
        .color = cli_color(g, STDOUT_FILENO),
        .width = cli_logs_width(cs, k),
        .on_end = on_end,
        .ud = u,
    };
    struct cli_logs *logs = cli_logs_new(g->host, &lo);
    pthread_mutex_lock(&u->lock);
    u->logs = logs;
    bool stop = u->stop_requested;
    pthread_mutex_unlock(&u->lock);
    int color = -1;
    for (size_t i = 0; i < k && !stop; i++) {
        if (i == 0 || strcmp(cs[i].service, cs[i - 1].service) != 0)
            color++;
        if (cli_logs_add(logs, &cs[i], color, &err) != 0) {
            rc = cli_error(&err);
            stop = true;
        }
    }

    pthread_mutex_lock(&u->lock);
    while (rc == 0 && !u->stop_requested && u->exited < k &&
           !(uo->abort_on_container_exit && u->exited > 0))
        pthread_cond_wait(&u->cond, &u->lock);
    bool interrupted = u->stop_requested;
    bool aborted = !interrupted && uo->abort_on_container_exit && u->exited > 0;
    char *exited_id = u->first_exited ? zp_strdup(u->first_exited) : NULL;
    u->phase = PHASE_STOPPING;
    pthread_mutex_unlock(&u->lock);

    cli_logs_cancel(logs);
    if (cli_logs_join(logs, &err) != 0 && rc == 0)
        rc = cli_error(&err);
    if (interrupted || aborted || rc != 0) {
        if (interrupted)
            cli_progress_note(s->progress, "Gracefully stopping... (press Ctrl+C again to force)");
        else if (aborted)
            cli_progress_note(s->progress, "Aborting on container exit...");
        struct orch_action_opts ao;
        memset(&ao, 0, sizeof(ao));
        ao.services = uo->services;
        ao.nservices = uo->nservices;
        ao.timeout_s = timeout_s;
        zp_err_init(&err);
        if (orch_act(s->orch, ORCH_STOP, &ao, &err) != 0 && rc == 0)
            rc = cli_error(&err);
    }
    if (rc == 0 && interrupted) {
        rc = CLI_EXIT_INTERRUPTED;
    } else if (rc == 0 && aborted && exited_id) {
        struct engine_container ct;
        zp_err_init(&err);
        if (engine_container_inspect(orch_engine(s->orch), exited_id, &ct, &err) == 0) {
            rc = (int)(ct.exit_code & 0xff);
            engine_container_release(&ct);
        }
    }
    free(exited_id);
    pthread_mutex_lock(&u->lock);
    u->logs = NULL;
    pthread_mutex_unlock(&u->lock);
    cli_logs_free(logs);
out:
    orch_containers_free(cs, n);
    return rc;
}

static int up_exec(const struct cli_global *g, int argc, char **argv)
{
    enum {
        OPT_WAIT = 256,
        OPT_WAIT_TIMEOUT,
        OPT_FORCE_RECREATE,
        OPT_NO_RECREATE,
        OPT_NO_DEPS,
        OPT_REMOVE_ORPHANS,
        OPT_SCALE,
        OPT_PULL,
        OPT_NO_START,
        OPT_BUILD,
        OPT_NO_BUILD,
        OPT_NO_ADAPT,
        OPT_ABORT,
        OPT_SWARM,
    };
    static const struct option opts[] = {
        {"detach", no_argument, NULL, 'd'},
        {"wait", no_argument, NULL, OPT_WAIT},
        {"wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT},
        {"force-recreate", no_argument, NULL, OPT_FORCE_RECREATE},
        {"no-recreate", no_argument, NULL, OPT_NO_RECREATE},
        {"no-deps", no_argument, NULL, OPT_NO_DEPS},
        {"remove-orphans", no_argument, NULL, OPT_REMOVE_ORPHANS},
        {"scale", required_argument, NULL, OPT_SCALE},
        {"pull", required_argument, NULL, OPT_PULL},
        {"no-start", no_argument, NULL, OPT_NO_START},
        {"build", no_argument, NULL, OPT_BUILD},
        {"no-build", no_argument, NULL, OPT_NO_BUILD},
        {"no-adapt-limits", no_argument, NULL, OPT_NO_ADAPT},
        {"abort-on-container-exit", no_argument, NULL, OPT_ABORT},
        {"swarm", no_argument, NULL, OPT_SWARM},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct orch_up_opts uo;
    memset(&uo, 0, sizeof(uo));
    struct orch_scale *scale = NULL;
    size_t nscale = 0;
    bool detach = false, force = false, never = false, swarm = false;
    int64_t timeout_s = -1, v;
    int c, rc = 0;
    while ((c = getopt_long(argc, argv, ":dt:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            detach = true;
            break;
        case OPT_WAIT:
            uo.wait = true;
            break;
        case OPT_WAIT_TIMEOUT:
            if ((rc = parse_seconds("--wait-timeout", optarg, &v)) != 0)
                goto out;
            uo.wait_timeout_ms = v * 1000;
            break;
        case OPT_FORCE_RECREATE:
            force = true;
            break;
        case OPT_NO_RECREATE:
            never = true;
            break;
        case OPT_NO_DEPS:
            uo.no_deps = true;
            break;
        case OPT_REMOVE_ORPHANS:
            uo.remove_orphans = true;
            break;
        case OPT_SCALE: {
            const char *eq = strchr(optarg, '=');
            int64_t nrep;
            if (!eq || eq == optarg || zp_parse_int64(eq + 1, 0, 1000, &nrep) != 0) {
                rc = cli_usage_error(&cli_cmd_up,
                                     "--scale: '%s' is not SERVICE=N (N from 0 to "
                                     "1000)",
                                     optarg);
                goto out;
            }
            scale = zp_realloc(scale, (nscale + 1) * sizeof(*scale));
            /* the name is cut in place: argv is ours */
            optarg[eq - optarg] = '\0';
            scale[nscale].service = optarg;
            scale[nscale].replicas = nrep;
            nscale++;
            break;
        }
        case OPT_PULL:
            if (strcmp(optarg, "never") == 0) {
                uo.pull = ORCH_PULL_NEVER;
            } else if (strcmp(optarg, "missing") == 0) {
                uo.pull = ORCH_PULL_MISSING;
            } else {
                rc = cli_usage_error(&cli_cmd_up, "--pull: '%s' is not one of never, missing",
                                     optarg);
                goto out;
            }
            break;
        case OPT_NO_START:
            uo.no_start = true;
            break;
        case OPT_BUILD:
            uo.build = true;
            break;
        case OPT_NO_BUILD:
            uo.no_build = true;
            break;
        case OPT_NO_ADAPT:
            uo.no_adapt_limits = true;
            break;
        case OPT_ABORT:
            uo.abort_on_container_exit = true;
            break;
        case OPT_SWARM:
            swarm = true;
            break;
        case 't':
            if ((rc = parse_seconds("--timeout", optarg, &timeout_s)) != 0)
                goto out;
            break;
        case 'h':
            rc = cli_help(&cli_cmd_up);
            goto out;
        default:
            rc = cli_getopt_error(&cli_cmd_up, c, argv);
            goto out;
        }
    }
    if (force && never) {
        rc = cli_usage_error(&cli_cmd_up, "--force-recreate and --no-recreate cannot be used "
                                          "together");
        goto out;
    }
    if (uo.build && uo.no_build) {
        rc = cli_usage_error(&cli_cmd_up, "--build and --no-build cannot be used together");
        goto out;
    }
    if (uo.abort_on_container_exit && (detach || uo.wait)) {
        rc = cli_usage_error(&cli_cmd_up, "--abort-on-container-exit cannot be used with %s",
                             detach ? "-d" : "--wait");
        goto out;
    }
    if (uo.no_start && uo.wait) {
        rc = cli_usage_error(&cli_cmd_up, "--no-start cannot be used with --wait");
        goto out;
    }
    if (uo.wait || uo.no_start)
        detach = true;
    uo.recreate = force ? ORCH_RECREATE_FORCE : never ? ORCH_RECREATE_NEVER : ORCH_RECREATE_CHANGED;
    uo.services = (const char *const *)argv + optind;
    uo.nservices = (size_t)(argc - optind);
    uo.scale = scale;
    uo.nscale = nscale;

    size_t keep;
    if ((rc = cli_release_parse_keep(&cli_cmd_up, NULL, &keep)) != 0)
        goto out;
    struct cli_session s;
    if ((rc = cli_session_open(g, &cli_cmd_up, uo.services, uo.nservices, true, &s)) != 0)
        goto out;
    struct zp_diags ud;
    zp_diags_init(&ud);
    if (compose_engine_unsupported(s.project->model, &ud) > 0) {
        cli_print_diags(&ud); /* fields this engine cannot run: refused before anything */
        zp_diags_release(&ud);
        cli_session_close(&s);
        rc = ZP_EXIT_INVALID;
        goto out;
    }
    zp_diags_release(&ud);
    const struct zp_node *svcs = zp_node_get(s.project->model, "services");
    for (size_t i = 0; i < nscale; i++) {
        if (!zp_node_get(svcs, scale[i].service)) {
            rc = cli_usage_error(&cli_cmd_up, "--scale: no such service '%s'", scale[i].service);
            cli_session_close(&s);
            goto out;
        }
    }
    struct up_ctx u;
    memset(&u, 0, sizeof(u));
    u.orch = s.orch;
    u.host = g->host;
    pthread_mutex_init(&u.lock, NULL);
    pthread_cond_init(&u.cond, NULL);
    /* the engine's clock, as StartedAt, for attaching (GET /info: not asked when detached) */
    int64_t since = detach ? 0 : orch_engine_now_s(s.orch);
    if ((rc = cli_signals_start(on_signal, &u)) == 0) {
        struct zp_err err;
        zp_err_init(&err);
        /* up records what it applied as a release when containers changed */
        struct release_sink sink;
        cli_release_sink(s.progress, &sink);
        struct release_opts ro = {.host = g->host, .keep = keep, .sink = &sink};
        struct release_result res;
        memset(&res, 0, sizeof(res));
        if (swarm || orch_swarm_wanted(s.project)) {
            /* Swarm services instead of containers: converged and waited for, no attach;
             * flags about containers have no meaning for services: refused, not ignored */
            const char *bad = uo.no_start                  ? "--no-start"
                              : uo.build                   ? "--build"
                              : force                      ? "--force-recreate"
                              : never                      ? "--no-recreate"
                              : uo.no_deps                 ? "--no-deps"
                              : uo.abort_on_container_exit ? "--abort-on-container-exit"
                                                           : NULL;
            if (bad)
                rc = cli_usage_error(&cli_cmd_up, "%s: not supported for a Swarm deploy", bad);
            ro.swarm = true;
            detach = true;
        }
        /* the library decides: Swarm services, or containers (refused beside services) */
        if (rc == 0 && release_deploy(s.orch, s.project, &uo, &ro, &res, &err) != 0)
            rc = cli_error(&err);
        release_result_release(&res);
        cli_progress_done(s.progress);
        if (rc == 0 && !detach)
            rc = attach(g, &s, &u, &uo, (int)timeout_s, since);
        cli_signals_stop();
    }
    for (size_t i = 0; i < u.nids; i++)
        free(u.ids[i]);
    free(u.ids);
    free(u.first_exited);
    pthread_mutex_destroy(&u.lock);
    pthread_cond_destroy(&u.cond);
    cli_session_close(&s);
out:
    free(scale);
    return rc;
}

const struct cli_cmd cli_cmd_up = {
    .name = "up",
    .usage = "[-d] [--wait] [--wait-timeout SECONDS] "
             "[--force-recreate|--no-recreate] "
             "[--no-deps] [--remove-orphans] [--scale SERVICE=N]... [--pull "
             "never|missing] "
             "[--no-start] [--build|--no-build] [--no-adapt-limits] "
             "[--abort-on-container-exit] [-t SECONDS] [--swarm] [SERVICE...]",
    .summary = "create and start the project's containers",
    .exec = up_exec,
};

/* cli/run: a one-off container of a service: create it (dependencies first),
 * attach, start, wait, and exit with its command's exit code. */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

struct run_ctx {
    struct orch *orch;
    const char *service;
    struct engine *e;      /* the attach stream's engine (main thread) */
    struct engine *resize; /* the signal thread's own, for SIGWINCH */
    char *id;
    bool tty;
    bool started;
};

static void resize_container(struct engine *e, const char *id)
{
    unsigned h, w;
    struct zp_err ignored;
    zp_err_init(&ignored);
    if (cli_term_size(&h, &w))
        engine_container_resize(e, id, h, w, &ignored);
}

static void on_signal(void *ud, int signo, unsigned count)
{
    struct run_ctx *r = ud;
    if (signo == SIGWINCH) {
        if (r->tty && r->resize)
            resize_container(r->resize, r->id);
        return;
    }
    if (count > 0)
        engine_cancel(r->e);
}

/* The stream is attached: start the container now, so no output is lost. */
static int on_ready(void *ctx, struct zp_err *err)
{
    struct run_ctx *r = ctx;
    if (engine_container_start(r->e, r->id, err) != 0)
        return err->code;
    r->started = true;
    if (orch_run_post_start(r->orch, r->e, r->service, r->id, err) != 0)
        return err->code;
    if (r->tty)
        resize_container(r->e, r->id);
    return 0;
}

/* Is stdin /dev/null (or closed)? Then there is no input to attach: the engine ends an
 * attached stream (output included) when the input ends on a container without
 * StdinOnce, so attaching an empty stdin could lose the command's output. */
static bool stdin_is_empty(void)
{
    struct stat st, null;
    if (fstat(STDIN_FILENO, &st) != 0)
        return true;
    return S_ISCHR(st.st_mode) && stat("/dev/null", &null) == 0 && st.st_rdev == null.st_rdev;
}

static void push(const char ***list, size_t *n, const char *v)
{
    *list = zp_realloc(*list, (*n + 2) * sizeof(**list));
    (*list)[(*n)++] = v;
    (*list)[*n] = NULL;
}

static int run_exec(const struct cli_global *g, int argc, char **argv)
{
    enum { OPT_RM = 256, OPT_NAME, OPT_ENTRYPOINT, OPT_NO_DEPS, OPT_SERVICE_PORTS };
    static const struct option opts[] = {
        {"rm", no_argument, NULL, OPT_RM},
        {"detach", no_argument, NULL, 'd'},
        {"no-TTY", no_argument, NULL, 'T'},
        {"no-tty", no_argument, NULL, 'T'},
        {"interactive", no_argument, NULL, 'i'},
        {"tty", no_argument, NULL, 't'},
        {"env", required_argument, NULL, 'e'},
        {"user", required_argument, NULL, 'u'},
        {"workdir", required_argument, NULL, 'w'},
        {"name", required_argument, NULL, OPT_NAME},
        {"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},
        {"no-deps", no_argument, NULL, OPT_NO_DEPS},
        {"service-ports", no_argument, NULL, OPT_SERVICE_PORTS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct orch_run_opts ro;
    memset(&ro, 0, sizeof(ro));
    const char **env = NULL;
    size_t nenv = 0;
    bool detach = false, no_tty = false;
    int c, rc = 0;
    while ((c = getopt_long(argc, argv, "+:dTite:u:w:h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_RM:
            ro.rm = true;
            break;
        case 'd':
            detach = true;
            break;
        case 'T':
            no_tty = true;
            break;
        case 'i':
        case 't':
            break; /* the defaults already */
        case 'e':
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                free(env);
                return cli_usage_error(&cli_cmd_run, "--env: '%s' is not KEY=VALUE", optarg);
            }
            push(&env, &nenv, optarg);
            break;
        case 'u':
            ro.user = optarg;
            break;
        case 'w':
            ro.workdir = optarg;
            break;
        case OPT_NAME:
            ro.name = optarg;
            break;
        case OPT_ENTRYPOINT:
            ro.entrypoint = optarg;
            break;
        case OPT_NO_DEPS:
            ro.no_deps = true;
            break;
        case OPT_SERVICE_PORTS:
            ro.service_ports = true;
            break;
        case 'h':
            free(env);
            return cli_help(&cli_cmd_run);
        default:
            free(env);
            return cli_getopt_error(&cli_cmd_run, c, argv);
        }
    }
    if (optind >= argc) {
        free(env);
        return cli_usage_error(&cli_cmd_run, "run needs SERVICE");
    }
    if (detach && ro.rm) {
        free(env);
        return cli_usage_error(&cli_cmd_run, "--rm and -d cannot be used together");
    }
    ro.service = argv[optind];
    ro.argv = (const char *const *)argv + optind + 1;
    ro.argc = (size_t)(argc - optind - 1);
    ro.env = env;
    ro.nenv = nenv;
    ro.tty = !no_tty && !detach && isatty(STDIN_FILENO);
    ro.interactive = !detach && !stdin_is_empty();

    struct cli_session s;
    struct run_ctx r;
    memset(&r, 0, sizeof(r));
    struct zp_err err;
    zp_err_init(&err);
    const char *svcs[] = {ro.service};
    if ((rc = cli_session_open(g, &cli_cmd_run, svcs, 1, true, &s)) != 0) {
        free(env);
        return rc;
    }
    r.e = orch_engine(s.orch);
    r.orch = s.orch;
    r.service = ro.service;
    r.tty = ro.tty;
    if ((rc = cli_signals_start(on_signal, &r)) != 0)
        goto out;
    /* Ctrl-C while the dependencies come up cancels them */
    int crc = orch_run_create(s.orch, &ro, &r.id, &err);
    cli_progress_done(s.progress);
    if (crc != 0) {
        cli_signals_stop();
        rc = cli_error(&err);
        goto out;
    }
    if (cli_signals_count() > 0) {
        cli_signals_stop();
        rc = CLI_EXIT_INTERRUPTED;
        goto cleanup;
    }
    if (detach) {
        cli_signals_stop();
        struct engine_container ct;
        if (engine_container_start(r.e, r.id, &err) != 0 ||
            orch_run_post_start(s.orch, r.e, ro.service, r.id, &err) != 0 ||
            engine_container_inspect(r.e, r.id, &ct, &err) != 0) {
            rc = cli_error(&err);
            goto out;
        }
        printf("%s\n", ct.name);
        engine_container_release(&ct);
        goto out;
    }
    if (r.tty) {
        r.resize = engine_new(g->host, &err);
        cli_term_raw();
    }
    struct engine_stream_io io = {
        .tty = r.tty,
        .stdin_fd = ro.interactive ? STDIN_FILENO : -1,
        .on_output = cli_stream_output,
        .ctx = &r,
        .on_ready = on_ready,
    };
    int arc = engine_container_attach(r.e, r.id, NULL, &io, &err);
    cli_term_restore();
    cli_signals_stop();
    if (arc != 0) {
        rc = cli_error(&err);
        goto cleanup;
    }
    int64_t code = 0;
    if (engine_container_wait(r.e, r.id, ENGINE_WAIT_NOT_RUNNING, 0, &code, &err) != 0) {
        rc = cli_error(&err);
        goto cleanup;
    }
    rc = (int)(code & 0xff);
cleanup:
    /* after an interruption or a failure the container may still run: stop it
     * first */
    engine_cancel_clear(r.e);
    if (r.id) {
        struct zp_err e2;
        zp_err_init(&e2);
        if (rc == CLI_EXIT_INTERRUPTED && r.started)
            engine_container_stop(r.e, r.id, 10, &e2);
        if (ro.rm && engine_container_remove(r.e, r.id, true, true, &e2) != 0 &&
            e2.code != ZP_E_NOTFOUND && rc == 0)
            rc = cli_error(&e2);
    }
out:
    engine_free(r.resize);
    free(r.id);
    free(env);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_run = {
    .name = "run",
    .usage = "[--rm] [-d] [-T] [-e KEY=VALUE]... [-u USER] [-w DIR] [--name NAME] "
             "[--entrypoint CMD] [--no-deps] [--service-ports] SERVICE [COMMAND "
             "[ARG...]]",
    .summary = "run a one-off command in a new container of a service",
    .exec = run_exec,
};

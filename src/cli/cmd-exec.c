/* cli/exec: run a command in a running container of a service, with a TTY when
 * stdin is a terminal; also the terminal and stream helpers `run` shares. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

/* ---- shared with run ---- */

static struct termios saved_term;
static bool term_is_raw;

int cli_term_raw(void)
{
    struct termios t;
    if (tcgetattr(STDIN_FILENO, &saved_term) != 0)
        return ZP_E_SYSTEM;
    t = saved_term;
    cfmakeraw(&t);
    /* keep output post-processing off too: the container's TTY already did it */
    if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) != 0)
        return ZP_E_SYSTEM;
    term_is_raw = true;
    return 0;
}

void cli_term_restore(void)
{
    if (!term_is_raw)
        return;
    tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_term);
    term_is_raw = false;
}

bool cli_term_size(unsigned *ret_h, unsigned *ret_w)
{
    struct winsize ws;
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0)
        return false;
    *ret_h = ws.ws_row;
    *ret_w = ws.ws_col;
    return true;
}

int cli_stream_output(void *ctx, enum engine_stream stream, const char *data, size_t len,
                      struct zp_err *err)
{
    (void)ctx;
    int fd = stream == ENGINE_STREAM_STDERR || stream == ENGINE_STREAM_SYSTEMERR ? STDERR_FILENO
                                                                                 : STDOUT_FILENO;
    if (zp_write_all(fd, data, len) != 0) {
        /* nobody reads our output any more: stop the stream, quietly for a closed
         * pipe */
        if (errno == EPIPE)
            return ENGINE_STOP;
        return zp_err_sys(err, "writing the output");
    }
    return 0;
}

/* ---- exec ---- */

struct exec_ctx {
    struct engine *e;      /* the stream's engine (main thread) */
    struct engine *resize; /* the signal thread's own, for SIGWINCH */
    char *exec_id;
    bool tty;
};

static void resize_exec(struct engine *e, const char *id)
{
    unsigned h, w;
    struct zp_err ignored;
    zp_err_init(&ignored);
    if (cli_term_size(&h, &w))
        engine_exec_resize(e, id, h, w, &ignored);
}

static void on_signal(void *ud, int signo, unsigned count)
{
    struct exec_ctx *x = ud;
    if (signo == SIGWINCH) {
        if (x->tty && x->resize)
            resize_exec(x->resize, x->exec_id);
        return;
    }
    if (count > 0)
        engine_cancel(x->e);
}

static int on_ready(void *ctx, struct zp_err *err)
{
    struct exec_ctx *x = ctx;
    (void)err;
    if (x->tty)
        resize_exec(x->e, x->exec_id);
    return 0;
}

static void push(const char ***list, size_t *n, const char *v)
{
    *list = zp_realloc(*list, (*n + 2) * sizeof(**list));
    (*list)[(*n)++] = v;
    (*list)[*n] = NULL;
}

static int exec_exec(const struct cli_global *g, int argc, char **argv)
{
    enum { OPT_INDEX = 256, OPT_PRIVILEGED };
    static const struct option opts[] = {
        {"detach", no_argument, NULL, 'd'},
        {"no-TTY", no_argument, NULL, 'T'},
        {"no-tty", no_argument, NULL, 'T'},
        {"interactive", no_argument, NULL, 'i'},
        {"tty", no_argument, NULL, 't'},
        {"env", required_argument, NULL, 'e'},
        {"user", required_argument, NULL, 'u'},
        {"workdir", required_argument, NULL, 'w'},
        {"index", required_argument, NULL, OPT_INDEX},
        {"privileged", no_argument, NULL, OPT_PRIVILEGED},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool detach = false, no_tty = false, privileged = false;
    const char **env = NULL;
    size_t nenv = 0;
    const char *user = NULL, *workdir = NULL;
    int64_t index = 1;
    int c, rc = 0;
    while ((c = getopt_long(argc, argv, "+:dTite:u:w:h", opts, NULL)) != -1) {
        switch (c) {
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
                return cli_usage_error(&cli_cmd_exec, "--env: '%s' is not KEY=VALUE", optarg);
            }
            push(&env, &nenv, optarg);
            break;
        case 'u':
            user = optarg;
            break;
        case 'w':
            workdir = optarg;
            break;
        case OPT_INDEX:
            if (zp_parse_int64(optarg, 1, 100000, &index) != 0) {
                free(env);
                return cli_usage_error(&cli_cmd_exec, "--index: '%s' is not a number from 1",
                                       optarg);
            }
            break;
        case OPT_PRIVILEGED:
            privileged = true;
            break;
        case 'h':
            free(env);
            return cli_help(&cli_cmd_exec);
        default:
            free(env);
            return cli_getopt_error(&cli_cmd_exec, c, argv);
        }
    }
    if (argc - optind < 2) {
        free(env);
        return cli_usage_error(&cli_cmd_exec, "exec needs SERVICE and a command");
    }
    const char *service = argv[optind];
    const char *const *cmdv = (const char *const *)argv + optind + 1;

    struct cli_session s;
    const char *svcs[] = {service};
    struct orch_container *cs = NULL;
    size_t n = 0;
    struct exec_ctx x = {NULL, NULL, NULL, false};
    struct zp_err err;
    zp_err_init(&err);
    if ((rc = cli_session_open(g, &cli_cmd_exec, svcs, 1, false, &s)) != 0) {
        free(env);
        return rc;
    }
    if (privileged)
        fprintf(stderr, "zpanel: warning: --privileged is not supported by this engine client, "
                        "ignoring\n");
    if (orch_ps(s.orch, svcs, 1, false, &cs, &n, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    const struct orch_container *ct = NULL;
    for (size_t i = 0; i < n && !ct; i++)
        if (!cs[i].oneoff && cs[i].number == index)
            ct = &cs[i];
    if (!ct) {
        fprintf(stderr, "zpanel: service '%s' is not running (no container number %lld)\n", service,
                (long long)index);
        rc = ZP_EXIT_RUNTIME;
        goto out;
    }
    x.e = orch_engine(s.orch);
    x.tty = !no_tty && !detach && isatty(STDIN_FILENO);
    if (engine_exec_create(x.e, ct->id, cmdv, env, user, workdir, x.tty, !detach, &x.exec_id,
                           &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    if (detach) {
        if (engine_exec_start(x.e, x.exec_id, NULL, &err) != 0)
            rc = cli_error(&err);
        goto out;
    }
    if (x.tty)
        x.resize = engine_new(g->host, &err);
    if ((rc = cli_signals_start(on_signal, &x)) != 0)
        goto out;
    if (x.tty)
        cli_term_raw();
    struct engine_stream_io io = {
        .tty = x.tty,
        .stdin_fd = STDIN_FILENO,
        .on_output = cli_stream_output,
        .ctx = &x,
        .on_ready = on_ready,
    };
    int src = engine_exec_start(x.e, x.exec_id, &io, &err);
    cli_term_restore();
    cli_signals_stop();
    if (src != 0) {
        rc = cli_error(&err);
        goto out;
    }
    struct engine_exec_state st;
    if (engine_exec_inspect(x.e, x.exec_id, &st, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    rc = st.running ? ZP_EXIT_RUNTIME : (int)(st.exit_code & 0xff);
out:
    engine_free(x.resize);
    free(x.exec_id);
    free(env);
    orch_containers_free(cs, n);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_exec = {
    .name = "exec",
    .usage = "[-d] [-T] [-e KEY=VALUE]... [-u USER] [-w DIR] [--index N] "
             "[--privileged] "
             "SERVICE COMMAND [ARG...]",
    .summary = "run a command in a running container",
    .exec = exec_exec,
};

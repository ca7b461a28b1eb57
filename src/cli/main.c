/* cli/main: global flags, the command table and dispatch, and what commands
 * share: the engine session, errors, signals through a self-pipe, JSON strings.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "../template/template.h"
#include "cli.h"

#include "../util/banned.h"

static const struct cli_cmd *const commands[] = {
    /* sorted: help lists them in this order */
    &cli_cmd_action,   &cli_cmd_app,         &cli_cmd_backup,   &cli_cmd_build,   &cli_cmd_cleanup,
    &cli_cmd_config,   &cli_cmd_destination, &cli_cmd_down,     &cli_cmd_events,  &cli_cmd_exec,
    &cli_cmd_health,   &cli_cmd_images,      &cli_cmd_init,     &cli_cmd_kill,    &cli_cmd_logs,
    &cli_cmd_notify,   &cli_cmd_pause,       &cli_cmd_port,     &cli_cmd_proxy,   &cli_cmd_ps,
    &cli_cmd_rebuild,  &cli_cmd_releases,    &cli_cmd_restart,  &cli_cmd_restore, &cli_cmd_rm,
    &cli_cmd_rollback, &cli_cmd_run,         &cli_cmd_schedule, &cli_cmd_serve,   &cli_cmd_server,
    &cli_cmd_start,    &cli_cmd_stats,       &cli_cmd_status,   &cli_cmd_stop,    &cli_cmd_swarm,
    &cli_cmd_template, &cli_cmd_token,       &cli_cmd_top,      &cli_cmd_unpause, &cli_cmd_up,
    &cli_cmd_update,   &cli_cmd_user,        &cli_cmd_version,  &cli_cmd_watch,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_help(FILE *out)
{
    fprintf(out, "usage: zpanel [global flags] COMMAND [flags]\n\n"
                 "Global flags:\n"
                 "  -f, --file FILE            compose file (repeatable; '-' reads "
                 "stdin)\n"
                 "  -p, --project-name NAME    project name\n"
                 "      --project-directory DIR  project directory\n"
                 "      --env-file FILE        environment file (repeatable)\n"
                 "      --profile NAME         enable a profile (repeatable)\n"
                 "  -H, --host HOST            Docker engine (unix://, tcp:// or "
                 "ssh://USER@HOST[:PORT])\n"
                 "      --server NAME          a server added with `zpanel server add`\n"
                 "      --progress MODE        auto, tty, plain, quiet or json\n"
                 "      --ansi WHEN            never, always or auto\n"
                 "  -h, --help                 this help\n"
                 "  -v, --version              print the version\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-11s %s\n", commands[i]->name, commands[i]->summary);
}

int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("zpanel: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (cmd)
        fprintf(stderr, "usage: zpanel [global flags] %s %s\n", cmd->name, cmd->usage);
    else
        fputs("usage: zpanel [global flags] COMMAND [flags] (see zpanel --help)\n", stderr);
    return ZP_EXIT_USAGE;
}

int cli_getopt_error(const struct cli_cmd *cmd, int c, char **argv)
{
    const char *flag = argv[optind - 1];
    if (c == ':')
        return cli_usage_error(cmd, "flag '%s' needs a value", flag);
    /* a short flag bundled with others ("-dx"): name the unknown letter */
    if (optopt && flag[0] == '-' && flag[1] != '-')
        return cli_usage_error(cmd, "unknown flag '-%c'", optopt);
    return cli_usage_error(cmd, "unknown flag '%s'", flag);
}

int cli_parse_format(const struct cli_cmd *cmd, const char *v, const char *plain, bool *ret_json)
{
    if (strcmp(v, "json") == 0)
        *ret_json = true;
    else if (strcmp(v, plain) == 0)
        *ret_json = false;
    else
        return cli_usage_error(cmd, "--format: '%s' is not one of %s, json", v, plain);
    return 0;
}

int cli_help(const struct cli_cmd *cmd)
{
    printf("usage: zpanel [global flags] %s %s\n%s\n", cmd->name, cmd->usage, cmd->summary);
    return ZP_EXIT_OK;
}

void cli_print_diags(struct zp_diags *d)
{
    zp_diags_sort(d);
    for (size_t i = 0; i < d->n; i++) {
        char *line = zp_diag_render(&d->items[i]);
        fprintf(stderr, "%s\n", line);
        free(line);
    }
    if (d->dropped)
        fprintf(stderr, "... and %zu more problems\n", d->dropped);
}

int cli_load_project(const struct cli_global *g, const char *const *services, size_t nservices,
                     bool no_interpolate, struct compose_project **ret)
{
    struct compose_options opts;
    memset(&opts, 0, sizeof(opts));
    opts.files = g->files;
    opts.nfiles = g->nfiles;
    opts.project_name = g->project_name;
    opts.project_dir = g->project_directory;
    opts.env_files = g->env_files;
    opts.nenv_files = g->nenv_files;
    opts.profiles = g->profiles;
    opts.nprofiles = g->nprofiles;
    opts.services = services;
    opts.nservices = nservices;
    opts.no_interpolate = no_interpolate;

    /* a project `template deploy` wrote has no .env: its values are sealed in the state
     * directory (template_env_load); they come under the process environment and any .env.
     * Without -p the name is known once the files are read: a quiet load finds it first */
    struct compose_env tenv;
    compose_env_init(&tenv);
    char *state = zp_state_dir();
    char *tdir = zp_path_join(state, "templates/env");
    if (zp_file_exists(tdir)) {
        const char *name = g->project_name;
        struct compose_project *first = NULL;
        if (!name || !*name) {
            struct zp_diags quiet;
            zp_diags_init(&quiet);
            if (compose_project_load(&opts, &first, &quiet) == 0)
                name = first->name;
            zp_diags_release(&quiet);
        }
        struct zp_err err;
        zp_err_init(&err);
        if (name && *name && template_env_load(state, name, &tenv, &err) != 0)
            fprintf(stderr, "zpanel: warning: the template values of '%s' are not read: %s\n", name,
                    err.msg);
        compose_project_free(first);
    }
    free(tdir);
    free(state);
    opts.defaults = tenv.n ? &tenv : NULL;

    struct zp_diags d;
    zp_diags_init(&d);
    int rc = compose_project_load(&opts, ret, &d);
    compose_env_release(&tenv);
    cli_print_diags(&d);
    if (rc && d.errors == 0)
        fprintf(stderr, "zpanel: cannot load the project\n");
    zp_diags_release(&d);
    if (rc == 0)
        return 0;
    return rc == ZP_E_INPUT || rc == ZP_E_NOTFOUND || rc == ZP_E_TOOBIG ? ZP_EXIT_INVALID
                                                                        : ZP_EXIT_RUNTIME;
}

bool cli_color(const struct cli_global *g, int fd)
{
    if (g->ansi == CLI_ANSI_NEVER)
        return false;
    if (g->ansi == CLI_ANSI_ALWAYS)
        return true;
    const char *nc = getenv("NO_COLOR");
    return isatty(fd) && !(nc && *nc);
}

void cli_table_widths(const char *const *heads, char *const *cells, size_t nrows, size_t ncols,
                      size_t *w)
{
    for (size_t k = 0; k < ncols; k++)
        w[k] = strlen(heads[k]);
    for (size_t i = 0; i < nrows; i++)
        for (size_t k = 0; k < ncols; k++)
            if (strlen(cells[i * ncols + k]) > w[k])
                w[k] = strlen(cells[i * ncols + k]);
}

void cli_table_row(struct zp_buf *out, const char *const *cells, const size_t *w, size_t ncols)
{
    for (size_t k = 0; k + 1 < ncols; k++)
        zp_buf_addf(out, "%-*s   ", (int)w[k], cells[k]);
    zp_buf_addf(out, "%s\n", cells[ncols - 1]);
}

void cli_json_str(struct zp_buf *b, const char *s)
{
    zp_buf_addc(b, '"');
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"':
            zp_buf_adds(b, "\\\"");
            break;
        case '\\':
            zp_buf_adds(b, "\\\\");
            break;
        case '\n':
            zp_buf_adds(b, "\\n");
            break;
        case '\r':
            zp_buf_adds(b, "\\r");
            break;
        case '\t':
            zp_buf_adds(b, "\\t");
            break;
        default:
            if (*p < 0x20)
                zp_buf_addf(b, "\\u%04x", *p);
            else
                zp_buf_addc(b, (char)*p);
        }
    }
    zp_buf_addc(b, '"');
}

int cli_error(const struct zp_err *err)
{
    /* a cancelled operation (Ctrl-C) exits 130 whatever context was added on the way up;
     * after a signal the user knows why, so nothing is printed */
    bool cancelled = err->code == ZP_E_CANCELLED;
    if (cancelled && cli_signals_count() > 0)
        return CLI_EXIT_INTERRUPTED;
    char *msg = zp_err_render(err);
    fprintf(stderr, "zpanel: %s\n", msg);
    free(msg);
    return cancelled ? CLI_EXIT_INTERRUPTED : ZP_EXIT_RUNTIME;
}

/* ---- the engine session ---- */

int cli_session_open(const struct cli_global *g, const struct cli_cmd *cmd,
                     const char *const *services, size_t nservices, bool with_progress,
                     struct cli_session *ret)
{
    memset(ret, 0, sizeof(*ret));
    int rc = cli_load_project(g, services, nservices, false, &ret->project);
    if (rc)
        return rc;
    const struct zp_node *svcs = zp_node_get(ret->project->model, "services");
    for (size_t i = 0; i < nservices; i++) {
        if (!zp_node_get(svcs, services[i])) {
            rc = cli_usage_error(cmd, "no such service '%s'", services[i]);
            goto fail;
        }
    }
    if (with_progress)
        ret->progress = cli_progress_new(g);
    struct zp_err err;
    zp_err_init(&err);
    if (g->remote && (rc = cli_remote_prepare(g, cmd, ret)) != 0)
        goto fail;
    if (orch_new(ret->project, g->host, with_progress ? cli_progress_event : NULL, ret->progress,
                 &ret->orch, &err) != 0) {
        rc = cli_error(&err);
        goto fail;
    }
    return 0;
fail:
    cli_session_close(ret);
    return rc;
}

void cli_session_close(struct cli_session *s)
{
    if (s->progress)
        cli_progress_done(s->progress);
    orch_free(s->orch);
    cli_progress_free(s->progress);
    compose_project_free(s->project);
    memset(s, 0, sizeof(*s));
}

/* ---- signals ---- */

static int sig_pipe[2] = {-1, -1};
static pthread_t sig_thread;
static bool sig_running;
static cli_signal_fn sig_fn;
static void *sig_ud;
static atomic_uint sig_count;
static const int caught[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH};
#define NCAUGHT (sizeof(caught) / sizeof(caught[0]))

static void on_signal(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;
    /* a full pipe drops the signal: enough of them are queued already */
    ssize_t n = write(sig_pipe[1], &b, 1);
    (void)n;
    errno = saved;
}

static void *signal_thread(void *arg)
{
    (void)arg;
    for (;;) {
        unsigned char b;
        ssize_t n = read(sig_pipe[0], &b, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || b == 0) /* 0: cli_signals_stop */
            break;
        unsigned count = 0;
        if (b != SIGWINCH)
            count = atomic_fetch_add(&sig_count, 1) + 1;
        if (sig_fn)
            sig_fn(sig_ud, b, count);
    }
    return NULL;
}

int cli_signals_start(cli_signal_fn fn, void *ud)
{
    if (sig_running)
        ZP_BUG("cli_signals_start twice");
    if (pipe2(sig_pipe, O_CLOEXEC) != 0) {
        fprintf(stderr, "zpanel: creating a pipe: %s\n", strerror(errno));
        return ZP_EXIT_RUNTIME;
    }
    fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
    sig_fn = fn;
    sig_ud = ud;
    atomic_store(&sig_count, 0);
    /* the thread must not take the signals itself: block them while creating it
     */
    sigset_t all, old;
    sigemptyset(&all);
    for (size_t i = 0; i < NCAUGHT; i++)
        sigaddset(&all, caught[i]);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&sig_thread, NULL, signal_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        fprintf(stderr, "zpanel: creating a thread: %s\n", strerror(rc));
        close(sig_pipe[0]);
        close(sig_pipe[1]);
        sig_pipe[0] = sig_pipe[1] = -1;
        return ZP_EXIT_RUNTIME;
    }
    sig_running = true;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NCAUGHT; i++)
        sigaction(caught[i], &sa, NULL);
    return 0;
}

void cli_signals_stop(void)
{
    if (!sig_running)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NCAUGHT; i++)
        sigaction(caught[i], &sa, NULL);
    unsigned char stop = 0;
    for (;;) {
        ssize_t n = write(sig_pipe[1], &stop, 1);
        if (n == 1)
            break;
        if (n < 0 && errno == EAGAIN) {
            poll(NULL, 0, 10); /* the thread is draining a full pipe */
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    pthread_join(sig_thread, NULL);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    sig_pipe[0] = sig_pipe[1] = -1;
    sig_running = false;
    sig_fn = NULL;
    sig_ud = NULL;
}

unsigned cli_signals_count(void)
{
    return atomic_load(&sig_count);
}

/* ---- actions on deployed containers ---- */

static void cancel_orch(void *ud, int signo, unsigned count)
{
    if (count > 0 && signo != SIGWINCH)
        orch_cancel(ud);
}

int cli_exec_plain_action(const struct cli_global *g, const struct cli_cmd *cmd, int action,
                          int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct orch_action_opts ao;
    memset(&ao, 0, sizeof(ao));
    ao.timeout_s = -1;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(cmd);
        return cli_getopt_error(cmd, c, argv);
    }
    return cli_run_action(g, cmd, action, &ao, argv + optind, (size_t)(argc - optind));
}

int cli_run_action(const struct cli_global *g, const struct cli_cmd *cmd, int action,
                   struct orch_action_opts *opts, char **services, size_t nservices)
{
    struct cli_session s;
    int rc = cli_session_open(g, cmd, (const char *const *)services, nservices, true, &s);
    if (rc)
        return rc;
    opts->services = (const char *const *)services;
    opts->nservices = nservices;
    if ((rc = cli_signals_start(cancel_orch, s.orch)) != 0)
        goto out;
    struct zp_err err;
    zp_err_init(&err);
    if (orch_act(s.orch, (enum orch_action)action, opts, &err) != 0)
        rc = cli_error(&err);
    cli_signals_stop();
out:
    cli_session_close(&s);
    return rc;
}

/* ---- main ---- */

static void push(const char ***list, size_t *n, const char *v)
{
    *list = zp_realloc(*list, (*n + 1) * sizeof(**list));
    (*list)[(*n)++] = v;
}

int main(int argc, char **argv)
{
    enum { OPT_PROGRESS = 256, OPT_ANSI, OPT_SERVER };
    static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'},
        {"project-name", required_argument, NULL, 'p'},
        {"project-directory", required_argument, NULL, 'D'},
        {"env-file", required_argument, NULL, 'E'},
        {"profile", required_argument, NULL, 'P'},
        {"host", required_argument, NULL, 'H'},
        {"progress", required_argument, NULL, OPT_PROGRESS},
        {"ansi", required_argument, NULL, OPT_ANSI},
        {"server", required_argument, NULL, OPT_SERVER},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    static const char *const progress_names[] = {"auto", "tty", "plain", "quiet", "json"};
    static const char *const ansi_names[] = {"auto", "never", "always"};
    struct cli_global g;
    memset(&g, 0, sizeof(g));
    int c;
    int rc = ZP_EXIT_OK;
    bool found;
    /* a closed stdout (`zpanel logs | head`) is an error on write, not a signal
     */
    signal(SIGPIPE, SIG_IGN);
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:f:p:H:hv", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            push(&g.files, &g.nfiles, optarg);
            break;
        case 'p':
            g.project_name = optarg;
            break;
        case 'D':
            g.project_directory = optarg;
            break;
        case 'E':
            push(&g.env_files, &g.nenv_files, optarg);
            break;
        case 'P':
            push(&g.profiles, &g.nprofiles, optarg);
            break;
        case 'H':
            g.host = optarg;
            break;
        case OPT_SERVER:
            g.server = optarg;
            break;
        case OPT_PROGRESS:
            found = false;
            for (size_t i = 0; i < 5 && !found; i++)
                if (strcmp(optarg, progress_names[i]) == 0) {
                    g.progress = (enum cli_progress_mode)i;
                    found = true;
                }
            if (!found) {
                rc = cli_usage_error(
                    NULL, "--progress: '%s' is not one of auto, tty, plain, quiet, json", optarg);
                goto out;
            }
            break;
        case OPT_ANSI:
            found = false;
            for (size_t i = 0; i < 3 && !found; i++)
                if (strcmp(optarg, ansi_names[i]) == 0) {
                    g.ansi = (enum cli_ansi)i;
                    found = true;
                }
            if (!found) {
                rc =
                    cli_usage_error(NULL, "--ansi: '%s' is not one of never, always, auto", optarg);
                goto out;
            }
            break;
        case 'h':
            print_help(stdout);
            goto out;
        case 'v':
            printf("zpanel version %s\n", ZP_VERSION);
            goto out;
        case ':':
            rc = cli_usage_error(NULL, "flag '%s' needs a value", argv[optind - 1]);
            goto out;
        default:
            rc = cli_usage_error(NULL, "unknown flag '%s'", argv[optind - 1]);
            goto out;
        }
    }
    if (optind >= argc) {
        print_help(stderr);
        rc = ZP_EXIT_USAGE;
        goto out;
    }
    const char *name = argv[optind];
    const struct cli_cmd *cmd = NULL;
    for (size_t i = 0; i < NCOMMANDS && !cmd; i++)
        if (strcmp(commands[i]->name, name) == 0)
            cmd = commands[i];
    if (!cmd) {
        rc = cli_usage_error(NULL, "unknown command '%s'", name);
        goto out;
    }
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    optind = 0; /* glibc: restart option scanning for the command's own flags */
    struct ssh_tunnel *tunnel = NULL;
    if (cmd != &cli_cmd_server && cmd != &cli_cmd_version && cmd != &cli_cmd_config &&
        (rc = cli_ssh_open(&g, &tunnel)) != 0)
        goto out;
    rc = cmd->exec(&g, sub_argc, sub_argv);
    fflush(stdout);
    cli_ssh_close(tunnel, rc);
    engine_global_cleanup();
out:
    free(g.files);
    free(g.env_files);
    free(g.profiles);
    return rc;
}

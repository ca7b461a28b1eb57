/* cli/serve: run the control plane (`zpanel serve`) in the foreground until SIGINT or
 * SIGTERM. */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "../server/server.h"
#include "cli.h"

#include "../util/banned.h"

struct serve_wait {
    pthread_mutex_t lock; /* guards stop */
    pthread_cond_t cond;
    bool stop;
};

static void on_signal(void *ud, int signo, unsigned count)
{
    struct serve_wait *w = ud;
    if (signo == SIGWINCH || count == 0)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static int serve_exec(const struct cli_global *g, int argc, char **argv)
{
    enum { OPT_LISTEN = 256, OPT_STATE_DIR, OPT_WORKERS, OPT_MAX_CONN, OPT_QUIET };
    static const struct option opts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"max-connections", required_argument, NULL, OPT_MAX_CONN},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct server_opts so;
    memset(&so, 0, sizeof(so));
    so.host = g->host;
    const char *state_dir = NULL;
    int64_t v;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN:
            so.listen = optarg;
            break;
        case OPT_STATE_DIR:
            state_dir = optarg;
            break;
        case OPT_WORKERS:
            if (zp_parse_int64(optarg, 1, 256, &v) != 0)
                return cli_usage_error(&cli_cmd_serve, "--workers: '%s' is not from 1 to 256",
                                       optarg);
            so.workers = (int)v;
            break;
        case OPT_MAX_CONN:
            if (zp_parse_int64(optarg, 4, 100000, &v) != 0)
                return cli_usage_error(&cli_cmd_serve,
                                       "--max-connections: '%s' is not from 4 to 100000", optarg);
            so.max_connections = (int)v;
            break;
        case OPT_QUIET:
            so.quiet = true;
            break;
        case 'h':
            return cli_help(&cli_cmd_serve);
        default:
            return cli_getopt_error(&cli_cmd_serve, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(&cli_cmd_serve, "serve takes no arguments ('%s')", argv[optind]);
    char *dir = cli_state_dir(state_dir);
    so.state_dir = dir;
    struct serve_wait w;
    memset(&w, 0, sizeof(w));
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    int rc = cli_signals_start(on_signal, &w);
    if (rc) {
        free(dir);
        return rc;
    }
    struct server *s = NULL;
    struct zp_err err;
    zp_err_init(&err);
    if (server_start(&so, &s, &err) != 0) {
        cli_signals_stop();
        rc = cli_error(&err);
        goto out;
    }
    fprintf(stderr, "info msg=\"listening\" port=%d state=%s\n", server_port(s), dir);
    pthread_mutex_lock(&w.lock);
    while (!w.stop)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    fprintf(stderr, "info msg=\"stopping: running jobs are queued again\"\n");
    server_free(s);
    cli_signals_stop();
out:
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
    free(dir);
    return rc;
}

const struct cli_cmd cli_cmd_serve = {
    .name = "serve",
    .usage = "[--listen ADDR:PORT] [--state-dir DIR] [--workers N] [--max-connections N] "
             "[--quiet]",
    .summary = "run the control plane: HTTP API, job queue, live logs",
    .exec = serve_exec,
};

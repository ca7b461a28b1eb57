/* cli/logs: print the logs of the project's containers, interleaved as they
 * come, each line prefixed with its container; also the streaming used by an
 * attached `up`. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

#define MAX_LINE ((size_t)1 << 20) /* a longer line is printed in pieces */

static const char *const colors[] = {"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"};
#define NCOLORS (sizeof(colors) / sizeof(colors[0]))

/* stdout is shared by every container's thread: one line at a time */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

struct follower {
    struct cli_logs *set;
    struct engine *e;
    char *id;
    char *name;
    const char *color;
    struct zp_buf line; /* the partial current line */
    pthread_t thread;
    bool started;
    int rc;
    struct zp_err err;
};

struct cli_logs {
    char *host;
    struct engine_logs_opts eopts;
    struct cli_logs_opts opts;
    struct follower **f;
    size_t n, cap;
    pthread_mutex_t lock; /* guards f, n, cancelled against cli_logs_cancel */
    bool cancelled;
};

static void print_line(struct follower *f, const char *s, size_t len)
{
    const struct cli_logs_opts *o = &f->set->opts;
    struct zp_buf b = ZP_BUF_INIT;
    if (o->prefix) {
        if (o->color)
            zp_buf_addf(&b, "\033[%sm%-*s |\033[0m ", f->color, (int)o->width, f->name);
        else
            zp_buf_addf(&b, "%-*s | ", (int)o->width, f->name);
    }
    zp_buf_add(&b, s, len);
    zp_buf_addc(&b, '\n');
    pthread_mutex_lock(&out_lock);
    fwrite(b.p, 1, b.len, stdout);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
    zp_buf_release(&b);
}

static int on_frame(void *ctx, enum engine_stream stream, const char *data, size_t len,
                    struct zp_err *err)
{
    struct follower *f = ctx;
    (void)stream;
    (void)err;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            size_t n = f->line.len;
            if (n && f->line.p[n - 1] == '\r')
                n--;
            print_line(f, zp_buf_cstr(&f->line), n);
            zp_buf_reset(&f->line);
        } else if (zp_buf_addc(&f->line, data[i]) != 0) {
            print_line(f, zp_buf_cstr(&f->line), f->line.len);
            zp_buf_reset(&f->line);
            zp_buf_addc(&f->line, data[i]);
        }
    }
    return 0;
}

static void *follow_thread(void *arg)
{
    struct follower *f = arg;
    struct engine_container c;
    struct engine_logs_opts eo = f->set->eopts;
    if (f->set->opts.swarm) {
        struct engine_service svc;
        f->rc = engine_service_inspect(f->e, f->id, &svc, &f->err);
        if (f->rc == 0) {
            eo.tty = svc.tty;
            engine_service_release(&svc);
            f->rc = engine_service_logs(f->e, f->id, &eo, on_frame, f, &f->err);
        }
    } else if ((f->rc = engine_container_inspect(f->e, f->id, &c, &f->err)) == 0) {
        eo.tty = c.tty;
        engine_container_release(&c);
        f->rc = engine_container_logs(f->e, f->id, &eo, on_frame, f, &f->err);
    }
    if (f->line.len)
        print_line(f, zp_buf_cstr(&f->line), f->line.len);
    zp_buf_reset(&f->line);
    pthread_mutex_lock(&f->set->lock);
    bool cancelled = f->set->cancelled;
    pthread_mutex_unlock(&f->set->lock);
    if (f->rc == 0 && !cancelled && f->set->opts.on_end)
        f->set->opts.on_end(f->set->opts.ud, f->name, f->id);
    return NULL;
}

struct cli_logs *cli_logs_new(const char *host, const struct cli_logs_opts *opts)
{
    struct cli_logs *l = zp_calloc(1, sizeof(*l));
    l->host = host ? zp_strdup(host) : NULL;
    l->opts = *opts;
    if (opts->engine)
        l->eopts = *opts->engine;
    l->opts.engine = &l->eopts;
    pthread_mutex_init(&l->lock, NULL);
    return l;
}

int cli_logs_add(struct cli_logs *l, const struct orch_container *c, int color_index,
                 struct zp_err *err)
{
    struct engine *e = engine_new(l->host, err);
    if (!e)
        return err->code;
    struct follower *f = zp_calloc(1, sizeof(*f));
    f->set = l;
    f->e = e;
    f->id = zp_strdup(c->id);
    f->name = zp_strdup(c->name);
    f->color = colors[(size_t)(color_index < 0 ? 0 : color_index) % NCOLORS];
    zp_buf_init(&f->line, MAX_LINE);
    zp_err_init(&f->err);
    pthread_mutex_lock(&l->lock);
    zp_grow((void **)&l->f, &l->cap, l->n + 1, sizeof(*l->f));
    l->f[l->n++] = f;
    if (l->cancelled)
        engine_cancel(e);
    /* block the signals in the new thread: they belong to the signal thread */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&f->thread, NULL, follow_thread, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    f->started = rc == 0;
    pthread_mutex_unlock(&l->lock);
    if (rc != 0) {
        errno = rc;
        return zp_err_sys(err, "starting a thread for container '%s'", c->name);
    }
    return 0;
}

void cli_logs_cancel(struct cli_logs *l)
{
    pthread_mutex_lock(&l->lock);
    l->cancelled = true;
    for (size_t i = 0; i < l->n; i++)
        engine_cancel(l->f[i]->e);
    pthread_mutex_unlock(&l->lock);
}

int cli_logs_join(struct cli_logs *l, struct zp_err *err)
{
    int first = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct follower *f = l->f[i];
        if (!f->started)
            continue;
        pthread_join(f->thread, NULL);
        f->started = false;
        if (f->rc && f->rc != ENGINE_E_CANCELLED && !first) {
            first = f->rc;
            *err = f->err;
        }
    }
    return first;
}

void cli_logs_free(struct cli_logs *l)
{
    if (!l)
        return;
    cli_logs_cancel(l);
    struct zp_err ignored;
    zp_err_init(&ignored);
    cli_logs_join(l, &ignored);
    for (size_t i = 0; i < l->n; i++) {
        engine_free(l->f[i]->e);
        free(l->f[i]->id);
        free(l->f[i]->name);
        zp_buf_release(&l->f[i]->line);
        free(l->f[i]);
    }
    free(l->f);
    free(l->host);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static bool attach_false(const struct compose_project *p, const char *service)
{
    const struct zp_node *svc = zp_node_get(zp_node_get(p->model, "services"), service);
    const struct zp_node *a = zp_node_get(svc, "attach");
    return a != NULL && a->type == ZP_BOOL && strcmp(a->str, "false") == 0;
}

size_t cli_logs_attached(const struct compose_project *p, struct orch_container *c, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += !attach_false(p, c[i].service);
    if (k == 0 || k == n)
        return n;
    struct orch_container *t = zp_calloc(n, sizeof(*t));
    size_t front = 0, back = k;
    for (size_t i = 0; i < n; i++)
        t[attach_false(p, c[i].service) ? back++ : front++] = c[i];
    memcpy(c, t, n * sizeof(*t));
    free(t);
    return k;
}

size_t cli_logs_width(const struct orch_container *c, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (strlen(c[i].name) + 1 > w)
            w = strlen(c[i].name) + 1;
    return w;
}

/* ---- times ---- */

static bool digits(const char **s, int n, int *ret)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*s)[i] < '0' || (*s)[i] > '9')
            return false;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *ret = v;
    return true;
}

/* RFC 3339: 2006-01-02T15:04:05[.frac](Z|+07:00), or a date alone (midnight
 * UTC). */
static int parse_rfc3339(const char *s, int64_t *ret)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' ||
        !digits(&s, 2, &d))
        return ZP_E_INPUT;
    int64_t off = 0;
    if (*s) {
        if (*s != 'T' && *s != 't' && *s != ' ')
            return ZP_E_INPUT;
        s++;
        if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi) || *s++ != ':' ||
            !digits(&s, 2, &sec))
            return ZP_E_INPUT;
        if (*s == '.') {
            s++;
            if (*s < '0' || *s > '9')
                return ZP_E_INPUT;
            while (*s >= '0' && *s <= '9')
                s++;
        }
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            int sign = *s++ == '-' ? -1 : 1, oh, om;
            if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om))
                return ZP_E_INPUT;
            off = sign * (oh * 3600 + om * 60);
        } else {
            return ZP_E_INPUT;
        }
        if (*s)
            return ZP_E_INPUT;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return ZP_E_INPUT;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *ret = (int64_t)timegm(&tm) - off;
    return 0;
}

int cli_parse_time(const char *s, int64_t *ret)
{
    int64_t v;
    if (zp_parse_int64(s, 0, INT64_MAX / 2, &v) == 0) {
        *ret = v;
        return 0;
    }
    if (parse_rfc3339(s, &v) == 0) {
        *ret = v;
        return 0;
    }
    int64_t ns;
    if (zp_parse_duration(s, false, &ns) == 0 && ns >= 0) {
        *ret = (int64_t)time(NULL) - ns / 1000000000;
        return 0;
    }
    return ZP_E_INPUT;
}

/* ---- the command ---- */

static void on_signal(void *ud, int signo, unsigned count)
{
    if (count > 0 && signo != SIGWINCH)
        cli_logs_cancel(ud);
}

static int logs_exec(const struct cli_global *g, int argc, char **argv)
{
    enum { OPT_TAIL = 256, OPT_SINCE, OPT_UNTIL, OPT_NO_COLOR, OPT_NO_PREFIX };
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'},
        {"tail", required_argument, NULL, OPT_TAIL},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"timestamps", no_argument, NULL, 't'},
        {"no-color", no_argument, NULL, OPT_NO_COLOR},
        {"no-log-prefix", no_argument, NULL, OPT_NO_PREFIX},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct engine_logs_opts eo;
    memset(&eo, 0, sizeof(eo));
    bool no_color = false, no_prefix = false;
    int c;
    while ((c = getopt_long(argc, argv, ":fn:th", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            eo.follow = true;
            break;
        case 'n':
        case OPT_TAIL:
            if (strcmp(optarg, "all") == 0) {
                eo.tail = 0;
                eo.tail_zero = false;
            } else if (zp_parse_int64(optarg, 0, INT64_MAX, &eo.tail) != 0) {
                return cli_usage_error(&cli_cmd_logs,
                                       "--tail: '%s' is not a number of lines or 'all'", optarg);
            } else {
                eo.tail_zero = eo.tail == 0;
            }
            break;
        case OPT_SINCE:
            if (cli_parse_time(optarg, &eo.since) != 0)
                return cli_usage_error(&cli_cmd_logs,
                                       "--since: '%s' is not a time (RFC 3339, Unix seconds or a "
                                       "duration like 10m)",
                                       optarg);
            break;
        case OPT_UNTIL:
            if (cli_parse_time(optarg, &eo.until) != 0)
                return cli_usage_error(&cli_cmd_logs,
                                       "--until: '%s' is not a time (RFC 3339, Unix seconds or a "
                                       "duration like 10m)",
                                       optarg);
            break;
        case 't':
            eo.timestamps = true;
            break;
        case OPT_NO_COLOR:
            no_color = true;
            break;
        case OPT_NO_PREFIX:
            no_prefix = true;
            break;
        case 'h':
            return cli_help(&cli_cmd_logs);
        default:
            return cli_getopt_error(&cli_cmd_logs, c, argv);
        }
    }
    char **services = argv + optind;
    size_t nservices = (size_t)(argc - optind);

    struct cli_session s;
    int rc =
        cli_session_open(g, &cli_cmd_logs, (const char *const *)services, nservices, false, &s);
    if (rc)
        return rc;
    bool swarm = false;
    if ((rc = cli_swarm_project(&s, &swarm)) != 0 || swarm) {
        if (rc == 0) /* the services' logs: every task's, on whichever node it runs */
            rc = cli_swarm_logs(g, &s, &eo, !no_prefix, !no_color && cli_color(g, STDOUT_FILENO),
                                (const char *const *)services, nservices);
        cli_session_close(&s);
        return rc;
    }
    struct orch_container *cs = NULL;
    size_t n = 0;
    struct cli_logs *l = NULL;
    struct zp_err err;
    zp_err_init(&err);
    if (orch_ps(s.orch, (const char *const *)services, nservices, true, &cs, &n, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    /* without service names, those with `attach: false` are left out (as compose does) */
    size_t shown = nservices > 0 ? n : cli_logs_attached(s.project, cs, n);
    struct cli_logs_opts lo = {
        .engine = &eo,
        .prefix = !no_prefix,
        .color = !no_color && cli_color(g, STDOUT_FILENO),
        .width = cli_logs_width(cs, shown),
    };
    l = cli_logs_new(g->host, &lo);
    if ((rc = cli_signals_start(on_signal, l)) != 0)
        goto out;
    /* one colour per service, in the order of the listing (sorted by service) */
    int color = -1;
    const char *last = NULL;
    for (size_t i = 0; i < shown && rc == 0; i++) {
        if (cs[i].oneoff)
            continue;
        if (!last || strcmp(last, cs[i].service) != 0)
            color++;
        last = cs[i].service;
        if (cli_logs_add(l, &cs[i], color, &err) != 0)
            rc = cli_error(&err);
    }
    if (cli_logs_join(l, &err) != 0 && rc == 0)
        rc = cli_error(&err);
    cli_signals_stop();
    if (rc == 0 && cli_signals_count() > 0)
        rc = CLI_EXIT_INTERRUPTED;
out:
    cli_logs_free(l);
    orch_containers_free(cs, n);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_logs = {
    .name = "logs",
    .usage = "[-f] [--tail N|all] [--since T] [--until T] [-t] [--no-color] "
             "[--no-log-prefix] "
             "[SERVICE...]",
    .summary = "print the output of the project's containers",
    .exec = logs_exec,
};

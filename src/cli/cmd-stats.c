/* cli/stats: live CPU, memory, network and block I/O of the project's running containers,
 * computed like `docker stats`, redrawn every second until Ctrl-C (or one round). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../orchestrator/orchestrator.h"
#include "../orchestrator/status.h"
#include "cli.h"

#include "../util/banned.h"

#define NCOLS 7
#define INTERVAL_NS 1000000000LL

struct stop {
    struct orch *orch;
    pthread_mutex_t lock; /* guards stopped */
    pthread_cond_t cond;
    bool stopped;
};

static void on_signal(void *ud, int signo, unsigned count)
{
    struct stop *st = ud;
    if (signo == SIGWINCH || count == 0)
        return;
    orch_cancel(st->orch);
    pthread_mutex_lock(&st->lock);
    st->stopped = true;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
}

/* Sleep until the monotonic time deadline_ns, or until Ctrl-C; true when interrupted. */
static bool wait_until(struct stop *st, int64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000),
                          .tv_nsec = (long)(deadline_ns % 1000000000)};
    pthread_mutex_lock(&st->lock);
    while (!st->stopped) {
        int rc = pthread_cond_timedwait(&st->cond, &st->lock, &ts);
        if (rc == ETIMEDOUT)
            break;
    }
    bool stopped = st->stopped;
    pthread_mutex_unlock(&st->lock);
    return stopped;
}

static void row_cells(const struct orch_stats_row *r, char *cells[NCOLS])
{
    char a[ORCH_FMT_BYTES], b[ORCH_FMT_BYTES];
    const struct orch_usage *u = &r->u;
    cells[0] = zp_strdup(r->name);
    cells[1] = u->have_cpu ? zp_asprintf("%.2f%%", u->cpu_percent) : zp_strdup("--");
    orch_fmt_bytes(u->mem_used, true, a);
    orch_fmt_bytes(u->mem_limit, true, b);
    cells[2] = zp_asprintf("%s / %s", a, b);
    cells[3] = zp_asprintf("%.2f%%", u->mem_percent);
    orch_fmt_bytes(u->net_rx, false, a);
    orch_fmt_bytes(u->net_tx, false, b);
    cells[4] = zp_asprintf("%s / %s", a, b);
    orch_fmt_bytes(u->blk_read, false, a);
    orch_fmt_bytes(u->blk_write, false, b);
    cells[5] = zp_asprintf("%s / %s", a, b);
    cells[6] = zp_asprintf("%llu", (unsigned long long)u->pids);
}

static void format_table(const struct orch_stats_row *rows, size_t n, struct zp_buf *out)
{
    static const char *const heads[NCOLS] = {
        "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"};
    size_t w[NCOLS];
    char **cells = zp_calloc(n * NCOLS + 1, sizeof(*cells));
    for (size_t i = 0; i < n; i++)
        row_cells(&rows[i], cells + i * NCOLS);
    cli_table_widths(heads, cells, n, NCOLS, w);
    cli_table_row(out, heads, w, NCOLS);
    for (size_t i = 0; i < n; i++)
        cli_table_row(out, (const char *const *)cells + i * NCOLS, w, NCOLS);
    for (size_t i = 0; i < n * NCOLS; i++)
        free(cells[i]);
    free(cells);
}

static void format_json(const struct orch_stats_row *rows, size_t n, struct zp_buf *b)
{
    zp_buf_addc(b, '[');
    for (size_t i = 0; i < n; i++) {
        const struct orch_stats_row *r = &rows[i];
        const struct orch_usage *u = &r->u;
        zp_buf_adds(b, i ? ",{\"ID\":" : "{\"ID\":");
        cli_json_str(b, r->id);
        zp_buf_adds(b, ",\"Name\":");
        cli_json_str(b, r->name);
        zp_buf_adds(b, ",\"Service\":");
        cli_json_str(b, r->service);
        if (u->have_cpu)
            zp_buf_addf(b, ",\"CPUPerc\":%.2f", u->cpu_percent);
        else
            zp_buf_adds(b, ",\"CPUPerc\":null");
        zp_buf_addf(b,
                    ",\"MemUsage\":%llu,\"MemLimit\":%llu,\"MemPerc\":%.2f,\"NetRx\":%llu,"
                    "\"NetTx\":%llu,\"BlockRead\":%llu,\"BlockWrite\":%llu,\"PIDs\":%llu}",
                    (unsigned long long)u->mem_used, (unsigned long long)u->mem_limit,
                    u->mem_percent, (unsigned long long)u->net_rx, (unsigned long long)u->net_tx,
                    (unsigned long long)u->blk_read, (unsigned long long)u->blk_write,
                    (unsigned long long)u->pids);
    }
    zp_buf_adds(b, "]\n");
}

static int stats_exec(const struct cli_global *g, int argc, char **argv)
{
    enum { OPT_FORMAT = 256, OPT_NO_STREAM };
    static const struct option opts[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"no-stream", no_argument, NULL, OPT_NO_STREAM},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false, no_stream = false;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_FORMAT:
            if (cli_parse_format(&cli_cmd_stats, optarg, "table", &json) != 0)
                return ZP_EXIT_USAGE;
            break;
        case OPT_NO_STREAM:
            no_stream = true;
            break;
        case 'h':
            return cli_help(&cli_cmd_stats);
        default:
            return cli_getopt_error(&cli_cmd_stats, c, argv);
        }
    }
    const char *const *services = (const char *const *)argv + optind;
    size_t nservices = (size_t)(argc - optind);

    struct cli_session s;
    int rc = cli_session_open(g, &cli_cmd_stats, services, nservices, false, &s);
    if (rc)
        return rc;
    struct stop st = {.orch = s.orch};
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st.cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&st.lock, NULL);
    struct orch_stats *sampler = NULL;
    struct zp_err err;
    zp_err_init(&err);
    bool redraw = !json && !no_stream && isatty(STDOUT_FILENO);
    bool signals = false;
    if ((rc = cli_signals_start(on_signal, &st)) != 0)
        goto out;
    signals = true;
    if (orch_stats_open(s.orch, services, nservices, 0, &sampler, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    /* the first round is the baseline of the CPU deltas: nothing to show yet */
    int64_t next = zp_mono_ns();
    for (unsigned round = 0;; round++) {
        struct orch_stats_row *rows = NULL;
        size_t n = 0;
        if (orch_stats_round(sampler, &rows, &n, &err) != 0) {
            rc = cli_error(&err);
            break;
        }
        if (round > 0) {
            struct zp_buf b = ZP_BUF_INIT;
            if (redraw)
                zp_buf_adds(&b, "\033[H\033[2J");
            else if (!json && round > 1)
                zp_buf_addc(&b, '\n');
            if (json)
                format_json(rows, n, &b);
            else
                format_table(rows, n, &b);
            fputs(zp_buf_cstr(&b), stdout);
            fflush(stdout);
            zp_buf_release(&b);
        }
        orch_stats_rows_free(rows, n);
        if (round > 0 && no_stream)
            break;
        next += INTERVAL_NS;
        if (wait_until(&st, next)) {
            rc = CLI_EXIT_INTERRUPTED;
            break;
        }
    }
out:
    if (signals) {
        if (cli_signals_count() > 0)
            rc = CLI_EXIT_INTERRUPTED;
        cli_signals_stop();
    }
    orch_stats_close(sampler);
    pthread_mutex_destroy(&st.lock);
    pthread_cond_destroy(&st.cond);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_stats = {
    .name = "stats",
    .usage = "[--no-stream] [--format table|json] [SERVICE...]",
    .summary = "live CPU, memory, network and block I/O of the project's containers",
    .exec = stats_exec,
};

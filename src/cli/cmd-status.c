/* cli/status: per service and container: state, health (with the failing probe's output),
 * restarts, uptime, average CPU since start, memory use / limit, ports, image and age. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../orchestrator/orchestrator.h"
#include "../orchestrator/status.h"
#include "cli.h"

#include "../util/banned.h"

#define NCOLS 10

static void ports_text(const struct orch_status_row *r, struct zp_buf *b)
{
    for (size_t i = 0; i < r->nports; i++) {
        const struct orch_port *p = &r->ports[i];
        /* an exposed port that is also published is listed once, as published */
        bool dup = false;
        for (size_t k = 0; k < r->nports && !dup && !p->host_port; k++)
            dup = r->ports[k].host_port && r->ports[k].container_port == p->container_port &&
                  strcmp(r->ports[k].protocol, p->protocol) == 0;
        if (dup)
            continue;
        if (b->len)
            zp_buf_adds(b, ", ");
        if (p->host_port) {
            if (strchr(p->host_ip, ':'))
                zp_buf_addf(b, "[%s]:%d->", p->host_ip, p->host_port);
            else
                zp_buf_addf(b, "%s:%d->", *p->host_ip ? p->host_ip : "0.0.0.0", p->host_port);
        }
        zp_buf_addf(b, "%d/%s", p->container_port, p->protocol);
    }
}

/* The cells of one row; each is a new string. */
static void row_cells(const struct orch_status_row *r, char *cells[NCOLS])
{
    char b[ORCH_FMT_BYTES], d[ORCH_FMT_DURATION];
    struct zp_buf pb = ZP_BUF_INIT;
    cells[0] = zp_strdup(r->name ? r->name : r->service);
    cells[1] = zp_strdup(r->state);
    /* a service marked exclude_from_health: its health shown, not counted */
    cells[2] =
        zp_asprintf("%s%s", r->health ? r->health : "-", r->health_excluded ? " (excluded)" : "");
    cells[3] = r->name ? zp_asprintf("%lld", (long long)r->restart_count) : zp_strdup("-");
    if (r->uptime_s >= 0) {
        orch_fmt_duration(r->uptime_s, d);
        cells[4] = zp_strdup(d);
    } else {
        cells[4] = zp_strdup("-");
    }
    cells[5] = r->have_usage ? zp_asprintf("%.2f%%", r->cpu_avg_percent) : zp_strdup("-");
    if (r->memory_limit > 0)
        orch_fmt_bytes((uint64_t)r->memory_limit, true, b);
    else
        snprintf(b, sizeof(b), "-");
    if (r->have_usage) {
        char a[ORCH_FMT_BYTES];
        orch_fmt_bytes(r->mem_used, true, a);
        cells[6] = zp_asprintf("%s / %s", a, b);
    } else {
        cells[6] = r->memory_limit > 0 ? zp_asprintf("- / %s", b) : zp_strdup("-");
    }
    ports_text(r, &pb);
    cells[7] = pb.len ? zp_buf_detach(&pb, NULL) : zp_strdup("-");
    zp_buf_release(&pb);
    cells[8] = zp_strdup(r->image ? r->image : "-");
    if (r->image_created > 0) {
        orch_fmt_duration(r->now - r->image_created, d);
        cells[9] = zp_strdup(d);
    } else {
        cells[9] = zp_strdup("-");
    }
}

static void print_table(const struct orch_status_row *rows, size_t n)
{
    static const char *const heads[NCOLS] = {"NAME",   "STATE",    "HEALTH",      "RESTARTS",
                                             "UPTIME", "CPU(AVG)", "MEM / LIMIT", "PORTS",
                                             "IMAGE",  "IMAGE AGE"};
    size_t w[NCOLS];
    char **cells = zp_calloc(n * NCOLS + 1, sizeof(*cells));
    for (size_t i = 0; i < n; i++)
        row_cells(&rows[i], cells + i * NCOLS);
    cli_table_widths(heads, cells, n, NCOLS, w);
    struct zp_buf b = ZP_BUF_INIT;
    cli_table_row(&b, heads, w, NCOLS);
    for (size_t i = 0; i < n; i++) {
        cli_table_row(&b, (const char *const *)cells + i * NCOLS, w, NCOLS);
        /* why a container is not passing, under its row */
        if (rows[i].reason && (rows[i].verdict == ORCH_VERDICT_UNHEALTHY ||
                               rows[i].verdict == ORCH_VERDICT_STARTING ||
                               rows[i].verdict == ORCH_VERDICT_RESTARTING))
            zp_buf_addf(&b, "    %s\n", rows[i].reason);
    }
    fputs(zp_buf_cstr(&b), stdout);
    zp_buf_release(&b);
    for (size_t i = 0; i < n * NCOLS; i++)
        free(cells[i]);
    free(cells);
}

static void json_opt_str(struct zp_buf *b, const char *key, const char *v)
{
    zp_buf_addf(b, ",\"%s\":", key);
    if (v)
        cli_json_str(b, v);
    else
        zp_buf_adds(b, "null");
}

static void print_json(const struct orch_status_row *rows, size_t n)
{
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_addc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        const struct orch_status_row *r = &rows[i];
        zp_buf_adds(&b, i ? ",{\"Service\":" : "{\"Service\":");
        cli_json_str(&b, r->service);
        json_opt_str(&b, "Name", r->name);
        json_opt_str(&b, "ID", r->id);
        zp_buf_addf(&b, ",\"Number\":%d", r->number);
        json_opt_str(&b, "State", r->state);
        json_opt_str(&b, "Health", r->health);
        json_opt_str(&b, "HealthOutput", r->health_output);
        json_opt_str(&b, "Verdict", orch_verdict_name(r->verdict));
        zp_buf_addf(&b, ",\"Healthy\":%s", orch_verdict_ok(r->verdict) ? "true" : "false");
        zp_buf_addf(&b, ",\"HealthExcluded\":%s", r->health_excluded ? "true" : "false");
        json_opt_str(&b, "Reason", r->reason);
        zp_buf_addf(&b, ",\"ExitCode\":%lld,\"OOMKilled\":%s,\"RestartCount\":%lld",
                    (long long)r->exit_code, r->oom_killed ? "true" : "false",
                    (long long)r->restart_count);
        json_opt_str(&b, "RestartPolicy", r->restart_policy);
        zp_buf_addf(&b, ",\"StartedAt\":%lld,\"UptimeSeconds\":", (long long)r->started_at);
        if (r->uptime_s >= 0)
            zp_buf_addf(&b, "%lld", (long long)r->uptime_s);
        else
            zp_buf_adds(&b, "null");
        if (r->have_usage)
            zp_buf_addf(&b,
                        ",\"CPUAvgPercent\":%.2f,\"MemoryUsage\":%llu,\"MemoryCgroupLimit\":%llu",
                        r->cpu_avg_percent, (unsigned long long)r->mem_used,
                        (unsigned long long)r->mem_cgroup_limit);
        else
            zp_buf_adds(&b, ",\"CPUAvgPercent\":null,\"MemoryUsage\":null,"
                            "\"MemoryCgroupLimit\":null");
        zp_buf_addf(&b, ",\"MemoryLimit\":%lld,\"Ports\":[", (long long)r->memory_limit);
        for (size_t k = 0; k < r->nports; k++) {
            zp_buf_adds(&b, k ? ",{\"HostIP\":" : "{\"HostIP\":");
            cli_json_str(&b, r->ports[k].host_ip);
            zp_buf_addf(&b, ",\"PublishedPort\":%d,\"TargetPort\":%d,\"Protocol\":",
                        r->ports[k].host_port, r->ports[k].container_port);
            cli_json_str(&b, r->ports[k].protocol);
            zp_buf_addc(&b, '}');
        }
        zp_buf_addc(&b, ']');
        json_opt_str(&b, "Image", r->image);
        json_opt_str(&b, "ImageID", r->image_id);
        zp_buf_addf(&b, ",\"ImageCreated\":%lld,\"ImageAgeSeconds\":", (long long)r->image_created);
        if (r->image_created > 0)
            zp_buf_addf(&b, "%lld", (long long)(r->now - r->image_created));
        else
            zp_buf_adds(&b, "null");
        zp_buf_addc(&b, '}');
    }
    zp_buf_adds(&b, "]\n");
    fputs(zp_buf_cstr(&b), stdout);
    zp_buf_release(&b);
}

static int status_exec(const struct cli_global *g, int argc, char **argv)
{
    enum { OPT_FORMAT = 256, OPT_NO_USAGE };
    static const struct option opts[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"no-usage", no_argument, NULL, OPT_NO_USAGE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    struct orch_status_opts so = {0};
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_FORMAT:
            if (cli_parse_format(&cli_cmd_status, optarg, "table", &json) != 0)
                return ZP_EXIT_USAGE;
            break;
        case OPT_NO_USAGE:
            so.no_usage = true;
            break;
        case 'h':
            return cli_help(&cli_cmd_status);
        default:
            return cli_getopt_error(&cli_cmd_status, c, argv);
        }
    }
    so.services = (const char *const *)argv + optind;
    so.nservices = (size_t)(argc - optind);

    struct cli_session s;
    int rc = cli_session_open(g, &cli_cmd_status, so.services, so.nservices, false, &s);
    if (rc)
        return rc;
    struct orch_status_row *rows = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    bool swarm = false;
    if ((rc = cli_swarm_project(&s, &swarm)) != 0) {
        /* printed */
    } else if (swarm) {
        rc = cli_swarm_status(&s, json); /* services and their tasks' counts */
    } else if (orch_status(s.orch, &so, &rows, &n, &err) != 0) {
        rc = cli_error(&err);
    } else if (json) {
        print_json(rows, n);
    } else {
        print_table(rows, n);
    }
    orch_status_rows_free(rows, n);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_status = {
    .name = "status",
    .usage = "[--format table|json] [--no-usage] [SERVICE...]",
    .summary = "state, health, restarts, uptime, CPU, memory, ports and image of each service",
    .exec = status_exec,
};

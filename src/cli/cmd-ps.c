/* cli/ps: list the project's containers (table, JSON, IDs or services). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

/* The STATUS column: the engine's own words, as `docker compose ps` shows them. */
static const char *status_text(const struct orch_container *c)
{
    return c->status ? c->status : "";
}

static void port_text(const struct orch_port *p, struct zp_buf *b)
{
    if (p->host_port) {
        if (strchr(p->host_ip, ':'))
            zp_buf_addf(b, "[%s]:%d->", p->host_ip, p->host_port);
        else
            zp_buf_addf(b, "%s:%d->", *p->host_ip ? p->host_ip : "0.0.0.0", p->host_port);
    }
    zp_buf_addf(b, "%d/%s", p->container_port, p->protocol);
}

static char *ports_text(const struct orch_container *c)
{
    struct zp_buf b = ZP_BUF_INIT;
    for (size_t i = 0; i < c->nports; i++) {
        /* an exposed port also published is listed once, as published */
        bool dup = false;
        if (!c->ports[i].host_port)
            for (size_t k = 0; k < c->nports && !dup; k++)
                dup = c->ports[k].host_port &&
                      c->ports[k].container_port == c->ports[i].container_port &&
                      strcmp(c->ports[k].protocol, c->ports[i].protocol) == 0;
        if (dup)
            continue;
        if (b.len)
            zp_buf_adds(&b, ", ");
        port_text(&c->ports[i], &b);
    }
    return zp_buf_detach(&b, NULL);
}

static void print_table(const struct orch_container *cs, size_t n)
{
    const char *heads[] = {"NAME", "IMAGE", "SERVICE", "STATUS", "PORTS"};
    size_t w[5];
    for (size_t k = 0; k < 5; k++)
        w[k] = strlen(heads[k]);
    char **ports = zp_calloc(n + 1, sizeof(*ports));
    for (size_t i = 0; i < n; i++) {
        ports[i] = ports_text(&cs[i]);
        const char *cells[] = {cs[i].name, cs[i].image ? cs[i].image : "", cs[i].service,
                               status_text(&cs[i])};
        for (size_t k = 0; k < 4; k++)
            if (strlen(cells[k]) > w[k])
                w[k] = strlen(cells[k]);
    }
    printf("%-*s   %-*s   %-*s   %-*s   %s\n", (int)w[0], heads[0], (int)w[1], heads[1], (int)w[2],
           heads[2], (int)w[3], heads[3], heads[4]);
    for (size_t i = 0; i < n; i++) {
        printf("%-*s   %-*s   %-*s   %-*s   %s\n", (int)w[0], cs[i].name, (int)w[1],
               cs[i].image ? cs[i].image : "", (int)w[2], cs[i].service, (int)w[3],
               status_text(&cs[i]), ports[i]);
        free(ports[i]);
    }
    free(ports);
}

static void print_json(const struct compose_project *p, const struct orch_container *cs, size_t n)
{
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_addc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        const struct orch_container *c = &cs[i];
        char *ports = ports_text(c);
        zp_buf_adds(&b, i ? ",{" : "{");
        zp_buf_adds(&b, "\"ID\":");
        cli_json_str(&b, c->id);
        zp_buf_adds(&b, ",\"Name\":");
        cli_json_str(&b, c->name);
        zp_buf_adds(&b, ",\"Project\":");
        cli_json_str(&b, p->name);
        zp_buf_adds(&b, ",\"Service\":");
        cli_json_str(&b, c->service);
        zp_buf_addf(&b, ",\"Number\":%d,\"OneOff\":%s", c->number, c->oneoff ? "true" : "false");
        zp_buf_adds(&b, ",\"Image\":");
        cli_json_str(&b, c->image);
        zp_buf_adds(&b, ",\"State\":");
        cli_json_str(&b, c->state);
        zp_buf_adds(&b, ",\"Health\":");
        cli_json_str(&b, c->health ? c->health : "");
        zp_buf_addf(&b, ",\"ExitCode\":%lld,\"Created\":%lld", (long long)c->exit_code,
                    (long long)c->created);
        zp_buf_adds(&b, ",\"Status\":");
        cli_json_str(&b, status_text(c));
        zp_buf_adds(&b, ",\"Ports\":");
        cli_json_str(&b, ports);
        zp_buf_adds(&b, ",\"Publishers\":[");
        for (size_t k = 0; k < c->nports; k++) {
            zp_buf_adds(&b, k ? ",{\"URL\":" : "{\"URL\":");
            cli_json_str(&b, c->ports[k].host_ip);
            zp_buf_addf(&b, ",\"TargetPort\":%d,\"PublishedPort\":%d,\"Protocol\":",
                        c->ports[k].container_port, c->ports[k].host_port);
            cli_json_str(&b, c->ports[k].protocol);
            zp_buf_addc(&b, '}');
        }
        zp_buf_adds(&b, "]}");
        free(ports);
    }
    zp_buf_adds(&b, "]\n");
    fputs(zp_buf_cstr(&b), stdout);
    zp_buf_release(&b);
}

static int ps_exec(const struct cli_global *g, int argc, char **argv)
{
    enum { OPT_FORMAT = 256, OPT_SERVICES };
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},   {"format", required_argument, NULL, OPT_FORMAT},
        {"quiet", no_argument, NULL, 'q'}, {"services", no_argument, NULL, OPT_SERVICES},
        {"help", no_argument, NULL, 'h'},  {NULL, 0, NULL, 0},
    };
    bool all = false, json = false, quiet = false, list_services = false;
    int c;
    while ((c = getopt_long(argc, argv, ":aqh", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            all = true;
            break;
        case OPT_FORMAT:
            if (cli_parse_format(&cli_cmd_ps, optarg, "table", &json) != 0)
                return ZP_EXIT_USAGE;
            break;
        case 'q':
            quiet = true;
            break;
        case OPT_SERVICES:
            list_services = true;
            break;
        case 'h':
            return cli_help(&cli_cmd_ps);
        default:
            return cli_getopt_error(&cli_cmd_ps, c, argv);
        }
    }
    char **services = argv + optind;
    size_t nservices = (size_t)(argc - optind);

    struct cli_session s;
    int rc = cli_session_open(g, &cli_cmd_ps, (const char *const *)services, nservices, false, &s);
    if (rc)
        return rc;
    struct orch_container *cs = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    bool swarm = false;
    if ((rc = cli_swarm_project(&s, &swarm)) != 0 || swarm) {
        if (rc == 0)
            rc = cli_swarm_ps(&s, all, json, quiet); /* tasks instead of containers */
        goto out;
    }
    if (orch_ps(s.orch, (const char *const *)services, nservices, all, &cs, &n, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    if (quiet) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", cs[i].id);
    } else if (list_services) {
        /* sorted by service already: print each once */
        for (size_t i = 0; i < n; i++)
            if (i == 0 || strcmp(cs[i].service, cs[i - 1].service) != 0)
                printf("%s\n", cs[i].service);
    } else if (json) {
        print_json(s.project, cs, n);
    } else {
        print_table(cs, n);
    }
out:
    orch_containers_free(cs, n);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_ps = {
    .name = "ps",
    .usage = "[-a] [--format table|json] [-q] [--services] [SERVICE...]",
    .summary = "list the project's containers",
    .exec = ps_exec,
};

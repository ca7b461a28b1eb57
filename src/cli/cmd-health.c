/* cli/health: exit 0 when every service runs and passes its health check (or runs and has
 * none), 1 otherwise, with one line per service that does not, saying why. A service
 * marked x-zpanel.exclude_from_health does not count unless it is named. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../orchestrator/orchestrator.h"
#include "../orchestrator/status.h"
#include "cli.h"

#include "../util/banned.h"

/* One line for the service whose items are items[0..n): "web: unhealthy: ..." for a
 * single container, "web: 2 of 3 containers failing: web-1: ...; web-3: ..." else. */
static void print_service(const struct orch_health_item *items, size_t n, size_t failing)
{
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_addf(&b, "%s: ", items[0].service);
    if (n == 1) {
        zp_buf_adds(&b, items[0].reason ? items[0].reason : orch_verdict_name(items[0].verdict));
    } else {
        zp_buf_addf(&b, "%zu of %zu containers failing: ", failing, n);
        size_t shown = 0;
        for (size_t i = 0; i < n; i++) {
            if (orch_verdict_ok(items[i].verdict))
                continue;
            zp_buf_addf(&b, "%s%s: %s", shown++ ? "; " : "", items[i].name,
                        items[i].reason ? items[i].reason : orch_verdict_name(items[i].verdict));
        }
    }
    printf("%s\n", zp_buf_cstr(&b));
    zp_buf_release(&b);
}

static int health_exec(const struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool quiet = false;
    int c;
    while ((c = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = true;
            break;
        case 'h':
            return cli_help(&cli_cmd_health);
        default:
            return cli_getopt_error(&cli_cmd_health, c, argv);
        }
    }
    const char *const *services = (const char *const *)argv + optind;
    size_t nservices = (size_t)(argc - optind);

    struct cli_session s;
    int rc = cli_session_open(g, &cli_cmd_health, services, nservices, false, &s);
    if (rc)
        return rc;
    bool swarm = false;
    if ((rc = cli_swarm_project(&s, &swarm)) != 0 || swarm) {
        if (rc == 0) /* services: their tasks running (Swarm runs a task once healthy) */
            rc = cli_swarm_health(&s, services, nservices, quiet);
        cli_session_close(&s);
        return rc;
    }
    struct orch_health_item *items = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (orch_health(s.orch, services, nservices, &items, &n, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    size_t nsvc = 0, bad_svc = 0, nexcl = 0;
    for (size_t i = 0; i < n;) {
        size_t k = i, failing = 0;
        while (k < n && strcmp(items[k].service, items[i].service) == 0) {
            if (!orch_verdict_ok(items[k].verdict))
                failing++;
            k++;
        }
        if (items[i].excluded && nservices == 0) {
            /* not counted; said when it fails */
            if (failing > 0 && !quiet) {
                printf("(excluded from the verdict) ");
                print_service(items + i, k - i, failing);
            }
            nexcl++;
            i = k;
            continue;
        }
        nsvc++;
        if (failing > 0) {
            bad_svc++;
            if (!quiet)
                print_service(items + i, k - i, failing);
        }
        i = k;
    }
    if (bad_svc > 0)
        rc = ZP_EXIT_RUNTIME;
    else if (!quiet)
        printf("all %zu service%s healthy%s\n", nsvc, nsvc == 1 ? "" : "s",
               nexcl ? " (services excluded from the verdict not counted)" : "");
out:
    orch_health_items_free(items, n);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_health = {
    .name = "health",
    .usage = "[-q] [SERVICE...]",
    .summary = "exit 0 when every service runs healthy, 1 with the reasons otherwise",
    .exec = health_exec,
};

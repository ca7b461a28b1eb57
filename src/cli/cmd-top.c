/* cli/top: the processes running in the project's containers. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

static void print_top(const char *name, const struct engine_top *t)
{
    size_t *w = zp_calloc(t->n_titles + 1, sizeof(*w));
    for (size_t k = 0; k < t->n_titles; k++) {
        w[k] = strlen(t->titles[k]);
        for (size_t r = 0; r < t->n_rows; r++)
            if (k < t->rows[r].n && strlen(t->rows[r].cells[k]) > w[k])
                w[k] = strlen(t->rows[r].cells[k]);
    }
    printf("%s\n", name);
    for (size_t k = 0; k < t->n_titles; k++)
        printf(k + 1 < t->n_titles ? "%-*s   " : "%-*s\n", k + 1 < t->n_titles ? (int)w[k] : 0,
               t->titles[k]);
    for (size_t r = 0; r < t->n_rows; r++)
        for (size_t k = 0; k < t->n_titles; k++)
            printf(k + 1 < t->n_titles ? "%-*s   " : "%-*s\n", k + 1 < t->n_titles ? (int)w[k] : 0,
                   k < t->rows[r].n ? t->rows[r].cells[k] : "");
    free(w);
}

static int top_exec(const struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(&cli_cmd_top);
        return cli_getopt_error(&cli_cmd_top, c, argv);
    }
    char **services = argv + optind;
    size_t nservices = (size_t)(argc - optind);

    struct cli_session s;
    int rc = cli_session_open(g, &cli_cmd_top, (const char *const *)services, nservices, false, &s);
    if (rc)
        return rc;
    struct orch_container *cs = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (orch_ps(s.orch, (const char *const *)services, nservices, false, &cs, &n, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    bool first = true;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct engine_top t;
        if (engine_container_top(orch_engine(s.orch), cs[i].id, NULL, &t, &err) != 0) {
            rc = cli_error(&err);
            break;
        }
        if (!first)
            printf("\n");
        first = false;
        print_top(cs[i].name, &t);
        engine_top_release(&t);
    }
out:
    orch_containers_free(cs, n);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_top = {
    .name = "top",
    .usage = "[SERVICE...]",
    .summary = "show the processes running in containers",
    .exec = top_exec,
};

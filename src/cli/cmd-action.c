/* cli/action: run one of the project's operational commands, declared by its template in
 * the top-level `x-zpanel: {actions: {NAME: {service, command, description}}}`: the
 * command with the given arguments appended, in the service's running container (as
 * `zpanel exec -T SERVICE COMMAND ARGS`). The workflow is release/action.c's (the API runs
 * the same); this file parses, prints and exits with the command's code. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../orchestrator/orchestrator.h"
#include "../release/action.h"
#include "cli.h"

#include "../util/banned.h"

static void on_signal(void *ud, int signo, unsigned count)
{
    if (signo != SIGWINCH && count > 0)
        engine_cancel(ud);
}

static int list_actions(const struct compose_project *p)
{
    struct release_action *a = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (release_actions_list(p->model, &a, &n, &err) != 0)
        return cli_error(&err);
    if (n == 0)
        fprintf(stderr, "zpanel: project '%s' declares no actions (x-zpanel.actions)\n", p->name);
    for (size_t i = 0; i < n; i++)
        printf("%-16s %s\n", a[i].name, a[i].description ? a[i].description : "");
    release_actions_free(a, n);
    return ZP_EXIT_OK;
}

static int exec_action(const struct cli_global *g, int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return cli_help(&cli_cmd_action);
    struct compose_project *p = NULL;
    int rc = cli_load_project(g, NULL, 0, false, &p);
    if (rc)
        return rc;
    if (argc < 2) {
        rc = list_actions(p);
        compose_project_free(p);
        return rc;
    }
    const char *name = argv[1];
    struct zp_err err;
    zp_err_init(&err);
    /* a declaration problem or an unknown action before any engine call */
    struct release_action a;
    if (release_action_resolve(p->model, name, (const char *const *)argv + 2, (size_t)(argc - 2),
                               &a, &err) != 0) {
        char *m = zp_err_render(&err);
        fprintf(stderr, "zpanel: project '%s': %s%s\n", p->name, m,
                err.code == ZP_E_NOTFOUND ? " (`zpanel action` lists them)" : "");
        free(m);
        compose_project_free(p);
        return err.code == ZP_E_NOTFOUND ? ZP_EXIT_USAGE : ZP_EXIT_INVALID;
    }
    release_action_release(&a);
    struct orch *o = NULL;
    if (orch_new(p, g->host, NULL, NULL, &o, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    if ((rc = cli_signals_start(on_signal, orch_engine(o))) != 0)
        goto out;
    struct release_action_io io = {cli_stream_output, NULL, STDIN_FILENO};
    int64_t code = 0;
    int arc = release_action_run(o, p, name, (const char *const *)argv + 2, (size_t)(argc - 2), &io,
                                 &code, &err);
    cli_signals_stop();
    if (arc != 0)
        rc = cli_error(&err);
    else
        rc = (int)(code & 0xff);
out:
    orch_free(o);
    compose_project_free(p);
    return rc;
}

const struct cli_cmd cli_cmd_action = {
    .name = "action",
    .usage = "[NAME [ARG...]]",
    .summary = "run an operational command the project's template declares (none: list them)",
    .exec = exec_action,
};

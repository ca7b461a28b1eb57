/* cli/action: run one of the project's operational commands, declared by its template in
 * the top-level `x-zpanel: {actions: {NAME: {service, command, description}}}`: the
 * command with the given arguments appended, as `zpanel exec -T SERVICE COMMAND ARGS`. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#include "../util/banned.h"

#define MAX_ARGS 256

static void list_actions(const struct zp_node *acts)
{
    for (size_t i = 0; zp_node_is_map(acts) && i < acts->n; i++) {
        const char *desc = zp_node_get_str(acts->pairs[i].value, "description");
        printf("%-16s %s\n", acts->pairs[i].key->str, desc ? desc : "");
    }
}

static int exec_action(const struct cli_global *g, int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return cli_help(&cli_cmd_action);
    struct compose_project *p = NULL;
    int rc = cli_load_project(g, NULL, 0, false, &p);
    if (rc)
        return rc;
    const struct zp_node *x = zp_node_get(p->model, "x-zpanel");
    const struct zp_node *acts = zp_node_is_map(x) ? zp_node_get(x, "actions") : NULL;
    if (argc < 2) {
        if (!zp_node_is_map(acts) || acts->n == 0)
            fprintf(stderr, "zpanel: project '%s' declares no actions (x-zpanel.actions)\n",
                    p->name);
        else
            list_actions(acts);
        compose_project_free(p);
        return ZP_EXIT_OK;
    }
    const char *name = argv[1];
    const struct zp_node *a = zp_node_is_map(acts) ? zp_node_get(acts, name) : NULL;
    const char *service = a ? zp_node_get_str(a, "service") : NULL;
    const struct zp_node *cmd = a ? zp_node_get(a, "command") : NULL;
    if (!a) {
        fprintf(stderr, "zpanel: project '%s' has no action '%s'%s\n", p->name, name,
                zp_node_is_map(acts) && acts->n ? " (`zpanel action` lists them)" : "");
        compose_project_free(p);
        return ZP_EXIT_USAGE;
    }
    if (!service || !zp_node_is_seq(cmd) || cmd->n == 0 || cmd->n + (size_t)argc > MAX_ARGS) {
        fprintf(stderr, "zpanel: x-zpanel.actions.%s: needs 'service' and 'command' (a list)\n",
                name);
        compose_project_free(p);
        return ZP_EXIT_INVALID;
    }
    /* exec -T SERVICE COMMAND... ARGS... */
    size_t n = 0;
    char **ev = zp_calloc(cmd->n + (size_t)argc + 4, sizeof(*ev));
    ev[n++] = zp_strdup("exec");
    ev[n++] = zp_strdup("-T");
    ev[n++] = zp_strdup(service);
    for (size_t i = 0; i < cmd->n; i++)
        ev[n++] = zp_strdup(zp_node_is_scalar(cmd->items[i]) ? cmd->items[i]->str : "");
    for (int i = 2; i < argc; i++)
        ev[n++] = zp_strdup(argv[i]);
    compose_project_free(p);
    optind = 0;
    rc = cli_cmd_exec.exec(g, (int)n, ev);
    for (size_t i = 0; i < n; i++)
        free(ev[i]);
    free(ev);
    return rc;
}

const struct cli_cmd cli_cmd_action = {
    .name = "action",
    .usage = "[NAME [ARG...]]",
    .summary = "run an operational command the project's template declares (none: list them)",
    .exec = exec_action,
};

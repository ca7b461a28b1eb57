/* cli/rm: remove the project's stopped containers. */
#define _GNU_SOURCE
#include <getopt.h>
#include <string.h>

#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

static int rm_exec(const struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {"stop", no_argument, NULL, 's'},
        {"volumes", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct orch_action_opts ao;
    memset(&ao, 0, sizeof(ao));
    ao.timeout_s = -1;
    int c;
    while ((c = getopt_long(argc, argv, ":fsvh", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            ao.force = true;
            break;
        case 's':
            ao.stop_first = true;
            break;
        case 'v':
            ao.volumes = true;
            break;
        case 'h':
            return cli_help(&cli_cmd_rm);
        default:
            return cli_getopt_error(&cli_cmd_rm, c, argv);
        }
    }
    return cli_run_action(g, &cli_cmd_rm, ORCH_RM, &ao, argv + optind, (size_t)(argc - optind));
}

const struct cli_cmd cli_cmd_rm = {
    .name = "rm",
    .usage = "[-f] [-s] [-v] [SERVICE...]",
    .summary = "remove stopped containers",
    .exec = rm_exec,
};

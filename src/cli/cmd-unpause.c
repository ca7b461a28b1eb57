/* cli/unpause: thaw the project's paused containers. */
#define _GNU_SOURCE
#include <getopt.h>
#include <string.h>

#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

static int unpause_exec(const struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct orch_action_opts ao;
    memset(&ao, 0, sizeof(ao));
    ao.timeout_s = -1;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(&cli_cmd_unpause);
        default:
            return cli_getopt_error(&cli_cmd_unpause, c, argv);
        }
    }
    return cli_run_action(g, &cli_cmd_unpause, ORCH_UNPAUSE, &ao, argv + optind,
                          (size_t)(argc - optind));
}

const struct cli_cmd cli_cmd_unpause = {
    .name = "unpause",
    .usage = "[SERVICE...]",
    .summary = "unpause paused containers",
    .exec = unpause_exec,
};

/* cli/restart: restart the project's containers. */
#define _GNU_SOURCE
#include <getopt.h>
#include <string.h>

#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

static int restart_exec(const struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct orch_action_opts ao;
    memset(&ao, 0, sizeof(ao));
    ao.timeout_s = -1;
    int c;
    while ((c = getopt_long(argc, argv, ":t:h", opts, NULL)) != -1) {
        switch (c) {
        case 't': {
            int64_t v;
            if (zp_parse_int64(optarg, 0, 86400 * 365, &v) != 0)
                return cli_usage_error(&cli_cmd_restart,
                                       "--timeout: '%s' is not a number of seconds", optarg);
            ao.timeout_s = (int)v;
            break;
        }
        case 'h':
            return cli_help(&cli_cmd_restart);
        default:
            return cli_getopt_error(&cli_cmd_restart, c, argv);
        }
    }
    return cli_run_action(g, &cli_cmd_restart, ORCH_RESTART, &ao, argv + optind,
                          (size_t)(argc - optind));
}

const struct cli_cmd cli_cmd_restart = {
    .name = "restart",
    .usage = "[-t SECONDS] [SERVICE...]",
    .summary = "restart containers",
    .exec = restart_exec,
};

/* cli/stop: stop the project's containers, in reverse dependency order. */
#define _GNU_SOURCE
#include <getopt.h>
#include <string.h>

#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

int cli_parse_stop_timeout(const struct cli_cmd *cmd, const char *v, int *ret)
{
    int64_t t;
    if (zp_parse_int64(v, 0, 86400 * 365, &t) != 0)
        return cli_usage_error(cmd, "--timeout: '%s' is not a number of seconds", v);
    *ret = (int)t;
    return 0;
}

int cli_exec_timeout_action(const struct cli_global *g, const struct cli_cmd *cmd, int action,
                            int argc, char **argv)
{
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct orch_action_opts ao;
    memset(&ao, 0, sizeof(ao));
    ao.timeout_s = -1;
    int c, rc;
    while ((c = getopt_long(argc, argv, ":t:h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if ((rc = cli_parse_stop_timeout(cmd, optarg, &ao.timeout_s)) != 0)
                return rc;
            break;
        case 'h':
            return cli_help(cmd);
        default:
            return cli_getopt_error(cmd, c, argv);
        }
    }
    return cli_run_action(g, cmd, action, &ao, argv + optind, (size_t)(argc - optind));
}

static int stop_exec(const struct cli_global *g, int argc, char **argv)
{
    return cli_exec_timeout_action(g, &cli_cmd_stop, ORCH_STOP, argc, argv);
}

const struct cli_cmd cli_cmd_stop = {
    .name = "stop",
    .usage = "[-t SECONDS] [SERVICE...]",
    .summary = "stop running containers",
    .exec = stop_exec,
};

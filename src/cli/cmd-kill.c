/* cli/kill: send a signal (SIGKILL by default) to the project's containers. */
#define _GNU_SOURCE
#include <getopt.h>
#include <string.h>

#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

static int kill_exec(const struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"signal", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct orch_action_opts ao;
    memset(&ao, 0, sizeof(ao));
    ao.timeout_s = -1;
    int c;
    while ((c = getopt_long(argc, argv, ":s:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (!*optarg)
                return cli_usage_error(&cli_cmd_kill, "--signal: empty signal name");
            ao.signal = optarg;
            break;
        case 'h':
            return cli_help(&cli_cmd_kill);
        default:
            return cli_getopt_error(&cli_cmd_kill, c, argv);
        }
    }
    return cli_run_action(g, &cli_cmd_kill, ORCH_KILL, &ao, argv + optind, (size_t)(argc - optind));
}

const struct cli_cmd cli_cmd_kill = {
    .name = "kill",
    .usage = "[-s SIGNAL] [SERVICE...]",
    .summary = "kill containers",
    .exec = kill_exec,
};

/* cli/restart: restart the project's containers. */
#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

static int restart_exec(const struct cli_global *g, int argc, char **argv)
{
    return cli_exec_timeout_action(g, &cli_cmd_restart, ORCH_RESTART, argc, argv);
}

const struct cli_cmd cli_cmd_restart = {
    .name = "restart",
    .usage = "[-t SECONDS] [SERVICE...]",
    .summary = "restart containers",
    .exec = restart_exec,
};

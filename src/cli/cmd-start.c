/* cli/start: start the project's existing containers. */
#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

static int start_exec(const struct cli_global *g, int argc, char **argv)
{
    return cli_exec_plain_action(g, &cli_cmd_start, ORCH_START, argc, argv);
}

const struct cli_cmd cli_cmd_start = {
    .name = "start",
    .usage = "[SERVICE...]",
    .summary = "start existing containers",
    .exec = start_exec,
};

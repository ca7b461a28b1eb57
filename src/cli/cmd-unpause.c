/* cli/unpause: thaw the project's paused containers. */
#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

static int unpause_exec(const struct cli_global *g, int argc, char **argv)
{
    return cli_exec_plain_action(g, &cli_cmd_unpause, ORCH_UNPAUSE, argc, argv);
}

const struct cli_cmd cli_cmd_unpause = {
    .name = "unpause",
    .usage = "[SERVICE...]",
    .summary = "unpause paused containers",
    .exec = unpause_exec,
};

/* cli/pause: freeze the project's running containers. */
#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

static int pause_exec(const struct cli_global *g, int argc, char **argv)
{
    return cli_exec_plain_action(g, &cli_cmd_pause, ORCH_PAUSE, argc, argv);
}

const struct cli_cmd cli_cmd_pause = {
    .name = "pause",
    .usage = "[SERVICE...]",
    .summary = "pause running containers",
    .exec = pause_exec,
};

/* cli/version: print the version. */
#include "cli.h"

#include "../util/banned.h"

static int version_exec(const struct cli_global *g, int argc, char **argv)
{
    (void)g;
    (void)argv;
    if (argc > 1)
        return cli_usage_error(&cli_cmd_version, "version takes no arguments");
    printf("zpanel version %s\n", ZP_VERSION);
    return ZP_EXIT_OK;
}

const struct cli_cmd cli_cmd_version = {
    .name = "version",
    .usage = "",
    .summary = "print zpanel's version",
    .exec = version_exec,
};

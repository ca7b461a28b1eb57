/* cli/control: what the control-plane commands (schedule, destination, user, token) share:
 * the dispatch of their subcommands and the flags of those that take only --state-dir. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#include "../util/banned.h"

int cli_run_sub(const struct cli_cmd *cmd, const struct cli_sub *subs, int argc, char **argv)
{
    if (argc >= 2)
        for (const struct cli_sub *s = subs; s->name; s++)
            if (strcmp(argv[1], s->name) == 0)
                return s->run(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return cli_help(cmd);
    return cli_usage_error(cmd, argc >= 2 ? "unknown subcommand '%s'" : "%s",
                           argc >= 2 ? argv[1] : "a subcommand is needed");
}

char *cli_state_dir(const char *flag)
{
    return flag ? zp_strdup(flag) : zp_state_dir();
}

int cli_parse_state_dir(const struct cli_cmd *cmd, int argc, char **argv, bool *ret_json,
                        const char **ret_state_dir)
{
    enum { OPT_STATE_DIR = 256, OPT_FORMAT };
    static const struct option opts[] = {
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"help", no_argument, NULL, 'h'},
        {"format", required_argument, NULL, OPT_FORMAT}, /* only with ret_json */
        {NULL, 0, NULL, 0},
    };
    static const struct option opts_no_format[] = {
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *ret_state_dir = NULL;
    int c, rc;
    while ((c = getopt_long(argc, argv, ":h", ret_json ? opts : opts_no_format, NULL)) != -1) {
        switch (c) {
        case OPT_STATE_DIR:
            *ret_state_dir = optarg;
            break;
        case OPT_FORMAT:
            if ((rc = cli_parse_format(cmd, optarg, "table", ret_json)) != 0)
                return rc;
            break;
        case 'h':
            return cli_help(cmd);
        default:
            return cli_getopt_error(cmd, c, argv);
        }
    }
    return -1;
}

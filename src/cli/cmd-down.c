/* cli/down: stop and remove the project's containers and networks (volumes with
 * -v). */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <string.h>

#include "../orchestrator/orchestrator.h"
#include "../orchestrator/swarm.h"
#include "cli.h"

#include "../util/banned.h"

static void on_signal(void *ud, int signo, unsigned count)
{
    if (count > 0 && signo != SIGWINCH)
        orch_cancel(ud);
}

static int down_exec(const struct cli_global *g, int argc, char **argv)
{
    enum { OPT_ORPHANS = 256, OPT_RMI };
    static const struct option opts[] = {
        {"volumes", no_argument, NULL, 'v'},
        {"remove-orphans", no_argument, NULL, OPT_ORPHANS},
        {"timeout", required_argument, NULL, 't'},
        {"rmi", required_argument, NULL, OPT_RMI},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct orch_down_opts d;
    memset(&d, 0, sizeof(d));
    d.timeout_s = -1;
    int c;
    while ((c = getopt_long(argc, argv, ":vt:h", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            d.volumes = true;
            break;
        case OPT_ORPHANS:
            d.remove_orphans = true;
            break;
        case 't': {
            int rc = cli_parse_stop_timeout(&cli_cmd_down, optarg, &d.timeout_s);
            if (rc)
                return rc;
            break;
        }
        case OPT_RMI:
            if (strcmp(optarg, "local") == 0)
                d.rmi = ORCH_RMI_LOCAL;
            else if (strcmp(optarg, "all") == 0)
                d.rmi = ORCH_RMI_ALL;
            else
                return cli_usage_error(&cli_cmd_down, "--rmi: '%s' is not one of local, all",
                                       optarg);
            break;
        case 'h':
            return cli_help(&cli_cmd_down);
        default:
            return cli_getopt_error(&cli_cmd_down, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(&cli_cmd_down, "down takes no services ('%s')", argv[optind]);

    struct cli_session s;
    int rc = cli_session_open(g, &cli_cmd_down, NULL, 0, true, &s);
    if (rc)
        return rc;
    if ((rc = cli_signals_start(on_signal, s.orch)) == 0) {
        struct zp_err err;
        zp_err_init(&err);
        bool swarm = false;
        if ((rc = cli_swarm_project(&s, &swarm)) == 0 &&
            (swarm ? orch_swarm_down(s.orch, d.volumes, &err) : orch_down(s.orch, &d, &err)) != 0)
            rc = cli_error(&err);
        cli_signals_stop();
    }
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_down = {
    .name = "down",
    .usage = "[-v] [--remove-orphans] [-t SECONDS] [--rmi local|all]",
    .summary = "stop and remove containers and networks",
    .exec = down_exec,
};

/* cli/watch: `up` the services with develop.watch rules, then apply file changes to them
 * (sync, restart, exec, rebuild) until Ctrl-C. The workflow is orch_develop_watch's. */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "../orchestrator/orchestrator.h"
#include "../orchestrator/develop.h"
#include "cli.h"

#include "../util/banned.h"

static void on_signal(void *ud, int signo, unsigned count)
{
    if (signo == SIGWINCH || count == 0)
        return;
    orch_cancel(ud);
}

static int watch_exec(const struct cli_global *g, int argc, char **argv)
{
    enum { OPT_NO_UP = 256 };
    static const struct option opts[] = {
        {"no-up", no_argument, NULL, OPT_NO_UP},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct orch_develop_opts wo;
    memset(&wo, 0, sizeof(wo));
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_NO_UP:
            wo.no_up = true;
            break;
        case 'h':
            return cli_help(&cli_cmd_watch);
        default:
            return cli_getopt_error(&cli_cmd_watch, c, argv);
        }
    }
    wo.services = (const char *const *)argv + optind;
    wo.nservices = (size_t)(argc - optind);
    struct cli_session s;
    int rc = cli_session_open(g, &cli_cmd_watch, wo.services, wo.nservices, true, &s);
    if (rc != 0)
        return rc;
    if ((rc = cli_signals_start(on_signal, s.orch)) == 0) {
        struct zp_err err;
        zp_err_init(&err);
        if (orch_develop_watch(s.orch, &wo, &err) != 0)
            rc = cli_error(&err);
        cli_signals_stop();
    }
    cli_progress_done(s.progress);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_watch = {
    .name = "watch",
    .usage = "[--no-up] [SERVICE...]",
    .summary = "apply file changes to the services (develop.watch) until Ctrl-C",
    .exec = watch_exec,
};

/* cli/rollback: parse flags, run release_rollback (redeploy a recorded release exactly:
 * by default the one that ran before the one running now), print. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../release/release.h"
#include "cli.h"

#include "../util/banned.h"

static int rollback_exec(const struct cli_global *g, int argc, char **argv)
{
    const struct cli_cmd *cmd = &cli_cmd_rollback;
    struct release_opts opts;
    memset(&opts, 0, sizeof(opts));
    int64_t requested = 0;
    int rc = cli_release_parse_args(cmd, argc, argv, &opts.wait_timeout_ms, &opts.keep);
    if (rc >= 0)
        return rc;
    if (argc - optind > 1)
        return cli_usage_error(cmd, "one release at most ('%s' is extra)", argv[optind + 1]);
    if (argc - optind == 1 && zp_parse_int64(argv[optind], 1, INT64_MAX, &requested) != 0)
        return cli_usage_error(cmd, "'%s' is not a release number", argv[optind]);

    /* a Swarm project too: release_rollback redeploys a Swarm release as services */
    struct compose_project *p = NULL;
    if ((rc = cli_load_project(g, NULL, 0, false, &p)) != 0)
        return rc;
    struct cli_progress *progress = cli_progress_new(g);
    struct cli_release_run run;
    if ((rc = cli_release_run_start(&run, g, progress, &opts)) == 0) {
        struct release_result out;
        struct zp_err err;
        zp_err_init(&err);
        rc = release_rollback(p->name, p->workdir, requested, &opts, &out, &err);
        cli_progress_done(progress);
        if (rc < 0)
            rc = cli_release_error(&err, &out);
        else
            printf("Release %" PRId64 " deployed (rollback to release %" PRId64 ")\n", out.id,
                   out.source);
        if (out.outcome == RELEASE_ROLLED_BACK)
            printf("Rolled back to release %" PRId64 "\n", out.previous);
        release_result_release(&out);
        cli_release_run_stop(&run);
    }
    cli_progress_free(progress);
    compose_project_free(p);
    return rc;
}

const struct cli_cmd cli_cmd_rollback = {
    .name = "rollback",
    .usage = "[--wait-timeout SECONDS] [--keep N] [RELEASE]",
    .summary = "redeploy a recorded release (default: the one before the running one)",
    .exec = rollback_exec,
};

/* cli/update: parse flags, run release_update, print. Also what the release commands share:
 * their flags, a sink that prints, Ctrl-C firing the workflow's cancel token. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "../release/release.h"
#include "cli.h"

#include "../util/banned.h"

/* ---- shared by the release commands ---- */

static void on_signal(void *ud, int signo, unsigned count)
{
    if (signo == SIGWINCH || count == 0)
        return;
    release_cancel_fire(ud);
}

static void print_line(void *ud, enum release_level level, const char *text)
{
    struct cli_progress *progress = ud;
    if (level == RELEASE_WARNING && progress == NULL)
        fprintf(stderr, "zpanel: warning: %s\n", text);
    else if (level == RELEASE_WARNING)
        cli_progress_note(progress, "warning: %s", text);
    else if (progress != NULL)
        cli_progress_note(progress, "%s", text);
}

void cli_release_sink(struct cli_progress *progress, struct release_sink *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->event = progress ? cli_progress_event : NULL;
    ret->line = print_line;
    ret->ud = progress;
}

int cli_release_run_start(struct cli_release_run *r, const struct cli_global *g,
                          struct cli_progress *progress, struct release_opts *opts)
{
    memset(r, 0, sizeof(*r));
    r->progress = progress;
    cli_release_sink(progress, &r->sink);
    r->cancel = release_cancel_new();
    opts->host = g->host;
    opts->sink = &r->sink;
    opts->cancel = r->cancel;
    if (cli_signals_start(on_signal, r->cancel) != 0) {
        release_cancel_free(r->cancel);
        r->cancel = NULL;
        return ZP_EXIT_RUNTIME;
    }
    r->signals = true;
    return 0;
}

void cli_release_run_stop(struct cli_release_run *r)
{
    if (r->signals)
        cli_signals_stop();
    release_cancel_free(r->cancel);
    memset(r, 0, sizeof(*r));
}

int cli_release_error(const struct zp_err *err, const struct release_result *out)
{
    if (err->code == ZP_E_CANCELLED && cli_signals_count() > 0) {
        /* say how the recorded release was left, then exit as interrupted */
        if (out->id > 0) {
            char *msg = zp_err_render(err);
            fprintf(stderr, "zpanel: %s\n", msg);
            free(msg);
        }
        return CLI_EXIT_INTERRUPTED;
    }
    return cli_error(err);
}

int cli_release_parse_keep(const struct cli_cmd *cmd, const char *v, size_t *ret)
{
    const char *what = "--keep";
    int64_t n;
    if (v == NULL) {
        v = getenv("ZPANEL_KEEP_RELEASES");
        what = "ZPANEL_KEEP_RELEASES";
        if (v == NULL || v[0] == '\0') {
            *ret = RELEASE_KEEP_DEFAULT;
            return 0;
        }
    }
    if (zp_parse_int64(v, 1, RELEASE_KEEP_MAX, &n) != 0)
        return cli_usage_error(cmd, "%s: '%s' is not a number of releases from 1 to %d", what, v,
                               RELEASE_KEEP_MAX);
    *ret = (size_t)n;
    return 0;
}

int cli_release_parse_timeout(const struct cli_cmd *cmd, const char *v, int64_t *ret_ms)
{
    int64_t n;
    if (zp_parse_int64(v, 1, 86400, &n) == 0) {
        *ret_ms = n * 1000;
        return 0;
    }
    if (zp_parse_duration(v, false, &n) == 0 && n >= 1000000 && n <= (int64_t)86400 * 1000000000) {
        *ret_ms = n / 1000000;
        return 0;
    }
    return cli_usage_error(cmd, "--wait-timeout: '%s' is not a number of seconds (1 to 86400)", v);
}

int cli_release_parse_args(const struct cli_cmd *cmd, int argc, char **argv,
                           int64_t *ret_timeout_ms, size_t *ret_keep)
{
    enum { OPT_WAIT_TIMEOUT = 256, OPT_KEEP };
    static const struct option opts[] = {
        {"wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT},
        {"keep", required_argument, NULL, OPT_KEEP},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *keep_arg = NULL;
    int c, rc;
    *ret_timeout_ms = RELEASE_WAIT_DEFAULT_MS;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_WAIT_TIMEOUT:
            if ((rc = cli_release_parse_timeout(cmd, optarg, ret_timeout_ms)) != 0)
                return rc;
            break;
        case OPT_KEEP:
            keep_arg = optarg;
            break;
        case 'h':
            return cli_help(cmd);
        default:
            return cli_getopt_error(cmd, c, argv);
        }
    }
    if ((rc = cli_release_parse_keep(cmd, keep_arg, ret_keep)) != 0)
        return rc;
    return -1;
}

/* ---- update ---- */

static int update_exec(const struct cli_global *g, int argc, char **argv)
{
    const struct cli_cmd *cmd = &cli_cmd_update;
    struct release_opts opts;
    memset(&opts, 0, sizeof(opts));
    int rc = cli_release_parse_args(cmd, argc, argv, &opts.wait_timeout_ms, &opts.keep);
    if (rc >= 0)
        return rc;
    const char *const *services = (const char *const *)argv + optind;
    size_t nservices = (size_t)(argc - optind);

    struct cli_session s;
    if ((rc = cli_session_open(g, cmd, services, nservices, true, &s)) != 0)
        return rc;
    /* a Swarm project too: release_update makes the Swarm decision (Swarm's own rolling
     * update, recorded as a release) */
    struct cli_release_run run;
    if ((rc = cli_release_run_start(&run, g, s.progress, &opts)) != 0) {
        cli_session_close(&s);
        return rc;
    }
    struct release_result out;
    struct zp_err err;
    zp_err_init(&err);
    rc = release_update(s.orch, s.project, services, nservices, &opts, &out, &err);
    cli_progress_done(s.progress);
    if (rc < 0)
        rc = cli_release_error(&err, &out);
    else if (out.outcome == RELEASE_UP_TO_DATE)
        printf("Release %" PRId64 " is up to date\n", out.id);
    else
        printf("Release %" PRId64 " deployed\n", out.id);
    if (out.outcome == RELEASE_ROLLED_BACK)
        printf("Rolled back to release %" PRId64 "\n", out.previous);
    release_result_release(&out);
    cli_release_run_stop(&run);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_update = {
    .name = "update",
    .usage = "[--wait-timeout SECONDS] [--keep N] [SERVICE...]",
    .summary = "record a release, deploy the files, roll back when unhealthy",
    .exec = update_exec,
};

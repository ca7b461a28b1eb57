/* cli/schedule: backup schedules of the control plane's projects, without the server
 * (`zpanel schedule add|list|remove`); `zpanel serve`'s scheduler runs them. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../server/server.h"
#include "../store/panel.h"
#include "cli.h"

#include "../util/banned.h"

static int parse_count(const char *flag, const char *v, int64_t *ret)
{
    if (zp_parse_int64(v, 0, 10000, ret) != 0)
        return cli_usage_error(&cli_cmd_schedule, "%s: '%s' is not a count from 0 to 10000", flag,
                               v);
    return 0;
}

static void when(int64_t t, char out[32])
{
    if (t <= 0 || t == INT64_MAX) {
        snprintf(out, 32, "never");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int schedule_add(int argc, char **argv)
{
    enum {
        OPT_LAST = 256,
        OPT_DAILY,
        OPT_WEEKLY,
        OPT_WEBHOOK,
        OPT_SUCCESS,
        OPT_STATE_DIR,
        OPT_SIZE,
        OPT_DESTINATION
    };
    static const struct option opts[] = {
        {"keep-last", required_argument, NULL, OPT_LAST},
        {"keep-daily", required_argument, NULL, OPT_DAILY},
        {"keep-weekly", required_argument, NULL, OPT_WEEKLY},
        {"webhook", required_argument, NULL, OPT_WEBHOOK},
        {"notify-success", no_argument, NULL, OPT_SUCCESS},
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"keep-size", required_argument, NULL, OPT_SIZE},
        {"destination", required_argument, NULL, OPT_DESTINATION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct server_schedule_spec spec = {0};
    const char *state_dir = NULL;
    int c, rc;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_LAST:
            if ((rc = parse_count("--keep-last", optarg, &spec.keep_last)) != 0)
                return rc;
            break;
        case OPT_DAILY:
            if ((rc = parse_count("--keep-daily", optarg, &spec.keep_daily)) != 0)
                return rc;
            break;
        case OPT_WEEKLY:
            if ((rc = parse_count("--keep-weekly", optarg, &spec.keep_weekly)) != 0)
                return rc;
            break;
        case OPT_WEBHOOK:
            spec.webhook = optarg;
            break;
        case OPT_SUCCESS:
            spec.notify_success = true;
            break;
        case OPT_STATE_DIR:
            state_dir = optarg;
            break;
        case OPT_SIZE:
            if (zp_parse_size(optarg, &spec.keep_bytes) != 0 || spec.keep_bytes < 0)
                return cli_usage_error(&cli_cmd_schedule,
                                       "--keep-size: '%s' is not a size (\"10GB\", \"512MiB\")",
                                       optarg);
            break;
        case OPT_DESTINATION:
            spec.destination = optarg;
            break;
        case 'h':
            return cli_help(&cli_cmd_schedule);
        default:
            return cli_getopt_error(&cli_cmd_schedule, c, argv);
        }
    }
    if (argc - optind != 2)
        return cli_usage_error(&cli_cmd_schedule, "schedule add needs PROJECT and CRON");
    spec.cron = argv[optind + 1];
    char *dir = cli_state_dir(state_dir);
    struct zp_err err;
    zp_err_init(&err);
    int64_t id = 0, next = 0;
    rc = server_schedule_add(dir, argv[optind], &spec, &id, &next, &err);
    free(dir);
    if (rc == ZP_E_INPUT)
        return cli_usage_error(&cli_cmd_schedule, "%s", err.msg);
    if (rc)
        return cli_error(&err);
    char at[32];
    when(next, at);
    printf("schedule %lld of project '%s': '%s', first run %s\n", (long long)id, argv[optind],
           spec.cron, at);
    return 0;
}

static int schedule_list(int argc, char **argv)
{
    const char *state_dir;
    int rc = cli_parse_state_dir(&cli_cmd_schedule, argc, argv, NULL, &state_dir);
    if (rc >= 0)
        return rc;
    if (argc - optind > 1)
        return cli_usage_error(&cli_cmd_schedule, "schedule list takes at most a PROJECT");
    char *dir = cli_state_dir(state_dir);
    struct zp_err err;
    zp_err_init(&err);
    struct store_panel *db = NULL;
    struct store_schedule *v = NULL;
    size_t n = 0;
    rc = store_panel_open(dir, &db, &err);
    if (rc == 0)
        rc = store_panel_schedule_list(db, optind < argc ? argv[optind] : NULL, &v, &n, &err);
    store_panel_close(db);
    free(dir);
    if (rc)
        return cli_error(&err);
    printf("%-4s %-20s %-20s %-14s %-20s %-16s %s\n", "ID", "PROJECT", "CRON", "KEEP L/D/W",
           "NEXT RUN", "DESTINATION", "WEBHOOK");
    for (size_t i = 0; i < n; i++) {
        char at[32], keep[96];
        when(v[i].next_run, at);
        int k = snprintf(keep, sizeof(keep), "%lld/%lld/%lld", (long long)v[i].keep_last,
                         (long long)v[i].keep_daily, (long long)v[i].keep_weekly);
        if (v[i].keep_bytes > 0 && k > 0 && (size_t)k < sizeof(keep))
            snprintf(keep + k, sizeof(keep) - (size_t)k, " %lldB", (long long)v[i].keep_bytes);
        printf("%-4lld %-20s %-20s %-14s %-20s %-16s %s%s\n", (long long)v[i].id, v[i].project,
               v[i].cron, keep, at, v[i].destination ? v[i].destination : "(local)",
               v[i].webhook ? v[i].webhook : "-",
               v[i].webhook && v[i].notify_success ? " (also on success)" : "");
    }
    store_schedules_free(v, n);
    return 0;
}

static int schedule_remove(int argc, char **argv)
{
    const char *state_dir;
    int rc = cli_parse_state_dir(&cli_cmd_schedule, argc, argv, NULL, &state_dir);
    if (rc >= 0)
        return rc;
    int64_t id = 0;
    if (argc - optind != 2 || zp_parse_int64(argv[optind + 1], 1, INT64_MAX, &id) != 0)
        return cli_usage_error(&cli_cmd_schedule, "schedule remove needs PROJECT and an ID");
    char *dir = cli_state_dir(state_dir);
    struct zp_err err;
    zp_err_init(&err);
    rc = server_schedule_remove(dir, argv[optind], id, &err);
    free(dir);
    if (rc)
        return cli_error(&err);
    printf("removed schedule %lld of project '%s'\n", (long long)id, argv[optind]);
    return 0;
}

static int schedule_exec(const struct cli_global *g, int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"add", schedule_add},
        {"list", schedule_list},
        {"remove", schedule_remove},
        {NULL, NULL},
    };
    (void)g;
    return cli_run_sub(&cli_cmd_schedule, subs, argc, argv);
}

const struct cli_cmd cli_cmd_schedule = {
    .name = "schedule",
    .usage = "add PROJECT CRON [--keep-last N] [--keep-daily D] [--keep-weekly W] "
             "[--keep-size SIZE] [--destination NAME] [--webhook URL] [--notify-success] | list "
             "[PROJECT] | remove PROJECT ID [--state-dir DIR]",
    .summary = "backup schedules run by zpanel serve",
    .exec = schedule_exec,
};

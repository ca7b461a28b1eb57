/* cli/notify: where zpanel serve sends the results of jobs (`zpanel notify add|list|remove|
 * test`), on the state directory: a running serve uses a change at its next job's end. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../notify/notify.h"
#include "../server/server.h"
#include "../store/panel.h"
#include "cli.h"

#include "../util/banned.h"

/* the first line of path ("-": standard input), without its line end */
static int read_secret(const char *path, char **ret, struct zp_err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL)
        return zp_err_sys(err, "--secret-file: '%s'", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (f != stdin)
        fclose(f);
    if (n <= 0) {
        free(line);
        return zp_err_set(err, ZP_E_INPUT, NULL, "--secret-file: '%s' is empty", path);
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    *ret = line;
    return 0;
}

static int notify_add(const char *state_dir, int argc, char **argv)
{
    enum { OPT_SECRET_FILE = 256, OPT_EVENTS, OPT_FAILURES, OPT_FROM, OPT_TO, OPT_USER };
    static const struct option opts[] = {
        {"secret-file", required_argument, NULL, OPT_SECRET_FILE},
        {"password-file", required_argument, NULL, OPT_SECRET_FILE},
        {"project", required_argument, NULL, 'p'},
        {"events", required_argument, NULL, OPT_EVENTS},
        {"failures-only", no_argument, NULL, OPT_FAILURES},
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"user", required_argument, NULL, OPT_USER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct notify_channel c = {0};
    const char *secret_file = NULL;
    int o;
    while ((o = getopt_long(argc, argv, ":p:h", opts, NULL)) != -1) {
        switch (o) {
        case OPT_SECRET_FILE:
            secret_file = optarg;
            break;
        case 'p':
            c.project = optarg;
            break;
        case OPT_EVENTS:
            c.events = optarg;
            break;
        case OPT_FAILURES:
            c.failures_only = true;
            break;
        case OPT_FROM:
            c.from = optarg;
            break;
        case OPT_TO:
            c.to = optarg;
            break;
        case OPT_USER:
            c.user = optarg;
            break;
        case 'h':
            return cli_help(&cli_cmd_notify);
        default:
            return cli_getopt_error(&cli_cmd_notify, o, argv);
        }
    }
    if (argc - optind != 2)
        return cli_usage_error(&cli_cmd_notify, "notify add takes a kind (webhook, email) and "
                                                "a URL");
    const char *kind = argv[optind];
    if (strcmp(kind, "webhook") == 0)
        c.kind = NOTIFY_WEBHOOK;
    else if (strcmp(kind, "email") == 0)
        c.kind = NOTIFY_SMTP;
    else
        return cli_usage_error(&cli_cmd_notify, "'%s' is not a kind of channel (webhook, email)",
                               kind);
    c.url = argv[optind + 1];
    struct zp_err err;
    zp_err_init(&err);
    char *secret = NULL;
    if (secret_file != NULL && read_secret(secret_file, &secret, &err) != 0)
        return cli_error(&err);
    c.secret = secret;
    int64_t id = 0;
    int rc = server_notify_add(state_dir, &c, &id, &err);
    free(secret);
    if (rc == ZP_E_INPUT)
        return cli_usage_error(&cli_cmd_notify, "%s", err.msg);
    if (rc)
        return cli_error(&err);
    printf("channel %" PRId64 ": %s %s\n", id, kind, c.url);
    return 0;
}

static int notify_list(const char *state_dir)
{
    struct zp_err err;
    zp_err_init(&err);
    struct store_channel *v = NULL;
    size_t n = 0;
    if (server_notify_list(state_dir, &v, &n, &err) != 0)
        return cli_error(&err);
    if (n == 0)
        printf("no channels: `zpanel notify add webhook URL --secret-file FILE` adds one\n");
    else
        printf("%-4s %-8s %-40s %-14s %s\n", "ID", "KIND", "URL", "PROJECT", "EVENTS");
    for (size_t i = 0; i < n; i++) {
        const struct store_channel *c = &v[i];
        printf("%-4" PRId64 " %-8s %-40s %-14s %s%s", c->id, c->kind, c->url,
               c->project ? c->project : "*", c->events ? c->events : "*",
               c->failures_only ? " (failures only)" : "");
        if (strcmp(c->kind, "email") == 0)
            printf(" from %s to %s", c->mail_from ? c->mail_from : "?",
                   c->mail_to ? c->mail_to : "?");
        printf("\n");
    }
    store_channels_free(v, n);
    return 0;
}

static int notify_id(int argc, char **argv, int64_t *ret)
{
    if (argc != 2)
        return cli_usage_error(&cli_cmd_notify, "notify %s takes one channel number", argv[0]);
    if (zp_parse_int64(argv[1], 1, INT64_MAX, ret) != 0)
        return cli_usage_error(&cli_cmd_notify, "'%s' is not a channel number", argv[1]);
    return 0;
}

static int notify_exec(const struct cli_global *g, int argc, char **argv)
{
    (void)g;
    if (argc < 2)
        return cli_usage_error(&cli_cmd_notify, "a subcommand is needed (add, list, remove, "
                                                "test)");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
        return cli_help(&cli_cmd_notify);
    char *dir = zp_state_dir();
    int rc;
    int64_t id = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (strcmp(sub, "add") == 0) {
        rc = notify_add(dir, argc - 1, argv + 1);
    } else if (strcmp(sub, "list") == 0) {
        rc = argc == 2 ? notify_list(dir)
                       : cli_usage_error(&cli_cmd_notify, "notify list takes no arguments");
    } else if (strcmp(sub, "remove") == 0) {
        if ((rc = notify_id(argc - 1, argv + 1, &id)) == 0) {
            rc = server_notify_remove(dir, id, &err) ? cli_error(&err) : 0;
            if (rc == 0)
                printf("channel %" PRId64 " removed\n", id);
        }
    } else if (strcmp(sub, "test") == 0) {
        if ((rc = notify_id(argc - 1, argv + 1, &id)) == 0) {
            rc = server_notify_test(dir, id, &err) ? cli_error(&err) : 0;
            if (rc == 0)
                printf("channel %" PRId64 ": test event delivered\n", id);
        }
    } else {
        rc = cli_usage_error(&cli_cmd_notify, "unknown subcommand '%s'", sub);
    }
    free(dir);
    return rc;
}

const struct cli_cmd cli_cmd_notify = {
    .name = "notify",
    .usage = "add webhook URL --secret-file FILE [-p PROJECT] [--events deploy,backup] "
             "[--failures-only] | add email smtp://HOST:PORT --from ADDR --to ADDR[,ADDR] "
             "[--user U --password-file FILE] | list | remove ID | test ID",
    .summary = "send the results of serve's jobs to webhooks and email",
    .exec = notify_exec,
};

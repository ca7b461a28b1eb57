/* cli/token: create API tokens for zpanel serve (`zpanel token create`); the token is
 * printed once, alone on the last line of standard output. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../server/server.h"
#include "cli.h"

#include "../util/banned.h"

/* "30d", "12h", "90m", "3600" (seconds) into seconds. */
static int parse_expires(const char *v, int64_t *ret)
{
    size_t n = strlen(v);
    if (n > 1 && v[n - 1] == 'd') {
        char *num = zp_strndup(v, n - 1);
        int64_t days;
        int rc = zp_parse_int64(num, 1, 36500, &days);
        free(num);
        if (rc == 0)
            *ret = days * 86400;
        return rc;
    }
    int64_t ns;
    if (zp_parse_duration(v, true, &ns) != 0 || ns < 1000000000)
        return ZP_E_INPUT;
    *ret = ns / 1000000000;
    return 0;
}

static int token_create(int argc, char **argv)
{
    enum { OPT_USER = 256, OPT_SCOPE, OPT_EXPIRES, OPT_STATE_DIR };
    static const struct option opts[] = {
        {"user", required_argument, NULL, OPT_USER},
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"expires", required_argument, NULL, OPT_EXPIRES},
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *user = NULL, *scope = "read", *state_dir = NULL;
    int64_t ttl = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_USER:
            user = optarg;
            break;
        case OPT_SCOPE:
            scope = optarg;
            break;
        case OPT_EXPIRES:
            if (parse_expires(optarg, &ttl) != 0)
                return cli_usage_error(&cli_cmd_token,
                                       "--expires: '%s' is not a duration (30d, 12h, 90m)", optarg);
            break;
        case OPT_STATE_DIR:
            state_dir = optarg;
            break;
        case 'h':
            return cli_help(&cli_cmd_token);
        default:
            return cli_getopt_error(&cli_cmd_token, c, argv);
        }
    }
    if (!user)
        return cli_usage_error(&cli_cmd_token, "--user is required");
    if (optind < argc)
        return cli_usage_error(&cli_cmd_token, "token create takes no arguments ('%s')",
                               argv[optind]);
    char *dir = cli_state_dir(state_dir);
    char *token = NULL;
    struct zp_err err;
    zp_err_init(&err);
    int rc = server_token_create(dir, user, scope, ttl, &token, &err);
    free(dir);
    if (rc == ZP_E_INPUT)
        return cli_usage_error(&cli_cmd_token, "%s", err.msg);
    if (rc)
        return cli_error(&err);
    printf("token for %s, scope %s, %s (shown once, store it now):\n%s\n", user, scope,
           ttl ? "expiring" : "never expiring", token);
    free(token);
    return 0;
}

static int token_exec(const struct cli_global *g, int argc, char **argv)
{
    static const struct cli_sub subs[] = {{"create", token_create}, {NULL, NULL}};
    (void)g;
    return cli_run_sub(&cli_cmd_token, subs, argc, argv);
}

const struct cli_cmd cli_cmd_token = {
    .name = "token",
    .usage = "create --user NAME [--scope read|deploy|write|admin] [--expires 30d] "
             "[--state-dir DIR]",
    .summary = "create API tokens for zpanel serve",
    .exec = token_exec,
};

/* cli/destination: the S3 destinations stored in the control plane, without the server
 * (`zpanel destination add|list|remove`); backup schedules upload to them by name. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../server/server.h"
#include "../store/panel.h"
#include "../store/secret.h"
#include "cli.h"

#include "../util/banned.h"

static const char *env_value(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

static int destination_add(int argc, char **argv)
{
    enum { OPT_ENDPOINT = 256, OPT_REGION, OPT_BUCKET, OPT_PREFIX, OPT_PATH_STYLE, OPT_STATE_DIR };
    static const struct option opts[] = {
        {"endpoint", required_argument, NULL, OPT_ENDPOINT},
        {"region", required_argument, NULL, OPT_REGION},
        {"bucket", required_argument, NULL, OPT_BUCKET},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"path-style", no_argument, NULL, OPT_PATH_STYLE},
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct server_destination_spec d = {.region = "us-east-1"};
    const char *state_dir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_ENDPOINT:
            d.endpoint = optarg;
            break;
        case OPT_REGION:
            d.region = optarg;
            break;
        case OPT_BUCKET:
            d.bucket = optarg;
            break;
        case OPT_PREFIX:
            d.prefix = optarg;
            break;
        case OPT_PATH_STYLE:
            d.path_style = true;
            break;
        case OPT_STATE_DIR:
            state_dir = optarg;
            break;
        case 'h':
            return cli_help(&cli_cmd_destination);
        default:
            return cli_getopt_error(&cli_cmd_destination, c, argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(&cli_cmd_destination, "destination add needs a NAME");
    d.name = argv[optind];
    if (d.endpoint == NULL)
        return cli_usage_error(&cli_cmd_destination, "--endpoint URL is required");
    if (d.bucket == NULL)
        return cli_usage_error(&cli_cmd_destination, "--bucket BUCKET is required");
    /* credentials from the environment, never flags: a command line is visible to every
     * user of the host */
    d.access_key = env_value("AWS_ACCESS_KEY_ID");
    d.secret_key = env_value("AWS_SECRET_ACCESS_KEY");
    if (d.access_key == NULL || d.secret_key == NULL)
        return cli_usage_error(&cli_cmd_destination,
                               "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to the "
                               "destination's credentials");
    char *dir = cli_state_dir(state_dir);
    struct zp_err err;
    zp_err_init(&err);
    int rc = server_destination_add(dir, &d, &err);
    free(dir);
    if (rc == ZP_E_INPUT)
        return cli_usage_error(&cli_cmd_destination, "%s", err.msg);
    if (rc)
        return cli_error(&err);
    printf("destination '%s': s3://%s/%s at %s (secret key sealed)\n", d.name, d.bucket,
           d.prefix ? d.prefix : "", d.endpoint);
    return 0;
}

static int destination_list(int argc, char **argv)
{
    const char *state_dir;
    bool json = false;
    int rc = cli_parse_state_dir(&cli_cmd_destination, argc, argv, &json, &state_dir);
    if (rc >= 0)
        return rc;
    if (argc - optind != 0)
        return cli_usage_error(&cli_cmd_destination, "unexpected argument '%s'", argv[optind]);
    char *dir = cli_state_dir(state_dir);
    struct zp_err err;
    zp_err_init(&err);
    struct store_destination *v = NULL;
    size_t n = 0;
    rc = server_destination_list(dir, &v, &n, &err);
    free(dir);
    if (rc)
        return cli_error(&err);
    struct zp_buf out = ZP_BUF_INIT;
    if (json) {
        zp_buf_addc(&out, '[');
        for (size_t i = 0; i < n; i++) {
            zp_buf_adds(&out, i ? ",\n{\"name\":" : "\n{\"name\":");
            cli_json_str(&out, v[i].name);
            zp_buf_adds(&out, ",\"endpoint\":");
            cli_json_str(&out, v[i].endpoint);
            zp_buf_adds(&out, ",\"region\":");
            cli_json_str(&out, v[i].region);
            zp_buf_adds(&out, ",\"bucket\":");
            cli_json_str(&out, v[i].bucket);
            zp_buf_adds(&out, ",\"prefix\":");
            cli_json_str(&out, v[i].prefix);
            zp_buf_addf(
                &out, ",\"path_style\":%s,\"access_key_id\":", v[i].path_style ? "true" : "false");
            cli_json_str(&out, v[i].access_key);
            zp_buf_adds(&out, ",\"secret_key\":\"" STORE_SECRET_MASK "\"}");
        }
        zp_buf_adds(&out, n ? "\n]\n" : "]\n");
    } else {
        static const char *const heads[] = {"NAME", "URL", "ENDPOINT", "REGION", "ACCESS KEY"};
        char **cells = zp_calloc(n * 5 + 1, sizeof(*cells));
        for (size_t i = 0; i < n; i++) {
            cells[i * 5] = zp_strdup(v[i].name);
            cells[i * 5 + 1] = zp_asprintf("s3://%s/%s", v[i].bucket, v[i].prefix);
            cells[i * 5 + 2] =
                zp_asprintf("%s%s", v[i].endpoint, v[i].path_style ? " (path style)" : "");
            cells[i * 5 + 3] = zp_strdup(v[i].region);
            cells[i * 5 + 4] = zp_strdup(v[i].access_key);
        }
        size_t w[5];
        cli_table_widths(heads, cells, n, 5, w);
        cli_table_row(&out, heads, w, 5);
        for (size_t i = 0; i < n; i++)
            cli_table_row(&out, (const char *const *)cells + i * 5, w, 5);
        for (size_t i = 0; i < n * 5; i++)
            free(cells[i]);
        free(cells);
    }
    fwrite(out.p, 1, out.len, stdout);
    zp_buf_release(&out);
    store_destinations_free(v, n);
    return 0;
}

static int destination_remove(int argc, char **argv)
{
    const char *state_dir;
    int rc = cli_parse_state_dir(&cli_cmd_destination, argc, argv, NULL, &state_dir);
    if (rc >= 0)
        return rc;
    if (argc - optind != 1)
        return cli_usage_error(&cli_cmd_destination, "destination remove needs a NAME");
    char *dir = cli_state_dir(state_dir);
    struct zp_err err;
    zp_err_init(&err);
    rc = server_destination_remove(dir, argv[optind], &err);
    free(dir);
    if (rc)
        return cli_error(&err);
    printf("removed destination '%s' (its objects stay)\n", argv[optind]);
    return 0;
}

static int destination_exec(const struct cli_global *g, int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"add", destination_add},
        {"list", destination_list},
        {"remove", destination_remove},
        {NULL, NULL},
    };
    (void)g;
    return cli_run_sub(&cli_cmd_destination, subs, argc, argv);
}

const struct cli_cmd cli_cmd_destination = {
    .name = "destination",
    .usage = "add NAME --endpoint URL --bucket BUCKET [--region R] [--prefix P] [--path-style] "
             "(credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) | list "
             "[--format table|json] | remove NAME [--state-dir DIR]",
    .summary = "S3 destinations stored (secret sealed) for backup schedules",
    .exec = destination_exec,
};

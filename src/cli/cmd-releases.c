/* cli/releases: list the recorded releases (up, update, rollback), newest first; reads the
 * state without writing it. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../release/release.h"
#include "cli.h"

#include "../util/banned.h"

/* "sha256:0123456789ab..." -> "0123456789ab" */
static const char *short_id(const char *id)
{
    static const char prefix[] = "sha256:";
    if (zp_str_has_prefix(id, prefix))
        id += sizeof(prefix) - 1;
    return id;
}

static void print_json(const struct store_release *list, size_t n)
{
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_addc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        const struct store_release *r = &list[i];
        zp_buf_addf(&b, "%s{\"id\":%" PRId64 ",\"created\":%" PRId64 ",\"kind\":", i ? "," : "",
                    r->id, r->created);
        cli_json_str(&b, r->kind);
        zp_buf_adds(&b, ",\"status\":");
        cli_json_str(&b, store_release_status_name(r->status));
        zp_buf_addf(&b, ",\"source\":%" PRId64 ",\"note\":", r->source);
        if (r->note != NULL)
            cli_json_str(&b, r->note);
        else
            zp_buf_adds(&b, "null");
        zp_buf_adds(&b, ",\"services\":[");
        for (size_t k = 0; k < r->nservices; k++) {
            const struct store_release_service *s = &r->services[k];
            zp_buf_adds(&b, k ? ",{\"service\":" : "{\"service\":");
            cli_json_str(&b, s->service);
            zp_buf_adds(&b, ",\"image\":");
            cli_json_str(&b, s->image_ref);
            zp_buf_adds(&b, ",\"image_id\":");
            cli_json_str(&b, s->image_id);
            zp_buf_adds(&b, ",\"config_hash\":");
            cli_json_str(&b, s->config_hash);
            zp_buf_adds(&b, ",\"keep_tag\":");
            if (s->keep_tag != NULL)
                cli_json_str(&b, s->keep_tag);
            else
                zp_buf_adds(&b, "null");
            zp_buf_addc(&b, '}');
        }
        zp_buf_adds(&b, "]}");
    }
    zp_buf_adds(&b, "]\n");
    fputs(zp_buf_cstr(&b), stdout);
    zp_buf_release(&b);
}

static void print_table(const struct store_release *list, size_t n)
{
    printf("%-4s  %-19s  %-14s  %-10s  %-30s  %s\n", "ID", "CREATED", "KIND", "STATUS", "IMAGES",
           "NOTE");
    for (size_t i = 0; i < n; i++) {
        const struct store_release *r = &list[i];
        char when[32] = "";
        time_t t = (time_t)r->created;
        struct tm tm;
        if (localtime_r(&t, &tm) != NULL)
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        struct zp_buf kind = ZP_BUF_INIT, images = ZP_BUF_INIT;
        zp_buf_adds(&kind, r->kind);
        if (r->source > 0)
            zp_buf_addf(&kind, " of %" PRId64, r->source);
        for (size_t k = 0; k < r->nservices; k++)
            zp_buf_addf(&images, "%s%s=%.12s", k ? "," : "", r->services[k].service,
                        short_id(r->services[k].image_id));
        printf("%-4" PRId64 "  %-19s  %-14s  %-10s  %-30s  %s\n", r->id, when, zp_buf_cstr(&kind),
               store_release_status_name(r->status), zp_buf_cstr(&images), r->note ? r->note : "");
        zp_buf_release(&kind);
        zp_buf_release(&images);
    }
}

static int releases_exec(const struct cli_global *g, int argc, char **argv)
{
    enum { OPT_FORMAT = 256 };
    static const struct option opts[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct cli_cmd *cmd = &cli_cmd_releases;
    bool json = false, quiet = false;
    int c, rc;
    while ((c = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
        switch (c) {
        case OPT_FORMAT:
            if (cli_parse_format(cmd, optarg, "table", &json) != 0)
                return ZP_EXIT_USAGE;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            return cli_help(cmd);
        default:
            return cli_getopt_error(cmd, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);

    struct compose_project *p = NULL;
    if ((rc = cli_load_project(g, NULL, 0, false, &p)) != 0)
        return rc;
    struct store_release *list = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    /* read-only: nothing is created, a read-only state directory is fine */
    if (release_list(NULL, p->name, &list, &n, &err) < 0) {
        rc = cli_error(&err);
        goto out;
    }
    if (quiet) {
        for (size_t i = 0; i < n; i++)
            printf("%" PRId64 "\n", list[i].id);
    } else if (json) {
        print_json(list, n);
    } else {
        print_table(list, n);
    }
out:
    store_releases_free(list, n);
    compose_project_free(p);
    return rc;
}

const struct cli_cmd cli_cmd_releases = {
    .name = "releases",
    .usage = "[--format table|json] [-q]",
    .summary = "list the releases recorded by up, update and rollback",
    .exec = releases_exec,
};

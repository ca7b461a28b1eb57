/* cli/images: the images the project's containers run. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

struct row {
    const char *container;
    char *repo;
    char *tag;
    char *id; /* "sha256:..." */
    int64_t size;
};

/* Sizes as the Docker CLI prints them: decimal units, three significant digits.
 */
static void human_size(int64_t bytes, char *out, size_t cap)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1000.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1000.0;
        u++;
    }
    snprintf(out, cap, "%.3g%s", v, units[u]);
}

static const char *short_id(const char *id)
{
    return zp_str_has_prefix(id, "sha256:") ? id + 7 : id;
}

/* Split "reg:5000/name:tag" (or "name@sha256:...") into repository and tag. */
static void split_ref(const char *ref, char **ret_repo, char **ret_tag)
{
    const char *at = strchr(ref, '@');
    const char *slash = strrchr(ref, '/');
    const char *colon = strrchr(ref, ':');
    if (at) {
        *ret_repo = zp_strndup(ref, (size_t)(at - ref));
        *ret_tag = zp_strdup("<none>");
    } else if (colon && (!slash || colon > slash)) {
        *ret_repo = zp_strndup(ref, (size_t)(colon - ref));
        *ret_tag = zp_strdup(colon + 1);
    } else {
        *ret_repo = zp_strdup(ref);
        *ret_tag = zp_strdup("latest");
    }
}

static int images_exec(const struct cli_global *g, int argc, char **argv)
{
    enum { OPT_FORMAT = 256 };
    static const struct option opts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool quiet = false, json = false;
    int c;
    while ((c = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = true;
            break;
        case OPT_FORMAT:
            if (cli_parse_format(&cli_cmd_images, optarg, "table", &json) != 0)
                return ZP_EXIT_USAGE;
            break;
        case 'h':
            return cli_help(&cli_cmd_images);
        default:
            return cli_getopt_error(&cli_cmd_images, c, argv);
        }
    }
    char **services = argv + optind;
    size_t nservices = (size_t)(argc - optind);

    struct cli_session s;
    int rc =
        cli_session_open(g, &cli_cmd_images, (const char *const *)services, nservices, false, &s);
    if (rc)
        return rc;
    struct orch_container *cs = NULL;
    size_t n = 0;
    struct row *rows = NULL;
    size_t nrows = 0;
    struct engine_image_list imgs = {NULL, 0};
    struct zp_err err;
    zp_err_init(&err);
    struct engine *e = orch_engine(s.orch);
    if (orch_ps(s.orch, (const char *const *)services, nservices, true, &cs, &n, &err) != 0 ||
        engine_image_list(e, NULL, NULL, &imgs, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    rows = zp_calloc(n + 1, sizeof(*rows));
    for (size_t i = 0; i < n; i++) {
        struct engine_container ct;
        if (engine_container_inspect(e, cs[i].id, &ct, &err) != 0) {
            if (err.code == ZP_E_NOTFOUND) { /* removed meanwhile */
                zp_err_init(&err);
                continue;
            }
            rc = cli_error(&err);
            goto out;
        }
        struct row *r = &rows[nrows++];
        r->container = cs[i].name;
        split_ref(ct.config_image ? ct.config_image : "", &r->repo, &r->tag);
        r->id = zp_strdup(ct.image_id ? ct.image_id : "");
        for (size_t k = 0; k < imgs.n; k++)
            if (strcmp(imgs.items[k].id, r->id) == 0)
                r->size = imgs.items[k].size;
        engine_container_release(&ct);
    }
    if (quiet) {
        /* each image once */
        for (size_t i = 0; i < nrows; i++) {
            bool seen = false;
            for (size_t k = 0; k < i && !seen; k++)
                seen = strcmp(rows[k].id, rows[i].id) == 0;
            if (!seen)
                printf("%s\n", short_id(rows[i].id));
        }
    } else if (json) {
        struct zp_buf b = ZP_BUF_INIT;
        zp_buf_addc(&b, '[');
        for (size_t i = 0; i < nrows; i++) {
            zp_buf_adds(&b, i ? ",{\"ContainerName\":" : "{\"ContainerName\":");
            cli_json_str(&b, rows[i].container);
            zp_buf_adds(&b, ",\"Repository\":");
            cli_json_str(&b, rows[i].repo);
            zp_buf_adds(&b, ",\"Tag\":");
            cli_json_str(&b, rows[i].tag);
            zp_buf_adds(&b, ",\"ID\":");
            cli_json_str(&b, rows[i].id);
            zp_buf_addf(&b, ",\"Size\":%lld}", (long long)rows[i].size);
        }
        zp_buf_adds(&b, "]\n");
        fputs(zp_buf_cstr(&b), stdout);
        zp_buf_release(&b);
    } else {
        size_t w[3] = {strlen("CONTAINER"), strlen("REPOSITORY"), strlen("TAG")};
        for (size_t i = 0; i < nrows; i++) {
            const char *cells[] = {rows[i].container, rows[i].repo, rows[i].tag};
            for (size_t k = 0; k < 3; k++)
                if (strlen(cells[k]) > w[k])
                    w[k] = strlen(cells[k]);
        }
        printf("%-*s   %-*s   %-*s   %-12s   %s\n", (int)w[0], "CONTAINER", (int)w[1], "REPOSITORY",
               (int)w[2], "TAG", "IMAGE ID", "SIZE");
        for (size_t i = 0; i < nrows; i++) {
            char size[32];
            human_size(rows[i].size, size, sizeof(size));
            printf("%-*s   %-*s   %-*s   %-12.12s   %s\n", (int)w[0], rows[i].container, (int)w[1],
                   rows[i].repo, (int)w[2], rows[i].tag, short_id(rows[i].id), size);
        }
    }
out:
    for (size_t i = 0; i < nrows; i++) {
        free(rows[i].repo);
        free(rows[i].tag);
        free(rows[i].id);
    }
    free(rows);
    engine_image_list_release(&imgs);
    orch_containers_free(cs, n);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_images = {
    .name = "images",
    .usage = "[-q] [--format table|json] [SERVICE...]",
    .summary = "list the images used by the project's containers",
    .exec = images_exec,
};

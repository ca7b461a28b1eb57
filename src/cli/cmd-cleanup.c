/* cli/cleanup: remove what the project left behind (stopped one-off containers, its
 * dangling images, networks no longer in the model, old release images) and print what
 * was removed and the space freed. Never touches objects without this project's label. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../orchestrator/orchestrator.h"
#include "../orchestrator/status.h"
#include "../release/release.h"
#include "cli.h"

#include "../util/banned.h"

static const char *kind_name(enum orch_cleanup_kind k)
{
    switch (k) {
    case ORCH_CLEAN_CONTAINER:
        return "container";
    case ORCH_CLEAN_IMAGE:
        return "image";
    case ORCH_CLEAN_RELEASE:
        return "release image";
    case ORCH_CLEAN_NETWORK:
        return "network";
    }
    return "object";
}

static void print_result(const struct orch_cleanup_result *r, bool dry_run)
{
    char sz[ORCH_FMT_BYTES];
    size_t done = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct orch_cleanup_item *it = &r->items[i];
        if (it->error) {
            fprintf(stderr, "zpanel: cannot remove %s '%s': %s, skipping\n", kind_name(it->kind),
                    it->name, it->error);
            continue;
        }
        if (!dry_run && !it->removed)
            continue; /* gone meanwhile */
        done++;
        const char *verb = dry_run ? "Would remove" : "Removed";
        if (it->kind == ORCH_CLEAN_RELEASE)
            verb = dry_run ? "Would untag" : "Untagged";
        printf("%s %s %s", verb, kind_name(it->kind), it->name);
        if (it->kind == ORCH_CLEAN_IMAGE && strcmp(it->name, it->id) != 0)
            printf(" (%.19s)", it->id);
        if (it->size > 0) {
            orch_fmt_bytes((uint64_t)it->size, false, sz);
            printf(", %s", sz);
        }
        if (dry_run && it->kind == ORCH_CLEAN_NETWORK)
            printf(" (if no container uses it)");
        putchar('\n');
    }
    orch_fmt_bytes(r->freed > 0 ? (uint64_t)r->freed : 0, false, sz);
    if (done == 0)
        printf("Nothing to remove\n");
    printf("%s: %s\n", dry_run ? "Space that would be reclaimed" : "Total reclaimed space", sz);
}

static int cleanup_exec(const struct cli_global *g, int argc, char **argv)
{
    enum { OPT_DRY_RUN = 256, OPT_ALL, OPT_KEEP };
    static const struct option opts[] = {
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"all", no_argument, NULL, OPT_ALL},
        {"keep", required_argument, NULL, OPT_KEEP},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct orch_cleanup_opts co = {.keep = ORCH_CLEANUP_KEEP_DEFAULT};
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DRY_RUN:
            co.dry_run = true;
            break;
        case OPT_ALL:
            co.all = true;
            break;
        case OPT_KEEP:
            if (zp_parse_int64(optarg, 0, 1000000, &co.keep) < 0)
                return cli_usage_error(&cli_cmd_cleanup,
                                       "--keep: '%s' is not a number of releases (0 or more)",
                                       optarg);
            break;
        case 'h':
            return cli_help(&cli_cmd_cleanup);
        default:
            return cli_getopt_error(&cli_cmd_cleanup, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(&cli_cmd_cleanup, "unexpected argument '%s'", argv[optind]);

    struct cli_session s;
    int rc = cli_session_open(g, &cli_cmd_cleanup, NULL, 0, false, &s);
    if (rc)
        return rc;
    struct orch_cleanup_result r = {0};
    struct zp_err err;
    zp_err_init(&err);
    /* recorded releases' keep tags stay; a real cleanup holds the deployment lock */
    struct release_opts ro = {.host = g->host};
    if (release_cleanup(s.orch, s.project->name, &co, &ro, &r, &err) != 0)
        rc = cli_error(&err);
    else
        print_result(&r, co.dry_run);
    orch_cleanup_result_release(&r);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_cleanup = {
    .name = "cleanup",
    .usage = "[--dry-run] [--all] [--keep N]",
    .summary = "remove stopped one-off containers, dangling images, stale networks and old "
               "releases of the project",
    .exec = cleanup_exec,
};

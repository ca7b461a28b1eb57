/* cli/rollback: redeploy a recorded release (by default the one that ran before the one
 * running now) from its kept images and recorded model, recorded as a release itself. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "../orchestrator/release.h"
#include "../store/store.h"
#include "cli.h"

#include "../util/banned.h"

/* Are the images of release t still on the engine? */
static int check_images(struct engine *e, const struct store_release *t, struct zp_err *err)
{
    for (size_t i = 0; i < t->nservices; i++) {
        const struct store_release_service *s = &t->services[i];
        bool exists = false;
        if (engine_image_inspect(e, s->image_id, &exists, NULL, err) < 0)
            return err->code;
        if (!exists)
            return zp_err_set(err, ZP_E_NOTFOUND, NULL,
                              "release %" PRId64 ": the image of service '%s' (%s) is no "
                              "longer on the engine",
                              t->id, s->service, s->image_id);
    }
    return 0;
}

static int rollback_exec(const struct cli_global *g, int argc, char **argv)
{
    const struct cli_cmd *cmd = &cli_cmd_rollback;
    int64_t timeout_ms, requested = 0;
    size_t keep;
    int rc = cli_release_parse_args(cmd, argc, argv, &timeout_ms, &keep);
    if (rc >= 0)
        return rc;
    if (argc - optind > 1)
        return cli_usage_error(cmd, "one release at most ('%s' is extra)", argv[optind + 1]);
    if (argc - optind == 1 && zp_parse_int64(argv[optind], 1, INT64_MAX, &requested) != 0)
        return cli_usage_error(cmd, "'%s' is not a release number", argv[optind]);

    struct compose_project *p = NULL;
    if ((rc = cli_load_project(g, NULL, 0, false, &p)) != 0)
        return rc;
    struct cli_progress *progress = cli_progress_new(g);
    struct cli_release r;
    struct store_release *list = NULL, rel;
    memset(&rel, 0, sizeof(rel));
    size_t nlist = 0;
    int64_t target_id = 0;
    struct zp_err err;
    zp_err_init(&err);
    if ((rc = cli_release_begin(g, p, progress, timeout_ms, keep, &r, &list, &nlist)) != 0)
        goto out_project;
    if (release_pick_target(list, nlist, requested, &target_id, &err) < 0) {
        rc = cli_error(&err);
        goto out;
    }
    const struct store_release *target = NULL;
    for (size_t i = 0; i < nlist; i++)
        if (list[i].id == target_id)
            target = &list[i];
    const struct store_release *prev = release_running(list, nlist);
    if (target == NULL) /* release_pick_target picks from list: never */
        zp_err_set(&err, ZP_E_INTERNAL, NULL, "release %" PRId64 " vanished", target_id);
    if (target == NULL || check_images(r.engine, target, &err) < 0) {
        rc = cli_error(&err);
        goto out;
    }

    /* the redeploy is a release of its own, keeping the same images under its own tags */
    int64_t id = 1;
    for (size_t i = 0; i < nlist; i++)
        if (list[i].id >= id)
            id = list[i].id + 1;
    rel.kind = zp_strdup("rollback");
    rel.status = STORE_RELEASE_DEPLOYING;
    rel.source = target->id;
    rel.model_json = zp_strdup(target->model_json);
    rel.note = zp_asprintf("rollback to release %" PRId64, target->id);
    rel.services = zp_calloc(target->nservices ? target->nservices : 1, sizeof(*rel.services));
    rel.nservices = target->nservices;
    for (size_t i = 0; i < target->nservices; i++) {
        const struct store_release_service *from = &target->services[i];
        struct store_release_service *to = &rel.services[i];
        to->service = zp_strdup(from->service);
        to->image_ref = zp_strdup(from->image_ref);
        to->image_id = zp_strdup(from->image_id);
        to->config_hash = zp_strdup(from->config_hash);
        to->keep_tag = release_keep_tag(r.project, from->service, id);
    }
    if (release_keep(r.engine, &rel, &err) < 0 || store_release_add(r.store, &rel, &err) < 0) {
        rc = cli_error(&err);
        goto out;
    }
    cli_progress_note(progress,
                      "Rolling back to release %" PRId64 " (recorded as release %" PRId64 ")",
                      target->id, rel.id);
    char *problem = NULL;
    rc = cli_release_restore(&r, &rel, &problem);
    cli_progress_done(progress);
    rc = cli_release_finish(&r, &rel, prev, rc, problem);
    if (rc == 0)
        printf("Release %" PRId64 " deployed (rollback to release %" PRId64 ")\n", rel.id,
               target->id);
    free(problem);
out:
    cli_release_close(&r);
out_project:
    store_release_release(&rel);
    store_releases_free(list, nlist);
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

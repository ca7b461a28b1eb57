/* release/record: what a release records (model, image IDs, config hashes, keep tags),
 * choosing a rollback target, the keep tags on the engine, loading a recorded model again
 * and the project's lock. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "../orchestrator/mapping.h"
#include "../store/secret.h"
#include "release-int.h"
#include "release.h"

#include "../util/banned.h"

/* Cap on the problems listed in one warning or note. */
#define MAX_LISTED 20

/* ---- pure parts ---- */

char *release_keep_tag(const char *project, const char *service, int64_t id)
{
    char *repo = orch_release_repo(project, service);
    char *tag = zp_asprintf("%s:%" PRId64, repo, id);
    free(repo);
    return tag;
}

int release_ref_split(const char *ref, char **ret_repo, char **ret_tag, struct zp_err *err)
{
    if (ref == NULL || ref[0] == '\0')
        return zp_err_set(err, ZP_E_INPUT, NULL, "empty image reference");
    if (strchr(ref, '@') != NULL)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "image '%s' is pinned by digest and cannot be tagged", ref);
    /* a ':' after the last '/' starts the tag; one before it belongs to a registry port */
    const char *slash = strrchr(ref, '/');
    const char *colon = strrchr(slash ? slash : ref, ':');
    if (colon == NULL) {
        *ret_repo = zp_strdup(ref);
        *ret_tag = zp_strdup("latest");
        return 0;
    }
    if (colon == ref || colon[1] == '\0')
        return zp_err_set(err, ZP_E_INPUT, NULL, "invalid image reference '%s'", ref);
    *ret_repo = zp_strndup(ref, (size_t)(colon - ref));
    *ret_tag = zp_strdup(colon + 1);
    return 0;
}

const struct store_release *release_running(const struct store_release *list, size_t n)
{
    const struct store_release *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (list[i].status == STORE_RELEASE_DEPLOYED && (best == NULL || list[i].id > best->id))
            best = &list[i];
    return best;
}

int release_pick_target(const struct store_release *list, size_t n, int64_t requested,
                        int64_t *ret_id, struct zp_err *err)
{
    if (requested > 0) {
        for (size_t i = 0; i < n; i++) {
            if (list[i].id != requested)
                continue;
            if (list[i].status == STORE_RELEASE_DEPLOYING)
                return zp_err_set(err, ZP_E_CONFLICT, NULL,
                                  "release %" PRId64 " is still being deployed (or its "
                                  "update was interrupted)",
                                  requested);
            *ret_id = requested;
            return 0;
        }
        return zp_err_set(err, ZP_E_NOTFOUND, NULL,
                          "no release %" PRId64 " (`zpanel releases` lists them)", requested);
    }
    const struct store_release *run = release_running(list, n);
    if (run == NULL)
        return zp_err_set(err, ZP_E_NOTFOUND, NULL,
                          "no release is running, so there is none before it; name the "
                          "release to redeploy (`zpanel releases` lists them)");
    const struct store_release *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (list[i].id < run->id && list[i].status == STORE_RELEASE_SUPERSEDED &&
            (best == NULL || list[i].id > best->id))
            best = &list[i];
    if (best == NULL)
        return zp_err_set(err, ZP_E_NOTFOUND, NULL,
                          "no release ran before release %" PRId64 ", the one running now",
                          run->id);
    *ret_id = best->id;
    return 0;
}

char *release_model_json(const struct zp_node *model)
{
    struct zp_node *copy = zp_node_copy(model);
    struct zp_buf b = ZP_BUF_INIT;
    /* env_file contents are in `environment` already: the record stands alone, so a rollback
     * neither reads files that changed since nor fails on one that was deleted */
    struct zp_node *svcs = zp_node_get(copy, "services");
    for (size_t i = 0; zp_node_is_map(svcs) && i < svcs->n; i++)
        zp_node_del(svcs->pairs[i].value, "env_file");
    compose_escape_dollars(copy);
    compose_emit_json(copy, true, &b);
    zp_buf_addc(&b, '\n');
    zp_node_free(copy);
    return zp_buf_detach(&b, NULL);
}

void release_services_free(struct store_release_service *s, size_t n)
{
    for (size_t i = 0; s != NULL && i < n; i++) {
        free(s[i].service);
        free(s[i].image_ref);
        free(s[i].image_id);
        free(s[i].keep_tag);
        free(s[i].config_hash);
    }
    free(s);
}

void release_services_build(const char *project, const struct zp_node *model, int64_t id,
                            const struct orch_snap_target *targets, size_t ntargets,
                            const struct orch_snap *obs, size_t nobs,
                            struct store_release_service **ret, size_t *ret_n)
{
    const struct zp_node *svcs = zp_node_get(model, "services");
    size_t nsvc = zp_node_is_map(svcs) ? svcs->n : 0;
    struct store_release_service *out = zp_calloc(nsvc ? nsvc : 1, sizeof(*out));
    size_t n = 0;
    for (size_t i = 0; i < nsvc; i++) {
        const char *name = svcs->pairs[i].key->str;
        const char *image_id = NULL, *hash = NULL;
        for (size_t k = 0; k < ntargets && image_id == NULL; k++) {
            if (strcmp(targets[k].service, name) == 0) {
                image_id = targets[k].image_id;
                hash = targets[k].config_hash;
            }
        }
        if (image_id == NULL) {
            const struct orch_snap *c = orch_snap_pick(name, obs, nobs);
            if (c == NULL)
                continue;
            image_id = c->image_id;
            hash = c->config_hash;
        }
        struct store_release_service *s = &out[n++];
        s->service = zp_strdup(name);
        s->image_ref = orch_service_image(project, name, svcs->pairs[i].value);
        s->image_id = zp_strdup(image_id);
        s->keep_tag = release_keep_tag(project, name, id);
        s->config_hash = zp_strdup(hash ? hash : "");
    }
    *ret = out;
    *ret_n = n;
}

size_t release_compare(const struct store_release *r, const struct orch_snap *obs, size_t nobs,
                       char **ret_diff)
{
    struct zp_buf b = ZP_BUF_INIT;
    size_t ndiff = 0;
    for (size_t i = 0; i < r->nservices; i++) {
        const struct store_release_service *s = &r->services[i];
        size_t total = 0, differ = 0;
        for (size_t k = 0; k < nobs; k++) {
            if (obs[k].oneoff || strcmp(obs[k].service, s->service) != 0)
                continue;
            total++;
            if (strcmp(obs[k].config_hash, s->config_hash) != 0)
                differ++;
        }
        if (total > 0 && differ == 0)
            continue;
        if (ndiff++ < MAX_LISTED) {
            if (total == 0)
                zp_buf_addf(&b, "%s%s: no container", b.len ? "; " : "", s->service);
            else
                zp_buf_addf(&b, "%s%s: %zu of %zu containers differ", b.len ? "; " : "", s->service,
                            differ, total);
        }
    }
    if (ndiff > MAX_LISTED)
        zp_buf_addf(&b, "; and %zu more", ndiff - MAX_LISTED);
    if (ret_diff != NULL)
        *ret_diff = ndiff ? zp_buf_detach(&b, NULL) : NULL;
    zp_buf_release(&b);
    return ndiff;
}

/* Tag image source as the reference ref ("repo[:tag]"). */
static int tag_as(struct engine *e, const char *source, const char *ref, struct zp_err *err)
{
    char *repo = NULL, *tag = NULL;
    int rc = release_ref_split(ref, &repo, &tag, err);
    if (rc == 0)
        rc = engine_image_tag(e, source, repo, tag, err);
    free(repo);
    free(tag);
    return rc;
}

int release_keep(struct engine *e, const struct store_release *r, struct zp_err *err)
{
    for (size_t i = 0; i < r->nservices; i++) {
        const struct store_release_service *s = &r->services[i];
        if (s->keep_tag == NULL)
            continue;
        if (tag_as(e, s->image_id, s->keep_tag, err) < 0) {
            zp_err_prefix(err, "service '%s': keeping image %s as '%s'", s->service, s->image_id,
                          s->keep_tag);
            return err->code;
        }
    }
    return 0;
}

int release__restore_images(struct engine *e, const struct store_release *r,
                            const struct release_sink *sink, struct zp_err *err)
{
    /* every image first, so that a missing one changes nothing */
    for (size_t i = 0; i < r->nservices; i++) {
        const struct store_release_service *s = &r->services[i];
        const char *ref = s->keep_tag ? s->keep_tag : s->image_id;
        bool exists = false;
        char *id = NULL;
        if (engine_image_inspect(e, ref, &exists, &id, err) < 0)
            return err->code;
        bool same = exists && strcmp(id, s->image_id) == 0;
        free(id);
        if (!same)
            return zp_err_set(err, ZP_E_NOTFOUND, NULL,
                              "service '%s': the image of release %" PRId64
                              " (%s, kept as '%s') is no longer on the engine",
                              s->service, r->id, s->image_id, ref);
    }
    for (size_t i = 0; i < r->nservices; i++) {
        const struct store_release_service *s = &r->services[i];
        bool exists = false;
        char *id = NULL;
        if (engine_image_inspect(e, s->image_ref, &exists, &id, err) < 0)
            return err->code;
        bool same = exists && strcmp(id, s->image_id) == 0;
        free(id);
        if (same)
            continue;
        if (strchr(s->image_ref, '@') != NULL)
            return zp_err_set(err, ZP_E_CONFLICT, NULL,
                              "service '%s': image '%s' is pinned by digest and is not "
                              "release %" PRId64 "'s image %s",
                              s->service, s->image_ref, r->id, s->image_id);
        if (tag_as(e, s->keep_tag ? s->keep_tag : s->image_id, s->image_ref, err) < 0) {
            zp_err_prefix(err, "service '%s': restoring image '%s'", s->service, s->image_ref);
            return err->code;
        }
        if (sink != NULL && sink->event != NULL) {
            char *text = zp_asprintf("Restored (release %" PRId64 ")", r->id);
            struct orch_event ev = {ORCH_OBJ_IMAGE, s->image_ref, s->service,
                                    ORCH_DONE,      text,         zp_mono_ns()};
            sink->event(sink->ud, &ev);
            free(text);
        }
    }
    return 0;
}

void release_unkeep(struct engine *e, const struct store_release *r, size_t n, char **ret_warnings)
{
    struct zp_buf b = ZP_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < r[i].nservices; k++) {
            const char *tag = r[i].services[k].keep_tag;
            if (tag == NULL)
                continue;
            struct zp_err err;
            zp_err_init(&err);
            /* never forced: an image a container uses stays (with its tag) */
            int rc = engine_image_remove(e, tag, false, &err);
            if (rc < 0 && rc != ZP_E_NOTFOUND)
                zp_buf_addf(&b, "%s%s: %s", b.len ? "\n" : "", tag, err.msg);
        }
    }
    *ret_warnings = b.len ? zp_buf_detach(&b, NULL) : NULL;
    zp_buf_release(&b);
}

/* Write data to path (created 0600, replaced when present). */
static int write_private(const char *path, const char *data, struct zp_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return zp_err_sys(err, "creating '%s'", path);
    size_t len = strlen(data), off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int rc = zp_err_sys(err, "writing '%s'", path);
            close(fd);
            unlink(path);
            return rc;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) {
        int rc = zp_err_sys(err, "writing '%s'", path);
        unlink(path);
        return rc;
    }
    return 0;
}

int release_load_model(const struct store_release *r, const char *dir, const char *project,
                       const char *workdir, struct compose_project **ret, struct zp_diags *diags,
                       struct zp_err *err)
{
    if (store_secret_sealed(r->model_json))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "release %" PRId64 "'s recorded model is sealed with the state "
                          "directory's secret.key, which this user cannot read",
                          r->id);
    char *name = zp_asprintf("%s.release-%" PRId64 ".json", project, r->id);
    char *path = zp_path_join(dir, name);
    struct compose_project *p = NULL;
    free(name);
    int rc = write_private(path, r->model_json, err);
    if (rc < 0)
        goto out;
    const char *files[] = {path};
    struct compose_options opts = {
        .files = files,
        .nfiles = 1,
        .project_name = project,
        .project_dir = workdir,
    };
    /* every recorded service was enabled: load once to learn the profiles they name, then
     * again with all of them enabled */
    struct zp_diags first;
    zp_diags_init(&first);
    rc = compose_project_load(&opts, &p, &first);
    if (rc == 0 && p->nall_profiles > 0) {
        struct compose_project *q = NULL;
        opts.profiles = (const char *const *)p->all_profiles;
        opts.nprofiles = p->nall_profiles;
        rc = compose_project_load(&opts, &q, diags);
        compose_project_free(p);
        p = q;
    } else {
        zp_diags_take(diags, &first);
    }
    zp_diags_release(&first);
    unlink(path);
    if (rc < 0) {
        zp_err_set(err, rc, NULL, "release %" PRId64 ": its recorded model does not load", r->id);
        goto out;
    }
    *ret = p;
out:
    free(path);
    return rc;
}

int release_lock(const char *dir, const char *project, int *ret_fd, struct zp_err *err)
{
    char *name = zp_asprintf("%s.lock", project);
    char *path = zp_path_join(dir, name);
    free(name);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    int rc = 0;
    if (fd < 0) {
        rc = zp_err_sys(err, "opening '%s'", path);
    } else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            rc = zp_err_set(err, ZP_E_CONFLICT, NULL,
                            "another deployment (up, update, rollback or cleanup) of project '%s' "
                            "is running (it holds "
                            "'%s')",
                            project, path);
        else
            rc = zp_err_sys(err, "locking '%s'", path);
        close(fd);
    } else {
        *ret_fd = fd;
    }
    free(path);
    return rc;
}

void release_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

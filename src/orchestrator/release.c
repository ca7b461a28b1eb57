/* orchestrator/release: capturing what a release records (model, image IDs, config hashes,
 * keep tags) and restoring one (image tags moved back, the recorded model loaded again). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "build.h"
#include "orchestrator-int.h"
#include "release.h"
#include "status.h"

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
    compose_escape_dollars(copy);
    compose_emit_json(copy, true, &b);
    zp_buf_addc(&b, '\n');
    zp_node_free(copy);
    return zp_buf_detach(&b, NULL);
}

static char *dup0(const char *s)
{
    return zp_strdup(s ? s : "");
}

void release_obs_from_list(const struct engine_container_list *l, struct release_obs **ret,
                           size_t *ret_n)
{
    struct release_obs *obs = l->n ? zp_calloc(l->n, sizeof(*obs)) : NULL;
    for (size_t i = 0; i < l->n; i++) {
        const struct engine_container_summary *s = &l->items[i];
        const char *num = engine_labels_get(&s->labels, ORCH_LABEL_NUMBER);
        const char *oneoff = engine_labels_get(&s->labels, ORCH_LABEL_ONEOFF);
        int64_t v = 0;
        obs[i].service = dup0(engine_labels_get(&s->labels, ORCH_LABEL_SERVICE));
        obs[i].image_id = dup0(s->image_id);
        obs[i].config_hash = dup0(engine_labels_get(&s->labels, ORCH_LABEL_HASH));
        obs[i].state = dup0(s->state);
        if (num != NULL && zp_parse_int64(num, 1, 1000000, &v) == 0)
            obs[i].number = (int)v;
        obs[i].oneoff = oneoff != NULL && strcmp(oneoff, "true") == 0;
    }
    *ret = obs;
    *ret_n = l->n;
}

void release_obs_free(struct release_obs *obs, size_t n)
{
    for (size_t i = 0; obs != NULL && i < n; i++) {
        free(obs[i].service);
        free(obs[i].image_id);
        free(obs[i].config_hash);
        free(obs[i].state);
    }
    free(obs);
}

void release_wants_free(struct release_want *w, size_t n)
{
    for (size_t i = 0; w != NULL && i < n; i++) {
        free(w[i].service);
        free(w[i].image_id);
        free(w[i].config_hash);
    }
    free(w);
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

/* The container that shows what service runs: running before others, then the lowest
 * number; one-off containers never. */
static const struct release_obs *pick_container(const char *service, const struct release_obs *obs,
                                                size_t nobs)
{
    const struct release_obs *best = NULL;
    for (size_t i = 0; i < nobs; i++) {
        const struct release_obs *c = &obs[i];
        if (c->oneoff || strcmp(c->service, service) != 0 || c->image_id[0] == '\0')
            continue;
        if (best == NULL) {
            best = c;
            continue;
        }
        bool run = strcmp(c->state, "running") == 0, best_run = strcmp(best->state, "running") == 0;
        if ((run && !best_run) || (run == best_run && c->number < best->number))
            best = c;
    }
    return best;
}

void release_services_build(const char *project, const struct zp_node *model, int64_t id,
                            const struct release_want *wants, size_t nwants,
                            const struct release_obs *obs, size_t nobs,
                            struct store_release_service **ret, size_t *ret_n)
{
    const struct zp_node *svcs = zp_node_get(model, "services");
    size_t nsvc = zp_node_is_map(svcs) ? svcs->n : 0;
    struct store_release_service *out = zp_calloc(nsvc ? nsvc : 1, sizeof(*out));
    size_t n = 0;
    for (size_t i = 0; i < nsvc; i++) {
        const char *name = svcs->pairs[i].key->str;
        const char *image_id = NULL, *hash = NULL;
        for (size_t k = 0; k < nwants && image_id == NULL; k++) {
            if (strcmp(wants[k].service, name) == 0) {
                image_id = wants[k].image_id;
                hash = wants[k].config_hash;
            }
        }
        if (image_id == NULL) {
            const struct release_obs *c = pick_container(name, obs, nobs);
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
        s->config_hash = dup0(hash);
    }
    *ret = out;
    *ret_n = n;
}

size_t release_compare(const struct store_release *r, const struct release_obs *obs, size_t nobs,
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

/* ---- with the engine ---- */

int release_observe(struct orch *o, struct release_obs **ret, size_t *ret_n, struct zp_err *err)
{
    char *filter = zp_asprintf("%s=%s", ORCH_LABEL_PROJECT, o->p->name);
    const char *filters[] = {filter, NULL};
    struct engine_container_list l = {0};
    int rc = engine_container_list(o->e, filters, true, &l, err);
    free(filter);
    if (rc < 0)
        return rc;
    release_obs_from_list(&l, ret, ret_n);
    engine_container_list_release(&l);
    return 0;
}

int release_config_hash(struct orch *o, const char *service, const struct zp_node *svc,
                        const char *image_id, bool no_adapt_limits, char out[65],
                        struct zp_err *err)
{
    struct orch_host host = {0};
    if (orch__host(o, &host, err) < 0)
        return err->code;
    /* exactly what `up` hashes: the service adapted to the host, and the image ID */
    struct zp_node *copy = zp_node_copy(svc);
    struct orch_adjustment *adj = NULL;
    size_t nadj = 0;
    orch_adapt_limits(copy, service, &host, !no_adapt_limits, &adj, &nadj);
    orch_adjustments_free(adj, nadj);
    orch_config_hash(copy, image_id, out);
    zp_node_free(copy);
    return 0;
}

/* Make sure the image of a service with a build section is built from the current inputs
 * (as `up --build`); *ret_id gets its ID. */
static int ensure_built(struct orch *o, const char *service, const struct zp_node *svc,
                        const char *image, char **ret_id, struct zp_err *err)
{
    bool exists = false;
    char *id = NULL;
    char digest[65];
    struct orch_build_opts bo = {0};
    int rc = engine_image_inspect(o->e, image, &exists, &id, err);
    if (rc == 0)
        rc = orch_build_digest(o->p, svc, &bo, digest, err);
    if (rc < 0) {
        zp_err_prefix(err, "service '%s'", service);
        free(id);
        return rc;
    }
    if (exists && orch__image_has_digest(o->e, image, id, digest)) {
        *ret_id = id;
        return 0;
    }
    free(id);
    return orch__build_image(o, service, svc, image, digest, ret_id, err);
}

int release_prepare(struct orch *o, const char *const *services, size_t nservices,
                    bool no_adapt_limits, struct release_want **ret, size_t *ret_n,
                    struct zp_err *err)
{
    struct orch_graph g = {0};
    struct release_want *w = NULL;
    size_t n = 0;
    int rc = orch__graph_build(o->p->model, services, nservices, false, &g, err);
    if (rc < 0)
        return rc;
    w = zp_calloc(g.norder ? g.norder : 1, sizeof(*w));
    /* services that build first, so that one running an image another builds finds it */
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (size_t k = 0; k < g.norder && rc == 0; k++) {
            const struct orch_gnode *node = &g.nodes[g.order[k]];
            bool has_build = zp_node_get(node->svc, "build") != NULL;
            if (has_build != (pass == 0))
                continue;
            if (orch__cancelled(o)) {
                rc = orch__interrupted(err);
                break;
            }
            char *image = orch_service_image(o->p->name, node->name, node->svc);
            char *id = NULL;
            if (has_build) {
                rc = ensure_built(o, node->name, node->svc, image, &id, err);
            } else {
                bool exists = false;
                rc = engine_image_inspect(o->e, image, &exists, &id, err);
                if (rc < 0)
                    zp_err_prefix(err, "service '%s'", node->name);
                else if (!exists)
                    rc = zp_err_set(err, ZP_E_NOTFOUND, NULL,
                                    "service '%s': image '%s' is not present on the engine and "
                                    "cannot be pulled: no registry is configured",
                                    node->name, image);
            }
            char hash[65];
            if (rc == 0)
                rc = release_config_hash(o, node->name, node->svc, id, no_adapt_limits, hash, err);
            if (rc == 0) {
                w[n].service = zp_strdup(node->name);
                w[n].image_id = id;
                w[n].config_hash = zp_strdup(hash);
                n++;
                id = NULL;
            }
            free(id);
            free(image);
        }
    }
    orch__graph_release(&g);
    if (rc < 0) {
        release_wants_free(w, n);
        return rc;
    }
    *ret = w;
    *ret_n = n;
    return 0;
}

int release_drift(struct orch *o, const struct release_obs *obs, size_t nobs, bool no_adapt_limits,
                  char **ret_note, struct zp_err *err)
{
    const struct zp_node *svcs = zp_node_get(o->p->model, "services");
    struct zp_buf b = ZP_BUF_INIT;
    size_t ndiff = 0;
    for (size_t i = 0; zp_node_is_map(svcs) && i < svcs->n; i++) {
        const char *name = svcs->pairs[i].key->str;
        const struct release_obs *c = pick_container(name, obs, nobs);
        if (c == NULL)
            continue;
        char hash[65];
        int rc = release_config_hash(o, name, svcs->pairs[i].value, c->image_id, no_adapt_limits,
                                     hash, err);
        if (rc < 0) {
            zp_buf_release(&b);
            return rc;
        }
        if (strcmp(hash, c->config_hash) == 0)
            continue;
        if (ndiff++ < MAX_LISTED)
            zp_buf_addf(&b, "%s%s", b.len ? ", " : "", name);
    }
    if (ndiff > MAX_LISTED)
        zp_buf_addf(&b, " and %zu more", ndiff - MAX_LISTED);
    *ret_note = NULL;
    if (ndiff > 0)
        *ret_note = zp_asprintf("recorded from the running containers; the files changed since "
                                "%s %s deployed, so a rollback to this release restores %s "
                                "image but takes %s definition from the files as they were "
                                "at this update",
                                zp_buf_cstr(&b), ndiff == 1 ? "was" : "were",
                                ndiff == 1 ? "its" : "their", ndiff == 1 ? "its" : "their");
    zp_buf_release(&b);
    return 0;
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

int release_restore_images(struct orch *o, const struct store_release *r, struct zp_err *err)
{
    /* every image first, so that a missing one changes nothing */
    for (size_t i = 0; i < r->nservices; i++) {
        const struct store_release_service *s = &r->services[i];
        const char *ref = s->keep_tag ? s->keep_tag : s->image_id;
        bool exists = false;
        char *id = NULL;
        if (engine_image_inspect(o->e, ref, &exists, &id, err) < 0)
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
        if (engine_image_inspect(o->e, s->image_ref, &exists, &id, err) < 0)
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
        if (tag_as(o->e, s->keep_tag ? s->keep_tag : s->image_id, s->image_ref, err) < 0) {
            zp_err_prefix(err, "service '%s': restoring image '%s'", s->service, s->image_ref);
            return err->code;
        }
        orch__emit(o, ORCH_OBJ_IMAGE, s->image_ref, s->service, ORCH_DONE,
                   "Restored (release %" PRId64 ")", r->id);
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

/* Is an exited container fine: exit code 0 and a service that is not restarted? */
static bool finished_ok(const struct engine_container *c)
{
    return c->exit_code == 0 && !c->running && !c->restarting &&
           (c->restart_policy == NULL || c->restart_policy[0] == '\0' ||
            strcmp(c->restart_policy, "no") == 0);
}

int release_health(struct orch *o, const char *const *services, size_t nservices,
                   char **ret_problem, struct zp_err *err)
{
    struct orch_graph g = {0};
    struct release_obs *obs = NULL;
    size_t nobs = 0;
    char *filter = NULL;
    struct engine_container_list l = {0};
    char *problem = NULL;
    int rc = orch__graph_build(o->p->model, services, nservices, false, &g, err);
    if (rc < 0)
        return rc;
    filter = zp_asprintf("%s=%s", ORCH_LABEL_PROJECT, o->p->name);
    const char *filters[] = {filter, NULL};
    if ((rc = engine_container_list(o->e, filters, true, &l, err)) < 0)
        goto out;
    release_obs_from_list(&l, &obs, &nobs);
    for (size_t i = 0; i < nobs && problem == NULL; i++) {
        long node = obs[i].oneoff ? -1 : orch__graph_find(&g, obs[i].service);
        if (node < 0 || !g.nodes[node].selected)
            continue;
        struct engine_container c = {0};
        if ((rc = engine_container_inspect(o->e, l.items[i].id, &c, err)) < 0) {
            if (rc == ZP_E_NOTFOUND) { /* removed meanwhile: not a container of the release */
                zp_err_init(err);
                rc = 0;
                continue;
            }
            goto out;
        }
        /* the engine reports a container that restarts (or is paused) as running */
        bool up = c.running && !c.restarting && !c.paused;
        if (c.health != NULL && strcmp(c.health, "healthy") != 0 && up) {
            const char *what = strcmp(c.health, "starting") == 0 ? "not healthy yet" : c.health;
            if (c.health_output != NULL)
                problem =
                    zp_asprintf("service '%s': container %s is %s; last probe exited "
                                "%" PRId64 ": %s",
                                obs[i].service, c.name, what, c.health_exit_code, c.health_output);
            else
                problem =
                    zp_asprintf("service '%s': container %s is %s", obs[i].service, c.name, what);
        } else if (!up && !finished_ok(&c)) {
            problem = zp_asprintf("service '%s': container %s is %s (exit code %" PRId64 ")",
                                  obs[i].service, c.name, c.status ? c.status : "not running",
                                  c.exit_code);
        }
        engine_container_release(&c);
    }
out:
    if (rc == 0)
        *ret_problem = problem;
    else
        free(problem);
    engine_container_list_release(&l);
    release_obs_free(obs, nobs);
    free(filter);
    orch__graph_release(&g);
    return rc;
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
                            "another update or rollback of project '%s' is running (it holds "
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

/* orchestrator/cleanup: remove what a project left behind (stopped one-off containers,
 * dangling images built for it, networks no longer in the model, release images beyond
 * the retention count), deciding purely from labels and tags (orch_cleanup_plan) before
 * any removal. Nothing without this project's label or release tag is ever chosen. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "orchestrator-int.h"
#include "snapshot.h"
#include "status.h"

#include "../util/banned.h"

char *orch_release_repo(const char *project, const char *service)
{
    return zp_asprintf(ORCH_RELEASE_KEEP_REPO "%s-%s", project, service);
}

/* ---- planning (pure) ---- */

struct plan {
    struct orch_cleanup_result r;
    size_t cap;
    const char **busy; /* image IDs used by containers that stay */
    size_t nbusy;
};

static struct orch_cleanup_item *add_item(struct plan *p, enum orch_cleanup_kind kind,
                                          const char *name, const char *id, int64_t size)
{
    zp_grow((void **)&p->r.items, &p->cap, p->r.n + 1, sizeof(*p->r.items));
    struct orch_cleanup_item *it = &p->r.items[p->r.n++];
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->name = zp_strdup(name);
    it->id = zp_strdup(id);
    it->size = size;
    return it;
}

static bool ours(const struct engine_labels *l, const char *project)
{
    const char *v = engine_labels_get(l, ORCH_LABEL_PROJECT);
    return v != NULL && strcmp(v, project) == 0;
}

static bool is_stopped(const char *state, bool created_too)
{
    if (state == NULL)
        return false;
    return strcmp(state, "exited") == 0 || strcmp(state, "dead") == 0 ||
           (created_too && strcmp(state, "created") == 0);
}

static bool image_busy(const struct plan *p, const char *id)
{
    for (size_t i = 0; i < p->nbusy; i++)
        if (strcmp(p->busy[i], id) == 0)
            return true;
    return false;
}

static void plan_containers(struct plan *p, const struct orch_cleanup_input *in, bool all)
{
    const struct engine_container_list *l = in->containers;
    for (size_t i = 0; l != NULL && i < l->n; i++) {
        const struct engine_container_summary *c = &l->items[i];
        if (!ours(&c->labels, in->project))
            continue;
        const char *oneoff = engine_labels_get(&c->labels, ORCH_LABEL_ONEOFF);
        bool is_oneoff = oneoff != NULL && strcmp(oneoff, "true") == 0;
        /* a created one-off may be a `run` in progress: only exited or dead ones go */
        bool chosen = is_oneoff ? is_stopped(c->state, false) : all && is_stopped(c->state, true);
        if (chosen)
            add_item(p, ORCH_CLEAN_CONTAINER, c->n_names ? c->names[0] : c->id, c->id, 0);
    }
}

/* Images in use: those of every container not chosen for removal. */
static void collect_busy(struct plan *p, const struct orch_cleanup_input *in)
{
    const struct engine_container_list *l = in->all_containers;
    p->busy = zp_calloc(l && l->n ? l->n : 1, sizeof(*p->busy));
    for (size_t i = 0; l != NULL && i < l->n; i++) {
        const struct engine_container_summary *c = &l->items[i];
        bool leaving = false;
        for (size_t k = 0; k < p->r.n && !leaving; k++)
            leaving =
                p->r.items[k].kind == ORCH_CLEAN_CONTAINER && strcmp(p->r.items[k].id, c->id) == 0;
        if (!leaving && c->image_id != NULL)
            p->busy[p->nbusy++] = c->image_id;
    }
}

struct release_tag {
    int64_t number;
    const char *ref; /* "repo:tag", borrowed from the list */
    size_t image;    /* index into the release list */
};

static int cmp_release(const void *x, const void *y)
{
    const struct release_tag *a = x, *b = y;
    if (a->number != b->number)
        return a->number > b->number ? -1 : 1; /* newest first */
    return strcmp(a->ref, b->ref);
}

static bool is_protected(const struct orch_cleanup_opts *opts, const char *ref)
{
    for (size_t i = 0; i < opts->nprotected; i++)
        if (strcmp(opts->protected_tags[i], ref) == 0)
            return true;
    return false;
}

static void plan_releases(struct plan *p, const struct orch_cleanup_input *in,
                          const struct orch_cleanup_opts *opts, int64_t keep)
{
    const struct engine_image_list *l = in->release_images;
    const struct zp_node *svcs = zp_node_get(in->model, "services");
    if (l == NULL || svcs == NULL)
        return;
    /* pruned[i]: tags of image i chosen so far */
    size_t *pruned = zp_calloc(l->n + 1, sizeof(*pruned));
    size_t first_item = p->r.n;
    for (size_t s = 0; s < svcs->n; s++) {
        char *repo = orch_release_repo(in->project, svcs->pairs[s].key->str);
        size_t rlen = strlen(repo);
        struct release_tag *tags = NULL;
        size_t ntags = 0, cap = 0;
        for (size_t i = 0; i < l->n; i++) {
            /* "zpanel-release/a-b-c" names project a's service b-c and project a-b's c
             * alike: an image labelled for another project is that project's */
            const char *lp = engine_labels_get(&l->items[i].labels, ORCH_LABEL_PROJECT);
            if (lp != NULL && strcmp(lp, in->project) != 0)
                continue;
            for (size_t t = 0; t < l->items[i].n_repo_tags; t++) {
                const char *ref = l->items[i].repo_tags[t];
                int64_t num = 0;
                if (strncmp(ref, repo, rlen) != 0 || ref[rlen] != ':' ||
                    zp_parse_int64(ref + rlen + 1, 0, INT64_MAX, &num) < 0)
                    continue;
                zp_grow((void **)&tags, &cap, ntags + 1, sizeof(*tags));
                tags[ntags++] = (struct release_tag){num, ref, i};
            }
        }
        if (ntags > 1)
            qsort(tags, ntags, sizeof(*tags), cmp_release);
        for (size_t t = (size_t)keep; t < ntags; t++) {
            const struct engine_image_summary *img = &l->items[tags[t].image];
            if (is_protected(opts, tags[t].ref))
                continue;
            /* the image's last tag while a container uses it: the engine would refuse */
            if (img->n_repo_tags == 1 && image_busy(p, img->id))
                continue;
            add_item(p, ORCH_CLEAN_RELEASE, tags[t].ref, tags[t].ref, 0);
            pruned[tags[t].image]++;
        }
        free(tags);
        free(repo);
    }
    /* an image all of whose tags go is deleted: its size counts once, on its last tag */
    for (size_t i = 0; i < l->n; i++) {
        const struct engine_image_summary *img = &l->items[i];
        if (pruned[i] == 0 || pruned[i] < img->n_repo_tags || image_busy(p, img->id))
            continue;
        for (size_t k = p->r.n; k > first_item; k--) {
            struct orch_cleanup_item *it = &p->r.items[k - 1];
            bool of_image = false;
            for (size_t t = 0; t < img->n_repo_tags && !of_image; t++)
                of_image = strcmp(img->repo_tags[t], it->id) == 0;
            if (of_image) {
                it->size = img->size;
                break;
            }
        }
    }
    free(pruned);
}

static bool has_release_tag(const struct engine_image_summary *img)
{
    for (size_t t = 0; t < img->n_repo_tags; t++)
        if (zp_str_has_prefix(img->repo_tags[t], ORCH_RELEASE_KEEP_REPO))
            return true;
    return false;
}

static bool already(const struct plan *p, enum orch_cleanup_kind kind, const char *id)
{
    for (size_t k = 0; k < p->r.n; k++)
        if (p->r.items[k].kind == kind && strcmp(p->r.items[k].id, id) == 0)
            return true;
    return false;
}

/* Does parent (NULL: not labelled for the project) carry key with the value img has? */
static bool same_label(const struct engine_image_summary *img,
                       const struct engine_image_summary *parent, const char *key)
{
    const char *a = engine_labels_get(&img->labels, key);
    const char *b = parent ? engine_labels_get(&parent->labels, key) : NULL;
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* Did zpanel build img for this project? It carries the labels of a zpanel build
 * (project, service, build digest) and did not inherit them: an image built by hand FROM
 * one of the project's images carries its labels too, but so does its parent. A zpanel
 * build applies its labels (these three and the service's build.labels) as its last
 * steps, one each, so the parent of an image zpanel built lacks one of them. Without a
 * known parent (pulled, or built by BuildKit) nothing proves the image is zpanel's: it
 * is not chosen. */
static bool built_by_zpanel(const struct engine_image_summary *img,
                            const struct orch_cleanup_input *in)
{
    const char *service = engine_labels_get(&img->labels, ORCH_LABEL_SERVICE);
    if (!ours(&img->labels, in->project) || service == NULL ||
        engine_labels_get(&img->labels, ORCH_LABEL_BUILD_DIGEST) == NULL)
        return false;
    if (img->parent_id == NULL || img->parent_id[0] == '\0')
        return false;
    const struct engine_image_summary *parent = NULL;
    for (size_t i = 0; in->parents != NULL && i < in->parents->n && parent == NULL; i++)
        if (strcmp(in->parents->items[i].id, img->parent_id) == 0)
            parent = &in->parents->items[i];
    if (!same_label(img, parent, ORCH_LABEL_PROJECT) ||
        !same_label(img, parent, ORCH_LABEL_SERVICE) ||
        !same_label(img, parent, ORCH_LABEL_BUILD_DIGEST))
        return true;
    const struct zp_node *svc = zp_node_get(zp_node_get(in->model, "services"), service);
    const struct zp_node *bl = zp_node_get(zp_node_get(svc, "build"), "labels");
    for (size_t k = 0; zp_node_is_map(bl) && k < bl->n; k++)
        if (!same_label(img, parent, bl->pairs[k].key->str))
            return true;
    return false;
}

static void plan_images(struct plan *p, const struct orch_cleanup_input *in, bool all)
{
    const struct engine_image_list *lists[2] = {in->dangling, all ? in->project_images : NULL};
    for (size_t li = 0; li < 2; li++) {
        const struct engine_image_list *l = lists[li];
        for (size_t i = 0; l != NULL && i < l->n; i++) {
            const struct engine_image_summary *img = &l->items[i];
            if (!built_by_zpanel(img, in) || image_busy(p, img->id) ||
                already(p, ORCH_CLEAN_IMAGE, img->id))
                continue;
            if (li == 0 && img->n_repo_tags > 0)
                continue; /* not dangling after all */
            /* release images are governed by the retention count alone */
            if (has_release_tag(img))
                continue;
            add_item(p, ORCH_CLEAN_IMAGE, img->n_repo_tags ? img->repo_tags[0] : img->id, img->id,
                     img->size);
        }
    }
}

static bool network_in_model(const struct zp_node *model, const char *name)
{
    const struct zp_node *nets = zp_node_get(model, "networks");
    for (size_t i = 0; nets != NULL && i < nets->n; i++) {
        const char *n = zp_node_get_str(nets->pairs[i].value, "name");
        if (n != NULL && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

static void plan_networks(struct plan *p, const struct orch_cleanup_input *in)
{
    const struct engine_network_list *l = in->networks;
    for (size_t i = 0; l != NULL && i < l->n; i++) {
        const struct engine_network *net = &l->items[i];
        if (ours(&net->labels, in->project) && !network_in_model(in->model, net->name))
            add_item(p, ORCH_CLEAN_NETWORK, net->name, net->id ? net->id : net->name, 0);
    }
}

void orch_cleanup_plan(const struct orch_cleanup_input *in, const struct orch_cleanup_opts *opts,
                       struct orch_cleanup_result *ret)
{
    struct plan p = {0};
    int64_t keep = opts->keep < 0 ? ORCH_CLEANUP_KEEP_DEFAULT : opts->keep;
    plan_containers(&p, in, opts->all);
    collect_busy(&p, in);
    plan_releases(&p, in, opts, keep);
    plan_images(&p, in, opts->all);
    plan_networks(&p, in);
    for (size_t i = 0; i < p.r.n; i++)
        p.r.freed += p.r.items[i].size;
    free(p.busy);
    *ret = p.r;
}

void orch_cleanup_result_release(struct orch_cleanup_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].name);
        free(r->items[i].id);
        free(r->items[i].error);
    }
    free(r->items);
    memset(r, 0, sizeof(*r));
}

/* ---- doing it ---- */

static int remove_item(struct engine *e, struct orch_cleanup_item *it, struct zp_err *err)
{
    switch (it->kind) {
    case ORCH_CLEAN_CONTAINER:
        /* no force: a container started meanwhile stays; a one-off's anonymous volumes
         * were its own */
        return engine_container_remove(e, it->id, false, true, err);
    case ORCH_CLEAN_RELEASE:
        return engine_image_remove(e, it->id, false, err);
    case ORCH_CLEAN_IMAGE: {
        int rc = engine_image_remove(e, it->id, false, err);
        if (rc == ZP_E_CONFLICT && strchr(it->name, ':') != NULL && strcmp(it->name, it->id)) {
            /* an image with several tags must go tag by tag; its first tag is named */
            zp_err_init(err);
            rc = engine_image_remove(e, it->name, false, err);
        }
        return rc;
    }
    case ORCH_CLEAN_NETWORK:
        return engine_network_remove(e, it->id, err);
    }
    return zp_err_set(err, ZP_E_INTERNAL, NULL, "unknown cleanup item");
}

int orch_cleanup(struct orch *o, const struct orch_cleanup_opts *opts,
                 struct orch_cleanup_result *ret, struct zp_err *err)
{
    const char *project = o->p->name;
    char *label = zp_asprintf("%s=%s", ORCH_LABEL_PROJECT, project);
    char *release_ref = zp_asprintf(ORCH_RELEASE_KEEP_REPO "%s-*", project);
    const char *filters[] = {label, NULL};
    struct engine_container_list containers = {0}, all_containers = {0};
    struct engine_image_list dangling = {0}, project_images = {0}, releases = {0}, parents = {0};
    struct engine_network_list networks = {0};
    struct orch_cleanup_result r = {0};
    int rc;
    if ((rc = engine_container_list(o->e, filters, true, &containers, err)) < 0 ||
        (rc = engine_container_list(o->e, NULL, true, &all_containers, err)) < 0 ||
        (rc = engine_image_list_dangling(o->e, filters, &dangling, err)) < 0 ||
        (opts->all && (rc = engine_image_list(o->e, filters, NULL, &project_images, err)) < 0) ||
        (rc = engine_image_list(o->e, NULL, release_ref, &releases, err)) < 0 ||
        (rc = engine_image_list_all(o->e, filters, &parents, err)) < 0 ||
        (rc = engine_network_list(o->e, filters, &networks, err)) < 0)
        goto out;
    struct orch_cleanup_input in = {
        .project = project,
        .model = o->p->model,
        .containers = &containers,
        .all_containers = &all_containers,
        .dangling = &dangling,
        .project_images = &project_images,
        .release_images = &releases,
        .parents = &parents,
        .networks = &networks,
    };
    orch_cleanup_plan(&in, opts, &r);
    if (!opts->dry_run) {
        r.freed = 0;
        for (size_t i = 0; i < r.n; i++) {
            struct orch_cleanup_item *it = &r.items[i];
            struct zp_err e2;
            zp_err_init(&e2);
            if (orch__cancelled(o)) {
                rc = orch__interrupted(err);
                break;
            }
            int irc = remove_item(o->e, it, &e2);
            if (irc == 0 || irc == ZP_E_NOTFOUND) {
                it->removed = irc == 0;
                if (it->removed)
                    r.freed += it->size;
            } else {
                it->error = zp_strdup(e2.msg);
            }
        }
    }
    if (rc == 0) {
        *ret = r;
        memset(&r, 0, sizeof(r));
    }
out:
    orch_cleanup_result_release(&r);
    engine_network_list_release(&networks);
    engine_image_list_release(&releases);
    engine_image_list_release(&parents);
    engine_image_list_release(&project_images);
    engine_image_list_release(&dangling);
    engine_container_list_release(&all_containers);
    engine_container_list_release(&containers);
    free(release_ref);
    free(label);
    return rc;
}

/* orchestrator/snapshot: the project's containers as the engine lists them, what `up`
 * would run from the files (image IDs, config hashes, builds first), and the health
 * verdict over the running containers. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "orchestrator-int.h"
#include "snapshot.h"
#include "status.h"

#include "../util/banned.h"

/* Cap on the services named in one list. */
#define MAX_LISTED 20

static char *dup0(const char *s)
{
    return zp_strdup(s ? s : "");
}

void orch_snap_from_list(const struct engine_container_list *l, struct orch_snap **ret,
                         size_t *ret_n)
{
    struct orch_snap *obs = l->n ? zp_calloc(l->n, sizeof(*obs)) : NULL;
    for (size_t i = 0; i < l->n; i++) {
        const struct engine_container_summary *s = &l->items[i];
        const char *num = engine_labels_get(&s->labels, ORCH_LABEL_NUMBER);
        const char *oneoff = engine_labels_get(&s->labels, ORCH_LABEL_ONEOFF);
        int64_t v = 0;
        obs[i].id = dup0(s->id);
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

void orch_snap_free(struct orch_snap *obs, size_t n)
{
    for (size_t i = 0; obs != NULL && i < n; i++) {
        free(obs[i].id);
        free(obs[i].service);
        free(obs[i].image_id);
        free(obs[i].config_hash);
        free(obs[i].state);
    }
    free(obs);
}

/* The container that shows what service runs: running before others, then the lowest
 * number; one-off containers never. */
const struct orch_snap *orch_snap_pick(const char *service, const struct orch_snap *obs,
                                       size_t nobs)
{
    const struct orch_snap *best = NULL;
    for (size_t i = 0; i < nobs; i++) {
        const struct orch_snap *c = &obs[i];
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

/* ---- with the engine ---- */

bool orch_snap_changed(const struct orch_snap *before, size_t nbefore,
                       const struct orch_snap *after, size_t nafter)
{
    const struct orch_snap *a = before, *b = after;
    size_t na = nbefore, nb = nafter;
    /* both directions: a container created, or one removed */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < na; i++) {
            if (a[i].oneoff)
                continue;
            bool found = false;
            for (size_t k = 0; k < nb && !found; k++)
                found = !b[k].oneoff && strcmp(a[i].id, b[k].id) == 0;
            if (!found)
                return true;
        }
        a = after;
        na = nafter;
        b = before;
        nb = nbefore;
    }
    return false;
}

void orch_snap_targets_free(struct orch_snap_target *w, size_t n)
{
    for (size_t i = 0; w != NULL && i < n; i++) {
        free(w[i].service);
        free(w[i].image_id);
        free(w[i].config_hash);
    }
    free(w);
}

int orch_list_project(struct orch *o, struct orch_listing **ret, struct zp_err *err)
{
    /* another machine's engine: its clock first (the local one is ours) */
    if (!engine_is_local(o->e)) {
        struct orch_host h;
        struct zp_err ignored;
        zp_err_init(&ignored);
        orch__host(o, &h, &ignored); /* without it, times are unknown: up inspects instead */
    }
    struct orch_listing *l = zp_calloc(1, sizeof(*l));
    l->ns = orch__engine_clock_known(o) ? orch__engine_now(o) : 0;
    int rc = orch__list_containers(o->e, o->p->name, &l->l, err);
    if (rc < 0) {
        free(l);
        return rc;
    }
    *ret = l;
    return 0;
}

void orch_listing_free(struct orch_listing *l)
{
    if (l == NULL)
        return;
    engine_container_list_release(&l->l);
    free(l);
}

void orch_snap_from_listing(const struct orch_listing *l, struct orch_snap **ret, size_t *ret_n)
{
    orch_snap_from_list(&l->l, ret, ret_n);
}

int orch_snap_observe(struct orch *o, struct orch_snap **ret, size_t *ret_n, struct zp_err *err)
{
    struct engine_container_list l = {0};
    int rc = orch__list_containers(o->e, o->p->name, &l, err);
    if (rc < 0)
        return rc;
    orch_snap_from_list(&l, ret, ret_n);
    engine_container_list_release(&l);
    return 0;
}

int orch_snap_config_hash(struct orch *o, const char *service, const struct zp_node *svc,
                          const char *image_id, bool no_adapt_limits, char out[65],
                          struct zp_err *err)
{
    struct orch_host host = {0};
    if (orch_limits_use_host(svc) && orch__host(o, &host, err) < 0)
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

int orch_snap_prepare(struct orch *o, const char *const *services, size_t nservices,
                      bool no_adapt_limits, struct orch_snap_target **ret, size_t *ret_n,
                      struct zp_err *err)
{
    struct orch_graph g = {0};
    struct orch_snap_target *w = NULL;
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
                rc =
                    orch_snap_config_hash(o, node->name, node->svc, id, no_adapt_limits, hash, err);
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
        orch_snap_targets_free(w, n);
        return rc;
    }
    *ret = w;
    *ret_n = n;
    return 0;
}

int orch_snap_drift(struct orch *o, const struct orch_snap *obs, size_t nobs, bool no_adapt_limits,
                    char **ret_names, size_t *ret_n, struct zp_err *err)
{
    const struct zp_node *svcs = zp_node_get(o->p->model, "services");
    struct zp_buf b = ZP_BUF_INIT;
    size_t ndiff = 0;
    for (size_t i = 0; zp_node_is_map(svcs) && i < svcs->n; i++) {
        const char *name = svcs->pairs[i].key->str;
        const struct orch_snap *c = orch_snap_pick(name, obs, nobs);
        if (c == NULL)
            continue;
        char hash[65];
        int rc = orch_snap_config_hash(o, name, svcs->pairs[i].value, c->image_id, no_adapt_limits,
                                       hash, err);
        if (rc < 0) {
            zp_buf_release(&b);
            return rc;
        }
        if (strcmp(hash, c->config_hash) == 0)
            continue;
        /* a few names and a count: the list is bounded whatever the project's size */
        if (ndiff++ < MAX_LISTED)
            zp_buf_addf(&b, "%s%s", b.len ? ", " : "", name);
    }
    if (ndiff > MAX_LISTED)
        zp_buf_addf(&b, " and %zu more", ndiff - MAX_LISTED);
    *ret_names = ndiff > 0 ? zp_buf_detach(&b, NULL) : NULL;
    *ret_n = ndiff;
    zp_buf_release(&b);
    return 0;
}

/* Is an exited container fine: exit code 0 and a service that is not restarted? */
static bool finished_ok(const struct engine_container *c)
{
    return c->exit_code == 0 && !c->running && !c->restarting &&
           (c->restart_policy == NULL || c->restart_policy[0] == '\0' ||
            strcmp(c->restart_policy, "no") == 0);
}

int orch_snap_health(struct orch *o, const char *const *services, size_t nservices,
                     char **ret_problem, struct zp_err *err)
{
    struct orch_graph g = {0};
    struct orch_snap *obs = NULL;
    size_t nobs = 0;
    struct engine_container_list l = {0};
    char *problem = NULL;
    int rc = orch__graph_build(o->p->model, services, nservices, false, &g, err);
    if (rc < 0)
        return rc;
    if ((rc = orch__list_containers(o->e, o->p->name, &l, err)) < 0)
        goto out;
    orch_snap_from_list(&l, &obs, &nobs);
    for (size_t i = 0; i < nobs && problem == NULL; i++) {
        long node = obs[i].oneoff ? -1 : orch__graph_find(&g, obs[i].service);
        if (node < 0 || !g.nodes[node].selected || orch_health_excluded(g.nodes[node].svc))
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
        /* without a health check, running means having stayed up ORCH_SETTLE_MS: a crash
         * loop's container is running for a moment after each start (seen right after the
         * up, it passed); look again once it is that old */
        int64_t age = orch__engine_now(o) - c.state_time_ns;
        if (c.health == NULL && c.running && c.state_time_ns > 0 && age >= 0 &&
            age < (int64_t)ORCH_SETTLE_MS * 1000000) {
            zp_sleep_ms(ORCH_SETTLE_MS - age / 1000000);
            engine_container_release(&c);
            if ((rc = engine_container_inspect(o->e, l.items[i].id, &c, err)) < 0) {
                if (rc != ZP_E_NOTFOUND)
                    goto out;
                zp_err_init(err);
                rc = 0;
                continue;
            }
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
    orch_snap_free(obs, nobs);
    orch__graph_release(&g);
    return rc;
}

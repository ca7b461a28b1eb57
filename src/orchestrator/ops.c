/* orchestrator/ops: acting on what was deployed, found by the project label: down,
 * start/stop/restart/kill/pause/unpause/rm, and ps. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "hooks.h"
#include "orchestrator-int.h"

#include "../util/banned.h"

static bool is_running(const struct orch_obs_container *c)
{
    return strcmp(c->state, "running") == 0 || strcmp(c->state, "restarting") == 0 ||
           strcmp(c->state, "paused") == 0;
}

/* ---- down ---- */

struct down {
    struct orch *o;
    const struct orch_down_opts *opts;
    struct orch_graph g;
    struct orch_observed obs;
};

static bool down_skip(void *ud, size_t node)
{
    struct down *d = ud;
    for (size_t i = 0; i < d->obs.nc; i++)
        if (strcmp(d->obs.c[i].service, d->g.nodes[node].name) == 0)
            return false;
    return true;
}

/* Remove container c (stopped, or never started), as the last step of its service's job. */
static int remove_one(struct down *d, struct orch_worker *w, const struct orch_obs_container *c,
                      struct zp_err *err)
{
    orch__emit(d->o, ORCH_OBJ_CONTAINER, c->name, c->service, ORCH_WORKING, "Removing");
    int rc = engine_container_remove(w->e, c->id, true, d->opts->volumes, err);
    if (rc == ZP_E_NOTFOUND) {
        zp_err_init(err);
        rc = 0;
    }
    if (rc < 0) {
        zp_err_prefix(err, "service '%s'", c->service);
        orch__emit(d->o, ORCH_OBJ_CONTAINER, c->name, c->service, ORCH_FAILED, "%s", err->msg);
        return rc;
    }
    orch__emit(d->o, ORCH_OBJ_CONTAINER, c->name, c->service, ORCH_DONE, "Removed");
    return 0;
}

/* Stop a service's containers (its dependents' jobs ran first: the reverse dependency
 * order), then remove them, so removals overlap the other services' stops. */
static int down_job(void *ud, struct orch_worker *w, size_t node, struct zp_err *err)
{
    struct down *d = ud;
    int timeout =
        d->opts->timeout_s >= 0 ? d->opts->timeout_s : orch__stop_timeout(d->g.nodes[node].svc);
    for (size_t i = 0; i < d->obs.nc; i++) {
        const struct orch_obs_container *c = &d->obs.c[i];
        if (strcmp(c->service, d->g.nodes[node].name) != 0 || !is_running(c))
            continue;
        if (orch__run_hooks(d->o, w->e, c->service, "pre_stop", c->id, c->name, err) < 0) {
            zp_err_prefix(err, "service '%s'", c->service);
            orch__emit(d->o, ORCH_OBJ_CONTAINER, c->name, c->service, ORCH_FAILED, "%s", err->msg);
            return err->code;
        }
        orch__emit(d->o, ORCH_OBJ_CONTAINER, c->name, c->service, ORCH_WORKING, "Stopping");
        if (engine_container_stop(w->e, c->id, timeout, err) < 0) {
            zp_err_prefix(err, "service '%s'", c->service);
            orch__emit(d->o, ORCH_OBJ_CONTAINER, c->name, c->service, ORCH_FAILED, "%s", err->msg);
            return err->code;
        }
        orch__emit(d->o, ORCH_OBJ_CONTAINER, c->name, c->service, ORCH_DONE, "Stopped");
    }
    for (size_t i = 0; i < d->obs.nc; i++)
        if (strcmp(d->obs.c[i].service, d->g.nodes[node].name) == 0 &&
            remove_one(d, w, &d->obs.c[i], err) < 0)
            return err->code;
    return 0;
}

static void remove_images(struct down *d, struct zp_err *err)
{
    struct orch *o = d->o;
    char **refs = NULL;
    size_t n = 0;
    for (size_t i = 0; i < d->g.n; i++) {
        const struct zp_node *svc = d->g.nodes[i].svc;
        bool custom = zp_node_get_str(svc, "image") != NULL;
        if (d->opts->rmi == ORCH_RMI_LOCAL && custom)
            continue;
        char *ref = orch_service_image(o->p->name, d->g.nodes[i].name, svc);
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = strcmp(refs[k], ref) == 0;
        if (dup) {
            free(ref);
            continue;
        }
        refs = zp_realloc(refs, (n + 1) * sizeof(*refs));
        refs[n++] = ref;
    }
    for (size_t k = 0; k < n; k++) {
        bool exists = false;
        struct zp_err e2;
        zp_err_init(&e2);
        if (engine_image_inspect(o->e, refs[k], &exists, NULL, &e2) == 0 && exists) {
            orch__emit(o, ORCH_OBJ_IMAGE, refs[k], NULL, ORCH_WORKING, "Removing");
            if (engine_image_remove(o->e, refs[k], false, &e2) < 0) {
                orch__emit(o, ORCH_OBJ_IMAGE, refs[k], NULL, ORCH_FAILED, "%s", e2.msg);
                if (err->code == 0)
                    *err = e2;
            } else {
                orch__emit(o, ORCH_OBJ_IMAGE, refs[k], NULL, ORCH_DONE, "Removed");
            }
        }
        free(refs[k]);
    }
    free(refs);
}

/* Is the engine volume `name` one that down -v removes: declared by the files, not
 * external? */
static bool declared_volume(const struct orch *o, const char *name)
{
    const struct zp_node *vols = zp_node_get(o->p->model, "volumes");
    bool found = false;
    for (size_t i = 0; zp_node_is_map(vols) && i < vols->n && !found; i++) {
        const struct zp_node *def = vols->pairs[i].value;
        if (orch__object_external(def))
            continue;
        char *n = orch__object_name(o->p->name, vols->pairs[i].key->str, def);
        found = strcmp(n, name) == 0;
        free(n);
    }
    return found;
}

/* down -v, as Compose does: remove the non-external volumes the files declare (and only
 * those that carry this project's label: created by zpanel for it). Any other volume
 * with the label (external now, or left from an older version of the files, or labelled
 * by hand) stays, named in a warning. */
static int remove_volumes(struct orch *o, const char *const *filters,
                          struct engine_volume_list *vols, struct zp_err *err)
{
    int rc = engine_volume_list(o->e, filters, vols, err);
    if (rc < 0)
        return rc;
    struct zp_buf kept = ZP_BUF_INIT;
    for (size_t i = 0; i < vols->n; i++) {
        const char *name = vols->items[i].name;
        if (!declared_volume(o, name)) {
            zp_buf_addf(&kept, "%s%s", kept.len ? ", " : "", name);
            continue;
        }
        orch__emit(o, ORCH_OBJ_VOLUME, name, NULL, ORCH_WORKING, "Removing");
        if ((rc = engine_volume_remove(o->e, name, false, err)) < 0 && rc != ZP_E_NOTFOUND) {
            orch__emit(o, ORCH_OBJ_VOLUME, name, NULL, ORCH_FAILED, "%s", err->msg);
            zp_buf_release(&kept);
            return rc;
        }
        zp_err_init(err);
        rc = 0;
        orch__emit(o, ORCH_OBJ_VOLUME, name, NULL, ORCH_DONE, "Removed");
    }
    if (kept.len > 0)
        orch__emit(o, ORCH_OBJ_PROJECT, o->p->name, NULL, ORCH_WARNING,
                   "kept volumes labelled for this project that the files do not declare as "
                   "their own (external, or no longer in the files): %s; remove them with "
                   "`docker volume rm` if their data is no longer needed",
                   zp_buf_cstr(&kept));
    zp_buf_release(&kept);
    return 0;
}

int orch_down(struct orch *o, const struct orch_down_opts *opts, struct zp_err *err)
{
    struct orch_down_opts dflt = {.timeout_s = -1};
    struct down d = {.o = o, .opts = opts ? opts : &dflt};
    struct orch_pool *pool = NULL;
    char *filter = zp_asprintf("%s=%s", ORCH_LABEL_PROJECT, o->p->name);
    const char *filters[] = {filter, NULL};
    struct engine_network_list nets = {0};
    struct engine_volume_list vols = {0};
    int rc;
    opts = d.opts;

    if ((rc = orch__graph_build(o->p->model, NULL, 0, false, &d.g, err)) < 0)
        goto out;
    if ((rc = orch__observe(o->e, o->p->name, &d.obs, err)) < 0)
        goto out;
    bool any = false;
    for (size_t i = 0; i < d.obs.nc; i++)
        any = any || orch__graph_find(&d.g, d.obs.c[i].service) >= 0;
    if (any) {
        if ((rc = orch__pool_start(o, 0, &pool, err)) < 0)
            goto out;
        struct orch_sched_ops ops = {.ud = &d, .job = down_job, .skip = down_skip};
        rc = orch__schedule(o, pool, &d.g, true, &ops, err);
        orch__pool_stop(pool);
        pool = NULL;
        if (rc < 0)
            goto out;
    }
    /* containers of services no longer in the files */
    struct zp_buf orphans = ZP_BUF_INIT;
    for (size_t i = 0; i < d.obs.nc; i++) {
        const struct orch_obs_container *c = &d.obs.c[i];
        if (orch__graph_find(&d.g, c->service) >= 0)
            continue;
        if (!opts->remove_orphans) {
            zp_buf_addf(&orphans, "%s%s", orphans.len ? ", " : "", c->name);
            continue;
        }
        int t = opts->timeout_s >= 0 ? opts->timeout_s : -1;
        if ((rc = orch__remove_container(o, o->e, c, t, opts->volumes, err)) < 0) {
            zp_buf_release(&orphans);
            goto out;
        }
    }
    if (orphans.len > 0)
        orch__emit(o, ORCH_OBJ_PROJECT, o->p->name, NULL, ORCH_WARNING,
                   "found orphan containers (%s) for this project; run this command with "
                   "--remove-orphans to remove them",
                   zp_buf_cstr(&orphans));
    zp_buf_release(&orphans);
    if (orch__cancelled(o)) {
        rc = orch__interrupted(err);
        goto out;
    }
    /* routes of removed containers leave the proxy now, not at the next sync */
    bool routed = false;
    for (size_t i = 0; i < d.obs.nc; i++)
        routed = routed || d.obs.c[i].routed;
    if (routed) {
        char *state = zp_state_dir();
        struct orch_proxy_ctx px;
        orch__proxy_ctx_init(&px, state);
        if ((rc = orch__proxy_sync(o, o->e, &px, err)) < 0)
            orch__emit(o, ORCH_OBJ_PROJECT, o->p->name, NULL, ORCH_WARNING,
                       "the proxy keeps the removed containers' routes: %s", err->msg);
        zp_err_init(err);
        rc = 0;
        orch__proxy_ctx_release(&px);
        free(state);
    }
    /* the project's own network to the router goes with its last container */
    if (any || routed) {
        struct zp_err nerr;
        zp_err_init(&nerr);
        if (proxy_forget_project(o->e, o->p->name, &nerr) < 0)
            orch__emit(o, ORCH_OBJ_PROJECT, o->p->name, NULL, ORCH_WARNING, "%s", nerr.msg);
    }

    if ((rc = engine_network_list(o->e, filters, &nets, err)) < 0)
        goto out;
    for (size_t i = 0; i < nets.n; i++) {
        const char *name = nets.items[i].name;
        orch__emit(o, ORCH_OBJ_NETWORK, name, NULL, ORCH_WORKING, "Removing");
        if ((rc = engine_network_remove(o->e, nets.items[i].id, err)) < 0 && rc != ZP_E_NOTFOUND) {
            /* still used by containers zpanel keeps (orphans) or others': as compose, a
             * warning, not a failure */
            if (strstr(err->msg, "active endpoints") == NULL && rc != ZP_E_CONFLICT) {
                orch__emit(o, ORCH_OBJ_NETWORK, name, NULL, ORCH_FAILED, "%s", err->msg);
                goto out;
            }
            orch__emit(o, ORCH_OBJ_NETWORK, name, NULL, ORCH_WARNING, "resource is still in use");
            zp_err_init(err);
            rc = 0;
            continue;
        }
        zp_err_init(err);
        rc = 0;
        orch__emit(o, ORCH_OBJ_NETWORK, name, NULL, ORCH_DONE, "Removed");
    }
    if (opts->volumes && (rc = remove_volumes(o, filters, &vols, err)) < 0)
        goto out;
    if (opts->rmi != ORCH_RMI_NONE) {
        remove_images(&d, err);
        rc = err->code;
    }
out:
    orch__pool_stop(pool);
    engine_network_list_release(&nets);
    engine_volume_list_release(&vols);
    orch__observed_release(&d.obs);
    orch__graph_release(&d.g);
    free(filter);
    return rc;
}

/* ---- start, stop, restart, kill, pause, unpause, rm ---- */

struct act {
    struct orch *o;
    enum orch_action action;
    const struct orch_action_opts *opts;
    struct orch_graph g;
    struct orch_observed obs;
};

/* Does the action apply to c, in its state? */
static bool act_applies(const struct act *a, const struct orch_obs_container *c)
{
    bool running = is_running(c);
    switch (a->action) {
    case ORCH_START:
        return !running && !c->oneoff;
    case ORCH_STOP:
    case ORCH_KILL:
        return running;
    case ORCH_RESTART:
        return !c->oneoff;
    case ORCH_PAUSE:
        return strcmp(c->state, "running") == 0;
    case ORCH_UNPAUSE:
        return strcmp(c->state, "paused") == 0;
    case ORCH_RM:
        return !running || a->opts->force || a->opts->stop_first;
    }
    return false;
}

static bool act_skip(void *ud, size_t node)
{
    struct act *a = ud;
    for (size_t i = 0; i < a->obs.nc; i++)
        if (strcmp(a->obs.c[i].service, a->g.nodes[node].name) == 0 && act_applies(a, &a->obs.c[i]))
            return false;
    return true;
}

static int act_one(struct act *a, struct engine *e, const struct orch_obs_container *c,
                   const struct zp_node *svc, struct zp_err *err)
{
    static const char *const working[] = {"Starting", "Stopping",  "Restarting", "Killing",
                                          "Pausing",  "Unpausing", "Removing"};
    static const char *const done[] = {"Started", "Stopped",  "Restarted", "Killed",
                                       "Paused",  "Unpaused", "Removed"};
    struct orch *o = a->o;
    int timeout = a->opts->timeout_s >= 0 ? a->opts->timeout_s : orch__stop_timeout(svc);
    int rc = 0;
    /* lifecycle hooks around stop, restart and start, as compose runs them */
    bool stops = (a->action == ORCH_RM || a->action == ORCH_STOP || a->action == ORCH_RESTART) &&
                 is_running(c);
    if (stops && (rc = orch__run_hooks(o, e, c->service, "pre_stop", c->id, c->name, err)) < 0)
        goto fail;
    if (a->action == ORCH_RM && is_running(c)) {
        orch__emit(o, ORCH_OBJ_CONTAINER, c->name, c->service, ORCH_WORKING, "Stopping");
        if ((rc = engine_container_stop(e, c->id, timeout, err)) < 0)
            goto fail;
        orch__emit(o, ORCH_OBJ_CONTAINER, c->name, c->service, ORCH_DONE, "Stopped");
    }
    orch__emit(o, ORCH_OBJ_CONTAINER, c->name, c->service, ORCH_WORKING, "%s", working[a->action]);
    switch (a->action) {
    case ORCH_START:
        rc = engine_container_start(e, c->id, err);
        break;
    case ORCH_STOP:
        rc = engine_container_stop(e, c->id, timeout, err);
        break;
    case ORCH_RESTART:
        rc = engine_container_restart(e, c->id, timeout, err);
        break;
    case ORCH_KILL:
        rc = engine_container_kill(e, c->id, a->opts->signal, err);
        break;
    case ORCH_PAUSE:
        rc = engine_container_pause(e, c->id, err);
        break;
    case ORCH_UNPAUSE:
        rc = engine_container_unpause(e, c->id, err);
        break;
    case ORCH_RM:
        rc = engine_container_remove(e, c->id, a->opts->force, a->opts->volumes, err);
        break;
    }
    if (rc == 0 && (a->action == ORCH_START || a->action == ORCH_RESTART))
        rc = orch__run_hooks(o, e, c->service, "post_start", c->id, c->name, err);
    if (rc < 0)
        goto fail;
    orch__emit(o, ORCH_OBJ_CONTAINER, c->name, c->service, ORCH_DONE, "%s", done[a->action]);
    return 0;
fail:
    zp_err_prefix(err, "service '%s'", c->service);
    orch__emit(o, ORCH_OBJ_CONTAINER, c->name, c->service, ORCH_FAILED, "%s", err->msg);
    return rc;
}

static int act_job(void *ud, struct orch_worker *w, size_t node, struct zp_err *err)
{
    struct act *a = ud;
    for (size_t i = 0; i < a->obs.nc; i++) {
        const struct orch_obs_container *c = &a->obs.c[i];
        if (strcmp(c->service, a->g.nodes[node].name) != 0 || !act_applies(a, c))
            continue;
        if (orch__cancelled(a->o))
            return orch__interrupted(err);
        if (act_one(a, w->e, c, a->g.nodes[node].svc, err) < 0)
            return err->code;
    }
    return 0;
}

int orch_act(struct orch *o, enum orch_action action, const struct orch_action_opts *opts,
             struct zp_err *err)
{
    struct orch_action_opts dflt = {.timeout_s = -1};
    struct act a = {.o = o, .action = action, .opts = opts ? opts : &dflt};
    struct orch_pool *pool = NULL;
    int rc;
    opts = a.opts;
    if ((rc = orch__graph_build(o->p->model, opts->services, opts->nservices, true, &a.g, err)) < 0)
        goto out;
    if ((rc = orch__observe(o->e, o->p->name, &a.obs, err)) < 0)
        goto out;
    bool any = false;
    for (size_t k = 0; k < a.g.norder && !any; k++)
        any = !act_skip(&a, a.g.order[k]);
    if (!any)
        goto out;
    if ((rc = orch__pool_start(o, 0, &pool, err)) < 0)
        goto out;
    bool reverse =
        action == ORCH_STOP || action == ORCH_RESTART || action == ORCH_KILL || action == ORCH_RM;
    struct orch_sched_ops ops = {.ud = &a, .job = act_job, .skip = act_skip};
    rc = orch__schedule(o, pool, &a.g, reverse, &ops, err);
out:
    orch__pool_stop(pool);
    orch__observed_release(&a.obs);
    orch__graph_release(&a.g);
    return rc;
}

/* ---- ps ---- */

static int cmp_container(const void *x, const void *y)
{
    const struct orch_container *a = x, *b = y;
    int c = strcmp(a->service, b->service);
    if (c != 0)
        return c;
    if (a->oneoff != b->oneoff)
        return a->oneoff ? 1 : -1;
    if (a->number != b->number)
        return a->number < b->number ? -1 : 1;
    return strcmp(a->name, b->name);
}

static void container_release(struct orch_container *c)
{
    free(c->id);
    free(c->name);
    free(c->service);
    free(c->image);
    free(c->state);
    free(c->health);
    free(c->status);
    free(c->config_hash);
    for (size_t k = 0; k < c->nports; k++) {
        free(c->ports[k].host_ip);
        free(c->ports[k].protocol);
    }
    free(c->ports);
}

/* One container's inspect for orch_ps_inspected, on a wide runner's thread. */
struct ps_job {
    struct orch_container *c;
    struct engine_container ins;
    bool inspected;
    struct zp_err err;
};

static void ps_inspect(struct engine *e, void *ctx, size_t i)
{
    struct ps_job *j = &((struct ps_job *)ctx)[i];
    zp_err_init(&j->err);
    j->inspected = engine_container_inspect(e, j->c->id, &j->ins, &j->err) == 0;
}

/* inspects of orch_ps_inspected at once (a loaded engine answers them together faster) */
#define PS_PARALLEL 8

static void container_from_obs(const struct orch_obs_container *c, struct orch_container *r)
{
    r->id = zp_strdup(c->id);
    r->name = zp_strdup(c->name);
    r->service = zp_strdup(c->service);
    r->number = c->number;
    r->oneoff = c->oneoff;
    r->image = zp_strdup(c->image);
    r->state = zp_strdup(c->state);
    r->health = c->health ? zp_strdup(c->health) : NULL;
    r->status = zp_strdup(c->status ? c->status : "");
    r->exit_code = c->exit_code;
    r->created = c->created;
    r->config_hash = zp_strdup(c->hash);
    r->ports = c->ports.n ? zp_calloc(c->ports.n, sizeof(*r->ports)) : NULL;
    for (size_t k = 0; k < c->ports.n; k++) {
        const struct engine_port *p = &c->ports.items[k];
        r->ports[k].host_ip = zp_strdup(p->ip ? p->ip : "");
        r->ports[k].host_port = p->public_port;
        r->ports[k].container_port = p->private_port;
        r->ports[k].protocol = zp_strdup(p->type ? p->type : "tcp");
    }
    r->nports = c->ports.n;
}

int orch_ps(struct orch *o, const char *const *services, size_t nservices, bool all,
            struct orch_container **ret, size_t *ret_n, struct zp_err *err)
{
    struct orch_observed obs = {0};
    int rc = orch__observe(o->e, o->p->name, &obs, err);
    if (rc < 0)
        return rc;
    struct orch_container *out = obs.nc ? zp_calloc(obs.nc, sizeof(*out)) : NULL;
    size_t n = 0;
    for (size_t i = 0; i < obs.nc; i++) {
        const struct orch_obs_container *c = &obs.c[i];
        if (!all && !is_running(c))
            continue;
        bool want = nservices == 0;
        for (size_t k = 0; k < nservices && !want; k++)
            want = strcmp(services[k], c->service) == 0;
        if (want)
            container_from_obs(c, &out[n++]);
    }
    orch__observed_release(&obs);
    if (n > 1)
        qsort(out, n, sizeof(*out), cmp_container);
    *ret = out;
    *ret_n = n;
    return 0;
}

int orch_ps_inspected(struct orch *o, const char *const *services, size_t nservices, bool all,
                      struct orch_container **ret, size_t *ret_n, struct zp_err *err)
{
    struct orch_container *cs = NULL;
    size_t n = 0;
    int rc = orch_ps(o, services, nservices, all, &cs, &n, err);
    if (rc < 0)
        return rc;
    struct ps_job *jobs = zp_calloc(n ? n : 1, sizeof(*jobs));
    for (size_t i = 0; i < n; i++)
        jobs[i].c = &cs[i];
    struct orch_wide wide = {.host = o->host, .like = o->e};
    rc = orch__wide_exec(&wide, n, PS_PARALLEL, ps_inspect, jobs, err);
    orch__wide_release(&wide);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        struct ps_job *j = &jobs[i];
        if (rc == 0 && !j->inspected && j->err.code != ZP_E_NOTFOUND) {
            *err = j->err;
            rc = err->code;
        }
        if (rc == 0 && j->inspected) {
            struct orch_container *c = &cs[i];
            c->started_at = j->ins.started_at_unix;
            if (j->ins.status) {
                free(c->state);
                c->state = zp_strdup(j->ins.status);
            }
            if (kept != i) { /* one removed meanwhile is left out */
                struct orch_container t = cs[kept];
                cs[kept] = *c;
                *c = t;
            }
            kept++;
        }
        engine_container_release(&j->ins);
    }
    free(jobs);
    if (rc < 0) {
        orch_containers_free(cs, n);
        return rc;
    }
    for (size_t i = kept; i < n; i++)
        container_release(&cs[i]);
    *ret = cs;
    *ret_n = kept;
    return 0;
}

void orch_containers_free(struct orch_container *c, size_t n)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        container_release(&c[i]);
    free(c);
}

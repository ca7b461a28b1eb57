/* orchestrator/converge: `up`, the executor: networks and volumes, images, then containers
 * in dependency order on the worker pool, each dependency gate opened by the engine's
 * events (health_status, die, start). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build.h"
#include "hooks.h"
#include "orchestrator-int.h"
#include "routes.h"
#include "status.h"

#include "../util/banned.h"

#define LOG_TAIL 20

struct svc_ctx {
    struct zp_node *svc; /* adapted copy */
    char *image;
    char *image_id;
    char hash[65];
    char *container_name;
    int64_t replicas;
    bool need_state;         /* its containers' states are needed (gates, --wait) */
    struct proxy_site *site; /* x-zpanel: what it wants routed, or NULL */
    char **ids;              /* its containers in this run, guarded by o->lock */
    size_t nids;
    /* containers created ahead, while the service waits for its gates (guarded by
     * o->lock until pre_state is PRE_DONE, then owned by the service's job) */
    enum { PRE_NONE, PRE_RUNNING, PRE_DONE } pre_state;
    struct pre_container *pre;
    size_t npre;
    int pre_rc;
    struct zp_err *pre_err; /* set when pre_rc < 0 */
};

struct pre_container {
    int number;
    char *id;
    char *name;
};

struct up {
    struct orch *o;
    const struct orch_up_opts *opts;
    struct orch_graph g;
    struct svc_ctx *svcs;
    struct orch_observed obs;
    int64_t obs_ns; /* the engine's time just before obs was listed (0: unknown) */
    struct orch_plan plan;
    struct orch_watch w;        /* the events thread and the container states it keeps */
    struct orch_probes *probes; /* the gates' own runs of healthchecks (probe.c), or NULL */
    /* the failed gate, guarded by o->lock */
    char *fail_id;
    char *fail_why;
    bool sched_done; /* the scheduler returned: no more creating ahead (o->lock) */
    /* routed services: the proxy, the rollouts' overrides */
    char *state_dir;
    struct orch_proxy_ctx px;
};

/* ---- gates ---- */

static void gate_fail(struct up *u, const char *id, const char *fmt, ...) ZP_PRINTF(3, 4);
static void gate_fail(struct up *u, const char *id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(u->fail_why);
    free(u->fail_id);
    u->fail_why = zp_vasprintf(fmt, ap);
    u->fail_id = id ? zp_strdup(id) : NULL;
    va_end(ap);
}

/* Is container state c acceptable for cond? 1 yes, 0 wait, -1 failed (reason set). */
static int cond_check(struct up *u, struct orch_cstate *c, enum orch_cond cond, const char *svc)
{
    const char *name = c->name ? c->name : c->id;
    switch (cond) {
    case ORCH_COND_STARTED:
        return 1;
    case ORCH_COND_HEALTHY:
        if (c->exited) {
            gate_fail(u, c->id, "container %s exited (%lld)", name, (long long)c->exit_code);
            return -1;
        }
        if (c->health[0] == '\0') {
            gate_fail(u, c->id, "container %s has no healthcheck configured", name);
            return -1;
        }
        if (strcmp(c->health, "unhealthy") == 0) {
            gate_fail(u, c->id, "container %s is unhealthy", name);
            return -1;
        }
        if (strcmp(c->health, "healthy") == 0) {
            if (!c->said_ok)
                orch__emit(u->o, ORCH_OBJ_CONTAINER, name, svc, ORCH_DONE, "Healthy");
            c->said_ok = true;
            return 1;
        }
        return 0;
    case ORCH_COND_COMPLETED:
        if (!c->exited)
            return 0;
        if (c->exit_code != 0) {
            gate_fail(u, c->id, "container %s exited (%lld)", name, (long long)c->exit_code);
            return -1;
        }
        if (!c->said_ok)
            orch__emit(u->o, ORCH_OBJ_CONTAINER, name, svc, ORCH_DONE, "Exited");
        c->said_ok = true;
        return 1;
    }
    return 1;
}

/* Has zpanel's own run of the dependency's healthcheck test passed in container c, while
 * the engine, whose first check comes an interval after the start, still says "starting"?
 * The first ask starts the probes (probe.c). */
static bool probe_ready(struct up *u, struct orch_cstate *c, size_t target, const char *svc)
{
    if (u->probes == NULL)
        return false;
    if (!c->running || c->exited || strcmp(c->health, "starting") != 0) {
        orch__probe_forget(u->probes, c->id); /* the engine's verdict decides from now on */
        return false;
    }
    if (!orch__probe_passed(u->probes, c->id, zp_node_get(u->svcs[target].svc, "healthcheck")))
        return false;
    if (!c->said_ok)
        orch__emit(u->o, ORCH_OBJ_CONTAINER, c->name ? c->name : c->id, svc, ORCH_DONE,
                   "Healthy (its healthcheck passed)");
    c->said_ok = true;
    return true;
}

static enum orch_gate up_gate(void *ud, size_t node, const struct orch_dep *dep)
{
    struct up *u = ud;
    /* a gate holds back what would start: when neither side has anything to do (a no-op
     * up --wait only looks at the containers) there is nothing to hold back; a dependency
     * that changes is still waited for, so that its failure fails the up */
    if (dep->cond == ORCH_COND_STARTED ||
        (!u->plan.svcs[node].active && !u->plan.svcs[dep->target].active))
        return ORCH_GATE_OPEN;
    const struct svc_ctx *t = &u->svcs[dep->target];
    const char *svc = u->g.nodes[dep->target].name;
    bool wait = false;
    for (size_t i = 0; i < t->nids; i++) {
        struct orch_cstate *c = orch__watch_find(&u->w, t->ids[i], false);
        if (c == NULL || !c->known) {
            wait = true;
            continue;
        }
        int r = dep->cond == ORCH_COND_HEALTHY && probe_ready(u, c, dep->target, svc)
                    ? 1
                    : cond_check(u, c, dep->cond, svc);
        if (r < 0)
            return ORCH_GATE_FAIL;
        if (r == 0) {
            if (!c->said_waiting)
                orch__emit(u->o, ORCH_OBJ_CONTAINER, c->name ? c->name : c->id, svc, ORCH_WORKING,
                           "Waiting");
            c->said_waiting = true;
            wait = true;
        }
    }
    if (wait && u->w.done) {
        gate_fail(u, NULL, "lost the engine's event stream: %s", u->w.err.msg);
        return ORCH_GATE_FAIL;
    }
    return wait ? ORCH_GATE_WAIT : ORCH_GATE_OPEN;
}

/* Asks the engine again for the containers still awaited (the lock is dropped meanwhile):
 * the events are the fast path, and this bounds what a missed or misordered event can
 * cost, to one tick, never a wait forever. */
static int reinspect(struct up *u, char **ids, size_t n, struct zp_err *err)
{
    pthread_mutex_unlock(&u->o->lock);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = orch__watch_inspect(&u->w, u->o->e, ids[i], err);
    pthread_mutex_lock(&u->o->lock);
    return rc;
}

/* Gates wait and nothing was heard for a while: inspect the containers whose state would
 * still hold a gate (a missed or misordered event costs a tick, never a wait forever). */
static void up_recheck(void *ud)
{
    struct up *u = ud;
    char **ids = NULL;
    size_t n = 0;
    for (size_t k = 0; k < u->g.norder; k++) {
        const struct svc_ctx *t = &u->svcs[u->g.order[k]];
        for (size_t i = 0; t->need_state && i < t->nids; i++) {
            const struct orch_cstate *c = orch__watch_find(&u->w, t->ids[i], false);
            if (c != NULL && c->known &&
                (c->exited || (c->running && strcmp(c->health, "starting") != 0)))
                continue;
            ids = zp_realloc(ids, (n + 1) * sizeof(*ids));
            ids[n++] = zp_strdup(t->ids[i]);
        }
    }
    struct zp_err err;
    zp_err_init(&err);
    if (n > 0)
        reinspect(u, ids, n, &err); /* a failed inspect: the next tick tries again */
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static void up_gate_failed(void *ud, size_t node, const struct orch_dep *dep, struct zp_err *err)
{
    struct up *u = ud;
    pthread_mutex_lock(&u->o->lock);
    char *why = zp_strdup(u->fail_why ? u->fail_why : "failed");
    char *id = u->fail_id ? zp_strdup(u->fail_id) : NULL;
    pthread_mutex_unlock(&u->o->lock);
    char *logs = id ? orch__last_logs(u->o->e, id, LOG_TAIL) : NULL;
    zp_err_set(err, ZP_E_ENGINE, NULL, "service '%s': dependency '%s' failed to start: %s%s%s",
               u->g.nodes[node].name, u->g.nodes[dep->target].name, why,
               logs && logs[0] ? "; its last log lines:\n" : "", logs ? logs : "");
    free(why);
    free(id);
    free(logs);
}

/* ---- one service's containers ---- */

static char *resolve_service(void *ud, const char *service)
{
    struct up *u = ud;
    long i = orch__graph_find(&u->g, service);
    const char *cn = i >= 0 ? zp_node_get_str(u->g.nodes[i].svc, "container_name") : NULL;
    return orch__container_name(u->o->p->name, service, cn, 1);
}

/* Create replica `number` under its final name (or `name`, a rollout's temporary one),
 * connected to every network. */
static int create_container(struct up *u, struct engine *e, size_t node, int number,
                            const char *name, char **ret_id, char **ret_name, struct zp_err *err)
{
    struct svc_ctx *sc = &u->svcs[node];
    const char *service = u->g.nodes[node].name;
    struct orch_container_spec spec = {0};
    char *id = NULL;
    /* the API version orch_new negotiated, which every worker's connection adopts */
    int rc =
        orch_container_spec(u->o->p, service, sc->svc, number, sc->image, sc->image_id, sc->hash,
                            false, engine_api_minor(e), resolve_service, u, &spec, err);
    if (rc < 0)
        goto out;
    if (name != NULL) {
        free(spec.name);
        spec.name = zp_strdup(name);
    }
    /* create_host_path: a missing source only (a file bind source exists as a file); on
     * this machine only (a remote engine's paths are not ours: zpanel syncs them) */
    for (size_t i = 0; i < spec.nbind_dirs && engine_is_local(e); i++) {
        if (zp_file_exists(spec.bind_dirs[i]))
            continue;
        if ((rc = zp_mkdir_p(spec.bind_dirs[i], 0755, err)) < 0) {
            zp_err_prefix(err, "service '%s'", service);
            goto out;
        }
    }
    orch__emit(u->o, ORCH_OBJ_CONTAINER, spec.name, service, ORCH_WORKING, "Creating");
    if ((rc = engine_container_create(e, spec.name, spec.json, &id, err)) < 0) {
        zp_err_prefix(err, "service '%s'", service);
        orch__emit(u->o, ORCH_OBJ_CONTAINER, spec.name, service, ORCH_FAILED, "%s", err->msg);
        goto out;
    }
    for (size_t i = 0; i < spec.nnetworks; i++) {
        const struct orch_netattach *na = &spec.networks[i];
        struct engine_endpoint ep = {
            .aliases = (const char *const *)na->aliases,
            .ipv4_address = na->ipv4_address,
            .ipv6_address = na->ipv6_address,
        };
        rc = engine_network_connect_endpoint(e, na->network, id, &ep, err);
        if (rc < 0) {
            struct zp_err ignored;
            zp_err_init(&ignored);
            engine_container_remove(e, id, true, true, &ignored);
            zp_err_prefix(err, "service '%s'", service);
            orch__emit(u->o, ORCH_OBJ_CONTAINER, spec.name, service, ORCH_FAILED, "%s", err->msg);
            goto out;
        }
    }
    orch__emit(u->o, ORCH_OBJ_CONTAINER, spec.name, service, ORCH_DONE, "Created");
    *ret_id = id;
    *ret_name = zp_strdup(spec.name);
    id = NULL;
out:
    free(id);
    orch_container_spec_release(&spec);
    return rc;
}

static int start_container(struct up *u, struct engine *e, const char *service, const char *id,
                           const char *name, struct zp_err *err)
{
    orch__emit(u->o, ORCH_OBJ_CONTAINER, name, service, ORCH_WORKING, "Starting");
    if (engine_container_start(e, id, err) < 0) {
        zp_err_prefix(err, "service '%s'", service);
        orch__emit(u->o, ORCH_OBJ_CONTAINER, name, service, ORCH_FAILED, "%s", err->msg);
        return err->code;
    }
    if (orch__run_hooks(u->o, e, service, "post_start", id, name, err) < 0) {
        zp_err_prefix(err, "service '%s'", service);
        orch__emit(u->o, ORCH_OBJ_CONTAINER, name, service, ORCH_FAILED, "%s", err->msg);
        return err->code;
    }
    orch__emit(u->o, ORCH_OBJ_CONTAINER, name, service, ORCH_DONE, "Started");
    return 0;
}

/* Replace the old container: stop it, rename it aside, create the new one under the
 * final name, start it, remove the old one. On failure the old one is put back. */
static int recreate(struct up *u, struct engine *e, size_t node, int number,
                    const struct orch_obs_container *old, char **ret_id, struct zp_err *err)
{
    const char *service = u->g.nodes[node].name;
    struct svc_ctx *sc = &u->svcs[node];
    char *canon = orch__container_name(u->o->p->name, service, sc->container_name, number);
    char *aside = NULL, *id = NULL, *name = NULL;
    bool was_running = strcmp(old->state, "running") == 0 ||
                       strcmp(old->state, "restarting") == 0 || strcmp(old->state, "paused") == 0;
    bool renamed = false;
    struct zp_err ignored;
    int rc;

    orch__emit(u->o, ORCH_OBJ_CONTAINER, old->name, service, ORCH_WORKING, "Recreate");
    if (was_running &&
        ((rc = orch__run_hooks(u->o, e, service, "pre_stop", old->id, old->name, err)) < 0 ||
         (rc = engine_container_stop(e, old->id, orch__stop_timeout(sc->svc), err)) < 0))
        goto fail;
    if (strcmp(old->name, canon) == 0) {
        aside = zp_asprintf("%.12s_%s", old->id, old->name);
        if ((rc = engine_container_rename(e, old->id, aside, err)) < 0)
            goto fail;
        renamed = true;
    }
    if ((rc = create_container(u, e, node, number, NULL, &id, &name, err)) < 0)
        goto rollback;
    if (!u->opts->no_start && (rc = start_container(u, e, service, id, name, err)) < 0) {
        zp_err_init(&ignored);
        engine_container_remove(e, id, true, true, &ignored);
        goto rollback;
    }
    zp_err_init(&ignored);
    if (engine_container_remove(e, old->id, true, false, &ignored) < 0)
        orch__emit(u->o, ORCH_OBJ_CONTAINER, aside ? aside : old->name, service, ORCH_WARNING, "%s",
                   ignored.msg);
    orch__emit(u->o, ORCH_OBJ_CONTAINER, name, service, ORCH_DONE, "Recreated");
    *ret_id = id;
    id = NULL;
    rc = 0;
    goto out;
rollback:
    zp_err_init(&ignored);
    if (renamed)
        engine_container_rename(e, old->id, old->name, &ignored);
    if (was_running)
        engine_container_start(e, old->id, &ignored);
fail:
    if (strstr(err->msg, service) == NULL)
        zp_err_prefix(err, "service '%s'", service);
    orch__emit(u->o, ORCH_OBJ_CONTAINER, canon, service, ORCH_FAILED, "%s", err->msg);
out:
    free(canon);
    free(aside);
    free(id);
    free(name);
    return rc;
}

static void add_id(struct up *u, size_t node, const char *id)
{
    struct svc_ctx *sc = &u->svcs[node];
    pthread_mutex_lock(&u->o->lock);
    sc->ids = zp_realloc(sc->ids, (sc->nids + 1) * sizeof(*sc->ids));
    sc->ids[sc->nids++] = zp_strdup(id);
    pthread_mutex_unlock(&u->o->lock);
}

/* ---- rollouts: what orch__rollout asks of the executor ---- */

/* Is a recreate of this service's containers a rollout (routed through zpanel's Caddy)? */
static bool rolls_out(const struct up *u, size_t node)
{
    const struct proxy_site *site = u->svcs[node].site;
    return site != NULL && site->kind == PROXY_KIND_CADDY && !u->opts->no_start;
}

struct roll_ctx {
    struct up *u;
    size_t node;
};

static int roll_create(void *ud, struct engine *e, int number, const char *name, char **ret_id,
                       struct zp_err *err)
{
    struct roll_ctx *rc = ud;
    char *final = NULL;
    int r = create_container(rc->u, e, rc->node, number, name, ret_id, &final, err);
    free(final);
    return r;
}

/* The health gate of a replacement: the events thread's view of it (as up_gate). */
static int roll_wait_ready(void *ud, struct engine *e, const char *id, int64_t timeout_ms,
                           struct zp_err *err)
{
    struct roll_ctx *rc = ud;
    struct up *u = rc->u;
    if (!u->w.started)
        ZP_BUG("a rollout without the events thread");
    if (orch__watch_inspect(&u->w, e, id, err) < 0)
        return err->code;
    struct timespec deadline = zp_mono_deadline(timeout_ms); /* o->cond is monotonic */
    int r = 0;
    pthread_mutex_lock(&u->o->lock);
    for (;;) {
        struct orch_cstate *c = orch__watch_find(&u->w, id, false);
        const char *name = c && c->name ? c->name : id;
        if (orch__cancelled(u->o)) {
            r = orch__interrupted(err);
            break;
        }
        if (c != NULL && c->known) {
            if (c->exited) {
                r = zp_err_set(err, ZP_E_ENGINE, NULL, "container %s exited (%lld)", name,
                               (long long)c->exit_code);
                break;
            }
            if (strcmp(c->health, "unhealthy") == 0) {
                r = zp_err_set(err, ZP_E_ENGINE, NULL, "container %s is unhealthy", name);
                break;
            }
            if (c->running && (c->health[0] == '\0' || strcmp(c->health, "healthy") == 0))
                break;
        }
        if (u->w.done) {
            r = zp_err_set(err, ZP_E_ENGINE, NULL, "lost the engine's event stream: %s",
                           u->w.err.msg);
            break;
        }
        if (pthread_cond_timedwait(&u->o->cond, &u->o->lock, &deadline) == ETIMEDOUT) {
            r = zp_err_set(err, ZP_E_ENGINE, NULL, "not healthy after %lld ms",
                           (long long)timeout_ms);
            break;
        }
    }
    pthread_mutex_unlock(&u->o->lock);
    return r;
}

/* ---- creating containers ahead of their gates ---- */

/* Does svc name other services' containers in its create body (network_mode, ipc or pid
 * "service:"/"container:", volumes_from, links)? Those must exist first: such a service
 * is created only when its turn comes. */
static bool refers_to_containers(const struct zp_node *svc)
{
    if (zp_node_get(svc, "links") != NULL || zp_node_get(svc, "volumes_from") != NULL)
        return true;
    static const char *const keys[] = {"network_mode", "ipc", "pid"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        const char *v = zp_node_get_str(svc, keys[k]);
        if (v != NULL && (zp_str_has_prefix(v, "service:") || zp_str_has_prefix(v, "container:")))
            return true;
    }
    return false;
}

/* Is node worth creating ahead: it has containers to create and waits for a gate (a
 * dependency's health or completion) before it may start? */
static bool creates_ahead(const struct up *u, size_t node)
{
    const struct orch_svc_plan *sp = &u->plan.svcs[node];
    const struct orch_gnode *n = &u->g.nodes[node];
    bool gated = false, creates = false;
    for (size_t d = 0; d < n->ndeps && !gated; d++)
        gated = n->deps[d].cond != ORCH_COND_STARTED && u->g.nodes[n->deps[d].target].selected;
    for (size_t i = 0; i < sp->n && !creates; i++)
        creates = sp->items[i].kind == ORCH_STEP_CREATE;
    return gated && creates && !refers_to_containers(u->svcs[node].svc);
}

struct pre_job {
    struct up *u;
    size_t node;
};

/* Create the service's new containers (not started) while its dependencies become
 * healthy, as Compose does; the service's job starts them when the gates open. */
static void pre_job(struct orch_worker *w, void *arg)
{
    struct pre_job *j = arg;
    struct up *u = j->u;
    struct svc_ctx *sc = &u->svcs[j->node];
    pthread_mutex_lock(&u->o->lock);
    bool mine = sc->pre_state == PRE_NONE && !u->sched_done && !orch__cancelled(u->o);
    if (mine)
        sc->pre_state = PRE_RUNNING;
    pthread_mutex_unlock(&u->o->lock);
    if (!mine)
        return;
    const struct orch_svc_plan *sp = &u->plan.svcs[j->node];
    struct zp_err err;
    zp_err_init(&err);
    int rc = 0;
    for (size_t i = 0; i < sp->n && rc == 0 && !orch__cancelled(u->o); i++) {
        if (sp->items[i].kind != ORCH_STEP_CREATE)
            continue;
        struct pre_container pc = {.number = sp->items[i].number};
        rc = create_container(u, w->e, j->node, pc.number, NULL, &pc.id, &pc.name, &err);
        if (rc == 0) {
            sc->pre = zp_realloc(sc->pre, (sc->npre + 1) * sizeof(*sc->pre));
            sc->pre[sc->npre++] = pc;
        }
    }
    pthread_mutex_lock(&u->o->lock);
    if (rc < 0) {
        sc->pre_err = zp_malloc(sizeof(*sc->pre_err));
        *sc->pre_err = err;
        sc->pre_rc = rc;
    }
    sc->pre_state = PRE_DONE;
    pthread_cond_broadcast(&u->o->cond);
    pthread_mutex_unlock(&u->o->lock);
}

static int up_job(void *ud, struct orch_worker *w, size_t node, struct zp_err *err)
{
    struct up *u = ud;
    struct svc_ctx *sc = &u->svcs[node];
    const struct orch_svc_plan *sp = &u->plan.svcs[node];
    const char *service = u->g.nodes[node].name;
    char **track = NULL;
    size_t ntrack = 0;
    struct orch_roll_item *roll = NULL;
    size_t nroll = 0;
    int rc = 0;

    /* containers created ahead of the gates: wait for that work, never do it twice */
    pthread_mutex_lock(&u->o->lock);
    if (sc->pre_state == PRE_NONE)
        sc->pre_state = PRE_DONE;
    while (sc->pre_state == PRE_RUNNING)
        pthread_cond_wait(&u->o->cond, &u->o->lock);
    pthread_mutex_unlock(&u->o->lock);
    if (sc->pre_rc < 0) {
        *err = *sc->pre_err;
        return sc->pre_rc;
    }
    if (sc->site != NULL && sp->active) {
        pthread_mutex_lock(&u->px.lock);
        u->px.touched = true;
        pthread_mutex_unlock(&u->px.lock);
    }
    for (size_t i = 0; i < sp->n; i++) {
        const struct orch_step_item *it = &sp->items[i];
        const struct orch_obs_container *old = it->old >= 0 ? &u->obs.c[it->old] : NULL;
        char *id = NULL, *name = NULL;
        if (orch__cancelled(u->o)) {
            rc = orch__interrupted(err);
            break;
        }
        switch (it->kind) {
        case ORCH_STEP_NONE:
            orch__emit(u->o, ORCH_OBJ_CONTAINER, old->name, service, ORCH_INFO, "Running");
            /* the list already told its state: no inspect for a container left as it is
             * (a no-op up of N services is then one list, not N inspects) */
            if (sc->need_state && u->obs_ns > 0 && old->state != NULL &&
                strcmp(old->state, "running") == 0 &&
                (old->health == NULL || strcmp(old->health, "healthy") == 0)) {
                orch__watch_seed(&u->w, old->id, old->name, old->health, u->obs_ns);
                add_id(u, node, old->id);
                break;
            }
            id = zp_strdup(old->id);
            break;
        case ORCH_STEP_CREATE:
            for (size_t p = 0; p < sc->npre && id == NULL; p++) {
                if (sc->pre[p].number == it->number && sc->pre[p].id != NULL) {
                    id = sc->pre[p].id;
                    name = sc->pre[p].name;
                    sc->pre[p].id = sc->pre[p].name = NULL;
                }
            }
            if (id == NULL)
                rc = create_container(u, w->e, node, it->number, NULL, &id, &name, err);
            if (rc == 0 && !u->opts->no_start)
                rc = start_container(u, w->e, service, id, name, err);
            break;
        case ORCH_STEP_RECREATE:
            if (rolls_out(u, node)) { /* after the other steps, in batches */
                roll = zp_realloc(roll, (nroll + 1) * sizeof(*roll));
                roll[nroll++] = (struct orch_roll_item){it->number, old, NULL};
                break;
            }
            rc = recreate(u, w->e, node, it->number, old, &id, err);
            break;
        case ORCH_STEP_START:
            rc = start_container(u, w->e, service, old->id, old->name, err);
            id = zp_strdup(old->id);
            break;
        case ORCH_STEP_RESTART:
            orch__emit(u->o, ORCH_OBJ_CONTAINER, old->name, service, ORCH_WORKING, "Restarting");
            rc = engine_container_restart(w->e, old->id, orch__stop_timeout(sc->svc), err);
            if (rc < 0) {
                zp_err_prefix(err, "service '%s'", service);
                orch__emit(u->o, ORCH_OBJ_CONTAINER, old->name, service, ORCH_FAILED, "%s",
                           err->msg);
            } else {
                orch__emit(u->o, ORCH_OBJ_CONTAINER, old->name, service, ORCH_DONE, "Restarted");
            }
            id = zp_strdup(old->id);
            break;
        case ORCH_STEP_REMOVE:
            rc = orch__remove_container(u->o, w->e, old, orch__stop_timeout(sc->svc), false, err);
            break;
        }
        if (rc == 0 && id != NULL && !u->opts->no_start) {
            add_id(u, node, id);
            track = zp_realloc(track, (ntrack + 1) * sizeof(*track));
            track[ntrack++] = id;
            id = NULL;
        }
        free(id);
        free(name);
        if (rc < 0)
            break;
    }
    if (rc == 0 && nroll > 0) {
        struct roll_ctx rc_ctx = {u, node};
        struct orch_rollout_ops ops = {
            .ud = &rc_ctx, .create = roll_create, .wait_ready = roll_wait_ready};
        struct orch_rollout r = {
            .o = u->o,
            .e = w->e,
            .px = &u->px,
            .service = service,
            .svc = sc->svc,
            .site = sc->site,
            .container_name = sc->container_name,
            .hash = sc->hash,
            .ops = &ops,
        };
        rc = orch__rollout(&r, roll, nroll, err);
        for (size_t i = 0; i < nroll && rc == 0; i++) {
            add_id(u, node, roll[i].new_id);
            track = zp_realloc(track, (ntrack + 1) * sizeof(*track));
            track[ntrack++] = roll[i].new_id;
            roll[i].new_id = NULL;
        }
    }
    for (size_t i = 0; i < nroll; i++)
        free(roll[i].new_id);
    free(roll);
    for (size_t i = 0; i < ntrack; i++) {
        if (rc == 0 && sc->need_state && track[i] != NULL) {
            rc = orch__watch_inspect(&u->w, w->e, track[i], err);
            if (rc < 0)
                zp_err_prefix(err, "service '%s'", service);
        }
        free(track[i]);
    }
    free(track);
    return rc;
}

static bool up_skip(void *ud, size_t node)
{
    struct up *u = ud;
    return !u->plan.svcs[node].active && !u->svcs[node].need_state;
}

/* ---- images ---- */

static int ensure_image(struct up *u, size_t node, struct zp_err *err)
{
    struct orch *o = u->o;
    struct svc_ctx *sc = &u->svcs[node];
    const char *service = u->g.nodes[node].name;
    const struct zp_node *svc = u->g.nodes[node].svc;
    const struct orch_up_opts *opts = u->opts;
    bool has_build = zp_node_get(svc, "build") != NULL;
    const char *pp = zp_node_get_str(svc, "pull_policy");
    bool pp_build = pp != NULL && strcmp(pp, "build") == 0;
    bool pp_never = pp != NULL && strcmp(pp, "never") == 0;

    /* the same image for a service resolved earlier: one inspect per image */
    for (size_t k = 0; k < u->g.norder; k++) {
        size_t j = u->g.order[k];
        if (j == node)
            continue;
        if (u->svcs[j].image_id != NULL && strcmp(u->svcs[j].image, sc->image) == 0 &&
            (!has_build || zp_node_get(u->g.nodes[j].svc, "build") != NULL)) {
            sc->image_id = zp_strdup(u->svcs[j].image_id);
            return 0;
        }
    }

    bool exists = false;
    char *id = NULL;
    if (engine_image_inspect(o->e, sc->image, &exists, &id, err) < 0) {
        zp_err_prefix(err, "service '%s'", service);
        return err->code;
    }
    bool build = false;
    char digest[65] = "";
    if (has_build && !opts->no_build) {
        if (!exists) {
            build = true;
        } else if (opts->build || pp_build) {
            struct orch_build_opts bo = {0};
            if (orch_build_digest(o->p, svc, &bo, digest, err) < 0) {
                free(id);
                zp_err_prefix(err, "service '%s'", service);
                return err->code;
            }
            build = !orch__image_has_digest(o->e, sc->image, id, digest);
        }
    }
    if (build) {
        char *built = NULL;
        int rc =
            orch__build_image(o, service, svc, sc->image, digest[0] ? digest : NULL, &built, err);
        free(id);
        if (rc < 0)
            return rc;
        id = built;
        exists = true;
    }
    if (!exists) {
        if (has_build)
            return zp_err_set(err, ZP_E_NOTFOUND, NULL,
                              "service '%s': image '%s' is not present on the engine and "
                              "--no-build was given",
                              service, sc->image);
        if (opts->pull == ORCH_PULL_NEVER || pp_never)
            return zp_err_set(err, ZP_E_NOTFOUND, NULL,
                              "service '%s': image '%s' is not present on the engine and "
                              "pulling is disabled (pull policy never)",
                              service, sc->image);
        return zp_err_set(err, ZP_E_NOTFOUND, NULL,
                          "service '%s': image '%s' is not present on the engine and cannot "
                          "be pulled: no registry is configured",
                          service, sc->image);
    }
    sc->image_id = id;
    return 0;
}

static int64_t want_replicas(const struct zp_node *svc, const char *service,
                             const struct orch_up_opts *opts)
{
    for (size_t i = 0; i < opts->nscale; i++)
        if (strcmp(opts->scale[i].service, service) == 0)
            return opts->scale[i].replicas;
    return orch__model_replicas(svc);
}

static int prepare_services(struct up *u, struct zp_err *err)
{
    struct orch *o = u->o;
    struct orch_host host = {0};
    /* another machine's engine: its clock (GET /info, once a session) for comparing its
     * times, read here, before any thread asks orch__engine_now */
    if (!engine_is_local(o->e) && orch__host(o, &host, err) < 0)
        return err->code;
    u->svcs = zp_calloc(u->g.n ? u->g.n : 1, sizeof(*u->svcs));
    for (size_t k = 0; k < u->g.norder; k++) {
        size_t i = u->g.order[k];
        const char *service = u->g.nodes[i].name;
        struct svc_ctx *sc = &u->svcs[i];
        sc->svc = zp_node_copy(u->g.nodes[i].svc);
        /* the host's CPUs and memory (the same GET /info) only for a service with limits */
        if (orch_limits_use_host(sc->svc) && orch__host(o, &host, err) < 0)
            return err->code;
        struct orch_adjustment *adj = NULL;
        size_t nadj = 0;
        orch_adapt_limits(sc->svc, service, &host, !u->opts->no_adapt_limits, &adj, &nadj);
        for (size_t a = 0; a < nadj; a++)
            orch__emit(o, ORCH_OBJ_PROJECT, o->p->name, service, ORCH_INFO,
                       "service '%s': %s %s -> %s (%s)", service, adj[a].field, adj[a].from,
                       adj[a].to, adj[a].why);
        orch_adjustments_free(adj, nadj);
        sc->image = orch_service_image(o->p->name, service, u->g.nodes[i].svc);
        const char *cn = zp_node_get_str(sc->svc, "container_name");
        sc->container_name = cn ? zp_strdup(cn) : NULL;
        sc->replicas = want_replicas(sc->svc, service, u->opts);
        struct proxy_site site;
        bool routed = false;
        if (orch_service_site(o->p, service, sc->svc, &site, &routed, err) < 0)
            return err->code;
        if (routed) {
            sc->site = zp_malloc(sizeof(*sc->site));
            *sc->site = site;
        }
        if (sc->container_name != NULL && sc->replicas > 1)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "service '%s': container_name '%s' is set, so it cannot have "
                              "%lld replicas",
                              service, sc->container_name, (long long)sc->replicas);
    }
    /* services that build their image first, so that a service running an image another
     * one builds (same reference, no build section of its own) finds it */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < u->g.norder; k++) {
            size_t i = u->g.order[k];
            bool has_build = zp_node_get(u->g.nodes[i].svc, "build") != NULL;
            if (has_build != (pass == 0))
                continue;
            if (ensure_image(u, i, err) < 0)
                return err->code;
            orch_config_hash(u->svcs[i].svc, u->svcs[i].image_id, u->svcs[i].hash);
        }
    }
    return 0;
}

/* ---- --wait ---- */

static bool one_shot(const struct up *u, size_t node)
{
    const char *r = zp_node_get_str(u->g.nodes[node].svc, "restart");
    if (r == NULL || strcmp(r, "no") == 0)
        return true;
    const struct orch_gnode *n = &u->g.nodes[node];
    for (size_t k = 0; k < n->ndependents; k++) {
        const struct orch_gnode *d = &u->g.nodes[n->dependents[k]];
        for (size_t j = 0; j < d->ndeps; j++)
            if (d->deps[j].target == node && d->deps[j].cond == ORCH_COND_COMPLETED)
                return true;
    }
    return false;
}

/* A no-op `up --wait` whose containers the list already shows ready (running, and healthy
 * where they have a check; a one-shot exited 0): nothing to wait for, so no event stream.
 * With say, says what wait_services would say. False when anything must still be awaited
 * (the full wait decides). */
static bool ready_as_listed(struct up *u, bool say)
{
    for (int pass = 0; pass < (say ? 2 : 1); pass++) {
        for (size_t k = 0; k < u->g.norder; k++) {
            size_t node = u->g.order[k];
            if (orch_health_excluded(u->g.nodes[node].svc))
                continue;
            const struct orch_svc_plan *sp = &u->plan.svcs[node];
            for (size_t i = 0; i < sp->n; i++) {
                if (sp->items[i].old < 0)
                    return false;
                const struct orch_obs_container *c = &u->obs.c[sp->items[i].old];
                bool exited = c->state != NULL && strcmp(c->state, "exited") == 0;
                bool ok = exited ? c->exit_code == 0 && one_shot(u, node)
                                 : c->state != NULL && strcmp(c->state, "running") == 0 &&
                                       (c->health == NULL || strcmp(c->health, "healthy") == 0);
                if (!ok)
                    return false;
                if (pass == 1)
                    orch__emit(u->o, ORCH_OBJ_CONTAINER, c->name, u->g.nodes[node].name, ORCH_DONE,
                               exited      ? "Exited"
                               : c->health ? "Healthy"
                                           : "Running");
            }
        }
    }
    return true;
}

static int wait_services(struct up *u, struct zp_err *err)
{
    struct orch *o = u->o;
    int64_t limit = u->opts->wait_timeout_ms;
    int64_t end = limit > 0 ? zp_mono_ns() + limit * 1000000 : 0; /* monotonic */
    char *fail_id = NULL, *fail_svc = NULL, *why = NULL;
    char **awaited = NULL;
    size_t nawaited = 0;
    int64_t recheck = zp_mono_ns() + (int64_t)ORCH_RECHECK_MS * 1000000;
    int rc = 0;
    pthread_mutex_lock(&o->lock);
    for (;;) {
        for (size_t i = 0; i < nawaited; i++)
            free(awaited[i]);
        nawaited = 0;
        if (orch__cancelled(o)) {
            rc = orch__interrupted(err);
            break;
        }
        bool all = true;
        struct zp_buf waiting = ZP_BUF_INIT;
        for (size_t k = 0; k < u->g.norder && why == NULL; k++) {
            size_t node = u->g.order[k];
            const char *svc = u->g.nodes[node].name;
            if (orch_health_excluded(u->g.nodes[node].svc))
                continue; /* exclude_from_health: not awaited */
            for (size_t i = 0; i < u->svcs[node].nids && why == NULL; i++) {
                struct orch_cstate *c = orch__watch_find(&u->w, u->svcs[node].ids[i], false);
                const char *name = c && c->name ? c->name : u->svcs[node].ids[i];
                bool ok = false;
                if (c != NULL && c->known) {
                    if (c->exited) {
                        if (c->exit_code == 0 && one_shot(u, node)) {
                            ok = true;
                        } else {
                            why = zp_asprintf("container %s exited (%lld)", name,
                                              (long long)c->exit_code);
                        }
                    } else if (strcmp(c->health, "unhealthy") == 0) {
                        why = zp_asprintf("container %s is unhealthy", name);
                    } else if (c->running &&
                               (c->health[0] == '\0' || strcmp(c->health, "healthy") == 0)) {
                        ok = true;
                    }
                }
                if (why != NULL) {
                    fail_id = zp_strdup(c->id);
                    fail_svc = zp_strdup(svc);
                } else if (ok && !c->said_ok) {
                    c->said_ok = true;
                    orch__emit(o, ORCH_OBJ_CONTAINER, name, svc, ORCH_DONE,
                               c->exited      ? "Exited"
                               : c->health[0] ? "Healthy"
                                              : "Running");
                } else if (!ok) {
                    all = false;
                    zp_buf_addf(&waiting, "%s%s", waiting.len ? ", " : "", name);
                    awaited = zp_realloc(awaited, (nawaited + 1) * sizeof(*awaited));
                    awaited[nawaited++] = zp_strdup(u->svcs[node].ids[i]);
                }
            }
        }
        if (why != NULL || all) {
            zp_buf_release(&waiting);
            break;
        }
        if (u->w.done) {
            rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                            "waiting for %s: lost the engine's event stream: %s",
                            zp_buf_cstr(&waiting), u->w.err.msg);
            zp_buf_release(&waiting);
            break;
        }
        /* wake at the next recheck or at the deadline, whichever comes first */
        int64_t now = zp_mono_ns(), wake = recheck;
        if (end > 0 && end < wake)
            wake = end;
        if (wake > now) {
            struct timespec at = zp_mono_deadline((wake - now + 999999) / 1000000);
            pthread_cond_timedwait(&o->cond, &o->lock, &at);
            now = zp_mono_ns();
        }
        if (end > 0 && now >= end) {
            rc = zp_err_set(err, ZP_E_ENGINE, NULL, "timed out after %lld ms waiting for %s",
                            (long long)limit, zp_buf_cstr(&waiting));
            zp_buf_release(&waiting);
            break;
        }
        if (now >= recheck) {
            recheck = now + (int64_t)ORCH_RECHECK_MS * 1000000;
            if ((rc = reinspect(u, awaited, nawaited, err)) < 0) {
                zp_err_prefix(err, "waiting for %s", zp_buf_cstr(&waiting));
                zp_buf_release(&waiting);
                break;
            }
        }
        zp_buf_release(&waiting);
    }
    pthread_mutex_unlock(&o->lock);
    for (size_t i = 0; i < nawaited; i++)
        free(awaited[i]);
    free(awaited);
    if (why != NULL) {
        char *logs = orch__last_logs(o->e, fail_id, LOG_TAIL);
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "service '%s': %s%s%s", fail_svc, why,
                        logs[0] ? "; its last log lines:\n" : "", logs);
        free(logs);
    }
    free(why);
    free(fail_id);
    free(fail_svc);
    return rc;
}

/* ---- up ---- */

static void orphans(struct up *u, struct zp_err *err)
{
    struct orch *o = u->o;
    if (u->plan.norphans == 0)
        return;
    if (!u->opts->remove_orphans) {
        struct zp_buf b = ZP_BUF_INIT;
        for (size_t i = 0; i < u->plan.norphans; i++)
            zp_buf_addf(&b, "%s%s", i ? ", " : "", u->obs.c[u->plan.orphans[i]].name);
        orch__emit(o, ORCH_OBJ_PROJECT, o->p->name, NULL, ORCH_WARNING,
                   "found orphan containers (%s) for this project; if you removed or renamed "
                   "this service in your compose file, run this command with "
                   "--remove-orphans to clean it up",
                   zp_buf_cstr(&b));
        zp_buf_release(&b);
        return;
    }
    for (size_t i = 0; i < u->plan.norphans && err->code == 0; i++)
        orch__remove_container(o, o->e, &u->obs.c[u->plan.orphans[i]], -1, false, err);
}

/* Every service this up creates containers for maps before anything changes: a field the
 * engine cannot take is refused with its place in the files, not after the networks were
 * made or orphans removed. One container per service (its replicas map alike). */
static int check_mapping(struct up *u, struct zp_err *err)
{
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < u->g.norder; k++) {
        size_t i = u->g.order[k];
        const struct orch_svc_plan *sp = &u->plan.svcs[i];
        const struct svc_ctx *sc = &u->svcs[i];
        for (size_t j = 0; j < sp->n; j++) {
            const struct orch_step_item *it = &sp->items[j];
            if (it->kind != ORCH_STEP_CREATE && it->kind != ORCH_STEP_RECREATE)
                continue;
            struct orch_container_spec spec = {0};
            rc = orch_container_spec(u->o->p, u->g.nodes[i].name, sc->svc, it->number, sc->image,
                                     sc->image_id, sc->hash, false, engine_api_minor(u->o->e),
                                     resolve_service, u, &spec, err);
            orch_container_spec_release(&spec);
            break;
        }
    }
    return rc;
}

/* A host belongs to the project that claimed it first: refuse another project's (see
 * proxy_check_claims). */
static int check_hosts(struct up *u, struct zp_err *err)
{
    const struct proxy_site **sites = zp_calloc(u->g.n ? u->g.n : 1, sizeof(*sites));
    size_t n = 0;
    for (size_t k = 0; u->svcs != NULL && k < u->g.norder; k++)
        if (u->svcs[u->g.order[k]].site != NULL)
            sites[n++] = u->svcs[u->g.order[k]].site;
    int rc = n > 0 ? proxy_check_claims(u->o->e, u->o->p->name, sites, n, err) : 0;
    free(sites);
    return rc;
}

/* After up routed the project's hosts: a host served over HTTPS (tls auto or internal)
 * that has no certificate is said (ORCH_WARNING naming it and Caddy's reason), once its
 * first issuance ended or PROXY_CERT_WAIT_MS passed. Never an error: the others serve. */
static void warn_certs(struct up *u)
{
    bool https = false;
    for (size_t k = 0; u->svcs != NULL && k < u->g.norder && !https; k++) {
        const struct proxy_site *s = u->svcs[u->g.order[k]].site;
        https = s != NULL && s->kind == PROXY_KIND_CADDY && s->tls != PROXY_TLS_OFF;
    }
    if (!https || !u->px.running)
        return;
    struct proxy_cert *c = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (proxy_certs(u->o->e, &u->px.opts, PROXY_CERT_WAIT_MS, &c, &n, &err) != 0) {
        orch__emit(u->o, ORCH_OBJ_PROJECT, u->o->p->name, NULL, ORCH_WARNING,
                   "the proxy's certificates: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct proxy_site *mine = NULL;
        for (size_t k = 0; u->svcs != NULL && k < u->g.norder && !mine; k++) {
            const struct proxy_site *s = u->svcs[u->g.order[k]].site;
            if (s != NULL && s->tls != PROXY_TLS_OFF && proxy_site_names_host(s, c[i].host))
                mine = s;
        }
        if (mine == NULL || (c[i].not_after > 0 && c[i].error == NULL))
            continue;
        if (c[i].error != NULL)
            orch__emit(u->o, ORCH_OBJ_PROJECT, u->o->p->name, mine->service, ORCH_WARNING,
                       "host '%s': no certificate%s: %s", c[i].host,
                       c[i].not_after > 0 ? " renewed" : "", c[i].error);
        else
            orch__emit(u->o, ORCH_OBJ_PROJECT, u->o->p->name, mine->service, ORCH_WARNING,
                       "host '%s': no certificate yet (still being obtained after %d s)", c[i].host,
                       PROXY_CERT_WAIT_MS / 1000);
    }
    proxy_certs_free(c, n);
}

int orch_up(struct orch *o, const struct orch_up_opts *opts, struct zp_err *err)
{
    struct orch_up_opts dflt = {0};
    struct up u = {.o = o, .opts = opts ? opts : &dflt};
    struct orch_want *wants = NULL;
    struct orch_pool *pool = NULL;
    int rc;
    opts = u.opts;
    o->up_unchanged = false;
    orch__watch_init(&u.w, o);
    u.state_dir = zp_state_dir();
    orch__proxy_ctx_init(&u.px, u.state_dir);

    if ((rc = orch__graph_build(o->p->model, opts->services, opts->nservices, opts->no_deps, &u.g,
                                err)) < 0)
        goto out;
    if ((rc = prepare_services(&u, err)) < 0)
        goto out;
    if ((rc = check_hosts(&u, err)) < 0) /* before anything changes */
        goto out;
    if (orch__cancelled(o)) {
        rc = orch__interrupted(err);
        goto out;
    }
    /* the engine's clock before the list: events newer than the list override what it
     * says of a container (orch__watch_seed), older ones don't */
    if (opts->listed != NULL) {
        /* the caller's list, taken just before this up */
        u.obs_ns = opts->listed->ns;
        orch__observed_from_list(&opts->listed->l, &u.obs);
    } else {
        if (orch__engine_clock_known(o))
            u.obs_ns = orch__engine_now(o);
        if ((rc = orch__observe(o->e, o->p->name, &u.obs, err)) < 0)
            goto out;
    }
    wants = zp_calloc(u.g.n ? u.g.n : 1, sizeof(*wants));
    for (size_t k = 0; k < u.g.norder; k++) {
        size_t i = u.g.order[k];
        wants[i] = (struct orch_want){u.svcs[i].hash, u.svcs[i].container_name, u.svcs[i].replicas};
    }
    orch__plan_make(o->p->name, &u.g, wants, &u.obs, opts->recreate, opts->no_start, &u.plan);
    if ((rc = check_mapping(&u, err)) < 0)
        goto out;

    bool active = false;
    for (size_t k = 0; k < u.g.norder; k++)
        active = active || u.plan.svcs[u.g.order[k]].active;
    orphans(&u, err);
    if (err->code != 0) {
        rc = err->code;
        goto out;
    }
    o->up_unchanged = !active && !(opts->remove_orphans && u.plan.norphans > 0);
    bool awaits = opts->wait && !opts->no_start;
    if (!active && (!awaits || ready_as_listed(&u, false))) {
        for (size_t k = 0; k < u.g.norder; k++) {
            const struct orch_svc_plan *sp = &u.plan.svcs[u.g.order[k]];
            for (size_t i = 0; i < sp->n; i++)
                orch__emit(o, ORCH_OBJ_CONTAINER, u.obs.c[sp->items[i].old].name,
                           u.g.nodes[u.g.order[k]].name, ORCH_INFO, "Running");
        }
        if (awaits)
            ready_as_listed(&u, true); /* the wait's verdicts, from the list */
        rc = 0;
        goto out;
    }
    bool routed = false;
    for (size_t k = 0; k < u.g.norder && !routed; k++)
        routed = u.svcs[u.g.order[k]].site != NULL;
    if (active && (rc = orch__ensure_objects(o, &u.g, routed, err)) < 0)
        goto out;

    /* which services' container states are needed: gated dependencies, or all (--wait) */
    bool need_events = opts->wait;
    for (size_t k = 0; k < u.g.norder && !opts->no_start; k++) {
        size_t i = u.g.order[k];
        if (opts->wait)
            u.svcs[i].need_state = true;
        for (size_t d = 0; d < u.g.nodes[i].ndeps; d++) {
            const struct orch_dep *dep = &u.g.nodes[i].deps[d];
            if (dep->cond != ORCH_COND_STARTED && u.g.nodes[dep->target].selected &&
                u.plan.svcs[i].active) {
                u.svcs[dep->target].need_state = true;
                need_events = true;
            }
        }
    }
    /* a rollout waits on its replacements' health (as a gate does) */
    for (size_t k = 0; k < u.g.norder && !opts->no_start; k++) {
        size_t i = u.g.order[k];
        const struct orch_svc_plan *sp = &u.plan.svcs[i];
        for (size_t j = 0; j < sp->n && rolls_out(&u, i); j++)
            need_events = need_events || sp->items[j].kind == ORCH_STEP_RECREATE;
    }
    if (opts->no_start)
        need_events = false;
    if (need_events && (rc = orch__watch_start(&u.w, err)) < 0)
        goto out;
    if (need_events)
        u.probes = orch__probes_new(o);
    if ((rc = orch__pool_start(o, opts->max_parallel, &pool, err)) < 0)
        goto out;
    struct orch_sched_ops ops = {
        .ud = &u,
        .job = up_job,
        .gate = up_gate,
        .gate_failed = up_gate_failed,
        .skip = up_skip,
        .recheck = up_recheck,
    };
    /* the services behind gates get their containers created meanwhile, on two workers
     * of their own (the scheduler's queue stays free for what may start now) */
    struct pre_job *pre = zp_calloc(u.g.n ? u.g.n : 1, sizeof(*pre));
    struct orch_pool *prepool = NULL;
    for (size_t k = 0; k < u.g.norder && !opts->no_start; k++) {
        size_t i = u.g.order[k];
        if (!creates_ahead(&u, i))
            continue;
        if (prepool == NULL && orch__pool_start(o, 2, &prepool, err) < 0) {
            zp_err_init(err); /* an optimisation only: the jobs create them in turn */
            break;
        }
        pre[i] = (struct pre_job){&u, i};
        orch__pool_submit(prepool, pre_job, &pre[i]);
    }
    rc = orch__schedule(o, pool, &u.g, false, &ops, err);
    pthread_mutex_lock(&o->lock);
    u.sched_done = true;
    pthread_mutex_unlock(&o->lock);
    orch__pool_stop(prepool);
    free(pre);
    orch__pool_stop(pool);
    pool = NULL;
    orch__probes_free(u.probes); /* the gates are done with them */
    u.probes = NULL;
    if (u.px.touched || (opts->remove_orphans && u.plan.norphans > 0)) {
        /* routes of the containers created, replaced or removed (the proxy also learns
         * of a first creation here) */
        struct zp_err serr;
        zp_err_init(&serr);
        if (orch__proxy_sync(o, o->e, &u.px, &serr) < 0 && rc == 0) {
            *err = serr;
            rc = serr.code;
        }
        if (rc == 0)
            warn_certs(&u);
    }
    if (rc == 0 && opts->wait && !opts->no_start)
        rc = wait_services(&u, err);
out:
    orch__pool_stop(pool);
    orch__probes_free(u.probes);
    orch__watch_stop(&u.w);
    if (rc < 0 && err->code == 0)
        zp_err_set(err, ZP_E_INTERNAL, NULL, "up failed");
    for (size_t i = 0; u.svcs != NULL && i < u.g.n; i++) {
        zp_node_free(u.svcs[i].svc);
        free(u.svcs[i].image);
        free(u.svcs[i].image_id);
        free(u.svcs[i].container_name);
        if (u.svcs[i].site != NULL) {
            proxy_site_release(u.svcs[i].site);
            free(u.svcs[i].site);
        }
        for (size_t k = 0; k < u.svcs[i].nids; k++)
            free(u.svcs[i].ids[k]);
        free(u.svcs[i].ids);
        for (size_t k = 0; k < u.svcs[i].npre; k++) {
            free(u.svcs[i].pre[k].id);
            free(u.svcs[i].pre[k].name);
        }
        free(u.svcs[i].pre);
        free(u.svcs[i].pre_err);
    }
    free(u.svcs);
    orch__watch_release(&u.w);
    free(u.fail_id);
    free(u.fail_why);
    orch__proxy_ctx_release(&u.px);
    free(u.state_dir);
    free(wants);
    orch__plan_release(&u.plan);
    orch__observed_release(&u.obs);
    orch__graph_release(&u.g);
    return rc;
}

bool orch_up_unchanged(const struct orch *o)
{
    return o->up_unchanged;
}

/* orchestrator/converge: `up`, the executor: networks and volumes, images, then containers
 * in dependency order on the worker pool, each dependency gate opened by the engine's
 * events (health_status, die, start). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build.h"
#include "hooks.h"
#include "orchestrator-int.h"
#include "routes.h"

#include "../util/banned.h"

#define MAX_TRACKED 4096
#define LOG_TAIL 20

/* A container's state as last seen by an inspect or an event; guarded by o->lock. */
struct cstate {
    char *id;
    char *name;
    bool known; /* inspected, or seen by an event */
    bool running;
    bool exited;
    int64_t exit_code;
    char health[16]; /* "" without a health check */
    int64_t time_ns; /* wall-clock time of the newest information applied */
    bool said_waiting, said_ok;
};

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
};

struct up {
    struct orch *o;
    const struct orch_up_opts *opts;
    struct orch_graph g;
    struct svc_ctx *svcs;
    struct orch_observed obs;
    struct orch_plan plan;
    /* events, guarded by o->lock */
    struct cstate *cs;
    size_t ncs;
    bool events_started;
    bool events_done;
    struct zp_err events_err;
    struct engine *ee;
    pthread_t events_thread;
    int64_t since;
    /* the failed gate, guarded by o->lock */
    char *fail_id;
    char *fail_why;
    /* routed services: the proxy, the rollouts' overrides */
    char *state_dir;
    struct orch_proxy_ctx px;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- tracked container states ---- */

static struct cstate *cs_find(struct up *u, const char *id, bool add)
{
    for (size_t i = 0; i < u->ncs; i++)
        if (strcmp(u->cs[i].id, id) == 0)
            return &u->cs[i];
    if (!add || u->ncs >= MAX_TRACKED)
        return NULL;
    u->cs = zp_realloc(u->cs, (u->ncs + 1) * sizeof(*u->cs));
    struct cstate *c = &u->cs[u->ncs++];
    memset(c, 0, sizeof(*c));
    c->id = zp_strdup(id);
    return c;
}

static void set_health(struct cstate *c, const char *h)
{
    snprintf(c->health, sizeof(c->health), "%s", h ? h : "");
}

static int on_event(void *ctx, const struct engine_event *ev, struct zp_err *err)
{
    struct up *u = ctx;
    (void)err;
    if (ev->type == NULL || strcmp(ev->type, "container") != 0 || ev->action == NULL ||
        ev->actor_id == NULL)
        return 0;
    const char *a = ev->action;
    bool start = strcmp(a, "start") == 0, die = strcmp(a, "die") == 0;
    bool health = zp_str_has_prefix(a, "health_status:");
    if (!start && !die && !health)
        return 0;
    pthread_mutex_lock(&u->o->lock);
    struct cstate *c = cs_find(u, ev->actor_id, true);
    if (c != NULL && ev->time_nano >= c->time_ns) {
        c->known = true;
        c->time_ns = ev->time_nano;
        if (start) {
            c->running = true;
            c->exited = false;
            if (c->health[0] != '\0')
                set_health(c, "starting");
        } else if (die) {
            int64_t code = 0;
            const char *s = engine_labels_get(&ev->attributes, "exitCode");
            if (s != NULL)
                zp_parse_int64(s, INT64_MIN, INT64_MAX, &code);
            c->running = false;
            c->exited = true;
            c->exit_code = code;
        } else {
            const char *h = a + strlen("health_status:");
            while (*h == ' ')
                h++;
            set_health(c, h);
        }
        if (c->name == NULL) {
            const char *name = engine_labels_get(&ev->attributes, "name");
            if (name != NULL)
                c->name = zp_strdup(name);
        }
        pthread_cond_broadcast(&u->o->cond);
    }
    pthread_mutex_unlock(&u->o->lock);
    return 0;
}

static void *events_main(void *arg)
{
    struct up *u = arg;
    char *label = zp_asprintf("%s=%s", ORCH_LABEL_PROJECT, u->o->p->name);
    const char *labels[] = {label, NULL};
    const char *types[] = {"container", NULL};
    struct engine_events_filter f = {.labels = labels, .types = types};
    struct zp_err err;
    zp_err_init(&err);
    int rc = engine_events(u->ee, u->since, 0, &f, on_event, u, &err);
    pthread_mutex_lock(&u->o->lock);
    u->events_done = true;
    if (rc == 0)
        zp_err_set(&err, ZP_E_ENGINE, NULL, "the engine's event stream ended");
    if (rc != ENGINE_E_CANCELLED)
        u->events_err = err;
    pthread_cond_broadcast(&u->o->cond);
    pthread_mutex_unlock(&u->o->lock);
    free(label);
    return NULL;
}

static int events_start(struct up *u, struct zp_err *err)
{
    u->ee = engine_new(u->o->host, err);
    if (u->ee == NULL)
        return err->code;
    if (pthread_create(&u->events_thread, NULL, events_main, u) != 0) {
        engine_free(u->ee);
        u->ee = NULL;
        return zp_err_sys(err, "starting the events thread");
    }
    pthread_mutex_lock(&u->o->lock);
    u->o->events_engine = u->ee;
    u->events_started = true;
    pthread_mutex_unlock(&u->o->lock);
    return 0;
}

static void events_stop(struct up *u)
{
    if (!u->events_started)
        return;
    engine_cancel(u->ee);
    pthread_join(u->events_thread, NULL);
    pthread_mutex_lock(&u->o->lock);
    u->o->events_engine = NULL;
    pthread_mutex_unlock(&u->o->lock);
    engine_free(u->ee);
    u->ee = NULL;
    u->events_started = false;
}

/* Inspect a container once (after the events subscription) so that states reached
 * before it are known; events newer than the inspect win. */
static int track_inspect(struct up *u, struct engine *e, const char *id, struct zp_err *err)
{
    int64_t t = now_ns();
    struct engine_container c = {0};
    if (engine_container_inspect(e, id, &c, err) < 0)
        return err->code;
    pthread_mutex_lock(&u->o->lock);
    struct cstate *s = cs_find(u, id, true);
    if (s != NULL) {
        if (s->name == NULL)
            s->name = zp_strdup(c.name);
        if (!s->known || s->time_ns < t) {
            s->known = true;
            s->time_ns = t;
            s->running = c.running;
            s->exited = !c.running && c.status != NULL &&
                        (strcmp(c.status, "exited") == 0 || strcmp(c.status, "dead") == 0);
            s->exit_code = c.exit_code;
            set_health(s, c.health);
        }
        pthread_cond_broadcast(&u->o->cond);
    }
    pthread_mutex_unlock(&u->o->lock);
    engine_container_release(&c);
    return 0;
}

/* ---- the last log lines of a container, for failed gates ---- */

static int log_frame(void *ctx, enum engine_stream stream, const char *data, size_t len,
                     struct zp_err *err)
{
    (void)stream;
    (void)err;
    zp_buf_add(ctx, data, len);
    return 0;
}

char *orch__last_logs(struct engine *e, const char *id, int lines)
{
    struct zp_buf b;
    zp_buf_init(&b, 64 * 1024);
    struct engine_logs_opts lo = {.tail = lines};
    struct engine_container c = {0};
    struct zp_err err;
    zp_err_init(&err);
    if (engine_container_inspect(e, id, &c, &err) == 0) {
        lo.tty = c.tty;
        engine_container_release(&c);
    }
    zp_err_init(&err);
    engine_container_logs(e, id, &lo, log_frame, &b, &err);
    while (b.len > 0 && b.p[b.len - 1] == '\n')
        b.p[--b.len] = '\0';
    return zp_buf_detach(&b, NULL);
}

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
static int cond_check(struct up *u, struct cstate *c, enum orch_cond cond, const char *svc)
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

static enum orch_gate up_gate(void *ud, size_t node, const struct orch_dep *dep)
{
    struct up *u = ud;
    (void)node;
    if (dep->cond == ORCH_COND_STARTED)
        return ORCH_GATE_OPEN;
    const struct svc_ctx *t = &u->svcs[dep->target];
    const char *svc = u->g.nodes[dep->target].name;
    bool wait = false;
    for (size_t i = 0; i < t->nids; i++) {
        struct cstate *c = cs_find(u, t->ids[i], false);
        if (c == NULL || !c->known) {
            wait = true;
            continue;
        }
        int r = cond_check(u, c, dep->cond, svc);
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
    if (wait && u->events_done) {
        gate_fail(u, NULL, "lost the engine's event stream: %s", u->events_err.msg);
        return ORCH_GATE_FAIL;
    }
    return wait ? ORCH_GATE_WAIT : ORCH_GATE_OPEN;
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

int orch__mkdir_p(const char *path, struct zp_err *err)
{
    char *p = zp_strdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            rc = zp_err_sys(err, "creating directory '%s'", p);
            break;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    free(p);
    return rc;
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
    int rc = orch_container_spec(u->o->p, service, sc->svc, number, sc->image, sc->image_id,
                                 sc->hash, false, resolve_service, u, &spec, err);
    if (rc < 0)
        goto out;
    if (name != NULL) {
        free(spec.name);
        spec.name = zp_strdup(name);
    }
    for (size_t i = 0; i < spec.nbind_dirs; i++) {
        if ((rc = orch__mkdir_p(spec.bind_dirs[i], err)) < 0) {
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

int orch__remove_container(struct orch *o, struct engine *e, const struct orch_obs_container *c,
                           int timeout, bool volumes, struct zp_err *err)
{
    const char *service = c->service[0] ? c->service : NULL;
    if (strcmp(c->state, "running") == 0 || strcmp(c->state, "restarting") == 0 ||
        strcmp(c->state, "paused") == 0) {
        if (service != NULL && orch__run_hooks(o, e, service, "pre_stop", c->id, c->name, err) < 0)
            goto fail;
        orch__emit(o, ORCH_OBJ_CONTAINER, c->name, service, ORCH_WORKING, "Stopping");
        if (engine_container_stop(e, c->id, timeout, err) < 0)
            goto fail;
        orch__emit(o, ORCH_OBJ_CONTAINER, c->name, service, ORCH_DONE, "Stopped");
    }
    orch__emit(o, ORCH_OBJ_CONTAINER, c->name, service, ORCH_WORKING, "Removing");
    if (engine_container_remove(e, c->id, true, volumes, err) < 0 && err->code != ZP_E_NOTFOUND)
        goto fail;
    zp_err_init(err);
    orch__emit(o, ORCH_OBJ_CONTAINER, c->name, service, ORCH_DONE, "Removed");
    return 0;
fail:
    if (service != NULL)
        zp_err_prefix(err, "service '%s'", service);
    orch__emit(o, ORCH_OBJ_CONTAINER, c->name, service, ORCH_FAILED, "%s", err->msg);
    return err->code;
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
    if (!u->events_started)
        ZP_BUG("a rollout without the events thread");
    if (track_inspect(u, e, id, err) < 0)
        return err->code;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    int64_t ns = deadline.tv_nsec + (timeout_ms % 1000) * 1000000;
    deadline.tv_sec += (time_t)(timeout_ms / 1000 + ns / 1000000000);
    deadline.tv_nsec = (long)(ns % 1000000000);
    int r = 0;
    pthread_mutex_lock(&u->o->lock);
    for (;;) {
        struct cstate *c = cs_find(u, id, false);
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
        if (u->events_done) {
            r = zp_err_set(err, ZP_E_ENGINE, NULL, "lost the engine's event stream: %s",
                           u->events_err.msg);
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
            id = zp_strdup(old->id);
            break;
        case ORCH_STEP_CREATE:
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
            rc = track_inspect(u, w->e, track[i], err);
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

/* ---- networks and volumes ---- */

static bool service_uses_network(const struct zp_node *svc, const char *key)
{
    const struct zp_node *nets = zp_node_get(svc, "networks");
    return zp_node_is_map(nets) && zp_node_get_key(nets, key) != NULL;
}

static bool service_uses_volume(const struct zp_node *svc, const char *key)
{
    const struct zp_node *vols = zp_node_get(svc, "volumes");
    if (!zp_node_is_seq(vols))
        return false;
    for (size_t i = 0; i < vols->n; i++) {
        const char *type = zp_node_get_str(vols->items[i], "type");
        const char *src = zp_node_get_str(vols->items[i], "source");
        if (type && src && strcmp(type, "volume") == 0 && strcmp(src, key) == 0)
            return true;
    }
    return false;
}

static bool node_true(const struct zp_node *map, const char *key)
{
    const struct zp_node *v = zp_node_get(map, key);
    return v != NULL && zp_node_is_scalar(v) && v->type == ZP_BOOL && strcmp(v->str, "true") == 0;
}

/* A str→str map as key/value pairs (borrowed), plus room for `extra` more. */
static struct engine_kv *kv_from_map(const struct zp_node *map, size_t extra, size_t *ret_n)
{
    size_t n = zp_node_is_map(map) ? map->n : 0;
    struct engine_kv *kv = zp_calloc(n + extra + 1, sizeof(*kv));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct zp_node *v = map->pairs[i].value;
        kv[k].key = map->pairs[i].key->str;
        kv[k].value = zp_node_is_scalar(v) && !zp_node_is_null(v) ? v->str : "";
        k++;
    }
    *ret_n = k;
    return kv;
}

static int ensure_network(struct up *u, const char *key, const struct zp_node *def,
                          struct zp_err *err)
{
    struct orch *o = u->o;
    const char *name = zp_node_get_str(def, "name");
    char *dflt = NULL;
    if (name == NULL)
        name = dflt = zp_asprintf("%s_%s", o->p->name, key);
    bool exists = false;
    int rc = engine_network_exists(o->e, name, &exists, err);
    if (rc < 0)
        goto out;
    if (node_true(def, "external")) {
        if (!exists)
            rc = zp_err_set(err, ZP_E_NOTFOUND, NULL,
                            "network '%s' declared as external could not be found; create it "
                            "with `docker network create %s`",
                            name, name);
        goto out;
    }
    if (exists)
        goto out;

    struct engine_network_opts no = {0};
    size_t nlabels = 0, nopts = 0, nipamopts = 0;
    struct engine_kv *labels = kv_from_map(zp_node_get(def, "labels"), 3, &nlabels);
    labels[nlabels++] = (struct engine_kv){ORCH_LABEL_PROJECT, o->p->name};
    labels[nlabels++] = (struct engine_kv){ORCH_LABEL_NETWORK, key};
    labels[nlabels++] = (struct engine_kv){ORCH_LABEL_VERSION, ZP_VERSION};
    struct engine_kv *dopts = kv_from_map(zp_node_get(def, "driver_opts"), 0, &nopts);
    const struct zp_node *ipam = zp_node_get(def, "ipam");
    struct engine_kv *ipamopts = kv_from_map(zp_node_get(ipam, "options"), 0, &nipamopts);
    const struct zp_node *cfg = zp_node_get(ipam, "config");
    size_t ncfg = zp_node_is_seq(cfg) ? cfg->n : 0;
    struct engine_ipam_config *ic = zp_calloc(ncfg + 1, sizeof(*ic));
    struct engine_kv **aux = zp_calloc(ncfg + 1, sizeof(*aux));
    for (size_t i = 0; i < ncfg; i++) {
        const struct zp_node *c = cfg->items[i];
        ic[i].subnet = zp_node_get_str(c, "subnet");
        ic[i].ip_range = zp_node_get_str(c, "ip_range");
        ic[i].gateway = zp_node_get_str(c, "gateway");
        aux[i] = kv_from_map(zp_node_get(c, "aux_addresses"), 0, &ic[i].n_aux_addresses);
        ic[i].aux_addresses = aux[i];
    }
    no.driver = zp_node_get_str(def, "driver");
    no.internal = node_true(def, "internal");
    no.attachable = node_true(def, "attachable");
    no.enable_ipv6 = node_true(def, "enable_ipv6");
    no.labels = labels;
    no.n_labels = nlabels;
    no.options = dopts;
    no.n_options = nopts;
    no.ipam_driver = zp_node_get_str(ipam, "driver");
    no.ipam_configs = ic;
    no.n_ipam_configs = ncfg;
    no.ipam_options = ipamopts;
    no.n_ipam_options = nipamopts;
    orch__emit(o, ORCH_OBJ_NETWORK, name, NULL, ORCH_WORKING, "Creating");
    rc = engine_network_create(o->e, name, &no, NULL, err);
    if (rc == ZP_E_CONFLICT) { /* created meanwhile by someone else */
        zp_err_init(err);
        rc = 0;
    }
    if (rc < 0)
        orch__emit(o, ORCH_OBJ_NETWORK, name, NULL, ORCH_FAILED, "%s", err->msg);
    else
        orch__emit(o, ORCH_OBJ_NETWORK, name, NULL, ORCH_DONE, "Created");
    for (size_t i = 0; i < ncfg; i++)
        free(aux[i]);
    free(aux);
    free(ic);
    free(labels);
    free(dopts);
    free(ipamopts);
out:
    free(dflt);
    return rc;
}

static int ensure_volume(struct up *u, const char *key, const struct zp_node *def,
                         struct zp_err *err)
{
    struct orch *o = u->o;
    const char *name = zp_node_get_str(def, "name");
    char *dflt = NULL;
    if (name == NULL)
        name = dflt = zp_asprintf("%s_%s", o->p->name, key);
    bool exists = false;
    int rc = engine_volume_exists(o->e, name, &exists, err);
    if (rc < 0)
        goto out;
    if (node_true(def, "external")) {
        if (!exists)
            rc = zp_err_set(err, ZP_E_NOTFOUND, NULL,
                            "volume '%s' declared as external could not be found; create it "
                            "with `docker volume create %s`",
                            name, name);
        goto out;
    }
    if (exists)
        goto out;
    size_t nlabels = 0, nopts = 0;
    struct engine_kv *labels = kv_from_map(zp_node_get(def, "labels"), 3, &nlabels);
    labels[nlabels++] = (struct engine_kv){ORCH_LABEL_PROJECT, o->p->name};
    labels[nlabels++] = (struct engine_kv){ORCH_LABEL_VOLUME, key};
    labels[nlabels++] = (struct engine_kv){ORCH_LABEL_VERSION, ZP_VERSION};
    struct engine_kv *dopts = kv_from_map(zp_node_get(def, "driver_opts"), 0, &nopts);
    struct engine_volume_opts vo = {
        .driver = zp_node_get_str(def, "driver"),
        .labels = labels,
        .n_labels = nlabels,
        .options = dopts,
        .n_options = nopts,
    };
    orch__emit(o, ORCH_OBJ_VOLUME, name, NULL, ORCH_WORKING, "Creating");
    rc = engine_volume_create(o->e, name, &vo, err);
    if (rc < 0)
        orch__emit(o, ORCH_OBJ_VOLUME, name, NULL, ORCH_FAILED, "%s", err->msg);
    else
        orch__emit(o, ORCH_OBJ_VOLUME, name, NULL, ORCH_DONE, "Created");
    free(labels);
    free(dopts);
out:
    free(dflt);
    return rc;
}

/* The shared network of the proxy and every routed container (as `zpanel proxy up`
 * creates it), so that routed services come up before the proxy does. */
static int ensure_proxy_network(struct up *u, struct zp_err *err)
{
    struct orch *o = u->o;
    bool created = false;
    int rc = proxy_ensure_network(o->e, &created, err);
    if (rc < 0)
        orch__emit(o, ORCH_OBJ_NETWORK, PROXY_NETWORK, NULL, ORCH_FAILED, "%s", err->msg);
    else if (created)
        orch__emit(o, ORCH_OBJ_NETWORK, PROXY_NETWORK, NULL, ORCH_DONE, "Created");
    return rc;
}

static int ensure_objects(struct up *u, struct zp_err *err)
{
    const struct zp_node *model = u->o->p->model;
    bool routed = false;
    for (size_t k = 0; u->svcs != NULL && k < u->g.norder && !routed; k++)
        routed = u->svcs[u->g.order[k]].site != NULL;
    if (routed && ensure_proxy_network(u, err) < 0)
        return err->code;
    const struct zp_node *nets = zp_node_get(model, "networks");
    for (size_t i = 0; zp_node_is_map(nets) && i < nets->n; i++) {
        const char *key = nets->pairs[i].key->str;
        bool used = false;
        for (size_t k = 0; k < u->g.norder && !used; k++)
            used = service_uses_network(u->g.nodes[u->g.order[k]].svc, key);
        if (used && ensure_network(u, key, nets->pairs[i].value, err) < 0)
            return err->code;
    }
    const struct zp_node *vols = zp_node_get(model, "volumes");
    for (size_t i = 0; zp_node_is_map(vols) && i < vols->n; i++) {
        const char *key = vols->pairs[i].key->str;
        bool used = false;
        for (size_t k = 0; k < u->g.norder && !used; k++)
            used = service_uses_volume(u->g.nodes[u->g.order[k]].svc, key);
        if (used && ensure_volume(u, key, vols->pairs[i].value, err) < 0)
            return err->code;
    }
    return 0;
}

int orch__ensure_objects(struct orch *o, const struct orch_graph *g, struct zp_err *err)
{
    /* ensure_objects reads only the session and the graph */
    struct up u = {.o = o, .g = *g};
    return ensure_objects(&u, err);
}

/* ---- images ---- */

bool orch__image_has_digest(struct engine *e, const char *ref, const char *id, const char *digest)
{
    struct engine_image_list l = {0};
    struct zp_err err;
    zp_err_init(&err);
    bool found = false, same = false;
    if (engine_image_list(e, NULL, ref, &l, &err) < 0)
        return false;
    /* the first image with the label decides */
    for (size_t i = 0; i < l.n && !found; i++) {
        if (id != NULL && strcmp(l.items[i].id, id) != 0)
            continue;
        const char *v = engine_labels_get(&l.items[i].labels, ORCH_LABEL_BUILD_DIGEST);
        if (v != NULL) {
            found = true;
            same = strcmp(v, digest) == 0;
        }
    }
    engine_image_list_release(&l);
    return same;
}

int orch__build_image(struct orch *o, const char *service, const struct zp_node *svc,
                      const char *image, const char *digest, char **ret_id, struct zp_err *err)
{
    struct orch_build_opts bo = {0};
    orch__emit(o, ORCH_OBJ_IMAGE, image, service, ORCH_WORKING, "Building");
    if (orch_build_service(o->e, o->p, service, svc, image, digest, &bo, orch__relay, o, ret_id,
                           err) < 0) {
        if (strstr(err->msg, service) == NULL)
            zp_err_prefix(err, "service '%s'", service);
        orch__emit(o, ORCH_OBJ_IMAGE, image, service, ORCH_FAILED, "%s", err->msg);
        return err->code;
    }
    orch__emit(o, ORCH_OBJ_IMAGE, image, service, ORCH_DONE, "Built");
    return 0;
}

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

/* ---- desired state ---- */

int64_t orch__model_replicas(const struct zp_node *svc)
{
    const struct zp_node *deploy = zp_node_get(svc, "deploy");
    const char *mode = zp_node_get_str(deploy, "mode");
    if (mode != NULL && strcmp(mode, "global") == 0)
        return 1;
    int64_t v = 0;
    const char *r = zp_node_get_str(deploy, "replicas");
    if (r != NULL && zp_parse_int64(r, 0, 10000, &v) == 0)
        return v;
    const char *s = zp_node_get_str(svc, "scale");
    if (s != NULL && zp_parse_int64(s, 0, 10000, &v) == 0)
        return v;
    return 1;
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
    if (orch__host(o, &host, err) < 0)
        return err->code;
    u->svcs = zp_calloc(u->g.n ? u->g.n : 1, sizeof(*u->svcs));
    for (size_t k = 0; k < u->g.norder; k++) {
        size_t i = u->g.order[k];
        const char *service = u->g.nodes[i].name;
        struct svc_ctx *sc = &u->svcs[i];
        sc->svc = zp_node_copy(u->g.nodes[i].svc);
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

static int wait_services(struct up *u, struct zp_err *err)
{
    struct orch *o = u->o;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    if (u->opts->wait_timeout_ms > 0) {
        int64_t ns = deadline.tv_nsec + (u->opts->wait_timeout_ms % 1000) * 1000000;
        deadline.tv_sec += (time_t)(u->opts->wait_timeout_ms / 1000 + ns / 1000000000);
        deadline.tv_nsec = (long)(ns % 1000000000);
    }
    char *fail_id = NULL, *fail_svc = NULL, *why = NULL;
    int rc = 0;
    pthread_mutex_lock(&o->lock);
    for (;;) {
        if (orch__cancelled(o)) {
            rc = orch__interrupted(err);
            break;
        }
        bool all = true;
        struct zp_buf waiting = ZP_BUF_INIT;
        for (size_t k = 0; k < u->g.norder && why == NULL; k++) {
            size_t node = u->g.order[k];
            const char *svc = u->g.nodes[node].name;
            for (size_t i = 0; i < u->svcs[node].nids && why == NULL; i++) {
                struct cstate *c = cs_find(u, u->svcs[node].ids[i], false);
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
                }
            }
        }
        if (why != NULL || all) {
            zp_buf_release(&waiting);
            break;
        }
        if (u->events_done) {
            rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                            "waiting for %s: lost the engine's event stream: %s",
                            zp_buf_cstr(&waiting), u->events_err.msg);
            zp_buf_release(&waiting);
            break;
        }
        int w = u->opts->wait_timeout_ms > 0 ? pthread_cond_timedwait(&o->cond, &o->lock, &deadline)
                                             : pthread_cond_wait(&o->cond, &o->lock);
        if (w == ETIMEDOUT) {
            rc = zp_err_set(err, ZP_E_ENGINE, NULL, "timed out after %lld ms waiting for %s",
                            (long long)u->opts->wait_timeout_ms, zp_buf_cstr(&waiting));
            zp_buf_release(&waiting);
            break;
        }
        zp_buf_release(&waiting);
    }
    pthread_mutex_unlock(&o->lock);
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

int orch_up(struct orch *o, const struct orch_up_opts *opts, struct zp_err *err)
{
    struct orch_up_opts dflt = {0};
    struct up u = {.o = o, .opts = opts ? opts : &dflt};
    struct orch_want *wants = NULL;
    struct orch_pool *pool = NULL;
    int rc;
    opts = u.opts;
    u.since = (int64_t)time(NULL) - 1;
    zp_err_init(&u.events_err);
    u.state_dir = zp_state_dir();
    orch__proxy_ctx_init(&u.px, u.state_dir);

    if ((rc = orch__graph_build(o->p->model, opts->services, opts->nservices, opts->no_deps, &u.g,
                                err)) < 0)
        goto out;
    if ((rc = prepare_services(&u, err)) < 0)
        goto out;
    if (orch__cancelled(o)) {
        rc = orch__interrupted(err);
        goto out;
    }
    if ((rc = orch__observe(o->e, o->p->name, &u.obs, err)) < 0)
        goto out;
    wants = zp_calloc(u.g.n ? u.g.n : 1, sizeof(*wants));
    for (size_t k = 0; k < u.g.norder; k++) {
        size_t i = u.g.order[k];
        wants[i] = (struct orch_want){u.svcs[i].hash, u.svcs[i].container_name, u.svcs[i].replicas};
    }
    orch__plan_make(o->p->name, &u.g, wants, &u.obs, opts->recreate, opts->no_start, &u.plan);

    bool active = false;
    for (size_t k = 0; k < u.g.norder; k++)
        active = active || u.plan.svcs[u.g.order[k]].active;
    orphans(&u, err);
    if (err->code != 0) {
        rc = err->code;
        goto out;
    }
    if (!active && !opts->wait) {
        for (size_t k = 0; k < u.g.norder; k++) {
            const struct orch_svc_plan *sp = &u.plan.svcs[u.g.order[k]];
            for (size_t i = 0; i < sp->n; i++)
                orch__emit(o, ORCH_OBJ_CONTAINER, u.obs.c[sp->items[i].old].name,
                           u.g.nodes[u.g.order[k]].name, ORCH_INFO, "Running");
        }
        rc = 0;
        goto out;
    }
    if (active && (rc = ensure_objects(&u, err)) < 0)
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
    if (need_events && (rc = events_start(&u, err)) < 0)
        goto out;
    if ((rc = orch__pool_start(o, opts->max_parallel, &pool, err)) < 0)
        goto out;
    struct orch_sched_ops ops = {
        .ud = &u,
        .job = up_job,
        .gate = up_gate,
        .gate_failed = up_gate_failed,
        .skip = up_skip,
    };
    rc = orch__schedule(o, pool, &u.g, false, &ops, err);
    orch__pool_stop(pool);
    pool = NULL;
    if (u.px.touched || (opts->remove_orphans && u.plan.norphans > 0)) {
        /* routes of the containers created, replaced or removed (the proxy also learns
         * of a first creation here) */
        struct zp_err serr;
        zp_err_init(&serr);
        if (orch__proxy_sync(o, o->e, &u.px, &serr) < 0 && rc == 0) {
            *err = serr;
            rc = serr.code;
        }
    }
    if (rc == 0 && opts->wait && !opts->no_start)
        rc = wait_services(&u, err);
out:
    orch__pool_stop(pool);
    events_stop(&u);
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
    }
    free(u.svcs);
    for (size_t i = 0; i < u.ncs; i++) {
        free(u.cs[i].id);
        free(u.cs[i].name);
    }
    free(u.cs);
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

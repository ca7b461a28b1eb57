/* orchestrator/session: the orchestrator session (engine, progress, cancellation), the
 * fixed pool of worker threads (one engine each) and the scheduler that runs one job per
 * service in dependency order, independent branches in parallel. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orchestrator-int.h"

#include "../util/banned.h"

/* ---- session ---- */

int orch_new(const struct compose_project *p, const char *host, orch_progress_fn progress, void *ud,
             struct orch **ret, struct zp_err *err)
{
    struct engine *e = engine_new(host, err);
    if (e == NULL)
        return err->code;
    if (engine_connect(e, err) < 0) {
        engine_free(e);
        return err->code;
    }
    struct orch *o = zp_calloc(1, sizeof(*o));
    o->p = p;
    o->host = zp_strdup(engine_host(e));
    o->e = e;
    o->progress = progress;
    o->ud = ud;
    atomic_init(&o->cancelled, false);
    pthread_mutex_init(&o->progress_lock, NULL);
    pthread_mutex_init(&o->lock, NULL);
    zp_cond_init_mono(&o->cond);
    *ret = o;
    return 0;
}

void orch_free(struct orch *o)
{
    if (o == NULL)
        return;
    engine_free(o->e);
    free(o->host);
    pthread_mutex_destroy(&o->progress_lock);
    pthread_mutex_destroy(&o->lock);
    pthread_cond_destroy(&o->cond);
    free(o);
}

void orch_cancel(struct orch *o)
{
    atomic_store(&o->cancelled, true);
    pthread_mutex_lock(&o->lock);
    if (o->events_engine != NULL)
        engine_cancel(o->events_engine);
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

struct engine *orch_engine(struct orch *o)
{
    return o->e;
}

bool orch__cancelled(struct orch *o)
{
    return atomic_load(&o->cancelled);
}

int orch__interrupted(struct zp_err *err)
{
    return zp_err_set(err, ZP_E_CANCELLED, NULL, "interrupted");
}

void orch__relay(void *ud, const struct orch_event *ev)
{
    struct orch *o = ud;
    if (o->progress == NULL)
        return;
    pthread_mutex_lock(&o->progress_lock);
    o->progress(o->ud, ev);
    pthread_mutex_unlock(&o->progress_lock);
}

void orch__emit(struct orch *o, enum orch_obj obj, const char *name, const char *service,
                enum orch_state state, const char *fmt, ...)
{
    if (o->progress == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *text = zp_vasprintf(fmt, ap);
    va_end(ap);
    struct orch_event ev = {
        .obj = obj,
        .name = name,
        .service = service,
        .state = state,
        .text = text,
        .time_ns = zp_mono_ns(),
    };
    orch__relay(o, &ev);
    free(text);
}

int orch__stop_timeout(const struct zp_node *svc)
{
    const char *s = zp_node_get_str(svc, "stop_grace_period");
    int64_t ns = 0;
    if (s == NULL || zp_parse_duration(s, true, &ns) < 0 || ns < 0)
        return -1;
    int64_t secs = (ns + 999999999) / 1000000000;
    return secs > 86400 ? 86400 : (int)secs;
}

int orch__host(struct orch *o, struct orch_host *ret, struct zp_err *err)
{
    if (!o->have_host) {
        struct engine_info info = {0};
        if (engine_info(o->e, &info, err) < 0)
            return err->code;
        o->hostinfo.ncpu = info.ncpu;
        o->hostinfo.mem_total = info.mem_total;
        o->engine_clock_ns = info.system_time_ns;
        o->engine_clock_at = zp_mono_ns();
        o->have_host = true;
        engine_info_release(&info);
    }
    *ret = o->hostinfo;
    return 0;
}

bool orch__engine_clock_known(const struct orch *o)
{
    return engine_is_local(o->e) || (o->have_host && o->engine_clock_ns > 0);
}

int64_t orch__engine_now(struct orch *o)
{
    /* an engine on this machine shares its clock: no GET /info for it */
    if (!engine_is_local(o->e) && o->have_host && o->engine_clock_ns > 0)
        return o->engine_clock_ns + (zp_mono_ns() - o->engine_clock_at);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t orch_engine_now_s(struct orch *o)
{
    struct orch_host h;
    struct zp_err err;
    zp_err_init(&err);
    if (!engine_is_local(o->e))
        orch__host(o, &h, &err); /* on failure the host's clock stands in */
    return orch__engine_now(o) / 1000000000;
}

/* ---- the worker pool ---- */

struct pool_job {
    orch_job_fn fn;
    void *arg;
    struct pool_job *next;
};

struct orch_pool {
    struct orch *o;
    struct orch_worker *w;
    size_t n;
    pthread_mutex_t lock; /* guards head, tail, stop */
    pthread_cond_t cond;
    struct pool_job *head, *tail;
    bool stop;
};

static void *pool_main(void *arg)
{
    struct orch_worker *w = arg;
    struct orch_pool *pool = w->pool;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        while (pool->head == NULL && !pool->stop)
            pthread_cond_wait(&pool->cond, &pool->lock);
        struct pool_job *j = pool->head;
        if (j == NULL) {
            pthread_mutex_unlock(&pool->lock);
            return NULL;
        }
        pool->head = j->next;
        if (pool->head == NULL)
            pool->tail = NULL;
        pthread_mutex_unlock(&pool->lock);
        j->fn(w, j->arg);
        free(j);
    }
}

int orch__pool_start(struct orch *o, int n, struct orch_pool **ret, struct zp_err *err)
{
    if (n <= 0)
        n = 4;
    if (n > 64)
        n = 64;
    struct orch_pool *pool = zp_calloc(1, sizeof(*pool));
    pool->o = o;
    pool->w = zp_calloc((size_t)n, sizeof(*pool->w));
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->cond, NULL);
    for (int i = 0; i < n; i++) {
        struct orch_worker *w = &pool->w[i];
        w->o = o;
        w->pool = pool;
        w->e = engine_new(o->host, err);
        if (w->e == NULL)
            goto fail;
        engine_adopt_version(w->e, o->e);
        if (pthread_create(&w->thread, NULL, pool_main, w) != 0) {
            engine_free(w->e);
            w->e = NULL;
            zp_err_sys(err, "starting a worker thread");
            goto fail;
        }
        pool->n++;
    }
    *ret = pool;
    return 0;
fail:
    orch__pool_stop(pool);
    return err->code;
}

void orch__pool_submit(struct orch_pool *pool, orch_job_fn fn, void *arg)
{
    struct pool_job *j = zp_calloc(1, sizeof(*j));
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&pool->lock);
    if (pool->tail != NULL)
        pool->tail->next = j;
    else
        pool->head = j;
    pool->tail = j;
    pthread_cond_signal(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
}

void orch__pool_stop(struct orch_pool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stop = true;
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i < pool->n; i++) {
        pthread_join(pool->w[i].thread, NULL);
        engine_free(pool->w[i].e);
    }
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->cond);
    free(pool->w);
    free(pool);
}

/* ---- the scheduler ---- */

enum sched_state { SCHED_OFF, SCHED_PENDING, SCHED_RUNNING, SCHED_DONE, SCHED_FAILED };

struct sched {
    struct orch *o;
    const struct orch_sched_ops *ops;
    enum sched_state *st; /* guarded by o->lock */
    size_t running;       /* guarded by o->lock */
    bool failed;          /* guarded by o->lock */
    struct zp_err err;    /* the first job error, guarded by o->lock */
};

struct sched_job {
    struct sched *s;
    size_t node;
};

static void sched_run(struct orch_worker *w, void *arg)
{
    struct sched_job *j = arg;
    struct sched *s = j->s;
    struct zp_err err;
    zp_err_init(&err);
    int rc = s->ops->job(s->ops->ud, w, j->node, &err);
    pthread_mutex_lock(&s->o->lock);
    if (rc < 0) {
        s->st[j->node] = SCHED_FAILED;
        if (!s->failed) {
            s->failed = true;
            s->err = err;
        }
    } else {
        s->st[j->node] = SCHED_DONE;
    }
    s->running--;
    pthread_cond_broadcast(&s->o->cond);
    pthread_mutex_unlock(&s->o->lock);
    free(j);
}

/* Is node ready to run? Sets *fail_dep when a gate failed. Called with the lock. */
static bool sched_ready(struct sched *s, const struct orch_graph *g, bool reverse, size_t node,
                        const struct orch_dep **fail_dep)
{
    const struct orch_gnode *n = &g->nodes[node];
    if (reverse) {
        for (size_t k = 0; k < n->ndependents; k++) {
            enum sched_state d = s->st[n->dependents[k]];
            if (d == SCHED_PENDING || d == SCHED_RUNNING)
                return false;
        }
        return true;
    }
    bool ready = true;
    for (size_t k = 0; k < n->ndeps; k++) {
        const struct orch_dep *dep = &n->deps[k];
        enum sched_state d = s->st[dep->target];
        if (d == SCHED_OFF)
            continue;
        if (d != SCHED_DONE) {
            ready = false;
            continue;
        }
        if (s->ops->gate == NULL)
            continue;
        enum orch_gate gt = s->ops->gate(s->ops->ud, node, dep);
        if (gt == ORCH_GATE_FAIL) {
            *fail_dep = dep;
            return false;
        }
        if (gt == ORCH_GATE_WAIT)
            ready = false;
    }
    return ready;
}

int orch__schedule(struct orch *o, struct orch_pool *pool, const struct orch_graph *g, bool reverse,
                   const struct orch_sched_ops *ops, struct zp_err *err)
{
    struct sched s = {.o = o, .ops = ops};
    zp_err_init(&s.err);
    s.st = zp_calloc(g->n ? g->n : 1, sizeof(*s.st));
    for (size_t k = 0; k < g->norder; k++)
        s.st[g->order[k]] = SCHED_PENDING;
    size_t fail_node = 0;
    const struct orch_dep *fail_dep = NULL;
    bool interrupted = false;

    pthread_mutex_lock(&o->lock);
    for (;;) {
        if (orch__cancelled(o) && !s.failed) {
            s.failed = true;
            interrupted = true;
        }
        bool changed = true;
        while (!s.failed && changed) {
            changed = false;
            for (size_t k = 0; k < g->norder && !s.failed; k++) {
                size_t node = reverse ? g->order[g->norder - 1 - k] : g->order[k];
                if (s.st[node] != SCHED_PENDING)
                    continue;
                const struct orch_dep *fd = NULL;
                bool ready = sched_ready(&s, g, reverse, node, &fd);
                if (fd != NULL) {
                    s.failed = true;
                    fail_node = node;
                    fail_dep = fd;
                    break;
                }
                if (!ready)
                    continue;
                changed = true;
                if (ops->skip != NULL && ops->skip(ops->ud, node)) {
                    s.st[node] = SCHED_DONE;
                    continue;
                }
                s.st[node] = SCHED_RUNNING;
                s.running++;
                struct sched_job *j = zp_calloc(1, sizeof(*j));
                j->s = &s;
                j->node = node;
                orch__pool_submit(pool, sched_run, j);
            }
        }
        bool pending = false;
        for (size_t k = 0; k < g->norder; k++)
            if (s.st[g->order[k]] == SCHED_PENDING)
                pending = true;
        if (s.running == 0 && (s.failed || !pending))
            break;
        struct timespec at = zp_mono_deadline(ORCH_RECHECK_MS);
        if (pthread_cond_timedwait(&o->cond, &o->lock, &at) == ETIMEDOUT && pending && !s.failed &&
            ops->recheck != NULL)
            ops->recheck(ops->ud);
    }
    pthread_mutex_unlock(&o->lock);
    free(s.st);

    if (s.err.code != 0) {
        *err = s.err;
        return err->code;
    }
    if (fail_dep != NULL) {
        ops->gate_failed(ops->ud, fail_node, fail_dep, err);
        return err->code ? err->code : ZP_E_ENGINE;
    }
    if (interrupted)
        return orch__interrupted(err);
    return 0;
}

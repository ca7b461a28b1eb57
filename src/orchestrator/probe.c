/* orchestrator/probe: a dependency gate's early readiness probe. A gate on
 * `service_healthy` waits for the engine to call the dependency healthy, and the engine
 * runs a container's first health check only one `interval` after its start (30 s by
 * default), however early the service is ready. While such a gate waits, zpanel runs the
 * dependency's own healthcheck test itself in the container (an exec, as the engine does),
 * at once and then with a short backoff; the first success opens the gate, as the engine's
 * first success would have. The engine's own verdicts still count (an unhealthy one fails
 * the gate), and `up --wait` still waits for the engine to say healthy. Up to PROBE_THREADS
 * threads run a call's probes, each on its own engine connection, one more started whenever
 * more probes wait than threads run them: the gates of parallel chains do not queue behind
 * each other's execs (a loaded engine takes a second or more for one). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator-int.h"

#include "../util/banned.h"

#define PROBE_FIRST_MS 100   /* the first retry; each later one waits twice as long... */
#define PROBE_MAX_MS 1000    /* ...up to this */
#define PROBE_ERRORS 3       /* execs refused this many times: leave it to the engine */
#define PROBE_POLL_MS 10     /* a running probe's exit is asked for after this, then... */
#define PROBE_POLL_MAX_MS 80 /* ...twice as long each time, up to this */
#define PROBE_THREADS 4

struct probe {
    char *id;
    char **argv; /* NULL-terminated */
    int64_t timeout_ms;
    int64_t at_ns; /* not before (monotonic) */
    int64_t wait_ms;
    int errors;
    bool busy, passed, given_up;
};

struct orch_probes {
    struct orch *o;
    struct probe *v; /* guarded by o->lock, as is everything below */
    size_t n;
    size_t threads;   /* started */
    atomic_bool stop; /* also read, unlocked, by a probe waiting for its exit */
    pthread_t thread[PROBE_THREADS];
};

static void argv_free(char **argv)
{
    for (size_t i = 0; argv != NULL && argv[i] != NULL; i++)
        free(argv[i]);
    free(argv);
}

static char **argv_dup(char *const *argv)
{
    size_t n = 0;
    while (argv[n] != NULL)
        n++;
    char **r = zp_calloc(n + 1, sizeof(*r));
    for (size_t i = 0; i < n; i++)
        r[i] = zp_strdup(argv[i]);
    return r;
}

struct orch_probes *orch__probes_new(struct orch *o)
{
    struct orch_probes *p = zp_calloc(1, sizeof(*p));
    p->o = o;
    return p;
}

/* The argv of healthcheck hc's test (NULL-terminated, new), or NULL when it has none the
 * engine would run (no test, NONE, an empty command). */
static char **test_argv(const struct zp_node *hc)
{
    const struct zp_node *t = hc ? zp_node_get(hc, "test") : NULL;
    if (t == NULL || t->kind != ZP_NODE_SEQ || t->n < 2 || t->items[0]->kind != ZP_NODE_SCALAR)
        return NULL;
    const char *form = t->items[0]->str;
    char **argv = NULL;
    size_t n = 0;
    if (strcmp(form, "CMD-SHELL") == 0 && t->items[1]->kind == ZP_NODE_SCALAR) {
        /* the engine runs it with the image's shell; /bin/sh unless the image set another */
        argv = zp_calloc(4, sizeof(*argv));
        argv[0] = zp_strdup("/bin/sh");
        argv[1] = zp_strdup("-c");
        argv[2] = zp_strdup(t->items[1]->str);
        return argv;
    }
    if (strcmp(form, "CMD") != 0)
        return NULL;
    argv = zp_calloc(t->n, sizeof(*argv));
    for (size_t i = 1; i < t->n; i++) {
        if (t->items[i]->kind != ZP_NODE_SCALAR) {
            argv_free(argv);
            return NULL;
        }
        argv[n++] = zp_strdup(t->items[i]->str);
    }
    return argv;
}

/* The healthcheck's timeout in ms (the engine's default: 30 s). */
static int64_t test_timeout_ms(const struct zp_node *hc)
{
    const struct zp_node *t = zp_node_get(hc, "timeout");
    int64_t ns = 0;
    if (t != NULL && t->kind == ZP_NODE_SCALAR && zp_parse_duration(t->str, true, &ns) == 0 &&
        ns > 0)
        return ns / 1000000 > 0 ? ns / 1000000 : 1;
    return 30000;
}

/* Run argv in container id and wait for its exit, up to timeout_ms (or until the probes
 * stop): 1 it exited 0, 0 it failed or ran out of time, -1 the engine refused (err set). */
static int run_probe(struct orch_probes *p, struct engine *e, const char *id, char *const *argv,
                     int64_t timeout_ms, struct zp_err *err)
{
    char *xid = NULL;
    int rc = engine_exec_create(e, id, (const char *const *)argv, NULL, NULL, NULL, false, false,
                                &xid, err);
    if (rc == 0)
        rc = engine_exec_start(e, xid, NULL, err); /* detached: the exit is polled */
    int64_t deadline = zp_mono_ms() + timeout_ms;
    int64_t poll_ms = PROBE_POLL_MS;
    int verdict = rc < 0 ? -1 : 0;
    while (rc == 0) {
        struct engine_exec_state st = {0};
        if (engine_exec_inspect(e, xid, &st, err) < 0) {
            verdict = -1;
            break;
        }
        if (!st.running) {
            verdict = st.exit_code == 0;
            break;
        }
        if (zp_mono_ms() >= deadline || atomic_load(&p->stop))
            break;
        zp_sleep_ms(poll_ms);
        poll_ms = poll_ms * 2 < PROBE_POLL_MAX_MS ? poll_ms * 2 : PROBE_POLL_MAX_MS;
    }
    free(xid);
    return verdict;
}

/* The probe due first (o->lock held), or NULL; *ret_next: when the next one falls due. */
static struct probe *next_due(struct orch_probes *p, int64_t now, int64_t *ret_next)
{
    struct probe *due = NULL;
    *ret_next = now + (int64_t)ORCH_RECHECK_MS * 1000000;
    for (size_t i = 0; i < p->n; i++) {
        struct probe *q = &p->v[i];
        if (q->busy || q->passed || q->given_up)
            continue;
        if (q->at_ns <= now && (due == NULL || q->at_ns < due->at_ns))
            due = q;
        else if (q->at_ns < *ret_next)
            *ret_next = q->at_ns;
    }
    return due;
}

static void *probe_thread(void *arg)
{
    struct orch_probes *p = arg;
    struct orch *o = p->o;
    struct zp_err err;
    zp_err_init(&err);
    struct engine *e = engine_new(o->host, &err);
    pthread_mutex_lock(&o->lock);
    while (!atomic_load(&p->stop) && e != NULL) {
        int64_t next = 0;
        struct probe *q = next_due(p, zp_mono_ns(), &next);
        if (q == NULL) {
            int64_t ms = (next - zp_mono_ns()) / 1000000;
            struct timespec at = zp_mono_deadline(ms > 0 ? ms : 1);
            pthread_cond_timedwait(&o->cond, &o->lock, &at);
            continue;
        }
        /* the table may grow (and move) while the lock is dropped: work on copies */
        size_t idx = (size_t)(q - p->v);
        char *id = zp_strdup(q->id);
        char **argv = argv_dup(q->argv);
        int64_t timeout_ms = q->timeout_ms;
        q->busy = true;
        pthread_mutex_unlock(&o->lock);
        zp_err_init(&err);
        int verdict = run_probe(p, e, id, argv, timeout_ms, &err);
        pthread_mutex_lock(&o->lock);
        q = &p->v[idx];
        q->busy = false;
        if (verdict == 1) {
            q->passed = true;
            pthread_cond_broadcast(&o->cond); /* the scheduler looks at its gates again */
        } else {
            if (verdict < 0 && ++q->errors >= PROBE_ERRORS)
                q->given_up = true; /* no exec here (say, no such program): the engine decides */
            q->at_ns = zp_mono_ns() + q->wait_ms * 1000000;
            q->wait_ms = q->wait_ms * 2 < PROBE_MAX_MS ? q->wait_ms * 2 : PROBE_MAX_MS;
        }
        free(id);
        argv_free(argv);
    }
    pthread_mutex_unlock(&o->lock);
    engine_free(e);
    return NULL;
}

bool orch__probe_passed(struct orch_probes *p, const char *id, const struct zp_node *hc)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].id, id) == 0)
            return p->v[i].passed;
    if (atomic_load(&p->stop))
        return false;
    char **argv = test_argv(hc);
    if (argv == NULL)
        return false;
    p->v = zp_realloc(p->v, (p->n + 1) * sizeof(*p->v));
    p->v[p->n++] = (struct probe){.id = zp_strdup(id),
                                  .argv = argv,
                                  .timeout_ms = test_timeout_ms(hc),
                                  .at_ns = zp_mono_ns(),
                                  .wait_ms = PROBE_FIRST_MS};
    size_t waiting = 0;
    for (size_t i = 0; i < p->n; i++)
        waiting += !p->v[i].passed && !p->v[i].given_up;
    if (waiting > p->threads && p->threads < PROBE_THREADS &&
        pthread_create(&p->thread[p->threads], NULL, probe_thread, p) == 0)
        p->threads++;
    /* without a thread the gate waits for the engine, as it would without probes */
    if (p->threads == 0)
        atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->o->cond);
    return false;
}

void orch__probe_forget(struct orch_probes *p, const char *id)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].id, id) == 0)
            p->v[i].given_up = true; /* a run under way finishes; none follows */
}

void orch__probes_free(struct orch_probes *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->o->lock);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->o->cond);
    pthread_mutex_unlock(&p->o->lock);
    for (size_t i = 0; i < p->threads; i++)
        pthread_join(p->thread[i], NULL);
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].id);
        argv_free(p->v[i].argv);
    }
    free(p->v);
    free(p);
}

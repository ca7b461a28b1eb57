/* orchestrator/wide: one call run for many items on up to N threads at once, each with
 * its own engine connection (status' inspects and stats, ps' inspects): a loaded engine
 * answers many slow calls together faster than one after the other. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "orchestrator-int.h"

#include "../util/banned.h"

struct wide_run {
    void (*fn)(struct engine *e, void *ctx, size_t i);
    void *ctx;
    size_t n;
    atomic_size_t next;
};

struct wide_thread {
    struct wide_run *run;
    struct engine *e;
};

static void *wide_main(void *arg)
{
    struct wide_thread *t = arg;
    struct wide_run *r = t->run;
    for (;;) {
        size_t i = atomic_fetch_add(&r->next, 1);
        if (i >= r->n)
            break;
        r->fn(t->e, r->ctx, i);
    }
    return NULL;
}

int orch__wide_exec(struct orch_wide *w, size_t n, size_t max,
                    void (*fn)(struct engine *e, void *ctx, size_t i), void *ctx,
                    struct zp_err *err)
{
    if (n == 0)
        return 0;
    size_t k = n < max ? n : max;
    if (w->ne < k) {
        w->e = zp_realloc(w->e, k * sizeof(*w->e));
        for (; w->ne < k; w->ne++) {
            w->e[w->ne] = engine_new(w->host, err);
            if (w->e[w->ne] == NULL)
                return err->code;
            if (w->like != NULL)
                engine_adopt_version(w->e[w->ne], w->like);
        }
    }
    struct wide_run run = {.fn = fn, .ctx = ctx, .n = n};
    atomic_init(&run.next, 0);
    struct wide_thread *ts = zp_calloc(k, sizeof(*ts));
    pthread_t *tids = zp_calloc(k, sizeof(*tids));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, (size_t)256 << 10);
    size_t started = 0;
    for (size_t t = 1; t < k; t++) {
        ts[t] = (struct wide_thread){&run, w->e[t]};
        if (pthread_create(&tids[started + 1], &attr, wide_main, &ts[t]) != 0)
            break; /* fewer threads: the others take more jobs */
        started++;
    }
    pthread_attr_destroy(&attr);
    ts[0] = (struct wide_thread){&run, w->e[0]};
    wide_main(&ts[0]); /* the calling thread works too */
    for (size_t t = 1; t <= started; t++)
        pthread_join(tids[t], NULL);
    free(tids);
    free(ts);
    return 0;
}

void orch__wide_release(struct orch_wide *w)
{
    for (size_t i = 0; i < w->ne; i++)
        engine_free(w->e[i]);
    free(w->e);
    w->e = NULL;
    w->ne = 0;
}

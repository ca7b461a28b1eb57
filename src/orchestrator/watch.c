/* orchestrator/watch: the states of a project's containers as the engine's events (start,
 * die, health_status) and single inspects report them, kept by one events thread for the
 * gates, rollouts and --wait of an `up`. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator-int.h"

#include "../util/banned.h"

void orch__watch_init(struct orch_watch *w, struct orch *o)
{
    memset(w, 0, sizeof(*w));
    w->o = o;
    zp_err_init(&w->err);
    /* Tests only: ZP_TEST_DROP_HEALTH_EVENTS=1 ignores every health_status event, so the
     * waits must learn health from their rechecks (ORCH_RECHECK_MS) */
    const char *drop = getenv("ZP_TEST_DROP_HEALTH_EVENTS");
    w->drop_health = drop != NULL && strcmp(drop, "1") == 0;
}

struct orch_cstate *orch__watch_find(struct orch_watch *w, const char *id, bool add)
{
    for (size_t i = 0; i < w->ncs; i++)
        if (strcmp(w->cs[i].id, id) == 0)
            return &w->cs[i];
    if (!add)
        return NULL;
    /* grows with the project (no cap: an event is never dropped for want of room) */
    zp_grow((void **)&w->cs, &w->cap, w->ncs + 1, sizeof(*w->cs));
    struct orch_cstate *c = &w->cs[w->ncs++];
    memset(c, 0, sizeof(*c));
    c->id = zp_strdup(id);
    return c;
}

static void set_health(struct orch_cstate *c, const char *h)
{
    snprintf(c->health, sizeof(c->health), "%s", h ? h : "");
}

int orch__watch_event(void *ctx, const struct engine_event *ev, struct zp_err *err)
{
    struct orch_watch *w = ctx;
    (void)err;
    if (ev->type == NULL || strcmp(ev->type, "container") != 0 || ev->action == NULL ||
        ev->actor_id == NULL)
        return 0;
    const char *a = ev->action;
    bool start = strcmp(a, "start") == 0, die = strcmp(a, "die") == 0;
    bool health = zp_str_has_prefix(a, "health_status:");
    if (!start && !die && !health)
        return 0;
    if (health && w->drop_health)
        return 0; /* tests only: as if the stream had missed it */
    pthread_mutex_lock(&w->o->lock);
    struct orch_cstate *c = orch__watch_find(w, ev->actor_id, true);
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
        pthread_cond_broadcast(&w->o->cond);
    }
    pthread_mutex_unlock(&w->o->lock);
    return 0;
}

static void *events_main(void *arg)
{
    struct orch_watch *w = arg;
    char *label = zp_asprintf("%s=%s", ORCH_LABEL_PROJECT, w->o->p->name);
    const char *labels[] = {label, NULL};
    const char *types[] = {"container", NULL};
    struct engine_events_filter f = {.labels = labels, .types = types};
    struct zp_err err;
    zp_err_init(&err);
    int rc = engine_events(w->ee, w->since, 0, &f, orch__watch_event, w, &err);
    pthread_mutex_lock(&w->o->lock);
    w->done = true;
    if (rc == 0)
        zp_err_set(&err, ZP_E_ENGINE, NULL, "the engine's event stream ended");
    if (rc != ENGINE_E_CANCELLED)
        w->err = err;
    pthread_cond_broadcast(&w->o->cond);
    pthread_mutex_unlock(&w->o->lock);
    free(label);
    return NULL;
}

int orch__watch_start(struct orch_watch *w, struct zp_err *err)
{
    /* from a second ago on the engine's clock (a remote engine's may differ from ours) */
    w->since = orch__engine_now(w->o) / 1000000000 - 1;
    w->ee = engine_new(w->o->host, err);
    if (w->ee == NULL)
        return err->code;
    if (pthread_create(&w->thread, NULL, events_main, w) != 0) {
        engine_free(w->ee);
        w->ee = NULL;
        return zp_err_sys(err, "starting the events thread");
    }
    pthread_mutex_lock(&w->o->lock);
    w->o->events_engine = w->ee;
    w->started = true;
    pthread_mutex_unlock(&w->o->lock);
    return 0;
}

void orch__watch_stop(struct orch_watch *w)
{
    if (!w->started)
        return;
    engine_cancel(w->ee);
    pthread_join(w->thread, NULL);
    pthread_mutex_lock(&w->o->lock);
    w->o->events_engine = NULL;
    pthread_mutex_unlock(&w->o->lock);
    engine_free(w->ee);
    w->ee = NULL;
    w->started = false;
}

void orch__watch_release(struct orch_watch *w)
{
    orch__watch_stop(w);
    for (size_t i = 0; i < w->ncs; i++) {
        free(w->cs[i].id);
        free(w->cs[i].name);
    }
    free(w->cs);
    w->cs = NULL;
    w->ncs = 0;
}

void orch__watch_seed(struct orch_watch *w, const char *id, const char *name, const char *health,
                      int64_t time_ns)
{
    pthread_mutex_lock(&w->o->lock);
    struct orch_cstate *s = orch__watch_find(w, id, true);
    if (s != NULL && (!s->known || s->time_ns < time_ns)) {
        if (s->name == NULL)
            s->name = zp_strdup(name);
        s->known = true;
        s->time_ns = time_ns;
        s->running = true;
        s->exited = false;
        set_health(s, health);
        pthread_cond_broadcast(&w->o->cond);
    }
    pthread_mutex_unlock(&w->o->lock);
}

int orch__watch_inspect(struct orch_watch *w, struct engine *e, const char *id, struct zp_err *err)
{
    struct engine_container c = {0};
    if (engine_container_inspect(e, id, &c, err) < 0)
        return err->code;
    /* the engine's time of the newest state it shows, compared with the events' times
     * (the same clock) */
    int64_t t = c.state_time_ns;
    pthread_mutex_lock(&w->o->lock);
    struct orch_cstate *s = orch__watch_find(w, id, true);
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
        } else if (c.health != NULL && s->health[0] == '\0') {
            /* the events are newer, but only an inspect says that the container has a
             * health check: a start the events saw leaves it "starting" */
            set_health(s, s->running ? "starting" : c.health);
        }
        pthread_cond_broadcast(&w->o->cond);
    }
    pthread_mutex_unlock(&w->o->lock);
    engine_container_release(&c);
    return 0;
}

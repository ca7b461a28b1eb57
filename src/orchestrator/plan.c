/* orchestrator/plan: desired state (config hashes, replicas) against observed containers:
 * what `up` does to each container. Pure. */
#include <stdlib.h>
#include <string.h>

#include "orchestrator-int.h"

#include "../util/banned.h"

char *orch__container_name(const char *project, const char *service, const char *container_name,
                           int number)
{
    if (container_name != NULL && container_name[0] != '\0')
        return zp_strdup(container_name);
    return zp_asprintf("%s-%s-%d", project, service, number);
}

const char *orch__step_name(enum orch_step s)
{
    switch (s) {
    case ORCH_STEP_NONE:
        return "none";
    case ORCH_STEP_CREATE:
        return "create";
    case ORCH_STEP_RECREATE:
        return "recreate";
    case ORCH_STEP_START:
        return "start";
    case ORCH_STEP_RESTART:
        return "restart";
    case ORCH_STEP_REMOVE:
        return "remove";
    }
    return "?";
}

static void push(struct orch_svc_plan *sp, enum orch_step kind, int number, long old)
{
    sp->items = zp_realloc(sp->items, (sp->n + 1) * sizeof(*sp->items));
    sp->items[sp->n++] = (struct orch_step_item){kind, number, old};
    if (kind != ORCH_STEP_NONE)
        sp->active = true;
    if (kind == ORCH_STEP_RECREATE || kind == ORCH_STEP_CREATE)
        sp->recreated = true;
}

/* The step for an existing container that is the primary one of its number. */
static enum orch_step existing_step(const struct orch_obs_container *c, const char *want_hash,
                                    bool canonical, enum orch_recreate recreate, bool no_start)
{
    bool same = strcmp(c->hash, want_hash) == 0;
    bool running = strcmp(c->state, "running") == 0 || strcmp(c->state, "paused") == 0 ||
                   strcmp(c->state, "restarting") == 0;
    if (recreate == ORCH_RECREATE_FORCE)
        return ORCH_STEP_RECREATE;
    if (recreate != ORCH_RECREATE_NEVER) {
        /* A container left under another name (renamed aside by an interrupted
         * recreate), a dead one, or a changed config: replace it. */
        if (!same || !canonical || strcmp(c->state, "dead") == 0 ||
            strcmp(c->state, "removing") == 0)
            return ORCH_STEP_RECREATE;
        /* Never started: it may have been interrupted before it was fully configured
         * (networks connected), so it is replaced rather than started. */
        if (strcmp(c->state, "created") == 0 && !no_start)
            return ORCH_STEP_RECREATE;
    }
    if (running || no_start)
        return ORCH_STEP_NONE;
    return ORCH_STEP_START;
}

static void plan_service(const char *project, const struct orch_graph *g, size_t node,
                         const struct orch_want *want, const struct orch_observed *obs,
                         enum orch_recreate recreate, bool no_start, struct orch_svc_plan *sp)
{
    const char *service = g->nodes[node].name;
    int64_t replicas = want->replicas < 0 ? 0 : want->replicas;
    for (int64_t num = 1; num <= replicas; num++) {
        char *canon = orch__container_name(project, service, want->container_name, (int)num);
        long primary = -1;
        bool primary_canon = false;
        for (size_t i = 0; i < obs->nc; i++) {
            const struct orch_obs_container *c = &obs->c[i];
            if (c->oneoff || c->number != num || strcmp(c->service, service) != 0)
                continue;
            bool is_canon = strcmp(c->name, canon) == 0;
            /* prefer the canonical name, then the newest */
            if (primary < 0 || (is_canon && !primary_canon) ||
                (is_canon == primary_canon && c->created > obs->c[primary].created)) {
                primary = (long)i;
                primary_canon = is_canon;
            }
        }
        if (primary < 0) {
            push(sp, ORCH_STEP_CREATE, (int)num, -1);
        } else {
            enum orch_step st =
                existing_step(&obs->c[primary], want->hash, primary_canon, recreate, no_start);
            push(sp, st, (int)num, primary);
        }
        free(canon);
        /* stale duplicates of this number */
        for (size_t i = 0; i < obs->nc; i++) {
            const struct orch_obs_container *c = &obs->c[i];
            if (c->oneoff || c->number != num || strcmp(c->service, service) != 0 ||
                (long)i == primary)
                continue;
            push(sp, ORCH_STEP_REMOVE, (int)num, (long)i);
        }
    }
    /* scale down (and containers without a valid number): highest numbers first */
    for (size_t k = obs->nc; k > 0; k--) {
        size_t i = k - 1;
        const struct orch_obs_container *c = &obs->c[i];
        if (c->oneoff || strcmp(c->service, service) != 0)
            continue;
        if (c->number >= 1 && c->number <= replicas)
            continue;
        push(sp, ORCH_STEP_REMOVE, c->number, (long)i);
    }
}

void orch__plan_make(const char *project, const struct orch_graph *g, const struct orch_want *wants,
                     const struct orch_observed *obs, enum orch_recreate recreate, bool no_start,
                     struct orch_plan *ret)
{
    struct orch_plan p = {0};
    p.n = g->n;
    p.svcs = g->n ? zp_calloc(g->n, sizeof(*p.svcs)) : NULL;
    for (size_t k = 0; k < g->norder; k++) {
        size_t node = g->order[k];
        plan_service(project, g, node, &wants[node], obs, recreate, no_start, &p.svcs[node]);
        if (no_start)
            continue;
        /* restart: true — restart a running dependent when its dependency is replaced
         * or restarted; g->order puts dependencies first so this cascades */
        bool restart = false;
        for (size_t d = 0; d < g->nodes[node].ndeps; d++) {
            const struct orch_dep *dep = &g->nodes[node].deps[d];
            const struct orch_svc_plan *ts = &p.svcs[dep->target];
            if (!dep->restart || !g->nodes[dep->target].selected)
                continue;
            for (size_t i = 0; i < ts->n; i++)
                if (ts->items[i].kind == ORCH_STEP_RECREATE ||
                    ts->items[i].kind == ORCH_STEP_RESTART)
                    restart = true;
        }
        if (!restart)
            continue;
        struct orch_svc_plan *sp = &p.svcs[node];
        for (size_t i = 0; i < sp->n; i++) {
            if (sp->items[i].kind == ORCH_STEP_NONE) {
                sp->items[i].kind = ORCH_STEP_RESTART;
                sp->active = true;
            }
        }
    }
    for (size_t i = 0; i < obs->nc; i++) {
        if (obs->c[i].service[0] != '\0' && orch__graph_find(g, obs->c[i].service) >= 0)
            continue;
        p.orphans = zp_realloc(p.orphans, (p.norphans + 1) * sizeof(*p.orphans));
        p.orphans[p.norphans++] = i;
    }
    *ret = p;
}

void orch__plan_release(struct orch_plan *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->svcs[i].items);
    free(p->svcs);
    free(p->orphans);
    memset(p, 0, sizeof(*p));
}

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

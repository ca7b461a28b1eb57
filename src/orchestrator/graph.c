/* orchestrator/graph: the dependency graph of a project's services (depends_on, links,
 * network_mode/ipc/pid "service:x", volumes_from), selection and topological order.
 * Pure: reads the normalised model only. */
#include <stdlib.h>
#include <string.h>

#include "orchestrator-int.h"

#include "../util/banned.h"

long orch__graph_find(const struct orch_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* Add (or strengthen) the edge from node to target. */
static void add_dep(struct orch_gnode *node, size_t target, enum orch_cond cond, bool required,
                    bool restart)
{
    for (size_t i = 0; i < node->ndeps; i++) {
        struct orch_dep *d = &node->deps[i];
        if (d->target != target)
            continue;
        if (cond > d->cond)
            d->cond = cond;
        d->required = d->required || required;
        d->restart = d->restart || restart;
        return;
    }
    node->deps = zp_realloc(node->deps, (node->ndeps + 1) * sizeof(*node->deps));
    node->deps[node->ndeps++] = (struct orch_dep){target, cond, required, restart};
}

/* A reference to another service; missing optional ones are skipped. */
static int ref_dep(struct orch_graph *g, size_t from, const char *target, enum orch_cond cond,
                   bool required, bool restart, const char *field, struct zp_err *err)
{
    long t = orch__graph_find(g, target);
    if (t < 0) {
        if (!required)
            return 0;
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "service '%s' depends on service '%s' (%s), which is not enabled",
                          g->nodes[from].name, target, field);
    }
    if ((size_t)t == from)
        return zp_err_set(err, ZP_E_INPUT, NULL, "service '%s' depends on itself (%s)",
                          g->nodes[from].name, field);
    add_dep(&g->nodes[from], (size_t)t, cond, required, restart);
    return 0;
}

/* "service:x" in network_mode, ipc or pid. */
static int mode_dep(struct orch_graph *g, size_t i, const char *field, struct zp_err *err)
{
    const char *v = zp_node_get_str(g->nodes[i].svc, field);
    if (v == NULL || !zp_str_has_prefix(v, "service:"))
        return 0;
    return ref_dep(g, i, v + strlen("service:"), ORCH_COND_STARTED, true, false, field, err);
}

/* The service part of "svc[:x]" entries (links, volumes_from). */
static int list_deps(struct orch_graph *g, size_t i, const char *field, struct zp_err *err)
{
    const struct zp_node *seq = zp_node_get(g->nodes[i].svc, field);
    if (!zp_node_is_seq(seq))
        return 0;
    for (size_t k = 0; k < seq->n; k++) {
        const struct zp_node *it = seq->items[k];
        if (!zp_node_is_scalar(it))
            continue;
        if (zp_str_has_prefix(it->str, "container:"))
            continue;
        const char *colon = strchr(it->str, ':');
        char *name = colon ? zp_strndup(it->str, (size_t)(colon - it->str)) : zp_strdup(it->str);
        int rc = ref_dep(g, i, name, ORCH_COND_STARTED, true, false, field, err);
        free(name);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static enum orch_cond parse_cond(const char *s)
{
    if (s != NULL && strcmp(s, "service_healthy") == 0)
        return ORCH_COND_HEALTHY;
    if (s != NULL && strcmp(s, "service_completed_successfully") == 0)
        return ORCH_COND_COMPLETED;
    return ORCH_COND_STARTED;
}

static bool node_bool(const struct zp_node *map, const char *key, bool dflt)
{
    const struct zp_node *v = zp_node_get(map, key);
    if (v == NULL || !zp_node_is_scalar(v) || v->type != ZP_BOOL)
        return dflt;
    return strcmp(v->str, "true") == 0;
}

static int service_deps(struct orch_graph *g, size_t i, struct zp_err *err)
{
    const struct zp_node *dep = zp_node_get(g->nodes[i].svc, "depends_on");
    if (zp_node_is_map(dep)) {
        for (size_t k = 0; k < dep->n; k++) {
            const struct zp_node *d = dep->pairs[k].value;
            enum orch_cond cond = parse_cond(zp_node_get_str(d, "condition"));
            bool required = node_bool(d, "required", true);
            bool restart = node_bool(d, "restart", false);
            if (ref_dep(g, i, dep->pairs[k].key->str, cond, required, restart, "depends_on", err) <
                0)
                return err->code;
        }
    }
    if (list_deps(g, i, "links", err) < 0 || list_deps(g, i, "volumes_from", err) < 0)
        return err->code;
    if (mode_dep(g, i, "network_mode", err) < 0 || mode_dep(g, i, "ipc", err) < 0 ||
        mode_dep(g, i, "pid", err) < 0)
        return err->code;
    return 0;
}

static void select_node(struct orch_graph *g, size_t i, bool deps)
{
    if (g->nodes[i].selected)
        return;
    g->nodes[i].selected = true;
    if (!deps)
        return;
    for (size_t k = 0; k < g->nodes[i].ndeps; k++)
        select_node(g, g->nodes[i].deps[k].target, true);
}

/* Kahn's algorithm over the selected nodes; ties broken by model order. */
static int topo_order(struct orch_graph *g, struct zp_err *err)
{
    size_t *indeg = zp_calloc(g->n ? g->n : 1, sizeof(*indeg));
    bool *done = zp_calloc(g->n ? g->n : 1, sizeof(*done));
    size_t nsel = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (!g->nodes[i].selected)
            continue;
        nsel++;
        for (size_t k = 0; k < g->nodes[i].ndeps; k++)
            if (g->nodes[g->nodes[i].deps[k].target].selected)
                indeg[i]++;
    }
    g->order = zp_calloc(nsel ? nsel : 1, sizeof(*g->order));
    while (g->norder < nsel) {
        size_t pick = g->n;
        for (size_t i = 0; i < g->n; i++) {
            if (g->nodes[i].selected && !done[i] && indeg[i] == 0) {
                pick = i;
                break;
            }
        }
        if (pick == g->n) {
            for (size_t i = 0; i < g->n; i++) {
                if (g->nodes[i].selected && !done[i]) {
                    zp_err_set(err, ZP_E_INPUT, NULL,
                               "dependency cycle between services, involving '%s'",
                               g->nodes[i].name);
                    break;
                }
            }
            free(indeg);
            free(done);
            return ZP_E_INPUT;
        }
        done[pick] = true;
        g->order[g->norder++] = pick;
        for (size_t k = 0; k < g->nodes[pick].ndependents; k++) {
            size_t d = g->nodes[pick].dependents[k];
            if (g->nodes[d].selected && indeg[d] > 0)
                indeg[d]--;
        }
    }
    free(indeg);
    free(done);
    return 0;
}

static void mark_branch(struct orch_graph *g, size_t i, size_t b)
{
    struct orch_gnode *n = &g->nodes[i];
    if (!n->selected || n->branch != SIZE_MAX)
        return;
    n->branch = b;
    for (size_t k = 0; k < n->ndeps; k++)
        mark_branch(g, n->deps[k].target, b);
    for (size_t k = 0; k < n->ndependents; k++)
        mark_branch(g, n->dependents[k], b);
}

int orch__graph_build(const struct zp_node *model, const char *const *services, size_t nservices,
                      bool no_deps, struct orch_graph *ret, struct zp_err *err)
{
    struct orch_graph g = {0};
    const struct zp_node *svcs = zp_node_get(model, "services");
    if (zp_node_is_map(svcs) && svcs->n > 0) {
        g.n = svcs->n;
        g.nodes = zp_calloc(g.n, sizeof(*g.nodes));
        for (size_t i = 0; i < g.n; i++) {
            g.nodes[i].name = svcs->pairs[i].key->str;
            g.nodes[i].svc = svcs->pairs[i].value;
            g.nodes[i].branch = SIZE_MAX;
        }
    }
    for (size_t i = 0; i < g.n; i++)
        if (service_deps(&g, i, err) < 0)
            goto fail;
    for (size_t i = 0; i < g.n; i++) {
        for (size_t k = 0; k < g.nodes[i].ndeps; k++) {
            struct orch_gnode *t = &g.nodes[g.nodes[i].deps[k].target];
            t->dependents = zp_realloc(t->dependents, (t->ndependents + 1) * sizeof(size_t));
            t->dependents[t->ndependents++] = i;
        }
    }
    if (nservices == 0) {
        for (size_t i = 0; i < g.n; i++)
            g.nodes[i].selected = true;
    } else {
        for (size_t k = 0; k < nservices; k++) {
            long i = orch__graph_find(&g, services[k]);
            if (i < 0) {
                zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such service: '%s'", services[k]);
                goto fail;
            }
            select_node(&g, (size_t)i, !no_deps);
        }
    }
    if (topo_order(&g, err) < 0)
        goto fail;
    for (size_t k = 0; k < g.norder; k++) {
        size_t i = g.order[k];
        if (g.nodes[i].branch == SIZE_MAX)
            mark_branch(&g, i, g.nbranches++);
    }
    *ret = g;
    return 0;
fail:
    orch__graph_release(&g);
    return err->code;
}

void orch__graph_release(struct orch_graph *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n; i++) {
        free(g->nodes[i].deps);
        free(g->nodes[i].dependents);
    }
    free(g->nodes);
    free(g->order);
    memset(g, 0, sizeof(*g));
}

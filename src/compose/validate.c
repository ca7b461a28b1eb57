/* compose/validate: cross-reference checks of the final, merged and profile-filtered model:
 * undefined networks, volumes, secrets, configs and services, dependency cycles, names. */
#include "compose-int.h"

#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

/* One dependency between two services, for cycle detection. */
struct dep_edge {
    size_t from, to;
    const struct zp_node *at; /* the node that states it */
    char *path;
};

struct vstate {
    const struct zp_node *model;
    const struct zp_node *services; /* may be NULL */
    struct zp_diags *d;
    struct dep_edge *edges;
    size_t nedges, cap;
};

static const struct zp_pos *pos_of(const struct zp_node *n)
{
    return n ? &n->pos : NULL;
}

bool compose__valid_project_name(const char *s)
{
    if (!s[0] || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return false;
    return true;
}

/* Service names as the Compose schema allows them: letters, digits, '.', '_', '-'. */
static bool valid_service_name(const char *s)
{
    if (!s[0])
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

static long service_index(const struct vstate *st, const char *name)
{
    if (!st->services || st->services->kind != ZP_NODE_MAP)
        return -1;
    return zp_node_index(st->services, name);
}

static bool top_defined(const struct vstate *st, const char *section, const char *name)
{
    const struct zp_node *m = zp_node_get(st->model, section);
    return m && m->kind == ZP_NODE_MAP && zp_node_index(m, name) >= 0;
}

static void add_edge(struct vstate *st, size_t from, size_t to, const struct zp_node *at,
                     const char *path)
{
    zp_grow((void **)&st->edges, &st->cap, st->nedges + 1, sizeof(*st->edges));
    st->edges[st->nedges].from = from;
    st->edges[st->nedges].to = to;
    st->edges[st->nedges].at = at;
    st->edges[st->nedges].path = zp_strdup(path);
    st->nedges++;
}

/* A reference to another service: checked, and an edge for cycle detection. */
static void service_ref(struct vstate *st, size_t from, const char *svc, const char *target,
                        const char *what, bool required, const struct zp_node *at, const char *path)
{
    long to = service_index(st, target);
    if (to < 0) {
        /* as Compose: `required: false` excuses a service disabled by its profiles (the
         * loader drops those), never one that is not defined at all */
        if (required)
            zp_diag_error(st->d, pos_of(at), path, "service '%s' %s undefined service '%s'", svc,
                          what, target);
        else
            zp_diag_error(st->d, pos_of(at), path,
                          "service '%s' %s undefined service '%s' ('required: false' only "
                          "excuses a service disabled by its profiles)",
                          svc, what, target);
        return;
    }
    add_edge(st, from, (size_t)to, at, path);
}

/* "service:NAME" in network_mode, ipc or pid. */
static void check_service_mode(struct vstate *st, size_t idx, const char *svc,
                               const struct zp_node *s, const char *field, const char *spath)
{
    const struct zp_node *v = zp_node_get(s, field);
    if (!v || !zp_node_is_str(v) || !zp_str_has_prefix(v->str, "service:"))
        return;
    char *path = zp_path_key(spath, field);
    char *what = zp_asprintf("uses in %s", field);
    service_ref(st, idx, svc, v->str + strlen("service:"), what, true, v, path);
    free(what);
    free(path);
}

/* The part of s before the first ':' (a new string). */
static char *before_colon(const char *s)
{
    const char *c = strchr(s, ':');
    return c ? zp_strndup(s, (size_t)(c - s)) : zp_strdup(s);
}

static void check_objects_refs(struct vstate *st, const char *svc, const struct zp_node *s,
                               const char *spath, const char *field, const char *kind)
{
    const struct zp_node *seq = zp_node_get(s, field);
    if (!seq || seq->kind != ZP_NODE_SEQ)
        return;
    char *fpath = zp_path_key(spath, field);
    for (size_t i = 0; i < seq->n; i++) {
        const struct zp_node *it = seq->items[i];
        const char *src = it->kind == ZP_NODE_MAP ? zp_node_get_str(it, "source") : NULL;
        if (!src || top_defined(st, field, src))
            continue;
        char *path = zp_path_index(fpath, i);
        zp_diag_error(st->d, pos_of(it), path, "service '%s' refers to undefined %s '%s'", svc,
                      kind, src);
        free(path);
    }
    free(fpath);
}

static void check_networks(struct vstate *st, const char *svc, const struct zp_node *s,
                           const char *spath)
{
    const struct zp_node *nets = zp_node_get(s, "networks");
    const struct zp_node *mode = zp_node_get(s, "network_mode");
    if (!nets || nets->kind != ZP_NODE_MAP)
        return;
    char *npath = zp_path_key(spath, "networks");
    if (mode && zp_node_is_str(mode) && nets->n > 0) {
        char *mpath = zp_path_key(spath, "network_mode");
        zp_diag_error(st->d, pos_of(mode), mpath,
                      "service '%s' declares both network_mode and networks, which exclude each "
                      "other",
                      svc);
        free(mpath);
    }
    for (size_t i = 0; i < nets->n; i++) {
        const char *net = nets->pairs[i].key->str;
        if (top_defined(st, "networks", net))
            continue;
        char *path = zp_path_key(npath, net);
        zp_diag_error(st->d, pos_of(nets->pairs[i].key), path,
                      "service '%s' refers to undefined network '%s'", svc, net);
        free(path);
    }
    free(npath);
}

static void check_volumes(struct vstate *st, const char *svc, const struct zp_node *s,
                          const char *spath)
{
    const struct zp_node *vols = zp_node_get(s, "volumes");
    if (!vols || vols->kind != ZP_NODE_SEQ)
        return;
    char *vpath = zp_path_key(spath, "volumes");
    for (size_t i = 0; i < vols->n; i++) {
        const struct zp_node *v = vols->items[i];
        if (v->kind != ZP_NODE_MAP)
            continue;
        const char *type = zp_node_get_str(v, "type");
        const char *src = zp_node_get_str(v, "source");
        if (!type || strcmp(type, "volume") != 0 || !src || !src[0])
            continue;
        if (top_defined(st, "volumes", src))
            continue;
        char *path = zp_path_index(vpath, i);
        zp_diag_error(st->d, pos_of(v), path, "service '%s' refers to undefined volume '%s'", svc,
                      src);
        free(path);
    }
    free(vpath);
}

static void check_service_deps(struct vstate *st, size_t idx, const char *svc,
                               const struct zp_node *s, const char *spath)
{
    const struct zp_node *deps = zp_node_get(s, "depends_on");
    if (deps && deps->kind == ZP_NODE_MAP) {
        char *dpath = zp_path_key(spath, "depends_on");
        for (size_t i = 0; i < deps->n; i++) {
            const struct zp_node *dv = deps->pairs[i].value;
            const struct zp_node *req = dv ? zp_node_get(dv, "required") : NULL;
            bool required = !(req && req->type == ZP_BOOL && strcmp(req->str, "false") == 0);
            char *path = zp_path_key(dpath, deps->pairs[i].key->str);
            service_ref(st, idx, svc, deps->pairs[i].key->str, "depends on", required,
                        deps->pairs[i].key, path);
            free(path);
        }
        free(dpath);
    }

    static const char *const lists[] = {"links", "volumes_from"};
    for (size_t l = 0; l < 2; l++) {
        const struct zp_node *seq = zp_node_get(s, lists[l]);
        if (!seq || seq->kind != ZP_NODE_SEQ)
            continue;
        char *lpath = zp_path_key(spath, lists[l]);
        for (size_t i = 0; i < seq->n; i++) {
            const struct zp_node *it = seq->items[i];
            if (!zp_node_is_str(it))
                continue;
            if (l == 1 && zp_str_has_prefix(it->str, "container:"))
                continue;
            const char *name = it->str;
            if (l == 1 && zp_str_has_prefix(name, "service:"))
                name += strlen("service:");
            char *target = before_colon(name);
            char *path = zp_path_index(lpath, i);
            service_ref(st, idx, svc, target, l == 0 ? "links to" : "uses volumes from", true, it,
                        path);
            free(path);
            free(target);
        }
        free(lpath);
    }
    check_service_mode(st, idx, svc, s, "network_mode", spath);
    check_service_mode(st, idx, svc, s, "ipc", spath);
    check_service_mode(st, idx, svc, s, "pid", spath);
}

static bool int_above_one(const struct zp_node *n)
{
    int64_t v;
    return n && n->kind == ZP_NODE_SCALAR && n->type == ZP_INT &&
           zp_parse_int64(n->str, INT64_MIN, INT64_MAX, &v) == 0 && v > 1;
}

static double number_of(const struct zp_node *n)
{
    double v = 0;
    if (n && n->kind == ZP_NODE_SCALAR && zp_parse_double(n->str, &v) != 0)
        v = 0;
    return v;
}

/* As Compose: `cpus`, `mem_limit`, `mem_reservation`, `pids_limit` and `scale` beside a
 * deploy section that says otherwise (an absent deploy field counting as 0 once its group
 * is written). */
static void check_distinct(struct vstate *st, const struct zp_node *s, const char *spath,
                           const char *plain, const char *group, const char *field)
{
    const struct zp_node *pv = zp_node_get(s, plain);
    double want = number_of(pv);
    if (want == 0)
        return;
    const struct zp_node *g = zp_node_get(s, "deploy");
    if (group) {
        g = zp_node_get(g, "resources");
        g = zp_node_get(g, group);
    }
    if (!zp_node_is_map(g) || (!group && !zp_node_get(g, field)))
        return;
    if (number_of(zp_node_get(g, field)) == want)
        return;
    char *path = zp_path_key(spath, plain);
    zp_diag_error(st->d, pos_of(pv), path,
                  "can't set distinct values on '%s' and 'deploy%s%s.%s': set one of them", plain,
                  group ? ".resources." : "", group ? group : "", field);
    free(path);
}

static void check_service(struct vstate *st, size_t idx)
{
    const struct zp_node *key = st->services->pairs[idx].key;
    const struct zp_node *s = st->services->pairs[idx].value;
    const char *svc = key->str;
    char *spath = zp_path_key("services", svc);

    if (!valid_service_name(svc))
        zp_diag_error(st->d, pos_of(key), spath,
                      "invalid service name '%s': only letters, digits, '.', '_' and '-' are "
                      "allowed",
                      svc);
    if (!s || s->kind != ZP_NODE_MAP) {
        zp_diag_error(st->d, pos_of(key), spath,
                      "service '%s' has neither an image nor a build "
                      "context",
                      svc);
        free(spath);
        return;
    }
    /* a provider service is run by its provider: no image of its own */
    if (!zp_node_get(s, "image") && !zp_node_get(s, "build") && !zp_node_get(s, "provider"))
        zp_diag_error(st->d, pos_of(key), spath,
                      "service '%s' has neither an image nor a build context", svc);

    check_networks(st, svc, s, spath);
    check_volumes(st, svc, s, spath);
    check_objects_refs(st, svc, s, spath, "secrets", "secret");
    check_objects_refs(st, svc, s, spath, "configs", "config");
    check_service_deps(st, idx, svc, s, spath);
    check_distinct(st, s, spath, "cpus", "limits", "cpus");
    check_distinct(st, s, spath, "mem_limit", "limits", "memory");
    check_distinct(st, s, spath, "mem_reservation", "reservations", "memory");
    check_distinct(st, s, spath, "pids_limit", "limits", "pids");
    check_distinct(st, s, spath, "scale", NULL, "replicas");

    const struct zp_node *cname = zp_node_get(s, "container_name");
    if (cname && zp_node_is_str(cname)) {
        const struct zp_node *deploy = zp_node_get(s, "deploy");
        const struct zp_node *replicas = deploy ? zp_node_get(deploy, "replicas") : NULL;
        const struct zp_node *scale = zp_node_get(s, "scale");
        const struct zp_node *many = int_above_one(replicas) ? replicas
                                     : int_above_one(scale)  ? scale
                                                             : NULL;
        if (many) {
            char *path = zp_path_key(spath, "container_name");
            zp_diag_error(st->d, pos_of(cname), path,
                          "service '%s' sets container_name '%s' but asks for %s containers: a "
                          "container name must be unique",
                          svc, cname->str, many->str);
            free(path);
        }
        for (size_t j = 0; j < idx; j++) {
            const struct zp_node *o = st->services->pairs[j].value;
            const char *ocn = o ? zp_node_get_str(o, "container_name") : NULL;
            if (ocn && strcmp(ocn, cname->str) == 0) {
                char *path = zp_path_key(spath, "container_name");
                zp_diag_error(st->d, pos_of(cname), path,
                              "container name '%s' is already used by service '%s'", cname->str,
                              st->services->pairs[j].key->str);
                free(path);
                break;
            }
        }
    }
    free(spath);
}

/* ---- dependency cycles: depth-first search; every back edge closes one cycle ---- */

enum { WHITE, GREY, BLACK };

struct dfs {
    struct vstate *st;
    unsigned char *color;
    size_t *stack; /* edge indexes on the current path */
    size_t depth;
};

static void dfs_visit(struct dfs *g, size_t v)
{
    g->color[v] = GREY;
    for (size_t e = 0; e < g->st->nedges; e++) {
        const struct dep_edge *ed = &g->st->edges[e];
        if (ed->from != v)
            continue;
        if (g->color[ed->to] == WHITE) {
            g->stack[g->depth++] = e;
            dfs_visit(g, ed->to);
            g->depth--;
        } else if (g->color[ed->to] == GREY) {
            /* The cycle starts where ed->to was entered on the current path. */
            size_t start = g->depth;
            while (start > 0 && g->st->edges[g->stack[start - 1]].to != ed->to)
                start--;
            struct zp_buf b = ZP_BUF_INIT;
            const struct zp_node *names = g->st->services;
            (void)zp_buf_adds(&b, names->pairs[ed->to].key->str);
            for (size_t k = start; k < g->depth; k++)
                (void)zp_buf_addf(&b, " -> %s",
                                  names->pairs[g->st->edges[g->stack[k]].to].key->str);
            (void)zp_buf_addf(&b, " -> %s", names->pairs[ed->to].key->str);
            /* Report at the edge that leaves the cycle's first service. */
            const struct dep_edge *first = start < g->depth ? &g->st->edges[g->stack[start]] : ed;
            zp_diag_error(g->st->d, pos_of(first->at), first->path, "dependency cycle: %s",
                          zp_buf_cstr(&b));
            zp_buf_release(&b);
        }
    }
    g->color[v] = BLACK;
}

static void check_cycles(struct vstate *st)
{
    size_t n = st->services->n;
    struct dfs g = {st, zp_calloc(n + 1, 1), zp_calloc(st->nedges + 1, sizeof(size_t)), 0};
    for (size_t v = 0; v < n; v++)
        if (g.color[v] == WHITE)
            dfs_visit(&g, v);
    free(g.color);
    free(g.stack);
}

/* Secrets and configs take one source; merged files may have given one each. */
static void check_merged_sources(const struct zp_node *model, struct zp_diags *d)
{
    static const char *const sections[] = {"secrets", "configs"};
    static const char *const sources[] = {"file", "environment", "content"};
    for (size_t s = 0; s < 2; s++) {
        const struct zp_node *objs = zp_node_get(model, sections[s]);
        for (size_t i = 0; zp_node_is_map(objs) && i < objs->n; i++) {
            const struct zp_node *obj = objs->pairs[i].value;
            const char *first = NULL;
            for (size_t k = 0; zp_node_is_map(obj) && k < obj->n; k++) {
                const struct zp_node *key = obj->pairs[k].key;
                bool source = false;
                for (size_t j = 0; j < (s == 0 ? 2u : 3u); j++)
                    source = source || strcmp(key->str, sources[j]) == 0;
                if (!source)
                    continue;
                if (first) {
                    char *path = zp_path_key(sections[s], objs->pairs[i].key->str);
                    char *kpath = zp_path_key(path, key->str);
                    zp_diag_error(d, &key->pos, kpath,
                                  "%s '%s' sets both '%s' and '%s' (the files merged give "
                                  "one each): use only one",
                                  s == 0 ? "secret" : "config", objs->pairs[i].key->str, first,
                                  key->str);
                    free(kpath);
                    free(path);
                    break;
                }
                first = key->str;
            }
        }
    }
}

int compose__validate_project(const struct zp_node *model, struct zp_diags *d)
{
    struct vstate st = {0};
    size_t errors = d->errors;

    st.model = model;
    st.d = d;
    if (!model || model->kind != ZP_NODE_MAP)
        return 0;
    const struct zp_node *name = zp_node_get(model, "name");
    if (name && zp_node_is_str(name) && !compose__valid_project_name(name->str))
        zp_diag_error(d, pos_of(name), "name",
                      "invalid project name '%s': it must contain only lowercase letters, "
                      "digits, dashes and underscores, and start with a letter or digit",
                      name->str);
    check_merged_sources(model, d);
    st.services = zp_node_get(model, "services");
    if (st.services && st.services->kind == ZP_NODE_MAP) {
        for (size_t i = 0; i < st.services->n; i++)
            check_service(&st, i);
        check_cycles(&st);
    }
    for (size_t i = 0; i < st.nedges; i++)
        free(st.edges[i].path);
    free(st.edges);
    return d->errors > errors ? ZP_E_INPUT : 0;
}

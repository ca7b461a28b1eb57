/* orchestrator/mapping-node: helpers of the container mapping: building the body's tree,
 * reading the model's fields with errors naming them (services.web.FIELD: ...). Pure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping-int.h"

#include "../util/banned.h"

/* ---- small tree helpers ---- */

struct zp_node *orch__map_jstr(const char *s)
{
    return zp_node_new_str(s, NULL);
}

struct zp_node *orch__map_jint(int64_t v)
{
    return zp_node_new_int(v, NULL);
}

struct zp_node *orch__map_jbool(bool v)
{
    return zp_node_new_bool(v, NULL);
}

/* map[key] as a map, created when missing. */
struct zp_node *orch__map_jmap_at(struct zp_node *map, const char *key)
{
    struct zp_node *m = zp_node_get(map, key);
    if (m == NULL) {
        m = zp_node_new_map(NULL);
        zp_node_set(map, key, m);
    }
    return m;
}

/* map[key] as a sequence, created when missing. */
struct zp_node *orch__map_jseq_at(struct zp_node *map, const char *key)
{
    struct zp_node *s = zp_node_get(map, key);
    if (s == NULL) {
        s = zp_node_new_seq(NULL);
        zp_node_set(map, key, s);
    }
    return s;
}

bool orch__map_is_true(const struct zp_node *n)
{
    return n != NULL && n->kind == ZP_NODE_SCALAR && n->type == ZP_BOOL &&
           strcmp(n->str, "true") == 0;
}

/* An error at node n (or the service when NULL) for field (relative to the service):
 * "services.web.FIELD: message". */
int orch__map_fail(struct mapper *m, const struct zp_node *n, const char *field, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = zp_vasprintf(fmt, ap);
    va_end(ap);
    const struct zp_node *at = n ? n : m->svc;
    zp_err_set(m->err, ZP_E_INPUT, at && at->pos.line > 0 ? &at->pos : NULL, "%s%s%s: %s", m->path,
               field[0] == '[' || field[0] == '\0' ? "" : ".", field, msg);
    free(msg);
    return ZP_E_INPUT;
}

/* An integer scalar of the model; the normaliser guarantees the type, a wrong one is an
 * input error all the same. */
int orch__map_get_int(struct mapper *m, const struct zp_node *n, const char *field, int64_t *ret)
{
    if (n == NULL || n->kind != ZP_NODE_SCALAR || n->type != ZP_INT ||
        zp_parse_int64(n->str, INT64_MIN, INT64_MAX, ret) != 0)
        return orch__map_fail(m, n, field, "must be an integer");
    return 0;
}

int orch__map_get_str(struct mapper *m, const struct zp_node *n, const char *field,
                      const char **ret)
{
    if (n == NULL || n->kind != ZP_NODE_SCALAR || n->type == ZP_NULL)
        return orch__map_fail(m, n, field, "must be a string");
    *ret = n->str;
    return 0;
}

/* A copy of a sequence of strings. */
int orch__map_str_list(struct mapper *m, const struct zp_node *n, const char *field,
                       struct zp_node **ret)
{
    if (n == NULL || n->kind != ZP_NODE_SEQ)
        return orch__map_fail(m, n, field, "must be a list of strings");
    struct zp_node *seq = zp_node_new_seq(NULL);
    for (size_t i = 0; i < n->n; i++) {
        const char *s = NULL;
        char *f = zp_asprintf("%s[%zu]", field, i);
        int rc = orch__map_get_str(m, n->items[i], f, &s);
        free(f);
        if (rc < 0) {
            zp_node_free(seq);
            return rc;
        }
        zp_node_push(seq, orch__map_jstr(s));
    }
    *ret = seq;
    return 0;
}

/* A copy of a map str -> str (null values become ""). */
int orch__map_str_map(struct mapper *m, const struct zp_node *n, const char *field,
                      struct zp_node **ret)
{
    if (n == NULL || n->kind != ZP_NODE_MAP)
        return orch__map_fail(m, n, field, "must be a mapping of strings");
    struct zp_node *map = zp_node_new_map(NULL);
    for (size_t i = 0; i < n->n; i++) {
        const struct zp_node *v = n->pairs[i].value;
        if (v->kind != ZP_NODE_SCALAR) {
            zp_node_free(map);
            return orch__map_fail(m, v, field, "must be a mapping of strings");
        }
        zp_node_set(map, n->pairs[i].key->str, orch__map_jstr(v->type == ZP_NULL ? "" : v->str));
    }
    *ret = map;
    return 0;
}

/* Fail on any key of map (an object of the model at field) that is not in known. */
int orch__map_check_keys(struct mapper *m, const struct zp_node *map, const char *field,
                         const char *const *known)
{
    if (map == NULL || map->kind != ZP_NODE_MAP)
        return 0;
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->pairs[i].key->str;
        bool ok = zp_str_has_prefix(k, "x-");
        for (size_t j = 0; !ok && known[j]; j++)
            ok = strcmp(k, known[j]) == 0;
        if (!ok) {
            char *f = zp_asprintf("%s.%s", field, k);
            int rc =
                orch__map_fail(m, map->pairs[i].key, f, "not supported by the container mapping");
            free(f);
            return rc;
        }
    }
    return 0;
}

/* "service:x" -> "container:<x's container>" through the caller's resolver. */
int orch__map_resolve_service(struct mapper *m, const struct zp_node *at, const char *field,
                              const char *service, char **ret)
{
    char *c = m->resolve ? m->resolve(m->resolve_ud, service) : NULL;
    if (c == NULL)
        return orch__map_fail(m, at, field, "no container found for service '%s'", service);
    *ret = c;
    return 0;
}

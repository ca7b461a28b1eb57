/* compose/normalize-zpanel: validation and canonical form of the `x-zpanel` service
 * extension (routes through zpanel's reverse proxy, TLS mode, HTTP health probe, drain
 * timeout, proxy kind). */
#include "normalize-zpanel.h"

#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

#define MAX_ROUTES 64
#define MAX_LIST 64
#define MAX_PATH_LEN 1024
/* a day: longer waits are a typo more likely than a wish */
#define MAX_DURATION_NS (INT64_C(86400) * 1000000000)

static const char *const ext_keys[] = {"routes",   "tls",
                                       "health",   "drain_timeout",
                                       "proxy",    "share_hosts_with",
                                       "database", "exclude_from_health",
                                       NULL};
static const char *const database_keys[] = {"type", "database", "user", "password_env", NULL};
static const char *const database_types[] = {"postgres", "mariadb", "mysql",
                                             "redis",    "mongodb", NULL};
static const char *const route_keys[] = {"host", "hosts", "path", "paths", "port", NULL};
static const char *const health_keys[] = {"path", "interval", "timeout", NULL};
static const char *const tls_modes[] = {"auto", "internal", "off", NULL};
static const char *const proxy_kinds[] = {"caddy", "traefik", NULL};

/* Why path is not a valid path prefix, or NULL when it is. */
static const char *path_problem(const char *s)
{
    if (s[0] != '/')
        return "must start with '/'";
    if (strlen(s) > MAX_PATH_LEN)
        return "is too long";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f)
            return "must be printable ASCII without spaces (percent-encode the rest)";
        if (strchr("?#*{}\\`\"", *p))
            return "must not hold a query, a fragment, wildcards, braces, quotes or backslashes";
    }
    return NULL;
}

static int check_enum(struct zp_node *v, const char *const *values, const char *what,
                      const char *path, struct zp_diags *d)
{
    if (compose__to_str(v, false, path, d))
        return ZP_E_INPUT;
    for (size_t i = 0; values[i]; i++)
        if (strcmp(v->str, values[i]) == 0)
            return 0;
    struct zp_buf b = ZP_BUF_INIT;
    for (size_t i = 0; values[i]; i++)
        zp_buf_addf(&b, "%s%s", i ? (values[i + 1] ? ", " : " or ") : "", values[i]);
    const char *hint = compose__suggest(v->str, values);
    if (hint)
        zp_diag_error(d, &v->pos, path, "invalid %s '%s' (use %s), did you mean '%s'?", what,
                      v->str, zp_buf_cstr(&b), hint);
    else
        zp_diag_error(d, &v->pos, path, "invalid %s '%s' (use %s)", what, v->str, zp_buf_cstr(&b));
    zp_buf_release(&b);
    return ZP_E_INPUT;
}

/* A duration within [min_ns, MAX_DURATION_NS], printed back the Go way. */
static int check_duration(struct zp_node *v, int64_t min_ns, const char *path, struct zp_diags *d)
{
    if (compose__to_duration(v, false, path, d))
        return ZP_E_INPUT;
    int64_t ns = 0;
    if (zp_parse_duration(v->str, true, &ns) != 0 || ns < min_ns || ns > MAX_DURATION_NS) {
        zp_diag_error(d, &v->pos, path, "duration '%s' is out of range (%s to 24h)", v->str,
                      min_ns > 0 ? "more than 0s" : "0s");
        return ZP_E_INPUT;
    }
    return 0;
}

/* The value of `single` (a string) or `plural` (a string or a list) of map as one list
 * under `plural`; each item checked by check (which may rewrite it). */
static int to_list(struct zp_node *map, const char *single, const char *plural, const char *path,
                   int (*check)(struct zp_node *item, const char *ipath, struct zp_diags *d),
                   struct zp_diags *d)
{
    struct zp_node *one = zp_node_get(map, single);
    struct zp_node *many = zp_node_get(map, plural);
    if (one && many) {
        const struct zp_node *key = zp_node_get_key(map, plural);
        char *kpath = zp_path_key(path, plural);
        zp_diag_error(d, &key->pos, kpath, "use '%s' or '%s', not both", single, plural);
        free(kpath);
        return ZP_E_INPUT;
    }
    if (!one && !many)
        return 0;
    int rc = 0;
    char *kpath = zp_path_key(path, one ? single : plural);
    struct zp_node *v = zp_node_take(map, one ? single : plural);
    if (v->kind == ZP_NODE_SCALAR) {
        struct zp_node *seq = zp_node_new_seq(&v->pos);
        zp_node_push(seq, v);
        v = seq;
    }
    if (compose__to_str_list(v, true, kpath, d)) {
        rc = ZP_E_INPUT;
    } else if (v->n > MAX_LIST) {
        zp_diag_error(d, &v->pos, kpath, "at most %d entries", MAX_LIST);
        rc = ZP_E_INPUT;
    } else {
        for (size_t i = 0; i < v->n; i++) {
            /* the singular key's path names the value itself, not an element */
            char *ipath = one ? zp_strdup(kpath) : zp_path_index(kpath, i);
            if (check(v->items[i], ipath, d))
                rc = ZP_E_INPUT;
            free(ipath);
        }
    }
    zp_node_set(map, plural, v);
    free(kpath);
    return rc;
}

static int check_host(struct zp_node *item, const char *path, struct zp_diags *d)
{
    /* host names are case-insensitive: keep one spelling */
    char *low = zp_strdup(item->str);
    for (char *p = low; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    int rc = 0;
    if (!zp_hostname_valid(low, true)) {
        zp_diag_error(d, &item->pos, path,
                      "invalid host name '%s' (letters, digits and '-' in dot-separated labels, "
                      "optionally '*.' first)",
                      item->str);
        rc = ZP_E_INPUT;
    } else {
        zp_node_set_scalar(item, ZP_STR, low);
    }
    free(low);
    return rc;
}

static int check_path(struct zp_node *item, const char *path, struct zp_diags *d)
{
    const char *why = path_problem(item->str);
    if (!why)
        return 0;
    zp_diag_error(d, &item->pos, path, "invalid path '%s': %s", item->str, why);
    return ZP_E_INPUT;
}

/* share_hosts_with: names of other projects (the Compose project name rules). */
static int check_project(struct zp_node *item, const char *path, struct zp_diags *d)
{
    const char *s = item->str;
    bool ok = s[0] != '\0' && strlen(s) <= 255 &&
              ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'));
    for (const char *p = s; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_';
    if (ok)
        return 0;
    zp_diag_error(d, &item->pos, path,
                  "invalid project name '%s' (lowercase letters, digits, '-' and '_', starting "
                  "with a letter or digit)",
                  item->str);
    return ZP_E_INPUT;
}

/* share_hosts_with: a project name or a list of them. */
static int norm_share(struct zp_node *v, const char *path, struct zp_diags *d)
{
    if (compose__to_str_list(v, true, path, d))
        return ZP_E_INPUT;
    if (v->n > MAX_LIST) {
        zp_diag_error(d, &v->pos, path, "at most %d entries", MAX_LIST);
        return ZP_E_INPUT;
    }
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        char *ipath = zp_path_index(path, i);
        if (check_project(v->items[i], ipath, d))
            rc = ZP_E_INPUT;
        free(ipath);
    }
    return rc;
}

static int norm_route(struct zp_node *r, const char *path, struct zp_diags *d)
{
    if (compose__expect_kind(r, ZP_NODE_MAP, path, d))
        return ZP_E_INPUT;
    int rc = compose__check_keys(r, route_keys, "route", path, d);
    if (!zp_node_get(r, "host") && !zp_node_get(r, "hosts")) {
        zp_diag_error(d, &r->pos, path, "missing required key 'host' (or 'hosts') in route");
        rc = ZP_E_INPUT;
    }
    if (to_list(r, "host", "hosts", path, check_host, d))
        rc = ZP_E_INPUT;
    struct zp_node *hosts = zp_node_get(r, "hosts");
    if (hosts && hosts->kind == ZP_NODE_SEQ && hosts->n == 0) {
        char *kpath = zp_path_key(path, "hosts");
        zp_diag_error(d, &hosts->pos, kpath, "needs at least one host name");
        free(kpath);
        rc = ZP_E_INPUT;
    }
    if (to_list(r, "path", "paths", path, check_path, d))
        rc = ZP_E_INPUT;
    struct zp_node *port = zp_node_get(r, "port");
    if (!port) {
        zp_diag_error(d, &r->pos, path,
                      "missing required key 'port' (the container port) in route");
        rc = ZP_E_INPUT;
    } else {
        char *kpath = zp_path_key(path, "port");
        if (compose__to_int(port, 1, 65535, kpath, d))
            rc = ZP_E_INPUT;
        free(kpath);
    }
    return rc;
}

static int norm_routes(struct zp_node *v, const char *path, struct zp_diags *d)
{
    if (compose__expect_kind(v, ZP_NODE_SEQ, path, d))
        return ZP_E_INPUT;
    if (v->n > MAX_ROUTES) {
        zp_diag_error(d, &v->pos, path, "at most %d routes", MAX_ROUTES);
        return ZP_E_INPUT;
    }
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        char *ipath = zp_path_index(path, i);
        if (norm_route(v->items[i], ipath, d))
            rc = ZP_E_INPUT;
        free(ipath);
    }
    return rc;
}

static int norm_health(struct zp_node *v, const char *path, struct zp_diags *d)
{
    if (v->kind == ZP_NODE_SCALAR && v->type == ZP_STR) {
        /* `health: /up` is short for `health: {path: /up}` */
        struct zp_node *m = zp_node_new_map(&v->pos);
        zp_node_set(m, "path", zp_node_new_str(v->str, &v->pos));
        zp_node_replace(v, m);
    }
    if (compose__expect_kind(v, ZP_NODE_MAP, path, d))
        return ZP_E_INPUT;
    int rc = compose__check_keys(v, health_keys, "health", path, d);
    struct zp_node *p = zp_node_get(v, "path");
    char *kpath = zp_path_key(path, "path");
    if (!p) {
        zp_diag_error(d, &v->pos, path, "missing required key 'path' in health");
        rc = ZP_E_INPUT;
    } else if (compose__to_str(p, false, kpath, d) || check_path(p, kpath, d)) {
        rc = ZP_E_INPUT;
    }
    free(kpath);
    static const char *const durations[] = {"interval", "timeout", NULL};
    for (size_t i = 0; durations[i]; i++) {
        struct zp_node *dv = zp_node_get(v, durations[i]);
        if (!dv)
            continue;
        kpath = zp_path_key(path, durations[i]);
        if (check_duration(dv, 1, kpath, d))
            rc = ZP_E_INPUT;
        free(kpath);
    }
    return rc;
}

/* database: a type, or {type, database, user, password_env}; the short form becomes the
 * long one. */
static int norm_database(struct zp_node *v, const char *path, struct zp_diags *d)
{
    if (v->kind == ZP_NODE_SCALAR && v->type == ZP_STR) {
        struct zp_node *m = zp_node_new_map(&v->pos);
        zp_node_set(m, "type", zp_node_new_str(v->str, &v->pos));
        zp_node_replace(v, m);
    }
    if (compose__expect_kind(v, ZP_NODE_MAP, path, d))
        return ZP_E_INPUT;
    int rc = compose__check_keys(v, database_keys, "database", path, d);
    struct zp_node *t = zp_node_get(v, "type");
    if (!t) {
        zp_diag_error(d, &v->pos, path,
                      "missing required key 'type' (postgres, mariadb, mysql, redis or mongodb) in "
                      "database");
        rc = ZP_E_INPUT;
    } else {
        char *kpath = zp_path_key(path, "type");
        if (check_enum(t, database_types, "database type", kpath, d))
            rc = ZP_E_INPUT;
        free(kpath);
    }
    static const char *const strs[] = {"database", "user", "password_env", NULL};
    for (size_t i = 0; strs[i]; i++) {
        struct zp_node *sv = zp_node_get(v, strs[i]);
        if (!sv)
            continue;
        char *kpath = zp_path_key(path, strs[i]);
        if (compose__to_str(sv, false, kpath, d)) {
            rc = ZP_E_INPUT;
        } else if (sv->str[0] == '\0' || strlen(sv->str) > 255) {
            zp_diag_error(d, &sv->pos, kpath, "must be 1 to 255 characters");
            rc = ZP_E_INPUT;
        }
        free(kpath);
    }
    return rc;
}

int compose__normalize_zpanel(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                              struct zp_diags *d)
{
    (void)ctx;
    if (compose__expect_kind(n, ZP_NODE_MAP, path, d))
        return ZP_E_INPUT;
    int rc = compose__check_keys(n, ext_keys, "x-zpanel", path, d);
    for (size_t i = 0; i < n->n; i++) {
        const char *key = n->pairs[i].key->str;
        struct zp_node *v = n->pairs[i].value;
        if (v->flags & ZP_NODE_RESET)
            continue;
        char *kpath = zp_path_key(path, key);
        int r = 0;
        if (strcmp(key, "routes") == 0)
            r = norm_routes(v, kpath, d);
        else if (strcmp(key, "tls") == 0)
            r = check_enum(v, tls_modes, "tls mode", kpath, d);
        else if (strcmp(key, "proxy") == 0)
            r = check_enum(v, proxy_kinds, "proxy", kpath, d);
        else if (strcmp(key, "health") == 0)
            r = norm_health(v, kpath, d);
        else if (strcmp(key, "drain_timeout") == 0)
            r = check_duration(v, 0, kpath, d);
        else if (strcmp(key, "share_hosts_with") == 0)
            r = norm_share(v, kpath, d);
        else if (strcmp(key, "database") == 0)
            r = norm_database(v, kpath, d);
        else if (strcmp(key, "exclude_from_health") == 0)
            r = compose__to_bool(v, kpath, d);
        if (r)
            rc = ZP_E_INPUT;
        free(kpath);
    }
    return rc;
}

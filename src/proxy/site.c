/* proxy/site: what a service wants routed (struct proxy_site), its route label
 * (io.zpanel.routes, compact JSON) in both directions, and the Traefik labels for it. */
#include <stdlib.h>
#include <string.h>

#include "proxy-int.h"

#include "../util/banned.h"

/* ---- small shared helpers ---- */

bool proxy__host_valid(const char *s)
{
    return zp_hostname_valid(s, true);
}

bool proxy__path_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > PROXY_MAX_PATH_LEN || s[0] != '/')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("?#*{}\\`\"", *p))
            return false;
    return true;
}

const char *proxy__tls_name(enum proxy_tls t)
{
    switch (t) {
    case PROXY_TLS_AUTO:
        return "auto";
    case PROXY_TLS_INTERNAL:
        return "internal";
    case PROXY_TLS_OFF:
        return "off";
    }
    ZP_BUG("unknown tls mode %d", (int)t);
}

const char *proxy__kind_name(enum proxy_kind k)
{
    switch (k) {
    case PROXY_KIND_CADDY:
        return "caddy";
    case PROXY_KIND_TRAEFIK:
        return "traefik";
    }
    ZP_BUG("unknown proxy kind %d", (int)k);
}

void proxy__id12(const char *id, char out[13])
{
    size_t n = strlen(id);
    if (n > 12)
        n = 12;
    memcpy(out, id, n);
    out[n] = '\0';
}

json_t *proxy__json_parse(const char *text, const char *what, struct zp_err *err)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        zp_err_set(err, ZP_E_ENGINE, NULL, "%s is not JSON: %s (column %d)", what, jerr.text,
                   jerr.column);
    return j;
}

char *proxy__json_dump(const json_t *j)
{
    /* jansson allocates with malloc: callers free() the result as usual */
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s)
        ZP_BUG("json_dumps failed");
    return s;
}

/* ---- lifecycle ---- */

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void proxy_site_release(struct proxy_site *s)
{
    if (!s)
        return;
    free(s->project);
    free(s->service);
    for (size_t i = 0; i < s->nroutes; i++) {
        free_strv(s->routes[i].hosts, s->routes[i].nhosts);
        free_strv(s->routes[i].paths, s->routes[i].npaths);
    }
    free(s->routes);
    free(s->health_path);
    free_strv(s->share_with, s->nshare);
    memset(s, 0, sizeof(*s));
}

void proxy_sites_free(struct proxy_site *s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        proxy_site_release(&s[i]);
    free(s);
}

/* ---- the route label ---- */

static json_t *strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

char *proxy_site_to_label(const struct proxy_site *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "project", json_string(s->project ? s->project : ""));
    json_object_set_new(o, "service", json_string(s->service ? s->service : ""));
    json_object_set_new(o, "tls", json_string(proxy__tls_name(s->tls)));
    json_object_set_new(o, "kind", json_string(proxy__kind_name(s->kind)));
    json_object_set_new(o, "drain_timeout_ms", json_integer(s->drain_timeout_ms));
    json_t *h = json_object();
    if (s->health_path)
        json_object_set_new(h, "path", json_string(s->health_path));
    json_object_set_new(h, "interval_ms", json_integer(s->health_interval_ms));
    json_object_set_new(h, "timeout_ms", json_integer(s->health_timeout_ms));
    json_object_set_new(o, "health", h);
    json_t *routes = json_array();
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct proxy_route *r = &s->routes[i];
        json_t *ro = json_object();
        json_object_set_new(ro, "hosts", strv_json(r->hosts, r->nhosts));
        json_object_set_new(ro, "paths", strv_json(r->paths, r->npaths));
        json_object_set_new(ro, "port", json_integer(r->port));
        json_array_append_new(routes, ro);
    }
    json_object_set_new(o, "routes", routes);
    if (s->nshare > 0) /* absent when empty: labels written before it stay equal */
        json_object_set_new(o, "share_hosts_with", strv_json(s->share_with, s->nshare));
    char *text = proxy__json_dump(o);
    json_decref(o);
    return text;
}

static int label_err(struct zp_err *err, const char *what, const char *problem)
{
    return zp_err_set(err, ZP_E_INPUT, NULL, "route label: %s %s", what, problem);
}

/* A required string member of at most max bytes; *ret borrowed from o. */
static int get_str(const json_t *o, const char *key, size_t max, bool required, const char **ret,
                   struct zp_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            return zp_err_set(err, ZP_E_INPUT, NULL, "route label: '%s' is missing", key);
        *ret = NULL;
        return 0;
    }
    if (!json_is_string(v))
        return zp_err_set(err, ZP_E_INPUT, NULL, "route label: '%s' must be a string", key);
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return zp_err_set(err, ZP_E_INPUT, NULL, "route label: '%s' holds a NUL byte", key);
    if (json_string_length(v) > max)
        return zp_err_set(err, ZP_E_INPUT, NULL, "route label: '%s' is longer than %zu bytes", key,
                          max);
    *ret = s;
    return 0;
}

/* An optional integer member within [min, max]; *ret keeps its default when absent. */
static int get_int(const json_t *o, const char *key, int64_t min, int64_t max, int64_t *ret,
                   struct zp_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "route label: '%s' must be an integer from %lld to %lld", key,
                          (long long)min, (long long)max);
    *ret = (int64_t)json_integer_value(v);
    return 0;
}

/* A list of strings each accepted by valid; what names it in messages. */
static int get_strv(const json_t *o, const char *key, size_t min, size_t max,
                    bool (*valid)(const char *), char ***ret_v, size_t *ret_n, struct zp_err *err)
{
    json_t *a = json_object_get(o, key);
    if (!a) {
        if (min > 0)
            return zp_err_set(err, ZP_E_INPUT, NULL, "route label: '%s' is missing", key);
        *ret_v = NULL;
        *ret_n = 0;
        return 0;
    }
    if (!json_is_array(a) || json_array_size(a) < min || json_array_size(a) > max)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "route label: '%s' must be a list of %zu to %zu strings", key, min, max);
    size_t n = json_array_size(a);
    char **v = zp_calloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(a, i);
        const char *s = json_is_string(item) ? json_string_value(item) : NULL;
        if (!s || strlen(s) != json_string_length(item) || !valid(s)) {
            free_strv(v, i);
            if (!s)
                return zp_err_set(err, ZP_E_INPUT, NULL, "route label: %s[%zu] must be a string",
                                  key, i);
            return zp_err_set(err, ZP_E_INPUT, NULL, "route label: %s[%zu]: invalid value '%.64s'",
                              key, i, s);
        }
        v[i] = zp_strdup(s);
    }
    *ret_v = v;
    *ret_n = n;
    return 0;
}

static bool name_valid(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

int proxy_site_from_label(const char *json, struct proxy_site *ret, struct zp_err *err)
{
    struct proxy_site s;
    memset(&s, 0, sizeof(s));
    s.health_interval_ms = 1000;
    s.health_timeout_ms = 5000;
    s.drain_timeout_ms = 30000;
    json_t *o = NULL;
    int rc = 0;
    if (!json)
        return label_err(err, "the value", "is missing");
    if (strlen(json) > PROXY_MAX_LABEL)
        return zp_err_set(err, ZP_E_INPUT, NULL, "route label: longer than %zu bytes",
                          PROXY_MAX_LABEL);
    json_error_t jerr;
    o = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return zp_err_set(err, ZP_E_INPUT, NULL, "route label: not JSON: %s (column %d)", jerr.text,
                          jerr.column);
    if (!json_is_object(o)) {
        rc = label_err(err, "the value", "must be a JSON object");
        goto out;
    }
    const char *project, *service, *tls, *kind;
    if ((rc = get_str(o, "project", PROXY_MAX_NAME_LEN, true, &project, err)) ||
        (rc = get_str(o, "service", PROXY_MAX_NAME_LEN, true, &service, err)) ||
        (rc = get_str(o, "tls", 16, false, &tls, err)) ||
        (rc = get_str(o, "kind", 16, false, &kind, err)))
        goto out;
    if (!name_valid(project) || !name_valid(service)) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "route label: invalid project or service name");
        goto out;
    }
    s.project = zp_strdup(project);
    s.service = zp_strdup(service);
    if (!tls || strcmp(tls, "auto") == 0) {
        s.tls = PROXY_TLS_AUTO;
    } else if (strcmp(tls, "internal") == 0) {
        s.tls = PROXY_TLS_INTERNAL;
    } else if (strcmp(tls, "off") == 0) {
        s.tls = PROXY_TLS_OFF;
    } else {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "route label: unknown tls mode '%s'", tls);
        goto out;
    }
    if (!kind || strcmp(kind, "caddy") == 0) {
        s.kind = PROXY_KIND_CADDY;
    } else if (strcmp(kind, "traefik") == 0) {
        s.kind = PROXY_KIND_TRAEFIK;
    } else {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "route label: unknown proxy kind '%s'", kind);
        goto out;
    }
    if ((rc = get_int(o, "drain_timeout_ms", 0, INT64_C(86400000), &s.drain_timeout_ms, err)))
        goto out;
    json_t *h = json_object_get(o, "health");
    if (h) {
        const char *hp;
        if (!json_is_object(h)) {
            rc = label_err(err, "'health'", "must be an object");
            goto out;
        }
        if ((rc = get_str(h, "path", PROXY_MAX_PATH_LEN, false, &hp, err)) ||
            (rc = get_int(h, "interval_ms", 1, INT64_C(86400000), &s.health_interval_ms, err)) ||
            (rc = get_int(h, "timeout_ms", 1, INT64_C(86400000), &s.health_timeout_ms, err)))
            goto out;
        if (hp && !proxy__path_valid(hp)) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "route label: invalid health path '%.64s'", hp);
            goto out;
        }
        s.health_path = hp ? zp_strdup(hp) : NULL;
    }
    json_t *routes = json_object_get(o, "routes");
    if (!json_is_array(routes) || json_array_size(routes) < 1 ||
        json_array_size(routes) > PROXY_MAX_ROUTES) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "route label: 'routes' must be a list of 1 to %d",
                        PROXY_MAX_ROUTES);
        goto out;
    }
    size_t nr = json_array_size(routes);
    s.routes = zp_calloc(nr, sizeof(*s.routes));
    for (size_t i = 0; i < nr; i++) {
        json_t *ro = json_array_get(routes, i);
        struct proxy_route *r = &s.routes[i];
        int64_t port = 0;
        if (!json_is_object(ro)) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "route label: routes[%zu] must be an object", i);
            goto out;
        }
        s.nroutes = i + 1;
        if ((rc = get_strv(ro, "hosts", 1, PROXY_MAX_HOSTS, proxy__host_valid, &r->hosts,
                           &r->nhosts, err)) ||
            (rc = get_strv(ro, "paths", 0, PROXY_MAX_PATHS, proxy__path_valid, &r->paths,
                           &r->npaths, err)))
            goto out;
        if (!json_object_get(ro, "port")) {
            rc =
                zp_err_set(err, ZP_E_INPUT, NULL, "route label: routes[%zu]: 'port' is missing", i);
            goto out;
        }
        if ((rc = get_int(ro, "port", 1, 65535, &port, err)))
            goto out;
        r->port = (int)port;
    }
    if ((rc = get_strv(o, "share_hosts_with", 0, PROXY_MAX_HOSTS, name_valid, &s.share_with,
                       &s.nshare, err)))
        goto out;
    *ret = s;
    memset(&s, 0, sizeof(s));
out:
    proxy_site_release(&s);
    json_decref(o);
    return rc;
}

/* ---- Traefik ---- */

/* Traefik router and service names: [a-z0-9-] only. */
static void add_name_part(struct zp_buf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        zp_buf_addc(b, (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '-');
    }
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void push(char ***v, size_t *n, size_t *cap, char *s)
{
    zp_grow((void **)v, cap, *n + 2, sizeof(**v));
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

static char *route_rule(const struct proxy_route *r)
{
    struct zp_buf b = ZP_BUF_INIT;
    bool group_hosts = r->nhosts > 1 && r->npaths > 0;
    if (group_hosts)
        zp_buf_addc(&b, '(');
    for (size_t h = 0; h < r->nhosts; h++) {
        /* Traefik has its own syntax for wildcards: HostRegexp in v3 differs from v2, so a
         * wildcard becomes HostRegexp with a plain regular expression (valid in v3) */
        if (zp_str_has_prefix(r->hosts[h], "*.")) {
            zp_buf_addf(&b, "%sHostRegexp(`^[a-z0-9-]+", h ? " || " : "");
            for (const char *p = r->hosts[h] + 1; *p; p++) {
                if (*p == '.')
                    zp_buf_addc(&b, '\\');
                zp_buf_addc(&b, *p);
            }
            zp_buf_adds(&b, "$`)");
        } else {
            zp_buf_addf(&b, "%sHost(`%s`)", h ? " || " : "", r->hosts[h]);
        }
    }
    if (group_hosts)
        zp_buf_addc(&b, ')');
    if (r->npaths > 0) {
        zp_buf_adds(&b, " && ");
        if (r->npaths > 1)
            zp_buf_addc(&b, '(');
        for (size_t p = 0; p < r->npaths; p++)
            zp_buf_addf(&b, "%sPathPrefix(`%s`)", p ? " || " : "", r->paths[p]);
        if (r->npaths > 1)
            zp_buf_addc(&b, ')');
    }
    return zp_buf_detach(&b, NULL);
}

char **proxy_traefik_labels(const struct proxy_site *s)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    zp_grow((void **)&v, &cap, 1, sizeof(*v));
    v[0] = NULL;
    push(&v, &n, &cap, zp_strdup("traefik.enable=true"));
    push(&v, &n, &cap, zp_asprintf("traefik.docker.network=%s", PROXY_NETWORK));
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct proxy_route *r = &s->routes[i];
        struct zp_buf nb = ZP_BUF_INIT;
        add_name_part(&nb, s->project ? s->project : "");
        zp_buf_addc(&nb, '-');
        add_name_part(&nb, s->service ? s->service : "");
        if (s->nroutes > 1)
            zp_buf_addf(&nb, "-%zu", i);
        const char *name = zp_buf_cstr(&nb);
        char *rule = route_rule(r);
        const char *rt = "traefik.http.routers";
        const char *svc = "traefik.http.services";
        push(&v, &n, &cap, zp_asprintf("%s.%s.rule=%s", rt, name, rule));
        push(&v, &n, &cap, zp_asprintf("%s.%s.service=%s", rt, name, name));
        push(&v, &n, &cap, zp_asprintf("%s.%s.loadbalancer.server.port=%d", svc, name, r->port));
        if (s->health_path) {
            char *iv = zp_format_duration(s->health_interval_ms * 1000000);
            char *to = zp_format_duration(s->health_timeout_ms * 1000000);
            push(&v, &n, &cap,
                 zp_asprintf("%s.%s.loadbalancer.healthcheck.path=%s", svc, name, s->health_path));
            push(&v, &n, &cap,
                 zp_asprintf("%s.%s.loadbalancer.healthcheck.interval=%s", svc, name, iv));
            push(&v, &n, &cap,
                 zp_asprintf("%s.%s.loadbalancer.healthcheck.timeout=%s", svc, name, to));
            free(iv);
            free(to);
        }
        if (s->tls == PROXY_TLS_OFF) {
            push(&v, &n, &cap, zp_asprintf("%s.%s.entrypoints=web", rt, name));
        } else {
            push(&v, &n, &cap, zp_asprintf("%s.%s.entrypoints=websecure", rt, name));
            push(&v, &n, &cap, zp_asprintf("%s.%s.tls=true", rt, name));
            if (s->tls == PROXY_TLS_AUTO)
                push(&v, &n, &cap, zp_asprintf("%s.%s.tls.certresolver=letsencrypt", rt, name));
            /* plain HTTP for the same hosts answers with a redirect to HTTPS */
            push(&v, &n, &cap, zp_asprintf("%s.%s-http.rule=%s", rt, name, rule));
            push(&v, &n, &cap, zp_asprintf("%s.%s-http.entrypoints=web", rt, name));
            push(&v, &n, &cap, zp_asprintf("%s.%s-http.service=%s", rt, name, name));
            push(&v, &n, &cap, zp_asprintf("%s.%s-http.middlewares=%s-https", rt, name, name));
            push(
                &v, &n, &cap,
                zp_asprintf("traefik.http.middlewares.%s-https.redirectscheme.scheme=https", name));
            push(&v, &n, &cap,
                 zp_asprintf("traefik.http.middlewares.%s-https.redirectscheme.permanent=true",
                             name));
        }
        free(rule);
        zp_buf_release(&nb);
    }
    qsort(v, n, sizeof(*v), cmp_strp);
    return v;
}

/* Is sites[i] a later replica of a service seen before it? */
static bool seen_service(const struct proxy_site *const *sites, size_t i)
{
    for (size_t k = 0; k < i; k++)
        if (strcmp(sites[k]->project, sites[i]->project) == 0 &&
            strcmp(sites[k]->service, sites[i]->service) == 0)
            return true;
    return false;
}

char *proxy_conflicts(const struct proxy_site *const *sites, size_t n)
{
    struct zp_buf b = ZP_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const struct proxy_site *a = sites[i];
        if (seen_service(sites, i))
            continue; /* replicas of one service share its routes: one of them speaks */
        for (size_t j = i + 1; j < n; j++) {
            const struct proxy_site *c = sites[j];
            if (seen_service(sites, j) ||
                (strcmp(a->project, c->project) == 0 && strcmp(a->service, c->service) == 0))
                continue;
            for (size_t ra = 0; ra < a->nroutes; ra++) {
                for (size_t rb = 0; rb < c->nroutes; rb++) {
                    const struct proxy_route *x = &a->routes[ra], *y = &c->routes[rb];
                    for (size_t h = 0; h < x->nhosts; h++) {
                        for (size_t k = 0; k < y->nhosts; k++) {
                            if (strcmp(x->hosts[h], y->hosts[k]) != 0)
                                continue;
                            /* no paths means every path: it overlaps any other */
                            size_t np = x->npaths ? x->npaths : 1;
                            for (size_t p = 0; p < np; p++) {
                                const char *px = x->npaths ? x->paths[p] : "/";
                                bool same = y->npaths == 0 || x->npaths == 0;
                                for (size_t q = 0; !same && q < y->npaths; q++)
                                    same = strcmp(px, y->paths[q]) == 0;
                                if (!same)
                                    continue;
                                zp_buf_addf(&b,
                                            "%shost '%s' path '%s' is routed by both %s/%s "
                                            "and %s/%s",
                                            b.len ? "\n" : "", x->hosts[h], px, a->project,
                                            a->service, c->project, c->service);
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
    if (b.len == 0) {
        zp_buf_release(&b);
        return NULL;
    }
    return zp_buf_detach(&b, NULL);
}

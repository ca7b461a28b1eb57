/* proxy/caddy: the full Caddy JSON configurations of the router (host + path to the
 * containers' upstreams) and of the edge (published ports, TLS, every routed host handed
 * to the router). Pure: equal inputs give equal text. */
#include <stdlib.h>
#include <string.h>

#include "proxy-int.h"

#include "../util/banned.h"

/* Address ranges the router trusts for X-Forwarded-For (the edge dials it from the
 * `zpanel` network), so that applications see the client's address. */
static const char *const private_ranges[] = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                             "fc00::/7", NULL};

static json_t *admin_json(const char *admin_socket)
{
    char *listen = zp_asprintf("unix/%s", admin_socket);
    json_t *a = json_pack("{s:s, s:{s:b}}", "listen", listen, "config", "persist", 1);
    free(listen);
    return a;
}

static json_t *not_found_route(void)
{
    return json_pack("{s:[{s:s, s:i}]}", "handle", "handler", "static_response", "status_code",
                     404);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- router ---- */

/* One host + path prefix and where it goes. */
struct entry {
    const char *host; /* borrowed from a site */
    const char *path; /* "" for every path */
    const struct proxy_site *owner;
    char **dials; /* "id12:port", owned */
    size_t ndials, cap;
};

static bool same_site(const struct proxy_site *a, const struct proxy_site *b)
{
    return strcmp(a->project ? a->project : "", b->project ? b->project : "") == 0 &&
           strcmp(a->service ? a->service : "", b->service ? b->service : "") == 0;
}

static int cmp_site(const struct proxy_site *a, const struct proxy_site *b)
{
    int c = strcmp(a->project ? a->project : "", b->project ? b->project : "");
    return c ? c : strcmp(a->service ? a->service : "", b->service ? b->service : "");
}

static int cmp_upstream(const void *pa, const void *pb)
{
    const struct proxy_upstream *a = pa, *b = pb;
    int c = cmp_site(a->site, b->site);
    return c ? c : strcmp(a->container_id, b->container_id);
}

/* Longer path prefixes first, exact hosts before wildcards, then by host and path. */
static int cmp_entry(const void *pa, const void *pb)
{
    const struct entry *a = pa, *b = pb;
    size_t la = strlen(a->path), lb = strlen(b->path);
    if (la != lb)
        return la > lb ? -1 : 1;
    bool wa = a->host[0] == '*', wb = b->host[0] == '*';
    if (wa != wb)
        return wa ? 1 : -1;
    int c = strcmp(a->host, b->host);
    return c ? c : strcmp(a->path, b->path);
}

static void add_claim(struct entry **es, size_t *n, size_t *cap, const struct proxy_site *site,
                      const char *host, const char *path, const char *dial)
{
    struct entry *e = NULL;
    for (size_t i = 0; i < *n && !e; i++)
        if (strcmp((*es)[i].host, host) == 0 && strcmp((*es)[i].path, path) == 0)
            e = &(*es)[i];
    if (!e) {
        zp_grow((void **)es, cap, *n + 1, sizeof(**es));
        e = &(*es)[(*n)++];
        memset(e, 0, sizeof(*e));
        e->host = host;
        e->path = path;
        e->owner = site;
    }
    /* the first service (by project, service) that claims a host + path keeps it */
    if (!same_site(e->owner, site))
        return;
    for (size_t i = 0; i < e->ndials; i++)
        if (strcmp(e->dials[i], dial) == 0)
            return;
    zp_grow((void **)&e->dials, &e->cap, e->ndials + 1, sizeof(*e->dials));
    e->dials[e->ndials++] = zp_strdup(dial);
}

static json_t *router_route(const struct entry *e)
{
    json_t *m = json_object();
    json_object_set_new(m, "host", json_pack("[s]", e->host));
    if (e->path[0]) {
        /* a prefix, as Traefik's PathPrefix: "/api" also matches "/api/x" and "/apix" */
        char *pat = zp_asprintf("%s*", e->path);
        json_object_set_new(m, "path", json_pack("[s]", pat));
        free(pat);
    }
    json_t *ups = json_array();
    for (size_t i = 0; i < e->ndials; i++)
        json_array_append_new(ups, json_pack("{s:s}", "dial", e->dials[i]));
    json_t *lb = json_pack("{s:s, s:s}", "try_duration", PROXY_TRY_DURATION, "try_interval",
                           PROXY_TRY_INTERVAL);
    if (e->ndials > 1)
        json_object_set_new(lb, "selection_policy", json_pack("{s:s}", "policy", "round_robin"));
    json_t *trusted = json_array();
    for (size_t i = 0; private_ranges[i]; i++)
        json_array_append_new(trusted, json_string(private_ranges[i]));
    json_t *rp = json_pack("{s:s, s:o, s:o, s:o}", "handler", "reverse_proxy", "upstreams", ups,
                           "load_balancing", lb, "trusted_proxies", trusted);
    return json_pack("{s:[o], s:[o], s:b}", "match", m, "handle", rp, "terminal", 1);
}

char *proxy_router_config(const struct proxy_upstream *u, size_t n, const char *admin_socket)
{
    struct proxy_upstream *sorted = zp_calloc(n ? n : 1, sizeof(*sorted));
    if (n)
        memcpy(sorted, u, n * sizeof(*u));
    qsort(sorted, n, sizeof(*sorted), cmp_upstream);

    struct entry *es = NULL;
    size_t nes = 0, caps = 0;
    char **draining = NULL;
    size_t ndraining = 0, capd = 0;
    for (size_t i = 0; i < n; i++) {
        const struct proxy_site *s = sorted[i].site;
        char id12[13];
        proxy__id12(sorted[i].container_id, id12);
        for (size_t r = 0; r < s->nroutes; r++) {
            const struct proxy_route *rt = &s->routes[r];
            char *dial = zp_asprintf("%s:%d", id12, rt->port);
            if (sorted[i].draining) {
                bool seen = false;
                for (size_t k = 0; k < ndraining && !seen; k++)
                    seen = strcmp(draining[k], dial) == 0;
                zp_grow((void **)&draining, &capd, ndraining + 1, sizeof(*draining));
                if (!seen)
                    draining[ndraining++] = dial;
                else
                    free(dial);
                continue;
            }
            for (size_t h = 0; h < rt->nhosts; h++) {
                if (rt->npaths == 0)
                    add_claim(&es, &nes, &caps, s, rt->hosts[h], "", dial);
                for (size_t p = 0; p < rt->npaths; p++)
                    add_claim(&es, &nes, &caps, s, rt->hosts[h], rt->paths[p], dial);
            }
            free(dial);
        }
    }
    if (nes)
        qsort(es, nes, sizeof(*es), cmp_entry);

    json_t *routes = json_array();
    for (size_t i = 0; i < nes; i++) {
        qsort(es[i].dials, es[i].ndials, sizeof(*es[i].dials), cmp_str);
        json_array_append_new(routes, router_route(&es[i]));
    }
    if (ndraining) {
        /* a route that never matches ("not" of a matcher set that matches everything)
         * keeps the draining upstreams known to Caddy, with their in-flight counts */
        qsort(draining, ndraining, sizeof(*draining), cmp_str);
        json_t *ups = json_array();
        for (size_t i = 0; i < ndraining; i++)
            json_array_append_new(ups, json_pack("{s:s}", "dial", draining[i]));
        json_array_append_new(routes, json_pack("{s:s, s:[{s:[{}]}], s:[{s:s, s:o}], s:b}", "@id",
                                                PROXY_DRAIN_ID, "match", "not", "handle", "handler",
                                                "reverse_proxy", "upstreams", ups, "terminal", 1));
    }
    json_array_append_new(routes, not_found_route());
    json_t *server = json_pack("{s:[s], s:{s:b}, s:o}", "listen", ":80", "automatic_https",
                               "disable", 1, "routes", routes);
    json_t *cfg = json_pack("{s:o, s:{s:{s:{s:o}}}}", "admin", admin_json(admin_socket), "apps",
                            "http", "servers", "router", server);
    char *text = proxy__json_dump(cfg);
    json_decref(cfg);
    for (size_t i = 0; i < nes; i++) {
        for (size_t k = 0; k < es[i].ndials; k++)
            free(es[i].dials[k]);
        free(es[i].dials);
    }
    free(es);
    for (size_t i = 0; i < ndraining; i++)
        free(draining[i]);
    free(draining);
    free(sorted);
    return text;
}

/* ---- edge ---- */

struct host_tls {
    const char *host;
    enum proxy_tls tls;
};

static int cmp_host_tls(const void *pa, const void *pb)
{
    const struct host_tls *a = pa, *b = pb;
    return strcmp(a->host, b->host);
}

static int cmp_sitep(const void *pa, const void *pb)
{
    return cmp_site(*(const struct proxy_site *const *)pa, *(const struct proxy_site *const *)pb);
}

/* The hosts of mode tls, sorted (borrowed strings). */
static json_t *hosts_of(const struct host_tls *h, size_t n, enum proxy_tls tls, size_t *ret_n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (h[i].tls == tls)
            json_array_append_new(a, json_string(h[i].host));
    *ret_n = json_array_size(a);
    return a;
}

static json_t *to_router_route(json_t *hosts)
{
    json_t *rp = json_pack("{s:s, s:[{s:s}], s:{s:s, s:s}}", "handler", "reverse_proxy",
                           "upstreams", "dial", PROXY_ROUTER_NAME ":80", "load_balancing",
                           "try_duration", PROXY_TRY_DURATION, "try_interval", PROXY_TRY_INTERVAL);
    return json_pack("{s:[{s:o}], s:[o], s:b}", "match", "host", hosts, "handle", rp, "terminal",
                     1);
}

char *proxy_edge_config(const struct proxy_site *const *sites, size_t n, const char *admin_socket,
                        int http_port, int https_port)
{
    const struct proxy_site **sorted = zp_calloc(n ? n : 1, sizeof(*sorted));
    if (n)
        memcpy(sorted, sites, n * sizeof(*sites));
    qsort(sorted, n, sizeof(*sorted), cmp_sitep);

    /* every host once, with the TLS mode of the first service naming it */
    struct host_tls *hs = NULL;
    size_t nhs = 0, caph = 0;
    for (size_t i = 0; i < n; i++) {
        const struct proxy_site *s = sorted[i];
        enum proxy_tls tls = https_port > 0 ? s->tls : PROXY_TLS_OFF;
        for (size_t r = 0; r < s->nroutes; r++) {
            for (size_t h = 0; h < s->routes[r].nhosts; h++) {
                const char *host = s->routes[r].hosts[h];
                bool seen = false;
                for (size_t k = 0; k < nhs && !seen; k++)
                    seen = strcmp(hs[k].host, host) == 0;
                if (seen)
                    continue;
                zp_grow((void **)&hs, &caph, nhs + 1, sizeof(*hs));
                hs[nhs].host = host;
                hs[nhs].tls = tls;
                nhs++;
            }
        }
    }
    if (nhs)
        qsort(hs, nhs, sizeof(*hs), cmp_host_tls);

    size_t n_off, n_auto, n_internal;
    json_t *off = hosts_of(hs, nhs, PROXY_TLS_OFF, &n_off);
    json_t *autos = hosts_of(hs, nhs, PROXY_TLS_AUTO, &n_auto);
    json_t *internal = hosts_of(hs, nhs, PROXY_TLS_INTERNAL, &n_internal);
    json_t *secure = json_array(); /* auto and internal */
    json_array_extend(secure, autos);
    json_array_extend(secure, internal);
    json_decref(autos);
    size_t n_secure = n_auto + n_internal;

    json_t *servers = json_object();
    json_t *http_routes = json_array();
    if (n_off)
        json_array_append_new(http_routes, to_router_route(json_incref(off)));
    if (n_secure) {
        /* our own redirect (Caddy's automatic one would land after our 404 route) */
        char *loc =
            https_port == 443
                ? zp_strdup("https://{http.request.host}{http.request.uri}")
                : zp_asprintf("https://{http.request.host}:%d{http.request.uri}", https_port);
        json_array_append_new(http_routes, json_pack("{s:[{s:O}], s:[{s:s, s:i, s:{s:[s]}}], s:b}",
                                                     "match", "host", secure, "handle", "handler",
                                                     "static_response", "status_code", 308,
                                                     "headers", "Location", loc, "terminal", 1));
        free(loc);
    }
    json_array_append_new(http_routes, not_found_route());
    char *http_listen = zp_asprintf(":%d", http_port);
    json_object_set_new(servers, "http",
                        json_pack("{s:[s], s:{s:b}, s:o}", "listen", http_listen, "automatic_https",
                                  "disable", 1, "routes", http_routes));
    free(http_listen);
    if (n_secure) {
        char *https_listen = zp_asprintf(":%d", https_port);
        json_t *routes = json_array();
        json_array_append_new(routes, to_router_route(json_incref(secure)));
        json_array_append_new(routes, not_found_route());
        json_object_set_new(servers, "https",
                            json_pack("{s:[s], s:{s:b}, s:[s,s], s:o}", "listen", https_listen,
                                      "automatic_https", "disable_redirects", 1, "protocols", "h1",
                                      "h2", "routes", routes));
        free(https_listen);
    }
    json_t *http = json_pack("{s:i, s:o}", "http_port", http_port, "servers", servers);
    if (https_port > 0)
        json_object_set_new(http, "https_port", json_integer(https_port));
    json_t *apps = json_pack("{s:o}", "http", http);
    if (n_internal)
        json_object_set_new(apps, "tls",
                            json_pack("{s:{s:[{s:O, s:[{s:s}]}]}}", "automation", "policies",
                                      "subjects", internal, "issuers", "module", "internal"));
    /* the internal CA stays inside the proxy: never touch a trust store */
    json_object_set_new(
        apps, "pki",
        json_pack("{s:{s:{s:b}}}", "certificate_authorities", "local", "install_trust", 0));
    json_t *cfg = json_pack("{s:o, s:o}", "admin", admin_json(admin_socket), "apps", apps);
    char *text = proxy__json_dump(cfg);
    json_decref(cfg);
    json_decref(off);
    json_decref(internal);
    json_decref(secure);
    free(hs);
    free(sorted);
    return text;
}

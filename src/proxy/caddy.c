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

/* ---- who owns a host ---- */

bool proxy_hosts_overlap(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    bool wa = a[0] == '*', wb = b[0] == '*';
    if (wa == wb)
        return false; /* two different exact names, or two different wildcards */
    /* "*.example.com" matches one more label: "a.example.com", not "b.a.example.com" */
    const char *suffix = (wa ? a : b) + 1, *h = wa ? b : a;
    size_t hl = strlen(h), sl = strlen(suffix);
    if (hl <= sl || strcmp(h + hl - sl, suffix) != 0)
        return false;
    return memchr(h, '.', hl - sl) == NULL;
}

bool proxy_site_names_host(const struct proxy_site *s, const char *host)
{
    for (size_t r = 0; r < s->nroutes; r++)
        for (size_t h = 0; h < s->routes[r].nhosts; h++)
            if (proxy_hosts_overlap(s->routes[r].hosts[h], host))
                return true;
    return false;
}

static const char *project_of(const struct proxy_site *s)
{
    return s->project ? s->project : "";
}

static bool shares_with(const struct proxy_site *s, const char *project)
{
    for (size_t i = 0; i < s->nshare; i++)
        if (strcmp(s->share_with[i], project) == 0)
            return true;
    return false;
}

/* Is project a guest on host: does another claimant's site naming it share it? */
static bool is_guest(const struct proxy_upstream *u, size_t n, const char *host,
                     const char *project)
{
    for (size_t i = 0; i < n; i++) {
        const struct proxy_site *s = u[i].site;
        if (!u[i].draining && strcmp(project_of(s), project) != 0 &&
            proxy_site_names_host(s, host) && shares_with(s, project))
            return true;
    }
    return false;
}

const char *proxy_host_owner(const struct proxy_upstream *u, size_t n, const char *host)
{
    const char *best = NULL;
    bool best_guest = true;
    for (size_t i = 0; i < n; i++) {
        if (u[i].draining || !proxy_site_names_host(u[i].site, host))
            continue;
        const char *p = project_of(u[i].site);
        if (best && strcmp(p, best) == 0)
            continue;
        bool guest = is_guest(u, n, host, p);
        if (!best || (best_guest && !guest) || (best_guest == guest && strcmp(p, best) < 0)) {
            best = p;
            best_guest = guest;
        }
    }
    return best;
}

bool proxy_host_shared(const struct proxy_upstream *u, size_t n, const char *owner,
                       const char *host, const char *project)
{
    if (!owner || strcmp(owner, project) == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        const struct proxy_site *s = u[i].site;
        if (!u[i].draining && strcmp(project_of(s), owner) == 0 && proxy_site_names_host(s, host) &&
            shares_with(s, project))
            return true;
    }
    return false;
}

/* "ip:port", "[ip6]:port" (caller frees). */
char *proxy__dial(const char *address, int port)
{
    return strchr(address, ':') ? zp_asprintf("[%s]:%d", address, port)
                                : zp_asprintf("%s:%d", address, port);
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
                      const char *owner, const char *host, const char *path, const char *dial)
{
    if (strcmp(path, "/") == 0) /* the prefix "/" is every path */
        path = "";
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
    /* the host's owner keeps a host + path another project (a guest) also claims; else
     * the first service (by project, service) that claims it */
    if (owner && !same_site(e->owner, site) && strcmp(project_of(site), owner) == 0 &&
        strcmp(project_of(e->owner), owner) != 0) {
        for (size_t i = 0; i < e->ndials; i++)
            free(e->dials[i]);
        e->ndials = 0;
        e->owner = site;
    }
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

/* The server on the probe socket: each request goes to the address its
 * X-Zpanel-Upstream header names (a placeholder in the dial address), once. */
static json_t *probe_server(const char *probe_socket)
{
    char *listen = zp_asprintf("unix/%s", probe_socket);
    json_t *rp = json_pack("{s:s, s:[{s:s}], s:{s:{s:[s]}}}", "handler", "reverse_proxy",
                           "upstreams", "dial", "{http.request.header." PROXY_PROBE_HEADER "}",
                           "headers", "request", "delete", PROXY_PROBE_HEADER);
    json_t *srv = json_pack("{s:[s], s:{s:b}, s:[{s:[o]}]}", "listen", listen, "automatic_https",
                            "disable", 1, "routes", "handle", rp);
    free(listen);
    return srv;
}

char *proxy_router_config(const struct proxy_upstream *u, size_t n, const char *admin_socket,
                          const char *probe_socket)
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
        if (!sorted[i].address || !sorted[i].address[0])
            continue;
        for (size_t r = 0; r < s->nroutes; r++) {
            const struct proxy_route *rt = &s->routes[r];
            char *dial = proxy__dial(sorted[i].address, rt->port);
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
                const char *host = rt->hosts[h];
                const char *owner = proxy_host_owner(sorted, n, host);
                if (!proxy_host_shared(sorted, n, owner, host, project_of(s)))
                    continue; /* another project's host */
                if (rt->npaths == 0)
                    add_claim(&es, &nes, &caps, s, owner, host, "", dial);
                for (size_t p = 0; p < rt->npaths; p++)
                    add_claim(&es, &nes, &caps, s, owner, host, rt->paths[p], dial);
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
    json_t *servers = json_pack("{s:o}", "router", server);
    if (probe_socket)
        json_object_set_new(servers, "probe", probe_server(probe_socket));
    json_t *cfg = json_pack("{s:o, s:{s:{s:o}}}", "admin", admin_json(admin_socket), "apps", "http",
                            "servers", servers);
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

/* The edge's route of hosts to the router. A new connection for every request: a
 * keep-alive connection that the router accepted just as it reloaded stays with the server
 * of the configuration before (Go serves a connection's requests on the server that
 * accepted it, and closes only idle ones when that server stops), so a request sent on it
 * seconds later, after a rollout's next reload, was routed by a configuration two steps
 * old, to a container already removed (a 502, seen once in 14 rollout tests). A fresh
 * connection is served by the configuration of the moment, or at worst the one just
 * before, whose upstreams a rollout keeps alive until the next step. */
static json_t *to_router_route(json_t *hosts)
{
    json_t *rp =
        json_pack("{s:s, s:[{s:s}], s:{s:s, s:s}, s:{s:s, s:{s:b}}}", "handler", "reverse_proxy",
                  "upstreams", "dial", PROXY_ROUTER_NAME ":80", "load_balancing", "try_duration",
                  PROXY_TRY_DURATION, "try_interval", PROXY_TRY_INTERVAL, "transport", "protocol",
                  "http", "keep_alive", "enabled", 0);
    return json_pack("{s:[{s:o}], s:[o], s:b}", "match", "host", hosts, "handle", rp, "terminal",
                     1);
}

/* The TLS mode of host: its owner's (the first of the owner's sites, by service, naming
 * it). */
static enum proxy_tls owner_tls(const struct proxy_upstream *sorted, size_t n, const char *owner,
                                const char *host, enum proxy_tls dflt)
{
    for (size_t i = 0; owner && i < n; i++)
        if (!sorted[i].draining && strcmp(project_of(sorted[i].site), owner) == 0 &&
            proxy_site_names_host(sorted[i].site, host))
            return sorted[i].site->tls;
    return dflt;
}

char *proxy_edge_config(const struct proxy_upstream *u, size_t n, const char *admin_socket,
                        int http_port, int https_port)
{
    return proxy_edge_config_acme(u, n, admin_socket, http_port, https_port, NULL);
}

/* The ACME issuer of hosts with tls auto, or NULL when nothing is set (Caddy's default
 * issuers then). */
static json_t *acme_issuer(const struct proxy_acme *a)
{
    if (!a || (!a->email && !a->ca && !a->ca_root))
        return NULL;
    json_t *iss =
        json_pack("{s:s, s:s}", "module", "acme", "ca", a->ca ? a->ca : PROXY_ACME_PRODUCTION);
    if (a->email)
        json_object_set_new(iss, "email", json_string(a->email));
    if (a->ca_root)
        json_object_set_new(iss, "trusted_roots_pem_files",
                            json_pack("[s]", PROXY_ACME_ROOT_MOUNT));
    return iss;
}

char *proxy_edge_config_acme(const struct proxy_upstream *u, size_t n, const char *admin_socket,
                             int http_port, int https_port, const struct proxy_acme *acme)
{
    struct proxy_upstream *sorted = zp_calloc(n ? n : 1, sizeof(*sorted));
    if (n)
        memcpy(sorted, u, n * sizeof(*u));
    qsort(sorted, n, sizeof(*sorted), cmp_upstream);

    /* every host once, with the TLS mode its owner chose */
    struct host_tls *hs = NULL;
    size_t nhs = 0, caph = 0;
    for (size_t i = 0; i < n; i++) {
        const struct proxy_site *s = sorted[i].site;
        if (sorted[i].draining)
            continue;
        for (size_t r = 0; r < s->nroutes; r++) {
            for (size_t h = 0; h < s->routes[r].nhosts; h++) {
                const char *host = s->routes[r].hosts[h];
                const char *owner = proxy_host_owner(sorted, n, host);
                if (!proxy_host_shared(sorted, n, owner, host, project_of(s)))
                    continue;
                enum proxy_tls tls =
                    https_port > 0 ? owner_tls(sorted, n, owner, host, s->tls) : PROXY_TLS_OFF;
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
    json_t *policies = json_array();
    json_t *issuer = n_auto ? acme_issuer(acme) : NULL;
    if (issuer)
        json_array_append_new(policies,
                              json_pack("{s:O, s:[o]}", "subjects", autos, "issuers", issuer));
    if (n_internal)
        json_array_append_new(policies, json_pack("{s:O, s:[{s:s}]}", "subjects", internal,
                                                  "issuers", "module", "internal"));
    if (json_array_size(policies))
        json_object_set_new(apps, "tls",
                            json_pack("{s:{s:o}}", "automation", "policies", policies));
    else
        json_decref(policies);
    /* the internal CA stays inside the proxy: never touch a trust store */
    json_object_set_new(
        apps, "pki",
        json_pack("{s:{s:{s:b}}}", "certificate_authorities", "local", "install_trust", 0));
    json_t *cfg = json_pack("{s:o, s:o}", "admin", admin_json(admin_socket), "apps", apps);
    char *text = proxy__json_dump(cfg);
    json_decref(cfg);
    json_decref(off);
    json_decref(autos);
    json_decref(internal);
    json_decref(secure);
    free(hs);
    free(sorted);
    return text;
}

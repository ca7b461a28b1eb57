/* Unit tests for proxy/caddy.c: the router's and the edge's Caddy configurations for
 * sample sites, checked as JSON structures (routes, order, upstreams, TLS policies). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proxy/proxy.h"
#include "util/util.h"

static char **strv(const char *a, const char *b)
{
    char **v = zp_calloc(3, sizeof(*v));
    v[0] = zp_strdup(a);
    if (b)
        v[1] = zp_strdup(b);
    return v;
}

static void site_init(struct proxy_site *s, const char *project, const char *service,
                      enum proxy_tls tls)
{
    memset(s, 0, sizeof(*s));
    s->project = zp_strdup(project);
    s->service = zp_strdup(service);
    s->tls = tls;
}

static void add_route(struct proxy_site *s, const char *host, const char *host2, const char *path,
                      int port)
{
    s->routes = zp_realloc(s->routes, (s->nroutes + 1) * sizeof(*s->routes));
    struct proxy_route *r = &s->routes[s->nroutes++];
    memset(r, 0, sizeof(*r));
    r->hosts = strv(host, host2);
    r->nhosts = host2 ? 2 : 1;
    if (path) {
        r->paths = strv(path, NULL);
        r->npaths = 1;
    }
    r->port = port;
}

static json_t *load(char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (!j)
        fail_msg("not JSON: %s: %s", e.text, text);
    free(text);
    return j;
}

static json_t *jpath(json_t *j, const char *dotted)
{
    char *copy = zp_strdup(dotted);
    char *save = copy;
    for (char *p = copy; j && p;) {
        char *dot = strchr(p, '.');
        if (dot)
            *dot = '\0';
        j = json_object_get(j, p);
        p = dot ? dot + 1 : NULL;
    }
    free(save);
    return j;
}

static const char *str_at(json_t *arr, size_t i)
{
    return json_string_value(json_array_get(arr, i));
}

/* "host path -> dial,dial" of a router route, for readable comparisons. */
static char *describe(json_t *route)
{
    struct zp_buf b = ZP_BUF_INIT;
    json_t *m = json_array_get(json_object_get(route, "match"), 0);
    json_t *h = json_array_get(json_object_get(route, "handle"), 0);
    if (!m) {
        zp_buf_addf(&b, "* -> %lld",
                    (long long)json_integer_value(json_object_get(h, "status_code")));
        return zp_buf_detach(&b, NULL);
    }
    assert_int_equal(json_array_size(json_object_get(m, "host")), 1);
    zp_buf_adds(&b, str_at(json_object_get(m, "host"), 0));
    json_t *paths = json_object_get(m, "path");
    zp_buf_addf(&b, " %s ->", paths ? str_at(paths, 0) : "-");
    assert_string_equal(json_string_value(json_object_get(h, "handler")), "reverse_proxy");
    size_t i;
    json_t *up;
    json_array_foreach(json_object_get(h, "upstreams"), i, up)
        zp_buf_addf(&b, "%s%s", i ? "," : " ", json_string_value(json_object_get(up, "dial")));
    return zp_buf_detach(&b, NULL);
}

static void expect_route(json_t *routes, size_t i, const char *want)
{
    char *got = describe(json_array_get(routes, i));
    if (strcmp(got, want) != 0)
        fail_msg("route %zu is '%s', want '%s'", i, got, want);
    free(got);
}

static void test_router_routes_and_order(void **state)
{
    (void)state;
    struct proxy_site web, api, other;
    site_init(&web, "shop", "web", PROXY_TLS_AUTO);
    add_route(&web, "shop.example.com", "www.example.com", NULL, 8080);
    site_init(&api, "shop", "api", PROXY_TLS_AUTO);
    add_route(&api, "shop.example.com", NULL, "/api", 9000);
    add_route(&api, "shop.example.com", NULL, "/api/v2/long", 9001);
    /* another project claims shop's host: left out (the host is shop's); its own host is
     * routed */
    site_init(&other, "zzz", "x", PROXY_TLS_AUTO);
    add_route(&other, "shop.example.com", NULL, "/api", 1234);
    add_route(&other, "*.example.org", NULL, NULL, 80);

    /* two containers of web, one of api, one of other; given in scrambled order; each
     * dialled by its address, never by a name */
    struct proxy_upstream u[] = {
        {&other, "ffffffffffff0000", "10.0.0.6", false},
        {&web, "bbbbbbbbbbbb1111", "10.0.0.2", false},
        {&api, "cccccccccccc2222", "fd00::3", false},
        {&web, "aaaaaaaaaaaa3333", "10.0.0.1", false},
    };
    json_t *cfg = load(proxy_router_config(u, 4, "/zpanel/router.sock", "/zpanel/probe.sock"));
    assert_string_equal(json_string_value(jpath(cfg, "admin.listen")), "unix//zpanel/router.sock");
    json_t *srv = jpath(cfg, "apps.http.servers.router");
    assert_non_null(srv);
    assert_string_equal(str_at(json_object_get(srv, "listen"), 0), ":80");
    assert_true(json_is_true(jpath(srv, "automatic_https.disable")));
    json_t *routes = json_object_get(srv, "routes");
    assert_int_equal(json_array_size(routes), 6);
    expect_route(routes, 0, "shop.example.com /api/v2/long* -> [fd00::3]:9001");
    expect_route(routes, 1, "shop.example.com /api* -> [fd00::3]:9000");
    expect_route(routes, 2, "shop.example.com - -> 10.0.0.1:8080,10.0.0.2:8080");
    expect_route(routes, 3, "www.example.com - -> 10.0.0.1:8080,10.0.0.2:8080");
    expect_route(routes, 4, "*.example.org - -> 10.0.0.6:80");
    expect_route(routes, 5, "* -> 404");

    /* the probe server: one route to the address the request's header names */
    json_t *probe = jpath(cfg, "apps.http.servers.probe");
    assert_string_equal(str_at(json_object_get(probe, "listen"), 0), "unix//zpanel/probe.sock");
    json_t *ph = json_array_get(
        json_object_get(json_array_get(json_object_get(probe, "routes"), 0), "handle"), 0);
    assert_string_equal(
        json_string_value(jpath(json_array_get(json_object_get(ph, "upstreams"), 0), "dial")),
        "{http.request.header.X-Zpanel-Upstream}");
    assert_null(json_object_get(ph, "load_balancing")); /* one try: a probe judges one */

    /* several upstreams: round robin, retried on refusal; one: no policy needed */
    json_t *h2 = json_array_get(json_object_get(json_array_get(routes, 2), "handle"), 0);
    assert_string_equal(json_string_value(jpath(h2, "load_balancing.selection_policy.policy")),
                        "round_robin");
    assert_non_null(jpath(h2, "load_balancing.try_duration"));
    assert_non_null(json_object_get(h2, "trusted_proxies"));
    json_t *h0 = json_array_get(json_object_get(json_array_get(routes, 0), "handle"), 0);
    assert_null(jpath(h0, "load_balancing.selection_policy"));
    assert_non_null(jpath(h0, "load_balancing.try_duration"));
    assert_true(json_is_true(json_object_get(json_array_get(routes, 0), "terminal")));

    /* the same input in another order gives the same text */
    struct proxy_upstream u2[] = {u[3], u[2], u[1], u[0]};
    char *a = proxy_router_config(u, 4, "/zpanel/router.sock", NULL);
    char *b = proxy_router_config(u2, 4, "/zpanel/router.sock", NULL);
    assert_string_equal(a, b);
    free(a);
    free(b);
    json_decref(cfg);

    /* a draining container gets no traffic but stays referenced by a route that never
     * matches, before the 404 */
    struct proxy_upstream ud[] = {u[1], u[3], u[2]};
    ud[1].draining = true;
    cfg = load(proxy_router_config(ud, 3, "/s", NULL));
    assert_null(jpath(cfg, "apps.http.servers.probe"));
    routes = jpath(cfg, "apps.http.servers.router.routes");
    assert_int_equal(json_array_size(routes), 6);
    expect_route(routes, 2, "shop.example.com - -> 10.0.0.2:8080");
    expect_route(routes, 3, "www.example.com - -> 10.0.0.2:8080");
    json_t *drain = json_array_get(routes, 4);
    assert_string_equal(json_string_value(json_object_get(drain, "@id")), "zpanel-draining");
    json_t *never = json_array_get(json_object_get(drain, "match"), 0);
    assert_int_equal(json_array_size(json_object_get(never, "not")), 1);
    assert_int_equal(json_object_size(json_array_get(json_object_get(never, "not"), 0)), 0);
    json_t *dh = json_array_get(json_object_get(drain, "handle"), 0);
    assert_int_equal(json_array_size(json_object_get(dh, "upstreams")), 1);
    assert_string_equal(
        json_string_value(jpath(json_array_get(json_object_get(dh, "upstreams"), 0), "dial")),
        "10.0.0.1:8080");
    expect_route(routes, 5, "* -> 404");
    json_decref(cfg);

    /* nothing routed: only the 404 */
    cfg = load(proxy_router_config(NULL, 0, "/s", NULL));
    routes = jpath(cfg, "apps.http.servers.router.routes");
    assert_int_equal(json_array_size(routes), 1);
    expect_route(routes, 0, "* -> 404");
    json_decref(cfg);
    proxy_site_release(&web);
    proxy_site_release(&api);
    proxy_site_release(&other);
}

static json_t *route_hosts(json_t *route)
{
    return json_object_get(json_array_get(json_object_get(route, "match"), 0), "host");
}

static void test_edge_tls_modes(void **state)
{
    (void)state;
    struct proxy_site a, b, c;
    site_init(&a, "p", "a", PROXY_TLS_AUTO);
    add_route(&a, "b.example.com", "a.example.com", NULL, 80);
    site_init(&b, "p", "b", PROXY_TLS_INTERNAL);
    add_route(&b, "int.example.com", NULL, "/x", 80);
    site_init(&c, "p", "c", PROXY_TLS_OFF);
    add_route(&c, "plain.test", NULL, NULL, 80);
    add_route(&c, "a.example.com", NULL, "/c", 80); /* a's host: a's TLS mode wins */
    struct proxy_upstream sites[] = {
        {&c, "c", "10.0.0.3", false}, {&b, "b", "10.0.0.2", false}, {&a, "a", "10.0.0.1", false}};
    json_t *cfg = load(proxy_edge_config(sites, 3, "/zpanel/edge.sock", 8080, 8443));
    assert_string_equal(json_string_value(jpath(cfg, "admin.listen")), "unix//zpanel/edge.sock");
    assert_int_equal(json_integer_value(jpath(cfg, "apps.http.http_port")), 8080);
    assert_int_equal(json_integer_value(jpath(cfg, "apps.http.https_port")), 8443);

    json_t *http = jpath(cfg, "apps.http.servers.http");
    assert_string_equal(str_at(json_object_get(http, "listen"), 0), ":8080");
    json_t *hr = json_object_get(http, "routes");
    assert_int_equal(json_array_size(hr), 3);
    /* plain hosts go to the router */
    assert_int_equal(json_array_size(route_hosts(json_array_get(hr, 0))), 1);
    assert_string_equal(str_at(route_hosts(json_array_get(hr, 0)), 0), "plain.test");
    json_t *to_router = json_array_get(json_object_get(json_array_get(hr, 0), "handle"), 0);
    assert_string_equal(json_string_value(json_object_get(to_router, "handler")), "reverse_proxy");
    assert_string_equal(json_string_value(jpath(
                            json_array_get(json_object_get(to_router, "upstreams"), 0), "dial")),
                        "zpanel-router:80");
    /* a fresh connection to the router for each request: none outlives a reload */
    assert_true(json_is_false(jpath(to_router, "transport.keep_alive.enabled")));
    /* TLS hosts are redirected to the HTTPS port */
    json_t *redirect = json_array_get(json_object_get(json_array_get(hr, 1), "handle"), 0);
    assert_int_equal(json_integer_value(json_object_get(redirect, "status_code")), 308);
    assert_string_equal(str_at(jpath(redirect, "headers.Location"), 0),
                        "https://{http.request.host}:8443{http.request.uri}");
    assert_int_equal(json_array_size(route_hosts(json_array_get(hr, 1))), 3);
    /* unknown hosts: 404 */
    json_t *last = json_array_get(json_object_get(json_array_get(hr, 2), "handle"), 0);
    assert_int_equal(json_integer_value(json_object_get(last, "status_code")), 404);

    json_t *https = jpath(cfg, "apps.http.servers.https");
    assert_string_equal(str_at(json_object_get(https, "listen"), 0), ":8443");
    assert_true(json_is_true(jpath(https, "automatic_https.disable_redirects")));
    json_t *sr = json_object_get(https, "routes");
    assert_int_equal(json_array_size(sr), 2);
    json_t *secure = route_hosts(json_array_get(sr, 0));
    assert_int_equal(json_array_size(secure), 3);
    assert_string_equal(str_at(secure, 0), "a.example.com"); /* auto hosts, sorted */
    assert_string_equal(str_at(secure, 1), "b.example.com");
    assert_string_equal(str_at(secure, 2), "int.example.com");

    /* the internal host gets the internal issuer; auto hosts keep Caddy's default */
    json_t *pol = json_array_get(jpath(cfg, "apps.tls.automation.policies"), 0);
    assert_int_equal(json_array_size(json_object_get(pol, "subjects")), 1);
    assert_string_equal(str_at(json_object_get(pol, "subjects"), 0), "int.example.com");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(pol, "issuers"), 0), "module")),
                        "internal");
    assert_true(json_is_false(jpath(cfg, "apps.pki.certificate_authorities.local.install_trust")));
    json_decref(cfg);

    /* without an HTTPS port every host is plain HTTP and there is no TLS server */
    cfg = load(proxy_edge_config(sites, 3, "/s", 80, 0));
    assert_null(jpath(cfg, "apps.http.servers.https"));
    assert_null(jpath(cfg, "apps.http.https_port"));
    assert_null(jpath(cfg, "apps.tls"));
    hr = jpath(cfg, "apps.http.servers.http.routes");
    assert_int_equal(json_array_size(hr), 2);
    assert_int_equal(json_array_size(route_hosts(json_array_get(hr, 0))), 4);
    json_decref(cfg);

    /* the standard HTTPS port is not written into redirects */
    struct proxy_upstream only_a[] = {{&a, "a", "10.0.0.1", false}};
    cfg = load(proxy_edge_config(only_a, 1, "/s", 80, 443));
    redirect = json_array_get(
        json_object_get(json_array_get(jpath(cfg, "apps.http.servers.http.routes"), 0), "handle"),
        0);
    assert_string_equal(str_at(jpath(redirect, "headers.Location"), 0),
                        "https://{http.request.host}{http.request.uri}");
    json_decref(cfg);

    /* nothing routed: an HTTP server that answers 404 */
    cfg = load(proxy_edge_config(NULL, 0, "/s", 80, 443));
    assert_int_equal(json_array_size(jpath(cfg, "apps.http.servers.http.routes")), 1);
    assert_null(jpath(cfg, "apps.http.servers.https"));
    json_decref(cfg);
    proxy_site_release(&a);
    proxy_site_release(&b);
    proxy_site_release(&c);
}

static void share(struct proxy_site *s, const char *project)
{
    s->share_with = zp_realloc(s->share_with, (s->nshare + 1) * sizeof(*s->share_with));
    s->share_with[s->nshare++] = zp_strdup(project);
}

static void test_host_overlap(void **state)
{
    (void)state;
    assert_true(proxy_hosts_overlap("a.example.com", "a.example.com"));
    assert_false(proxy_hosts_overlap("a.example.com", "b.example.com"));
    assert_true(proxy_hosts_overlap("*.example.com", "a.example.com"));
    assert_true(proxy_hosts_overlap("a.example.com", "*.example.com"));
    assert_false(proxy_hosts_overlap("*.example.com", "b.a.example.com")); /* one label */
    assert_false(proxy_hosts_overlap("*.example.com", "example.com"));
    assert_false(proxy_hosts_overlap("*.example.com", "aexample.com"));
    assert_true(proxy_hosts_overlap("*.example.com", "*.example.com"));
    assert_false(proxy_hosts_overlap("*.example.com", "*.a.example.com"));
}

/* A host belongs to the project that owns it: another project's longer path prefix, the
 * same host + path, a TLS mode of its own or a wildcard over it are all left out, unless
 * the owner shares the host; then the guest's paths are routed and the owner's TLS mode
 * and paths stay. */
static void test_host_ownership(void **state)
{
    (void)state;
    struct proxy_site victim, thief, wild, guest;
    site_init(&victim, "shop", "web", PROXY_TLS_AUTO);
    add_route(&victim, "shop.example.com", NULL, NULL, 8080);
    site_init(&thief, "evil", "web", PROXY_TLS_OFF);
    add_route(&thief, "shop.example.com", NULL, "/slow", 80); /* longer prefix */
    add_route(&thief, "shop.example.com", NULL, NULL, 81);    /* same host + path */
    add_route(&thief, "evil.example.net", NULL, NULL, 82);    /* its own */
    site_init(&wild, "aaa", "web", PROXY_TLS_OFF);
    add_route(&wild, "*.example.com", NULL, "/w", 83); /* sorts first, covers shop's */

    struct proxy_upstream u[] = {
        {&victim, "v", "10.0.1.1", false},
        {&thief, "t", "10.0.2.1", false},
        {&wild, "w", "10.0.3.1", false},
    };
    /* neither "aaa" nor "evil" is a guest: the owner is the first by name among all
     * claimants, and only "shop" names the host exactly... every claimant counts */
    assert_string_equal(proxy_host_owner(u, 2, "shop.example.com"), "evil");
    assert_string_equal(proxy_host_owner(u, 3, "shop.example.com"), "aaa");
    assert_null(proxy_host_owner(u, 3, "nobody.example.org"));
    /* the victim alone: its host is its own, nobody else's claims count */
    assert_string_equal(proxy_host_owner(u, 1, "shop.example.com"), "shop");

    /* draining upstreams claim nothing */
    struct proxy_upstream ud[] = {u[0], u[1]};
    ud[1].draining = true;
    assert_string_equal(proxy_host_owner(ud, 2, "shop.example.com"), "shop");

    /* the owner shares with "blog": blog is a guest, shop stays the owner although
     * "blog" sorts first; blog's TLS mode is not used; blog's "/" does not take shop's */
    share(&victim, "blog");
    site_init(&guest, "blog", "web", PROXY_TLS_OFF);
    add_route(&guest, "shop.example.com", NULL, "/blog", 90);
    add_route(&guest, "shop.example.com", NULL, "/", 91); /* "/": every path, the owner's */
    struct proxy_upstream g[] = {
        {&guest, "g", "10.0.4.1", false},
        {&victim, "v", "10.0.1.1", false},
        {&thief, "t", "10.0.2.1", false},
    };
    assert_string_equal(proxy_host_owner(g, 2, "shop.example.com"), "shop");
    assert_true(proxy_host_shared(g, 2, "shop", "shop.example.com", "blog"));
    assert_false(proxy_host_shared(g, 3, "shop", "shop.example.com", "evil"));
    json_t *cfg = load(proxy_router_config(g, 2, "/s", NULL));
    json_t *routes = jpath(cfg, "apps.http.servers.router.routes");
    assert_int_equal(json_array_size(routes), 3);
    expect_route(routes, 0, "shop.example.com /blog* -> 10.0.4.1:90");
    expect_route(routes, 1, "shop.example.com - -> 10.0.1.1:8080");
    expect_route(routes, 2, "* -> 404");
    json_decref(cfg);
    cfg = load(proxy_edge_config(g, 2, "/s", 80, 443));
    json_t *secure = route_hosts(json_array_get(jpath(cfg, "apps.http.servers.https.routes"), 0));
    assert_int_equal(json_array_size(secure), 1); /* shop's TLS mode, not blog's "off" */
    assert_string_equal(str_at(secure, 0), "shop.example.com");
    json_decref(cfg);

    /* with shop the owner (evil not there before; here only shop and evil with shop
     * sharing with blog): evil's claims on shop's host are left out, its own stay */
    struct proxy_upstream vt[] = {{&victim, "v", "10.0.1.1", false},
                                  {&thief, "t", "10.0.2.1", false}};
    /* evil sorts before shop: the owner by name among non-guests is evil; an up would
     * have refused the second claim, this is the tie-break of a race */
    assert_string_equal(proxy_host_owner(vt, 2, "shop.example.com"), "evil");
    cfg = load(proxy_router_config(vt, 2, "/s", NULL));
    routes = jpath(cfg, "apps.http.servers.router.routes");
    assert_int_equal(json_array_size(routes), 4);
    expect_route(routes, 0, "shop.example.com /slow* -> 10.0.2.1:80");
    expect_route(routes, 1, "evil.example.net - -> 10.0.2.1:82");
    expect_route(routes, 2, "shop.example.com - -> 10.0.2.1:81");
    expect_route(routes, 3, "* -> 404");
    json_decref(cfg);

    /* and the other way round: a project sorting after the owner loses everything on it */
    free(thief.project);
    thief.project = zp_strdup("zevil");
    cfg = load(proxy_router_config(vt, 2, "/s", NULL));
    routes = jpath(cfg, "apps.http.servers.router.routes");
    assert_int_equal(json_array_size(routes), 3);
    expect_route(routes, 0, "evil.example.net - -> 10.0.2.1:82");
    expect_route(routes, 1, "shop.example.com - -> 10.0.1.1:8080");
    expect_route(routes, 2, "* -> 404");
    json_decref(cfg);
    cfg = load(proxy_edge_config(vt, 2, "/s", 80, 443));
    secure = route_hosts(json_array_get(jpath(cfg, "apps.http.servers.https.routes"), 0));
    assert_int_equal(json_array_size(secure), 1); /* shop's auto, not zevil's off */
    assert_string_equal(str_at(secure, 0), "shop.example.com");
    json_decref(cfg);

    proxy_site_release(&victim);
    proxy_site_release(&thief);
    proxy_site_release(&wild);
    proxy_site_release(&guest);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_routes_and_order),
        cmocka_unit_test(test_edge_tls_modes),
        cmocka_unit_test(test_host_overlap),
        cmocka_unit_test(test_host_ownership),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

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
    /* another project claims the same host + path: the first (by project) keeps it */
    site_init(&other, "zzz", "x", PROXY_TLS_AUTO);
    add_route(&other, "shop.example.com", NULL, "/api", 1234);
    add_route(&other, "*.example.com", NULL, NULL, 80);

    /* two containers of web, one of api, one of other; given in scrambled order */
    struct proxy_upstream u[] = {
        {&other, "ffffffffffff0000", false},
        {&web, "bbbbbbbbbbbb1111", false},
        {&api, "cccccccccccc2222", false},
        {&web, "aaaaaaaaaaaa3333", false},
    };
    json_t *cfg = load(proxy_router_config(u, 4, "/zpanel/router.sock"));
    assert_string_equal(json_string_value(jpath(cfg, "admin.listen")), "unix//zpanel/router.sock");
    json_t *srv = jpath(cfg, "apps.http.servers.router");
    assert_non_null(srv);
    assert_string_equal(str_at(json_object_get(srv, "listen"), 0), ":80");
    assert_true(json_is_true(jpath(srv, "automatic_https.disable")));
    json_t *routes = json_object_get(srv, "routes");
    assert_int_equal(json_array_size(routes), 6);
    expect_route(routes, 0, "shop.example.com /api/v2/long* -> cccccccccccc:9001");
    expect_route(routes, 1, "shop.example.com /api* -> cccccccccccc:9000");
    expect_route(routes, 2, "shop.example.com - -> aaaaaaaaaaaa:8080,bbbbbbbbbbbb:8080");
    expect_route(routes, 3, "www.example.com - -> aaaaaaaaaaaa:8080,bbbbbbbbbbbb:8080");
    expect_route(routes, 4, "*.example.com - -> ffffffffffff:80");
    expect_route(routes, 5, "* -> 404");

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
    char *a = proxy_router_config(u, 4, "/zpanel/router.sock");
    char *b = proxy_router_config(u2, 4, "/zpanel/router.sock");
    assert_string_equal(a, b);
    free(a);
    free(b);
    json_decref(cfg);

    /* a draining container gets no traffic but stays referenced by a route that never
     * matches, before the 404 */
    struct proxy_upstream ud[] = {u[1], u[3], u[2]};
    ud[1].draining = true;
    cfg = load(proxy_router_config(ud, 3, "/s"));
    routes = jpath(cfg, "apps.http.servers.router.routes");
    assert_int_equal(json_array_size(routes), 6);
    expect_route(routes, 2, "shop.example.com - -> bbbbbbbbbbbb:8080");
    expect_route(routes, 3, "www.example.com - -> bbbbbbbbbbbb:8080");
    json_t *drain = json_array_get(routes, 4);
    assert_string_equal(json_string_value(json_object_get(drain, "@id")), "zpanel-draining");
    json_t *never = json_array_get(json_object_get(drain, "match"), 0);
    assert_int_equal(json_array_size(json_object_get(never, "not")), 1);
    assert_int_equal(json_object_size(json_array_get(json_object_get(never, "not"), 0)), 0);
    json_t *dh = json_array_get(json_object_get(drain, "handle"), 0);
    assert_int_equal(json_array_size(json_object_get(dh, "upstreams")), 1);
    assert_string_equal(
        json_string_value(jpath(json_array_get(json_object_get(dh, "upstreams"), 0), "dial")),
        "aaaaaaaaaaaa:8080");
    expect_route(routes, 5, "* -> 404");
    json_decref(cfg);

    /* nothing routed: only the 404 */
    cfg = load(proxy_router_config(NULL, 0, "/s"));
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
    const struct proxy_site *sites[] = {&c, &b, &a};
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
    const struct proxy_site *only_a[] = {&a};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_routes_and_order),
        cmocka_unit_test(test_edge_tls_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

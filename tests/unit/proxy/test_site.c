/* Unit tests for proxy/site.c: the route label in both directions, its errors, and the
 * Traefik labels of a site. */
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

/* web of project shop: app.example.com + www.example.com on 8080, and /api of
 * api.example.com on 9000; tls internal, health /up. */
static void sample_site(struct proxy_site *s)
{
    memset(s, 0, sizeof(*s));
    s->project = zp_strdup("shop");
    s->service = zp_strdup("web");
    s->nroutes = 2;
    s->routes = zp_calloc(2, sizeof(*s->routes));
    s->routes[0].hosts = strv("app.example.com", "www.example.com");
    s->routes[0].nhosts = 2;
    s->routes[0].port = 8080;
    s->routes[1].hosts = strv("api.example.com", NULL);
    s->routes[1].nhosts = 1;
    s->routes[1].paths = strv("/api", "/v2");
    s->routes[1].npaths = 2;
    s->routes[1].port = 9000;
    s->tls = PROXY_TLS_INTERNAL;
    s->health_path = zp_strdup("/up");
    s->health_interval_ms = 2000;
    s->health_timeout_ms = 3000;
    s->drain_timeout_ms = 15000;
    s->kind = PROXY_KIND_TRAEFIK;
    s->share_with = strv("blog", "shop-2_x");
    s->nshare = 2;
}

static void test_label_round_trip(void **state)
{
    (void)state;
    struct proxy_site s, back;
    sample_site(&s);
    char *label = proxy_site_to_label(&s);
    /* compact JSON with sorted keys */
    assert_non_null(strstr(label, "\"drain_timeout_ms\":15000"));
    assert_true(strstr(label, "\"drain_timeout_ms\"") < strstr(label, "\"project\""));
    assert_null(strchr(label, '\n'));
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(proxy_site_from_label(label, &back, &err), 0);
    assert_string_equal(back.project, "shop");
    assert_string_equal(back.service, "web");
    assert_int_equal(back.nroutes, 2);
    assert_int_equal(back.routes[0].nhosts, 2);
    assert_string_equal(back.routes[0].hosts[1], "www.example.com");
    assert_int_equal(back.routes[0].npaths, 0);
    assert_int_equal(back.routes[0].port, 8080);
    assert_int_equal(back.routes[1].npaths, 2);
    assert_string_equal(back.routes[1].paths[0], "/api");
    assert_int_equal(back.routes[1].port, 9000);
    assert_int_equal(back.tls, PROXY_TLS_INTERNAL);
    assert_int_equal(back.kind, PROXY_KIND_TRAEFIK);
    assert_string_equal(back.health_path, "/up");
    assert_int_equal(back.health_interval_ms, 2000);
    assert_int_equal(back.health_timeout_ms, 3000);
    assert_int_equal(back.drain_timeout_ms, 15000);
    assert_int_equal(back.nshare, 2);
    assert_string_equal(back.share_with[1], "shop-2_x");
    /* and the same text again */
    char *again = proxy_site_to_label(&back);
    assert_string_equal(label, again);
    free(again);
    free(label);
    proxy_site_release(&back);
    proxy_site_release(&s);
}

static void test_label_defaults(void **state)
{
    (void)state;
    struct proxy_site s;
    struct zp_err err;
    zp_err_init(&err);
    const char *min = "{\"project\":\"p\",\"service\":\"s\",\"routes\":[{\"hosts\":[\"a.b\"],"
                      "\"port\":80}]}";
    assert_int_equal(proxy_site_from_label(min, &s, &err), 0);
    assert_int_equal(s.tls, PROXY_TLS_AUTO);
    assert_int_equal(s.kind, PROXY_KIND_CADDY);
    assert_null(s.health_path);
    assert_int_equal(s.nshare, 0);
    assert_int_equal(s.health_interval_ms, 1000);
    assert_int_equal(s.health_timeout_ms, 5000);
    assert_int_equal(s.drain_timeout_ms, 30000);
    assert_int_equal(s.routes[0].npaths, 0);
    proxy_site_release(&s);
}

static void site_of(const char *json, struct proxy_site *s)
{
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(proxy_site_from_label(json, s, &err), 0);
}

/* Two services claiming one host (and an overlapping path) are named; replicas of one
 * service, other hosts and disjoint paths are not. */
static void test_conflicts(void **state)
{
    (void)state;
    struct proxy_site s[5];
    site_of("{\"project\":\"shop\",\"service\":\"web\",\"routes\":[{\"hosts\":[\"a.test\","
            "\"b.test\"],\"port\":80}]}",
            &s[0]);
    site_of("{\"project\":\"shop\",\"service\":\"web\",\"routes\":[{\"hosts\":[\"a.test\","
            "\"b.test\"],\"port\":80}]}",
            &s[1]); /* a second replica */
    site_of("{\"project\":\"blog\",\"service\":\"web\",\"routes\":[{\"hosts\":[\"b.test\"],"
            "\"paths\":[\"/api\"],\"port\":80}]}",
            &s[2]);
    site_of("{\"project\":\"blog\",\"service\":\"api\",\"routes\":[{\"hosts\":[\"c.test\"],"
            "\"paths\":[\"/v1\"],\"port\":80}]}",
            &s[3]);
    site_of("{\"project\":\"blog\",\"service\":\"app\",\"routes\":[{\"hosts\":[\"c.test\"],"
            "\"paths\":[\"/v2\"],\"port\":80}]}",
            &s[4]);
    const struct proxy_site *all[] = {&s[0], &s[1], &s[2], &s[3], &s[4]};
    char *got = proxy_conflicts(all, 5);
    assert_non_null(got);
    assert_string_equal(got, "host 'b.test' path '/' is routed by both shop/web and blog/web");
    free(got);
    const struct proxy_site *fine[] = {&s[0], &s[1], &s[3], &s[4]};
    assert_null(proxy_conflicts(fine, 4));
    for (size_t i = 0; i < 5; i++)
        proxy_site_release(&s[i]);
}

static void expect_label_error(const char *json, const char *want)
{
    struct proxy_site s;
    memset(&s, 0x5a, sizeof(s)); /* ret_ untouched on failure */
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(proxy_site_from_label(json, &s, &err), ZP_E_INPUT);
    assert_int_equal(err.code, ZP_E_INPUT);
    if (!strstr(err.msg, want))
        fail_msg("error '%s' lacks '%s'", err.msg, want);
    assert_int_equal(((unsigned char *)&s)[0], 0x5a);
}

static void test_label_errors(void **state)
{
    (void)state;
    expect_label_error(NULL, "missing");
    expect_label_error("", "not JSON");
    expect_label_error("{\"project\":", "not JSON");
    expect_label_error("[1]", "must be a JSON object");
    expect_label_error("{\"service\":\"s\",\"routes\":[]}", "'project' is missing");
    expect_label_error("{\"project\":1,\"service\":\"s\"}", "'project' must be a string");
    expect_label_error("{\"project\":\"a b\",\"service\":\"s\",\"routes\":[]}",
                       "invalid project or service name");
    expect_label_error("{\"project\":\"p\",\"service\":\"s\",\"routes\":[]}", "'routes'");
    expect_label_error("{\"project\":\"p\",\"service\":\"s\",\"tls\":\"maybe\","
                       "\"routes\":[{\"hosts\":[\"a\"],\"port\":1}]}",
                       "unknown tls mode 'maybe'");
    expect_label_error("{\"project\":\"p\",\"service\":\"s\",\"kind\":\"nginx\","
                       "\"routes\":[{\"hosts\":[\"a\"],\"port\":1}]}",
                       "unknown proxy kind 'nginx'");
    expect_label_error("{\"project\":\"p\",\"service\":\"s\","
                       "\"routes\":[{\"hosts\":[\"a\"],\"port\":0}]}",
                       "'port' must be an integer from 1 to 65535");
    expect_label_error("{\"project\":\"p\",\"service\":\"s\",\"routes\":[{\"hosts\":[\"a\"]}]}",
                       "routes[0]: 'port' is missing");
    expect_label_error("{\"project\":\"p\",\"service\":\"s\","
                       "\"routes\":[{\"hosts\":[\"Bad Host\"],\"port\":1}]}",
                       "hosts[0]: invalid value 'Bad Host'");
    expect_label_error("{\"project\":\"p\",\"service\":\"s\","
                       "\"routes\":[{\"hosts\":[],\"port\":1}]}",
                       "'hosts' must be a list of 1 to");
    expect_label_error("{\"project\":\"p\",\"service\":\"s\","
                       "\"routes\":[{\"hosts\":[\"a\"],\"paths\":[\"api\"],\"port\":1}]}",
                       "paths[0]: invalid value 'api'");
    expect_label_error("{\"project\":\"p\",\"service\":\"s\",\"health\":{\"path\":\"x\"},"
                       "\"routes\":[{\"hosts\":[\"a\"],\"port\":1}]}",
                       "invalid health path");
    expect_label_error("{\"project\":\"p\",\"project\":\"q\"}", "not JSON");
    /* a NUL byte inside a string */
    expect_label_error("{\"project\":\"p\\u0000x\",\"service\":\"s\"}", "NUL");
}

static bool has(char **labels, const char *want)
{
    for (size_t i = 0; labels[i]; i++)
        if (strcmp(labels[i], want) == 0)
            return true;
    return false;
}

static void free_labels(char **labels)
{
    for (size_t i = 0; labels[i]; i++)
        free(labels[i]);
    free(labels);
}

static void test_traefik_labels(void **state)
{
    (void)state;
    struct proxy_site s;
    sample_site(&s);
    s.tls = PROXY_TLS_AUTO;
    char **l = proxy_traefik_labels(&s);
    size_t n = 0;
    while (l[n])
        n++;
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(l[i - 1], l[i]) < 0); /* sorted, no duplicates */
    assert_true(has(l, "traefik.enable=true"));
    assert_true(has(l, "traefik.docker.network=zpanel"));
    assert_true(has(l, "traefik.http.routers.shop-web-0.rule=Host(`app.example.com`) || "
                       "Host(`www.example.com`)"));
    assert_true(has(l, "traefik.http.routers.shop-web-1.rule=Host(`api.example.com`) && "
                       "(PathPrefix(`/api`) || PathPrefix(`/v2`))"));
    assert_true(has(l, "traefik.http.routers.shop-web-0.entrypoints=websecure"));
    assert_true(has(l, "traefik.http.routers.shop-web-0.tls=true"));
    assert_true(has(l, "traefik.http.routers.shop-web-0.tls.certresolver=letsencrypt"));
    assert_true(has(l, "traefik.http.services.shop-web-0.loadbalancer.server.port=8080"));
    assert_true(has(l, "traefik.http.services.shop-web-1.loadbalancer.server.port=9000"));
    assert_true(has(l, "traefik.http.services.shop-web-1.loadbalancer.healthcheck.path=/up"));
    assert_true(has(l, "traefik.http.services.shop-web-1.loadbalancer.healthcheck.interval=2s"));
    assert_true(has(l, "traefik.http.routers.shop-web-0-http.entrypoints=web"));
    assert_true(has(l, "traefik.http.routers.shop-web-0-http.middlewares=shop-web-0-https"));
    assert_true(has(l, "traefik.http.middlewares.shop-web-0-https.redirectscheme.scheme=https"));
    free_labels(l);

    /* tls off: plain entrypoint, no TLS, no redirect; one route: no index in names */
    s.tls = PROXY_TLS_OFF;
    s.nroutes = 1;
    l = proxy_traefik_labels(&s);
    assert_true(has(l, "traefik.http.routers.shop-web.entrypoints=web"));
    assert_true(has(l, "traefik.http.services.shop-web.loadbalancer.server.port=8080"));
    for (size_t i = 0; l[i]; i++) {
        assert_null(strstr(l[i], ".tls"));
        assert_null(strstr(l[i], "redirectscheme"));
    }
    free_labels(l);

    /* internal: TLS without an ACME resolver */
    s.tls = PROXY_TLS_INTERNAL;
    l = proxy_traefik_labels(&s);
    assert_true(has(l, "traefik.http.routers.shop-web.tls=true"));
    for (size_t i = 0; l[i]; i++)
        assert_null(strstr(l[i], "certresolver"));
    free_labels(l);
    s.nroutes = 2;
    proxy_site_release(&s);
}

static void test_traefik_wildcard_and_names(void **state)
{
    (void)state;
    struct proxy_site s;
    memset(&s, 0, sizeof(s));
    s.project = zp_strdup("My_App");
    s.service = zp_strdup("front.end");
    s.nroutes = 1;
    s.routes = zp_calloc(1, sizeof(*s.routes));
    s.routes[0].hosts = strv("*.example.com", "example.com");
    s.routes[0].nhosts = 2;
    s.routes[0].paths = strv("/x", NULL);
    s.routes[0].npaths = 1;
    s.routes[0].port = 3000;
    s.tls = PROXY_TLS_OFF;
    char **l = proxy_traefik_labels(&s);
    assert_true(has(l, "traefik.http.routers.my-app-front-end.rule=(HostRegexp("
                       "`^[a-z0-9-]+\\.example\\.com$`) || Host(`example.com`)) && "
                       "PathPrefix(`/x`)"));
    free_labels(l);
    proxy_site_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_round_trip),
        cmocka_unit_test(test_label_defaults),
        cmocka_unit_test(test_label_errors),
        cmocka_unit_test(test_traefik_labels),
        cmocka_unit_test(test_traefik_wildcard_and_names),
        cmocka_unit_test(test_conflicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

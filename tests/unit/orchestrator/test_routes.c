/* Unit tests for orchestrator/routes.c: a loaded project's x-zpanel as struct proxy_site,
 * with the defaults applied, and its label round trip. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orchestrator/routes.h"
#include "load.h"
#include "util/util.h"

static const struct zp_node *svc(const struct compose_project *p, const char *name)
{
    return zp_node_get(zp_node_get(p->model, "services"), name);
}

static void test_site_with_defaults(void **state)
{
    (void)state;
    struct compose_project *p = orcht_load_yaml(NULL, "name: shop\n"
                                                      "services:\n"
                                                      "  web:\n"
                                                      "    image: x\n"
                                                      "    x-zpanel:\n"
                                                      "      routes:\n"
                                                      "        - host: shop.example.com\n"
                                                      "          port: 8080\n"
                                                      "        - hosts: [api.example.com]\n"
                                                      "          paths: [/api, /v1]\n"
                                                      "          port: 9000\n"
                                                      "  plain:\n"
                                                      "    image: x\n");
    struct proxy_site s;
    bool routed = false;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(orch_service_site(p, "web", svc(p, "web"), &s, &routed, &err), 0);
    assert_true(routed);
    assert_string_equal(s.project, "shop");
    assert_string_equal(s.service, "web");
    assert_int_equal(s.tls, PROXY_TLS_AUTO);
    assert_int_equal(s.kind, PROXY_KIND_CADDY);
    assert_null(s.health_path);
    assert_int_equal(s.health_interval_ms, 1000);
    assert_int_equal(s.health_timeout_ms, 5000);
    assert_int_equal(s.drain_timeout_ms, 30000);
    assert_int_equal(s.nroutes, 2);
    assert_int_equal(s.routes[0].nhosts, 1);
    assert_string_equal(s.routes[0].hosts[0], "shop.example.com");
    assert_int_equal(s.routes[0].npaths, 0);
    assert_int_equal(s.routes[0].port, 8080);
    assert_int_equal(s.routes[1].npaths, 2);
    assert_string_equal(s.routes[1].paths[1], "/v1");
    assert_int_equal(s.routes[1].port, 9000);

    /* the label carries all of it to the proxy */
    char *label = proxy_site_to_label(&s);
    struct proxy_site back;
    assert_int_equal(proxy_site_from_label(label, &back, &err), 0);
    char *again = proxy_site_to_label(&back);
    assert_string_equal(label, again);
    free(label);
    free(again);
    proxy_site_release(&back);
    proxy_site_release(&s);

    /* a service without x-zpanel is not routed, and *ret stays untouched */
    memset(&s, 0x5a, sizeof(s));
    routed = true;
    assert_int_equal(orch_service_site(p, "plain", svc(p, "plain"), &s, &routed, &err), 0);
    assert_false(routed);
    assert_int_equal(((unsigned char *)&s)[0], 0x5a);
    compose_project_free(p);
}

static void test_site_all_fields(void **state)
{
    (void)state;
    struct compose_project *p =
        orcht_load_yaml(NULL, "name: app\n"
                              "services:\n"
                              "  web:\n"
                              "    image: x\n"
                              "    x-zpanel:\n"
                              "      routes: [{host: a.test, port: 80}]\n"
                              "      tls: internal\n"
                              "      health: {path: /up, interval: 250ms, timeout: 2s}\n"
                              "      drain_timeout: 1m\n"
                              "      proxy: traefik\n"
                              "  off:\n"
                              "    image: x\n"
                              "    x-zpanel:\n"
                              "      routes: []\n"
                              "      tls: \"off\"\n");
    struct proxy_site s;
    bool routed = false;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(orch_service_site(p, "web", svc(p, "web"), &s, &routed, &err), 0);
    assert_true(routed);
    assert_int_equal(s.tls, PROXY_TLS_INTERNAL);
    assert_int_equal(s.kind, PROXY_KIND_TRAEFIK);
    assert_string_equal(s.health_path, "/up");
    assert_int_equal(s.health_interval_ms, 250);
    assert_int_equal(s.health_timeout_ms, 2000);
    assert_int_equal(s.drain_timeout_ms, 60000);
    proxy_site_release(&s);
    /* no routes: not routed */
    assert_int_equal(orch_service_site(p, "off", svc(p, "off"), &s, &routed, &err), 0);
    assert_false(routed);
    compose_project_free(p);
}

/* Durations under a millisecond round up: the label still parses, so the service is
 * routed (it was not when a 500us interval became 0 ms). */
static void test_site_sub_ms_durations(void **state)
{
    (void)state;
    struct compose_project *p =
        orcht_load_yaml(NULL, "name: app\n"
                              "services:\n"
                              "  web:\n"
                              "    image: x\n"
                              "    x-zpanel:\n"
                              "      routes: [{host: a.test, port: 80}]\n"
                              "      health: {path: /up, interval: 500us, timeout: 1500us}\n"
                              "      drain_timeout: 0s\n");
    struct proxy_site s;
    bool routed = false;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(orch_service_site(p, "web", svc(p, "web"), &s, &routed, &err), 0);
    assert_true(routed);
    assert_int_equal(s.health_interval_ms, 1);
    assert_int_equal(s.health_timeout_ms, 2);
    assert_int_equal(s.drain_timeout_ms, 0);
    char *label = proxy_site_to_label(&s);
    struct proxy_site back;
    assert_int_equal(proxy_site_from_label(label, &back, &err), 0);
    assert_int_equal(back.health_interval_ms, 1);
    assert_int_equal(back.health_timeout_ms, 2);
    free(label);
    proxy_site_release(&back);
    proxy_site_release(&s);
    compose_project_free(p);
}

static void test_site_malformed_node(void **state)
{
    (void)state;
    /* a hand-made node that did not come through the normaliser */
    struct zp_node *service = zp_node_new_map(NULL);
    struct zp_node *x = zp_node_new_map(NULL);
    struct zp_node *routes = zp_node_new_seq(NULL);
    struct zp_node *r = zp_node_new_map(NULL);
    zp_node_set(r, "hosts", zp_node_new_str("a.test", NULL)); /* not a list */
    zp_node_set(r, "port", zp_node_new_int(80, NULL));
    zp_node_push(routes, r);
    zp_node_set(x, "routes", routes);
    zp_node_set(service, "x-zpanel", x);
    struct proxy_site s;
    bool routed = false;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(orch_service_site(NULL, "web", service, &s, &routed, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "service 'web': x-zpanel: routes[0]"));
    zp_node_free(service);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_site_with_defaults),
        cmocka_unit_test(test_site_all_fields),
        cmocka_unit_test(test_site_sub_ms_durations),
        cmocka_unit_test(test_site_malformed_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

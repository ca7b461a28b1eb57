/* Unit tests for the pure parts of rollouts (orchestrator/rollout.c): replica batches
 * from deploy.update_config.parallelism, the order (start-first by default, stop-first
 * when asked or when two containers cannot run at once: host ports, fixed addresses,
 * network_mode), the health-check time budget, the temporary name. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "compose/compose-int.h"
#include "orchestrator/orchestrator-int.h"
#include "util/util.h"

/* A service in the model's shapes, from YAML. */
static struct zp_node *svc_of(const char *yaml)
{
    struct zp_node *doc = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    assert_int_equal(compose__yaml_parse("svc.yaml", yaml, strlen(yaml), NULL, &doc, &d), 0);
    zp_diags_release(&d);
    return doc;
}

static void plan_of(const char *yaml, size_t n, struct orch_rollout_plan *p)
{
    struct zp_node *svc = svc_of(yaml);
    orch__rollout_plan(svc, n, p);
    zp_node_free(svc);
}

static void expect_batches(const struct orch_rollout_plan *p, const size_t *want, size_t nwant)
{
    assert_int_equal(p->nbatches, nwant);
    for (size_t i = 0; i < nwant; i++)
        assert_int_equal(p->batches[i], want[i]);
}

static void test_default_one_at_a_time_start_first(void **state)
{
    (void)state;
    struct orch_rollout_plan p;
    plan_of("image: x\n", 3, &p);
    assert_int_equal(p.order, ORCH_ORDER_START_FIRST);
    assert_false(p.fallback);
    assert_null(p.why);
    assert_int_equal(p.delay_ms, 0);
    const size_t want[] = {1, 1, 1};
    expect_batches(&p, want, 3);
    orch__rollout_plan_release(&p);
}

static void test_parallelism_batches(void **state)
{
    (void)state;
    struct orch_rollout_plan p;
    plan_of("deploy:\n  update_config:\n    parallelism: 2\n    delay: 1500ms\n", 5, &p);
    const size_t want[] = {2, 2, 1};
    expect_batches(&p, want, 3);
    assert_int_equal(p.delay_ms, 1500);
    orch__rollout_plan_release(&p);

    /* 0: every replica at once (as swarm) */
    plan_of("deploy:\n  update_config:\n    parallelism: 0\n", 4, &p);
    const size_t all[] = {4};
    expect_batches(&p, all, 1);
    orch__rollout_plan_release(&p);

    /* more than there are replicas: one batch */
    plan_of("deploy:\n  update_config:\n    parallelism: 10\n", 3, &p);
    const size_t three[] = {3};
    expect_batches(&p, three, 1);
    orch__rollout_plan_release(&p);

    /* nothing to replace */
    plan_of("image: x\n", 0, &p);
    assert_int_equal(p.nbatches, 0);
    assert_null(p.batches);
    orch__rollout_plan_release(&p);
}

static void test_stop_first_when_asked(void **state)
{
    (void)state;
    struct orch_rollout_plan p;
    plan_of("deploy:\n  update_config:\n    order: stop-first\n", 2, &p);
    assert_int_equal(p.order, ORCH_ORDER_STOP_FIRST);
    assert_false(p.fallback); /* asked for: nothing to warn about */
    assert_null(p.why);
    orch__rollout_plan_release(&p);

    plan_of("deploy:\n  update_config:\n    order: start-first\n", 2, &p);
    assert_int_equal(p.order, ORCH_ORDER_START_FIRST);
    orch__rollout_plan_release(&p);
}

static void test_host_port_falls_back_to_stop_first(void **state)
{
    (void)state;
    struct orch_rollout_plan p;
    plan_of("ports:\n  - {target: 80, published: \"8080\", host_ip: 127.0.0.1}\n", 1, &p);
    assert_int_equal(p.order, ORCH_ORDER_STOP_FIRST);
    assert_true(p.fallback);
    assert_string_equal(p.why, "publishes host port 8080");
    orch__rollout_plan_release(&p);

    /* a port without a published one (the engine picks): two can run */
    plan_of("ports:\n  - {target: 80}\n", 1, &p);
    assert_int_equal(p.order, ORCH_ORDER_START_FIRST);
    assert_false(p.fallback);
    orch__rollout_plan_release(&p);

    /* stop-first asked for and ports: no fallback to report */
    plan_of("ports:\n  - {target: 80, published: \"80\"}\n"
            "deploy:\n  update_config:\n    order: stop-first\n",
            1, &p);
    assert_int_equal(p.order, ORCH_ORDER_STOP_FIRST);
    assert_false(p.fallback);
    orch__rollout_plan_release(&p);
}

static void test_single_instance_reasons(void **state)
{
    (void)state;
    struct {
        const char *yaml;
        const char *why;
    } cases[] = {
        {"image: x\n", NULL},
        {"network_mode: host\n", "uses network_mode 'host'"},
        {"network_mode: bridge\n", NULL},
        {"networks:\n  front:\n    ipv4_address: 10.5.0.9\n",
         "has the fixed address 10.5.0.9 on network 'front'"},
        {"networks:\n  front:\n    mac_address: 02:42:ac:11:00:02\n",
         "has the fixed MAC address 02:42:ac:11:00:02 on network 'front'"},
        {"networks:\n  front:\n    aliases: [a]\n  back:\n", NULL},
        {"mac_address: 02:42:ac:11:00:03\n", "has the fixed MAC address 02:42:ac:11:00:03"},
        {"ports:\n  - {target: 80, published: \"0\"}\n", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct zp_node *svc = svc_of(cases[i].yaml);
        char *why = orch__single_instance_why(svc);
        if (cases[i].why == NULL)
            assert_null(why);
        else
            assert_string_equal(why, cases[i].why);
        free(why);
        zp_node_free(svc);
    }
}

static void test_health_budget(void **state)
{
    (void)state;
    struct zp_node *svc = svc_of("image: x\n");
    assert_int_equal(orch__health_budget_ms(svc), 0);
    zp_node_free(svc);

    /* 1s start + (500ms + 1s) * (4 + 1) + 10s margin */
    svc = svc_of("healthcheck:\n  test: [CMD, /webver, -probe, /up]\n  interval: 500ms\n"
                 "  timeout: 1s\n  retries: 4\n  start_period: 1s\n");
    assert_int_equal(orch__health_budget_ms(svc), 1000 + 1500 * 5 + 10000);
    zp_node_free(svc);

    /* the engine's defaults: 30s interval and timeout, 3 retries */
    svc = svc_of("healthcheck:\n  test: [CMD-SHELL, true]\n");
    assert_int_equal(orch__health_budget_ms(svc), 60000 * 4 + 10000);
    zp_node_free(svc);

    /* huge values saturate instead of wrapping to a negative budget */
    svc = svc_of("healthcheck:\n  test: [CMD, x]\n  interval: 2000000h\n  timeout: 2000000h\n"
                 "  retries: 1000000\n");
    assert_int_equal(orch__health_budget_ms(svc), INT64_MAX);
    zp_node_free(svc);

    svc = svc_of("healthcheck:\n  test: [NONE]\n");
    assert_int_equal(orch__health_budget_ms(svc), 0);
    zp_node_free(svc);
    svc = svc_of("healthcheck:\n  disable: true\n  test: [CMD, x]\n");
    assert_int_equal(orch__health_budget_ms(svc), 0);
    zp_node_free(svc);
}

static void test_temp_name(void **state)
{
    (void)state;
    char *t = orch__temp_name("hello-web-1");
    assert_string_equal(t, "hello-web-1" PROXY_TEMP_SUFFIX);
    assert_string_equal(t, "hello-web-1-zpnew");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_one_at_a_time_start_first),
        cmocka_unit_test(test_parallelism_batches),
        cmocka_unit_test(test_stop_first_when_asked),
        cmocka_unit_test(test_host_port_falls_back_to_stop_first),
        cmocka_unit_test(test_single_instance_reasons),
        cmocka_unit_test(test_health_budget),
        cmocka_unit_test(test_temp_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for orch_adapt_limits: the host-adapted resource limits policy, rule by rule
 * (clamp to the host; on one CPU: limits halved, reservations to 0.4, memory at most half
 * the host's; reservations kept within limits) and its edges. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "compose/compose-int.h"
#include "orchestrator/mapping.h"
#include "util/util.h"

#define GIB ((int64_t)1 << 30)
#define MIB ((int64_t)1 << 20)

/* A service in the model's shapes (cpus are numbers, memory integer bytes). */
static struct zp_node *svc_of(const char *yaml)
{
    struct zp_node *doc = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    assert_int_equal(compose__yaml_parse("svc.yaml", yaml, strlen(yaml), NULL, &doc, &d), 0);
    zp_diags_release(&d);
    return doc;
}

static const char *at(const struct zp_node *svc, const char *path)
{
    /* "deploy.resources.limits.cpus" -> the scalar's text */
    char *p = zp_strdup(path);
    const struct zp_node *n = svc;
    for (char *s = p, *dot; n != NULL && s != NULL; s = dot ? dot + 1 : NULL) {
        dot = strchr(s, '.');
        if (dot)
            *dot = '\0';
        n = zp_node_get(n, s);
    }
    free(p);
    return n != NULL && n->kind == ZP_NODE_SCALAR ? n->str : NULL;
}

struct adapted {
    struct zp_node *svc;
    struct orch_adjustment *a;
    size_t n;
};

static void adapt(struct adapted *r, const char *yaml, int64_t ncpu, int64_t mem, bool on)
{
    struct orch_host host = {.ncpu = ncpu, .mem_total = mem};
    r->svc = svc_of(yaml);
    r->a = NULL;
    r->n = 99;
    orch_adapt_limits(r->svc, "web", &host, on, &r->a, &r->n);
}

static void done(struct adapted *r)
{
    orch_adjustments_free(r->a, r->n);
    zp_node_free(r->svc);
}

static const struct orch_adjustment *find(const struct adapted *r, const char *field)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->a[i].field, field) == 0)
            return &r->a[i];
    return NULL;
}

static void expect(const struct adapted *r, const char *field, const char *from, const char *to,
                   const char *why)
{
    const struct orch_adjustment *a = find(r, field);
    if (a == NULL)
        print_error("no adjustment of %s\n", field);
    assert_non_null(a);
    assert_string_equal(a->service, "web");
    assert_string_equal(a->from, from);
    assert_string_equal(a->to, to);
    assert_string_equal(a->why, why);
    assert_string_equal(at(r->svc, field), to);
}

static const char all_fields[] = "image: x\n"
                                 "cpus: 0.5\n"
                                 "mem_limit: 1073741824\n"
                                 "mem_reservation: 524288000\n"
                                 "deploy:\n"
                                 "  resources:\n"
                                 "    limits: {cpus: 0.5, memory: 1073741824}\n"
                                 "    reservations: {cpus: 0.3, memory: 524288000}\n";

/* No limits at all: nothing changes, whatever the host. */
static void test_no_limits(void **state)
{
    (void)state;
    struct adapted r;
    adapt(&r, "image: x\nenvironment: {A: '1'}\n", 1, GIB, true);
    assert_int_equal(r.n, 0);
    assert_null(r.a);
    struct zp_node *orig = svc_of("image: x\nenvironment: {A: '1'}\n");
    assert_true(zp_node_equal(orig, r.svc));
    zp_node_free(orig);
    done(&r);
}

/* Two CPUs and enough memory: limits within the host stay as written. */
static void test_two_cpus_within(void **state)
{
    (void)state;
    struct adapted r;
    adapt(&r, all_fields, 2, 8 * GIB, true);
    assert_int_equal(r.n, 0);
    assert_string_equal(at(r.svc, "cpus"), "0.5");
    assert_string_equal(at(r.svc, "deploy.resources.reservations.memory"), "524288000");
    done(&r);
}

/* Two CPUs: only the clamp to the host applies (no halving, reservations untouched). */
static void test_two_cpus_only_clamps(void **state)
{
    (void)state;
    struct adapted r;
    adapt(&r,
          "cpus: 4\nmem_limit: 17179869184\nmem_reservation: 1073741824\n"
          "deploy: {resources: {limits: {cpus: 2.5}, reservations: {cpus: 1}}}\n",
          2, 8 * GIB, true);
    assert_int_equal(r.n, 3);
    expect(&r, "cpus", "4", "2", "above the host's 2 CPUs");
    expect(&r, "deploy.resources.limits.cpus", "2.5", "2", "above the host's 2 CPUs");
    expect(&r, "mem_limit", "17179869184", "8589934592",
           "above the host's memory (8589934592 bytes)");
    assert_string_equal(at(r.svc, "mem_reservation"), "1073741824");
    assert_string_equal(at(r.svc, "deploy.resources.reservations.cpus"), "1");
    /* the adapted values keep the model's types */
    assert_int_equal(zp_node_get(r.svc, "cpus")->type, ZP_FLOAT);
    assert_int_equal(zp_node_get(r.svc, "mem_limit")->type, ZP_INT);
    done(&r);
}

/* One CPU: limits halved, reservations to 0.4 of what was written. */
static void test_single_core(void **state)
{
    (void)state;
    struct adapted r;
    adapt(&r, all_fields, 1, 16 * GIB, true);
    assert_int_equal(r.n, 7);
    const char *halved = "single-core host: limits halved";
    const char *scaled = "single-core host: reservations scaled to 0.4";
    expect(&r, "cpus", "0.5", "0.25", halved);
    expect(&r, "deploy.resources.limits.cpus", "0.5", "0.25", halved);
    expect(&r, "mem_limit", "1073741824", "536870912", halved);
    expect(&r, "deploy.resources.limits.memory", "1073741824", "536870912", halved);
    expect(&r, "mem_reservation", "524288000", "209715200", scaled);
    expect(&r, "deploy.resources.reservations.memory", "524288000", "209715200", scaled);
    /* 0.3 * 0.4 prints as 0.12, not 0.12000000000000001 */
    expect(&r, "deploy.resources.reservations.cpus", "0.3", "0.12", scaled);
    done(&r);
}

/* One CPU with !adapt: the clamp only. */
static void test_single_core_not_adapted(void **state)
{
    (void)state;
    struct adapted r;
    adapt(&r, "cpus: 2\nmem_limit: 1073741824\nmem_reservation: 524288000\n", 1, 16 * GIB, false);
    assert_int_equal(r.n, 1);
    expect(&r, "cpus", "2", "1", "above the host's 1 CPU");
    assert_string_equal(at(r.svc, "mem_limit"), "1073741824");
    assert_string_equal(at(r.svc, "mem_reservation"), "524288000");
    done(&r);
}

/* One CPU and a memory limit above the host: clamped, then halved, so it ends at most half
 * the host's memory; both reasons are given. */
static void test_single_core_memory_cap(void **state)
{
    (void)state;
    struct adapted r;
    adapt(&r, "cpus: 3\nmem_limit: 68719476736\n", 1, 2 * GIB, true);
    assert_int_equal(r.n, 2);
    expect(&r, "cpus", "3", "0.5", "above the host's 1 CPU; single-core host: limits halved");
    expect(&r, "mem_limit", "68719476736", "1073741824",
           "above the host's memory (2147483648 bytes); single-core host: limits halved");
    done(&r);
}

/* A reservation above its limit after the limit was clamped is lowered to the limit. */
static void test_reservation_above_limit_after_clamp(void **state)
{
    (void)state;
    struct adapted r;
    adapt(&r,
          "deploy: {resources: {limits: {cpus: 8, memory: 17179869184},"
          " reservations: {cpus: 6, memory: 12884901888}}}\n",
          4, 8 * GIB, true);
    assert_int_equal(r.n, 4);
    expect(&r, "deploy.resources.limits.memory", "17179869184", "8589934592",
           "above the host's memory (8589934592 bytes)");
    expect(&r, "deploy.resources.reservations.memory", "12884901888", "8589934592",
           "above the limit deploy.resources.limits.memory");
    expect(&r, "deploy.resources.limits.cpus", "8", "4", "above the host's 4 CPUs");
    expect(&r, "deploy.resources.reservations.cpus", "6", "4",
           "above the limit deploy.resources.limits.cpus");
    done(&r);
}

/* ... and after scaling on one CPU, when it was written above its limit. */
static void test_reservation_above_limit_after_scaling(void **state)
{
    (void)state;
    struct adapted r;
    adapt(&r, "mem_limit: 104857600\nmem_reservation: 314572800\n", 1, 16 * GIB, true);
    assert_int_equal(r.n, 2);
    expect(&r, "mem_limit", "104857600", "52428800", "single-core host: limits halved");
    expect(&r, "mem_reservation", "314572800", "52428800",
           "single-core host: reservations scaled to 0.4; above the limit mem_limit");
    done(&r);
}

/* Scaling stops at the engine's minimums (0.01 CPU, 6 MiB); values written below them are
 * left alone; 0 (no limit) is never touched. */
static void test_floors_and_zero(void **state)
{
    (void)state;
    struct adapted r;
    adapt(&r, "cpus: 0.01\nmem_limit: 8388608\nmem_reservation: 4194304\n", 1, 16 * GIB, true);
    assert_int_equal(r.n, 1);
    expect(&r, "mem_limit", "8388608", "6291456", "single-core host: limits halved");
    assert_string_equal(at(r.svc, "cpus"), "0.01");
    assert_string_equal(at(r.svc, "mem_reservation"), "4194304");
    done(&r);

    adapt(&r, "cpus: 0\nmem_limit: 0\n", 1, GIB, true);
    assert_int_equal(r.n, 0);
    assert_string_equal(at(r.svc, "cpus"), "0");
    done(&r);
}

/* An unknown host (no /info numbers) changes nothing through the clamp. */
static void test_unknown_host(void **state)
{
    (void)state;
    struct adapted r;
    adapt(&r, "cpus: 64\nmem_limit: 68719476736\n", 0, 0, true);
    assert_int_equal(r.n, 0);
    done(&r);
}

/* orch_limits_use_host says when `up` must ask the engine for its CPUs and memory: with
 * any of the seven limits; without them the host changes nothing (so not asking is safe). */
static void test_use_host(void **state)
{
    (void)state;
    static const char *const with[] = {
        "image: x\ncpus: 1.5\n",
        "image: x\nmem_limit: 1048576\n",
        "image: x\nmem_reservation: 1048576\n",
        "image: x\ndeploy: {resources: {limits: {cpus: 0.5}}}\n",
        "image: x\ndeploy: {resources: {limits: {memory: 1048576}}}\n",
        "image: x\ndeploy: {resources: {reservations: {cpus: 0.5}}}\n",
        "image: x\ndeploy: {resources: {reservations: {memory: 1048576}}}\n",
    };
    for (size_t i = 0; i < sizeof(with) / sizeof(with[0]); i++) {
        struct zp_node *svc = svc_of(with[i]);
        if (!orch_limits_use_host(svc))
            fail_msg("orch_limits_use_host false for:\n%s", with[i]);
        zp_node_free(svc);
    }
    static const char without[] = "image: x\ndeploy: {replicas: 2, resources: {}}\n";
    struct zp_node *svc = svc_of(without);
    assert_false(orch_limits_use_host(svc));
    const int64_t hosts[][2] = {{0, 0}, {1, 512 * MIB}, {2, GIB}, {64, 256 * GIB}};
    for (size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++) {
        struct adapted r;
        adapt(&r, without, hosts[h][0], hosts[h][1], true);
        assert_int_equal(r.n, 0);
        assert_true(zp_node_equal(svc, r.svc));
        done(&r);
    }
    zp_node_free(svc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_limits),
        cmocka_unit_test(test_two_cpus_within),
        cmocka_unit_test(test_two_cpus_only_clamps),
        cmocka_unit_test(test_single_core),
        cmocka_unit_test(test_single_core_not_adapted),
        cmocka_unit_test(test_single_core_memory_cap),
        cmocka_unit_test(test_reservation_above_limit_after_clamp),
        cmocka_unit_test(test_reservation_above_limit_after_scaling),
        cmocka_unit_test(test_floors_and_zero),
        cmocka_unit_test(test_unknown_host),
        cmocka_unit_test(test_use_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

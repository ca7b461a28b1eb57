/* Unit tests for orchestrator/swarm's mapping of a service to a Swarm ServiceSpec
 * (orch__swarm_spec_json: pure): the fields Swarm honours, global mode, the refusal of
 * a port's host_ip (with its position), and the two hashes (scaling changes the service's, not the
 * tasks'; a new config changes both). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/orchestrator-int.h"
#include "orchestrator/swarm.h"
#include "util/util.h"

#define DATA ZP_TEST_DATA "/orchestrator/swarm"

static char *const test_env[] = {(char *)"PATH=/usr/bin:/bin", (char *)"HOME=/nonexistent", NULL};

static struct compose_project *load(void)
{
    char *path = zp_asprintf("%s/app.yaml", DATA);
    const char *files[] = {path};
    struct compose_options o = {.files = files, .nfiles = 1, .environ = test_env, .cwd = DATA};
    struct compose_project *p = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = compose_project_load(&o, &p, &d);
    for (size_t i = 0; rc != 0 && i < d.n; i++)
        print_error("%s\n", d.items[i].msg);
    zp_diags_release(&d);
    free(path);
    assert_int_equal(rc, 0);
    return p;
}

static struct orch__swarm_obj configs[] = {{(char *)"app", (char *)"sw_app_aaaa", (char *)"c1"}};
static struct orch__swarm_obj configs2[] = {{(char *)"app", (char *)"sw_app_bbbb", (char *)"c2"}};
static struct orch__swarm_obj secrets[] = {{(char *)"pw", (char *)"sw_pw_cccc", (char *)"s1"}};

static void has(const char *json, const char *part)
{
    if (!strstr(json, part))
        fail_msg("%s\nlacks\n%s", json, part);
}

static void test_web_spec(void **state)
{
    (void)state;
    struct compose_project *p = load();
    struct zp_err err;
    zp_err_init(&err);
    char *j = NULL, h[65], th[65];
    assert_int_equal(orch__swarm_spec_json(p, "web", "sha256:img", -1, 41, configs, 1, secrets, 1,
                                           &j, h, th, &err),
                     0);
    has(j, "\"Name\":\"sw_web\"");
    has(j, "\"io.zpanel.project\":\"sw\"");
    has(j, "\"io.zpanel.service\":\"web\"");
    has(j, "\"tier\":\"front\"");
    has(j, "\"Image\":\"img:1\"");
    has(j, "\"role\":\"web\"");
    has(j, "\"Args\":[\"httpd\",\"-f\"]");
    has(j, "\"Env\":[\"A=b\"]");
    has(j, "\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"sw_data\",\"Target\":\"/data\"}]");
    has(j, "\"ConfigID\":\"c1\",\"ConfigName\":\"sw_app_aaaa\"");
    has(j, "\"Name\":\"/etc/app.conf\"");
    has(j, "\"SecretID\":\"s1\",\"SecretName\":\"sw_pw_cccc\"");
    has(j, "\"Name\":\"/run/secrets/pw\"");
    has(j, "\"HealthCheck\":{\"Test\":[\"CMD\",\"true\"],\"Interval\":1000000000,\"Retries\":2}");
    has(j, "\"Limits\":{\"NanoCPUs\":500000000,\"MemoryBytes\":67108864}");
    has(j, "\"RestartPolicy\":{\"Condition\":\"on-failure\",\"MaxAttempts\":3}");
    has(j, "\"Constraints\":[\"node.role==manager\"]");
    has(j, "\"Preferences\":[{\"Spread\":{\"SpreadDescriptor\":\"node.labels.zone\"}}]");
    has(j, "\"Networks\":[{\"Target\":\"sw_front\",\"Aliases\":[\"web\"]}]");
    has(j, "\"Mode\":{\"Replicated\":{\"Replicas\":2}}");
    has(j, "\"UpdateConfig\":{\"Parallelism\":1,\"FailureAction\":\"rollback\",\"Monitor\":"
           "5000000000,\"Order\":\"start-first\"}");
    has(j, "\"RollbackConfig\":{\"Order\":\"stop-first\"}");
    has(j, "\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,"
           "\"PublishedPort\":8080,\"PublishMode\":\"ingress\"}]}");
    /* the containers carry the tasks' hash, the service its own */
    char *want = zp_asprintf("\"io.zpanel.config-hash\":\"%s\"", th);
    has(j, want);
    free(want);
    want = zp_asprintf("\"io.zpanel.config-hash\":\"%s\"", h);
    has(j, want);
    free(want);
    assert_string_not_equal(h, th);
    free(j);

    /* the same input: the same hashes */
    char h2[65], th2[65];
    assert_int_equal(orch__swarm_spec_json(p, "web", "sha256:img", -1, 41, configs, 1, secrets, 1,
                                           &j, h2, th2, &err),
                     0);
    free(j);
    assert_string_equal(h, h2);
    assert_string_equal(th, th2);
    /* --scale: the service changes, its tasks do not */
    assert_int_equal(orch__swarm_spec_json(p, "web", "sha256:img", 3, 41, configs, 1, secrets, 1,
                                           &j, h2, th2, &err),
                     0);
    has(j, "\"Mode\":{\"Replicated\":{\"Replicas\":3}}");
    free(j);
    assert_string_not_equal(h, h2);
    assert_string_equal(th, th2);
    /* new config content (a new name): both change */
    assert_int_equal(orch__swarm_spec_json(p, "web", "sha256:img", -1, 41, configs2, 1, secrets, 1,
                                           &j, h2, th2, &err),
                     0);
    free(j);
    assert_string_not_equal(h, h2);
    assert_string_not_equal(th, th2);
    /* a new image: both change */
    assert_int_equal(orch__swarm_spec_json(p, "web", "sha256:other", -1, 41, configs, 1, secrets, 1,
                                           &j, h2, th2, &err),
                     0);
    free(j);
    assert_string_not_equal(th, th2);
    compose_project_free(p);
}

static void test_global_and_refusals(void **state)
{
    (void)state;
    struct compose_project *p = load();
    struct zp_err err;
    zp_err_init(&err);
    char *j = NULL, h[65], th[65];
    assert_int_equal(
        orch__swarm_spec_json(p, "agent", NULL, -1, 41, NULL, 0, NULL, 0, &j, h, th, &err), 0);
    has(j, "\"Mode\":{\"Global\":{}}");
    has(j, "\"Networks\":[{\"Target\":\"sw_default\",\"Aliases\":[\"agent\"]}]");
    free(j);
    assert_int_equal(
        orch__swarm_spec_json(p, "ranged", NULL, -1, 41, NULL, 0, NULL, 0, &j, h, th, &err),
        ZP_E_INPUT);
    assert_non_null(
        strstr(err.msg, "services.ranged.ports[0].host_ip: Swarm publishes on every address"));
    assert_true(err.pos.line > 0);
    zp_err_init(&err);
    assert_int_equal(
        orch__swarm_spec_json(p, "nope", NULL, -1, 41, NULL, 0, NULL, 0, &j, h, th, &err),
        ZP_E_NOTFOUND);
    compose_project_free(p);
}

/* healthcheck.start_interval reaches the service's HealthCheck from API 1.44 on, and is
 * refused on an older engine (which would drop it without a word) */
static void test_start_interval_spec(void **state)
{
    (void)state;
    struct compose_project *p = load();
    struct zp_node *web = zp_node_get(zp_node_get(p->model, "services"), "web");
    zp_node_set(zp_node_get(web, "healthcheck"), "start_interval", zp_node_new_str("2s", NULL));
    struct zp_err err;
    zp_err_init(&err);
    char *j = NULL, h[65], th[65];
    assert_int_equal(orch__swarm_spec_json(p, "web", "sha256:img", -1, 44, configs, 1, secrets, 1,
                                           &j, h, th, &err),
                     0);
    has(j, "\"StartInterval\":2000000000");
    free(j);
    j = NULL;
    assert_int_equal(orch__swarm_spec_json(p, "web", "sha256:img", -1, 41, configs, 1, secrets, 1,
                                           &j, h, th, &err),
                     ZP_E_INPUT);
    assert_null(j);
    assert_string_equal(err.msg, "services.web.healthcheck.start_interval: needs the engine's API "
                                 "1.44 (Docker 25) or newer; this engine speaks 1.41");
    compose_project_free(p);
}

/* a routed service joins the project's proxy network and carries its routes label */
static void test_routed_spec(void **state)
{
    (void)state;
    struct compose_project *p = load();
    struct zp_err err;
    zp_err_init(&err);
    char *j = NULL, h[65], th[65];
    assert_int_equal(
        orch__swarm_spec_json(p, "api", NULL, -1, 41, NULL, 0, NULL, 0, &j, h, th, &err), 0);
    has(j, "\"Networks\":[{\"Target\":\"sw_default\",\"Aliases\":[\"api\"]},{\"Target\":\"zpanel-"
           "sw\"}]");
    has(j, "\"io.zpanel.routes\":\"{");
    has(j, "api.example.com");
    /* its updates start the new task first (Swarm's default would stop the old one first),
     * the rest as Swarm's defaults */
    has(j, "\"UpdateConfig\":{\"Parallelism\":1,\"FailureAction\":\"pause\",\"Monitor\":5000000000,"
           "\"Order\":\"start-first\"}");
    free(j);
    /* an unrouted one does not */
    assert_int_equal(
        orch__swarm_spec_json(p, "agent", NULL, -1, 41, NULL, 0, NULL, 0, &j, h, th, &err), 0);
    assert_null(strstr(j, "zpanel-sw"));
    assert_null(strstr(j, "io.zpanel.routes"));
    assert_null(strstr(j, "start-first"));
    free(j);
    compose_project_free(p);
}

/* health: why a service is not healthy */
static void test_service_problem(void **state)
{
    (void)state;
    struct orch_swarm_service s = {
        .running = 2, .desired = 2, .update_state = (char *)"", .update_message = (char *)""};
    assert_null(orch_swarm_service_problem(&s));
    s.update_state = (char *)"rollback_completed"; /* rolled back, but running: healthy */
    assert_null(orch_swarm_service_problem(&s));
    s.running = 1;
    char *why = orch_swarm_service_problem(&s);
    assert_string_equal(why, "1 of 2 tasks running (healthy)");
    free(why);
    s.update_state = (char *)"paused";
    s.update_message = (char *)"update paused due to failure";
    why = orch_swarm_service_problem(&s);
    assert_string_equal(why, "update paused: update paused due to failure");
    free(why);
    s.update_state = (char *)"";
    s.running = s.desired = 0;
    why = orch_swarm_service_problem(&s);
    assert_string_equal(why, "no task desired (scaled to 0)");
    free(why);
}

/* where a built image is pushed */
static void test_push_repo(void **state)
{
    (void)state;
    const char *cases[][3] = {
        {"reg:5000", "shop-web", "reg:5000/shop-web"},
        {"reg:5000/", "shop-web:1.2", "reg:5000/shop-web"},
        {"reg:5000", "reg:5000/team/web:v1", "reg:5000/team/web"},
        {"127.0.0.1:5000", "localhost:5000/web", "127.0.0.1:5000/localhost:5000/web"},
        {"reg.example.com/team", "web", "reg.example.com/team/web"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *r = orch__swarm_push_repo(cases[i][0], cases[i][1]);
        assert_string_equal(r, cases[i][2]);
        free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_web_spec),        cmocka_unit_test(test_global_and_refusals),
        cmocka_unit_test(test_routed_spec),     cmocka_unit_test(test_start_interval_spec),
        cmocka_unit_test(test_service_problem), cmocka_unit_test(test_push_repo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

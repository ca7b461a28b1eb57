/* Unit tests for the Swarm decision of the release workflows (release.h, "Swarm
 * projects"), the library path that the server's deploy/rollback jobs and the CLI share,
 * against the engine suites' fake engine (recorded answers, tests/data/engine/): a deploy
 * of files that don't ask for Swarm is refused when the project runs as services, an
 * update of a Swarm project takes the Swarm path (never the containers'), and a
 * multi-node swarm refuses an image built here without x-zpanel.registry; and a no-op
 * deploy on an engine that is no manager costs four requests. Every test checks the
 * exact requests: no container is ever created beside the services. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_engine.h"
#include "orchestrator/orchestrator.h"
#include "orchestrator/snapshot.h"
#include "orchestrator/swarm.h"
#include "release/release.h"
#include "util/util.h"

#define DATA ZP_TEST_DATA "/release/swarm"

static char *const test_env[] = {(char *)"PATH=/usr/bin:/bin", (char *)"HOME=/nonexistent", NULL};

static struct compose_project *load(const char *file)
{
    char *path = zp_asprintf("%s/%s", DATA, file);
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

static char state_dir[64];

static int setup(void **state)
{
    snprintf(state_dir, sizeof(state_dir), "/tmp/zp-swarm-release-XXXXXX");
    if (!mkdtemp(state_dir))
        return -1;
    return fake_start(state);
}

static int teardown(void **state)
{
    char *cmd = zp_asprintf("rm -rf '%s'", state_dir);
    int rc = system(cmd);
    free(cmd);
    (void)rc;
    return fake_stop(state);
}

static struct orch *session(struct compose_project *p)
{
    struct orch *o = NULL;
    struct zp_err err;
    zp_err_init(&err);
    if (orch_new(p, fake_host(), NULL, NULL, &o, &err) != 0)
        fail_msg("orch_new: %s", err.msg);
    return o;
}

static void dump_log(void)
{
    char *log = fake_log();
    print_message("requests:\n%s", log);
    free(log);
}

/* a swarm manager: GET /swarm answers (a node that is none answers 503) */
#define INFO_ROUTE                                                                                 \
    {"GET", "/v1.41/info", 200, "swarm_info.json", NULL, FAKE_PLAIN},                              \
    {                                                                                              \
        "GET", "/v1.41/swarm", 200, NULL, "{\"ID\":\"zprecswarm\"}", FAKE_PLAIN                    \
    }
#define SERVICES_TARGET                                                                            \
    "/v1.41/"                                                                                      \
    "services?filters=%7B%22label%22%3A%5B%22io.zpanel.project%3Dzprec%22%5D%7D&status=true"

static void assert_no_container_call(void)
{
    char *log = fake_log();
    if (strstr(log, "/containers/create") || strstr(log, "/start") ||
        strstr(log, "POST /v1.41/build"))
        fail_msg("containers created, started or images built beside the services:\n%s", log);
    free(log);
}

static void assert_no_release(void)
{
    struct store_release *rs = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(release_list(state_dir, "zprec", &rs, &n, &err), 0);
    assert_int_equal(n, 0);
    store_releases_free(rs, n);
}

/* The server's deploy job (release_deploy) of files that don't ask for Swarm, while the
 * project runs as Swarm services on the engine: refused before anything changes. */
static void test_deploy_refused_beside_services(void **state)
{
    (void)state;
    static const struct route routes[] = {
        VERSION_ROUTE,
        INFO_ROUTE,
        {"GET", SERVICES_TARGET, 200, "swarm_services.json", NULL, FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct compose_project *p = load("plain.yaml");
    struct orch *o = session(p);
    struct orch_up_opts uo;
    memset(&uo, 0, sizeof(uo));
    uo.wait = true;
    uo.remove_orphans = true;
    struct release_opts ro = {.state_dir = state_dir, .host = fake_host()};
    struct release_result res;
    struct zp_err err;
    zp_err_init(&err);
    int rc = release_deploy(o, p, &uo, &ro, &res, &err);
    if (rc != ZP_E_CONFLICT)
        dump_log();
    assert_int_equal(rc, ZP_E_CONFLICT);
    assert_non_null(strstr(err.msg, "project 'zprec' runs as Swarm services on this engine"));
    assert_int_equal(res.outcome, RELEASE_NOT_RECORDED);
    assert_no_container_call();
    assert_no_release();
    /* the decision the CLI's ps/logs/update make: a Swarm project, though the files don't say */
    bool swarm = false;
    assert_int_equal(orch_swarm_project(o, &swarm, &err), 0);
    assert_true(swarm);
    release_result_release(&res);
    orch_free(o);
    compose_project_free(p);
}

/* An update (the server's and the CLI's release_update) of a project that runs as Swarm
 * services takes the Swarm path even when its files don't say so: here the engine left
 * the swarm meanwhile, so it is Swarm's refusal, with what to do, and nothing else. */
static void test_update_takes_swarm_path(void **state)
{
    (void)state;
    static const struct route routes[] = {
        VERSION_ROUTE,
        {"GET", "/v1.41/info", 200, NULL,
         "{\"Swarm\":{\"LocalNodeState\":\"inactive\",\"ControlAvailable\":false,\"Nodes\":0}}",
         FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct compose_project *p = load("swarm.yaml");
    struct orch *o = session(p);
    struct release_opts ro = {.state_dir = state_dir, .host = fake_host()};
    struct release_result res;
    struct zp_err err;
    zp_err_init(&err);
    int rc = release_update(o, p, NULL, 0, &ro, &res, &err);
    if (rc != ZP_E_ENGINE)
        dump_log();
    assert_int_equal(rc, ZP_E_ENGINE);
    assert_non_null(strstr(err.msg, "is not a Swarm manager (Swarm state: inactive): run `zpanel "
                                    "swarm init`"));
    assert_no_container_call();
    assert_no_release();
    release_result_release(&res);
    orch_free(o);
    compose_project_free(p);
}

/* A no-op deploy (`up -d --wait` of a project whose one container runs what the files
 * say) on an engine that is no Swarm manager: four requests, one list of the project's
 * containers (the release record's snapshot, which the plan reuses), no GET /version nor
 * GET /info (the engine runs helpers to answer those), no change, no release. */
static void test_noop_deploy_requests(void **state)
{
    (void)state;
    struct compose_project *p = load("plain.yaml");
    static const char image_id[] =
        "sha256:824b55f2fa96271a040acc4b173c068a7ea15b9f981cfbe5b9e96dc67a5470c5";
    char hash[65];
    struct zp_err err;
    zp_err_init(&err);
    /* the hash the running container carries: what `up` computes (another session) */
    static const struct route connect[] = {VERSION_ROUTE};
    fake_routes(connect, N(connect));
    struct orch *o = session(p);
    const struct zp_node *web = zp_node_get(zp_node_get(p->model, "services"), "web");
    assert_int_equal(orch_snap_config_hash(o, "web", web, image_id, false, hash, &err), 0);
    orch_free(o);
    char *list = zp_asprintf(
        "[{\"Id\":\"cd08f115a14743c5493ca03dfbc71af53abc121e13a37480f816079af6e9591c\","
        "\"Names\":[\"/zprec-web-1\"],\"Image\":\"img:1\",\"ImageID\":\"%s\","
        "\"Created\":1795465112,\"Ports\":[],\"Labels\":{\"io.zpanel.project\":\"zprec\","
        "\"io.zpanel.service\":\"web\",\"io.zpanel.number\":\"1\","
        "\"io.zpanel.config-hash\":\"%s\"},\"State\":\"running\","
        "\"Status\":\"Up 5 minutes\"}]",
        image_id, hash);
    char *image = zp_asprintf("{\"Id\":\"%s\"}", image_id);
    const struct route routes[] = {
        VERSION_ROUTE,
        {"GET", "/v1.41/swarm", 503, NULL, "{\"message\":\"This node is not a swarm manager.\"}",
         FAKE_PLAIN},
        {"GET",
         "/v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22io.zpanel.project%3Dzprec%"
         "22%5D%7D",
         200, NULL, list, FAKE_PLAIN},
        {"GET", "/v1.41/images/img:1/json", 200, NULL, image, FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    o = session(p);
    struct orch_up_opts uo;
    memset(&uo, 0, sizeof(uo));
    uo.wait = true;
    struct release_opts ro = {.state_dir = state_dir, .host = fake_host()};
    struct release_result res;
    int rc = release_deploy(o, p, &uo, &ro, &res, &err);
    if (rc != 0)
        print_error("%s\n", err.msg);
    char *log = fake_log();
    assert_string_equal(log, "GET /_ping \n"
                             "GET /v1.41/swarm \n"
                             "GET /v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22io."
                             "zpanel.project%3Dzprec%22%5D%7D \n"
                             "GET /v1.41/images/img:1/json \n");
    free(log);
    assert_int_equal(rc, 0);
    assert_true(orch_up_unchanged(o));
    assert_int_equal(res.outcome, RELEASE_NOT_RECORDED);
    assert_no_release();
    release_result_release(&res);
    orch_free(o);
    compose_project_free(p);
    free(list);
    free(image);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deploy_refused_beside_services),
        cmocka_unit_test(test_update_takes_swarm_path),
        cmocka_unit_test(test_noop_deploy_requests),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests for the Swarm decision of the release workflows (release.h, "Swarm
 * projects"), the library path that the server's deploy/rollback jobs and the CLI share,
 * against the engine suites' fake engine (recorded answers, tests/data/engine/): a deploy
 * of files that don't ask for Swarm is refused when the project runs as services, an
 * update of a Swarm project takes the Swarm path (never the containers'), and a
 * multi-node swarm refuses an image built here without x-zpanel.registry. Every test
 * checks the exact requests: no container is ever created beside the services. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deploy_refused_beside_services),
        cmocka_unit_test(test_update_takes_swarm_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

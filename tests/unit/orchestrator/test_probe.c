/* Unit tests for a dependency gate's early readiness probes (orchestrator/probe.c) against
 * the engine suites' fake engine: the healthcheck's test runs as a detached exec whose
 * exit is polled; a pass opens the gate, a failure is retried with a backoff, an engine
 * that refuses execs is left to its own verdicts, and one hanging probe does not hold up
 * another container's. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "compose/node.h"
#include "fake_engine.h"
#include "load.h"
#include "orchestrator/orchestrator-int.h"
#include "util/util.h"

static const char yaml[] = "services:\n"
                           "  db:\n"
                           "    image: busybox\n"
                           "    healthcheck:\n"
                           "      test: [\"CMD\", \"test\", \"-f\", \"/ready\"]\n"
                           "      timeout: 30s\n"
                           "  cache:\n"
                           "    image: busybox\n"
                           "    healthcheck:\n"
                           "      test: [\"CMD-SHELL\", \"redis-cli ping | grep -q PONG\"]\n"
                           "  plain:\n"
                           "    image: busybox\n"
                           "    healthcheck:\n"
                           "      test: [\"NONE\"]\n";

#define EXEC_OK "{\"ID\":\"x\",\"Running\":false,\"ExitCode\":0}"
#define EXEC_FAILED "{\"ID\":\"x\",\"Running\":false,\"ExitCode\":1}"
#define EXEC_RUNNING "{\"ID\":\"x\",\"Running\":true,\"ExitCode\":0}"
/* A probe's three requests in container cid: the exec xid, its start, its state. */
#define EXEC_ROUTES(cid, xid, state)                                                               \
    {"POST", "/v1.41/containers/" cid "/exec", 201, NULL, "{\"Id\":\"" xid "\"}", FAKE_PLAIN},     \
        {"POST", "/v1.41/exec/" xid "/start", 200, NULL, "", FAKE_PLAIN},                          \
    {                                                                                              \
        "GET", "/v1.41/exec/" xid "/json", 200, NULL, state, FAKE_PLAIN                            \
    }

struct session {
    struct compose_project *p;
    struct orch *o;
    struct orch_probes *probes;
};

/* A session against the fake serving routes. */
static void session_open(struct session *s, const struct route *routes, size_t nroutes)
{
    fake_routes(routes, nroutes);
    s->p = orcht_load_yaml("pr", yaml);
    struct zp_err err;
    zp_err_init(&err);
    if (orch_new(s->p, fake_host(), NULL, NULL, &s->o, &err) != 0)
        fail_msg("orch_new: %s", err.msg);
    s->probes = orch__probes_new(s->o);
}

static void session_close(struct session *s)
{
    orch__probes_free(s->probes);
    orch_free(s->o);
    compose_project_free(s->p);
}

static const struct zp_node *healthcheck(const struct session *s, const char *service)
{
    const struct zp_node *svc = zp_node_get(zp_node_get(s->p->model, "services"), service);
    assert_non_null(svc);
    return zp_node_get(svc, "healthcheck");
}

/* Ask whether container id's probe passed, as the scheduler does (o->lock held). */
static bool passed(struct session *s, const char *id, const char *service)
{
    pthread_mutex_lock(&s->o->lock);
    bool r = orch__probe_passed(s->probes, id, healthcheck(s, service));
    pthread_mutex_unlock(&s->o->lock);
    return r;
}

/* Ask until the probe passes, up to about 5 s (bounded). */
static bool passes_soon(struct session *s, const char *id, const char *service)
{
    for (int i = 0; i < 500; i++) {
        if (passed(s, id, service))
            return true;
        zp_sleep_ms(10);
    }
    return false;
}

/* How often the request log holds text. */
static int count(const char *text)
{
    char *log = fake_log();
    int n = 0;
    for (const char *q = strstr(log, text); q != NULL; q = strstr(q + 1, text))
        n++;
    free(log);
    return n;
}

/* The test's argv goes into the exec (detached), the polled exit 0 opens the gate. */
static void test_pass_opens_the_gate(void **state)
{
    (void)state;
    static const struct route routes[] = {
        VERSION_ROUTE,
        EXEC_ROUTES("c1", "x1", EXEC_OK),
    };
    struct session s;
    session_open(&s, routes, N(routes));
    assert_false(passed(&s, "c1", "db")); /* the first ask only queues the probe */
    assert_true(passes_soon(&s, "c1", "db"));
    assert_int_equal(count("\"Cmd\":[\"test\",\"-f\",\"/ready\"]"), 1);
    assert_int_equal(count("POST /v1.41/exec/x1/start {\"Detach\":true"), 1);
    int execs = count("POST /v1.41/containers/c1/exec");
    zp_sleep_ms(300);
    assert_int_equal(count("POST /v1.41/containers/c1/exec"), execs); /* no more once passed */
    session_close(&s);
}

/* A failing test keeps the gate closed and runs again, at once and then after 0.1, 0.2,
 * 0.4 s...: about four runs in the first 0.9 s, never a busy loop. */
static void test_failure_retried_with_backoff(void **state)
{
    (void)state;
    static const struct route routes[] = {
        VERSION_ROUTE,
        EXEC_ROUTES("c1", "x1", EXEC_FAILED),
    };
    struct session s;
    session_open(&s, routes, N(routes));
    assert_false(passed(&s, "c1", "db"));
    zp_sleep_ms(900);
    assert_false(passed(&s, "c1", "db"));
    int execs = count("POST /v1.41/containers/c1/exec");
    assert_true(execs >= 2);
    assert_true(execs <= 6);
    session_close(&s);
}

/* Once the engine has its own verdict the gate forgets the probe: no exec follows. */
static void test_forget_stops_probing(void **state)
{
    (void)state;
    static const struct route routes[] = {
        VERSION_ROUTE,
        EXEC_ROUTES("c1", "x1", EXEC_FAILED),
    };
    struct session s;
    session_open(&s, routes, N(routes));
    assert_false(passed(&s, "c1", "db"));
    for (int i = 0; i < 200 && count("GET /v1.41/exec/x1/json") == 0; i++)
        zp_sleep_ms(10); /* the first run failed (or is failing) */
    pthread_mutex_lock(&s.o->lock);
    orch__probe_forget(s.probes, "c1");
    pthread_mutex_unlock(&s.o->lock);
    zp_sleep_ms(300); /* a run under way ends */
    int execs = count("POST /v1.41/containers/c1/exec");
    zp_sleep_ms(600); /* retries would come after 0.1, 0.2 s and so on */
    assert_int_equal(count("POST /v1.41/containers/c1/exec"), execs);
    session_close(&s);
}

/* CMD-SHELL runs through /bin/sh -c, as the engine runs it. */
static void test_shell_form(void **state)
{
    (void)state;
    static const struct route routes[] = {
        VERSION_ROUTE,
        EXEC_ROUTES("c2", "x2", EXEC_OK),
    };
    struct session s;
    session_open(&s, routes, N(routes));
    assert_true(passes_soon(&s, "c2", "cache"));
    assert_int_equal(count("\"Cmd\":[\"/bin/sh\",\"-c\",\"redis-cli ping | grep -q PONG\"]"), 1);
    session_close(&s);
}

/* No test the engine would run (NONE): no probe, no request, the engine decides. */
static void test_no_test_no_probe(void **state)
{
    (void)state;
    static const struct route routes[] = {VERSION_ROUTE};
    struct session s;
    session_open(&s, routes, N(routes));
    assert_false(passed(&s, "c3", "plain"));
    zp_sleep_ms(200);
    assert_false(passed(&s, "c3", "plain"));
    assert_int_equal(count("exec"), 0);
    session_close(&s);
}

/* An engine that refuses the exec (say, the container is gone) three times: the probe
 * gives up and leaves the gate to the engine's own verdicts. */
static void test_refused_gives_up(void **state)
{
    (void)state;
    static const struct route routes[] = {
        VERSION_ROUTE,
        {"POST", "/v1.41/containers/c1/exec", 409, NULL,
         "{\"message\":\"Container c1 is not running\"}", FAKE_PLAIN},
    };
    struct session s;
    session_open(&s, routes, N(routes));
    assert_false(passed(&s, "c1", "db"));
    zp_sleep_ms(1200); /* 0 + 0.1 + 0.2 s for the three refusals, then nothing */
    assert_false(passed(&s, "c1", "db"));
    assert_int_equal(count("POST /v1.41/containers/c1/exec"), 3);
    session_close(&s);
}

/* A probe that hangs (the exec never exits within its 30 s timeout) in one container does
 * not hold up another container's: parallel chains' gates do not queue behind each other.
 * Freeing the probes stops the hanging one's wait. */
static void test_hanging_probe_does_not_block_another(void **state)
{
    (void)state;
    static const struct route routes[] = {
        VERSION_ROUTE,
        EXEC_ROUTES("slow", "xs", EXEC_RUNNING),
        EXEC_ROUTES("fast", "xf", EXEC_OK),
    };
    struct session s;
    session_open(&s, routes, N(routes));
    assert_false(passed(&s, "slow", "db"));
    for (int i = 0; i < 200 && count("GET /v1.41/exec/xs/json") == 0; i++)
        zp_sleep_ms(10); /* the slow probe is running */
    assert_true(count("GET /v1.41/exec/xs/json") > 0);
    assert_true(passes_soon(&s, "fast", "db"));
    assert_false(passed(&s, "slow", "db"));
    session_close(&s); /* returns although the slow exec still "runs" */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_opens_the_gate),
        cmocka_unit_test(test_failure_retried_with_backoff),
        cmocka_unit_test(test_forget_stops_probing),
        cmocka_unit_test(test_shell_form),
        cmocka_unit_test(test_no_test_no_probe),
        cmocka_unit_test(test_refused_gives_up),
        cmocka_unit_test(test_hanging_probe_does_not_block_another),
    };
    return cmocka_run_group_tests(tests, fake_start, fake_stop);
}

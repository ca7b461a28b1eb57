/* Unit tests for the orchestrator's plan: desired hashes and replicas against observed
 * containers (handmade, and a container list recorded from a real engine under
 * tests/data/orchestrator/observed/). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine-int.h"
#include "orchestrator/orchestrator-int.h"
#include "load.h"
#include "util/util.h"

/* A handmade observed container. */
struct fake {
    const char *name, *service, *hash, *state;
    int number;
    bool oneoff;
    int64_t created;
};

static void observed(const struct fake *f, size_t n, struct orch_observed *ret)
{
    ret->c = zp_calloc(n + 1, sizeof(*ret->c));
    ret->nc = n;
    for (size_t i = 0; i < n; i++) {
        struct orch_obs_container *c = &ret->c[i];
        c->id = zp_asprintf("id-%s", f[i].name);
        c->name = zp_strdup(f[i].name);
        c->service = zp_strdup(f[i].service);
        c->hash = zp_strdup(f[i].hash);
        c->state = zp_strdup(f[i].state);
        c->image = zp_strdup("img");
        c->number = f[i].number;
        c->oneoff = f[i].oneoff;
        c->created = f[i].created;
    }
}

/* "kind:number[:observed name]" per item, space-separated. */
static char *steps(const struct orch_plan *p, const struct orch_graph *g,
                   const struct orch_observed *obs, const char *service)
{
    long i = orch__graph_find(g, service);
    assert_true(i >= 0);
    struct zp_buf b = ZP_BUF_INIT;
    const struct orch_svc_plan *sp = &p->svcs[i];
    for (size_t k = 0; k < sp->n; k++) {
        zp_buf_addf(&b, "%s%s:%d", k ? " " : "", orch__step_name(sp->items[k].kind),
                    sp->items[k].number);
        if (sp->items[k].old >= 0)
            zp_buf_addf(&b, ":%s", obs->c[sp->items[k].old].name);
    }
    return zp_buf_detach(&b, NULL);
}

struct fixture {
    struct compose_project *p;
    struct orch_graph g;
    struct orch_want *wants;
    struct orch_observed obs;
    struct orch_plan plan;
};

static void fixture_init(struct fixture *f, const char *yaml)
{
    memset(f, 0, sizeof(*f));
    f->p = orcht_load_yaml("pt", yaml);
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(orch__graph_build(f->p->model, NULL, 0, false, &f->g, &err), 0);
    f->wants = zp_calloc(f->g.n, sizeof(*f->wants));
    for (size_t i = 0; i < f->g.n; i++)
        f->wants[i] = (struct orch_want){"h1", NULL, 1};
}

static void want(struct fixture *f, const char *service, const char *hash, int64_t replicas)
{
    long i = orch__graph_find(&f->g, service);
    assert_true(i >= 0);
    f->wants[i].hash = hash;
    f->wants[i].replicas = replicas;
}

static void expect_steps(struct fixture *f, const char *service, const char *expected)
{
    char *s = steps(&f->plan, &f->g, &f->obs, service);
    assert_string_equal(s, expected);
    free(s);
}

static void fixture_release(struct fixture *f)
{
    orch__plan_release(&f->plan);
    orch__observed_release(&f->obs);
    orch__graph_release(&f->g);
    free(f->wants);
    compose_project_free(f->p);
}

static const char *two_yaml = "services:\n"
                              "  web:\n"
                              "    image: x\n"
                              "    depends_on: [db]\n"
                              "  db:\n"
                              "    image: x\n";

static void test_fresh_and_unchanged(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, two_yaml);
    want(&f, "web", "h1", 2);
    orch__plan_make("pt", &f.g, f.wants, &f.obs, ORCH_RECREATE_CHANGED, false, &f.plan);
    expect_steps(&f, "web", "create:1 create:2");
    expect_steps(&f, "db", "create:1");
    assert_true(f.plan.svcs[orch__graph_find(&f.g, "web")].recreated);
    assert_int_equal(f.plan.norphans, 0);
    orch__plan_release(&f.plan);

    const struct fake running[] = {
        {"pt-web-1", "web", "h1", "running", 1, false, 10},
        {"pt-web-2", "web", "h1", "running", 2, false, 10},
        {"pt-db-1", "db", "h1", "running", 1, false, 10},
    };
    observed(running, 3, &f.obs);
    orch__plan_make("pt", &f.g, f.wants, &f.obs, ORCH_RECREATE_CHANGED, false, &f.plan);
    expect_steps(&f, "web", "none:1:pt-web-1 none:2:pt-web-2");
    expect_steps(&f, "db", "none:1:pt-db-1");
    assert_false(f.plan.svcs[0].active);
    assert_false(f.plan.svcs[1].active);
    orch__plan_release(&f.plan);

    /* --force-recreate replaces everything */
    orch__plan_make("pt", &f.g, f.wants, &f.obs, ORCH_RECREATE_FORCE, false, &f.plan);
    expect_steps(&f, "web", "recreate:1:pt-web-1 recreate:2:pt-web-2");
    fixture_release(&f);
}

static void test_changed_stopped_created(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, two_yaml);
    want(&f, "web", "new", 1);
    const struct fake obs[] = {
        {"pt-web-1", "web", "old", "running", 1, false, 10},
        {"pt-db-1", "db", "h1", "exited", 1, false, 10},
    };
    observed(obs, 2, &f.obs);
    orch__plan_make("pt", &f.g, f.wants, &f.obs, ORCH_RECREATE_CHANGED, false, &f.plan);
    expect_steps(&f, "web", "recreate:1:pt-web-1");
    expect_steps(&f, "db", "start:1:pt-db-1");
    orch__plan_release(&f.plan);

    /* --no-recreate keeps the changed container */
    orch__plan_make("pt", &f.g, f.wants, &f.obs, ORCH_RECREATE_NEVER, false, &f.plan);
    expect_steps(&f, "web", "none:1:pt-web-1");
    expect_steps(&f, "db", "start:1:pt-db-1");
    orch__plan_release(&f.plan);

    /* --no-start: nothing is started */
    orch__plan_make("pt", &f.g, f.wants, &f.obs, ORCH_RECREATE_CHANGED, true, &f.plan);
    expect_steps(&f, "db", "none:1:pt-db-1");
    orch__plan_release(&f.plan);
    orch__observed_release(&f.obs);

    /* created but never started (maybe interrupted half-way): replaced, unless --no-start */
    const struct fake created[] = {{"pt-db-1", "db", "h1", "created", 1, false, 10}};
    observed(created, 1, &f.obs);
    orch__plan_make("pt", &f.g, f.wants, &f.obs, ORCH_RECREATE_CHANGED, false, &f.plan);
    expect_steps(&f, "db", "recreate:1:pt-db-1");
    expect_steps(&f, "web", "create:1");
    orch__plan_release(&f.plan);
    orch__plan_make("pt", &f.g, f.wants, &f.obs, ORCH_RECREATE_CHANGED, true, &f.plan);
    expect_steps(&f, "db", "none:1:pt-db-1");
    fixture_release(&f);
}

static void test_scale_and_duplicates(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, two_yaml);
    want(&f, "web", "h1", 1);
    const struct fake obs[] = {
        {"pt-web-1", "web", "h1", "running", 1, false, 10},
        {"pt-web-2", "web", "h1", "running", 2, false, 10},
        {"pt-web-3", "web", "h1", "exited", 3, false, 10},
        /* renamed aside by an interrupted recreate, and its replacement */
        {"0123456789ab_pt-db-1", "db", "old", "exited", 1, false, 5},
        {"pt-db-1", "db", "h1", "running", 1, false, 10},
        /* one-off containers are not the plan's business */
        {"pt-web-run-1", "web", "h1", "running", 1, true, 10},
    };
    observed(obs, 6, &f.obs);
    orch__plan_make("pt", &f.g, f.wants, &f.obs, ORCH_RECREATE_CHANGED, false, &f.plan);
    /* scale down removes the highest numbers first */
    expect_steps(&f, "web", "none:1:pt-web-1 remove:3:pt-web-3 remove:2:pt-web-2");
    expect_steps(&f, "db", "none:1:pt-db-1 remove:1:0123456789ab_pt-db-1");
    orch__plan_release(&f.plan);
    orch__observed_release(&f.obs);

    /* only the renamed one is left: it is replaced under its real name */
    const struct fake aside[] = {{"0123456789ab_pt-db-1", "db", "h1", "running", 1, false, 5}};
    observed(aside, 1, &f.obs);
    orch__plan_make("pt", &f.g, f.wants, &f.obs, ORCH_RECREATE_CHANGED, false, &f.plan);
    expect_steps(&f, "db", "recreate:1:0123456789ab_pt-db-1");
    orch__plan_release(&f.plan);

    /* scale up to 3 */
    want(&f, "db", "h1", 3);
    orch__plan_make("pt", &f.g, f.wants, &f.obs, ORCH_RECREATE_CHANGED, false, &f.plan);
    expect_steps(&f, "db", "recreate:1:0123456789ab_pt-db-1 create:2 create:3");
    orch__plan_release(&f.plan);

    /* scale to zero */
    want(&f, "db", "h1", 0);
    orch__plan_make("pt", &f.g, f.wants, &f.obs, ORCH_RECREATE_CHANGED, false, &f.plan);
    expect_steps(&f, "db", "remove:1:0123456789ab_pt-db-1");
    fixture_release(&f);
}

static void test_restart_dependents(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, "services:\n"
                     "  proxy:\n"
                     "    image: x\n"
                     "    depends_on:\n"
                     "      web: {condition: service_started, restart: true}\n"
                     "  web:\n"
                     "    image: x\n"
                     "    depends_on:\n"
                     "      db: {condition: service_healthy, restart: true}\n"
                     "  worker:\n"
                     "    image: x\n"
                     "    depends_on: [db]\n"
                     "  db:\n"
                     "    image: x\n");
    want(&f, "db", "h2", 1);
    const struct fake obs[] = {
        {"pt-proxy-1", "proxy", "h1", "running", 1, false, 10},
        {"pt-web-1", "web", "h1", "running", 1, false, 10},
        {"pt-worker-1", "worker", "h1", "running", 1, false, 10},
        {"pt-db-1", "db", "h1", "running", 1, false, 10},
    };
    observed(obs, 4, &f.obs);
    orch__plan_make("pt", &f.g, f.wants, &f.obs, ORCH_RECREATE_CHANGED, false, &f.plan);
    expect_steps(&f, "db", "recreate:1:pt-db-1");
    expect_steps(&f, "web", "restart:1:pt-web-1");
    expect_steps(&f, "proxy", "restart:1:pt-proxy-1"); /* cascades */
    expect_steps(&f, "worker", "none:1:pt-worker-1");  /* no restart: true */
    fixture_release(&f);
}

static void test_orphans(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, two_yaml);
    const struct fake obs[] = {
        {"pt-web-1", "web", "h1", "running", 1, false, 10},
        {"pt-db-1", "db", "h1", "running", 1, false, 10},
        {"pt-gone-1", "gone", "h1", "running", 1, false, 10},
        {"pt-gone-run-x", "gone", "h1", "exited", 1, true, 10},
    };
    observed(obs, 4, &f.obs);
    orch__plan_make("pt", &f.g, f.wants, &f.obs, ORCH_RECREATE_CHANGED, false, &f.plan);
    assert_int_equal(f.plan.norphans, 2);
    assert_string_equal(f.obs.c[f.plan.orphans[0]].name, "pt-gone-1");
    assert_string_equal(f.obs.c[f.plan.orphans[1]].name, "pt-gone-run-x");
    fixture_release(&f);
}

static void test_container_name(void **state)
{
    (void)state;
    char *s = orch__container_name("pt", "web", NULL, 3);
    assert_string_equal(s, "pt-web-3");
    free(s);
    s = orch__container_name("pt", "web", "my-web", 1);
    assert_string_equal(s, "my-web");
    free(s);

    struct fixture f;
    fixture_init(&f, two_yaml);
    f.wants[orch__graph_find(&f.g, "db")].container_name = "pgsql";
    const struct fake obs[] = {{"pgsql", "db", "h1", "running", 1, false, 10}};
    observed(obs, 1, &f.obs);
    orch__plan_make("pt", &f.g, f.wants, &f.obs, ORCH_RECREATE_CHANGED, false, &f.plan);
    expect_steps(&f, "db", "none:1:pgsql");
    fixture_release(&f);
}

/* A container list recorded from dockerd 20.10 (API 1.41). */
static void test_recorded(void **state)
{
    (void)state;
    char *path = zp_path_join(ZP_TEST_DATA, "orchestrator/observed/mixed.json");
    char *data = NULL;
    size_t len = 0;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(zp_file_read(path, 1 << 20, &data, &len, &err), 0);
    json_error_t jerr;
    json_t *arr = json_loadb(data, len, 0, &jerr);
    assert_non_null(arr);
    struct engine_container_list l = {0};
    assert_int_equal(engine__map_container_list(arr, &l, &err), 0);
    json_decref(arr);
    free(data);
    free(path);

    struct fixture f;
    fixture_init(&f, "services:\n"
                     "  web:\n"
                     "    image: x\n"
                     "  db:\n"
                     "    image: x\n"
                     "  job:\n"
                     "    image: x\n");
    orch__observed_from_list(&l, &f.obs);
    engine_container_list_release(&l);
    /* sorted by service, one-offs last, then number */
    assert_int_equal(f.obs.nc, 6);
    assert_string_equal(f.obs.c[0].name, "zprecplan-db-1");
    assert_string_equal(f.obs.c[0].state, "created");
    assert_string_equal(f.obs.c[0].hash, "hdb-old");
    assert_string_equal(f.obs.c[1].name, "zprecplan-job-1");
    assert_int_equal(f.obs.c[1].exit_code, 3);
    assert_string_equal(f.obs.c[2].name, "zprecplan-old-1");
    assert_string_equal(f.obs.c[3].name, "zprecplan-web-1");
    assert_int_equal(f.obs.c[3].number, 1);
    assert_null(f.obs.c[3].health);
    assert_string_equal(f.obs.c[5].name, "zprecplan-web-run-abc");
    assert_true(f.obs.c[5].oneoff);
    assert_string_equal(f.obs.c[5].health, "healthy");

    want(&f, "web", "hweb", 2);
    want(&f, "db", "hdb-new", 1);
    want(&f, "job", "hjob", 1);
    orch__plan_make("zprecplan", &f.g, f.wants, &f.obs, ORCH_RECREATE_CHANGED, false, &f.plan);
    expect_steps(&f, "web", "none:1:zprecplan-web-1 none:2:zprecplan-web-2");
    expect_steps(&f, "db", "recreate:1:zprecplan-db-1");
    expect_steps(&f, "job", "start:1:zprecplan-job-1");
    assert_int_equal(f.plan.norphans, 1);
    assert_string_equal(f.obs.c[f.plan.orphans[0]].name, "zprecplan-old-1");
    fixture_release(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_and_unchanged),
        cmocka_unit_test(test_changed_stopped_created),
        cmocka_unit_test(test_scale_and_duplicates),
        cmocka_unit_test(test_restart_dependents),
        cmocka_unit_test(test_orphans),
        cmocka_unit_test(test_container_name),
        cmocka_unit_test(test_recorded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

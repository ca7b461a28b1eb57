/* Unit tests of the operating views' pure parts: the `docker stats` computation on
 * recorded engine samples (tests/data/orchestrator/stats/), the size and duration
 * formatters, the health verdict on container states recorded from the engine
 * (tests/data/orchestrator/health/), and the cleanup planner's label and retention rules. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/node.h"
#include "orchestrator/status.h"

/* ---- recorded stats samples ---- */

static void load_sample(const char *name, struct engine_stats *ret)
{
    char *path = zp_asprintf("%s/orchestrator/stats/%s", ZP_TEST_DATA, name);
    char *data = NULL;
    size_t len = 0;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(zp_file_read(path, 1 << 20, &data, &len, &err), 0);
    assert_int_equal(engine_stats_parse(data, len, ret, &err), 0);
    free(data);
    free(path);
}

/* A sample taken with stream=false (not one-shot) carries its previous sample: a busy
 * loop on one of two CPUs, 64 MiB limit, cgroup v1. */
static void test_stats_sampled(void **state)
{
    (void)state;
    struct engine_stats s;
    struct orch_usage u;
    load_sample("stats_sampled.json", &s);
    orch_stats_compute(NULL, &s, &u);
    assert_true(u.have_cpu);
    /* (3036436317 - 2032639607) / (19768860000000 - 19766850000000) * 2 * 100 */
    double want = (3036436317.0 - 2032639607.0) / (19768860000000.0 - 19766850000000.0) * 200.0;
    assert_true(fabs(u.cpu_percent - want) < 1e-9);
    assert_true(u.cpu_percent > 99.0 && u.cpu_percent < 101.0);
    /* usage 2183168 minus total_inactive_file 1536000 */
    assert_int_equal(u.mem_used, 2183168 - 1536000);
    assert_int_equal(u.mem_limit, 67108864);
    assert_true(fabs(u.mem_percent - 647168.0 / 67108864.0 * 100.0) < 1e-9);
    assert_int_equal(u.pids, 1);
}

/* One-shot samples carry no previous sample: CPU comes from two of them, a second apart. */
static void test_stats_one_shot_pair(void **state)
{
    (void)state;
    struct engine_stats a, b;
    struct orch_usage u;
    load_sample("stats_oneshot1.json", &a);
    load_sample("stats_oneshot2.json", &b);
    orch_stats_compute(NULL, &a, &u);
    assert_false(u.have_cpu);
    assert_true(u.cpu_percent == 0.0);
    assert_int_equal(u.mem_used, 2183168 - 1536000);
    orch_stats_compute(&a, &b, &u);
    assert_true(u.have_cpu);
    double want = (5052009543.0 - 4040176375.0) / (19772870000000.0 - 19770860000000.0) * 200.0;
    assert_true(fabs(u.cpu_percent - want) < 1e-9);
}

/* Network counters summed over interfaces, memory without a file cache. */
static void test_stats_io(void **state)
{
    (void)state;
    struct engine_stats s;
    struct orch_usage u;
    load_sample("stats_io.json", &s);
    orch_stats_compute(NULL, &s, &u);
    assert_int_equal(u.net_rx, 1248);
    assert_int_equal(u.net_tx, 5698);
    assert_int_equal(u.mem_used, 32657408);
    assert_int_equal(u.mem_limit, 134217728);
    assert_true(fabs(u.mem_percent - 32657408.0 / 134217728.0 * 100.0) < 1e-9);
}

/* A restart between samples resets the container's counter: 0 %, not a wrap-around;
 * a cache larger than usage (racy cgroup reads) leaves usage as it is; no limit: 0 %. */
static void test_stats_edges(void **state)
{
    (void)state;
    struct engine_stats prev = {.cpu_total = 9000000000ULL, .system_cpu = 1000000000000ULL};
    struct engine_stats cur = {.cpu_total = 100,
                               .system_cpu = 1002000000000ULL,
                               .online_cpus = 4,
                               .mem_usage = 1000,
                               .mem_cache = 5000};
    struct orch_usage u;
    orch_stats_compute(&prev, &cur, &u);
    assert_true(u.have_cpu);
    assert_true(u.cpu_percent == 0.0);
    assert_int_equal(u.mem_used, 1000);
    assert_true(u.mem_percent == 0.0);
    /* half of one CPU's time on a 4-CPU host: system time counts every CPU */
    cur.cpu_total = prev.cpu_total + 500000000ULL;
    cur.system_cpu = prev.system_cpu + 4000000000ULL;
    orch_stats_compute(&prev, &cur, &u);
    assert_true(fabs(u.cpu_percent - 50.0) < 1e-9);
}

static void test_cpu_average(void **state)
{
    (void)state;
    /* 1 s of CPU over 4 s of wall time */
    assert_true(fabs(orch_cpu_average(1000000000ULL, 10000000000LL, 14000000000LL) - 25.0) < 1e-9);
    /* two busy CPUs count 200 %, as docker shows them */
    assert_true(fabs(orch_cpu_average(4000000000ULL, 1000000000LL, 3000000000LL) - 200.0) < 1e-9);
    assert_true(orch_cpu_average(5, 0, 100) == 0.0);
    assert_true(orch_cpu_average(5, 100, 100) == 0.0);
}

/* ---- formatters ---- */

static void test_fmt_bytes(void **state)
{
    (void)state;
    char b[ORCH_FMT_BYTES];
    orch_fmt_bytes(0, true, b);
    assert_string_equal(b, "0B");
    orch_fmt_bytes(1023, true, b);
    assert_string_equal(b, "1023B");
    orch_fmt_bytes(1024, true, b);
    assert_string_equal(b, "1.00KiB");
    orch_fmt_bytes(1536, true, b);
    assert_string_equal(b, "1.50KiB");
    orch_fmt_bytes(67108864, true, b);
    assert_string_equal(b, "64.0MiB");
    orch_fmt_bytes(647168, true, b);
    assert_string_equal(b, "632KiB");
    orch_fmt_bytes(1073741824ULL * 3 / 2, true, b);
    assert_string_equal(b, "1.50GiB");
    orch_fmt_bytes(UINT64_MAX, true, b);
    assert_string_equal(b, "16.0EiB");
    orch_fmt_bytes(999, false, b);
    assert_string_equal(b, "999B");
    orch_fmt_bytes(1990000, false, b);
    assert_string_equal(b, "1.99MB");
    orch_fmt_bytes(5698, false, b);
    assert_string_equal(b, "5.70kB");
    orch_fmt_bytes(123456789, false, b);
    assert_string_equal(b, "123MB");
    /* rounding up into the next digit keeps three significant digits */
    orch_fmt_bytes(99990, false, b);
    assert_string_equal(b, "100kB");
}

static void test_fmt_duration(void **state)
{
    (void)state;
    char d[ORCH_FMT_DURATION];
    static const struct {
        int64_t secs;
        const char *want;
    } cases[] = {
        {-5, "0s"},
        {0, "0s"},
        {59, "59s"},
        {60, "1m00s"},
        {252, "4m12s"},
        {3599, "59m59s"},
        {3600, "1h00m"},
        {11100, "3h05m"},
        {86399, "23h59m"},
        {86400, "1d00h"},
        {100800, "1d04h"},
        {99 * 86400, "99d00h"},
        {400 * 86400 + 5, "400d"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        orch_fmt_duration(cases[i].secs, d);
        assert_string_equal(d, cases[i].want);
    }
}

/* ---- the health verdict, on states recorded from the engine ---- */

/* The facts below are the State fields of tests/data/orchestrator/health/<name>.json,
 * recorded with GET /containers/{id}/json from busybox containers. */

static void test_verdict_healthy(void **state)
{
    (void)state;
    /* healthy.json: --health-cmd true */
    struct orch_health_facts f = {.state = "running", .health = "healthy", .health_output = ""};
    char *why = (char *)"unset";
    assert_int_equal(orch_health_verdict(&f, &why), ORCH_VERDICT_HEALTHY);
    assert_null(why);
    assert_true(orch_verdict_ok(ORCH_VERDICT_HEALTHY));
}

static void test_verdict_running_without_check(void **state)
{
    (void)state;
    /* plain.json: sleep, no health check */
    struct orch_health_facts f = {.state = "running"};
    char *why = (char *)"unset";
    assert_int_equal(orch_health_verdict(&f, &why), ORCH_VERDICT_RUNNING);
    assert_null(why);
    assert_true(orch_verdict_ok(ORCH_VERDICT_RUNNING));
}

static void test_verdict_unhealthy(void **state)
{
    (void)state;
    /* unhealthy.json: the probe prints a message and exits 1 */
    struct orch_health_facts f = {.state = "running",
                                  .health = "unhealthy",
                                  .health_output = "db connection refused on 5432\n",
                                  .health_exit_code = 1,
                                  .failing_streak = 7};
    char *why = NULL;
    assert_int_equal(orch_health_verdict(&f, &why), ORCH_VERDICT_UNHEALTHY);
    assert_false(orch_verdict_ok(ORCH_VERDICT_UNHEALTHY));
    assert_string_equal(why, "unhealthy: db connection refused on 5432 (7 failed probes, last "
                             "exit code 1)");
    free(why);
}

static void test_verdict_restart_loop(void **state)
{
    (void)state;
    /* loop.json: sh -c 'exit 3' with restart: always */
    struct orch_health_facts f = {.state = "restarting", .exit_code = 3, .restart_count = 6};
    char *why = NULL;
    assert_int_equal(orch_health_verdict(&f, &why), ORCH_VERDICT_RESTARTING);
    assert_string_equal(why, "restarting in a loop: exit code 3, not OOM-killed, restarted 6 "
                             "times");
    free(why);
    /* oom.json: a shell filling 40 MB under an 8 MiB limit, restart: always */
    struct orch_health_facts oom = {
        .state = "restarting", .exit_code = 137, .oom_killed = true, .restart_count = 6};
    assert_int_equal(orch_health_verdict(&oom, &why), ORCH_VERDICT_RESTARTING);
    assert_string_equal(why, "restarting in a loop: exit code 137, OOM-killed, restarted 6 times");
    free(why);
}

static void test_verdict_exited(void **state)
{
    (void)state;
    /* exited.json: sh -c 'exit 1', no restart policy */
    struct orch_health_facts f = {.state = "exited", .exit_code = 1};
    char *why = NULL;
    assert_int_equal(orch_health_verdict(&f, &why), ORCH_VERDICT_EXITED);
    assert_string_equal(why, "exited with code 1");
    free(why);
    struct orch_health_facts oom = {
        .state = "exited", .exit_code = 137, .oom_killed = true, .restart_count = 2};
    assert_int_equal(orch_health_verdict(&oom, &why), ORCH_VERDICT_EXITED);
    assert_string_equal(why, "exited with code 137 (OOM-killed) after 2 restarts");
    free(why);
}

static void test_verdict_other_states(void **state)
{
    (void)state;
    char *why = NULL;
    struct orch_health_facts starting = {.state = "running", .health = "starting"};
    assert_int_equal(orch_health_verdict(&starting, &why), ORCH_VERDICT_STARTING);
    assert_string_equal(why, "health check not passing yet");
    free(why);
    struct orch_health_facts failing = {.state = "running",
                                        .health = "starting",
                                        .health_output = "no\nanswer\r\n\nyet\n",
                                        .failing_streak = 2};
    assert_int_equal(orch_health_verdict(&failing, &why), ORCH_VERDICT_STARTING);
    assert_string_equal(why, "health check not passing yet (2 failed probes): no | answer | yet");
    free(why);
    struct orch_health_facts paused = {.state = "paused", .health = "healthy"};
    assert_int_equal(orch_health_verdict(&paused, &why), ORCH_VERDICT_PAUSED);
    assert_string_equal(why, "paused");
    free(why);
    struct orch_health_facts created = {.state = "created"};
    assert_int_equal(orch_health_verdict(&created, &why), ORCH_VERDICT_CREATED);
    free(why);
    struct orch_health_facts dead = {.state = "dead"};
    assert_int_equal(orch_health_verdict(&dead, NULL), ORCH_VERDICT_DEAD);
    assert_string_equal(orch_verdict_name(ORCH_VERDICT_MISSING), "not running");
    assert_false(orch_verdict_ok(ORCH_VERDICT_MISSING));
}

/* A long multi-line probe output becomes one capped line, cut at a character boundary. */
static void test_verdict_long_output(void **state)
{
    (void)state;
    char out[2000];
    size_t n = 0;
    while (n + 3 < sizeof(out) - 1) {
        memcpy(out + n, "\xc3\xa9\n", 3); /* "é" and a line end */
        n += 3;
    }
    out[n] = '\0';
    struct orch_health_facts f = {
        .state = "running", .health = "unhealthy", .health_output = out, .failing_streak = 3};
    char *why = NULL;
    assert_int_equal(orch_health_verdict(&f, &why), ORCH_VERDICT_UNHEALTHY);
    assert_null(strchr(why, '\n'));
    assert_non_null(strstr(why, "... (3 failed probes"));
    assert_true(strlen(why) < 400);
    /* no broken UTF-8 sequence before the ellipsis */
    const char *dots = strstr(why, "...");
    assert_true(((unsigned char)dots[-1] & 0xC0) != 0xC0);
    free(why);
}

/* ---- the cleanup planner ---- */

static void labels(struct engine_labels *l, const char *k1, const char *v1, const char *k2,
                   const char *v2)
{
    l->items = zp_calloc(2, sizeof(*l->items));
    l->n = 0; /* k1 sorts before k2 */
    if (k1) {
        l->items[l->n].key = zp_strdup(k1);
        l->items[l->n++].value = zp_strdup(v1);
    }
    if (k2) {
        l->items[l->n].key = zp_strdup(k2);
        l->items[l->n++].value = zp_strdup(v2);
    }
}

static void container(struct engine_container_list *l, const char *id, const char *name,
                      const char *state, const char *image_id, const char *project, bool oneoff)
{
    l->items = zp_realloc(l->items, (l->n + 1) * sizeof(*l->items));
    struct engine_container_summary *c = &l->items[l->n++];
    memset(c, 0, sizeof(*c));
    c->id = zp_strdup(id);
    c->names = zp_calloc(1, sizeof(char *));
    c->names[0] = zp_strdup(name);
    c->n_names = 1;
    c->state = zp_strdup(state);
    c->image_id = zp_strdup(image_id);
    /* labels are sorted by key, as the engine module keeps them */
    labels(&c->labels, oneoff ? "io.zpanel.oneoff" : NULL, "true",
           project ? "io.zpanel.project" : NULL, project);
}

static void image(struct engine_image_list *l, const char *id, const char *tag1, const char *tag2,
                  int64_t size, const char *project)
{
    l->items = zp_realloc(l->items, (l->n + 1) * sizeof(*l->items));
    struct engine_image_summary *im = &l->items[l->n++];
    memset(im, 0, sizeof(*im));
    im->id = zp_strdup(id);
    im->repo_tags = zp_calloc(2, sizeof(char *));
    if (tag1)
        im->repo_tags[im->n_repo_tags++] = zp_strdup(tag1);
    if (tag2)
        im->repo_tags[im->n_repo_tags++] = zp_strdup(tag2);
    im->size = size;
    /* what a zpanel build leaves: the project, service and build digest labels, and a
     * parent (an intermediate image of the build, without the last label) */
    im->labels.items = zp_calloc(3, sizeof(*im->labels.items));
    if (project) {
        const char *kv[3][2] = {{"io.zpanel.build-digest", "d1"},
                                {"io.zpanel.project", project},
                                {"io.zpanel.service", "web"}};
        for (size_t k = 0; k < 3; k++) {
            im->labels.items[k].key = zp_strdup(kv[k][0]);
            im->labels.items[k].value = zp_strdup(kv[k][1]);
        }
        im->labels.n = 3;
    }
    im->parent_id = zp_strdup("sha256:intermediate");
}

/* An image built by hand FROM parent (or, parent NULL, by BuildKit: no ParentId): it
 * inherits every label of the project's image. */
static void child_image(struct engine_image_list *l, const char *id, const char *tag,
                        const char *parent, const char *project)
{
    image(l, id, tag, NULL, 500, project);
    free(l->items[l->n - 1].parent_id);
    l->items[l->n - 1].parent_id = zp_strdup(parent ? parent : "");
}

static void network(struct engine_network_list *l, const char *name, const char *project)
{
    l->items = zp_realloc(l->items, (l->n + 1) * sizeof(*l->items));
    struct engine_network *n = &l->items[l->n++];
    memset(n, 0, sizeof(*n));
    n->id = zp_asprintf("id-%s", name);
    n->name = zp_strdup(name);
    labels(&n->labels, project ? "io.zpanel.project" : NULL, project, NULL, NULL);
}

struct world {
    struct zp_node *model;
    struct engine_container_list project_containers, all_containers;
    struct engine_image_list dangling, project_images, releases, parents;
    struct engine_network_list networks;
};

/* Project "app" with services web and x-web and network "default" (app_default), next to
 * a foreign project "app-x" whose release repository shares the prefix, and objects with
 * no zpanel label at all. */
static void world_init(struct world *w)
{
    memset(w, 0, sizeof(*w));
    w->model = zp_node_new_map(NULL);
    struct zp_node *svcs = zp_node_new_map(NULL);
    zp_node_set(svcs, "web", zp_node_new_map(NULL));
    zp_node_set(svcs, "x-web", zp_node_new_map(NULL));
    zp_node_set(w->model, "services", svcs);
    struct zp_node *nets = zp_node_new_map(NULL);
    struct zp_node *def = zp_node_new_map(NULL);
    zp_node_set(def, "name", zp_node_new_str("app_default", NULL));
    zp_node_set(nets, "default", def);
    zp_node_set(w->model, "networks", nets);

    /* the project's containers (by label) */
    container(&w->project_containers, "c-web1", "app-web-1", "running", "sha256:web", "app", 0);
    container(&w->project_containers, "c-web2", "app-web-2", "exited", "sha256:web", "app", 0);
    container(&w->project_containers, "c-run1", "app-web-run-1", "exited", "sha256:old1", "app", 1);
    container(&w->project_containers, "c-run2", "app-web-run-2", "running", "sha256:web", "app", 1);
    container(&w->project_containers, "c-run3", "app-web-run-3", "created", "sha256:web", "app", 1);
    /* every container, foreign ones included */
    for (size_t i = 0; i < w->project_containers.n; i++) {
        const struct engine_container_summary *c = &w->project_containers.items[i];
        container(&w->all_containers, c->id, c->names[0], c->state, c->image_id, "app",
                  engine_labels_get(&c->labels, "io.zpanel.oneoff") != NULL);
    }
    container(&w->all_containers, "c-foreign", "foreign", "exited", "sha256:old2", NULL, 0);
    container(&w->all_containers, "c-other", "app-x-web-1", "exited", "sha256:other", "app-x", 1);

    /* dangling images: ours (one used only by a one-off being removed, one used by a
     * foreign container), a foreign one, one of another project */
    image(&w->dangling, "sha256:old1", NULL, NULL, 1000, "app");
    image(&w->dangling, "sha256:old2", NULL, NULL, 2000, "app");
    image(&w->dangling, "sha256:old3", NULL, NULL, 4000, "app");
    image(&w->dangling, "sha256:foreign", NULL, NULL, 8000, NULL);
    image(&w->dangling, "sha256:otherp", NULL, NULL, 16000, "app-x");
    /* built by hand FROM the project's web image (legacy builder: its parent is that
     * image), or with BuildKit (no parent): they inherit the labels, never chosen */
    child_image(&w->dangling, "sha256:child", NULL, "sha256:web", "app");
    child_image(&w->dangling, "sha256:buildkit", NULL, NULL, "app");

    /* images labelled for the project (--all) */
    image(&w->project_images, "sha256:web", "app-web:latest", NULL, 100, "app");
    image(&w->project_images, "sha256:unused", "app-worker:latest", NULL, 200, "app");
    image(&w->project_images, "sha256:r7", "zpanel-release/app-web:7", NULL, 300, "app");
    child_image(&w->project_images, "sha256:mine", "mine:1", "sha256:web", "app");
    child_image(&w->project_images, "sha256:mine-bk", "mine:2", NULL, "app");
    /* every image labelled for the project, intermediate ones too */
    image(&w->parents, "sha256:web", "app-web:latest", NULL, 100, "app");

    /* release tags of app-web 1..7 and 10, x-web 1, and the foreign project app-x's
     * "web" (the same repository name, labelled for app-x) */
    image(&w->releases, "sha256:r1", "zpanel-release/app-web:1", NULL, 10, "app");
    image(&w->releases, "sha256:r2", "zpanel-release/app-web:2", "keep/me:1", 20, "app");
    image(&w->releases, "sha256:r3", "zpanel-release/app-web:3", NULL, 30, "app");
    image(&w->releases, "sha256:r4", "zpanel-release/app-web:10", NULL, 40, "app");
    image(&w->releases, "sha256:r5", "zpanel-release/app-web:5", NULL, 50, "app");
    image(&w->releases, "sha256:r6", "zpanel-release/app-web:6", "zpanel-release/app-web:4", 60,
          "app");
    image(&w->releases, "sha256:r7", "zpanel-release/app-web:7", NULL, 300, "app");
    image(&w->releases, "sha256:latest", "zpanel-release/app-web:latest", NULL, 1, "app");
    image(&w->releases, "sha256:x1", "zpanel-release/app-x-web:1", NULL, 70, "app");
    image(&w->releases, "sha256:ax1", "zpanel-release/app-x-web:9", NULL, 80, "app-x");

    network(&w->networks, "app_default", "app");
    network(&w->networks, "app_old", "app");
    network(&w->networks, "app-x_old", "app-x");
}

static void world_release(struct world *w)
{
    struct engine_container_list *cl[] = {&w->project_containers, &w->all_containers};
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < cl[k]->n; i++) {
            struct engine_container_summary *c = &cl[k]->items[i];
            free(c->id);
            free(c->names[0]);
            free(c->names);
            free(c->state);
            free(c->image_id);
            engine_labels_release(&c->labels);
        }
        free(cl[k]->items);
    }
    struct engine_image_list *il[] = {&w->dangling, &w->project_images, &w->releases,
                                      &w->parents};
    for (size_t k = 0; k < 4; k++) {
        for (size_t i = 0; i < il[k]->n; i++) {
            struct engine_image_summary *im = &il[k]->items[i];
            free(im->id);
            for (size_t t = 0; t < im->n_repo_tags; t++)
                free(im->repo_tags[t]);
            free(im->repo_tags);
            engine_labels_release(&im->labels);
            free(im->parent_id);
        }
        free(il[k]->items);
    }
    for (size_t i = 0; i < w->networks.n; i++) {
        free(w->networks.items[i].id);
        free(w->networks.items[i].name);
        engine_labels_release(&w->networks.items[i].labels);
    }
    free(w->networks.items);
    zp_node_free(w->model);
}

static void plan(struct world *w, bool all, int64_t keep, struct orch_cleanup_result *r)
{
    struct orch_cleanup_input in = {
        .project = "app",
        .model = w->model,
        .containers = &w->project_containers,
        .all_containers = &w->all_containers,
        .dangling = &w->dangling,
        .project_images = &w->project_images,
        .release_images = &w->releases,
        .parents = &w->parents,
        .networks = &w->networks,
    };
    struct orch_cleanup_opts opts = {.all = all, .keep = keep};
    orch_cleanup_plan(&in, &opts, r);
}

/* "kind:name" of every item, comma-separated, for whole-plan comparisons. */
static char *describe(const struct orch_cleanup_result *r)
{
    static const char *const kinds[] = {"container", "image", "release", "network"};
    struct zp_buf b = ZP_BUF_INIT;
    for (size_t i = 0; i < r->n; i++)
        zp_buf_addf(&b, "%s%s:%s", i ? "," : "", kinds[r->items[i].kind], r->items[i].name);
    return zp_buf_detach(&b, NULL);
}

static void test_cleanup_default(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    struct orch_cleanup_result r;
    plan(&w, false, -1, &r);
    char *got = describe(&r);
    /* only the exited one-off; releases beyond the 5 newest of web by number (10 7 6 5 4:
     * 4 shares r6 with 6, so r6 stays; 3 2 1 go; "latest" is not a release number);
     * x-web has 1 release; dangling old1 (its only user is the removed one-off) and old3;
     * the network no longer in the model */
    assert_string_equal(got, "container:app-web-run-1,"
                             "release:zpanel-release/app-web:3,"
                             "release:zpanel-release/app-web:2,"
                             "release:zpanel-release/app-web:1,"
                             "image:sha256:old1,image:sha256:old3,network:app_old");
    /* sizes: r3 and r1 go entirely, r2 keeps its other tag; old1 + old3 */
    assert_int_equal(r.freed, 30 + 10 + 1000 + 4000);
    assert_false(r.items[0].removed);
    assert_string_equal(r.items[0].id, "c-run1");
    assert_string_equal(r.items[r.n - 1].id, "id-app_old");
    free(got);
    orch_cleanup_result_release(&r);
    world_release(&w);
}

/* Tags that a recorded release names survive whatever the count says. */
static void test_cleanup_protected(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    static const char *const recorded[] = {"zpanel-release/app-web:2", "zpanel-release/app-web:1"};
    struct orch_cleanup_input in = {
        .project = "app",
        .model = w.model,
        .containers = &w.project_containers,
        .all_containers = &w.all_containers,
        .dangling = &w.dangling,
        .project_images = &w.project_images,
        .release_images = &w.releases,
        .parents = &w.parents,
        .networks = &w.networks,
    };
    struct orch_cleanup_opts opts = {.keep = -1, .protected_tags = recorded, .nprotected = 2};
    struct orch_cleanup_result r;
    orch_cleanup_plan(&in, &opts, &r);
    char *got = describe(&r);
    assert_string_equal(got, "container:app-web-run-1,"
                             "release:zpanel-release/app-web:3,"
                             "image:sha256:old1,image:sha256:old3,network:app_old");
    free(got);
    orch_cleanup_result_release(&r);
    world_release(&w);
}

static void test_cleanup_all_and_keep(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    struct orch_cleanup_result r;
    plan(&w, true, 1, &r);
    char *got = describe(&r);
    /* also the stopped service container; keep 1: only web's 10 and x-web's 1 stay;
     * project images not in use and without a release tag */
    assert_string_equal(got, "container:app-web-2,container:app-web-run-1,"
                             "release:zpanel-release/app-web:7,"
                             "release:zpanel-release/app-web:6,"
                             "release:zpanel-release/app-web:5,"
                             "release:zpanel-release/app-web:4,"
                             "release:zpanel-release/app-web:3,"
                             "release:zpanel-release/app-web:2,"
                             "release:zpanel-release/app-web:1,"
                             "image:sha256:old1,image:sha256:old3,image:app-worker:latest,"
                             "network:app_old");
    /* r6's size counts once, on the second of its two tags */
    int64_t r6 = 0;
    for (size_t i = 0; i < r.n; i++)
        if (strcmp(r.items[i].name, "zpanel-release/app-web:6") == 0 ||
            strcmp(r.items[i].name, "zpanel-release/app-web:4") == 0)
            r6 += r.items[i].size;
    assert_int_equal(r6, 60);
    assert_int_equal(r.freed, 300 + 60 + 50 + 30 + 10 + 1000 + 4000 + 200);
    free(got);
    orch_cleanup_result_release(&r);

    /* keep 0 on a world where the newest release is in use by a container */
    container(&w.all_containers, "c-rel", "app-web-3", "running", "sha256:r4", "app", 0);
    plan(&w, false, 0, &r);
    got = describe(&r);
    assert_null(strstr(got, "app-web:10"));
    assert_non_null(strstr(got, "release:zpanel-release/app-x-web:1"));
    /* the other project's release (its service "web" has the same repository as our
     * "x-web") and objects are never chosen */
    assert_null(strstr(got, "app-x-web:9"));
    assert_null(strstr(got, "foreign"));
    assert_null(strstr(got, "otherp"));
    assert_null(strstr(got, "app-x_old"));
    free(got);
    orch_cleanup_result_release(&r);
    world_release(&w);
}

static void test_release_repo(void **state)
{
    (void)state;
    char *r = orch_release_repo("shop", "api");
    assert_string_equal(r, "zpanel-release/shop-api");
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_sampled),
        cmocka_unit_test(test_stats_one_shot_pair),
        cmocka_unit_test(test_stats_io),
        cmocka_unit_test(test_stats_edges),
        cmocka_unit_test(test_cpu_average),
        cmocka_unit_test(test_fmt_bytes),
        cmocka_unit_test(test_fmt_duration),
        cmocka_unit_test(test_verdict_healthy),
        cmocka_unit_test(test_verdict_running_without_check),
        cmocka_unit_test(test_verdict_unhealthy),
        cmocka_unit_test(test_verdict_restart_loop),
        cmocka_unit_test(test_verdict_exited),
        cmocka_unit_test(test_verdict_other_states),
        cmocka_unit_test(test_verdict_long_output),
        cmocka_unit_test(test_cleanup_default),
        cmocka_unit_test(test_cleanup_all_and_keep),
        cmocka_unit_test(test_cleanup_protected),
        cmocka_unit_test(test_release_repo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

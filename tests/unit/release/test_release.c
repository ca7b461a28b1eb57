/* Unit tests for orchestrator/release: keep tags and references, choosing the rollback
 * target, building a release's services from what a deploy wants and what runs, comparing
 * a release with the containers, reloading a recorded model exactly, and the update lock. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "orchestrator/mapping.h"
#include "release/release.h"
#include "util/util.h"

static char *const test_env[] = {(char *)"PATH=/usr/bin:/bin", (char *)"TAG=7", NULL};

/* A temporary directory holding compose.yaml with yaml; the caller removes it (rm_dir). */
static char *write_project(const char *yaml)
{
    char tmpl[] = "/tmp/zp-release-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char *path = zp_path_join(tmpl, "compose.yaml");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(yaml, f);
    fclose(f);
    free(path);
    return zp_strdup(tmpl);
}

static void rm_dir(char *dir, const char *const *files)
{
    for (size_t i = 0; files[i] != NULL; i++) {
        char *p = zp_path_join(dir, files[i]);
        unlink(p);
        free(p);
    }
    assert_int_equal(rmdir(dir), 0);
    free(dir);
}

static struct compose_project *load(const char *dir, const char *const *profiles, size_t nprofiles)
{
    char *path = zp_path_join(dir, "compose.yaml");
    const char *files[] = {path};
    struct compose_options o = {.files = files,
                                .nfiles = 1,
                                .project_name = "rt",
                                .profiles = profiles,
                                .nprofiles = nprofiles,
                                .environ = test_env,
                                .cwd = dir};
    struct compose_project *p = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = compose_project_load(&o, &p, &d);
    for (size_t i = 0; i < d.n; i++)
        fprintf(stderr, "%s\n", d.items[i].msg);
    zp_diags_release(&d);
    free(path);
    assert_int_equal(rc, 0);
    return p;
}

/* ---- names ---- */

static void test_keep_tag_and_refs(void **state)
{
    (void)state;
    char *t = release_keep_tag("shop", "web", 12);
    assert_string_equal(t, "zpanel-release/shop-web:12");
    free(t);

    static const struct {
        const char *ref, *repo, *tag;
    } ok[] = {
        {"nginx:1", "nginx", "1"},
        {"hello-web", "hello-web", "latest"},
        {"reg:5000/a/b:2", "reg:5000/a/b", "2"},
        {"reg:5000/a/b", "reg:5000/a/b", "latest"},
        {"zpanel-release/shop-web:12", "zpanel-release/shop-web", "12"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char *repo = NULL, *tag = NULL;
        struct zp_err err;
        zp_err_init(&err);
        assert_int_equal(release_ref_split(ok[i].ref, &repo, &tag, &err), 0);
        assert_string_equal(repo, ok[i].repo);
        assert_string_equal(tag, ok[i].tag);
        free(repo);
        free(tag);
    }
    static const char *const bad[] = {"", "x@sha256:0123", "a:", ":1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *repo = NULL, *tag = NULL;
        struct zp_err err;
        zp_err_init(&err);
        assert_int_equal(release_ref_split(bad[i], &repo, &tag, &err), ZP_E_INPUT);
        assert_null(repo);
        assert_null(tag);
        assert_true(err.msg[0] != '\0');
    }
}

/* ---- choosing the rollback target ---- */

static void statuses(struct store_release *list, const enum store_release_status *st, size_t n)
{
    /* newest first, as store_release_list gives them */
    memset(list, 0, n * sizeof(*list));
    for (size_t i = 0; i < n; i++) {
        list[i].id = (int64_t)(n - i);
        list[i].status = st[n - 1 - i];
    }
}

static int64_t pick(const struct store_release *list, size_t n, int64_t requested, int want_rc)
{
    struct zp_err err;
    zp_err_init(&err);
    int64_t id = -1;
    assert_int_equal(release_pick_target(list, n, requested, &id, &err), want_rc);
    if (want_rc != 0) {
        assert_int_equal(id, -1);
        assert_int_equal(err.code, want_rc);
    }
    return id;
}

static void test_pick_target(void **state)
{
    (void)state;
    struct store_release list[6];
    /* 1 superseded, 2 deployed (running): default goes back to 1 */
    enum store_release_status a[] = {STORE_RELEASE_SUPERSEDED, STORE_RELEASE_DEPLOYED};
    statuses(list, a, 2);
    assert_ptr_equal(release_running(list, 2), &list[0]);
    assert_int_equal(pick(list, 2, 0, 0), 1);
    assert_int_equal(pick(list, 2, 2, 0), 2); /* the running one may be redeployed */
    pick(list, 2, 9, ZP_E_NOTFOUND);

    /* 1 S, 2 D, 3 failed (rolled back to 2): still back to 1, failed ones skipped */
    enum store_release_status b[] = {STORE_RELEASE_SUPERSEDED, STORE_RELEASE_DEPLOYED,
                                     STORE_RELEASE_FAILED};
    statuses(list, b, 3);
    assert_int_equal(release_running(list, 3)->id, 2);
    assert_int_equal(pick(list, 3, 0, 0), 1);
    assert_int_equal(pick(list, 3, 3, 0), 3); /* named explicitly: allowed */

    /* after `rollback 1` recorded as 4: 1 S, 2 S, 3 F, 4 D: the one before 4 is 2 */
    enum store_release_status c[] = {STORE_RELEASE_SUPERSEDED, STORE_RELEASE_SUPERSEDED,
                                     STORE_RELEASE_FAILED, STORE_RELEASE_DEPLOYED};
    statuses(list, c, 4);
    assert_int_equal(pick(list, 4, 0, 0), 2);

    /* an interrupted update: the DEPLOYING one cannot be the target */
    enum store_release_status d[] = {STORE_RELEASE_DEPLOYED, STORE_RELEASE_DEPLOYING};
    statuses(list, d, 2);
    pick(list, 2, 2, ZP_E_CONFLICT);
    pick(list, 2, 0, ZP_E_NOTFOUND); /* 1 runs and nothing ran before it */

    /* nothing runs: no default */
    enum store_release_status e[] = {STORE_RELEASE_FAILED};
    statuses(list, e, 1);
    assert_null(release_running(list, 1));
    pick(list, 1, 0, ZP_E_NOTFOUND);
    pick(list, 0, 0, ZP_E_NOTFOUND);
}

/* ---- observed containers ---- */

struct fake {
    const char *service, *image_id, *hash, *state;
    int number;
    bool oneoff;
};

static struct orch_snap *obs_of(const struct fake *f, size_t n)
{
    struct orch_snap *o = zp_calloc(n, sizeof(*o));
    for (size_t i = 0; i < n; i++) {
        o[i].service = zp_strdup(f[i].service);
        o[i].image_id = zp_strdup(f[i].image_id);
        o[i].config_hash = zp_strdup(f[i].hash);
        o[i].state = zp_strdup(f[i].state);
        o[i].number = f[i].number;
        o[i].oneoff = f[i].oneoff;
    }
    return o;
}

static void test_obs_from_list(void **state)
{
    (void)state;
    struct engine_label l1[] = {
        {(char *)"io.zpanel.config-hash", (char *)"h1"},
        {(char *)"io.zpanel.number", (char *)"2"},
        {(char *)"io.zpanel.project", (char *)"rt"},
        {(char *)"io.zpanel.service", (char *)"web"},
    };
    struct engine_label l2[] = {
        {(char *)"io.zpanel.oneoff", (char *)"true"},
        {(char *)"io.zpanel.service", (char *)"web"},
    };
    struct engine_container_summary items[2];
    memset(items, 0, sizeof(items));
    items[0].image_id = (char *)"sha256:aaa";
    items[0].state = (char *)"running";
    items[0].labels = (struct engine_labels){l1, 4};
    items[1].image_id = (char *)"sha256:bbb";
    items[1].state = (char *)"exited";
    items[1].labels = (struct engine_labels){l2, 2};
    struct engine_container_list l = {items, 2};
    struct orch_snap *obs = NULL;
    size_t n = 0;
    orch_snap_from_list(&l, &obs, &n);
    assert_int_equal(n, 2);
    assert_string_equal(obs[0].service, "web");
    assert_string_equal(obs[0].image_id, "sha256:aaa");
    assert_string_equal(obs[0].config_hash, "h1");
    assert_string_equal(obs[0].state, "running");
    assert_int_equal(obs[0].number, 2);
    assert_false(obs[0].oneoff);
    assert_string_equal(obs[1].config_hash, "");
    assert_int_equal(obs[1].number, 0);
    assert_true(obs[1].oneoff);
    orch_snap_free(obs, n);
}

/* Did an up change containers? Created or removed ones count; one-offs and states do not. */
static void test_snap_changed(void **state)
{
    (void)state;
    struct orch_snap a[] = {
        {.id = (char *)"c1", .service = (char *)"web", .state = (char *)"running"},
        {.id = (char *)"c2", .service = (char *)"db", .state = (char *)"running"},
        {.id = (char *)"r1", .service = (char *)"web", .state = (char *)"exited", .oneoff = true},
    };
    struct orch_snap same[] = {
        {.id = (char *)"c2", .service = (char *)"db", .state = (char *)"exited"},
        {.id = (char *)"c1", .service = (char *)"web", .state = (char *)"running"},
    };
    struct orch_snap recreated[] = {
        {.id = (char *)"c1", .service = (char *)"web", .state = (char *)"running"},
        {.id = (char *)"c3", .service = (char *)"db", .state = (char *)"running"},
    };
    assert_false(orch_snap_changed(a, 3, same, 2)); /* a stop or a one-off gone: no */
    assert_true(orch_snap_changed(a, 3, recreated, 2));
    assert_true(orch_snap_changed(a, 3, a, 1));         /* one removed (scale down) */
    assert_true(orch_snap_changed(a, 1, a, 2));         /* one created */
    assert_true(orch_snap_changed(NULL, 0, a, 1));      /* the first up */
    assert_false(orch_snap_changed(NULL, 0, &a[2], 1)); /* only a one-off */
    assert_false(orch_snap_changed(NULL, 0, NULL, 0));
}

static const char *shop_yaml = "services:\n"
                               "  web:\n"
                               "    build: .\n"
                               "  db:\n"
                               "    image: postgres:${TAG}\n"
                               "  worker:\n"
                               "    image: busybox\n"
                               "  idle:\n"
                               "    image: busybox\n";

static void test_services_build(void **state)
{
    (void)state;
    char *dir = write_project(shop_yaml);
    struct compose_project *p = load(dir, NULL, 0);
    /* web is being deployed; db runs (replica 1 stopped, 2 running); worker has only a
     * one-off container; idle has none */
    struct orch_snap_target wants[1] = {
        {zp_strdup("web"), zp_strdup("sha256:new"), zp_strdup("hw")}};
    const struct fake f[] = {
        {"db", "sha256:db-old", "hdb-old", "exited", 1, false},
        {"db", "sha256:db", "hdb", "running", 2, false},
        {"web", "sha256:web-old", "hw-old", "running", 1, false},
        {"worker", "sha256:w", "hwk", "exited", 0, true},
        {"gone", "sha256:g", "hg", "running", 1, false},
    };
    struct orch_snap *obs = obs_of(f, 5);
    struct store_release_service *s = NULL;
    size_t n = 0;
    release_services_build(p->name, p->model, 4, wants, 1, obs, 5, &s, &n);
    assert_int_equal(n, 2);
    /* in the model's order: web, db (worker and idle have nothing running) */
    assert_string_equal(s[0].service, "web");
    assert_string_equal(s[0].image_ref, "rt-web");
    assert_string_equal(s[0].image_id, "sha256:new");
    assert_string_equal(s[0].config_hash, "hw");
    assert_string_equal(s[0].keep_tag, "zpanel-release/rt-web:4");
    assert_string_equal(s[1].service, "db");
    assert_string_equal(s[1].image_ref, "postgres:7");
    assert_string_equal(s[1].image_id, "sha256:db");
    assert_string_equal(s[1].config_hash, "hdb");
    assert_string_equal(s[1].keep_tag, "zpanel-release/rt-db:4");

    /* a release recorded from what runs (no wants): web's running container */
    struct store_release_service *s2 = NULL;
    size_t n2 = 0;
    release_services_build(p->name, p->model, 1, NULL, 0, obs, 5, &s2, &n2);
    assert_int_equal(n2, 2);
    assert_string_equal(s2[0].service, "web");
    assert_string_equal(s2[0].image_id, "sha256:web-old");
    assert_string_equal(s2[0].config_hash, "hw-old");
    assert_string_equal(s2[0].keep_tag, "zpanel-release/rt-web:1");
    assert_string_equal(s2[1].image_id, "sha256:db");

    /* compare: the release of what runs matches except the stopped db replica */
    struct store_release r = {.id = 1, .services = s2, .nservices = n2};
    char *diff = NULL;
    assert_int_equal(release_compare(&r, obs, 5, &diff), 1);
    assert_string_equal(diff, "db: 1 of 2 containers differ");
    free(diff);
    /* release 4 wants web's new hash: web differs too */
    r = (struct store_release){.id = 4, .services = s, .nservices = n};
    assert_int_equal(release_compare(&r, obs, 5, &diff), 2);
    assert_string_equal(diff, "web: 1 of 1 containers differ; db: 1 of 2 containers differ");
    free(diff);
    /* once deployed, with db's old replica gone, it matches */
    const struct fake after[] = {
        {"db", "sha256:db", "hdb", "running", 2, false},
        {"web", "sha256:new", "hw", "running", 1, false},
        {"web", "sha256:x", "other", "exited", 1, true}, /* one-offs do not count */
    };
    struct orch_snap *obs2 = obs_of(after, 3);
    assert_int_equal(release_compare(&r, obs2, 3, &diff), 0);
    assert_null(diff);
    /* and a service without containers is named */
    assert_int_equal(release_compare(&r, obs2, 1, &diff), 1); /* db only */
    assert_string_equal(diff, "web: no container");
    free(diff);

    orch_snap_free(obs2, 3);
    release_services_free(s, n);
    release_services_free(s2, n2);
    orch_snap_free(obs, 5);
    free(wants[0].service);
    free(wants[0].image_id);
    free(wants[0].config_hash);
    compose_project_free(p);
    const char *files[] = {"compose.yaml", NULL};
    rm_dir(dir, files);
}

/* ---- reloading a recorded model ---- */

static const char *tricky_yaml = "services:\n"
                                 "  app:\n"
                                 "    image: busybox:${TAG}\n"
                                 "    profiles: [debug]\n"
                                 "    env_file: app.env\n"
                                 "    environment:\n"
                                 "      PRICE: \"5$$\"\n"
                                 "      TAG: ${TAG}\n"
                                 "    command: [\"sh\", \"-c\", \"echo $${HOME}\"]\n"
                                 "  web:\n"
                                 "    build: .\n"
                                 "    healthcheck:\n"
                                 "      test: [\"CMD\", \"cat\", \"/ok\"]\n"
                                 "      interval: 1s\n"
                                 "    volumes: [\"./data:/data\"]\n";

static void test_load_model_round_trip(void **state)
{
    (void)state;
    char *dir = write_project(tricky_yaml);
    char *envf = zp_path_join(dir, "app.env");
    FILE *f = fopen(envf, "w");
    assert_non_null(f);
    fputs("FROM_FILE=1\n", f);
    fclose(f);
    const char *profiles[] = {"debug"};
    struct compose_project *p = load(dir, profiles, 1);
    char *json = release_model_json(p->model);
    assert_non_null(strstr(json, "\"5$$\""));
    assert_non_null(strstr(json, "echo $${HOME}"));
    /* the record stands alone: env_file's contents are in environment, the file is not
     * named, so a rollback neither rereads it nor fails once it is gone */
    assert_null(strstr(json, "env_file"));
    assert_non_null(strstr(json, "\"FROM_FILE\": \"1\""));
    assert_int_equal(unlink(envf), 0);
    struct store_release r = {.id = 3, .model_json = json};

    /* the state directory: the model file goes there and is removed afterwards */
    char tmpl[] = "/tmp/zp-release-state-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    struct compose_project *q = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(release_load_model(&r, tmpl, "rt", dir, &q, &d, &err), 0);
    assert_int_equal(d.errors, 0);
    zp_diags_release(&d);
    assert_int_equal(rmdir(tmpl), 0); /* empty again */
    assert_string_equal(q->name, "rt");
    assert_string_equal(q->workdir, p->workdir);

    /* the same services (the profiled one too) with the same definitions and hashes */
    const struct zp_node *a = zp_node_get(p->model, "services");
    const struct zp_node *b = zp_node_get(q->model, "services");
    assert_int_equal(a->n, 2);
    assert_int_equal(b->n, 2);
    for (size_t i = 0; i < a->n; i++) {
        const char *name = a->pairs[i].key->str;
        const struct zp_node *sb = zp_node_get(b, name);
        assert_non_null(sb);
        /* equal as `config` prints them (sorted keys), env_file aside */
        struct zp_buf ja = ZP_BUF_INIT, jb = ZP_BUF_INIT;
        struct zp_node *sa = zp_node_copy(a->pairs[i].value);
        zp_node_del(sa, "env_file");
        assert_int_equal(compose_emit_json(sa, false, &ja), 0);
        assert_int_equal(compose_emit_json(sb, false, &jb), 0);
        assert_string_equal(zp_buf_cstr(&ja), zp_buf_cstr(&jb));
        zp_buf_release(&ja);
        zp_buf_release(&jb);
        char h1[65], h2[65];
        orch_config_hash(sa, "sha256:x", h1);
        orch_config_hash(sb, "sha256:x", h2);
        assert_string_equal(h1, h2);
        zp_node_free(sa);
    }
    assert_string_equal(zp_node_get_str(zp_node_get(zp_node_get(b, "app"), "environment"), "PRICE"),
                        "5$");

    /* a model that does not load names the release */
    struct store_release bad = {.id = 9, .model_json = (char *)"services: [1, 2]\n"};
    struct compose_project *none = NULL;
    zp_diags_init(&d);
    zp_err_init(&err);
    char tmpl2[] = "/tmp/zp-release-state-XXXXXX";
    assert_non_null(mkdtemp(tmpl2));
    assert_int_not_equal(release_load_model(&bad, tmpl2, "rt", dir, &none, &d, &err), 0);
    assert_null(none);
    assert_true(d.errors > 0);
    assert_non_null(strstr(err.msg, "release 9"));
    zp_diags_release(&d);
    assert_int_equal(rmdir(tmpl2), 0);

    compose_project_free(q);
    compose_project_free(p);
    free(json);
    free(envf);
    const char *files[] = {"compose.yaml", "app.env", NULL};
    rm_dir(dir, files);
}

/* ---- the update lock ---- */

static void test_lock(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/zp-release-lock-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    struct zp_err err;
    zp_err_init(&err);
    int fd = -1, fd2 = -1;
    assert_int_equal(release_lock(tmpl, "shop", &fd, &err), 0);
    assert_true(fd >= 0);
    /* a second holder (another open file description) is refused while the first holds it */
    assert_int_equal(release_lock(tmpl, "shop", &fd2, &err), ZP_E_CONFLICT);
    assert_int_equal(fd2, -1);
    assert_non_null(strstr(err.msg, "project 'shop'"));
    /* another project has its own lock */
    int fd3 = -1;
    zp_err_init(&err);
    assert_int_equal(release_lock(tmpl, "other", &fd3, &err), 0);
    release_unlock(fd3);
    release_unlock(fd);
    zp_err_init(&err);
    assert_int_equal(release_lock(tmpl, "shop", &fd2, &err), 0);
    release_unlock(fd2);
    char *p1 = zp_path_join(tmpl, "shop.lock"), *p2 = zp_path_join(tmpl, "other.lock");
    assert_int_equal(unlink(p1), 0);
    assert_int_equal(unlink(p2), 0);
    free(p1);
    free(p2);
    assert_int_equal(rmdir(tmpl), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_tag_and_refs),     cmocka_unit_test(test_pick_target),
        cmocka_unit_test(test_obs_from_list),         cmocka_unit_test(test_services_build),
        cmocka_unit_test(test_load_model_round_trip), cmocka_unit_test(test_lock),
        cmocka_unit_test(test_snap_changed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

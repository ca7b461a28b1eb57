/* Unit tests for app/apps.c: the settings file round trip, validation, and the generated
 * compose file loaded by compose/ (image per commit, the Dockerfile inline with '$' kept,
 * environment, volumes, limits, the x-zpanel route, the published port). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/app.h"
#include "compose/compose.h"

#define SHA "0123456789abcdef0123456789abcdef01234567"
/* string literals in the settings structs (which own mutable strings elsewhere) */
#define S(x) ((char *)(x))

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/zp-app-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return zp_strdup(d);
}

static void rmrf(const char *d)
{
    char *cmd = zp_asprintf("rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static void test_settings(void **state)
{
    (void)state;
    char *st = tmpdir();
    char *env[] = {S("A=1"), S("QUOTE=say \"hi\" \\ $HOME\tend")};
    char *vols[] = {S("data:/data")};
    struct app_settings s = {.name = S("shop"),
                             .git = S("https://example.com/acme/shop.git"),
                             .branch = S("main"),
                             .domain = S("shop.example.com"),
                             .port = 8081,
                             .secret = S("0123456789abcdef"),
                             .env = env,
                             .nenv = 2,
                             .volumes = vols,
                             .nvolumes = 1};
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(app_save(st, &s, true, &err), 0);
    zp_err_init(&err);
    assert_int_equal(app_save(st, &s, true, &err), ZP_E_CONFLICT);
    struct app_settings l;
    zp_err_init(&err);
    assert_int_equal(app_load(st, "shop", &l, &err), 0);
    assert_string_equal(l.git, s.git);
    assert_string_equal(l.domain, s.domain);
    assert_int_equal(l.port, 8081);
    assert_int_equal(l.nenv, 2);
    assert_string_equal(l.env[1], env[1]);
    assert_string_equal(l.volumes[0], "data:/data");
    assert_null(l.commit);
    app_settings_release(&l);
    char **names;
    size_t n;
    assert_int_equal(app_list(st, &names, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "shop");
    free(names[0]);
    free(names);
    assert_int_equal(app_delete(st, "shop", &err), 0);
    zp_err_init(&err);
    assert_int_equal(app_load(st, "shop", &l, &err), ZP_E_NOTFOUND);

    /* validation names the flag */
    static const struct {
        const char *field, *value, *want;
    } bad[] = {
        {"name", "Bad/Name", "app name 'Bad/Name'"},
        {"git", "ftp://x", "--git 'ftp://x'"},
        {"domain", "not a host", "--domain"},
        {"env", "1A=x", "--env '1A=x'"},
        {"volume", "data", "--volume 'data'"},
        {"publish", "127.0.0.1:http", "--publish"},
        {"build_pack", "cobol", "unknown build pack 'cobol'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct app_settings b = {.name = S("ok"), .git = S("file:///r")};
        char *one[] = {(char *)bad[i].value};
        if (strcmp(bad[i].field, "name") == 0)
            b.name = (char *)bad[i].value;
        else if (strcmp(bad[i].field, "git") == 0)
            b.git = (char *)bad[i].value;
        else if (strcmp(bad[i].field, "domain") == 0)
            b.domain = (char *)bad[i].value;
        else if (strcmp(bad[i].field, "env") == 0)
            b.env = one, b.nenv = 1;
        else if (strcmp(bad[i].field, "volume") == 0)
            b.volumes = one, b.nvolumes = 1;
        else if (strcmp(bad[i].field, "publish") == 0)
            b.publish = (char *)bad[i].value;
        else
            b.build_pack = (char *)bad[i].value;
        zp_err_init(&err);
        assert_int_equal(app_settings_validate(&b, &err), ZP_E_INPUT);
        if (!strstr(err.msg, bad[i].want))
            fail_msg("want '%s', got '%s'", bad[i].want, err.msg);
    }
    rmrf(st);
    free(st);
}

static void test_compose(void **state)
{
    (void)state;
    struct app_plan plan;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(app_detect(ZP_TEST_DATA "/app/python-django", NULL, &plan, &err), 0);
    char *env[] = {S("SECRET=a$b\"c")};
    char *vols[] = {S("media:/app/media")};
    struct app_settings s = {.name = S("blog"),
                             .git = S("file:///srv/blog.git"),
                             .domain = S("blog.example.com"),
                             .publish = S("127.0.0.1:18000"),
                             .memory = S("256m"),
                             .env = env,
                             .nenv = 1,
                             .volumes = vols,
                             .nvolumes = 1};
    char *yaml = app_compose_generate(&s, &plan, SHA);
    char *dir = tmpdir();
    char *path = zp_path_join(dir, "compose.yaml");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(yaml, f);
    fclose(f);
    char *src = zp_path_join(dir, "src");
    assert_int_equal(zp_mkdir_p(src, 0700, &err), 0);

    const char *files[] = {path};
    struct compose_options co = {
        .files = files, .nfiles = 1, .project_name = "blog", .project_dir = dir, .cwd = dir};
    struct compose_project *p = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = compose_project_load(&co, &p, &d);
    if (rc) {
        char *r = d.n ? zp_diag_render(&d.items[0]) : zp_strdup("?");
        fail_msg("%s\n%s", r, yaml);
    }
    const struct zp_node *web = zp_node_get(zp_node_get(p->model, "services"), "web");
    assert_non_null(web);
    assert_string_equal(zp_node_get_str(web, "image"), "zpanel-app-blog:0123456789ab");
    const struct zp_node *build = zp_node_get(web, "build");
    /* the Dockerfile arrives exactly, its $PORT included */
    assert_string_equal(zp_node_get_str(build, "dockerfile_inline"), plan.dockerfile);
    assert_non_null(strstr(plan.dockerfile, "$PORT"));
    const struct zp_node *envn = zp_node_get(web, "environment");
    assert_string_equal(zp_node_get_str(envn, "SECRET"), "a$b\"c");
    assert_string_equal(zp_node_get_str(envn, "PORT"), "8000");
    assert_string_equal(zp_node_get_str(envn, "ZPANEL_GIT_COMMIT"), SHA);
    assert_string_equal(zp_node_get_str(zp_node_get(web, "labels"), "dev.zpanel.app.commit"), SHA);
    const struct zp_node *x = zp_node_get(web, "x-zpanel");
    assert_non_null(x);
    const struct zp_node *routes = zp_node_get(x, "routes");
    assert_non_null(routes);
    assert_true(zp_node_is_seq(routes));
    assert_non_null(zp_node_get(zp_node_get(p->model, "volumes"), "media"));
    assert_non_null(zp_node_get(web, "ports"));
    assert_non_null(zp_node_get(web, "deploy"));
    compose_project_free(p);
    zp_diags_release(&d);
    rmrf(dir);
    free(src);
    free(path);
    free(dir);
    free(yaml);
    app_plan_release(&plan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_compose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

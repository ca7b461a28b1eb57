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
    char *imgs[] = {S("python=zpanel-local/python:3"),
                    S("python-runtime=reg.local:5000/py@sha256:ab")};
    struct app_settings s = {.name = S("shop"),
                             .git = S("https://example.com/acme/shop.git"),
                             .branch = S("main"),
                             .domain = S("shop.example.com"),
                             .proxy = S("traefik"),
                             .port = 8081,
                             .secret = S("0123456789abcdef"),
                             .token = S("ghp_token_in_clear_nowhere"),
                             .env = env,
                             .nenv = 2,
                             .volumes = vols,
                             .nvolumes = 1,
                             .images = imgs,
                             .nimages = 2};
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
    assert_string_equal(l.proxy, "traefik");
    assert_int_equal(l.port, 8081);
    assert_int_equal(l.nenv, 2);
    assert_string_equal(l.env[1], env[1]);
    assert_string_equal(l.volumes[0], "data:/data");
    assert_int_equal(l.nimages, 2);
    assert_string_equal(l.images[1], imgs[1]);
    assert_string_equal(l.secret, "0123456789abcdef");
    assert_string_equal(l.token, "ghp_token_in_clear_nowhere");
    assert_null(l.commit);
    app_settings_release(&l);
    /* at rest: no secret, token or env value in clear; the keys and the rest are readable */
    char *path = zp_asprintf("%s/apps/shop/app.toml", st);
    char *text = NULL;
    size_t len;
    assert_int_equal(zp_file_read(path, 65536, &text, &len, &err), 0);
    assert_null(strstr(text, "0123456789abcdef"));
    assert_null(strstr(text, "ghp_token_in_clear_nowhere"));
    assert_null(strstr(text, "$HOME"));
    assert_null(strstr(text, "A=1"));
    assert_non_null(strstr(text, "secret = \"zpenc:v1:"));
    assert_non_null(strstr(text, "token = \"zpenc:v1:"));
    assert_non_null(strstr(text, "\"QUOTE=zpenc:v1:"));
    assert_non_null(strstr(text, "domain = \"shop.example.com\""));
    free(text);

    /* an app.toml written before values were sealed is read as it is */
    static const char legacy[] = "name = \"old\"\ngit = \"file:///r\"\n"
                                 "secret = \"legacy-secret-in-clear\"\n"
                                 "env = [\"DB=postgres://u:p@db/x\"]\n";
    char *odir = zp_asprintf("%s/apps/old", st);
    assert_int_equal(zp_mkdir_p(odir, 0700, &err), 0);
    char *opath = zp_asprintf("%s/app.toml", odir);
    FILE *f = fopen(opath, "w");
    assert_non_null(f);
    fputs(legacy, f);
    fclose(f);
    assert_int_equal(app_load(st, "old", &l, &err), 0);
    assert_string_equal(l.secret, "legacy-secret-in-clear");
    assert_string_equal(l.env[0], "DB=postgres://u:p@db/x");
    /* saved again: sealed from then on */
    assert_int_equal(app_save(st, &l, false, &err), 0);
    app_settings_release(&l);
    assert_int_equal(zp_file_read(opath, 65536, &text, &len, &err), 0);
    assert_null(strstr(text, "legacy-secret-in-clear"));
    assert_null(strstr(text, "postgres://"));
    free(text);
    assert_int_equal(app_load(st, "old", &l, &err), 0);
    assert_string_equal(l.env[0], "DB=postgres://u:p@db/x");
    app_settings_release(&l);
    assert_int_equal(app_delete(st, "old", &err), 0);

    /* a value sealed under another key: an error naming the file and the field */
    char *keyp = zp_asprintf("%s/secret.key", st);
    assert_int_equal(unlink(keyp), 0);
    zp_err_init(&err);
    assert_int_equal(app_load(st, "shop", &l, &err), ZP_E_INPUT);
    if (!strstr(err.msg, "app.toml: secret: cannot be decrypted"))
        fail_msg("got '%s'", err.msg);
    free(keyp);
    free(opath);
    free(odir);
    free(path);
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
        {"tls", "on", "--tls 'on'"},
        {"proxy", "nginx", "--proxy 'nginx'"},
        {"health", "up", "--health 'up'"},
        {"image", "cobol=x:1", "--image 'cobol=x:1'"},
        {"image", "python=a b", "--image 'python=a b'"},
        {"image", "python=x\nRUN id", "PROVIDER=IMAGE"},
        {"image", "node-runtime=", "--image 'node-runtime='"},
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
        else if (strcmp(bad[i].field, "image") == 0)
            b.images = one, b.nimages = 1;
        else if (strcmp(bad[i].field, "publish") == 0)
            b.publish = (char *)bad[i].value;
        else if (strcmp(bad[i].field, "tls") == 0)
            b.tls = (char *)bad[i].value;
        else if (strcmp(bad[i].field, "proxy") == 0)
            b.proxy = (char *)bad[i].value;
        else if (strcmp(bad[i].field, "health") == 0)
            b.health = (char *)bad[i].value;
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

/* previews: NAME-pr-N is reserved for them, and a preview never replaces another app nor
 * takes another app's host */
static void test_previews(void **state)
{
    (void)state;
    assert_true(app_name_reserved("shop-pr-1"));
    assert_true(app_name_reserved("a-pr-x-pr-12"));
    assert_false(app_name_reserved("shop-pr-"));
    assert_false(app_name_reserved("shop-pr-1a"));
    assert_false(app_name_reserved("shop-pr"));
    assert_false(app_name_reserved("pr-1"));
    assert_false(app_name_reserved("shop"));

    char *st = tmpdir();
    struct zp_err err;
    zp_err_init(&err);
    struct app_settings shop = {.name = S("shop"),
                                .git = S("file:///r"),
                                .domain = S("shop.example.com"),
                                .secret = S("0123456789abcdef")};
    assert_int_equal(app_save(st, &shop, true, &err), 0);
    struct app_settings bad = shop;
    bad.name = S("shop-pr-1");
    assert_int_equal(app_save(st, &bad, true, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "previews"));

    /* shop's own preview (written by the webhook, create false): fine, also again */
    struct app_settings pv = shop;
    pv.name = S("shop-pr-1");
    pv.domain = S("pr-1.shop.example.com");
    pv.preview_of = S("shop");
    zp_err_init(&err);
    assert_int_equal(app_preview_check(st, "shop", "shop-pr-1", pv.domain, &err), 0);
    assert_int_equal(app_save(st, &pv, false, &err), 0);
    assert_int_equal(app_preview_check(st, "shop", "shop-pr-1", pv.domain, &err), 0);
    struct app_settings l;
    assert_int_equal(app_load(st, "shop-pr-1", &l, &err), 0);
    assert_string_equal(l.preview_of, "shop");
    app_settings_release(&l);

    /* an app of that name that is not shop's preview (made before the names were reserved,
     * or a preview of another app): refused */
    struct app_settings other = shop;
    other.name = S("shop-pr-2");
    other.domain = S("other.example.com");
    assert_int_equal(app_save(st, &other, false, &err), 0);
    assert_int_equal(app_preview_check(st, "shop", "shop-pr-2", "pr-2.shop.example.com", &err),
                     ZP_E_CONFLICT);
    assert_non_null(strstr(err.msg, "not a preview of 'shop'"));

    /* another app routes the preview's host: refused */
    struct app_settings b = shop;
    b.name = S("b");
    b.domain = S("pr-3.shop.example.com");
    assert_int_equal(app_save(st, &b, true, &err), 0);
    zp_err_init(&err);
    assert_int_equal(app_preview_check(st, "shop", "shop-pr-3", "PR-3.shop.example.com", &err),
                     ZP_E_CONFLICT);
    assert_non_null(strstr(err.msg, "app 'b'"));
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
                             .tls = S("off"),
                             .proxy = S("traefik"),
                             .health = S("/up"),
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
    /* the file names the environment's keys; its values come from app_environ */
    assert_null(strstr(yaml, "a$b"));
    char **environ_app = app_environ(&s);
    struct compose_options co = {.files = files,
                                 .nfiles = 1,
                                 .project_name = "blog",
                                 .project_dir = dir,
                                 .cwd = dir,
                                 .environ = environ_app};
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
    assert_string_equal(zp_node_get_str(x, "tls"), "off");
    /* Traefik on request: the route becomes labels on the container (proxy/site.c) */
    assert_string_equal(zp_node_get_str(x, "proxy"), "traefik");
    assert_string_equal(zp_node_get_str(zp_node_get(x, "health"), "path"), "/up");
    assert_non_null(zp_node_get(zp_node_get(p->model, "volumes"), "media"));
    assert_non_null(zp_node_get(web, "ports"));
    assert_non_null(zp_node_get(web, "deploy"));
    compose_project_free(p);
    free(environ_app);
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
        cmocka_unit_test(test_previews),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for compose/normalize-zpanel.c: the canonical form of a service's x-zpanel
 * extension and the diagnostics (with line:col) for each mistake. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compose/compose-int.h"
#include "util/util.h"

static struct compose_env env;
static struct compose_ctx ctx;

static int setup(void **state)
{
    (void)state;
    compose_env_init(&env);
    ctx.file = zp_intern("compose.yaml");
    ctx.basedir = "/proj";
    ctx.env = &env;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    compose_env_release(&env);
    return 0;
}

/* Parse and normalise a whole file; returns the document (caller frees). */
static struct zp_node *norm(const char *yaml, struct zp_diags *d, int want_rc)
{
    struct zp_node *doc = NULL;
    assert_int_equal(compose__yaml_parse("compose.yaml", yaml, strlen(yaml), NULL, &doc, d), 0);
    int rc = compose__normalize_file(doc, &ctx, d);
    if (rc != want_rc) {
        for (size_t i = 0; i < d->n; i++) {
            char *r = zp_diag_render(&d->items[i]);
            print_error("%s\n", r);
            free(r);
        }
    }
    assert_int_equal(rc, want_rc);
    return doc;
}

static char *ext_json(struct zp_node *doc, const char *service)
{
    struct zp_node *x = zp_node_get(zp_node_get(zp_node_get(doc, "services"), service), "x-zpanel");
    assert_non_null(x);
    struct zp_buf b = ZP_BUF_INIT;
    compose_emit_json(x, false, &b);
    return zp_buf_detach(&b, NULL);
}

static void test_canonical_form(void **state)
{
    (void)state;
    struct zp_diags d;
    zp_diags_init(&d);
    struct zp_node *doc = norm("services:\n"
                               "  web:\n"
                               "    image: x\n"
                               "    x-zpanel:\n"
                               "      routes:\n"
                               "        - host: App.Example.COM\n"
                               "          port: \"8080\"\n"
                               "        - hosts: [a.example.com, \"*.b.example.com\"]\n"
                               "          path: /api\n"
                               "          port: 80\n"
                               "      tls: internal\n"
                               "      health: /up\n"
                               "      drain_timeout: 90\n"
                               "      proxy: traefik\n"
                               "  full:\n"
                               "    image: x\n"
                               "    x-zpanel:\n"
                               "      routes: [{hosts: h.test, paths: [/a, /b], port: 1}]\n"
                               "      health: {path: /health, interval: 500ms, timeout: 1m30s}\n"
                               "      tls: \"off\"\n",
                               &d, 0);
    assert_int_equal(d.errors, 0);
    char *j = ext_json(doc, "web");
    assert_string_equal(j, "{\"drain_timeout\":\"1m30s\",\"health\":{\"path\":\"/up\"},"
                           "\"proxy\":\"traefik\",\"routes\":[{\"hosts\":[\"app.example.com\"],"
                           "\"port\":8080},{\"hosts\":[\"a.example.com\",\"*.b.example.com\"],"
                           "\"paths\":[\"/api\"],\"port\":80}],\"tls\":\"internal\"}");
    free(j);
    j = ext_json(doc, "full");
    assert_string_equal(j, "{\"health\":{\"interval\":\"500ms\",\"path\":\"/health\","
                           "\"timeout\":\"1m30s\"},\"routes\":[{\"hosts\":[\"h.test\"],"
                           "\"paths\":[\"/a\",\"/b\"],\"port\":1}],\"tls\":\"off\"}");
    free(j);
    zp_node_free(doc);
    zp_diags_release(&d);
}

/* x-zpanel.database: a type or a map; the short form becomes the long one. */
static void test_database(void **state)
{
    (void)state;
    struct zp_diags d;
    zp_diags_init(&d);
    struct zp_node *doc = norm("services:\n"
                               "  pg:\n"
                               "    image: x\n"
                               "    x-zpanel:\n"
                               "      database: postgres\n"
                               "  my:\n"
                               "    image: x\n"
                               "    x-zpanel:\n"
                               "      database: {type: mysql, database: shop, user: app, "
                               "password_env: APP_PW}\n",
                               &d, 0);
    char *j = ext_json(doc, "pg");
    assert_string_equal(j, "{\"database\":{\"type\":\"postgres\"}}");
    free(j);
    j = ext_json(doc, "my");
    assert_string_equal(j, "{\"database\":{\"database\":\"shop\",\"password_env\":\"APP_PW\","
                           "\"type\":\"mysql\",\"user\":\"app\"}}");
    free(j);
    zp_node_free(doc);
    zp_diags_release(&d);

    zp_diags_init(&d);
    doc = norm("services:\n"
               "  a:\n"
               "    image: x\n"
               "    x-zpanel:\n"
               "      database: postgress\n"
               "  b:\n"
               "    image: x\n"
               "    x-zpanel:\n"
               "      database: {user: u, dbname: x}\n",
               &d, ZP_E_INPUT);
    zp_diags_sort(&d);
    struct zp_buf b = ZP_BUF_INIT;
    for (size_t i = 0; i < d.n; i++) {
        char *r = zp_diag_render(&d.items[i]);
        zp_buf_addf(&b, "%s\n", r);
        free(r);
    }
    const char *all = zp_buf_cstr(&b);
    if (!strstr(all, "compose.yaml:5:17: services.a.x-zpanel.database.type: invalid database "
                     "type 'postgress' (use postgres, mariadb, mysql, redis or mongodb), did you "
                     "mean "
                     "'postgres'?"))
        fail_msg("diagnostics: %s", all);
    if (!strstr(all, "missing required key 'type'") || !strstr(all, "dbname"))
        fail_msg("diagnostics: %s", all);
    zp_buf_release(&b);
    zp_node_free(doc);
    zp_diags_release(&d);
}

/* Every rendered diagnostic, one per line, sorted by position. */
static char *render_all(struct zp_diags *d)
{
    zp_diags_sort(d);
    struct zp_buf b = ZP_BUF_INIT;
    for (size_t i = 0; i < d->n; i++) {
        char *r = zp_diag_render(&d->items[i]);
        zp_buf_addf(&b, "%s\n", r);
        free(r);
    }
    return zp_buf_detach(&b, NULL);
}

static void expect_has(const char *all, const char *want)
{
    if (!strstr(all, want))
        fail_msg("diagnostics lack '%s':\n%s", want, all);
}

static void test_errors_with_positions(void **state)
{
    (void)state;
    struct zp_diags d;
    zp_diags_init(&d);
    struct zp_node *doc = norm("services:\n"
                               "  web:\n"
                               "    image: x\n"
                               "    x-zpanel:\n"
                               "      routes:\n"
                               "        - host: \"bad host\"\n"
                               "          path: api\n"
                               "          port: 70000\n"
                               "        - hosts: []\n"
                               "          prt: 1\n"
                               "        - host: a.test\n"
                               "          hosts: [b.test]\n"
                               "          port: x\n"
                               "        - port: 80\n"
                               "      tls: autoo\n"
                               "      health: {interval: 0s, timout: 1s}\n"
                               "      drain_timeout: soon\n"
                               "      proxy: nginx\n"
                               "      rutes: []\n",
                               &d, ZP_E_INPUT);
    char *all = render_all(&d);
    expect_has(all, "compose.yaml:6:17: services.web.x-zpanel.routes[0].host: invalid host name "
                    "'bad host'");
    expect_has(all, "compose.yaml:7:17: services.web.x-zpanel.routes[0].path: invalid path 'api': "
                    "must start with '/'");
    expect_has(all, "compose.yaml:8:17: services.web.x-zpanel.routes[0].port: 70000 is out of "
                    "range [1, 65535]");
    expect_has(all, "compose.yaml:9:18: services.web.x-zpanel.routes[1].hosts: needs at least one "
                    "host name");
    expect_has(all, "compose.yaml:10:11: services.web.x-zpanel.routes[1].prt: unknown key 'prt' "
                    "in route, did you mean 'port'?");
    expect_has(all, "compose.yaml:9:11: services.web.x-zpanel.routes[1]: missing required key "
                    "'port'");
    expect_has(all, "compose.yaml:12:11: services.web.x-zpanel.routes[2].hosts: use 'host' or "
                    "'hosts', not both");
    expect_has(all, "compose.yaml:13:17: services.web.x-zpanel.routes[2].port: must be an integer");
    expect_has(all, "compose.yaml:14:11: services.web.x-zpanel.routes[3]: missing required key "
                    "'host' (or 'hosts')");
    expect_has(all, "compose.yaml:15:12: services.web.x-zpanel.tls: invalid tls mode 'autoo' (use "
                    "auto, internal or off), did you mean 'auto'?");
    expect_has(all, "compose.yaml:16:15: services.web.x-zpanel.health: missing required key "
                    "'path'");
    expect_has(all, "compose.yaml:16:26: services.web.x-zpanel.health.interval: duration '0s' is "
                    "out of range");
    expect_has(all, "compose.yaml:16:30: services.web.x-zpanel.health.timout: unknown key "
                    "'timout' in health, did you mean 'timeout'?");
    expect_has(all, "compose.yaml:17:22: services.web.x-zpanel.drain_timeout: invalid duration "
                    "'soon'");
    expect_has(all, "compose.yaml:18:14: services.web.x-zpanel.proxy: invalid proxy 'nginx' (use "
                    "caddy or traefik)");
    expect_has(all, "compose.yaml:19:7: services.web.x-zpanel.rutes: unknown key 'rutes' in "
                    "x-zpanel, did you mean 'routes'?");
    free(all);
    zp_node_free(doc);
    zp_diags_release(&d);
}

static void test_shape_errors(void **state)
{
    (void)state;
    struct zp_diags d;
    zp_diags_init(&d);
    struct zp_node *doc = norm("services:\n"
                               "  a:\n"
                               "    image: x\n"
                               "    x-zpanel: [1]\n"
                               "  b:\n"
                               "    image: x\n"
                               "    x-zpanel:\n"
                               "      routes: {host: a}\n"
                               "      health: {path: up}\n"
                               "  c:\n"
                               "    image: x\n"
                               "    x-zpanel:\n"
                               "      routes: [a.test]\n",
                               &d, ZP_E_INPUT);
    char *all = render_all(&d);
    expect_has(all, "compose.yaml:4:15: services.a.x-zpanel: must be a mapping, not a sequence");
    expect_has(all, "compose.yaml:8:15: services.b.x-zpanel.routes: must be a sequence, not a "
                    "mapping");
    expect_has(all, "compose.yaml:9:22: services.b.x-zpanel.health.path: invalid path 'up'");
    expect_has(all, "compose.yaml:13:16: services.c.x-zpanel.routes[0]: must be a mapping, not a "
                    "string");
    free(all);
    zp_node_free(doc);
    zp_diags_release(&d);
}

/* An override file that sets only the port keeps the base file's TLS mode: defaults are
 * not filled in by the normaliser. */
static void test_override_keeps_base(void **state)
{
    (void)state;
    char dir[] = "/tmp/zp-zpanel-ext-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *f1 = zp_path_join(dir, "compose.yaml");
    char *f2 = zp_path_join(dir, "compose.override.yaml");
    FILE *fp = fopen(f1, "w");
    assert_non_null(fp);
    fputs("name: ext\nservices:\n  web:\n    image: x\n    x-zpanel:\n      tls: \"off\"\n"
          "      routes: [{host: a.test, port: 80}]\n",
          fp);
    fclose(fp);
    fp = fopen(f2, "w");
    assert_non_null(fp);
    fputs("services:\n  web:\n    x-zpanel:\n      drain_timeout: 5s\n", fp);
    fclose(fp);
    struct compose_options o;
    memset(&o, 0, sizeof(o));
    o.cwd = dir;
    char *const environ_empty[] = {NULL};
    o.environ = environ_empty;
    struct compose_project *p = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    assert_int_equal(compose_project_load(&o, &p, &d), 0);
    struct zp_node *x =
        zp_node_get(zp_node_get(zp_node_get(p->model, "services"), "web"), "x-zpanel");
    assert_string_equal(zp_node_get_str(x, "tls"), "off");
    assert_string_equal(zp_node_get_str(x, "drain_timeout"), "5s");
    assert_int_equal(zp_node_get(x, "routes")->n, 1);
    compose_project_free(p);
    zp_diags_release(&d);
    unlink(f1);
    unlink(f2);
    rmdir(dir);
    free(f1);
    free(f2);
}

/* share_hosts_with: a project name or a list of them, each checked with its position. */
static void test_share_hosts_with(void **state)
{
    (void)state;
    struct zp_diags d;
    zp_diags_init(&d);
    struct zp_node *doc = norm("services:\n"
                               "  web:\n"
                               "    image: x\n"
                               "    x-zpanel:\n"
                               "      routes: [{host: a.test, port: 80}]\n"
                               "      share_hosts_with: blog\n"
                               "  api:\n"
                               "    image: x\n"
                               "    x-zpanel:\n"
                               "      routes: [{host: a.test, path: /api, port: 80}]\n"
                               "      share_hosts_with: [blog, shop-2_x]\n",
                               &d, 0);
    assert_int_equal(d.errors, 0);
    char *j = ext_json(doc, "web");
    assert_string_equal(j, "{\"routes\":[{\"hosts\":[\"a.test\"],\"port\":80}],"
                           "\"share_hosts_with\":[\"blog\"]}");
    free(j);
    j = ext_json(doc, "api");
    assert_non_null(strstr(j, "\"share_hosts_with\":[\"blog\",\"shop-2_x\"]"));
    free(j);
    zp_node_free(doc);
    zp_diags_release(&d);

    zp_diags_init(&d);
    doc = norm("services:\n"
               "  web:\n"
               "    image: x\n"
               "    x-zpanel:\n"
               "      routes: [{host: a.test, port: 80}]\n"
               "      share_hosts_with: [ok, Blog, -x]\n"
               "  api:\n"
               "    image: x\n"
               "    x-zpanel:\n"
               "      routes: [{host: a.test, port: 80}]\n"
               "      share_hosts_with: {blog: 1}\n",
               &d, ZP_E_INPUT);
    char *all = render_all(&d);
    expect_has(all, "compose.yaml:6:30: services.web.x-zpanel.share_hosts_with[1]: invalid "
                    "project name 'Blog'");
    expect_has(all, "compose.yaml:6:36: services.web.x-zpanel.share_hosts_with[2]: invalid "
                    "project name '-x'");
    expect_has(all, "compose.yaml:11:25: services.api.x-zpanel.share_hosts_with");
    free(all);
    zp_node_free(doc);
    zp_diags_release(&d);
}

/* x-zpanel.exclude_from_health: a boolean ("true" as a string too); anything else is an
 * error at its position. */
static void test_exclude_from_health(void **state)
{
    (void)state;
    struct zp_diags d;
    zp_diags_init(&d);
    struct zp_node *doc = norm("services:\n"
                               "  a:\n"
                               "    image: x\n"
                               "    x-zpanel: {exclude_from_health: true}\n"
                               "  b:\n"
                               "    image: x\n"
                               "    x-zpanel: {exclude_from_health: \"false\"}\n",
                               &d, 0);
    char *j = ext_json(doc, "a");
    assert_string_equal(j, "{\"exclude_from_health\":true}");
    free(j);
    j = ext_json(doc, "b");
    assert_string_equal(j, "{\"exclude_from_health\":false}");
    free(j);
    zp_node_free(doc);
    zp_diags_release(&d);
    zp_diags_init(&d);
    doc = norm("services:\n  a:\n    image: x\n    x-zpanel:\n      exclude_from_health: maybe\n",
               &d, ZP_E_INPUT);
    char *all = render_all(&d);
    expect_has(all, "compose.yaml:5:28: services.a.x-zpanel.exclude_from_health");
    free(all);
    zp_node_free(doc);
    zp_diags_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_form),
        cmocka_unit_test(test_errors_with_positions),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_override_keeps_base),
        /* the owner's consent to share its hosts */
        cmocka_unit_test(test_share_hosts_with),
        cmocka_unit_test(test_database),
        cmocka_unit_test(test_exclude_from_health),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests for app/'s readers: the TOML subset, the Procfile, package.json. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/app-int.h"

static void toml_ok(const char *text, struct app_toml *t)
{
    struct zp_err err;
    zp_err_init(&err);
    if (app__toml_parse("t.toml", text, strlen(text), t, &err) != 0)
        fail_msg("%s", err.msg);
}

static void toml_bad(const char *text, const char *want)
{
    struct zp_err err;
    struct app_toml t;
    zp_err_init(&err);
    assert_int_not_equal(app__toml_parse("t.toml", text, strlen(text), &t, &err), 0);
    char *r = zp_err_render(&err);
    if (!strstr(r, want))
        fail_msg("want '%s', got '%s'", want, r);
    free(r);
    app__toml_release(&t);
}

static void test_toml(void **state)
{
    (void)state;
    struct app_toml t;
    toml_ok("# top\n"
            "title = \"x\\ty\\u00e9\" # comment\n"
            "lit = 'C:\\path'\n"
            "n = 1_000\n"
            "neg = -5\n"
            "f = 3.25\n"
            "on = true\n"
            "d = 1979-05-27T07:32:00Z\n"
            "ml = \"\"\"\nline1\\\n   line2\"\"\"\n"
            "mll = '''\nraw\\n'''\n"
            "[tool.poetry]\n"
            "\"quoted key\" = 1\n"
            "a.b = \"dotted\"\n"
            "deps = { flask = \"^3\", x = { y = 1 } }\n"
            "arr = [\n  \"a\", # c\n  [1, 2],\n  { k = 1 },\n]\n"
            "[[bin]]\nname = \"one\"\n[[bin]]\nname = \"two\"\n",
            &t);
    assert_string_equal(app__toml_str(&t, "title"), "x\ty\xc3\xa9");
    assert_string_equal(app__toml_str(&t, "lit"), "C:\\path");
    assert_int_equal(app__toml_get(&t, "n")->i, 1000);
    assert_int_equal(app__toml_get(&t, "neg")->i, -5);
    assert_int_equal(app__toml_get(&t, "f")->type, APP_TOML_FLOAT);
    assert_true(app__toml_get(&t, "on")->b);
    assert_int_equal(app__toml_get(&t, "d")->type, APP_TOML_DATE);
    assert_string_equal(app__toml_str(&t, "ml"), "line1line2");
    assert_string_equal(app__toml_str(&t, "mll"), "raw\\n");
    assert_int_equal(app__toml_get(&t, "tool.poetry.quoted key")->i, 1);
    assert_string_equal(app__toml_str(&t, "tool.poetry.a.b"), "dotted");
    assert_string_equal(app__toml_str(&t, "tool.poetry.deps.flask"), "^3");
    const struct app_toml_val *arr = app__toml_get(&t, "tool.poetry.arr");
    assert_int_equal(arr->type, APP_TOML_ARRAY);
    assert_int_equal(arr->n, 3);
    assert_int_equal(arr->items[1].n, 2);
    assert_int_equal(arr->items[2].type, APP_TOML_TABLE);
    assert_int_equal(arr->pos.line, 18);
    assert_string_equal(app__toml_str(&t, "bin[0].name"), "one");
    assert_string_equal(app__toml_str(&t, "bin[1].name"), "two");
    app__toml_release(&t);

    toml_bad("a = 1\na = 2\n", "t.toml:2:1: duplicate key 'a'");
    toml_bad("a = \"x\n", "t.toml:1:7: newline in a single-line string");
    toml_bad("a = bare\n", "t.toml:1:5: invalid value (strings need quotes)");
    toml_bad("a = 1 b = 2\n", "t.toml:1:7: expected the end of the line");
    toml_bad("[a\nx=1\n", "t.toml:1:3: expected ']'");
    toml_bad("a = [1, 2\n", "expected ',' or ']' in an array");
    toml_bad("a = \"\\q\"\n", "t.toml:1:6: invalid escape");
    toml_bad("a = \"\\uD800\"\n", "invalid unicode scalar value");
    toml_bad("a = 01\n", "invalid value");
    toml_bad("= 1\n", "t.toml:1:1: expected a key");
    /* nesting is capped */
    char deep[200];
    memset(deep, '[', sizeof(deep));
    memcpy(deep, "a = ", 4);
    deep[sizeof(deep) - 1] = '\0';
    toml_bad(deep, "nested deeper than 32 levels");
}

static void test_procfile(void **state)
{
    (void)state;
    struct app_procfile p;
    struct zp_err err;
    zp_err_init(&err);
    const char *ok = "# comment\r\nweb:  bundle exec puma -p $PORT  \r\n\nworker: sidekiq\n";
    assert_int_equal(app__procfile_parse("Procfile", ok, strlen(ok), &p, &err), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(app__procfile_get(&p, "web"), "bundle exec puma -p $PORT");
    assert_string_equal(app__procfile_get(&p, "worker"), "sidekiq");
    assert_null(app__procfile_get(&p, "release"));
    app__procfile_release(&p);

    static const char *const bad[][2] = {
        {"web node a.js\n", "Procfile:1:4: expected 'NAME: COMMAND'"},
        {"web:\n", "Procfile:1:5: empty command"},
        {"web: a\nweb: b\n", "Procfile:2:1: duplicate process type 'web'"},
        {"w\x01: a\n", "Procfile:1:2: control character"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        zp_err_init(&err);
        assert_int_equal(app__procfile_parse("Procfile", bad[i][0], strlen(bad[i][0]), &p, &err),
                         ZP_E_INPUT);
        char *r = zp_err_render(&err);
        if (!strstr(r, bad[i][1]))
            fail_msg("want '%s', got '%s'", bad[i][1], r);
        free(r);
        app__procfile_release(&p);
    }
}

/* The SSH port of a git URL, as host_known and the host key check see it. */
static void test_git_ssh_port(void **state)
{
    (void)state;
    assert_int_equal(app__git_ssh_port("ssh://git@example.test/org/repo.git"), 22);
    assert_int_equal(app__git_ssh_port("ssh://git@example.test:2222/org/repo.git"), 2222);
    assert_int_equal(app__git_ssh_port("ssh://example.test:7999/repo"), 7999);
    assert_int_equal(app__git_ssh_port("ssh://git@[::1]:2222/repo"), 2222);
    assert_int_equal(app__git_ssh_port("ssh://git@[::1]/repo"), 22);
    assert_int_equal(app__git_ssh_port("ssh://u@h:p@x:2200/r"),
                     2200); /* the last @ ends the user */
    assert_int_equal(app__git_ssh_port("ssh://host:22a/repo"), -1);
    assert_int_equal(app__git_ssh_port("ssh://host:0/repo"), -1);
    assert_int_equal(app__git_ssh_port("ssh://host:65536/repo"), -1);
    assert_int_equal(app__git_ssh_port("ssh://host:"), -1);
    assert_int_equal(app__git_ssh_port("ssh://host/path:with:colons"), 22);
    assert_int_equal(app__git_ssh_port("git@example.test:org/repo.git"), 22);
    assert_int_equal(app__git_ssh_port("https://example.test:8443/repo"), 22);
}

static void test_pkgjson(void **state)
{
    (void)state;
    struct app_pkgjson p;
    struct zp_err err;
    zp_err_init(&err);
    const char *ok = "{\"name\":\"a\",\"main\":\"s.js\",\"packageManager\":\"pnpm@9.1.0\","
                     "\"scripts\":{\"start\":\"node s.js\",\"build\":\"tsc\"},"
                     "\"dependencies\":{\"express\":\"4\"},\"devDependencies\":{\"vite\":\"5\"}}";
    assert_int_equal(app__pkgjson_parse("package.json", ok, strlen(ok), false, &p, &err), 0);
    assert_string_equal(p.name, "a");
    assert_string_equal(p.main, "s.js");
    assert_string_equal(p.package_manager, "pnpm");
    assert_string_equal(p.start, "node s.js");
    assert_string_equal(p.build, "tsc");
    assert_true(app__pkgjson_has_dep(&p, "express"));
    assert_true(app__pkgjson_has_dep(&p, "vite"));
    assert_false(app__pkgjson_has_dep(&p, "next"));
    app__pkgjson_release(&p);

    static const char *const bad[][2] = {
        {"[1]", "package.json: expected a JSON object"},
        {"{\"scripts\":{\"start\":1}}", "package.json: scripts.start: expected a string"},
        {"{\"main\":[]}", "package.json: main: expected a string"},
        {"{\"a\":1,\"a\":2}", "package.json:1:"},
        {"{\n\"dependencies\": 5}", "dependencies: expected an object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        zp_err_init(&err);
        assert_int_equal(
            app__pkgjson_parse("package.json", bad[i][0], strlen(bad[i][0]), false, &p, &err),
            ZP_E_INPUT);
        char *r = zp_err_render(&err);
        if (!strstr(r, bad[i][1]))
            fail_msg("want '%s', got '%s'", bad[i][1], r);
        free(r);
        app__pkgjson_release(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_toml),
        cmocka_unit_test(test_procfile),
        cmocka_unit_test(test_pkgjson),
        cmocka_unit_test(test_git_ssh_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for compose/interp.c: every ${VAR} form, messages, and tree walking. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "compose/compose-int.h"
#include "util/util.h"

static struct compose_env env;

static int setup(void **state)
{
    (void)state;
    compose_env_init(&env);
    compose_env_set(&env, "A", "a");
    compose_env_set(&env, "B", "bee");
    compose_env_set(&env, "EMPTY", "");
    compose_env_set(&env, "NUM", "3");
    compose_env_set(&env, "REF", "${A}");
    compose_env_set(&env, "lower_1", "low");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    compose_env_release(&env);
    return 0;
}

/* Interpolate in, expecting success; returns the result (caller frees). */
static char *ok(const char *in, struct zp_diags *d)
{
    char *out = NULL;
    assert_int_equal(compose__interp_string(in, &env, NULL, NULL, &out, d), 0);
    assert_non_null(out);
    return out;
}

/* Interpolate in, expecting exactly want and no diagnostic. */
static void expect(const char *in, const char *want)
{
    struct zp_diags d;
    zp_diags_init(&d);
    char *out = ok(in, &d);
    assert_string_equal(out, want);
    assert_int_equal(d.n, 0);
    free(out);
    zp_diags_release(&d);
}

/* Interpolate in at compose.yaml:3:12 with path, expecting one error rendered as want. */
static void expect_error(const char *in, const char *path, const char *want)
{
    struct zp_diags d;
    zp_diags_init(&d);
    struct zp_pos pos = {zp_intern("compose.yaml"), 3, 12};
    char *out = (char *)0x1;
    assert_int_equal(compose__interp_string(in, &env, &pos, path, &out, &d), ZP_E_INPUT);
    assert_ptr_equal(out, (char *)0x1); /* ret untouched on failure */
    assert_int_equal(d.errors, 1);
    size_t i = 0;
    while (d.items[i].sev != ZP_SEV_ERROR)
        i++;
    char *r = zp_diag_render(&d.items[i]);
    assert_string_equal(r, want);
    free(r);
    zp_diags_release(&d);
}

static void test_no_dollar_unchanged(void **state)
{
    (void)state;
    expect("", "");
    expect("nginx:1.25", "nginx:1.25");
    expect("{a} }{ \\ # ' \"", "{a} }{ \\ # ' \"");
}

static void test_simple_forms(void **state)
{
    (void)state;
    expect("$A", "a");
    expect("${A}", "a");
    expect("x${A}y$B.z", "xaybee.z");
    expect("$A$B${A}", "abeea");
    expect("$lower_1", "low");
    expect("${lower_1}", "low");
    expect("$A-$B", "a-bee");
    expect("${EMPTY}|$EMPTY", "|");
    /* values are not interpolated again */
    expect("$REF", "${A}");
}

static void test_dollar_escape_and_literals(void **state)
{
    (void)state;
    expect("$$", "$");
    expect("$$A", "$A");
    expect("$${A}", "${A}");
    expect("$$$A", "$a");
    expect("a$$$$b", "a$$b");
    expect("$", "$");
    expect("cost: 5$", "cost: 5$");
    expect("$1", "$1");
    expect("$1abc", "$1abc");
    expect("$-x", "$-x");
    expect("$ {A}", "$ {A}");
    expect("$.$/", "$.$/");
    expect("{A}}", "{A}}");
}

static void test_default_forms(void **state)
{
    (void)state;
    expect("${UNSET:-def}", "def");
    expect("${EMPTY:-def}", "def");
    expect("${A:-def}", "a");
    expect("${UNSET-def}", "def");
    expect("${EMPTY-def}", "");
    expect("${A-def}", "a");
    expect("${UNSET:-}", "");
    expect("${UNSET:-a b:c-d}", "a b:c-d");
    expect("${UNSET:-$$}", "$");
    expect("${UNSET:-{x}", "{x");
}

static void test_replacement_forms(void **state)
{
    (void)state;
    expect("${A:+yes}", "yes");
    expect("${EMPTY:+yes}", "");
    expect("${UNSET:+yes}", "");
    expect("${A+yes}", "yes");
    expect("${EMPTY+yes}", "yes");
    expect("${UNSET+yes}", "");
}

static void test_required_forms(void **state)
{
    (void)state;
    expect("${A:?need A}", "a");
    expect("${A?need A}", "a");
    expect("${EMPTY?need it}", "");
    expect_error("${DB_PASS:?set it in .env}", "services.db.environment.PASSWORD",
                 "compose.yaml:3:12: services.db.environment.PASSWORD: required variable "
                 "'DB_PASS' is missing a value: set it in .env");
    expect_error("${EMPTY:?empty is not enough}", "x",
                 "compose.yaml:3:12: x: required variable 'EMPTY' is missing a value: empty is "
                 "not enough");
    expect_error("${DB_PASS?}", "services.db.image",
                 "compose.yaml:3:12: services.db.image: required variable 'DB_PASS' is missing "
                 "a value");
    expect_error("${DB_PASS:?}", NULL,
                 "compose.yaml:3:12: required variable 'DB_PASS' is missing a value");
    /* the message is interpolated too */
    expect_error("${DB_PASS?$A and ${B} are set}", "p",
                 "compose.yaml:3:12: p: required variable 'DB_PASS' is missing a value: a and "
                 "bee are set");
}

static void test_nested(void **state)
{
    (void)state;
    expect("${UNSET:-${A}}", "a");
    expect("${UNSET:-${UNSET2:-deep}}", "deep");
    expect("${UNSET:-x${UNSET2:-${B}}y}z", "xbeeyz");
    expect("${A:+[${B}]}", "[bee]");
    expect("${UNSET-$A}", "a");
    expect("${UNSET:-${A:+${B:-no}}}", "bee");
    expect("${UNSET:-$${A}}", "${A}");
}

static char *nest(int levels)
{
    struct zp_buf b = ZP_BUF_INIT;
    for (int i = 0; i < levels; i++)
        zp_buf_adds(&b, "${UNSET:-");
    zp_buf_adds(&b, "end");
    for (int i = 0; i < levels; i++)
        zp_buf_addc(&b, '}');
    return zp_buf_detach(&b, NULL);
}

static void test_nesting_cap(void **state)
{
    (void)state;
    char *in = nest(32);
    expect(in, "end");
    free(in);
    in = nest(33);
    expect_error(in, "a.b",
                 "compose.yaml:3:12: a.b: interpolation nested too deeply: more than 32 levels");
    free(in);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    expect_error("${FOO", "services.web.image",
                 "compose.yaml:3:12: services.web.image: invalid interpolation format: '${FOO'");
    expect_error("${}", "x", "compose.yaml:3:12: x: invalid interpolation format: '${}'");
    expect_error("a${1A}", "x", "compose.yaml:3:12: x: invalid interpolation format: 'a${1A}'");
    expect_error("${A:x}", "x", "compose.yaml:3:12: x: invalid interpolation format: '${A:x}'");
    expect_error("${A/x/y}", "x", "compose.yaml:3:12: x: invalid interpolation format: '${A/x/y}'");
    expect_error("${ A}", "x", "compose.yaml:3:12: x: invalid interpolation format: '${ A}'");
    expect_error("${A }", "x", "compose.yaml:3:12: x: invalid interpolation format: '${A }'");
    expect_error("${A:}", "x", "compose.yaml:3:12: x: invalid interpolation format: '${A:}'");
    expect_error("${UNSET:-${B}", "x",
                 "compose.yaml:3:12: x: invalid interpolation format: '${UNSET:-${B}'");
    /* an error inside a default that is used */
    expect_error("${UNSET:-${}}", "x",
                 "compose.yaml:3:12: x: invalid interpolation format: '${UNSET:-${}}'");
    /* no path, no position */
    struct zp_diags d;
    zp_diags_init(&d);
    char *out = NULL;
    assert_int_equal(compose__interp_string("${", &env, NULL, NULL, &out, &d), ZP_E_INPUT);
    assert_null(out);
    char *r = zp_diag_render(&d.items[0]);
    assert_string_equal(r, "invalid interpolation format: '${'");
    free(r);
    zp_diags_release(&d);
}

static void test_long_input_quoted_short(void **state)
{
    (void)state;
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_adds(&b, "${");
    for (int i = 0; i < 300; i++)
        zp_buf_addc(&b, 'x');
    struct zp_diags d;
    zp_diags_init(&d);
    char *out = NULL;
    assert_int_equal(compose__interp_string(zp_buf_cstr(&b), &env, NULL, "k", &out, &d),
                     ZP_E_INPUT);
    assert_int_equal(d.n, 1);
    /* 120 bytes of the input, then "..." */
    assert_int_equal(strlen(d.items[0].msg), strlen("invalid interpolation format: ''") + 123);
    assert_true(zp_str_has_suffix(d.items[0].msg, "xxx...'"));
    zp_diags_release(&d);
    zp_buf_release(&b);
}

static void test_unset_warning(void **state)
{
    (void)state;
    struct zp_diags d;
    zp_diags_init(&d);
    struct zp_pos pos = {zp_intern("compose.yaml"), 4, 12};
    char *out = NULL;
    assert_int_equal(
        compose__interp_string("nginx:${TAG}", &env, &pos, "services.web.image", &out, &d), 0);
    assert_string_equal(out, "nginx:");
    assert_int_equal(d.n, 1);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.items[0].sev, ZP_SEV_WARNING);
    char *r = zp_diag_render(&d.items[0]);
    assert_string_equal(r, "warning: compose.yaml:4:12: services.web.image: variable 'TAG' is "
                           "not set, using an empty string");
    free(r);
    free(out);
    zp_diags_release(&d);
}

static void test_unset_warning_once_per_variable(void **state)
{
    (void)state;
    struct zp_diags d;
    zp_diags_init(&d);
    char *out = ok("$X ${X} $Y ${UNSET:-$X} $X", &d);
    assert_string_equal(out, "    ");
    assert_int_equal(d.n, 2);
    assert_string_equal(d.items[0].msg, "variable 'X' is not set, using an empty string");
    assert_string_equal(d.items[1].msg, "variable 'Y' is not set, using an empty string");
    free(out);
    zp_diags_release(&d);

    /* a default, an empty value or an unused branch: no warning */
    expect("${UNSET:-x}${EMPTY}${A:-$NOPE}${UNSET:+$NOPE}x", "xax");

    /* a second call warns again */
    zp_diags_init(&d);
    out = ok("$X", &d);
    free(out);
    out = ok("$X", &d);
    free(out);
    assert_int_equal(d.n, 2);
    zp_diags_release(&d);
}

static void test_null_env(void **state)
{
    (void)state;
    struct zp_diags d;
    zp_diags_init(&d);
    char *out = NULL;
    assert_int_equal(compose__interp_string("[$A|${B:-b}]", NULL, NULL, NULL, &out, &d), 0);
    assert_string_equal(out, "[|b]");
    assert_int_equal(d.n, 1);
    assert_string_equal(d.items[0].msg, "variable 'A' is not set, using an empty string");
    free(out);
    zp_diags_release(&d);
}

static void test_output_cap(void **state)
{
    (void)state;
    char *big = zp_malloc(600 * 1024 + 1);
    memset(big, 'x', 600 * 1024);
    big[600 * 1024] = '\0';
    compose_env_set(&env, "BIG", big);
    free(big);

    struct zp_diags d;
    zp_diags_init(&d);
    char *out = ok("$BIG", &d);
    assert_int_equal(strlen(out), 600 * 1024);
    free(out);
    zp_diags_release(&d);

    expect_error("$BIG$BIG", "services.web.command",
                 "compose.yaml:3:12: services.web.command: interpolated value too big: more "
                 "than 1048576 bytes");
    expect_error("${UNSET:-$BIG$BIG}", "x",
                 "compose.yaml:3:12: x: interpolated value too big: more than 1048576 bytes");

    /* a long string without '$' is not subject to the cap */
    char *plain = zp_malloc(2 * 1024 * 1024 + 1);
    memset(plain, 'y', 2 * 1024 * 1024);
    plain[2 * 1024 * 1024] = '\0';
    zp_diags_init(&d);
    out = ok(plain, &d);
    assert_string_equal(out, plain);
    free(out);
    free(plain);
    zp_diags_release(&d);
}

/* ---- trees ---- */

static struct zp_pos at(int line, int col)
{
    struct zp_pos p = {zp_intern("compose.yaml"), line, col};
    return p;
}

static struct zp_node *plain(const char *s, int line, int col)
{
    struct zp_pos p = at(line, col);
    return zp_node_new_str(s, &p);
}

static struct zp_node *quoted(const char *s, int line, int col)
{
    struct zp_node *n = plain(s, line, col);
    n->flags |= ZP_NODE_QUOTED;
    return n;
}

/* services: {web: {image: "nginx:${TAG}", ports: ["${PORT:-80}:80", "$A"],
 * labels: {com.example.x: $B, $A: key}, command: '$A'}} */
static struct zp_node *sample_doc(void)
{
    struct zp_node *doc = zp_node_new_map(NULL);
    struct zp_node *services = zp_node_new_map(NULL);
    struct zp_node *web = zp_node_new_map(NULL);
    zp_node_set(web, "image", plain("nginx:${TAG}", 3, 12));
    struct zp_node *ports = zp_node_new_seq(NULL);
    zp_node_push(ports, quoted("${PORT:-80}:80", 5, 9));
    zp_node_push(ports, plain("$A", 6, 9));
    zp_node_set(web, "ports", ports);
    struct zp_node *labels = zp_node_new_map(NULL);
    zp_node_set(labels, "com.example.x", plain("$B", 8, 24));
    zp_node_set(labels, "$A", plain("key", 9, 11));
    zp_node_set(labels, "a.$${B}", plain("escaped", 10, 11));
    zp_node_set(labels, "x$$y", plain("first", 11, 11));
    zp_node_set(labels, "x$y", plain("taken", 12, 11));
    zp_node_set(web, "labels", labels);
    struct zp_node *cmd = plain("$A", 10, 14);
    cmd->flags |= ZP_NODE_NOINTERP;
    zp_node_set(web, "command", cmd);
    zp_node_set(services, "web", web);
    zp_node_set(doc, "services", services);
    return doc;
}

static void test_tree_paths_and_values(void **state)
{
    (void)state;
    struct zp_node *doc = sample_doc();
    struct zp_diags d;
    zp_diags_init(&d);
    assert_int_equal(compose__interp_tree(doc, &env, "", &d), 0);
    struct zp_node *web = zp_node_get(zp_node_get(doc, "services"), "web");
    assert_string_equal(zp_node_get_str(web, "image"), "nginx:");
    struct zp_node *ports = zp_node_get(web, "ports");
    assert_string_equal(ports->items[0]->str, "80:80");
    assert_int_equal(ports->items[0]->type, ZP_STR);
    assert_string_equal(ports->items[1]->str, "a");
    struct zp_node *labels = zp_node_get(web, "labels");
    assert_string_equal(zp_node_get_str(labels, "com.example.x"), "bee");
    /* keys are not interpolated */
    assert_string_equal(zp_node_get_str(labels, "$A"), "key");
    /* but `$$` in a key reads as `$` (config prints keys escaped), unless that would
     * give a key the map already has */
    assert_string_equal(zp_node_get_str(labels, "a.${B}"), "escaped");
    assert_null(zp_node_get(labels, "a.$${B}"));
    assert_string_equal(zp_node_get_str(labels, "x$$y"), "first");
    assert_string_equal(zp_node_get_str(labels, "x$y"), "taken");
    /* NOINTERP values are left alone */
    assert_string_equal(zp_node_get_str(web, "command"), "$A");

    assert_int_equal(d.n, 1);
    char *r = zp_diag_render(&d.items[0]);
    assert_string_equal(r, "warning: compose.yaml:3:12: services.web.image: variable 'TAG' is "
                           "not set, using an empty string");
    free(r);
    zp_diags_release(&d);
    zp_node_free(doc);
}

static void test_tree_errors_collected(void **state)
{
    (void)state;
    struct zp_node *doc = zp_node_new_map(NULL);
    struct zp_node *svc = zp_node_new_map(NULL);
    struct zp_node *envmap = zp_node_new_map(NULL);
    zp_node_set(envmap, "PASSWORD", plain("${DB_PASS:?set DB_PASS}", 7, 19));
    zp_node_set(envmap, "USER", plain("$A", 8, 15));
    zp_node_set(svc, "environment", envmap);
    struct zp_node *ports = zp_node_new_seq(NULL);
    zp_node_push(ports, plain("ok", 10, 9));
    zp_node_push(ports, plain("${PORT", 11, 9));
    zp_node_set(svc, "ports", ports);
    struct zp_node *services = zp_node_new_map(NULL);
    zp_node_set(services, "db", svc);
    zp_node_set(doc, "services", services);

    struct zp_diags d;
    zp_diags_init(&d);
    assert_int_equal(compose__interp_tree(doc, &env, "", &d), ZP_E_INPUT);
    assert_int_equal(d.errors, 2);
    char *r0 = zp_diag_render(&d.items[0]);
    char *r1 = zp_diag_render(&d.items[1]);
    assert_string_equal(r0, "compose.yaml:7:19: services.db.environment.PASSWORD: required "
                            "variable 'DB_PASS' is missing a value: set DB_PASS");
    assert_string_equal(r1,
                        "compose.yaml:11:9: services.db.ports[1]: invalid interpolation format: "
                        "'${PORT'");
    free(r0);
    free(r1);
    /* the walk went on after the first error; failed values are unchanged */
    assert_string_equal(zp_node_get_str(envmap, "USER"), "a");
    assert_string_equal(zp_node_get_str(envmap, "PASSWORD"), "${DB_PASS:?set DB_PASS}");
    assert_string_equal(ports->items[1]->str, "${PORT");
    zp_diags_release(&d);
    zp_node_free(doc);
}

static void test_tree_root_path_and_scalar_root(void **state)
{
    (void)state;
    struct zp_node *svc = zp_node_new_map(NULL);
    struct zp_node *dns = zp_node_new_seq(NULL);
    zp_node_push(dns, plain("${DNS}", 2, 5));
    zp_node_set(svc, "dns", dns);
    struct zp_diags d;
    zp_diags_init(&d);
    assert_int_equal(compose__interp_tree(svc, &env, "services.web", &d), 0);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.items[0].path, "services.web.dns[0]");
    zp_diags_release(&d);
    zp_node_free(svc);

    struct zp_node *s = quoted("${A}${B}", 1, 1);
    zp_diags_init(&d);
    assert_int_equal(compose__interp_tree(s, &env, "", &d), 0);
    assert_string_equal(s->str, "abee");
    assert_int_equal(s->len, 4);
    assert_int_equal(d.n, 0);
    zp_diags_release(&d);
    zp_node_free(s);

    /* NULL path is the same as "" */
    s = plain("$UNSET", 1, 1);
    zp_diags_init(&d);
    assert_int_equal(compose__interp_tree(s, &env, NULL, &d), 0);
    assert_null(d.items[0].path);
    zp_diags_release(&d);
    zp_node_free(s);
}

static void test_tree_retyping(void **state)
{
    (void)state;
    struct zp_node *doc = zp_node_new_map(NULL);
    zp_node_set(doc, "replicas", plain("${NUM}", 1, 11));
    zp_node_set(doc, "quoted", quoted("${NUM}", 2, 9));
    zp_node_set(doc, "empty", plain("${EMPTY}", 3, 8));
    zp_node_set(doc, "unchanged", plain("$1", 4, 12));
    zp_node_set(doc, "text", plain("v${NUM}", 5, 7));
    struct zp_diags d;
    zp_diags_init(&d);
    assert_int_equal(compose__interp_tree(doc, &env, "", &d), 0);
    struct zp_node *n = zp_node_get(doc, "replicas");
    assert_string_equal(n->str, "3");
    assert_int_equal(n->type, ZP_INT);
    n = zp_node_get(doc, "quoted");
    assert_string_equal(n->str, "3");
    assert_int_equal(n->type, ZP_STR);
    n = zp_node_get(doc, "empty");
    assert_string_equal(n->str, "");
    assert_int_equal(n->type, ZP_STR);
    n = zp_node_get(doc, "unchanged");
    assert_string_equal(n->str, "$1");
    assert_int_equal(n->type, ZP_STR);
    n = zp_node_get(doc, "text");
    assert_string_equal(n->str, "v3");
    assert_int_equal(n->type, ZP_STR);
    assert_int_equal(d.n, 0);
    zp_diags_release(&d);
    zp_node_free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_dollar_unchanged),
        cmocka_unit_test(test_simple_forms),
        cmocka_unit_test(test_dollar_escape_and_literals),
        cmocka_unit_test(test_default_forms),
        cmocka_unit_test(test_replacement_forms),
        cmocka_unit_test(test_required_forms),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_nesting_cap),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_long_input_quoted_short),
        cmocka_unit_test(test_unset_warning),
        cmocka_unit_test(test_unset_warning_once_per_variable),
        cmocka_unit_test(test_null_env),
        cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_tree_paths_and_values),
        cmocka_unit_test(test_tree_errors_collected),
        cmocka_unit_test(test_tree_root_path_and_scalar_root),
        cmocka_unit_test(test_tree_retyping),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

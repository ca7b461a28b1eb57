/* Unit tests for compose/dotenv.c: the .env syntax rules, references, errors with
 * file:line:col, caps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "compose/compose-int.h"
#include "util/util.h"

static struct compose_env lookup;

static int setup(void **state)
{
    (void)state;
    compose_env_init(&lookup);
    compose_env_set(&lookup, "HOME", "/home/me");
    compose_env_set(&lookup, "USER", "me");
    compose_env_set(&lookup, "EMPTY", "");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    compose_env_release(&lookup);
    return 0;
}

struct result {
    struct compose_env env;
    struct zp_diags d;
    int rc;
};

static void parse(const char *text, struct result *r)
{
    compose_env_init(&r->env);
    zp_diags_init(&r->d);
    r->rc = compose__dotenv_parse(".env", text, strlen(text), &lookup, &r->env, &r->d);
}

static void release(struct result *r)
{
    compose_env_release(&r->env);
    zp_diags_release(&r->d);
}

/* Parse text expecting success without diagnostics, and key == want. */
static void expect1(const char *text, const char *key, const char *want)
{
    struct result r;
    parse(text, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.d.n, 0);
    assert_int_equal(r.env.n, 1);
    assert_string_equal(r.env.keys[0], key);
    assert_string_equal(r.env.vals[0], want);
    release(&r);
}

/* Parse text expecting failure, nothing in out, and the first error rendered as want. */
static void expect_error(const char *text, const char *want)
{
    struct result r;
    parse(text, &r);
    assert_int_equal(r.rc, ZP_E_INPUT);
    assert_int_equal(r.env.n, 0);
    assert_true(r.d.errors >= 1);
    size_t i = 0;
    while (r.d.items[i].sev != ZP_SEV_ERROR)
        i++;
    char *s = zp_diag_render(&r.d.items[i]);
    assert_string_equal(s, want);
    free(s);
    release(&r);
}

static void test_basic_lines(void **state)
{
    (void)state;
    struct result r;
    parse("# a comment\n"
          "\n"
          "A=1\n"
          "   # indented comment\n"
          "  B = two words  \n"
          "\tC=\t3\t\n"
          "export D=4\n"
          "export   E =5\n"
          "F=\n"
          "G=x=y\n"
          "lower.dot-dash_9=ok\n"
          "_=u",
          &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.d.n, 0);
    const char *want[][2] = {
        {"A", "1"},   {"B", "two words"},         {"C", "3"}, {"D", "4"}, {"E", "5"}, {"F", ""},
        {"G", "x=y"}, {"lower.dot-dash_9", "ok"}, {"_", "u"}};
    assert_int_equal(r.env.n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < r.env.n; i++) {
        assert_string_equal(r.env.keys[i], want[i][0]);
        assert_string_equal(r.env.vals[i], want[i][1]);
    }
    release(&r);
}

static void test_export_as_key(void **state)
{
    (void)state;
    expect1("export=1\n", "export", "1");
    expect1("exported=1\n", "exported", "1");
    /* `export` alone is a key without '=' and not in lookup: skipped */
    struct result r;
    parse("export\n", &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.env.n, 0);
    release(&r);
}

static void test_key_without_value(void **state)
{
    (void)state;
    struct result r;
    parse("HOME\nNOT_SET\n  USER  # from the environment\nEMPTY\nexport HOME\n", &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.d.n, 0);
    assert_int_equal(r.env.n, 3);
    assert_string_equal(r.env.keys[0], "HOME");
    assert_string_equal(r.env.vals[0], "/home/me");
    assert_string_equal(r.env.keys[1], "USER");
    assert_string_equal(r.env.vals[1], "me");
    assert_string_equal(r.env.keys[2], "EMPTY");
    assert_string_equal(r.env.vals[2], "");
    assert_null(compose_env_get(&r.env, "NOT_SET"));
    release(&r);

    /* no lookup at all */
    compose_env_init(&r.env);
    zp_diags_init(&r.d);
    assert_int_equal(compose__dotenv_parse(".env", "HOME\nA=$HOME.", 13, NULL, &r.env, &r.d), 0);
    assert_int_equal(r.env.n, 1);
    assert_string_equal(r.env.vals[0], ".");
    assert_int_equal(r.d.n, 1); /* HOME is not set */
    release(&r);
}

static void test_inline_comments_unquoted(void **state)
{
    (void)state;
    expect1("A=VAL # comment\n", "A", "VAL");
    expect1("A=VAL\t# comment\n", "A", "VAL");
    expect1("A=VAL# not a comment\n", "A", "VAL# not a comment");
    expect1("A=#not a comment\n", "A", "#not a comment");
    expect1("A= # only a comment\n", "A", "");
    expect1("A=a#b #c\n", "A", "a#b");
    expect1("A=some\\tvalue\n", "A", "some\\tvalue");
    expect1("A=it's \"fine\"\n", "A", "it's \"fine\"");
}

static void test_single_quotes(void **state)
{
    (void)state;
    expect1("A='VAL'", "A", "VAL");
    expect1("A='$OTHER ${OTHER} $$'", "A", "$OTHER ${OTHER} $$");
    expect1("A='some\\tvalue'", "A", "some\\tvalue");
    expect1("A='Let\\'s go!'", "A", "Let's go!");
    expect1("A='VAL # not a comment'", "A", "VAL # not a comment");
    expect1("A='VAL' # comment", "A", "VAL");
    expect1("A=  'x'  ", "A", "x");
    expect1("A=''", "A", "");
    expect1("A='line 1\nline 2\n'\n", "A", "line 1\nline 2\n");
    expect1("A=\"it's\"", "A", "it's");
}

static void test_double_quotes(void **state)
{
    (void)state;
    expect1("A=\"VAL\"", "A", "VAL");
    expect1("A=\"some\\tvalue\"", "A", "some\tvalue");
    expect1("A=\"a\\nb\\rc\\\\d\"", "A", "a\nb\rc\\d");
    expect1("A=\"{\\\"hello\\\": \\\"json\\\"}\"", "A", "{\"hello\": \"json\"}");
    expect1("A=\"\\'\"", "A", "'");
    expect1("A=\"cost \\$HOME\"", "A", "cost $HOME");
    expect1("A=\"cost $$HOME\"", "A", "cost $HOME");
    expect1("A=\"\\x\\q\"", "A", "\\x\\q");
    expect1("A=\"VAL # not a comment\"", "A", "VAL # not a comment");
    expect1("A=\"VAL\" # comment\nB_", "A", "VAL");
    expect1("A=\"VAL\"# comment", "A", "VAL");
    expect1("A=\"first\nsecond\"\n", "A", "first\nsecond");
    expect1("A=\"dir: $HOME\"", "A", "dir: /home/me");
    expect1("A=\"${USER:-x}-${NOPE:-y}\"", "A", "me-y");
}

static void test_crlf(void **state)
{
    (void)state;
    struct result r;
    parse("A=1\r\nB=\"x\r\ny\"\r\nC='p\r\nq' \r\n# c\r\nD = v # c\r\n", &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.env.n, 4);
    assert_string_equal(compose_env_get(&r.env, "A"), "1");
    assert_string_equal(compose_env_get(&r.env, "B"), "x\ny");
    assert_string_equal(compose_env_get(&r.env, "C"), "p\nq");
    assert_string_equal(compose_env_get(&r.env, "D"), "v");
    release(&r);
    expect1("\xef\xbb\xbf"
            "BOM=1\n",
            "BOM", "1");
}

static void test_references(void **state)
{
    (void)state;
    struct result r;
    parse("USER=local\n"
          "A=$USER@$HOME\n"
          "B=${A}/x\n"
          "C=\"${B:-none} ${MISSING:-dflt}\"\n"
          "D='${A}'\n"
          "E=${LATER}\n"
          "LATER=late\n"
          "F=${EMPTY:-was empty}\n"
          "G=$$USER\n",
          &r);
    assert_int_equal(r.rc, 0);
    /* earlier entries win over lookup */
    assert_string_equal(compose_env_get(&r.env, "A"), "local@/home/me");
    assert_string_equal(compose_env_get(&r.env, "B"), "local@/home/me/x");
    assert_string_equal(compose_env_get(&r.env, "C"), "local@/home/me/x dflt");
    assert_string_equal(compose_env_get(&r.env, "D"), "${A}");
    /* later entries are not visible yet */
    assert_string_equal(compose_env_get(&r.env, "E"), "");
    assert_string_equal(compose_env_get(&r.env, "F"), "was empty");
    assert_string_equal(compose_env_get(&r.env, "G"), "$USER");
    assert_int_equal(r.d.n, 1);
    char *s = zp_diag_render(&r.d.items[0]);
    assert_string_equal(s, "warning: .env:6:3: variable 'LATER' is not set, using an empty string");
    free(s);
    /* lookup is not changed */
    assert_string_equal(compose_env_get(&lookup, "USER"), "me");
    release(&r);
}

static void test_duplicates_and_out(void **state)
{
    (void)state;
    struct result r;
    compose_env_init(&r.env);
    zp_diags_init(&r.d);
    compose_env_set(&r.env, "PRE", "kept");
    compose_env_set(&r.env, "B", "old");
    const char *text = "A=1\nB=2\nA=3\nC=$A\n";
    assert_int_equal(compose__dotenv_parse("x.env", text, strlen(text), &lookup, &r.env, &r.d), 0);
    assert_int_equal(r.env.n, 4);
    assert_string_equal(r.env.keys[0], "PRE");
    assert_string_equal(r.env.vals[0], "kept");
    assert_string_equal(r.env.keys[1], "B");
    assert_string_equal(r.env.vals[1], "2");
    assert_string_equal(r.env.keys[2], "A");
    assert_string_equal(r.env.vals[2], "3");
    assert_string_equal(r.env.keys[3], "C");
    assert_string_equal(r.env.vals[3], "3");
    release(&r);
}

static void test_bad_keys(void **state)
{
    (void)state;
    expect_error("A=1\n1ABC=x\n",
                 ".env:2:1: invalid variable name '1ABC': unexpected character '1'");
    expect_error("  BAD$KEY=x\n",
                 ".env:1:6: invalid variable name 'BAD$KEY': unexpected character '$'");
    expect_error("A=1\n\nFOO BAR=1\n",
                 ".env:3:5: unexpected character 'B' after variable name 'FOO'");
    expect_error("=value\n", ".env:1:1: missing variable name before '='");
    expect_error("export -X=1\n", ".env:1:8: invalid variable name '-X': unexpected character '-'");
    expect_error("K\xc3\xa9=1\n",
                 ".env:1:2: invalid variable name 'K\xc3\xa9': unexpected character '\\xc3'");
    expect_error("A:1\n", ".env:1:2: invalid variable name 'A:1': unexpected character ':'");
    expect_error("A\x01=1\n",
                 ".env:1:2: invalid variable name 'A\x01': unexpected character '\\x01'");
}

static void test_all_errors_reported(void **state)
{
    (void)state;
    struct result r;
    parse("1A=x\nOK=1\nB C=2\nD=${\nE=\"x\" y\n", &r);
    assert_int_equal(r.rc, ZP_E_INPUT);
    assert_int_equal(r.d.errors, 4);
    assert_int_equal(r.env.n, 0);
    const char *want[] = {
        ".env:1:1: invalid variable name '1A': unexpected character '1'",
        ".env:3:3: unexpected character 'C' after variable name 'B'",
        ".env:4:3: invalid interpolation format: '${'",
        ".env:5:7: unexpected character 'y' after the closing quote",
    };
    for (size_t i = 0; i < 4; i++) {
        char *s = zp_diag_render(&r.d.items[i]);
        assert_string_equal(s, want[i]);
        free(s);
    }
    release(&r);
}

static void test_unterminated_quotes(void **state)
{
    (void)state;
    expect_error("A=1\nB = \"never\nclosed\n",
                 ".env:2:5: unterminated double-quoted value for 'B'");
    expect_error("A='x\n\n", ".env:1:3: unterminated single-quoted value for 'A'");
    expect_error("A='it\\'\n", ".env:1:3: unterminated single-quoted value for 'A'");
    expect_error("A=\"ends with backslash\\", ".env:1:3: unterminated double-quoted value for 'A'");
    expect_error("A=\"x\\\"", ".env:1:3: unterminated double-quoted value for 'A'");
}

static void test_text_after_quote(void **state)
{
    (void)state;
    expect_error("A=\"x\"y\n", ".env:1:6: unexpected character 'y' after the closing quote");
    expect_error("A='x'  'y'\n", ".env:1:8: unexpected character '\\x27' after the closing quote");
}

static void test_interp_errors_in_values(void **state)
{
    (void)state;
    expect_error("A=1\nB=${NEED:?set NEED}\n",
                 ".env:2:3: required variable 'NEED' is missing a value: set NEED");
    expect_error("B=  \"${NEED?}\"\n", ".env:1:5: required variable 'NEED' is missing a value");
    /* single quotes are never interpolated */
    expect1("B='${NEED?}'", "B", "${NEED?}");
}

static void test_caps(void **state)
{
    (void)state;
    /* size */
    size_t big = 1024 * 1024 + 1;
    char *data = zp_malloc(big + 1);
    memset(data, '#', big);
    data[big] = '\0';
    struct result r;
    parse(data, &r);
    assert_int_equal(r.rc, ZP_E_INPUT);
    char *s = zp_diag_render(&r.d.items[0]);
    assert_string_equal(s, ".env: env file too big: more than 1048576 bytes");
    free(s);
    release(&r);
    free(data);

    /* entries: 10,000 are fine, one more is not */
    struct zp_buf b = ZP_BUF_INIT;
    for (int i = 0; i < 10000; i++)
        zp_buf_addf(&b, "K%d=%d\n", i, i);
    parse(zp_buf_cstr(&b), &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.env.n, 10000);
    assert_string_equal(compose_env_get(&r.env, "K9999"), "9999");
    release(&r);
    zp_buf_adds(&b, "# comments do not count\n\nLAST=1\n");
    parse(zp_buf_cstr(&b), &r);
    assert_int_equal(r.rc, ZP_E_INPUT);
    assert_int_equal(r.env.n, 0);
    s = zp_diag_render(&r.d.items[0]);
    assert_string_equal(s, ".env:10003:1: too many entries: more than 10000");
    free(s);
    release(&r);
    zp_buf_release(&b);
}

static void test_nul_byte(void **state)
{
    (void)state;
    struct result r;
    compose_env_init(&r.env);
    zp_diags_init(&r.d);
    assert_int_equal(compose__dotenv_parse(".env", "A=1\nB=x\0y\n", 10, &lookup, &r.env, &r.d),
                     ZP_E_INPUT);
    char *s = zp_diag_render(&r.d.items[0]);
    assert_string_equal(s, ".env:2:4: unexpected NUL byte");
    free(s);
    assert_int_equal(r.env.n, 0);
    release(&r);
}

static void test_empty_input(void **state)
{
    (void)state;
    struct result r;
    compose_env_init(&r.env);
    zp_diags_init(&r.d);
    assert_int_equal(compose__dotenv_parse(".env", "", 0, &lookup, &r.env, &r.d), 0);
    assert_int_equal(r.env.n, 0);
    assert_int_equal(r.d.n, 0);
    release(&r);
    parse("\n\n   \n# only comments\n\t\n", &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.env.n, 0);
    release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_lines),
        cmocka_unit_test(test_export_as_key),
        cmocka_unit_test(test_key_without_value),
        cmocka_unit_test(test_inline_comments_unquoted),
        cmocka_unit_test(test_single_quotes),
        cmocka_unit_test(test_double_quotes),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_duplicates_and_out),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_unterminated_quotes),
        cmocka_unit_test(test_text_after_quote),
        cmocka_unit_test(test_interp_errors_in_values),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_empty_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

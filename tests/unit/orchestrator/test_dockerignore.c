/* Unit tests of .dockerignore matching: Go filepath.Match patterns, `**`, exceptions,
 * reading rules (comments, trimming, cleaning), descent decisions and the caps. Expected
 * results follow Docker's documented rules. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "orchestrator/dockerignore.h"

struct glob_case {
    const char *pattern;
    const char *path;
    bool match;
};

/* Go's filepath.Match table, and `**` as Docker documents it. */
static const struct glob_case glob_cases[] = {
    {"abc", "abc", true},
    {"*", "abc", true},
    {"*c", "abc", true},
    {"a*", "a", true},
    {"a*", "abc", true},
    {"a*", "ab/c", false},
    {"*", "a/b", false},
    {"a*/b", "abc/b", true},
    {"a*/b", "a/c/b", false},
    {"a*b*c*d*e*/f", "axbxcxdxe/f", true},
    {"a*b*c*d*e*/f", "axbxcxdxexxx/f", true},
    {"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false},
    {"a*b*c*d*e*/f", "axbxcxdxexxx/fff", false},
    {"a*b?c*x", "abxbbxdbxebxczzx", true},
    {"a*b?c*x", "abxbbxdbxebxczzy", false},
    {"ab[c]", "abc", true},
    {"ab[b-d]", "abc", true},
    {"ab[e-g]", "abc", false},
    {"ab[^c]", "abc", false},
    {"ab[^b-d]", "abc", false},
    {"ab[^e-g]", "abc", true},
    {"a\\*b", "a*b", true},
    {"a\\*b", "ab", false},
    {"a?b",
     "a\xe2\x98\xba"
     "b",
     true},
    {"a[^a]b",
     "a\xe2\x98\xba"
     "b",
     true},
    {"a???b",
     "a\xe2\x98\xba"
     "b",
     false},
    {"a[^a][^a][^a]b",
     "a\xe2\x98\xba"
     "b",
     false},
    {"[a-\xce\xb6]*", "\xce\xb1", true},
    {"*[a-\xce\xb6]", "A", false},
    {"a?b", "a/b", false},
    {"a*b", "a/b", false},
    {"[\\]a]", "]", true},
    {"[\\-]", "-", true},
    {"[x\\-]", "x", true},
    {"[x\\-]", "-", true},
    {"[x\\-]", "z", false},
    {"[\\-x]", "x", true},
    {"[\\-x]", "-", true},
    {"[\\-x]", "a", false},
    {"*x", "xxx", true},
    {"?.txt", "a.txt", true},
    {"?.txt", "ab.txt", false},
    {"file.txt", "file.txt", true},
    {"file.txt", "fileXtxt", false}, /* '.' is literal */
    {"a+b(c)", "a+b(c)", true},      /* regexp characters are literal */
    {"$x{1}", "$x{1}", true},
    {"**", "a/b/c", true},
    {"**", "a", true},
    {"**/foo", "foo", true},
    {"**/foo", "a/b/foo", true},
    {"**/foo", "afoo", false},
    {"**/foo", "a/foo/b", false},
    {"foo/**", "foo/a/b", true},
    {"foo/**", "foo", false},
    {"foo/**/bar", "foo/bar", true},
    {"foo/**/bar", "foo/x/y/bar", true},
    {"foo/**/bar", "foo/x/ybar", false},
    {"**/*.go", "a.go", true},
    {"**/*.go", "x/y/a.go", true},
    {"**/*.go", "x/y/a.go/z", false},
    {"**/*.go", "x/y/a.goo", false},
    {"a/**/b/**/c", "a/b/c", true},
    {"a/**/b/**/c", "a/x/b/y/z/c", true},
    {"a/**/b/**/c", "a/x/y/z/c", false},
    {"**/a/**", "x/a/y", true},
    {"**/a/**", "a/y", true},
    {"**/a/**", "xa/y", false},
};

static void test_glob_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(glob_cases) / sizeof(glob_cases[0]); i++) {
        const struct glob_case *c = &glob_cases[i];
        struct zp_err err;
        zp_err_init(&err);
        bool m = !c->match;
        int rc = orch__glob_match(c->pattern, c->path, &m, &err);
        if (rc != 0 || m != c->match)
            fail_msg("pattern '%s' path '%s': rc %d match %d, want %d (%s)", c->pattern, c->path,
                     rc, m, c->match, err.msg);
    }
}

static void test_glob_bad_patterns(void **state)
{
    (void)state;
    static const char *const bad[] = {"[]a]", "[-]",     "[x-]", "[",   "[^", "[^bc", "a[",
                                      "a\\",  "[a-b-c]", "[\\",  "ab[", "[]", "[^]",  NULL};
    for (size_t i = 0; bad[i]; i++) {
        struct zp_err err;
        zp_err_init(&err);
        bool m = false;
        int rc = orch__glob_match(bad[i], "a", &m, &err);
        if (rc != ZP_E_INPUT)
            fail_msg("pattern '%s' accepted", bad[i]);
        assert_non_null(strstr(err.msg, "invalid pattern"));
    }
}

/* Parse text into a new list; the test fails on error. */
static struct orch_ignore *parse(const char *text)
{
    struct orch_ignore *ig = orch__ignore_new();
    struct zp_err err;
    zp_err_init(&err);
    int rc = orch__ignore_parse(ig, ".dockerignore", text, strlen(text), &err);
    if (rc != 0)
        fail_msg("parse failed: %s", err.msg);
    return ig;
}

static void expect(const struct orch_ignore *ig, const char *path, bool excluded)
{
    if (orch__ignore_excluded(ig, path) != excluded)
        fail_msg("'%s': excluded %d, want %d", path, !excluded, excluded);
}

static void test_plain_names(void **state)
{
    (void)state;
    struct orch_ignore *ig = parse("foo\n");
    expect(ig, "foo", true);
    expect(ig, "foo/bar", true); /* a directory covers its contents */
    expect(ig, "foo/bar/baz", true);
    expect(ig, "foobar", false);
    expect(ig, "x/foo", false); /* relative to the context root only */
    expect(ig, "fo", false);
    orch__ignore_free(ig);
}

static void test_wildcards(void **state)
{
    (void)state;
    struct orch_ignore *ig = parse("*.log\n*/temp*\n*/*/temp*\ntemp?\n");
    expect(ig, "a.log", true);
    expect(ig, "dir/a.log", false);
    expect(ig, "somedir/temporary.txt", true);
    expect(ig, "somedir/subdir/temporary.txt", true);
    expect(ig, "a/b/c/temporary.txt", false);
    expect(ig, "tempa", true);
    expect(ig, "tempab", false);
    expect(ig, "temp", false);
    orch__ignore_free(ig);

    ig = parse("**/*.go\n");
    expect(ig, "main.go", true);
    expect(ig, "cmd/x/main.go", true);
    expect(ig, "main.goo", false);
    orch__ignore_free(ig);

    ig = parse("*\n");
    expect(ig, "a", true);
    expect(ig, "a/b", true); /* through its parent "a" */
    orch__ignore_free(ig);

    ig = parse("a/*/c\n");
    expect(ig, "a/b/c", true);
    expect(ig, "a/b/c/d", true);
    expect(ig, "a/b/x/c", false);
    expect(ig, "a/c", false);
    orch__ignore_free(ig);
}

static void test_exceptions(void **state)
{
    (void)state;
    /* Docker's documented example */
    struct orch_ignore *ig = parse("*.md\n!README*.md\nREADME-secret.md\n");
    expect(ig, "CHANGES.md", true);
    expect(ig, "README.md", false);
    expect(ig, "README-public.md", false);
    expect(ig, "README-secret.md", true);
    orch__ignore_free(ig);

    /* later lines win: the exception comes first, then everything is excluded again */
    ig = parse("!README.md\n*.md\n");
    expect(ig, "README.md", true);
    orch__ignore_free(ig);

    ig = parse("*.md\n!README.md\n");
    expect(ig, "README.md", false);
    expect(ig, "other.md", true);
    assert_true(orch__ignore_has_exceptions(ig));
    assert_int_equal(orch__ignore_count(ig), 2);
    orch__ignore_free(ig);

    /* an exception alone excludes nothing */
    ig = parse("!foo\n");
    expect(ig, "foo", false);
    expect(ig, "bar", false);
    orch__ignore_free(ig);

    /* a re-included directory brings its contents back */
    ig = parse("a\n!a\n");
    expect(ig, "a", false);
    expect(ig, "a/b", false);
    orch__ignore_free(ig);

    /* everything but one subtree */
    ig = parse("*\n!src\n");
    expect(ig, "Makefile", true);
    expect(ig, "src", false);
    expect(ig, "src/main.c", false);
    expect(ig, "srcx", true);
    orch__ignore_free(ig);
}

static void test_excluded_dir_with_exception_below(void **state)
{
    (void)state;
    struct orch_ignore *ig = parse("dir\n!dir/keep\n");
    expect(ig, "dir", true);
    expect(ig, "dir/other", true);
    expect(ig, "dir/keep", false);
    expect(ig, "dir/keep/inner", false);
    assert_true(orch__ignore_may_reinclude(ig, "dir"));
    assert_false(orch__ignore_may_reinclude(ig, "other"));
    assert_false(orch__ignore_may_reinclude(ig, "dirx"));
    orch__ignore_free(ig);

    /* deeper: the walker must enter dir and dir/sub but not dir/other */
    ig = parse("dir\n!dir/sub/keep.txt\n");
    assert_true(orch__ignore_may_reinclude(ig, "dir"));
    assert_true(orch__ignore_may_reinclude(ig, "dir/sub"));
    assert_false(orch__ignore_may_reinclude(ig, "dir/other"));
    expect(ig, "dir/sub", true);
    expect(ig, "dir/sub/keep.txt", false);
    expect(ig, "dir/sub/other.txt", true);
    orch__ignore_free(ig);

    /* a wildcard exception can match below any directory */
    ig = parse("*\n!**/keep.txt\n");
    assert_true(orch__ignore_may_reinclude(ig, "a"));
    assert_true(orch__ignore_may_reinclude(ig, "a/b"));
    expect(ig, "a", true);
    expect(ig, "a/b/keep.txt", false);
    expect(ig, "a/b/x.txt", true);
    orch__ignore_free(ig);

    ig = parse("vendor\n!vendor/*/LICENSE\n");
    assert_true(orch__ignore_may_reinclude(ig, "vendor"));
    assert_true(orch__ignore_may_reinclude(ig, "vendor/lib"));
    assert_false(orch__ignore_may_reinclude(ig, "vendor/lib/sub"));
    expect(ig, "vendor/lib/LICENSE", false);
    expect(ig, "vendor/lib/code.c", true);
    orch__ignore_free(ig);

    /* without exceptions nothing below an excluded directory is visited */
    ig = parse("build\n");
    assert_false(orch__ignore_may_reinclude(ig, "build"));
    orch__ignore_free(ig);
}

static void test_reading_rules(void **state)
{
    (void)state;
    /* comments, blank lines, trimming, CRLF, a byte order mark */
    struct orch_ignore *ig = parse("\xef\xbb\xbf"
                                   "first\n# comment\n#foo\n\n   \n  spaced   \n\ttabbed\t\r\n"
                                   "crlf\r\n  #notcomment\n");
    expect(ig, "first", true);
    expect(ig, "foo", false);
    expect(ig, "#foo", false);
    expect(ig, "spaced", true);
    expect(ig, "tabbed", true);
    expect(ig, "crlf", true);
    expect(ig, "#notcomment", true); /* '#' only starts a comment in column 1 */
    assert_int_equal(orch__ignore_count(ig), 5);
    orch__ignore_free(ig);

    /* leading '/' and './', path.Clean, spaces after '!' */
    ig = parse("/abs\n./rel\nx/../y\na//b/\n./c/./d\n! ex\n/\n");
    expect(ig, "abs", true);
    expect(ig, "rel", true);
    expect(ig, "y", true);
    expect(ig, "x", false);
    expect(ig, "a/b", true);
    expect(ig, "c/d", true);
    orch__ignore_free(ig);

    /* "." is ignored (documented, for historical reasons), and so is "./" */
    ig = parse(".\n./\n");
    assert_int_equal(orch__ignore_count(ig), 0);
    expect(ig, "anything", false);
    orch__ignore_free(ig);

    /* no final newline */
    ig = parse("last");
    expect(ig, "last", true);
    orch__ignore_free(ig);

    /* escaped special characters match literally */
    ig = parse("\\*\nq\\?\n");
    expect(ig, "*", true);
    expect(ig, "x", false);
    expect(ig, "q?", true);
    expect(ig, "qa", false);
    orch__ignore_free(ig);
}

static void test_errors(void **state)
{
    (void)state;
    struct orch_ignore *ig = orch__ignore_new();
    struct zp_err err;
    zp_err_init(&err);
    const char *text = "ok\n!\n";
    assert_int_equal(orch__ignore_parse(ig, "/ctx/.dockerignore", text, strlen(text), &err),
                     ZP_E_INPUT);
    char *r = zp_err_render(&err);
    assert_string_equal(r, "/ctx/.dockerignore:2:1: invalid pattern '!'");
    free(r);
    assert_int_equal(orch__ignore_count(ig), 0); /* unchanged on error */

    zp_err_init(&err);
    text = "a\nb\n  [z\n";
    assert_int_equal(orch__ignore_parse(ig, ".dockerignore", text, strlen(text), &err), ZP_E_INPUT);
    r = zp_err_render(&err);
    assert_string_equal(r, ".dockerignore:3:1: invalid pattern '  [z'");
    free(r);

    /* a NUL byte in a line */
    zp_err_init(&err);
    assert_int_equal(orch__ignore_parse(ig, ".dockerignore", "a\0b\n", 4, &err), ZP_E_INPUT);

    /* a pattern above the cap */
    char *big = zp_malloc(ORCH_IGNORE_MAX_PATTERN + 2);
    memset(big, 'a', ORCH_IGNORE_MAX_PATTERN + 1);
    big[ORCH_IGNORE_MAX_PATTERN + 1] = '\0';
    zp_err_init(&err);
    assert_int_equal(orch__ignore_parse(ig, ".dockerignore", big, strlen(big), &err), ZP_E_TOOBIG);
    assert_non_null(strstr(err.msg, "pattern longer than 4096 bytes"));
    zp_err_init(&err);
    bool m;
    assert_int_equal(orch__glob_match(big, "a", &m, &err), ZP_E_TOOBIG);
    free(big);

    /* a file above the cap */
    zp_err_init(&err);
    assert_int_equal(orch__ignore_parse(ig, "big", "x", ORCH_IGNORE_MAX_FILE + 1, &err),
                     ZP_E_TOOBIG);

    /* orch__ignore_add */
    zp_err_init(&err);
    assert_int_equal(orch__ignore_add(ig, "[", &err), ZP_E_INPUT);
    assert_int_equal(orch__ignore_add(ig, "# not added", &err), 0);
    assert_int_equal(orch__ignore_count(ig), 0);
    assert_int_equal(orch__ignore_add(ig, "!keep", &err), 0);
    assert_int_equal(orch__ignore_count(ig), 1);
    orch__ignore_free(ig);
}

static void test_escape(void **state)
{
    (void)state;
    const char *name = "we*ird[1]?\\.txt";
    char *esc = orch__ignore_escape(name);
    assert_string_equal(esc, "we\\*ird\\[1]\\?\\\\.txt");
    bool m = false;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(orch__glob_match(esc, name, &m, &err), 0);
    assert_true(m);
    assert_int_equal(orch__glob_match(esc, "weXird1a\\.txt", &m, &err), 0);
    assert_false(m);
    free(esc);
}

/* Patterns built to make a backtracking matcher explode (it would not end within the test's
 * timeout) give the right answer here; their speed is not asserted: tests assert no times. */
static void test_no_backtracking_blowup(void **state)
{
    (void)state;
    struct zp_buf pat = ZP_BUF_INIT, path = ZP_BUF_INIT;
    for (int i = 0; i < 200; i++)
        zp_buf_adds(&pat, "*a");
    zp_buf_adds(&pat, "*b");
    for (int i = 0; i < 4000; i++)
        zp_buf_addc(&path, 'a');
    bool m = true;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(orch__glob_match(zp_buf_cstr(&pat), zp_buf_cstr(&path), &m, &err), 0);
    assert_false(m);
    zp_buf_reset(&pat);
    for (int i = 0; i < 100; i++)
        zp_buf_adds(&pat, "**/a");
    zp_buf_reset(&path);
    for (int i = 0; i < 2000; i++)
        zp_buf_adds(&path, "a/");
    zp_buf_addc(&path, 'b');
    assert_int_equal(orch__glob_match(zp_buf_cstr(&pat), zp_buf_cstr(&path), &m, &err), 0);
    assert_false(m);
    zp_buf_release(&pat);
    zp_buf_release(&path);
}

static void test_long_and_odd_paths(void **state)
{
    (void)state;
    struct orch_ignore *ig = parse("**/x\nlit\n");
    /* a path above the cap is never matched by a wildcard pattern, and can still be
     * matched by a literal one through its parent */
    struct zp_buf path = ZP_BUF_INIT;
    zp_buf_adds(&path, "lit/");
    for (int i = 0; i < ORCH_IGNORE_MAX_PATH; i++)
        zp_buf_addc(&path, 'y');
    expect(ig, zp_buf_cstr(&path), true);
    zp_buf_reset(&path);
    for (int i = 0; i < ORCH_IGNORE_MAX_PATH; i++)
        zp_buf_addc(&path, 'y');
    zp_buf_adds(&path, "/x");
    expect(ig, zp_buf_cstr(&path), false);
    zp_buf_release(&path);
    /* invalid UTF-8 in names */
    expect(ig, "\xff\xfe/x", true);
    expect(ig, "\xc3", false);
    orch__ignore_free(ig);

    ig = parse("\xff*\n");
    expect(ig,
           "\xff"
           "abc",
           true);
    expect(ig,
           "\xfe"
           "abc",
           false);
    orch__ignore_free(ig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob_table),
        cmocka_unit_test(test_glob_bad_patterns),
        cmocka_unit_test(test_plain_names),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_exceptions),
        cmocka_unit_test(test_excluded_dir_with_exception_below),
        cmocka_unit_test(test_reading_rules),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_no_backtracking_blowup),
        cmocka_unit_test(test_long_and_odd_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

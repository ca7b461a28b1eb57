/* Unit tests for util: parsers, buffers, paths, errors and diagnostics. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/util.h"

static void test_parse_int64(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(zp_parse_int64("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(zp_parse_int64("-7", -10, 10, &v), 0);
    assert_int_equal(v, -7);
    assert_int_equal(zp_parse_int64("101", 0, 100, &v), ZP_E_INPUT);
    assert_int_equal(zp_parse_int64("12a", 0, 100, &v), ZP_E_INPUT);
    assert_int_equal(zp_parse_int64("", 0, 100, &v), ZP_E_INPUT);
    assert_int_equal(zp_parse_int64(" 1", 0, 100, &v), ZP_E_INPUT);
    assert_int_equal(zp_parse_int64("99999999999999999999", INT64_MIN, INT64_MAX, &v), ZP_E_INPUT);
}

static void check_duration(const char *in, bool bare, int64_t want_ns, const char *want_fmt)
{
    int64_t ns = -1;
    assert_int_equal(zp_parse_duration(in, bare, &ns), 0);
    assert_int_equal(ns, want_ns);
    char *s = zp_format_duration(ns);
    assert_string_equal(s, want_fmt);
    free(s);
}

static void test_durations(void **state)
{
    (void)state;
    check_duration("1m30s", false, 90000000000LL, "1m30s");
    check_duration("90s", false, 90000000000LL, "1m30s");
    check_duration("500ms", false, 500000000LL, "500ms");
    check_duration("1.5s", false, 1500000000LL, "1.5s");
    check_duration("2h", false, 7200000000000LL, "2h0m0s");
    check_duration("10us", false, 10000LL, "10\xc2\xb5s");
    check_duration("0", false, 0, "0s");
    check_duration("30", true, 30000000000LL, "30s");
    check_duration("1h2m3s4ms", false, 3723004000000LL, "1h2m3.004s");
    int64_t ns;
    assert_int_equal(zp_parse_duration("30", false, &ns), ZP_E_INPUT);
    assert_int_equal(zp_parse_duration("1x", false, &ns), ZP_E_INPUT);
    assert_int_equal(zp_parse_duration("s", false, &ns), ZP_E_INPUT);
    assert_int_equal(zp_parse_duration("", false, &ns), ZP_E_INPUT);
    assert_int_equal(zp_parse_duration("1..5s", false, &ns), ZP_E_INPUT);
}

static void test_sizes(void **state)
{
    (void)state;
    int64_t b = 0;
    assert_int_equal(zp_parse_size("512", &b), 0);
    assert_int_equal(b, 512);
    assert_int_equal(zp_parse_size("512m", &b), 0);
    assert_int_equal(b, 512LL * 1024 * 1024);
    assert_int_equal(zp_parse_size("2G", &b), 0);
    assert_int_equal(b, 2LL * 1024 * 1024 * 1024);
    assert_int_equal(zp_parse_size("1.5gb", &b), 0);
    assert_int_equal(b, 1610612736LL);
    assert_int_equal(zp_parse_size("64kb", &b), 0);
    assert_int_equal(b, 65536);
    assert_int_equal(zp_parse_size("10b", &b), 0);
    assert_int_equal(b, 10);
    assert_int_equal(zp_parse_size("1MiB", &b), 0);
    assert_int_equal(b, 1048576);
    assert_int_equal(zp_parse_size("12q", &b), ZP_E_INPUT);
    assert_int_equal(zp_parse_size("m", &b), ZP_E_INPUT);
    assert_int_equal(zp_parse_size("-1m", &b), ZP_E_INPUT);
}

static void test_buf_cap(void **state)
{
    (void)state;
    struct zp_buf b;
    zp_buf_init(&b, 8);
    assert_string_equal(zp_buf_cstr(&b), "");
    assert_int_equal(zp_buf_adds(&b, "12345"), 0);
    assert_int_equal(zp_buf_addf(&b, "%d", 678), 0);
    assert_string_equal(zp_buf_cstr(&b), "12345678");
    assert_int_equal(zp_buf_addc(&b, '9'), ZP_E_TOOBIG);
    assert_int_equal(b.len, 8);
    size_t len;
    char *p = zp_buf_detach(&b, &len);
    assert_int_equal(len, 8);
    assert_string_equal(p, "12345678");
    free(p);
    assert_int_equal(b.len, 0);
}

static void test_paths(void **state)
{
    (void)state;
    char *p = zp_path_clean("a/./b/../c//d/");
    assert_string_equal(p, "a/c/d");
    free(p);
    p = zp_path_clean("/../x/..");
    assert_string_equal(p, "/");
    free(p);
    p = zp_path_clean("../../a");
    assert_string_equal(p, "../../a");
    free(p);
    p = zp_path_join("/srv/app", "./data");
    assert_string_equal(p, "/srv/app/data");
    free(p);
    p = zp_path_join("/srv/app", "/abs");
    assert_string_equal(p, "/abs");
    free(p);
    p = zp_path_dir("/srv/app/compose.yaml");
    assert_string_equal(p, "/srv/app");
    free(p);
    p = zp_path_dir("compose.yaml");
    assert_string_equal(p, ".");
    free(p);
}

static void test_err_first_wins(void **state)
{
    (void)state;
    struct zp_err err;
    zp_err_init(&err);
    struct zp_pos pos = {zp_intern("compose.yaml"), 12, 7};
    assert_int_equal(zp_err_set(&err, ZP_E_INPUT, &pos, "invalid port '%s'", "80a"), ZP_E_INPUT);
    assert_int_equal(zp_err_set(&err, ZP_E_ENGINE, NULL, "later"), ZP_E_INPUT);
    zp_err_prefix(&err, "services.web.ports[0]");
    char *s = zp_err_render(&err);
    assert_string_equal(s, "compose.yaml:12:7: services.web.ports[0]: invalid port '80a'");
    free(s);
}

/* Messages are not cut at 1 KiB: a log tail of several KiB survives whole; a longer one is
 * cut at a character boundary and says how much was left out; a prefix keeps the code. */
static void test_err_long(void **state)
{
    (void)state;
    struct zp_err *err = malloc(sizeof(*err));
    assert_non_null(err);
    char *tail = malloc(8001);
    assert_non_null(tail);
    for (size_t i = 0; i < 8000; i++)
        tail[i] = i % 80 == 79 ? '\n' : (char)('a' + i % 26);
    tail[8000] = '\0';
    zp_err_init(err);
    zp_err_set(err, ZP_E_ENGINE, NULL, "container x exited (1); its last log lines:\n%s", tail);
    assert_non_null(strstr(err->msg, tail));
    assert_null(strstr(err->msg, "truncated"));
    free(tail);

    /* 20000 bytes of "é" (2 bytes each): cut, never inside a character, marked */
    size_t n = 20000;
    char *big = malloc(n + 1);
    assert_non_null(big);
    for (size_t i = 0; i < n; i += 2) {
        big[i] = (char)0xC3;
        big[i + 1] = (char)0xA9;
    }
    big[n] = '\0';
    zp_err_init(err);
    zp_err_set(err, ZP_E_CANCELLED, NULL, "%s", big);
    size_t len = strlen(err->msg);
    assert_true(len < sizeof(err->msg));
    assert_true(len > sizeof(err->msg) - 100); /* the room is used */
    const char *mark = strstr(err->msg, " [... message truncated: ");
    assert_non_null(mark);
    size_t kept = (size_t)(mark - err->msg);
    assert_int_equal(kept % 2, 0); /* whole characters only */
    char want[80];
    snprintf(want, sizeof(want), " [... message truncated: %zu more bytes]", n - kept);
    assert_string_equal(mark, want);
    zp_err_prefix(err, "service '%s'", "web");
    assert_int_equal(err->code, ZP_E_CANCELLED);
    assert_true(zp_str_has_prefix(err->msg, "service 'web': "));
    assert_non_null(strstr(err->msg, " [... message truncated: "));
    free(big);

    /* zp_err_sys appends the system's reason to a long message too */
    zp_err_init(err);
    errno = EACCES;
    zp_err_sys(err, "writing '%s'", "/x");
    assert_string_equal(err->msg, "writing '/x': Permission denied");
    assert_int_equal(err->sys_errno, EACCES);
    free(err);
}

/* Deadlines on CLOCK_MONOTONIC with a condition made for it: a timed wait ends on time. */
static void test_mono_wait(void **state)
{
    (void)state;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c;
    zp_cond_init_mono(&c);
    int64_t t0 = zp_mono_ms();
    struct timespec dl = zp_mono_deadline(50);
    pthread_mutex_lock(&m);
    int rc = 0;
    while (rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&c, &m, &dl);
    pthread_mutex_unlock(&m);
    assert_true(zp_mono_ms() - t0 >= 49);
    struct timespec now = zp_mono_deadline(0);
    assert_true(now.tv_sec > dl.tv_sec || (now.tv_sec == dl.tv_sec && now.tv_nsec >= dl.tv_nsec));
    pthread_cond_destroy(&c);
}

/* mkdir -p: parents made, existing ones kept, a file in the way is an error. */
static void test_mkdir_p(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/zp-util-test-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char *deep = zp_asprintf("%s/a/b/c", tmpl);
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(zp_mkdir_p(deep, 0700, &err), 0);
    assert_int_equal(zp_mkdir_p(deep, 0700, &err), 0);
    assert_true(zp_file_exists(deep));
    char *file = zp_asprintf("%s/f", tmpl);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    char *under = zp_asprintf("%s/g", file);
    assert_int_equal(zp_mkdir_p(file, 0700, &err), ZP_E_SYSTEM);
    assert_non_null(strstr(err.msg, "is not a directory"));
    zp_err_init(&err);
    assert_true(zp_mkdir_p(under, 0700, &err) < 0);
    remove(file);
    char *p = zp_asprintf("%s/a/b/c", tmpl);
    rmdir(p);
    free(p);
    p = zp_asprintf("%s/a/b", tmpl);
    rmdir(p);
    free(p);
    p = zp_asprintf("%s/a", tmpl);
    rmdir(p);
    free(p);
    rmdir(tmpl);
    free(deep);
    free(file);
    free(under);
}

static void test_diags(void **state)
{
    (void)state;
    struct zp_diags d;
    zp_diags_init(&d);
    struct zp_pos p2 = {zp_intern("a.yaml"), 9, 3};
    struct zp_pos p1 = {zp_intern("a.yaml"), 2, 5};
    zp_diag_error(&d, &p2, "services.web", "second");
    zp_diag_warn(&d, &p1, NULL, "variable '%s' is not set", "X");
    assert_int_equal(d.errors, 1);
    zp_diags_sort(&d);
    char *a = zp_diag_render(&d.items[0]);
    char *b = zp_diag_render(&d.items[1]);
    assert_string_equal(a, "warning: a.yaml:2:5: variable 'X' is not set");
    assert_string_equal(b, "a.yaml:9:3: services.web: second");
    free(a);
    free(b);
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(zp_diags_to_err(&d, &err), ZP_E_INPUT);
    assert_int_equal(err.pos.line, 9);
    zp_diags_release(&d);
}

static void test_intern_and_distance(void **state)
{
    (void)state;
    char a[] = "compose.yaml";
    char b[] = "compose.yaml";
    assert_ptr_equal(zp_intern(a), zp_intern(b));
    assert_ptr_not_equal(zp_intern("x"), zp_intern("y"));
    assert_int_equal(zp_edit_distance("image", "imagee"), 1);
    assert_int_equal(zp_edit_distance("ports", "prots"), 2);
    assert_int_equal(zp_edit_distance("", "abc"), 3);
}

static void test_utf8_decode(void **state)
{
    (void)state;
    uint32_t cp = 0;
    assert_int_equal(zp_utf8_decode((const unsigned char *)"A", 1, &cp), 1);
    assert_int_equal(cp, 'A');
    assert_int_equal(zp_utf8_decode((const unsigned char *)"\xc3\xa9", 2, &cp), 2);
    assert_int_equal(cp, 0xe9);
    assert_int_equal(zp_utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp), 4);
    assert_int_equal(cp, 0x1f600);
    /* truncated, overlong, surrogate, above U+10FFFF, stray continuation byte */
    assert_int_equal(zp_utf8_decode((const unsigned char *)"\xc3", 1, &cp), 0);
    assert_int_equal(zp_utf8_decode((const unsigned char *)"\xe0\x80\x80", 3, &cp), 0);
    assert_int_equal(zp_utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp), 0);
    assert_int_equal(zp_utf8_decode((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp), 0);
    assert_int_equal(zp_utf8_decode((const unsigned char *)"\x80", 1, &cp), 0);
}

static void test_sha256(void **state)
{
    (void)state;
    char hex[65];
    zp_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_int64), cmocka_unit_test(test_durations),
        cmocka_unit_test(test_sizes),       cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_paths),       cmocka_unit_test(test_err_first_wins),
        cmocka_unit_test(test_diags),       cmocka_unit_test(test_intern_and_distance),
        cmocka_unit_test(test_utf8_decode), cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_err_long),    cmocka_unit_test(test_mono_wait),
        cmocka_unit_test(test_mkdir_p),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

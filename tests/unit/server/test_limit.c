/* Unit tests for server/limit.c: the login rate limit (free failures, doubling lockouts
 * capped, clear on success, keys independent, forgetting idle keys). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "server/server-int.h"

static void test_lockout(void **state)
{
    (void)state;
    struct srv_limit *l = srv_limit_new();
    int64_t t = 1000000;
    for (int i = 0; i < 4; i++) {
        srv_limit_fail(l, "u:a", 5, t);
        assert_int_equal(srv_limit_check(l, "u:a", t), 0);
    }
    srv_limit_fail(l, "u:a", 5, t); /* the 5th: locked 30 s */
    assert_int_equal(srv_limit_check(l, "u:a", t), 30000);
    assert_int_equal(srv_limit_check(l, "u:a", t + 29999), 1);
    assert_int_equal(srv_limit_check(l, "u:a", t + 30000), 0);
    assert_int_equal(srv_limit_check(l, "u:b", t), 0); /* keys are independent */
    srv_limit_fail(l, "u:a", 5, t + 30000);            /* 60 s, then 120 s */
    assert_int_equal(srv_limit_check(l, "u:a", t + 30000), 60000);
    srv_limit_fail(l, "u:a", 5, t + 90000);
    assert_int_equal(srv_limit_check(l, "u:a", t + 90000), 120000);
    for (int i = 0; i < 40; i++)
        srv_limit_fail(l, "u:a", 5, t + 210000);
    assert_int_equal(srv_limit_check(l, "u:a", t + 210000), SRV_LIMIT_MAX_MS);
    srv_limit_clear(l, "u:a");
    assert_int_equal(srv_limit_check(l, "u:a", t + 210000), 0);
    /* an unlocked key idle for long starts over */
    for (int i = 0; i < 4; i++)
        srv_limit_fail(l, "a:x", 5, t);
    srv_limit_fail(l, "a:x", 5, t + 16 * 60 * 1000);
    assert_int_equal(srv_limit_check(l, "a:x", t + 16 * 60 * 1000), 0);
    srv_limit_free(l);
}

static void test_bounded(void **state)
{
    (void)state;
    struct srv_limit *l = srv_limit_new();
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "a:%d", i);
        srv_limit_fail(l, key, 1, i);
    }
    assert_int_equal(srv_limit_check(l, "a:9999", 9999), 30000); /* the newest is kept */
    assert_int_equal(srv_limit_check(l, "a:0", 1), 0);           /* the oldest went */
    srv_limit_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lockout),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

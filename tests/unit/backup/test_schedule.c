/* Unit tests for backup/schedule.c: cron expressions (fields, ranges, steps, lists, names,
 * macros, the seconds field, the day-of-month/day-of-week rule, errors naming the field)
 * and their next times across month and year ends and leap days; retention (last, daily,
 * weekly and their union). */
#define _DEFAULT_SOURCE /* timegm */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "backup/schedule.h"

static int64_t at(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return (int64_t)timegm(&tm);
}

static int64_t next_of(const char *expr, int64_t after)
{
    struct backup_cron c;
    struct zp_err err;
    zp_err_init(&err);
    if (backup_cron_parse(expr, &c, &err) != 0)
        fail_msg("'%s': %s", expr, err.msg);
    return backup_cron_next(&c, after);
}

static void cron_next(void **state)
{
    (void)state;
    int64_t t0 = at(2026, 12, 5, 23, 20, 7); /* a Saturday */
    assert_int_equal(next_of("* * * * *", t0), at(2026, 12, 5, 23, 21, 0));
    assert_int_equal(next_of("0 3 * * *", t0), at(2026, 12, 6, 3, 0, 0));
    assert_int_equal(next_of("@daily", t0), at(2026, 12, 6, 0, 0, 0));
    assert_int_equal(next_of("@hourly", t0), at(2026, 12, 6, 0, 0, 0));
    assert_int_equal(next_of("@weekly", t0), at(2026, 12, 6, 0, 0, 0)); /* Sunday */
    assert_int_equal(next_of("@monthly", t0), at(2027, 1, 1, 0, 0, 0));
    assert_int_equal(next_of("@yearly", t0), at(2027, 1, 1, 0, 0, 0));
    assert_int_equal(next_of("*/15 9-17 * * MON-FRI", t0), at(2026, 12, 7, 9, 0, 0));
    assert_int_equal(next_of("*/15 9-17 * * mon-fri", at(2026, 12, 7, 9, 0, 0)),
                     at(2026, 12, 7, 9, 15, 0));
    assert_int_equal(next_of("0 0 29 feb *", t0), at(2028, 2, 29, 0, 0, 0));
    assert_int_equal(next_of("0 0 30 2 *", t0), -1);
    assert_int_equal(next_of("30 4 1,15 * *", t0), at(2026, 12, 15, 4, 30, 0));
    /* both day fields restricted: either matches (the 13th, or a Friday) */
    assert_int_equal(next_of("0 0 13 * 5", t0), at(2026, 12, 11, 0, 0, 0));
    assert_int_equal(next_of("0 0 13 * 5", at(2026, 12, 11, 0, 0, 0)), at(2026, 12, 13, 0, 0, 0));
    /* 7 is Sunday too */
    assert_int_equal(next_of("0 12 * * 7", t0), at(2026, 12, 6, 12, 0, 0));
    /* 5/20: from 5 to the end every 20 */
    assert_int_equal(next_of("5/20 * * * *", t0), at(2026, 12, 5, 23, 25, 0));
    assert_int_equal(next_of("5/20 * * * *", at(2026, 12, 5, 23, 45, 0)), at(2026, 12, 6, 0, 5, 0));
    /* the seconds field */
    assert_int_equal(next_of("*/2 * * * * *", t0), at(2026, 12, 5, 23, 20, 8));
    assert_int_equal(next_of("30 0 0 1 1 *", t0), at(2027, 1, 1, 0, 0, 30));
    assert_int_equal(next_of("  0   3 * * *  ", t0), at(2026, 12, 6, 3, 0, 0));
}

static void expect_error(const char *expr, const char *want)
{
    struct backup_cron c;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(backup_cron_parse(expr, &c, &err), ZP_E_INPUT);
    if (strstr(err.msg, want) == NULL)
        fail_msg("'%s': message '%s' lacks '%s'", expr, err.msg, want);
}

static void cron_errors(void **state)
{
    (void)state;
    expect_error("61 * * * *", "field 1 (minute): '61' is out of range 0-59");
    expect_error("* 24 * * *", "field 2 (hour): '24' is out of range 0-23");
    expect_error("* * 0 * *", "field 3 (day of month): '0' is out of range 1-31");
    expect_error("* * * 13 *", "field 4 (month): '13' is out of range 1-12");
    expect_error("* * * * 8", "field 5 (day of week): '8' is out of range 0-7");
    expect_error("* * * foo *", "field 4 (month): 'foo' is not a value, a name");
    expect_error("*/0 * * * *", "field 1 (minute): '*/0' is not");
    expect_error("5-1 * * * *", "'5-1' is out of range");
    expect_error("1,,2 * * * *", "field 1 (minute): '' is not");
    expect_error("* * *", "has 3 fields, want 5");
    expect_error("* * * * * * *", "more than 6 fields");
    expect_error("", "has 0 fields");
    expect_error("@often", "unknown cron macro '@often'");
    expect_error("60 * * * * *", "field 1 (second): '60' is out of range 0-59");
}

static void retention(void **state)
{
    (void)state;
    /* ten archives: three on Mon 2026-11-30, two on each day Tue..Thu, one on Sun 12-06 */
    int64_t t[] = {at(2026, 11, 30, 1, 0, 0), at(2026, 11, 30, 2, 0, 0), at(2026, 11, 30, 3, 0, 0),
                   at(2026, 12, 1, 1, 0, 0),  at(2026, 12, 1, 2, 0, 0),  at(2026, 12, 2, 1, 0, 0),
                   at(2026, 12, 2, 2, 0, 0),  at(2026, 12, 3, 1, 0, 0),  at(2026, 12, 3, 2, 0, 0),
                   at(2026, 12, 6, 1, 0, 0)};
    size_t n = sizeof(t) / sizeof(*t);
    bool keep[10];
    struct backup_retention r = {0};
    backup_retention_select(&r, t, NULL, n, keep);
    for (size_t i = 0; i < n; i++)
        assert_true(keep[i]); /* no rule: everything */
    r = (struct backup_retention){.last = 2};
    backup_retention_select(&r, t, NULL, n, keep);
    bool want_last[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(keep[i], want_last[i]);
    r = (struct backup_retention){.daily = 3};
    backup_retention_select(&r, t, NULL, n, keep);
    bool want_daily[] = {0, 0, 0, 0, 0, 0, 1, 0, 1, 1}; /* Sun, Thu, Wed: newest of each */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(keep[i], want_daily[i]);
    r = (struct backup_retention){.weekly = 2};
    backup_retention_select(&r, t, NULL, n, keep);
    /* Sunday 12-06 ends the ISO week of Mon 11-30: one week holds them all */
    bool want_weekly[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(keep[i], want_weekly[i]);
    int64_t w[] = {at(2026, 11, 29, 5, 0, 0), t[9], at(2026, 11, 22, 5, 0, 0),
                   at(2026, 11, 29, 4, 0, 0)};
    r = (struct backup_retention){.weekly = 2};
    backup_retention_select(&r, w, NULL, 4, keep);
    assert_true(keep[1]);  /* week of 11-30 */
    assert_true(keep[0]);  /* week of 11-23: Sunday 11-29 05:00 */
    assert_false(keep[3]); /* older in the same week */
    assert_false(keep[2]); /* a third week */
    r = (struct backup_retention){.last = 1, .daily = 2};
    backup_retention_select(&r, t, NULL, n, keep);
    bool want_union[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(keep[i], want_union[i]);
}

/* keep by size: newest first while the total stays within the budget */
static void retention_size(void **state)
{
    (void)state;
    /* given oldest last, to check the order is by time, not by index */
    int64_t t[] = {at(2026, 12, 6, 4, 0, 0), at(2026, 12, 6, 3, 0, 0), at(2026, 12, 6, 2, 0, 0),
                   at(2026, 12, 6, 1, 0, 0), at(2026, 12, 5, 1, 0, 0)};
    uint64_t sz[] = {400, 300, 200, 100, 1};
    bool keep[5];
    struct backup_retention r = {.bytes = 900};
    backup_retention_select(&r, t, sz, 5, keep);
    /* 400 + 300 + 200 = 900 fits; + 100 passes it: that one and the older one go, even
     * though the oldest (1 byte) would fit on its own */
    bool want[] = {1, 1, 1, 0, 0};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(keep[i], want[i]);
    r = (struct backup_retention){.bytes = 899};
    backup_retention_select(&r, t, sz, 5, keep);
    bool want2[] = {1, 1, 0, 0, 0};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(keep[i], want2[i]);
    /* the newest is kept even when it alone is larger than the budget */
    r = (struct backup_retention){.bytes = 10};
    backup_retention_select(&r, t, sz, 5, keep);
    bool want3[] = {1, 0, 0, 0, 0};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(keep[i], want3[i]);
    /* union with keep-last: last 4 keeps what the size would drop */
    r = (struct backup_retention){.bytes = 10, .last = 4};
    backup_retention_select(&r, t, sz, 5, keep);
    bool want4[] = {1, 1, 1, 1, 0};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(keep[i], want4[i]);
    /* sizes near the top of the range do not wrap */
    uint64_t big[] = {UINT64_MAX - 1, UINT64_MAX - 1, 5, 5, 5};
    r = (struct backup_retention){.bytes = UINT64_MAX};
    backup_retention_select(&r, t, big, 5, keep);
    bool want5[] = {1, 0, 0, 0, 0};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(keep[i], want5[i]);
}

/* only names zpanel writes are archives retention may remove */
static void archive_names(void **state)
{
    (void)state;
    assert_int_equal(backup_archive_time("web", "web-20261206-013000.tar.zst"),
                     at(2026, 12, 6, 1, 30, 0));
    assert_int_equal(backup_archive_time("my-app", "my-app-20240229-235959.tar.zst"),
                     at(2024, 2, 29, 23, 59, 59));
    static const char *const not_ours[] = {
        "web-20261206-013000.tar.gz", /* another extension */
        "web-20261206-013000.tar.zst.sha256",
        "webx-20261206-013000.tar.zst",
        "web-2026120-0130000.tar.zst", /* the dash misplaced */
        "web-20261306-013000.tar.zst", /* month 13 */
        "web-20261206-253000.tar.zst", /* hour 25 */
        "web-20260230-010000.tar.zst", /* 30 February */
        "web-20261206-010060.tar.zst", /* second 60 */
        "web-10130115-013000.tar.zst", /* before 1970 (found by the fuzzer) */
        "web-2026120a-013000.tar.zst",
        "web-20261206-013000.tar.zst ",
        "web.tar.zst",
        "",
    };
    for (size_t i = 0; i < sizeof(not_ours) / sizeof(*not_ours); i++)
        if (backup_archive_time("web", not_ours[i]) != -1)
            fail_msg("'%s' taken for an archive", not_ours[i]);
    /* another project's archives are not this one's, even with a common prefix */
    assert_int_equal(backup_archive_time("web", "web-api-20261206-013000.tar.zst"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cron_next),     cmocka_unit_test(cron_errors),
        cmocka_unit_test(retention),     cmocka_unit_test(retention_size),
        cmocka_unit_test(archive_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* backup/schedule: cron expressions and retention (see schedule.h). */
#define _GNU_SOURCE
#include "schedule.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/banned.h"

struct field {
    const char *name;
    int min, max;
    const char *const *names; /* index i is value min + i, or NULL */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct field fields[] = {
    {"second", 0, 59, NULL},       {"minute", 0, 59, NULL},       {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL}, {"month", 1, 12, month_names}, {"day of week", 0, 7, day_names},
};

/* A number or (for f with names) a three-letter name in s[0..n). */
static bool value(const struct field *f, const char *s, size_t n, int *ret)
{
    if (n == 0)
        return false;
    if (f->names && n == 3) {
        for (int i = 0; f->names[i]; i++) {
            bool same = true;
            for (size_t k = 0; k < 3 && same; k++) {
                char c = s[k];
                if (c >= 'A' && c <= 'Z')
                    c = (char)(c - 'A' + 'a');
                same = c == f->names[i][k];
            }
            if (same) {
                *ret = f->min + i;
                return true;
            }
        }
    }
    if (n > 3)
        return false;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return true;
}

/* One field's list into *ret (bits at their values). */
static int parse_field(int fi, const struct field *f, const char *s, size_t n, uint64_t *ret,
                       bool *ret_any, struct zp_err *err)
{
    uint64_t bits = 0;
    *ret_any = n == 1 && s[0] == '*';
    size_t pos = 0;
    while (pos <= n) {
        size_t end = pos;
        while (end < n && s[end] != ',')
            end++;
        const char *item = s + pos;
        size_t len = end - pos;
        const char *slash = memchr(item, '/', len);
        size_t rlen = slash ? (size_t)(slash - item) : len;
        int lo = f->min, hi = f->max, step = 1;
        bool ok = rlen > 0;
        if (ok && slash) {
            ok = value(&fields[0], slash + 1, len - rlen - 1, &step) && step > 0;
        }
        if (ok && !(rlen == 1 && item[0] == '*')) {
            const char *dash = memchr(item, '-', rlen);
            if (dash) {
                ok = value(f, item, (size_t)(dash - item), &lo) &&
                     value(f, dash + 1, rlen - (size_t)(dash - item) - 1, &hi);
            } else {
                ok = value(f, item, rlen, &lo);
                if (ok && !slash)
                    hi = lo;
            }
            if (ok && (lo < f->min || hi > f->max || lo > hi))
                return zp_err_set(err, ZP_E_INPUT, NULL,
                                  "field %d (%s): '%.*s' is out of range %d-%d", fi + 1, f->name,
                                  (int)len, item, f->min, f->max);
        }
        if (!ok)
            return zp_err_set(err, ZP_E_INPUT, NULL, "field %d (%s): '%.*s' is not %s", fi + 1,
                              f->name, (int)len, item,
                              f->names ? "a value, a name, a range or a step"
                                       : "a value, a range or a step");
        for (int v = lo; v <= hi; v += step)
            bits |= (uint64_t)1 << v;
        pos = end + 1;
    }
    *ret = bits;
    return 0;
}

int backup_cron_parse(const char *expr, struct backup_cron *ret, struct zp_err *err)
{
    if (strlen(expr) > BACKUP_CRON_MAX)
        return zp_err_set(err, ZP_E_INPUT, NULL, "cron expression longer than %d bytes",
                          BACKUP_CRON_MAX);
    static const struct {
        const char *name, *expr;
    } macros[] = {{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
                  {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
                  {"@hourly", "0 * * * *"}};
    while (*expr == ' ' || *expr == '\t')
        expr++;
    if (expr[0] == '@') {
        size_t n = strcspn(expr, " \t");
        for (size_t i = 0; i < sizeof(macros) / sizeof(*macros); i++)
            if (strlen(macros[i].name) == n && strncmp(expr, macros[i].name, n) == 0 &&
                expr[n + strspn(expr + n, " \t")] == '\0')
                return backup_cron_parse(macros[i].expr, ret, err);
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "unknown cron macro '%.*s' (use @yearly, @monthly, @weekly, @daily or "
                          "@hourly)",
                          (int)n, expr);
    }
    const char *tok[7];
    size_t len[7];
    size_t nt = 0;
    const char *p = expr;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        size_t n = strcspn(p, " \t");
        if (nt == 6)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "cron expression has more than 6 fields (minute hour day-of-month "
                              "month day-of-week, optionally seconds first)");
        tok[nt] = p;
        len[nt++] = n;
        p += n;
    }
    if (nt != 5 && nt != 6)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "cron expression has %zu fields, want 5 (minute hour day-of-month month "
                          "day-of-week) or 6 (seconds first)",
                          nt);
    struct backup_cron c;
    memset(&c, 0, sizeof(c));
    uint64_t *dst[6];
    uint64_t v[6] = {1, 0, 0, 0, 0, 0}; /* seconds: 0 without the field */
    bool any[6] = {false};
    size_t first = nt == 6 ? 0 : 1;
    for (size_t i = first; i < 6; i++) {
        dst[i] = &v[i];
        int rc = parse_field((int)(i - first), &fields[i], tok[i - first], len[i - first], dst[i],
                             &any[i], err);
        if (rc)
            return rc;
    }
    c.seconds = v[0];
    c.minutes = v[1];
    c.hours = (uint32_t)v[2];
    c.days = (uint32_t)v[3];
    c.months = (uint16_t)v[4];
    uint64_t wd = v[5];
    if (wd & ((uint64_t)1 << 7))
        wd |= 1; /* 7 is Sunday */
    c.weekdays = (uint8_t)(wd & 0x7f);
    c.days_any = any[3];
    c.weekdays_any = any[5];
    *ret = c;
    return 0;
}

static bool day_matches(const struct backup_cron *c, const struct tm *tm)
{
    bool dom = (c->days >> tm->tm_mday) & 1;
    bool dow = (c->weekdays >> tm->tm_wday) & 1;
    if (c->days_any && c->weekdays_any)
        return true;
    if (c->days_any)
        return dow;
    if (c->weekdays_any)
        return dom;
    return dom || dow;
}

int64_t backup_cron_next(const struct backup_cron *c, int64_t after)
{
    time_t t = (time_t)after + 1;
    struct tm tm;
    gmtime_r(&t, &tm);
    /* walk field by field, coarse first: at most a few thousand steps for 8 years */
    int64_t limit = after + (int64_t)8 * 366 * 86400;
    for (int guard = 0; guard < 200000; guard++) {
        time_t now = timegm(&tm);
        if ((int64_t)now > limit)
            return -1;
        if (!((c->months >> (tm.tm_mon + 1)) & 1)) {
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
            timegm(&tm); /* normalise */
            continue;
        }
        if (!day_matches(c, &tm)) {
            tm.tm_mday++;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
            timegm(&tm);
            continue;
        }
        if (!((c->hours >> tm.tm_hour) & 1)) {
            tm.tm_hour++;
            tm.tm_min = tm.tm_sec = 0;
            timegm(&tm);
            continue;
        }
        if (!((c->minutes >> tm.tm_min) & 1)) {
            tm.tm_min++;
            tm.tm_sec = 0;
            timegm(&tm);
            continue;
        }
        if (!((c->seconds >> tm.tm_sec) & 1)) {
            tm.tm_sec++;
            timegm(&tm);
            continue;
        }
        return (int64_t)timegm(&tm);
    }
    return -1;
}

/* ---- retention ---- */

/* The UTC day (days since the epoch) and ISO week (Monday-based weeks since the epoch). */
static int64_t day_of(int64_t t)
{
    return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

static int64_t week_of(int64_t t)
{
    /* 1970-01-01 was a Thursday: shift so that weeks start on Monday */
    int64_t d = day_of(t) + 3;
    return d >= 0 ? d / 7 : -((-d + 6) / 7);
}

struct stamp {
    int64_t t;
    size_t i;
};

static int newest_first(const void *a, const void *b)
{
    const struct stamp *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? 1 : -1;
    return x->i < y->i ? -1 : x->i > y->i;
}

void backup_retention_select(const struct backup_retention *r, const int64_t *times,
                             const uint64_t *sizes, size_t n, bool *keep)
{
    bool all = r->last == 0 && r->daily == 0 && r->weekly == 0 && r->bytes == 0;
    for (size_t i = 0; i < n; i++)
        keep[i] = all;
    if (all || n == 0)
        return;
    struct stamp *st = zp_calloc(n, sizeof(*st));
    for (size_t i = 0; i < n; i++)
        st[i] = (struct stamp){times[i], i};
    qsort(st, n, sizeof(*st), newest_first);
    size_t *order = zp_calloc(n, sizeof(*order));
    for (size_t i = 0; i < n; i++)
        order[i] = st[i].i;
    free(st);
    for (size_t k = 0; k < n && k < r->last; k++)
        keep[order[k]] = true;
    if (r->bytes > 0 && sizes == NULL)
        ZP_BUG("retention by size without sizes");
    if (r->bytes > 0 && sizes != NULL) {
        uint64_t total = 0;
        for (size_t k = 0; k < n; k++) {
            uint64_t sz = sizes[order[k]];
            if (k > 0 && (total > r->bytes || sz > r->bytes - total))
                break; /* this one would pass the budget: it and every older one go */
            total = sz > UINT64_MAX - total ? UINT64_MAX : total + sz;
            keep[order[k]] = true;
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        unsigned want = pass == 0 ? r->daily : r->weekly;
        unsigned got = 0;
        int64_t prev = 0;
        for (size_t k = 0; k < n && got < want; k++) {
            int64_t bucket = pass == 0 ? day_of(times[order[k]]) : week_of(times[order[k]]);
            if (k > 0 && bucket == prev)
                continue;
            keep[order[k]] = true; /* the newest of its day or week */
            prev = bucket;
            got++;
        }
    }
    free(order);
}

int64_t backup_archive_time(const char *project, const char *name)
{
    size_t pl = strlen(project);
    if (strncmp(name, project, pl) != 0 || name[pl] != '-' || strlen(name) != pl + 1 + 15 + 8 ||
        strcmp(name + pl + 1 + 15, ".tar.zst") != 0)
        return -1;
    const char *t = name + pl + 1;
    for (int i = 0; i < 15; i++)
        if (i == 8 ? t[i] != '-' : (t[i] < '0' || t[i] > '9'))
            return -1;
    int v[6] = {0};
    static const int at[6][2] = {{0, 4}, {4, 2}, {6, 2}, {9, 2}, {11, 2}, {13, 2}};
    for (int f = 0; f < 6; f++)
        for (int k = 0; k < at[f][1]; k++)
            v[f] = v[f] * 10 + (t[at[f][0] + k] - '0');
    if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 ||
        v[5] > 59)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = v[0] - 1900;
    tm.tm_mon = v[1] - 1;
    tm.tm_mday = v[2];
    tm.tm_hour = v[3];
    tm.tm_min = v[4];
    tm.tm_sec = v[5];
    time_t when = timegm(&tm);
    /* a day the month does not have (0230) is no name zpanel writes */
    if (tm.tm_mday != v[2] || tm.tm_mon != v[1] - 1)
        return -1;
    return (int64_t)when;
}

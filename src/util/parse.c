/* util: checked parsers for integers, numbers, durations and sizes. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

int zp_parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return ZP_E_INPUT;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s)
        return ZP_E_INPUT;
    if (v < min || v > max)
        return ZP_E_INPUT;
    *ret = (int64_t)v;
    return 0;
}

int zp_parse_double(const char *s, double *ret)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return ZP_E_INPUT;
    /* plain decimal only: no hex floats, inf or nan */
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !strchr("+-.eE", *p))
            return ZP_E_INPUT;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !isfinite(v))
        return ZP_E_INPUT;
    *ret = v;
    return 0;
}

struct unit {
    const char *name;
    double ns;
};

static const struct unit duration_units[] = {
    {"ns", 1.0}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6},
    {"s", 1e9},  {"m", 60e9}, {"h", 3600e9},
};

int zp_parse_duration(const char *s, bool allow_bare_seconds, int64_t *ret_ns)
{
    if (!s || !*s)
        return ZP_E_INPUT;
    const char *p = s;
    bool neg = false;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    if (strcmp(p, "0") == 0) {
        *ret_ns = 0;
        return 0;
    }
    double v;
    if (allow_bare_seconds && zp_parse_double(p, &v) == 0) {
        if (v < 0 || v * 1e9 > 9.2e18)
            return ZP_E_INPUT;
        *ret_ns = (int64_t)llround(v * 1e9) * (neg ? -1 : 1);
        return 0;
    }
    double total = 0;
    bool any = false;
    while (*p) {
        const char *num = p;
        while (isdigit((unsigned char)*p) || *p == '.')
            p++;
        if (p == num)
            return ZP_E_INPUT;
        char buf[64];
        size_t nlen = (size_t)(p - num);
        if (nlen >= sizeof(buf))
            return ZP_E_INPUT;
        memcpy(buf, num, nlen);
        buf[nlen] = '\0';
        if (strchr(buf, '.') != strrchr(buf, '.') || strcmp(buf, ".") == 0)
            return ZP_E_INPUT;
        double n = strtod(buf, NULL);
        const struct unit *u = NULL;
        size_t best = 0;
        for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
            size_t l = strlen(duration_units[i].name);
            if (strncmp(p, duration_units[i].name, l) == 0 && l > best) {
                u = &duration_units[i];
                best = l;
            }
        }
        if (!u)
            return ZP_E_INPUT;
        p += best;
        total += n * u->ns;
        any = true;
        if (total > 9.2e18)
            return ZP_E_INPUT;
    }
    if (!any)
        return ZP_E_INPUT;
    *ret_ns = (int64_t)llround(total) * (neg ? -1 : 1);
    return 0;
}

static void add_frac(struct zp_buf *b, uint64_t v, uint64_t unit)
{
    /* print v/unit with trailing zeros of the fraction removed */
    zp_buf_addf(b, "%llu", (unsigned long long)(v / unit));
    uint64_t frac = v % unit;
    if (!frac)
        return;
    char digits[32] = {0};
    int nd = 0;
    for (uint64_t u = unit; u > 1; u /= 10)
        nd++;
    for (int i = nd - 1; i >= 0; i--) {
        digits[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    while (nd > 0 && digits[nd - 1] == '0')
        nd--;
    zp_buf_addc(b, '.');
    zp_buf_add(b, digits, (size_t)nd);
}

char *zp_format_duration(int64_t ns)
{
    struct zp_buf b = ZP_BUF_INIT;
    if (ns == 0)
        return zp_strdup("0s");
    uint64_t v = ns < 0 ? (uint64_t)(-(ns + 1)) + 1 : (uint64_t)ns;
    if (ns < 0)
        zp_buf_addc(&b, '-');
    if (v < 1000ULL) {
        zp_buf_addf(&b, "%lluns", (unsigned long long)v);
    } else if (v < 1000000ULL) {
        add_frac(&b, v, 1000ULL);
        zp_buf_adds(&b, "\xc2\xb5s");
    } else if (v < 1000000000ULL) {
        add_frac(&b, v, 1000000ULL);
        zp_buf_adds(&b, "ms");
    } else {
        uint64_t h = v / 3600000000000ULL;
        uint64_t rem = v % 3600000000000ULL;
        uint64_t m = rem / 60000000000ULL;
        rem %= 60000000000ULL;
        if (h)
            zp_buf_addf(&b, "%lluh", (unsigned long long)h);
        if (h || m)
            zp_buf_addf(&b, "%llum", (unsigned long long)m);
        add_frac(&b, rem, 1000000000ULL);
        zp_buf_addc(&b, 's');
    }
    return zp_buf_detach(&b, NULL);
}

int zp_parse_size(const char *s, int64_t *ret_bytes)
{
    if (!s || !*s)
        return ZP_E_INPUT;
    size_t n = strlen(s);
    if (n > 64)
        return ZP_E_INPUT;
    char num[65];
    size_t i = 0;
    while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '.'))
        i++;
    if (i == 0)
        return ZP_E_INPUT;
    memcpy(num, s, i);
    num[i] = '\0';
    double v;
    if (zp_parse_double(num, &v) || v < 0)
        return ZP_E_INPUT;
    const char *u = s + i;
    while (*u == ' ')
        u++;
    double mul;
    char c = (char)tolower((unsigned char)u[0]);
    const char *rest;
    switch (c) {
    case '\0':
        mul = 1;
        rest = u;
        break;
    case 'b':
        mul = 1;
        rest = u + 1;
        break;
    case 'k':
        mul = 1024.0;
        rest = u + 1;
        break;
    case 'm':
        mul = 1024.0 * 1024;
        rest = u + 1;
        break;
    case 'g':
        mul = 1024.0 * 1024 * 1024;
        rest = u + 1;
        break;
    case 't':
        mul = 1024.0 * 1024 * 1024 * 1024;
        rest = u + 1;
        break;
    case 'p':
        mul = 1024.0 * 1024 * 1024 * 1024 * 1024;
        rest = u + 1;
        break;
    default:
        return ZP_E_INPUT;
    }
    if (c != 'b' && c != '\0') {
        if (tolower((unsigned char)rest[0]) == 'i' && tolower((unsigned char)rest[1]) == 'b')
            rest += 2;
        else if (tolower((unsigned char)rest[0]) == 'b')
            rest++;
    }
    if (*rest)
        return ZP_E_INPUT;
    double bytes = v * mul;
    if (bytes > 9.2e18)
        return ZP_E_INPUT;
    *ret_bytes = (int64_t)bytes;
    return 0;
}

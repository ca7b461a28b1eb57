/* util: the capped, NUL-terminated growable buffer. */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

static char empty_cstr[1];

void zp_buf_init(struct zp_buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void zp_buf_release(struct zp_buf *b)
{
    if (!b)
        return;
    free(b->p);
    zp_buf_init(b, b->max);
}

void zp_buf_reset(struct zp_buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

static size_t buf_max(const struct zp_buf *b)
{
    return b->max ? b->max : SIZE_MAX / 2;
}

int zp_buf_add(struct zp_buf *b, const void *data, size_t len)
{
    if (len > buf_max(b) || b->len > buf_max(b) - len)
        return ZP_E_TOOBIG;
    if (b->len + len + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 64;
        while (ncap < b->len + len + 1)
            ncap *= 2;
        b->p = zp_realloc(b->p, ncap);
        b->cap = ncap;
    }
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

int zp_buf_adds(struct zp_buf *b, const char *s)
{
    return zp_buf_add(b, s, strlen(s));
}

int zp_buf_addc(struct zp_buf *b, char c)
{
    return zp_buf_add(b, &c, 1);
}

int zp_buf_vaddf(struct zp_buf *b, const char *fmt, va_list ap)
{
    char small[256];
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(small, sizeof(small), fmt, cp);
    va_end(cp);
    if (n < 0)
        ZP_BUG("bad format '%s'", fmt);
    if ((size_t)n < sizeof(small))
        return zp_buf_add(b, small, (size_t)n);
    char *big = zp_vasprintf(fmt, ap);
    int r = zp_buf_add(b, big, (size_t)n);
    free(big);
    return r;
}

int zp_buf_addf(struct zp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = zp_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return r;
}

const char *zp_buf_cstr(const struct zp_buf *b)
{
    return b->p ? b->p : empty_cstr;
}

char *zp_buf_detach(struct zp_buf *b, size_t *ret_len)
{
    char *p = b->p ? b->p : zp_strdup("");
    if (ret_len)
        *ret_len = b->len;
    zp_buf_init(b, b->max);
    return p;
}

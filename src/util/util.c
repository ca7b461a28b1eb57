/* util: allocation wrappers, errors, diagnostics and interned strings. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banned.h"

void zp_bug(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "zpanel: BUG at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static ZP_NORETURN void oom(size_t n)
{
    fprintf(stderr, "zpanel: out of memory allocating %zu bytes\n", n);
    abort();
}

void *zp_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *zp_calloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        oom(nmemb * size);
    return p;
}

void *zp_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

void zp_grow(void **array, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return;
    size_t ncap = *cap ? *cap : 4;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem)
            oom(SIZE_MAX);
        ncap *= 2;
    }
    *array = zp_realloc(*array, ncap * elem);
    *cap = ncap;
}

char *zp_strdup(const char *s)
{
    return zp_strndup(s, strlen(s));
}

char *zp_strndup(const char *s, size_t n)
{
    char *p = zp_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *zp_vasprintf(const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        ZP_BUG("bad format '%s'", fmt);
    char *p = zp_malloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *zp_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = zp_vasprintf(fmt, ap);
    va_end(ap);
    return p;
}

/* ---- errors ---- */

void zp_err_init(struct zp_err *err)
{
    memset(err, 0, sizeof(*err));
}

/* Keep text (len bytes) as err's message; when it does not fit, cut it at a UTF-8
 * boundary and say how much was left out. */
static void err_store(struct zp_err *err, const char *text, size_t len)
{
    if (len < sizeof(err->msg)) {
        memcpy(err->msg, text, len);
        err->msg[len] = '\0';
        return;
    }
    char mark[96];
    /* the mark's own length bounds how much of text fits; the count it prints can only
     * shrink the mark by a digit or two, which leaves a little room unused */
    int mlen = snprintf(mark, sizeof(mark), ZP_ERR_CUT_MARK, len);
    size_t keep = sizeof(err->msg) - 1 - (size_t)mlen;
    while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80)
        keep--; /* text[keep] would start the cut-off part: not inside a character */
    mlen = snprintf(mark, sizeof(mark), ZP_ERR_CUT_MARK, len - keep);
    memcpy(err->msg, text, keep);
    memcpy(err->msg + keep, mark, (size_t)mlen + 1);
}

static int err_vset(struct zp_err *err, const char *src_file, int src_line, int code,
                    const struct zp_pos *pos, const char *fmt, va_list ap) ZP_PRINTF(6, 0);

static int err_vset(struct zp_err *err, const char *src_file, int src_line, int code,
                    const struct zp_pos *pos, const char *fmt, va_list ap)
{
    if (!err || err->code)
        return err && err->code ? err->code : code;
    err->code = code;
    err->src_file = src_file;
    err->src_line = src_line;
    if (pos)
        err->pos = *pos;
    char *msg = zp_vasprintf(fmt, ap);
    err_store(err, msg, strlen(msg));
    free(msg);
    return code;
}

int zp_err_set_(struct zp_err *err, const char *src_file, int src_line, int code,
                const struct zp_pos *pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = err_vset(err, src_file, src_line, code, pos, fmt, ap);
    va_end(ap);
    return r;
}

int zp_err_sys_(struct zp_err *err, const char *src_file, int src_line, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    if (!err || err->code)
        return err && err->code ? err->code : ZP_E_SYSTEM;
    va_start(ap, fmt);
    int code = saved == ENOENT ? ZP_E_NOTFOUND : ZP_E_SYSTEM;
    char *what = zp_vasprintf(fmt, ap);
    va_end(ap);
    zp_err_set_(err, src_file, src_line, code, NULL, "%s: %s", what, strerror(saved));
    free(what);
    err->sys_errno = saved;
    return code;
}

void zp_err_prefix(struct zp_err *err, const char *fmt, ...)
{
    if (!err || !err->code)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *prefix = zp_vasprintf(fmt, ap);
    va_end(ap);
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_addf(&b, "%s: %s", prefix, err->msg);
    err_store(err, zp_buf_cstr(&b), b.len);
    zp_buf_release(&b);
    free(prefix);
}

static char *render_at(const struct zp_pos *pos, const char *path, const char *msg)
{
    struct zp_buf b = ZP_BUF_INIT;
    if (pos && pos->file && pos->line > 0)
        zp_buf_addf(&b, "%s:%d:%d: ", pos->file, pos->line, pos->col);
    else if (pos && pos->file)
        zp_buf_addf(&b, "%s: ", pos->file);
    if (path && *path)
        zp_buf_addf(&b, "%s: ", path);
    zp_buf_adds(&b, msg);
    return zp_buf_detach(&b, NULL);
}

char *zp_err_render(const struct zp_err *err)
{
    return render_at(&err->pos, NULL, err->msg[0] ? err->msg : "unknown error");
}

/* ---- diagnostics ---- */

void zp_diags_init(struct zp_diags *d)
{
    memset(d, 0, sizeof(*d));
}

void zp_diags_release(struct zp_diags *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].path);
        free(d->items[i].msg);
    }
    free(d->items);
    zp_diags_init(d);
}

void zp_diags_vadd(struct zp_diags *d, enum zp_severity sev, const struct zp_pos *pos,
                   const char *path, const char *fmt, va_list ap)
{
    size_t max = d->max ? d->max : 1000;
    if (sev == ZP_SEV_ERROR)
        d->errors++;
    if (d->n >= max) {
        d->dropped++;
        return;
    }
    zp_grow((void **)&d->items, &d->cap, d->n + 1, sizeof(*d->items));
    struct zp_diag *x = &d->items[d->n++];
    memset(x, 0, sizeof(*x));
    x->sev = sev;
    if (pos)
        x->pos = *pos;
    x->path = path ? zp_strdup(path) : NULL;
    x->msg = zp_vasprintf(fmt, ap);
}

void zp_diags_add(struct zp_diags *d, enum zp_severity sev, const struct zp_pos *pos,
                  const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    zp_diags_vadd(d, sev, pos, path, fmt, ap);
    va_end(ap);
}

char *zp_diag_render(const struct zp_diag *diag)
{
    if (diag->sev == ZP_SEV_WARNING) {
        char *body = render_at(&diag->pos, diag->path, diag->msg);
        char *r = zp_asprintf("warning: %s", body);
        free(body);
        return r;
    }
    return render_at(&diag->pos, diag->path, diag->msg);
}

void zp_diags_take(struct zp_diags *dst, struct zp_diags *src)
{
    size_t max = dst->max ? dst->max : 1000;
    for (size_t i = 0; i < src->n; i++) {
        struct zp_diag *x = &src->items[i];
        if (x->sev == ZP_SEV_ERROR)
            dst->errors++;
        if (dst->n >= max) {
            dst->dropped++;
            free(x->path);
            free(x->msg);
            continue;
        }
        zp_grow((void **)&dst->items, &dst->cap, dst->n + 1, sizeof(*dst->items));
        dst->items[dst->n++] = *x;
    }
    dst->dropped += src->dropped;
    free(src->items);
    zp_diags_init(src);
}

static int pos_cmp(const struct zp_diag *a, const struct zp_diag *b)
{
    const char *fa = a->pos.file ? a->pos.file : "";
    const char *fb = b->pos.file ? b->pos.file : "";
    int c = strcmp(fa, fb);
    if (c)
        return c;
    if (a->pos.line != b->pos.line)
        return a->pos.line < b->pos.line ? -1 : 1;
    if (a->pos.col != b->pos.col)
        return a->pos.col < b->pos.col ? -1 : 1;
    return 0;
}

void zp_diags_sort(struct zp_diags *d)
{
    /* insertion sort: stable, and diagnostics lists are short */
    for (size_t i = 1; i < d->n; i++) {
        struct zp_diag x = d->items[i];
        size_t j = i;
        while (j > 0 && pos_cmp(&d->items[j - 1], &x) > 0) {
            d->items[j] = d->items[j - 1];
            j--;
        }
        d->items[j] = x;
    }
}

int zp_diags_to_err(const struct zp_diags *d, struct zp_err *err)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct zp_diag *x = &d->items[i];
        if (x->sev != ZP_SEV_ERROR)
            continue;
        if (x->path)
            return zp_err_set(err, ZP_E_INPUT, &x->pos, "%s: %s", x->path, x->msg);
        return zp_err_set(err, ZP_E_INPUT, &x->pos, "%s", x->msg);
    }
    if (d->errors)
        return zp_err_set(err, ZP_E_INPUT, NULL, "too many errors");
    return 0;
}

/* ---- interned strings ---- */

struct intern_entry {
    struct intern_entry *next;
    char s[];
};

static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static struct intern_entry *intern_table[256];

const char *zp_intern(const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 16777619u;
    size_t slot = h % 256;
    pthread_mutex_lock(&intern_lock);
    struct intern_entry *e = intern_table[slot];
    for (; e; e = e->next)
        if (strcmp(e->s, s) == 0)
            break;
    if (!e) {
        size_t n = strlen(s);
        e = zp_malloc(sizeof(*e) + n + 1);
        memcpy(e->s, s, n + 1);
        e->next = intern_table[slot];
        intern_table[slot] = e;
    }
    pthread_mutex_unlock(&intern_lock);
    return e->s;
}

/* ---- strings ---- */

bool zp_str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool zp_str_has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

size_t zp_utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v;
    if (c < 0x80) {
        *ret_cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        v = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)) ||
        (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *ret_cp = v;
    return len;
}

bool zp_hostname_valid(const char *s, bool allow_wildcard)
{
    size_t len = strlen(s);
    if (len == 0 || len > 253)
        return false;
    const char *p = s;
    if (allow_wildcard && p[0] == '*' && p[1] == '.')
        p += 2;
    /* one label at a time: 1..63 chars of [a-z0-9-], no '-' at either end */
    for (;;) {
        const char *start = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')
            p++;
        size_t n = (size_t)(p - start);
        if (n == 0 || n > 63 || start[0] == '-' || p[-1] == '-')
            return false;
        if (*p == '\0')
            return true;
        if (*p != '.')
            return false;
        p++;
    }
}

size_t zp_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 256 || lb > 256)
        return SIZE_MAX;
    size_t *row = zp_calloc(lb + 1, sizeof(*row));
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t r = row[lb];
    free(row);
    return r;
}

int64_t zp_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t zp_mono_ms(void)
{
    return zp_mono_ns() / 1000000;
}

void zp_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void zp_cond_init_mono(pthread_cond_t *cond)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(cond, &ca) != 0)
        ZP_BUG("initialising a condition variable on CLOCK_MONOTONIC");
    pthread_condattr_destroy(&ca);
}

struct timespec zp_mono_deadline(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ms <= 0)
        return ts;
    int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

/* orchestrator/dockerignore: .dockerignore patterns compiled to small NFAs and matched
 * by simulation over the path's code points, so that no pattern can make matching take
 * more than O(path length x pattern length) steps (no backtracking). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockerignore.h"

#include "../util/banned.h"

enum tok_kind {
    T_LIT,         /* one code point */
    T_ANY,         /* '?': any code point but '/' */
    T_CLASS,       /* '[...]': one code point in (or, negated, not in) the ranges */
    T_STAR,        /* '*': any run of code points but '/' */
    T_DSTAR_SLASH, /* a double star (alone or before a slash) with more pattern after it:
                    * nothing, or anything that ends with a '/' */
    T_DSTAR_END,   /* a double star at the end: anything */
};

struct tok {
    enum tok_kind kind;
    bool negated;   /* T_CLASS */
    uint32_t c;     /* T_LIT */
    size_t range0;  /* T_CLASS: first pair in pattern.ranges */
    size_t nranges; /* T_CLASS: number of pairs */
};

struct pattern {
    char *text; /* cleaned, without '!' */
    bool exception;
    bool literal; /* no special character: compared as a string */
    size_t text_len;
    struct tok *toks;
    size_t ntoks;
    uint32_t *ranges; /* lo, hi pairs of every class */
    size_t nranges;
};

struct orch_ignore {
    struct pattern *items;
    size_t n, cap;
    bool has_exceptions;
};

/* Code points that are not valid UTF-8 are mapped above Unicode, one per byte, so that
 * they only ever equal themselves. */
#define BAD_BYTE_BASE 0x110000u

/* The code point at s, or BAD_BYTE_BASE + byte for a byte that starts no valid UTF-8
 * sequence (it then matches only itself); *adv is how many bytes it took. */
static uint32_t decode_rune(const unsigned char *s, size_t n, size_t *adv)
{
    uint32_t c;
    size_t len = zp_utf8_decode(s, n, &c);
    if (len == 0) {
        *adv = 1;
        return BAD_BYTE_BASE + s[0];
    }
    *adv = len;
    return c;
}

static void pattern_release(struct pattern *p)
{
    free(p->text);
    free(p->toks);
    free(p->ranges);
    memset(p, 0, sizeof(*p));
}

static bool has_meta(const char *s)
{
    return strpbrk(s, "*?[\\") != NULL;
}

static void push_tok(struct pattern *p, size_t *cap, struct tok t)
{
    zp_grow((void **)&p->toks, cap, p->ntoks + 1, sizeof(*p->toks));
    p->toks[p->ntoks++] = t;
}

/* One possibly escaped code point of a class; false when malformed (Go's rules: '-' and
 * ']' must be escaped where a character is expected, and the class must be closed). */
static bool class_char(const unsigned char *s, size_t n, size_t *i, uint32_t *ret)
{
    if (*i >= n || s[*i] == '-' || s[*i] == ']')
        return false;
    if (s[*i] == '\\') {
        (*i)++;
        if (*i >= n)
            return false;
    }
    size_t adv;
    *ret = decode_rune(s + *i, n - *i, &adv);
    *i += adv;
    return *i < n; /* something (at least the closing ']') must follow */
}

/* Compile p->text into tokens. Returns false for a malformed pattern. */
static bool pattern_compile(struct pattern *p)
{
    const unsigned char *s = (const unsigned char *)p->text;
    size_t n = p->text_len;
    size_t tcap = 0, rcap = 0;
    size_t i = 0;
    while (i < n) {
        struct tok t = {0};
        if (s[i] == '*') {
            i++;
            if (i < n && s[i] == '*') {
                i++;
                if (i < n && s[i] == '/')
                    i++;
                t.kind = i < n ? T_DSTAR_SLASH : T_DSTAR_END;
            } else {
                t.kind = T_STAR;
            }
        } else if (s[i] == '?') {
            i++;
            t.kind = T_ANY;
        } else if (s[i] == '[') {
            i++;
            t.kind = T_CLASS;
            t.range0 = p->nranges;
            if (i < n && s[i] == '^') {
                t.negated = true;
                i++;
            }
            for (;;) {
                if (i < n && s[i] == ']' && t.nranges > 0) {
                    i++;
                    break;
                }
                uint32_t lo, hi;
                if (!class_char(s, n, &i, &lo))
                    return false;
                hi = lo;
                if (s[i] == '-') {
                    i++;
                    if (!class_char(s, n, &i, &hi))
                        return false;
                }
                zp_grow((void **)&p->ranges, &rcap, 2 * (p->nranges + 1), sizeof(*p->ranges));
                p->ranges[2 * p->nranges] = lo;
                p->ranges[2 * p->nranges + 1] = hi;
                p->nranges++;
                t.nranges++;
            }
        } else {
            if (s[i] == '\\') {
                i++;
                if (i >= n)
                    return false;
            }
            size_t adv;
            t.kind = T_LIT;
            t.c = decode_rune(s + i, n - i, &adv);
            i += adv;
        }
        push_tok(p, &tcap, t);
    }
    return true;
}

static bool class_has(const struct pattern *p, const struct tok *t, uint32_t c)
{
    bool in = false;
    for (size_t r = 0; r < t->nranges && !in; r++) {
        const uint32_t *lh = p->ranges + 2 * (t->range0 + r);
        in = lh[0] <= c && c <= lh[1];
    }
    return in != t->negated;
}

enum run_mode {
    RUN_WHOLE,     /* the pattern matches the whole text */
    RUN_OR_PARENT, /* ... or the text up to one of its '/' (a parent directory) */
    RUN_PREFIX,    /* the text can be continued into a match */
};

/* Follow the empty transitions (only ever from k to k + 1). */
static void closure(const struct pattern *p, unsigned char *st)
{
    for (size_t k = 0; k < p->ntoks; k++)
        if (st[k] && p->toks[k].kind >= T_STAR)
            st[k + 1] = 1;
}

/* Simulate the pattern's NFA over text (n code points). States 0..ntoks are "before
 * token k" (ntoks: matched); ntoks + 1 + k is "inside the '.../' of a T_DSTAR_SLASH". */
static bool nfa_run(const struct pattern *p, const uint32_t *text, size_t n, enum run_mode mode)
{
    size_t nst = 2 * p->ntoks + 1;
    unsigned char small[2][512];
    unsigned char *cur, *next, *heap = NULL;
    if (nst <= sizeof(small[0])) {
        cur = small[0];
        next = small[1];
    } else {
        heap = zp_malloc(2 * nst);
        cur = heap;
        next = heap + nst;
    }
    memset(cur, 0, nst);
    cur[0] = 1;
    closure(p, cur);
    bool result = false, alive = true;
    for (size_t i = 0; i < n && alive; i++) {
        uint32_t c = text[i];
        if (mode == RUN_OR_PARENT && c == '/' && i > 0 && cur[p->ntoks]) {
            result = true;
            break;
        }
        memset(next, 0, nst);
        alive = false;
        for (size_t k = 0; k < p->ntoks; k++) {
            const struct tok *t = &p->toks[k];
            size_t aux = p->ntoks + 1 + k;
            if (t->kind == T_DSTAR_SLASH && cur[aux]) {
                next[aux] = 1;
                if (c == '/')
                    next[k + 1] = 1;
            }
            if (!cur[k])
                continue;
            switch (t->kind) {
            case T_LIT:
                if (c == t->c)
                    next[k + 1] = 1;
                break;
            case T_ANY:
                if (c != '/')
                    next[k + 1] = 1;
                break;
            case T_CLASS:
                if (class_has(p, t, c))
                    next[k + 1] = 1;
                break;
            case T_STAR:
                if (c != '/')
                    next[k] = 1;
                break;
            case T_DSTAR_SLASH:
                next[aux] = 1;
                if (c == '/')
                    next[k + 1] = 1;
                break;
            case T_DSTAR_END:
                next[k] = 1;
                break;
            }
        }
        closure(p, next);
        for (size_t k = 0; k < nst && !alive; k++)
            alive = next[k] != 0;
        unsigned char *tmp = cur;
        cur = next;
        next = tmp;
    }
    if (!result && alive) {
        if (mode == RUN_PREFIX) {
            result = true;
        } else {
            result = cur[p->ntoks] != 0;
        }
    }
    free(heap);
    return result;
}

/* Decode path into code points; NULL when it passes the cap. */
static uint32_t *decode_path(const char *path, size_t len, uint32_t *small, size_t nsmall,
                             size_t *ret_n)
{
    if (len > ORCH_IGNORE_MAX_PATH)
        return NULL;
    uint32_t *out = len <= nsmall ? small : zp_malloc(len * sizeof(*out));
    size_t n = 0, i = 0;
    while (i < len) {
        size_t adv;
        out[n++] = decode_rune((const unsigned char *)path + i, len - i, &adv);
        i += adv;
    }
    *ret_n = n;
    return out;
}

static bool pattern_match(const struct pattern *p, const char *path, size_t len, enum run_mode mode)
{
    if (p->literal) {
        switch (mode) {
        case RUN_WHOLE:
            return len == p->text_len && memcmp(path, p->text, len) == 0;
        case RUN_OR_PARENT:
            return len >= p->text_len && memcmp(path, p->text, p->text_len) == 0 &&
                   (len == p->text_len || path[p->text_len] == '/');
        case RUN_PREFIX:
            return p->text_len > len && memcmp(path, p->text, len) == 0;
        }
    }
    uint32_t small[1024];
    size_t n;
    uint32_t *text = decode_path(path, len, small, sizeof(small) / sizeof(small[0]), &n);
    if (!text)
        return mode == RUN_PREFIX; /* conservative for descent, never a match otherwise */
    bool m = nfa_run(p, text, n, mode);
    if (text != small)
        free(text);
    return m;
}

struct orch_ignore *orch__ignore_new(void)
{
    return zp_calloc(1, sizeof(struct orch_ignore));
}

void orch__ignore_free(struct orch_ignore *ig)
{
    if (!ig)
        return;
    for (size_t i = 0; i < ig->n; i++)
        pattern_release(&ig->items[i]);
    free(ig->items);
    free(ig);
}

size_t orch__ignore_count(const struct orch_ignore *ig)
{
    return ig->n;
}

bool orch__ignore_has_exceptions(const struct orch_ignore *ig)
{
    return ig->has_exceptions;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

enum line_result { LINE_SKIP, LINE_OK, LINE_BAD, LINE_TOOBIG };

/* Turn one line into a compiled pattern (Docker's reading rules). */
static enum line_result parse_line(const char *s, size_t len, struct pattern *ret)
{
    if (len > 0 && s[0] == '#')
        return LINE_SKIP;
    while (len > 0 && is_space((unsigned char)s[0])) {
        s++;
        len--;
    }
    while (len > 0 && is_space((unsigned char)s[len - 1]))
        len--;
    if (len == 0)
        return LINE_SKIP;
    if (len > ORCH_IGNORE_MAX_PATTERN)
        return LINE_TOOBIG;
    if (memchr(s, '\0', len))
        return LINE_BAD;
    bool exception = false;
    if (s[0] == '!') {
        exception = true;
        s++;
        len--;
        while (len > 0 && is_space((unsigned char)s[0])) {
            s++;
            len--;
        }
        if (len == 0)
            return LINE_BAD;
    }
    char *raw = zp_strndup(s, len);
    char *clean = zp_path_clean(raw);
    free(raw);
    if (strcmp(clean, ".") == 0) {
        /* documented: the pattern "." is ignored, for historical reasons */
        free(clean);
        return LINE_SKIP;
    }
    const char *body = clean;
    if (body[0] == '/' && body[1] != '\0')
        body++;
    struct pattern p = {0};
    p.text = zp_strdup(body);
    p.text_len = strlen(p.text);
    p.exception = exception;
    p.literal = !has_meta(p.text);
    free(clean);
    if (!pattern_compile(&p)) {
        pattern_release(&p);
        return LINE_BAD;
    }
    *ret = p;
    return LINE_OK;
}

static void append(struct orch_ignore *ig, struct pattern *p)
{
    zp_grow((void **)&ig->items, &ig->cap, ig->n + 1, sizeof(*ig->items));
    ig->items[ig->n++] = *p;
    if (p->exception)
        ig->has_exceptions = true;
}

/* A short, printable excerpt of a bad line for messages. */
static char *excerpt(const char *s, size_t len)
{
    size_t n = len > 80 ? 80 : len;
    struct zp_buf b = ZP_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        zp_buf_addc(&b, (unsigned char)s[i] < 0x20 ? '?' : s[i]);
    if (n < len)
        zp_buf_adds(&b, "...");
    return zp_buf_detach(&b, NULL);
}

int orch__ignore_parse(struct orch_ignore *ig, const char *name, const char *text, size_t len,
                       struct zp_err *err)
{
    if (len > ORCH_IGNORE_MAX_FILE)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "%s: larger than %zu bytes", name,
                          ORCH_IGNORE_MAX_FILE);
    /* a UTF-8 byte order mark at the start */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3;
        len -= 3;
    }
    struct orch_ignore tmp = {0};
    int rc = 0;
    int lineno = 0;
    size_t i = 0;
    while (i < len && rc == 0) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        lineno++;
        struct pattern p;
        struct zp_pos pos = {zp_intern(name), lineno, 1};
        char *ex;
        switch (parse_line(text + i, end - i, &p)) {
        case LINE_SKIP:
            break;
        case LINE_OK:
            append(&tmp, &p);
            break;
        case LINE_BAD:
            ex = excerpt(text + i, end - i);
            rc = zp_err_set(err, ZP_E_INPUT, &pos, "invalid pattern '%s'", ex);
            free(ex);
            break;
        case LINE_TOOBIG:
            rc = zp_err_set(err, ZP_E_TOOBIG, &pos, "pattern longer than %d bytes",
                            ORCH_IGNORE_MAX_PATTERN);
            break;
        }
        i = end + 1;
    }
    if (rc) {
        for (size_t k = 0; k < tmp.n; k++)
            pattern_release(&tmp.items[k]);
        free(tmp.items);
        return rc;
    }
    for (size_t k = 0; k < tmp.n; k++)
        append(ig, &tmp.items[k]);
    free(tmp.items);
    return 0;
}

int orch__ignore_add(struct orch_ignore *ig, const char *line, struct zp_err *err)
{
    struct pattern p;
    char *ex;
    switch (parse_line(line, strlen(line), &p)) {
    case LINE_SKIP:
        return 0;
    case LINE_OK:
        append(ig, &p);
        return 0;
    case LINE_BAD:
        ex = excerpt(line, strlen(line));
        zp_err_set(err, ZP_E_INPUT, NULL, "invalid pattern '%s'", ex);
        free(ex);
        return ZP_E_INPUT;
    case LINE_TOOBIG:
        break;
    }
    return zp_err_set(err, ZP_E_TOOBIG, NULL, "pattern longer than %d bytes",
                      ORCH_IGNORE_MAX_PATTERN);
}

bool orch__ignore_excluded(const struct orch_ignore *ig, const char *path)
{
    size_t len = strlen(path);
    bool matched = false;
    for (size_t i = 0; i < ig->n; i++) {
        const struct pattern *p = &ig->items[i];
        /* an exclusion cannot change an excluded path, nor an exception an included one */
        if (p->exception != matched)
            continue;
        if (pattern_match(p, path, len, RUN_OR_PARENT))
            matched = !p->exception;
    }
    return matched;
}

bool orch__ignore_may_reinclude(const struct orch_ignore *ig, const char *dir)
{
    if (!ig->has_exceptions)
        return false;
    char *prefix = zp_asprintf("%s/", dir);
    size_t len = strlen(prefix);
    bool may = false;
    for (size_t i = 0; i < ig->n && !may; i++)
        if (ig->items[i].exception)
            may = pattern_match(&ig->items[i], prefix, len, RUN_PREFIX);
    free(prefix);
    return may;
}

int orch__glob_match(const char *pattern, const char *path, bool *ret_match, struct zp_err *err)
{
    size_t len = strlen(pattern);
    if (len > ORCH_IGNORE_MAX_PATTERN)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "pattern longer than %d bytes",
                          ORCH_IGNORE_MAX_PATTERN);
    struct pattern p = {0};
    p.text = zp_strdup(pattern);
    p.text_len = len;
    p.literal = !has_meta(p.text);
    if (!pattern_compile(&p)) {
        char *ex = excerpt(pattern, len);
        zp_err_set(err, ZP_E_INPUT, NULL, "invalid pattern '%s'", ex);
        free(ex);
        pattern_release(&p);
        return ZP_E_INPUT;
    }
    *ret_match = pattern_match(&p, path, strlen(path), RUN_WHOLE);
    pattern_release(&p);
    return 0;
}

char *orch__ignore_escape(const char *name)
{
    struct zp_buf b = ZP_BUF_INIT;
    for (const char *s = name; *s; s++) {
        if (*s == '*' || *s == '?' || *s == '[' || *s == '\\')
            zp_buf_addc(&b, '\\');
        zp_buf_addc(&b, *s);
    }
    return zp_buf_detach(&b, NULL);
}

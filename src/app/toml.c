/* app/toml: a reader for the subset of TOML that pyproject.toml and zpanel.toml use,
 * into a flat list of dotted keys (see app-int.h for what it accepts). */
#include <stdlib.h>
#include <string.h>

#include "app-int.h"

#include "../util/banned.h"

struct tp {
    const char *file;
    const char *s;
    size_t len, off;
    struct app_toml *t;
    struct zp_err *err;
    char *table;       /* the current [table] prefix ("" at the top) */
    char **arr_tables; /* names of [[tables]] seen, with their counts */
    size_t *arr_counts;
    size_t narr;
    int depth;
    size_t pos_off; /* pos_at's cache: the position at offset pos_off */
    int pos_line, pos_col;
};

/* positions are asked for mostly in increasing order: continue from the last one */
static struct zp_pos pos_at(struct tp *p, size_t off)
{
    if (off < p->pos_off || p->pos_line == 0) {
        p->pos_off = 0;
        p->pos_line = 1;
        p->pos_col = 1;
    }
    for (size_t i = p->pos_off; i < off && i < p->len; i++) {
        if (p->s[i] == '\n') {
            p->pos_line++;
            p->pos_col = 1;
        } else {
            p->pos_col++;
        }
    }
    p->pos_off = off;
    struct zp_pos pos = {zp_intern(p->file), p->pos_line, p->pos_col};
    return pos;
}

static int fail_at(struct tp *p, size_t off, const char *what)
{
    struct zp_pos pos = pos_at(p, off);
    return zp_err_set(p->err, ZP_E_INPUT, &pos, "%s", what);
}

static int peek(const struct tp *p)
{
    return p->off < p->len ? (unsigned char)p->s[p->off] : -1;
}

static bool at(const struct tp *p, const char *lit)
{
    size_t n = strlen(lit);
    return p->len - p->off >= n && memcmp(p->s + p->off, lit, n) == 0;
}

static void skip_ws(struct tp *p)
{
    while (p->off < p->len && (p->s[p->off] == ' ' || p->s[p->off] == '\t'))
        p->off++;
}

static void skip_comment(struct tp *p)
{
    if (peek(p) == '#')
        while (p->off < p->len && p->s[p->off] != '\n')
            p->off++;
}

/* whitespace, comments and newlines (inside arrays) */
static void skip_all(struct tp *p)
{
    for (;;) {
        skip_ws(p);
        skip_comment(p);
        if (peek(p) == '\n') {
            p->off++;
        } else if (at(p, "\r\n")) {
            p->off += 2;
        } else {
            return;
        }
    }
}

/* after a key/value or a header: only a comment, then the end of the line */
static int end_of_line(struct tp *p)
{
    skip_ws(p);
    skip_comment(p);
    if (p->off >= p->len)
        return 0;
    if (peek(p) == '\n') {
        p->off++;
        return 0;
    }
    if (at(p, "\r\n")) {
        p->off += 2;
        return 0;
    }
    return fail_at(p, p->off, "expected the end of the line");
}

static bool bare_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void add_utf8(struct zp_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    zp_buf_add(b, u, n); /* the buffer has no maximum below the input's cap */
}

/* A string at p->off (starting with ' or "); *ret is a new string. */
static int parse_string(struct tp *p, char **ret)
{
    size_t start = p->off;
    bool literal = p->s[p->off] == '\'';
    const char *q3 = literal ? "'''" : "\"\"\"";
    bool multi = at(p, q3);
    char quote = literal ? '\'' : '"';
    struct zp_buf b = ZP_BUF_INIT;
    p->off += multi ? 3 : 1;
    if (multi) {
        /* a newline right after the opening quotes is dropped */
        if (at(p, "\r\n"))
            p->off += 2;
        else if (peek(p) == '\n')
            p->off++;
    }
    for (;;) {
        if (p->off >= p->len) {
            zp_buf_release(&b);
            return fail_at(p, start, "unterminated string");
        }
        unsigned char c = (unsigned char)p->s[p->off];
        if (multi && at(p, q3)) {
            p->off += 3;
            /* up to two more quotes belong to the string */
            for (int k = 0; k < 2 && peek(p) == quote; k++) {
                zp_buf_addc(&b, quote);
                p->off++;
            }
            break;
        }
        if (!multi && c == (unsigned char)quote) {
            p->off++;
            break;
        }
        if (c == '\n' || (c == '\r' && p->off + 1 < p->len && p->s[p->off + 1] == '\n')) {
            if (!multi) {
                zp_buf_release(&b);
                return fail_at(p, p->off, "newline in a single-line string");
            }
            zp_buf_addc(&b, '\n');
            p->off += c == '\r' ? 2 : 1;
            continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            zp_buf_release(&b);
            return fail_at(p, p->off, "control character in a string");
        }
        if (c == '\\' && !literal) {
            size_t esc = p->off;
            p->off++;
            int e = peek(p);
            if (multi && (e == ' ' || e == '\t' || e == '\n' || e == '\r')) {
                /* line-ending backslash: drop the newline and the following whitespace */
                size_t save = p->off;
                skip_ws(p);
                if (peek(p) != '\n' && !at(p, "\r\n")) {
                    p->off = save;
                    zp_buf_release(&b);
                    return fail_at(p, esc, "invalid escape");
                }
                while (p->off < p->len && (p->s[p->off] == ' ' || p->s[p->off] == '\t' ||
                                           p->s[p->off] == '\n' || p->s[p->off] == '\r'))
                    p->off++;
                continue;
            }
            p->off++;
            switch (e) {
            case 'b':
                zp_buf_addc(&b, '\b');
                continue;
            case 't':
                zp_buf_addc(&b, '\t');
                continue;
            case 'n':
                zp_buf_addc(&b, '\n');
                continue;
            case 'f':
                zp_buf_addc(&b, '\f');
                continue;
            case 'r':
                zp_buf_addc(&b, '\r');
                continue;
            case '"':
                zp_buf_addc(&b, '"');
                continue;
            case '\\':
                zp_buf_addc(&b, '\\');
                continue;
            case 'u':
            case 'U': {
                int nd = e == 'u' ? 4 : 8;
                uint32_t cp = 0;
                for (int k = 0; k < nd; k++) {
                    int h = p->off < p->len ? hexval((unsigned char)p->s[p->off]) : -1;
                    if (h < 0) {
                        zp_buf_release(&b);
                        return fail_at(p, esc, "invalid unicode escape");
                    }
                    cp = (cp << 4) | (uint32_t)h;
                    p->off++;
                }
                if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
                    zp_buf_release(&b);
                    return fail_at(p, esc, "invalid unicode scalar value");
                }
                add_utf8(&b, cp);
                continue;
            }
            default:
                zp_buf_release(&b);
                return fail_at(p, esc, "invalid escape");
            }
        }
        zp_buf_addc(&b, (char)c);
        p->off++;
    }
    *ret = zp_buf_detach(&b, NULL);
    return 0;
}

/* One key part: bare or quoted. */
static int parse_key_part(struct tp *p, struct zp_buf *key)
{
    int c = peek(p);
    if (c == '"' || c == '\'') {
        if (at(p, "\"\"\"") || at(p, "'''"))
            return fail_at(p, p->off, "a multi-line string cannot be a key");
        char *s = NULL;
        int rc = parse_string(p, &s);
        if (rc)
            return rc;
        zp_buf_adds(key, s);
        free(s);
        return 0;
    }
    size_t start = p->off;
    while (p->off < p->len && bare_char((unsigned char)p->s[p->off]))
        p->off++;
    if (p->off == start)
        return fail_at(p, start, "expected a key");
    zp_buf_add(key, p->s + start, p->off - start);
    return 0;
}

/* A dotted key, appended to key (which may hold a prefix ending with '.'). */
static int parse_key(struct tp *p, struct zp_buf *key)
{
    for (;;) {
        skip_ws(p);
        int rc = parse_key_part(p, key);
        if (rc)
            return rc;
        skip_ws(p);
        if (peek(p) != '.')
            return 0;
        p->off++;
        zp_buf_addc(key, '.');
    }
}

static void val_release(struct app_toml_val *v)
{
    free(v->s);
    for (size_t i = 0; i < v->n; i++)
        val_release(&v->items[i]);
    free(v->items);
    memset(v, 0, sizeof(*v));
}

static int add_entry(struct tp *p, const char *key, size_t off, struct app_toml_val *v)
{
    for (size_t i = 0; i < p->t->n; i++) {
        if (strcmp(p->t->entries[i].key, key) == 0) {
            struct zp_pos pos = pos_at(p, off);
            return zp_err_set(p->err, ZP_E_INPUT, &pos, "duplicate key '%s'", key);
        }
    }
    if (p->t->n >= APP_TOML_MAX_ENTRIES) {
        struct zp_pos pos = pos_at(p, off);
        return zp_err_set(p->err, ZP_E_TOOBIG, &pos, "more than %d keys", APP_TOML_MAX_ENTRIES);
    }
    zp_grow((void **)&p->t->entries, &p->t->cap, p->t->n + 1, sizeof(*p->t->entries));
    struct app_toml_entry *e = &p->t->entries[p->t->n++];
    e->key = zp_strdup(key);
    e->val = *v;
    memset(v, 0, sizeof(*v));
    return 0;
}

static int parse_value(struct tp *p, const char *key, struct app_toml_val *ret);

/* An inline table at p->off ('{'); its keys are added under prefix ("" inside arrays:
 * then nothing is kept). */
static int parse_inline_table(struct tp *p, const char *prefix, bool keep)
{
    p->off++;
    skip_ws(p);
    if (peek(p) == '}') {
        p->off++;
        return 0;
    }
    for (;;) {
        struct zp_buf key = ZP_BUF_INIT;
        zp_buf_adds(&key, prefix);
        zp_buf_addc(&key, '.');
        size_t koff = p->off;
        int rc = parse_key(p, &key);
        if (!rc && peek(p) != '=')
            rc = fail_at(p, p->off, "expected '=' after a key");
        struct app_toml_val v = {0};
        if (!rc) {
            p->off++;
            skip_ws(p);
            rc = parse_value(p, zp_buf_cstr(&key), &v);
        }
        if (!rc && v.type != APP_TOML_TABLE && keep)
            rc = add_entry(p, zp_buf_cstr(&key), koff, &v);
        val_release(&v);
        zp_buf_release(&key);
        if (rc)
            return rc;
        skip_ws(p);
        if (peek(p) == ',') {
            p->off++;
            continue;
        }
        if (peek(p) == '}') {
            p->off++;
            return 0;
        }
        return fail_at(p, p->off, "expected ',' or '}' in an inline table");
    }
}

static int parse_array(struct tp *p, const char *key, struct app_toml_val *ret)
{
    size_t cap = 0;
    ret->type = APP_TOML_ARRAY;
    p->off++;
    for (;;) {
        skip_all(p);
        if (peek(p) == ']') {
            p->off++;
            return 0;
        }
        if (ret->n >= APP_TOML_MAX_ENTRIES)
            return zp_err_set(p->err, ZP_E_TOOBIG, &ret->pos, "more than %d array items",
                              APP_TOML_MAX_ENTRIES);
        zp_grow((void **)&ret->items, &cap, ret->n + 1, sizeof(*ret->items));
        struct app_toml_val *item = &ret->items[ret->n];
        memset(item, 0, sizeof(*item));
        ret->n++;
        int rc = parse_value(p, key, item);
        if (rc)
            return rc;
        skip_all(p);
        if (peek(p) == ',') {
            p->off++;
            continue;
        }
        if (peek(p) == ']') {
            p->off++;
            return 0;
        }
        return fail_at(p, p->off, "expected ',' or ']' in an array");
    }
}

static bool scalar_char(int c)
{
    return bare_char(c) || c == '+' || c == '.' || c == ':';
}

static int parse_scalar(struct tp *p, struct app_toml_val *ret)
{
    size_t start = p->off;
    while (p->off < p->len && scalar_char((unsigned char)p->s[p->off]))
        p->off++;
    size_t n = p->off - start;
    if (n == 0)
        return fail_at(p, start, "expected a value");
    char *tok = zp_strndup(p->s + start, n);
    int rc = 0;
    if (strcmp(tok, "true") == 0 || strcmp(tok, "false") == 0) {
        ret->type = APP_TOML_BOOL;
        ret->b = tok[0] == 't';
        free(tok);
        return 0;
    }
    /* integers: digits with single underscores between them */
    char *clean = zp_malloc(n + 1);
    size_t k = 0;
    bool ok_underscores = true;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] == '_') {
            if (i == 0 || i + 1 == n || !(tok[i - 1] >= '0' && tok[i - 1] <= '9') ||
                !(tok[i + 1] >= '0' && tok[i + 1] <= '9'))
                ok_underscores = false;
            continue;
        }
        clean[k++] = tok[i];
    }
    clean[k] = '\0';
    int64_t v;
    const char *digits = clean[0] == '+' || clean[0] == '-' ? clean + 1 : clean;
    bool leading_zero = digits[0] == '0' && digits[1] >= '0' && digits[1] <= '9';
    if (leading_zero && !(n >= 8 && (tok[4] == '-' || tok[2] == ':'))) {
        rc = fail_at(p, start, "invalid value (a number with a leading zero)");
    } else if (ok_underscores && zp_parse_int64(clean, INT64_MIN, INT64_MAX, &v) == 0) {
        ret->type = APP_TOML_INT;
        ret->i = v;
    } else if (strcmp(tok, "inf") == 0 || strcmp(tok, "+inf") == 0 || strcmp(tok, "-inf") == 0 ||
               strcmp(tok, "nan") == 0 || strcmp(tok, "+nan") == 0 || strcmp(tok, "-nan") == 0) {
        ret->type = APP_TOML_FLOAT;
        ret->s = tok;
        tok = NULL;
    } else {
        double d;
        if (ok_underscores && zp_parse_double(clean, &d) == 0) {
            ret->type = APP_TOML_FLOAT;
            ret->s = tok;
            tok = NULL;
        } else if (n >= 8 && tok[0] >= '0' && tok[0] <= '9' && (tok[4] == '-' || tok[2] == ':')) {
            /* a date or a time, kept as text (a space-separated time is not read) */
            ret->type = APP_TOML_DATE;
            ret->s = tok;
            tok = NULL;
        } else {
            rc = fail_at(p, start, "invalid value (strings need quotes)");
        }
    }
    free(clean);
    free(tok);
    return rc;
}

static int parse_value(struct tp *p, const char *key, struct app_toml_val *ret)
{
    ret->pos = pos_at(p, p->off);
    if (p->depth >= APP_TOML_MAX_DEPTH)
        return zp_err_set(p->err, ZP_E_TOOBIG, &ret->pos, "nested deeper than %d levels",
                          APP_TOML_MAX_DEPTH);
    p->depth++;
    int rc;
    int c = peek(p);
    if (c == '"' || c == '\'') {
        ret->type = APP_TOML_STRING;
        rc = parse_string(p, &ret->s);
    } else if (c == '[') {
        rc = parse_array(p, key, ret);
    } else if (c == '{') {
        /* at the top of a key/value its keys are kept; inside an array they are not */
        ret->type = APP_TOML_TABLE;
        rc = parse_inline_table(p, key, p->depth == 1);
    } else {
        rc = parse_scalar(p, ret);
    }
    p->depth--;
    return rc;
}

static int parse_header(struct tp *p)
{
    size_t start = p->off;
    bool array = at(p, "[[");
    p->off += array ? 2 : 1;
    struct zp_buf key = ZP_BUF_INIT;
    int rc = parse_key(p, &key);
    if (!rc && !(array ? at(p, "]]") : peek(p) == ']'))
        rc = fail_at(p, p->off, array ? "expected ']]'" : "expected ']'");
    if (rc) {
        zp_buf_release(&key);
        return rc;
    }
    p->off += array ? 2 : 1;
    free(p->table);
    if (array) {
        size_t i;
        for (i = 0; i < p->narr; i++)
            if (strcmp(p->arr_tables[i], zp_buf_cstr(&key)) == 0)
                break;
        if (i == p->narr) {
            if (p->narr >= APP_TOML_MAX_ENTRIES) {
                zp_buf_release(&key);
                p->table = NULL;
                return fail_at(p, start, "too many arrays of tables");
            }
            p->arr_tables = zp_realloc(p->arr_tables, (p->narr + 1) * sizeof(char *));
            p->arr_counts = zp_realloc(p->arr_counts, (p->narr + 1) * sizeof(size_t));
            p->arr_tables[i] = zp_strdup(zp_buf_cstr(&key));
            p->arr_counts[i] = 0;
            p->narr++;
        }
        p->table = zp_asprintf("%s[%zu]", zp_buf_cstr(&key), p->arr_counts[i]++);
    } else {
        p->table = zp_strdup(zp_buf_cstr(&key));
    }
    zp_buf_release(&key);
    return end_of_line(p);
}

static int parse_keyval(struct tp *p)
{
    struct zp_buf key = ZP_BUF_INIT;
    if (p->table[0]) {
        zp_buf_adds(&key, p->table);
        zp_buf_addc(&key, '.');
    }
    size_t koff = p->off;
    int rc = parse_key(p, &key);
    if (!rc && peek(p) != '=')
        rc = fail_at(p, p->off, "expected '=' after a key");
    struct app_toml_val v = {0};
    if (!rc) {
        p->off++;
        skip_ws(p);
        rc = parse_value(p, zp_buf_cstr(&key), &v);
    }
    if (!rc && v.type != APP_TOML_TABLE)
        rc = add_entry(p, zp_buf_cstr(&key), koff, &v);
    val_release(&v);
    zp_buf_release(&key);
    return rc ? rc : end_of_line(p);
}

int app__toml_parse(const char *file, const char *text, size_t len, struct app_toml *ret,
                    struct zp_err *err)
{
    memset(ret, 0, sizeof(*ret));
    if (len > APP_TOML_MAX)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "%s: larger than %d bytes", file, APP_TOML_MAX);
    struct tp p = {.file = file, .s = text, .len = len, .t = ret, .err = err};
    p.table = zp_strdup("");
    int rc = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\0') {
            rc = fail_at(&p, i, "NUL byte in the file");
            break;
        }
    }
    while (!rc) {
        skip_all(&p);
        if (p.off >= p.len)
            break;
        if (peek(&p) == '[')
            rc = parse_header(&p);
        else
            rc = parse_keyval(&p);
        if (!rc && !p.table)
            rc = ZP_E_INTERNAL;
    }
    free(p.table);
    for (size_t i = 0; i < p.narr; i++)
        free(p.arr_tables[i]);
    free(p.arr_tables);
    free(p.arr_counts);
    return rc;
}

void app__toml_release(struct app_toml *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->entries[i].key);
        val_release(&t->entries[i].val);
    }
    free(t->entries);
    memset(t, 0, sizeof(*t));
}

const struct app_toml_val *app__toml_get(const struct app_toml *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->entries[i].key, key) == 0)
            return &t->entries[i].val;
    return NULL;
}

const char *app__toml_str(const struct app_toml *t, const char *key)
{
    const struct app_toml_val *v = app__toml_get(t, key);
    return v && v->type == APP_TOML_STRING ? v->s : NULL;
}

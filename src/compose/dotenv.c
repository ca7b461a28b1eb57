/* compose/dotenv: .env files as Compose reads them (comments, `export`, single and double
 * quotes, escapes, multi-line quoted values, ${VAR} references). */
#include "compose-int.h"

#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

#define DOTENV_MAX_BYTES (1024 * 1024)
#define DOTENV_MAX_ENTRIES 10000

/* A cursor over the file that knows its line and column. */
struct cur {
    const char *p;
    size_t i, len;
    int line, col;
};

struct dotenv {
    const char *file; /* interned */
    const struct compose_env *lookup;
    struct compose_env entries; /* this file's entries, in order */
    /* lookup with entries over it, for ${VAR}; built when first needed */
    struct compose_env layered;
    bool have_layered;
    struct zp_diags *d;
    bool failed;
};

static bool at_end(const struct cur *c)
{
    return c->i >= c->len;
}

static char peek(const struct cur *c)
{
    return at_end(c) ? '\0' : c->p[c->i];
}

static char peek_at(const struct cur *c, size_t off)
{
    return c->i + off < c->len ? c->p[c->i + off] : '\0';
}

static void advance(struct cur *c)
{
    if (at_end(c))
        return;
    if (c->p[c->i] == '\n') {
        c->line++;
        c->col = 1;
    } else {
        c->col++;
    }
    c->i++;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

static void skip_blanks(struct cur *c)
{
    while (!at_end(c) && is_blank(peek(c)))
        advance(c);
}

static void skip_line(struct cur *c)
{
    while (!at_end(c) && peek(c) != '\n')
        advance(c);
}

static struct zp_pos pos_of(const struct dotenv *de, const struct cur *c)
{
    struct zp_pos pos = {de->file, c->line, c->col};
    return pos;
}

static bool is_key_start(char ch)
{
    return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_key_char(char ch)
{
    return is_key_start(ch) || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
}

/* A character for a message: printable as is, else as \xNN. */
static void describe_char(char ch, char out[8])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char u = (unsigned char)ch;
    size_t n = 0;
    out[n++] = '\'';
    if (u >= 0x20 && u < 0x7f && u != '\'') {
        out[n++] = ch;
    } else {
        out[n++] = '\\';
        out[n++] = 'x';
        out[n++] = hex[u >> 4];
        out[n++] = hex[u & 0xf];
    }
    out[n++] = '\'';
    out[n] = '\0';
}

static void add_error(struct dotenv *de, const struct zp_pos *pos, const char *fmt, ...)
    ZP_PRINTF(3, 4);

static void add_error(struct dotenv *de, const struct zp_pos *pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    zp_diags_vadd(de->d, ZP_SEV_ERROR, pos, NULL, fmt, ap);
    va_end(ap);
    de->failed = true;
}

static const struct compose_env *layered_env(struct dotenv *de)
{
    if (!de->have_layered) {
        if (de->lookup)
            for (size_t i = 0; i < de->lookup->n; i++)
                compose_env_set(&de->layered, de->lookup->keys[i], de->lookup->vals[i]);
        for (size_t i = 0; i < de->entries.n; i++)
            compose_env_set(&de->layered, de->entries.keys[i], de->entries.vals[i]);
        de->have_layered = true;
    }
    return &de->layered;
}

static void set_entry(struct dotenv *de, const char *key, const char *val)
{
    compose_env_set(&de->entries, key, val);
    if (de->have_layered)
        compose_env_set(&de->layered, key, val);
}

/* Interpolate raw (owned) into *ret (owned); raw is freed. */
static int interpolate(struct dotenv *de, char *raw, const struct zp_pos *pos, char **ret)
{
    if (!strchr(raw, '$')) {
        *ret = raw;
        return 0;
    }
    int rc = compose__interp_string(raw, layered_env(de), pos, NULL, ret, de->d);
    free(raw);
    if (rc != 0)
        de->failed = true;
    return rc;
}

/* After a closing quote: only blanks, then the end of the line or a comment. */
static int check_after_quote(struct dotenv *de, struct cur *c)
{
    skip_blanks(c);
    if (at_end(c) || peek(c) == '\n')
        return 0;
    if (peek(c) == '#') {
        skip_line(c);
        return 0;
    }
    struct zp_pos pos = pos_of(de, c);
    char desc[8];
    describe_char(peek(c), desc);
    add_error(de, &pos, "unexpected character %s after the closing quote", desc);
    skip_line(c);
    return ZP_E_INPUT;
}

/* A '...' value, the cursor on the opening quote: literal text, where only \' stands
 * for a quote. Returns the raw value in *ret (owned). */
static int parse_single(struct dotenv *de, struct cur *c, const char *key, char **ret)
{
    struct zp_pos open = pos_of(de, c);
    struct zp_buf b = ZP_BUF_INIT;
    advance(c);
    for (;;) {
        if (at_end(c)) {
            add_error(de, &open, "unterminated single-quoted value for '%s'", key);
            zp_buf_release(&b);
            return ZP_E_INPUT;
        }
        char ch = peek(c);
        if (ch == '\'') {
            advance(c);
            break;
        }
        if (ch == '\\' && peek_at(c, 1) == '\'') {
            zp_buf_addc(&b, '\'');
            advance(c);
            advance(c);
            continue;
        }
        if (ch == '\r' && peek_at(c, 1) == '\n') {
            advance(c);
            continue;
        }
        zp_buf_addc(&b, ch);
        advance(c);
    }
    if (check_after_quote(de, c) != 0) {
        zp_buf_release(&b);
        return ZP_E_INPUT;
    }
    *ret = zp_buf_detach(&b, NULL);
    return 0;
}

/* A "..." value, the cursor on the opening quote: escapes resolved, then interpolated.
 * `\$` becomes `$$` so that interpolation leaves one literal '$'. */
static int parse_double(struct dotenv *de, struct cur *c, const char *key, char **ret)
{
    struct zp_pos open = pos_of(de, c);
    struct zp_buf b = ZP_BUF_INIT;
    advance(c);
    for (;;) {
        if (at_end(c)) {
            add_error(de, &open, "unterminated double-quoted value for '%s'", key);
            zp_buf_release(&b);
            return ZP_E_INPUT;
        }
        char ch = peek(c);
        if (ch == '"') {
            advance(c);
            break;
        }
        if (ch == '\r' && peek_at(c, 1) == '\n') {
            advance(c);
            continue;
        }
        if (ch != '\\' || c->i + 1 >= c->len) {
            zp_buf_addc(&b, ch);
            advance(c);
            continue;
        }
        char next = peek_at(c, 1);
        switch (next) {
        case 'n':
            zp_buf_addc(&b, '\n');
            break;
        case 't':
            zp_buf_addc(&b, '\t');
            break;
        case 'r':
            zp_buf_addc(&b, '\r');
            break;
        case '\\':
        case '"':
        case '\'':
            zp_buf_addc(&b, next);
            break;
        case '$':
            zp_buf_adds(&b, "$$");
            break;
        default:
            /* Not an escape: both characters are kept, as a shell does. */
            zp_buf_addc(&b, '\\');
            zp_buf_addc(&b, next);
            break;
        }
        advance(c);
        advance(c);
    }
    if (check_after_quote(de, c) != 0) {
        zp_buf_release(&b);
        return ZP_E_INPUT;
    }
    char *raw = zp_buf_detach(&b, NULL);
    return interpolate(de, raw, &open, ret);
}

/* An unquoted value up to the end of the line: a comment starts at a '#' preceded by a
 * blank; surrounding blanks are trimmed; then interpolated. */
static int parse_unquoted(struct dotenv *de, struct cur *c, const struct zp_pos *pos, char **ret)
{
    size_t start = c->i;
    size_t end = start;
    while (!at_end(c) && peek(c) != '\n') {
        if (peek(c) == '#' && c->i > start && is_blank(c->p[c->i - 1])) {
            skip_line(c);
            break;
        }
        advance(c);
        end = c->i;
    }
    while (end > start && is_blank(c->p[end - 1]))
        end--;
    char *raw = zp_strndup(c->p + start, end - start);
    return interpolate(de, raw, pos, ret);
}

/* One statement, the cursor at its first non-blank character (not a comment). */
static void parse_statement(struct dotenv *de, struct cur *c)
{
    /* `export KEY=...` */
    if (c->len - c->i > 6 && memcmp(c->p + c->i, "export", 6) == 0 && is_blank(peek_at(c, 6))) {
        for (int k = 0; k < 6; k++)
            advance(c);
        skip_blanks(c);
    }
    struct zp_pos keypos = pos_of(de, c);
    size_t kstart = c->i;
    while (!at_end(c) && peek(c) != '=' && peek(c) != '\n' && !is_blank(peek(c)))
        advance(c);
    size_t klen = c->i - kstart;
    char *key = zp_strndup(c->p + kstart, klen);
    char *val = NULL;

    if (klen == 0) {
        add_error(de, &keypos, "missing variable name before '='");
        goto skip;
    }
    for (size_t k = 0; k < klen; k++) {
        char ch = key[k];
        if (k == 0 ? is_key_start(ch) : is_key_char(ch))
            continue;
        struct zp_pos bad = {de->file, keypos.line, keypos.col + (int)k};
        char desc[8];
        describe_char(ch, desc);
        add_error(de, &bad, "invalid variable name '%s': unexpected character %s", key, desc);
        goto skip;
    }
    skip_blanks(c);
    if (at_end(c) || peek(c) == '\n' || peek(c) == '#') {
        /* `KEY` alone: the value comes from lookup, if set there. */
        skip_line(c);
        const char *v = compose_env_get(de->lookup, key);
        if (v)
            set_entry(de, key, v);
        goto out;
    }
    if (peek(c) != '=') {
        struct zp_pos bad = pos_of(de, c);
        char desc[8];
        describe_char(peek(c), desc);
        add_error(de, &bad, "unexpected character %s after variable name '%s'", desc, key);
        goto skip;
    }
    advance(c);
    {
        /* Blanks right after '=' count for the " #" comment rule. */
        size_t before = c->i;
        skip_blanks(c);
        int rc;
        if (peek(c) == '\'') {
            rc = parse_single(de, c, key, &val);
        } else if (peek(c) == '"') {
            rc = parse_double(de, c, key, &val);
        } else if (peek(c) == '#' && c->i > before) {
            skip_line(c);
            val = zp_strdup("");
            rc = 0;
        } else {
            struct zp_pos vpos = pos_of(de, c);
            rc = parse_unquoted(de, c, &vpos, &val);
        }
        if (rc != 0)
            goto out;
    }
    set_entry(de, key, val);
    goto out;
skip:
    skip_line(c);
out:
    free(key);
    free(val);
}

int compose__dotenv_parse(const char *file, const char *data, size_t len,
                          const struct compose_env *lookup, struct compose_env *out,
                          struct zp_diags *d)
{
    struct dotenv de = {.file = zp_intern(file ? file : "<env>"), .lookup = lookup, .d = d};
    compose_env_init(&de.entries);
    compose_env_init(&de.layered);
    struct zp_pos filepos = {de.file, 0, 0};
    if (len > DOTENV_MAX_BYTES) {
        add_error(&de, &filepos, "env file too big: more than %d bytes", DOTENV_MAX_BYTES);
        goto out;
    }
    size_t statements = 0;
    struct cur c = {.p = data, .i = 0, .len = len, .line = 1, .col = 1};
    const char *nul = len ? memchr(data, '\0', len) : NULL;
    if (nul) {
        for (; c.p + c.i < nul; advance(&c))
            ;
        struct zp_pos pos = pos_of(&de, &c);
        add_error(&de, &pos, "unexpected NUL byte");
        goto out;
    }
    /* A UTF-8 byte order mark is not part of the first key. */
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        c.i = 3;

    while (!at_end(&c)) {
        skip_blanks(&c);
        if (at_end(&c))
            break;
        if (peek(&c) == '\n') {
            advance(&c);
            continue;
        }
        if (peek(&c) == '#') {
            skip_line(&c);
            continue;
        }
        if (++statements > DOTENV_MAX_ENTRIES) {
            struct zp_pos pos = pos_of(&de, &c);
            add_error(&de, &pos, "too many entries: more than %d", DOTENV_MAX_ENTRIES);
            break;
        }
        parse_statement(&de, &c);
    }
out:
    if (!de.failed)
        for (size_t i = 0; i < de.entries.n; i++)
            compose_env_set(out, de.entries.keys[i], de.entries.vals[i]);
    compose_env_release(&de.entries);
    compose_env_release(&de.layered);
    return de.failed ? ZP_E_INPUT : 0;
}

/* compose/emit: trees out as YAML (the block style of `docker compose config`, keys sorted,
 * strings quoted where a reader could take them for something else) and as JSON. */
#include "compose.h"
#include "compose-int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

struct emitter {
    struct zp_buf *out;
    int rc; /* first append failure; later appends are skipped */
};

static void put(struct emitter *e, const char *s, size_t n)
{
    if (!e->rc)
        e->rc = zp_buf_add(e->out, s, n);
}

static void puts_(struct emitter *e, const char *s)
{
    put(e, s, strlen(s));
}

static void putc_(struct emitter *e, char c)
{
    put(e, &c, 1);
}

static void indent(struct emitter *e, size_t n)
{
    static const char spaces[] = "                                ";
    while (n > 0) {
        size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
        put(e, spaces, k);
        n -= k;
    }
}

/* ---- sorting keys ---- */

struct sorted {
    const struct zp_pair *pair;
    size_t idx;
};

static int sorted_cmp(const void *a, const void *b)
{
    const struct sorted *x = a, *y = b;
    const struct zp_node *kx = x->pair->key, *ky = y->pair->key;
    size_t n = kx->len < ky->len ? kx->len : ky->len;
    int c = memcmp(kx->str, ky->str, n);
    if (c)
        return c;
    if (kx->len != ky->len)
        return kx->len < ky->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The pairs of map in bytewise key order (caller frees). */
static struct sorted *sort_pairs(const struct zp_node *map)
{
    struct sorted *s = zp_calloc(map->n ? map->n : 1, sizeof(*s));
    for (size_t i = 0; i < map->n; i++) {
        s[i].pair = &map->pairs[i];
        s[i].idx = i;
    }
    if (map->n > 1)
        qsort(s, map->n, sizeof(*s), sorted_cmp);
    return s;
}

/* ---- numbers ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Decimal text of an `0o`/`0x` integer into buf, or false (not that form, or too big). */
static bool radix_to_decimal(const char *s, char *buf, size_t size)
{
    unsigned base;
    if (s[0] == '0' && s[1] == 'o')
        base = 8;
    else if (s[0] == '0' && s[1] == 'x')
        base = 16;
    else
        return false;
    uint64_t v = 0;
    for (const char *p = s + 2; *p; p++) {
        unsigned dgt = is_digit(*p) ? (unsigned)(*p - '0') : (unsigned)((*p | 0x20) - 'a' + 10);
        if (v > (UINT64_MAX - dgt) / base)
            return false;
        v = v * base + dgt;
    }
    snprintf(buf, size, "%" PRIu64, v);
    return true;
}

/* The canonical YAML spelling of a non-finite float text (".inf", "-.Inf", "inf", "nan"), or
 * NULL for a finite or malformed one. */
static const char *float_special(const char *s)
{
    bool neg = *s == '-';
    const char *p = s + (*s == '-' || *s == '+');
    if (compose__yaml_resolve(s) == ZP_FLOAT && p[0] == '.' && !is_digit(p[1]))
        return (p[1] | 0x20) == 'n' ? ".nan" : neg ? "-.inf" : ".inf";
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || isfinite(v))
        return NULL;
    return isnan(v) ? ".nan" : v < 0 ? "-.inf" : ".inf";
}

/* ---- YAML ---- */

static bool yaml11_special(const char *s)
{
    static const char *const words[] = {"y", "n", "yes", "no", "on", "off", "="};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t j = 0;
        while (words[i][j] && s[j] && (s[j] | 0x20) == words[i][j])
            j++;
        if (!words[i][j] && !s[j])
            return true;
    }
    return false;
}

/* A code point YAML may carry unescaped in a one-line scalar (no breaks, no BOM). */
static bool yaml_printable(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 0x20 && cp != 0x7f;
    if (cp < 0xa0 || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff)
        return false;
    return cp != 0xfffe && cp != 0xffff;
}

/* Whether the string must be double-quoted to read back as the same string. */
static bool needs_quotes(const char *s, size_t len)
{
    if (len == 0 || memchr(s, '\0', len))
        return true;
    if (compose__yaml_resolve(s) != ZP_STR || yaml11_special(s))
        return true;
    if (strchr("?:,[]{}#&*!|>'\"%@`", s[0]))
        return true;
    if (s[0] == '-' && !((s[1] | 0x20) >= 'a' && (s[1] | 0x20) <= 'z'))
        return true;
    /* anything some reader (YAML 1.1 too) may take for a number or a date: 8080, 1e3, 0x1F,
     * 1_000, 1:30, 1.2.3, 2024-01-31, 2001-12-14 21:59:43.10-05:00 */
    if (is_digit(s[0]) ||
        ((s[0] == '+' || s[0] == '-' || s[0] == '.') && (is_digit(s[1]) || s[1] == '.'))) {
        if (strspn(s, "0123456789abcdefABCDEFxXoO_.:+-tTzZ ") == len)
            return true;
    }
    if (s[0] == ' ' || s[len - 1] == ' ' || s[len - 1] == ':')
        return true;
    if (strcmp(s, "<<") == 0 || strncmp(s, "...", 3) == 0)
        return true;
    if (strstr(s, ": ") || strstr(s, " #"))
        return true;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t l = zp_utf8_decode(u + i, len - i, &cp);
        if (l == 0 || !yaml_printable(cp))
            return true;
        i += l;
    }
    return false;
}

static void yaml_quoted(struct emitter *e, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    char esc[16];
    putc_(e, '"');
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t l = zp_utf8_decode(u + i, len - i, &cp);
        if (l == 0) {
            /* not UTF-8: the best we can do is the byte's value as a code point */
            snprintf(esc, sizeof(esc), "\\x%02X", u[i]);
            puts_(e, esc);
            i++;
            continue;
        }
        switch (cp) {
        case '"':
            puts_(e, "\\\"");
            break;
        case '\\':
            puts_(e, "\\\\");
            break;
        case '\n':
            puts_(e, "\\n");
            break;
        case '\t':
            puts_(e, "\\t");
            break;
        case '\r':
            puts_(e, "\\r");
            break;
        case 0:
            puts_(e, "\\0");
            break;
        default:
            if (yaml_printable(cp)) {
                put(e, s + i, l);
            } else {
                snprintf(esc, sizeof(esc), cp < 0x100 ? "\\x%02X" : "\\u%04X", (unsigned)cp);
                puts_(e, esc);
            }
        }
        i += l;
    }
    putc_(e, '"');
}

static void yaml_scalar(struct emitter *e, const struct zp_node *n)
{
    const char *s = n->str ? n->str : "";
    char buf[32];
    switch (n->type) {
    case ZP_NULL:
        puts_(e, "null");
        return;
    case ZP_BOOL:
        puts_(e, s[0] == 't' || s[0] == 'T' ? "true" : "false");
        return;
    case ZP_INT:
        if (radix_to_decimal(s, buf, sizeof(buf))) {
            puts_(e, buf);
            return;
        }
        if (compose__yaml_resolve(s) == ZP_INT) {
            put(e, s, n->len);
            return;
        }
        break;
    case ZP_FLOAT: {
        const char *special = float_special(s);
        enum zp_scalar_type t = compose__yaml_resolve(s);
        if (special) {
            puts_(e, special);
            return;
        }
        if (t == ZP_FLOAT || t == ZP_INT) {
            put(e, s, n->len);
            return;
        }
        break;
    }
    case ZP_STR:
        if (!needs_quotes(s, n->len)) {
            put(e, s, n->len);
            return;
        }
        break;
    }
    yaml_quoted(e, s, n->len);
}

/* Keys are strings (the reader refuses others): one that would read back as another
 * type is quoted. */
static void yaml_key(struct emitter *e, const struct zp_node *k)
{
    if (k->type != ZP_STR && k->str) {
        yaml_quoted(e, k->str, k->len);
        return;
    }
    yaml_scalar(e, k);
}

static const char *yaml_tag(const struct zp_node *n)
{
    if (n->flags & ZP_NODE_RESET)
        return "!reset";
    if (n->flags & ZP_NODE_OVERRIDE)
        return "!override";
    return NULL;
}

static bool is_empty_collection(const struct zp_node *n)
{
    return n->kind != ZP_NODE_SCALAR && n->n == 0;
}

/* A scalar or empty collection on the current line, with its tag. */
static void yaml_inline(struct emitter *e, const struct zp_node *n)
{
    const char *tag = yaml_tag(n);
    if (tag) {
        puts_(e, tag);
        putc_(e, ' ');
    }
    if (n->kind == ZP_NODE_SCALAR)
        yaml_scalar(e, n);
    else
        puts_(e, n->kind == ZP_NODE_MAP ? "{}" : "[]");
    putc_(e, '\n');
}

static void yaml_block(struct emitter *e, const struct zp_node *n, size_t ind, bool first_inline);

/* After "key:" or "-": the value, inline or as an indented block. compact puts a block's
 * first line on the same line (sequence items). */
static void yaml_child(struct emitter *e, const struct zp_node *v, size_t ind, bool compact)
{
    if (v->kind == ZP_NODE_SCALAR || is_empty_collection(v)) {
        putc_(e, ' ');
        yaml_inline(e, v);
        return;
    }
    const char *tag = yaml_tag(v);
    if (tag) {
        putc_(e, ' ');
        puts_(e, tag);
    }
    if (tag || !compact) {
        putc_(e, '\n');
        yaml_block(e, v, ind, false);
        return;
    }
    putc_(e, ' ');
    yaml_block(e, v, ind, true);
}

static void yaml_block(struct emitter *e, const struct zp_node *n, size_t ind, bool first_inline)
{
    if (n->kind == ZP_NODE_SEQ) {
        for (size_t i = 0; i < n->n && !e->rc; i++) {
            if (i > 0 || !first_inline)
                indent(e, ind);
            putc_(e, '-');
            yaml_child(e, n->items[i], ind + 2, true);
        }
        return;
    }
    struct sorted *s = sort_pairs(n);
    for (size_t i = 0; i < n->n && !e->rc; i++) {
        if (i > 0 || !first_inline)
            indent(e, ind);
        yaml_key(e, s[i].pair->key);
        putc_(e, ':');
        yaml_child(e, s[i].pair->value, ind + 2, false);
    }
    free(s);
}

int compose_emit_yaml(const struct zp_node *n, struct zp_buf *out)
{
    struct emitter e = {out, 0};
    if (n->kind == ZP_NODE_SCALAR || is_empty_collection(n)) {
        yaml_inline(&e, n);
        return e.rc;
    }
    const char *tag = yaml_tag(n);
    if (tag) {
        puts_(&e, tag);
        putc_(&e, '\n');
    }
    yaml_block(&e, n, 0, false);
    return e.rc;
}

/* ---- JSON ---- */

static void json_string(struct emitter *e, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    char esc[8];
    putc_(e, '"');
    size_t run = 0; /* start of bytes copied as they are */
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        const char *rep = NULL;
        size_t l = 1;
        if (c == '"')
            rep = "\\\"";
        else if (c == '\\')
            rep = "\\\\";
        else if (c == '\n')
            rep = "\\n";
        else if (c == '\r')
            rep = "\\r";
        else if (c == '\t')
            rep = "\\t";
        else if (c == '\b')
            rep = "\\b";
        else if (c == '\f')
            rep = "\\f";
        else if (c < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            rep = esc;
        } else if (c >= 0x80) {
            uint32_t cp;
            l = zp_utf8_decode(u + i, len - i, &cp);
            if (l == 0) {
                rep = "\\ufffd"; /* not UTF-8: keep the output valid JSON */
                l = 1;
            }
        }
        if (rep) {
            put(e, s + run, i - run);
            puts_(e, rep);
            run = i + l;
        }
        i += l;
    }
    put(e, s + run, len - run);
    putc_(e, '"');
}

/* A JSON number for a YAML integer/float text, or false when it has none. */
static bool json_number(struct emitter *e, const char *s)
{
    char buf[32];
    if (radix_to_decimal(s, buf, sizeof(buf))) {
        puts_(e, buf);
        return true;
    }
    enum zp_scalar_type t = compose__yaml_resolve(s);
    if (t != ZP_INT && t != ZP_FLOAT)
        return false;
    const char *p = s;
    bool neg = false;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (!is_digit(*p) && !(p[0] == '.' && is_digit(p[1])))
        return false; /* .inf, .nan, 0x/0o too large */
    if (neg)
        putc_(e, '-');
    while (*p == '0' && is_digit(p[1]))
        p++;
    const char *start = p;
    while (is_digit(*p))
        p++;
    if (p == start)
        putc_(e, '0');
    else
        put(e, start, (size_t)(p - start));
    if (*p == '.') {
        p++;
        start = p;
        while (is_digit(*p))
            p++;
        if (p > start) {
            putc_(e, '.');
            put(e, start, (size_t)(p - start));
        }
    }
    if (*p == 'e' || *p == 'E') {
        putc_(e, 'e');
        puts_(e, p + 1);
    }
    return true;
}

static void json_node(struct emitter *e, const struct zp_node *n, bool pretty, size_t ind)
{
    const char *s = n->str ? n->str : "";
    switch (n->kind) {
    case ZP_NODE_SCALAR:
        switch (n->type) {
        case ZP_NULL:
            puts_(e, "null");
            return;
        case ZP_BOOL:
            puts_(e, s[0] == 't' || s[0] == 'T' ? "true" : "false");
            return;
        case ZP_INT:
        case ZP_FLOAT:
            /* .inf and .nan have no JSON number: a string with their YAML spelling */
            if (n->type == ZP_FLOAT && float_special(s)) {
                const char *special = float_special(s);
                json_string(e, special, strlen(special));
                return;
            }
            if (json_number(e, s))
                return;
            break;
        case ZP_STR:
            break;
        }
        json_string(e, s, n->len);
        return;
    case ZP_NODE_SEQ:
        if (n->n == 0) {
            puts_(e, "[]");
            return;
        }
        putc_(e, '[');
        for (size_t i = 0; i < n->n && !e->rc; i++) {
            if (i > 0)
                putc_(e, ',');
            if (pretty) {
                putc_(e, '\n');
                indent(e, ind + 2);
            }
            json_node(e, n->items[i], pretty, ind + 2);
        }
        if (pretty) {
            putc_(e, '\n');
            indent(e, ind);
        }
        putc_(e, ']');
        return;
    case ZP_NODE_MAP: {
        if (n->n == 0) {
            puts_(e, "{}");
            return;
        }
        struct sorted *srt = sort_pairs(n);
        putc_(e, '{');
        for (size_t i = 0; i < n->n && !e->rc; i++) {
            if (i > 0)
                putc_(e, ',');
            if (pretty) {
                putc_(e, '\n');
                indent(e, ind + 2);
            }
            const struct zp_node *k = srt[i].pair->key;
            json_string(e, k->str ? k->str : "", k->len);
            puts_(e, pretty ? ": " : ":");
            json_node(e, srt[i].pair->value, pretty, ind + 2);
        }
        free(srt);
        if (pretty) {
            putc_(e, '\n');
            indent(e, ind);
        }
        putc_(e, '}');
        return;
    }
    }
}

/* Pretty output ends with a newline; compact output does not (it is also hashed). */
int compose_emit_json(const struct zp_node *n, bool pretty, struct zp_buf *out)
{
    struct emitter e = {out, 0};
    json_node(&e, n, pretty, 0);
    if (pretty)
        putc_(&e, '\n');
    return e.rc;
}

/* SHA-256 of the compact JSON with sorted keys: positions, flags and the order of keys in
 * the source do not change the hash; the order of sequence items does. */
void compose_service_hash(const struct zp_node *service, char out[65])
{
    struct zp_buf b = ZP_BUF_INIT;
    if (compose_emit_json(service, false, &b) != 0)
        ZP_BUG("emitting a service as JSON failed");
    zp_sha256_hex(b.p ? b.p : "", b.len, out);
    zp_buf_release(&b);
}

void compose_escape_dollars(struct zp_node *n)
{
    if (n->kind == ZP_NODE_SCALAR) {
        if (n->type != ZP_STR || memchr(n->str, '$', n->len) == NULL)
            return;
        struct zp_buf b = ZP_BUF_INIT;
        for (size_t i = 0; i < n->len; i++) {
            if (n->str[i] == '$')
                zp_buf_addc(&b, '$');
            zp_buf_addc(&b, n->str[i]);
        }
        zp_node_set_scalar(n, ZP_STR, zp_buf_cstr(&b));
        zp_buf_release(&b);
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        if (n->kind == ZP_NODE_MAP)
            compose_escape_dollars(n->pairs[i].key); /* keys too, as Compose prints them */
        compose_escape_dollars(n->kind == ZP_NODE_SEQ ? n->items[i] : n->pairs[i].value);
    }
}

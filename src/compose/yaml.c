/* compose/yaml: one YAML 1.2 document (libfyaml's event parser) into our positioned tree,
 * with anchors, aliases and `<<` merge keys expanded here under caps on size and depth. */
#include "compose-int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "../util/banned.h"

#define YAML_DEFAULT_MAX_BYTES ((size_t)16 << 20)
#define YAML_DEFAULT_MAX_DEPTH ((size_t)64)
#define YAML_DEFAULT_MAX_NODES ((size_t)1000000)

/* ---- scalar resolution (YAML 1.2 core schema) ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool all_of(const char *s, bool (*pred)(char))
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!pred(*s))
            return false;
    return true;
}

static bool is_octal(char c)
{
    return c >= '0' && c <= '7';
}

static bool resolves_int(const char *s)
{
    if (s[0] == '0' && s[1] == 'o')
        return all_of(s + 2, is_octal);
    if (s[0] == '0' && s[1] == 'x')
        return all_of(s + 2, is_hex);
    if (*s == '-' || *s == '+')
        s++;
    return all_of(s, is_digit);
}

static bool resolves_float(const char *s)
{
    if (strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0)
        return true;
    if (*s == '-' || *s == '+')
        s++;
    if (strcmp(s, ".inf") == 0 || strcmp(s, ".Inf") == 0 || strcmp(s, ".INF") == 0)
        return true;
    size_t ndig = 0;
    while (is_digit(*s)) {
        s++;
        ndig++;
    }
    if (*s == '.') {
        s++;
        size_t nfrac = 0;
        while (is_digit(*s)) {
            s++;
            nfrac++;
        }
        /* `.5` needs fraction digits, `1.` is fine */
        if (ndig == 0 && nfrac == 0)
            return false;
    } else if (ndig == 0) {
        return false;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!is_digit(*s))
            return false;
        while (is_digit(*s))
            s++;
    }
    return *s == '\0';
}

enum zp_scalar_type compose__yaml_resolve(const char *text)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE"};
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
        if (strcmp(text, nulls[i]) == 0)
            return ZP_NULL;
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
        if (strcmp(text, bools[i]) == 0)
            return ZP_BOOL;
    if (resolves_int(text))
        return ZP_INT;
    if (resolves_float(text))
        return ZP_FLOAT;
    return ZP_STR;
}

/* The decimal text of an `0o`/`0x` integer, or NULL to keep the text as written (decimal,
 * or too large for 64 bits). */
static char *int_normalized(const char *s)
{
    unsigned base;
    if (s[0] == '0' && s[1] == 'o')
        base = 8;
    else if (s[0] == '0' && s[1] == 'x')
        base = 16;
    else
        return NULL;
    uint64_t v = 0;
    for (const char *p = s + 2; *p; p++) {
        unsigned dgt = is_digit(*p) ? (unsigned)(*p - '0') : (unsigned)((*p | 0x20) - 'a' + 10);
        if (v > (UINT64_MAX - dgt) / base)
            return NULL;
        v = v * base + dgt;
    }
    return zp_asprintf("%" PRIu64, v);
}

/* ---- parser state ---- */

struct anchor {
    char *name;
    struct zp_node *node; /* borrowed: lives in the tree or in the graveyard */
    size_t size;          /* nodes in node's subtree */
    size_t height;        /* 0 for a scalar, 1 + children's for a collection */
};

/* Open-addressing set of the keys of one mapping (indexes into its pairs, plus one). */
struct keyset {
    size_t *slots;
    size_t cap, n;
};

struct frame {
    struct zp_node *node; /* the collection being built (owned) */
    char *anchor;         /* its anchor name, or NULL */
    struct zp_node *key;  /* maps: key waiting for its value (owned), or NULL */
    bool key_is_merge;
    bool has_merge;
    int merge_line;
    struct zp_node **merges; /* `<<` values in order (borrowed from the graveyard) */
    size_t nmerges, mcap;
    struct keyset keys;
};

struct yparser {
    const char *file; /* interned */
    const char *data;
    size_t len;
    size_t max_depth, max_nodes;
    struct zp_diags *d;
    struct fy_parser *fyp;
    struct frame *stack;
    size_t depth, scap;
    struct anchor *anchors; /* one per name */
    size_t nanchors, acap;
    size_t *aslots; /* hash table of indexes into anchors, plus one */
    size_t aslots_cap;
    /* nodes kept alive until the end because anchors may point into them (merge sources) */
    struct zp_node **grave;
    size_t ngrave, gcap;
    struct zp_node *root;
    size_t ndocs;
    bool multi;            /* several documents allowed: each finished one goes to docs */
    struct zp_node **docs; /* finished documents (owned) */
    size_t ndone, dcap;
    size_t aliased;         /* nodes that came from alias expansion */
    bool pending_doc_error; /* a second document started without a position */
    size_t nodes;
    struct zp_pos last;
    int rc;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static bool key_eq(const struct zp_node *a, const struct zp_node *b)
{
    return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
}

/* Index of a key equal to k in map (through ks), or -1. */
static long keyset_find(const struct keyset *ks, const struct zp_node *map, const struct zp_node *k)
{
    if (!ks->cap)
        return -1;
    size_t mask = ks->cap - 1;
    for (size_t i = hash_bytes(k->str, k->len) & mask;; i = (i + 1) & mask) {
        size_t v = ks->slots[i];
        if (!v)
            return -1;
        if (key_eq(map->pairs[v - 1].key, k))
            return (long)(v - 1);
    }
}

static void keyset_put(struct keyset *ks, const struct zp_node *map, size_t idx)
{
    if ((ks->n + 1) * 2 > ks->cap) {
        size_t ncap = ks->cap ? ks->cap * 2 : 16;
        size_t *slots = zp_calloc(ncap, sizeof(*slots));
        for (size_t i = 0; i < ks->cap; i++) {
            size_t v = ks->slots[i];
            if (!v)
                continue;
            const struct zp_node *k = map->pairs[v - 1].key;
            size_t j = hash_bytes(k->str, k->len) & (ncap - 1);
            while (slots[j])
                j = (j + 1) & (ncap - 1);
            slots[j] = v;
        }
        free(ks->slots);
        ks->slots = slots;
        ks->cap = ncap;
    }
    const struct zp_node *k = map->pairs[idx].key;
    size_t j = hash_bytes(k->str, k->len) & (ks->cap - 1);
    while (ks->slots[j])
        j = (j + 1) & (ks->cap - 1);
    ks->slots[j] = idx + 1;
    ks->n++;
}

/* A short, printable rendering of a key or tag for messages (caller frees). */
static char *display(const char *s, size_t n)
{
    struct zp_buf b = ZP_BUF_INIT;
    size_t lim = n > 64 ? 64 : n;
    for (size_t i = 0; i < lim; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '\'')
            zp_buf_addf(&b, "\\x%02x", c);
        else
            zp_buf_addc(&b, (char)c);
    }
    if (lim < n)
        zp_buf_adds(&b, "...");
    return zp_buf_detach(&b, NULL);
}

static int fail(struct yparser *p, int code, const struct zp_pos *pos, const char *fmt, ...)
    ZP_PRINTF(4, 5);

/* Record the first error; later ones are dropped (one problem stops the parse). */
static int fail(struct yparser *p, int code, const struct zp_pos *pos, const char *fmt, ...)
{
    if (p->rc)
        return p->rc;
    va_list ap;
    va_start(ap, fmt);
    zp_diags_vadd(p->d, ZP_SEV_ERROR, pos, NULL, fmt, ap);
    va_end(ap);
    p->rc = code;
    return code;
}

static struct zp_pos pos_of_mark(const struct yparser *p, const struct fy_mark *m)
{
    struct zp_pos pos = {p->file, m->line + 1, m->column + 1};
    return pos;
}

static bool mark_before(const struct fy_mark *a, const struct fy_mark *b)
{
    return a->line < b->line || (a->line == b->line && a->column < b->column);
}

/* Position of an event's node: the earliest of its anchor, tag and main token, so that a
 * tagged value is located at its tag; quoted scalars at their opening quote. */
static struct zp_pos event_pos(struct yparser *p, struct fy_event *e)
{
    const struct fy_mark *best = fy_event_start_mark(e);
    bool main_is_best = best != NULL;
    struct fy_token *extra[2] = {NULL, NULL};
    if (e->type == FYET_SCALAR || e->type == FYET_MAPPING_START || e->type == FYET_SEQUENCE_START) {
        extra[0] = fy_event_get_anchor_token(e);
        extra[1] = fy_event_get_tag_token(e);
    }
    for (int i = 0; i < 2; i++) {
        const struct fy_mark *m = extra[i] ? fy_token_start_mark(extra[i]) : NULL;
        if (m && (!best || mark_before(m, best))) {
            best = m;
            main_is_best = false;
        }
    }
    if (!best)
        return p->last;
    struct zp_pos pos = pos_of_mark(p, best);
    if (main_is_best && e->type == FYET_SCALAR && best->column > 0 && best->input_pos > 0 &&
        best->input_pos <= p->len) {
        enum fy_scalar_style st = fy_token_scalar_style(e->scalar.value);
        char q = p->data[best->input_pos - 1];
        if ((st == FYSS_SINGLE_QUOTED && q == '\'') || (st == FYSS_DOUBLE_QUOTED && q == '"'))
            pos.col--;
    } else if (main_is_best && e->type == FYET_ALIAS && best->column > 0 && best->input_pos > 0 &&
               best->input_pos <= p->len && p->data[best->input_pos - 1] == '*') {
        pos.col--; /* at the `*`, not the name */
    }
    p->last = pos;
    return pos;
}

static bool count_node(struct yparser *p, const struct zp_pos *pos, size_t n, bool alias)
{
    if (n > p->max_nodes || p->nodes > p->max_nodes - n) {
        /* name the limit hit: expansion of aliases, or the plain size of the document */
        if (alias || p->aliased > p->max_nodes / 2)
            fail(p, ZP_E_TOOBIG, pos,
                 "document expands to more than %zu nodes through aliases (limit of nodes "
                 "per file; an alias bomb?)",
                 p->max_nodes);
        else
            fail(p, ZP_E_TOOBIG, pos,
                 "document has more than %zu nodes (limit of nodes per file); split it into "
                 "several files",
                 p->max_nodes);
        return false;
    }
    p->nodes += n;
    if (alias)
        p->aliased += n;
    return true;
}

static void measure(const struct zp_node *n, size_t *size, size_t *height)
{
    *size = 1;
    *height = 0;
    if (n->kind == ZP_NODE_SCALAR)
        return;
    for (size_t i = 0; i < n->n; i++) {
        size_t s, h;
        if (n->kind == ZP_NODE_SEQ) {
            measure(n->items[i], &s, &h);
        } else {
            measure(n->pairs[i].value, &s, &h);
            s++; /* the key */
        }
        *size += s;
        if (h > *height)
            *height = h;
    }
    *height += 1;
}

/* ---- tags ---- */

enum tag_kind {
    TAG_NONE,
    TAG_RESET,
    TAG_OVERRIDE,
    TAG_NONSPECIFIC,
    TAG_STR,
    TAG_INT,
    TAG_FLOAT,
    TAG_BOOL,
    TAG_NULL,
    TAG_MAP,
    TAG_SEQ,
    TAG_MERGE,
    TAG_UNKNOWN,
};

static const char *const tag_names[] = {
    [TAG_NONE] = "",         [TAG_RESET] = "!reset", [TAG_OVERRIDE] = "!override",
    [TAG_NONSPECIFIC] = "!", [TAG_STR] = "!!str",    [TAG_INT] = "!!int",
    [TAG_FLOAT] = "!!float", [TAG_BOOL] = "!!bool",  [TAG_NULL] = "!!null",
    [TAG_MAP] = "!!map",     [TAG_SEQ] = "!!seq",    [TAG_MERGE] = "!!merge",
    [TAG_UNKNOWN] = "?",
};

static enum tag_kind tag_kind_of(struct fy_token *tag)
{
    if (!tag)
        return TAG_NONE;
    size_t len = 0;
    const char *t = fy_token_get_text(tag, &len);
    if (!t)
        return TAG_UNKNOWN;
    static const struct {
        const char *text;
        enum tag_kind kind;
    } known[] = {
        {"!reset", TAG_RESET},
        {"!override", TAG_OVERRIDE},
        {"!", TAG_NONSPECIFIC},
        {"tag:yaml.org,2002:str", TAG_STR},
        {"tag:yaml.org,2002:int", TAG_INT},
        {"tag:yaml.org,2002:float", TAG_FLOAT},
        {"tag:yaml.org,2002:bool", TAG_BOOL},
        {"tag:yaml.org,2002:null", TAG_NULL},
        {"tag:yaml.org,2002:map", TAG_MAP},
        {"tag:yaml.org,2002:seq", TAG_SEQ},
        {"tag:yaml.org,2002:merge", TAG_MERGE},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strlen(known[i].text) == len && memcmp(known[i].text, t, len) == 0)
            return known[i].kind;
    return TAG_UNKNOWN;
}

/* The tag as the user wrote it (handle + suffix), for messages; caller frees. */
static char *tag_display(struct fy_token *tag)
{
    size_t hl = 0, sl = 0, tl = 0;
    const char *h = fy_tag_token_handle(tag, &hl);
    const char *s = fy_tag_token_suffix(tag, &sl);
    if (h && s && hl + sl > 0) {
        char *joined = zp_asprintf("%.*s%.*s", (int)hl, h, (int)sl, s);
        char *r = display(joined, strlen(joined));
        free(joined);
        return r;
    }
    const char *t = fy_token_get_text(tag, &tl);
    return t ? display(t, tl) : zp_strdup("?");
}

/* Apply a collection's tag; returns false (error recorded) if the tag is not allowed. */
static bool tag_collection(struct yparser *p, struct fy_event *e, struct zp_node *n,
                           const struct zp_pos *pos)
{
    struct fy_token *tag = fy_event_get_tag_token(e);
    enum tag_kind k = tag_kind_of(tag);
    bool is_map = n->kind == ZP_NODE_MAP;
    switch (k) {
    case TAG_NONE:
    case TAG_NONSPECIFIC:
        return true;
    case TAG_RESET:
        n->flags |= ZP_NODE_RESET;
        return true;
    case TAG_OVERRIDE:
        n->flags |= ZP_NODE_OVERRIDE;
        return true;
    case TAG_MAP:
    case TAG_SEQ:
        if ((k == TAG_MAP) == is_map)
            return true;
        break;
    case TAG_UNKNOWN: {
        char *t = tag_display(tag);
        fail(p, ZP_E_INPUT, pos, "unsupported tag '%s'", t);
        free(t);
        return false;
    }
    default:
        break;
    }
    fail(p, ZP_E_INPUT, pos, "tag '%s' cannot be used on a %s", tag_names[k],
         is_map ? "mapping" : "sequence");
    return false;
}

/* A string node holding a scalar token's text (escapes and folding applied). Read through
 * a token iterator: fy_token_get_text() of libfyaml 0.7 leaks its chunk buffer on scalars
 * with many escapes. NULL on error. */
static struct zp_node *scalar_text(struct yparser *p, struct fy_token *tok,
                                   const struct zp_pos *pos)
{
    struct zp_buf b = ZP_BUF_INIT;
    struct fy_token_iter *it = fy_token_iter_create(tok);
    if (!it)
        ZP_BUG("fy_token_iter_create failed");
    const struct fy_iter_chunk *c = NULL;
    int err = 0;
    while ((c = fy_token_iter_chunk_next(it, c, &err)) != NULL)
        zp_buf_add(&b, c->str, c->len);
    fy_token_iter_destroy(it);
    if (err) {
        zp_buf_release(&b);
        fail(p, ZP_E_INPUT, pos, "invalid YAML: malformed scalar");
        return NULL;
    }
    size_t len = 0;
    char *text = zp_buf_detach(&b, &len);
    struct zp_node *n = zp_node_new_strn(text, len, pos);
    free(text);
    return n;
}

/* Build a scalar node from a scalar event (typed, tagged). NULL on error. */
static struct zp_node *scalar_from_event(struct yparser *p, struct fy_event *e)
{
    struct zp_pos pos = event_pos(p, e);
    struct fy_token *tag = fy_event_get_tag_token(e);
    enum tag_kind k = tag_kind_of(tag);
    enum fy_scalar_style st = fy_token_scalar_style(e->scalar.value);
    bool plain = st == FYSS_PLAIN;

    if (k == TAG_UNKNOWN) {
        char *t = tag_display(tag);
        fail(p, ZP_E_INPUT, &pos, "unsupported tag '%s'", t);
        free(t);
        return NULL;
    }
    if (k == TAG_MAP || k == TAG_SEQ) {
        fail(p, ZP_E_INPUT, &pos, "tag '%s' cannot be used on a scalar", tag_names[k]);
        return NULL;
    }
    if (k == TAG_MERGE) {
        /* `!!merge <<:` is the explicit form of the merge key */
        struct fy_token *v = e->scalar.value;
        size_t vl = 0;
        const char *vt = fy_token_get_text(v, &vl);
        if (!plain || !vt || vl != 2 || memcmp(vt, "<<", 2) != 0) {
            fail(p, ZP_E_INPUT, &pos, "tag '!!merge' can only be used on the key '<<'");
            return NULL;
        }
    }
    if (!count_node(p, &pos, 1, false))
        return NULL;

    struct zp_node *n = scalar_text(p, e->scalar.value, &pos);
    if (!n)
        return NULL;
    if (!plain)
        n->flags |= ZP_NODE_QUOTED;
    if (k == TAG_RESET)
        n->flags |= ZP_NODE_RESET;
    else if (k == TAG_OVERRIDE)
        n->flags |= ZP_NODE_OVERRIDE;

    bool has_nul = memchr(n->str, '\0', n->len) != NULL;
    enum zp_scalar_type resolved = has_nul ? ZP_STR : compose__yaml_resolve(n->str);
    enum zp_scalar_type want;
    switch (k) {
    case TAG_STR:
    case TAG_NONSPECIFIC:
        /* an explicit string must never be re-typed later (interpolation) */
        n->flags |= ZP_NODE_QUOTED;
        n->type = ZP_STR;
        return n;
    case TAG_INT:
        want = ZP_INT;
        break;
    case TAG_FLOAT:
        want = ZP_FLOAT;
        break;
    case TAG_BOOL:
        want = ZP_BOOL;
        break;
    case TAG_NULL:
        want = ZP_NULL;
        break;
    default:
        n->type = plain ? resolved : ZP_STR;
        if (n->type == ZP_NULL && n->len == 0)
            zp_node_set_scalar(n, ZP_NULL, "null"); /* `key:` and `: value` */
        if (n->type == ZP_INT) {
            char *norm = int_normalized(n->str);
            if (norm) {
                zp_node_set_scalar(n, ZP_INT, norm);
                free(norm);
            }
        }
        return n;
    }
    /* an explicit standard tag: the text must be of that type */
    bool ok = resolved == want || (want == ZP_FLOAT && resolved == ZP_INT);
    if (!ok) {
        char *v = display(n->str, n->len);
        fail(p, ZP_E_INPUT, &pos, "invalid value '%s' for tag '%s'", v, tag_names[k]);
        free(v);
        zp_node_free(n);
        return NULL;
    }
    n->type = want;
    if (want == ZP_INT) {
        char *norm = int_normalized(n->str);
        if (norm) {
            zp_node_set_scalar(n, ZP_INT, norm);
            free(norm);
        }
    }
    return n;
}

/* ---- anchors and aliases ---- */

/* The slot of name in the anchor hash table (empty or holding that name). */
static size_t *anchor_slot(struct yparser *p, const char *name)
{
    size_t mask = p->aslots_cap - 1;
    for (size_t i = hash_bytes(name, strlen(name)) & mask;; i = (i + 1) & mask) {
        size_t v = p->aslots[i];
        if (!v || strcmp(p->anchors[v - 1].name, name) == 0)
            return &p->aslots[i];
    }
}

static const struct anchor *anchor_find(struct yparser *p, const char *name)
{
    if (!p->aslots_cap)
        return NULL;
    size_t v = *anchor_slot(p, name);
    return v ? &p->anchors[v - 1] : NULL;
}

/* Define (or redefine: a later anchor of the same name wins) an anchor; takes name. */
static void anchor_add(struct yparser *p, char *name, struct zp_node *n)
{
    if ((p->nanchors + 1) * 2 > p->aslots_cap) {
        size_t ncap = p->aslots_cap ? p->aslots_cap * 2 : 16;
        free(p->aslots);
        p->aslots = zp_calloc(ncap, sizeof(*p->aslots));
        p->aslots_cap = ncap;
        for (size_t i = 0; i < p->nanchors; i++)
            *anchor_slot(p, p->anchors[i].name) = i + 1;
    }
    size_t *slot = anchor_slot(p, name);
    struct anchor *a;
    if (*slot) {
        a = &p->anchors[*slot - 1];
        free(a->name);
    } else {
        zp_grow((void **)&p->anchors, &p->acap, p->nanchors + 1, sizeof(*p->anchors));
        a = &p->anchors[p->nanchors++];
        *slot = p->nanchors;
    }
    a->name = name;
    a->node = n;
    measure(n, &a->size, &a->height);
}

static char *token_text_dup(struct fy_token *t)
{
    size_t len = 0;
    const char *s = t ? fy_token_get_text(t, &len) : NULL;
    return s ? zp_strndup(s, len) : zp_strdup("");
}

/* Copy of an anchored node, placed at pos (the alias's position for the top node; the
 * copies below keep the positions of the anchored definition). */
static struct zp_node *alias_copy(struct yparser *p, struct fy_event *e)
{
    struct zp_pos pos = event_pos(p, e);
    char *name = token_text_dup(e->alias.anchor);
    struct zp_node *copy = NULL;
    for (size_t i = 0; i < p->depth; i++) {
        if (p->stack[i].anchor && strcmp(p->stack[i].anchor, name) == 0) {
            char *dn = display(name, strlen(name));
            fail(p, ZP_E_INPUT, &pos, "alias '*%s' refers to a node that contains it", dn);
            free(dn);
            goto out;
        }
    }
    const struct anchor *a = anchor_find(p, name);
    if (!a) {
        char *dn = display(name, strlen(name));
        fail(p, ZP_E_INPUT, &pos, "undefined alias '*%s'", dn);
        free(dn);
        goto out;
    }
    if (p->depth + a->height > p->max_depth) {
        fail(p, ZP_E_TOOBIG, &pos, "document nests deeper than %zu levels", p->max_depth);
        goto out;
    }
    if (!count_node(p, &pos, a->size, true))
        goto out;
    copy = zp_node_copy(a->node);
    copy->pos = pos;
out:
    free(name);
    return copy;
}

/* ---- building ---- */

static void frame_release(struct frame *f)
{
    zp_node_free(f->node);
    zp_node_free(f->key);
    free(f->anchor);
    free(f->merges);
    free(f->keys.slots);
    memset(f, 0, sizeof(*f));
}

static void graveyard_add(struct yparser *p, struct zp_node *n)
{
    zp_grow((void **)&p->grave, &p->gcap, p->ngrave + 1, sizeof(*p->grave));
    p->grave[p->ngrave++] = n;
}

static bool is_merge_key(const struct zp_node *k)
{
    return k->kind == ZP_NODE_SCALAR && !(k->flags & ZP_NODE_QUOTED) && k->len == 2 &&
           memcmp(k->str, "<<", 2) == 0;
}

/* Hand a finished node (owned) to its parent: the document, a sequence, or a mapping as
 * key or value. Returns false on error (the node is freed). */
static bool attach(struct yparser *p, struct zp_node *n)
{
    if (p->depth == 0) {
        if (p->root)
            ZP_BUG("two roots in one document");
        p->root = n;
        return true;
    }
    struct frame *f = &p->stack[p->depth - 1];
    if (f->node->kind == ZP_NODE_SEQ) {
        zp_node_push(f->node, n);
        return true;
    }
    if (!f->key) {
        if (n->kind != ZP_NODE_SCALAR) {
            fail(p, ZP_E_INPUT, &n->pos, "mapping keys must be scalars, not %s",
                 zp_node_type_name(n));
            zp_node_free(n);
            return false;
        }
        if (n->type != ZP_STR && !is_merge_key(n)) {
            /* as Compose: keys are strings (write `"1":` for a key that looks like a number) */
            char *k = display(n->str, n->len);
            fail(p, ZP_E_INPUT, &n->pos, "non-string key '%s' (%s): quote it", k,
                 zp_node_type_name(n));
            free(k);
            zp_node_free(n);
            return false;
        }
        if (is_merge_key(n)) {
            if (f->has_merge) {
                fail(p, ZP_E_INPUT, &n->pos, "duplicate key '<<' (first at line %d)",
                     f->merge_line);
                zp_node_free(n);
                return false;
            }
            f->has_merge = true;
            f->merge_line = n->pos.line;
            f->key_is_merge = true;
        } else {
            long i = keyset_find(&f->keys, f->node, n);
            if (i >= 0) {
                char *k = display(n->str, n->len);
                fail(p, ZP_E_INPUT, &n->pos, "duplicate key '%s' (first at line %d)", k,
                     f->node->pairs[i].key->pos.line);
                free(k);
                zp_node_free(n);
                return false;
            }
        }
        f->key = n;
        return true;
    }
    struct zp_node *key = f->key;
    f->key = NULL;
    if (f->key_is_merge) {
        f->key_is_merge = false;
        /* the `<<` key and the merge sources stay alive to the end: anchors may point into
         * them (`&k <<: ...`) */
        graveyard_add(p, key);
        graveyard_add(p, n);
        if (n->kind == ZP_NODE_SEQ) {
            for (size_t i = 0; i < n->n; i++) {
                if (n->items[i]->kind != ZP_NODE_MAP) {
                    fail(p, ZP_E_INPUT, &n->items[i]->pos,
                         "merge key '<<' expects mappings, not %s", zp_node_type_name(n->items[i]));
                    return false;
                }
            }
        } else if (n->kind != ZP_NODE_MAP) {
            fail(p, ZP_E_INPUT, &n->pos,
                 "merge key '<<' expects a mapping or a sequence of mappings, not %s",
                 zp_node_type_name(n));
            return false;
        }
        zp_grow((void **)&f->merges, &f->mcap, f->nmerges + 1, sizeof(*f->merges));
        f->merges[f->nmerges++] = n;
        return true;
    }
    zp_node_append_pair(f->node, key, n);
    keyset_put(&f->keys, f->node, f->node->n - 1);
    return true;
}

/* Merge one source mapping into f's mapping: keys already there win. */
static bool merge_from(struct yparser *p, struct frame *f, const struct zp_node *src)
{
    for (size_t i = 0; i < src->n; i++) {
        const struct zp_pair *pr = &src->pairs[i];
        if (keyset_find(&f->keys, f->node, pr->key) >= 0)
            continue;
        size_t size, height;
        measure(pr->value, &size, &height);
        if (!count_node(p, &pr->key->pos, size + 1, true))
            return false;
        zp_node_append_pair(f->node, zp_node_copy(pr->key), zp_node_copy(pr->value));
        keyset_put(&f->keys, f->node, f->node->n - 1);
    }
    return true;
}

static bool push_frame(struct yparser *p, struct fy_event *e, enum zp_node_kind kind)
{
    struct zp_pos pos = event_pos(p, e);
    if (p->depth > 0) {
        struct frame *top = &p->stack[p->depth - 1];
        if (top->node->kind == ZP_NODE_MAP && !top->key) {
            fail(p, ZP_E_INPUT, &pos, "mapping keys must be scalars, not a %s",
                 kind == ZP_NODE_MAP ? "mapping" : "sequence");
            return false;
        }
    }
    if (p->depth + 1 > p->max_depth) {
        fail(p, ZP_E_TOOBIG, &pos, "document nests deeper than %zu levels", p->max_depth);
        return false;
    }
    if (!count_node(p, &pos, 1, false))
        return false;
    struct zp_node *n = kind == ZP_NODE_MAP ? zp_node_new_map(&pos) : zp_node_new_seq(&pos);
    if (!tag_collection(p, e, n, &pos)) {
        zp_node_free(n);
        return false;
    }
    zp_grow((void **)&p->stack, &p->scap, p->depth + 1, sizeof(*p->stack));
    struct frame *f = &p->stack[p->depth++];
    memset(f, 0, sizeof(*f));
    f->node = n;
    struct fy_token *anchor = fy_event_get_anchor_token(e);
    if (anchor)
        f->anchor = token_text_dup(anchor);
    return true;
}

/* The value a merge source of f gives key (earlier sources first), or NULL. */
static const struct zp_node *merged_value(const struct frame *f, const char *key)
{
    for (size_t i = 0; i < f->nmerges; i++) {
        const struct zp_node *m = f->merges[i];
        const struct zp_node *v = NULL;
        if (m->kind == ZP_NODE_MAP)
            v = zp_node_get(m, key);
        for (size_t j = 0; !v && m->kind == ZP_NODE_SEQ && j < m->n; j++)
            v = zp_node_get(m->items[j], key);
        if (v)
            return v;
    }
    return NULL;
}

/* As Compose: a key tagged !reset beside a merge key `<<` is taken out before the merge
 * sources apply, so a source holding that key gives its value, which then replaces (as
 * !override) what an earlier file had there. */
static bool reset_beside_merge(struct yparser *p, struct frame *f)
{
    for (size_t i = 0; f->nmerges && i < f->node->n; i++) {
        struct zp_pair *pr = &f->node->pairs[i];
        if (!(pr->value->flags & ZP_NODE_RESET))
            continue;
        const struct zp_node *src = merged_value(f, pr->key->str);
        if (!src)
            continue;
        size_t size, height;
        measure(src, &size, &height);
        if (!count_node(p, &pr->key->pos, size, true))
            return false;
        struct zp_node *copy = zp_node_copy(src);
        copy->flags = (copy->flags & ~(unsigned)ZP_NODE_RESET) | ZP_NODE_OVERRIDE;
        graveyard_add(p, pr->value); /* an anchor may point to it (`ports: &p !reset []`) */
        pr->value = copy;
    }
    return true;
}

static bool pop_frame(struct yparser *p)
{
    struct frame *f = &p->stack[p->depth - 1];
    if (!reset_beside_merge(p, f))
        return false;
    for (size_t i = 0; i < f->nmerges; i++) {
        const struct zp_node *m = f->merges[i];
        /* earlier sources win over later ones: merge in order, skipping present keys */
        if (m->kind == ZP_NODE_MAP) {
            if (!merge_from(p, f, m))
                return false;
        } else {
            for (size_t j = 0; j < m->n; j++)
                if (!merge_from(p, f, m->items[j]))
                    return false;
        }
    }
    struct zp_node *n = f->node;
    char *anchor = f->anchor;
    f->node = NULL;
    f->anchor = NULL;
    frame_release(f);
    p->depth--;
    if (anchor)
        anchor_add(p, anchor, n);
    return attach(p, n);
}

/* The finished root of a document: an empty document is an empty mapping; anything but
 * a mapping is an error. Moves p->root to p->docs. */
static void finish_document(struct yparser *p)
{
    if (p->rc)
        return;
    if (!p->root || (p->root->kind == ZP_NODE_SCALAR && p->root->type == ZP_NULL)) {
        struct zp_pos pos = {p->file, 1, 1};
        if (p->root && p->root->pos.line > 0)
            pos = p->root->pos;
        zp_node_free(p->root);
        p->root = zp_node_new_map(&pos);
    } else if (p->root->kind != ZP_NODE_MAP) {
        fail(p, ZP_E_INPUT, &p->root->pos,
             "the top level of a compose file must be a mapping, not %s",
             zp_node_type_name(p->root));
        return;
    }
    zp_grow((void **)&p->docs, &p->dcap, p->ndone + 1, sizeof(*p->docs));
    p->docs[p->ndone++] = p->root;
    p->root = NULL;
}

static void on_event(struct yparser *p, struct fy_event *e)
{
    if (p->pending_doc_error && !p->multi) {
        struct zp_pos pos = event_pos(p, e);
        fail(p, ZP_E_INPUT, &pos, "multiple YAML documents are not supported");
        return;
    }
    switch (e->type) {
    case FYET_DOCUMENT_START:
        if (++p->ndocs > 1 && p->multi) {
            finish_document(p);
        } else if (p->ndocs > 1) {
            const struct fy_mark *m = fy_event_start_mark(e);
            if (m) {
                struct zp_pos pos = pos_of_mark(p, m);
                fail(p, ZP_E_INPUT, &pos, "multiple YAML documents are not supported");
            } else {
                p->pending_doc_error = true;
            }
        }
        break;
    case FYET_MAPPING_START:
        push_frame(p, e, ZP_NODE_MAP);
        break;
    case FYET_SEQUENCE_START:
        push_frame(p, e, ZP_NODE_SEQ);
        break;
    case FYET_MAPPING_END:
    case FYET_SEQUENCE_END:
        if (p->depth == 0)
            ZP_BUG("collection end without a start");
        pop_frame(p);
        break;
    case FYET_SCALAR: {
        struct zp_node *n = scalar_from_event(p, e);
        if (!n)
            break;
        struct fy_token *anchor = fy_event_get_anchor_token(e);
        if (anchor)
            anchor_add(p, token_text_dup(anchor), n);
        attach(p, n);
        break;
    }
    case FYET_ALIAS: {
        struct zp_node *n = alias_copy(p, e);
        if (n)
            attach(p, n);
        break;
    }
    default:
        break;
    }
}

/* ---- input checks and libfyaml's diagnostics ---- */

/* libfyaml silently drops some malformed input, so check the encoding first. */
static bool check_utf8(struct yparser *p)
{
    const unsigned char *s = (const unsigned char *)p->data;
    int line = 1, col = 1;
    for (size_t i = 0; i < p->len;) {
        uint32_t cp;
        size_t l = zp_utf8_decode(s + i, p->len - i, &cp);
        if (l == 0 || s[i] == 0) {
            struct zp_pos pos = {p->file, line, col};
            if (s[i] == 0)
                fail(p, ZP_E_INPUT, &pos, "invalid NUL byte in YAML input");
            else
                fail(p, ZP_E_INPUT, &pos, "invalid UTF-8 byte 0x%02x", s[i]);
            return false;
        }
        if (s[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
        i += l;
    }
    return true;
}

static void diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

static void report_stream_error(struct yparser *p, struct fy_diag *diag)
{
    void *it = NULL;
    struct fy_diag_error *de;
    while ((de = fy_diag_errors_iterate(diag, &it)) != NULL) {
        if (de->type != FYET_ERROR)
            continue;
        struct zp_pos pos = {p->file, de->line > 0 ? de->line : 0,
                             de->line > 0 && de->column > 0 ? de->column : 0};
        if (pos.line > 0 && pos.col == 0)
            pos.col = 1;
        fail(p, ZP_E_INPUT, &pos, "invalid YAML: %s", de->msg ? de->msg : "syntax error");
        return;
    }
    fail(p, ZP_E_INPUT, &p->last, "invalid YAML");
}

static void parser_release(struct yparser *p)
{
    for (size_t i = p->depth; i > 0; i--)
        frame_release(&p->stack[i - 1]);
    free(p->stack);
    for (size_t i = 0; i < p->nanchors; i++)
        free(p->anchors[i].name);
    free(p->anchors);
    free(p->aslots);
    for (size_t i = 0; i < p->ngrave; i++)
        zp_node_free(p->grave[i]);
    free(p->grave);
    for (size_t i = 0; i < p->ndone; i++)
        zp_node_free(p->docs[i]);
    free(p->docs);
    zp_node_free(p->root);
}

static int parse(const char *file, const char *data, size_t len,
                 const struct compose_yaml_limits *lim, bool multi, struct zp_node ***ret_docs,
                 size_t *ret_n, struct zp_diags *d)
{
    struct yparser p;
    memset(&p, 0, sizeof(p));
    p.multi = multi;
    p.file = zp_intern(file ? file : "-");
    p.data = data ? data : "";
    p.len = data ? len : 0;
    p.d = d;
    p.last.file = p.file;
    size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : YAML_DEFAULT_MAX_BYTES;
    p.max_depth = lim && lim->max_depth ? lim->max_depth : YAML_DEFAULT_MAX_DEPTH;
    p.max_nodes = lim && lim->max_nodes ? lim->max_nodes : YAML_DEFAULT_MAX_NODES;

    struct fy_diag *diag = NULL;
    struct fy_parser *fyp = NULL;

    if (p.len > max_bytes) {
        struct zp_pos pos = {p.file, 0, 0};
        fail(&p, ZP_E_TOOBIG, &pos, "file is too big (%zu bytes, at most %zu)", p.len, max_bytes);
        goto out;
    }
    if (!check_utf8(&p))
        goto out;

    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_discard;
    dcfg.user = NULL;
    dcfg.colorize = false;
    diag = fy_diag_create(&dcfg);
    if (!diag)
        ZP_BUG("fy_diag_create failed");
    fy_diag_set_collect_errors(diag, true);

    struct fy_parse_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    /* sloppy flow indentation: a flow sequence may end at its key's indentation, as
     * Compose's YAML reader allows (`command: [` ... `]` in column 1 of the key) */
    cfg.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_JSON_NONE | FYPCF_DISABLE_MMAP_OPT |
                FYPCF_DISABLE_RECYCLING | FYPCF_SLOPPY_FLOW_INDENTATION;
    cfg.diag = diag;
    fyp = fy_parser_create(&cfg);
    if (!fyp)
        ZP_BUG("fy_parser_create failed");
    if (fy_parser_set_string(fyp, p.data, p.len) != 0) {
        fail(&p, ZP_E_INPUT, &p.last, "invalid YAML: cannot read input");
        goto out;
    }

    struct fy_event *e;
    while (!p.rc && (e = fy_parser_parse(fyp)) != NULL) {
        on_event(&p, e);
        fy_parser_event_free(fyp, e);
    }
    if (!p.rc && fy_parser_get_stream_error(fyp))
        report_stream_error(&p, diag);
    if (p.rc)
        goto out;

    finish_document(&p);
    if (p.rc)
        goto out;
    *ret_docs = p.docs;
    *ret_n = p.ndone;
    p.docs = NULL;
    p.ndone = 0;
out:
    if (fyp)
        fy_parser_destroy(fyp);
    if (diag)
        fy_diag_destroy(diag);
    parser_release(&p);
    return p.rc;
}

int compose__yaml_parse(const char *file, const char *data, size_t len,
                        const struct compose_yaml_limits *lim, struct zp_node **ret_doc,
                        struct zp_diags *d)
{
    struct zp_node **docs = NULL;
    size_t n = 0;
    int rc = parse(file, data, len, lim, false, &docs, &n, d);
    if (rc)
        return rc;
    *ret_doc = docs[0];
    free(docs);
    return 0;
}

int compose__yaml_parse_docs(const char *file, const char *data, size_t len,
                             const struct compose_yaml_limits *lim, struct zp_node ***ret_docs,
                             size_t *ret_n, struct zp_diags *d)
{
    return parse(file, data, len, lim, true, ret_docs, ret_n, d);
}

/* compose/node: construction, lookup and copying of positioned trees. */
#include "node.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

static struct zp_node *node_new(enum zp_node_kind kind, const struct zp_pos *pos)
{
    struct zp_node *n = zp_calloc(1, sizeof(*n));
    n->kind = kind;
    if (pos)
        n->pos = *pos;
    return n;
}

struct zp_node *zp_node_new_map(const struct zp_pos *pos)
{
    return node_new(ZP_NODE_MAP, pos);
}

struct zp_node *zp_node_new_seq(const struct zp_pos *pos)
{
    return node_new(ZP_NODE_SEQ, pos);
}

struct zp_node *zp_node_new_strn(const char *s, size_t len, const struct zp_pos *pos)
{
    struct zp_node *n = node_new(ZP_NODE_SCALAR, pos);
    n->type = ZP_STR;
    n->str = zp_strndup(s, len);
    n->len = len;
    return n;
}

struct zp_node *zp_node_new_str(const char *s, const struct zp_pos *pos)
{
    return zp_node_new_strn(s, strlen(s), pos);
}

struct zp_node *zp_node_new_scalar(enum zp_scalar_type type, const char *text,
                                   const struct zp_pos *pos)
{
    struct zp_node *n = zp_node_new_str(text, pos);
    n->type = type;
    return n;
}

struct zp_node *zp_node_new_int(int64_t v, const struct zp_pos *pos)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return zp_node_new_scalar(ZP_INT, buf, pos);
}

struct zp_node *zp_node_new_float(double v, const struct zp_pos *pos)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%.17g", v);
    /* shortest text that reads back the same value */
    for (int prec = 1; prec <= 17; prec++) {
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v) {
            memcpy(buf, tmp, sizeof(buf));
            break;
        }
    }
    return zp_node_new_scalar(ZP_FLOAT, buf, pos);
}

struct zp_node *zp_node_new_bool(bool v, const struct zp_pos *pos)
{
    return zp_node_new_scalar(ZP_BOOL, v ? "true" : "false", pos);
}

struct zp_node *zp_node_new_null(const struct zp_pos *pos)
{
    return zp_node_new_scalar(ZP_NULL, "null", pos);
}

/* ---- key index: maps with many keys (a project's services) get a hash index so that
 * lookups stay O(1). Code outside node.c may edit pairs[] directly in ways that change n
 * (see node.h), so the index records the array and count it was built for and is rebuilt
 * when either differs. ---- */

enum { KEYINDEX_MIN = 32 };

struct zp_node_keyindex {
    const struct zp_pair *pairs; /* the array indexed */
    size_t n;                    /* pairs indexed */
    size_t mask;                 /* slots - 1 */
    uint32_t *slots;             /* position + 1, or 0 for empty */
};

static uint32_t key_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static void keyindex_free(struct zp_node *map)
{
    if (map->keyindex) {
        free(map->keyindex->slots);
        free(map->keyindex);
        map->keyindex = NULL;
    }
}

static void keyindex_insert(struct zp_node_keyindex *ix, const char *key, size_t pos)
{
    size_t i = key_hash(key) & ix->mask;
    while (ix->slots[i])
        i = (i + 1) & ix->mask;
    ix->slots[i] = (uint32_t)(pos + 1);
}

static void keyindex_build(struct zp_node *map)
{
    keyindex_free(map);
    struct zp_node_keyindex *ix = zp_calloc(1, sizeof(*ix));
    size_t slots = 64;
    while (slots < map->n * 2 + 2)
        slots *= 2;
    ix->slots = zp_calloc(slots, sizeof(*ix->slots));
    ix->mask = slots - 1;
    ix->pairs = map->pairs;
    ix->n = map->n;
    for (size_t i = 0; i < map->n; i++)
        keyindex_insert(ix, map->pairs[i].key->str, i);
    map->keyindex = ix;
}

static bool keyindex_fresh(const struct zp_node *map)
{
    return map->keyindex && map->keyindex->pairs == map->pairs && map->keyindex->n == map->n;
}

/* After an append through zp_node_append_pair: keep a fresh index fresh. */
static void keyindex_appended(struct zp_node *map, const struct zp_pair *old_pairs)
{
    struct zp_node_keyindex *ix = map->keyindex;
    if (!ix)
        return;
    if (ix->pairs != old_pairs || ix->n != map->n - 1 || (map->n * 2 + 2) > ix->mask + 1) {
        keyindex_free(map);
        return;
    }
    keyindex_insert(ix, map->pairs[map->n - 1].key->str, map->n - 1);
    ix->pairs = map->pairs;
    ix->n = map->n;
}

static long keyindex_find(struct zp_node *map, const char *key)
{
    if (!keyindex_fresh(map))
        keyindex_build(map);
    const struct zp_node_keyindex *ix = map->keyindex;
    for (size_t i = key_hash(key) & ix->mask; ix->slots[i]; i = (i + 1) & ix->mask) {
        size_t pos = ix->slots[i] - 1;
        if (strcmp(map->pairs[pos].key->str, key) == 0)
            return (long)pos;
    }
    return -1;
}

static void node_release(struct zp_node *n)
{
    keyindex_free(n);
    free(n->str);
    for (size_t i = 0; n->items && i < n->n; i++)
        zp_node_free(n->items[i]);
    for (size_t i = 0; n->pairs && i < n->n; i++) {
        zp_node_free(n->pairs[i].key);
        zp_node_free(n->pairs[i].value);
    }
    free(n->items);
    free(n->pairs);
}

void zp_node_free(struct zp_node *n)
{
    if (!n)
        return;
    node_release(n);
    free(n);
}

struct zp_node *zp_node_copy(const struct zp_node *n)
{
    if (!n)
        return NULL;
    struct zp_node *c = node_new(n->kind, &n->pos);
    c->type = n->type;
    c->flags = n->flags;
    if (n->kind == ZP_NODE_SCALAR) {
        c->str = zp_strndup(n->str ? n->str : "", n->len);
        c->len = n->len;
    } else if (n->kind == ZP_NODE_SEQ) {
        for (size_t i = 0; i < n->n; i++)
            zp_node_push(c, zp_node_copy(n->items[i]));
    } else {
        for (size_t i = 0; i < n->n; i++)
            zp_node_append_pair(c, zp_node_copy(n->pairs[i].key), zp_node_copy(n->pairs[i].value));
    }
    return c;
}

void zp_node_set_scalar(struct zp_node *n, enum zp_scalar_type type, const char *text)
{
    if (n->kind != ZP_NODE_SCALAR)
        ZP_BUG("zp_node_set_scalar on a non-scalar");
    char *s = zp_strdup(text);
    free(n->str);
    n->str = s;
    n->len = strlen(s);
    n->type = type;
}

void zp_node_replace(struct zp_node *n, struct zp_node *src)
{
    struct zp_pos keep = n->pos;
    node_release(n);
    *n = *src;
    if (!n->pos.file && n->pos.line == 0)
        n->pos = keep;
    free(src);
}

bool zp_node_is_map(const struct zp_node *n)
{
    return n && n->kind == ZP_NODE_MAP;
}

bool zp_node_is_seq(const struct zp_node *n)
{
    return n && n->kind == ZP_NODE_SEQ;
}

bool zp_node_is_scalar(const struct zp_node *n)
{
    return n && n->kind == ZP_NODE_SCALAR;
}

bool zp_node_is_null(const struct zp_node *n)
{
    return n && n->kind == ZP_NODE_SCALAR && n->type == ZP_NULL;
}

bool zp_node_is_str(const struct zp_node *n)
{
    return n && n->kind == ZP_NODE_SCALAR && n->type == ZP_STR;
}

bool zp_node_equal(const struct zp_node *a, const struct zp_node *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind || a->n != b->n)
        return false;
    if (a->kind == ZP_NODE_SCALAR)
        return a->type == b->type && a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->kind == ZP_NODE_SEQ) {
            if (!zp_node_equal(a->items[i], b->items[i]))
                return false;
        } else if (!zp_node_equal(a->pairs[i].key, b->pairs[i].key) ||
                   !zp_node_equal(a->pairs[i].value, b->pairs[i].value)) {
            return false;
        }
    }
    return true;
}

long zp_node_index(const struct zp_node *map, const char *key)
{
    if (!map || map->kind != ZP_NODE_MAP)
        return -1;
    if (map->n >= KEYINDEX_MIN) {
        /* the index is a cache: building it does not change the map's contents */
        return keyindex_find((struct zp_node *)map, key);
    }
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->pairs[i].key->str, key) == 0)
            return (long)i;
    return -1;
}

struct zp_node *zp_node_get(const struct zp_node *map, const char *key)
{
    long i = zp_node_index(map, key);
    return i < 0 ? NULL : map->pairs[i].value;
}

struct zp_node *zp_node_get_key(const struct zp_node *map, const char *key)
{
    long i = zp_node_index(map, key);
    return i < 0 ? NULL : map->pairs[i].key;
}

const char *zp_node_get_str(const struct zp_node *map, const char *key)
{
    struct zp_node *v = zp_node_get(map, key);
    return v && v->kind == ZP_NODE_SCALAR && v->type != ZP_NULL ? v->str : NULL;
}

void zp_node_append_pair(struct zp_node *map, struct zp_node *key, struct zp_node *value)
{
    if (map->kind != ZP_NODE_MAP || key->kind != ZP_NODE_SCALAR)
        ZP_BUG("zp_node_append_pair on a non-map or with a non-scalar key");
    const struct zp_pair *old_pairs = map->pairs;
    zp_grow((void **)&map->pairs, &map->cap, map->n + 1, sizeof(*map->pairs));
    map->pairs[map->n].key = key;
    map->pairs[map->n].value = value;
    map->n++;
    keyindex_appended(map, old_pairs);
}

void zp_node_set(struct zp_node *map, const char *key, struct zp_node *value)
{
    long i = zp_node_index(map, key);
    if (i >= 0) {
        zp_node_free(map->pairs[i].value);
        map->pairs[i].value = value;
        return;
    }
    zp_node_append_pair(map, zp_node_new_str(key, value ? &value->pos : NULL), value);
}

struct zp_node *zp_node_take(struct zp_node *map, const char *key)
{
    long i = zp_node_index(map, key);
    if (i < 0)
        return NULL;
    struct zp_node *v = map->pairs[i].value;
    zp_node_free(map->pairs[i].key);
    memmove(&map->pairs[i], &map->pairs[i + 1], (map->n - (size_t)i - 1) * sizeof(*map->pairs));
    map->n--;
    keyindex_free(map);
    return v;
}

bool zp_node_del(struct zp_node *map, const char *key)
{
    if (zp_node_index(map, key) < 0)
        return false;
    zp_node_free(zp_node_take(map, key));
    return true;
}

static int pair_cmp(const void *a, const void *b)
{
    const struct zp_pair *x = a, *y = b;
    return strcmp(x->key->str, y->key->str);
}

void zp_node_sort_keys(struct zp_node *map)
{
    if (map && map->kind == ZP_NODE_MAP && map->n > 1) {
        qsort(map->pairs, map->n, sizeof(*map->pairs), pair_cmp);
        keyindex_free(map);
    }
}

void zp_node_push(struct zp_node *seq, struct zp_node *item)
{
    if (seq->kind != ZP_NODE_SEQ)
        ZP_BUG("zp_node_push on a non-sequence");
    zp_grow((void **)&seq->items, &seq->cap, seq->n + 1, sizeof(*seq->items));
    seq->items[seq->n++] = item;
}

void zp_node_remove_at(struct zp_node *seq, size_t i)
{
    if (seq->kind != ZP_NODE_SEQ || i >= seq->n)
        ZP_BUG("zp_node_remove_at out of range");
    zp_node_free(seq->items[i]);
    memmove(&seq->items[i], &seq->items[i + 1], (seq->n - i - 1) * sizeof(*seq->items));
    seq->n--;
}

char *zp_path_key(const char *parent, const char *key)
{
    bool plain = *key != '\0';
    for (const char *p = key; *p; p++)
        if (*p == '.' || *p == ' ' || *p == '[' || *p == ']' || *p == '"')
            plain = false;
    if (!parent || !*parent)
        return plain ? zp_strdup(key) : zp_asprintf("\"%s\"", key);
    return plain ? zp_asprintf("%s.%s", parent, key) : zp_asprintf("%s[\"%s\"]", parent, key);
}

char *zp_path_index(const char *parent, size_t i)
{
    return zp_asprintf("%s[%zu]", parent ? parent : "", i);
}

const char *zp_node_type_name(const struct zp_node *n)
{
    if (!n)
        return "nothing";
    switch (n->kind) {
    case ZP_NODE_MAP:
        return "a mapping";
    case ZP_NODE_SEQ:
        return "a sequence";
    case ZP_NODE_SCALAR:
        break;
    }
    switch (n->type) {
    case ZP_STR:
        return "a string";
    case ZP_INT:
        return "an integer";
    case ZP_FLOAT:
        return "a number";
    case ZP_BOOL:
        return "a boolean";
    case ZP_NULL:
        return "null";
    }
    return "a scalar";
}

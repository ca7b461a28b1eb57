/* compose/node: the tree every stage of loading works on (YAML document, merged project,
 * normalised model). Each node carries the file:line:col it came from. */
#ifndef ZP_COMPOSE_NODE_H
#define ZP_COMPOSE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

enum zp_node_kind {
    ZP_NODE_SCALAR,
    ZP_NODE_SEQ,
    ZP_NODE_MAP,
};

/* The resolved type of a scalar (YAML 1.2 core schema: plain `true`/`false` are bool,
 * plain `null`/`~`/empty are null, plain integers and floats are numbers; anything
 * quoted is a string). */
enum zp_scalar_type {
    ZP_STR,
    ZP_INT,
    ZP_FLOAT,
    ZP_BOOL,
    ZP_NULL,
};

enum zp_node_flags {
    ZP_NODE_RESET = 1 << 0,    /* tagged !reset: remove the inherited value on merge */
    ZP_NODE_OVERRIDE = 1 << 1, /* tagged !override: replace instead of merging */
    ZP_NODE_QUOTED = 1 << 2,   /* scalar was quoted in the source */
    ZP_NODE_NOINTERP = 1 << 3, /* never interpolate this string (already expanded) */
    ZP_NODE_DEFAULT = 1 << 4,  /* filled in by the normaliser: a base's value wins on merge */
};

struct zp_node;

struct zp_pair {
    struct zp_node *key; /* always a scalar */
    struct zp_node *value;
};

struct zp_node {
    enum zp_node_kind kind;
    enum zp_scalar_type type; /* scalars only */
    unsigned flags;
    struct zp_pos pos;
    /* ZP_NODE_SCALAR: text, NUL-terminated (also for numbers and bools: as written,
     * or as produced by zp_node_new_int etc.) */
    char *str;
    size_t len;
    /* ZP_NODE_SEQ: items[0..n) ; ZP_NODE_MAP: pairs[0..n), in insertion order. Code may
     * edit pairs[] directly only in ways that change n (removing, compacting) or that
     * replace values; reordering keys in place must go through zp_node_sort_keys, since
     * lookups of large maps go through an index keyed on positions. */
    size_t n, cap;
    struct zp_node **items;
    struct zp_pair *pairs;
    /* private to node.c: a hash index over the keys of large maps, rebuilt when stale */
    struct zp_node_keyindex *keyindex;
};

/* Constructors; pos may be NULL (no position). The caller owns the result. */
struct zp_node *zp_node_new_map(const struct zp_pos *pos);
struct zp_node *zp_node_new_seq(const struct zp_pos *pos);
struct zp_node *zp_node_new_str(const char *s, const struct zp_pos *pos);
struct zp_node *zp_node_new_strn(const char *s, size_t len, const struct zp_pos *pos);
struct zp_node *zp_node_new_int(int64_t v, const struct zp_pos *pos);
struct zp_node *zp_node_new_float(double v, const struct zp_pos *pos);
struct zp_node *zp_node_new_bool(bool v, const struct zp_pos *pos);
struct zp_node *zp_node_new_null(const struct zp_pos *pos);
/* A scalar with a given type and text (text copied). */
struct zp_node *zp_node_new_scalar(enum zp_scalar_type type, const char *text,
                                   const struct zp_pos *pos);

/* Free a node and everything below it; NULL is fine. */
void zp_node_free(struct zp_node *n);
/* Deep copy (positions and flags kept). */
struct zp_node *zp_node_copy(const struct zp_node *n);
/* Replace the scalar text and type of n (which must be a scalar). */
void zp_node_set_scalar(struct zp_node *n, enum zp_scalar_type type, const char *text);
/* Turn n into a copy of src in place, freeing what n held; n's position is kept when
 * src has none. Takes ownership of src. */
void zp_node_replace(struct zp_node *n, struct zp_node *src);

/* Predicates. */
bool zp_node_is_map(const struct zp_node *n);
bool zp_node_is_seq(const struct zp_node *n);
bool zp_node_is_scalar(const struct zp_node *n);
bool zp_node_is_null(const struct zp_node *n);
bool zp_node_is_str(const struct zp_node *n);
/* Structural equality (kinds, scalar types and texts, keys and order); positions ignored. */
bool zp_node_equal(const struct zp_node *a, const struct zp_node *b);

/* ---- maps ---- */

/* Borrowed value for key, or NULL. */
struct zp_node *zp_node_get(const struct zp_node *map, const char *key);
/* Borrowed key node for key (for its position), or NULL. */
struct zp_node *zp_node_get_key(const struct zp_node *map, const char *key);
/* Index of key or -1. */
long zp_node_index(const struct zp_node *map, const char *key);
/* Borrowed string text of map[key] if it is a scalar, else NULL. */
const char *zp_node_get_str(const struct zp_node *map, const char *key);
/* Set map[key] = value (takes ownership of value); replaces (and frees) an existing value
 * in place, keeping its order; otherwise appends with a key positioned at value->pos. */
void zp_node_set(struct zp_node *map, const char *key, struct zp_node *value);
/* Append a pair, taking ownership of both (no duplicate check). */
void zp_node_append_pair(struct zp_node *map, struct zp_node *key, struct zp_node *value);
/* Remove key; returns true if it was there. */
bool zp_node_del(struct zp_node *map, const char *key);
/* Remove and return the value for key (caller owns it), or NULL. */
struct zp_node *zp_node_take(struct zp_node *map, const char *key);
/* Sort a map's pairs by key (byte order), not recursive. */
void zp_node_sort_keys(struct zp_node *map);

/* ---- sequences ---- */

/* Append item (ownership taken). */
void zp_node_push(struct zp_node *seq, struct zp_node *item);
/* Remove item i, freeing it. */
void zp_node_remove_at(struct zp_node *seq, size_t i);

/* ---- paths for messages ---- */

/* "services.web.ports[0]": child path of a map key (quoted when it has dots or spaces). */
char *zp_path_key(const char *parent, const char *key);
char *zp_path_index(const char *parent, size_t i);

/* Short description of a node's type for messages: "a string", "a mapping", ... */
const char *zp_node_type_name(const struct zp_node *n);

#endif

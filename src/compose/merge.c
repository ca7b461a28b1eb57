/* compose/merge: the Compose Specification's merge rules ("Merge and override") applied to
 * normalised trees: override files over base files, and extending services over their base. */
#include "compose-int.h"

#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

/* Where in the model a node sits: it decides how its children merge. */
enum mctx {
    M_ANY,
    M_DOC,
    M_SERVICES,
    M_SERVICE,
    M_OBJECTS, /* top-level networks, volumes, secrets, configs */
    M_OBJECT,
    M_IPAM,
    M_HEALTHCHECK,
    M_BUILD,
    M_SVC_NETWORKS,
    M_SVC_NETWORK,
};

/* How a sequence (or a field) merges. */
enum mrule {
    R_MERGE,   /* mappings recursively, sequences appended */
    R_REPLACE, /* the override's value replaces the base's */
    R_UNIQUE,  /* sequence of scalars: appended, duplicates dropped */
    R_PORT,    /* ports: keyed by host_ip, published, target, protocol */
    R_TARGET,  /* volumes, devices: keyed by target */
    R_SECRET,  /* keyed by target, else /run/secrets/<source> */
    R_CONFIG,  /* keyed by target, else /<source> */
    R_PATH,    /* env_file: keyed by path */
    R_SUBNET,  /* ipam.config: keyed by subnet */
};

struct field_rule {
    const char *key;
    enum mrule rule;
    enum mctx child;
};

static const struct field_rule service_rules[] = {
    {"command", R_REPLACE, M_ANY},
    {"entrypoint", R_REPLACE, M_ANY},
    {"healthcheck", R_MERGE, M_HEALTHCHECK},
    {"build", R_MERGE, M_BUILD},
    {"networks", R_MERGE, M_SVC_NETWORKS},
    {"ports", R_PORT, M_ANY},
    {"volumes", R_TARGET, M_ANY},
    {"devices", R_TARGET, M_ANY},
    {"secrets", R_SECRET, M_ANY},
    {"configs", R_CONFIG, M_ANY},
    {"env_file", R_PATH, M_ANY},
    {"expose", R_UNIQUE, M_ANY},
    {"dns", R_UNIQUE, M_ANY},
    {"dns_search", R_UNIQUE, M_ANY},
    {"dns_opt", R_UNIQUE, M_ANY},
    {"tmpfs", R_UNIQUE, M_ANY},
    {"cap_add", R_UNIQUE, M_ANY},
    {"cap_drop", R_UNIQUE, M_ANY},
    {"security_opt", R_UNIQUE, M_ANY},
    {"extra_hosts", R_UNIQUE, M_ANY},
    {"profiles", R_UNIQUE, M_ANY},
    {"links", R_UNIQUE, M_ANY},
    {"external_links", R_UNIQUE, M_ANY},
    {"volumes_from", R_UNIQUE, M_ANY},
    {"group_add", R_UNIQUE, M_ANY},
    {"device_cgroup_rules", R_UNIQUE, M_ANY},
    {NULL, R_MERGE, M_ANY},
};

static const struct field_rule build_rules[] = {
    {"secrets", R_SECRET, M_ANY},   {"tags", R_UNIQUE, M_ANY},
    {"platforms", R_UNIQUE, M_ANY}, {"cache_from", R_UNIQUE, M_ANY},
    {"cache_to", R_UNIQUE, M_ANY},  {"extra_hosts", R_UNIQUE, M_ANY},
    {"ssh", R_UNIQUE, M_ANY},       {NULL, R_MERGE, M_ANY},
};

static const struct field_rule doc_rules[] = {
    {"services", R_MERGE, M_SERVICES}, {"networks", R_MERGE, M_OBJECTS},
    {"volumes", R_MERGE, M_OBJECTS},   {"secrets", R_MERGE, M_OBJECTS},
    {"configs", R_MERGE, M_OBJECTS},   {NULL, R_MERGE, M_ANY},
};

static const struct field_rule svc_network_rules[] = {
    {"aliases", R_UNIQUE, M_ANY},
    {"link_local_ips", R_UNIQUE, M_ANY},
    {NULL, R_MERGE, M_ANY},
};

static void lookup_rule(enum mctx ctx, const char *key, enum mrule *ret_rule, enum mctx *ret_child)
{
    const struct field_rule *table = NULL;

    *ret_rule = R_MERGE;
    *ret_child = M_ANY;
    switch (ctx) {
    case M_DOC:
        table = doc_rules;
        break;
    case M_SERVICES:
        *ret_child = M_SERVICE;
        return;
    case M_SERVICE:
        table = service_rules;
        break;
    case M_OBJECTS:
        *ret_child = M_OBJECT;
        return;
    case M_OBJECT:
        if (strcmp(key, "ipam") == 0)
            *ret_child = M_IPAM;
        return;
    case M_IPAM:
        if (strcmp(key, "config") == 0)
            *ret_rule = R_SUBNET;
        return;
    case M_HEALTHCHECK:
        if (strcmp(key, "test") == 0)
            *ret_rule = R_REPLACE;
        return;
    case M_BUILD:
        table = build_rules;
        break;
    case M_SVC_NETWORKS:
        *ret_child = M_SVC_NETWORK;
        return;
    case M_SVC_NETWORK:
        table = svc_network_rules;
        break;
    case M_ANY:
        return;
    }
    for (; table->key; table++) {
        if (strcmp(table->key, key) == 0) {
            *ret_rule = table->rule;
            *ret_child = table->child;
            return;
        }
    }
}

static void merge_node(struct zp_node *base, struct zp_node *over, enum mctx ctx, enum mrule rule);
static void merge_map(struct zp_node *base, struct zp_node *over, enum mctx ctx);
static void merge_seq(struct zp_node *base, struct zp_node *over, enum mctx ctx, enum mrule rule);

/* The override's value made into a clean result: no RESET/OVERRIDE flags left anywhere,
 * !reset entries dropped, keyed sequences de-duplicated. Consumes over. */
static struct zp_node *fresh(struct zp_node *over, enum mctx ctx, enum mrule rule)
{
    struct zp_node *n;

    over->flags &= ~(unsigned)(ZP_NODE_RESET | ZP_NODE_OVERRIDE);
    if (over->kind == ZP_NODE_MAP) {
        n = zp_node_new_map(&over->pos);
        merge_map(n, over, ctx);
        return n;
    }
    if (over->kind == ZP_NODE_SEQ) {
        n = zp_node_new_seq(&over->pos);
        merge_seq(n, over, ctx, rule);
        return n;
    }
    return over;
}

static void replace_with(struct zp_node *base, struct zp_node *over, enum mctx ctx, enum mrule rule)
{
    zp_node_replace(base, fresh(over, ctx, rule == R_REPLACE ? R_MERGE : rule));
}

/* ---- keyed sequences ---- */

static const char *str_of(const struct zp_node *map, const char *key, const char *dflt)
{
    const struct zp_node *v = zp_node_get(map, key);
    if (!v || v->kind != ZP_NODE_SCALAR || v->type == ZP_NULL)
        return dflt;
    return v->str;
}

/* The unique key of a sequence item under rule, or NULL when it has none (then the item
 * is simply appended). The caller frees it. */
static char *item_key(const struct zp_node *item, enum mrule rule)
{
    const char *s;

    if (item->kind == ZP_NODE_SCALAR) {
        if (rule != R_UNIQUE || item->type == ZP_NULL)
            return NULL;
        return zp_strdup(item->str);
    }
    if (item->kind != ZP_NODE_MAP)
        return NULL;
    switch (rule) {
    case R_PORT:
        s = str_of(item, "target", NULL);
        if (!s)
            return NULL;
        return zp_asprintf("%s:%s:%s/%s", str_of(item, "host_ip", ""),
                           str_of(item, "published", ""), s, str_of(item, "protocol", "tcp"));
    case R_TARGET:
        s = str_of(item, "target", NULL);
        return s ? zp_strdup(s) : NULL;
    case R_SECRET:
    case R_CONFIG:
        s = str_of(item, "target", NULL);
        if (s && s[0] == '/')
            return zp_strdup(s);
        if (s)
            return zp_asprintf("%s/%s", rule == R_SECRET ? "/run/secrets" : "", s);
        s = str_of(item, "source", NULL);
        if (!s)
            return NULL;
        return zp_asprintf("%s/%s", rule == R_SECRET ? "/run/secrets" : "", s);
    case R_PATH:
        s = str_of(item, "path", NULL);
        return s ? zp_strdup(s) : NULL;
    case R_SUBNET:
        s = str_of(item, "subnet", NULL);
        return s ? zp_strdup(s) : NULL;
    case R_MERGE:
    case R_REPLACE:
    case R_UNIQUE:
        break;
    }
    return NULL;
}

static long find_keyed(const struct zp_node *seq, const char *key, enum mrule rule)
{
    for (size_t i = 0; i < seq->n; i++) {
        char *k = item_key(seq->items[i], rule);
        bool same = k && strcmp(k, key) == 0;
        free(k);
        if (same)
            return (long)i;
    }
    return -1;
}

/* Merge an item into the existing item that shares its unique key. As Compose: a mount,
 * device, secret, config or port of the same key replaces the earlier one whole (so
 * `./c:/b` over `./b:/b:ro` is not read-only); other keyed items (env_file paths)
 * merge. */
static void merge_item(struct zp_node *base, struct zp_node *item, enum mrule rule)
{
    if (base->kind != ZP_NODE_MAP || item->kind != ZP_NODE_MAP || rule == R_TARGET ||
        rule == R_SECRET || rule == R_CONFIG || rule == R_PORT) {
        zp_node_replace(base, item);
        return;
    }
    merge_map(base, item, M_ANY);
}

/* Take the override sequence's item i out of it: NULL for a !reset item (dropped). */
static struct zp_node *take_item(struct zp_node *over, size_t i)
{
    struct zp_node *item = over->items[i];
    over->items[i] = NULL;
    if (item->flags & ZP_NODE_RESET) {
        zp_node_free(item);
        return NULL;
    }
    return fresh(item, M_ANY, R_MERGE);
}

/* Free an override sequence whose items were all taken. */
static void drop_taken(struct zp_node *over)
{
    over->n = 0;
    zp_node_free(over);
}

static void merge_seq(struct zp_node *base, struct zp_node *over, enum mctx ctx, enum mrule rule)
{
    (void)ctx;
    for (size_t i = 0; i < over->n; i++) {
        struct zp_node *item = take_item(over, i);
        if (item == NULL)
            continue;
        char *key = item_key(item, rule);
        long j = key ? find_keyed(base, key, rule) : -1;
        free(key);
        if (j < 0) {
            zp_node_push(base, item);
        } else if (rule == R_UNIQUE) {
            zp_node_free(item); /* the same value already: keep the first */
        } else {
            merge_item(base->items[j], item, rule);
        }
    }
    drop_taken(over);
}

/* ipam.config as Compose merges it: the override's pools, each merged over the base's
 * pool of the same subnet; a base pool the override does not name is dropped. */
static void merge_subnets(struct zp_node *base, struct zp_node *over)
{
    struct zp_node *out = zp_node_new_seq(&over->pos);
    for (size_t i = 0; i < over->n; i++) {
        struct zp_node *item = take_item(over, i);
        if (item == NULL)
            continue;
        char *key = item_key(item, R_SUBNET);
        long o = key ? find_keyed(out, key, R_SUBNET) : -1;
        long b = key && o < 0 ? find_keyed(base, key, R_SUBNET) : -1;
        free(key);
        if (o >= 0) {
            merge_item(out->items[o], item, R_SUBNET);
        } else if (b >= 0) {
            struct zp_node *m = zp_node_copy(base->items[b]);
            merge_item(m, item, R_SUBNET);
            zp_node_push(out, m);
        } else {
            zp_node_push(out, item);
        }
    }
    drop_taken(over);
    zp_node_replace(base, out);
}

/* ---- mappings ---- */

/* Logging options belong to a driver: a different driver replaces them. */
static bool logging_driver_changes(const struct zp_node *base, const struct zp_node *over)
{
    if (base->kind != ZP_NODE_MAP || over->kind != ZP_NODE_MAP)
        return false;
    const char *bd = str_of(base, "driver", NULL);
    const char *od = str_of(over, "driver", NULL);
    return bd && od && strcmp(bd, od) != 0;
}

static void merge_map(struct zp_node *base, struct zp_node *over, enum mctx ctx)
{
    for (size_t i = 0; i < over->n; i++) {
        struct zp_node *key = over->pairs[i].key;
        struct zp_node *val = over->pairs[i].value;
        over->pairs[i].key = NULL;
        over->pairs[i].value = NULL;
        enum mrule rule;
        enum mctx child;
        lookup_rule(ctx, key->str, &rule, &child);
        long j = zp_node_index(base, key->str);

        if (val->flags & ZP_NODE_RESET) {
            if (j >= 0)
                zp_node_del(base, key->str);
            zp_node_free(key);
            zp_node_free(val);
            continue;
        }
        if (j < 0) {
            zp_node_append_pair(base, key, fresh(val, child, rule));
            continue;
        }
        zp_node_free(key);
        if (val->flags & ZP_NODE_DEFAULT) {
            /* a default (build: . gives dockerfile: Dockerfile) does not replace a value
             * the base file wrote */
            zp_node_free(val);
            continue;
        }
        if (ctx == M_SERVICE && strcmp(base->pairs[j].key->str, "logging") == 0 &&
            logging_driver_changes(base->pairs[j].value, val)) {
            replace_with(base->pairs[j].value, val, child, rule);
            continue;
        }
        merge_node(base->pairs[j].value, val, child, rule);
    }
    over->n = 0;
    zp_node_free(over);
}

static void merge_node(struct zp_node *base, struct zp_node *over, enum mctx ctx, enum mrule rule)
{
    if ((over->flags & ZP_NODE_OVERRIDE) || rule == R_REPLACE) {
        replace_with(base, over, ctx, rule);
        return;
    }
    /* A null override of a mapping or sequence leaves the base as it is. */
    if (zp_node_is_null(over) && base->kind != ZP_NODE_SCALAR) {
        zp_node_free(over);
        return;
    }
    if (base->kind == ZP_NODE_MAP && over->kind == ZP_NODE_MAP) {
        merge_map(base, over, ctx);
        return;
    }
    if (base->kind == ZP_NODE_SEQ && over->kind == ZP_NODE_SEQ && rule == R_SUBNET) {
        merge_subnets(base, over);
        return;
    }
    if (base->kind == ZP_NODE_SEQ && over->kind == ZP_NODE_SEQ) {
        merge_seq(base, over, ctx, rule);
        return;
    }
    replace_with(base, over, ctx, rule);
}

void compose__merge(struct zp_node *base, struct zp_node *over, bool is_service)
{
    enum mctx ctx = is_service ? M_SERVICE : M_DOC;

    if (!over)
        return;
    over->flags &= ~(unsigned)(ZP_NODE_RESET | ZP_NODE_OVERRIDE);
    if (base->kind == ZP_NODE_MAP && over->kind == ZP_NODE_MAP) {
        merge_map(base, over, ctx);
        return;
    }
    replace_with(base, over, ctx, R_MERGE);
}

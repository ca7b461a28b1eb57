/* compose/normalize-objects: the service fields with a sub-schema of their own (build,
 * deploy, healthcheck): key checks, types, ranges and short syntax to the long one. */
#include "compose-int.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

/* ---- a small table-driven checker for mappings ---- */

typedef int (*field_fn)(struct zp_node *v, const char *path, const struct compose_ctx *ctx,
                        struct zp_diags *d);

enum field_type {
    F_STR,         /* string (numbers converted) */
    F_ENUM,        /* string among choices */
    F_BOOL,        /* boolean */
    F_INT,         /* integer >= min */
    F_NUMBER,      /* number >= 0, <= max (0: unbounded) */
    F_DURATION,    /* Go duration */
    F_SIZE,        /* byte size */
    F_LIST,        /* list of strings */
    F_MAP,         /* map str -> str ("K=V" list form accepted) */
    F_MAP_NULL,    /* same, null values kept */
    F_FN,          /* custom */
    F_UNSUPPORTED, /* recognised but rejected: "not supported yet" */
};

struct field {
    const char *key;
    enum field_type type;
    int64_t min;
    double max;
    const char *const *choices;
    field_fn fn;
};

#define MAX_FIELDS 48

static int check_choice(struct zp_node *v, const char *const *choices, const char *path,
                        struct zp_diags *d)
{
    for (size_t i = 0; choices[i]; i++)
        if (strcmp(v->str, choices[i]) == 0)
            return 0;
    struct zp_buf b = ZP_BUF_INIT;
    for (size_t i = 0; choices[i]; i++)
        zp_buf_addf(&b, "%s'%s'", i ? ", " : "", choices[i]);
    zp_diag_error(d, &v->pos, path, "must be one of %s, not '%s'", zp_buf_cstr(&b), v->str);
    zp_buf_release(&b);
    return ZP_E_INPUT;
}

static int apply_one(const struct field *f, const struct zp_node *key, struct zp_node *v,
                     const char *path, const struct compose_ctx *ctx, struct zp_diags *d)
{
    switch (f->type) {
    case F_STR:
        return compose__to_str(v, false, path, d);
    case F_ENUM:
        if (compose__to_str(v, false, path, d))
            return ZP_E_INPUT;
        return check_choice(v, f->choices, path, d);
    case F_BOOL:
        return compose__to_bool(v, path, d);
    case F_INT:
        return compose__to_int(v, f->min, INT64_MAX, path, d);
    case F_NUMBER:
        return compose__to_number(v, 0, f->max > 0 ? f->max : DBL_MAX, path, d);
    case F_DURATION:
        return compose__to_duration(v, false, path, d);
    case F_SIZE:
        return compose__to_size(v, path, d);
    case F_LIST:
        return compose__to_str_list(v, false, path, d);
    case F_MAP:
        return compose__to_str_map(v, '=', false, path, d);
    case F_MAP_NULL:
        return compose__to_str_map(v, '=', true, path, d);
    case F_FN:
        return f->fn(v, path, ctx, d);
    case F_UNSUPPORTED:
        zp_diag_error(d, &key->pos, path, "'%s' is not supported yet", key->str);
        return ZP_E_INPUT;
    }
    ZP_BUG("unknown field type %d", (int)f->type);
}

/* Check that map is a mapping with only the keys of fields (and x-*), then check and
 * convert each field's value in place. Values tagged !reset are left as written: the
 * merge removes them. */
static int apply_fields(struct zp_node *map, const struct field *fields, const char *what,
                        const char *path, const struct compose_ctx *ctx, struct zp_diags *d)
{
    const char *known[MAX_FIELDS + 1];
    size_t nf = 0;
    if (compose__expect_kind(map, ZP_NODE_MAP, path, d))
        return ZP_E_INPUT;
    for (; fields[nf].key; nf++) {
        if (nf >= MAX_FIELDS)
            ZP_BUG("too many fields for %s", what);
        known[nf] = fields[nf].key;
    }
    known[nf] = NULL;
    int rc = compose__check_keys(map, known, what, path, d);
    for (size_t i = 0; i < map->n; i++) {
        const struct zp_node *key = map->pairs[i].key;
        struct zp_node *v = map->pairs[i].value;
        const struct field *f = NULL;
        for (size_t k = 0; k < nf && !f; k++)
            if (strcmp(fields[k].key, key->str) == 0)
                f = &fields[k];
        if (!f || (v->flags & ZP_NODE_RESET))
            continue;
        char *kpath = zp_path_key(path, key->str);
        if (apply_one(f, key, v, kpath, ctx, d))
            rc = ZP_E_INPUT;
        free(kpath);
    }
    return rc;
}

/* Replace n by repl, keeping n's !reset / !override flags (and its position when repl
 * has none). */
static void replace_keep_flags(struct zp_node *n, struct zp_node *repl)
{
    unsigned flags = n->flags;
    zp_node_replace(n, repl);
    n->flags = flags;
}

/* ---- shared value shapes ---- */

static int mode_fn(struct zp_node *v, const char *path, const struct compose_ctx *ctx,
                   struct zp_diags *d)
{
    (void)ctx;
    return compose__to_file_mode(v, path, d);
}

/* A list of secret references: "name" or {source, target, uid, gid, mode}; strings
 * become {source: name}. */
static int secret_refs_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                          struct zp_diags *d)
{
    static const struct field fields[] = {
        {.key = "source", .type = F_STR},
        {.key = "target", .type = F_STR},
        {.key = "uid", .type = F_STR},
        {.key = "gid", .type = F_STR},
        {.key = "mode", .type = F_FN, .fn = mode_fn},
        {.key = NULL},
    };
    if (compose__expect_kind(n, ZP_NODE_SEQ, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < n->n; i++) {
        struct zp_node *item = n->items[i];
        char *ipath = zp_path_index(path, i);
        if (item->kind == ZP_NODE_SCALAR && item->type == ZP_STR) {
            struct zp_node *m = zp_node_new_map(&item->pos);
            zp_node_set(m, "source", zp_node_new_str(item->str, &item->pos));
            replace_keep_flags(item, m);
        } else if (item->kind != ZP_NODE_MAP) {
            zp_diag_error(d, &item->pos, ipath, "must be a secret name or a mapping, not %s",
                          zp_node_type_name(item));
            rc = ZP_E_INPUT;
        } else if (apply_fields(item, fields, "secret reference", ipath, ctx, d)) {
            rc = ZP_E_INPUT;
        } else if (!zp_node_get(item, "source")) {
            zp_diag_error(d, &item->pos, ipath, "'source' is required");
            rc = ZP_E_INPUT;
        }
        free(ipath);
    }
    return rc;
}

/* soft > hard, where -1 means unlimited; both are checked integers already. */
static bool soft_above_hard(const struct zp_node *soft, const struct zp_node *hard)
{
    int64_t s, h;
    if (zp_parse_int64(soft->str, INT64_MIN, INT64_MAX, &s) ||
        zp_parse_int64(hard->str, INT64_MIN, INT64_MAX, &h))
        return false;
    if (h == -1)
        return false;
    return s == -1 || s > h;
}

/* ulimits: name -> integer, or {soft, hard} (both required). */
static int ulimits_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                      struct zp_diags *d)
{
    static const struct field lim_fields[] = {
        {.key = "soft", .type = F_INT, .min = -1},
        {.key = "hard", .type = F_INT, .min = -1},
        {.key = NULL},
    };
    if (compose__expect_kind(n, ZP_NODE_MAP, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < n->n; i++) {
        const struct zp_node *key = n->pairs[i].key;
        struct zp_node *v = n->pairs[i].value;
        char *kpath = zp_path_key(path, key->str);
        bool name_ok = *key->str != '\0';
        for (const char *p = key->str; *p; p++)
            if (*p < 'a' || *p > 'z')
                name_ok = false;
        if (!name_ok) {
            zp_diag_error(d, &key->pos, kpath,
                          "invalid ulimit name '%s' (lowercase letters only, e.g. 'nofile')",
                          key->str);
            rc = ZP_E_INPUT;
        } else if (v->kind == ZP_NODE_MAP) {
            if (apply_fields(v, lim_fields, "ulimit", kpath, ctx, d)) {
                rc = ZP_E_INPUT;
            } else {
                struct zp_node *soft = zp_node_get(v, "soft");
                struct zp_node *hard = zp_node_get(v, "hard");
                if (!soft || !hard) {
                    zp_diag_error(d, &v->pos, kpath, "both 'soft' and 'hard' are required");
                    rc = ZP_E_INPUT;
                } else if (soft_above_hard(soft, hard)) {
                    zp_diag_error(d, &soft->pos, kpath,
                                  "soft limit %s is greater than hard limit %s", soft->str,
                                  hard->str);
                    rc = ZP_E_INPUT;
                }
            }
        } else if (compose__to_int(v, -1, INT64_MAX, kpath, d)) {
            rc = ZP_E_INPUT;
        }
        free(kpath);
    }
    return rc;
}

/* One "host=ip" entry; brackets around an IPv6 address are dropped. */
static int push_host(struct zp_node *out, const char *host, size_t hlen, const char *ip,
                     const struct zp_node *at, const char *path, struct zp_diags *d)
{
    size_t ilen = strlen(ip);
    if (ilen >= 2 && ip[0] == '[' && ip[ilen - 1] == ']') {
        ip++;
        ilen -= 2;
    }
    if (hlen == 0 || ilen == 0) {
        zp_diag_error(d, &at->pos, path, "invalid extra host '%s' (use 'HOST=IP')",
                      at->kind == ZP_NODE_SCALAR ? at->str : "");
        return ZP_E_INPUT;
    }
    char *s = zp_asprintf("%.*s=%.*s", (int)hlen, host, (int)ilen, ip);
    zp_node_push(out, zp_node_new_str(s, &at->pos));
    free(s);
    return 0;
}

/* extra_hosts: a list of "host=ip" / "host:ip", or a map host -> ip or list of ips, into a
 * list of "host=ip". */
static int extra_hosts_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                          struct zp_diags *d)
{
    (void)ctx;
    struct zp_node *out = zp_node_new_seq(&n->pos);
    int rc = 0;
    if (n->kind == ZP_NODE_SEQ) {
        for (size_t i = 0; i < n->n; i++) {
            struct zp_node *item = n->items[i];
            char *ipath = zp_path_index(path, i);
            if (compose__to_str(item, false, ipath, d)) {
                rc = ZP_E_INPUT;
            } else {
                const char *sep = strchr(item->str, '=');
                if (!sep)
                    sep = strchr(item->str, ':');
                if (!sep) {
                    zp_diag_error(d, &item->pos, ipath, "invalid extra host '%s' (use 'HOST=IP')",
                                  item->str);
                    rc = ZP_E_INPUT;
                } else if (push_host(out, item->str, (size_t)(sep - item->str), sep + 1, item,
                                     ipath, d)) {
                    rc = ZP_E_INPUT;
                }
            }
            free(ipath);
        }
    } else if (n->kind == ZP_NODE_MAP) {
        for (size_t i = 0; i < n->n; i++) {
            const char *host = n->pairs[i].key->str;
            struct zp_node *v = n->pairs[i].value;
            char *kpath = zp_path_key(path, host);
            if (v->kind == ZP_NODE_SEQ) {
                if (compose__to_str_list(v, false, kpath, d))
                    rc = ZP_E_INPUT;
                else
                    for (size_t k = 0; k < v->n; k++)
                        if (push_host(out, host, strlen(host), v->items[k]->str, v->items[k], kpath,
                                      d))
                            rc = ZP_E_INPUT;
            } else if (compose__to_str(v, false, kpath, d) ||
                       push_host(out, host, strlen(host), v->str, v, kpath, d)) {
                rc = ZP_E_INPUT;
            }
            free(kpath);
        }
    } else {
        zp_diag_error(d, &n->pos, path, "must be a list of 'HOST=IP' or a mapping, not %s",
                      zp_node_type_name(n));
        rc = ZP_E_INPUT;
    }
    if (rc)
        zp_node_free(out);
    else
        replace_keep_flags(n, out);
    return rc;
}

/* ---- build ---- */

/* A build context that is not a local path: a URL (git, https, docker-image://...) or a
 * git SSH address. */
static bool is_remote_context(const char *s)
{
    return strstr(s, "://") != NULL || zp_str_has_prefix(s, "git@") ||
           zp_str_has_prefix(s, "github.com/");
}

/* A local path made absolute (unless the model keeps relative paths), cleaned. */
static char *local_path(const struct compose_ctx *ctx, const char *s)
{
    char *p = compose__abs_path(ctx, *s ? s : ".");
    if (p[0] != '/')
        return p;
    char *c = zp_path_clean(p);
    free(p);
    return c;
}

static char *resolve_context(const struct compose_ctx *ctx, const char *s)
{
    if (is_remote_context(s))
        return zp_strdup(s);
    return local_path(ctx, s);
}

static int context_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                      struct zp_diags *d)
{
    if (compose__to_str(n, false, path, d))
        return ZP_E_INPUT;
    char *p = resolve_context(ctx, n->str);
    zp_node_set_scalar(n, ZP_STR, p);
    free(p);
    return 0;
}

/* additional_contexts: map or "NAME=VALUE" list; local paths become absolute, URLs and
 * typed references (service:NAME, docker-image://...) are kept. */
static int additional_contexts_fn(struct zp_node *n, const char *path,
                                  const struct compose_ctx *ctx, struct zp_diags *d)
{
    if (compose__to_str_map(n, '=', false, path, d))
        return ZP_E_INPUT;
    for (size_t i = 0; i < n->n; i++) {
        struct zp_node *v = n->pairs[i].value;
        if (*v->str == '\0') {
            char *kpath = zp_path_key(path, n->pairs[i].key->str);
            zp_diag_error(d, &v->pos, kpath, "must not be empty");
            free(kpath);
            return ZP_E_INPUT;
        }
        if (zp_str_has_prefix(v->str, "service:") || is_remote_context(v->str))
            continue;
        char *p = local_path(ctx, v->str);
        zp_node_set_scalar(v, ZP_STR, p);
        free(p);
    }
    return 0;
}

/* ssh: a list of "ID" / "ID=PATH" or a map ID -> PATH, into a list of strings. */
static int ssh_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                  struct zp_diags *d)
{
    (void)ctx;
    if (n->kind == ZP_NODE_SEQ)
        return compose__to_str_list(n, false, path, d);
    if (compose__to_str_map(n, '=', true, path, d))
        return ZP_E_INPUT;
    struct zp_node *out = zp_node_new_seq(&n->pos);
    for (size_t i = 0; i < n->n; i++) {
        const struct zp_node *key = n->pairs[i].key;
        const struct zp_node *v = n->pairs[i].value;
        char *s = zp_node_is_null(v) || *v->str == '\0' ? zp_strdup(key->str)
                                                        : zp_asprintf("%s=%s", key->str, v->str);
        zp_node_push(out, zp_node_new_str(s, &key->pos));
        free(s);
    }
    replace_keep_flags(n, out);
    return 0;
}

static int str_or_list_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                          struct zp_diags *d)
{
    (void)ctx;
    return compose__to_str_list(n, true, path, d);
}

/* provenance, sbom: a boolean or a string of attestation options, kept as written */
static int str_or_bool_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                          struct zp_diags *d)
{
    (void)ctx;
    if (n->kind == ZP_NODE_SCALAR && n->type == ZP_BOOL)
        return 0;
    return compose__to_str(n, false, path, d);
}

static const struct field build_fields[] = {
    {.key = "context", .type = F_FN, .fn = context_fn},
    {.key = "dockerfile", .type = F_STR},
    {.key = "dockerfile_inline", .type = F_STR},
    {.key = "args", .type = F_MAP_NULL},
    {.key = "ssh", .type = F_FN, .fn = ssh_fn},
    {.key = "labels", .type = F_MAP},
    {.key = "cache_from", .type = F_LIST},
    {.key = "cache_to", .type = F_LIST},
    {.key = "no_cache", .type = F_BOOL},
    {.key = "additional_contexts", .type = F_FN, .fn = additional_contexts_fn},
    {.key = "network", .type = F_STR},
    {.key = "pull", .type = F_BOOL},
    {.key = "target", .type = F_STR},
    {.key = "shm_size", .type = F_SIZE},
    {.key = "extra_hosts", .type = F_FN, .fn = extra_hosts_fn},
    {.key = "isolation", .type = F_STR},
    {.key = "privileged", .type = F_BOOL},
    {.key = "secrets", .type = F_FN, .fn = secret_refs_fn},
    {.key = "tags", .type = F_LIST},
    {.key = "ulimits", .type = F_FN, .fn = ulimits_fn},
    {.key = "platforms", .type = F_LIST},
    /* BuildKit features: read and printed; the builder decides what it can honour */
    {.key = "entitlements", .type = F_LIST},
    {.key = "no_cache_filter", .type = F_FN, .fn = str_or_list_fn},
    {.key = "provenance", .type = F_FN, .fn = str_or_bool_fn},
    {.key = "sbom", .type = F_FN, .fn = str_or_bool_fn},
    {.key = NULL},
};

/* n marked as a default the normaliser filled in (a base file's value wins over it). */
static struct zp_node *default_node(struct zp_node *n)
{
    n->flags |= ZP_NODE_DEFAULT;
    return n;
}

int compose__normalize_build(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                             struct zp_diags *d)
{
    if (n->flags & ZP_NODE_RESET)
        return 0;
    if (n->kind == ZP_NODE_SCALAR && n->type == ZP_STR) {
        struct zp_node *m = zp_node_new_map(&n->pos);
        char *c = resolve_context(ctx, n->str);
        zp_node_set(m, "context", zp_node_new_str(c, &n->pos));
        zp_node_set(m, "dockerfile", default_node(zp_node_new_str("Dockerfile", &n->pos)));
        free(c);
        replace_keep_flags(n, m);
        return 0;
    }
    if (n->kind != ZP_NODE_MAP) {
        zp_diag_error(d, &n->pos, path, "must be a context path or a mapping, not %s",
                      zp_node_type_name(n));
        return ZP_E_INPUT;
    }
    int rc = apply_fields(n, build_fields, "build", path, ctx, d);
    /* an argument without a value takes the environment's, and is dropped when the
     * environment has none (as Compose) */
    struct zp_node *args = zp_node_get(n, "args");
    if (args && zp_node_is_map(args) && !(args->flags & ZP_NODE_RESET)) {
        for (size_t i = 0; i < args->n;) {
            struct zp_node *v = args->pairs[i].value;
            if (!zp_node_is_null(v)) {
                i++;
                continue;
            }
            const char *e = ctx->env ? compose_env_get(ctx->env, args->pairs[i].key->str) : NULL;
            if (e) {
                zp_node_set_scalar(v, ZP_STR, e);
                v->flags |= ZP_NODE_NOINTERP;
                i++;
            } else {
                zp_node_del(args, args->pairs[i].key->str);
            }
        }
    }
    if (!zp_node_get(n, "context")) {
        char *c = resolve_context(ctx, ".");
        zp_node_set(n, "context", default_node(zp_node_new_str(c, &n->pos)));
        free(c);
    }
    struct zp_node *inline_key = zp_node_get_key(n, "dockerfile_inline");
    if (inline_key && zp_node_get(n, "dockerfile")) {
        char *kpath = zp_path_key(path, "dockerfile_inline");
        zp_diag_error(d, &inline_key->pos, kpath,
                      "'dockerfile' and 'dockerfile_inline' cannot both be set");
        free(kpath);
        rc = ZP_E_INPUT;
    } else if (!inline_key && !zp_node_get(n, "dockerfile")) {
        zp_node_set(n, "dockerfile", default_node(zp_node_new_str("Dockerfile", &n->pos)));
    }
    return rc;
}

/* ---- deploy ---- */

static const char *const deploy_modes[] = {"replicated", "global", "replicated-job", "global-job",
                                           NULL};
static const char *const endpoint_modes[] = {"vip", "dnsrr", NULL};
static const char *const restart_conditions[] = {"none", "on-failure", "any", NULL};
static const char *const update_failure_actions[] = {"continue", "rollback", "pause", NULL};
static const char *const rollback_failure_actions[] = {"continue", "pause", NULL};
static const char *const update_orders[] = {"start-first", "stop-first", NULL};

/* count: a non-negative integer or "all". */
static int device_count_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                           struct zp_diags *d)
{
    (void)ctx;
    if (n->kind == ZP_NODE_SCALAR && n->type == ZP_STR && strcmp(n->str, "all") == 0) {
        zp_node_set_scalar(n, ZP_INT, "-1"); /* every device, printed -1 as Compose does */
        return 0;
    }
    if (n->kind == ZP_NODE_SCALAR && n->type == ZP_STR) {
        int64_t v;
        if (zp_parse_int64(n->str, 0, INT64_MAX, &v)) {
            zp_diag_error(d, &n->pos, path, "must be a number of devices or 'all', not '%s'",
                          n->str);
            return ZP_E_INPUT;
        }
    }
    return compose__to_int(n, -1, INT64_MAX, path, d);
}

static int devices_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                      struct zp_diags *d)
{
    static const struct field fields[] = {
        {.key = "capabilities", .type = F_LIST},
        {.key = "count", .type = F_FN, .fn = device_count_fn},
        {.key = "device_ids", .type = F_LIST},
        {.key = "driver", .type = F_STR},
        {.key = "options", .type = F_MAP},
        {.key = NULL},
    };
    if (compose__expect_kind(n, ZP_NODE_SEQ, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < n->n; i++) {
        struct zp_node *item = n->items[i];
        char *ipath = zp_path_index(path, i);
        if (apply_fields(item, fields, "device reservation", ipath, ctx, d)) {
            rc = ZP_E_INPUT;
        } else if (!zp_node_get(item, "capabilities")) {
            zp_diag_error(d, &item->pos, ipath, "'capabilities' is required");
            rc = ZP_E_INPUT;
        } else if (zp_node_get(item, "count") && zp_node_get(item, "device_ids")) {
            char *kpath = zp_path_key(ipath, "device_ids");
            zp_diag_error(d, &zp_node_get_key(item, "device_ids")->pos, kpath,
                          "'count' and 'device_ids' cannot both be set");
            free(kpath);
            rc = ZP_E_INPUT;
        }
        free(ipath);
    }
    return rc;
}

static int discrete_spec_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                            struct zp_diags *d)
{
    static const struct field fields[] = {
        {.key = "kind", .type = F_STR},
        {.key = "value", .type = F_INT},
        {.key = NULL},
    };
    return apply_fields(n, fields, "discrete_resource_spec", path, ctx, d);
}

static int generic_resources_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                                struct zp_diags *d)
{
    static const struct field fields[] = {
        {.key = "discrete_resource_spec", .type = F_FN, .fn = discrete_spec_fn},
        {.key = NULL},
    };
    if (compose__expect_kind(n, ZP_NODE_SEQ, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < n->n; i++) {
        char *ipath = zp_path_index(path, i);
        if (apply_fields(n->items[i], fields, "generic resource", ipath, ctx, d))
            rc = ZP_E_INPUT;
        free(ipath);
    }
    return rc;
}

static int limits_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                     struct zp_diags *d)
{
    static const struct field fields[] = {
        {.key = "cpus", .type = F_NUMBER},
        {.key = "memory", .type = F_SIZE},
        {.key = "pids", .type = F_INT, .min = -1},
        {.key = NULL},
    };
    return apply_fields(n, fields, "limits", path, ctx, d);
}

static int reservations_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                           struct zp_diags *d)
{
    static const struct field fields[] = {
        {.key = "cpus", .type = F_NUMBER},
        {.key = "memory", .type = F_SIZE},
        {.key = "devices", .type = F_FN, .fn = devices_fn},
        {.key = "generic_resources", .type = F_FN, .fn = generic_resources_fn},
        {.key = NULL},
    };
    return apply_fields(n, fields, "reservations", path, ctx, d);
}

static int resources_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                        struct zp_diags *d)
{
    static const struct field fields[] = {
        {.key = "limits", .type = F_FN, .fn = limits_fn},
        {.key = "reservations", .type = F_FN, .fn = reservations_fn},
        {.key = NULL},
    };
    return apply_fields(n, fields, "resources", path, ctx, d);
}

/* condition: none, on-failure or any; `always` (a restart policy's word, common in real
 * files) is accepted with a warning and kept, as Compose does, meaning `any`. */
static int condition_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                        struct zp_diags *d)
{
    (void)ctx;
    if (compose__to_str(n, false, path, d))
        return ZP_E_INPUT;
    if (strcmp(n->str, "always") == 0) {
        zp_diag_warn(d, &n->pos, path,
                     "restart_policy condition 'always' is not in the specification: read as "
                     "'any' (restart whatever the exit status); write 'any'");
        return 0;
    }
    return check_choice(n, restart_conditions, path, d);
}

static int restart_policy_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                             struct zp_diags *d)
{
    static const struct field fields[] = {
        {.key = "condition", .type = F_FN, .fn = condition_fn},
        {.key = "delay", .type = F_DURATION},
        {.key = "max_attempts", .type = F_INT},
        {.key = "window", .type = F_DURATION},
        {.key = NULL},
    };
    return apply_fields(n, fields, "restart_policy", path, ctx, d);
}

static int update_config_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                            struct zp_diags *d)
{
    static const struct field fields[] = {
        {.key = "parallelism", .type = F_INT},
        {.key = "delay", .type = F_DURATION},
        {.key = "failure_action", .type = F_ENUM, .choices = update_failure_actions},
        {.key = "monitor", .type = F_DURATION},
        {.key = "max_failure_ratio", .type = F_NUMBER}, /* Compose takes any ratio */
        {.key = "order", .type = F_ENUM, .choices = update_orders},
        {.key = NULL},
    };
    return apply_fields(n, fields, "update_config", path, ctx, d);
}

static int rollback_config_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                              struct zp_diags *d)
{
    static const struct field fields[] = {
        {.key = "parallelism", .type = F_INT},
        {.key = "delay", .type = F_DURATION},
        {.key = "failure_action", .type = F_ENUM, .choices = rollback_failure_actions},
        {.key = "monitor", .type = F_DURATION},
        {.key = "max_failure_ratio", .type = F_NUMBER}, /* Compose takes any ratio */
        {.key = "order", .type = F_ENUM, .choices = update_orders},
        {.key = NULL},
    };
    return apply_fields(n, fields, "rollback_config", path, ctx, d);
}

static int preferences_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                          struct zp_diags *d)
{
    static const struct field fields[] = {
        {.key = "spread", .type = F_STR},
        {.key = NULL},
    };
    if (compose__expect_kind(n, ZP_NODE_SEQ, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < n->n; i++) {
        char *ipath = zp_path_index(path, i);
        if (apply_fields(n->items[i], fields, "placement preference", ipath, ctx, d))
            rc = ZP_E_INPUT;
        free(ipath);
    }
    return rc;
}

static int placement_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                        struct zp_diags *d)
{
    static const struct field fields[] = {
        {.key = "constraints", .type = F_LIST},
        {.key = "preferences", .type = F_FN, .fn = preferences_fn},
        {.key = "max_replicas_per_node", .type = F_INT},
        {.key = NULL},
    };
    return apply_fields(n, fields, "placement", path, ctx, d);
}

static const struct field deploy_fields[] = {
    {.key = "mode", .type = F_ENUM, .choices = deploy_modes},
    {.key = "replicas", .type = F_INT},
    {.key = "endpoint_mode", .type = F_ENUM, .choices = endpoint_modes},
    {.key = "labels", .type = F_MAP},
    {.key = "resources", .type = F_FN, .fn = resources_fn},
    {.key = "restart_policy", .type = F_FN, .fn = restart_policy_fn},
    {.key = "update_config", .type = F_FN, .fn = update_config_fn},
    {.key = "rollback_config", .type = F_FN, .fn = rollback_config_fn},
    {.key = "placement", .type = F_FN, .fn = placement_fn},
    {.key = NULL},
};

int compose__normalize_deploy(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                              struct zp_diags *d)
{
    if (n->flags & ZP_NODE_RESET)
        return 0;
    if (zp_node_is_null(n)) {
        /* `deploy:` with nothing under it means the defaults */
        replace_keep_flags(n, zp_node_new_map(&n->pos));
        return 0;
    }
    return apply_fields(n, deploy_fields, "deploy", path, ctx, d);
}

/* ---- healthcheck ---- */

static int health_test_fn(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                          struct zp_diags *d)
{
    (void)ctx;
    if (n->kind == ZP_NODE_SCALAR && n->type == ZP_STR) {
        struct zp_node *seq = zp_node_new_seq(&n->pos);
        zp_node_push(seq, zp_node_new_str("CMD-SHELL", &n->pos));
        zp_node_push(seq, zp_node_new_str(n->str, &n->pos));
        replace_keep_flags(n, seq);
        return 0;
    }
    if (n->kind != ZP_NODE_SEQ) {
        zp_diag_error(d, &n->pos, path, "must be a string or a list of strings, not %s",
                      zp_node_type_name(n));
        return ZP_E_INPUT;
    }
    if (compose__to_str_list(n, false, path, d))
        return ZP_E_INPUT;
    if (n->n == 0) {
        zp_diag_error(d, &n->pos, path,
                      "must not be empty: start it with 'NONE', 'CMD' or 'CMD-SHELL'");
        return ZP_E_INPUT;
    }
    const char *first = n->items[0]->str;
    if (strcmp(first, "NONE") != 0 && strcmp(first, "CMD") != 0 &&
        strcmp(first, "CMD-SHELL") != 0) {
        char *ipath = zp_path_index(path, 0);
        zp_diag_error(d, &n->items[0]->pos, ipath, "must be 'NONE', 'CMD' or 'CMD-SHELL', not '%s'",
                      first);
        free(ipath);
        return ZP_E_INPUT;
    }
    return 0;
}

static const struct field healthcheck_fields[] = {
    {.key = "test", .type = F_FN, .fn = health_test_fn},
    {.key = "interval", .type = F_DURATION},
    {.key = "timeout", .type = F_DURATION},
    {.key = "start_period", .type = F_DURATION},
    {.key = "start_interval", .type = F_DURATION},
    {.key = "retries", .type = F_INT},
    {.key = "disable", .type = F_BOOL},
    {.key = NULL},
};

int compose__normalize_healthcheck(struct zp_node *n, const char *path,
                                   const struct compose_ctx *ctx, struct zp_diags *d)
{
    if (n->flags & ZP_NODE_RESET)
        return 0;
    int rc = apply_fields(n, healthcheck_fields, "healthcheck", path, ctx, d);
    if (rc)
        return rc;
    struct zp_node *disable = zp_node_get(n, "disable");
    if (disable && disable->kind == ZP_NODE_SCALAR && disable->type == ZP_BOOL &&
        strcmp(disable->str, "true") == 0) {
        /* a disabled check ignores every other field, as compose does */
        struct zp_node *m = zp_node_new_map(&n->pos);
        struct zp_node *test = zp_node_new_seq(&disable->pos);
        zp_node_push(test, zp_node_new_str("NONE", &disable->pos));
        zp_node_set(m, "test", test);
        replace_keep_flags(n, m);
    } else if (disable && !(disable->flags & ZP_NODE_RESET)) {
        zp_node_del(n, "disable");
    }
    return 0;
}

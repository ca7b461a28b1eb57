/* compose/normalize: a whole compose file's document: top-level keys, include, and the
 * top-level networks, volumes, secrets and configs; services go to normalize-service.c. */
#include "compose-int.h"

#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

/* Replace n by repl, keeping n's !reset / !override flags. */
static void replace_keep_flags(struct zp_node *n, struct zp_node *repl)
{
    unsigned flags = n->flags;
    zp_node_replace(n, repl);
    n->flags = flags;
}

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* Names of services, networks, volumes, secrets and configs: ^[a-zA-Z0-9._-]+$. */
static bool valid_object_name(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* ---- fields of top-level objects ---- */

enum ftype { F_STR, F_BOOL, F_MAP, F_PATH, F_IPAM, F_EXTERNAL };

struct field {
    const char *key;
    enum ftype type;
};

static int ipam_config_item(struct zp_node *n, const char *path, struct zp_diags *d)
{
    static const char *const known[] = {"subnet", "ip_range", "gateway", "aux_addresses", NULL};
    if (compose__expect_kind(n, ZP_NODE_MAP, path, d))
        return ZP_E_INPUT;
    int rc = compose__check_keys(n, known, "ipam config", path, d);
    for (size_t i = 0; i < n->n; i++) {
        const char *key = n->pairs[i].key->str;
        struct zp_node *v = n->pairs[i].value;
        if (!in_list(key, known))
            continue;
        char *kpath = zp_path_key(path, key);
        if (strcmp(key, "aux_addresses") == 0) {
            if (compose__expect_kind(v, ZP_NODE_MAP, kpath, d) ||
                compose__to_str_map(v, '=', false, kpath, d))
                rc = ZP_E_INPUT;
        } else if (compose__to_str(v, false, kpath, d)) {
            rc = ZP_E_INPUT;
        }
        free(kpath);
    }
    return rc;
}

static int normalize_ipam(struct zp_node *n, const char *path, struct zp_diags *d)
{
    static const char *const known[] = {"driver", "config", "options", NULL};
    if (compose__expect_kind(n, ZP_NODE_MAP, path, d))
        return ZP_E_INPUT;
    int rc = compose__check_keys(n, known, "ipam", path, d);
    for (size_t i = 0; i < n->n; i++) {
        const char *key = n->pairs[i].key->str;
        struct zp_node *v = n->pairs[i].value;
        if (!in_list(key, known) || (v->flags & ZP_NODE_RESET))
            continue;
        char *kpath = zp_path_key(path, key);
        if (strcmp(key, "driver") == 0) {
            if (compose__to_str(v, false, kpath, d))
                rc = ZP_E_INPUT;
        } else if (strcmp(key, "options") == 0) {
            if (compose__expect_kind(v, ZP_NODE_MAP, kpath, d) ||
                compose__to_str_map(v, '=', false, kpath, d))
                rc = ZP_E_INPUT;
        } else if (compose__expect_kind(v, ZP_NODE_SEQ, kpath, d)) {
            rc = ZP_E_INPUT;
        } else {
            for (size_t k = 0; k < v->n; k++) {
                char *ipath = zp_path_index(kpath, k);
                if (ipam_config_item(v->items[k], ipath, d))
                    rc = ZP_E_INPUT;
                free(ipath);
            }
        }
        free(kpath);
    }
    return rc;
}

/* external: a boolean, or the deprecated {name: x} which becomes external: true beside
 * name: x. */
static int normalize_external(struct zp_node *obj, struct zp_node *ext, const char *path,
                              struct zp_diags *d)
{
    if (ext->kind != ZP_NODE_MAP)
        return compose__to_bool(ext, path, d);
    static const char *const known[] = {"name", NULL};
    if (compose__check_keys(ext, known, "external", path, d))
        return ZP_E_INPUT;
    struct zp_node *ename = zp_node_get(ext, "name");
    char *npath = zp_path_key(path, "name");
    int rc = 0;
    if (ename && compose__to_str(ename, false, npath, d)) {
        rc = ZP_E_INPUT;
        goto out;
    }
    if (ename) {
        zp_diag_warn(d, &ename->pos, npath,
                     "'external.name' is deprecated, set 'name' beside 'external: true' instead");
        const struct zp_node *name = zp_node_get(obj, "name");
        if (name && name->kind == ZP_NODE_SCALAR && strcmp(name->str, ename->str) != 0) {
            zp_diag_error(d, &ename->pos, npath, "'external.name' '%s' conflicts with name '%s'",
                          ename->str, name->str);
            rc = ZP_E_INPUT;
            goto out;
        }
        if (!name)
            zp_node_set(obj, "name", zp_node_copy(ename));
    }
    replace_keep_flags(ext, zp_node_new_bool(true, &ext->pos));
out:
    free(npath);
    return rc;
}

/* Check the fields of one network, volume, secret or config (what: "network", ...). */
static int apply_fields(struct zp_node *obj, const struct field *fields, const char *what,
                        const char *path, const struct compose_ctx *ctx, struct zp_diags *d)
{
    const char *known[16];
    size_t nf = 0;
    for (; fields[nf].key; nf++)
        known[nf] = fields[nf].key;
    known[nf] = NULL;
    int rc = compose__check_keys(obj, known, what, path, d);
    for (size_t i = 0; i < obj->n; i++) {
        const char *key = obj->pairs[i].key->str;
        struct zp_node *v = obj->pairs[i].value;
        const struct field *f = NULL;
        for (size_t k = 0; k < nf && !f; k++)
            if (strcmp(fields[k].key, key) == 0)
                f = &fields[k];
        if (!f || (v->flags & ZP_NODE_RESET))
            continue;
        char *kpath = zp_path_key(path, key);
        int frc = 0;
        switch (f->type) {
        case F_STR:
            frc = compose__to_str(v, false, kpath, d);
            break;
        case F_BOOL:
            frc = compose__to_bool(v, kpath, d);
            break;
        case F_MAP:
            frc = compose__to_str_map(v, '=', false, kpath, d);
            break;
        case F_PATH:
            frc = compose__to_str(v, false, kpath, d);
            if (!frc) {
                char *p = compose__abs_path(ctx, v->str);
                zp_node_set_scalar(v, ZP_STR, p);
                free(p);
            }
            break;
        case F_IPAM:
            frc = normalize_ipam(v, kpath, d);
            break;
        case F_EXTERNAL:
            frc = normalize_external(obj, v, kpath, d);
            break;
        }
        if (frc)
            rc = ZP_E_INPUT;
        free(kpath);
    }
    return rc;
}

static bool is_external(const struct zp_node *obj)
{
    const struct zp_node *ext = zp_node_get(obj, "external");
    return ext && ext->kind == ZP_NODE_SCALAR && ext->type == ZP_BOOL &&
           strcmp(ext->str, "true") == 0;
}

/* What an external object may carry besides its name, as Compose: a volume nothing else
 * (Compose refuses labels, driver, driver_opts); a network anything, ignored with a
 * warning (Compose ignores it silently); a secret or config its labels. */
static int check_external_keys(const struct zp_node *obj, bool is_volume, bool is_network,
                               const char *what, const char *name, const char *path,
                               struct zp_diags *d)
{
    static const char *const allowed[] = {"name", "external", "labels", NULL};
    int rc = 0;
    for (size_t i = 0; i < obj->n; i++) {
        const struct zp_node *key = obj->pairs[i].key;
        if (zp_str_has_prefix(key->str, "x-") || strcmp(key->str, "name") == 0 ||
            strcmp(key->str, "external") == 0)
            continue;
        if (!is_volume && !is_network && in_list(key->str, allowed))
            continue;
        char *kpath = zp_path_key(path, key->str);
        if (is_network) {
            zp_diag_warn(d, &key->pos, kpath, "network '%s' is external: '%s' has no effect, ignoring",
                         name, key->str);
        } else {
            zp_diag_error(d, &key->pos, kpath,
                          "%s '%s' is external: conflicting parameters 'external' and '%s'", what,
                          name, key->str);
            rc = ZP_E_INPUT;
        }
        free(kpath);
    }
    return rc;
}

static const struct field network_fields[] = {
    {"name", F_STR},
    {"driver", F_STR},
    {"driver_opts", F_MAP},
    {"ipam", F_IPAM},
    {"external", F_EXTERNAL},
    {"internal", F_BOOL},
    {"enable_ipv4", F_BOOL},
    {"enable_ipv6", F_BOOL},
    {"attachable", F_BOOL},
    {"labels", F_MAP},
    {NULL, F_STR},
};

static const struct field volume_fields[] = {
    {"name", F_STR},          {"driver", F_STR}, {"driver_opts", F_MAP},
    {"external", F_EXTERNAL}, {"labels", F_MAP}, {NULL, F_STR},
};

static const struct field secret_fields[] = {
    {"name", F_STR},          {"environment", F_STR},     {"file", F_PATH},
    {"external", F_EXTERNAL}, {"labels", F_MAP},          {"driver", F_STR},
    {"driver_opts", F_MAP},   {"template_driver", F_STR}, {NULL, F_STR},
};

static const struct field config_fields[] = {
    {"name", F_STR},          {"content", F_STR}, {"environment", F_STR},     {"file", F_PATH},
    {"external", F_EXTERNAL}, {"labels", F_MAP},  {"template_driver", F_STR}, {NULL, F_STR},
};

enum object_kind { OBJ_NETWORK, OBJ_VOLUME, OBJ_SECRET, OBJ_CONFIG };

static const char *const object_what[] = {"network", "volume", "secret", "config"};

/* A secret or config needs exactly one source unless it is external. */
static int check_source(const struct zp_node *obj, enum object_kind kind, const char *name,
                        const char *path, struct zp_diags *d)
{
    static const char *const secret_sources[] = {"file", "environment", NULL};
    static const char *const config_sources[] = {"file", "environment", "content", NULL};
    const char *const *sources = kind == OBJ_SECRET ? secret_sources : config_sources;
    const char *what = object_what[kind];
    const char *first = NULL;
    for (size_t i = 0; i < obj->n; i++) {
        const struct zp_node *key = obj->pairs[i].key;
        if (!in_list(key->str, sources))
            continue;
        if (first) {
            char *kpath = zp_path_key(path, key->str);
            zp_diag_error(d, &key->pos, kpath, "%s '%s' sets both '%s' and '%s': use only one",
                          what, name, first, key->str);
            free(kpath);
            return ZP_E_INPUT;
        }
        first = key->str;
    }
    if (first)
        return 0;
    zp_diag_error(
        d, &obj->pos, path, "%s '%s' has no source: set %s, or 'external: true'", what, name,
        kind == OBJ_SECRET ? "'file' or 'environment'" : "'file', 'environment' or 'content'");
    return ZP_E_INPUT;
}

static int normalize_object(struct zp_node *obj, enum object_kind kind, const char *name,
                            const char *path, const struct compose_ctx *ctx, struct zp_diags *d)
{
    static const struct field *const tables[] = {network_fields, volume_fields, secret_fields,
                                                 config_fields};
    const char *what = object_what[kind];
    if (obj->flags & ZP_NODE_RESET)
        return 0;
    if (zp_node_is_null(obj))
        replace_keep_flags(obj, zp_node_new_map(&obj->pos));
    if (obj->kind != ZP_NODE_MAP) {
        zp_diag_error(d, &obj->pos, path, "%s '%s' must be a mapping, not %s", what, name,
                      zp_node_type_name(obj));
        return ZP_E_INPUT;
    }
    if (apply_fields(obj, tables[kind], what, path, ctx, d))
        return ZP_E_INPUT;
    if (is_external(obj))
        return check_external_keys(obj, kind == OBJ_VOLUME, kind == OBJ_NETWORK, what, name, path,
                                   d);
    if (kind == OBJ_SECRET || kind == OBJ_CONFIG)
        return check_source(obj, kind, name, path, d);
    return 0;
}

/* ---- sections ---- */

/* services, networks, volumes, secrets, configs: a mapping of valid names. */
static int normalize_section(struct zp_node *sec, const char *section, const char *what,
                             const struct compose_ctx *ctx, struct zp_diags *d)
{
    if (sec->flags & ZP_NODE_RESET)
        return 0;
    if (zp_node_is_null(sec))
        replace_keep_flags(sec, zp_node_new_map(&sec->pos));
    if (compose__expect_kind(sec, ZP_NODE_MAP, section, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < sec->n; i++) {
        const struct zp_node *key = sec->pairs[i].key;
        struct zp_node *v = sec->pairs[i].value;
        char *kpath = zp_path_key(section, key->str);
        if (!valid_object_name(key->str)) {
            zp_diag_error(d, &key->pos, kpath,
                          "invalid %s name '%s': use only letters, digits, '.', '_' and '-'", what,
                          key->str);
            rc = ZP_E_INPUT;
        } else if (strcmp(section, "services") == 0) {
            if (v->flags & ZP_NODE_RESET) {
                /* removed by the merge */
            } else if (v->kind != ZP_NODE_MAP) {
                zp_diag_error(d, &v->pos, kpath, "service '%s' must be a mapping, not %s", key->str,
                              zp_node_type_name(v));
                rc = ZP_E_INPUT;
            } else if (compose__normalize_service(v, kpath, ctx, d)) {
                rc = ZP_E_INPUT;
            }
        } else {
            enum object_kind kind = strcmp(section, "networks") == 0  ? OBJ_NETWORK
                                    : strcmp(section, "volumes") == 0 ? OBJ_VOLUME
                                    : strcmp(section, "secrets") == 0 ? OBJ_SECRET
                                                                      : OBJ_CONFIG;
            if (normalize_object(v, kind, key->str, kpath, ctx, d))
                rc = ZP_E_INPUT;
        }
        free(kpath);
    }
    return rc;
}

/* A string or list of strings into a list of absolute paths. */
static int to_abs_list(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                       struct zp_diags *d)
{
    if (compose__to_str_list(n, true, path, d))
        return ZP_E_INPUT;
    for (size_t i = 0; i < n->n; i++) {
        if (*n->items[i]->str == '\0') {
            char *ipath = zp_path_index(path, i);
            zp_diag_error(d, &n->items[i]->pos, ipath, "must not be empty");
            free(ipath);
            return ZP_E_INPUT;
        }
        char *p = compose__abs_path(ctx, n->items[i]->str);
        zp_node_set_scalar(n->items[i], ZP_STR, p);
        free(p);
    }
    return 0;
}

static int include_item(struct zp_node *item, const char *path, const struct compose_ctx *ctx,
                        struct zp_diags *d)
{
    static const char *const known[] = {"path", "project_directory", "env_file", NULL};
    if (item->kind == ZP_NODE_SCALAR && item->type == ZP_STR) {
        struct zp_node *m = zp_node_new_map(&item->pos);
        zp_node_set(m, "path", zp_node_copy(item));
        replace_keep_flags(item, m);
        zp_node_get(item, "path")->flags = 0;
    } else if (item->kind != ZP_NODE_MAP) {
        zp_diag_error(d, &item->pos, path, "must be a path or a mapping, not %s",
                      zp_node_type_name(item));
        return ZP_E_INPUT;
    }
    int rc = compose__check_keys(item, known, "include", path, d);
    for (size_t i = 0; i < item->n; i++) {
        const char *key = item->pairs[i].key->str;
        struct zp_node *v = item->pairs[i].value;
        if (!in_list(key, known))
            continue;
        char *kpath = zp_path_key(path, key);
        if (strcmp(key, "project_directory") == 0) {
            if (compose__to_str(v, false, kpath, d)) {
                rc = ZP_E_INPUT;
            } else {
                char *p = compose__abs_path(ctx, v->str);
                zp_node_set_scalar(v, ZP_STR, p);
                free(p);
            }
        } else if (to_abs_list(v, kpath, ctx, d)) {
            rc = ZP_E_INPUT;
        }
        free(kpath);
    }
    if (!rc && !zp_node_get(item, "path")) {
        zp_diag_error(d, &item->pos, path, "'path' is required");
        rc = ZP_E_INPUT;
    }
    return rc;
}

/* include: a list of paths or {path, project_directory, env_file}, into a list of
 * {path: [abs...], project_directory?: abs, env_file?: [abs...]}. The loader needs real
 * files, so paths are made absolute even when the model keeps relative paths. */
static int normalize_include(struct zp_node *n, const struct compose_ctx *ctx, struct zp_diags *d)
{
    struct compose_ctx abs_ctx = *ctx;
    abs_ctx.keep_relative_paths = false;
    if (n->kind == ZP_NODE_SCALAR && n->type == ZP_STR) {
        struct zp_node *seq = zp_node_new_seq(&n->pos);
        zp_node_push(seq, zp_node_copy(n));
        replace_keep_flags(n, seq);
        n->items[0]->flags = 0;
    }
    if (compose__expect_kind(n, ZP_NODE_SEQ, "include", d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < n->n; i++) {
        char *ipath = zp_path_index("include", i);
        if (include_item(n->items[i], ipath, &abs_ctx, d))
            rc = ZP_E_INPUT;
        free(ipath);
    }
    return rc;
}

int compose__normalize_file(struct zp_node *doc, const struct compose_ctx *ctx, struct zp_diags *d)
{
    static const char *const known[] = {"version", "name",    "include", "services", "networks",
                                        "volumes", "secrets", "configs", "models",   NULL};
    static const struct {
        const char *key;
        const char *what;
    } sections[] = {{"services", "service"},
                    {"networks", "network"},
                    {"volumes", "volume"},
                    {"secrets", "secret"},
                    {"configs", "config"}};
    if (doc->kind != ZP_NODE_MAP) {
        zp_diag_error(d, &doc->pos, NULL, "a compose file must be a mapping, not %s",
                      zp_node_type_name(doc));
        return ZP_E_INPUT;
    }
    int rc = compose__check_keys(doc, known, "the compose file", "", d);
    for (size_t i = 0; i < doc->n; i++) {
        const struct zp_node *key = doc->pairs[i].key;
        struct zp_node *v = doc->pairs[i].value;
        if (strcmp(key->str, "version") == 0) {
            zp_diag_warn(d, &key->pos, "version",
                         "the attribute 'version' is obsolete, it will be ignored, please "
                         "remove it");
        } else if (strcmp(key->str, "name") == 0) {
            /* as Compose: a string (a number is refused, not converted) */
            if (v->kind != ZP_NODE_SCALAR || v->type != ZP_STR) {
                zp_diag_error(d, &v->pos, "name", "must be a string, not %s", zp_node_type_name(v));
                rc = ZP_E_INPUT;
            }
        } else if (strcmp(key->str, "include") == 0) {
            if (normalize_include(v, ctx, d))
                rc = ZP_E_INPUT;
        } else if (strcmp(key->str, "models") == 0) {
            if (compose__normalize_models(v, ctx, d))
                rc = ZP_E_INPUT;
        } else {
            for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++)
                if (strcmp(key->str, sections[s].key) == 0 &&
                    normalize_section(v, sections[s].key, sections[s].what, ctx, d))
                    rc = ZP_E_INPUT;
        }
    }
    zp_node_del(doc, "version");
    return rc;
}

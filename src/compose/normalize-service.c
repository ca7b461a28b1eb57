/* compose/normalize-service: validation of one service definition and rewriting of its
 * short syntaxes into the canonical long ones of docs/model.md. */
#include "compose-int.h"
#include "normalize-zpanel.h"

#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

/* One key of an object: how its value is checked and normalised. A NULL fn marks a key of
 * the specification that zpanel rejects with "not supported yet". */
struct field;
typedef int (*field_fn)(struct zp_node *v, const struct field *f, const char *path,
                        const struct compose_ctx *ctx, struct zp_diags *d);

struct field {
    const char *key;
    field_fn fn;
    int64_t min, max;          /* f_int, f_number */
    const char *const *values; /* f_enum */
    const struct field *sub;   /* f_obj, f_obj_list */
    bool required;
};

/* clang-format off */
#define FLD(k, f) {.key = k, .fn = f}
#define FLD_REQ(k, f) {.key = k, .fn = f, .required = true}
#define FLD_INT(k, lo, hi) {.key = k, .fn = f_int, .min = lo, .max = hi}
#define FLD_INT_REQ(k, lo, hi) {.key = k, .fn = f_int, .min = lo, .max = hi, .required = true}
#define FLD_NUM(k, lo, hi) {.key = k, .fn = f_number, .min = lo, .max = hi}
#define FLD_ENUM(k, v) {.key = k, .fn = f_enum, .values = v}
#define FLD_ENUM_REQ(k, v) {.key = k, .fn = f_enum, .values = v, .required = true}
#define FLD_OBJ(k, s) {.key = k, .fn = f_obj, .sub = s}
#define FLD_OBJ_LIST(k, s) {.key = k, .fn = f_obj_list, .sub = s}
#define FLD_UNSUPPORTED(k) {.key = k, .fn = NULL}
#define FLD_END {.key = NULL}
/* clang-format on */

#define MAX_FIELDS 128
#define MAX_PORTS 65536
#define FLAGS_KEPT (ZP_NODE_RESET | ZP_NODE_OVERRIDE)

static int norm_object(struct zp_node *map, const struct field *fields, const char *what,
                       const char *path, const struct compose_ctx *ctx, struct zp_diags *d);

/* ---- small helpers ---- */

static void map_add(struct zp_node *map, const char *key, struct zp_node *val)
{
    zp_node_append_pair(map, zp_node_new_str(key, &val->pos), val);
}

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* "a, b or c" for messages. */
static char *join_values(const char *const *list)
{
    struct zp_buf b = ZP_BUF_INIT;
    size_t n = 0;
    while (list[n])
        n++;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            zp_buf_adds(&b, i + 1 == n ? " or " : ", ");
        zp_buf_adds(&b, list[i]);
    }
    return zp_buf_detach(&b, NULL);
}

static bool all_digits(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* [a-zA-Z0-9][a-zA-Z0-9_.-]{min_rest,} */
static bool valid_name(const char *s, size_t min_rest)
{
    const char *extra = "_.-";
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
          (s[0] >= '0' && s[0] <= '9')))
        return false;
    size_t n = 0;
    for (const char *p = s + 1; *p; p++, n++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || strchr(extra, *p);
        if (!ok)
            return false;
    }
    return n >= min_rest;
}

/* ^[a-zA-Z0-9._-]+$: names of services and networks used as keys */
static bool valid_ref_name(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

static bool is_string_like(const struct zp_node *n)
{
    return n->kind == ZP_NODE_SCALAR && (n->type == ZP_STR || n->type == ZP_INT);
}

/* ---- generic field normalisers ---- */

static int f_str(struct zp_node *v, const struct field *f, const char *path,
                 const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    return compose__to_str(v, false, path, d);
}

static int f_str_or_null(struct zp_node *v, const struct field *f, const char *path,
                         const struct compose_ctx *ctx, struct zp_diags *d)
{
    if (zp_node_is_null(v))
        return 0;
    return f_str(v, f, path, ctx, d);
}

static int f_bool(struct zp_node *v, const struct field *f, const char *path,
                  const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    return compose__to_bool(v, path, d);
}

static int f_int(struct zp_node *v, const struct field *f, const char *path,
                 const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)ctx;
    return compose__to_int(v, f->min, f->max, path, d);
}

static int f_number(struct zp_node *v, const struct field *f, const char *path,
                    const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)ctx;
    return compose__to_number(v, (double)f->min, (double)f->max, path, d);
}

static int f_size(struct zp_node *v, const struct field *f, const char *path,
                  const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    return compose__to_size(v, path, d);
}

static int f_duration(struct zp_node *v, const struct field *f, const char *path,
                      const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    return compose__to_duration(v, false, path, d);
}

static int f_str_list(struct zp_node *v, const struct field *f, const char *path,
                      const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    return compose__to_str_list(v, false, path, d);
}

static int f_str_or_list(struct zp_node *v, const struct field *f, const char *path,
                         const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    return compose__to_str_list(v, true, path, d);
}

static int f_command(struct zp_node *v, const struct field *f, const char *path,
                     const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    return compose__to_command(v, path, d);
}

/* labels, annotations, sysctls: a map or a list of KEY=VALUE */
static int f_label_map(struct zp_node *v, const struct field *f, const char *path,
                       const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    return compose__to_str_map(v, '=', false, path, d);
}

/* storage_opt, driver_opts: a mapping only, values strings or numbers */
static int f_map_str_map(struct zp_node *v, const struct field *f, const char *path,
                         const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    if (compose__expect_kind(v, ZP_NODE_MAP, path, d))
        return ZP_E_INPUT;
    return compose__to_str_map(v, '=', false, path, d);
}

static int f_enum(struct zp_node *v, const struct field *f, const char *path,
                  const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)ctx;
    if (compose__to_str(v, false, path, d))
        return ZP_E_INPUT;
    if (in_list(v->str, f->values))
        return 0;
    char *vals = join_values(f->values);
    const char *hint = compose__suggest(v->str, f->values);
    if (hint)
        zp_diag_error(d, &v->pos, path, "invalid %s '%s' (use %s), did you mean '%s'?", f->key,
                      v->str, vals, hint);
    else
        zp_diag_error(d, &v->pos, path, "invalid %s '%s' (use %s)", f->key, v->str, vals);
    free(vals);
    return ZP_E_INPUT;
}

static int f_obj(struct zp_node *v, const struct field *f, const char *path,
                 const struct compose_ctx *ctx, struct zp_diags *d)
{
    return norm_object(v, f->sub, f->key, path, ctx, d);
}

static int f_obj_list(struct zp_node *v, const struct field *f, const char *path,
                      const struct compose_ctx *ctx, struct zp_diags *d)
{
    if (compose__expect_kind(v, ZP_NODE_SEQ, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        char *ipath = zp_path_index(path, i);
        if (norm_object(v->items[i], f->sub, f->key, ipath, ctx, d))
            rc = ZP_E_INPUT;
        free(ipath);
    }
    return rc;
}

static int f_mode(struct zp_node *v, const struct field *f, const char *path,
                  const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    return compose__to_file_mode(v, path, d);
}

/* Validate the keys of map against fields (NULL-key terminated) and normalise each value in
 * place. A value flagged !reset is kept as written; !reset/!override flags stay on the
 * normalised value. Reports missing required keys. */
static int norm_object(struct zp_node *map, const struct field *fields, const char *what,
                       const char *path, const struct compose_ctx *ctx, struct zp_diags *d)
{
    if (compose__expect_kind(map, ZP_NODE_MAP, path, d))
        return ZP_E_INPUT;
    const char *names[MAX_FIELDS + 1];
    size_t nf = 0;
    for (; fields[nf].key; nf++) {
        if (nf >= MAX_FIELDS)
            ZP_BUG("too many fields in a normaliser table");
        names[nf] = fields[nf].key;
    }
    names[nf] = NULL;
    int rc = compose__check_keys(map, names, what, path, d);
    for (size_t i = 0; i < map->n; i++) {
        const struct zp_node *key = map->pairs[i].key;
        const struct field *f = NULL;
        for (size_t k = 0; k < nf && !f; k++)
            if (strcmp(fields[k].key, key->str) == 0)
                f = &fields[k];
        if (!f)
            continue;
        char *kpath = zp_path_key(path, key->str);
        struct zp_node *v = map->pairs[i].value;
        if (!f->fn) {
            zp_diag_error(d, &key->pos, kpath, "'%s' is not supported yet", key->str);
            rc = ZP_E_INPUT;
        } else if (!(v->flags & ZP_NODE_RESET)) {
            unsigned keep = v->flags & FLAGS_KEPT;
            if (f->fn(v, f, kpath, ctx, d))
                rc = ZP_E_INPUT;
            v->flags = (v->flags & ~(unsigned)FLAGS_KEPT) | keep;
        }
        free(kpath);
    }
    for (size_t k = 0; k < nf; k++) {
        if (fields[k].required && zp_node_index(map, fields[k].key) < 0) {
            zp_diag_error(d, &map->pos, path, "missing required key '%s' in %s", fields[k].key,
                          what);
            rc = ZP_E_INPUT;
        }
    }
    return rc;
}

/* ---- ports ---- */

static bool parse_port(const char *s, size_t len, int *ret)
{
    int64_t v = 0;
    if (!all_digits(s, len) || len > 5)
        return false;
    for (size_t i = 0; i < len; i++)
        v = v * 10 + (s[i] - '0');
    if (v < 1 || v > 65535)
        return false;
    *ret = (int)v;
    return true;
}

/* "N" or "N-M" with N <= M */
static bool parse_port_range(const char *s, int *lo, int *hi)
{
    const char *dash = strchr(s, '-');
    if (!dash) {
        if (!parse_port(s, strlen(s), lo))
            return false;
        *hi = *lo;
        return true;
    }
    return parse_port(s, (size_t)(dash - s), lo) && parse_port(dash + 1, strlen(dash + 1), hi) &&
           *lo <= *hi;
}

static const char *const port_protocols[] = {"tcp", "udp", "sctp", NULL};
static const char *const port_modes[] = {"host", "ingress", NULL};

static struct zp_node *port_entry(const struct zp_pos *pos, const char *ip, int target,
                                  const char *published, const char *proto)
{
    struct zp_node *m = zp_node_new_map(pos);
    map_add(m, "mode", zp_node_new_str("ingress", pos));
    if (ip && *ip)
        map_add(m, "host_ip", zp_node_new_str(ip, pos));
    map_add(m, "target", zp_node_new_int(target, pos));
    if (published)
        map_add(m, "published", zp_node_new_str(published, pos));
    map_add(m, "protocol", zp_node_new_str(proto, pos));
    return m;
}

/* Short syntax: [[IP:](PORT|RANGE):](PORT|RANGE)[/PROTO], IPv6 optionally in brackets. */
static int port_short(const struct zp_node *item, const char *path, struct zp_node *out,
                      struct zp_diags *d)
{
    char *spec = zp_strdup(item->str);
    const char *why = NULL;
    const char *proto = "tcp";
    char *ip = NULL, *host = NULL, *cont = spec;
    int rc = ZP_E_INPUT;

    char *slash = strrchr(spec, '/');
    if (slash) {
        *slash = '\0';
        proto = slash + 1;
        if (!in_list(proto, port_protocols)) {
            zp_diag_error(d, &item->pos, path,
                          "invalid port '%s': unknown protocol '%s' (use tcp, udp or sctp)",
                          item->str, proto);
            goto out;
        }
    }
    if (spec[0] == '[') {
        char *rb = strchr(spec, ']');
        char *colon = rb && rb[1] == ':' ? strrchr(rb + 2, ':') : NULL;
        if (!colon) {
            why = "expected [IP]:HOST:CONTAINER";
            goto bad;
        }
        *rb = '\0';
        ip = spec + 1;
        *colon = '\0';
        host = rb + 2;
        cont = colon + 1;
    } else {
        char *c = strrchr(spec, ':');
        if (c) {
            *c = '\0';
            cont = c + 1;
            char *c2 = strrchr(spec, ':');
            if (c2) {
                *c2 = '\0';
                host = c2 + 1;
                ip = spec;
            } else {
                host = spec;
            }
        }
    }
    int clo, chi, hlo = 0, hhi = 0;
    bool has_host = host && *host;
    if (!parse_port_range(cont, &clo, &chi) || (has_host && !parse_port_range(host, &hlo, &hhi))) {
        why = "ports must be numbers or ranges within 1-65535";
        goto bad;
    }
    if (has_host && chi > clo && hhi - hlo != chi - clo) {
        why = "the host and container port ranges have different lengths";
        goto bad;
    }
    if (out->n + (size_t)(chi - clo) + 1 > MAX_PORTS) {
        zp_diag_error(d, &item->pos, path, "too many ports (more than %d)", MAX_PORTS);
        goto out;
    }
    for (int k = 0; k <= chi - clo; k++) {
        char *published = NULL;
        if (has_host && (chi > clo || hlo == hhi))
            published = zp_asprintf("%d", hlo + k);
        else if (has_host)
            published = zp_asprintf("%d-%d", hlo, hhi);
        zp_node_push(out, port_entry(&item->pos, ip, clo + k, published, proto));
        free(published);
    }
    rc = 0;
    goto out;
bad:
    zp_diag_error(d, &item->pos, path, "invalid port '%s': %s", item->str, why);
out:
    free(spec);
    return rc;
}

static int f_port_number(struct zp_node *v, const struct field *f, const char *path,
                         const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    return compose__to_int(v, 1, 65535, path, d);
}

static int f_published(struct zp_node *v, const struct field *f, const char *path,
                       const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    int lo, hi;
    if (!is_string_like(v)) {
        zp_diag_error(d, &v->pos, path, "must be a port or a range of ports, not %s",
                      zp_node_type_name(v));
        return ZP_E_INPUT;
    }
    if (!parse_port_range(v->str, &lo, &hi)) {
        zp_diag_error(d, &v->pos, path,
                      "invalid published port '%s' (use a port or a range within 1-65535)", v->str);
        return ZP_E_INPUT;
    }
    v->type = ZP_STR;
    return 0;
}

static const struct field port_fields[] = {
    FLD("name", f_str),
    FLD_ENUM("mode", port_modes),
    FLD("host_ip", f_str),
    FLD_REQ("target", f_port_number),
    FLD("published", f_published),
    FLD_ENUM("protocol", port_protocols),
    FLD("app_protocol", f_str),
    FLD_END,
};

static int f_ports(struct zp_node *v, const struct field *f, const char *path,
                   const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    if (compose__expect_kind(v, ZP_NODE_SEQ, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    struct zp_node *out = zp_node_new_seq(&v->pos);
    out->flags = v->flags;
    for (size_t i = 0; i < v->n; i++) {
        struct zp_node *item = v->items[i];
        char *ipath = zp_path_index(path, i);
        if (item->kind == ZP_NODE_SCALAR && (item->type == ZP_STR || item->type == ZP_INT)) {
            if (port_short(item, ipath, out, d))
                rc = ZP_E_INPUT;
        } else if (item->kind == ZP_NODE_MAP) {
            if (norm_object(item, port_fields, "port", ipath, ctx, d) == 0) {
                if (zp_node_index(item, "mode") < 0)
                    map_add(item, "mode", zp_node_new_str("ingress", &item->pos));
                if (zp_node_index(item, "protocol") < 0)
                    map_add(item, "protocol", zp_node_new_str("tcp", &item->pos));
                zp_node_push(out, item);
                v->items[i] = NULL;
            } else {
                rc = ZP_E_INPUT;
            }
        } else {
            zp_diag_error(d, &item->pos, ipath, "must be a port string or a mapping, not %s",
                          zp_node_type_name(item));
            rc = ZP_E_INPUT;
        }
        free(ipath);
    }
    zp_node_replace(v, out);
    return rc;
}

/* expose: "80", "8000-8010", "53/udp" */
static int f_expose(struct zp_node *v, const struct field *f, const char *path,
                    const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    if (compose__to_str_list(v, false, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        struct zp_node *item = v->items[i];
        char *spec = zp_strdup(item->str);
        char *slash = strchr(spec, '/');
        bool ok = true;
        int lo, hi;
        if (slash) {
            *slash = '\0';
            ok = in_list(slash + 1, port_protocols);
        }
        if (!ok || !parse_port_range(spec, &lo, &hi)) {
            char *ipath = zp_path_index(path, i);
            zp_diag_error(d, &item->pos, ipath,
                          "invalid port '%s' (use PORT[-PORT][/PROTOCOL], e.g. 8080 or 53/udp)",
                          item->str);
            free(ipath);
            rc = ZP_E_INPUT;
        }
        free(spec);
    }
    return rc;
}

/* ---- volumes ---- */

static const char *const propagations[] = {"private", "rprivate", "shared", "rshared",
                                           "slave",   "rslave",   NULL};
static const char *const bind_recursive[] = {"enabled", "disabled", "writable", "readonly", NULL};
static const char *const selinux_opts[] = {"z", "Z", NULL};
static const char *const consistencies[] = {"consistent", "cached", "delegated", NULL};

static const struct field bind_fields[] = {
    FLD_ENUM("propagation", propagations),
    FLD("create_host_path", f_bool),
    FLD_ENUM("recursive", bind_recursive),
    FLD_ENUM("selinux", selinux_opts),
    FLD_END,
};

static const struct field volume_opt_fields[] = {
    FLD("labels", f_label_map),
    FLD("nocopy", f_bool),
    FLD("subpath", f_str),
    FLD_END,
};

static int f_tmpfs_size(struct zp_node *v, const struct field *f, const char *path,
                        const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    if (compose__to_size(v, path, d))
        return ZP_E_INPUT;
    if (v->str[0] == '-') {
        zp_diag_error(d, &v->pos, path, "size must not be negative");
        return ZP_E_INPUT;
    }
    return 0;
}

static const struct field tmpfs_opt_fields[] = {
    FLD("size", f_tmpfs_size),
    FLD("mode", f_mode),
    FLD_END,
};

static const struct field image_opt_fields[] = {
    FLD("subpath", f_str),
    FLD_END,
};

static const struct field volume_fields[] = {
    FLD_REQ("type", f_str),
    FLD("source", f_str),
    FLD_REQ("target", f_str),
    FLD("read_only", f_bool),
    FLD("consistency", f_str),
    FLD_OBJ("bind", bind_fields),
    FLD_OBJ("volume", volume_opt_fields),
    FLD_OBJ("tmpfs", tmpfs_opt_fields),
    FLD_OBJ("image", image_opt_fields),
    FLD_END,
};

static bool is_host_path(const char *s)
{
    return s[0] == '.' || s[0] == '/' || s[0] == '~';
}

/* SOURCE:TARGET[:OPTIONS], TARGET alone for an anonymous volume. */
static int volume_short(const struct zp_node *item, const char *path, const struct compose_ctx *ctx,
                        struct zp_node **ret, struct zp_diags *d)
{
    const struct zp_pos *pos = &item->pos;
    char *spec = zp_strdup(item->str);
    char *parts[3] = {NULL, NULL, NULL};
    size_t np = 0;
    const char *why = NULL;
    struct zp_node *m = NULL;
    int rc = ZP_E_INPUT;

    for (char *p = spec;;) {
        char *c = strchr(p, ':');
        if (np == 3) {
            why = "too many ':' (use SOURCE:TARGET[:OPTIONS])";
            goto bad;
        }
        parts[np++] = p;
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    const char *source = np >= 2 ? parts[0] : NULL;
    const char *target = np >= 2 ? parts[1] : parts[0];
    const char *opts = np == 3 ? parts[2] : NULL;
    if (source && !*source) {
        why = "empty source";
        goto bad;
    }
    if (target[0] != '/') {
        why = "the target must be an absolute path";
        goto bad;
    }
    bool bind = source && is_host_path(source);
    m = zp_node_new_map(pos);
    map_add(m, "type", zp_node_new_str(bind ? "bind" : "volume", pos));
    if (source) {
        char *abs = bind ? compose__abs_path(ctx, source) : zp_strdup(source);
        map_add(m, "source", zp_node_new_str(abs, pos));
        free(abs);
    }
    /* the target cleaned as Compose does: no trailing '/' */
    size_t tl = strlen(target);
    while (tl > 1 && target[tl - 1] == '/')
        tl--;
    char *tclean = zp_strndup(target, tl);
    map_add(m, "target", zp_node_new_str(tclean, pos));
    free(tclean);
    struct zp_node *sub = zp_node_new_map(pos);
    if (bind)
        map_add(sub, "create_host_path", zp_node_new_bool(true, pos));
    map_add(m, bind ? "bind" : "volume", sub);

    bool read_only = false;
    char *save = opts ? zp_strdup(opts) : NULL;
    for (char *o = save; o;) {
        char *comma = strchr(o, ',');
        if (comma)
            *comma = '\0';
        const char *only = NULL;
        if (strcmp(o, "ro") == 0) {
            read_only = true;
        } else if (strcmp(o, "rw") == 0) {
            read_only = false;
        } else if (in_list(o, selinux_opts)) {
            if (bind)
                zp_node_set(sub, "selinux", zp_node_new_str(o, pos));
            else
                only = "bind mounts";
        } else if (in_list(o, propagations)) {
            if (bind)
                zp_node_set(sub, "propagation", zp_node_new_str(o, pos));
            else
                only = "bind mounts";
        } else if (strcmp(o, "nocopy") == 0) {
            if (!bind)
                zp_node_set(sub, "nocopy", zp_node_new_bool(true, pos));
            else
                only = "volumes";
        } else if (in_list(o, consistencies)) {
            zp_node_set(m, "consistency", zp_node_new_str(o, pos));
        } else {
            zp_diag_error(d, pos, path,
                          "invalid volume '%s': unknown option '%s' (use ro, rw, z, Z, nocopy "
                          "or a propagation such as rprivate)",
                          item->str, o);
            free(save);
            goto out;
        }
        if (only) {
            zp_diag_error(d, pos, path, "invalid volume '%s': option '%s' only applies to %s",
                          item->str, o, only);
            free(save);
            goto out;
        }
        o = comma ? comma + 1 : NULL;
    }
    free(save);
    if (read_only)
        map_add(m, "read_only", zp_node_new_bool(true, pos));
    *ret = m;
    m = NULL;
    rc = 0;
    goto out;
bad:
    zp_diag_error(d, pos, path, "invalid volume '%s': %s", item->str, why);
out:
    zp_node_free(m);
    free(spec);
    return rc;
}

static int volume_long(struct zp_node *item, const char *path, const struct compose_ctx *ctx,
                       struct zp_diags *d)
{
    static const char *const types[] = {"bind", "volume", "tmpfs", "image", NULL};
    static const char *const unsupported[] = {"npipe", "cluster", NULL};
    int rc = norm_object(item, volume_fields, "volume", path, ctx, d);
    struct zp_node *type = zp_node_get(item, "type");
    if (!zp_node_is_str(type))
        return ZP_E_INPUT;
    char *tpath = zp_path_key(path, "type");
    if (in_list(type->str, unsupported)) {
        zp_diag_error(d, &type->pos, tpath, "volume type '%s' is not supported yet", type->str);
        rc = ZP_E_INPUT;
    } else if (!in_list(type->str, types)) {
        zp_diag_error(d, &type->pos, tpath,
                      "invalid volume type '%s' (use bind, volume, tmpfs or image)", type->str);
        rc = ZP_E_INPUT;
    }
    free(tpath);
    if (rc)
        return rc;
    const char *t = type->str;
    struct zp_node *target = zp_node_get(item, "target");
    if (target->str[0] != '/') {
        char *p = zp_path_key(path, "target");
        zp_diag_error(d, &target->pos, p, "the target '%s' must be an absolute path", target->str);
        free(p);
        rc = ZP_E_INPUT;
    }
    struct zp_node *source = zp_node_get(item, "source");
    bool need_source = strcmp(t, "bind") == 0 || strcmp(t, "image") == 0;
    if (need_source && (!source || !*source->str)) {
        zp_diag_error(d, &item->pos, path, "a %s mount needs a 'source'", t);
        rc = ZP_E_INPUT;
    } else if (source && strcmp(t, "tmpfs") == 0) {
        char *p = zp_path_key(path, "source");
        zp_diag_error(d, &source->pos, p, "a tmpfs mount takes no 'source'");
        free(p);
        rc = ZP_E_INPUT;
    } else if (source && strcmp(t, "bind") == 0) {
        char *abs = compose__abs_path(ctx, source->str);
        zp_node_set_scalar(source, ZP_STR, abs);
        free(abs);
    }
    static const char *const subs[] = {"bind", "volume", "tmpfs", "image", NULL};
    for (size_t i = 0; subs[i]; i++) {
        struct zp_node *key = zp_node_get_key(item, subs[i]);
        if (key && strcmp(subs[i], t) != 0) {
            char *p = zp_path_key(path, subs[i]);
            zp_diag_error(d, &key->pos, p, "'%s' options do not apply to a %s mount", subs[i], t);
            free(p);
            rc = ZP_E_INPUT;
        }
    }
    struct zp_node *ro = zp_node_get(item, "read_only");
    if (ro && strcmp(ro->str, "false") == 0)
        zp_node_del(item, "read_only");
    return rc;
}

static int f_volumes(struct zp_node *v, const struct field *f, const char *path,
                     const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    if (compose__expect_kind(v, ZP_NODE_SEQ, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        struct zp_node *item = v->items[i];
        char *ipath = zp_path_index(path, i);
        if (item->kind == ZP_NODE_SCALAR && item->type == ZP_STR) {
            struct zp_node *m = NULL;
            if (volume_short(item, ipath, ctx, &m, d) == 0)
                zp_node_replace(item, m);
            else
                rc = ZP_E_INPUT;
        } else if (item->kind == ZP_NODE_MAP) {
            if (volume_long(item, ipath, ctx, d))
                rc = ZP_E_INPUT;
        } else {
            zp_diag_error(d, &item->pos, ipath, "must be a volume string or a mapping, not %s",
                          zp_node_type_name(item));
            rc = ZP_E_INPUT;
        }
        free(ipath);
    }
    return rc;
}

static int f_tmpfs(struct zp_node *v, const struct field *f, const char *path,
                   const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    if (compose__to_str_list(v, true, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (v->items[i]->str[0] != '/') {
            char *ipath = zp_path_index(path, i);
            zp_diag_error(d, &v->items[i]->pos, ipath,
                          "invalid tmpfs '%s': the path must be absolute", v->items[i]->str);
            free(ipath);
            rc = ZP_E_INPUT;
        }
    }
    return rc;
}

/* ---- depends_on ---- */

static const char *const dep_conditions[] = {"service_started", "service_healthy",
                                             "service_completed_successfully", NULL};

static const struct field depends_fields[] = {
    FLD_ENUM_REQ("condition", dep_conditions),
    FLD("required", f_bool),
    FLD("restart", f_bool),
    FLD_END,
};

/* The list form of depends_on and networks: a list of names becomes a map name -> the
 * entry make_entry builds (the long form's default). Names are checked and unique. */
static int names_to_map(struct zp_node *v, const char *what,
                        struct zp_node *(*make_entry)(const struct zp_pos *pos), const char *path,
                        struct zp_diags *d)
{
    if (compose__to_str_list(v, false, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    struct zp_node *m = zp_node_new_map(&v->pos);
    m->flags = v->flags;
    for (size_t i = 0; i < v->n; i++) {
        struct zp_node *item = v->items[i];
        char *ipath = zp_path_index(path, i);
        if (!valid_ref_name(item->str)) {
            zp_diag_error(d, &item->pos, ipath, "invalid %s name '%s'", what, item->str);
            rc = ZP_E_INPUT;
        } else if (zp_node_index(m, item->str) >= 0) {
            zp_diag_error(d, &item->pos, ipath, "%s '%s' is listed twice", what, item->str);
            rc = ZP_E_INPUT;
        } else {
            zp_node_append_pair(m, zp_node_new_str(item->str, &item->pos), make_entry(&item->pos));
        }
        free(ipath);
    }
    zp_node_replace(v, m);
    return rc;
}

static struct zp_node *dep_entry(const struct zp_pos *pos)
{
    struct zp_node *m = zp_node_new_map(pos);
    map_add(m, "condition", zp_node_new_str("service_started", pos));
    map_add(m, "required", zp_node_new_bool(true, pos));
    return m;
}

static int f_depends_on(struct zp_node *v, const struct field *f, const char *path,
                        const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    int rc = 0;
    if (v->kind == ZP_NODE_SEQ)
        return names_to_map(v, "service", dep_entry, path, d);
    if (v->kind != ZP_NODE_MAP) {
        zp_diag_error(d, &v->pos, path, "must be a list of services or a mapping, not %s",
                      zp_node_type_name(v));
        return ZP_E_INPUT;
    }
    for (size_t i = 0; i < v->n; i++) {
        struct zp_node *key = v->pairs[i].key;
        struct zp_node *val = v->pairs[i].value;
        char *kpath = zp_path_key(path, key->str);
        if (!valid_ref_name(key->str)) {
            zp_diag_error(d, &key->pos, kpath, "invalid service name '%s'", key->str);
            rc = ZP_E_INPUT;
        } else if (norm_object(val, depends_fields, "depends_on", kpath, ctx, d)) {
            rc = ZP_E_INPUT;
        } else {
            if (zp_node_index(val, "required") < 0)
                map_add(val, "required", zp_node_new_bool(true, &val->pos));
            struct zp_node *r = zp_node_get(val, "restart");
            if (r && strcmp(r->str, "false") == 0)
                zp_node_del(val, "restart");
        }
        free(kpath);
    }
    return rc;
}

/* ---- environment, env_file ---- */

static int f_environment(struct zp_node *v, const struct field *f, const char *path,
                         const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    int rc = compose__to_str_map(v, '=', true, path, d);
    if (v->kind != ZP_NODE_MAP)
        return rc;
    /* KEY without a value takes it from the environment, and stays null when unset there */
    for (size_t i = 0; i < v->n; i++) {
        struct zp_node *val = v->pairs[i].value;
        const char *e =
            zp_node_is_null(val) ? compose_env_get(ctx->env, v->pairs[i].key->str) : NULL;
        if (e) {
            /* a value from the environment is never interpolated again */
            zp_node_set_scalar(val, ZP_STR, e);
            val->flags |= ZP_NODE_NOINTERP;
        }
    }
    return rc;
}

static const struct field env_file_fields[] = {
    FLD_REQ("path", f_str),
    FLD("required", f_bool),
    FLD("format", f_str),
    FLD_END,
};

static int f_env_file(struct zp_node *v, const struct field *f, const char *path,
                      const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    if (v->kind == ZP_NODE_SCALAR && v->type == ZP_STR) {
        struct zp_node *seq = zp_node_new_seq(&v->pos);
        seq->flags = v->flags;
        struct zp_node *item = zp_node_copy(v);
        item->flags = 0;
        zp_node_push(seq, item);
        zp_node_replace(v, seq);
    }
    if (v->kind != ZP_NODE_SEQ) {
        zp_diag_error(d, &v->pos, path, "must be a path or a list of paths, not %s",
                      zp_node_type_name(v));
        return ZP_E_INPUT;
    }
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        struct zp_node *item = v->items[i];
        char *ipath = zp_path_index(path, i);
        if (item->kind == ZP_NODE_SCALAR && item->type == ZP_STR) {
            struct zp_node *m = zp_node_new_map(&item->pos);
            map_add(m, "path", zp_node_new_str(item->str, &item->pos));
            zp_node_replace(item, m);
        }
        if (item->kind != ZP_NODE_MAP) {
            zp_diag_error(d, &item->pos, ipath, "must be a path or a mapping, not %s",
                          zp_node_type_name(item));
            rc = ZP_E_INPUT;
        } else if (norm_object(item, env_file_fields, "env_file", ipath, ctx, d)) {
            rc = ZP_E_INPUT;
        } else {
            struct zp_node *p = zp_node_get(item, "path");
            char *abs = compose__abs_path(ctx, p->str);
            zp_node_set_scalar(p, ZP_STR, abs);
            free(abs);
            if (zp_node_index(item, "required") < 0)
                map_add(item, "required", zp_node_new_bool(true, &item->pos));
        }
        free(ipath);
    }
    return rc;
}

/* ---- extra_hosts ---- */

static void push_host(struct zp_node *out, const char *host, const char *ip,
                      const struct zp_pos *pos)
{
    size_t len = strlen(ip);
    char *entry;
    if (len >= 2 && ip[0] == '[' && ip[len - 1] == ']')
        entry = zp_asprintf("%s=%.*s", host, (int)(len - 2), ip + 1);
    else
        entry = zp_asprintf("%s=%s", host, ip);
    zp_node_push(out, zp_node_new_str(entry, pos));
    free(entry);
}

static int f_extra_hosts(struct zp_node *v, const struct field *f, const char *path,
                         const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    int rc = 0;
    struct zp_node *out = zp_node_new_seq(&v->pos);
    out->flags = v->flags;
    if (v->kind == ZP_NODE_MAP) {
        for (size_t i = 0; i < v->n; i++) {
            const char *host = v->pairs[i].key->str;
            struct zp_node *val = v->pairs[i].value;
            char *kpath = zp_path_key(path, host);
            if (val->kind == ZP_NODE_SCALAR && compose__to_str(val, false, kpath, d) == 0) {
                push_host(out, host, val->str, &val->pos);
            } else if (val->kind == ZP_NODE_SEQ &&
                       compose__to_str_list(val, false, kpath, d) == 0) {
                for (size_t k = 0; k < val->n; k++)
                    push_host(out, host, val->items[k]->str, &val->items[k]->pos);
            } else {
                if (val->kind == ZP_NODE_MAP)
                    zp_diag_error(d, &val->pos, kpath, "must be an IP address or a list of them");
                rc = ZP_E_INPUT;
            }
            free(kpath);
        }
    } else if (v->kind == ZP_NODE_SEQ) {
        for (size_t i = 0; i < v->n; i++) {
            struct zp_node *item = v->items[i];
            char *ipath = zp_path_index(path, i);
            if (compose__to_str(item, false, ipath, d)) {
                rc = ZP_E_INPUT;
                free(ipath);
                continue;
            }
            /* '=' is the separator; ':' also works since host names have none */
            char *spec = zp_strdup(item->str);
            char *sep = strchr(spec, '=');
            if (!sep)
                sep = strchr(spec, ':');
            if (!sep || sep == spec || !sep[1]) {
                zp_diag_error(d, &item->pos, ipath, "invalid extra host '%s' (use HOST=IP)",
                              item->str);
                rc = ZP_E_INPUT;
            } else {
                *sep = '\0';
                push_host(out, spec, sep + 1, &item->pos);
            }
            free(spec);
            free(ipath);
        }
    } else {
        zp_diag_error(d, &v->pos, path, "must be a mapping or a list of 'HOST=IP', not %s",
                      zp_node_type_name(v));
        zp_node_free(out);
        return ZP_E_INPUT;
    }
    /* sorted by host name, as Compose prints them; the addresses of one host keep their
     * order (the first one is the one /etc/hosts answers) */
    for (size_t i = 1; i < out->n; i++) {
        struct zp_node *cur = out->items[i];
        size_t hl = strcspn(cur->str, "=");
        size_t j = i;
        while (j > 0) {
            const char *prev = out->items[j - 1]->str;
            size_t pl = strcspn(prev, "=");
            int c = memcmp(prev, cur->str, pl < hl ? pl : hl);
            if (c < 0 || (c == 0 && pl <= hl))
                break;
            out->items[j] = out->items[j - 1];
            j--;
        }
        out->items[j] = cur;
    }
    zp_node_replace(v, out);
    return rc;
}

/* ---- networks ---- */

static const struct field net_attach_fields[] = {
    FLD("aliases", f_str_list),
    FLD("ipv4_address", f_str),
    FLD("ipv6_address", f_str),
    FLD("link_local_ips", f_str_list),
    FLD("mac_address", f_str),
    FLD("driver_opts", f_map_str_map),
    FLD_INT("priority", INT64_MIN, INT64_MAX),
    FLD_INT("gw_priority", INT64_MIN, INT64_MAX),
    FLD("interface_name", f_str),
    FLD_END,
};

static int f_networks(struct zp_node *v, const struct field *f, const char *path,
                      const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    int rc = 0;
    if (v->kind == ZP_NODE_SEQ)
        return names_to_map(v, "network", zp_node_new_null, path, d);
    if (v->kind != ZP_NODE_MAP) {
        zp_diag_error(d, &v->pos, path, "must be a list of networks or a mapping, not %s",
                      zp_node_type_name(v));
        return ZP_E_INPUT;
    }
    for (size_t i = 0; i < v->n; i++) {
        struct zp_node *key = v->pairs[i].key;
        struct zp_node *val = v->pairs[i].value;
        char *kpath = zp_path_key(path, key->str);
        if (!valid_ref_name(key->str)) {
            zp_diag_error(d, &key->pos, kpath, "invalid network name '%s'", key->str);
            rc = ZP_E_INPUT;
        } else if (!zp_node_is_null(val) &&
                   norm_object(val, net_attach_fields, "network", kpath, ctx, d)) {
            rc = ZP_E_INPUT;
        }
        free(kpath);
    }
    return rc;
}

/* ---- secrets, configs ---- */

static const struct field file_ref_fields[] = {
    FLD_REQ("source", f_str), FLD("target", f_str), FLD("uid", f_str),
    FLD("gid", f_str),        FLD("mode", f_mode),  FLD_END,
};

static int f_file_refs(struct zp_node *v, const struct field *f, const char *path,
                       const struct compose_ctx *ctx, struct zp_diags *d)
{
    if (compose__expect_kind(v, ZP_NODE_SEQ, path, d))
        return ZP_E_INPUT;
    /* "secret" or "config", for messages */
    char *what = zp_strndup(f->key, strlen(f->key) - 1);
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        struct zp_node *item = v->items[i];
        char *ipath = zp_path_index(path, i);
        if (item->kind == ZP_NODE_SCALAR && item->type == ZP_STR) {
            struct zp_node *m = zp_node_new_map(&item->pos);
            map_add(m, "source", zp_node_new_str(item->str, &item->pos));
            zp_node_replace(item, m);
        } else if (item->kind != ZP_NODE_MAP) {
            zp_diag_error(d, &item->pos, ipath, "must be a %s name or a mapping, not %s", what,
                          zp_node_type_name(item));
            rc = ZP_E_INPUT;
        } else if (norm_object(item, file_ref_fields, what, ipath, ctx, d)) {
            rc = ZP_E_INPUT;
        }
        /* a secret without a target is mounted at /run/secrets/<source>: printed so, as
         * Compose does */
        if (!rc && strcmp(what, "secret") == 0 && zp_node_is_map(item) &&
            !zp_node_get(item, "target") && zp_node_get_str(item, "source")) {
            char *t = zp_asprintf("/run/secrets/%s", zp_node_get_str(item, "source"));
            map_add(item, "target", zp_node_new_str(t, &item->pos));
            free(t);
        }
        free(ipath);
    }
    free(what);
    return rc;
}

/* ---- ulimits ---- */

static const struct field ulimit_fields[] = {
    FLD_INT_REQ("soft", -1, INT64_MAX),
    FLD_INT_REQ("hard", -1, INT64_MAX),
    FLD_END,
};

static int f_ulimits(struct zp_node *v, const struct field *f, const char *path,
                     const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    if (compose__expect_kind(v, ZP_NODE_MAP, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        struct zp_node *key = v->pairs[i].key;
        struct zp_node *val = v->pairs[i].value;
        char *kpath = zp_path_key(path, key->str);
        bool name_ok = *key->str != '\0';
        for (const char *p = key->str; *p; p++)
            name_ok = name_ok && *p >= 'a' && *p <= 'z';
        if (!name_ok) {
            zp_diag_error(d, &key->pos, kpath, "invalid ulimit name '%s'", key->str);
            rc = ZP_E_INPUT;
        } else if (val->kind == ZP_NODE_SCALAR) {
            if (compose__to_int(val, -1, INT64_MAX, kpath, d))
                rc = ZP_E_INPUT;
        } else if (val->kind != ZP_NODE_MAP) {
            zp_diag_error(d, &val->pos, kpath, "must be an integer or {soft, hard}, not %s",
                          zp_node_type_name(val));
            rc = ZP_E_INPUT;
        } else if (norm_object(val, ulimit_fields, "ulimit", kpath, ctx, d)) {
            rc = ZP_E_INPUT;
        } else {
            int64_t soft = 0, hard = 0;
            zp_parse_int64(zp_node_get_str(val, "soft"), INT64_MIN, INT64_MAX, &soft);
            zp_parse_int64(zp_node_get_str(val, "hard"), INT64_MIN, INT64_MAX, &hard);
            /* -1 is unlimited */
            if (hard != -1 && (soft == -1 || soft > hard)) {
                zp_diag_error(d, &val->pos, kpath,
                              "the soft limit %lld is greater than the hard limit %lld",
                              (long long)soft, (long long)hard);
                rc = ZP_E_INPUT;
            }
        }
        free(kpath);
    }
    return rc;
}

/* ---- logging ---- */

static int f_log_options(struct zp_node *v, const struct field *f, const char *path,
                         const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    if (compose__expect_kind(v, ZP_NODE_MAP, path, d))
        return ZP_E_INPUT;
    return compose__to_str_map(v, '=', true, path, d);
}

static const struct field logging_fields[] = {
    FLD("driver", f_str),
    FLD("options", f_log_options),
    FLD_END,
};

/* ---- devices ---- */

static bool valid_permissions(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if (*p != 'r' && *p != 'w' && *p != 'm')
            return false;
    return true;
}

static int f_permissions(struct zp_node *v, const struct field *f, const char *path,
                         const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    if (compose__to_str(v, false, path, d))
        return ZP_E_INPUT;
    if (valid_permissions(v->str))
        return 0;
    zp_diag_error(d, &v->pos, path, "invalid device permissions '%s' (use r, w and m)", v->str);
    return ZP_E_INPUT;
}

static const struct field device_fields[] = {
    FLD_REQ("source", f_str),
    FLD("target", f_str),
    FLD("permissions", f_permissions),
    FLD_END,
};

/* HOST[:CONTAINER[:PERMISSIONS]] (a CDI name such as vendor.com/gpu=0 is kept as source) */
static int device_short(struct zp_node *item, const char *path, struct zp_diags *d)
{
    char *spec = zp_strdup(item->str);
    char *parts[3] = {spec, NULL, NULL};
    size_t np = 1;
    int rc = 0;
    for (char *c = strchr(spec, ':'); c; c = strchr(c + 1, ':')) {
        if (np == 3) {
            np = 4;
            break;
        }
        *c = '\0';
        parts[np++] = c + 1;
    }
    const char *src = parts[0], *dst = parts[0], *perms = "rwm";
    if (np == 2) {
        if (parts[1][0] != '/' && valid_permissions(parts[1]))
            perms = parts[1];
        else
            dst = parts[1];
    } else if (np == 3) {
        dst = parts[1];
        perms = parts[2];
    }
    if (np > 3 || !*src || !*dst || !valid_permissions(perms)) {
        zp_diag_error(d, &item->pos, path,
                      "invalid device '%s' (use HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]])",
                      item->str);
        rc = ZP_E_INPUT;
    } else {
        struct zp_node *m = zp_node_new_map(&item->pos);
        map_add(m, "source", zp_node_new_str(src, &item->pos));
        map_add(m, "target", zp_node_new_str(dst, &item->pos));
        map_add(m, "permissions", zp_node_new_str(perms, &item->pos));
        zp_node_replace(item, m);
    }
    free(spec);
    return rc;
}

static int f_devices(struct zp_node *v, const struct field *f, const char *path,
                     const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    if (compose__expect_kind(v, ZP_NODE_SEQ, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        struct zp_node *item = v->items[i];
        char *ipath = zp_path_index(path, i);
        if (item->kind == ZP_NODE_SCALAR && item->type == ZP_STR) {
            if (device_short(item, ipath, d))
                rc = ZP_E_INPUT;
        } else if (item->kind != ZP_NODE_MAP) {
            zp_diag_error(d, &item->pos, ipath, "must be a device string or a mapping, not %s",
                          zp_node_type_name(item));
            rc = ZP_E_INPUT;
        } else if (norm_object(item, device_fields, "device", ipath, ctx, d)) {
            rc = ZP_E_INPUT;
        } else {
            struct zp_node *src = zp_node_get(item, "source");
            if (zp_node_index(item, "target") < 0)
                map_add(item, "target", zp_node_new_str(src->str, &item->pos));
            if (zp_node_index(item, "permissions") < 0)
                map_add(item, "permissions", zp_node_new_str("rwm", &item->pos));
        }
        free(ipath);
    }
    return rc;
}

/* ---- blkio_config ---- */

static int f_iops(struct zp_node *v, const struct field *f, const char *path,
                  const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    return compose__to_int(v, 0, INT64_MAX, path, d);
}

static const struct field blkio_bps_fields[] = {
    FLD_REQ("path", f_str),
    FLD_REQ("rate", f_tmpfs_size),
    FLD_END,
};

static const struct field blkio_iops_fields[] = {
    FLD_REQ("path", f_str),
    FLD_REQ("rate", f_iops),
    FLD_END,
};

static const struct field blkio_weight_fields[] = {
    FLD_REQ("path", f_str),
    FLD_INT_REQ("weight", 10, 1000),
    FLD_END,
};

static const struct field blkio_fields[] = {
    FLD_INT("weight", 10, 1000),
    FLD_OBJ_LIST("weight_device", blkio_weight_fields),
    FLD_OBJ_LIST("device_read_bps", blkio_bps_fields),
    FLD_OBJ_LIST("device_write_bps", blkio_bps_fields),
    FLD_OBJ_LIST("device_read_iops", blkio_iops_fields),
    FLD_OBJ_LIST("device_write_iops", blkio_iops_fields),
    FLD_END,
};

/* ---- scalar fields with a syntax of their own ---- */

static int f_restart(struct zp_node *v, const struct field *f, const char *path,
                     const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    static const char *const plain[] = {"no", "always", "on-failure", "unless-stopped", NULL};
    int64_t n;
    if (compose__to_str(v, false, path, d))
        return ZP_E_INPUT;
    if (in_list(v->str, plain))
        return 0;
    if (zp_str_has_prefix(v->str, "on-failure:") &&
        zp_parse_int64(v->str + strlen("on-failure:"), 0, INT32_MAX, &n) == 0)
        return 0;
    zp_diag_error(d, &v->pos, path,
                  "invalid restart policy '%s' (use no, always, on-failure[:N] or unless-stopped)",
                  v->str);
    return ZP_E_INPUT;
}

/* every_<duration>: ([0-9]+[wdhms])+ */
static bool valid_every(const char *s)
{
    if (!*s)
        return false;
    while (*s) {
        const char *num = s;
        while (*s >= '0' && *s <= '9')
            s++;
        if (s == num || !*s || !strchr("wdhms", *s))
            return false;
        s++;
    }
    return true;
}

static int f_pull_policy(struct zp_node *v, const struct field *f, const char *path,
                         const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    static const char *const plain[] = {"always", "never", "missing", "if_not_present",
                                        "build",  "daily", "weekly",  NULL};
    if (compose__to_str(v, false, path, d))
        return ZP_E_INPUT;
    if (in_list(v->str, plain))
        return 0;
    if (zp_str_has_prefix(v->str, "every_") && valid_every(v->str + strlen("every_")))
        return 0;
    /* the current specification's `refresh`, with pull_refresh_after */
    if (strcmp(v->str, "refresh") == 0)
        return 0;
    zp_diag_error(d, &v->pos, path,
                  "invalid pull policy '%s' (use always, never, missing, build, daily, weekly, "
                  "refresh or every_<duration> such as every_12h)",
                  v->str);
    return ZP_E_INPUT;
}

/* pull_refresh_after: a duration as every_ takes it (12h, 1d, 1w2d); printed as written */
static int f_refresh_after(struct zp_node *v, const struct field *f, const char *path,
                           const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    if (compose__to_str(v, false, path, d))
        return ZP_E_INPUT;
    if (valid_every(v->str))
        return 0;
    zp_diag_error(d, &v->pos, path,
                  "invalid duration '%s' (a number and a unit, w, d, h, m or s, repeated: 12h, "
                  "1d, 1w2d)",
                  v->str);
    return ZP_E_INPUT;
}

/* cpu_rt_runtime, cpu_rt_period: microseconds, or a duration converted to microseconds */
static int f_microseconds(struct zp_node *v, const struct field *f, const char *path,
                          const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    int64_t us, ns;
    if (!is_string_like(v)) {
        zp_diag_error(d, &v->pos, path, "must be microseconds or a duration, not %s",
                      zp_node_type_name(v));
        return ZP_E_INPUT;
    }
    if (zp_parse_int64(v->str, 0, INT64_MAX, &us) == 0) {
        /* already microseconds */
    } else if (zp_parse_duration(v->str, false, &ns) == 0 && ns >= 0) {
        us = ns / 1000;
    } else {
        zp_diag_error(d, &v->pos, path, "invalid duration '%s' (use microseconds or e.g. 400ms)",
                      v->str);
        return ZP_E_INPUT;
    }
    struct zp_node *c = zp_node_new_int(us, &v->pos);
    zp_node_set_scalar(v, ZP_INT, c->str);
    zp_node_free(c);
    return 0;
}

static int f_container_name(struct zp_node *v, const struct field *f, const char *path,
                            const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    if (compose__to_str(v, false, path, d))
        return ZP_E_INPUT;
    if (valid_name(v->str, 1))
        return 0;
    zp_diag_error(d, &v->pos, path,
                  "invalid container name '%s' (use letters, digits, '_', '.' and '-', "
                  "at least 2 characters, starting with a letter or a digit)",
                  v->str);
    return ZP_E_INPUT;
}

static int f_profiles(struct zp_node *v, const struct field *f, const char *path,
                      const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    if (compose__to_str_list(v, false, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (!valid_name(v->items[i]->str, 0)) {
            char *ipath = zp_path_index(path, i);
            zp_diag_error(d, &v->items[i]->pos, ipath,
                          "invalid profile name '%s' (use letters, digits, '_', '.' and '-', "
                          "starting with a letter or a digit)",
                          v->items[i]->str);
            free(ipath);
            rc = ZP_E_INPUT;
        }
    }
    return rc;
}

static const struct field extends_fields[] = {
    FLD_REQ("service", f_str),
    FLD("file", f_str),
    FLD_END,
};

static int f_extends(struct zp_node *v, const struct field *f, const char *path,
                     const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    if (v->kind == ZP_NODE_MAP)
        return norm_object(v, extends_fields, "extends", path, ctx, d);
    if (v->kind == ZP_NODE_SCALAR && v->type == ZP_STR)
        return 0;
    zp_diag_error(d, &v->pos, path, "must be a service name or {service, file}, not %s",
                  zp_node_type_name(v));
    return ZP_E_INPUT;
}

static int f_build(struct zp_node *v, const struct field *f, const char *path,
                   const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    return compose__normalize_build(v, path, ctx, d);
}

static int f_deploy(struct zp_node *v, const struct field *f, const char *path,
                    const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    return compose__normalize_deploy(v, path, ctx, d);
}

static int f_healthcheck(struct zp_node *v, const struct field *f, const char *path,
                         const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    return compose__normalize_healthcheck(v, path, ctx, d);
}

static int f_zpanel(struct zp_node *v, const struct field *f, const char *path,
                    const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    return compose__normalize_zpanel(v, path, ctx, d);
}

/* ---- fields for other engines and development workflows ---- */

/* A list of absolute paths: a string is a one-element list (label_file). */
static int f_path_list(struct zp_node *v, const struct field *f, const char *path,
                       const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    if (compose__to_str_list(v, true, path, d))
        return ZP_E_INPUT;
    for (size_t i = 0; i < v->n; i++) {
        char *abs = compose__abs_path(ctx, v->items[i]->str);
        zp_node_set_scalar(v->items[i], ZP_STR, abs);
        free(abs);
    }
    return 0;
}

/* environment of a hook: a map or KEY=VALUE list; a bare KEY stays null */
static int f_hook_env(struct zp_node *v, const struct field *f, const char *path,
                      const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    return compose__to_str_map(v, '=', true, path, d);
}

static const struct field hook_fields[] = {
    FLD_REQ("command", f_command),  FLD("user", f_str),
    FLD("privileged", f_bool),      FLD("working_dir", f_str),
    FLD("environment", f_hook_env), FLD_END,
};

static const struct field pre_start_fields[] = {
    FLD("command", f_command),  FLD("image", f_str),
    FLD("user", f_str),         FLD("privileged", f_bool),
    FLD("working_dir", f_str),  FLD("environment", f_hook_env),
    FLD("per_replica", f_bool), FLD_END,
};

/* gpus and deploy devices: count is an integer or "all" (printed -1, as Compose) */
static int f_device_count(struct zp_node *v, const struct field *f, const char *path,
                          const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    if (v->kind == ZP_NODE_SCALAR && v->type == ZP_STR && strcmp(v->str, "all") == 0) {
        zp_node_set_scalar(v, ZP_INT, "-1");
        return 0;
    }
    return compose__to_int(v, -1, INT32_MAX, path, d);
}

static const struct field gpu_fields[] = {
    FLD("capabilities", f_str_list), FLD("count", f_device_count),
    FLD("device_ids", f_str_list),   FLD("driver", f_str),
    FLD("options", f_label_map),     FLD_END,
};

/* gpus: "all" or a list of device requests; "all" is [{count: -1}] */
static int f_gpus(struct zp_node *v, const struct field *f, const char *path,
                  const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    if (v->kind == ZP_NODE_SCALAR && v->type == ZP_STR) {
        if (strcmp(v->str, "all") != 0) {
            zp_diag_error(d, &v->pos, path, "invalid gpus '%s' (use all or a list of devices)",
                          v->str);
            return ZP_E_INPUT;
        }
        struct zp_node *seq = zp_node_new_seq(&v->pos);
        struct zp_node *m = zp_node_new_map(&v->pos);
        map_add(m, "count", zp_node_new_int(-1, &v->pos));
        zp_node_push(seq, m);
        unsigned keep = v->flags & FLAGS_KEPT;
        zp_node_replace(v, seq);
        v->flags |= keep;
        return 0;
    }
    if (compose__expect_kind(v, ZP_NODE_SEQ, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        char *ipath = zp_path_index(path, i);
        if (norm_object(v->items[i], gpu_fields, "gpu", ipath, ctx, d)) {
            rc = ZP_E_INPUT;
        } else if (!zp_node_get(v->items[i], "count") && !zp_node_get(v->items[i], "device_ids")) {
            /* neither: every device, printed count -1 as Compose does */
            map_add(v->items[i], "count", zp_node_new_int(-1, &v->items[i]->pos));
        } else if (zp_node_get(v->items[i], "count") && zp_node_get(v->items[i], "device_ids")) {
            zp_diag_error(d, &v->items[i]->pos, ipath,
                          "'count' and 'device_ids' cannot be used together");
            rc = ZP_E_INPUT;
        }
        free(ipath);
    }
    return rc;
}

static const char *const watch_actions[] = {"rebuild",      "sync",      "restart",
                                            "sync+restart", "sync+exec", NULL};

static int f_watch_path(struct zp_node *v, const struct field *f, const char *path,
                        const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    if (compose__to_str(v, false, path, d))
        return ZP_E_INPUT;
    char *abs = compose__abs_path(ctx, v->str);
    zp_node_set_scalar(v, ZP_STR, abs);
    free(abs);
    return 0;
}

static int f_hook(struct zp_node *v, const struct field *f, const char *path,
                  const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    return norm_object(v, hook_fields, "hook", path, ctx, d);
}

static const struct field watch_fields[] = {
    FLD_REQ("path", f_watch_path),
    {.key = "action", .fn = f_enum, .values = watch_actions, .required = true},
    FLD("target", f_str),
    FLD("ignore", f_str_or_list),
    FLD("include", f_str_or_list),
    FLD("exec", f_hook),
    FLD("initial_sync", f_bool),
    FLD_END,
};

static int f_watch(struct zp_node *v, const struct field *f, const char *path,
                   const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    if (compose__expect_kind(v, ZP_NODE_SEQ, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        char *ipath = zp_path_index(path, i);
        struct zp_node *t = v->items[i];
        if (norm_object(t, watch_fields, "watch", ipath, ctx, d)) {
            rc = ZP_E_INPUT;
        } else {
            const char *action = zp_node_get_str(t, "action");
            if (action && strcmp(action, "sync+exec") == 0 && !zp_node_get(t, "exec")) {
                zp_diag_error(d, &t->pos, ipath, "action 'sync+exec' needs 'exec'");
                rc = ZP_E_INPUT;
            }
            if (action && strncmp(action, "sync", 4) == 0 && !zp_node_get(t, "target")) {
                zp_diag_error(d, &t->pos, ipath, "action '%s' needs 'target'", action);
                rc = ZP_E_INPUT;
            }
        }
        free(ipath);
    }
    return rc;
}

static const struct field develop_fields[] = {
    FLD("watch", f_watch),
    FLD_END,
};

static int f_develop(struct zp_node *v, const struct field *f, const char *path,
                     const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    if (zp_node_is_null(v)) {
        zp_node_replace(v, zp_node_new_map(&v->pos));
        return 0;
    }
    return norm_object(v, develop_fields, "develop", path, ctx, d);
}

static int f_post_start(struct zp_node *v, const struct field *f, const char *path,
                        const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    if (compose__expect_kind(v, ZP_NODE_SEQ, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        char *ipath = zp_path_index(path, i);
        if (norm_object(v->items[i], hook_fields, "hook", ipath, ctx, d))
            rc = ZP_E_INPUT;
        free(ipath);
    }
    return rc;
}

static int f_pre_start(struct zp_node *v, const struct field *f, const char *path,
                       const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    if (compose__expect_kind(v, ZP_NODE_SEQ, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        char *ipath = zp_path_index(path, i);
        if (norm_object(v->items[i], pre_start_fields, "pre_start", ipath, ctx, d))
            rc = ZP_E_INPUT;
        free(ipath);
    }
    return rc;
}

static const struct field credential_spec_fields[] = {
    FLD("config", f_str),
    FLD("file", f_str),
    FLD("registry", f_str),
    FLD_END,
};

static const struct field service_model_fields[] = {
    FLD("endpoint_var", f_str),
    FLD("model_var", f_str),
    FLD_END,
};

/* models of a service: a list of names, or a map name -> {endpoint_var, model_var} | null;
 * the list form becomes name -> null */
static int f_service_models(struct zp_node *v, const struct field *f, const char *path,
                            const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    if (v->kind == ZP_NODE_SEQ) {
        if (compose__to_str_list(v, false, path, d))
            return ZP_E_INPUT;
        struct zp_node *m = zp_node_new_map(&v->pos);
        for (size_t i = 0; i < v->n; i++)
            if (zp_node_index(m, v->items[i]->str) < 0)
                map_add(m, v->items[i]->str, zp_node_new_null(&v->items[i]->pos));
        unsigned keep = v->flags & FLAGS_KEPT;
        zp_node_replace(v, m);
        v->flags |= keep;
        return 0;
    }
    if (compose__expect_kind(v, ZP_NODE_MAP, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        struct zp_node *m = v->pairs[i].value;
        if (zp_node_is_null(m))
            continue;
        char *kpath = zp_path_key(path, v->pairs[i].key->str);
        if (norm_object(m, service_model_fields, "model", kpath, ctx, d))
            rc = ZP_E_INPUT;
        free(kpath);
    }
    return rc;
}

/* provider options: a value is a scalar or a list of scalars, printed as strings */
static int f_provider_options(struct zp_node *v, const struct field *f, const char *path,
                              const struct compose_ctx *ctx, struct zp_diags *d)
{
    (void)f;
    (void)ctx;
    if (compose__expect_kind(v, ZP_NODE_MAP, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        char *kpath = zp_path_key(path, v->pairs[i].key->str);
        struct zp_node *o = v->pairs[i].value;
        if (o->kind == ZP_NODE_SEQ ? compose__to_str_list(o, false, kpath, d)
                                   : compose__to_str(o, false, kpath, d))
            rc = ZP_E_INPUT;
        free(kpath);
    }
    return rc;
}

static const struct field provider_fields[] = {
    FLD_REQ("type", f_str),
    FLD("options", f_provider_options),
    FLD_END,
};

/* ---- the service ---- */

static const char *const cgroup_modes[] = {"host", "private", NULL};

/* Every key of the specification's service definition. Unsupported (NULL): the refresh
 * pull policy's timing. Fields that need another engine (models, provider, Windows
 * isolation and credential_spec) are read here and refused by `up`
 * (compose_engine_unsupported). */
static const struct field service_fields[] = {
    FLD("annotations", f_label_map),
    FLD("attach", f_bool),
    FLD_OBJ("blkio_config", blkio_fields),
    FLD("build", f_build),
    FLD("cap_add", f_str_list),
    FLD("cap_drop", f_str_list),
    FLD_ENUM("cgroup", cgroup_modes),
    FLD("cgroup_parent", f_str),
    FLD("command", f_command),
    FLD("configs", f_file_refs),
    FLD("container_name", f_container_name),
    FLD_INT("cpu_count", 0, INT64_MAX),
    FLD_INT("cpu_percent", 0, 100),
    FLD_INT("cpu_period", 0, 1000000),
    FLD_INT("cpu_quota", -1, INT64_MAX),
    FLD("cpu_rt_period", f_microseconds),
    FLD("cpu_rt_runtime", f_microseconds),
    FLD_INT("cpu_shares", 0, 262144),
    FLD_NUM("cpus", 0, 100000),
    FLD("cpuset", f_str),
    FLD_OBJ("credential_spec", credential_spec_fields),
    FLD("depends_on", f_depends_on),
    FLD("deploy", f_deploy),
    FLD("develop", f_develop),
    FLD("device_cgroup_rules", f_str_list),
    FLD("devices", f_devices),
    FLD("dns", f_str_or_list),
    FLD("dns_opt", f_str_list),
    FLD("dns_search", f_str_or_list),
    FLD("domainname", f_str),
    FLD("entrypoint", f_command),
    FLD("env_file", f_env_file),
    FLD("environment", f_environment),
    FLD("expose", f_expose),
    FLD("extends", f_extends),
    FLD("external_links", f_str_list),
    FLD("extra_hosts", f_extra_hosts),
    FLD("gpus", f_gpus),
    FLD("group_add", f_str_list),
    FLD("healthcheck", f_healthcheck),
    FLD("hostname", f_str),
    FLD("image", f_str),
    FLD("init", f_bool),
    FLD("ipc", f_str),
    FLD("isolation", f_str),
    FLD("label_file", f_path_list),
    FLD("labels", f_label_map),
    FLD("links", f_str_list),
    FLD_OBJ("logging", logging_fields),
    FLD("mac_address", f_str),
    FLD("mem_limit", f_size),
    FLD("mem_reservation", f_size),
    FLD_INT("mem_swappiness", 0, 100),
    FLD("memswap_limit", f_size),
    FLD("models", f_service_models),
    FLD("network_mode", f_str),
    FLD("networks", f_networks),
    FLD("oom_kill_disable", f_bool),
    FLD_INT("oom_score_adj", -1000, 1000),
    FLD("pid", f_str_or_null),
    FLD_INT("pids_limit", -1, INT64_MAX),
    FLD("platform", f_str),
    FLD("ports", f_ports),
    FLD("post_start", f_post_start),
    FLD("pre_start", f_pre_start),
    FLD("pre_stop", f_post_start),
    FLD("privileged", f_bool),
    FLD("profiles", f_profiles),
    FLD_OBJ("provider", provider_fields),
    FLD("pull_policy", f_pull_policy),
    FLD("pull_refresh_after", f_refresh_after),
    FLD("read_only", f_bool),
    FLD("restart", f_restart),
    FLD("runtime", f_str),
    FLD_INT("scale", 0, INT32_MAX),
    FLD("secrets", f_file_refs),
    FLD("security_opt", f_str_list),
    FLD("shm_size", f_size),
    FLD("stdin_open", f_bool),
    FLD("stop_grace_period", f_duration),
    FLD("stop_signal", f_str),
    FLD("storage_opt", f_map_str_map),
    FLD("sysctls", f_label_map),
    FLD("tmpfs", f_tmpfs),
    FLD("tty", f_bool),
    FLD("ulimits", f_ulimits),
    FLD("use_api_socket", f_bool),
    FLD("user", f_str),
    FLD("userns_mode", f_str),
    FLD("uts", f_str),
    FLD("volumes", f_volumes),
    FLD("volumes_from", f_str_list),
    FLD("working_dir", f_str),
    FLD("x-zpanel", f_zpanel), /* zpanel's own extension: normalize-zpanel.c */
    FLD_END,
};

int compose__normalize_service(struct zp_node *svc, const char *path, const struct compose_ctx *ctx,
                               struct zp_diags *d)
{
    if (zp_node_is_null(svc)) {
        struct zp_node *m = zp_node_new_map(&svc->pos);
        m->flags = svc->flags & FLAGS_KEPT;
        zp_node_replace(svc, m);
        return 0;
    }
    if (svc->kind != ZP_NODE_MAP) {
        zp_diag_error(d, &svc->pos, path, "a service must be a mapping, not %s",
                      zp_node_type_name(svc));
        return ZP_E_INPUT;
    }
    return norm_object(svc, service_fields, "service", path, ctx, d);
}

/* ---- top-level models ---- */

static const struct field model_fields[] = {
    FLD_REQ("model", f_str),
    FLD("name", f_str),
    FLD_INT("context_size", 0, INT64_MAX),
    FLD("runtime_flags", f_str_list),
    FLD_END,
};

int compose__normalize_models(struct zp_node *n, const struct compose_ctx *ctx, struct zp_diags *d)
{
    if (n->flags & ZP_NODE_RESET)
        return 0;
    if (zp_node_is_null(n)) {
        zp_node_replace(n, zp_node_new_map(&n->pos));
        return 0;
    }
    if (compose__expect_kind(n, ZP_NODE_MAP, "models", d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < n->n; i++) {
        const char *key = n->pairs[i].key->str;
        char *kpath = zp_path_key("models", key);
        if (!valid_ref_name(key)) {
            zp_diag_error(d, &n->pairs[i].key->pos, kpath,
                          "invalid model name '%s' (use letters, digits, '.', '_' and '-')", key);
            rc = ZP_E_INPUT;
        } else if (norm_object(n->pairs[i].value, model_fields, "model", kpath, ctx, d)) {
            rc = ZP_E_INPUT;
        }
        free(kpath);
    }
    return rc;
}

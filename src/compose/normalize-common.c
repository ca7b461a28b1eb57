/* compose/normalize-common: value checks and conversions shared by the normalisers. */
#include "compose-int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/banned.h"

const char *compose__suggest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    size_t wlen = strlen(word);
    for (size_t i = 0; candidates[i]; i++) {
        size_t dist = zp_edit_distance(word, candidates[i]);
        if (dist < best_d) {
            best_d = dist;
            best = candidates[i];
        }
    }
    /* a suggestion only when it is close: up to a third of the word, at least 1, at most 3 */
    size_t limit = wlen / 3;
    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    return best && best_d <= limit ? best : NULL;
}

int compose__check_keys(const struct zp_node *map, const char *const *known, const char *what,
                        const char *path, struct zp_diags *d)
{
    int rc = 0;
    for (size_t i = 0; i < map->n; i++) {
        const struct zp_node *key = map->pairs[i].key;
        if (zp_str_has_prefix(key->str, "x-"))
            continue;
        bool found = false;
        for (size_t k = 0; known[k] && !found; k++)
            found = strcmp(known[k], key->str) == 0;
        if (found)
            continue;
        char *kpath = zp_path_key(path, key->str);
        const char *hint = compose__suggest(key->str, known);
        if (hint)
            zp_diag_error(d, &key->pos, kpath, "unknown key '%s' in %s, did you mean '%s'?",
                          key->str, what, hint);
        else
            zp_diag_error(d, &key->pos, kpath, "unknown key '%s' in %s", key->str, what);
        free(kpath);
        rc = ZP_E_INPUT;
    }
    return rc;
}

static const char *kind_name(enum zp_node_kind kind)
{
    switch (kind) {
    case ZP_NODE_MAP:
        return "a mapping";
    case ZP_NODE_SEQ:
        return "a sequence";
    case ZP_NODE_SCALAR:
        return "a scalar";
    }
    return "?";
}

int compose__expect_kind(const struct zp_node *n, enum zp_node_kind kind, const char *path,
                         struct zp_diags *d)
{
    if (n && n->kind == kind)
        return 0;
    zp_diag_error(d, n ? &n->pos : NULL, path, "must be %s, not %s", kind_name(kind),
                  zp_node_type_name(n));
    return ZP_E_INPUT;
}

int compose__to_str(struct zp_node *n, bool allow_bool, const char *path, struct zp_diags *d)
{
    if (n->kind == ZP_NODE_SCALAR && (n->type == ZP_STR || n->type == ZP_INT ||
                                      n->type == ZP_FLOAT || (allow_bool && n->type == ZP_BOOL))) {
        n->type = ZP_STR;
        return 0;
    }
    zp_diag_error(d, &n->pos, path, "must be a string, not %s", zp_node_type_name(n));
    return ZP_E_INPUT;
}

int compose__to_int(struct zp_node *n, int64_t min, int64_t max, const char *path,
                    struct zp_diags *d)
{
    int64_t v;
    if (n->kind != ZP_NODE_SCALAR || (n->type != ZP_INT && n->type != ZP_STR)) {
        zp_diag_error(d, &n->pos, path, "must be an integer, not %s", zp_node_type_name(n));
        return ZP_E_INPUT;
    }
    if (zp_parse_int64(n->str, INT64_MIN, INT64_MAX, &v)) {
        zp_diag_error(d, &n->pos, path, "must be an integer, not '%s'", n->str);
        return ZP_E_INPUT;
    }
    if (v < min || v > max) {
        zp_diag_error(d, &n->pos, path, "%s is out of range [%lld, %lld]", n->str, (long long)min,
                      (long long)max);
        return ZP_E_INPUT;
    }
    struct zp_node *c = zp_node_new_int(v, &n->pos);
    zp_node_set_scalar(n, ZP_INT, c->str);
    zp_node_free(c);
    return 0;
}

int compose__to_number(struct zp_node *n, double min, double max, const char *path,
                       struct zp_diags *d)
{
    double v;
    if (n->kind != ZP_NODE_SCALAR ||
        (n->type != ZP_INT && n->type != ZP_FLOAT && n->type != ZP_STR)) {
        zp_diag_error(d, &n->pos, path, "must be a number, not %s", zp_node_type_name(n));
        return ZP_E_INPUT;
    }
    if (zp_parse_double(n->str, &v)) {
        zp_diag_error(d, &n->pos, path, "must be a number, not '%s'", n->str);
        return ZP_E_INPUT;
    }
    if (v < min || v > max) {
        zp_diag_error(d, &n->pos, path, "%s is out of range [%g, %g]", n->str, min, max);
        return ZP_E_INPUT;
    }
    struct zp_node *c = zp_node_new_float(v, &n->pos);
    zp_node_set_scalar(n, ZP_FLOAT, c->str);
    zp_node_free(c);
    return 0;
}

int compose__to_bool(struct zp_node *n, const char *path, struct zp_diags *d)
{
    if (n->kind == ZP_NODE_SCALAR && (n->type == ZP_BOOL || n->type == ZP_STR)) {
        /* the core schema's True/TRUE spellings are booleans too; print them canonically */
        if (strcasecmp(n->str, "true") == 0 || strcasecmp(n->str, "false") == 0) {
            zp_node_set_scalar(n, ZP_BOOL,
                               (n->str[0] == 't' || n->str[0] == 'T') ? "true" : "false");
            return 0;
        }
        /* YAML 1.1's booleans, which Compose still reads (with a warning) */
        static const char *const yes[] = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", NULL};
        static const char *const no[] = {"n", "N", "no", "No", "NO", "off", "Off", "OFF", NULL};
        for (int t = 0; t < 2; t++) {
            const char *const *words = t == 0 ? yes : no;
            for (size_t i = 0; words[i]; i++) {
                if (strcmp(n->str, words[i]) != 0)
                    continue;
                zp_diag_warn(d, &n->pos, path,
                             "'%s' for a boolean is YAML 1.1, not 1.2: read as %s; write %s",
                             n->str, t == 0 ? "true" : "false", t == 0 ? "true" : "false");
                zp_node_set_scalar(n, ZP_BOOL, t == 0 ? "true" : "false");
                return 0;
            }
        }
    }
    zp_diag_error(d, &n->pos, path, "must be a boolean (true or false), not %s",
                  n->kind == ZP_NODE_SCALAR && n->type == ZP_STR ? "a string"
                                                                 : zp_node_type_name(n));
    return ZP_E_INPUT;
}

int compose__to_duration(struct zp_node *n, bool allow_bare_seconds, const char *path,
                         struct zp_diags *d)
{
    int64_t ns;
    if (n->kind != ZP_NODE_SCALAR ||
        (n->type != ZP_STR && n->type != ZP_INT && !(allow_bare_seconds && n->type == ZP_FLOAT))) {
        zp_diag_error(d, &n->pos, path, "must be a duration such as '1m30s', not %s",
                      zp_node_type_name(n));
        return ZP_E_INPUT;
    }
    bool bare = allow_bare_seconds || n->type == ZP_INT;
    if (zp_parse_duration(n->str, bare, &ns) || ns < 0) {
        zp_diag_error(d, &n->pos, path, "invalid duration '%s' (use units: 1m30s, 500ms, 2h)",
                      n->str);
        return ZP_E_INPUT;
    }
    char *s = zp_format_duration(ns);
    zp_node_set_scalar(n, ZP_STR, s);
    free(s);
    return 0;
}

int compose__to_size(struct zp_node *n, const char *path, struct zp_diags *d)
{
    int64_t bytes;
    if (n->kind != ZP_NODE_SCALAR || (n->type != ZP_STR && n->type != ZP_INT)) {
        zp_diag_error(d, &n->pos, path, "must be a size such as '512m', not %s",
                      zp_node_type_name(n));
        return ZP_E_INPUT;
    }
    if (n->type == ZP_INT && strcmp(n->str, "-1") == 0)
        return 0;
    if (zp_parse_size(n->str, &bytes)) {
        zp_diag_error(d, &n->pos, path, "invalid size '%s' (use e.g. 512m, 2g, 1.5gb)", n->str);
        return ZP_E_INPUT;
    }
    struct zp_node *c = zp_node_new_int(bytes, &n->pos);
    zp_node_set_scalar(n, ZP_INT, c->str);
    zp_node_free(c);
    return 0;
}

int compose__to_str_list(struct zp_node *n, bool allow_single, const char *path, struct zp_diags *d)
{
    if (allow_single && n->kind == ZP_NODE_SCALAR && n->type != ZP_NULL) {
        if (compose__to_str(n, false, path, d))
            return ZP_E_INPUT;
        struct zp_node *item = zp_node_copy(n);
        struct zp_node *seq = zp_node_new_seq(&n->pos);
        seq->flags = n->flags;
        item->flags = 0;
        zp_node_push(seq, item);
        zp_node_replace(n, seq);
        return 0;
    }
    if (compose__expect_kind(n, ZP_NODE_SEQ, path, d))
        return ZP_E_INPUT;
    int rc = 0;
    for (size_t i = 0; i < n->n; i++) {
        char *ipath = zp_path_index(path, i);
        if (compose__to_str(n->items[i], false, ipath, d))
            rc = ZP_E_INPUT;
        free(ipath);
    }
    return rc;
}

static bool valid_map_value(struct zp_node *v, bool allow_null)
{
    if (v->kind != ZP_NODE_SCALAR)
        return false;
    if (v->type == ZP_NULL) {
        if (!allow_null)
            zp_node_set_scalar(v, ZP_STR, "");
        return true;
    }
    v->type = ZP_STR;
    return true;
}

int compose__to_str_map(struct zp_node *n, char sep, bool allow_null, const char *path,
                        struct zp_diags *d)
{
    int rc = 0;
    if (n->kind == ZP_NODE_MAP) {
        for (size_t i = 0; i < n->n; i++) {
            struct zp_node *v = n->pairs[i].value;
            if (!valid_map_value(v, allow_null)) {
                char *kpath = zp_path_key(path, n->pairs[i].key->str);
                zp_diag_error(d, &v->pos, kpath, "must be a string, a number or a boolean, not %s",
                              zp_node_type_name(v));
                free(kpath);
                rc = ZP_E_INPUT;
            }
        }
        return rc;
    }
    if (n->kind != ZP_NODE_SEQ) {
        zp_diag_error(d, &n->pos, path, "must be a mapping or a list of 'KEY%cVALUE', not %s", sep,
                      zp_node_type_name(n));
        return ZP_E_INPUT;
    }
    struct zp_node *map = zp_node_new_map(&n->pos);
    map->flags = n->flags;
    for (size_t i = 0; i < n->n; i++) {
        struct zp_node *item = n->items[i];
        char *ipath = zp_path_index(path, i);
        if (item->kind != ZP_NODE_SCALAR || item->type == ZP_NULL) {
            zp_diag_error(d, &item->pos, ipath, "must be a string 'KEY%cVALUE', not %s", sep,
                          zp_node_type_name(item));
            rc = ZP_E_INPUT;
            free(ipath);
            continue;
        }
        const char *eq = strchr(item->str, sep);
        char *key = eq ? zp_strndup(item->str, (size_t)(eq - item->str)) : zp_strdup(item->str);
        struct zp_node *val;
        if (eq)
            val = zp_node_new_str(eq + 1, &item->pos);
        else if (allow_null)
            val = zp_node_new_null(&item->pos);
        else
            val = zp_node_new_str("", &item->pos);
        if (!*key) {
            zp_diag_error(d, &item->pos, ipath, "'%s' has an empty key", item->str);
            rc = ZP_E_INPUT;
            zp_node_free(val);
        } else if (zp_node_index(map, key) >= 0) {
            /* later entries win, as in compose */
            zp_node_set(map, key, val);
        } else {
            zp_node_append_pair(map, zp_node_new_str(key, &item->pos), val);
        }
        free(key);
        free(ipath);
    }
    zp_node_replace(n, map);
    return rc;
}

int compose__shell_split(const char *s, const struct zp_pos *pos, struct zp_node **ret_seq)
{
    struct zp_node *seq = zp_node_new_seq(pos);
    struct zp_buf word = ZP_BUF_INIT;
    bool in_word = false;
    const char *p = s;
    while (*p) {
        char c = *p;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (in_word) {
                zp_node_push(seq, zp_node_new_strn(zp_buf_cstr(&word), word.len, pos));
                zp_buf_reset(&word);
                in_word = false;
            }
            p++;
            continue;
        }
        in_word = true;
        if (c == '\'') {
            const char *end = strchr(p + 1, '\'');
            if (!end)
                goto unterminated;
            zp_buf_add(&word, p + 1, (size_t)(end - p - 1));
            p = end + 1;
        } else if (c == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1] && strchr("\"\\$`\n", p[1])) {
                    if (p[1] != '\n')
                        zp_buf_addc(&word, p[1]);
                    p += 2;
                    continue;
                }
                zp_buf_addc(&word, *p++);
            }
            if (*p != '"')
                goto unterminated;
            p++;
        } else if (c == '\\') {
            if (p[1] == '\n') {
                p += 2;
                continue;
            }
            if (p[1])
                zp_buf_addc(&word, p[1]);
            p += p[1] ? 2 : 1;
        } else {
            zp_buf_addc(&word, c);
            p++;
        }
    }
    if (in_word)
        zp_node_push(seq, zp_node_new_strn(zp_buf_cstr(&word), word.len, pos));
    zp_buf_release(&word);
    *ret_seq = seq;
    return 0;
unterminated:
    zp_buf_release(&word);
    zp_node_free(seq);
    return ZP_E_INPUT;
}

int compose__to_command(struct zp_node *n, const char *path, struct zp_diags *d)
{
    if (zp_node_is_null(n))
        return 0;
    if (n->kind == ZP_NODE_SCALAR && n->type != ZP_BOOL) {
        struct zp_node *seq;
        if (compose__shell_split(n->str, &n->pos, &seq)) {
            zp_diag_error(d, &n->pos, path, "unterminated quote in '%s'", n->str);
            return ZP_E_INPUT;
        }
        seq->flags = n->flags;
        zp_node_replace(n, seq);
        return 0;
    }
    if (n->kind == ZP_NODE_SEQ)
        return compose__to_str_list(n, false, path, d);
    zp_diag_error(d, &n->pos, path, "must be a string or a list of strings, not %s",
                  zp_node_type_name(n));
    return ZP_E_INPUT;
}

/* File modes are octal as written ("0440", 0440, 0o440); a plain YAML integer without a
 * leading zero is decimal (YAML has already turned 0o/0x integers into decimal text). */
int compose__to_file_mode(struct zp_node *v, const char *path, struct zp_diags *d)
{
    if (v->kind != ZP_NODE_SCALAR || (v->type != ZP_STR && v->type != ZP_INT)) {
        zp_diag_error(d, &v->pos, path, "must be a file mode such as 0440, not %s",
                      zp_node_type_name(v));
        return ZP_E_INPUT;
    }
    const char *s = v->str;
    unsigned base = 8;
    if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
        s += 2;
    } else if (v->type == ZP_INT && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        base = 16;
    } else if (v->type == ZP_INT && !(s[0] == '0' && s[1])) {
        base = 10;
    }
    int64_t mode = 0;
    bool ok = *s != '\0';
    for (const char *p = s; ok && *p; p++) {
        unsigned dv;
        if (*p >= '0' && *p <= '9')
            dv = (unsigned)(*p - '0');
        else if (*p >= 'a' && *p <= 'f')
            dv = (unsigned)(*p - 'a' + 10);
        else if (*p >= 'A' && *p <= 'F')
            dv = (unsigned)(*p - 'A' + 10);
        else
            dv = 99;
        if (dv >= base)
            ok = false;
        else
            mode = mode * base + dv;
        if (mode > 07777)
            ok = false;
    }
    if (!ok) {
        zp_diag_error(d, &v->pos, path, "invalid file mode '%s' (use an octal number such as 0440)",
                      v->str);
        return ZP_E_INPUT;
    }
    struct zp_node *c = zp_node_new_int(mode, &v->pos);
    zp_node_set_scalar(v, ZP_INT, c->str);
    zp_node_free(c);
    return 0;
}

char *compose__abs_path(const struct compose_ctx *ctx, const char *p)
{
    if (p[0] == '~' && (p[1] == '/' || p[1] == '\0')) {
        const char *home = compose_env_get(ctx->env, "HOME");
        if (home && *home)
            return zp_path_join(home, p[1] ? p + 2 : ".");
    }
    if (p[0] == '/')
        return zp_path_clean(p);
    if (ctx->keep_relative_paths)
        return zp_strdup(p);
    return zp_path_join(ctx->basedir, p);
}

/* compose/interp: ${VAR} interpolation of strings and of whole trees, with the
 * Compose Specification's default, required and replacement forms. */
#include "compose-int.h"

#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

#define INTERP_MAX_OUT (1024 * 1024) /* bytes of output per string */
#define INTERP_MAX_DEPTH 32          /* nesting of ${...} inside defaults and messages */
#define INTERP_QUOTE_MAX 120         /* bytes of the input quoted in messages */

/* State of one compose__interp_string call. */
struct interp {
    const struct compose_env *env;
    const struct zp_pos *pos;
    const char *path;
    const char *in; /* the whole input, quoted in messages */
    struct zp_diags *d;
    char **warned; /* variables already warned about in this string */
    size_t nwarned, capwarned;
};

static bool is_name_start(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static size_t name_len(const char *s, size_t len)
{
    if (len == 0 || !is_name_start(s[0]))
        return 0;
    size_t i = 1;
    while (i < len && is_name_char(s[i]))
        i++;
    return i;
}

/* Report a malformed ${...}: the whole input is quoted, shortened when long. */
static int fail_format(struct interp *ip)
{
    size_t n = strlen(ip->in);
    int shown = n > INTERP_QUOTE_MAX ? INTERP_QUOTE_MAX : (int)n;
    zp_diag_error(ip->d, ip->pos, ip->path, "invalid interpolation format: '%.*s%s'", shown, ip->in,
                  n > INTERP_QUOTE_MAX ? "..." : "");
    return ZP_E_INPUT;
}

static int fail_toobig(struct interp *ip)
{
    zp_diag_error(ip->d, ip->pos, ip->path, "interpolated value too big: more than %d bytes",
                  INTERP_MAX_OUT);
    return ZP_E_INPUT;
}

static void warn_unset(struct interp *ip, const char *name, size_t len)
{
    for (size_t i = 0; i < ip->nwarned; i++)
        if (strlen(ip->warned[i]) == len && memcmp(ip->warned[i], name, len) == 0)
            return;
    zp_grow((void **)&ip->warned, &ip->capwarned, ip->nwarned + 1, sizeof(*ip->warned));
    ip->warned[ip->nwarned++] = zp_strndup(name, len);
    zp_diag_warn(ip->d, ip->pos, ip->path, "variable '%.*s' is not set, using an empty string",
                 (int)len, name);
}

static int add(struct interp *ip, struct zp_buf *out, const char *s, size_t len)
{
    return zp_buf_add(out, s, len) == 0 ? 0 : fail_toobig(ip);
}

/* Index of the '}' closing the "${" that ends just before s[0], or len when there is
 * none. Only "${" opens a level; "$$" is skipped so that "$${" does not. */
static size_t find_close(const char *s, size_t len)
{
    int depth = 1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '$' && i + 1 < len && (s[i + 1] == '$' || s[i + 1] == '{')) {
            if (s[i + 1] == '{')
                depth++;
            i++;
        } else if (s[i] == '}' && --depth == 0) {
            return i;
        }
    }
    return len;
}

static int expand(struct interp *ip, const char *s, size_t len, int depth, struct zp_buf *out);

/* The body of "${...}" (between the braces): NAME, or NAME followed by one of the
 * operators :- - :? ? :+ + and an argument that is itself interpolated when used. */
static int expand_braced(struct interp *ip, const char *s, size_t len, int depth,
                         struct zp_buf *out)
{
    size_t nl = name_len(s, len);
    if (nl == 0)
        return fail_format(ip);
    const char *val = NULL;
    if (ip->env) {
        char *name = zp_strndup(s, nl);
        val = compose_env_get(ip->env, name);
        free(name);
    }
    if (nl == len) {
        if (!val) {
            warn_unset(ip, s, nl);
            return 0;
        }
        return add(ip, out, val, strlen(val));
    }

    size_t i = nl;
    bool colon = false;
    if (s[i] == ':') {
        colon = true;
        i++;
    }
    if (i >= len || (s[i] != '-' && s[i] != '?' && s[i] != '+'))
        return fail_format(ip);
    char op = s[i++];
    const char *arg = s + i;
    size_t arglen = len - i;
    /* With a colon, an empty value counts as unset. */
    bool set = val && (!colon || *val);
    if (depth + 1 > INTERP_MAX_DEPTH) {
        zp_diag_error(ip->d, ip->pos, ip->path,
                      "interpolation nested too deeply: more than %d levels", INTERP_MAX_DEPTH);
        return ZP_E_INPUT;
    }

    switch (op) {
    case '-':
        if (set)
            return add(ip, out, val, strlen(val));
        return expand(ip, arg, arglen, depth + 1, out);
    case '+':
        if (set)
            return expand(ip, arg, arglen, depth + 1, out);
        return 0;
    default: /* '?' */
        break;
    }
    if (set)
        return add(ip, out, val, strlen(val));
    struct zp_buf msg;
    zp_buf_init(&msg, INTERP_MAX_OUT);
    int rc = expand(ip, arg, arglen, depth + 1, &msg);
    if (rc == 0) {
        if (msg.len)
            zp_diag_error(ip->d, ip->pos, ip->path,
                          "required variable '%.*s' is missing a value: %s", (int)nl, s,
                          zp_buf_cstr(&msg));
        else
            zp_diag_error(ip->d, ip->pos, ip->path, "required variable '%.*s' is missing a value",
                          (int)nl, s);
        rc = ZP_E_INPUT;
    }
    zp_buf_release(&msg);
    return rc;
}

/* Append the interpolation of s[0..len) to out. */
static int expand(struct interp *ip, const char *s, size_t len, int depth, struct zp_buf *out)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] != '$') {
            const char *dollar = memchr(s + i, '$', len - i);
            size_t run = dollar ? (size_t)(dollar - (s + i)) : len - i;
            if (add(ip, out, s + i, run) != 0)
                return ZP_E_INPUT;
            i += run;
            continue;
        }
        if (i + 1 >= len) {
            if (add(ip, out, "$", 1) != 0)
                return ZP_E_INPUT;
            i++;
        } else if (s[i + 1] == '$') {
            if (add(ip, out, "$", 1) != 0)
                return ZP_E_INPUT;
            i += 2;
        } else if (s[i + 1] == '{') {
            size_t start = i + 2;
            size_t close = find_close(s + start, len - start);
            if (close == len - start)
                return fail_format(ip);
            int rc = expand_braced(ip, s + start, close, depth, out);
            if (rc != 0)
                return rc;
            i = start + close + 1;
        } else {
            size_t nl = name_len(s + i + 1, len - i - 1);
            if (nl == 0) {
                /* Not a variable: keep the '$' as written. */
                if (add(ip, out, "$", 1) != 0)
                    return ZP_E_INPUT;
                i++;
                continue;
            }
            int rc = expand_braced(ip, s + i + 1, nl, depth, out);
            if (rc != 0)
                return rc;
            i += 1 + nl;
        }
    }
    return 0;
}

int compose__interp_string(const char *in, const struct compose_env *env, const struct zp_pos *pos,
                           const char *path, char **ret, struct zp_diags *d)
{
    if (!strchr(in, '$')) {
        *ret = zp_strdup(in);
        return 0;
    }
    struct interp ip = {
        .env = env, .pos = pos, .path = path && *path ? path : NULL, .in = in, .d = d};
    struct zp_buf out;
    zp_buf_init(&out, INTERP_MAX_OUT);
    int rc = expand(&ip, in, strlen(in), 0, &out);
    for (size_t i = 0; i < ip.nwarned; i++)
        free(ip.warned[i]);
    free(ip.warned);
    if (rc != 0) {
        zp_buf_release(&out);
        return ZP_E_INPUT;
    }
    *ret = zp_buf_detach(&out, NULL);
    return 0;
}

static int interp_scalar(struct zp_node *n, const struct compose_env *env, const char *path,
                         struct zp_diags *d)
{
    if (!n->str || !strchr(n->str, '$'))
        return 0;
    char *text = NULL;
    int rc = compose__interp_string(n->str, env, &n->pos, path, &text, d);
    if (rc != 0)
        return rc;
    if (strcmp(text, n->str) != 0) {
        enum zp_scalar_type type = n->type;
        /* A plain scalar is typed again (`replicas: ${N}` is a number). An empty result
         * stays an empty string: `KEY: ${UNSET}` means "", not null. */
        if (!(n->flags & ZP_NODE_QUOTED))
            type = *text ? compose__yaml_resolve(text) : ZP_STR;
        zp_node_set_scalar(n, type, text);
    }
    free(text);
    return 0;
}

/* Keys are not interpolated (as in Compose), but `$$` in a key reads as `$`: config prints
 * every `$` of its output doubled, keys included, and its output reads back the same. A
 * key that would then equal another key of the map is left as written. */
static void unescape_key(const struct zp_node *map, struct zp_node *key)
{
    if (key->kind != ZP_NODE_SCALAR || !key->str || !strstr(key->str, "$$"))
        return;
    char *u = zp_strdup(key->str);
    size_t j = 0;
    for (size_t i = 0; key->str[i]; i++) {
        u[j++] = key->str[i];
        if (key->str[i] == '$' && key->str[i + 1] == '$')
            i++;
    }
    u[j] = '\0';
    if (zp_node_index(map, u) < 0)
        zp_node_set_scalar(key, key->type, u);
    free(u);
}

static int interp_node(struct zp_node *n, const struct compose_env *env, const char *path,
                       struct zp_diags *d)
{
    if (!n || (n->flags & ZP_NODE_NOINTERP))
        return 0;
    int rc = 0;
    switch (n->kind) {
    case ZP_NODE_SCALAR:
        return interp_scalar(n, env, path, d);
    case ZP_NODE_SEQ:
        for (size_t i = 0; i < n->n; i++) {
            char *child = zp_path_index(path, i);
            if (interp_node(n->items[i], env, child, d) != 0)
                rc = ZP_E_INPUT;
            free(child);
        }
        break;
    case ZP_NODE_MAP:
        for (size_t i = 0; i < n->n; i++) {
            struct zp_node *key = n->pairs[i].key;
            unescape_key(n, key);
            char *child = zp_path_key(path, key && key->str ? key->str : "");
            if (interp_node(n->pairs[i].value, env, child, d) != 0)
                rc = ZP_E_INPUT;
            free(child);
        }
        break;
    }
    return rc;
}

int compose__interp_tree(struct zp_node *root, const struct compose_env *env, const char *path,
                         struct zp_diags *d)
{
    return interp_node(root, env, path ? path : "", d);
}

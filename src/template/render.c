/* template/render: a Coolify template into the compose file zpanel deploys. The magic
 * variables stay `${SERVICE_...}` references in the compose file; their values go into the
 * project's stored state, sealed (so a redeploy finds the same ones), and into the rendered
 * environment: `zpanel init` writes it as the stack's .env (so the user can read and edit
 * it), `template deploy` keeps it sealed in the state directory (template_env_save). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "template.h"

#include <sodium.h>

#include "../util/banned.h"

/* One magic variable met in the template, in order of first appearance. */
struct seen {
    char *name; /* the full variable name */
    struct template_magic m;
};

struct render {
    const struct template_render_opts *opts;
    struct compose_env *state;
    struct template_rendered *out;
    struct zp_diags *d;
    struct zp_node *services;
    struct seen *seen;
    size_t nseen;
    char **idents; /* FQDN/URL identifiers, in order of appearance (upper case) */
    size_t nidents;
};

static char *lower_dashed(const char *s)
{
    char *r = zp_strdup(s);
    for (char *p = r; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
        else if (*p == '_')
            *p = '-';
    }
    return r;
}

static char *upper_underscored(const char *s)
{
    char *r = zp_strdup(s);
    for (char *p = r; *p; p++) {
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
        else if (*p == '-' || *p == '.')
            *p = '_';
    }
    return r;
}

static void note_ident(struct render *r, const char *ident)
{
    char *up = upper_underscored(ident);
    for (size_t i = 0; i < r->nidents; i++) {
        if (strcmp(r->idents[i], up) == 0) {
            free(up);
            return;
        }
    }
    r->idents = zp_realloc(r->idents, (r->nidents + 1) * sizeof(*r->idents));
    r->idents[r->nidents++] = up;
}

static void note_magic(struct render *r, const char *name, const struct template_magic *m)
{
    if (m->kind == TEMPLATE_MAGIC_FQDN || m->kind == TEMPLATE_MAGIC_URL)
        note_ident(r, m->ident);
    for (size_t i = 0; i < r->nseen; i++)
        if (strcmp(r->seen[i].name, name) == 0)
            return;
    r->seen = zp_realloc(r->seen, (r->nseen + 1) * sizeof(*r->seen));
    r->seen[r->nseen].name = zp_strdup(name);
    r->seen[r->nseen].m = *m;
    r->nseen++;
}

static void add_route(struct render *r, const char *service, const struct template_magic *m)
{
    char *id = upper_underscored(m->ident);
    int port = m->port ? m->port : 80;
    struct template_rendered *o = r->out;
    for (size_t i = 0; i < o->nroutes; i++) {
        if (strcmp(o->routes[i].service, service) == 0 && strcmp(o->routes[i].host, id) == 0 &&
            o->routes[i].port == port) {
            free(id);
            return;
        }
    }
    o->routes = zp_realloc(o->routes, (o->nroutes + 1) * sizeof(*o->routes));
    /* host holds the identifier until the hosts are known */
    o->routes[o->nroutes++] = (struct template_route){zp_strdup(service), id, port};
}

static void add_var(struct render *r, const char *name, const char *def, size_t deflen,
                    bool has_def, bool required)
{
    struct template_rendered *o = r->out;
    for (size_t i = 0; i < o->nvars; i++) {
        struct template_var *v = &o->vars[i];
        if (strcmp(v->name, name) == 0) {
            v->required = v->required || required;
            if (!v->def && has_def)
                v->def = zp_strndup(def, deflen);
            return;
        }
    }
    o->vars = zp_realloc(o->vars, (o->nvars + 1) * sizeof(*o->vars));
    o->vars[o->nvars++] =
        (struct template_var){zp_strdup(name), has_def ? zp_strndup(def, deflen) : NULL, required};
}

static bool name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

/* The references of one string: ${NAME}, ${NAME:-def}, ${NAME-def}, ${NAME:?msg},
 * ${NAME?msg}, ${NAME:+alt}, $NAME; $$ is a literal '$'. Defaults are scanned too
 * (nested references). service: the service the string belongs to (routes), or NULL. */
static void scan_string(struct render *r, const char *s, size_t n, const char *service,
                        bool in_env_value, int depth)
{
    if (depth > 8)
        return;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '$' || i + 1 >= n)
            continue;
        if (s[i + 1] == '$') {
            i++;
            continue;
        }
        size_t start, end;
        bool braced = s[i + 1] == '{';
        start = i + 1 + (braced ? 1 : 0);
        if (start >= n || !name_start(s[start]))
            continue;
        end = start;
        while (end < n && name_char(s[end]))
            end++;
        char *name = zp_strndup(s + start, end - start);
        const char *def = NULL;
        size_t deflen = 0;
        bool has_def = false, required = false;
        size_t next = end;
        if (braced) {
            /* find the closing brace (nested ones counted) */
            size_t k = end, level = 1;
            while (k < n && level) {
                if (s[k] == '{')
                    level++;
                else if (s[k] == '}')
                    level--;
                if (level)
                    k++;
            }
            size_t op = end;
            if (op < n && s[op] == ':')
                op++;
            if (op < k && s[op] == '-') {
                has_def = true;
                def = s + op + 1;
                deflen = k - (op + 1);
            } else if (op < k && s[op] == '?') {
                required = true;
            } else if (op < k && s[op] == '+') {
                def = s + op + 1;
                deflen = k - (op + 1);
            }
            next = k;
        }
        struct template_magic m;
        if (template_magic_parse(name, &m)) {
            note_magic(r, name, &m);
            if (service && in_env_value && m.port &&
                (m.kind == TEMPLATE_MAGIC_FQDN || m.kind == TEMPLATE_MAGIC_URL))
                add_route(r, service, &m);
        } else {
            add_var(r, name, def, deflen, has_def, required);
        }
        if (def && deflen)
            scan_string(r, def, deflen, service, in_env_value, depth + 1);
        free(name);
        i = next > i ? next - 1 : i;
        if (braced)
            i++;
    }
}

static void scan_tree(struct render *r, const struct zp_node *n, const char *service, bool in_env)
{
    if (!n)
        return;
    switch (n->kind) {
    case ZP_NODE_SCALAR:
        if (n->type == ZP_STR)
            scan_string(r, n->str, n->len, service, in_env, 0);
        break;
    case ZP_NODE_SEQ:
        for (size_t i = 0; i < n->n; i++)
            scan_tree(r, n->items[i], service, in_env);
        break;
    case ZP_NODE_MAP:
        for (size_t i = 0; i < n->n; i++)
            scan_tree(r, n->pairs[i].value, service, in_env);
        break;
    }
}

/* `environment`: magic names as keys get their value (`- SERVICE_FQDN_APP_8080` or
 * `SERVICE_PASSWORD_DB:` with no value); FQDN/URL keys route the service. */
static void env_keys(struct render *r, struct zp_node *env, const char *service)
{
    if (zp_node_is_map(env)) {
        for (size_t i = 0; i < env->n; i++) {
            struct template_magic m;
            const char *key = env->pairs[i].key->str;
            if (!template_magic_parse(key, &m))
                continue;
            note_magic(r, key, &m);
            if (m.kind == TEMPLATE_MAGIC_FQDN || m.kind == TEMPLATE_MAGIC_URL)
                add_route(r, service, &m);
            struct zp_node *v = env->pairs[i].value;
            /* a key without a value ("SERVICE_PASSWORD_X:"): the reference fills it */
            if (v != NULL && (zp_node_is_null(v) || (zp_node_is_scalar(v) && v->len == 0))) {
                char *ref = zp_asprintf("${%s}", key);
                zp_node_replace(v, zp_node_new_str(ref, &v->pos));
                free(ref);
            }
        }
    } else if (zp_node_is_seq(env)) {
        for (size_t i = 0; i < env->n; i++) {
            struct zp_node *it = env->items[i];
            if (!zp_node_is_scalar(it))
                continue;
            const char *eq = strchr(it->str, '=');
            char *key = eq ? zp_strndup(it->str, (size_t)(eq - it->str)) : zp_strdup(it->str);
            struct template_magic m;
            if (template_magic_parse(key, &m)) {
                note_magic(r, key, &m);
                if (m.kind == TEMPLATE_MAGIC_FQDN || m.kind == TEMPLATE_MAGIC_URL)
                    add_route(r, service, &m);
                if (!eq || eq[1] == '\0') {
                    char *full = zp_asprintf("%s=${%s}", key, key);
                    zp_node_set_scalar(it, ZP_STR, full);
                    free(full);
                }
            }
            free(key);
        }
    }
}

static bool named_source(const char *s)
{
    return *s && *s != '.' && *s != '/' && *s != '~' && *s != '$' && !strchr(s, '/');
}

static void declare_volume(struct zp_node *doc, const char *name)
{
    struct zp_node *vols = zp_node_get(doc, "volumes");
    if (!vols || zp_node_is_null(vols)) {
        zp_node_set(doc, "volumes", zp_node_new_map(NULL));
        vols = zp_node_get(doc, "volumes");
    }
    if (!zp_node_is_map(vols) || zp_node_get(vols, name))
        return;
    zp_node_set(vols, name, zp_node_new_map(NULL));
}

static bool node_truthy(const struct zp_node *n)
{
    return n && zp_node_is_scalar(n) &&
           (strcmp(n->str, "true") == 0 || strcmp(n->str, "True") == 0 ||
            strcmp(n->str, "TRUE") == 0 || strcmp(n->str, "yes") == 0);
}

static void add_file(struct render *r, const char *path, const char *content, bool is_dir)
{
    struct template_rendered *o = r->out;
    for (size_t i = 0; i < o->nfiles; i++)
        if (strcmp(o->files[i].path, path) == 0)
            return;
    o->files = zp_realloc(o->files, (o->nfiles + 1) * sizeof(*o->files));
    o->files[o->nfiles++] =
        (struct template_file){zp_strdup(path), content ? zp_strdup(content) : NULL, is_dir};
}

/* A bind source for `content` / `is_directory`: relative, inside the project directory. */
static char *project_path(const char *src)
{
    if (!src || !*src || src[0] == '/' || src[0] == '~' || strchr(src, '$'))
        return NULL;
    char *c = zp_path_clean(src);
    if (strcmp(c, ".") == 0 || strcmp(c, "..") == 0 || zp_str_has_prefix(c, "../")) {
        free(c);
        return NULL;
    }
    return c;
}

static void volumes_of(struct render *r, struct zp_node *doc, struct zp_node *vols,
                       const char *path)
{
    if (!zp_node_is_seq(vols))
        return;
    for (size_t i = 0; i < vols->n; i++) {
        struct zp_node *v = vols->items[i];
        char *ipath = zp_path_index(path, i);
        if (zp_node_is_scalar(v)) {
            const char *colon = strchr(v->str, ':');
            if (colon) {
                char *src = zp_strndup(v->str, (size_t)(colon - v->str));
                if (named_source(src))
                    declare_volume(doc, src);
                free(src);
            }
        } else if (zp_node_is_map(v)) {
            struct zp_node *content = zp_node_take(v, "content");
            struct zp_node *isdir = zp_node_take(v, "is_directory");
            struct zp_node *isdir2 = zp_node_take(v, "isDirectory");
            const char *type = zp_node_get_str(v, "type");
            const char *src = zp_node_get_str(v, "source");
            bool dir = node_truthy(isdir) || node_truthy(isdir2);
            if (content || dir) {
                char *rel = project_path(src);
                if (!rel) {
                    zp_diag_error(r->d, &v->pos, ipath,
                                  "'%s' with content or is_directory must be a relative path "
                                  "inside the project directory",
                                  src ? src : "(no source)");
                } else if (content && !zp_node_is_scalar(content)) {
                    zp_diag_error(r->d, &content->pos, ipath, "content must be a string");
                } else {
                    add_file(r, rel, content && !dir ? content->str : NULL, dir);
                    if (content && !dir) /* its magic references get values (below) */
                        scan_string(r, content->str, content->len, NULL, false, 0);
                    if (!type)
                        zp_node_set(v, "type", zp_node_new_str("bind", &v->pos));
                }
                free(rel);
            } else if (src && (!type || strcmp(type, "volume") == 0) && named_source(src)) {
                declare_volume(doc, src);
            }
            zp_node_free(content);
            zp_node_free(isdir);
            zp_node_free(isdir2);
        }
        free(ipath);
    }
}

static bool listed(char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* --minimal: keep the header's `minimal` services; drop dependencies on the others. */
static int minimal(struct render *r, const struct zp_node *doc)
{
    const struct template_header *h = &r->out->header;
    if (h->nminimal == 0) {
        zp_diag_error(r->d, &doc->pos, NULL,
                      "this template has no minimal mode (no '# minimal:' header)");
        return ZP_E_INPUT;
    }
    for (size_t i = 0; i < h->nminimal; i++) {
        if (!zp_node_get(r->services, h->minimal[i])) {
            zp_diag_error(r->d, &doc->pos, NULL, "header 'minimal': no service '%s'",
                          h->minimal[i]);
            return ZP_E_INPUT;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < r->services->n; i++) {
        if (listed(h->minimal, h->nminimal, r->services->pairs[i].key->str)) {
            r->services->pairs[k++] = r->services->pairs[i];
        } else {
            zp_node_free(r->services->pairs[i].key);
            zp_node_free(r->services->pairs[i].value);
        }
    }
    r->services->n = k;
    zp_node_sort_keys(r->services); /* refreshes the key index */
    for (size_t i = 0; i < r->services->n; i++) {
        struct zp_node *dep = zp_node_get(r->services->pairs[i].value, "depends_on");
        if (zp_node_is_map(dep)) {
            size_t j = 0;
            for (size_t q = 0; q < dep->n; q++) {
                if (zp_node_get(r->services, dep->pairs[q].key->str)) {
                    dep->pairs[j++] = dep->pairs[q];
                } else {
                    zp_node_free(dep->pairs[q].key);
                    zp_node_free(dep->pairs[q].value);
                }
            }
            dep->n = j;
            zp_node_sort_keys(dep);
        } else if (zp_node_is_seq(dep)) {
            for (size_t q = dep->n; q-- > 0;)
                if (zp_node_is_scalar(dep->items[q]) &&
                    !zp_node_get(r->services, dep->items[q]->str))
                    zp_node_remove_at(dep, q);
        }
        if (dep && dep->n == 0)
            zp_node_del(r->services->pairs[i].value, "depends_on");
    }
    return 0;
}

/* The top-level `x-zpanel: {actions: {NAME: {service, command, description}}}`. */
static void actions_of(struct render *r, struct zp_node *doc)
{
    struct zp_node *x = zp_node_get(doc, "x-zpanel");
    struct zp_node *acts = zp_node_is_map(x) ? zp_node_get(x, "actions") : NULL;
    if (!acts)
        return;
    if (!zp_node_is_map(acts)) {
        zp_diag_error(r->d, &acts->pos, "x-zpanel.actions", "must be a mapping");
        return;
    }
    for (size_t i = 0; i < acts->n; i++) {
        const char *name = acts->pairs[i].key->str;
        struct zp_node *a = acts->pairs[i].value;
        char *path = zp_asprintf("x-zpanel.actions.%s", name);
        const char *svc = zp_node_is_map(a) ? zp_node_get_str(a, "service") : NULL;
        struct zp_node *cmd = zp_node_is_map(a) ? zp_node_get(a, "command") : NULL;
        if (!svc || !zp_node_is_seq(cmd) || cmd->n == 0) {
            zp_diag_error(r->d, &a->pos, path,
                          "an action needs 'service' and 'command' (a non-empty list)");
        } else if (!zp_node_get(r->services, svc)) {
            if (!r->opts->minimal)
                zp_diag_error(r->d, &a->pos, path, "no service '%s'", svc);
        } else {
            struct template_action act = {zp_strdup(name), zp_strdup(svc), NULL, 0, NULL};
            const char *desc = zp_node_get_str(a, "description");
            act.description = desc ? zp_strdup(desc) : NULL;
            act.argv = zp_calloc(cmd->n, sizeof(*act.argv));
            for (size_t k = 0; k < cmd->n; k++)
                act.argv[act.argc++] =
                    zp_strdup(zp_node_is_scalar(cmd->items[k]) ? cmd->items[k]->str : "");
            struct template_rendered *o = r->out;
            o->actions = zp_realloc(o->actions, (o->nactions + 1) * sizeof(*o->actions));
            o->actions[o->nactions++] = act;
        }
        free(path);
    }
}

/* The host of an FQDN/URL identifier: with a domain, the first identifier is the domain
 * itself and the others are IDENT.domain; without one, IDENT-PROJECT.localhost. */
static char *host_of(struct render *r, const char *ident, const char *domain)
{
    char *up = upper_underscored(ident);
    size_t idx = 0;
    for (size_t i = 0; i < r->nidents; i++)
        if (strcmp(r->idents[i], up) == 0)
            idx = i;
    free(up);
    char *low = lower_dashed(ident);
    char *h;
    if (domain && idx == 0)
        h = zp_strdup(domain);
    else if (domain)
        h = zp_asprintf("%s.%s", low, domain);
    else
        h = zp_asprintf("%s-%s.localhost", low, r->opts->project);
    free(low);
    return h;
}

static const char *service_named(struct render *r, const char *ident)
{
    for (size_t i = 0; i < r->services->n; i++) {
        char *up = upper_underscored(r->services->pairs[i].key->str);
        char *id = upper_underscored(ident);
        bool eq = strcmp(up, id) == 0;
        free(up);
        free(id);
        if (eq)
            return r->services->pairs[i].key->str;
    }
    return NULL;
}

static void fill_values(struct render *r)
{
    const char *domain = r->opts->domain;
    if (domain)
        compose_env_set(r->state, "ZPANEL_DOMAIN", domain);
    else
        domain = compose_env_get(r->state, "ZPANEL_DOMAIN");
    for (size_t i = 0; i < r->nseen; i++) {
        const struct seen *s = &r->seen[i];
        char *val = NULL;
        switch (s->m.kind) {
        case TEMPLATE_MAGIC_FQDN:
            val = host_of(r, s->m.ident, domain);
            break;
        case TEMPLATE_MAGIC_URL: {
            char *h = host_of(r, s->m.ident, domain);
            val = zp_asprintf("%s://%s", zp_str_has_suffix(h, ".localhost") ? "http" : "https", h);
            free(h);
            break;
        }
        case TEMPLATE_MAGIC_NAME: {
            const char *svc = service_named(r, s->m.ident);
            val = svc ? zp_strdup(svc) : lower_dashed(s->m.ident);
            break;
        }
        default: {
            char *key = template_magic_key(&s->m);
            const char *stored = compose_env_get(r->state, key);
            if (stored) {
                val = zp_strdup(stored);
            } else {
                val = template_magic_random(&s->m);
                compose_env_set(r->state, key, val);
            }
            free(key);
            break;
        }
        }
        compose_env_set(&r->out->env, s->name, val);
        free(val);
    }
    /* the routes' hosts */
    for (size_t i = 0; i < r->out->nroutes; i++) {
        struct template_route *rt = &r->out->routes[i];
        char *h = host_of(r, rt->host, domain);
        free(rt->host);
        rt->host = h;
    }
}

/* In a file's content, `${SERVICE_...}` references to magic variables (exactly that
 * form) become their values; everything else is kept as written (a script's $VARS). */
static void fill_contents(struct render *r)
{
    for (size_t i = 0; i < r->out->nfiles; i++) {
        struct template_file *f = &r->out->files[i];
        if (!f->content || !strstr(f->content, "${SERVICE_"))
            continue;
        struct zp_buf b = ZP_BUF_INIT;
        const char *p = f->content;
        while (*p) {
            const char *end = NULL;
            if (p[0] == '$' && p[1] == '{' && zp_str_has_prefix(p + 2, "SERVICE_")) {
                const char *q = p + 2;
                while (name_char(*q))
                    q++;
                if (*q == '}')
                    end = q;
            }
            if (end) {
                char *name = zp_strndup(p + 2, (size_t)(end - (p + 2)));
                const char *v = compose_env_get(&r->out->env, name);
                free(name);
                if (v) {
                    zp_buf_adds(&b, v);
                    p = end + 1;
                    continue;
                }
            }
            zp_buf_addc(&b, *p++);
        }
        free(f->content);
        f->content = zp_buf_detach(&b, NULL);
    }
}

static void attach_routes(struct render *r)
{
    for (size_t i = 0; i < r->out->nroutes; i++) {
        const struct template_route *rt = &r->out->routes[i];
        struct zp_node *svc = zp_node_get(r->services, rt->service);
        if (!zp_node_is_map(svc))
            continue;
        struct zp_node *x = zp_node_get(svc, "x-zpanel");
        if (!zp_node_is_map(x)) {
            zp_node_set(svc, "x-zpanel", zp_node_new_map(NULL));
            x = zp_node_get(svc, "x-zpanel");
        }
        struct zp_node *routes = zp_node_get(x, "routes");
        if (!zp_node_is_seq(routes)) {
            zp_node_set(x, "routes", zp_node_new_seq(NULL));
            routes = zp_node_get(x, "routes");
        }
        struct zp_node *one = zp_node_new_map(NULL);
        zp_node_set(one, "host", zp_node_new_str(rt->host, NULL));
        zp_node_set(one, "port", zp_node_new_int(rt->port, NULL));
        zp_node_push(routes, one);
        if (zp_str_has_suffix(rt->host, ".localhost") && !zp_node_get(x, "tls"))
            zp_node_set(x, "tls", zp_node_new_str("internal", NULL));
    }
}

int template_render(const char *file, const char *text, size_t len,
                    const struct template_render_opts *opts, struct compose_env *state,
                    struct template_rendered *ret, struct zp_diags *d)
{
    struct template_rendered out;
    memset(&out, 0, sizeof(out));
    compose_env_init(&out.env);
    struct render r = {opts, state, &out, d, NULL, NULL, 0, NULL, 0};
    size_t errors0 = d->errors;
    int rc = 0;
    struct zp_node *doc = NULL;
    if (len > TEMPLATE_MAX_SIZE) {
        zp_diag_error(d, NULL, NULL, "'%s': template larger than %d bytes", file,
                      TEMPLATE_MAX_SIZE);
        rc = ZP_E_TOOBIG;
        goto fail;
    }
    for (size_t i = 0; opts->set && i < opts->set->n; i++) {
        const char *k = opts->set->keys[i];
        bool ok = name_start(*k);
        for (const char *q = k; *q && ok; q++)
            ok = name_char(*q);
        if (!ok || strlen(k) > 256) {
            zp_diag_error(d, NULL, NULL, "--set '%s': not a variable name (letters, digits, '_')",
                          k);
            rc = ZP_E_INPUT;
            goto fail;
        }
        if (strchr(opts->set->vals[i], '\n') || strchr(opts->set->vals[i], '\r')) {
            zp_diag_error(d, NULL, NULL, "--set %s: a value cannot hold a line break",
                          opts->set->keys[i]);
            rc = ZP_E_INPUT;
            goto fail;
        }
    }
    if ((rc = template_header_parse(file, text, len, &out.header, d)) != 0)
        goto fail;
    if ((rc = compose_yaml_parse(file, text, len, &doc, d)) != 0)
        goto fail;
    r.services = zp_node_get(doc, "services");
    if (!zp_node_is_map(r.services) || r.services->n == 0) {
        zp_diag_error(d, &doc->pos, "services", "a template needs a 'services' mapping");
        rc = ZP_E_INPUT;
        goto fail;
    }
    if (opts->minimal && (rc = minimal(&r, doc)) != 0)
        goto fail;
    for (size_t i = 0; i < r.services->n; i++) {
        const char *name = r.services->pairs[i].key->str;
        struct zp_node *svc = r.services->pairs[i].value;
        if (!zp_node_is_map(svc))
            continue;
        char *path = zp_path_key("services", name);
        struct zp_node *hc = zp_node_take(svc, "exclude_from_hc");
        if (node_truthy(hc)) {
            out.hc_excluded = zp_realloc(out.hc_excluded, (out.nhc_excluded + 1) * sizeof(char *));
            out.hc_excluded[out.nhc_excluded++] = zp_strdup(name);
            /* carried as zpanel's own mark: health verdicts and --wait leave it out */
            struct zp_node *x = zp_node_get(svc, "x-zpanel");
            if (!zp_node_is_map(x)) {
                zp_node_set(svc, "x-zpanel", zp_node_new_map(NULL));
                x = zp_node_get(svc, "x-zpanel");
            }
            zp_node_set(x, "exclude_from_health", zp_node_new_bool(true, NULL));
        }
        zp_node_free(hc);
        char *vpath = zp_path_key(path, "volumes");
        volumes_of(&r, doc, zp_node_get(svc, "volumes"), vpath);
        free(vpath);
        env_keys(&r, zp_node_get(svc, "environment"), name);
        for (size_t k = 0; k < svc->n; k++) {
            const char *key = svc->pairs[k].key->str;
            bool env = strcmp(key, "environment") == 0;
            scan_tree(&r, svc->pairs[k].value, name, env);
        }
        free(path);
    }
    /* everything outside the services (networks, configs, x-*) may name variables too */
    for (size_t i = 0; i < doc->n; i++)
        if (strcmp(doc->pairs[i].key->str, "services") != 0)
            scan_tree(&r, doc->pairs[i].value, NULL, false);
    actions_of(&r, doc);
    if (d->errors > errors0) {
        rc = ZP_E_INPUT;
        goto fail;
    }
    fill_values(&r);
    fill_contents(&r);
    attach_routes(&r);
    for (size_t i = 0; i < out.nvars; i++) {
        const struct template_var *v = &out.vars[i];
        const char *set = opts->set ? compose_env_get(opts->set, v->name) : NULL;
        if (!set)
            set = compose_env_get(state, v->name);
        if (set) {
            compose_env_set(&out.env, v->name, set);
            compose_env_set(state, v->name, set); /* a --set value is kept for redeploys */
        } else if (v->required && !opts->missing_ok) {
            zp_diag_error(d, NULL, NULL,
                          "'%s': required variable '%s' has no value: give it with --set %s=VALUE",
                          file, v->name, v->name);
        }
    }
    if (opts->set) {
        for (size_t i = 0; i < opts->set->n; i++) {
            compose_env_set(&out.env, opts->set->keys[i], opts->set->vals[i]);
            compose_env_set(state, opts->set->keys[i], opts->set->vals[i]);
        }
    }
    if (d->errors > errors0) {
        rc = ZP_E_INPUT;
        goto fail;
    }
    if (opts->project)
        zp_node_set(doc, "name", zp_node_new_str(opts->project, NULL));
    out.model = doc;
    doc = NULL;
    for (size_t i = 0; i < r.nseen; i++)
        free(r.seen[i].name);
    free(r.seen);
    for (size_t i = 0; i < r.nidents; i++)
        free(r.idents[i]);
    free(r.idents);
    *ret = out;
    return 0;
fail:
    if (rc == 0)
        rc = ZP_E_INPUT;
    zp_node_free(doc);
    for (size_t i = 0; i < r.nseen; i++)
        free(r.seen[i].name);
    free(r.seen);
    for (size_t i = 0; i < r.nidents; i++)
        free(r.idents[i]);
    free(r.idents);
    template_rendered_release(&out);
    return rc;
}

void template_rendered_release(struct template_rendered *r)
{
    if (!r)
        return;
    template_header_release(&r->header);
    zp_node_free(r->model);
    compose_env_release(&r->env);
    for (size_t i = 0; i < r->nfiles; i++) {
        free(r->files[i].path);
        free(r->files[i].content);
    }
    free(r->files);
    for (size_t i = 0; i < r->nvars; i++) {
        free(r->vars[i].name);
        free(r->vars[i].def);
    }
    free(r->vars);
    for (size_t i = 0; i < r->nroutes; i++) {
        free(r->routes[i].service);
        free(r->routes[i].host);
    }
    free(r->routes);
    for (size_t i = 0; i < r->nactions; i++) {
        free(r->actions[i].name);
        free(r->actions[i].service);
        free(r->actions[i].description);
        for (size_t k = 0; k < r->actions[i].argc; k++)
            free(r->actions[i].argv[k]);
        free(r->actions[i].argv);
    }
    free(r->actions);
    for (size_t i = 0; i < r->nhc_excluded; i++)
        free(r->hc_excluded[i]);
    free(r->hc_excluded);
    memset(r, 0, sizeof(*r));
}

int template_rendered_yaml(const struct template_rendered *r, struct zp_buf *out)
{
    return compose_emit_yaml(r->model, out);
}

void template_rendered_envfile(const struct template_rendered *r, struct zp_buf *out)
{
    for (size_t i = 0; i < r->env.n; i++) {
        /* single quotes: taken literally by compose's .env reader */
        const char *v = r->env.vals[i];
        if (strchr(v, '\'') || strchr(v, '\n'))
            zp_buf_addf(out, "%s=\"", r->env.keys[i]);
        else
            zp_buf_addf(out, "%s='", r->env.keys[i]);
        if (strchr(v, '\'') || strchr(v, '\n')) {
            for (const char *p = v; *p; p++) {
                if (*p == '"' || *p == '\\' || *p == '$')
                    zp_buf_addc(out, '\\');
                if (*p == '\n')
                    zp_buf_adds(out, "\\n");
                else
                    zp_buf_addc(out, *p);
            }
            zp_buf_adds(out, "\"\n");
        } else {
            zp_buf_addf(out, "%s'\n", v);
        }
    }
}

static int write_file(const char *path, const char *data, size_t len, unsigned mode, bool keep,
                      struct zp_err *err)
{
    if (keep && zp_file_exists(path))
        return 0;
    char *tmp = zp_asprintf("%s.zp-tmp", path);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = zp_err_sys(err, "'%s'", tmp);
        goto out;
    }
    if (zp_write_all(fd, data, len) != 0) {
        rc = zp_err_sys(err, "writing '%s'", tmp);
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        rc = zp_err_sys(err, "renaming '%s'", tmp);
        unlink(tmp);
    }
out:
    free(tmp);
    return rc;
}

/* Remove from the .env at path the lines that set one of env's keys (an older zpanel wrote
 * the generated values there in the clear); the file too when no other line is left. */
static int strip_envfile(const char *path, const struct compose_env *env, struct zp_err *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc = zp_file_read(path, TEMPLATE_MAX_SIZE, &data, &len, err);
    if (rc == ZP_E_NOTFOUND) {
        zp_err_init(err);
        return 0;
    }
    if (rc != 0)
        return rc;
    struct zp_buf keep = ZP_BUF_INIT;
    size_t dropped = 0, kept = 0;
    for (char *p = data; *p;) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const char *k = p;
        while (*k == ' ' || *k == '\t')
            k++;
        if (strncmp(k, "export ", 7) == 0)
            k += 7;
        size_t kn = strcspn(k, "= \t\n");
        char *key = zp_strndup(k, kn);
        bool generated = kn > 0 && k[kn] == '=' && compose_env_get(env, key) != NULL;
        free(key);
        if (generated) {
            dropped++;
        } else {
            zp_buf_add(&keep, p, n);
            zp_buf_addc(&keep, '\n');
            if (strspn(p, " \t") < n && *k != '#')
                kept++;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    if (dropped > 0) {
        if (kept == 0) {
            if (unlink(path) != 0)
                rc = zp_err_sys(err, "removing '%s'", path);
        } else {
            rc = write_file(path, zp_buf_cstr(&keep), keep.len, 0600, false, err);
        }
    }
    sodium_memzero(data, len);
    free(data);
    if (keep.p)
        sodium_memzero(keep.p, keep.len);
    zp_buf_release(&keep);
    return rc;
}

int template_write_project(const struct template_rendered *r, const char *dir, bool envfile,
                           struct zp_err *err)
{
    int rc = zp_mkdir_p(dir, 0700, err);
    if (rc != 0)
        return rc;
    struct zp_buf b = ZP_BUF_INIT;
    char *p = NULL;
    if ((rc = template_rendered_yaml(r, &b)) != 0) {
        rc = zp_err_set(err, rc, NULL, "compose file too big");
        goto out;
    }
    p = zp_path_join(dir, "compose.yaml");
    if ((rc = write_file(p, zp_buf_cstr(&b), b.len, 0600, false, err)) != 0)
        goto out;
    zp_buf_reset(&b);
    free(p);
    p = zp_path_join(dir, ".env");
    if (envfile) {
        template_rendered_envfile(r, &b);
        if ((rc = write_file(p, zp_buf_cstr(&b), b.len, 0600, false, err)) != 0)
            goto out;
    } else if ((rc = strip_envfile(p, &r->env, err)) != 0) {
        goto out;
    }
    for (size_t i = 0; i < r->nfiles; i++) {
        free(p);
        p = zp_path_join(dir, r->files[i].path);
        if (r->files[i].is_dir) {
            if ((rc = zp_mkdir_p(p, 0755, err)) != 0)
                goto out;
            continue;
        }
        char *parent = zp_path_dir(p);
        rc = zp_mkdir_p(parent, 0755, err);
        free(parent);
        if (rc != 0)
            goto out;
        const char *c = r->files[i].content;
        if ((rc = write_file(p, c, strlen(c), 0644, true, err)) != 0)
            goto out;
    }
out:
    free(p);
    zp_buf_release(&b);
    return rc;
}

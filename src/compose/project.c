/* compose/project: loading a whole project: file discovery, environment, per-file stages,
 * extends, merge, include, project name, profiles, finalisation and validation. */
#define _GNU_SOURCE
#include "compose-int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/banned.h"

extern char **environ;

#define MAX_FILE_BYTES ((size_t)16 << 20)
#define MAX_INCLUDE_DEPTH 16
#define MAX_EXTENDS_DEPTH 32

/* ---- small string vectors ---- */

struct strv {
    char **v;
    size_t n, cap;
};

static void strv_push(struct strv *s, const char *str)
{
    zp_grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v));
    s->v[s->n++] = zp_strdup(str);
}

static void strv_pop(struct strv *s)
{
    if (s->n > 0)
        free(s->v[--s->n]);
}

static void strv_release(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static long strv_find(const struct strv *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], str) == 0)
            return (long)i;
    return -1;
}

/* ---- the loader ---- */

struct loader {
    const struct compose_options *opts;
    struct zp_diags *d;
    struct strv include_stack; /* absolute compose files on the current include chain */
};

/* The files of one (sub-)project: absolute paths to read, names for messages. */
struct fileset {
    struct strv abs;
    struct strv display;
};

static void fileset_release(struct fileset *fs)
{
    strv_release(&fs->abs);
    strv_release(&fs->display);
}

/* Only blanks, comments and document markers. */
static bool text_is_empty(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
            i++;
        if (i < len && s[i] == '#') {
            while (i < len && s[i] != '\n')
                i++;
        } else if (i + 3 <= len && (memcmp(s + i, "---", 3) == 0 || memcmp(s + i, "...", 3) == 0) &&
                   (i + 3 == len || s[i + 3] == '\n' || s[i + 3] == ' ' || s[i + 3] == '\r')) {
            i += 3;
            continue;
        }
        if (i < len && s[i] != '\n')
            return false;
        i++;
    }
    return true;
}

/* Read, parse, interpolate and normalise one compose file. from locates the reference
 * to the file (include, extends) for messages; NULL for the project's own files. */
static int load_file(struct loader *L, const char *abs, const char *display, const char *basedir,
                     const struct compose_env *env, const struct zp_pos *from,
                     struct zp_node **ret_doc)
{
    struct zp_err err;
    char *data = NULL;
    size_t len = 0;
    struct zp_node *doc = NULL;

    zp_err_init(&err);
    int rc = zp_file_read(abs, MAX_FILE_BYTES, &data, &len, &err);
    if (rc) {
        if (rc == ZP_E_NOTFOUND)
            zp_diag_error(L->d, from, NULL, "compose file '%s' not found", display);
        else
            zp_diag_error(L->d, from, NULL, "%s", err.msg);
        return rc;
    }
    const char *name = zp_intern(display);
    if (text_is_empty(data, len)) {
        /* as Compose: a file with no content is a mistake (a wrong path, a failed write) */
        struct zp_pos pos = {name, 1, 1};
        zp_diag_error(L->d, &pos, NULL, "empty compose file");
        free(data);
        return ZP_E_INPUT;
    }
    struct zp_node **docs = NULL;
    size_t ndocs = 0;
    rc = compose__yaml_parse_docs(name, data, len, NULL, &docs, &ndocs, L->d);
    free(data);
    if (rc)
        return rc;
    /* several documents in one file merge in order, as several files do */
    for (size_t i = 0; i < ndocs; i++) {
        if (!L->opts->no_interpolate && compose__interp_tree(docs[i], env, "", L->d))
            rc = ZP_E_INPUT;
        if (!rc) {
            struct compose_ctx ctx = {name, basedir, env, L->opts->no_normalize_paths};
            rc = compose__normalize_file(docs[i], &ctx, L->d);
        }
    }
    if (rc) {
        for (size_t i = 0; i < ndocs; i++)
            zp_node_free(docs[i]);
        free(docs);
        return rc;
    }
    doc = docs[0];
    for (size_t i = 1; i < ndocs; i++)
        compose__merge(doc, docs[i], false);
    free(docs);
    *ret_doc = doc;
    return 0;
}

/* Load one env file into out; a missing file is an error only when required. */
static int load_env_file(struct loader *L, const char *path, bool required,
                         const struct zp_pos *pos, const char *dpath,
                         const struct compose_env *lookup, struct compose_env *out)
{
    struct zp_err err;
    char *data = NULL;
    size_t len = 0;

    if (!zp_file_exists(path)) {
        if (!required)
            return 0;
        zp_diag_error(L->d, pos, dpath, "env file '%s' not found", path);
        return pos ? ZP_E_INPUT : ZP_E_NOTFOUND;
    }
    zp_err_init(&err);
    int rc = zp_file_read(path, MAX_FILE_BYTES, &data, &len, &err);
    if (rc) {
        zp_diag_error(L->d, pos, dpath, "%s", err.msg);
        return rc;
    }
    rc = compose__dotenv_parse(zp_intern(path), data, len, lookup, out, L->d);
    free(data);
    return rc;
}

/* ---- extends ---- */

struct ext_chain {
    struct strv keys;  /* "file\nservice" being resolved */
    struct strv names; /* their service names, for the cycle message */
};

static int resolve_service(struct loader *L, struct zp_node *services, const char *file_abs,
                           const struct compose_env *env, const char *name,
                           struct ext_chain *chain);

/* The base definition for ext (borrowed from services, or from other_doc that the caller
 * frees), with its own extends resolved first. */
static int find_base(struct loader *L, struct zp_node *services, const char *file_abs,
                     const struct compose_env *env, const char *name, const struct zp_node *ext,
                     struct ext_chain *chain, struct zp_node **ret_other_doc,
                     const struct zp_node **ret_base)
{
    const char *base_name = NULL, *base_file = NULL;
    char *path = zp_asprintf("services.%s.extends", name);
    int rc = 0;

    if (zp_node_is_str(ext)) {
        base_name = ext->str;
    } else if (zp_node_is_map(ext)) {
        base_name = zp_node_get_str(ext, "service");
        base_file = zp_node_get_str(ext, "file");
    }
    if (!base_name) {
        zp_diag_error(L->d, &ext->pos, path, "'service' is required");
        rc = ZP_E_INPUT;
        goto out;
    }
    if (base_file) {
        char *dir = zp_path_dir(file_abs);
        char *abs = zp_path_join(dir, base_file);
        char *absdir = zp_path_dir(abs);
        free(dir);
        rc = load_file(L, abs, abs, absdir, env, &ext->pos, ret_other_doc);
        free(absdir);
        if (rc) {
            free(abs);
            goto out;
        }
        struct zp_node *osvcs = zp_node_get(*ret_other_doc, "services");
        if (!osvcs || !zp_node_is_map(osvcs) || zp_node_index(osvcs, base_name) < 0) {
            zp_diag_error(L->d, &ext->pos, path,
                          "service '%s' extends service '%s', which is not defined in '%s'", name,
                          base_name, base_file);
            free(abs);
            rc = ZP_E_INPUT;
            goto out;
        }
        rc = resolve_service(L, osvcs, abs, env, base_name, chain);
        free(abs);
        if (!rc)
            *ret_base = zp_node_get(osvcs, base_name);
        goto out;
    }
    if (zp_node_index(services, base_name) < 0) {
        zp_diag_error(L->d, &ext->pos, path, "service '%s' extends undefined service '%s'", name,
                      base_name);
        rc = ZP_E_INPUT;
        goto out;
    }
    rc = resolve_service(L, services, file_abs, env, base_name, chain);
    if (!rc)
        *ret_base = zp_node_get(services, base_name);
out:
    free(path);
    return rc;
}

/* Resolve services[name]'s extends (recursively), merging it over its base in place. */
static int resolve_service(struct loader *L, struct zp_node *services, const char *file_abs,
                           const struct compose_env *env, const char *name, struct ext_chain *chain)
{
    long idx = zp_node_index(services, name);
    struct zp_node *svc = idx >= 0 ? services->pairs[idx].value : NULL;
    struct zp_node *ext = svc && zp_node_is_map(svc) ? zp_node_get(svc, "extends") : NULL;
    struct zp_node *other_doc = NULL;
    const struct zp_node *base = NULL;
    char *key;
    int rc;

    if (!ext)
        return 0;
    key = zp_asprintf("%s\n%s", file_abs, name);
    long seen = strv_find(&chain->keys, key);
    if (seen >= 0 || chain->keys.n >= MAX_EXTENDS_DEPTH) {
        struct zp_buf b = ZP_BUF_INIT;
        char *path = zp_asprintf("services.%s.extends", name);
        for (size_t i = seen >= 0 ? (size_t)seen : 0; i < chain->names.n; i++)
            (void)zp_buf_addf(&b, "%s -> ", chain->names.v[i]);
        (void)zp_buf_adds(&b, name);
        if (seen >= 0)
            zp_diag_error(L->d, &ext->pos, path, "extends cycle: %s", zp_buf_cstr(&b));
        else
            zp_diag_error(L->d, &ext->pos, path, "extends nested too deeply: %s", zp_buf_cstr(&b));
        zp_buf_release(&b);
        free(path);
        free(key);
        return ZP_E_INPUT;
    }
    strv_push(&chain->keys, key);
    strv_push(&chain->names, name);
    free(key);
    rc = find_base(L, services, file_abs, env, name, ext, chain, &other_doc, &base);
    strv_pop(&chain->keys);
    strv_pop(&chain->names);
    if (rc) {
        /* Resolved no further: a cycle is reported once, not once per member. */
        zp_node_del(svc, "extends");
        zp_node_free(other_doc);
        return rc;
    }

    /* The service's own definition goes over a copy of its base. */
    struct zp_node *merged = zp_node_is_map(base) ? zp_node_copy(base) : zp_node_new_map(&svc->pos);
    zp_node_free(other_doc);
    idx = zp_node_index(services, name);
    svc = services->pairs[idx].value;
    zp_node_del(svc, "extends");
    zp_node_del(merged, "extends");
    services->pairs[idx].value = merged;
    compose__merge(merged, svc, true);
    return 0;
}

static int resolve_extends(struct loader *L, struct zp_node *doc, const char *file_abs,
                           const struct compose_env *env)
{
    struct zp_node *services = zp_node_get(doc, "services");
    struct ext_chain chain = {{0}, {0}};
    int rc = 0;

    if (!services || !zp_node_is_map(services))
        return 0;
    for (size_t i = 0; i < services->n; i++) {
        char *name = zp_strdup(services->pairs[i].key->str);
        if (resolve_service(L, services, file_abs, env, name, &chain))
            rc = ZP_E_INPUT;
        free(name);
    }
    strv_release(&chain.keys);
    strv_release(&chain.names);
    return rc;
}

/* ---- include ---- */

static const char *const resource_sections[] = {"services", "networks", "volumes", "secrets",
                                                "configs"};
static const char *const resource_kinds[] = {"service", "network", "volume", "secret", "config"};

static int load_project(struct loader *L, const struct fileset *fs, const char *project_dir,
                        const struct compose_env *env, int depth, struct zp_node **ret_model);

/* Copy the resources of an included project into model; a name defined differently on
 * both sides is an error. */
static int import_resources(struct loader *L, struct zp_node *model, struct zp_node *sub,
                            const char *inc_file, const struct zp_node *item)
{
    int rc = 0;
    for (size_t s = 0; s < sizeof(resource_sections) / sizeof(*resource_sections); s++) {
        struct zp_node *from = zp_node_get(sub, resource_sections[s]);
        if (!from || !zp_node_is_map(from))
            continue;
        struct zp_node *to = zp_node_get(model, resource_sections[s]);
        if (!to || !zp_node_is_map(to)) {
            to = zp_node_new_map(&from->pos);
            zp_node_set(model, resource_sections[s], to);
        }
        for (size_t i = 0; i < from->n; i++) {
            const char *key = from->pairs[i].key->str;
            long j = zp_node_index(to, key);
            if (j < 0) {
                zp_node_append_pair(to, from->pairs[i].key, from->pairs[i].value);
                from->pairs[i].key = NULL;
                from->pairs[i].value = NULL;
                continue;
            }
            if (zp_node_equal(to->pairs[j].value, from->pairs[i].value))
                continue;
            char *path = zp_path_key(resource_sections[s], key);
            zp_diag_error(L->d, &to->pairs[j].key->pos, path,
                          "%s '%s' conflicts with the %s of the same name imported from '%s' "
                          "(included at %s:%d)",
                          resource_kinds[s], key, resource_kinds[s], inc_file,
                          item->pos.file ? item->pos.file : "?", item->pos.line);
            free(path);
            rc = ZP_E_INPUT;
        }
    }
    return rc;
}

static int apply_include(struct loader *L, struct zp_node *model, const struct zp_node *item,
                         const char *ipath, const struct compose_env *parent_env, int depth)
{
    const struct zp_node *paths = zp_node_get(item, "path");
    const struct zp_node *env_files = zp_node_get(item, "env_file");
    const char *pdir_given = zp_node_get_str(item, "project_directory");
    struct fileset fs = {{0}, {0}};
    struct compose_env env;
    struct zp_node *sub = NULL;
    char *pdir = NULL;
    int rc = 0;

    compose_env_init(&env);
    if (!paths || !zp_node_is_seq(paths) || paths->n == 0 || !zp_node_is_str(paths->items[0])) {
        zp_diag_error(L->d, &item->pos, ipath, "'path' is required");
        return ZP_E_INPUT;
    }
    if (depth >= MAX_INCLUDE_DEPTH) {
        zp_diag_error(L->d, &item->pos, ipath, "includes nested more than %d levels deep",
                      MAX_INCLUDE_DEPTH);
        return ZP_E_INPUT;
    }
    for (size_t i = 0; i < paths->n; i++) {
        const char *p = paths->items[i]->str;
        if (strv_find(&L->include_stack, p) >= 0) {
            struct zp_buf b = ZP_BUF_INIT;
            for (size_t k = (size_t)strv_find(&L->include_stack, p); k < L->include_stack.n; k++)
                (void)zp_buf_addf(&b, "%s -> ", L->include_stack.v[k]);
            (void)zp_buf_adds(&b, p);
            zp_diag_error(L->d, &paths->items[i]->pos, ipath, "include cycle: %s", zp_buf_cstr(&b));
            zp_buf_release(&b);
            rc = ZP_E_INPUT;
            goto out;
        }
        if (!zp_file_exists(p)) {
            zp_diag_error(L->d, &paths->items[i]->pos, ipath, "included file '%s' not found", p);
            rc = ZP_E_INPUT;
            goto out;
        }
        strv_push(&fs.abs, p);
        strv_push(&fs.display, p);
    }
    pdir = pdir_given ? zp_strdup(pdir_given) : zp_path_dir(fs.abs.v[0]);

    /* The included project's own env files give defaults; ours override them. */
    if (env_files && zp_node_is_seq(env_files)) {
        for (size_t i = 0; i < env_files->n; i++)
            if (zp_node_is_str(env_files->items[i]) &&
                load_env_file(L, env_files->items[i]->str, true, &env_files->items[i]->pos, ipath,
                              parent_env, &env))
                rc = ZP_E_INPUT;
    } else {
        char *dotenv = zp_path_join(pdir, ".env");
        if (load_env_file(L, dotenv, false, NULL, NULL, parent_env, &env))
            rc = ZP_E_INPUT;
        free(dotenv);
    }
    if (rc)
        goto out;
    for (size_t i = 0; i < parent_env->n; i++)
        compose_env_set(&env, parent_env->keys[i], parent_env->vals[i]);

    for (size_t i = 0; i < fs.abs.n; i++)
        strv_push(&L->include_stack, fs.abs.v[i]);
    rc = load_project(L, &fs, pdir, &env, depth + 1, &sub);
    for (size_t i = 0; i < fs.abs.n; i++)
        strv_pop(&L->include_stack);
    if (rc)
        goto out;
    rc = import_resources(L, model, sub, fs.display.v[0], item);
out:
    if (rc == ZP_E_NOTFOUND)
        rc = ZP_E_INPUT; /* a missing included file is an error in this project */
    zp_node_free(sub);
    free(pdir);
    compose_env_release(&env);
    fileset_release(&fs);
    return rc;
}

/* Load, extend and merge the files of a project, then apply its includes. The result is
 * not finalised. */
static int load_project(struct loader *L, const struct fileset *fs, const char *project_dir,
                        const struct compose_env *env, int depth, struct zp_node **ret_model)
{
    struct zp_node *model = zp_node_new_map(NULL);
    int rc = 0;

    for (size_t i = 0; i < fs->abs.n; i++) {
        struct zp_node *doc = NULL;
        int frc = load_file(L, fs->abs.v[i], fs->display.v[i], project_dir, env, NULL, &doc);
        if (!frc)
            frc = resolve_extends(L, doc, fs->abs.v[i], env);
        /* a file's includes are imported into that file, before it merges over the
         * previous ones: a later (override) file may then change an included service,
         * as in Compose, while the including file itself may not redefine it */
        struct zp_node *inc = frc ? NULL : zp_node_take(doc, "include");
        for (size_t k = 0; inc && zp_node_is_seq(inc) && k < inc->n; k++) {
            char *ipath = zp_path_index("include", k);
            int irc = apply_include(L, doc, inc->items[k], ipath, env, depth);
            free(ipath);
            if (irc && (!frc || frc == ZP_E_INPUT))
                frc = irc;
        }
        zp_node_free(inc);
        if (frc) {
            zp_node_free(doc);
            if (!rc || rc == ZP_E_INPUT)
                rc = frc;
            continue;
        }
        compose__merge(model, doc, false);
    }
    if (rc)
        goto fail;
    *ret_model = model;
    return 0;
fail:
    zp_node_free(model);
    return rc;
}

/* ---- files and project directory ---- */

static const char *const discover_names[] = {"compose.yaml", "compose.yml", "docker-compose.yaml",
                                             "docker-compose.yml"};

static int discover(struct loader *L, const char *cwd, struct fileset *fs)
{
    char *dir = zp_strdup(cwd);
    for (;;) {
        const char *found[4];
        size_t nfound = 0;
        for (size_t i = 0; i < 4; i++) {
            char *p = zp_path_join(dir, discover_names[i]);
            if (zp_file_exists(p))
                found[nfound++] = discover_names[i];
            free(p);
        }
        if (nfound > 0) {
            if (nfound > 1) {
                struct zp_buf b = ZP_BUF_INIT;
                for (size_t i = 0; i < nfound; i++)
                    (void)zp_buf_addf(&b, "%s%s", i ? ", " : "", found[i]);
                zp_diag_warn(L->d, NULL, NULL,
                             "found multiple compose files in '%s': %s; using '%s'", dir,
                             zp_buf_cstr(&b), found[0]);
                zp_buf_release(&b);
            }
            char *main = zp_path_join(dir, found[0]);
            strv_push(&fs->abs, main);
            strv_push(&fs->display, main);
            free(main);
            const char *prefix =
                zp_str_has_prefix(found[0], "docker-") ? "docker-compose" : "compose";
            static const char *const exts[] = {"yaml", "yml"};
            for (size_t e = 0; e < 2; e++) {
                char *name = zp_asprintf("%s.override.%s", prefix, exts[e]);
                char *p = zp_path_join(dir, name);
                free(name);
                bool ok = zp_file_exists(p);
                if (ok) {
                    strv_push(&fs->abs, p);
                    strv_push(&fs->display, p);
                }
                free(p);
                if (ok)
                    break;
            }
            free(dir);
            return 0;
        }
        if (strcmp(dir, "/") == 0)
            break;
        char *parent = zp_path_dir(dir);
        free(dir);
        dir = parent;
    }
    free(dir);
    zp_diag_error(L->d, NULL, NULL,
                  "no compose file found in '%s' or its parents (looked for compose.yaml, "
                  "compose.yml, docker-compose.yaml, docker-compose.yml)",
                  cwd);
    return ZP_E_NOTFOUND;
}

static void add_given_file(struct fileset *fs, const char *cwd, const char *f)
{
    if (strcmp(f, "-") == 0) {
        strv_push(&fs->abs, "-");
    } else {
        char *abs = zp_path_join(cwd, f);
        strv_push(&fs->abs, abs);
        free(abs);
    }
    strv_push(&fs->display, f);
}

static int select_files(struct loader *L, const struct compose_env *procenv, const char *cwd,
                        struct fileset *fs)
{
    const struct compose_options *o = L->opts;
    if (o->nfiles > 0) {
        for (size_t i = 0; i < o->nfiles; i++)
            add_given_file(fs, cwd, o->files[i]);
        return 0;
    }
    const char *cf = compose_env_get(procenv, "COMPOSE_FILE");
    if (cf && *cf) {
        const char *sep = compose_env_get(procenv, "COMPOSE_PATH_SEPARATOR");
        char sepc = sep && *sep ? sep[0] : ':';
        const char *p = cf;
        while (*p) {
            const char *e = strchr(p, sepc);
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n > 0) {
                char *f = zp_strndup(p, n);
                add_given_file(fs, cwd, f);
                free(f);
            }
            p += n;
            if (*p)
                p++;
        }
        if (fs->abs.n > 0)
            return 0;
    }
    /* with --project-directory, discovery starts there (as docker compose does) */
    if (o->project_dir) {
        char *pdir = zp_path_join(cwd, o->project_dir);
        int rc = discover(L, pdir, fs);
        free(pdir);
        return rc;
    }
    return discover(L, cwd, fs);
}

/* ---- project name ---- */

/* A name made valid as Compose does: lower case, only [a-z0-9_-], starting with a letter
 * or digit. */
static char *normalize_name(const char *base)
{
    struct zp_buf b = ZP_BUF_INIT;
    for (const char *p = base; *p; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-' && c != '_')
            continue;
        if (b.len == 0 && !alnum)
            continue;
        (void)zp_buf_addc(&b, c);
    }
    return zp_buf_detach(&b, NULL);
}

static char *derive_name(const char *dir)
{
    const char *base = strrchr(dir, '/');
    return normalize_name(base ? base + 1 : dir);
}

/* Does the text have a top-level `name:` key? (A cheap test before parsing a file only
 * for its name.) */
static bool has_top_level_name(const char *s, size_t len)
{
    for (size_t i = 0; i + 5 <= len; i++) {
        if ((i == 0 || s[i - 1] == '\n') && memcmp(s + i, "name", 4) == 0 &&
            (s[i + 4] == ':' || s[i + 4] == ' ' || s[i + 4] == '"' || s[i + 4] == '\''))
            return true;
        if ((i == 0 || s[i - 1] == '\n') && (s[i] == '"' || s[i] == '\'') &&
            memcmp(s + i + 1, "name", 4 < len - i - 1 ? 4 : len - i - 1) == 0)
            return true;
    }
    return false;
}

/* The project name the files give (the last file with a top-level `name` wins),
 * interpolated, before the files are loaded: interpolation needs COMPOSE_PROJECT_NAME.
 * NULL when no file names the project; errors are reported by the real load. */
static char *name_from_files(const struct fileset *fs, const struct compose_env *env)
{
    char *found = NULL;
    for (size_t i = 0; i < fs->abs.n; i++) {
        if (strcmp(fs->abs.v[i], "-") == 0)
            continue;
        struct zp_err err;
        char *data = NULL;
        size_t len = 0;
        zp_err_init(&err);
        if (zp_file_read(fs->abs.v[i], MAX_FILE_BYTES, &data, &len, &err) != 0)
            continue;
        if (!has_top_level_name(data, len)) {
            free(data);
            continue;
        }
        struct zp_diags quiet;
        struct zp_node **docs = NULL;
        size_t ndocs = 0;
        zp_diags_init(&quiet);
        if (compose__yaml_parse_docs(fs->abs.v[i], data, len, NULL, &docs, &ndocs, &quiet) == 0) {
            for (size_t k = 0; k < ndocs; k++) {
                const struct zp_node *n = zp_node_get(docs[k], "name");
                char *v = NULL;
                if (n && n->kind == ZP_NODE_SCALAR && n->type == ZP_STR &&
                    compose__interp_string(n->str, env, NULL, NULL, &v, &quiet) == 0) {
                    free(found);
                    found = v;
                }
                zp_node_free(docs[k]);
            }
            free(docs);
        }
        zp_diags_release(&quiet);
        free(data);
    }
    if (found && !*found) {
        free(found);
        found = NULL;
    }
    return found;
}

/* ---- profiles ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Report a reference from an enabled service to one disabled by profiles. */
static void profile_ref_error(struct loader *L, const char *svc, const struct zp_node *target,
                              const char *tname, const struct zp_node *at, const char *path)
{
    const struct zp_node *profs = zp_node_get(target, "profiles");
    struct zp_buf b = ZP_BUF_INIT;
    for (size_t i = 0; profs && i < profs->n; i++)
        if (zp_node_is_str(profs->items[i]))
            (void)zp_buf_addf(&b, "%s'%s'", i ? " or " : "", profs->items[i]->str);
    zp_diag_error(L->d, &at->pos, path,
                  "service '%s' depends on service '%s', which is disabled by profiles: enable "
                  "profile %s",
                  svc, tname, zp_buf_cstr(&b));
    zp_buf_release(&b);
}

/* The service a reference names ("svc", "svc:alias", "service:svc"), or NULL. */
static char *ref_target(const char *field, const char *s)
{
    if (strcmp(field, "volumes_from") == 0 && zp_str_has_prefix(s, "container:"))
        return NULL;
    if (zp_str_has_prefix(s, "service:"))
        s += strlen("service:");
    const char *c = strchr(s, ':');
    return c ? zp_strndup(s, (size_t)(c - s)) : zp_strdup(s);
}

static int apply_profiles(struct loader *L, struct zp_node *model, const struct compose_env *env,
                          struct compose_project *p)
{
    const struct compose_options *o = L->opts;
    struct zp_node *services = zp_node_get(model, "services");
    struct strv active = {0};
    struct strv all = {0};
    bool *enabled = NULL;
    int rc = 0;

    if (!services || !zp_node_is_map(services))
        return 0;
    if (o->nprofiles > 0) {
        for (size_t i = 0; i < o->nprofiles; i++)
            strv_push(&active, o->profiles[i]);
    } else {
        const char *cp = compose_env_get(env, "COMPOSE_PROFILES");
        for (const char *s = cp; s && *s;) {
            size_t n = strcspn(s, ",");
            char *one = zp_strndup(s, n);
            char *t = one;
            while (*t == ' ')
                t++;
            size_t tl = strlen(t);
            while (tl > 0 && t[tl - 1] == ' ')
                t[--tl] = '\0';
            if (*t)
                strv_push(&active, t);
            free(one);
            s += n;
            if (*s)
                s++;
        }
    }
    /* Services named on the command line bring their profiles along. */
    for (size_t i = 0; i < o->nservices; i++) {
        const struct zp_node *s = zp_node_get(services, o->services[i]);
        const struct zp_node *profs = s ? zp_node_get(s, "profiles") : NULL;
        for (size_t k = 0; profs && zp_node_is_seq(profs) && k < profs->n; k++)
            if (zp_node_is_str(profs->items[k]) && strv_find(&active, profs->items[k]->str) < 0)
                strv_push(&active, profs->items[k]->str);
    }
    bool star = strv_find(&active, "*") >= 0;

    enabled = zp_calloc(services->n + 1, sizeof(*enabled));
    for (size_t i = 0; i < services->n; i++) {
        const struct zp_node *profs = zp_node_get(services->pairs[i].value, "profiles");
        if (!profs || !zp_node_is_seq(profs) || profs->n == 0) {
            enabled[i] = true;
            continue;
        }
        for (size_t k = 0; k < profs->n; k++) {
            if (!zp_node_is_str(profs->items[k]))
                continue;
            if (strv_find(&all, profs->items[k]->str) < 0)
                strv_push(&all, profs->items[k]->str);
            if (star || strv_find(&active, profs->items[k]->str) >= 0)
                enabled[i] = true;
        }
    }

    /* References from enabled services to disabled ones. */
    for (size_t i = 0; i < services->n; i++) {
        struct zp_node *s = services->pairs[i].value;
        const char *sname = services->pairs[i].key->str;
        if (!enabled[i] || !zp_node_is_map(s))
            continue;
        char *spath = zp_path_key("services", sname);
        struct zp_node *deps = zp_node_get(s, "depends_on");
        for (size_t k = 0; deps && zp_node_is_map(deps) && k < deps->n;) {
            const char *t = deps->pairs[k].key->str;
            long ti = zp_node_index(services, t);
            if (ti < 0 || enabled[ti]) {
                k++;
                continue;
            }
            const struct zp_node *req = zp_node_get(deps->pairs[k].value, "required");
            bool required = !(req && req->type == ZP_BOOL && strcmp(req->str, "false") == 0);
            if (required) {
                char *dpath = zp_asprintf("%s.depends_on.%s", spath, t);
                profile_ref_error(L, sname, services->pairs[ti].value, t, deps->pairs[k].key,
                                  dpath);
                free(dpath);
                rc = ZP_E_INPUT;
            }
            /* Dropped either way, so that validation does not report it again. */
            char *tk = zp_strdup(t);
            zp_node_del(deps, tk);
            free(tk);
        }
        static const char *const lists[] = {"links", "volumes_from"};
        for (size_t l = 0; l < 2; l++) {
            struct zp_node *seq = zp_node_get(s, lists[l]);
            for (size_t k = 0; seq && zp_node_is_seq(seq) && k < seq->n;) {
                char *t =
                    zp_node_is_str(seq->items[k]) ? ref_target(lists[l], seq->items[k]->str) : NULL;
                long ti = t ? zp_node_index(services, t) : -1;
                if (ti < 0 || enabled[ti]) {
                    free(t);
                    k++;
                    continue;
                }
                char *lpath = zp_asprintf("%s.%s[%zu]", spath, lists[l], k);
                profile_ref_error(L, sname, services->pairs[ti].value, t, seq->items[k], lpath);
                free(lpath);
                free(t);
                rc = ZP_E_INPUT;
                zp_node_remove_at(seq, k);
            }
        }
        static const char *const modes[] = {"network_mode", "ipc", "pid"};
        for (size_t m = 0; m < 3; m++) {
            const struct zp_node *v = zp_node_get(s, modes[m]);
            if (!v || !zp_node_is_str(v) || !zp_str_has_prefix(v->str, "service:"))
                continue;
            const char *t = v->str + strlen("service:");
            long ti = zp_node_index(services, t);
            if (ti < 0 || enabled[ti])
                continue;
            char *mpath = zp_path_key(spath, modes[m]);
            profile_ref_error(L, sname, services->pairs[ti].value, t, v, mpath);
            free(mpath);
            rc = ZP_E_INPUT;
            zp_node_del(s, modes[m]);
        }
        free(spath);
    }

    /* Drop the disabled services. */
    size_t w = 0;
    for (size_t i = 0; i < services->n; i++) {
        if (enabled[i]) {
            services->pairs[w++] = services->pairs[i];
        } else {
            zp_node_free(services->pairs[i].key);
            zp_node_free(services->pairs[i].value);
        }
    }
    services->n = w;

    if (all.n > 1)
        qsort(all.v, all.n, sizeof(*all.v), cmp_str);
    p->all_profiles = all.v;
    p->nall_profiles = all.n;
    free(enabled);
    strv_release(&active);
    return rc;
}

/* ---- finalisation ---- */

static int apply_env_files(struct loader *L, struct zp_node *svc, const char *spath,
                           const char *workdir, const struct compose_env *env)
{
    struct zp_node *files = zp_node_get(svc, "env_file");
    struct compose_env vals;
    int rc = 0;

    if (!files || !zp_node_is_seq(files) || files->n == 0)
        return 0;
    compose_env_init(&vals);
    for (size_t i = 0; i < files->n; i++) {
        const struct zp_node *e = files->items[i];
        const char *path = zp_node_is_map(e) ? zp_node_get_str(e, "path") : NULL;
        if (!path)
            continue;
        const struct zp_node *req = zp_node_get(e, "required");
        bool required = !(req && req->type == ZP_BOOL && strcmp(req->str, "false") == 0);
        char *epath = zp_asprintf("%s.env_file[%zu]", spath, i);
        /* Relative only when the model keeps paths as written. */
        char *full = zp_path_join(workdir, path);
        /* a later file may refer to the values of the earlier ones, as in Compose */
        struct compose_env lookup;
        compose_env_init(&lookup);
        if (vals.n > 0) {
            for (size_t k = 0; k < env->n; k++)
                compose_env_set(&lookup, env->keys[k], env->vals[k]);
            for (size_t k = 0; k < vals.n; k++)
                compose_env_set(&lookup, vals.keys[k], vals.vals[k]);
        }
        if (load_env_file(L, full, required, &e->pos, epath, vals.n > 0 ? &lookup : env, &vals))
            rc = ZP_E_INPUT;
        compose_env_release(&lookup);
        free(full);
        free(epath);
    }
    if (!rc && vals.n > 0) {
        struct zp_node *environment = zp_node_get(svc, "environment");
        if (!environment || !zp_node_is_map(environment)) {
            environment = zp_node_new_map(&files->pos);
            zp_node_set(svc, "environment", environment);
        }
        for (size_t i = 0; i < vals.n; i++) {
            const struct zp_node *cur = zp_node_get(environment, vals.keys[i]);
            /* Explicit values win; a bare KEY (null) takes the file's value. */
            if (cur && !zp_node_is_null(cur))
                continue;
            zp_node_set(environment, vals.keys[i], zp_node_new_str(vals.vals[i], &files->pos));
        }
    }
    compose_env_release(&vals);
    return rc;
}

/* label_file: each file's KEY=VALUE lines (the env file format) become labels; labels
 * written in the service win. */
static int apply_label_files(struct loader *L, struct zp_node *svc, const char *spath,
                             const char *workdir, const struct compose_env *env)
{
    struct zp_node *files = zp_node_get(svc, "label_file");
    struct compose_env vals;
    int rc = 0;

    if (!files || !zp_node_is_seq(files) || files->n == 0)
        return 0;
    compose_env_init(&vals);
    for (size_t i = 0; i < files->n; i++) {
        const struct zp_node *f = files->items[i];
        if (!zp_node_is_str(f))
            continue;
        char *fpath = zp_asprintf("%s.label_file[%zu]", spath, i);
        char *full = zp_path_join(workdir, f->str);
        if (load_env_file(L, full, true, &f->pos, fpath, env, &vals))
            rc = ZP_E_INPUT;
        free(full);
        free(fpath);
    }
    if (!rc && vals.n > 0) {
        struct zp_node *labels = zp_node_get(svc, "labels");
        if (!labels || !zp_node_is_map(labels)) {
            labels = zp_node_new_map(&files->pos);
            zp_node_set(svc, "labels", labels);
        }
        for (size_t i = 0; i < vals.n; i++)
            if (zp_node_index(labels, vals.keys[i]) < 0)
                zp_node_set(labels, vals.keys[i], zp_node_new_str(vals.vals[i], &files->pos));
    }
    compose_env_release(&vals);
    return rc;
}

static bool is_true(const struct zp_node *n)
{
    return n && n->kind == ZP_NODE_SCALAR && n->type == ZP_BOOL && strcmp(n->str, "true") == 0;
}

static void name_objects(struct zp_node *model, const char *project)
{
    static const char *const sections[] = {"networks", "volumes", "secrets", "configs"};
    for (size_t s = 0; s < 4; s++) {
        struct zp_node *sec = zp_node_get(model, sections[s]);
        if (!sec || !zp_node_is_map(sec))
            continue;
        for (size_t i = 0; i < sec->n; i++) {
            struct zp_node *obj = sec->pairs[i].value;
            const char *key = sec->pairs[i].key->str;
            if (!zp_node_is_map(obj)) {
                zp_node_replace(obj, zp_node_new_map(NULL));
            }
            bool external = is_true(zp_node_get(obj, "external"));
            /* an external network's other keys are kept (as Compose prints them), with the
             * normaliser's warning that they have no effect */
            if (external && s != 0) {
                /* An external object is only a reference by name. */
                for (size_t k = 0; k < obj->n;) {
                    const char *ok = obj->pairs[k].key->str;
                    if (strcmp(ok, "name") == 0 || strcmp(ok, "external") == 0) {
                        k++;
                        continue;
                    }
                    zp_node_del(obj, ok);
                }
            }
            if (!zp_node_get_str(obj, "name")) {
                char *name = external ? zp_strdup(key) : zp_asprintf("%s_%s", project, key);
                zp_node_set(obj, "name", zp_node_new_str(name, &sec->pairs[i].key->pos));
                free(name);
            }
        }
    }
}

/* One implicit dependency of svc on the service named by the first len bytes of ref. */
static void add_implicit_dep(struct zp_node *svc, const struct zp_node *services, const char *ref,
                             size_t len, bool restart, const struct zp_pos *pos)
{
    char *name = zp_strndup(ref, len);
    if (!*name || !zp_node_get(services, name)) {
        free(name);
        return;
    }
    struct zp_node *deps = zp_node_get(svc, "depends_on");
    if (!deps || !zp_node_is_map(deps)) {
        deps = zp_node_new_map(pos);
        zp_node_set(svc, "depends_on", deps);
    }
    if (zp_node_index(deps, name) < 0) {
        struct zp_node *d = zp_node_new_map(pos);
        zp_node_set(d, "condition", zp_node_new_str("service_started", pos));
        if (restart)
            zp_node_set(d, "restart", zp_node_new_bool(true, pos));
        zp_node_set(d, "required", zp_node_new_bool(true, pos));
        zp_node_set(deps, name, d);
    }
    free(name);
}

/* links, network_mode: service:X and volumes_from X are dependencies: they appear in
 * depends_on as Compose shows them (links and network_mode also restart the dependent). */
static void implicit_dependencies(struct zp_node *svc, const struct zp_node *services)
{
    const struct zp_node *links = zp_node_get(svc, "links");
    for (size_t i = 0; links && zp_node_is_seq(links) && i < links->n; i++) {
        const char *l = links->items[i]->str;
        if (!zp_node_is_str(links->items[i]))
            continue;
        const char *colon = strchr(l, ':');
        add_implicit_dep(svc, services, l, colon ? (size_t)(colon - l) : strlen(l), true,
                         &links->items[i]->pos);
    }
    const struct zp_node *nm = zp_node_get(svc, "network_mode");
    if (nm && zp_node_is_str(nm) && zp_str_has_prefix(nm->str, "service:"))
        add_implicit_dep(svc, services, nm->str + 8, strlen(nm->str + 8), true, &nm->pos);
    const struct zp_node *vf = zp_node_get(svc, "volumes_from");
    for (size_t i = 0; vf && zp_node_is_seq(vf) && i < vf->n; i++) {
        const char *v = vf->items[i]->str;
        if (!zp_node_is_str(vf->items[i]) || zp_str_has_prefix(v, "container:"))
            continue;
        const char *colon = strchr(v, ':');
        add_implicit_dep(svc, services, v, colon ? (size_t)(colon - v) : strlen(v), false,
                         &vf->items[i]->pos);
    }
}

static int finalise(struct loader *L, struct zp_node *model, const char *project,
                    const char *workdir, const struct compose_env *env)
{
    struct zp_node *services = zp_node_get(model, "services");
    bool uses_default = false;
    int rc = 0;

    if (!services || !zp_node_is_map(services)) {
        services = zp_node_new_map(NULL);
        zp_node_set(model, "services", services);
    }
    zp_node_del(model, "include");
    for (size_t i = 0; i < services->n; i++) {
        struct zp_node *s = services->pairs[i].value;
        if (!zp_node_is_map(s)) {
            zp_node_replace(s, zp_node_new_map(NULL));
        }
        zp_node_del(s, "extends");
        implicit_dependencies(s, services);
        /* as Compose: `scale` is also the deploy section's replicas (a different value
         * there is an error, see validate) */
        struct zp_node *deploy = zp_node_get(s, "deploy");
        const struct zp_node *scale = zp_node_get(s, "scale");
        if (scale && zp_node_is_map(deploy) && !zp_node_get(deploy, "replicas"))
            zp_node_set(deploy, "replicas", zp_node_copy(scale));
        char *spath = zp_path_key("services", services->pairs[i].key->str);
        if (apply_env_files(L, s, spath, workdir, env))
            rc = ZP_E_INPUT;
        if (apply_label_files(L, s, spath, workdir, env))
            rc = ZP_E_INPUT;
        free(spath);
        struct zp_node *nets = zp_node_get(s, "networks");
        if (!nets && !zp_node_get(s, "network_mode")) {
            nets = zp_node_new_map(&services->pairs[i].key->pos);
            zp_node_set(nets, "default", zp_node_new_null(&services->pairs[i].key->pos));
            zp_node_set(s, "networks", nets);
        }
        if (nets && zp_node_is_map(nets) && zp_node_index(nets, "default") >= 0)
            uses_default = true;
    }
    if (uses_default) {
        struct zp_node *networks = zp_node_get(model, "networks");
        if (!networks || !zp_node_is_map(networks)) {
            networks = zp_node_new_map(NULL);
            zp_node_set(model, "networks", networks);
        }
        if (zp_node_index(networks, "default") < 0)
            zp_node_set(networks, "default", zp_node_new_map(NULL));
    }
    name_objects(model, project);
    return rc;
}

/* ---- the whole load ---- */

void compose_project_free(struct compose_project *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->workdir);
    for (size_t i = 0; i < p->nfiles; i++)
        free(p->files[i]);
    free(p->files);
    compose_env_release(&p->env);
    zp_node_free(p->model);
    for (size_t i = 0; i < p->nall_profiles; i++)
        free(p->all_profiles[i]);
    free(p->all_profiles);
    free(p);
}

/* The project's name and where it came from; a derived name is made valid. */
static int project_name(struct loader *L, struct zp_node *model, const struct compose_env *env,
                        const char *project_dir, char **ret)
{
    const char *n = L->opts->project_name;
    const char *from = "--project-name";
    if (!n || !*n) {
        n = compose_env_get(env, "COMPOSE_PROJECT_NAME");
        from = "COMPOSE_PROJECT_NAME";
    }
    if (n && *n && !compose__valid_project_name(n)) {
        /* as Compose: a name given by the flag or the environment is taken as written */
        zp_diag_error(L->d, NULL, from,
                      "invalid project name '%s': it must contain only lowercase letters, "
                      "digits, dashes and underscores, and start with a letter or digit",
                      n);
        return ZP_E_INPUT;
    }
    if (n && *n) {
        zp_node_set(model, "name", zp_node_new_str(n, NULL));
        *ret = zp_strdup(n);
        return 0;
    }
    const struct zp_node *top = zp_node_get(model, "name");
    if (top && zp_node_is_str(top) && top->str[0]) {
        /* a name from the file is made valid, as Compose does ("My App" -> "myapp") */
        char *norm = normalize_name(top->str);
        if (*norm) {
            struct zp_pos pos = top->pos;
            zp_node_set(model, "name", zp_node_new_str(norm, &pos));
            *ret = norm;
            return 0;
        }
        free(norm);
    }
    char *derived = derive_name(project_dir);
    if (!*derived) {
        zp_diag_error(L->d, NULL, NULL,
                      "cannot derive a project name from the directory '%s': set one with "
                      "--project-name or a top-level 'name'",
                      project_dir);
        free(derived);
        return ZP_E_INPUT;
    }
    zp_node_set(model, "name", zp_node_new_str(derived, NULL));
    *ret = derived;
    return 0;
}

int compose_project_load(const struct compose_options *opts, struct compose_project **ret,
                         struct zp_diags *diags)
{
    struct loader L = {opts, diags, {0}};
    struct compose_env procenv, env;
    struct fileset fs = {{0}, {0}};
    struct compose_project *p = NULL;
    struct zp_node *model = NULL;
    char *cwd = NULL, *project_dir = NULL, *name = NULL;
    size_t errors0 = diags->errors;
    int rc = 0;

    compose_env_init(&procenv);
    compose_env_init(&env);
    compose_env_from_environ(&procenv, opts->environ ? opts->environ : environ);
    if (opts->cwd) {
        cwd = zp_path_abs(opts->cwd);
    } else {
        cwd = getcwd(NULL, 0);
        if (!cwd) {
            zp_diag_error(diags, NULL, NULL, "cannot get the current directory");
            rc = ZP_E_SYSTEM;
            goto out;
        }
    }

    /* COMPOSE_FILE and COMPOSE_PATH_SEPARATOR may come from the .env of the working (or
     * --project-directory) directory, or the --env-file files, as in Compose */
    struct compose_env selenv;
    compose_env_init(&selenv);
    for (size_t i = 0; i < procenv.n; i++)
        compose_env_set(&selenv, procenv.keys[i], procenv.vals[i]);
    if (opts->nfiles == 0 && !compose_env_get(&procenv, "COMPOSE_FILE")) {
        struct compose_env pre;
        struct zp_diags quiet;
        struct loader QL = {opts, &quiet, {0}};
        compose_env_init(&pre);
        zp_diags_init(&quiet);
        if (opts->nenv_files > 0) {
            for (size_t i = 0; i < opts->nenv_files; i++) {
                char *path = zp_path_join(cwd, opts->env_files[i]);
                (void)load_env_file(&QL, path, false, NULL, NULL, &procenv, &pre);
                free(path);
            }
        } else {
            char *dir = opts->project_dir ? zp_path_join(cwd, opts->project_dir) : zp_strdup(cwd);
            char *dotenv = zp_path_join(dir, ".env");
            (void)load_env_file(&QL, dotenv, false, NULL, NULL, &procenv, &pre);
            free(dotenv);
            free(dir);
        }
        static const char *const keys[] = {"COMPOSE_FILE", "COMPOSE_PATH_SEPARATOR"};
        for (size_t k = 0; k < 2; k++)
            if (compose_env_get(&pre, keys[k]))
                compose_env_set_default(&selenv, keys[k], compose_env_get(&pre, keys[k]));
        zp_diags_release(&quiet);
        compose_env_release(&pre);
    }
    rc = select_files(&L, &selenv, cwd, &fs);
    compose_env_release(&selenv);
    if (rc)
        goto out;
    if (opts->project_dir)
        project_dir = zp_path_join(cwd, opts->project_dir);
    else if (strcmp(fs.abs.v[0], "-") == 0)
        project_dir = zp_strdup(cwd);
    else
        project_dir = zp_path_dir(fs.abs.v[0]);

    /* Env files give defaults, the process environment wins. */
    if (opts->nenv_files > 0) {
        for (size_t i = 0; i < opts->nenv_files; i++) {
            char *path = zp_path_join(cwd, opts->env_files[i]);
            int erc = load_env_file(&L, path, true, NULL, NULL, &procenv, &env);
            free(path);
            if (erc && !rc)
                rc = erc;
        }
    } else {
        char *dotenv = zp_path_join(project_dir, ".env");
        rc = load_env_file(&L, dotenv, false, NULL, NULL, &procenv, &env);
        free(dotenv);
    }
    if (rc)
        goto out;
    for (size_t i = 0; i < procenv.n; i++)
        compose_env_set(&env, procenv.keys[i], procenv.vals[i]);
    if (opts->defaults)
        for (size_t i = 0; i < opts->defaults->n; i++)
            compose_env_set_default(&env, opts->defaults->keys[i], opts->defaults->vals[i]);
    /* COMPOSE_PROJECT_NAME is the project name during interpolation, as in Compose: -p,
     * the environment, the files' `name`, or the directory */
    if (opts->project_name && *opts->project_name) {
        compose_env_set(&env, "COMPOSE_PROJECT_NAME", opts->project_name);
    } else if (!compose_env_get(&env, "COMPOSE_PROJECT_NAME") ||
               !*compose_env_get(&env, "COMPOSE_PROJECT_NAME")) {
        char *fname = name_from_files(&fs, &env);
        char *pname = fname ? normalize_name(fname) : derive_name(project_dir);
        if (*pname)
            compose_env_set(&env, "COMPOSE_PROJECT_NAME", pname);
        free(pname);
        free(fname);
    }

    for (size_t i = 0; i < fs.abs.n; i++)
        strv_push(&L.include_stack, fs.abs.v[i]);
    rc = load_project(&L, &fs, project_dir, &env, 0, &model);
    if (rc)
        goto out;

    rc = project_name(&L, model, &env, project_dir, &name);
    if (rc)
        goto out;
    p = zp_calloc(1, sizeof(*p));
    if (apply_profiles(&L, model, &env, p))
        rc = ZP_E_INPUT;
    if (finalise(&L, model, name, project_dir, &env))
        rc = ZP_E_INPUT;
    if (compose__validate_project(model, diags))
        rc = ZP_E_INPUT;
    if (rc || diags->errors > errors0) {
        rc = rc ? rc : ZP_E_INPUT;
        goto out;
    }

    p->name = name;
    name = NULL;
    p->workdir = project_dir;
    project_dir = NULL;
    p->files = fs.display.v;
    p->nfiles = fs.display.n;
    memset(&fs.display, 0, sizeof(fs.display));
    p->env = env;
    compose_env_init(&env);
    p->model = model;
    model = NULL;
    *ret = p;
    p = NULL;
out:
    compose_project_free(p);
    zp_node_free(model);
    free(name);
    free(project_dir);
    free(cwd);
    fileset_release(&fs);
    strv_release(&L.include_stack);
    compose_env_release(&env);
    compose_env_release(&procenv);
    return rc;
}

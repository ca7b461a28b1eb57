/* app/pkgjson: what detection needs from a package.json (or a deno.json): scripts,
 * main, the package manager and the dependency names. jansson stays in this file. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app-int.h"

#include "../util/banned.h"

static int field_error(const char *file, const char *field, const char *want, struct zp_err *err)
{
    return zp_err_set(err, ZP_E_INPUT, NULL, "%s: %s: expected %s", file, field, want);
}

/* a string field: absent is fine, another type is an error */
static int get_str(json_t *obj, const char *key, const char *file, const char *field, char **ret,
                   struct zp_err *err)
{
    json_t *v = json_object_get(obj, key); /* borrowed */
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return field_error(file, field, "a string", err);
    *ret = zp_strndup(json_string_value(v), json_string_length(v));
    return 0;
}

static int get_obj(json_t *obj, const char *key, const char *file, json_t **ret, struct zp_err *err)
{
    json_t *v = json_object_get(obj, key); /* borrowed */
    *ret = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return field_error(file, key, "an object", err);
    *ret = v;
    return 0;
}

static int add_deps(json_t *deps, struct app_pkgjson *p, const char *file, struct zp_err *err)
{
    const char *name;
    json_t *v;
    json_object_foreach(deps, name, v)
    {
        (void)v;
        if (p->ndeps >= APP_PKGJSON_MAX_DEPS)
            return zp_err_set(err, ZP_E_TOOBIG, NULL, "%s: more than %d dependencies", file,
                              APP_PKGJSON_MAX_DEPS);
        p->deps = zp_realloc(p->deps, (p->ndeps + 1) * sizeof(char *));
        p->deps[p->ndeps++] = zp_strdup(name);
    }
    return 0;
}

int app__pkgjson_parse(const char *file, const char *text, size_t len, bool deno,
                       struct app_pkgjson *ret, struct zp_err *err)
{
    memset(ret, 0, sizeof(*ret));
    if (len > APP_PKGJSON_MAX)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "%s: larger than %d bytes", file,
                          APP_PKGJSON_MAX);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr); /* owned */
    if (!root) {
        struct zp_pos pos = {zp_intern(file), jerr.line > 0 ? jerr.line : 1,
                             jerr.column > 0 ? jerr.column : 1};
        return zp_err_set(err, ZP_E_INPUT, &pos, "invalid JSON: %s", jerr.text);
    }
    int rc = 0;
    json_t *scripts = NULL, *deps = NULL, *dev = NULL;
    if (!json_is_object(root)) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "%s: expected a JSON object", file);
        goto out;
    }
    const char *skey = deno ? "tasks" : "scripts";
    if ((rc = get_str(root, "name", file, "name", &ret->name, err)) ||
        (rc = get_str(root, "main", file, "main", &ret->main, err)) ||
        (rc =
             get_str(root, "packageManager", file, "packageManager", &ret->package_manager, err)) ||
        (rc = get_obj(root, skey, file, &scripts, err)) ||
        (rc = get_obj(root, deno ? "imports" : "dependencies", file, &deps, err)) ||
        (rc = get_obj(root, "devDependencies", file, &dev, err)))
        goto out;
    if (scripts) {
        char *fs = zp_asprintf("%s.start", skey), *fb = zp_asprintf("%s.build", skey);
        rc = get_str(scripts, "start", file, fs, &ret->start, err);
        if (!rc)
            rc = get_str(scripts, "build", file, fb, &ret->build, err);
        free(fs);
        free(fb);
        if (rc)
            goto out;
    }
    if (ret->package_manager) {
        /* "pnpm@9.1.0+sha256..." names the tool before the '@' */
        char *at = strchr(ret->package_manager, '@');
        if (at)
            *at = '\0';
    }
    if ((deps && (rc = add_deps(deps, ret, file, err))) ||
        (dev && (rc = add_deps(dev, ret, file, err))))
        goto out;
out:
    json_decref(root);
    return rc;
}

void app__pkgjson_release(struct app_pkgjson *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->main);
    free(p->start);
    free(p->build);
    free(p->package_manager);
    for (size_t i = 0; i < p->ndeps; i++)
        free(p->deps[i]);
    free(p->deps);
    memset(p, 0, sizeof(*p));
}

bool app__pkgjson_has_dep(const struct app_pkgjson *p, const char *name)
{
    for (size_t i = 0; i < p->ndeps; i++)
        if (strcmp(p->deps[i], name) == 0)
            return true;
    return false;
}

/* template/catalog: the built-in templates (compiled in from templates/ *.yaml) and the
 * user's directory of more. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "template.h"

#include "../util/banned.h"

#define MAX_USER_TEMPLATES 1000

char *template_user_dir(const char *state_dir)
{
    const char *env = getenv("ZPANEL_TEMPLATES_DIR");
    if (env && *env)
        return zp_path_abs(env);
    return zp_asprintf("%s/templates", state_dir);
}

static void entry_release(struct template_entry *e)
{
    free(e->name);
    free(e->origin);
    free(e->text);
    template_header_release(&e->header);
}

static int add(struct template_catalog *c, const char *name, const char *origin, char *text,
               size_t len, struct zp_err *err)
{
    struct zp_diags d;
    zp_diags_init(&d);
    struct template_header h;
    if (template_header_parse(origin, text, len, &h, &d) != 0) {
        int rc = zp_diags_to_err(&d, err);
        zp_diags_release(&d);
        free(text);
        return rc;
    }
    zp_diags_release(&d);
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->items[i].name, name) == 0) { /* the user's file hides a built-in */
            entry_release(&c->items[i]);
            c->items[i] = (struct template_entry){zp_strdup(name), zp_strdup(origin), text, len, h};
            return 0;
        }
    }
    c->items = zp_realloc(c->items, (c->n + 1) * sizeof(*c->items));
    c->items[c->n++] = (struct template_entry){zp_strdup(name), zp_strdup(origin), text, len, h};
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct template_entry *)a)->name,
                  ((const struct template_entry *)b)->name);
}

static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
              s[i] == '_' || s[i] == '.'))
            return false;
    return s[0] != '.';
}

int template_catalog_load(const char *user_dir, struct template_catalog *ret, struct zp_err *err)
{
    struct template_catalog c = {NULL, 0};
    int rc = 0;
    for (size_t i = 0; i < template_nbuiltins; i++) {
        const struct template_builtin *b = &template_builtins[i];
        if ((rc = add(&c, b->name, "built-in", zp_strndup(b->text, b->len), b->len, err)) != 0)
            goto fail;
    }
    DIR *dir = user_dir ? opendir(user_dir) : NULL;
    size_t count = 0;
    struct dirent *de;
    while (dir && (de = readdir(dir)) != NULL) {
        size_t n = strlen(de->d_name);
        size_t stem = zp_str_has_suffix(de->d_name, ".yaml")  ? n - 5
                      : zp_str_has_suffix(de->d_name, ".yml") ? n - 4
                                                              : 0;
        if (!valid_name(de->d_name, stem))
            continue;
        if (++count > MAX_USER_TEMPLATES) {
            rc = zp_err_set(err, ZP_E_TOOBIG, NULL, "'%s': more than %d templates", user_dir,
                            MAX_USER_TEMPLATES);
            break;
        }
        char *path = zp_path_join(user_dir, de->d_name);
        char *name = zp_strndup(de->d_name, stem);
        char *text = NULL;
        size_t len = 0;
        rc = zp_file_read(path, TEMPLATE_MAX_SIZE, &text, &len, err);
        if (rc == 0)
            rc = add(&c, name, path, text, len, err);
        free(name);
        free(path);
        if (rc != 0)
            break;
    }
    if (dir)
        closedir(dir);
    if (rc != 0)
        goto fail;
    if (c.n)
        qsort(c.items, c.n, sizeof(*c.items), by_name);
    *ret = c;
    return 0;
fail:
    template_catalog_release(&c);
    return rc;
}

void template_catalog_release(struct template_catalog *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        entry_release(&c->items[i]);
    free(c->items);
    c->items = NULL;
    c->n = 0;
}

const struct template_entry *template_catalog_find(const struct template_catalog *c,
                                                   const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].name, name) == 0)
            return &c->items[i];
    return NULL;
}

static bool has(const char *s, const char *word)
{
    return s && strcasestr(s, word) != NULL;
}

bool template_entry_matches(const struct template_entry *e, const char *word)
{
    if (has(e->name, word) || has(e->header.slogan, word) || has(e->header.category, word))
        return true;
    for (size_t i = 0; i < e->header.ntags; i++)
        if (has(e->header.tags[i], word))
            return true;
    return false;
}

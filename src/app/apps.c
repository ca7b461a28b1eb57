/* app/apps: an app's settings under STATE/apps/NAME/app.toml (written by zpanel, read
 * with the TOML reader; the webhook secret, the token and the environment's values sealed
 * under the state directory's key by store/secret), its checkout (STATE/apps/NAME/src) and the
 * compose file zpanel generates for it (STATE/apps/NAME/compose.yaml): image tag per commit,
 * environment, named volumes, the proxy route through x-zpanel, resource limits. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ssh/ssh.h"
#include "../store/secret.h"
#include "app-int.h"

#include "../util/banned.h"

#define APP_SETTINGS_MAX (256 * 1024)
#define APP_MAX_LIST 128 /* env entries, volumes */

bool app_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 48 ||
        !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '-' || name[i] == '_'))
            return false;
    return true;
}

bool app_name_reserved(const char *name)
{
    const char *p = strstr(name, "-pr-");
    if (!p)
        return false;
    /* the last "-pr-" */
    for (const char *q; (q = strstr(p + 1, "-pr-")) != NULL;)
        p = q;
    p += strlen("-pr-");
    return *p && strspn(p, "0123456789") == strlen(p);
}

char *app_dir(const char *state_dir, const char *name)
{
    char *apps = zp_path_join(state_dir, "apps");
    char *d = zp_path_join(apps, name);
    free(apps);
    return d;
}

static bool env_key_valid(const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return false;
    for (const char *s = kv; s < eq; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' ||
              (s > kv && *s >= '0' && *s <= '9')))
            return false;
    return true;
}

bool app_image_option_valid(const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv || !eq[1] || strlen(eq + 1) > 255 || strpbrk(eq + 1, " \t\r\n\"'\\$"))
        return false;
    char *key = zp_strndup(kv, (size_t)(eq - kv));
    size_t n = strlen(key);
    if (n > 8 && strcmp(key + n - 8, "-runtime") == 0)
        key[n - 8] = '\0';
    enum app_provider p;
    bool ok = app_provider_parse(key, &p);
    free(key);
    return ok;
}

int app_settings_validate(const struct app_settings *s, struct zp_err *err)
{
    if (!s->name || !app_name_valid(s->name))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "app name '%s': use 1-48 of a-z, 0-9, '-' and '_', starting with a "
                          "letter or digit",
                          s->name ? s->name : "");
    if (!s->git || !app_git_url_valid(s->git))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "--git '%s': expected file://, https://, ssh:// or USER@HOST:PATH",
                          s->git ? s->git : "");
    enum app_provider p;
    if (s->build_pack && strcmp(s->build_pack, "auto") != 0 &&
        !app_provider_parse(s->build_pack, &p))
        return zp_err_set(err, ZP_E_INPUT, NULL, "--build-pack: unknown build pack '%s'",
                          s->build_pack);
    if (s->domain && !zp_hostname_valid(s->domain, false))
        return zp_err_set(err, ZP_E_INPUT, NULL, "--domain: invalid host name '%s'", s->domain);
    if (s->port < 0 || s->port > 65535)
        return zp_err_set(err, ZP_E_INPUT, NULL, "--port: invalid port %d", s->port);
    if (s->nenv > APP_MAX_LIST || s->nvolumes > APP_MAX_LIST || s->nimages > APP_MAX_LIST)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "more than %d --env, --volume or --image",
                          APP_MAX_LIST);
    for (size_t i = 0; i < s->nimages; i++)
        if (!app_image_option_valid(s->images[i]))
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "--image '%s': expected PROVIDER=IMAGE or PROVIDER-runtime=IMAGE "
                              "(python=registry.local/python:3.12)",
                              s->images[i]);
    for (size_t i = 0; i < s->nenv; i++)
        if (!env_key_valid(s->env[i]))
            return zp_err_set(err, ZP_E_INPUT, NULL, "--env '%s': expected KEY=VALUE", s->env[i]);
    for (size_t i = 0; i < s->nvolumes; i++) {
        const char *v = s->volumes[i], *colon = strchr(v, ':');
        bool ok = colon && colon > v && colon[1] == '/';
        for (const char *c = v; ok && c < colon; c++)
            ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_';
        if (!ok)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "--volume '%s': expected NAME:/PATH (NAME of a-z, 0-9, '-', '_')", v);
    }
    if (s->tls && strcmp(s->tls, "auto") != 0 && strcmp(s->tls, "internal") != 0 &&
        strcmp(s->tls, "off") != 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "--tls '%s': expected auto, internal or off",
                          s->tls);
    if (s->health &&
        (s->health[0] != '/' || strpbrk(s->health, " \t\r\n\"\\") || strlen(s->health) > 1024))
        return zp_err_set(err, ZP_E_INPUT, NULL, "--health '%s': expected a path such as /up",
                          s->health);
    if (s->proxy && strcmp(s->proxy, "caddy") != 0 && strcmp(s->proxy, "traefik") != 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "--proxy '%s': expected caddy or traefik",
                          s->proxy);
    if ((s->tls || s->health || s->proxy) && !s->domain)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "--tls, --health and --proxy need --domain (the route)");
    if (s->server && !ssh_server_name_valid(s->server))
        return zp_err_set(err, ZP_E_INPUT, NULL, "--server '%s': not a server name", s->server);
    if (s->publish) {
        int64_t v;
        const char *colon = strrchr(s->publish, ':');
        if (zp_parse_int64(colon ? colon + 1 : s->publish, 1, 65535, &v) != 0)
            return zp_err_set(err, ZP_E_INPUT, NULL, "--publish '%s': expected [IP:]PORT",
                              s->publish);
    }
    return 0;
}

/* ---- app.toml ---- */

static void toml_str(struct zp_buf *b, const char *s)
{
    zp_buf_addc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            zp_buf_addf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            zp_buf_addf(b, "\\u%04x", c);
        else
            zp_buf_addc(b, (char)c);
    }
    zp_buf_addc(b, '"');
}

static void kv(struct zp_buf *b, const char *key, const char *v)
{
    if (!v)
        return;
    zp_buf_addf(b, "%s = ", key);
    toml_str(b, v);
    zp_buf_addc(b, '\n');
}

static void kv_list(struct zp_buf *b, const char *key, char *const *v, size_t n)
{
    zp_buf_addf(b, "%s = [", key);
    for (size_t i = 0; i < n; i++) {
        zp_buf_adds(b, i ? ", " : "");
        toml_str(b, v[i]);
    }
    zp_buf_adds(b, "]\n");
}

static int write_file(const char *path, const char *data, size_t len, struct zp_err *err)
{
    char *tmp = zp_asprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = 0;
    if (fd < 0 || zp_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        rc = zp_err_sys(err, "writing '%s'", tmp);
    }
    if (fd >= 0)
        close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = zp_err_sys(err, "renaming '%s'", tmp);
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* kv with v sealed under state_dir's key (every value, whatever it looks like: in memory
 * settings are always clear, on disk always sealed) */
static int kv_sealed(struct zp_buf *b, const char *state_dir, const char *key, const char *v,
                     struct zp_err *err)
{
    if (!v)
        return 0;
    char *sealed = NULL;
    int rc = store_secret_seal(state_dir, v, &sealed, err);
    if (rc == 0)
        kv(b, key, sealed);
    free(sealed);
    return rc;
}

/* env = ["KEY=<sealed value>", ...] */
static int env_sealed(struct zp_buf *b, const char *state_dir, char *const *env, size_t n,
                      struct zp_err *err)
{
    zp_buf_adds(b, "env = [");
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(env[i], '=');
        char *sealed = NULL;
        int rc = store_secret_seal(state_dir, eq + 1, &sealed, err);
        if (rc)
            return rc;
        char *item = zp_asprintf("%.*s=%s", (int)(eq - env[i]), env[i], sealed);
        zp_buf_adds(b, i ? ", " : "");
        toml_str(b, item);
        free(item);
        free(sealed);
    }
    zp_buf_adds(b, "]\n");
    return 0;
}

int app_save(const char *state_dir, const struct app_settings *s, bool create, struct zp_err *err)
{
    int rc = app_settings_validate(s, err);
    if (rc)
        return rc;
    char *dir = app_dir(state_dir, s->name);
    char *path = zp_path_join(dir, "app.toml");
    struct zp_buf b = ZP_BUF_INIT;
    if (create && app_name_reserved(s->name)) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL,
                        "app name '%s': names ending in -pr-N are the pull-request previews' "
                        "(NAME-pr-N previews NAME's pull request N)",
                        s->name);
        goto out;
    }
    if (create && zp_file_exists(path)) {
        rc = zp_err_set(err, ZP_E_CONFLICT, NULL, "app '%s' exists already", s->name);
        goto out;
    }
    if (create && s->server) {
        struct ssh_servers servers = {0};
        if ((rc = ssh_servers_load(state_dir, &servers, err)) == 0 &&
            !ssh_servers_find(&servers, s->server))
            rc = zp_err_set(err, ZP_E_INPUT, NULL,
                            "--server: no server named '%s' (see zpanel server list)", s->server);
        ssh_servers_release(&servers);
        if (rc)
            goto out;
    }
    if ((rc = zp_mkdir_p(dir, 0700, err)))
        goto out;
    zp_buf_adds(&b,
                "# written by zpanel: the settings of an app (zpanel app create); secret,\n"
                "# token and the env values are sealed with the state directory's secret.key\n");
    kv(&b, "name", s->name);
    kv(&b, "git", s->git);
    kv(&b, "branch", s->branch);
    kv(&b, "build_pack", s->build_pack);
    kv(&b, "domain", s->domain);
    kv(&b, "publish", s->publish);
    kv(&b, "tls", s->tls);
    kv(&b, "proxy", s->proxy);
    kv(&b, "health", s->health);
    kv(&b, "server", s->server);
    if (s->port)
        zp_buf_addf(&b, "port = %d\n", s->port);
    if ((rc = kv_sealed(&b, state_dir, "secret", s->secret, err)) ||
        (rc = kv_sealed(&b, state_dir, "token", s->token, err)))
        goto out;
    kv(&b, "ssh_key", s->ssh_key);
    kv(&b, "memory", s->memory);
    kv(&b, "cpus", s->cpus);
    kv(&b, "commit", s->commit);
    kv(&b, "preview_of", s->preview_of);
    if ((rc = env_sealed(&b, state_dir, s->env, s->nenv, err)))
        goto out;
    kv_list(&b, "volumes", s->volumes, s->nvolumes);
    if (s->nimages)
        kv_list(&b, "images", s->images, s->nimages);
    rc = write_file(path, zp_buf_cstr(&b), b.len, err);
out:
    zp_buf_release(&b);
    free(path);
    free(dir);
    return rc;
}

static char *dup_str(const struct app_toml *t, const char *key)
{
    const char *v = app__toml_str(t, key);
    return v ? zp_strdup(v) : NULL;
}

static void dup_list(const struct app_toml *t, const char *key, char ***ret, size_t *ret_n)
{
    const struct app_toml_val *v = app__toml_get(t, key);
    *ret = NULL;
    *ret_n = 0;
    if (!v || v->type != APP_TOML_ARRAY)
        return;
    *ret = zp_calloc(v->n + 1, sizeof(char *));
    for (size_t i = 0; i < v->n; i++)
        if (v->items[i].type == APP_TOML_STRING)
            (*ret)[(*ret_n)++] = zp_strdup(v->items[i].s);
}

/* *v opened in place when sealed; a value in clear (an app.toml written before values were
 * sealed) is taken as it is */
static int open_in_place(const char *state_dir, const char *path, const char *what, char **v,
                         struct zp_err *err)
{
    if (!*v || !store_secret_sealed(*v))
        return 0;
    char *label = zp_asprintf("%s: %s", path, what);
    char *plain = NULL;
    int rc = store_secret_open(state_dir, label, *v, &plain, err);
    free(label);
    if (rc == 0) {
        free(*v);
        *v = plain;
    }
    return rc;
}

/* the secret, token and env values of s opened */
static int open_settings(const char *state_dir, const char *path, struct app_settings *s,
                         struct zp_err *err)
{
    int rc = open_in_place(state_dir, path, "secret", &s->secret, err);
    if (rc == 0)
        rc = open_in_place(state_dir, path, "token", &s->token, err);
    for (size_t i = 0; rc == 0 && i < s->nenv; i++) {
        char *eq = strchr(s->env[i], '=');
        if (!eq || !store_secret_sealed(eq + 1))
            continue;
        char *what = zp_asprintf("env.%.*s", (int)(eq - s->env[i]), s->env[i]);
        char *val = zp_strdup(eq + 1);
        rc = open_in_place(state_dir, path, what, &val, err);
        if (rc == 0) {
            char *kv_clear = zp_asprintf("%.*s=%s", (int)(eq - s->env[i]), s->env[i], val);
            free(s->env[i]);
            s->env[i] = kv_clear;
        }
        free(val);
        free(what);
    }
    return rc;
}

int app_load(const char *state_dir, const char *name, struct app_settings *ret, struct zp_err *err)
{
    if (!app_name_valid(name))
        return zp_err_set(err, ZP_E_NOTFOUND, NULL, "no app named '%s'", name);
    char *dir = app_dir(state_dir, name);
    char *path = zp_path_join(dir, "app.toml");
    char *text = NULL;
    size_t len;
    struct app_toml t = {0};
    int rc = zp_file_read(path, APP_SETTINGS_MAX, &text, &len, err);
    if (rc == ZP_E_NOTFOUND) {
        zp_err_init(err);
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "no app named '%s' (see zpanel app list)", name);
    }
    if (rc == 0)
        rc = app__toml_parse(path, text, len, &t, err);
    if (rc == 0) {
        struct app_settings s;
        memset(&s, 0, sizeof(s));
        s.name = dup_str(&t, "name");
        s.git = dup_str(&t, "git");
        s.branch = dup_str(&t, "branch");
        s.build_pack = dup_str(&t, "build_pack");
        s.domain = dup_str(&t, "domain");
        s.publish = dup_str(&t, "publish");
        s.tls = dup_str(&t, "tls");
        s.proxy = dup_str(&t, "proxy");
        s.health = dup_str(&t, "health");
        s.server = dup_str(&t, "server");
        s.secret = dup_str(&t, "secret");
        s.token = dup_str(&t, "token");
        s.ssh_key = dup_str(&t, "ssh_key");
        s.memory = dup_str(&t, "memory");
        s.cpus = dup_str(&t, "cpus");
        s.commit = dup_str(&t, "commit");
        s.preview_of = dup_str(&t, "preview_of");
        const struct app_toml_val *p = app__toml_get(&t, "port");
        s.port = p && p->type == APP_TOML_INT && p->i > 0 && p->i < 65536 ? (int)p->i : 0;
        dup_list(&t, "env", &s.env, &s.nenv);
        dup_list(&t, "volumes", &s.volumes, &s.nvolumes);
        dup_list(&t, "images", &s.images, &s.nimages);
        if (!s.name || strcmp(s.name, name) != 0) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "%s: name is not '%s'", path, name);
            app_settings_release(&s);
        } else if ((rc = open_settings(state_dir, path, &s, err)) != 0) {
            app_settings_release(&s);
        } else {
            *ret = s;
        }
    }
    app__toml_release(&t);
    free(text);
    free(path);
    free(dir);
    return rc;
}

void app_settings_release(struct app_settings *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->git);
    free(s->branch);
    free(s->build_pack);
    free(s->domain);
    free(s->publish);
    free(s->tls);
    free(s->proxy);
    free(s->health);
    free(s->server);
    free(s->secret);
    free(s->token);
    free(s->ssh_key);
    free(s->memory);
    free(s->cpus);
    free(s->commit);
    free(s->preview_of);
    for (size_t i = 0; i < s->nenv; i++)
        free(s->env[i]);
    free(s->env);
    for (size_t i = 0; i < s->nvolumes; i++)
        free(s->volumes[i]);
    free(s->volumes);
    for (size_t i = 0; i < s->nimages; i++)
        free(s->images[i]);
    free(s->images);
    memset(s, 0, sizeof(*s));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int app_list(const char *state_dir, char ***ret, size_t *ret_n, struct zp_err *err)
{
    char *apps = zp_path_join(state_dir, "apps");
    DIR *d = opendir(apps);
    *ret = NULL;
    *ret_n = 0;
    if (!d) {
        int rc = errno == ENOENT ? 0 : zp_err_sys(err, "reading '%s'", apps);
        free(apps);
        return rc;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!app_name_valid(de->d_name))
            continue;
        char *p = zp_asprintf("%s/%s/app.toml", apps, de->d_name);
        if (zp_file_exists(p)) {
            zp_grow((void **)&names, &cap, n + 1, sizeof(char *));
            names[n++] = zp_strdup(de->d_name);
        }
        free(p);
    }
    closedir(d);
    free(apps);
    if (n)
        qsort(names, n, sizeof(char *), cmp_str);
    *ret = names;
    *ret_n = n;
    return 0;
}

int app_preview_check(const char *state_dir, const char *parent, const char *name,
                      const char *domain, struct zp_err *err)
{
    char **names = NULL;
    size_t n = 0;
    int rc = app_list(state_dir, &names, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct app_settings o;
        struct zp_err lerr;
        zp_err_init(&lerr);
        bool self = strcmp(names[i], name) == 0;
        if (app_load(state_dir, names[i], &o, &lerr) != 0) {
            /* the preview's own file must be readable; others cannot route anything */
            if (self) {
                *err = lerr;
                rc = lerr.code;
            }
            continue;
        }
        if (self && (!o.preview_of || strcmp(o.preview_of, parent) != 0))
            rc = zp_err_set(err, ZP_E_CONFLICT, NULL,
                            "preview '%s': an app of that name exists that is not a preview of "
                            "'%s'; not replacing it",
                            name, parent);
        else if (!self && domain && o.domain && strcasecmp(o.domain, domain) == 0)
            rc = zp_err_set(err, ZP_E_CONFLICT, NULL,
                            "preview '%s': host '%s' is app '%s''s domain already", name, domain,
                            names[i]);
        app_settings_release(&o);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

int app_rmtree(const char *dir, struct zp_err *err)
{
    if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        return zp_err_sys(err, "removing '%s'", dir);
    return 0;
}

int app_delete(const char *state_dir, const char *name, struct zp_err *err)
{
    if (!app_name_valid(name))
        return zp_err_set(err, ZP_E_NOTFOUND, NULL, "no app named '%s'", name);
    char *dir = app_dir(state_dir, name);
    int rc = app_rmtree(dir, err);
    free(dir);
    return rc;
}

/* ---- the generated compose file (JSON, which YAML reads; '$' doubled for Compose) ---- */

static void jstr(struct zp_buf *b, const char *s)
{
    zp_buf_addc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            zp_buf_addf(b, "\\%c", c);
        else if (c == '$')
            zp_buf_adds(b, "$$");
        else if (c < 0x20)
            zp_buf_addf(b, "\\u%04x", c);
        else
            zp_buf_addc(b, (char)c);
    }
    zp_buf_addc(b, '"');
}

char *app_compose_generate(const struct app_settings *s, const struct app_plan *plan,
                           const char *sha)
{
    struct zp_buf b = ZP_BUF_INIT;
    char short_sha[13];
    snprintf(short_sha, sizeof(short_sha), "%.12s", sha);
    zp_buf_adds(&b, "# generated by zpanel for app ");
    zp_buf_adds(&b, s->name);
    zp_buf_adds(&b, ": do not edit (zpanel app create/deploy rewrite it)\n{\n  \"name\": ");
    jstr(&b, s->name);
    zp_buf_adds(&b, ",\n  \"services\": {\n    \"web\": {\n");
    char *image = zp_asprintf("zpanel-app-%s:%s", s->name, short_sha);
    zp_buf_adds(&b, "      \"image\": ");
    jstr(&b, image);
    free(image);
    zp_buf_adds(&b, ",\n      \"build\": {\"context\": \"./src\"");
    if (plan->dockerfile_path) {
        zp_buf_adds(&b, ", \"dockerfile\": ");
        jstr(&b, plan->dockerfile_path);
    } else if (plan->dockerfile) {
        zp_buf_adds(&b, ", \"dockerfile_inline\": ");
        jstr(&b, plan->dockerfile);
    }
    zp_buf_adds(&b, "},\n      \"restart\": \"unless-stopped\",\n");
    zp_buf_addf(&b, "      \"environment\": {\"PORT\": \"%d\"", plan->port);
    zp_buf_adds(&b, ", \"ZPANEL_GIT_COMMIT\": ");
    jstr(&b, sha);
    for (size_t i = 0; i < s->nenv; i++) {
        /* the key only: its value comes from the environment the file is loaded with
         * (app_environ), so that this file holds no secret */
        const char *eq = strchr(s->env[i], '=');
        char *k = zp_strndup(s->env[i], (size_t)(eq - s->env[i]));
        zp_buf_adds(&b, ", ");
        jstr(&b, k);
        zp_buf_adds(&b, ": null");
        free(k);
    }
    zp_buf_adds(&b, "},\n      \"labels\": {\"dev.zpanel.app\": ");
    jstr(&b, s->name);
    zp_buf_adds(&b, ", \"dev.zpanel.app.commit\": ");
    jstr(&b, sha);
    zp_buf_adds(&b, ", \"dev.zpanel.app.git\": ");
    jstr(&b, s->git);
    zp_buf_adds(&b, "}");
    if (s->publish) {
        zp_buf_adds(&b, ",\n      \"ports\": [");
        char *pub = zp_asprintf("%s:%d", s->publish, plan->port);
        jstr(&b, pub);
        free(pub);
        zp_buf_adds(&b, "]");
    }
    if (s->nvolumes) {
        zp_buf_adds(&b, ",\n      \"volumes\": [");
        for (size_t i = 0; i < s->nvolumes; i++) {
            zp_buf_adds(&b, i ? ", " : "");
            jstr(&b, s->volumes[i]);
        }
        zp_buf_adds(&b, "]");
    }
    zp_buf_adds(&b, ",\n      \"deploy\": {\"resources\": {\"limits\": {\"memory\": ");
    jstr(&b, s->memory ? s->memory : "512m");
    zp_buf_adds(&b, ", \"cpus\": ");
    jstr(&b, s->cpus ? s->cpus : "1");
    zp_buf_adds(&b, "}}}");
    if (s->domain) {
        zp_buf_adds(&b, ",\n      \"x-zpanel\": {\"routes\": [{\"host\": ");
        jstr(&b, s->domain);
        zp_buf_addf(&b, ", \"port\": %d}]", plan->port);
        if (s->tls) {
            zp_buf_adds(&b, ", \"tls\": ");
            jstr(&b, s->tls);
        }
        if (s->proxy) {
            zp_buf_adds(&b, ", \"proxy\": ");
            jstr(&b, s->proxy);
        }
        if (s->health) {
            zp_buf_adds(&b, ", \"health\": {\"path\": ");
            jstr(&b, s->health);
            zp_buf_adds(&b, "}");
        }
        zp_buf_adds(&b, "}");
    }
    zp_buf_adds(&b, "\n    }\n  }");
    if (s->nvolumes) {
        zp_buf_adds(&b, ",\n  \"volumes\": {");
        for (size_t i = 0; i < s->nvolumes; i++) {
            const char *colon = strchr(s->volumes[i], ':');
            char *n = zp_strndup(s->volumes[i], (size_t)(colon - s->volumes[i]));
            zp_buf_adds(&b, i ? ", " : "");
            jstr(&b, n);
            zp_buf_adds(&b, ": {}");
            free(n);
        }
        zp_buf_adds(&b, "}");
    }
    zp_buf_adds(&b, "\n}\n");
    return zp_buf_detach(&b, NULL);
}

char **app_environ(const struct app_settings *s)
{
    char **v = zp_calloc(s->nenv + 1, sizeof(char *));
    for (size_t i = 0; i < s->nenv; i++)
        v[i] = s->env[i];
    return v;
}

int app_prepare(const char *state_dir, const struct app_settings *s, const char *commit,
                const char *known_hosts, struct app_prepared *ret, struct zp_err *err)
{
    memset(ret, 0, sizeof(*ret));
    char *dir = app_dir(state_dir, s->name);
    char *src = zp_path_join(dir, "src");
    struct app_git_auth auth = {
        .token = s->token, .ssh_key = s->ssh_key, .known_hosts = known_hosts};
    struct app_options o = {.build_pack = s->build_pack,
                            .port = s->port,
                            .images = (const char *const *)s->images,
                            .nimages = s->nimages};
    int rc = app_git_sync(s->git, s->branch ? s->branch : "main", commit, src, &auth, ret->sha,
                          &ret->fetch_note, err);
    if (rc == 0)
        rc = app_detect(src, &o, &ret->plan, err);
    if (rc == 0 && ret->plan.provider == APP_COMPOSE) {
        /* the repository's own compose file, as it is */
        ret->compose_path = zp_path_join(src, ret->plan.compose_path);
        ret->project_dir = zp_strdup(src);
    } else if (rc == 0) {
        char *yaml = app_compose_generate(s, &ret->plan, ret->sha);
        ret->compose_path = zp_path_join(dir, "compose.yaml");
        ret->project_dir = zp_strdup(dir);
        rc = write_file(ret->compose_path, yaml, strlen(yaml), err);
        free(yaml);
    }
    if (rc)
        app_prepared_release(ret);
    free(src);
    free(dir);
    return rc;
}

void app_prepared_release(struct app_prepared *p)
{
    if (!p)
        return;
    app_plan_release(&p->plan);
    free(p->fetch_note);
    free(p->compose_path);
    free(p->project_dir);
    memset(p, 0, sizeof(*p));
}

/* backup/plan: read what `backup` and `restore` act on out of the Compose model. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plan.h"

#include "../util/banned.h"

static const char *own(struct backup_plan *p, char *s)
{
    p->owned = zp_realloc(p->owned, (p->nowned + 1) * sizeof(*p->owned));
    p->owned[p->nowned++] = s;
    return s;
}

static void add_note(struct backup_plan *p, char *s)
{
    p->notes = zp_realloc(p->notes, (p->nnotes + 1) * sizeof(*p->notes));
    p->notes[p->nnotes++] = s;
}

static void add_user(struct backup_plan_users *u, const char *svc)
{
    for (size_t i = 0; i < u->n; i++)
        if (strcmp(u->services[i], svc) == 0)
            return;
    u->services = zp_realloc(u->services, (u->n + 1) * sizeof(*u->services));
    u->services[u->n++] = zp_strdup(svc);
}

static bool selected(const char *svc, const char *const *services, size_t n)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(services[i], svc) == 0)
            return true;
    return false;
}

static bool node_true(const struct zp_node *map, const char *key)
{
    const struct zp_node *v = zp_node_get(map, key);
    return v && zp_node_is_scalar(v) && v->type == ZP_BOOL && strcmp(v->str, "true") == 0;
}

/* path relative to dir (both real paths) when strictly inside it, else NULL. */
static char *inside(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    if (strncmp(path, dir, n) != 0 || path[n] != '/' || path[n + 1] == '\0')
        return NULL;
    return zp_strdup(path + n + 1);
}

static struct engine_kv *labels_of(struct backup_plan *p, const struct zp_node *def,
                                   const char *project, const char *key, size_t *ret_n)
{
    const struct zp_node *l = zp_node_get(def, "labels");
    size_t n = zp_node_is_map(l) ? l->n : 0;
    struct engine_kv *kv = zp_calloc(n + 4, sizeof(*kv));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct zp_node *v = l->pairs[i].value;
        kv[k++] = (struct engine_kv){l->pairs[i].key->str,
                                     zp_node_is_scalar(v) && !zp_node_is_null(v) ? v->str : ""};
    }
    /* the labels `up` gives the volumes it creates */
    kv[k++] = (struct engine_kv){"io.zpanel.project", project};
    kv[k++] = (struct engine_kv){"io.zpanel.volume", key};
    kv[k++] = (struct engine_kv){"io.zpanel.version", ZP_VERSION};
    p->kvs = zp_realloc(p->kvs, (p->nkvs + 1) * sizeof(*p->kvs));
    p->kvs[p->nkvs++] = kv;
    *ret_n = k;
    return kv;
}

static struct engine_kv *opts_of(struct backup_plan *p, const struct zp_node *def, size_t *ret_n)
{
    const struct zp_node *o = zp_node_get(def, "driver_opts");
    size_t n = zp_node_is_map(o) ? o->n : 0;
    struct engine_kv *kv = zp_calloc(n + 1, sizeof(*kv));
    for (size_t i = 0; i < n; i++) {
        const struct zp_node *v = o->pairs[i].value;
        kv[i] = (struct engine_kv){o->pairs[i].key->str, zp_node_is_scalar(v) ? v->str : ""};
    }
    p->kvs = zp_realloc(p->kvs, (p->nkvs + 1) * sizeof(*p->kvs));
    p->kvs[p->nkvs++] = kv;
    *ret_n = n;
    return kv;
}

long backup_plan_volume(const struct backup_plan *plan, const char *key)
{
    for (size_t i = 0; i < plan->nvolumes; i++)
        if (strcmp(plan->volumes[i].key, key) == 0)
            return (long)i;
    return -1;
}

void backup_plan_add_users(const struct backup_plan_users *u, const char ***set, size_t *n)
{
    for (size_t i = 0; i < u->n; i++) {
        bool have = false;
        for (size_t k = 0; k < *n && !have; k++)
            have = strcmp((*set)[k], u->services[i]) == 0;
        if (!have) {
            *set = zp_realloc(*set, (*n + 1) * sizeof(**set));
            (*set)[(*n)++] = u->services[i];
        }
    }
}

/* path, absolute, with "." and ".." components resolved lexically (a path that does not
 * exist yet has no real path). */
static char *lexical(const char *path)
{
    char *abs = zp_path_abs(path);
    struct zp_buf b = ZP_BUF_INIT;
    const char *p = abs;
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.')) {
            /* nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            char *slash = b.len ? strrchr(b.p, '/') : NULL;
            if (slash) {
                b.len = (size_t)(slash - b.p);
                b.p[b.len] = '\0';
            }
        } else {
            zp_buf_addc(&b, '/');
            zp_buf_add(&b, p, n);
        }
        p += n;
    }
    free(abs);
    if (b.len == 0)
        zp_buf_addc(&b, '/');
    return zp_buf_detach(&b, NULL);
}

/* The real path of path into real; for a restore, a path that does not exist yet is taken
 * lexically. */
static bool resolve(const struct backup_plan *p, const char *path, char real[PATH_MAX],
                    bool *ret_missing)
{
    *ret_missing = false;
    if (realpath(path, real) != NULL)
        return true;
    if (!p->for_restore || errno != ENOENT)
        return false;
    char *l = lexical(path);
    bool fits = strlen(l) < PATH_MAX;
    if (fits)
        memcpy(real, l, strlen(l) + 1);
    free(l);
    *ret_missing = fits;
    return fits;
}

static void add_bind(struct backup_plan *p, const char *src, const char *svc)
{
    char real[PATH_MAX];
    struct stat st;
    bool missing = false;
    if (!resolve(p, src, real, &missing) ||
        (!missing && (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))))
        return; /* files (configs, sockets) and missing paths are not data directories */
    char *rel = inside(p->project_dir, real);
    if (rel == NULL) {
        add_note(p, zp_asprintf("bind mount '%s' of service '%s' is outside the project "
                                "directory, ignoring",
                                src, svc));
        return;
    }
    for (size_t i = 0; i < p->nbinds; i++) {
        if (strcmp(p->binds[i].key, rel) == 0) {
            add_user(&p->bind_users[i], svc);
            free(rel);
            return;
        }
    }
    p->binds = zp_realloc(p->binds, (p->nbinds + 1) * sizeof(*p->binds));
    p->bind_users = zp_realloc(p->bind_users, (p->nbinds + 1) * sizeof(*p->bind_users));
    p->binds[p->nbinds] = (struct backup_path){own(p, rel), own(p, zp_strdup(real))};
    memset(&p->bind_users[p->nbinds], 0, sizeof(p->bind_users[p->nbinds]));
    add_user(&p->bind_users[p->nbinds], svc);
    p->nbinds++;
}

/* Drop binds inside another bind (the outer one holds them); their users move over. */
static void drop_nested(struct backup_plan *p)
{
    for (size_t i = 0; i < p->nbinds; i++) {
        size_t outer = p->nbinds;
        for (size_t k = 0; k < p->nbinds && outer == p->nbinds; k++) {
            size_t n = strlen(p->binds[k].key);
            if (k != i && strncmp(p->binds[i].key, p->binds[k].key, n) == 0 &&
                p->binds[i].key[n] == '/')
                outer = k;
        }
        if (outer == p->nbinds)
            continue;
        for (size_t u = 0; u < p->bind_users[i].n; u++) {
            add_user(&p->bind_users[outer], p->bind_users[i].services[u]);
            free(p->bind_users[i].services[u]);
        }
        free(p->bind_users[i].services);
        memmove(&p->binds[i], &p->binds[i + 1], (p->nbinds - i - 1) * sizeof(*p->binds));
        memmove(&p->bind_users[i], &p->bind_users[i + 1],
                (p->nbinds - i - 1) * sizeof(*p->bind_users));
        p->nbinds--;
        i--;
    }
}

static void add_file(struct backup_plan *p, const char *path)
{
    char *abs = zp_path_abs(path);
    char real[PATH_MAX];
    struct stat st;
    bool missing = false;
    if (!resolve(p, abs, real, &missing) ||
        (!missing && (stat(real, &st) != 0 || !S_ISREG(st.st_mode)))) {
        free(abs);
        return;
    }
    char *rel = inside(p->project_dir, real);
    if (rel == NULL) {
        add_note(p, zp_asprintf("file '%s' is outside the project directory, ignoring", abs));
        free(abs);
        return;
    }
    free(abs);
    for (size_t i = 0; i < p->nfiles; i++) {
        if (strcmp(p->files[i].key, rel) == 0) {
            free(rel);
            return;
        }
    }
    p->files = zp_realloc(p->files, (p->nfiles + 1) * sizeof(*p->files));
    p->files[p->nfiles++] = (struct backup_path){own(p, rel), own(p, zp_strdup(real))};
}

/* The value of variable key in the service's environment, or NULL. */
static const char *env_of(const struct zp_node *def, const char *key)
{
    const struct zp_node *env = zp_node_get(def, "environment");
    if (key == NULL || !zp_node_is_map(env))
        return NULL;
    const struct zp_node *v = zp_node_get(env, key);
    return v && zp_node_is_scalar(v) && !zp_node_is_null(v) ? v->str : NULL;
}

static const char *first_env(const struct zp_node *def, const char *a, const char *b)
{
    const char *v = env_of(def, a);
    return v ? v : env_of(def, b);
}

/* Does image name a well-known database ("postgres:16", "docker.io/library/redis")? */
static const char *database_image(const char *image)
{
    static const char *const known[] = {"postgres", "postgis", "mariadb", "mysql", "redis",
                                        "valkey",   "mongo",   "percona", NULL};
    const char *base = strrchr(image, '/') ? strrchr(image, '/') + 1 : image;
    size_t n = strcspn(base, ":@");
    for (size_t i = 0; known[i]; i++)
        if (strlen(known[i]) == n && strncmp(base, known[i], n) == 0)
            return known[i];
    return NULL;
}

static const char *owned_or_null(struct backup_plan *p, const char *s)
{
    return s ? own(p, zp_strdup(s)) : NULL;
}

/* A dump of service svc when it is marked x-zpanel.database; a note when its image looks
 * like a database that is not marked. */
static void add_dump(struct backup_plan *p, const char *svc, const struct zp_node *def)
{
    const struct zp_node *x = zp_node_get(def, "x-zpanel");
    const struct zp_node *db = zp_node_is_map(x) ? zp_node_get(x, "database") : NULL;
    const char *type_s = zp_node_is_map(db) ? zp_node_get_str(db, "type") : NULL;
    enum backup_db type;
    struct zp_err ignored;
    zp_err_init(&ignored);
    if (type_s == NULL || backup_db_parse(type_s, &type, &ignored) != 0) {
        const char *image = zp_node_get_str(def, "image");
        const char *kind = image ? database_image(image) : NULL;
        if (kind && !p->for_restore)
            add_note(p, zp_asprintf("service '%s' (image '%s') looks like a database but is not "
                                    "marked x-zpanel.database: its data is copied as files, "
                                    "consistent only with --stop; mark it to get a dump",
                                    svc, image));
        return;
    }
    const char *user = zp_node_get_str(db, "user");
    const char *database = zp_node_get_str(db, "database");
    const char *pw_env = zp_node_get_str(db, "password_env");
    const char *pw = pw_env ? env_of(def, pw_env) : NULL;
    switch (type) {
    case BACKUP_DB_POSTGRES:
        if (!user)
            user = env_of(def, "POSTGRES_USER");
        if (!user)
            user = "postgres";
        if (!pw && !pw_env)
            pw = env_of(def, "POSTGRES_PASSWORD");
        if (!database)
            database = env_of(def, "POSTGRES_DB");
        if (!database)
            database = user;
        break;
    case BACKUP_DB_MARIADB:
    case BACKUP_DB_MYSQL:
        if (!pw && !pw_env)
            pw = user ? first_env(def, "MARIADB_PASSWORD", "MYSQL_PASSWORD")
                      : first_env(def, "MARIADB_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD");
        if (!user)
            user = "root";
        if (!database)
            database = first_env(def, "MARIADB_DATABASE", "MYSQL_DATABASE");
        break;
    case BACKUP_DB_MONGODB:
        /* the official image's root account, when it sets one */
        if (!user)
            user = env_of(def, "MONGO_INITDB_ROOT_USERNAME");
        if (!pw && !pw_env && user)
            pw = env_of(def, "MONGO_INITDB_ROOT_PASSWORD");
        break;
    case BACKUP_DB_REDIS:
        if (!pw && !pw_env)
            pw = env_of(def, "REDIS_PASSWORD");
        user = NULL;
        database = NULL;
        break;
    }
    p->dumps = zp_realloc(p->dumps, (p->ndumps + 1) * sizeof(*p->dumps));
    p->dumps[p->ndumps++] = (struct backup_dump){
        .key = own(p, zp_strdup(svc)),
        .type = type,
        .database = owned_or_null(p, database),
        .user = owned_or_null(p, user),
        .password = owned_or_null(p, pw),
    };
}

static bool dumped(const struct backup_plan *p, const char *svc)
{
    for (size_t i = 0; i < p->ndumps; i++)
        if (strcmp(p->dumps[i].key, svc) == 0)
            return true;
    return false;
}

/* Volumes used only by dumped services: the dump is archived instead. */
static void drop_dumped_volumes(struct backup_plan *p)
{
    for (size_t i = 0; i < p->nvolumes; i++) {
        struct backup_plan_users *u = &p->volume_users[i];
        bool all = u->n > 0;
        for (size_t k = 0; k < u->n && all; k++)
            all = dumped(p, u->services[k]);
        if (!all)
            continue;
        add_note(p, zp_asprintf("volume '%s' holds the files of database service '%s': its "
                                "dump is archived instead",
                                p->volumes[i].key, u->services[0]));
        for (size_t k = 0; k < u->n; k++)
            free(u->services[k]);
        free(u->services);
        memmove(&p->volumes[i], &p->volumes[i + 1], (p->nvolumes - i - 1) * sizeof(*p->volumes));
        memmove(&p->volume_users[i], &p->volume_users[i + 1],
                (p->nvolumes - i - 1) * sizeof(*p->volume_users));
        p->nvolumes--;
        i--;
    }
    for (size_t i = 0; i < p->nbinds; i++) {
        struct backup_plan_users *u = &p->bind_users[i];
        bool all = u->n > 0;
        for (size_t k = 0; k < u->n && all; k++)
            all = dumped(p, u->services[k]);
        if (!all)
            continue;
        add_note(p, zp_asprintf("bind directory '%s' holds the files of database service '%s': "
                                "its dump is archived instead",
                                p->binds[i].key, u->services[0]));
        for (size_t k = 0; k < u->n; k++)
            free(u->services[k]);
        free(u->services);
        memmove(&p->binds[i], &p->binds[i + 1], (p->nbinds - i - 1) * sizeof(*p->binds));
        memmove(&p->bind_users[i], &p->bind_users[i + 1],
                (p->nbinds - i - 1) * sizeof(*p->bind_users));
        p->nbinds--;
        i--;
    }
}

int backup_plan_build(const struct compose_project *proj, const char *const *services,
                      size_t nservices, const char *const *env_files, size_t nenv_files,
                      bool for_restore, struct backup_plan *ret, struct zp_err *err)
{
    struct backup_plan p;
    memset(&p, 0, sizeof(p));
    p.for_restore = for_restore;
    char real[PATH_MAX];
    if (realpath(proj->workdir, real) == NULL)
        return zp_err_sys(err, "project directory '%s'", proj->workdir);
    p.project_dir = zp_strdup(real);
    const struct zp_node *model = proj->model;
    const struct zp_node *svcs = zp_node_get(model, "services");
    const struct zp_node *vols = zp_node_get(model, "volumes");

    for (size_t i = 0; zp_node_is_map(vols) && i < vols->n; i++) {
        const char *key = vols->pairs[i].key->str;
        const struct zp_node *def = vols->pairs[i].value;
        const char *name = zp_node_get_str(def, "name");
        if (node_true(def, "external")) {
            add_note(&p, zp_asprintf("volume '%s' is external, ignoring", key));
            continue;
        }
        struct backup_plan_users users = {0};
        for (size_t s = 0; zp_node_is_map(svcs) && s < svcs->n; s++) {
            const char *svc = svcs->pairs[s].key->str;
            const struct zp_node *mounts = zp_node_get(svcs->pairs[s].value, "volumes");
            for (size_t m = 0; zp_node_is_seq(mounts) && m < mounts->n; m++) {
                const char *type = zp_node_get_str(mounts->items[m], "type");
                const char *src = zp_node_get_str(mounts->items[m], "source");
                if (type && src && strcmp(type, "volume") == 0 && strcmp(src, key) == 0)
                    add_user(&users, svc);
            }
        }
        bool wanted = nservices == 0;
        for (size_t u = 0; u < users.n && !wanted; u++)
            wanted = selected(users.services[u], services, nservices);
        if (!wanted) {
            for (size_t u = 0; u < users.n; u++)
                free(users.services[u]);
            free(users.services);
            continue;
        }
        p.volumes = zp_realloc(p.volumes, (p.nvolumes + 1) * sizeof(*p.volumes));
        p.volume_users = zp_realloc(p.volume_users, (p.nvolumes + 1) * sizeof(*p.volume_users));
        struct backup_volume *v = &p.volumes[p.nvolumes];
        memset(v, 0, sizeof(*v));
        v->key = own(&p, zp_strdup(key));
        v->name = own(&p, name ? zp_strdup(name) : zp_asprintf("%s_%s", proj->name, key));
        v->driver = zp_node_get_str(def, "driver");
        v->labels = labels_of(&p, def, proj->name, key, &v->n_labels);
        v->options = opts_of(&p, def, &v->n_options);
        p.volume_users[p.nvolumes] = users;
        p.nvolumes++;
    }

    for (size_t s = 0; zp_node_is_map(svcs) && s < svcs->n; s++) {
        const char *svc = svcs->pairs[s].key->str;
        const struct zp_node *def = svcs->pairs[s].value;
        const char *image = zp_node_get_str(def, "image");
        p.images = zp_realloc(p.images, (p.nimages + 1) * sizeof(*p.images));
        p.images[p.nimages++] = image ? zp_strdup(image) : zp_asprintf("%s-%s", proj->name, svc);
        if (!selected(svc, services, nservices))
            continue;
        add_dump(&p, svc, def);
        const struct zp_node *mounts = zp_node_get(def, "volumes");
        for (size_t m = 0; zp_node_is_seq(mounts) && m < mounts->n; m++) {
            const char *type = zp_node_get_str(mounts->items[m], "type");
            const char *src = zp_node_get_str(mounts->items[m], "source");
            if (type && src && strcmp(type, "bind") == 0)
                add_bind(&p, src, svc);
        }
        const struct zp_node *envf = zp_node_get(def, "env_file");
        for (size_t k = 0; zp_node_is_seq(envf) && k < envf->n; k++) {
            const char *path = zp_node_get_str(envf->items[k], "path");
            if (path)
                add_file(&p, path);
        }
    }
    drop_nested(&p);
    if (!for_restore)
        drop_dumped_volumes(&p);

    for (size_t i = 0; i < proj->nfiles; i++)
        if (strcmp(proj->files[i], "-") != 0)
            add_file(&p, proj->files[i]);
    if (nenv_files == 0) {
        char *dotenv = zp_path_join(proj->workdir, ".env");
        add_file(&p, dotenv);
        free(dotenv);
    }
    for (size_t i = 0; i < nenv_files; i++)
        add_file(&p, env_files[i]);
    *ret = p;
    return 0;
}

void backup_plan_release(struct backup_plan *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->nvolumes; i++) {
        for (size_t u = 0; u < p->volume_users[i].n; u++)
            free(p->volume_users[i].services[u]);
        free(p->volume_users[i].services);
    }
    for (size_t i = 0; i < p->nbinds; i++) {
        for (size_t u = 0; u < p->bind_users[i].n; u++)
            free(p->bind_users[i].services[u]);
        free(p->bind_users[i].services);
    }
    for (size_t i = 0; i < p->nimages; i++)
        free(p->images[i]);
    for (size_t i = 0; i < p->nnotes; i++)
        free(p->notes[i]);
    for (size_t i = 0; i < p->nowned; i++)
        free(p->owned[i]);
    for (size_t i = 0; i < p->nkvs; i++)
        free(p->kvs[i]);
    free(p->volumes);
    free(p->volume_users);
    free(p->binds);
    free(p->bind_users);
    free(p->files);
    free(p->dumps);
    free(p->images);
    free(p->notes);
    free(p->owned);
    free(p->kvs);
    free(p->project_dir);
    memset(p, 0, sizeof(*p));
}

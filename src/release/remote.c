/* release/remote: a project's files to a server over SFTP (ssh_sync) and its model's
 * paths rewritten to where they landed: BASE/PROJECT/<path inside the project dir>. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "remote.h"

#include "../util/banned.h"

#define MAX_DEPTH 64

struct lfile {
    char *local;
    char *rel;
    char sha256[65];
    uint64_t size;
    unsigned mode;
};

struct walk {
    struct lfile *files;
    size_t nfiles;
    char **dirs;
    size_t ndirs;
};

char *release_remote_dir(const struct release_remote *r, const char *project)
{
    const char *base = r->base_dir && *r->base_dir ? r->base_dir : SSH_DEFAULT_BASE_DIR;
    char *j = zp_asprintf("%s/%s", base, project);
    char *c = zp_path_clean(j);
    free(j);
    return c;
}

/* path relative to workdir ("" for workdir itself), or NULL when outside it. */
static const char *rel_of(const char *workdir, const char *path)
{
    size_t n = strlen(workdir);
    if (strcmp(workdir, "/") == 0)
        return path + 1;
    if (strncmp(path, workdir, n) != 0)
        return NULL;
    if (path[n] == '\0')
        return "";
    return path[n] == '/' ? path + n + 1 : NULL;
}

static char *rel_join(const char *rel, const char *name)
{
    return *rel ? zp_asprintf("%s/%s", rel, name) : zp_strdup(name);
}

static int walk_add(struct walk *w, const char *local, const char *rel, int depth,
                    struct zp_err *err)
{
    struct stat st;
    if (lstat(local, &st) != 0)
        return errno == ENOENT ? 0 : zp_err_sys(err, "reading '%s'", local);
    if (S_ISREG(st.st_mode)) {
        if (!*rel)
            return 0;
        if (w->nfiles >= SSH_SYNC_MAX_FILES)
            return zp_err_set(err, ZP_E_TOOBIG, NULL, "more than %d files to sync to the server",
                              SSH_SYNC_MAX_FILES);
        w->files = zp_realloc(w->files, (w->nfiles + 1) * sizeof(*w->files));
        struct lfile *f = &w->files[w->nfiles++];
        memset(f, 0, sizeof(*f));
        f->local = zp_strdup(local);
        f->rel = zp_strdup(rel);
        f->size = (uint64_t)st.st_size;
        f->mode = (unsigned)(st.st_mode & 07777);
        return 0;
    }
    if (!S_ISDIR(st.st_mode) || depth > MAX_DEPTH)
        return 0; /* symbolic links, sockets, ...: not synced */
    if (*rel) {
        w->dirs = zp_realloc(w->dirs, (w->ndirs + 1) * sizeof(*w->dirs));
        w->dirs[w->ndirs++] = zp_strdup(rel);
    }
    DIR *d = opendir(local);
    if (!d)
        return zp_err_sys(err, "reading the directory '%s'", local);
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 || strchr(nm, '\n') || strchr(nm, '\r') ||
            (!*rel && strcmp(nm, SSH_SYNC_MANIFEST) == 0))
            continue;
        char *cl = zp_path_join(local, nm);
        char *cr = rel_join(rel, nm);
        rc = walk_add(w, cl, cr, depth + 1, err);
        free(cl);
        free(cr);
    }
    closedir(d);
    return rc;
}

static int lfile_cmp(const void *a, const void *b)
{
    return strcmp(((const struct lfile *)a)->rel, ((const struct lfile *)b)->rel);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int hash_file(struct lfile *f, struct zp_err *err)
{
    int fd = open(f->local, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return zp_err_sys(err, "opening '%s'", f->local);
    struct zp_sha256 h;
    zp_sha256_init(&h);
    char buf[65536];
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int rc = zp_err_sys(err, "reading '%s'", f->local);
            unsigned char d[32];
            zp_sha256_final(&h, d);
            close(fd);
            return rc;
        }
        if (n == 0)
            break;
        zp_sha256_update(&h, buf, (size_t)n);
        total += (uint64_t)n;
    }
    close(fd);
    unsigned char d[32];
    zp_sha256_final(&h, d);
    zp_hex32(d, f->sha256);
    f->size = total;
    return 0;
}

static void walk_release(struct walk *w)
{
    for (size_t i = 0; i < w->nfiles; i++) {
        free(w->files[i].local);
        free(w->files[i].rel);
    }
    for (size_t i = 0; i < w->ndirs; i++)
        free(w->dirs[i]);
    free(w->files);
    free(w->dirs);
}

/* The bind sources of a service inside workdir, as (node, rel) pairs. */
struct src {
    struct zp_node *node; /* the scalar holding the path */
    const char *rel;      /* points into node->str */
    bool create;          /* a bind source made when missing (bind.create_host_path) */
};

static size_t service_sources(struct zp_node *model, struct zp_node *svc, const char *workdir,
                              struct src **ret)
{
    size_t n = 0;
    struct src *s = NULL;
    struct zp_node *vols = zp_node_get(svc, "volumes");
    for (size_t i = 0; vols && zp_node_is_seq(vols) && i < vols->n; i++) {
        struct zp_node *v = vols->items[i];
        const char *type = zp_node_get_str(v, "type");
        struct zp_node *source = zp_node_get(v, "source");
        const char *rel = NULL;
        if (type && strcmp(type, "bind") == 0 && source && zp_node_is_str(source) &&
            (rel = rel_of(workdir, source->str)) != NULL) {
            const struct zp_node *b = zp_node_get(v, "bind");
            const struct zp_node *chp = b ? zp_node_get(b, "create_host_path") : NULL;
            s = zp_realloc(s, (n + 1) * sizeof(*s));
            s[n++] = (struct src){source, rel,
                                  chp && chp->type == ZP_BOOL && strcmp(chp->str, "true") == 0};
        }
    }
    static const char *const kinds[] = {"configs", "secrets"};
    for (size_t k = 0; k < 2; k++) {
        struct zp_node *refs = zp_node_get(svc, kinds[k]);
        struct zp_node *defs = zp_node_get(model, kinds[k]);
        for (size_t i = 0; refs && zp_node_is_seq(refs) && i < refs->n; i++) {
            const char *name = zp_node_get_str(refs->items[i], "source");
            struct zp_node *def = name ? zp_node_get(defs, name) : NULL;
            struct zp_node *file = def ? zp_node_get(def, "file") : NULL;
            const char *rel = NULL;
            if (file && zp_node_is_str(file) && (rel = rel_of(workdir, file->str)) != NULL) {
                s = zp_realloc(s, (n + 1) * sizeof(*s));
                s[n++] = (struct src){file, rel, false};
            }
        }
    }
    *ret = s;
    return n;
}

/* Is rel root itself or inside it? */
static bool under(const char *rel, const char *root)
{
    size_t n = strlen(root);
    return n == 0 || (strncmp(rel, root, n) == 0 && (rel[n] == '\0' || rel[n] == '/'));
}

int release_remote_prepare(struct compose_project *p, const struct release_remote *r, bool sync,
                           struct ssh_sync_stats *ret_stats, struct zp_err *err)
{
    struct walk w = {0};
    char *dir = release_remote_dir(r, p->name);
    struct ssh_sync_file *sf = NULL;
    struct ssh_conn *conn = NULL;
    struct ssh_sync_stats stats = {0};
    int rc = 0;
    struct zp_node *svcs = zp_node_get(p->model, "services");
    /* what the services read: bind sources, config and secret files, env files */
    for (size_t i = 0; svcs && zp_node_is_map(svcs) && i < svcs->n && rc == 0; i++) {
        struct zp_node *svc = svcs->pairs[i].value;
        struct src *s = NULL;
        size_t n = service_sources(p->model, svc, p->workdir, &s);
        for (size_t k = 0; k < n && rc == 0; k++) {
            struct stat st;
            if (s[k].create && *s[k].rel && lstat(s[k].node->str, &st) != 0 && errno == ENOENT) {
                /* made on the server, as the engine would make it here */
                w.dirs = zp_realloc(w.dirs, (w.ndirs + 1) * sizeof(*w.dirs));
                w.dirs[w.ndirs++] = zp_strdup(s[k].rel);
                continue;
            }
            rc = walk_add(&w, s[k].node->str, s[k].rel, 0, err);
        }
        free(s);
        struct zp_node *envs = zp_node_get(svc, "env_file");
        for (size_t k = 0; envs && zp_node_is_seq(envs) && k < envs->n && rc == 0; k++) {
            const char *path = zp_node_get_str(envs->items[k], "path");
            const char *rel = path ? rel_of(p->workdir, path) : NULL;
            if (rel && *rel)
                rc = walk_add(&w, path, rel, 0, err);
        }
    }
    if (rc != 0)
        goto out;
    /* one entry per path (two mounts may share files) */
    if (w.nfiles > 1) {
        qsort(w.files, w.nfiles, sizeof(*w.files), lfile_cmp);
        size_t k = 0;
        for (size_t i = 0; i < w.nfiles; i++) {
            if (k > 0 && strcmp(w.files[k - 1].rel, w.files[i].rel) == 0) {
                free(w.files[i].local);
                free(w.files[i].rel);
                continue;
            }
            w.files[k++] = w.files[i];
        }
        w.nfiles = k;
    }
    if (w.ndirs > 1) {
        qsort(w.dirs, w.ndirs, sizeof(*w.dirs), str_cmp);
        size_t k = 0;
        for (size_t i = 0; i < w.ndirs; i++) {
            if (k > 0 && strcmp(w.dirs[k - 1], w.dirs[i]) == 0) {
                free(w.dirs[i]);
                continue;
            }
            w.dirs[k++] = w.dirs[i];
        }
        w.ndirs = k;
    }
    for (size_t i = 0; i < w.nfiles && rc == 0; i++)
        rc = hash_file(&w.files[i], err);
    if (rc != 0)
        goto out;
    if (sync && (w.nfiles > 0 || w.ndirs > 0)) {
        sf = zp_calloc(w.nfiles + 1, sizeof(*sf));
        for (size_t i = 0; i < w.nfiles; i++) {
            sf[i].local = w.files[i].local;
            sf[i].rel = w.files[i].rel;
            memcpy(sf[i].sha256, w.files[i].sha256, sizeof(sf[i].sha256));
            sf[i].size = w.files[i].size;
            sf[i].mode = w.files[i].mode;
        }
        struct ssh_connect_opts o = {.known_hosts = r->known_hosts,
                                     .identity = r->identity,
                                     .name = r->name,
                                     .registered = r->name != NULL};
        rc = ssh_conn_open(r->url, &o, &conn, err);
        if (rc == 0)
            rc = ssh_sync(conn, dir, sf, w.nfiles, (const char *const *)w.dirs, w.ndirs, &stats,
                          err);
        if (rc != 0) {
            zp_err_prefix(err, "server '%s': syncing the project's files to %s",
                          r->name ? r->name : r->url, dir);
            goto out;
        }
    }
    /* the model: a digest of what each service mounts, then paths on the server (every
     * node once: configs and secrets are shared by services) */
    size_t nsvc = svcs && zp_node_is_map(svcs) ? svcs->n : 0;
    char(*hex)[65] = zp_calloc(nsvc + 1, sizeof(*hex));
    struct zp_node **done = NULL;
    size_t ndone = 0;
    for (size_t i = 0; i < nsvc; i++) {
        struct src *s = NULL;
        size_t n = service_sources(p->model, svcs->pairs[i].value, p->workdir, &s);
        if (n > 0) {
            struct zp_sha256 h;
            zp_sha256_init(&h);
            for (size_t k = 0; k < n; k++)
                for (size_t f = 0; f < w.nfiles; f++)
                    if (under(w.files[f].rel, s[k].rel)) {
                        zp_sha256_update(&h, w.files[f].rel, strlen(w.files[f].rel) + 1);
                        zp_sha256_update(&h, w.files[f].sha256, 64);
                    }
            unsigned char d[32];
            zp_sha256_final(&h, d);
            zp_hex32(d, hex[i]);
        }
        free(s);
    }
    for (size_t i = 0; i < nsvc; i++) {
        struct zp_node *svc = svcs->pairs[i].value;
        struct src *s = NULL;
        size_t n = service_sources(p->model, svc, p->workdir, &s);
        for (size_t k = 0; k < n; k++) {
            bool seen = false;
            for (size_t j = 0; j < ndone && !seen; j++)
                seen = done[j] == s[k].node;
            if (seen)
                continue;
            char *remote = *s[k].rel ? zp_path_join(dir, s[k].rel) : zp_strdup(dir);
            zp_node_set_scalar(s[k].node, ZP_STR, remote);
            free(remote);
            done = zp_realloc(done, (ndone + 1) * sizeof(*done));
            done[ndone++] = s[k].node;
        }
        free(s);
        if (!hex[i][0])
            continue;
        zp_node_set(svc, RELEASE_SYNC_KEY, zp_node_new_str(hex[i], NULL));
    }
    free(done);
    free(hex);
    if (ret_stats)
        *ret_stats = stats;
out:
    ssh_conn_free(conn);
    walk_release(&w);
    free(sf);
    free(dir);
    return rc;
}

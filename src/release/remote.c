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

#include "../proxy/proxy.h"

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

struct sync_args {
    const char *dir;
    const struct ssh_sync_file *files;
    size_t nfiles;
    const char *const *dirs;
    size_t ndirs;
    struct ssh_sync_stats *stats;
};

static int sync_on(struct ssh_conn *c, void *arg, struct zp_err *err)
{
    struct sync_args *a = arg;
    return ssh_sync(c, a->dir, a->files, a->nfiles, a->dirs, a->ndirs, a->stats, err);
}

int release_remote_prepare(struct compose_project *p, const struct release_remote *r,
                           struct ssh_tunnel *sync, struct ssh_sync_stats *ret_stats,
                           struct zp_err *err)
{
    struct walk w = {0};
    char *dir = release_remote_dir(r, p->name);
    struct ssh_sync_file *sf = NULL;
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
        struct sync_args a = {dir, sf, w.nfiles, (const char *const *)w.dirs, w.ndirs, &stats};
        rc = ssh_tunnel_with_conn(sync, sync_on, &a, err);
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
    walk_release(&w);
    free(sf);
    free(dir);
    return rc;
}

/* ---- the proxy on the server ---- */

char *release_remote_proxy_dir(const struct release_remote *r)
{
    const char *base = r->base_dir && *r->base_dir ? r->base_dir : SSH_DEFAULT_BASE_DIR;
    char *j = zp_asprintf("%s/.proxy", base);
    char *c = zp_path_clean(j);
    free(j);
    return c;
}

struct proxy_files {
    const char *dir;
    struct ssh_sync_file *files;
    size_t n;
    const char *const *dirs;
    size_t ndirs;
    unsigned uid, gid;
};

static int proxy_files_on(struct ssh_conn *c, void *arg, struct zp_err *err)
{
    struct proxy_files *a = arg;
    struct ssh_sync_stats st;
    int rc = ssh_sync(c, a->dir, a->files, a->n, a->dirs, a->ndirs, &st, err);
    if (rc == 0)
        rc = ssh_sftp_private_dir(c, a->dir, &a->uid, &a->gid, err);
    return rc;
}

/* proxy_remote.prepare: the files go to a private local directory first (ssh_sync sends
 * files), then over SFTP on the tunnel's session. */
static int proxy_prepare(void *ctx, const char *dir, const char *const *names,
                         const char *const *texts, size_t n, const char *const *dirs, size_t ndirs,
                         char **ret_user, struct zp_err *err)
{
    struct ssh_tunnel *t = ctx;
    *ret_user = NULL;
    const char *tmp = getenv("TMPDIR");
    char *ldir = zp_asprintf("%s/zpanel-proxy-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    struct ssh_sync_file *files = zp_calloc(n + 1, sizeof(*files));
    char **paths = zp_calloc(n + 1, sizeof(*paths));
    int rc = 0;
    if (!mkdtemp(ldir)) {
        rc = zp_err_sys(err, "creating a directory from '%s'", ldir);
        free(ldir);
        ldir = NULL;
        goto out;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        paths[i] = zp_path_join(ldir, names[i]);
        size_t len = strlen(texts[i]);
        int fd = open(paths[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || zp_write_all(fd, texts[i], len) != 0) {
            rc = zp_err_sys(err, "writing '%s'", paths[i]);
            if (fd >= 0)
                close(fd);
            break;
        }
        close(fd);
        files[i].local = paths[i];
        files[i].rel = names[i];
        files[i].size = len;
        files[i].mode = 0600;
        zp_sha256_hex(texts[i], len, files[i].sha256);
    }
    if (rc != 0)
        goto out;
    struct proxy_files a = {.dir = dir, .files = files, .n = n, .dirs = dirs, .ndirs = ndirs};
    if ((rc = ssh_tunnel_with_conn(t, proxy_files_on, &a, err)) != 0) {
        zp_err_prefix(err, "the proxy's files in %s", dir);
        goto out;
    }
    *ret_user = zp_asprintf("%u:%u", a.uid, a.gid);
out:
    for (size_t i = 0; i < n; i++) {
        if (paths[i])
            unlink(paths[i]);
        free(paths[i]);
    }
    if (ldir)
        rmdir(ldir);
    free(ldir);
    free(paths);
    free(files);
    return rc;
}

int release_remote_proxy_register(const struct release_remote *r, struct ssh_tunnel *t,
                                  struct zp_err *err)
{
    static const char *const socks[] = {PROXY_SOCKET_NAMES};
    char *dir = release_remote_proxy_dir(r), *local = NULL;
    int rc = ssh_tunnel_forward_dir(t, dir, socks, 3, &local, err);
    if (rc == 0) {
        struct proxy_remote pr = {
            .dir = dir, .sock_dir = local, .prepare = proxy_prepare, .ctx = t};
        proxy_remote_set(ssh_tunnel_host(t), &pr);
    }
    free(dir);
    free(local);
    return rc;
}

void release_remote_proxy_forget(struct ssh_tunnel *t)
{
    if (t)
        proxy_remote_set(ssh_tunnel_host(t), NULL);
}

/* ---- a registered server, open ---- */

int release_server_open(const char *state_dir, const char *name, struct release_server **ret,
                        struct zp_err *err)
{
    *ret = NULL;
    struct ssh_servers servers = {0};
    int rc = ssh_servers_load(state_dir, &servers, err);
    const struct ssh_server *srv = rc == 0 ? ssh_servers_find(&servers, name) : NULL;
    if (rc == 0 && !srv)
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "no server named '%s' (see zpanel server list)",
                        name);
    if (rc != 0) {
        ssh_servers_release(&servers);
        return rc;
    }
    struct release_server *s = zp_calloc(1, sizeof(*s));
    s->url = zp_strdup(srv->url);
    s->name = zp_strdup(srv->name);
    s->known_hosts = ssh_known_hosts_path(state_dir);
    s->identity = zp_strdup(srv->identity);
    s->base_dir = srv->base_dir ? zp_strdup(srv->base_dir) : NULL;
    ssh_servers_release(&servers);
    s->r = (struct release_remote){.url = s->url,
                                   .name = s->name,
                                   .known_hosts = s->known_hosts,
                                   .identity = s->identity,
                                   .base_dir = s->base_dir};
    struct ssh_connect_opts o = {.known_hosts = s->known_hosts,
                                 .identity = s->identity,
                                 .name = s->name,
                                 .registered = true};
    if ((rc = ssh_tunnel_open(s->url, s->name, &o, &s->t, err)) != 0 ||
        (rc = release_remote_proxy_register(&s->r, s->t, err)) != 0) {
        release_server_close(s, 0, NULL);
        return rc;
    }
    *ret = s;
    return 0;
}

const char *release_server_host(const struct release_server *s)
{
    return ssh_tunnel_host(s->t);
}

void release_server_close(struct release_server *s, int rc, char **ret_why)
{
    if (ret_why)
        *ret_why = NULL;
    if (!s)
        return;
    if (s->t) {
        if (rc != 0 && ret_why)
            *ret_why = ssh_tunnel_error(s->t);
        release_remote_proxy_forget(s->t);
        ssh_tunnel_free(s->t);
    }
    free(s->url);
    free(s->name);
    free(s->known_hosts);
    free(s->identity);
    free(s->base_dir);
    free(s);
}

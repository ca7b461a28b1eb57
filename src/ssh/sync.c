/* ssh/sync: files to a server over SFTP. A manifest on the server (BASE/.zpanel-sync)
 * records what was sent: the SHA-256 of each file and the size and mtime the server
 * reported after the upload. A file moves when its local SHA-256 differs from the
 * manifest's, or when the server's copy no longer has the recorded size and mtime; files
 * of an earlier sync that are no longer wanted are removed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh/sftp.h>

#include "ssh-int.h"

#include "../util/banned.h"

#define CHUNK 32768
#define TMP_SUFFIX ".zpanel-tmp"

/* ---- the manifest (pure) ---- */

/* A path relative to the base: not empty, not absolute, no empty, "." or ".." component,
 * no newline. */
static bool rel_ok(const char *p)
{
    if (!*p || *p == '/' || strlen(p) > 4096 || strchr(p, '\n') || strchr(p, '\r'))
        return false;
    for (const char *c = p; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        c += n;
        if (*c == '/')
            c++;
        if (!*c && c[-1] == '/')
            return false;
    }
    return true;
}

/* Read a decimal (base 10) or octal (base 8) number up to the next space. */
static const char *read_num(const char *s, int base, uint64_t max, uint64_t *ret)
{
    uint64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p < '0' + base; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / (uint64_t)base)
            return NULL;
        v = v * (uint64_t)base + d;
    }
    if (p == s || *p != ' ')
        return NULL;
    *ret = v;
    return p + 1;
}

int ssh_sync_manifest_line(const char *line, struct ssh_sync_entry *ret, struct zp_err *err)
{
    memset(ret, 0, sizeof(*ret));
    for (int i = 0; i < 64; i++) {
        char c = line[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return zp_err_set(err, ZP_E_INPUT, NULL, "expected a SHA-256 in hex at column %d",
                              i + 1);
    }
    if (line[64] != ' ')
        return zp_err_set(err, ZP_E_INPUT, NULL, "expected a space after the SHA-256");
    uint64_t size, mtime, mode;
    const char *p = line + 65;
    if (!(p = read_num(p, 10, INT64_MAX, &size)))
        return zp_err_set(err, ZP_E_INPUT, NULL, "expected a size");
    if (!(p = read_num(p, 10, INT64_MAX, &mtime)))
        return zp_err_set(err, ZP_E_INPUT, NULL, "expected an mtime");
    if (!(p = read_num(p, 8, 07777, &mode)))
        return zp_err_set(err, ZP_E_INPUT, NULL, "expected an octal mode");
    if (!rel_ok(p))
        return zp_err_set(err, ZP_E_INPUT, NULL, "'%.200s' is not a relative path", p);
    memcpy(ret->sha256, line, 64);
    ret->sha256[64] = '\0';
    ret->size = size;
    ret->mtime = (int64_t)mtime;
    ret->mode = (unsigned)mode;
    ret->path = zp_strdup(p);
    return 0;
}

/* ---- SFTP ---- */

struct syncer {
    struct ssh_conn *c;
    sftp_session sftp;
    const char *base;
    char **made; /* directories made (or found) this run */
    size_t nmade;
};

static const char *sftp_why(struct syncer *s)
{
    switch (sftp_get_error(s->sftp)) {
    case SSH_FX_NO_SUCH_FILE:
        return "no such file or directory";
    case SSH_FX_PERMISSION_DENIED:
        return "permission denied";
    case SSH_FX_FILE_ALREADY_EXISTS:
        return "exists already";
    case SSH_FX_NO_CONNECTION:
    case SSH_FX_CONNECTION_LOST:
        return "the connection was lost";
    default: {
        const char *e = ssh_get_error(s->c->session);
        return e && *e ? e : "failed";
    }
    }
}

static int fail(struct syncer *s, struct zp_err *err, const char *what, const char *path)
{
    return zp_err_set(err, ZP_E_ENGINE, NULL, "%s: SFTP: %s '%s': %s", s->c->where, what, path,
                      sftp_why(s));
}

static bool is_dir(struct syncer *s, const char *path)
{
    sftp_attributes a = sftp_stat(s->sftp, path);
    bool d = a && a->type == SSH_FILEXFER_TYPE_DIRECTORY;
    sftp_attributes_free(a);
    return d;
}

/* mkdir -p of an absolute path on the server. */
static int mkdirs(struct syncer *s, const char *path, struct zp_err *err)
{
    for (size_t i = 0; i < s->nmade; i++)
        if (strcmp(s->made[i], path) == 0)
            return 0;
    if (!is_dir(s, path)) {
        char *parent = zp_path_dir(path);
        int rc = strcmp(parent, path) != 0 ? mkdirs(s, parent, err) : 0;
        free(parent);
        if (rc != 0)
            return rc;
        if (sftp_mkdir(s->sftp, path, 0755) != SSH_OK && !is_dir(s, path))
            return fail(s, err, "creating the directory", path);
    }
    s->made = zp_realloc(s->made, (s->nmade + 1) * sizeof(*s->made));
    s->made[s->nmade++] = zp_strdup(path);
    return 0;
}

/* Replace the server's file path by the temporary tmp. */
static int replace(struct syncer *s, const char *tmp, const char *path, struct zp_err *err)
{
    sftp_attributes a = sftp_lstat(s->sftp, path);
    if (a) {
        bool dir = a->type == SSH_FILEXFER_TYPE_DIRECTORY;
        sftp_attributes_free(a);
        if (dir) {
            sftp_unlink(s->sftp, tmp);
            return zp_err_set(err, ZP_E_ENGINE, NULL,
                              "%s: SFTP: '%s' is a directory on the server, a file here",
                              s->c->where, path);
        }
        if (sftp_unlink(s->sftp, path) != SSH_OK)
            return fail(s, err, "removing", path);
    }
    if (sftp_rename(s->sftp, tmp, path) != SSH_OK)
        return fail(s, err, "renaming to", path);
    return 0;
}

/* Upload f to path; *e gets the manifest entry (the digest of what was sent, the size and
 * mtime the server reports). */
static int upload(struct syncer *s, const struct ssh_sync_file *f, const char *path,
                  struct ssh_sync_entry *e, uint64_t *ret_bytes, struct zp_err *err)
{
    char *dir = zp_path_dir(path);
    char *tmp = zp_asprintf("%s" TMP_SUFFIX, path);
    sftp_file out = NULL;
    int fd = -1, rc = 0;
    uint64_t total = 0;
    if ((rc = mkdirs(s, dir, err)) != 0)
        goto out;
    fd = open(f->local, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        rc = zp_err_sys(err, "opening '%s'", f->local);
        goto out;
    }
    out = sftp_open(s->sftp, tmp, O_WRONLY | O_CREAT | O_TRUNC, (mode_t)(f->mode & 07777));
    if (!out) {
        rc = fail(s, err, "creating", tmp);
        goto out;
    }
    struct zp_sha256 h;
    zp_sha256_init(&h);
    char buf[CHUNK];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = zp_err_sys(err, "reading '%s'", f->local);
            goto out;
        }
        if (n == 0)
            break;
        zp_sha256_update(&h, buf, (size_t)n);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = sftp_write(out, buf + off, (size_t)(n - off));
            if (w <= 0) {
                rc = fail(s, err, "writing", tmp);
                goto out;
            }
            off += w;
        }
        total += (uint64_t)n;
    }
    int crc = sftp_close(out);
    out = NULL;
    if (crc != SSH_OK) {
        rc = fail(s, err, "writing", tmp);
        goto out;
    }
    /* the server's umask may have narrowed the mode of the new file */
    if (sftp_chmod(s->sftp, tmp, (mode_t)(f->mode & 07777)) != SSH_OK) {
        rc = fail(s, err, "setting the mode of", tmp);
        goto out;
    }
    if ((rc = replace(s, tmp, path, err)) != 0)
        goto out;
    sftp_attributes a = sftp_lstat(s->sftp, path);
    if (!a) {
        rc = fail(s, err, "reading the attributes of", path);
        goto out;
    }
    unsigned char d[32];
    zp_sha256_final(&h, d);
    zp_hex32(d, e->sha256);
    e->size = a->size;
    e->mtime = (int64_t)a->mtime;
    e->mode = f->mode & 07777;
    sftp_attributes_free(a);
    *ret_bytes += total;
out:
    if (out) {
        sftp_close(out);
        sftp_unlink(s->sftp, tmp);
    }
    if (fd >= 0)
        close(fd);
    free(tmp);
    free(dir);
    return rc;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ssh_sync_entry *)a)->path,
                  ((const struct ssh_sync_entry *)b)->path);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read and parse the manifest; a missing or damaged one is empty (everything is sent). */
static void manifest_read(struct syncer *s, const char *path, struct ssh_sync_entry **ret,
                          size_t *ret_n)
{
    *ret = NULL;
    *ret_n = 0;
    sftp_file in = sftp_open(s->sftp, path, O_RDONLY, 0);
    if (!in)
        return;
    struct zp_buf b;
    zp_buf_init(&b, SSH_SYNC_MAX_MANIFEST);
    char buf[CHUNK];
    bool ok = true;
    for (;;) {
        ssize_t n = sftp_read(in, buf, sizeof(buf));
        if (n < 0 || (n > 0 && zp_buf_add(&b, buf, (size_t)n) != 0)) {
            ok = false;
            break;
        }
        if (n == 0)
            break;
    }
    sftp_close(in);
    struct ssh_sync_entry *es = NULL;
    size_t n = 0;
    char *data = ok ? zp_buf_detach(&b, NULL) : NULL;
    for (char *line = data; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        struct ssh_sync_entry e;
        struct zp_err lerr;
        zp_err_init(&lerr);
        if (ssh_sync_manifest_line(line, &e, &lerr) != 0 || n >= SSH_SYNC_MAX_FILES) {
            ok = false;
            break;
        }
        es = zp_realloc(es, (n + 1) * sizeof(*es));
        es[n++] = e;
        line = nl ? nl + 1 : NULL;
    }
    free(data);
    zp_buf_release(&b);
    if (!ok) {
        for (size_t i = 0; i < n; i++)
            free(es[i].path);
        free(es);
        return;
    }
    if (n > 0)
        qsort(es, n, sizeof(*es), entry_cmp);
    *ret = es;
    *ret_n = n;
}

static int manifest_write(struct syncer *s, const char *path, const struct ssh_sync_entry *es,
                          size_t n, struct zp_err *err)
{
    struct zp_buf b;
    zp_buf_init(&b, 0);
    for (size_t i = 0; i < n; i++)
        zp_buf_addf(&b, "%s %llu %lld %o %s\n", es[i].sha256, (unsigned long long)es[i].size,
                    (long long)es[i].mtime, es[i].mode, es[i].path);
    char *tmp = zp_asprintf("%s" TMP_SUFFIX, path);
    int rc = 0;
    sftp_file out = sftp_open(s->sftp, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!out) {
        rc = fail(s, err, "creating", tmp);
        goto out;
    }
    for (size_t off = 0; off < b.len;) {
        ssize_t w = sftp_write(out, b.p + off, b.len - off);
        if (w <= 0) {
            sftp_close(out);
            rc = fail(s, err, "writing", tmp);
            goto out;
        }
        off += (size_t)w;
    }
    if (sftp_close(out) != SSH_OK) {
        rc = fail(s, err, "writing", tmp);
        goto out;
    }
    rc = replace(s, tmp, path, err);
out:
    free(tmp);
    zp_buf_release(&b);
    return rc;
}

int ssh_sync(struct ssh_conn *c, const char *base, const struct ssh_sync_file *files, size_t nfiles,
             const char *const *dirs, size_t ndirs, struct ssh_sync_stats *ret, struct zp_err *err)
{
    memset(ret, 0, sizeof(*ret));
    if (base[0] != '/')
        return zp_err_set(err, ZP_E_INPUT, NULL, "the base directory '%s' is not absolute", base);
    if (nfiles > SSH_SYNC_MAX_FILES)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "more than %d files to sync", SSH_SYNC_MAX_FILES);
    for (size_t i = 0; i < nfiles; i++)
        if (!rel_ok(files[i].rel) || strstr(files[i].rel, TMP_SUFFIX) ||
            strcmp(files[i].rel, SSH_SYNC_MANIFEST) == 0)
            return zp_err_set(err, ZP_E_INPUT, NULL, "cannot sync '%s' as '%s'", files[i].local,
                              files[i].rel);
    for (size_t i = 0; i < ndirs; i++)
        if (!rel_ok(dirs[i]))
            return zp_err_set(err, ZP_E_INPUT, NULL, "cannot sync the directory '%s'", dirs[i]);
    struct syncer s = {.c = c, .base = base};
    struct ssh_sync_entry *old = NULL, *now = NULL;
    size_t nold = 0, nnow = 0;
    char **wanted = NULL;
    char *mpath = zp_path_join(base, SSH_SYNC_MANIFEST);
    int rc = 0;
    s.sftp = sftp_new(c->session);
    if (!s.sftp || sftp_init(s.sftp) != SSH_OK) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                        "%s: cannot start SFTP (is the sftp subsystem enabled in sshd_config?): %s",
                        c->where, ssh_get_error(c->session));
        goto out;
    }
    if ((rc = mkdirs(&s, base, err)) != 0)
        goto out;
    manifest_read(&s, mpath, &old, &nold);
    now = zp_calloc(nfiles + 1, sizeof(*now));
    for (size_t i = 0; i < ndirs; i++) {
        char *d = zp_path_join(base, dirs[i]);
        rc = mkdirs(&s, d, err);
        free(d);
        if (rc != 0)
            goto out;
    }
    for (size_t i = 0; i < nfiles; i++) {
        const struct ssh_sync_file *f = &files[i];
        char *path = zp_path_join(base, f->rel);
        struct ssh_sync_entry key = {.path = (char *)f->rel};
        const struct ssh_sync_entry *o =
            nold ? bsearch(&key, old, nold, sizeof(*old), entry_cmp) : NULL;
        bool same = false;
        if (o && strcmp(o->sha256, f->sha256) == 0 && o->mode == (f->mode & 07777)) {
            sftp_attributes a = sftp_lstat(s.sftp, path);
            same = a && a->type == SSH_FILEXFER_TYPE_REGULAR && a->size == o->size &&
                   (int64_t)a->mtime == o->mtime;
            sftp_attributes_free(a);
        }
        struct ssh_sync_entry *e = &now[nnow];
        if (same) {
            *e = *o;
            e->path = zp_strdup(o->path);
        } else {
            memset(e, 0, sizeof(*e));
            rc = upload(&s, f, path, e, &ret->bytes, err);
            if (rc == 0) {
                e->path = zp_strdup(f->rel);
                ret->sent++;
            }
        }
        free(path);
        if (rc != 0)
            goto out;
        nnow++;
    }
    ret->files = nfiles;
    /* what an earlier sync sent and is no longer wanted */
    wanted = zp_calloc(nfiles + 1, sizeof(*wanted));
    for (size_t i = 0; i < nfiles; i++)
        wanted[i] = (char *)files[i].rel;
    if (nfiles > 0)
        qsort(wanted, nfiles, sizeof(*wanted), str_cmp);
    for (size_t i = 0; i < nold; i++) {
        char *k = old[i].path;
        if (nfiles > 0 && bsearch(&k, wanted, nfiles, sizeof(*wanted), str_cmp))
            continue;
        char *path = zp_path_join(base, old[i].path);
        if (sftp_unlink(s.sftp, path) == SSH_OK)
            ret->removed++;
        free(path);
    }
    if (nnow > 0)
        qsort(now, nnow, sizeof(*now), entry_cmp);
    if (ret->sent > 0 || ret->removed > 0 || nold != nnow)
        rc = manifest_write(&s, mpath, now, nnow, err);
out:
    for (size_t i = 0; i < nold; i++)
        free(old[i].path);
    for (size_t i = 0; i < nnow; i++)
        free(now[i].path);
    for (size_t i = 0; i < s.nmade; i++)
        free(s.made[i]);
    free(s.made);
    free(old);
    free(now);
    free(wanted);
    free(mpath);
    if (s.sftp)
        sftp_free(s.sftp);
    return rc;
}

int ssh_sftp_private_dir(struct ssh_conn *c, const char *path, unsigned *ret_uid, unsigned *ret_gid,
                         struct zp_err *err)
{
    struct syncer s = {.c = c, .base = path};
    int rc = 0;
    s.sftp = sftp_new(c->session);
    if (!s.sftp || sftp_init(s.sftp) != SSH_OK) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                        "%s: cannot start SFTP (is the sftp subsystem enabled in sshd_config?): %s",
                        c->where, ssh_get_error(c->session));
        goto out;
    }
    if (sftp_chmod(s.sftp, path, 0700) != SSH_OK) {
        rc = fail(&s, err, "making private", path);
        goto out;
    }
    sftp_attributes a = sftp_stat(s.sftp, path);
    if (!a) {
        rc = fail(&s, err, "reading", path);
        goto out;
    }
    *ret_uid = a->uid;
    *ret_gid = a->gid;
    sftp_attributes_free(a);
out:
    if (s.sftp)
        sftp_free(s.sftp);
    return rc;
}

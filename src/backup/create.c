/* backup/create: write a project's archive: volumes read through the engine's archive API
 * from a never-started helper container, bind directories and files read from the host,
 * then the manifest; into a temporary file renamed into place only when complete. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "backup-int.h"

#include "../util/banned.h"

struct writer {
    struct archive *w;
    const char *output;
    unsigned char *chunk;
    struct backup_manifest m;
    backup_progress_fn progress;
    void *ud;
};

static void note(struct writer *wr, enum backup_kind kind, const char *key, const char *fmt, ...)
    ZP_PRINTF(4, 5);
static void note(struct writer *wr, enum backup_kind kind, const char *key, const char *fmt, ...)
{
    if (!wr->progress)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *text = zp_vasprintf(fmt, ap);
    va_end(ap);
    wr->progress(wr->ud, kind, key, text);
    free(text);
}

static int write_failed(struct writer *wr, struct zp_err *err)
{
    int e = archive_errno(wr->w);
    const char *msg = archive_error_string(wr->w);
    zp_err_set(err, ZP_E_SYSTEM, NULL, "writing '%s': %s", wr->output,
               msg ? msg : (e ? strerror(e) : "write error"));
    err->sys_errno = e;
    return ZP_E_SYSTEM;
}

/* The path of the entry inside the section: "" for the root. */
static char *join_rel(const char *dir, const char *rel)
{
    return rel[0] ? zp_asprintf("%s/%s", dir, rel) : zp_strdup(dir);
}

/* Write one entry read from src (an archive reader, tar or disk) into the output as
 * dir/rel, with its content, adding it to the digest. rel and link_rel are paths inside the
 * section; link_rel is the hard link's target or NULL. */
static int copy_entry(struct writer *wr, struct archive *src, struct archive_entry *ae,
                      struct backup_digest *dg, const char *dir, const char *rel,
                      const char *link_rel, struct zp_err *err)
{
    int type = backup__entry_type(ae);
    int rc = 0;
    char *name = join_rel(dir, rel);
    char *lname = link_rel ? join_rel(dir, link_rel) : NULL;
    if ((rc = backup_check_path(rel, strlen(rel), err)) != 0)
        goto out;
    if (type < 0) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "'%s' is a device or socket", rel);
        goto out;
    }
    if (rel[0] == '\0' && type != BACKUP_T_DIR) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "the root is not a directory");
        goto out;
    }
    if (type == BACKUP_T_SYMLINK &&
        (rc = backup_check_symlink(rel, archive_entry_symlink(ae), err)) != 0) {
        zp_err_prefix(err, "cannot archive it");
        goto out;
    }
    archive_entry_set_pathname(ae, name);
    if (lname) {
        archive_entry_set_hardlink(ae, lname);
        archive_entry_set_size(ae, 0);
    }
    archive_entry_sparse_clear(ae);
    archive_entry_set_uname(ae, NULL);
    archive_entry_set_gname(ae, NULL);
    unsigned mode = (unsigned)archive_entry_perm(ae) | (archive_entry_mode(ae) & 07000);
    rc = backup_digest_begin(dg, rel, (enum backup_type)type, mode, archive_entry_uid(ae),
                             archive_entry_gid(ae),
                             type == BACKUP_T_SYMLINK ? archive_entry_symlink(ae) : link_rel, err);
    if (rc)
        goto out;
    if (archive_write_header(wr->w, ae) < ARCHIVE_WARN) {
        rc = write_failed(wr, err);
        goto out;
    }
    if (type == BACKUP_T_FILE) {
        for (;;) {
            la_ssize_t n = archive_read_data(src, wr->chunk, BACKUP__CHUNK);
            if (n < 0) {
                rc = zp_err_set(err, ZP_E_ENGINE, NULL, "reading '%s': %s", rel,
                                archive_error_string(src) ? archive_error_string(src)
                                                          : "read error");
                goto out;
            }
            if (n == 0)
                break;
            backup_digest_data(dg, wr->chunk, (size_t)n);
            if (archive_write_data(wr->w, wr->chunk, (size_t)n) < 0) {
                rc = write_failed(wr, err);
                goto out;
            }
        }
    }
    backup_digest_end(dg);
out:
    free(name);
    free(lname);
    return rc;
}

static void add_section(struct writer *wr, enum backup_kind kind, const char *key, const char *name,
                        struct backup_digest *dg)
{
    wr->m.sections = zp_realloc(wr->m.sections, (wr->m.n + 1) * sizeof(*wr->m.sections));
    struct backup_section *s = &wr->m.sections[wr->m.n++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->key = zp_strdup(key);
    s->name = name ? zp_strdup(name) : NULL;
    backup_digest_finish(dg, s->sha256, &s->size, &s->files);
}

/* ---- volumes: the engine's tar stream through a pipe ---- */

struct getter {
    struct engine *e;
    const char *id;
    char *path;
    int fd; /* write end, closed by the thread */
    int rc;
    struct zp_err err;
};

static int pipe_write(void *ctx, const void *data, size_t len, struct zp_err *err)
{
    struct getter *g = ctx;
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(g->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return zp_err_sys(err, "passing the volume's stream on");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void *getter_thread(void *arg)
{
    struct getter *g = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    g->rc = engine_container_archive_get(g->e, g->id, g->path, pipe_write, g, &g->err);
    close(g->fd);
    g->fd = -1;
    return NULL;
}

/* Read the tar stream of one volume (entries "v<i>", "v<i>/...") into the output. */
static int read_volume_stream(struct writer *wr, int fd, const char *top,
                              const struct backup_volume *v, struct zp_err *err)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    archive_read_support_filter_none(a);
    struct backup_digest *dg = backup_digest_new();
    char *dir = backup__section_dir(BACKUP_VOLUME, v->key);
    size_t tl = strlen(top);
    int rc = 0;
    bool root = false;
    if (archive_read_open_fd(a, fd, BACKUP__CHUNK) != ARCHIVE_OK) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "reading the volume's stream: %s",
                        archive_error_string(a) ? archive_error_string(a) : "error");
        goto out;
    }
    for (;;) {
        struct archive_entry *ae = NULL;
        int r = archive_read_next_header(a, &ae);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = zp_err_set(err, ZP_E_ENGINE, NULL, "reading the volume's stream: %s",
                            archive_error_string(a) ? archive_error_string(a) : "error");
            goto out;
        }
        const char *name = archive_entry_pathname(ae);
        if (name == NULL || strncmp(name, top, tl) != 0 || (name[tl] != '/' && name[tl] != '\0')) {
            rc = zp_err_set(err, ZP_E_ENGINE, NULL, "unexpected entry '%s' from the engine",
                            name ? name : "");
            goto out;
        }
        char *rel = zp_strdup(name[tl] ? name + tl + 1 : "");
        size_t rl = strlen(rel);
        while (rl > 0 && rel[rl - 1] == '/')
            rel[--rl] = '\0';
        char *lrel = NULL;
        const char *hl = archive_entry_hardlink(ae);
        if (hl) {
            if (strncmp(hl, top, tl) != 0 || hl[tl] != '/') {
                free(rel);
                rc = zp_err_set(err, ZP_E_ENGINE, NULL, "hard link '%s' leaves the volume", name);
                goto out;
            }
            lrel = zp_strdup(hl + tl + 1);
        }
        root = root || rel[0] == '\0';
        rc = copy_entry(wr, a, ae, dg, dir, rel, lrel, err);
        free(rel);
        free(lrel);
        if (rc)
            goto out;
    }
    if (!root) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "the engine's stream has no root directory");
        goto out;
    }
    add_section(wr, BACKUP_VOLUME, v->key, v->name, dg);
    note(wr, BACKUP_VOLUME, v->key, "%llu entries, %llu bytes",
         (unsigned long long)wr->m.sections[wr->m.n - 1].files,
         (unsigned long long)wr->m.sections[wr->m.n - 1].size);
out:
    free(dir);
    backup_digest_free(dg);
    archive_read_free(a);
    return rc;
}

static int backup_volume(struct writer *wr, struct engine *e, const char *helper, size_t i,
                         const struct backup_volume *v, struct zp_err *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return zp_err_sys(err, "creating a pipe");
    fcntl(fds[1], F_SETPIPE_SZ, 1 << 20); /* fewer wake-ups; the default is fine too */
    struct getter g;
    memset(&g, 0, sizeof(g));
    zp_err_init(&g.err);
    g.e = e;
    g.id = helper;
    g.path = zp_asprintf("%s/v%zu", BACKUP_HELPER_DIR, i);
    g.fd = fds[1];
    pthread_t t;
    int prc = pthread_create(&t, NULL, getter_thread, &g);
    if (prc != 0) {
        close(fds[0]);
        close(fds[1]);
        free(g.path);
        errno = prc;
        return zp_err_sys(err, "creating a thread");
    }
    char *top = zp_asprintf("v%zu", i);
    note(wr, BACKUP_VOLUME, v->key, "reading volume '%s'", v->name);
    int rc = read_volume_stream(wr, fds[0], top, v, err);
    free(top);
    if (rc)
        engine_cancel(e); /* the getter may be blocked on a full pipe or on the engine */
    close(fds[0]);
    pthread_join(t, NULL);
    if (rc)
        engine_cancel_clear(e);
    /* the engine's own failure explains a stream that stopped early */
    if (g.rc != 0 && g.rc != ENGINE_E_CANCELLED && (rc == 0 || rc == ZP_E_ENGINE)) {
        zp_err_init(err);
        *err = g.err;
        rc = g.rc;
    }
    if (rc)
        zp_err_prefix(err, "volume '%s'", v->key);
    free(g.path);
    return rc;
}

/* ---- binds and files: from the host ---- */

static int backup_bind(struct writer *wr, const struct backup_path *b, struct zp_err *err)
{
    struct archive *d = archive_read_disk_new();
    archive_read_disk_set_symlink_physical(d);
    struct archive_entry_linkresolver *lr = archive_entry_linkresolver_new();
    archive_entry_linkresolver_set_strategy(lr, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
    struct backup_digest *dg = backup_digest_new();
    char *dir = backup__section_dir(BACKUP_BIND, b->key);
    size_t dl = strlen(dir);
    size_t pl = strlen(b->path);
    struct archive_entry *ae = archive_entry_new();
    int rc = 0;
    note(wr, BACKUP_BIND, b->key, "reading '%s'", b->path);
    if (archive_read_disk_open(d, b->path) != ARCHIVE_OK) {
        rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "%s",
                        archive_error_string(d) ? archive_error_string(d) : "cannot open");
        goto out;
    }
    for (;;) {
        archive_entry_clear(ae);
        int r = archive_read_next_header2(d, ae);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "%s",
                            archive_error_string(d) ? archive_error_string(d) : "read error");
            goto out;
        }
        const char *name = archive_entry_pathname(ae);
        if (name == NULL || strncmp(name, b->path, pl) != 0 ||
            (name[pl] != '/' && name[pl] != '\0')) {
            rc = zp_err_set(err, ZP_E_INTERNAL, NULL, "unexpected path '%s'", name ? name : "");
            goto out;
        }
        if (archive_entry_filetype(ae) == AE_IFDIR)
            archive_read_disk_descend(d);
        mode_t ft = archive_entry_filetype(ae);
        if (ft == AE_IFSOCK || ft == AE_IFCHR || ft == AE_IFBLK) {
            note(wr, BACKUP_BIND, b->key, "'%s' is a socket or device, ignoring", name);
            continue;
        }
        char *rel = zp_strdup(name[pl] ? name + pl + 1 : "");
        /* the link resolver names later links after the first path, in archive form */
        char *aname = join_rel(dir, rel);
        archive_entry_set_pathname(ae, aname);
        free(aname);
        struct archive_entry *spare = NULL;
        struct archive_entry *cur = ae;
        archive_entry_linkify(lr, &cur, &spare);
        char *lrel = NULL;
        if (cur && archive_entry_hardlink(cur)) {
            const char *hl = archive_entry_hardlink(cur);
            lrel = zp_strdup(strlen(hl) > dl ? hl + dl + 1 : "");
        }
        if (cur)
            rc = copy_entry(wr, d, cur, dg, dir, rel, lrel, err);
        free(rel);
        free(lrel);
        if (spare)
            archive_entry_free(spare);
        if (rc)
            goto out;
    }
    add_section(wr, BACKUP_BIND, b->key, NULL, dg);
out:
    if (rc)
        zp_err_prefix(err, "bind directory '%s'", b->key);
    archive_entry_free(ae);
    free(dir);
    backup_digest_free(dg);
    archive_entry_linkresolver_free(lr);
    archive_read_free(d);
    return rc;
}

static int backup_file(struct writer *wr, const struct backup_path *f, struct zp_err *err)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return zp_err_sys(err, "file '%s'", f->path);
    struct archive_entry *ae = archive_entry_new();
    struct backup_digest *dg = backup_digest_new();
    char *name = backup__section_dir(BACKUP_FILE, f->key);
    int rc = 0;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = zp_err_sys(err, "file '%s'", f->path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "file '%s' is not a regular file", f->path);
        goto out;
    }
    archive_entry_copy_stat(ae, &st);
    archive_entry_set_pathname(ae, name);
    if ((rc = backup_digest_begin(dg, "", BACKUP_T_FILE, (unsigned)(st.st_mode & 07777),
                                  (int64_t)st.st_uid, (int64_t)st.st_gid, NULL, err)) != 0)
        goto out;
    if (archive_write_header(wr->w, ae) < ARCHIVE_WARN) {
        rc = write_failed(wr, err);
        goto out;
    }
    off_t left = st.st_size;
    while (left > 0) {
        ssize_t n = read(fd, wr->chunk, BACKUP__CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = zp_err_sys(err, "reading '%s'", f->path);
            goto out;
        }
        if (n == 0) {
            rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "file '%s' shrank while read", f->path);
            goto out;
        }
        if (n > left)
            n = (ssize_t)left; /* grew meanwhile: keep the size announced */
        backup_digest_data(dg, wr->chunk, (size_t)n);
        if (archive_write_data(wr->w, wr->chunk, (size_t)n) < 0) {
            rc = write_failed(wr, err);
            goto out;
        }
        left -= n;
    }
    backup_digest_end(dg);
    add_section(wr, BACKUP_FILE, f->key, NULL, dg);
out:
    free(name);
    backup_digest_free(dg);
    archive_entry_free(ae);
    close(fd);
    return rc;
}

static int write_manifest(struct writer *wr, struct zp_err *err)
{
    struct zp_buf b;
    zp_buf_init(&b, BACKUP_MAX_MANIFEST);
    int rc = backup_manifest_to_json(&wr->m, &b, err);
    if (rc) {
        zp_buf_release(&b);
        return rc;
    }
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, BACKUP_MANIFEST_NAME);
    archive_entry_set_filetype(ae, AE_IFREG);
    archive_entry_set_perm(ae, 0644);
    archive_entry_set_size(ae, (la_int64_t)b.len);
    archive_entry_set_mtime(ae, time(NULL), 0);
    if (archive_write_header(wr->w, ae) < ARCHIVE_WARN || archive_write_data(wr->w, b.p, b.len) < 0)
        rc = write_failed(wr, err);
    archive_entry_free(ae);
    zp_buf_release(&b);
    return rc;
}

/* ---- the whole backup ---- */

static int fsync_dir(const char *dir, struct zp_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return zp_err_sys(err, "opening '%s'", dir);
    int rc = fsync(fd) == 0 ? 0 : zp_err_sys(err, "syncing '%s'", dir);
    close(fd);
    return rc;
}

int backup_create(struct engine *e, const struct backup_spec *spec, const char *output,
                  backup_progress_fn progress, void *ud, struct backup_manifest *ret_manifest,
                  struct zp_err *err)
{
    enum backup_compression comp;
    int rc = backup_compression_for(output, &comp, err);
    if (rc)
        return rc;
    struct writer wr;
    memset(&wr, 0, sizeof(wr));
    wr.output = output;
    wr.progress = progress;
    wr.ud = ud;
    wr.m.format = BACKUP_FORMAT;
    wr.m.zpanel_version = zp_strdup(ZP_VERSION);
    wr.m.project = zp_strdup(spec->project);
    wr.m.created = backup__now_rfc3339();
    char *dir = zp_path_dir(output);
    char *base = strrchr(output, '/') ? zp_strdup(strrchr(output, '/') + 1) : zp_strdup(output);
    char *tmp = zp_asprintf("%s/.%s.tmp-XXXXXX", dir, base);
    char *helper = NULL;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = zp_err_sys(err, "creating a temporary file beside '%s'", output);
        free(tmp);
        tmp = NULL;
        goto out;
    }
    fchmod(fd, 0600); /* volumes hold secrets: only the owner reads the archive */
    wr.chunk = zp_malloc(BACKUP__CHUNK);
    wr.w = archive_write_new();
    archive_write_set_format_pax_restricted(wr.w);
    if (comp == BACKUP_GZIP)
        archive_write_add_filter_gzip(wr.w);
    else if (comp == BACKUP_ZSTD)
        archive_write_add_filter_zstd(wr.w);
    archive_write_set_bytes_per_block(wr.w, 64 * 1024);
    archive_write_set_bytes_in_last_block(wr.w, 1);
    if (archive_write_open_fd(wr.w, fd) != ARCHIVE_OK) {
        rc = write_failed(&wr, err);
        goto out;
    }
    if (spec->nvolumes > 0) {
        const char *image = NULL;
        if ((rc = backup__pick_image(e, spec->images, spec->nimages, &image, err)) != 0)
            goto out;
        const char **names = zp_calloc(spec->nvolumes + 1, sizeof(*names));
        for (size_t i = 0; i < spec->nvolumes; i++)
            names[i] = spec->volumes[i].name;
        rc = backup__helper_create(e, spec->project, image, names, spec->nvolumes, &helper, err);
        free(names);
        if (rc)
            goto out;
        for (size_t i = 0; i < spec->nvolumes && rc == 0; i++)
            rc = backup_volume(&wr, e, helper, i, &spec->volumes[i], err);
        if (rc)
            goto out;
    }
    for (size_t i = 0; i < spec->nbinds && rc == 0; i++)
        rc = backup_bind(&wr, &spec->binds[i], err);
    for (size_t i = 0; i < spec->nfiles && rc == 0; i++)
        rc = backup_file(&wr, &spec->files[i], err);
    if (rc == 0)
        rc = write_manifest(&wr, err);
    if (rc)
        goto out;
    if (archive_write_close(wr.w) != ARCHIVE_OK) {
        rc = write_failed(&wr, err);
        goto out;
    }
    if (fsync(fd) != 0) {
        rc = zp_err_sys(err, "syncing '%s'", tmp);
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = zp_err_sys(err, "writing '%s'", tmp);
        goto out;
    }
    fd = -1;
    if (rename(tmp, output) != 0) {
        rc = zp_err_sys(err, "renaming '%s' to '%s'", tmp, output);
        goto out;
    }
    free(tmp);
    tmp = NULL;
    rc = fsync_dir(dir, err);
out:
    backup__helper_remove(e, helper, err);
    if (rc == 0 && err->code)
        rc = err->code;
    if (rc == 0 && ret_manifest) {
        *ret_manifest = wr.m;
        memset(&wr.m, 0, sizeof(wr.m));
    }
    free(helper);
    if (wr.w)
        archive_write_free(wr.w); /* closes nothing of ours: fd is closed below */
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(base);
    free(dir);
    free(wr.chunk);
    backup_manifest_release(&wr.m);
    return rc;
}

/* backup/restore: put an archive's sections back: volumes replaced (removed, created again,
 * filled through a never-started helper container), bind directories extracted beside their
 * target and swapped in, files written and renamed into place. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "backup-int.h"

#include "../util/banned.h"

/* ---- reading the archive entry by entry ---- */

struct cursor {
    struct archive *a;
    const char *path;
    struct archive_entry *ae; /* the current entry (owned by a), NULL at the end */
    bool manifest;            /* the current entry is manifest.json */
    enum backup_kind kind;
    char *key;
    char *rel; /* without a trailing '/' */
};

static void cursor_clear(struct cursor *c)
{
    free(c->key);
    free(c->rel);
    c->key = c->rel = NULL;
    c->ae = NULL;
    c->manifest = false;
}

/* Move to the next entry and check its path again (the archive was verified, but the file
 * may have changed since). */
static int cursor_next(struct cursor *c, struct zp_err *err)
{
    cursor_clear(c);
    struct archive_entry *ae = NULL;
    int r = archive_read_next_header(c->a, &ae);
    if (r == ARCHIVE_EOF)
        return 0;
    if (r < ARCHIVE_WARN)
        return zp_err_set(err, ZP_E_INPUT, NULL, "archive '%s': damaged or truncated: %s", c->path,
                          archive_error_string(c->a) ? archive_error_string(c->a) : "");
    const char *name = archive_entry_pathname(ae);
    if (name == NULL)
        return zp_err_set(err, ZP_E_INPUT, NULL, "archive '%s': an entry has no name", c->path);
    c->ae = ae;
    if (strcmp(name, BACKUP_MANIFEST_NAME) == 0) {
        c->manifest = true;
        return 0;
    }
    const char *rel = NULL;
    int rc = backup__split(name, &c->kind, &c->key, &rel, err);
    if (rc == 0) {
        c->rel = zp_strdup(rel);
        size_t n = strlen(c->rel);
        if (n > 0 && c->rel[n - 1] == '/' && archive_entry_filetype(ae) == AE_IFDIR)
            c->rel[--n] = '\0';
        rc = backup__check_entry(c->kind, c->rel, n, ae, name, err);
    }
    if (rc) {
        zp_err_prefix(err, "archive '%s'", c->path);
        c->ae = NULL;
    }
    return rc;
}

/* Read the next chunk (at most BACKUP__CHUNK bytes) of the current entry's data: its
 * length, 0 at its end, or ZP_E_INPUT (< 0) with err set. */
static la_ssize_t cursor_read(struct cursor *c, void *chunk, struct zp_err *err)
{
    la_ssize_t n = archive_read_data(c->a, chunk, BACKUP__CHUNK);
    if (n < 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "archive '%s': %s", c->path,
                          archive_error_string(c->a) ? archive_error_string(c->a) : "");
    return n;
}

static bool cursor_in(const struct cursor *c, enum backup_kind kind, const char *key)
{
    return c->ae && !c->manifest && c->kind == kind && strcmp(c->key, key) == 0;
}

/* The hard link target of the current entry as a path inside its section, or NULL. */
static int cursor_link(const struct cursor *c, char **ret, struct zp_err *err)
{
    *ret = NULL;
    const char *hl = archive_entry_hardlink(c->ae);
    if (hl == NULL)
        return 0;
    enum backup_kind k;
    char *key = NULL;
    const char *rel = NULL;
    int rc = backup__split(hl, &k, &key, &rel, err);
    if (rc)
        return rc;
    bool same = k == c->kind && strcmp(key, c->key) == 0 && rel[0] != '\0';
    free(key);
    if (!same || backup_check_path(rel, strlen(rel), err) != 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "hard link '%s' leaves its section",
                          archive_entry_pathname(c->ae));
    *ret = zp_strdup(rel);
    return 0;
}

static void note(backup_progress_fn fn, void *ud, enum backup_kind kind, const char *key,
                 const char *fmt, ...) ZP_PRINTF(5, 6);
static void note(backup_progress_fn fn, void *ud, enum backup_kind kind, const char *key,
                 const char *fmt, ...)
{
    if (!fn)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *text = zp_vasprintf(fmt, ap);
    va_end(ap);
    fn(ud, kind, key, text);
    free(text);
}

/* ---- volumes: a tar stream produced on demand for the engine's PUT ---- */

struct pump {
    struct cursor *c;
    struct archive *w;
    struct zp_buf out; /* produced, not yet handed out */
    size_t off;
    const char *key;
    char *top; /* "v<i>" */
    unsigned char *chunk;
    bool in_data;
    bool finished;
    int rc; /* first error of the archive side */
    struct zp_err err;
};

static la_ssize_t pump_write(struct archive *w, void *ud, const void *buf, size_t len)
{
    struct pump *p = ud;
    (void)w;
    if (zp_buf_add(&p->out, buf, len) != 0)
        return -1;
    return (la_ssize_t)len;
}

/* Produce more output: one header or one chunk of data, or the end. */
static int pump_step(struct pump *p, struct zp_err *err)
{
    struct cursor *c = p->c;
    if (p->in_data) {
        la_ssize_t n = cursor_read(c, p->chunk, err);
        if (n < 0)
            return (int)n;
        if (n > 0) {
            if (archive_write_data(p->w, p->chunk, (size_t)n) < 0)
                return zp_err_set(err, ZP_E_INTERNAL, NULL, "building the stream: %s",
                                  archive_error_string(p->w));
            return 0;
        }
        p->in_data = false;
        return cursor_next(c, err);
    }
    if (!cursor_in(c, BACKUP_VOLUME, p->key)) {
        if (archive_write_close(p->w) != ARCHIVE_OK)
            return zp_err_set(err, ZP_E_INTERNAL, NULL, "building the stream: %s",
                              archive_error_string(p->w));
        p->finished = true;
        return 0;
    }
    char *lrel = NULL;
    int rc = cursor_link(c, &lrel, err);
    if (rc)
        return rc;
    struct archive_entry *ae = c->ae;
    char *name = c->rel[0] ? zp_asprintf("%s/%s", p->top, c->rel) : zp_strdup(p->top);
    archive_entry_set_pathname(ae, name);
    free(name);
    if (lrel) {
        char *ln = zp_asprintf("%s/%s", p->top, lrel);
        archive_entry_set_hardlink(ae, ln);
        free(ln);
        free(lrel);
    }
    if (archive_write_header(p->w, ae) < ARCHIVE_WARN)
        return zp_err_set(err, ZP_E_INTERNAL, NULL, "building the stream: %s",
                          archive_error_string(p->w));
    if (archive_entry_filetype(ae) == AE_IFREG && archive_entry_hardlink(ae) == NULL) {
        p->in_data = true;
        return 0;
    }
    return cursor_next(c, err);
}

static int pump_read(void *ctx, char *buf, size_t cap, size_t *ret_len, struct zp_err *err)
{
    struct pump *p = ctx;
    while (p->off == p->out.len && !p->finished) {
        zp_buf_reset(&p->out);
        p->off = 0;
        int rc = pump_step(p, &p->err);
        if (rc) {
            p->rc = rc;
            zp_err_set(err, rc, NULL, "%s", p->err.msg);
            return rc;
        }
    }
    size_t n = p->out.len - p->off;
    if (n > cap)
        n = cap;
    memcpy(buf, p->out.p + p->off, n);
    p->off += n;
    *ret_len = n;
    return 0;
}

static int put_volume(struct engine *e, const char *helper, struct cursor *c, size_t i,
                      const char *key, struct zp_err *err)
{
    struct pump p;
    memset(&p, 0, sizeof(p));
    zp_err_init(&p.err);
    p.c = c;
    p.key = key;
    p.top = zp_asprintf("v%zu", i);
    p.chunk = zp_malloc(BACKUP__CHUNK);
    zp_buf_init(&p.out, 0);
    p.w = archive_write_new();
    archive_write_set_format_pax_restricted(p.w);
    archive_write_set_bytes_per_block(p.w, 0);
    int rc = 0;
    if (archive_write_open2(p.w, &p, NULL, pump_write, NULL, NULL) != ARCHIVE_OK) {
        rc = zp_err_set(err, ZP_E_INTERNAL, NULL, "building the stream: %s",
                        archive_error_string(p.w));
        goto out;
    }
    rc = engine_container_archive_put(e, helper, BACKUP_HELPER_DIR, pump_read, &p, err);
    if (rc == 0 && !p.finished) /* the engine stopped reading early */
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "the engine stopped reading the stream");
    if (p.rc) {
        zp_err_init(err);
        *err = p.err;
        rc = p.rc;
    }
out:
    archive_write_free(p.w);
    zp_buf_release(&p.out);
    free(p.chunk);
    free(p.top);
    return rc;
}

/* Remove the volume and create it again, empty, with the driver and labels it had (or the
 * spec's when it did not exist). */
static int recreate_volume(struct engine *e, const struct backup_volume *v,
                           const struct engine_volume_list *all, struct zp_err *err)
{
    const struct engine_volume *old = NULL;
    for (size_t i = 0; i < all->n && !old; i++)
        if (strcmp(all->items[i].name, v->name) == 0)
            old = &all->items[i];
    struct engine_volume_opts vo = {
        .driver = v->driver,
        .labels = v->labels,
        .n_labels = v->n_labels,
        .options = v->options,
        .n_options = v->n_options,
    };
    struct engine_kv *kv = NULL;
    int rc = 0;
    if (old) {
        /* the labels it had, and ours (a volume made by hand is adopted) */
        kv = zp_calloc(old->labels.n + v->n_labels + 1, sizeof(*kv));
        size_t n = 0;
        for (size_t i = 0; i < v->n_labels; i++)
            kv[n++] = v->labels[i];
        for (size_t i = 0; i < old->labels.n; i++) {
            bool ours = false;
            for (size_t k = 0; k < v->n_labels && !ours; k++)
                ours = strcmp(v->labels[k].key, old->labels.items[i].key) == 0;
            if (!ours)
                kv[n++] = (struct engine_kv){old->labels.items[i].key, old->labels.items[i].value};
        }
        vo.labels = kv;
        vo.n_labels = n;
        if (old->driver && old->driver[0])
            vo.driver = old->driver;
        if ((rc = engine_volume_remove(e, v->name, false, err)) < 0) {
            if (rc == ZP_E_CONFLICT)
                zp_err_prefix(err, "volume '%s' is still in use (stop what uses it)", v->name);
            goto out;
        }
    }
    rc = engine_volume_create(e, v->name, &vo, err);
out:
    free(kv);
    return rc;
}

/* ---- binds and files on the host ---- */

/* Make the directories of key's parent below base (a real path), refusing symbolic links
 * on the way; returns the target's full path. */
static int prepare_target(const char *base, const char *key, char **ret, struct zp_err *err)
{
    char *path = zp_strdup(base);
    const char *p = key;
    for (;;) {
        const char *slash = strchr(p, '/');
        if (slash == NULL)
            break;
        char *next = zp_asprintf("%s/%.*s", path, (int)(slash - p), p);
        free(path);
        path = next;
        struct stat st;
        if (lstat(path, &st) != 0) {
            if (errno != ENOENT || mkdir(path, 0755) != 0) {
                int rc = zp_err_sys(err, "creating '%s'", path);
                free(path);
                return rc;
            }
        } else if (!S_ISDIR(st.st_mode)) {
            int rc = zp_err_set(err, ZP_E_INPUT, NULL,
                                "'%s' is not a directory (a symbolic link?); refusing to write "
                                "through it",
                                path);
            free(path);
            return rc;
        }
        p = slash + 1;
    }
    char *full = zp_asprintf("%s/%s", path, p);
    free(path);
    struct stat st;
    if (lstat(full, &st) == 0 && S_ISLNK(st.st_mode)) {
        int rc = zp_err_set(err, ZP_E_INPUT, NULL,
                            "'%s' is a symbolic link; refusing to replace it", full);
        free(full);
        return rc;
    }
    *ret = full;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) == 0 ? 0 : -1;
    return unlink(path) == 0 ? 0 : -1;
}

static int remove_tree(const char *path)
{
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int restore_bind(struct cursor *c, const char *base, struct zp_err *err)
{
    char *key = zp_strdup(c->key);
    char *target = NULL, *tmp = NULL, *old = NULL;
    struct archive *d = archive_write_disk_new();
    archive_write_disk_set_options(d, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM |
                                          ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_UNLINK);
    unsigned char *chunk = zp_malloc(BACKUP__CHUNK);
    int rc = prepare_target(base, key, &target, err);
    if (rc)
        goto out;
    char *pdir = zp_path_dir(target);
    const char *bn = strrchr(target, '/') + 1;
    tmp = zp_asprintf("%s/.%s.zp-restore-XXXXXX", pdir, bn);
    free(pdir);
    if (mkdtemp(tmp) == NULL) {
        rc = zp_err_sys(err, "creating a directory beside '%s'", target);
        free(tmp);
        tmp = NULL;
        goto out;
    }
    while (cursor_in(c, BACKUP_BIND, key)) {
        char *lrel = NULL;
        if ((rc = cursor_link(c, &lrel, err)) != 0)
            goto out;
        struct archive_entry *ae = c->ae;
        char *name = c->rel[0] ? zp_asprintf("%s/%s", tmp, c->rel) : zp_strdup(tmp);
        archive_entry_set_pathname(ae, name);
        free(name);
        if (lrel) {
            /* a hard link to anything but a regular file (a symbolic link made elsewhere in
             * the tree) could leave the root: verify refuses those, the archive may have
             * changed since */
            char *ln = zp_asprintf("%s/%s", tmp, lrel);
            struct stat lst;
            bool regular = lstat(ln, &lst) == 0 && S_ISREG(lst.st_mode);
            if (regular)
                archive_entry_set_hardlink(ae, ln);
            free(ln);
            if (!regular) {
                rc = zp_err_set(err, ZP_E_INPUT, NULL,
                                "hard link '%s' does not point to an earlier regular file", c->rel);
                free(lrel);
                goto out;
            }
            free(lrel);
        }
        if (archive_write_header(d, ae) < ARCHIVE_WARN) {
            rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "extracting '%s': %s",
                            archive_entry_pathname(ae), archive_error_string(d));
            goto out;
        }
        if (archive_entry_filetype(ae) == AE_IFREG && archive_entry_hardlink(ae) == NULL) {
            for (;;) {
                la_ssize_t n = cursor_read(c, chunk, err);
                if (n < 0) {
                    rc = (int)n;
                    goto out;
                }
                if (n == 0)
                    break;
                if (archive_write_data(d, chunk, (size_t)n) < 0) {
                    rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "extracting '%s': %s",
                                    archive_entry_pathname(ae), archive_error_string(d));
                    goto out;
                }
            }
        }
        if (archive_write_finish_entry(d) < ARCHIVE_WARN) {
            rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "extracting '%s': %s",
                            archive_entry_pathname(ae), archive_error_string(d));
            goto out;
        }
        if ((rc = cursor_next(c, err)) != 0)
            goto out;
    }
    if (archive_write_close(d) != ARCHIVE_OK) {
        rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "extracting: %s", archive_error_string(d));
        goto out;
    }
    struct stat st;
    if (lstat(target, &st) == 0) {
        old = zp_asprintf("%s.old", tmp);
        if (rename(target, old) != 0) {
            rc = zp_err_sys(err, "moving '%s' aside", target);
            free(old);
            old = NULL;
            goto out;
        }
    }
    if (rename(tmp, target) != 0) {
        rc = zp_err_sys(err, "renaming '%s' to '%s'", tmp, target);
        if (old && rename(old, target) != 0)
            zp_err_prefix(err, "the previous content is kept in '%s'", old);
        free(old);
        old = NULL; /* moved back, or the only copy left: never removed */
        goto out;
    }
    free(tmp);
    tmp = NULL;
out:
    if (rc)
        zp_err_prefix(err, "bind directory '%s'", key);
    archive_write_free(d);
    if (tmp)
        remove_tree(tmp);
    if (old)
        remove_tree(old);
    free(tmp);
    free(old);
    free(target);
    free(chunk);
    free(key);
    return rc;
}

static int restore_file(struct cursor *c, const char *base, struct zp_err *err)
{
    struct archive_entry *ae = c->ae;
    char *target = NULL, *tmp = NULL;
    int fd = -1;
    unsigned char *chunk = zp_malloc(BACKUP__CHUNK);
    int rc = prepare_target(base, c->key, &target, err);
    if (rc)
        goto out;
    char *pdir = zp_path_dir(target);
    tmp = zp_asprintf("%s/.%s.zp-restore-XXXXXX", pdir, strrchr(target, '/') + 1);
    free(pdir);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = zp_err_sys(err, "creating a file beside '%s'", target);
        free(tmp);
        tmp = NULL;
        goto out;
    }
    for (;;) {
        la_ssize_t n = cursor_read(c, chunk, err);
        if (n < 0) {
            rc = (int)n;
            goto out;
        }
        if (n == 0)
            break;
        for (la_ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, chunk + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = zp_err_sys(err, "writing '%s'", tmp);
                goto out;
            }
            off += w;
        }
    }
    if (fchown(fd, (uid_t)archive_entry_uid(ae), (gid_t)archive_entry_gid(ae)) != 0 &&
        errno != EPERM) {
        rc = zp_err_sys(err, "changing the owner of '%s'", tmp);
        goto out;
    }
    if (fchmod(fd, (mode_t)(archive_entry_perm(ae) | (archive_entry_mode(ae) & 07000))) != 0 ||
        fsync(fd) != 0) {
        rc = zp_err_sys(err, "writing '%s'", tmp);
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, target) != 0) {
        rc = zp_err_sys(err, "renaming '%s' to '%s'", tmp, target);
        goto out;
    }
    free(tmp);
    tmp = NULL;
out:
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    if (rc)
        zp_err_prefix(err, "file '%s'", c->key);
    free(tmp);
    free(target);
    free(chunk);
    return rc;
}

/* ---- the whole restore ---- */

static int skip_section(struct cursor *c, struct zp_err *err)
{
    enum backup_kind kind = c->kind;
    char *key = zp_strdup(c->key);
    int rc = 0;
    while (rc == 0 && cursor_in(c, kind, key))
        rc = cursor_next(c, err);
    free(key);
    return rc;
}

int backup_restore(struct engine *e, const char *path, const struct backup_restore_spec *spec,
                   backup_progress_fn progress, void *ud, struct zp_err *err)
{
    struct cursor c;
    memset(&c, 0, sizeof(c));
    c.path = path;
    c.a = archive_read_new();
    backup__reader_setup(c.a);
    char *helper = NULL;
    char *base = NULL;
    bool *done = zp_calloc(spec->nvolumes + 1, sizeof(*done));
    struct engine_volume_list all = {0};
    int rc = 0;
    if (archive_read_open_filename(c.a, path, BACKUP__CHUNK) != ARCHIVE_OK) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "archive '%s': %s", path,
                        archive_error_string(c.a) ? archive_error_string(c.a) : "cannot open");
        goto out;
    }
    if (spec->binds || spec->files) {
        char real[PATH_MAX];
        if (realpath(spec->project_dir, real) == NULL) {
            rc = zp_err_sys(err, "project directory '%s'", spec->project_dir);
            goto out;
        }
        base = zp_strdup(real);
    }
    if (spec->nvolumes > 0) {
        const char *image = NULL;
        if ((rc = backup__pick_image(e, spec->images, spec->nimages, &image, err)) != 0)
            goto out;
        if ((rc = engine_volume_list(e, NULL, &all, err)) != 0)
            goto out;
        const char **names = zp_calloc(spec->nvolumes + 1, sizeof(*names));
        for (size_t i = 0; i < spec->nvolumes && rc == 0; i++) {
            names[i] = spec->volumes[i].name;
            note(progress, ud, BACKUP_VOLUME, spec->volumes[i].key, "recreating volume '%s'",
                 spec->volumes[i].name);
            rc = recreate_volume(e, &spec->volumes[i], &all, err);
        }
        if (rc == 0)
            rc =
                backup__helper_create(e, spec->project, image, names, spec->nvolumes, &helper, err);
        free(names);
        if (rc)
            goto out;
    }
    if ((rc = cursor_next(&c, err)) != 0)
        goto out;
    while (c.ae) {
        if (c.manifest) {
            rc = cursor_next(&c, err);
        } else if (c.kind == BACKUP_VOLUME) {
            size_t i = 0;
            while (i < spec->nvolumes && strcmp(spec->volumes[i].key, c.key) != 0)
                i++;
            if (i == spec->nvolumes) {
                rc = skip_section(&c, err);
            } else {
                note(progress, ud, BACKUP_VOLUME, spec->volumes[i].key, "restoring volume '%s'",
                     spec->volumes[i].name);
                rc = put_volume(e, helper, &c, i, spec->volumes[i].key, err);
                if (rc)
                    zp_err_prefix(err, "volume '%s'", spec->volumes[i].name);
                done[i] = true;
            }
        } else if (c.kind == BACKUP_BIND && spec->binds) {
            note(progress, ud, BACKUP_BIND, c.key, "restoring");
            rc = restore_bind(&c, base, err);
        } else if (c.kind == BACKUP_FILE && spec->files) {
            note(progress, ud, BACKUP_FILE, c.key, "restoring");
            if ((rc = restore_file(&c, base, err)) == 0)
                rc = cursor_next(&c, err);
        } else {
            rc = skip_section(&c, err);
        }
        if (rc)
            goto out;
    }
    for (size_t i = 0; i < spec->nvolumes; i++) {
        if (!done[i]) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "archive '%s' has no volume '%s'", path,
                            spec->volumes[i].key);
            goto out;
        }
    }
out:
    backup__helper_remove(e, helper, err);
    if (rc == 0 && err->code)
        rc = err->code;
    free(helper);
    free(done);
    free(base);
    engine_volume_list_release(&all);
    cursor_clear(&c);
    archive_read_free(c.a);
    return rc;
}

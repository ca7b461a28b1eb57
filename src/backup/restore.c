/* backup/restore: put an archive's sections back in two phases: stage every section beside
 * its target (nothing the project uses changes), then swap them in. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "backup-int.h"

#include "../util/banned.h"

/* ---- reading the archive entry by entry, checked again (it may have changed) ---- */

struct cursor {
    struct arc_reader *r;
    const char *path;
    const struct arc_entry *e; /* the current entry (the reader's), NULL at the end */
    bool manifest;             /* the current entry is manifest.json */
    enum backup_kind kind;
    char *key;
    char *rel;      /* without a trailing '/' */
    char *link_rel; /* hard links: the target inside the section */
    enum backup_type type;
    struct backup__check check;
    /* sections seen, to refuse one split in two */
    struct {
        enum backup_kind kind;
        char *key;
    } * seen;
    size_t nseen, cap;
};

static void cursor_clear(struct cursor *c)
{
    free(c->key);
    free(c->rel);
    free(c->link_rel);
    c->key = c->rel = c->link_rel = NULL;
    c->e = NULL;
    c->manifest = false;
}

static void cursor_release(struct cursor *c)
{
    cursor_clear(c);
    arc_reader_free(c->r);
    backup__check_release(&c->check);
    for (size_t i = 0; i < c->nseen; i++)
        free(c->seen[i].key);
    free(c->seen);
    memset(c, 0, sizeof(*c));
}

static int cursor_open(struct cursor *c, const char *path, struct zp_err *err)
{
    memset(c, 0, sizeof(*c));
    c->path = path;
    backup__check_init(&c->check);
    return arc_reader_open_file(path, &c->r, err);
}

static int cursor_next(struct cursor *c, struct zp_err *err)
{
    enum backup_kind pkind = c->kind;
    char *pkey = c->key;
    c->key = NULL;
    cursor_clear(c);
    const struct arc_entry *e = NULL;
    int rc = arc_reader_next(c->r, &e, err);
    if (rc == 0 && e != NULL && strcmp(e->path, BACKUP_MANIFEST_NAME) == 0) {
        c->e = e;
        c->manifest = true;
    } else if (rc == 0 && e != NULL) {
        const char *rel = NULL;
        rc = backup__split(e->path, &c->kind, &c->key, &rel, err);
        if (rc == 0) {
            c->rel = zp_strdup(rel);
            size_t n = strlen(c->rel);
            if (n > 0 && c->rel[n - 1] == '/' && e->type == ARC_DIR)
                c->rel[--n] = '\0';
        }
        if (rc == 0 && (pkey == NULL || pkind != c->kind || strcmp(pkey, c->key) != 0)) {
            for (size_t i = 0; i < c->nseen && rc == 0; i++)
                if (c->seen[i].kind == c->kind && strcmp(c->seen[i].key, c->key) == 0)
                    rc = zp_err_set(err, ZP_E_INPUT, NULL, "%s '%s' is split in two parts",
                                    backup__kind_dir(c->kind), c->key);
            if (rc == 0) {
                if (c->nseen == c->cap)
                    zp_grow((void **)&c->seen, &c->cap, c->nseen + 1, sizeof(*c->seen));
                c->seen[c->nseen].kind = c->kind;
                c->seen[c->nseen++].key = zp_strdup(c->key);
                backup__check_section(&c->check, c->kind);
            }
        }
        if (rc == 0 && e->type == ARC_HARDLINK) {
            enum backup_kind k;
            char *key = NULL;
            const char *trel = NULL;
            rc = backup__split(e->link, &k, &key, &trel, err);
            if (rc == 0 && (k != c->kind || strcmp(key, c->key) != 0))
                rc =
                    zp_err_set(err, ZP_E_INPUT, NULL, "hard link '%s' leaves its section", e->path);
            if (rc == 0)
                c->link_rel = zp_strdup(trel);
            free(key);
        }
        if (rc == 0)
            rc = backup__check_entry(&c->check, c->rel, e, c->link_rel, &c->type, err);
        if (rc == 0)
            c->e = e;
    }
    free(pkey);
    if (rc) {
        zp_err_prefix(err, "archive '%s'", c->path);
        cursor_clear(c);
    }
    return rc;
}

static bool cursor_in(const struct cursor *c, enum backup_kind kind, const char *key)
{
    return c->e && !c->manifest && c->kind == kind && strcmp(c->key, key) == 0;
}

/* Read the next chunk of the current entry's content into chunk (BACKUP__CHUNK bytes). */
static int cursor_read(struct cursor *c, void *chunk, size_t *ret_n, struct zp_err *err)
{
    if (arc_reader_data(c->r, chunk, BACKUP__CHUNK, ret_n, err) != 0) {
        zp_err_prefix(err, "archive '%s'", c->path);
        return err->code;
    }
    return backup__check_bytes(&c->check, *ret_n, err);
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

/* ---- a section's content against its manifest entry ---- */

/* The digest of the section being restored: it must match the verified manifest before
 * anything is swapped in (the archive may have changed since it was verified). */
struct tally {
    struct backup_digest *dg;
    const struct backup_section *ms;
};

static void tally_entry(struct tally *t, const struct cursor *c)
{
    const struct arc_entry *e = c->e;
    backup_digest_begin(t->dg, c->rel, c->type, e->mode, e->uid, e->gid,
                        c->type == BACKUP_T_SYMLINK ? e->link : c->link_rel);
}

static int tally_check(struct tally *t, struct zp_err *err)
{
    char hex[65];
    uint64_t size = 0, files = 0;
    backup_digest_finish(t->dg, hex, &size, &files);
    if (strcmp(hex, t->ms->sha256) != 0 || size != t->ms->size || files != t->ms->files)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "%s '%s': the content differs from the manifest verified before "
                          "(the archive changed meanwhile?)",
                          backup__kind_dir(t->ms->kind), t->ms->key);
    return 0;
}

/* ---- free space ---- */

static int check_space(int fd, const char *where, const struct backup_section *ms,
                       struct zp_err *err)
{
    struct statvfs sv;
    if (fstatvfs(fd, &sv) != 0)
        return zp_err_sys(err, "free space of '%s'", where);
    uint64_t block = sv.f_frsize ? sv.f_frsize : 4096;
    /* each entry takes at least a block (inode tables, directory blocks, tails) */
    uint64_t need = ms->size + ms->files * block;
    uint64_t have = (uint64_t)sv.f_bavail * block;
    if (need > have)
        return zp_err_set(err, ZP_E_TOOBIG, NULL,
                          "%s '%s' needs about %llu MiB, '%s' has %llu MiB free; nothing was "
                          "changed",
                          backup__kind_dir(ms->kind), ms->key, (unsigned long long)(need >> 20),
                          where, (unsigned long long)(have >> 20));
    if (sv.f_favail != 0 && ms->files > (uint64_t)sv.f_favail)
        return zp_err_set(err, ZP_E_TOOBIG, NULL,
                          "%s '%s' has %llu entries, '%s' has %llu free inodes; nothing was "
                          "changed",
                          backup__kind_dir(ms->kind), ms->key, (unsigned long long)ms->files, where,
                          (unsigned long long)sv.f_favail);
    return 0;
}

static char *random_name(const char *prefix, const char *base)
{
    unsigned char r[6];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        uint64_t t = (uint64_t)zp_mono_ns() ^ (uint64_t)getpid();
        memcpy(r, &t, sizeof(r));
    }
    return zp_asprintf("%s%s.zp-restore-%02x%02x%02x%02x%02x%02x", prefix, base, r[0], r[1], r[2],
                       r[3], r[4], r[5]);
}

/* ---- staged sections ---- */

enum stage_how {
    STAGE_DIR,    /* a bind directory: tmp beside name in dirfd, exchanged */
    STAGE_FILE,   /* a file: tmp beside name in dirfd, renamed over it */
    STAGE_INSIDE, /* a local volume or a mount point: tmp inside dirfd, moved entry by entry */
    STAGE_VOLAPI, /* another volume: the temporary volume tmp, filled again after a swap */
};

struct stage {
    enum stage_how how;
    enum backup_kind kind;
    char *key;
    int dirfd;
    char *name;
    char *tmp;
    size_t vol;    /* volumes: index in spec->volumes */
    char *created; /* a volume this restore created: removed when staging fails */
};

struct restorer {
    struct engine *e;
    const char *path;
    const struct backup_restore_spec *spec;
    const struct backup_manifest *m;
    backup_progress_fn progress;
    void *ud;
    int projfd;
    unsigned char *chunk;
    struct stage *stages;
    size_t n, cap;
    const char *image; /* helper image, picked when first needed */
};

static struct stage *add_stage(struct restorer *rs, enum stage_how how, enum backup_kind kind,
                               const char *key)
{
    if (rs->n == rs->cap)
        zp_grow((void **)&rs->stages, &rs->cap, rs->n + 1, sizeof(*rs->stages));
    struct stage *s = &rs->stages[rs->n++];
    memset(s, 0, sizeof(*s));
    s->how = how;
    s->kind = kind;
    s->key = zp_strdup(key);
    s->dirfd = -1;
    return s;
}

/* Undo a stage that was not swapped in. */
static void stage_drop(struct restorer *rs, struct stage *s)
{
    if (s->tmp && s->dirfd >= 0) {
        if (s->how == STAGE_FILE)
            unlinkat(s->dirfd, s->tmp, 0);
        else
            backup__remove_tree(s->dirfd, s->tmp);
    } else if (s->tmp && s->how == STAGE_VOLAPI) {
        struct zp_err ignored;
        zp_err_init(&ignored);
        engine_volume_remove(rs->e, s->tmp, true, &ignored);
    }
    free(s->tmp);
    s->tmp = NULL;
    if (s->created) {
        struct zp_err ignored;
        zp_err_init(&ignored);
        engine_volume_remove(rs->e, s->created, true, &ignored);
        free(s->created);
        s->created = NULL;
    }
}

static void stage_release(struct stage *s)
{
    if (s->dirfd >= 0)
        close(s->dirfd);
    free(s->key);
    free(s->name);
    free(s->tmp);
    free(s->created);
}

/* Open (creating missing directories, 0755) the parent directory of key below the project
 * directory, never through a link; *ret_name points into key. */
static int open_project_parent(struct restorer *rs, const char *key, int *ret_fd,
                               const char **ret_name, struct zp_err *err)
{
    int fd = fcntl(rs->projfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return zp_err_sys(err, "project directory");
    const char *p = key;
    for (;;) {
        const char *slash = strchr(p, '/');
        if (slash == NULL)
            break;
        char *comp = zp_strndup(p, (size_t)(slash - p));
        if (mkdirat(fd, comp, 0755) != 0 && errno != EEXIST) {
            int rc = zp_err_sys(err, "creating '%.*s'", (int)(slash - key), key);
            free(comp);
            close(fd);
            return rc;
        }
        int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        free(comp);
        close(fd);
        if (next < 0)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "'%.*s' is not a directory (a symbolic link?); refusing to write "
                              "through it",
                              (int)(slash - key), key);
        fd = next;
        p = slash + 1;
    }
    *ret_fd = fd;
    *ret_name = p;
    return 0;
}

/* Extract the current section (c at its root) into the directory fd, checking its digest. */
static int extract_section(struct restorer *rs, struct cursor *c, int fd, bool strip,
                           const struct backup_section *ms, struct zp_err *err)
{
    enum backup_kind kind = c->kind;
    char *key = zp_strdup(c->key);
    struct backup__extract *x = backup__extract_new(fd, strip);
    struct tally t = {backup_digest_new(), ms};
    int rc = 0;
    while (rc == 0 && cursor_in(c, kind, key)) {
        tally_entry(&t, c);
        if ((rc = backup__extract_entry(x, c->rel, c->e, c->link_rel, err)) != 0)
            break;
        if (c->type == BACKUP_T_FILE) {
            for (;;) {
                size_t n = 0;
                if ((rc = cursor_read(c, rs->chunk, &n, err)) != 0 || n == 0)
                    break;
                backup_digest_data(t.dg, rs->chunk, n);
                if ((rc = backup__extract_data(x, rs->chunk, n, err)) != 0)
                    break;
            }
        }
        backup_digest_end(t.dg);
        if (rc == 0)
            rc = cursor_next(c, err);
    }
    if (rc == 0)
        rc = backup__extract_finish(x, err);
    if (rc == 0)
        rc = tally_check(&t, err);
    if (rc == 0 && backup__extract_stripped(x) > 0)
        note(rs->progress, rs->ud, kind, key, "setuid/setgid bits dropped on %llu entries",
             (unsigned long long)backup__extract_stripped(x));
    backup_digest_free(t.dg);
    backup__extract_free(x);
    free(key);
    return rc;
}

/* Stage the current section in a new directory inside dirfd (a volume's mountpoint, a bind
 * directory that is a mount point), swapped in entry by entry. */
static int stage_inside(struct restorer *rs, struct cursor *c, struct stage *s, const char *where,
                        bool strip, const struct backup_section *ms, struct zp_err *err)
{
    int rc = check_space(s->dirfd, where, ms, err);
    if (rc)
        return rc;
    s->tmp = random_name("", "");
    if (mkdirat(s->dirfd, s->tmp, 0700) != 0) {
        rc = zp_err_sys(err, "creating a directory in '%s'", where);
        free(s->tmp);
        s->tmp = NULL;
        return rc;
    }
    int fd = openat(s->dirfd, s->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return zp_err_sys(err, "opening the directory in '%s'", where);
    rc = extract_section(rs, c, fd, strip, ms, err);
    close(fd);
    return rc;
}

static int stage_bind(struct restorer *rs, struct cursor *c, const struct backup_section *ms,
                      struct zp_err *err)
{
    struct stage *s = add_stage(rs, STAGE_DIR, BACKUP_BIND, c->key);
    const char *name = NULL;
    int rc = open_project_parent(rs, c->key, &s->dirfd, &name, err);
    if (rc)
        return rc;
    s->name = zp_strdup(name);
    struct stat st, pst;
    if (fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!S_ISDIR(st.st_mode))
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "'%s' is not a directory (a symbolic link?); refusing to replace it",
                              c->key);
        if (fstat(s->dirfd, &pst) == 0 && pst.st_dev != st.st_dev) {
            /* a mount point cannot be renamed: stage inside it */
            int fd = openat(s->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0)
                return zp_err_sys(err, "opening '%s'", c->key);
            close(s->dirfd);
            s->dirfd = fd;
            s->how = STAGE_INSIDE;
            return stage_inside(rs, c, s, c->key, true, ms, err);
        }
    }
    if ((rc = check_space(s->dirfd, c->key, ms, err)) != 0)
        return rc;
    s->tmp = random_name(".", name);
    if (mkdirat(s->dirfd, s->tmp, 0700) != 0) {
        rc = zp_err_sys(err, "creating a directory beside '%s'", c->key);
        free(s->tmp);
        s->tmp = NULL;
        return rc;
    }
    int fd = openat(s->dirfd, s->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return zp_err_sys(err, "opening the directory beside '%s'", c->key);
    rc = extract_section(rs, c, fd, true, ms, err);
    close(fd);
    return rc;
}

static int stage_file(struct restorer *rs, struct cursor *c, const struct backup_section *ms,
                      struct zp_err *err)
{
    struct stage *s = add_stage(rs, STAGE_FILE, BACKUP_FILE, c->key);
    const char *name = NULL;
    int rc = open_project_parent(rs, c->key, &s->dirfd, &name, err);
    if (rc)
        return rc;
    s->name = zp_strdup(name);
    struct stat st;
    if (fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "'%s' is not a regular file; refusing to replace it", c->key);
    if ((rc = check_space(s->dirfd, c->key, ms, err)) != 0)
        return rc;
    s->tmp = random_name(".", name);
    int fd = openat(s->dirfd, s->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = zp_err_sys(err, "creating a file beside '%s'", c->key);
        free(s->tmp);
        s->tmp = NULL;
        return rc;
    }
    struct tally t = {backup_digest_new(), ms};
    const struct arc_entry *e = c->e;
    struct arc_entry meta = *e;
    tally_entry(&t, c);
    for (;;) {
        size_t n = 0;
        if ((rc = cursor_read(c, rs->chunk, &n, err)) != 0 || n == 0)
            break;
        backup_digest_data(t.dg, rs->chunk, n);
        for (size_t off = 0; off < n && rc == 0;) {
            ssize_t w = write(fd, rs->chunk + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                rc = zp_err_sys(err, "writing beside '%s'", c->key);
            else
                off += (size_t)w;
        }
        if (rc)
            break;
    }
    backup_digest_end(t.dg);
    if (rc == 0)
        rc = tally_check(&t, err);
    backup_digest_free(t.dg);
    if (rc == 0 && fchown(fd, (uid_t)meta.uid, (gid_t)meta.gid) != 0 &&
        (geteuid() == 0 || errno != EPERM))
        rc = zp_err_sys(err, "changing the owner of '%s'", c->key);
    if (rc == 0 && (meta.mode & 06000))
        note(rs->progress, rs->ud, BACKUP_FILE, c->key, "setuid/setgid bits dropped");
    if (rc == 0 && (fchmod(fd, meta.mode & 01777) != 0 || fsync(fd) != 0))
        rc = zp_err_sys(err, "writing beside '%s'", c->key);
    close(fd);
    if (rc == 0)
        rc = cursor_next(c, err);
    return rc;
}

static int stage_volume_dir(struct restorer *rs, struct cursor *c, size_t vi, const char *mp,
                            const struct backup_section *ms, struct zp_err *err)
{
    struct stage *s = add_stage(rs, STAGE_INSIDE, BACKUP_VOLUME, c->key);
    s->vol = vi;
    s->dirfd = open(mp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s->dirfd < 0)
        return zp_err_sys(err, "opening the mountpoint '%s'", mp);
    return stage_inside(rs, c, s, mp, false, ms, err);
}

/* ---- volumes through the engine: a tar stream produced on demand for its PUT ---- */

struct pump {
    struct restorer *rs;
    struct cursor *c;
    struct arc_writer *w;
    struct zp_buf out; /* produced, not yet handed out */
    size_t off;
    const char *key;
    char *top; /* "v<i>" */
    struct tally t;
    bool in_data;
    bool finished;
    int rc; /* first error of the archive side */
    struct zp_err err;
};

/* Produce more output: one header or one chunk of data, or the end. */
static int pump_step(struct pump *p, struct zp_err *err)
{
    struct cursor *c = p->c;
    if (p->in_data) {
        size_t n = 0;
        int rc = cursor_read(c, p->rs->chunk, &n, err);
        if (rc)
            return rc;
        if (n > 0) {
            backup_digest_data(p->t.dg, p->rs->chunk, n);
            return arc_writer_data(p->w, p->rs->chunk, n, err);
        }
        p->in_data = false;
        backup_digest_end(p->t.dg);
        return cursor_next(c, err);
    }
    if (!cursor_in(c, BACKUP_VOLUME, p->key)) {
        int rc = arc_writer_close(p->w, err);
        if (rc == 0)
            rc = tally_check(&p->t, err);
        p->finished = true;
        return rc;
    }
    struct arc_entry e = *c->e;
    char *name = c->rel[0] ? zp_asprintf("%s/%s", p->top, c->rel) : zp_strdup(p->top);
    char *ln = c->link_rel ? zp_asprintf("%s/%s", p->top, c->link_rel) : NULL;
    e.path = name;
    if (ln)
        e.link = ln;
    tally_entry(&p->t, c);
    int rc = arc_writer_header(p->w, &e, err);
    free(name);
    free(ln);
    if (rc)
        return rc;
    if (c->type == BACKUP_T_FILE) {
        p->in_data = true;
        return 0;
    }
    backup_digest_end(p->t.dg);
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

/* Stream the current volume section (c at its root) into volume name, mounted alone in a
 * new helper container. */
static int put_volume(struct restorer *rs, struct cursor *c, const char *name,
                      const struct backup_section *ms, struct zp_err *err)
{
    int rc = 0;
    if (rs->image == NULL &&
        (rc = backup__pick_image(rs->e, rs->spec->images, rs->spec->nimages, &rs->image, err)) != 0)
        return rc;
    char *helper = NULL;
    const char *names[] = {name};
    if ((rc = backup__helper_create(rs->e, rs->spec->project, rs->image, names, 1, &helper, err)) !=
        0)
        return rc;
    struct pump p;
    memset(&p, 0, sizeof(p));
    zp_err_init(&p.err);
    p.rs = rs;
    p.c = c;
    p.key = ms->key;
    p.top = zp_strdup("v0");
    p.t = (struct tally){backup_digest_new(), ms};
    zp_buf_init(&p.out, 0);
    p.w = arc_writer_new_buffer(&p.out);
    rc = engine_container_archive_put(rs->e, helper, BACKUP_HELPER_DIR, pump_read, &p, err);
    if (rc == 0 && !p.finished) /* the engine stopped reading early */
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "the engine stopped reading the stream");
    if (p.rc) {
        zp_err_init(err);
        *err = p.err;
        rc = p.rc;
    }
    arc_writer_free(p.w);
    zp_buf_release(&p.out);
    backup_digest_free(p.t.dg);
    free(p.top);
    backup__helper_remove(rs->e, helper, err);
    if (rc == 0 && err->code)
        rc = err->code;
    free(helper);
    return rc;
}

static const struct engine_volume *find_volume(const struct engine_volume_list *all,
                                               const char *name)
{
    for (size_t i = 0; i < all->n; i++)
        if (strcmp(all->items[i].name, name) == 0)
            return &all->items[i];
    return NULL;
}

/* Create volume name with v's driver, options and labels (and those of old, kept). */
static int create_volume(struct engine *e, const char *name, const struct backup_volume *v,
                         const struct engine_volume *old, const struct engine_kv *extra,
                         size_t nextra, struct zp_err *err)
{
    size_t nold = old ? old->labels.n : 0;
    struct engine_kv *kv = zp_calloc(nold + v->n_labels + nextra + 1, sizeof(*kv));
    size_t n = 0;
    for (size_t i = 0; i < nextra; i++)
        kv[n++] = extra[i];
    for (size_t i = 0; nextra == 0 && i < v->n_labels; i++)
        kv[n++] = v->labels[i];
    for (size_t i = 0; old != NULL && nextra == 0 && i < nold; i++) {
        bool ours = false;
        for (size_t k = 0; k < v->n_labels && !ours; k++)
            ours = strcmp(v->labels[k].key, old->labels.items[i].key) == 0;
        if (!ours)
            kv[n++] = (struct engine_kv){old->labels.items[i].key, old->labels.items[i].value};
    }
    struct engine_volume_opts vo = {
        .driver = old && old->driver && old->driver[0] ? old->driver : v->driver,
        .labels = kv,
        .n_labels = n,
        .options = v->options,
        .n_options = v->n_options,
    };
    int rc = engine_volume_create(e, name, &vo, err);
    free(kv);
    return rc;
}

static int stage_volume_api(struct restorer *rs, struct cursor *c, size_t vi,
                            const struct engine_volume *old, const struct backup_section *ms,
                            struct zp_err *err)
{
    const struct backup_volume *v = &rs->spec->volumes[vi];
    struct stage *s = add_stage(rs, STAGE_VOLAPI, BACKUP_VOLUME, c->key);
    s->vol = vi;
    /* the free space of the engine's data root, when it is this host's */
    if (old && old->mountpoint && old->mountpoint[0] == '/' && engine_is_local(rs->e)) {
        int fd = open(old->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            int rc = check_space(fd, old->mountpoint, ms, err);
            close(fd);
            if (rc)
                return rc;
        }
    }
    char *tmp = random_name(v->name, "");
    const struct engine_kv labels[] = {{"io.zpanel.project", rs->spec->project},
                                       {BACKUP_HELPER_LABEL, "restore"}};
    int rc = create_volume(rs->e, tmp, v, old, labels, 2, err);
    if (rc) {
        free(tmp);
        return rc;
    }
    s->tmp = tmp;
    rc = put_volume(rs, c, tmp, ms, err);
    if (rc)
        zp_err_prefix(err, "staging into the temporary volume '%s'", tmp);
    return rc;
}

/* ---- swapping staged sections in ---- */

/* Move every entry of the directory (a volume's mountpoint) aside, the staged ones in, then
 * remove the old ones. A crash in between leaves both in the directory, never neither. */
static int swap_inside(struct stage *s, struct zp_err *err)
{
    int rc = 0;
    char *old = random_name(".", "old");
    int tfd = -1, ofd = -1;
    DIR *d = NULL;
    if (mkdirat(s->dirfd, old, 0700) != 0) {
        rc = zp_err_sys(err, "creating '%s' in the volume", old);
        goto out;
    }
    ofd = openat(s->dirfd, old, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    tfd = openat(s->dirfd, s->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (ofd < 0 || tfd < 0) {
        rc = zp_err_sys(err, "opening the staged content");
        goto out;
    }
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        /* pass 0: the volume's entries into old; pass 1: the staged ones into the volume;
         * names are read first, then moved */
        int from = pass == 0 ? s->dirfd : tfd, to = pass == 0 ? ofd : s->dirfd;
        int dfd = fcntl(from, F_DUPFD_CLOEXEC, 0);
        d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (d == NULL) {
            if (dfd >= 0)
                close(dfd);
            rc = zp_err_sys(err, "reading the volume");
            goto out;
        }
        rewinddir(d);
        char **names = NULL;
        size_t nn = 0, ncap = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            const char *n = de->d_name;
            if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 ||
                (pass == 0 && (strcmp(n, s->tmp) == 0 || strcmp(n, old) == 0)))
                continue;
            if (nn == ncap)
                zp_grow((void **)&names, &ncap, nn + 1, sizeof(*names));
            names[nn++] = zp_strdup(n);
        }
        closedir(d);
        d = NULL;
        for (size_t i = 0; i < nn; i++) {
            if (rc == 0 && renameat2(from, names[i], to, names[i], RENAME_NOREPLACE) != 0)
                rc = zp_err_sys(err, "moving '%s' %s", names[i],
                                pass == 0 ? "aside"
                                          : "into the volume (the old content is in the "
                                            "volume's directory '.old.zp-restore-*')");
            free(names[i]);
        }
        free(names);
    }
    if (rc)
        goto out;
    /* the root's own owner, mode and times */
    struct stat st;
    if (fstat(tfd, &st) == 0) {
        struct timespec ts[2] = {st.st_atim, st.st_mtim};
        if (fchown(s->dirfd, st.st_uid, st.st_gid) != 0 && geteuid() == 0)
            rc = zp_err_sys(err, "setting the owner of the volume's root");
        if (rc == 0 && fchmod(s->dirfd, st.st_mode & 07777) != 0)
            rc = zp_err_sys(err, "setting the mode of the volume's root");
        if (rc == 0)
            futimens(s->dirfd, ts);
    }
    unlinkat(s->dirfd, s->tmp, AT_REMOVEDIR);
    free(s->tmp);
    s->tmp = NULL;
    backup__remove_tree(s->dirfd, old);
out:
    if (tfd >= 0)
        close(tfd);
    if (ofd >= 0)
        close(ofd);
    free(old);
    return rc;
}

static int swap_in(struct restorer *rs, struct stage *s, struct zp_err *err)
{
    switch (s->how) {
    case STAGE_DIR: {
        struct stat st;
        bool exists = fstatat(s->dirfd, s->name, &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (renameat2(s->dirfd, s->tmp, s->dirfd, s->name,
                      exists ? RENAME_EXCHANGE : RENAME_NOREPLACE) != 0)
            return zp_err_sys(err, "swapping '%s' in", s->key);
        if (exists)
            backup__remove_tree(s->dirfd, s->tmp); /* now the old content */
        free(s->tmp);
        s->tmp = NULL;
        return 0;
    }
    case STAGE_FILE:
        if (renameat(s->dirfd, s->tmp, s->dirfd, s->name) != 0)
            return zp_err_sys(err, "renaming the new '%s' into place", s->key);
        free(s->tmp);
        s->tmp = NULL;
        return 0;
    case STAGE_INSIDE:
        return swap_inside(s, err);
    case STAGE_VOLAPI:
        break;
    }
    /* another driver or a remote engine: remove, create again, fill from the archive once
     * more; the staged copy stays until that worked */
    const struct backup_volume *v = &rs->spec->volumes[s->vol];
    const struct backup_section *ms = backup_manifest_find(rs->m, BACKUP_VOLUME, v->key);
    struct engine_volume_list all = {0};
    struct cursor c;
    memset(&c, 0, sizeof(c));
    int rc = engine_volume_list(rs->e, NULL, &all, err);
    if (rc)
        goto out;
    const struct engine_volume *old = find_volume(&all, v->name);
    if (old && (rc = engine_volume_remove(rs->e, v->name, false, err)) != 0) {
        if (rc == ZP_E_CONFLICT)
            zp_err_prefix(err, "volume '%s' is still in use (stop what uses it)", v->name);
        goto out;
    }
    if ((rc = create_volume(rs->e, v->name, v, old, NULL, 0, err)) != 0)
        goto out;
    if ((rc = cursor_open(&c, rs->path, err)) != 0 || (rc = cursor_next(&c, err)) != 0)
        goto out;
    while (rc == 0 && c.e && !cursor_in(&c, BACKUP_VOLUME, v->key))
        rc = cursor_next(&c, err);
    if (rc == 0 && c.e == NULL)
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "archive '%s' has no volume '%s' any more", rs->path,
                        v->key);
    if (rc == 0)
        rc = put_volume(rs, &c, v->name, ms, err);
    if (rc == 0) {
        struct zp_err ignored;
        zp_err_init(&ignored);
        engine_volume_remove(rs->e, s->tmp, true, &ignored);
        free(s->tmp);
        s->tmp = NULL;
    }
out:
    if (rc && s->tmp) {
        zp_err_prefix(err, "the restored content is kept in volume '%s'", s->tmp);
        free(s->tmp); /* kept: never removed */
        s->tmp = NULL;
    }
    cursor_release(&c);
    engine_volume_list_release(&all);
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

static bool declared(const struct backup_path *list, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].key, key) == 0)
            return true;
    return false;
}

static int stage_all(struct restorer *rs, struct cursor *c, bool *done, struct zp_err *err)
{
    const struct backup_restore_spec *spec = rs->spec;
    struct engine_volume_list all = {0};
    int rc = 0;
    if (spec->nvolumes > 0 && (rc = engine_volume_list(rs->e, NULL, &all, err)) != 0)
        return rc;
    if ((rc = cursor_next(c, err)) != 0)
        goto out;
    while (c->e && rc == 0) {
        if (c->manifest) {
            rc = cursor_next(c, err);
            continue;
        }
        const struct backup_section *ms = backup_manifest_find(rs->m, c->kind, c->key);
        if (ms == NULL) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "archive '%s': %s '%s' is not in the manifest",
                            rs->path, backup__kind_dir(c->kind), c->key);
            break;
        }
        char *key = zp_strdup(c->key);
        enum backup_kind kind = c->kind;
        if (kind == BACKUP_VOLUME) {
            size_t i = 0;
            while (i < spec->nvolumes && strcmp(spec->volumes[i].key, key) != 0)
                i++;
            if (i == spec->nvolumes) {
                rc = skip_section(c, err);
            } else {
                const struct backup_volume *v = &spec->volumes[i];
                char *mp = NULL;
                char *created = NULL;
                const struct engine_volume *old = find_volume(&all, v->name);
                if (old == NULL) {
                    /* a fresh volume, with the project's labels */
                    if ((rc = create_volume(rs->e, v->name, v, NULL, NULL, 0, err)) == 0) {
                        created = zp_strdup(v->name);
                        engine_volume_list_release(&all);
                        rc = engine_volume_list(rs->e, NULL, &all, err);
                    }
                    old = find_volume(&all, v->name);
                }
                if (rc == 0 && !spec->engine_api)
                    rc = backup__local_mountpoint(rs->e, v->name, v->n_options, &mp, err);
                if (rc == 0) {
                    note(rs->progress, rs->ud, kind, key, "staging volume '%s'%s%s", v->name,
                         mp ? " in " : " through the engine", mp ? mp : "");
                    rc = mp ? stage_volume_dir(rs, c, i, mp, ms, err)
                            : stage_volume_api(rs, c, i, old, ms, err);
                    rs->stages[rs->n - 1].created = created;
                    created = NULL;
                }
                if (created) { /* not staged: remove it again */
                    struct zp_err ignored;
                    zp_err_init(&ignored);
                    engine_volume_remove(rs->e, created, true, &ignored);
                    free(created);
                }
                free(mp);
                if (rc)
                    zp_err_prefix(err, "volume '%s'", v->name);
                done[i] = true;
            }
        } else if (spec->volumes_only || kind == BACKUP_DUMP) {
            /* dumps are loaded into their running service afterwards (backup_dump_load) */
            rc = skip_section(c, err);
        } else if (kind == BACKUP_BIND) {
            if (!declared(spec->binds, spec->nbinds, key)) {
                rc = zp_err_set(err, ZP_E_INPUT, NULL,
                                "archive '%s': bind directory '%s' is not a bind mount of the "
                                "project's services; refusing to write it",
                                rs->path, key);
            } else {
                note(rs->progress, rs->ud, kind, key, "staging");
                if ((rc = stage_bind(rs, c, ms, err)) != 0)
                    zp_err_prefix(err, "bind directory '%s'", key);
            }
        } else {
            if (!declared(spec->files, spec->nfiles, key)) {
                rc = zp_err_set(err, ZP_E_INPUT, NULL,
                                "archive '%s': file '%s' is not a compose or env file of the "
                                "project; refusing to write it",
                                rs->path, key);
            } else {
                note(rs->progress, rs->ud, kind, key, "staging");
                if ((rc = stage_file(rs, c, ms, err)) != 0)
                    zp_err_prefix(err, "file '%s'", key);
            }
        }
        free(key);
    }
    for (size_t i = 0; rc == 0 && i < spec->nvolumes; i++)
        if (!done[i])
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "archive '%s' has no volume '%s'", rs->path,
                            spec->volumes[i].key);
out:
    engine_volume_list_release(&all);
    return rc;
}

int backup_restore(struct engine *e, const char *path, const struct backup_restore_spec *spec,
                   backup_progress_fn progress, void *ud, struct zp_err *err)
{
    struct backup_manifest own;
    memset(&own, 0, sizeof(own));
    struct restorer rs = {.e = e,
                          .path = path,
                          .spec = spec,
                          .m = spec->manifest,
                          .progress = progress,
                          .ud = ud,
                          .projfd = -1};
    struct cursor c;
    memset(&c, 0, sizeof(c));
    bool *done = zp_calloc(spec->nvolumes + 1, sizeof(*done));
    int rc = 0;
    if (rs.m == NULL) {
        if ((rc = backup_verify(path, &own, err)) != 0)
            goto out;
        rs.m = &own;
    }
    rs.chunk = zp_malloc(BACKUP__CHUNK);
    if (spec->nbinds > 0 || spec->nfiles > 0) {
        rs.projfd = open(spec->project_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rs.projfd < 0) {
            rc = zp_err_sys(err, "project directory '%s'", spec->project_dir);
            goto out;
        }
    }
    if ((rc = cursor_open(&c, path, err)) != 0)
        goto out;
    rc = stage_all(&rs, &c, done, err);
    if (rc) {
        for (size_t i = 0; i < rs.n; i++)
            stage_drop(&rs, &rs.stages[i]);
        goto out;
    }
    /* everything is staged and matches the manifest: swap in, stop at the first failure
     * (the sections before it are restored, the others untouched) */
    for (size_t i = 0; i < rs.n && rc == 0; i++) {
        note(progress, ud, rs.stages[i].kind, rs.stages[i].key, "swapping in");
        rc = swap_in(&rs, &rs.stages[i], err);
        if (rc)
            zp_err_prefix(err, "%s '%s'", backup__kind_dir(rs.stages[i].kind), rs.stages[i].key);
    }
    for (size_t i = 0; i < rs.n; i++) {
        free(rs.stages[i].created); /* swapped in or not, a volume made is kept now */
        rs.stages[i].created = NULL;
        if (rc && rs.stages[i].how != STAGE_VOLAPI)
            stage_drop(&rs, &rs.stages[i]);
    }
out:
    for (size_t i = 0; i < rs.n; i++)
        stage_release(&rs.stages[i]);
    free(rs.stages);
    if (rs.projfd >= 0)
        close(rs.projfd);
    free(rs.chunk);
    free(done);
    cursor_release(&c);
    backup_manifest_release(&own);
    return rc;
}

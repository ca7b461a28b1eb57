/* backup/create: write a project's archive: volumes read from their mountpoint when the
 * engine is local (or through the engine's archive API from a never-started helper
 * container), bind directories and files read from the host, then the manifest; into a
 * temporary file renamed into place only when complete. Every entry goes through the same
 * rules verify and restore apply, so what is written can be restored. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup-int.h"

#include "../util/banned.h"

struct writer {
    struct arc_writer *w;
    const char *output;
    unsigned char *chunk;
    struct backup_manifest m;
    struct backup__check check;
    backup_progress_fn progress;
    void *ud;
};

/* The section being written. */
struct section {
    enum backup_kind kind;
    const char *key;
    const char *name; /* volumes */
    char *dir;        /* in the archive */
    struct backup_digest *dg;
    uint64_t skipped; /* sockets and devices */
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

static void section_begin(struct writer *wr, struct section *sec, enum backup_kind kind,
                          const char *key, const char *name)
{
    memset(sec, 0, sizeof(*sec));
    sec->kind = kind;
    sec->key = key;
    sec->name = name;
    sec->dir = backup__section_dir(kind, key);
    sec->dg = backup_digest_new();
    backup__check_section(&wr->check, kind);
}

static void section_release(struct section *sec)
{
    free(sec->dir);
    backup_digest_free(sec->dg);
    sec->dir = NULL;
    sec->dg = NULL;
}

/* Record the finished section in the manifest. */
static void section_end(struct writer *wr, struct section *sec)
{
    wr->m.sections = zp_realloc(wr->m.sections, (wr->m.n + 1) * sizeof(*wr->m.sections));
    struct backup_section *s = &wr->m.sections[wr->m.n++];
    memset(s, 0, sizeof(*s));
    s->kind = sec->kind;
    s->key = zp_strdup(sec->key);
    s->name = sec->name ? zp_strdup(sec->name) : NULL;
    backup_digest_finish(sec->dg, s->sha256, &s->size, &s->files);
    if (sec->skipped)
        note(wr, sec->kind, sec->key, "%llu sockets or devices skipped",
             (unsigned long long)sec->skipped);
    note(wr, sec->kind, sec->key, "%llu entries, %llu bytes", (unsigned long long)s->files,
         (unsigned long long)s->size);
}

/* The path of the entry inside the archive: the section's directory for the root. */
static char *join_rel(const char *dir, const char *rel)
{
    return rel[0] ? zp_asprintf("%s/%s", dir, rel) : zp_strdup(dir);
}

/* Check and write the header of entry e at rel (e->path and e->link are set here for the
 * archive); link_rel is a hard link's target inside the section. */
static int put_header(struct writer *wr, struct section *sec, const char *rel, struct arc_entry *e,
                      const char *link_rel, struct zp_err *err)
{
    char *name = join_rel(sec->dir, rel);
    char *lname = link_rel ? join_rel(sec->dir, link_rel) : NULL;
    e->path = name;
    enum backup_type type;
    int rc = backup__check_entry(&wr->check, rel, e, link_rel, &type, err);
    if (rc) {
        zp_err_prefix(err, "cannot archive it (restore would refuse it)");
        goto out;
    }
    backup_digest_begin(sec->dg, rel, type, e->mode, e->uid, e->gid,
                        type == BACKUP_T_SYMLINK ? e->link : link_rel);
    if (lname) {
        e->link = lname;
        e->size = 0;
    }
    e->sparse = false;
    if (arc_writer_header(wr->w, e, err) != 0) {
        zp_err_prefix(err, "writing '%s'", wr->output);
        rc = err->code;
    }
out:
    e->path = NULL;
    e->link = NULL;
    free(name);
    free(lname);
    return rc;
}

static int put_data(struct writer *wr, struct section *sec, const void *data, size_t n,
                    struct zp_err *err)
{
    backup_digest_data(sec->dg, data, n);
    if (backup__check_bytes(&wr->check, n, err) != 0)
        return err->code;
    if (arc_writer_data(wr->w, data, n, err) != 0) {
        zp_err_prefix(err, "writing '%s'", wr->output);
        return err->code;
    }
    return 0;
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
    struct arc_reader *r = NULL;
    struct section sec;
    section_begin(wr, &sec, BACKUP_VOLUME, v->key, v->name);
    size_t tl = strlen(top);
    bool root = false;
    char *rel = NULL, *lrel = NULL;
    int rc = arc_reader_open_fd(fd, &r, err);
    if (rc)
        goto out;
    for (;;) {
        const struct arc_entry *re = NULL;
        if ((rc = arc_reader_next(r, &re, err)) != 0)
            goto out;
        if (re == NULL)
            break;
        const char *name = re->path;
        if (strncmp(name, top, tl) != 0 || (name[tl] != '/' && name[tl] != '\0')) {
            rc = zp_err_set(err, ZP_E_ENGINE, NULL, "unexpected entry '%s' from the engine", name);
            goto out;
        }
        free(rel);
        free(lrel);
        lrel = NULL;
        rel = zp_strdup(name[tl] ? name + tl + 1 : "");
        size_t rl = strlen(rel);
        while (rl > 0 && rel[rl - 1] == '/')
            rel[--rl] = '\0';
        if (re->type == ARC_OTHER) {
            sec.skipped++;
            continue;
        }
        if (re->type == ARC_HARDLINK) {
            if (strncmp(re->link, top, tl) != 0 || re->link[tl] != '/') {
                rc = zp_err_set(err, ZP_E_ENGINE, NULL, "hard link '%s' leaves the volume", name);
                goto out;
            }
            lrel = zp_strdup(re->link + tl + 1);
        }
        root = root || rel[0] == '\0';
        struct arc_entry e = *re;
        if ((rc = put_header(wr, &sec, rel, &e, lrel, err)) != 0)
            goto out;
        if (re->type == ARC_FILE) {
            for (;;) {
                size_t n = 0;
                if ((rc = arc_reader_data(r, wr->chunk, BACKUP__CHUNK, &n, err)) != 0) {
                    zp_err_prefix(err, "reading the engine's stream");
                    rc = ZP_E_ENGINE;
                    err->code = ZP_E_ENGINE;
                    goto out;
                }
                if (n == 0)
                    break;
                if ((rc = put_data(wr, &sec, wr->chunk, n, err)) != 0)
                    goto out;
            }
        }
        backup_digest_end(sec.dg);
    }
    if (!root) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "the engine's stream has no root directory");
        goto out;
    }
    section_end(wr, &sec);
out:
    free(rel);
    free(lrel);
    section_release(&sec);
    arc_reader_free(r);
    return rc;
}

/* ---- a tree of this host: bind directories, local volumes' mountpoints ---- */

static int read_tree(struct writer *wr, enum backup_kind kind, const char *key, const char *name,
                     const char *path, struct zp_err *err)
{
    struct backup__walk *w = NULL;
    struct section sec;
    section_begin(wr, &sec, kind, key, name);
    int rc = backup__walk_open(path, &w, err);
    while (rc == 0) {
        const struct backup__walk_entry *we = NULL;
        if ((rc = backup__walk_next(w, &we, err)) != 0 || we == NULL)
            break;
        if (we->skipped) {
            sec.skipped++;
            continue;
        }
        struct arc_entry e = {
            .mode = (unsigned)(we->st.st_mode & 07777),
            .uid = (int64_t)we->st.st_uid,
            .gid = (int64_t)we->st.st_gid,
            .mtime = (int64_t)we->st.st_mtim.tv_sec,
            .mtime_nsec = we->st.st_mtim.tv_nsec,
        };
        if (S_ISDIR(we->st.st_mode)) {
            e.type = ARC_DIR;
        } else if (S_ISLNK(we->st.st_mode)) {
            e.type = ARC_SYMLINK;
            e.link = we->link;
        } else if (S_ISFIFO(we->st.st_mode)) {
            e.type = ARC_FIFO;
        } else if (we->hardlink) {
            e.type = ARC_HARDLINK;
        } else {
            e.type = ARC_FILE;
            e.size = (int64_t)we->st.st_size;
        }
        if ((rc = put_header(wr, &sec, we->rel, &e, we->hardlink, err)) != 0)
            break;
        uint64_t left = e.type == ARC_FILE ? (uint64_t)we->st.st_size : 0;
        while (left > 0) {
            size_t want = left < BACKUP__CHUNK ? (size_t)left : BACKUP__CHUNK;
            ssize_t n = read(we->fd, wr->chunk, want);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = zp_err_sys(err, "reading '%s/%s'", path, we->rel);
                break;
            }
            if (n == 0) {
                rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "'%s/%s' shrank while read", path, we->rel);
                break;
            }
            if ((rc = put_data(wr, &sec, wr->chunk, (size_t)n, err)) != 0)
                break;
            left -= (uint64_t)n;
        }
        if (rc == 0)
            backup_digest_end(sec.dg);
    }
    if (rc == 0)
        section_end(wr, &sec);
    section_release(&sec);
    backup__walk_free(w);
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

/* ---- files: from the host ---- */

/* A one-file section (a compose or env file, a dump) from fd, named what in errors. */
static int put_one_file(struct writer *wr, enum backup_kind kind, const char *key, const char *name,
                        int fd, const char *what, struct zp_err *err)
{
    struct section sec;
    section_begin(wr, &sec, kind, key, name);
    int rc = 0;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = zp_err_sys(err, "%s", what);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "%s is not a regular file", what);
        goto out;
    }
    struct arc_entry e = {
        .type = ARC_FILE,
        .mode = (unsigned)(st.st_mode & 07777),
        .uid = (int64_t)st.st_uid,
        .gid = (int64_t)st.st_gid,
        .size = (int64_t)st.st_size,
        .mtime = (int64_t)st.st_mtim.tv_sec,
        .mtime_nsec = st.st_mtim.tv_nsec,
    };
    if ((rc = put_header(wr, &sec, "", &e, NULL, err)) != 0)
        goto out;
    off_t left = st.st_size;
    while (left > 0) {
        size_t want = (uint64_t)left < BACKUP__CHUNK ? (size_t)left : BACKUP__CHUNK;
        ssize_t n = read(fd, wr->chunk, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = zp_err_sys(err, "reading %s", what);
            goto out;
        }
        if (n == 0) {
            rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "%s shrank while read", what);
            goto out;
        }
        if ((rc = put_data(wr, &sec, wr->chunk, (size_t)n, err)) != 0)
            goto out;
        left -= n;
    }
    backup_digest_end(sec.dg);
    section_end(wr, &sec);
out:
    section_release(&sec);
    return rc;
}

static int backup_file(struct writer *wr, const struct backup_path *f, struct zp_err *err)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return zp_err_sys(err, "file '%s'", f->path);
    char *what = zp_asprintf("file '%s'", f->path);
    int rc = put_one_file(wr, BACKUP_FILE, f->key, NULL, fd, what, err);
    free(what);
    close(fd);
    return rc;
}

/* ---- dumps: through exec, spooled to an unlinked temporary file (the archive needs
 * the size first), then archived; a failed dump writes nothing ---- */

static int backup_dump(struct writer *wr, struct engine *e, const struct backup_dump *d,
                       struct zp_err *err)
{
    const char *tmpdir = getenv("TMPDIR");
    char *tmpl = zp_asprintf("%s/.zpanel-dump-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd < 0) {
        int rc = zp_err_sys(err, "creating a temporary file for the dump of '%s'", d->key);
        free(tmpl);
        return rc;
    }
    unlink(tmpl);
    free(tmpl);
    note(wr, BACKUP_DUMP, d->key, "dumping %s database", backup_db_name(d->type));
    int rc = backup_dump_run(e, d, fd, err);
    if (rc == 0 && lseek(fd, 0, SEEK_SET) != 0)
        rc = zp_err_sys(err, "rewinding the dump of '%s'", d->key);
    if (rc == 0) {
        fchmod(fd, 0600);
        char *what = zp_asprintf("the dump of service '%s'", d->key);
        rc = put_one_file(wr, BACKUP_DUMP, d->key, backup_db_name(d->type), fd, what, err);
        free(what);
    }
    close(fd);
    return rc;
}

static int write_manifest(struct writer *wr, struct zp_err *err)
{
    struct zp_buf b;
    zp_buf_init(&b, BACKUP_MAX_MANIFEST);
    int rc = backup_manifest_to_json(&wr->m, &b, err);
    if (rc == 0) {
        struct arc_entry e = {.path = BACKUP_MANIFEST_NAME,
                              .type = ARC_FILE,
                              .mode = 0644,
                              .size = (int64_t)b.len,
                              .mtime = (int64_t)time(NULL)};
        if (arc_writer_header(wr->w, &e, err) != 0 ||
            arc_writer_data(wr->w, b.p, b.len, err) != 0) {
            zp_err_prefix(err, "writing '%s'", wr->output);
            rc = err->code;
        }
    }
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

int backup_create_fd(struct engine *e, const struct backup_spec *spec, int fd,
                     enum backup_compression comp, const char *output, backup_progress_fn progress,
                     void *ud, struct backup_manifest *ret_manifest, struct zp_err *err)
{
    int rc = 0;
    struct writer wr;
    memset(&wr, 0, sizeof(wr));
    wr.output = output;
    wr.progress = progress;
    wr.ud = ud;
    wr.m.format = BACKUP_FORMAT;
    wr.m.zpanel_version = zp_strdup(ZP_VERSION);
    wr.m.project = zp_strdup(spec->project);
    wr.m.created = backup__now_rfc3339();
    backup__check_init(&wr.check);
    char *helper = NULL;
    char **mounts = zp_calloc(spec->nvolumes + 1, sizeof(*mounts));
    wr.chunk = zp_malloc(BACKUP__CHUNK);
    static const enum arc_compression comps[] = {ARC_PLAIN, ARC_GZIP, ARC_ZSTD};
    if ((rc = arc_writer_open_fd(fd, comps[comp], &wr.w, err)) != 0) {
        zp_err_prefix(err, "writing '%s'", output);
        goto out;
    }
    /* the databases first: their dumps are the consistent part, taken before the copying */
    for (size_t i = 0; i < spec->ndumps && rc == 0; i++)
        rc = backup_dump(&wr, e, &spec->dumps[i], err);
    if (rc)
        goto out;
    /* volumes whose mountpoint this process reads directly; the others need the helper */
    size_t napi = 0;
    for (size_t i = 0; i < spec->nvolumes; i++) {
        if (!spec->engine_api &&
            (rc = backup__local_mountpoint(e, spec->volumes[i].name, spec->volumes[i].n_options,
                                           &mounts[i], err)) != 0)
            goto out;
        if (mounts[i] == NULL)
            napi++;
    }
    if (napi > 0) {
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
    }
    for (size_t i = 0; i < spec->nvolumes && rc == 0; i++) {
        const struct backup_volume *v = &spec->volumes[i];
        if (mounts[i]) {
            note(&wr, BACKUP_VOLUME, v->key, "reading volume '%s' at '%s'", v->name, mounts[i]);
            rc = read_tree(&wr, BACKUP_VOLUME, v->key, v->name, mounts[i], err);
            if (rc)
                zp_err_prefix(err, "volume '%s'", v->key);
        } else {
            rc = backup_volume(&wr, e, helper, i, v, err);
        }
    }
    for (size_t i = 0; i < spec->nbinds && rc == 0; i++) {
        note(&wr, BACKUP_BIND, spec->binds[i].key, "reading '%s'", spec->binds[i].path);
        rc = read_tree(&wr, BACKUP_BIND, spec->binds[i].key, NULL, spec->binds[i].path, err);
        if (rc)
            zp_err_prefix(err, "bind directory '%s'", spec->binds[i].key);
    }
    for (size_t i = 0; i < spec->nfiles && rc == 0; i++)
        rc = backup_file(&wr, &spec->files[i], err);
    if (rc == 0)
        rc = write_manifest(&wr, err);
    if (rc)
        goto out;
    if (arc_writer_close(wr.w, err) != 0) {
        zp_err_prefix(err, "writing '%s'", output);
        rc = err->code;
        goto out;
    }
out:
    backup__helper_remove(e, helper, err);
    if (rc == 0 && err->code)
        rc = err->code;
    if (rc == 0 && ret_manifest) {
        *ret_manifest = wr.m;
        memset(&wr.m, 0, sizeof(wr.m));
    }
    for (size_t i = 0; i < spec->nvolumes; i++)
        free(mounts[i]);
    free(mounts);
    free(helper);
    arc_writer_free(wr.w); /* closes nothing of ours */
    free(wr.chunk);
    backup__check_release(&wr.check);
    backup_manifest_release(&wr.m);
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
    char *dir = zp_path_dir(output);
    char *base = strrchr(output, '/') ? zp_strdup(strrchr(output, '/') + 1) : zp_strdup(output);
    char *tmp = zp_asprintf("%s/.%s.tmp-XXXXXX", dir, base);
    struct backup_manifest m;
    memset(&m, 0, sizeof(m));
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = zp_err_sys(err, "creating a temporary file beside '%s'", output);
        free(tmp);
        tmp = NULL;
        goto out;
    }
    fchmod(fd, 0600); /* volumes hold secrets: only the owner reads the archive */
    if ((rc = backup_create_fd(e, spec, fd, comp, output, progress, ud, &m, err)) != 0)
        goto out;
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
    if (rc == 0 && ret_manifest) {
        *ret_manifest = m;
        memset(&m, 0, sizeof(m));
    }
    backup_manifest_release(&m);
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(base);
    free(dir);
    return rc;
}

/* orchestrator/context: resolving a build context, walking it in a stable order through
 * the ignore rules, and turning the walk into a tar stream on demand (archive/ writes
 * into a small buffer that the engine's upload drains). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../archive/archive.h"
#include "context.h"

#include "../util/banned.h"

#define COPY_CHUNK ((size_t)64 << 10)

/* ---- resolving ---- */

static bool is_remote(const char *s)
{
    return strstr(s, "://") != NULL || zp_str_has_prefix(s, "git@") ||
           zp_str_has_prefix(s, "github.com/");
}

void orch__context_release(struct orch_context *c)
{
    if (!c)
        return;
    free(c->dir);
    free(c->dockerfile);
    free(c->dockerfile_path);
    free(c->generated);
    free(c->ignore_text);
    orch__ignore_free(c->ignore);
    memset(c, 0, sizeof(*c));
}

/* Read an ignore file into ig; a missing file is not an error (*ret_found false). */
static int read_ignore(const char *path, struct orch_ignore *ig, char **ret_text, bool *ret_found,
                       struct zp_err *err)
{
    *ret_found = false;
    if (!zp_file_exists(path))
        return 0;
    char *text = NULL;
    size_t len = 0;
    int rc = zp_file_read(path, ORCH_IGNORE_MAX_FILE, &text, &len, err);
    if (rc == 0)
        rc = orch__ignore_parse(ig, path, text, len, err);
    if (rc == 0) {
        *ret_found = true;
        if (ret_text) {
            *ret_text = text;
            text = NULL;
        }
    }
    free(text);
    return rc;
}

int orch__context_open(const struct zp_node *build, struct orch_context *ret, struct zp_err *err)
{
    struct orch_context c = {0};
    char *ignore_path = NULL, *root_ignore = NULL, *root_text = NULL;
    int rc = 0;
    const char *dir = zp_node_get_str(build, "context");
    if (!dir)
        dir = ".";
    if (is_remote(dir)) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL,
                        "build context '%s': remote build contexts are not supported yet", dir);
        goto out;
    }
    c.dir = zp_path_abs(dir);
    struct stat st;
    if (stat(c.dir, &st) != 0) {
        rc = errno == ENOENT
                 ? zp_err_set(err, ZP_E_NOTFOUND, NULL, "build context '%s' does not exist", c.dir)
                 : zp_err_sys(err, "build context '%s'", c.dir);
        goto out;
    }
    if (!S_ISDIR(st.st_mode)) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "build context '%s' is not a directory", c.dir);
        goto out;
    }
    c.ignore = orch__ignore_new();
    const char *inl = zp_node_get_str(build, "dockerfile_inline");
    if (inl) {
        c.generated = zp_strdup(inl);
        c.generated_len = strlen(inl);
    } else {
        const char *df = zp_node_get_str(build, "dockerfile");
        c.dockerfile_path = zp_path_join(c.dir, df ? df : "Dockerfile");
        if (stat(c.dockerfile_path, &st) != 0) {
            rc = errno == ENOENT ? zp_err_set(err, ZP_E_NOTFOUND, NULL,
                                              "Dockerfile '%s' does not exist", c.dockerfile_path)
                                 : zp_err_sys(err, "Dockerfile '%s'", c.dockerfile_path);
            goto out;
        }
        if (!S_ISREG(st.st_mode)) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "Dockerfile '%s' is not a file",
                            c.dockerfile_path);
            goto out;
        }
        size_t dl = strlen(c.dir);
        bool root = strcmp(c.dir, "/") == 0;
        if (root || (zp_str_has_prefix(c.dockerfile_path, c.dir) && c.dockerfile_path[dl] == '/'))
            c.dockerfile = zp_strdup(c.dockerfile_path + (root ? 1 : dl + 1));
        else if ((rc = zp_file_read(c.dockerfile_path, ORCH_DOCKERFILE_MAX, &c.generated,
                                    &c.generated_len, err)))
            goto out;
        /* <Dockerfile>.dockerignore beside the Dockerfile wins */
        ignore_path = zp_asprintf("%s.dockerignore", c.dockerfile_path);
    }
    bool found = false;
    if (ignore_path && (rc = read_ignore(ignore_path, c.ignore, NULL, &found, err)))
        goto out;
    root_ignore = zp_path_join(c.dir, ".dockerignore");
    if (!found) {
        if ((rc = read_ignore(root_ignore, c.ignore, &root_text, &found, err)))
            goto out;
    } else if (c.generated && zp_file_exists(root_ignore) &&
               (rc = zp_file_read(root_ignore, ORCH_IGNORE_MAX_FILE, &root_text, NULL, err))) {
        goto out;
    }
    /* the Dockerfile and .dockerignore are always sent */
    if ((rc = orch__ignore_add(c.ignore, "!.dockerignore", err)))
        goto out;
    if (c.generated) {
        char hex[65];
        zp_sha256_hex(c.generated, c.generated_len, hex);
        hex[16] = '\0';
        c.dockerfile = zp_asprintf("%s%s", ORCH_GENERATED_DOCKERFILE, hex);
        /* A .dockerignore naming the generated file makes the engine drop it from the
         * context once it has read it, so that `COPY . .` does not copy it. */
        c.ignore_text =
            zp_asprintf("%s\n%s\n", root_text ? root_text : ".dockerignore", c.dockerfile);
    } else {
        char *esc = orch__ignore_escape(c.dockerfile);
        char *line = zp_asprintf("!%s", esc);
        rc = orch__ignore_add(c.ignore, line, err);
        free(line);
        free(esc);
        if (rc)
            goto out;
    }
    *ret = c;
    memset(&c, 0, sizeof(c));
out:
    orch__context_release(&c);
    free(ignore_path);
    free(root_ignore);
    free(root_text);
    return rc;
}

/* ---- walking ---- */

struct frame {
    char *rel; /* the directory, "" for the context itself */
    char **names;
    size_t n, i;
};

struct orch_walk {
    const struct orch_context *c;
    struct frame *stack;
    size_t depth, cap;
    bool started;
    struct orch_walk_entry cur;
    char *cur_rel, *cur_path;
};

struct orch_walk *orch__walk_new(const struct orch_context *c)
{
    struct orch_walk *w = zp_calloc(1, sizeof(*w));
    w->c = c;
    return w;
}

static void frame_release(struct frame *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->names[i]);
    free(f->names);
    free(f->rel);
}

void orch__walk_free(struct orch_walk *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->depth; i++)
        frame_release(&w->stack[i]);
    free(w->stack);
    free(w->cur_rel);
    free(w->cur_path);
    free(w);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read the names in directory rel and push them as a new frame. */
static int push_dir(struct orch_walk *w, const char *rel, const char *path, struct zp_err *err)
{
    if (w->depth >= ORCH_WALK_MAX_DEPTH)
        return zp_err_set(err, ZP_E_TOOBIG, NULL,
                          "build context: '%s' is nested more than %d directories deep", rel,
                          ORCH_WALK_MAX_DEPTH);
    DIR *d = opendir(path);
    if (!d)
        return zp_err_sys(err, "reading build context directory '%s'", path);
    struct frame f = {0};
    f.rel = zp_strdup(rel);
    size_t cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        zp_grow((void **)&f.names, &cap, f.n + 1, sizeof(*f.names));
        f.names[f.n++] = zp_strdup(de->d_name);
    }
    int rc = 0;
    if (errno != 0)
        rc = zp_err_sys(err, "reading build context directory '%s'", path);
    closedir(d);
    if (rc) {
        frame_release(&f);
        return rc;
    }
    if (f.n > 1)
        qsort(f.names, f.n, sizeof(*f.names), cmp_name);
    zp_grow((void **)&w->stack, &w->cap, w->depth + 1, sizeof(*w->stack));
    w->stack[w->depth++] = f;
    return 0;
}

/* Files the archive gets from elsewhere: the generated Dockerfile and .dockerignore. */
static bool replaced(const struct orch_context *c, const char *rel)
{
    if (c->generated && strcmp(rel, c->dockerfile) == 0)
        return true;
    return c->ignore_text && strcmp(rel, ".dockerignore") == 0;
}

int orch__walk_next(struct orch_walk *w, const struct orch_walk_entry **ret_entry,
                    struct zp_err *err)
{
    int rc;
    if (!w->started) {
        w->started = true;
        if ((rc = push_dir(w, "", w->c->dir, err)))
            return rc;
    }
    while (w->depth > 0) {
        struct frame *f = &w->stack[w->depth - 1];
        if (f->i == f->n) {
            frame_release(f);
            w->depth--;
            continue;
        }
        const char *name = f->names[f->i++];
        free(w->cur_rel);
        free(w->cur_path);
        w->cur_rel = *f->rel ? zp_asprintf("%s/%s", f->rel, name) : zp_strdup(name);
        w->cur_path =
            zp_asprintf("%s/%s", strcmp(w->c->dir, "/") == 0 ? "" : w->c->dir, w->cur_rel);
        if (strlen(w->cur_rel) > ORCH_IGNORE_MAX_PATH)
            return zp_err_set(err, ZP_E_TOOBIG, NULL,
                              "build context: a path below '%s' is longer than %d bytes",
                              *f->rel ? f->rel : ".", ORCH_IGNORE_MAX_PATH);
        if (*f->rel == '\0' && replaced(w->c, w->cur_rel))
            continue;
        struct stat st;
        if (lstat(w->cur_path, &st) != 0) {
            if (errno == ENOENT) /* removed while we walk */
                continue;
            return zp_err_sys(err, "build context: '%s'", w->cur_path);
        }
        bool excluded = orch__ignore_excluded(w->c->ignore, w->cur_rel);
        if (S_ISDIR(st.st_mode)) {
            if (excluded && !orch__ignore_may_reinclude(w->c->ignore, w->cur_rel))
                continue;
            /* cur_rel and cur_path stay valid: push_dir copies what it keeps */
            if ((rc = push_dir(w, w->cur_rel, w->cur_path, err)))
                return rc;
            if (excluded)
                continue;
        } else if (excluded || !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))) {
            continue;
        }
        w->cur.rel = w->cur_rel;
        w->cur.path = w->cur_path;
        w->cur.st = st;
        *ret_entry = &w->cur;
        return 0;
    }
    *ret_entry = NULL;
    return 0;
}

/* ---- the tar stream ---- */

enum tar_phase {
    PHASE_GENERATED, /* the generated Dockerfile and .dockerignore */
    PHASE_WALK,
    PHASE_FILE, /* copying a file's contents */
    PHASE_CLOSE,
    PHASE_DONE,
};

struct orch_tar {
    const struct orch_context *c;
    struct arc_writer *w;
    struct orch_walk *walk;
    enum tar_phase phase;
    int generated_step;
    struct zp_buf out; /* produced and not yet read */
    size_t out_off;
    int fd;
    const char *fd_path; /* borrowed from the walk: valid until its next step */
    uint64_t left;       /* bytes of the open file still to copy */
    char *chunk;
    uint64_t bytes, entries;
    int failed;
    struct zp_err failure;
};

struct orch_tar *orch__tar_new(const struct orch_context *c)
{
    struct orch_tar *t = zp_calloc(1, sizeof(*t));
    t->c = c;
    t->fd = -1;
    t->chunk = zp_malloc(COPY_CHUNK);
    zp_buf_init(&t->out, (size_t)64 << 20);
    zp_err_init(&t->failure);
    t->w = arc_writer_new_buffer(&t->out);
    t->walk = orch__walk_new(c);
    return t;
}

void orch__tar_free(struct orch_tar *t)
{
    if (!t)
        return;
    if (t->fd >= 0)
        close(t->fd);
    arc_writer_free(t->w);
    orch__walk_free(t->walk);
    zp_buf_release(&t->out);
    free(t->chunk);
    free(t);
}

uint64_t orch__tar_bytes(const struct orch_tar *t)
{
    return t->bytes;
}

uint64_t orch__tar_entries(const struct orch_tar *t)
{
    return t->entries;
}

static int tar_fail(struct orch_tar *t, const char *what, const char *name)
{
    zp_err_prefix(&t->failure, "build context: %s '%s'", what, name);
    return t->failure.code;
}

/* Write e's header as owned by root (the builder sees the context as root's). */
static int write_header(struct orch_tar *t, struct arc_entry *e)
{
    e->uid = 0;
    e->gid = 0;
    if (arc_writer_header(t->w, e, &t->failure) != 0)
        return tar_fail(t, "archiving", e->path);
    t->entries++;
    return 0;
}

static int add_memory_file(struct orch_tar *t, const char *name, const char *data, size_t len)
{
    struct arc_entry e = {.path = name, .type = ARC_FILE, .mode = 0644, .size = (int64_t)len};
    int rc = write_header(t, &e);
    if (rc == 0 && arc_writer_data(t->w, data, len, &t->failure) != 0)
        rc = tar_fail(t, "archiving", name);
    return rc;
}

/* Start one entry of the walk: its header, and for a file open it for PHASE_FILE. */
static int add_entry(struct orch_tar *t, const struct orch_walk_entry *we)
{
    struct stat st = we->st;
    struct arc_entry e = {.path = we->rel};
    if (S_ISREG(st.st_mode)) {
        int fd = open(we->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0) {
            if (errno == ENOENT)
                return 0;
            return zp_err_sys(&t->failure, "build context: cannot read '%s'", we->path);
        }
        if (fstat(fd, &st) != 0) {
            int rc = zp_err_sys(&t->failure, "build context: cannot read '%s'", we->path);
            close(fd);
            return rc;
        }
        if (!S_ISREG(st.st_mode)) { /* replaced by something else meanwhile */
            close(fd);
            return 0;
        }
        e.type = ARC_FILE;
        e.size = st.st_size;
        e.mode = st.st_mode & 07777;
        e.mtime = st.st_mtim.tv_sec;
        int rc = write_header(t, &e);
        if (rc) {
            close(fd);
            return rc;
        }
        t->fd = fd;
        t->fd_path = we->rel;
        t->left = (uint64_t)st.st_size;
        t->phase = PHASE_FILE;
        return 0;
    }
    e.mode = st.st_mode & 07777;
    e.mtime = st.st_mtim.tv_sec;
    char target[PATH_MAX + 1];
    if (S_ISDIR(st.st_mode)) {
        e.type = ARC_DIR;
    } else {
        ssize_t n = readlink(we->path, target, sizeof(target) - 1);
        if (n < 0)
            return errno == ENOENT
                       ? 0
                       : zp_err_sys(&t->failure, "build context: cannot read '%s'", we->path);
        target[n] = '\0';
        e.type = ARC_SYMLINK;
        e.link = target;
    }
    return write_header(t, &e);
}

/* Copy the next chunk of the open file, at most the size its header announced; a file
 * that shrank meanwhile is padded with zeros by the archive writer at the next entry. */
static int copy_chunk(struct orch_tar *t)
{
    ssize_t n = 0;
    if (t->left > 0) {
        size_t want = t->left < COPY_CHUNK ? (size_t)t->left : COPY_CHUNK;
        do
            n = read(t->fd, t->chunk, want);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return zp_err_sys(&t->failure, "build context: cannot read '%s'", t->fd_path);
    }
    if (n > 0) {
        t->left -= (uint64_t)n;
        if (arc_writer_data(t->w, t->chunk, (size_t)n, &t->failure) != 0)
            return tar_fail(t, "archiving", t->fd_path);
        return 0;
    }
    close(t->fd);
    t->fd = -1;
    t->phase = PHASE_WALK;
    return 0;
}

/* Advance the archive by one step (a header, a chunk of data, the end). */
static int tar_step(struct orch_tar *t)
{
    const struct orch_walk_entry *we;
    int rc;
    switch (t->phase) {
    case PHASE_GENERATED:
        if (t->generated_step == 0 && t->c->generated) {
            t->generated_step = 1;
            return add_memory_file(t, t->c->dockerfile, t->c->generated, t->c->generated_len);
        }
        if (t->generated_step <= 1 && t->c->ignore_text) {
            t->generated_step = 2;
            return add_memory_file(t, ".dockerignore", t->c->ignore_text,
                                   strlen(t->c->ignore_text));
        }
        t->phase = PHASE_WALK;
        return 0;
    case PHASE_WALK:
        if ((rc = orch__walk_next(t->walk, &we, &t->failure)))
            return rc;
        if (!we) {
            t->phase = PHASE_CLOSE;
            return 0;
        }
        return add_entry(t, we);
    case PHASE_FILE:
        return copy_chunk(t);
    case PHASE_CLOSE:
        t->phase = PHASE_DONE;
        if (arc_writer_close(t->w, &t->failure) != 0)
            return tar_fail(t, "finishing", "archive");
        return 0;
    case PHASE_DONE:
        break;
    }
    return 0;
}

static void copy_err(struct zp_err *dst, const struct zp_err *src)
{
    if (dst && !dst->code)
        *dst = *src;
}

int orch__tar_read(void *tar, char *buf, size_t cap, size_t *ret_len, struct zp_err *err)
{
    struct orch_tar *t = tar;
    if (t->failed) {
        copy_err(err, &t->failure);
        return t->failed;
    }
    while (t->out.len == t->out_off && t->phase != PHASE_DONE) {
        zp_buf_reset(&t->out);
        t->out_off = 0;
        int rc = tar_step(t);
        if (rc) {
            t->failed = rc;
            copy_err(err, &t->failure);
            return rc;
        }
    }
    size_t avail = t->out.len - t->out_off;
    size_t n = avail < cap ? avail : cap;
    if (n)
        memcpy(buf, t->out.p + t->out_off, n);
    t->out_off += n;
    t->bytes += n;
    *ret_len = n;
    return 0;
}

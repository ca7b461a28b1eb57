/* backup/walk: read a directory tree of this host in the archive's canonical order (each
 * directory's names sorted bytewise, depth first), without following links, noting hard
 * links to a path seen earlier. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup-int.h"

#include "../util/banned.h"

struct level {
    int fd;       /* the directory */
    char **names; /* sorted */
    size_t n, next;
    size_t rel_len; /* length of its path in rel */
};

struct inode {
    dev_t dev;
    ino_t ino;
    char *rel; /* NULL: a free slot */
};

struct backup__walk {
    char *root;
    struct level *levels;
    size_t depth, cap;
    struct zp_buf rel;
    struct backup__walk_entry cur;
    char *link;
    struct inode *inodes; /* files with several links: open addressing, power of two */
    size_t ninodes, icap;
    bool root_done;
};

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void level_release(struct level *l)
{
    if (l->fd >= 0)
        close(l->fd);
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
}

/* Read and sort the names of the directory fd (taken over). */
static int push_level(struct backup__walk *w, int fd, size_t rel_len, struct zp_err *err)
{
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) {
        close(fd);
        return zp_err_sys(err, "'%s/%s'", w->root, zp_buf_cstr(&w->rel));
    }
    DIR *d = fdopendir(dup_fd);
    if (d == NULL) {
        close(dup_fd);
        close(fd);
        return zp_err_sys(err, "'%s/%s'", w->root, zp_buf_cstr(&w->rel));
    }
    struct level l = {.fd = fd, .rel_len = rel_len};
    size_t cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (l.n == cap)
            zp_grow((void **)&l.names, &cap, l.n + 1, sizeof(*l.names));
        l.names[l.n++] = zp_strdup(de->d_name);
    }
    int e = errno;
    closedir(d);
    if (e != 0) {
        errno = e;
        level_release(&l);
        return zp_err_sys(err, "reading '%s/%s'", w->root, zp_buf_cstr(&w->rel));
    }
    if (l.n > 1)
        qsort(l.names, l.n, sizeof(*l.names), cmp_names);
    if (w->depth == w->cap)
        zp_grow((void **)&w->levels, &w->cap, w->depth + 1, sizeof(*w->levels));
    w->levels[w->depth++] = l;
    return 0;
}

int backup__walk_open(const char *path, struct backup__walk **ret, struct zp_err *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return zp_err_set(err, ZP_E_NOTFOUND, NULL, "'%s' does not exist", path);
        if (errno == ENOTDIR || errno == ELOOP)
            return zp_err_set(err, ZP_E_INPUT, NULL, "'%s' is not a directory", path);
        return zp_err_sys(err, "opening '%s'", path);
    }
    struct backup__walk *w = zp_calloc(1, sizeof(*w));
    w->root = zp_strdup(path);
    zp_buf_init(&w->rel, 0);
    w->cur.fd = -1;
    if (fstat(fd, &w->cur.st) != 0) {
        int rc = zp_err_sys(err, "'%s'", path);
        close(fd);
        backup__walk_free(w);
        return rc;
    }
    int rc = push_level(w, fd, 0, err);
    if (rc) {
        backup__walk_free(w);
        return rc;
    }
    *ret = w;
    return 0;
}

static size_t inode_slot(const struct inode *t, size_t cap, dev_t dev, ino_t ino)
{
    uint64_t h = ((uint64_t)ino * 0x9E3779B97F4A7C15ull) ^ (uint64_t)dev;
    size_t i = (size_t)(h >> 17) & (cap - 1);
    while (t[i].rel != NULL && !(t[i].dev == dev && t[i].ino == ino))
        i = (i + 1) & (cap - 1);
    return i;
}

/* The first path of a file with several links, or NULL when rel is the first (noted). */
static const char *seen_inode(struct backup__walk *w, const struct stat *st, const char *rel)
{
    if ((w->ninodes + 1) * 2 > w->icap) {
        size_t ncap = w->icap ? w->icap * 2 : 256;
        struct inode *nt = zp_calloc(ncap, sizeof(*nt));
        for (size_t i = 0; i < w->icap; i++)
            if (w->inodes[i].rel)
                nt[inode_slot(nt, ncap, w->inodes[i].dev, w->inodes[i].ino)] = w->inodes[i];
        free(w->inodes);
        w->inodes = nt;
        w->icap = ncap;
    }
    size_t i = inode_slot(w->inodes, w->icap, st->st_dev, st->st_ino);
    if (w->inodes[i].rel)
        return w->inodes[i].rel;
    w->inodes[i] = (struct inode){st->st_dev, st->st_ino, zp_strdup(rel)};
    w->ninodes++;
    return NULL;
}

static void rel_truncate(struct zp_buf *b, size_t len)
{
    if (b->p) {
        b->len = len;
        b->p[len] = '\0';
    }
}

int backup__walk_next(struct backup__walk *w, const struct backup__walk_entry **ret,
                      struct zp_err *err)
{
    struct backup__walk_entry *c = &w->cur;
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    free(w->link);
    w->link = NULL;
    c->link = c->hardlink = NULL;
    c->skipped = false;
    if (!w->root_done) {
        w->root_done = true;
        c->rel = "";
        *ret = c;
        return 0;
    }
    for (;;) {
        if (w->depth == 0) {
            *ret = NULL;
            return 0;
        }
        struct level *l = &w->levels[w->depth - 1];
        if (l->next == l->n) {
            level_release(l);
            w->depth--;
            continue;
        }
        const char *name = l->names[l->next++];
        rel_truncate(&w->rel, l->rel_len);
        if (l->rel_len > 0)
            zp_buf_addc(&w->rel, '/');
        zp_buf_adds(&w->rel, name);
        c->rel = zp_buf_cstr(&w->rel);
        if (fstatat(l->fd, name, &c->st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue; /* removed meanwhile */
            return zp_err_sys(err, "'%s/%s'", w->root, c->rel);
        }
        if (S_ISDIR(c->st.st_mode)) {
            int fd = openat(l->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0)
                return zp_err_sys(err, "opening '%s/%s'", w->root, c->rel);
            size_t rl = w->rel.len;
            int rc = push_level(w, fd, rl, err);
            if (rc)
                return rc;
            c->rel = zp_buf_cstr(&w->rel);
        } else if (S_ISLNK(c->st.st_mode)) {
            size_t cap = (size_t)c->st.st_size + 2;
            if (cap < 64 || cap > BACKUP_MAX_PATH + 2)
                cap = BACKUP_MAX_PATH + 2;
            w->link = zp_malloc(cap);
            ssize_t n = readlinkat(l->fd, name, w->link, cap - 1);
            if (n < 0)
                return zp_err_sys(err, "reading the link '%s/%s'", w->root, c->rel);
            w->link[n] = '\0';
            c->link = w->link;
        } else if (S_ISREG(c->st.st_mode)) {
            if (c->st.st_nlink > 1 && (c->hardlink = seen_inode(w, &c->st, c->rel)) != NULL) {
                *ret = c;
                return 0;
            }
            c->fd = openat(l->fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
            if (c->fd < 0)
                return zp_err_sys(err, "opening '%s/%s'", w->root, c->rel);
            struct stat st;
            if (fstat(c->fd, &st) != 0 || st.st_ino != c->st.st_ino)
                return zp_err_set(err, ZP_E_SYSTEM, NULL, "'%s/%s' changed while read", w->root,
                                  c->rel);
        } else if (!S_ISFIFO(c->st.st_mode)) {
            c->skipped = true;
        }
        *ret = c;
        return 0;
    }
}

void backup__walk_free(struct backup__walk *w)
{
    if (w == NULL)
        return;
    if (w->cur.fd >= 0)
        close(w->cur.fd);
    for (size_t i = 0; i < w->depth; i++)
        level_release(&w->levels[i]);
    for (size_t i = 0; i < w->icap; i++)
        free(w->inodes[i].rel);
    free(w->inodes);
    free(w->levels);
    free(w->link);
    zp_buf_release(&w->rel);
    free(w->root);
    free(w);
}

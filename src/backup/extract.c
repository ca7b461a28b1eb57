/* backup/extract: write a section's entries below a directory with openat(2), one component
 * at a time and never through a link, setting owners, modes and times; a directory's own
 * mode and times are set once its entries are written. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup-int.h"

#include "../util/banned.h"

struct open_dir {
    int fd;
    unsigned mode;
    int64_t uid, gid, mtime;
    long mtime_nsec;
};

struct backup__extract {
    int rootfd;
    bool strip;
    bool root_user;
    struct open_dir *dirs; /* dirs[0] is the root; dirs[i] the i-th ancestor */
    size_t depth, cap;
    int fd;               /* the regular file being written */
    struct arc_entry cur; /* its metadata */
    char *cur_path;       /* cur.path: the reader's entry is gone when the file ends */
    uint64_t stripped;
};

struct backup__extract *backup__extract_new(int rootfd, bool strip_suid)
{
    struct backup__extract *x = zp_calloc(1, sizeof(*x));
    x->rootfd = rootfd;
    x->strip = strip_suid;
    x->root_user = geteuid() == 0;
    x->fd = -1;
    return x;
}

static unsigned mode_of(struct backup__extract *x, unsigned mode)
{
    if (x->strip && (mode & 06000)) {
        x->stripped++;
        mode &= ~06000u;
    }
    return mode & 07777u;
}

static int owner_failed(struct backup__extract *x)
{
    /* not root: the files stay ours, as tar does for a user */
    return x->root_user || errno != EPERM;
}

/* Owner first (chown clears setuid), then mode and times, of the open fd. */
static int set_meta_fd(struct backup__extract *x, int fd, const struct arc_entry *e, unsigned mode,
                       struct zp_err *err)
{
    if (fchown(fd, (uid_t)e->uid, (gid_t)e->gid) != 0 && owner_failed(x))
        return zp_err_sys(err, "setting the owner of '%s'", e->path);
    if (fchmod(fd, mode) != 0)
        return zp_err_sys(err, "setting the mode of '%s'", e->path);
    struct timespec ts[2] = {{e->mtime, e->mtime_nsec}, {e->mtime, e->mtime_nsec}};
    if (futimens(fd, ts) != 0)
        return zp_err_sys(err, "setting the times of '%s'", e->path);
    return 0;
}

/* The same for name in dirfd, not followed (links: owner and times only). */
static int set_meta_at(struct backup__extract *x, int dirfd, const char *name,
                       const struct arc_entry *e, unsigned mode, bool is_link, struct zp_err *err)
{
    if (fchownat(dirfd, name, (uid_t)e->uid, (gid_t)e->gid, AT_SYMLINK_NOFOLLOW) != 0 &&
        owner_failed(x))
        return zp_err_sys(err, "setting the owner of '%s'", e->path);
    if (!is_link && fchmodat(dirfd, name, mode, 0) != 0)
        return zp_err_sys(err, "setting the mode of '%s'", e->path);
    struct timespec ts[2] = {{e->mtime, e->mtime_nsec}, {e->mtime, e->mtime_nsec}};
    if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) != 0)
        return zp_err_sys(err, "setting the times of '%s'", e->path);
    return 0;
}

static int close_dir(struct backup__extract *x, struct open_dir *d, struct zp_err *err)
{
    struct arc_entry e = {.path = "a directory",
                          .uid = d->uid,
                          .gid = d->gid,
                          .mtime = d->mtime,
                          .mtime_nsec = d->mtime_nsec};
    int rc = set_meta_fd(x, d->fd, &e, d->mode, err);
    if (d->fd != x->rootfd)
        close(d->fd);
    d->fd = -1;
    return rc;
}

static int end_file(struct backup__extract *x, struct zp_err *err)
{
    if (x->fd < 0)
        return 0;
    int rc = set_meta_fd(x, x->fd, &x->cur, mode_of(x, x->cur.mode), err);
    close(x->fd);
    x->fd = -1;
    free(x->cur_path);
    x->cur_path = NULL;
    return rc;
}

/* Open the directory of path rel's parent (components below the root, not following
 * links). *ret_fd is a new descriptor, *ret_name points into rel. */
static int open_parent(struct backup__extract *x, const char *rel, int *ret_fd,
                       const char **ret_name, struct zp_err *err)
{
    int fd = fcntl(x->rootfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return zp_err_sys(err, "opening the root");
    const char *p = rel;
    for (;;) {
        const char *slash = strchr(p, '/');
        if (slash == NULL)
            break;
        char *comp = zp_strndup(p, (size_t)(slash - p));
        int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        free(comp);
        close(fd);
        if (next < 0)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "hard link target '%s' is not below a directory", rel);
        fd = next;
        p = slash + 1;
    }
    *ret_fd = fd;
    *ret_name = p;
    return 0;
}

int backup__extract_entry(struct backup__extract *x, const char *rel, const struct arc_entry *e,
                          const char *link_rel, struct zp_err *err)
{
    int rc = end_file(x, err);
    if (rc)
        return rc;
    /* depth of rel: the root is 0, "a" is 1; its parent is dirs[depth - 1] */
    size_t depth = 0;
    if (rel[0] != '\0') {
        depth = 1;
        for (const char *p = rel; *p; p++)
            if (*p == '/')
                depth++;
    }
    while (x->depth > depth)
        if ((rc = close_dir(x, &x->dirs[--x->depth], err)) != 0)
            return rc;
    if (depth == 0) {
        if (e->type != ARC_DIR)
            return zp_err_set(err, ZP_E_INPUT, NULL, "the root '%s' is not a directory", e->path);
        if (x->depth == x->cap)
            zp_grow((void **)&x->dirs, &x->cap, x->depth + 1, sizeof(*x->dirs));
        x->dirs[x->depth++] = (struct open_dir){x->rootfd, mode_of(x, e->mode), e->uid, e->gid,
                                                e->mtime,  e->mtime_nsec};
        return 0;
    }
    if (x->depth != depth)
        return zp_err_set(err, ZP_E_INPUT, NULL, "'%s': its parent is not an open directory",
                          e->path);
    int pfd = x->dirs[depth - 1].fd;
    const char *name = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    switch (e->type) {
    case ARC_DIR: {
        if (mkdirat(pfd, name, 0700) != 0)
            return zp_err_sys(err, "creating '%s'", e->path);
        int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return zp_err_sys(err, "opening '%s'", e->path);
        if (x->depth == x->cap)
            zp_grow((void **)&x->dirs, &x->cap, x->depth + 1, sizeof(*x->dirs));
        x->dirs[x->depth++] =
            (struct open_dir){fd, mode_of(x, e->mode), e->uid, e->gid, e->mtime, e->mtime_nsec};
        return 0;
    }
    case ARC_FILE:
        x->fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (x->fd < 0)
            return zp_err_sys(err, "creating '%s'", e->path);
        x->cur = *e;
        x->cur.link = NULL;
        x->cur.path = x->cur_path = zp_strdup(e->path);
        return 0;
    case ARC_SYMLINK:
        if (symlinkat(e->link, pfd, name) != 0)
            return zp_err_sys(err, "creating the link '%s'", e->path);
        return set_meta_at(x, pfd, name, e, 0, true, err);
    case ARC_FIFO:
        if (mkfifoat(pfd, name, 0600) != 0)
            return zp_err_sys(err, "creating '%s'", e->path);
        return set_meta_at(x, pfd, name, e, mode_of(x, e->mode), false, err);
    case ARC_HARDLINK: {
        int tfd = -1;
        const char *tname = NULL;
        if ((rc = open_parent(x, link_rel ? link_rel : "", &tfd, &tname, err)) != 0)
            return rc;
        struct stat st;
        if (fstatat(tfd, tname, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
            close(tfd);
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "hard link '%s' does not point to an earlier regular file", e->path);
        }
        rc = linkat(tfd, tname, pfd, name, 0) == 0 ? 0 : zp_err_sys(err, "linking '%s'", e->path);
        close(tfd);
        return rc;
    }
    case ARC_OTHER:
        break;
    }
    return zp_err_set(err, ZP_E_INPUT, NULL, "'%s' is a device or socket", e->path);
}

int backup__extract_data(struct backup__extract *x, const void *data, size_t len,
                         struct zp_err *err)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(x->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return zp_err_sys(err, "writing '%s'", x->cur.path);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int backup__extract_finish(struct backup__extract *x, struct zp_err *err)
{
    int rc = end_file(x, err);
    while (rc == 0 && x->depth > 0)
        rc = close_dir(x, &x->dirs[--x->depth], err);
    return rc;
}

uint64_t backup__extract_stripped(const struct backup__extract *x)
{
    return x->stripped;
}

void backup__extract_free(struct backup__extract *x)
{
    if (x == NULL)
        return;
    if (x->fd >= 0)
        close(x->fd);
    free(x->cur_path);
    for (size_t i = 0; i < x->depth; i++)
        if (x->dirs[i].fd >= 0 && x->dirs[i].fd != x->rootfd)
            close(x->dirs[i].fd);
    free(x->dirs);
    free(x);
}

/* ---- removing a tree ---- */

static int remove_in(int dirfd, const char *name, int depth)
{
    if (depth > BACKUP_MAX_PATH)
        return -1;
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -1;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (d == NULL) {
        if (dfd >= 0)
            close(dfd);
        close(fd);
        return -1;
    }
    fchmod(fd, 0700); /* a 0555 directory of the archive: its entries go too */
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (remove_in(fd, de->d_name, depth + 1) != 0)
            rc = -1;
    }
    closedir(d);
    close(fd);
    if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) != 0)
        rc = -1;
    return rc;
}

int backup__remove_tree(int dirfd, const char *name)
{
    return remove_in(dirfd, name, 0);
}

/* archive: tar reading and writing over libarchive, with plain entry structs (see
 * archive.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "archive.h"

#include "../util/banned.h"

/* ---- reader ---- */

struct arc_reader {
    struct archive *a;
    struct arc_entry cur;
};

static const char *msg_of(struct archive *a, const char *fallback)
{
    const char *m = archive_error_string(a);
    return m && m[0] ? m : fallback;
}

static struct arc_reader *reader_new(void)
{
    struct arc_reader *r = zp_calloc(1, sizeof(*r));
    r->a = archive_read_new();
    if (r->a == NULL)
        ZP_BUG("archive_read_new");
    archive_read_support_format_tar(r->a);
    archive_read_support_filter_none(r->a);
    archive_read_support_filter_gzip(r->a);
    archive_read_support_filter_zstd(r->a);
    return r;
}

int arc_reader_open_file(const char *path, struct arc_reader **ret, struct zp_err *err)
{
    struct arc_reader *r = reader_new();
    if (archive_read_open_filename(r->a, path, (size_t)256 << 10) != ARCHIVE_OK) {
        int e = archive_errno(r->a);
        int rc = zp_err_set(err, e == ENOENT ? ZP_E_NOTFOUND : ZP_E_INPUT, NULL, "archive '%s': %s",
                            path, msg_of(r->a, "cannot open"));
        arc_reader_free(r);
        return rc;
    }
    *ret = r;
    return 0;
}

int arc_reader_open_fd(int fd, struct arc_reader **ret, struct zp_err *err)
{
    struct arc_reader *r = reader_new();
    if (archive_read_open_fd(r->a, fd, (size_t)256 << 10) != ARCHIVE_OK) {
        int rc = zp_err_set(err, ZP_E_INPUT, NULL, "%s", msg_of(r->a, "cannot read the stream"));
        arc_reader_free(r);
        return rc;
    }
    *ret = r;
    return 0;
}

int arc_reader_open_memory(const void *data, size_t len, struct arc_reader **ret,
                           struct zp_err *err)
{
    struct arc_reader *r = reader_new();
    if (archive_read_open_memory(r->a, data, len) != ARCHIVE_OK) {
        int rc = zp_err_set(err, ZP_E_INPUT, NULL, "archive: %s", msg_of(r->a, "cannot open"));
        arc_reader_free(r);
        return rc;
    }
    *ret = r;
    return 0;
}

int arc_reader_next(struct arc_reader *r, const struct arc_entry **ret, struct zp_err *err)
{
    struct archive_entry *ae = NULL;
    memset(&r->cur, 0, sizeof(r->cur));
    int x = archive_read_next_header(r->a, &ae);
    if (x == ARCHIVE_EOF) {
        *ret = NULL;
        return 0;
    }
    if (x < ARCHIVE_WARN)
        return zp_err_set(err, ZP_E_INPUT, NULL, "damaged or truncated: %s",
                          msg_of(r->a, "read error"));
    struct arc_entry *e = &r->cur;
    e->path = archive_entry_pathname(ae);
    if (e->path == NULL)
        return zp_err_set(err, ZP_E_INPUT, NULL, "an entry has no readable name");
    e->mode = (unsigned)(archive_entry_mode(ae) & 07777);
    e->uid = archive_entry_uid(ae);
    e->gid = archive_entry_gid(ae);
    e->mtime = archive_entry_mtime(ae);
    e->mtime_nsec = archive_entry_mtime_nsec(ae);
    e->sparse = archive_entry_sparse_count(ae) > 0;
    if (archive_entry_hardlink(ae) != NULL) {
        e->type = ARC_HARDLINK;
        e->link = archive_entry_hardlink(ae);
        return (*ret = e, 0);
    }
    switch (archive_entry_filetype(ae)) {
    case AE_IFREG:
        e->type = ARC_FILE;
        e->size = archive_entry_size(ae);
        if (e->size < 0)
            return zp_err_set(err, ZP_E_INPUT, NULL, "'%s': negative size", e->path);
        break;
    case AE_IFDIR:
        e->type = ARC_DIR;
        break;
    case AE_IFLNK:
        e->type = ARC_SYMLINK;
        e->link = archive_entry_symlink(ae);
        if (e->link == NULL)
            e->link = "";
        break;
    case AE_IFIFO:
        e->type = ARC_FIFO;
        break;
    default:
        e->type = ARC_OTHER;
        break;
    }
    *ret = e;
    return 0;
}

int arc_reader_data(struct arc_reader *r, void *buf, size_t cap, size_t *ret_len,
                    struct zp_err *err)
{
    la_ssize_t n = archive_read_data(r->a, buf, cap);
    if (n < 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "damaged or truncated: %s",
                          msg_of(r->a, "read error"));
    *ret_len = (size_t)n;
    return 0;
}

void arc_reader_free(struct arc_reader *r)
{
    if (r == NULL)
        return;
    archive_read_free(r->a);
    free(r);
}

/* ---- writer ---- */

struct arc_writer {
    struct archive *a;
    struct archive_entry *ae; /* reused for every header */
    struct zp_buf *out;       /* buffer mode */
    bool too_big;
};

static int write_failed(struct arc_writer *w, struct zp_err *err)
{
    if (w->too_big)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "tar stream: buffer full");
    int e = archive_errno(w->a);
    const char *m = archive_error_string(w->a);
    int rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "%s", m && m[0] ? m : (e ? strerror(e) : "error"));
    if (e > 0)
        err->sys_errno = e;
    return rc;
}

static struct arc_writer *writer_new(void)
{
    struct arc_writer *w = zp_calloc(1, sizeof(*w));
    w->a = archive_write_new();
    w->ae = archive_entry_new();
    if (w->a == NULL || w->ae == NULL)
        ZP_BUG("archive_write_new");
    /* pax headers only where ustar cannot hold a field (long or non-ASCII names, big
     * sizes or ids) */
    if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK)
        ZP_BUG("tar format: %s", archive_error_string(w->a));
    return w;
}

int arc_writer_open_fd(int fd, enum arc_compression comp, struct arc_writer **ret,
                       struct zp_err *err)
{
    struct arc_writer *w = writer_new();
    int x = ARCHIVE_OK;
    if (comp == ARC_GZIP)
        x = archive_write_add_filter_gzip(w->a);
    else if (comp == ARC_ZSTD)
        x = archive_write_add_filter_zstd(w->a);
    if (x != ARCHIVE_OK) {
        int rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "compression: %s",
                            msg_of(w->a, "not supported by libarchive"));
        arc_writer_free(w);
        return rc;
    }
    archive_write_set_bytes_per_block(w->a, 64 * 1024);
    archive_write_set_bytes_in_last_block(w->a, 1);
    if (archive_write_open_fd(w->a, fd) != ARCHIVE_OK) {
        int rc = write_failed(w, err);
        arc_writer_free(w);
        return rc;
    }
    *ret = w;
    return 0;
}

static la_ssize_t buffer_cb(struct archive *a, void *ud, const void *data, size_t len)
{
    struct arc_writer *w = ud;
    if (zp_buf_add(w->out, data, len) != 0) {
        w->too_big = true;
        archive_set_error(a, ENOMEM, "buffer full");
        return -1;
    }
    return (la_ssize_t)len;
}

struct arc_writer *arc_writer_new_buffer(struct zp_buf *out)
{
    struct arc_writer *w = writer_new();
    w->out = out;
    /* no blocking: each record goes straight to the buffer */
    if (archive_write_add_filter_none(w->a) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(w->a, 0) != ARCHIVE_OK ||
        archive_write_open(w->a, w, NULL, buffer_cb, NULL) != ARCHIVE_OK)
        ZP_BUG("setting up the tar writer: %s", archive_error_string(w->a));
    return w;
}

int arc_writer_header(struct arc_writer *w, const struct arc_entry *e, struct zp_err *err)
{
    struct archive_entry *ae = w->ae;
    archive_entry_clear(ae);
    archive_entry_copy_pathname(ae, e->path);
    archive_entry_set_uid(ae, e->uid);
    archive_entry_set_gid(ae, e->gid);
    archive_entry_set_mtime(ae, e->mtime, e->mtime_nsec);
    mode_t type = AE_IFREG;
    switch (e->type) {
    case ARC_FILE:
        archive_entry_set_size(ae, e->size);
        break;
    case ARC_HARDLINK:
        archive_entry_copy_hardlink(ae, e->link);
        archive_entry_set_size(ae, 0);
        break;
    case ARC_DIR:
        type = AE_IFDIR;
        break;
    case ARC_SYMLINK:
        type = AE_IFLNK;
        archive_entry_copy_symlink(ae, e->link);
        break;
    case ARC_FIFO:
        type = AE_IFIFO;
        break;
    case ARC_OTHER:
        return zp_err_set(err, ZP_E_INPUT, NULL, "'%s': devices and sockets are not archived",
                          e->path);
    }
    archive_entry_set_mode(ae, type | (e->mode & 07777));
    if (archive_write_header(w->a, ae) < ARCHIVE_WARN)
        return write_failed(w, err);
    return 0;
}

int arc_writer_data(struct arc_writer *w, const void *data, size_t len, struct zp_err *err)
{
    if (len == 0)
        return 0;
    la_ssize_t n = archive_write_data(w->a, data, len);
    if (n < 0 || (size_t)n != len)
        return write_failed(w, err);
    return 0;
}

int arc_writer_close(struct arc_writer *w, struct zp_err *err)
{
    if (archive_write_close(w->a) != ARCHIVE_OK)
        return write_failed(w, err);
    return 0;
}

void arc_writer_free(struct arc_writer *w)
{
    if (w == NULL)
        return;
    archive_write_free(w->a);
    archive_entry_free(w->ae);
    free(w);
}

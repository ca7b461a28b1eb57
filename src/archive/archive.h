/* archive: zpanel's one tar layer. It alone includes libarchive; its types never cross
 * this interface. A reader of tar archives (plain, gzip or zstd: the content decides) and a
 * streaming writer (POSIX pax, extended headers only when needed; plain, gzip or zstd) to a
 * file descriptor or into a bounded buffer. Entries are plain structs: a path, a type,
 * permission bits, numeric owner, size and link target. Extended attributes, ACLs and user
 * or group names are neither read nor written. */
#ifndef ZP_ARCHIVE_H
#define ZP_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

enum arc_type {
    ARC_FILE,
    ARC_DIR,
    ARC_SYMLINK,
    ARC_HARDLINK, /* a link to an earlier entry: link holds its path */
    ARC_FIFO,
    ARC_OTHER, /* devices, sockets: callers refuse or skip them */
};

struct arc_entry {
    const char *path;
    enum arc_type type;
    unsigned mode; /* permission bits with setuid, setgid and sticky (07777) */
    int64_t uid, gid;
    int64_t size;     /* bytes of content (regular files; 0 otherwise) */
    const char *link; /* symbolic link target or hard link target path; NULL otherwise */
    int64_t mtime;    /* seconds since the epoch */
    long mtime_nsec;
    bool sparse; /* read only: the archive stores the entry sparse (holes) */
};

enum arc_compression {
    ARC_PLAIN,
    ARC_GZIP,
    ARC_ZSTD,
};

/* ---- reader ---- */

struct arc_reader; /* opaque */

/* Open the archive at path. Errors: ZP_E_NOTFOUND, ZP_E_INPUT ("archive 'F': ..."). */
int arc_reader_open_file(const char *path, struct arc_reader **ret, struct zp_err *err);
/* Read an archive from fd (a pipe is fine); fd stays the caller's. Errors: ZP_E_INPUT. */
int arc_reader_open_fd(int fd, struct arc_reader **ret, struct zp_err *err);
/* Read an archive held in memory (borrowed until arc_reader_free). Errors: ZP_E_INPUT. */
int arc_reader_open_memory(const void *data, size_t len, struct arc_reader **ret,
                           struct zp_err *err);
/* The next entry: *ret is borrowed until the next call, NULL at the end of the archive.
 * Content left unread of the previous entry is skipped. Errors: ZP_E_INPUT (damaged or
 * truncated, "an entry has no readable name"). */
int arc_reader_next(struct arc_reader *r, const struct arc_entry **ret, struct zp_err *err);
/* Up to cap bytes of the current entry's content into buf: *ret_len is 0 at its end.
 * Errors: ZP_E_INPUT (damaged or truncated). */
int arc_reader_data(struct arc_reader *r, void *buf, size_t cap, size_t *ret_len,
                    struct zp_err *err);
/* NULL is accepted. */
void arc_reader_free(struct arc_reader *r);

/* ---- writer ---- */

struct arc_writer; /* opaque */

/* Write an archive to fd (which stays the caller's) in blocks of 64 KiB, the last one
 * short. Errors: ZP_E_SYSTEM. */
int arc_writer_open_fd(int fd, enum arc_compression comp, struct arc_writer **ret,
                       struct zp_err *err);
/* Write a plain tar into out (borrowed): each record is appended as soon as it is made,
 * so a caller streams by taking what out holds between calls. out's maximum bounds it:
 * passing it fails with ZP_E_TOOBIG. */
struct arc_writer *arc_writer_new_buffer(struct zp_buf *out);
/* Start entry e (a regular file's e->size bytes of content follow through arc_writer_data;
 * a hard link has none). Errors: ZP_E_SYSTEM, ZP_E_TOOBIG, ZP_E_INPUT (a path or link the
 * tar format cannot hold). */
int arc_writer_header(struct arc_writer *w, const struct arc_entry *e, struct zp_err *err);
/* Content of the current entry, in order; more than announced is an error, less is padded
 * with zeros by the next header or close. Errors: as arc_writer_header. */
int arc_writer_data(struct arc_writer *w, const void *data, size_t len, struct zp_err *err);
/* Finish the archive (end blocks, compression trailer). Errors: as arc_writer_header. */
int arc_writer_close(struct arc_writer *w, struct zp_err *err);
/* NULL is accepted; does not close the fd. */
void arc_writer_free(struct arc_writer *w);

#endif

/* backup-int: helpers shared by the files of src/backup/ (not part of the interface). */
#ifndef ZP_BACKUP_INT_H
#define ZP_BACKUP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../archive/archive.h"
#include "backup.h"

/* Size of the buffers content is copied through. */
#define BACKUP__CHUNK ((size_t)256 << 10)

/* "volumes", "binds", "files" */
const char *backup__kind_dir(enum backup_kind kind);

/* Split an archive path into its section and the path inside it: "volumes/data/a/b" gives
 * BACKUP_VOLUME, key "data" and rel "a/b"; "volumes/data/" and "volumes/data" give rel "".
 * Bind keys hold '/', so their directory in the archive is the key with '%' and '/'
 * percent-encoded ("binds/data%2Fpg/..."); a file's key is the whole rest ("files/a/b.env",
 * rel ""). *ret_key is decoded and belongs to the caller; *ret_rel points into path.
 * Errors: ZP_E_INPUT (unknown top-level entry, bad encoding, bad key). */
int backup__split(const char *path, enum backup_kind *ret_kind, char **ret_key,
                  const char **ret_rel, struct zp_err *err);
/* The archive directory of a section: "volumes/data", "binds/data%2Fpg", "files/a.env". */
char *backup__section_dir(enum backup_kind kind, const char *key);

/* ---- the entry rules, applied alike by verify, restore and backup ---- */

/* Archive-wide state (entry count, content size, which paths are regular files) and the
 * current section's (its kind, the chain of the last entry's ancestors). Memory: a fixed
 * 16 MiB filter (allocated lazily by the system) plus the depth of one path. */
struct backup__check {
    uint64_t entries, total;
    uint64_t max_entries;  /* BACKUP_MAX_ENTRIES (lower in tests) */
    unsigned char *filter; /* Bloom filter of the regular files' (section, path) */
    unsigned char salt[16];
    unsigned section;
    enum backup_kind kind;
    bool started;         /* the section's root was seen */
    struct zp_buf chain;  /* the last entry's path */
    size_t *ends;         /* ends[i]: length of the i-th ancestor's path in chain */
    unsigned char *types; /* their types */
    size_t depth, cap;
};

void backup__check_init(struct backup__check *c);
void backup__check_release(struct backup__check *c);
/* A new section starts (the caller refuses sections that come back). */
void backup__check_section(struct backup__check *c, enum backup_kind kind);
/* Entry e at rel (inside the section, no trailing '/'; hard link target already made
 * relative in link_rel) follows the rules, and is counted. *ret_type gets its digest type.
 * Errors: ZP_E_INPUT naming the entry, ZP_E_TOOBIG (entries, sizes). */
int backup__check_entry(struct backup__check *c, const char *rel, const struct arc_entry *e,
                        const char *link_rel, enum backup_type *ret_type, struct zp_err *err);
/* Count n bytes of content. Errors: ZP_E_TOOBIG. */
int backup__check_bytes(struct backup__check *c, uint64_t n, struct zp_err *err);

/* ---- reading a tree on this host in canonical order ---- */

struct backup__walk;
struct backup__walk_entry {
    const char *rel; /* "" for the root */
    struct stat st;
    const char *link;     /* symbolic link target */
    const char *hardlink; /* an earlier path of the same file (regular files) */
    int fd;               /* regular files not hard links: open for reading, the walk's */
    bool skipped;         /* a socket or device: not archived */
};
/* Walk the directory at path (not followed if it is a link: ZP_E_INPUT). Errors:
 * ZP_E_SYSTEM, ZP_E_NOTFOUND. */
int backup__walk_open(const char *path, struct backup__walk **ret, struct zp_err *err);
/* The next entry (borrowed until the next call), NULL at the end. Errors: ZP_E_SYSTEM. */
int backup__walk_next(struct backup__walk *w, const struct backup__walk_entry **ret,
                      struct zp_err *err);
void backup__walk_free(struct backup__walk *w);

/* ---- writing a tree below a directory, never through a link ---- */

struct backup__extract;
/* Extract into the directory rootfd (borrowed; it stands for the section root). With
 * strip_suid, setuid and setgid bits are dropped. */
struct backup__extract *backup__extract_new(int rootfd, bool strip_suid);
/* Create entry e at rel (checked by backup__check_entry; link_rel for hard links). A
 * regular file's content follows through backup__extract_data. Errors: ZP_E_SYSTEM,
 * ZP_E_INPUT (a hard link whose target is not a regular file). */
int backup__extract_entry(struct backup__extract *x, const char *rel, const struct arc_entry *e,
                          const char *link_rel, struct zp_err *err);
int backup__extract_data(struct backup__extract *x, const void *data, size_t len,
                         struct zp_err *err);
/* Set the owner, mode and times of the directories still open, the root last. */
int backup__extract_finish(struct backup__extract *x, struct zp_err *err);
/* How many setuid/setgid bits were dropped. */
uint64_t backup__extract_stripped(const struct backup__extract *x);
void backup__extract_free(struct backup__extract *x);
/* Remove the tree name in dirfd (not following links). */
int backup__remove_tree(int dirfd, const char *name);

/* ---- misc ---- */

/* Current time as RFC 3339 UTC into a new string. */
char *backup__now_rfc3339(void);

/* Read the rest of manifest.json's data from a reader into a new string. */
int backup__read_manifest(struct arc_reader *r, const struct arc_entry *e, char **ret,
                          size_t *ret_len, struct zp_err *err);

/* Pick the first image of images present on the engine; *ret borrowed from images. */
int backup__pick_image(struct engine *e, const char *const *images, size_t n, const char **ret,
                       struct zp_err *err);

/* Create the never-started helper container from image with each volume names[i] mounted
 * at BACKUP_HELPER_DIR "/v<i>"; *ret_id gets its ID. */
int backup__helper_create(struct engine *e, const char *project, const char *image,
                          const char *const *names, size_t n, char **ret_id, struct zp_err *err);
/* Remove the helper (force); errors are ignored when keep_err already holds one. */
void backup__helper_remove(struct engine *e, const char *id, struct zp_err *err);

/* The mountpoint of volume name when it can be read and written directly: the engine is
 * reached through a unix socket, the volume exists with the local driver, has no driver
 * options (n_options of the model: those mount at container start) and its mountpoint is a
 * directory this process can open. *ret is NULL otherwise (the archive API is used). */
int backup__local_mountpoint(struct engine *e, const char *name, size_t n_options, char **ret,
                             struct zp_err *err);

#endif

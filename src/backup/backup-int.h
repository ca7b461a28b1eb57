/* backup-int: helpers shared by the files of src/backup/ (not part of the interface). */
#ifndef ZP_BACKUP_INT_H
#define ZP_BACKUP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backup.h"

struct archive;
struct archive_entry;

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

/* The type of an entry for digests, or -1 (devices, sockets: refused). */
int backup__entry_type(struct archive_entry *ae);

/* The rules for one entry (name) of section kind at rel (trailing '/' removed): a valid
 * path, not a device or socket, a section root that is a directory (a regular file for
 * files), a file section holding one regular file, symbolic links inside their root.
 * Verify and restore both apply them. Errors: ZP_E_INPUT. */
int backup__check_entry(enum backup_kind kind, const char *rel, size_t len,
                        struct archive_entry *ae, const char *name, struct zp_err *err);

/* Configure a reader for our archives: tar formats, no compression, gzip or zstd. */
void backup__reader_setup(struct archive *a);

/* Current time as RFC 3339 UTC into a new string. */
char *backup__now_rfc3339(void);

/* Read the rest of manifest.json's data from a reader into a new string. */
int backup__read_manifest(struct archive *a, struct archive_entry *ae, char **ret, size_t *ret_len,
                          struct zp_err *err);

/* Pick the first image of images present on the engine; *ret borrowed from images. */
int backup__pick_image(struct engine *e, const char *const *images, size_t n, const char **ret,
                       struct zp_err *err);

/* Create the never-started helper container from image with each volume names[i] mounted
 * at BACKUP_HELPER_DIR "/v<i>"; *ret_id gets its ID. */
int backup__helper_create(struct engine *e, const char *project, const char *image,
                          const char *const *names, size_t n, char **ret_id, struct zp_err *err);
/* Remove the helper (force); errors are ignored when keep_err already holds one. */
void backup__helper_remove(struct engine *e, const char *id, struct zp_err *err);

#endif

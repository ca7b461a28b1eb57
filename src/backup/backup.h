/* backup: one archive (tar, gzip or zstd) of a project's named volumes, bind-mounted data
 * directories and files, with a manifest of checksums; verifying it; restoring it.
 * Library code: it calls engine/ and util/ only, reports progress through a callback and
 * never prints. The CLI walks the Compose model and passes plain lists. */
#ifndef ZP_BACKUP_H
#define ZP_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/engine.h"
#include "../s3/s3.h"
#include "../util/util.h"

/* ---- archive layout and caps ----
 *
 *   volumes/<key>/...   a named volume's content; "volumes/<key>/" is the volume root
 *   binds/<key>/...     a bind-mounted directory; key is its path relative to the project
 *                       directory ("data/pg")
 *   files/<key>         a compose or env file; key is its path relative to the project
 *   dumps/<key>         a database service's logical dump (one regular file); key is the
 *                       service name
 *   manifest.json       last entry: what the archive holds and every checksum
 *
 * Each section is one run of entries, its root first, then its entries in canonical order
 * (backup_path_cmp: strictly increasing, so no path appears twice); an entry's parent is an
 * earlier directory entry of the section (never a link or a file). Every path is relative,
 * without "." or ".." components, NUL or empty components. Symbolic link targets are
 * relative, climb with leading ".." only and no higher than the section root
 * (backup_check_symlink); hard links point to an earlier regular file of the same section.
 * No sparse entries, devices or sockets. Anything else is refused. */

#define BACKUP_FORMAT 2
#define BACKUP_MANIFEST_NAME "manifest.json"
#define BACKUP_MAX_MANIFEST ((size_t)16 << 20) /* bytes of manifest.json */
#define BACKUP_MAX_ENTRIES ((uint64_t)2000000) /* entries in one archive, all sections */
#define BACKUP_MAX_PATH 4096                   /* bytes of one entry's path */
#define BACKUP_MAX_SECTIONS 4096               /* volumes + binds + files */
#define BACKUP_MAX_SIZE ((uint64_t)1 << 42)    /* bytes of content in one archive (4 TiB) */

/* Where a volume's content is mounted in the helper container (never started). */
#define BACKUP_HELPER_DIR "/zp-backup"
#define BACKUP_HELPER_LABEL "io.zpanel.helper"

/* ---- manifest ---- */

enum backup_kind {
    BACKUP_VOLUME,
    BACKUP_BIND,
    BACKUP_FILE,
    BACKUP_DUMP,
};

/* One volume, bind directory or file in the archive. */
struct backup_section {
    enum backup_kind kind;
    char *key;      /* volume key in the model ("data"), or path relative to the project */
    char *name;     /* the engine's volume name ("app_data"); for dumps the database type
                     * ("postgres"); NULL for binds and files */
    uint64_t size;  /* bytes of regular-file content */
    uint64_t files; /* entries (files, directories, links; the root counts) */
    char sha256[65];
};

struct backup_manifest {
    int format;                      /* BACKUP_FORMAT */
    char *zpanel_version;            /* of the zpanel that wrote it */
    char *project;                   /* the project name at backup time */
    char *created;                   /* RFC 3339 UTC */
    struct backup_section *sections; /* volumes, then binds, then files, then dumps */
    size_t n;
};

void backup_manifest_release(struct backup_manifest *m);
/* The section of kind with key (borrowed), or NULL. */
const struct backup_section *backup_manifest_find(const struct backup_manifest *m,
                                                  enum backup_kind kind, const char *key);
/* Append m as pretty JSON (keys in a fixed order) to out. Errors: ZP_E_TOOBIG. */
int backup_manifest_to_json(const struct backup_manifest *m, struct zp_buf *out,
                            struct zp_err *err);
/* Parse and check a manifest: known format, valid keys (backup_check_key), unique sections,
 * 64-hex checksums, sizes within the caps. *ret belongs to the caller.
 * Errors: ZP_E_INPUT ("manifest.json: ..."), ZP_E_TOOBIG. */
int backup_manifest_parse(const char *json, size_t len, struct backup_manifest *ret,
                          struct zp_err *err);

/* ---- path rules ---- */

/* Is rel (an entry's path inside its section, "" for the section root) acceptable: relative,
 * no "." or ".." or empty components, no NUL, no trailing slash, at most BACKUP_MAX_PATH
 * bytes? Errors: ZP_E_INPUT naming the path and the rule. */
int backup_check_path(const char *rel, size_t len, struct zp_err *err);
/* A section key: a valid path that is not empty; volume keys have no '/'. */
int backup_check_key(enum backup_kind kind, const char *key, struct zp_err *err);
/* Is a symbolic link at rel with target acceptable: relative, not empty, ".." components
 * only before any name, and no more of them than rel's depth (so that no chain of links
 * leaves the section root, see digest.c)? Errors: ZP_E_INPUT naming the link. */
int backup_check_symlink(const char *rel, const char *target, struct zp_err *err);
/* The canonical order of paths inside a section: component by component, each compared
 * bytewise ("a" < "a/b" < "a-c"); a directory's entries follow it, depth first. */
int backup_path_cmp(const char *a, const char *b);

/* ---- checksums ----
 *
 * A tree's checksum is the SHA-256 of the entries' hashes in archive order (which the rules
 * make canonical); each entry is hashed from its path, type, permission bits with
 * setuid/setgid/sticky, uid, gid, link target (symbolic or hard), and for a regular file its
 * size and content's SHA-256. Times and extended attributes are not covered (extended
 * attributes are never archived nor restored). Memory does not depend on the entry count. */

enum backup_type {
    BACKUP_T_FILE,
    BACKUP_T_DIR,
    BACKUP_T_SYMLINK,
    BACKUP_T_HARDLINK,
    BACKUP_T_FIFO,
};

struct backup_digest; /* opaque */

struct backup_digest *backup_digest_new(void);
void backup_digest_free(struct backup_digest *d);
/* Start an entry. link is the symlink target, or for a hard link its target's path inside
 * the section. The order rules are the caller's (verify checks them). */
void backup_digest_begin(struct backup_digest *d, const char *rel, enum backup_type type,
                         unsigned mode, int64_t uid, int64_t gid, const char *link);
/* Content of the current (regular file) entry, in order. */
void backup_digest_data(struct backup_digest *d, const void *data, size_t len);
/* End the current entry. */
void backup_digest_end(struct backup_digest *d);
/* The tree's checksum, size and entry count; d can only be freed afterwards. */
void backup_digest_finish(struct backup_digest *d, char ret_hex[65], uint64_t *ret_size,
                          uint64_t *ret_files);

/* ---- verify ---- */

/* Read the whole archive at path (tar, gzip or zstd; the content decides, not the name):
 * every entry follows the rules above (so that restore cannot fail on it), sections match
 * the manifest (last entry) in checksum, size and entry count, nothing is unknown,
 * duplicated or missing, the archive is complete. Memory is bounded whatever the archive
 * holds. Fills *ret_manifest (may be NULL) on success.
 * Errors: ZP_E_INPUT ("archive 'F': ..."), ZP_E_NOTFOUND, ZP_E_SYSTEM, ZP_E_TOOBIG. */
int backup_verify(const char *path, struct backup_manifest *ret_manifest, struct zp_err *err);
/* The same for an archive held in memory (the fuzz target). */
int backup_verify_memory(const void *data, size_t len, struct backup_manifest *ret_manifest,
                         struct zp_err *err);

/* ---- backup ---- */

/* A named volume to back up or restore. */
struct backup_volume {
    const char *key;  /* the model's key ("data") */
    const char *name; /* the engine's name ("app_data") */
    /* restore only: how to create it when it does not exist; the labels are also added to
     * an existing volume when it is created again (everything borrowed) */
    const char *driver;             /* NULL: "local" */
    const struct engine_kv *labels; /* n_labels items */
    size_t n_labels;
    const struct engine_kv *options; /* driver_opts */
    size_t n_options;
};

/* ---- database dumps (dump.c) ----
 *
 * A database service is dumped with its own tools through exec in its running container
 * (a logical, consistent copy, never the files of a live server) and loaded back the same
 * way:
 *   postgres  pg_dump -Fc -U USER -d DB         restore: pg_restore --clean --if-exists
 *                                                --single-transaction --exit-on-error
 *   mariadb   mariadb-dump --single-transaction  restore: mariadb (the dump's statements)
 *   mysql     mysqldump --single-transaction     restore: mysql
 *   redis     redis-cli --rdb - (a fork-time     restore: the server is stopped, the RDB
 *             snapshot, as BGSAVE takes it)      put in its dir, the server started
 *   mongodb   mongodump --archive [--db DB]      restore: mongorestore --archive --drop
 *             (readiness: mongosh ping)
 * Passwords go in the exec's environment (PGPASSWORD, MYSQL_PWD, REDISCLI_AUTH), never on
 * a command the engine records; the MongoDB tools take one only as a flag, so `sh -c`
 * passes it from ZPANEL_MONGO_PASSWORD (the image must have a shell, as the official ones
 * do). */

enum backup_db {
    BACKUP_DB_POSTGRES,
    BACKUP_DB_MARIADB,
    BACKUP_DB_MYSQL,
    BACKUP_DB_REDIS,
    BACKUP_DB_MONGODB,
};

/* "postgres", "mariadb", "mysql", "redis", "mongodb" */
const char *backup_db_name(enum backup_db db);
/* The type named s. Errors: ZP_E_INPUT naming the types. */
int backup_db_parse(const char *s, enum backup_db *ret, struct zp_err *err);

struct backup_dump {
    const char *key;       /* the service ("db") */
    enum backup_db type;   /* */
    const char *container; /* ID of its running container (backup_create fills it from
                            * nothing: the caller, release/, looks it up) */
    const char *database;  /* postgres: the database (required); mariadb/mysql/mongodb: one
                            * database, or NULL for all; redis: unused */
    const char *user;      /* postgres, mariadb, mysql (required); mongodb: NULL for a
                            * server without auth, else authenticated against admin */
    const char *password;  /* NULL: none */
};

/* The command (NULL-terminated, borrowed strings of d or literals) and environment
 * ("KEY=value" in *ret_env, new strings; NULL-terminated) of a phase of d: 0 dump,
 * 1 load (reads the dump on stdin; redis: none), 2 readiness probe. Pure (unit tests). */
void backup_dump_command(const struct backup_dump *d, int phase, const char *argv[16],
                         char ***ret_env);
void backup_dump_env_free(char **env);

/* Run the dump of d into fd (a temporary file of the caller). Errors: ZP_E_ENGINE naming
 * the service, the tool, its exit code and the last lines of its error output (a wrong
 * password says so); those of engine.h. */
int backup_dump_run(struct engine *e, const struct backup_dump *d, int fd, struct zp_err *err);

/* Load the dump section of the archive at path (checked by backup_verify) for d->key
 * into d->container: wait up to timeout_s for the server to answer (phase 2), then load
 * (postgres, mariadb, mysql) or swap the RDB file in (redis: the container is stopped,
 * the file put, the container started). Errors: ZP_E_NOTFOUND (no such dump), ZP_E_ENGINE
 * (the tool failed: its output says why), those of engine.h. */
int backup_dump_load(struct engine *e, const char *path, const struct backup_dump *d, int timeout_s,
                     struct zp_err *err);

/* A bind-mounted directory or a file of the project. */
struct backup_path {
    const char *key;  /* path relative to the project directory */
    const char *path; /* absolute path on this host */
};

struct backup_spec {
    const char *project;       /* the project name (labels of the helper container) */
    const char *const *images; /* candidates for the helper, in order; the first present
                                * locally is used (nothing is pulled) */
    size_t nimages;
    const struct backup_volume *volumes;
    size_t nvolumes;
    const struct backup_path *binds; /* directories */
    size_t nbinds;
    const struct backup_path *files;
    size_t nfiles;
    bool engine_api; /* read volumes through the engine's archive API even when local */
    const struct backup_dump *dumps; /* database dumps, taken first (before the volumes) */
    size_t ndumps;
};

/* Progress: what (a volume, bind or file key) and a short text ("reading", "done 12 MiB"). */
typedef void (*backup_progress_fn)(void *ud, enum backup_kind kind, const char *key,
                                   const char *text);

enum backup_compression {
    BACKUP_TAR,
    BACKUP_GZIP,
    BACKUP_ZSTD,
};

/* The compression for an output name: ".tar", ".tar.gz"/".tgz", ".tar.zst"/".tzst".
 * Errors: ZP_E_USAGE naming the extensions. */
int backup_compression_for(const char *path, enum backup_compression *ret, struct zp_err *err);

/* Write the archive of spec to output: a temporary file in the same directory, fsync'd and
 * renamed over output at the end, removed on any failure (no partial archive is left).
 * A volume of the local driver without driver options, on an engine reached through a unix
 * socket, is read from its mountpoint directly when this process can open it (unless
 * spec->engine_api); any other volume is read through the engine's archive API from a
 * helper container created (never started) from the first local image of spec->images,
 * labelled io.zpanel.project=<project> and io.zpanel.helper=backup, removed afterwards also
 * on failure. Both ways give the same entries and checksums. A volume that does not exist
 * is an error (ZP_E_NOTFOUND). Sockets and devices are skipped with a progress note. Links
 * restore would refuse (absolute or escaping symbolic links) make the backup fail
 * (ZP_E_INPUT). *ret_manifest (may be NULL) gets what was written.
 * Errors: those of engine.h, ZP_E_SYSTEM (files), ZP_E_INPUT, ZP_E_TOOBIG. */
int backup_create(struct engine *e, const struct backup_spec *spec, const char *output,
                  backup_progress_fn progress, void *ud, struct backup_manifest *ret_manifest,
                  struct zp_err *err);

/* The same archive written to fd (a pipe is fine; fd stays the caller's and is neither
 * synced nor closed) with compression comp; name says what is written in errors. Nothing
 * is removed on failure: the reader of fd decides what a partial stream means.
 * Errors: as backup_create. */
int backup_create_fd(struct engine *e, const struct backup_spec *spec, int fd,
                     enum backup_compression comp, const char *name, backup_progress_fn progress,
                     void *ud, struct backup_manifest *ret_manifest, struct zp_err *err);

/* ---- S3-compatible storage ---- */

/* Write the archive of spec as the object bucket/key of c (compression from the key's
 * name, as backup_compression_for): produced by a thread into a pipe and uploaded as it
 * comes (s3_upload_*), memory bounded whatever its size; verified after upload (size,
 * ETag, SHA-256 recorded in KEY.sha256). On any failure, the archive's or the upload's, the
 * multipart upload is aborted and nothing is left under key. *ret_manifest and *ret_info
 * (either may be NULL) get what was written. Errors: those of backup_create and s3.h. */
int backup_create_s3(struct engine *e, const struct backup_spec *spec, struct s3_client *c,
                     const char *bucket, const char *key, backup_progress_fn progress, void *ud,
                     struct backup_manifest *ret_manifest, struct s3_object_info *ret_info,
                     struct zp_err *err);

/* Read the object bucket/key of c into fd (a file the caller made; not closed), checking
 * its SHA-256 and size against what the upload recorded (s3_fetch_verified). On failure fd
 * holds a partial copy the caller removes. Errors: those of s3_fetch_verified. */
int backup_fetch_s3(struct s3_client *c, const char *bucket, const char *key, int fd,
                    struct s3_object_info *ret_info, struct zp_err *err);

struct backup_retention; /* schedule.h */

/* What backup_s3_prune looked at and removed. */
struct backup_prune_result {
    size_t considered; /* zpanel's archives of project under the prefix */
    size_t removed;
};

/* Retention on S3: among the objects directly under prefix ("" or a key prefix; a '/' is
 * added when it lacks one), consider only zpanel's archives of project: a key named
 * "<project>-YYYYmmdd-HHMMSS.tar.zst" whose checksum object KEY.sha256 exists and carries
 * zpanel's metadata (x-amz-meta-zpanel-sha256 and -size). Remove (archive, then its
 * checksum object) those r does not keep (backup_retention_select, by the archives' names'
 * times and listed sizes); anything else under the prefix is never touched. Call it only
 * after a successful, verified upload. note (may be NULL) hears each removal. *ret (may be
 * NULL) gets the counts. Errors: those of s3_list, s3_head and s3_delete, prefixed
 * "retention"; removals done before a failure stay done. */
int backup_s3_prune(struct s3_client *c, const char *bucket, const char *prefix,
                    const char *project, const struct backup_retention *r,
                    void (*note)(void *ud, const char *text), void *ud,
                    struct backup_prune_result *ret, struct zp_err *err);

/* ---- restore ---- */

struct backup_restore_spec {
    const char *project;       /* labels of the helper container */
    const char *project_dir;   /* binds and files are restored below it */
    const char *const *images; /* helper candidates, as in backup_spec */
    size_t nimages;
    /* the volumes to restore: key matches a volume section of the archive; name is the
     * engine volume whose content is replaced */
    const struct backup_volume *volumes;
    size_t nvolumes;
    /* the bind directories and files the project declares (key relative to project_dir;
     * path unused): their sections are restored; any other bind or file section of the
     * archive makes the restore fail before anything changes (ZP_E_INPUT) */
    const struct backup_path *binds;
    size_t nbinds;
    const struct backup_path *files;
    size_t nfiles;
    bool engine_api;   /* write volumes through the engine's archive API even when local */
    bool volumes_only; /* skip every bind and file section */
    /* what backup_verify returned for path (borrowed); NULL: backup_restore verifies it */
    const struct backup_manifest *manifest;
};

/* Restore the archive at path, which the caller has checked with backup_verify (entries
 * are checked again on the way). Two phases: first every section is staged, nothing the
 * project uses is touched: each bind directory is extracted into a new directory beside
 * its target, each file into a temporary file beside it, each volume into a staging
 * directory inside its mountpoint (local volumes, as for backup_create) or into a new
 * temporary volume through a helper container (any other). Each section is staged only
 * when the free space of its file system holds it (statvfs; not checked for a remote
 * engine). Then the staged content is swapped in: directories by an atomic exchange, files
 * by rename, local volumes entry by entry (the old content moved aside, then removed), other
 * volumes removed, created again (same driver and labels) and filled a second time; their
 * temporary volume is kept and named in the error if that fails. A failure while staging
 * removes what was staged and changes nothing. Entries are written with openat(2) below
 * their section root without following links; setuid and setgid bits are dropped in bind
 * and file sections (kept in volumes); extended attributes are never written. Ownership,
 * modes and times are kept. Errors: those of engine.h (ZP_E_CONFLICT: a volume is in use),
 * ZP_E_INPUT, ZP_E_SYSTEM, ZP_E_TOOBIG (not enough free space). */
int backup_restore(struct engine *e, const char *path, const struct backup_restore_spec *spec,
                   backup_progress_fn progress, void *ud, struct zp_err *err);

#endif

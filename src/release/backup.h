/* release/backup: the backup and restore workflows the CLI (`zpanel backup`, `restore`) and
 * the server (backup and restore jobs) share. Backup: plan what the project holds
 * (backup/plan), drop volumes never created, optionally stop the services using the data,
 * write the archive, start them again; restore (restore.c): the reverse. Sits above
 * orchestrator/ and backup/; library code: it reports through callbacks and never prints. */
#ifndef ZP_RELEASE_BACKUP_H
#define ZP_RELEASE_BACKUP_H

#include <stdbool.h>
#include <stddef.h>

#include "../backup/backup.h"
#include "../compose/compose.h"
#include "../orchestrator/orchestrator.h"
#include "../util/util.h"

struct release_backup_opts {
    const char *output;          /* the archive to write (its extension picks the
                                  * compression: backup_compression_for) */
    const char *const *services; /* limit to the data these services use; none: all */
    size_t nservices;
    const char *const *env_files; /* the --env-file files (none: the project's .env) */
    size_t nenv_files;
    bool stop;                                /* stop the running services that use the data first
                                               * and start them again afterwards, whatever happened */
    bool engine_api;                          /* read volumes through the engine's archive API */
    void (*note)(void *ud, const char *text); /* what was skipped and why; may be NULL */
    backup_progress_fn progress;              /* per section; may be NULL */
    void *ud;
    /* an S3 destination instead of output (backup_create_s3): the archive streams to
     * bucket/key of s3 (borrowed), verified after the upload; info gets the object */
    struct s3_client *s3;
    const char *s3_bucket, *s3_key;
    struct s3_object_info *s3_info;
};

/* Back up the project p through session o (borrowed) as opts says. *ret_manifest (may be
 * NULL) gets what was written. Errors: those of backup_plan_build, orch_ps, orch_act and
 * backup_create; when starting the stopped services again fails after a successful
 * archive, that error. */
int release_backup(struct orch *o, const struct compose_project *p,
                   const struct release_backup_opts *opts, struct backup_manifest *ret_manifest,
                   struct zp_err *err);

/* Load the database dumps of the archive at path (checked: m is what backup_verify gave)
 * into the running database services of p (x-zpanel.database, same type), each through
 * backup_dump_load, waiting up to timeout_s for each server. note (may be NULL) hears
 * which service is loaded. Errors: ZP_E_INPUT (a dump for a service that is not a database
 * of the same type in p), ZP_E_CONFLICT (the service is not running), those of
 * backup_dump_load. */
int release_restore_dumps(struct orch *o, const struct compose_project *p, const char *path,
                          const struct backup_manifest *m, int timeout_s,
                          void (*note)(void *ud, const char *text), void *ud, struct zp_err *err);

struct release_restore_opts {
    const char *path;  /* the archive, a local file */
    const char *shown; /* how errors name it (an s3:// URL it was fetched from); NULL: path */
    const char *const *volumes; /* restore only these volumes (key or name; each must be in
                                 * the archive), and nothing else; none: everything */
    size_t nvolumes;
    bool volumes_only;            /* only the volumes, even when the archive holds more */
    const char *const *env_files; /* the --env-file files (none: the project's .env) */
    size_t nenv_files;
    bool engine_api;    /* write volumes through the engine's archive API */
    int dump_timeout_s; /* for each database server to accept its dump; 0: 60 s */
    /* asked once, with what will be replaced, before anything changes; false cancels
     * (ZP_E_CANCELLED). NULL: no question */
    bool (*confirm)(void *ud, const char *what);
    void (*note)(void *ud, const char *text); /* dumps loaded, a failed restart; may be NULL */
    backup_progress_fn progress;              /* per section; may be NULL */
    void *ud;
};

/* Restore the archive opts->path into project p through session o (borrowed): the whole
 * archive is checked first (backup_verify; its volumes must be p's, its bind directories
 * and files p's own), then the services using what is restored are stopped and removed,
 * the data replaced, the services brought back as they were (running ones started,
 * stopped ones created, whatever happened), and the database dumps loaded. On success
 * *ret_manifest (may be NULL) gets the archive's manifest and *ret_what (may be NULL) a
 * new string naming what was replaced. Errors: ZP_E_USAGE (a --volume the archive lacks),
 * ZP_E_INPUT (an archive that does not fit p, or holds nothing to restore),
 * ZP_E_CANCELLED (confirm said no), those of backup_verify, orch_act, backup_restore,
 * orch_up and release_restore_dumps; nothing is changed before confirm. */
int release_restore(struct orch *o, const struct compose_project *p,
                    const struct release_restore_opts *opts, struct backup_manifest *ret_manifest,
                    char **ret_what, struct zp_err *err);

/* "<project>-YYYYmmdd-HHMMSS.tar.zst" (UTC now): the default archive name. Returns a new
 * string. */
char *release_backup_default_name(const char *project);

#endif

/* backup/plan: what of a project `backup` and `restore` act on, read from the model:
 * named volumes, bind-mounted data directories inside the project directory, compose and
 * env files, the services using each, and the images a helper container may use. */
#ifndef ZP_BACKUP_PLAN_H
#define ZP_BACKUP_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "backup.h"
#include "../compose/compose.h"

struct backup_plan_users {
    char **services;
    size_t n;
};

/* Everything owned by the plan; the backup_* arrays point into it. */
struct backup_plan {
    struct backup_volume *volumes; /* non-external volumes, in model order */
    struct backup_plan_users *volume_users;
    size_t nvolumes;
    struct backup_path *binds;
    struct backup_plan_users *bind_users;
    size_t nbinds;
    struct backup_path *files;
    size_t nfiles;
    char **images; /* helper candidates, in service order */
    size_t nimages;
    /* database services to dump (x-zpanel.database), in service order; container NULL
     * (release/ looks up the running one) */
    struct backup_dump *dumps;
    size_t ndumps;
    char **notes; /* things skipped, for the user */
    size_t nnotes;
    char *project_dir; /* real path */
    bool for_restore;
    /* private: strings and label arrays to free */
    char **owned;
    size_t nowned;
    struct engine_kv **kvs;
    size_t nkvs;
};

/* Build the plan of project p, with the database services marked x-zpanel.database as
 * dumps; unless for_restore, a volume used only by dumped services is left out (a dump
 * is the consistent copy; a note says so), and a service whose image looks like a
 * database but is not marked gets a note (its volume is copied as files). Credentials
 * come from the service's environment (POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB,
 * MARIADB_ or MYSQL_ ROOT_PASSWORD, USER, PASSWORD, DATABASE; REDIS_PASSWORD) or the
 * variable named by password_env.
 * Build the plan of project p, limited to the volumes and binds used by services (all when
 * nservices is 0); env_files are the --env-file flags. for_restore also lists the bind
 * directories and files the model declares that do not exist yet (a fresh checkout), keyed
 * by their path relative to the project directory. Errors: ZP_E_SYSTEM (the project
 * directory cannot be resolved). */
int backup_plan_build(const struct compose_project *p, const char *const *services,
                      size_t nservices, const char *const *env_files, size_t nenv_files,
                      bool for_restore, struct backup_plan *ret, struct zp_err *err);
void backup_plan_release(struct backup_plan *plan);
/* Index of the volume with model key, or -1. */
long backup_plan_volume(const struct backup_plan *plan, const char *key);
/* Add the users of one list to a set of service names (no duplicates); names borrowed. */
void backup_plan_add_users(const struct backup_plan_users *u, const char ***set, size_t *n);

#endif

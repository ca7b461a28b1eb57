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

/* Build the plan of project p, limited to the volumes and binds used by services (all when
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

/* server/projects: a registered project on disk: <state>/projects/<name>/compose.yaml,
 * loaded with the same loader as the CLI, its environment from the database. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server-int.h"

#include "../util/banned.h"

char *srv_project_dir(const char *state_dir, const char *name)
{
    char *rel = zp_asprintf("projects/%s", name);
    char *dir = zp_path_join(state_dir, rel);
    free(rel);
    return dir;
}

char *srv_backup_dir(const char *state_dir, const char *name)
{
    char *rel = zp_asprintf("backups/%s", name);
    char *dir = zp_path_join(state_dir, rel);
    free(rel);
    return dir;
}

int srv_project_load(const char *state_dir, const char *dir, const char *name, const char *env_json,
                     struct compose_project **ret, struct zp_diags *d)
{
    char *plain = NULL;
    struct zp_err err;
    zp_err_init(&err);
    if (store_env_open(state_dir, env_json, &plain, &err) != 0) {
        zp_diag_error(d, NULL, "env", "%s", err.msg);
        return ZP_E_INPUT;
    }
    /* the project's environment is exactly its env: serve's own does not leak in */
    json_t *env = json_loads(plain, 0, NULL);
    sodium_memzero(plain, strlen(plain));
    free(plain);
    size_t n = json_is_object(env) ? json_object_size(env) : 0;
    char **environ_ = zp_calloc(n + 1, sizeof(*environ_));
    size_t k = 0;
    const char *key;
    json_t *val;
    if (n)
        json_object_foreach(env, key, val)
        {
            if (json_is_string(val))
                environ_[k++] = zp_asprintf("%s=%s", key, json_string_value(val));
        }
    char *file = zp_path_join(dir, "compose.yaml");
    const char *files[] = {file};
    struct compose_options o;
    memset(&o, 0, sizeof(o));
    o.files = files;
    o.nfiles = 1;
    o.project_name = name;
    o.project_dir = dir;
    o.environ = environ_;
    o.cwd = dir;
    int rc = compose_project_load(&o, ret, d);
    for (size_t i = 0; i < k; i++) {
        sodium_memzero(environ_[i], strlen(environ_[i]));
        free(environ_[i]);
    }
    free(environ_);
    free(file);
    json_decref(env);
    return rc;
}

static int rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *sub = zp_path_join(path, e->d_name);
        struct stat sb;
        if (lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode))
            rc |= rm_tree(sub);
        else if (unlink(sub) != 0)
            rc = -1;
        free(sub);
    }
    closedir(d);
    if (rmdir(path) != 0)
        rc = -1;
    return rc;
}

int srv_project_forget(const char *state_dir, struct store_panel *db, const char *name,
                       struct zp_err *err)
{
    char *dir = srv_project_dir(state_dir, name);
    int rc = 0;
    if (rm_tree(dir) != 0)
        rc = zp_err_sys(err, "removing '%s'", dir);
    free(dir);
    if (rc == 0)
        rc = store_panel_project_delete(db, name, err);
    if (rc == 0) /* its backup schedules go with it (its archives stay) */
        rc = store_panel_schedule_delete_project(db, name, err);
    return rc;
}

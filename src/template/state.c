/* template/state: a project's generated values, KEY=VALUE lines in a 0600 file under the
 * state directory, each value sealed under the state directory's key (store/secret.h);
 * written to a temporary file and renamed: never half-written. A value stored in the clear
 * by an older zpanel reads as it is and is sealed at the next save. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "template.h"

#include <sodium.h>

#include "../store/secret.h"

#include "../util/banned.h"

char *template_state_path(const char *state_dir, const char *project)
{
    return zp_asprintf("%s/templates/state/%s.env", state_dir, project);
}

char *template_env_path(const char *state_dir, const char *project)
{
    return zp_asprintf("%s/templates/env/%s.env", state_dir, project);
}

/* Read the sealed KEY=VALUE file at path (taken) into *ret. */
static int load_file(const char *state_dir, char *path, struct compose_env *ret, size_t *ret_plain,
                     struct zp_err *err)
{
    char *data = NULL;
    size_t len = 0, plain = 0;
    struct compose_env env;
    compose_env_init(&env);
    int rc = zp_file_read(path, TEMPLATE_MAX_SIZE, &data, &len, err);
    if (rc == ZP_E_NOTFOUND) {
        zp_err_init(err);
        rc = 0;
        goto out;
    }
    if (rc != 0)
        goto out;
    int line = 0;
    char *p = data;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        line++;
        if (*p) {
            char *eq = strchr(p, '=');
            if (!eq || eq == p) {
                struct zp_pos pos = {zp_intern(path), line, 1};
                rc = zp_err_set(err, ZP_E_INPUT, &pos, "not a KEY=VALUE line");
                goto out;
            }
            *eq = '\0';
            if (store_secret_sealed(eq + 1)) {
                char *what = zp_asprintf("%s:%d: %s", path, line, p);
                char *v = NULL;
                rc = store_secret_open(state_dir, what, eq + 1, &v, err);
                free(what);
                if (rc != 0)
                    goto out;
                compose_env_set(&env, p, v);
                sodium_memzero(v, strlen(v));
                free(v);
            } else {
                compose_env_set(&env, p, eq + 1);
                plain++;
            }
        }
        if (!nl)
            break;
        p = nl + 1;
    }
out:
    if (rc == 0) {
        for (size_t i = 0; i < env.n; i++)
            compose_env_set(ret, env.keys[i], env.vals[i]);
        if (ret_plain)
            *ret_plain = plain;
    }
    compose_env_release(&env);
    if (data) {
        sodium_memzero(data, len);
        free(data);
    }
    free(path);
    return rc;
}

int template_state_load(const char *state_dir, const char *project, struct compose_env *ret,
                        size_t *ret_plain, struct zp_err *err)
{
    return load_file(state_dir, template_state_path(state_dir, project), ret, ret_plain, err);
}

int template_env_load(const char *state_dir, const char *project, struct compose_env *ret,
                      struct zp_err *err)
{
    return load_file(state_dir, template_env_path(state_dir, project), ret, NULL, err);
}

/* Write env sealed to path (taken): a temporary file renamed over it. */
static int save_file(const char *state_dir, char *path, const struct compose_env *env,
                     struct zp_err *err)
{
    char *dir = zp_path_dir(path);
    char *tmp = NULL;
    struct zp_buf b = ZP_BUF_INIT;
    int rc = zp_mkdir_p(dir, 0700, err);
    free(dir);
    if (rc != 0)
        goto out;
    for (size_t i = 0; i < env->n; i++) {
        if (strchr(env->keys[i], '\n') || strchr(env->keys[i], '='))
            ZP_BUG("state key with a newline or '='");
        char *sealed = NULL;
        if ((rc = store_secret_seal(state_dir, env->vals[i], &sealed, err)) != 0)
            goto out;
        zp_buf_addf(&b, "%s=%s\n", env->keys[i], sealed);
        free(sealed);
    }
    tmp = zp_asprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = zp_err_sys(err, "'%s'", tmp);
        goto out;
    }
    if (zp_write_all(fd, b.p ? b.p : "", b.len) != 0 || fsync(fd) != 0) {
        rc = zp_err_sys(err, "writing '%s'", tmp);
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        rc = zp_err_sys(err, "renaming '%s'", tmp);
        unlink(tmp);
    }
out:
    free(tmp);
    free(path);
    zp_buf_release(&b);
    return rc;
}

int template_state_save(const char *state_dir, const char *project, const struct compose_env *env,
                        struct zp_err *err)
{
    return save_file(state_dir, template_state_path(state_dir, project), env, err);
}

int template_env_save(const char *state_dir, const char *project, const struct compose_env *env,
                      struct zp_err *err)
{
    return save_file(state_dir, template_env_path(state_dir, project), env, err);
}

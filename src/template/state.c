/* template/state: a project's generated values, KEY=VALUE lines in a 0600 file under the
 * state directory (written to a temporary file and renamed: never half-written). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "template.h"

#include "../util/banned.h"

char *template_state_path(const char *state_dir, const char *project)
{
    return zp_asprintf("%s/templates/state/%s.env", state_dir, project);
}

int template_state_load(const char *path, struct compose_env *ret, struct zp_err *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc = zp_file_read(path, TEMPLATE_MAX_SIZE, &data, &len, err);
    if (rc == ZP_E_NOTFOUND) {
        zp_err_init(err);
        return 0;
    }
    if (rc != 0)
        return rc;
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
                free(data);
                return zp_err_set(err, ZP_E_INPUT, &pos, "not a KEY=VALUE line");
            }
            *eq = '\0';
            compose_env_set(ret, p, eq + 1);
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    free(data);
    return 0;
}

int template_state_save(const char *path, const struct compose_env *env, struct zp_err *err)
{
    char *dir = zp_path_dir(path);
    int rc = zp_mkdir_p(dir, 0700, err);
    free(dir);
    if (rc != 0)
        return rc;
    struct zp_buf b = ZP_BUF_INIT;
    for (size_t i = 0; i < env->n; i++) {
        if (strchr(env->vals[i], '\n') || strchr(env->keys[i], '='))
            ZP_BUG("state value with a newline");
        zp_buf_addf(&b, "%s=%s\n", env->keys[i], env->vals[i]);
    }
    char *tmp = zp_asprintf("%s.tmp", path);
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
    zp_buf_release(&b);
    return rc;
}

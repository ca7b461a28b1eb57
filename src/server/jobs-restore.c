/* server/jobs-restore: the restore job of POST /projects/{name}/restore: the volumes of a
 * backup archive under <state>/backups/<project> put back through release_restore, the
 * workflow `zpanel restore` runs, with the volumes alone. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../backup/backup.h"
#include "../release/backup.h"
#include "server-int.h"

#include "../util/banned.h"

bool srv_backup_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 255 || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) { /* it goes into a path and a Content-Disposition */
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return false;
    }
    static const char *const exts[] = {".tar", ".tar.gz", ".tar.zst", ".tgz"};
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        size_t e = strlen(exts[i]);
        if (n > e && strcmp(name + n - e, exts[i]) == 0)
            return true;
    }
    return false;
}

static void restore_progress(void *ud, enum backup_kind kind, const char *key, const char *text)
{
    static const char *const names[] = {"volume", "bind", "file", "dump"};
    srv_job_log(ud, "%s %s: %s", names[kind], key, text);
}

static void restore_note(void *ud, const char *text)
{
    srv_job_log(ud, "%s", text);
}

int srv_job_run_restore(struct orch *o, const struct compose_project *p, const char *state_dir,
                        json_t *args, struct srv_job_ctl *ctl, struct zp_err *err)
{
    const char *file = json_string_value(json_object_get(args, "backup"));
    if (!file || !srv_backup_name_valid(file))
        return zp_err_set(err, ZP_E_INPUT, NULL, "backup: not the file name of a backup");
    char *dir = srv_backup_dir(state_dir, p->name);
    char *path = zp_path_join(dir, file);
    free(dir);
    struct release_restore_opts ro = {
        .path = path,
        .shown = file,
        .volumes_only = true,
        .note = restore_note,
        .progress = restore_progress,
        .ud = ctl,
    };
    struct backup_manifest m;
    memset(&m, 0, sizeof(m));
    char *what = NULL;
    srv_job_log(ctl, "checking %s", file);
    int rc = release_restore(o, p, &ro, &m, &what, err);
    if (rc == 0)
        srv_job_log(ctl, "restored %s from %s (written %s)", what, file,
                    m.created ? m.created : "?");
    free(what);
    backup_manifest_release(&m);
    free(path);
    return rc;
}

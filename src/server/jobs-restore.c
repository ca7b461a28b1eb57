/* server/jobs-restore: the restore job of POST /projects/{name}/restore: the volumes of a
 * backup archive under <state>/backups/<project> put back, as `zpanel restore --volume ...`
 * does for every volume of the archive: the whole archive is checked first, the services
 * using those volumes are stopped and removed, the volumes replaced, and the services that
 * ran are started again (those that were stopped are created again, stopped). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../backup/backup.h"
#include "../backup/plan.h"
#include "../orchestrator/orchestrator.h"
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
    static const char *const names[] = {"volume", "bind", "file"};
    srv_job_log(ud, "%s %s: %s", names[kind], key, text);
}

static void push(const char ***set, size_t *n, const char *v)
{
    *set = zp_realloc(*set, (*n + 1) * sizeof(**set));
    (*set)[(*n)++] = v;
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
    struct backup_manifest m;
    memset(&m, 0, sizeof(m));
    struct backup_plan plan;
    memset(&plan, 0, sizeof(plan));
    struct backup_volume *vols = NULL;
    size_t nvols = 0;
    const char **affected = NULL, **running = NULL, **stopped = NULL;
    size_t naffected = 0, nrunning = 0, nstopped = 0;
    struct orch_container *cs = NULL;
    size_t nc = 0;
    int rc;
    srv_job_log(ctl, "checking %s", file);
    if ((rc = backup_verify(path, &m, err)) != 0)
        goto out;
    if ((rc = backup_plan_build(p, NULL, 0, NULL, 0, true, &plan, err)) != 0)
        goto out;
    vols = zp_calloc(m.n + 1, sizeof(*vols));
    for (size_t k = 0; k < m.n; k++) {
        const struct backup_section *sec = &m.sections[k];
        if (sec->kind != BACKUP_VOLUME)
            continue;
        long v = backup_plan_volume(&plan, sec->key);
        if (v < 0) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL,
                            "volume '%s' of the archive is not a volume of project '%s' "
                            "(nothing was changed)",
                            sec->key, p->name);
            goto out;
        }
        vols[nvols++] = plan.volumes[v];
        backup_plan_add_users(&plan.volume_users[v], &affected, &naffected);
        srv_job_log(ctl, "replacing volume '%s'", plan.volumes[v].name);
    }
    if (nvols == 0) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "archive '%s' holds no volume", file);
        goto out;
    }
    if (naffected > 0) {
        if ((rc = orch_ps(o, affected, naffected, true, &cs, &nc, err)) != 0)
            goto out;
        for (size_t i = 0; i < naffected; i++) {
            bool run = false, any = false;
            for (size_t k = 0; k < nc; k++) {
                if (cs[k].oneoff || strcmp(cs[k].service, affected[i]) != 0)
                    continue;
                any = true;
                run = run || strcmp(cs[k].state, "running") == 0;
            }
            if (run)
                push(&running, &nrunning, affected[i]);
            else if (any)
                push(&stopped, &nstopped, affected[i]);
        }
        /* the volumes are created again: the containers holding them go first */
        struct orch_action_opts ao = {
            .services = affected, .nservices = naffected, .timeout_s = -1, .force = true};
        if ((nrunning && (rc = orch_act(o, ORCH_STOP, &ao, err)) != 0) ||
            ((nrunning || nstopped) && (rc = orch_act(o, ORCH_RM, &ao, err)) != 0))
            goto back;
    }
    struct backup_restore_spec spec = {
        .project = p->name,
        .project_dir = plan.project_dir,
        .images = (const char *const *)plan.images,
        .nimages = plan.nimages,
        .volumes = vols,
        .nvolumes = nvols,
        .volumes_only = true,
        .manifest = &m,
    };
    rc = backup_restore(orch_engine(o), path, &spec, restore_progress, ctl, err);
    if (rc == 0)
        srv_job_log(ctl, "restored %zu volume%s from %s (written %s)", nvols, nvols == 1 ? "" : "s",
                    file, m.created ? m.created : "?");
back:
    /* the services come back as they were: running ones started, stopped ones created */
    for (int pass = 0; pass < 2; pass++) {
        const char **list = pass == 0 ? running : stopped;
        size_t n = pass == 0 ? nrunning : nstopped;
        if (n == 0)
            continue;
        struct orch_up_opts uo;
        memset(&uo, 0, sizeof(uo));
        uo.services = list;
        uo.nservices = n;
        uo.no_deps = true;
        uo.no_start = pass == 1;
        uo.pull = ORCH_PULL_NEVER;
        struct zp_err uerr;
        zp_err_init(&uerr);
        if (orch_up(o, &uo, &uerr) != 0) {
            srv_job_log(ctl, "error: starting again: %s", uerr.msg);
            if (rc == 0) {
                *err = uerr;
                rc = uerr.code;
            }
        }
    }
out:
    orch_containers_free(cs, nc);
    free(vols);
    free(affected);
    free(running);
    free(stopped);
    backup_plan_release(&plan);
    backup_manifest_release(&m);
    free(path);
    return rc;
}

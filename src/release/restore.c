/* release/restore: the restore workflow the CLI (`zpanel restore`) and the server (a restore
 * job) share. The whole archive is checked before anything is touched; the services using
 * what is restored are stopped and removed (the archive API cannot delete files, so the
 * volumes are created again); volumes, bind data and files are replaced; the services come
 * back as they were (running ones started, stopped ones created); database dumps load into
 * their running services last. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "../backup/plan.h"
#include "backup.h"

#include "../util/banned.h"

static void push(const char ***list, size_t *n, const char *v)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*list)[i], v) == 0)
            return;
    *list = zp_realloc(*list, (*n + 1) * sizeof(**list));
    (*list)[(*n)++] = v;
}

static bool volume_wanted(const struct release_restore_opts *opts, const struct backup_section *s)
{
    if (opts->nvolumes == 0)
        return true;
    for (size_t i = 0; i < opts->nvolumes; i++)
        if (strcmp(s->key, opts->volumes[i]) == 0 || strcmp(s->name, opts->volumes[i]) == 0)
            return true;
    return false;
}

/* Every --volume names a volume section of the archive. */
static int check_volumes(const struct release_restore_opts *opts, const struct backup_manifest *m,
                         const char *shown, struct zp_err *err)
{
    for (size_t i = 0; i < opts->nvolumes; i++) {
        bool found = false;
        for (size_t k = 0; k < m->n && !found; k++)
            found = m->sections[k].kind == BACKUP_VOLUME &&
                    (strcmp(m->sections[k].key, opts->volumes[i]) == 0 ||
                     strcmp(m->sections[k].name, opts->volumes[i]) == 0);
        if (!found)
            return zp_err_set(err, ZP_E_USAGE, NULL, "--volume: archive '%s' has no volume '%s'",
                              shown, opts->volumes[i]);
    }
    return 0;
}

/* Bind directories and files of the archive must be the project's own. */
static int check_others(const struct backup_manifest *m, const struct backup_plan *plan,
                        const char *shown, const char *project, struct zp_err *err)
{
    for (size_t k = 0; k < m->n; k++) {
        const struct backup_section *sec = &m->sections[k];
        const struct backup_path *list = sec->kind == BACKUP_BIND ? plan->binds : plan->files;
        size_t n = sec->kind == BACKUP_BIND ? plan->nbinds : plan->nfiles;
        bool found = sec->kind == BACKUP_VOLUME || sec->kind == BACKUP_DUMP;
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(list[i].key, sec->key) == 0;
        if (!found)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "archive '%s': %s '%s' is not %s of project '%s'; refusing to "
                              "write it (nothing was changed; --volume restores volumes alone)",
                              shown, sec->kind == BACKUP_BIND ? "bind directory" : "file", sec->key,
                              sec->kind == BACKUP_BIND ? "a bind mount of a service"
                                                       : "a compose or env file",
                              project);
    }
    return 0;
}

/* Sort the affected services into those running and those only stopped (having a
 * container), from one list of the engine. */
static int sort_affected(struct orch *o, const char **affected, size_t naffected,
                         const char ***running, size_t *nrunning, const char ***stopped,
                         size_t *nstopped, struct zp_err *err)
{
    struct orch_container *cs = NULL;
    size_t nc = 0;
    int rc = orch_ps(o, affected, naffected, true, &cs, &nc, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < naffected; i++) {
        bool run = false, any = false;
        for (size_t k = 0; k < nc; k++) {
            if (cs[k].oneoff || strcmp(cs[k].service, affected[i]) != 0)
                continue;
            any = true;
            run = run || strcmp(cs[k].state, "running") == 0;
        }
        if (run)
            push(running, nrunning, affected[i]);
        else if (any)
            push(stopped, nstopped, affected[i]);
    }
    orch_containers_free(cs, nc);
    return 0;
}

/* Bring the services back as they were: running ones started, stopped ones created. The
 * first failure goes to err when rc was 0; each is also told through note. */
static int bring_back(struct orch *o, const struct release_restore_opts *opts, const char **running,
                      size_t nrunning, const char **stopped, size_t nstopped, int rc,
                      struct zp_err *err)
{
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
        if (orch_up(o, &uo, &uerr) == 0)
            continue;
        if (rc == 0) {
            *err = uerr;
            rc = uerr.code;
        } else if (opts->note) {
            char *t = zp_asprintf("starting the services again failed too: %s", uerr.msg);
            opts->note(opts->ud, t);
            free(t);
        }
    }
    return rc;
}

int release_restore(struct orch *o, const struct compose_project *p,
                    const struct release_restore_opts *opts, struct backup_manifest *ret_manifest,
                    char **ret_what, struct zp_err *err)
{
    const char *shown = opts->shown ? opts->shown : opts->path;
    struct backup_manifest m;
    memset(&m, 0, sizeof(m));
    struct backup_plan plan;
    memset(&plan, 0, sizeof(plan));
    struct backup_volume *vols = NULL;
    size_t nvols = 0;
    const char **affected = NULL, **running = NULL, **stopped = NULL;
    size_t naffected = 0, nrunning = 0, nstopped = 0;
    struct zp_buf what = ZP_BUF_INIT;
    int rc = backup_verify(opts->path, &m, err);
    if (rc != 0) {
        if (opts->shown)
            zp_err_prefix(err, "%s", opts->shown);
        goto out;
    }
    if ((rc = check_volumes(opts, &m, shown, err)) != 0)
        goto out;
    if ((rc = backup_plan_build(p, NULL, 0, opts->env_files, opts->nenv_files, true, &plan, err)) !=
        0)
        goto out;
    /* each volume of the archive (or of opts->volumes) maps by key to the project's volume */
    vols = zp_calloc(m.n + 1, sizeof(*vols));
    bool has_other = false;
    for (size_t k = 0; k < m.n; k++) {
        const struct backup_section *sec = &m.sections[k];
        if (sec->kind != BACKUP_VOLUME) {
            has_other = true;
            continue;
        }
        if (!volume_wanted(opts, sec))
            continue;
        long v = backup_plan_volume(&plan, sec->key);
        if (v < 0) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL,
                            "volume '%s' of the archive is not a volume of project '%s' "
                            "(nothing was changed; choose others with --volume)",
                            sec->key, p->name);
            goto out;
        }
        vols[nvols++] = plan.volumes[v];
        backup_plan_add_users(&plan.volume_users[v], &affected, &naffected);
        zp_buf_addf(&what, "%svolume '%s'", what.len ? ", " : "", plan.volumes[v].name);
    }
    /* only what the project declares: its bind mounts, its compose and env files */
    bool others = !opts->volumes_only && opts->nvolumes == 0 && has_other;
    if (others && (rc = check_others(&m, &plan, shown, p->name, err)) != 0)
        goto out;
    if (nvols == 0 && !others) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "archive '%s' holds no volume to restore", shown);
        goto out;
    }
    for (size_t k = 0; others && k < m.n; k++)
        if (m.sections[k].kind == BACKUP_DUMP)
            zp_buf_addf(&what, "%sthe data of database service '%s'", what.len ? ", " : "",
                        m.sections[k].key);
    if (others) {
        for (size_t i = 0; i < plan.nbinds; i++)
            backup_plan_add_users(&plan.bind_users[i], &affected, &naffected);
        zp_buf_addf(&what, "%sbind directories and files in '%s'", what.len ? ", " : "",
                    plan.project_dir);
    }
    if (opts->confirm && !opts->confirm(opts->ud, zp_buf_cstr(&what))) {
        rc = zp_err_set(err, ZP_E_CANCELLED, NULL, "restore cancelled (nothing was changed)");
        goto out;
    }
    if (naffected > 0) {
        if ((rc = sort_affected(o, affected, naffected, &running, &nrunning, &stopped, &nstopped,
                                err)) != 0)
            goto out;
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
        .binds = plan.binds,
        .nbinds = others ? plan.nbinds : 0,
        .files = plan.files,
        .nfiles = others ? plan.nfiles : 0,
        .engine_api = opts->engine_api,
        .volumes_only = !others,
        .manifest = &m,
    };
    rc = backup_restore(orch_engine(o), opts->path, &spec, opts->progress, opts->ud, err);
back:
    rc = bring_back(o, opts, running, nrunning, stopped, nstopped, rc, err);
    /* the database dumps load into their running services, once these are back */
    if (rc == 0 && others)
        rc = release_restore_dumps(o, p, opts->path, &m,
                                   opts->dump_timeout_s > 0 ? opts->dump_timeout_s : 60, opts->note,
                                   opts->ud, err);
out:
    if (rc == 0 && ret_manifest) {
        *ret_manifest = m;
        memset(&m, 0, sizeof(m));
    }
    if (rc == 0 && ret_what)
        *ret_what = zp_buf_detach(&what, NULL);
    zp_buf_release(&what);
    free(vols);
    free(affected);
    free(running);
    free(stopped);
    backup_plan_release(&plan);
    backup_manifest_release(&m);
    return rc;
}

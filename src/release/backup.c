/* release/backup: plan, stop (optionally), archive, start again. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../backup/plan.h"
#include "../engine/engine.h"
#include "backup.h"

#include "../util/banned.h"

static void note(const struct release_backup_opts *opts, const char *fmt, ...) ZP_PRINTF(2, 3);

static void note(const struct release_backup_opts *opts, const char *fmt, ...)
{
    if (opts->note == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *s = zp_vasprintf(fmt, ap);
    va_end(ap);
    opts->note(opts->ud, s);
    free(s);
}

char *release_backup_default_name(const char *project)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    return zp_asprintf("%s-%s.tar.zst", project, stamp);
}

/* The services among names that have a running container. */
static int running_among(struct orch *o, const char **names, size_t n, const char ***ret,
                         size_t *ret_n, struct zp_err *err)
{
    *ret = NULL;
    *ret_n = 0;
    if (n == 0)
        return 0;
    struct orch_container *cs = NULL;
    size_t nc = 0;
    int rc = orch_ps(o, names, n, false, &cs, &nc, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        bool running = false;
        for (size_t k = 0; k < nc && !running; k++)
            running = !cs[k].oneoff && strcmp(cs[k].service, names[i]) == 0 &&
                      strcmp(cs[k].state, "running") == 0;
        if (running) {
            *ret = zp_realloc(*ret, (*ret_n + 1) * sizeof(**ret));
            (*ret)[(*ret_n)++] = names[i];
        }
    }
    orch_containers_free(cs, nc);
    return 0;
}

/* Volumes never created (the project was not deployed) hold nothing yet: drop them. */
static int drop_missing_volumes(struct engine *e, struct backup_plan *plan,
                                const struct release_backup_opts *opts, struct zp_err *err)
{
    for (size_t i = 0; i < plan->nvolumes; i++) {
        bool exists = false;
        int rc = engine_volume_exists(e, plan->volumes[i].name, &exists, err);
        if (rc)
            return rc;
        if (exists)
            continue;
        note(opts, "volume '%s' does not exist yet, ignoring", plan->volumes[i].name);
        memmove(&plan->volumes[i], &plan->volumes[i + 1],
                (plan->nvolumes - i - 1) * sizeof(*plan->volumes));
        struct backup_plan_users u = plan->volume_users[i];
        memmove(&plan->volume_users[i], &plan->volume_users[i + 1],
                (plan->nvolumes - i - 1) * sizeof(*plan->volume_users));
        plan->volume_users[plan->nvolumes - 1] = u; /* still freed by the release */
        plan->nvolumes--;
        i--;
    }
    return 0;
}

/* The ID of the running container of service (one is enough: a database service runs one
 * replica), or ZP_E_CONFLICT. *ret is new. */
static int running_container(struct orch *o, const char *service, char **ret, struct zp_err *err)
{
    struct orch_container *cs = NULL;
    size_t nc = 0;
    const char *names[] = {service};
    int rc = orch_ps(o, names, 1, false, &cs, &nc, err);
    if (rc)
        return rc;
    *ret = NULL;
    for (size_t k = 0; k < nc && *ret == NULL; k++)
        if (!cs[k].oneoff && strcmp(cs[k].service, service) == 0 &&
            strcmp(cs[k].state, "running") == 0)
            *ret = zp_strdup(cs[k].id);
    orch_containers_free(cs, nc);
    if (*ret == NULL)
        return zp_err_set(err, ZP_E_CONFLICT, NULL,
                          "database service '%s' is not running: its dump is made by its own "
                          "server (start it with `zpanel up`, or drop x-zpanel.database to "
                          "copy its files with --stop)",
                          service);
    return 0;
}

int release_restore_dumps(struct orch *o, const struct compose_project *p, const char *path,
                          const struct backup_manifest *m, int timeout_s,
                          void (*note_fn)(void *ud, const char *text), void *ud, struct zp_err *err)
{
    struct backup_plan plan;
    memset(&plan, 0, sizeof(plan));
    int rc = backup_plan_build(p, NULL, 0, NULL, 0, true, &plan, err);
    for (size_t i = 0; rc == 0 && i < m->n; i++) {
        const struct backup_section *s = &m->sections[i];
        if (s->kind != BACKUP_DUMP)
            continue;
        struct backup_dump d;
        size_t k = 0;
        while (k < plan.ndumps && strcmp(plan.dumps[k].key, s->key) != 0)
            k++;
        if (k == plan.ndumps || strcmp(backup_db_name(plan.dumps[k].type), s->name) != 0) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL,
                            "archive '%s' holds a %s dump of service '%s', which is not a %s "
                            "database service (x-zpanel.database) of project '%s'",
                            path, s->name, s->key, s->name, p->name);
            break;
        }
        d = plan.dumps[k];
        char *id = NULL;
        if ((rc = running_container(o, d.key, &id, err)) != 0)
            break;
        d.container = id;
        if (note_fn) {
            char *t = zp_asprintf("loading the %s dump into service '%s'", s->name, s->key);
            note_fn(ud, t);
            free(t);
        }
        rc = backup_dump_load(orch_engine(o), path, &d, timeout_s, err);
        free(id);
    }
    backup_plan_release(&plan);
    return rc;
}

int release_backup(struct orch *o, const struct compose_project *p,
                   const struct release_backup_opts *opts, struct backup_manifest *ret_manifest,
                   struct zp_err *err)
{
    struct backup_plan plan;
    memset(&plan, 0, sizeof(plan));
    const char **users = NULL, **stopped = NULL;
    struct backup_dump *dumps = NULL;
    char **ids = NULL;
    size_t nusers = 0, nstopped = 0;
    struct engine *e = orch_engine(o);
    int rc = backup_plan_build(p, opts->services, opts->nservices, opts->env_files,
                               opts->nenv_files, false, &plan, err);
    if (rc)
        goto out;
    for (size_t i = 0; i < plan.nnotes; i++)
        note(opts, "%s", plan.notes[i]);
    if ((rc = drop_missing_volumes(e, &plan, opts, err)) != 0)
        goto out;
    /* the database servers make their dumps: each must run */
    dumps = zp_calloc(plan.ndumps + 1, sizeof(*dumps));
    ids = zp_calloc(plan.ndumps + 1, sizeof(*ids));
    for (size_t i = 0; i < plan.ndumps; i++) {
        dumps[i] = plan.dumps[i];
        if ((rc = running_container(o, dumps[i].key, &ids[i], err)) != 0)
            goto out;
        dumps[i].container = ids[i];
    }
    if (opts->stop) {
        for (size_t i = 0; i < plan.nvolumes; i++)
            backup_plan_add_users(&plan.volume_users[i], &users, &nusers);
        for (size_t i = 0; i < plan.nbinds; i++)
            backup_plan_add_users(&plan.bind_users[i], &users, &nusers);
        if ((rc = running_among(o, users, nusers, &stopped, &nstopped, err)) != 0)
            goto out;
        if (nstopped > 0) {
            struct orch_action_opts ao = {
                .services = stopped, .nservices = nstopped, .timeout_s = -1};
            if ((rc = orch_act(o, ORCH_STOP, &ao, err)) != 0)
                goto restart;
        }
    }
    struct backup_spec spec = {
        .project = p->name,
        .images = (const char *const *)plan.images,
        .nimages = plan.nimages,
        .volumes = plan.volumes,
        .nvolumes = plan.nvolumes,
        .binds = plan.binds,
        .nbinds = plan.nbinds,
        .files = plan.files,
        .nfiles = plan.nfiles,
        .engine_api = opts->engine_api,
        .dumps = dumps,
        .ndumps = plan.ndumps,
    };
    if (opts->s3 != NULL)
        rc = backup_create_s3(e, &spec, opts->s3, opts->s3_bucket, opts->s3_key, opts->progress,
                              opts->ud, ret_manifest, opts->s3_info, err);
    else
        rc = backup_create(e, &spec, opts->output, opts->progress, opts->ud, ret_manifest, err);
restart:
    engine_cancel_clear(e); /* a cancelled archive still starts what it stopped */
    /* the services stopped for the backup run again, whatever happened */
    if (nstopped > 0) {
        struct zp_err serr;
        zp_err_init(&serr);
        struct orch_action_opts ao = {.services = stopped, .nservices = nstopped, .timeout_s = -1};
        int src = orch_act(o, ORCH_START, &ao, &serr);
        if (src != 0 && rc == 0) {
            rc = src;
            *err = serr;
        } else if (src != 0) {
            note(opts, "starting the stopped services again failed: %s", serr.msg);
        }
    }
out:
    for (size_t i = 0; ids && i < plan.ndumps; i++)
        free(ids[i]);
    free(ids);
    free(dumps);
    free(users);
    free(stopped);
    backup_plan_release(&plan);
    return rc;
}

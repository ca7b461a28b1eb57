/* server/jobs-run: the adapter between a job and the library: one function per job kind,
 * each a call of the same library functions the CLI commands use (orch_up, orch_act,
 * orch_down), with the job's log as the progress sink. Deploy is to become release/'s
 * release_deploy (recorded as the CLI's up is): wired once, four concurrent deploy jobs
 * left one waiting for a health state it never saw, so it stays orch_up until that is
 * understood. Rollback and backup are wired here when they run as jobs. */
#include <stdlib.h>
#include <string.h>

#include "../orchestrator/orchestrator.h"
#include "server-int.h"

#include "../util/banned.h"

#define MINUTE_MS (60 * 1000)

/* what a job runs on: the session (borrowed), the project it was opened on, the job */
struct run_ctx {
    struct orch *o;
    const struct compose_project *p;
    const struct srv_job_env *env;
    struct srv_job_ctl *ctl;
    const struct store_job *job;
    json_t *args;
};

typedef int (*run_fn)(const struct run_ctx *c, struct zp_err *err);

static int run_deploy(const struct run_ctx *c, struct zp_err *err)
{
    /* as `zpanel up -d --wait --remove-orphans`; the job's timeout bounds the wait */
    struct orch_up_opts uo;
    memset(&uo, 0, sizeof(uo));
    uo.wait = true;
    uo.remove_orphans = true;
    uo.recreate = ORCH_RECREATE_CHANGED;
    uo.pull = ORCH_PULL_MISSING;
    return orch_up(c->o, &uo, err);
}

static int run_action(struct orch *o, enum orch_action a, struct zp_err *err)
{
    struct orch_action_opts ao;
    memset(&ao, 0, sizeof(ao));
    ao.timeout_s = -1;
    return orch_act(o, a, &ao, err);
}

static int run_stop(const struct run_ctx *c, struct zp_err *err)
{
    return run_action(c->o, ORCH_STOP, err);
}

static int run_start(const struct run_ctx *c, struct zp_err *err)
{
    return run_action(c->o, ORCH_START, err);
}

static int run_restart(const struct run_ctx *c, struct zp_err *err)
{
    return run_action(c->o, ORCH_RESTART, err);
}

/* DELETE /projects/{name}: `zpanel down [-v]`; the job runner then forgets the project */
static int run_delete(const struct run_ctx *c, struct zp_err *err)
{
    struct orch_down_opts d;
    memset(&d, 0, sizeof(d));
    d.timeout_s = -1;
    d.remove_orphans = true;
    d.volumes = json_is_true(json_object_get(c->args, "volumes"));
    return orch_down(c->o, &d, err);
}

static const struct {
    const char *kind;
    run_fn fn;
    int64_t timeout_ms;
} kinds[] = {
    {"deploy", run_deploy, 30 * MINUTE_MS}, {"stop", run_stop, 10 * MINUTE_MS},
    {"start", run_start, 10 * MINUTE_MS},   {"restart", run_restart, 10 * MINUTE_MS},
    {"delete", run_delete, 10 * MINUTE_MS},
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static int find(const char *kind)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (strcmp(kinds[i].kind, kind) == 0)
            return (int)i;
    return -1;
}

bool srv_job_kind_known(const char *kind)
{
    return find(kind) >= 0;
}

int64_t srv_job_timeout_ms(const char *kind)
{
    /* ZPANEL_JOB_TIMEOUT (a duration) overrides every kind's: for tests and slow hosts */
    const char *env = getenv("ZPANEL_JOB_TIMEOUT");
    int64_t ns;
    if (env && zp_parse_duration(env, true, &ns) == 0 && ns > 0)
        return ns / 1000000;
    int i = find(kind);
    return i >= 0 ? kinds[i].timeout_ms : 10 * MINUTE_MS;
}

int srv_job_run(const struct srv_job_env *env, const struct store_job *job, struct srv_job_ctl *ctl,
                struct zp_err *err)
{
    int k = find(job->kind);
    if (k < 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "unknown job kind '%s'", job->kind);
    struct zp_diags d;
    zp_diags_init(&d);
    struct compose_project *p = NULL;
    int rc = srv_project_load(env->project_dir, job->project, env->env_json, &p, &d);
    zp_diags_sort(&d);
    for (size_t i = 0; i < d.n; i++) {
        char *line = zp_diag_render(&d.items[i]);
        srv_job_log(ctl, "%s", line);
        free(line);
    }
    if (rc) {
        zp_err_set(err, rc, NULL, "cannot load project '%s' (%zu error%s)", job->project, d.errors,
                   d.errors == 1 ? "" : "s");
        zp_diags_release(&d);
        return rc;
    }
    zp_diags_release(&d);
    json_t *args = json_loads(job->args_json ? job->args_json : "{}", 0, NULL);
    struct orch *o = NULL;
    if ((rc = orch_new(p, env->host, srv_job_progress, ctl, &o, err)) != 0)
        goto out;
    if (!srv_job_attach(ctl, o)) {
        rc = zp_err_set(err, ZP_E_CANCELLED, NULL, "cancelled");
        goto out;
    }
    struct run_ctx c = {.o = o, .p = p, .env = env, .ctl = ctl, .job = job, .args = args};
    rc = kinds[k].fn(&c, err);
    srv_job_detach(ctl);
out:
    srv_job_detach(ctl);
    orch_free(o);
    json_decref(args);
    compose_project_free(p);
    return rc;
}

/* server/jobs-run: the adapter between a job and the library: one function per job kind,
 * each a call of the same library functions the CLI commands use (release_deploy,
 * release_rollback, release_backup, orch_act, orch_down), with the job's log as the
 * progress sink. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../orchestrator/orchestrator.h"
#include "../orchestrator/swarm.h"
#include "../release/backup.h"
#include "../release/release.h"
#include "../ssh/ssh.h"
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

static void sink_line(void *ud, enum release_level level, const char *text)
{
    srv_job_log(ud, "%s%s", level == RELEASE_WARNING ? "warning: " : "", text);
}

static void release_opts_of(const struct run_ctx *c, struct release_sink *sink,
                            struct release_opts *opts)
{
    sink->event = srv_job_progress;
    sink->line = sink_line;
    sink->ud = c->ctl;
    memset(opts, 0, sizeof(*opts));
    opts->state_dir = c->env->state_dir;
    opts->host = c->env->host;
    opts->sink = sink;
}

/* as `zpanel up -d --wait --remove-orphans`, recorded as a release (release_deploy); the
 * job's timeout bounds the wait */
static int run_deploy(const struct run_ctx *c, struct zp_err *err)
{
    struct orch_up_opts uo;
    memset(&uo, 0, sizeof(uo));
    uo.wait = true;
    uo.remove_orphans = true;
    uo.recreate = ORCH_RECREATE_CHANGED;
    uo.pull = ORCH_PULL_MISSING;
    struct release_sink sink;
    struct release_opts opts;
    release_opts_of(c, &sink, &opts);
    struct release_result out;
    int rc = release_deploy(c->o, c->p, &uo, &opts, &out, err);
    if (rc == 0 && out.outcome == RELEASE_DEPLOYED)
        srv_job_log(c->ctl, "release %" PRId64 " deployed", out.id);
    else if (rc == 0)
        srv_job_log(c->ctl, "no container changed: no release recorded");
    release_result_release(&out);
    return rc;
}

/* as `zpanel rollback [RELEASE]`: args {"release": N} (0 or none: the one before) */
static int run_rollback(const struct run_ctx *c, struct zp_err *err)
{
    json_t *r = json_object_get(c->args, "release");
    int64_t target = json_is_integer(r) ? (int64_t)json_integer_value(r) : 0;
    struct release_sink sink;
    struct release_opts opts;
    release_opts_of(c, &sink, &opts);
    opts.cancel = release_cancel_new();
    int rc;
    if (!srv_job_attach(c->ctl, NULL, opts.cancel, false)) {
        release_cancel_free(opts.cancel);
        return zp_err_set(err, ZP_E_CANCELLED, NULL, "cancelled");
    }
    struct release_result out;
    rc = release_rollback(c->p->name, c->env->project_dir, target, &opts, &out, err);
    srv_job_detach(c->ctl);
    release_cancel_free(opts.cancel);
    if (rc == 0)
        srv_job_log(c->ctl, "release %" PRId64 " deployed (rollback to release %" PRId64 ")",
                    out.id, out.source);
    if (out.outcome == RELEASE_ROLLED_BACK)
        srv_job_log(c->ctl, "rolled back to release %" PRId64, out.previous);
    release_result_release(&out);
    return rc;
}

static void backup_note(void *ud, const char *text)
{
    srv_job_log(ud, "%s", text);
}

static void backup_progress(void *ud, enum backup_kind kind, const char *key, const char *text)
{
    static const char *const names[] = {"volume", "bind", "file", "dump"};
    srv_job_log(ud, "%s %s: %s", names[kind], key, text);
}

/* The S3 side of a backup job whose args name a stored destination: its client, bucket
 * and the object key PREFIX/<project>-<UTC time>.tar.zst (as `backup --to`). */
static int backup_destination(const struct run_ctx *c, const char *name, struct s3_client **ret,
                              char **ret_bucket, char **ret_key, struct zp_err *err)
{
    struct store_panel *db = NULL;
    char *prefix = NULL;
    int rc = store_panel_open(c->env->state_dir, &db, err);
    if (rc == 0)
        rc = srv_destination_client(c->env->state_dir, db, name, ret, ret_bucket, &prefix, err);
    store_panel_close(db);
    if (rc)
        return rc;
    char *file = release_backup_default_name(c->p->name);
    size_t n = strlen(prefix);
    *ret_key = zp_asprintf("%s%s%s", prefix, n == 0 || prefix[n - 1] == '/' ? "" : "/", file);
    free(file);
    free(prefix);
    return 0;
}

/* as `zpanel backup [--stop] [SERVICE...]`: args {"services": [...], "stop": bool}; the
 * archive is written to <state>/backups/<project>/<project>-<UTC time>.tar.zst, or with
 * {"destination": NAME} uploaded to that stored S3 destination (as `backup --to`) */
static int run_backup(const struct run_ctx *c, struct zp_err *err)
{
    json_t *svcs = json_object_get(c->args, "services");
    size_t n = json_is_array(svcs) ? json_array_size(svcs) : 0;
    const char **names = zp_calloc(n + 1, sizeof(*names));
    const struct zp_node *defs = zp_node_get(c->p->model, "services");
    for (size_t i = 0; i < n; i++) {
        names[i] = json_string_value(json_array_get(svcs, i));
        if (names[i] == NULL || zp_node_get(defs, names[i]) == NULL) {
            int rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such service '%s'",
                                names[i] ? names[i] : "");
            free(names);
            return rc;
        }
    }
    const char *dest = json_string_value(json_object_get(c->args, "destination"));
    struct s3_client *s3c = NULL;
    char *bucket = NULL, *key = NULL;
    struct s3_object_info info;
    memset(&info, 0, sizeof(info));
    char *dir = srv_backup_dir(c->env->state_dir, c->p->name);
    char *name = release_backup_default_name(c->p->name);
    char *output = NULL;
    int rc;
    if (dest) {
        rc = backup_destination(c, dest, &s3c, &bucket, &key, err);
        if (rc == 0)
            output = zp_asprintf("s3://%s/%s", bucket, key);
    } else {
        output = zp_path_join(dir, name);
        rc = zp_mkdir_p(dir, 0700, err);
    }
    if (rc == 0) {
        struct release_backup_opts bo = {
            .s3 = s3c,
            .s3_bucket = bucket,
            .s3_key = key,
            .s3_info = &info,
            .output = output,
            .services = names,
            .nservices = n,
            .stop = json_is_true(json_object_get(c->args, "stop")),
            .note = backup_note,
            .progress = backup_progress,
            .ud = c->ctl,
        };
        struct backup_manifest m;
        memset(&m, 0, sizeof(m));
        srv_job_detach(c->ctl);
        if (!srv_job_attach(c->ctl, c->o, NULL, true))
            rc = zp_err_set(err, ZP_E_CANCELLED, NULL, "cancelled");
        else
            rc = release_backup(c->o, c->p, &bo, &m, err);
        if (rc == 0) {
            uint64_t size = 0;
            for (size_t i = 0; i < m.n; i++)
                size += m.sections[i].size;
            srv_job_log(c->ctl, "wrote %s: %zu sections, %llu bytes", output, m.n,
                        (unsigned long long)size);
            if (s3c)
                srv_job_log(c->ctl, "object %llu bytes, sha256:%s, verified after upload",
                            (unsigned long long)info.size, info.sha256);
        }
        backup_manifest_release(&m);
    }
    free(output);
    free(name);
    free(dir);
    free(names);
    s3_client_free(s3c);
    free(bucket);
    free(key);
    return rc;
}

static int run_action(struct orch *o, enum orch_action a, struct zp_err *err)
{
    /* a Swarm project's tasks are Swarm's to stop and start: refused, not run beside */
    bool swarm = false;
    int rc = orch_swarm_project(o, &swarm, err);
    if (rc != 0)
        return rc;
    if (swarm)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "stop, start and restart are not supported on a Swarm project: "
                          "Swarm keeps its services' tasks running (scale with "
                          "deploy.replicas, or delete the project)");
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
    bool swarm = false; /* as `zpanel down`: a Swarm project's services */
    int rc = orch_swarm_project(c->o, &swarm, err);
    if (rc != 0)
        return rc;
    return swarm ? orch_swarm_down(c->o, d.volumes, err) : orch_down(c->o, &d, err);
}

/* POST /projects/{name}/restore (jobs-restore.c): the cancel reaches the engine's streams */
static int run_restore(const struct run_ctx *c, struct zp_err *err)
{
    srv_job_detach(c->ctl);
    if (!srv_job_attach(c->ctl, c->o, NULL, true))
        return zp_err_set(err, ZP_E_CANCELLED, NULL, "cancelled");
    return srv_job_run_restore(c->o, c->p, c->env->state_dir, c->args, c->ctl, err);
}

static const struct {
    const char *kind;
    run_fn fn;
    int64_t timeout_ms;
} kinds[] = {
    {"deploy", run_deploy, 30 * MINUTE_MS}, {"stop", run_stop, 10 * MINUTE_MS},
    {"start", run_start, 10 * MINUTE_MS},   {"restart", run_restart, 10 * MINUTE_MS},
    {"delete", run_delete, 10 * MINUTE_MS}, {"rollback", run_rollback, 30 * MINUTE_MS},
    {"backup", run_backup, 60 * MINUTE_MS}, {"restore", run_restore, 60 * MINUTE_MS},
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

/* The job's log never shows the project's env values (at least 4 bytes: shorter ones
 * would mask ordinary words) */
static void redact_env(const struct srv_job_env *env, struct srv_job_ctl *ctl)
{
    char *plain = NULL;
    struct zp_err err;
    zp_err_init(&err);
    if (store_env_open(env->state_dir, env->env_json, &plain, &err) != 0)
        return; /* the load below fails and says why */
    json_t *o = json_loads(plain, 0, NULL);
    char **vals = zp_calloc(json_object_size(o) + 1, sizeof(*vals));
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        const char *s = json_string_value(v);
        if (s && strlen(s) >= 4)
            vals[n++] = zp_strdup(s);
    }
    json_decref(o);
    sodium_memzero(plain, strlen(plain));
    free(plain);
    srv_job_redact(ctl, vals, n);
}

int srv_job_run(const struct srv_job_env *env, const struct store_job *job, struct srv_job_ctl *ctl,
                struct zp_err *err)
{
    int k = find(job->kind);
    if (k < 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "unknown job kind '%s'", job->kind);
    redact_env(env, ctl);
    struct zp_diags d;
    zp_diags_init(&d);
    struct compose_project *p = NULL;
    int rc =
        srv_project_load(env->state_dir, env->project_dir, job->project, env->env_json, &p, &d);
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
        srv_sched_after_job(env, job, &rc, err, ctl);
        return rc;
    }
    zp_diags_release(&d);
    json_t *args = json_loads(job->args_json ? job->args_json : "{}", 0, NULL);
    struct orch *o = NULL;
    /* ssh: a project with a server runs through a tunnel to it */
    struct ssh_tunnel *tunnel = NULL;
    struct srv_job_env renv = *env;
    if ((rc = srv_job_remote_open(env->state_dir, job->kind, p, ctl, &tunnel, err)) != 0)
        goto out;
    if (tunnel) {
        renv.host = ssh_tunnel_host(tunnel);
        env = &renv;
    }
    if ((rc = orch_new(p, env->host, srv_job_progress, ctl, &o, err)) != 0)
        goto out;
    if (!srv_job_attach(ctl, o, NULL, false)) {
        rc = zp_err_set(err, ZP_E_CANCELLED, NULL, "cancelled");
        goto out;
    }
    struct run_ctx c = {.o = o, .p = p, .env = env, .ctl = ctl, .job = job, .args = args};
    rc = kinds[k].fn(&c, err);
    srv_job_detach(ctl);
out:
    srv_job_detach(ctl);
    if (rc != ZP_E_CANCELLED)
        srv_sched_after_job(env, job, &rc, err, ctl);
    orch_free(o);
    srv_job_remote_close(tunnel, ctl, rc);
    json_decref(args);
    compose_project_free(p);
    return rc;
}

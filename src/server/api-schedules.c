/* server/api-schedules: backup schedules of a project (GET/POST/DELETE
 * /api/v1/projects/{name}/schedules), the scheduler thread that queues their backup jobs
 * on time, and what follows a scheduled run: retention of the project's archives and the
 * webhook. The cron and retention logic is backup/schedule.c; this file only wires it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../backup/backup.h"
#include "../backup/schedule.h"
#include "../notify/notify.h"
#include "../store/store.h"
#include "server-int.h"

#include "../util/banned.h"

#define KEEP_MAX 10000
#define WEBHOOK_MAX 2048
#define WEBHOOK_TIMEOUT_S 5

/* ---- the API ---- */

static json_t *schedule_json(const struct store_schedule *s)
{
    json_t *o = json_pack("{s:I, s:s, s:s, s:{s:I, s:I, s:I, s:I}, s:s?, s:b, s:I, s:o?}", "id",
                          (json_int_t)s->id, "project", s->project, "cron", s->cron, "keep", "last",
                          (json_int_t)s->keep_last, "daily", (json_int_t)s->keep_daily, "weekly",
                          (json_int_t)s->keep_weekly, "size", (json_int_t)s->keep_bytes, "webhook",
                          s->webhook, "notify_success", s->notify_success, "next_run",
                          (json_int_t)s->next_run, "last_job",
                          s->last_job ? json_integer(s->last_job) : NULL);
    json_object_set_new(o, "destination",
                        s->destination ? json_string(s->destination) : json_null());
    return o;
}

/* The route's project, registered; false with the reply set. */
static bool project_known(struct srv_req *req, struct srv_resp *resp)
{
    struct store_panel_project p;
    if (!srv_route_project(req, resp, &p))
        return false;
    store_panel_project_release(&p);
    return true;
}

void srv_api_schedules_list(struct srv_req *req, struct srv_resp *resp)
{
    if (!project_known(req, resp))
        return;
    struct store_schedule *v = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_schedule_list(req->db, req->params[0], &v, &n, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, schedule_json(&v[i]));
    store_schedules_free(v, n);
    srv_reply_json(resp, 200, json_pack("{s:o}", "schedules", list));
}

/* Check spec and add it for project (registered) through db. */
static int schedule_add(struct store_panel *db, const char *project,
                        const struct server_schedule_spec *spec, struct store_schedule *ret,
                        struct zp_err *err)
{
    struct store_panel_project p;
    if (!store_project_name_valid(project))
        return zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such project '%s'", project);
    int rc = store_panel_project_get(db, project, &p, err);
    if (rc)
        return rc;
    store_panel_project_release(&p);
    struct backup_cron c;
    if (spec->cron == NULL)
        return zp_err_set(err, ZP_E_INPUT, NULL, "cron: required, a cron expression");
    if (backup_cron_parse(spec->cron, &c, err) != 0) {
        zp_err_prefix(err, "cron");
        return err->code;
    }
    static const char *const names[] = {"last", "daily", "weekly"};
    const int64_t counts[] = {spec->keep_last, spec->keep_daily, spec->keep_weekly};
    for (size_t i = 0; i < 3; i++)
        if (counts[i] < 0 || counts[i] > KEEP_MAX)
            return zp_err_set(err, ZP_E_INPUT, NULL, "keep.%s: not a count from 0 to %d", names[i],
                              KEEP_MAX);
    if (spec->keep_bytes < 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "keep.size: not a size (\"10GB\", bytes)");
    if (spec->destination) {
        struct store_destination d;
        rc = store_panel_destination_get(db, spec->destination, &d, err);
        if (rc == ZP_E_NOTFOUND) {
            zp_err_init(err);
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "destination: no stored destination '%s' (zpanel destination add)",
                              spec->destination);
        }
        if (rc)
            return rc;
        store_destination_release(&d);
    }
    if (spec->webhook) {
        const char *w = spec->webhook;
        size_t skip = strncmp(w, "http://", 7) == 0 ? 7 : strncmp(w, "https://", 8) == 0 ? 8 : 0;
        bool bad = skip == 0 || strlen(w) > WEBHOOK_MAX || w[skip] == '\0' || w[skip] == '/';
        for (const char *q = w; !bad && *q; q++)
            bad = (unsigned char)*q <= 0x20 || *q == 0x7f;
        if (bad)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "webhook: '%s' is not an http:// or https://HOST[:PORT]/PATH URL", w);
    }
    int64_t next = backup_cron_next(&c, (int64_t)time(NULL));
    if (next < 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "cron: '%s' never matches a date", spec->cron);
    memset(ret, 0, sizeof(*ret));
    ret->project = (char *)project;
    ret->cron = (char *)spec->cron;
    ret->keep_last = spec->keep_last;
    ret->keep_daily = spec->keep_daily;
    ret->keep_weekly = spec->keep_weekly;
    ret->webhook = (char *)spec->webhook;
    ret->notify_success = spec->notify_success;
    ret->next_run = next;
    ret->destination = (char *)spec->destination;
    ret->keep_bytes = spec->keep_bytes;
    return store_panel_schedule_add(db, ret, err);
}

/* A count member of keep, or -1 when it is not an integer. */
static int64_t keep_count(json_t *keep, const char *name)
{
    json_t *v = keep ? json_object_get(keep, name) : NULL;
    if (v == NULL)
        return 0;
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* keep.size: bytes, or a size ("10GB"); 0 when absent, -1 when it is neither */
static int64_t keep_size(json_t *keep)
{
    json_t *v = keep ? json_object_get(keep, "size") : NULL;
    int64_t n = -1;
    if (v == NULL)
        return 0;
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_string(v) && zp_parse_size(json_string_value(v), &n) == 0)
        return n;
    return -1;
}

/* {"cron": "0 3 * * *", "keep": {"last": N, "daily": D, "weekly": W, "size": "10GB"},
 *  "destination": "NAME", "webhook": "http://...", "notify_success": bool} */
void srv_api_schedules_create(struct srv_req *req, struct srv_resp *resp)
{
    if (!project_known(req, resp))
        return;
    json_t *b = srv_req_body(req, resp);
    if (!b)
        return;
    struct zp_err err;
    zp_err_init(&err);
    json_t *cron = json_object_get(b, "cron");
    json_t *keep = json_object_get(b, "keep");
    json_t *hook = json_object_get(b, "webhook");
    json_t *ns = json_object_get(b, "notify_success");
    json_t *dest = json_object_get(b, "destination");
    const char *bad = NULL;
    if (cron && !json_is_string(cron))
        bad = "cron: not a string";
    else if (keep && !json_is_object(keep))
        bad = "keep: not an object";
    else if (hook && !json_is_null(hook) && !json_is_string(hook))
        bad = "webhook: not a string";
    else if (ns && !json_is_boolean(ns))
        bad = "notify_success: not true or false";
    else if (dest && !json_is_null(dest) && !json_is_string(dest))
        bad = "destination: not a string";
    if (bad) {
        srv_reply_error(resp, 400, "bad_request", NULL, "%s", bad);
        json_decref(b);
        return;
    }
    struct server_schedule_spec spec = {
        .cron = json_string_value(cron),
        .keep_last = keep_count(keep, "last"),
        .keep_daily = keep_count(keep, "daily"),
        .keep_weekly = keep_count(keep, "weekly"),
        .webhook = json_string_value(hook),
        .notify_success = json_is_true(ns),
        .destination = json_string_value(dest),
        .keep_bytes = keep_size(keep),
    };
    struct store_schedule s;
    if (schedule_add(req->db, req->params[0], &spec, &s, &err) != 0) {
        if (err.code == ZP_E_INPUT)
            srv_reply_error(resp, 400, "bad_request", NULL, "%s", err.msg);
        else
            srv_reply_zerr(resp, &err);
    } else {
        srv_reply_json(resp, 201, json_pack("{s:o}", "schedule", schedule_json(&s)));
    }
    json_decref(b);
}

int server_schedule_add(const char *state_dir, const char *project,
                        const struct server_schedule_spec *spec, int64_t *ret_id, int64_t *ret_next,
                        struct zp_err *err)
{
    struct store_panel *db = NULL;
    int rc = store_panel_open(state_dir, &db, err);
    struct store_schedule s;
    if (rc == 0 && (rc = schedule_add(db, project, spec, &s, err)) == 0) {
        if (ret_id)
            *ret_id = s.id;
        if (ret_next)
            *ret_next = s.next_run;
    }
    store_panel_close(db);
    return rc;
}

int server_schedule_remove(const char *state_dir, const char *project, int64_t id,
                           struct zp_err *err)
{
    struct store_panel *db = NULL;
    int rc = store_panel_open(state_dir, &db, err);
    if (rc == 0)
        rc = store_panel_schedule_delete(db, project, id, err);
    store_panel_close(db);
    return rc;
}

void srv_api_schedules_delete(struct srv_req *req, struct srv_resp *resp)
{
    if (!project_known(req, resp))
        return;
    int64_t id = 0;
    if (zp_parse_int64(req->params[1], 1, INT64_MAX, &id) != 0) {
        srv_reply_error(resp, 404, "not_found", NULL, "no such schedule '%s'", req->params[1]);
        return;
    }
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_schedule_delete(req->db, req->params[0], id, &err) != 0)
        srv_reply_zerr(resp, &err);
    else
        srv_reply_json(resp, 200, json_pack("{s:I}", "deleted", (json_int_t)id));
}

/* ---- the scheduler ---- */

struct srv_sched {
    struct server *srv;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    int64_t tick_ms;
};

/* Queue the runs that are due at now (Unix seconds): one per schedule whatever how many
 * were missed (next_run moves to the first time after now). */
static void sched_tick(struct server *srv, struct store_panel *db, int64_t now)
{
    struct store_schedule *v = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_schedule_list(db, NULL, &v, &n, &err) != 0) {
        srv_log("error", "msg=\"listing schedules: %s\"", err.msg);
        return;
    }
    bool queued = false;
    for (size_t i = 0; i < n; i++) {
        struct store_schedule *s = &v[i];
        if (s->next_run > now)
            continue;
        struct backup_cron c;
        zp_err_init(&err);
        int64_t next = backup_cron_parse(s->cron, &c, &err) == 0 ? backup_cron_next(&c, now) : -1;
        if (next < 0)
            next = INT64_MAX; /* never again */
        bool taken = false;
        zp_err_init(&err);
        if (store_panel_schedule_advance(db, s->id, s->next_run, next, s->last_job, &taken, &err) !=
                0 ||
            !taken)
            continue;
        /* the run carries its retention and destination: it completes as queued even when
         * the schedule is removed while it runs */
        json_t *ao = json_pack(
            "{s:I, s:[], s:b, s:{s:I, s:I, s:I, s:I}}", "schedule", (json_int_t)s->id, "services",
            "stop", 0, "keep", "last", (json_int_t)s->keep_last, "daily", (json_int_t)s->keep_daily,
            "weekly", (json_int_t)s->keep_weekly, "size", (json_int_t)s->keep_bytes);
        if (s->destination)
            json_object_set_new(ao, "destination", json_string(s->destination));
        char *args = json_dumps(ao, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(ao);
        struct store_job j;
        memset(&j, 0, sizeof(j));
        j.project = s->project;
        j.kind = (char *)"backup";
        j.args_json = args;
        j.user = (char *)"scheduler";
        zp_err_init(&err);
        if (store_panel_job_add(db, &j, &err) != 0) {
            srv_log("error", "msg=\"schedule %" PRId64 ": queueing its backup: %s\"", s->id,
                    err.msg);
        } else {
            zp_err_init(&err);
            store_panel_schedule_advance(db, s->id, next, next, j.id, &taken, &err);
            srv_log("info",
                    "msg=\"schedule %" PRId64 " of project '%s': backup job %" PRId64 " queued\"",
                    s->id, s->project, j.id);
            queued = true;
        }
        free(args);
    }
    store_schedules_free(v, n);
    if (queued)
        srv_jobs_kick(srv->jobs);
}

static void *sched_thread(void *arg)
{
    struct srv_sched *sc = arg;
    struct store_panel *db = NULL;
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_open(sc->srv->state_dir, &db, &err) != 0) {
        srv_log("error", "msg=\"scheduler: %s\"", err.msg);
        return NULL;
    }
    pthread_mutex_lock(&sc->lock);
    while (!sc->stop) {
        pthread_mutex_unlock(&sc->lock);
        sched_tick(sc->srv, db, (int64_t)time(NULL));
        pthread_mutex_lock(&sc->lock);
        if (sc->stop)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (sc->tick_ms % 1000) * 1000000;
        ts.tv_sec += (time_t)(sc->tick_ms / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&sc->cond, &sc->lock, &ts);
    }
    pthread_mutex_unlock(&sc->lock);
    store_panel_close(db);
    return NULL;
}

int srv_sched_start(struct server *s, struct srv_sched **ret, struct zp_err *err)
{
    struct srv_sched *sc = zp_calloc(1, sizeof(*sc));
    sc->srv = s;
    sc->tick_ms = 1000;
    /* ZPANEL_SCHEDULER_TICK: how often due schedules are looked for (tests: 200ms) */
    const char *env = getenv("ZPANEL_SCHEDULER_TICK");
    int64_t ns;
    if (env && zp_parse_duration(env, true, &ns) == 0 && ns >= 10000000 && ns <= 60000000000)
        sc->tick_ms = ns / 1000000;
    pthread_mutex_init(&sc->lock, NULL);
    pthread_cond_init(&sc->cond, NULL);
    int prc = pthread_create(&sc->thread, NULL, sched_thread, sc);
    if (prc != 0) {
        pthread_mutex_destroy(&sc->lock);
        pthread_cond_destroy(&sc->cond);
        free(sc);
        errno = prc;
        return zp_err_sys(err, "starting the scheduler");
    }
    *ret = sc;
    return 0;
}

void srv_sched_stop(struct srv_sched *sc)
{
    if (!sc)
        return;
    pthread_mutex_lock(&sc->lock);
    sc->stop = true;
    pthread_cond_signal(&sc->cond);
    pthread_mutex_unlock(&sc->lock);
    pthread_join(sc->thread, NULL);
    pthread_mutex_destroy(&sc->lock);
    pthread_cond_destroy(&sc->cond);
    free(sc);
}

/* ---- after a scheduled run: retention, webhook ---- */

/* Remove the archives of the project's backup directory that r does not keep; only names
 * zpanel writes are considered. Logs each removal. */
static int apply_retention(const struct srv_job_env *env, const char *project,
                           const struct backup_retention *r, struct srv_job_ctl *ctl,
                           struct zp_err *err)
{
    char *dir = srv_backup_dir(env->state_dir, project);
    DIR *d = opendir(dir);
    if (d == NULL) {
        int rc = zp_err_sys(err, "retention: reading '%s'", dir);
        free(dir);
        return rc;
    }
    char **names = NULL;
    int64_t *times = NULL;
    uint64_t *sizes = NULL;
    size_t n = 0, cap = 0, tcap = 0, scap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int64_t t = backup_archive_time(project, de->d_name);
        struct stat st;
        if (t < 0 || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (n == cap)
            zp_grow((void **)&names, &cap, n + 1, sizeof(*names));
        if (n == tcap)
            zp_grow((void **)&times, &tcap, n + 1, sizeof(*times));
        if (n == scap)
            zp_grow((void **)&sizes, &scap, n + 1, sizeof(*sizes));
        names[n] = zp_strdup(de->d_name);
        sizes[n] = (uint64_t)st.st_size;
        times[n++] = t;
    }
    closedir(d);
    bool *keep = zp_calloc(n + 1, sizeof(*keep));
    backup_retention_select(r, times, sizes, n, keep);
    int rc = 0;
    size_t removed = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep[i])
            continue;
        char *path = zp_path_join(dir, names[i]);
        if (unlink(path) != 0 && errno != ENOENT && rc == 0)
            rc = zp_err_sys(err, "retention: removing '%s'", path);
        else
            removed++;
        free(path);
    }
    srv_job_log(ctl,
                "retention (last %u, daily %u, weekly %u, size %llu): kept %zu of %zu archives",
                r->last, r->daily, r->weekly, (unsigned long long)r->bytes, n - removed, n);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(times);
    free(sizes);
    free(keep);
    free(dir);
    return rc;
}

static void prune_note(void *ud, const char *text)
{
    srv_job_log(ud, "%s", text);
}

/* Retention on the schedule's S3 destination (backup_s3_prune): only zpanel's archives of
 * the project under the destination's prefix. */
static int apply_s3_retention(const struct srv_job_env *env, const char *project,
                              const char *destination, const struct backup_retention *r,
                              struct srv_job_ctl *ctl, struct zp_err *err)
{
    if (r->last == 0 && r->daily == 0 && r->weekly == 0 && r->bytes == 0) {
        srv_job_log(ctl, "retention: none (every archive is kept)");
        return 0; /* no listing, no HEADs: nothing would be removed */
    }
    struct store_panel *db = NULL;
    struct s3_client *c = NULL;
    char *bucket = NULL, *prefix = NULL;
    int rc = store_panel_open(env->state_dir, &db, err);
    if (rc == 0)
        rc = srv_destination_client(env->state_dir, db, destination, &c, &bucket, &prefix, err);
    store_panel_close(db);
    struct backup_prune_result res = {0};
    if (rc == 0)
        rc = backup_s3_prune(c, bucket, prefix, project, r, prune_note, ctl, &res, err);
    if (rc == 0)
        srv_job_log(ctl,
                    "retention (last %u, daily %u, weekly %u, size %llu) on s3://%s/%s: kept %zu "
                    "of %zu archives",
                    r->last, r->daily, r->weekly, (unsigned long long)r->bytes, bucket, prefix,
                    res.considered - res.removed, res.considered);
    s3_client_free(c);
    free(bucket);
    free(prefix);
    return rc;
}

/* A count of the job's keep (0 when absent or not a count). */
static uint64_t args_keep(json_t *keep, const char *name)
{
    json_t *v = json_object_get(keep, name);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

void srv_sched_after_job(const struct srv_job_env *env, const struct store_job *job, int *rc,
                         struct zp_err *err, struct srv_job_ctl *ctl)
{
    if (strcmp(job->kind, "backup") != 0)
        return;
    json_t *args = json_loads(job->args_json ? job->args_json : "{}", 0, NULL);
    json_t *sid = json_object_get(args, "schedule");
    int64_t id = json_is_integer(sid) ? json_integer_value(sid) : 0;
    if (id <= 0) {
        json_decref(args);
        return;
    }
    struct store_panel *db = NULL;
    struct store_schedule s;
    memset(&s, 0, sizeof(s));
    struct zp_err e;
    zp_err_init(&e);
    bool have = store_panel_open(env->state_dir, &db, &e) == 0 &&
                store_panel_schedule_get(db, id, &s, &e) == 0;
    store_panel_close(db);
    if (!have)
        srv_job_log(ctl, "schedule %" PRId64 ": %s", id, e.msg);
    /* the retention and destination the run was queued with (older runs: the schedule's) */
    json_t *keep = json_object_get(args, "keep");
    struct backup_retention r;
    const char *dest = NULL;
    if (json_is_object(keep)) {
        r = (struct backup_retention){(unsigned)args_keep(keep, "last"),
                                      (unsigned)args_keep(keep, "daily"),
                                      (unsigned)args_keep(keep, "weekly"), args_keep(keep, "size")};
        dest = json_string_value(json_object_get(args, "destination"));
    } else if (have) {
        r = (struct backup_retention){(unsigned)s.keep_last, (unsigned)s.keep_daily,
                                      (unsigned)s.keep_weekly, (uint64_t)s.keep_bytes};
        dest = s.destination;
    } else {
        json_decref(args);
        return;
    }
    /* retention only after a successful, verified backup; its failure fails the job */
    if (*rc == 0) {
        if (dest)
            *rc = apply_s3_retention(env, job->project, dest, &r, ctl, err);
        else
            *rc = apply_retention(env, job->project, &r, ctl, err);
    }
    json_decref(args);
    if (have && s.webhook && (*rc != 0 || s.notify_success)) {
        json_t *o =
            json_pack("{s:s, s:I, s:I, s:s, s:s?}", "project", job->project, "schedule",
                      (json_int_t)id, "job", (json_int_t)job->id, "status",
                      *rc == 0 ? "succeeded" : "failed", "error", *rc == 0 ? NULL : err->msg);
        char *body = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(o);
        zp_err_init(&e);
        /* the notifications' client (notify/: libcurl), unsigned: a schedule has no secret */
        if (notify_post_json(s.webhook, NULL, "backup", body, WEBHOOK_TIMEOUT_S * 1000, &e) != 0)
            srv_job_log(ctl, "notification failed: %s", e.msg);
        else
            srv_job_log(ctl, "notified '%s'", s.webhook);
        free(body);
    }
    store_schedule_release(&s);
}

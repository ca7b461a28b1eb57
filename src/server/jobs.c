/* server/jobs: the job runner over zpanel.db's queue: a fixed pool of workers (each with
 * its own database connection) claims the oldest queued job whose project runs nothing,
 * runs it through the adapter (jobs-run.c) with a log file as its progress sink, and
 * records the outcome. Cancel and per-kind timeouts reach the job's orchestrator session;
 * on shutdown running jobs are interrupted and queued again. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "../release/release.h"
#include "server-int.h"

#include "../util/banned.h"

#define LOG_LINE_MAX 8192
#define WATCHDOG_MS 500
#define TRIM_EVERY_NS (2 * 1000000000LL)

struct srv_job_ctl {
    struct srv_jobs *jobs;
    int64_t id;
    int log_fd;
    int64_t t0_ns;
    int64_t deadline_ns; /* CLOCK_MONOTONIC */
    int64_t timeout_ms;
    atomic_bool cancel;        /* stop as soon as possible */
    atomic_bool timed_out;     /* ... because the kind's timeout passed */
    atomic_bool shutdown;      /* ... because serve stops: queue it again */
    pthread_mutex_t orch_lock; /* guards orch, rcancel, engine */
    struct orch *orch;
    struct release_cancel *rcancel; /* a release workflow's token (rollback) */
    char **secrets;                 /* values masked in the log (the project's env) */
    size_t nsecrets;
    bool engine; /* cancel reaches orch's engine too (backup) */
};

struct srv_jobs {
    struct server *srv;
    pthread_mutex_t lock; /* guards stop, running, nrunning, cap; claims happen under it */
    pthread_cond_t work;  /* a job was queued or ended, or stop */
    pthread_cond_t tick;  /* wakes the watchdog for stop */
    bool stop;
    struct srv_job_ctl **running;
    size_t nrunning, cap;
    /* a leaf lock: nothing else is taken while holding it (progress events arrive under
     * the orchestrator's locks) */
    pthread_mutex_t log_lock; /* guards seq */
    pthread_cond_t log_cond;
    uint64_t seq;
    pthread_t *threads;
    size_t nthreads;
    pthread_t watchdog;
    bool watchdog_started;
    atomic_bool garbage; /* memory was freed since the last trim */
};

char *srv_job_log_path(const char *state_dir, int64_t id)
{
    char *rel = zp_asprintf("jobs/%lld.log", (long long)id);
    char *path = zp_path_join(state_dir, rel);
    free(rel);
    return path;
}

static void bump(struct srv_jobs *j)
{
    pthread_mutex_lock(&j->log_lock);
    j->seq++;
    pthread_cond_broadcast(&j->log_cond);
    pthread_mutex_unlock(&j->log_lock);
}

uint64_t srv_jobs_seq(struct srv_jobs *j)
{
    pthread_mutex_lock(&j->log_lock);
    uint64_t s = j->seq;
    pthread_mutex_unlock(&j->log_lock);
    return s;
}

void srv_jobs_wake_readers(struct srv_jobs *j)
{
    if (j)
        bump(j);
}

void srv_jobs_wait(struct srv_jobs *j, uint64_t seen, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&j->log_lock);
    while (j->seq == seen && !atomic_load(&j->srv->stopping))
        if (pthread_cond_timedwait(&j->log_cond, &j->log_lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&j->log_lock);
}

/* ---- what a running job may do ---- */

void srv_job_redact(struct srv_job_ctl *c, char **values, size_t n)
{
    c->secrets = values;
    c->nsecrets = n;
}

/* line with every secret value replaced by the mask (a new string) */
static char *redacted(const struct srv_job_ctl *c, const char *line)
{
    struct zp_buf b = ZP_BUF_INIT;
    const char *p = line;
    while (*p) {
        size_t hit = 0;
        for (size_t i = 0; i < c->nsecrets && !hit; i++) {
            size_t n = strlen(c->secrets[i]);
            if (n && strncmp(p, c->secrets[i], n) == 0)
                hit = n;
        }
        if (hit) {
            zp_buf_adds(&b, STORE_SECRET_MASK);
            p += hit;
        } else {
            zp_buf_addc(&b, *p++);
        }
    }
    return zp_buf_detach(&b, NULL);
}

static void log_write(struct srv_job_ctl *c, const char *raw)
{
    double t = (double)(zp_mono_ns() - c->t0_ns) / 1e9;
    char buf[LOG_LINE_MAX + 32];
    char *line = c->nsecrets ? redacted(c, raw) : NULL;
    int n = snprintf(buf, sizeof(buf), "[%8.3fs] %s\n", t, line ? line : raw);
    free(line);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf)) {
        n = (int)sizeof(buf) - 1;
        buf[n - 1] = '\n';
    }
    if (c->log_fd >= 0) {
        /* O_APPEND: each line is one write */
        ssize_t w = write(c->log_fd, buf, (size_t)n);
        (void)w;
    }
    bump(c->jobs);
}

void srv_job_log(struct srv_job_ctl *c, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_write(c, line);
}

void srv_job_progress(void *ud, const struct orch_event *ev)
{
    static const char *const objs[] = {"project", "network", "volume", "image", "container"};
    struct srv_job_ctl *c = ud;
    const char *obj = (unsigned)ev->obj < 5 ? objs[ev->obj] : "object";
    const char *text = ev->text ? ev->text : "";
    switch (ev->state) {
    case ORCH_FAILED:
        srv_job_log(c, "%s %s: error: %s", obj, ev->name, text);
        break;
    case ORCH_WARNING:
        srv_job_log(c, "%s %s: warning: %s", obj, ev->name, text);
        break;
    default:
        srv_job_log(c, "%s %s: %s", obj, ev->name, text);
    }
}

/* Under c->orch_lock: make what is attached stop. */
static void cancel_attached(struct srv_job_ctl *c)
{
    if (c->orch) {
        orch_cancel(c->orch);
        if (c->engine)
            engine_cancel(orch_engine(c->orch));
    }
    if (c->rcancel)
        release_cancel_fire(c->rcancel);
}

bool srv_job_attach(struct srv_job_ctl *c, struct orch *o, struct release_cancel *rc, bool engine)
{
    pthread_mutex_lock(&c->orch_lock);
    c->orch = o;
    c->rcancel = rc;
    c->engine = engine;
    /* a cancel that came before the session existed */
    bool cancelled = atomic_load(&c->cancel);
    if (cancelled)
        cancel_attached(c);
    pthread_mutex_unlock(&c->orch_lock);
    return !cancelled;
}

void srv_job_detach(struct srv_job_ctl *c)
{
    pthread_mutex_lock(&c->orch_lock);
    c->orch = NULL;
    c->rcancel = NULL;
    c->engine = false;
    pthread_mutex_unlock(&c->orch_lock);
}

/* Under j->lock: make c stop. The orchestrator is cancelled outside j->lock (its own locks
 * are taken by orch_cancel and progress events come from under them). */
static void cancel_locked(struct srv_jobs *j, struct srv_job_ctl *c)
{
    atomic_store(&c->cancel, true);
    pthread_mutex_lock(&c->orch_lock);
    pthread_mutex_unlock(&j->lock);
    cancel_attached(c);
    pthread_mutex_unlock(&c->orch_lock);
    pthread_mutex_lock(&j->lock);
}

/* ---- running one job ---- */

static void finish(struct srv_jobs *j, struct store_panel *db, struct srv_job_ctl *c,
                   const struct store_job *job, int rc, const struct zp_err *err)
{
    enum store_job_status st = STORE_JOB_SUCCEEDED;
    char *why = NULL;
    if (atomic_load(&c->shutdown)) {
        st = STORE_JOB_QUEUED;
    } else if (atomic_load(&c->timed_out)) {
        st = STORE_JOB_FAILED;
        char *d = zp_format_duration(c->timeout_ms * 1000000);
        why = zp_asprintf("timed out after %s", d);
        free(d);
    } else if (atomic_load(&c->cancel)) {
        st = STORE_JOB_CANCELLED;
        why = zp_strdup("cancelled");
    } else if (rc != 0) {
        st = STORE_JOB_FAILED;
        why = zp_err_render(err);
    }
    if (st == STORE_JOB_SUCCEEDED && strcmp(job->kind, "delete") == 0) {
        struct zp_err e;
        zp_err_init(&e);
        if (srv_project_forget(j->srv->state_dir, db, job->project, &e) != 0) {
            st = STORE_JOB_FAILED;
            why = zp_err_render(&e);
        }
    }
    double secs = (double)(zp_mono_ns() - c->t0_ns) / 1e9;
    if (st == STORE_JOB_QUEUED)
        srv_job_log(c, "zpanel serve is stopping: the job is interrupted and runs again at the "
                       "next start");
    else if (st == STORE_JOB_SUCCEEDED)
        srv_job_log(c, "job %lld succeeded in %.1fs", (long long)job->id, secs);
    else
        srv_job_log(c, "job %lld %s in %.1fs: %s", (long long)job->id, store_job_status_name(st),
                    secs, why);
    struct zp_err e;
    zp_err_init(&e);
    int64_t now = srv_now_ms();
    if (store_panel_job_finish(db, job->id, st, why, st == STORE_JOB_QUEUED ? 0 : now, &e) != 0)
        srv_log("error", "job=%lld msg=\"recording the end: %s\"", (long long)job->id, e.msg);
    if (st != STORE_JOB_QUEUED)
        srv_notify_job(j->srv, db, job, store_job_status_name(st), why, now);
    if (!j->srv->quiet)
        srv_log("info", "job=%lld kind=%s project=%s status=%s s=%.1f", (long long)job->id,
                job->kind, job->project, store_job_status_name(st), secs);
    free(why);
}

static void run_one(struct srv_jobs *j, struct store_panel *db, struct srv_job_ctl *c,
                    const struct store_job *job)
{
    struct zp_err err;
    zp_err_init(&err);
    int rc;
    if (job->attempts > 1)
        srv_job_log(c,
                    "zpanel serve stopped while this job ran: running it again from the "
                    "start (attempt %lld)",
                    (long long)job->attempts);
    srv_job_log(c, "job %lld: %s of project %s%s%s", (long long)job->id, job->kind, job->project,
                job->user ? " by " : "", job->user ? job->user : "");
    struct store_panel_project p;
    memset(&p, 0, sizeof(p));
    if (srv_app_job_kind(job->kind)) {
        /* gitapps: an app's deploy (api-apps.c) */
        rc = srv_app_job_run(j->srv, job, c, &err);
    } else if ((rc = store_panel_project_get(db, job->project, &p, &err)) == 0) {
        char *dir = srv_project_dir(j->srv->state_dir, job->project);
        struct srv_job_env env = {
            .state_dir = j->srv->state_dir,
            .host = j->srv->host,
            .project_dir = dir,
            .env_json = p.env_json,
        };
        rc = srv_job_run(&env, job, c, &err);
        free(dir);
        store_panel_project_release(&p);
    }
    finish(j, db, c, job, rc, &err);
}

static void *worker(void *arg)
{
    struct srv_jobs *j = arg;
    struct store_panel *db = NULL;
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_open(j->srv->state_dir, &db, &err) != 0) {
        srv_log("error", "msg=\"job worker: %s\"", err.msg);
        return NULL;
    }
    char *jobs_dir = zp_path_join(j->srv->state_dir, "jobs");
    pthread_mutex_lock(&j->lock);
    while (!j->stop) {
        struct store_job job;
        zp_err_init(&err);
        int rc = store_panel_job_claim(db, srv_now_ms(), &job, &err);
        if (rc == ZP_E_NOTFOUND) {
            pthread_cond_wait(&j->work, &j->lock);
            continue;
        }
        if (rc != 0) {
            srv_log("error", "msg=\"claiming a job: %s\"", err.msg);
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&j->work, &j->lock, &ts);
            continue;
        }
        struct srv_job_ctl *c = zp_calloc(1, sizeof(*c));
        c->jobs = j;
        c->id = job.id;
        c->t0_ns = zp_mono_ns();
        c->timeout_ms = srv_job_timeout_ms(job.kind);
        c->deadline_ns = c->t0_ns + c->timeout_ms * 1000000;
        pthread_mutex_init(&c->orch_lock, NULL);
        zp_grow((void **)&j->running, &j->cap, j->nrunning + 1, sizeof(*j->running));
        j->running[j->nrunning++] = c;
        pthread_mutex_unlock(&j->lock);

        mkdir(jobs_dir, 0700);
        char *path = srv_job_log_path(j->srv->state_dir, job.id);
        c->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (c->log_fd < 0)
            srv_log("error", "job=%lld msg=\"opening '%s': %s\"", (long long)job.id, path,
                    strerror(errno));
        free(path);
        run_one(j, db, c, &job);
        if (c->log_fd >= 0)
            close(c->log_fd);

        pthread_mutex_lock(&j->lock);
        for (size_t i = 0; i < j->nrunning; i++) {
            if (j->running[i] == c) {
                j->running[i] = j->running[--j->nrunning];
                break;
            }
        }
        /* a canceller may still hold orch_lock (taken under j->lock before the removal) */
        pthread_mutex_lock(&c->orch_lock);
        pthread_mutex_unlock(&c->orch_lock);
        pthread_mutex_destroy(&c->orch_lock);
        for (size_t i = 0; i < c->nsecrets; i++) {
            sodium_memzero(c->secrets[i], strlen(c->secrets[i]));
            free(c->secrets[i]);
        }
        free(c->secrets);
        free(c);
        store_job_release(&job);
        bump(j);
        atomic_store(&j->garbage, true);
        /* the project is free again: a waiting worker may take its next job */
        pthread_cond_broadcast(&j->work);
    }
    pthread_mutex_unlock(&j->lock);
    free(jobs_dir);
    store_panel_close(db);
    return NULL;
}

void srv_jobs_note_garbage(struct srv_jobs *j)
{
    atomic_store(&j->garbage, true);
}

static void *watchdog(void *arg)
{
    struct srv_jobs *j = arg;
    int64_t last_trim = zp_mono_ns();
    pthread_mutex_lock(&j->lock);
    while (!j->stop) {
        int64_t now = zp_mono_ns();
        /* idle after work: give the freed heap of loads and sessions back to the system
         * (glibc keeps it otherwise), so that an idle serve stays small */
        if (j->nrunning == 0 && now - last_trim > TRIM_EVERY_NS && atomic_load(&j->garbage)) {
            atomic_store(&j->garbage, false);
            last_trim = now;
            pthread_mutex_unlock(&j->lock);
            malloc_trim(0);
            pthread_mutex_lock(&j->lock);
            continue;
        }
        for (size_t i = 0; i < j->nrunning; i++) {
            struct srv_job_ctl *c = j->running[i];
            if (now > c->deadline_ns && !atomic_load(&c->timed_out)) {
                atomic_store(&c->timed_out, true);
                cancel_locked(j, c);
                i = (size_t)-1; /* the list may have changed while unlocked */
                now = zp_mono_ns();
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WATCHDOG_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&j->tick, &j->lock, &ts);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

/* ---- the pool ---- */

int srv_jobs_start(struct server *s, int nworkers, struct srv_jobs **ret, struct zp_err *err)
{
    struct srv_jobs *j = zp_calloc(1, sizeof(*j));
    j->srv = s;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->work, NULL);
    pthread_cond_init(&j->tick, NULL);
    pthread_mutex_init(&j->log_lock, NULL);
    pthread_cond_init(&j->log_cond, NULL);
    /* jobs that a killed serve left running start again from the beginning: convergence
     * is idempotent */
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = store_panel_job_requeue_running(s->pool[0], &ids, &n, err);
    if (rc) {
        srv_jobs_stop(j);
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        srv_log("info", "job=%lld msg=\"interrupted by a stop of serve: queued again\"",
                (long long)ids[i]);
    free(ids);
    j->threads = zp_calloc((size_t)nworkers, sizeof(*j->threads));
    for (int i = 0; i < nworkers; i++) {
        int e = pthread_create(&j->threads[j->nthreads], NULL, worker, j);
        if (e != 0) {
            errno = e;
            rc = zp_err_sys(err, "starting a job worker");
            srv_jobs_stop(j);
            return rc;
        }
        j->nthreads++;
    }
    int e = pthread_create(&j->watchdog, NULL, watchdog, j);
    if (e != 0) {
        errno = e;
        rc = zp_err_sys(err, "starting the job watchdog");
        srv_jobs_stop(j);
        return rc;
    }
    j->watchdog_started = true;
    *ret = j;
    return 0;
}

void srv_jobs_stop(struct srv_jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    j->stop = true;
    for (size_t i = 0; i < j->nrunning; i++) {
        struct srv_job_ctl *c = j->running[i];
        if (atomic_load(&c->shutdown))
            continue;
        atomic_store(&c->shutdown, true);
        cancel_locked(j, c);
        i = (size_t)-1;
    }
    pthread_cond_broadcast(&j->work);
    pthread_cond_broadcast(&j->tick);
    pthread_mutex_unlock(&j->lock);
    for (size_t i = 0; i < j->nthreads; i++)
        pthread_join(j->threads[i], NULL);
    if (j->watchdog_started)
        pthread_join(j->watchdog, NULL);
    free(j->threads);
    free(j->running);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->work);
    pthread_cond_destroy(&j->tick);
    pthread_mutex_destroy(&j->log_lock);
    pthread_cond_destroy(&j->log_cond);
    free(j);
}

void srv_jobs_kick(struct srv_jobs *j)
{
    pthread_mutex_lock(&j->lock);
    pthread_cond_broadcast(&j->work);
    pthread_mutex_unlock(&j->lock);
}

size_t srv_jobs_nrunning(struct srv_jobs *j)
{
    pthread_mutex_lock(&j->lock);
    size_t n = j->nrunning;
    pthread_mutex_unlock(&j->lock);
    return n;
}

int srv_jobs_cancel(struct srv_jobs *j, struct store_panel *db, int64_t id, struct zp_err *err)
{
    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; i < j->nrunning; i++) {
        struct srv_job_ctl *c = j->running[i];
        if (c->id != id)
            continue;
        if (!atomic_load(&c->cancel)) {
            srv_job_log(c, "cancel requested");
            cancel_locked(j, c);
        }
        pthread_mutex_unlock(&j->lock);
        return 0;
    }
    /* not running: claims happen under j->lock, so it cannot start meanwhile */
    int rc = store_panel_job_cancel_queued(db, id, srv_now_ms(), err);
    pthread_mutex_unlock(&j->lock);
    if (rc == 0)
        bump(j);
    return rc;
}

/* server/notify: where the results of jobs go. The channels (webhooks, email) live in
 * zpanel.db with their secrets sealed; when a job ends, the channels that want it are
 * queued for one thread that delivers them (notify_send), retrying a failure with backoff
 * and logging every failure: a slow or failing channel never holds a job up. The queue is
 * in memory: deliveries still pending when serve stops are logged as lost. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../notify/notify.h"
#include "../store/store.h"
#include "server-int.h"

#include "../util/banned.h"

#define QUEUE_MAX 1000
#define ATTEMPTS 4 /* one try and three retries */
#define SEND_TIMEOUT_MS 10000

struct item {
    struct notify_channel ch; /* secret opened */
    char *event, *project, *status, *error, *user;
    int64_t job, started_ms, finished_ms;
    int attempt;     /* tries made */
    int64_t next_ms; /* not before (wall clock) */
};

struct srv_notifier {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct item *q; /* unordered; the thread takes the one due first */
    size_t n, cap;
    bool stop;
    bool quiet;
    int64_t backoff_ms; /* the first retry's delay; each next is 5 times longer */
};

static void item_release(struct item *it)
{
    notify_channel_release(&it->ch);
    free(it->event);
    free(it->project);
    free(it->status);
    free(it->error);
    free(it->user);
}

static void event_of(const struct item *it, struct notify_event *ev)
{
    *ev = (struct notify_event){
        .event = it->event,
        .project = it->project,
        .job = it->job,
        .status = it->status,
        .error = it->error,
        .user = it->user,
        .started_ms = it->started_ms,
        .finished_ms = it->finished_ms,
    };
}

static const char *kind_name(enum notify_kind k)
{
    return k == NOTIFY_WEBHOOK ? "webhook" : "email";
}

static void *notifier_main(void *arg)
{
    struct srv_notifier *nt = arg;
    pthread_mutex_lock(&nt->lock);
    for (;;) {
        if (nt->stop)
            break;
        size_t due = nt->n;
        for (size_t i = 0; i < nt->n; i++)
            if (due == nt->n || nt->q[i].next_ms < nt->q[due].next_ms)
                due = i;
        int64_t now = srv_now_ms();
        if (due == nt->n || nt->q[due].next_ms > now) {
            if (due == nt->n) {
                pthread_cond_wait(&nt->cond, &nt->lock);
            } else {
                int64_t at = nt->q[due].next_ms;
                struct timespec ts = {(time_t)(at / 1000), (long)(at % 1000) * 1000000L};
                pthread_cond_timedwait(&nt->cond, &nt->lock, &ts); /* CLOCK_REALTIME */
            }
            continue;
        }
        struct item it = nt->q[due];
        nt->q[due] = nt->q[--nt->n];
        pthread_mutex_unlock(&nt->lock);

        struct notify_event ev;
        event_of(&it, &ev);
        struct zp_err err;
        zp_err_init(&err);
        it.attempt++;
        int rc = notify_send(&it.ch, &ev, SEND_TIMEOUT_MS, &err);
        if (rc == 0) {
            if (!nt->quiet)
                srv_log("info", "notify=%" PRId64 " kind=%s job=%" PRId64 " msg=\"sent\"", it.ch.id,
                        kind_name(it.ch.kind), it.job);
            item_release(&it);
            pthread_mutex_lock(&nt->lock);
            continue;
        }
        bool again = it.attempt < ATTEMPTS;
        int64_t delay = nt->backoff_ms;
        for (int k = 1; k < it.attempt; k++)
            delay *= 5;
        srv_log(again ? "warn" : "error",
                "notify=%" PRId64 " kind=%s job=%" PRId64 " attempt=%d msg=\"%s%s\"", it.ch.id,
                kind_name(it.ch.kind), it.job, it.attempt, err.msg,
                again ? "; trying again" : "; giving up");
        pthread_mutex_lock(&nt->lock);
        if (again && !nt->stop) {
            it.next_ms = srv_now_ms() + delay;
            zp_grow((void **)&nt->q, &nt->cap, nt->n + 1, sizeof(*nt->q));
            nt->q[nt->n++] = it;
        } else {
            item_release(&it);
        }
    }
    pthread_mutex_unlock(&nt->lock);
    return NULL;
}

int srv_notifier_start(bool quiet, struct srv_notifier **ret, struct zp_err *err)
{
    struct srv_notifier *nt = zp_calloc(1, sizeof(*nt));
    nt->quiet = quiet;
    nt->backoff_ms = 1000;
    /* tests only: a shorter first backoff (milliseconds) */
    const char *b = getenv("ZPANEL_NOTIFY_BACKOFF_MS");
    int64_t v;
    if (b != NULL && zp_parse_int64(b, 1, 60000, &v) == 0)
        nt->backoff_ms = v;
    pthread_mutex_init(&nt->lock, NULL);
    pthread_cond_init(&nt->cond, NULL);
    if (pthread_create(&nt->thread, NULL, notifier_main, nt) != 0) {
        pthread_mutex_destroy(&nt->lock);
        pthread_cond_destroy(&nt->cond);
        free(nt);
        return zp_err_sys(err, "starting the notification thread");
    }
    *ret = nt;
    return 0;
}

void srv_notifier_stop(struct srv_notifier *nt)
{
    if (!nt)
        return;
    pthread_mutex_lock(&nt->lock);
    nt->stop = true;
    pthread_cond_broadcast(&nt->cond);
    pthread_mutex_unlock(&nt->lock);
    pthread_join(nt->thread, NULL);
    for (size_t i = 0; i < nt->n; i++) {
        srv_log("error", "notify=%" PRId64 " job=%" PRId64 " msg=\"not sent: serve stopped\"",
                nt->q[i].ch.id, nt->q[i].job);
        item_release(&nt->q[i]);
    }
    free(nt->q);
    pthread_mutex_destroy(&nt->lock);
    pthread_cond_destroy(&nt->cond);
    free(nt);
}

/* ---- channels ---- */

static char *dup_or_null(const char *s)
{
    return s ? zp_strdup(s) : NULL;
}

int srv_channel_open(const char *state_dir, const struct store_channel *sc,
                     struct notify_channel *ret, struct zp_err *err)
{
    memset(ret, 0, sizeof(*ret));
    ret->id = sc->id;
    ret->kind = strcmp(sc->kind, "webhook") == 0 ? NOTIFY_WEBHOOK : NOTIFY_SMTP;
    ret->project = dup_or_null(sc->project);
    ret->url = zp_strdup(sc->url);
    ret->user = dup_or_null(sc->user);
    ret->from = dup_or_null(sc->mail_from);
    ret->to = dup_or_null(sc->mail_to);
    ret->events = dup_or_null(sc->events);
    ret->failures_only = sc->failures_only;
    if (sc->secret != NULL) {
        char *what = zp_asprintf("channel %" PRId64 "'s secret", sc->id);
        int rc = store_secret_open(state_dir, what, sc->secret, &ret->secret, err);
        free(what);
        if (rc != 0) {
            notify_channel_release(ret);
            return rc;
        }
    }
    return 0;
}

int srv_channel_add(const char *state_dir, struct store_panel *db, const struct notify_channel *c,
                    int64_t *ret_id, struct zp_err *err)
{
    int rc = notify_channel_check(c, err);
    if (rc)
        return rc;
    if (c->project != NULL && !store_project_name_valid(c->project))
        return zp_err_set(err, ZP_E_INPUT, NULL, "project: '%s' is not a project name", c->project);
    struct store_channel sc = {
        .project = c->project,
        .kind = (char *)kind_name(c->kind),
        .url = c->url,
        .user = c->user,
        .mail_from = c->from,
        .mail_to = c->to,
        .events = c->events,
        .failures_only = c->failures_only,
    };
    char *sealed = NULL;
    if (c->secret != NULL && (rc = store_secret_seal(state_dir, c->secret, &sealed, err)) != 0)
        return rc;
    sc.secret = sealed;
    rc = store_panel_channel_add(db, &sc, err);
    free(sealed);
    if (rc == 0)
        *ret_id = sc.id;
    return rc;
}

int srv_channel_test(const char *state_dir, struct store_panel *db, int64_t id, const char *user,
                     struct zp_err *err)
{
    struct store_channel *v = NULL;
    size_t n = 0;
    int rc = store_panel_channel_list(db, &v, &n, err);
    if (rc)
        return rc;
    size_t i = 0;
    while (i < n && v[i].id != id)
        i++;
    if (i == n) {
        store_channels_free(v, n);
        return zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such channel %" PRId64, id);
    }
    struct notify_channel ch;
    rc = srv_channel_open(state_dir, &v[i], &ch, err);
    store_channels_free(v, n);
    if (rc)
        return rc;
    int64_t now = srv_now_ms();
    struct notify_event ev = {
        .event = "test",
        .project = ch.project ? ch.project : "*",
        .status = "succeeded",
        .user = user,
        .started_ms = now,
        .finished_ms = now,
    };
    rc = notify_send(&ch, &ev, SEND_TIMEOUT_MS, err);
    notify_channel_release(&ch);
    return rc;
}

void srv_notify_job(struct server *s, struct store_panel *db, const struct store_job *job,
                    const char *status, const char *error, int64_t finished_ms)
{
    if (s->notifier == NULL)
        return;
    struct zp_err err;
    zp_err_init(&err);
    struct store_channel *v = NULL;
    size_t n = 0;
    if (store_panel_channel_list(db, &v, &n, &err) != 0) {
        srv_log("error", "job=%" PRId64 " msg=\"reading the notification channels: %s\"", job->id,
                err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct item it = {.job = job->id, .started_ms = job->started, .finished_ms = finished_ms};
        if (srv_channel_open(s->state_dir, &v[i], &it.ch, &err) != 0) {
            srv_log("error", "notify=%" PRId64 " job=%" PRId64 " msg=\"%s\"", v[i].id, job->id,
                    err.msg);
            zp_err_init(&err);
            continue;
        }
        if (!notify_wants(&it.ch, job->project, job->kind, status)) {
            notify_channel_release(&it.ch);
            continue;
        }
        it.event = zp_strdup(job->kind);
        it.project = zp_strdup(job->project);
        it.status = zp_strdup(status);
        it.error = dup_or_null(error);
        it.user = dup_or_null(job->user);
        it.next_ms = 0;
        struct srv_notifier *nt = s->notifier;
        pthread_mutex_lock(&nt->lock);
        if (nt->n >= QUEUE_MAX) {
            srv_log("error",
                    "notify=%" PRId64 " job=%" PRId64 " msg=\"not sent: %d deliveries "
                    "are waiting already\"",
                    v[i].id, job->id, QUEUE_MAX);
            item_release(&it);
        } else {
            zp_grow((void **)&nt->q, &nt->cap, nt->n + 1, sizeof(*nt->q));
            nt->q[nt->n++] = it;
            pthread_cond_signal(&nt->cond);
        }
        pthread_mutex_unlock(&nt->lock);
    }
    store_channels_free(v, n);
}

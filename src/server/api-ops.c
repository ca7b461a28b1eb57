/* server/api-ops: operating views of a project: GET /projects/{name}/stats (the rows of
 * `zpanel status`: state, health verdict, usage) and GET /projects/{name}/logs (the last
 * lines of its containers, as `zpanel logs --tail N`; with follow=true as server-sent
 * events until the client leaves or the containers stop). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "../orchestrator/status.h"
#include "../store/store.h"
#include "server-int.h"

#include "../util/banned.h"

#define LOGS_MAX (8 * 1024 * 1024) /* the whole answer of /logs */
#define TAIL_DEFAULT 100
#define FOLLOW_PENDING_MAX (1024 * 1024) /* lines waiting for a slow client; beyond: dropped */
#define FOLLOW_LINE_MAX (64 * 1024)
#define FOLLOW_KEEPALIVE_S 15

/* Load the route's project and open an orchestrator session on it; on failure the reply
 * is set. */
static bool open_project(struct srv_req *req, struct srv_resp *resp, struct compose_project **ret_p,
                         struct orch **ret_o)
{
    struct store_panel_project p;
    if (!srv_route_project(req, resp, &p))
        return false;
    struct zp_err err;
    zp_err_init(&err);
    char *dir = srv_project_dir(req->srv->state_dir, p.name);
    struct zp_diags d;
    zp_diags_init(&d);
    struct compose_project *cp = NULL;
    int rc = srv_project_load(req->srv->state_dir, dir, p.name, p.env_json, &cp, &d);
    zp_diags_release(&d);
    free(dir);
    store_panel_project_release(&p);
    if (rc != 0) {
        srv_reply_error(resp, 500, "internal", NULL, "the stored project no longer loads");
        return false;
    }
    if (orch_new(cp, req->srv->host, NULL, NULL, ret_o, &err) != 0) {
        compose_project_free(cp);
        srv_reply_zerr(resp, &err);
        return false;
    }
    *ret_p = cp;
    return true;
}

void srv_api_project_stats(struct srv_req *req, struct srv_resp *resp)
{
    struct compose_project *cp;
    struct orch *o;
    if (!open_project(req, resp, &cp, &o))
        return;
    struct orch_status_opts so;
    memset(&so, 0, sizeof(so));
    struct orch_status_row *rows = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (orch_status(o, &so, &rows, &n, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct orch_status_row *r = &rows[i];
        json_t *row = json_pack("{s:s, s:s?, s:s, s:s?, s:s, s:s?, s:I, s:I, s:I}", "service",
                                r->service, "name", r->name, "state", r->state, "health", r->health,
                                "verdict", orch_verdict_name(r->verdict), "reason", r->reason,
                                "restart_count", (json_int_t)r->restart_count, "uptime_s",
                                (json_int_t)r->uptime_s, "exit_code", (json_int_t)r->exit_code);
        if (r->health_excluded)
            json_object_set_new(row, "health_excluded", json_true());
        if (r->have_usage) {
            json_object_set_new(row, "cpu_avg_percent", json_real(r->cpu_avg_percent));
            json_object_set_new(row, "mem_used", json_integer((json_int_t)r->mem_used));
            json_object_set_new(row, "mem_limit", json_integer((json_int_t)r->mem_cgroup_limit));
        }
        json_array_append_new(arr, row);
    }
    srv_reply_json(resp, 200, json_pack("{s:o}", "containers", arr));
out:
    orch_status_rows_free(rows, n);
    orch_free(o);
    compose_project_free(cp);
}

struct logs_ctx {
    struct zp_buf *out;
    const char *name;
    bool at_line_start;
    bool truncated;
};

static int on_frame(void *ctx, enum engine_stream stream, const char *data, size_t len,
                    struct zp_err *err)
{
    (void)stream;
    struct logs_ctx *l = ctx;
    for (size_t i = 0; i < len; i++) {
        if (l->at_line_start && zp_buf_addf(l->out, "%s | ", l->name) != 0)
            goto full;
        if (zp_buf_addc(l->out, data[i]) != 0)
            goto full;
        l->at_line_start = data[i] == '\n';
    }
    return 0;
full:
    l->truncated = true;
    return zp_err_set(err, ZP_E_TOOBIG, NULL, "logs larger than %d bytes", LOGS_MAX);
}

/* ---- follow: every container's log as server-sent events ---- */

struct follow;

struct follow_src {
    struct follow *f;
    struct engine *e;
    char *id, *name;
    struct engine_logs_opts eo;
    struct zp_buf partial; /* the unfinished line (this thread only) */
    pthread_t thread;
    bool started;
};

struct follow {
    struct server *srv;
    pthread_mutex_t lock; /* guards pending, dropped, live */
    pthread_cond_t cond;
    struct zp_buf pending; /* complete lines "NAME | TEXT\n" */
    size_t dropped;
    size_t live; /* streams still open */
    struct follow_src *src;
    size_t n;
    /* the reader's own (MHD's thread) */
    struct zp_buf out;
    size_t out_off;
    int64_t line_no;
    bool done;
};

static void follow_push(struct follow_src *s)
{
    struct follow *f = s->f;
    pthread_mutex_lock(&f->lock);
    if (f->pending.len + s->partial.len + strlen(s->name) + 4 > FOLLOW_PENDING_MAX) {
        f->dropped++;
    } else {
        zp_buf_addf(&f->pending, "%s | ", s->name);
        zp_buf_add(&f->pending, s->partial.p ? s->partial.p : "", s->partial.len);
        zp_buf_addc(&f->pending, '\n');
    }
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    zp_buf_reset(&s->partial);
}

static int follow_frame(void *ctx, enum engine_stream stream, const char *data, size_t len,
                        struct zp_err *err)
{
    (void)stream;
    (void)err;
    struct follow_src *s = ctx;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            follow_push(s);
            continue;
        }
        if (s->partial.len >= FOLLOW_LINE_MAX)
            follow_push(s);
        zp_buf_addc(&s->partial, data[i]);
    }
    return 0;
}

static void *follow_thread(void *arg)
{
    struct follow_src *s = arg;
    struct zp_err err;
    zp_err_init(&err);
    engine_container_logs(s->e, s->id, &s->eo, follow_frame, s, &err);
    if (s->partial.len)
        follow_push(s);
    pthread_mutex_lock(&s->f->lock);
    s->f->live--;
    pthread_cond_broadcast(&s->f->cond);
    pthread_mutex_unlock(&s->f->lock);
    return NULL;
}

static void follow_free(void *cls)
{
    struct follow *f = cls;
    for (size_t i = 0; i < f->n; i++)
        if (f->src[i].started)
            engine_cancel(f->src[i].e);
    for (size_t i = 0; i < f->n; i++) {
        struct follow_src *s = &f->src[i];
        if (s->started)
            pthread_join(s->thread, NULL);
        engine_free(s->e);
        free(s->id);
        free(s->name);
        zp_buf_release(&s->partial);
    }
    free(f->src);
    zp_buf_release(&f->pending);
    zp_buf_release(&f->out);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
    free(f);
}

static ssize_t follow_read(void *cls, char *buf, size_t max)
{
    struct follow *f = cls;
    for (;;) {
        if (f->out_off < f->out.len) {
            size_t n = f->out.len - f->out_off;
            if (n > max)
                n = max;
            memcpy(buf, f->out.p + f->out_off, n);
            f->out_off += n;
            if (f->out_off == f->out.len) {
                zp_buf_reset(&f->out);
                f->out_off = 0;
            }
            return (ssize_t)n;
        }
        if (f->done || atomic_load(&f->srv->stopping))
            return -1;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += FOLLOW_KEEPALIVE_S;
        pthread_mutex_lock(&f->lock);
        bool timed_out = false;
        while (f->pending.len == 0 && f->live > 0 && !atomic_load(&f->srv->stopping) && !timed_out)
            timed_out = pthread_cond_timedwait(&f->cond, &f->lock, &ts) == ETIMEDOUT;
        char *lines = NULL;
        size_t len = 0;
        if (f->pending.len)
            lines = zp_buf_detach(&f->pending, &len);
        size_t dropped = f->dropped;
        f->dropped = 0;
        bool ended = f->live == 0 && len == 0;
        pthread_mutex_unlock(&f->lock);
        if (dropped)
            zp_buf_addf(&f->out, "event: dropped\ndata: %zu lines\n\n", dropped);
        for (size_t start = 0, i = 0; i < len; i++) {
            if (lines[i] == '\n') {
                srv_sse_frame(&f->out, ++f->line_no, lines + start, i - start);
                start = i + 1;
            }
        }
        free(lines);
        if (ended) {
            zp_buf_adds(&f->out, "event: end\ndata: every container stopped\n\n");
            f->done = true;
        } else if (timed_out && f->out.len == 0) {
            zp_buf_adds(&f->out, ": keep-alive\n\n");
        }
    }
}

/* ?follow=true: one thread and engine connection per running container, until the client
 * leaves or every container stops. */
static void follow_logs(struct srv_req *req, struct srv_resp *resp, struct orch *o,
                        const struct orch_container *cs, size_t n, int64_t tail)
{
    struct follow *f = zp_calloc(1, sizeof(*f));
    f->srv = req->srv;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    zp_buf_init(&f->pending, 0);
    zp_buf_init(&f->out, 0);
    f->src = zp_calloc(n ? n : 1, sizeof(*f->src));
    struct zp_err err;
    for (size_t i = 0; i < n; i++) {
        if (cs[i].oneoff || strcmp(cs[i].state, "running") != 0)
            continue;
        struct engine_container ct;
        zp_err_init(&err);
        if (engine_container_inspect(orch_engine(o), cs[i].id, &ct, &err) != 0)
            continue;
        struct follow_src *s = &f->src[f->n];
        s->f = f;
        s->eo.follow = true;
        s->eo.tail = tail;
        s->eo.tail_zero = tail == 0;
        s->eo.tty = ct.tty;
        engine_container_release(&ct);
        s->id = zp_strdup(cs[i].id);
        s->name = zp_strdup(cs[i].name);
        zp_buf_init(&s->partial, FOLLOW_LINE_MAX + 1);
        zp_err_init(&err);
        s->e = engine_new(req->srv->host, &err);
        f->n++;
        if (!s->e)
            continue;
        engine_adopt_version(s->e, orch_engine(o));
        pthread_mutex_lock(&f->lock);
        f->live++;
        pthread_mutex_unlock(&f->lock);
        if (pthread_create(&s->thread, NULL, follow_thread, s) != 0) {
            pthread_mutex_lock(&f->lock);
            f->live--;
            pthread_mutex_unlock(&f->lock);
            continue;
        }
        s->started = true;
    }
    resp->status = 200;
    resp->type = "text/event-stream";
    resp->stream = follow_read;
    resp->stream_cls = f;
    resp->stream_free = follow_free;
}

void srv_api_project_logs(struct srv_req *req, struct srv_resp *resp)
{
    const char *service = srv_req_query(req, "service");
    const char *tail_s = srv_req_query(req, "tail");
    const char *follow = srv_req_query(req, "follow");
    int64_t tail = TAIL_DEFAULT;
    if (tail_s && zp_parse_int64(tail_s, 0, 100000, &tail) != 0) {
        srv_reply_error(resp, 400, "bad_request", NULL, "tail: '%s' is not from 0 to 100000",
                        tail_s);
        return;
    }
    if (follow && strcmp(follow, "true") != 0 && strcmp(follow, "false") != 0) {
        srv_reply_error(resp, 400, "bad_request", NULL, "follow: '%s' is not true or false",
                        follow);
        return;
    }
    struct compose_project *cp;
    struct orch *o;
    if (!open_project(req, resp, &cp, &o))
        return;
    const char *svc[1] = {service};
    struct orch_container *cs = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (service && !zp_node_get(zp_node_get(cp->model, "services"), service)) {
        srv_reply_error(resp, 404, "not_found", NULL, "no such service '%s'", service);
        goto out;
    }
    if (orch_ps(o, service ? svc : NULL, service ? 1 : 0, true, &cs, &n, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    if (follow && strcmp(follow, "true") == 0) {
        follow_logs(req, resp, o, cs, n, tail);
        goto out;
    }
    struct zp_buf text;
    zp_buf_init(&text, LOGS_MAX);
    struct engine_logs_opts eo;
    memset(&eo, 0, sizeof(eo));
    eo.tail = tail;
    eo.tail_zero = tail == 0;
    bool truncated = false;
    for (size_t i = 0; i < n && !truncated; i++) {
        if (cs[i].oneoff)
            continue;
        struct engine_container ct;
        zp_err_init(&err);
        if (engine_container_inspect(orch_engine(o), cs[i].id, &ct, &err) != 0)
            continue; /* removed meanwhile */
        eo.tty = ct.tty;
        engine_container_release(&ct);
        struct logs_ctx l = {&text, cs[i].name, true, false};
        zp_err_init(&err);
        if (engine_container_logs(orch_engine(o), cs[i].id, &eo, on_frame, &l, &err) != 0 &&
            !l.truncated) {
            zp_buf_release(&text);
            srv_reply_zerr(resp, &err);
            goto out;
        }
        if (!l.at_line_start)
            zp_buf_addc(&text, '\n');
        truncated = l.truncated;
    }
    srv_reply_text(resp, 200, "text/plain; charset=utf-8", zp_buf_cstr(&text), text.len);
    zp_buf_release(&text);
out:
    orch_containers_free(cs, n);
    orch_free(o);
    compose_project_free(cp);
}

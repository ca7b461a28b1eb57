/* server/api-jobs: /api/v1/jobs: list, one job, cancel, and its log as plain text or as
 * server-sent events (replay from the first line, then follow until the job ends). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server-int.h"

#include "../util/banned.h"

#define SSE_KEEPALIVE_MS 15000
#define SSE_LINE_MAX (64 * 1024) /* a longer log line is cut into frames of this size */

static json_t *time_json(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)(ms % 1000));
    return json_string(buf);
}

json_t *srv_job_json(const struct store_job *j)
{
    json_t *args = json_loads(j->args_json ? j->args_json : "{}", 0, NULL);
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s?, s:I, s:o}", "id",
                     (json_int_t)j->id, "kind", j->kind, "project", j->project, "status",
                     store_job_status_name(j->status), "created", time_json(j->created), "started",
                     time_json(j->started), "finished", time_json(j->finished), "error",
                     j->error ? json_string(j->error) : json_null(), "user", j->user, "attempts",
                     (json_int_t)j->attempts, "args", args ? args : json_object());
}

/* The {id} of the route; on failure the reply is set. */
static bool route_id(struct srv_req *req, struct srv_resp *resp, int64_t *ret)
{
    if (zp_parse_int64(req->params[0], 1, INT64_MAX, ret) != 0) {
        srv_reply_error(resp, 404, "not_found", NULL, "no such job '%s'", req->params[0]);
        return false;
    }
    return true;
}

/* The route's job into *ret (store_job_release) and its id; false with the reply set. */
static bool route_job(struct srv_req *req, struct srv_resp *resp, int64_t *ret_id,
                      struct store_job *ret)
{
    if (!route_id(req, resp, ret_id))
        return false;
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_job_get(req->db, *ret_id, ret, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return false;
    }
    return true;
}

void srv_api_jobs_list(struct srv_req *req, struct srv_resp *resp)
{
    const char *project = srv_req_query(req, "project");
    const char *status = srv_req_query(req, "status");
    const char *limit_s = srv_req_query(req, "limit");
    int st = -1;
    int64_t limit = 100;
    if (status && (st = store_job_status_parse(status)) < 0) {
        srv_reply_error(resp, 400, "bad_request", NULL,
                        "status: '%s' is not one of queued, running, succeeded, failed, "
                        "cancelled",
                        status);
        return;
    }
    if (limit_s && zp_parse_int64(limit_s, 1, 1000, &limit) != 0) {
        srv_reply_error(resp, 400, "bad_request", NULL, "limit: '%s' is not from 1 to 1000",
                        limit_s);
        return;
    }
    struct store_job *jobs;
    size_t n;
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_job_list(req->db, project, st, (size_t)limit, &jobs, &n, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, srv_job_json(&jobs[i]));
    store_jobs_free(jobs, n);
    srv_reply_json(resp, 200, json_pack("{s:o}", "jobs", arr));
}

void srv_api_job_get(struct srv_req *req, struct srv_resp *resp)
{
    int64_t id;
    struct store_job j;
    if (!route_job(req, resp, &id, &j))
        return;
    srv_reply_json(resp, 200, srv_job_json(&j));
    store_job_release(&j);
}

void srv_api_job_cancel(struct srv_req *req, struct srv_resp *resp)
{
    int64_t id;
    if (!route_id(req, resp, &id))
        return;
    struct zp_err err;
    zp_err_init(&err);
    if (srv_jobs_cancel(req->srv->jobs, req->db, id, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    struct store_job j;
    if (store_panel_job_get(req->db, id, &j, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    srv_reply_json(resp, 202, json_pack("{s:o}", "job", srv_job_json(&j)));
    store_job_release(&j);
}

/* ---- the log as server-sent events ---- */

struct log_stream {
    struct server *srv;
    struct store_panel *db; /* its own connection: a stream can last long */
    int64_t id;
    char *path;
    int fd;             /* -1 until the file exists */
    struct zp_buf line; /* the unfinished last line */
    struct zp_buf out;  /* frames not yet handed to MHD */
    size_t out_off;
    int64_t line_no;
    bool ended; /* the job is over: read to the end once more, then finish */
    bool done;
};

static void log_stream_free(void *cls)
{
    struct log_stream *ls = cls;
    if (ls->fd >= 0)
        close(ls->fd);
    store_panel_close(ls->db);
    zp_buf_release(&ls->line);
    zp_buf_release(&ls->out);
    free(ls->path);
    free(ls);
}

static void frame_line(struct log_stream *ls)
{
    srv_sse_frame(&ls->out, ++ls->line_no, zp_buf_cstr(&ls->line), ls->line.len);
    zp_buf_reset(&ls->line);
}

/* Read what the file has beyond what was read; false at its end. */
static bool read_more(struct log_stream *ls)
{
    if (ls->fd < 0) {
        ls->fd = open(ls->path, O_RDONLY | O_CLOEXEC);
        if (ls->fd < 0)
            return false;
    }
    char buf[16 * 1024];
    ssize_t n = read(ls->fd, buf, sizeof(buf));
    if (n <= 0)
        return false;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            frame_line(ls);
            continue;
        }
        if (ls->line.len >= SSE_LINE_MAX)
            frame_line(ls);
        zp_buf_addc(&ls->line, buf[i]);
    }
    return true;
}

static ssize_t log_stream_read(void *cls, char *buf, size_t max)
{
    struct log_stream *ls = cls;
    for (;;) {
        if (ls->out_off < ls->out.len) {
            size_t n = ls->out.len - ls->out_off;
            if (n > max)
                n = max;
            memcpy(buf, ls->out.p + ls->out_off, n);
            ls->out_off += n;
            if (ls->out_off == ls->out.len) {
                zp_buf_reset(&ls->out);
                ls->out_off = 0;
            }
            return (ssize_t)n;
        }
        if (ls->done || atomic_load(&ls->srv->stopping))
            return -1;
        uint64_t seq = srv_jobs_seq(ls->srv->jobs);
        if (read_more(ls))
            continue;
        if (ls->ended) {
            if (ls->line.len)
                frame_line(ls);
            struct store_job j;
            struct zp_err err;
            zp_err_init(&err);
            const char *status = "unknown";
            bool got = store_panel_job_get(ls->db, ls->id, &j, &err) == 0;
            if (got)
                status = store_job_status_name(j.status);
            zp_buf_addf(&ls->out, "event: end\ndata: %s\n\n", status);
            if (got)
                store_job_release(&j);
            ls->done = true;
            continue;
        }
        struct store_job j;
        struct zp_err err;
        zp_err_init(&err);
        if (store_panel_job_get(ls->db, ls->id, &j, &err) != 0) {
            ls->ended = true;
            continue;
        }
        bool over = j.status != STORE_JOB_QUEUED && j.status != STORE_JOB_RUNNING;
        store_job_release(&j);
        if (over) {
            ls->ended = true;
            continue;
        }
        srv_jobs_wait(ls->srv->jobs, seq, SSE_KEEPALIVE_MS);
        if (srv_jobs_seq(ls->srv->jobs) == seq)
            zp_buf_adds(&ls->out, ": keep-alive\n\n");
    }
}

void srv_api_job_log(struct srv_req *req, struct srv_resp *resp)
{
    int64_t id;
    struct store_job j;
    if (!route_job(req, resp, &id, &j))
        return;
    store_job_release(&j);
    struct zp_err err;
    zp_err_init(&err);
    char *path = srv_job_log_path(req->srv->state_dir, id);
    const char *accept = srv_req_header(req, "Accept");
    if (accept && strstr(accept, "text/event-stream")) {
        struct log_stream *ls = zp_calloc(1, sizeof(*ls));
        ls->srv = req->srv;
        ls->id = id;
        ls->path = path;
        ls->fd = -1;
        zp_buf_init(&ls->line, SSE_LINE_MAX + 1);
        zp_buf_init(&ls->out, 0);
        if (store_panel_open(req->srv->state_dir, &ls->db, &err) != 0) {
            log_stream_free(ls);
            srv_reply_zerr(resp, &err);
            return;
        }
        resp->status = 200;
        resp->type = "text/event-stream";
        resp->stream = log_stream_read;
        resp->stream_cls = ls;
        resp->stream_free = log_stream_free;
        return;
    }
    char *text = NULL;
    size_t len = 0;
    /* a job that has not run yet has no log: an empty text */
    if (zp_file_read(path, 64 * 1024 * 1024, &text, &len, &err) != 0 && err.code != ZP_E_NOTFOUND)
        srv_reply_zerr(resp, &err);
    else
        srv_reply_text(resp, 200, "text/plain; charset=utf-8", text ? text : "", len);
    free(text);
    free(path);
}

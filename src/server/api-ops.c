/* server/api-ops: operating views of a project: GET /projects/{name}/stats (the rows of
 * `zpanel status`: state, health verdict, usage) and GET /projects/{name}/logs (the last
 * lines of its containers, as `zpanel logs --tail N`). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "../orchestrator/status.h"
#include "../store/store.h"
#include "server-int.h"

#include "../util/banned.h"

#define LOGS_MAX (8 * 1024 * 1024) /* the whole answer of /logs */
#define TAIL_DEFAULT 100

/* Load the route's project and open an orchestrator session on it; on failure the reply
 * is set. */
static bool open_project(struct srv_req *req, struct srv_resp *resp, struct compose_project **ret_p,
                         struct orch **ret_o)
{
    struct store_panel_project p;
    struct zp_err err;
    zp_err_init(&err);
    if (!store_project_name_valid(req->params[0])) {
        srv_reply_error(resp, 404, "not_found", NULL, "no such project '%s'", req->params[0]);
        return false;
    }
    if (store_panel_project_get(req->db, req->params[0], &p, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return false;
    }
    char *dir = srv_project_dir(req->srv->state_dir, p.name);
    struct zp_diags d;
    zp_diags_init(&d);
    struct compose_project *cp = NULL;
    int rc = srv_project_load(dir, p.name, p.env_json, &cp, &d);
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
    if (follow && strcmp(follow, "false") != 0) {
        srv_reply_error(resp, 501, "not_implemented", NULL,
                        "follow is not available yet: poll with tail, or use 'zpanel logs -f'");
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

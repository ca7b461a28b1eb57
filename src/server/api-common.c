/* server/api-common: what the handlers of api-*.c share: the request's JSON body and its
 * members, and the project the route names. */
#include <stdlib.h>
#include <string.h>

#include "../store/store.h"
#include "server-int.h"

#include "../util/banned.h"

json_t *srv_req_body(const struct srv_req *req, struct srv_resp *resp)
{
    json_t *body = NULL;
    struct zp_err err;
    zp_err_init(&err);
    if (srv_json_parse_object(req->body, req->body_len, &body, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return NULL;
    }
    return body;
}

bool srv_body_str(json_t *body, const char *name, const char **ret, struct srv_resp *resp)
{
    json_t *v = json_object_get(body, name);
    *ret = NULL;
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        srv_reply_error(resp, 400, "bad_request", NULL, "%s: must be a string", name);
        return false;
    }
    *ret = json_string_value(v);
    return true;
}

bool srv_body_strs(json_t *body, const char *const *names, size_t n, const char **ret,
                   struct srv_resp *resp)
{
    for (size_t i = 0; i < n; i++)
        if (!srv_body_str(body, names[i], &ret[i], resp))
            return false;
    return true;
}

bool srv_route_project(struct srv_req *req, struct srv_resp *resp, struct store_panel_project *ret)
{
    struct zp_err err;
    zp_err_init(&err);
    if (!store_project_name_valid(req->params[0])) {
        srv_reply_error(resp, 404, "not_found", NULL, "no such project '%s'", req->params[0]);
        return false;
    }
    if (store_panel_project_get(req->db, req->params[0], ret, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return false;
    }
    return true;
}

void srv_queue_job(struct srv_req *req, struct srv_resp *resp, const char *project,
                   const char *kind, json_t *args)
{
    if (!args)
        args = json_object();
    char *args_text = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(args);
    struct store_job j;
    memset(&j, 0, sizeof(j));
    j.project = (char *)project;
    j.kind = (char *)kind;
    j.args_json = args_text;
    j.user = req->authed ? req->auth.user : NULL;
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_job_add(req->db, &j, &err) != 0) {
        srv_reply_zerr(resp, &err);
    } else {
        srv_jobs_kick(req->srv->jobs);
        srv_reply_json(resp, 202, json_pack("{s:o}", "job", srv_job_json(&j)));
    }
    free(args_text);
}

/* server/api-admin: accounts and the audit trail for admins (the dashboard's admin page):
 * users (list, add with a password, remove), API tokens and sessions (list without their
 * secrets, create: the token's text is answered once, revoke) and the audit log. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server-int.h"

#include "../util/banned.h"

#define AUDIT_LIMIT_MAX 1000

void srv_api_users_list(struct srv_req *req, struct srv_resp *resp)
{
    struct store_user_row *u = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_user_list(req->db, &u, &n, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)u[i].id,
                                             "name", u[i].name, "role", store_role_name(u[i].role),
                                             "created", (json_int_t)u[i].created));
    store_user_rows_free(u, n);
    srv_reply_json(resp, 200, json_pack("{s:o}", "users", arr));
}

/* {"name", "role", "password"} */
void srv_api_users_create(struct srv_req *req, struct srv_resp *resp)
{
    json_t *body = srv_req_body(req, resp);
    if (!body)
        return;
    struct zp_err err;
    zp_err_init(&err);
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *role = json_string_value(json_object_get(body, "role"));
    const char *pw = json_string_value(json_object_get(body, "password"));
    if (!name || !role || !pw) {
        srv_reply_error(resp, 400, "bad_request", NULL,
                        "the body must be {\"name\", \"role\", \"password\"} (strings)");
    } else if (server_user_add(req->srv->state_dir, name, role, pw, &err) != 0) {
        srv_reply_zerr(resp, &err);
    } else {
        srv_reply_json(resp, 201, json_pack("{s:s, s:s}", "name", name, "role", role));
    }
    json_decref(body);
}

void srv_api_user_delete(struct srv_req *req, struct srv_resp *resp)
{
    struct zp_err err;
    zp_err_init(&err);
    if (req->auth.user && strcmp(req->auth.user, req->params[0]) == 0) {
        srv_reply_error(resp, 409, "conflict", NULL, "you cannot remove yourself");
        return;
    }
    if (store_panel_user_delete(req->db, req->params[0], &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    srv_reply_json(resp, 200, json_pack("{s:s}", "removed", req->params[0]));
}

void srv_api_tokens_list(struct srv_req *req, struct srv_resp *resp)
{
    struct store_token_row *t = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_token_list(req->db, (int64_t)time(NULL), &t, &n, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:I, s:s, s:s, s:I, s:I, s:b}", "id", (json_int_t)t[i].id, "user",
                           t[i].user, "scope", store_scope_name(t[i].scope), "created",
                           (json_int_t)t[i].created, "expires", (json_int_t)t[i].expires, "current",
                           t[i].id == req->auth.id));
    store_token_rows_free(t, n);
    srv_reply_json(resp, 200, json_pack("{s:o}", "tokens", arr));
}

/* {"user", "scope", "expires_in": "30d" (optional)}: the token's text, once */
void srv_api_tokens_create(struct srv_req *req, struct srv_resp *resp)
{
    json_t *body = srv_req_body(req, resp);
    if (!body)
        return;
    struct zp_err err;
    zp_err_init(&err);
    const char *user = json_string_value(json_object_get(body, "user"));
    const char *scope = json_string_value(json_object_get(body, "scope"));
    const char *exp = json_string_value(json_object_get(body, "expires_in"));
    int64_t ttl_ns = 0;
    char *token = NULL;
    if (!user || !scope) {
        srv_reply_error(resp, 400, "bad_request", NULL,
                        "the body must be {\"user\", \"scope\", \"expires_in\"}");
    } else if (exp && *exp && (zp_parse_duration(exp, true, &ttl_ns) != 0 || ttl_ns < 0)) {
        srv_reply_error(resp, 400, "bad_request", NULL, "expires_in: '%s' is not a duration", exp);
    } else if (server_token_create(req->srv->state_dir, user, scope, ttl_ns / 1000000000, &token,
                                   &err) != 0) {
        srv_reply_zerr(resp, &err);
    } else {
        srv_reply_json(resp, 201,
                       json_pack("{s:s, s:s, s:s}", "user", user, "scope", scope, "token", token));
    }
    free(token);
    json_decref(body);
}

void srv_api_token_delete(struct srv_req *req, struct srv_resp *resp)
{
    int64_t id;
    struct zp_err err;
    zp_err_init(&err);
    if (zp_parse_int64(req->params[0], 1, INT64_MAX, &id) != 0) {
        srv_reply_error(resp, 404, "not_found", NULL, "no such token '%s'", req->params[0]);
        return;
    }
    if (store_panel_token_delete_id(req->db, id, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    srv_reply_json(resp, 200, json_pack("{s:I}", "removed", (json_int_t)id));
}

/* ?before=ID&limit=N */
void srv_api_audit_list(struct srv_req *req, struct srv_resp *resp)
{
    int64_t before = 0, limit = 100;
    const char *b = srv_req_query(req, "before");
    const char *l = srv_req_query(req, "limit");
    if ((b && zp_parse_int64(b, 0, INT64_MAX, &before) != 0) ||
        (l && zp_parse_int64(l, 1, AUDIT_LIMIT_MAX, &limit) != 0)) {
        srv_reply_error(resp, 400, "bad_request", NULL,
                        "before: an entry id; limit: 1 to %d entries", AUDIT_LIMIT_MAX);
        return;
    }
    struct store_audit_row *a = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_audit_list(req->db, before, (size_t)limit, &a, &n, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:I, s:I, s:s?, s:s, s:s, s:i, s:s?}", "id", (json_int_t)a[i].id,
                           "time", (json_int_t)a[i].time, "user", a[i].user, "method", a[i].method,
                           "path", a[i].path, "status", a[i].status, "remote", a[i].remote));
    store_audit_rows_free(a, n);
    srv_reply_json(resp, 200, json_pack("{s:o}", "audit", arr));
}

/* server/api-notify: /api/v1/notifications: the channels that job results go to (signed
 * webhooks, email): list (secrets never shown), add, remove, send a test. Admin only. Also
 * the same operations for `zpanel notify` on the state directory. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../notify/notify.h"
#include "server-int.h"

#include "../util/banned.h"

static json_t *channel_json(const struct store_channel *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(c->id));
    json_object_set_new(o, "kind", json_string(c->kind));
    json_object_set_new(o, "url", json_string(c->url));
    json_object_set_new(o, "project", c->project ? json_string(c->project) : json_null());
    json_object_set_new(o, "events", c->events ? json_string(c->events) : json_string("*"));
    json_object_set_new(o, "failures_only", json_boolean(c->failures_only));
    json_object_set_new(o, "secret", c->secret ? json_string(STORE_SECRET_MASK) : json_null());
    if (strcmp(c->kind, "email") == 0) {
        json_object_set_new(o, "from", json_string(c->mail_from ? c->mail_from : ""));
        json_object_set_new(o, "to", json_string(c->mail_to ? c->mail_to : ""));
        json_object_set_new(o, "user", c->user ? json_string(c->user) : json_null());
    }
    json_object_set_new(o, "created", json_integer(c->created));
    return o;
}

void srv_api_notifications_list(struct srv_req *req, struct srv_resp *resp)
{
    struct zp_err err;
    zp_err_init(&err);
    struct store_channel *v = NULL;
    size_t n = 0;
    if (store_panel_channel_list(req->db, &v, &n, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, channel_json(&v[i]));
    store_channels_free(v, n);
    srv_reply_json(resp, 200, json_pack("{s:o}", "channels", a));
}

void srv_api_notifications_add(struct srv_req *req, struct srv_resp *resp)
{
    json_t *body = srv_req_body(req, resp);
    if (!body)
        return;
    struct zp_err err;
    zp_err_init(&err);
    const char *kind, *url, *secret, *project, *events, *user, *from, *to;
    if (!srv_body_str(body, "kind", &kind, resp) || !srv_body_str(body, "url", &url, resp) ||
        !srv_body_str(body, "secret", &secret, resp) ||
        !srv_body_str(body, "project", &project, resp) ||
        !srv_body_str(body, "events", &events, resp) || !srv_body_str(body, "user", &user, resp) ||
        !srv_body_str(body, "from", &from, resp) || !srv_body_str(body, "to", &to, resp))
        goto out;
    json_t *fo = json_object_get(body, "failures_only");
    if (fo != NULL && !json_is_boolean(fo)) {
        srv_reply_error(resp, 400, "bad_request", NULL, "failures_only: must be true or false");
        goto out;
    }
    if (kind == NULL || (strcmp(kind, "webhook") != 0 && strcmp(kind, "email") != 0)) {
        srv_reply_error(resp, 400, "bad_request", NULL, "kind: must be \"webhook\" or \"email\"");
        goto out;
    }
    struct notify_channel c = {
        .kind = strcmp(kind, "webhook") == 0 ? NOTIFY_WEBHOOK : NOTIFY_SMTP,
        .project = (char *)project,
        .url = (char *)url,
        .secret = (char *)secret,
        .user = (char *)user,
        .from = (char *)from,
        .to = (char *)to,
        .events = (char *)events,
        .failures_only = fo != NULL && json_is_true(fo),
    };
    int64_t id;
    if (srv_channel_add(req->srv->state_dir, req->db, &c, &id, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    srv_reply_json(resp, 201, json_pack("{s:I}", "id", (json_int_t)id));
out:
    json_decref(body);
}

/* the route's {id}; false (reply set) when it is not a number */
static bool route_id(struct srv_req *req, struct srv_resp *resp, int64_t *ret)
{
    if (zp_parse_int64(req->params[0], 1, INT64_MAX, ret) != 0) {
        srv_reply_error(resp, 400, "bad_request", NULL, "id: '%s' is not a channel number",
                        req->params[0]);
        return false;
    }
    return true;
}

void srv_api_notification_delete(struct srv_req *req, struct srv_resp *resp)
{
    struct zp_err err;
    zp_err_init(&err);
    int64_t id;
    if (!route_id(req, resp, &id))
        return;
    if (store_panel_channel_delete(req->db, id, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    srv_reply_json(resp, 200, json_pack("{s:I}", "removed", (json_int_t)id));
}

void srv_api_notification_test(struct srv_req *req, struct srv_resp *resp)
{
    struct zp_err err;
    zp_err_init(&err);
    int64_t id;
    if (!route_id(req, resp, &id))
        return;
    int rc = srv_channel_test(req->srv->state_dir, req->db, id, req->auth.user, &err);
    if (rc == ZP_E_SYSTEM) {
        srv_reply_error(resp, 502, "delivery_failed", NULL, "%s", err.msg);
        return;
    }
    if (rc != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    srv_reply_json(resp, 200, json_pack("{s:b}", "sent", 1));
}

/* ---- `zpanel notify` on the state directory (safe while serve runs: serve reads the
 * channels at the end of each job) ---- */

int server_notify_add(const char *state_dir, const struct notify_channel *c, int64_t *ret_id,
                      struct zp_err *err)
{
    struct store_panel *db;
    int rc = store_panel_open(state_dir, &db, err);
    if (rc)
        return rc;
    rc = srv_channel_add(state_dir, db, c, ret_id, err);
    store_panel_close(db);
    return rc;
}

int server_notify_list(const char *state_dir, struct store_channel **ret, size_t *ret_n,
                       struct zp_err *err)
{
    struct store_panel *db;
    int rc = store_panel_open(state_dir, &db, err);
    if (rc)
        return rc;
    rc = store_panel_channel_list(db, ret, ret_n, err);
    store_panel_close(db);
    return rc;
}

int server_notify_remove(const char *state_dir, int64_t id, struct zp_err *err)
{
    struct store_panel *db;
    int rc = store_panel_open(state_dir, &db, err);
    if (rc)
        return rc;
    rc = store_panel_channel_delete(db, id, err);
    store_panel_close(db);
    return rc;
}

int server_notify_test(const char *state_dir, int64_t id, struct zp_err *err)
{
    struct store_panel *db;
    int rc = store_panel_open(state_dir, &db, err);
    if (rc)
        return rc;
    rc = srv_channel_test(state_dir, db, id, NULL, err);
    store_panel_close(db);
    return rc;
}

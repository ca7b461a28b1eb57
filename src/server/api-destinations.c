/* server/api-destinations: stored S3 destinations (/api/v1/destinations: list, add,
 * remove; admin only), their secret key sealed at rest and never shown; the same
 * operations for `zpanel destination` on the state directory; and the S3 client a
 * scheduled backup opens on one. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "../s3/s3.h"
#include "../store/secret.h"
#include "server-int.h"

#include "../util/banned.h"

#define NAME_MAX_LEN 63
#define PREFIX_MAX_LEN 512

static bool name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.')))
            return false;
    }
    return true;
}

int srv_destination_check(const struct server_destination_spec *d, struct zp_err *err)
{
    if (d->name == NULL || !name_valid(d->name))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "name: '%s' is not a destination name (1 to %d of a-z, A-Z, 0-9, '-', "
                          "'_', '.', starting with a letter or digit)",
                          d->name ? d->name : "", NAME_MAX_LEN);
    if (d->bucket == NULL || !s3_bucket_valid(d->bucket))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "bucket: '%s' is not a bucket name (3 to 63 of a-z, 0-9, '.' and '-')",
                          d->bucket ? d->bucket : "");
    const char *p = d->prefix ? d->prefix : "";
    if (strlen(p) > PREFIX_MAX_LEN)
        return zp_err_set(err, ZP_E_INPUT, NULL, "prefix: longer than %d bytes", PREFIX_MAX_LEN);
    if (p[0] == '/')
        return zp_err_set(err, ZP_E_INPUT, NULL, "prefix: '%s' starts with '/' (keys do not)", p);
    for (const char *q = p; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f || *q == '\\')
            return zp_err_set(err, ZP_E_INPUT, NULL, "prefix: control character or '\\' in '%s'",
                              p);
    struct s3_config cfg;
    int rc = s3_config_from_values(d->endpoint, d->region, d->path_style, d->access_key,
                                   d->secret_key, &cfg, err);
    if (rc == 0)
        s3_config_release(&cfg);
    return rc;
}

/* Check d and store it through db, its secret key sealed. */
static int destination_add(const char *state_dir, struct store_panel *db,
                           const struct server_destination_spec *d, struct zp_err *err)
{
    int rc = srv_destination_check(d, err);
    if (rc)
        return rc;
    char *sealed = NULL;
    if ((rc = store_secret_seal(state_dir, d->secret_key, &sealed, err)) != 0)
        return rc;
    struct store_destination sd = {
        .name = (char *)d->name,
        .endpoint = (char *)d->endpoint,
        .region = (char *)d->region,
        .bucket = (char *)d->bucket,
        .prefix = (char *)(d->prefix ? d->prefix : ""),
        .path_style = d->path_style,
        .access_key = (char *)d->access_key,
        .secret_key = sealed,
    };
    rc = store_panel_destination_add(db, &sd, err);
    free(sealed);
    return rc;
}

int server_destination_add(const char *state_dir, const struct server_destination_spec *d,
                           struct zp_err *err)
{
    struct store_panel *db = NULL;
    int rc = store_panel_open(state_dir, &db, err);
    if (rc == 0)
        rc = destination_add(state_dir, db, d, err);
    store_panel_close(db);
    return rc;
}

int server_destination_list(const char *state_dir, struct store_destination **ret, size_t *ret_n,
                            struct zp_err *err)
{
    struct store_panel *db = NULL;
    int rc = store_panel_open(state_dir, &db, err);
    if (rc == 0)
        rc = store_panel_destination_list(db, ret, ret_n, err);
    store_panel_close(db);
    return rc;
}

int server_destination_remove(const char *state_dir, const char *name, struct zp_err *err)
{
    struct store_panel *db = NULL;
    int rc = store_panel_open(state_dir, &db, err);
    if (rc == 0)
        rc = store_panel_destination_delete(db, name, err);
    store_panel_close(db);
    return rc;
}

int srv_destination_client(const char *state_dir, struct store_panel *db, const char *name,
                           struct s3_client **ret, char **ret_bucket, char **ret_prefix,
                           struct zp_err *err)
{
    struct store_destination d;
    int rc = store_panel_destination_get(db, name, &d, err);
    if (rc)
        return rc;
    char *secret = NULL;
    struct s3_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    char *what = zp_asprintf("destination '%s': secret_key", name);
    rc = store_secret_open(state_dir, what, d.secret_key, &secret, err);
    free(what);
    if (rc == 0)
        rc = s3_config_from_values(d.endpoint, d.region, d.path_style, d.access_key, secret, &cfg,
                                   err);
    if (rc == 0)
        rc = s3_client_new(&cfg, ret, err);
    if (rc == 0) {
        *ret_bucket = d.bucket;
        *ret_prefix = d.prefix;
        d.bucket = d.prefix = NULL;
    } else {
        zp_err_prefix(err, "destination '%s'", name);
    }
    s3_config_release(&cfg);
    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }
    store_destination_release(&d);
    return rc;
}

/* ---- the API ---- */

json_t *srv_destination_json(const struct store_destination *d)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:I}", "name", d->name, "endpoint",
                     d->endpoint, "region", d->region, "bucket", d->bucket, "prefix",
                     d->prefix ? d->prefix : "", "path_style", d->path_style, "access_key_id",
                     d->access_key, "secret_key", STORE_SECRET_MASK, "created",
                     (json_int_t)d->created);
}

void srv_api_destinations_list(struct srv_req *req, struct srv_resp *resp)
{
    struct zp_err err;
    zp_err_init(&err);
    struct store_destination *v = NULL;
    size_t n = 0;
    if (store_panel_destination_list(req->db, &v, &n, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, srv_destination_json(&v[i]));
    store_destinations_free(v, n);
    srv_reply_json(resp, 200, json_pack("{s:o}", "destinations", a));
}

/* {"name", "endpoint", "region", "bucket", "prefix", "path_style", "access_key_id",
 *  "secret_key"} */
void srv_api_destinations_create(struct srv_req *req, struct srv_resp *resp)
{
    json_t *b = srv_req_body(req, resp);
    if (!b)
        return;
    struct zp_err err;
    zp_err_init(&err);
    static const char *const strs[] = {"name",   "endpoint",      "region",    "bucket",
                                       "prefix", "access_key_id", "secret_key"};
    const char *v[7] = {NULL};
    if (!srv_body_strs(b, strs, 7, v, resp))
        goto out;
    json_t *ps = json_object_get(b, "path_style");
    if (ps && !json_is_boolean(ps)) {
        srv_reply_error(resp, 400, "bad_request", NULL, "path_style: must be true or false");
        goto out;
    }
    struct server_destination_spec d = {
        .name = v[0],
        .endpoint = v[1],
        .region = v[2] ? v[2] : "us-east-1",
        .bucket = v[3],
        .prefix = v[4],
        .access_key = v[5],
        .secret_key = v[6],
        .path_style = json_is_true(ps),
    };
    if (destination_add(req->srv->state_dir, req->db, &d, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    struct store_destination sd;
    zp_err_init(&err);
    if (store_panel_destination_get(req->db, d.name, &sd, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    srv_reply_json(resp, 201, json_pack("{s:o}", "destination", srv_destination_json(&sd)));
    store_destination_release(&sd);
out:
    json_decref(b);
}

void srv_api_destination_delete(struct srv_req *req, struct srv_resp *resp)
{
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_destination_delete(req->db, req->params[0], &err) != 0)
        srv_reply_zerr(resp, &err);
    else
        srv_reply_json(resp, 200, json_pack("{s:s}", "deleted", req->params[0]));
}

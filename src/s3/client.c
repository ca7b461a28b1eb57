/* s3/client: the object calls (put, head, get, delete, list) and the verified read of an
 * upload against the checksum object written beside it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3-int.h"

#include "../util/banned.h"

static void config_copy(const struct s3_config *in, struct s3_config *out)
{
    *out = *in;
    out->endpoint = zp_strdup(in->endpoint);
    out->region = zp_strdup(in->region);
    out->access_key = zp_strdup(in->access_key);
    out->secret_key = zp_strdup(in->secret_key);
    out->session_token = in->session_token ? zp_strdup(in->session_token) : NULL;
}

int s3_client_new(const struct s3_config *config, struct s3_client **ret, struct zp_err *err)
{
    if (config->endpoint == NULL || strstr(config->endpoint, "://") == NULL ||
        config->region == NULL || config->access_key == NULL || config->secret_key == NULL)
        return zp_err_set(err, ZP_E_USAGE, NULL, "incomplete S3 configuration");
    struct s3_client *c = zp_calloc(1, sizeof(*c));
    config_copy(config, &c->cfg);
    if (c->cfg.part_size < S3_MIN_PART)
        c->cfg.part_size = S3_MIN_PART;
    if (c->cfg.parallel < 1)
        c->cfg.parallel = 1;
    c->curl = s3__curl_new();
    *ret = c;
    return 0;
}

void s3_client_free(struct s3_client *c)
{
    if (c == NULL)
        return;
    s3__curl_free(c->curl);
    s3_config_release(&c->cfg);
    free(c);
}

void s3_objects_free(struct s3_object *objs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(objs[i].key);
        free(objs[i].last_modified);
        free(objs[i].etag);
    }
    free(objs);
}

/* PUT body with Content-MD5, the signed SHA-256 and the given metadata headers. */
static int put_raw(struct s3_client *c, const char *bucket, const char *key, const void *data,
                   size_t len, const char *const *headers, size_t nheaders,
                   struct s3_object_info *ret_info, struct zp_err *err)
{
    unsigned char md5[16];
    zp_md5(data, len, md5);
    char md5b64[32];
    s3__base64(md5, 16, md5b64);
    char sha[65];
    zp_sha256_hex(data, len, sha);
    struct s3__req r = {.method = "PUT",
                        .bucket = bucket,
                        .key = key,
                        .body = data,
                        .len = len,
                        .content_md5 = md5b64,
                        .payload_sha256 = sha,
                        .headers = headers,
                        .nheaders = nheaders};
    struct s3__resp resp;
    s3__resp_init(&resp);
    int rc = s3__perform(&c->cfg, c->curl, &r, &resp, err);
    if (rc == 0 && ret_info)
        *ret_info = resp.info;
    s3__resp_release(&resp);
    return rc;
}

int s3_put(struct s3_client *c, const char *bucket, const char *key, const void *data, size_t len,
           struct zp_err *err)
{
    char sha[65];
    zp_sha256_hex(data, len, sha);
    char *h[3];
    h[0] = zp_asprintf("x-amz-meta-zpanel-sha256: %s", sha);
    h[1] = zp_asprintf("x-amz-meta-zpanel-size: %zu", len);
    h[2] = zp_strdup("Content-Type: application/octet-stream");
    int rc = put_raw(c, bucket, key, data, len, (const char *const *)h, 3, NULL, err);
    for (int i = 0; i < 3; i++)
        free(h[i]);
    return rc;
}

int s3_head(struct s3_client *c, const char *bucket, const char *key, struct s3_object_info *ret,
            struct zp_err *err)
{
    struct s3__req r = {.method = "HEAD", .bucket = bucket, .key = key};
    struct s3__resp resp;
    s3__resp_init(&resp);
    int rc = s3__perform(&c->cfg, c->curl, &r, &resp, err);
    if (rc == 0)
        *ret = resp.info;
    s3__resp_release(&resp);
    return rc;
}

int s3_get(struct s3_client *c, const char *bucket, const char *key, s3_sink_fn sink, void *ud,
           struct s3_object_info *ret_info, struct zp_err *err)
{
    struct s3__req r = {.method = "GET", .bucket = bucket, .key = key, .sink = sink, .sink_ud = ud};
    struct s3__resp resp;
    s3__resp_init(&resp);
    int rc = s3__perform(&c->cfg, c->curl, &r, &resp, err);
    if (rc == 0 && ret_info) {
        *ret_info = resp.info;
        ret_info->size = resp.delivered;
    }
    s3__resp_release(&resp);
    return rc;
}

int s3_delete(struct s3_client *c, const char *bucket, const char *key, struct zp_err *err)
{
    struct s3__req r = {.method = "DELETE", .bucket = bucket, .key = key};
    struct s3__resp resp;
    s3__resp_init(&resp);
    int rc = s3__perform(&c->cfg, c->curl, &r, &resp, err);
    s3__resp_release(&resp);
    return rc;
}

int s3_list(struct s3_client *c, const char *bucket, const char *prefix, struct s3_object **ret,
            size_t *ret_n, struct zp_err *err)
{
    struct s3_object *objs = NULL;
    size_t n = 0, cap = 0;
    char *token = NULL;
    int rc = 0;
    struct s3__resp resp;
    s3__resp_init(&resp);
    for (int page = 0;; page++) {
        struct zp_buf q;
        zp_buf_init(&q, 0);
        if (token) {
            zp_buf_adds(&q, "continuation-token=");
            s3__uri_encode(&q, token, false);
            zp_buf_addc(&q, '&');
        }
        zp_buf_adds(&q, "list-type=2&prefix=");
        s3__uri_encode(&q, prefix ? prefix : "", false);
        struct s3__req r = {.method = "GET", .bucket = bucket, .query = zp_buf_cstr(&q)};
        rc = s3__perform(&c->cfg, c->curl, &r, &resp, err);
        zp_buf_release(&q);
        if (rc)
            break;
        bool truncated = false;
        char *next = NULL;
        rc = s3__xml_list(resp.body.p, resp.body.len, &objs, &n, &cap, &truncated, &next, err);
        if (rc) {
            zp_err_prefix(err, "GET s3://%s/?list-type=2: reading the listing", bucket);
            break;
        }
        if (!truncated) {
            free(next);
            break;
        }
        if (token && next && strcmp(token, next) == 0) {
            free(next);
            rc = zp_err_set(err, ZP_E_INPUT, NULL,
                            "GET s3://%s/?list-type=2: the listing repeats its continuation "
                            "token",
                            bucket);
            break;
        }
        free(token);
        token = next;
    }
    free(token);
    s3__resp_release(&resp);
    if (rc) {
        s3_objects_free(objs, n);
        return rc;
    }
    *ret = objs;
    *ret_n = n;
    return 0;
}

/* ---- the checksum object ---- */

static const char *base_name(const char *key)
{
    const char *s = strrchr(key, '/');
    return s ? s + 1 : key;
}

int s3__put_sum(struct s3_client *c, const char *bucket, const char *key, const char sha[65],
                uint64_t size, struct zp_err *err)
{
    char *sum_key = zp_asprintf("%s%s", key, S3_SUM_SUFFIX);
    char *body = zp_asprintf("%s  %s\n", sha, base_name(key));
    char *h[2];
    h[0] = zp_asprintf("x-amz-meta-zpanel-size: %llu", (unsigned long long)size);
    h[1] = zp_asprintf("x-amz-meta-zpanel-sha256: %s", sha);
    int rc = put_raw(c, bucket, sum_key, body, strlen(body), (const char *const *)h, 2, NULL, err);
    free(h[0]);
    free(h[1]);
    free(body);
    free(sum_key);
    return rc;
}

struct hashing_sink {
    s3_sink_fn sink;
    void *ud;
    struct zp_sha256 h;
    uint64_t n;
};

static int hashing_write(void *ud, const void *data, size_t len)
{
    struct hashing_sink *hs = ud;
    zp_sha256_update(&hs->h, data, len);
    hs->n += len;
    return hs->sink ? hs->sink(hs->ud, data, len) : 0;
}

static bool is_hex64(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int s3_fetch_verified(struct s3_client *c, const char *bucket, const char *key, s3_sink_fn sink,
                      void *ud, struct s3_object_info *ret_info, struct zp_err *err)
{
    char *sum_key = zp_asprintf("%s%s", key, S3_SUM_SUFFIX);
    struct s3__req r = {.method = "GET", .bucket = bucket, .key = sum_key};
    struct s3__resp resp;
    s3__resp_init(&resp);
    struct zp_err serr;
    zp_err_init(&serr);
    int rc = s3__perform(&c->cfg, c->curl, &r, &resp, &serr);
    char want[65] = "";
    int64_t want_size = -1;
    if (rc == ZP_E_NOTFOUND) {
        /* no checksum object: say whether the object itself is missing too */
        char *code = NULL, *message = NULL;
        struct zp_err xerr;
        zp_err_init(&xerr);
        bool no_bucket = s3__xml_error(resp.body.p, resp.body.len, &code, &message, &xerr) == 0 &&
                         strcmp(code, "NoSuchBucket") == 0;
        free(code);
        free(message);
        struct s3_object_info info;
        struct zp_err herr;
        zp_err_init(&herr);
        if (no_bucket)
            rc = zp_err_set(err, serr.code, NULL, "%s", serr.msg);
        else if (s3_head(c, bucket, key, &info, &herr) == 0)
            rc = zp_err_set(err, ZP_E_NOTFOUND, NULL,
                            "s3://%s/%s has no checksum object '%s': not a complete, verified "
                            "zpanel upload",
                            bucket, key, sum_key);
        else
            rc = zp_err_set(err, herr.code, NULL, "%s", herr.msg);
    } else if (rc != 0) {
        rc = zp_err_set(err, serr.code, NULL, "%s", serr.msg);
    }
    if (rc == 0) {
        if (resp.body.len < 64 || !is_hex64(resp.body.p) ||
            zp_parse_int64(resp.info.meta_size, 0, INT64_MAX, &want_size) != 0)
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "checksum object 's3://%s/%s' is malformed",
                            bucket, sum_key);
        else
            memcpy(want, resp.body.p, 64);
    }
    s3__resp_release(&resp);
    free(sum_key);
    if (rc)
        return rc;
    struct hashing_sink hs = {.sink = sink, .ud = ud};
    zp_sha256_init(&hs.h);
    struct s3_object_info info;
    rc = s3_get(c, bucket, key, hashing_write, &hs, &info, err);
    unsigned char d[32];
    zp_sha256_final(&hs.h, d);
    if (rc)
        return rc;
    char got[65];
    zp_hex32(d, got);
    if (hs.n != (uint64_t)want_size)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "s3://%s/%s: read %llu bytes, the upload recorded %lld", bucket, key,
                          (unsigned long long)hs.n, (long long)want_size);
    if (strcmp(got, want) != 0)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "s3://%s/%s: sha256 %s does not match %s recorded at upload", bucket, key,
                          got, want);
    if (ret_info) {
        *ret_info = info;
        ret_info->size = hs.n;
        memcpy(ret_info->sha256, got, 65);
    }
    return 0;
}

/* s3/upload: the streaming upload. Bytes are cut into parts; the first full part starts a
 * multipart upload and worker threads (each with its own connection) upload parts while
 * the caller keeps writing; at most parallel + 1 parts are in memory. Any failure aborts
 * the multipart upload; finish verifies the object and writes its checksum object. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3-int.h"

#include "../util/banned.h"

struct part {
    unsigned char *data;
    size_t len;
    int number; /* 1-based */
    struct part *next;
};

struct s3_upload {
    struct s3_client *c;
    char *bucket, *key;
    char *upload_id; /* NULL until the first part is full */
    size_t part_size;
    struct part *cur;
    int next_number;
    struct zp_sha256 sha;
    uint64_t size;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* guarded by mu */
    struct part *queue, *queue_tail; /* full parts waiting for a worker */
    struct part *free_parts;         /* emptied buffers */
    size_t nbuffers;                 /* allocated so far (at most parallel + 1) */
    bool closing;                    /* no more parts will come */
    bool failed;
    struct zp_err werr; /* the first worker failure */
    char (*etags)[80];  /* by part number - 1 */
    unsigned char (*md5s)[16];
    size_t nparts_cap;
    int nparts; /* highest part number queued */

    pthread_t *threads;
    int nthreads;
};

static void part_free(struct part *p)
{
    if (p) {
        free(p->data);
        free(p);
    }
}

static struct part *part_new(size_t cap)
{
    struct part *p = zp_calloc(1, sizeof(*p));
    p->data = zp_malloc(cap);
    return p;
}

int s3_upload_begin(struct s3_client *c, const char *bucket, const char *key,
                    struct s3_upload **ret, struct zp_err *err)
{
    if (key == NULL || key[0] == '\0')
        return zp_err_set(err, ZP_E_USAGE, NULL, "s3://%s/: an upload needs a key", bucket);
    struct s3_upload *u = zp_calloc(1, sizeof(*u));
    u->c = c;
    u->bucket = zp_strdup(bucket);
    u->key = zp_strdup(key);
    u->part_size = c->cfg.part_size;
    u->cur = part_new(u->part_size);
    u->nbuffers = 1;
    u->next_number = 1;
    zp_sha256_init(&u->sha);
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->cv, NULL);
    zp_err_init(&u->werr);
    *ret = u;
    return 0;
}

static int upload_part(struct s3_upload *u, void *curl, struct part *p, char etag[80],
                       unsigned char md5[16], struct zp_err *err)
{
    zp_md5(p->data, p->len, md5);
    char md5b64[32];
    s3__base64(md5, 16, md5b64);
    char sha[65];
    zp_sha256_hex(p->data, p->len, sha);
    struct zp_buf q;
    zp_buf_init(&q, 0);
    zp_buf_addf(&q, "partNumber=%d&uploadId=", p->number);
    s3__uri_encode(&q, u->upload_id, false);
    struct s3__req r = {.method = "PUT",
                        .bucket = u->bucket,
                        .key = u->key,
                        .query = zp_buf_cstr(&q),
                        .body = p->data,
                        .len = p->len,
                        .content_md5 = md5b64,
                        .payload_sha256 = sha};
    struct s3__resp resp;
    s3__resp_init(&resp);
    int rc = s3__perform(&u->c->cfg, curl, &r, &resp, err);
    if (rc == 0 && resp.info.etag[0] == '\0')
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "PUT s3://%s/%s part %d: the answer has no ETag",
                        u->bucket, u->key, p->number);
    if (rc == 0)
        memcpy(etag, resp.info.etag, 80);
    else
        zp_err_prefix(err, "part %d", p->number);
    s3__resp_release(&resp);
    zp_buf_release(&q);
    return rc;
}

static void *worker(void *arg)
{
    struct s3_upload *u = arg;
    void *curl = s3__curl_new();
    pthread_mutex_lock(&u->mu);
    for (;;) {
        while (u->queue == NULL && !u->closing && !u->failed)
            pthread_cond_wait(&u->cv, &u->mu);
        if (u->failed || u->queue == NULL)
            break;
        struct part *p = u->queue;
        u->queue = p->next;
        if (u->queue == NULL)
            u->queue_tail = NULL;
        pthread_mutex_unlock(&u->mu);
        char etag[80];
        unsigned char md5[16];
        struct zp_err err;
        zp_err_init(&err);
        int rc = upload_part(u, curl, p, etag, md5, &err);
        pthread_mutex_lock(&u->mu);
        if (rc == 0) {
            memcpy(u->etags[p->number - 1], etag, 80);
            memcpy(u->md5s[p->number - 1], md5, 16);
        } else if (!u->failed) {
            u->failed = true;
            u->werr = err;
        }
        p->len = 0;
        p->next = u->free_parts;
        u->free_parts = p;
        pthread_cond_broadcast(&u->cv);
    }
    pthread_mutex_unlock(&u->mu);
    s3__curl_free(curl);
    return NULL;
}

static int initiate(struct s3_upload *u, struct zp_err *err)
{
    const char *h[] = {"x-amz-meta-zpanel-writer: zpanel",
                       "Content-Type: application/octet-stream"};
    struct s3__req r = {.method = "POST",
                        .bucket = u->bucket,
                        .key = u->key,
                        .query = "uploads=",
                        .headers = h,
                        .nheaders = 2};
    struct s3__resp resp;
    s3__resp_init(&resp);
    int rc = s3__perform(&u->c->cfg, u->c->curl, &r, &resp, err);
    if (rc == 0 && (rc = s3__xml_initiate(resp.body.p, resp.body.len, &u->upload_id, err)) != 0)
        zp_err_prefix(err, "POST s3://%s/%s?uploads", u->bucket, u->key);
    s3__resp_release(&resp);
    if (rc)
        return rc;
    u->nthreads = u->c->cfg.parallel;
    u->threads = zp_calloc((size_t)u->nthreads, sizeof(*u->threads));
    for (int i = 0; i < u->nthreads; i++) {
        if (pthread_create(&u->threads[i], NULL, worker, u) != 0) {
            u->nthreads = i;
            return zp_err_sys(err, "starting an upload thread");
        }
    }
    return 0;
}

/* Hand the full current part to the workers and take an empty buffer. */
static int flush_part(struct s3_upload *u, struct zp_err *err)
{
    if (u->upload_id == NULL) {
        int rc = initiate(u, err);
        if (rc)
            return rc;
    }
    if (u->next_number > S3_MAX_PARTS)
        return zp_err_set(err, ZP_E_TOOBIG, NULL,
                          "s3://%s/%s: more than %d parts of %zu MiB: set ZPANEL_S3_PART_SIZE "
                          "larger",
                          u->bucket, u->key, S3_MAX_PARTS, u->part_size >> 20);
    struct part *p = u->cur;
    p->number = u->next_number++;
    p->next = NULL;
    u->cur = NULL;
    pthread_mutex_lock(&u->mu);
    if ((size_t)p->number > u->nparts_cap) {
        size_t cap = u->nparts_cap ? u->nparts_cap * 2 : 64;
        u->etags = zp_realloc(u->etags, cap * sizeof(*u->etags));
        u->md5s = zp_realloc(u->md5s, cap * sizeof(*u->md5s));
        u->nparts_cap = cap;
    }
    u->nparts = p->number;
    if (u->queue_tail)
        u->queue_tail->next = p;
    else
        u->queue = p;
    u->queue_tail = p;
    pthread_cond_broadcast(&u->cv);
    while (u->free_parts == NULL && !u->failed && u->nbuffers >= (size_t)u->c->cfg.parallel + 1)
        pthread_cond_wait(&u->cv, &u->mu);
    int rc = 0;
    if (u->failed) {
        rc = zp_err_set(err, u->werr.code, NULL, "%s", u->werr.msg);
    } else if (u->free_parts) {
        u->cur = u->free_parts;
        u->free_parts = u->cur->next;
    } else {
        u->nbuffers++;
    }
    pthread_mutex_unlock(&u->mu);
    if (rc == 0 && u->cur == NULL)
        u->cur = part_new(u->part_size);
    return rc;
}

int s3_upload_write(struct s3_upload *u, const void *data, size_t len, struct zp_err *err)
{
    const unsigned char *p = data;
    zp_sha256_update(&u->sha, data, len);
    u->size += len;
    while (len > 0) {
        size_t room = u->part_size - u->cur->len;
        size_t n = len < room ? len : room;
        memcpy(u->cur->data + u->cur->len, p, n);
        u->cur->len += n;
        p += n;
        len -= n;
        if (u->cur->len == u->part_size) {
            int rc = flush_part(u, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* Stop the workers (after the queue drained, or at once when failed) and join them. */
static void stop_workers(struct s3_upload *u)
{
    pthread_mutex_lock(&u->mu);
    u->closing = true;
    pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
    for (int i = 0; i < u->nthreads; i++)
        pthread_join(u->threads[i], NULL);
    u->nthreads = 0;
}

static void upload_free(struct s3_upload *u)
{
    part_free(u->cur);
    for (struct part *p = u->queue; p;) {
        struct part *n = p->next;
        part_free(p);
        p = n;
    }
    for (struct part *p = u->free_parts; p;) {
        struct part *n = p->next;
        part_free(p);
        p = n;
    }
    if (u->sha.ctx) {
        unsigned char d[32];
        zp_sha256_final(&u->sha, d);
    }
    pthread_mutex_destroy(&u->mu);
    pthread_cond_destroy(&u->cv);
    free(u->threads);
    free(u->etags);
    free(u->md5s);
    free(u->upload_id);
    free(u->bucket);
    free(u->key);
    free(u);
}

static void abort_multipart(struct s3_upload *u)
{
    if (u->upload_id == NULL)
        return;
    struct zp_buf q;
    zp_buf_init(&q, 0);
    zp_buf_adds(&q, "uploadId=");
    s3__uri_encode(&q, u->upload_id, false);
    struct s3__req r = {
        .method = "DELETE", .bucket = u->bucket, .key = u->key, .query = zp_buf_cstr(&q)};
    struct s3__resp resp;
    s3__resp_init(&resp);
    struct zp_err err;
    zp_err_init(&err);
    (void)s3__perform(&u->c->cfg, u->c->curl, &r, &resp, &err); /* best effort */
    s3__resp_release(&resp);
    zp_buf_release(&q);
}

void s3_upload_abort(struct s3_upload *u)
{
    if (u == NULL)
        return;
    pthread_mutex_lock(&u->mu);
    u->failed = true; /* workers stop after their current part */
    pthread_mutex_unlock(&u->mu);
    stop_workers(u);
    abort_multipart(u);
    upload_free(u);
}

static int complete(struct s3_upload *u, char etag[80], struct zp_err *err)
{
    struct zp_buf body;
    zp_buf_init(&body, 0);
    zp_buf_adds(&body, "<CompleteMultipartUpload>");
    for (int i = 0; i < u->nparts; i++)
        zp_buf_addf(&body, "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>", i + 1,
                    u->etags[i]);
    zp_buf_adds(&body, "</CompleteMultipartUpload>");
    struct zp_buf q;
    zp_buf_init(&q, 0);
    zp_buf_adds(&q, "uploadId=");
    s3__uri_encode(&q, u->upload_id, false);
    const char *h[] = {"Content-Type: application/xml"};
    struct s3__req r = {.method = "POST",
                        .bucket = u->bucket,
                        .key = u->key,
                        .query = zp_buf_cstr(&q),
                        .body = body.p,
                        .len = body.len,
                        .headers = h,
                        .nheaders = 1};
    struct s3__resp resp;
    s3__resp_init(&resp);
    int rc = s3__perform(&u->c->cfg, u->c->curl, &r, &resp, err);
    char *e = NULL;
    if (rc == 0 && (rc = s3__xml_complete(resp.body.p, resp.body.len, &e, err)) != 0)
        zp_err_prefix(err, "POST s3://%s/%s?uploadId: completing the upload", u->bucket, u->key);
    if (rc == 0) {
        snprintf(etag, 80, "%s", e);
        free(e);
    }
    s3__resp_release(&resp);
    zp_buf_release(&q);
    zp_buf_release(&body);
    return rc;
}

int s3_upload_finish(struct s3_upload *u, struct s3_object_info *ret_info, struct zp_err *err)
{
    int rc = 0;
    bool created = false;
    char want_etag[80] = "";
    unsigned char d[32];
    zp_sha256_final(&u->sha, d);
    char sha[65];
    zp_hex32(d, sha);
    if (u->upload_id == NULL) {
        /* it all fits in one part: one PUT */
        rc = s3_put(u->c, u->bucket, u->key, u->cur->data, u->cur->len, err);
        if (rc == 0) {
            created = true;
            unsigned char md5[16];
            zp_md5(u->cur->data, u->cur->len, md5);
            for (int i = 0; i < 16; i++)
                snprintf(want_etag + 2 * i, 3, "%02x", md5[i]);
        }
    } else {
        if (u->cur->len > 0)
            rc = flush_part(u, err);
        stop_workers(u);
        if (rc == 0 && u->failed)
            rc = zp_err_set(err, u->werr.code, NULL, "%s", u->werr.msg);
        char got[80];
        if (rc == 0 && (rc = complete(u, got, err)) == 0) {
            created = true;
            s3__multipart_etag((const unsigned char(*)[16])u->md5s, (size_t)u->nparts, want_etag);
        }
    }
    /* verify what the storage holds now */
    struct s3_object_info info;
    if (rc == 0 && (rc = s3_head(u->c, u->bucket, u->key, &info, err)) == 0) {
        if (info.size != u->size)
            rc = zp_err_set(err, ZP_E_SYSTEM, NULL,
                            "s3://%s/%s: the storage holds %llu bytes, %llu were sent", u->bucket,
                            u->key, (unsigned long long)info.size, (unsigned long long)u->size);
        /* an S3-style ETag (MD5, or MD5 of the parts' MD5s and "-N") must match; other
         * servers' ETags are opaque and only the size is compared */
        else if (strlen(info.etag) == strlen(want_etag) &&
                 (strchr(want_etag, '-') == NULL) == (strchr(info.etag, '-') == NULL) &&
                 strcmp(info.etag, want_etag) != 0)
            rc = zp_err_set(err, ZP_E_SYSTEM, NULL,
                            "s3://%s/%s: the storage's ETag %s is not the %s of what was sent",
                            u->bucket, u->key, info.etag, want_etag);
    }
    if (rc == 0)
        rc = s3__put_sum(u->c, u->bucket, u->key, sha, u->size, err);
    if (rc != 0) {
        if (!created) {
            abort_multipart(u);
        } else {
            struct zp_err derr;
            zp_err_init(&derr);
            (void)s3_delete(u->c, u->bucket, u->key, &derr); /* no unverified object */
        }
    } else if (ret_info) {
        *ret_info = info;
        memcpy(ret_info->sha256, sha, 65);
        ret_info->size = u->size;
    }
    upload_free(u);
    return rc;
}

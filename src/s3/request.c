/* s3/request: one signed request over libcurl (CURLOPT_AWS_SIGV4), with its retries:
 * connection failures, 5xx, 429 and SlowDown are retried with exponential backoff and
 * jitter; a GET dropped in the middle resumes with a Range pinned to its ETag. Error
 * answers become messages that say what to check. */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3-int.h"

#include "../util/banned.h"

void s3__resp_init(struct s3__resp *r)
{
    memset(r, 0, sizeof(*r));
    zp_buf_init(&r->body, S3__MAX_BODY);
}

void s3__resp_release(struct s3__resp *r)
{
    zp_buf_release(&r->body);
}

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void *s3__curl_new(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    CURL *h = curl_easy_init();
    if (h == NULL)
        abort(); /* out of memory: as zp_malloc */
    return h;
}

void s3__curl_free(void *curl)
{
    if (curl)
        curl_easy_cleanup(curl);
}

/* One attempt's state, seen by curl's callbacks. */
struct attempt {
    const struct s3__req *r;
    struct s3__resp *resp;
    CURL *h;
    size_t sent;       /* bytes of r->body read by curl */
    bool sink_failed;  /* the sink refused data */
    bool body_too_big; /* the response passed S3__MAX_BODY */
    bool resume;       /* a Range request: only 206 may deliver */
    bool no_range;     /* ... and the server answered the whole object instead */
    long status;       /* of the last status line */
};

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    struct attempt *a = ud;
    size_t want = size * n, left = a->r->len - a->sent;
    if (want > left)
        want = left;
    memcpy(buf, (const char *)a->r->body + a->sent, want);
    a->sent += want;
    return want;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
    struct attempt *a = ud;
    size_t len = size * n;
    if (a->r->sink && a->status >= 200 && a->status < 300) {
        if (a->resume && a->status != 206) {
            a->no_range = true;
            return 0;
        }
        if (a->r->sink(a->r->sink_ud, data, len) != 0) {
            a->sink_failed = true;
            return 0;
        }
        a->resp->delivered += len;
        return len;
    }
    if (zp_buf_add(&a->resp->body, data, len) != 0) {
        a->body_too_big = true;
        return 0;
    }
    return len;
}

static void header_value(const char *line, size_t len, char *out, size_t cap)
{
    const char *colon = memchr(line, ':', len);
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    if (end - v >= 2 && v[0] == '"' && end[-1] == '"') {
        v++;
        end--;
    }
    size_t n = (size_t)(end - v);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

static bool header_is(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
    struct attempt *a = ud;
    size_t len = size * n;
    struct s3_object_info *info = &a->resp->info;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        /* a new response (after a 100 Continue): forget the previous headers */
        const char *sp = memchr(line, ' ', len);
        a->status = 0;
        if (sp && (size_t)(sp - line) + 4 <= len)
            a->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
        uint64_t keep = info->size;
        memset(info, 0, sizeof(*info));
        info->size = keep;
        return len;
    }
    char tmp[32];
    if (header_is(line, len, "ETag")) {
        header_value(line, len, info->etag, sizeof(info->etag));
    } else if (header_is(line, len, "Last-Modified")) {
        header_value(line, len, info->last_modified, sizeof(info->last_modified));
    } else if (header_is(line, len, "x-amz-meta-zpanel-sha256")) {
        header_value(line, len, info->sha256, sizeof(info->sha256));
    } else if (header_is(line, len, "x-amz-meta-zpanel-size")) {
        header_value(line, len, info->meta_size, sizeof(info->meta_size));
    } else if (header_is(line, len, "Content-Length")) {
        header_value(line, len, tmp, sizeof(tmp));
        int64_t v;
        if (zp_parse_int64(tmp, 0, INT64_MAX, &v) == 0)
            info->size = (uint64_t)v;
    }
    return len;
}

static bool retryable_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_READ_ERROR:
        return true;
    default:
        return false;
    }
}

static bool retryable_status(long status)
{
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static void backoff(const struct s3_config *c, int attempt)
{
    int64_t ms = (int64_t)c->retry_base_ms << (attempt < 10 ? attempt : 10);
    if (ms > 8000)
        ms = 8000;
    /* full jitter on the upper half: parallel parts do not retry in lockstep */
    ms = ms / 2 + (int64_t)((uint64_t)zp_mono_ns() % (uint64_t)(ms / 2 + 1));
    zp_sleep_ms(ms);
}

static char *what(const struct s3__req *r)
{
    return zp_asprintf("%s s3://%s/%s", r->method, r->bucket, r->key ? r->key : "");
}

/* The error for a final non-2xx answer. */
static int answer_error(const struct s3_config *c, const struct s3__req *r,
                        const struct s3__resp *resp, int attempts, struct zp_err *err)
{
    char *code = NULL, *message = NULL;
    struct zp_err xerr;
    zp_err_init(&xerr);
    if (resp->body.len == 0 ||
        s3__xml_error(resp->body.p, resp->body.len, &code, &message, &xerr) != 0) {
        code = zp_strdup("");
        message = zp_strdup("");
    }
    char *w = what(r);
    char *detail = code[0] ? zp_asprintf(" (%s: %s)", code, message) : zp_strdup("");
    long st = resp->status;
    int rc;
    if (strcmp(code, "NoSuchBucket") == 0 || (st == 404 && r->key == NULL)) {
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "%s: bucket '%s' does not exist at '%s'%s", w,
                        r->bucket, c->endpoint, detail);
    } else if (st == 404) {
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "%s: object 's3://%s/%s' does not exist%s", w,
                        r->bucket, r->key, detail);
    } else if (st == 403 || st == 401) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL,
                        "%s: access denied by '%s' (HTTP %ld)%s: check AWS_ACCESS_KEY_ID, "
                        "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), the region '%s' and the "
                        "bucket's policy",
                        w, c->endpoint, st, detail, c->region);
    } else if (st == 301 || strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
               strcmp(code, "PermanentRedirect") == 0) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL,
                        "%s: HTTP %ld%s: the bucket is in another region or needs another "
                        "addressing style: check --s3-region and --s3-path-style",
                        w, st, detail);
    } else if (retryable_status(st)) {
        rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "%s: HTTP %ld%s after %d attempts", w, st, detail,
                        attempts);
    } else {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "%s: HTTP %ld%s", w, st, detail);
    }
    free(w);
    free(detail);
    free(code);
    free(message);
    return rc;
}

static struct curl_slist *add_header(struct curl_slist *l, const char *fmt, ...) ZP_PRINTF(2, 3);
static struct curl_slist *add_header(struct curl_slist *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = zp_vasprintf(fmt, ap);
    va_end(ap);
    struct curl_slist *n = curl_slist_append(l, s);
    free(s);
    if (n == NULL)
        abort();
    return n;
}

int s3__perform(const struct s3_config *c, void *curl, const struct s3__req *r,
                struct s3__resp *resp, struct zp_err *err)
{
    CURL *h = curl;
    char *url = s3__url(c, r->bucket, r->key, r->query);
    char sigv4[128];
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", c->region);
    char payload[65];
    if (r->payload_sha256)
        snprintf(payload, sizeof(payload), "%s", r->payload_sha256);
    else if (r->len > 0)
        zp_sha256_hex(r->body, r->len, payload);
    else
        snprintf(payload, sizeof(payload), "%s", S3__EMPTY_SHA256);
    char errbuf[CURL_ERROR_SIZE];
    char first_etag[80] = "";
    int rc = 0;
    int attempt = 0;
    for (;; attempt++) {
        struct attempt a = {.r = r, .resp = resp, .h = h, .resume = r->sink && resp->delivered > 0};
        zp_buf_reset(&resp->body);
        resp->status = 0;
        curl_easy_reset(h);
        errbuf[0] = '\0';
        struct curl_slist *hl = NULL;
        hl = add_header(hl, "x-amz-content-sha256: %s", payload);
        if (c->session_token)
            hl = add_header(hl, "x-amz-security-token: %s", c->session_token);
        if (r->content_md5)
            hl = add_header(hl, "Content-MD5: %s", r->content_md5);
        for (size_t i = 0; i < r->nheaders; i++)
            hl = add_header(hl, "%s", r->headers[i]);
        if (r->sink && resp->delivered > 0) {
            /* resume where the dropped transfer stopped, on the same object only */
            hl = add_header(hl, "Range: bytes=%llu-", (unsigned long long)resp->delivered);
            if (first_etag[0])
                hl = add_header(hl, "If-Match: \"%s\"", first_etag);
        }
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
        /* a transfer that stalls for 60 s is dropped (and retried); no total timeout: a
         * part or a download may rightly take long on a slow link */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->access_key);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret_key);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &a);
        if (strcmp(r->method, "HEAD") == 0) {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (strcmp(r->method, "PUT") == 0) {
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(h, CURLOPT_READDATA, &a);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->len);
        } else if (strcmp(r->method, "POST") == 0) {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
        } else if (strcmp(r->method, "DELETE") == 0) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
        }
        CURLcode cc = curl_easy_perform(h);
        curl_slist_free_all(hl);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        resp->status = status;
        if (a.sink_failed) {
            rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "%s: writing what was read failed",
                            r->key ? r->key : r->bucket);
            break;
        }
        if (a.no_range) {
            char *w = what(r);
            rc =
                zp_err_set(err, ZP_E_SYSTEM, NULL,
                           "%s: the connection dropped and the server cannot resume (no Range)", w);
            free(w);
            break;
        }
        if (a.body_too_big) {
            char *w = what(r);
            rc = zp_err_set(err, ZP_E_TOOBIG, NULL, "%s: answer longer than %zu bytes", w,
                            S3__MAX_BODY);
            free(w);
            break;
        }
        if (r->sink && first_etag[0] == '\0' && status >= 200 && status < 300)
            snprintf(first_etag, sizeof(first_etag), "%s", resp->info.etag);
        if (cc == CURLE_OK && status >= 200 && status < 300)
            break;
        bool again = cc != CURLE_OK ? retryable_curl(cc) : retryable_status(status);
        if (cc == CURLE_OK && r->sink && resp->delivered > 0 && status == 412) {
            char *w = what(r);
            rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "%s: the object changed while it was read", w);
            free(w);
            break;
        }
        if (!again || attempt >= c->retries) {
            if (cc != CURLE_OK) {
                char *w = what(r);
                bool connect = cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST;
                rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "%s: %s '%s': %s (after %d attempts)", w,
                                connect ? "cannot reach" : "transfer failed with", c->endpoint,
                                errbuf[0] ? errbuf : curl_easy_strerror(cc), attempt + 1);
                free(w);
            } else {
                rc = answer_error(c, r, resp, attempt + 1, err);
            }
            break;
        }
        backoff(c, attempt);
    }
    free(url);
    return rc;
}

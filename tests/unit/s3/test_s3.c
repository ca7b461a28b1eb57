/* Unit tests for s3/: the XML readers on recorded answers of AWS S3 (errors, a listing
 * page, multipart results) and on malformed ones; URLs, encodings and multipart ETags;
 * configuration from the environment; and the exact requests on the wire, captured by a
 * fake server on 127.0.0.1: the signing inputs (signed headers, payload hash, Content-MD5),
 * a SigV4 signature recomputed here from the AWS specification, retries on 503 SlowDown,
 * and the messages for 403 and 404. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "s3/s3-int.h"
#include "s3/s3.h"

#include "util/banned.h"

/* ---- XML, recorded answers ---- */

static const char rec_error[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>"
    "<BucketName>zps3-missing</BucketName><RequestId>4442587FB7D0A2F9</RequestId>"
    "<HostId>abc&amp;def=</HostId></Error>";

static void xml_error_doc(void **state)
{
    (void)state;
    struct zp_err err;
    zp_err_init(&err);
    char *code = NULL, *msg = NULL;
    assert_int_equal(s3__xml_error(rec_error, strlen(rec_error), &code, &msg, &err), 0);
    assert_string_equal(code, "NoSuchBucket");
    assert_string_equal(msg, "The specified bucket does not exist");
    free(code);
    free(msg);
    /* not an error document */
    const char *other = "<ListBucketResult></ListBucketResult>";
    assert_int_equal(s3__xml_error(other, strlen(other), &code, &msg, &err), ZP_E_NOTFOUND);
}

static const char rec_list[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>zps3-bucket</Name><Prefix>nightly/</Prefix><KeyCount>2</KeyCount>"
    "<MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    "<Contents><Key>nightly/app-20240102-030405.tar.zst</Key>"
    "<LastModified>2024-01-02T03:04:07.000Z</LastModified>"
    "<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e-3&quot;</ETag><Size>12002141</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>nightly/a &amp; b &#x263A;&#65;.tar</Key>"
    "<LastModified>2024-01-02T03:04:08.000Z</LastModified><ETag>\"e1\"</ETag>"
    "<Size>98</Size><Owner><ID>x</ID></Owner></Contents>"
    "<!-- a comment --></ListBucketResult>";

static void xml_list_page(void **state)
{
    (void)state;
    struct zp_err err;
    zp_err_init(&err);
    struct s3_object *objs = NULL;
    size_t n = 0, cap = 0;
    bool truncated = false;
    char *token = NULL;
    assert_int_equal(
        s3__xml_list(rec_list, strlen(rec_list), &objs, &n, &cap, &truncated, &token, &err), 0);
    assert_int_equal(n, 2);
    assert_true(truncated);
    assert_string_equal(token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    assert_string_equal(objs[0].key, "nightly/app-20240102-030405.tar.zst");
    assert_int_equal(objs[0].size, 12002141);
    assert_string_equal(objs[0].etag, "d41d8cd98f00b204e9800998ecf8427e-3");
    assert_string_equal(objs[0].last_modified, "2024-01-02T03:04:07.000Z");
    assert_string_equal(objs[1].key, "nightly/a & b \xE2\x98\xBA"
                                     "A.tar");
    assert_string_equal(objs[1].etag, "e1");
    free(token);
    s3_objects_free(objs, n);
}

static void xml_list_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        /* truncated in the middle */
        "<ListBucketResult><Contents><Key>a</Key><Size>1</Size></Contents>",
        /* a Size that is not a number */
        "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a</Key><Size>1e3</Size></Contents></ListBucketResult>",
        /* a Contents without a Key */
        "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
        /* truncated without a token: the next page could not be asked for */
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
        /* mismatched tags, two roots, text outside, unknown entity, bad references */
        "<ListBucketResult><Name>x</Nam></ListBucketResult>",
        "<ListBucketResult/><ListBucketResult/>",
        "x<ListBucketResult/>",
        "<ListBucketResult><Name>&nbsp;</Name></ListBucketResult>",
        "<ListBucketResult><Name>&#0;</Name></ListBucketResult>",
        "<ListBucketResult><Name>&#xD800;</Name></ListBucketResult>",
        "<ListBucketResult><Name>&#x110000;</Name></ListBucketResult>",
        "<!DOCTYPE x [<!ENTITY a \"b\">]><ListBucketResult/>",
        /* another document */
        "<Error><Code>AccessDenied</Code></Error>",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct zp_err err;
        zp_err_init(&err);
        struct s3_object *objs = NULL;
        size_t n = 0, cap = 0;
        bool truncated = false;
        char *token = NULL;
        int rc = s3__xml_list(bad[i], strlen(bad[i]), &objs, &n, &cap, &truncated, &token, &err);
        if (rc == 0)
            fail_msg("accepted: %s", bad[i]);
        assert_true(err.msg[0] != '\0');
        s3_objects_free(objs, n);
    }
    /* nesting is capped */
    struct zp_buf deep = ZP_BUF_INIT;
    for (int i = 0; i < 40; i++)
        zp_buf_adds(&deep, "<a>");
    struct zp_err err;
    zp_err_init(&err);
    char *id = NULL;
    assert_int_equal(s3__xml_initiate(deep.p, deep.len, &id, &err), ZP_E_TOOBIG);
    zp_buf_release(&deep);
}

static void xml_multipart(void **state)
{
    (void)state;
    struct zp_err err;
    zp_err_init(&err);
    const char *init =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket><Key>k</Key>"
        "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
        "</InitiateMultipartUploadResult>";
    char *id = NULL;
    assert_int_equal(s3__xml_initiate(init, strlen(init), &id, &err), 0);
    assert_string_equal(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
    free(id);
    const char *done = "<CompleteMultipartUploadResult><Location>http://x/b/k</Location>"
                       "<Bucket>b</Bucket><Key>k</Key><ETag>\"3858f62230ac3c915f300c664312c11f-9"
                       "\"</ETag></CompleteMultipartUploadResult>";
    char *etag = NULL;
    assert_int_equal(s3__xml_complete(done, strlen(done), &etag, &err), 0);
    assert_string_equal(etag, "3858f62230ac3c915f300c664312c11f-9");
    free(etag);
    /* S3 may answer 200 with an Error body to CompleteMultipartUpload */
    const char *late = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n<Error><Code>InternalError"
                       "</Code><Message>We encountered an internal error.</Message></Error>";
    zp_err_init(&err);
    assert_int_equal(s3__xml_complete(late, strlen(late), &etag, &err), ZP_E_SYSTEM);
    assert_non_null(strstr(err.msg, "InternalError"));
    zp_err_init(&err);
    assert_int_equal(s3__xml_initiate("<InitiateMultipartUploadResult/>", 32, &id, &err),
                     ZP_E_INPUT);
}

/* ---- encodings, URLs, ETags, configuration ---- */

static void encodings(void **state)
{
    (void)state;
    struct zp_buf b = ZP_BUF_INIT;
    assert_int_equal(s3__uri_encode(&b, "a b+c/d=e~f_g.h-\xC3\xA9", true), 0);
    assert_string_equal(zp_buf_cstr(&b), "a%20b%2Bc/d%3De~f_g.h-%C3%A9");
    zp_buf_reset(&b);
    s3__uri_encode(&b, "1ue/X+Y=", false);
    assert_string_equal(zp_buf_cstr(&b), "1ue%2FX%2BY%3D");
    zp_buf_release(&b);
    char out[64];
    s3__base64((const unsigned char *)"", 0, out);
    assert_string_equal(out, "");
    s3__base64((const unsigned char *)"f", 1, out);
    assert_string_equal(out, "Zg==");
    s3__base64((const unsigned char *)"fo", 2, out);
    assert_string_equal(out, "Zm8=");
    s3__base64((const unsigned char *)"foobar", 6, out);
    assert_string_equal(out, "Zm9vYmFy");
    /* md5("a" x 10), md5("bbb"): S3's ETag of a two-part object */
    static const unsigned char md5s[2][16] = {
        {224, 156, 128, 196, 47, 218, 85, 249, 217, 146, 229, 156, 166, 179, 48, 125},
        {8, 248, 224, 38, 12, 100, 65, 133, 16, 206, 251, 43, 6, 238, 229, 205}};
    char etag[80];
    s3__multipart_etag(md5s, 2, etag);
    assert_string_equal(etag, "568bd1f3a3ef4a720453555306037d4b-2");
}

static void urls(void **state)
{
    (void)state;
    char ep[] = "http://127.0.0.1:9000", region[] = "us-east-1";
    struct s3_config c = {.endpoint = ep, .region = region, .path_style = true};
    char *u = s3__url(&c, "bkt", "a dir/x+y.tar", "partNumber=1&uploadId=a%2Fb");
    assert_string_equal(u,
                        "http://127.0.0.1:9000/bkt/a%20dir/x%2By.tar?partNumber=1&uploadId=a%2Fb");
    free(u);
    u = s3__url(&c, "bkt", NULL, "list-type=2&prefix=");
    assert_string_equal(u, "http://127.0.0.1:9000/bkt/?list-type=2&prefix=");
    free(u);
    char aws[] = "https://s3.eu-west-1.amazonaws.com";
    c.endpoint = aws;
    c.path_style = false;
    u = s3__url(&c, "bkt", "k", NULL);
    assert_string_equal(u, "https://bkt.s3.eu-west-1.amazonaws.com/k");
    free(u);

    struct zp_err err;
    zp_err_init(&err);
    char *b = NULL, *k = NULL;
    assert_int_equal(s3_url_parse("s3://my-bucket.1/a/b.tar.zst", &b, &k, &err), 0);
    assert_string_equal(b, "my-bucket.1");
    assert_string_equal(k, "a/b.tar.zst");
    free(b);
    free(k);
    assert_int_equal(s3_url_parse("s3://bkt", &b, &k, &err), 0);
    assert_string_equal(k, "");
    free(b);
    free(k);
    static const char *const bad[] = {"http://bkt/k", "s3://",        "s3://ab/k",    "s3://Bkt/k",
                                      "s3://-bkt/k",  "s3://bkt_x/k", "s3://bkt/a\nb"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        zp_err_init(&err);
        if (s3_url_parse(bad[i], &b, &k, &err) != ZP_E_USAGE)
            fail_msg("accepted '%s'", bad[i]);
    }
}

static void config_env(void **state)
{
    (void)state;
    struct zp_err err;
    zp_err_init(&err);
    struct s3_config c;
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_S3");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_S3_PATH_STYLE");
    setenv("AWS_SECRET_ACCESS_KEY", "sk", 1);
    assert_int_equal(s3_config_from_env(NULL, NULL, false, &c, &err), ZP_E_USAGE);
    assert_non_null(strstr(err.msg, "AWS_ACCESS_KEY_ID"));
    setenv("AWS_ACCESS_KEY_ID", "ak", 1);
    setenv("AWS_REGION", "eu-west-3", 1);
    zp_err_init(&err);
    assert_int_equal(s3_config_from_env(NULL, NULL, false, &c, &err), 0);
    assert_string_equal(c.endpoint, "https://s3.eu-west-3.amazonaws.com");
    assert_string_equal(c.region, "eu-west-3");
    assert_false(c.path_style);
    assert_int_equal(c.part_size, S3_DEFAULT_PART);
    s3_config_release(&c);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/", 1);
    setenv("ZPANEL_S3_PART_SIZE", "16MiB", 1);
    assert_int_equal(s3_config_from_env(NULL, "auto", true, &c, &err), 0);
    assert_string_equal(c.endpoint, "http://127.0.0.1:9000");
    assert_string_equal(c.region, "auto");
    assert_true(c.path_style);
    assert_int_equal(c.part_size, (size_t)16 << 20);
    s3_config_release(&c);
    setenv("ZPANEL_S3_PART_SIZE", "1MiB", 1); /* below S3's minimum */
    assert_int_equal(s3_config_from_env(NULL, NULL, false, &c, &err), ZP_E_USAGE);
    unsetenv("ZPANEL_S3_PART_SIZE");
    zp_err_init(&err);
    assert_int_equal(s3_config_from_env("ftp://x", NULL, false, &c, &err), ZP_E_USAGE);
    assert_non_null(strstr(err.msg, "--s3-endpoint"));
    zp_err_init(&err);
    assert_int_equal(s3_config_from_env("http://h/path", NULL, false, &c, &err), ZP_E_USAGE);
    unsetenv("AWS_ENDPOINT_URL");
}

/* ---- the wire: a fake server that records requests and plays canned answers ---- */

struct fake {
    int fd;
    int port;
    pthread_t t;
    const char *const *answers; /* full HTTP responses, one per request */
    size_t nanswers;
    char *requests[8]; /* head + body of each request received */
    size_t nrequests;
};

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    for (size_t i = 0; i < f->nanswers; i++) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        struct zp_buf req = ZP_BUF_INIT;
        char buf[4096];
        size_t want = 0;
        for (;;) {
            ssize_t n = read(c, buf, sizeof(buf));
            if (n <= 0)
                break;
            zp_buf_add(&req, buf, (size_t)n);
            const char *end = strstr(zp_buf_cstr(&req), "\r\n\r\n");
            if (end && want == 0) {
                const char *cl = strcasestr(req.p, "\r\ncontent-length:");
                long len = cl && cl < end ? strtol(cl + 17, NULL, 10) : 0;
                want = (size_t)(end + 4 - req.p) + (size_t)len;
            }
            if (want && req.len >= want)
                break;
        }
        f->requests[f->nrequests++] = zp_buf_detach(&req, NULL);
        ssize_t w = write(c, f->answers[i], strlen(f->answers[i]));
        (void)w;
        close(c);
    }
    return NULL;
}

static void fake_start(struct fake *f, const char *const *answers, size_t n)
{
    memset(f, 0, sizeof(*f));
    f->answers = answers;
    f->nanswers = n;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f->fd, 8), 0);
    socklen_t al = sizeof(a);
    getsockname(f->fd, (struct sockaddr *)&a, &al);
    f->port = ntohs(a.sin_port);
    pthread_create(&f->t, NULL, fake_main, f);
}

/* Wait until every answer was played. */
static void fake_stop(struct fake *f)
{
    pthread_join(f->t, NULL);
    close(f->fd);
}

static void fake_free(struct fake *f)
{
    for (size_t i = 0; i < f->nrequests; i++)
        free(f->requests[i]);
}

static struct s3_client *client_for(const struct fake *f)
{
    char *ep = zp_asprintf("http://127.0.0.1:%d", f->port);
    char region[] = "eu-west-1", ak[] = "AKIDEXAMPLE",
         sk[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    struct s3_config c = {.endpoint = ep,
                          .region = region,
                          .access_key = ak,
                          .secret_key = sk,
                          .path_style = true,
                          .part_size = S3_MIN_PART,
                          .parallel = 1,
                          .retries = 2,
                          .retry_base_ms = 1};
    struct s3_client *cl = NULL;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(s3_client_new(&c, &cl, &err), 0);
    free(ep);
    return cl;
}

/* The value of header name (lowercase) in a recorded request; fresh. */
static char *header(const char *req, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(req, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ')
                v++;
            return zp_strndup(v, strcspn(v, "\r"));
        }
    }
    return NULL;
}

static void hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned char k[64] = {0}, ipad[64], opad[64], inner[32];
    if (klen > 64) {
        zp_sha256(key, klen, k);
    } else {
        memcpy(k, key, klen);
    }
    for (int i = 0; i < 64; i++) {
        ipad[i] = k[i] ^ 0x36;
        opad[i] = k[i] ^ 0x5c;
    }
    struct zp_sha256 h;
    zp_sha256_init(&h);
    zp_sha256_update(&h, ipad, 64);
    zp_sha256_update(&h, msg, strlen(msg));
    zp_sha256_final(&h, inner);
    zp_sha256_init(&h);
    zp_sha256_update(&h, opad, 64);
    zp_sha256_update(&h, inner, 32);
    zp_sha256_final(&h, out);
}

/* Recompute the SigV4 signature of a recorded request (AWS's specification: canonical
 * request, string to sign, derived key) and compare it with the one sent. */
static void check_signature(const char *req, const char *secret, const char *region)
{
    char *auth = header(req, "authorization");
    char *date = header(req, "x-amz-date");
    char *payload = header(req, "x-amz-content-sha256");
    assert_non_null(auth);
    assert_non_null(date);
    assert_non_null(payload);
    const char *sh = strstr(auth, "SignedHeaders=");
    const char *sg = strstr(auth, "Signature=");
    assert_non_null(sh);
    assert_non_null(sg);
    char *signed_headers = zp_strndup(sh + 14, strcspn(sh + 14, ","));
    struct zp_buf cr = ZP_BUF_INIT;
    const char *sp = strchr(req, ' ');
    zp_buf_add(&cr, req, (size_t)(sp - req));
    zp_buf_addc(&cr, '\n');
    const char *target = sp + 1;
    size_t tlen = strcspn(target, " ");
    const char *q = memchr(target, '?', tlen);
    zp_buf_add(&cr, target, q ? (size_t)(q - target) : tlen);
    zp_buf_addc(&cr, '\n');
    if (q)
        zp_buf_add(&cr, q + 1, tlen - (size_t)(q + 1 - target)); /* sent sorted already */
    zp_buf_addc(&cr, '\n');
    char *names = zp_strdup(signed_headers);
    for (char *save = NULL, *n = strtok_r(names, ";", &save); n; n = strtok_r(NULL, ";", &save)) {
        char *v = header(req, n);
        assert_non_null(v);
        zp_buf_addf(&cr, "%s:%s\n", n, v);
        free(v);
    }
    free(names);
    zp_buf_addf(&cr, "\n%s\n%s", signed_headers, payload);
    char crhash[65];
    zp_sha256_hex(cr.p, cr.len, crhash);
    char day[9];
    snprintf(day, sizeof(day), "%.8s", date);
    char *sts =
        zp_asprintf("AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s", date, day, region, crhash);
    char *k0 = zp_asprintf("AWS4%s", secret);
    unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
    hmac((unsigned char *)k0, strlen(k0), day, k1);
    hmac(k1, 32, region, k2);
    hmac(k2, 32, "s3", k3);
    hmac(k3, 32, "aws4_request", k4);
    hmac(k4, 32, sts, sig);
    char hex[65];
    zp_hex32(sig, hex);
    assert_memory_equal(sg + 10, hex, 64);
    free(k0);
    free(sts);
    zp_buf_release(&cr);
    free(signed_headers);
    free(auth);
    free(date);
    free(payload);
}

/* A whole HTTP answer with body (fresh). */
static char *answer(const char *status, const char *body)
{
    return zp_asprintf("HTTP/1.1 %s\r\nETag: \"abc\"\r\nContent-Length: %zu\r\nConnection: "
                       "close\r\n\r\n%s",
                       status, strlen(body), body);
}

static void answers_free(char **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i]);
}

static void wire_put_signed(void **state)
{
    (void)state;
    char *answers[] = {answer("200 OK", "")};
    struct fake f;
    fake_start(&f, (const char *const *)answers, 1);
    struct s3_client *cl = client_for(&f);
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(s3_put(cl, "zps3-bucket", "dir/a b.txt", "hello\n", 6, &err), 0);
    fake_stop(&f);
    assert_int_equal(f.nrequests, 1);
    const char *req = f.requests[0];
    assert_true(zp_str_has_prefix(req, "PUT /zps3-bucket/dir/a%20b.txt HTTP/1.1\r\n"));
    char *v = header(req, "x-amz-content-sha256"); /* sha256("hello\n") */
    assert_string_equal(v, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    free(v);
    v = header(req, "content-md5"); /* base64(md5("hello\n")) */
    assert_string_equal(v, "sZRqySSS0jR8YjW00mERhA==");
    free(v);
    v = header(req, "x-amz-meta-zpanel-size");
    assert_string_equal(v, "6");
    free(v);
    v = header(req, "authorization");
    assert_true(zp_str_has_prefix(v, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
    assert_non_null(strstr(v, "/eu-west-1/s3/aws4_request, SignedHeaders="));
    assert_non_null(strstr(v, "content-md5;"));
    assert_non_null(strstr(v, "x-amz-content-sha256;x-amz-date"));
    free(v);
    assert_true(zp_str_has_suffix(req, "\r\n\r\nhello\n"));
    check_signature(req, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1");
    s3_client_free(cl);
    answers_free(answers, 1);
    fake_free(&f);
}

static void wire_list_retries_slowdown(void **state)
{
    (void)state;
    char *answers[] = {
        answer("503 Slow Down",
               "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>"
               "</Error>"),
        answer("200 OK", "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>"
                         "t/1+=</NextContinuationToken><Contents><Key>p/a</Key><Size>1</Size>"
                         "</Contents></ListBucketResult>"),
        answer("200 OK", "<ListBucketResult><Contents><Key>p/b</Key><Size>22</Size></Contents>"
                         "</ListBucketResult>"),
    };
    struct fake f;
    fake_start(&f, (const char *const *)answers, 3);
    struct s3_client *cl = client_for(&f);
    struct zp_err err;
    zp_err_init(&err);
    struct s3_object *objs = NULL;
    size_t n = 0;
    int rc = s3_list(cl, "zps3-bucket", "p/", &objs, &n, &err);
    fake_stop(&f);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(n, 2);
    assert_string_equal(objs[1].key, "p/b");
    assert_int_equal(objs[1].size, 22);
    assert_int_equal(f.nrequests, 3);
    /* the retry is the same request; the second page carries the token, encoded, and the
     * query's names are in the sorted order SigV4 wants */
    assert_true(zp_str_has_prefix(f.requests[1], "GET /zps3-bucket/?list-type=2&prefix=p%2F "));
    assert_true(zp_str_has_prefix(
        f.requests[2],
        "GET /zps3-bucket/?continuation-token=t%2F1%2B%3D&list-type=2&prefix=p%2F "));
    check_signature(f.requests[2], "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1");
    s3_objects_free(objs, n);
    s3_client_free(cl);
    answers_free(answers, 3);
    fake_free(&f);
}

static int discard(void *ud, const void *data, size_t len)
{
    (void)ud;
    (void)data;
    (void)len;
    return 0;
}

static void wire_errors(void **state)
{
    (void)state;
    char *answers[] = {
        answer("403 Forbidden", "<Error><Code>InvalidAccessKeyId</Code><Message>no such key"
                                "</Message></Error>"),
        answer("404 Not Found", "<Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>"),
        answer("500 Internal Server Error", ""),
        answer("500 Internal Server Error", ""),
        answer("500 Internal Server Error", ""),
    };
    struct fake f;
    fake_start(&f, (const char *const *)answers, 5);
    struct s3_client *cl = client_for(&f);
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(s3_get(cl, "zps3-bucket", "k", discard, NULL, NULL, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "access denied"));
    assert_non_null(strstr(err.msg, "InvalidAccessKeyId"));
    assert_non_null(strstr(err.msg, "AWS_ACCESS_KEY_ID"));
    zp_err_init(&err);
    assert_int_equal(s3_delete(cl, "zps3-bucket", "k", &err), ZP_E_NOTFOUND);
    assert_non_null(strstr(err.msg, "bucket 'zps3-bucket' does not exist"));
    zp_err_init(&err);
    /* 500 three times: the first try and two retries, then a clear failure */
    assert_int_equal(s3_delete(cl, "zps3-bucket", "k", &err), ZP_E_SYSTEM);
    assert_non_null(strstr(err.msg, "HTTP 500"));
    assert_non_null(strstr(err.msg, "after 3 attempts"));
    fake_stop(&f);
    assert_int_equal(f.nrequests, 5);
    s3_client_free(cl);
    answers_free(answers, 5);
    fake_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xml_error_doc),
        cmocka_unit_test(xml_list_page),
        cmocka_unit_test(xml_list_refuses),
        cmocka_unit_test(xml_multipart),
        cmocka_unit_test(encodings),
        cmocka_unit_test(urls),
        cmocka_unit_test(config_env),
        cmocka_unit_test(wire_put_signed),
        cmocka_unit_test(wire_list_retries_slowdown),
        cmocka_unit_test(wire_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

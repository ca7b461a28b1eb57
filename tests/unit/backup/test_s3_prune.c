/* Unit tests for backup/s3-prune.c (retention on S3) on the wire: a fake S3 server on a
 * loopback port records the requests and plays canned answers. The exact requests are the
 * expectation: one listing, a HEAD of the checksum object of each archive named as zpanel
 * names them, and DELETEs of only zpanel's verified archives the retention drops (archive
 * first, then its checksum object); foreign objects are never touched. */
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

#include "backup/backup.h"
#include "backup/schedule.h"

#define MAXREQ 16

struct fake {
    int fd;
    int port;
    pthread_t t;
    char **answers; /* full HTTP responses, one per request */
    size_t nanswers;
    char *requests[MAXREQ]; /* the request line of each request received */
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
        for (;;) {
            ssize_t n = read(c, buf, sizeof(buf));
            if (n <= 0)
                break;
            zp_buf_add(&req, buf, (size_t)n);
            if (strstr(zp_buf_cstr(&req), "\r\n\r\n")) /* no request here has a body */
                break;
        }
        const char *all = zp_buf_cstr(&req);
        f->requests[f->nrequests++] = zp_strndup(all, strcspn(all, "\r"));
        zp_buf_release(&req);
        ssize_t w = write(c, f->answers[i], strlen(f->answers[i]));
        (void)w;
        close(c);
    }
    return NULL;
}

static void fake_start(struct fake *f, char **answers, size_t n)
{
    memset(f, 0, sizeof(*f));
    assert_true(n <= MAXREQ);
    f->answers = answers;
    f->nanswers = n;
    f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f->fd, 16), 0);
    socklen_t al = sizeof(a);
    getsockname(f->fd, (struct sockaddr *)&a, &al);
    f->port = ntohs(a.sin_port);
    pthread_create(&f->t, NULL, fake_main, f);
}

static void fake_finish(struct fake *f)
{
    pthread_join(f->t, NULL);
    close(f->fd);
    for (size_t i = 0; i < f->nanswers; i++)
        free(f->answers[i]);
}

static void fake_free(struct fake *f)
{
    for (size_t i = 0; i < f->nrequests; i++)
        free(f->requests[i]);
}

static struct s3_client *client_for(const struct fake *f)
{
    char *ep = zp_asprintf("http://127.0.0.1:%d", f->port);
    char region[] = "us-east-1", ak[] = "AKIDEXAMPLE", sk[] = "secret";
    struct s3_config c = {.endpoint = ep,
                          .region = region,
                          .access_key = ak,
                          .secret_key = sk,
                          .path_style = true,
                          .part_size = S3_MIN_PART,
                          .parallel = 1,
                          .retries = 0,
                          .retry_base_ms = 1};
    struct s3_client *cl = NULL;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(s3_client_new(&c, &cl, &err), 0);
    free(ep);
    return cl;
}

static char *answer(const char *status, const char *headers, const char *body)
{
    return zp_asprintf("HTTP/1.1 %s\r\n%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                       status, headers, strlen(body), body);
}

/* HEAD of a checksum object zpanel wrote */
static char *zpanel_head(void)
{
    return answer("200 OK",
                  "x-amz-meta-zpanel-size: 100\r\nx-amz-meta-zpanel-sha256: "
                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
                  "");
}

/* The listing under nightly/ (keys in S3's order) */
static char *listing(void)
{
    static const char *const keys[][2] = {
        {"nightly/notes.txt", "5"},
        {"nightly/other-20261201-000000.tar.zst", "100"}, /* another project's */
        {"nightly/other-20261201-000000.tar.zst.sha256", "90"},
        {"nightly/sub/web-20261201-000000.tar.zst", "100"}, /* not directly under */
        {"nightly/sub/web-20261201-000000.tar.zst.sha256", "90"},
        {"nightly/web-20200101-000000.tar.zst", "100"}, /* its sum lacks zpanel's metadata */
        {"nightly/web-20200101-000000.tar.zst.sha256", "90"},
        {"nightly/web-20261201-000000.tar.zst", "100"},
        {"nightly/web-20261201-000000.tar.zst.sha256", "90"},
        {"nightly/web-20261202-000000.tar.zst", "100"},
        {"nightly/web-20261202-000000.tar.zst.sha256", "90"},
        {"nightly/web-20261203-000000.tar.zst", "100"},
        {"nightly/web-20261203-000000.tar.zst.sha256", "90"},
        {"nightly/web-20261204-000000.tar.zst", "100"}, /* no checksum object: not complete */
    };
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_adds(&b, "<ListBucketResult>");
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
        zp_buf_addf(&b, "<Contents><Key>%s</Key><Size>%s</Size></Contents>", keys[i][0],
                    keys[i][1]);
    zp_buf_adds(&b, "</ListBucketResult>");
    char *body = zp_buf_detach(&b, NULL);
    char *a = answer("200 OK", "", body);
    free(body);
    return a;
}

static void note(void *ud, const char *text)
{
    zp_buf_addf(ud, "%s\n", text);
}

static void prune_keeps_foreign(void **state)
{
    (void)state;
    char *answers[] = {
        listing(),
        answer("200 OK", "", ""), /* HEAD web-20200101's sum: no zpanel metadata */
        zpanel_head(),            /* web-20261201 */
        zpanel_head(),            /* web-20261202 */
        zpanel_head(),            /* web-20261203 */
        answer("204 No Content", "", ""),
        answer("204 No Content", "", ""),
    };
    struct fake f;
    fake_start(&f, answers, 7);
    struct s3_client *cl = client_for(&f);
    struct zp_err err;
    zp_err_init(&err);
    struct backup_retention r = {.last = 2};
    struct backup_prune_result res = {0};
    struct zp_buf notes = ZP_BUF_INIT;
    int rc = backup_s3_prune(cl, "zp-bucket", "nightly", "web", &r, note, &notes, &res, &err);
    fake_finish(&f);
    if (rc)
        fail_msg("%s", err.msg);
    static const char *const want[] = {
        "GET /zp-bucket/?list-type=2&prefix=nightly%2F HTTP/1.1",
        "HEAD /zp-bucket/nightly/web-20200101-000000.tar.zst.sha256 HTTP/1.1",
        "HEAD /zp-bucket/nightly/web-20261201-000000.tar.zst.sha256 HTTP/1.1",
        "HEAD /zp-bucket/nightly/web-20261202-000000.tar.zst.sha256 HTTP/1.1",
        "HEAD /zp-bucket/nightly/web-20261203-000000.tar.zst.sha256 HTTP/1.1",
        "DELETE /zp-bucket/nightly/web-20261201-000000.tar.zst HTTP/1.1",
        "DELETE /zp-bucket/nightly/web-20261201-000000.tar.zst.sha256 HTTP/1.1",
    };
    assert_int_equal(f.nrequests, 7);
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(f.requests[i], want[i]);
    assert_int_equal(res.considered, 3);
    assert_int_equal(res.removed, 1);
    assert_string_equal(zp_buf_cstr(&notes),
                        "retention: removed s3://zp-bucket/nightly/web-20261201-000000.tar.zst\n");
    zp_buf_release(&notes);
    s3_client_free(cl);
    fake_free(&f);
}

/* keep by size over the listed sizes; a prefix given with its '/' is not doubled */
static void prune_by_size(void **state)
{
    (void)state;
    char *answers[] = {
        listing(),
        answer("200 OK", "", ""),
        zpanel_head(),
        zpanel_head(),
        zpanel_head(),
        answer("204 No Content", "", ""),
        answer("204 No Content", "", ""),
        answer("204 No Content", "", ""),
        answer("204 No Content", "", ""),
    };
    struct fake f;
    fake_start(&f, answers, 9);
    struct s3_client *cl = client_for(&f);
    struct zp_err err;
    zp_err_init(&err);
    struct backup_retention r = {.bytes = 150}; /* one archive of 100 bytes fits */
    struct backup_prune_result res = {0};
    int rc = backup_s3_prune(cl, "zp-bucket", "nightly/", "web", &r, NULL, NULL, &res, &err);
    fake_finish(&f);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(f.nrequests, 9);
    assert_string_equal(f.requests[0], "GET /zp-bucket/?list-type=2&prefix=nightly%2F HTTP/1.1");
    assert_string_equal(f.requests[5],
                        "DELETE /zp-bucket/nightly/web-20261201-000000.tar.zst HTTP/1.1");
    assert_string_equal(f.requests[7],
                        "DELETE /zp-bucket/nightly/web-20261202-000000.tar.zst HTTP/1.1");
    assert_string_equal(f.requests[8],
                        "DELETE /zp-bucket/nightly/web-20261202-000000.tar.zst.sha256 HTTP/1.1");
    assert_int_equal(res.considered, 3);
    assert_int_equal(res.removed, 2);
    s3_client_free(cl);
    fake_free(&f);
}

/* a refused DELETE stops the pruning with the storage's reason */
static void prune_delete_fails(void **state)
{
    (void)state;
    char *answers[] = {
        listing(),
        answer("200 OK", "", ""),
        zpanel_head(),
        zpanel_head(),
        zpanel_head(),
        answer("403 Forbidden", "",
               "<Error><Code>AccessDenied</Code><Message>no delete for you</Message></Error>"),
    };
    struct fake f;
    fake_start(&f, answers, 6);
    struct s3_client *cl = client_for(&f);
    struct zp_err err;
    zp_err_init(&err);
    struct backup_retention r = {.last = 1};
    int rc = backup_s3_prune(cl, "zp-bucket", "nightly", "web", &r, NULL, NULL, NULL, &err);
    fake_finish(&f);
    assert_int_equal(rc, ZP_E_INPUT);
    assert_true(zp_str_has_prefix(err.msg, "retention: "));
    assert_non_null(strstr(err.msg, "AccessDenied"));
    assert_int_equal(f.nrequests, 6); /* nothing after the refusal */
    s3_client_free(cl);
    fake_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prune_keeps_foreign),
        cmocka_unit_test(prune_by_size),
        cmocka_unit_test(prune_delete_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

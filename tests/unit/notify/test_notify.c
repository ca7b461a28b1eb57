/* Unit tests for notify/: channel checks (each names its field), which events a channel
 * takes, the webhook's body and signature (RFC 4231's HMAC-SHA256 vector), the email's
 * headers (CRLF line ends, no header from user data). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "notify/notify.h"

static char *S(const char *s)
{
    return (char *)s; /* the channel's fields are not written through */
}

static int check(struct notify_channel *c, const char *want_field)
{
    struct zp_err err;
    zp_err_init(&err);
    int rc = notify_channel_check(c, &err);
    if (want_field != NULL) {
        if (rc != ZP_E_INPUT || strncmp(err.msg, want_field, strlen(want_field)) != 0) {
            fprintf(stderr, "want '%s...', got %d '%s'\n", want_field, rc, err.msg);
            return 1;
        }
    } else if (rc != 0) {
        fprintf(stderr, "unexpected: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static void test_checks(void **state)
{
    (void)state;
    struct notify_channel w = {.kind = NOTIFY_WEBHOOK,
                               .url = S("https://hooks.example.test/x"),
                               .secret = S("0123456789abcdef")};
    assert_int_equal(check(&w, NULL), 0);
    w.url = S("ftp://x");
    assert_int_equal(check(&w, "url: "), 0);
    w.url = S("http://");
    assert_int_equal(check(&w, "url: "), 0);
    w.url = S("http://a b");
    assert_int_equal(check(&w, "url: "), 0);
    w.url = S("http://127.0.0.1/\r\nX: y");
    assert_int_equal(check(&w, "url: "), 0);
    w.url = S("http://127.0.0.1/");
    w.secret = S("too-short");
    assert_int_equal(check(&w, "secret: "), 0);
    w.secret = NULL;
    assert_int_equal(check(&w, "secret: "), 0);
    w.secret = S("0123456789abcdef");
    w.events = S("deploy, backup");
    assert_int_equal(check(&w, NULL), 0);
    w.events = S("deploy,,backup");
    assert_int_equal(check(&w, "events: "), 0);
    w.events = S("Deploy");
    assert_int_equal(check(&w, "events: "), 0);

    struct notify_channel m = {.kind = NOTIFY_SMTP,
                               .url = S("smtp://127.0.0.1:25"),
                               .from = S("zpanel@example.test"),
                               .to = S("a@b.test, c@d.test")};
    assert_int_equal(check(&m, NULL), 0);
    m.url = S("http://127.0.0.1");
    assert_int_equal(check(&m, "url: "), 0);
    m.url = S("smtps://mail.example.test");
    m.from = S("no-at-sign");
    assert_int_equal(check(&m, "from: "), 0);
    m.from = S("a@b@c");
    assert_int_equal(check(&m, "from: "), 0);
    m.from = S("zpanel@example.test");
    m.to = S("a@b.test\r\nBcc: x@y.test");
    assert_int_equal(check(&m, "to: "), 0);
    m.to = S("<a@b.test>");
    assert_int_equal(check(&m, "to: "), 0);
    m.to = S("");
    assert_int_equal(check(&m, "to: "), 0);
    m.to = S("a@b.test");
    m.secret = S("pass\nword");
    assert_int_equal(check(&m, "user, password: "), 0);
}

static void test_wants(void **state)
{
    (void)state;
    struct notify_channel c = {.kind = NOTIFY_WEBHOOK};
    assert_true(notify_wants(&c, "app", "deploy", "succeeded"));
    c.project = S("app");
    assert_false(notify_wants(&c, "other", "deploy", "succeeded"));
    c.events = S("deploy, backup");
    assert_true(notify_wants(&c, "app", "backup", "failed"));
    assert_false(notify_wants(&c, "app", "stop", "failed"));
    assert_false(notify_wants(&c, "app", "deplo", "failed"));
    c.events = S("*");
    assert_true(notify_wants(&c, "app", "stop", "succeeded"));
    c.failures_only = true;
    assert_false(notify_wants(&c, "app", "stop", "succeeded"));
    assert_true(notify_wants(&c, "app", "stop", "cancelled"));
}

static void test_body_and_signature(void **state)
{
    (void)state;
    /* RFC 4231, test case 2 */
    char sig[NOTIFY_SIGNATURE_LEN];
    const char *data = "what do ya want for nothing?";
    notify_sign("Jefe", data, strlen(data), sig);
    assert_string_equal(sig,
                        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    struct notify_event ev = {.event = "deploy",
                              .project = "app",
                              .job = 7,
                              .status = "failed",
                              .error = "service 'web': unhealthy",
                              .started_ms = 1000,
                              .finished_ms = 2500};
    char *body = notify_body_json(&ev, 3000);
    json_error_t je;
    json_t *o = json_loads(body, 0, &je);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "event")), "deploy");
    assert_string_equal(json_string_value(json_object_get(o, "project")), "app");
    assert_int_equal(json_integer_value(json_object_get(o, "job")), 7);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(o, "error")), "service 'web': unhealthy");
    assert_true(json_is_null(json_object_get(o, "user")));
    assert_int_equal(json_integer_value(json_object_get(o, "finished_at")), 2500);
    assert_int_equal(json_integer_value(json_object_get(o, "sent_at")), 3000);
    json_decref(o);
    free(body);
}

static void test_mail(void **state)
{
    (void)state;
    struct notify_channel c = {.kind = NOTIFY_SMTP,
                               .url = S("smtp://127.0.0.1:25"),
                               .from = S("zpanel@example.test"),
                               .to = S("a@b.test, c@d.test")};
    struct notify_event ev = {.event = "backup",
                              .project = "app",
                              .job = 3,
                              .status = "failed",
                              .error = "line one\nline two\r\n.\nBcc: evil@x.test",
                              .user = "root",
                              .started_ms = 1000,
                              .finished_ms = 3000};
    char *m = notify_mail_text(&c, &ev, 1796428800000);
    const char *sep = strstr(m, "\r\n\r\n");
    assert_non_null(sep);
    size_t hlen = (size_t)(sep - m);
    char *headers = strndup(m, hlen);
    assert_non_null(strstr(headers, "From: zpanel <zpanel@example.test>\r\n"));
    assert_non_null(strstr(headers, "To: a@b.test, c@d.test\r\n"));
    assert_non_null(strstr(headers, "Subject: [zpanel] backup of app failed\r\n"));
    assert_non_null(strstr(headers, "Date: Sat, 05 Dec 2026 00:00:00 +0000\r\n"));
    assert_non_null(strstr(headers, "@example.test>\r\n"));
    assert_null(strstr(headers, "Bcc")); /* the error stays in the body */
    free(headers);
    assert_non_null(strstr(sep, "(job 3) failed after 2.0 s.\r\nAsked by: root\r\n"));
    assert_non_null(strstr(sep, "line one\r\nline two\r\n.\r\nBcc: evil@x.test\r\n"));
    for (const char *p = m; *p; p++) /* every line end is CRLF */
        if (*p == '\n')
            assert_true(p > m && p[-1] == '\r');
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_wants),
        cmocka_unit_test(test_body_and_signature),
        cmocka_unit_test(test_mail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

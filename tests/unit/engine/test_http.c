/* Unit tests for engine/http.c: plain HTTP over a unix socket (the client proxy/ uses for
 * Caddy's admin API and probe socket), against the fake engine's socket: the exact
 * request, an empty header, error statuses as answers, the answer cap, no server. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "fake_engine.h"

static void test_http_request(void **state)
{
    (void)state;
    static const struct route routes[] = {
        {"POST", "/load", 200, NULL, "{\"ok\":true}", FAKE_PLAIN},
        {"GET", "/config/", 200, NULL, "{\"admin\":{}}", FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    struct engine_http *h = NULL;
    assert_int_equal(engine_http_open(engine__socket_path(e), 1024, &h, &err), 0);
    const char *headers[] = {"Host:", "Content-Type: application/json", NULL};
    struct engine_http_response r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(engine_http_request(h, "POST", "/load", headers, "{\"a\":1}", 5000, &r, &err),
                     0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, strlen("{\"ok\":true}"));
    assert_string_equal(r.body, "{\"ok\":true}");
    engine_http_response_release(&r);
    char *ct = fake_last_content_type();
    assert_string_equal(ct, "application/json");
    free(ct);
    /* the same client again, no body; an unknown path is an answer (404), not an error */
    assert_int_equal(engine_http_request(h, "GET", "/config/", NULL, NULL, 5000, &r, &err), 0);
    assert_string_equal(r.body, "{\"admin\":{}}");
    engine_http_response_release(&r);
    assert_int_equal(engine_http_request(h, "GET", "/nope", NULL, NULL, 5000, &r, &err), 0);
    assert_int_equal(r.status, 404);
    engine_http_response_release(&r);
    char *log = fake_log();
    assert_string_equal(log, "POST /load {\"a\":1}\nGET /config/ \nGET /nope \n");
    free(log);
    /* an answer larger than the cap */
    fake_big_response(4096);
    assert_int_equal(engine_http_request(h, "GET", "/config/", NULL, NULL, 5000, &r, &err),
                     ZP_E_TOOBIG);
    assert_non_null(strstr(err.msg, "larger than 1024 bytes"));
    fake_big_response(0);
    engine_http_close(h);
    engine_free(e);

    /* nothing listens: ZP_E_SYSTEM naming the socket */
    zp_err_init(&err);
    assert_int_equal(engine_http_open("/nonexistent/zpanel-test.sock", 1024, &h, &err), 0);
    assert_int_equal(engine_http_request(h, "GET", "/", NULL, NULL, 2000, &r, &err), ZP_E_SYSTEM);
    assert_non_null(strstr(err.msg, "/nonexistent/zpanel-test.sock"));
    engine_http_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_request),
    };
    return cmocka_run_group_tests(tests, fake_start, fake_stop);
}

/* Unit tests for server/: the route table against openapi.json (both ways, with scopes),
 * route matching, JSON body caps and positions, SSE framing, and a running server on a
 * loopback port: auth (401, 403), errors (400 with position, 404, 405, 413, 422 with the
 * loader's file:line:col), projects, the audit trail, accounts (user add, token create). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fixture.h"
#include "server/server-int.h"

/* ---- the route table and openapi.json ---- */

static void test_openapi_matches_routes(void **state)
{
    (void)state;
    size_t len, n;
    const char *text = srv_openapi_text(&len);
    json_error_t je;
    json_t *doc = json_loadb(text, len, 0, &je);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_t *paths = json_object_get(doc, "paths");
    const struct srv_route *routes = srv_routes(&n);
    /* every route is documented, with its scope */
    for (size_t i = 0; i < n; i++) {
        char method[8];
        size_t k;
        for (k = 0; routes[i].method[k] && k < sizeof(method) - 1; k++)
            method[k] = (char)(routes[i].method[k] - 'A' + 'a');
        method[k] = '\0';
        json_t *op = json_object_get(json_object_get(paths, routes[i].pattern), method);
        if (!op)
            fail_msg("route %s %s is not in openapi.json", routes[i].method, routes[i].pattern);
        json_t *sec = json_object_get(op, "security");
        if (routes[i].scope == STORE_SCOPE_NONE) {
            assert_true(json_is_array(sec) && json_array_size(sec) == 0);
        } else {
            assert_null(sec); /* the document's default: bearer */
            const char *scope = json_string_value(json_object_get(op, "x-zpanel-scope"));
            if (!scope || strcmp(scope, store_scope_name(routes[i].scope)) != 0)
                fail_msg("%s %s: x-zpanel-scope '%s', the server needs '%s'", routes[i].method,
                         routes[i].pattern, scope ? scope : "", store_scope_name(routes[i].scope));
            json_t *resp = json_object_get(op, "responses");
            assert_non_null(json_object_get(resp, "401"));
            assert_non_null(json_object_get(resp, "403"));
        }
    }
    /* every documented operation is a route */
    const char *path;
    json_t *item;
    size_t ops = 0;
    json_object_foreach(paths, path, item)
    {
        const char *m;
        json_t *op;
        json_object_foreach(item, m, op)
        {
            ops++;
            bool found = false;
            for (size_t i = 0; i < n && !found; i++)
                found =
                    strcmp(routes[i].pattern, path) == 0 && strcasecmp(routes[i].method, m) == 0;
            if (!found)
                fail_msg("openapi.json documents %s %s, which the server does not answer", m, path);
        }
    }
    assert_int_equal(ops, n);
    json_decref(doc);
}

static void test_route_match(void **state)
{
    (void)state;
    const struct srv_route *r;
    struct zp_str p[SRV_MAX_PARAMS];
    size_t n;
    const char *allow;
    const char *path = "/api/v1/projects/web/deploy";
    assert_int_equal(srv_route_match("POST", path, strlen(path), &r, p, &n, &allow), 0);
    assert_string_equal(r->pattern, "/api/v1/projects/{name}/deploy");
    assert_int_equal(n, 1);
    assert_int_equal(p[0].len, 3);
    assert_memory_equal(p[0].p, "web", 3);
    path = "/api/v1/projects/web";
    assert_int_equal(srv_route_match("PATCH", path, strlen(path), &r, p, &n, &allow), 405);
    assert_string_equal(allow, "GET, PUT, DELETE");
    path = "/api/v1/jobs/12/log";
    assert_int_equal(srv_route_match("GET", path, strlen(path), &r, p, &n, &allow), 0);
    assert_memory_equal(p[0].p, "12", 2);
    const char *bad[] = {"/api/v1/projects/",
                         "/api/v1/projects//deploy",
                         "/api/v1/projectsx",
                         "/api/v1/projects/web/deploy/",
                         "",
                         "/",
                         "//healthz",
                         "/healthz/x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(srv_route_match("GET", bad[i], strlen(bad[i]), &r, p, &n, &allow), 404);
    path = "/healthz";
    assert_int_equal(srv_route_match("POST", path, strlen(path), &r, p, &n, &allow), 405);
    assert_string_equal(allow, "GET");
}

static void test_json_body(void **state)
{
    (void)state;
    json_t *v = NULL;
    struct zp_err err;
    zp_err_init(&err);
    const char *ok = "{\"name\": \"a\", \"x\": [1, {\"y\": \"[[[\"}]}";
    assert_int_equal(srv_json_parse_object(ok, strlen(ok), &v, &err), 0);
    json_decref(v);
    assert_int_equal(srv_json_depth(ok, strlen(ok), 100), 3);
    const char *bad = "{\n  \"name\": }";
    zp_err_init(&err);
    assert_int_equal(srv_json_parse_object(bad, strlen(bad), &v, &err), ZP_E_INPUT);
    assert_int_equal(err.pos.line, 2);
    assert_true(err.pos.col > 1);
    const char *dup = "{\"a\": 1, \"a\": 2}";
    zp_err_init(&err);
    assert_int_equal(srv_json_parse_object(dup, strlen(dup), &v, &err), ZP_E_INPUT);
    zp_err_init(&err);
    assert_int_equal(srv_json_parse_object("[1]", 3, &v, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "object"));
    char deep[200];
    size_t k = 0;
    for (; k < 40; k++)
        deep[k] = '[';
    deep[k] = '\0';
    zp_err_init(&err);
    assert_int_equal(srv_json_parse_object(deep, k, &v, &err), ZP_E_TOOBIG);
}

static void test_sse_frame(void **state)
{
    (void)state;
    struct zp_buf b = ZP_BUF_INIT;
    srv_sse_frame(&b, 7, "a\rb\nc", 5);
    assert_string_equal(zp_buf_cstr(&b), "id: 7\ndata: abc\n\n");
    zp_buf_release(&b);
}

/* ---- a running server ---- */

/* The error code of an error body. */
static void expect_error(const struct srvt_reply *r, int status, const char *code)
{
    if (r->status != status)
        fail_msg("status %d, want %d: %s", r->status, status, r->body);
    json_t *v = json_loads(r->body, 0, NULL);
    assert_non_null(v);
    json_t *e = json_object_get(v, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    assert_non_null(json_string_value(json_object_get(e, "message")));
    assert_true(json_is_array(json_object_get(e, "details")));
    json_decref(v);
}

static void test_http(void **state)
{
    struct srvt_fixture *f = *state;
    struct srvt_reply r = srvt_request(f, "GET", "/healthz", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"ok\""));
    srvt_reply_free(&r);
    r = srvt_request(f, "GET", "/api/v1/openapi.json", NULL, NULL);
    assert_int_equal(r.status, 200);
    srvt_reply_free(&r);

    /* auth */
    r = srvt_request(f, "GET", "/api/v1/projects", NULL, NULL);
    expect_error(&r, 401, "unauthorized");
    assert_non_null(strstr(r.head, "WWW-Authenticate: Bearer"));
    srvt_reply_free(&r);
    r = srvt_request(f, "GET", "/api/v1/projects", "zpt_wrong", NULL);
    expect_error(&r, 401, "unauthorized");
    srvt_reply_free(&r);
    r = srvt_request(f, "GET", "/api/v1/projects", f->reader, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"projects\":[]}");
    srvt_reply_free(&r);
    r = srvt_request(f, "POST", "/api/v1/projects", f->reader, "{}");
    expect_error(&r, 403, "forbidden");
    srvt_reply_free(&r);
    r = srvt_request(f, "GET", "/metrics", f->reader, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "zpanel_http_requests_total{method=\"GET\",route=\"/api/v1/"
                                   "projects\",code=\"401\"} 2"));
    srvt_reply_free(&r);

    /* errors */
    r = srvt_request(f, "GET", "/nope", f->admin, NULL);
    expect_error(&r, 404, "not_found");
    srvt_reply_free(&r);
    r = srvt_request(f, "PATCH", "/api/v1/projects", f->admin, NULL);
    expect_error(&r, 405, "method_not_allowed");
    assert_non_null(strstr(r.head, "Allow: GET, POST"));
    srvt_reply_free(&r);
    r = srvt_request(f, "POST", "/api/v1/projects", f->member, "{\n \"name\": ,}");
    expect_error(&r, 400, "bad_request");
    assert_non_null(strstr(r.body, "body:2:"));
    srvt_reply_free(&r);
    char *big = zp_malloc(SRV_BODY_MAX + 100);
    memset(big, ' ', SRV_BODY_MAX + 99);
    big[SRV_BODY_MAX + 99] = '\0';
    r = srvt_request(f, "POST", "/api/v1/projects", f->member, big);
    expect_error(&r, 413, "too_big");
    srvt_reply_free(&r);
    free(big);
    r = srvt_request(f, "POST", "/api/v1/projects", f->member,
                     "{\"name\": \"web\", \"compose\": \"services:\\n  web:\\n    image: busybox\\n"
                     "    ports: ['80a']\\n    restart: sometimes\\n\"}");
    expect_error(&r, 422, "invalid_compose");
    json_t *v = json_loads(r.body, 0, NULL);
    json_t *details = json_object_get(json_object_get(v, "error"), "details");
    assert_int_equal(json_array_size(details), 2);
    json_t *d0 = json_array_get(details, 0);
    assert_string_equal(json_string_value(json_object_get(d0, "file")), "compose.yaml");
    assert_int_equal(json_integer_value(json_object_get(d0, "line")), 4);
    assert_int_equal(json_integer_value(json_object_get(d0, "column")), 13);
    assert_string_equal(json_string_value(json_object_get(d0, "path")), "services.web.ports[0]");
    json_decref(v);
    srvt_reply_free(&r);
    r = srvt_request(
        f, "POST", "/api/v1/projects", f->member,
        "{\"name\": \"web\", \"compose\": \"services: {}\", \"env\": {\"1X\": \"a\"}}");
    expect_error(&r, 400, "bad_request");
    srvt_reply_free(&r);

    /* projects */
    const char *create = "{\"name\": \"web\", \"compose\": \"services:\\n  web:\\n    image: "
                         "${IMG}\\n    restart: ${R}\\n\", \"env\": {\"IMG\": \"busybox:1\", "
                         "\"R\": \"always\"}}";
    r = srvt_request(f, "POST", "/api/v1/projects", f->member, create);
    assert_int_equal(r.status, 201);
    /* env values are masked in answers */
    assert_non_null(strstr(r.body, "\"IMG\":\"" STORE_SECRET_MASK "\""));
    assert_null(strstr(r.body, "busybox:1"));
    srvt_reply_free(&r);
    r = srvt_request(f, "POST", "/api/v1/projects", f->member, create);
    expect_error(&r, 409, "conflict");
    srvt_reply_free(&r);
    char *file = zp_asprintf("%s/projects/web/compose.yaml", f->dir);
    assert_true(zp_file_exists(file));
    free(file);
    r = srvt_request(f, "GET", "/api/v1/projects", f->reader, NULL);
    assert_non_null(strstr(r.body, "\"name\":\"web\""));
    srvt_reply_free(&r);
    /* an env that makes the file invalid is refused, and nothing changes */
    r = srvt_request(f, "PUT", "/api/v1/projects/web", f->member,
                     "{\"env\": {\"IMG\": \"busybox:1\", \"R\": \"sometimes\"}}");
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(r.body, "services.web.restart"));
    srvt_reply_free(&r);
    r = srvt_request(f, "GET", "/api/v1/projects/web", f->reader, NULL);
    assert_non_null(strstr(r.body, "\"R\":\"" STORE_SECRET_MASK "\""));
    assert_null(strstr(r.body, "always"));
    srvt_reply_free(&r);
    {
        /* stored sealed under a 0600 key; they open to what was given, unchanged */
        struct store_panel *pdb;
        struct zp_err perr;
        zp_err_init(&perr);
        assert_int_equal(store_panel_open(f->dir, &pdb, &perr), 0);
        struct store_panel_project pp;
        assert_int_equal(store_panel_project_get(pdb, "web", &pp, &perr), 0);
        assert_null(strstr(pp.env_json, "always"));
        assert_non_null(strstr(pp.env_json, "\"R\":\"" STORE_SECRET_PREFIX));
        char *plain = NULL;
        assert_int_equal(store_env_open(f->dir, pp.env_json, &plain, &perr), 0);
        assert_string_equal(plain, "{\"IMG\":\"busybox:1\",\"R\":\"always\"}");
        free(plain);
        store_panel_project_release(&pp);
        store_panel_close(pdb);
        char *key = zp_asprintf("%s/secret.key", f->dir);
        struct stat st;
        assert_int_equal(stat(key, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(st.st_size, STORE_SECRET_KEY_BYTES);
        free(key);
    }
    r = srvt_request(f, "PUT", "/api/v1/projects/web", f->member,
                     "{\"compose\": \"services:\\n  api:\\n    image: ${IMG}\\n\"}");
    assert_int_equal(r.status, 200);
    srvt_reply_free(&r);
    r = srvt_request(f, "POST", "/api/v1/projects/nope/deploy", f->member, NULL);
    expect_error(&r, 404, "not_found");
    srvt_reply_free(&r);
    r = srvt_request(f, "POST", "/api/v1/projects/web/rollback", f->member, "{\"release\": 0}");
    expect_error(&r, 400, "bad_request");
    srvt_reply_free(&r);
    r = srvt_request(f, "POST", "/api/v1/projects/web/rollback", f->member, "{\"release\": \"2\"}");
    expect_error(&r, 400, "bad_request");
    srvt_reply_free(&r);
    r = srvt_request(f, "POST", "/api/v1/projects/web/backup", f->member, "{\"stop\": 1}");
    expect_error(&r, 400, "bad_request");
    srvt_reply_free(&r);
    r = srvt_request(f, "POST", "/api/v1/projects/web/backup", f->member, "{\"services\": [\"\"]}");
    expect_error(&r, 400, "bad_request");
    srvt_reply_free(&r);
    r = srvt_request(f, "GET", "/api/v1/projects/web/releases", f->reader, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"releases\":[]}");
    srvt_reply_free(&r);
    r = srvt_request(f, "GET", "/api/v1/jobs/999", f->reader, NULL);
    expect_error(&r, 404, "not_found");
    srvt_reply_free(&r);
    r = srvt_request(f, "GET", "/api/v1/jobs?status=bogus", f->reader, NULL);
    expect_error(&r, 400, "bad_request");
    srvt_reply_free(&r);

    /* every mutating request was audited */
    struct store_panel *db;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(store_panel_open(f->dir, &db, &err), 0);
    int64_t n;
    assert_int_equal(store_panel_audit_count(db, &n, &err), 0);
    assert_int_equal(n, 15); /* including the 405 */
    store_panel_close(db);
}

static void test_accounts(void **state)
{
    struct srvt_fixture *f = *state;
    struct zp_err err;
    char *tok = NULL;
    zp_err_init(&err);
    assert_int_equal(server_user_add(f->dir, "root", "admin", "password1", &err), ZP_E_CONFLICT);
    zp_err_init(&err);
    assert_int_equal(server_user_add(f->dir, "x", "admin", "short", &err), ZP_E_INPUT);
    zp_err_init(&err);
    assert_int_equal(server_user_add(f->dir, "-x", "admin", "password1", &err), ZP_E_INPUT);
    zp_err_init(&err);
    assert_int_equal(server_user_add(f->dir, "x", "god", "password1", &err), ZP_E_INPUT);
    /* a viewer's tokens are read-only */
    zp_err_init(&err);
    assert_int_equal(server_token_create(f->dir, "val", "deploy", 0, &tok, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "'read' at most"));
    zp_err_init(&err);
    assert_int_equal(server_token_create(f->dir, "nobody", "read", 0, &tok, &err), ZP_E_NOTFOUND);
    /* tokens are random and stored only as hashes */
    assert_int_equal(strncmp(f->admin, "zpt_", 4), 0);
    assert_string_not_equal(f->admin, f->member);
    char *path = zp_asprintf("%s/zpanel.db", f->dir);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(zp_file_read(path, 64 << 20, &data, &len, &err), 0);
    assert_null(memmem(data, len, f->admin, strlen(f->admin)));
    assert_null(memmem(data, len, "password1", 9));
    free(data);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openapi_matches_routes),
        cmocka_unit_test(test_route_match),
        cmocka_unit_test(test_json_body),
        cmocka_unit_test(test_sse_frame),
        cmocka_unit_test_setup_teardown(test_http, srvt_setup_server, srvt_teardown),
        cmocka_unit_test_setup_teardown(test_accounts, srvt_setup_server, srvt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

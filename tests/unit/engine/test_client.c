/* Unit tests for the engine client's transport and typed calls against the fake engine
 * (fake_engine.h): recorded answers, and the exact requests it received. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine/engine-int.h"
#include "fake_engine.h"
#include "util/util.h"

/* ---- pure helpers ---- */

static void test_parse_host(void **state)
{
    (void)state;
    struct zp_err err;
    char *sock = NULL, *base = NULL;
    zp_err_init(&err);
    assert_int_equal(engine__parse_host("unix:///var/run/docker.sock", &sock, &base, &err), 0);
    assert_string_equal(sock, "/var/run/docker.sock");
    assert_string_equal(base, "http://localhost");
    free(sock);
    free(base);
    assert_int_equal(engine__parse_host("tcp://127.0.0.1:2375", &sock, &base, &err), 0);
    assert_null(sock);
    assert_string_equal(base, "http://127.0.0.1:2375");
    free(base);
    assert_int_equal(engine__parse_host("tcp://[::1]:2375/", &sock, &base, &err), 0);
    assert_string_equal(base, "http://[::1]:2375");
    free(base);

    const char *bad[][2] = {
        {"unix://docker.sock", "invalid engine host 'unix://docker.sock': a unix socket path "
                               "must be absolute"},
        {"tcp://localhost", "invalid engine host 'tcp://localhost': expected tcp://HOST:PORT"},
        {"tcp://:2375", "invalid engine host 'tcp://:2375': expected tcp://HOST:PORT"},
        {"tcp://h:99999", "invalid engine host 'tcp://h:99999': invalid port"},
        {"tcp://h:1/x", "invalid engine host 'tcp://h:1/x': a path is not supported"},
        {"ssh://me@host", "engine host 'ssh://me@host' is not supported yet: use unix:// or "
                          "tcp://"},
        {"/var/run/docker.sock", "invalid engine host '/var/run/docker.sock': expected "
                                 "unix:///PATH or tcp://HOST:PORT"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        zp_err_init(&err);
        assert_int_equal(engine__parse_host(bad[i][0], &sock, &base, &err), ZP_E_INPUT);
        assert_string_equal(err.msg, bad[i][1]);
    }
}

static void test_engine_new_hosts(void **state)
{
    (void)state;
    struct zp_err err;
    zp_err_init(&err);
    setenv("DOCKER_HOST", "tcp://127.0.0.1:2375", 1);
    struct engine *e = engine_new(NULL, &err);
    assert_non_null(e);
    assert_string_equal(engine_host(e), "tcp://127.0.0.1:2375");
    assert_null(engine_api_version(e));
    assert_null(engine_server_version(e));
    engine_free(e);
    e = engine_new("unix:///x.sock", &err);
    assert_string_equal(engine_host(e), "unix:///x.sock");
    engine_free(e);
    unsetenv("DOCKER_HOST");
    e = engine_new("", &err);
    assert_string_equal(engine_host(e), ENGINE_DEFAULT_HOST);
    engine_free(e);
    engine_free(NULL);
    assert_null(engine_new("http://x", &err));
    assert_int_equal(err.code, ZP_E_INPUT);
}

static void test_escape_and_query(void **state)
{
    (void)state;
    struct zp_buf b = ZP_BUF_INIT;
    engine__escape(&b, "registry:5000/app/web:1.0 x&y", true);
    assert_string_equal(zp_buf_cstr(&b), "registry:5000/app/web:1.0%20x%26y");
    zp_buf_reset(&b);
    engine__escape(&b, "a/b:c~_.-", false);
    assert_string_equal(zp_buf_cstr(&b), "a%2Fb%3Ac~_.-");
    zp_buf_reset(&b);
    engine__query_add(&b, "all", "1");
    engine__query_add(&b, "name", "web 1");
    assert_string_equal(zp_buf_cstr(&b), "all=1&name=web%201");
    zp_buf_reset(&b);
    engine__query_label_filters(&b, NULL);
    assert_int_equal(b.len, 0);
    const char *const f[] = {"io.zpanel.project=p", "io.zpanel.service", NULL};
    engine__query_label_filters(&b, f);
    assert_string_equal(zp_buf_cstr(&b), "filters=%7B%22label%22%3A%5B%22io.zpanel.project%3Dp%22"
                                         "%2C%22io.zpanel.service%22%5D%7D");
    zp_buf_release(&b);
}

/* ---- against the fake engine ---- */

static void test_connect_and_keepalive(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"GET", "/_ping", 200, NULL, "OK", FAKE_PLAIN},
        {"GET", "/v1.41/info", 200, "info.json", NULL, FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(engine_ping(e, &err), 0);
    assert_null(engine_api_version(e));
    /* info connects first */
    struct engine_info in;
    assert_int_equal(engine_info(e, &in, &err), 0);
    assert_int_equal(in.ncpu, 2);
    assert_int_equal(in.mem_total, 25276510208LL);
    engine_info_release(&in);
    assert_string_equal(engine_api_version(e), "1.41");
    assert_string_equal(engine_server_version(e), "20.10.24+dfsg1");
    assert_int_equal(engine_ping(e, &err), 0);
    assert_int_equal(engine_info(e, &in, &err), 0);
    engine_info_release(&in);
    engine_free(e);
    char *log = fake_log();
    assert_string_equal(log, "GET /_ping \nGET /_ping \nGET /v1.41/info \nGET /_ping \n"
                             "GET /v1.41/info \n");
    free(log);
    /* one connection for all five requests */
    assert_int_equal(fake_connections(), 1);
}

static void test_connect_refuses_old_engine(void **state)
{
    (void)state;
    const struct route routes[] = {
        {"GET", "/_ping", 200, NULL, "nope", FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    fake_headers("Api-Version: 1.40\r\nServer: Docker/19.03.1 (linux)\r\n");
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    struct engine_container_list l;
    assert_int_equal(engine_container_list(e, NULL, true, &l, &err), ZP_E_ENGINE);
    assert_true(zp_str_has_prefix(err.msg, "Docker engine 19.03.1 speaks API 1.40, but zpanel "
                                           "needs API 1.41 or newer"));
    assert_null(engine_api_version(e));
    zp_err_init(&err);
    assert_int_equal(engine_ping(e, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "pinging the engine: unexpected answer (HTTP 200)");
    engine_free(e);
    char *log = fake_log();
    assert_string_equal(log, "GET /_ping \nGET /_ping \n");
    free(log);
}

/* Without an Api-Version header on /_ping, GET /version negotiates, with its MinAPIVersion. */
static void test_connect_falls_back_to_version(void **state)
{
    (void)state;
    const struct route routes[] = {
        {"GET", "/_ping", 200, NULL, "OK", FAKE_PLAIN},
        {"GET", "/version", 200, "version.json", NULL, FAKE_PLAIN},
        {"GET", "/v1.41/info", 200, "info.json", NULL, FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    fake_headers("");
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(engine_connect(e, &err), 0);
    assert_string_equal(engine_api_version(e), "1.41");
    assert_string_equal(engine_server_version(e), "20.10.24+dfsg1");
    engine_free(e);
    char *log = fake_log();
    assert_string_equal(log, "GET /_ping \nGET /version \n");
    free(log);

    /* an engine that needs a newer API than ours says so through /version */
    const struct route newer[] = {
        {"GET", "/_ping", 200, NULL, "OK", FAKE_PLAIN},
        {"GET", "/version", 200, NULL,
         "{\"Version\":\"99.0\",\"ApiVersion\":\"1.99\",\"MinAPIVersion\":\"1.90\"}", FAKE_PLAIN},
    };
    fake_routes(newer, N(newer));
    fake_headers("");
    e = fake_engine();
    zp_err_init(&err);
    assert_int_equal(engine_connect(e, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "Docker engine 99.0 needs API 1.90 or newer, but zpanel speaks "
                                 "at most API 1.45: upgrade zpanel");
    engine_free(e);
}

/* A newer engine gets our newest API version; if it no longer speaks it, its refusal
 * says whose upgrade it takes. */
static void test_connect_newer_engine(void **state)
{
    (void)state;
    const struct route routes[] = {
        {"GET", "/_ping", 200, NULL, "OK", FAKE_PLAIN},
        {"GET", "/v1.45/info", 200, "info.json", NULL, FAKE_PLAIN},
        {"GET", "/v1.45/containers/json?all=1", 400, NULL,
         "{\"message\":\"client version 1.45 is too old. Minimum supported API version is "
         "1.47, please upgrade your client to a newer version\"}",
         FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    fake_headers("Api-Version: 1.52\r\nServer: Docker/29.1.0 (linux)\r\n");
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    struct engine_info in;
    assert_int_equal(engine_info(e, &in, &err), 0);
    engine_info_release(&in);
    assert_string_equal(engine_api_version(e), "1.45");
    assert_string_equal(engine_server_version(e), "29.1.0");
    struct engine_container_list l;
    assert_int_equal(engine_container_list(e, NULL, true, &l, &err), ZP_E_ENGINE);
    assert_non_null(strstr(err.msg, "Minimum supported API version is 1.47, please upgrade your "
                                    "client to a newer version (HTTP 400); zpanel speaks at most "
                                    "API 1.45: upgrade zpanel"));
    engine_free(e);
}

static void test_unreachable_engine(void **state)
{
    (void)state;
    struct zp_err err;
    zp_err_init(&err);
    struct engine *e = engine_new("unix:///nonexistent/zp-test/docker.sock", &err);
    assert_int_equal(engine_connect(e, &err), ZP_E_ENGINE);
    assert_true(zp_str_has_prefix(err.msg, "asking the engine for its version: cannot connect "
                                           "to the Docker engine at "
                                           "'unix:///nonexistent/zp-test/docker.sock': "));
    assert_true(zp_str_has_suffix(err.msg, "; is dockerd running?"));
    engine_free(e);
}

static void test_lists_and_filters(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"GET",
         "/v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22io.zpanel.project%3Dzprec%"
         "22%5D%7D",
         200, "containers_list.json", NULL, FAKE_PLAIN},
        {"GET", "/v1.41/networks?filters=%7B%22label%22%3A%5B%22io.zpanel.project%22%5D%7D", 200,
         "networks_list.json", NULL, FAKE_PLAIN},
        {"GET", "/v1.41/volumes", 200, "volumes_list.json", NULL, FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    const char *const proj[] = {"io.zpanel.project=zprec", NULL};
    const char *const has[] = {"io.zpanel.project", NULL};
    struct engine_container_list cl;
    assert_int_equal(engine_container_list(e, proj, true, &cl, &err), 0);
    assert_int_equal(cl.n, 2);
    assert_string_equal(cl.items[1].names[0], "zprec-web-1");
    engine_container_list_release(&cl);
    struct engine_network_list nl;
    assert_int_equal(engine_network_list(e, has, &nl, &err), 0);
    assert_int_equal(nl.n, 1);
    assert_string_equal(nl.items[0].name, "zprec_net");
    engine_network_list_release(&nl);
    struct engine_volume_list vl;
    assert_int_equal(engine_volume_list(e, NULL, &vl, &err), 0);
    assert_int_equal(vl.n, 1);
    assert_string_equal(vl.items[0].name, "zprec_data");
    engine_volume_list_release(&vl);
    engine_free(e);
}

static void test_create_remove_calls(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"POST", "/v1.41/networks/create", 201, "network_create.json", NULL, FAKE_PLAIN},
        {"POST", "/v1.41/volumes/create", 201, "volume_create.json", NULL, FAKE_PLAIN},
        {"GET", "/v1.41/networks/zprec_net", 200, NULL, "{}", FAKE_PLAIN},
        {"GET", "/v1.41/volumes/zprec_gone", 404, NULL,
         "{\"message\":\"get zprec_gone: no such "
         "volume\"}",
         FAKE_PLAIN},
        {"DELETE", "/v1.41/networks/zprec_net", 204, NULL, NULL, FAKE_PLAIN},
        {"DELETE", "/v1.41/volumes/zprec_data?force=1", 409, NULL,
         "{\"message\":\"remove zprec_data: volume is in use - [b059]\"}", FAKE_PLAIN},
        {"POST", "/v1.41/containers/create?name=zprec-web-1", 201, "container_create.json", NULL,
         FAKE_PLAIN},
        {"POST", "/v1.41/containers/create?name=zprec-bad-1", 404, "error_404_image.json", NULL,
         FAKE_PLAIN},
        {"POST", "/v1.41/containers/zprec-web-1/start", 304, NULL, NULL, FAKE_PLAIN},
        {"POST", "/v1.41/containers/zprec-web-1/stop?t=3", 204, NULL, NULL, FAKE_PLAIN},
        {"DELETE", "/v1.41/containers/zprec-web-1?force=1&v=1", 204, NULL, NULL, FAKE_PLAIN},
        {"GET", "/v1.41/containers/zprec-web-1/json", 200, "container_inspect_running.json", NULL,
         FAKE_PLAIN},
        {"GET", "/v1.41/images/zp-rec-busybox:latest/json", 200, "image_inspect.json", NULL,
         FAKE_PLAIN},
        {"GET", "/v1.41/images/zprec-missing:latest/json", 404, "error_404_image_inspect.json",
         NULL, FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);

    const struct engine_kv labels[] = {{"io.zpanel.project", "zprec"}};
    struct engine_network_opts nopts = {.driver = "bridge", .labels = labels, .n_labels = 1};
    char *id = NULL;
    assert_int_equal(engine_network_create(e, "zprec_net", &nopts, &id, &err), 0);
    assert_string_equal(id, "7fc58064f43a42bfce13671a5d659263843f7ec652f9cca5ccc9b14e1205a6a5");
    free(id);
    struct engine_volume_opts vopts = {.labels = labels, .n_labels = 1};
    assert_int_equal(engine_volume_create(e, "zprec_data", &vopts, &err), 0);
    bool exists = false;
    assert_int_equal(engine_network_exists(e, "zprec_net", &exists, &err), 0);
    assert_true(exists);
    assert_int_equal(engine_volume_exists(e, "zprec_gone", &exists, &err), 0);
    assert_false(exists);
    assert_int_equal(err.code, 0);
    assert_int_equal(engine_network_remove(e, "zprec_net", &err), 0);
    assert_int_equal(engine_volume_remove(e, "zprec_data", true, &err), ZP_E_CONFLICT);
    assert_string_equal(err.msg, "removing volume 'zprec_data': remove zprec_data: volume is in "
                                 "use - [b059] (HTTP 409)");

    zp_err_init(&err);
    const char *cfg = "{\"Image\":\"zp-rec-busybox:latest\"}";
    assert_int_equal(engine_container_create(e, "zprec-web-1", cfg, &id, &err), 0);
    assert_string_equal(id, "b0592909ba4b23a27483d197eafbee2169b07cd187b7f0d23639f58352e74dbb");
    free(id);
    id = NULL;
    assert_int_equal(
        engine_container_create(e, "zprec-bad-1", "{\"Image\":\"zprec-missing\"}", &id, &err),
        ZP_E_NOTFOUND);
    assert_null(id);
    assert_string_equal(err.msg, "creating container 'zprec-bad-1': No such image: "
                                 "zprec-missing:latest (HTTP 404)");
    zp_err_init(&err);
    assert_int_equal(engine_container_create(e, "x", "{\"Image\":", &id, &err), ZP_E_INPUT);
    assert_string_equal(err.msg, "creating container 'x': the configuration is not a JSON object");
    zp_err_init(&err);
    assert_int_equal(engine_container_start(e, "zprec-web-1", &err), 0);
    assert_int_equal(engine_container_stop(e, "zprec-web-1", 3, &err), 0);
    assert_int_equal(engine_container_remove(e, "zprec-web-1", true, true, &err), 0);
    struct engine_container c;
    assert_int_equal(engine_container_inspect(e, "zprec-web-1", &c, &err), 0);
    assert_string_equal(c.health, "healthy");
    assert_true(c.running);
    engine_container_release(&c);
    assert_int_equal(engine_container_inspect(e, "nope", &c, &err), ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "inspecting container 'nope': page not found (HTTP 404)");

    zp_err_init(&err);
    exists = false;
    assert_int_equal(engine_image_inspect(e, "zp-rec-busybox:latest", &exists, &id, &err), 0);
    assert_true(exists);
    assert_string_equal(id,
                        "sha256:824b55f2fa96271a040acc4b173c068a7ea15b9f981cfbe5b9e96dc67a5470c5");
    free(id);
    assert_int_equal(engine_image_inspect(e, "zprec-missing:latest", &exists, &id, &err), 0);
    assert_false(exists);
    assert_null(id);
    assert_int_equal(err.code, 0);
    engine_free(e);

    char *log = fake_log();
    assert_string_equal(
        log,
        "GET /_ping \n"
        "POST /v1.41/networks/create {\"Name\":\"zprec_net\",\"CheckDuplicate\":true,"
        "\"Driver\":\"bridge\",\"Labels\":{\"io.zpanel.project\":\"zprec\"}}\n"
        "POST /v1.41/volumes/create {\"Name\":\"zprec_data\",\"Labels\":"
        "{\"io.zpanel.project\":\"zprec\"}}\n"
        "GET /v1.41/networks/zprec_net \n"
        "GET /v1.41/volumes/zprec_gone \n"
        "DELETE /v1.41/networks/zprec_net \n"
        "DELETE /v1.41/volumes/zprec_data?force=1 \n"
        "POST /v1.41/containers/create?name=zprec-web-1 {\"Image\":\"zp-rec-busybox:latest\"}\n"
        "POST /v1.41/containers/create?name=zprec-bad-1 {\"Image\":\"zprec-missing\"}\n"
        "POST /v1.41/containers/zprec-web-1/start \n"
        "POST /v1.41/containers/zprec-web-1/stop?t=3 \n"
        "DELETE /v1.41/containers/zprec-web-1?force=1&v=1 \n"
        "GET /v1.41/containers/zprec-web-1/json \n"
        "GET /v1.41/containers/nope/json \n"
        "GET /v1.41/images/zp-rec-busybox:latest/json \n"
        "GET /v1.41/images/zprec-missing:latest/json \n");
    free(log);
}

static void test_response_cap(void **state)
{
    (void)state;
    const struct route routes[] = {VERSION_ROUTE};
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(engine_connect(e, &err), 0);
    fake_big_response(ENGINE_MAX_RESPONSE + 1);
    struct engine_container_list l;
    assert_int_equal(engine_container_list(e, NULL, false, &l, &err), ZP_E_TOOBIG);
    assert_string_equal(err.msg, "listing containers: engine response too big (more than "
                                 "67108864 bytes)");
    /* the handle is usable after the failure */
    fake_big_response(0);
    zp_err_init(&err);
    assert_int_equal(engine_connect(e, &err), 0);
    engine_free(e);
}

struct collected {
    struct zp_buf out[4];
    size_t frames;
};

static int collect_frame(void *ctx, enum engine_stream stream, const char *data, size_t len,
                         struct zp_err *err)
{
    struct collected *c = ctx;
    (void)err;
    c->frames++;
    return zp_buf_add(&c->out[stream], data, len);
}

static void test_logs_stream(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"GET", "/v1.41/containers/zprec-logs-1/logs?stdout=1&stderr=1", 200, "logs_mux_long.bin",
         NULL, FAKE_PLAIN},
        {"GET", "/v1.41/containers/zprec-logs-1/logs?stdout=1&stderr=0&follow=1&tail=5", 200,
         "logs_mux_truncated.bin", NULL, FAKE_PLAIN},
        {"GET", "/v1.41/containers/tty/logs?stdout=1&stderr=1&timestamps=1&since=1700000000", 200,
         NULL, "plain tty text\n", FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    struct collected c = {0};
    assert_int_equal(engine_container_logs(e, "zprec-logs-1", NULL, collect_frame, &c, &err), 0);
    assert_int_equal(c.out[ENGINE_STREAM_STDOUT].len, 5 * 7 + 20000 + 1 + 5);
    assert_string_equal(zp_buf_cstr(&c.out[ENGINE_STREAM_STDERR]),
                        "warn 0\nwarn 1\nwarn 2\nwarn 3\nwarn 4\n");
    for (int i = 0; i < 4; i++)
        zp_buf_release(&c.out[i]);

    /* a stream cut inside a frame header */
    struct collected d = {0};
    struct engine_logs_opts o = {.follow = true, .no_stderr = true, .tail = 5};
    assert_int_equal(engine_container_logs(e, "zprec-logs-1", &o, collect_frame, &d, &err),
                     ZP_E_ENGINE);
    assert_string_equal(err.msg, "reading the logs of container 'zprec-logs-1': engine stream: "
                                 "truncated inside a frame at byte 12");
    assert_string_equal(zp_buf_cstr(&d.out[ENGINE_STREAM_STDOUT]), "ab\n");
    for (int i = 0; i < 4; i++)
        zp_buf_release(&d.out[i]);

    /* a TTY container's stream is passed through */
    struct collected t = {0};
    struct engine_logs_opts to = {.tty = true, .timestamps = true, .since = 1700000000};
    zp_err_init(&err);
    assert_int_equal(engine_container_logs(e, "tty", &to, collect_frame, &t, &err), 0);
    assert_string_equal(zp_buf_cstr(&t.out[ENGINE_STREAM_STDOUT]), "plain tty text\n");
    for (int i = 0; i < 4; i++)
        zp_buf_release(&t.out[i]);

    /* an unknown container */
    assert_int_equal(engine_container_logs(e, "nope", NULL, collect_frame, &t, &err),
                     ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "reading the logs of container 'nope': page not found (HTTP "
                                 "404)");
    engine_free(e);
}

struct progress_seen {
    size_t n;
    char *last_stream;
};

static int on_progress(void *ctx, const struct engine_progress *p, struct zp_err *err)
{
    struct progress_seen *s = ctx;
    (void)err;
    s->n++;
    if (p->stream) {
        free(s->last_stream);
        s->last_stream = zp_strdup(p->stream);
    }
    return 0;
}

static void test_build_stream(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"POST",
         "/v1.41/build?t=zprec-built%3Alatest&labels=%7B%22io.zpanel.project%22%3A%22zprec%22%7D&"
         "buildargs=%7B%22A%22%3A%221%22%7D&forcerm=1&nocache=1",
         200, "build_progress.jsonl", NULL, FAKE_PLAIN},
        {"POST", "/v1.41/build?t=zprec-fail%3Alatest&forcerm=1", 200, "build_error.jsonl", NULL,
         FAKE_PLAIN},
        {"POST", "/v1.41/build?t=zprec-odd%3Alatest&forcerm=1", 200, NULL,
         "{\"stream\":\"x\"}\nnot json\n", FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    static const char tar[] = "pretend\0tar";
    const struct engine_kv labels[] = {{"io.zpanel.project", "zprec"}};
    const struct engine_kv args[] = {{"A", "1"}};
    struct engine_build_opts o = {.tag = "zprec-built:latest",
                                  .labels = labels,
                                  .n_labels = 1,
                                  .build_args = args,
                                  .n_build_args = 1,
                                  .no_cache = true};
    struct progress_seen seen = {0};
    char *id = NULL;
    assert_int_equal(engine_image_build(e, tar, sizeof(tar) - 1, &o, on_progress, &seen, &id, &err),
                     0);
    assert_string_equal(id,
                        "sha256:6082cf15f08692dfbaaec91a00dc23e32c9a86076a6a2081f5d23bfccf882007");
    assert_int_equal(seen.n, 15);
    assert_string_equal(seen.last_stream, "Successfully tagged zprec-built:latest\n");
    free(seen.last_stream);
    free(id);
    id = NULL;

    struct engine_build_opts f = {.tag = "zprec-fail:latest"};
    assert_int_equal(engine_image_build(e, tar, sizeof(tar) - 1, &f, NULL, NULL, &id, &err),
                     ZP_E_ENGINE);
    assert_null(id);
    assert_true(zp_str_has_prefix(err.msg, "building image 'zprec-fail:latest': failed to create "
                                           "shim task"));
    zp_err_init(&err);
    struct engine_build_opts g = {.tag = "zprec-odd:latest"};
    assert_int_equal(engine_image_build(e, tar, sizeof(tar) - 1, &g, NULL, NULL, &id, &err),
                     ZP_E_ENGINE);
    assert_true(zp_str_has_prefix(err.msg, "building image 'zprec-odd:latest': engine stream: "
                                           "line 2 is not JSON"));
    zp_err_init(&err);
    assert_int_equal(engine_image_build(e, tar, 0, &g, NULL, NULL, &id, &err), ZP_E_INPUT);
    assert_string_equal(err.msg, "building image 'zprec-odd:latest': empty build context");
    engine_free(e);

    /* the tar went up whole, with its content type */
    char *log = fake_log();
    assert_non_null(strstr(log, "nocache=1 pretend\n"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_host),
        cmocka_unit_test(test_engine_new_hosts),
        cmocka_unit_test(test_escape_and_query),
        cmocka_unit_test(test_connect_and_keepalive),
        cmocka_unit_test(test_connect_refuses_old_engine),
        cmocka_unit_test(test_connect_falls_back_to_version),
        cmocka_unit_test(test_connect_newer_engine),
        cmocka_unit_test(test_unreachable_engine),
        cmocka_unit_test(test_lists_and_filters),
        cmocka_unit_test(test_create_remove_calls),
        cmocka_unit_test(test_response_cap),
        cmocka_unit_test(test_logs_stream),
        cmocka_unit_test(test_build_stream),
    };
    return cmocka_run_group_tests(tests, fake_start, fake_stop);
}

/* Unit tests for the engine calls zpanel's commands use (networks in full, container
 * actions, wait, top, ports, images, exec and attach over hijacked streams, events,
 * cancellation, several engines in threads) against the fake engine (fake_engine.h). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine-int.h"
#include "fake_engine.h"
#include "util/util.h"

static void assert_log(const char *expected)
{
    char *log = fake_log();
    assert_string_equal(log, expected);
    free(log);
}

/* ---- pure helpers ---- */

static void test_parse_time(void **state)
{
    (void)state;
    int64_t t = -1;
    assert_int_equal(engine__parse_time("2026-11-23T20:56:31.567632716Z", &t), 0);
    assert_int_equal(t, 1795467391);
    assert_int_equal(engine__parse_time("2024-03-01T01:30:00+02:00", &t), 0);
    assert_int_equal(t, 1709249400);
    assert_int_equal(engine__parse_time("2024-02-29T22:30:00-01:00", &t), 0);
    assert_int_equal(t, 1709249400);
    assert_int_equal(engine__parse_time("0001-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    const char *bad[] = {"",
                         "2024-01-01",
                         "2024-01-01T00:00:00",
                         "2024-13-01T00:00:00Z",
                         "2024-01-01T00:00:00.Z",
                         "2024-01-01T00:00:00Zx",
                         "x024-01-01T00:00:00Z",
                         "2024-01-01T00:00:00+0200"};
    for (size_t i = 0; i < N(bad); i++)
        assert_int_equal(engine__parse_time(bad[i], &t), ZP_E_INPUT);
}

static void test_response_head_and_chunks(void **state)
{
    (void)state;
    long status = 0;
    int64_t clen = 0;
    bool chunked = true;
    const char h1[] = "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                      "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
    assert_int_equal(engine__parse_response_head(h1, strlen(h1), &status, &clen, &chunked), 0);
    assert_int_equal(status, 101);
    assert_int_equal(clen, -1);
    assert_false(chunked);
    const char h2[] = "HTTP/1.1 404 Not Found\r\ncontent-length:  42 \r\n\r\n";
    assert_int_equal(engine__parse_response_head(h2, strlen(h2), &status, &clen, &chunked), 0);
    assert_int_equal(status, 404);
    assert_int_equal(clen, 42);
    const char h3[] = "HTTP/1.0 500 X\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_int_equal(engine__parse_response_head(h3, strlen(h3), &status, &clen, &chunked), 0);
    assert_true(chunked);
    const char *bad[] = {"HTTP/2 200\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
                         "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "SSH-2.0\r\n\r\n"};
    for (size_t i = 0; i < N(bad); i++)
        assert_int_equal(
            engine__parse_response_head(bad[i], strlen(bad[i]), &status, &clen, &chunked),
            ZP_E_ENGINE);

    char body[] = "5;ext=1\r\nhello\r\n1A\r\n abcdefghijklmnopqrstuvwxy\r\n0\r\n\r\n";
    size_t len = 0;
    assert_int_equal(engine__dechunk(body, strlen(body), &len), 0);
    assert_int_equal(len, 31);
    assert_memory_equal(body, "hello abcdefghijklmnopqrstuvwxy", 31);
    char cut[] = "5\r\nhel";
    assert_int_equal(engine__dechunk(cut, strlen(cut), &len), ZP_E_ENGINE);
    char nohex[] = "zz\r\n";
    assert_int_equal(engine__dechunk(nohex, strlen(nohex), &len), ZP_E_ENGINE);
}

/* ---- networks and volumes ---- */

static void test_network_spec_connect_volume(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"POST", "/v1.41/networks/create", 201, "network_create.json", NULL, FAKE_PLAIN},
        {"POST", "/v1.41/networks/zprec_net/connect", 200, NULL, NULL, FAKE_PLAIN},
        {"POST", "/v1.41/networks/zprec_none/connect", 404, NULL,
         "{\"message\":\"network zprec_none not found\"}", FAKE_PLAIN},
        {"POST", "/v1.41/networks/zprec_net/disconnect", 200, NULL, NULL, FAKE_PLAIN},
        {"POST", "/v1.41/volumes/create", 201, "volume_create.json", NULL, FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);

    const struct engine_kv labels[] = {{"io.zpanel.project", "zprec"}};
    const struct engine_kv options[] = {{"com.docker.network.driver.mtu", "1400"}};
    const struct engine_kv aux[] = {{"host1", "172.28.1.5"}};
    const struct engine_kv ipam_opts[] = {{"foo", "bar"}};
    const struct engine_ipam_config pools[] = {
        {.subnet = "172.28.0.0/16",
         .ip_range = "172.28.5.0/24",
         .gateway = "172.28.5.254",
         .aux_addresses = aux,
         .n_aux_addresses = 1},
        {.subnet = "fd00:1::/64"},
    };
    struct engine_network_opts spec = {.driver = "bridge",
                                       .internal = true,
                                       .attachable = true,
                                       .enable_ipv6 = true,
                                       .labels = labels,
                                       .n_labels = 1,
                                       .options = options,
                                       .n_options = 1,
                                       .ipam_configs = pools,
                                       .n_ipam_configs = 2,
                                       .ipam_options = ipam_opts,
                                       .n_ipam_options = 1};
    char *id = NULL;
    assert_int_equal(engine_network_create(e, "zprec_net", &spec, &id, &err), 0);
    assert_string_equal(id, "7fc58064f43a42bfce13671a5d659263843f7ec652f9cca5ccc9b14e1205a6a5");
    free(id);
    struct engine_network_opts ipam_only = {.ipam_driver = "custom"};
    assert_int_equal(engine_network_create(e, "zprec_net", &ipam_only, NULL, &err), 0);

    const char *const aliases[] = {"web", "www", NULL};
    assert_int_equal(
        engine_network_connect(e, "zprec_net", "zprec-web-1", aliases, "172.28.5.3", &err), 0);
    assert_int_equal(engine_network_connect(e, "zprec_net", "zprec-job-1", NULL, NULL, &err), 0);
    const char *const links[] = {"db:database", NULL};
    const char *const ll[] = {"169.254.1.1", NULL};
    struct engine_endpoint ep = {.aliases = aliases,
                                 .ipv4_address = "172.28.5.4",
                                 .ipv6_address = "fd00:1::4",
                                 .link_local_ips = ll,
                                 .links = links};
    assert_int_equal(engine_network_connect_endpoint(e, "zprec_net", "zprec-db-1", &ep, &err), 0);
    assert_int_equal(engine_network_connect(e, "zprec_none", "zprec-web-1", NULL, NULL, &err),
                     ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "connecting container 'zprec-web-1' to network 'zprec_none': "
                                 "network zprec_none not found (HTTP 404)");
    zp_err_init(&err);
    assert_int_equal(engine_network_disconnect(e, "zprec_net", "zprec-web-1", true, &err), 0);
    assert_int_equal(engine_network_disconnect(e, "zprec_net", "zprec-job-1", false, &err), 0);
    assert_int_equal(engine_network_disconnect(e, "zprec_gone", "zprec-job-1", false, &err),
                     ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "disconnecting container 'zprec-job-1' from network "
                                 "'zprec_gone': page not found (HTTP 404)");
    zp_err_init(&err);

    const struct engine_kv vopts[] = {{"type", "tmpfs"}, {"device", "tmpfs"}};
    struct engine_volume_opts vo = {
        .driver = "local", .labels = labels, .n_labels = 1, .options = vopts, .n_options = 2};
    assert_int_equal(engine_volume_create(e, "zprec_data", &vo, &err), 0);
    engine_free(e);

    assert_log("GET /_ping \n"
               "POST /v1.41/networks/create {\"Name\":\"zprec_net\",\"CheckDuplicate\":true,"
               "\"Driver\":\"bridge\",\"Internal\":true,\"Attachable\":true,\"EnableIPv6\":true,"
               "\"Labels\":{\"io.zpanel.project\":\"zprec\"},"
               "\"Options\":{\"com.docker.network.driver.mtu\":\"1400\"},"
               "\"IPAM\":{\"Driver\":\"default\",\"Config\":[{\"Subnet\":\"172.28.0.0/16\","
               "\"IPRange\":\"172.28.5.0/24\",\"Gateway\":\"172.28.5.254\","
               "\"AuxiliaryAddresses\":{\"host1\":\"172.28.1.5\"}},{\"Subnet\":\"fd00:1::/64\"}],"
               "\"Options\":{\"foo\":\"bar\"}}}\n"
               "POST /v1.41/networks/create {\"Name\":\"zprec_net\",\"CheckDuplicate\":true,"
               "\"IPAM\":{\"Driver\":\"custom\",\"Config\":[]}}\n"
               "POST /v1.41/networks/zprec_net/connect {\"Container\":\"zprec-web-1\","
               "\"EndpointConfig\":{\"Aliases\":[\"web\",\"www\"],"
               "\"IPAMConfig\":{\"IPv4Address\":\"172.28.5.3\"}}}\n"
               "POST /v1.41/networks/zprec_net/connect {\"Container\":\"zprec-job-1\","
               "\"EndpointConfig\":{}}\n"
               "POST /v1.41/networks/zprec_net/connect {\"Container\":\"zprec-db-1\","
               "\"EndpointConfig\":{\"Aliases\":[\"web\",\"www\"],\"Links\":[\"db:database\"],"
               "\"IPAMConfig\":{\"IPv4Address\":\"172.28.5.4\",\"IPv6Address\":\"fd00:1::4\","
               "\"LinkLocalIPs\":[\"169.254.1.1\"]}}}\n"
               "POST /v1.41/networks/zprec_none/connect {\"Container\":\"zprec-web-1\","
               "\"EndpointConfig\":{}}\n"
               "POST /v1.41/networks/zprec_net/disconnect {\"Container\":\"zprec-web-1\","
               "\"Force\":true}\n"
               "POST /v1.41/networks/zprec_net/disconnect {\"Container\":\"zprec-job-1\"}\n"
               "POST /v1.41/networks/zprec_gone/disconnect {\"Container\":\"zprec-job-1\"}\n"
               "POST /v1.41/volumes/create {\"Name\":\"zprec_data\",\"Driver\":\"local\","
               "\"DriverOpts\":{\"type\":\"tmpfs\",\"device\":\"tmpfs\"},"
               "\"Labels\":{\"io.zpanel.project\":\"zprec\"}}\n");
}

/* ---- containers ---- */

static void test_container_actions(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"POST", "/v1.41/containers/zprec-web-1/restart?t=5", 204, NULL, NULL, FAKE_PLAIN},
        {"POST", "/v1.41/containers/zprec-web-1/restart", 204, NULL, NULL, FAKE_PLAIN},
        {"POST", "/v1.41/containers/zprec-web-1/kill?signal=SIGHUP", 204, NULL, NULL, FAKE_PLAIN},
        {"POST", "/v1.41/containers/zprec-web-1/kill", 409, NULL,
         "{\"message\":\"Cannot kill container: zprec-web-1: Container 177f is not running\"}",
         FAKE_PLAIN},
        {"POST", "/v1.41/containers/zprec-web-1/pause", 204, NULL, NULL, FAKE_PLAIN},
        {"POST", "/v1.41/containers/zprec-web-1/unpause", 204, NULL, NULL, FAKE_PLAIN},
        {"POST", "/v1.41/containers/zprec-web-1/rename?name=zprec-web-2", 409, NULL,
         "{\"message\":\"Conflict. The container name \\\"/zprec-web-2\\\" is already in use\"}",
         FAKE_PLAIN},
        {"POST", "/v1.41/containers/zprec-web-1/rename?name=zprec-web-3", 204, NULL, NULL,
         FAKE_PLAIN},
        {"POST", "/v1.41/containers/zprec-web-1/resize?h=24&w=80", 200, NULL, NULL, FAKE_PLAIN},
        {"POST", "/v1.41/containers/zprec-job-1/wait?condition=next-exit", 200, NULL,
         "{\"Error\":null,\"StatusCode\":3}", FAKE_PLAIN},
        {"POST", "/v1.41/containers/zprec-job-1/wait?condition=not-running", 200, NULL,
         "{\"StatusCode\":0}", FAKE_PLAIN},
        {"POST", "/v1.41/containers/zprec-bad-1/wait?condition=removed", 200, NULL,
         "{\"Error\":{\"Message\":\"removal failed\"},\"StatusCode\":-1}", FAKE_PLAIN},
        {"POST", "/v1.41/containers/zprec-slow-1/wait?condition=removed", 200, NULL, " ",
         FAKE_HOLD},
        {"GET", "/v1.41/containers/zprec-web-1/top?ps_args=aux", 200, "container_top.json", NULL,
         FAKE_PLAIN},
        {"GET", "/v1.41/containers/zprec-job-1/top", 409, NULL,
         "{\"message\":\"Container 9c3 is not running\"}", FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);

    assert_int_equal(engine_container_restart(e, "zprec-web-1", 5, &err), 0);
    assert_int_equal(engine_container_restart(e, "zprec-web-1", -1, &err), 0);
    assert_int_equal(engine_container_kill(e, "zprec-web-1", "SIGHUP", &err), 0);
    assert_int_equal(engine_container_kill(e, "zprec-web-1", NULL, &err), ZP_E_CONFLICT);
    assert_string_equal(err.msg, "killing container 'zprec-web-1': Cannot kill container: "
                                 "zprec-web-1: Container 177f is not running (HTTP 409)");
    zp_err_init(&err);
    assert_int_equal(engine_container_pause(e, "zprec-web-1", &err), 0);
    assert_int_equal(engine_container_unpause(e, "zprec-web-1", &err), 0);
    assert_int_equal(engine_container_rename(e, "zprec-web-1", "zprec-web-2", &err), ZP_E_CONFLICT);
    assert_string_equal(err.msg, "renaming container 'zprec-web-1' to 'zprec-web-2': Conflict. "
                                 "The container name \"/zprec-web-2\" is already in use (HTTP "
                                 "409)");
    zp_err_init(&err);
    assert_int_equal(engine_container_rename(e, "zprec-web-1", "zprec-web-3", &err), 0);
    assert_int_equal(engine_container_resize(e, "zprec-web-1", 24, 80, &err), 0);

    int64_t code = -1;
    assert_int_equal(engine_container_wait(e, "zprec-job-1", ENGINE_WAIT_NEXT_EXIT, 0, &code, &err),
                     0);
    assert_int_equal(code, 3);
    assert_int_equal(
        engine_container_wait(e, "zprec-job-1", ENGINE_WAIT_NOT_RUNNING, 1000, &code, &err), 0);
    assert_int_equal(code, 0);
    code = 99;
    assert_int_equal(engine_container_wait(e, "zprec-bad-1", ENGINE_WAIT_REMOVED, 0, &code, &err),
                     ZP_E_ENGINE);
    assert_int_equal(code, 99);
    assert_string_equal(err.msg, "waiting for container 'zprec-bad-1': removal failed");
    zp_err_init(&err);
    int64_t t0 = zp_mono_ms();
    assert_int_equal(
        engine_container_wait(e, "zprec-slow-1", ENGINE_WAIT_REMOVED, 300, &code, &err),
        ZP_E_ENGINE);
    assert_true(zp_mono_ms() - t0 < 3000);
    assert_true(zp_str_has_prefix(err.msg, "waiting for container 'zprec-slow-1': "));
    assert_non_null(strstr(err.msg, "timed out"));
    zp_err_init(&err);

    struct engine_top top;
    assert_int_equal(engine_container_top(e, "zprec-web-1", "aux", &top, &err), 0);
    assert_int_equal(top.n_titles, 8);
    assert_string_equal(top.titles[1], "PID");
    assert_string_equal(top.titles[7], "CMD");
    assert_int_equal(top.n_rows, 1);
    assert_int_equal(top.rows[0].n, 8);
    assert_string_equal(top.rows[0].cells[1], "25192");
    assert_string_equal(top.rows[0].cells[7], "busybox httpd -f -p 80");
    engine_top_release(&top);
    engine_top_release(NULL);
    assert_int_equal(engine_container_top(e, "zprec-job-1", NULL, &top, &err), ZP_E_CONFLICT);
    assert_string_equal(err.msg, "listing the processes of container 'zprec-job-1': Container "
                                 "9c3 is not running (HTTP 409)");
    engine_free(e);

    assert_log("GET /_ping \n"
               "POST /v1.41/containers/zprec-web-1/restart?t=5 \n"
               "POST /v1.41/containers/zprec-web-1/restart \n"
               "POST /v1.41/containers/zprec-web-1/kill?signal=SIGHUP \n"
               "POST /v1.41/containers/zprec-web-1/kill \n"
               "POST /v1.41/containers/zprec-web-1/pause \n"
               "POST /v1.41/containers/zprec-web-1/unpause \n"
               "POST /v1.41/containers/zprec-web-1/rename?name=zprec-web-2 \n"
               "POST /v1.41/containers/zprec-web-1/rename?name=zprec-web-3 \n"
               "POST /v1.41/containers/zprec-web-1/resize?h=24&w=80 \n"
               "POST /v1.41/containers/zprec-job-1/wait?condition=next-exit \n"
               "POST /v1.41/containers/zprec-job-1/wait?condition=not-running \n"
               "POST /v1.41/containers/zprec-bad-1/wait?condition=removed \n"
               "POST /v1.41/containers/zprec-slow-1/wait?condition=removed \n"
               "GET /v1.41/containers/zprec-web-1/top?ps_args=aux \n"
               "GET /v1.41/containers/zprec-job-1/top \n");
}

static void check_ports(const struct engine_ports *p)
{
    assert_int_equal(p->n, 4);
    assert_int_equal(p->items[0].private_port, 80);
    assert_int_equal(p->items[0].public_port, 32768);
    assert_string_equal(p->items[0].type, "tcp");
    assert_string_equal(p->items[0].ip, "127.0.0.1");
    assert_int_equal(p->items[1].private_port, 443);
    assert_int_equal(p->items[1].public_port, 8443);
    assert_string_equal(p->items[1].type, "udp");
    assert_string_equal(p->items[1].ip, "0.0.0.0");
    assert_string_equal(p->items[2].ip, "::");
    assert_int_equal(p->items[3].private_port, 9000);
    assert_int_equal(p->items[3].public_port, 0);
    assert_string_equal(p->items[3].type, "tcp");
    assert_string_equal(p->items[3].ip, "");
}

static void test_ps_fields(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"GET", "/v1.41/containers/json?all=1", 200, "containers_list_ports.json", NULL,
         FAKE_PLAIN},
        {"GET", "/v1.41/containers/zprec-web-1/json", 200, "container_inspect_ports.json", NULL,
         FAKE_PLAIN},
        {"GET", "/v1.41/containers/zprec-old-1/json", 200, "container_inspect_exited.json", NULL,
         FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    struct engine_container_list cl;
    assert_int_equal(engine_container_list(e, NULL, true, &cl, &err), 0);
    assert_int_equal(cl.n, 1);
    assert_string_equal(cl.items[0].command, "/bin/busybox sh -c 'busybox httpd -f -p 80'");
    check_ports(&cl.items[0].ports);
    engine_container_list_release(&cl);

    struct engine_container c;
    assert_int_equal(engine_container_inspect(e, "zprec-web-1", &c, &err), 0);
    assert_string_equal(c.started_at, "2026-11-23T20:56:31.567632716Z");
    assert_int_equal(c.started_at_unix, 1795467391);
    assert_string_equal(c.finished_at, "0001-01-01T00:00:00Z");
    assert_int_equal(c.finished_at_unix, 0);
    assert_string_equal(c.created, "2026-11-23T20:56:31.372724703Z");
    assert_int_equal(c.restart_count, 0);
    assert_string_equal(c.health, "starting");
    assert_true(c.running);
    assert_false(c.paused);
    assert_false(c.restarting);
    assert_false(c.oom_killed);
    assert_int_equal(c.pid, 25192);
    assert_false(c.tty);
    assert_false(c.open_stdin);
    assert_string_equal(c.image_id,
                        "sha256:ce7af856a4613163784b7bd04ef1a252171a253061efc97e649baa326a6a36dc");
    assert_string_equal(c.config_image, "zp-rec-busybox:latest");
    assert_string_equal(engine_labels_get(&c.labels, "io.zpanel.service"), "web");
    check_ports(&c.ports);
    engine_container_release(&c);

    assert_int_equal(engine_container_inspect(e, "zprec-old-1", &c, &err), 0);
    assert_false(c.running);
    assert_int_equal(c.ports.n, 0);
    assert_int_equal(c.started_at_unix, 1795465113);
    assert_int_equal(c.finished_at_unix, 1795465113);
    engine_container_release(&c);
    engine_free(e);
}

/* ---- images ---- */

struct pattern_reader {
    size_t total, sent, piece;
    int fail_at; /* fail on this call (1-based); 0: never */
    int calls;
};

static int pattern_read(void *ctx, char *buf, size_t cap, size_t *ret_len, struct zp_err *err)
{
    struct pattern_reader *r = ctx;
    if (++r->calls == r->fail_at)
        return zp_err_set(err, ZP_E_SYSTEM, NULL, "reading 'ctx/big.bin': disk on fire");
    size_t n = r->total - r->sent;
    if (n > r->piece)
        n = r->piece;
    if (n > cap)
        n = cap;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('0' + (r->sent + i) % 10);
    r->sent += n;
    *ret_len = n;
    return 0;
}

static void test_images(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"GET",
         "/v1.41/images/json?filters=%7B%22label%22%3A%5B%22io.zpanel.project%22%5D%2C%22"
         "reference%22%3A%5B%22zp-rec-busybox%22%5D%7D",
         200, "images_list.json", NULL, FAKE_PLAIN},
        {"GET", "/v1.41/images/json", 200, NULL, "[{\"Id\":\"\"}]", FAKE_PLAIN},
        {"POST",
         "/v1.41/images/zp-rec-busybox:latest/tag?repo=registry%3A5000%2Fzprec%2Fweb&tag=v1", 201,
         NULL, NULL, FAKE_PLAIN},
        {"POST", "/v1.41/images/zp-rec-busybox:latest/tag?repo=zprec-web&tag=latest", 201, NULL,
         NULL, FAKE_PLAIN},
        {"POST", "/v1.41/images/nope/tag?repo=x&tag=latest", 404, NULL,
         "{\"message\":\"No such image: nope:latest\"}", FAKE_PLAIN},
        {"POST",
         "/v1.41/build?t=zprec-a%3A1&t=zprec-b%3A2&dockerfile=docker%2FDockerfile.dev&"
         "target=prod&buildargs=%7B%22A%22%3A%221%22%2C%22B%22%3Anull%7D&forcerm=1&pull=1&"
         "networkmode=host&extrahosts=db%3A10.0.0.2%2Ccache%3A10.0.0.3&shmsize=67108864&"
         "cachefrom=%5B%22zprec-a%3A0%22%5D&platform=linux%2Famd64",
         200, "build_progress.jsonl", NULL, FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);

    const char *const has[] = {"io.zpanel.project", NULL};
    struct engine_image_list il;
    assert_int_equal(engine_image_list(e, has, "zp-rec-busybox", &il, &err), 0);
    assert_int_equal(il.n, 2);
    assert_string_equal(il.items[0].repo_tags[0], "zp-rec-busybox:latest");
    assert_string_equal(il.items[0].id,
                        "sha256:ce7af856a4613163784b7bd04ef1a252171a253061efc97e649baa326a6a36dc");
    assert_int_equal(il.items[0].size, 1982256);
    assert_int_equal(il.items[0].created, 1795467391);
    assert_string_equal(engine_labels_get(&il.items[0].labels, "io.zpanel.project"), "zprec");
    assert_string_equal(il.items[1].repo_tags[0], "zpanel-test/busybox:1");
    assert_int_equal(il.items[1].labels.n, 0);
    engine_image_list_release(&il);
    assert_int_equal(engine_image_list(e, NULL, NULL, &il, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "image list: entry 0 has no Id");
    zp_err_init(&err);

    assert_int_equal(
        engine_image_tag(e, "zp-rec-busybox:latest", "registry:5000/zprec/web", "v1", &err), 0);
    assert_int_equal(engine_image_tag(e, "zp-rec-busybox:latest", "zprec-web", NULL, &err), 0);
    assert_int_equal(engine_image_tag(e, "nope", "x", NULL, &err), ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "tagging image 'nope' as 'x:latest': No such image: "
                                 "nope:latest (HTTP 404)");
    zp_err_init(&err);

    /* a streamed build: 3000 bytes in 7-byte pieces, with every option */
    const char *const tags[] = {"zprec-b:2", NULL};
    const struct engine_kv args[] = {{"B", NULL}, {"A", "1"}};
    const char *const hosts[] = {"db:10.0.0.2", "cache:10.0.0.3", NULL};
    const char *const cache[] = {"zprec-a:0", NULL};
    struct engine_build_opts o = {.tag = "zprec-a:1",
                                  .tags = tags,
                                  .dockerfile = "docker/Dockerfile.dev",
                                  .target = "prod",
                                  .build_args = args,
                                  .n_build_args = 2,
                                  .pull = true,
                                  .network_mode = "host",
                                  .extra_hosts = hosts,
                                  .shm_size = 64 << 20,
                                  .cache_from = cache,
                                  .platform = "linux/amd64"};
    struct pattern_reader r = {.total = 3000, .piece = 7};
    char *id = NULL;
    assert_int_equal(engine_image_build_stream(e, &o, pattern_read, &r, NULL, NULL, &id, &err), 0);
    assert_string_equal(id,
                        "sha256:6082cf15f08692dfbaaec91a00dc23e32c9a86076a6a2081f5d23bfccf882007");
    free(id);
    id = NULL;
    char *log = fake_log();
    char *body = zp_malloc(3001);
    for (size_t i = 0; i < 3000; i++)
        body[i] = (char)('0' + i % 10);
    body[3000] = '\0';
    char *line = zp_asprintf("platform=linux%%2Famd64 %s\n", body);
    assert_true(zp_str_has_suffix(log, line));
    free(line);
    free(body);
    free(log);

    /* the reader fails half way: its error, and nothing built */
    struct pattern_reader bad = {.total = 3000, .piece = 100, .fail_at = 5};
    assert_int_equal(engine_image_build_stream(e, &o, pattern_read, &bad, NULL, NULL, &id, &err),
                     ZP_E_SYSTEM);
    assert_null(id);
    assert_string_equal(err.msg, "building image 'zprec-a:1': reading 'ctx/big.bin': disk on "
                                 "fire");
    zp_err_init(&err);
    /* an empty context is refused before anything is sent */
    struct pattern_reader empty = {.total = 0, .piece = 100};
    struct engine_build_opts only_tags = {.tags = tags};
    assert_int_equal(
        engine_image_build_stream(e, &only_tags, pattern_read, &empty, NULL, NULL, &id, &err),
        ZP_E_INPUT);
    assert_string_equal(err.msg, "building image 'zprec-b:2': empty build context");
    engine_free(e);
}

/* ---- exec and attach ---- */

struct output {
    struct zp_buf out[4];
    size_t frames;
    bool ready;           /* on_ready ran */
    bool output_before;   /* output arrived before on_ready */
    size_t stop_after;    /* return ENGINE_STOP after this many frames; 0: never */
    struct engine *other; /* on_ready makes a call on this engine when set */
    int other_rc;
};

static int out_frame(void *ctx, enum engine_stream stream, const char *data, size_t len,
                     struct zp_err *err)
{
    struct output *o = ctx;
    (void)err;
    if (!o->ready)
        o->output_before = true;
    o->frames++;
    zp_buf_add(&o->out[stream], data, len);
    return o->stop_after && o->frames >= o->stop_after ? ENGINE_STOP : 0;
}

static int out_ready(void *ctx, struct zp_err *err)
{
    struct output *o = ctx;
    o->ready = true;
    if (o->other)
        o->other_rc = engine_container_start(o->other, "zprec-run-1", err);
    return 0;
}

static void output_release(struct output *o)
{
    for (int i = 0; i < 4; i++)
        zp_buf_release(&o->out[i]);
}

static void test_exec_and_attach(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"POST", "/v1.41/containers/zprec-web-1/exec", 201, NULL, "{\"Id\":\"e1\"}", FAKE_PLAIN},
        {"POST", "/v1.41/containers/zprec-gone-1/exec", 404, NULL,
         "{\"message\":\"No such container: zprec-gone-1\"}", FAKE_PLAIN},
        {"POST", "/v1.41/exec/e1/start", 200, "logs_mux.bin", NULL, FAKE_UPGRADE},
        {"POST", "/v1.41/exec/e2/start", 200, NULL, NULL, FAKE_ECHO},
        {"POST", "/v1.41/exec/e3/start", 200, NULL, "raw \033[1mtty\033[0m\r\n", FAKE_UPGRADE},
        {"POST", "/v1.41/exec/e4/start", 200, NULL, NULL, FAKE_PLAIN},
        {"POST", "/v1.41/exec/e5/start", 200, "logs_mux_truncated.bin", NULL, FAKE_UPGRADE},
        {"POST", "/v1.41/exec/nope/start", 404, NULL,
         "{\"message\":\"No such exec instance: nope\"}", FAKE_PLAIN},
        {"GET", "/v1.41/exec/e1/json", 200, "exec_inspect.json", NULL, FAKE_PLAIN},
        {"POST", "/v1.41/exec/e3/resize?h=40&w=120", 201, NULL, NULL, FAKE_PLAIN},
        {"POST",
         "/v1.41/containers/zprec-run-1/attach?stream=1&stdout=1&stderr=1&stdin=1&logs=1&"
         "detachKeys=ctrl-p%2Cctrl-q",
         200, NULL, NULL, FAKE_ECHO},
        {"POST", "/v1.41/containers/zprec-run-1/attach?stream=1&stdout=1&stderr=0", 200,
         "logs_mux.bin", NULL, FAKE_UPGRADE},
        {"POST", "/v1.41/containers/zprec-run-1/start", 204, NULL, NULL, FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);

    const char *const argv[] = {"sh", "-c", "cat", NULL};
    const char *const env[] = {"A=1", NULL};
    char *id = NULL;
    assert_int_equal(engine_exec_create(e, "zprec-web-1", argv, env, "1000:1000", "/tmp", false,
                                        true, &id, &err),
                     0);
    assert_string_equal(id, "e1");
    free(id);
    id = NULL;
    /* every option on the wire, privileged included (lifecycle hooks) */
    struct engine_exec_opts xo = {
        .argv = argv, .env = env, .user = "root", .workdir = "/w", .privileged = true};
    assert_int_equal(engine_exec_create_opts(e, "zprec-web-1", &xo, &id, &err), 0);
    free(id);
    id = NULL;
    assert_int_equal(
        engine_exec_create(e, "zprec-gone-1", argv, NULL, NULL, NULL, true, false, &id, &err),
        ZP_E_NOTFOUND);
    assert_null(id);
    assert_string_equal(err.msg, "creating an exec instance in container 'zprec-gone-1': No "
                                 "such container: zprec-gone-1 (HTTP 404)");
    zp_err_init(&err);

    /* framed output, on_ready first */
    struct output o1 = {0};
    struct engine_stream_io io = {
        .stdin_fd = -1, .on_output = out_frame, .ctx = &o1, .on_ready = out_ready};
    assert_int_equal(engine_exec_start(e, "e1", &io, &err), 0);
    assert_true(o1.ready);
    assert_false(o1.output_before);
    assert_string_equal(zp_buf_cstr(&o1.out[ENGINE_STREAM_STDOUT]), "out-line\n");
    assert_string_equal(zp_buf_cstr(&o1.out[ENGINE_STREAM_STDERR]), "err-line\n");
    output_release(&o1);
    struct engine_exec_state st = {.running = true};
    assert_int_equal(engine_exec_inspect(e, "e1", &st, &err), 0);
    assert_false(st.running);
    assert_int_equal(st.exit_code, 3);

    /* a clean stop from the callback */
    struct output o2 = {.stop_after = 1, .ready = true};
    io.ctx = &o2;
    io.on_ready = NULL;
    assert_int_equal(engine_exec_start(e, "e1", &io, &err), 0);
    assert_int_equal(o2.frames, 1);
    assert_int_equal(err.code, 0);
    output_release(&o2);

    /* stdin from a pipe, echoed back until the end of input */
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(write(pfd[1], "hello stdin\n", 12), 12);
    close(pfd[1]);
    struct output o3 = {.ready = true};
    struct engine_stream_io in_io = {.stdin_fd = pfd[0], .on_output = out_frame, .ctx = &o3};
    assert_int_equal(engine_exec_start(e, "e2", &in_io, &err), 0);
    close(pfd[0]);
    assert_string_equal(zp_buf_cstr(&o3.out[ENGINE_STREAM_STDOUT]), "hello stdin\n");
    assert_string_equal(zp_buf_cstr(&o3.out[ENGINE_STREAM_STDERR]), "eof\n");
    output_release(&o3);

    /* a TTY: raw bytes */
    struct output o4 = {.ready = true};
    struct engine_stream_io tty_io = {
        .tty = true, .stdin_fd = -1, .on_output = out_frame, .ctx = &o4};
    assert_int_equal(engine_exec_start(e, "e3", &tty_io, &err), 0);
    assert_string_equal(zp_buf_cstr(&o4.out[ENGINE_STREAM_STDOUT]), "raw \033[1mtty\033[0m\r\n");
    output_release(&o4);
    assert_int_equal(engine_exec_resize(e, "e3", 40, 120, &err), 0);

    /* detached */
    assert_int_equal(engine_exec_start(e, "e4", NULL, &err), 0);

    /* a stream cut inside a frame, an unknown exec */
    struct output o5 = {.ready = true};
    io.ctx = &o5;
    assert_int_equal(engine_exec_start(e, "e5", &io, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "running exec instance 'e5': engine stream: truncated inside a "
                                 "frame at byte 12");
    assert_string_equal(zp_buf_cstr(&o5.out[ENGINE_STREAM_STDOUT]), "ab\n");
    output_release(&o5);
    zp_err_init(&err);
    assert_int_equal(engine_exec_start(e, "nope", &io, &err), ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "running exec instance 'nope': No such exec instance: nope "
                                 "(HTTP 404)");
    zp_err_init(&err);

    /* attach with stdin, starting the container from on_ready on the same engine */
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(write(pfd[1], "answer\n", 7), 7);
    close(pfd[1]);
    struct output o6 = {.other = e};
    struct engine_stream_io aio = {
        .stdin_fd = pfd[0], .on_output = out_frame, .ctx = &o6, .on_ready = out_ready};
    struct engine_attach_opts ao = {.logs = true, .detach_keys = "ctrl-p,ctrl-q"};
    assert_int_equal(engine_container_attach(e, "zprec-run-1", &ao, &aio, &err), 0);
    close(pfd[0]);
    assert_int_equal(o6.other_rc, 0);
    assert_false(o6.output_before);
    assert_string_equal(zp_buf_cstr(&o6.out[ENGINE_STREAM_STDOUT]), "answer\n");
    output_release(&o6);
    struct output o7 = {.ready = true};
    struct engine_stream_io oio = {.stdin_fd = -1, .on_output = out_frame, .ctx = &o7};
    struct engine_attach_opts no_err = {.no_stderr = true};
    assert_int_equal(engine_container_attach(e, "zprec-run-1", &no_err, &oio, &err), 0);
    assert_string_equal(zp_buf_cstr(&o7.out[ENGINE_STREAM_STDOUT]), "out-line\n");
    output_release(&o7);
    engine_free(e);

    assert_log(
        "GET /_ping \n"
        "POST /v1.41/containers/zprec-web-1/exec {\"AttachStdin\":true,\"AttachStdout\":true,"
        "\"AttachStderr\":true,\"Tty\":false,\"Cmd\":[\"sh\",\"-c\",\"cat\"],\"Env\":[\"A=1\"],"
        "\"User\":\"1000:1000\",\"WorkingDir\":\"/tmp\"}\n"
        "POST /v1.41/containers/zprec-web-1/exec {\"AttachStdin\":false,\"AttachStdout\":true,"
        "\"AttachStderr\":true,\"Tty\":false,\"Cmd\":[\"sh\",\"-c\",\"cat\"],\"Env\":[\"A=1\"],"
        "\"User\":\"root\",\"WorkingDir\":\"/w\",\"Privileged\":true}\n"
        "POST /v1.41/containers/zprec-gone-1/exec {\"AttachStdin\":false,\"AttachStdout\":true,"
        "\"AttachStderr\":true,\"Tty\":true,\"Cmd\":[\"sh\",\"-c\",\"cat\"]}\n"
        "POST+upgrade /v1.41/exec/e1/start {\"Detach\":false,\"Tty\":false}\n"
        "GET /v1.41/exec/e1/json \n"
        "POST+upgrade /v1.41/exec/e1/start {\"Detach\":false,\"Tty\":false}\n"
        "POST+upgrade /v1.41/exec/e2/start {\"Detach\":false,\"Tty\":false}\n"
        "POST+upgrade /v1.41/exec/e3/start {\"Detach\":false,\"Tty\":true}\n"
        "POST /v1.41/exec/e3/resize?h=40&w=120 \n"
        "POST /v1.41/exec/e4/start {\"Detach\":true,\"Tty\":false}\n"
        "POST+upgrade /v1.41/exec/e5/start {\"Detach\":false,\"Tty\":false}\n"
        "POST+upgrade /v1.41/exec/nope/start {\"Detach\":false,\"Tty\":false}\n"
        "POST+upgrade "
        "/v1.41/containers/zprec-run-1/attach?stream=1&stdout=1&stderr=1&stdin=1&logs=1&"
        "detachKeys=ctrl-p%2Cctrl-q \n"
        "POST /v1.41/containers/zprec-run-1/start \n"
        "POST+upgrade /v1.41/containers/zprec-run-1/attach?stream=1&stdout=1&stderr=0 \n");
}

/* ---- events, cancellation, threads ---- */

struct seen_events {
    size_t n;
    size_t stop_after;
    int64_t first_time;
    char *health_action;
    char *health_name;
    char *die_exit_code;
    /* for the cancel tests */
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

static int on_event(void *ctx, const struct engine_event *ev, struct zp_err *err)
{
    struct seen_events *s = ctx;
    (void)err;
    pthread_mutex_lock(&s->lock);
    if (s->n++ == 0)
        s->first_time = ev->time_nano;
    if (zp_str_has_prefix(ev->action, "health_status") && !s->health_action) {
        s->health_action = zp_strdup(ev->action);
        s->health_name = zp_strdup(engine_labels_get(&ev->attributes, "name"));
    }
    if (strcmp(ev->action, "die") == 0 && !s->die_exit_code)
        s->die_exit_code = zp_strdup(engine_labels_get(&ev->attributes, "exitCode"));
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return s->stop_after && s->n >= s->stop_after ? ENGINE_STOP : 0;
}

static void seen_init(struct seen_events *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
}

static void seen_release(struct seen_events *s)
{
    free(s->health_action);
    free(s->health_name);
    free(s->die_exit_code);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
}

static void seen_wait(struct seen_events *s, size_t n)
{
    pthread_mutex_lock(&s->lock);
    while (s->n < n)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

#define EVENTS_FILTER                                                                              \
    "filters=%7B%22label%22%3A%5B%22io.zpanel.project%3Dzprec%22%5D%2C%22type%22%3A%5B%22"         \
    "container%22%2C%22network%22%5D%7D"

struct events_thread {
    struct engine *e;
    struct seen_events *seen;
    int rc;
    struct zp_err err;
    int64_t returned_ms;
};

static void *events_main(void *arg)
{
    struct events_thread *t = arg;
    const char *const labels[] = {"io.zpanel.project=zprec", NULL};
    const char *const types[] = {"container", "network", NULL};
    struct engine_events_filter f = {.labels = labels, .types = types};
    zp_err_init(&t->err);
    t->rc = engine_events(t->e, 0, 0, &f, on_event, t->seen, &t->err);
    t->returned_ms = zp_mono_ms();
    return NULL;
}

static void test_events(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"GET", "/v1.41/events?since=1795465112&until=1795465130&" EVENTS_FILTER, 200,
         "events.jsonl", NULL, FAKE_PLAIN},
        {"GET",
         "/v1.41/events?filters=%7B%22event%22%3A%5B%22die%22%5D%2C%22container%22%3A%5B"
         "%22zprec-job-1%22%5D%7D",
         200, NULL, "{\"Type\":\"container\"}\n[1]\n", FAKE_PLAIN},
        {"GET", "/v1.41/events?" EVENTS_FILTER, 200, "events.jsonl", NULL, FAKE_HOLD},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    const char *const labels[] = {"io.zpanel.project=zprec", NULL};
    const char *const types[] = {"container", "network", NULL};
    struct engine_events_filter f = {.labels = labels, .types = types};

    /* a bounded replay */
    struct seen_events s;
    seen_init(&s);
    assert_int_equal(engine_events(e, 1795465112, 1795465130, &f, on_event, &s, &err), 0);
    assert_int_equal(s.n, 52);
    assert_int_equal(s.first_time, 1795465112856960424LL);
    assert_string_equal(s.health_action, "health_status: healthy");
    assert_string_equal(s.health_name, "zprec-web-1");
    assert_string_equal(s.die_exit_code, "3");
    seen_release(&s);

    /* the callback stops early */
    seen_init(&s);
    s.stop_after = 3;
    assert_int_equal(engine_events(e, 1795465112, 1795465130, &f, on_event, &s, &err), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(err.code, 0);
    seen_release(&s);

    /* a malformed event */
    seen_init(&s);
    const char *const actions[] = {"die", NULL};
    const char *const ctrs[] = {"zprec-job-1", NULL};
    struct engine_events_filter f2 = {.actions = actions, .containers = ctrs};
    assert_int_equal(engine_events(e, 0, 0, &f2, on_event, &s, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "reading engine events: engine event: not a JSON object");
    assert_int_equal(s.n, 1);
    seen_release(&s);
    zp_err_init(&err);
    engine_free(e);

    /* an endless stream in its own thread, cancelled from here */
    seen_init(&s);
    struct events_thread t = {.e = fake_engine(), .seen = &s};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, events_main, &t), 0);
    seen_wait(&s, 52);
    usleep(100 * 1000); /* the thread is now blocked waiting for more */
    int64_t cancelled_at = zp_mono_ms();
    engine_cancel(t.e);
    pthread_join(th, NULL);
    assert_int_equal(t.rc, ENGINE_E_CANCELLED);
    assert_string_equal(t.err.msg, "reading engine events: cancelled");
    assert_true(t.returned_ms - cancelled_at < 500);
    assert_int_equal(s.n, 52);
    assert_true(engine_cancelled(t.e));
    /* later calls fail at once until cleared */
    struct engine_container_list cl;
    zp_err_init(&err);
    assert_int_equal(engine_container_list(t.e, NULL, false, &cl, &err), ENGINE_E_CANCELLED);
    assert_string_equal(err.msg, "listing containers: cancelled");
    engine_cancel_clear(t.e);
    assert_false(engine_cancelled(t.e));
    zp_err_init(&err);
    assert_int_equal(engine_events(t.e, 1795465112, 1795465130, &f, on_event, &s, &err), 0);
    assert_int_equal(s.n, 104);
    engine_free(t.e);
    seen_release(&s);
}

struct logs_thread {
    struct engine *e;
    const char *id;
    struct engine_logs_opts opts;
    struct output out;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int rc;
    struct zp_err err;
};

static int locked_frame(void *ctx, enum engine_stream stream, const char *data, size_t len,
                        struct zp_err *err)
{
    struct logs_thread *t = ctx;
    pthread_mutex_lock(&t->lock);
    int rc = out_frame(&t->out, stream, data, len, err);
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

static void *logs_main(void *arg)
{
    struct logs_thread *t = arg;
    zp_err_init(&t->err);
    t->rc = engine_container_logs(t->e, t->id, &t->opts, locked_frame, t, &t->err);
    return NULL;
}

static void test_logs_in_threads(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"GET",
         "/v1.41/containers/zprec-web-1/logs?stdout=1&stderr=1&follow=1&timestamps=1&tail=0&"
         "since=1795465000&until=1795470000",
         200, "logs_mux.bin", NULL, FAKE_HOLD},
        {"GET", "/v1.41/containers/zprec-job-1/logs?stdout=1&stderr=1&follow=1&tail=10", 200,
         "logs_mux.bin", NULL, FAKE_HOLD},
        {"GET", "/v1.41/containers/zprec-db-1/logs?stdout=1&stderr=1", 200, "logs_mux_long.bin",
         NULL, FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct logs_thread a = {.e = fake_engine(),
                            .id = "zprec-web-1",
                            .opts = {.follow = true,
                                     .timestamps = true,
                                     .tail_zero = true,
                                     .since = 1795465000,
                                     .until = 1795470000},
                            .lock = PTHREAD_MUTEX_INITIALIZER,
                            .cond = PTHREAD_COND_INITIALIZER};
    struct logs_thread b = {.e = fake_engine(),
                            .id = "zprec-job-1",
                            .opts = {.follow = true, .tail = 10},
                            .lock = PTHREAD_MUTEX_INITIALIZER,
                            .cond = PTHREAD_COND_INITIALIZER};
    a.out.ready = b.out.ready = true;
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, logs_main, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, logs_main, &b), 0);
    struct logs_thread *both[] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        pthread_mutex_lock(&both[i]->lock);
        while (both[i]->out.frames < 2)
            pthread_cond_wait(&both[i]->cond, &both[i]->lock);
        pthread_mutex_unlock(&both[i]->lock);
    }
    /* both follow at once; a third engine here still works */
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    struct output c = {.ready = true};
    assert_int_equal(engine_container_logs(e, "zprec-db-1", NULL, out_frame, &c, &err), 0);
    assert_int_equal(c.out[ENGINE_STREAM_STDOUT].len, 5 * 7 + 20000 + 1 + 5);
    output_release(&c);
    engine_free(e);
    assert_true(fake_connections() >= 3);

    engine_cancel(a.e);
    engine_cancel(b.e);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(both[i]->rc, ENGINE_E_CANCELLED);
        assert_string_equal(zp_buf_cstr(&both[i]->out.out[ENGINE_STREAM_STDOUT]), "out-line\n");
        assert_string_equal(zp_buf_cstr(&both[i]->out.out[ENGINE_STREAM_STDERR]), "err-line\n");
        output_release(&both[i]->out);
        engine_free(both[i]->e);
    }
    assert_string_equal(a.err.msg, "reading the logs of container 'zprec-web-1': cancelled");
}

struct attach_thread {
    struct engine *e;
    int rc;
    struct zp_err err;
    struct output out;
};

static void *attach_main(void *arg)
{
    struct attach_thread *t = arg;
    struct engine_stream_io io = {.stdin_fd = -1, .on_output = out_frame, .ctx = &t->out};
    zp_err_init(&t->err);
    t->rc = engine_container_attach(t->e, "zprec-run-1", NULL, &io, &t->err);
    return NULL;
}

static void test_attach_cancel(void **state)
{
    (void)state;
    /* an attach whose stream never ends (the fake echoes until the client shuts) */
    const struct route routes[] = {
        VERSION_ROUTE,
        {"POST", "/v1.41/containers/zprec-run-1/attach?stream=1&stdout=1&stderr=1", 200,
         "logs_mux.bin", NULL, FAKE_ECHO},
    };
    fake_routes(routes, N(routes));
    struct attach_thread t = {.e = fake_engine()};
    t.out.ready = true;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, attach_main, &t), 0);
    usleep(200 * 1000);
    int64_t at = zp_mono_ms();
    engine_cancel(t.e);
    pthread_join(th, NULL);
    assert_true(zp_mono_ms() - at < 500);
    assert_int_equal(t.rc, ENGINE_E_CANCELLED);
    assert_string_equal(t.err.msg, "attaching to container 'zprec-run-1': cancelled");
    assert_string_equal(zp_buf_cstr(&t.out.out[ENGINE_STREAM_STDOUT]), "out-line\n");
    output_release(&t.out);
    engine_free(t.e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_response_head_and_chunks),
        cmocka_unit_test(test_network_spec_connect_volume),
        cmocka_unit_test(test_container_actions),
        cmocka_unit_test(test_ps_fields),
        cmocka_unit_test(test_images),
        cmocka_unit_test(test_exec_and_attach),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_logs_in_threads),
        cmocka_unit_test(test_attach_cancel),
    };
    return cmocka_run_group_tests(tests, fake_start, fake_stop);
}

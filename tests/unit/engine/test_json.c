/* Unit tests for the engine's JSON mapping, version negotiation and error responses, on
 * answers recorded from a real engine (tests/data/engine/). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engine/engine-int.h"
#include "util/util.h"

static json_t *load_json(const char *name)
{
    char *path = zp_asprintf("%s/engine/%s", ZP_TEST_DATA, name);
    json_error_t jerr;
    json_t *j = json_load_file(path, JSON_DECODE_ANY, &jerr);
    free(path);
    assert_non_null(j);
    return j;
}

static char *load_text(const char *name, size_t *ret_len)
{
    struct zp_err err;
    zp_err_init(&err);
    char *path = zp_asprintf("%s/engine/%s", ZP_TEST_DATA, name);
    char *data = NULL;
    assert_int_equal(zp_file_read(path, 1 << 20, &data, ret_len, &err), 0);
    free(path);
    return data;
}

#define IMAGE_ID "sha256:824b55f2fa96271a040acc4b173c068a7ea15b9f981cfbe5b9e96dc67a5470c5"
#define WEB_ID "b0592909ba4b23a27483d197eafbee2169b07cd187b7f0d23639f58352e74dbb"
#define JOB_ID "cd08f115a14743c5493ca03dfbc71af53abc121e13a37480f816079af6e9591c"

static void test_negotiate_recorded(void **state)
{
    (void)state;
    json_t *v = load_json("version.json");
    struct zp_err err;
    zp_err_init(&err);
    int minor = 0;
    char *server = NULL;
    assert_int_equal(engine__negotiate(v, &minor, &server, &err), 0);
    assert_int_equal(minor, 41);
    assert_string_equal(server, "20.10.24+dfsg1");
    free(server);
    json_decref(v);
}

static int negotiate_text(const char *text, int *ret_minor, struct zp_err *err)
{
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    char *server = NULL;
    int rc = engine__negotiate(v, ret_minor, &server, err);
    free(server);
    json_decref(v);
    return rc;
}

static void test_negotiate_versions(void **state)
{
    (void)state;
    struct zp_err err;
    int minor = 0;

    /* a newer engine: we ask for our highest */
    zp_err_init(&err);
    assert_int_equal(negotiate_text("{\"Version\":\"27.3.1\",\"ApiVersion\":\"1.47\","
                                    "\"MinAPIVersion\":\"1.24\"}",
                                    &minor, &err),
                     0);
    assert_int_equal(minor, ENGINE_API_MAX_MINOR);

    /* between */
    zp_err_init(&err);
    assert_int_equal(
        negotiate_text("{\"Version\":\"23.0.0\",\"ApiVersion\":\"1.42\"}", &minor, &err), 0);
    assert_int_equal(minor, 42);

    /* too old */
    zp_err_init(&err);
    minor = 7;
    assert_int_equal(
        negotiate_text("{\"Version\":\"19.03.15\",\"ApiVersion\":\"1.40\"}", &minor, &err),
        ZP_E_ENGINE);
    assert_int_equal(minor, 7);
    assert_string_equal(err.msg, "Docker engine 19.03.15 speaks API 1.40, but zpanel needs API "
                                 "1.41 or newer (Docker 20.10 or later): upgrade the engine");

    /* an engine that dropped our versions */
    zp_err_init(&err);
    assert_int_equal(negotiate_text("{\"Version\":\"40.0\",\"ApiVersion\":\"1.60\","
                                    "\"MinAPIVersion\":\"1.50\"}",
                                    &minor, &err),
                     ZP_E_ENGINE);
    assert_true(strstr(err.msg, "needs API 1.50 or newer, but zpanel speaks at most API 1.45: "
                                "upgrade zpanel") != NULL);

    /* garbage */
    zp_err_init(&err);
    assert_int_equal(negotiate_text("{\"ApiVersion\":\"2.0\"}", &minor, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "the engine did not report a usable API version ('2.0')");
    zp_err_init(&err);
    assert_int_equal(negotiate_text("{}", &minor, &err), ZP_E_ENGINE);

    assert_int_equal(engine__parse_api_version("1.41", &minor), 0);
    assert_int_equal(minor, 41);
    assert_int_equal(engine__parse_api_version("1.", &minor), ZP_E_INPUT);
    assert_int_equal(engine__parse_api_version("1.4x", &minor), ZP_E_INPUT);
    assert_int_equal(engine__parse_api_version("11.41", &minor), ZP_E_INPUT);
}

static void test_info_recorded(void **state)
{
    (void)state;
    json_t *j = load_json("info.json");
    struct zp_err err;
    zp_err_init(&err);
    struct engine_info in;
    assert_int_equal(engine__map_info(j, &in, &err), 0);
    assert_int_equal(in.ncpu, 2);
    assert_int_equal(in.mem_total, 25276510208LL);
    assert_string_equal(in.server_version, "20.10.24+dfsg1");
    assert_string_equal(in.operating_system, "Debian GNU/Linux 12 (bookworm)");
    assert_string_equal(in.os_type, "linux");
    assert_string_equal(in.architecture, "x86_64");
    assert_string_equal(in.cgroup_version, "1");
    assert_string_equal(in.swarm_state, "inactive");
    /* the engine's clock, to compare with its events' times (not the host's) */
    assert_int_equal(in.system_time_ns, 1795465112691138216LL);
    engine_info_release(&in);
    engine_info_release(NULL);
    json_decref(j);

    zp_err_init(&err);
    j = json_loads("[]", 0, NULL);
    assert_int_equal(engine__map_info(j, &in, &err), ZP_E_ENGINE);
    json_decref(j);
}

static void test_container_list_recorded(void **state)
{
    (void)state;
    json_t *j = load_json("containers_list.json");
    struct zp_err err;
    zp_err_init(&err);
    struct engine_container_list l;
    assert_int_equal(engine__map_container_list(j, &l, &err), 0);
    assert_int_equal(l.n, 2);
    /* sorted by name: job before web */
    assert_string_equal(l.items[0].id, JOB_ID);
    assert_int_equal(l.items[0].n_names, 1);
    assert_string_equal(l.items[0].names[0], "zprec-job-1");
    assert_string_equal(l.items[0].state, "exited");
    assert_string_equal(l.items[0].status, "Exited (3) 3 seconds ago");
    assert_string_equal(l.items[0].image, "zp-rec-busybox:latest");
    assert_string_equal(l.items[0].image_id, IMAGE_ID);
    assert_int_equal(l.items[0].created, 1795465112);
    assert_string_equal(l.items[1].names[0], "zprec-web-1");
    assert_string_equal(l.items[1].state, "running");
    assert_string_equal(l.items[1].status, "Up 3 seconds (healthy)");
    const struct engine_labels *lb = &l.items[1].labels;
    assert_int_equal(lb->n, 3);
    assert_string_equal(lb->items[0].key, "io.zpanel.number");
    assert_string_equal(lb->items[2].key, "io.zpanel.service");
    assert_string_equal(engine_labels_get(lb, "io.zpanel.service"), "web");
    assert_string_equal(engine_labels_get(lb, "io.zpanel.project"), "zprec");
    assert_null(engine_labels_get(lb, "io.zpanel.config-hash"));
    engine_container_list_release(&l);
    json_decref(j);

    /* malformed answers */
    j = json_loads("[{\"Names\":[\"/x\"]}]", 0, NULL);
    zp_err_init(&err);
    assert_int_equal(engine__map_container_list(j, &l, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "container list: entry 0 has no Id");
    json_decref(j);
    j = json_loads("{}", 0, NULL);
    zp_err_init(&err);
    assert_int_equal(engine__map_container_list(j, &l, &err), ZP_E_ENGINE);
    json_decref(j);

    /* empty list, null labels, odd label values */
    j = json_loads(
        "[{\"Id\":\"a\",\"Labels\":null},{\"Id\":\"b\",\"Labels\":{\"k\":1,\"j\":\"v\"}}]", 0,
        NULL);
    zp_err_init(&err);
    assert_int_equal(engine__map_container_list(j, &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.items[0].labels.n, 0);
    assert_int_equal(l.items[1].labels.n, 1);
    assert_string_equal(engine_labels_get(&l.items[1].labels, "j"), "v");
    assert_null(engine_labels_get(&l.items[0].labels, "j"));
    assert_string_equal(l.items[0].state, "");
    engine_container_list_release(&l);
    json_decref(j);
}

static void test_container_inspect_recorded(void **state)
{
    (void)state;
    size_t len;
    char *raw = load_text("container_inspect_running.json", &len);
    json_t *j = json_loadb(raw, len, 0, NULL);
    struct zp_err err;
    zp_err_init(&err);
    struct engine_container c;
    assert_int_equal(engine__map_container(j, raw, &c, &err), 0);
    assert_string_equal(c.id, WEB_ID);
    assert_string_equal(c.name, "zprec-web-1");
    assert_string_equal(c.image_id, IMAGE_ID);
    assert_string_equal(c.status, "running");
    assert_true(c.running);
    assert_int_equal(c.exit_code, 0);
    assert_string_equal(c.health, "healthy");
    assert_string_equal(engine_labels_get(&c.labels, "io.zpanel.service"), "web");
    assert_string_equal(c.json, raw);
    engine_container_release(&c);
    json_decref(j);
    free(raw);

    raw = load_text("container_inspect_exited.json", &len);
    j = json_loadb(raw, len, 0, NULL);
    assert_int_equal(engine__map_container(j, raw, &c, &err), 0);
    assert_string_equal(c.name, "zprec-job-1");
    assert_string_equal(c.status, "exited");
    assert_false(c.running);
    assert_int_equal(c.exit_code, 3);
    assert_null(c.health);
    engine_container_release(&c);
    engine_container_release(NULL);
    json_decref(j);
    free(raw);
}

/* Health probe output, restart policy, memory limit and networks of an inspect: a
 * container recorded with a failing probe, 64 MiB, unless-stopped and two networks (the
 * recording lists them out of order). */
static void test_container_inspect_fields(void **state)
{
    (void)state;
    size_t len;
    char *raw = load_text("container_inspect_health.json", &len);
    json_t *j = json_loadb(raw, len, 0, NULL);
    struct zp_err err;
    zp_err_init(&err);
    struct engine_container c;
    assert_int_equal(engine__map_container(j, raw, &c, &err), 0);
    assert_string_equal(c.name, "zprec-api-1");
    assert_string_equal(c.health, "starting");
    assert_string_equal(c.health_output, "probe failed: code 7"); /* "\n\n" removed */
    assert_int_equal(c.health_exit_code, 7);
    assert_int_equal(c.failing_streak, 3);
    /* the newest state is the last probe's End (after StartedAt; FinishedAt is zero) */
    assert_int_equal(c.health_end_ns, 1795473552190081730LL);
    assert_int_equal(c.state_time_ns, 1795473552190081730LL);
    assert_int_equal(c.memory_limit, 64 << 20);
    assert_string_equal(c.restart_policy, "unless-stopped");
    assert_int_equal(c.n_networks, 2);
    assert_string_equal(c.networks[0].name, "zprec_back");
    assert_string_equal(c.networks[0].ip, "172.19.0.2");
    assert_int_equal(c.networks[0].n_aliases, 2);
    assert_string_equal(c.networks[0].aliases[0], "api-back");
    assert_string_equal(c.networks[0].aliases[1], "0c5d46a84c10");
    assert_string_equal(c.networks[1].name, "zprec_front");
    assert_string_equal(c.networks[1].ip, "172.18.0.2");
    assert_int_equal(c.networks[1].n_aliases, 2);
    assert_string_equal(c.networks[1].aliases[0], "api");
    assert_true(strncmp(c.id, c.networks[1].aliases[1], 12) == 0); /* the short ID */
    engine_container_release(&c);
    assert_null(c.networks);
    json_decref(j);
    free(raw);

    /* healthy, empty probe output, no restart policy name, one network */
    raw = load_text("container_inspect_running.json", &len);
    j = json_loadb(raw, len, 0, NULL);
    assert_int_equal(engine__map_container(j, raw, &c, &err), 0);
    assert_string_equal(c.health_output, "");
    assert_int_equal(c.health_exit_code, 0);
    assert_int_equal(c.failing_streak, 0);
    assert_int_equal(c.memory_limit, 0);
    assert_string_equal(c.restart_policy, "");
    assert_int_equal(c.n_networks, 1);
    assert_string_equal(c.networks[0].name, "zprec_net");
    assert_string_equal(c.networks[0].ip, "172.18.0.2");
    assert_int_equal(c.networks[0].n_aliases, 1);
    assert_string_equal(c.networks[0].aliases[0], "b0592909ba4b");
    engine_container_release(&c);
    json_decref(j);
    free(raw);

    /* exited, no health check: no probe; Aliases null; no address */
    raw = load_text("container_inspect_exited.json", &len);
    j = json_loadb(raw, len, 0, NULL);
    assert_int_equal(engine__map_container(j, raw, &c, &err), 0);
    assert_null(c.health_output);
    assert_int_equal(c.failing_streak, 0);
    assert_int_equal(c.health_end_ns, 0);
    assert_int_equal(c.state_time_ns, 1795465113674090648LL); /* FinishedAt */
    assert_int_equal(c.n_networks, 1);
    assert_string_equal(c.networks[0].name, "bridge");
    assert_string_equal(c.networks[0].ip, "");
    assert_int_equal(c.networks[0].n_aliases, 0);
    assert_null(c.networks[0].aliases);
    engine_container_release(&c);
    json_decref(j);
    free(raw);

    /* a minimal answer: nothing of these is there */
    const char *min = "{\"Id\":\"abc\",\"State\":{\"Health\":{\"Status\":\"starting\","
                      "\"Log\":[]}},\"NetworkSettings\":{\"Networks\":null}}";
    j = json_loads(min, 0, NULL);
    assert_int_equal(engine__map_container(j, min, &c, &err), 0);
    assert_string_equal(c.health, "starting");
    assert_null(c.health_output);
    assert_string_equal(c.restart_policy, "");
    assert_int_equal(c.n_networks, 0);
    assert_null(c.networks);
    engine_container_release(&c);
    json_decref(j);
}

static void test_network_volume_lists_recorded(void **state)
{
    (void)state;
    struct zp_err err;
    zp_err_init(&err);
    json_t *j = load_json("networks_list.json");
    struct engine_network_list nl;
    assert_int_equal(engine__map_network_list(j, &nl, &err), 0);
    assert_int_equal(nl.n, 1);
    assert_string_equal(nl.items[0].name, "zprec_net");
    assert_string_equal(nl.items[0].id,
                        "7fc58064f43a42bfce13671a5d659263843f7ec652f9cca5ccc9b14e1205a6a5");
    assert_string_equal(nl.items[0].driver, "bridge");
    assert_string_equal(nl.items[0].scope, "local");
    assert_string_equal(engine_labels_get(&nl.items[0].labels, "io.zpanel.network"), "net");
    engine_network_list_release(&nl);
    json_decref(j);

    j = load_json("volumes_list.json");
    struct engine_volume_list vl;
    assert_int_equal(engine__map_volume_list(j, &vl, &err), 0);
    assert_int_equal(vl.n, 1);
    assert_string_equal(vl.items[0].name, "zprec_data");
    assert_string_equal(vl.items[0].driver, "local");
    assert_string_equal(vl.items[0].mountpoint, "/var/lib/docker/volumes/zprec_data/_data");
    assert_string_equal(engine_labels_get(&vl.items[0].labels, "io.zpanel.volume"), "data");
    engine_volume_list_release(&vl);
    json_decref(j);

    /* an engine with no volumes answers "Volumes": null */
    j = json_loads("{\"Volumes\":null,\"Warnings\":null}", 0, NULL);
    assert_int_equal(engine__map_volume_list(j, &vl, &err), 0);
    assert_int_equal(vl.n, 0);
    engine_volume_list_release(&vl);
    json_decref(j);
    j = json_loads("{\"Volumes\":{}}", 0, NULL);
    assert_int_equal(engine__map_volume_list(j, &vl, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "volume list is not in the expected form");
    json_decref(j);
}

static void test_error_responses_recorded(void **state)
{
    (void)state;
    struct zp_err err;
    size_t len;
    char *body = load_text("error_404_image.json", &len);
    zp_err_init(&err);
    assert_int_equal(
        engine__error_from_response(404, body, len, "creating container 'zprec-bad-1'", &err),
        ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "creating container 'zprec-bad-1': No such image: "
                                 "zprec-missing:latest (HTTP 404)");
    free(body);

    body = load_text("error_409_network.json", &len);
    zp_err_init(&err);
    assert_int_equal(
        engine__error_from_response(409, body, len, "creating network 'zprec_net'", &err),
        ZP_E_CONFLICT);
    assert_string_equal(err.msg, "creating network 'zprec_net': network with name zprec_net "
                                 "already exists (HTTP 409)");
    free(body);

    body = load_text("error_409_container.json", &len);
    zp_err_init(&err);
    assert_int_equal(engine__error_from_response(409, body, len, "x", &err), ZP_E_CONFLICT);
    assert_true(zp_str_has_prefix(err.msg, "x: Conflict. The container name \"/zprec-job-1\" is "
                                           "already in use"));
    assert_true(zp_str_has_suffix(err.msg, "(HTTP 409)"));
    free(body);

    /* other statuses, non-JSON bodies, empty bodies, trailing newlines */
    zp_err_init(&err);
    const char *m = "{\"message\":\"driver failed\\n\"}";
    assert_int_equal(engine__error_from_response(500, m, strlen(m), "starting container 'a'", &err),
                     ZP_E_ENGINE);
    assert_string_equal(err.msg, "starting container 'a': driver failed (HTTP 500)");
    zp_err_init(&err);
    assert_int_equal(engine__error_from_response(502, "\n Bad Gateway \r\n", 16, "w", &err),
                     ZP_E_ENGINE);
    assert_string_equal(err.msg, "w: engine answered HTTP 502: 'Bad Gateway'");
    zp_err_init(&err);
    assert_int_equal(engine__error_from_response(404, "", 0, "w", &err), ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "w: engine answered HTTP 404");
    zp_err_init(&err);
    assert_int_equal(engine__error_from_response(400, "{\"message\":\"\"}", 14, "w", &err),
                     ZP_E_ENGINE);
    assert_string_equal(err.msg, "w: engine answered HTTP 400: '{\"message\":\"\"}'");
    /* a long non-JSON body is cut */
    char big[1000];
    memset(big, 'z', sizeof(big));
    zp_err_init(&err);
    engine__error_from_response(500, big, sizeof(big), "w", &err);
    assert_int_equal(strlen(err.msg), strlen("w: engine answered HTTP 500: ''") + 200);
    /* the first error wins (and its code is what comes back) */
    assert_int_equal(engine__error_from_response(404, "", 0, "later", &err), ZP_E_ENGINE);
    assert_int_equal(err.code, ZP_E_ENGINE);
    assert_true(zp_str_has_prefix(err.msg, "w: "));
}

static void test_labels_json(void **state)
{
    (void)state;
    const struct engine_kv in[] = {{"io.zpanel.project", "p"}, {"a", "b=c"}};
    json_t *j = engine__labels_json(in, 2);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"a\":\"b=c\",\"io.zpanel.project\":\"p\"}");
    struct engine_labels l;
    engine__map_labels(j, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(engine_labels_get(&l, "a"), "b=c");
    engine_labels_release(&l);
    engine_labels_release(NULL);
    free(s);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiate_recorded),
        cmocka_unit_test(test_negotiate_versions),
        cmocka_unit_test(test_info_recorded),
        cmocka_unit_test(test_container_list_recorded),
        cmocka_unit_test(test_container_inspect_recorded),
        cmocka_unit_test(test_container_inspect_fields),
        cmocka_unit_test(test_network_volume_lists_recorded),
        cmocka_unit_test(test_error_responses_recorded),
        cmocka_unit_test(test_labels_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for the Swarm calls (engine-swarm.h) against the fake engine with answers
 * recorded from a real single-node swarm (tests/data/engine/swarm_*.json): the exact
 * requests (paths, queries, bodies: a full service spec) and the mapping of the answers. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine-int.h"
#include "fake_engine.h"
#include "util/util.h"

static void assert_log(const char *expected)
{
    char *log = fake_log();
    assert_string_equal(log, expected);
    free(log);
}

static void test_base64(void **state)
{
    (void)state;
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < N(in); i++) {
        char *b = engine_base64(in[i], strlen(in[i]));
        assert_string_equal(b, out[i]);
        free(b);
    }
}

static void test_spec_json(void **state)
{
    (void)state;
    struct engine_service_spec s;
    engine_service_spec_init(&s);
    /* the minimum: the engine's defaults for everything unset */
    s.name = "p_web";
    s.image = "img:1";
    char *j = engine_service_spec_json(&s);
    assert_string_equal(j, "{\"Name\":\"p_web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
                           "\"img:1\"}},\"Mode\":{\"Replicated\":{}}}");
    free(j);

    /* everything */
    const struct engine_kv labels[] = {{"io.zpanel.project", "p"}, {"tier", "front"}};
    const struct engine_kv clabels[] = {{"io.zpanel.config-hash", "h1"}};
    const char *const cmd[] = {"sh", "-c", NULL};
    const char *const args[] = {"echo hi", NULL};
    const char *const env[] = {"A=b", NULL};
    const struct engine_service_mount mounts[] = {{"volume", "p_data", "/data", false},
                                                  {"tmpfs", NULL, "/tmp", false}};
    const struct engine_service_file configs[] = {
        {"cid", "p_app_0123", "/etc/app.conf", NULL, NULL, 0}};
    const struct engine_service_file secrets[] = {
        {"sid", "p_pw_4567", "/run/secrets/pw", "1000", "1000", 0400}};
    const char *const test[] = {"CMD", "true", NULL};
    const char *const constraints[] = {"node.role==manager", NULL};
    const char *const spread[] = {"node.labels.zone", NULL};
    const char *const aliases[] = {"web", NULL};
    const struct engine_service_network nets[] = {{"p_default", aliases}};
    const struct engine_service_port ports[] = {{8080, 18080, NULL, NULL}, {53, 0, "udp", "host"}};
    s.labels = labels;
    s.n_labels = N(labels);
    s.container_labels = clabels;
    s.n_container_labels = N(clabels);
    s.command = cmd;
    s.args = args;
    s.env = env;
    s.workdir = "/srv";
    s.user = "1000";
    s.stop_signal = "SIGINT";
    s.stop_grace_ns = 1000000000;
    s.init = true;
    s.read_only = true;
    s.mounts = mounts;
    s.n_mounts = N(mounts);
    s.configs = configs;
    s.n_configs = N(configs);
    s.secrets = secrets;
    s.n_secrets = N(secrets);
    s.health_test = test;
    s.health_interval_ns = 1000000000;
    s.health_retries = 2;
    s.limit_nano_cpus = 500000000;
    s.limit_memory = 67108864;
    s.reserve_memory = 1048576;
    s.restart_condition = "on-failure";
    s.restart_max_attempts = 3;
    s.constraints = constraints;
    s.spread = spread;
    s.max_replicas_per_node = 2;
    s.networks = nets;
    s.n_networks = N(nets);
    s.replicas = 3;
    s.update.set = true;
    s.update.parallelism = 1;
    s.update.delay_ns = 0;
    s.update.failure_action = "rollback";
    s.update.monitor_ns = 5000000000;
    s.update.max_failure_ratio = 0.5;
    s.update.order = "start-first";
    s.rollback.set = true;
    s.rollback.parallelism = 0;
    s.rollback.order = "stop-first";
    s.endpoint_mode = "vip";
    s.ports = ports;
    s.n_ports = N(ports);
    j = engine_service_spec_json(&s);
    assert_string_equal(
        j,
        "{\"Name\":\"p_web\",\"Labels\":{\"io.zpanel.project\":\"p\",\"tier\":\"front\"},"
        "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"img:1\",\"Labels\":{\"io.zpanel."
        "config-hash\":\"h1\"},\"Command\":[\"sh\",\"-c\"],\"Args\":[\"echo "
        "hi\"],\"Env\":[\"A=b\"],"
        "\"Dir\":\"/srv\",\"User\":\"1000\",\"StopSignal\":\"SIGINT\",\"StopGracePeriod\":"
        "1000000000,\"Init\":true,\"ReadOnly\":true,\"Mounts\":[{\"Type\":\"volume\",\"Source\":"
        "\"p_data\",\"Target\":\"/data\"},{\"Type\":\"tmpfs\",\"Target\":\"/tmp\"}],\"Configs\":"
        "[{\"File\":{\"Name\":\"/etc/app.conf\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292},"
        "\"ConfigID\":\"cid\",\"ConfigName\":\"p_app_0123\"}],\"Secrets\":[{\"File\":{\"Name\":"
        "\"/run/secrets/pw\",\"UID\":\"1000\",\"GID\":\"1000\",\"Mode\":256},\"SecretID\":\"sid\","
        "\"SecretName\":\"p_pw_4567\"}],\"HealthCheck\":{\"Test\":[\"CMD\",\"true\"],\"Interval\":"
        "1000000000,\"Retries\":2}},\"Resources\":{\"Limits\":{\"NanoCPUs\":500000000,"
        "\"MemoryBytes\":67108864},\"Reservations\":{\"MemoryBytes\":1048576}},\"RestartPolicy\":"
        "{\"Condition\":\"on-failure\",\"MaxAttempts\":3},\"Placement\":{\"Constraints\":[\"node."
        "role==manager\"],\"Preferences\":[{\"Spread\":{\"SpreadDescriptor\":\"node.labels.zone\"}}"
        "],\"MaxReplicas\":2},\"Networks\":[{\"Target\":\"p_default\",\"Aliases\":[\"web\"]}]},"
        "\"Mode\":{\"Replicated\":{\"Replicas\":3}},\"UpdateConfig\":{\"Parallelism\":1,\"Delay\":"
        "0,"
        "\"FailureAction\":\"rollback\",\"Monitor\":5000000000,\"MaxFailureRatio\":0.5,\"Order\":"
        "\"start-first\"},\"RollbackConfig\":{\"Parallelism\":0,\"Order\":\"stop-first\"},"
        "\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":8080,"
        "\"PublishedPort\":18080,\"PublishMode\":\"ingress\"},{\"Protocol\":\"udp\",\"TargetPort\":"
        "53,\"PublishMode\":\"host\"}]}}");
    free(j);

    /* global mode */
    engine_service_spec_init(&s);
    s.name = "p_agent";
    s.image = "img:1";
    s.global = true;
    j = engine_service_spec_json(&s);
    assert_non_null(strstr(j, "\"Mode\":{\"Global\":{}}"));
    free(j);
}

static void test_swarm_and_nodes(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"GET", "/v1.41/info", 200, "swarm_info.json", NULL, FAKE_PLAIN},
        {"GET", "/v1.41/swarm", 200, "swarm_inspect.json", NULL, FAKE_PLAIN},
        {"GET", "/v1.41/nodes", 200, "swarm_nodes.json", NULL, FAKE_PLAIN},
        {"POST", "/v1.41/swarm/init", 200, NULL, "\"z15h7ewqla2fw6o08l94xk2xa\"", FAKE_PLAIN},
        {"POST", "/v1.41/swarm/join", 503, NULL,
         "{\"message\":\"This node is already part of a swarm.\"}", FAKE_PLAIN},
        {"POST", "/v1.41/swarm/leave?force=true", 200, NULL, NULL, FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);

    struct engine_swarm_state st;
    assert_int_equal(engine_swarm_state(e, &st, &err), 0);
    assert_string_equal(st.local_state, "active");
    assert_string_equal(st.node_id, "z15h7ewqla2fw6o08l94xk2xa");
    assert_string_equal(st.node_addr, "127.0.0.1");
    assert_string_equal(st.cluster_id, "ohgv5vudfowelsrby1tr4uj5b");
    assert_true(st.control_available);
    assert_int_equal(st.nodes, 1);
    assert_int_equal(st.managers, 1);
    engine_swarm_state_release(&st);

    struct engine_swarm_info si;
    assert_int_equal(engine_swarm_inspect(e, &si, &err), 0);
    assert_string_equal(si.id, "ohgv5vudfowelsrby1tr4uj5b");
    assert_string_equal(si.worker_token, "SWMTKN-1-recorded-worker");
    assert_string_equal(si.manager_token, "SWMTKN-1-recorded-manager");
    engine_swarm_info_release(&si);

    struct engine_node_list nl;
    assert_int_equal(engine_node_list(e, &nl, &err), 0);
    assert_int_equal(nl.n, 1);
    assert_string_equal(nl.items[0].hostname, "vm");
    assert_string_equal(nl.items[0].role, "manager");
    assert_string_equal(nl.items[0].availability, "active");
    assert_string_equal(nl.items[0].state, "ready");
    assert_string_equal(nl.items[0].manager_status, "leader");
    assert_string_equal(nl.items[0].engine_version, "20.10.24+dfsg1");
    engine_node_list_release(&nl);

    char *node = NULL;
    assert_int_equal(engine_swarm_init(e, "127.0.0.1", NULL, &node, &err), 0);
    assert_string_equal(node, "z15h7ewqla2fw6o08l94xk2xa");
    free(node);
    assert_int_equal(engine_swarm_join(e, "10.0.0.1:2377", "TOK", NULL, NULL, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "joining the swarm at '10.0.0.1:2377': This node is already part "
                                 "of a swarm. (HTTP 503)");
    zp_err_init(&err);
    assert_int_equal(engine_swarm_leave(e, true, &err), 0);
    assert_log("GET /_ping \n"
               "GET /v1.41/info \n"
               "GET /v1.41/swarm \n"
               "GET /v1.41/nodes \n"
               "POST /v1.41/swarm/init {\"ListenAddr\":\"0.0.0.0:2377\",\"AdvertiseAddr\":"
               "\"127.0.0.1\"}\n"
               "POST /v1.41/swarm/join {\"ListenAddr\":\"0.0.0.0:2377\",\"RemoteAddrs\":"
               "[\"10.0.0.1:2377\"],\"JoinToken\":\"TOK\"}\n"
               "POST /v1.41/swarm/leave?force=true \n");
    engine_free(e);
}

static void test_services_tasks_objects(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"GET",
         "/v1.41/services?filters=%7B%22label%22%3A%5B%22io.zpanel.project%3Dzprec%22%5D%7D&"
         "status=true",
         200, "swarm_services.json", NULL, FAKE_PLAIN},
        {"GET", "/v1.41/services/zprec_web", 200, NULL,
         "{\"ID\":\"s1\",\"Version\":{\"Index\":40},\"Spec\":{\"Name\":\"zprec_web\","
         "\"Mode\":{\"Replicated\":{\"Replicas\":3}}},\"PreviousSpec\":{\"Name\":\"zprec_web\","
         "\"TaskTemplate\":{\"ContainerSpec\":"
         "{\"Configs\":[{\"ConfigName\":\"zprec_app_old\"}]}}},"
         "\"UpdateStatus\":{\"State\":\"rollback_completed\",\"Message\":\"update rolled back\"}}",
         FAKE_PLAIN},
        {"POST", "/v1.41/services/create", 201, NULL, "{\"ID\":\"s1\"}", FAKE_PLAIN},
        {"POST", "/v1.41/services/s1/update?version=40", 200, NULL, "{\"Warnings\":null}",
         FAKE_PLAIN},
        {"POST", "/v1.41/services/s1/update?version=41&rollback=previous", 200, NULL, "{}",
         FAKE_PLAIN},
        {"POST", "/v1.41/services/s1/update?version=39", 500, NULL,
         "{\"message\":\"update out of sequence\"}", FAKE_PLAIN},
        {"DELETE", "/v1.41/services/s1", 200, NULL, NULL, FAKE_PLAIN},
        {"GET",
         "/v1.41/tasks?filters=%7B%22service%22%3A%5B%22s1%22%5D%2C%22desired-state%22%3A%5B%"
         "22running%22%5D%7D",
         200, "swarm_tasks.json", NULL, FAKE_PLAIN},
        {"GET", "/v1.41/configs", 200, "swarm_configs.json", NULL, FAKE_PLAIN},
        {"POST", "/v1.41/secrets/create", 201, NULL, "{\"ID\":\"sec1\"}", FAKE_PLAIN},
        {"DELETE", "/v1.41/configs/u8qc7qfbc3amxqk2hpz51uajw", 400, NULL,
         "{\"message\":\"config is in use\"}", FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);

    const char *const filters[] = {"io.zpanel.project=zprec", NULL};
    struct engine_service_list sl;
    assert_int_equal(engine_service_list(e, filters, &sl, &err), 0);
    assert_int_equal(sl.n, 1);
    assert_string_equal(sl.items[0].id, "b49d8zmgwy5facvth6kcsmj86");
    assert_string_equal(sl.items[0].name, "zprec_web");
    assert_int_equal(sl.items[0].version, 12);
    assert_string_equal(engine_labels_get(&sl.items[0].labels, "io.zpanel.service"), "web");
    assert_string_equal(sl.items[0].image, "zpanel-test/busybox:1");
    assert_false(sl.items[0].global);
    assert_int_equal(sl.items[0].replicas, 1);
    assert_int_equal(sl.items[0].running_tasks, 1);
    assert_int_equal(sl.items[0].desired_tasks, 1);
    assert_string_equal(sl.items[0].update_state, "");
    assert_false(sl.items[0].has_previous_spec);
    engine_service_list_release(&sl);

    struct engine_service sv;
    assert_int_equal(engine_service_inspect(e, "zprec_web", &sv, &err), 0);
    assert_int_equal(sv.version, 40);
    assert_int_equal(sv.replicas, 3);
    assert_int_equal(sv.running_tasks, -1);
    assert_string_equal(sv.update_state, "rollback_completed");
    assert_string_equal(sv.update_message, "update rolled back");
    assert_true(sv.has_previous_spec);
    assert_string_equal(sv.object_refs[0], "zprec_app_old");
    assert_null(sv.object_refs[1]);
    assert_string_equal(sv.spec_json,
                        "{\"Name\":\"zprec_web\",\"Mode\":{\"Replicated\":{\"Replicas\":3}}}");

    struct engine_service_spec spec;
    engine_service_spec_init(&spec);
    spec.name = "zprec_web";
    spec.image = "i";
    char *id = NULL;
    assert_int_equal(engine_service_create(e, &spec, &id, &err), 0);
    assert_string_equal(id, "s1");
    free(id);
    assert_int_equal(engine_service_update(e, "s1", 40, &spec, &err), 0);
    assert_int_equal(engine_service_rollback(e, "s1", 41, sv.spec_json, &err), 0);
    assert_int_equal(engine_service_update(e, "s1", 39, &spec, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "updating service 's1': update out of sequence (HTTP 500)");
    zp_err_init(&err);
    assert_int_equal(engine_service_remove(e, "s1", &err), 0);
    engine_service_release(&sv);

    struct engine_task_list tl;
    assert_int_equal(engine_task_list(e, NULL, "s1", true, &tl, &err), 0);
    assert_int_equal(tl.n, 1);
    assert_string_equal(tl.items[0].service_id, "b49d8zmgwy5facvth6kcsmj86");
    assert_string_equal(tl.items[0].node_id, "z15h7ewqla2fw6o08l94xk2xa");
    assert_int_equal(tl.items[0].slot, 1);
    assert_string_equal(tl.items[0].state, "running");
    assert_string_equal(tl.items[0].desired_state, "running");
    assert_string_equal(tl.items[0].message, "started");
    assert_string_equal(tl.items[0].error, "");
    assert_string_equal(tl.items[0].container_id,
                        "dc0f0c868db8cce3d01d01a1015a64afaa3a1d0469319c991e1801fc2cc6e796");
    assert_string_equal(engine_labels_get(&tl.items[0].labels, "io.zpanel.config-hash"), "abc");
    assert_true(tl.items[0].timestamp > 1700000000);
    engine_task_list_release(&tl);

    struct engine_swarm_obj_list ol;
    assert_int_equal(engine_swarm_obj_list(e, ENGINE_CONFIG, NULL, &ol, &err), 0);
    assert_int_equal(ol.n, 1);
    assert_string_equal(ol.items[0].name, "zprec_cfg_abc");
    assert_string_equal(ol.items[0].id, "u8qc7qfbc3amxqk2hpz51uajw");
    assert_int_equal(engine_swarm_obj_remove(e, ENGINE_CONFIG, ol.items[0].id, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "removing config 'u8qc7qfbc3amxqk2hpz51uajw': config is in use "
                                 "(HTTP 400)");
    zp_err_init(&err);
    engine_swarm_obj_list_release(&ol);
    const struct engine_kv labels[] = {{"io.zpanel.project", "zprec"}};
    assert_int_equal(
        engine_swarm_obj_create(e, ENGINE_SECRET, "zprec_pw_1", labels, 1, "pw\n", 3, &id, &err),
        0);
    assert_string_equal(id, "sec1");
    free(id);

    char *log = fake_log();
    assert_non_null(
        strstr(log, "POST /v1.41/services/create {\"Name\":\"zprec_web\",\"TaskTemplate\""
                    ":{\"ContainerSpec\":{\"Image\":\"i\"}},\"Mode\":{\"Replicated\":{}}}\n"));
    assert_non_null(
        strstr(log, "POST /v1.41/services/s1/update?version=41&rollback=previous "
                    "{\"Name\":\"zprec_web\",\"Mode\":{\"Replicated\":{\"Replicas\":3}}}\n"));
    assert_non_null(strstr(log, "DELETE /v1.41/services/s1 \n"));
    assert_non_null(strstr(log, "POST /v1.41/secrets/create {\"Name\":\"zprec_pw_1\",\"Labels\":"
                                "{\"io.zpanel.project\":\"zprec\"},\"Data\":\"cHcK\"}\n"));
    free(log);
    engine_free(e);
}

struct collected {
    struct zp_buf out[4];
};

static int collect_frame(void *ctx, enum engine_stream stream, const char *data, size_t len,
                         struct zp_err *err)
{
    struct collected *c = ctx;
    (void)err;
    return zp_buf_add(&c->out[stream], data, len);
}

/* GET /services/{id}/logs: the same frames as a container's; no end time */
static void test_service_logs(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"GET", "/v1.41/services/zprec_web/logs?stdout=1&stderr=1&follow=1&tail=5", 200,
         "logs_mux_long.bin", NULL, FAKE_PLAIN},
        {"GET", "/v1.41/services/zprec_tty/logs?stdout=1&stderr=1", 200, NULL, "raw text\n",
         FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    struct collected c;
    memset(&c, 0, sizeof(c));
    struct engine_logs_opts o = {.follow = true, .tail = 5};
    assert_int_equal(engine_service_logs(e, "zprec_web", &o, collect_frame, &c, &err), 0);
    assert_string_equal(zp_buf_cstr(&c.out[ENGINE_STREAM_STDERR]),
                        "warn 0\nwarn 1\nwarn 2\nwarn 3\nwarn 4\n");
    struct engine_logs_opts t = {.tty = true};
    assert_int_equal(engine_service_logs(e, "zprec_tty", &t, collect_frame, &c, &err), 0);
    assert_true(zp_str_has_suffix(zp_buf_cstr(&c.out[ENGINE_STREAM_STDOUT]), "raw text\n"));
    struct engine_logs_opts u = {.until = 1700000000};
    assert_int_equal(engine_service_logs(e, "zprec_web", &u, collect_frame, &c, &err), ZP_E_INPUT);
    assert_string_equal(err.msg, "--until: not supported for the logs of a Swarm service");
    for (int i = 0; i < 4; i++)
        zp_buf_release(&c.out[i]);
    assert_log("GET /_ping \n"
               "GET /v1.41/services/zprec_web/logs?stdout=1&stderr=1&follow=1&tail=5 \n"
               "GET /v1.41/services/zprec_tty/logs?stdout=1&stderr=1 \n");
    engine_free(e);
}

/* tasks' addresses (NetworksAttachments), recorded from a routed service during a
 * start-first update: two running tasks and the new one starting */
static void test_task_addresses(void **state)
{
    (void)state;
    size_t len = 0;
    char *text = fake_data("swarm_tasks_net.json", &len);
    json_error_t jerr;
    json_t *j = json_loadb(text, len, 0, &jerr);
    assert_non_null(j);
    struct engine_task_list tl;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(engine__map_task_list(j, &tl, &err), 0);
    assert_int_equal(tl.n, 3);
    size_t running = 0;
    for (size_t i = 0; i < tl.n; i++) {
        const struct engine_task *t = &tl.items[i];
        assert_int_equal(t->n_addrs, 2);
        assert_string_equal(t->addrs[1].network, "zpanel-swarm-e2e-26713");
        assert_string_equal(t->addrs[0].network, "swarm-e2e-26713_default");
        assert_null(strchr(t->addrs[1].ip, '/'));
        assert_true(zp_str_has_prefix(t->addrs[1].ip, "10.0.2."));
        running += strcmp(t->state, "running") == 0;
    }
    assert_int_equal(running, 2);
    engine_task_list_release(&tl);
    json_decref(j);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64),          cmocka_unit_test(test_spec_json),
        cmocka_unit_test(test_swarm_and_nodes), cmocka_unit_test(test_services_tasks_objects),
        cmocka_unit_test(test_service_logs),    cmocka_unit_test(test_task_addresses),
    };
    return cmocka_run_group_tests(tests, fake_start, fake_stop);
}

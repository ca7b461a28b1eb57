/* Unit tests for orchestrator/mapping: create bodies against golden files
 * (tests/data/orchestrator/mapping/<case>.yaml -> <case>.<service>.json, written by hand
 * from the Engine API 1.41 reference), the networks split, refusals with their positions,
 * the image reference and the config hash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose-int.h"
#include "orchestrator/mapping.h"
#include "util/util.h"

#define DATA ZP_TEST_DATA "/orchestrator/mapping"
#define HASH "test-hash"

static char *const test_env[] = {(char *)"PATH=/usr/bin:/bin", (char *)"HOME=/nonexistent", NULL};

static struct compose_project *load(const char *name)
{
    char *path = zp_asprintf("%s/%s.yaml", DATA, name);
    const char *files[] = {path};
    struct compose_options o = {.files = files, .nfiles = 1, .environ = test_env, .cwd = DATA};
    struct compose_project *p = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = compose_project_load(&o, &p, &d);
    for (size_t i = 0; rc != 0 && i < d.n; i++)
        print_error("%s\n", d.items[i].msg);
    zp_diags_release(&d);
    free(path);
    assert_int_equal(rc, 0);
    return p;
}

static const struct zp_node *service(const struct compose_project *p, const char *name)
{
    const struct zp_node *svc = zp_node_get(zp_node_get(p->model, "services"), name);
    assert_non_null(svc);
    return svc;
}

/* "zpmap-<service>-1", or NULL for the service named "subpath" (a resolver failure). */
static char *resolve(void *ud, const char *svc)
{
    (void)ud;
    if (strcmp(svc, "subpath") == 0)
        return NULL;
    return zp_asprintf("zpmap-%s-1", svc);
}

static int spec_of(const struct compose_project *p, const char *svc, bool oneoff,
                   struct orch_container_spec *ret, struct zp_err *err)
{
    zp_err_init(err);
    return orch_container_spec(p, svc, service(p, svc), 1, "zpanel-test/busybox:1", "sha256:feed",
                               HASH, oneoff, 41, resolve, NULL, ret, err);
}

/* JSON text -> the same JSON printed with sorted keys and two-space indentation, so that
 * the hand-written files may use any key order and layout. */
static char *canonical(const char *text, const char *what)
{
    struct zp_node *doc = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = compose__yaml_parse(what, text, strlen(text), NULL, &doc, &d);
    for (size_t i = 0; rc != 0 && i < d.n; i++)
        print_error("%s: %d:%d: %s\n", what, d.items[i].pos.line, d.items[i].pos.col,
                    d.items[i].msg);
    zp_diags_release(&d);
    assert_int_equal(rc, 0);
    struct zp_buf b = ZP_BUF_INIT;
    assert_int_equal(compose_emit_json(doc, true, &b), 0);
    zp_node_free(doc);
    return zp_buf_detach(&b, NULL);
}

static char *read_expected(const char *file)
{
    char *path = zp_asprintf("%s/%s", DATA, file);
    char *data = NULL;
    size_t len = 0;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(zp_file_read(path, 1 << 20, &data, &len, &err), 0);
    free(path);
    /* the version label changes with every release */
    struct zp_buf b = ZP_BUF_INIT;
    const char *mark = "@ZP_VERSION@";
    for (const char *s = data;;) {
        const char *hit = strstr(s, mark);
        if (hit == NULL) {
            zp_buf_adds(&b, s);
            break;
        }
        zp_buf_add(&b, s, (size_t)(hit - s));
        zp_buf_adds(&b, ZP_VERSION);
        s = hit + strlen(mark);
    }
    free(data);
    char *exp = canonical(zp_buf_cstr(&b), file);
    zp_buf_release(&b);
    return exp;
}

/* Map service svc of case c and compare with c.svc.json; returns the spec for more
 * checks (caller releases). */
static void golden(const char *c, const char *svc, struct orch_container_spec *spec)
{
    struct compose_project *p = load(c);
    struct zp_err err;
    int rc = spec_of(p, svc, false, spec, &err);
    if (rc != 0)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    char *file = zp_asprintf("%s.%s.json", c, svc);
    char *want = read_expected(file);
    char *got = canonical(spec->json, "body");
    if (strcmp(want, got) != 0)
        fprintf(stderr, "%s: body differs:\n--- want\n%s--- got\n%s", file, want, got);
    assert_string_equal(want, got);
    assert_string_equal(spec->image, "zpanel-test/busybox:1");
    free(want);
    free(got);
    free(file);
    compose_project_free(p);
}

static void test_basic(void **state)
{
    (void)state;
    struct orch_container_spec s;
    golden("basic", "web", &s);
    assert_string_equal(s.name, "zpmap-web-1");
    assert_int_equal(s.nnetworks, 0);
    assert_int_equal(s.nbind_dirs, 0);
    orch_container_spec_release(&s);
    assert_null(s.json);
}

static void test_full(void **state)
{
    (void)state;
    struct orch_container_spec s;
    golden("full", "full", &s);
    assert_string_equal(s.name, "zpmap-full-1");
    /* short bind syntax and create_host_path: true ask for the host directories */
    assert_int_equal(s.nbind_dirs, 2);
    assert_string_equal(s.bind_dirs[0], "/tmp/zpmap-e2e/data");
    assert_string_equal(s.bind_dirs[1], "/tmp/zpmap-e2e/shared");
    orch_container_spec_release(&s);
}

static void test_resources(void **state)
{
    (void)state;
    const char *const svcs[] = {"limits", "always", "plain"};
    for (size_t i = 0; i < 3; i++) {
        struct orch_container_spec s;
        golden("resources", svcs[i], &s);
        orch_container_spec_release(&s);
    }
}

/* gpus (all, and the long form) after deploy's device reservations; hooks, attach and
 * develop are accepted and leave the body alone */
static void test_devices(void **state)
{
    (void)state;
    const char *const svcs[] = {"all", "list"};
    for (size_t i = 0; i < 2; i++) {
        struct orch_container_spec s;
        golden("devices", svcs[i], &s);
        orch_container_spec_release(&s);
    }
}

static void test_networks(void **state)
{
    (void)state;
    struct orch_container_spec s;
    golden("networks", "app", &s);
    /* front (priority 10) is in the body; then zeta (10), alpha and back (0) by name */
    assert_int_equal(s.nnetworks, 3);
    assert_string_equal(s.networks[0].network, "zeta-net");
    assert_string_equal(s.networks[1].network, "zpmap_alpha");
    assert_string_equal(s.networks[2].network, "zpmap_back");
    assert_string_equal(s.networks[0].aliases[0], "app");
    assert_string_equal(s.networks[0].aliases[1], "zpmap-app-1");
    assert_null(s.networks[0].aliases[2]);
    assert_null(s.networks[0].ipv4_address);
    assert_string_equal(s.networks[2].aliases[0], "app");
    assert_string_equal(s.networks[2].aliases[1], "api");
    assert_string_equal(s.networks[2].aliases[2], "zpmap-app-1");
    assert_null(s.networks[2].aliases[3]);
    assert_string_equal(s.networks[2].ipv4_address, "10.231.2.10");
    assert_string_equal(s.networks[2].ipv6_address, "fd00:231::10");
    orch_container_spec_release(&s);
    assert_int_equal(s.nnetworks, 0);
}

static void test_modes(void **state)
{
    (void)state;
    struct orch_container_spec s;
    golden("modes", "app", &s);
    assert_int_equal(s.nnetworks, 0);
    orch_container_spec_release(&s);
    golden("modes", "lone", &s);
    orch_container_spec_release(&s);
}

static void test_secrets(void **state)
{
    (void)state;
    struct orch_container_spec s;
    golden("secrets", "s", &s);
    assert_int_equal(s.nbind_dirs, 0); /* secret files are never created */
    orch_container_spec_release(&s);
}

static void test_extras(void **state)
{
    (void)state;
    struct orch_container_spec s;
    golden("extras", "extras", &s);
    orch_container_spec_release(&s);
}

/* A one-off (`run`) container is labelled so and takes none of the service's aliases. */
static void test_oneoff(void **state)
{
    (void)state;
    struct compose_project *p = load("networks");
    struct orch_container_spec s;
    struct zp_err err;
    assert_int_equal(spec_of(p, "app", true, &s, &err), 0);
    assert_non_null(strstr(s.json, "\"io.zpanel.oneoff\":\"true\""));
    assert_null(strstr(s.json, "\"Aliases\""));
    assert_non_null(strstr(s.json, "\"IPv4Address\":\"10.231.1.10\""));
    assert_int_equal(s.nnetworks, 3);
    assert_null(s.networks[2].aliases[0]);
    orch_container_spec_release(&s);
    /* and a normal one has no oneoff label at all */
    assert_int_equal(spec_of(p, "web", false, &s, &err), 0);
    assert_null(strstr(s.json, "oneoff"));
    orch_container_spec_release(&s);
    compose_project_free(p);
}

/* container_name names the container and is its alias; number goes in the label. */
static void test_container_name_and_number(void **state)
{
    (void)state;
    struct compose_project *p = load("basic");
    struct zp_node *svc = zp_node_copy(service(p, "web"));
    struct orch_container_spec s;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(orch_container_spec(p, "web", svc, 3, "img:1", "sha256:1", HASH, false, 41,
                                         resolve, NULL, &s, &err),
                     0);
    assert_string_equal(s.name, "zpmap-web-3");
    assert_non_null(strstr(s.json, "\"io.zpanel.number\":\"3\""));
    assert_non_null(strstr(s.json, "\"Image\":\"img:1\""));
    assert_non_null(strstr(s.json, "\"Aliases\":[\"web\",\"zpmap-web-3\"]"));
    orch_container_spec_release(&s);
    zp_node_set(svc, "container_name", zp_node_new_str("my-web", NULL));
    assert_int_equal(orch_container_spec(p, "web", svc, 1, "img:1", "sha256:1", HASH, false, 41,
                                         resolve, NULL, &s, &err),
                     0);
    assert_string_equal(s.name, "my-web");
    assert_non_null(strstr(s.json, "\"Aliases\":[\"web\",\"my-web\"]"));
    orch_container_spec_release(&s);
    zp_node_free(svc);
    compose_project_free(p);
}

struct refusal {
    const char *service;
    const char *msg;
    int line, col;
};

static void test_errors(void **state)
{
    (void)state;
    static const struct refusal cases[] = {
        {"subpath",
         "services.subpath.volumes[0].volume.subpath: not supported by the engine's API "
         "version (1.41)",
         10, 27},
        {"imagevol",
         "services.imagevol.volumes[0].type: volume type 'image' is not supported by the "
         "engine's API version (1.41)",
         14, 15},
        {"recursive",
         "services.recursive.volumes[0].bind.recursive: 'readonly' is not supported by the "
         "engine's API version (1.41)",
         23, 27},
        {"startint",
         "services.startint.healthcheck.start_interval: needs the engine's API 1.44 (Docker 25) "
         "or newer; this engine speaks 1.41",
         26, 49},
        {"annot", "services.annot.annotations: not supported by the engine's API version (1.41)",
         29, 5},
        {"envsecret",
         "services.envsecret.secrets[0]: secrets from 'environment' or 'content' are not "
         "supported yet; use 'file'",
         32, 15},
        {"contentconfig",
         "services.contentconfig.configs[0]: configs from 'environment' or 'content' are not "
         "supported yet; use 'file'",
         35, 15},
        {"extsecret",
         "services.extsecret.secrets[0]: external secrets need swarm; use a "
         "file-based one",
         38, 15},
        {"secretuid",
         "services.secretuid.secrets[0].uid: not supported without swarm: the secret is "
         "bind-mounted and keeps the owner and mode of '/tmp/zpmap-e2e/token.txt'",
         43, 14},
        {"netmac",
         "services.netmac.networks.back.mac_address: can only be set on the service's first "
         "network (the one with the highest priority)",
         48, 27},
        {"gwprio",
         "services.gwprio.networks.front.gw_priority: not supported by the engine's API "
         "version (1.41)",
         52, 28},
        {"reserved",
         "services.reserved.labels[\"io.zpanel.project\"]: the label prefix 'io.zpanel.' is "
         "reserved for zpanel",
         55, 14},
        {"macdiff",
         "services.macdiff.networks.front.mac_address: '02:42:ac:11:00:02' differs from "
         "mac_address '02:42:ac:11:00:01'",
         66, 28},
        {"nomode", "services.nomode.network_mode: no container found for service 'subpath'", 69,
         19},
        {"cpuconflict",
         "services.cpuconflict.deploy.resources.limits.cpus: cannot be combined with cpu_quota: "
         "set either a number of CPUs or the CFS period and quota",
         75, 24},
        {"hostlinks",
         "services.hostlinks.external_links: cannot be used with network_mode 'host': links "
         "need the bridge network or a network of the project",
         79, 21},
    };
    struct compose_project *p = load("errors");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct orch_container_spec s;
        memset(&s, 0x5a, sizeof(s)); /* must stay untouched on failure */
        struct zp_err err;
        int rc = spec_of(p, cases[i].service, false, &s, &err);
        if (rc != ZP_E_INPUT || strcmp(err.msg, cases[i].msg) != 0)
            print_error("%s: rc %d: %s\n", cases[i].service, rc, err.msg);
        assert_int_equal(rc, ZP_E_INPUT);
        assert_string_equal(err.msg, cases[i].msg);
        assert_non_null(err.pos.file);
        assert_true(zp_str_has_suffix(err.pos.file, "errors.yaml"));
        if (err.pos.line != cases[i].line || err.pos.col != cases[i].col)
            print_error("%s: at %d:%d\n", cases[i].service, err.pos.line, err.pos.col);
        assert_int_equal(err.pos.line, cases[i].line);
        assert_int_equal(err.pos.col, cases[i].col);
        for (size_t b = 0; b < sizeof(s); b++)
            assert_int_equal(((const unsigned char *)&s)[b], 0x5a);
    }
    compose_project_free(p);
}

/* With network_mode bridge, links go in HostConfig.Links. */
static void test_bridge_links(void **state)
{
    (void)state;
    struct compose_project *p = load("errors");
    struct orch_container_spec s;
    struct zp_err err;
    assert_int_equal(spec_of(p, "bridgelinks", false, &s, &err), 0);
    assert_non_null(strstr(s.json, "\"Links\":[\"somecontainer:alias\"]"));
    assert_non_null(strstr(s.json, "\"NetworkMode\":\"bridge\""));
    assert_null(strstr(s.json, "NetworkingConfig"));
    orch_container_spec_release(&s);
    compose_project_free(p);
}

/* healthcheck.start_interval goes to the engine from API 1.44 (Docker 25) on; an older
 * engine would drop it without a word, so it is refused there, in place. */
static void test_start_interval_by_api(void **state)
{
    (void)state;
    struct compose_project *p = load("errors");
    const struct zp_node *svc = service(p, "startint");
    struct orch_container_spec s;
    struct zp_err err;
    zp_err_init(&err);
    for (int minor = 44; minor <= 45; minor++) {
        assert_int_equal(orch_container_spec(p, "startint", svc, 1, "i", "", HASH, false, minor,
                                             resolve, NULL, &s, &err),
                         0);
        assert_non_null(strstr(s.json, "\"StartInterval\":1000000000"));
        orch_container_spec_release(&s);
    }
    assert_int_equal(orch_container_spec(p, "startint", svc, 1, "i", "", HASH, false, 43, resolve,
                                         NULL, &s, &err),
                     ZP_E_INPUT);
    assert_string_equal(err.msg, "services.startint.healthcheck.start_interval: needs the "
                                 "engine's API 1.44 (Docker 25) or newer; this engine speaks 1.43");
    assert_int_equal(err.pos.line, 26);
    compose_project_free(p);
}

/* A key the mapping does not know is refused; x-* keys are not sent. */
static void test_unknown_key(void **state)
{
    (void)state;
    struct compose_project *p = load("basic");
    struct zp_node *svc = zp_node_copy(service(p, "web"));
    zp_node_set(svc, "x-anything", zp_node_new_str("ignored", NULL));
    struct orch_container_spec s;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(
        orch_container_spec(p, "web", svc, 1, "i", "", HASH, false, 41, resolve, NULL, &s, &err),
        0);
    assert_null(strstr(s.json, "ignored"));
    orch_container_spec_release(&s);
    zp_node_set(svc, "new_field", zp_node_new_str("x", NULL));
    assert_int_equal(
        orch_container_spec(p, "web", svc, 1, "i", "", HASH, false, 41, resolve, NULL, &s, &err),
        ZP_E_INPUT);
    assert_string_equal(err.msg, "services.web.new_field: not supported by the container mapping");
    zp_node_free(svc);
    compose_project_free(p);
}

static void test_service_image(void **state)
{
    (void)state;
    struct compose_project *p = load("basic");
    char *img = orch_service_image("zpmap", "web", service(p, "web"));
    assert_string_equal(img, "zpanel-test/busybox:1");
    free(img);
    struct zp_node *svc = zp_node_copy(service(p, "web"));
    zp_node_del(svc, "image");
    img = orch_service_image("zpmap", "web", svc);
    assert_string_equal(img, "zpmap-web");
    free(img);
    zp_node_free(svc);
    compose_project_free(p);
}

static void test_config_hash(void **state)
{
    (void)state;
    struct compose_project *p = load("resources");
    const struct zp_node *limits = service(p, "limits");
    char h1[65], h2[65], h3[65];
    orch_config_hash(limits, "sha256:aa", h1);
    assert_int_equal(strlen(h1), 64);
    /* the documented formula: SHA-256 of "<service hash>\n<image id>" */
    char svc_hash[65], want[65];
    compose_service_hash(limits, svc_hash);
    char *text = zp_asprintf("%s\nsha256:aa", svc_hash);
    zp_sha256_hex(text, strlen(text), want);
    free(text);
    assert_string_equal(h1, want);
    /* the same definition with its keys in another order: the same hash */
    struct zp_node *copy = zp_node_copy(limits);
    zp_node_sort_keys(copy);
    struct zp_node *img = zp_node_take(copy, "image");
    zp_node_set(copy, "image", img);
    orch_config_hash(copy, "sha256:aa", h2);
    assert_string_equal(h1, h2);
    /* another image ID or another definition: another hash */
    orch_config_hash(limits, "sha256:bb", h3);
    assert_string_not_equal(h1, h3);
    zp_node_set(copy, "tty", zp_node_new_bool(true, NULL));
    orch_config_hash(copy, "sha256:aa", h3);
    assert_string_not_equal(h1, h3);
    zp_node_free(copy);
    compose_project_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_resources),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_networks),
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_extras),
        cmocka_unit_test(test_oneoff),
        cmocka_unit_test(test_container_name_and_number),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bridge_links),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_service_image),
        cmocka_unit_test(test_start_interval_by_api),
        cmocka_unit_test(test_config_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for compose__validate_project: cross references, cycles, names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "compose/compose-int.h"
#include "util/util.h"

struct vres {
    int rc;
    struct zp_diags d;
};

/* Validate a model written as YAML (file name "c.yaml"). */
static void validate(const char *text, struct vres *r)
{
    struct zp_node *doc = NULL;
    zp_diags_init(&r->d);
    assert_int_equal(compose__yaml_parse("c.yaml", text, strlen(text), NULL, &doc, &r->d), 0);
    r->rc = compose__validate_project(doc, &r->d);
    zp_node_free(doc);
}

/* Assert that diagnostic i renders exactly as want. */
static void expect_diag(const struct vres *r, size_t i, const char *want)
{
    if (i >= r->d.n)
        fail_msg("only %zu diagnostics, wanted #%zu: %s", r->d.n, i, want);
    char *got = zp_diag_render(&r->d.items[i]);
    if (strcmp(got, want) != 0)
        print_error("got:  %s\nwant: %s\n", got, want);
    assert_string_equal(got, want);
    free(got);
}

static void test_valid_project(void **state)
{
    (void)state;
    struct vres r;
    validate("name: demo\n"
             "services:\n"
             "  web:\n"
             "    image: nginx\n"
             "    networks: {default: null}\n"
             "    depends_on: {db: {condition: service_started, required: true}}\n"
             "    volumes: [{type: volume, source: data, target: /d, volume: {}},\n"
             "              {type: volume, target: /anon, volume: {}}]\n"
             "    secrets: [{source: s}]\n"
             "    configs: [{source: c}]\n"
             "    volumes_from: ['container:other', 'db:ro']\n"
             "  db:\n"
             "    build: {context: /x, dockerfile: Dockerfile}\n"
             "networks: {default: {name: demo_default}}\n"
             "volumes: {data: {name: demo_data}}\n"
             "secrets: {s: {name: demo_s, file: /s}}\n"
             "configs: {c: {name: demo_c, file: /c}}\n",
             &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.d.n, 0);
    zp_diags_release(&r.d);
}

static void test_undefined_resources(void **state)
{
    (void)state;
    struct vres r;
    validate("name: demo\n"
             "services:\n"
             "  web:\n"
             "    image: nginx\n"
             "    networks: {front: null}\n"
             "    volumes:\n"
             "      - {type: volume, source: data, target: /d}\n"
             "    secrets:\n"
             "      - {source: s}\n"
             "    configs:\n"
             "      - {source: c}\n",
             &r);
    assert_int_equal(r.rc, ZP_E_INPUT);
    assert_int_equal(r.d.errors, 4);
    expect_diag(&r, 0,
                "c.yaml:5:16: services.web.networks.front: service 'web' refers to undefined "
                "network 'front'");
    expect_diag(&r, 1,
                "c.yaml:7:9: services.web.volumes[0]: service 'web' refers to undefined volume "
                "'data'");
    expect_diag(&r, 2,
                "c.yaml:9:9: services.web.secrets[0]: service 'web' refers to undefined secret "
                "'s'");
    expect_diag(&r, 3,
                "c.yaml:11:9: services.web.configs[0]: service 'web' refers to undefined config "
                "'c'");
    zp_diags_release(&r.d);
}

static void test_undefined_services(void **state)
{
    (void)state;
    struct vres r;
    validate("services:\n"
             "  web:\n"
             "    image: nginx\n"
             "    depends_on:\n"
             "      db: {condition: service_started, required: true}\n"
             "      opt: {condition: service_started, required: false}\n"
             "    links: ['cache:c']\n"
             "    network_mode: 'service:vpn'\n"
             "    volumes_from: ['store:ro']\n",
             &r);
    assert_int_equal(r.rc, ZP_E_INPUT);
    assert_int_equal(r.d.errors, 5);
    assert_int_equal(r.d.n, 5);
    expect_diag(&r, 0,
                "c.yaml:5:7: services.web.depends_on.db: service 'web' depends on undefined "
                "service 'db'");
    expect_diag(&r, 1,
                "c.yaml:6:7: services.web.depends_on.opt: service 'web' depends on undefined "
                "service 'opt' ('required: false' only excuses a service disabled by its "
                "profiles)");
    expect_diag(&r, 2,
                "c.yaml:7:13: services.web.links[0]: service 'web' links to undefined service "
                "'cache'");
    expect_diag(&r, 3,
                "c.yaml:9:20: services.web.volumes_from[0]: service 'web' uses volumes from "
                "undefined service 'store'");
    expect_diag(&r, 4,
                "c.yaml:8:19: services.web.network_mode: service 'web' uses in network_mode "
                "undefined service 'vpn'");
    zp_diags_release(&r.d);
}

static void test_cycles(void **state)
{
    (void)state;
    struct vres r;
    validate("services:\n"
             "  a:\n"
             "    image: x\n"
             "    depends_on: {b: {condition: service_started, required: true}}\n"
             "  b:\n"
             "    image: x\n"
             "    links: [c]\n"
             "  c:\n"
             "    image: x\n"
             "    network_mode: 'service:a'\n"
             "  d:\n"
             "    image: x\n"
             "    volumes_from: [d]\n"
             "  e:\n"
             "    image: x\n"
             "    depends_on: {a: {condition: service_started, required: true}}\n",
             &r);
    assert_int_equal(r.rc, ZP_E_INPUT);
    assert_int_equal(r.d.n, 2);
    expect_diag(&r, 0, "c.yaml:4:18: services.a.depends_on.b: dependency cycle: a -> b -> c -> a");
    expect_diag(&r, 1, "c.yaml:13:20: services.d.volumes_from[0]: dependency cycle: d -> d");
    zp_diags_release(&r.d);
}

static void test_image_or_build_required(void **state)
{
    (void)state;
    struct vres r;
    validate("services:\n"
             "  web:\n"
             "    user: root\n"
             "  empty:\n",
             &r);
    assert_int_equal(r.rc, ZP_E_INPUT);
    assert_int_equal(r.d.n, 2);
    expect_diag(&r, 0,
                "c.yaml:2:3: services.web: service 'web' has neither an image nor a "
                "build context");
    expect_diag(&r, 1,
                "c.yaml:4:3: services.empty: service 'empty' has neither an image nor a "
                "build context");
    zp_diags_release(&r.d);
}

static void test_names(void **state)
{
    (void)state;
    struct vres r;
    validate("name: My_App\n"
             "services:\n"
             "  'bad name':\n"
             "    image: x\n"
             "  ok.name-1_x:\n"
             "    image: x\n",
             &r);
    assert_int_equal(r.rc, ZP_E_INPUT);
    assert_int_equal(r.d.n, 2);
    expect_diag(&r, 0,
                "c.yaml:1:7: name: invalid project name 'My_App': it must contain only "
                "lowercase letters, digits, dashes and underscores, and start with a letter or "
                "digit");
    expect_diag(&r, 1,
                "c.yaml:3:3: services[\"bad name\"]: invalid service name 'bad name': only "
                "letters, digits, '.', '_' and '-' are allowed");
    zp_diags_release(&r.d);

    validate("name: _x\nservices: {}\n", &r);
    assert_int_equal(r.rc, ZP_E_INPUT);
    assert_int_equal(r.d.n, 1);
    zp_diags_release(&r.d);
    validate("name: 0ab-c_d\nservices: {}\n", &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.d.n, 0);
    zp_diags_release(&r.d);
}

static void test_container_name(void **state)
{
    (void)state;
    struct vres r;
    validate("services:\n"
             "  a:\n"
             "    image: x\n"
             "    container_name: one\n"
             "    deploy: {replicas: 2}\n"
             "  b:\n"
             "    image: x\n"
             "    container_name: two\n"
             "    scale: 3\n"
             "  c:\n"
             "    image: x\n"
             "    container_name: one\n"
             "  d:\n"
             "    image: x\n"
             "    container_name: four\n"
             "    deploy: {replicas: 1}\n",
             &r);
    assert_int_equal(r.rc, ZP_E_INPUT);
    assert_int_equal(r.d.n, 3);
    expect_diag(&r, 0,
                "c.yaml:4:21: services.a.container_name: service 'a' sets container_name 'one' "
                "but asks for 2 containers: a container name must be unique");
    expect_diag(&r, 1,
                "c.yaml:8:21: services.b.container_name: service 'b' sets container_name 'two' "
                "but asks for 3 containers: a container name must be unique");
    expect_diag(&r, 2,
                "c.yaml:12:21: services.c.container_name: container name 'one' is already used "
                "by service 'a'");
    zp_diags_release(&r.d);
}

static void test_network_mode_and_networks(void **state)
{
    (void)state;
    struct vres r;
    validate("services:\n"
             "  a:\n"
             "    image: x\n"
             "    network_mode: host\n"
             "    networks: {default: null}\n"
             "networks: {default: {}}\n",
             &r);
    assert_int_equal(r.rc, ZP_E_INPUT);
    assert_int_equal(r.d.n, 1);
    expect_diag(&r, 0,
                "c.yaml:4:19: services.a.network_mode: service 'a' declares both network_mode "
                "and networks, which exclude each other");
    zp_diags_release(&r.d);
}

/* Fields `up` refuses because they need another engine: each named with its position. */
static void test_engine_unsupported(void **state)
{
    (void)state;
    const char *text = "services:\n"
                       "  a: {image: x, provider: {type: model}, isolation: hyperv}\n"
                       "  b: {image: x, isolation: default, models: [m], credential_spec: {file: f}}\n"
                       "models:\n"
                       "  m: {model: ai/x}\n";
    struct zp_node *doc = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    assert_int_equal(compose__yaml_parse("c.yaml", text, strlen(text), NULL, &doc, &d), 0);
    assert_int_equal(compose_engine_unsupported(doc, &d), 5);
    assert_int_equal(d.errors, 5);
    char *m = zp_diag_render(&d.items[1]);
    assert_string_equal(m, "c.yaml:2:27: services.a.provider: 'provider' (type 'model') is run by a "
                           "Compose provider plugin, which zpanel does not run");
    free(m);
    zp_node_free(doc);
    zp_diags_release(&d);
    /* a plain model: nothing */
    text = "services:\n  a: {image: x, isolation: default}\n";
    zp_diags_init(&d);
    assert_int_equal(compose__yaml_parse("c.yaml", text, strlen(text), NULL, &doc, &d), 0);
    assert_int_equal(compose_engine_unsupported(doc, &d), 0);
    assert_int_equal(d.n, 0);
    zp_node_free(doc);
    zp_diags_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_unsupported),
        cmocka_unit_test(test_valid_project),
        cmocka_unit_test(test_undefined_resources),
        cmocka_unit_test(test_undefined_services),
        cmocka_unit_test(test_cycles),
        cmocka_unit_test(test_image_or_build_required),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_container_name),
        cmocka_unit_test(test_network_mode_and_networks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

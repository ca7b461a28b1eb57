/* Unit tests for compose__merge: the Compose Specification's merge rules on canonical trees. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "compose/compose-int.h"
#include "util/util.h"

/* Canonical trees are written as YAML for readability. */
static struct zp_node *yaml(const char *text)
{
    struct zp_diags d;
    struct zp_node *doc = NULL;
    zp_diags_init(&d);
    int rc = compose__yaml_parse("t.yaml", text, strlen(text), NULL, &doc, &d);
    if (rc != 0 && d.n > 0)
        print_error("%s\n", d.items[0].msg);
    assert_int_equal(rc, 0);
    zp_diags_release(&d);
    return doc;
}

static bool has_flags(const struct zp_node *n)
{
    if (n->flags & (ZP_NODE_RESET | ZP_NODE_OVERRIDE))
        return true;
    for (size_t i = 0; n->kind == ZP_NODE_SEQ && i < n->n; i++)
        if (has_flags(n->items[i]))
            return true;
    for (size_t i = 0; n->kind == ZP_NODE_MAP && i < n->n; i++)
        if (has_flags(n->pairs[i].value))
            return true;
    return false;
}

/* Flow-style rendering for failure messages. */
static void dump(const struct zp_node *n, struct zp_buf *b)
{
    if (n->kind == ZP_NODE_SCALAR) {
        zp_buf_adds(b, n->str);
        return;
    }
    zp_buf_adds(b, n->kind == ZP_NODE_SEQ ? "[" : "{");
    for (size_t i = 0; i < n->n; i++) {
        if (i)
            zp_buf_adds(b, ", ");
        if (n->kind == ZP_NODE_MAP) {
            zp_buf_addf(b, "%s: ", n->pairs[i].key->str);
            dump(n->pairs[i].value, b);
        } else {
            dump(n->items[i], b);
        }
    }
    zp_buf_adds(b, n->kind == ZP_NODE_SEQ ? "]" : "}");
}

/* Merge over into base (both YAML) and compare with want (YAML). */
static void check_merge(const char *base_y, const char *over_y, bool is_service, const char *want_y)
{
    struct zp_node *base = yaml(base_y);
    struct zp_node *want = yaml(want_y);
    compose__merge(base, yaml(over_y), is_service);
    assert_false(has_flags(base));
    if (!zp_node_equal(base, want)) {
        struct zp_buf b = ZP_BUF_INIT;
        dump(base, &b);
        print_error("got: %s\n", zp_buf_cstr(&b));
        zp_buf_release(&b);
    }
    assert_true(zp_node_equal(base, want));
    zp_node_free(base);
    zp_node_free(want);
}

static void test_mapping_merge_and_scalar_replace(void **state)
{
    (void)state;
    check_merge("image: a\nuser: root\nlabels: {x: '1', y: '2'}\n",
                "image: b\nlabels: {y: '3', z: '4'}\nhostname: h\n", true,
                "image: b\nuser: root\nlabels: {x: '1', y: '3', z: '4'}\nhostname: h\n");
}

static void test_command_entrypoint_healthcheck_test_replaced(void **state)
{
    (void)state;
    check_merge("command: [echo, foo]\nentrypoint: [sh, -c]\n"
                "healthcheck: {test: [CMD, a], retries: 3}\n",
                "command: [echo, bar]\nentrypoint: [bash]\n"
                "healthcheck: {test: [CMD-SHELL, b], interval: 5s}\n",
                true,
                "command: [echo, bar]\nentrypoint: [bash]\n"
                "healthcheck: {test: [CMD-SHELL, b], retries: 3, interval: 5s}\n");
}

static void test_plain_sequences_append(void **state)
{
    (void)state;
    /* not a keyed field: appended as the spec's Sequence rule says */
    check_merge("deploy: {placement: {constraints: [a, b]}}\n",
                "deploy: {placement: {constraints: [b, c]}}\n", true,
                "deploy: {placement: {constraints: [a, b, b, c]}}\n");
}

static void test_unique_string_sequences(void **state)
{
    (void)state;
    check_merge("dns: [1.1.1.1]\ncap_add: [NET_ADMIN, SYS_TIME]\nexpose: ['80']\n"
                "profiles: [a]\nlinks: [db]\nextra_hosts: [h=1.2.3.4]\n",
                "dns: [8.8.8.8, 1.1.1.1]\ncap_add: [SYS_TIME, CHOWN]\nexpose: ['80', '81']\n"
                "profiles: [a, b]\nlinks: [db, cache]\nextra_hosts: [h=1.2.3.4]\n",
                true,
                "dns: [1.1.1.1, 8.8.8.8]\ncap_add: [NET_ADMIN, SYS_TIME, CHOWN]\n"
                "expose: ['80', '81']\nprofiles: [a, b]\nlinks: [db, cache]\n"
                "extra_hosts: [h=1.2.3.4]\n");
}

static void test_ports_keyed(void **state)
{
    (void)state;
    check_merge(
        "ports:\n"
        "- {mode: ingress, target: 80, published: '8080', protocol: tcp}\n"
        "- {mode: ingress, target: 53, published: '53', protocol: udp}\n",
        "ports:\n"
        "- {mode: ingress, target: 80, published: '8080', protocol: tcp, name: web}\n"
        "- {mode: ingress, target: 53, published: '53', protocol: tcp}\n"
        "- {mode: ingress, host_ip: 127.0.0.1, target: 80, published: '8080', protocol: tcp}\n",
        true,
        "ports:\n"
        "- {mode: ingress, target: 80, published: '8080', protocol: tcp, name: web}\n"
        "- {mode: ingress, target: 53, published: '53', protocol: udp}\n"
        "- {mode: ingress, target: 53, published: '53', protocol: tcp}\n"
        "- {mode: ingress, host_ip: 127.0.0.1, target: 80, published: '8080', protocol: tcp}\n");
}

static void test_volumes_by_target(void **state)
{
    (void)state;
    /* the spec's example: foo:/work then bar:/work gives bar:/work */
    check_merge("volumes:\n"
                "- {type: volume, source: foo, target: /work, volume: {}}\n"
                "- {type: bind, source: /h, target: /data, bind: {create_host_path: true}}\n",
                "volumes:\n"
                "- {type: volume, source: bar, target: /work, read_only: true, volume: {}}\n"
                "- {type: volume, source: v, target: /data, volume: {}}\n"
                "- {type: tmpfs, target: /tmp}\n",
                true,
                "volumes:\n"
                "- {type: volume, source: bar, target: /work, read_only: true, volume: {}}\n"
                "- {type: volume, source: v, target: /data, volume: {}}\n"
                "- {type: tmpfs, target: /tmp}\n");
}

static void test_secrets_configs_env_file_devices_keyed(void **state)
{
    (void)state;
    check_merge("secrets: [{source: a}, {source: b, target: /x}]\n"
                "configs: [{source: c}]\n"
                "env_file: [{path: /p/.env, required: true}]\n"
                "devices: [{source: /dev/a, target: /dev/x, permissions: rwm}]\n",
                "secrets: [{source: a, mode: 256}, {source: c, target: /x}]\n"
                "configs: [{source: c, target: /c}, {source: d}]\n"
                "env_file: [{path: /p/.env, required: false}, {path: /p/b.env, required: true}]\n"
                "devices: [{source: /dev/b, target: /dev/x, permissions: r}]\n",
                true,
                "secrets: [{source: a, mode: 256}, {source: c, target: /x}]\n"
                "configs: [{source: c, target: /c}, {source: d}]\n"
                "env_file: [{path: /p/.env, required: false}, {path: /p/b.env, required: true}]\n"
                "devices: [{source: /dev/b, target: /dev/x, permissions: r}]\n");
}

static void test_environment_labels_sysctls_maps(void **state)
{
    (void)state;
    check_merge("environment: {A: '1', B: '2'}\nsysctls: {net.x: '1'}\n",
                "environment: {B: '3', C: null}\nsysctls: {net.y: '0'}\n", true,
                "environment: {A: '1', B: '3', C: null}\nsysctls: {net.x: '1', net.y: '0'}\n");
}

static void test_reset_removes(void **state)
{
    (void)state;
    /* the spec's example, plus a reset of a field the base does not have */
    check_merge("image: myapp\nports: [{mode: ingress, target: 80, published: '8080', "
                "protocol: tcp}]\nenvironment: {FOO: BAR, KEEP: x}\n",
                "image: myapp\nports: !reset []\nenvironment: {FOO: !reset null}\n"
                "user: !reset null\n",
                true, "image: myapp\nenvironment: {KEEP: x}\n");
}

static void test_override_replaces(void **state)
{
    (void)state;
    check_merge("image: myapp\nports: [{mode: ingress, target: 80, published: '8080', "
                "protocol: tcp}]\nlabels: {a: '1'}\n",
                "ports: !override [{mode: ingress, target: 443, published: '8443', "
                "protocol: tcp}]\nlabels: !override {b: '2'}\n",
                true,
                "image: myapp\nports: [{mode: ingress, target: 443, published: '8443', "
                "protocol: tcp}]\nlabels: {b: '2'}\n");
}

static void test_flags_cleared_on_new_fields(void **state)
{
    (void)state;
    /* nothing to reset or override in the base: the flags just go */
    check_merge("image: a\n",
                "labels: !override {b: '2'}\nenvironment: {X: !reset null, Y: y}\n"
                "dns: [a, !reset b]\n",
                true, "image: a\nlabels: {b: '2'}\nenvironment: {Y: y}\ndns: [a]\n");
}

static void test_null_override_keeps_base(void **state)
{
    (void)state;
    check_merge("networks: {front: null}\ndepends_on: {db: {condition: service_started, "
                "required: true}}\n",
                "networks: null\ndepends_on: null\n", true,
                "networks: {front: null}\ndepends_on: {db: {condition: service_started, "
                "required: true}}\n");
    check_merge("networks: {front: null}\n", "networks: {front: {aliases: [x]}, back: null}\n",
                true, "networks: {front: {aliases: [x]}, back: null}\n");
}

static void test_logging_driver_change_replaces_options(void **state)
{
    (void)state;
    check_merge("logging: {driver: json-file, options: {max-size: 1m}}\n",
                "logging: {driver: syslog, options: {tag: x}}\n", true,
                "logging: {driver: syslog, options: {tag: x}}\n");
    check_merge("logging: {driver: json-file, options: {max-size: 1m}}\n",
                "logging: {options: {max-file: '3'}}\n", true,
                "logging: {driver: json-file, options: {max-size: 1m, max-file: '3'}}\n");
}

static void test_documents(void **state)
{
    (void)state;
    check_merge("name: p\nservices:\n  web: {image: a, command: [x], dns: [a]}\n  db: {image: pg}\n"
                "networks: {front: {driver: bridge}}\nvolumes: {data: {}}\nx-a: 1\n",
                "services:\n  web: {command: [y], dns: [b]}\n  cache: {image: redis}\n"
                "  db: !reset null\n"
                "networks: {front: {driver_opts: {a: b}}, back: {}}\nx-a: 2\n",
                false,
                "name: p\nservices:\n  web: {image: a, command: [y], dns: [a, b]}\n"
                "  cache: {image: redis}\n"
                "networks: {front: {driver: bridge, driver_opts: {a: b}}, back: {}}\n"
                "volumes: {data: {}}\nx-a: 2\n");
}

/* A default the normaliser filled in (build: . gives dockerfile: Dockerfile) does not
 * replace what the base file wrote; over nothing it is kept. */
static void test_defaults_do_not_override(void **state)
{
    (void)state;
    struct zp_node *base = yaml("build: {context: /p/src, dockerfile: D.dev}\n");
    struct zp_node *over = yaml("build: {context: /p, dockerfile: Dockerfile, target: t}\n");
    struct zp_node *ob = zp_node_get(over, "build");
    zp_node_get(ob, "context")->flags |= ZP_NODE_DEFAULT;
    zp_node_get(ob, "dockerfile")->flags |= ZP_NODE_DEFAULT;
    compose__merge(base, over, true);
    struct zp_node *want = yaml("build: {context: /p/src, dockerfile: D.dev, target: t}\n");
    assert_true(zp_node_equal(base, want));
    zp_node_free(want);
    zp_node_free(base);

    base = yaml("image: x\n");
    over = yaml("build: {context: /p, dockerfile: Dockerfile}\n");
    zp_node_get(zp_node_get(over, "build"), "dockerfile")->flags |= ZP_NODE_DEFAULT;
    compose__merge(base, over, true);
    assert_string_equal(zp_node_get_str(zp_node_get(base, "build"), "dockerfile"), "Dockerfile");
    zp_node_free(base);
}

static void test_ipam_config_by_subnet(void **state)
{
    (void)state;
    check_merge("networks: {n: {ipam: {config: [{subnet: 10.0.0.0/24}]}}}\n",
                "networks: {n: {ipam: {config: [{subnet: 10.0.0.0/24, gateway: 10.0.0.1}, "
                "{subnet: 10.1.0.0/24}]}}}\n",
                false,
                "networks: {n: {ipam: {config: [{subnet: 10.0.0.0/24, gateway: 10.0.0.1}, "
                "{subnet: 10.1.0.0/24}]}}}\n");
    /* as Compose: the override's pools; a base pool it does not name is dropped */
    check_merge("networks: {n: {ipam: {config: [{subnet: 10.0.0.0/24, gateway: 10.0.0.9}, "
                "{subnet: 10.2.0.0/24}]}}}\n",
                "networks: {n: {ipam: {config: [{subnet: 10.1.0.0/24}, "
                "{subnet: 10.0.0.0/24, ip_range: 10.0.0.0/25}]}}}\n",
                false,
                "networks: {n: {ipam: {config: [{subnet: 10.1.0.0/24}, "
                "{subnet: 10.0.0.0/24, gateway: 10.0.0.9, ip_range: 10.0.0.0/25}]}}}\n");
}

static void test_duplicates_in_one_file_removed(void **state)
{
    (void)state;
    /* merging a file into an empty base applies the uniqueness rules inside it */
    check_merge("{}\n",
                "services:\n  web:\n    volumes:\n"
                "    - {type: volume, source: a, target: /x, volume: {}}\n"
                "    - {type: volume, source: b, target: /x, volume: {}}\n",
                false,
                "services:\n  web:\n    volumes:\n"
                "    - {type: volume, source: b, target: /x, volume: {}}\n");
}

static void test_positions_of_override_kept(void **state)
{
    (void)state;
    struct zp_node *base = yaml("image: a\n");
    compose__merge(base, yaml("\n\nimage: b\n"), true);
    const struct zp_node *img = zp_node_get(base, "image");
    assert_string_equal(img->str, "b");
    assert_int_equal(img->pos.line, 3);
    assert_int_equal(img->pos.col, 8);
    zp_node_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mapping_merge_and_scalar_replace),
        cmocka_unit_test(test_command_entrypoint_healthcheck_test_replaced),
        cmocka_unit_test(test_plain_sequences_append),
        cmocka_unit_test(test_unique_string_sequences),
        cmocka_unit_test(test_ports_keyed),
        cmocka_unit_test(test_volumes_by_target),
        cmocka_unit_test(test_secrets_configs_env_file_devices_keyed),
        cmocka_unit_test(test_environment_labels_sysctls_maps),
        cmocka_unit_test(test_reset_removes),
        cmocka_unit_test(test_override_replaces),
        cmocka_unit_test(test_flags_cleared_on_new_fields),
        cmocka_unit_test(test_null_override_keeps_base),
        cmocka_unit_test(test_logging_driver_change_replaces_options),
        cmocka_unit_test(test_documents),
        cmocka_unit_test(test_defaults_do_not_override),
        cmocka_unit_test(test_ipam_config_by_subnet),
        cmocka_unit_test(test_duplicates_in_one_file_removed),
        cmocka_unit_test(test_positions_of_override_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

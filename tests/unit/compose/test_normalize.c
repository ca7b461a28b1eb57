/* Unit tests for compose/normalize.c: top-level keys, include, networks, volumes, secrets
 * and configs in canonical form, and the diagnostics (with line:col) for each mistake. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "compose/compose-int.h"
#include "compose/normalize_fixture.h"
#include "util/util.h"

static struct compose_env env;
static struct compose_ctx ctx;

static int setup(void **state)
{
    (void)state;
    normfx_setup(&env, &ctx, "/home/u", "/proj");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    compose_env_release(&env);
    return 0;
}

/* Render every diagnostic, one per line. */
static char *render_all(const struct zp_diags *d)
{
    struct zp_buf b = ZP_BUF_INIT;
    for (size_t i = 0; i < d->n; i++) {
        char *r = zp_diag_render(&d->items[i]);
        zp_buf_addf(&b, "%s\n", r);
        free(r);
    }
    return zp_buf_detach(&b, NULL);
}

/* Normalise yaml, expecting success, exactly the diagnostics want_diags (rendered, one per
 * line; "" for none) and a document equal to want_yaml (keys sorted, types included). */
static void expect_ok_diags(const char *yaml, const char *want_yaml, const char *want_diags)
{
    struct zp_node *doc = normfx_parse(yaml);
    struct zp_node *want = normfx_parse(want_yaml);
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = compose__normalize_file(doc, &ctx, &d);
    char *diags = render_all(&d);
    assert_string_equal(diags, want_diags);
    assert_int_equal(rc, 0);
    char *got_s = normfx_dump(doc);
    char *want_s = normfx_dump(want);
    assert_string_equal(got_s, want_s);
    free(got_s);
    free(want_s);
    free(diags);
    zp_diags_release(&d);
    zp_node_free(doc);
    zp_node_free(want);
}

static void expect_ok(const char *yaml, const char *want_yaml)
{
    expect_ok_diags(yaml, want_yaml, "");
}

/* Normalise yaml, expecting ZP_E_INPUT and exactly the diagnostics want (rendered, one per
 * line, in order of discovery). */
static void expect_errors(const char *yaml, const char *want)
{
    struct zp_node *doc = normfx_parse(yaml);
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = compose__normalize_file(doc, &ctx, &d);
    char *diags = render_all(&d);
    assert_string_equal(diags, want);
    assert_int_equal(rc, ZP_E_INPUT);
    assert_true(d.errors > 0);
    free(diags);
    zp_diags_release(&d);
    zp_node_free(doc);
}

/* ---- top level ---- */

/* The YAML reader already insists on a mapping; normalisation checks it too, for trees
 * built otherwise. */
static void test_not_a_mapping(void **state)
{
    (void)state;
    struct zp_pos pos = {zp_intern("compose.yaml"), 1, 1};
    struct zp_node *doc = zp_node_new_seq(&pos);
    zp_node_push(doc, zp_node_new_str("a", &pos));
    struct zp_diags d;
    zp_diags_init(&d);
    assert_int_equal(compose__normalize_file(doc, &ctx, &d), ZP_E_INPUT);
    char *diags = render_all(&d);
    assert_string_equal(diags, "compose.yaml:1:1: a compose file must be a mapping, not a "
                               "sequence\n");
    free(diags);
    zp_diags_release(&d);
    zp_node_free(doc);
}

static void test_empty_and_extensions(void **state)
{
    (void)state;
    expect_ok("", "{}");
    expect_ok("name: demo\nx-common: &c {a: 1}\nx-list: [1, two]\n",
              "name: demo\nx-common: {a: 1}\nx-list: [1, two]\n");
}

static void test_version_dropped(void **state)
{
    (void)state;
    expect_ok_diags("version: '3.8'\nname: demo\n", "name: demo\n",
                    "warning: compose.yaml:1:1: version: the attribute 'version' is obsolete, "
                    "it will be ignored, please remove it\n");
}

static void test_top_level_errors(void **state)
{
    (void)state;
    expect_errors("servces: {}\n", "compose.yaml:1:1: servces: unknown key 'servces' in the "
                                   "compose file, did you mean 'services'?\n");
    expect_errors("name: demo\nfoo: 1\n",
                  "compose.yaml:2:1: foo: unknown key 'foo' in the compose file\n");
    expect_errors("name: [a]\n", "compose.yaml:1:7: name: must be a string, not a sequence\n");
    expect_errors("models:\n  llm: {name: x}\n",
                  "compose.yaml:2:8: models.llm: missing required key 'model' in model\n");
    expect_errors("networks: [a, b]\n",
                  "compose.yaml:1:11: networks: must be a mapping, not a sequence\n");
}

/* Every problem of the file is reported in one pass. */
static void test_all_errors_reported(void **state)
{
    (void)state;
    expect_errors("voluems: {}\n"
                  "networks:\n"
                  "  front:\n"
                  "    drvier: bridge\n"
                  "secrets:\n"
                  "  s: {}\n",
                  "compose.yaml:1:1: voluems: unknown key 'voluems' in the compose file, did you "
                  "mean 'volumes'?\n"
                  "compose.yaml:4:5: networks.front.drvier: unknown key 'drvier' in network, "
                  "did you mean 'driver'?\n"
                  "compose.yaml:6:6: secrets.s: secret 's' has no source: set 'file' or "
                  "'environment', or 'external: true'\n");
}

/* ---- object names and services ---- */

static void test_object_names(void **state)
{
    (void)state;
    expect_errors("services:\n  'my web': {image: x}\n",
                  "compose.yaml:2:3: services[\"my web\"]: invalid service name 'my web': use "
                  "only letters, digits, '.', '_' and '-'\n");
    expect_errors("volumes:\n  data/x:\n",
                  "compose.yaml:2:3: volumes.data/x: invalid volume name 'data/x': use only "
                  "letters, digits, '.', '_' and '-'\n");
    expect_errors("networks:\n  'n:1': {}\nconfigs:\n  'c$': {content: x}\n",
                  "compose.yaml:2:3: networks.n:1: invalid network name 'n:1': use only "
                  "letters, digits, '.', '_' and '-'\n"
                  "compose.yaml:4:3: configs.c$: invalid config name 'c$': use only letters, "
                  "digits, '.', '_' and '-'\n");
    expect_ok("volumes:\n  My_vol.1-a:\n", "volumes: {My_vol.1-a: {}}\n");
}

static void test_services(void **state)
{
    (void)state;
    expect_ok("services:\n  web:\n    image: nginx\n  db:\n    image: postgres\n",
              "services:\n  web: {image: nginx}\n  db: {image: postgres}\n");
    /* build, deploy and healthcheck reach normalize-objects.c through the service */
    expect_ok("services:\n"
              "  web:\n"
              "    build: ./app\n"
              "    healthcheck: {disable: true}\n"
              "    deploy: {replicas: '2'}\n",
              "services:\n"
              "  web:\n"
              "    build: {context: /proj/app, dockerfile: Dockerfile}\n"
              "    healthcheck: {test: [NONE]}\n"
              "    deploy: {replicas: 2}\n");
    expect_errors("services:\n  web:\n    build: {context: ., sbom: [a]}\n",
                  "compose.yaml:3:31: services.web.build.sbom: must be a string, not a sequence\n");
    expect_errors("services:\n  web: nginx\n",
                  "compose.yaml:2:8: services.web: service 'web' must be a mapping, not a "
                  "string\n");
    expect_errors("services: web\n",
                  "compose.yaml:1:11: services: must be a mapping, not a string\n");
}

/* ---- include ---- */

static void test_include(void **state)
{
    (void)state;
    expect_ok("include:\n"
              "  - ../commons/compose.yaml\n"
              "  - path: [a.yaml, /abs/b.yaml]\n"
              "    project_directory: ..\n"
              "    env_file: ../another/.env\n"
              "  - path: ~/c.yaml\n"
              "    env_file: [x.env, y.env]\n",
              "include:\n"
              "  - path: [/commons/compose.yaml]\n"
              "  - path: [/proj/a.yaml, /abs/b.yaml]\n"
              "    project_directory: /\n"
              "    env_file: [/another/.env]\n"
              "  - path: [/home/u/c.yaml]\n"
              "    env_file: [/proj/x.env, /proj/y.env]\n");
    /* a lone string is one include; paths stay absolute even when the model keeps
     * relative paths: the loader needs them */
    ctx.keep_relative_paths = true;
    expect_ok("include: sub/compose.yaml\n", "include: [{path: [/proj/sub/compose.yaml]}]\n");
    ctx.keep_relative_paths = false;
}

static void test_include_errors(void **state)
{
    (void)state;
    expect_errors("include:\n  - project_directory: x\n",
                  "compose.yaml:2:5: include[0]: 'path' is required\n");
    expect_errors(
        "include:\n  - path: a.yaml\n    env_fil: .env\n",
        "compose.yaml:3:5: include[0].env_fil: unknown key 'env_fil' in include, did you mean "
        "'env_file'?\n");
    expect_errors("include:\n  - 12\n",
                  "compose.yaml:2:5: include[0]: must be a path or a mapping, not an integer\n");
    expect_errors("include: {path: a}\n",
                  "compose.yaml:1:10: include: must be a sequence, not a mapping\n");
    expect_errors("include:\n  - path: ['']\n",
                  "compose.yaml:2:12: include[0].path[0]: must not be empty\n");
}

/* ---- networks ---- */

static void test_networks(void **state)
{
    (void)state;
    expect_ok("networks:\n"
              "  default:\n"
              "  front:\n"
              "    driver: overlay\n"
              "    driver_opts: {foo: bar, baz: 1}\n"
              "    attachable: true\n"
              "    enable_ipv4: 'false'\n"
              "    enable_ipv6: true\n"
              "    internal: false\n"
              "    labels: [com.example.a=x, com.example.empty]\n"
              "    name: my-app-net\n"
              "    ipam:\n"
              "      driver: default\n"
              "      config:\n"
              "        - subnet: 172.28.0.0/16\n"
              "          ip_range: 172.28.5.0/24\n"
              "          gateway: 172.28.5.254\n"
              "          aux_addresses: {host1: 172.28.1.5}\n"
              "      options: {foo: bar, baz: '0'}\n"
              "    x-note: 1\n",
              "networks:\n"
              "  default: {}\n"
              "  front:\n"
              "    driver: overlay\n"
              "    driver_opts: {foo: bar, baz: '1'}\n"
              "    attachable: true\n"
              "    enable_ipv4: false\n"
              "    enable_ipv6: true\n"
              "    internal: false\n"
              "    labels: {com.example.a: x, com.example.empty: ''}\n"
              "    name: my-app-net\n"
              "    ipam:\n"
              "      driver: default\n"
              "      config:\n"
              "        - subnet: 172.28.0.0/16\n"
              "          ip_range: 172.28.5.0/24\n"
              "          gateway: 172.28.5.254\n"
              "          aux_addresses: {host1: 172.28.1.5}\n"
              "      options: {foo: bar, baz: '0'}\n"
              "    x-note: 1\n");
}

static void test_external(void **state)
{
    (void)state;
    expect_ok("networks:\n  outside:\n    external: true\n    name: real\n",
              "networks:\n  outside: {external: true, name: real}\n");
    expect_ok_diags("networks:\n  outside:\n    external:\n      name: real\n",
                    "networks:\n  outside: {external: true, name: real}\n",
                    "warning: compose.yaml:4:13: networks.outside.external.name: "
                    "'external.name' is deprecated, set 'name' beside 'external: true' "
                    "instead\n");
    /* as Compose: an external volume takes nothing but its name (labels included) */
    expect_errors("volumes:\n  data:\n    external: true\n    labels: [a=b]\n",
                  "compose.yaml:4:5: volumes.data.labels: volume 'data' is external: "
                  "conflicting parameters 'external' and 'labels'\n");
    /* an external network's other keys have no effect: a warning, as Compose ignores them */
    expect_ok_diags("networks:\n  outside:\n    external: true\n    driver: bridge\n",
                    "networks:\n  outside: {external: true, driver: bridge}\n",
                    "warning: compose.yaml:4:5: networks.outside.driver: network 'outside' is "
                    "external: 'driver' has no effect, ignoring\n");
    expect_errors("volumes:\n  data:\n    external: true\n    driver_opts: {a: b}\n",
                  "compose.yaml:4:5: volumes.data.driver_opts: volume 'data' is external: "
                  "conflicting parameters 'external' and 'driver_opts'\n");
    expect_errors("networks:\n  outside:\n    name: a\n    external: {name: b}\n",
                  "warning: compose.yaml:4:22: networks.outside.external.name: 'external.name' "
                  "is deprecated, set 'name' beside 'external: true' instead\n"
                  "compose.yaml:4:22: networks.outside.external.name: 'external.name' 'b' "
                  "conflicts with name 'a'\n");
    expect_errors("networks:\n  outside:\n    external: {nam: b}\n",
                  "compose.yaml:3:16: networks.outside.external.nam: unknown key 'nam' in "
                  "external, did you mean 'name'?\n");
    expect_errors("networks:\n  outside:\n    external: maybe\n",
                  "compose.yaml:3:15: networks.outside.external: must be a boolean (true or "
                  "false), not a string\n");
    /* YAML 1.1 booleans are read, with a warning, as Compose reads them */
    expect_ok_diags("networks:\n  outside:\n    external: yes\n",
                    "networks:\n  outside: {external: true}\n",
                    "warning: compose.yaml:3:15: networks.outside.external: 'yes' for a boolean "
                    "is YAML 1.1, not 1.2: read as true; write true\n");
}

static void test_network_errors(void **state)
{
    (void)state;
    expect_errors("networks:\n  n:\n    ipam:\n      config:\n        - subnet: 10.0.0.0/8\n"
                  "          gatway: 10.0.0.1\n",
                  "compose.yaml:6:11: networks.n.ipam.config[0].gatway: unknown key 'gatway' in "
                  "ipam config, did you mean 'gateway'?\n");
    expect_errors("networks:\n  n:\n    ipam:\n      config: {subnet: x}\n",
                  "compose.yaml:4:15: networks.n.ipam.config: must be a sequence, not a "
                  "mapping\n");
    expect_errors("networks:\n  n:\n    ipam:\n      options: [a=b]\n",
                  "compose.yaml:4:16: networks.n.ipam.options: must be a mapping, not a "
                  "sequence\n");
    expect_errors("networks:\n  n:\n    attachable: 1\n",
                  "compose.yaml:3:17: networks.n.attachable: must be a boolean (true or false), "
                  "not an integer\n");
    expect_errors("networks:\n  n: bridge\n",
                  "compose.yaml:2:6: networks.n: network 'n' must be a mapping, not a "
                  "string\n");
}

/* ---- volumes ---- */

static void test_volumes(void **state)
{
    (void)state;
    expect_ok("volumes:\n"
              "  db-data:\n"
              "  nfs:\n"
              "    driver: local\n"
              "    driver_opts: {type: nfs, o: 'addr=10.40.0.199,nolock', device: ':/x'}\n"
              "    labels: {com.example.description: Database volume, n: 1}\n"
              "    name: my-app-data\n",
              "volumes:\n"
              "  db-data: {}\n"
              "  nfs:\n"
              "    driver: local\n"
              "    driver_opts: {type: nfs, o: 'addr=10.40.0.199,nolock', device: ':/x'}\n"
              "    labels: {com.example.description: Database volume, n: '1'}\n"
              "    name: my-app-data\n");
    expect_errors("volumes:\n  v:\n    drivers: x\n",
                  "compose.yaml:3:5: volumes.v.drivers: unknown key 'drivers' in volume, did "
                  "you mean 'driver'?\n");
}

/* ---- secrets and configs ---- */

static void test_secrets_configs(void **state)
{
    (void)state;
    expect_ok_diags("secrets:\n"
                    "  cert: {file: ./server.cert}\n"
                    "  token: {environment: OAUTH_TOKEN, labels: [a=b]}\n"
                    "  ext: {external: true, name: '${X}'}\n"
                    "configs:\n"
                    "  http: {file: /etc/httpd.conf, template_driver: golang}\n"
                    "  app:\n"
                    "    content: |\n"
                    "      debug=1\n"
                    "  env: {environment: CONF}\n"
                    "  old: {external: {name: legacy}}\n",
                    "secrets:\n"
                    "  cert: {file: /proj/server.cert}\n"
                    "  token: {environment: OAUTH_TOKEN, labels: {a: b}}\n"
                    "  ext: {external: true, name: '${X}'}\n"
                    "configs:\n"
                    "  http: {file: /etc/httpd.conf, template_driver: golang}\n"
                    "  app: {content: \"debug=1\\n\"}\n"
                    "  env: {environment: CONF}\n"
                    "  old: {external: true, name: legacy}\n",
                    "warning: compose.yaml:11:26: configs.old.external.name: 'external.name' is "
                    "deprecated, set 'name' beside 'external: true' instead\n");
    ctx.keep_relative_paths = true;
    expect_ok("secrets:\n  cert: {file: ./server.cert}\n",
              "secrets:\n  cert: {file: ./server.cert}\n");
    ctx.keep_relative_paths = false;
}

static void test_secrets_configs_errors(void **state)
{
    (void)state;
    expect_errors("secrets:\n  s:\n    name: x\n",
                  "compose.yaml:3:5: secrets.s: secret 's' has no source: set 'file' or "
                  "'environment', or 'external: true'\n");
    expect_errors("configs:\n  c:\n",
                  "compose.yaml:2:3: configs.c: config 'c' has no source: set 'file', "
                  "'environment' or 'content', or 'external: true'\n");
    expect_errors("secrets:\n  s:\n    file: a\n    environment: B\n",
                  "compose.yaml:4:5: secrets.s.environment: secret 's' sets both 'file' and "
                  "'environment': use only one\n");
    expect_errors("secrets:\n  s:\n    content: x\n",
                  "compose.yaml:3:5: secrets.s.content: unknown key 'content' in secret\n");
    expect_errors("configs:\n  c:\n    file: a\n    driver: x\n",
                  "compose.yaml:4:5: configs.c.driver: unknown key 'driver' in config\n");
    expect_errors("configs:\n  c:\n    external: true\n    content: x\n",
                  "compose.yaml:4:5: configs.c.content: config 'c' is external: conflicting "
                  "parameters 'external' and 'content'\n");
    expect_errors("secrets:\n  s:\n    file: [a]\n",
                  "compose.yaml:3:11: secrets.s.file: must be a string, not a sequence\n");
}

/* !reset and !override survive on the values they tag. */
static void test_flags(void **state)
{
    (void)state;
    expect_ok("networks: !reset {}\nvolumes:\n  v: !override\n    driver: local\n",
              "networks: !reset {}\nvolumes:\n  v: !override {driver: local}\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_a_mapping),
        cmocka_unit_test(test_empty_and_extensions),
        cmocka_unit_test(test_version_dropped),
        cmocka_unit_test(test_top_level_errors),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_object_names),
        cmocka_unit_test(test_services),
        cmocka_unit_test(test_include),
        cmocka_unit_test(test_include_errors),
        cmocka_unit_test(test_networks),
        cmocka_unit_test(test_external),
        cmocka_unit_test(test_network_errors),
        cmocka_unit_test(test_volumes),
        cmocka_unit_test(test_secrets_configs),
        cmocka_unit_test(test_secrets_configs_errors),
        cmocka_unit_test(test_flags),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

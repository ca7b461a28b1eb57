/* Unit tests for compose/normalize-objects.c: build, deploy and healthcheck in canonical
 * form, and the diagnostics (with line:col) for each kind of mistake. */
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

typedef int (*normalize_fn)(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                            struct zp_diags *d);

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

/* Normalise doc[key] of yaml with fn, expecting success, no diagnostic, and a tree equal
 * to want_yaml (also YAML, compared with keys sorted, types included). */
static void expect_ok(normalize_fn fn, const char *key, const char *yaml, const char *want_yaml)
{
    struct zp_node *doc = normfx_parse(yaml);
    struct zp_node *want = normfx_parse(want_yaml);
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = fn(zp_node_get(doc, key), "services.web.x", &ctx, &d);
    for (size_t i = 0; i < d.n; i++) {
        char *r = zp_diag_render(&d.items[i]);
        print_error("unexpected: %s\n", r);
        free(r);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(d.n, 0);
    char *got_s = normfx_dump(zp_node_get(doc, key));
    char *want_s = normfx_dump(zp_node_get(want, key));
    assert_string_equal(got_s, want_s);
    free(got_s);
    free(want_s);
    zp_diags_release(&d);
    zp_node_free(doc);
    zp_node_free(want);
}

/* Normalise doc[key] with fn at path "services.web.<key>", expecting ZP_E_INPUT and, among
 * the diagnostics, one rendered exactly as want. */
static void expect_error(normalize_fn fn, const char *key, const char *yaml, const char *want)
{
    struct zp_node *doc = normfx_parse(yaml);
    struct zp_diags d;
    zp_diags_init(&d);
    char *path = zp_path_key("services.web", key);
    int rc = fn(zp_node_get(doc, key), path, &ctx, &d);
    if (rc != ZP_E_INPUT)
        print_error("accepted: %s", yaml);
    assert_int_equal(rc, ZP_E_INPUT);
    assert_true(d.errors > 0);
    bool found = false;
    for (size_t i = 0; i < d.n; i++) {
        char *r = zp_diag_render(&d.items[i]);
        if (strcmp(r, want) == 0)
            found = true;
        else
            print_message("other diagnostic: %s\n", r);
        free(r);
    }
    if (!found)
        print_error("missing: %s\n", want);
    assert_true(found);
    free(path);
    zp_diags_release(&d);
    zp_node_free(doc);
}

/* ---- build ---- */

static void test_build_string(void **state)
{
    (void)state;
    expect_ok(compose__normalize_build, "build", "build: ./webapp\n",
              "build: {context: /proj/webapp, dockerfile: Dockerfile}\n");
    expect_ok(compose__normalize_build, "build", "build: ~/custom\n",
              "build: {context: /home/u/custom, dockerfile: Dockerfile}\n");
    expect_ok(compose__normalize_build, "build", "build: /abs/dir/../ctx\n",
              "build: {context: /abs/ctx, dockerfile: Dockerfile}\n");
    expect_ok(compose__normalize_build, "build",
              "build: https://github.com/me/example.git#main:sub\n",
              "build: {context: 'https://github.com/me/example.git#main:sub', dockerfile: "
              "Dockerfile}\n");
    expect_ok(compose__normalize_build, "build", "build: git@github.com:me/x.git\n",
              "build: {context: 'git@github.com:me/x.git', dockerfile: Dockerfile}\n");
}

static void test_build_defaults(void **state)
{
    (void)state;
    expect_ok(compose__normalize_build, "build", "build:\n  target: prod\n",
              "build: {context: /proj, dockerfile: Dockerfile, target: prod}\n");
    expect_ok(compose__normalize_build, "build",
              "build:\n  context: backend\n  dockerfile: ../backend.Dockerfile\n",
              "build: {context: /proj/backend, dockerfile: ../backend.Dockerfile}\n");
    /* dockerfile_inline: no default dockerfile */
    expect_ok(compose__normalize_build, "build",
              "build:\n  dockerfile_inline: |\n    FROM alpine\n",
              "build: {context: /proj, dockerfile_inline: \"FROM alpine\\n\"}\n");
}

static void test_build_full(void **state)
{
    (void)state;
    expect_ok(compose__normalize_build, "build",
              "build:\n"
              "  context: .\n"
              "  args:\n"
              "    - GIT_COMMIT=cdc3b19\n"
              "    - EMPTY=\n"
              "    - FROM_ENV\n"
              "  labels: [com.example.a=x, com.example.empty]\n"
              "  cache_from: [alpine:latest, type=local,src=path/to/cache]\n"
              "  cache_to: [user/app:cache]\n"
              "  network: host\n"
              "  shm_size: 2gb\n"
              "  extra_hosts: ['somehost:162.242.195.82', 'v6:::1', 'b=[::2]']\n"
              "  tags: ['myimage:mytag']\n"
              "  platforms: [linux/amd64, linux/arm64]\n"
              "  secrets:\n"
              "    - server-certificate\n"
              "    - source: key\n"
              "      target: cert\n"
              "      uid: 103\n"
              "      gid: '103'\n"
              "      mode: 0440\n"
              "  ssh: [default, 'myproject=~/.ssh/myproject.pem']\n"
              "  additional_contexts:\n"
              "    - resources=./res\n"
              "    - app=docker-image://my-app:latest\n"
              "    - base=service:base\n"
              "    - src=https://github.com/me/project.git\n"
              "  privileged: true\n"
              "  no_cache: 'false'\n"
              "  pull: true\n"
              "  isolation: default\n"
              "  ulimits:\n"
              "    nproc: 65535\n"
              "    nofile: {soft: 20000, hard: '40000'}\n"
              "  x-note: kept\n",
              "build:\n"
              "  context: /proj\n"
              "  dockerfile: Dockerfile\n"
              "  args: {GIT_COMMIT: cdc3b19, EMPTY: ''}\n"
              "  labels: {com.example.a: x, com.example.empty: ''}\n"
              "  cache_from: [alpine:latest, type=local,src=path/to/cache]\n"
              "  cache_to: [user/app:cache]\n"
              "  network: host\n"
              "  shm_size: 2147483648\n"
              "  extra_hosts: [somehost=162.242.195.82, v6=::1, b=::2]\n"
              "  tags: ['myimage:mytag']\n"
              "  platforms: [linux/amd64, linux/arm64]\n"
              "  secrets:\n"
              "    - source: server-certificate\n"
              "    - {source: key, target: cert, uid: '103', gid: '103', mode: 288}\n"
              "  ssh: [default, 'myproject=~/.ssh/myproject.pem']\n"
              "  additional_contexts:\n"
              "    resources: /proj/res\n"
              "    app: docker-image://my-app:latest\n"
              "    base: service:base\n"
              "    src: https://github.com/me/project.git\n"
              "  privileged: true\n"
              "  no_cache: false\n"
              "  pull: true\n"
              "  isolation: default\n"
              "  ulimits:\n"
              "    nproc: 65535\n"
              "    nofile: {soft: 20000, hard: 40000}\n"
              "  x-note: kept\n");
}

static void test_build_map_forms(void **state)
{
    (void)state;
    expect_ok(compose__normalize_build, "build",
              "build:\n"
              "  args: {A: 1, B: true, C: null}\n"
              "  ssh: {default: null, key: /k.pem}\n"
              "  extra_hosts: {a: 10.0.0.1, b: ['10.0.0.2', '::3']}\n"
              "  additional_contexts: {r: ../res}\n"
              "  secrets: [{source: s, mode: '0400'}, {source: t, mode: 420}]\n",
              "build:\n"
              "  context: /proj\n"
              "  dockerfile: Dockerfile\n"
              "  args: {A: '1', B: 'true'}\n"
              "  ssh: [default, key=/k.pem]\n"
              "  extra_hosts: [a=10.0.0.1, b=10.0.0.2, 'b=::3']\n"
              "  additional_contexts: {r: /res}\n"
              "  secrets: [{source: s, mode: 256}, {source: t, mode: 420}]\n");
}

static void test_build_keep_relative(void **state)
{
    (void)state;
    ctx.keep_relative_paths = true;
    expect_ok(compose__normalize_build, "build", "build: ./app\n",
              "build: {context: ./app, dockerfile: Dockerfile}\n");
    expect_ok(compose__normalize_build, "build", "build: {}\n",
              "build: {context: ., dockerfile: Dockerfile}\n");
    ctx.keep_relative_paths = false;
}

static void test_build_flags(void **state)
{
    (void)state;
    expect_ok(compose__normalize_build, "build", "build: !override ./app\n",
              "build: !override {context: /proj/app, dockerfile: Dockerfile}\n");
    expect_ok(compose__normalize_build, "build", "build:\n  args: !reset []\n",
              "build: {context: /proj, dockerfile: Dockerfile, args: !reset []}\n");
    expect_ok(compose__normalize_build, "build", "build: !reset null\n", "build: !reset null\n");
}

static void test_build_errors(void **state)
{
    (void)state;
    expect_error(compose__normalize_build, "build",
                 "build:\n  dockerfile: Dockerfile\n  dockerfile_inline: FROM x\n",
                 "compose.yaml:3:3: services.web.build.dockerfile_inline: 'dockerfile' and "
                 "'dockerfile_inline' cannot both be set");
    expect_error(compose__normalize_build, "build", "build:\n  dockerfle: x\n",
                 "compose.yaml:2:3: services.web.build.dockerfle: unknown key 'dockerfle' in "
                 "build, did you mean 'dockerfile'?");
    expect_error(compose__normalize_build, "build", "build:\n  context: .\n  provenance: [x]\n",
                 "compose.yaml:3:15: services.web.build.provenance: must be a string, not a "
                 "sequence");
    expect_error(compose__normalize_build, "build", "build:\n  entitlements: {a: b}\n",
                 "compose.yaml:2:17: services.web.build.entitlements: must be a sequence, not a "
                 "mapping");
    expect_error(compose__normalize_build, "build", "build: 12\n",
                 "compose.yaml:1:8: services.web.build: must be a context path or a mapping, "
                 "not an integer");
    expect_error(compose__normalize_build, "build", "build:\n  shm_size: lots\n",
                 "compose.yaml:2:13: services.web.build.shm_size: invalid size 'lots' (use e.g. "
                 "512m, 2g, 1.5gb)");
    expect_error(compose__normalize_build, "build", "build:\n  privileged: maybe\n",
                 "compose.yaml:2:15: services.web.build.privileged: must be a boolean (true or "
                 "false), not a string");
    expect_error(compose__normalize_build, "build", "build:\n  extra_hosts: [nohost]\n",
                 "compose.yaml:2:17: services.web.build.extra_hosts[0]: invalid extra host "
                 "'nohost' (use 'HOST=IP')");
    expect_error(compose__normalize_build, "build", "build:\n  extra_hosts: ['=1.2.3.4']\n",
                 "compose.yaml:2:17: services.web.build.extra_hosts[0]: invalid extra host "
                 "'=1.2.3.4' (use 'HOST=IP')");
    expect_error(compose__normalize_build, "build", "build:\n  secrets: [{target: t}]\n",
                 "compose.yaml:2:13: services.web.build.secrets[0]: 'source' is required");
    expect_error(compose__normalize_build, "build",
                 "build:\n  secrets: [{source: s, mode: '0999'}]\n",
                 "compose.yaml:2:31: services.web.build.secrets[0].mode: invalid file mode "
                 "'0999' (use an octal number such as 0440)");
    expect_error(compose__normalize_build, "build", "build:\n  secrets: [{source: s, mod: 1}]\n",
                 "compose.yaml:2:25: services.web.build.secrets[0].mod: unknown key 'mod' in "
                 "secret reference, did you mean 'mode'?");
    expect_error(compose__normalize_build, "build",
                 "build:\n  ulimits:\n    nofile: {soft: 40000, hard: 20000}\n",
                 "compose.yaml:3:20: services.web.build.ulimits.nofile: soft limit 40000 is "
                 "greater than hard limit 20000");
    expect_error(compose__normalize_build, "build", "build:\n  ulimits:\n    nofile: {soft: 1}\n",
                 "compose.yaml:3:13: services.web.build.ulimits.nofile: both 'soft' and 'hard' "
                 "are required");
    expect_error(compose__normalize_build, "build", "build:\n  ulimits:\n    NoFile: 1\n",
                 "compose.yaml:3:5: services.web.build.ulimits.NoFile: invalid ulimit name "
                 "'NoFile' (lowercase letters only, e.g. 'nofile')");
    expect_error(compose__normalize_build, "build", "build:\n  tags: latest\n",
                 "compose.yaml:2:9: services.web.build.tags: must be a sequence, not a string");
    expect_error(compose__normalize_build, "build", "build:\n  additional_contexts: {a: ''}\n",
                 "compose.yaml:2:28: services.web.build.additional_contexts.a: must not be "
                 "empty");
}

/* Every problem of a definition is reported, not only the first. */
static void test_build_all_errors(void **state)
{
    (void)state;
    struct zp_node *doc = normfx_parse("build:\n  target: [a]\n  pull: maybe\n  contxt: .\n");
    struct zp_diags d;
    zp_diags_init(&d);
    assert_int_equal(compose__normalize_build(zp_node_get(doc, "build"), "b", &ctx, &d),
                     ZP_E_INPUT);
    assert_int_equal(d.errors, 3);
    zp_diags_release(&d);
    zp_node_free(doc);
}

/* ---- deploy ---- */

static void test_deploy_full(void **state)
{
    (void)state;
    expect_ok(compose__normalize_deploy, "deploy",
              "deploy:\n"
              "  mode: replicated\n"
              "  replicas: '6'\n"
              "  endpoint_mode: vip\n"
              "  labels: [com.example.description=web]\n"
              "  resources:\n"
              "    limits: {cpus: '0.50', memory: 50M, pids: 1}\n"
              "    reservations:\n"
              "      cpus: 0.25\n"
              "      memory: 20m\n"
              "      devices:\n"
              "        - capabilities: [gpu]\n"
              "          driver: nvidia\n"
              "          count: all\n"
              "          options: {virtualization: false}\n"
              "        - capabilities: [tpu]\n"
              "          count: '2'\n"
              "        - capabilities: [gpu]\n"
              "          device_ids: [GPU-1, '7']\n"
              "      generic_resources:\n"
              "        - discrete_resource_spec: {kind: gpu, value: 2}\n"
              "  restart_policy:\n"
              "    condition: on-failure\n"
              "    delay: 5s\n"
              "    max_attempts: 3\n"
              "    window: 120s\n"
              "  update_config:\n"
              "    parallelism: 2\n"
              "    delay: 10s\n"
              "    failure_action: rollback\n"
              "    monitor: 500ms\n"
              "    max_failure_ratio: '0.3'\n"
              "    order: stop-first\n"
              "  rollback_config: {parallelism: 0, failure_action: pause, order: start-first}\n"
              "  placement:\n"
              "    constraints: [disktype=ssd]\n"
              "    preferences: [{spread: node.labels.zone}]\n"
              "    max_replicas_per_node: 1\n",
              "deploy:\n"
              "  mode: replicated\n"
              "  replicas: 6\n"
              "  endpoint_mode: vip\n"
              "  labels: {com.example.description: web}\n"
              "  resources:\n"
              "    limits: {cpus: 0.5, memory: 52428800, pids: 1}\n"
              "    reservations:\n"
              "      cpus: 0.25\n"
              "      memory: 20971520\n"
              "      devices:\n"
              "        - {capabilities: [gpu], driver: nvidia, count: -1,\n"
              "           options: {virtualization: 'false'}}\n"
              "        - {capabilities: [tpu], count: 2}\n"
              "        - {capabilities: [gpu], device_ids: [GPU-1, '7']}\n"
              "      generic_resources:\n"
              "        - discrete_resource_spec: {kind: gpu, value: 2}\n"
              "  restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3,\n"
              "                   window: 2m0s}\n"
              "  update_config: {parallelism: 2, delay: 10s, failure_action: rollback,\n"
              "                  monitor: 500ms, max_failure_ratio: 0.3, order: stop-first}\n"
              "  rollback_config: {parallelism: 0, failure_action: pause, order: start-first}\n"
              "  placement:\n"
              "    constraints: [disktype=ssd]\n"
              "    preferences: [{spread: node.labels.zone}]\n"
              "    max_replicas_per_node: 1\n");
}

static void test_deploy_modes(void **state)
{
    (void)state;
    expect_ok(compose__normalize_deploy, "deploy", "deploy: {mode: global-job}\n",
              "deploy: {mode: global-job}\n");
    expect_ok(compose__normalize_deploy, "deploy", "deploy: {mode: replicated-job, replicas: 0}\n",
              "deploy: {mode: replicated-job, replicas: 0}\n");
    expect_ok(compose__normalize_deploy, "deploy", "deploy:\n", "deploy: {}\n");
    expect_ok(compose__normalize_deploy, "deploy", "deploy: {resources: {limits: {cpus: 2}}}\n",
              "deploy: {resources: {limits: {cpus: 2.0}}}\n");
}

static void test_deploy_errors(void **state)
{
    (void)state;
    expect_error(compose__normalize_deploy, "deploy", "deploy:\n  mode: everywhere\n",
                 "compose.yaml:2:9: services.web.deploy.mode: must be one of 'replicated', "
                 "'global', 'replicated-job', 'global-job', not 'everywhere'");
    expect_error(compose__normalize_deploy, "deploy", "deploy:\n  replicas: -1\n",
                 "compose.yaml:2:13: services.web.deploy.replicas: -1 is out of range [0, "
                 "9223372036854775807]");
    expect_error(compose__normalize_deploy, "deploy", "deploy:\n  replica: 2\n",
                 "compose.yaml:2:3: services.web.deploy.replica: unknown key 'replica' in "
                 "deploy, did you mean 'replicas'?");
    expect_error(compose__normalize_deploy, "deploy", "deploy:\n  endpoint_mode: rr\n",
                 "compose.yaml:2:18: services.web.deploy.endpoint_mode: must be one of 'vip', "
                 "'dnsrr', not 'rr'");
    expect_error(compose__normalize_deploy, "deploy",
                 "deploy:\n  resources:\n    limits:\n      cpus: half\n",
                 "compose.yaml:4:13: services.web.deploy.resources.limits.cpus: must be a "
                 "number, not 'half'");
    expect_error(compose__normalize_deploy, "deploy",
                 "deploy:\n  resources:\n    limits:\n      cpu: 1\n",
                 "compose.yaml:4:7: services.web.deploy.resources.limits.cpu: unknown key 'cpu' "
                 "in limits, did you mean 'cpus'?");
    expect_error(compose__normalize_deploy, "deploy",
                 "deploy:\n  resources:\n    reservations:\n      memory: lots\n",
                 "compose.yaml:4:15: services.web.deploy.resources.reservations.memory: invalid "
                 "size 'lots' (use e.g. 512m, 2g, 1.5gb)");
    expect_error(compose__normalize_deploy, "deploy",
                 "deploy:\n  resources:\n    reservations:\n      devices:\n        - driver: "
                 "nvidia\n",
                 "compose.yaml:5:11: services.web.deploy.resources.reservations.devices[0]: "
                 "'capabilities' is required");
    expect_error(compose__normalize_deploy, "deploy",
                 "deploy:\n  resources:\n    reservations:\n      devices:\n        - "
                 "{capabilities: [gpu], count: 1, device_ids: ['0']}\n",
                 "compose.yaml:5:43: "
                 "services.web.deploy.resources.reservations.devices[0].device_ids: 'count' and "
                 "'device_ids' cannot both be set");
    expect_error(compose__normalize_deploy, "deploy",
                 "deploy:\n  resources:\n    reservations:\n      devices:\n        - "
                 "{capabilities: [gpu], count: some}\n",
                 "compose.yaml:5:40: "
                 "services.web.deploy.resources.reservations.devices[0].count: must be a number "
                 "of devices or 'all', not 'some'");
    expect_error(compose__normalize_deploy, "deploy",
                 "deploy:\n  restart_policy:\n    condition: sometimes\n",
                 "compose.yaml:3:16: services.web.deploy.restart_policy.condition: must be one "
                 "of 'none', 'on-failure', 'any', not 'sometimes'");
    expect_error(compose__normalize_deploy, "deploy", "deploy:\n  restart_policy:\n    delay: 5x\n",
                 "compose.yaml:3:12: services.web.deploy.restart_policy.delay: invalid "
                 "duration '5x' (use units: 1m30s, 500ms, 2h)");
    expect_error(compose__normalize_deploy, "deploy",
                 "deploy:\n  rollback_config:\n    failure_action: rollback\n",
                 "compose.yaml:3:21: services.web.deploy.rollback_config.failure_action: must be "
                 "one of 'continue', 'pause', not 'rollback'");
    expect_error(compose__normalize_deploy, "deploy",
                 "deploy:\n  update_config:\n    max_failure_ratio: -1\n",
                 "compose.yaml:3:24: services.web.deploy.update_config.max_failure_ratio: -1 "
                 "is out of range (at least 0)");
    expect_error(compose__normalize_deploy, "deploy",
                 "deploy:\n  update_config:\n    order: random\n",
                 "compose.yaml:3:12: services.web.deploy.update_config.order: must be one of "
                 "'start-first', 'stop-first', not 'random'");
    expect_error(compose__normalize_deploy, "deploy",
                 "deploy:\n  placement:\n    preferences: [{spraed: x}]\n",
                 "compose.yaml:3:20: services.web.deploy.placement.preferences[0].spraed: "
                 "unknown key 'spraed' in placement preference, did you mean 'spread'?");
    expect_error(compose__normalize_deploy, "deploy", "deploy: [replicated]\n",
                 "compose.yaml:1:9: services.web.deploy: must be a mapping, not a sequence");
}

/* ---- healthcheck ---- */

static void test_healthcheck_forms(void **state)
{
    (void)state;
    expect_ok(compose__normalize_healthcheck, "healthcheck",
              "healthcheck:\n"
              "  test: curl -f http://localhost || exit 1\n"
              "  interval: 90s\n"
              "  timeout: 10\n"
              "  retries: '3'\n"
              "  start_period: 1m30s\n"
              "  start_interval: 0.5s\n",
              "healthcheck:\n"
              "  test: [CMD-SHELL, 'curl -f http://localhost || exit 1']\n"
              "  interval: 1m30s\n"
              "  timeout: 10s\n"
              "  retries: 3\n"
              "  start_period: 1m30s\n"
              "  start_interval: 500ms\n");
    expect_ok(compose__normalize_healthcheck, "healthcheck",
              "healthcheck:\n  test: [CMD, curl, -f, 'http://localhost']\n  retries: 0\n",
              "healthcheck:\n  test: [CMD, curl, -f, 'http://localhost']\n  retries: 0\n");
    expect_ok(compose__normalize_healthcheck, "healthcheck", "healthcheck: {test: [NONE]}\n",
              "healthcheck: {test: [NONE]}\n");
}

static void test_healthcheck_disable(void **state)
{
    (void)state;
    expect_ok(compose__normalize_healthcheck, "healthcheck", "healthcheck:\n  disable: true\n",
              "healthcheck: {test: [NONE]}\n");
    expect_ok(compose__normalize_healthcheck, "healthcheck",
              "healthcheck:\n  disable: true\n  test: [CMD, x]\n  interval: 5s\n  x-a: 1\n",
              "healthcheck: {test: [NONE]}\n");
    expect_ok(compose__normalize_healthcheck, "healthcheck",
              "healthcheck:\n  disable: 'false'\n  test: [CMD, x]\n",
              "healthcheck: {test: [CMD, x]}\n");
    expect_ok(compose__normalize_healthcheck, "healthcheck",
              "healthcheck: !override\n  disable: true\n",
              "healthcheck: !override {test: [NONE]}\n");
}

static void test_healthcheck_errors(void **state)
{
    (void)state;
    expect_error(compose__normalize_healthcheck, "healthcheck",
                 "healthcheck:\n  test: [curl, -f, x]\n",
                 "compose.yaml:2:10: services.web.healthcheck.test[0]: must be 'NONE', 'CMD' "
                 "or 'CMD-SHELL', not 'curl'");
    expect_error(compose__normalize_healthcheck, "healthcheck", "healthcheck:\n  test: []\n",
                 "compose.yaml:2:9: services.web.healthcheck.test: must not be empty: start it "
                 "with 'NONE', 'CMD' or 'CMD-SHELL'");
    expect_error(compose__normalize_healthcheck, "healthcheck", "healthcheck:\n  test: {a: 1}\n",
                 "compose.yaml:2:9: services.web.healthcheck.test: must be a string or a list "
                 "of strings, not a mapping");
    expect_error(compose__normalize_healthcheck, "healthcheck", "healthcheck:\n  retries: -1\n",
                 "compose.yaml:2:12: services.web.healthcheck.retries: -1 is out of range [0, "
                 "9223372036854775807]");
    expect_error(compose__normalize_healthcheck, "healthcheck", "healthcheck:\n  interval: soon\n",
                 "compose.yaml:2:13: services.web.healthcheck.interval: invalid duration 'soon' "
                 "(use units: 1m30s, 500ms, 2h)");
    expect_error(compose__normalize_healthcheck, "healthcheck", "healthcheck:\n  intervall: 1s\n",
                 "compose.yaml:2:3: services.web.healthcheck.intervall: unknown key 'intervall' "
                 "in healthcheck, did you mean 'interval'?");
    expect_error(compose__normalize_healthcheck, "healthcheck", "healthcheck:\n  disable: 1\n",
                 "compose.yaml:2:12: services.web.healthcheck.disable: must be a boolean (true "
                 "or false), not an integer");
    expect_error(compose__normalize_healthcheck, "healthcheck", "healthcheck: curl x\n",
                 "compose.yaml:1:14: services.web.healthcheck: must be a mapping, not a string");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_string),        cmocka_unit_test(test_build_defaults),
        cmocka_unit_test(test_build_full),          cmocka_unit_test(test_build_map_forms),
        cmocka_unit_test(test_build_keep_relative), cmocka_unit_test(test_build_flags),
        cmocka_unit_test(test_build_errors),        cmocka_unit_test(test_build_all_errors),
        cmocka_unit_test(test_deploy_full),         cmocka_unit_test(test_deploy_modes),
        cmocka_unit_test(test_deploy_errors),       cmocka_unit_test(test_healthcheck_forms),
        cmocka_unit_test(test_healthcheck_disable), cmocka_unit_test(test_healthcheck_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

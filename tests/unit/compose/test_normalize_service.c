/* Unit tests for compose/normalize-service.c: every short syntax rewritten to the canonical
 * long one, types and ranges, and every class of error with file:line:col and path. */
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
    normfx_setup(&env, &ctx, "/home/me", "/project");
    compose_env_set(&env, "FROM_ENV", "value from env");
    compose_env_set(&env, "EMPTY", "");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    compose_env_release(&env);
    return 0;
}

struct result {
    struct zp_node *svc;
    char *json;  /* compact JSON of the normalised service */
    char *diags; /* rendered diagnostics, one per line */
    int rc;
};

/* Parse yaml (the service's body) and normalise it as services.web. */
static void run(const char *yaml, struct result *r)
{
    struct zp_diags d;
    struct zp_buf b = ZP_BUF_INIT;
    zp_diags_init(&d);
    r->svc = NULL;
    assert_int_equal(compose__yaml_parse("compose.yaml", yaml, strlen(yaml), NULL, &r->svc, &d), 0);
    assert_int_equal(d.n, 0);
    r->rc = compose__normalize_service(r->svc, "services.web", &ctx, &d);
    assert_int_equal(compose_emit_json(r->svc, false, &b), 0);
    r->json = zp_buf_detach(&b, NULL);
    for (size_t i = 0; i < d.n; i++) {
        char *s = zp_diag_render(&d.items[i]);
        zp_buf_addf(&b, "%s%s", i ? "\n" : "", s);
        free(s);
    }
    r->diags = zp_buf_detach(&b, NULL);
    assert_int_equal(r->rc != 0, d.errors > 0);
    zp_diags_release(&d);
}

static void release(struct result *r)
{
    zp_node_free(r->svc);
    free(r->json);
    free(r->diags);
}

static void expect_ok(const char *yaml, const char *json)
{
    struct result r;
    run(yaml, &r);
    assert_string_equal(r.diags, "");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.json, json);
    release(&r);
}

static void expect_err(const char *yaml, const char *diags)
{
    struct result r;
    run(yaml, &r);
    assert_string_equal(r.diags, diags);
    assert_int_equal(r.rc, ZP_E_INPUT);
    release(&r);
}

/* ---- the service itself ---- */

static void test_null_service_is_empty_map(void **state)
{
    (void)state;
    struct zp_node *svc = zp_node_new_null(NULL);
    struct zp_diags d;
    zp_diags_init(&d);
    assert_int_equal(compose__normalize_service(svc, "services.web", &ctx, &d), 0);
    assert_true(zp_node_is_map(svc));
    assert_int_equal(svc->n, 0);
    assert_int_equal(d.n, 0);
    zp_node_free(svc);
    zp_diags_release(&d);
}

static void test_service_not_a_mapping(void **state)
{
    (void)state;
    struct zp_pos pos = {ctx.file, 3, 5};
    struct zp_node *svc = zp_node_new_seq(&pos);
    struct zp_diags d;
    zp_diags_init(&d);
    assert_int_equal(compose__normalize_service(svc, "services.web", &ctx, &d), ZP_E_INPUT);
    assert_int_equal(d.n, 1);
    char *s = zp_diag_render(&d.items[0]);
    assert_string_equal(
        s, "compose.yaml:3:5: services.web: a service must be a mapping, not a sequence");
    free(s);
    zp_node_free(svc);
    zp_diags_release(&d);
}

static void test_unknown_key_suggestion(void **state)
{
    (void)state;
    expect_err("imagee: nginx\nportz: []\ntotally_unknown: 1\nx-custom: {a: 1}\n",
               "compose.yaml:1:1: services.web.imagee: unknown key 'imagee' in service, did you "
               "mean 'image'?\n"
               "compose.yaml:2:1: services.web.portz: unknown key 'portz' in service, did you "
               "mean 'ports'?\n"
               "compose.yaml:3:1: services.web.totally_unknown: unknown key 'totally_unknown' in "
               "service");
}

/* Fields once refused with "not supported yet": read, checked and printed as Compose. */
static void test_new_fields(void **state)
{
    (void)state;
    expect_ok("develop:\n  watch:\n    - {path: ./src, action: sync, target: /app, ignore: x}\n"
              "    - {path: pkg.json, action: rebuild, initial_sync: true}\n",
              "{\"develop\":{\"watch\":[{\"action\":\"sync\",\"ignore\":[\"x\"],\"path\":\"/"
              "project/src\","
              "\"target\":\"/app\"},{\"action\":\"rebuild\",\"initial_sync\":true,"
              "\"path\":\"/project/pkg.json\"}]}}");
    expect_ok("gpus: all\n", "{\"gpus\":[{\"count\":-1}]}");
    expect_ok("gpus:\n  - {driver: nvidia, count: all, capabilities: [gpu]}\n",
              "{\"gpus\":[{\"capabilities\":[\"gpu\"],\"count\":-1,\"driver\":\"nvidia\"}]}");
    expect_ok("provider: {type: model, options: {model: ai/x, flags: [a, 1]}}\n",
              "{\"provider\":{\"options\":{\"flags\":[\"a\",\"1\"],\"model\":\"ai/"
              "x\"},\"type\":\"model\"}}");
    expect_ok("models: [m1]\n", "{\"models\":{\"m1\":null}}");
    expect_ok("models: {m1: {endpoint_var: URL}}\n",
              "{\"models\":{\"m1\":{\"endpoint_var\":\"URL\"}}}");
    expect_ok(
        "credential_spec: {file: x.json}\nisolation: process\nuse_api_socket: true\n"
        "attach: false\nlabel_file: ./l\n",
        "{\"attach\":false,\"credential_spec\":{\"file\":\"x.json\"},\"isolation\":\"process\","
        "\"label_file\":[\"/project/l\"],\"use_api_socket\":true}");
    expect_ok("post_start:\n  - command: echo hi\n    user: root\n    environment: [A=1]\n"
              "pre_stop:\n  - {command: [\"sh\", \"-c\", \"exit 0\"], privileged: true}\n"
              "pre_start:\n  - {image: busybox, per_replica: true}\n",
              "{\"post_start\":[{\"command\":[\"echo\",\"hi\"],\"environment\":{\"A\":\"1\"},"
              "\"user\":\"root\"}],\"pre_start\":[{\"image\":\"busybox\",\"per_replica\":true}],"
              "\"pre_stop\":[{\"command\":[\"sh\",\"-c\",\"exit 0\"],\"privileged\":true}]}");
    expect_err("develop:\n  watch:\n    - {path: ., action: copy}\n",
               "compose.yaml:3:25: services.web.develop.watch[0].action: invalid action 'copy' "
               "(use rebuild, sync, restart, sync+restart or sync+exec)");
    expect_err("develop:\n  watch:\n    - {path: ., action: sync}\n",
               "compose.yaml:3:7: services.web.develop.watch[0]: action 'sync' needs 'target'");
    expect_err(
        "post_start:\n  - {user: root}\n",
        "compose.yaml:2:5: services.web.post_start[0]: missing required key 'command' in hook");
    expect_err("gpus: some\n", "compose.yaml:1:7: services.web.gpus: invalid gpus 'some' (use all "
                               "or a list of devices)");
    expect_err("pull_refresh_after: soon\n",
               "compose.yaml:1:21: services.web.pull_refresh_after: invalid duration 'soon' (a "
               "number and a unit, w, d, h, m or s, repeated: 12h, 1d, 1w2d)");
}

static void test_extensions_and_extends_kept(void **state)
{
    (void)state;
    expect_ok("x-meta: {a: [1, 2]}\nextends: base\n",
              "{\"extends\":\"base\",\"x-meta\":{\"a\":[1,2]}}");
    expect_ok("extends: {service: base, file: ../common.yml}\n",
              "{\"extends\":{\"file\":\"../common.yml\",\"service\":\"base\"}}");
    expect_err("extends: {file: common.yml}\n",
               "compose.yaml:1:10: services.web.extends: missing required key 'service' in "
               "extends");
    expect_err("extends: [a]\n", "compose.yaml:1:10: services.web.extends: must be a service "
                                 "name or {service, file}, not a sequence");
}

static void test_every_error_reported(void **state)
{
    (void)state;
    /* one bad value does not stop the others from being checked */
    expect_err("image: [nginx]\nports: [\"80\", \"99999\"]\nrestart: sometimes\n"
               "privileged: yes\nmem_limit: lots\n",
               "compose.yaml:1:8: services.web.image: must be a string, not a sequence\n"
               "compose.yaml:2:15: services.web.ports[1]: invalid port '99999': ports must be "
               "numbers or ranges within 1-65535\n"
               "compose.yaml:3:10: services.web.restart: invalid restart policy 'sometimes' "
               "(use no, always, on-failure[:N] or unless-stopped)\n"
               "warning: compose.yaml:4:13: services.web.privileged: 'yes' for a boolean is YAML "
               "1.1, not 1.2: read as true; write true\n"
               "compose.yaml:5:12: services.web.mem_limit: invalid size 'lots' (use e.g. 512m, "
               "2g, 1.5gb)");
}

/* ---- ports ---- */

#define PORT_ONLY(t) "{\"mode\":\"ingress\",\"protocol\":\"tcp\",\"target\":" t "}"
#define PORT_PUB(p, t)                                                                             \
    "{\"mode\":\"ingress\",\"protocol\":\"tcp\",\"published\":\"" p "\",\"target\":" t "}"

/* clang-format off */
static void test_ports_short(void **state)
{
    (void)state;
    expect_ok("ports:\n"
              "  - \"3000\"\n"
              "  - \"3000-3002\"\n"
              "  - \"8000:8000\"\n"
              "  - \"9090-9091:8080-8081\"\n"
              "  - 80\n",
              "{\"ports\":["
              PORT_ONLY("3000") "," PORT_ONLY("3000") "," PORT_ONLY("3001") ","
              PORT_ONLY("3002") "," PORT_PUB("8000", "8000") "," PORT_PUB("9090", "8080") ","
              PORT_PUB("9091", "8081") "," PORT_ONLY("80") "]}");
}
/* clang-format on */

static void test_ports_short_ip_and_protocol(void **state)
{
    (void)state;
    expect_ok("ports:\n"
              "  - 127.0.0.1:8001:8001\n"
              "  - 127.0.0.1::5000\n"
              "  - \"[::1]:6001:6001\"\n"
              "  - \"::1:6000:6000\"\n"
              "  - 6060:6060/udp\n"
              "  - 8000-9000:80\n"
              "  - 53/sctp\n",
              "{\"ports\":["
              "{\"host_ip\":\"127.0.0.1\",\"mode\":\"ingress\",\"protocol\":\"tcp\","
              "\"published\":\"8001\",\"target\":8001},"
              "{\"host_ip\":\"127.0.0.1\",\"mode\":\"ingress\",\"protocol\":\"tcp\","
              "\"target\":5000},"
              "{\"host_ip\":\"::1\",\"mode\":\"ingress\",\"protocol\":\"tcp\","
              "\"published\":\"6001\",\"target\":6001},"
              "{\"host_ip\":\"::1\",\"mode\":\"ingress\",\"protocol\":\"tcp\","
              "\"published\":\"6000\",\"target\":6000},"
              "{\"mode\":\"ingress\",\"protocol\":\"udp\",\"published\":\"6060\","
              "\"target\":6060},"
              "{\"mode\":\"ingress\",\"protocol\":\"tcp\",\"published\":\"8000-9000\","
              "\"target\":80},"
              "{\"mode\":\"ingress\",\"protocol\":\"sctp\",\"target\":53}]}");
}

static void test_ports_long(void **state)
{
    (void)state;
    expect_ok("ports:\n"
              "  - {target: \"81\", published: 8080, host_ip: 127.0.0.1}\n"
              "  - name: web\n"
              "    target: 82\n"
              "    published: \"8083-9000\"\n"
              "    mode: host\n"
              "    protocol: udp\n"
              "    app_protocol: http\n"
              "    x-note: kept\n",
              "{\"ports\":["
              "{\"host_ip\":\"127.0.0.1\",\"mode\":\"ingress\",\"protocol\":\"tcp\","
              "\"published\":\"8080\",\"target\":81},"
              "{\"app_protocol\":\"http\",\"mode\":\"host\",\"name\":\"web\",\"protocol\":"
              "\"udp\",\"published\":\"8083-9000\",\"target\":82,\"x-note\":\"kept\"}]}");
}

static void test_ports_errors(void **state)
{
    (void)state;
    expect_err("ports:\n"
               "  - \"70000\"\n"
               "  - \"80a:80\"\n"
               "  - \"8000-8001:80-82\"\n"
               "  - 80/xyz\n"
               "  - true\n"
               "  - {published: 80}\n"
               "  - {target: 80, mode: ingres}\n"
               "  - \"[::1]:80\"\n"
               "  - \"0:80\"\n"
               "  - {target: 0}\n"
               "  - {target: 1, published: 8000-70000}\n"
               "  - {target: 1, protocl: tcp}\n"
               "  - \"90-80\"\n",
               "compose.yaml:2:5: services.web.ports[0]: invalid port '70000': ports must be "
               "numbers or ranges within 1-65535\n"
               "compose.yaml:3:5: services.web.ports[1]: invalid port '80a:80': ports must be "
               "numbers or ranges within 1-65535\n"
               "compose.yaml:4:5: services.web.ports[2]: invalid port '8000-8001:80-82': the "
               "host and container port ranges have different lengths\n"
               "compose.yaml:5:5: services.web.ports[3]: invalid port '80/xyz': unknown "
               "protocol 'xyz' (use tcp, udp or sctp)\n"
               "compose.yaml:6:5: services.web.ports[4]: must be a port string or a mapping, "
               "not a boolean\n"
               "compose.yaml:7:5: services.web.ports[5]: missing required key 'target' in port\n"
               "compose.yaml:8:24: services.web.ports[6].mode: invalid mode 'ingres' (use host "
               "or ingress), did you mean 'ingress'?\n"
               "compose.yaml:9:5: services.web.ports[7]: invalid port '[::1]:80': expected "
               "[IP]:HOST:CONTAINER\n"
               "compose.yaml:10:5: services.web.ports[8]: invalid port '0:80': ports must be "
               "numbers or ranges within 1-65535\n"
               "compose.yaml:11:14: services.web.ports[9].target: 0 is out of range [1, 65535]\n"
               "compose.yaml:12:28: services.web.ports[10].published: invalid published port "
               "'8000-70000' (use a port or a range within 1-65535)\n"
               "compose.yaml:13:17: services.web.ports[11].protocl: unknown key 'protocl' in "
               "port, did you mean 'protocol'?\n"
               "compose.yaml:14:5: services.web.ports[12]: invalid port '90-80': ports must be "
               "numbers or ranges within 1-65535");
    expect_err("ports: \"80:80\"\n",
               "compose.yaml:1:8: services.web.ports: must be a sequence, not a string");
}

static void test_ports_cap(void **state)
{
    (void)state;
    struct result r;
    run("ports: [\"1-65535\", \"1000-1001\", 22]\n", &r);
    assert_int_equal(r.rc, ZP_E_INPUT);
    assert_string_equal(r.diags, "compose.yaml:1:20: services.web.ports[1]: too many ports (more "
                                 "than 65536)");
    release(&r);
    run("ports: [\"1-65535\", 22]\n", &r);
    assert_int_equal(r.rc, 0);
    struct zp_node *ports = zp_node_get(r.svc, "ports");
    assert_int_equal(ports->n, 65536);
    assert_string_equal(zp_node_get_str(ports->items[65534], "target"), "65535");
    assert_string_equal(zp_node_get_str(ports->items[65535], "target"), "22");
    release(&r);
}

static void test_expose(void **state)
{
    (void)state;
    expect_ok("expose: [3000, \"8080-8085/tcp\", 53/udp]\n",
              "{\"expose\":[\"3000\",\"8080-8085/tcp\",\"53/udp\"]}");
    expect_err("expose: [\"80/http\", 0]\n",
               "compose.yaml:1:10: services.web.expose[0]: invalid port '80/http' (use "
               "PORT[-PORT][/PROTOCOL], e.g. 8080 or 53/udp)\n"
               "compose.yaml:1:21: services.web.expose[1]: invalid port '0' (use "
               "PORT[-PORT][/PROTOCOL], e.g. 8080 or 53/udp)");
}

/* ---- volumes ---- */

static void test_volumes_short(void **state)
{
    (void)state;
    expect_ok(
        "volumes:\n"
        "  - ./data:/data\n"
        "  - /abs:/abs:ro,z\n"
        "  - ~/x:/x\n"
        "  - named:/data2:nocopy\n"
        "  - /anon\n"
        "  - data:/d:rw\n"
        "  - ../up:/up:rprivate,cached\n"
        "  - /s:/s:Z,rshared,ro\n",
        "{\"volumes\":["
        "{\"bind\":{\"create_host_path\":true},\"source\":\"/project/data\",\"target\":\"/data\","
        "\"type\":\"bind\"},"
        "{\"bind\":{\"create_host_path\":true,\"selinux\":\"z\"},\"read_only\":true,"
        "\"source\":\"/abs\",\"target\":\"/abs\",\"type\":\"bind\"},"
        "{\"bind\":{\"create_host_path\":true},\"source\":\"/home/me/x\",\"target\":\"/x\","
        "\"type\":\"bind\"},"
        "{\"source\":\"named\",\"target\":\"/data2\",\"type\":\"volume\","
        "\"volume\":{\"nocopy\":true}},"
        "{\"target\":\"/anon\",\"type\":\"volume\",\"volume\":{}},"
        "{\"source\":\"data\",\"target\":\"/d\",\"type\":\"volume\",\"volume\":{}},"
        "{\"bind\":{\"create_host_path\":true,\"propagation\":\"rprivate\"},"
        "\"consistency\":\"cached\",\"source\":\"/up\",\"target\":\"/up\",\"type\":\"bind\"},"
        "{\"bind\":{\"create_host_path\":true,\"propagation\":\"rshared\",\"selinux\":\"Z\"},"
        "\"read_only\":true,\"source\":\"/s\",\"target\":\"/s\",\"type\":\"bind\"}]}");
}

static void test_volumes_long(void **state)
{
    (void)state;
    expect_ok("volumes:\n"
              "  - type: bind\n"
              "    source: ./src\n"
              "    target: /src\n"
              "    read_only: false\n"
              "    bind: {create_host_path: false, propagation: rshared}\n"
              "  - {type: volume, source: v, target: /v, read_only: \"true\",\n"
              "     volume: {nocopy: true, subpath: sub, labels: [a=b]}}\n"
              "  - {type: tmpfs, target: /t, tmpfs: {size: 10m, mode: 01777}}\n"
              "  - {type: image, source: \"alpine:3\", target: /img, image: {subpath: etc}}\n"
              "  - {type: volume, target: /anon}\n",
              "{\"volumes\":["
              "{\"bind\":{\"create_host_path\":false,\"propagation\":\"rshared\"},"
              "\"source\":\"/project/src\",\"target\":\"/src\",\"type\":\"bind\"},"
              "{\"read_only\":true,\"source\":\"v\",\"target\":\"/v\",\"type\":\"volume\","
              "\"volume\":{\"labels\":{\"a\":\"b\"},\"nocopy\":true,\"subpath\":\"sub\"}},"
              "{\"target\":\"/t\",\"tmpfs\":{\"mode\":1023,\"size\":10485760},"
              "\"type\":\"tmpfs\"},"
              "{\"image\":{\"subpath\":\"etc\"},\"source\":\"alpine:3\",\"target\":\"/img\","
              "\"type\":\"image\"},"
              "{\"target\":\"/anon\",\"type\":\"volume\"}]}");
}

static void test_volumes_keep_relative_paths(void **state)
{
    (void)state;
    struct compose_ctx saved = ctx;
    ctx.keep_relative_paths = true;
    expect_ok("volumes: [./data:/data]\n",
              "{\"volumes\":[{\"bind\":{\"create_host_path\":true},\"source\":\"./data\","
              "\"target\":\"/data\",\"type\":\"bind\"}]}");
    ctx = saved;
}

static void test_volumes_errors(void **state)
{
    (void)state;
    expect_err("volumes:\n"
               "  - data:data\n"
               "  - /a:/b:xyz\n"
               "  - /a:/c:nocopy\n"
               "  - named:/e:z\n"
               "  - a:b:c:d\n"
               "  - {type: npipe, source: x, target: /x}\n"
               "  - {type: tmpfs, source: x, target: /t}\n"
               "  - {type: volume, source: v, target: /v, bind: {propagation: shared}}\n"
               "  - {type: tmpfs, target: /t2, tmpfs: {size: 10q}}\n"
               "  - {source: v, target: /v2}\n"
               "  - {type: bind, target: /b}\n"
               "  - {type: weird, target: /w}\n"
               "  - {type: bind, source: /x, target: /y, bind: {propagaton: shared}}\n"
               "  - 42\n"
               "  - :/empty\n",
               "compose.yaml:2:5: services.web.volumes[0]: invalid volume 'data:data': the "
               "target must be an absolute path\n"
               "compose.yaml:3:5: services.web.volumes[1]: invalid volume '/a:/b:xyz': unknown "
               "option 'xyz' (use ro, rw, z, Z, nocopy or a propagation such as rprivate)\n"
               "compose.yaml:4:5: services.web.volumes[2]: invalid volume '/a:/c:nocopy': "
               "option 'nocopy' only applies to volumes\n"
               "compose.yaml:5:5: services.web.volumes[3]: invalid volume 'named:/e:z': option "
               "'z' only applies to bind mounts\n"
               "compose.yaml:6:5: services.web.volumes[4]: invalid volume 'a:b:c:d': too many "
               "':' (use SOURCE:TARGET[:OPTIONS])\n"
               "compose.yaml:7:12: services.web.volumes[5].type: volume type 'npipe' is not "
               "supported yet\n"
               "compose.yaml:8:27: services.web.volumes[6].source: a tmpfs mount takes no "
               "'source'\n"
               "compose.yaml:9:43: services.web.volumes[7].bind: 'bind' options do not apply "
               "to a volume mount\n"
               "compose.yaml:10:46: services.web.volumes[8].tmpfs.size: invalid size '10q' "
               "(use e.g. 512m, 2g, 1.5gb)\n"
               "compose.yaml:11:5: services.web.volumes[9]: missing required key 'type' in "
               "volume\n"
               "compose.yaml:12:5: services.web.volumes[10]: a bind mount needs a 'source'\n"
               "compose.yaml:13:12: services.web.volumes[11].type: invalid volume type 'weird' "
               "(use bind, volume, tmpfs or image)\n"
               "compose.yaml:14:49: services.web.volumes[12].bind.propagaton: unknown key "
               "'propagaton' in bind, did you mean 'propagation'?\n"
               "compose.yaml:15:5: services.web.volumes[13]: must be a volume string or a "
               "mapping, not an integer\n"
               "compose.yaml:16:5: services.web.volumes[14]: invalid volume ':/empty': empty "
               "source");
}

static void test_tmpfs(void **state)
{
    (void)state;
    expect_ok("tmpfs: /run\n", "{\"tmpfs\":[\"/run\"]}");
    expect_ok("tmpfs: [\"/data:mode=755,uid=1009\", /run]\n",
              "{\"tmpfs\":[\"/data:mode=755,uid=1009\",\"/run\"]}");
    expect_err("tmpfs: [run]\n",
               "compose.yaml:1:9: services.web.tmpfs[0]: invalid tmpfs 'run': the path must be "
               "absolute");
}

/* ---- depends_on ---- */

static void test_depends_on(void **state)
{
    (void)state;
    expect_ok("depends_on: [db, redis]\n",
              "{\"depends_on\":{\"db\":{\"condition\":\"service_started\",\"required\":true},"
              "\"redis\":{\"condition\":\"service_started\",\"required\":true}}}");
    expect_ok("depends_on:\n"
              "  db: {condition: service_healthy, restart: true}\n"
              "  cache: {condition: service_started, required: false, restart: \"false\"}\n"
              "  init: {condition: service_completed_successfully}\n",
              "{\"depends_on\":{\"cache\":{\"condition\":\"service_started\",\"required\":false},"
              "\"db\":{\"condition\":\"service_healthy\",\"required\":true,\"restart\":true},"
              "\"init\":{\"condition\":\"service_completed_successfully\",\"required\":true}}}");
}

static void test_depends_on_errors(void **state)
{
    (void)state;
    expect_err("depends_on:\n"
               "  db: {condition: service_healty}\n"
               "  cache: {required: true}\n"
               "  x: {condition: service_started, wait: 1}\n"
               "  y: yes\n",
               "compose.yaml:2:19: services.web.depends_on.db.condition: invalid condition "
               "'service_healty' (use service_started, service_healthy or "
               "service_completed_successfully), did you mean 'service_healthy'?\n"
               "compose.yaml:3:10: services.web.depends_on.cache: missing required key "
               "'condition' in depends_on\n"
               "compose.yaml:4:35: services.web.depends_on.x.wait: unknown key 'wait' in "
               "depends_on\n"
               "compose.yaml:5:6: services.web.depends_on.y: must be a mapping, not a string");
    expect_err("depends_on: [db, db, \"bad name\"]\n",
               "compose.yaml:1:18: services.web.depends_on[1]: service 'db' is listed twice\n"
               "compose.yaml:1:22: services.web.depends_on[2]: invalid service name 'bad name'");
    expect_err("depends_on: db\n", "compose.yaml:1:13: services.web.depends_on: must be a list "
                                   "of services or a mapping, not a string");
}

/* ---- environment, env_file, label-like maps ---- */

static void test_environment(void **state)
{
    (void)state;
    expect_ok("environment:\n"
              "  - A=1\n"
              "  - B=x=y\n"
              "  - FROM_ENV\n"
              "  - EMPTY\n"
              "  - UNSET\n"
              "  - C=\n",
              "{\"environment\":{\"A\":\"1\",\"B\":\"x=y\",\"C\":\"\",\"EMPTY\":\"\","
              "\"FROM_ENV\":\"value from env\",\"UNSET\":null}}");
    expect_ok("environment:\n  N: 1\n  F: 1.5\n  T: true\n  S: str\n  FROM_ENV:\n  UNSET:\n",
              "{\"environment\":{\"F\":\"1.5\",\"FROM_ENV\":\"value from env\",\"N\":\"1\","
              "\"S\":\"str\",\"T\":\"true\",\"UNSET\":null}}");
    struct result r;
    run("environment: [FROM_ENV, B=$x]\n", &r);
    assert_int_equal(r.rc, 0);
    struct zp_node *envmap = zp_node_get(r.svc, "environment");
    assert_true(zp_node_get(envmap, "FROM_ENV")->flags & ZP_NODE_NOINTERP);
    assert_false(zp_node_get(envmap, "B")->flags & ZP_NODE_NOINTERP);
    release(&r);
    expect_err("environment:\n  A: [1]\n",
               "compose.yaml:2:6: services.web.environment.A: must be a string, a number or a "
               "boolean, not a sequence");
    expect_err("environment: A=1\n", "compose.yaml:1:14: services.web.environment: must be a "
                                     "mapping or a list of 'KEY=VALUE', not a string");
}

static void test_env_file(void **state)
{
    (void)state;
    expect_ok("env_file: .env\n",
              "{\"env_file\":[{\"path\":\"/project/.env\",\"required\":true}]}");
    expect_ok("env_file:\n"
              "  - ./a.env\n"
              "  - /abs/b.env\n"
              "  - {path: ./c.env, required: false}\n"
              "  - {path: d.env, format: raw}\n",
              "{\"env_file\":[{\"path\":\"/project/a.env\",\"required\":true},"
              "{\"path\":\"/abs/b.env\",\"required\":true},"
              "{\"path\":\"/project/c.env\",\"required\":false},"
              "{\"format\":\"raw\",\"path\":\"/project/d.env\",\"required\":true}]}");
    expect_err("env_file:\n  - {required: false}\n  - {path: a, requird: true}\n  - 5\n",
               "compose.yaml:2:5: services.web.env_file[0]: missing required key 'path' in "
               "env_file\n"
               "compose.yaml:3:15: services.web.env_file[1].requird: unknown key 'requird' in "
               "env_file, did you mean 'required'?\n"
               "compose.yaml:4:5: services.web.env_file[2]: must be a path or a mapping, not an "
               "integer");
}

static void test_label_maps(void **state)
{
    (void)state;
    expect_ok("labels: [com.example.a=1, flag]\n"
              "annotations: {com.example.b: 2}\n"
              "sysctls: [net.core.somaxconn=1024]\n"
              "storage_opt: {size: 1G}\n",
              "{\"annotations\":{\"com.example.b\":\"2\"},"
              "\"labels\":{\"com.example.a\":\"1\",\"flag\":\"\"},"
              "\"storage_opt\":{\"size\":\"1G\"},"
              "\"sysctls\":{\"net.core.somaxconn\":\"1024\"}}");
    expect_err("storage_opt: [size=1G]\n",
               "compose.yaml:1:14: services.web.storage_opt: must be a mapping, not a sequence");
}

/* ---- extra_hosts, networks ---- */

static void test_extra_hosts(void **state)
{
    (void)state;
    expect_ok("extra_hosts:\n"
              "  - somehost=162.242.195.82\n"
              "  - \"otherhost:50.31.209.229\"\n"
              "  - \"myhostv6:::1\"\n"
              "  - myhostv6b=[::1]\n"
              "  - gw=host-gateway\n",
              "{\"extra_hosts\":[\"gw=host-gateway\",\"myhostv6=::1\",\"myhostv6b=::1\","
              "\"otherhost=50.31.209.229\",\"somehost=162.242.195.82\"]}");
    expect_ok("extra_hosts:\n  somehost: 162.242.195.82\n  multi: [10.0.0.1, \"[::2]\"]\n",
              "{\"extra_hosts\":[\"multi=10.0.0.1\",\"multi=::2\","
              "\"somehost=162.242.195.82\"]}");
    /* one host's addresses keep their order (the first one answers) */
    expect_ok("extra_hosts: [\"b=10.0.0.9\", \"a=10.0.0.1\", \"b=10.0.0.2\"]\n",
              "{\"extra_hosts\":[\"a=10.0.0.1\",\"b=10.0.0.9\",\"b=10.0.0.2\"]}");
    expect_err("extra_hosts: [justahost, \"=1.2.3.4\"]\n",
               "compose.yaml:1:15: services.web.extra_hosts[0]: invalid extra host 'justahost' "
               "(use HOST=IP)\n"
               "compose.yaml:1:26: services.web.extra_hosts[1]: invalid extra host '=1.2.3.4' "
               "(use HOST=IP)");
}

static void test_networks(void **state)
{
    (void)state;
    expect_ok("networks: [front, back]\n", "{\"networks\":{\"back\":null,\"front\":null}}");
    expect_ok("networks:\n"
              "  front:\n"
              "  back:\n"
              "    aliases: [db]\n"
              "    ipv4_address: 172.16.238.10\n"
              "    ipv6_address: 2001:3984:3989::10\n"
              "    link_local_ips: [57.123.22.11]\n"
              "    mac_address: 02:42:ac:11:65:43\n"
              "    driver_opts: {foo: bar, baz: 1}\n"
              "    priority: \"1000\"\n"
              "    gw_priority: 1\n"
              "    interface_name: eth0\n",
              "{\"networks\":{\"back\":{\"aliases\":[\"db\"],\"driver_opts\":{\"baz\":\"1\","
              "\"foo\":\"bar\"},\"gw_priority\":1,\"interface_name\":\"eth0\","
              "\"ipv4_address\":\"172.16.238.10\",\"ipv6_address\":\"2001:3984:3989::10\","
              "\"link_local_ips\":[\"57.123.22.11\"],\"mac_address\":\"02:42:ac:11:65:43\","
              "\"priority\":1000},\"front\":null}}");
    expect_err("networks:\n  front: {aliass: [x], priority: high}\n  back: [x]\n",
               "compose.yaml:2:11: services.web.networks.front.aliass: unknown key 'aliass' in "
               "network, did you mean 'aliases'?\n"
               "compose.yaml:2:34: services.web.networks.front.priority: must be an integer, "
               "not 'high'\n"
               "compose.yaml:3:9: services.web.networks.back: must be a mapping, not a sequence");
    expect_err("networks: [a, a]\n",
               "compose.yaml:1:15: services.web.networks[1]: network 'a' is listed twice");
}

/* ---- secrets, configs ---- */

static void test_secrets_configs(void **state)
{
    (void)state;
    expect_ok(
        "secrets:\n"
        "  - server-certificate\n"
        "  - {source: a, target: a.txt, uid: \"103\", gid: 103, mode: 0o440}\n"
        "  - {source: b, mode: \"0440\"}\n"
        "  - {source: c, mode: 0440}\n"
        "  - {source: d, mode: 420}\n"
        "configs: [my_config, {source: other, target: /cfg}]\n",
        "{\"configs\":[{\"source\":\"my_config\"},{\"source\":\"other\",\"target\":\"/cfg\"}],"
        "\"secrets\":[{\"source\":\"server-certificate\",\"target\":\"/run/secrets/"
        "server-certificate\"},"
        "{\"gid\":\"103\",\"mode\":288,\"source\":\"a\",\"target\":\"a.txt\",\"uid\":\"103\"},"
        "{\"mode\":288,\"source\":\"b\",\"target\":\"/run/secrets/b\"},"
        "{\"mode\":288,\"source\":\"c\",\"target\":\"/run/secrets/c\"},"
        "{\"mode\":420,\"source\":\"d\",\"target\":\"/run/secrets/d\"}]}");
    expect_err("secrets:\n  - {target: x}\n  - {source: a, mode: \"9\"}\n  - [a]\n"
               "configs: {a: b}\n",
               "compose.yaml:2:5: services.web.secrets[0]: missing required key 'source' in "
               "secret\n"
               "compose.yaml:3:23: services.web.secrets[1].mode: invalid file mode '9' (use an "
               "octal number such as 0440)\n"
               "compose.yaml:4:5: services.web.secrets[2]: must be a secret name or a mapping, "
               "not a sequence\n"
               "compose.yaml:5:10: services.web.configs: must be a sequence, not a mapping");
}

/* ---- ulimits, logging, devices, blkio ---- */

static void test_ulimits(void **state)
{
    (void)state;
    expect_ok("ulimits:\n  nproc: 65535\n  nofile: {soft: 20000, hard: \"40000\"}\n"
              "  memlock: {soft: -1, hard: -1}\n",
              "{\"ulimits\":{\"memlock\":{\"hard\":-1,\"soft\":-1},\"nofile\":{\"hard\":40000,"
              "\"soft\":20000},\"nproc\":65535}}");
    expect_err("ulimits:\n  nofile: {soft: 50000, hard: 40000}\n  core: {soft: 1}\n"
               "  NoFile: 1\n  stack: big\n",
               "compose.yaml:2:11: services.web.ulimits.nofile: the soft limit 50000 is greater "
               "than the hard limit 40000\n"
               "compose.yaml:3:9: services.web.ulimits.core: missing required key 'hard' in "
               "ulimit\n"
               "compose.yaml:4:3: services.web.ulimits.NoFile: invalid ulimit name 'NoFile'\n"
               "compose.yaml:5:10: services.web.ulimits.stack: must be an integer, not 'big'");
}

static void test_logging(void **state)
{
    (void)state;
    expect_ok("logging:\n  driver: syslog\n  options:\n    syslog-address: tcp://1.2.3.4:123\n"
              "    max-file: 3\n    tag:\n",
              "{\"logging\":{\"driver\":\"syslog\",\"options\":{\"max-file\":\"3\","
              "\"syslog-address\":\"tcp://1.2.3.4:123\",\"tag\":null}}}");
    expect_err("logging:\n  drivr: json-file\n  options: [a=b]\n",
               "compose.yaml:2:3: services.web.logging.drivr: unknown key 'drivr' in logging, "
               "did you mean 'driver'?\n"
               "compose.yaml:3:12: services.web.logging.options: must be a mapping, not a "
               "sequence");
}

static void test_devices(void **state)
{
    (void)state;
    expect_ok("devices:\n"
              "  - /dev/ttyUSB0:/dev/ttyUSB0\n"
              "  - /dev/sda:/dev/xvda:rwm\n"
              "  - /dev/fuse\n"
              "  - /dev/snd:r\n"
              "  - vendor1.com/device=gpu\n"
              "  - {source: /dev/kvm}\n"
              "  - {source: /dev/a, target: /dev/b, permissions: rw}\n",
              "{\"devices\":["
              "{\"permissions\":\"rwm\",\"source\":\"/dev/ttyUSB0\",\"target\":\"/dev/ttyUSB0\"},"
              "{\"permissions\":\"rwm\",\"source\":\"/dev/sda\",\"target\":\"/dev/xvda\"},"
              "{\"permissions\":\"rwm\",\"source\":\"/dev/fuse\",\"target\":\"/dev/fuse\"},"
              "{\"permissions\":\"r\",\"source\":\"/dev/snd\",\"target\":\"/dev/snd\"},"
              "{\"permissions\":\"rwm\",\"source\":\"vendor1.com/device=gpu\","
              "\"target\":\"vendor1.com/device=gpu\"},"
              "{\"permissions\":\"rwm\",\"source\":\"/dev/kvm\",\"target\":\"/dev/kvm\"},"
              "{\"permissions\":\"rw\",\"source\":\"/dev/a\",\"target\":\"/dev/b\"}]}");
    expect_err("devices:\n  - /dev/a:/dev/b:rwx\n  - {target: /dev/x}\n  - a:b:c:d\n",
               "compose.yaml:2:5: services.web.devices[0]: invalid device '/dev/a:/dev/b:rwx' "
               "(use HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]])\n"
               "compose.yaml:3:5: services.web.devices[1]: missing required key 'source' in "
               "device\n"
               "compose.yaml:4:5: services.web.devices[2]: invalid device 'a:b:c:d' (use "
               "HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]])");
}

static void test_blkio_config(void **state)
{
    (void)state;
    expect_ok("blkio_config:\n"
              "  weight: 300\n"
              "  weight_device: [{path: /dev/sda, weight: 400}]\n"
              "  device_read_bps: [{path: /dev/sdb, rate: 12mb}]\n"
              "  device_write_iops: [{path: /dev/sdb, rate: 30}]\n",
              "{\"blkio_config\":{\"device_read_bps\":[{\"path\":\"/dev/sdb\",\"rate\":12582912}],"
              "\"device_write_iops\":[{\"path\":\"/dev/sdb\",\"rate\":30}],\"weight\":300,"
              "\"weight_device\":[{\"path\":\"/dev/sda\",\"weight\":400}]}}");
    expect_err("blkio_config:\n  weight: 5\n  device_read_iops: [{rate: 1}]\n",
               "compose.yaml:2:11: services.web.blkio_config.weight: 5 is out of range [10, "
               "1000]\n"
               "compose.yaml:3:22: services.web.blkio_config.device_read_iops[0]: missing "
               "required key 'path' in device_read_iops");
}

/* ---- commands and scalars ---- */

static void test_command_entrypoint(void **state)
{
    (void)state;
    expect_ok("command: bundle exec 'rails s' -p \"3000\"\nentrypoint: [\"/bin/sh\", -c]\n",
              "{\"command\":[\"bundle\",\"exec\",\"rails s\",\"-p\",\"3000\"],"
              "\"entrypoint\":[\"/bin/sh\",\"-c\"]}");
    expect_ok("command:\nentrypoint: []\n", "{\"command\":null,\"entrypoint\":[]}");
    expect_err("command: echo 'oops\n", "compose.yaml:1:10: services.web.command: unterminated "
                                        "quote in 'echo 'oops'");
}

static void test_sizes_and_cpus(void **state)
{
    (void)state;
    expect_ok("mem_limit: 512m\nmemswap_limit: -1\nmem_reservation: 1024\nshm_size: 1.5gb\n"
              "cpus: 0.5\ncpu_shares: 512\ncpu_quota: 50000\ncpu_period: 100000\n"
              "cpu_rt_runtime: 400ms\ncpu_rt_period: 11000\ncpuset: 0-3\npids_limit: -1\n",
              "{\"cpu_period\":100000,\"cpu_quota\":50000,\"cpu_rt_period\":11000,"
              "\"cpu_rt_runtime\":400000,\"cpu_shares\":512,\"cpus\":0.5,\"cpuset\":\"0-3\","
              "\"mem_limit\":536870912,\"mem_reservation\":1024,\"memswap_limit\":-1,"
              "\"pids_limit\":-1,\"shm_size\":1610612736}");
    expect_err("shm_size: 2x\ncpus: -1\ncpu_shares: -2\ncpu_rt_runtime: soon\n",
               "compose.yaml:1:11: services.web.shm_size: invalid size '2x' (use e.g. 512m, 2g, "
               "1.5gb)\n"
               "compose.yaml:2:7: services.web.cpus: -1 is out of range [0, 100000]\n"
               "compose.yaml:3:13: services.web.cpu_shares: -2 is out of range [0, 262144]\n"
               "compose.yaml:4:17: services.web.cpu_rt_runtime: invalid duration 'soon' (use "
               "microseconds or e.g. 400ms)");
}

static void test_restart(void **state)
{
    (void)state;
    const char *ok[] = {"no", "\"no\"", "always", "on-failure", "on-failure:3", "unless-stopped"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char *y = zp_asprintf("restart: %s\n", ok[i]);
        char *want = zp_asprintf("{\"restart\":\"%s\"}", ok[i][0] == '"' ? "no" : ok[i]);
        expect_ok(y, want);
        free(y);
        free(want);
    }
    expect_err("restart: on-failure:x\n",
               "compose.yaml:1:10: services.web.restart: invalid restart policy 'on-failure:x' "
               "(use no, always, on-failure[:N] or unless-stopped)");
    expect_err("restart: false\n",
               "compose.yaml:1:10: services.web.restart: must be a string, not a boolean");
}

static void test_pull_policy(void **state)
{
    (void)state;
    expect_ok("pull_policy: every_1w2d12h\n", "{\"pull_policy\":\"every_1w2d12h\"}");
    expect_ok("pull_policy: if_not_present\n", "{\"pull_policy\":\"if_not_present\"}");
    expect_err("pull_policy: every_12x\n",
               "compose.yaml:1:14: services.web.pull_policy: invalid pull policy 'every_12x' "
               "(use always, never, missing, build, daily, weekly, refresh or "
               "every_<duration> such as every_12h)");
    expect_ok("pull_policy: refresh\npull_refresh_after: 1d12h\n",
              "{\"pull_policy\":\"refresh\",\"pull_refresh_after\":\"1d12h\"}");
}

static void test_durations(void **state)
{
    (void)state;
    expect_ok("stop_grace_period: 90s\n", "{\"stop_grace_period\":\"1m30s\"}");
    expect_err("stop_grace_period: 10 parsecs\n",
               "compose.yaml:1:20: services.web.stop_grace_period: invalid duration '10 "
               "parsecs' (use units: 1m30s, 500ms, 2h)");
}

static void test_scalar_types(void **state)
{
    (void)state;
    expect_ok("image: nginx:1.25\nuser: 1000\ninit: \"true\"\nprivileged: false\n"
              "read_only: true\ntty: true\nstdin_open: true\noom_kill_disable: false\n"
              "oom_score_adj: -500\nmem_swappiness: 60\nscale: 3\ncgroup: host\npid:\n"
              "group_add: [mail, 42]\ndns: 8.8.8.8\ndns_search: [example.com]\n"
              "cap_add: [ALL]\nprofiles: [debug, frontend]\ncontainer_name: my-web.1\n",
              "{\"cap_add\":[\"ALL\"],\"cgroup\":\"host\",\"container_name\":\"my-web.1\","
              "\"dns\":[\"8.8.8.8\"],\"dns_search\":[\"example.com\"],"
              "\"group_add\":[\"mail\",\"42\"],\"image\":\"nginx:1.25\",\"init\":true,"
              "\"mem_swappiness\":60,\"oom_kill_disable\":false,\"oom_score_adj\":-500,"
              "\"pid\":null,\"privileged\":false,\"profiles\":[\"debug\",\"frontend\"],"
              "\"read_only\":true,\"scale\":3,\"stdin_open\":true,\"tty\":true,"
              "\"user\":\"1000\"}");
    expect_err("init: 1\noom_score_adj: 2000\nmem_swappiness: 101\nscale: -1\ncgroup: shared\n"
               "container_name: -bad\nprofiles: [\"bad profile\"]\ncap_add: ALL\n",
               "compose.yaml:1:7: services.web.init: must be a boolean (true or false), not an "
               "integer\n"
               "compose.yaml:2:16: services.web.oom_score_adj: 2000 is out of range [-1000, "
               "1000]\n"
               "compose.yaml:3:17: services.web.mem_swappiness: 101 is out of range [0, 100]\n"
               "compose.yaml:4:8: services.web.scale: -1 is out of range [0, 2147483647]\n"
               "compose.yaml:5:9: services.web.cgroup: invalid cgroup 'shared' (use host or "
               "private)\n"
               "compose.yaml:6:17: services.web.container_name: invalid container name '-bad' "
               "(use letters, digits, '_', '.' and '-', at least 2 characters, starting with a "
               "letter or a digit)\n"
               "compose.yaml:7:12: services.web.profiles[0]: invalid profile name 'bad profile' "
               "(use letters, digits, '_', '.' and '-', starting with a letter or a digit)\n"
               "compose.yaml:8:10: services.web.cap_add: must be a sequence, not a string");
}

/* ---- delegated objects ---- */

static void test_build_deploy_healthcheck_delegated(void **state)
{
    (void)state;
    struct result r;
    run("build: ./app\ndeploy: {replicas: \"2\"}\nhealthcheck: {disable: true}\n", &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.diags, "");
    struct zp_node *build = zp_node_get(r.svc, "build");
    assert_true(zp_node_is_map(build));
    assert_string_equal(zp_node_get_str(build, "context"), "/project/app");
    struct zp_node *replicas = zp_node_get(zp_node_get(r.svc, "deploy"), "replicas");
    assert_non_null(replicas);
    assert_int_equal(replicas->type, ZP_INT);
    struct zp_node *test = zp_node_get(zp_node_get(r.svc, "healthcheck"), "test");
    assert_true(zp_node_is_seq(test));
    assert_string_equal(test->items[0]->str, "NONE");
    release(&r);
}

/* ---- !reset / !override ---- */

static void test_flags_kept(void **state)
{
    (void)state;
    struct result r;
    run("ports: !override [\"80:80\"]\n"
        "environment: !override [A=1]\n"
        "volumes: !reset []\n"
        "depends_on: !reset null\n"
        "dns: !override 1.1.1.1\n"
        "image: !override nginx\n",
        &r);
    assert_string_equal(r.diags, "");
    assert_int_equal(r.rc, 0);
    struct zp_node *ports = zp_node_get(r.svc, "ports");
    assert_true(zp_node_is_seq(ports));
    assert_true(ports->flags & ZP_NODE_OVERRIDE);
    assert_string_equal(zp_node_get_str(ports->items[0], "published"), "80");
    struct zp_node *envmap = zp_node_get(r.svc, "environment");
    assert_true(zp_node_is_map(envmap));
    assert_true(envmap->flags & ZP_NODE_OVERRIDE);
    struct zp_node *vols = zp_node_get(r.svc, "volumes");
    assert_true(zp_node_is_seq(vols));
    assert_true(vols->flags & ZP_NODE_RESET);
    struct zp_node *deps = zp_node_get(r.svc, "depends_on");
    assert_true(zp_node_is_null(deps));
    assert_true(deps->flags & ZP_NODE_RESET);
    struct zp_node *dns = zp_node_get(r.svc, "dns");
    assert_true(zp_node_is_seq(dns));
    assert_true(dns->flags & ZP_NODE_OVERRIDE);
    assert_true(zp_node_get(r.svc, "image")->flags & ZP_NODE_OVERRIDE);
    release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_service_is_empty_map),
        cmocka_unit_test(test_service_not_a_mapping),
        cmocka_unit_test(test_unknown_key_suggestion),
        cmocka_unit_test(test_new_fields),
        cmocka_unit_test(test_extensions_and_extends_kept),
        cmocka_unit_test(test_every_error_reported),
        cmocka_unit_test(test_ports_short),
        cmocka_unit_test(test_ports_short_ip_and_protocol),
        cmocka_unit_test(test_ports_long),
        cmocka_unit_test(test_ports_errors),
        cmocka_unit_test(test_ports_cap),
        cmocka_unit_test(test_expose),
        cmocka_unit_test(test_volumes_short),
        cmocka_unit_test(test_volumes_long),
        cmocka_unit_test(test_volumes_keep_relative_paths),
        cmocka_unit_test(test_volumes_errors),
        cmocka_unit_test(test_tmpfs),
        cmocka_unit_test(test_depends_on),
        cmocka_unit_test(test_depends_on_errors),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_env_file),
        cmocka_unit_test(test_label_maps),
        cmocka_unit_test(test_extra_hosts),
        cmocka_unit_test(test_networks),
        cmocka_unit_test(test_secrets_configs),
        cmocka_unit_test(test_ulimits),
        cmocka_unit_test(test_logging),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_blkio_config),
        cmocka_unit_test(test_command_entrypoint),
        cmocka_unit_test(test_sizes_and_cpus),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_pull_policy),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_scalar_types),
        cmocka_unit_test(test_build_deploy_healthcheck_delegated),
        cmocka_unit_test(test_flags_kept),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* orchestrator/mapping: a normalised service (docs/model.md) to the body of
 * POST /containers/create on Engine API 1.41 (ContainerConfig + HostConfig +
 * NetworkingConfig), built as a zp_node tree and printed with compose_emit_json; plus the
 * image reference and config hash of a service. Pure: no engine calls, no I/O.
 *
 * Every key of the service is either mapped, refused with an error naming the field, or on
 * one of the lists below; a key the mapping does not know (a field added to the model
 * later) is refused, so nothing is dropped silently.
 *
 * Used elsewhere, not part of the container (the orchestrator reads them): build, image
 * (the caller passes the reference), depends_on, env_file (already merged into
 * environment), profiles, pull_policy, scale, deploy.replicas, platform (chooses which
 * image is built or pulled; the local image is already chosen), extends, x-*.
 * x-zpanel (routes) becomes the label io.zpanel.routes (or Traefik's labels) and a
 * connection to the proxy's network `zpanel` (map_route).
 *
 * Swarm-only, ignored by the container mapping (later features may use them):
 * deploy.mode (global, *-job), deploy.endpoint_mode, deploy.labels (labels of a swarm
 * service, not of its containers), deploy.placement, deploy.update_config,
 * deploy.rollback_config, deploy.restart_policy.delay and .window,
 * deploy.resources.reservations.cpus (a scheduling reservation: the engine has no field
 * for it outside swarm; CpuShares is a relative weight, not a reservation, so it is not
 * used as a stand-in), deploy.resources.reservations.generic_resources.
 *
 * Metadata with no engine effect: ports[].name, ports[].app_protocol, ports[].mode (host
 * and ingress publish the same way on a single engine).
 *
 * Refused ("not supported by the engine's API version (1.41)"): annotations,
 * healthcheck.start_interval, volumes[].volume.subpath, volumes[].type image,
 * volumes[].bind.recursive writable/readonly, networks.*.gw_priority and
 * .interface_name.
 * Refused otherwise: secrets/configs from `environment` or `content` and external ones
 * (they need a file to bind-mount; the create call cannot carry file contents),
 * uid/gid/mode on secrets/configs (a bind mount keeps the host file's owner and mode),
 * link_local_ips, mac_address and driver_opts on any network but the first (the
 * connect-after-create step only carries aliases and addresses), cpus together with
 * cpu_period or cpu_quota (the engine refuses NanoCpus with them), a plain field and its
 * deploy.resources twin with different values, links with a network_mode other than
 * bridge, network_mode together with networks, labels under io.zpanel. (ours).
 *
 * Choices: aliases on each network are the service name, the aliases written and the
 * container name (none for one-off containers, which must not take the service's
 * traffic); links go on the first network's endpoint; stop_grace_period is rounded up to
 * whole seconds; a port without a published one gets HostPort "" (the engine picks). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping-int.h"

#include "../util/banned.h"

/* ---- simple fields: one model key to one engine field ---- */

enum simple_kind { K_STR, K_INT, K_BOOL, K_LIST, K_MAP, K_CMD };

struct simple {
    const char *key;
    bool host; /* HostConfig, else ContainerConfig */
    const char *field;
    enum simple_kind kind;
};

static const struct simple simple_fields[] = {
    {"hostname", false, "Hostname", K_STR},
    {"domainname", false, "Domainname", K_STR},
    {"user", false, "User", K_STR},
    {"working_dir", false, "WorkingDir", K_STR},
    {"stop_signal", false, "StopSignal", K_STR},
    {"tty", false, "Tty", K_BOOL},
    {"stdin_open", false, "OpenStdin", K_BOOL},
    {"command", false, "Cmd", K_CMD},
    {"entrypoint", false, "Entrypoint", K_CMD},
    {"init", true, "Init", K_BOOL},
    {"read_only", true, "ReadonlyRootfs", K_BOOL},
    {"privileged", true, "Privileged", K_BOOL},
    {"oom_kill_disable", true, "OomKillDisable", K_BOOL},
    {"cap_add", true, "CapAdd", K_LIST},
    {"cap_drop", true, "CapDrop", K_LIST},
    {"security_opt", true, "SecurityOpt", K_LIST},
    {"dns", true, "Dns", K_LIST},
    {"dns_search", true, "DnsSearch", K_LIST},
    {"dns_opt", true, "DnsOptions", K_LIST},
    {"group_add", true, "GroupAdd", K_LIST},
    {"device_cgroup_rules", true, "DeviceCgroupRules", K_LIST},
    {"sysctls", true, "Sysctls", K_MAP},
    {"storage_opt", true, "StorageOpt", K_MAP},
    {"shm_size", true, "ShmSize", K_INT},
    {"oom_score_adj", true, "OomScoreAdj", K_INT},
    {"cpu_shares", true, "CpuShares", K_INT},
    {"cpu_quota", true, "CpuQuota", K_INT},
    {"cpu_period", true, "CpuPeriod", K_INT},
    {"cpu_rt_period", true, "CpuRealtimePeriod", K_INT},
    {"cpu_rt_runtime", true, "CpuRealtimeRuntime", K_INT},
    {"cpu_count", true, "CpuCount", K_INT},
    {"cpu_percent", true, "CpuPercent", K_INT},
    {"cpuset", true, "CpusetCpus", K_STR},
    {"memswap_limit", true, "MemorySwap", K_INT},
    {"mem_swappiness", true, "MemorySwappiness", K_INT},
    {"runtime", true, "Runtime", K_STR},
    {"userns_mode", true, "UsernsMode", K_STR},
    {"uts", true, "UTSMode", K_STR},
    {"cgroup", true, "CgroupnsMode", K_STR},
    {"cgroup_parent", true, "CgroupParent", K_STR},
    {NULL, false, NULL, K_STR},
};

static int map_simple(struct mapper *m, const struct simple *s, const struct zp_node *v)
{
    struct zp_node *dst = s->host ? m->hc : m->body;
    struct zp_node *out = NULL;
    const char *str = NULL;
    int64_t i = 0;
    int rc = 0;
    switch (s->kind) {
    case K_STR:
        if ((rc = orch__map_get_str(m, v, s->key, &str)) == 0)
            out = orch__map_jstr(str);
        break;
    case K_INT:
        if ((rc = orch__map_get_int(m, v, s->key, &i)) == 0)
            out = orch__map_jint(i);
        break;
    case K_BOOL:
        if (v->kind != ZP_NODE_SCALAR || v->type != ZP_BOOL)
            rc = orch__map_fail(m, v, s->key, "must be a boolean");
        else
            out = orch__map_jbool(orch__map_is_true(v));
        break;
    case K_LIST:
        rc = orch__map_str_list(m, v, s->key, &out);
        break;
    case K_MAP:
        rc = orch__map_str_map(m, v, s->key, &out);
        break;
    case K_CMD:
        /* null keeps the image's; [] clears it (the engine tells nil from empty) */
        if (zp_node_is_null(v))
            return 0;
        rc = orch__map_str_list(m, v, s->key, &out);
        break;
    }
    if (rc == 0)
        zp_node_set(dst, s->field, out);
    return rc;
}

/* ---- environment and labels ---- */

static int map_environment(struct mapper *m, const struct zp_node *v)
{
    if (v->kind != ZP_NODE_MAP)
        return orch__map_fail(m, v, "environment", "must be a mapping");
    struct zp_node *env = zp_node_new_seq(NULL);
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *val = v->pairs[i].value;
        if (zp_node_is_null(val))
            continue; /* unset and not in the environment: the variable is not passed */
        char *kv = zp_asprintf("%s=%s", v->pairs[i].key->str, val->str ? val->str : "");
        zp_node_push(env, orch__map_jstr(kv));
        free(kv);
    }
    zp_node_set(m->body, "Env", env);
    return 0;
}

static int map_labels(struct mapper *m, const struct zp_node *v, const char *number,
                      const char *config_hash)
{
    struct zp_node *labels = NULL;
    if (v != NULL) {
        int rc = orch__map_str_map(m, v, "labels", &labels);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < labels->n; i++) {
            if (zp_str_has_prefix(labels->pairs[i].key->str, "io.zpanel.")) {
                char *f = zp_path_key("labels", labels->pairs[i].key->str);
                rc = orch__map_fail(m, zp_node_get_key(v, labels->pairs[i].key->str), f,
                                    "the label prefix 'io.zpanel.' is reserved for zpanel");
                free(f);
                zp_node_free(labels);
                return rc;
            }
        }
    } else {
        labels = zp_node_new_map(NULL);
    }
    zp_node_set(labels, ORCH_LABEL_PROJECT, orch__map_jstr(m->p->name));
    zp_node_set(labels, ORCH_LABEL_SERVICE, orch__map_jstr(m->service));
    zp_node_set(labels, ORCH_LABEL_HASH, orch__map_jstr(config_hash));
    zp_node_set(labels, ORCH_LABEL_NUMBER, orch__map_jstr(number));
    zp_node_set(labels, ORCH_LABEL_VERSION, orch__map_jstr(ZP_VERSION));
    if (m->oneoff)
        zp_node_set(labels, ORCH_LABEL_ONEOFF, orch__map_jstr("true"));
    zp_node_set(m->body, "Labels", labels);
    return 0;
}

/* ---- the service's keys ---- */

/* Keys read by other parts of zpanel, or mapped after the loop below. */
static const char *const elsewhere[] = {
    "build",        "image",     "depends_on",      "env_file",    "profiles",
    "pull_policy",  "scale",     "platform",        "extends",     "deploy",
    "cpus",         "mem_limit", "mem_reservation", "pids_limit",  "networks",
    "network_mode", "links",     "external_links",  "mac_address", "container_name",
    "labels",       NULL};

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static int map_key(struct mapper *m, const char *key, const struct zp_node *v)
{
    for (const struct simple *s = simple_fields; s->key; s++)
        if (strcmp(s->key, key) == 0)
            return map_simple(m, s, v);
    if (strcmp(key, "environment") == 0)
        return map_environment(m, v);
    if (strcmp(key, "ports") == 0)
        return orch__map_ports(m, v);
    if (strcmp(key, "expose") == 0)
        return orch__map_expose(m, v);
    if (strcmp(key, "volumes") == 0)
        return orch__map_volumes(m, v);
    if (strcmp(key, "tmpfs") == 0)
        return orch__map_tmpfs(m, v);
    if (strcmp(key, "secrets") == 0 || strcmp(key, "configs") == 0)
        return orch__map_file_refs(m, v, key);
    if (strcmp(key, "healthcheck") == 0)
        return orch__map_healthcheck(m, v);
    if (strcmp(key, "logging") == 0)
        return orch__map_logging(m, v);
    if (strcmp(key, "restart") == 0)
        return orch__map_restart(m, v);
    if (strcmp(key, "ulimits") == 0)
        return orch__map_ulimits(m, v);
    if (strcmp(key, "devices") == 0)
        return orch__map_devices(m, v);
    if (strcmp(key, "extra_hosts") == 0)
        return orch__map_extra_hosts(m, v);
    if (strcmp(key, "stop_grace_period") == 0)
        return orch__map_stop_grace(m, v);
    if (strcmp(key, "blkio_config") == 0)
        return orch__map_blkio(m, v);
    if (strcmp(key, "ipc") == 0)
        return orch__map_mode(m, v, key, "IpcMode");
    if (strcmp(key, "pid") == 0)
        return orch__map_mode(m, v, key, "PidMode");
    if (strcmp(key, "volumes_from") == 0)
        return orch__map_volumes_from(m, v);
    if (strcmp(key, "annotations") == 0)
        return orch__map_fail(m, zp_node_get_key(m->svc, key), key, API_TOO_OLD);
    if (in_list(key, elsewhere) || zp_str_has_prefix(key, "x-"))
        return 0;
    /* gpus: mapping-devices.c; hooks and attach: up, stop, logs; develop: watch */
    static const char *const runtime[] = {"gpus",    "post_start", "pre_stop", "attach",
                                          "develop", "label_file", NULL};
    if (in_list(key, runtime))
        return 0;
    return orch__map_fail(m, zp_node_get_key(m->svc, key), key,
                          "not supported by the container mapping");
}

static int map_service(struct mapper *m, const char *image, int number, const char *config_hash)
{
    int rc;
    zp_node_set(m->body, "Image", orch__map_jstr(image));
    for (size_t i = 0; i < m->svc->n; i++)
        if ((rc = map_key(m, m->svc->pairs[i].key->str, m->svc->pairs[i].value)) < 0)
            return rc;

    const char *mac = zp_node_get_str(m->svc, "mac_address");
    if (mac != NULL)
        zp_node_set(m->body, "MacAddress", orch__map_jstr(mac));
    char num[24];
    snprintf(num, sizeof(num), "%d", number);
    if ((rc = map_labels(m, zp_node_get(m->svc, "labels"), num, config_hash)) < 0)
        return rc;
    if ((rc = orch__map_resources(m)) < 0)
        return rc;

    struct zp_node *links = zp_node_new_seq(NULL);
    const struct zp_node *l = zp_node_get(m->svc, "links");
    const struct zp_node *el = zp_node_get(m->svc, "external_links");
    if (l != NULL)
        rc = orch__map_links(m, l, "links", false, links);
    if (rc == 0 && el != NULL)
        rc = orch__map_links(m, el, "external_links", true, links);
    const struct zp_node *nm = zp_node_get(m->svc, "network_mode");
    const struct zp_node *nets = zp_node_get(m->svc, "networks");
    if (rc == 0 && nm != NULL && nets != NULL && nets->n > 0)
        rc = orch__map_fail(m, zp_node_get_key(m->svc, "network_mode"), "network_mode",
                            "cannot be used together with networks");
    if (rc == 0 && nm != NULL) {
        rc = orch__map_mode(m, nm, "network_mode", "NetworkMode");
        /* legacy links exist on the default bridge only (the engine refuses them with the
         * host's, none or another container's network) */
        bool bridge = nm->kind == ZP_NODE_SCALAR &&
                      (strcmp(nm->str, "bridge") == 0 || strcmp(nm->str, "default") == 0);
        if (rc == 0 && links->n > 0 && !bridge)
            rc = orch__map_fail(
                m, zp_node_get(m->svc, l ? "links" : "external_links"),
                l ? "links" : "external_links",
                "cannot be used with network_mode '%s': links need the bridge network or "
                "a network of the project",
                nm->str);
        else if (rc == 0 && links->n > 0)
            zp_node_set(m->hc, "Links", zp_node_copy(links));
    } else if (rc == 0 && nets != NULL && nets->n > 0) {
        rc = orch__map_networks(m, nets, links);
    } else if (rc == 0 && links->n > 0) {
        zp_node_set(m->hc, "Links", zp_node_copy(links));
    }
    zp_node_free(links);
    if (rc == 0)
        rc = orch__map_route(m);
    return rc;
}

int orch_container_spec(const struct compose_project *p, const char *service,
                        const struct zp_node *svc, int number, const char *image,
                        const char *image_id, const char *config_hash, bool oneoff, int api_minor,
                        orch_resolve_fn resolve, void *resolve_ud, struct orch_container_spec *ret,
                        struct zp_err *err)
{
    (void)image_id; /* the reference goes in the body; the ID is part of config_hash */
    struct orch_container_spec spec = {0};
    struct mapper m = {
        .p = p,
        .service = service,
        .svc = svc,
        .path = zp_path_key("services", service),
        .oneoff = oneoff,
        .api_minor = api_minor,
        .resolve = resolve,
        .resolve_ud = resolve_ud,
        .err = err,
        .body = zp_node_new_map(NULL),
        .spec = &spec,
    };
    m.hc = orch__map_jmap_at(m.body, "HostConfig");
    spec.name =
        orch__container_name(p->name, service, zp_node_get_str(svc, "container_name"), number);
    spec.image = zp_strdup(image);
    int rc = svc != NULL && svc->kind == ZP_NODE_MAP
                 ? map_service(&m, image, number, config_hash)
                 : orch__map_fail(&m, svc, "", "must be a mapping");
    if (rc == 0 && oneoff) {
        /* a one-off attached to stdin: the engine closes stdin (not the output) when the
         * client's stdin ends, so `echo x | zpanel run svc cat` prints x */
        struct zp_node *os = zp_node_get(m.body, "OpenStdin");
        if (os != NULL && os->type == ZP_BOOL && strcmp(os->str, "true") == 0) {
            zp_node_set(m.body, "StdinOnce", zp_node_new_bool(true, NULL));
            zp_node_set(m.body, "AttachStdin", zp_node_new_bool(true, NULL));
            zp_node_set(m.body, "AttachStdout", zp_node_new_bool(true, NULL));
            zp_node_set(m.body, "AttachStderr", zp_node_new_bool(true, NULL));
        }
    }
    if (rc == 0) {
        struct zp_buf b = ZP_BUF_INIT;
        if (compose_emit_json(m.body, false, &b) != 0)
            ZP_BUG("emitting a create body failed");
        spec.json = zp_buf_detach(&b, NULL);
        *ret = spec;
    } else {
        orch_container_spec_release(&spec);
    }
    zp_node_free(m.body);
    free(m.path);
    return rc;
}

void orch_container_spec_release(struct orch_container_spec *s)
{
    if (s == NULL)
        return;
    free(s->name);
    free(s->image);
    free(s->json);
    for (size_t i = 0; i < s->nnetworks; i++) {
        struct orch_netattach *na = &s->networks[i];
        free(na->network);
        for (size_t k = 0; na->aliases && na->aliases[k]; k++)
            free(na->aliases[k]);
        free(na->aliases);
        free(na->ipv4_address);
        free(na->ipv6_address);
    }
    free(s->networks);
    for (size_t i = 0; i < s->nbind_dirs; i++)
        free(s->bind_dirs[i]);
    free(s->bind_dirs);
    memset(s, 0, sizeof(*s));
}

/* ---- image and hash ---- */

char *orch_service_image(const char *project, const char *service, const struct zp_node *svc)
{
    const char *image = zp_node_get_str(svc, "image");
    if (image != NULL && image[0] != '\0')
        return zp_strdup(image);
    return zp_asprintf("%s-%s", project, service);
}

/* SHA-256 of "<compose_service_hash(svc)>\n<image_id>": the service's canonical JSON hash
 * (key order and positions do not matter) joined with the image ID ("" when unknown), so
 * a rebuilt or retagged image changes the hash as much as an edited definition does. */
void orch_config_hash(const struct zp_node *svc, const char *image_id, char out[65])
{
    char svc_hash[65];
    compose_service_hash(svc, svc_hash);
    char *s = zp_asprintf("%s\n%s", svc_hash, image_id ? image_id : "");
    zp_sha256_hex(s, strlen(s), out);
    free(s);
}

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

#include "mapping-devices.h"
#include "orchestrator-int.h"
#include "routes.h"

#include "../util/banned.h"

#define API_TOO_OLD "not supported by the engine's API version (1.41)"

struct mapper {
    const struct compose_project *p;
    const char *service;
    const struct zp_node *svc;
    char *path; /* "services.web" */
    bool oneoff;
    orch_resolve_fn resolve;
    void *resolve_ud;
    struct zp_err *err;
    struct zp_node *body; /* ContainerConfig at the top, HostConfig under it */
    struct zp_node *hc;   /* borrowed from body */
    struct orch_container_spec *spec;
};

/* ---- small tree helpers ---- */

static struct zp_node *jstr(const char *s)
{
    return zp_node_new_str(s, NULL);
}

static struct zp_node *jint(int64_t v)
{
    return zp_node_new_int(v, NULL);
}

static struct zp_node *jbool(bool v)
{
    return zp_node_new_bool(v, NULL);
}

/* map[key] as a map, created when missing. */
static struct zp_node *jmap_at(struct zp_node *map, const char *key)
{
    struct zp_node *m = zp_node_get(map, key);
    if (m == NULL) {
        m = zp_node_new_map(NULL);
        zp_node_set(map, key, m);
    }
    return m;
}

/* map[key] as a sequence, created when missing. */
static struct zp_node *jseq_at(struct zp_node *map, const char *key)
{
    struct zp_node *s = zp_node_get(map, key);
    if (s == NULL) {
        s = zp_node_new_seq(NULL);
        zp_node_set(map, key, s);
    }
    return s;
}

static bool is_true(const struct zp_node *n)
{
    return n != NULL && n->kind == ZP_NODE_SCALAR && n->type == ZP_BOOL &&
           strcmp(n->str, "true") == 0;
}

/* An error at node n (or the service when NULL) for field (relative to the service):
 * "services.web.FIELD: message". */
ZP_PRINTF(4, 5)
static int fail(struct mapper *m, const struct zp_node *n, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = zp_vasprintf(fmt, ap);
    va_end(ap);
    const struct zp_node *at = n ? n : m->svc;
    zp_err_set(m->err, ZP_E_INPUT, at && at->pos.line > 0 ? &at->pos : NULL, "%s%s%s: %s", m->path,
               field[0] == '[' || field[0] == '\0' ? "" : ".", field, msg);
    free(msg);
    return ZP_E_INPUT;
}

/* An integer scalar of the model; the normaliser guarantees the type, a wrong one is an
 * input error all the same. */
static int get_int(struct mapper *m, const struct zp_node *n, const char *field, int64_t *ret)
{
    if (n == NULL || n->kind != ZP_NODE_SCALAR || n->type != ZP_INT ||
        zp_parse_int64(n->str, INT64_MIN, INT64_MAX, ret) != 0)
        return fail(m, n, field, "must be an integer");
    return 0;
}

static int get_str(struct mapper *m, const struct zp_node *n, const char *field, const char **ret)
{
    if (n == NULL || n->kind != ZP_NODE_SCALAR || n->type == ZP_NULL)
        return fail(m, n, field, "must be a string");
    *ret = n->str;
    return 0;
}

/* A copy of a sequence of strings. */
static int str_list(struct mapper *m, const struct zp_node *n, const char *field,
                    struct zp_node **ret)
{
    if (n == NULL || n->kind != ZP_NODE_SEQ)
        return fail(m, n, field, "must be a list of strings");
    struct zp_node *seq = zp_node_new_seq(NULL);
    for (size_t i = 0; i < n->n; i++) {
        const char *s = NULL;
        char *f = zp_asprintf("%s[%zu]", field, i);
        int rc = get_str(m, n->items[i], f, &s);
        free(f);
        if (rc < 0) {
            zp_node_free(seq);
            return rc;
        }
        zp_node_push(seq, jstr(s));
    }
    *ret = seq;
    return 0;
}

/* A copy of a map str -> str (null values become ""). */
static int str_map(struct mapper *m, const struct zp_node *n, const char *field,
                   struct zp_node **ret)
{
    if (n == NULL || n->kind != ZP_NODE_MAP)
        return fail(m, n, field, "must be a mapping of strings");
    struct zp_node *map = zp_node_new_map(NULL);
    for (size_t i = 0; i < n->n; i++) {
        const struct zp_node *v = n->pairs[i].value;
        if (v->kind != ZP_NODE_SCALAR) {
            zp_node_free(map);
            return fail(m, v, field, "must be a mapping of strings");
        }
        zp_node_set(map, n->pairs[i].key->str, jstr(v->type == ZP_NULL ? "" : v->str));
    }
    *ret = map;
    return 0;
}

/* Fail on any key of map (an object of the model at field) that is not in known. */
static int check_keys(struct mapper *m, const struct zp_node *map, const char *field,
                      const char *const *known)
{
    if (map == NULL || map->kind != ZP_NODE_MAP)
        return 0;
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->pairs[i].key->str;
        bool ok = zp_str_has_prefix(k, "x-");
        for (size_t j = 0; !ok && known[j]; j++)
            ok = strcmp(k, known[j]) == 0;
        if (!ok) {
            char *f = zp_asprintf("%s.%s", field, k);
            int rc = fail(m, map->pairs[i].key, f, "not supported by the container mapping");
            free(f);
            return rc;
        }
    }
    return 0;
}

/* "service:x" -> "container:<x's container>" through the caller's resolver. */
static int resolve_service(struct mapper *m, const struct zp_node *at, const char *field,
                           const char *service, char **ret)
{
    char *c = m->resolve ? m->resolve(m->resolve_ud, service) : NULL;
    if (c == NULL)
        return fail(m, at, field, "no container found for service '%s'", service);
    *ret = c;
    return 0;
}

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
        if ((rc = get_str(m, v, s->key, &str)) == 0)
            out = jstr(str);
        break;
    case K_INT:
        if ((rc = get_int(m, v, s->key, &i)) == 0)
            out = jint(i);
        break;
    case K_BOOL:
        if (v->kind != ZP_NODE_SCALAR || v->type != ZP_BOOL)
            rc = fail(m, v, s->key, "must be a boolean");
        else
            out = jbool(is_true(v));
        break;
    case K_LIST:
        rc = str_list(m, v, s->key, &out);
        break;
    case K_MAP:
        rc = str_map(m, v, s->key, &out);
        break;
    case K_CMD:
        /* null keeps the image's; [] clears it (the engine tells nil from empty) */
        if (zp_node_is_null(v))
            return 0;
        rc = str_list(m, v, s->key, &out);
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
        return fail(m, v, "environment", "must be a mapping");
    struct zp_node *env = zp_node_new_seq(NULL);
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *val = v->pairs[i].value;
        if (zp_node_is_null(val))
            continue; /* unset and not in the environment: the variable is not passed */
        char *kv = zp_asprintf("%s=%s", v->pairs[i].key->str, val->str ? val->str : "");
        zp_node_push(env, jstr(kv));
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
        int rc = str_map(m, v, "labels", &labels);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < labels->n; i++) {
            if (zp_str_has_prefix(labels->pairs[i].key->str, "io.zpanel.")) {
                char *f = zp_path_key("labels", labels->pairs[i].key->str);
                rc = fail(m, zp_node_get_key(v, labels->pairs[i].key->str), f,
                          "the label prefix 'io.zpanel.' is reserved for zpanel");
                free(f);
                zp_node_free(labels);
                return rc;
            }
        }
    } else {
        labels = zp_node_new_map(NULL);
    }
    zp_node_set(labels, ORCH_LABEL_PROJECT, jstr(m->p->name));
    zp_node_set(labels, ORCH_LABEL_SERVICE, jstr(m->service));
    zp_node_set(labels, ORCH_LABEL_HASH, jstr(config_hash));
    zp_node_set(labels, ORCH_LABEL_NUMBER, jstr(number));
    zp_node_set(labels, ORCH_LABEL_VERSION, jstr(ZP_VERSION));
    if (m->oneoff)
        zp_node_set(labels, ORCH_LABEL_ONEOFF, jstr("true"));
    zp_node_set(m->body, "Labels", labels);
    return 0;
}

/* ---- ports ---- */

static void expose_port(struct mapper *m, const char *key)
{
    zp_node_set(jmap_at(m->body, "ExposedPorts"), key, zp_node_new_map(NULL));
}

static int map_ports(struct mapper *m, const struct zp_node *v)
{
    static const char *const known[] = {"mode",     "host_ip",      "target", "published",
                                        "protocol", "app_protocol", "name",   NULL};
    if (v->kind != ZP_NODE_SEQ)
        return fail(m, v, "ports", "must be a list");
    struct zp_node *pb = jmap_at(m->hc, "PortBindings");
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *p = v->items[i];
        char *f = zp_asprintf("ports[%zu]", i);
        int64_t target = 0;
        int rc = check_keys(m, p, f, known);
        if (rc == 0) {
            char *tf = zp_asprintf("%s.target", f);
            rc = get_int(m, zp_node_get(p, "target"), tf, &target);
            free(tf);
        }
        free(f);
        if (rc < 0)
            return rc;
        const char *proto = zp_node_get_str(p, "protocol");
        char *key = zp_asprintf("%lld/%s", (long long)target, proto ? proto : "tcp");
        expose_port(m, key);
        struct zp_node *b = zp_node_new_map(NULL);
        const char *ip = zp_node_get_str(p, "host_ip");
        zp_node_set(b, "HostIp", jstr(ip ? ip : "")); /* "": every address */
        /* not published: an empty HostPort lets the engine pick one, as compose does */
        const char *pub = zp_node_get_str(p, "published");
        zp_node_set(b, "HostPort", jstr(pub ? pub : ""));
        zp_node_push(jseq_at(pb, key), b);
        free(key);
    }
    return 0;
}

/* expose: "80", "8000-8010", "53/udp". */
static int map_expose(struct mapper *m, const struct zp_node *v)
{
    if (v->kind != ZP_NODE_SEQ)
        return fail(m, v, "expose", "must be a list");
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *it = v->items[i];
        if (it->kind != ZP_NODE_SCALAR)
            return fail(m, it, "expose", "must be a list of strings");
        char *s = zp_strdup(it->str);
        const char *proto = "tcp";
        char *slash = strchr(s, '/');
        if (slash != NULL) {
            *slash = '\0';
            proto = slash + 1;
        }
        char *dash = strchr(s, '-');
        if (dash != NULL)
            *dash = '\0';
        int64_t lo = 0, hi = 0;
        bool ok = zp_parse_int64(s, 1, 65535, &lo) == 0 &&
                  (dash == NULL ? (hi = lo, true) : zp_parse_int64(dash + 1, lo, 65535, &hi) == 0);
        if (ok) {
            for (int64_t port = lo; port <= hi; port++) {
                char *key = zp_asprintf("%lld/%s", (long long)port, proto);
                expose_port(m, key);
                free(key);
            }
        }
        free(s);
        if (!ok) {
            char *f = zp_asprintf("expose[%zu]", i);
            int rc = fail(m, it, f, "invalid port '%s'", it->str);
            free(f);
            return rc;
        }
    }
    return 0;
}

/* ---- volumes, tmpfs, secrets and configs ---- */

static void add_mount(struct mapper *m, struct zp_node *mount)
{
    zp_node_push(jseq_at(m->hc, "Mounts"), mount);
}

static void add_bind_dir(struct mapper *m, const char *dir)
{
    struct orch_container_spec *s = m->spec;
    for (size_t i = 0; i < s->nbind_dirs; i++)
        if (strcmp(s->bind_dirs[i], dir) == 0)
            return;
    s->bind_dirs = zp_realloc(s->bind_dirs, (s->nbind_dirs + 1) * sizeof(*s->bind_dirs));
    s->bind_dirs[s->nbind_dirs++] = zp_strdup(dir);
}

/* The map_*_mount helpers below take ownership of mount (added or freed).
 * A bind mount with an SELinux label cannot go through Mounts (the API has no field for
 * it): it becomes a HostConfig.Binds entry "src:dst:opts" instead. */
static int map_bind(struct mapper *m, const struct zp_node *vol, const char *f,
                    struct zp_node *mount)
{
    static const char *const known[] = {"create_host_path", "propagation", "selinux", "recursive",
                                        NULL};
    const struct zp_node *bind = zp_node_get(vol, "bind");
    char *bf = zp_asprintf("%s.bind", f);
    int rc = check_keys(m, bind, bf, known);
    const char *prop = zp_node_get_str(bind, "propagation");
    const char *selinux = zp_node_get_str(bind, "selinux");
    const char *rec = zp_node_get_str(bind, "recursive");
    const char *src = zp_node_get_str(vol, "source");
    if (rc == 0 && rec != NULL && strcmp(rec, "enabled") != 0 && strcmp(rec, "disabled") != 0) {
        char *rf = zp_asprintf("%s.recursive", bf);
        rc = fail(m, zp_node_get(bind, "recursive"), rf, "'%s' is %s", rec, API_TOO_OLD);
        free(rf);
    }
    if (rc == 0 && selinux != NULL && rec != NULL && strcmp(rec, "disabled") == 0)
        rc = fail(m, zp_node_get(bind, "selinux"), bf,
                  "selinux and recursive: disabled cannot be combined");
    free(bf);
    if (rc < 0) {
        zp_node_free(mount);
        return rc;
    }
    if (is_true(zp_node_get(bind, "create_host_path")))
        add_bind_dir(m, src);
    if (selinux != NULL) {
        struct zp_buf b = ZP_BUF_INIT;
        zp_buf_addf(&b, "%s:%s:%s,%s", src, zp_node_get_str(vol, "target"),
                    is_true(zp_node_get(vol, "read_only")) ? "ro" : "rw", selinux);
        if (prop != NULL)
            zp_buf_addf(&b, ",%s", prop);
        zp_node_push(jseq_at(m->hc, "Binds"), jstr(zp_buf_cstr(&b)));
        zp_buf_release(&b);
        zp_node_free(mount);
        return 0;
    }
    if (prop != NULL || (rec != NULL && strcmp(rec, "disabled") == 0)) {
        struct zp_node *bo = jmap_at(mount, "BindOptions");
        if (prop != NULL)
            zp_node_set(bo, "Propagation", jstr(prop));
        if (rec != NULL && strcmp(rec, "disabled") == 0)
            zp_node_set(bo, "NonRecursive", jbool(true));
    }
    add_mount(m, mount);
    return 0;
}

static int map_volume_mount(struct mapper *m, const struct zp_node *vol, const char *f,
                            struct zp_node *mount)
{
    static const char *const known[] = {"nocopy", "subpath", "labels", NULL};
    const struct zp_node *opts = zp_node_get(vol, "volume");
    char *of = zp_asprintf("%s.volume", f);
    int rc = check_keys(m, opts, of, known);
    if (rc == 0 && zp_node_get(opts, "subpath") != NULL) {
        char *sf = zp_asprintf("%s.subpath", of);
        rc = fail(m, zp_node_get(opts, "subpath"), sf, API_TOO_OLD);
        free(sf);
    }
    free(of);
    if (rc < 0) {
        zp_node_free(mount);
        return rc;
    }
    const struct zp_node *src = zp_node_get(vol, "source");
    if (src != NULL) {
        /* a named volume: the engine name from the top-level definition */
        const struct zp_node *def = zp_node_get(zp_node_get(m->p->model, "volumes"), src->str);
        const char *name = zp_node_get_str(def, "name");
        if (def == NULL || name == NULL) {
            char *sf = zp_asprintf("%s.source", f);
            rc = fail(m, src, sf, "volume '%s' is not defined in the top-level volumes", src->str);
            free(sf);
            zp_node_free(mount);
            return rc;
        }
        zp_node_set(mount, "Source", jstr(name));
    }
    struct zp_node *vo = NULL;
    if (is_true(zp_node_get(opts, "nocopy")))
        zp_node_set(vo = jmap_at(mount, "VolumeOptions"), "NoCopy", jbool(true));
    const struct zp_node *labels = zp_node_get(opts, "labels");
    if (labels != NULL) {
        struct zp_node *l = NULL;
        char *lf = zp_asprintf("%s.volume.labels", f);
        rc = str_map(m, labels, lf, &l);
        free(lf);
        if (rc < 0) {
            zp_node_free(mount);
            return rc;
        }
        zp_node_set(vo ? vo : jmap_at(mount, "VolumeOptions"), "Labels", l);
    }
    add_mount(m, mount);
    return 0;
}

static int map_tmpfs_mount(struct mapper *m, const struct zp_node *vol, const char *f,
                           struct zp_node *mount)
{
    static const char *const known[] = {"size", "mode", NULL};
    const struct zp_node *opts = zp_node_get(vol, "tmpfs");
    char *of = zp_asprintf("%s.tmpfs", f);
    int rc = check_keys(m, opts, of, known);
    int64_t size = 0, mode = 0;
    const struct zp_node *sn = zp_node_get(opts, "size");
    const struct zp_node *mn = zp_node_get(opts, "mode");
    if (rc == 0 && sn != NULL)
        rc = get_int(m, sn, of, &size);
    if (rc == 0 && mn != NULL)
        rc = get_int(m, mn, of, &mode);
    free(of);
    if (rc < 0) {
        zp_node_free(mount);
        return rc;
    }
    if (sn != NULL || mn != NULL) {
        struct zp_node *to = jmap_at(mount, "TmpfsOptions");
        if (sn != NULL)
            zp_node_set(to, "SizeBytes", jint(size));
        if (mn != NULL)
            zp_node_set(to, "Mode", jint(mode));
    }
    add_mount(m, mount);
    return 0;
}

static int map_volumes(struct mapper *m, const struct zp_node *v)
{
    static const char *const known[] = {"type", "source", "target", "read_only", "consistency",
                                        "bind", "volume", "tmpfs",  "image",     NULL};
    if (v->kind != ZP_NODE_SEQ)
        return fail(m, v, "volumes", "must be a list");
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *vol = v->items[i];
        char *f = zp_asprintf("volumes[%zu]", i);
        int rc = check_keys(m, vol, f, known);
        const char *type = zp_node_get_str(vol, "type");
        const char *target = zp_node_get_str(vol, "target");
        if (rc == 0 && (type == NULL || target == NULL))
            rc = fail(m, vol, f, "a mount needs a type and a target");
        if (rc < 0) {
            free(f);
            return rc;
        }
        struct zp_node *mount = zp_node_new_map(NULL);
        zp_node_set(mount, "Type", jstr(type));
        zp_node_set(mount, "Target", jstr(target));
        const char *src = zp_node_get_str(vol, "source");
        if (is_true(zp_node_get(vol, "read_only")))
            zp_node_set(mount, "ReadOnly", jbool(true));
        const char *cons = zp_node_get_str(vol, "consistency");
        if (cons != NULL)
            zp_node_set(mount, "Consistency", jstr(cons));
        if (strcmp(type, "bind") == 0) {
            if (src == NULL) {
                zp_node_free(mount);
                rc = fail(m, vol, f, "a bind mount needs a 'source'");
            } else {
                zp_node_set(mount, "Source", jstr(src));
                rc = map_bind(m, vol, f, mount);
            }
        } else if (strcmp(type, "volume") == 0) {
            rc = map_volume_mount(m, vol, f, mount);
        } else if (strcmp(type, "tmpfs") == 0) {
            rc = map_tmpfs_mount(m, vol, f, mount);
        } else {
            zp_node_free(mount);
            char *tf = zp_asprintf("%s.type", f);
            rc = fail(m, zp_node_get(vol, "type"), tf, "volume type '%s' is %s", type,
                      strcmp(type, "image") == 0 ? API_TOO_OLD
                                                 : "not supported by the container mapping");
            free(tf);
        }
        free(f);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* tmpfs: "/run" or "/run:size=64k,mode=1777" -> HostConfig.Tmpfs {"/run": "size=..."}. */
static int map_tmpfs(struct mapper *m, const struct zp_node *v)
{
    if (v->kind != ZP_NODE_SEQ)
        return fail(m, v, "tmpfs", "must be a list");
    struct zp_node *t = jmap_at(m->hc, "Tmpfs");
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *it = v->items[i];
        if (it->kind != ZP_NODE_SCALAR || it->str[0] != '/') {
            char *f = zp_asprintf("tmpfs[%zu]", i);
            int rc = fail(m, it, f, "must be an absolute path, optionally followed by :options");
            free(f);
            return rc;
        }
        const char *colon = strchr(it->str, ':');
        char *path = colon ? zp_strndup(it->str, (size_t)(colon - it->str)) : zp_strdup(it->str);
        zp_node_set(t, path, jstr(colon ? colon + 1 : ""));
        free(path);
    }
    return 0;
}

/* secrets / configs with a file: read-only bind mounts at /run/secrets/<target> (secrets)
 * or /<target> (configs), as compose does without swarm. */
static int map_file_refs(struct mapper *m, const struct zp_node *v, const char *kind)
{
    static const char *const known[] = {"source", "target", "uid", "gid", "mode", NULL};
    bool secret = strcmp(kind, "secrets") == 0;
    if (v->kind != ZP_NODE_SEQ)
        return fail(m, v, kind, "must be a list");
    const struct zp_node *defs = zp_node_get(m->p->model, kind);
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *ref = v->items[i];
        char *f = zp_asprintf("%s[%zu]", kind, i);
        int rc = check_keys(m, ref, f, known);
        const char *src = zp_node_get_str(ref, "source");
        const struct zp_node *def = src ? zp_node_get(defs, src) : NULL;
        const char *file = zp_node_get_str(def, "file");
        const char *target = zp_node_get_str(ref, "target");
        if (rc < 0) {
            /* reported */
        } else if (src == NULL || def == NULL) {
            rc = fail(m, ref, f, "'%s' is not defined in the top-level %s", src ? src : "", kind);
        } else if (is_true(zp_node_get(def, "external"))) {
            rc = fail(m, ref, f, "external %s need swarm; use a file-based one", kind);
        } else if (file == NULL) {
            rc = fail(m, ref, f,
                      "%s from 'environment' or 'content' are not supported yet; use 'file'", kind);
        } else {
            static const char *const owner[] = {"uid", "gid", "mode", NULL};
            for (size_t k = 0; rc == 0 && owner[k]; k++) {
                if (zp_node_get(ref, owner[k]) == NULL)
                    continue;
                char *of = zp_asprintf("%s.%s", f, owner[k]);
                rc = fail(m, zp_node_get(ref, owner[k]), of,
                          "not supported without swarm: the %s is bind-mounted and keeps the "
                          "owner and mode of '%s'",
                          secret ? "secret" : "config", file);
                free(of);
            }
        }
        free(f);
        if (rc < 0)
            return rc;
        const char *name = target ? target : src;
        char *dst;
        if (name[0] == '/')
            dst = zp_strdup(name);
        else
            dst = zp_asprintf("%s/%s", secret ? "/run/secrets" : "", name);
        struct zp_node *mount = zp_node_new_map(NULL);
        zp_node_set(mount, "Type", jstr("bind"));
        zp_node_set(mount, "Source", jstr(file));
        zp_node_set(mount, "Target", jstr(dst));
        zp_node_set(mount, "ReadOnly", jbool(true));
        add_mount(m, mount);
        free(dst);
    }
    return 0;
}

/* ---- healthcheck, logging, restart ---- */

static int duration_ns(struct mapper *m, const struct zp_node *n, const char *field, int64_t *ret)
{
    if (n == NULL || n->kind != ZP_NODE_SCALAR || zp_parse_duration(n->str, true, ret) != 0)
        return fail(m, n, field, "invalid duration");
    return 0;
}

static int map_healthcheck(struct mapper *m, const struct zp_node *v)
{
    static const char *const known[] = {"test",    "interval",       "timeout", "start_period",
                                        "retries", "start_interval", "disable", NULL};
    static const struct {
        const char *key, *field;
    } durations[] = {
        {"interval", "Interval"}, {"timeout", "Timeout"}, {"start_period", "StartPeriod"}};
    int rc = check_keys(m, v, "healthcheck", known);
    if (rc < 0)
        return rc;
    if (v->kind != ZP_NODE_MAP)
        return fail(m, v, "healthcheck", "must be a mapping");
    if (zp_node_get(v, "start_interval") != NULL)
        return fail(m, zp_node_get(v, "start_interval"), "healthcheck.start_interval", API_TOO_OLD);
    struct zp_node *hc = zp_node_new_map(NULL);
    const struct zp_node *test = zp_node_get(v, "test");
    if (test != NULL) {
        struct zp_node *t = NULL;
        if ((rc = str_list(m, test, "healthcheck.test", &t)) < 0)
            goto out;
        zp_node_set(hc, "Test", t);
    }
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        const struct zp_node *d = zp_node_get(v, durations[i].key);
        int64_t ns = 0;
        if (d == NULL)
            continue;
        char *f = zp_asprintf("healthcheck.%s", durations[i].key);
        rc = duration_ns(m, d, f, &ns);
        free(f);
        if (rc < 0)
            goto out;
        zp_node_set(hc, durations[i].field, jint(ns));
    }
    const struct zp_node *retries = zp_node_get(v, "retries");
    if (retries != NULL) {
        int64_t r = 0;
        if ((rc = get_int(m, retries, "healthcheck.retries", &r)) < 0)
            goto out;
        zp_node_set(hc, "Retries", jint(r));
    }
    zp_node_set(m->body, "Healthcheck", hc);
    hc = NULL;
out:
    zp_node_free(hc);
    return rc;
}

static int map_logging(struct mapper *m, const struct zp_node *v)
{
    static const char *const known[] = {"driver", "options", NULL};
    int rc = check_keys(m, v, "logging", known);
    if (rc < 0)
        return rc;
    struct zp_node *lc = zp_node_new_map(NULL);
    const char *driver = zp_node_get_str(v, "driver");
    /* no driver: the daemon's default driver with these options */
    zp_node_set(lc, "Type", jstr(driver ? driver : ""));
    const struct zp_node *opts = zp_node_get(v, "options");
    if (opts != NULL && !zp_node_is_null(opts)) {
        struct zp_node *o = NULL;
        if ((rc = str_map(m, opts, "logging.options", &o)) < 0) {
            zp_node_free(lc);
            return rc;
        }
        zp_node_set(lc, "Config", o);
    }
    zp_node_set(m->hc, "LogConfig", lc);
    return 0;
}

static void set_restart(struct mapper *m, const char *name, int64_t retries)
{
    struct zp_node *rp = zp_node_new_map(NULL);
    zp_node_set(rp, "Name", jstr(name));
    zp_node_set(rp, "MaximumRetryCount", jint(retries));
    zp_node_set(m->hc, "RestartPolicy", rp);
}

/* restart: no | always | unless-stopped | on-failure[:N]. */
static int map_restart(struct mapper *m, const struct zp_node *v)
{
    int64_t n = 0;
    if (v->kind != ZP_NODE_SCALAR)
        return fail(m, v, "restart", "must be a string");
    if (zp_str_has_prefix(v->str, "on-failure:")) {
        if (zp_parse_int64(v->str + strlen("on-failure:"), 0, INT32_MAX, &n) != 0)
            return fail(m, v, "restart", "invalid restart policy '%s'", v->str);
        set_restart(m, "on-failure", n);
        return 0;
    }
    if (strcmp(v->str, "no") != 0 && strcmp(v->str, "always") != 0 &&
        strcmp(v->str, "on-failure") != 0 && strcmp(v->str, "unless-stopped") != 0)
        return fail(m, v, "restart", "invalid restart policy '%s'", v->str);
    set_restart(m, v->str, 0);
    return 0;
}

/* deploy.restart_policy, used when there is no `restart`: condition none -> "no",
 * on-failure -> "on-failure" (max_attempts as the retry count), any (the default) ->
 * "always". delay and window are swarm-only. */
static int map_restart_policy(struct mapper *m, const struct zp_node *rp)
{
    static const char *const known[] = {"condition", "delay", "max_attempts", "window", NULL};
    int rc = check_keys(m, rp, "deploy.restart_policy", known);
    if (rc < 0)
        return rc;
    const char *cond = zp_node_get_str(rp, "condition");
    int64_t max = 0;
    const struct zp_node *mx = zp_node_get(rp, "max_attempts");
    if (mx != NULL && (rc = get_int(m, mx, "deploy.restart_policy.max_attempts", &max)) < 0)
        return rc;
    if (cond == NULL || strcmp(cond, "any") == 0)
        set_restart(m, "always", 0);
    else if (strcmp(cond, "none") == 0)
        set_restart(m, "no", 0);
    else if (strcmp(cond, "on-failure") == 0)
        set_restart(m, "on-failure", max);
    else
        return fail(m, zp_node_get(rp, "condition"), "deploy.restart_policy.condition",
                    "invalid condition '%s'", cond);
    return 0;
}

/* ---- ulimits, devices, extra_hosts, stop_grace_period, blkio ---- */

static int map_ulimits(struct mapper *m, const struct zp_node *v)
{
    if (v->kind != ZP_NODE_MAP)
        return fail(m, v, "ulimits", "must be a mapping");
    struct zp_node *out = zp_node_new_seq(NULL);
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *u = v->pairs[i].value;
        char *f = zp_path_key("ulimits", v->pairs[i].key->str);
        int64_t soft = 0, hard = 0;
        int rc;
        if (u->kind == ZP_NODE_MAP) {
            rc = get_int(m, zp_node_get(u, "soft"), f, &soft);
            if (rc == 0)
                rc = get_int(m, zp_node_get(u, "hard"), f, &hard);
        } else {
            rc = get_int(m, u, f, &soft);
            hard = soft;
        }
        free(f);
        if (rc < 0) {
            zp_node_free(out);
            return rc;
        }
        struct zp_node *e = zp_node_new_map(NULL);
        zp_node_set(e, "Name", jstr(v->pairs[i].key->str));
        zp_node_set(e, "Soft", jint(soft));
        zp_node_set(e, "Hard", jint(hard));
        zp_node_push(out, e);
    }
    zp_node_set(m->hc, "Ulimits", out);
    return 0;
}

static int map_devices(struct mapper *m, const struct zp_node *v)
{
    static const char *const known[] = {"source", "target", "permissions", NULL};
    if (v->kind != ZP_NODE_SEQ)
        return fail(m, v, "devices", "must be a list");
    struct zp_node *out = jseq_at(m->hc, "Devices");
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *d = v->items[i];
        char *f = zp_asprintf("devices[%zu]", i);
        int rc = check_keys(m, d, f, known);
        const char *src = zp_node_get_str(d, "source");
        if (rc == 0 && src == NULL)
            rc = fail(m, d, f, "a device needs a 'source'");
        free(f);
        if (rc < 0)
            return rc;
        const char *dst = zp_node_get_str(d, "target");
        const char *perm = zp_node_get_str(d, "permissions");
        struct zp_node *e = zp_node_new_map(NULL);
        zp_node_set(e, "PathOnHost", jstr(src));
        zp_node_set(e, "PathInContainer", jstr(dst ? dst : src));
        zp_node_set(e, "CgroupPermissions", jstr(perm ? perm : "rwm"));
        zp_node_push(out, e);
    }
    return 0;
}

/* "host=ip" -> "host:ip" (the engine splits at the first colon, so IPv6 works). */
static int map_extra_hosts(struct mapper *m, const struct zp_node *v)
{
    if (v->kind != ZP_NODE_SEQ)
        return fail(m, v, "extra_hosts", "must be a list");
    struct zp_node *out = zp_node_new_seq(NULL);
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *h = v->items[i];
        const char *eq = h->kind == ZP_NODE_SCALAR ? strchr(h->str, '=') : NULL;
        if (eq == NULL || eq == h->str) {
            zp_node_free(out);
            char *f = zp_asprintf("extra_hosts[%zu]", i);
            int rc = fail(m, h, f, "must be 'host=ip'");
            free(f);
            return rc;
        }
        char *s = zp_asprintf("%.*s:%s", (int)(eq - h->str), h->str, eq + 1);
        zp_node_push(out, jstr(s));
        free(s);
    }
    zp_node_set(m->hc, "ExtraHosts", out);
    return 0;
}

/* StopTimeout is whole seconds: a partial second is rounded up, so a container never gets
 * less time than the grace period asked for. */
static int map_stop_grace(struct mapper *m, const struct zp_node *v)
{
    int64_t ns = 0;
    int rc = duration_ns(m, v, "stop_grace_period", &ns);
    if (rc < 0)
        return rc;
    if (ns < 0)
        return fail(m, v, "stop_grace_period", "must not be negative");
    zp_node_set(m->body, "StopTimeout", jint(ns / 1000000000 + (ns % 1000000000 != 0)));
    return 0;
}

static int map_blkio(struct mapper *m, const struct zp_node *v)
{
    static const char *const known[] = {"weight",
                                        "weight_device",
                                        "device_read_bps",
                                        "device_write_bps",
                                        "device_read_iops",
                                        "device_write_iops",
                                        NULL};
    static const struct {
        const char *key, *field, *value_key, *value_field;
    } lists[] = {
        {"weight_device", "BlkioWeightDevice", "weight", "Weight"},
        {"device_read_bps", "BlkioDeviceReadBps", "rate", "Rate"},
        {"device_write_bps", "BlkioDeviceWriteBps", "rate", "Rate"},
        {"device_read_iops", "BlkioDeviceReadIOps", "rate", "Rate"},
        {"device_write_iops", "BlkioDeviceWriteIOps", "rate", "Rate"},
    };
    int rc = check_keys(m, v, "blkio_config", known);
    if (rc < 0)
        return rc;
    const struct zp_node *w = zp_node_get(v, "weight");
    if (w != NULL) {
        int64_t weight = 0;
        if ((rc = get_int(m, w, "blkio_config.weight", &weight)) < 0)
            return rc;
        zp_node_set(m->hc, "BlkioWeight", jint(weight));
    }
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        const struct zp_node *l = zp_node_get(v, lists[i].key);
        if (l == NULL)
            continue;
        if (l->kind != ZP_NODE_SEQ)
            return fail(m, l, lists[i].key, "must be a list");
        struct zp_node *out = zp_node_new_seq(NULL);
        for (size_t j = 0; j < l->n; j++) {
            char *f = zp_asprintf("blkio_config.%s[%zu]", lists[i].key, j);
            const char *path = NULL;
            int64_t val = 0;
            rc = get_str(m, zp_node_get(l->items[j], "path"), f, &path);
            if (rc == 0)
                rc = get_int(m, zp_node_get(l->items[j], lists[i].value_key), f, &val);
            free(f);
            if (rc < 0) {
                zp_node_free(out);
                return rc;
            }
            struct zp_node *e = zp_node_new_map(NULL);
            zp_node_set(e, "Path", jstr(path));
            zp_node_set(e, lists[i].value_field, jint(val));
            zp_node_push(out, e);
        }
        zp_node_set(m->hc, lists[i].field, out);
    }
    return 0;
}

/* ---- namespaces and links ---- */

/* network_mode, ipc, pid: "service:x" -> "container:<x's container>", else as written. */
static int map_mode(struct mapper *m, const struct zp_node *v, const char *key, const char *field)
{
    if (zp_node_is_null(v))
        return 0;
    if (v->kind != ZP_NODE_SCALAR)
        return fail(m, v, key, "must be a string");
    if (zp_str_has_prefix(v->str, "service:")) {
        char *c = NULL;
        int rc = resolve_service(m, v, key, v->str + strlen("service:"), &c);
        if (rc < 0)
            return rc;
        char *s = zp_asprintf("container:%s", c);
        zp_node_set(m->hc, field, jstr(s));
        free(s);
        free(c);
        return 0;
    }
    zp_node_set(m->hc, field, jstr(v->str));
    return 0;
}

/* volumes_from: "service[:ro|rw]" or "container:name[:ro|rw]". */
static int map_volumes_from(struct mapper *m, const struct zp_node *v)
{
    if (v->kind != ZP_NODE_SEQ)
        return fail(m, v, "volumes_from", "must be a list");
    struct zp_node *out = zp_node_new_seq(NULL);
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *it = v->items[i];
        if (it->kind != ZP_NODE_SCALAR) {
            zp_node_free(out);
            return fail(m, it, "volumes_from", "must be a list of strings");
        }
        if (zp_str_has_prefix(it->str, "container:")) {
            zp_node_push(out, jstr(it->str + strlen("container:")));
            continue;
        }
        const char *colon = strchr(it->str, ':');
        char *svc = colon ? zp_strndup(it->str, (size_t)(colon - it->str)) : zp_strdup(it->str);
        char *c = NULL, *f = zp_asprintf("volumes_from[%zu]", i);
        int rc = resolve_service(m, it, f, svc, &c);
        free(f);
        free(svc);
        if (rc < 0) {
            zp_node_free(out);
            return rc;
        }
        char *s = zp_asprintf("%s%s", c, colon ? colon : "");
        zp_node_push(out, jstr(s));
        free(s);
        free(c);
    }
    zp_node_set(m->hc, "VolumesFrom", out);
    return 0;
}

/* links "service[:alias]" -> "<container>:<alias>"; external_links "container[:alias]" as
 * written. Appended to seq. */
static int map_links(struct mapper *m, const struct zp_node *v, const char *key, bool external,
                     struct zp_node *seq)
{
    if (v->kind != ZP_NODE_SEQ)
        return fail(m, v, key, "must be a list");
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *it = v->items[i];
        if (it->kind != ZP_NODE_SCALAR)
            return fail(m, it, key, "must be a list of strings");
        if (external) {
            zp_node_push(seq, jstr(it->str));
            continue;
        }
        const char *colon = strchr(it->str, ':');
        char *svc = colon ? zp_strndup(it->str, (size_t)(colon - it->str)) : zp_strdup(it->str);
        char *c = NULL, *f = zp_asprintf("%s[%zu]", key, i);
        int rc = resolve_service(m, it, f, svc, &c);
        free(f);
        if (rc == 0) {
            char *s = zp_asprintf("%s:%s", c, colon ? colon + 1 : svc);
            zp_node_push(seq, jstr(s));
            free(s);
        }
        free(svc);
        free(c);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- networks ---- */

struct net_ref {
    const char *key;
    const struct zp_node *cfg; /* may be NULL */
    int64_t priority;
};

static int cmp_net(const void *a, const void *b)
{
    const struct net_ref *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    return strcmp(x->key, y->key);
}

static void push_unique(struct zp_node *seq, const char *s)
{
    for (size_t i = 0; i < seq->n; i++)
        if (strcmp(seq->items[i]->str, s) == 0)
            return;
    zp_node_push(seq, jstr(s));
}

/* The aliases of the container on one network: the service name, the aliases written,
 * the container name. A one-off (`run`) container gets none, so it never receives the
 * service's traffic. */
static int net_aliases(struct mapper *m, const struct zp_node *cfg, const char *f,
                       struct zp_node **ret)
{
    struct zp_node *al = zp_node_new_seq(NULL);
    if (!m->oneoff) {
        push_unique(al, m->service);
        const struct zp_node *a = zp_node_get(cfg, "aliases");
        if (a != NULL) {
            struct zp_node *copy = NULL;
            char *af = zp_asprintf("%s.aliases", f);
            int rc = str_list(m, a, af, &copy);
            free(af);
            if (rc < 0) {
                zp_node_free(al);
                return rc;
            }
            for (size_t i = 0; i < copy->n; i++)
                push_unique(al, copy->items[i]->str);
            zp_node_free(copy);
        }
        push_unique(al, m->spec->name);
    }
    *ret = al;
    return 0;
}

static int map_primary_network(struct mapper *m, const struct net_ref *r, const char *engine_name,
                               const char *f, struct zp_node *links)
{
    const struct zp_node *cfg = r->cfg;
    struct zp_node *ep = zp_node_new_map(NULL);
    struct zp_node *al = NULL;
    int rc = net_aliases(m, cfg, f, &al);
    if (rc < 0)
        goto out;
    if (al->n > 0)
        zp_node_set(ep, "Aliases", al);
    else
        zp_node_free(al);
    const char *v4 = zp_node_get_str(cfg, "ipv4_address");
    const char *v6 = zp_node_get_str(cfg, "ipv6_address");
    const struct zp_node *ll = zp_node_get(cfg, "link_local_ips");
    if (v4 != NULL || v6 != NULL || ll != NULL) {
        struct zp_node *ipam = jmap_at(ep, "IPAMConfig");
        if (v4 != NULL)
            zp_node_set(ipam, "IPv4Address", jstr(v4));
        if (v6 != NULL)
            zp_node_set(ipam, "IPv6Address", jstr(v6));
        if (ll != NULL) {
            struct zp_node *l = NULL;
            char *lf = zp_asprintf("%s.link_local_ips", f);
            rc = str_list(m, ll, lf, &l);
            free(lf);
            if (rc < 0)
                goto out;
            zp_node_set(ipam, "LinkLocalIPs", l);
        }
    }
    const struct zp_node *dopts = zp_node_get(cfg, "driver_opts");
    if (dopts != NULL) {
        struct zp_node *d = NULL;
        char *df = zp_asprintf("%s.driver_opts", f);
        rc = str_map(m, dopts, df, &d);
        free(df);
        if (rc < 0)
            goto out;
        zp_node_set(ep, "DriverOpts", d);
    }
    /* API 1.41 takes the MAC address of the first network from the container config */
    const char *mac = zp_node_get_str(cfg, "mac_address");
    if (mac != NULL) {
        const char *svc_mac = zp_node_get_str(m->svc, "mac_address");
        if (svc_mac != NULL && strcmp(svc_mac, mac) != 0) {
            char *mf = zp_asprintf("%s.mac_address", f);
            rc = fail(m, zp_node_get(cfg, "mac_address"), mf, "'%s' differs from mac_address '%s'",
                      mac, svc_mac);
            free(mf);
            goto out;
        }
        zp_node_set(m->body, "MacAddress", jstr(mac));
    }
    if (links->n > 0)
        zp_node_set(ep, "Links", zp_node_copy(links));
    struct zp_node *nc = jmap_at(jmap_at(m->body, "NetworkingConfig"), "EndpointsConfig");
    zp_node_set(nc, engine_name, ep);
    ep = NULL;
    zp_node_set(m->hc, "NetworkMode", jstr(engine_name));
out:
    zp_node_free(ep);
    return rc;
}

static int map_secondary_network(struct mapper *m, const struct net_ref *r, const char *engine_name,
                                 const char *f)
{
    static const char *const first_only[] = {"link_local_ips", "mac_address", "driver_opts", NULL};
    for (size_t k = 0; first_only[k]; k++) {
        const struct zp_node *n = zp_node_get(r->cfg, first_only[k]);
        if (n == NULL)
            continue;
        char *kf = zp_asprintf("%s.%s", f, first_only[k]);
        int rc = fail(m, n, kf,
                      "can only be set on the service's first network (the one with the "
                      "highest priority)");
        free(kf);
        return rc;
    }
    struct zp_node *al = NULL;
    int rc = net_aliases(m, r->cfg, f, &al);
    if (rc < 0)
        return rc;
    struct orch_container_spec *s = m->spec;
    s->networks = zp_realloc(s->networks, (s->nnetworks + 1) * sizeof(*s->networks));
    struct orch_netattach *na = &s->networks[s->nnetworks++];
    memset(na, 0, sizeof(*na));
    na->network = zp_strdup(engine_name);
    na->aliases = zp_calloc(al->n + 1, sizeof(*na->aliases));
    for (size_t i = 0; i < al->n; i++)
        na->aliases[i] = zp_strdup(al->items[i]->str);
    zp_node_free(al);
    const char *v4 = zp_node_get_str(r->cfg, "ipv4_address");
    const char *v6 = zp_node_get_str(r->cfg, "ipv6_address");
    na->ipv4_address = v4 ? zp_strdup(v4) : NULL;
    na->ipv6_address = v6 ? zp_strdup(v6) : NULL;
    return 0;
}

static int map_networks(struct mapper *m, const struct zp_node *nets, struct zp_node *links)
{
    static const char *const known[] = {
        "aliases",     "ipv4_address", "ipv6_address", "link_local_ips", "mac_address",
        "driver_opts", "priority",     "gw_priority",  "interface_name", NULL};
    if (nets->kind != ZP_NODE_MAP)
        return fail(m, nets, "networks", "must be a mapping");
    if (nets->n == 0)
        return 0;
    struct net_ref *refs = zp_calloc(nets->n, sizeof(*refs));
    int rc = 0;
    for (size_t i = 0; i < nets->n && rc == 0; i++) {
        struct net_ref *r = &refs[i];
        r->key = nets->pairs[i].key->str;
        r->cfg = zp_node_is_null(nets->pairs[i].value) ? NULL : nets->pairs[i].value;
        char *f = zp_path_key("networks", r->key);
        rc = check_keys(m, r->cfg, f, known);
        static const char *const too_new[] = {"gw_priority", "interface_name", NULL};
        for (size_t k = 0; rc == 0 && too_new[k]; k++) {
            const struct zp_node *n = zp_node_get(r->cfg, too_new[k]);
            if (n != NULL) {
                char *kf = zp_asprintf("%s.%s", f, too_new[k]);
                rc = fail(m, n, kf, API_TOO_OLD);
                free(kf);
            }
        }
        const struct zp_node *prio = zp_node_get(r->cfg, "priority");
        if (rc == 0 && prio != NULL) {
            char *pf = zp_asprintf("%s.priority", f);
            rc = get_int(m, prio, pf, &r->priority);
            free(pf);
        }
        free(f);
    }
    if (rc == 0)
        qsort(refs, nets->n, sizeof(*refs), cmp_net);
    const struct zp_node *defs = zp_node_get(m->p->model, "networks");
    for (size_t i = 0; i < nets->n && rc == 0; i++) {
        char *f = zp_path_key("networks", refs[i].key);
        const char *engine_name = zp_node_get_str(zp_node_get(defs, refs[i].key), "name");
        if (engine_name == NULL)
            rc = fail(m, zp_node_get_key(nets, refs[i].key), f,
                      "network '%s' is not defined in the top-level networks", refs[i].key);
        else if (i == 0)
            rc = map_primary_network(m, &refs[i], engine_name, f, links);
        else
            rc = map_secondary_network(m, &refs[i], engine_name, f);
        free(f);
    }
    free(refs);
    return rc;
}

/* ---- routes: x-zpanel ---- */

/* Is engine network `name` already one of the container's? */
static bool has_network(const struct mapper *m, const char *name)
{
    const struct zp_node *eps =
        zp_node_get(zp_node_get(m->body, "NetworkingConfig"), "EndpointsConfig");
    if (zp_node_get(eps, name) != NULL)
        return true;
    for (size_t i = 0; i < m->spec->nnetworks; i++)
        if (strcmp(m->spec->networks[i].network, name) == 0)
            return true;
    return false;
}

/* A routed service (x-zpanel): its routes as the label the proxy reads (Caddy), or the
 * Traefik labels (labels the service writes itself win), and the shared network
 * `zpanel` without aliases (projects' service names would collide there; the proxy
 * dials containers by short ID). One-off containers are never routed. */
static int map_route(struct mapper *m)
{
    const struct zp_node *x = zp_node_get(m->svc, "x-zpanel");
    if (x == NULL || m->oneoff)
        return 0;
    struct proxy_site site;
    bool routed = false;
    int rc = orch_service_site(m->p, m->service, m->svc, &site, &routed, m->err);
    if (rc < 0 || !routed)
        return rc;
    const char *nm = zp_node_get_str(m->svc, "network_mode");
    if (nm != NULL && strcmp(nm, "bridge") != 0 && strcmp(nm, "default") != 0) {
        rc = fail(m, zp_node_get_key(m->svc, "x-zpanel"), "x-zpanel",
                  "a routed service must be on a network the proxy can reach; network_mode "
                  "'%s' cannot be routed",
                  nm);
        goto out;
    }
    struct zp_node *labels = jmap_at(m->body, "Labels");
    if (site.kind == PROXY_KIND_CADDY) {
        char *l = proxy_site_to_label(&site);
        zp_node_set(labels, PROXY_LABEL_ROUTES, jstr(l));
        free(l);
    } else {
        char **tl = proxy_traefik_labels(&site);
        for (size_t i = 0; tl != NULL && tl[i] != NULL; i++) {
            char *eq = strchr(tl[i], '=');
            if (eq != NULL) {
                *eq = '\0';
                if (zp_node_get(labels, tl[i]) == NULL)
                    zp_node_set(labels, tl[i], jstr(eq + 1));
            }
            free(tl[i]);
        }
        free(tl);
    }
    if (!has_network(m, PROXY_NETWORK)) {
        struct orch_container_spec *sp = m->spec;
        sp->networks = zp_realloc(sp->networks, (sp->nnetworks + 1) * sizeof(*sp->networks));
        struct orch_netattach *na = &sp->networks[sp->nnetworks++];
        memset(na, 0, sizeof(*na));
        na->network = zp_strdup(PROXY_NETWORK);
        na->aliases = zp_calloc(1, sizeof(*na->aliases));
    }
out:
    proxy_site_release(&site);
    return rc;
}

/* ---- resources: the plain fields and deploy.resources, which must agree ---- */

/* The value of a resource given either as a plain field (a) or under deploy (b). */
static int pick(struct mapper *m, const struct zp_node *a, const char *afield,
                const struct zp_node *b, const char *bfield, const struct zp_node **ret)
{
    *ret = a ? a : b;
    if (a != NULL && b != NULL && !zp_node_equal(a, b))
        return fail(m, b, bfield, "'%s' differs from %s '%s'; set one of them", b->str, afield,
                    a->str);
    return 0;
}

static int map_resources(struct mapper *m)
{
    static const char *const deploy_known[] = {
        "mode",           "replicas",      "endpoint_mode",   "labels",    "resources",
        "restart_policy", "update_config", "rollback_config", "placement", NULL};
    static const char *const res_known[] = {"limits", "reservations", NULL};
    static const char *const lim_known[] = {"cpus", "memory", "pids", NULL};
    static const char *const resv_known[] = {"cpus", "memory", "devices", "generic_resources",
                                             NULL};
    const struct zp_node *deploy = zp_node_get(m->svc, "deploy");
    const struct zp_node *res = zp_node_get(deploy, "resources");
    const struct zp_node *lims = zp_node_get(res, "limits");
    const struct zp_node *resv = zp_node_get(res, "reservations");
    int rc;
    if ((rc = check_keys(m, deploy, "deploy", deploy_known)) < 0 ||
        (rc = check_keys(m, res, "deploy.resources", res_known)) < 0 ||
        (rc = check_keys(m, lims, "deploy.resources.limits", lim_known)) < 0 ||
        (rc = check_keys(m, resv, "deploy.resources.reservations", resv_known)) < 0)
        return rc;

    const struct zp_node *v = NULL;
    int64_t i = 0;
    if ((rc = pick(m, zp_node_get(m->svc, "cpus"), "cpus", zp_node_get(lims, "cpus"),
                   "deploy.resources.limits.cpus", &v)) < 0)
        return rc;
    if (v != NULL) {
        double cpus = 0;
        const char *vf = zp_node_get(m->svc, "cpus") ? "cpus" : "deploy.resources.limits.cpus";
        if (v->kind != ZP_NODE_SCALAR || zp_parse_double(v->str, &cpus) != 0 || cpus < 0)
            return fail(m, v, vf, "must be a non-negative number");
        /* the engine refuses NanoCpus together with the CFS period or quota */
        static const char *const cfs[] = {"cpu_period", "cpu_quota", NULL};
        for (size_t k = 0; cfs[k]; k++)
            if (cpus > 0 && zp_node_get(m->svc, cfs[k]) != NULL)
                return fail(m, v, vf,
                            "cannot be combined with %s: set either a number of CPUs or the "
                            "CFS period and quota",
                            cfs[k]);
        zp_node_set(m->hc, "NanoCpus", jint((int64_t)(cpus * 1e9 + 0.5)));
    }
    static const struct {
        const char *plain, *deploy, *field;
        bool reservation;
    } ints[] = {
        {"mem_limit", "memory", "Memory", false},
        {"pids_limit", "pids", "PidsLimit", false},
        {"mem_reservation", "memory", "MemoryReservation", true},
    };
    for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++) {
        const struct zp_node *under = ints[k].reservation ? resv : lims;
        char *df = zp_asprintf("deploy.resources.%s.%s",
                               ints[k].reservation ? "reservations" : "limits", ints[k].deploy);
        rc = pick(m, zp_node_get(m->svc, ints[k].plain), ints[k].plain,
                  zp_node_get(under, ints[k].deploy), df, &v);
        if (rc == 0 && v != NULL)
            rc = get_int(m, v, zp_node_get(m->svc, ints[k].plain) ? ints[k].plain : df, &i);
        free(df);
        if (rc < 0)
            return rc;
        if (v != NULL)
            zp_node_set(m->hc, ints[k].field, jint(i));
    }
    if ((rc = orch__map_device_requests(m->svc, m->path, m->hc, m->err)) < 0) /* and gpus */
        return rc;
    const struct zp_node *rp = zp_node_get(deploy, "restart_policy");
    if (zp_node_get(m->svc, "restart") == NULL && rp != NULL)
        return map_restart_policy(m, rp);
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
        return map_ports(m, v);
    if (strcmp(key, "expose") == 0)
        return map_expose(m, v);
    if (strcmp(key, "volumes") == 0)
        return map_volumes(m, v);
    if (strcmp(key, "tmpfs") == 0)
        return map_tmpfs(m, v);
    if (strcmp(key, "secrets") == 0 || strcmp(key, "configs") == 0)
        return map_file_refs(m, v, key);
    if (strcmp(key, "healthcheck") == 0)
        return map_healthcheck(m, v);
    if (strcmp(key, "logging") == 0)
        return map_logging(m, v);
    if (strcmp(key, "restart") == 0)
        return map_restart(m, v);
    if (strcmp(key, "ulimits") == 0)
        return map_ulimits(m, v);
    if (strcmp(key, "devices") == 0)
        return map_devices(m, v);
    if (strcmp(key, "extra_hosts") == 0)
        return map_extra_hosts(m, v);
    if (strcmp(key, "stop_grace_period") == 0)
        return map_stop_grace(m, v);
    if (strcmp(key, "blkio_config") == 0)
        return map_blkio(m, v);
    if (strcmp(key, "ipc") == 0)
        return map_mode(m, v, key, "IpcMode");
    if (strcmp(key, "pid") == 0)
        return map_mode(m, v, key, "PidMode");
    if (strcmp(key, "volumes_from") == 0)
        return map_volumes_from(m, v);
    if (strcmp(key, "annotations") == 0)
        return fail(m, zp_node_get_key(m->svc, key), key, API_TOO_OLD);
    if (in_list(key, elsewhere) || zp_str_has_prefix(key, "x-"))
        return 0;
    /* gpus: mapping-devices.c; hooks and attach: up, stop, logs; develop: watch */
    static const char *const runtime[] = {"gpus",    "post_start", "pre_stop", "attach",
                                          "develop", "label_file", NULL};
    if (in_list(key, runtime))
        return 0;
    return fail(m, zp_node_get_key(m->svc, key), key, "not supported by the container mapping");
}

static int map_service(struct mapper *m, const char *image, int number, const char *config_hash)
{
    int rc;
    zp_node_set(m->body, "Image", jstr(image));
    for (size_t i = 0; i < m->svc->n; i++)
        if ((rc = map_key(m, m->svc->pairs[i].key->str, m->svc->pairs[i].value)) < 0)
            return rc;

    const char *mac = zp_node_get_str(m->svc, "mac_address");
    if (mac != NULL)
        zp_node_set(m->body, "MacAddress", jstr(mac));
    char num[24];
    snprintf(num, sizeof(num), "%d", number);
    if ((rc = map_labels(m, zp_node_get(m->svc, "labels"), num, config_hash)) < 0)
        return rc;
    if ((rc = map_resources(m)) < 0)
        return rc;

    struct zp_node *links = zp_node_new_seq(NULL);
    const struct zp_node *l = zp_node_get(m->svc, "links");
    const struct zp_node *el = zp_node_get(m->svc, "external_links");
    if (l != NULL)
        rc = map_links(m, l, "links", false, links);
    if (rc == 0 && el != NULL)
        rc = map_links(m, el, "external_links", true, links);
    const struct zp_node *nm = zp_node_get(m->svc, "network_mode");
    const struct zp_node *nets = zp_node_get(m->svc, "networks");
    if (rc == 0 && nm != NULL && nets != NULL && nets->n > 0)
        rc = fail(m, zp_node_get_key(m->svc, "network_mode"), "network_mode",
                  "cannot be used together with networks");
    if (rc == 0 && nm != NULL) {
        rc = map_mode(m, nm, "network_mode", "NetworkMode");
        /* legacy links exist on the default bridge only (the engine refuses them with the
         * host's, none or another container's network) */
        bool bridge = nm->kind == ZP_NODE_SCALAR &&
                      (strcmp(nm->str, "bridge") == 0 || strcmp(nm->str, "default") == 0);
        if (rc == 0 && links->n > 0 && !bridge)
            rc = fail(m, zp_node_get(m->svc, l ? "links" : "external_links"),
                      l ? "links" : "external_links",
                      "cannot be used with network_mode '%s': links need the bridge network or "
                      "a network of the project",
                      nm->str);
        else if (rc == 0 && links->n > 0)
            zp_node_set(m->hc, "Links", zp_node_copy(links));
    } else if (rc == 0 && nets != NULL && nets->n > 0) {
        rc = map_networks(m, nets, links);
    } else if (rc == 0 && links->n > 0) {
        zp_node_set(m->hc, "Links", zp_node_copy(links));
    }
    zp_node_free(links);
    if (rc == 0)
        rc = map_route(m);
    return rc;
}

int orch_container_spec(const struct compose_project *p, const char *service,
                        const struct zp_node *svc, int number, const char *image,
                        const char *image_id, const char *config_hash, bool oneoff,
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
        .resolve = resolve,
        .resolve_ud = resolve_ud,
        .err = err,
        .body = zp_node_new_map(NULL),
        .spec = &spec,
    };
    m.hc = jmap_at(m.body, "HostConfig");
    spec.name =
        orch__container_name(p->name, service, zp_node_get_str(svc, "container_name"), number);
    spec.image = zp_strdup(image);
    int rc = svc != NULL && svc->kind == ZP_NODE_MAP ? map_service(&m, image, number, config_hash)
                                                     : fail(&m, svc, "", "must be a mapping");
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

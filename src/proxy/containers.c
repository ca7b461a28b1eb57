/* proxy/containers: the proxy's two Caddy containers on the engine (up, down, status),
 * rebuilding both configurations from the engine's route labels (sync), the routes
 * loaded, draining an upstream, and HTTP probes run inside the router. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "proxy-int.h"

#include "../util/banned.h"

#define LABEL_SETTINGS "io.zpanel.proxy.settings"
#define LABEL_IMAGE "io.zpanel.proxy.image"
#define LABEL_HTTP "io.zpanel.proxy.http-port"
#define LABEL_HTTPS "io.zpanel.proxy.https-port"
#define LABEL_BIND "io.zpanel.proxy.bind"
#define LABEL_DIR "io.zpanel.proxy.dir" /* <state_dir>/proxy on the host */
#define LABEL_ONEOFF "io.zpanel.oneoff"

#define DEFAULT_IMAGE "caddy:2"
#define ADMIN_WAIT_MS 20000
#define PROBE_MAX_OUTPUT ((size_t)64 << 10)

enum role { ROLE_ROUTER, ROLE_EDGE };

static const char *role_name(enum role r)
{
    return r == ROLE_EDGE ? "edge" : "router";
}

static const char *role_container(enum role r)
{
    return r == ROLE_EDGE ? PROXY_EDGE_NAME : PROXY_ROUTER_NAME;
}

static const char *role_sock(enum role r)
{
    return r == ROLE_EDGE ? PROXY_EDGE_SOCK : PROXY_ROUTER_SOCK;
}

/* ---- paths ---- */

char *proxy__dir(const struct proxy_opts *opts)
{
    return zp_path_join(opts->state_dir, "proxy");
}

char *proxy__sock_path(const struct proxy_opts *opts, const char *sock)
{
    char *dir = proxy__dir(opts);
    char *p = zp_path_join(dir, sock);
    free(dir);
    return p;
}

/* The admin socket's path inside the containers. */
static char *inner_sock(enum role r)
{
    return zp_asprintf("%s/%s", PROXY_MOUNT, role_sock(r));
}

static int write_file(const char *path, const char *text, struct zp_err *err)
{
    char *tmp = zp_asprintf("%s.tmp", path);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = zp_err_sys(err, "writing '%s'", tmp);
        goto out;
    }
    size_t left = strlen(text);
    const char *p = text;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = zp_err_sys(err, "writing '%s'", tmp);
            close(fd);
            goto out;
        }
        p += n;
        left -= (size_t)n;
    }
    if (close(fd) != 0) {
        rc = zp_err_sys(err, "writing '%s'", tmp);
        goto out;
    }
    if (rename(tmp, path) != 0)
        rc = zp_err_sys(err, "renaming '%s'", tmp);
out:
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* <state>/proxy (0700, also when it existed), its data directories and the initial
 * configurations each Caddy starts with when it has no autosaved one. */
static int prepare_dir(const struct proxy_opts *opts, struct zp_err *err)
{
    char *dir = proxy__dir(opts);
    char *data = NULL, *file = NULL, *sock = NULL, *cfg = NULL;
    int rc = zp_mkdir_p(dir, 0700, err);
    if (rc)
        goto out;
    if (chmod(dir, 0700) != 0) {
        rc = zp_err_sys(err, "chmod '%s'", dir);
        goto out;
    }
    for (int r = ROLE_ROUTER; r <= ROLE_EDGE; r++) {
        free(data);
        data = zp_asprintf("%s/data/%s/config", dir, role_name(r));
        if ((rc = zp_mkdir_p(data, 0700, err)))
            goto out;
        free(sock);
        sock = inner_sock(r);
        free(cfg);
        cfg = r == ROLE_EDGE ? proxy_edge_config(NULL, 0, sock, opts->http_port, opts->https_port)
                             : proxy_router_config(NULL, 0, sock);
        free(file);
        file = zp_asprintf("%s/%s.json", dir, role_name(r));
        if ((rc = write_file(file, cfg, err)))
            goto out;
    }
out:
    free(dir);
    free(data);
    free(file);
    free(sock);
    free(cfg);
    return rc;
}

/* ---- container bodies ---- */

static void opts_defaults(const struct proxy_opts *in, struct proxy_opts *out)
{
    *out = *in;
    if (!out->image || !*out->image)
        out->image = DEFAULT_IMAGE;
    if (out->http_port <= 0)
        out->http_port = 80;
    if (out->https_port < 0)
        out->https_port = 443;
}

/* What decides whether a running proxy container can be kept. */
static char *settings_hash(const struct proxy_opts *o, const char *image_id, enum role r)
{
    char *s = zp_asprintf("v1|%s|%s|%s|%d|%d|%s|%u:%u|%s", role_name(r), o->image, image_id,
                          o->http_port, o->https_port, o->bind_ip ? o->bind_ip : "",
                          (unsigned)getuid(), (unsigned)getgid(), o->state_dir);
    char hex[65];
    zp_sha256_hex(s, strlen(s), hex);
    free(s);
    return zp_strdup(hex);
}

static void add_port(json_t *exposed, json_t *bindings, int port, const char *bind_ip)
{
    char *key = zp_asprintf("%d/tcp", port);
    char *hp = zp_asprintf("%d", port);
    json_object_set_new(exposed, key, json_object());
    json_object_set_new(
        bindings, key, json_pack("[{s:s, s:s}]", "HostIp", bind_ip ? bind_ip : "", "HostPort", hp));
    free(key);
    free(hp);
}

static char *create_body(const struct proxy_opts *o, enum role r, const char *hash)
{
    char *dir = proxy__dir(o);
    char *bind = zp_asprintf("%s:%s", dir, PROXY_MOUNT);
    char *initial = zp_asprintf("%s/%s.json", PROXY_MOUNT, role_name(r));
    char *data_env = zp_asprintf("XDG_DATA_HOME=%s/data/%s", PROXY_MOUNT, role_name(r));
    char *config_env = zp_asprintf("XDG_CONFIG_HOME=%s/data/%s/config", PROXY_MOUNT, role_name(r));
    char *user = zp_asprintf("%u:%u", (unsigned)getuid(), (unsigned)getgid());
    char *http = zp_asprintf("%d", o->http_port);
    char *https = zp_asprintf("%d", o->https_port);

    json_t *labels =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", PROXY_LABEL_ROLE, role_name(r),
                  LABEL_SETTINGS, hash, LABEL_IMAGE, o->image, LABEL_HTTP, http, LABEL_HTTPS, https,
                  LABEL_BIND, o->bind_ip ? o->bind_ip : "", LABEL_DIR, dir);
    json_t *exposed = json_object();
    json_t *bindings = json_object();
    if (r == ROLE_EDGE) {
        /* the edge listens on the host's port numbers so that redirects name them */
        add_port(exposed, bindings, o->http_port, o->bind_ip);
        if (o->https_port > 0)
            add_port(exposed, bindings, o->https_port, o->bind_ip);
    }
    json_t *host = json_object();
    json_object_set_new(host, "Binds", json_pack("[s]", bind));
    json_object_set_new(host, "PortBindings", bindings);
    json_object_set_new(host, "RestartPolicy", json_pack("{s:s}", "Name", "unless-stopped"));
    /* Caddy runs as the caller's user and still listens on ports below 1024 */
    json_object_set_new(host, "Sysctls",
                        json_pack("{s:s}", "net.ipv4.ip_unprivileged_port_start", "0"));
    json_object_set_new(host, "CapDrop", json_pack("[s]", "ALL"));
    json_object_set_new(host, "SecurityOpt", json_pack("[s]", "no-new-privileges:true"));
    json_object_set_new(host, "LogConfig",
                        json_pack("{s:s, s:{s:s, s:s}}", "Type", "json-file", "Config", "max-size",
                                  "10m", "max-file", "3"));
    json_t *body = json_object();
    json_object_set_new(body, "Image", json_string(o->image));
    json_object_set_new(body, "Entrypoint", json_pack("[s]", "caddy"));
    json_object_set_new(body, "Cmd",
                        json_pack("[s,s,s,s]", "run", "--resume", "--config", initial));
    json_object_set_new(body, "User", json_string(user));
    json_object_set_new(body, "Env", json_pack("[s,s]", data_env, config_env));
    json_object_set_new(body, "Labels", labels);
    json_object_set_new(body, "ExposedPorts", exposed);
    json_object_set_new(body, "HostConfig", host);
    json_object_set_new(body, "NetworkingConfig",
                        json_pack("{s:{s:{}}}", "EndpointsConfig", PROXY_NETWORK));
    char *text = proxy__json_dump(body);
    json_decref(body);
    free(dir);
    free(bind);
    free(initial);
    free(data_env);
    free(config_env);
    free(user);
    free(http);
    free(https);
    return text;
}

/* ---- up / down ---- */

int proxy_ensure_network(struct engine *e, bool *ret_created, struct zp_err *err)
{
    bool exists = false;
    if (ret_created)
        *ret_created = false;
    int rc = engine_network_exists(e, PROXY_NETWORK, &exists, err);
    if (rc || exists)
        return rc;
    struct engine_kv label = {PROXY_LABEL_ROLE, "network"};
    struct engine_network_opts no;
    memset(&no, 0, sizeof(no));
    no.driver = "bridge";
    no.attachable = true;
    no.labels = &label;
    no.n_labels = 1;
    struct zp_err e2;
    zp_err_init(&e2);
    rc = engine_network_create(e, PROXY_NETWORK, &no, NULL, &e2);
    if (rc == ZP_E_CONFLICT) /* created meanwhile by another zpanel */
        return 0;
    if (rc)
        *err = e2;
    else if (ret_created)
        *ret_created = true;
    return rc;
}

/* Keep the role's container when it carries the same settings (starting it when
 * stopped), else replace it. */
static int ensure_container(struct engine *e, const struct proxy_opts *o, const char *image_id,
                            enum role r, struct zp_err *err)
{
    const char *name = role_container(r);
    char *hash = settings_hash(o, image_id, r);
    char *body = NULL, *id = NULL;
    struct engine_container c;
    memset(&c, 0, sizeof(c));
    struct zp_err ierr;
    zp_err_init(&ierr);
    int rc = engine_container_inspect(e, name, &c, &ierr);
    if (rc && rc != ZP_E_NOTFOUND) {
        *err = ierr;
        goto out;
    }
    if (rc == 0) {
        const char *have = engine_labels_get(&c.labels, LABEL_SETTINGS);
        if (have && strcmp(have, hash) == 0) {
            rc = c.running ? 0 : engine_container_start(e, c.id, err);
            goto out;
        }
        if ((rc = engine_container_remove(e, c.id, true, false, err)))
            goto out;
    }
    body = create_body(o, r, hash);
    if ((rc = engine_container_create(e, name, body, &id, err)))
        goto out;
    rc = engine_container_start(e, id, err);
out:
    if (rc)
        zp_err_prefix(err, "proxy %s", role_name(r));
    engine_container_release(&c);
    free(hash);
    free(body);
    free(id);
    return rc;
}

/* Wait until the role's admin socket answers GET /config/. */
static int wait_admin(const struct proxy_opts *o, enum role r, struct zp_err *err)
{
    char *path = proxy__sock_path(o, role_sock(r));
    int64_t deadline = zp_mono_ms() + ADMIN_WAIT_MS;
    struct zp_err last;
    zp_err_init(&last);
    int rc;
    for (;;) {
        struct proxy_admin *a = NULL;
        char *cfg = NULL;
        zp_err_init(&last);
        rc = proxy_admin_open(path, &a, &last);
        if (rc == 0)
            rc = proxy_admin_config(a, &cfg, &last);
        proxy_admin_close(a);
        free(cfg);
        if (rc == 0 || zp_mono_ms() > deadline)
            break;
        zp_sleep_ms(100);
    }
    if (rc) {
        *err = last;
        zp_err_prefix(err, "proxy %s did not answer on its admin socket within %d s", role_name(r),
                      ADMIN_WAIT_MS / 1000);
    }
    free(path);
    return rc;
}

int proxy_up(struct engine *e, const struct proxy_opts *opts, struct zp_err *err)
{
    struct proxy_opts o;
    opts_defaults(opts, &o);
    if (!o.state_dir || !*o.state_dir)
        return zp_err_set(err, ZP_E_INTERNAL, NULL, "proxy: no state directory");
    char *image_id = NULL;
    bool exists = false;
    int rc = engine_image_inspect(e, o.image, &exists, &image_id, err);
    if (rc)
        return rc;
    if (!exists)
        return zp_err_set(err, ZP_E_NOTFOUND, NULL,
                          "proxy image '%s' is not on the engine (zpanel never pulls it: "
                          "`docker pull %s`, or build one with scripts/caddy-image.sh)",
                          o.image, o.image);
    if ((rc = prepare_dir(&o, err)) || (rc = proxy_ensure_network(e, NULL, err)) ||
        (rc = ensure_container(e, &o, image_id, ROLE_ROUTER, err)) ||
        (rc = ensure_container(e, &o, image_id, ROLE_EDGE, err)) ||
        (rc = wait_admin(&o, ROLE_ROUTER, err)) || (rc = wait_admin(&o, ROLE_EDGE, err)))
        goto out;
    bool running = false;
    rc = proxy_sync(e, &o, NULL, 0, &running, NULL, err);
    if (rc == 0 && !running)
        rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                        "the proxy's containers stopped right after start "
                        "(see `docker logs zpanel-proxy`)");
out:
    free(image_id);
    return rc;
}

int proxy_down(struct engine *e, const struct proxy_opts *opts, struct zp_err *err)
{
    (void)opts;
    for (int r = ROLE_EDGE; r >= ROLE_ROUTER; r--) {
        int rc = engine_container_remove(e, role_container(r), true, false, err);
        if (rc == ZP_E_NOTFOUND) {
            zp_err_init(err);
            continue;
        }
        /* "removal already in progress" (another zpanel): wait until it is gone */
        for (int tries = 0; rc == ZP_E_CONFLICT && tries < 100; tries++) {
            struct engine_container c;
            struct zp_err ierr;
            zp_err_init(&ierr);
            int irc = engine_container_inspect(e, role_container(r), &c, &ierr);
            if (irc == ZP_E_NOTFOUND) {
                zp_err_init(err);
                rc = 0;
                break;
            }
            if (irc == 0)
                engine_container_release(&c);
            zp_sleep_ms(100);
        }
        if (rc)
            return rc;
    }
    /* the network goes too unless routed containers still use it */
    struct zp_err nerr;
    zp_err_init(&nerr);
    engine_network_remove(e, PROXY_NETWORK, &nerr);
    return 0;
}

/* ---- reading a Caddy's configuration ---- */

static int admin_get_config(const struct proxy_opts *o, enum role r, json_t **ret,
                            struct zp_err *err)
{
    char *path = proxy__sock_path(o, role_sock(r));
    struct proxy_admin *a = NULL;
    char *text = NULL;
    int rc = proxy_admin_open(path, &a, err);
    if (rc == 0)
        rc = proxy_admin_config(a, &text, err);
    if (rc == 0) {
        *ret = proxy__json_parse(text, "caddy's configuration", err);
        rc = *ret ? 0 : ZP_E_ENGINE;
    }
    proxy_admin_close(a);
    free(text);
    free(path);
    return rc;
}

static bool is_drain_route(json_t *route)
{
    json_t *id = json_object_get(route, "@id");
    return json_is_string(id) && strcmp(json_string_value(id), PROXY_DRAIN_ID) == 0;
}

static json_t *router_routes_json(json_t *cfg)
{
    json_t *servers =
        json_object_get(json_object_get(json_object_get(cfg, "apps"), "http"), "servers");
    return json_object_get(json_object_get(servers, "router"), "routes");
}

/* ---- status ---- */

static int inspect_role(struct engine *e, enum role r, struct engine_container *c, bool *ret_found,
                        struct zp_err *err)
{
    struct zp_err ierr;
    zp_err_init(&ierr);
    int rc = engine_container_inspect(e, role_container(r), c, &ierr);
    if (rc == ZP_E_NOTFOUND) {
        *ret_found = false;
        return 0;
    }
    if (rc) {
        *err = ierr;
        return rc;
    }
    *ret_found = true;
    return 0;
}

static int port_label(const struct engine_labels *l, const char *key)
{
    int64_t v = 0;
    const char *s = engine_labels_get(l, key);
    if (!s || zp_parse_int64(s, 0, 65535, &v) != 0)
        return 0;
    return (int)v;
}

int proxy_get_status(struct engine *e, const struct proxy_opts *opts, struct proxy_status *ret,
                     struct zp_err *err)
{
    struct proxy_status st;
    memset(&st, 0, sizeof(st));
    struct engine_container edge, router;
    memset(&edge, 0, sizeof(edge));
    memset(&router, 0, sizeof(router));
    bool have_edge = false, have_router = false;
    json_t *cfg = NULL;
    int rc;
    if ((rc = inspect_role(e, ROLE_EDGE, &edge, &have_edge, err)) ||
        (rc = inspect_role(e, ROLE_ROUTER, &router, &have_router, err)))
        goto out;
    st.edge_running = have_edge && edge.running;
    st.router_running = have_router && router.running;
    if (have_edge) {
        const char *img = engine_labels_get(&edge.labels, LABEL_IMAGE);
        st.image = zp_strdup(img ? img : edge.config_image ? edge.config_image : "");
        st.http_port = port_label(&edge.labels, LABEL_HTTP);
        st.https_port = port_label(&edge.labels, LABEL_HTTPS);
    }
    if (st.router_running) {
        if ((rc = admin_get_config(opts, ROLE_ROUTER, &cfg, err)))
            goto out;
        json_t *routes = router_routes_json(cfg);
        json_t *dials = json_object();
        size_t i;
        json_t *route;
        json_array_foreach(routes, i, route)
        {
            if (!json_object_get(route, "match") || is_drain_route(route))
                continue; /* the final 404, the draining upstreams */
            st.nroutes++;
            json_t *h = json_array_get(json_object_get(route, "handle"), 0);
            size_t k;
            json_t *up;
            json_array_foreach(json_object_get(h, "upstreams"), k, up)
            {
                json_t *d = json_object_get(up, "dial");
                if (json_is_string(d))
                    json_object_set_new(dials, json_string_value(d), json_true());
            }
        }
        st.nupstreams = json_object_size(dials);
        json_decref(dials);
    }
    *ret = st;
    memset(&st, 0, sizeof(st));
out:
    proxy_status_release(&st);
    engine_container_release(&edge);
    engine_container_release(&router);
    json_decref(cfg);
    return rc;
}

void proxy_status_release(struct proxy_status *st)
{
    if (!st)
        return;
    free(st->image);
    memset(st, 0, sizeof(*st));
}

/* ---- sync ---- */

static bool id_matches(const char *id, const char *want)
{
    if (!want || !*want)
        return false;
    size_t n = strlen(want) < strlen(id) ? strlen(want) : strlen(id);
    return n >= 12 && strncmp(id, want, n) == 0;
}

/* The routed containers: sites (one per container) and upstreams pointing at them. */
struct routed {
    struct proxy_site *sites;
    char **ids;
    bool *draining; /* excluded by an override: referenced, not routed */
    size_t n;
};

static void routed_release(struct routed *rt)
{
    proxy_sites_free(rt->sites, rt->n);
    for (size_t i = 0; i < rt->n; i++)
        free(rt->ids[i]);
    free(rt->ids);
    free(rt->draining);
    memset(rt, 0, sizeof(*rt));
}

static int collect_routed(struct engine *e, const struct proxy_override *ov, size_t nov,
                          struct routed *ret, struct zp_err *err)
{
    const char *filters[] = {PROXY_LABEL_ROUTES, NULL};
    struct engine_container_list list;
    int rc = engine_container_list(e, filters, false, &list, err);
    if (rc)
        return rc;
    struct routed rt;
    memset(&rt, 0, sizeof(rt));
    rt.sites = zp_calloc(list.n ? list.n : 1, sizeof(*rt.sites));
    rt.ids = zp_calloc(list.n ? list.n : 1, sizeof(*rt.ids));
    rt.draining = zp_calloc(list.n ? list.n : 1, sizeof(*rt.draining));
    for (size_t i = 0; i < list.n; i++) {
        const struct engine_container_summary *c = &list.items[i];
        const char *oneoff = engine_labels_get(&c->labels, LABEL_ONEOFF);
        if (oneoff && strcmp(oneoff, "true") == 0)
            continue;
        bool included = false, excluded = false;
        for (size_t k = 0; k < nov; k++) {
            included = included || id_matches(c->id, ov[k].include_id);
            excluded = excluded || id_matches(c->id, ov[k].exclude_id);
        }
        const char *name = c->n_names ? c->names[0] : "";
        if (zp_str_has_suffix(name, PROXY_TEMP_SUFFIX) && !included && !excluded)
            continue;
        struct zp_err lerr;
        zp_err_init(&lerr);
        struct proxy_site s;
        /* a label that does not parse routes nothing; the others still do */
        if (proxy_site_from_label(engine_labels_get(&c->labels, PROXY_LABEL_ROUTES), &s, &lerr))
            continue;
        if (s.kind != PROXY_KIND_CADDY) {
            proxy_site_release(&s);
            continue;
        }
        rt.sites[rt.n] = s;
        rt.ids[rt.n] = zp_strdup(c->id);
        rt.draining[rt.n] = excluded;
        rt.n++;
    }
    engine_container_list_release(&list);
    *ret = rt;
    return 0;
}

/* Load text into the role's Caddy unless it runs an equal configuration already. */
static int load_if_changed(const struct proxy_opts *o, enum role r, const char *text,
                           struct zp_err *err)
{
    char *path = proxy__sock_path(o, role_sock(r));
    struct proxy_admin *a = NULL;
    char *have = NULL;
    json_t *jhave = NULL, *jwant = NULL;
    int rc = proxy_admin_open(path, &a, err);
    if (rc)
        goto out;
    if ((rc = proxy_admin_config(a, &have, err)))
        goto out;
    jhave = json_loads(have, 0, NULL);
    jwant = json_loads(text, 0, NULL);
    if (!jwant)
        ZP_BUG("generated caddy configuration is not JSON");
    if (jhave && json_equal(jhave, jwant))
        goto out;
    rc = proxy_admin_load(a, text, err);
out:
    if (rc)
        zp_err_prefix(err, "proxy %s", role_name(r));
    json_decref(jhave);
    json_decref(jwant);
    free(have);
    proxy_admin_close(a);
    free(path);
    return rc;
}

int proxy_sync(struct engine *e, const struct proxy_opts *opts, const struct proxy_override *ov,
               size_t nov, bool *ret_running, char **ret_conflicts, struct zp_err *err)
{
    if (ret_conflicts)
        *ret_conflicts = NULL;
    struct proxy_opts o;
    opts_defaults(opts, &o);
    struct engine_container edge, router;
    memset(&edge, 0, sizeof(edge));
    memset(&router, 0, sizeof(router));
    bool have_edge = false, have_router = false;
    struct routed rt;
    memset(&rt, 0, sizeof(rt));
    struct proxy_upstream *ups = NULL;
    const struct proxy_site **sites = NULL;
    char *rcfg = NULL, *ecfg = NULL, *rsock = NULL, *esock = NULL;
    int rc;
    if ((rc = inspect_role(e, ROLE_EDGE, &edge, &have_edge, err)) ||
        (rc = inspect_role(e, ROLE_ROUTER, &router, &have_router, err)))
        goto out;
    bool running = have_edge && edge.running && have_router && router.running;
    if (ret_running)
        *ret_running = running;
    if (!running)
        goto out;
    /* another state directory has other sockets: say so rather than "cannot connect" */
    const char *have_dir = engine_labels_get(&router.labels, LABEL_DIR);
    char *want_dir = proxy__dir(&o);
    if (have_dir && strcmp(have_dir, want_dir) != 0) {
        rc = zp_err_set(err, ZP_E_CONFLICT, NULL,
                        "the proxy was started with its admin sockets in '%s', not '%s' "
                        "(another ZPANEL_STATE_DIR): run `zpanel proxy up` to restart it here",
                        have_dir, want_dir);
        free(want_dir);
        goto out;
    }
    free(want_dir);
    /* the edge's ports are those it was created with */
    o.http_port = port_label(&edge.labels, LABEL_HTTP);
    o.https_port = port_label(&edge.labels, LABEL_HTTPS);
    if (o.http_port <= 0)
        o.http_port = 80;
    if ((rc = collect_routed(e, ov, nov, &rt, err)))
        goto out;
    ups = zp_calloc(rt.n ? rt.n : 1, sizeof(*ups));
    sites = zp_calloc(rt.n ? rt.n : 1, sizeof(*sites));
    size_t nsites = 0;
    for (size_t i = 0; i < rt.n; i++) {
        ups[i].site = &rt.sites[i];
        ups[i].container_id = rt.ids[i];
        ups[i].draining = rt.draining[i];
        if (!rt.draining[i])
            sites[nsites++] = &rt.sites[i];
    }
    if (ret_conflicts)
        *ret_conflicts = proxy_conflicts(sites, nsites);
    rsock = inner_sock(ROLE_ROUTER);
    esock = inner_sock(ROLE_EDGE);
    rcfg = proxy_router_config(ups, rt.n, rsock);
    ecfg = proxy_edge_config(sites, nsites, esock, o.http_port, o.https_port);
    /* the router first: a new host reaches the edge only once the router knows it */
    if ((rc = load_if_changed(&o, ROLE_ROUTER, rcfg, err)) ||
        (rc = load_if_changed(&o, ROLE_EDGE, ecfg, err)))
        goto out;
out:
    engine_container_release(&edge);
    engine_container_release(&router);
    routed_release(&rt);
    free(ups);
    free(sites);
    free(rcfg);
    free(ecfg);
    free(rsock);
    free(esock);
    return rc;
}

/* ---- routes ---- */

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int proxy_routes(struct engine *e, const struct proxy_opts *opts, char ***ret_lines,
                 struct zp_err *err)
{
    struct engine_container router;
    memset(&router, 0, sizeof(router));
    bool have = false;
    json_t *cfg = NULL;
    struct engine_container_list list;
    memset(&list, 0, sizeof(list));
    char **lines = NULL;
    size_t n = 0, cap = 0;
    int rc = inspect_role(e, ROLE_ROUTER, &router, &have, err);
    if (rc)
        goto out;
    if (!have || !router.running) {
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL,
                        "the proxy is not running (start it with `zpanel proxy up`)");
        goto out;
    }
    const char *filters[] = {PROXY_LABEL_ROUTES, NULL};
    if ((rc = admin_get_config(opts, ROLE_ROUTER, &cfg, err)) ||
        (rc = engine_container_list(e, filters, true, &list, err)))
        goto out;
    json_t *routes = router_routes_json(cfg);
    size_t i;
    json_t *route;
    zp_grow((void **)&lines, &cap, 1, sizeof(*lines));
    json_array_foreach(routes, i, route)
    {
        json_t *m = json_array_get(json_object_get(route, "match"), 0);
        if (!m)
            continue;
        const char *host = json_string_value(json_array_get(json_object_get(m, "host"), 0));
        const char *path = json_string_value(json_array_get(json_object_get(m, "path"), 0));
        struct zp_buf b = ZP_BUF_INIT;
        if (is_drain_route(route))
            zp_buf_adds(&b, "(draining)");
        else
            zp_buf_adds(&b, host ? host : "*");
        if (path) /* "/api*" was written for the prefix "/api" */
            zp_buf_add(&b, path, strlen(path) - (zp_str_has_suffix(path, "*") ? 1 : 0));
        zp_buf_adds(&b, " ->");
        json_t *h = json_array_get(json_object_get(route, "handle"), 0);
        size_t k;
        json_t *up;
        json_array_foreach(json_object_get(h, "upstreams"), k, up)
        {
            const char *dial = json_string_value(json_object_get(up, "dial"));
            if (!dial)
                continue;
            const char *name = "?";
            for (size_t c = 0; c < list.n; c++) {
                size_t idlen = strcspn(dial, ":");
                if (idlen >= 12 && strncmp(list.items[c].id, dial, idlen) == 0 &&
                    list.items[c].n_names)
                    name = list.items[c].names[0];
            }
            zp_buf_addf(&b, "%s %s (%s)", k ? "," : "", name, dial);
        }
        zp_grow((void **)&lines, &cap, n + 2, sizeof(*lines));
        lines[n++] = zp_buf_detach(&b, NULL);
    }
    qsort(lines, n, sizeof(*lines), cmp_line);
    lines[n] = NULL;
    *ret_lines = lines;
    lines = NULL;
out:
    for (size_t k = 0; lines && k < n; k++)
        free(lines[k]);
    free(lines);
    engine_container_release(&router);
    engine_container_list_release(&list);
    json_decref(cfg);
    return rc;
}

/* ---- drain ---- */

int proxy_drain(const struct proxy_opts *opts, const char *container_id, int port,
                int64_t timeout_ms, bool *ret_drained, struct zp_err *err)
{
    char id12[13];
    proxy__id12(container_id, id12);
    char *addr = zp_asprintf("%s:%d", id12, port);
    char *path = proxy__sock_path(opts, PROXY_ROUTER_SOCK);
    struct proxy_admin *a = NULL;
    int64_t deadline = zp_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    bool drained = false;
    int rc = proxy_admin_open(path, &a, err);
    while (rc == 0) {
        struct proxy_upstream_state *st = NULL;
        size_t n = 0;
        if ((rc = proxy_admin_upstreams(a, &st, &n, err)))
            break;
        int64_t inflight = 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(st[i].address, addr) == 0)
                inflight += st[i].num_requests;
        proxy_upstream_states_free(st, n);
        if (inflight == 0) {
            drained = true;
            break;
        }
        if (zp_mono_ms() >= deadline)
            break;
        zp_sleep_ms(100);
    }
    if (rc == 0)
        *ret_drained = drained;
    proxy_admin_close(a);
    free(path);
    free(addr);
    return rc;
}

/* ---- probe ---- */

static int collect_output(void *ctx, enum engine_stream stream, const char *data, size_t len,
                          struct zp_err *err)
{
    (void)stream;
    (void)err;
    struct zp_buf *b = ctx;
    /* keep the beginning; the rest is not needed to judge a probe */
    if (b->len < PROBE_MAX_OUTPUT)
        zp_buf_add(b, data, len < PROBE_MAX_OUTPUT - b->len ? len : PROBE_MAX_OUTPUT - b->len);
    return 0;
}

int proxy_probe(struct engine *e, const char *container_id, int port, const char *path,
                int64_t timeout_ms, bool *ret_ok, char **ret_output, struct zp_err *err)
{
    char id12[13];
    proxy__id12(container_id, id12);
    if (!path || !proxy__path_valid(path))
        return zp_err_set(err, ZP_E_INPUT, NULL, "invalid probe path '%s'", path ? path : "");
    int64_t secs = (timeout_ms + 999) / 1000;
    if (secs < 1)
        secs = 1;
    char *tsecs = zp_asprintf("%lld", (long long)secs);
    char *url = zp_asprintf("http://%s:%d%s", id12, port, path);
    /* busybox's own timeout, not wget -T: Debian's static busybox 1.35 wget crashes
     * (SIGSEGV) whenever -T is given; `busybox` is in both caddy:2 (Alpine) and ours */
    const char *argv[] = {"busybox", "timeout", tsecs, "busybox", "wget",
                          "-q",      "-O",      "-",   url,       NULL};
    char *exec_id = NULL;
    struct zp_buf out;
    zp_buf_init(&out, PROBE_MAX_OUTPUT + 1);
    struct engine_stream_io io;
    memset(&io, 0, sizeof(io));
    io.stdin_fd = -1;
    io.on_output = collect_output;
    io.ctx = &out;
    struct engine_exec_state st;
    memset(&st, 0, sizeof(st));
    int rc = engine_exec_create(e, PROXY_ROUTER_NAME, argv, NULL, NULL, NULL, false, false,
                                &exec_id, err);
    if (rc == 0)
        rc = engine_exec_start(e, exec_id, &io, err);
    /* the stream ends with the process; its exit code may take a moment to be recorded */
    for (int tries = 0; rc == 0 && tries < 50; tries++) {
        if ((rc = engine_exec_inspect(e, exec_id, &st, err)) || !st.running)
            break;
        zp_sleep_ms(20);
    }
    if (rc == 0) {
        *ret_ok = !st.running && st.exit_code == 0;
        if (ret_output)
            *ret_output = zp_buf_detach(&out, NULL);
    } else {
        zp_err_prefix(err, "probing %s", url);
    }
    zp_buf_release(&out);
    free(exec_id);
    free(tsecs);
    free(url);
    return rc;
}

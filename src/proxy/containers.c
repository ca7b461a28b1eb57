/* proxy/containers: the proxy's two Caddy containers on the engine (up, down, status),
 * rebuilding both configurations from the engine's route labels (sync), the routes
 * loaded, draining an upstream, and HTTP probes run inside the router. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#define LABEL_PROJECT "io.zpanel.project"
#define LABEL_SERVICE "io.zpanel.service"
#define LABEL_NUMBER "io.zpanel.number"
#define LABEL_NET_PROJECT "io.zpanel.proxy.project" /* on a project's proxy network */

#define DEFAULT_IMAGE "caddy:2"
#define ADMIN_WAIT_MS 20000
#define PROBE_MAX_OUTPUT ((size_t)64 << 10)
#define PROBE_SHOWN 300 /* bytes of a failed probe's body kept for the message */

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
    if (opts->remote)
        return zp_strdup(opts->remote->dir);
    return zp_path_join(opts->state_dir, "proxy");
}

char *proxy__sock_path(const struct proxy_opts *opts, const char *sock)
{
    char *dir = opts->remote ? zp_strdup(opts->remote->sock_dir) : proxy__dir(opts);
    char *p = zp_path_join(dir, sock);
    free(dir);
    return p;
}

/* The admin socket's path inside the containers. */
static char *inner_sock(enum role r)
{
    return zp_asprintf("%s/%s", PROXY_MOUNT, role_sock(r));
}

int proxy__write_file(const char *path, const char *text, struct zp_err *err)
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
static int prepare_dir_remote(const struct proxy_opts *opts, char **ret_user, struct zp_err *err)
{
    const struct proxy_remote *r = opts->remote;
    char *texts[2], *names[2], *dirs[2];
    for (int k = ROLE_ROUTER; k <= ROLE_EDGE; k++) {
        char *sock = inner_sock(k);
        char *probe = zp_asprintf("%s/%s", PROXY_MOUNT, PROXY_PROBE_SOCK);
        texts[k] = k == ROLE_EDGE
                       ? proxy_edge_config(NULL, 0, sock, opts->http_port, opts->https_port)
                       : proxy_router_config(NULL, 0, sock, probe);
        names[k] = zp_asprintf("%s.json", role_name(k));
        dirs[k] = zp_asprintf("data/%s/config", role_name(k));
        free(sock);
        free(probe);
    }
    int rc = r->prepare(r->ctx, r->dir, (const char *const *)names, (const char *const *)texts, 2,
                        (const char *const *)dirs, 2, ret_user, err);
    for (int k = 0; k < 2; k++) {
        free(texts[k]);
        free(names[k]);
        free(dirs[k]);
    }
    return rc;
}

static int prepare_dir(const struct proxy_opts *opts, char **ret_user, struct zp_err *err)
{
    *ret_user = NULL;
    if (opts->remote)
        return prepare_dir_remote(opts, ret_user, err);
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
        char *probe = zp_asprintf("%s/%s", PROXY_MOUNT, PROXY_PROBE_SOCK);
        cfg = r == ROLE_EDGE ? proxy_edge_config(NULL, 0, sock, opts->http_port, opts->https_port)
                             : proxy_router_config(NULL, 0, sock, probe);
        free(probe);
        free(file);
        file = zp_asprintf("%s/%s.json", dir, role_name(r));
        if ((rc = proxy__write_file(file, cfg, err)))
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
static char *settings_hash(const struct proxy_opts *o, const char *image_id, enum role r,
                           const struct proxy_acme *acme)
{
    char *user =
        o->user ? zp_strdup(o->user) : zp_asprintf("%u:%u", (unsigned)getuid(), (unsigned)getgid());
    char *dir = proxy__dir(o);
    char *s = zp_asprintf("v1|%s|%s|%s|%d|%d|%s|%s|%s", role_name(r), o->image, image_id,
                          o->http_port, o->https_port, o->bind_ip ? o->bind_ip : "", user,
                          o->remote ? dir : o->state_dir);
    free(user);
    free(dir);
    if (acme && acme->ca_root) { /* the root's mount (a new root: a new mount) */
        char *t = zp_asprintf("%s|acme-root:%s", s, acme->root_sha ? acme->root_sha : "");
        free(s);
        s = t;
    }
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

static char *create_body(const struct proxy_opts *o, enum role r, const char *hash,
                         const struct proxy_acme *acme)
{
    char *dir = proxy__dir(o);
    char *bind = zp_asprintf("%s:%s", dir, PROXY_MOUNT);
    char *initial = zp_asprintf("%s/%s.json", PROXY_MOUNT, role_name(r));
    char *data_env = zp_asprintf("XDG_DATA_HOME=%s/data/%s", PROXY_MOUNT, role_name(r));
    char *config_env = zp_asprintf("XDG_CONFIG_HOME=%s/data/%s/config", PROXY_MOUNT, role_name(r));
    char *user =
        o->user ? zp_strdup(o->user) : zp_asprintf("%u:%u", (unsigned)getuid(), (unsigned)getgid());
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
    if (acme && acme->ca_root) {
        /* the ACME server's trusted root, read-only */
        char *root = zp_asprintf("%s/%s:%s:ro", dir, PROXY_ACME_ROOT_FILE, PROXY_ACME_ROOT_MOUNT);
        json_array_append_new(json_object_get(host, "Binds"), json_string(root));
        free(root);
    }
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

char *proxy_project_network(const char *project)
{
    return zp_asprintf("%s-%s", PROXY_NETWORK, project);
}

int proxy_ensure_project_network(struct engine *e, const char *project, bool *ret_created,
                                 struct zp_err *err)
{
    char *name = proxy_project_network(project);
    bool exists = false;
    if (ret_created)
        *ret_created = false;
    int rc = engine_network_exists(e, name, &exists, err);
    if (rc || exists)
        goto out;
    struct engine_kv labels[] = {{PROXY_LABEL_ROLE, "project-network"},
                                 {LABEL_NET_PROJECT, project}};
    struct engine_network_opts no;
    memset(&no, 0, sizeof(no));
    no.driver = "bridge";
    no.labels = labels;
    no.n_labels = 2;
    struct zp_err e2;
    zp_err_init(&e2);
    rc = engine_network_create(e, name, &no, NULL, &e2);
    if (rc == ZP_E_CONFLICT) /* created meanwhile by another zpanel */
        rc = 0;
    else if (rc)
        *err = e2;
    else if (ret_created)
        *ret_created = true;
out:
    free(name);
    return rc;
}

int proxy_ensure_swarm_network(struct engine *e, const char *project, struct zp_err *err)
{
    char *name = proxy_project_network(project);
    struct engine_network_list l;
    memset(&l, 0, sizeof(l));
    int rc = engine_network_list(e, NULL, &l, err);
    const struct engine_network *found = NULL;
    for (size_t k = 0; rc == 0 && k < l.n; k++)
        if (strcmp(l.items[k].name, name) == 0)
            found = &l.items[k];
    if (rc == 0 && found && strcmp(found->scope, "swarm") != 0) {
        /* left by a container deploy of the project: unused, it is replaced */
        struct zp_err e2;
        zp_err_init(&e2);
        engine_network_disconnect(e, name, PROXY_ROUTER_NAME, true, &e2);
        zp_err_init(&e2);
        if (engine_network_remove(e, found->id, &e2) != 0)
            rc = zp_err_set(err, ZP_E_CONFLICT, NULL,
                            "the proxy network '%s' is a %s network still in use (%s): Swarm "
                            "services need an overlay one; run `zpanel down` on the project's "
                            "containers first",
                            name, found->driver, e2.msg);
        found = NULL;
    }
    if (rc == 0 && !found) {
        struct engine_kv labels[] = {{PROXY_LABEL_ROLE, "project-network"},
                                     {LABEL_NET_PROJECT, project}};
        struct engine_network_opts no;
        memset(&no, 0, sizeof(no));
        no.driver = "overlay";
        no.attachable = true; /* the router, a plain container, joins it */
        no.labels = labels;
        no.n_labels = 2;
        struct zp_err e2;
        zp_err_init(&e2);
        rc = engine_network_create(e, name, &no, NULL, &e2);
        if (rc == ZP_E_CONFLICT)
            rc = 0;
        else if (rc)
            *err = e2;
    }
    engine_network_list_release(&l);
    free(name);
    return rc;
}

int proxy_forget_project(struct engine *e, const char *project, struct zp_err *err)
{
    char *name = proxy_project_network(project);
    struct zp_err e2;
    zp_err_init(&e2);
    /* not connected, no router, no network: nothing to undo */
    engine_network_disconnect(e, name, PROXY_ROUTER_NAME, true, &e2);
    zp_err_init(&e2);
    int rc = engine_network_remove(e, name, &e2);
    if (rc == ZP_E_NOTFOUND || rc == ZP_E_CONFLICT ||
        (rc && strstr(e2.msg, "active endpoints") != NULL))
        rc = 0; /* gone, or still used by containers zpanel keeps */
    else if (rc)
        *err = e2;
    free(name);
    return rc;
}

/* Is the router (inspected as r) attached to network? */
static bool router_on(const struct engine_container *r, const char *network)
{
    for (size_t i = 0; i < r->n_networks; i++)
        if (strcmp(r->networks[i].name, network) == 0)
            return true;
    return false;
}

/* Attach the router to network unless it is (r: its inspection, or NULL to look). */
static int attach_router(struct engine *e, const struct engine_container *r, const char *network,
                         struct zp_err *err)
{
    struct engine_container mine;
    memset(&mine, 0, sizeof(mine));
    int rc = 0;
    if (!r) {
        if ((rc = engine_container_inspect(e, PROXY_ROUTER_NAME, &mine, err)))
            return rc;
        r = &mine;
    }
    if (!router_on(r, network)) {
        struct zp_err e2;
        zp_err_init(&e2);
        rc = engine_network_connect(e, network, PROXY_ROUTER_NAME, NULL, NULL, &e2);
        if (rc == ZP_E_CONFLICT || (rc && strstr(e2.msg, "already exists") != NULL))
            rc = 0; /* connected meanwhile by another zpanel */
        else if (rc) {
            *err = e2;
            zp_err_prefix(err, "attaching the proxy's router to network '%s'", network);
        }
    }
    engine_container_release(&mine);
    return rc;
}

/* The address of container c on its proxy network: its project's (ret_net gets that
 * network's name) or, for containers of earlier versions, `zpanel`. NULL when it has
 * none (not running, or on neither network). Both owned by the caller. */
static char *upstream_address(const struct engine_container *c, char **ret_net)
{
    const char *project = engine_labels_get(&c->labels, LABEL_PROJECT);
    char *mine = project ? proxy_project_network(project) : NULL;
    const struct engine_container_net *found = NULL;
    for (size_t i = 0; i < c->n_networks; i++) {
        const struct engine_container_net *n = &c->networks[i];
        if (!n->ip || !n->ip[0])
            continue;
        if (mine && strcmp(n->name, mine) == 0)
            found = n;
        else if (!found && strcmp(n->name, PROXY_NETWORK) == 0)
            found = n;
    }
    free(mine);
    if (!found)
        return NULL;
    if (ret_net)
        *ret_net = zp_strdup(found->name);
    return zp_strdup(found->ip);
}

/* Keep the role's container when it carries the same settings (starting it when
 * stopped), else replace it. */
static int ensure_container(struct engine *e, const struct proxy_opts *o, const char *image_id,
                            enum role r, const struct proxy_acme *acme, struct zp_err *err)
{
    const char *name = role_container(r);
    char *hash = settings_hash(o, image_id, r, acme);
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
    body = create_body(o, r, hash, acme);
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
    struct proxy_opts o, ro;
    opts = proxy__resolve(e, opts, &ro);
    opts_defaults(opts, &o);
    if (o.remote && ((o.acme_email && *o.acme_email) || (o.acme_ca && *o.acme_ca) ||
                     (o.acme_ca_root && *o.acme_ca_root)))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "--acme-*: ACME settings are not supported for a proxy on a server "
                          "over SSH yet");
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
    struct proxy_acme acme;
    memset(&acme, 0, sizeof(acme));
    char *user = NULL;
    if ((rc = prepare_dir(&o, &user, err)))
        goto out;
    o.user = user;
    if ((!o.remote && (rc = proxy__acme_apply(&o, &acme, err))) ||
        (rc = proxy_ensure_network(e, NULL, err)) ||
        (rc = ensure_container(e, &o, image_id, ROLE_ROUTER, NULL, err)) ||
        (rc = ensure_container(e, &o, image_id, ROLE_EDGE, &acme, err)) ||
        (rc = wait_admin(&o, ROLE_ROUTER, err)) || (rc = wait_admin(&o, ROLE_EDGE, err)))
        goto out;
    bool running = false;
    rc = proxy_sync(e, &o, NULL, 0, &running, NULL, err);
    if (rc == 0 && !running)
        rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                        "the proxy's containers stopped right after start "
                        "(see `docker logs zpanel-proxy`)");
out:
    proxy_acme_release(&acme);
    free(image_id);
    free(user);
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
    return proxy__admin_get_config(o, role_sock(r), ret, err);
}

int proxy__admin_get_config(const struct proxy_opts *o, const char *sock, json_t **ret,
                            struct zp_err *err)
{
    char *path = proxy__sock_path(o, sock);
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
    struct proxy_opts ro;
    opts = proxy__resolve(e, opts, &ro);
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
    char **names;
    char **addrs;   /* IP on the proxy network */
    char **nets;    /* that network */
    bool *draining; /* excluded by an override: referenced, not routed */
    size_t n;
};

static void routed_release(struct routed *rt)
{
    proxy_sites_free(rt->sites, rt->n);
    for (size_t i = 0; i < rt->n; i++) {
        free(rt->ids[i]);
        free(rt->names[i]);
        free(rt->addrs[i]);
        free(rt->nets[i]);
    }
    free(rt->ids);
    free(rt->names);
    free(rt->addrs);
    free(rt->nets);
    free(rt->draining);
    memset(rt, 0, sizeof(*rt));
}

static bool same_label(const struct engine_labels *a, const struct engine_labels *b,
                       const char *key)
{
    const char *x = engine_labels_get(a, key), *y = engine_labels_get(b, key);
    return x && y && strcmp(x, y) == 0;
}

/* Does another running container of the list serve as c's project, service and replica
 * (under a name without the temporary suffix)? */
static bool replica_served(const struct engine_container_list *l,
                           const struct engine_container_summary *c)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct engine_container_summary *o = &l->items[i];
        if (o == c || !o->n_names || zp_str_has_suffix(o->names[0], PROXY_TEMP_SUFFIX))
            continue;
        if (same_label(&o->labels, &c->labels, LABEL_PROJECT) &&
            same_label(&o->labels, &c->labels, LABEL_SERVICE) &&
            same_label(&o->labels, &c->labels, LABEL_NUMBER))
            return true;
    }
    return false;
}

/* Append one upstream to rt (grown as needed; *cap its room). Takes s, addr and net. */
static void routed_add(struct routed *rt, size_t *cap, struct proxy_site *s, const char *id,
                       const char *name, char *addr, char *net, bool draining)
{
    if (rt->n == *cap) {
        size_t c = *cap;
        zp_grow((void **)&rt->sites, &c, rt->n + 1, sizeof(*rt->sites));
        c = *cap;
        zp_grow((void **)&rt->ids, &c, rt->n + 1, sizeof(*rt->ids));
        c = *cap;
        zp_grow((void **)&rt->names, &c, rt->n + 1, sizeof(*rt->names));
        c = *cap;
        zp_grow((void **)&rt->addrs, &c, rt->n + 1, sizeof(*rt->addrs));
        c = *cap;
        zp_grow((void **)&rt->nets, &c, rt->n + 1, sizeof(*rt->nets));
        c = *cap;
        zp_grow((void **)&rt->draining, &c, rt->n + 1, sizeof(*rt->draining));
        *cap = c;
    }
    rt->sites[rt->n] = *s;
    rt->ids[rt->n] = zp_strdup(id);
    rt->names[rt->n] = zp_strdup(name);
    rt->addrs[rt->n] = addr;
    rt->nets[rt->n] = net;
    rt->draining[rt->n] = draining;
    rt->n++;
}

/* The routed Swarm services' tasks (when the engine is a Swarm manager): every task whose
 * desired state and state are both running (Swarm reports a task running only once its
 * health check passed, and marks the old task of an update for shutdown before stopping
 * it), dialled at its address on its project's proxy network, an overlay network that
 * spans the nodes. A task of a service that Swarm is replacing is left out as soon as the
 * manager says so, whichever node runs it. */
static int collect_swarm(struct engine *e, struct routed *rt, size_t *cap, struct zp_err *err)
{
    /* no GET /info first: an engine that is no Swarm manager (outside a swarm, or a
     * worker) answers the services list with 503 "This node is not a swarm manager" */
    const char *filters[] = {PROXY_LABEL_ROUTES, NULL};
    struct engine_service_list sl;
    struct zp_err lerr0;
    zp_err_init(&lerr0);
    int rc = engine_service_list(e, filters, &sl, &lerr0);
    if (rc && strstr(lerr0.msg, "not a swarm manager"))
        return 0;
    if (rc) {
        *err = lerr0;
        return rc;
    }
    for (size_t i = 0; i < sl.n && rc == 0; i++) {
        const struct engine_service *svc = &sl.items[i];
        const char *project = engine_labels_get(&svc->labels, LABEL_PROJECT);
        struct zp_err lerr;
        zp_err_init(&lerr);
        struct proxy_site site;
        if (!project || proxy_site_from_label(engine_labels_get(&svc->labels, PROXY_LABEL_ROUTES),
                                              &site, &lerr))
            continue;
        if (site.kind != PROXY_KIND_CADDY) {
            proxy_site_release(&site);
            continue;
        }
        struct engine_task_list tl;
        if ((rc = engine_task_list(e, NULL, svc->id, true, &tl, err))) {
            proxy_site_release(&site);
            break;
        }
        char *net = proxy_project_network(project);
        for (size_t k = 0; k < tl.n; k++) {
            const struct engine_task *t = &tl.items[k];
            if (strcmp(t->state, "running") != 0 || strcmp(t->desired_state, "running") != 0)
                continue;
            for (size_t a = 0; a < t->n_addrs; a++) {
                if (strcmp(t->addrs[a].network, net) != 0)
                    continue;
                struct proxy_site copy;
                char *label = proxy_site_to_label(&site);
                int prc = proxy_site_from_label(label, &copy, &lerr);
                free(label);
                if (prc)
                    ZP_BUG("a site does not survive its own label");
                char *name = zp_asprintf("%s.%lld", svc->name, (long long)t->slot);
                routed_add(rt, cap, &copy, t->id, name, zp_strdup(t->addrs[a].ip), zp_strdup(net),
                           false);
                free(name);
                break;
            }
        }
        free(net);
        engine_task_list_release(&tl);
        proxy_site_release(&site);
    }
    engine_service_list_release(&sl);
    if (rc)
        zp_err_prefix(err, "listing the routed Swarm services");
    return rc;
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
    size_t cap = list.n ? list.n : 1;
    rt.sites = zp_calloc(cap, sizeof(*rt.sites));
    rt.ids = zp_calloc(cap, sizeof(*rt.ids));
    rt.names = zp_calloc(cap, sizeof(*rt.names));
    rt.addrs = zp_calloc(cap, sizeof(*rt.addrs));
    rt.nets = zp_calloc(cap, sizeof(*rt.nets));
    rt.draining = zp_calloc(cap, sizeof(*rt.draining));
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
        /* a replacement is routed once nothing else serves its replica: whatever its
         * name, what serves is routed (a rollout stopped before its rename) */
        if (zp_str_has_suffix(name, PROXY_TEMP_SUFFIX) && !included && !excluded &&
            replica_served(&list, c))
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
        /* the address now: a container restarted by the engine may have another one */
        struct engine_container ci;
        memset(&ci, 0, sizeof(ci));
        char *net = NULL, *addr = NULL;
        if (engine_container_inspect(e, c->id, &ci, &lerr) == 0)
            addr = upstream_address(&ci, &net);
        engine_container_release(&ci);
        if (!addr) { /* gone meanwhile, or on no proxy network: nothing to dial */
            proxy_site_release(&s);
            continue;
        }
        routed_add(&rt, &cap, &s, c->id, name, addr, net, excluded);
    }
    engine_container_list_release(&list);
    if ((rc = collect_swarm(e, &rt, &cap, err))) {
        routed_release(&rt);
        return rc;
    }
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
    struct proxy_opts o, ro;
    opts = proxy__resolve(e, opts, &ro);
    opts_defaults(opts, &o);
    struct engine_container edge, router;
    memset(&edge, 0, sizeof(edge));
    memset(&router, 0, sizeof(router));
    bool have_edge = false, have_router = false;
    struct routed rt;
    memset(&rt, 0, sizeof(rt));
    struct proxy_upstream *ups = NULL;
    const struct proxy_site **sites = NULL;
    char *rcfg = NULL, *ecfg = NULL, *rsock = NULL, *esock = NULL, *psock = NULL;
    struct proxy_acme acme;
    memset(&acme, 0, sizeof(acme));
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
    /* the edge reaches the router on `zpanel`: rejoin it when the router lost it (seen once
     * on a loaded engine: disconnected right after its start) */
    if ((rc = attach_router(e, &router, PROXY_NETWORK, err)))
        goto out;
    /* the router reaches each upstream on its proxy network */
    for (size_t i = 0; i < rt.n; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(rt.nets[k], rt.nets[i]) == 0;
        if (!seen && (rc = attach_router(e, &router, rt.nets[i], err)))
            goto out;
    }
    ups = zp_calloc(rt.n ? rt.n : 1, sizeof(*ups));
    sites = zp_calloc(rt.n ? rt.n : 1, sizeof(*sites));
    size_t nsites = 0;
    for (size_t i = 0; i < rt.n; i++) {
        ups[i].site = &rt.sites[i];
        ups[i].container_id = rt.ids[i];
        ups[i].address = rt.addrs[i];
        ups[i].draining = rt.draining[i];
        if (!rt.draining[i])
            sites[nsites++] = &rt.sites[i];
    }
    if (ret_conflicts)
        *ret_conflicts = proxy_conflicts(sites, nsites);
    rsock = inner_sock(ROLE_ROUTER);
    esock = inner_sock(ROLE_EDGE);
    psock = zp_asprintf("%s/%s", PROXY_MOUNT, PROXY_PROBE_SOCK);
    rcfg = proxy_router_config(ups, rt.n, rsock, psock);
    if (!o.remote && (rc = proxy_acme_load(&o, &acme, err)))
        goto out;
    ecfg = proxy_edge_config_acme(ups, rt.n, esock, o.http_port, o.https_port, &acme);
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
    proxy_acme_release(&acme);
    free(rsock);
    free(esock);
    free(psock);
    return rc;
}

/* ---- who may claim a host ---- */

/* Does site s route exactly host + path ("" for every path) on a host overlapping host? */
static bool site_routes_path(const struct proxy_site *s, const char *host, const char *path)
{
    if (strcmp(path, "/") == 0) /* the prefix "/" is every path */
        path = "";
    for (size_t r = 0; r < s->nroutes; r++) {
        const struct proxy_route *rt = &s->routes[r];
        bool named = false;
        for (size_t h = 0; h < rt->nhosts && !named; h++)
            named = proxy_hosts_overlap(rt->hosts[h], host);
        if (!named)
            continue;
        if (rt->npaths == 0 && path[0] == '\0')
            return true;
        for (size_t p = 0; p < rt->npaths; p++)
            if (strcmp(rt->paths[p], path) == 0 || (!path[0] && strcmp(rt->paths[p], "/") == 0))
                return true;
    }
    return false;
}

int proxy_check_claims(struct engine *e, const char *project, const struct proxy_site *const *sites,
                       size_t n, struct zp_err *err)
{
    const char *filters[] = {PROXY_LABEL_ROUTES, NULL};
    struct engine_container_list list;
    int rc = engine_container_list(e, filters, true, &list, err);
    if (rc)
        return rc;
    struct proxy_site *have = zp_calloc(list.n ? list.n : 1, sizeof(*have));
    struct proxy_upstream *ups = zp_calloc(list.n ? list.n : 1, sizeof(*ups));
    size_t nh = 0;
    for (size_t i = 0; i < list.n; i++) {
        const struct engine_container_summary *c = &list.items[i];
        const char *oneoff = engine_labels_get(&c->labels, LABEL_ONEOFF);
        struct zp_err lerr;
        zp_err_init(&lerr);
        if ((oneoff && strcmp(oneoff, "true") == 0) ||
            proxy_site_from_label(engine_labels_get(&c->labels, PROXY_LABEL_ROUTES), &have[nh],
                                  &lerr))
            continue;
        if (have[nh].kind != PROXY_KIND_CADDY) {
            proxy_site_release(&have[nh]);
            continue;
        }
        ups[nh].site = &have[nh];
        ups[nh].container_id = c->id;
        ups[nh].address = "";
        nh++;
    }
    struct zp_buf msg = ZP_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const struct proxy_site *s = sites[i];
        if (s->kind != PROXY_KIND_CADDY)
            continue;
        for (size_t r = 0; r < s->nroutes; r++) {
            const struct proxy_route *rt = &s->routes[r];
            for (size_t h = 0; h < rt->nhosts; h++) {
                const char *host = rt->hosts[h];
                const char *owner = proxy_host_owner(ups, nh, host);
                if (!owner || strcmp(owner, project) == 0)
                    continue;
                const struct proxy_site *os = NULL;
                for (size_t k = 0; k < nh && !os; k++)
                    if (strcmp(have[k].project, owner) == 0 &&
                        proxy_site_names_host(&have[k], host))
                        os = &have[k];
                const char *taken = NULL;
                if (proxy_host_shared(ups, nh, owner, host, project)) {
                    /* a guest routes paths of its own, never one the owner routes */
                    for (size_t p = 0; p <= rt->npaths && !taken; p++) {
                        const char *path = rt->npaths ? (p < rt->npaths ? rt->paths[p] : NULL)
                                                      : (p == 0 ? "" : NULL);
                        for (size_t k = 0; path && k < nh && !taken; k++)
                            if (strcmp(have[k].project, owner) == 0 &&
                                site_routes_path(&have[k], host, path))
                                taken = path;
                    }
                    if (!taken)
                        continue;
                }
                char line[1024];
                if (taken)
                    snprintf(line, sizeof(line),
                             "service '%s': host '%s' path '%s' is routed by project '%s' "
                             "(service '%s'), which owns the host",
                             s->service, host, taken[0] ? taken : "/", owner, os->service);
                else
                    snprintf(line, sizeof(line),
                             "service '%s': host '%s' belongs to project '%s' (service '%s'): "
                             "another project may route it only when its owner allows it "
                             "(x-zpanel: share_hosts_with: [%s])",
                             s->service, host, owner, os->service, project);
                if (!strstr(zp_buf_cstr(&msg), line))
                    zp_buf_addf(&msg, "%s%s", msg.len ? "\n" : "", line);
            }
        }
    }
    if (msg.len)
        rc = zp_err_set(err, ZP_E_CONFLICT, NULL, "%s", zp_buf_cstr(&msg));
    zp_buf_release(&msg);
    for (size_t i = 0; i < nh; i++)
        proxy_site_release(&have[i]);
    free(have);
    free(ups);
    engine_container_list_release(&list);
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
    struct proxy_opts ro;
    opts = proxy__resolve(e, opts, &ro);
    struct engine_container router;
    memset(&router, 0, sizeof(router));
    bool have = false;
    json_t *cfg = NULL;
    struct routed rt;
    memset(&rt, 0, sizeof(rt));
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
    if ((rc = admin_get_config(opts, ROLE_ROUTER, &cfg, err)) ||
        (rc = collect_routed(e, NULL, 0, &rt, err)))
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
            for (size_t c = 0; c < rt.n; c++) {
                /* "ip:port" or "[ip6]:port" */
                const char *a = dial + (dial[0] == '[');
                size_t alen = strlen(rt.addrs[c]);
                if (strncmp(a, rt.addrs[c], alen) == 0 && (a[alen] == ':' || a[alen] == ']'))
                    name = rt.names[c];
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
    routed_release(&rt);
    json_decref(cfg);
    return rc;
}

/* ---- drain ---- */

/* Container id's address on its proxy network and that network (both owned). */
static int container_address(struct engine *e, const char *container_id, char **ret_addr,
                             char **ret_net, struct zp_err *err)
{
    struct engine_container c;
    memset(&c, 0, sizeof(c));
    int rc = engine_container_inspect(e, container_id, &c, err);
    if (rc)
        return rc;
    char *net = NULL;
    char *addr = upstream_address(&c, &net);
    if (!addr) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                        "container %.12s has no address on a network of the proxy (is it "
                        "running?)",
                        container_id);
    } else {
        *ret_addr = addr;
        if (ret_net)
            *ret_net = net;
        else
            free(net);
    }
    engine_container_release(&c);
    return rc;
}

int proxy_drain(struct engine *e, const struct proxy_opts *opts, const char *container_id, int port,
                int64_t timeout_ms, bool *ret_drained, struct zp_err *err)
{
    struct proxy_opts ro;
    opts = proxy__resolve(e, opts, &ro);
    char *ip = NULL;
    int rc = container_address(e, container_id, &ip, NULL, err);
    if (rc == ZP_E_NOTFOUND || rc == ZP_E_ENGINE) {
        /* gone, or no longer on the network: nothing can be in flight to it */
        zp_err_init(err);
        *ret_drained = true;
        return 0;
    }
    if (rc)
        return rc;
    char *addr = proxy__dial(ip, port);
    char *path = proxy__sock_path(opts, PROXY_ROUTER_SOCK);
    struct proxy_admin *a = NULL;
    int64_t deadline = zp_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    bool drained = false;
    rc = proxy_admin_open(path, &a, err);
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
    free(ip);
    return rc;
}

/* ---- probe ---- */

int proxy_probe(struct engine *e, const struct proxy_opts *opts, const char *container_id, int port,
                const char *path, int64_t timeout_ms, bool *ret_ok, char **ret_output,
                struct zp_err *err)
{
    struct proxy_opts ro;
    opts = proxy__resolve(e, opts, &ro);
    if (!path || !proxy__path_valid(path))
        return zp_err_set(err, ZP_E_INPUT, NULL, "invalid probe path '%s'", path ? path : "");
    char *ip = NULL, *net = NULL, *dial = NULL, *sock = NULL, *host = NULL, *upstream = NULL;
    struct engine_http *h = NULL;
    struct engine_http_response resp;
    memset(&resp, 0, sizeof(resp));
    int rc = container_address(e, container_id, &ip, &net, err);
    if (rc == 0)
        rc = attach_router(e, NULL, net, err);
    if (rc)
        goto out;
    dial = proxy__dial(ip, port);
    sock = proxy__sock_path(opts, PROXY_PROBE_SOCK);
    host = zp_asprintf("Host: %s", dial);
    upstream = zp_asprintf(PROXY_PROBE_HEADER ": %s", dial);
    const char *headers[] = {host, upstream, NULL};
    if ((rc = engine_http_open(sock, PROBE_MAX_OUTPUT, &h, err)))
        goto out;
    struct zp_err herr;
    zp_err_init(&herr);
    int hrc = engine_http_request(h, "GET", path, headers, NULL, timeout_ms > 0 ? timeout_ms : 1,
                                  &resp, &herr);
    struct zp_buf out = ZP_BUF_INIT;
    if (hrc == ZP_E_TOOBIG) {
        /* larger than a probe's answer may be: a failed try, with the reason */
        zp_buf_addf(&out, "GET http://%s%s: %s", dial, path, herr.msg);
        *ret_ok = false;
    } else if (hrc) {
        /* no answer from the router (restarting, busy): a failed try, not an error */
        zp_buf_addf(&out, "GET http://%s%s: no answer: %s", dial, path, herr.msg);
        *ret_ok = false;
    } else {
        *ret_ok = resp.status >= 200 && resp.status <= 299;
        if (resp.status == 502 && resp.len == 0)
            zp_buf_addf(&out, "GET http://%s%s: the router could not connect to it (HTTP 502)",
                        dial, path);
        else
            zp_buf_addf(&out, "GET http://%s%s: HTTP %ld\n%.*s", dial, path, resp.status,
                        (int)(resp.len < PROBE_SHOWN ? resp.len : PROBE_SHOWN), resp.body);
    }
    if (ret_output)
        *ret_output = zp_buf_detach(&out, NULL);
    zp_buf_release(&out);
out:
    if (rc)
        zp_err_prefix(err, "probing %.12s", container_id);
    engine_http_response_release(&resp);
    engine_http_close(h);
    free(ip);
    free(net);
    free(dial);
    free(sock);
    free(host);
    free(upstream);
    return rc;
}

/* ---- proxies on other machines ---- */

struct remote_entry {
    char *host;
    struct proxy_remote r;
};

static pthread_mutex_t remote_mu = PTHREAD_MUTEX_INITIALIZER;
static struct remote_entry **remotes;
static size_t nremotes;

void proxy_remote_set(const char *engine_host, const struct proxy_remote *r)
{
    pthread_mutex_lock(&remote_mu);
    for (size_t i = 0; i < nremotes; i++) {
        if (strcmp(remotes[i]->host, engine_host) != 0)
            continue;
        struct remote_entry *old = remotes[i];
        remotes[i] = remotes[--nremotes];
        free(old->host);
        free((char *)old->r.dir);
        free((char *)old->r.sock_dir);
        free(old);
        break;
    }
    if (r) {
        struct remote_entry *n = zp_calloc(1, sizeof(*n));
        n->host = zp_strdup(engine_host);
        n->r = *r;
        n->r.dir = zp_strdup(r->dir);
        n->r.sock_dir = zp_strdup(r->sock_dir);
        remotes = zp_realloc(remotes, (nremotes + 1) * sizeof(*remotes));
        remotes[nremotes++] = n;
    }
    pthread_mutex_unlock(&remote_mu);
}

const struct proxy_opts *proxy__resolve(const struct engine *e, const struct proxy_opts *opts,
                                        struct proxy_opts *tmp)
{
    if (opts->remote || !e)
        return opts;
    const char *host = engine_host(e);
    const struct proxy_remote *r = NULL;
    pthread_mutex_lock(&remote_mu);
    for (size_t i = 0; i < nremotes && !r && host; i++)
        if (strcmp(remotes[i]->host, host) == 0)
            r = &remotes[i]->r; /* lives until its tunnel's owner forgets it */
    pthread_mutex_unlock(&remote_mu);
    if (!r)
        return opts;
    *tmp = *opts;
    tmp->remote = r;
    return tmp;
}

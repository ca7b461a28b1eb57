/* proxy: zpanel's reverse proxy. Caddy runs as two containers on the shared network
 * `zpanel`, both configured through Caddy's admin API on unix sockets in a host
 * directory (never reachable from a network):
 *   - zpanel-proxy (the edge): listens on the published HTTP/HTTPS ports, terminates
 *     TLS, and hands every routed host to the router. Its configuration only changes
 *     when the set of hosts or their TLS mode changes.
 *   - zpanel-router: routes host + path to the containers' upstreams. Rollouts switch
 *     upstreams here with one /load request. A Caddy reload closes idle keep-alive
 *     connections; the edge's connections to the router are retried by Caddy's
 *     transport, so clients of the edge never see that close (measured: one wrk read
 *     error per reload without the router, none with it).
 * What a service wants routed travels as the label io.zpanel.routes (JSON) on its
 * containers, so the whole configuration can be rebuilt from the engine at any time.
 * Also: the Traefik labels for the same routes. Library code: it never prints. */
#ifndef ZP_PROXY_H
#define ZP_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

struct engine;
struct proxy_opts;

#define PROXY_NETWORK "zpanel"
#define PROXY_EDGE_NAME "zpanel-proxy"
#define PROXY_ROUTER_NAME "zpanel-router"
#define PROXY_LABEL_ROUTES "io.zpanel.routes"
#define PROXY_LABEL_ROLE "io.zpanel.proxy" /* "edge" or "router" on the proxy's containers */

enum proxy_tls { PROXY_TLS_AUTO, PROXY_TLS_INTERNAL, PROXY_TLS_OFF };
enum proxy_kind { PROXY_KIND_CADDY, PROXY_KIND_TRAEFIK };

/* One entry of x-zpanel.routes. */
struct proxy_route {
    char **hosts; /* at least one */
    size_t nhosts;
    char **paths; /* path prefixes ("/api"); none: every path */
    size_t npaths;
    int port; /* container port */
};

/* What one service wants (its x-zpanel extension, normalised by compose/). */
struct proxy_site {
    char *project;
    char *service;
    struct proxy_route *routes;
    size_t nroutes;
    enum proxy_tls tls;
    char *health_path;          /* HTTP probe path; NULL: no HTTP probe */
    int64_t health_interval_ms; /* default 1000 */
    int64_t health_timeout_ms;  /* default 5000: how long a probe may take in total */
    int64_t drain_timeout_ms;   /* default 30000 */
    enum proxy_kind kind;
    char **share_with; /* x-zpanel.share_hosts_with: projects that may route paths on
                        * this site's hosts when this project owns them */
    size_t nshare;
};

void proxy_site_release(struct proxy_site *s);
void proxy_sites_free(struct proxy_site *s, size_t n);

/* The label value (compact JSON, keys sorted) for a site, and back. from_label errors:
 * ZP_E_INPUT naming what is wrong. */
char *proxy_site_to_label(const struct proxy_site *s);
int proxy_site_from_label(const char *json, struct proxy_site *ret, struct zp_err *err);

/* The Traefik v2/v3 labels for a site's routes, "key=value" strings (NULL-terminated
 * array; the caller frees each string and the array): per route a router with rule
 * Host(`a`) || Host(`b`) [&& PathPrefix(`/p`)], entrypoints web/websecure, tls with
 * certresolver (auto) or none (off), a service with loadbalancer.server.port, and
 * traefik.enable=true, traefik.docker.network=zpanel. */
char **proxy_traefik_labels(const struct proxy_site *s);

/* ---- one routed upstream: a container of a site ---- */

struct proxy_upstream {
    const struct proxy_site *site; /* borrowed */
    const char *container_id;      /* borrowed */
    /* borrowed: the container's IP address on its project's proxy network (dialled as
     * <ip>:<port>, [ip]:port for IPv6): never a DNS name, which a rename briefly drops */
    const char *address;
    /* Not routed any more, but still referenced by a route that never matches (its
     * "@id" is PROXY_DRAIN_ID): Caddy forgets an upstream's in-flight count as soon as
     * no loaded route names it, although those requests still run (measured with Caddy
     * 2.6.2), so a container being drained stays referenced until it is removed. */
    bool draining;
};

#define PROXY_DRAIN_ID "zpanel-draining"

/* The router's and the edge's full Caddy JSON configurations for these upstreams
 * (pure; sorted, so equal inputs give equal text). admin_socket: the path of that
 * Caddy's admin socket inside its container; probe_socket (router only, may be NULL):
 * where the router also listens for zpanel's probes (a request's X-Zpanel-Upstream
 * header names the address it is proxied to). Hosts belong to their owner
 * (proxy_host_owner): another project's claim on a host is left out unless the owner
 * shares the host with it, and the edge takes a host's TLS mode from its owner. Draining
 * upstreams are ignored by the edge. */
char *proxy_router_config(const struct proxy_upstream *u, size_t n, const char *admin_socket,
                          const char *probe_socket);
char *proxy_edge_config(const struct proxy_upstream *u, size_t n, const char *admin_socket,
                        int http_port, int https_port);

/* ---- automatic HTTPS (ACME) ---- */

#define PROXY_ACME_PRODUCTION "https://acme-v02.api.letsencrypt.org/directory"
#define PROXY_ACME_STAGING "https://acme-staging-v02.api.letsencrypt.org/directory"
/* Where the edge finds the trusted root of the ACME server (mounted read-only from
 * <state_dir>/proxy/acme-ca-root.pem) when one is set. */
#define PROXY_ACME_ROOT_MOUNT "/zpanel-acme-ca-root.pem"

/* The ACME settings of the edge, kept in <state_dir>/proxy/acme.json (0600). */
struct proxy_acme {
    char *email;    /* the ACME account's contact; NULL: none */
    char *ca;       /* the ACME directory URL; NULL: PROXY_ACME_PRODUCTION */
    bool ca_root;   /* trust PROXY_ACME_ROOT_MOUNT (the ACME server's root) */
    char *root_sha; /* sha256 of the root's PEM text (a change recreates the edge) */
};
void proxy_acme_release(struct proxy_acme *a);
/* The settings file's text and back (pure). from_json errors: ZP_E_INPUT. */
char *proxy_acme_to_json(const struct proxy_acme *a);
int proxy_acme_from_json(const char *json, struct proxy_acme *ret, struct zp_err *err);
/* Are the ACME flags of opts valid (the email an address, the CA an https:// URL or a
 * shorthand, the root a readable file of PEM certificates)? Errors: ZP_E_INPUT naming
 * the flag. Changes nothing. */
int proxy_acme_check(const struct proxy_opts *opts, struct zp_err *err);
/* The stored settings (all unset when there is no file). */
int proxy_acme_load(const struct proxy_opts *opts, struct proxy_acme *ret, struct zp_err *err);

/* proxy_edge_config with ACME settings: hosts with tls auto get a policy whose issuer is
 * that CA (with the email and the trusted root). acme NULL, or with nothing set: Caddy's
 * default issuers for them (no policy). */
char *proxy_edge_config_acme(const struct proxy_upstream *u, size_t n, const char *admin_socket,
                             int http_port, int https_port, const struct proxy_acme *acme);

/* The certificate state of one host the edge serves over HTTPS. */
struct proxy_cert {
    char *host;
    enum proxy_tls tls; /* auto or internal */
    char *issuer;       /* the issuer's common name (or whole name); NULL: no certificate */
    int64_t not_after;  /* Unix seconds; 0 without certificate */
    char *error;        /* the last failed issuance since the last success, NULL: none */
    int64_t error_at;   /* its Unix time */
};
void proxy_certs_free(struct proxy_cert *c, size_t n);

/* Apply Caddy's JSON log lines (log[0..len), oldest first) to c[0..n): a failed
 * issuance for a host ("could not get certificate from issuer", logger tls.obtain or
 * tls.renew, field identifier) sets its error and error_at, a success clears them.
 * Other lines, and lines that are not JSON, are ignored (pure). */
void proxy_acme_log_apply(const char *log, size_t len, struct proxy_cert *c, size_t n);

/* The hosts the running edge serves over HTTPS (from its loaded configuration), each with
 * the certificate in the proxy's data directory (the newest of any issuer's) and the last
 * failed issuance in the edge's log. Waits up to wait_ms (0: not at all) until each host
 * has a certificate or an error. The proxy not running: *ret_n 0. Keys are never read. */
int proxy_certs(struct engine *e, const struct proxy_opts *opts, int64_t wait_ms,
                struct proxy_cert **ret, size_t *ret_n, struct zp_err *err);
/* How long `proxy up` and `up` wait for a new host's first certificate (or error). */
#define PROXY_CERT_WAIT_MS 20000

/* ---- who owns a host ---- */

/* Do host names a and b (either may be "*.example.com") match a common host? */
bool proxy_hosts_overlap(const char *a, const char *b);
/* Does site s name a host that overlaps host? */
bool proxy_site_names_host(const struct proxy_site *s, const char *host);
/* The project owning host among the (non-draining) upstreams u[0..n): of the projects
 * naming an overlapping host, those that are not guests (a project is a guest when another
 * claimant's site naming it shares its hosts with it) and, of these, the first by name.
 * NULL when no upstream names it (borrowed from a site). */
const char *proxy_host_owner(const struct proxy_upstream *u, size_t n, const char *host);
/* May project claim host, given the owner's sites among u (true when owner is NULL or
 * is project, or one of the owner's sites naming host lists project in share_with)? */
bool proxy_host_shared(const struct proxy_upstream *u, size_t n, const char *owner,
                       const char *host, const char *project);

/* ---- Caddy's admin API over a unix socket ---- */

struct proxy_admin;

int proxy_admin_open(const char *socket_path, struct proxy_admin **ret, struct zp_err *err);
void proxy_admin_close(struct proxy_admin *a);
/* POST /load: replace the whole configuration in one step. Errors: ZP_E_ENGINE with
 * Caddy's own error message, ZP_E_SYSTEM (socket unreachable). */
int proxy_admin_load(struct proxy_admin *a, const char *config_json, struct zp_err *err);
/* GET /config/: the running configuration (caller frees). */
int proxy_admin_config(struct proxy_admin *a, char **ret_json, struct zp_err *err);

struct proxy_upstream_state {
    char *address; /* "a1b2c3d4e5f6:8080" */
    int64_t num_requests;
    int64_t fails;
};

/* GET /reverse_proxy/upstreams: the requests in flight per upstream address. */
int proxy_admin_upstreams(struct proxy_admin *a, struct proxy_upstream_state **ret, size_t *ret_n,
                          struct zp_err *err);
void proxy_upstream_states_free(struct proxy_upstream_state *s, size_t n);

/* ---- the proxy's containers ---- */

/* A proxy on another machine, whose engine this process reaches over SSH (release/
 * registers one per tunnel): its directory is on that machine, its sockets are reached
 * through local forwarded ones, and its files are written over SFTP. */
struct proxy_remote {
    const char *dir;      /* the proxy's directory on that machine (the mount's source) */
    const char *sock_dir; /* the local directory where its sockets are reachable */
    /* Make dir (private to the login) with the directories dirs[0..ndirs) below it, and
     * write the files names[i] (0600) with texts[i]; *ret_user gets "UID:GID" of dir's
     * owner, whom Caddy runs as there. */
    int (*prepare)(void *ctx, const char *dir, const char *const *names, const char *const *texts,
                   size_t n, const char *const *dirs, size_t ndirs, char **ret_user,
                   struct zp_err *err);
    void *ctx;
};

/* The sockets in the proxy's directory (what a remote proxy's forwards carry). */
#define PROXY_SOCKET_NAMES "router.sock", "edge.sock", "probe.sock"

/* Register r (copied; the strings too) for the engine at engine_host (engine_host(e)):
 * every proxy call with such an engine uses it. r NULL forgets the host. Thread-safe. */
void proxy_remote_set(const char *engine_host, const struct proxy_remote *r);

struct proxy_opts {
    const char *state_dir; /* zpanel's state directory: sockets and Caddy data go under
                            * <state_dir>/proxy */
    const char *image;     /* default "caddy:2" */
    int http_port;         /* published on the host; default 80 */
    int https_port;        /* default 443; 0: no HTTPS listener */
    const char *bind_ip;   /* host address of the published ports; NULL: all */
    /* ACME settings for proxy_up (see struct proxy_acme); NULL: keep the stored one, "":
     * clear it. acme_ca: a directory URL (https://), "staging" or "production";
     * acme_ca_root: a PEM file on the host, copied into the proxy's state. */
    const char *acme_email;
    const char *acme_ca;
    const char *acme_ca_root;
    /* Set by the proxy's calls themselves from proxy_remote_set (callers leave it NULL). */
    const struct proxy_remote *remote;
    const char *user; /* "UID:GID" Caddy runs as; NULL: this process's */
};

/* Create (or keep, when they already run with the same settings) the network and both
 * containers, wait until both admin sockets answer, then proxy_sync. Nothing is pulled:
 * a missing image is ZP_E_NOTFOUND naming it. */
int proxy_up(struct engine *e, const struct proxy_opts *opts, struct zp_err *err);
/* Create the shared network `zpanel` unless it exists (also when another zpanel created
 * it meanwhile); *ret_created (may be NULL) says whether this call created it. */
int proxy_ensure_network(struct engine *e, bool *ret_created, struct zp_err *err);
/* The network that joins a project's routed containers to the router, and only to it
 * ("zpanel-<project>"; caller frees). Projects never share one: a routed container
 * cannot reach another project's containers through the proxy's networks. */
char *proxy_project_network(const char *project);
/* Create the project's network unless it exists (labels io.zpanel.proxy=project-network,
 * io.zpanel.proxy.project=<project>, never io.zpanel.project: it outlives no project but
 * is not one of its Compose networks); *ret_created (may be NULL) says whether this call
 * created it. The router joins it at the next proxy_sync or proxy_probe. */
int proxy_ensure_project_network(struct engine *e, const char *project, bool *ret_created,
                                 struct zp_err *err);
/* The same network for a project deployed as Swarm services: an attachable overlay
 * network (the tasks join it on any node, the router attaches to it). A bridge network of
 * that name left by a container deploy is replaced when unused. Errors: ZP_E_CONFLICT
 * (that bridge network is still in use), engine errors. */
int proxy_ensure_swarm_network(struct engine *e, const char *project, struct zp_err *err);
/* Take the router off the project's network and remove the network, unless other
 * containers still use it (then it stays; not an error). A missing one is not an error. */
int proxy_forget_project(struct engine *e, const char *project, struct zp_err *err);
/* Remove both containers (the network stays while containers use it). */
int proxy_down(struct engine *e, const struct proxy_opts *opts, struct zp_err *err);

struct proxy_status {
    bool edge_running, router_running;
    char *image;
    int http_port, https_port;
    size_t nroutes;    /* routes (host+path) loaded in the router */
    size_t nupstreams; /* upstreams loaded */
};
int proxy_get_status(struct engine *e, const struct proxy_opts *opts, struct proxy_status *ret,
                     struct zp_err *err);
void proxy_status_release(struct proxy_status *st);

/* ---- rebuilding the configuration from the engine ---- */

/* Changes a rollout applies on top of what the engine's labels say: a container to
 * route although its name is still temporary, one to stop routing although it runs. */
struct proxy_override {
    const char *include_id; /* or NULL */
    const char *exclude_id; /* or NULL */
};

/* List every running container with io.zpanel.routes (all projects; not one-off, not
 * kind traefik) and, on a Swarm manager, every running task (desired and actual state)
 * of the Swarm services labelled io.zpanel.routes (at its address on the project's
 * overlay proxy network), build both configurations and load each one that differs from what
 * that Caddy runs (the router in one /load request). Each upstream is dialled by its IP
 * address on its project's network (or on `zpanel`, where containers of older zpanel
 * versions are), read again from the engine at every sync; the router joins each such
 * network. A container named with a rollout's temporary suffix: see PROXY_TEMP_SUFFIX.
 * A container
 * excluded by an override gets no traffic but stays referenced as draining (see struct
 * proxy_upstream), so that proxy_drain sees its requests in flight; a sync after it is
 * removed forgets it. When the proxy does not run, returns 0 and sets *ret_running
 * false (may be NULL). */
int proxy_sync(struct engine *e, const struct proxy_opts *opts, const struct proxy_override *ov,
               size_t nov, bool *ret_running, char **ret_conflicts, struct zp_err *err);

/* Before project deploys sites (its routed Caddy services): refuse a host that another
 * project owns (proxy_host_owner over every routed container on the engine, running or
 * not), on any path and with any TLS mode, unless that owner shares it with project
 * (x-zpanel.share_hosts_with); even then a host + path the owner routes stays the
 * owner's. Errors: ZP_E_CONFLICT naming the host, the owner project and its service (one
 * line per host refused), engine errors. */
int proxy_check_claims(struct engine *e, const char *project, const struct proxy_site *const *sites,
                       size_t n, struct zp_err *err);

/* Host + path pairs that sites of different services (or projects) both claim, one line
 * each ("host 'a.example' path '/api' is routed by both shop/web and blog/web"), or NULL
 * when there is none (pure; caller frees). proxy_sync gives it in *ret_conflicts (may be
 * NULL) for what it loaded. */
char *proxy_conflicts(const struct proxy_site *const *sites, size_t n);

/* The routes loaded now, one line per host+path: "app.example.com/api -> hello-web-1
 * (a1b2c3d4e5f6:8080)". */
int proxy_routes(struct engine *e, const struct proxy_opts *opts, char ***ret_lines,
                 struct zp_err *err);

/* Wait until no request is in flight to container_id's upstream (its address on its
 * proxy network, per the router's /reverse_proxy/upstreams; an address Caddy does not
 * list has none) or timeout_ms passed; *ret_drained says which. Call it after a
 * proxy_sync that excluded the container (it stays listed while draining). */
int proxy_drain(struct engine *e, const struct proxy_opts *opts, const char *container_id, int port,
                int64_t timeout_ms, bool *ret_drained, struct zp_err *err);

/* The route's HTTP probe, from the router's networks without running anything inside
 * the proxy's image: GET <path> is sent over the router's probe socket
 * (<state_dir>/proxy/probe.sock) and proxied once to container_id's address on its
 * proxy network, port (the router joins that network first when needed). *ret_ok says
 * whether it answered 2xx within timeout_ms; *ret_output (may be NULL; caller frees)
 * gets the status line and the start of the body, or why there was no answer. Errors:
 * ZP_E_NOTFOUND (no such container), ZP_E_ENGINE (it has no address on a proxy network),
 * ZP_E_INPUT (path). */
int proxy_probe(struct engine *e, const struct proxy_opts *opts, const char *container_id, int port,
                const char *path, int64_t timeout_ms, bool *ret_ok, char **ret_output,
                struct zp_err *err);

/* The suffix of a rollout's temporary container name ("hello-web-1" + suffix). A
 * container with that name is routed by proxy_sync when an override includes it, or when
 * no other running container of its project, service and replica number serves (a
 * rollout stopped after the old container went and before the rename). */
#define PROXY_TEMP_SUFFIX "-zpnew"

#endif

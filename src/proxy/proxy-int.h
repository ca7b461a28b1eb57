/* proxy: helpers shared by the files of src/proxy/ (private to the module). */
#ifndef ZP_PROXY_INT_H
#define ZP_PROXY_INT_H

#include <jansson.h>

#include "proxy.h"

/* Caps on what a route label may hold (the label is user-influenced text). */
#define PROXY_MAX_LABEL ((size_t)64 << 10)
#define PROXY_MAX_ROUTES 64
#define PROXY_MAX_HOSTS 64
#define PROXY_MAX_PATHS 64
#define PROXY_MAX_PATH_LEN 1024
#define PROXY_MAX_NAME_LEN 255

/* How long a refused dial is retried on another upstream (router) or the router itself
 * (edge), and between tries. */
#define PROXY_TRY_DURATION "5s"
#define PROXY_TRY_INTERVAL "250ms"

/* Where the proxy's state directory is mounted inside both containers, and the paths
 * below it. */
#define PROXY_MOUNT "/zpanel"
#define PROXY_EDGE_SOCK "edge.sock"
#define PROXY_ROUTER_SOCK "router.sock"
/* The router's probe server (see proxy_router_config) and the header naming the address
 * a probe request goes to. */
#define PROXY_PROBE_SOCK "probe.sock"
#define PROXY_PROBE_HEADER "X-Zpanel-Upstream"

/* Is s a host name a route may name: DNS labels of [a-z0-9-] (not starting or ending
 * with '-'), joined by dots, optionally "*." first; lowercase only; at most 253 chars. */
bool proxy__host_valid(const char *s);
/* Is s a path prefix: starts with '/', printable ASCII without spaces, '?', '#', '*',
 * '{' or '}', at most PROXY_MAX_PATH_LEN chars. */
bool proxy__path_valid(const char *s);

const char *proxy__tls_name(enum proxy_tls t);
const char *proxy__kind_name(enum proxy_kind k);

/* The 12-character short form of a container ID (at most 12 chars copied into out). */
void proxy__id12(const char *id, char out[13]);

/* Parse text as JSON (owned result) or NULL with err set (ZP_E_ENGINE, what names the
 * source). */
json_t *proxy__json_parse(const char *text, const char *what, struct zp_err *err);
/* Dump j as compact JSON with sorted keys (caller frees). */
char *proxy__json_dump(const json_t *j);

/* The dial address of an upstream: "ip:port", "[ip6]:port" (caller frees). */
char *proxy__dial(const char *address, int port);

/* Paths on the engine's host: <state_dir>/proxy, or the remote proxy's directory (caller
 * frees). */
char *proxy__dir(const struct proxy_opts *opts);
/* Where this process reaches the socket sock (caller frees). */
char *proxy__sock_path(const struct proxy_opts *opts, const char *sock);
/* opts with ->remote set from the registry (proxy_remote_set) for e's host: *tmp when it
 * changes anything, else opts. */
const struct proxy_opts *proxy__resolve(const struct engine *e, const struct proxy_opts *opts,
                                        struct proxy_opts *tmp);

/* Write text to path (0600) through a temporary file renamed over it. */
int proxy__write_file(const char *path, const char *text, struct zp_err *err);
/* GET /config/ of the Caddy whose admin socket is <state_dir>/proxy/<sock>. */
int proxy__admin_get_config(const struct proxy_opts *opts, const char *sock, json_t **ret,
                            struct zp_err *err);

/* The copy of the ACME server's root in <state_dir>/proxy. */
#define PROXY_ACME_ROOT_FILE "acme-ca-root.pem"
/* Merge the ACME flags of opts into the stored settings (validated; written back when a
 * flag was given, the root copied) and return the result. Errors: ZP_E_INPUT naming the
 * flag, ZP_E_NOTFOUND (the stored root is gone), system errors. */
int proxy__acme_apply(const struct proxy_opts *opts, struct proxy_acme *ret, struct zp_err *err);

#endif

/* engine-int.h: helpers shared by the engine module's files and its unit tests: host and
 * URL handling, the typed request helper, and the mapping of Engine API JSON to structs.
 * jansson types appear here, never in engine.h. */
#ifndef ZP_ENGINE_INT_H
#define ZP_ENGINE_INT_H

#include <jansson.h>

#include "engine.h"

/* ---- hosts, versions, URLs (transport.c; pure) ---- */

/* Split host ("unix:///path" or "tcp://HOST:PORT") into the socket path (NULL for TCP)
 * and the base URL curl asks for ("http://localhost" for a socket, "http://HOST:PORT"
 * for TCP). Errors: ZP_E_INPUT naming the host. */
int engine__parse_host(const char *host, char **ret_socket, char **ret_base_url,
                       struct zp_err *err);
/* Parse "1.NN" into NN. Errors: ZP_E_INPUT for anything else (major other than 1). */
int engine__parse_api_version(const char *s, int *ret_minor);
/* Append s percent-encoded (RFC 3986 unreserved characters kept; '/' and ':' also kept
 * when keep_slash, for image references that the engine routes with slashes). */
int engine__escape(struct zp_buf *b, const char *s, bool keep_slash);
/* Append "key=value" (value escaped) to a query, with '&' before all but the first. */
int engine__query_add(struct zp_buf *q, const char *key, const char *value);
/* Append a "filters" parameter for label filters (see engine.h); nothing for NULL or an
 * empty list. */
int engine__query_label_filters(struct zp_buf *q, const char *const *label_filters);

/* One named filter list for engine__query_filters. */
struct engine__filter {
    const char *name;          /* "label", "type", "reference", ... */
    const char *const *values; /* NULL-terminated, or NULL */
};

/* Append one "filters" parameter ({"name":[values...]}) for the non-empty lists among
 * the n given; nothing when all are empty. */
int engine__query_filters(struct zp_buf *q, const struct engine__filter *f, size_t n);

/* ---- requests (transport.c) ---- */

struct engine__req {
    const char *method;       /* "GET", "POST", "DELETE" */
    const char *path;         /* escaped, without the version prefix: "/containers/x/start" */
    const char *query;        /* escaped "a=1&b=2", or NULL */
    const char *body;         /* JSON text sent with Content-Type application/json, or NULL */
    size_t body_len;          /* 0: strlen(body); set for binary bodies */
    const char *content_type; /* NULL: "application/json" */
    long timeout_ms;          /* 0: the engine's default request timeout; -1: none (streams) */
    bool unversioned;         /* no "/v1.NN" prefix (/_ping, /version) */
    const char *what;         /* what is being done, for messages: "starting container 'x'" */
    engine_read_fn read_fn;   /* instead of body: a chunked upload read from this */
    void *read_ctx;
    bool bulk;                 /* bulk data (archives): larger receive and upload pieces */
    const char *registry_auth; /* X-Registry-Auth header value (base64 JSON), or NULL */
    /* On success, the response's Api-Version and Server headers (owned; NULL when the
     * engine sent none); for version negotiation through /_ping. */
    char **ret_api_header;
    char **ret_server_header;
    long also_ok; /* an error status answered as success (its body the answer), e.g. 503 */
};

/* Send req. On success (any status below 400) *ret_status gets the status and
 * *ret_json (may be NULL) the parsed body (owned; NULL when the body is empty).
 * Errors as in engine.h, each prefixed with req->what. Connects first unless
 * req->unversioned. */
int engine__request(struct engine *e, const struct engine__req *req, long *ret_status,
                    json_t **ret_json, struct zp_err *err);
/* Same, handing back the raw body text instead (owned, NUL-terminated, never NULL). */
int engine__request_text(struct engine *e, const struct engine__req *req, long *ret_status,
                         char **ret_body, size_t *ret_len, struct zp_err *err);

/* Receives the body of a streamed response as it arrives (borrowed); non-zero stops the
 * transfer and is returned by engine__request_stream (the callback sets err). */
typedef int (*engine__chunk_fn)(void *ctx, const char *data, size_t len, struct zp_err *err);

/* Send req and hand the body of a successful response to on_chunk piece by piece,
 * without a size cap (the decoders cap what they keep). An error status reads its body
 * (capped) into the message as engine__request does. A positive on_chunk return ends
 * the transfer and is returned as is, without setting err. */
int engine__request_stream(struct engine *e, const struct engine__req *req,
                           engine__chunk_fn on_chunk, void *ctx, struct zp_err *err);

/* Connect (negotiate the version) unless done; ENGINE_E_CANCELLED after engine_cancel. */
int engine__ensure_connected(struct engine *e, struct zp_err *err);

/* What hijack.c needs of the opaque struct engine (borrowed). */
const char *engine__socket_path(const struct engine *e); /* NULL for TCP */
const char *engine__base_url(const struct engine *e);
long engine__connect_timeout_ms(const struct engine *e);
long engine__request_timeout_ms(const struct engine *e);
/* A descriptor that becomes readable on engine_cancel. */
int engine__cancel_fd(const struct engine *e);
/* Set err to "<what>: cancelled" and return ENGINE_E_CANCELLED. */
int engine__cancel_error(const char *what, struct zp_err *err);

/* ---- hijacked streams (hijack.c) ---- */

/* Send req (POST, JSON body or none) on a new connection of its own with the upgrade
 * headers; on 101/200 stream through io until the engine closes the stream. Error
 * statuses become errors as in engine__request. */
int engine__hijack(struct engine *e, const struct engine__req *req,
                   const struct engine_stream_io *io, struct zp_err *err);
/* Parse the head of an HTTP response (up to and including the blank line): status code,
 * and the body framing. Returns 0, or ZP_E_ENGINE for a malformed head. */
int engine__parse_response_head(const char *head, size_t len, long *ret_status,
                                int64_t *ret_content_length, bool *ret_chunked);
/* Decode a complete chunked body in place; *ret_len gets the decoded length. Returns 0,
 * or ZP_E_ENGINE when it is malformed or incomplete. */
int engine__dechunk(char *body, size_t len, size_t *ret_len);

/* Turn an error response (status >= 400, body usually {"message": "..."}) into err:
 * "<what>: <message> (HTTP <status>)" with ZP_E_NOTFOUND for 404, ZP_E_CONFLICT for
 * 409, ZP_E_ENGINE otherwise. A body that is not such JSON is quoted (trimmed, capped).
 * Returns the code. */
int engine__error_from_response(long status, const char *body, size_t len, const char *what,
                                struct zp_err *err);

/* ---- JSON mapping (json.c; pure) ---- */

/* From GET /version: check the engine's ApiVersion and MinAPIVersion against ours and
 * pick min(ENGINE_API_MAX_MINOR, ApiVersion). *ret_server gets Version (owned).
 * Errors: ZP_E_ENGINE with a message that says what to do. */
int engine__negotiate(const json_t *version, int *ret_minor, char **ret_server, struct zp_err *err);
/* The same from the headers of GET /_ping (what the engine's own client negotiates
 * with): api is Api-Version ("1.41"), server the Server header ("Docker/20.10.24 (linux)",
 * may be NULL). /_ping does not say the engine's minimum API: an engine newer than
 * ENGINE_API_MAX_MINOR gets that version, and if it no longer speaks it, its refusal
 * says so (engine__error_from_response adds "upgrade zpanel"). */
int engine__negotiate_ping(const char *api, const char *server, int *ret_minor, char **ret_server,
                           struct zp_err *err);
int engine__map_info(const json_t *info, struct engine_info *ret_info, struct zp_err *err);
/* A {"key": "value"} object (or null) into labels sorted by key; non-string values are
 * skipped. */
void engine__map_labels(const json_t *obj, struct engine_labels *ret_labels);
/* Copy n labels into a JSON object (owned). */
json_t *engine__labels_json(const struct engine_kv *labels, size_t n);
int engine__map_container_list(const json_t *arr, struct engine_container_list *ret_list,
                               struct zp_err *err);
int engine__map_network_list(const json_t *arr, struct engine_network_list *ret_list,
                             struct zp_err *err);
/* From the {"Volumes": [...], "Warnings": ...} object of GET /volumes. */
int engine__map_volume_list(const json_t *obj, struct engine_volume_list *ret_list,
                            struct zp_err *err);
/* raw is the response text kept in ret_c->json. */
int engine__map_container(const json_t *obj, const char *raw, struct engine_container *ret_c,
                          struct zp_err *err);
/* "Ports" of GET /containers/json: [{"IP","PrivatePort","PublicPort","Type"}]. */
void engine__map_summary_ports(const json_t *arr, struct engine_ports *ret_ports);
/* NetworkSettings.Ports of an inspect: {"80/tcp": [{"HostIp","HostPort"}] or null}. */
void engine__map_inspect_ports(const json_t *obj, struct engine_ports *ret_ports);
int engine__map_image_list(const json_t *arr, struct engine_image_list *ret_list,
                           struct zp_err *err);
int engine__map_top(const json_t *obj, struct engine_top *ret_top, struct zp_err *err);
int engine__map_exec_state(const json_t *obj, struct engine_exec_state *ret_state,
                           struct zp_err *err);
/* An RFC 3339 time ("2024-01-02T03:04:05.123456789Z", "...+02:00") into Unix seconds;
 * Go's zero time ("0001-01-01T00:00:00Z") gives 0. Returns ZP_E_INPUT when malformed. */
int engine__parse_time(const char *s, int64_t *ret_unix);
/* An RFC 3339 time with up to nanoseconds into Unix nanoseconds; Go's zero time (and
 * anything malformed or out of range) gives 0. */
int64_t engine__time_ns(const char *s);
/* A string member (borrowed), or NULL when absent or not a string. */
const char *engine__str(const json_t *obj, const char *key);
/* A copy of a string member, "" when absent. */
char *engine__strdup(const json_t *obj, const char *key);

/* ---- Swarm answers (swarm.c; pure) ---- */

int engine__map_node_list(const json_t *arr, struct engine_node_list *ret_list, struct zp_err *err);
int engine__map_service(const json_t *o, struct engine_service *ret);
int engine__map_service_list(const json_t *arr, struct engine_service_list *ret_list,
                             struct zp_err *err);
int engine__map_task_list(const json_t *arr, struct engine_task_list *ret_list, struct zp_err *err);
int engine__map_swarm_obj_list(const json_t *arr, struct engine_swarm_obj_list *ret_list,
                               struct zp_err *err);

#endif

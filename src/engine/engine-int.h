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
 * (capped) into the message as engine__request does. */
int engine__request_stream(struct engine *e, const struct engine__req *req,
                           engine__chunk_fn on_chunk, void *ctx, struct zp_err *err);

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
/* A string member (borrowed), or NULL when absent or not a string. */
const char *engine__str(const json_t *obj, const char *key);
/* A copy of a string member, "" when absent. */
char *engine__strdup(const json_t *obj, const char *key);

#endif

/* proxy/admin: a small client of Caddy's admin API over its unix socket (through the
 * engine module's HTTP client). Caddy checks the Host header of admin requests; over a
 * socket it must be empty. */
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "proxy-int.h"

#include "../util/banned.h"

#define ADMIN_MAX_RESPONSE ((size_t)16 << 20)
/* a /load waits for Caddy to start the new configuration (and stop the old one) */
#define ADMIN_REQUEST_TIMEOUT_MS 60000

struct proxy_admin {
    struct engine_http *http;
    struct engine_http_response resp; /* the last answer */
};

int proxy_admin_open(const char *socket_path, struct proxy_admin **ret, struct zp_err *err)
{
    struct proxy_admin *a = zp_calloc(1, sizeof(*a));
    int rc = engine_http_open(socket_path, ADMIN_MAX_RESPONSE, &a->http, err);
    if (rc) {
        free(a);
        return rc;
    }
    *ret = a;
    return 0;
}

void proxy_admin_close(struct proxy_admin *a)
{
    if (!a)
        return;
    engine_http_close(a->http);
    engine_http_response_release(&a->resp);
    free(a);
}

/* One request; the answer's body is in a->resp. Errors: ZP_E_SYSTEM (no answer),
 * ZP_E_ENGINE (an HTTP error status, with Caddy's message), ZP_E_TOOBIG. */
static int request(struct proxy_admin *a, const char *method, const char *path, const char *body,
                   struct zp_err *err)
{
    static const char *const headers[] = {"Host:", "Content-Type: application/json", NULL};
    engine_http_response_release(&a->resp);
    int rc = engine_http_request(a->http, method, path, headers, body, ADMIN_REQUEST_TIMEOUT_MS,
                                 &a->resp, err);
    if (rc) {
        zp_err_prefix(err, "caddy admin socket");
        return rc;
    }
    long status = a->resp.status;
    if (status < 200 || status > 299) {
        /* Caddy answers {"error": "..."} */
        const char *msg = a->resp.body;
        json_t *j = json_loads(msg, 0, NULL);
        json_t *e = json_is_object(j) ? json_object_get(j, "error") : NULL;
        zp_err_set(err, ZP_E_ENGINE, NULL, "caddy admin %s %s: %s (HTTP %ld)", method, path,
                   json_is_string(e) ? json_string_value(e) : msg, status);
        json_decref(j);
        return ZP_E_ENGINE;
    }
    return 0;
}

int proxy_admin_load(struct proxy_admin *a, const char *config_json, struct zp_err *err)
{
    return request(a, "POST", "/load", config_json, err);
}

int proxy_admin_config(struct proxy_admin *a, char **ret_json, struct zp_err *err)
{
    int rc = request(a, "GET", "/config/", NULL, err);
    if (rc)
        return rc;
    *ret_json = a->resp.body;
    a->resp.body = NULL;
    return 0;
}

void proxy_upstream_states_free(struct proxy_upstream_state *s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        free(s[i].address);
    free(s);
}

int proxy_admin_upstreams(struct proxy_admin *a, struct proxy_upstream_state **ret, size_t *ret_n,
                          struct zp_err *err)
{
    int rc = request(a, "GET", "/reverse_proxy/upstreams", NULL, err);
    if (rc)
        return rc;
    json_t *j = proxy__json_parse(a->resp.body, "caddy's upstream list", err);
    if (!j)
        return ZP_E_ENGINE;
    if (!json_is_array(j)) {
        json_decref(j);
        return zp_err_set(err, ZP_E_ENGINE, NULL, "caddy's upstream list is not a JSON array");
    }
    size_t n = json_array_size(j);
    struct proxy_upstream_state *s = zp_calloc(n ? n : 1, sizeof(*s));
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(j, i);
        json_t *addr = json_object_get(o, "address");
        json_t *nr = json_object_get(o, "num_requests");
        json_t *fails = json_object_get(o, "fails");
        s[i].address = zp_strdup(json_is_string(addr) ? json_string_value(addr) : "");
        s[i].num_requests = json_is_integer(nr) ? (int64_t)json_integer_value(nr) : 0;
        s[i].fails = json_is_integer(fails) ? (int64_t)json_integer_value(fails) : 0;
    }
    json_decref(j);
    *ret = s;
    *ret_n = n;
    return 0;
}

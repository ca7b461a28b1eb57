/* proxy/admin: a small client of Caddy's admin API over its unix socket (libcurl). Caddy
 * checks the Host header of admin requests; over a socket it must be empty. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "proxy-int.h"

#include "../util/banned.h"

#define ADMIN_MAX_RESPONSE ((size_t)16 << 20)
#define ADMIN_CONNECT_TIMEOUT_MS 3000L
/* a /load waits for Caddy to start the new configuration (and stop the old one) */
#define ADMIN_REQUEST_TIMEOUT_MS 60000L

struct proxy_admin {
    CURL *curl;
    char *socket_path;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    struct zp_buf body;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct proxy_admin *a = ud;
    size_t n = size * nmemb;
    if (zp_buf_add(&a->body, data, n) != 0)
        return 0; /* too big: curl fails the transfer */
    return n;
}

int proxy_admin_open(const char *socket_path, struct proxy_admin **ret, struct zp_err *err)
{
    struct proxy_admin *a = zp_calloc(1, sizeof(*a));
    a->curl = curl_easy_init();
    if (!a->curl) {
        free(a);
        return zp_err_set(err, ZP_E_SYSTEM, NULL, "cannot set up an HTTP client for '%s'",
                          socket_path);
    }
    a->socket_path = zp_strdup(socket_path);
    zp_buf_init(&a->body, ADMIN_MAX_RESPONSE);
    /* "Host;" sends the header with an empty value */
    a->headers = curl_slist_append(NULL, "Host;");
    a->headers = curl_slist_append(a->headers, "Content-Type: application/json");
    a->headers = curl_slist_append(a->headers, "Expect:");
    *ret = a;
    return 0;
}

void proxy_admin_close(struct proxy_admin *a)
{
    if (!a)
        return;
    curl_easy_cleanup(a->curl);
    curl_slist_free_all(a->headers);
    zp_buf_release(&a->body);
    free(a->socket_path);
    free(a);
}

/* One request; the answer's body is in a->body. Errors: ZP_E_SYSTEM (no answer),
 * ZP_E_ENGINE (an HTTP error status, with Caddy's message), ZP_E_TOOBIG. */
static int request(struct proxy_admin *a, const char *method, const char *path, const char *body,
                   struct zp_err *err)
{
    CURL *c = a->curl;
    curl_easy_reset(c);
    zp_buf_reset(&a->body);
    a->errbuf[0] = '\0';
    char *url = zp_asprintf("http://localhost%s", path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, a->socket_path);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, a->headers);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, a->errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ADMIN_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ADMIN_REQUEST_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode cc = curl_easy_perform(c);
    free(url);
    if (cc == CURLE_WRITE_ERROR && a->body.len + 1 >= ADMIN_MAX_RESPONSE)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "caddy admin %s %s: answer larger than %zu bytes",
                          method, path, ADMIN_MAX_RESPONSE);
    if (cc != CURLE_OK)
        return zp_err_set(err, ZP_E_SYSTEM, NULL, "caddy admin socket '%s': %s %s: %s",
                          a->socket_path, method, path,
                          a->errbuf[0] ? a->errbuf : curl_easy_strerror(cc));
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        /* Caddy answers {"error": "..."} */
        const char *msg = zp_buf_cstr(&a->body);
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
    *ret_json = zp_buf_detach(&a->body, NULL);
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
    json_t *j = proxy__json_parse(zp_buf_cstr(&a->body), "caddy's upstream list", err);
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

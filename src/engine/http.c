/* engine/http: plain HTTP/1.1 requests over a unix socket with a capped response, for
 * local daemons other than the engine (Caddy's admin API, the router's probe socket).
 * It lives here because engine/ is the one module that uses libcurl. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#include "../util/banned.h"

#define HTTP_CONNECT_TIMEOUT_MS 3000L

struct engine_http {
    CURL *curl; /* kept between requests: its connection cache keeps the socket open */
    char *socket_path;
    size_t max_response;
    struct zp_buf body;
    char errbuf[CURL_ERROR_SIZE];
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct engine_http *h = ud;
    size_t n = size * nmemb;
    if (zp_buf_add(&h->body, data, n) != 0)
        return 0; /* too big: curl fails the transfer with CURLE_WRITE_ERROR */
    return n;
}

int engine_http_open(const char *socket_path, size_t max_response, struct engine_http **ret,
                     struct zp_err *err)
{
    if (engine_global_init(err) < 0)
        return err->code;
    struct engine_http *h = zp_calloc(1, sizeof(*h));
    h->curl = curl_easy_init();
    if (h->curl == NULL) {
        free(h);
        return zp_err_set(err, ZP_E_SYSTEM, NULL, "cannot set up an HTTP client for '%s'",
                          socket_path);
    }
    h->socket_path = zp_strdup(socket_path);
    h->max_response = max_response;
    /* the buffer's maximum counts its terminating NUL */
    zp_buf_init(&h->body, max_response + 1);
    *ret = h;
    return 0;
}

void engine_http_close(struct engine_http *h)
{
    if (h == NULL)
        return;
    curl_easy_cleanup(h->curl);
    zp_buf_release(&h->body);
    free(h->socket_path);
    free(h);
}

void engine_http_response_release(struct engine_http_response *r)
{
    if (r == NULL)
        return;
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* "Name:" (no value) asks for an empty header: curl spells that "Name;". */
static struct curl_slist *header_list(const char *const *headers)
{
    struct curl_slist *l = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        const char *hd = headers[i];
        size_t len = strlen(hd);
        struct curl_slist *n;
        if (len > 0 && hd[len - 1] == ':') {
            char *semi = zp_strdup(hd);
            semi[len - 1] = ';';
            n = curl_slist_append(l, semi);
            free(semi);
        } else {
            n = curl_slist_append(l, hd);
        }
        if (n == NULL)
            ZP_BUG("curl_slist_append: out of memory");
        l = n;
    }
    /* never "Expect: 100-continue": local daemons answer at once */
    struct curl_slist *n = curl_slist_append(l, "Expect:");
    if (n == NULL)
        ZP_BUG("curl_slist_append: out of memory");
    return n;
}

int engine_http_request(struct engine_http *h, const char *method, const char *path,
                        const char *const *headers, const char *body, int64_t timeout_ms,
                        struct engine_http_response *ret, struct zp_err *err)
{
    CURL *c = h->curl;
    curl_easy_reset(c);
    zp_buf_reset(&h->body);
    h->errbuf[0] = '\0';
    struct curl_slist *hl = header_list(headers);
    char *url = zp_asprintf("http://localhost%s", path);
    long total = timeout_ms > 0 ? (long)timeout_ms : 1L;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, h->socket_path);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     total < HTTP_CONNECT_TIMEOUT_MS ? total : HTTP_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode cc = curl_easy_perform(c);
    free(url);
    curl_slist_free_all(hl);
    if (cc == CURLE_WRITE_ERROR)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "'%s': %s %s: answer larger than %zu bytes",
                          h->socket_path, method, path, h->max_response);
    if (cc != CURLE_OK)
        return zp_err_set(err, ZP_E_SYSTEM, NULL, "'%s': %s %s: %s", h->socket_path, method, path,
                          h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc));
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    ret->status = status;
    ret->len = h->body.len;
    ret->body = zp_buf_detach(&h->body, NULL);
    zp_buf_init(&h->body, h->max_response + 1);
    return 0;
}

/* engine/transport: the HTTP side of the Engine API client: hosts, URLs, libcurl, the
 * request helper, error responses and version negotiation. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine-int.h"

#include "../util/banned.h"

/* How often a transfer wakes up to check for cancellation besides the cancel fd. */
#define POLL_INTERVAL_MS 1000
/* Receive and upload buffer of bulk transfers (archives), bytes. */
#define BULK_BUFFER_SIZE (512L * 1024L)

struct engine {
    CURL *curl;            /* one easy handle, run through multi */
    CURLM *multi;          /* its connection cache keeps the socket alive between requests */
    int cancel_fd;         /* eventfd made readable by engine_cancel */
    atomic_bool cancelled; /* set by engine_cancel from any thread */
    char *host;            /* normalised host, for messages */
    char *socket;          /* unix socket path, or NULL for TCP */
    char *base_url;        /* "http://localhost" or "http://HOST:PORT" */
    long connect_timeout_ms;
    long request_timeout_ms;
    int api_minor; /* negotiated, 0 before engine_connect */
    char api_version[16];
    char *server_version;
    char errbuf[CURL_ERROR_SIZE];
};

/* libcurl's global state: initialised once, by whichever thread comes first */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT; /* written inside global_once only */
static atomic_bool global_cleaned;

static void global_init_once(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int engine_global_init(struct zp_err *err)
{
    pthread_once(&global_once, global_init_once);
    if (global_rc != CURLE_OK)
        return zp_err_set(err, ZP_E_SYSTEM, NULL, "initialising libcurl: %s",
                          curl_easy_strerror(global_rc));
    return 0;
}

void engine_global_cleanup(void)
{
    pthread_once(&global_once, global_init_once); /* orders the read of global_rc */
    if (global_rc == CURLE_OK && !atomic_exchange(&global_cleaned, true))
        curl_global_cleanup();
}

/* ---- hosts, versions, URLs ---- */

int engine__parse_host(const char *host, char **ret_socket, char **ret_base_url, struct zp_err *err)
{
    if (zp_str_has_prefix(host, "unix://")) {
        const char *path = host + strlen("unix://");
        if (path[0] != '/')
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "invalid engine host '%s': a unix socket path must be absolute",
                              host);
        *ret_socket = zp_strdup(path);
        *ret_base_url = zp_strdup("http://localhost");
        return 0;
    }
    if (zp_str_has_prefix(host, "tcp://")) {
        const char *hp = host + strlen("tcp://");
        size_t len = strcspn(hp, "/");
        if (hp[len] == '/' && hp[len + 1] != '\0')
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "invalid engine host '%s': a path is not supported", host);
        const char *colon = memchr(hp, ':', len);
        if (hp[0] == '[') /* [v6]:port */
            colon = memchr(hp, ']', len) ? strchr(memchr(hp, ']', len), ':') : NULL;
        if (len == 0 || !colon || colon == hp || colon >= hp + len)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "invalid engine host '%s': expected tcp://HOST:PORT", host);
        char *port = zp_strndup(colon + 1, (size_t)(hp + len - colon - 1));
        int64_t p;
        int rc = zp_parse_int64(port, 1, 65535, &p);
        free(port);
        if (rc != 0)
            return zp_err_set(err, ZP_E_INPUT, NULL, "invalid engine host '%s': invalid port",
                              host);
        *ret_socket = NULL;
        *ret_base_url = zp_asprintf("http://%.*s", (int)len, hp);
        return 0;
    }
    if (zp_str_has_prefix(host, "ssh://") || zp_str_has_prefix(host, "npipe://") ||
        zp_str_has_prefix(host, "fd://"))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "engine host '%s' is not supported yet: use unix:// or tcp://", host);
    return zp_err_set(err, ZP_E_INPUT, NULL,
                      "invalid engine host '%s': expected unix:///PATH or tcp://HOST:PORT", host);
}

int engine__parse_api_version(const char *s, int *ret_minor)
{
    if (!s || !zp_str_has_prefix(s, "1."))
        return ZP_E_INPUT;
    int64_t minor;
    if (zp_parse_int64(s + 2, 0, 999, &minor) != 0)
        return ZP_E_INPUT;
    *ret_minor = (int)minor;
    return 0;
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int engine__escape(struct zp_buf *b, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc;
        if (is_unreserved(*p) || (keep_slash && (*p == '/' || *p == ':'))) {
            rc = zp_buf_addc(b, (char)*p);
        } else {
            char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = zp_buf_add(b, enc, 3);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

int engine__query_add(struct zp_buf *q, const char *key, const char *value)
{
    int rc = 0;
    if (q->len > 0)
        rc = zp_buf_addc(q, '&');
    if (rc == 0)
        rc = engine__escape(q, key, false);
    if (rc == 0)
        rc = zp_buf_addc(q, '=');
    if (rc == 0)
        rc = engine__escape(q, value, false);
    return rc;
}

int engine__query_filters(struct zp_buf *q, const struct engine__filter *f, size_t n)
{
    json_t *obj = json_object();
    for (size_t i = 0; i < n; i++) {
        if (!f[i].values || !f[i].values[0])
            continue;
        json_t *arr = json_array();
        for (size_t k = 0; f[i].values[k]; k++)
            json_array_append_new(arr, json_string(f[i].values[k]));
        json_object_set_new(obj, f[i].name, arr);
    }
    int rc = 0;
    if (json_object_size(obj) > 0) {
        char *text = json_dumps(obj, JSON_COMPACT);
        if (!text)
            ZP_BUG("encoding filters");
        rc = engine__query_add(q, "filters", text);
        free(text);
    }
    json_decref(obj);
    return rc;
}

int engine__query_label_filters(struct zp_buf *q, const char *const *label_filters)
{
    if (!label_filters || !label_filters[0])
        return 0;
    json_t *arr = json_array();
    for (size_t i = 0; label_filters[i]; i++)
        json_array_append_new(arr, json_string(label_filters[i]));
    json_t *obj = json_pack("{s:o}", "label", arr);
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!text)
        ZP_BUG("encoding label filters");
    int rc = engine__query_add(q, "filters", text);
    free(text);
    return rc;
}

/* ---- lifecycle ---- */

struct engine *engine_new(const char *host, struct zp_err *err)
{
    if (engine_global_init(err) < 0)
        return NULL;
    if (atomic_load(&global_cleaned))
        ZP_BUG("engine_new after engine_global_cleanup");
    if (!host || !*host)
        host = getenv("DOCKER_HOST");
    if (!host || !*host)
        host = ENGINE_DEFAULT_HOST;
    char *sock = NULL, *base = NULL;
    if (engine__parse_host(host, &sock, &base, err) != 0)
        return NULL;
    struct engine *e = zp_calloc(1, sizeof(*e));
    e->host = zp_strdup(host);
    e->socket = sock;
    e->base_url = base;
    e->connect_timeout_ms = ENGINE_CONNECT_TIMEOUT_MS;
    e->request_timeout_ms = ENGINE_REQUEST_TIMEOUT_MS;
    atomic_init(&e->cancelled, false);
    e->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (e->cancel_fd < 0) {
        zp_err_sys(err, "creating the cancel descriptor of engine '%s'", host);
        engine_free(e);
        return NULL;
    }
    e->curl = curl_easy_init();
    e->multi = curl_multi_init();
    if (!e->curl || !e->multi) {
        zp_err_set(err, ZP_E_SYSTEM, NULL, "creating an HTTP handle for engine '%s'", host);
        engine_free(e);
        return NULL;
    }
    return e;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    if (e->curl)
        curl_easy_cleanup(e->curl);
    if (e->multi)
        curl_multi_cleanup(e->multi);
    if (e->cancel_fd >= 0)
        close(e->cancel_fd);
    free(e->host);
    free(e->socket);
    free(e->base_url);
    free(e->server_version);
    free(e);
}

void engine_set_timeouts(struct engine *e, long connect_ms, long request_ms)
{
    if (connect_ms <= 0 || request_ms <= 0)
        ZP_BUG("engine_set_timeouts: timeouts must be positive");
    e->connect_timeout_ms = connect_ms;
    e->request_timeout_ms = request_ms;
}

const char *engine_host(const struct engine *e)
{
    return e->host;
}

bool engine_is_local(const struct engine *e)
{
    return zp_str_has_prefix(e->host, "unix://") &&
           strstr(e->host, "/" ZP_TUNNEL_DIR_PREFIX) == NULL;
}

void engine_cancel(struct engine *e)
{
    atomic_store(&e->cancelled, true);
    uint64_t one = 1;
    /* Best effort: the flag alone stops the call at its next wake-up. */
    ssize_t w = write(e->cancel_fd, &one, sizeof(one));
    (void)w;
}

bool engine_cancelled(const struct engine *e)
{
    return atomic_load(&((struct engine *)e)->cancelled);
}

void engine_cancel_clear(struct engine *e)
{
    uint64_t v;
    ssize_t r = read(e->cancel_fd, &v, sizeof(v));
    (void)r;
    atomic_store(&e->cancelled, false);
}

int engine__cancel_error(const char *what, struct zp_err *err)
{
    return zp_err_set(err, ENGINE_E_CANCELLED, NULL, "%s: cancelled", what);
}

const char *engine__socket_path(const struct engine *e)
{
    return e->socket;
}

const char *engine__base_url(const struct engine *e)
{
    return e->base_url;
}

long engine__connect_timeout_ms(const struct engine *e)
{
    return e->connect_timeout_ms;
}

long engine__request_timeout_ms(const struct engine *e)
{
    return e->request_timeout_ms;
}

int engine__cancel_fd(const struct engine *e)
{
    return e->cancel_fd;
}

int engine__ensure_connected(struct engine *e, struct zp_err *err)
{
    if (engine_cancelled(e))
        return engine__cancel_error("talking to the engine", err);
    return e->api_minor ? 0 : engine_connect(e, err);
}

void engine_adopt_version(struct engine *e, const struct engine *from)
{
    if (from->api_minor == 0)
        return;
    free(e->server_version);
    e->server_version = zp_strdup(from->server_version);
    e->api_minor = from->api_minor;
    memcpy(e->api_version, from->api_version, sizeof(e->api_version));
}

int engine_api_minor(const struct engine *e)
{
    return e->api_minor;
}

const char *engine_api_version(const struct engine *e)
{
    return e->api_minor ? e->api_version : NULL;
}

const char *engine_server_version(const struct engine *e)
{
    return e->api_minor ? e->server_version : NULL;
}

/* ---- requests ---- */

/* Where a response body goes: into buf (capped), or to on_chunk for a successful
 * streamed response (then buf keeps only an error body). */
struct sink {
    CURL *curl;
    struct zp_buf buf;
    bool too_big;
    engine__chunk_fn on_chunk;
    void *ctx;
    struct zp_err *err;
    int chunk_rc; /* what on_chunk returned when it stopped the transfer */
    engine_read_fn read_fn;
    void *read_ctx;
    int read_rc; /* what read_fn returned when it failed */
};

static size_t on_read(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct sink *s = userdata;
    size_t len = 0;
    int rc = s->read_fn(s->read_ctx, buf, size * nitems, &len, s->err);
    if (rc != 0) {
        s->read_rc = rc;
        return CURL_READFUNC_ABORT;
    }
    if (len > size * nitems)
        ZP_BUG("read callback returned more than it was asked for");
    return len;
}

/* Run the transfer set up on c through e's multi handle, waking up on the cancel fd. */
static CURLcode run_transfer(struct engine *e, CURL *c, bool *ret_cancelled)
{
    CURLcode result = CURLE_OK;
    *ret_cancelled = false;
    if (curl_multi_add_handle(e->multi, c) != CURLM_OK)
        return CURLE_FAILED_INIT;
    for (;;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(e->multi, &running);
        if (mc != CURLM_OK) {
            result = CURLE_RECV_ERROR;
            break;
        }
        if (!running) {
            int left = 0;
            CURLMsg *m;
            while ((m = curl_multi_info_read(e->multi, &left)) != NULL)
                if (m->msg == CURLMSG_DONE && m->easy_handle == c)
                    result = m->data.result;
            break;
        }
        if (atomic_load(&e->cancelled)) {
            *ret_cancelled = true;
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        struct curl_waitfd wfd = {.fd = e->cancel_fd, .events = CURL_WAIT_POLLIN};
        mc = curl_multi_poll(e->multi, &wfd, 1, POLL_INTERVAL_MS, NULL);
        if (mc != CURLM_OK) {
            result = CURLE_RECV_ERROR;
            break;
        }
        if (atomic_load(&e->cancelled)) {
            *ret_cancelled = true;
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
    }
    curl_multi_remove_handle(e->multi, c);
    return result;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    if (s->on_chunk) {
        long status = 0;
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status < 400) {
            int rc = s->on_chunk(s->ctx, data, n, s->err);
            if (rc != 0) {
                s->chunk_rc = rc;
                return CURL_WRITEFUNC_ERROR;
            }
            return n;
        }
    }
    if (zp_buf_add(&s->buf, data, n) != 0) {
        s->too_big = true;
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    }
    return n;
}

int engine__error_from_response(long status, const char *body, size_t len, const char *what,
                                struct zp_err *err)
{
    int code = status == 404 ? ZP_E_NOTFOUND : status == 409 ? ZP_E_CONFLICT : ZP_E_ENGINE;
    json_t *j = len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
    const char *msg = j ? engine__str(j, "message") : NULL;
    int rc;
    if (msg && *msg) {
        /* Engine messages sometimes end with a newline; keep ours on one line. */
        size_t mlen = strlen(msg);
        while (mlen > 0 && (msg[mlen - 1] == '\n' || msg[mlen - 1] == ' '))
            mlen--;
        /* an engine newer than our newest API that no longer speaks it (negotiation by
         * /_ping cannot know its minimum): say whose upgrade it takes */
        char hint[64] = "";
        if (status == 400 && strstr(msg, "Minimum supported API version") != NULL)
            snprintf(hint, sizeof(hint), "; zpanel speaks at most API 1.%d: upgrade zpanel",
                     ENGINE_API_MAX_MINOR);
        rc = zp_err_set(err, code, NULL, "%s: %.*s (HTTP %ld)%s", what, (int)mlen, msg, status,
                        hint);
    } else {
        size_t start = 0, end = len;
        while (start < end && (body[start] == ' ' || body[start] == '\n' || body[start] == '\r'))
            start++;
        while (end > start &&
               (body[end - 1] == ' ' || body[end - 1] == '\n' || body[end - 1] == '\r'))
            end--;
        if (end > start + 200)
            end = start + 200;
        if (end > start)
            rc = zp_err_set(err, code, NULL, "%s: engine answered HTTP %ld: '%.*s'", what, status,
                            (int)(end - start), body + start);
        else
            rc = zp_err_set(err, code, NULL, "%s: engine answered HTTP %ld", what, status);
    }
    json_decref(j);
    return rc;
}

/* The value of the last response's header `name` (owned), or NULL. */
static char *response_header(CURL *c, const char *name)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || h == NULL)
        return NULL;
    return zp_strdup(h->value);
}

static int perform(struct engine *e, const struct engine__req *req, long *ret_status,
                   struct sink *sink, struct zp_err *err)
{
    struct zp_buf url = ZP_BUF_INIT;
    struct curl_slist *headers = NULL;
    CURL *c = e->curl;
    int rc = 0;

    if (engine_cancelled(e))
        return engine__cancel_error(req->what, err);

    zp_buf_adds(&url, e->base_url);
    if (!req->unversioned)
        zp_buf_addf(&url, "/v%s", e->api_version);
    zp_buf_adds(&url, req->path);
    if (req->query && *req->query)
        zp_buf_addf(&url, "?%s", req->query);

    /* Reset keeps the connection cache, so the socket stays open between requests. */
    curl_easy_reset(c);
    e->errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, e->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_URL, zp_buf_cstr(&url));
    if (e->socket)
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, e->socket);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, e->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms > 0    ? req->timeout_ms
                     : req->timeout_ms == 0 ? e->request_timeout_ms
                                            : 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "zpanel/" ZP_VERSION);
    if (req->bulk) {
        /* fewer, larger pieces for archives (curl's defaults: 16 KiB in, 64 KiB out) */
        curl_easy_setopt(c, CURLOPT_BUFFERSIZE, BULK_BUFFER_SIZE);
        curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, BULK_BUFFER_SIZE);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    headers = curl_slist_append(headers, "Expect:");
    if (req->registry_auth) {
        char *h = zp_asprintf("X-Registry-Auth: %s", req->registry_auth);
        headers = curl_slist_append(headers, h);
        free(h);
    }
    if (req->read_fn) {
        char ct[128];
        snprintf(ct, sizeof(ct), "Content-Type: %s",
                 req->content_type ? req->content_type : "application/json");
        headers = curl_slist_append(headers, ct);
        headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, sink);
        sink->read_fn = req->read_fn;
        sink->read_ctx = req->read_ctx;
    } else if (req->body) {
        char ct[128];
        snprintf(ct, sizeof(ct), "Content-Type: %s",
                 req->content_type ? req->content_type : "application/json");
        headers = curl_slist_append(headers, ct);
        /* Set the size first so that curl does not strlen() a binary body. */
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body_len ? req->body_len : strlen(req->body)));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
    } else if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    if (!headers)
        ZP_BUG("out of memory building request headers");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

    sink->curl = c;
    sink->err = err;
    bool cancelled = false;
    CURLcode cc = run_transfer(e, c, &cancelled);
    if (cancelled) {
        rc = engine__cancel_error(req->what, err);
    } else if (sink->read_rc != 0) {
        rc = err->code ? err->code : sink->read_rc;
        if (!err->code)
            zp_err_set(err, sink->read_rc, NULL, "%s: reading the request body failed", req->what);
    } else if (sink->chunk_rc > 0) {
        rc = sink->chunk_rc;
    } else if (sink->chunk_rc != 0) {
        rc = err->code ? err->code : sink->chunk_rc;
        if (!err->code)
            zp_err_set(err, sink->chunk_rc, NULL, "%s: reading the engine's stream failed",
                       req->what);
    } else if (sink->too_big) {
        rc = zp_err_set(err, ZP_E_TOOBIG, NULL, "%s: engine response too big (more than %zu bytes)",
                        req->what, sink->buf.max);
    } else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                        "%s: cannot connect to the Docker engine at '%s': %s; is dockerd "
                        "running?",
                        req->what, e->host, e->errbuf[0] ? e->errbuf : curl_easy_strerror(cc));
    } else if (cc != CURLE_OK) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: engine at '%s': %s", req->what, e->host,
                        e->errbuf[0] ? e->errbuf : curl_easy_strerror(cc));
    } else {
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 400 && status != req->also_ok) {
            rc = engine__error_from_response(status, zp_buf_cstr(&sink->buf), sink->buf.len,
                                             req->what, err);
        } else {
            *ret_status = status;
            if (req->ret_api_header)
                *req->ret_api_header = response_header(c, "Api-Version");
            if (req->ret_server_header)
                *req->ret_server_header = response_header(c, "Server");
        }
    }
    /* Do not leave pointers to our stack or freed memory inside the handle. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(headers);
    zp_buf_release(&url);
    return rc;
}

int engine__request_text(struct engine *e, const struct engine__req *req, long *ret_status,
                         char **ret_body, size_t *ret_len, struct zp_err *err)
{
    if (!req->unversioned && e->api_minor == 0) {
        int rc = engine_connect(e, err);
        if (rc != 0)
            return rc;
    }
    struct sink sink = {.buf = ZP_BUF_INIT};
    zp_buf_init(&sink.buf, ENGINE_MAX_RESPONSE);
    long status = 0;
    int rc = perform(e, req, &status, &sink, err);
    if (rc == 0) {
        *ret_status = status;
        *ret_body = zp_buf_detach(&sink.buf, ret_len);
    }
    zp_buf_release(&sink.buf);
    return rc;
}

int engine__request(struct engine *e, const struct engine__req *req, long *ret_status,
                    json_t **ret_json, struct zp_err *err)
{
    char *body = NULL;
    size_t len = 0;
    long status = 0;
    int rc = engine__request_text(e, req, &status, &body, &len, err);
    if (rc != 0)
        return rc;
    json_t *j = NULL;
    if (ret_json && len > 0) {
        json_error_t jerr;
        j = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
        if (!j) {
            rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                            "%s: engine sent invalid JSON (HTTP %ld): %s at byte %d", req->what,
                            status, jerr.text, jerr.position);
            goto out;
        }
    }
    *ret_status = status;
    if (ret_json)
        *ret_json = j;
out:
    free(body);
    return rc;
}

int engine__request_stream(struct engine *e, const struct engine__req *req,
                           engine__chunk_fn on_chunk, void *ctx, struct zp_err *err)
{
    if (!req->unversioned && e->api_minor == 0) {
        int rc = engine_connect(e, err);
        if (rc != 0)
            return rc;
    }
    struct sink sink = {.buf = ZP_BUF_INIT, .on_chunk = on_chunk, .ctx = ctx};
    zp_buf_init(&sink.buf, (size_t)64 << 10);
    long status = 0;
    int rc = perform(e, req, &status, &sink, err);
    zp_buf_release(&sink.buf);
    return rc;
}

/* ---- version negotiation ---- */

/* GET /version, the fallback for an engine whose /_ping has no Api-Version header. */
static int connect_version(struct engine *e, int *ret_minor, char **ret_server, struct zp_err *err)
{
    struct engine__req req = {
        .method = "GET",
        .path = "/version",
        .unversioned = true,
        .what = "asking the engine for its version",
    };
    json_t *v = NULL;
    long status = 0;
    int rc = engine__request(e, &req, &status, &v, err);
    if (rc != 0)
        return rc;
    rc = engine__negotiate(v, ret_minor, ret_server, err);
    json_decref(v);
    return rc;
}

int engine_connect(struct engine *e, struct zp_err *err)
{
    /* GET /_ping's headers, as Docker's own client negotiates: /version (and /info) make
     * the engine run `runc --version` and `docker-init --version` for their answers,
     * tens to hundreds of milliseconds on a busy host, where /_ping takes one or two. */
    char *api = NULL, *server_header = NULL;
    struct engine__req req = {
        .method = "GET",
        .path = "/_ping",
        .unversioned = true,
        .what = "asking the engine for its version",
        .ret_api_header = &api,
        .ret_server_header = &server_header,
    };
    char *body = NULL;
    size_t len = 0;
    long status = 0;
    int minor = 0;
    char *server = NULL;
    int rc = engine__request_text(e, &req, &status, &body, &len, err);
    free(body);
    if (rc == 0 && api != NULL)
        rc = engine__negotiate_ping(api, server_header, &minor, &server, err);
    else if (rc == 0)
        rc = connect_version(e, &minor, &server, err);
    free(api);
    free(server_header);
    if (rc != 0)
        return rc;
    free(e->server_version);
    e->server_version = server;
    e->api_minor = minor;
    snprintf(e->api_version, sizeof(e->api_version), "1.%d", minor);
    return 0;
}

/* server/http: the libmicrohttpd daemon (one thread per connection, capped), request
 * bodies, auth, dispatch through the route table, responses, the audit trail, and the
 * server's start and stop. The only file that includes microhttpd.h. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../orchestrator/swarm.h"
#include "server-int.h"

#include "../util/banned.h"

#define DEFAULT_LISTEN "127.0.0.1:7070"
#define CONN_TIMEOUT_S 30          /* a client idle this long is dropped */
#define CONN_MEMORY (64 * 1024)    /* per connection: request line and headers */
#define THREAD_STACK (1024 * 1024) /* per connection thread */
#define PER_IP_LIMIT 64

struct conn_ctx {
    struct zp_buf body;
    bool too_big;
};

void srv_log(const char *level, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %s\n", level, line);
}

int64_t srv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- replies ---- */

const char *srv_req_query(const struct srv_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *srv_req_header(const struct srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *srv_req_cookie(const struct srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

static bool mutating(const char *method);

void srv_reply_json(struct srv_resp *resp, int status, json_t *v)
{
    free(resp->body);
    resp->body = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
    resp->len = resp->body ? strlen(resp->body) : 0;
    resp->status = status;
    resp->type = "application/json";
    json_decref(v);
}

void srv_reply_error(struct srv_resp *resp, int status, const char *code, json_t *details,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = zp_vasprintf(fmt, ap);
    va_end(ap);
    json_t *v = json_pack("{s:{s:s, s:s, s:o}}", "error", "code", code, "message", msg, "details",
                          details ? details : json_array());
    free(msg);
    srv_reply_json(resp, status, v);
}

void srv_reply_zerr(struct srv_resp *resp, const struct zp_err *err)
{
    int status = 500;
    const char *code = "internal";
    switch (err->code) {
    case ZP_E_INPUT:
    case ZP_E_USAGE:
        status = 400, code = "bad_request";
        break;
    case ZP_E_NOTFOUND:
        status = 404, code = "not_found";
        break;
    case ZP_E_CONFLICT:
        status = 409, code = "conflict";
        break;
    case ZP_E_TOOBIG:
        status = 413, code = "too_big";
        break;
    case ZP_E_ENGINE:
        status = 502, code = "engine";
        break;
    default:
        break;
    }
    char *msg = zp_err_render(err);
    srv_reply_error(resp, status, code, NULL, "%s", msg);
    free(msg);
}

void srv_reply_text(struct srv_resp *resp, int status, const char *type, const char *text,
                    size_t len)
{
    free(resp->body);
    resp->body = zp_malloc(len + 1);
    memcpy(resp->body, text, len);
    resp->body[len] = '\0';
    resp->len = len;
    resp->status = status;
    resp->type = type;
}

/* ---- the database pool ---- */

static struct store_panel *pool_take(struct server *s)
{
    pthread_mutex_lock(&s->pool_lock);
    while (s->npool == 0)
        pthread_cond_wait(&s->pool_cond, &s->pool_lock);
    struct store_panel *db = s->pool[--s->npool];
    pthread_mutex_unlock(&s->pool_lock);
    return db;
}

static void pool_give(struct server *s, struct store_panel *db)
{
    pthread_mutex_lock(&s->pool_lock);
    s->pool[s->npool++] = db;
    pthread_cond_signal(&s->pool_cond);
    pthread_mutex_unlock(&s->pool_lock);
}

/* ---- auth ---- */

/* The CSRF check of a request authenticated by the session cookie: a state-changing one
 * must repeat the CSRF cookie's value in X-CSRF-Token (double submit: a page of another
 * site can make the browser send the cookies, but cannot read them to set the header). */
static bool csrf_ok(const struct srv_req *req)
{
    if (!mutating(req->method))
        return true;
    const char *c = srv_req_cookie(req, SRV_CSRF_COOKIE);
    const char *h = srv_req_header(req, SRV_CSRF_HEADER);
    size_t n = c ? strlen(c) : 0;
    return n >= 16 && h && strlen(h) == n && sodium_memcmp(c, h, n) == 0;
}

/* Check the Bearer token (or the session cookie: then also CSRF) against the route's
 * scope; on failure the reply is set. */
static bool authorize(struct srv_req *req, struct srv_resp *resp)
{
    const char *h = srv_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *cookie = h ? NULL : srv_req_cookie(req, SRV_SESSION_COOKIE);
    const char *tok;
    if (cookie && *cookie) {
        if (strncmp(cookie, SRV_SESSION_PREFIX, strlen(SRV_SESSION_PREFIX)) != 0 ||
            strlen(cookie) > 256) {
            srv_reply_error(resp, 401, "unauthorized", NULL, "unknown or expired session");
            return false;
        }
        tok = cookie;
        req->by_cookie = true;
    } else if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) {
        srv_reply_error(resp, 401, "unauthorized", NULL,
                        "this route needs a token: 'Authorization: Bearer TOKEN' (zpanel token "
                        "create)");
        resp->auth_challenge = true;
        return false;
    } else {
        tok = h + 7;
        /* a session is a cookie's: a stolen one cannot be replayed without CSRF as a bearer */
        if (strlen(tok) > 256 ||
            strncmp(tok, SRV_SESSION_PREFIX, strlen(SRV_SESSION_PREFIX)) == 0) {
            srv_reply_error(resp, 401, "unauthorized", NULL, "unknown or expired token");
            resp->auth_challenge = true;
            return false;
        }
    }
    char hash[65];
    zp_sha256_hex(tok, strlen(tok), hash);
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_token_find(req->db, hash, srv_now_ms() / 1000, &req->auth, &err) != 0) {
        if (err.code == ZP_E_NOTFOUND) {
            srv_reply_error(resp, 401, "unauthorized", NULL, "unknown or expired token");
            resp->auth_challenge = true;
        } else {
            srv_reply_zerr(resp, &err);
        }
        return false;
    }
    req->authed = true;
    if (req->by_cookie && !csrf_ok(req)) {
        srv_reply_error(resp, 403, "csrf", NULL,
                        "a request authenticated by the session cookie must repeat the "
                        "'" SRV_CSRF_COOKIE "' cookie in the " SRV_CSRF_HEADER " header");
        return false;
    }
    /* a role bounds what its tokens can do, even one created before a role change */
    enum store_scope role_max = req->auth.role == STORE_ROLE_ADMIN    ? STORE_SCOPE_ADMIN
                                : req->auth.role == STORE_ROLE_MEMBER ? STORE_SCOPE_WRITE
                                                                      : STORE_SCOPE_READ;
    enum store_scope eff = req->auth.scope < role_max ? req->auth.scope : role_max;
    if (eff < req->route->scope) {
        srv_reply_error(resp, 403, "forbidden", NULL,
                        "this route needs scope '%s'; the token has '%s'",
                        store_scope_name(req->route->scope), store_scope_name(eff));
        return false;
    }
    return true;
}

/* ---- dispatch ---- */

static void dispatch(struct srv_req *req, struct conn_ctx *cc, struct srv_resp *resp)
{
    if (srv_web_serve(req, resp)) /* the dashboard's assets, outside the route table */
        return;
    struct zp_str params[SRV_MAX_PARAMS];
    size_t np = 0;
    const char *allow = NULL;
    int m = srv_route_match(req->method, req->path, strlen(req->path), &req->route, params, &np,
                            &allow);
    if (m == SRV_MATCH_NO_PATH) {
        srv_reply_error(resp, 404, "not_found", NULL, "no route '%s'", req->path);
        return;
    }
    if (m == SRV_MATCH_NO_METHOD) {
        srv_reply_error(resp, 405, "method_not_allowed", NULL, "'%s' does not take %s", req->path,
                        req->method);
        resp->allow = allow;
        return;
    }
    for (size_t i = 0; i < np; i++)
        req->params[i] = zp_strndup(params[i].p, params[i].len);
    req->nparams = np;
    if (cc->too_big) {
        srv_reply_error(resp, 413, "too_big", NULL, "request body is larger than %d bytes",
                        SRV_BODY_MAX);
        return;
    }
    req->body = zp_buf_cstr(&cc->body);
    req->body_len = cc->body.len;
    if (req->route->scope != STORE_SCOPE_NONE && !authorize(req, resp))
        return;
    req->route->fn(req, resp);
}

static bool mutating(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

static void remote_addr(struct MHD_Connection *c, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, n, "?");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)n);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct srv_resp *r = cls;
    ssize_t n = r->stream(r->stream_cls, buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void stream_free(void *cls)
{
    struct srv_resp *r = cls;
    if (r->stream_free)
        r->stream_free(r->stream_cls);
    free(r);
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct srv_resp *resp)
{
    struct MHD_Response *mr;
    if (resp->stream) {
        struct srv_resp *held = zp_malloc(sizeof(*held));
        *held = *resp;
        mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_reader, held,
                                               stream_free);
        resp->stream = NULL;
    } else {
        mr = MHD_create_response_from_buffer(resp->len, resp->body ? resp->body : (void *)"",
                                             resp->body ? MHD_RESPMEM_MUST_FREE
                                                        : MHD_RESPMEM_PERSISTENT);
        resp->body = NULL;
    }
    if (!mr)
        return MHD_NO;
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->type ? resp->type : "application/json");
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL,
                            resp->etag ? "no-cache" : "no-store");
    if (resp->etag)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_ETAG, resp->etag);
    if (resp->page) {
        MHD_add_response_header(mr, "Content-Security-Policy",
                                "default-src 'none'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
                                "base-uri 'none'; frame-ancestors 'none'");
        MHD_add_response_header(mr, "X-Frame-Options", "DENY");
        MHD_add_response_header(mr, "Referrer-Policy", "no-referrer");
    }
    if (resp->disposition)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_DISPOSITION, resp->disposition);
    if (resp->allow)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, resp->allow);
    if (resp->auth_challenge)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"zpanel\"");
    for (size_t i = 0; i < 2; i++)
        if (resp->cookies[i])
            MHD_add_response_header(mr, MHD_HTTP_HEADER_SET_COOKIE, resp->cookies[i]);
    if (resp->retry_after > 0) {
        char ra[32];
        snprintf(ra, sizeof(ra), "%lld", (long long)resp->retry_after);
        MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result r = MHD_queue_response(c, (unsigned)resp->status, mr);
    MHD_destroy_response(mr);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct server *s = cls;
    struct conn_ctx *cc = *con_cls;
    if (!cc) {
        cc = zp_calloc(1, sizeof(*cc));
        zp_buf_init(&cc->body, SRV_BODY_MAX);
        *con_cls = cc;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!cc->too_big && zp_buf_add(&cc->body, upload_data, *upload_data_size) != 0) {
            cc->too_big = true;
            zp_buf_release(&cc->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    int64_t t0 = zp_mono_ns();
    struct srv_req req;
    memset(&req, 0, sizeof(req));
    req.srv = s;
    req.conn = c;
    req.method = method;
    req.path = url;
    struct srv_resp resp;
    memset(&resp, 0, sizeof(resp));
    resp.status = 500;
    remote_addr(c, req.addr, sizeof(req.addr));
    const char *addr = req.addr;
    req.db = pool_take(s);
    dispatch(&req, cc, &resp);
    if (mutating(method)) {
        struct zp_err err;
        zp_err_init(&err);
        if (store_panel_audit_add(req.db, srv_now_ms(), req.authed ? req.auth.user : NULL, method,
                                  url, resp.status, addr, &err) != 0)
            srv_log("error", "msg=\"audit: %s\"", err.msg);
        if (!s->quiet)
            srv_log("info", "method=%s path=%s status=%d user=%s remote=%s ms=%.1f", method, url,
                    resp.status, req.authed ? req.auth.user : "-", addr,
                    (double)(zp_mono_ns() - t0) / 1e6);
    }
    pool_give(s, req.db);
    srv_jobs_note_garbage(s->jobs);
    srv_metrics_count(s->metrics, req.route ? srv_route_index(req.route) : SIZE_MAX, resp.status);
    for (size_t i = 0; i < req.nparams; i++)
        free(req.params[i]);
    store_token_info_release(&req.auth);
    enum MHD_Result r = send_resp(c, &resp);
    free(resp.body);
    free(resp.disposition);
    for (size_t i = 0; i < 2; i++)
        free(resp.cookies[i]);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct conn_ctx *cc = *con_cls;
    if (!cc)
        return;
    zp_buf_release(&cc->body);
    free(cc);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) ZP_PRINTF(2, 0);

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    srv_log("warning", "http=\"%s\"", line);
}

/* ---- start and stop ---- */

/* "ADDR:PORT" or "[ADDR6]:PORT" into a socket address. */
static int parse_listen(const char *v, struct sockaddr_storage *ss, struct zp_err *err)
{
    memset(ss, 0, sizeof(*ss));
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v)
        return zp_err_set(err, ZP_E_INPUT, NULL, "--listen: '%s' is not ADDR:PORT", v);
    int64_t port;
    if (zp_parse_int64(colon + 1, 0, 65535, &port) != 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "--listen: '%s' has no valid port", v);
    char host[INET6_ADDRSTRLEN + 2];
    size_t hl = (size_t)(colon - v);
    if (hl >= sizeof(host))
        return zp_err_set(err, ZP_E_INPUT, NULL, "--listen: '%s' is not ADDR:PORT", v);
    memcpy(host, v, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1)
            return 0;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a->sin_addr) == 1)
            return 0;
    }
    return zp_err_set(err, ZP_E_INPUT, NULL, "--listen: '%s' is not a numeric address", host);
}

int server_start(const struct server_opts *opts, struct server **ret, struct zp_err *err)
{
    if (sodium_init() < 0)
        return zp_err_set(err, ZP_E_SYSTEM, NULL, "libsodium cannot start");
    /* one arena per core at most: per-thread arenas of short-lived connection threads
     * would each keep their freed memory */
    mallopt(M_ARENA_MAX, 2);
    const char *listen = opts->listen ? opts->listen : DEFAULT_LISTEN;
    struct sockaddr_storage ss;
    int rc = parse_listen(listen, &ss, err);
    if (rc)
        return rc;
    struct server *s = zp_calloc(1, sizeof(*s));
    s->state_dir = zp_strdup(opts->state_dir);
    s->host = opts->host ? zp_strdup(opts->host) : NULL;
    s->quiet = opts->quiet;
    s->started_ms = srv_now_ms();
    pthread_mutex_init(&s->pool_lock, NULL);
    pthread_cond_init(&s->pool_cond, NULL);
    size_t nroutes;
    srv_routes(&nroutes);
    s->metrics = srv_metrics_new(nroutes);
    s->limit = srv_limit_new();
    for (size_t i = 0; i < SRV_DB_POOL; i++) {
        if ((rc = store_panel_open(s->state_dir, &s->pool[i], err)) != 0)
            goto fail;
        s->npool++;
    }
    int workers = opts->workers;
    if (workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        workers = n > 0 ? (int)n : 1;
    }
    if ((rc = srv_notifier_start(s->quiet, &s->notifier, err)) != 0)
        goto fail;
    if ((rc = srv_jobs_start(s, workers, &s->jobs, err)) != 0)
        goto fail;
    if ((rc = srv_sched_start(s, &s->sched, err)) != 0)
        goto fail;
    /* swarm: the proxy follows Swarm tasks that Swarm replaces on its own */
    struct zp_err rerr;
    zp_err_init(&rerr);
    if (orch_swarm_router_start(s->host, s->state_dir, &s->swarm_router, &rerr) != 0)
        srv_log("warning", "msg=\"the proxy will not follow Swarm tasks: %s\"", rerr.msg);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    unsigned maxconn = opts->max_connections > 0 ? (unsigned)opts->max_connections : 256;
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, maxconn,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_IP_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)THREAD_STACK, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_END);
    if (!s->mhd) {
        rc = zp_err_set(err, ZP_E_SYSTEM, NULL,
                        "cannot listen on %s (in use, or not an address "
                        "of this host)",
                        listen);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    *ret = s;
    return 0;
fail:
    server_free(s);
    return rc;
}

int server_port(const struct server *s)
{
    return s->port;
}

void server_free(struct server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    srv_jobs_wake_readers(s->jobs); /* job log streams end now, not at their next keep-alive */
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    srv_sched_stop(s->sched);
    orch_swarm_router_stop(s->swarm_router);
    srv_jobs_stop(s->jobs);
    srv_notifier_stop(s->notifier); /* after the jobs: a job that ends queues its news */
    for (size_t i = 0; i < s->npool; i++)
        store_panel_close(s->pool[i]);
    srv_metrics_free(s->metrics);
    srv_limit_free(s->limit);
    pthread_mutex_destroy(&s->pool_lock);
    pthread_cond_destroy(&s->pool_cond);
    free(s->state_dir);
    free(s->host);
    free(s);
}

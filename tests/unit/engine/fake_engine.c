/* The fake Docker engine of the engine unit tests (see fake_engine.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake_engine.h"

#include "util/util.h"

#define MAX_CONNS 256

static struct {
    pthread_mutex_t lock;
    int listen_fd;
    char dir[40];
    char path[100];
    pthread_t thread;
    const struct route *routes;
    size_t n_routes;
    struct zp_buf log;       /* "METHOD TARGET BODY\n" per request */
    struct zp_buf last_body; /* the last request's body, binary */
    char *last_ctype;        /* the last request's Content-Type, or NULL */
    int connections;         /* accepted connections */
    size_t big_response;     /* when > 0, answer every request with this many bytes */
    const char *headers;     /* header lines of plain answers (fake_headers) */
    bool stop;
    pthread_t conns[MAX_CONNS]; /* one thread per connection, joined at the end */
    size_t n_conns;
} fake = {.lock = PTHREAD_MUTEX_INITIALIZER};

char *fake_data(const char *name, size_t *ret_len)
{
    struct zp_err err;
    zp_err_init(&err);
    char *path = zp_asprintf("%s/engine/%s", ZP_TEST_DATA, name);
    char *data = NULL;
    if (zp_file_read(path, 1 << 20, &data, ret_len, &err) != 0)
        ZP_BUG("missing test data %s", path);
    free(path);
    return data;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool write_frame(int fd, int stream, const char *p, size_t n)
{
    unsigned char h[8] = {(unsigned char)stream,
                          0,
                          0,
                          0,
                          (unsigned char)(n >> 24),
                          (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8),
                          (unsigned char)n};
    return write_all(fd, (const char *)h, 8) && write_all(fd, p, n);
}

/* Read more into in; false at the end of the stream. */
static bool read_more(int fd, struct zp_buf *in)
{
    char chunk[4096];
    ssize_t r = read(fd, chunk, sizeof(chunk));
    if (r <= 0)
        return false;
    zp_buf_add(in, chunk, (size_t)r);
    return true;
}

/* A header's value in the head [p, end), or NULL. */
static char *header(const char *p, const char *end, const char *name)
{
    char *key = zp_asprintf("\r\n%s: ", name);
    char *h = strcasestr(p, key);
    char *v = NULL;
    if (h && h < end)
        v = zp_strndup(h + strlen(key), strcspn(h + strlen(key), "\r"));
    free(key);
    return v;
}

/* Take a chunked body from in at off into body; false when the stream ends first. */
static bool read_chunked(int fd, struct zp_buf *in, size_t *off, struct zp_buf *body)
{
    for (;;) {
        char *nl;
        while (!(nl = memchr(in->p + *off, '\n', in->len - *off)))
            if (!read_more(fd, in))
                return false;
        size_t size = 0;
        for (const char *c = in->p + *off; *c != '\r' && *c != '\n'; c++)
            size = size * 16 + (size_t)(*c <= '9' ? *c - '0' : (*c | 0x20) - 'a' + 10);
        size_t data = (size_t)(nl - in->p) + 1;
        while (in->len < data + size + 2)
            if (!read_more(fd, in))
                return false;
        zp_buf_add(body, in->p + data, size);
        *off = data + size + 2;
        if (size == 0)
            return true;
    }
}

/* Serve requests on one connection until the client closes it. */
static void serve_conn(int fd)
{
    struct zp_buf in = ZP_BUF_INIT, body = ZP_BUF_INIT;
    for (;;) {
        char *end = in.p ? strstr(in.p, "\r\n\r\n") : NULL;
        if (!end) {
            if (!read_more(fd, &in))
                break;
            continue;
        }
        size_t head_len = (size_t)(end - in.p) + 4;
        size_t consumed = head_len;
        char *cl = header(in.p, end, "Content-Length");
        char *te = header(in.p, end, "Transfer-Encoding");
        char *up = header(in.p, end, "Upgrade");
        char *ct = header(in.p, end, "Content-Type");
        bool upgrade = up && strcmp(up, "tcp") == 0;
        zp_buf_reset(&body);
        if (te && strcmp(te, "chunked") == 0) {
            if (!read_chunked(fd, &in, &consumed, &body))
                goto out_free;
        } else {
            int64_t v = 0;
            if (cl)
                zp_parse_int64(cl, 0, 1 << 20, &v);
            while (in.len < head_len + (size_t)v)
                if (!read_more(fd, &in))
                    goto out_free;
            zp_buf_add(&body, in.p + head_len, (size_t)v);
            consumed = head_len + (size_t)v;
        }
        free(cl);
        free(te);
        free(up);
        cl = te = up = NULL;
        char method[16] = "", target[1024] = "";
        size_t ml = strcspn(in.p, " ");
        size_t tl = strcspn(in.p + ml + 1, " ");
        snprintf(method, sizeof(method), "%.*s", (int)ml, in.p);
        snprintf(target, sizeof(target), "%.*s", (int)tl, in.p + ml + 1);

        pthread_mutex_lock(&fake.lock);
        zp_buf_addf(&fake.log, "%s%s %s %s\n", method, upgrade ? "+upgrade" : "", target,
                    zp_buf_cstr(&body));
        zp_buf_reset(&fake.last_body);
        zp_buf_add(&fake.last_body, body.p ? body.p : "", body.len);
        free(fake.last_ctype);
        fake.last_ctype = ct;
        ct = NULL;
        const struct route *hit = NULL;
        for (size_t i = 0; i < fake.n_routes; i++)
            if (strcmp(fake.routes[i].method, method) == 0 &&
                strcmp(fake.routes[i].target, target) == 0)
                hit = &fake.routes[i];
        size_t big = fake.big_response;
        const char *extra = fake.headers ? fake.headers : FAKE_API_HEADERS;
        pthread_mutex_unlock(&fake.lock);

        char *data = NULL;
        size_t len = 0;
        int status = 404;
        enum fake_mode mode = FAKE_PLAIN;
        if (big) {
            status = 200;
            data = zp_malloc(big);
            memset(data, ' ', big);
            len = big;
        } else if (hit) {
            status = hit->status;
            mode = hit->mode;
            if (hit->file) {
                data = fake_data(hit->file, &len);
            } else {
                const char *b = hit->body ? hit->body : "";
                len = strlen(b);
                data = zp_malloc(len + 1);
                memcpy(data, b, len);
            }
        } else {
            data = zp_strdup("{\"message\":\"page not found\"}");
            len = strlen(data);
        }
        char head[512];
        int hl;
        if (mode == FAKE_UPGRADE || mode == FAKE_ECHO)
            hl = snprintf(head, sizeof(head),
                          "HTTP/1.1 101 UPGRADED\r\nContent-Type: "
                          "application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\n"
                          "Upgrade: tcp\r\n\r\n");
        else if (mode == FAKE_HOLD)
            hl = snprintf(head, sizeof(head),
                          "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n%zx\r\n",
                          status, len);
        else
            hl = snprintf(head, sizeof(head),
                          "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s"
                          "Content-Length: %zu\r\n\r\n",
                          status, extra, len);
        bool ok = write_all(fd, head, (size_t)hl) && write_all(fd, data, len);
        free(data);
        if (ok && mode == FAKE_HOLD) {
            /* end the chunk, then hold until the client goes away */
            write_all(fd, "\r\n", 2);
            while (read_more(fd, &in))
                ;
            break;
        }
        if (ok && mode == FAKE_ECHO) {
            char chunk[4096];
            ssize_t r;
            while ((r = read(fd, chunk, sizeof(chunk))) > 0)
                if (!write_frame(fd, ENGINE_STREAM_STDOUT, chunk, (size_t)r))
                    break;
            write_frame(fd, ENGINE_STREAM_STDERR, "eof\n", 4);
            break;
        }
        if (!ok || mode == FAKE_UPGRADE)
            break;
        size_t rest = in.len - consumed;
        memmove(in.p, in.p + consumed, rest);
        in.len = rest;
        in.p[rest] = '\0';
        continue;
    out_free:
        free(cl);
        free(te);
        free(up);
        free(ct);
        break;
    }
    zp_buf_release(&in);
    zp_buf_release(&body);
    close(fd);
}

static void *conn_main(void *arg)
{
    serve_conn((int)(intptr_t)arg);
    return NULL;
}

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept4(fake.listen_fd, NULL, NULL, SOCK_CLOEXEC);
        pthread_mutex_lock(&fake.lock);
        bool stop = fake.stop;
        if (fd >= 0 && !stop) {
            fake.connections++;
            if (fake.n_conns == MAX_CONNS || pthread_create(&fake.conns[fake.n_conns], NULL,
                                                            conn_main, (void *)(intptr_t)fd) != 0)
                ZP_BUG("fake engine: cannot serve another connection");
            fake.n_conns++;
        }
        pthread_mutex_unlock(&fake.lock);
        if (stop) {
            if (fd >= 0)
                close(fd);
            return NULL;
        }
    }
}

int fake_start(void **state)
{
    (void)state;
    struct zp_err err;
    zp_err_init(&err);
    if (engine_global_init(&err) != 0)
        return -1;
    snprintf(fake.dir, sizeof(fake.dir), "/tmp/zp-engine-test-XXXXXX");
    if (!mkdtemp(fake.dir))
        return -1;
    snprintf(fake.path, sizeof(fake.path), "%s/docker.sock", fake.dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fake.path);
    fake.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fake.listen_fd < 0 || bind(fake.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(fake.listen_fd, 16) != 0)
        return -1;
    return pthread_create(&fake.thread, NULL, serve, NULL) == 0 ? 0 : -1;
}

int fake_stop(void **state)
{
    (void)state;
    pthread_mutex_lock(&fake.lock);
    fake.stop = true;
    pthread_mutex_unlock(&fake.lock);
    /* wake accept() */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fake.path);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        pthread_join(fake.thread, NULL);
    if (fd >= 0)
        close(fd);
    /* every client is gone, so every connection thread ends */
    for (size_t i = 0; i < fake.n_conns; i++)
        pthread_join(fake.conns[i], NULL);
    close(fake.listen_fd);
    unlink(fake.path);
    rmdir(fake.dir);
    zp_buf_release(&fake.log);
    zp_buf_release(&fake.last_body);
    free(fake.last_ctype);
    fake.last_ctype = NULL;
    engine_global_cleanup();
    return 0;
}

void fake_routes(const struct route *routes, size_t n)
{
    pthread_mutex_lock(&fake.lock);
    fake.routes = routes;
    fake.n_routes = n;
    zp_buf_reset(&fake.log);
    zp_buf_reset(&fake.last_body);
    free(fake.last_ctype);
    fake.last_ctype = NULL;
    fake.connections = 0;
    fake.big_response = 0;
    fake.headers = NULL;
    pthread_mutex_unlock(&fake.lock);
}

void fake_headers(const char *headers)
{
    pthread_mutex_lock(&fake.lock);
    fake.headers = headers;
    pthread_mutex_unlock(&fake.lock);
}

char *fake_log(void)
{
    pthread_mutex_lock(&fake.lock);
    char *s = zp_strdup(zp_buf_cstr(&fake.log));
    pthread_mutex_unlock(&fake.lock);
    return s;
}

char *fake_last_body(size_t *ret_len)
{
    pthread_mutex_lock(&fake.lock);
    *ret_len = fake.last_body.len;
    char *s = zp_malloc(fake.last_body.len + 1);
    if (fake.last_body.len)
        memcpy(s, fake.last_body.p, fake.last_body.len);
    s[fake.last_body.len] = '\0';
    pthread_mutex_unlock(&fake.lock);
    return s;
}

char *fake_last_content_type(void)
{
    pthread_mutex_lock(&fake.lock);
    char *s = zp_strdup(fake.last_ctype ? fake.last_ctype : "");
    pthread_mutex_unlock(&fake.lock);
    return s;
}

int fake_connections(void)
{
    pthread_mutex_lock(&fake.lock);
    int n = fake.connections;
    pthread_mutex_unlock(&fake.lock);
    return n;
}

void fake_big_response(size_t n)
{
    pthread_mutex_lock(&fake.lock);
    fake.big_response = n;
    pthread_mutex_unlock(&fake.lock);
}

struct engine *fake_engine(void)
{
    struct zp_err err;
    zp_err_init(&err);
    char *host = zp_asprintf("unix://%s", fake.path);
    struct engine *e = engine_new(host, &err);
    free(host);
    if (!e)
        ZP_BUG("fake engine: %s", err.msg);
    return e;
}

const char *fake_host(void)
{
    static char host[120];
    snprintf(host, sizeof(host), "unix://%s", fake.path);
    return host;
}

/* engine/hijack: interactive streams (exec start, container attach). The engine takes
 * over the HTTP connection after its answer, so these run on a plain socket of their own
 * (unix or TCP) instead of libcurl: send the request, read the answer's head, then copy
 * stdin to the socket and the socket to the caller until the engine closes it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "engine-int.h"

#include "../util/banned.h"

#define MAX_HEAD ((size_t)16 << 10)       /* an answer's head */
#define MAX_ERROR_BODY ((size_t)64 << 10) /* the body of an error answer */
#define IO_CHUNK ((size_t)32 << 10)

/* ---- pure helpers ---- */

int engine__parse_response_head(const char *head, size_t len, long *ret_status,
                                int64_t *ret_content_length, bool *ret_chunked)
{
    /* "HTTP/1.1 101 UPGRADED\r\n" */
    if (len < 12 || memcmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ')
        return ZP_E_ENGINE;
    long status = 0;
    for (int i = 9; i < 12; i++) {
        if (head[i] < '0' || head[i] > '9')
            return ZP_E_ENGINE;
        status = status * 10 + (head[i] - '0');
    }
    int64_t clen = -1;
    bool chunked = false;
    const char *end = head + len;
    const char *line = memchr(head, '\n', len);
    while (line && line + 1 < end) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        size_t llen = eol ? (size_t)(eol - line) : (size_t)(end - line);
        if (llen > 0 && line[llen - 1] == '\r')
            llen--;
        const char *colon = memchr(line, ':', llen);
        if (colon) {
            size_t klen = (size_t)(colon - line);
            const char *v = colon + 1;
            size_t vlen = llen - klen - 1;
            while (vlen > 0 && (*v == ' ' || *v == '\t')) {
                v++;
                vlen--;
            }
            while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            if (klen == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
                char *num = zp_strndup(v, vlen);
                int64_t n = 0;
                int bad = zp_parse_int64(num, 0, INT64_MAX, &n);
                free(num);
                if (bad)
                    return ZP_E_ENGINE;
                clen = n;
            } else if (klen == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
                chunked = vlen >= 7 && strncasecmp(v + vlen - 7, "chunked", 7) == 0;
            }
        }
        line = eol;
    }
    *ret_status = status;
    *ret_content_length = clen;
    *ret_chunked = chunked;
    return 0;
}

int engine__dechunk(char *body, size_t len, size_t *ret_len)
{
    size_t in = 0, out = 0;
    for (;;) {
        size_t size = 0, digits = 0;
        while (in < len) {
            char c = body[in];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0)
                break;
            if (size > (SIZE_MAX >> 4))
                return ZP_E_ENGINE;
            size = size * 16 + (size_t)d;
            digits++;
            in++;
        }
        if (digits == 0)
            return ZP_E_ENGINE;
        /* chunk extensions up to the line end */
        const char *nl = in < len ? memchr(body + in, '\n', len - in) : NULL;
        if (!nl)
            return ZP_E_ENGINE;
        in = (size_t)(nl - body) + 1;
        if (size == 0) {
            *ret_len = out;
            return 0;
        }
        if (len - in < size + 1)
            return ZP_E_ENGINE;
        memmove(body + out, body + in, size);
        out += size;
        in += size;
        if (body[in] == '\r')
            in++;
        if (in >= len || body[in] != '\n')
            return ZP_E_ENGINE;
        in++;
    }
}

/* ---- the connection ---- */

struct conn {
    struct engine *e;
    int fd;
    const char *what;
    struct zp_err *err;
};

/* Wait until fd is ready for events or deadline_ms (monotonic, 0: none) passes, waking
 * up for cancellation. Returns 0 when ready. */
static int wait_fd(struct conn *c, short events, int64_t deadline_ms)
{
    for (;;) {
        if (engine_cancelled(c->e))
            return engine__cancel_error(c->what, c->err);
        int timeout = -1;
        if (deadline_ms > 0) {
            int64_t left = deadline_ms - zp_mono_ms();
            if (left <= 0)
                return zp_err_set(c->err, ZP_E_ENGINE, NULL, "%s: engine at '%s': timed out",
                                  c->what, engine_host(c->e));
            timeout = left > 1000 ? 1000 : (int)left;
        }
        struct pollfd p[2] = {{.fd = c->fd, .events = events},
                              {.fd = engine__cancel_fd(c->e), .events = POLLIN}};
        int n = poll(p, 2, timeout);
        if (n < 0 && errno != EINTR)
            return zp_err_sys(c->err, "%s: waiting for the engine", c->what);
        if (n > 0 && p[0].revents)
            return 0;
    }
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Connect to e's socket; the descriptor is non-blocking and close-on-exec. */
static int dial(struct conn *c)
{
    struct engine *e = c->e;
    const char *path = engine__socket_path(e);
    int64_t deadline = zp_mono_ms() + engine__connect_timeout_ms(e);
    if (path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
            return zp_err_set(c->err, ZP_E_INPUT, NULL, "%s: socket path '%s' too long", c->what,
                              path);
        memcpy(sa.sun_path, path, strlen(path) + 1);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
            return zp_err_sys(c->err, "%s: creating a socket", c->what);
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
            return zp_err_set(c->err, ZP_E_ENGINE, NULL,
                              "%s: cannot connect to the Docker engine at '%s': %s; is dockerd "
                              "running?",
                              c->what, engine_host(e), strerror(errno));
        if (set_nonblock(c->fd) != 0)
            return zp_err_sys(c->err, "%s: setting up the socket", c->what);
        return 0;
    }
    /* base URL "http://HOST:PORT" or "http://[V6]:PORT" */
    const char *hp = engine__base_url(e) + strlen("http://");
    const char *colon = strrchr(hp, ':');
    if (!colon)
        ZP_BUG("engine base URL without a port");
    char *host = hp[0] == '[' ? zp_strndup(hp + 1, (size_t)(colon - hp - 2))
                              : zp_strndup(hp, (size_t)(colon - hp));
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &res);
    free(host);
    if (gai != 0)
        return zp_err_set(c->err, ZP_E_ENGINE, NULL,
                          "%s: cannot connect to the Docker engine at '%s': %s", c->what,
                          engine_host(e), gai_strerror(gai));
    int rc = ZP_E_ENGINE;
    int last_errno = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            c->fd = fd;
            rc = 0;
            break;
        }
        if (errno == EINPROGRESS) {
            c->fd = fd;
            struct zp_err sub;
            zp_err_init(&sub);
            struct zp_err *saved = c->err;
            c->err = &sub;
            int w = wait_fd(c, POLLOUT, deadline);
            c->err = saved;
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (w == ENGINE_E_CANCELLED) {
                *c->err = sub;
                freeaddrinfo(res);
                return w;
            }
            if (w == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) {
                rc = 0;
                break;
            }
            last_errno = w == 0 ? soerr : ETIMEDOUT;
        } else {
            last_errno = errno;
        }
        close(fd);
        c->fd = -1;
    }
    freeaddrinfo(res);
    if (rc != 0)
        return zp_err_set(c->err, ZP_E_ENGINE, NULL,
                          "%s: cannot connect to the Docker engine at '%s': %s; is dockerd "
                          "running?",
                          c->what, engine_host(e), strerror(last_errno));
    return 0;
}

/* Send all of data (the socket is non-blocking). */
static int send_all(struct conn *c, const char *data, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t w = send(c->fd, data, len, MSG_NOSIGNAL);
        if (w > 0) {
            data += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            int rc = wait_fd(c, POLLOUT, deadline);
            if (rc != 0)
                return rc;
            continue;
        }
        return zp_err_set(c->err, ZP_E_ENGINE, NULL, "%s: sending the request: %s", c->what,
                          strerror(errno));
    }
    return 0;
}

/* Read once into b (at most max bytes in all). Returns the count, 0 at the end of the
 * stream, or a negative code. */
static ssize_t recv_some(struct conn *c, struct zp_buf *b, size_t max, int64_t deadline)
{
    char chunk[4096];
    for (;;) {
        size_t room = max - b->len < sizeof(chunk) ? max - b->len : sizeof(chunk);
        if (room == 0)
            return zp_err_set(c->err, ZP_E_TOOBIG, NULL,
                              "%s: engine answer too big (more than %zu bytes)", c->what, max);
        ssize_t r = recv(c->fd, chunk, room, 0);
        if (r >= 0) {
            if (r > 0 && zp_buf_add(b, chunk, (size_t)r) != 0)
                ZP_BUG("buffer below its checked cap");
            return r;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            int rc = wait_fd(c, POLLIN, deadline);
            if (rc != 0)
                return rc;
            continue;
        }
        return zp_err_set(c->err, ZP_E_ENGINE, NULL, "%s: reading the answer: %s", c->what,
                          strerror(errno));
    }
}

/* After an error head: read the body (Content-Length, chunked or up to the close) and
 * turn it into the error. */
static int read_error(struct conn *c, long status, int64_t clen, bool chunked, struct zp_buf *in,
                      size_t head_len, int64_t deadline)
{
    struct zp_buf body = ZP_BUF_INIT;
    zp_buf_add(&body, in->p + head_len, in->len - head_len);
    int rc = 0;
    for (;;) {
        if (clen >= 0 && body.len >= (size_t)clen)
            break;
        if (chunked && body.len >= 5 && memcmp(body.p + body.len - 5, "0\r\n\r\n", 5) == 0)
            break;
        ssize_t r = recv_some(c, &body, MAX_ERROR_BODY, deadline);
        if (r < 0) {
            rc = (int)r;
            break;
        }
        if (r == 0)
            break;
    }
    if (rc == 0) {
        size_t len = body.len;
        if (clen >= 0 && len > (size_t)clen)
            len = (size_t)clen;
        if (chunked && engine__dechunk(body.p, body.len, &len) != 0)
            len = body.len;
        rc = engine__error_from_response(status, body.p ? body.p : "", len, c->what, c->err);
    }
    zp_buf_release(&body);
    return rc;
}

/* ---- the stream ---- */

struct pump {
    const struct engine_stream_io *io;
    struct engine_mux_decoder mux;
};

static int deliver(struct pump *p, const char *data, size_t len, struct zp_err *err)
{
    if (len == 0)
        return 0;
    if (p->io->tty)
        return p->io->on_output(p->io->ctx, ENGINE_STREAM_STDOUT, data, len, err);
    return engine_mux_feed(&p->mux, data, len, err);
}

/* Copy between the socket, stdin and the caller until the engine closes the stream. */
static int stream_loop(struct conn *c, struct pump *p)
{
    const struct engine_stream_io *io = p->io;
    bool stdin_open = io->stdin_fd >= 0, stdin_eof = false, write_shut = false;
    char out[IO_CHUNK];
    char *in = stdin_open ? zp_malloc(IO_CHUNK) : NULL;
    size_t in_len = 0, in_off = 0;
    int rc = 0;
    for (;;) {
        if (engine_cancelled(c->e)) {
            rc = engine__cancel_error(c->what, c->err);
            break;
        }
        if (stdin_eof && in_off == in_len && !write_shut) {
            /* The process sees the end of its input. */
            shutdown(c->fd, SHUT_WR);
            write_shut = true;
        }
        struct pollfd pf[3] = {
            {.fd = c->fd, .events = (short)(POLLIN | (in_off < in_len ? POLLOUT : 0))},
            {.fd = engine__cancel_fd(c->e), .events = POLLIN},
            {.fd = stdin_open && !stdin_eof && in_off == in_len ? io->stdin_fd : -1,
             .events = POLLIN},
        };
        int n = poll(pf, 3, 1000);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = zp_err_sys(c->err, "%s: waiting for the stream", c->what);
            break;
        }
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(c->fd, out, sizeof(out), 0);
            if (r == 0)
                break; /* the engine closed the stream: the process ended */
            if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                if (errno == ECONNRESET)
                    break;
                rc = zp_err_set(c->err, ZP_E_ENGINE, NULL, "%s: reading the stream: %s", c->what,
                                strerror(errno));
                break;
            }
            if (r > 0 && (rc = deliver(p, out, (size_t)r, c->err)) != 0)
                break;
        }
        if ((pf[0].revents & POLLOUT) && in_off < in_len) {
            ssize_t w = send(c->fd, in + in_off, in_len - in_off, MSG_NOSIGNAL);
            if (w > 0) {
                in_off += (size_t)w;
            } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                /* The other side stopped reading (the process ended): drop the input and
                 * read what output is left. */
                in_off = in_len;
                stdin_eof = true;
                write_shut = true;
            }
        }
        if (pf[2].fd >= 0 && (pf[2].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(io->stdin_fd, in, IO_CHUNK);
            if (r > 0) {
                in_len = (size_t)r;
                in_off = 0;
            } else if (r == 0 || errno == EIO) {
                stdin_eof = true;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                rc = zp_err_sys(c->err, "%s: reading the input", c->what);
                break;
            }
        }
    }
    free(in);
    if (rc == 0 && !io->tty)
        rc = engine_mux_finish(&p->mux, c->err);
    return rc;
}

int engine__hijack(struct engine *e, const struct engine__req *req,
                   const struct engine_stream_io *io, struct zp_err *err)
{
    int rc = engine__ensure_connected(e, err);
    if (rc != 0)
        return rc;
    struct conn c = {.e = e, .fd = -1, .what = req->what, .err = err};
    struct zp_buf head = ZP_BUF_INIT, in = ZP_BUF_INIT;
    struct pump p = {.io = io};
    engine_mux_init(&p.mux, 0, io->on_output, io->ctx);
    size_t body_len = req->body ? (req->body_len ? req->body_len : strlen(req->body)) : 0;
    int64_t deadline = zp_mono_ms() + engine__request_timeout_ms(e);

    zp_buf_addf(&head, "%s /v%s%s%s%s HTTP/1.1\r\n", req->method, engine_api_version(e), req->path,
                req->query && *req->query ? "?" : "", req->query ? req->query : "");
    zp_buf_addf(&head,
                "Host: %s\r\nUser-Agent: zpanel/" ZP_VERSION "\r\nConnection: Upgrade\r\n"
                "Upgrade: tcp\r\n",
                engine__socket_path(e) ? "localhost" : engine__base_url(e) + strlen("http://"));
    if (req->body)
        zp_buf_addf(&head, "Content-Type: application/json\r\n");
    zp_buf_addf(&head, "Content-Length: %zu\r\n\r\n", body_len);
    if (req->body)
        zp_buf_add(&head, req->body, body_len);

    if ((rc = dial(&c)) != 0 || (rc = send_all(&c, head.p, head.len, deadline)) != 0)
        goto out;

    /* the answer's head */
    char *end = NULL;
    while (!(end = in.p ? strstr(in.p, "\r\n\r\n") : NULL)) {
        ssize_t r = recv_some(&c, &in, MAX_HEAD, deadline);
        if (r < 0) {
            rc = (int)r;
            goto out;
        }
        if (r == 0) {
            rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: the engine closed the connection",
                            req->what);
            goto out;
        }
    }
    size_t head_len = (size_t)(end - in.p) + 4;
    long status = 0;
    int64_t clen = -1;
    bool chunked = false;
    if (engine__parse_response_head(in.p, head_len, &status, &clen, &chunked) != 0) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: malformed answer from the engine", req->what);
        goto out;
    }
    if (status != 101 && (status < 200 || status >= 300)) {
        rc = read_error(&c, status, clen, chunked, &in, head_len, deadline);
        goto out;
    }
    if (io->on_ready && (rc = io->on_ready(io->ctx, err)) != 0)
        goto out;
    if ((rc = deliver(&p, in.p + head_len, in.len - head_len, err)) != 0)
        goto out;
    rc = stream_loop(&c, &p);
out:
    if (rc > 0) /* a callback's clean stop */
        rc = 0;
    if (rc < 0 && err->code && !zp_str_has_prefix(err->msg, req->what))
        zp_err_prefix(err, "%s", req->what);
    if (c.fd >= 0)
        close(c.fd);
    engine_mux_release(&p.mux);
    zp_buf_release(&head);
    zp_buf_release(&in);
    return rc;
}

/* ---- the calls ---- */

int engine_exec_start(struct engine *e, const char *id, const struct engine_stream_io *io,
                      struct zp_err *err)
{
    struct zp_buf path = ZP_BUF_INIT;
    zp_buf_adds(&path, "/exec/");
    engine__escape(&path, id, false);
    zp_buf_adds(&path, "/start");
    char *what = zp_asprintf("running exec instance '%.12s'", id);
    char body[64];
    snprintf(body, sizeof(body), "{\"Detach\":%s,\"Tty\":%s}", io ? "false" : "true",
             io && io->tty ? "true" : "false");
    struct engine__req req = {
        .method = "POST", .path = zp_buf_cstr(&path), .body = body, .what = what};
    int rc;
    if (io) {
        rc = engine__hijack(e, &req, io, err);
    } else {
        long status = 0;
        rc = engine__request(e, &req, &status, NULL, err);
    }
    free(what);
    zp_buf_release(&path);
    return rc;
}

int engine_container_attach(struct engine *e, const char *id, const struct engine_attach_opts *opts,
                            const struct engine_stream_io *io, struct zp_err *err)
{
    static const struct engine_attach_opts defaults;
    if (!opts)
        opts = &defaults;
    struct zp_buf path = ZP_BUF_INIT, q = ZP_BUF_INIT;
    zp_buf_adds(&path, "/containers/");
    engine__escape(&path, id, false);
    zp_buf_adds(&path, "/attach");
    engine__query_add(&q, "stream", "1");
    engine__query_add(&q, "stdout", opts->no_stdout ? "0" : "1");
    engine__query_add(&q, "stderr", opts->no_stderr ? "0" : "1");
    if (io->stdin_fd >= 0)
        engine__query_add(&q, "stdin", "1");
    if (opts->logs)
        engine__query_add(&q, "logs", "1");
    if (opts->detach_keys)
        engine__query_add(&q, "detachKeys", opts->detach_keys);
    char *what = zp_asprintf("attaching to container '%s'", id);
    struct engine__req req = {
        .method = "POST", .path = zp_buf_cstr(&path), .query = zp_buf_cstr(&q), .what = what};
    int rc = engine__hijack(e, &req, io, err);
    free(what);
    zp_buf_release(&path);
    zp_buf_release(&q);
    return rc;
}

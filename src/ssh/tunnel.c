/* ssh/tunnel: a private unix socket whose connections are carried, each on its own SSH
 * channel, to the remote engine socket (direct-streamlocal), or through
 * `docker system dial-stdio` on an exec channel where the server refuses forwarding. One
 * thread per tunnel owns the libssh session; the engine client only sees a unix socket. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ssh-int.h"

#include "../util/banned.h"

#define MAX_PAIRS 256
#define IO_CHUNK 32768
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
#define DIAL_STDIO "docker system dial-stdio"
#define MAX_LISTENERS 8 /* the engine's socket and forwarded directories' sockets */

/* A local socket and what its connections reach: the engine (remote NULL) or a unix
 * socket on the server. */
struct listener {
    int fd;
    char *remote; /* the server's socket path, or NULL: the engine */
    char *path;   /* the local socket */
};

/* One accepted connection and its channel. */
struct pair {
    int fd;
    ssh_channel ch;
    bool client_eof; /* the local side closed its writing half; EOF sent on the channel */
    bool chan_eof;   /* the channel sent EOF; the local socket's writing half is shut */
    bool exec;       /* a dial-stdio channel */
};

struct ssh_tunnel {
    char *url;
    char *label;
    char *name; /* the registered server's name, or NULL */
    bool registered;
    char *known_hosts;
    char *identity;
    long timeout_ms;
    struct ssh_conn *conn; /* owned by the thread once it runs; NULL while down */
    char *dir;
    char *sock;
    char *host;
    int listen_fd;
    int stop_pipe[2]; /* a byte: look at stopping (and at new listeners) */
    bool stopping;    /* guarded by mu */
    /* more listeners (ssh_tunnel_forward_dir), guarded by mu; the thread reads them */
    struct listener fwd[MAX_LISTENERS];
    size_t nfwd;
    size_t nfwd_dirs;
    /* held by the thread while it uses the session (not while it polls), and by
     * ssh_tunnel_with_conn's callers */
    pthread_mutex_t sess_mu;
    pthread_t thread;
    bool started;
    bool use_exec;        /* forwarding was refused: every new connection uses dial-stdio */
    int64_t retry_at_ms;  /* no reconnect before this (backoff) */
    int64_t backoff_ms;   /* next backoff */
    int64_t keepalive_ms; /* next keepalive */
    struct pair pairs[MAX_PAIRS];
    size_t npairs;
    pthread_mutex_t mu; /* guards error and fallback */
    char *error;        /* guarded by mu */
    char *lost;         /* why the session was lost, until it is back (thread only) */
    bool fallback;      /* guarded by mu */
};

static void set_error(struct ssh_tunnel *t, const char *fmt, ...) ZP_PRINTF(2, 3);

static void set_error(struct ssh_tunnel *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = zp_vasprintf(fmt, ap);
    va_end(ap);
    char *full = zp_asprintf("server '%s': %s", t->label, msg);
    free(msg);
    pthread_mutex_lock(&t->mu);
    free(t->error);
    t->error = full;
    pthread_mutex_unlock(&t->mu);
}

static void pair_close(struct ssh_tunnel *t, size_t i)
{
    struct pair *p = &t->pairs[i];
    close(p->fd);
    if (p->ch) {
        if (t->conn && ssh_is_connected(t->conn->session))
            ssh_channel_close(p->ch);
        ssh_channel_free(p->ch);
    }
    t->pairs[i] = t->pairs[--t->npairs];
}

/* The session is gone: close every connection so that no engine call waits for it. */
static void session_lost(struct ssh_tunnel *t, const char *why)
{
    free(t->lost);
    t->lost = zp_asprintf("the SSH connection to %s was lost: %s", t->conn->where, why);
    set_error(t, "%s", t->lost);
    while (t->npairs > 0) {
        struct pair *p = &t->pairs[t->npairs - 1];
        close(p->fd);
        ssh_channel_free(p->ch);
        t->npairs--;
    }
    ssh_conn_free(t->conn);
    t->conn = NULL;
    t->retry_at_ms = 0;
}

static int reconnect(struct ssh_tunnel *t)
{
    int64_t now = zp_mono_ms();
    if (now < t->retry_at_ms)
        return -1;
    struct ssh_connect_opts o = {
        .known_hosts = t->known_hosts,
        .identity = t->identity,
        .timeout_ms = t->timeout_ms,
        .name = t->name,
        .registered = t->registered,
    };
    struct zp_err err;
    zp_err_init(&err);
    if (ssh_conn_open(t->url, &o, &t->conn, &err) != 0) {
        if (t->lost)
            set_error(t, "%s; reconnecting: %s", t->lost, err.msg);
        else
            set_error(t, "%s", err.msg);
        t->retry_at_ms = zp_mono_ms() + t->backoff_ms;
        t->backoff_ms = t->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : t->backoff_ms * 2;
        return -1;
    }
    t->backoff_ms = BACKOFF_MIN_MS;
    free(t->lost);
    t->lost = NULL;
    return 0;
}

/* Open the channel of a new connection: forwarding, else dial-stdio. remote: a socket
 * on the server other than the engine's (forwarding only), or NULL. */
static ssh_channel open_channel(struct ssh_tunnel *t, const char *remote, bool *ret_exec)
{
    ssh_session s = t->conn->session;
    if (remote) {
        ssh_channel ch = ssh_channel_new(s);
        if (ch && ssh_channel_open_forward_unix(ch, remote, "127.0.0.1", 0) == SSH_OK) {
            *ret_exec = false;
            return ch;
        }
        if (ch)
            ssh_channel_free(ch);
        if (!ssh_is_connected(s))
            session_lost(t, ssh_get_error(s));
        else
            set_error(t, "%s: forwarding to %s was refused: %s", t->conn->where, remote,
                      ssh_get_error(s));
        return NULL;
    }
    if (!t->use_exec) {
        ssh_channel ch = ssh_channel_new(s);
        if (ch &&
            ssh_channel_open_forward_unix(ch, SSH_REMOTE_DOCKER_SOCK, "127.0.0.1", 0) == SSH_OK) {
            *ret_exec = false;
            return ch;
        }
        if (ch)
            ssh_channel_free(ch);
        if (!ssh_is_connected(s)) {
            session_lost(t, ssh_get_error(s));
            return NULL;
        }
        /* refused (AllowStreamLocalForwarding no, or a socket we may not open) */
        t->use_exec = true;
        pthread_mutex_lock(&t->mu);
        t->fallback = true;
        pthread_mutex_unlock(&t->mu);
    }
    ssh_channel ch = ssh_channel_new(s);
    if (ch && ssh_channel_open_session(ch) == SSH_OK &&
        ssh_channel_request_exec(ch, DIAL_STDIO) == SSH_OK) {
        *ret_exec = true;
        return ch;
    }
    if (ch)
        ssh_channel_free(ch);
    if (!ssh_is_connected(s))
        session_lost(t, ssh_get_error(s));
    else
        set_error(t,
                  "%s: cannot reach the engine: forwarding to %s was refused and '%s' "
                  "could not be started: %s",
                  t->conn->where, SSH_REMOTE_DOCKER_SOCK, DIAL_STDIO, ssh_get_error(s));
    return NULL;
}

static void on_accept(struct ssh_tunnel *t, int listen_fd, const char *remote)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    if (t->npairs >= MAX_PAIRS) {
        set_error(t, "more than %d engine connections at once", MAX_PAIRS);
        close(fd);
        return;
    }
    if (!t->conn && reconnect(t) != 0) {
        close(fd);
        return;
    }
    bool exec = false;
    ssh_channel ch = open_channel(t, remote, &exec);
    if (!ch) {
        close(fd);
        return;
    }
    struct pair *p = &t->pairs[t->npairs++];
    memset(p, 0, sizeof(*p));
    p->fd = fd;
    p->ch = ch;
    p->exec = exec;
}

/* Move what the client wrote onto its channel. Returns false when the pair is done. */
static bool pump_client(struct ssh_tunnel *t, struct pair *p)
{
    char buf[IO_CHUNK];
    ssize_t n = read(p->fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0) {
        p->client_eof = true;
        ssh_channel_send_eof(p->ch);
        return !p->chan_eof;
    }
    if (ssh_channel_write(p->ch, buf, (uint32_t)n) == SSH_ERROR) {
        if (!ssh_is_connected(t->conn->session))
            session_lost(t, ssh_get_error(t->conn->session));
        return false;
    }
    return true;
}

/* Move what the channel holds to the client. Returns false when the pair is done. */
static bool pump_channel(struct ssh_tunnel *t, struct pair *p)
{
    char buf[IO_CHUNK];
    for (int stream = 0; stream < 2; stream++) {
        for (;;) {
            int avail = ssh_channel_poll(p->ch, stream);
            if (avail == SSH_ERROR) {
                if (!ssh_is_connected(t->conn->session))
                    session_lost(t, ssh_get_error(t->conn->session));
                return false;
            }
            if (avail == SSH_EOF) {
                if (stream == 0 && !p->chan_eof) {
                    p->chan_eof = true;
                    shutdown(p->fd, SHUT_WR);
                }
                break;
            }
            if (avail <= 0)
                break;
            uint32_t want = (uint32_t)avail < sizeof(buf) ? (uint32_t)avail : sizeof(buf);
            int n = ssh_channel_read_nonblocking(p->ch, buf, want, stream);
            if (n == SSH_ERROR) {
                if (!ssh_is_connected(t->conn->session))
                    session_lost(t, ssh_get_error(t->conn->session));
                return false;
            }
            if (n <= 0)
                break;
            if (stream == 1) { /* dial-stdio's complaints: keep the last for the error */
                set_error(t, "%s: %.*s", DIAL_STDIO,
                          (int)strcspn(buf, "\n") < n ? (int)strcspn(buf, "\n") : n, buf);
                continue;
            }
            if (zp_write_all(p->fd, buf, (size_t)n) != 0)
                return false; /* the client went away */
        }
    }
    if (ssh_channel_is_closed(p->ch))
        return false;
    return !(p->chan_eof && p->client_eof);
}

static void *tunnel_main(void *arg)
{
    struct ssh_tunnel *t = arg;
    struct pollfd pfd[MAX_PAIRS + 3 + MAX_LISTENERS];
    struct listener fwd[MAX_LISTENERS];
    pthread_mutex_lock(&t->sess_mu);
    for (;;) {
        pthread_mutex_lock(&t->mu);
        bool stopping = t->stopping;
        size_t nfwd = t->nfwd;
        memcpy(fwd, t->fwd, nfwd * sizeof(*fwd));
        pthread_mutex_unlock(&t->mu);
        if (stopping)
            break;
        size_t n = 0;
        pfd[n++] = (struct pollfd){.fd = t->stop_pipe[0], .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = t->listen_fd, .events = POLLIN};
        pfd[n++] =
            (struct pollfd){.fd = t->conn ? ssh_get_fd(t->conn->session) : -1, .events = POLLIN};
        for (size_t i = 0; i < t->npairs; i++)
            pfd[n++] = (struct pollfd){.fd = t->pairs[i].client_eof ? -1 : t->pairs[i].fd,
                                       .events = POLLIN};
        /* libssh may hold data read while serving another channel: look often while busy */
        for (size_t i = 0; i < nfwd; i++)
            pfd[3 + t->npairs + i] = (struct pollfd){.fd = fwd[i].fd, .events = POLLIN};
        n += nfwd;
        int timeout = t->npairs > 0 ? 20 : 1000;
        pthread_mutex_unlock(&t->sess_mu);
        int rc = poll(pfd, n, timeout);
        pthread_mutex_lock(&t->sess_mu);
        if (rc < 0 && errno != EINTR)
            break;
        if (pfd[0].revents) {
            char b[16];
            ssize_t nr = read(t->stop_pipe[0], b, sizeof(b));
            (void)nr;
            continue;
        }
        if (t->conn && (pfd[2].revents & (POLLERR | POLLHUP)) && !(pfd[2].revents & POLLIN)) {
            session_lost(t, "the connection was closed");
            continue;
        }
        size_t npairs = t->npairs;
        bool fwd_ready[MAX_LISTENERS];
        for (size_t i = 0; i < nfwd; i++)
            fwd_ready[i] = pfd[3 + npairs + i].revents & POLLIN;
        for (size_t i = npairs; i-- > 0;) {
            if (!t->conn)
                break;
            if (i < t->npairs && pfd[3 + i].revents && !pump_client(t, &t->pairs[i])) {
                if (t->conn)
                    pair_close(t, i);
                continue;
            }
            if (t->conn && i < t->npairs && !pump_channel(t, &t->pairs[i]) && t->conn)
                pair_close(t, i);
        }
        if (t->conn && !ssh_is_connected(t->conn->session)) {
            session_lost(t, ssh_get_error(t->conn->session));
            continue;
        }
        int64_t now = zp_mono_ms();
        if (t->conn && now >= t->keepalive_ms) {
            t->keepalive_ms = now + SSH_KEEPALIVE_MS;
            if (ssh_send_ignore(t->conn->session, "") != SSH_OK) {
                session_lost(t, ssh_get_error(t->conn->session));
                continue;
            }
        }
        if (pfd[1].revents & POLLIN)
            on_accept(t, t->listen_fd, NULL);
        for (size_t i = 0; i < nfwd; i++)
            if (fwd_ready[i])
                on_accept(t, fwd[i].fd, fwd[i].remote);
    }
    while (t->npairs > 0)
        pair_close(t, t->npairs - 1);
    pthread_mutex_unlock(&t->sess_mu);
    return NULL;
}

int ssh_tunnel_open(const char *url, const char *label, const struct ssh_connect_opts *opts,
                    struct ssh_tunnel **ret, struct zp_err *err)
{
    struct ssh_tunnel *t = zp_calloc(1, sizeof(*t));
    t->url = zp_strdup(url);
    t->label = zp_strdup(label ? label : url);
    t->known_hosts = zp_strdup(opts->known_hosts);
    t->identity = zp_strdup(opts->identity);
    t->timeout_ms = opts->timeout_ms;
    t->name = opts->name ? zp_strdup(opts->name) : NULL;
    t->registered = opts->registered;
    t->listen_fd = -1;
    t->stop_pipe[0] = t->stop_pipe[1] = -1;
    t->backoff_ms = BACKOFF_MIN_MS;
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_init(&t->sess_mu, NULL);
    int rc = ssh_conn_open(url, opts, &t->conn, err);
    if (rc != 0) {
        zp_err_prefix(err, "server '%s'", t->label);
        goto fail;
    }
    t->keepalive_ms = zp_mono_ms() + SSH_KEEPALIVE_MS;
    const char *tmp = getenv("TMPDIR");
    /* the prefix tells engine_is_local that this socket's engine is another machine's */
    char *templ = zp_asprintf("%s/" ZP_TUNNEL_DIR_PREFIX "XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(templ)) {
        rc = zp_err_sys(err, "creating a directory from '%s'", templ);
        free(templ);
        goto fail;
    }
    t->dir = templ;
    t->sock = zp_path_join(t->dir, "docker.sock");
    t->host = zp_asprintf("unix://%s", t->sock);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(t->sock) >= sizeof(sa.sun_path)) {
        rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "socket path '%s' is too long", t->sock);
        goto fail;
    }
    memcpy(sa.sun_path, t->sock, strlen(t->sock) + 1);
    t->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t->listen_fd < 0 || bind(t->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(t->listen_fd, 64) != 0) {
        rc = zp_err_sys(err, "listening on '%s'", t->sock);
        goto fail;
    }
    if (pipe2(t->stop_pipe, O_CLOEXEC) != 0) {
        rc = zp_err_sys(err, "creating a pipe");
        goto fail;
    }
    int prc = pthread_create(&t->thread, NULL, tunnel_main, t);
    if (prc != 0) {
        errno = prc;
        rc = zp_err_sys(err, "creating the tunnel's thread");
        goto fail;
    }
    t->started = true;
    *ret = t;
    return 0;
fail:
    ssh_tunnel_free(t);
    return rc;
}

int ssh_tunnel_forward_dir(struct ssh_tunnel *t, const char *remote_dir, const char *const *names,
                           size_t n, char **ret_dir, struct zp_err *err)
{
    *ret_dir = NULL;
    pthread_mutex_lock(&t->mu);
    size_t have = t->nfwd, ndirs = t->nfwd_dirs++;
    pthread_mutex_unlock(&t->mu);
    if (have + n > MAX_LISTENERS)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "more than %d forwarded sockets", MAX_LISTENERS);
    char *dir = zp_asprintf("%s/f%zu", t->dir, ndirs);
    if (mkdir(dir, 0700) != 0) {
        int rc = zp_err_sys(err, "creating '%s'", dir);
        free(dir);
        return rc;
    }
    struct listener add[MAX_LISTENERS];
    size_t nadd = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        char *path = zp_path_join(dir, names[i]);
        int fd = -1;
        if (strlen(path) >= sizeof(sa.sun_path)) {
            rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "socket path '%s' is too long", path);
        } else {
            memcpy(sa.sun_path, path, strlen(path) + 1);
            fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0)
                rc = zp_err_sys(err, "listening on '%s'", path);
        }
        if (rc != 0) {
            if (fd >= 0)
                close(fd);
            free(path);
            break;
        }
        add[nadd++] = (struct listener){fd, zp_path_join(remote_dir, names[i]), path};
    }
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < nadd; i++)
        t->fwd[t->nfwd++] = add[i];
    pthread_mutex_unlock(&t->mu);
    char b = 1; /* the thread polls the new sockets from now on */
    ssize_t nw = write(t->stop_pipe[1], &b, 1);
    (void)nw;
    if (rc == 0)
        *ret_dir = dir;
    else
        free(dir);
    return rc;
}

int ssh_tunnel_with_conn(struct ssh_tunnel *t,
                         int (*fn)(struct ssh_conn *c, void *arg, struct zp_err *err), void *arg,
                         struct zp_err *err)
{
    pthread_mutex_lock(&t->sess_mu);
    int rc = 0;
    if (!t->conn) {
        t->retry_at_ms = 0;
        if (reconnect(t) != 0) {
            char *e = ssh_tunnel_error(t);
            rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s", e ? e : "no SSH connection");
            free(e);
        }
    }
    if (rc == 0)
        rc = fn(t->conn, arg, err);
    pthread_mutex_unlock(&t->sess_mu);
    return rc;
}

const char *ssh_tunnel_host(const struct ssh_tunnel *t)
{
    return t->host;
}

char *ssh_tunnel_error(struct ssh_tunnel *t)
{
    pthread_mutex_lock(&t->mu);
    char *e = t->error ? zp_strdup(t->error) : NULL;
    pthread_mutex_unlock(&t->mu);
    return e;
}

bool ssh_tunnel_used_fallback(struct ssh_tunnel *t)
{
    pthread_mutex_lock(&t->mu);
    bool f = t->fallback;
    pthread_mutex_unlock(&t->mu);
    return f;
}

void ssh_tunnel_free(struct ssh_tunnel *t)
{
    if (!t)
        return;
    if (t->started) {
        pthread_mutex_lock(&t->mu);
        t->stopping = true;
        pthread_mutex_unlock(&t->mu);
        char b = 1;
        ssize_t n = write(t->stop_pipe[1], &b, 1);
        (void)n;
        pthread_join(t->thread, NULL);
    }
    if (t->listen_fd >= 0)
        close(t->listen_fd);
    for (int i = 0; i < 2; i++)
        if (t->stop_pipe[i] >= 0)
            close(t->stop_pipe[i]);
    if (t->sock)
        unlink(t->sock);
    for (size_t i = 0; i < t->nfwd; i++) {
        close(t->fwd[i].fd);
        unlink(t->fwd[i].path);
        free(t->fwd[i].path);
        free(t->fwd[i].remote);
    }
    for (size_t i = 0; i < t->nfwd_dirs; i++) {
        char *d = zp_asprintf("%s/f%zu", t->dir, i);
        rmdir(d);
        free(d);
    }
    if (t->dir)
        rmdir(t->dir);
    ssh_conn_free(t->conn);
    pthread_mutex_destroy(&t->mu);
    pthread_mutex_destroy(&t->sess_mu);
    free(t->error);
    free(t->lost);
    free(t->url);
    free(t->label);
    free(t->name);
    free(t->known_hosts);
    free(t->identity);
    free(t->dir);
    free(t->sock);
    free(t->host);
    free(t);
}

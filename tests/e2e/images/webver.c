/* webver: a tiny HTTP/1.1 server for the rollout tests, built statically into an image
 * FROM scratch (tests/e2e/lib-webver.sh). Keep-alive; one thread per connection.
 *   GET /        200, body "$VERSION\n"
 *   GET /up      200 "ok\n", or 500 when FAIL_HEALTH=1
 *   GET /slow?s=N  answers "$VERSION\n" after N seconds (N <= 60)
 * On SIGTERM it stops accepting, closes idle keep-alive connections, lets requests in
 * flight finish (answered with Connection: close), then exits 0.
 * `webver -probe PATH` is a health-check client: GET 127.0.0.1:$PORT PATH, exit 0 on 200.
 * Environment: PORT (default 8080), VERSION (default "v0"), FAIL_HEALTH. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQ_MAX 8192

static atomic_bool stopping;
static atomic_int nconns;
static int sig_pipe[2] = {-1, -1};
static const char *version = "v0";
static int fail_health;

static void on_term(int sig)
{
    (void)sig;
    int saved = errno;
    if (write(sig_pipe[1], "x", 1) < 0) {
        /* nothing to do: the pipe is full, so a wake-up is already pending */
    }
    errno = saved;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int respond(int fd, int status, const char *body, bool close_after)
{
    char head[256];
    const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : "Error";
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: %s\r\n\r\n",
                     status, reason, strlen(body), close_after ? "close" : "keep-alive");
    if (write_all(fd, head, (size_t)n) < 0)
        return -1;
    return write_all(fd, body, strlen(body));
}

/* Seconds from "/slow?s=N", 0..60. */
static unsigned slow_seconds(const char *target)
{
    const char *q = strstr(target, "s=");
    unsigned s = 0;
    for (q = q ? q + 2 : ""; *q >= '0' && *q <= '9' && s <= 60; q++)
        s = s * 10 + (unsigned)(*q - '0');
    return s > 60 ? 60 : s;
}

static bool header_says_close(const char *req)
{
    const char *h = strcasestr(req, "\r\nconnection:");
    if (h == NULL)
        return strstr(req, "HTTP/1.0") != NULL;
    h += strlen("\r\nconnection:");
    while (*h == ' ')
        h++;
    return strncasecmp(h, "close", 5) == 0;
}

/* Answer one complete request (head in req); returns -1 to close the connection. */
static int handle(int fd, char *req)
{
    char method[16], target[1024];
    char *sp1 = strchr(req, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 == NULL || sp2 == NULL || (size_t)(sp1 - req) >= sizeof(method) ||
        (size_t)(sp2 - sp1 - 1) >= sizeof(target)) {
        respond(fd, 400, "bad request\n", true);
        return -1;
    }
    memcpy(method, req, (size_t)(sp1 - req));
    method[sp1 - req] = '\0';
    memcpy(target, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    target[sp2 - sp1 - 1] = '\0';
    bool close_after = header_says_close(req);

    char body[256];
    int status = 200;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        status = 404;
        snprintf(body, sizeof(body), "no such method\n");
    } else if (strcmp(target, "/up") == 0) {
        status = fail_health ? 500 : 200;
        snprintf(body, sizeof(body), "%s\n", fail_health ? "failing (FAIL_HEALTH=1)" : "ok");
        if (fail_health)
            printf("webver %s: /up answered 500 (FAIL_HEALTH=1)\n", version);
    } else if (strncmp(target, "/slow", 5) == 0) {
        unsigned s = slow_seconds(target);
        struct timespec ts = {.tv_sec = s};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        snprintf(body, sizeof(body), "%s\n", version);
    } else if (strcmp(target, "/") == 0 || target[0] == '/') {
        status = strcmp(target, "/") == 0 ? 200 : 404;
        snprintf(body, sizeof(body), "%s\n", status == 200 ? version : "not found");
    }
    if (atomic_load(&stopping))
        close_after = true;
    if (respond(fd, status, body, close_after) < 0 || close_after)
        return -1;
    return 0;
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[REQ_MAX + 1];
    size_t len = 0;
    for (;;) {
        char *end = NULL;
        buf[len] = '\0';
        if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
            size_t used = (size_t)(end + 4 - buf);
            char c = buf[used];
            buf[used] = '\0';
            int r = handle(fd, buf);
            buf[used] = c;
            memmove(buf, buf + used, len - used);
            len -= used;
            if (r < 0)
                break;
            continue;
        }
        if (len == REQ_MAX)
            break;
        /* idle or partial: wake up regularly to notice SIGTERM; an idle connection is
         * closed then, a partial request is still read and answered */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, 100);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr <= 0) {
            if (atomic_load(&stopping) && len == 0)
                break;
            continue;
        }
        ssize_t n = recv(fd, buf + len, REQ_MAX - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    atomic_fetch_sub(&nconns, 1);
    return NULL;
}

/* $PORT, or 8080 when unset or not a port number. */
static int env_port(void)
{
    const char *s = getenv("PORT");
    long v = 0;
    for (; s != NULL && *s >= '0' && *s <= '9' && v <= 65535; s++)
        v = v * 10 + (*s - '0');
    return s != NULL && *s == '\0' && v > 0 && v <= 65535 ? (int)v : 8080;
}

static int probe(const char *path)
{
    int port = env_port();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return 1;
    char req[1200];
    int n =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    if (n < 0 || (size_t)n >= sizeof(req) || write_all(fd, req, (size_t)n) < 0)
        return 1;
    char resp[64] = "";
    ssize_t r = recv(fd, resp, sizeof(resp) - 1, 0);
    close(fd);
    return r > 12 && strncmp(resp + 9, "200", 3) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "-probe") == 0)
        return probe(argv[2]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *v = getenv("VERSION");
    if (v != NULL && v[0] != '\0')
        version = v;
    const char *fh = getenv("FAIL_HEALTH");
    fail_health = fh != NULL && strcmp(fh, "1") == 0;
    int port = env_port();

    if (pipe2(sig_pipe, O_CLOEXEC) < 0)
        return 1;
    struct sigaction sa = {.sa_handler = on_term};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 512) < 0) {
        perror("webver: listen");
        return 1;
    }
    printf("webver %s listening on :%d%s\n", version, port,
           fail_health ? " (FAIL_HEALTH=1: /up answers 500)" : "");

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (;;) {
        struct pollfd p[2] = {{.fd = ls, .events = POLLIN}, {.fd = sig_pipe[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        atomic_fetch_add(&nconns, 1);
        pthread_t t;
        if (pthread_create(&t, &attr, conn_main, (void *)(intptr_t)c) != 0) {
            close(c);
            atomic_fetch_sub(&nconns, 1);
        }
    }
    close(ls);
    atomic_store(&stopping, true);
    printf("webver %s: SIGTERM, draining %d connection(s)\n", version, atomic_load(&nconns));
    for (int i = 0; i < 700 && atomic_load(&nconns) > 0; i++) {
        struct timespec ts = {.tv_nsec = 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    printf("webver %s: stopped\n", version);
    return 0;
}

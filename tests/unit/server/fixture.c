/* What the server suites share (fixture.h): the server fixture and raw requests. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "server/server-int.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int srvt_setup_dir(void **state)
{
    struct srvt_fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/zp-unit-server-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

int srvt_setup_server(void **state)
{
    if (srvt_setup_dir(state) != 0)
        return -1;
    struct srvt_fixture *f = *state;
    struct zp_err err;
    zp_err_init(&err);
    if (server_user_add(f->dir, "root", "admin", "password1", &err) != 0 ||
        server_user_add(f->dir, "val", "viewer", "password2", &err) != 0 ||
        server_user_add(f->dir, "mo", "member", "password3", &err) != 0 ||
        server_token_create(f->dir, "root", "admin", 0, &f->admin, &err) != 0 ||
        server_token_create(f->dir, "val", "read", 3600, &f->reader, &err) != 0 ||
        server_token_create(f->dir, "mo", "write", 0, &f->member, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    struct server_opts o = {
        .listen = "127.0.0.1:0", .state_dir = f->dir, .workers = 1, .quiet = true};
    if (server_start(&o, &f->s, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    return 0;
}

int srvt_teardown(void **state)
{
    struct srvt_fixture *f = *state;
    server_free(f->s);
    free(f->admin);
    free(f->reader);
    free(f->member);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

struct srvt_reply srvt_request(struct srvt_fixture *f, const char *method, const char *path,
                               const char *token, const char *body)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port(f->s))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char *auth = token ? zp_asprintf("Authorization: Bearer %s\r\n", token) : zp_strdup("");
    char *req = zp_asprintf("%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s"
                            "Content-Length: %zu\r\n\r\n%s",
                            method, path, auth, body ? strlen(body) : 0, body ? body : "");
    size_t off = 0, len = strlen(req);
    while (off < len) {
        ssize_t w = write(fd, req + off, len - off);
        if (w <= 0)
            break; /* the server may answer (413) and close before reading everything */
        off += (size_t)w;
    }
    struct zp_buf in = ZP_BUF_INIT;
    char buf[4096];
    ssize_t r;
    while ((r = read(fd, buf, sizeof(buf))) > 0)
        zp_buf_add(&in, buf, (size_t)r);
    close(fd);
    free(auth);
    free(req);
    struct srvt_reply rep = {0, NULL, NULL};
    const char *all = zp_buf_cstr(&in);
    const char *sep = strstr(all, "\r\n\r\n");
    assert_non_null(sep);
    rep.head = zp_strndup(all, (size_t)(sep - all));
    rep.body = zp_strdup(sep + 4);
    int64_t st;
    char code[4] = {all[9], all[10], all[11], 0};
    assert_int_equal(zp_parse_int64(code, 100, 599, &st), 0);
    rep.status = (int)st;
    zp_buf_release(&in);
    return rep;
}

void srvt_reply_free(struct srvt_reply *r)
{
    free(r->head);
    free(r->body);
}

/* What the server suites share: a state directory with three accounts and a server on a
 * loopback port (cmocka setup and teardown functions), and raw HTTP/1.1 requests to it. */
#ifndef ZP_TEST_SERVER_FIXTURE_H
#define ZP_TEST_SERVER_FIXTURE_H

struct server;

struct srvt_fixture {
    char dir[64]; /* the state directory (removed by srvt_teardown) */
    struct server *s;
    /* tokens (srvt_setup_server): root (admin, scope admin), val (viewer, scope read,
     * expiring in an hour), mo (member, scope write) */
    char *admin, *reader, *member;
};

/* *state: a fixture with a fresh state directory only. */
int srvt_setup_dir(void **state);
/* *state: a fixture with the accounts and the server started on 127.0.0.1 (any port). */
int srvt_setup_server(void **state);
/* Stop the server, remove the directory, free the fixture. */
int srvt_teardown(void **state);

struct srvt_reply {
    int status;
    char *head; /* the status line and headers */
    char *body;
};

/* One request (Connection: close), with "Authorization: Bearer TOKEN" unless token is NULL
 * and body as its content (NULL: none); fails the test when no HTTP answer comes. */
struct srvt_reply srvt_request(struct srvt_fixture *f, const char *method, const char *path,
                               const char *token, const char *body);
void srvt_reply_free(struct srvt_reply *r);

#endif

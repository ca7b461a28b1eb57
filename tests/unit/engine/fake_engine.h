/* A fake Docker engine for the engine client's unit tests: a thread per connection on a
 * unix socket serving recorded answers (tests/data/engine/) and keeping the exact
 * requests it received (chunked uploads decoded), so paths, queries and bodies are
 * checked too. It also plays hijacked streams and streams that never end. */
#ifndef ZP_TEST_FAKE_ENGINE_H
#define ZP_TEST_FAKE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/engine-int.h"

enum fake_mode {
    FAKE_PLAIN,   /* the body with a Content-Length */
    FAKE_UPGRADE, /* "101 UPGRADED", the body as the raw stream, then close */
    FAKE_ECHO,    /* "101 UPGRADED", the body, then every byte the client sends back as
                   * stdout frames until it shuts its side, then a stderr frame "eof\n" */
    FAKE_HOLD,    /* a chunked answer: the body as one chunk, then nothing until the
                   * client closes the connection */
};

struct route {
    const char *method;
    const char *target; /* exact request target, with query */
    int status;
    const char *file; /* body from tests/data/engine/, or NULL */
    const char *body; /* literal body when file is NULL */
    enum fake_mode mode;
};

#define FAKE_API_HEADERS "Api-Version: 1.41\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\n"

#define N(a) (sizeof(a) / sizeof((a)[0]))
/* What engine_connect asks: GET /_ping, whose headers say the API version (1.41). */
#define VERSION_ROUTE                                                                              \
    {                                                                                              \
        "GET", "/_ping", 200, NULL, "OK", FAKE_PLAIN                                               \
    }

/* cmocka group setup / teardown: engine_global_init, the socket and its thread. */
int fake_start(void **state);
int fake_stop(void **state);
/* Install routes (kept by pointer) and clear the request log and counters; plain
 * answers carry FAKE_API_HEADERS again. */
void fake_routes(const struct route *routes, size_t n);
/* Header lines ("Name: value\r\n" each, borrowed) plain answers carry instead of
 * FAKE_API_HEADERS, until the next fake_routes. */
void fake_headers(const char *headers);
/* The requests so far, "METHOD TARGET BODY\n" each; METHOD gets "+upgrade" when the
 * request carried "Upgrade: tcp". */
char *fake_log(void);
/* The body of the last request (chunked uploads decoded; binary, NUL-terminated, owned)
 * and its Content-Type ("" when none, owned). */
char *fake_last_body(size_t *ret_len);
char *fake_last_content_type(void);
/* Connections accepted since fake_routes. */
int fake_connections(void);
/* When > 0, answer every request with this many spaces. */
void fake_big_response(size_t n);
/* The fake's address as engine_new and orch_new take it ("unix:///tmp/.../docker.sock"). */
const char *fake_host(void);
/* A new engine talking to the fake. */
struct engine *fake_engine(void);
/* A test data file (aborts when missing). */
char *fake_data(const char *name, size_t *ret_len);

#endif

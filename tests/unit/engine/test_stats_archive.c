/* Unit tests for resource usage (stats documents of cgroup v1 and v2, one sample, the
 * stream), the archive API (a tar streamed out, a tar uploaded chunked) and the dangling
 * image list, against recorded answers and the fake engine (fake_engine.h). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine-int.h"
#include "fake_engine.h"
#include "util/util.h"

#define V1_READ_S 1795473554LL /* 2026-11-23T22:39:14Z */
#define V2_READ_S 1795473667LL /* 2026-11-23T22:41:07Z */

static void assert_log(const char *expected)
{
    char *log = fake_log();
    assert_string_equal(log, expected);
    free(log);
}

static void parse_file(const char *name, struct engine_stats *ret)
{
    struct zp_err err;
    zp_err_init(&err);
    size_t len = 0;
    char *json = fake_data(name, &len);
    assert_int_equal(engine_stats_parse(json, len, ret, &err), 0);
    free(json);
}

static void assert_v1(const struct engine_stats *s)
{
    assert_int_equal(s->read_ns, V1_READ_S * 1000000000 + 163699542);
    assert_int_equal(s->cpu_total, 73447028);
    assert_int_equal(s->system_cpu, 19117180000000ULL);
    assert_int_equal(s->online_cpus, 2);
    assert_int_equal(s->pre_cpu_total, 61478813);
    assert_int_equal(s->pre_system_cpu, 19115180000000ULL);
    assert_int_equal(s->mem_usage, 1347584);
    assert_int_equal(s->mem_cache, 90112); /* total_inactive_file */
    assert_int_equal(s->mem_limit, 67108864);
    assert_int_equal(s->net_rx, 1042 + 2204); /* eth0 + eth1 */
    assert_int_equal(s->net_tx, 0 + 1062);
    assert_int_equal(s->blk_read, 1269760 + 4096); /* "Read" of two devices */
    assert_int_equal(s->blk_write, 8192);
    assert_int_equal(s->pids, 1);
}

/* ---- parsing ---- */

static void test_stats_parse_v1(void **state)
{
    (void)state;
    struct engine_stats s;
    parse_file("stats_v1.json", &s);
    assert_v1(&s);

    /* an engine without online_cpus: the length of percpu_usage */
    struct zp_err err;
    zp_err_init(&err);
    const char *old = "{\"read\":\"2026-11-23T22:39:14Z\",\"cpu_stats\":{\"cpu_usage\":"
                      "{\"total_usage\":400,\"percpu_usage\":[100,100,100,100]},"
                      "\"system_cpu_usage\":9000},\"memory_stats\":{\"usage\":10,"
                      "\"stats\":{\"cache\":7,\"inactive_file\":5,\"total_inactive_file\":6}}}";
    assert_int_equal(engine_stats_parse(old, strlen(old), &s, &err), 0);
    assert_int_equal(s.online_cpus, 4);
    assert_int_equal(s.cpu_total, 400);
    assert_int_equal(s.read_ns, V1_READ_S * 1000000000);
    assert_int_equal(s.mem_cache, 6);
    /* no networks (network_mode none), no blkio, no pids: zeros */
    assert_int_equal(s.net_rx + s.net_tx + s.blk_read + s.blk_write + s.pids, 0);
}

static void test_stats_parse_v2(void **state)
{
    (void)state;
    struct engine_stats s;
    parse_file("stats_v2.json", &s);
    assert_int_equal(s.read_ns, V2_READ_S * 1000000000 + 512300000);
    assert_int_equal(s.cpu_total, 2960342000ULL);
    assert_int_equal(s.online_cpus, 4);
    assert_int_equal(s.pre_cpu_total, 2950118000ULL);
    /* pids_stats.limit is 2^64-1: the document is read with reals, these stay exact
     * enough (a double holds them within 64) */
    assert_true(s.system_cpu >= 551234567890123456ULL - 64 &&
                s.system_cpu <= 551234567890123456ULL + 64);
    assert_true(s.pre_system_cpu >= 551234563890123456ULL - 64 &&
                s.pre_system_cpu <= 551234563890123456ULL + 64);
    assert_int_equal(s.mem_usage, 24985600);
    assert_int_equal(s.mem_cache, 7368704); /* inactive_file */
    assert_int_equal(s.mem_limit, 268435456);
    assert_int_equal(s.net_rx, 184230);
    assert_int_equal(s.net_tx, 90417);
    assert_int_equal(s.blk_read, 7593984 + 409600); /* lower-case "read" */
    assert_int_equal(s.blk_write, 12288);
    assert_int_equal(s.pids, 5);
}

static void test_stats_parse_stopped_and_bad(void **state)
{
    (void)state;
    struct engine_stats s;
    memset(&s, 0xff, sizeof(s));
    parse_file("stats_stopped.json", &s);
    struct engine_stats zero;
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(&s, &zero, sizeof(s));

    struct zp_err err;
    const char *bad[] = {"", "[]", "nope", "{\"read\":", "42"};
    for (size_t i = 0; i < N(bad); i++) {
        zp_err_init(&err);
        s.pids = 77;
        assert_int_equal(engine_stats_parse(bad[i], strlen(bad[i]), &s, &err), ZP_E_ENGINE);
        assert_string_equal(err.msg, "engine stats: not a JSON object");
        assert_int_equal(s.pids, 77); /* untouched on failure */
    }
    /* wrong types and negative numbers are zeros, not errors */
    zp_err_init(&err);
    const char *odd = "{\"read\":\"yesterday\",\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":-5}},"
                      "\"networks\":{\"eth0\":{\"rx_bytes\":\"12\"},\"eth1\":7},"
                      "\"blkio_stats\":{\"io_service_bytes_recursive\":[{\"op\":\"Read\"},7,"
                      "{\"op\":\"WRITE\",\"value\":3}]},\"pids_stats\":{\"current\":2.0}}";
    assert_int_equal(engine_stats_parse(odd, strlen(odd), &s, &err), 0);
    assert_int_equal(s.read_ns, 0);
    assert_int_equal(s.cpu_total, 0);
    assert_int_equal(s.net_rx, 0);
    assert_int_equal(s.blk_read, 0);
    assert_int_equal(s.blk_write, 3);
    assert_int_equal(s.pids, 2);
}

/* ---- one sample ---- */

static void test_stats_calls(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"GET", "/v1.41/containers/zprec-api-1/stats?stream=false&one-shot=true", 200,
         "stats_v2.json", NULL, FAKE_PLAIN},
        {"GET", "/v1.41/containers/zprec-api-1/stats?stream=false", 200, "stats_v1.json", NULL,
         FAKE_PLAIN},
        {"GET", "/v1.41/containers/zprec-job-1/stats?stream=false&one-shot=true", 200,
         "stats_stopped.json", NULL, FAKE_PLAIN},
        {"GET", "/v1.41/containers/zprec-none/stats?stream=false", 404, NULL,
         "{\"message\":\"No such container: zprec-none\"}", FAKE_PLAIN},
        {"GET", "/v1.41/containers/zprec-bad/stats?stream=false", 200, NULL, "[1,2]", FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    struct engine_stats s;
    assert_int_equal(engine_container_stats(e, "zprec-api-1", true, &s, &err), 0);
    assert_int_equal(s.pids, 5);
    assert_int_equal(s.mem_cache, 7368704);
    assert_int_equal(engine_container_stats(e, "zprec-api-1", false, &s, &err), 0);
    assert_v1(&s);
    assert_int_equal(engine_container_stats(e, "zprec-job-1", true, &s, &err), 0);
    assert_int_equal(s.read_ns, 0);
    assert_int_equal(s.mem_usage + s.cpu_total + s.pids, 0);
    s.pids = 99;
    assert_int_equal(engine_container_stats(e, "zprec-none", false, &s, &err), ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "reading the resource usage of container 'zprec-none': No such "
                                 "container: zprec-none (HTTP 404)");
    assert_int_equal(s.pids, 99);
    zp_err_init(&err);
    assert_int_equal(engine_container_stats(e, "zprec-bad", false, &s, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "reading the resource usage of container 'zprec-bad': engine "
                                 "stats: not a JSON object");
    assert_log("GET /_ping \n"
               "GET /v1.41/containers/zprec-api-1/stats?stream=false&one-shot=true \n"
               "GET /v1.41/containers/zprec-api-1/stats?stream=false \n"
               "GET /v1.41/containers/zprec-job-1/stats?stream=false&one-shot=true \n"
               "GET /v1.41/containers/zprec-none/stats?stream=false \n"
               "GET /v1.41/containers/zprec-bad/stats?stream=false \n");
    engine_free(e);
}

/* ---- the stream ---- */

struct samples {
    struct engine_stats s[8];
    size_t n;
    size_t stop_after; /* ENGINE_STOP after this many; 0: never */
    bool fail;         /* fail on the first sample */
};

static int on_sample(void *ctx, const struct engine_stats *s, struct zp_err *err)
{
    struct samples *c = ctx;
    if (c->fail)
        return zp_err_set(err, ZP_E_SYSTEM, NULL, "writing the sample failed");
    if (c->n < N(c->s))
        c->s[c->n++] = *s;
    return c->stop_after && c->n >= c->stop_after ? ENGINE_STOP : 0;
}

struct stream_thread {
    struct engine *e;
    struct samples samples;
    struct zp_err err;
    int rc;
};

static void *stream_main(void *arg)
{
    struct stream_thread *t = arg;
    zp_err_init(&t->err);
    t->rc = engine_container_stats_stream(t->e, "zprec-hold-1", on_sample, &t->samples, &t->err);
    return NULL;
}

static void test_stats_stream(void **state)
{
    (void)state;
    /* two samples (v1, v2), then the empty sample of a container that stopped, then one
     * more that must not be delivered */
    const struct route routes[] = {
        VERSION_ROUTE,
        {"GET", "/v1.41/containers/zprec-api-1/stats?stream=true", 200, "stats_stream.jsonl", NULL,
         FAKE_PLAIN},
        {"GET", "/v1.41/containers/zprec-hold-1/stats?stream=true", 200, "stats_v1.json", NULL,
         FAKE_HOLD},
        {"GET", "/v1.41/containers/zprec-none/stats?stream=true", 404, NULL,
         "{\"message\":\"No such container: zprec-none\"}", FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);

    struct samples c = {.n = 0};
    assert_int_equal(engine_container_stats_stream(e, "zprec-api-1", on_sample, &c, &err), 0);
    assert_int_equal(c.n, 2);
    assert_v1(&c.s[0]);
    assert_int_equal(c.s[1].pids, 5);
    assert_int_equal(c.s[1].blk_read, 7593984 + 409600);

    struct samples one = {.stop_after = 1};
    assert_int_equal(engine_container_stats_stream(e, "zprec-api-1", on_sample, &one, &err), 0);
    assert_int_equal(one.n, 1);

    struct samples failing = {.fail = true};
    assert_int_equal(engine_container_stats_stream(e, "zprec-api-1", on_sample, &failing, &err),
                     ZP_E_SYSTEM);
    assert_string_equal(err.msg, "streaming the resource usage of container 'zprec-api-1': "
                                 "writing the sample failed");
    zp_err_init(&err);
    assert_int_equal(engine_container_stats_stream(e, "zprec-none", on_sample, &c, &err),
                     ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "streaming the resource usage of container 'zprec-none': No "
                                 "such container: zprec-none (HTTP 404)");
    engine_free(e);

    /* a stream that never ends: engine_cancel from another thread */
    struct stream_thread t = {.e = fake_engine()};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stream_main, &t), 0);
    usleep(300 * 1000);
    int64_t at = zp_mono_ms();
    engine_cancel(t.e);
    pthread_join(th, NULL);
    assert_true(zp_mono_ms() - at < 500);
    assert_int_equal(t.rc, ENGINE_E_CANCELLED);
    assert_string_equal(t.err.msg,
                        "streaming the resource usage of container 'zprec-hold-1': cancelled");
    assert_int_equal(t.samples.n, 1); /* the sample that came before the wait */
    assert_v1(&t.samples.s[0]);
    engine_free(t.e);
}

/* ---- archives ---- */

struct sink {
    struct zp_buf data;
    int calls;
    size_t stop_at; /* ENGINE_STOP once this many bytes arrived; 0: never */
    bool fail;
};

static int sink_write(void *ctx, const void *data, size_t len, struct zp_err *err)
{
    struct sink *s = ctx;
    s->calls++;
    if (s->fail)
        return zp_err_set(err, ZP_E_SYSTEM, NULL, "writing 'out.tar': No space left on device");
    zp_buf_add(&s->data, data, len);
    return s->stop_at && s->data.len >= s->stop_at ? ENGINE_STOP : 0;
}

struct get_thread {
    struct engine *e;
    struct sink sink;
    struct zp_err err;
    int rc;
};

static void *get_main(void *arg)
{
    struct get_thread *t = arg;
    zp_err_init(&t->err);
    t->rc =
        engine_container_archive_get(t->e, "zprec-hold-1", "/data", sink_write, &t->sink, &t->err);
    return NULL;
}

static void test_archive_get(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"GET", "/v1.41/containers/zprec-web-1/archive?path=%2Fdata", 200, "archive_data.tar", NULL,
         FAKE_PLAIN},
        {"GET", "/v1.41/containers/zprec-web-1/archive?path=%2Fnope", 404, NULL,
         "{\"message\":\"Could not find the file /nope in container zprec-web-1\"}", FAKE_PLAIN},
        {"GET", "/v1.41/containers/zprec-none/archive?path=%2Fdata%20dir", 404, NULL,
         "{\"message\":\"No such container: zprec-none\"}", FAKE_PLAIN},
        {"GET", "/v1.41/containers/zprec-hold-1/archive?path=%2Fdata", 200, "archive_data.tar",
         NULL, FAKE_HOLD},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    size_t tar_len = 0;
    char *tar = fake_data("archive_data.tar", &tar_len);

    struct sink s = {ZP_BUF_INIT, 0, 0, false};
    assert_int_equal(engine_container_archive_get(e, "zprec-web-1", "/data", sink_write, &s, &err),
                     0);
    assert_int_equal(s.data.len, tar_len);
    assert_memory_equal(s.data.p, tar, tar_len);
    zp_buf_release(&s.data);

    /* the writer stops early: no error */
    struct sink early = {ZP_BUF_INIT, 0, 1, false};
    assert_int_equal(
        engine_container_archive_get(e, "zprec-web-1", "/data", sink_write, &early, &err), 0);
    assert_int_equal(early.calls, 1);
    assert_true(early.data.len > 0 && early.data.len <= tar_len);
    assert_memory_equal(early.data.p, tar, early.data.len);
    zp_buf_release(&early.data);

    struct sink failing = {ZP_BUF_INIT, 0, 0, true};
    assert_int_equal(
        engine_container_archive_get(e, "zprec-web-1", "/data", sink_write, &failing, &err),
        ZP_E_SYSTEM);
    assert_string_equal(err.msg, "copying '/data' from container 'zprec-web-1': writing "
                                 "'out.tar': No space left on device");
    assert_int_equal(failing.calls, 1);

    zp_err_init(&err);
    s.calls = 0;
    assert_int_equal(engine_container_archive_get(e, "zprec-web-1", "/nope", sink_write, &s, &err),
                     ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "copying '/nope' from container 'zprec-web-1': Could not find "
                                 "the file /nope in container zprec-web-1 (HTTP 404)");
    zp_err_init(&err);
    assert_int_equal(
        engine_container_archive_get(e, "zprec-none", "/data dir", sink_write, &s, &err),
        ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "copying '/data dir' from container 'zprec-none': No such "
                                 "container: zprec-none (HTTP 404)");
    assert_int_equal(s.calls, 0); /* an error body never reaches the writer */
    engine_free(e);

    /* the archive arrives while the stream stays open: the writer has it all before the
     * end (nothing is held back), and engine_cancel ends the call */
    struct get_thread t = {.e = fake_engine(), .sink = {ZP_BUF_INIT, 0, 0, false}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, get_main, &t), 0);
    usleep(300 * 1000);
    int64_t at = zp_mono_ms();
    engine_cancel(t.e);
    pthread_join(th, NULL);
    assert_true(zp_mono_ms() - at < 500);
    assert_int_equal(t.rc, ENGINE_E_CANCELLED);
    assert_string_equal(t.err.msg, "copying '/data' from container 'zprec-hold-1': cancelled");
    assert_int_equal(t.sink.data.len, tar_len);
    assert_memory_equal(t.sink.data.p, tar, tar_len);
    zp_buf_release(&t.sink.data);
    engine_free(t.e);
    free(tar);
}

/* Hands out a buffer in pieces of at most 1000 bytes; fails at fail_at when set. */
struct reader {
    const char *p;
    size_t left;
    size_t off, fail_at;
    int calls;
};

static int reader_read(void *ctx, char *buf, size_t cap, size_t *ret_len, struct zp_err *err)
{
    struct reader *r = ctx;
    r->calls++;
    if (r->fail_at && r->off >= r->fail_at)
        return zp_err_set(err, ZP_E_SYSTEM, NULL, "reading 'in.tar': Input/output error");
    size_t n = r->left < cap ? r->left : cap;
    if (n > 1000)
        n = 1000;
    memcpy(buf, r->p, n);
    r->p += n;
    r->left -= n;
    r->off += n;
    *ret_len = n;
    return 0;
}

static void test_archive_put(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"PUT", "/v1.41/containers/zprec-web-1/archive?path=%2Fdata", 200, NULL, NULL, FAKE_PLAIN},
        {"PUT", "/v1.41/containers/zprec-web-1/archive?path=%2Fetc%2Fhostname", 500, NULL,
         "{\"message\":\"extraction point is not a directory\"}", FAKE_PLAIN},
        {"PUT", "/v1.41/containers/zprec-ro-1/archive?path=%2Fdata", 403, NULL,
         "{\"message\":\"container rootfs is marked read-only\"}", FAKE_PLAIN},
        {"PUT", "/v1.41/containers/zprec-web-1/archive?path=%2Fbad", 400, NULL,
         "{\"message\":\"Error processing tar file(exit status 1): unexpected EOF\"}", FAKE_PLAIN},
        {"PUT", "/v1.41/containers/zprec-web-1/archive?path=%2Fnope", 404, NULL,
         "{\"message\":\"Could not find the file /nope in container zprec-web-1\"}", FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    size_t tar_len = 0;
    char *tar = fake_data("archive_data.tar", &tar_len);

    struct reader r = {tar, tar_len, 0, 0, 0};
    assert_int_equal(engine_container_archive_put(e, "zprec-web-1", "/data", reader_read, &r, &err),
                     0);
    assert_true(r.calls >= 7); /* 6144 bytes in pieces of 1000, then the end */
    size_t body_len = 0;
    char *body = fake_last_body(&body_len);
    assert_int_equal(body_len, tar_len);
    assert_memory_equal(body, tar, tar_len);
    free(body);
    char *ct = fake_last_content_type();
    assert_string_equal(ct, "application/x-tar");
    free(ct);
    /* the log stops at the first NUL of the tar: the name of its first entry */
    assert_log("GET /_ping \n"
               "PUT /v1.41/containers/zprec-web-1/archive?path=%2Fdata data/\n");

    const struct {
        const char *id, *path;
        int code;
        const char *msg;
    } refused[] = {
        {"zprec-web-1", "/etc/hostname", ZP_E_ENGINE,
         "copying files into '/etc/hostname' of container 'zprec-web-1': extraction point is "
         "not a directory (HTTP 500)"},
        {"zprec-ro-1", "/data", ZP_E_ENGINE,
         "copying files into '/data' of container 'zprec-ro-1': container rootfs is marked "
         "read-only (HTTP 403)"},
        {"zprec-web-1", "/bad", ZP_E_ENGINE,
         "copying files into '/bad' of container 'zprec-web-1': Error processing tar "
         "file(exit status 1): unexpected EOF (HTTP 400)"},
        {"zprec-web-1", "/nope", ZP_E_NOTFOUND,
         "copying files into '/nope' of container 'zprec-web-1': Could not find the file /nope "
         "in container zprec-web-1 (HTTP 404)"},
    };
    for (size_t i = 0; i < N(refused); i++) {
        struct reader rr = {tar, tar_len, 0, 0, 0};
        zp_err_init(&err);
        assert_int_equal(
            engine_container_archive_put(e, refused[i].id, refused[i].path, reader_read, &rr, &err),
            refused[i].code);
        assert_string_equal(err.msg, refused[i].msg);
    }

    /* the reader fails half-way: its error, and the engine gets no complete body */
    fake_routes(routes, N(routes));
    struct reader bad = {tar, tar_len, 0, 3000, 0};
    zp_err_init(&err);
    assert_int_equal(
        engine_container_archive_put(e, "zprec-web-1", "/data", reader_read, &bad, &err),
        ZP_E_SYSTEM);
    assert_string_equal(err.msg, "copying files into '/data' of container 'zprec-web-1': "
                                 "reading 'in.tar': Input/output error");
    char *log = fake_log();
    assert_null(strstr(log, "PUT"));
    free(log);
    engine_free(e);
    free(tar);
}

/* ---- dangling images ---- */

static void test_image_list_dangling(void **state)
{
    (void)state;
    const struct route routes[] = {
        VERSION_ROUTE,
        {"GET",
         "/v1.41/images/json?filters=%7B%22label%22%3A%5B%22io.zpanel.project%3Dzprec%22%5D%2C%22"
         "dangling%22%3A%5B%22true%22%5D%7D",
         200, "images_dangling.json", NULL, FAKE_PLAIN},
        {"GET", "/v1.41/images/json?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D", 200, NULL,
         "[]", FAKE_PLAIN},
    };
    fake_routes(routes, N(routes));
    struct engine *e = fake_engine();
    struct zp_err err;
    zp_err_init(&err);
    const char *const filters[] = {"io.zpanel.project=zprec", NULL};
    struct engine_image_list l = {NULL, 0};
    assert_int_equal(engine_image_list_dangling(e, filters, &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].id,
                        "sha256:67e7453f645075e26266152db81d4cc9f30892cd22fdd3d6ebda605776422d62");
    assert_int_equal(l.items[0].n_repo_tags, 0); /* "<none>:<none>" is no tag */
    assert_int_equal(l.items[0].size, 1985472);
    assert_string_equal(engine_labels_get(&l.items[0].labels, "v"), "1");
    engine_image_list_release(&l);
    assert_int_equal(engine_image_list_dangling(e, NULL, &l, &err), 0);
    assert_int_equal(l.n, 0);
    engine_image_list_release(&l);
    engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_parse_v1),
        cmocka_unit_test(test_stats_parse_v2),
        cmocka_unit_test(test_stats_parse_stopped_and_bad),
        cmocka_unit_test(test_stats_calls),
        cmocka_unit_test(test_stats_stream),
        cmocka_unit_test(test_archive_get),
        cmocka_unit_test(test_archive_put),
        cmocka_unit_test(test_image_list_dangling),
    };
    return cmocka_run_group_tests(tests, fake_start, fake_stop);
}

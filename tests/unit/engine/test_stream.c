/* Unit tests for the engine's stream decoders, on streams recorded from a real engine
 * (tests/data/engine/) fed in every chunk size, and on broken input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "util/util.h"

static char *load(const char *name, size_t *ret_len)
{
    struct zp_err err;
    zp_err_init(&err);
    char *path = zp_asprintf("%s/engine/%s", ZP_TEST_DATA, name);
    char *data = NULL;
    int rc = zp_file_read(path, 1 << 24, &data, ret_len, &err);
    free(path);
    assert_int_equal(rc, 0);
    return data;
}

/* Collects frames as "S:payload" records. */
struct frames {
    struct zp_buf out[4]; /* concatenated payload per stream */
    size_t n;
    int fail_at; /* return an error on this frame number (1-based), 0: never */
};

static int on_frame(void *ctx, enum engine_stream stream, const char *data, size_t len,
                    struct zp_err *err)
{
    struct frames *f = ctx;
    f->n++;
    if (f->fail_at && (int)f->n == f->fail_at)
        return zp_err_set(err, ZP_E_INPUT, NULL, "stop at frame %zu", f->n);
    assert_true(len > 0);
    assert_int_equal(zp_buf_add(&f->out[stream], data, len), 0);
    return 0;
}

static void frames_release(struct frames *f)
{
    for (int i = 0; i < 4; i++)
        zp_buf_release(&f->out[i]);
}

/* Decode data in chunks of size step (0: one chunk). */
static int mux_run(const char *data, size_t len, size_t step, size_t max, struct frames *f,
                   struct zp_err *err)
{
    struct engine_mux_decoder d;
    engine_mux_init(&d, max, on_frame, f);
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < len;) {
        size_t n = step == 0 || len - off < step ? len - off : step;
        rc = engine_mux_feed(&d, data + off, n, err);
        off += n;
    }
    if (rc == 0)
        rc = engine_mux_finish(&d, err);
    engine_mux_release(&d);
    return rc;
}

static void test_mux_recorded_short(void **state)
{
    (void)state;
    size_t len;
    char *data = load("logs_mux.bin", &len);
    for (size_t step = 0; step <= len; step++) {
        struct frames f = {0};
        struct zp_err err;
        zp_err_init(&err);
        assert_int_equal(mux_run(data, len, step, 0, &f, &err), 0);
        assert_int_equal(f.n, 2);
        assert_string_equal(zp_buf_cstr(&f.out[ENGINE_STREAM_STDOUT]), "out-line\n");
        assert_string_equal(zp_buf_cstr(&f.out[ENGINE_STREAM_STDERR]), "err-line\n");
        frames_release(&f);
    }
    free(data);
}

static void test_mux_recorded_long(void **state)
{
    (void)state;
    size_t len;
    char *data = load("logs_mux_long.bin", &len);
    const size_t steps[] = {0, 1, 3, 7, 8, 9, 100, 4096, 16384, 16392};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct frames f = {0};
        struct zp_err err;
        zp_err_init(&err);
        assert_int_equal(mux_run(data, len, steps[i], 0, &f, &err), 0);
        const char *out = zp_buf_cstr(&f.out[ENGINE_STREAM_STDOUT]);
        assert_true(zp_str_has_prefix(out, "line 0\nline 1\nline 2\nline 3\nline 4\nxxx"));
        assert_true(zp_str_has_suffix(out, "xxx\ndone\n"));
        /* 5 short lines + 20000 x + newline + "done\n" */
        assert_int_equal(f.out[ENGINE_STREAM_STDOUT].len, 5 * 7 + 20000 + 1 + 5);
        assert_string_equal(zp_buf_cstr(&f.out[ENGINE_STREAM_STDERR]),
                            "warn 0\nwarn 1\nwarn 2\nwarn 3\nwarn 4\n");
        frames_release(&f);
    }
    /* The engine split the 20001-byte line into a 16384-byte frame and the rest: a cap
     * below that is hit, with the frame's offset in the message. */
    struct frames f = {0};
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(mux_run(data, len, 1000, 16383, &f, &err), ZP_E_TOOBIG);
    assert_string_equal(err.msg, "engine stream: frame at byte 150 too big (16384 bytes, at "
                                 "most 16383)");
    frames_release(&f);
    free(data);
}

static void test_mux_bad_header(void **state)
{
    (void)state;
    static const char bad_type[] = "\x01\0\0\0\0\0\0\x02hi\x07\0\0\0\0\0\0\x01x";
    struct frames f = {0};
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(mux_run(bad_type, sizeof(bad_type) - 1, 0, 0, &f, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "engine stream: bad frame header at byte 10 (07 00 00 00): "
                                 "not a multiplexed stream");
    assert_int_equal(f.n, 1);
    frames_release(&f);

    /* A TTY stream (plain text) is not framed. */
    struct frames g = {0};
    zp_err_init(&err);
    assert_int_equal(mux_run("hello world\n", 12, 0, 0, &g, &err), ZP_E_ENGINE);
    assert_true(strstr(err.msg, "at byte 0 (68 65 6c 6c)") != NULL);
    assert_int_equal(g.n, 0);
    frames_release(&g);
}

static void test_mux_truncated_and_sticky(void **state)
{
    (void)state;
    struct frames f = {0};
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(mux_run("\x01\0\0\0\0\0\0\x05"
                             "abc",
                             11, 2, 0, &f, &err),
                     ZP_E_ENGINE);
    assert_string_equal(err.msg, "engine stream: truncated inside a frame at byte 11");
    assert_int_equal(f.n, 0);

    zp_err_init(&err);
    assert_int_equal(mux_run("\x02\0\0", 3, 0, 0, &f, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "engine stream: truncated inside a frame at byte 3");

    /* Empty frames are skipped; a failing callback stops decoding and sticks. */
    struct engine_mux_decoder d;
    struct frames h = {.fail_at = 2};
    engine_mux_init(&d, 0, on_frame, &h);
    zp_err_init(&err);
    static const char three[] = "\x01\0\0\0\0\0\0\0"
                                "\x01\0\0\0\0\0\0\x01"
                                "a"
                                "\x02\0\0\0\0\0\0\x01"
                                "b"
                                "\x01\0\0\0\0\0\0\x01"
                                "c";
    assert_int_equal(engine_mux_feed(&d, three, sizeof(three) - 1, &err), ZP_E_INPUT);
    assert_string_equal(err.msg, "stop at frame 2");
    assert_int_equal(h.n, 2);
    assert_string_equal(zp_buf_cstr(&h.out[1]), "a");
    zp_err_init(&err);
    assert_int_equal(engine_mux_feed(&d, "x", 1, &err), ZP_E_INPUT);
    assert_string_equal(err.msg, "engine stream: decoding already failed");
    engine_mux_release(&d);
    frames_release(&f);
    frames_release(&h);
}

/* ---- JSON lines ---- */

struct lines {
    char *items[128];
    size_t n;
    int fail_at;
};

static int on_line(void *ctx, const char *json, size_t len, struct zp_err *err)
{
    struct lines *l = ctx;
    assert_int_equal(strlen(json), len);
    if (l->fail_at && (int)l->n + 1 == l->fail_at)
        return zp_err_set(err, ZP_E_CONFLICT, NULL, "stop at line %zu", l->n + 1);
    assert_true(l->n < 128);
    l->items[l->n++] = zp_strdup(json);
    return 0;
}

static void lines_release(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    l->n = 0;
}

static int jsonl_run(const char *data, size_t len, size_t step, size_t max, struct lines *l,
                     struct zp_err *err)
{
    struct engine_jsonl_decoder d;
    engine_jsonl_init(&d, max, on_line, l);
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < len;) {
        size_t n = step == 0 || len - off < step ? len - off : step;
        rc = engine_jsonl_feed(&d, data + off, n, err);
        off += n;
    }
    if (rc == 0)
        rc = engine_jsonl_finish(&d, err);
    engine_jsonl_release(&d);
    return rc;
}

static void test_jsonl_build_progress(void **state)
{
    (void)state;
    size_t len;
    char *data = load("build_progress.jsonl", &len);
    for (size_t step = 0; step < 200; step += 7) {
        struct lines l = {0};
        struct zp_err err;
        zp_err_init(&err);
        assert_int_equal(jsonl_run(data, len, step, 0, &l, &err), 0);
        assert_int_equal(l.n, 15);
        assert_string_equal(l.items[0], "{\"stream\":\"Step 1/3 : FROM scratch\"}");
        struct engine_progress p;
        assert_int_equal(engine_progress_parse(l.items[12], strlen(l.items[12]), &p, &err), 0);
        assert_string_equal(p.aux_id, "sha256:"
                                      "6082cf15f08692dfbaaec91a00dc23e32c9a86076a6a2081f5d23bfccf"
                                      "882007");
        assert_null(p.stream);
        assert_null(p.error);
        engine_progress_release(&p);
        assert_int_equal(engine_progress_parse(l.items[14], strlen(l.items[14]), &p, &err), 0);
        assert_string_equal(p.stream, "Successfully tagged zprec-built:latest\n");
        assert_null(p.aux_id);
        engine_progress_release(&p);
        lines_release(&l);
    }
    free(data);
}

static void test_jsonl_build_error(void **state)
{
    (void)state;
    size_t len;
    char *data = load("build_error.jsonl", &len);
    struct lines l = {0};
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(jsonl_run(data, len, 5, 0, &l, &err), 0);
    assert_int_equal(l.n, 7);
    struct engine_progress p;
    assert_int_equal(engine_progress_parse(l.items[6], strlen(l.items[6]), &p, &err), 0);
    assert_non_null(p.error);
    assert_true(zp_str_has_prefix(p.error, "failed to create shim task"));
    assert_true(strstr(p.error, "stat /bin/sh: no such file or directory") != NULL);
    engine_progress_release(&p);

    /* errorDetail alone is enough */
    const char *only = "{\"errorDetail\":{\"message\":\"boom\"}}";
    assert_int_equal(engine_progress_parse(only, strlen(only), &p, &err), 0);
    assert_string_equal(p.error, "boom");
    engine_progress_release(&p);
    assert_int_equal(engine_progress_parse("[1]", 3, &p, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "engine progress message: not a JSON object");
    lines_release(&l);
    free(data);
}

static void test_jsonl_events(void **state)
{
    (void)state;
    size_t len;
    char *data = load("events.jsonl", &len);
    struct lines l = {0};
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(jsonl_run(data, len, 333, 0, &l, &err), 0);
    assert_int_equal(l.n, 52);
    size_t health = 0, images = 0;
    for (size_t i = 0; i < l.n; i++) {
        struct engine_event ev;
        assert_int_equal(engine_event_parse(l.items[i], strlen(l.items[i]), &ev, &err), 0);
        if (strcmp(ev.type, "image") == 0) {
            /* the image built with the project label was tagged */
            images++;
            assert_string_equal(ev.action, "tag");
            assert_string_equal(engine_labels_get(&ev.attributes, "name"), "zprec-built:latest");
        } else {
            assert_string_equal(ev.type, "container");
        }
        assert_string_equal(engine_labels_get(&ev.attributes, "io.zpanel.project"), "zprec");
        assert_true(ev.time_nano > 1700000000LL * 1000000000LL);
        if (strcmp(ev.action, "health_status: healthy") == 0) {
            health++;
            assert_string_equal(engine_labels_get(&ev.attributes, "name"), "zprec-web-1");
        }
        if (i == 0) {
            assert_string_equal(ev.action, "create");
            assert_string_equal(ev.actor_id, "b0592909ba4b23a27483d197eafbee2169b07cd187b7f0d2363"
                                             "9f58352e74dbb");
            assert_int_equal(ev.time_nano, 1795465112856960424LL);
        }
        engine_event_release(&ev);
    }
    assert_int_equal(health, 1);
    assert_int_equal(images, 1);
    lines_release(&l);
    free(data);
}

static void test_jsonl_errors(void **state)
{
    (void)state;
    struct lines l = {0};
    struct zp_err err;

    /* blank lines, CRLF and a final line without newline */
    zp_err_init(&err);
    const char *ok = "\n{\"a\":1}\r\n\r\n  [2] \n\"s\"";
    assert_int_equal(jsonl_run(ok, strlen(ok), 1, 0, &l, &err), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[0], "{\"a\":1}");
    assert_string_equal(l.items[1], "[2]");
    assert_string_equal(l.items[2], "\"s\"");
    lines_release(&l);

    zp_err_init(&err);
    const char *bad = "{\"a\":1}\n{\"a\":\n";
    assert_int_equal(jsonl_run(bad, strlen(bad), 0, 0, &l, &err), ZP_E_ENGINE);
    assert_true(zp_str_has_prefix(err.msg, "engine stream: line 2 is not JSON: "));
    assert_int_equal(l.n, 1);
    lines_release(&l);

    zp_err_init(&err);
    const char *two = "{}\n{}{}\n";
    assert_int_equal(jsonl_run(two, strlen(two), 0, 0, &l, &err), ZP_E_ENGINE);
    assert_true(zp_str_has_prefix(err.msg, "engine stream: line 2 is not JSON"));
    lines_release(&l);

    /* a NUL byte inside a line (found by the fuzzer: jansson stopped there) */
    zp_err_init(&err);
    assert_int_equal(jsonl_run("1\n2\0\n", 5, 0, 0, &l, &err), ZP_E_ENGINE);
    assert_string_equal(err.msg, "engine stream: line 2 is not JSON: it holds a NUL byte");
    assert_int_equal(l.n, 1);
    lines_release(&l);

    /* the cap holds whether a line arrives whole or in pieces */
    const char *longl = "[1,2,3,4,5,6,7,8,9,10]\n";
    for (size_t step = 0; step < 6; step++) {
        zp_err_init(&err);
        assert_int_equal(jsonl_run(longl, strlen(longl), step, 10, &l, &err), ZP_E_TOOBIG);
        assert_string_equal(err.msg, "engine stream: line 1 too long (more than 10 bytes)");
        assert_int_equal(l.n, 0);
    }
    zp_err_init(&err);
    assert_int_equal(jsonl_run(longl, strlen(longl), 3, 22, &l, &err), 0);
    assert_int_equal(l.n, 1);
    lines_release(&l);

    /* a callback error stops decoding and sticks */
    struct lines s = {.fail_at = 2};
    struct engine_jsonl_decoder d;
    engine_jsonl_init(&d, 0, on_line, &s);
    zp_err_init(&err);
    assert_int_equal(engine_jsonl_feed(&d, "1\n2\n3\n", 6, &err), ZP_E_CONFLICT);
    assert_string_equal(err.msg, "stop at line 2");
    zp_err_init(&err);
    assert_int_equal(engine_jsonl_finish(&d, &err), ZP_E_CONFLICT);
    assert_int_equal(s.n, 1);
    engine_jsonl_release(&d);
    lines_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mux_recorded_short),
        cmocka_unit_test(test_mux_recorded_long),
        cmocka_unit_test(test_mux_bad_header),
        cmocka_unit_test(test_mux_truncated_and_sticky),
        cmocka_unit_test(test_jsonl_build_progress),
        cmocka_unit_test(test_jsonl_build_error),
        cmocka_unit_test(test_jsonl_events),
        cmocka_unit_test(test_jsonl_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

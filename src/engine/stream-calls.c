/* engine/stream-calls: calls whose answer is a stream: container logs (multiplexed
 * frames) and image builds (JSON-lines progress), fed through the stream decoders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"

#include "../util/banned.h"

/* ---- logs ---- */

struct logs_ctx {
    struct engine_mux_decoder mux;
    bool tty;
    engine_frame_fn on_frame;
    void *ctx;
};

static int logs_chunk(void *ctx, const char *data, size_t len, struct zp_err *err)
{
    struct logs_ctx *l = ctx;
    if (l->tty)
        return l->on_frame(l->ctx, ENGINE_STREAM_STDOUT, data, len, err);
    return engine_mux_feed(&l->mux, data, len, err);
}

int engine_container_logs(struct engine *e, const char *id, const struct engine_logs_opts *opts,
                          engine_frame_fn on_frame, void *ctx, struct zp_err *err)
{
    static const struct engine_logs_opts defaults;
    if (!opts)
        opts = &defaults;
    struct zp_buf path = ZP_BUF_INIT, q = ZP_BUF_INIT;
    char num[32];
    zp_buf_adds(&path, "/containers/");
    engine__escape(&path, id, false);
    zp_buf_adds(&path, "/logs");
    engine__query_add(&q, "stdout", opts->no_stdout ? "0" : "1");
    engine__query_add(&q, "stderr", opts->no_stderr ? "0" : "1");
    if (opts->follow)
        engine__query_add(&q, "follow", "1");
    if (opts->timestamps)
        engine__query_add(&q, "timestamps", "1");
    if (opts->tail > 0) {
        snprintf(num, sizeof(num), "%lld", (long long)opts->tail);
        engine__query_add(&q, "tail", num);
    }
    if (opts->since > 0) {
        snprintf(num, sizeof(num), "%lld", (long long)opts->since);
        engine__query_add(&q, "since", num);
    }
    char *what = zp_asprintf("reading the logs of container '%s'", id);
    struct engine__req req = {.method = "GET",
                              .path = zp_buf_cstr(&path),
                              .query = zp_buf_cstr(&q),
                              .timeout_ms = opts->follow ? -1 : 0,
                              .what = what};
    struct logs_ctx l = {.tty = opts->tty, .on_frame = on_frame, .ctx = ctx};
    engine_mux_init(&l.mux, 0, on_frame, ctx);
    int rc = engine__request_stream(e, &req, logs_chunk, &l, err);
    if (rc == 0 && !l.tty)
        rc = engine_mux_finish(&l.mux, err);
    if (rc != 0 && err->code && !zp_str_has_prefix(err->msg, what))
        zp_err_prefix(err, "%s", what);
    engine_mux_release(&l.mux);
    free(what);
    zp_buf_release(&path);
    zp_buf_release(&q);
    return rc;
}

/* ---- build ---- */

struct build_ctx {
    struct engine_jsonl_decoder jsonl;
    engine_progress_fn on_progress;
    void *ctx;
    char *image_id; /* from aux.ID */
    char *error;    /* the first error message of the stream */
};

static int build_line(void *ctx, const char *json, size_t len, struct zp_err *err)
{
    struct build_ctx *b = ctx;
    struct engine_progress p;
    int rc = engine_progress_parse(json, len, &p, err);
    if (rc != 0)
        return rc;
    if (p.aux_id && !b->image_id)
        b->image_id = zp_strdup(p.aux_id);
    if (p.error && !b->error)
        b->error = zp_strdup(p.error);
    if (b->on_progress)
        rc = b->on_progress(b->ctx, &p, err);
    engine_progress_release(&p);
    return rc;
}

static int build_chunk(void *ctx, const char *data, size_t len, struct zp_err *err)
{
    struct build_ctx *b = ctx;
    return engine_jsonl_feed(&b->jsonl, data, len, err);
}

static char *kv_json(const struct engine_kv *kv, size_t n)
{
    json_t *o = engine__labels_json(kv, n);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!s)
        ZP_BUG("encoding build parameters");
    return s;
}

int engine_image_build(struct engine *e, const void *context_tar, size_t tar_len,
                       const struct engine_build_opts *opts, engine_progress_fn on_progress,
                       void *ctx, char **ret_image_id, struct zp_err *err)
{
    static const struct engine_build_opts defaults;
    if (!opts)
        opts = &defaults;
    struct zp_buf q = ZP_BUF_INIT;
    if (opts->tag)
        engine__query_add(&q, "t", opts->tag);
    if (opts->dockerfile)
        engine__query_add(&q, "dockerfile", opts->dockerfile);
    if (opts->target)
        engine__query_add(&q, "target", opts->target);
    if (opts->n_labels) {
        char *s = kv_json(opts->labels, opts->n_labels);
        engine__query_add(&q, "labels", s);
        free(s);
    }
    if (opts->n_build_args) {
        char *s = kv_json(opts->build_args, opts->n_build_args);
        engine__query_add(&q, "buildargs", s);
        free(s);
    }
    /* Remove intermediate containers also when a step fails. */
    engine__query_add(&q, "forcerm", "1");
    if (opts->no_cache)
        engine__query_add(&q, "nocache", "1");
    if (opts->pull)
        engine__query_add(&q, "pull", "1");
    char *what =
        opts->tag ? zp_asprintf("building image '%s'", opts->tag) : zp_strdup("building an image");
    struct engine__req req = {.method = "POST",
                              .path = "/build",
                              .query = zp_buf_cstr(&q),
                              .body = context_tar,
                              .body_len = tar_len,
                              .content_type = "application/x-tar",
                              .timeout_ms = -1,
                              .what = what};
    struct build_ctx b = {.on_progress = on_progress, .ctx = ctx};
    engine_jsonl_init(&b.jsonl, 0, build_line, &b);
    int rc = tar_len == 0 ? zp_err_set(err, ZP_E_INPUT, NULL, "%s: empty build context", what)
                          : engine__request_stream(e, &req, build_chunk, &b, err);
    if (rc == 0)
        rc = engine_jsonl_finish(&b.jsonl, err);
    if (rc != 0 && err->code && !zp_str_has_prefix(err->msg, what))
        zp_err_prefix(err, "%s", what);
    if (rc == 0 && b.error)
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: %s", what, b.error);
    if (rc == 0 && !b.image_id)
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: the engine reported no image ID", what);
    if (rc == 0 && ret_image_id) {
        *ret_image_id = b.image_id;
        b.image_id = NULL;
    }
    engine_jsonl_release(&b.jsonl);
    free(b.image_id);
    free(b.error);
    free(what);
    zp_buf_release(&q);
    return rc;
}

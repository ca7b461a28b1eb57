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

/* GET /<kind>s/{id}/logs for a container or a Swarm service (the same frames). */
static int logs_of(struct engine *e, const char *kind, const char *id,
                   const struct engine_logs_opts *opts, engine_frame_fn on_frame, void *ctx,
                   struct zp_err *err)
{
    static const struct engine_logs_opts defaults;
    if (!opts)
        opts = &defaults;
    struct zp_buf path = ZP_BUF_INIT, q = ZP_BUF_INIT;
    char num[32];
    zp_buf_addf(&path, "/%ss/", kind);
    engine__escape(&path, id, false);
    zp_buf_adds(&path, "/logs");
    engine__query_add(&q, "stdout", opts->no_stdout ? "0" : "1");
    engine__query_add(&q, "stderr", opts->no_stderr ? "0" : "1");
    if (opts->follow)
        engine__query_add(&q, "follow", "1");
    if (opts->timestamps)
        engine__query_add(&q, "timestamps", "1");
    if (opts->tail > 0 || opts->tail_zero) {
        snprintf(num, sizeof(num), "%lld", opts->tail > 0 ? (long long)opts->tail : 0LL);
        engine__query_add(&q, "tail", num);
    }
    if (opts->since > 0) {
        snprintf(num, sizeof(num), "%lld", (long long)opts->since);
        engine__query_add(&q, "since", num);
    }
    if (opts->until > 0) { /* containers only: a service's logs have no end time */
        snprintf(num, sizeof(num), "%lld", (long long)opts->until);
        engine__query_add(&q, "until", num);
    }
    char *what = zp_asprintf("reading the logs of %s '%s'", kind, id);
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
    if (rc > 0) /* the callback's clean stop */
        rc = 0;
    if (rc != 0 && err->code && !zp_str_has_prefix(err->msg, what))
        zp_err_prefix(err, "%s", what);
    engine_mux_release(&l.mux);
    free(what);
    zp_buf_release(&path);
    zp_buf_release(&q);
    return rc;
}

int engine_container_logs(struct engine *e, const char *id, const struct engine_logs_opts *opts,
                          engine_frame_fn on_frame, void *ctx, struct zp_err *err)
{
    return logs_of(e, "container", id, opts, on_frame, ctx, err);
}

int engine_service_logs(struct engine *e, const char *id, const struct engine_logs_opts *opts,
                        engine_frame_fn on_frame, void *ctx, struct zp_err *err)
{
    if (opts && opts->until > 0)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "--until: not supported for the logs of a Swarm service");
    return logs_of(e, "service", id, opts, on_frame, ctx, err);
}

/* ---- push ---- */

struct push_ctx {
    struct engine_jsonl_decoder jsonl;
    engine_progress_fn on_progress;
    void *ctx;
    char *error; /* the first error message of the stream */
};

static int push_line(void *ctx, const char *json, size_t len, struct zp_err *err)
{
    struct push_ctx *pc = ctx;
    struct engine_progress p;
    int rc = engine_progress_parse(json, len, &p, err);
    if (rc != 0)
        return rc;
    if (p.error && !pc->error)
        pc->error = zp_strdup(p.error);
    if (pc->on_progress)
        rc = pc->on_progress(pc->ctx, &p, err);
    engine_progress_release(&p);
    return rc;
}

static int push_chunk(void *ctx, const char *data, size_t len, struct zp_err *err)
{
    struct push_ctx *pc = ctx;
    return engine_jsonl_feed(&pc->jsonl, data, len, err);
}

int engine_image_push(struct engine *e, const char *repo, const char *tag,
                      engine_progress_fn on_progress, void *ctx, struct zp_err *err)
{
    struct zp_buf path = ZP_BUF_INIT, q = ZP_BUF_INIT;
    zp_buf_adds(&path, "/images/");
    engine__escape(&path, repo, false);
    zp_buf_adds(&path, "/push");
    if (tag)
        engine__query_add(&q, "tag", tag);
    char *what = zp_asprintf("pushing image '%s%s%s'", repo, tag ? ":" : "", tag ? tag : "");
    /* no credentials: "{}" (the engine wants the header even for an open registry) */
    struct engine__req req = {.method = "POST",
                              .path = zp_buf_cstr(&path),
                              .query = zp_buf_cstr(&q),
                              .timeout_ms = -1,
                              .what = what,
                              .registry_auth = "e30="};
    struct push_ctx pc = {.on_progress = on_progress, .ctx = ctx};
    engine_jsonl_init(&pc.jsonl, 0, push_line, &pc);
    int rc = engine__request_stream(e, &req, push_chunk, &pc, err);
    if (rc == 0)
        rc = engine_jsonl_finish(&pc.jsonl, err);
    if (rc > 0)
        rc = 0;
    if (rc == 0 && pc.error)
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: %s", what, pc.error);
    else if (rc != 0 && err->code && !zp_str_has_prefix(err->msg, what))
        zp_err_prefix(err, "%s", what);
    engine_jsonl_release(&pc.jsonl);
    free(pc.error);
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
    char *image_id; /* from the last aux.ID */
    char *error;    /* the first error message of the stream */
};

static int build_line(void *ctx, const char *json, size_t len, struct zp_err *err)
{
    struct build_ctx *b = ctx;
    struct engine_progress p;
    int rc = engine_progress_parse(json, len, &p, err);
    if (rc != 0)
        return rc;
    if (p.aux_id) { /* one per stage of a multi-stage build: the last is the image built */
        free(b->image_id);
        b->image_id = zp_strdup(p.aux_id);
    }
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
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, kv[i].key, kv[i].value ? json_string(kv[i].value) : json_null());
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!s)
        ZP_BUG("encoding build parameters");
    return s;
}

/* A NULL-terminated list as compact JSON text (owned). */
static char *list_json(const char *const *v)
{
    json_t *arr = json_array();
    for (size_t i = 0; v[i]; i++)
        json_array_append_new(arr, json_string(v[i]));
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!s)
        ZP_BUG("encoding build parameters");
    return s;
}

/* The in-memory context handed out piece by piece. */
struct mem_reader {
    const char *p;
    size_t left;
};

static int mem_read(void *ctx, char *buf, size_t cap, size_t *ret_len, struct zp_err *err)
{
    struct mem_reader *m = ctx;
    (void)err;
    size_t n = m->left < cap ? m->left : cap;
    memcpy(buf, m->p, n);
    m->p += n;
    m->left -= n;
    *ret_len = n;
    return 0;
}

int engine_image_build(struct engine *e, const void *context_tar, size_t tar_len,
                       const struct engine_build_opts *opts, engine_progress_fn on_progress,
                       void *ctx, char **ret_image_id, struct zp_err *err)
{
    struct mem_reader m = {context_tar, tar_len};
    return engine_image_build_stream(e, opts, mem_read, &m, on_progress, ctx, ret_image_id, err);
}

/* Wraps the caller's reader: notices an empty context before anything is sent. */
struct body_reader {
    engine_read_fn read_fn;
    void *read_ctx;
    char first[512]; /* read ahead before the request starts */
    size_t first_len, first_off;
    bool at_end;
};

static int body_read(void *ctx, char *buf, size_t cap, size_t *ret_len, struct zp_err *err)
{
    struct body_reader *b = ctx;
    if (b->first_off < b->first_len) {
        size_t n = b->first_len - b->first_off < cap ? b->first_len - b->first_off : cap;
        memcpy(buf, b->first + b->first_off, n);
        b->first_off += n;
        *ret_len = n;
        return 0;
    }
    if (b->at_end) {
        *ret_len = 0;
        return 0;
    }
    int rc = b->read_fn(b->read_ctx, buf, cap, ret_len, err);
    if (rc == 0 && *ret_len == 0)
        b->at_end = true;
    return rc;
}

int engine_image_build_stream(struct engine *e, const struct engine_build_opts *opts,
                              engine_read_fn read_fn, void *read_ctx,
                              engine_progress_fn on_progress, void *ctx, char **ret_image_id,
                              struct zp_err *err)
{
    static const struct engine_build_opts defaults;
    if (!opts)
        opts = &defaults;
    struct zp_buf q = ZP_BUF_INIT;
    char num[32];
    if (opts->tag)
        engine__query_add(&q, "t", opts->tag);
    for (size_t i = 0; opts->tags && opts->tags[i]; i++)
        engine__query_add(&q, "t", opts->tags[i]);
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
    if (opts->network_mode)
        engine__query_add(&q, "networkmode", opts->network_mode);
    if (opts->extra_hosts && opts->extra_hosts[0]) {
        struct zp_buf h = ZP_BUF_INIT;
        for (size_t i = 0; opts->extra_hosts[i]; i++)
            zp_buf_addf(&h, "%s%s", i ? "," : "", opts->extra_hosts[i]);
        engine__query_add(&q, "extrahosts", zp_buf_cstr(&h));
        zp_buf_release(&h);
    }
    if (opts->shm_size > 0) {
        snprintf(num, sizeof(num), "%lld", (long long)opts->shm_size);
        engine__query_add(&q, "shmsize", num);
    }
    if (opts->cache_from && opts->cache_from[0]) {
        char *s = list_json(opts->cache_from);
        engine__query_add(&q, "cachefrom", s);
        free(s);
    }
    if (opts->platform)
        engine__query_add(&q, "platform", opts->platform);
    const char *name = opts->tag ? opts->tag : opts->tags && opts->tags[0] ? opts->tags[0] : NULL;
    char *what = name ? zp_asprintf("building image '%s'", name) : zp_strdup("building an image");
    struct body_reader br = {.read_fn = read_fn, .read_ctx = read_ctx};
    struct engine__req req = {.method = "POST",
                              .path = "/build",
                              .query = zp_buf_cstr(&q),
                              .read_fn = body_read,
                              .read_ctx = &br,
                              .content_type = "application/x-tar",
                              .timeout_ms = -1,
                              .what = what};
    struct build_ctx b = {.on_progress = on_progress, .ctx = ctx};
    engine_jsonl_init(&b.jsonl, 0, build_line, &b);
    /* Read the first bytes now: an empty context is the caller's mistake, not the
     * engine's, and is reported without a request. */
    int rc = read_fn(read_ctx, br.first, sizeof(br.first), &br.first_len, err);
    if (rc == 0 && br.first_len > sizeof(br.first))
        ZP_BUG("read callback returned more than it was asked for");
    if (rc == 0 && br.first_len == 0)
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "%s: empty build context", what);
    if (rc == 0)
        rc = engine__request_stream(e, &req, build_chunk, &b, err);
    if (rc > 0)
        rc = 0;
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

/* ---- events ---- */

struct events_ctx {
    struct engine_jsonl_decoder jsonl;
    engine_event_fn on_event;
    void *ctx;
};

static int events_line(void *ctx, const char *json, size_t len, struct zp_err *err)
{
    struct events_ctx *ev = ctx;
    struct engine_event event;
    int rc = engine_event_parse(json, len, &event, err);
    if (rc != 0)
        return rc;
    rc = ev->on_event(ev->ctx, &event, err);
    engine_event_release(&event);
    return rc;
}

static int events_chunk(void *ctx, const char *data, size_t len, struct zp_err *err)
{
    struct events_ctx *ev = ctx;
    return engine_jsonl_feed(&ev->jsonl, data, len, err);
}

int engine_events(struct engine *e, int64_t since, int64_t until,
                  const struct engine_events_filter *filters, engine_event_fn on_event, void *ctx,
                  struct zp_err *err)
{
    struct zp_buf q = ZP_BUF_INIT;
    char num[32];
    if (since > 0) {
        snprintf(num, sizeof(num), "%lld", (long long)since);
        engine__query_add(&q, "since", num);
    }
    if (until > 0) {
        snprintf(num, sizeof(num), "%lld", (long long)until);
        engine__query_add(&q, "until", num);
    }
    if (filters) {
        const struct engine__filter f[] = {
            {"label", filters->labels},
            {"type", filters->types},
            {"event", filters->actions},
            {"container", filters->containers},
        };
        engine__query_filters(&q, f, sizeof(f) / sizeof(f[0]));
    }
    const char *what = "reading engine events";
    struct engine__req req = {.method = "GET",
                              .path = "/events",
                              .query = zp_buf_cstr(&q),
                              .timeout_ms = -1,
                              .what = what};
    struct events_ctx ev = {.on_event = on_event, .ctx = ctx};
    engine_jsonl_init(&ev.jsonl, 0, events_line, &ev);
    int rc = engine__request_stream(e, &req, events_chunk, &ev, err);
    if (rc == 0)
        rc = engine_jsonl_finish(&ev.jsonl, err);
    if (rc > 0)
        rc = 0;
    if (rc != 0 && err->code && !zp_str_has_prefix(err->msg, what))
        zp_err_prefix(err, "%s", what);
    engine_jsonl_release(&ev.jsonl);
    zp_buf_release(&q);
    return rc;
}

/* engine/stream: incremental decoders for the engine's streams (the 8-byte framed
 * logs/attach stream and newline-delimited JSON) and parsers for their messages. Pure:
 * the transport feeds them whatever chunks arrive. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"

#include "../util/banned.h"

/* ---- multiplexed stream ---- */

void engine_mux_init(struct engine_mux_decoder *d, size_t max_frame, engine_frame_fn on_frame,
                     void *ctx)
{
    memset(d, 0, sizeof(*d));
    d->on_frame = on_frame;
    d->ctx = ctx;
    d->max_frame = max_frame ? max_frame : ENGINE_DEFAULT_MAX_FRAME;
    zp_buf_init(&d->payload, d->max_frame);
}

void engine_mux_release(struct engine_mux_decoder *d)
{
    if (!d)
        return;
    zp_buf_release(&d->payload);
}

static int mux_fail(struct engine_mux_decoder *d, int code)
{
    d->failed = code;
    return code;
}

/* Check a complete header and start its frame. */
static int mux_header(struct engine_mux_decoder *d, struct zp_err *err)
{
    const unsigned char *h = d->hdr;
    uint64_t at = d->offset - 8;
    if (h[0] > ENGINE_STREAM_SYSTEMERR || h[1] || h[2] || h[3])
        return mux_fail(d, zp_err_set(err, ZP_E_ENGINE, NULL,
                                      "engine stream: bad frame header at byte %llu "
                                      "(%02x %02x %02x %02x): not a multiplexed stream",
                                      (unsigned long long)at, h[0], h[1], h[2], h[3]));
    size_t len = ((size_t)h[4] << 24) | ((size_t)h[5] << 16) | ((size_t)h[6] << 8) | h[7];
    if (len > d->max_frame)
        return mux_fail(d, zp_err_set(err, ZP_E_TOOBIG, NULL,
                                      "engine stream: frame at byte %llu too big (%zu bytes, "
                                      "at most %zu)",
                                      (unsigned long long)at, len, d->max_frame));
    d->stream = (enum engine_stream)h[0];
    d->frame_len = len;
    d->hdr_len = 0;
    d->in_payload = len > 0;
    zp_buf_reset(&d->payload);
    return 0;
}

static int mux_emit(struct engine_mux_decoder *d, const char *data, size_t len, struct zp_err *err)
{
    d->in_payload = false;
    int rc = d->on_frame(d->ctx, d->stream, data, len, err);
    if (rc != 0) {
        if (rc < 0 && !err->code)
            zp_err_set(err, ZP_E_INTERNAL, NULL, "engine stream: frame handler failed");
        return mux_fail(d, rc);
    }
    return 0;
}

int engine_mux_feed(struct engine_mux_decoder *d, const void *data, size_t len, struct zp_err *err)
{
    const char *p = data;
    if (d->failed)
        return zp_err_set(err, d->failed, NULL, "engine stream: decoding already failed");
    while (len > 0) {
        if (!d->in_payload) {
            size_t take = 8 - d->hdr_len < len ? 8 - d->hdr_len : len;
            memcpy(d->hdr + d->hdr_len, p, take);
            d->hdr_len += take;
            d->offset += take;
            p += take;
            len -= take;
            if (d->hdr_len == 8) {
                int rc = mux_header(d, err);
                if (rc != 0)
                    return rc;
            }
            continue;
        }
        size_t need = d->frame_len - d->payload.len;
        if (d->payload.len == 0 && len >= need) {
            /* The whole frame is in this chunk: hand it over without copying. */
            d->offset += need;
            int rc = mux_emit(d, p, need, err);
            if (rc != 0)
                return rc;
            p += need;
            len -= need;
            continue;
        }
        size_t take = need < len ? need : len;
        if (zp_buf_add(&d->payload, p, take) != 0)
            ZP_BUG("frame buffer below its checked cap");
        d->offset += take;
        p += take;
        len -= take;
        if (d->payload.len == d->frame_len) {
            int rc = mux_emit(d, d->payload.p, d->payload.len, err);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int engine_mux_finish(struct engine_mux_decoder *d, struct zp_err *err)
{
    if (d->failed)
        return zp_err_set(err, d->failed, NULL, "engine stream: decoding already failed");
    if (d->hdr_len > 0 || d->in_payload)
        return mux_fail(d, zp_err_set(err, ZP_E_ENGINE, NULL,
                                      "engine stream: truncated inside a frame at byte %llu",
                                      (unsigned long long)d->offset));
    return 0;
}

/* ---- newline-delimited JSON ---- */

void engine_jsonl_init(struct engine_jsonl_decoder *d, size_t max_line, engine_line_fn on_line,
                       void *ctx)
{
    memset(d, 0, sizeof(*d));
    d->on_line = on_line;
    d->ctx = ctx;
    d->max_line = max_line ? max_line : ENGINE_DEFAULT_MAX_LINE;
    zp_buf_init(&d->line, d->max_line);
}

void engine_jsonl_release(struct engine_jsonl_decoder *d)
{
    if (!d)
        return;
    zp_buf_release(&d->line);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Deliver one line (without its '\n'). */
static int jsonl_line(struct engine_jsonl_decoder *d, const char *s, size_t len, struct zp_err *err)
{
    d->lineno++;
    while (len > 0 && is_space(s[len - 1]))
        len--;
    while (len > 0 && is_space(*s)) {
        s++;
        len--;
    }
    if (len == 0)
        return 0;
    /* jansson stops at a NUL byte; JSON text never holds one, and callers get C strings. */
    if (memchr(s, '\0', len)) {
        d->failed = zp_err_set(err, ZP_E_ENGINE, NULL,
                               "engine stream: line %llu is not JSON: it holds a NUL byte",
                               (unsigned long long)d->lineno);
        return d->failed;
    }
    json_error_t jerr;
    /* Only checked here: numbers as reals so that uint64 counters above INT64_MAX (the
     * stats stream has them) do not count as malformed. */
    json_t *j = json_loadb(s, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &jerr);
    if (!j) {
        d->failed = zp_err_set(err, ZP_E_ENGINE, NULL,
                               "engine stream: line %llu is not JSON: %s at column %d",
                               (unsigned long long)d->lineno, jerr.text, jerr.column);
        return d->failed;
    }
    json_decref(j);
    /* The callback gets a NUL-terminated copy; s may point into the caller's chunk. */
    char *copy = zp_strndup(s, len);
    int rc = d->on_line(d->ctx, copy, len, err);
    free(copy);
    if (rc != 0) {
        if (rc < 0 && !err->code)
            zp_err_set(err, ZP_E_INTERNAL, NULL, "engine stream: line handler failed");
        d->failed = rc;
    }
    return rc;
}

static int jsonl_too_big(struct engine_jsonl_decoder *d, struct zp_err *err)
{
    d->failed = zp_err_set(err, ZP_E_TOOBIG, NULL,
                           "engine stream: line %llu too long (more than %zu bytes)",
                           (unsigned long long)d->lineno + 1, d->max_line);
    return d->failed;
}

int engine_jsonl_feed(struct engine_jsonl_decoder *d, const void *data, size_t len,
                      struct zp_err *err)
{
    const char *p = data;
    if (d->failed)
        return zp_err_set(err, d->failed, NULL, "engine stream: decoding already failed");
    while (len > 0) {
        const char *nl = memchr(p, '\n', len);
        size_t seg = nl ? (size_t)(nl - p) : len;
        int rc;
        if (d->line.len == 0 && nl) {
            if (seg > d->max_line)
                return jsonl_too_big(d, err);
            rc = jsonl_line(d, p, seg, err);
        } else {
            if (zp_buf_add(&d->line, p, seg) != 0)
                return jsonl_too_big(d, err);
            rc = 0;
            if (nl) {
                rc = jsonl_line(d, d->line.p, d->line.len, err);
                zp_buf_reset(&d->line);
            }
        }
        if (rc != 0)
            return rc;
        p += seg + (nl ? 1 : 0);
        len -= seg + (nl ? 1 : 0);
    }
    return 0;
}

int engine_jsonl_finish(struct engine_jsonl_decoder *d, struct zp_err *err)
{
    if (d->failed)
        return zp_err_set(err, d->failed, NULL, "engine stream: decoding already failed");
    int rc = 0;
    if (d->line.len > 0)
        rc = jsonl_line(d, d->line.p, d->line.len, err);
    zp_buf_reset(&d->line);
    return rc;
}

/* ---- messages ---- */

static json_t *load_object(const char *json, size_t len, const char *what, struct zp_err *err)
{
    json_error_t jerr;
    json_t *j = json_loadb(json, len, 0, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        zp_err_set(err, ZP_E_ENGINE, NULL, "engine %s: not a JSON object", what);
        return NULL;
    }
    return j;
}

static char *dup_or_null(const json_t *obj, const char *key)
{
    const char *s = engine__str(obj, key);
    return s ? zp_strdup(s) : NULL;
}

int engine_progress_parse(const char *json, size_t len, struct engine_progress *ret_p,
                          struct zp_err *err)
{
    json_t *j = load_object(json, len, "progress message", err);
    if (!j)
        return ZP_E_ENGINE;
    struct engine_progress p = {0};
    p.stream = dup_or_null(j, "stream");
    p.status = dup_or_null(j, "status");
    p.id = dup_or_null(j, "id");
    p.error = dup_or_null(j, "error");
    if (!p.error)
        p.error = dup_or_null(json_object_get(j, "errorDetail"), "message");
    p.aux_id = dup_or_null(json_object_get(j, "aux"), "ID");
    json_decref(j);
    *ret_p = p;
    return 0;
}

void engine_progress_release(struct engine_progress *p)
{
    if (!p)
        return;
    free(p->stream);
    free(p->status);
    free(p->id);
    free(p->error);
    free(p->aux_id);
    memset(p, 0, sizeof(*p));
}

int engine_event_parse(const char *json, size_t len, struct engine_event *ret_ev,
                       struct zp_err *err)
{
    json_t *j = load_object(json, len, "event", err);
    if (!j)
        return ZP_E_ENGINE;
    const json_t *actor = json_object_get(j, "Actor");
    struct engine_event ev = {0};
    ev.type = engine__strdup(j, "Type");
    ev.action = engine__strdup(j, "Action");
    ev.actor_id = engine__strdup(actor, "ID");
    engine__map_labels(json_object_get(actor, "Attributes"), &ev.attributes);
    json_t *tn = json_object_get(j, "timeNano");
    json_t *t = json_object_get(j, "time");
    if (json_is_integer(tn))
        ev.time_nano = (int64_t)json_integer_value(tn);
    else if (json_is_integer(t) && json_integer_value(t) >= 0 &&
             json_integer_value(t) < INT64_MAX / 1000000000)
        ev.time_nano = (int64_t)json_integer_value(t) * 1000000000;
    json_decref(j);
    *ret_ev = ev;
    return 0;
}

void engine_event_release(struct engine_event *ev)
{
    if (!ev)
        return;
    free(ev->type);
    free(ev->action);
    free(ev->actor_id);
    engine_labels_release(&ev->attributes);
    memset(ev, 0, sizeof(*ev));
}

/* engine/stats: a container's resource usage (GET /containers/{id}/stats): one sample, or
 * the stream of samples through the JSON-lines decoder; cgroup v1 and v2 shapes mapped to
 * one struct. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine-int.h"

#include "../util/banned.h"

/* ---- parsing (pure) ---- */

/* A counter member: a non-negative integer, or a real when the document was read with
 * integers as reals (values above INT64_MAX); 0 when absent, null or negative. */
static uint64_t u64_member(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (json_is_integer(v))
        return json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
    if (json_is_real(v)) {
        double d = json_real_value(v);
        /* 2^64 is exactly representable; anything at or above it saturates */
        if (d >= 18446744073709551616.0)
            return UINT64_MAX;
        return d > 0 ? (uint64_t)d : 0;
    }
    return 0;
}

/* Sum the values of the entries of a blkio list whose op is op (any case). */
static uint64_t blkio_sum(const json_t *list, const char *op)
{
    uint64_t sum = 0;
    for (size_t i = 0; json_is_array(list) && i < json_array_size(list); i++) {
        const json_t *entry = json_array_get(list, i);
        const char *o = engine__str(entry, "op");
        if (o && strcasecmp(o, op) == 0)
            sum += u64_member(entry, "value");
    }
    return sum;
}

int engine_stats_parse(const char *json, size_t len, struct engine_stats *ret, struct zp_err *err)
{
    json_error_t jerr;
    json_t *j = json_loadb(json, len, 0, &jerr);
    if (!j) /* e.g. pids_stats.limit = 2^64 - 1: keep the document, lose the big values' exactness
             */
        j = json_loadb(json, len, JSON_DECODE_INT_AS_REAL, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        return zp_err_set(err, ZP_E_ENGINE, NULL, "engine stats: not a JSON object");
    }
    struct engine_stats s = {0};
    s.read_ns = engine__time_ns(engine__str(j, "read"));

    const json_t *cpu = json_object_get(j, "cpu_stats");
    const json_t *usage = json_object_get(cpu, "cpu_usage");
    s.cpu_total = u64_member(usage, "total_usage");
    s.system_cpu = u64_member(cpu, "system_cpu_usage");
    s.online_cpus = u64_member(cpu, "online_cpus");
    if (s.online_cpus == 0) { /* older engines, and cgroup v1 */
        const json_t *percpu = json_object_get(usage, "percpu_usage");
        s.online_cpus = json_is_array(percpu) ? json_array_size(percpu) : 0;
    }
    const json_t *pre = json_object_get(j, "precpu_stats");
    s.pre_cpu_total = u64_member(json_object_get(pre, "cpu_usage"), "total_usage");
    s.pre_system_cpu = u64_member(pre, "system_cpu_usage");

    const json_t *mem = json_object_get(j, "memory_stats");
    const json_t *mstats = json_object_get(mem, "stats");
    s.mem_usage = u64_member(mem, "usage");
    s.mem_limit = u64_member(mem, "limit");
    /* cgroup v1 has both keys (total_ counts the hierarchy); v2 only inactive_file */
    if (json_object_get(mstats, "total_inactive_file"))
        s.mem_cache = u64_member(mstats, "total_inactive_file");
    else
        s.mem_cache = u64_member(mstats, "inactive_file");

    const json_t *nets = json_object_get(j, "networks");
    const char *key;
    json_t *v;
    if (json_is_object(nets)) {
        json_object_foreach((json_t *)nets, key, v)
        {
            s.net_rx += u64_member(v, "rx_bytes");
            s.net_tx += u64_member(v, "tx_bytes");
        }
    }
    const json_t *io =
        json_object_get(json_object_get(j, "blkio_stats"), "io_service_bytes_recursive");
    s.blk_read = blkio_sum(io, "read");
    s.blk_write = blkio_sum(io, "write");
    s.pids = u64_member(json_object_get(j, "pids_stats"), "current");
    json_decref(j);
    *ret = s;
    return 0;
}

/* ---- calls ---- */

static char *stats_path(const char *id)
{
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_adds(&b, "/containers/");
    engine__escape(&b, id, false);
    zp_buf_adds(&b, "/stats");
    return zp_buf_detach(&b, NULL);
}

int engine_container_stats(struct engine *e, const char *id, bool one_shot,
                           struct engine_stats *ret, struct zp_err *err)
{
    char *path = stats_path(id);
    char *what = zp_asprintf("reading the resource usage of container '%s'", id);
    /* one-shot exists from API 1.41, the oldest we speak */
    struct engine__req req = {.method = "GET",
                              .path = path,
                              .query = one_shot ? "stream=false&one-shot=true" : "stream=false",
                              .what = what};
    char *body = NULL;
    size_t len = 0;
    long status = 0;
    int rc = engine__request_text(e, &req, &status, &body, &len, err);
    if (rc == 0) {
        rc = engine_stats_parse(body, len, ret, err);
        if (rc != 0)
            zp_err_prefix(err, "%s", what);
    }
    free(body);
    free(path);
    free(what);
    return rc;
}

struct stats_stream {
    struct engine_jsonl_decoder jsonl;
    engine_stats_fn fn;
    void *ctx;
};

static int stats_line(void *ctx, const char *json, size_t len, struct zp_err *err)
{
    struct stats_stream *st = ctx;
    struct engine_stats s;
    int rc = engine_stats_parse(json, len, &s, err);
    if (rc != 0)
        return rc;
    /* The engine keeps sending empty samples (zero read time) for a container that is not
     * running: the stream is over. */
    if (s.read_ns == 0)
        return ENGINE_STOP;
    return st->fn(st->ctx, &s, err);
}

static int stats_chunk(void *ctx, const char *data, size_t len, struct zp_err *err)
{
    struct stats_stream *st = ctx;
    return engine_jsonl_feed(&st->jsonl, data, len, err);
}

int engine_container_stats_stream(struct engine *e, const char *id, engine_stats_fn fn, void *ctx,
                                  struct zp_err *err)
{
    char *path = stats_path(id);
    char *what = zp_asprintf("streaming the resource usage of container '%s'", id);
    struct engine__req req = {
        .method = "GET", .path = path, .query = "stream=true", .timeout_ms = -1, .what = what};
    struct stats_stream st = {.fn = fn, .ctx = ctx};
    engine_jsonl_init(&st.jsonl, 0, stats_line, &st);
    int rc = engine__request_stream(e, &req, stats_chunk, &st, err);
    if (rc == 0)
        rc = engine_jsonl_finish(&st.jsonl, err);
    if (rc > 0)
        rc = 0;
    if (rc != 0 && err->code && !zp_str_has_prefix(err->msg, what))
        zp_err_prefix(err, "%s", what);
    engine_jsonl_release(&st.jsonl);
    free(path);
    free(what);
    return rc;
}

/* Fuzz target for the engine's stream decoders: the input's first bytes choose how the
 * rest is split into chunks; the rest is fed to the multiplexed-stream decoder and to the
 * JSON-lines decoder (with small caps so the limits are exercised too), whose lines go to
 * the progress, event and stats parsers, and to the mappers of Swarm answers (services,
 * tasks, nodes, configs: the same decoding path as a recorded answer's body), and to
 * the version negotiations (a line as GET /version's body, and as /_ping's Api-Version
 * and Server headers: the part before a tab and the part after it). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine-int.h"
#include "engine/engine.h"
#include "util/util.h"

#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
    size_t frames, bytes;
};

static int on_frame(void *ctx, enum engine_stream stream, const char *data, size_t len,
                    struct zp_err *err)
{
    struct tally *t = ctx;
    (void)err;
    if (stream > ENGINE_STREAM_SYSTEMERR || len == 0)
        ZP_BUG("decoder delivered a bad frame");
    t->frames++;
    t->bytes += len;
    if (data[0] == 'Q' && len == 1) /* exercise the callback-error path */
        return zp_err_set(err, ZP_E_INPUT, NULL, "stop");
    return 0;
}

/* A line as a Swarm answer: a list (services, tasks, nodes, configs) or one service. */
static void swarm_maps(const char *json, size_t len, struct zp_err *err)
{
    json_t *j = json_loadb(json, len, 0, NULL);
    if (!j)
        return;
    struct engine_service_list sl;
    if (engine__map_service_list(j, &sl, err) == 0)
        engine_service_list_release(&sl);
    zp_err_init(err);
    struct engine_task_list tl;
    if (engine__map_task_list(j, &tl, err) == 0)
        engine_task_list_release(&tl);
    zp_err_init(err);
    struct engine_node_list nl;
    if (engine__map_node_list(j, &nl, err) == 0)
        engine_node_list_release(&nl);
    zp_err_init(err);
    struct engine_swarm_obj_list ol;
    if (engine__map_swarm_obj_list(j, &ol, err) == 0)
        engine_swarm_obj_list_release(&ol);
    if (json_is_object(j)) {
        struct engine_service s;
        if (engine__map_service(j, &s) == 0)
            engine_service_release(&s);
    }
    json_decref(j);
}

static void check_minor(int minor)
{
    if (minor < ENGINE_API_MIN_MINOR || minor > ENGINE_API_MAX_MINOR)
        ZP_BUG("negotiation picked an API version outside ours");
}

/* A line as the version answers: /version's JSON body, /_ping's two headers. */
static void versions(const char *line, size_t len, struct zp_err *err)
{
    int minor = 0;
    char *server = NULL;
    json_t *j = json_loadb(line, len, 0, NULL);
    if (j != NULL && engine__negotiate(j, &minor, &server, err) == 0) {
        check_minor(minor);
        free(server);
    }
    json_decref(j);
    zp_err_init(err);
    const char *tab = strchr(line, '\t');
    char *api = zp_strndup(line, tab ? (size_t)(tab - line) : len);
    server = NULL;
    if (engine__negotiate_ping(api, tab ? tab + 1 : NULL, &minor, &server, err) == 0) {
        check_minor(minor);
        free(server);
    }
    free(api);
    zp_err_init(err);
}

static int on_line(void *ctx, const char *json, size_t len, struct zp_err *err)
{
    struct tally *t = ctx;
    if (strlen(json) != len || len == 0)
        ZP_BUG("decoder delivered a bad line");
    t->frames++;
    t->bytes += len;
    struct engine_progress p;
    if (engine_progress_parse(json, len, &p, err) == 0)
        engine_progress_release(&p);
    struct engine_event ev;
    zp_err_init(err);
    if (engine_event_parse(json, len, &ev, err) == 0)
        engine_event_release(&ev);
    zp_err_init(err);
    struct engine_stats st;
    if (engine_stats_parse(json, len, &st, err) == 0 && st.read_ns < 0)
        ZP_BUG("stats parser gave a negative time");
    zp_err_init(err);
    swarm_maps(json, len, err);
    zp_err_init(err);
    versions(json, len, err);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    /* Chunk sizes cycle through 1 + the first two bytes' values. */
    size_t steps[2] = {1 + (size_t)data[0], 1 + (size_t)data[1] % 17};
    data += 2;
    size -= 2;

    struct tally t = {0, 0};
    struct zp_err err;
    zp_err_init(&err);
    struct engine_mux_decoder mux;
    engine_mux_init(&mux, 4096, on_frame, &t);
    int rc = 0;
    for (size_t off = 0, i = 0; rc == 0 && off < size; i++) {
        size_t n = steps[i % 2] < size - off ? steps[i % 2] : size - off;
        rc = engine_mux_feed(&mux, data + off, n, &err);
        off += n;
    }
    if (rc == 0)
        engine_mux_finish(&mux, &err);
    engine_mux_release(&mux);
    if (t.bytes > size)
        ZP_BUG("mux decoder delivered more than it was fed");

    struct tally lt = {0, 0};
    zp_err_init(&err);
    struct engine_jsonl_decoder jl;
    engine_jsonl_init(&jl, 512, on_line, &lt);
    rc = 0;
    for (size_t off = 0, i = 0; rc == 0 && off < size; i++) {
        size_t n = steps[(i + 1) % 2] < size - off ? steps[(i + 1) % 2] : size - off;
        rc = engine_jsonl_feed(&jl, data + off, n, &err);
        off += n;
    }
    if (rc == 0)
        engine_jsonl_finish(&jl, &err);
    engine_jsonl_release(&jl);
    if (lt.bytes > size)
        ZP_BUG("jsonl decoder delivered more than it was fed");
    return 0;
}

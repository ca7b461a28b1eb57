/* engine: zpanel's Docker Engine API client: transport (unix socket or TCP), version
 * negotiation, typed calls, and decoders for the engine's streams. Only this module
 * knows API paths; JSON and HTTP library types never appear here. */
#ifndef ZP_ENGINE_H
#define ZP_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

/* API versions, as the minor number of "1.NN". We refuse engines below the minimum
 * (Debian 12's docker.io speaks 1.41) and never ask for more than the maximum. */
#define ENGINE_API_MIN_MINOR 41
#define ENGINE_API_MAX_MINOR 45

/* Default host when neither the caller nor DOCKER_HOST names one. */
#define ENGINE_DEFAULT_HOST "unix:///var/run/docker.sock"

/* Caps on what the engine sends us. */
#define ENGINE_MAX_RESPONSE ((size_t)64 << 20)     /* one non-streamed response body */
#define ENGINE_DEFAULT_MAX_FRAME ((size_t)1 << 20) /* one multiplexed stream frame */
#define ENGINE_DEFAULT_MAX_LINE ((size_t)1 << 20)  /* one line of a JSON-lines stream */

/* Default timeouts in milliseconds (engine_set_timeouts changes them). */
#define ENGINE_CONNECT_TIMEOUT_MS 5000L
#define ENGINE_REQUEST_TIMEOUT_MS 60000L

/* ---- transport and lifecycle ---- */

struct engine;

/* Initialise libcurl for the whole process. Call once from main before any thread
 * starts (libcurl's global init is not thread-safe); later calls are no-ops.
 * Errors: ZP_E_SYSTEM. */
int engine_global_init(struct zp_err *err);
/* Undo engine_global_init; call once at exit after every engine is freed. */
void engine_global_cleanup(void);

/* A client for the engine at host: "unix:///path/to/docker.sock" or "tcp://HOST:PORT"
 * (plain HTTP). host NULL or "" means $DOCKER_HOST, then ENGINE_DEFAULT_HOST. Nothing is
 * sent yet. One struct engine holds one connection and must be used by one thread at a
 * time: give each worker thread its own. engine_global_init must have run.
 * Returns NULL with err set (ZP_E_INPUT for a malformed or unsupported host). */
struct engine *engine_new(const char *host, struct zp_err *err);
/* Close the connection and free e; NULL is accepted. */
void engine_free(struct engine *e);
/* Change the connect timeout and the default per-request timeout (milliseconds, > 0). */
void engine_set_timeouts(struct engine *e, long connect_ms, long request_ms);
/* The host e talks to, as normalised by engine_new (borrowed). */
const char *engine_host(const struct engine *e);

/* Negotiate the API version: GET /version, then use min(ENGINE_API_MAX_MINOR, the
 * engine's ApiVersion). Every typed call below connects first when this has not run.
 * Errors: ZP_E_ENGINE (unreachable engine, engine older than 1.41, or one that needs a
 * newer API than we speak), ZP_E_TOOBIG. */
int engine_connect(struct engine *e, struct zp_err *err);
/* The negotiated version, e.g. "1.41" (borrowed); NULL before engine_connect. */
const char *engine_api_version(const struct engine *e);
/* The engine's own version string, e.g. "20.10.24+dfsg1" (borrowed); NULL before
 * engine_connect. */
const char *engine_server_version(const struct engine *e);

/* Error convention for every call below: 0 on success; otherwise a negative zp_code with
 * err set to "<what was done>: <engine message> (HTTP <status>)": ZP_E_NOTFOUND for
 * HTTP 404, ZP_E_CONFLICT for 409, ZP_E_ENGINE for other statuses, transport failures
 * and malformed answers, ZP_E_TOOBIG when a response passes its cap. ret_ outputs are
 * written only on success and belong to the caller. */

/* ---- system ---- */

/* GET /_ping: succeeds when the engine answers "OK". Does not need engine_connect. */
int engine_ping(struct engine *e, struct zp_err *err);

/* What zpanel needs to know about the host (GET /info). Strings are "" when absent. */
struct engine_info {
    char *server_version;   /* "20.10.24+dfsg1" */
    char *name;             /* host name */
    char *os_type;          /* "linux" */
    char *operating_system; /* "Debian GNU/Linux 12 (bookworm)" */
    char *architecture;     /* "x86_64" */
    char *kernel_version;
    char *cgroup_version; /* "1" or "2" */
    char *swarm_state;    /* Swarm.LocalNodeState: "inactive", "active", ... */
    int64_t ncpu;         /* NCPU */
    int64_t mem_total;    /* MemTotal, bytes */
};

/* Fill *ret_info; release it with engine_info_release. */
int engine_info(struct engine *e, struct engine_info *ret_info, struct zp_err *err);
void engine_info_release(struct engine_info *info);

/* ---- labels: an owned list of key=value pairs ---- */

struct engine_label {
    char *key;
    char *value;
};

struct engine_labels {
    struct engine_label *items; /* sorted by key */
    size_t n;
};

/* A key/value pair given to the engine (labels of new objects); both borrowed. */
struct engine_kv {
    const char *key;
    const char *value;
};

/* The value for key (borrowed), or NULL when absent. */
const char *engine_labels_get(const struct engine_labels *l, const char *key);
void engine_labels_release(struct engine_labels *l);

/* Label filters are NULL-terminated arrays of "key" (has the label) or "key=value"
 * strings; every filter must match. NULL means no filter. */

/* ---- images ---- */

/* Does image ref (name[:tag], or an ID) exist locally? On success *ret_id (may be NULL)
 * gets the image ID ("sha256:...") or NULL when it does not exist; a missing image is
 * not an error here. */
int engine_image_inspect(struct engine *e, const char *ref, bool *ret_exists, char **ret_id,
                         struct zp_err *err);
/* DELETE /images/{ref}. Errors: ZP_E_NOTFOUND, ZP_E_CONFLICT (in use, unless force). */
int engine_image_remove(struct engine *e, const char *ref, bool force, struct zp_err *err);

/* ---- networks ---- */

struct engine_network_opts {
    const char *driver; /* NULL: the engine's default ("bridge") */
    bool internal;
    bool attachable;
    const struct engine_kv *labels; /* borrowed, n_labels items */
    size_t n_labels;
};

/* Create network name (CheckDuplicate set). *ret_id (may be NULL) gets its ID.
 * Errors: ZP_E_CONFLICT when a network of that name exists. */
int engine_network_create(struct engine *e, const char *name,
                          const struct engine_network_opts *opts, char **ret_id,
                          struct zp_err *err);
/* Remove network name_or_id. Errors: ZP_E_NOTFOUND; ZP_E_ENGINE or ZP_E_CONFLICT while
 * containers use it. */
int engine_network_remove(struct engine *e, const char *name_or_id, struct zp_err *err);
/* Does network name_or_id exist? A missing network is not an error. */
int engine_network_exists(struct engine *e, const char *name_or_id, bool *ret_exists,
                          struct zp_err *err);

struct engine_network {
    char *id;
    char *name;
    char *driver;
    char *scope;
    struct engine_labels labels;
};

struct engine_network_list {
    struct engine_network *items;
    size_t n;
};

/* Networks matching every label filter (see above), sorted by name. */
int engine_network_list(struct engine *e, const char *const *label_filters,
                        struct engine_network_list *ret_list, struct zp_err *err);
void engine_network_list_release(struct engine_network_list *l);

/* ---- volumes ---- */

struct engine_volume_opts {
    const char *driver;             /* NULL: "local" */
    const struct engine_kv *labels; /* borrowed, n_labels items */
    size_t n_labels;
};

/* Create volume name; the engine returns an existing volume of that name unchanged (the
 * caller compares labels when it cares). */
int engine_volume_create(struct engine *e, const char *name, const struct engine_volume_opts *opts,
                         struct zp_err *err);
/* Remove volume name. Errors: ZP_E_NOTFOUND, ZP_E_CONFLICT (in use). */
int engine_volume_remove(struct engine *e, const char *name, bool force, struct zp_err *err);
/* Does volume name exist? A missing volume is not an error. */
int engine_volume_exists(struct engine *e, const char *name, bool *ret_exists, struct zp_err *err);

struct engine_volume {
    char *name;
    char *driver;
    char *mountpoint;
    struct engine_labels labels;
};

struct engine_volume_list {
    struct engine_volume *items;
    size_t n;
};

/* Volumes matching every label filter, sorted by name. */
int engine_volume_list(struct engine *e, const char *const *label_filters,
                       struct engine_volume_list *ret_list, struct zp_err *err);
void engine_volume_list_release(struct engine_volume_list *l);

/* ---- containers ---- */

/* One row of GET /containers/json. */
struct engine_container_summary {
    char *id;
    char **names; /* without the leading '/', n_names items */
    size_t n_names;
    char *image;
    char *image_id;
    char *state;     /* "created", "running", "exited", ... */
    char *status;    /* "Up 2 minutes", ... */
    int64_t created; /* Unix seconds */
    struct engine_labels labels;
};

struct engine_container_list {
    struct engine_container_summary *items;
    size_t n;
};

/* Containers (running or not when all) matching every label filter, sorted by first
 * name. */
int engine_container_list(struct engine *e, const char *const *label_filters, bool all,
                          struct engine_container_list *ret_list, struct zp_err *err);
void engine_container_list_release(struct engine_container_list *l);

/* Create container name (NULL: the engine picks one) from config_json, the body of
 * POST /containers/create (Image, Cmd, Labels, HostConfig, NetworkingConfig, ...).
 * *ret_id (may be NULL) gets the new ID. Errors: ZP_E_NOTFOUND (no such image; the
 * message names it), ZP_E_CONFLICT (the name is taken), ZP_E_INPUT (config_json is not
 * JSON). */
int engine_container_create(struct engine *e, const char *name, const char *config_json,
                            char **ret_id, struct zp_err *err);
/* Start a container; an already running one is not an error. */
int engine_container_start(struct engine *e, const char *id, struct zp_err *err);
/* Stop a container, killing it after timeout_s seconds (negative: the container's own
 * StopTimeout or the engine's default); a stopped one is not an error. */
int engine_container_stop(struct engine *e, const char *id, int timeout_s, struct zp_err *err);
/* Remove a container; force kills it first when running, volumes also removes its
 * anonymous volumes. */
int engine_container_remove(struct engine *e, const char *id, bool force, bool volumes,
                            struct zp_err *err);

/* What GET /containers/{id}/json says, with the fields zpanel uses mapped. */
struct engine_container {
    char *json; /* the raw response text */
    char *id;
    char *name;        /* without the leading '/' */
    char *image_id;    /* "Image": the image ID */
    char *status;      /* State.Status: "created", "running", "exited", ... */
    char *health;      /* State.Health.Status ("starting", "healthy", "unhealthy"), or NULL
                        * when the container has no health check */
    bool running;      /* State.Running */
    int64_t exit_code; /* State.ExitCode */
    struct engine_labels labels; /* Config.Labels */
};

int engine_container_inspect(struct engine *e, const char *id, struct engine_container *ret_c,
                             struct zp_err *err);
void engine_container_release(struct engine_container *c);

/* Options of engine_container_logs (declared at the end, after the stream decoders). */

struct engine_logs_opts {
    bool follow;     /* keep streaming until the container stops */
    bool no_stdout;  /* leave out stdout */
    bool no_stderr;  /* leave out stderr */
    bool timestamps; /* prefix each line with its RFC 3339 time */
    int64_t tail;    /* the last tail lines only; <= 0: all */
    int64_t since;   /* Unix seconds; 0: from the start */
    bool tty;        /* the container has a TTY: the stream is raw, not framed */
};

/* ---- stream decoders: pure, incremental, capped ---- */

/* Stream types of the multiplexed (non-TTY) logs/attach stream. */
enum engine_stream {
    ENGINE_STREAM_STDIN = 0,
    ENGINE_STREAM_STDOUT = 1,
    ENGINE_STREAM_STDERR = 2,
    ENGINE_STREAM_SYSTEMERR = 3,
};

/* Receives one complete frame (data borrowed until it returns; empty frames are not
 * delivered). A non-zero return stops decoding and is returned by the feed call; the
 * callback sets err when it returns non-zero. */
typedef int (*engine_frame_fn)(void *ctx, enum engine_stream stream, const char *data, size_t len,
                               struct zp_err *err);

/* Decoder for the multiplexed stream: frames of an 8-byte header (stream type, three
 * zero bytes, big-endian 32-bit payload length) followed by the payload. */
struct engine_mux_decoder {
    engine_frame_fn on_frame;
    void *ctx;
    size_t max_frame;
    unsigned char hdr[8];
    size_t hdr_len;  /* header bytes received so far */
    bool in_payload; /* the header is complete, payload bytes follow */
    enum engine_stream stream;
    size_t frame_len;      /* payload length of the current frame */
    struct zp_buf payload; /* partial payload split across feeds */
    int failed;            /* first error code; later feeds return it */
    uint64_t offset;       /* stream bytes consumed, for messages */
};

/* Set up d; max_frame 0 means ENGINE_DEFAULT_MAX_FRAME. */
void engine_mux_init(struct engine_mux_decoder *d, size_t max_frame, engine_frame_fn on_frame,
                     void *ctx);
void engine_mux_release(struct engine_mux_decoder *d);
/* Feed any chunk of the stream; complete frames go to on_frame in order. Errors:
 * ZP_E_ENGINE for a bad header (unknown stream type, non-zero padding), ZP_E_TOOBIG for
 * a frame above max_frame, or the callback's code. After an error the decoder refuses
 * further input with the same code. */
int engine_mux_feed(struct engine_mux_decoder *d, const void *data, size_t len, struct zp_err *err);
/* End of stream: ZP_E_ENGINE when it stopped inside a frame. */
int engine_mux_finish(struct engine_mux_decoder *d, struct zp_err *err);

/* Receives one line that holds one JSON value (NUL-terminated, without the line end,
 * borrowed until it returns); same return convention as engine_frame_fn. */
typedef int (*engine_line_fn)(void *ctx, const char *json, size_t len, struct zp_err *err);

/* Decoder for newline-delimited JSON streams (events, build and pull progress). Blank
 * lines are skipped, "\r\n" is accepted, each line is checked to be one JSON value. */
struct engine_jsonl_decoder {
    engine_line_fn on_line;
    void *ctx;
    size_t max_line;
    struct zp_buf line; /* the partial current line */
    int failed;
    uint64_t lineno; /* lines seen, for messages */
};

/* Set up d; max_line 0 means ENGINE_DEFAULT_MAX_LINE. */
void engine_jsonl_init(struct engine_jsonl_decoder *d, size_t max_line, engine_line_fn on_line,
                       void *ctx);
void engine_jsonl_release(struct engine_jsonl_decoder *d);
/* Feed any chunk. Errors: ZP_E_TOOBIG for a line above max_line, ZP_E_ENGINE for a line
 * that is not JSON (the message gives the line number), or the callback's code; sticky
 * like engine_mux_feed. */
int engine_jsonl_feed(struct engine_jsonl_decoder *d, const void *data, size_t len,
                      struct zp_err *err);
/* End of stream: a last line without a newline is delivered. */
int engine_jsonl_finish(struct engine_jsonl_decoder *d, struct zp_err *err);

/* One message of a build or pull progress stream, parsed from a line. */
struct engine_progress {
    char *stream; /* build output text ("stream"), or NULL */
    char *status; /* pull/push status ("Downloading"), or NULL */
    char *id;     /* layer or image ID the status is about, or NULL */
    char *error;  /* error text ("error" or errorDetail.message), or NULL */
    char *aux_id; /* aux.ID: the built image ID, or NULL */
};

/* Parse one progress line. Errors: ZP_E_ENGINE when it is not a JSON object. */
int engine_progress_parse(const char *json, size_t len, struct engine_progress *ret_p,
                          struct zp_err *err);
void engine_progress_release(struct engine_progress *p);

/* One message of GET /events, parsed from a line. */
struct engine_event {
    char *type;   /* "container", "network", "volume", "image", ... */
    char *action; /* "start", "die", "health_status: healthy", ... */
    char *actor_id;
    struct engine_labels attributes; /* Actor.Attributes (labels, name, exitCode, ...) */
    int64_t time_nano;
};

int engine_event_parse(const char *json, size_t len, struct engine_event *ret_ev,
                       struct zp_err *err);
void engine_event_release(struct engine_event *ev);

/* ---- streamed calls ---- */

/* Stream a container's logs (GET /containers/{id}/logs) to on_frame: decoded frames, or
 * for a TTY container (opts->tty) raw chunks reported as ENGINE_STREAM_STDOUT. opts may
 * be NULL (everything, no follow). With follow there is no request timeout: it returns
 * when the container stops or on_frame returns non-zero (that code is returned). */
int engine_container_logs(struct engine *e, const char *id, const struct engine_logs_opts *opts,
                          engine_frame_fn on_frame, void *ctx, struct zp_err *err);

struct engine_build_opts {
    const char *tag;                /* "name:tag" to give the image, or NULL */
    const char *dockerfile;         /* path inside the context; NULL: "Dockerfile" */
    const char *target;             /* multi-stage target, or NULL */
    const struct engine_kv *labels; /* image labels, borrowed */
    size_t n_labels;
    const struct engine_kv *build_args; /* ARG values, borrowed */
    size_t n_build_args;
    bool no_cache;
    bool pull; /* try to pull newer base images (needs a registry) */
};

/* Receives one parsed progress message (borrowed until it returns); same return
 * convention as engine_frame_fn. */
typedef int (*engine_progress_fn)(void *ctx, const struct engine_progress *p, struct zp_err *err);

/* Build an image (POST /build) from a tar archive of the build context held in memory
 * (context_tar, tar_len bytes; the caller caps its size). Progress messages go to
 * on_progress when not NULL. *ret_image_id (may be NULL) gets the built image's ID.
 * Errors: ZP_E_ENGINE with the build's own error message ("building image 'TAG': ..."),
 * the errors of engine.h, or on_progress's code. There is no request timeout;
 * intermediate containers are removed also when a step fails (forcerm). */
int engine_image_build(struct engine *e, const void *context_tar, size_t tar_len,
                       const struct engine_build_opts *opts, engine_progress_fn on_progress,
                       void *ctx, char **ret_image_id, struct zp_err *err);

#endif

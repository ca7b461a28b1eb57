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

/* Initialise libcurl for the whole process, once (pthread_once: any thread may call it,
 * any number of times; engine_new calls it too). Errors: ZP_E_SYSTEM. */
int engine_global_init(struct zp_err *err);
/* Undo engine_global_init; call once at exit after every engine is freed. */
void engine_global_cleanup(void);

/* A client for the engine at host: "unix:///path/to/docker.sock" or "tcp://HOST:PORT"
 * (plain HTTP). host NULL or "" means $DOCKER_HOST, then ENGINE_DEFAULT_HOST. Nothing is
 * sent yet. One struct engine holds one connection and must be used by one thread at a
 * time: give each worker thread its own. Initialises libcurl on first use.
 * Returns NULL with err set (ZP_E_INPUT for a malformed or unsupported host). */
struct engine *engine_new(const char *host, struct zp_err *err);
/* Close the connection and free e; NULL is accepted. */
void engine_free(struct engine *e);
/* Change the connect timeout and the default per-request timeout (milliseconds, > 0). */
void engine_set_timeouts(struct engine *e, long connect_ms, long request_ms);
/* The host e talks to, as normalised by engine_new (borrowed). */
const char *engine_host(const struct engine *e);
/* Is the engine on this machine, so that paths it reports (a volume's mountpoint) are
 * ours to open? True for unix:// sockets, except the local ends of SSH tunnels (a socket
 * in a directory named ZP_TUNNEL_DIR_PREFIX...: ssh/ makes them), whose engine is
 * another machine's. */
bool engine_is_local(const struct engine *e);

/* Negotiate the API version: GET /version, then use min(ENGINE_API_MAX_MINOR, the
 * engine's ApiVersion). Every typed call below connects first when this has not run.
 * Errors: ZP_E_ENGINE (unreachable engine, engine older than 1.41, or one that needs a
 * newer API than we speak), ZP_E_TOOBIG. */
int engine_connect(struct engine *e, struct zp_err *err);
/* The negotiated version, e.g. "1.41" (borrowed); NULL before engine_connect. */
const char *engine_api_version(const struct engine *e);
/* Its minor number (41 for "1.41"); 0 before engine_connect. */
int engine_api_minor(const struct engine *e);
/* Take the API version that `from` negotiated (when it has) instead of asking the
 * engine again: for extra connections to the same engine (one GET /version each
 * otherwise). */
void engine_adopt_version(struct engine *e, const struct engine *from);
/* The engine's own version string, e.g. "20.10.24+dfsg1" (borrowed); NULL before
 * engine_connect. */
const char *engine_server_version(const struct engine *e);

/* Error convention for every call below: 0 on success; otherwise a negative zp_code with
 * err set to "<what was done> <object kind> '<name>': <engine message> (HTTP <status>)",
 * e.g. "stopping container 'hello-web-1': ..." (callers print it as is): ZP_E_NOTFOUND
 * for HTTP 404, ZP_E_CONFLICT for 409, ZP_E_ENGINE for other statuses, transport
 * failures and malformed answers, ZP_E_TOOBIG when a response passes its cap,
 * ENGINE_E_CANCELLED after engine_cancel. ret_ outputs are written only on success and
 * belong to the caller. */

/* ---- cancellation ---- */

/* The code of a call stopped by engine_cancel. Not a zp_code: callers that print errors
 * usually print nothing for it (the user asked to stop). */
#define ENGINE_E_CANCELLED ZP_E_CANCELLED

/* Make the call now blocked on e (in another thread: a followed log, an event stream, an
 * attached exec, a wait) return promptly (well under a second) with ENGINE_E_CANCELLED,
 * and every later call on e fail the same way at once until engine_cancel_clear. The
 * only engine function that may be called while another thread uses e; also
 * async-signal-safe. */
void engine_cancel(struct engine *e);
/* Has engine_cancel been called (and not cleared)? Thread-safe. */
bool engine_cancelled(const struct engine *e);
/* Forget an earlier engine_cancel; call from the thread that owns e, between calls. */
void engine_cancel_clear(struct engine *e);

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
    char *cgroup_version;   /* "1" or "2" */
    char *swarm_state;      /* Swarm.LocalNodeState: "inactive", "active", ... */
    bool swarm_control;     /* Swarm.ControlAvailable: a manager, may create services */
    int64_t ncpu;           /* NCPU */
    int64_t mem_total;      /* MemTotal, bytes */
    int64_t system_time_ns; /* SystemTime: the engine's clock, Unix ns (0: not said) */
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

/* One row of GET /images/json. */
struct engine_image_summary {
    char *id;         /* "sha256:..." */
    char **repo_tags; /* "name:tag", n_repo_tags items; none for an untagged image */
    size_t n_repo_tags;
    int64_t size;    /* bytes */
    int64_t created; /* Unix seconds */
    struct engine_labels labels;
    char *parent_id; /* ParentId: the local image it was built on; "" when none is known
                      * (pulled, or built by BuildKit) */
};

struct engine_image_list {
    struct engine_image_summary *items;
    size_t n;
};

/* Local images matching every label filter and, when reference is not NULL, the
 * reference pattern ("name", "name:tag", "name:*"); sorted by first tag ("" for untagged
 * images first), then ID. Intermediate images are left out. */
int engine_image_list(struct engine *e, const char *const *label_filters, const char *reference,
                      struct engine_image_list *ret_list, struct zp_err *err);
void engine_image_list_release(struct engine_image_list *l);

/* Untagged images (dangling=true filter) matching every label filter, as above. */
int engine_image_list_dangling(struct engine *e, const char *const *label_filters,
                               struct engine_image_list *ret_list, struct zp_err *err);
/* Every image (all=1: the intermediate images of local builds too) matching every label
 * filter, as above: the parents that ParentId names. */
int engine_image_list_all(struct engine *e, const char *const *label_filters,
                          struct engine_image_list *ret_list, struct zp_err *err);

/* Give image source (name[:tag] or ID) the name repo:tag (tag NULL: "latest"); an
 * existing tag of that name moves. Errors: ZP_E_NOTFOUND (no such source), ZP_E_ENGINE
 * (invalid repository name). */
int engine_image_tag(struct engine *e, const char *source, const char *repo, const char *tag,
                     struct zp_err *err);

/* ---- networks ---- */

/* One IPAM pool of a network; every string may be NULL (the engine picks). */
struct engine_ipam_config {
    const char *subnet;                    /* "172.28.0.0/16" */
    const char *ip_range;                  /* "172.28.5.0/24" */
    const char *gateway;                   /* "172.28.5.254" */
    const struct engine_kv *aux_addresses; /* host name -> IP, n_aux_addresses items */
    size_t n_aux_addresses;
};

/* A network's full specification (everything borrowed). Zero-initialise and set what
 * is needed; empty lists are not sent. */
struct engine_network_opts {
    const char *driver; /* NULL: the engine's default ("bridge") */
    bool internal;
    bool attachable;
    bool enable_ipv6;
    const struct engine_kv *labels; /* n_labels items */
    size_t n_labels;
    const struct engine_kv *options; /* driver_opts, n_options items */
    size_t n_options;
    const char *ipam_driver; /* NULL: "default" */
    const struct engine_ipam_config *ipam_configs;
    size_t n_ipam_configs;
    const struct engine_kv *ipam_options; /* IPAM driver options */
    size_t n_ipam_options;
};

/* Create network name (CheckDuplicate set) from opts (NULL: defaults). *ret_id (may be
 * NULL) gets its ID. Errors: ZP_E_CONFLICT when a network of that name exists,
 * ZP_E_ENGINE for a spec the engine refuses (overlapping subnet, unknown driver). */
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

/* How a container is attached to a network (everything borrowed, NULL when unset). */
struct engine_endpoint {
    const char *const *aliases;        /* NULL-terminated DNS aliases */
    const char *ipv4_address;          /* static IPv4 (needs a user-defined subnet) */
    const char *ipv6_address;          /* static IPv6 */
    const char *const *link_local_ips; /* NULL-terminated */
    const char *const *links;          /* NULL-terminated "container[:alias]" */
};

/* Connect container (name or ID) to network (name or ID) with the given aliases
 * (NULL-terminated, may be NULL) and static IPv4 address (may be NULL).
 * Errors: ZP_E_NOTFOUND (no such network or container), ZP_E_ENGINE or ZP_E_CONFLICT
 * (already connected, address in use); the message names both. */
int engine_network_connect(struct engine *e, const char *network, const char *container,
                           const char *const *aliases, const char *ipv4_address,
                           struct zp_err *err);
/* Same with every endpoint setting; ep may be NULL. */
int engine_network_connect_endpoint(struct engine *e, const char *network, const char *container,
                                    const struct engine_endpoint *ep, struct zp_err *err);
/* Disconnect container from network; force also for a container that is not running
 * or gone. Errors: ZP_E_NOTFOUND, ZP_E_ENGINE (not connected). */
int engine_network_disconnect(struct engine *e, const char *network, const char *container,
                              bool force, struct zp_err *err);

/* ---- volumes ---- */

struct engine_volume_opts {
    const char *driver;             /* NULL: "local" */
    const struct engine_kv *labels; /* borrowed, n_labels items */
    size_t n_labels;
    const struct engine_kv *options; /* driver_opts, borrowed, n_options items */
    size_t n_options;
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

/* One port of a container: exposed (public_port 0, ip "") or published on the host. */
struct engine_port {
    uint16_t private_port; /* inside the container */
    uint16_t public_port;  /* on the host; 0 when not published */
    char *type;            /* "tcp", "udp", "sctp" */
    char *ip;              /* host address ("0.0.0.0", "::", "127.0.0.1"); "" when not published */
};

/* Sorted by private port, type, IP, public port. */
struct engine_ports {
    struct engine_port *items;
    size_t n;
};

void engine_ports_release(struct engine_ports *p);

/* One row of GET /containers/json. */
struct engine_container_summary {
    char *id;
    char **names; /* without the leading '/', n_names items */
    size_t n_names;
    char *image;
    char *image_id;
    char *command;   /* "Command": the command line as one string */
    char *state;     /* "created", "running", "exited", ... */
    char *status;    /* "Up 2 minutes", ... */
    int64_t created; /* Unix seconds */
    struct engine_labels labels;
    struct engine_ports ports; /* "Ports" */
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
/* Start a container; an already running one is not an error. Errors: ZP_E_NOTFOUND,
 * ZP_E_ENGINE (the process could not start: the message says why). */
int engine_container_start(struct engine *e, const char *id, struct zp_err *err);
/* Stop a container, killing it after timeout_s seconds (negative: the container's own
 * StopTimeout or the engine's default); a stopped one is not an error. */
int engine_container_stop(struct engine *e, const char *id, int timeout_s, struct zp_err *err);
/* Remove a container; force kills it first when running, volumes also removes its
 * anonymous volumes. */
int engine_container_remove(struct engine *e, const char *id, bool force, bool volumes,
                            struct zp_err *err);
/* Stop and start a container again, killing it after timeout_s seconds (negative: its
 * own StopTimeout). A stopped container is just started. */
int engine_container_restart(struct engine *e, const char *id, int timeout_s, struct zp_err *err);
/* Send signal ("SIGTERM", "TERM", "15"; NULL: SIGKILL) to the container's main process.
 * Errors: ZP_E_CONFLICT when it is not running, ZP_E_ENGINE for an unknown signal. */
int engine_container_kill(struct engine *e, const char *id, const char *signal, struct zp_err *err);
/* Freeze / thaw every process of a running container. Errors: ZP_E_CONFLICT (not
 * running, already paused / not paused). */
int engine_container_pause(struct engine *e, const char *id, struct zp_err *err);
int engine_container_unpause(struct engine *e, const char *id, struct zp_err *err);
/* Rename a container. Errors: ZP_E_CONFLICT (new_name is taken), ZP_E_NOTFOUND. */
int engine_container_rename(struct engine *e, const char *id, const char *new_name,
                            struct zp_err *err);
/* Set the size of a container's TTY (rows h, columns w). Errors: ZP_E_ENGINE when the
 * container has no TTY or does not run. */
int engine_container_resize(struct engine *e, const char *id, unsigned h, unsigned w,
                            struct zp_err *err);

enum engine_wait_condition {
    ENGINE_WAIT_NOT_RUNNING, /* returns at once for a container that is not running */
    ENGINE_WAIT_NEXT_EXIT,   /* waits for the next exit, also of a stopped container */
    ENGINE_WAIT_REMOVED,     /* waits until the container is removed */
};

/* Block until the container reaches cond, and put its exit code in *ret_exit_code (may
 * be NULL). timeout_ms > 0 gives up after that long with ZP_E_ENGINE ("timed out");
 * <= 0 waits for ever (engine_cancel stops it). Note that the engine only starts
 * watching when the request arrives: to catch the exit of a container that is about to
 * be started and removed (AutoRemove), wait from another thread (its own engine) before
 * starting it, or wait with ENGINE_WAIT_NOT_RUNNING after an attached stream ended.
 * Errors: ZP_E_NOTFOUND (no such container, also when it is gone before the request),
 * ZP_E_ENGINE (the engine reported a wait error). */
int engine_container_wait(struct engine *e, const char *id, enum engine_wait_condition cond,
                          long timeout_ms, int64_t *ret_exit_code, struct zp_err *err);

/* The processes of a running container (GET /containers/{id}/top). */
struct engine_top_row {
    char **cells; /* n cells, in the order of titles */
    size_t n;
};

struct engine_top {
    char **titles; /* "UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD" */
    size_t n_titles;
    struct engine_top_row *rows;
    size_t n_rows;
};

/* ps_args: options given to ps on the host (NULL: the engine's "-ef").
 * Errors: ZP_E_CONFLICT or ZP_E_ENGINE when the container is not running. */
int engine_container_top(struct engine *e, const char *id, const char *ps_args,
                         struct engine_top *ret_top, struct zp_err *err);
void engine_top_release(struct engine_top *t);

/* One network a container is connected to (NetworkSettings.Networks). */
struct engine_container_net {
    char *name;     /* the network's name */
    char *ip;       /* IPAddress ("" when the container does not run) */
    char **aliases; /* Aliases, n_aliases items (the engine adds the short ID) */
    size_t n_aliases;
};

/* What GET /containers/{id}/json says, with the fields zpanel uses mapped. Times are
 * RFC 3339 strings as the engine sends them, and Unix seconds (0 for the engine's
 * "0001-01-01T00:00:00Z", i.e. never). */
struct engine_container {
    char *json; /* the raw response text */
    char *id;
    char *name;         /* without the leading '/' */
    char *image_id;     /* "Image": the image ID */
    char *config_image; /* Config.Image: the image as the container was created from */
    char *created;      /* "Created" */
    char *status;       /* State.Status: "created", "running", "exited", ... */
    char *health;       /* State.Health.Status ("starting", "healthy", "unhealthy"), or NULL
                         * when the container has no health check */
    bool running;       /* State.Running */
    bool paused;        /* State.Paused */
    bool restarting;    /* State.Restarting */
    bool oom_killed;    /* State.OOMKilled */
    int64_t exit_code;  /* State.ExitCode */
    int64_t pid;        /* State.Pid; 0 when not running */
    char *started_at;   /* State.StartedAt */
    char *finished_at;  /* State.FinishedAt */
    int64_t started_at_unix;
    int64_t finished_at_unix;
    int64_t restart_count;       /* RestartCount */
    bool tty;                    /* Config.Tty: logs and attach streams are raw, not framed */
    bool open_stdin;             /* Config.OpenStdin */
    struct engine_labels labels; /* Config.Labels */
    struct engine_ports ports;   /* NetworkSettings.Ports: exposed and published */
    /* The last health probe (State.Health.Log's last entry), when there is one. */
    char *health_output;      /* its Output, trailing newlines removed; NULL when none */
    int64_t health_exit_code; /* its ExitCode */
    int64_t failing_streak;   /* State.Health.FailingStreak */
    int64_t health_end_ns;    /* its End, engine time in Unix ns; 0 when none */
    /* The engine time (Unix ns) of the newest state this answer reflects: the latest of
     * StartedAt, FinishedAt and the last probe's End. Compare it with event times (the
     * same clock), never with the host's. */
    int64_t state_time_ns;
    int64_t memory_limit; /* HostConfig.Memory in bytes; 0: none */
    char *restart_policy; /* HostConfig.RestartPolicy.Name as the engine says it: "no",
                           * "always", ...; "" when the creator set none */
    struct engine_container_net *networks; /* NetworkSettings.Networks, sorted by name */
    size_t n_networks;
};

int engine_container_inspect(struct engine *e, const char *id, struct engine_container *ret_c,
                             struct zp_err *err);
void engine_container_release(struct engine_container *c);

/* Gives the next bytes of a stream (a build context, an archive): writes at most cap
 * bytes to buf and their number to *ret_len; *ret_len 0 means the end. Returns 0, or a
 * negative code with err set, which aborts the request and is returned by it. */
typedef int (*engine_read_fn)(void *ctx, char *buf, size_t cap, size_t *ret_len,
                              struct zp_err *err);

/* ---- resource usage (GET /containers/{id}/stats) ---- */

/* One sample as the engine reports it; counters are cumulative. */
struct engine_stats {
    int64_t read_ns;        /* "read": the sample's time, Unix nanoseconds */
    uint64_t cpu_total;     /* cpu_stats.cpu_usage.total_usage, ns */
    uint64_t system_cpu;    /* cpu_stats.system_cpu_usage, ns */
    uint64_t online_cpus;   /* cpu_stats.online_cpus (or the length of percpu_usage) */
    uint64_t pre_cpu_total; /* precpu_stats: the sample before (0 with one_shot) */
    uint64_t pre_system_cpu;
    uint64_t mem_usage;           /* memory_stats.usage */
    uint64_t mem_cache;           /* what `docker stats` leaves out of usage: cgroup v1
                                   * stats.total_inactive_file, v2 stats.inactive_file */
    uint64_t mem_limit;           /* memory_stats.limit */
    uint64_t net_rx, net_tx;      /* sum over networks: rx_bytes, tx_bytes */
    uint64_t blk_read, blk_write; /* sum of blkio io_service_bytes_recursive Read/Write */
    uint64_t pids;                /* pids_stats.current */
};

/* Parse one stats JSON document (pure; the unit tests feed recorded ones). Absent, null
 * or negative counters are 0. A document holding a number above INT64_MAX (cgroup v2's
 * pids limit "max") is read with doubles: its counters keep 53 significant bits.
 * Errors: ZP_E_ENGINE when json is not a JSON object. */
int engine_stats_parse(const char *json, size_t len, struct engine_stats *ret, struct zp_err *err);

/* One sample (stream=false). one_shot: answer at once without the previous sample
 * (pre_* are 0); otherwise the engine waits for a second sample (about 1 s) so that
 * pre_* hold the one before. Errors: ZP_E_NOTFOUND. A stopped container gives zeros. */
int engine_container_stats(struct engine *e, const char *id, bool one_shot,
                           struct engine_stats *ret, struct zp_err *err);

typedef int (*engine_stats_fn)(void *ctx, const struct engine_stats *s, struct zp_err *err);

/* Stream samples (stream=true, one about every second) to fn until it returns non-zero
 * (> 0 ends the stream without error), the container stops (the engine's empty sample,
 * read_ns 0, ends the stream with 0 and is not delivered; so does a stopped container at
 * once), or engine_cancel. No request timeout. Errors: ZP_E_NOTFOUND, fn's code. */
int engine_container_stats_stream(struct engine *e, const char *id, engine_stats_fn fn, void *ctx,
                                  struct zp_err *err);

/* ---- files of a container (the archive API; works on created, stopped containers) ---- */

/* Receives the next bytes of a stream; non-zero aborts (as engine_frame_fn). */
typedef int (*engine_write_fn)(void *ctx, const void *data, size_t len, struct zp_err *err);

/* GET /containers/{id}/archive?path=PATH: a tar stream of path (a directory's entry is
 * named after its last component, e.g. "data/..." for "/data") given to write_fn as it
 * arrives. No request timeout (engine_cancel ends it). Errors: ZP_E_NOTFOUND (no such
 * container or path), write_fn's code. */
int engine_container_archive_get(struct engine *e, const char *id, const char *path,
                                 engine_write_fn write_fn, void *ctx, struct zp_err *err);

/* PUT /containers/{id}/archive?path=PATH: extract a tar stream, read from read_fn and
 * sent chunked, into directory path of the container (which must exist); existing files
 * are overwritten, nothing is deleted. Errors: ZP_E_NOTFOUND, ZP_E_ENGINE (the engine
 * refused the archive: the message says why), read_fn's code. */
int engine_container_archive_put(struct engine *e, const char *id, const char *path,
                                 engine_read_fn read_fn, void *ctx, struct zp_err *err);

/* Options of engine_container_logs (declared at the end, after the stream decoders). */

struct engine_logs_opts {
    bool follow;     /* keep streaming until the container stops */
    bool no_stdout;  /* leave out stdout */
    bool no_stderr;  /* leave out stderr */
    bool timestamps; /* prefix each line with its RFC 3339 time */
    int64_t tail;    /* the last tail lines only; <= 0: all (tail_zero: none) */
    bool tail_zero;  /* "--tail 0": no earlier lines at all (with follow: only new ones) */
    int64_t since;   /* Unix seconds; 0: from the start */
    int64_t until;   /* Unix seconds; 0: no end */
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
 * callback sets err when it returns a negative code. A positive return (ENGINE_STOP)
 * means "stop, all is well": the streamed calls below then return 0. */
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

/* What a callback returns to end a stream early without an error. */
#define ENGINE_STOP 1

/* Stream a container's logs (GET /containers/{id}/logs) to on_frame: decoded frames, or
 * for a TTY container (opts->tty) raw chunks reported as ENGINE_STREAM_STDOUT. opts may
 * be NULL (everything, no follow). With follow there is no request timeout: it returns
 * when the container stops, when on_frame returns non-zero (ENGINE_STOP: 0, a negative
 * code: that code) or on engine_cancel. To follow several containers, give each its
 * own thread and its own struct engine. */
int engine_container_logs(struct engine *e, const char *id, const struct engine_logs_opts *opts,
                          engine_frame_fn on_frame, void *ctx, struct zp_err *err);

/* Filters of engine_events; each list is NULL-terminated or NULL (no filter). Within a
 * list any entry may match; every non-empty list must match. */
struct engine_events_filter {
    const char *const *labels;     /* "key" or "key=value" (e.g. "io.zpanel.project=app") */
    const char *const *types;      /* "container", "network", "volume", "image", ... */
    const char *const *actions;    /* "start", "die", "health_status", ... */
    const char *const *containers; /* container names or IDs */
};

/* Receives one event (borrowed until it returns); 0 goes on, ENGINE_STOP ends the stream
 * (engine_events returns 0), a negative code (err set) ends it with that code. */
typedef int (*engine_event_fn)(void *ctx, const struct engine_event *ev, struct zp_err *err);

/* Stream GET /events to on_event, in order. since (Unix seconds, 0: from now) replays
 * earlier events first; until (Unix seconds, 0: never) ends the stream when that time
 * passes (return 0). Otherwise it runs until on_event stops it or engine_cancel
 * (ENGINE_E_CANCELLED); there is no request timeout. Meant to run in a dedicated thread
 * with its own struct engine. Errors: those of engine.h, ZP_E_ENGINE for a malformed
 * event. */
int engine_events(struct engine *e, int64_t since, int64_t until,
                  const struct engine_events_filter *filters, engine_event_fn on_event, void *ctx,
                  struct zp_err *err);

struct engine_build_opts {
    const char *tag;                /* "name:tag" to give the image, or NULL */
    const char *const *tags;        /* more names, NULL-terminated, or NULL */
    const char *dockerfile;         /* path inside the context; NULL: "Dockerfile" */
    const char *target;             /* multi-stage target, or NULL */
    const struct engine_kv *labels; /* image labels, borrowed */
    size_t n_labels;
    const struct engine_kv *build_args; /* ARG values, borrowed; a NULL value passes the
                                         * key without a value (the ARG's default) */
    size_t n_build_args;
    bool no_cache;
    bool pull;                      /* try to pull newer base images (needs a registry) */
    const char *network_mode;       /* RUN steps' network ("host", "none", ...), or NULL */
    const char *const *extra_hosts; /* NULL-terminated "host:ip" entries, or NULL */
    int64_t shm_size;               /* /dev/shm of RUN steps in bytes; 0: the engine's default */
    const char *const *cache_from;  /* NULL-terminated image references, or NULL */
    const char *platform;           /* "linux/amd64", or NULL */
};

/* Receives one parsed progress message (borrowed until it returns); same return
 * convention as engine_frame_fn. */
typedef int (*engine_progress_fn)(void *ctx, const struct engine_progress *p, struct zp_err *err);

/* Build an image (POST /build) from a tar archive of the build context held in memory
 * (context_tar, tar_len bytes; the caller caps its size). Progress messages go to
 * on_progress when not NULL. *ret_image_id (may be NULL) gets the built image's ID (the
 * last aux.ID of the stream: a multi-stage build reports one per stage).
 * Errors: ZP_E_ENGINE with the build's own error message ("building image 'TAG': ..."),
 * the errors of engine.h, or on_progress's code. There is no request timeout;
 * intermediate containers are removed also when a step fails (forcerm). */
int engine_image_build(struct engine *e, const void *context_tar, size_t tar_len,
                       const struct engine_build_opts *opts, engine_progress_fn on_progress,
                       void *ctx, char **ret_image_id, struct zp_err *err);
/* Same, with the tar archive of the context read piece by piece from read_fn and sent
 * as a chunked upload while it is produced (no size limit here; the reader caps).
 * Errors: also ZP_E_INPUT for an empty context, read_fn's code. */
int engine_image_build_stream(struct engine *e, const struct engine_build_opts *opts,
                              engine_read_fn read_fn, void *read_ctx,
                              engine_progress_fn on_progress, void *ctx, char **ret_image_id,
                              struct zp_err *err);

/* ---- interactive streams: exec and attach ---- */

/* The two ends of an attached stream. Output goes to on_output: decoded frames, or raw
 * chunks reported as ENGINE_STREAM_STDOUT when tty (the same return convention as
 * engine_frame_fn). stdin_fd >= 0 is read until end of file and sent to the process
 * (then the write side is shut so that the process sees end of file); the descriptor is
 * not closed and its flags are not changed. */
struct engine_stream_io {
    bool tty;     /* the exec or container has a TTY: the stream is raw */
    int stdin_fd; /* -1: no input */
    engine_frame_fn on_output;
    void *ctx;
    /* Called once when the stream is established, before any output, or NULL. It may use
     * the same struct engine for other calls (the stream runs on its own connection),
     * e.g. to start the container just attached to; non-zero aborts as on_output does. */
    int (*on_ready)(void *ctx, struct zp_err *err);
};

/* Create an exec instance in a running container: argv NULL-terminated (required); env
 * NULL-terminated "KEY=value" or NULL; user ("uid[:gid]" or a name) and workdir may be
 * NULL. stdout and stderr are always attached. *ret_id gets the exec ID.
 * Errors: ZP_E_NOTFOUND (no such container), ZP_E_CONFLICT (not running, paused). */
int engine_exec_create(struct engine *e, const char *container, const char *const *argv,
                       const char *const *env, const char *user, const char *workdir, bool tty,
                       bool attach_stdin, char **ret_id, struct zp_err *err);
/* The same with every option of POST /containers/{id}/exec that zpanel uses: privileged
 * runs the command with extended privileges (compose's lifecycle hooks). */
struct engine_exec_opts {
    const char *const *argv; /* required, NULL-terminated */
    const char *const *env;  /* "KEY=value", NULL-terminated, or NULL */
    const char *user;        /* or NULL */
    const char *workdir;     /* or NULL */
    bool tty;
    bool attach_stdin;
    bool privileged;
};
int engine_exec_create_opts(struct engine *e, const char *container,
                            const struct engine_exec_opts *opts, char **ret_id, struct zp_err *err);
/* Start exec id and stream it through io until the process ends (the engine closes the
 * stream); io->tty must match the create call. io NULL starts it detached and returns at
 * once. No request timeout; engine_cancel ends it with ENGINE_E_CANCELLED (the process
 * keeps running). Afterwards engine_exec_inspect gives the exit code.
 * Errors: ZP_E_NOTFOUND, ZP_E_CONFLICT (already started), ZP_E_ENGINE (the command could
 * not be started: the message says why), ZP_E_SYSTEM (reading stdin_fd), on_output's. */
int engine_exec_start(struct engine *e, const char *id, const struct engine_stream_io *io,
                      struct zp_err *err);

struct engine_exec_state {
    bool running;
    int64_t exit_code; /* meaningful when !running */
    int64_t pid;       /* host PID; 0 when not running */
};

int engine_exec_inspect(struct engine *e, const char *id, struct engine_exec_state *ret_state,
                        struct zp_err *err);
/* Set the TTY size of a running exec (rows h, columns w). */
int engine_exec_resize(struct engine *e, const char *id, unsigned h, unsigned w,
                       struct zp_err *err);

struct engine_attach_opts {
    bool no_stdout;          /* do not attach stdout */
    bool no_stderr;          /* do not attach stderr */
    bool logs;               /* replay the output so far before the live stream */
    const char *detach_keys; /* e.g. "ctrl-p,ctrl-q", or NULL (the engine's default) */
};

/* Attach to a container (POST /containers/{id}/attach with stream=1) and stream it
 * through io until the container's main process ends; io->stdin_fd >= 0 also attaches
 * stdin (the container needs OpenStdin; with StdinOnce the end of input closes its
 * stdin). opts may be NULL. Attach before starting (start in io->on_ready) to see all
 * output. No request timeout; engine_cancel ends it with ENGINE_E_CANCELLED.
 * Errors: ZP_E_NOTFOUND, ZP_E_CONFLICT (e.g. paused), those of on_output. */
int engine_container_attach(struct engine *e, const char *id, const struct engine_attach_opts *opts,
                            const struct engine_stream_io *io, struct zp_err *err);

/* ---- plain HTTP over a unix socket (http.c) ----
 * For local daemons other than the engine (Caddy's admin API and probe socket): engine/
 * is the one module that uses libcurl, so every HTTP client of zpanel goes through it. */

struct engine_http;

struct engine_http_response {
    long status; /* the HTTP status code */
    char *body;  /* owned, NUL-terminated (binary-safe: len bytes) */
    size_t len;
};

/* A client for the HTTP server on unix socket socket_path whose answers may hold at
 * most max_response bytes. Calls engine_global_init. One client per thread; the
 * connection is kept between requests. *ret belongs to the caller (engine_http_close).
 * Errors: ZP_E_SYSTEM. */
int engine_http_open(const char *socket_path, size_t max_response, struct engine_http **ret,
                     struct zp_err *err);
void engine_http_close(struct engine_http *h);
/* One request: method, path ("/load"), extra headers ("Name: value", NULL-terminated, may
 * be NULL; "Name:" sends the header with an empty value, e.g. "Host:"), body (NULL: none;
 * sent as is), the whole exchange bounded by timeout_ms. An HTTP error status is not an
 * error: *ret gets every answer (the caller releases it). Errors: ZP_E_SYSTEM (no answer:
 * connect failure, timeout; the message names the socket), ZP_E_TOOBIG (the answer is
 * larger than max_response). */
int engine_http_request(struct engine_http *h, const char *method, const char *path,
                        const char *const *headers, const char *body, int64_t timeout_ms,
                        struct engine_http_response *ret, struct zp_err *err);
void engine_http_response_release(struct engine_http_response *r);

/* Swarm mode: swarm, nodes, services, tasks, configs, secrets (swarm.c). */
#include "engine-swarm.h"

#endif

/* e2e: the engine client against the real Docker engine (DOCKER_HOST or the default
 * socket): negotiation, system calls, networks (full spec, connect, disconnect), volumes,
 * a locally built image (FROM scratch + Debian's static busybox, built through the API
 * with a streamed context, never pulled), image list and tag, a container's life cycle
 * (ports, top, pause, restart, kill, wait, rename), its logs followed from two threads,
 * exec and attach with stdin, and events in a thread of their own, cancelled.
 * Everything it creates carries io.zpanel.project=e2e-engine and is removed at the end,
 * also after a failure, and at the start when an earlier run left something behind. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "util/util.h"

#include "../../src/util/banned.h"

#define PROJECT "e2e-engine"
#define LABEL_FILTER "io.zpanel.project=" PROJECT
#define NET "zp-e2e-engine_net"
#define VOL "zp-e2e-engine_data"
#define IMAGE "zp-e2e-engine-busybox:latest"
#define MISSING_IMAGE "zp-e2e-engine-missing:latest"
#define CTR "zp-e2e-engine-web-1"
#define JOB "zp-e2e-engine-job-1"
#define NET2 "zp-e2e-engine_spec"
#define VOL2 "zp-e2e-engine_tmp"
#define TAGGED "zp-e2e-engine-busybox:tagged"
#define RETAGGED "zp-e2e-engine-rebuilt:latest"
#define BUSYBOX "/bin/busybox"

static int passed, failed, skipped;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Remove every object labelled for this test; reports but does not stop on errors. */
static int cleanup(struct engine *e)
{
    const char *const filters[] = {LABEL_FILTER, NULL};
    struct zp_err err;
    int problems = 0;

    struct engine_container_list cl = {NULL, 0};
    zp_err_init(&err);
    if (engine_container_list(e, filters, true, &cl, &err) == 0) {
        for (size_t i = 0; i < cl.n; i++) {
            zp_err_init(&err);
            if (engine_container_remove(e, cl.items[i].id, true, true, &err) != 0 &&
                err.code != ZP_E_NOTFOUND) {
                fprintf(stderr, "cleanup: %s\n", err.msg);
                problems++;
            }
        }
    } else {
        fprintf(stderr, "cleanup: %s\n", err.msg);
        problems++;
    }
    engine_container_list_release(&cl);

    struct engine_network_list nl = {NULL, 0};
    zp_err_init(&err);
    if (engine_network_list(e, filters, &nl, &err) == 0) {
        for (size_t i = 0; i < nl.n; i++) {
            zp_err_init(&err);
            if (engine_network_remove(e, nl.items[i].id, &err) != 0 && err.code != ZP_E_NOTFOUND) {
                fprintf(stderr, "cleanup: %s\n", err.msg);
                problems++;
            }
        }
    }
    engine_network_list_release(&nl);

    struct engine_volume_list vl = {NULL, 0};
    zp_err_init(&err);
    if (engine_volume_list(e, filters, &vl, &err) == 0) {
        for (size_t i = 0; i < vl.n; i++) {
            zp_err_init(&err);
            if (engine_volume_remove(e, vl.items[i].name, true, &err) != 0 &&
                err.code != ZP_E_NOTFOUND) {
                fprintf(stderr, "cleanup: %s\n", err.msg);
                problems++;
            }
        }
    }
    engine_volume_list_release(&vl);

    struct engine_image_list dl = {NULL, 0};
    zp_err_init(&err);
    if (engine_image_list_dangling(e, filters, &dl, &err) == 0) {
        for (size_t i = 0; i < dl.n; i++) {
            zp_err_init(&err);
            if (engine_image_remove(e, dl.items[i].id, true, &err) != 0 &&
                err.code != ZP_E_NOTFOUND) {
                fprintf(stderr, "cleanup: %s\n", err.msg);
                problems++;
            }
        }
    }
    engine_image_list_release(&dl);
    zp_err_init(&err);
    if (engine_image_remove(e, RETAGGED, true, &err) != 0 && err.code != ZP_E_NOTFOUND) {
        fprintf(stderr, "cleanup: %s\n", err.msg);
        problems++;
    }
    zp_err_init(&err);
    if (engine_image_remove(e, TAGGED, true, &err) != 0 && err.code != ZP_E_NOTFOUND) {
        fprintf(stderr, "cleanup: %s\n", err.msg);
        problems++;
    }
    zp_err_init(&err);
    if (engine_image_remove(e, IMAGE, true, &err) != 0 && err.code != ZP_E_NOTFOUND) {
        fprintf(stderr, "cleanup: %s\n", err.msg);
        problems++;
    }
    return problems;
}

/* Append one regular file to a ustar archive in b. */
static void tar_add(struct zp_buf *b, const char *name, const char *data, size_t len, unsigned mode)
{
    char h[512];
    memset(h, 0, sizeof(h));
    snprintf(h, 100, "%s", name);
    snprintf(h + 100, 8, "%07o", mode);
    snprintf(h + 108, 8, "%07o", 0);
    snprintf(h + 116, 8, "%07o", 0);
    snprintf(h + 124, 12, "%011llo", (unsigned long long)len);
    snprintf(h + 136, 12, "%011o", 0);
    memset(h + 148, ' ', 8);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof(h); i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum);
    zp_buf_add(b, h, sizeof(h));
    zp_buf_add(b, data, len);
    static const char zeros[512];
    if (len % 512)
        zp_buf_add(b, zeros, 512 - len % 512);
}

static int on_progress(void *ctx, const struct engine_progress *p, struct zp_err *err)
{
    int *n = ctx;
    (void)err;
    (*n)++;
    (void)p;
    return 0;
}

/* Hands out the context in pieces of at most 1000 bytes, as a file reader would. */
struct tar_reader {
    const char *p;
    size_t left;
};

static int tar_read(void *ctx, char *buf, size_t cap, size_t *ret_len, struct zp_err *err)
{
    struct tar_reader *r = ctx;
    (void)err;
    size_t n = r->left < cap ? r->left : cap;
    if (n > 1000)
        n = 1000;
    memcpy(buf, r->p, n);
    r->p += n;
    r->left -= n;
    *ret_len = n;
    return 0;
}

/* Build IMAGE (also tagged TAGGED) through the engine from a scratch context holding busybox
 * (nothing is pulled). Returns 0 on success, 1 when busybox is missing (the image and
 * container checks cannot run: the test exits 77, skipped), -1 on failure. */
static int build_image(struct engine *e, char **ret_id)
{
    if (access(BUSYBOX, X_OK) != 0) {
        printf("SKIP: %s missing (install busybox-static): the image, container, exec, logs, "
               "attach, stats and events checks did not run\n",
               BUSYBOX);
        return 1;
    }
    struct zp_err err;
    zp_err_init(&err);
    char *bb = NULL;
    size_t bb_len = 0;
    if (zp_file_read(BUSYBOX, 64 << 20, &bb, &bb_len, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    static const char dockerfile[] = "FROM scratch\nCOPY busybox /bin/busybox\n";
    struct zp_buf tar = ZP_BUF_INIT;
    tar_add(&tar, "Dockerfile", dockerfile, strlen(dockerfile), 0644);
    tar_add(&tar, "busybox", bb, bb_len, 0755);
    static const char end[1024];
    zp_buf_add(&tar, end, sizeof(end));
    free(bb);

    const struct engine_kv labels[] = {{"io.zpanel.project", PROJECT}};
    const struct engine_kv args[] = {{"UNUSED_ARG", NULL}};
    const char *const tags[] = {TAGGED, NULL};
    struct engine_build_opts o = {.tag = IMAGE,
                                  .tags = tags,
                                  .labels = labels,
                                  .n_labels = 1,
                                  .build_args = args,
                                  .n_build_args = 1,
                                  .network_mode = "none"};
    int messages = 0;
    struct tar_reader r = {tar.p, tar.len};
    int rc = engine_image_build_stream(e, &o, tar_read, &r, on_progress, &messages, ret_id, &err);
    zp_buf_release(&tar);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    printf("built %s (%d progress messages)\n", IMAGE, messages);
    return messages > 0 ? 0 : -1;
}

struct logs {
    struct zp_buf out, errs;
};

static int on_frame(void *ctx, enum engine_stream stream, const char *data, size_t len,
                    struct zp_err *err)
{
    struct logs *l = ctx;
    (void)err;
    return zp_buf_add(stream == ENGINE_STREAM_STDERR ? &l->errs : &l->out, data, len);
}

/* ---- checks of the calls zpanel's commands use ---- */

/* A network with a full specification, a container connected with an alias and a
 * static address, then disconnected; a volume with driver options. */
static int check_network_spec(struct engine *e, const char *ctr_id)
{
    int before = failed;
    struct zp_err err;
    struct engine_container c = {0};
    struct engine_network_list nl = {NULL, 0};
    char *id = NULL;
    zp_err_init(&err);
    const struct engine_kv labels[] = {{"io.zpanel.project", PROJECT}};
    const struct engine_kv options[] = {{"com.docker.network.driver.mtu", "1400"}};
    const struct engine_kv aux[] = {{"reserved", "10.231.77.5"}};
    const struct engine_ipam_config pool = {.subnet = "10.231.77.0/24",
                                            .ip_range = "10.231.77.128/25",
                                            .gateway = "10.231.77.1",
                                            .aux_addresses = aux,
                                            .n_aux_addresses = 1};
    struct engine_network_opts spec = {.driver = "bridge",
                                       .attachable = true,
                                       .labels = labels,
                                       .n_labels = 1,
                                       .options = options,
                                       .n_options = 1,
                                       .ipam_configs = &pool,
                                       .n_ipam_configs = 1};
    CHECK(engine_network_create(e, NET2, &spec, &id, &err) == 0, "%s", err.msg);
    const char *const filters[] = {LABEL_FILTER, NULL};
    CHECK(engine_network_list(e, filters, &nl, &err) == 0, "%s", err.msg);
    CHECK(nl.n == 2, "%zu networks", nl.n);
    const char *const aliases[] = {"web-alias", NULL};
    CHECK(engine_network_connect(e, NET2, ctr_id, aliases, "10.231.77.130", &err) == 0, "%s",
          err.msg);
    int rc = engine_network_connect(e, "zp-e2e-engine-none", CTR, NULL, NULL, &err);
    CHECK(rc == ZP_E_NOTFOUND && strstr(err.msg, "network 'zp-e2e-engine-none'") &&
              strstr(err.msg, "container '" CTR "'"),
          "rc %d: %s", rc, err.msg);
    printf("connect to a missing network: %s\n", err.msg);
    zp_err_init(&err);
    CHECK(engine_container_inspect(e, ctr_id, &c, &err) == 0, "%s", err.msg);
    CHECK(strstr(c.json, "\"10.231.77.130\"") && strstr(c.json, "\"web-alias\""),
          "address or alias missing from the inspect");
    engine_container_release(&c);
    CHECK(engine_network_disconnect(e, NET2, CTR, false, &err) == 0, "%s", err.msg);
    rc = engine_network_disconnect(e, NET2, CTR, false, &err);
    CHECK(rc != 0 && strstr(err.msg, "network '" NET2 "'"), "rc %d: %s", rc, err.msg);
    zp_err_init(&err);
    CHECK(engine_container_inspect(e, ctr_id, &c, &err) == 0, "%s", err.msg);
    CHECK(!strstr(c.json, "\"10.231.77.130\""), "still connected");
    CHECK(engine_network_remove(e, NET2, &err) == 0, "%s", err.msg);

    const struct engine_kv vopts[] = {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}};
    struct engine_volume_opts vo = {
        .labels = labels, .n_labels = 1, .options = vopts, .n_options = 3};
    bool exists = false;
    CHECK(engine_volume_create(e, VOL2, &vo, &err) == 0, "%s", err.msg);
    CHECK(engine_volume_exists(e, VOL2, &exists, &err) == 0 && exists, "%s", err.msg);
    CHECK(engine_volume_remove(e, VOL2, false, &err) == 0, "%s", err.msg);
out:
    engine_container_release(&c);
    engine_network_list_release(&nl);
    free(id);
    return failed == before ? 0 : -1;
}

/* What `ps`, `port` and `top` print. */
static int check_ps_fields(struct engine *e, const char *ctr_id)
{
    int before = failed;
    struct zp_err err;
    struct engine_container c = {0};
    struct engine_container_list cl = {NULL, 0};
    struct engine_top top = {0};
    zp_err_init(&err);
    const char *const filters[] = {LABEL_FILTER, NULL};
    CHECK(engine_container_list(e, filters, false, &cl, &err) == 0 && cl.n == 1, "%s", err.msg);
    const struct engine_ports *p = &cl.items[0].ports;
    CHECK(p->n == 1 && p->items[0].private_port == 80 && p->items[0].public_port > 0 &&
              strcmp(p->items[0].type, "tcp") == 0 && strcmp(p->items[0].ip, "127.0.0.1") == 0,
          "%zu ports", p->n);
    CHECK(strstr(cl.items[0].command, "sleep 600") != NULL, "command '%s'", cl.items[0].command);
    uint16_t published = p->items[0].public_port;
    CHECK(engine_container_inspect(e, ctr_id, &c, &err) == 0, "%s", err.msg);
    CHECK(c.ports.n == 1 && c.ports.items[0].public_port == published, "inspect ports");
    time_t now = time(NULL);
    CHECK(c.started_at_unix > now - 120 && c.started_at_unix <= now + 5, "started at %s",
          c.started_at);
    CHECK(c.finished_at_unix == 0 && c.restart_count == 0 && !c.oom_killed && c.pid > 0 && !c.tty &&
              strcmp(c.config_image, IMAGE) == 0,
          "finished %s, restarts %lld, pid %lld, image %s", c.finished_at,
          (long long)c.restart_count, (long long)c.pid, c.config_image);
    printf("ps: %s %s ports 127.0.0.1:%u->80/tcp, started %s\n", c.name, c.status, published,
           c.started_at);
    CHECK(engine_container_top(e, ctr_id, NULL, &top, &err) == 0, "%s", err.msg);
    CHECK(top.n_titles > 0 && top.n_rows >= 1, "%zu titles, %zu rows", top.n_titles, top.n_rows);
    bool found = false;
    for (size_t r = 0; r < top.n_rows; r++)
        for (size_t i = 0; i < top.rows[r].n; i++)
            found = found || strstr(top.rows[r].cells[i], "sleep 600");
    CHECK(found, "no 'sleep 600' process in top");
out:
    engine_top_release(&top);
    engine_container_release(&c);
    engine_container_list_release(&cl);
    return failed == before ? 0 : -1;
}

struct capture {
    struct zp_buf out, errs;
    bool ready;
    struct engine *start_on_ready; /* start JOB from on_ready with this engine */
};

static int cap_frame(void *ctx, enum engine_stream stream, const char *data, size_t len,
                     struct zp_err *err)
{
    struct capture *c = ctx;
    (void)err;
    return zp_buf_add(stream == ENGINE_STREAM_STDERR ? &c->errs : &c->out, data, len);
}

static int cap_ready(void *ctx, struct zp_err *err)
{
    struct capture *c = ctx;
    c->ready = true;
    return c->start_on_ready ? engine_container_start(c->start_on_ready, JOB, err) : 0;
}

static void cap_release(struct capture *c)
{
    zp_buf_release(&c->out);
    zp_buf_release(&c->errs);
}

/* A pipe holding text, its write end closed: stdin for a process. */
static int input_pipe(const char *text)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    ssize_t w = write(p[1], text, strlen(text));
    close(p[1]);
    if (w != (ssize_t)strlen(text)) {
        close(p[0]);
        return -1;
    }
    return p[0];
}

static int check_exec(struct engine *e, const char *ctr_id)
{
    int before = failed;
    struct zp_err err;
    struct capture cap = {ZP_BUF_INIT, ZP_BUF_INIT, false, NULL};
    char *id = NULL;
    int fd = -1;
    zp_err_init(&err);
    const char *const argv[] = {BUSYBOX, "sh", "-c",
                                "cat; echo \"to-err $GREETING $(pwd)\" >&2; exit 3", NULL};
    const char *const env[] = {"GREETING=hi", NULL};
    CHECK(engine_exec_create(e, ctr_id, argv, env, NULL, "/data", false, true, &id, &err) == 0,
          "%s", err.msg);
    fd = input_pipe("hello from stdin\n");
    CHECK(fd >= 0, "pipe");
    struct engine_stream_io io = {
        .stdin_fd = fd, .on_output = cap_frame, .ctx = &cap, .on_ready = cap_ready};
    CHECK(engine_exec_start(e, id, &io, &err) == 0, "%s", err.msg);
    CHECK(cap.ready, "on_ready not called");
    CHECK(strcmp(zp_buf_cstr(&cap.out), "hello from stdin\n") == 0, "stdout '%s'",
          zp_buf_cstr(&cap.out));
    CHECK(strcmp(zp_buf_cstr(&cap.errs), "to-err hi /data\n") == 0, "stderr '%s'",
          zp_buf_cstr(&cap.errs));
    struct engine_exec_state st = {.running = true};
    CHECK(engine_exec_inspect(e, id, &st, &err) == 0, "%s", err.msg);
    CHECK(!st.running && st.exit_code == 3, "running %d exit %lld", st.running,
          (long long)st.exit_code);
    free(id);
    id = NULL;
    cap_release(&cap);

    /* a TTY exec: raw output */
    const char *const targv[] = {BUSYBOX, "sh", "-c", "echo tty-out; exit 0", NULL};
    CHECK(engine_exec_create(e, CTR, targv, NULL, "65534:65534", NULL, true, false, &id, &err) == 0,
          "%s", err.msg);
    struct engine_stream_io tio = {
        .tty = true, .stdin_fd = -1, .on_output = cap_frame, .ctx = &cap};
    CHECK(engine_exec_start(e, id, &tio, &err) == 0, "%s", err.msg);
    CHECK(strstr(zp_buf_cstr(&cap.out), "tty-out\r\n") != NULL, "tty output '%s'",
          zp_buf_cstr(&cap.out));
    CHECK(engine_exec_inspect(e, id, &st, &err) == 0 && st.exit_code == 0, "%s", err.msg);
    free(id);
    id = NULL;

    /* detached */
    const char *const dargv[] = {BUSYBOX, "sh", "-c", "sleep 1", NULL};
    CHECK(engine_exec_create(e, CTR, dargv, NULL, NULL, NULL, false, false, &id, &err) == 0, "%s",
          err.msg);
    CHECK(engine_exec_start(e, id, NULL, &err) == 0, "%s", err.msg);
    CHECK(engine_exec_inspect(e, id, &st, &err) == 0 && st.running && st.pid > 0, "%s", err.msg);
    int rc = engine_exec_start(e, "zp-e2e-no-such-exec", NULL, &err);
    CHECK(rc == ZP_E_NOTFOUND && strstr(err.msg, "zp-e2e-no-such"), "rc %d: %s", rc, err.msg);
    zp_err_init(&err);
out:
    if (fd >= 0)
        close(fd);
    free(id);
    cap_release(&cap);
    return failed == before ? 0 : -1;
}

/* `run`: attach with stdin, start from on_ready, then wait for the exit code; rename. */
static int check_attach_wait(struct engine *e)
{
    int before = failed;
    struct zp_err err;
    struct capture cap = {ZP_BUF_INIT, ZP_BUF_INIT, false, e};
    char *id = NULL;
    int fd = -1;
    zp_err_init(&err);
    const char *config = "{\"Image\":\"" IMAGE "\","
                         "\"Cmd\":[\"/bin/busybox\",\"sh\",\"-c\","
                         "\"read x; echo got-$x; echo bye >&2; exit 7\"],"
                         "\"OpenStdin\":true,\"StdinOnce\":true,\"AttachStdin\":true,"
                         "\"AttachStdout\":true,\"AttachStderr\":true,"
                         "\"Labels\":{\"io.zpanel.project\":\"" PROJECT "\"}}";
    CHECK(engine_container_create(e, JOB, config, &id, &err) == 0, "%s", err.msg);
    fd = input_pipe("abc\n");
    CHECK(fd >= 0, "pipe");
    struct engine_stream_io io = {
        .stdin_fd = fd, .on_output = cap_frame, .ctx = &cap, .on_ready = cap_ready};
    CHECK(engine_container_attach(e, JOB, NULL, &io, &err) == 0, "%s", err.msg);
    CHECK(strcmp(zp_buf_cstr(&cap.out), "got-abc\n") == 0, "stdout '%s'", zp_buf_cstr(&cap.out));
    CHECK(strcmp(zp_buf_cstr(&cap.errs), "bye\n") == 0, "stderr '%s'", zp_buf_cstr(&cap.errs));
    int64_t code = -1;
    CHECK(engine_container_wait(e, id, ENGINE_WAIT_NOT_RUNNING, 10000, &code, &err) == 0, "%s",
          err.msg);
    CHECK(code == 7, "exit code %lld", (long long)code);
    CHECK(engine_container_rename(e, JOB, "zp-e2e-engine-job-renamed", &err) == 0, "%s", err.msg);
    struct engine_container c = {0};
    CHECK(engine_container_inspect(e, id, &c, &err) == 0, "%s", err.msg);
    bool renamed = strcmp(c.name, "zp-e2e-engine-job-renamed") == 0;
    engine_container_release(&c);
    CHECK(renamed, "not renamed");
    int rc = engine_container_rename(e, id, CTR, &err);
    CHECK(rc == ZP_E_CONFLICT, "rc %d: %s", rc, err.msg);
    zp_err_init(&err);
    CHECK(engine_container_remove(e, id, false, false, &err) == 0, "%s", err.msg);
    rc = engine_container_wait(e, id, ENGINE_WAIT_NOT_RUNNING, 1000, &code, &err);
    CHECK(rc == ZP_E_NOTFOUND && strstr(err.msg, "waiting for container '"), "rc %d: %s", rc,
          err.msg);
    zp_err_init(&err);
out:
    if (fd >= 0)
        close(fd);
    free(id);
    cap_release(&cap);
    return failed == before ? 0 : -1;
}

/* ---- threads: events, logs ---- */

struct watcher {
    struct engine *e;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct zp_buf actions; /* "action name;" per event */
    bool connected;        /* a first event came */
    const char *stop_on;   /* return ENGINE_STOP on this action */
    int rc;
    struct zp_err err;
};

static int watch_event(void *ctx, const struct engine_event *ev, struct zp_err *err)
{
    struct watcher *w = ctx;
    (void)err;
    pthread_mutex_lock(&w->lock);
    const char *name = engine_labels_get(&ev->attributes, "name");
    zp_buf_addf(&w->actions, "%s %s %s;", ev->type, ev->action, name ? name : "-");
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return w->stop_on && strcmp(ev->action, w->stop_on) == 0 ? ENGINE_STOP : 0;
}

static void *watch_main(void *arg)
{
    struct watcher *w = arg;
    const char *const labels[] = {LABEL_FILTER, NULL};
    const char *const types[] = {"container", NULL};
    struct engine_events_filter f = {.labels = labels, .types = types};
    zp_err_init(&w->err);
    w->rc = engine_events(w->e, 0, 0, &f, watch_event, w, &w->err);
    return NULL;
}

/* Wait (at most 20 s) until the watcher saw text. */
static bool watcher_saw(struct watcher *w, const char *text)
{
    bool seen = false;
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < 200 && !(seen = strstr(zp_buf_cstr(&w->actions), text) != NULL); i++) {
        pthread_mutex_unlock(&w->lock);
        sleep_ms(100);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return seen;
}

/* Pause, unpause, restart, watched by an event thread with its own engine; a second
 * watcher is cancelled. */
static int check_events(struct engine *e, const char *ctr_id)
{
    int before = failed;
    struct zp_err err;
    struct engine_container c = {0};
    struct watcher w = {.lock = PTHREAD_MUTEX_INITIALIZER,
                        .cond = PTHREAD_COND_INITIALIZER,
                        .actions = ZP_BUF_INIT,
                        .stop_on = "restart"};
    struct watcher idle = {.lock = PTHREAD_MUTEX_INITIALIZER,
                           .cond = PTHREAD_COND_INITIALIZER,
                           .actions = ZP_BUF_INIT};
    pthread_t th, th2;
    bool started = false, started2 = false;
    zp_err_init(&err);
    w.e = engine_new(NULL, &err);
    idle.e = engine_new(NULL, &err);
    CHECK(w.e && idle.e, "%s", err.msg);
    CHECK(pthread_create(&th, NULL, watch_main, &w) == 0, "pthread_create");
    started = true;
    CHECK(pthread_create(&th2, NULL, watch_main, &idle) == 0, "pthread_create");
    started2 = true;
    sleep_ms(500); /* let the event streams open */

    CHECK(engine_container_pause(e, ctr_id, &err) == 0, "%s", err.msg);
    CHECK(engine_container_inspect(e, ctr_id, &c, &err) == 0 && c.paused, "%s", err.msg);
    engine_container_release(&c);
    int rc = engine_container_pause(e, ctr_id, &err);
    CHECK(rc == ZP_E_CONFLICT || rc == ZP_E_ENGINE, "rc %d: %s", rc, err.msg);
    printf("pause twice: %s\n", err.msg);
    zp_err_init(&err);
    CHECK(engine_container_unpause(e, ctr_id, &err) == 0, "%s", err.msg);
    CHECK(engine_container_inspect(e, ctr_id, &c, &err) == 0 && !c.paused && c.running, "%s",
          err.msg);
    int64_t started_at = c.started_at_unix;
    engine_container_release(&c);
    CHECK(engine_container_restart(e, ctr_id, 1, &err) == 0, "%s", err.msg);
    CHECK(engine_container_inspect(e, ctr_id, &c, &err) == 0 && c.running, "%s", err.msg);
    CHECK(c.started_at_unix >= started_at, "started at %s", c.started_at);
    engine_container_release(&c);

    CHECK(watcher_saw(&w, "container restart " CTR ";"), "events: %s", zp_buf_cstr(&w.actions));
    pthread_join(th, NULL);
    started = false;
    CHECK(w.rc == 0, "events ended with %d: %s", w.rc, w.err.msg);
    const char *acts = zp_buf_cstr(&w.actions);
    CHECK(strstr(acts, "container pause " CTR ";") && strstr(acts, "container unpause " CTR ";") &&
              strstr(acts, "container die " CTR ";") && strstr(acts, "container start " CTR ";"),
          "events: %s", acts);
    printf("events: %.300s\n", acts);

    /* the other watcher saw the same, and stops promptly when cancelled */
    CHECK(watcher_saw(&idle, "container restart " CTR ";"), "events: %s",
          zp_buf_cstr(&idle.actions));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    engine_cancel(idle.e);
    pthread_join(th2, NULL);
    started2 = false;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK(idle.rc == ENGINE_E_CANCELLED && ms < 1000, "rc %d after %ld ms: %s", idle.rc, ms,
          idle.err.msg);

    /* a replay bounded by until ends by itself */
    struct watcher replay = {.lock = PTHREAD_MUTEX_INITIALIZER,
                             .cond = PTHREAD_COND_INITIALIZER,
                             .actions = ZP_BUF_INIT};
    const char *const labels[] = {LABEL_FILTER, NULL};
    struct engine_events_filter rf = {.labels = labels};
    int64_t now = (int64_t)time(NULL);
    rc = engine_events(e, now - 120, now + 1, &rf, watch_event, &replay, &err);
    bool saw = strstr(zp_buf_cstr(&replay.actions), "container unpause " CTR ";") != NULL;
    zp_buf_release(&replay.actions);
    CHECK(rc == 0 && saw, "rc %d: %s", rc, err.msg);
out:
    if (started) {
        engine_cancel(w.e);
        pthread_join(th, NULL);
    }
    if (started2) {
        engine_cancel(idle.e);
        pthread_join(th2, NULL);
    }
    engine_container_release(&c);
    engine_free(w.e);
    engine_free(idle.e);
    zp_buf_release(&w.actions);
    zp_buf_release(&idle.actions);
    return failed == before ? 0 : -1;
}

struct follower {
    struct engine *e;
    struct engine_logs_opts opts;
    struct capture cap;
    int rc;
    struct zp_err err;
};

static int follow_frame(void *ctx, enum engine_stream stream, const char *data, size_t len,
                        struct zp_err *err)
{
    struct follower *f = ctx;
    cap_frame(&f->cap, stream, data, len, err);
    /* done once the first line of each stream arrived */
    return f->cap.out.len && f->cap.errs.len ? ENGINE_STOP : 0;
}

static void *follow_main(void *arg)
{
    struct follower *f = arg;
    zp_err_init(&f->err);
    f->rc = engine_container_logs(f->e, CTR, &f->opts, follow_frame, f, &f->err);
    return NULL;
}

/* `logs -f` of several containers: one thread and one engine each. */
static int check_logs_threads(void)
{
    int before = failed;
    struct zp_err err;
    struct follower f[3] = {
        {.opts = {.follow = true}},
        {.opts = {.follow = true, .timestamps = true}},
        {.opts = {.follow = true, .tail_zero = true}}, /* nothing new comes: cancelled */
    };
    pthread_t th[3];
    int started = 0;
    zp_err_init(&err);
    for (int i = 0; i < 3; i++) {
        f[i].cap = (struct capture){ZP_BUF_INIT, ZP_BUF_INIT, false, NULL};
        f[i].e = engine_new(NULL, &err);
        CHECK(f[i].e, "%s", err.msg);
    }
    for (; started < 3; started++)
        CHECK(pthread_create(&th[started], NULL, follow_main, &f[started]) == 0, "pthread");
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    sleep_ms(300);
    engine_cancel(f[2].e);
    pthread_join(th[2], NULL);
    started = 0;
    CHECK(f[0].rc == 0 && strcmp(zp_buf_cstr(&f[0].cap.out), "hello-out\n") == 0, "%d %s '%s'",
          f[0].rc, f[0].err.msg, zp_buf_cstr(&f[0].cap.out));
    CHECK(f[1].rc == 0 && zp_str_has_suffix(zp_buf_cstr(&f[1].cap.errs), "Z hello-err\n"),
          "%d %s '%s'", f[1].rc, f[1].err.msg, zp_buf_cstr(&f[1].cap.errs));
    CHECK(f[2].rc == ENGINE_E_CANCELLED && f[2].cap.out.len == 0, "%d %s", f[2].rc, f[2].err.msg);
out:
    for (int i = 0; i < started; i++) {
        engine_cancel(f[i].e);
        pthread_join(th[i], NULL);
    }
    for (int i = 0; i < 3; i++) {
        engine_free(f[i].e);
        cap_release(&f[i].cap);
    }
    return failed == before ? 0 : -1;
}

/* ---- files and resource usage ---- */

struct collector {
    struct zp_buf data;
    int calls;
};

static int collect_write(void *ctx, const void *data, size_t len, struct zp_err *err)
{
    struct collector *c = ctx;
    c->calls++;
    return zp_buf_add(&c->data, data, len) == 0
               ? 0
               : zp_err_set(err, ZP_E_TOOBIG, NULL, "archive larger than expected");
}

static int failing_read(void *ctx, char *buf, size_t cap, size_t *ret_len, struct zp_err *err)
{
    (void)ctx;
    (void)buf;
    (void)cap;
    (void)ret_len;
    return zp_err_set(err, ZP_E_SYSTEM, NULL, "reading 'in.tar': Input/output error");
}

/* The content of entry name in a ustar archive (borrowed), or NULL. */
static const char *tar_find(const struct zp_buf *tar, const char *name, size_t *ret_len)
{
    size_t off = 0;
    while (off + 512 <= tar->len && tar->p[off] != '\0') {
        const char *h = tar->p + off;
        char size_field[13];
        memcpy(size_field, h + 124, 12);
        size_field[12] = '\0';
        size_t size = 0;
        for (const char *c = size_field; *c >= '0' && *c <= '7'; c++)
            size = size * 8 + (size_t)(*c - '0');
        if (strncmp(h, name, 100) == 0 && off + 512 + size <= tar->len) {
            *ret_len = size;
            return h + 512;
        }
        off += 512 + (size + 511) / 512 * 512;
    }
    return NULL;
}

/* `cp`: a tar put into the volume at /data (streamed in pieces), read back as the
 * directory and as one file, byte for byte; the engine's refusals. */
static int check_archive(struct engine *e, const char *ctr_id)
{
    int before = failed;
    struct zp_err err;
    struct zp_buf tar = ZP_BUF_INIT, bin = ZP_BUF_INIT;
    struct collector got = {ZP_BUF_INIT, 0};
    zp_err_init(&err);
    static const char hello[] = "hello, archive\n";
    for (size_t i = 0; i < 300000; i++) /* every byte value, not a multiple of 512 */
        zp_buf_addc(&bin, (char)(i * 31 % 256));
    tar_add(&tar, "hello.txt", hello, strlen(hello), 0644);
    tar_add(&tar, "bin.dat", bin.p, bin.len, 0600);
    zp_buf_add(&tar, (const char[1024]){0}, 1024);
    struct tar_reader r = {tar.p, tar.len};
    CHECK(engine_container_archive_put(e, ctr_id, "/data", tar_read, &r, &err) == 0, "%s", err.msg);
    CHECK(r.left == 0, "%zu bytes not sent", r.left);

    CHECK(engine_container_archive_get(e, ctr_id, "/data", collect_write, &got, &err) == 0, "%s",
          err.msg);
    size_t len = 0;
    const char *data = tar_find(&got.data, "data/hello.txt", &len);
    CHECK(data && len == strlen(hello) && memcmp(data, hello, len) == 0, "data/hello.txt");
    data = tar_find(&got.data, "data/bin.dat", &len);
    CHECK(data && len == bin.len && memcmp(data, bin.p, len) == 0, "data/bin.dat");
    CHECK(got.calls > 1, "%d pieces", got.calls); /* handed out as it arrived */
    printf("archive: put %zu bytes, got /data back as %zu bytes in %d pieces\n", tar.len,
           got.data.len, got.calls);
    zp_buf_reset(&got.data);
    CHECK(engine_container_archive_get(e, CTR, "/data/bin.dat", collect_write, &got, &err) == 0,
          "%s", err.msg);
    data = tar_find(&got.data, "bin.dat", &len);
    CHECK(data && len == bin.len && memcmp(data, bin.p, len) == 0, "bin.dat alone");

    int rc = engine_container_archive_get(e, CTR, "/data/none", collect_write, &got, &err);
    CHECK(rc == ZP_E_NOTFOUND && strstr(err.msg, "'/data/none'") && strstr(err.msg, CTR),
          "rc %d: %s", rc, err.msg);
    printf("archive of a missing path: %s\n", err.msg);
    zp_err_init(&err);
    r = (struct tar_reader){tar.p, tar.len};
    rc = engine_container_archive_put(e, CTR, "/data/hello.txt", tar_read, &r, &err);
    CHECK(rc == ZP_E_ENGINE && strstr(err.msg, "not a directory"), "rc %d: %s", rc, err.msg);
    printf("archive into a file: %s\n", err.msg);
    zp_err_init(&err);
    static const char garbage[] = "this is not a tar archive";
    r = (struct tar_reader){garbage, sizeof(garbage)};
    rc = engine_container_archive_put(e, CTR, "/data", tar_read, &r, &err);
    CHECK(rc == ZP_E_ENGINE && strstr(err.msg, "copying files into '/data' of container"),
          "rc %d: %s", rc, err.msg);
    printf("archive that is not a tar: %s\n", err.msg);
    zp_err_init(&err);
    rc = engine_container_archive_put(e, CTR, "/data", failing_read, NULL, &err);
    CHECK(rc == ZP_E_SYSTEM && strstr(err.msg, "Input/output error"), "rc %d: %s", rc, err.msg);
    zp_err_init(&err);
    rc = engine_container_archive_get(e, "zp-e2e-engine-none", "/", collect_write, &got, &err);
    CHECK(rc == ZP_E_NOTFOUND && strstr(err.msg, "zp-e2e-engine-none"), "rc %d: %s", rc, err.msg);
    zp_err_init(&err);
out:
    zp_buf_release(&tar);
    zp_buf_release(&bin);
    zp_buf_release(&got.data);
    return failed == before ? 0 : -1;
}

struct sampler {
    struct engine *e;
    const char *id;
    struct engine_stats first, last;
    int n, stop_after; /* ENGINE_STOP after stop_after samples; 0: never */
    int rc;
    struct zp_err err;
    _Atomic bool done;
};

static int on_sample(void *ctx, const struct engine_stats *s, struct zp_err *err)
{
    struct sampler *sp = ctx;
    (void)err;
    if (sp->n++ == 0)
        sp->first = *s;
    sp->last = *s;
    return sp->stop_after && sp->n >= sp->stop_after ? ENGINE_STOP : 0;
}

static void *sampler_main(void *arg)
{
    struct sampler *sp = arg;
    zp_err_init(&sp->err);
    sp->rc = engine_container_stats_stream(sp->e, sp->id, on_sample, sp, &sp->err);
    atomic_store(&sp->done, true);
    return NULL;
}

/* `stats` of the running container (64 MiB limit): one-shot, with the previous sample,
 * streamed. */
static int check_stats(struct engine *e, const char *ctr_id)
{
    int before = failed;
    struct zp_err err;
    struct engine_stats s;
    zp_err_init(&err);
    CHECK(engine_container_stats(e, ctr_id, true, &s, &err) == 0, "%s", err.msg);
    CHECK(s.mem_usage > 0 && s.pids >= 1 && s.mem_limit == 64 << 20,
          "mem %llu pids %llu limit %llu", (unsigned long long)s.mem_usage,
          (unsigned long long)s.pids, (unsigned long long)s.mem_limit);
    CHECK(s.read_ns > (int64_t)(time(NULL) - 60) * 1000000000 && s.online_cpus > 0 &&
              s.cpu_total > 0 && s.pre_cpu_total == 0,
          "read %lld cpus %llu cpu %llu pre %llu", (long long)s.read_ns,
          (unsigned long long)s.online_cpus, (unsigned long long)s.cpu_total,
          (unsigned long long)s.pre_cpu_total);
    CHECK(s.net_rx > 0, "rx %llu", (unsigned long long)s.net_rx);
    printf("stats one-shot: mem %llu/%llu (inactive %llu), pids %llu, rx %llu, %llu cpus\n",
           (unsigned long long)s.mem_usage, (unsigned long long)s.mem_limit,
           (unsigned long long)s.mem_cache, (unsigned long long)s.pids,
           (unsigned long long)s.net_rx, (unsigned long long)s.online_cpus);
    CHECK(engine_container_stats(e, ctr_id, false, &s, &err) == 0, "%s", err.msg);
    CHECK(s.pre_cpu_total > 0 && s.cpu_total >= s.pre_cpu_total &&
              s.system_cpu > s.pre_system_cpu && s.pre_system_cpu > 0,
          "cpu %llu pre %llu system %llu pre %llu", (unsigned long long)s.cpu_total,
          (unsigned long long)s.pre_cpu_total, (unsigned long long)s.system_cpu,
          (unsigned long long)s.pre_system_cpu);

    struct sampler sp = {.e = e, .id = ctr_id, .stop_after = 2};
    sampler_main(&sp);
    CHECK(sp.rc == 0 && sp.n == 2, "rc %d, %d samples: %s", sp.rc, sp.n, sp.err.msg);
    CHECK(sp.last.read_ns > sp.first.read_ns && sp.last.pids >= 1, "%lld %lld",
          (long long)sp.first.read_ns, (long long)sp.last.read_ns);
    int rc = engine_container_stats(e, "zp-e2e-engine-none", true, &s, &err);
    CHECK(rc == ZP_E_NOTFOUND && strstr(err.msg, "zp-e2e-engine-none"), "rc %d: %s", rc, err.msg);
    zp_err_init(&err);
out:
    return failed == before ? 0 : -1;
}

/* What inspect says of the running container beyond its state. */
static int check_inspect_fields(struct engine *e, const char *ctr_id)
{
    int before = failed;
    struct zp_err err;
    struct engine_container c = {0};
    zp_err_init(&err);
    CHECK(engine_container_inspect(e, ctr_id, &c, &err) == 0, "%s", err.msg);
    CHECK(c.memory_limit == 64 << 20, "memory %lld", (long long)c.memory_limit);
    CHECK(strcmp(c.restart_policy, "no") == 0, "restart policy '%s'", c.restart_policy);
    CHECK(c.health_output && strcmp(c.health_output, "") == 0 && c.health_exit_code == 0 &&
              c.failing_streak == 0,
          "probe '%s' exit %lld streak %lld", c.health_output ? c.health_output : "(none)",
          (long long)c.health_exit_code, (long long)c.failing_streak);
    CHECK(c.n_networks == 1 && strcmp(c.networks[0].name, NET) == 0, "%zu networks", c.n_networks);
    const struct engine_container_net *nw = &c.networks[0];
    CHECK(strchr(nw->ip, '.') != NULL, "address '%s'", nw->ip);
    bool short_id = false;
    for (size_t i = 0; i < nw->n_aliases; i++)
        short_id = short_id || strncmp(nw->aliases[i], ctr_id, 12) == 0;
    CHECK(short_id, "no short-ID alias among %zu", nw->n_aliases);
    printf("inspect: network %s address %s, %zu aliases\n", nw->name, nw->ip, nw->n_aliases);
out:
    engine_container_release(&c);
    return failed == before ? 0 : -1;
}

/* Build RETAGGED (FROM the local image, labels only) with the label v=version. */
static int build_labelled(struct engine *e, const char *version, char **ret_id, struct zp_err *err)
{
    static const char dockerfile[] = "FROM " IMAGE "\n";
    struct zp_buf tar = ZP_BUF_INIT;
    tar_add(&tar, "Dockerfile", dockerfile, strlen(dockerfile), 0644);
    zp_buf_add(&tar, (const char[1024]){0}, 1024);
    const struct engine_kv labels[] = {{"io.zpanel.project", PROJECT}, {"v", version}};
    struct engine_build_opts o = {.tag = RETAGGED, .labels = labels, .n_labels = 2};
    int rc = engine_image_build(e, tar.p, tar.len, &o, NULL, NULL, ret_id, err);
    zp_buf_release(&tar);
    return rc;
}

/* `image prune`: a tag moved to a new build leaves the old image dangling. */
static int check_dangling(struct engine *e)
{
    int before = failed;
    struct zp_err err;
    struct engine_image_list il = {NULL, 0};
    char *old_id = NULL, *new_id = NULL;
    zp_err_init(&err);
    const char *const filters[] = {LABEL_FILTER, NULL};
    CHECK(engine_image_list_dangling(e, filters, &il, &err) == 0 && il.n == 0, "%zu dangling",
          il.n);
    engine_image_list_release(&il);
    CHECK(build_labelled(e, "1", &old_id, &err) == 0, "%s", err.msg);
    CHECK(build_labelled(e, "2", &new_id, &err) == 0, "%s", err.msg);
    CHECK(strcmp(old_id, new_id) != 0, "same image");
    CHECK(engine_image_list_dangling(e, filters, &il, &err) == 0, "%s", err.msg);
    CHECK(il.n == 1 && strcmp(il.items[0].id, old_id) == 0 && il.items[0].n_repo_tags == 0 &&
              strcmp(engine_labels_get(&il.items[0].labels, "v"), "1") == 0,
          "%zu dangling", il.n);
    engine_image_list_release(&il);
    const char *const other[] = {"io.zpanel.project=zp-e2e-engine-other", NULL};
    CHECK(engine_image_list_dangling(e, other, &il, &err) == 0 && il.n == 0, "%zu dangling", il.n);
    CHECK(engine_image_remove(e, old_id, false, &err) == 0, "%s", err.msg);
    CHECK(engine_image_remove(e, RETAGGED, false, &err) == 0, "%s", err.msg);
    printf("dangling: %.19s left by a rebuild, listed and removed\n", old_id);
out:
    engine_image_list_release(&il);
    free(old_id);
    free(new_id);
    return failed == before ? 0 : -1;
}

static int check_images(struct engine *e, const char *img_id)
{
    int before = failed;
    struct zp_err err;
    struct engine_image_list il = {NULL, 0};
    zp_err_init(&err);
    const char *const filters[] = {LABEL_FILTER, NULL};
    CHECK(engine_image_list(e, filters, NULL, &il, &err) == 0, "%s", err.msg);
    CHECK(il.n == 1 && strcmp(il.items[0].id, img_id) == 0 && il.items[0].n_repo_tags == 2 &&
              il.items[0].size > 0 && il.items[0].created > 0,
          "%zu images", il.n);
    CHECK(strcmp(il.items[0].repo_tags[0], IMAGE) == 0 &&
              strcmp(il.items[0].repo_tags[1], TAGGED) == 0,
          "tags %s", il.items[0].repo_tags[0]);
    engine_image_list_release(&il);
    CHECK(engine_image_tag(e, IMAGE, "zp-e2e-engine-busybox", "retagged", &err) == 0, "%s",
          err.msg);
    CHECK(engine_image_list(e, NULL, "zp-e2e-engine-busybox:retagged", &il, &err) == 0 &&
              il.n == 1 && strcmp(il.items[0].id, img_id) == 0,
          "%s", err.msg);
    engine_image_list_release(&il);
    CHECK(engine_image_remove(e, "zp-e2e-engine-busybox:retagged", false, &err) == 0, "%s",
          err.msg);
    int rc = engine_image_tag(e, MISSING_IMAGE, "x", NULL, &err);
    CHECK(rc == ZP_E_NOTFOUND && strstr(err.msg, MISSING_IMAGE), "rc %d: %s", rc, err.msg);
    zp_err_init(&err);
out:
    engine_image_list_release(&il);
    return failed == before ? 0 : -1;
}

int main(void)
{
    struct zp_err err;
    struct engine *e = NULL;
    char *net_id = NULL, *img_id = NULL, *built_id = NULL, *ctr_id = NULL, *id = NULL;
    struct logs logs = {ZP_BUF_INIT, ZP_BUF_INIT};
    struct engine_info info = {0};
    struct engine_network_list nl = {NULL, 0};
    struct engine_volume_list vl = {NULL, 0};
    struct engine_container_list cl = {NULL, 0};
    struct engine_container c = {0};
    const char *const filters[] = {LABEL_FILTER, NULL};
    const struct engine_kv labels[] = {{"io.zpanel.project", PROJECT}, {"io.zpanel.e2e", "yes"}};
    bool exists = false;
    int rc;
    struct sampler sampler = {.n = 0};
    pthread_t sampler_th;
    bool sampler_started = false;

    zp_err_init(&err);
    CHECK(engine_global_init(&err) == 0, "%s", err.msg);
    e = engine_new(NULL, &err);
    CHECK(e != NULL, "%s", err.msg);

    /* connect, negotiate, ping, info */
    CHECK(engine_connect(e, &err) == 0, "%s", err.msg);
    printf("engine %s at %s, API %s\n", engine_server_version(e), engine_host(e),
           engine_api_version(e));
    CHECK(zp_str_has_prefix(engine_api_version(e), "1."), "%s", engine_api_version(e));
    CHECK(zp_parse_int64(engine_api_version(e) + 2, ENGINE_API_MIN_MINOR, ENGINE_API_MAX_MINOR,
                         &(int64_t){0}) == 0,
          "negotiated %s", engine_api_version(e));
    CHECK(engine_ping(e, &err) == 0, "%s", err.msg);
    CHECK(engine_info(e, &info, &err) == 0, "%s", err.msg);
    CHECK(info.ncpu > 0 && info.mem_total > 0, "ncpu %lld mem %lld", (long long)info.ncpu,
          (long long)info.mem_total);
    CHECK(strcmp(info.server_version, engine_server_version(e)) == 0, "%s", info.server_version);

    if (cleanup(e) != 0)
        fprintf(stderr, "note: leftovers of an earlier run could not all be removed\n");

    /* networks */
    struct engine_network_opts nopts = {.labels = labels, .n_labels = 2};
    CHECK(engine_network_create(e, NET, &nopts, &net_id, &err) == 0, "%s", err.msg);
    rc = engine_network_create(e, NET, &nopts, NULL, &err);
    CHECK(rc == ZP_E_CONFLICT && strstr(err.msg, NET) && strstr(err.msg, "(HTTP 409)"), "rc %d: %s",
          rc, err.msg);
    zp_err_init(&err);
    CHECK(engine_network_exists(e, NET, &exists, &err) == 0 && exists, "%s", err.msg);
    CHECK(engine_network_exists(e, "zp-e2e-engine-none", &exists, &err) == 0 && !exists, "%s",
          err.msg);
    CHECK(engine_network_list(e, filters, &nl, &err) == 0, "%s", err.msg);
    CHECK(nl.n == 1 && strcmp(nl.items[0].name, NET) == 0 && strcmp(nl.items[0].id, net_id) == 0,
          "%zu networks", nl.n);
    CHECK(strcmp(nl.items[0].driver, "bridge") == 0, "%s", nl.items[0].driver);
    CHECK(strcmp(engine_labels_get(&nl.items[0].labels, "io.zpanel.e2e"), "yes") == 0, "label");

    /* volumes */
    struct engine_volume_opts vopts = {.labels = labels, .n_labels = 2};
    CHECK(engine_volume_create(e, VOL, &vopts, &err) == 0, "%s", err.msg);
    CHECK(engine_volume_exists(e, VOL, &exists, &err) == 0 && exists, "%s", err.msg);
    CHECK(engine_volume_exists(e, "zp-e2e-engine-none", &exists, &err) == 0 && !exists, "%s",
          err.msg);
    CHECK(engine_volume_list(e, filters, &vl, &err) == 0, "%s", err.msg);
    CHECK(vl.n == 1 && strcmp(vl.items[0].name, VOL) == 0, "%zu volumes", vl.n);
    CHECK(strcmp(engine_labels_get(&vl.items[0].labels, "io.zpanel.project"), PROJECT) == 0,
          "label");

    /* a container from a missing image: the message names the image */
    rc = engine_container_create(e, "zp-e2e-engine-bad-1",
                                 "{\"Image\":\"" MISSING_IMAGE "\",\"Labels\":{"
                                 "\"io.zpanel.project\":\"" PROJECT "\"}}",
                                 &id, &err);
    CHECK(rc == ZP_E_NOTFOUND && strstr(err.msg, MISSING_IMAGE) &&
              zp_str_has_prefix(err.msg, "creating container 'zp-e2e-engine-bad-1': "),
          "rc %d: %s", rc, err.msg);
    printf("missing image: %s\n", err.msg);
    zp_err_init(&err);
    CHECK(engine_image_inspect(e, MISSING_IMAGE, &exists, &id, &err) == 0 && !exists && !id, "%s",
          err.msg);

    /* the image, built locally */
    rc = build_image(e, &built_id);
    CHECK(rc >= 0, "building %s failed", IMAGE);
    if (rc == 1) {
        skipped++;
        goto out;
    }
    CHECK(engine_image_inspect(e, IMAGE, &exists, &img_id, &err) == 0 && exists, "%s", err.msg);
    CHECK(zp_str_has_prefix(img_id, "sha256:") && strcmp(img_id, built_id) == 0, "%s %s", img_id,
          built_id);
    struct engine_build_opts bad = {.tag = "zp-e2e-engine-bad:latest"};
    static const char bad_tar_df[] = "FROM scratch\nRUN /nonexistent\n";
    struct zp_buf bad_tar = ZP_BUF_INIT;
    tar_add(&bad_tar, "Dockerfile", bad_tar_df, strlen(bad_tar_df), 0644);
    zp_buf_add(&bad_tar, (const char[1024]){0}, 1024);
    rc = engine_image_build(e, bad_tar.p, bad_tar.len, &bad, NULL, NULL, &id, &err);
    zp_buf_release(&bad_tar);
    CHECK(rc == ZP_E_ENGINE && zp_str_has_prefix(err.msg, "building image "
                                                          "'zp-e2e-engine-bad:latest': "),
          "rc %d: %s", rc, err.msg);
    printf("failed build: %s\n", err.msg);
    zp_err_init(&err);

    /* a container's life cycle */
    const char *config =
        "{\"Image\":\"" IMAGE "\","
        "\"Cmd\":[\"/bin/busybox\",\"sh\",\"-c\","
        "\"echo hello-out; echo hello-err >&2; exec /bin/busybox sleep 600\"],"
        "\"Labels\":{\"io.zpanel.project\":\"" PROJECT "\",\"io.zpanel.service\":\"web\"},"
        "\"ExposedPorts\":{\"80/tcp\":{}},"
        "\"Healthcheck\":{\"Test\":[\"CMD\",\"/bin/busybox\",\"true\"],"
        "\"Interval\":500000000,\"StartPeriod\":0},"
        "\"HostConfig\":{\"NetworkMode\":\"" NET "\",\"Memory\":67108864,"
        "\"RestartPolicy\":{\"Name\":\"no\"},"
        "\"PortBindings\":{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"\"}]},"
        "\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"" VOL "\",\"Target\":\"/data\"}]}}";
    CHECK(engine_container_create(e, CTR, config, &ctr_id, &err) == 0, "%s", err.msg);
    rc = engine_container_create(e, CTR, config, &id, &err);
    CHECK(rc == ZP_E_CONFLICT && strstr(err.msg, CTR), "rc %d: %s", rc, err.msg);
    zp_err_init(&err);
    CHECK(engine_container_inspect(e, CTR, &c, &err) == 0, "%s", err.msg);
    CHECK(strcmp(c.status, "created") == 0 && !c.running, "%s", c.status);
    CHECK(strcmp(c.id, ctr_id) == 0 && strcmp(c.name, CTR) == 0, "%s %s", c.id, c.name);
    CHECK(strcmp(c.image_id, img_id) == 0, "%s", c.image_id);
    engine_container_release(&c);

    CHECK(engine_container_start(e, ctr_id, &err) == 0, "%s", err.msg);
    CHECK(engine_container_start(e, CTR, &err) == 0, "already running: %s", err.msg);
    bool healthy = false;
    for (int i = 0; i < 60 && !healthy; i++) {
        CHECK(engine_container_inspect(e, ctr_id, &c, &err) == 0, "%s", err.msg);
        CHECK(c.running && strcmp(c.status, "running") == 0, "%s", c.status);
        CHECK(c.health != NULL, "no health status");
        healthy = strcmp(c.health, "healthy") == 0;
        CHECK(healthy || strcmp(c.health, "starting") == 0, "health %s", c.health);
        CHECK(strcmp(engine_labels_get(&c.labels, "io.zpanel.service"), "web") == 0, "labels");
        engine_container_release(&c);
        if (!healthy)
            sleep_ms(250);
    }
    CHECK(healthy, "not healthy after 15 s");

    CHECK(engine_container_logs(e, CTR, NULL, on_frame, &logs, &err) == 0, "%s", err.msg);
    CHECK(strcmp(zp_buf_cstr(&logs.out), "hello-out\n") == 0, "stdout '%s'",
          zp_buf_cstr(&logs.out));
    CHECK(strcmp(zp_buf_cstr(&logs.errs), "hello-err\n") == 0, "stderr '%s'",
          zp_buf_cstr(&logs.errs));

    CHECK(engine_container_list(e, filters, false, &cl, &err) == 0, "%s", err.msg);
    CHECK(cl.n == 1 && strcmp(cl.items[0].id, ctr_id) == 0, "%zu containers", cl.n);
    CHECK(strcmp(cl.items[0].names[0], CTR) == 0 && strcmp(cl.items[0].state, "running") == 0,
          "%s %s", cl.items[0].names[0], cl.items[0].state);
    CHECK(strcmp(cl.items[0].image_id, img_id) == 0, "%s", cl.items[0].image_id);
    engine_container_list_release(&cl);

    CHECK(check_ps_fields(e, ctr_id) == 0, "ps fields");
    CHECK(check_inspect_fields(e, ctr_id) == 0, "inspect fields");
    CHECK(check_stats(e, ctr_id) == 0, "stats");
    CHECK(check_archive(e, ctr_id) == 0, "archive");
    CHECK(check_network_spec(e, ctr_id) == 0, "network spec");
    CHECK(check_exec(e, ctr_id) == 0, "exec");
    CHECK(check_logs_threads() == 0, "logs in threads");
    CHECK(check_attach_wait(e) == 0, "attach and wait");
    CHECK(check_images(e, img_id) == 0, "images");
    CHECK(check_dangling(e) == 0, "dangling images");
    CHECK(check_events(e, ctr_id) == 0, "events");
    int64_t code = 0;
    rc = engine_container_wait(e, ctr_id, ENGINE_WAIT_NOT_RUNNING, 300, &code, &err);
    CHECK(rc == ZP_E_ENGINE && strstr(err.msg, "timed out"), "rc %d: %s", rc, err.msg);
    zp_err_init(&err);

    /* a stats stream ends when the container stops */
    sampler.e = engine_new(NULL, &err);
    CHECK(sampler.e, "%s", err.msg);
    sampler.id = ctr_id;
    CHECK(pthread_create(&sampler_th, NULL, sampler_main, &sampler) == 0, "pthread");
    sampler_started = true;
    for (int i = 0; i < 50 && sampler.n == 0; i++)
        sleep_ms(100);
    CHECK(engine_container_stop(e, ctr_id, 1, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 100 && !atomic_load(&sampler.done); i++)
        sleep_ms(100);
    CHECK(atomic_load(&sampler.done), "the stats stream did not end with the container");
    pthread_join(sampler_th, NULL);
    sampler_started = false;
    CHECK(sampler.rc == 0 && sampler.n >= 1, "rc %d, %d samples: %s", sampler.rc, sampler.n,
          sampler.err.msg);
    printf("stats stream: %d samples, ended when the container stopped\n", sampler.n);
    CHECK(engine_container_stop(e, ctr_id, 1, &err) == 0, "already stopped: %s", err.msg);
    struct engine_stats zs;
    CHECK(engine_container_stats(e, ctr_id, true, &zs, &err) == 0, "%s", err.msg);
    CHECK(zs.read_ns == 0 && zs.mem_usage == 0 && zs.pids == 0, "stopped: mem %llu",
          (unsigned long long)zs.mem_usage);
    CHECK(engine_container_inspect(e, ctr_id, &c, &err) == 0, "%s", err.msg);
    CHECK(!c.running && strcmp(c.status, "exited") == 0, "%s", c.status);
    CHECK(c.exit_code == 137 || c.exit_code == 143, "exit code %lld", (long long)c.exit_code);
    engine_container_release(&c);
    CHECK(engine_container_list(e, filters, false, &cl, &err) == 0 && cl.n == 0, "%zu running",
          cl.n);
    engine_container_list_release(&cl);
    CHECK(engine_container_list(e, filters, true, &cl, &err) == 0 && cl.n == 1, "%zu in all", cl.n);
    CHECK(strcmp(cl.items[0].state, "exited") == 0, "%s", cl.items[0].state);
    engine_container_list_release(&cl);

    /* a running container is not removed without force; kill and wait */
    CHECK(engine_container_start(e, ctr_id, &err) == 0, "%s", err.msg);
    rc = engine_container_kill(e, ctr_id, "SIGNOPE", &err);
    CHECK(rc != 0 && strstr(err.msg, "killing container '"), "rc %d: %s", rc, err.msg);
    zp_err_init(&err);
    CHECK(engine_container_kill(e, ctr_id, "SIGKILL", &err) == 0, "%s", err.msg);
    CHECK(engine_container_wait(e, ctr_id, ENGINE_WAIT_NOT_RUNNING, 10000, &code, &err) == 0, "%s",
          err.msg);
    CHECK(code == 137, "exit code %lld", (long long)code);
    rc = engine_container_kill(e, ctr_id, NULL, &err);
    CHECK(rc == ZP_E_CONFLICT, "rc %d: %s", rc, err.msg);
    printf("kill a stopped container: %s\n", err.msg);
    zp_err_init(&err);
    CHECK(engine_container_start(e, ctr_id, &err) == 0, "%s", err.msg);
    rc = engine_container_remove(e, ctr_id, false, false, &err);
    CHECK(rc == ZP_E_CONFLICT, "rc %d: %s", rc, err.msg);
    zp_err_init(&err);
    CHECK(engine_container_remove(e, ctr_id, true, true, &err) == 0, "%s", err.msg);
    rc = engine_container_inspect(e, ctr_id, &c, &err);
    CHECK(rc == ZP_E_NOTFOUND && strstr(err.msg, "(HTTP 404)"), "rc %d: %s", rc, err.msg);
    zp_err_init(&err);

    CHECK(engine_network_remove(e, NET, &err) == 0, "%s", err.msg);
    rc = engine_network_remove(e, NET, &err);
    CHECK(rc == ZP_E_NOTFOUND, "rc %d: %s", rc, err.msg);
    zp_err_init(&err);
    CHECK(engine_volume_remove(e, VOL, false, &err) == 0, "%s", err.msg);
    CHECK(engine_image_remove(e, IMAGE, false, &err) == 0, "%s", err.msg);
    CHECK(engine_image_inspect(e, IMAGE, &exists, NULL, &err) == 0 && !exists, "%s", err.msg);

out:
    if (sampler_started) {
        engine_cancel(sampler.e);
        pthread_join(sampler_th, NULL);
    }
    engine_free(sampler.e);
    engine_container_release(&c);
    engine_container_list_release(&cl);
    engine_network_list_release(&nl);
    engine_volume_list_release(&vl);
    engine_info_release(&info);
    if (e && cleanup(e) != 0)
        failed++;
    engine_free(e);
    engine_global_cleanup();
    free(net_id);
    free(img_id);
    free(built_id);
    free(ctr_id);
    zp_buf_release(&logs.out);
    zp_buf_release(&logs.errs);
    free(id);
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : skipped ? 77 : 0; /* 77: ctest's SKIP_RETURN_CODE, never a pass */
}

/* e2e: the engine client against the real Docker engine (DOCKER_HOST or the default
 * socket): negotiation, system calls, networks, volumes, a locally built image (FROM
 * scratch + Debian's static busybox, built through the API, never pulled), a
 * container's life cycle and its logs.
 * Everything it creates carries io.zpanel.project=e2e-engine and is removed at the end,
 * also after a failure, and at the start when an earlier run left something behind. */
#define _GNU_SOURCE
#include <errno.h>
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
#define BUSYBOX "/bin/busybox"

static int passed, failed;

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

/* Build IMAGE through the engine from a scratch context holding busybox (nothing is
 * pulled). Returns 0 on success, 1 when busybox is missing (the image checks are
 * skipped), -1 on failure. */
static int build_image(struct engine *e, char **ret_id)
{
    if (access(BUSYBOX, X_OK) != 0) {
        fprintf(stderr, "skipping image checks: %s missing (install busybox-static)\n", BUSYBOX);
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
    struct engine_build_opts o = {.tag = IMAGE, .labels = labels, .n_labels = 1};
    int messages = 0;
    int rc = engine_image_build(e, tar.p, tar.len, &o, on_progress, &messages, ret_id, &err);
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
    if (rc == 1)
        goto out;
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
        "\"Healthcheck\":{\"Test\":[\"CMD\",\"/bin/busybox\",\"true\"],"
        "\"Interval\":500000000,\"StartPeriod\":0},"
        "\"HostConfig\":{\"NetworkMode\":\"" NET "\","
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

    CHECK(engine_container_stop(e, ctr_id, 1, &err) == 0, "%s", err.msg);
    CHECK(engine_container_stop(e, ctr_id, 1, &err) == 0, "already stopped: %s", err.msg);
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

    /* a running container is not removed without force */
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
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

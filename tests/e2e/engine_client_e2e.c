/* e2e: the engine client against the real Docker engine (DOCKER_HOST or the default
 * socket): negotiation, system calls, networks, volumes, a locally built image (FROM
 * scratch + Debian's static busybox, never pulled) and a container's life cycle.
 * Everything it creates carries io.zpanel.project=e2e-engine and is removed at the end,
 * also after a failure, and at the start when an earlier run left something behind. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "util/util.h"

#include "../../src/util/banned.h"

extern char **environ;

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

static int copy_file(const char *from, const char *to)
{
    char *data = NULL;
    size_t len = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (zp_file_read(from, 64 << 20, &data, &len, &err) != 0)
        return -1;
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    int rc = fd >= 0 && write(fd, data, len) == (ssize_t)len ? 0 : -1;
    if (fd >= 0)
        close(fd);
    free(data);
    return rc;
}

/* Build IMAGE with the docker CLI from a scratch context holding busybox. Returns 0 on
 * success, 1 when the tools are missing (the image checks are skipped), -1 on failure. */
static int build_image(void)
{
    if (access(BUSYBOX, X_OK) != 0) {
        fprintf(stderr, "skipping image checks: %s missing (install busybox-static)\n", BUSYBOX);
        return 1;
    }
    char dir[] = "/tmp/zp-e2e-engine-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    char *bb = zp_asprintf("%s/busybox", dir);
    char *df = zp_asprintf("%s/Dockerfile", dir);
    int rc = -1;
    FILE *f = NULL;
    if (copy_file(BUSYBOX, bb) != 0)
        goto out;
    f = fopen(df, "we");
    if (!f)
        goto out;
    fputs("FROM scratch\nCOPY busybox /bin/busybox\nLABEL io.zpanel.project=" PROJECT "\n", f);
    if (fclose(f) != 0)
        goto out;
    /* The legacy builder needs no buildx plugin and nothing from a registry for scratch. */
    setenv("DOCKER_BUILDKIT", "0", 1);
    char a0[] = "docker", a1[] = "build", a2[] = "-q", a3[] = "-t", a4[] = IMAGE;
    char *argv[] = {a0, a1, a2, a3, a4, dir, NULL};
    pid_t pid;
    int sp = posix_spawnp(&pid, "docker", NULL, NULL, argv, environ);
    if (sp == ENOENT) {
        fprintf(stderr, "skipping image checks: no docker CLI\n");
        rc = 1;
        goto out;
    }
    if (sp != 0)
        goto out;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    rc = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
out:
    unlink(bb);
    unlink(df);
    rmdir(dir);
    free(bb);
    free(df);
    return rc;
}

int main(void)
{
    struct zp_err err;
    struct engine *e = NULL;
    char *net_id = NULL, *img_id = NULL, *ctr_id = NULL, *id = NULL;
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
    rc = build_image();
    CHECK(rc >= 0, "docker build of %s failed", IMAGE);
    if (rc == 1)
        goto out;
    CHECK(engine_image_inspect(e, IMAGE, &exists, &img_id, &err) == 0 && exists, "%s", err.msg);
    CHECK(zp_str_has_prefix(img_id, "sha256:"), "%s", img_id);

    /* a container's life cycle */
    const char *config =
        "{\"Image\":\"" IMAGE "\","
        "\"Cmd\":[\"/bin/busybox\",\"sleep\",\"600\"],"
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
    free(ctr_id);
    free(id);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

/* backup/common: what backup, verify and restore share: archive readers, the manifest
 * entry, the helper container, output names. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <unistd.h>

#include <jansson.h>

#include "backup-int.h"

#include "../util/banned.h"

char *backup__now_rfc3339(void)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return zp_strdup(buf);
}

int backup__read_manifest(struct arc_reader *r, const struct arc_entry *e, char **ret,
                          size_t *ret_len, struct zp_err *err)
{
    if (e->type != ARC_FILE)
        return zp_err_set(err, ZP_E_INPUT, NULL, "manifest.json is not a regular file");
    if (e->size > (int64_t)BACKUP_MAX_MANIFEST)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "manifest.json: larger than %zu bytes",
                          BACKUP_MAX_MANIFEST);
    struct zp_buf b;
    zp_buf_init(&b, BACKUP_MAX_MANIFEST);
    char chunk[65536];
    for (;;) {
        size_t n = 0;
        if (arc_reader_data(r, chunk, sizeof(chunk), &n, err) != 0) {
            zp_buf_release(&b);
            zp_err_prefix(err, "manifest.json");
            return err->code;
        }
        if (n == 0)
            break;
        if (zp_buf_add(&b, chunk, n) != 0) {
            zp_buf_release(&b);
            return zp_err_set(err, ZP_E_TOOBIG, NULL, "manifest.json: larger than %zu bytes",
                              BACKUP_MAX_MANIFEST);
        }
    }
    *ret = zp_buf_detach(&b, ret_len);
    return 0;
}

int backup__local_mountpoint(struct engine *e, const char *name, size_t n_options, char **ret,
                             struct zp_err *err)
{
    *ret = NULL;
    if (n_options > 0 || !engine_is_local(e)) /* a remote engine's paths are not ours */
        return 0;
    struct engine_volume_list all = {0};
    int rc = engine_volume_list(e, NULL, &all, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < all.n; i++) {
        const struct engine_volume *v = &all.items[i];
        if (strcmp(v->name, name) != 0)
            continue;
        if (v->driver == NULL || strcmp(v->driver, "local") != 0 || v->mountpoint == NULL ||
            v->mountpoint[0] != '/')
            break;
        /* the engine may run in another mount namespace (a VM, a container): the path must
         * be a directory here that we can open */
        int fd = open(v->mountpoint, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            *ret = zp_strdup(v->mountpoint);
        }
        break;
    }
    engine_volume_list_release(&all);
    return 0;
}

int backup_compression_for(const char *path, enum backup_compression *ret, struct zp_err *err)
{
    if (zp_str_has_suffix(path, ".tar"))
        *ret = BACKUP_TAR;
    else if (zp_str_has_suffix(path, ".tar.gz") || zp_str_has_suffix(path, ".tgz"))
        *ret = BACKUP_GZIP;
    else if (zp_str_has_suffix(path, ".tar.zst") || zp_str_has_suffix(path, ".tzst"))
        *ret = BACKUP_ZSTD;
    else
        return zp_err_set(err, ZP_E_USAGE, NULL,
                          "--output: '%s' does not end in .tar, .tar.gz, .tgz or .tar.zst", path);
    return 0;
}

int backup__pick_image(struct engine *e, const char *const *images, size_t n, const char **ret,
                       struct zp_err *err)
{
    for (size_t i = 0; i < n; i++) {
        bool exists = false;
        int rc = engine_image_inspect(e, images[i], &exists, NULL, err);
        if (rc < 0)
            return rc;
        if (exists) {
            *ret = images[i];
            return 0;
        }
    }
    return zp_err_set(err, ZP_E_NOTFOUND, NULL,
                      "no image of the project is present on the engine to read volumes with "
                      "(nothing is pulled); build or deploy the project first");
}

int backup__helper_create(struct engine *e, const char *project, const char *image,
                          const char *const *names, size_t n, char **ret_id, struct zp_err *err)
{
    /* owned */
    json_t *cfg = json_object();
    json_object_set_new(cfg, "Image", json_string(image));
    /* never started; a FROM scratch image has no CMD and the engine wants one */
    json_t *cmd = json_array();
    json_array_append_new(cmd, json_string("/zpanel-backup-helper"));
    json_object_set_new(cfg, "Cmd", cmd);
    json_t *labels = json_object();
    json_object_set_new(labels, "io.zpanel.project", json_string(project));
    json_object_set_new(labels, BACKUP_HELPER_LABEL, json_string("backup"));
    json_object_set_new(cfg, "Labels", labels);
    json_object_set_new(cfg, "NetworkDisabled", json_true());
    json_t *mounts = json_array();
    for (size_t i = 0; i < n; i++) {
        char *target = zp_asprintf("%s/v%zu", BACKUP_HELPER_DIR, i);
        json_t *m = json_object();
        json_object_set_new(m, "Type", json_string("volume"));
        json_object_set_new(m, "Source", json_string(names[i]));
        json_object_set_new(m, "Target", json_string(target));
        json_t *vo = json_object();
        json_object_set_new(vo, "NoCopy", json_true());
        json_object_set_new(m, "VolumeOptions", vo);
        json_array_append_new(mounts, m);
        free(target);
    }
    json_t *hc = json_object();
    json_object_set_new(hc, "Mounts", mounts);
    json_object_set_new(hc, "NetworkMode", json_string("none"));
    json_object_set_new(cfg, "HostConfig", hc);
    char *text = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    if (text == NULL)
        return zp_err_set(err, ZP_E_INTERNAL, NULL, "encoding the helper container");
    int rc = engine_container_create(e, NULL, text, ret_id, err);
    free(text);
    if (rc < 0)
        zp_err_prefix(err, "creating the backup helper container from image '%s'", image);
    return rc;
}

void backup__helper_remove(struct engine *e, const char *id, struct zp_err *err)
{
    if (id == NULL)
        return;
    struct zp_err tmp;
    zp_err_init(&tmp);
    /* a cancelled session still has to clean up */
    bool cancelled = engine_cancelled(e);
    if (cancelled)
        engine_cancel_clear(e);
    if (engine_container_remove(e, id, true, false, &tmp) < 0 && tmp.code != ZP_E_NOTFOUND &&
        err->code == 0)
        *err = tmp;
    if (cancelled)
        engine_cancel(e);
}

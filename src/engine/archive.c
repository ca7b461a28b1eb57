/* engine/archive: files of a container through the archive API: a tar stream of a path
 * handed out as it arrives, and a tar stream uploaded (chunked) into a directory. */
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"

#include "../util/banned.h"

static char *archive_path(const char *id, const char *path, struct zp_buf *q)
{
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_adds(&b, "/containers/");
    engine__escape(&b, id, false);
    zp_buf_adds(&b, "/archive");
    engine__query_add(q, "path", path);
    return zp_buf_detach(&b, NULL);
}

struct archive_sink {
    engine_write_fn write_fn;
    void *ctx;
};

static int archive_chunk(void *ctx, const char *data, size_t len, struct zp_err *err)
{
    struct archive_sink *s = ctx;
    return s->write_fn(s->ctx, data, len, err);
}

int engine_container_archive_get(struct engine *e, const char *id, const char *path,
                                 engine_write_fn write_fn, void *ctx, struct zp_err *err)
{
    struct zp_buf q = ZP_BUF_INIT;
    char *p = archive_path(id, path, &q);
    char *what = zp_asprintf("copying '%s' from container '%s'", path, id);
    /* An archive can be large and slow: no request timeout; engine_cancel ends it. */
    struct engine__req req = {.method = "GET",
                              .path = p,
                              .query = zp_buf_cstr(&q),
                              .timeout_ms = -1,
                              .bulk = true,
                              .what = what};
    struct archive_sink s = {write_fn, ctx};
    int rc = engine__request_stream(e, &req, archive_chunk, &s, err);
    if (rc > 0) /* the callback's clean stop */
        rc = 0;
    if (rc != 0 && err->code && !zp_str_has_prefix(err->msg, what))
        zp_err_prefix(err, "%s", what);
    free(what);
    free(p);
    zp_buf_release(&q);
    return rc;
}

int engine_container_archive_put(struct engine *e, const char *id, const char *path,
                                 engine_read_fn read_fn, void *ctx, struct zp_err *err)
{
    struct zp_buf q = ZP_BUF_INIT;
    char *p = archive_path(id, path, &q);
    char *what = zp_asprintf("copying files into '%s' of container '%s'", path, id);
    /* The chunked upload of engine_image_build_stream, as a PUT. */
    struct engine__req req = {.method = "PUT",
                              .path = p,
                              .query = zp_buf_cstr(&q),
                              .read_fn = read_fn,
                              .read_ctx = ctx,
                              .content_type = "application/x-tar",
                              .timeout_ms = -1,
                              .bulk = true,
                              .what = what};
    char *body = NULL;
    size_t len = 0;
    long status = 0;
    int rc = engine__request_text(e, &req, &status, &body, &len, err);
    if (rc != 0 && err->code && !zp_str_has_prefix(err->msg, what))
        zp_err_prefix(err, "%s", what);
    free(body);
    free(what);
    free(p);
    zp_buf_release(&q);
    return rc;
}

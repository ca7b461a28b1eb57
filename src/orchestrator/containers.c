/* orchestrator/containers: what several commands do to one container: stop and remove it
 * with progress (up, down, rm, orphans), read its last log lines (failed gates, rollouts). */
#include <stdlib.h>
#include <string.h>

#include "hooks.h"
#include "orchestrator-int.h"

#include "../util/banned.h"

/* ---- the last log lines of a container, for failed gates ---- */

static int log_frame(void *ctx, enum engine_stream stream, const char *data, size_t len,
                     struct zp_err *err)
{
    (void)stream;
    (void)err;
    zp_buf_add(ctx, data, len);
    return 0;
}

char *orch__last_logs(struct engine *e, const char *id, int lines)
{
    struct zp_buf b;
    zp_buf_init(&b, 64 * 1024);
    struct engine_logs_opts lo = {.tail = lines};
    struct engine_container c = {0};
    struct zp_err err;
    zp_err_init(&err);
    if (engine_container_inspect(e, id, &c, &err) == 0) {
        lo.tty = c.tty;
        engine_container_release(&c);
    }
    zp_err_init(&err);
    engine_container_logs(e, id, &lo, log_frame, &b, &err);
    while (b.len > 0 && b.p[b.len - 1] == '\n')
        b.p[--b.len] = '\0';
    return zp_buf_detach(&b, NULL);
}

int orch__remove_container(struct orch *o, struct engine *e, const struct orch_obs_container *c,
                           int timeout, bool volumes, struct zp_err *err)
{
    const char *service = c->service[0] ? c->service : NULL;
    if (strcmp(c->state, "running") == 0 || strcmp(c->state, "restarting") == 0 ||
        strcmp(c->state, "paused") == 0) {
        if (service != NULL && orch__run_hooks(o, e, service, "pre_stop", c->id, c->name, err) < 0)
            goto fail;
        orch__emit(o, ORCH_OBJ_CONTAINER, c->name, service, ORCH_WORKING, "Stopping");
        if (engine_container_stop(e, c->id, timeout, err) < 0)
            goto fail;
        orch__emit(o, ORCH_OBJ_CONTAINER, c->name, service, ORCH_DONE, "Stopped");
    }
    orch__emit(o, ORCH_OBJ_CONTAINER, c->name, service, ORCH_WORKING, "Removing");
    if (engine_container_remove(e, c->id, true, volumes, err) < 0 && err->code != ZP_E_NOTFOUND)
        goto fail;
    zp_err_init(err);
    orch__emit(o, ORCH_OBJ_CONTAINER, c->name, service, ORCH_DONE, "Removed");
    return 0;
fail:
    if (service != NULL)
        zp_err_prefix(err, "service '%s'", service);
    orch__emit(o, ORCH_OBJ_CONTAINER, c->name, service, ORCH_FAILED, "%s", err->msg);
    return err->code;
}

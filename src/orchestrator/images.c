/* orchestrator/images: a service's image: whether the local one carries a build digest,
 * and building it with progress (up, release). */
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "orchestrator-int.h"

#include "../util/banned.h"

bool orch__image_has_digest(struct engine *e, const char *ref, const char *id, const char *digest)
{
    struct engine_image_list l = {0};
    struct zp_err err;
    zp_err_init(&err);
    bool found = false, same = false;
    if (engine_image_list(e, NULL, ref, &l, &err) < 0)
        return false;
    /* the first image with the label decides */
    for (size_t i = 0; i < l.n && !found; i++) {
        if (id != NULL && strcmp(l.items[i].id, id) != 0)
            continue;
        const char *v = engine_labels_get(&l.items[i].labels, ORCH_LABEL_BUILD_DIGEST);
        if (v != NULL) {
            found = true;
            same = strcmp(v, digest) == 0;
        }
    }
    engine_image_list_release(&l);
    return same;
}

int orch__build_image(struct orch *o, const char *service, const struct zp_node *svc,
                      const char *image, const char *digest, char **ret_id, struct zp_err *err)
{
    struct orch_build_opts bo = {0};
    orch__emit(o, ORCH_OBJ_IMAGE, image, service, ORCH_WORKING, "Building");
    if (orch_build_service(o->e, o->p, service, svc, image, digest, &bo, orch__relay, o, ret_id,
                           err) < 0) {
        if (strstr(err->msg, service) == NULL)
            zp_err_prefix(err, "service '%s'", service);
        orch__emit(o, ORCH_OBJ_IMAGE, image, service, ORCH_FAILED, "%s", err->msg);
        return err->code;
    }
    orch__emit(o, ORCH_OBJ_IMAGE, image, service, ORCH_DONE, "Built");
    return 0;
}

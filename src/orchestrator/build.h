/* orchestrator/build: building service images through the engine (Dockerfile builds with
 * a streamed build context honouring .dockerignore), and the build-input digest that
 * decides whether an image must be rebuilt. */
#ifndef ZP_ORCH_BUILD_H
#define ZP_ORCH_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "../compose/compose.h"
#include "../util/util.h"
#include "orchestrator.h"

struct engine;

/* The label on images zpanel builds, holding their build-input digest. */
#define ORCH_LABEL_BUILD_DIGEST "io.zpanel.build-digest"

struct orch_build_opts {
    bool no_cache;
    bool pull;
    const char *const *build_args; /* --build-arg K=V (or K: from the environment) */
    size_t nbuild_args;
};

/* The build-input digest of a service with a build section (svc normalised): SHA-256 over
 * the context's file list after .dockerignore (paths, modes, sizes, content hashes), the
 * Dockerfile (or dockerfile_inline), args (a name without a value resolved from p's
 * environment, or the process environment when p is NULL), target and the other build
 * fields. Streams files, never loads the context. Errors: ZP_E_NOTFOUND (context or
 * Dockerfile missing), ZP_E_SYSTEM, ZP_E_INPUT (remote contexts are not supported yet). */
int orch_build_digest(const struct compose_project *p, const struct zp_node *svc,
                      const struct orch_build_opts *opts, char out[65], struct zp_err *err);

/* Build the image of `service` (svc normalised) on engine e, tagged `image` and every
 * build.tags entry, labelled with build.labels and ORCH_LABEL_BUILD_DIGEST = digest (may
 * be NULL: computed). Each build step's output goes to progress as ORCH_INFO lines of
 * the image object. Returns the image ID (caller frees). A failed step: ZP_E_ENGINE with
 * the step and its output in err. */
int orch_build_service(struct engine *e, const struct compose_project *p, const char *service,
                       const struct zp_node *svc, const char *image, const char *digest,
                       const struct orch_build_opts *opts, orch_progress_fn progress, void *ud,
                       char **ret_image_id, struct zp_err *err);

#endif

/* release/app-deploy: deploying an app from git (app/): fetch, detect, generate its
 * compose file, then the same release_deploy that `up` and the server use, with the
 * deployed commit recorded in the release's note. */
#ifndef ZP_RELEASE_APP_DEPLOY_H
#define ZP_RELEASE_APP_DEPLOY_H

#include "../app/app.h"
#include "release.h"

struct release_app_result {
    char sha[41];       /* the commit deployed */
    char provider[16];  /* the build pack */
    int64_t release_id; /* the release recorded, or 0 (nothing changed) */
};

/* Deploy app name (its settings under opts->state_dir) at commit (NULL: the branch's
 * tip): app_prepare, load the compose file, orch session, release_deploy (`up -d --wait
 * --remove-orphans`, building the commit's image when it is missing), then note
 * "git COMMIT (BRANCH)" on the release and save the commit in the app's settings. Holds
 * the app's lock (STATE/apps/NAME/.lock) throughout. Errors: ZP_E_CONFLICT (another
 * deploy of the app runs), those of app_prepare, compose loading (ZP_E_INPUT) and
 * release_deploy. */
int release_app_deploy(const char *name, const char *commit, const struct release_opts *opts,
                       struct release_app_result *ret, struct zp_err *err);

/* Stop and remove the app's containers and networks (volumes too), then its settings
 * and checkout. A never-deployed app is just removed. */
int release_app_remove(const char *name, bool volumes, const struct release_opts *opts,
                       struct zp_err *err);

#endif

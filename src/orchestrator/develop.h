/* orchestrator/develop: Compose's develop.watch — follow the files of the rules with inotify
 * and sync them into the running containers (the archive API), restart, exec or rebuild
 * and recreate the service. Kept out of orchestrator.h like status.h and release.h. */
#ifndef ZP_ORCH_DEVELOP_H
#define ZP_ORCH_DEVELOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

struct orch;

#define ORCH_DEVELOP_MAX_DIRS 8192     /* directories followed (one inotify watch each) */
#define ORCH_DEVELOP_MAX_CHANGES 4096  /* changed paths kept per rule; more: the whole path */
#define ORCH_DEVELOP_DEBOUNCE_MS 500   /* quiet time before a batch of changes is applied */
#define ORCH_DEVELOP_MAX_BATCH_MS 5000 /* a batch is applied at the latest after this */

struct orch_develop_opts {
    const char *const *services; /* only these; none: every service with develop.watch */
    size_t nservices;
    bool no_up;          /* do not run `up` (build what is missing, start) first */
    int64_t debounce_ms; /* 0: ORCH_DEVELOP_DEBOUNCE_MS */
};

/* Watch until orch_cancel: first `up` the selected services (unless no_up), sync the rules
 * with initial_sync, then apply each batch of changes (after debounce_ms without a new
 * one): `sync` copies the changed files and directories into target in every running
 * container of the service (deleted ones are removed there), `sync+restart` then restarts
 * them, `sync+exec` then runs the rule's exec in each, `restart` only restarts, and
 * `rebuild` builds the image and recreates the service (no dependencies); a rebuild makes
 * the service's other rules of the same batch moot. Paths matching the rule's `ignore`,
 * not matching its `include`, excluded by the build context's .dockerignore, under .git,
 * or editor temporary files are left alone. A failed action is reported (ORCH_WARNING)
 * and watching goes on. Returns ZP_E_CANCELLED ("interrupted") once cancelled.
 * Errors before watching: ZP_E_INPUT (no selected service has develop.watch, a rule's
 * path does not exist, a sync rule without target, a rebuild rule without build, a bad
 * ignore pattern), ZP_E_TOOBIG (more than ORCH_DEVELOP_MAX_DIRS directories), ZP_E_SYSTEM
 * (inotify), those of orch_up. */
int orch_develop_watch(struct orch *o, const struct orch_develop_opts *opts, struct zp_err *err);

#endif

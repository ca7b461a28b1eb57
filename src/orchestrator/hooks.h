/* orchestrator/hooks: the Compose lifecycle hooks (post_start, pre_stop) of a service, run
 * in its container through exec. */
#ifndef ZP_ORCH_HOOKS_H
#define ZP_ORCH_HOOKS_H

#include <stddef.h>

#include "../compose/node.h"
#include "../util/util.h"

struct orch;
struct engine;

/* Run the hooks listed under `which` ("post_start" or "pre_stop") of service `service` of
 * the session's project in container id (name for progress), one after the other, each
 * with its command, user, privileged, working_dir and environment, and wait for each to
 * end. A service that is not in the model (an orphan) or has no such hooks: nothing to do.
 * The output of each hook is reported as progress (ORCH_INFO lines "hook: ...").
 * Errors: ZP_E_ENGINE "<which> hook [i] exited with status N" followed by the hook's last
 * output lines; the engine's errors (a pre_stop hook of a container that is not running or
 * is gone is skipped, as compose does); ENGINE_E_CANCELLED when the session is cancelled. */
int orch__run_hooks(struct orch *o, struct engine *e, const char *service, const char *which,
                    const char *id, const char *name, struct zp_err *err);

/* Run one hook (a map with command, user, privileged, working_dir, environment: a
 * post_start or pre_stop entry, or a develop.watch rule's exec) in container id and wait
 * for it; which and index name it in messages ("post_start", 0). Errors as above, the
 * not-running case included. */
int orch__run_hook(struct orch *o, struct engine *e, const char *service, const char *which,
                   size_t index, const struct zp_node *hook, const char *id, const char *name,
                   struct zp_err *err);

#endif

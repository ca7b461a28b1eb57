/* release/action: the operational commands a project declares (a template's top-level
 * `x-zpanel: {actions: {NAME: {service, command, description}}}`), listed and run in the
 * service's running container (its container number 1) with arguments appended: the one
 * workflow behind `zpanel action` and POST /api/v1/projects/{name}/actions/{action}.
 * Library code: it never prints; output goes to the caller's callback. */
#ifndef ZP_RELEASE_ACTION_H
#define ZP_RELEASE_ACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../compose/compose.h"
#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "../util/util.h"

/* Caps: arguments given to one action, and the bytes of one argument. */
#define RELEASE_ACTION_MAX_ARGS 256
#define RELEASE_ACTION_MAX_ARG 4096

struct release_action {
    char *name;
    char *service;
    char **argv; /* the declared command (argc items), NULL-terminated */
    size_t argc;
    char *description; /* or NULL */
};

/* The actions of model (a loaded project's), in the order written; none: *ret NULL and
 * *ret_n 0. Errors: ZP_E_INPUT naming the action (`x-zpanel.actions.NAME: needs 'service'
 * and 'command' (a list)`, or actions that are not a mapping). */
int release_actions_list(const struct zp_node *model, struct release_action **ret, size_t *ret_n,
                         struct zp_err *err);
void release_actions_free(struct release_action *a, size_t n);
/* Free one action's contents (accepts a zeroed one). */
void release_action_release(struct release_action *a);

/* Action name of model with args appended: *ret the action (service, and argv the command
 * then the args; release with release_action_release). Errors: ZP_E_NOTFOUND (no
 * such action), ZP_E_INPUT (its declaration, too many or too long arguments). */
int release_action_resolve(const struct zp_node *model, const char *name, const char *const *args,
                           size_t nargs, struct release_action *ret, struct zp_err *err);

struct release_action_io {
    /* output of the command (stdout and stderr frames), as engine_frame_fn; NULL drops it */
    engine_frame_fn on_output;
    void *ctx;
    int stdin_fd; /* -1: no input */
};

/* Run action name of project p (o's) with args in the service's running container number 1,
 * without a TTY, until it ends: *ret_exit_code gets the command's exit code. engine_cancel
 * on orch_engine(o) stops the wait (the process keeps running). Errors: those of
 * release_action_resolve, ZP_E_CONFLICT (the service has no running container), those of
 * engine.h (ENGINE_E_CANCELLED). */
int release_action_run(struct orch *o, const struct compose_project *p, const char *name,
                       const char *const *args, size_t nargs, const struct release_action_io *io,
                       int64_t *ret_exit_code, struct zp_err *err);

#endif

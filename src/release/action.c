/* release/action: a project's declared operational commands (x-zpanel.actions), read from
 * its model and run through the engine's exec in the service's container. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "action.h"

#include "../util/banned.h"

void release_action_release(struct release_action *a)
{
    free(a->name);
    free(a->service);
    for (size_t i = 0; i < a->argc; i++)
        free(a->argv[i]);
    free(a->argv);
    free(a->description);
    memset(a, 0, sizeof(*a));
}

void release_actions_free(struct release_action *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++)
        release_action_release(&a[i]);
    free(a);
}

static const struct zp_node *actions_of(const struct zp_node *model, struct zp_err *err)
{
    const struct zp_node *x = zp_node_get(model, "x-zpanel");
    const struct zp_node *acts = zp_node_is_map(x) ? zp_node_get(x, "actions") : NULL;
    if (acts && !zp_node_is_map(acts)) {
        zp_err_set(err, ZP_E_INPUT, &acts->pos, "x-zpanel.actions: must be a mapping");
        return NULL;
    }
    return acts;
}

/* One declared action into *ret (argv without arguments yet; room for nextra more). */
static int action_read(const char *name, const struct zp_node *a, size_t nextra,
                       struct release_action *ret, struct zp_err *err)
{
    const char *service = zp_node_is_map(a) ? zp_node_get_str(a, "service") : NULL;
    const struct zp_node *cmd = zp_node_is_map(a) ? zp_node_get(a, "command") : NULL;
    if (!service || !zp_node_is_seq(cmd) || cmd->n == 0)
        return zp_err_set(err, ZP_E_INPUT, a ? &a->pos : NULL,
                          "x-zpanel.actions.%s: needs 'service' and 'command' (a list)", name);
    for (size_t i = 0; i < cmd->n; i++)
        if (!zp_node_is_scalar(cmd->items[i]))
            return zp_err_set(err, ZP_E_INPUT, &cmd->items[i]->pos,
                              "x-zpanel.actions.%s.command[%zu]: must be a string", name, i);
    memset(ret, 0, sizeof(*ret));
    ret->name = zp_strdup(name);
    ret->service = zp_strdup(service);
    ret->argv = zp_calloc(cmd->n + nextra + 1, sizeof(*ret->argv));
    for (size_t i = 0; i < cmd->n; i++)
        ret->argv[ret->argc++] = zp_strdup(cmd->items[i]->str);
    const char *desc = zp_node_get_str(a, "description");
    ret->description = desc ? zp_strdup(desc) : NULL;
    return 0;
}

int release_actions_list(const struct zp_node *model, struct release_action **ret, size_t *ret_n,
                         struct zp_err *err)
{
    const struct zp_node *acts = actions_of(model, err);
    if (!acts) {
        if (err->code)
            return err->code;
        *ret = NULL;
        *ret_n = 0;
        return 0;
    }
    struct release_action *out = zp_calloc(acts->n + 1, sizeof(*out));
    for (size_t i = 0; i < acts->n; i++) {
        int rc = action_read(acts->pairs[i].key->str, acts->pairs[i].value, 0, &out[i], err);
        if (rc != 0) {
            release_actions_free(out, i);
            return rc;
        }
    }
    *ret = out;
    *ret_n = acts->n;
    return 0;
}

int release_action_resolve(const struct zp_node *model, const char *name, const char *const *args,
                           size_t nargs, struct release_action *ret, struct zp_err *err)
{
    const struct zp_node *acts = actions_of(model, err);
    if (!acts && err->code)
        return err->code;
    const struct zp_node *a = acts ? zp_node_get(acts, name) : NULL;
    if (!a)
        return zp_err_set(err, ZP_E_NOTFOUND, NULL, "no action '%s'%s", name,
                          acts && acts->n ? "" : " (the project declares none: x-zpanel.actions)");
    if (nargs > RELEASE_ACTION_MAX_ARGS)
        return zp_err_set(err, ZP_E_INPUT, NULL, "action '%s': more than %d arguments", name,
                          RELEASE_ACTION_MAX_ARGS);
    for (size_t i = 0; i < nargs; i++)
        if (strlen(args[i]) > RELEASE_ACTION_MAX_ARG)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "action '%s': argument %zu is longer than %d bytes", name, i + 1,
                              RELEASE_ACTION_MAX_ARG);
    struct release_action out;
    int rc = action_read(name, a, nargs, &out, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < nargs; i++)
        out.argv[out.argc++] = zp_strdup(args[i]);
    *ret = out;
    return 0;
}

static int drop(void *ctx, enum engine_stream stream, const char *data, size_t len,
                struct zp_err *err)
{
    (void)ctx;
    (void)stream;
    (void)data;
    (void)len;
    (void)err;
    return 0;
}

int release_action_run(struct orch *o, const struct compose_project *p, const char *name,
                       const char *const *args, size_t nargs, const struct release_action_io *io,
                       int64_t *ret_exit_code, struct zp_err *err)
{
    struct release_action a;
    memset(&a, 0, sizeof(a));
    struct orch_container *cs = NULL;
    size_t n = 0;
    char *id = NULL;
    int rc = release_action_resolve(p->model, name, args, nargs, &a, err);
    if (rc != 0)
        return rc;
    const char *svcs[] = {a.service};
    if ((rc = orch_ps(o, svcs, 1, false, &cs, &n, err)) != 0)
        goto out;
    const struct orch_container *ct = NULL;
    for (size_t i = 0; i < n && !ct; i++)
        if (!cs[i].oneoff && cs[i].number == 1 && cs[i].state &&
            strcmp(cs[i].state, "running") == 0)
            ct = &cs[i];
    if (!ct) {
        rc = zp_err_set(err, ZP_E_CONFLICT, NULL, "action '%s': service '%s' is not running", name,
                        a.service);
        goto out;
    }
    struct engine *e = orch_engine(o);
    int in_fd = io ? io->stdin_fd : -1;
    if ((rc = engine_exec_create(e, ct->id, (const char *const *)a.argv, NULL, NULL, NULL, false,
                                 in_fd >= 0, &id, err)) != 0)
        goto out;
    struct engine_stream_io sio = {
        .tty = false,
        .stdin_fd = in_fd,
        .on_output = io && io->on_output ? io->on_output : drop,
        .ctx = io ? io->ctx : NULL,
    };
    if ((rc = engine_exec_start(e, id, &sio, err)) != 0)
        goto out;
    struct engine_exec_state st;
    if ((rc = engine_exec_inspect(e, id, &st, err)) != 0)
        goto out;
    if (st.running) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "action '%s': the command is still running", name);
        goto out;
    }
    *ret_exit_code = st.exit_code;
out:
    free(id);
    orch_containers_free(cs, n);
    release_action_release(&a);
    return rc;
}

/* orchestrator/hooks: post_start / pre_stop lifecycle hooks through the engine's exec API,
 * as compose runs them (one after the other; a non-zero exit fails the operation). */
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "hooks.h"
#include "orchestrator-int.h"

#include "../util/banned.h"

#define TAIL_MAX 2048   /* output kept for the error message */
#define LINE_MAX_ 512   /* one progress line */
#define LINES_SHOWN 100 /* progress lines per hook; the rest is counted */

struct hook_out {
    struct orch *o;
    const char *name, *service;
    char tail[TAIL_MAX];
    size_t ntail;
    char line[LINE_MAX_];
    size_t nline;
    size_t lines, dropped;
};

static void tail_add(struct hook_out *h, const char *data, size_t len)
{
    if (len >= TAIL_MAX) {
        memcpy(h->tail, data + len - TAIL_MAX, TAIL_MAX);
        h->ntail = TAIL_MAX;
        return;
    }
    if (h->ntail + len > TAIL_MAX) {
        size_t drop = h->ntail + len - TAIL_MAX;
        memmove(h->tail, h->tail + drop, h->ntail - drop);
        h->ntail -= drop;
    }
    memcpy(h->tail + h->ntail, data, len);
    h->ntail += len;
}

static void line_flush(struct hook_out *h)
{
    if (h->nline == 0)
        return;
    if (h->lines++ < LINES_SHOWN)
        orch__emit(h->o, ORCH_OBJ_CONTAINER, h->name, h->service, ORCH_INFO, "hook: %.*s",
                   (int)h->nline, h->line);
    else
        h->dropped++;
    h->nline = 0;
}

static int on_output(void *ctx, enum engine_stream stream, const char *data, size_t len,
                     struct zp_err *err)
{
    (void)stream;
    (void)err;
    struct hook_out *h = ctx;
    tail_add(h, data, len);
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n' || h->nline == sizeof(h->line)) {
            line_flush(h);
            if (data[i] == '\n')
                continue;
        }
        if (data[i] != '\r')
            h->line[h->nline++] = data[i];
    }
    return 0;
}

/* The strings of a sequence as a NULL-terminated vector (borrowed strings). */
static const char **str_vec(const struct zp_node *seq)
{
    const char **v = zp_calloc(seq->n + 1, sizeof(*v));
    for (size_t i = 0; i < seq->n; i++)
        v[i] = seq->items[i]->str;
    return v;
}

int orch__run_hook(struct orch *o, struct engine *e, const char *service, const char *which,
                   size_t index, const struct zp_node *hook, const char *id, const char *name,
                   struct zp_err *err)
{
    const struct zp_node *cmd = zp_node_get(hook, "command");
    const struct zp_node *env = zp_node_get(hook, "environment");
    const struct zp_node *priv = zp_node_get(hook, "privileged");
    const char **argv = NULL;
    char **envv = NULL;
    size_t nenv = 0;
    char *exec_id = NULL;
    struct hook_out *h = zp_calloc(1, sizeof(*h));
    int rc;

    if (cmd == NULL || cmd->kind != ZP_NODE_SEQ || cmd->n == 0) {
        rc = zp_err_set(err, ZP_E_INPUT, hook ? &hook->pos : NULL,
                        "%s[%zu].command: must be a non-empty command", which, index);
        goto out;
    }
    for (size_t i = 0; i < cmd->n; i++) {
        if (cmd->items[i]->kind != ZP_NODE_SCALAR || cmd->items[i]->type == ZP_NULL) {
            rc = zp_err_set(err, ZP_E_INPUT, &cmd->items[i]->pos,
                            "%s[%zu].command: must be a list of strings", which, index);
            goto out;
        }
    }
    argv = str_vec(cmd);
    if (env != NULL && env->kind == ZP_NODE_MAP) {
        envv = zp_calloc(env->n + 1, sizeof(*envv));
        for (size_t i = 0; i < env->n; i++) {
            const struct zp_node *v = env->pairs[i].value;
            /* KEY without a value: unset in the hook, as compose passes it */
            envv[nenv++] = v->kind != ZP_NODE_SCALAR || v->type == ZP_NULL
                               ? zp_strdup(env->pairs[i].key->str)
                               : zp_asprintf("%s=%s", env->pairs[i].key->str, v->str);
        }
    }
    struct engine_exec_opts xo = {
        .argv = argv,
        .env = (const char *const *)envv,
        .user = zp_node_get_str(hook, "user"),
        .workdir = zp_node_get_str(hook, "working_dir"),
        .privileged = priv != NULL && priv->type == ZP_BOOL && strcmp(priv->str, "true") == 0,
    };
    h->o = o;
    h->name = name;
    h->service = service;
    orch__emit(o, ORCH_OBJ_CONTAINER, name, service, ORCH_WORKING, "Running %s hook", which);
    if ((rc = engine_exec_create_opts(e, id, &xo, &exec_id, err)) < 0)
        goto out;
    struct engine_stream_io io = {.tty = false, .stdin_fd = -1, .on_output = on_output, .ctx = h};
    if ((rc = engine_exec_start(e, exec_id, &io, err)) < 0)
        goto out;
    line_flush(h);
    if (h->dropped > 0)
        orch__emit(o, ORCH_OBJ_CONTAINER, name, service, ORCH_INFO, "hook: (%zu more lines)",
                   h->dropped);
    struct engine_exec_state st = {0};
    if ((rc = engine_exec_inspect(e, exec_id, &st, err)) < 0)
        goto out;
    if (st.exit_code != 0) {
        /* the last lines of the output say why */
        size_t start = 0;
        while (h->ntail > 0 && (h->tail[h->ntail - 1] == '\n' || h->tail[h->ntail - 1] == '\r'))
            h->ntail--;
        for (size_t i = h->ntail, nl = 0; i > 0; i--) {
            if (h->tail[i - 1] == '\n' && ++nl == 10) {
                start = i;
                break;
            }
        }
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s hook [%zu] exited with status %lld%s%.*s",
                        which, index, (long long)st.exit_code, h->ntail > start ? ":\n" : "",
                        (int)(h->ntail - start), h->tail + start);
        goto out;
    }
    orch__emit(o, ORCH_OBJ_CONTAINER, name, service, ORCH_DONE, "%s hook done", which);
    rc = 0;
out:
    free(exec_id);
    free(argv);
    for (size_t i = 0; i < nenv; i++)
        free(envv[i]);
    free(envv);
    free(h);
    return rc;
}

int orch__run_hooks(struct orch *o, struct engine *e, const char *service, const char *which,
                    const char *id, const char *name, struct zp_err *err)
{
    const struct zp_node *svc = zp_node_get(zp_node_get(o->p->model, "services"), service);
    const struct zp_node *hooks = zp_node_get(svc, which);
    if (hooks == NULL || hooks->kind != ZP_NODE_SEQ)
        return 0;
    bool pre_stop = strcmp(which, "pre_stop") == 0;
    for (size_t i = 0; i < hooks->n; i++) {
        if (orch__cancelled(o))
            return orch__interrupted(err);
        int rc = orch__run_hook(o, e, service, which, i, hooks->items[i], id, name, err);
        if (rc < 0 && pre_stop && (rc == ZP_E_NOTFOUND || rc == ZP_E_CONFLICT)) {
            /* the container stopped or went away meanwhile: nothing left to prepare */
            zp_err_init(err);
            return 0;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

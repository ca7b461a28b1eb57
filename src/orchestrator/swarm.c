/* orchestrator/swarm: converge Swarm services from the Compose model (swarm.h): the
 * model-to-spec mapping, content-addressed configs and secrets, overlay networks, the
 * hash-gated create/update, waiting for convergence (rollbacks are failures), and
 * ps/status/down/rollback on tasks instead of containers. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/engine.h"
#include "../proxy/proxy.h"
#include "mapping.h"
#include "orchestrator-int.h"
#include "routes.h"
#include "swarm.h"

#include "../util/banned.h"

/* A swarm config or secret holds at most 500 KiB (the engine's own limit). */
#define SWARM_OBJ_MAX ((size_t)500 * 1024)
/* How long to wait for convergence by default, and how often to look. */
#define SWARM_WAIT_DEFAULT_MS 300000
#define SWARM_POLL_MS 250
/* Tasks of the new spec that failed before we call the service failing (no rollback
 * configured: Swarm would retry forever). */
#define SWARM_MAX_TASK_FAILURES 3

/* ---- ownership helpers: everything a spec borrows lives in a bag ---- */

struct bag {
    void **p;
    size_t n, cap;
};

static void *keep(struct bag *b, void *p)
{
    zp_grow((void **)&b->p, &b->cap, b->n + 1, sizeof(*b->p));
    b->p[b->n++] = p;
    return p;
}

static char *keeps(struct bag *b, char *s)
{
    return keep(b, s);
}

static void bag_release(struct bag *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->p[i]);
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* A NULL-terminated array of the strings of a sequence (or a single scalar). */
static const char *const *str_list(struct bag *b, const struct zp_node *n)
{
    if (!n || zp_node_is_null(n))
        return NULL;
    size_t cnt = zp_node_is_seq(n) ? n->n : 1;
    const char **v = keep(b, zp_calloc(cnt + 1, sizeof(*v)));
    if (!zp_node_is_seq(n)) {
        v[0] = n->str;
        return v;
    }
    size_t k = 0;
    for (size_t i = 0; i < n->n; i++)
        if (zp_node_is_scalar(n->items[i]) && !zp_node_is_null(n->items[i]))
            v[k++] = n->items[i]->str;
    return v;
}

/* ---- names and model helpers ---- */

bool orch_swarm_wanted(const struct compose_project *p)
{
    const struct zp_node *x = zp_node_get(p->model, "x-zpanel");
    const struct zp_node *s = zp_node_get(x, "swarm");
    return s && zp_node_is_scalar(s) && s->type == ZP_BOOL && strcmp(s->str, "true") == 0;
}

static char *service_name(const char *project, const char *service)
{
    return zp_asprintf("%s_%s", project, service);
}

static int field_error(const char *service, const char *field, const struct zp_node *at,
                       struct zp_err *err, const char *why)
{
    return zp_err_set(err, ZP_E_INPUT, at ? &at->pos : NULL, "services.%s.%s: %s", service, field,
                      why);
}

static int duration(const char *service, const char *field, const struct zp_node *n, int64_t *ret,
                    struct zp_err *err)
{
    if (!n || zp_node_is_null(n))
        return 0;
    int64_t ns = 0;
    if (!zp_node_is_scalar(n) || zp_parse_duration(n->str, true, &ns) != 0 || ns < 0)
        return field_error(service, field, n, err, "not a duration");
    *ret = ns;
    return 0;
}

static int integer(const char *service, const char *field, const struct zp_node *n, int64_t min,
                   int64_t *ret, struct zp_err *err)
{
    if (!n || zp_node_is_null(n))
        return 0;
    if (!zp_node_is_scalar(n) || zp_parse_int64(n->str, min, INT64_MAX, ret) != 0)
        return field_error(service, field, n, err, "not a whole number in range");
    return 0;
}

static int bytes(const char *service, const char *field, const struct zp_node *n, int64_t *ret,
                 struct zp_err *err)
{
    if (!n || zp_node_is_null(n))
        return 0;
    if (!zp_node_is_scalar(n) ||
        (zp_parse_int64(n->str, 0, INT64_MAX, ret) != 0 && zp_parse_size(n->str, ret) != 0))
        return field_error(service, field, n, err, "not a size");
    return 0;
}

static int nano_cpus(const char *service, const char *field, const struct zp_node *n, int64_t *ret,
                     struct zp_err *err)
{
    if (!n || zp_node_is_null(n))
        return 0;
    double d = 0;
    if (!zp_node_is_scalar(n) || zp_parse_double(n->str, &d) != 0 || d < 0 || d > 1e6)
        return field_error(service, field, n, err, "not a number of CPUs");
    *ret = (int64_t)(d * 1e9 + 0.5);
    return 0;
}

/* ---- warnings for what Swarm cannot do ---- */

/* Service keys that the mapping below honours (or that need nothing on Swarm). */
static const char *const handled_keys[] = {
    "image",       "command",     "entrypoint",
    "environment", "working_dir", "user",
    "hostname",    "stop_signal", "stop_grace_period",
    "init",        "tty",         "stdin_open",
    "read_only",   "labels",      "volumes",
    "configs",     "secrets",     "healthcheck",
    "networks",    "ports",       "deploy",
    "expose",      "build",       "scale",
    "profiles",    "env_file",    "x-zpanel",
    NULL,
};

/* Keys that Swarm cannot honour, with why. */
static const struct {
    const char *key;
    const char *why;
} unsupported[] = {
    {"depends_on", "Swarm starts services in no particular order; make the service retry "
                   "its dependencies (restart_policy) instead"},
    {"restart", "Swarm uses deploy.restart_policy instead"},
    {"container_name", "Swarm names the tasks' containers itself"},
    {"links", "use the service name on a shared network"},
    {"network_mode", "Swarm services join overlay networks"},
    {"privileged", "Swarm services cannot run privileged"},
    {"devices", "Swarm services cannot map devices"},
    {NULL, NULL},
};

static bool in_list(const char *s, const char *const *l)
{
    for (size_t i = 0; l[i]; i++)
        if (strcmp(s, l[i]) == 0)
            return true;
    return false;
}

static void warn_fields(struct orch *o, const char *sname, const char *service,
                        const struct zp_node *svc)
{
    for (size_t i = 0; i < svc->n; i++) {
        const char *key = svc->pairs[i].key->str;
        const struct zp_pos *pos = &svc->pairs[i].key->pos;
        if (in_list(key, handled_keys))
            continue;
        const char *why = "not supported by Swarm services";
        for (size_t k = 0; unsupported[k].key; k++)
            if (strcmp(unsupported[k].key, key) == 0)
                why = unsupported[k].why;
        if (pos->line > 0)
            orch__emit(o, ORCH_OBJ_SERVICE, sname, service, ORCH_WARNING,
                       "%s:%d:%d: services.%s.%s: %s, ignoring", pos->file, pos->line, pos->col,
                       service, key, why);
        else
            orch__emit(o, ORCH_OBJ_SERVICE, sname, service, ORCH_WARNING,
                       "services.%s.%s: %s, ignoring", service, key, why);
    }
    const struct zp_node *vols = zp_node_get(svc, "volumes");
    for (size_t i = 0; vols && zp_node_is_seq(vols) && i < vols->n; i++) {
        const char *type = zp_node_get_str(vols->items[i], "type");
        if (type && strcmp(type, "bind") == 0)
            orch__emit(o, ORCH_OBJ_SERVICE, sname, service, ORCH_WARNING,
                       "services.%s.volumes[%zu]: a bind mount needs the path on every node "
                       "a task may run on",
                       service, i);
    }
}

/* ---- configs and secrets ---- */

struct swarm_objs {
    struct orch__swarm_obj *items;
    size_t n;
};

static void objs_release(struct swarm_objs *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].key);
        free(s->items[i].name);
        free(s->items[i].id);
    }
    free(s->items);
    memset(s, 0, sizeof(*s));
}

static const struct orch__swarm_obj *objs_find(const struct swarm_objs *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].key, key) == 0)
            return &s->items[i];
    return NULL;
}

/* The content of a config or secret definition. */
static int obj_content(struct orch *o, const char *top, const char *key, const struct zp_node *def,
                       char **ret, size_t *ret_len, struct zp_err *err)
{
    const char *file = zp_node_get_str(def, "file");
    const char *content = zp_node_get_str(def, "content");
    const char *env = zp_node_get_str(def, "environment");
    if (file)
        return zp_file_read(file, SWARM_OBJ_MAX, ret, ret_len, err) == 0
                   ? 0
                   : (zp_err_prefix(err, "%s.%s", top, key), err->code);
    const char *v = content;
    if (!v && env) {
        v = compose_env_get(&o->p->env, env);
        if (!v)
            return zp_err_set(err, ZP_E_INPUT, &def->pos,
                              "%s.%s: environment variable '%s' is not set", top, key, env);
    }
    if (!v)
        return zp_err_set(err, ZP_E_INPUT, &def->pos,
                          "%s.%s: needs file, content, environment or external", top, key);
    *ret_len = strlen(v);
    if (*ret_len > SWARM_OBJ_MAX)
        return zp_err_set(err, ZP_E_TOOBIG, &def->pos, "%s.%s: larger than Swarm's 500 KiB", top,
                          key);
    *ret = zp_strdup(v);
    return 0;
}

/* Create the configs (or secrets) the selected services use, named
 * "<name>_<first 12 hex digits of the content's SHA-256>" so that new content is a new
 * object; external ones are looked up by name. */
static int ensure_objs(struct orch *o, enum engine_swarm_kind kind, const struct zp_node *svcs,
                       struct swarm_objs *ret, struct zp_err *err)
{
    const char *top = kind == ENGINE_SECRET ? "secrets" : "configs";
    const char *label = kind == ENGINE_SECRET ? ORCH_LABEL_SECRET : ORCH_LABEL_CONFIG;
    enum orch_obj obj_kind = kind == ENGINE_SECRET ? ORCH_OBJ_SECRET : ORCH_OBJ_CONFIG;
    const struct zp_node *defs = zp_node_get(o->p->model, top);
    struct swarm_objs out = {0};
    struct engine_swarm_obj_list have = {0};
    int rc = engine_swarm_obj_list(o->e, kind, NULL, &have, err);
    if (rc != 0)
        return rc;
    for (size_t s = 0; svcs && s < svcs->n; s++) {
        const struct zp_node *refs = zp_node_get(svcs->pairs[s].value, top);
        for (size_t r = 0; refs && zp_node_is_seq(refs) && r < refs->n; r++) {
            const char *key = zp_node_get_str(refs->items[r], "source");
            if (!key || objs_find(&out, key))
                continue;
            const struct zp_node *def = zp_node_get(defs, key);
            if (!def) {
                rc = zp_err_set(err, ZP_E_INPUT, &refs->items[r]->pos, "%s.%s: not defined", top,
                                key);
                goto out;
            }
            const char *dname = zp_node_get_str(def, "name");
            const struct zp_node *ext = zp_node_get(def, "external");
            char *name = NULL;
            if (ext && ext->type == ZP_BOOL && strcmp(ext->str, "true") == 0) {
                name = zp_strdup(dname ? dname : key);
            } else {
                char *data = NULL;
                size_t len = 0;
                if ((rc = obj_content(o, top, key, def, &data, &len, err)) != 0)
                    goto out;
                char hex[65];
                zp_sha256_hex(data, len, hex);
                hex[12] = '\0';
                char *base = dname ? zp_strdup(dname) : zp_asprintf("%s_%s", o->p->name, key);
                name = zp_asprintf("%s_%s", base, hex);
                free(base);
                bool found = false;
                for (size_t i = 0; i < have.n; i++)
                    found = found || strcmp(have.items[i].name, name) == 0;
                if (!found) {
                    const struct engine_kv labels[] = {{ORCH_LABEL_PROJECT, o->p->name},
                                                       {label, key}};
                    orch__emit(o, obj_kind, name, NULL, ORCH_WORKING, "Creating");
                    rc = engine_swarm_obj_create(o->e, kind, name, labels, 2, data, len, NULL, err);
                    if (rc == 0)
                        orch__emit(o, obj_kind, name, NULL, ORCH_DONE, "Created");
                }
                free(data);
                if (rc != 0) {
                    free(name);
                    goto out;
                }
            }
            out.items = zp_realloc(out.items, (out.n + 1) * sizeof(*out.items));
            out.items[out.n].key = zp_strdup(key);
            out.items[out.n].name = name;
            out.items[out.n].id = NULL;
            out.n++;
        }
    }
    /* IDs: one more listing picks up what was just created and the external ones */
    engine_swarm_obj_list_release(&have);
    if ((rc = engine_swarm_obj_list(o->e, kind, NULL, &have, err)) != 0)
        goto out;
    for (size_t i = 0; i < out.n; i++) {
        for (size_t k = 0; k < have.n && !out.items[i].id; k++)
            if (strcmp(have.items[k].name, out.items[i].name) == 0)
                out.items[i].id = zp_strdup(have.items[k].id);
        if (!out.items[i].id) {
            rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "%s.%s: no %s named '%s' in the swarm", top,
                            out.items[i].key, kind == ENGINE_SECRET ? "secret" : "config",
                            out.items[i].name);
            goto out;
        }
    }
out:
    engine_swarm_obj_list_release(&have);
    if (rc == 0)
        *ret = out;
    else
        objs_release(&out);
    return rc;
}

/* Remove the project's configs or secrets that neither the current nor the previous spec
 * of any of its services uses (the previous ones serve a rollback; the engine refuses to
 * remove one in use anyway). */
static void prune_objs(struct orch *o, enum engine_swarm_kind kind, const struct swarm_objs *used)
{
    struct zp_err sub;
    zp_err_init(&sub);
    char *pf = zp_asprintf("%s=%s", ORCH_LABEL_PROJECT, o->p->name);
    const char *const filters[] = {pf, NULL};
    struct engine_swarm_obj_list have = {0};
    struct engine_service_list svcs = {0};
    if (engine_service_list(o->e, filters, &svcs, &sub) == 0 &&
        engine_swarm_obj_list(o->e, kind, filters, &have, &sub) == 0) {
        for (size_t i = 0; i < have.n; i++) {
            bool in_use = false;
            for (size_t k = 0; used && k < used->n; k++)
                in_use = in_use || strcmp(used->items[k].name, have.items[i].name) == 0;
            for (size_t k = 0; k < svcs.n; k++)
                for (size_t r = 0; svcs.items[k].object_refs[r]; r++)
                    in_use =
                        in_use || strcmp(svcs.items[k].object_refs[r], have.items[i].name) == 0;
            zp_err_init(&sub);
            if (!in_use && engine_swarm_obj_remove(o->e, kind, have.items[i].id, &sub) == 0)
                orch__emit(o, kind == ENGINE_SECRET ? ORCH_OBJ_SECRET : ORCH_OBJ_CONFIG,
                           have.items[i].name, NULL, ORCH_DONE, "Removed");
        }
    }
    engine_swarm_obj_list_release(&have);
    engine_service_list_release(&svcs);
    free(pf);
}

/* ---- networks ---- */

static int ensure_networks(struct orch *o, const struct zp_node *svcs, struct zp_err *err)
{
    const struct zp_node *defs = zp_node_get(o->p->model, "networks");
    for (size_t i = 0; defs && i < defs->n; i++) {
        const char *key = defs->pairs[i].key->str;
        const struct zp_node *def = defs->pairs[i].value;
        bool used = false;
        for (size_t s = 0; svcs && s < svcs->n && !used; s++)
            used = zp_node_get(zp_node_get(svcs->pairs[s].value, "networks"), key) != NULL;
        if (!used || orch__object_external(def))
            continue;
        char *name = orch__object_name(o->p->name, key, def);
        struct engine_network_list l = {0};
        const char *driver = zp_node_get_str(def, "driver");
        int rc = engine_network_list(o->e, NULL, &l, err);
        const struct engine_network *found = NULL;
        for (size_t k = 0; rc == 0 && k < l.n; k++)
            if (strcmp(l.items[k].name, name) == 0)
                found = &l.items[k];
        if (rc == 0 && found && strcmp(found->scope, "swarm") != 0)
            rc = zp_err_set(err, ZP_E_CONFLICT, &def->pos,
                            "network '%s' exists with driver '%s' (scope %s): Swarm services need "
                            "an overlay network; run `zpanel down` on the project first",
                            name, found->driver, found->scope);
        if (rc == 0 && !found) {
            const struct engine_kv labels[] = {{ORCH_LABEL_PROJECT, o->p->name},
                                               {ORCH_LABEL_NETWORK, key}};
            struct engine_network_opts no;
            memset(&no, 0, sizeof(no));
            no.driver = driver && strcmp(driver, "bridge") != 0 ? driver : "overlay";
            no.attachable = true;
            const struct zp_node *internal = zp_node_get(def, "internal");
            no.internal = internal && strcmp(internal->str, "true") == 0;
            no.labels = labels;
            no.n_labels = 2;
            orch__emit(o, ORCH_OBJ_NETWORK, name, NULL, ORCH_WORKING, "Creating");
            rc = engine_network_create(o->e, name, &no, NULL, err);
            if (rc == 0)
                orch__emit(o, ORCH_OBJ_NETWORK, name, NULL, ORCH_DONE, "Created");
        }
        engine_network_list_release(&l);
        free(name);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- the spec of one service ---- */

static int map_update(const char *service, const char *field, const struct zp_node *n,
                      struct engine_update_config *u, struct zp_err *err)
{
    if (!n || !zp_node_is_map(n))
        return 0;
    u->set = true;
    char *f = NULL;
    int rc = 0;
#define SUB(k) (free(f), f = zp_asprintf("%s.%s", field, k))
    if (rc == 0 && zp_node_get(n, "parallelism"))
        rc = integer(service, SUB("parallelism"), zp_node_get(n, "parallelism"), 0, &u->parallelism,
                     err);
    if (rc == 0)
        rc = duration(service, SUB("delay"), zp_node_get(n, "delay"), &u->delay_ns, err);
    if (rc == 0)
        rc = duration(service, SUB("monitor"), zp_node_get(n, "monitor"), &u->monitor_ns, err);
    const struct zp_node *ratio = zp_node_get(n, "max_failure_ratio");
    if (rc == 0 && ratio && zp_node_is_scalar(ratio) &&
        (zp_parse_double(ratio->str, &u->max_failure_ratio) != 0 || u->max_failure_ratio < 0 ||
         u->max_failure_ratio > 1))
        rc = field_error(service, SUB("max_failure_ratio"), ratio, err, "not a ratio from 0 to 1");
    u->failure_action = zp_node_get_str(n, "failure_action");
    u->order = zp_node_get_str(n, "order");
#undef SUB
    free(f);
    return rc;
}

static int map_deploy(const char *service, const struct zp_node *d, struct engine_service_spec *s,
                      struct bag *b, struct zp_err *err)
{
    if (!d || !zp_node_is_map(d))
        return 0;
    int rc = 0;
    const char *mode = zp_node_get_str(d, "mode");
    if (mode && strcmp(mode, "global") == 0)
        s->global = true;
    else if (mode && strcmp(mode, "replicated") != 0)
        return field_error(service, "deploy.mode", zp_node_get(d, "mode"), err,
                           "Swarm mode supports 'replicated' and 'global'");
    const struct zp_node *res = zp_node_get(d, "resources");
    const struct zp_node *lim = zp_node_get(res, "limits");
    const struct zp_node *resv = zp_node_get(res, "reservations");
    if (rc == 0)
        rc = nano_cpus(service, "deploy.resources.limits.cpus", zp_node_get(lim, "cpus"),
                       &s->limit_nano_cpus, err);
    if (rc == 0)
        rc = bytes(service, "deploy.resources.limits.memory", zp_node_get(lim, "memory"),
                   &s->limit_memory, err);
    if (rc == 0)
        rc = integer(service, "deploy.resources.limits.pids", zp_node_get(lim, "pids"), 0,
                     &s->limit_pids, err);
    if (rc == 0)
        rc = nano_cpus(service, "deploy.resources.reservations.cpus", zp_node_get(resv, "cpus"),
                       &s->reserve_nano_cpus, err);
    if (rc == 0)
        rc = bytes(service, "deploy.resources.reservations.memory", zp_node_get(resv, "memory"),
                   &s->reserve_memory, err);
    const struct zp_node *rp = zp_node_get(d, "restart_policy");
    s->restart_condition = zp_node_get_str(rp, "condition");
    if (rc == 0)
        rc = duration(service, "deploy.restart_policy.delay", zp_node_get(rp, "delay"),
                      &s->restart_delay_ns, err);
    if (rc == 0)
        rc = integer(service, "deploy.restart_policy.max_attempts", zp_node_get(rp, "max_attempts"),
                     0, &s->restart_max_attempts, err);
    if (rc == 0)
        rc = duration(service, "deploy.restart_policy.window", zp_node_get(rp, "window"),
                      &s->restart_window_ns, err);
    const struct zp_node *pl = zp_node_get(d, "placement");
    s->constraints = str_list(b, zp_node_get(pl, "constraints"));
    const struct zp_node *prefs = zp_node_get(pl, "preferences");
    if (prefs && zp_node_is_seq(prefs)) {
        const char **v = keep(b, zp_calloc(prefs->n + 1, sizeof(*v)));
        size_t k = 0;
        for (size_t i = 0; i < prefs->n; i++) {
            const char *sp = zp_node_get_str(prefs->items[i], "spread");
            if (sp)
                v[k++] = sp;
        }
        s->spread = v;
    }
    if (rc == 0)
        rc = integer(service, "deploy.placement.max_replicas_per_node",
                     zp_node_get(pl, "max_replicas_per_node"), 0, &s->max_replicas_per_node, err);
    if (rc == 0)
        rc = map_update(service, "deploy.update_config", zp_node_get(d, "update_config"),
                        &s->update, err);
    if (rc == 0)
        rc = map_update(service, "deploy.rollback_config", zp_node_get(d, "rollback_config"),
                        &s->rollback, err);
    s->endpoint_mode = zp_node_get_str(d, "endpoint_mode");
    return rc;
}

static int map_health(const char *service, int api_minor, const struct zp_node *h,
                      struct engine_service_spec *s, struct bag *b, struct zp_err *err)
{
    if (!h || !zp_node_is_map(h))
        return 0;
    const struct zp_node *dis = zp_node_get(h, "disable");
    if (dis && strcmp(dis->str, "true") == 0) {
        static const char *const none[] = {"NONE", NULL};
        s->health_test = none;
        return 0;
    }
    const struct zp_node *test = zp_node_get(h, "test");
    if (test && zp_node_is_scalar(test)) {
        const char **v = keep(b, zp_calloc(3, sizeof(*v)));
        v[0] = "CMD-SHELL";
        v[1] = test->str;
        s->health_test = v;
    } else {
        s->health_test = str_list(b, test);
    }
    int rc = duration(service, "healthcheck.interval", zp_node_get(h, "interval"),
                      &s->health_interval_ns, err);
    if (rc == 0)
        rc = duration(service, "healthcheck.timeout", zp_node_get(h, "timeout"),
                      &s->health_timeout_ns, err);
    if (rc == 0)
        rc = duration(service, "healthcheck.start_period", zp_node_get(h, "start_period"),
                      &s->health_start_period_ns, err);
    const struct zp_node *si = zp_node_get(h, "start_interval");
    if (rc == 0 && si != NULL && api_minor < ORCH_API_START_INTERVAL) {
        char why[96];
        snprintf(why, sizeof(why), ORCH_START_INTERVAL_REFUSED, api_minor);
        rc = field_error(service, "healthcheck.start_interval", si, err, why);
    }
    if (rc == 0)
        rc = duration(service, "healthcheck.start_interval", si, &s->health_start_interval_ns, err);
    if (rc == 0)
        rc = integer(service, "healthcheck.retries", zp_node_get(h, "retries"), 0,
                     &s->health_retries, err);
    return rc;
}

static int map_files(const char *service, const char *top, const struct zp_node *refs,
                     const struct swarm_objs *objs, const struct engine_service_file **ret,
                     size_t *ret_n, struct bag *b, struct zp_err *err)
{
    if (!refs || !zp_node_is_seq(refs) || refs->n == 0)
        return 0;
    struct engine_service_file *f = keep(b, zp_calloc(refs->n, sizeof(*f)));
    for (size_t i = 0; i < refs->n; i++) {
        const struct zp_node *r = refs->items[i];
        const char *key = zp_node_get_str(r, "source");
        const struct orch__swarm_obj *ob = key ? objs_find(objs, key) : NULL;
        if (!ob)
            return zp_err_set(err, ZP_E_INPUT, &r->pos, "services.%s.%s[%zu]: unknown source",
                              service, top, i);
        f[i].id = ob->id;
        f[i].name = ob->name;
        const char *target = zp_node_get_str(r, "target");
        if (!target)
            target = strcmp(top, "secrets") == 0 ? keeps(b, zp_asprintf("/run/secrets/%s", key))
                                                 : keeps(b, zp_asprintf("/%s", key));
        f[i].target = target;
        f[i].uid = zp_node_get_str(r, "uid");
        f[i].gid = zp_node_get_str(r, "gid");
        int64_t mode = 0;
        const char *ms = zp_node_get_str(r, "mode");
        if (ms && zp_parse_int64(ms, 0, 07777, &mode) != 0)
            return zp_err_set(err, ZP_E_INPUT, &r->pos, "services.%s.%s[%zu].mode: not a mode",
                              service, top, i);
        f[i].mode = (uint32_t)mode;
    }
    *ret = f;
    *ret_n = refs->n;
    return 0;
}

static int map_mounts(const struct compose_project *p, const char *service,
                      const struct zp_node *vols, struct engine_service_spec *s, struct bag *b,
                      struct zp_err *err)
{
    if (!vols || !zp_node_is_seq(vols) || vols->n == 0)
        return 0;
    const struct zp_node *defs = zp_node_get(p->model, "volumes");
    struct engine_service_mount *m = keep(b, zp_calloc(vols->n, sizeof(*m)));
    size_t k = 0;
    for (size_t i = 0; i < vols->n; i++) {
        const struct zp_node *v = vols->items[i];
        const char *type = zp_node_get_str(v, "type");
        const char *src = zp_node_get_str(v, "source");
        const char *target = zp_node_get_str(v, "target");
        if (!type || !target)
            return zp_err_set(err, ZP_E_INPUT, &v->pos,
                              "services.%s.volumes[%zu]: no type or target", service, i);
        if (strcmp(type, "volume") != 0 && strcmp(type, "bind") != 0 && strcmp(type, "tmpfs") != 0)
            return zp_err_set(err, ZP_E_INPUT, &v->pos,
                              "services.%s.volumes[%zu]: type '%s' is not supported by Swarm "
                              "services (volume, bind, tmpfs are)",
                              service, i, type);
        m[k].type = type;
        m[k].target = target;
        if (src && strcmp(type, "volume") == 0) {
            const struct zp_node *def = zp_node_get(defs, src);
            m[k].source = def ? keeps(b, orch__object_name(p->name, src, def)) : src;
        } else {
            m[k].source = src;
        }
        const struct zp_node *ro = zp_node_get(v, "read_only");
        m[k].read_only = ro && strcmp(ro->str, "true") == 0;
        k++;
    }
    s->mounts = m;
    s->n_mounts = k;
    return 0;
}

static int map_ports(const char *service, const struct zp_node *ports,
                     struct engine_service_spec *s, struct bag *b, struct zp_err *err)
{
    if (!ports || !zp_node_is_seq(ports) || ports->n == 0)
        return 0;
    struct engine_service_port *p = keep(b, zp_calloc(ports->n, sizeof(*p)));
    for (size_t i = 0; i < ports->n; i++) {
        const struct zp_node *n = ports->items[i];
        int64_t target = 0, published = 0;
        const char *ts = zp_node_get_str(n, "target");
        const char *ps = zp_node_get_str(n, "published");
        if (!ts || zp_parse_int64(ts, 1, 65535, &target) != 0 ||
            (ps && *ps && zp_parse_int64(ps, 1, 65535, &published) != 0))
            return zp_err_set(err, ZP_E_INPUT, &n->pos,
                              "services.%s.ports[%zu]: Swarm publishes single ports, not ranges",
                              service, i);
        p[i].target = (uint16_t)target;
        p[i].published = (uint16_t)published;
        p[i].protocol = zp_node_get_str(n, "protocol");
        const char *mode = zp_node_get_str(n, "mode");
        p[i].publish_mode = mode && strcmp(mode, "host") == 0 ? "host" : "ingress";
        if (zp_node_get_str(n, "host_ip"))
            return zp_err_set(err, ZP_E_INPUT, &n->pos,
                              "services.%s.ports[%zu].host_ip: Swarm publishes on every address; "
                              "remove host_ip",
                              service, i);
    }
    s->ports = p;
    s->n_ports = ports->n;
    return 0;
}

static struct engine_kv *kv_of_map(struct bag *b, const struct zp_node *m, size_t extra,
                                   size_t *ret_n)
{
    size_t n = m && zp_node_is_map(m) ? m->n : 0;
    struct engine_kv *kv = keep(b, zp_calloc(n + extra + 1, sizeof(*kv)));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct zp_node *v = m->pairs[i].value;
        kv[k].key = m->pairs[i].key->str;
        kv[k].value = v && zp_node_is_scalar(v) && !zp_node_is_null(v) ? v->str : "";
        k++;
    }
    *ret_n = k;
    return kv;
}

static void kv_set(struct engine_kv *kv, size_t *n, const char *key, const char *value)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(kv[i].key, key) == 0) {
            kv[i].value = value;
            return;
        }
    kv[*n].key = key;
    kv[*n].value = value;
    (*n)++;
}

/* Everything about one service that the spec needs. */
struct swarm_svc {
    const char *service; /* model key (borrowed) */
    const struct zp_node *svc;
    char *name;                /* "<project>_<service>" */
    char *image;               /* reference */
    char *image_id;            /* local image ID, or NULL */
    int64_t replicas_override; /* --scale, or -1 */
    int api_minor;             /* the engine's API version is 1.<api_minor> */
    char hash[65];             /* the service's */
    char task_hash[65];        /* its tasks' */
    struct engine_service_spec spec;
    struct bag bag;
    /* what the engine has */
    char *id;
    uint64_t version;
    bool changed;
    bool created;
};

static void swarm_svc_release(struct swarm_svc *s)
{
    free(s->name);
    free(s->image);
    free(s->image_id);
    free(s->id);
    bag_release(&s->bag);
}

/* The hashes: orch_config_hash over the service with the names of its configs and
 * secrets (content-addressed) added, and its image ID. The tasks' hash (on their
 * containers) leaves out what changes the service but not its tasks (replicas, the
 * service's labels, update and rollback settings), so that scaling restarts nothing; the
 * service's hash covers everything, --scale included. */
static void swarm_hash(struct swarm_svc *s)
{
    struct zp_node *copy = zp_node_copy(s->svc);
    struct zp_node *names = zp_node_new_seq(NULL);
    for (size_t i = 0; i < s->spec.n_configs; i++)
        zp_node_push(names, zp_node_new_str(s->spec.configs[i].name, NULL));
    for (size_t i = 0; i < s->spec.n_secrets; i++)
        zp_node_push(names, zp_node_new_str(s->spec.secrets[i].name, NULL));
    zp_node_set(copy, "x-zpanel-swarm-objects", names);
    struct zp_node *deploy = zp_node_get(copy, "deploy");
    struct zp_node *kept = deploy ? zp_node_copy(deploy) : NULL;
    if (deploy && zp_node_is_map(deploy)) {
        zp_node_del(deploy, "replicas");
        zp_node_del(deploy, "labels");
        zp_node_del(deploy, "update_config");
        zp_node_del(deploy, "rollback_config");
    }
    zp_node_del(copy, "scale");
    const char *image = s->image_id ? s->image_id : s->image;
    orch_config_hash(copy, image, s->task_hash);
    if (kept)
        zp_node_set(copy, "deploy", kept);
    zp_node_set(copy, "x-zpanel-swarm-replicas", zp_node_new_int(s->replicas_override, NULL));
    zp_node_set(copy, "x-zpanel-swarm-tasks", zp_node_new_str(s->task_hash, NULL));
    if (zp_node_get(s->svc, "scale"))
        zp_node_set(copy, "scale", zp_node_copy(zp_node_get(s->svc, "scale")));
    orch_config_hash(copy, image, s->hash);
    zp_node_free(copy);
}

static int build_spec(const struct compose_project *p, struct swarm_svc *sv,
                      const struct swarm_objs *configs, const struct swarm_objs *secrets,
                      struct zp_err *err)
{
    struct engine_service_spec *s = &sv->spec;
    const struct zp_node *svc = sv->svc;
    const char *service = sv->service;
    struct bag *b = &sv->bag;
    engine_service_spec_init(s);
    s->name = sv->name;
    s->image = sv->image;
    s->command = str_list(b, zp_node_get(svc, "entrypoint"));
    s->args = str_list(b, zp_node_get(svc, "command"));
    const struct zp_node *env = zp_node_get(svc, "environment");
    if (env && zp_node_is_map(env)) {
        const char **v = keep(b, zp_calloc(env->n + 1, sizeof(*v)));
        size_t k = 0;
        for (size_t i = 0; i < env->n; i++) {
            const struct zp_node *val = env->pairs[i].value;
            if (!val || zp_node_is_null(val))
                continue; /* unset: as compose, not passed */
            v[k++] = keeps(b, zp_asprintf("%s=%s", env->pairs[i].key->str, val->str));
        }
        s->env = v;
    }
    s->workdir = zp_node_get_str(svc, "working_dir");
    s->user = zp_node_get_str(svc, "user");
    s->hostname = zp_node_get_str(svc, "hostname");
    s->stop_signal = zp_node_get_str(svc, "stop_signal");
    int rc = duration(service, "stop_grace_period", zp_node_get(svc, "stop_grace_period"),
                      &s->stop_grace_ns, err);
    const struct zp_node *t;
    s->init = (t = zp_node_get(svc, "init")) && strcmp(t->str, "true") == 0;
    s->tty = (t = zp_node_get(svc, "tty")) && strcmp(t->str, "true") == 0;
    s->open_stdin = (t = zp_node_get(svc, "stdin_open")) && strcmp(t->str, "true") == 0;
    s->read_only = (t = zp_node_get(svc, "read_only")) && strcmp(t->str, "true") == 0;
    if (rc == 0)
        rc = map_deploy(service, zp_node_get(svc, "deploy"), s, b, err);
    if (rc == 0)
        rc = map_health(service, sv->api_minor, zp_node_get(svc, "healthcheck"), s, b, err);
    if (rc == 0)
        rc = map_files(service, "configs", zp_node_get(svc, "configs"), configs, &s->configs,
                       &s->n_configs, b, err);
    if (rc == 0)
        rc = map_files(service, "secrets", zp_node_get(svc, "secrets"), secrets, &s->secrets,
                       &s->n_secrets, b, err);
    if (rc == 0)
        rc = map_mounts(p, service, zp_node_get(svc, "volumes"), s, b, err);
    if (rc == 0)
        rc = map_ports(service, zp_node_get(svc, "ports"), s, b, err);
    if (rc != 0)
        return rc;
    s->replicas = s->global ? -1 : orch__model_replicas(svc);
    if (!s->global && sv->replicas_override >= 0)
        s->replicas = sv->replicas_override;
    /* networks: the model's keys to engine names, the service name as alias */
    const struct zp_node *nets = zp_node_get(svc, "networks");
    const struct zp_node *ndefs = zp_node_get(p->model, "networks");
    /* a routed service also joins the project's proxy network (an overlay one), where
     * the proxy's router dials its tasks */
    struct proxy_site site;
    bool routed = false;
    if ((rc = orch_service_site(p, service, svc, &site, &routed, err)) != 0)
        return rc;
    char *routes = routed ? keeps(b, proxy_site_to_label(&site)) : NULL;
    if (routed)
        proxy_site_release(&site);
    /* a routed service's update starts each new task before it stops the old one, as a
     * container rollout does (Swarm's own default, stop-first, leaves a gap in service),
     * unless update_config says otherwise; volumes do not change that (the two tasks share
     * a node's volume). Not with published ports: a host-mode port cannot be bound twice */
    if (routed && s->update.order == NULL && s->n_ports == 0) {
        if (!s->update.set) {
            /* the rest as Swarm's defaults (an UpdateConfig sent replaces them all) */
            s->update.parallelism = 1;
            s->update.failure_action = "pause";
            s->update.monitor_ns = INT64_C(5000000000);
        }
        s->update.set = true;
        s->update.order = "start-first";
    }
    size_t nn = nets && zp_node_is_map(nets) ? nets->n : 0;
    if (nn || routed) {
        struct engine_service_network *n = keep(b, zp_calloc(nn + 1, sizeof(*n)));
        if (routed)
            n[nn].target = keeps(b, proxy_project_network(p->name));
        s->networks = n;
        s->n_networks = nn + (routed ? 1 : 0);
    }
    if (nn) {
        struct engine_service_network *n = (struct engine_service_network *)s->networks;
        for (size_t i = 0; i < nets->n; i++) {
            const char *key = nets->pairs[i].key->str;
            const struct zp_node *na = zp_node_get(nets->pairs[i].value, "aliases");
            size_t na_n = na && zp_node_is_seq(na) ? na->n : 0;
            const char **al = keep(b, zp_calloc(na_n + 2, sizeof(*al)));
            al[0] = service;
            for (size_t k = 0; k < na_n; k++)
                al[k + 1] = na->items[k]->str;
            n[i].target = keeps(b, orch__object_name(p->name, key, zp_node_get(ndefs, key)));
            n[i].aliases = al;
        }
    }
    swarm_hash(sv);
    /* labels: deploy.labels on the service, labels on the containers, ours on both */
    size_t nl = 0, ncl = 0;
    struct engine_kv *sl = kv_of_map(b, zp_node_get(zp_node_get(svc, "deploy"), "labels"), 4, &nl);
    if (routes)
        kv_set(sl, &nl, PROXY_LABEL_ROUTES, routes);
    kv_set(sl, &nl, ORCH_LABEL_PROJECT, p->name);
    kv_set(sl, &nl, ORCH_LABEL_SERVICE, service);
    kv_set(sl, &nl, ORCH_LABEL_HASH, sv->hash);
    struct engine_kv *cl = kv_of_map(b, zp_node_get(svc, "labels"), 3, &ncl);
    kv_set(cl, &ncl, ORCH_LABEL_PROJECT, p->name);
    kv_set(cl, &ncl, ORCH_LABEL_SERVICE, service);
    kv_set(cl, &ncl, ORCH_LABEL_HASH, sv->task_hash);
    s->labels = sl;
    s->n_labels = nl;
    s->container_labels = cl;
    s->n_container_labels = ncl;
    return 0;
}

int orch__swarm_spec_json(const struct compose_project *p, const char *service,
                          const char *image_id, int64_t replicas_override, int api_minor,
                          const struct orch__swarm_obj *configs, size_t nconfigs,
                          const struct orch__swarm_obj *secrets, size_t nsecrets, char **ret_json,
                          char ret_hash[65], char ret_task_hash[65], struct zp_err *err)
{
    const struct zp_node *svc = zp_node_get(zp_node_get(p->model, "services"), service);
    if (!svc)
        return zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such service '%s'", service);
    struct swarm_svc sv;
    memset(&sv, 0, sizeof(sv));
    sv.service = service;
    sv.svc = svc;
    sv.name = service_name(p->name, service);
    sv.image = orch_service_image(p->name, service, svc);
    sv.image_id = image_id ? zp_strdup(image_id) : NULL;
    sv.replicas_override = replicas_override;
    sv.api_minor = api_minor;
    const struct swarm_objs c = {(struct orch__swarm_obj *)configs, nconfigs};
    const struct swarm_objs s = {(struct orch__swarm_obj *)secrets, nsecrets};
    int rc = build_spec(p, &sv, &c, &s, err);
    if (rc == 0) {
        *ret_json = engine_service_spec_json(&sv.spec);
        memcpy(ret_hash, sv.hash, 65);
        memcpy(ret_task_hash, sv.task_hash, 65);
    }
    swarm_svc_release(&sv);
    return rc;
}

/* ---- the engine side ---- */

static int require_manager(struct orch *o, int64_t *ret_nodes, struct zp_err *err)
{
    struct engine_swarm_state st;
    int rc = engine_swarm_state(o->e, &st, err);
    if (rc != 0)
        return rc;
    if (strcmp(st.local_state, "active") != 0 || !st.control_available)
        rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                        "the engine at '%s' is not a Swarm manager (Swarm state: %s): run "
                        "`zpanel swarm init` on it, or point -H at a manager",
                        engine_host(o->e), *st.local_state ? st.local_state : "unknown");
    else if (ret_nodes)
        *ret_nodes = st.nodes;
    engine_swarm_state_release(&st);
    return rc;
}

static char *project_filter(struct orch *o)
{
    return zp_asprintf("%s=%s", ORCH_LABEL_PROJECT, o->p->name);
}

int orch_swarm_deployed(struct orch *o, bool *ret, struct zp_err *err)
{
    /* once a session: GET /swarm, which answers at once, where GET /info makes the engine
     * run `runc --version` and `docker-init --version` */
    int rc = 0;
    if (!o->have_swarm_role) {
        if ((rc = engine_swarm_manager(o->e, &o->swarm_manager, err)) != 0)
            return rc;
        o->have_swarm_role = true;
    }
    if (!o->swarm_manager) {
        *ret = false;
        return 0;
    }
    char *pf = project_filter(o);
    const char *const filters[] = {pf, NULL};
    struct engine_service_list l = {0};
    rc = engine_service_list(o->e, filters, &l, err);
    if (rc == 0)
        *ret = l.n > 0;
    engine_service_list_release(&l);
    free(pf);
    return rc;
}

int orch_swarm_project(struct orch *o, bool *ret, struct zp_err *err)
{
    if (orch_swarm_wanted(o->p)) {
        *ret = true;
        return 0;
    }
    return orch_swarm_deployed(o, ret, err);
}

/* ---- routes: the proxy follows the tasks ---- */

/* While services change, an events thread resyncs the proxy at every event of the
 * project's task containers (start, health, kill, die) and services (update states): a
 * task that became ready is routed at once, one that Swarm stops is dropped as soon as
 * its kill is seen (Swarm has marked it for shutdown before that, and proxy_sync leaves
 * out tasks not desired running). wait_service also resyncs at each of its polls, which
 * catches the shutdown mark itself (no event names it) before Swarm stops the task. */
struct swarm_follow {
    struct orch *o;
    struct engine *ev;   /* the events stream's own connection */
    struct engine *sync; /* the thread's connection for the syncs */
    struct orch_proxy_ctx px;
    char *state_dir;
    char *prefix; /* "<project>_": the project's Swarm services */
    pthread_t thread;
    bool started;
};

static int follow_event(void *ctx, const struct engine_event *ev, struct zp_err *err)
{
    struct swarm_follow *f = ctx;
    (void)err;
    const char *svc = engine_labels_get(&ev->attributes, "com.docker.swarm.service.name");
    if (ev->type && strcmp(ev->type, "service") == 0)
        svc = engine_labels_get(&ev->attributes, "name");
    if (!svc || !zp_str_has_prefix(svc, f->prefix))
        return 0;
    struct zp_err serr;
    zp_err_init(&serr);
    orch__proxy_sync(f->o, f->sync, &f->px, &serr); /* the next event or poll tries again */
    return 0;
}

static void *follow_thread(void *arg)
{
    struct swarm_follow *f = arg;
    const char *const types[] = {"container", "service", NULL};
    /* not the health checks' exec_* events: several a second per task */
    const char *const actions[] = {"start",         "kill",   "die", "destroy",
                                   "health_status", "update", NULL};
    struct engine_events_filter filter = {.types = types, .actions = actions};
    struct zp_err err;
    zp_err_init(&err);
    engine_events(f->ev, 0, 0, &filter, follow_event, f, &err);
    return NULL;
}

/* Start following (f zeroed by the caller). A failure to start only loses the
 * immediacy: the polls still resync. */
static void follow_start(struct orch *o, struct swarm_follow *f)
{
    f->o = o;
    f->state_dir = zp_state_dir();
    orch__proxy_ctx_init(&f->px, f->state_dir);
    f->prefix = zp_asprintf("%s_", o->p->name);
    struct zp_err err;
    zp_err_init(&err);
    f->ev = engine_new(engine_host(o->e), &err);
    f->sync = f->ev ? engine_new(engine_host(o->e), &err) : NULL;
    if (!f->ev || !f->sync)
        return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals belong to the signal thread */
    f->started = pthread_create(&f->thread, NULL, follow_thread, f) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* One resync from the caller's thread (the poll), with the follower's context. */
static void follow_poll(struct swarm_follow *f)
{
    if (!f || !f->state_dir)
        return;
    struct zp_err err;
    zp_err_init(&err);
    orch__proxy_sync(f->o, f->o->e, &f->px, &err);
}

static void follow_stop(struct swarm_follow *f)
{
    if (!f->state_dir)
        return;
    if (f->started) {
        engine_cancel(f->ev);
        pthread_join(f->thread, NULL);
    }
    follow_poll(f); /* the final state */
    engine_free(f->ev);
    engine_free(f->sync);
    orch__proxy_ctx_release(&f->px);
    free(f->state_dir);
    free(f->prefix);
    memset(f, 0, sizeof(*f));
}

/* Wait until service sv runs its new spec: enough running tasks made from the wanted
 * hash, and no update in progress. A rollback, a paused update or tasks of the new spec
 * that keep failing are errors naming the last task error seen. */
static int wait_service(struct orch *o, struct swarm_svc *sv, int64_t deadline_ms,
                        struct swarm_follow *follow, struct zp_err *err)
{
    orch__emit(o, ORCH_OBJ_SERVICE, sv->name, sv->service, ORCH_WORKING, "Waiting");
    char *why = NULL; /* the last failure of a task of the new spec */
    int rc = 0;
    for (;;) {
        if (orch__cancelled(o)) {
            rc = orch__interrupted(err);
            break;
        }
        follow_poll(follow);
        struct engine_task_list tl = {0};
        if ((rc = engine_task_list(o->e, NULL, sv->id, false, &tl, err)) != 0)
            break;
        int64_t running = 0, failed = 0, desired = 0;
        for (size_t i = 0; i < tl.n; i++) {
            const struct engine_task *t = &tl.items[i];
            const char *h = engine_labels_get(&t->labels, ORCH_LABEL_HASH);
            bool ours = h && strcmp(h, sv->task_hash) == 0;
            bool want = strcmp(t->desired_state, "running") == 0;
            if (want)
                desired++;
            if (ours && want && strcmp(t->state, "running") == 0)
                running++;
            if (ours && (strcmp(t->state, "failed") == 0 || strcmp(t->state, "rejected") == 0)) {
                failed++;
                free(why);
                why = zp_strdup(*t->error ? t->error : t->message);
            }
        }
        engine_task_list_release(&tl);
        struct engine_service cur;
        if ((rc = engine_service_inspect(o->e, sv->id, &cur, err)) != 0)
            break;
        const char *us = cur.update_state;
        bool updating = strcmp(us, "updating") == 0 || strcmp(us, "rollback_started") == 0;
        if (strcmp(us, "rollback_completed") == 0 || strcmp(us, "paused") == 0 ||
            strcmp(us, "rollback_paused") == 0) {
            rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                            "service '%s': the update failed and Swarm %s (%s)%s%s", sv->service,
                            strcmp(us, "rollback_completed") == 0 ? "rolled it back" : "paused it",
                            *cur.update_message ? cur.update_message : us,
                            why ? "; the new tasks failed with: " : "", why ? why : "");
            engine_service_release(&cur);
            orch__emit(o, ORCH_OBJ_SERVICE, sv->name, sv->service, ORCH_FAILED, "%s", err->msg);
            break;
        }
        engine_service_release(&cur);
        int64_t need = sv->spec.global ? desired : sv->spec.replicas;
        bool ok = !updating && running >= need && (!sv->spec.global || running > 0);
        if (ok) {
            orch__emit(o, ORCH_OBJ_SERVICE, sv->name, sv->service, ORCH_DONE, "Running %lld/%lld",
                       (long long)running, (long long)need);
            break;
        }
        bool rollback_configured = sv->spec.update.failure_action &&
                                   strcmp(sv->spec.update.failure_action, "rollback") == 0 &&
                                   !sv->created;
        if (failed >= SWARM_MAX_TASK_FAILURES && !rollback_configured) {
            rc = zp_err_set(err, ZP_E_ENGINE, NULL, "service '%s': %lld tasks failed: %s",
                            sv->service, (long long)failed, why ? why : "no reason given");
            orch__emit(o, ORCH_OBJ_SERVICE, sv->name, sv->service, ORCH_FAILED, "%s", err->msg);
            break;
        }
        if (zp_mono_ms() > deadline_ms) {
            rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                            "service '%s': not converged in time (%lld/%lld tasks running%s%s)",
                            sv->service, (long long)running, (long long)need,
                            why ? "; last task error: " : "", why ? why : "");
            break;
        }
        zp_sleep_ms(SWARM_POLL_MS);
    }
    free(why);
    return rc;
}

static bool selected(const struct orch_swarm_up_opts *opts, const char *service)
{
    if (!opts->nservices)
        return true;
    for (size_t i = 0; i < opts->nservices; i++)
        if (strcmp(opts->services[i], service) == 0)
            return true;
    return false;
}

/* The repository an image built for service sv gets in registry: the image's name without
 * its tag, under registry unless it names it already ("reg:5000/shop-web"; owned). */
char *orch__swarm_push_repo(const char *registry, const char *image)
{
    size_t n = strlen(image);
    const char *slash = strrchr(image, '/');
    const char *colon = strrchr(image, ':');
    if (colon && (!slash || colon > slash))
        n = (size_t)(colon - image);
    size_t rl = strlen(registry);
    while (rl > 0 && registry[rl - 1] == '/')
        rl--;
    if (n > rl && strncmp(image, registry, rl) == 0 && image[rl] == '/')
        return zp_strndup(image, n);
    return zp_asprintf("%.*s/%.*s", (int)rl, registry, (int)n, image);
}

/* Tag the image built for sv as <registry>/<name>:<first 12 hex digits of its ID> and push
 * it, so that every node can pull exactly this build; the service runs that reference. */
static int push_image(struct orch *o, struct swarm_svc *sv, const char *registry,
                      struct zp_err *err)
{
    if (!sv->image_id)
        return zp_err_set(err, ZP_E_INTERNAL, NULL, "services.%s: no image ID to push",
                          sv->service);
    const char *hex = sv->image_id;
    if (zp_str_has_prefix(hex, "sha256:"))
        hex += 7;
    char *repo = orch__swarm_push_repo(registry, sv->image);
    char *tag = zp_strndup(hex, 12);
    char *ref = zp_asprintf("%s:%s", repo, tag);
    orch__emit(o, ORCH_OBJ_IMAGE, ref, sv->service, ORCH_WORKING, "Pushing");
    int rc = engine_image_tag(o->e, sv->image_id, repo, tag, err);
    if (rc == 0)
        rc = engine_image_push(o->e, repo, tag, NULL, NULL, err);
    if (rc == 0) {
        orch__emit(o, ORCH_OBJ_IMAGE, ref, sv->service, ORCH_DONE, "Pushed");
        free(sv->image);
        sv->image = ref;
        ref = NULL;
    } else {
        zp_err_prefix(err, "services.%s: x-zpanel.registry '%s'", sv->service, registry);
        orch__emit(o, ORCH_OBJ_IMAGE, ref, sv->service, ORCH_FAILED, "%s", err->msg);
    }
    free(ref);
    free(tag);
    free(repo);
    return rc;
}

static int prepare_image(struct orch *o, struct swarm_svc *sv, int64_t nodes, struct zp_err *err)
{
    bool exists = false;
    int rc = engine_image_inspect(o->e, sv->image, &exists, &sv->image_id, err);
    if (rc != 0)
        return rc;
    const struct zp_node *build = zp_node_get(sv->svc, "build");
    const struct zp_node *xz = zp_node_get(o->p->model, "x-zpanel");
    const char *registry = zp_node_get_str(xz, "registry");
    if (build && nodes > 1 && !registry)
        return zp_err_set(err, ZP_E_INPUT, &build->pos,
                          "services.%s.build: this swarm has %lld nodes, and an image built "
                          "here exists only on this node, so tasks placed on the others could "
                          "not start; set x-zpanel.registry (and build an image named there) "
                          "or pin the service to this node with a placement constraint",
                          sv->service, (long long)nodes);
    if (!exists && build) {
        rc = orch__build_image(o, sv->service, sv->svc, sv->image, NULL, &sv->image_id, err);
        if (rc != 0)
            return rc;
        exists = true;
    }
    if (build && registry)
        return push_image(o, sv, registry, err);
    if (!exists)
        orch__emit(o, ORCH_OBJ_IMAGE, sv->image, sv->service, ORCH_INFO,
                   "not on this engine: the swarm's nodes pull it when they run a task");
    else if (build && nodes <= 1)
        orch__emit(o, ORCH_OBJ_IMAGE, sv->image, sv->service, ORCH_WARNING,
                   "services.%s.build: the image exists on this node only (fine on a "
                   "single-node swarm; more nodes need x-zpanel.registry)",
                   sv->service);
    return 0;
}

int orch_swarm_up(struct orch *o, const struct orch_swarm_up_opts *opts, struct zp_err *err)
{
    int64_t nodes = 1;
    int rc = require_manager(o, &nodes, err);
    if (rc != 0)
        return rc;
    const struct zp_node *all = zp_node_get(o->p->model, "services");
    /* the selected services, as a map of the model's pairs */
    struct zp_node *svcs = zp_node_new_map(NULL);
    for (size_t i = 0; all && i < all->n; i++)
        if (selected(opts, all->pairs[i].key->str))
            zp_node_set(svcs, all->pairs[i].key->str, zp_node_copy(all->pairs[i].value));
    struct swarm_objs configs = {0}, secrets = {0};
    struct swarm_svc *sv = zp_calloc(svcs->n + 1, sizeof(*sv));
    size_t nsv = 0;
    struct engine_service_list have = {0};
    char *pf = project_filter(o);
    const char *const filters[] = {pf, NULL};
    struct swarm_follow follow;
    memset(&follow, 0, sizeof(follow));

    if ((rc = ensure_networks(o, svcs, err)) != 0)
        goto out;
    if ((rc = ensure_objs(o, ENGINE_CONFIG, svcs, &configs, err)) != 0)
        goto out;
    if ((rc = ensure_objs(o, ENGINE_SECRET, svcs, &secrets, err)) != 0)
        goto out;
    if ((rc = engine_service_list(o->e, filters, &have, err)) != 0)
        goto out;
    for (size_t i = 0; i < svcs->n; i++) {
        struct swarm_svc *s = &sv[nsv++];
        s->service = svcs->pairs[i].key->str;
        s->svc = svcs->pairs[i].value;
        s->name = service_name(o->p->name, s->service);
        s->image = orch_service_image(o->p->name, s->service, s->svc);
        s->replicas_override = -1;
        s->api_minor = engine_api_minor(o->e); /* negotiated by orch_new */
        for (size_t k = 0; k < opts->nscale; k++)
            if (strcmp(opts->scale[k].service, s->service) == 0)
                s->replicas_override = opts->scale[k].replicas;
        warn_fields(o, s->name, s->service, s->svc);
        if ((rc = prepare_image(o, s, nodes, err)) != 0)
            goto out;
        if ((rc = build_spec(o->p, s, &configs, &secrets, err)) != 0)
            goto out;
    }
    /* routed services: their overlay proxy network, and the proxy following their tasks */
    bool routed = false;
    for (size_t i = 0; i < nsv; i++)
        for (size_t k = 0; k < sv[i].spec.n_labels; k++)
            routed = routed || strcmp(sv[i].spec.labels[k].key, PROXY_LABEL_ROUTES) == 0;
    if (routed) {
        if ((rc = proxy_ensure_swarm_network(o->e, o->p->name, err)) != 0)
            goto out;
        follow_start(o, &follow);
    }
    /* create or update; a service whose hash did not change is left alone */
    for (size_t i = 0; i < nsv; i++) {
        struct swarm_svc *s = &sv[i];
        const struct engine_service *cur = NULL;
        for (size_t k = 0; k < have.n; k++)
            if (strcmp(have.items[k].name, s->name) == 0)
                cur = &have.items[k];
        if (orch__cancelled(o)) {
            rc = orch__interrupted(err);
            goto out;
        }
        if (cur) {
            s->id = zp_strdup(cur->id);
            const char *h = engine_labels_get(&cur->labels, ORCH_LABEL_HASH);
            if (h && strcmp(h, s->hash) == 0) {
                orch__emit(o, ORCH_OBJ_SERVICE, s->name, s->service, ORCH_INFO, "Running");
                continue;
            }
            orch__emit(o, ORCH_OBJ_SERVICE, s->name, s->service, ORCH_WORKING, "Updating");
            rc = engine_service_update(o->e, cur->id, cur->version, &s->spec, err);
            if (rc == 0)
                orch__emit(o, ORCH_OBJ_SERVICE, s->name, s->service, ORCH_DONE, "Updated");
        } else {
            orch__emit(o, ORCH_OBJ_SERVICE, s->name, s->service, ORCH_WORKING, "Creating");
            rc = engine_service_create(o->e, &s->spec, &s->id, err);
            s->created = rc == 0;
            if (rc == 0)
                orch__emit(o, ORCH_OBJ_SERVICE, s->name, s->service, ORCH_DONE, "Created");
        }
        if (rc != 0) {
            zp_err_prefix(err, "service '%s'", s->service);
            goto out;
        }
        s->changed = true;
    }
    /* services of the project the files no longer name */
    for (size_t k = 0; k < have.n && !opts->nservices; k++) {
        const char *svc = engine_labels_get(&have.items[k].labels, ORCH_LABEL_SERVICE);
        if (svc && zp_node_get(all, svc))
            continue;
        if (!opts->remove_orphans) {
            orch__emit(o, ORCH_OBJ_SERVICE, have.items[k].name, svc, ORCH_WARNING,
                       "service '%s' is not in the project's files any more; `up "
                       "--remove-orphans` removes it",
                       have.items[k].name);
            continue;
        }
        if ((rc = engine_service_remove(o->e, have.items[k].id, err)) != 0)
            goto out;
        orch__emit(o, ORCH_OBJ_SERVICE, have.items[k].name, svc, ORCH_DONE, "Removed");
    }
    if (!opts->no_wait) {
        int64_t deadline = zp_mono_ms() + (opts->wait_timeout_ms > 0 ? opts->wait_timeout_ms
                                                                     : SWARM_WAIT_DEFAULT_MS);
        for (size_t i = 0; i < nsv; i++) {
            if (!sv[i].changed)
                continue;
            struct zp_err sub;
            zp_err_init(&sub);
            int r = wait_service(o, &sv[i], deadline, routed ? &follow : NULL, &sub);
            if (r != 0 && rc == 0) {
                rc = r;
                *err = sub;
            }
        }
    }
    if (rc == 0 && !opts->nservices) {
        prune_objs(o, ENGINE_CONFIG, &configs);
        prune_objs(o, ENGINE_SECRET, &secrets);
    }
out:
    follow_stop(&follow);
    for (size_t i = 0; i < nsv; i++)
        swarm_svc_release(&sv[i]);
    free(sv);
    objs_release(&configs);
    objs_release(&secrets);
    engine_service_list_release(&have);
    zp_node_free(svcs);
    free(pf);
    return rc;
}

/* ---- down ---- */

int orch_swarm_down(struct orch *o, bool volumes, struct zp_err *err)
{
    char *pf = project_filter(o);
    const char *const filters[] = {pf, NULL};
    struct engine_service_list have = {0};
    struct engine_network_list nets = {0};
    int rc = require_manager(o, NULL, err);
    if (rc == 0)
        rc = engine_service_list(o->e, filters, &have, err);
    for (size_t i = 0; rc == 0 && i < have.n; i++) {
        const char *svc = engine_labels_get(&have.items[i].labels, ORCH_LABEL_SERVICE);
        orch__emit(o, ORCH_OBJ_SERVICE, have.items[i].name, svc, ORCH_WORKING, "Removing");
        rc = engine_service_remove(o->e, have.items[i].id, err);
        if (rc == ZP_E_NOTFOUND) {
            zp_err_init(err);
            rc = 0;
        }
        if (rc == 0)
            orch__emit(o, ORCH_OBJ_SERVICE, have.items[i].name, svc, ORCH_DONE, "Removed");
    }
    /* the tasks' containers go asynchronously: networks and volumes are in use until then */
    int64_t deadline = zp_mono_ms() + 60000;
    while (rc == 0 && have.n) {
        struct engine_container_list cl = {0};
        rc = engine_container_list(o->e, filters, true, &cl, err);
        size_t left = cl.n;
        engine_container_list_release(&cl);
        if (rc != 0 || left == 0)
            break;
        if (orch__cancelled(o)) {
            rc = orch__interrupted(err);
            break;
        }
        if (zp_mono_ms() > deadline) {
            rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                            "%zu task containers of project '%s' are still there after 60 s", left,
                            o->p->name);
            break;
        }
        zp_sleep_ms(SWARM_POLL_MS);
    }
    if (rc == 0)
        rc = engine_network_list(o->e, filters, &nets, err);
    for (size_t i = 0; rc == 0 && i < nets.n; i++) {
        if (strcmp(nets.items[i].scope, "swarm") != 0)
            continue;
        /* the engine may still be detaching the last endpoints: a few tries */
        for (int t = 0; t < 20; t++) {
            zp_err_init(err);
            rc = engine_network_remove(o->e, nets.items[i].id, err);
            if (rc == 0 || rc == ZP_E_NOTFOUND)
                break;
            zp_sleep_ms(SWARM_POLL_MS);
        }
        if (rc == ZP_E_NOTFOUND) {
            zp_err_init(err);
            rc = 0;
        }
        if (rc == 0)
            orch__emit(o, ORCH_OBJ_NETWORK, nets.items[i].name, NULL, ORCH_DONE, "Removed");
    }
    if (rc == 0) {
        prune_objs(o, ENGINE_CONFIG, NULL);
        prune_objs(o, ENGINE_SECRET, NULL);
    }
    bool routed = false;
    for (size_t i = 0; i < have.n; i++)
        routed = routed || engine_labels_get(&have.items[i].labels, PROXY_LABEL_ROUTES) != NULL;
    if (rc == 0 && routed) { /* the proxy forgets the tasks, then the project's network */
        struct swarm_follow f;
        memset(&f, 0, sizeof(f));
        f.o = o;
        f.state_dir = zp_state_dir();
        orch__proxy_ctx_init(&f.px, f.state_dir);
        follow_poll(&f);
        orch__proxy_ctx_release(&f.px);
        free(f.state_dir);
        struct zp_err sub;
        zp_err_init(&sub);
        if (proxy_forget_project(o->e, o->p->name, &sub) != 0)
            orch__emit(o, ORCH_OBJ_NETWORK, o->p->name, NULL, ORCH_WARNING,
                       "the project's proxy network: %s", sub.msg);
    }
    if (rc == 0 && volumes) {
        const struct zp_node *defs = zp_node_get(o->p->model, "volumes");
        for (size_t i = 0; defs && i < defs->n; i++) {
            if (orch__object_external(defs->pairs[i].value))
                continue;
            char *name =
                orch__object_name(o->p->name, defs->pairs[i].key->str, defs->pairs[i].value);
            struct zp_err sub;
            zp_err_init(&sub);
            int r = engine_volume_remove(o->e, name, false, &sub);
            if (r == 0)
                orch__emit(o, ORCH_OBJ_VOLUME, name, NULL, ORCH_DONE, "Removed");
            else if (r != ZP_E_NOTFOUND)
                orch__emit(o, ORCH_OBJ_VOLUME, name, NULL, ORCH_WARNING, "%s", sub.msg);
            free(name);
        }
    }
    engine_network_list_release(&nets);
    engine_service_list_release(&have);
    free(pf);
    return rc;
}

/* ---- rollback ---- */

int orch_swarm_rollback(struct orch *o, const char *const *services, size_t nservices,
                        struct zp_err *err)
{
    char *pf = project_filter(o);
    const char *const filters[] = {pf, NULL};
    struct engine_service_list have = {0};
    struct swarm_follow follow;
    memset(&follow, 0, sizeof(follow));
    int rc = require_manager(o, NULL, err);
    if (rc == 0)
        rc = engine_service_list(o->e, filters, &have, err);
    for (size_t i = 0; rc == 0 && i < nservices; i++) {
        bool found = false;
        for (size_t k = 0; k < have.n; k++) {
            const char *svc = engine_labels_get(&have.items[k].labels, ORCH_LABEL_SERVICE);
            found = found || (svc && strcmp(svc, services[i]) == 0);
        }
        if (!found)
            rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "no Swarm service '%s' in project '%s'",
                            services[i], o->p->name);
    }
    for (size_t k = 0; rc == 0 && k < have.n; k++) {
        const struct engine_service *cur = &have.items[k];
        const char *svc = engine_labels_get(&cur->labels, ORCH_LABEL_SERVICE);
        bool want = nservices == 0;
        for (size_t i = 0; i < nservices; i++)
            want = want || (svc && strcmp(svc, services[i]) == 0);
        if (!want)
            continue;
        struct engine_service full;
        if ((rc = engine_service_inspect(o->e, cur->id, &full, err)) != 0)
            break;
        if (!full.has_previous_spec) {
            rc = zp_err_set(err, ZP_E_CONFLICT, NULL,
                            "service '%s' has no previous spec to roll back to", cur->name);
            engine_service_release(&full);
            break;
        }
        orch__emit(o, ORCH_OBJ_SERVICE, cur->name, svc, ORCH_WORKING, "Rolling back");
        if (!follow.state_dir && engine_labels_get(&cur->labels, PROXY_LABEL_ROUTES))
            follow_start(o, &follow); /* the proxy follows the tasks */
        rc = engine_service_rollback(o->e, full.id, full.version, full.spec_json, err);
        engine_service_release(&full);
        if (rc != 0)
            break;
        /* wait for the rollback to finish (the service's state says it) */
        int64_t deadline = zp_mono_ms() + SWARM_WAIT_DEFAULT_MS;
        for (;;) {
            follow_poll(follow.state_dir ? &follow : NULL);
            struct engine_service now;
            if ((rc = engine_service_inspect(o->e, cur->id, &now, err)) != 0)
                break;
            /* the engine sets rollback_started when it accepts the rollback */
            bool done = strcmp(now.update_state, "rollback_completed") == 0;
            bool bad = strcmp(now.update_state, "rollback_paused") == 0;
            if (bad)
                rc = zp_err_set(err, ZP_E_ENGINE, NULL, "service '%s': the rollback paused: %s",
                                cur->name, now.update_message);
            engine_service_release(&now);
            if (rc != 0 || done)
                break;
            if (orch__cancelled(o)) {
                rc = orch__interrupted(err);
                break;
            }
            if (zp_mono_ms() > deadline) {
                rc = zp_err_set(err, ZP_E_ENGINE, NULL, "service '%s': the rollback did not finish",
                                cur->name);
                break;
            }
            zp_sleep_ms(SWARM_POLL_MS);
        }
        if (rc == 0)
            orch__emit(o, ORCH_OBJ_SERVICE, cur->name, svc, ORCH_DONE, "Rolled back");
    }
    follow_stop(&follow);
    engine_service_list_release(&have);
    free(pf);
    return rc;
}

/* ---- the proxy follows Swarm tasks while zpanel serve runs ---- */

/* How long after the last task event the router keeps resyncing once a second. */
#define ROUTER_SETTLE_MS 5000

struct orch_swarm_router {
    struct engine *ev;   /* the events stream's connection */
    struct engine *sync; /* the syncs' */
    struct proxy_opts opts;
    char *state_dir;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_int_least64_t syncs;
    bool seen; /* an event came in this round (the thread's only) */
};

static void router_sync(struct orch_swarm_router *r)
{
    struct zp_err err;
    zp_err_init(&err);
    bool running = false;
    proxy_sync(r->sync, &r->opts, NULL, 0, &running, NULL, &err); /* the next one retries */
    atomic_fetch_add(&r->syncs, 1);
}

static int router_event(void *ctx, const struct engine_event *ev, struct zp_err *err)
{
    struct orch_swarm_router *r = ctx;
    (void)err;
    /* a task container of a zpanel project's Swarm service */
    if (!engine_labels_get(&ev->attributes, "com.docker.swarm.service.name") ||
        !engine_labels_get(&ev->attributes, ORCH_LABEL_PROJECT))
        return 0;
    r->seen = true;
    router_sync(r);
    return 0;
}

static void *router_thread(void *arg)
{
    struct orch_swarm_router *r = arg;
    const char *const types[] = {"container", NULL};
    /* not the health checks' exec_* events: several a second per task */
    const char *const actions[] = {"start", "kill", "die", "destroy", "health_status", NULL};
    const char *const labels[] = {"com.docker.swarm.service.name", NULL};
    struct engine_events_filter filter = {.labels = labels, .types = types, .actions = actions};
    int64_t since = (int64_t)time(NULL), settle_until = 0;
    while (!atomic_load(&r->stop)) {
        /* one second of events at a time: the loop resyncs while tasks settle */
        int64_t now = (int64_t)time(NULL);
        struct zp_err err;
        zp_err_init(&err);
        r->seen = false;
        int rc = engine_events(r->ev, since, now + 1, &filter, router_event, r, &err);
        if (atomic_load(&r->stop))
            break;
        since = now + 1;
        if (r->seen)
            settle_until = zp_mono_ms() + ROUTER_SETTLE_MS;
        if (zp_mono_ms() < settle_until)
            router_sync(r);
        if (rc != 0)
            zp_sleep_ms(1000); /* the engine restarts, or is away: try again */
    }
    return NULL;
}

int orch_swarm_router_start(const char *host, const char *state_dir, struct orch_swarm_router **ret,
                            struct zp_err *err)
{
    struct orch_swarm_router *r = zp_calloc(1, sizeof(*r));
    r->state_dir = zp_strdup(state_dir);
    r->opts.state_dir = r->state_dir;
    atomic_init(&r->stop, false);
    atomic_init(&r->syncs, 0);
    if (!(r->ev = engine_new(host, err)) || !(r->sync = engine_new(host, err))) {
        orch_swarm_router_stop(r);
        return err->code;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals belong to the signal thread */
    int e = pthread_create(&r->thread, NULL, router_thread, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        orch_swarm_router_stop(r);
        return zp_err_set(err, ZP_E_SYSTEM, NULL, "cannot start the Swarm router thread");
    }
    r->started = true;
    *ret = r;
    return 0;
}

void orch_swarm_router_stop(struct orch_swarm_router *r)
{
    if (!r)
        return;
    if (r->started) {
        atomic_store(&r->stop, true);
        engine_cancel(r->ev);
        pthread_join(r->thread, NULL);
    }
    engine_free(r->ev);
    engine_free(r->sync);
    free(r->state_dir);
    free(r);
}

int64_t orch_swarm_router_syncs(struct orch_swarm_router *r)
{
    return atomic_load(&r->syncs);
}

/* ---- observing ---- */

int orch_swarm_ps(struct orch *o, bool all, struct orch_swarm_task **ret, size_t *ret_n,
                  struct zp_err *err)
{
    char *pf = project_filter(o);
    const char *const filters[] = {pf, NULL};
    struct engine_service_list sl = {0};
    struct engine_task_list tl = {0};
    struct engine_node_list nl = {0};
    struct orch_swarm_task *out = NULL;
    size_t n = 0;
    int rc = engine_service_list(o->e, filters, &sl, err);
    if (rc == 0)
        rc = engine_node_list(o->e, &nl, err);
    for (size_t s = 0; rc == 0 && s < sl.n; s++) {
        engine_task_list_release(&tl);
        if ((rc = engine_task_list(o->e, NULL, sl.items[s].id, !all, &tl, err)) != 0)
            break;
        const char *svc = engine_labels_get(&sl.items[s].labels, ORCH_LABEL_SERVICE);
        out = zp_realloc(out, (n + tl.n + 1) * sizeof(*out));
        for (size_t i = 0; i < tl.n; i++) {
            const struct engine_task *t = &tl.items[i];
            struct orch_swarm_task *r = &out[n++];
            memset(r, 0, sizeof(*r));
            r->service = zp_strdup(svc ? svc : "");
            r->name = t->slot ? zp_asprintf("%s.%lld", sl.items[s].name, (long long)t->slot)
                              : zp_asprintf("%s.%s", sl.items[s].name, t->node_id);
            r->id = zp_strdup(t->id);
            const char *host = t->node_id;
            for (size_t k = 0; k < nl.n; k++)
                if (strcmp(nl.items[k].id, t->node_id) == 0)
                    host = nl.items[k].hostname;
            r->node = zp_strdup(host);
            r->desired = zp_strdup(t->desired_state);
            r->state = zp_strdup(t->state);
            r->error = zp_strdup(t->error);
            r->container_id = zp_strdup(t->container_id);
            const char *h = engine_labels_get(&t->labels, ORCH_LABEL_HASH);
            r->config_hash = zp_strdup(h ? h : "");
            r->since = t->timestamp;
        }
    }
    engine_task_list_release(&tl);
    engine_node_list_release(&nl);
    engine_service_list_release(&sl);
    free(pf);
    if (rc != 0) {
        orch_swarm_tasks_free(out, n);
        return rc;
    }
    *ret = out;
    *ret_n = n;
    return 0;
}

void orch_swarm_tasks_free(struct orch_swarm_task *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++) {
        free(t[i].service);
        free(t[i].name);
        free(t[i].id);
        free(t[i].node);
        free(t[i].desired);
        free(t[i].state);
        free(t[i].error);
        free(t[i].container_id);
        free(t[i].config_hash);
    }
    free(t);
}

int orch_swarm_services(struct orch *o, struct orch_swarm_service **ret, size_t *ret_n,
                        struct zp_err *err)
{
    char *pf = project_filter(o);
    const char *const filters[] = {pf, NULL};
    struct engine_service_list sl = {0};
    int rc = engine_service_list(o->e, filters, &sl, err);
    free(pf);
    if (rc != 0)
        return rc;
    struct orch_swarm_service *out = zp_calloc(sl.n + 1, sizeof(*out));
    for (size_t i = 0; i < sl.n; i++) {
        const struct engine_service *s = &sl.items[i];
        const char *svc = engine_labels_get(&s->labels, ORCH_LABEL_SERVICE);
        const char *h = engine_labels_get(&s->labels, ORCH_LABEL_HASH);
        out[i].service = zp_strdup(svc ? svc : "");
        out[i].name = zp_strdup(s->name);
        out[i].mode = zp_strdup(s->global ? "global" : "replicated");
        out[i].running = s->running_tasks;
        out[i].desired = s->desired_tasks >= 0 ? s->desired_tasks : s->replicas;
        out[i].update_state = zp_strdup(s->update_state);
        out[i].update_message = zp_strdup(s->update_message);
        out[i].image = zp_strdup(s->image);
        out[i].config_hash = zp_strdup(h ? h : "");
    }
    *ret = out;
    *ret_n = sl.n;
    engine_service_list_release(&sl);
    return 0;
}

void orch_swarm_services_free(struct orch_swarm_service *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free(s[i].service);
        free(s[i].name);
        free(s[i].mode);
        free(s[i].update_state);
        free(s[i].update_message);
        free(s[i].image);
        free(s[i].config_hash);
    }
    free(s);
}

char *orch_swarm_service_problem(const struct orch_swarm_service *s)
{
    const char *st = s->update_state ? s->update_state : "";
    const char *msg = s->update_message && *s->update_message ? s->update_message : NULL;
    if (strcmp(st, "paused") == 0 || strcmp(st, "rollback_paused") == 0 ||
        strcmp(st, "rollback_started") == 0)
        return msg ? zp_asprintf("update %s: %s", st, msg) : zp_asprintf("update %s", st);
    if (s->desired <= 0)
        return zp_strdup("no task desired (scaled to 0)");
    if (s->running < s->desired)
        return zp_asprintf("%lld of %lld tasks running (healthy)", (long long)s->running,
                           (long long)s->desired);
    return NULL;
}

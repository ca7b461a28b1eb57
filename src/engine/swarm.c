/* engine/swarm: Swarm mode's calls (engine-swarm.h): the swarm itself, nodes, services
 * (spec to JSON, answers to typed structs), tasks, configs and secrets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"

#include "../util/banned.h"

/* ---- small JSON helpers ---- */

static int64_t int_of(const json_t *obj, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static json_t *path_get(const json_t *obj, const char *const *keys)
{
    const json_t *cur = obj;
    for (size_t i = 0; keys[i] && cur; i++)
        cur = json_object_get(cur, keys[i]);
    return (json_t *)cur;
}

static json_t *str_array(const char *const *v)
{
    json_t *arr = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(arr, json_string(v[i]));
    return arr;
}

static char *dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (!s)
        ZP_BUG("encoding a request body");
    return s;
}

static char *path_of(const char *prefix, const char *name, const char *suffix)
{
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_adds(&b, prefix);
    engine__escape(&b, name, false);
    zp_buf_adds(&b, suffix);
    return zp_buf_detach(&b, NULL);
}

static int call(struct engine *e, const char *method, const char *path, const char *query,
                const json_t *body, const char *what, json_t **ret_json, struct zp_err *err)
{
    char *text = body ? dump(body) : NULL;
    struct engine__req req = {
        .method = method, .path = path, .query = query, .body = text, .what = what};
    long status = 0;
    int rc = engine__request(e, &req, &status, ret_json, err);
    free(text);
    return rc;
}

char *engine_base64(const void *data, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    char *out = zp_malloc((len + 2) / 3 * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* ---- the swarm ---- */

int engine_swarm_state(struct engine *e, struct engine_swarm_state *ret, struct zp_err *err)
{
    json_t *j = NULL;
    int rc = call(e, "GET", "/info", NULL, NULL, "reading engine info", &j, err);
    if (rc != 0)
        return rc;
    json_t *sw = json_object_get(j, "Swarm");
    struct engine_swarm_state s;
    memset(&s, 0, sizeof(s));
    s.local_state = engine__strdup(sw, "LocalNodeState");
    s.node_id = engine__strdup(sw, "NodeID");
    s.node_addr = engine__strdup(sw, "NodeAddr");
    s.cluster_id = engine__strdup(json_object_get(sw, "Cluster"), "ID");
    s.control_available = json_is_true(json_object_get(sw, "ControlAvailable"));
    s.nodes = int_of(sw, "Nodes", 0);
    s.managers = int_of(sw, "Managers", 0);
    json_decref(j);
    *ret = s;
    return 0;
}

int engine_swarm_manager(struct engine *e, bool *ret, struct zp_err *err)
{
    /* a node that is no manager (or in no swarm) answers 503 at once */
    struct engine__req req = {.method = "GET",
                              .path = "/swarm",
                              .what = "asking the engine for its swarm role",
                              .also_ok = 503};
    json_t *j = NULL;
    long status = 0;
    int rc = engine__request(e, &req, &status, &j, err);
    json_decref(j);
    if (rc == 0)
        *ret = status == 200;
    return rc;
}

void engine_swarm_state_release(struct engine_swarm_state *s)
{
    if (!s)
        return;
    free(s->local_state);
    free(s->node_id);
    free(s->node_addr);
    free(s->cluster_id);
    memset(s, 0, sizeof(*s));
}

int engine_swarm_init(struct engine *e, const char *advertise_addr, const char *listen_addr,
                      char **ret_node_id, struct zp_err *err)
{
    json_t *body = json_object();
    json_object_set_new(body, "ListenAddr",
                        json_string(listen_addr ? listen_addr : "0.0.0.0:2377"));
    if (advertise_addr)
        json_object_set_new(body, "AdvertiseAddr", json_string(advertise_addr));
    json_t *j = NULL;
    int rc = call(e, "POST", "/swarm/init", NULL, body, "initialising a swarm", &j, err);
    json_decref(body);
    if (rc == 0 && ret_node_id)
        *ret_node_id = zp_strdup(json_is_string(j) ? json_string_value(j) : "");
    json_decref(j);
    return rc;
}

int engine_swarm_join(struct engine *e, const char *remote_addr, const char *token,
                      const char *advertise_addr, const char *listen_addr, struct zp_err *err)
{
    json_t *body = json_object();
    json_object_set_new(body, "ListenAddr",
                        json_string(listen_addr ? listen_addr : "0.0.0.0:2377"));
    if (advertise_addr)
        json_object_set_new(body, "AdvertiseAddr", json_string(advertise_addr));
    json_t *remotes = json_array();
    json_array_append_new(remotes, json_string(remote_addr));
    json_object_set_new(body, "RemoteAddrs", remotes);
    json_object_set_new(body, "JoinToken", json_string(token));
    char *what = zp_asprintf("joining the swarm at '%s'", remote_addr);
    int rc = call(e, "POST", "/swarm/join", NULL, body, what, NULL, err);
    json_decref(body);
    free(what);
    return rc;
}

int engine_swarm_leave(struct engine *e, bool force, struct zp_err *err)
{
    return call(e, "POST", "/swarm/leave", force ? "force=true" : NULL, NULL, "leaving the swarm",
                NULL, err);
}

int engine_swarm_inspect(struct engine *e, struct engine_swarm_info *ret, struct zp_err *err)
{
    json_t *j = NULL;
    int rc = call(e, "GET", "/swarm", NULL, NULL, "inspecting the swarm", &j, err);
    if (rc != 0)
        return rc;
    json_t *tok = json_object_get(j, "JoinTokens");
    ret->id = engine__strdup(j, "ID");
    ret->worker_token = engine__strdup(tok, "Worker");
    ret->manager_token = engine__strdup(tok, "Manager");
    json_decref(j);
    return 0;
}

void engine_swarm_info_release(struct engine_swarm_info *s)
{
    if (!s)
        return;
    free(s->id);
    free(s->worker_token);
    free(s->manager_token);
    memset(s, 0, sizeof(*s));
}

/* ---- nodes ---- */

static int node_cmp(const void *a, const void *b)
{
    const struct engine_node *x = a, *y = b;
    int c = strcmp(x->hostname, y->hostname);
    return c ? c : strcmp(x->id, y->id);
}

int engine__map_node_list(const json_t *arr, struct engine_node_list *ret_list, struct zp_err *err)
{
    if (!json_is_array(arr))
        return zp_err_set(err, ZP_E_ENGINE, NULL, "listing nodes: the answer is not a list");
    struct engine_node_list l = {zp_calloc(json_array_size(arr) + 1, sizeof(struct engine_node)),
                                 0};
    size_t i;
    json_t *n;
    json_array_foreach(arr, i, n)
    {
        struct engine_node *o = &l.items[l.n++];
        json_t *spec = json_object_get(n, "Spec");
        json_t *st = json_object_get(n, "Status");
        json_t *ms = json_object_get(n, "ManagerStatus");
        o->id = engine__strdup(n, "ID");
        o->hostname = engine__strdup(json_object_get(n, "Description"), "Hostname");
        o->role = engine__strdup(spec, "Role");
        o->availability = engine__strdup(spec, "Availability");
        o->state = engine__strdup(st, "State");
        o->addr = engine__strdup(st, "Addr");
        if (json_is_true(json_object_get(ms, "Leader")))
            o->manager_status = zp_strdup("leader");
        else
            o->manager_status = engine__strdup(ms, "Reachability");
        static const char *const ev[] = {"Description", "Engine", NULL};
        o->engine_version = engine__strdup(path_get(n, ev), "EngineVersion");
    }
    qsort(l.items, l.n, sizeof(*l.items), node_cmp);
    *ret_list = l;
    return 0;
}

int engine_node_list(struct engine *e, struct engine_node_list *ret_list, struct zp_err *err)
{
    json_t *j = NULL;
    int rc = call(e, "GET", "/nodes", NULL, NULL, "listing nodes", &j, err);
    if (rc == 0)
        rc = engine__map_node_list(j, ret_list, err);
    json_decref(j);
    return rc;
}

void engine_node_list_release(struct engine_node_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        struct engine_node *o = &l->items[i];
        free(o->id);
        free(o->hostname);
        free(o->role);
        free(o->availability);
        free(o->state);
        free(o->addr);
        free(o->manager_status);
        free(o->engine_version);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* ---- service specs ---- */

void engine_update_config_init(struct engine_update_config *u)
{
    memset(u, 0, sizeof(*u));
    u->parallelism = -1;
    u->delay_ns = -1;
    u->monitor_ns = -1;
    u->max_failure_ratio = -1;
}

void engine_service_spec_init(struct engine_service_spec *s)
{
    memset(s, 0, sizeof(*s));
    s->stop_grace_ns = -1;
    s->health_interval_ns = -1;
    s->health_timeout_ns = -1;
    s->health_start_period_ns = -1;
    s->health_start_interval_ns = -1;
    s->health_retries = -1;
    s->restart_delay_ns = -1;
    s->restart_max_attempts = -1;
    s->restart_window_ns = -1;
    s->replicas = -1;
    engine_update_config_init(&s->update);
    engine_update_config_init(&s->rollback);
}

static void set_int(json_t *o, const char *key, int64_t v, int64_t unset)
{
    if (v != unset)
        json_object_set_new(o, key, json_integer((json_int_t)v));
}

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
}

static json_t *update_json(const struct engine_update_config *u)
{
    json_t *o = json_object();
    set_int(o, "Parallelism", u->parallelism, -1);
    set_int(o, "Delay", u->delay_ns, -1);
    set_str(o, "FailureAction", u->failure_action);
    set_int(o, "Monitor", u->monitor_ns, -1);
    if (u->max_failure_ratio >= 0)
        json_object_set_new(o, "MaxFailureRatio", json_real(u->max_failure_ratio));
    set_str(o, "Order", u->order);
    return o;
}

static json_t *files_json(const struct engine_service_file *f, size_t n, bool secret)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_t *file = json_object();
        json_object_set_new(file, "Name", json_string(f[i].target));
        json_object_set_new(file, "UID", json_string(f[i].uid ? f[i].uid : "0"));
        json_object_set_new(file, "GID", json_string(f[i].gid ? f[i].gid : "0"));
        json_object_set_new(file, "Mode", json_integer(f[i].mode ? f[i].mode : 0444));
        json_object_set_new(o, "File", file);
        json_object_set_new(o, secret ? "SecretID" : "ConfigID", json_string(f[i].id));
        json_object_set_new(o, secret ? "SecretName" : "ConfigName", json_string(f[i].name));
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *container_json(const struct engine_service_spec *s)
{
    json_t *c = json_object();
    json_object_set_new(c, "Image", json_string(s->image ? s->image : ""));
    if (s->n_container_labels)
        json_object_set_new(c, "Labels",
                            engine__labels_json(s->container_labels, s->n_container_labels));
    if (s->command)
        json_object_set_new(c, "Command", str_array(s->command));
    if (s->args)
        json_object_set_new(c, "Args", str_array(s->args));
    if (s->env && s->env[0])
        json_object_set_new(c, "Env", str_array(s->env));
    set_str(c, "Dir", s->workdir);
    set_str(c, "User", s->user);
    set_str(c, "Hostname", s->hostname);
    set_str(c, "StopSignal", s->stop_signal);
    set_int(c, "StopGracePeriod", s->stop_grace_ns, -1);
    if (s->init)
        json_object_set_new(c, "Init", json_true());
    if (s->tty)
        json_object_set_new(c, "TTY", json_true());
    if (s->open_stdin)
        json_object_set_new(c, "OpenStdin", json_true());
    if (s->read_only)
        json_object_set_new(c, "ReadOnly", json_true());
    if (s->n_mounts) {
        json_t *arr = json_array();
        for (size_t i = 0; i < s->n_mounts; i++) {
            const struct engine_service_mount *m = &s->mounts[i];
            json_t *o = json_object();
            json_object_set_new(o, "Type", json_string(m->type));
            set_str(o, "Source", m->source);
            json_object_set_new(o, "Target", json_string(m->target));
            if (m->read_only)
                json_object_set_new(o, "ReadOnly", json_true());
            json_array_append_new(arr, o);
        }
        json_object_set_new(c, "Mounts", arr);
    }
    if (s->n_configs)
        json_object_set_new(c, "Configs", files_json(s->configs, s->n_configs, false));
    if (s->n_secrets)
        json_object_set_new(c, "Secrets", files_json(s->secrets, s->n_secrets, true));
    if (s->health_test) {
        json_t *h = json_object();
        json_object_set_new(h, "Test", str_array(s->health_test));
        set_int(h, "Interval", s->health_interval_ns, -1);
        set_int(h, "Timeout", s->health_timeout_ns, -1);
        set_int(h, "StartPeriod", s->health_start_period_ns, -1);
        set_int(h, "StartInterval", s->health_start_interval_ns, -1);
        set_int(h, "Retries", s->health_retries, -1);
        json_object_set_new(c, "HealthCheck", h);
    }
    return c;
}

static json_t *task_json(const struct engine_service_spec *s)
{
    json_t *t = json_object();
    json_object_set_new(t, "ContainerSpec", container_json(s));
    if (s->limit_nano_cpus || s->limit_memory || s->limit_pids || s->reserve_nano_cpus ||
        s->reserve_memory) {
        json_t *r = json_object();
        json_t *lim = json_object();
        set_int(lim, "NanoCPUs", s->limit_nano_cpus, 0);
        set_int(lim, "MemoryBytes", s->limit_memory, 0);
        set_int(lim, "Pids", s->limit_pids, 0);
        json_t *res = json_object();
        set_int(res, "NanoCPUs", s->reserve_nano_cpus, 0);
        set_int(res, "MemoryBytes", s->reserve_memory, 0);
        json_object_set_new(r, "Limits", lim);
        json_object_set_new(r, "Reservations", res);
        json_object_set_new(t, "Resources", r);
    }
    if (s->restart_condition || s->restart_delay_ns >= 0 || s->restart_max_attempts >= 0 ||
        s->restart_window_ns >= 0) {
        json_t *rp = json_object();
        set_str(rp, "Condition", s->restart_condition);
        set_int(rp, "Delay", s->restart_delay_ns, -1);
        set_int(rp, "MaxAttempts", s->restart_max_attempts, -1);
        set_int(rp, "Window", s->restart_window_ns, -1);
        json_object_set_new(t, "RestartPolicy", rp);
    }
    if ((s->constraints && s->constraints[0]) || (s->spread && s->spread[0]) ||
        s->max_replicas_per_node) {
        json_t *p = json_object();
        if (s->constraints && s->constraints[0])
            json_object_set_new(p, "Constraints", str_array(s->constraints));
        if (s->spread && s->spread[0]) {
            json_t *prefs = json_array();
            for (size_t i = 0; s->spread[i]; i++)
                json_array_append_new(
                    prefs, json_pack("{s:{s:s}}", "Spread", "SpreadDescriptor", s->spread[i]));
            json_object_set_new(p, "Preferences", prefs);
        }
        set_int(p, "MaxReplicas", s->max_replicas_per_node, 0);
        json_object_set_new(t, "Placement", p);
    }
    if (s->n_networks) {
        json_t *arr = json_array();
        for (size_t i = 0; i < s->n_networks; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "Target", json_string(s->networks[i].target));
            if (s->networks[i].aliases && s->networks[i].aliases[0])
                json_object_set_new(o, "Aliases", str_array(s->networks[i].aliases));
            json_array_append_new(arr, o);
        }
        json_object_set_new(t, "Networks", arr);
    }
    if (s->force_update)
        json_object_set_new(t, "ForceUpdate", json_integer((json_int_t)s->force_update));
    return t;
}

char *engine_service_spec_json(const struct engine_service_spec *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "Name", json_string(s->name ? s->name : ""));
    if (s->n_labels)
        json_object_set_new(o, "Labels", engine__labels_json(s->labels, s->n_labels));
    json_object_set_new(o, "TaskTemplate", task_json(s));
    json_t *mode = json_object();
    if (s->global) {
        json_object_set_new(mode, "Global", json_object());
    } else {
        json_t *r = json_object();
        set_int(r, "Replicas", s->replicas, -1);
        json_object_set_new(mode, "Replicated", r);
    }
    json_object_set_new(o, "Mode", mode);
    if (s->update.set)
        json_object_set_new(o, "UpdateConfig", update_json(&s->update));
    if (s->rollback.set)
        json_object_set_new(o, "RollbackConfig", update_json(&s->rollback));
    if (s->endpoint_mode || s->n_ports) {
        json_t *ep = json_object();
        set_str(ep, "Mode", s->endpoint_mode);
        if (s->n_ports) {
            json_t *arr = json_array();
            for (size_t i = 0; i < s->n_ports; i++) {
                const struct engine_service_port *p = &s->ports[i];
                json_t *po = json_object();
                json_object_set_new(po, "Protocol", json_string(p->protocol ? p->protocol : "tcp"));
                json_object_set_new(po, "TargetPort", json_integer(p->target));
                if (p->published)
                    json_object_set_new(po, "PublishedPort", json_integer(p->published));
                json_object_set_new(po, "PublishMode",
                                    json_string(p->publish_mode ? p->publish_mode : "ingress"));
                json_array_append_new(arr, po);
            }
            json_object_set_new(ep, "Ports", arr);
        }
        json_object_set_new(o, "EndpointSpec", ep);
    }
    char *text = dump(o);
    json_decref(o);
    return text;
}

/* ---- services ---- */

int engine_service_create(struct engine *e, const struct engine_service_spec *spec, char **ret_id,
                          struct zp_err *err)
{
    char *text = engine_service_spec_json(spec);
    char *what = zp_asprintf("creating service '%s'", spec->name ? spec->name : "");
    struct engine__req req = {
        .method = "POST", .path = "/services/create", .body = text, .what = what};
    json_t *j = NULL;
    long status = 0;
    int rc = engine__request(e, &req, &status, &j, err);
    if (rc == 0) {
        const char *id = engine__str(j, "ID");
        if (!id)
            rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: no ID in the answer", what);
        else if (ret_id)
            *ret_id = zp_strdup(id);
    }
    json_decref(j);
    free(text);
    free(what);
    return rc;
}

static int service_update_text(struct engine *e, const char *id, uint64_t version, const char *text,
                               bool rollback, struct zp_err *err)
{
    char *path = path_of("/services/", id, "/update");
    char *query = zp_asprintf("version=%llu%s", (unsigned long long)version,
                              rollback ? "&rollback=previous" : "");
    char *what = zp_asprintf("%s service '%s'", rollback ? "rolling back" : "updating", id);
    struct engine__req req = {
        .method = "POST", .path = path, .query = query, .body = text, .what = what};
    long status = 0;
    int rc = engine__request(e, &req, &status, NULL, err);
    free(path);
    free(query);
    free(what);
    return rc;
}

int engine_service_update(struct engine *e, const char *id, uint64_t version,
                          const struct engine_service_spec *spec, struct zp_err *err)
{
    char *text = engine_service_spec_json(spec);
    int rc = service_update_text(e, id, version, text, false, err);
    free(text);
    return rc;
}

int engine_service_rollback(struct engine *e, const char *id, uint64_t version,
                            const char *spec_json, struct zp_err *err)
{
    return service_update_text(e, id, version, spec_json, true, err);
}

int engine_service_remove(struct engine *e, const char *id, struct zp_err *err)
{
    char *path = path_of("/services/", id, "");
    char *what = zp_asprintf("removing service '%s'", id);
    int rc = call(e, "DELETE", path, NULL, NULL, what, NULL, err);
    free(path);
    free(what);
    return rc;
}

int engine__map_service(const json_t *o, struct engine_service *ret)
{
    struct engine_service s;
    memset(&s, 0, sizeof(s));
    json_t *spec = json_object_get(o, "Spec");
    s.id = engine__strdup(o, "ID");
    s.name = engine__strdup(spec, "Name");
    s.version = (uint64_t)int_of(json_object_get(o, "Version"), "Index", 0);
    engine__map_labels(json_object_get(spec, "Labels"), &s.labels);
    static const char *const img[] = {"TaskTemplate", "ContainerSpec", NULL};
    s.image = engine__strdup(path_get(spec, img), "Image");
    json_t *mode = json_object_get(spec, "Mode");
    s.global = json_object_get(mode, "Global") != NULL;
    s.replicas = int_of(json_object_get(mode, "Replicated"), "Replicas", s.global ? 0 : 1);
    json_t *st = json_object_get(o, "ServiceStatus");
    s.running_tasks = int_of(st, "RunningTasks", -1);
    s.desired_tasks = int_of(st, "DesiredTasks", -1);
    json_t *us = json_object_get(o, "UpdateStatus");
    s.update_state = engine__strdup(us, "State");
    s.update_message = engine__strdup(us, "Message");
    s.tty = json_is_true(json_object_get(path_get(spec, img), "TTY"));
    s.spec_json = spec ? dump(spec) : zp_strdup("{}");
    s.has_previous_spec = json_object_get(o, "PreviousSpec") != NULL;
    size_t nrefs = 0;
    s.object_refs = zp_calloc(1, sizeof(*s.object_refs));
    static const char *const cs[] = {"TaskTemplate", "ContainerSpec", NULL};
    const char *const specs[] = {"Spec", "PreviousSpec"};
    for (size_t k = 0; k < 2; k++) {
        json_t *c = path_get(json_object_get(o, specs[k]), cs);
        const char *const lists[][2] = {{"Configs", "ConfigName"}, {"Secrets", "SecretName"}};
        for (size_t l = 0; l < 2; l++) {
            json_t *arr = json_object_get(c, lists[l][0]);
            size_t i;
            json_t *ref;
            json_array_foreach(arr, i, ref)
            {
                const char *name = engine__str(ref, lists[l][1]);
                if (!name)
                    continue;
                s.object_refs = zp_realloc(s.object_refs, (nrefs + 2) * sizeof(*s.object_refs));
                s.object_refs[nrefs++] = zp_strdup(name);
                s.object_refs[nrefs] = NULL;
            }
        }
    }
    *ret = s;
    return 0;
}

int engine_service_inspect(struct engine *e, const char *name_or_id, struct engine_service *ret,
                           struct zp_err *err)
{
    char *path = path_of("/services/", name_or_id, "");
    char *what = zp_asprintf("inspecting service '%s'", name_or_id);
    json_t *j = NULL;
    int rc = call(e, "GET", path, NULL, NULL, what, &j, err);
    if (rc == 0 && !json_is_object(j))
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: the answer is not an object", what);
    if (rc == 0)
        rc = engine__map_service(j, ret);
    json_decref(j);
    free(path);
    free(what);
    return rc;
}

void engine_service_release(struct engine_service *s)
{
    if (!s)
        return;
    free(s->id);
    free(s->name);
    engine_labels_release(&s->labels);
    free(s->image);
    free(s->update_state);
    free(s->update_message);
    free(s->spec_json);
    for (size_t i = 0; s->object_refs && s->object_refs[i]; i++)
        free(s->object_refs[i]);
    free(s->object_refs);
    memset(s, 0, sizeof(*s));
}

static int service_cmp(const void *a, const void *b)
{
    const struct engine_service *x = a, *y = b;
    return strcmp(x->name, y->name);
}

int engine__map_service_list(const json_t *arr, struct engine_service_list *ret_list,
                             struct zp_err *err)
{
    if (!json_is_array(arr))
        return zp_err_set(err, ZP_E_ENGINE, NULL, "listing services: the answer is not a list");
    struct engine_service_list l = {
        zp_calloc(json_array_size(arr) + 1, sizeof(struct engine_service)), 0};
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        engine__map_service(o, &l.items[l.n++]);
    }
    qsort(l.items, l.n, sizeof(*l.items), service_cmp);
    *ret_list = l;
    return 0;
}

int engine_service_list(struct engine *e, const char *const *label_filters,
                        struct engine_service_list *ret_list, struct zp_err *err)
{
    struct zp_buf q = ZP_BUF_INIT;
    engine__query_label_filters(&q, label_filters);
    engine__query_add(&q, "status", "true");
    json_t *j = NULL;
    int rc = call(e, "GET", "/services", zp_buf_cstr(&q), NULL, "listing services", &j, err);
    if (rc == 0)
        rc = engine__map_service_list(j, ret_list, err);
    json_decref(j);
    zp_buf_release(&q);
    return rc;
}

void engine_service_list_release(struct engine_service_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        engine_service_release(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* ---- tasks ---- */

static int task_cmp(const void *a, const void *b)
{
    const struct engine_task *x = a, *y = b;
    int c = strcmp(x->service_id, y->service_id);
    if (c)
        return c;
    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    if (x->timestamp != y->timestamp)
        return x->timestamp > y->timestamp ? -1 : 1;
    return strcmp(x->id, y->id);
}

int engine__map_task_list(const json_t *arr, struct engine_task_list *ret_list, struct zp_err *err)
{
    if (!json_is_array(arr))
        return zp_err_set(err, ZP_E_ENGINE, NULL, "listing tasks: the answer is not a list");
    struct engine_task_list l = {zp_calloc(json_array_size(arr) + 1, sizeof(struct engine_task)),
                                 0};
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        struct engine_task *t = &l.items[l.n++];
        json_t *st = json_object_get(o, "Status");
        json_t *cs = json_object_get(st, "ContainerStatus");
        t->id = engine__strdup(o, "ID");
        t->service_id = engine__strdup(o, "ServiceID");
        t->node_id = engine__strdup(o, "NodeID");
        t->slot = int_of(o, "Slot", 0);
        t->state = engine__strdup(st, "State");
        t->desired_state = engine__strdup(o, "DesiredState");
        t->message = engine__strdup(st, "Message");
        t->error = engine__strdup(st, "Err");
        t->container_id = engine__strdup(cs, "ContainerID");
        t->exit_code = int_of(cs, "ExitCode", 0);
        int64_t ts = 0;
        const char *tss = engine__str(st, "Timestamp");
        if (tss && engine__parse_time(tss, &ts) == 0)
            t->timestamp = ts;
        t->version = int_of(json_object_get(o, "Version"), "Index", 0);
        static const char *const cl[] = {"Spec", "ContainerSpec", "Labels", NULL};
        engine__map_labels(path_get(o, cl), &t->labels);
        json_t *nets = json_object_get(o, "NetworksAttachments");
        size_t k;
        json_t *na;
        t->addrs = zp_calloc(json_array_size(nets) + 1, sizeof(*t->addrs));
        json_array_foreach(nets, k, na)
        {
            static const char *const nn[] = {"Network", "Spec", NULL};
            const char *name = engine__str(path_get(na, nn), "Name");
            json_t *a0 = json_array_get(json_object_get(na, "Addresses"), 0);
            const char *cidr = json_string_value(a0);
            if (!name || !cidr || !*cidr)
                continue;
            const char *slash = strchr(cidr, '/');
            t->addrs[t->n_addrs].network = zp_strdup(name);
            t->addrs[t->n_addrs].ip =
                zp_strndup(cidr, slash ? (size_t)(slash - cidr) : strlen(cidr));
            t->n_addrs++;
        }
    }
    qsort(l.items, l.n, sizeof(*l.items), task_cmp);
    *ret_list = l;
    return 0;
}

int engine_task_list(struct engine *e, const char *const *label_filters, const char *service,
                     bool desired_running, struct engine_task_list *ret_list, struct zp_err *err)
{
    const char *const svc[] = {service, NULL};
    const char *const running[] = {"running", NULL};
    const struct engine__filter f[] = {{"label", label_filters},
                                       {"service", service ? svc : NULL},
                                       {"desired-state", desired_running ? running : NULL}};
    struct zp_buf q = ZP_BUF_INIT;
    engine__query_filters(&q, f, sizeof(f) / sizeof(f[0]));
    json_t *j = NULL;
    int rc = call(e, "GET", "/tasks", zp_buf_cstr(&q), NULL, "listing tasks", &j, err);
    if (rc == 0)
        rc = engine__map_task_list(j, ret_list, err);
    json_decref(j);
    zp_buf_release(&q);
    return rc;
}

void engine_task_list_release(struct engine_task_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        struct engine_task *t = &l->items[i];
        free(t->id);
        free(t->service_id);
        free(t->node_id);
        free(t->state);
        free(t->desired_state);
        free(t->message);
        free(t->error);
        free(t->container_id);
        engine_labels_release(&t->labels);
        for (size_t k = 0; k < t->n_addrs; k++) {
            free(t->addrs[k].network);
            free(t->addrs[k].ip);
        }
        free(t->addrs);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* ---- configs and secrets ---- */

static const char *kind_path(enum engine_swarm_kind k)
{
    return k == ENGINE_SECRET ? "/secrets" : "/configs";
}

static const char *kind_name(enum engine_swarm_kind k)
{
    return k == ENGINE_SECRET ? "secret" : "config";
}

int engine_swarm_obj_create(struct engine *e, enum engine_swarm_kind kind, const char *name,
                            const struct engine_kv *labels, size_t n_labels, const void *data,
                            size_t len, char **ret_id, struct zp_err *err)
{
    json_t *body = json_object();
    json_object_set_new(body, "Name", json_string(name));
    if (n_labels)
        json_object_set_new(body, "Labels", engine__labels_json(labels, n_labels));
    char *b64 = engine_base64(data, len);
    json_object_set_new(body, "Data", json_string(b64));
    free(b64);
    char *path = zp_asprintf("%s/create", kind_path(kind));
    char *what = zp_asprintf("creating %s '%s'", kind_name(kind), name);
    json_t *j = NULL;
    int rc = call(e, "POST", path, NULL, body, what, &j, err);
    if (rc == 0) {
        const char *id = engine__str(j, "ID");
        if (!id)
            rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: no ID in the answer", what);
        else if (ret_id)
            *ret_id = zp_strdup(id);
    }
    json_decref(j);
    json_decref(body);
    free(path);
    free(what);
    return rc;
}

static int obj_cmp(const void *a, const void *b)
{
    const struct engine_swarm_obj *x = a, *y = b;
    return strcmp(x->name, y->name);
}

int engine__map_swarm_obj_list(const json_t *arr, struct engine_swarm_obj_list *ret_list,
                               struct zp_err *err)
{
    if (!json_is_array(arr))
        return zp_err_set(err, ZP_E_ENGINE, NULL,
                          "listing swarm objects: the answer is not a list");
    struct engine_swarm_obj_list l = {
        zp_calloc(json_array_size(arr) + 1, sizeof(struct engine_swarm_obj)), 0};
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        struct engine_swarm_obj *s = &l.items[l.n++];
        json_t *spec = json_object_get(o, "Spec");
        s->id = engine__strdup(o, "ID");
        s->name = engine__strdup(spec, "Name");
        engine__map_labels(json_object_get(spec, "Labels"), &s->labels);
    }
    qsort(l.items, l.n, sizeof(*l.items), obj_cmp);
    *ret_list = l;
    return 0;
}

int engine_swarm_obj_list(struct engine *e, enum engine_swarm_kind kind,
                          const char *const *label_filters, struct engine_swarm_obj_list *ret_list,
                          struct zp_err *err)
{
    struct zp_buf q = ZP_BUF_INIT;
    engine__query_label_filters(&q, label_filters);
    char *what = zp_asprintf("listing %ss", kind_name(kind));
    json_t *j = NULL;
    int rc = call(e, "GET", kind_path(kind), zp_buf_cstr(&q), NULL, what, &j, err);
    if (rc == 0)
        rc = engine__map_swarm_obj_list(j, ret_list, err);
    json_decref(j);
    zp_buf_release(&q);
    free(what);
    return rc;
}

void engine_swarm_obj_list_release(struct engine_swarm_obj_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].id);
        free(l->items[i].name);
        engine_labels_release(&l->items[i].labels);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

int engine_swarm_obj_remove(struct engine *e, enum engine_swarm_kind kind, const char *id,
                            struct zp_err *err)
{
    char *prefix = zp_asprintf("%s/", kind_path(kind));
    char *path = path_of(prefix, id, "");
    char *what = zp_asprintf("removing %s '%s'", kind_name(kind), id);
    int rc = call(e, "DELETE", path, NULL, NULL, what, NULL, err);
    free(prefix);
    free(path);
    free(what);
    return rc;
}

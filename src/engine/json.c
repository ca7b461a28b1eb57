/* engine/json: Engine API JSON mapped to zpanel's structs (pure; tested on recorded
 * answers of a real engine). */
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"

#include "../util/banned.h"

const char *engine__str(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

char *engine__strdup(const json_t *obj, const char *key)
{
    const char *s = engine__str(obj, key);
    return zp_strdup(s ? s : "");
}

static char *strdup_or_null(const json_t *obj, const char *key)
{
    const char *s = engine__str(obj, key);
    return s ? zp_strdup(s) : NULL;
}

static int64_t int_member(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)json_real_value(v);
    return 0;
}

/* ---- version ---- */

int engine__negotiate(const json_t *version, int *ret_minor, char **ret_server, struct zp_err *err)
{
    const char *api = engine__str(version, "ApiVersion");
    const char *min_api = engine__str(version, "MinAPIVersion");
    const char *server = engine__str(version, "Version");
    int engine_minor, engine_min_minor = 0;
    if (!api || engine__parse_api_version(api, &engine_minor) != 0)
        return zp_err_set(err, ZP_E_ENGINE, NULL,
                          "the engine did not report a usable API version ('%s')", api ? api : "");
    if (engine_minor < ENGINE_API_MIN_MINOR)
        return zp_err_set(err, ZP_E_ENGINE, NULL,
                          "Docker engine %s speaks API %s, but zpanel needs API 1.%d or newer "
                          "(Docker 20.10 or later): upgrade the engine",
                          server ? server : "(unknown version)", api, ENGINE_API_MIN_MINOR);
    if (min_api && engine__parse_api_version(min_api, &engine_min_minor) == 0 &&
        engine_min_minor > ENGINE_API_MAX_MINOR)
        return zp_err_set(err, ZP_E_ENGINE, NULL,
                          "Docker engine %s needs API %s or newer, but zpanel speaks at most "
                          "API 1.%d: upgrade zpanel",
                          server ? server : "(unknown version)", min_api, ENGINE_API_MAX_MINOR);
    *ret_minor = engine_minor < ENGINE_API_MAX_MINOR ? engine_minor : ENGINE_API_MAX_MINOR;
    *ret_server = zp_strdup(server ? server : "");
    return 0;
}

/* ---- info ---- */

int engine__map_info(const json_t *info, struct engine_info *ret_info, struct zp_err *err)
{
    if (!json_is_object(info))
        return zp_err_set(err, ZP_E_ENGINE, NULL, "engine info is not a JSON object");
    struct engine_info in = {0};
    in.server_version = engine__strdup(info, "ServerVersion");
    in.name = engine__strdup(info, "Name");
    in.os_type = engine__strdup(info, "OSType");
    in.operating_system = engine__strdup(info, "OperatingSystem");
    in.architecture = engine__strdup(info, "Architecture");
    in.kernel_version = engine__strdup(info, "KernelVersion");
    in.cgroup_version = engine__strdup(info, "CgroupVersion");
    in.swarm_state = engine__strdup(json_object_get(info, "Swarm"), "LocalNodeState");
    in.ncpu = int_member(info, "NCPU");
    in.mem_total = int_member(info, "MemTotal");
    *ret_info = in;
    return 0;
}

void engine_info_release(struct engine_info *info)
{
    if (!info)
        return;
    free(info->server_version);
    free(info->name);
    free(info->os_type);
    free(info->operating_system);
    free(info->architecture);
    free(info->kernel_version);
    free(info->cgroup_version);
    free(info->swarm_state);
    memset(info, 0, sizeof(*info));
}

/* ---- labels ---- */

static int label_cmp(const void *a, const void *b)
{
    const struct engine_label *x = a, *y = b;
    return strcmp(x->key, y->key);
}

void engine__map_labels(const json_t *obj, struct engine_labels *ret_labels)
{
    struct engine_labels l = {NULL, 0};
    if (json_is_object(obj) && json_object_size(obj) > 0) {
        l.items = zp_calloc(json_object_size(obj), sizeof(*l.items));
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)obj, key, v)
        {
            if (!json_is_string(v))
                continue;
            l.items[l.n].key = zp_strdup(key);
            l.items[l.n].value = zp_strdup(json_string_value(v));
            l.n++;
        }
        qsort(l.items, l.n, sizeof(*l.items), label_cmp);
    }
    *ret_labels = l;
}

json_t *engine__labels_json(const struct engine_kv *labels, size_t n)
{
    json_t *obj = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(obj, labels[i].key, json_string(labels[i].value));
    return obj;
}

const char *engine_labels_get(const struct engine_labels *l, const char *key)
{
    struct engine_label k = {(char *)key, NULL};
    if (!l || l->n == 0)
        return NULL;
    const struct engine_label *hit = bsearch(&k, l->items, l->n, sizeof(*l->items), label_cmp);
    return hit ? hit->value : NULL;
}

void engine_labels_release(struct engine_labels *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* ---- containers ---- */

static void summary_release(struct engine_container_summary *s)
{
    free(s->id);
    for (size_t i = 0; i < s->n_names; i++)
        free(s->names[i]);
    free(s->names);
    free(s->image);
    free(s->image_id);
    free(s->state);
    free(s->status);
    engine_labels_release(&s->labels);
}

static int summary_cmp(const void *a, const void *b)
{
    const struct engine_container_summary *x = a, *y = b;
    const char *nx = x->n_names ? x->names[0] : "", *ny = y->n_names ? y->names[0] : "";
    int c = strcmp(nx, ny);
    return c ? c : strcmp(x->id, y->id);
}

int engine__map_container_list(const json_t *arr, struct engine_container_list *ret_list,
                               struct zp_err *err)
{
    if (!json_is_array(arr))
        return zp_err_set(err, ZP_E_ENGINE, NULL, "container list is not a JSON array");
    struct engine_container_list l = {NULL, 0};
    size_t n = json_array_size(arr);
    l.items = n ? zp_calloc(n, sizeof(*l.items)) : NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_array_get(arr, i);
        const char *id = engine__str(c, "Id");
        if (!id || !*id) {
            engine_container_list_release(&l);
            return zp_err_set(err, ZP_E_ENGINE, NULL, "container list: entry %zu has no Id", i);
        }
        struct engine_container_summary *s = &l.items[l.n++];
        s->id = zp_strdup(id);
        json_t *names = json_object_get(c, "Names");
        size_t nn = json_is_array(names) ? json_array_size(names) : 0;
        s->names = nn ? zp_calloc(nn, sizeof(*s->names)) : NULL;
        for (size_t k = 0; k < nn; k++) {
            const char *name = json_string_value(json_array_get(names, k));
            if (!name)
                continue;
            s->names[s->n_names++] = zp_strdup(name[0] == '/' ? name + 1 : name);
        }
        s->image = engine__strdup(c, "Image");
        s->image_id = engine__strdup(c, "ImageID");
        s->state = engine__strdup(c, "State");
        s->status = engine__strdup(c, "Status");
        s->created = int_member(c, "Created");
        engine__map_labels(json_object_get(c, "Labels"), &s->labels);
    }
    if (l.n > 1)
        qsort(l.items, l.n, sizeof(*l.items), summary_cmp);
    *ret_list = l;
    return 0;
}

void engine_container_list_release(struct engine_container_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        summary_release(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int engine__map_container(const json_t *obj, const char *raw, struct engine_container *ret_c,
                          struct zp_err *err)
{
    const char *id = engine__str(obj, "Id");
    if (!id || !*id)
        return zp_err_set(err, ZP_E_ENGINE, NULL, "container inspect: no Id in the answer");
    struct engine_container c = {0};
    const json_t *state = json_object_get(obj, "State");
    const char *name = engine__str(obj, "Name");
    c.json = zp_strdup(raw ? raw : "");
    c.id = zp_strdup(id);
    c.name = zp_strdup(name ? (name[0] == '/' ? name + 1 : name) : "");
    c.image_id = engine__strdup(obj, "Image");
    c.status = engine__strdup(state, "Status");
    c.health = strdup_or_null(json_object_get(state, "Health"), "Status");
    c.running = json_is_true(json_object_get(state, "Running"));
    c.exit_code = int_member(state, "ExitCode");
    engine__map_labels(json_object_get(json_object_get(obj, "Config"), "Labels"), &c.labels);
    *ret_c = c;
    return 0;
}

void engine_container_release(struct engine_container *c)
{
    if (!c)
        return;
    free(c->json);
    free(c->id);
    free(c->name);
    free(c->image_id);
    free(c->status);
    free(c->health);
    engine_labels_release(&c->labels);
    memset(c, 0, sizeof(*c));
}

/* ---- networks ---- */

static int network_cmp(const void *a, const void *b)
{
    const struct engine_network *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->id, y->id);
}

int engine__map_network_list(const json_t *arr, struct engine_network_list *ret_list,
                             struct zp_err *err)
{
    if (!json_is_array(arr))
        return zp_err_set(err, ZP_E_ENGINE, NULL, "network list is not a JSON array");
    struct engine_network_list l = {NULL, 0};
    size_t n = json_array_size(arr);
    l.items = n ? zp_calloc(n, sizeof(*l.items)) : NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(arr, i);
        const char *id = engine__str(o, "Id");
        if (!id || !*id) {
            engine_network_list_release(&l);
            return zp_err_set(err, ZP_E_ENGINE, NULL, "network list: entry %zu has no Id", i);
        }
        struct engine_network *nw = &l.items[l.n++];
        nw->id = zp_strdup(id);
        nw->name = engine__strdup(o, "Name");
        nw->driver = engine__strdup(o, "Driver");
        nw->scope = engine__strdup(o, "Scope");
        engine__map_labels(json_object_get(o, "Labels"), &nw->labels);
    }
    if (l.n > 1)
        qsort(l.items, l.n, sizeof(*l.items), network_cmp);
    *ret_list = l;
    return 0;
}

void engine_network_list_release(struct engine_network_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].id);
        free(l->items[i].name);
        free(l->items[i].driver);
        free(l->items[i].scope);
        engine_labels_release(&l->items[i].labels);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* ---- volumes ---- */

static int volume_cmp(const void *a, const void *b)
{
    const struct engine_volume *x = a, *y = b;
    return strcmp(x->name, y->name);
}

int engine__map_volume_list(const json_t *obj, struct engine_volume_list *ret_list,
                            struct zp_err *err)
{
    const json_t *arr = json_object_get(obj, "Volumes");
    if (!json_is_object(obj) || (arr && !json_is_array(arr) && !json_is_null(arr)))
        return zp_err_set(err, ZP_E_ENGINE, NULL, "volume list is not in the expected form");
    struct engine_volume_list l = {NULL, 0};
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    l.items = n ? zp_calloc(n, sizeof(*l.items)) : NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(arr, i);
        const char *name = engine__str(o, "Name");
        if (!name || !*name) {
            engine_volume_list_release(&l);
            return zp_err_set(err, ZP_E_ENGINE, NULL, "volume list: entry %zu has no Name", i);
        }
        struct engine_volume *v = &l.items[l.n++];
        v->name = zp_strdup(name);
        v->driver = engine__strdup(o, "Driver");
        v->mountpoint = engine__strdup(o, "Mountpoint");
        engine__map_labels(json_object_get(o, "Labels"), &v->labels);
    }
    if (l.n > 1)
        qsort(l.items, l.n, sizeof(*l.items), volume_cmp);
    *ret_list = l;
    return 0;
}

void engine_volume_list_release(struct engine_volume_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].name);
        free(l->items[i].driver);
        free(l->items[i].mountpoint);
        engine_labels_release(&l->items[i].labels);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

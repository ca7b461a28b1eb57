/* orchestrator/objects: the networks and volumes a project's services use, created when
 * missing (labelled as the project's); external ones must exist. Used by up and run. */
#include <stdlib.h>
#include <string.h>

#include "orchestrator-int.h"

#include "../util/banned.h"

static bool service_uses_network(const struct zp_node *svc, const char *key)
{
    const struct zp_node *nets = zp_node_get(svc, "networks");
    return zp_node_is_map(nets) && zp_node_get_key(nets, key) != NULL;
}

static bool service_uses_volume(const struct zp_node *svc, const char *key)
{
    const struct zp_node *vols = zp_node_get(svc, "volumes");
    if (!zp_node_is_seq(vols))
        return false;
    for (size_t i = 0; i < vols->n; i++) {
        const char *type = zp_node_get_str(vols->items[i], "type");
        const char *src = zp_node_get_str(vols->items[i], "source");
        if (type && src && strcmp(type, "volume") == 0 && strcmp(src, key) == 0)
            return true;
    }
    return false;
}

static bool node_true(const struct zp_node *map, const char *key)
{
    const struct zp_node *v = zp_node_get(map, key);
    return v != NULL && zp_node_is_scalar(v) && v->type == ZP_BOOL && strcmp(v->str, "true") == 0;
}

bool orch__object_external(const struct zp_node *def)
{
    return node_true(def, "external");
}

char *orch__object_name(const char *project, const char *key, const struct zp_node *def)
{
    const char *name = zp_node_get_str(def, "name");
    return name ? zp_strdup(name) : zp_asprintf("%s_%s", project, key);
}

/* A str→str map as key/value pairs (borrowed), plus room for `extra` more. */
static struct engine_kv *kv_from_map(const struct zp_node *map, size_t extra, size_t *ret_n)
{
    size_t n = zp_node_is_map(map) ? map->n : 0;
    struct engine_kv *kv = zp_calloc(n + extra + 1, sizeof(*kv));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct zp_node *v = map->pairs[i].value;
        kv[k].key = map->pairs[i].key->str;
        kv[k].value = zp_node_is_scalar(v) && !zp_node_is_null(v) ? v->str : "";
        k++;
    }
    *ret_n = k;
    return kv;
}

/* What a declared network or volume needs: its engine name (*ret_name, to free) and
 * whether it must be created (*ret_create). An external one that is missing is an error
 * that says how to create it. */
static int object_plan(struct orch *o, enum orch_obj kind, const char *key,
                       const struct zp_node *def, char **ret_name, bool *ret_create,
                       struct zp_err *err)
{
    bool net = kind == ORCH_OBJ_NETWORK;
    const char *given = zp_node_get_str(def, "name");
    char *name = given ? zp_strdup(given) : zp_asprintf("%s_%s", o->p->name, key);
    bool exists = false;
    int rc = net ? engine_network_exists(o->e, name, &exists, err)
                 : engine_volume_exists(o->e, name, &exists, err);
    if (rc == 0 && !exists && node_true(def, "external"))
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL,
                        "%s '%s' declared as external could not be found; create it with "
                        "`docker %s create %s`",
                        net ? "network" : "volume", name, net ? "network" : "volume", name);
    *ret_create = rc == 0 && !exists && !node_true(def, "external");
    *ret_name = name;
    return rc;
}

/* The labels of a created network or volume: its own, then the project's (to free). */
static struct engine_kv *object_labels(struct orch *o, const struct zp_node *def,
                                       const char *kind_label, const char *key, size_t *ret_n)
{
    struct engine_kv *labels = kv_from_map(zp_node_get(def, "labels"), 3, ret_n);
    labels[(*ret_n)++] = (struct engine_kv){ORCH_LABEL_PROJECT, o->p->name};
    labels[(*ret_n)++] = (struct engine_kv){kind_label, key};
    labels[(*ret_n)++] = (struct engine_kv){ORCH_LABEL_VERSION, ZP_VERSION};
    return labels;
}

static void object_created(struct orch *o, enum orch_obj kind, const char *name, int rc,
                           const struct zp_err *err)
{
    if (rc < 0)
        orch__emit(o, kind, name, NULL, ORCH_FAILED, "%s", err->msg);
    else
        orch__emit(o, kind, name, NULL, ORCH_DONE, "Created");
}

static int ensure_network(struct orch *o, const char *key, const struct zp_node *def,
                          struct zp_err *err)
{
    char *name = NULL;
    bool create = false;
    int rc = object_plan(o, ORCH_OBJ_NETWORK, key, def, &name, &create, err);
    if (rc < 0 || !create) {
        free(name);
        return rc;
    }
    struct engine_network_opts no = {0};
    size_t nlabels = 0, nopts = 0, nipamopts = 0;
    struct engine_kv *labels = object_labels(o, def, ORCH_LABEL_NETWORK, key, &nlabels);
    struct engine_kv *dopts = kv_from_map(zp_node_get(def, "driver_opts"), 0, &nopts);
    const struct zp_node *ipam = zp_node_get(def, "ipam");
    struct engine_kv *ipamopts = kv_from_map(zp_node_get(ipam, "options"), 0, &nipamopts);
    const struct zp_node *cfg = zp_node_get(ipam, "config");
    size_t ncfg = zp_node_is_seq(cfg) ? cfg->n : 0;
    struct engine_ipam_config *ic = zp_calloc(ncfg + 1, sizeof(*ic));
    struct engine_kv **aux = zp_calloc(ncfg + 1, sizeof(*aux));
    for (size_t i = 0; i < ncfg; i++) {
        const struct zp_node *c = cfg->items[i];
        ic[i].subnet = zp_node_get_str(c, "subnet");
        ic[i].ip_range = zp_node_get_str(c, "ip_range");
        ic[i].gateway = zp_node_get_str(c, "gateway");
        aux[i] = kv_from_map(zp_node_get(c, "aux_addresses"), 0, &ic[i].n_aux_addresses);
        ic[i].aux_addresses = aux[i];
    }
    no.driver = zp_node_get_str(def, "driver");
    no.internal = node_true(def, "internal");
    no.attachable = node_true(def, "attachable");
    no.enable_ipv6 = node_true(def, "enable_ipv6");
    no.labels = labels;
    no.n_labels = nlabels;
    no.options = dopts;
    no.n_options = nopts;
    no.ipam_driver = zp_node_get_str(ipam, "driver");
    no.ipam_configs = ic;
    no.n_ipam_configs = ncfg;
    no.ipam_options = ipamopts;
    no.n_ipam_options = nipamopts;
    orch__emit(o, ORCH_OBJ_NETWORK, name, NULL, ORCH_WORKING, "Creating");
    rc = engine_network_create(o->e, name, &no, NULL, err);
    if (rc == ZP_E_CONFLICT) { /* created meanwhile by someone else */
        zp_err_init(err);
        rc = 0;
    }
    object_created(o, ORCH_OBJ_NETWORK, name, rc, err);
    for (size_t i = 0; i < ncfg; i++)
        free(aux[i]);
    free(aux);
    free(ic);
    free(labels);
    free(dopts);
    free(ipamopts);
    free(name);
    return rc;
}

static int ensure_volume(struct orch *o, const char *key, const struct zp_node *def,
                         struct zp_err *err)
{
    char *name = NULL;
    bool create = false;
    int rc = object_plan(o, ORCH_OBJ_VOLUME, key, def, &name, &create, err);
    if (rc < 0 || !create) {
        free(name);
        return rc;
    }
    size_t nlabels = 0, nopts = 0;
    struct engine_kv *labels = object_labels(o, def, ORCH_LABEL_VOLUME, key, &nlabels);
    struct engine_kv *dopts = kv_from_map(zp_node_get(def, "driver_opts"), 0, &nopts);
    struct engine_volume_opts vo = {
        .driver = zp_node_get_str(def, "driver"),
        .labels = labels,
        .n_labels = nlabels,
        .options = dopts,
        .n_options = nopts,
    };
    orch__emit(o, ORCH_OBJ_VOLUME, name, NULL, ORCH_WORKING, "Creating");
    rc = engine_volume_create(o->e, name, &vo, err);
    object_created(o, ORCH_OBJ_VOLUME, name, rc, err);
    free(labels);
    free(dopts);
    free(name);
    return rc;
}

/* The proxy's networks (as `zpanel proxy up` creates them), so that routed services
 * come up before the proxy does: the shared `zpanel` (Traefik's) and the project's own
 * `zpanel-<project>` (Caddy's router meets the project's routed containers there). */
static int ensure_proxy_network(struct orch *o, struct zp_err *err)
{
    char *pnet = proxy_project_network(o->p->name);
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        bool created = false;
        const char *name = i == 0 ? PROXY_NETWORK : pnet;
        rc = i == 0 ? proxy_ensure_network(o->e, &created, err)
                    : proxy_ensure_project_network(o->e, o->p->name, &created, err);
        if (rc < 0)
            orch__emit(o, ORCH_OBJ_NETWORK, name, NULL, ORCH_FAILED, "%s", err->msg);
        else if (created)
            orch__emit(o, ORCH_OBJ_NETWORK, name, NULL, ORCH_DONE, "Created");
    }
    free(pnet);
    return rc;
}

int orch__ensure_objects(struct orch *o, const struct orch_graph *g, bool routed,
                         struct zp_err *err)
{
    const struct zp_node *model = o->p->model;
    if (routed && ensure_proxy_network(o, err) < 0)
        return err->code;
    const struct zp_node *nets = zp_node_get(model, "networks");
    for (size_t i = 0; zp_node_is_map(nets) && i < nets->n; i++) {
        const char *key = nets->pairs[i].key->str;
        bool used = false;
        for (size_t k = 0; k < g->norder && !used; k++)
            used = service_uses_network(g->nodes[g->order[k]].svc, key);
        if (used && ensure_network(o, key, nets->pairs[i].value, err) < 0)
            return err->code;
    }
    const struct zp_node *vols = zp_node_get(model, "volumes");
    for (size_t i = 0; zp_node_is_map(vols) && i < vols->n; i++) {
        const char *key = vols->pairs[i].key->str;
        bool used = false;
        for (size_t k = 0; k < g->norder && !used; k++)
            used = service_uses_volume(g->nodes[g->order[k]].svc, key);
        if (used && ensure_volume(o, key, vols->pairs[i].value, err) < 0)
            return err->code;
    }
    return 0;
}

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

static int ensure_network(struct orch *o, const char *key, const struct zp_node *def,
                          struct zp_err *err)
{
    const char *name = zp_node_get_str(def, "name");
    char *dflt = NULL;
    if (name == NULL)
        name = dflt = zp_asprintf("%s_%s", o->p->name, key);
    bool exists = false;
    int rc = engine_network_exists(o->e, name, &exists, err);
    if (rc < 0)
        goto out;
    if (node_true(def, "external")) {
        if (!exists)
            rc = zp_err_set(err, ZP_E_NOTFOUND, NULL,
                            "network '%s' declared as external could not be found; create it "
                            "with `docker network create %s`",
                            name, name);
        goto out;
    }
    if (exists)
        goto out;

    struct engine_network_opts no = {0};
    size_t nlabels = 0, nopts = 0, nipamopts = 0;
    struct engine_kv *labels = kv_from_map(zp_node_get(def, "labels"), 3, &nlabels);
    labels[nlabels++] = (struct engine_kv){ORCH_LABEL_PROJECT, o->p->name};
    labels[nlabels++] = (struct engine_kv){ORCH_LABEL_NETWORK, key};
    labels[nlabels++] = (struct engine_kv){ORCH_LABEL_VERSION, ZP_VERSION};
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
    if (rc < 0)
        orch__emit(o, ORCH_OBJ_NETWORK, name, NULL, ORCH_FAILED, "%s", err->msg);
    else
        orch__emit(o, ORCH_OBJ_NETWORK, name, NULL, ORCH_DONE, "Created");
    for (size_t i = 0; i < ncfg; i++)
        free(aux[i]);
    free(aux);
    free(ic);
    free(labels);
    free(dopts);
    free(ipamopts);
out:
    free(dflt);
    return rc;
}

static int ensure_volume(struct orch *o, const char *key, const struct zp_node *def,
                         struct zp_err *err)
{
    const char *name = zp_node_get_str(def, "name");
    char *dflt = NULL;
    if (name == NULL)
        name = dflt = zp_asprintf("%s_%s", o->p->name, key);
    bool exists = false;
    int rc = engine_volume_exists(o->e, name, &exists, err);
    if (rc < 0)
        goto out;
    if (node_true(def, "external")) {
        if (!exists)
            rc = zp_err_set(err, ZP_E_NOTFOUND, NULL,
                            "volume '%s' declared as external could not be found; create it "
                            "with `docker volume create %s`",
                            name, name);
        goto out;
    }
    if (exists)
        goto out;
    size_t nlabels = 0, nopts = 0;
    struct engine_kv *labels = kv_from_map(zp_node_get(def, "labels"), 3, &nlabels);
    labels[nlabels++] = (struct engine_kv){ORCH_LABEL_PROJECT, o->p->name};
    labels[nlabels++] = (struct engine_kv){ORCH_LABEL_VOLUME, key};
    labels[nlabels++] = (struct engine_kv){ORCH_LABEL_VERSION, ZP_VERSION};
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
    if (rc < 0)
        orch__emit(o, ORCH_OBJ_VOLUME, name, NULL, ORCH_FAILED, "%s", err->msg);
    else
        orch__emit(o, ORCH_OBJ_VOLUME, name, NULL, ORCH_DONE, "Created");
    free(labels);
    free(dopts);
out:
    free(dflt);
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

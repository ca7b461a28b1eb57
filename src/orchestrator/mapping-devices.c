/* orchestrator/mapping-devices: deploy.resources.reservations.devices and gpus as the
 * engine's HostConfig.DeviceRequests (Driver, Count, DeviceIDs, Capabilities, Options). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping-devices.h"

#include "../util/banned.h"

/* "services.web.FIELD: message" at node n (the service when n has no position). */
ZP_PRINTF(5, 6)
static int fail(const char *path, const struct zp_node *n, const char *field, struct zp_err *err,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = zp_vasprintf(fmt, ap);
    va_end(ap);
    zp_err_set(err, ZP_E_INPUT, n != NULL && n->pos.line > 0 ? &n->pos : NULL, "%s.%s: %s", path,
               field, msg);
    free(msg);
    return ZP_E_INPUT;
}

/* A copy of a sequence of strings (scalars). */
static int str_list(const char *path, const struct zp_node *n, const char *field,
                    struct zp_node **ret, struct zp_err *err)
{
    if (n->kind != ZP_NODE_SEQ)
        return fail(path, n, field, err, "must be a list of strings");
    struct zp_node *seq = zp_node_new_seq(NULL);
    for (size_t i = 0; i < n->n; i++) {
        const struct zp_node *it = n->items[i];
        if (it->kind != ZP_NODE_SCALAR || it->type == ZP_NULL) {
            zp_node_free(seq);
            return fail(path, it, field, err, "must be a list of strings");
        }
        zp_node_push(seq, zp_node_new_str(it->str, NULL));
    }
    *ret = seq;
    return 0;
}

/* count: an integer >= -1 or "all" (-1). */
static int get_count(const char *path, const struct zp_node *n, const char *field, int64_t *ret,
                     struct zp_err *err)
{
    if (n->kind == ZP_NODE_SCALAR && (n->type == ZP_STR || n->type == ZP_INT)) {
        if (strcmp(n->str, "all") == 0) {
            *ret = -1;
            return 0;
        }
        if (zp_parse_int64(n->str, -1, INT64_MAX, ret) == 0)
            return 0;
    }
    return fail(path, n, field, err, "must be a number of devices or 'all'");
}

/* One request of the model (field: "gpus[0]") into a DeviceRequest; gpu adds the
 * capability "gpu". */
static int map_one(const char *path, const struct zp_node *d, const char *field, bool gpu,
                   struct zp_node **ret, struct zp_err *err)
{
    static const char *const known[] = {"capabilities", "count",   "device_ids",
                                        "driver",       "options", NULL};
    if (d->kind != ZP_NODE_MAP)
        return fail(path, d, field, err, "must be a mapping");
    for (size_t i = 0; i < d->n; i++) {
        const char *k = d->pairs[i].key->str;
        bool ok = zp_str_has_prefix(k, "x-");
        for (size_t j = 0; !ok && known[j]; j++)
            ok = strcmp(k, known[j]) == 0;
        if (!ok)
            return fail(path, d->pairs[i].key, field, err,
                        "'%s' is not supported by the container mapping", k);
    }
    struct zp_node *e = zp_node_new_map(NULL);
    struct zp_node *l = NULL;
    int rc = 0;
    const struct zp_node *driver = zp_node_get(d, "driver");
    if (driver != NULL) {
        if (driver->kind != ZP_NODE_SCALAR || driver->type == ZP_NULL)
            rc = fail(path, driver, field, err, "driver must be a string");
        else
            zp_node_set(e, "Driver", zp_node_new_str(driver->str, NULL));
    }
    const struct zp_node *count = zp_node_get(d, "count");
    const struct zp_node *ids = zp_node_get(d, "device_ids");
    int64_t c = -1; /* neither count nor device_ids: every device, as compose does */
    if (rc == 0 && count != NULL)
        rc = get_count(path, count, field, &c, err);
    if (rc == 0 && ids != NULL && (rc = str_list(path, ids, field, &l, err)) == 0)
        zp_node_set(e, "DeviceIDs", l);
    if (rc == 0 && (ids == NULL || count != NULL))
        zp_node_set(e, "Count", zp_node_new_int(c, NULL));
    const struct zp_node *caps = zp_node_get(d, "capabilities");
    if (rc == 0 && caps != NULL)
        rc = str_list(path, caps, field, &l, err);
    else if (rc == 0)
        l = zp_node_new_seq(NULL);
    if (rc == 0) {
        bool has_gpu = false;
        for (size_t i = 0; i < l->n; i++)
            has_gpu = has_gpu || strcmp(l->items[i]->str, "gpu") == 0;
        if (gpu && !has_gpu)
            zp_node_push(l, zp_node_new_str("gpu", NULL));
        if (l->n > 0) {
            struct zp_node *outer = zp_node_new_seq(NULL);
            zp_node_push(outer, l); /* one set: every capability is required */
            zp_node_set(e, "Capabilities", outer);
        } else {
            zp_node_free(l);
        }
    }
    const struct zp_node *opts = zp_node_get(d, "options");
    if (rc == 0 && opts != NULL) {
        if (opts->kind != ZP_NODE_MAP) {
            rc = fail(path, opts, field, err, "options must be a mapping of strings");
        } else {
            struct zp_node *m = zp_node_new_map(NULL);
            for (size_t i = 0; i < opts->n && rc == 0; i++) {
                const struct zp_node *v = opts->pairs[i].value;
                if (v->kind != ZP_NODE_SCALAR)
                    rc = fail(path, v, field, err, "options must be a mapping of strings");
                else
                    zp_node_set(m, opts->pairs[i].key->str,
                                zp_node_new_str(v->type == ZP_NULL ? "" : v->str, NULL));
            }
            if (rc == 0)
                zp_node_set(e, "Options", m);
            else
                zp_node_free(m);
        }
    }
    if (rc == 0)
        *ret = e;
    else
        zp_node_free(e);
    return rc;
}

/* Append the requests of list (the model's field name: "gpus") to out. */
static int map_list(const char *path, const struct zp_node *list, const char *name, bool gpu,
                    struct zp_node *out, struct zp_err *err)
{
    if (list == NULL)
        return 0;
    if (list->kind != ZP_NODE_SEQ)
        return fail(path, list, name, err, "must be a list");
    for (size_t i = 0; i < list->n; i++) {
        char *f = zp_asprintf("%s[%zu]", name, i);
        struct zp_node *e = NULL;
        int rc = map_one(path, list->items[i], f, gpu, &e, err);
        free(f);
        if (rc < 0)
            return rc;
        zp_node_push(out, e);
    }
    return 0;
}

int orch__map_device_requests(const struct zp_node *svc, const char *path, struct zp_node *hc,
                              struct zp_err *err)
{
    const struct zp_node *resv =
        zp_node_get(zp_node_get(zp_node_get(svc, "deploy"), "resources"), "reservations");
    struct zp_node *out = zp_node_new_seq(NULL);
    int rc = map_list(path, zp_node_get(resv, "devices"), "deploy.resources.reservations.devices",
                      false, out, err);
    if (rc == 0)
        rc = map_list(path, zp_node_get(svc, "gpus"), "gpus", true, out, err);
    if (rc == 0 && out->n > 0)
        zp_node_set(hc, "DeviceRequests", out);
    else
        zp_node_free(out);
    return rc;
}

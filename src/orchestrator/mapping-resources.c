/* orchestrator/mapping-resources: the plain resource fields and deploy.resources (which must
 * agree), device requests. Pure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping-int.h"

#include "../util/banned.h"

/* ---- resources: the plain fields and deploy.resources, which must agree ---- */

/* The value of a resource given either as a plain field (a) or under deploy (b). */
static int pick(struct mapper *m, const struct zp_node *a, const char *afield,
                const struct zp_node *b, const char *bfield, const struct zp_node **ret)
{
    *ret = a ? a : b;
    if (a != NULL && b != NULL && !zp_node_equal(a, b))
        return orch__map_fail(m, b, bfield, "'%s' differs from %s '%s'; set one of them", b->str,
                              afield, a->str);
    return 0;
}

static int map_device_requests(struct mapper *m, const struct zp_node *devs)
{
    static const char *const known[] = {"capabilities", "count",   "device_ids",
                                        "driver",       "options", NULL};
    if (devs->kind != ZP_NODE_SEQ)
        return orch__map_fail(m, devs, "deploy.resources.reservations.devices", "must be a list");
    struct zp_node *out = zp_node_new_seq(NULL);
    int rc = 0;
    for (size_t i = 0; i < devs->n && rc == 0; i++) {
        const struct zp_node *d = devs->items[i];
        char *f = zp_asprintf("deploy.resources.reservations.devices[%zu]", i);
        struct zp_node *e = zp_node_new_map(NULL);
        struct zp_node *l = NULL;
        rc = orch__map_check_keys(m, d, f, known);
        const char *driver = zp_node_get_str(d, "driver");
        if (driver != NULL)
            zp_node_set(e, "Driver", orch__map_jstr(driver));
        /* neither count nor device_ids: every device, as compose does */
        const struct zp_node *count = zp_node_get(d, "count");
        int64_t c = -1;
        if (rc == 0 && count != NULL && !(count->type == ZP_STR && strcmp(count->str, "all") == 0))
            rc = orch__map_get_int(m, count, f, &c);
        const struct zp_node *ids = zp_node_get(d, "device_ids");
        if (rc == 0 && ids != NULL && (rc = orch__map_str_list(m, ids, f, &l)) == 0)
            zp_node_set(e, "DeviceIDs", l);
        else if (rc == 0)
            zp_node_set(e, "Count", orch__map_jint(c));
        const struct zp_node *caps = zp_node_get(d, "capabilities");
        if (rc == 0 && caps != NULL && (rc = orch__map_str_list(m, caps, f, &l)) == 0) {
            struct zp_node *outer = zp_node_new_seq(NULL);
            zp_node_push(outer, l); /* one set: every capability is required */
            zp_node_set(e, "Capabilities", outer);
        }
        const struct zp_node *opts = zp_node_get(d, "options");
        if (rc == 0 && opts != NULL && (rc = orch__map_str_map(m, opts, f, &l)) == 0)
            zp_node_set(e, "Options", l);
        free(f);
        zp_node_push(out, e);
    }
    if (rc == 0)
        zp_node_set(m->hc, "DeviceRequests", out);
    else
        zp_node_free(out);
    return rc;
}

int orch__map_resources(struct mapper *m)
{
    static const char *const deploy_known[] = {
        "mode",           "replicas",      "endpoint_mode",   "labels",    "resources",
        "restart_policy", "update_config", "rollback_config", "placement", NULL};
    static const char *const res_known[] = {"limits", "reservations", NULL};
    static const char *const lim_known[] = {"cpus", "memory", "pids", NULL};
    static const char *const resv_known[] = {"cpus", "memory", "devices", "generic_resources",
                                             NULL};
    const struct zp_node *deploy = zp_node_get(m->svc, "deploy");
    const struct zp_node *res = zp_node_get(deploy, "resources");
    const struct zp_node *lims = zp_node_get(res, "limits");
    const struct zp_node *resv = zp_node_get(res, "reservations");
    int rc;
    if ((rc = orch__map_check_keys(m, deploy, "deploy", deploy_known)) < 0 ||
        (rc = orch__map_check_keys(m, res, "deploy.resources", res_known)) < 0 ||
        (rc = orch__map_check_keys(m, lims, "deploy.resources.limits", lim_known)) < 0 ||
        (rc = orch__map_check_keys(m, resv, "deploy.resources.reservations", resv_known)) < 0)
        return rc;

    const struct zp_node *v = NULL;
    int64_t i = 0;
    if ((rc = pick(m, zp_node_get(m->svc, "cpus"), "cpus", zp_node_get(lims, "cpus"),
                   "deploy.resources.limits.cpus", &v)) < 0)
        return rc;
    if (v != NULL) {
        double cpus = 0;
        const char *vf = zp_node_get(m->svc, "cpus") ? "cpus" : "deploy.resources.limits.cpus";
        if (v->kind != ZP_NODE_SCALAR || zp_parse_double(v->str, &cpus) != 0 || cpus < 0)
            return orch__map_fail(m, v, vf, "must be a non-negative number");
        /* the engine refuses NanoCpus together with the CFS period or quota */
        static const char *const cfs[] = {"cpu_period", "cpu_quota", NULL};
        for (size_t k = 0; cfs[k]; k++)
            if (cpus > 0 && zp_node_get(m->svc, cfs[k]) != NULL)
                return orch__map_fail(
                    m, v, vf,
                    "cannot be combined with %s: set either a number of CPUs or the "
                    "CFS period and quota",
                    cfs[k]);
        zp_node_set(m->hc, "NanoCpus", orch__map_jint((int64_t)(cpus * 1e9 + 0.5)));
    }
    static const struct {
        const char *plain, *deploy, *field;
        bool reservation;
    } ints[] = {
        {"mem_limit", "memory", "Memory", false},
        {"pids_limit", "pids", "PidsLimit", false},
        {"mem_reservation", "memory", "MemoryReservation", true},
    };
    for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++) {
        const struct zp_node *under = ints[k].reservation ? resv : lims;
        char *df = zp_asprintf("deploy.resources.%s.%s",
                               ints[k].reservation ? "reservations" : "limits", ints[k].deploy);
        rc = pick(m, zp_node_get(m->svc, ints[k].plain), ints[k].plain,
                  zp_node_get(under, ints[k].deploy), df, &v);
        if (rc == 0 && v != NULL)
            rc = orch__map_get_int(m, v, zp_node_get(m->svc, ints[k].plain) ? ints[k].plain : df,
                                   &i);
        free(df);
        if (rc < 0)
            return rc;
        if (v != NULL)
            zp_node_set(m->hc, ints[k].field, orch__map_jint(i));
    }
    const struct zp_node *devs = zp_node_get(resv, "devices");
    if (devs != NULL && (rc = map_device_requests(m, devs)) < 0)
        return rc;
    const struct zp_node *rp = zp_node_get(deploy, "restart_policy");
    if (zp_node_get(m->svc, "restart") == NULL && rp != NULL)
        return orch__map_restart_policy(m, rp);
    return 0;
}

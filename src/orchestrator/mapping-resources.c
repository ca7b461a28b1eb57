/* orchestrator/mapping-resources: the plain resource fields and deploy.resources (which must
 * agree), device requests. Pure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping-devices.h"
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
    if ((rc = orch__map_device_requests(m->svc, m->path, m->hc, m->err)) < 0) /* and gpus */
        return rc;
    const struct zp_node *rp = zp_node_get(deploy, "restart_policy");
    if (zp_node_get(m->svc, "restart") == NULL && rp != NULL)
        return orch__map_restart_policy(m, rp);
    return 0;
}

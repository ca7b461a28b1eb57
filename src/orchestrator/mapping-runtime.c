/* orchestrator/mapping-runtime: healthcheck, logging, restart policies, ulimits, devices,
 * extra_hosts, stop_grace_period and blkio_config. Pure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping-int.h"

#include "../util/banned.h"

/* ---- healthcheck, logging, restart ---- */

static int duration_ns(struct mapper *m, const struct zp_node *n, const char *field, int64_t *ret)
{
    if (n == NULL || n->kind != ZP_NODE_SCALAR || zp_parse_duration(n->str, true, ret) != 0)
        return orch__map_fail(m, n, field, "invalid duration");
    return 0;
}

int orch__map_healthcheck(struct mapper *m, const struct zp_node *v)
{
    static const char *const known[] = {"test",    "interval",       "timeout", "start_period",
                                        "retries", "start_interval", "disable", NULL};
    static const struct {
        const char *key, *field;
    } durations[] = {{"interval", "Interval"},
                     {"timeout", "Timeout"},
                     {"start_period", "StartPeriod"},
                     {"start_interval", "StartInterval"}};
    int rc = orch__map_check_keys(m, v, "healthcheck", known);
    if (rc < 0)
        return rc;
    if (v->kind != ZP_NODE_MAP)
        return orch__map_fail(m, v, "healthcheck", "must be a mapping");
    if (zp_node_get(v, "start_interval") != NULL && m->api_minor < ORCH_API_START_INTERVAL)
        return orch__map_fail(m, zp_node_get(v, "start_interval"), "healthcheck.start_interval",
                              ORCH_START_INTERVAL_REFUSED, m->api_minor);
    struct zp_node *hc = zp_node_new_map(NULL);
    const struct zp_node *test = zp_node_get(v, "test");
    if (test != NULL) {
        struct zp_node *t = NULL;
        if ((rc = orch__map_str_list(m, test, "healthcheck.test", &t)) < 0)
            goto out;
        zp_node_set(hc, "Test", t);
    }
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        const struct zp_node *d = zp_node_get(v, durations[i].key);
        int64_t ns = 0;
        if (d == NULL)
            continue;
        char *f = zp_asprintf("healthcheck.%s", durations[i].key);
        rc = duration_ns(m, d, f, &ns);
        free(f);
        if (rc < 0)
            goto out;
        zp_node_set(hc, durations[i].field, orch__map_jint(ns));
    }
    const struct zp_node *retries = zp_node_get(v, "retries");
    if (retries != NULL) {
        int64_t r = 0;
        if ((rc = orch__map_get_int(m, retries, "healthcheck.retries", &r)) < 0)
            goto out;
        zp_node_set(hc, "Retries", orch__map_jint(r));
    }
    zp_node_set(m->body, "Healthcheck", hc);
    hc = NULL;
out:
    zp_node_free(hc);
    return rc;
}

int orch__map_logging(struct mapper *m, const struct zp_node *v)
{
    static const char *const known[] = {"driver", "options", NULL};
    int rc = orch__map_check_keys(m, v, "logging", known);
    if (rc < 0)
        return rc;
    struct zp_node *lc = zp_node_new_map(NULL);
    const char *driver = zp_node_get_str(v, "driver");
    /* no driver: the daemon's default driver with these options */
    zp_node_set(lc, "Type", orch__map_jstr(driver ? driver : ""));
    const struct zp_node *opts = zp_node_get(v, "options");
    if (opts != NULL && !zp_node_is_null(opts)) {
        struct zp_node *o = NULL;
        if ((rc = orch__map_str_map(m, opts, "logging.options", &o)) < 0) {
            zp_node_free(lc);
            return rc;
        }
        zp_node_set(lc, "Config", o);
    }
    zp_node_set(m->hc, "LogConfig", lc);
    return 0;
}

static void set_restart(struct mapper *m, const char *name, int64_t retries)
{
    struct zp_node *rp = zp_node_new_map(NULL);
    zp_node_set(rp, "Name", orch__map_jstr(name));
    zp_node_set(rp, "MaximumRetryCount", orch__map_jint(retries));
    zp_node_set(m->hc, "RestartPolicy", rp);
}

/* restart: no | always | unless-stopped | on-failure[:N]. */
int orch__map_restart(struct mapper *m, const struct zp_node *v)
{
    int64_t n = 0;
    if (v->kind != ZP_NODE_SCALAR)
        return orch__map_fail(m, v, "restart", "must be a string");
    if (zp_str_has_prefix(v->str, "on-failure:")) {
        if (zp_parse_int64(v->str + strlen("on-failure:"), 0, INT32_MAX, &n) != 0)
            return orch__map_fail(m, v, "restart", "invalid restart policy '%s'", v->str);
        set_restart(m, "on-failure", n);
        return 0;
    }
    if (strcmp(v->str, "no") != 0 && strcmp(v->str, "always") != 0 &&
        strcmp(v->str, "on-failure") != 0 && strcmp(v->str, "unless-stopped") != 0)
        return orch__map_fail(m, v, "restart", "invalid restart policy '%s'", v->str);
    set_restart(m, v->str, 0);
    return 0;
}

/* deploy.restart_policy, used when there is no `restart`: condition none -> "no",
 * on-failure -> "on-failure" (max_attempts as the retry count), any (the default) ->
 * "always". delay and window are swarm-only. */
int orch__map_restart_policy(struct mapper *m, const struct zp_node *rp)
{
    static const char *const known[] = {"condition", "delay", "max_attempts", "window", NULL};
    int rc = orch__map_check_keys(m, rp, "deploy.restart_policy", known);
    if (rc < 0)
        return rc;
    const char *cond = zp_node_get_str(rp, "condition");
    int64_t max = 0;
    const struct zp_node *mx = zp_node_get(rp, "max_attempts");
    if (mx != NULL &&
        (rc = orch__map_get_int(m, mx, "deploy.restart_policy.max_attempts", &max)) < 0)
        return rc;
    if (cond == NULL || strcmp(cond, "any") == 0 || strcmp(cond, "always") == 0)
        set_restart(m, "always", 0);
    else if (strcmp(cond, "none") == 0)
        set_restart(m, "no", 0);
    else if (strcmp(cond, "on-failure") == 0)
        set_restart(m, "on-failure", max);
    else
        return orch__map_fail(m, zp_node_get(rp, "condition"), "deploy.restart_policy.condition",
                              "invalid condition '%s'", cond);
    return 0;
}

/* ---- ulimits, devices, extra_hosts, stop_grace_period, blkio ---- */

int orch__map_ulimits(struct mapper *m, const struct zp_node *v)
{
    if (v->kind != ZP_NODE_MAP)
        return orch__map_fail(m, v, "ulimits", "must be a mapping");
    struct zp_node *out = zp_node_new_seq(NULL);
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *u = v->pairs[i].value;
        char *f = zp_path_key("ulimits", v->pairs[i].key->str);
        int64_t soft = 0, hard = 0;
        int rc;
        if (u->kind == ZP_NODE_MAP) {
            rc = orch__map_get_int(m, zp_node_get(u, "soft"), f, &soft);
            if (rc == 0)
                rc = orch__map_get_int(m, zp_node_get(u, "hard"), f, &hard);
        } else {
            rc = orch__map_get_int(m, u, f, &soft);
            hard = soft;
        }
        free(f);
        if (rc < 0) {
            zp_node_free(out);
            return rc;
        }
        struct zp_node *e = zp_node_new_map(NULL);
        zp_node_set(e, "Name", orch__map_jstr(v->pairs[i].key->str));
        zp_node_set(e, "Soft", orch__map_jint(soft));
        zp_node_set(e, "Hard", orch__map_jint(hard));
        zp_node_push(out, e);
    }
    zp_node_set(m->hc, "Ulimits", out);
    return 0;
}

int orch__map_devices(struct mapper *m, const struct zp_node *v)
{
    static const char *const known[] = {"source", "target", "permissions", NULL};
    if (v->kind != ZP_NODE_SEQ)
        return orch__map_fail(m, v, "devices", "must be a list");
    struct zp_node *out = orch__map_jseq_at(m->hc, "Devices");
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *d = v->items[i];
        char *f = zp_asprintf("devices[%zu]", i);
        int rc = orch__map_check_keys(m, d, f, known);
        const char *src = zp_node_get_str(d, "source");
        if (rc == 0 && src == NULL)
            rc = orch__map_fail(m, d, f, "a device needs a 'source'");
        free(f);
        if (rc < 0)
            return rc;
        const char *dst = zp_node_get_str(d, "target");
        const char *perm = zp_node_get_str(d, "permissions");
        struct zp_node *e = zp_node_new_map(NULL);
        zp_node_set(e, "PathOnHost", orch__map_jstr(src));
        zp_node_set(e, "PathInContainer", orch__map_jstr(dst ? dst : src));
        zp_node_set(e, "CgroupPermissions", orch__map_jstr(perm ? perm : "rwm"));
        zp_node_push(out, e);
    }
    return 0;
}

/* "host=ip" -> "host:ip" (the engine splits at the first colon, so IPv6 works). */
int orch__map_extra_hosts(struct mapper *m, const struct zp_node *v)
{
    if (v->kind != ZP_NODE_SEQ)
        return orch__map_fail(m, v, "extra_hosts", "must be a list");
    struct zp_node *out = zp_node_new_seq(NULL);
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *h = v->items[i];
        const char *eq = h->kind == ZP_NODE_SCALAR ? strchr(h->str, '=') : NULL;
        if (eq == NULL || eq == h->str) {
            zp_node_free(out);
            char *f = zp_asprintf("extra_hosts[%zu]", i);
            int rc = orch__map_fail(m, h, f, "must be 'host=ip'");
            free(f);
            return rc;
        }
        char *s = zp_asprintf("%.*s:%s", (int)(eq - h->str), h->str, eq + 1);
        zp_node_push(out, orch__map_jstr(s));
        free(s);
    }
    zp_node_set(m->hc, "ExtraHosts", out);
    return 0;
}

/* StopTimeout is whole seconds: a partial second is rounded up, so a container never gets
 * less time than the grace period asked for. */
int orch__map_stop_grace(struct mapper *m, const struct zp_node *v)
{
    int64_t ns = 0;
    int rc = duration_ns(m, v, "stop_grace_period", &ns);
    if (rc < 0)
        return rc;
    if (ns < 0)
        return orch__map_fail(m, v, "stop_grace_period", "must not be negative");
    zp_node_set(m->body, "StopTimeout", orch__map_jint(ns / 1000000000 + (ns % 1000000000 != 0)));
    return 0;
}

int orch__map_blkio(struct mapper *m, const struct zp_node *v)
{
    static const char *const known[] = {"weight",
                                        "weight_device",
                                        "device_read_bps",
                                        "device_write_bps",
                                        "device_read_iops",
                                        "device_write_iops",
                                        NULL};
    static const struct {
        const char *key, *field, *value_key, *value_field;
    } lists[] = {
        {"weight_device", "BlkioWeightDevice", "weight", "Weight"},
        {"device_read_bps", "BlkioDeviceReadBps", "rate", "Rate"},
        {"device_write_bps", "BlkioDeviceWriteBps", "rate", "Rate"},
        {"device_read_iops", "BlkioDeviceReadIOps", "rate", "Rate"},
        {"device_write_iops", "BlkioDeviceWriteIOps", "rate", "Rate"},
    };
    int rc = orch__map_check_keys(m, v, "blkio_config", known);
    if (rc < 0)
        return rc;
    const struct zp_node *w = zp_node_get(v, "weight");
    if (w != NULL) {
        int64_t weight = 0;
        if ((rc = orch__map_get_int(m, w, "blkio_config.weight", &weight)) < 0)
            return rc;
        zp_node_set(m->hc, "BlkioWeight", orch__map_jint(weight));
    }
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        const struct zp_node *l = zp_node_get(v, lists[i].key);
        if (l == NULL)
            continue;
        if (l->kind != ZP_NODE_SEQ)
            return orch__map_fail(m, l, lists[i].key, "must be a list");
        struct zp_node *out = zp_node_new_seq(NULL);
        for (size_t j = 0; j < l->n; j++) {
            char *f = zp_asprintf("blkio_config.%s[%zu]", lists[i].key, j);
            const char *path = NULL;
            int64_t val = 0;
            rc = orch__map_get_str(m, zp_node_get(l->items[j], "path"), f, &path);
            if (rc == 0)
                rc = orch__map_get_int(m, zp_node_get(l->items[j], lists[i].value_key), f, &val);
            free(f);
            if (rc < 0) {
                zp_node_free(out);
                return rc;
            }
            struct zp_node *e = zp_node_new_map(NULL);
            zp_node_set(e, "Path", orch__map_jstr(path));
            zp_node_set(e, lists[i].value_field, orch__map_jint(val));
            zp_node_push(out, e);
        }
        zp_node_set(m->hc, lists[i].field, out);
    }
    return 0;
}

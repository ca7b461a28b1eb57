/* orchestrator/routes: x-zpanel (normalised by compose/normalize-zpanel.c) to struct
 * proxy_site, with the defaults applied. */
#include <stdlib.h>
#include <string.h>

#include "routes.h"

#include "../util/banned.h"

static int bad(const char *service, const char *what, struct zp_err *err)
{
    return zp_err_set(err, ZP_E_INPUT, NULL, "service '%s': x-zpanel: %s", service, what);
}

static int duration_ms(const struct zp_node *map, const char *key, int64_t *ret,
                       const char *service, struct zp_err *err)
{
    const struct zp_node *v = zp_node_get(map, key);
    if (!v)
        return 0;
    int64_t ns = 0;
    if (!zp_node_is_str(v) || zp_parse_duration(v->str, true, &ns) != 0 || ns < 0)
        return bad(service, key, err);
    /* whole milliseconds, rounded up: a health interval or timeout under 1ms is not 0
     * (the route label requires at least 1, and a label that does not parse routes
     * nothing) */
    *ret = ns / 1000000 + (ns % 1000000 != 0);
    return 0;
}

/* A sequence of strings into an owned array. */
static int strv(const struct zp_node *seq, char ***ret_v, size_t *ret_n)
{
    if (!seq) {
        *ret_v = NULL;
        *ret_n = 0;
        return 0;
    }
    if (!zp_node_is_seq(seq))
        return ZP_E_INPUT;
    for (size_t i = 0; i < seq->n; i++)
        if (!zp_node_is_str(seq->items[i]))
            return ZP_E_INPUT;
    char **v = zp_calloc(seq->n ? seq->n : 1, sizeof(*v));
    for (size_t i = 0; i < seq->n; i++)
        v[i] = zp_strdup(seq->items[i]->str);
    *ret_v = v;
    *ret_n = seq->n;
    return 0;
}

int orch_service_site(const struct compose_project *p, const char *service,
                      const struct zp_node *svc, struct proxy_site *ret, bool *ret_routed,
                      struct zp_err *err)
{
    const struct zp_node *x = zp_node_get(svc, "x-zpanel");
    const struct zp_node *routes = x ? zp_node_get(x, "routes") : NULL;
    if (!routes || !zp_node_is_seq(routes) || routes->n == 0) {
        *ret_routed = false;
        return 0;
    }
    struct proxy_site s;
    memset(&s, 0, sizeof(s));
    s.project = zp_strdup(p && p->name ? p->name : "");
    s.service = zp_strdup(service);
    s.health_interval_ms = ORCH_ROUTE_HEALTH_INTERVAL_MS;
    s.health_timeout_ms = ORCH_ROUTE_HEALTH_TIMEOUT_MS;
    s.drain_timeout_ms = ORCH_ROUTE_DRAIN_TIMEOUT_MS;
    s.tls = PROXY_TLS_AUTO;
    s.kind = PROXY_KIND_CADDY;
    int rc = 0;

    const char *tls = zp_node_get_str(x, "tls");
    if (tls && strcmp(tls, "internal") == 0)
        s.tls = PROXY_TLS_INTERNAL;
    else if (tls && strcmp(tls, "off") == 0)
        s.tls = PROXY_TLS_OFF;
    else if (tls && strcmp(tls, "auto") != 0) {
        rc = bad(service, "tls", err);
        goto out;
    }
    const char *kind = zp_node_get_str(x, "proxy");
    if (kind && strcmp(kind, "traefik") == 0)
        s.kind = PROXY_KIND_TRAEFIK;
    else if (kind && strcmp(kind, "caddy") != 0) {
        rc = bad(service, "proxy", err);
        goto out;
    }
    if ((rc = duration_ms(x, "drain_timeout", &s.drain_timeout_ms, service, err)))
        goto out;
    if (strv(zp_node_get(x, "share_hosts_with"), &s.share_with, &s.nshare) != 0) {
        rc = bad(service, "share_hosts_with", err);
        goto out;
    }
    const struct zp_node *h = zp_node_get(x, "health");
    if (h) {
        const char *hp = zp_node_get_str(h, "path");
        if (!zp_node_is_map(h) || !hp) {
            rc = bad(service, "health", err);
            goto out;
        }
        s.health_path = zp_strdup(hp);
        if ((rc = duration_ms(h, "interval", &s.health_interval_ms, service, err)) ||
            (rc = duration_ms(h, "timeout", &s.health_timeout_ms, service, err)))
            goto out;
    }
    s.routes = zp_calloc(routes->n, sizeof(*s.routes));
    for (size_t i = 0; i < routes->n; i++) {
        const struct zp_node *r = routes->items[i];
        struct proxy_route *pr = &s.routes[i];
        s.nroutes = i + 1;
        const struct zp_node *port = zp_node_get(r, "port");
        int64_t pv = 0;
        if (!zp_node_is_map(r) || !port || !zp_node_is_scalar(port) ||
            zp_parse_int64(port->str, 1, 65535, &pv) != 0 ||
            strv(zp_node_get(r, "hosts"), &pr->hosts, &pr->nhosts) != 0 || pr->nhosts == 0 ||
            strv(zp_node_get(r, "paths"), &pr->paths, &pr->npaths) != 0) {
            char *what = zp_asprintf("routes[%zu]", i);
            rc = bad(service, what, err);
            free(what);
            goto out;
        }
        pr->port = (int)pv;
    }
    *ret = s;
    *ret_routed = true;
    return 0;
out:
    proxy_site_release(&s);
    return rc;
}

/* orchestrator/routes: a service's normalised `x-zpanel` extension as the proxy's
 * struct proxy_site (pure: no engine calls). */
#ifndef ZP_ORCH_ROUTES_H
#define ZP_ORCH_ROUTES_H

#include <stdbool.h>

#include "../compose/compose.h"
#include "../proxy/proxy.h"
#include "../util/util.h"

/* Defaults of x-zpanel fields that are not written. */
#define ORCH_ROUTE_HEALTH_INTERVAL_MS 1000
#define ORCH_ROUTE_HEALTH_TIMEOUT_MS 5000
#define ORCH_ROUTE_DRAIN_TIMEOUT_MS 30000

/* Convert service `service` (its normalised definition svc, i.e. the value under
 * p->model.services) of project p into *ret with the defaults applied (tls auto, proxy
 * caddy, health interval 1s, timeout 5s, drain timeout 30s; no health path: no HTTP
 * probe). *ret_routed says whether the service has at least one route; *ret is written
 * (and owned by the caller: proxy_site_release) only when it is routed.
 * Errors: ZP_E_INPUT when the node is not in the canonical form of docs/model.md (it
 * did not come from compose_project_load), naming the service. */
int orch_service_site(const struct compose_project *p, const char *service,
                      const struct zp_node *svc, struct proxy_site *ret, bool *ret_routed,
                      struct zp_err *err);

#endif

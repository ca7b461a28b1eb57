/* compose/normalize-zpanel: zpanel's own service extension `x-zpanel` (routes through the
 * reverse proxy, TLS, HTTP health probe, drain timeout, proxy kind). Private to
 * src/compose/; the canonical shape is in docs/model.md. */
#ifndef ZP_COMPOSE_NORMALIZE_ZPANEL_H
#define ZP_COMPOSE_NORMALIZE_ZPANEL_H

#include "compose-int.h"

/* Validate and normalise the value of services.NAME.x-zpanel in place (path is
 * "services.NAME.x-zpanel"): unknown keys with suggestions, host names, ports, paths,
 * durations; `host`/`path` become the lists `hosts`/`paths`, `health: /up` becomes
 * `{path: /up}`, host names are lowercased. Defaults are not filled in (an override file
 * must not reset what the base file set): orchestrator/routes.c applies them.
 * Returns 0 or ZP_E_INPUT; every problem is in d. */
int compose__normalize_zpanel(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                              struct zp_diags *d);

#endif

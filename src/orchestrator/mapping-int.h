/* orchestrator/mapping-int: what the files of the container mapping share (mapping.c
 * drives, the others map groups of fields). Pure: no engine calls, no I/O. */
#ifndef ZP_ORCH_MAPPING_INT_H
#define ZP_ORCH_MAPPING_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "orchestrator-int.h"

#define API_TOO_OLD "not supported by the engine's API version (1.41)"

/* One service being mapped: where errors go and the body being built. */
struct mapper {
    const struct compose_project *p;
    const char *service;
    const struct zp_node *svc;
    char *path; /* "services.web" */
    bool oneoff;
    int api_minor; /* the engine session's API version is 1.<api_minor> */
    orch_resolve_fn resolve;
    void *resolve_ud;
    struct zp_err *err;
    struct zp_node *body; /* ContainerConfig at the top, HostConfig under it */
    struct zp_node *hc;   /* borrowed from body */
    struct orch_container_spec *spec;
};

/* ---- the tree and field helpers (mapping-node.c) ---- */

struct zp_node *orch__map_jstr(const char *s);
struct zp_node *orch__map_jint(int64_t v);
struct zp_node *orch__map_jbool(bool v);
struct zp_node *orch__map_jmap_at(struct zp_node *map, const char *key);
struct zp_node *orch__map_jseq_at(struct zp_node *map, const char *key);
bool orch__map_is_true(const struct zp_node *n);
int orch__map_fail(struct mapper *m, const struct zp_node *n, const char *field, const char *fmt,
                   ...) ZP_PRINTF(4, 5);
int orch__map_get_int(struct mapper *m, const struct zp_node *n, const char *field, int64_t *ret);
int orch__map_get_str(struct mapper *m, const struct zp_node *n, const char *field,
                      const char **ret);
int orch__map_str_list(struct mapper *m, const struct zp_node *n, const char *field,
                       struct zp_node **ret);
int orch__map_str_map(struct mapper *m, const struct zp_node *n, const char *field,
                      struct zp_node **ret);
int orch__map_check_keys(struct mapper *m, const struct zp_node *map, const char *field,
                         const char *const *known);
int orch__map_resolve_service(struct mapper *m, const struct zp_node *at, const char *field,
                              const char *service, char **ret);

/* ---- ports, networks, namespaces, links, routes (mapping-net.c) ---- */

int orch__map_expose(struct mapper *m, const struct zp_node *v);
int orch__map_links(struct mapper *m, const struct zp_node *v, const char *key, bool external,
                    struct zp_node *seq);
int orch__map_mode(struct mapper *m, const struct zp_node *v, const char *key, const char *field);
int orch__map_networks(struct mapper *m, const struct zp_node *nets, struct zp_node *links);
int orch__map_ports(struct mapper *m, const struct zp_node *v);
int orch__map_route(struct mapper *m);
int orch__map_volumes_from(struct mapper *m, const struct zp_node *v);

/* ---- volumes, tmpfs, secrets and configs (mapping-mounts.c) ---- */

int orch__map_file_refs(struct mapper *m, const struct zp_node *v, const char *kind);
int orch__map_tmpfs(struct mapper *m, const struct zp_node *v);
int orch__map_volumes(struct mapper *m, const struct zp_node *v);

/* ---- health check, logging, restart, ulimits, devices, hosts, stop grace, blkio
 * (mapping-runtime.c) ---- */

int orch__map_blkio(struct mapper *m, const struct zp_node *v);
int orch__map_devices(struct mapper *m, const struct zp_node *v);
int orch__map_extra_hosts(struct mapper *m, const struct zp_node *v);
int orch__map_healthcheck(struct mapper *m, const struct zp_node *v);
int orch__map_logging(struct mapper *m, const struct zp_node *v);
int orch__map_restart(struct mapper *m, const struct zp_node *v);
int orch__map_restart_policy(struct mapper *m, const struct zp_node *rp);
int orch__map_stop_grace(struct mapper *m, const struct zp_node *v);
int orch__map_ulimits(struct mapper *m, const struct zp_node *v);

/* ---- resources (mapping-resources.c) ---- */

int orch__map_resources(struct mapper *m);

#endif

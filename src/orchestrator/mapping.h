/* orchestrator/mapping: pure functions from the normalised model to what the engine is
 * asked for: container create bodies, object labels, config hashes, and the host-adapted
 * resource limits policy. No engine calls (unit-tested with golden files). */
#ifndef ZP_ORCH_MAPPING_H
#define ZP_ORCH_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../compose/compose.h"
#include "../util/util.h"

/* Labels on every object zpanel creates (ARCHITECTURE.md "Naming on the engine"). */
#define ORCH_LABEL_PROJECT "io.zpanel.project"
#define ORCH_LABEL_SERVICE "io.zpanel.service"
#define ORCH_LABEL_HASH "io.zpanel.config-hash"
#define ORCH_LABEL_NUMBER "io.zpanel.number"
#define ORCH_LABEL_VERSION "io.zpanel.version"
#define ORCH_LABEL_ONEOFF "io.zpanel.oneoff"   /* "true" on `run` containers */
#define ORCH_LABEL_NETWORK "io.zpanel.network" /* the model's key of a network */
#define ORCH_LABEL_VOLUME "io.zpanel.volume"   /* the model's key of a volume */

/* What the host offers, from the engine's /info. */
struct orch_host {
    int64_t ncpu;
    int64_t mem_total; /* bytes */
};

/* One change the limits policy made, for `up` to print. */
struct orch_adjustment {
    char *service;
    char *field; /* "deploy.resources.limits.cpus", "mem_limit", ... */
    char *from;  /* as the user wrote it, normalised ("2", "1073741824") */
    char *to;
    char *why; /* "single-core host: limits halved", "above the host's 2 CPUs" */
};

void orch_adjustments_free(struct orch_adjustment *a, size_t n);

/* The host-adapted limits policy, in one place (documented in the README):
 * - on any host, a CPU limit above the host's CPUs and a memory limit above its memory
 *   are clamped to the host;
 * - on a host with one CPU, unless !adapt: CPU and memory limits are halved,
 *   reservations scaled to 0.4 of what was written, and no service's memory limit is
 *   above half the host's memory.
 * Rewrites svc (a normalised service, e.g. a copy) in place: `cpus`, `mem_limit`,
 * `mem_reservation`, deploy.resources.limits/reservations cpus and memory. The changes
 * are returned (caller frees with orch_adjustments_free). */
void orch_adapt_limits(struct zp_node *svc, const char *service, const struct orch_host *host,
                       bool adapt, struct orch_adjustment **ret, size_t *ret_n);
/* Does orch_adapt_limits read the host for svc: does it set any of the limits above?
 * (Without them the host's CPUs and memory are not needed, nor the engine asked.) */
bool orch_limits_use_host(const struct zp_node *svc);

/* The config hash of a service: SHA-256 over its normalised (and adapted) definition and
 * the image ID it runs. `up` recreates a container only when this changes. */
void orch_config_hash(const struct zp_node *svc, const char *image_id, char out[65]);

/* The image reference a service runs: its `image`, or "<project>-<service>" when it only
 * has a build section. Returns a new string. */
char *orch_service_image(const char *project, const char *service, const struct zp_node *svc);

/* A network the container joins after create, before start (the create body can name only
 * one network on API 1.41). */
struct orch_netattach {
    char *network;  /* engine name, e.g. "hello_default" */
    char **aliases; /* NULL-terminated; includes the service name */
    char *ipv4_address;
    char *ipv6_address;
};

struct orch_container_spec {
    char *name;                      /* "<project>-<service>-<n>", or container_name */
    char *image;                     /* the reference passed in the body */
    char *json;                      /* the POST /containers/create body */
    struct orch_netattach *networks; /* every network after the first (in the body) */
    size_t nnetworks;
    char **bind_dirs; /* host directories of bind mounts with create_host_path, to create */
    size_t nbind_dirs;
};

void orch_container_spec_release(struct orch_container_spec *s);

/* Build the create request of replica `number` (1-based) of `service` (svc: its
 * normalised, adapted definition) in project p, running image `image` whose ID is
 * image_id. Maps every supported field: environment (env_file already merged), command,
 * entrypoint, working_dir, user, hostname, domainname, ports (PortBindings and
 * ExposedPorts), expose, volumes (Mounts: bind, volume with the project's volume name,
 * tmpfs; anonymous volumes), tmpfs, read_only, cap_add/cap_drop, security_opt,
 * privileged, sysctls, ulimits, devices, dns/dns_search/dns_opt, extra_hosts, init,
 * stop_signal, stop_grace_period (StopTimeout), restart policy, healthcheck, logging,
 * labels (the service's own plus the io.zpanel.* labels with config_hash), network
 * aliases (service name, container name) / ipv4_address, mem_limit, memswap_limit,
 * mem_reservation, cpus (NanoCpus), cpu_shares, cpu_quota/period, cpuset, pids_limit,
 * shm_size, oom_score_adj, deploy.resources limits and reservations, group_add,
 * network_mode (incl. "service:x" resolved to the container of x: the caller passes
 * a resolver), ipc/pid, tty, stdin_open, platform-free. api_minor: the API version the
 * engine session speaks (1.<api_minor>), for fields newer than 1.41 (healthcheck
 * start_interval: 1.44). Errors: a field the engine cannot express (ZP_E_INPUT naming
 * service and field, with its place in the files). */
typedef char *(*orch_resolve_fn)(void *ud, const char *service); /* container name or id */
int orch_container_spec(const struct compose_project *p, const char *service,
                        const struct zp_node *svc, int number, const char *image,
                        const char *image_id, const char *config_hash, bool oneoff, int api_minor,
                        orch_resolve_fn resolve, void *resolve_ud, struct orch_container_spec *ret,
                        struct zp_err *err);

#endif

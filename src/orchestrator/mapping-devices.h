/* orchestrator/mapping-devices: a service's device requests (deploy.resources.reservations
 * .devices and gpus) as HostConfig.DeviceRequests of a create body. Pure. */
#ifndef ZP_ORCH_MAPPING_DEVICES_H
#define ZP_ORCH_MAPPING_DEVICES_H

#include "../compose/compose.h"
#include "../util/util.h"

/* Set hc["DeviceRequests"] (hc: the HostConfig map of a create body being built) from svc, a
 * normalised service: first one request per deploy.resources.reservations.devices entry,
 * then one per gpus entry (as compose orders them). A request without count or
 * device_ids asks for every device (Count -1); count "all" is -1 too. A gpus request
 * carries the capability "gpu" besides those written (added once). Nothing is set when
 * the service asks for no device. path names the service in errors ("services.web").
 * Errors: ZP_E_INPUT naming the field (a wrong shape, an unknown key). */
int orch__map_device_requests(const struct zp_node *svc, const char *path, struct zp_node *hc,
                              struct zp_err *err);

#endif

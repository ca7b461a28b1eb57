/* engine/calls: the typed Engine API calls: one function per operation, each building
 * its path and query, sending it through engine__request and mapping the answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"

#include "../util/banned.h"

/* Extra time allowed past a container's stop timeout before we give up waiting. */
#define STOP_GRACE_MS 30000L

/* "/PREFIX/ESCAPED(name)SUFFIX" into a new string. */
static char *object_path(const char *prefix, const char *name, const char *suffix, bool keep_slash)
{
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_adds(&b, prefix);
    engine__escape(&b, name, keep_slash);
    zp_buf_adds(&b, suffix);
    return zp_buf_detach(&b, NULL);
}

/* DELETE PREFIX<name> (query: NULL or the query string), as "removing KIND 'NAME'". */
static int remove_object(struct engine *e, const char *prefix, const char *kind, const char *name,
                         bool keep_slash, const char *query, struct zp_err *err)
{
    char *path = object_path(prefix, name, "", keep_slash);
    char *what = zp_asprintf("removing %s '%s'", kind, name);
    struct engine__req req = {.method = "DELETE", .path = path, .query = query, .what = what};
    long status = 0;
    int rc = engine__request(e, &req, &status, NULL, err);
    free(path);
    free(what);
    return rc;
}

static char *json_text(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (!s)
        ZP_BUG("encoding a request body");
    return s;
}

/* ---- system ---- */

int engine_ping(struct engine *e, struct zp_err *err)
{
    struct engine__req req = {
        .method = "GET", .path = "/_ping", .unversioned = true, .what = "pinging the engine"};
    char *body = NULL;
    size_t len = 0;
    long status = 0;
    int rc = engine__request_text(e, &req, &status, &body, &len, err);
    if (rc == 0 && (status != 200 || strcmp(body, "OK") != 0))
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "pinging the engine: unexpected answer (HTTP %ld)",
                        status);
    free(body);
    return rc;
}

int engine_info(struct engine *e, struct engine_info *ret_info, struct zp_err *err)
{
    struct engine__req req = {.method = "GET", .path = "/info", .what = "reading engine info"};
    json_t *j = NULL;
    long status = 0;
    int rc = engine__request(e, &req, &status, &j, err);
    if (rc == 0)
        rc = engine__map_info(j, ret_info, err);
    json_decref(j);
    return rc;
}

/* ---- images ---- */

int engine_image_inspect(struct engine *e, const char *ref, bool *ret_exists, char **ret_id,
                         struct zp_err *err)
{
    char *path = object_path("/images/", ref, "/json", true);
    char *what = zp_asprintf("inspecting image '%s'", ref);
    struct engine__req req = {.method = "GET", .path = path, .what = what};
    struct zp_err sub;
    json_t *j = NULL;
    long status = 0;
    zp_err_init(&sub);
    int rc = engine__request(e, &req, &status, &j, &sub);
    if (rc == ZP_E_NOTFOUND) {
        *ret_exists = false;
        if (ret_id)
            *ret_id = NULL;
        rc = 0;
        goto out;
    }
    if (rc != 0) {
        if (!err->code)
            *err = sub;
        goto out;
    }
    const char *id = engine__str(j, "Id");
    if (!id) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: no Id in the answer", what);
        goto out;
    }
    *ret_exists = true;
    if (ret_id)
        *ret_id = zp_strdup(id);
out:
    json_decref(j);
    free(path);
    free(what);
    return rc;
}

int engine_image_remove(struct engine *e, const char *ref, bool force, struct zp_err *err)
{
    return remove_object(e, "/images/", "image", ref, true, force ? "force=1" : NULL, err);
}

/* ---- generic "does it exist" for networks and volumes ---- */

static int object_exists(struct engine *e, const char *kind, const char *prefix, const char *name,
                         bool *ret_exists, struct zp_err *err)
{
    char *path = object_path(prefix, name, "", false);
    char *what = zp_asprintf("inspecting %s '%s'", kind, name);
    struct engine__req req = {.method = "GET", .path = path, .what = what};
    struct zp_err sub;
    long status = 0;
    zp_err_init(&sub);
    int rc = engine__request(e, &req, &status, NULL, &sub);
    if (rc == 0 || rc == ZP_E_NOTFOUND) {
        *ret_exists = rc == 0;
        rc = 0;
    } else if (!err->code) {
        *err = sub;
    }
    free(path);
    free(what);
    return rc;
}

/* ---- networks ---- */

int engine_network_create(struct engine *e, const char *name,
                          const struct engine_network_opts *opts, char **ret_id, struct zp_err *err)
{
    json_t *body = json_object();
    json_object_set_new(body, "Name", json_string(name));
    json_object_set_new(body, "CheckDuplicate", json_true());
    if (opts && opts->driver)
        json_object_set_new(body, "Driver", json_string(opts->driver));
    if (opts && opts->internal)
        json_object_set_new(body, "Internal", json_true());
    if (opts && opts->attachable)
        json_object_set_new(body, "Attachable", json_true());
    if (opts && opts->enable_ipv6)
        json_object_set_new(body, "EnableIPv6", json_true());
    if (opts && opts->n_labels)
        json_object_set_new(body, "Labels", engine__labels_json(opts->labels, opts->n_labels));
    if (opts && opts->n_options)
        json_object_set_new(body, "Options", engine__labels_json(opts->options, opts->n_options));
    if (opts && (opts->ipam_driver || opts->n_ipam_configs || opts->n_ipam_options)) {
        json_t *ipam = json_object();
        json_object_set_new(ipam, "Driver",
                            json_string(opts->ipam_driver ? opts->ipam_driver : "default"));
        json_t *configs = json_array();
        for (size_t i = 0; i < opts->n_ipam_configs; i++) {
            const struct engine_ipam_config *ic = &opts->ipam_configs[i];
            json_t *c = json_object();
            if (ic->subnet)
                json_object_set_new(c, "Subnet", json_string(ic->subnet));
            if (ic->ip_range)
                json_object_set_new(c, "IPRange", json_string(ic->ip_range));
            if (ic->gateway)
                json_object_set_new(c, "Gateway", json_string(ic->gateway));
            if (ic->n_aux_addresses)
                json_object_set_new(c, "AuxiliaryAddresses",
                                    engine__labels_json(ic->aux_addresses, ic->n_aux_addresses));
            json_array_append_new(configs, c);
        }
        json_object_set_new(ipam, "Config", configs);
        if (opts->n_ipam_options)
            json_object_set_new(ipam, "Options",
                                engine__labels_json(opts->ipam_options, opts->n_ipam_options));
        json_object_set_new(body, "IPAM", ipam);
    }
    char *text = json_text(body);
    char *what = zp_asprintf("creating network '%s'", name);
    struct engine__req req = {
        .method = "POST", .path = "/networks/create", .body = text, .what = what};
    json_t *j = NULL;
    long status = 0;
    int rc = engine__request(e, &req, &status, &j, err);
    if (rc != 0)
        goto out;
    const char *id = engine__str(j, "Id");
    if (!id) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: no Id in the answer", what);
        goto out;
    }
    if (ret_id)
        *ret_id = zp_strdup(id);
out:
    json_decref(j);
    json_decref(body);
    free(text);
    free(what);
    return rc;
}

int engine_network_remove(struct engine *e, const char *name_or_id, struct zp_err *err)
{
    return remove_object(e, "/networks/", "network", name_or_id, false, NULL, err);
}

int engine_network_exists(struct engine *e, const char *name_or_id, bool *ret_exists,
                          struct zp_err *err)
{
    return object_exists(e, "network", "/networks/", name_or_id, ret_exists, err);
}

/* A NULL-terminated list as a JSON array of strings (owned). */
static json_t *string_array(const char *const *v)
{
    json_t *arr = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(arr, json_string(v[i]));
    return arr;
}

/* POST body to path; the answer is not needed. */
static int post_json(struct engine *e, const char *path, const char *query, json_t *body,
                     long timeout_ms, const char *what, struct zp_err *err)
{
    char *text = body ? json_text(body) : NULL;
    struct engine__req req = {.method = "POST",
                              .path = path,
                              .query = query,
                              .body = text,
                              .timeout_ms = timeout_ms,
                              .what = what};
    long status = 0;
    int rc = engine__request(e, &req, &status, NULL, err);
    free(text);
    return rc;
}

int engine_network_connect_endpoint(struct engine *e, const char *network, const char *container,
                                    const struct engine_endpoint *ep, struct zp_err *err)
{
    json_t *body = json_object();
    json_t *epc = json_object();
    json_object_set_new(body, "Container", json_string(container));
    if (ep && ep->aliases && ep->aliases[0])
        json_object_set_new(epc, "Aliases", string_array(ep->aliases));
    if (ep && ep->links && ep->links[0])
        json_object_set_new(epc, "Links", string_array(ep->links));
    if (ep &&
        (ep->ipv4_address || ep->ipv6_address || (ep->link_local_ips && ep->link_local_ips[0]))) {
        json_t *ipam = json_object();
        if (ep->ipv4_address)
            json_object_set_new(ipam, "IPv4Address", json_string(ep->ipv4_address));
        if (ep->ipv6_address)
            json_object_set_new(ipam, "IPv6Address", json_string(ep->ipv6_address));
        if (ep->link_local_ips && ep->link_local_ips[0])
            json_object_set_new(ipam, "LinkLocalIPs", string_array(ep->link_local_ips));
        json_object_set_new(epc, "IPAMConfig", ipam);
    }
    json_object_set_new(body, "EndpointConfig", epc);
    char *path = object_path("/networks/", network, "/connect", false);
    char *what = zp_asprintf("connecting container '%s' to network '%s'", container, network);
    int rc = post_json(e, path, NULL, body, 0, what, err);
    json_decref(body);
    free(path);
    free(what);
    return rc;
}

int engine_network_connect(struct engine *e, const char *network, const char *container,
                           const char *const *aliases, const char *ipv4_address, struct zp_err *err)
{
    struct engine_endpoint ep = {.aliases = aliases, .ipv4_address = ipv4_address};
    return engine_network_connect_endpoint(e, network, container, &ep, err);
}

int engine_network_disconnect(struct engine *e, const char *network, const char *container,
                              bool force, struct zp_err *err)
{
    json_t *body = json_object();
    json_object_set_new(body, "Container", json_string(container));
    if (force)
        json_object_set_new(body, "Force", json_true());
    char *path = object_path("/networks/", network, "/disconnect", false);
    char *what = zp_asprintf("disconnecting container '%s' from network '%s'", container, network);
    int rc = post_json(e, path, NULL, body, 0, what, err);
    json_decref(body);
    free(path);
    free(what);
    return rc;
}

int engine_network_list(struct engine *e, const char *const *label_filters,
                        struct engine_network_list *ret_list, struct zp_err *err)
{
    struct zp_buf q = ZP_BUF_INIT;
    engine__query_label_filters(&q, label_filters);
    struct engine__req req = {
        .method = "GET", .path = "/networks", .query = zp_buf_cstr(&q), .what = "listing networks"};
    json_t *j = NULL;
    long status = 0;
    int rc = engine__request(e, &req, &status, &j, err);
    if (rc == 0)
        rc = engine__map_network_list(j, ret_list, err);
    json_decref(j);
    zp_buf_release(&q);
    return rc;
}

/* ---- volumes ---- */

int engine_volume_create(struct engine *e, const char *name, const struct engine_volume_opts *opts,
                         struct zp_err *err)
{
    json_t *body = json_object();
    json_object_set_new(body, "Name", json_string(name));
    if (opts && opts->driver)
        json_object_set_new(body, "Driver", json_string(opts->driver));
    if (opts && opts->n_options)
        json_object_set_new(body, "DriverOpts",
                            engine__labels_json(opts->options, opts->n_options));
    if (opts && opts->n_labels)
        json_object_set_new(body, "Labels", engine__labels_json(opts->labels, opts->n_labels));
    char *text = json_text(body);
    char *what = zp_asprintf("creating volume '%s'", name);
    struct engine__req req = {
        .method = "POST", .path = "/volumes/create", .body = text, .what = what};
    long status = 0;
    int rc = engine__request(e, &req, &status, NULL, err);
    json_decref(body);
    free(text);
    free(what);
    return rc;
}

int engine_volume_remove(struct engine *e, const char *name, bool force, struct zp_err *err)
{
    return remove_object(e, "/volumes/", "volume", name, false, force ? "force=1" : NULL, err);
}

int engine_volume_exists(struct engine *e, const char *name, bool *ret_exists, struct zp_err *err)
{
    return object_exists(e, "volume", "/volumes/", name, ret_exists, err);
}

int engine_volume_list(struct engine *e, const char *const *label_filters,
                       struct engine_volume_list *ret_list, struct zp_err *err)
{
    struct zp_buf q = ZP_BUF_INIT;
    engine__query_label_filters(&q, label_filters);
    struct engine__req req = {
        .method = "GET", .path = "/volumes", .query = zp_buf_cstr(&q), .what = "listing volumes"};
    json_t *j = NULL;
    long status = 0;
    int rc = engine__request(e, &req, &status, &j, err);
    if (rc == 0)
        rc = engine__map_volume_list(j, ret_list, err);
    json_decref(j);
    zp_buf_release(&q);
    return rc;
}

/* ---- containers ---- */

int engine_container_list(struct engine *e, const char *const *label_filters, bool all,
                          struct engine_container_list *ret_list, struct zp_err *err)
{
    struct zp_buf q = ZP_BUF_INIT;
    if (all)
        engine__query_add(&q, "all", "1");
    engine__query_label_filters(&q, label_filters);
    struct engine__req req = {.method = "GET",
                              .path = "/containers/json",
                              .query = zp_buf_cstr(&q),
                              .what = "listing containers"};
    json_t *j = NULL;
    long status = 0;
    int rc = engine__request(e, &req, &status, &j, err);
    if (rc == 0)
        rc = engine__map_container_list(j, ret_list, err);
    json_decref(j);
    zp_buf_release(&q);
    return rc;
}

int engine_container_create(struct engine *e, const char *name, const char *config_json,
                            char **ret_id, struct zp_err *err)
{
    const char *label = name ? name : "(unnamed)";
    struct zp_buf q = ZP_BUF_INIT;
    json_t *j = NULL;
    json_t *config = json_loads(config_json, 0, NULL);
    char *what = zp_asprintf("creating container '%s'", label);
    int rc = 0;
    if (!json_is_object(config)) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "%s: the configuration is not a JSON object", what);
        goto out;
    }
    if (name)
        engine__query_add(&q, "name", name);
    struct engine__req req = {.method = "POST",
                              .path = "/containers/create",
                              .query = zp_buf_cstr(&q),
                              .body = config_json,
                              .what = what};
    long status = 0;
    rc = engine__request(e, &req, &status, &j, err);
    if (rc != 0)
        goto out;
    const char *id = engine__str(j, "Id");
    if (!id) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: no Id in the answer", what);
        goto out;
    }
    if (ret_id)
        *ret_id = zp_strdup(id);
out:
    json_decref(j);
    json_decref(config);
    zp_buf_release(&q);
    free(what);
    return rc;
}

/* POST /containers/{id}/ACTION where 304 (already in that state) is fine. */
static int container_action(struct engine *e, const char *id, const char *action, const char *verb,
                            const char *query, long timeout_ms, struct zp_err *err)
{
    struct zp_buf suffix = ZP_BUF_INIT;
    zp_buf_addf(&suffix, "/%s", action);
    char *path = object_path("/containers/", id, zp_buf_cstr(&suffix), false);
    char *what = zp_asprintf("%s container '%s'", verb, id);
    struct engine__req req = {
        .method = "POST", .path = path, .query = query, .timeout_ms = timeout_ms, .what = what};
    long status = 0;
    int rc = engine__request(e, &req, &status, NULL, err);
    free(path);
    free(what);
    zp_buf_release(&suffix);
    return rc;
}

int engine_container_start(struct engine *e, const char *id, struct zp_err *err)
{
    return container_action(e, id, "start", "starting", NULL, 0, err);
}

int engine_container_stop(struct engine *e, const char *id, int timeout_s, struct zp_err *err)
{
    char query[32] = "";
    long timeout_ms = 0;
    if (timeout_s >= 0) {
        snprintf(query, sizeof(query), "t=%d", timeout_s);
        timeout_ms = (long)timeout_s * 1000L + STOP_GRACE_MS;
    } else {
        /* The container's own StopTimeout is unknown here; allow a generous wait. */
        timeout_ms = 600000L;
    }
    return container_action(e, id, "stop", "stopping", query[0] ? query : NULL, timeout_ms, err);
}

int engine_container_remove(struct engine *e, const char *id, bool force, bool volumes,
                            struct zp_err *err)
{
    struct zp_buf q = ZP_BUF_INIT;
    if (force)
        engine__query_add(&q, "force", "1");
    if (volumes)
        engine__query_add(&q, "v", "1");
    int rc = remove_object(e, "/containers/", "container", id, false, zp_buf_cstr(&q), err);
    zp_buf_release(&q);
    return rc;
}

int engine_container_inspect(struct engine *e, const char *id, struct engine_container *ret_c,
                             struct zp_err *err)
{
    char *path = object_path("/containers/", id, "/json", false);
    char *what = zp_asprintf("inspecting container '%s'", id);
    struct engine__req req = {.method = "GET", .path = path, .what = what};
    char *body = NULL;
    size_t len = 0;
    long status = 0;
    json_t *j = NULL;
    int rc = engine__request_text(e, &req, &status, &body, &len, err);
    if (rc != 0)
        goto out;
    json_error_t jerr;
    j = json_loadb(body, len, 0, &jerr);
    if (!j) {
        rc =
            zp_err_set(err, ZP_E_ENGINE, NULL, "%s: engine sent invalid JSON: %s", what, jerr.text);
        goto out;
    }
    rc = engine__map_container(j, body, ret_c, err);
    if (rc != 0)
        zp_err_prefix(err, "%s", what);
out:
    json_decref(j);
    free(body);
    free(path);
    free(what);
    return rc;
}

int engine_container_restart(struct engine *e, const char *id, int timeout_s, struct zp_err *err)
{
    char query[32] = "";
    long timeout_ms = 600000L;
    if (timeout_s >= 0) {
        snprintf(query, sizeof(query), "t=%d", timeout_s);
        timeout_ms = (long)timeout_s * 1000L + STOP_GRACE_MS;
    }
    return container_action(e, id, "restart", "restarting", query[0] ? query : NULL, timeout_ms,
                            err);
}

int engine_container_kill(struct engine *e, const char *id, const char *signal, struct zp_err *err)
{
    struct zp_buf q = ZP_BUF_INIT;
    if (signal)
        engine__query_add(&q, "signal", signal);
    int rc = container_action(e, id, "kill", "killing", zp_buf_cstr(&q), 0, err);
    zp_buf_release(&q);
    return rc;
}

int engine_container_pause(struct engine *e, const char *id, struct zp_err *err)
{
    return container_action(e, id, "pause", "pausing", NULL, 0, err);
}

int engine_container_unpause(struct engine *e, const char *id, struct zp_err *err)
{
    return container_action(e, id, "unpause", "unpausing", NULL, 0, err);
}

int engine_container_rename(struct engine *e, const char *id, const char *new_name,
                            struct zp_err *err)
{
    struct zp_buf q = ZP_BUF_INIT;
    engine__query_add(&q, "name", new_name);
    char *path = object_path("/containers/", id, "/rename", false);
    char *what = zp_asprintf("renaming container '%s' to '%s'", id, new_name);
    int rc = post_json(e, path, zp_buf_cstr(&q), NULL, 0, what, err);
    free(path);
    free(what);
    zp_buf_release(&q);
    return rc;
}

/* POST .../resize?h=H&w=W for containers and execs. */
static int resize(struct engine *e, const char *prefix, const char *kind, const char *id,
                  unsigned h, unsigned w, struct zp_err *err)
{
    char query[64];
    snprintf(query, sizeof(query), "h=%u&w=%u", h, w);
    char *path = object_path(prefix, id, "/resize", false);
    char *what = zp_asprintf("resizing the terminal of %s '%s'", kind, id);
    int rc = post_json(e, path, query, NULL, 0, what, err);
    free(path);
    free(what);
    return rc;
}

int engine_container_resize(struct engine *e, const char *id, unsigned h, unsigned w,
                            struct zp_err *err)
{
    return resize(e, "/containers/", "container", id, h, w, err);
}

int engine_container_wait(struct engine *e, const char *id, enum engine_wait_condition cond,
                          long timeout_ms, int64_t *ret_exit_code, struct zp_err *err)
{
    static const char *const names[] = {
        [ENGINE_WAIT_NOT_RUNNING] = "not-running",
        [ENGINE_WAIT_NEXT_EXIT] = "next-exit",
        [ENGINE_WAIT_REMOVED] = "removed",
    };
    if ((unsigned)cond >= sizeof(names) / sizeof(names[0]))
        ZP_BUG("engine_container_wait: bad condition %d", (int)cond);
    struct zp_buf q = ZP_BUF_INIT;
    engine__query_add(&q, "condition", names[cond]);
    char *path = object_path("/containers/", id, "/wait", false);
    char *what = zp_asprintf("waiting for container '%s'", id);
    struct engine__req req = {.method = "POST",
                              .path = path,
                              .query = zp_buf_cstr(&q),
                              .timeout_ms = timeout_ms > 0 ? timeout_ms : -1,
                              .what = what};
    json_t *j = NULL;
    long status = 0;
    int rc = engine__request(e, &req, &status, &j, err);
    if (rc != 0)
        goto out;
    json_t *code = json_object_get(j, "StatusCode");
    const char *msg = engine__str(json_object_get(j, "Error"), "Message");
    if (msg && *msg) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: %s", what, msg);
        goto out;
    }
    if (!json_is_integer(code)) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: no StatusCode in the answer", what);
        goto out;
    }
    if (ret_exit_code)
        *ret_exit_code = (int64_t)json_integer_value(code);
out:
    json_decref(j);
    free(path);
    free(what);
    zp_buf_release(&q);
    return rc;
}

int engine_container_top(struct engine *e, const char *id, const char *ps_args,
                         struct engine_top *ret_top, struct zp_err *err)
{
    struct zp_buf q = ZP_BUF_INIT;
    if (ps_args)
        engine__query_add(&q, "ps_args", ps_args);
    char *path = object_path("/containers/", id, "/top", false);
    char *what = zp_asprintf("listing the processes of container '%s'", id);
    struct engine__req req = {
        .method = "GET", .path = path, .query = zp_buf_cstr(&q), .what = what};
    json_t *j = NULL;
    long status = 0;
    int rc = engine__request(e, &req, &status, &j, err);
    if (rc == 0) {
        rc = engine__map_top(j, ret_top, err);
        if (rc != 0)
            zp_err_prefix(err, "%s", what);
    }
    json_decref(j);
    free(path);
    free(what);
    zp_buf_release(&q);
    return rc;
}

/* ---- images: list and tag ---- */

/* GET /images/json with label filters, a reference pattern (or NULL) and, when dangling,
 * only untagged images. */
static int image_list(struct engine *e, const char *const *label_filters, const char *reference,
                      bool dangling, bool all, struct engine_image_list *ret_list,
                      struct zp_err *err)
{
    const char *const refs[] = {reference, NULL};
    const char *const yes[] = {dangling ? "true" : NULL, NULL};
    const struct engine__filter f[] = {
        {"label", label_filters}, {"reference", refs}, {"dangling", yes}};
    struct zp_buf q = ZP_BUF_INIT;
    engine__query_filters(&q, f, sizeof(f) / sizeof(f[0]));
    if (all)
        engine__query_add(&q, "all", "1");
    struct engine__req req = {.method = "GET",
                              .path = "/images/json",
                              .query = zp_buf_cstr(&q),
                              .what = dangling ? "listing dangling images" : "listing images"};
    json_t *j = NULL;
    long status = 0;
    int rc = engine__request(e, &req, &status, &j, err);
    if (rc == 0)
        rc = engine__map_image_list(j, ret_list, err);
    json_decref(j);
    zp_buf_release(&q);
    return rc;
}

int engine_image_list(struct engine *e, const char *const *label_filters, const char *reference,
                      struct engine_image_list *ret_list, struct zp_err *err)
{
    return image_list(e, label_filters, reference, false, false, ret_list, err);
}

int engine_image_list_dangling(struct engine *e, const char *const *label_filters,
                               struct engine_image_list *ret_list, struct zp_err *err)
{
    return image_list(e, label_filters, NULL, true, false, ret_list, err);
}

int engine_image_list_all(struct engine *e, const char *const *label_filters,
                          struct engine_image_list *ret_list, struct zp_err *err)
{
    return image_list(e, label_filters, NULL, false, true, ret_list, err);
}

int engine_image_tag(struct engine *e, const char *source, const char *repo, const char *tag,
                     struct zp_err *err)
{
    if (!tag)
        tag = "latest";
    struct zp_buf q = ZP_BUF_INIT;
    engine__query_add(&q, "repo", repo);
    engine__query_add(&q, "tag", tag);
    char *path = object_path("/images/", source, "/tag", true);
    char *what = zp_asprintf("tagging image '%s' as '%s:%s'", source, repo, tag);
    int rc = post_json(e, path, zp_buf_cstr(&q), NULL, 0, what, err);
    free(path);
    free(what);
    zp_buf_release(&q);
    return rc;
}

/* ---- exec ---- */

int engine_exec_create(struct engine *e, const char *container, const char *const *argv,
                       const char *const *env, const char *user, const char *workdir, bool tty,
                       bool attach_stdin, char **ret_id, struct zp_err *err)
{
    struct engine_exec_opts o = {.argv = argv,
                                 .env = env,
                                 .user = user,
                                 .workdir = workdir,
                                 .tty = tty,
                                 .attach_stdin = attach_stdin};
    return engine_exec_create_opts(e, container, &o, ret_id, err);
}

int engine_exec_create_opts(struct engine *e, const char *container,
                            const struct engine_exec_opts *opts, char **ret_id, struct zp_err *err)
{
    if (!opts->argv || !opts->argv[0])
        ZP_BUG("engine_exec_create: empty argv");
    json_t *body = json_object();
    json_object_set_new(body, "AttachStdin", json_boolean(opts->attach_stdin));
    json_object_set_new(body, "AttachStdout", json_true());
    json_object_set_new(body, "AttachStderr", json_true());
    json_object_set_new(body, "Tty", json_boolean(opts->tty));
    json_object_set_new(body, "Cmd", string_array(opts->argv));
    if (opts->env && opts->env[0])
        json_object_set_new(body, "Env", string_array(opts->env));
    if (opts->user)
        json_object_set_new(body, "User", json_string(opts->user));
    if (opts->workdir)
        json_object_set_new(body, "WorkingDir", json_string(opts->workdir));
    if (opts->privileged)
        json_object_set_new(body, "Privileged", json_true());
    char *text = json_text(body);
    char *path = object_path("/containers/", container, "/exec", false);
    char *what = zp_asprintf("creating an exec instance in container '%s'", container);
    struct engine__req req = {.method = "POST", .path = path, .body = text, .what = what};
    json_t *j = NULL;
    long status = 0;
    int rc = engine__request(e, &req, &status, &j, err);
    if (rc != 0)
        goto out;
    const char *id = engine__str(j, "Id");
    if (!id || !*id) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: no Id in the answer", what);
        goto out;
    }
    *ret_id = zp_strdup(id);
out:
    json_decref(j);
    json_decref(body);
    free(text);
    free(path);
    free(what);
    return rc;
}

int engine_exec_inspect(struct engine *e, const char *id, struct engine_exec_state *ret_state,
                        struct zp_err *err)
{
    char *path = object_path("/exec/", id, "/json", false);
    char *what = zp_asprintf("inspecting exec instance '%s'", id);
    struct engine__req req = {.method = "GET", .path = path, .what = what};
    json_t *j = NULL;
    long status = 0;
    int rc = engine__request(e, &req, &status, &j, err);
    if (rc == 0) {
        rc = engine__map_exec_state(j, ret_state, err);
        if (rc != 0)
            zp_err_prefix(err, "%s", what);
    }
    json_decref(j);
    free(path);
    free(what);
    return rc;
}

int engine_exec_resize(struct engine *e, const char *id, unsigned h, unsigned w, struct zp_err *err)
{
    return resize(e, "/exec/", "exec instance", id, h, w, err);
}

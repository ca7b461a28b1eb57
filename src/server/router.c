/* server/router: the route table of the API and the matching of a request's method and
 * path to a route with its {params}. Pure: no I/O. */
#include <string.h>

#include "server-int.h"

#include "../util/banned.h"

/* Every route the server answers; openapi.json lists exactly these (a unit test checks). */
static const struct srv_route routes[] = {
    {"GET", "/healthz", STORE_SCOPE_NONE, srv_api_healthz},
    {"GET", "/api/v1/openapi.json", STORE_SCOPE_NONE, srv_api_openapi},
    {"GET", "/metrics", STORE_SCOPE_READ, srv_api_metrics},
    {"POST", "/api/v1/login", STORE_SCOPE_NONE, srv_api_login},
    {"POST", "/api/v1/logout", STORE_SCOPE_READ, srv_api_logout},
    {"GET", "/api/v1/projects", STORE_SCOPE_READ, srv_api_projects_list},
    {"POST", "/api/v1/projects", STORE_SCOPE_WRITE, srv_api_projects_create},
    {"GET", "/api/v1/projects/{name}", STORE_SCOPE_READ, srv_api_project_get},
    {"PUT", "/api/v1/projects/{name}", STORE_SCOPE_WRITE, srv_api_project_put},
    {"DELETE", "/api/v1/projects/{name}", STORE_SCOPE_WRITE, srv_api_project_delete},
    {"POST", "/api/v1/projects/{name}/deploy", STORE_SCOPE_DEPLOY, srv_api_project_deploy},
    {"POST", "/api/v1/projects/{name}/stop", STORE_SCOPE_DEPLOY, srv_api_project_stop},
    {"POST", "/api/v1/projects/{name}/start", STORE_SCOPE_DEPLOY, srv_api_project_start},
    {"POST", "/api/v1/projects/{name}/restart", STORE_SCOPE_DEPLOY, srv_api_project_restart},
    {"POST", "/api/v1/projects/{name}/rollback", STORE_SCOPE_DEPLOY, srv_api_project_rollback},
    {"POST", "/api/v1/projects/{name}/backup", STORE_SCOPE_DEPLOY, srv_api_project_backup},
    {"GET", "/api/v1/projects/{name}/releases", STORE_SCOPE_READ, srv_api_project_releases},
    {"GET", "/api/v1/projects/{name}/logs", STORE_SCOPE_READ, srv_api_project_logs},
    {"GET", "/api/v1/projects/{name}/stats", STORE_SCOPE_READ, srv_api_project_stats},
    {"GET", "/api/v1/jobs", STORE_SCOPE_READ, srv_api_jobs_list},
    {"GET", "/api/v1/jobs/{id}", STORE_SCOPE_READ, srv_api_job_get},
    {"GET", "/api/v1/jobs/{id}/log", STORE_SCOPE_READ, srv_api_job_log},
    {"POST", "/api/v1/jobs/{id}/cancel", STORE_SCOPE_DEPLOY, srv_api_job_cancel},
    {"GET", "/api/v1/notifications", STORE_SCOPE_ADMIN, srv_api_notifications_list},
    {"POST", "/api/v1/notifications", STORE_SCOPE_ADMIN, srv_api_notifications_add},
    {"DELETE", "/api/v1/notifications/{id}", STORE_SCOPE_ADMIN, srv_api_notification_delete},
    {"POST", "/api/v1/notifications/{id}/test", STORE_SCOPE_ADMIN, srv_api_notification_test},
    /* gitapps */
    {"GET", "/api/v1/apps", STORE_SCOPE_READ, srv_api_apps_list},
    {"POST", "/api/v1/apps", STORE_SCOPE_WRITE, srv_api_apps_create},
    {"POST", "/api/v1/apps/{name}/deploy", STORE_SCOPE_DEPLOY, srv_api_app_deploy},
    {"POST", "/api/v1/webhooks/{provider}/{app}", STORE_SCOPE_NONE, srv_api_webhook},
    /* dashboard */
    {"GET", "/api/v1/me", STORE_SCOPE_READ, srv_api_me},
    {"GET", "/api/v1/events", STORE_SCOPE_READ, srv_api_events},
    {"GET", "/api/v1/projects/{name}/health", STORE_SCOPE_READ, srv_api_project_health},
    {"GET", "/api/v1/projects/{name}/backups", STORE_SCOPE_READ, srv_api_project_backups},
    {"GET", "/api/v1/projects/{name}/backups/{file}", STORE_SCOPE_READ, srv_api_project_backup_get},
    {"POST", "/api/v1/projects/{name}/restore", STORE_SCOPE_WRITE, srv_api_project_restore},
    {"GET", "/api/v1/users", STORE_SCOPE_ADMIN, srv_api_users_list},
    {"POST", "/api/v1/users", STORE_SCOPE_ADMIN, srv_api_users_create},
    {"DELETE", "/api/v1/users/{name}", STORE_SCOPE_ADMIN, srv_api_user_delete},
    {"GET", "/api/v1/tokens", STORE_SCOPE_ADMIN, srv_api_tokens_list},
    {"POST", "/api/v1/tokens", STORE_SCOPE_ADMIN, srv_api_tokens_create},
    {"DELETE", "/api/v1/tokens/{id}", STORE_SCOPE_ADMIN, srv_api_token_delete},
    {"GET", "/api/v1/audit", STORE_SCOPE_ADMIN, srv_api_audit_list},
    {"GET", "/api/v1/proxy/routes", STORE_SCOPE_READ, srv_api_proxy_routes},
    /* templates */
    {"GET", "/api/v1/templates", STORE_SCOPE_READ, srv_api_templates_list},
    {"GET", "/api/v1/templates/{name}", STORE_SCOPE_READ, srv_api_template_get},
    {"POST", "/api/v1/templates/{name}/deploy", STORE_SCOPE_DEPLOY, srv_api_template_deploy},
    {"GET", "/api/v1/projects/{name}/actions", STORE_SCOPE_READ, srv_api_project_actions},
    {"POST", "/api/v1/projects/{name}/actions/{action}", STORE_SCOPE_DEPLOY,
     srv_api_project_action},
    /* dumps */
    {"GET", "/api/v1/projects/{name}/schedules", STORE_SCOPE_READ, srv_api_schedules_list},
    {"POST", "/api/v1/projects/{name}/schedules", STORE_SCOPE_WRITE, srv_api_schedules_create},
    {"DELETE", "/api/v1/projects/{name}/schedules/{id}", STORE_SCOPE_WRITE,
     srv_api_schedules_delete},
    /* s3dest */
    {"GET", "/api/v1/destinations", STORE_SCOPE_ADMIN, srv_api_destinations_list},
    {"POST", "/api/v1/destinations", STORE_SCOPE_ADMIN, srv_api_destinations_create},
    {"DELETE", "/api/v1/destinations/{name}", STORE_SCOPE_ADMIN, srv_api_destination_delete},
    /* ssh */
    {"GET", "/api/v1/servers", STORE_SCOPE_READ, srv_api_servers_list},
    {"POST", "/api/v1/servers", STORE_SCOPE_ADMIN, srv_api_servers_add},
    {"DELETE", "/api/v1/servers/{name}", STORE_SCOPE_ADMIN, srv_api_server_delete},
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

const struct srv_route *srv_routes(size_t *ret_n)
{
    *ret_n = NROUTES;
    return routes;
}

size_t srv_route_index(const struct srv_route *r)
{
    return (size_t)(r - routes);
}

/* Does path[0..len) match pattern? Segments compare literally except {param}, which takes
 * one non-empty segment. */
static bool match_one(const char *pattern, const char *path, size_t len, struct zp_str *params,
                      size_t *ret_n)
{
    size_t n = 0, i = 0;
    const char *p = pattern;
    while (*p) {
        if (i >= len || path[i] != '/' || *p != '/')
            return false;
        p++;
        i++;
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close)
                return false;
            size_t start = i;
            while (i < len && path[i] != '/')
                i++;
            if (i == start || n >= SRV_MAX_PARAMS)
                return false;
            params[n].p = path + start;
            params[n].len = i - start;
            n++;
            p = close + 1;
        } else {
            while (*p && *p != '/') {
                if (i >= len || path[i] != *p)
                    return false;
                p++;
                i++;
            }
            if (i < len && path[i] != '/')
                return false;
        }
    }
    if (i != len)
        return false;
    *ret_n = n;
    return true;
}

int srv_route_match(const char *method, const char *path, size_t path_len,
                    const struct srv_route **ret, struct zp_str *params, size_t *ret_n,
                    const char **ret_allow)
{
    /* the Allow header by the set of methods of a path's routes (bits below) */
    static const char *const allows[16] = {"",
                                           "GET",
                                           "POST",
                                           "GET, POST",
                                           "PUT",
                                           "GET, PUT",
                                           "POST, PUT",
                                           "GET, POST, PUT",
                                           "DELETE",
                                           "GET, DELETE",
                                           "POST, DELETE",
                                           "GET, POST, DELETE",
                                           "PUT, DELETE",
                                           "GET, PUT, DELETE",
                                           "POST, PUT, DELETE",
                                           "GET, POST, PUT, DELETE"};
    bool path_found = false;
    size_t methods = 0; /* bit per method seen on this path: GET 1, POST 2, PUT 4, DELETE 8 */
    for (size_t i = 0; i < NROUTES; i++) {
        struct zp_str tmp[SRV_MAX_PARAMS];
        size_t n;
        if (!match_one(routes[i].pattern, path, path_len, tmp, &n))
            continue;
        path_found = true;
        const char *m = routes[i].method;
        methods |= strcmp(m, "GET") == 0    ? 1u
                   : strcmp(m, "POST") == 0 ? 2u
                   : strcmp(m, "PUT") == 0  ? 4u
                                            : 8u;
        if (strcmp(m, method) != 0)
            continue;
        *ret = &routes[i];
        memcpy(params, tmp, n * sizeof(*tmp));
        *ret_n = n;
        return SRV_MATCH_OK;
    }
    if (!path_found)
        return SRV_MATCH_NO_PATH;
    *ret_allow = allows[methods & 15u];
    return SRV_MATCH_NO_METHOD;
}

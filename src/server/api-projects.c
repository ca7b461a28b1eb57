/* server/api-projects: /api/v1/projects: register a project (its compose text validated by
 * the loader and kept under the state directory), read, change and remove it, and queue
 * its jobs (deploy, stop, start, restart). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../orchestrator/orchestrator.h"
#include "../store/store.h"
#include "server-int.h"

#include "../util/banned.h"

#define ENV_MAX_KEYS 1000

static bool env_key_valid(const char *k)
{
    if (!*k || strlen(k) > 256)
        return false;
    for (const char *p = k; *p; p++) {
        char c = *p;
        bool ok = c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (p != k && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

/* Check the "env" member (an object of strings); *ret_json is its compact text, or NULL
 * when absent. On failure the reply is set. */
static bool read_env(json_t *body, struct srv_resp *resp, char **ret_json)
{
    json_t *env = json_object_get(body, "env");
    *ret_json = NULL;
    if (!env || json_is_null(env))
        return true;
    if (!json_is_object(env)) {
        srv_reply_error(resp, 400, "bad_request", NULL, "env: must be an object of strings");
        return false;
    }
    if (json_object_size(env) > ENV_MAX_KEYS) {
        srv_reply_error(resp, 413, "too_big", NULL, "env: more than %d variables", ENV_MAX_KEYS);
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v)
    {
        if (!env_key_valid(k)) {
            srv_reply_error(resp, 400, "bad_request", NULL,
                            "env: '%s' is not a variable name (letters, digits, '_')", k);
            return false;
        }
        if (!json_is_string(v)) {
            srv_reply_error(resp, 400, "bad_request", NULL, "env.%s: must be a string", k);
            return false;
        }
        if (store_secret_sealed(json_string_value(v))) {
            srv_reply_error(resp, 400, "bad_request", NULL,
                            "env.%s: values starting with '" STORE_SECRET_PREFIX
                            "' are reserved (sealed values)",
                            k);
            return false;
        }
    }
    *ret_json = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS);
    return true;
}

static int write_file(const char *path, const char *data, size_t len, struct zp_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return zp_err_sys(err, "creating '%s'", path);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int rc = zp_err_sys(err, "writing '%s'", path);
            close(fd);
            return rc;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0)
        return zp_err_sys(err, "writing '%s'", path);
    return 0;
}

/* Load dir's compose.yaml as project name: on errors reply 422 with every diagnostic as
 * {"file", "line", "column", "path", "message"} (file relative to the project). */
static bool validate(const char *state_dir, const char *dir, const char *name, const char *env_json,
                     struct srv_resp *resp)
{
    struct zp_diags d;
    zp_diags_init(&d);
    struct compose_project *p = NULL;
    int rc = srv_project_load(state_dir, dir, name, env_json, &p, &d);
    compose_project_free(p);
    if (rc == 0) {
        zp_diags_release(&d);
        return true;
    }
    zp_diags_sort(&d);
    json_t *details = json_array();
    size_t dl = strlen(dir);
    for (size_t i = 0; i < d.n; i++) {
        const struct zp_diag *g = &d.items[i];
        if (g->sev != ZP_SEV_ERROR)
            continue;
        const char *file = g->pos.file ? g->pos.file : "";
        if (strncmp(file, dir, dl) == 0 && file[dl] == '/')
            file += dl + 1;
        json_array_append_new(details, json_pack("{s:s, s:i, s:i, s:s?, s:s}", "file", file, "line",
                                                 g->pos.line, "column", g->pos.col, "path", g->path,
                                                 "message", g->msg));
    }
    if (rc == ZP_E_INPUT || d.errors > 0)
        srv_reply_error(resp, 422, "invalid_compose", details, "the compose file has %zu error%s",
                        d.errors, d.errors == 1 ? "" : "s");
    else
        srv_reply_error(resp, 500, "internal", details, "cannot load the project (error %d)", rc);
    zp_diags_release(&d);
    return false;
}

/* Write compose text into a new staging directory under <state>/projects and validate it;
 * returns the directory (caller frees and removes) or NULL with the reply set. */
static char *stage(struct server *s, const char *name, const char *compose, size_t len,
                   const char *env_json, struct srv_resp *resp)
{
    struct zp_err err;
    zp_err_init(&err);
    char *parent = zp_path_join(s->state_dir, "projects");
    mkdir(s->state_dir, 0700);
    mkdir(parent, 0700);
    char *tmpl = zp_asprintf("%s/.stage-%s-XXXXXX", parent, name);
    free(parent);
    if (!mkdtemp(tmpl)) {
        zp_err_sys(&err, "creating a directory under '%s'", s->state_dir);
        srv_reply_zerr(resp, &err);
        free(tmpl);
        return NULL;
    }
    char *file = zp_path_join(tmpl, "compose.yaml");
    int rc = write_file(file, compose, len, &err);
    bool ok = rc == 0 && validate(s->state_dir, tmpl, name, env_json, resp);
    if (rc)
        srv_reply_zerr(resp, &err);
    if (!ok) {
        unlink(file);
        rmdir(tmpl);
        free(tmpl);
        tmpl = NULL;
    }
    free(file);
    return tmpl;
}

static void unstage(const char *dir)
{
    char *file = zp_path_join(dir, "compose.yaml");
    unlink(file);
    free(file);
    rmdir(dir);
}

static json_t *project_json(const struct store_panel_project *p)
{
    /* values are stored sealed and never shown: the keys tell what is set */
    return json_pack("{s:s, s:I, s:I, s:o}", "name", p->name, "created", (json_int_t)p->created,
                     "updated", (json_int_t)p->updated, "env", store_env_masked(p->env_json));
}

void srv_api_projects_list(struct srv_req *req, struct srv_resp *resp)
{
    struct store_panel_project *ps;
    size_t n;
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_project_list(req->db, &ps, &n, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "name", ps[i].name, "created",
                                             (json_int_t)ps[i].created, "updated",
                                             (json_int_t)ps[i].updated));
    store_panel_projects_free(ps, n);
    srv_reply_json(resp, 200, json_pack("{s:o}", "projects", arr));
}

void srv_api_projects_create(struct srv_req *req, struct srv_resp *resp)
{
    json_t *body = srv_req_body(req, resp);
    if (!body)
        return;
    struct zp_err err;
    zp_err_init(&err);
    char *env = NULL, *dir = NULL, *staged = NULL;
    const char *name = json_string_value(json_object_get(body, "name"));
    json_t *compose = json_object_get(body, "compose");
    if (!name || !store_project_name_valid(name)) {
        srv_reply_error(resp, 400, "bad_request", NULL,
                        "name: a project name is required (lowercase letters, digits, '-' and "
                        "'_', starting with a letter or a digit)");
        goto out;
    }
    if (!json_is_string(compose)) {
        srv_reply_error(resp, 400, "bad_request", NULL,
                        "compose: the compose file's text is "
                        "required (a string)");
        goto out;
    }
    if (!read_env(body, resp, &env))
        goto out;
    /* ssh: the server the project deploys to */
    if (srv_project_server_check(req->srv->state_dir, json_object_get(body, "server"), &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    staged =
        stage(req->srv, name, json_string_value(compose), json_string_length(compose), env, resp);
    if (!staged)
        goto out;
    char *sealed = NULL;
    if (store_env_seal(req->srv->state_dir, env, &sealed, &err) != 0 ||
        store_panel_project_add(req->db, name, sealed, &err) != 0) {
        free(sealed);
        unstage(staged);
        srv_reply_zerr(resp, &err);
        goto out;
    }
    free(sealed);
    dir = srv_project_dir(req->srv->state_dir, name);
    if (rename(staged, dir) != 0) {
        zp_err_sys(&err, "moving the project into '%s'", dir);
        unstage(staged);
        struct zp_err e2;
        zp_err_init(&e2);
        store_panel_project_delete(req->db, name, &e2);
        srv_reply_zerr(resp, &err);
        goto out;
    }
    struct store_panel_project p;
    if (srv_project_server_set(req->srv->state_dir, name, json_object_get(body, "server"), &err) !=
            0 ||
        store_panel_project_get(req->db, name, &p, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    json_t *pj = project_json(&p);
    srv_project_server_json(req->srv->state_dir, name, pj);
    srv_reply_json(resp, 201, pj);
    store_panel_project_release(&p);
out:
    free(staged);
    free(dir);
    free(env);
    json_decref(body);
}

void srv_api_project_get(struct srv_req *req, struct srv_resp *resp)
{
    struct store_panel_project p;
    if (!srv_route_project(req, resp, &p))
        return;
    json_t *v = project_json(&p);
    srv_project_server_json(req->srv->state_dir, p.name, v);
    char *dir = srv_project_dir(req->srv->state_dir, p.name);
    char *file = zp_path_join(dir, "compose.yaml");
    char *text = NULL;
    size_t len = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (zp_file_read(file, SRV_BODY_MAX, &text, &len, &err) == 0)
        json_object_set_new(v, "compose", json_stringn(text, len));
    free(text);
    /* services from the files; containers and health from the engine */
    struct zp_diags d;
    zp_diags_init(&d);
    struct compose_project *cp = NULL;
    json_t *services = json_array();
    if (srv_project_load(req->srv->state_dir, dir, p.name, p.env_json, &cp, &d) == 0) {
        const struct zp_node *svcs = zp_node_get(cp->model, "services");
        for (size_t i = 0; svcs && i < svcs->n; i++)
            json_array_append_new(services, json_string(svcs->pairs[i].key->str));
    }
    json_object_set_new(v, "services", services);
    zp_diags_release(&d);
    if (cp) {
        struct orch *o = NULL;
        struct orch_container *cs = NULL;
        size_t n = 0;
        if (orch_new(cp, req->srv->host, NULL, NULL, &o, &err) == 0 &&
            orch_ps(o, NULL, 0, true, &cs, &n, &err) == 0) {
            json_t *arr = json_array();
            for (size_t i = 0; i < n; i++)
                json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I}", "name",
                                                     cs[i].name, "id", cs[i].id, "service",
                                                     cs[i].service, "state", cs[i].state, "health",
                                                     cs[i].health, "exit_code",
                                                     (json_int_t)cs[i].exit_code));
            json_object_set_new(v, "containers", arr);
        } else {
            json_object_set_new(v, "containers", json_null());
            json_object_set_new(v, "engine_error", json_string(err.msg));
        }
        orch_containers_free(cs, n);
        orch_free(o);
        compose_project_free(cp);
    }
    struct store_job *jobs = NULL;
    size_t nj = 0;
    zp_err_init(&err);
    if (store_panel_job_list(req->db, p.name, -1, 1, &jobs, &nj, &err) == 0 && nj == 1)
        json_object_set_new(v, "last_job", srv_job_json(&jobs[0]));
    else
        json_object_set_new(v, "last_job", json_null());
    store_jobs_free(jobs, nj);
    free(file);
    free(dir);
    store_panel_project_release(&p);
    srv_reply_json(resp, 200, v);
}

void srv_api_project_put(struct srv_req *req, struct srv_resp *resp)
{
    struct store_panel_project p;
    if (!srv_route_project(req, resp, &p))
        return;
    struct zp_err err;
    zp_err_init(&err);
    char *env = NULL, *staged = NULL, *dir = srv_project_dir(req->srv->state_dir, p.name);
    json_t *body = srv_req_body(req, resp);
    if (!body)
        goto out;
    json_t *compose = json_object_get(body, "compose");
    if (compose && !json_is_string(compose)) {
        srv_reply_error(resp, 400, "bad_request", NULL, "compose: must be a string");
        goto out;
    }
    if (!read_env(body, resp, &env))
        goto out;
    if (srv_project_server_check(req->srv->state_dir, json_object_get(body, "server"), &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    const char *use_env = env ? env : p.env_json;
    if (compose) {
        staged = stage(req->srv, p.name, json_string_value(compose), json_string_length(compose),
                       use_env, resp);
        if (!staged)
            goto out;
    } else if (!validate(req->srv->state_dir, dir, p.name, use_env, resp)) {
        goto out;
    }
    char *sealed = NULL;
    if ((env && store_env_seal(req->srv->state_dir, env, &sealed, &err) != 0) ||
        store_panel_project_update(req->db, p.name, sealed, &err) != 0) {
        free(sealed);
        srv_reply_zerr(resp, &err);
        goto out;
    }
    free(sealed);
    if (staged) {
        char *from = zp_path_join(staged, "compose.yaml");
        char *to = zp_path_join(dir, "compose.yaml");
        int rrc = rename(from, to);
        if (rrc != 0)
            zp_err_sys(&err, "replacing '%s'", to);
        free(from);
        free(to);
        if (rrc != 0) {
            srv_reply_zerr(resp, &err);
            goto out;
        }
    }
    store_panel_project_release(&p);
    if (srv_project_server_set(req->srv->state_dir, req->params[0], json_object_get(body, "server"),
                               &err) != 0 ||
        store_panel_project_get(req->db, req->params[0], &p, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    json_t *pj = project_json(&p);
    srv_project_server_json(req->srv->state_dir, p.name, pj);
    srv_reply_json(resp, 200, pj);
out:
    if (staged) {
        unstage(staged);
        free(staged);
    }
    free(dir);
    free(env);
    json_decref(body);
    store_panel_project_release(&p);
}

/* Queue a job of kind for the route's project with args (stolen; NULL: {}): 202. */
static void queue_job(struct srv_req *req, struct srv_resp *resp, const char *kind, json_t *args)
{
    struct store_panel_project p;
    if (!srv_route_project(req, resp, &p)) {
        json_decref(args);
        return;
    }
    srv_queue_job(req, resp, p.name, kind, args);
    store_panel_project_release(&p);
}

/* The optional JSON body of an action (empty: {}); NULL with the reply set on errors. */
static json_t *action_body(struct srv_req *req, struct srv_resp *resp)
{
    return req->body_len == 0 ? json_object() : srv_req_body(req, resp);
}

void srv_api_project_delete(struct srv_req *req, struct srv_resp *resp)
{
    const char *v = srv_req_query(req, "volumes");
    if (v && strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
        srv_reply_error(resp, 400, "bad_request", NULL, "volumes: '%s' is not true or false", v);
        return;
    }
    queue_job(req, resp, "delete", json_pack("{s:b}", "volumes", v && strcmp(v, "true") == 0));
}

void srv_api_project_deploy(struct srv_req *req, struct srv_resp *resp)
{
    json_t *b = action_body(req, resp);
    if (!b)
        return;
    json_decref(b);
    queue_job(req, resp, "deploy", NULL);
}

void srv_api_project_stop(struct srv_req *req, struct srv_resp *resp)
{
    json_t *b = action_body(req, resp);
    if (b)
        queue_job(req, resp, "stop", b);
}

void srv_api_project_start(struct srv_req *req, struct srv_resp *resp)
{
    json_t *b = action_body(req, resp);
    if (b)
        queue_job(req, resp, "start", b);
}

void srv_api_project_restart(struct srv_req *req, struct srv_resp *resp)
{
    json_t *b = action_body(req, resp);
    if (b)
        queue_job(req, resp, "restart", b);
}

/* {"release": N} (optional, N >= 1; none: the release before the running one) */
void srv_api_project_rollback(struct srv_req *req, struct srv_resp *resp)
{
    json_t *b = action_body(req, resp);
    if (!b)
        return;
    json_t *r = json_object_get(b, "release");
    if (r && !json_is_null(r) && (!json_is_integer(r) || json_integer_value(r) < 1)) {
        json_decref(b);
        srv_reply_error(resp, 400, "bad_request", NULL, "release: not a release number (>= 1)");
        return;
    }
    json_t *args = json_object();
    if (json_is_integer(r))
        json_object_set_new(args, "release", json_integer(json_integer_value(r)));
    json_decref(b);
    queue_job(req, resp, "rollback", args);
}

/* {"services": ["db"], "stop": true} (both optional) */
void srv_api_project_backup(struct srv_req *req, struct srv_resp *resp)
{
    json_t *b = action_body(req, resp);
    if (!b)
        return;
    json_t *svcs = json_object_get(b, "services");
    json_t *stop = json_object_get(b, "stop");
    const char *bad = NULL;
    if (svcs && !json_is_array(svcs))
        bad = "services: not an array of service names";
    for (size_t i = 0; !bad && svcs && i < json_array_size(svcs); i++) {
        const char *n = json_string_value(json_array_get(svcs, i));
        if (n == NULL || *n == '\0')
            bad = "services: not an array of service names";
    }
    if (!bad && stop && !json_is_boolean(stop))
        bad = "stop: not true or false";
    if (bad) {
        json_decref(b);
        srv_reply_error(resp, 400, "bad_request", NULL, "%s", bad);
        return;
    }
    json_t *args = json_pack("{s:b}", "stop", json_is_true(stop));
    json_object_set_new(args, "services", svcs ? json_incref(svcs) : json_array());
    json_decref(b);
    queue_job(req, resp, "backup", args);
}

void srv_api_project_releases(struct srv_req *req, struct srv_resp *resp)
{
    struct store_panel_project p;
    if (!srv_route_project(req, resp, &p))
        return;
    json_t *arr = json_array();
    struct zp_err err;
    zp_err_init(&err);
    if (store_exists(req->srv->state_dir, p.name)) {
        struct store *st = NULL;
        struct store_release *rs = NULL;
        size_t n = 0;
        if (store_open(req->srv->state_dir, p.name, &st, &err) != 0 ||
            store_release_list(st, &rs, &n, &err) != 0) {
            store_close(st);
            json_decref(arr);
            store_panel_project_release(&p);
            srv_reply_zerr(resp, &err);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *svcs = json_array();
            for (size_t k = 0; k < rs[i].nservices; k++)
                json_array_append_new(svcs, json_pack("{s:s, s:s, s:s}", "service",
                                                      rs[i].services[k].service, "image",
                                                      rs[i].services[k].image_ref, "image_id",
                                                      rs[i].services[k].image_id));
            json_array_append_new(
                arr, json_pack("{s:I, s:I, s:s, s:s, s:I, s:s?, s:o}", "id", (json_int_t)rs[i].id,
                               "created", (json_int_t)rs[i].created, "kind", rs[i].kind, "status",
                               store_release_status_name(rs[i].status), "source",
                               (json_int_t)rs[i].source, "note", rs[i].note, "services", svcs));
        }
        store_releases_free(rs, n);
        store_close(st);
    }
    store_panel_project_release(&p);
    srv_reply_json(resp, 200, json_pack("{s:o}", "releases", arr));
}

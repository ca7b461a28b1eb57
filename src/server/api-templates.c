/* server/api-templates: /api/v1/templates: the catalogue (built-ins and the user's
 * directory), one template's header and text, and deploying one: rendered with the
 * project's stored values, registered as a project (its environment sealed in the
 * database like any project's) and deployed by a queued `deploy` job. And a project's
 * template actions (/api/v1/projects/{name}/actions): listed, and run synchronously
 * through release/action.c, the answer carrying the exit code and output. */
#define _GNU_SOURCE
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "../orchestrator/orchestrator.h"
#include "../release/action.h"
#include "../store/store.h"
#include "../template/template.h"
#include "server-int.h"

#include "../util/banned.h"

static int load_catalog(struct server *s, struct template_catalog *c, struct zp_err *err)
{
    char *udir = template_user_dir(s->state_dir);
    int rc = template_catalog_load(udir, c, err);
    free(udir);
    return rc;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *entry_json(const struct template_entry *e, bool full)
{
    json_t *tags = json_array();
    for (size_t i = 0; i < e->header.ntags; i++)
        json_array_append_new(tags, json_string(e->header.tags[i]));
    json_t *v = json_pack("{s:s, s:o, s:o, s:o, s:o, s:b}", "name", e->name, "slogan",
                          str_or_null(e->header.slogan), "category",
                          str_or_null(e->header.category), "tags", tags, "origin",
                          json_string(e->origin), "minimal", e->header.nminimal > 0);
    if (full) {
        json_object_set_new(v, "documentation", str_or_null(e->header.documentation));
        json_object_set_new(v, "logo", str_or_null(e->header.logo));
        json_object_set_new(v, "port", e->header.port ? json_integer(e->header.port) : json_null());
        json_object_set_new(v, "text", json_stringn(e->text, e->len));
    }
    return v;
}

void srv_api_templates_list(struct srv_req *req, struct srv_resp *resp)
{
    struct template_catalog c;
    struct zp_err err;
    zp_err_init(&err);
    if (load_catalog(req->srv, &c, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    const char *search = srv_req_query(req, "search");
    json_t *arr = json_array();
    for (size_t i = 0; i < c.n; i++)
        if (!c.items[i].header.ignore && (!search || template_entry_matches(&c.items[i], search)))
            json_array_append_new(arr, entry_json(&c.items[i], false));
    template_catalog_release(&c);
    srv_reply_json(resp, 200, json_pack("{s:o}", "templates", arr));
}

void srv_api_template_get(struct srv_req *req, struct srv_resp *resp)
{
    struct template_catalog c;
    struct zp_err err;
    zp_err_init(&err);
    if (load_catalog(req->srv, &c, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    const struct template_entry *e = template_catalog_find(&c, req->params[0]);
    if (!e) {
        srv_reply_error(resp, 404, "not_found", NULL, "no template '%s'", req->params[0]);
    } else {
        /* the variables a deploy asks for: render with a throw-away state */
        json_t *v = entry_json(e, true);
        struct compose_env st;
        compose_env_init(&st);
        struct zp_diags d;
        zp_diags_init(&d);
        struct template_render_opts o = {"preview", NULL, false, NULL, true};
        struct template_rendered r;
        json_t *vars = json_array();
        if (template_render(e->name, e->text, e->len, &o, &st, &r, &d) == 0) {
            for (size_t i = 0; i < r.nvars; i++)
                json_array_append_new(vars, json_pack("{s:s, s:o, s:b}", "name", r.vars[i].name,
                                                      "default", str_or_null(r.vars[i].def),
                                                      "required", r.vars[i].required));
            template_rendered_release(&r);
        } else {
            /* required variables stop a render without --set: list them from the errors */
            for (size_t i = 0; i < d.n; i++)
                json_array_append_new(vars, json_pack("{s:s}", "problem", d.items[i].msg));
        }
        json_object_set_new(v, "variables", vars);
        zp_diags_release(&d);
        compose_env_release(&st);
        srv_reply_json(resp, 200, v);
    }
    template_catalog_release(&c);
}

/* {"project": P, "domain": D, "minimal": bool, "set": {K: V}}: all optional. */
void srv_api_template_deploy(struct srv_req *req, struct srv_resp *resp)
{
    struct server *s = req->srv;
    struct zp_err err;
    zp_err_init(&err);
    json_t *body = NULL;
    struct template_catalog c = {NULL, 0};
    struct compose_env st, set;
    compose_env_init(&st);
    compose_env_init(&set);
    char *dir = NULL, *env_json = NULL, *sealed = NULL, *args = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    bool rendered = false;
    struct template_rendered r;
    if (req->body_len == 0)
        body = json_object();
    else if (srv_json_parse_object(req->body, req->body_len, &body, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    if (load_catalog(s, &c, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    const struct template_entry *e = template_catalog_find(&c, req->params[0]);
    if (!e) {
        srv_reply_error(resp, 404, "not_found", NULL, "no template '%s'", req->params[0]);
        goto out;
    }
    json_t *jp = json_object_get(body, "project");
    const char *project = jp ? json_string_value(jp) : e->name;
    if (!project || !store_project_name_valid(project)) {
        srv_reply_error(resp, 400, "bad_request", NULL, "project: not a valid project name");
        goto out;
    }
    json_t *jd = json_object_get(body, "domain");
    const char *domain = jd && !json_is_null(jd) ? json_string_value(jd) : NULL;
    if ((jd && !json_is_null(jd) && !domain) || (domain && !zp_hostname_valid(domain, false))) {
        srv_reply_error(resp, 400, "bad_request", NULL, "domain: not a host name");
        goto out;
    }
    json_t *jm = json_object_get(body, "minimal");
    if (jm && !json_is_boolean(jm)) {
        srv_reply_error(resp, 400, "bad_request", NULL, "minimal: must be true or false");
        goto out;
    }
    json_t *jset = json_object_get(body, "set");
    if (jset && !json_is_object(jset)) {
        srv_reply_error(resp, 400, "bad_request", NULL, "set: must be an object of strings");
        goto out;
    }
    const char *k;
    json_t *jv;
    if (jset)
        json_object_foreach(jset, k, jv)
        {
            if (!json_is_string(jv)) {
                srv_reply_error(resp, 400, "bad_request", NULL, "set.%s: must be a string", k);
                goto out;
            }
            compose_env_set(&set, k, json_string_value(jv));
        }
    if (template_state_load(s->state_dir, project, &st, NULL, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    struct template_render_opts o = {project, domain, jm && json_is_true(jm), &set, false};
    if (template_render(e->name, e->text, e->len, &o, &st, &r, &d) != 0) {
        json_t *details = json_array();
        for (size_t i = 0; i < d.n; i++)
            if (d.items[i].sev == ZP_SEV_ERROR)
                json_array_append_new(
                    details, json_pack("{s:i, s:i, s:s?, s:s}", "line", d.items[i].pos.line,
                                       "column", d.items[i].pos.col, "path", d.items[i].path,
                                       "message", d.items[i].msg));
        srv_reply_error(resp, 422, "invalid_template", details, "the template does not render");
        goto out;
    }
    rendered = true;
    if (template_state_save(s->state_dir, project, &st, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    /* the project: compose.yaml and the template's files; its environment sealed in the
     * database (no .env on disk) */
    dir = srv_project_dir(s->state_dir, project);
    if (template_write_project(&r, dir, false, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    json_t *env = json_object();
    for (size_t i = 0; i < r.env.n; i++)
        json_object_set_new(env, r.env.keys[i], json_string(r.env.vals[i]));
    env_json = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(env);
    if (store_env_seal(s->state_dir, env_json, &sealed, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    int rc = store_panel_project_add(req->db, project, sealed, &err);
    if (rc == ZP_E_CONFLICT) {
        zp_err_init(&err);
        rc = store_panel_project_update(req->db, project, sealed, &err);
    }
    if (rc != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    json_t *ja = json_pack("{s:s}", "template", e->name);
    args = json_dumps(ja, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(ja);
    struct store_job j;
    memset(&j, 0, sizeof(j));
    j.project = (char *)project;
    j.kind = (char *)"deploy";
    j.args_json = args;
    j.user = req->authed ? req->auth.user : NULL;
    if (store_panel_job_add(req->db, &j, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    srv_jobs_kick(s->jobs);
    srv_reply_json(resp, 202, json_pack("{s:s, s:o}", "project", project, "job", srv_job_json(&j)));
out:
    if (rendered)
        template_rendered_release(&r);
    if (env_json) {
        sodium_memzero(env_json, strlen(env_json));
        free(env_json);
    }
    free(sealed);
    free(args);
    free(dir);
    zp_diags_release(&d);
    compose_env_release(&st);
    compose_env_release(&set);
    template_catalog_release(&c);
    json_decref(body);
}

/* ---- actions: GET /projects/{name}/actions, POST /projects/{name}/actions/{action} ---- */

#define ACTION_OUTPUT_MAX (1024 * 1024) /* the output an answer carries; the rest is cut */

/* The route's registered project, loaded with its environment; on failure the reply is set. */
static bool load_project(struct srv_req *req, struct srv_resp *resp, struct compose_project **ret)
{
    struct store_panel_project p;
    struct zp_err err;
    zp_err_init(&err);
    if (!store_project_name_valid(req->params[0])) {
        srv_reply_error(resp, 404, "not_found", NULL, "no such project '%s'", req->params[0]);
        return false;
    }
    if (store_panel_project_get(req->db, req->params[0], &p, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return false;
    }
    char *dir = srv_project_dir(req->srv->state_dir, p.name);
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = srv_project_load(req->srv->state_dir, dir, p.name, p.env_json, ret, &d);
    zp_diags_release(&d);
    free(dir);
    store_panel_project_release(&p);
    if (rc != 0)
        srv_reply_error(resp, 500, "internal", NULL, "the stored project no longer loads");
    return rc == 0;
}

void srv_api_project_actions(struct srv_req *req, struct srv_resp *resp)
{
    struct compose_project *cp = NULL;
    if (!load_project(req, resp, &cp))
        return;
    struct release_action *a = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (release_actions_list(cp->model, &a, &n, &err) != 0) {
        srv_reply_error(resp, 422, "invalid_project", NULL, "%s", err.msg);
        goto out;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *cmd = json_array();
        for (size_t k = 0; k < a[i].argc; k++)
            json_array_append_new(cmd, json_string(a[i].argv[k]));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o}", "name", a[i].name, "service",
                                             a[i].service, "command", cmd, "description",
                                             str_or_null(a[i].description)));
    }
    srv_reply_json(resp, 200, json_pack("{s:o}", "actions", arr));
out:
    release_actions_free(a, n);
    compose_project_free(cp);
}

struct action_out {
    struct zp_buf b;
    bool truncated;
};

static int collect(void *ctx, enum engine_stream stream, const char *data, size_t len,
                   struct zp_err *err)
{
    (void)stream;
    (void)err;
    struct action_out *o = ctx;
    size_t room = ACTION_OUTPUT_MAX - o->b.len;
    if (len > room) {
        len = room;
        o->truncated = true;
    }
    if (len > 0 && zp_buf_add(&o->b, data, len) != 0)
        o->truncated = true;
    return 0; /* keep reading to the end: the exit code comes after the output */
}

/* {"args": [strings]} (optional): the action runs synchronously; the answer carries its
 * exit code and output (stdout and stderr interleaved, at most 1 MiB). */
void srv_api_project_action(struct srv_req *req, struct srv_resp *resp)
{
    json_t *body = NULL;
    struct compose_project *cp = NULL;
    struct orch *o = NULL;
    const char **args = NULL;
    size_t nargs = 0;
    struct action_out out = {ZP_BUF_INIT, false};
    struct zp_err err;
    zp_err_init(&err);
    if (req->body_len == 0)
        body = json_object();
    else if (srv_json_parse_object(req->body, req->body_len, &body, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    json_t *ja = json_object_get(body, "args");
    if (ja && !json_is_array(ja)) {
        srv_reply_error(resp, 400, "bad_request", NULL, "args: must be a list of strings");
        goto out;
    }
    nargs = ja ? json_array_size(ja) : 0;
    args = zp_calloc(nargs + 1, sizeof(*args));
    for (size_t i = 0; i < nargs; i++) {
        args[i] = json_string_value(json_array_get(ja, i));
        if (!args[i]) {
            srv_reply_error(resp, 400, "bad_request", NULL, "args[%zu]: must be a string", i);
            goto out;
        }
    }
    if (!load_project(req, resp, &cp))
        goto out;
    /* an unknown action or bad arguments before any engine call */
    struct release_action a;
    if (release_action_resolve(cp->model, req->params[1], args, nargs, &a, &err) != 0) {
        if (err.code == ZP_E_NOTFOUND)
            srv_reply_error(resp, 404, "not_found", NULL, "project '%s': %s", cp->name, err.msg);
        else
            srv_reply_error(resp, 400, "bad_request", NULL, "%s", err.msg);
        goto out;
    }
    char *service = zp_strdup(a.service);
    release_action_release(&a);
    if (orch_new(cp, req->srv->host, NULL, NULL, &o, &err) != 0) {
        free(service);
        srv_reply_zerr(resp, &err);
        goto out;
    }
    struct release_action_io io = {collect, &out, -1};
    int64_t code = 0;
    if (release_action_run(o, cp, req->params[1], args, nargs, &io, &code, &err) != 0) {
        free(service);
        srv_reply_zerr(resp, &err);
        goto out;
    }
    srv_reply_json(resp, 200,
                   json_pack("{s:s, s:s, s:s, s:I, s:s%, s:b}", "project", cp->name, "action",
                             req->params[1], "service", service, "exit_code", (json_int_t)code,
                             "output", out.b.p ? out.b.p : "", out.b.len, "truncated",
                             out.truncated));
    free(service);
out:
    zp_buf_release(&out.b);
    free(args);
    orch_free(o);
    compose_project_free(cp);
    json_decref(body);
}

/* server/api-dashboard: the routes the web dashboard needs beyond the core API: who is
 * signed in (GET /me), the state of every project as server-sent events (GET /events: a
 * snapshot whenever a job moves or every few seconds when it changed: containers, health,
 * CPU and memory, routes, the last job), a service's health explained (GET
 * /projects/{name}/health), the project's backups (list, download, restore as a job) and
 * the proxy's routes. Everything the dashboard shows comes from the API. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../backup/plan.h"
#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "../orchestrator/routes.h"
#include "../orchestrator/status.h"
#include "../proxy/proxy.h"
#include "../store/store.h"
#include "server-int.h"

#include "../util/banned.h"

#define EVENTS_REFRESH_MS 5000    /* a snapshot at least this often (CPU, memory, health) */
#define EVENTS_KEEPALIVE_MS 15000 /* a comment when nothing changed for this long */
#define BACKUPS_MAX 1000

void srv_api_me(struct srv_req *req, struct srv_resp *resp)
{
    srv_reply_json(resp, 200,
                   json_pack("{s:s, s:s, s:s, s:b}", "user", req->auth.user ? req->auth.user : "",
                             "role", store_role_name(req->auth.role), "scope",
                             store_scope_name(req->auth.scope), "session", req->by_cookie));
}

/* ---- one project's state ---- */

/* The loaded project of name (its stored compose file and env), or NULL. */
static struct compose_project *load(struct server *s, const struct store_panel_project *p)
{
    char *dir = srv_project_dir(s->state_dir, p->name);
    struct zp_diags d;
    zp_diags_init(&d);
    struct compose_project *cp = NULL;
    if (srv_project_load(s->state_dir, dir, p->name, p->env_json, &cp, &d) != 0)
        cp = NULL;
    zp_diags_release(&d);
    free(dir);
    return cp;
}

/* [{"service", "hosts": [...], "paths": [...], "port"}] of the project's x-zpanel routes */
static json_t *routes_json(const struct compose_project *cp)
{
    json_t *arr = json_array();
    const struct zp_node *svcs = zp_node_get(cp->model, "services");
    for (size_t i = 0; svcs && i < svcs->n; i++) {
        struct proxy_site site;
        bool routed = false;
        struct zp_err err;
        zp_err_init(&err);
        if (orch_service_site(cp, svcs->pairs[i].key->str, svcs->pairs[i].value, &site, &routed,
                              &err) != 0 ||
            !routed)
            continue;
        for (size_t r = 0; r < site.nroutes; r++) {
            json_t *hosts = json_array(), *paths = json_array();
            for (size_t h = 0; h < site.routes[r].nhosts; h++)
                json_array_append_new(hosts, json_string(site.routes[r].hosts[h]));
            for (size_t h = 0; h < site.routes[r].npaths; h++)
                json_array_append_new(paths, json_string(site.routes[r].paths[h]));
            json_array_append_new(arr, json_pack("{s:s, s:o, s:o, s:i}", "service", site.service,
                                                 "hosts", hosts, "paths", paths, "port",
                                                 site.routes[r].port));
        }
        proxy_site_release(&site);
    }
    return arr;
}

/* The rows of orch_status as JSON (usage unless no_usage); NULL with err on failure. cache
 * (may be NULL): container name -> its last usage, updated from a sampled row and copied
 * into a row that was not sampled. */
static json_t *status_json(struct orch *o, bool no_usage, bool details, json_t *cache,
                           struct zp_err *err)
{
    struct orch_status_opts so;
    memset(&so, 0, sizeof(so));
    so.no_usage = no_usage;
    struct orch_status_row *rows = NULL;
    size_t n = 0;
    if (orch_status(o, &so, &rows, &n, err) != 0)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct orch_status_row *r = &rows[i];
        json_t *row = json_pack("{s:s, s:s?, s:s, s:s?, s:s, s:s?}", "service", r->service, "name",
                                r->name, "state", r->state, "health", r->health, "verdict",
                                orch_verdict_name(r->verdict), "reason", r->reason);
        if (r->have_usage) {
            json_t *u =
                json_pack("{s:f, s:I, s:I}", "cpu_percent", r->cpu_avg_percent, "mem_used",
                          (json_int_t)r->mem_used, "mem_limit", (json_int_t)r->mem_cgroup_limit);
            json_object_update(row, u);
            if (cache && r->name)
                json_object_set(cache, r->name, u);
            json_decref(u);
        } else if (cache && r->name && no_usage && strcmp(r->state, "running") == 0) {
            json_t *u = json_object_get(cache, r->name);
            if (u)
                json_object_update(row, u);
        }
        if (details) {
            json_object_set_new(row, "health_output",
                                r->health_output ? json_string(r->health_output) : json_null());
            json_object_set_new(row, "exit_code", json_integer((json_int_t)r->exit_code));
            json_object_set_new(row, "oom_killed", json_boolean(r->oom_killed));
            json_object_set_new(row, "restart_count", json_integer((json_int_t)r->restart_count));
            json_object_set_new(row, "restart_policy",
                                json_string(r->restart_policy ? r->restart_policy : ""));
            json_object_set_new(row, "uptime_s", json_integer((json_int_t)r->uptime_s));
            json_object_set_new(row, "image", r->image ? json_string(r->image) : json_null());
        }
        json_array_append_new(arr, row);
    }
    orch_status_rows_free(rows, n);
    return arr;
}

/* {"name", "services", "containers" (or "engine_error"), "routes", "last_job"} */
static json_t *project_state(struct server *s, struct store_panel *db,
                             const struct store_panel_project *p, bool no_usage, json_t *cache)
{
    json_t *v = json_pack("{s:s}", "name", p->name);
    struct compose_project *cp = load(s, p);
    json_t *services = json_array();
    if (cp) {
        const struct zp_node *svcs = zp_node_get(cp->model, "services");
        for (size_t i = 0; svcs && i < svcs->n; i++)
            json_array_append_new(services, json_string(svcs->pairs[i].key->str));
        json_object_set_new(v, "routes", routes_json(cp));
        struct orch *o = NULL;
        struct zp_err err;
        zp_err_init(&err);
        json_t *rows = NULL;
        if (orch_new(cp, s->host, NULL, NULL, &o, &err) == 0)
            rows = status_json(o, no_usage, false, cache, &err);
        orch_free(o);
        if (rows)
            json_object_set_new(v, "containers", rows);
        else
            json_object_set_new(v, "engine_error", json_string(err.msg));
        compose_project_free(cp);
    } else {
        json_object_set_new(v, "routes", json_array());
        json_object_set_new(v, "engine_error", json_string("the stored project no longer loads"));
    }
    json_object_set_new(v, "services", services);
    struct store_job *jobs = NULL;
    size_t nj = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_job_list(db, p->name, -1, 1, &jobs, &nj, &err) == 0 && nj == 1)
        json_object_set_new(v, "last_job", srv_job_json(&jobs[0]));
    else
        json_object_set_new(v, "last_job", json_null());
    store_jobs_free(jobs, nj);
    return v;
}

/* ---- GET /events ---- */

struct events {
    struct server *srv;
    struct store_panel *db;
    struct zp_buf out; /* bytes not sent yet */
    size_t off;
    char *last;    /* the last snapshot sent */
    json_t *usage; /* container name -> its last sampled usage */
    uint64_t seen;
    int64_t next_ms, sent_ms;
    int64_t id;
};

static void events_free(void *cls)
{
    struct events *ev = cls;
    store_panel_close(ev->db);
    zp_buf_release(&ev->out);
    free(ev->last);
    json_decref(ev->usage);
    free(ev);
}

static char *snapshot(struct events *ev, bool no_usage)
{
    struct store_panel_project *ps = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    json_t *arr = json_array();
    if (store_panel_project_list(ev->db, &ps, &n, &err) == 0)
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, project_state(ev->srv, ev->db, &ps[i], no_usage, ev->usage));
    store_panel_projects_free(ps, n);
    json_t *v = json_pack("{s:o}", "projects", arr);
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(v);
    srv_jobs_note_garbage(ev->srv->jobs);
    return text;
}

static ssize_t events_read(void *cls, char *buf, size_t max)
{
    struct events *ev = cls;
    for (;;) {
        if (ev->off < ev->out.len) {
            size_t k = ev->out.len - ev->off;
            if (k > max)
                k = max;
            memcpy(buf, ev->out.p + ev->off, k);
            ev->off += k;
            if (ev->off == ev->out.len) {
                ev->out.len = 0;
                ev->off = 0;
            }
            return (ssize_t)k;
        }
        if (atomic_load(&ev->srv->stopping))
            return -1;
        int64_t now = srv_now_ms();
        uint64_t seq = srv_jobs_seq(ev->srv->jobs);
        bool due = now >= ev->next_ms;
        if (seq != ev->seen || due) {
            /* usage (one stats call per container, answered at the engine's next tick) only
             * on the periodic refresh: the first snapshot and those after a job moved come
             * at once, with the last usage sampled */
            bool first = ev->last == NULL;
            ev->seen = seq;
            if (due)
                ev->next_ms = first ? now : now + EVENTS_REFRESH_MS;
            char *text = snapshot(ev, first || !due);
            if (text && (!ev->last || strcmp(text, ev->last) != 0)) {
                zp_buf_addf(&ev->out, "event: projects\nid: %lld\ndata: %s\n\n",
                            (long long)++ev->id, text);
                free(ev->last);
                ev->last = text;
                ev->sent_ms = now;
            } else {
                free(text);
            }
            continue;
        }
        if (now - ev->sent_ms >= EVENTS_KEEPALIVE_MS) {
            zp_buf_adds(&ev->out, ": keep-alive\n\n");
            ev->sent_ms = now;
            continue;
        }
        int64_t wait = ev->next_ms - now;
        srv_jobs_wait(ev->srv->jobs, ev->seen, (int)(wait > 1000 ? 1000 : wait));
    }
}

void srv_api_events(struct srv_req *req, struct srv_resp *resp)
{
    struct events *ev = zp_calloc(1, sizeof(*ev));
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_open(req->srv->state_dir, &ev->db, &err) != 0) {
        free(ev);
        srv_reply_zerr(resp, &err);
        return;
    }
    ev->srv = req->srv;
    ev->usage = json_object();
    zp_buf_init(&ev->out, 0);
    zp_buf_adds(&ev->out, "retry: 2000\n\n");
    ev->seen = srv_jobs_seq(req->srv->jobs);
    resp->status = 200;
    resp->type = "text/event-stream";
    resp->stream = events_read;
    resp->stream_cls = ev;
    resp->stream_free = events_free;
}

/* ---- GET /projects/{name}/health ---- */

/* The route's registered project, loaded; on failure the reply is set. */
static struct compose_project *route_project(struct srv_req *req, struct srv_resp *resp)
{
    struct store_panel_project p;
    if (!srv_route_project(req, resp, &p))
        return NULL;
    struct compose_project *cp = load(req->srv, &p);
    store_panel_project_release(&p);
    if (!cp)
        srv_reply_error(resp, 500, "internal", NULL, "the stored project no longer loads");
    return cp;
}

void srv_api_project_health(struct srv_req *req, struct srv_resp *resp)
{
    struct compose_project *cp = route_project(req, resp);
    if (!cp)
        return;
    struct orch *o = NULL;
    struct zp_err err;
    zp_err_init(&err);
    json_t *rows = NULL;
    if (orch_new(cp, req->srv->host, NULL, NULL, &o, &err) == 0)
        rows = status_json(o, true, true, NULL, &err);
    orch_free(o);
    compose_project_free(cp);
    if (!rows) {
        srv_reply_zerr(resp, &err);
        return;
    }
    srv_reply_json(resp, 200, json_pack("{s:o}", "containers", rows));
}

/* ---- backups ---- */

static int cmp_backup(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t tx = json_integer_value(json_object_get(x, "created"));
    json_int_t ty = json_integer_value(json_object_get(y, "created"));
    if (tx != ty)
        return tx > ty ? -1 : 1;
    return strcmp(json_string_value(json_object_get(y, "name")),
                  json_string_value(json_object_get(x, "name")));
}

void srv_api_project_backups(struct srv_req *req, struct srv_resp *resp)
{
    struct compose_project *cp = route_project(req, resp);
    if (!cp)
        return;
    /* what a restore replaces: the project's volumes, and the services using them */
    json_t *replaces = json_array(), *services = json_array();
    struct backup_plan plan;
    memset(&plan, 0, sizeof(plan));
    struct zp_err err;
    zp_err_init(&err);
    if (backup_plan_build(cp, NULL, 0, NULL, 0, true, &plan, &err) == 0) {
        const char **users = NULL;
        size_t nu = 0;
        for (size_t i = 0; i < plan.nvolumes; i++) {
            json_array_append_new(replaces, json_string(plan.volumes[i].name));
            backup_plan_add_users(&plan.volume_users[i], &users, &nu);
        }
        for (size_t i = 0; i < nu; i++)
            json_array_append_new(services, json_string(users[i]));
        free(users);
    }
    backup_plan_release(&plan);
    compose_project_free(cp);
    char *dir = srv_backup_dir(req->srv->state_dir, req->params[0]);
    json_t **items = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && n < BACKUPS_MAX && (e = readdir(d));) {
        struct stat st;
        if (!srv_backup_name_valid(e->d_name) || fstatat(dirfd(d), e->d_name, &st, 0) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        zp_grow((void **)&items, &cap, n + 1, sizeof(*items));
        items[n++] = json_pack("{s:s, s:I, s:I}", "name", e->d_name, "size", (json_int_t)st.st_size,
                               "created", (json_int_t)st.st_mtime);
    }
    if (d)
        closedir(d);
    free(dir);
    if (n > 1)
        qsort(items, n, sizeof(*items), cmp_backup);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, items[i]);
    free(items);
    srv_reply_json(resp, 200,
                   json_pack("{s:o, s:o, s:o}", "backups", arr, "restore_replaces", replaces,
                             "restore_services", services));
}

struct file_stream {
    int fd;
};

static ssize_t file_read(void *cls, char *buf, size_t max)
{
    struct file_stream *f = cls;
    for (;;) {
        ssize_t n = read(f->fd, buf, max);
        if (n < 0 && errno == EINTR)
            continue;
        return n > 0 ? n : -1;
    }
}

static void file_free(void *cls)
{
    struct file_stream *f = cls;
    close(f->fd);
    free(f);
}

/* the archive path of the route's {name}/{file}, or NULL with the reply set */
static char *backup_path(struct srv_req *req, struct srv_resp *resp, const char *file)
{
    struct store_panel_project p;
    struct zp_err err;
    zp_err_init(&err);
    if (!store_project_name_valid(req->params[0]) ||
        store_panel_project_get(req->db, req->params[0], &p, &err) != 0) {
        srv_reply_error(resp, 404, "not_found", NULL, "no such project '%s'", req->params[0]);
        return NULL;
    }
    store_panel_project_release(&p);
    if (!file || !srv_backup_name_valid(file)) {
        srv_reply_error(resp, 400, "bad_request", NULL, "backup: not the file name of a backup");
        return NULL;
    }
    char *dir = srv_backup_dir(req->srv->state_dir, req->params[0]);
    char *path = zp_path_join(dir, file);
    free(dir);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        srv_reply_error(resp, 404, "not_found", NULL, "project '%s' has no backup '%s'",
                        req->params[0], file);
        free(path);
        return NULL;
    }
    return path;
}

void srv_api_project_backup_get(struct srv_req *req, struct srv_resp *resp)
{
    char *path = backup_path(req, resp, req->params[1]);
    if (!path)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    free(path);
    if (fd < 0) {
        srv_reply_error(resp, 404, "not_found", NULL, "cannot open backup '%s'", req->params[1]);
        return;
    }
    struct file_stream *f = zp_malloc(sizeof(*f));
    f->fd = fd;
    resp->status = 200;
    resp->type = "application/octet-stream";
    resp->disposition = zp_asprintf("attachment; filename=\"%s\"", req->params[1]);
    resp->stream = file_read;
    resp->stream_cls = f;
    resp->stream_free = file_free;
}

/* {"backup": FILE}: a restore job (202) */
void srv_api_project_restore(struct srv_req *req, struct srv_resp *resp)
{
    json_t *body = srv_req_body(req, resp);
    if (!body)
        return;
    const char *file = json_string_value(json_object_get(body, "backup"));
    char *path = backup_path(req, resp, file);
    if (!path) {
        json_decref(body);
        return;
    }
    free(path);
    json_t *args = json_pack("{s:s}", "backup", file);
    json_decref(body);
    srv_queue_job(req, resp, req->params[0], "restore", args);
}

/* ---- GET /proxy/routes ---- */

void srv_api_proxy_routes(struct srv_req *req, struct srv_resp *resp)
{
    struct zp_err err;
    zp_err_init(&err);
    struct engine *e = engine_new(req->srv->host, &err);
    if (!e) {
        srv_reply_zerr(resp, &err);
        return;
    }
    struct proxy_opts po;
    memset(&po, 0, sizeof(po));
    po.state_dir = req->srv->state_dir;
    char **lines = NULL;
    int rc = proxy_routes(e, &po, &lines, &err);
    engine_free(e);
    json_t *arr = json_array();
    if (rc == 0) {
        for (size_t i = 0; lines[i]; i++) {
            json_array_append_new(arr, json_string(lines[i]));
            free(lines[i]);
        }
        free(lines);
    }
    /* a proxy that is not running has no routes: say so instead of failing */
    srv_reply_json(resp, 200,
                   json_pack("{s:o, s:b, s:s?}", "routes", arr, "running", rc == 0, "message",
                             rc == 0 ? NULL : err.msg));
}

/* server/api-servers: remote servers over SSH in the control plane. GET/POST
 * /api/v1/servers and DELETE /api/v1/servers/{name} read and write the same registry as
 * `zpanel server` (STATE/ssh/servers, ssh/servers.c); a project's server is the file
 * STATE/projects/NAME/server (one name); a job of a project with a server runs through a
 * tunnel to it, after its files were synced there (release/remote.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../release/remote.h"
#include "../ssh/ssh.h"
#include "server-int.h"

#include "../util/banned.h"

/* ---- a project's server ---- */

static char *server_file(const char *state_dir, const char *project)
{
    char *dir = srv_project_dir(state_dir, project);
    char *f = zp_path_join(dir, "server");
    free(dir);
    return f;
}

char *srv_project_server(const char *state_dir, const char *project)
{
    char *f = server_file(state_dir, project), *data = NULL;
    size_t len = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (zp_file_exists(f) && zp_file_read(f, 256, &data, &len, &err) == 0) {
        data[strcspn(data, "\n")] = '\0';
        if (!ssh_server_name_valid(data)) {
            free(data);
            data = NULL;
        }
    }
    free(f);
    return data;
}

int srv_project_server_check(const char *state_dir, const json_t *v, struct zp_err *err)
{
    if (!v || json_is_null(v))
        return 0;
    const char *name = json_string_value(v);
    if (!name)
        return zp_err_set(err, ZP_E_INPUT, NULL, "server: a server's name or null is needed");
    struct ssh_servers s;
    int rc = ssh_servers_load(state_dir, &s, err);
    if (rc != 0)
        return rc;
    if (!ssh_servers_find(&s, name))
        rc = zp_err_set(err, ZP_E_INPUT, NULL,
                        "server: no server named '%s' (POST /api/v1/servers adds one)", name);
    ssh_servers_release(&s);
    return rc;
}

int srv_project_server_set(const char *state_dir, const char *project, const json_t *v,
                           struct zp_err *err)
{
    if (!v)
        return 0;
    char *f = server_file(state_dir, project);
    int rc = 0;
    if (json_is_null(v)) {
        if (unlink(f) != 0 && errno != ENOENT)
            rc = zp_err_sys(err, "removing '%s'", f);
    } else {
        char *tmp = zp_asprintf("%s.tmp", f);
        char *line = zp_asprintf("%s\n", json_string_value(v));
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || zp_write_all(fd, line, strlen(line)) != 0 || close(fd) != 0 ||
            rename(tmp, f) != 0) {
            rc = zp_err_sys(err, "writing '%s'", f);
            unlink(tmp);
        }
        free(line);
        free(tmp);
    }
    free(f);
    return rc;
}

void srv_project_server_json(const char *state_dir, const char *project, json_t *v)
{
    char *s = srv_project_server(state_dir, project);
    json_object_set_new(v, "server", s ? json_string(s) : json_null());
    free(s);
}

/* ---- jobs ---- */

int srv_job_remote_open(const char *state_dir, const char *kind, struct compose_project *p,
                        struct srv_job_ctl *ctl, struct ssh_tunnel **ret, struct zp_err *err)
{
    *ret = NULL;
    char *name = srv_project_server(state_dir, p->name);
    if (!name)
        return 0;
    struct ssh_servers servers = {0};
    char *kh = ssh_known_hosts_path(state_dir);
    int rc = ssh_servers_load(state_dir, &servers, err);
    const struct ssh_server *srv = rc == 0 ? ssh_servers_find(&servers, name) : NULL;
    if (rc == 0 && !srv)
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL,
                        "the project's server '%s' is not registered any more", name);
    if (rc != 0)
        goto out;
    struct release_remote r = {.url = srv->url,
                               .name = srv->name,
                               .known_hosts = kh,
                               .identity = srv->identity,
                               .base_dir = srv->base_dir};
    /* the jobs that create containers bring the server's copy of the files up to date */
    bool sync = strcmp(kind, "deploy") == 0;
    struct ssh_sync_stats st;
    memset(&st, 0, sizeof(st));
    struct ssh_connect_opts o = {
        .known_hosts = kh, .identity = srv->identity, .name = srv->name, .registered = true};
    if ((rc = ssh_tunnel_open(srv->url, srv->name, &o, ret, err)) != 0 ||
        (rc = release_remote_proxy_register(&r, *ret, err)) != 0 ||
        (rc = release_remote_prepare(p, &r, sync ? *ret : NULL, &st, err)) != 0) {
        release_remote_proxy_forget(*ret);
        ssh_tunnel_free(*ret);
        *ret = NULL;
        goto out;
    }
    if (sync) {
        char *dir = release_remote_dir(&r, p->name);
        srv_job_log(ctl, "server %s (%s): files in %s: %zu of %zu sent (%llu bytes), %zu removed",
                    srv->name, srv->url, dir, st.sent, st.files, (unsigned long long)st.bytes,
                    st.removed);
        free(dir);
    }
out:
    ssh_servers_release(&servers);
    free(kh);
    free(name);
    return rc;
}

void srv_job_remote_close(struct ssh_tunnel *t, struct srv_job_ctl *ctl, int rc)
{
    if (!t)
        return;
    char *e = rc != 0 ? ssh_tunnel_error(t) : NULL;
    if (e)
        srv_job_log(ctl, "%s", e);
    free(e);
    release_remote_proxy_forget(t);
    ssh_tunnel_free(t);
}

/* ---- the API ---- */

static json_t *server_json(const struct ssh_server *s)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "name", s->name, "url", s->url, "identity",
                     s->identity, "base_dir", s->base_dir ? s->base_dir : SSH_DEFAULT_BASE_DIR);
}

void srv_api_servers_list(struct srv_req *req, struct srv_resp *resp)
{
    struct ssh_servers s;
    struct zp_err err;
    zp_err_init(&err);
    if (ssh_servers_load(req->srv->state_dir, &s, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < s.n; i++)
        json_array_append_new(arr, server_json(&s.items[i]));
    ssh_servers_release(&s);
    srv_reply_json(resp, 200, json_pack("{s:o}", "servers", arr));
}

void srv_api_servers_add(struct srv_req *req, struct srv_resp *resp)
{
    json_t *body = srv_req_body(req, resp);
    if (!body)
        return;
    struct zp_err err;
    zp_err_init(&err);
    static const char *const fields[] = {"name", "url", "fingerprint", "identity", "base_dir"};
    const char *v[5] = {NULL};
    if (!srv_body_strs(body, fields, 5, v, resp))
        goto out;
    struct ssh_server s = {.name = (char *)v[0],
                           .url = (char *)v[1],
                           .identity = (char *)v[3],
                           .base_dir = (char *)v[4]};
    char *fp = NULL, *pub = NULL;
    if (ssh_server_register(req->srv->state_dir, &s, v[2], &fp, &pub, &err) != 0) {
        if (err.code == ZP_E_CONFLICT && !strstr(err.msg, "exists already"))
            srv_reply_error(resp, 400, "bad_request", NULL, "%s", err.msg); /* host key */
        else
            srv_reply_zerr(resp, &err);
        goto out;
    }
    struct ssh_servers all;
    if (ssh_servers_load(req->srv->state_dir, &all, &err) != 0) {
        srv_reply_zerr(resp, &err);
    } else {
        json_t *r = server_json(ssh_servers_find(&all, v[0]));
        json_object_set_new(r, "fingerprint", fp ? json_string(fp) : json_null());
        if (pub)
            json_object_set_new(r, "public_key", json_string(pub));
        srv_reply_json(resp, 201, r);
        ssh_servers_release(&all);
    }
    free(fp);
    free(pub);
out:
    json_decref(body);
}

void srv_api_server_delete(struct srv_req *req, struct srv_resp *resp)
{
    const char *name = req->params[0];
    struct zp_err err;
    zp_err_init(&err);
    /* a server that projects deploy to stays */
    struct store_panel_project *ps = NULL;
    size_t n = 0;
    if (store_panel_project_list(req->db, &ps, &n, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char *s = srv_project_server(req->srv->state_dir, ps[i].name);
        bool used = s && strcmp(s, name) == 0;
        free(s);
        if (used) {
            srv_reply_error(resp, 409, "conflict", NULL,
                            "server '%s' is the server of project '%s' (set its server to null "
                            "first)",
                            name, ps[i].name);
            store_panel_projects_free(ps, n);
            return;
        }
    }
    store_panel_projects_free(ps, n);
    if (ssh_servers_remove(req->srv->state_dir, name, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    srv_reply_json(resp, 200, json_pack("{s:s}", "deleted", name));
}

/* release/app-deploy: an app from git deployed as a release (see app-deploy.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "../ssh/ssh.h"
#include "app-deploy.h"
#include "remote.h"

#include "../util/banned.h"

/* the app's lock: one deploy (or removal) of an app at a time */
static int app_lock(const char *state_dir, const char *name, int *ret_fd, struct zp_err *err)
{
    char *dir = app_dir(state_dir, name);
    char *path = zp_path_join(dir, ".lock");
    int rc = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        rc = errno == ENOENT ? zp_err_set(err, ZP_E_NOTFOUND, NULL, "no app named '%s'", name)
                             : zp_err_sys(err, "opening '%s'", path);
    else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK
                 ? zp_err_set(err, ZP_E_CONFLICT, NULL, "app '%s': another deploy is running", name)
                 : zp_err_sys(err, "locking '%s'", path);
        close(fd);
        fd = -1;
    }
    free(path);
    free(dir);
    *ret_fd = fd;
    return rc;
}

static void sink_line(const struct release_opts *opts, const char *fmt, ...) ZP_PRINTF(2, 3);
static void sink_line(const struct release_opts *opts, const char *fmt, ...)
{
    if (!opts->sink || !opts->sink->line)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *s = zp_vasprintf(fmt, ap);
    va_end(ap);
    opts->sink->line(opts->sink->ud, RELEASE_INFO, s);
    free(s);
}

/* the app's compose file, with the app's environment as its whole environment (the
 * generated file names the keys only; serve's own environment does not leak in) */
static int load_project(const struct app_prepared *prep, const struct app_settings *s,
                        struct compose_project **ret, struct zp_err *err)
{
    const char *name = s->name;
    char **environ_app = app_environ(s);
    const char *files[] = {prep->compose_path};
    struct compose_options co;
    memset(&co, 0, sizeof(co));
    co.files = files;
    co.nfiles = 1;
    co.project_name = name;
    co.project_dir = prep->project_dir;
    co.cwd = prep->project_dir;
    co.environ = environ_app;
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = compose_project_load(&co, ret, &d);
    if (rc) {
        if (zp_diags_to_err(&d, err) == 0)
            zp_err_set(err, rc, NULL, "loading '%s' failed", prep->compose_path);
        rc = err->code;
    }
    zp_diags_release(&d);
    free(environ_app);
    return rc;
}

int release_app_deploy(const char *name, const char *commit, const struct release_opts *opts,
                       struct release_app_result *ret, struct zp_err *err)
{
    memset(ret, 0, sizeof(*ret));
    char *state = opts->state_dir ? zp_strdup(opts->state_dir) : store_state_dir();
    char *kh = ssh_known_hosts_path(state);
    struct app_settings s;
    struct app_prepared prep;
    struct compose_project *p = NULL;
    struct orch *o = NULL;
    struct release_server *srv = NULL;
    struct release_result out;
    memset(&s, 0, sizeof(s));
    memset(&prep, 0, sizeof(prep));
    memset(&out, 0, sizeof(out));
    int fd = -1;
    int rc = app_load(state, name, &s, err);
    if (rc || (rc = app_lock(state, name, &fd, err)))
        goto out;
    sink_line(opts, "Fetching %s (branch %s)", s.git, s.branch ? s.branch : "main");
    if ((rc = app_prepare(state, &s, commit, kh, &prep, err)))
        goto out;
    snprintf(ret->provider, sizeof(ret->provider), "%s", app_provider_name(prep.plan.provider));
    memcpy(ret->sha, prep.sha, sizeof(ret->sha));
    sink_line(opts, "Commit %.12s (%s), build pack %s, port %d", prep.sha, prep.fetch_note,
              ret->provider, prep.plan.port);
    if ((rc = load_project(&prep, &s, &p, err)))
        goto out;
    const char *host = opts->host;
    if (s.server) { /* the app's server: its files synced, its engine through the tunnel */
        struct ssh_sync_stats st;
        memset(&st, 0, sizeof(st));
        if ((rc = release_server_open(state, s.server, &srv, err)) ||
            (rc = release_remote_prepare(p, &srv->r, srv->t, &st, err)))
            goto out;
        host = release_server_host(srv);
        sink_line(opts, "Deploying to server %s (%s)", s.server, srv->url);
    }
    if ((rc = orch_new(p, host, opts->sink ? opts->sink->event : NULL,
                       opts->sink ? opts->sink->ud : NULL, &o, err)))
        goto out;
    struct orch_up_opts uo;
    memset(&uo, 0, sizeof(uo));
    uo.wait = true;
    uo.wait_timeout_ms = opts->wait_timeout_ms ? opts->wait_timeout_ms : RELEASE_WAIT_DEFAULT_MS;
    uo.remove_orphans = true;
    uo.recreate = ORCH_RECREATE_CHANGED;
    uo.pull = ORCH_PULL_MISSING;
    if ((rc = release_deploy(o, p, &uo, opts, &out, err)))
        goto out;
    ret->release_id = out.outcome == RELEASE_DEPLOYED ? out.id : 0;
    if (ret->release_id) {
        /* the commit, in the release's record */
        struct store *st = NULL;
        struct zp_err serr;
        zp_err_init(&serr);
        char *note = zp_asprintf("git %s (%s)", prep.sha, s.branch ? s.branch : "main");
        if (store_open(state, name, &st, &serr) != 0 ||
            store_release_set_status(st, ret->release_id, STORE_RELEASE_DEPLOYED, note, &serr) !=
                0) {
            if (opts->sink && opts->sink->line)
                opts->sink->line(opts->sink->ud, RELEASE_WARNING, serr.msg);
        }
        store_close(st);
        free(note);
    }
    free(s.commit);
    s.commit = zp_strdup(prep.sha);
    rc = app_save(state, &s, false, err);
out:
    release_result_release(&out);
    orch_free(o);
    if (srv) {
        char *why = NULL;
        release_server_close(srv, rc, &why);
        if (why)
            zp_err_prefix(err, "%s", why);
        free(why);
    }
    compose_project_free(p);
    app_prepared_release(&prep);
    app_settings_release(&s);
    if (fd >= 0)
        close(fd);
    free(kh);
    free(state);
    return rc;
}

int release_app_remove(const char *name, bool volumes, const struct release_opts *opts,
                       struct zp_err *err)
{
    char *state = opts->state_dir ? zp_strdup(opts->state_dir) : store_state_dir();
    struct app_settings s;
    memset(&s, 0, sizeof(s));
    struct compose_project *p = NULL;
    struct orch *o = NULL;
    int fd = -1;
    int rc = app_load(state, name, &s, err);
    if (rc || (rc = app_lock(state, name, &fd, err)))
        goto out;
    char *dir = app_dir(state, name);
    struct app_prepared prep;
    memset(&prep, 0, sizeof(prep));
    prep.compose_path = zp_path_join(dir, "compose.yaml");
    prep.project_dir = dir;
    if (!zp_file_exists(prep.compose_path)) {
        /* the compose pack: the repository's own file */
        static const char *const names[] = {"src/compose.yaml", "src/compose.yml",
                                            "src/docker-compose.yaml", "src/docker-compose.yml"};
        for (size_t i = 0; i < 4; i++) {
            char *c = zp_path_join(dir, names[i]);
            if (zp_file_exists(c)) {
                free(prep.compose_path);
                prep.compose_path = c;
                prep.project_dir = zp_path_join(dir, "src");
                free(dir);
                break;
            }
            free(c);
        }
    }
    struct release_server *srv = NULL;
    if (zp_file_exists(prep.compose_path)) {
        rc = load_project(&prep, &s, &p, err);
        if (rc == 0 && s.server)
            rc = release_server_open(state, s.server, &srv, err);
        if (rc == 0)
            rc = orch_new(p, srv ? release_server_host(srv) : opts->host,
                          opts->sink ? opts->sink->event : NULL, opts->sink ? opts->sink->ud : NULL,
                          &o, err);
        if (rc == 0) {
            struct orch_down_opts dopts = {
                .volumes = volumes, .remove_orphans = true, .timeout_s = -1};
            rc = orch_down(o, &dopts, err);
        }
    }
    orch_free(o);
    o = NULL;
    release_server_close(srv, rc, NULL);
    app_prepared_release(&prep);
    if (rc == 0)
        rc = app_delete(state, name, err);
out:
    orch_free(o);
    compose_project_free(p);
    app_settings_release(&s);
    if (fd >= 0)
        close(fd);
    free(state);
    return rc;
}

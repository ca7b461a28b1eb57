/* server/api-apps: apps from git in the control plane: /api/v1/apps (list, create, deploy
 * as jobs) and the push webhooks of GitHub, Gitea, GitLab and Bitbucket, each checked
 * against the app's secret (HMAC-SHA256 of the body, or GitLab's token) in constant time,
 * never skipped; a delivery seen before is ignored; only the app's branch deploys; pushes
 * while a deploy runs coalesce into one queued follow-up deploy. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../app/app.h"
#include "../release/app-deploy.h"
#include "server-int.h"

#include "../util/banned.h"

#define DELIVERIES_KEEP 512 /* delivery ids remembered per app */
#define DELIVERY_MAX 128    /* the longest delivery id taken */

/* guards the deliveries files and the check-then-queue of app deploy jobs */
static pthread_mutex_t apps_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- the payload reader (pure) ---- */

enum srv_hook_provider srv_webhook_provider(const char *name)
{
    if (strcmp(name, "github") == 0)
        return SRV_HOOK_GITHUB;
    if (strcmp(name, "gitea") == 0)
        return SRV_HOOK_GITEA;
    if (strcmp(name, "gitlab") == 0)
        return SRV_HOOK_GITLAB;
    if (strcmp(name, "bitbucket") == 0)
        return SRV_HOOK_BITBUCKET;
    return SRV_HOOK_UNKNOWN;
}

static bool hex_sha(const char *s)
{
    size_t n = strlen(s);
    if (n != 40 && n != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

void srv_webhook_release(struct srv_webhook *w)
{
    if (!w)
        return;
    free(w->branch);
    free(w->sha);
    free(w->pr_base);
    memset(w, 0, sizeof(*w));
}

static bool branch_ok(const char *b)
{
    return b && *b && strlen(b) <= 255 && !strchr(b, '\n');
}

/* a pull request event: which one, its number, head and base branches, head commit */
static int parse_pr(enum srv_hook_provider provider, const char *event, json_t *root,
                    struct srv_webhook *ret, struct zp_err *err)
{
    const char *action = NULL, *head = NULL, *base = NULL, *sha = NULL;
    json_int_t number = 0;
    bool same = false;
    if (provider == SRV_HOOK_GITHUB || provider == SRV_HOOK_GITEA) {
        json_t *p = json_object_get(root, "pull_request");
        json_t *h = json_object_get(p, "head"), *b = json_object_get(p, "base");
        action = json_string_value(json_object_get(root, "action"));
        number = json_integer_value(json_object_get(root, "number"));
        head = json_string_value(json_object_get(h, "ref"));
        sha = json_string_value(json_object_get(h, "sha"));
        base = json_string_value(json_object_get(b, "ref"));
        const char *hr =
            json_string_value(json_object_get(json_object_get(h, "repo"), "full_name"));
        const char *br =
            json_string_value(json_object_get(json_object_get(b, "repo"), "full_name"));
        same = hr && br && strcmp(hr, br) == 0;
    } else if (provider == SRV_HOOK_GITLAB) {
        json_t *a = json_object_get(root, "object_attributes");
        action = json_string_value(json_object_get(a, "action"));
        number = json_integer_value(json_object_get(a, "iid"));
        head = json_string_value(json_object_get(a, "source_branch"));
        base = json_string_value(json_object_get(a, "target_branch"));
        sha = json_string_value(json_object_get(json_object_get(a, "last_commit"), "id"));
        json_t *sp = json_object_get(a, "source_project_id"),
               *tp = json_object_get(a, "target_project_id");
        same = json_is_integer(sp) && json_is_integer(tp) &&
               json_integer_value(sp) == json_integer_value(tp);
    } else {
        json_t *p = json_object_get(root, "pullrequest");
        json_t *src = json_object_get(p, "source"), *dst = json_object_get(p, "destination");
        action = event + strlen("pullrequest:");
        number = json_integer_value(json_object_get(p, "id"));
        head = json_string_value(json_object_get(json_object_get(src, "branch"), "name"));
        base = json_string_value(json_object_get(json_object_get(dst, "branch"), "name"));
        sha = json_string_value(json_object_get(json_object_get(src, "commit"), "hash"));
        const char *hr =
            json_string_value(json_object_get(json_object_get(src, "repository"), "full_name"));
        const char *br =
            json_string_value(json_object_get(json_object_get(dst, "repository"), "full_name"));
        same = hr && br && strcmp(hr, br) == 0;
    }
    if (!action)
        return zp_err_set(err, ZP_E_INPUT, NULL, "pull request: no action");
    static const char *const opens[] = {"opened", "synchronize", "synchronized", "reopened", "open",
                                        "update", "reopen",      "created",      "updated",  NULL};
    static const char *const closes[] = {"closed", "close", "merge", "fulfilled", "rejected", NULL};
    enum srv_hook_pr kind = SRV_PR_NONE;
    for (const char *const *a = opens; *a; a++)
        if (strcmp(action, *a) == 0)
            kind = SRV_PR_OPEN;
    for (const char *const *a = closes; *a; a++)
        if (strcmp(action, *a) == 0)
            kind = SRV_PR_CLOSE;
    if (kind == SRV_PR_NONE)
        return 0; /* labelled, assigned...: nothing to do */
    if (number < 1 || number > 999999999)
        return zp_err_set(err, ZP_E_INPUT, NULL, "pull request: invalid number");
    if (!branch_ok(head) || !branch_ok(base))
        return zp_err_set(err, ZP_E_INPUT, NULL, "pull request: invalid branch names");
    if (sha && !hex_sha(sha) && provider != SRV_HOOK_BITBUCKET)
        return zp_err_set(err, ZP_E_INPUT, NULL, "pull request: invalid commit id");
    ret->pr = kind;
    ret->pr_number = (int64_t)number;
    ret->branch = zp_strdup(head);
    ret->pr_base = zp_strdup(base);
    ret->pr_same_repo = same;
    ret->sha = sha && hex_sha(sha) ? zp_strdup(sha) : NULL;
    return 0;
}

int srv_webhook_parse(enum srv_hook_provider provider, const char *event, const char *body,
                      size_t len, struct srv_webhook *ret, struct zp_err *err)
{
    memset(ret, 0, sizeof(*ret));
    /* the event header says what happened; only pushes deploy */
    bool push = false;
    if (event) {
        switch (provider) {
        case SRV_HOOK_GITHUB:
        case SRV_HOOK_GITEA:
            push = strcmp(event, "push") == 0;
            break;
        case SRV_HOOK_GITLAB:
            push = strcmp(event, "Push Hook") == 0;
            break;
        case SRV_HOOK_BITBUCKET:
            push = strcmp(event, "repo:push") == 0;
            break;
        case SRV_HOOK_UNKNOWN:
            break;
        }
    }
    bool pr = false;
    if (event)
        pr = ((provider == SRV_HOOK_GITHUB || provider == SRV_HOOK_GITEA) &&
              strcmp(event, "pull_request") == 0) ||
             (provider == SRV_HOOK_GITLAB && strcmp(event, "Merge Request Hook") == 0) ||
             (provider == SRV_HOOK_BITBUCKET && zp_str_has_prefix(event, "pullrequest:"));
    json_t *root = NULL;
    int rc = srv_json_parse_object(body, len, &root, err);
    if (rc)
        return rc;
    if (pr) {
        rc = parse_pr(provider, event, root, ret, err);
        goto out;
    }
    if (!push)
        goto out;
    const char *ref = NULL, *sha = NULL;
    bool deleted = false;
    if (provider == SRV_HOOK_BITBUCKET) {
        /* push.changes[]: the first change to a branch */
        json_t *changes = json_object_get(json_object_get(root, "push"), "changes");
        size_t i;
        json_t *ch;
        json_array_foreach(changes, i, ch)
        {
            json_t *nw = json_object_get(ch, "new");
            if (json_is_null(nw) || !nw) {
                json_t *old = json_object_get(ch, "old");
                if (json_is_object(old) && json_is_string(json_object_get(old, "name"))) {
                    ref = json_string_value(json_object_get(old, "name"));
                    deleted = true;
                    break;
                }
                continue;
            }
            const char *type = json_string_value(json_object_get(nw, "type"));
            if (!type || strcmp(type, "branch") != 0)
                continue;
            ref = json_string_value(json_object_get(nw, "name"));
            sha = json_string_value(json_object_get(json_object_get(nw, "target"), "hash"));
            break;
        }
        if (!ref) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "push: no branch change in push.changes");
            goto out;
        }
    } else {
        ref = json_string_value(json_object_get(root, "ref"));
        sha = json_string_value(json_object_get(root, "after"));
        if (!ref) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "push: no \"ref\" string");
            goto out;
        }
        if (!zp_str_has_prefix(ref, "refs/heads/")) {
            /* a tag: not a branch push */
            goto out;
        }
        ref += strlen("refs/heads/");
        if (sha && strspn(sha, "0") == strlen(sha) && *sha)
            deleted = true, sha = NULL;
    }
    if (!*ref || strlen(ref) > 255) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "push: invalid branch name");
        goto out;
    }
    if (sha && !hex_sha(sha)) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "push: invalid commit id");
        goto out;
    }
    ret->push = true;
    ret->deleted = deleted;
    ret->branch = zp_strdup(ref);
    ret->sha = sha ? zp_strdup(sha) : NULL;
out:
    json_decref(root);
    if (rc)
        srv_webhook_release(ret);
    return rc;
}

/* ---- signatures ---- */

bool srv_webhook_verify(enum srv_hook_provider provider, const char *secret, const char *header,
                        const char *body, size_t len)
{
    if (!secret || !*secret || !header)
        return false;
    if (provider == SRV_HOOK_GITLAB) {
        /* the token itself: compare digests so that the time does not depend on where the
         * strings differ, nor on the length of the secret */
        unsigned char a[32], b[32];
        zp_sha256(secret, strlen(secret), a);
        zp_sha256(header, strlen(header), b);
        return sodium_memcmp(a, b, sizeof(a)) == 0;
    }
    const char *hex = header;
    if (provider != SRV_HOOK_GITEA) {
        if (!zp_str_has_prefix(header, "sha256="))
            return false;
        hex += strlen("sha256=");
    }
    if (strlen(hex) != 64)
        return false;
    unsigned char mac[crypto_auth_hmacsha256_BYTES], given[crypto_auth_hmacsha256_BYTES];
    size_t glen = 0;
    if (sodium_hex2bin(given, sizeof(given), hex, 64, NULL, &glen, NULL) != 0 ||
        glen != sizeof(given))
        return false;
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    return sodium_memcmp(mac, given, sizeof(mac)) == 0;
}

static unsigned char decoy[24];
static char decoy_hex[2 * sizeof(decoy) + 1];
static pthread_once_t decoy_once = PTHREAD_ONCE_INIT;

static void decoy_init(void)
{
    randombytes_buf(decoy, sizeof(decoy));
    sodium_bin2hex(decoy_hex, sizeof(decoy_hex), decoy, sizeof(decoy));
}

const char *srv_webhook_decoy_secret(void)
{
    pthread_once(&decoy_once, decoy_init);
    return decoy_hex;
}

/* ---- delivery ids ---- */

/* Record id for app; false when it was seen before. Holds apps_lock (the caller). */
static bool delivery_new(const char *state_dir, const char *app, const char *id)
{
    char *dir = app_dir(state_dir, app);
    char *path = zp_path_join(dir, "deliveries");
    char *data = NULL;
    size_t len = 0;
    struct zp_err err;
    zp_err_init(&err);
    bool fresh = true;
    size_t lines = 0;
    if (zp_file_read(path, (size_t)DELIVERIES_KEEP * 2 * (DELIVERY_MAX + 1), &data, &len, &err) ==
        0) {
        for (char *l = data; l && *l;) {
            char *nl = strchr(l, '\n');
            size_t n = nl ? (size_t)(nl - l) : strlen(l);
            if (n == strlen(id) && memcmp(l, id, n) == 0)
                fresh = false;
            lines++;
            l = nl ? nl + 1 : NULL;
        }
    }
    if (fresh) {
        struct zp_buf b = ZP_BUF_INIT;
        /* keep the newest DELIVERIES_KEEP */
        const char *keep = data ? data : "";
        while (lines >= DELIVERIES_KEEP && *keep) {
            const char *nl = strchr(keep, '\n');
            keep = nl ? nl + 1 : keep + strlen(keep);
            lines--;
        }
        zp_buf_adds(&b, keep);
        zp_buf_addf(&b, "%s\n", id);
        char *tmp = zp_asprintf("%s.tmp", path);
        FILE *f = fopen(tmp, "we");
        if (f) {
            bool written = fwrite(b.p, 1, b.len, f) == b.len;
            if (fclose(f) == 0 && written)
                rename(tmp, path);
        }
        free(tmp);
        zp_buf_release(&b);
    }
    free(data);
    free(path);
    free(dir);
    return fresh;
}

/* ---- jobs ---- */

/* The queued deploy of app, if any (coalescing). Holds apps_lock. */
static bool queued_deploy(struct store_panel *db, const char *app, struct store_job *ret)
{
    struct store_job *jobs = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    bool found = false;
    if (store_panel_job_list(db, app, STORE_JOB_QUEUED, 0, &jobs, &n, &err) != 0)
        return false;
    for (size_t i = 0; i < n && !found; i++) {
        if (strcmp(jobs[i].kind, SRV_APP_JOB_KIND) == 0 &&
            strcmp(jobs[i].args_json ? jobs[i].args_json : "{}", "{}") == 0) {
            *ret = jobs[i];
            memset(&jobs[i], 0, sizeof(jobs[i]));
            found = true;
        }
    }
    store_jobs_free(jobs, n);
    return found;
}

/* Queue a deploy of app (commit NULL: the branch's tip, coalesced with a queued one):
 * 202 {"job": ..., "coalesced": bool}. */
static void queue_kind(struct srv_req *req, struct srv_resp *resp, const char *app,
                       const char *kind, const char *commit, const char *user);

static void queue_deploy(struct srv_req *req, struct srv_resp *resp, const char *app,
                         const char *commit, const char *user)
{
    queue_kind(req, resp, app, SRV_APP_JOB_KIND, commit, user);
}

static void queue_kind(struct srv_req *req, struct srv_resp *resp, const char *app,
                       const char *kind, const char *commit, const char *user)
{
    struct zp_err err;
    zp_err_init(&err);
    pthread_mutex_lock(&apps_lock);
    struct store_job j;
    memset(&j, 0, sizeof(j));
    if (!commit && strcmp(kind, SRV_APP_JOB_KIND) == 0 && queued_deploy(req->db, app, &j)) {
        pthread_mutex_unlock(&apps_lock);
        srv_reply_json(resp, 202, json_pack("{s:o,s:b}", "job", srv_job_json(&j), "coalesced", 1));
        store_job_release(&j);
        return;
    }
    json_t *args = commit ? json_pack("{s:s}", "commit", commit) : json_object();
    char *args_text = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(args);
    j.project = (char *)app;
    j.kind = (char *)kind;
    j.args_json = args_text;
    j.user = (char *)user;
    int rc = store_panel_job_add(req->db, &j, &err);
    pthread_mutex_unlock(&apps_lock);
    if (rc != 0) {
        srv_reply_zerr(resp, &err);
    } else {
        srv_jobs_kick(req->srv->jobs);
        srv_reply_json(resp, 202, json_pack("{s:o,s:b}", "job", srv_job_json(&j), "coalesced", 0));
    }
    free(args_text);
}

bool srv_app_job_kind(const char *kind)
{
    return strcmp(kind, SRV_APP_JOB_KIND) == 0 || strcmp(kind, SRV_APP_REMOVE_KIND) == 0;
}

static void job_line(void *ud, enum release_level level, const char *text)
{
    srv_job_log(ud, "%s%s", level == RELEASE_WARNING ? "warning: " : "", text);
}

int srv_app_job_run(struct server *srv, const struct store_job *job, struct srv_job_ctl *ctl,
                    struct zp_err *err)
{
    json_t *args = json_loads(job->args_json ? job->args_json : "{}", 0, NULL);
    const char *commit = json_string_value(json_object_get(args, "commit"));
    struct release_sink sink = {.event = srv_job_progress, .line = job_line, .ud = ctl};
    struct release_opts opts;
    memset(&opts, 0, sizeof(opts));
    opts.state_dir = srv->state_dir;
    opts.host = srv->host;
    opts.sink = &sink;
    opts.cancel = release_cancel_new();
    int rc;
    if (!srv_job_attach(ctl, NULL, opts.cancel, false)) {
        rc = zp_err_set(err, ZP_E_CANCELLED, NULL, "cancelled");
    } else if (strcmp(job->kind, SRV_APP_REMOVE_KIND) == 0) {
        rc = release_app_remove(job->project, true, &opts, err);
        srv_job_detach(ctl);
        if (rc == 0)
            srv_job_log(ctl, "app %s removed", job->project);
    } else {
        struct release_app_result res;
        rc = release_app_deploy(job->project, commit, &opts, &res, err);
        srv_job_detach(ctl);
        if (rc == 0 && res.release_id)
            srv_job_log(ctl, "app %s: commit %s deployed as release %" PRId64, job->project,
                        res.sha, res.release_id);
        else if (rc == 0)
            srv_job_log(ctl, "app %s: commit %s already running", job->project, res.sha);
    }
    release_cancel_free(opts.cancel);
    json_decref(args);
    return rc;
}

/* ---- handlers ---- */

static json_t *app_json(const struct app_settings *s)
{
    json_t *env = json_array();
    for (size_t i = 0; i < s->nenv; i++) {
        /* names only: values may be secrets */
        const char *eq = strchr(s->env[i], '=');
        json_array_append_new(env, json_stringn(s->env[i], (size_t)(eq - s->env[i])));
    }
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:i,s:s?,s:o}", "name", s->name, "git", s->git, "branch",
                  s->branch ? s->branch : "main", "buildPack", s->build_pack, "domain", s->domain,
                  "port", s->port, "commit", s->commit, "envNames", env);
    json_object_set_new(j, "server", s->server ? json_string(s->server) : json_null());
    return j;
}

void srv_api_apps_list(struct srv_req *req, struct srv_resp *resp)
{
    char **names = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (app_list(req->srv->state_dir, &names, &n, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        struct app_settings s;
        zp_err_init(&err);
        if (app_load(req->srv->state_dir, names[i], &s, &err) == 0) {
            json_array_append_new(arr, app_json(&s));
            app_settings_release(&s);
        }
        free(names[i]);
    }
    free(names);
    srv_reply_json(resp, 200, json_pack("{s:o}", "apps", arr));
}

static char *opt_str(json_t *b, const char *key, bool *bad)
{
    json_t *v = json_object_get(b, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = true;
        return NULL;
    }
    return zp_strdup(json_string_value(v));
}

/* {"name", "git", "branch"?, "buildPack"?, "domain"?, "port"?, "publish"?, "server"?, "tls"?,
 * "proxy"?, "health"?, "env"?: {K: V}, "images"?: {PROVIDER: IMAGE}, "secret"?} -> 201 with the app
 * and its webhook secret (shown once) */
void srv_api_apps_create(struct srv_req *req, struct srv_resp *resp)
{
    json_t *b = NULL;
    struct zp_err err;
    zp_err_init(&err);
    if (srv_json_parse_object(req->body, req->body_len, &b, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    struct app_settings s;
    memset(&s, 0, sizeof(s));
    bool bad = false;
    s.name = opt_str(b, "name", &bad);
    s.git = opt_str(b, "git", &bad);
    s.branch = opt_str(b, "branch", &bad);
    s.build_pack = opt_str(b, "buildPack", &bad);
    s.domain = opt_str(b, "domain", &bad);
    s.publish = opt_str(b, "publish", &bad);
    s.server = opt_str(b, "server", &bad);
    s.tls = opt_str(b, "tls", &bad);
    s.proxy = opt_str(b, "proxy", &bad);
    s.health = opt_str(b, "health", &bad);
    s.secret = opt_str(b, "secret", &bad);
    json_t *port = json_object_get(b, "port");
    if (port && !json_is_integer(port))
        bad = true;
    s.port = port ? (int)json_integer_value(port) : 0;
    json_t *env = json_object_get(b, "env");
    if (env && !json_is_object(env))
        bad = true;
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v)
    {
        if (!json_is_string(v)) {
            bad = true;
            break;
        }
        s.env = zp_realloc(s.env, (s.nenv + 1) * sizeof(char *));
        s.env[s.nenv++] = zp_asprintf("%s=%s", k, json_string_value(v));
    }
    json_t *images = json_object_get(b, "images");
    if (images && !json_is_object(images))
        bad = true;
    json_object_foreach(images, k, v)
    {
        if (!json_is_string(v)) {
            bad = true;
            break;
        }
        s.images = zp_realloc(s.images, (s.nimages + 1) * sizeof(char *));
        s.images[s.nimages++] = zp_asprintf("%s=%s", k, json_string_value(v));
    }
    if (bad || !s.name || !s.git) {
        srv_reply_error(resp, 400, "bad_request", NULL,
                        "expected {\"name\": string, \"git\": string, ...} with string fields "
                        "and an integer port");
        goto out;
    }
    if (!s.branch)
        s.branch = zp_strdup("main");
    if (!s.secret) {
        unsigned char raw[24];
        char hex[49];
        randombytes_buf(raw, sizeof(raw));
        sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
        s.secret = zp_strdup(hex);
    } else if (strlen(s.secret) < 16) {
        srv_reply_error(resp, 400, "bad_request", NULL, "secret: at least 16 characters");
        goto out;
    }
    if (app_save(req->srv->state_dir, &s, true, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    json_t *out = app_json(&s);
    json_object_set_new(out, "secret", json_string(s.secret));
    srv_reply_json(resp, 201, json_pack("{s:o}", "app", out));
out:
    app_settings_release(&s);
    json_decref(b);
}

/* {"commit"?: "sha"} -> 202 {"job"} */
void srv_api_app_deploy(struct srv_req *req, struct srv_resp *resp)
{
    json_t *b = NULL;
    struct zp_err err;
    zp_err_init(&err);
    if (req->body_len && srv_json_parse_object(req->body, req->body_len, &b, &err) != 0) {
        srv_reply_zerr(resp, &err);
        return;
    }
    json_t *c = json_object_get(b, "commit");
    if (c && !json_is_string(c)) {
        json_decref(b);
        srv_reply_error(resp, 400, "bad_request", NULL, "commit: expected a string");
        return;
    }
    struct app_settings s;
    if (app_load(req->srv->state_dir, req->params[0], &s, &err) != 0) {
        json_decref(b);
        srv_reply_zerr(resp, &err);
        return;
    }
    queue_deploy(req, resp, s.name, c ? json_string_value(c) : NULL,
                 req->authed ? req->auth.user : NULL);
    app_settings_release(&s);
    json_decref(b);
}

/* A pull request to the app's branch from the same repository: its preview, an app
 * NAME-pr-N at pr-N.DOMAIN (settings of the app, the PR's head branch, no published port,
 * no volumes), deployed on open and update, removed with its volumes on close. Forks are
 * not deployed: their code would run with the app's environment. */
static void webhook_pr(struct srv_req *req, struct srv_resp *resp, const struct app_settings *s,
                       const struct srv_webhook *w, const char *delivery)
{
    const char *branch = s->branch ? s->branch : "main";
    const char *why = strcmp(w->pr_base, branch) != 0 ? "a pull request to another branch"
                      : !w->pr_same_repo              ? "a pull request from a fork"
                      : !s->domain                    ? "previews need the app's domain"
                                                      : NULL;
    char *name = zp_asprintf("%s-pr-%" PRId64, s->name, w->pr_number);
    char *domain = s->domain ? zp_asprintf("pr-%" PRId64 ".%s", w->pr_number, s->domain) : NULL;
    if (!why && (!app_name_valid(name) || !zp_hostname_valid(domain, false)))
        why = "the preview's name or host name would be too long";
    if (!why && delivery && *delivery) {
        pthread_mutex_lock(&apps_lock);
        bool fresh = strlen(delivery) <= DELIVERY_MAX && !strchr(delivery, '\n') &&
                     delivery_new(req->srv->state_dir, s->name, delivery);
        pthread_mutex_unlock(&apps_lock);
        if (!fresh)
            why = "a delivery seen before";
    }
    struct zp_err err;
    zp_err_init(&err);
    if (why) {
        srv_reply_json(resp, 200, json_pack("{s:s}", "ignored", why));
    } else if (w->pr == SRV_PR_CLOSE) {
        /* only this app's preview: never an app that happens to have the name */
        struct app_settings prev;
        if (app_load(req->srv->state_dir, name, &prev, &err) != 0) {
            srv_reply_json(resp, 200, json_pack("{s:s}", "ignored", "no preview to remove"));
        } else {
            bool mine = prev.preview_of && strcmp(prev.preview_of, s->name) == 0;
            app_settings_release(&prev);
            if (mine)
                queue_kind(req, resp, name, SRV_APP_REMOVE_KIND, NULL, "webhook");
            else
                srv_reply_error(resp, 409, "conflict", NULL,
                                "preview '%s': an app of that name exists that is not a preview "
                                "of '%s'; not removing it",
                                name, s->name);
        }
    } else if (app_preview_check(req->srv->state_dir, s->name, name, domain, &err) != 0) {
        srv_log("warn", "app=%s pr=%" PRId64 " msg=\"%s\"", s->name, w->pr_number, err.msg);
        srv_reply_zerr(resp, &err);
    } else {
        struct app_settings p = {
            .name = name,
            .git = s->git,
            .branch = w->branch,
            .build_pack = s->build_pack,
            .domain = domain,
            .tls = s->tls,
            .proxy = s->proxy,
            .health = s->health,
            .port = s->port,
            .secret = s->secret,
            .token = s->token,
            .ssh_key = s->ssh_key,
            .memory = s->memory,
            .cpus = s->cpus,
            .preview_of = s->name,
            .env = s->env,
            .nenv = s->nenv,
            .images = s->images,
            .nimages = s->nimages,
        };
        if (app_save(req->srv->state_dir, &p, false, &err) != 0)
            srv_reply_zerr(resp, &err);
        else
            queue_deploy(req, resp, name, NULL, "webhook");
    }
    free(name);
    free(domain);
}

/* POST /api/v1/webhooks/{provider}/{app}: authenticated by the signature alone */
void srv_api_webhook(struct srv_req *req, struct srv_resp *resp)
{
    enum srv_hook_provider prov = srv_webhook_provider(req->params[0]);
    if (prov == SRV_HOOK_UNKNOWN) {
        srv_reply_error(resp, 404, "not_found", NULL,
                        "unknown webhook provider '%s' (github, gitea, gitlab, bitbucket)",
                        req->params[0]);
        return;
    }
    struct app_settings s;
    struct zp_err err;
    zp_err_init(&err);
    static const char *const sig_headers[] = {[SRV_HOOK_GITHUB] = "X-Hub-Signature-256",
                                              [SRV_HOOK_GITEA] = "X-Gitea-Signature",
                                              [SRV_HOOK_GITLAB] = "X-Gitlab-Token",
                                              [SRV_HOOK_BITBUCKET] = "X-Hub-Signature"};
    static const char *const event_headers[] = {[SRV_HOOK_GITHUB] = "X-GitHub-Event",
                                                [SRV_HOOK_GITEA] = "X-Gitea-Event",
                                                [SRV_HOOK_GITLAB] = "X-Gitlab-Event",
                                                [SRV_HOOK_BITBUCKET] = "X-Event-Key"};
    static const char *const id_headers[] = {[SRV_HOOK_GITHUB] = "X-GitHub-Delivery",
                                             [SRV_HOOK_GITEA] = "X-Gitea-Delivery",
                                             [SRV_HOOK_GITLAB] = "X-Gitlab-Event-UUID",
                                             [SRV_HOOK_BITBUCKET] = "X-Request-UUID"};
    /* An app that does not exist (or whose settings do not load) is answered as a wrong
     * signature is, after the same verification against a secret nobody knows: the
     * answer does not tell a caller without the secret which apps exist. */
    memset(&s, 0, sizeof(s));
    bool known = app_load(req->srv->state_dir, req->params[1], &s, &err) == 0;
    bool valid =
        srv_webhook_verify(prov, known ? s.secret : srv_webhook_decoy_secret(),
                           srv_req_header(req, sig_headers[prov]), req->body, req->body_len);
    if (!known || !valid) {
        if (known)
            srv_log("warn", "app=%s webhook=%s msg=\"bad or missing signature\"", s.name,
                    req->params[0]);
        else if (app_name_valid(req->params[1])) /* else the name is not logged as it is */
            srv_log("warn", "app=%s webhook=%s msg=\"%s\"", req->params[1], req->params[0],
                    err.msg);
        else
            srv_log("warn", "webhook=%s msg=\"invalid app name\"", req->params[0]);
        srv_reply_error(resp, 401, "unauthorized", NULL, "%s: missing or wrong signature",
                        sig_headers[prov]);
        goto out;
    }
    if (s.preview_of) {
        /* a preview follows its app's pull request, not webhooks of its own */
        srv_reply_json(resp, 200, json_pack("{s:s}", "ignored", "a pull-request preview"));
        goto out;
    }
    struct srv_webhook w;
    if (srv_webhook_parse(prov, srv_req_header(req, event_headers[prov]), req->body, req->body_len,
                          &w, &err) != 0) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    const char *branch = s.branch ? s.branch : "main";
    if (w.pr != SRV_PR_NONE) {
        webhook_pr(req, resp, &s, &w, srv_req_header(req, id_headers[prov]));
        srv_webhook_release(&w);
        goto out;
    }
    const char *why = !w.push                         ? "not a push event"
                      : strcmp(w.branch, branch) != 0 ? "a push to another branch"
                      : w.deleted                     ? "the branch was deleted"
                                                      : NULL;
    const char *id = srv_req_header(req, id_headers[prov]);
    if (!why && id && *id) {
        if (strlen(id) > DELIVERY_MAX || strchr(id, '\n')) {
            srv_webhook_release(&w);
            srv_reply_error(resp, 400, "bad_request", NULL, "%s: invalid delivery id",
                            id_headers[prov]);
            goto out;
        }
        pthread_mutex_lock(&apps_lock);
        bool fresh = delivery_new(req->srv->state_dir, s.name, id);
        pthread_mutex_unlock(&apps_lock);
        if (!fresh)
            why = "a delivery seen before";
    }
    if (why) {
        srv_reply_json(resp, 200, json_pack("{s:s}", "ignored", why));
    } else {
        srv_log("info", "app=%s webhook=%s branch=%s commit=%s msg=\"push: deploying\"", s.name,
                req->params[0], w.branch, w.sha ? w.sha : "-");
        queue_deploy(req, resp, s.name, NULL, "webhook");
    }
    srv_webhook_release(&w);
out:
    app_settings_release(&s);
}

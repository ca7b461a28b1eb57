/* server-int: what the files of server/ share: requests and responses, the route table,
 * JSON and SSE helpers, the job runner and its adapter to the library. */
#ifndef ZP_SERVER_INT_H
#define ZP_SERVER_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../compose/compose.h"
#include "../store/panel.h"
#include "../store/secret.h"
#include "../util/util.h"
#include "server.h"

#define SRV_BODY_MAX (1024 * 1024) /* request bodies (a compose file and its env) */
#define SRV_JSON_DEPTH_MAX 32      /* nesting of a request's JSON */
#define SRV_MAX_PARAMS 4           /* {params} in one route */
#define SRV_DB_POOL 4              /* database connections shared by the HTTP threads */

struct orch;
struct srv_jobs;

/* ---- requests and responses ---- */

struct srv_req {
    struct server *srv;
    void *conn; /* the MHD connection (http.c only) */
    const char *method;
    const char *path;
    char *params[SRV_MAX_PARAMS]; /* the route's {params}, in order (owned) */
    size_t nparams;
    const char *body; /* NUL-terminated; "" without a body */
    size_t body_len;
    bool authed;
    bool by_cookie;               /* authed through the session cookie */
    struct store_token_info auth; /* when authed */
    char addr[48];                /* the client's address ("?" unknown) */
    struct store_panel *db;       /* borrowed from the pool for the request */
    const struct srv_route *route;
};

/* Produces the next bytes of a streamed response (an MHD content reader): returns the
 * number of bytes written to buf (at most max, > 0), or -1 at the end. It may block. */
typedef ssize_t (*srv_stream_fn)(void *cls, char *buf, size_t max);

struct srv_resp {
    int status;
    char *body; /* owned; NULL: empty */
    size_t len;
    const char *type;     /* Content-Type; NULL: application/json */
    srv_stream_fn stream; /* instead of body when not NULL */
    void *stream_cls;
    void (*stream_free)(void *cls);
    const char *allow;   /* the Allow header of a 405 (static text) */
    bool auth_challenge; /* 401: send WWW-Authenticate */
    char *cookies[2];    /* Set-Cookie values (owned) */
    int64_t retry_after; /* seconds: send Retry-After when > 0 */
    /* dashboard */
    const char *etag;  /* an asset's ETag (static): revalidated, not no-store */
    bool page;         /* a dashboard asset: the Content-Security-Policy and framing headers */
    char *disposition; /* Content-Disposition (owned), for downloads */
};

/* A query argument of the request (?key=value), or NULL. */
const char *srv_req_query(const struct srv_req *r, const char *key);
/* A request header, or NULL. */
const char *srv_req_header(const struct srv_req *r, const char *name);
/* A request cookie, or NULL. */
const char *srv_req_cookie(const struct srv_req *r, const char *name);

#define SRV_SESSION_COOKIE "zp_session"
#define SRV_CSRF_COOKIE "zp_csrf"
#define SRV_CSRF_HEADER "X-CSRF-Token"
#define SRV_SESSION_PREFIX "zps_"
#define SRV_SESSION_TTL_S (12 * 3600)

/* Reply with v (stolen) as JSON. */
void srv_reply_json(struct srv_resp *resp, int status, json_t *v);
/* Reply {"error": {"code", "message", "details"}}; details stolen (NULL: []). */
void srv_reply_error(struct srv_resp *resp, int status, const char *code, json_t *details,
                     const char *fmt, ...) ZP_PRINTF(5, 6);
/* Reply with the error's HTTP status (not found 404, conflict 409, input 400, ...). */
void srv_reply_zerr(struct srv_resp *resp, const struct zp_err *err);
/* Reply with text (copied) of the given type. */
void srv_reply_text(struct srv_resp *resp, int status, const char *type, const char *text,
                    size_t len);

/* What the handlers share (api-common.c). The request's body as a JSON object
 * (srv_json_parse_object; owned by the caller), or NULL with the error reply set. */
json_t *srv_req_body(const struct srv_req *req, struct srv_resp *resp);
/* Member name of body: a string, or absent/null (*ret NULL); false with the reply set (400,
 * "NAME: must be a string") otherwise. */
bool srv_body_str(json_t *body, const char *name, const char **ret, struct srv_resp *resp);
/* srv_body_str for each of names[0..n) into ret[0..n). */
bool srv_body_strs(json_t *body, const char *const *names, size_t n, const char **ret,
                   struct srv_resp *resp);
/* The project the route's first {param} names, registered, into *ret
 * (store_panel_project_release); false with the reply set (404 for a name that cannot be a
 * project's, the store's error otherwise). */
bool srv_route_project(struct srv_req *req, struct srv_resp *resp, struct store_panel_project *ret);
/* Queue a job of kind for project with args (stolen; NULL: {}), by the request's user, and
 * reply 202 {"job": ...}, or the store's error. */
void srv_queue_job(struct srv_req *req, struct srv_resp *resp, const char *project,
                   const char *kind, json_t *args);

/* ---- routes (router.c; pure) ---- */

typedef void (*srv_handler_fn)(struct srv_req *req, struct srv_resp *resp);

struct srv_route {
    const char *method;  /* "GET", "POST", "PUT", "DELETE" */
    const char *pattern; /* "/api/v1/projects/{name}" */
    enum store_scope scope;
    srv_handler_fn fn;
};

/* The route table (static). */
const struct srv_route *srv_routes(size_t *ret_n);

enum { SRV_MATCH_OK = 0, SRV_MATCH_NO_PATH = 404, SRV_MATCH_NO_METHOD = 405 };
/* Find the route of method and path (path without the query). On SRV_MATCH_OK, *ret is the
 * route and params[0..*ret_n) view the {param} segments inside path; on
 * SRV_MATCH_NO_METHOD, *ret_allow is the Allow header's value (static). */
int srv_route_match(const char *method, const char *path, size_t path_len,
                    const struct srv_route **ret, struct zp_str *params, size_t *ret_n,
                    const char **ret_allow);
/* The index of route r in the table (for metrics). */
size_t srv_route_index(const struct srv_route *r);

/* ---- JSON bodies and SSE (json.c; pure) ---- */

/* The nesting depth of a JSON text (objects and arrays; strings skipped), stopping early
 * once it passes max. */
size_t srv_json_depth(const char *text, size_t len, size_t max);
/* Parse a request body that must be a JSON object: caps (SRV_BODY_MAX, depth), no
 * duplicate keys. Errors: ZP_E_INPUT with line and column (pos.line/pos.col set),
 * ZP_E_TOOBIG. *ret is owned by the caller. */
int srv_json_parse_object(const char *body, size_t len, json_t **ret, struct zp_err *err);
/* Append the SSE frame of one log line (id: N, data: the line without CR or LF). */
void srv_sse_frame(struct zp_buf *out, int64_t id, const char *line, size_t len);

/* ---- the server (http.c) ---- */

struct srv_metrics;

struct server {
    char *state_dir;
    char *host;
    bool quiet;
    int port;
    int64_t started_ms;
    void *mhd;                 /* struct MHD_Daemon */
    pthread_mutex_t pool_lock; /* guards pool, npool */
    pthread_cond_t pool_cond;
    struct store_panel *pool[SRV_DB_POOL];
    size_t npool;
    struct srv_jobs *jobs;
    struct srv_metrics *metrics;
    struct srv_limit *limit; /* login failures */
    struct srv_notifier *notifier;
    atomic_bool stopping;    /* server_free began: streams end */
    struct srv_sched *sched; /* dumps: the backup scheduler (api-schedules.c) */
    /* swarm: the proxy following Swarm tasks (orchestrator/swarm.h) */
    struct orch_swarm_router *swarm_router;
};

/* Log a line "LEVEL key=value ..." to stderr. */
void srv_log(const char *level, const char *fmt, ...) ZP_PRINTF(2, 3);
/* Wall clock in Unix milliseconds. */
int64_t srv_now_ms(void);

/* ---- notifications of job results (notify.c) ---- */

struct srv_notifier;
struct notify_channel;
/* Start the thread that delivers notifications. */
int srv_notifier_start(bool quiet, struct srv_notifier **ret, struct zp_err *err);
/* Stop it; deliveries still waiting are logged as not sent. NULL is accepted. */
void srv_notifier_stop(struct srv_notifier *nt);
/* Queue the end of job (status "succeeded", "failed" or "cancelled"; error or NULL) for
 * every channel that wants it. Never blocks on a channel. */
void srv_notify_job(struct server *s, struct store_panel *db, const struct store_job *job,
                    const char *status, const char *error, int64_t finished_ms);
/* A stored channel with its secret opened, into *ret (notify_channel_release). */
int srv_channel_open(const char *state_dir, const struct store_channel *sc,
                     struct notify_channel *ret, struct zp_err *err);
/* Check c and store it (its secret sealed). Errors: ZP_E_INPUT naming the field. */
int srv_channel_add(const char *state_dir, struct store_panel *db, const struct notify_channel *c,
                    int64_t *ret_id, struct zp_err *err);
/* Send a "test" event on channel id now (one attempt). Errors: ZP_E_NOTFOUND, and
 * notify_send's. */
int srv_channel_test(const char *state_dir, struct store_panel *db, int64_t id, const char *user,
                     struct zp_err *err);

/* ---- the login rate limit (limit.c) ---- */

#define SRV_LIMIT_BASE_MS (30 * 1000)     /* the first lockout */
#define SRV_LIMIT_MAX_MS (15 * 60 * 1000) /* the longest lockout */
#define SRV_LIMIT_FREE_USER 5             /* failures of one user name before lockouts */
#define SRV_LIMIT_FREE_ADDR 20            /* failures from one address before lockouts */

struct srv_limit;
struct srv_limit *srv_limit_new(void);
void srv_limit_free(struct srv_limit *l);
/* Milliseconds key stays locked (0: not locked). Thread-safe. */
int64_t srv_limit_check(struct srv_limit *l, const char *key, int64_t now_ms);
/* A failure of key: from the free_failures-th on, key is locked for 30 s, 60 s, 120 s, ...
 * (at most SRV_LIMIT_MAX_MS). Thread-safe. */
void srv_limit_fail(struct srv_limit *l, const char *key, unsigned free_failures, int64_t now_ms);
/* A success: key starts over. */
void srv_limit_clear(struct srv_limit *l, const char *key);

/* ---- metrics (metrics.c) ---- */

struct srv_metrics *srv_metrics_new(size_t nroutes);
void srv_metrics_free(struct srv_metrics *m);
/* Count one answered request of route index ri (SIZE_MAX: none matched). Thread-safe. */
void srv_metrics_count(struct srv_metrics *m, size_t ri, int status);
/* Append the Prometheus text of the HTTP counters. */
void srv_metrics_render(struct srv_metrics *m, struct zp_buf *out);

/* ---- handlers (api-*.c) ---- */

void srv_api_healthz(struct srv_req *req, struct srv_resp *resp);
void srv_api_login(struct srv_req *req, struct srv_resp *resp);
void srv_api_logout(struct srv_req *req, struct srv_resp *resp);
void srv_api_openapi(struct srv_req *req, struct srv_resp *resp);
void srv_api_metrics(struct srv_req *req, struct srv_resp *resp);
void srv_api_projects_list(struct srv_req *req, struct srv_resp *resp);
void srv_api_projects_create(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_get(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_put(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_delete(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_deploy(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_stop(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_start(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_restart(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_rollback(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_backup(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_releases(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_logs(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_stats(struct srv_req *req, struct srv_resp *resp);
void srv_api_jobs_list(struct srv_req *req, struct srv_resp *resp);
void srv_api_job_get(struct srv_req *req, struct srv_resp *resp);
void srv_api_job_log(struct srv_req *req, struct srv_resp *resp);
void srv_api_job_cancel(struct srv_req *req, struct srv_resp *resp);
void srv_api_notifications_list(struct srv_req *req, struct srv_resp *resp);
void srv_api_notifications_add(struct srv_req *req, struct srv_resp *resp);
void srv_api_notification_delete(struct srv_req *req, struct srv_resp *resp);
void srv_api_notification_test(struct srv_req *req, struct srv_resp *resp);
/* templates (api-templates.c) */
void srv_api_templates_list(struct srv_req *req, struct srv_resp *resp);
void srv_api_template_get(struct srv_req *req, struct srv_resp *resp);
void srv_api_template_deploy(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_actions(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_action(struct srv_req *req, struct srv_resp *resp);

/* The text of openapi.json (compiled in; NUL-terminated). */
const char *srv_openapi_text(size_t *ret_len);

/* A job as the API shows it. */
json_t *srv_job_json(const struct store_job *j);

/* ---- projects on disk (projects.c) ---- */

/* <state>/projects/<name> (newly allocated). */
char *srv_project_dir(const char *state_dir, const char *name);
/* <state>/backups/<name>: where backup jobs write archives (newly allocated). */
char *srv_backup_dir(const char *state_dir, const char *name);
/* Load project name from its directory (compose.yaml) with env_json (sealed values opened
 * with state_dir's key) as its whole environment; the diagnostics go to d. Returns 0 and
 * *ret, or the loader's code (a value that does not open: a diagnostic, ZP_E_INPUT). */
int srv_project_load(const char *state_dir, const char *dir, const char *name, const char *env_json,
                     struct compose_project **ret, struct zp_diags *d);
/* Remove the project's directory and its registration. */
int srv_project_forget(const char *state_dir, struct store_panel *db, const char *name,
                       struct zp_err *err);

/* ---- jobs (jobs.c) ---- */

int srv_jobs_start(struct server *s, int nworkers, struct srv_jobs **ret, struct zp_err *err);
/* Interrupt running jobs (queued again), join the workers, free. NULL is accepted. */
void srv_jobs_stop(struct srv_jobs *j);
/* A job was queued: wake a worker. */
void srv_jobs_kick(struct srv_jobs *j);
/* Cancel job id: a queued one at once, a running one through its session (it ends
 * CANCELLED). Errors: ZP_E_NOTFOUND, ZP_E_CONFLICT (finished already). */
int srv_jobs_cancel(struct srv_jobs *j, struct store_panel *db, int64_t id, struct zp_err *err);
/* Jobs running now. */
size_t srv_jobs_nrunning(struct srv_jobs *j);
/* A counter that grows whenever a job's log grows or a job ends. */
uint64_t srv_jobs_seq(struct srv_jobs *j);
/* Memory was freed (a request loaded a project): the idle watchdog trims the heap. */
void srv_jobs_note_garbage(struct srv_jobs *j);
/* Wake every srv_jobs_wait (the server is stopping). */
void srv_jobs_wake_readers(struct srv_jobs *j);
/* Wait until srv_jobs_seq passes seen or timeout_ms pass. */
void srv_jobs_wait(struct srv_jobs *j, uint64_t seen, int timeout_ms);
/* <state>/jobs/<id>.log (newly allocated). */
char *srv_job_log_path(const char *state_dir, int64_t id);

/* What a running job may do (jobs.c), for the adapter below. */
struct srv_job_ctl;
/* Append one line to the job's log (a newline is added). */
void srv_job_log(struct srv_job_ctl *c, const char *fmt, ...) ZP_PRINTF(2, 3);
/* Make cancel and the timeout reach o (may be NULL), the release token rc (may be NULL)
 * and, when engine, o's engine itself (a backup's streams); false when the job is
 * cancelled already (the caller stops). srv_job_detach before freeing o or rc. */
struct release_cancel;
bool srv_job_attach(struct srv_job_ctl *c, struct orch *o, struct release_cancel *rc, bool engine);
void srv_job_detach(struct srv_job_ctl *c);
/* Mask each of values (taken: strings freed with c) wherever it appears in the log. */
void srv_job_redact(struct srv_job_ctl *c, char **values, size_t n);
/* The orch_progress_fn that writes events to the log; ud is the struct srv_job_ctl. */
struct orch_event;
void srv_job_progress(void *ud, const struct orch_event *ev);

/* ---- the adapter to the library (jobs-run.c: one function per kind) ---- */

struct srv_job_env {
    const char *state_dir;
    const char *host;
    const char *project_dir;
    const char *env_json;
};

/* Is kind a job kind this server runs? */
bool srv_job_kind_known(const char *kind);
/* The timeout of a kind in milliseconds. */
int64_t srv_job_timeout_ms(const char *kind);
/* Run job (kind, project, args) to the end, logging through ctl. Returns 0 or the error
 * (ZP_E_CANCELLED when cancelled). */
int srv_job_run(const struct srv_job_env *env, const struct store_job *job, struct srv_job_ctl *ctl,
                struct zp_err *err);

/* gitapps: apps from git (api-apps.c) */
#define SRV_APP_JOB_KIND "app-deploy"
#define SRV_APP_REMOVE_KIND "app-remove" /* a pull request's preview, when it closes */
/* Is kind one of the app job kinds (run by srv_app_job_run)? */
bool srv_app_job_kind(const char *kind);
void srv_api_apps_list(struct srv_req *req, struct srv_resp *resp);
void srv_api_apps_create(struct srv_req *req, struct srv_resp *resp);
void srv_api_app_deploy(struct srv_req *req, struct srv_resp *resp);
void srv_api_webhook(struct srv_req *req, struct srv_resp *resp);
enum srv_hook_provider {
    SRV_HOOK_GITHUB,
    SRV_HOOK_GITEA,
    SRV_HOOK_GITLAB,
    SRV_HOOK_BITBUCKET,
    SRV_HOOK_UNKNOWN,
};
/* "github", "gitea", "gitlab", "bitbucket"; SRV_HOOK_UNKNOWN otherwise. */
enum srv_hook_provider srv_webhook_provider(const char *name);
enum srv_hook_pr { SRV_PR_NONE, SRV_PR_OPEN, SRV_PR_CLOSE };
/* What a webhook delivery says (owned strings; srv_webhook_release). */
struct srv_webhook {
    bool push;    /* a push to a branch (else nothing to deploy) */
    bool deleted; /* the branch was deleted */
    char *branch; /* the branch pushed to; a pull request's head branch */
    char *sha;    /* the new tip, or NULL */
    /* pull requests (GitHub, Gitea: pull_request; GitLab: Merge Request Hook; Bitbucket:
     * pullrequest:*): opened/updated (OPEN) or closed/merged (CLOSE) */
    enum srv_hook_pr pr;
    int64_t pr_number;
    char *pr_base;     /* the branch it targets */
    bool pr_same_repo; /* the head branch is in the same repository (not a fork) */
};
/* Read a delivery's body (a JSON object, capped as every request body) with its event
 * header's value (NULL: none). Errors: ZP_E_INPUT (not JSON, a push without its ref),
 * ZP_E_TOOBIG. */
int srv_webhook_parse(enum srv_hook_provider provider, const char *event, const char *body,
                      size_t len, struct srv_webhook *ret, struct zp_err *err);
void srv_webhook_release(struct srv_webhook *w);
/* Is header (the signature header's value; NULL: missing) right for body under secret?
 * GitHub and Bitbucket "sha256=HEX", Gitea "HEX": HMAC-SHA256; GitLab: the token.
 * Compared in constant time; a missing secret or header is false. */
bool srv_webhook_verify(enum srv_hook_provider provider, const char *secret, const char *header,
                        const char *body, size_t len);
/* A random secret of this process (as long as a generated app secret), that nobody knows:
 * a webhook for an app that does not exist is verified against it, so that it is answered
 * as a wrong signature is, after the same work. */
const char *srv_webhook_decoy_secret(void);
/* Run an app job (project the app): SRV_APP_JOB_KIND release_app_deploy,
 * SRV_APP_REMOVE_KIND release_app_remove with its volumes. */
int srv_app_job_run(struct server *srv, const struct store_job *job, struct srv_job_ctl *ctl,
                    struct zp_err *err);
/* ---- dashboard (web.c, api-dashboard.c, api-admin.c, jobs-restore.c) ---- */

/* Serve the dashboard asset of a GET or HEAD of req->path, if there is one (true: resp
 * is set). */
bool srv_web_serve(struct srv_req *req, struct srv_resp *resp);
void srv_api_me(struct srv_req *req, struct srv_resp *resp);
void srv_api_events(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_health(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_backups(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_backup_get(struct srv_req *req, struct srv_resp *resp);
void srv_api_project_restore(struct srv_req *req, struct srv_resp *resp);
void srv_api_users_list(struct srv_req *req, struct srv_resp *resp);
void srv_api_users_create(struct srv_req *req, struct srv_resp *resp);
void srv_api_user_delete(struct srv_req *req, struct srv_resp *resp);
void srv_api_tokens_list(struct srv_req *req, struct srv_resp *resp);
void srv_api_tokens_create(struct srv_req *req, struct srv_resp *resp);
void srv_api_token_delete(struct srv_req *req, struct srv_resp *resp);
void srv_api_audit_list(struct srv_req *req, struct srv_resp *resp);
void srv_api_proxy_routes(struct srv_req *req, struct srv_resp *resp);
/* Is name a backup archive's file name (letters, digits, ".-_", not starting with ".", ending
 * .tar, .tar.gz, .tgz or .tar.zst)? */
bool srv_backup_name_valid(const char *name);
/* The restore job: args {"backup": FILE} (a file of <state>/backups/<project>). */
int srv_job_run_restore(struct orch *o, const struct compose_project *p, const char *state_dir,
                        json_t *args, struct srv_job_ctl *ctl, struct zp_err *err);
/* dumps */
/* ---- backup schedules (api-schedules.c) ---- */

void srv_api_schedules_list(struct srv_req *req, struct srv_resp *resp);
void srv_api_schedules_create(struct srv_req *req, struct srv_resp *resp);
void srv_api_schedules_delete(struct srv_req *req, struct srv_resp *resp);
/* The scheduler thread: every second (ZPANEL_SCHEDULER_TICK) it queues a backup job for
 * each schedule whose next_run has come, once however many runs were missed. */
struct srv_sched;
int srv_sched_start(struct server *s, struct srv_sched **ret, struct zp_err *err);
void srv_sched_stop(struct srv_sched *sc); /* NULL is accepted */
/* After a job: for a scheduled backup, retention when *rc is 0 (its failure sets *rc and
 * err), then the webhook on failure (and success when asked). */
void srv_sched_after_job(const struct srv_job_env *env, const struct store_job *job, int *rc,
                         struct zp_err *err, struct srv_job_ctl *ctl);
/* s3dest */
/* ---- S3 destinations (api-destinations.c) ---- */

struct s3_client;
void srv_api_destinations_list(struct srv_req *req, struct srv_resp *resp);
void srv_api_destinations_create(struct srv_req *req, struct srv_resp *resp);
void srv_api_destination_delete(struct srv_req *req, struct srv_resp *resp);
/* Check a destination: ZP_E_INPUT naming the field (name, bucket, prefix, endpoint, region,
 * access_key_id, secret_key). */
int srv_destination_check(const struct server_destination_spec *d, struct zp_err *err);
/* A destination as the API shows it: the secret key masked. */
json_t *srv_destination_json(const struct store_destination *d);
/* An S3 client on stored destination name (its secret opened with state_dir's key), with
 * its bucket and prefix (new strings). Errors: ZP_E_NOTFOUND, ZP_E_INPUT (a secret that
 * does not open, a stored field that no longer checks), those of s3_client_new; all
 * prefixed "destination 'NAME'" but the first. */
int srv_destination_client(const char *state_dir, struct store_panel *db, const char *name,
                           struct s3_client **ret, char **ret_bucket, char **ret_prefix,
                           struct zp_err *err);

/* ssh */
struct ssh_tunnel;
/* GET|POST /api/v1/servers, DELETE /api/v1/servers/{name} (the `zpanel server` registry) */
void srv_api_servers_list(struct srv_req *req, struct srv_resp *resp);
void srv_api_servers_add(struct srv_req *req, struct srv_resp *resp);
void srv_api_server_delete(struct srv_req *req, struct srv_resp *resp);
/* The server a project deploys to (STATE/projects/NAME/server), or NULL: the local engine. */
char *srv_project_server(const char *state_dir, const char *project);
/* A project's "server" field: NULL (absent) and JSON null pass; a string must name a
 * registered server. Errors: ZP_E_INPUT naming the field. */
int srv_project_server_check(const char *state_dir, const json_t *v, struct zp_err *err);
/* Store the field (checked): a name, or null to deploy locally again; absent: no change. */
int srv_project_server_set(const char *state_dir, const char *project, const json_t *v,
                           struct zp_err *err);
/* Add "server" (a name or null) to a project's JSON v. */
void srv_project_server_json(const char *state_dir, const char *project, json_t *v);
/* For a job of a project with a server: rewrite p's paths for it, sync its files first for
 * a deploy (logged), and open a tunnel (*ret; the job's engine host is
 * ssh_tunnel_host(*ret)). *ret stays NULL for local projects. */
int srv_job_remote_open(const char *state_dir, const char *kind, struct compose_project *p,
                        struct srv_job_ctl *ctl, struct ssh_tunnel **ret, struct zp_err *err);
/* Log the tunnel's last problem when rc is an error, and close it (NULL accepted). */
void srv_job_remote_close(struct ssh_tunnel *t, struct srv_job_ctl *ctl, int rc);

#endif

/* orchestrator/rollout: zero-downtime replacement of routed services' containers: the
 * new container starts beside the old one, is checked, the proxy's router switches to it
 * in one /load, the old one drains and goes. The plan (batches, order, the host-port
 * fallback) is pure; the steps talk to the engine and the proxy. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"
#include "mapping.h"
#include "orchestrator-int.h"

#include "../util/banned.h"

/* Docker's health check defaults (the engine's, when the field is not set) */
#define HC_INTERVAL_MS 30000
#define HC_TIMEOUT_MS 30000
#define HC_RETRIES 3
#define HC_MARGIN_MS 10000

/* ---- the plan (pure) ---- */

char *orch__temp_name(const char *canonical)
{
    return zp_asprintf("%s%s", canonical, PROXY_TEMP_SUFFIX);
}

static int64_t duration_ms(const struct zp_node *map, const char *key, int64_t dflt)
{
    const char *s = zp_node_get_str(map, key);
    int64_t ns = 0;
    if (s == NULL || zp_parse_duration(s, false, &ns) < 0 || ns < 0)
        return dflt;
    return ns / 1000000;
}

char *orch__single_instance_why(const struct zp_node *svc)
{
    const char *nm = zp_node_get_str(svc, "network_mode");
    if (nm != NULL && (strcmp(nm, "host") == 0 || zp_str_has_prefix(nm, "container:") ||
                       zp_str_has_prefix(nm, "service:")))
        return zp_asprintf("uses network_mode '%s'", nm);
    const struct zp_node *ports = zp_node_get(svc, "ports");
    for (size_t i = 0; zp_node_is_seq(ports) && i < ports->n; i++) {
        const char *pub = zp_node_get_str(ports->items[i], "published");
        if (pub != NULL && pub[0] != '\0' && strcmp(pub, "0") != 0)
            return zp_asprintf("publishes host port %s", pub);
    }
    const struct zp_node *nets = zp_node_get(svc, "networks");
    for (size_t i = 0; zp_node_is_map(nets) && i < nets->n; i++) {
        const struct zp_node *cfg = nets->pairs[i].value;
        static const char *const fixed[] = {"ipv4_address", "ipv6_address", "mac_address", NULL};
        for (size_t k = 0; fixed[k]; k++) {
            const char *a = zp_node_get_str(cfg, fixed[k]);
            if (a != NULL)
                return zp_asprintf("has the fixed %s %s on network '%s'",
                                   k == 2 ? "MAC address" : "address", a, nets->pairs[i].key->str);
        }
    }
    const char *mac = zp_node_get_str(svc, "mac_address");
    if (mac != NULL)
        return zp_asprintf("has the fixed MAC address %s", mac);
    return NULL;
}

int64_t orch__health_budget_ms(const struct zp_node *svc)
{
    const struct zp_node *hc = zp_node_get(svc, "healthcheck");
    if (!zp_node_is_map(hc))
        return 0;
    const struct zp_node *disable = zp_node_get(hc, "disable");
    if (disable != NULL && zp_node_is_scalar(disable) && disable->str != NULL &&
        strcmp(disable->str, "true") == 0)
        return 0;
    const struct zp_node *test = zp_node_get(hc, "test");
    if (zp_node_is_seq(test) && test->n > 0 && test->items[0]->str != NULL &&
        strcmp(test->items[0]->str, "NONE") == 0)
        return 0;
    if (test == NULL)
        return 0; /* the image's own health check may exist: the executor sees it */
    int64_t interval = duration_ms(hc, "interval", HC_INTERVAL_MS);
    int64_t timeout = duration_ms(hc, "timeout", HC_TIMEOUT_MS);
    int64_t start = duration_ms(hc, "start_period", 0);
    int64_t retries = HC_RETRIES;
    const char *r = zp_node_get_str(hc, "retries");
    if (r != NULL && zp_parse_int64(r, 1, 1000000, &retries) < 0)
        retries = HC_RETRIES;
    if (interval <= 0)
        interval = HC_INTERVAL_MS;
    if (timeout <= 0)
        timeout = HC_TIMEOUT_MS;
    /* each term is at most INT64_MAX / 1e6 (a duration in ms): only the product can
     * overflow; saturate rather than wrap to a negative budget */
    int64_t room = INT64_MAX - HC_MARGIN_MS - start;
    if (interval + timeout > room / (retries + 1))
        return INT64_MAX;
    return start + (interval + timeout) * (retries + 1) + HC_MARGIN_MS;
}

void orch__rollout_plan(const struct zp_node *svc, size_t n, struct orch_rollout_plan *ret)
{
    struct orch_rollout_plan p = {.order = ORCH_ORDER_START_FIRST};
    const struct zp_node *uc = zp_node_get(zp_node_get(svc, "deploy"), "update_config");
    int64_t par = 1;
    const char *ps = zp_node_get_str(uc, "parallelism");
    if (ps != NULL && zp_parse_int64(ps, 0, 1000000, &par) < 0)
        par = 1;
    const char *order = zp_node_get_str(uc, "order");
    if (order != NULL && strcmp(order, "stop-first") == 0)
        p.order = ORCH_ORDER_STOP_FIRST;
    p.delay_ms = duration_ms(uc, "delay", 0);
    if (p.order == ORCH_ORDER_START_FIRST) {
        p.why = orch__single_instance_why(svc);
        if (p.why != NULL) {
            p.order = ORCH_ORDER_STOP_FIRST;
            p.fallback = true;
        }
    }
    size_t size = par == 0 || (uint64_t)par > n ? n : (size_t)par;
    if (n > 0) {
        p.nbatches = (n + size - 1) / size;
        p.batches = zp_calloc(p.nbatches, sizeof(*p.batches));
        for (size_t i = 0; i < p.nbatches; i++)
            p.batches[i] = i + 1 < p.nbatches ? size : n - size * (p.nbatches - 1);
    }
    *ret = p;
}

void orch__rollout_plan_release(struct orch_rollout_plan *p)
{
    if (p == NULL)
        return;
    free(p->why);
    free(p->batches);
    memset(p, 0, sizeof(*p));
}

/* ---- the proxy's state shared by the rollouts of one up ---- */

void orch__proxy_ctx_init(struct orch_proxy_ctx *px, const char *state_dir)
{
    memset(px, 0, sizeof(*px));
    px->opts.state_dir = state_dir;
    pthread_mutex_init(&px->lock, NULL);
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void orch__proxy_ctx_release(struct orch_proxy_ctx *px)
{
    if (px == NULL)
        return;
    strv_free(px->include, px->ninclude);
    strv_free(px->exclude, px->nexclude);
    free(px->conflicts);
    pthread_mutex_destroy(&px->lock);
    memset(px, 0, sizeof(*px));
}

static void strv_add(char ***v, size_t *n, const char *s)
{
    *v = zp_realloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = zp_strdup(s);
}

static void strv_del(char **v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(v[i], s) != 0)
            continue;
        free(v[i]);
        memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof(*v));
        (*n)--;
        return;
    }
}

/* With px->lock held. */
static int sync_locked(struct orch *o, struct engine *e, struct orch_proxy_ctx *px,
                       struct zp_err *err)
{
    size_t nov = px->ninclude > px->nexclude ? px->ninclude : px->nexclude;
    struct proxy_override *ov = zp_calloc(nov ? nov : 1, sizeof(*ov));
    for (size_t i = 0; i < nov; i++) {
        ov[i].include_id = i < px->ninclude ? px->include[i] : NULL;
        ov[i].exclude_id = i < px->nexclude ? px->exclude[i] : NULL;
    }
    bool running = false;
    char *conflicts = NULL;
    int rc = proxy_sync(e, &px->opts, ov, nov, &running, &conflicts, err);
    free(ov);
    if (rc < 0) {
        zp_err_prefix(err, "updating the proxy's routes");
        return rc;
    }
    /* said once per session and text: two services claiming one host get its requests
     * in turn, which is never what either wants */
    if (conflicts != NULL && (px->conflicts == NULL || strcmp(px->conflicts, conflicts) != 0)) {
        orch__emit(o, ORCH_OBJ_PROJECT, o->p->name, NULL, ORCH_WARNING, "%s", conflicts);
        free(px->conflicts);
        px->conflicts = conflicts;
        conflicts = NULL;
    }
    free(conflicts);
    px->checked = true;
    px->running = running;
    if (!running && !px->warned) {
        px->warned = true;
        orch__emit(o, ORCH_OBJ_PROJECT, o->p->name, NULL, ORCH_WARNING,
                   "the proxy is not running: routes are applied when it starts "
                   "(`zpanel proxy up`)");
    }
    return 0;
}

int orch__proxy_sync(struct orch *o, struct engine *e, struct orch_proxy_ctx *px,
                     struct zp_err *err)
{
    pthread_mutex_lock(&px->lock);
    int rc = sync_locked(o, e, px, err);
    pthread_mutex_unlock(&px->lock);
    return rc;
}

/* Is the proxy running? Asked once per up (one sync, which also loads what the engine
 * holds now before anything switches). */
static int proxy_running(const struct orch_rollout *r, bool *ret, struct zp_err *err)
{
    struct orch_proxy_ctx *px = r->px;
    int rc = 0;
    pthread_mutex_lock(&px->lock);
    if (!px->checked)
        rc = sync_locked(r->o, r->e, px, err);
    *ret = px->running;
    pthread_mutex_unlock(&px->lock);
    return rc;
}

/* Route (or stop routing) ids[0..n) through the overrides and sync. */
static int route_change(const struct orch_rollout *r, char *const *include, char *const *exclude,
                        size_t n, bool add, struct zp_err *err)
{
    struct orch_proxy_ctx *px = r->px;
    pthread_mutex_lock(&px->lock);
    for (size_t i = 0; i < n; i++) {
        if (include != NULL && include[i] != NULL) {
            if (add)
                strv_add(&px->include, &px->ninclude, include[i]);
            else
                strv_del(px->include, &px->ninclude, include[i]);
        }
        if (exclude != NULL && exclude[i] != NULL) {
            if (add)
                strv_add(&px->exclude, &px->nexclude, exclude[i]);
            else
                strv_del(px->exclude, &px->nexclude, exclude[i]);
        }
    }
    int rc = sync_locked(r->o, r->e, px, err);
    pthread_mutex_unlock(&px->lock);
    return rc;
}

/* ---- one batch ---- */

#define READY_DEFAULT_MS 120000 /* a health check the model does not describe (the image's) */
#define MSG_ROOM 1000

struct slot {
    struct orch_roll_item *it;
    char *canon;    /* the final name */
    char *old_name; /* the old container's name now */
    char *new_name; /* the replacement's name while it runs beside (start-first) */
    char *new_id;
    char *probe_out; /* the failed probe's output */
    bool old_running;
    bool old_stopped;
    bool old_aside; /* renamed (stop-first) */
};

static void sleep_ms(struct orch *o, int64_t ms)
{
    while (ms > 0 && !orch__cancelled(o)) { /* in steps, to notice a cancel */
        int64_t step = ms < 100 ? ms : 100;
        zp_sleep_ms(step);
        ms -= step;
    }
}

/* The distinct container ports of the site's routes (at most n_max). */
static size_t site_ports(const struct proxy_site *site, int *ports, size_t n_max)
{
    size_t n = 0;
    for (size_t i = 0; i < site->nroutes; i++) {
        bool seen = false;
        for (size_t k = 0; k < n; k++)
            seen = seen || ports[k] == site->routes[i].port;
        if (!seen && n < n_max)
            ports[n++] = site->routes[i].port;
    }
    return n;
}

#define MAX_PORTS 16

/* The route's HTTP probe from the router's network: every distinct port must answer
 * 2xx on health_path within health_timeout, tried every health_interval. */
static int probe_ready(const struct orch_rollout *r, struct slot *s, struct zp_err *err)
{
    const struct proxy_site *site = r->site;
    int ports[MAX_PORTS];
    size_t nports = site_ports(site, ports, MAX_PORTS);
    int64_t interval = site->health_interval_ms > 0 ? site->health_interval_ms : 1000;
    int64_t timeout = site->health_timeout_ms > 0 ? site->health_timeout_ms : 5000;
    int64_t deadline = zp_mono_ms() + timeout;
    for (size_t p = 0; p < nports; p++) {
        for (;;) {
            if (orch__cancelled(r->o))
                return orch__interrupted(err);
            int64_t left = deadline - zp_mono_ms();
            bool ok = false;
            char *out = NULL;
            if (left <= 0) {
                return zp_err_set(err, ZP_E_ENGINE, NULL,
                                  "GET %s on port %d did not answer 2xx within %lld ms",
                                  site->health_path, ports[p], (long long)timeout);
            }
            if (proxy_probe(r->e, &r->px->opts, s->new_id, ports[p], site->health_path, left, &ok,
                            &out, err) < 0) {
                free(out);
                return err->code;
            }
            if (ok) {
                free(out);
                break;
            }
            free(s->probe_out);
            s->probe_out = out;
            left = deadline - zp_mono_ms();
            sleep_ms(r->o, interval < left ? interval : left);
        }
    }
    return 0;
}

/* Wait until the replacement runs, is healthy (its health check) and answers the route's
 * probe (when the proxy runs and the site names a health path). */
static int wait_ready(const struct orch_rollout *r, struct slot *s, bool px_running,
                      struct zp_err *err)
{
    const char *name = s->new_name ? s->new_name : s->canon;
    int64_t budget = orch__health_budget_ms(r->svc);
    orch__emit(r->o, ORCH_OBJ_CONTAINER, name, r->service, ORCH_WORKING, "Waiting");
    if (r->ops->wait_ready(r->ops->ud, r->e, s->new_id, budget > 0 ? budget : READY_DEFAULT_MS,
                           err) < 0)
        return err->code;
    bool probe = px_running && r->site->health_path != NULL;
    if (probe && probe_ready(r, s, err) < 0)
        return err->code;
    orch__emit(r->o, ORCH_OBJ_CONTAINER, name, r->service, ORCH_DONE, "%s",
               probe || budget > 0 ? "Healthy" : "Running");
    return 0;
}

/* Add text's last lines that fit in room bytes to b. */
static void add_tail(struct zp_buf *b, const char *text, size_t room)
{
    size_t len = strlen(text);
    const char *p = text;
    if (len > room) {
        p = text + len - room;
        const char *nl = strchr(p, '\n');
        if (nl != NULL)
            p = nl + 1;
    }
    zp_buf_add(b, p, strlen(p));
}

/* The error of a replacement that never became ready: why, the probe's output or the
 * health check's, its last log lines (as many as the message holds). */
static int fail_ready(const struct orch_rollout *r, struct slot *s, struct zp_err *err)
{
    char why[sizeof(err->msg)];
    snprintf(why, sizeof(why), "%s", err->msg);
    int code = err->code;
    zp_err_init(err);
    if (code == ZP_E_CANCELLED)
        return orch__interrupted(err);
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_addf(&b,
                "service '%s': the new container %s did not become healthy: %s; %s keeps serving",
                r->service, s->new_name ? s->new_name : s->canon, why, s->canon);
    if (s->probe_out != NULL && s->probe_out[0] != '\0') {
        zp_buf_addf(&b, "\nprobe output:\n");
        add_tail(&b, s->probe_out, 300);
    } else if (s->new_id != NULL) {
        struct engine_container c = {0};
        struct zp_err ignored;
        zp_err_init(&ignored);
        if (engine_container_inspect(r->e, s->new_id, &c, &ignored) == 0 &&
            c.health_output != NULL && c.health_output[0] != '\0') {
            zp_buf_addf(&b, "\nhealth check output:\n");
            add_tail(&b, c.health_output, 300);
        }
        engine_container_release(&c);
    }
    char *logs = s->new_id ? orch__last_logs(r->e, s->new_id, 20) : NULL;
    if (logs != NULL && logs[0] != '\0' && b.len + 40 < MSG_ROOM) {
        zp_buf_addf(&b, "\nits last log lines:\n");
        add_tail(&b, logs, MSG_ROOM - b.len);
    }
    free(logs);
    zp_err_set(err, ZP_E_ENGINE, NULL, "%s", zp_buf_cstr(&b));
    zp_buf_release(&b);
    return err->code;
}

static void remove_quietly(struct engine *e, const char *id)
{
    struct zp_err ignored;
    zp_err_init(&ignored);
    engine_container_remove(e, id, true, true, &ignored);
}

/* Drain the old containers' upstreams (no new requests reach them any more). */
static void drain(const struct orch_rollout *r, struct slot *s, size_t n)
{
    int ports[MAX_PORTS];
    size_t nports = site_ports(r->site, ports, MAX_PORTS);
    /* one deadline for the whole batch: drain_timeout bounds it, however many containers
     * and ports (0: don't wait) */
    int64_t timeout = r->site->drain_timeout_ms > 0 ? r->site->drain_timeout_ms : 0;
    int64_t deadline = zp_mono_ms() + timeout;
    for (size_t i = 0; i < n; i++) {
        orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].old_name, r->service, ORCH_WORKING, "Draining");
        for (size_t p = 0; p < nports; p++) {
            bool drained = true;
            struct zp_err e2;
            zp_err_init(&e2);
            int64_t left = deadline - zp_mono_ms();
            if (proxy_drain(r->e, &r->px->opts, s[i].it->old->id, ports[p], left > 0 ? left : 0,
                            &drained, &e2) < 0)
                orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].old_name, r->service, ORCH_WARNING,
                           "draining: %s", e2.msg);
            else if (!drained)
                orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].old_name, r->service, ORCH_WARNING,
                           "requests still in flight after the drain timeout (%lld ms); "
                           "stopping it anyway",
                           (long long)timeout);
        }
    }
}

static int create_and_start(const struct orch_rollout *r, struct slot *s, const char *name,
                            struct zp_err *err)
{
    if (r->ops->create(r->ops->ud, r->e, s->it->number, name, &s->new_id, err) < 0)
        return err->code;
    orch__emit(r->o, ORCH_OBJ_CONTAINER, name, r->service, ORCH_WORKING, "Starting");
    if (engine_container_start(r->e, s->new_id, err) < 0) {
        zp_err_prefix(err, "service '%s'", r->service);
        orch__emit(r->o, ORCH_OBJ_CONTAINER, name, r->service, ORCH_FAILED, "%s", err->msg);
        return err->code;
    }
    if (orch__run_hooks(r->o, r->e, r->service, "post_start", s->new_id, name, err) < 0) {
        zp_err_prefix(err, "service '%s'", r->service);
        orch__emit(r->o, ORCH_OBJ_CONTAINER, name, r->service, ORCH_FAILED, "%s", err->msg);
        return err->code;
    }
    orch__emit(r->o, ORCH_OBJ_CONTAINER, name, r->service, ORCH_DONE, "Started");
    return 0;
}

/* Stop and remove the old container of s (it no longer receives requests). */
static int retire_old(const struct orch_rollout *r, struct slot *s, struct zp_err *err)
{
    const char *id = s->it->old->id;
    if (s->old_running && !s->old_stopped) {
        if (orch__run_hooks(r->o, r->e, r->service, "pre_stop", id, s->old_name, err) < 0)
            return err->code;
        orch__emit(r->o, ORCH_OBJ_CONTAINER, s->old_name, r->service, ORCH_WORKING, "Stopping");
        if (engine_container_stop(r->e, id, orch__stop_timeout(r->svc), err) < 0 &&
            err->code != ZP_E_NOTFOUND)
            return err->code;
        zp_err_init(err);
        s->old_stopped = true;
    }
    if (engine_container_remove(r->e, id, true, false, err) < 0 && err->code != ZP_E_NOTFOUND)
        return err->code;
    zp_err_init(err);
    orch__emit(r->o, ORCH_OBJ_CONTAINER, s->old_name, r->service, ORCH_DONE, "Removed");
    return 0;
}

/* Tests only: stop dead at a named point of a rollout (ZP_TEST_CRASH_AT=<point>), as a
 * power cut or a SIGKILL would. */
static void test_crash_at(const char *point)
{
    const char *want = getenv("ZP_TEST_CRASH_AT");
    if (want != NULL && strcmp(want, point) == 0)
        kill(getpid(), SIGKILL);
}

/* A container named like the replacement (<name>-zpnew) exists: remove it when its labels
 * say it is one of ours (this project, this service, this replica, not a one-off: a
 * replacement an interrupted rollout left); anything else stays, and the rollout stops
 * with an error naming it and its owner. */
static int clear_temp_name(const struct orch_rollout *r, struct slot *s, struct zp_err *err)
{
    struct engine_container c = {0};
    struct zp_err ierr;
    zp_err_init(&ierr);
    int rc = engine_container_inspect(r->e, s->new_name, &c, &ierr);
    if (rc == ZP_E_NOTFOUND)
        return 0;
    if (rc < 0) {
        *err = ierr;
        return rc;
    }
    const char *project = engine_labels_get(&c.labels, ORCH_LABEL_PROJECT);
    const char *service = engine_labels_get(&c.labels, ORCH_LABEL_SERVICE);
    const char *number = engine_labels_get(&c.labels, ORCH_LABEL_NUMBER);
    const char *oneoff = engine_labels_get(&c.labels, ORCH_LABEL_ONEOFF);
    char *want_number = zp_asprintf("%d", s->it->number);
    bool ours = project != NULL && strcmp(project, r->o->p->name) == 0 && service != NULL &&
                strcmp(service, r->service) == 0 && number != NULL &&
                strcmp(number, want_number) == 0 && (oneoff == NULL || strcmp(oneoff, "true") != 0);
    free(want_number);
    if (ours) {
        remove_quietly(r->e, c.id);
    } else {
        rc = zp_err_set(
            err, ZP_E_CONFLICT, NULL,
            "service '%s': the rollout needs the name '%s', which container %.12s "
            "holds, and it is not a replacement of this service (it belongs to %s%s%s%s%s): "
            "zpanel leaves it alone; rename or remove it",
            r->service, s->new_name, c.id, project ? "project '" : "no zpanel project",
            project ? project : "", project ? "'" : "", service ? ", service " : "",
            service ? service : "");
    }
    engine_container_release(&c);
    return rc;
}

static int batch_start_first(const struct orch_rollout *r, struct slot *s, size_t n,
                             bool px_running, struct zp_err *err)
{
    struct zp_err ignored;
    size_t i;
    int rc = 0;
    for (i = 0; i < n && rc == 0; i++) {
        orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].old_name, r->service, ORCH_WORKING,
                   "Rolling out");
        /* a replacement left by an interrupted rollout, and only that */
        if ((rc = clear_temp_name(r, &s[i], err)) < 0) {
            orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].new_name, r->service, ORCH_FAILED, "%s",
                       err->msg);
            break;
        }
        rc = create_and_start(r, &s[i], s[i].new_name, err);
    }
    for (i = 0; i < n && rc == 0; i++) {
        if ((rc = wait_ready(r, &s[i], px_running, err)) < 0)
            rc = fail_ready(r, &s[i], err);
    }
    if (rc == 0 && orch__cancelled(r->o))
        rc = orch__interrupted(err);
    char **inc = zp_calloc(n, sizeof(*inc)), **exc = zp_calloc(n, sizeof(*exc));
    for (i = 0; i < n; i++) {
        inc[i] = s[i].new_id;
        exc[i] = s[i].it->old->id;
    }
    if (rc == 0 && (rc = route_change(r, inc, exc, n, true, err)) < 0) {
        zp_err_init(&ignored);
        route_change(r, inc, exc, n, false, &ignored); /* back as it was */
    }
    if (rc < 0) {
        for (i = 0; i < n; i++) {
            if (s[i].new_id == NULL)
                continue;
            orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].new_name, r->service, ORCH_WORKING,
                       "Removing");
            remove_quietly(r->e, s[i].new_id);
            orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].new_name, r->service, ORCH_FAILED, "%s",
                       err->msg);
            free(s[i].new_id);
            s[i].new_id = NULL;
        }
        goto out;
    }
    if (px_running) {
        for (i = 0; i < n; i++)
            orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].canon, r->service, ORCH_DONE, "Switched");
        drain(r, s, n);
    }
    /* Retire every slot, also after one failed (the first error is returned). The router
     * dials upstreams by address, so the renames that follow change nothing on the data
     * path (a rename briefly drops a container's DNS names, which is how requests once
     * failed with "no such host"). */
    bool *retired = zp_calloc(n, sizeof(*retired));
    size_t nret = 0;
    for (i = 0; i < n; i++) {
        struct zp_err e2;
        zp_err_init(&e2);
        if (retire_old(r, &s[i], &e2) == 0) {
            retired[i] = true;
            exc[nret++] = s[i].it->old->id;
        } else if (rc == 0) {
            zp_err_prefix(&e2, "service '%s': retiring %s", r->service, s[i].old_name);
            *err = e2;
            rc = e2.code;
        }
    }
    /* the old containers are gone: their draining upstreams leave the router now */
    zp_err_init(&ignored);
    int rc2 = route_change(r, NULL, exc, nret, false, rc == 0 ? err : &ignored);
    if (rc == 0)
        rc = rc2;
    if (nret > 0)
        test_crash_at("after-retire");
    /* a replacement that could not take its name keeps its include override: it stays
     * routed under the temporary name */
    size_t ndone = 0;
    for (i = 0; i < n; i++) {
        if (!retired[i])
            continue;
        struct zp_err e2;
        zp_err_init(&e2);
        if (engine_container_rename(r->e, s[i].new_id, s[i].canon, &e2) == 0) {
            orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].canon, r->service, ORCH_DONE, "Rolled out");
            inc[ndone++] = s[i].new_id;
        } else if (rc == 0) {
            zp_err_prefix(&e2, "service '%s': renaming %s", r->service, s[i].new_name);
            *err = e2;
            rc = e2.code;
        }
    }
    free(retired);
    /* the replacements carry their final names now: routed without overrides (the same
     * configuration: upstreams are dialled by address, so nothing reloads) */
    zp_err_init(&ignored);
    rc2 = route_change(r, inc, NULL, ndone, false, rc == 0 ? err : &ignored);
    if (rc == 0)
        rc = rc2;
out:
    free(inc);
    free(exc);
    return rc;
}

static int batch_stop_first(const struct orch_rollout *r, struct slot *s, size_t n, bool px_running,
                            struct zp_err *err)
{
    struct zp_err ignored;
    size_t i;
    int rc = 0;
    char **exc = zp_calloc(n, sizeof(*exc));
    for (i = 0; i < n; i++) {
        exc[i] = s[i].it->old->id;
        orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].old_name, r->service, ORCH_WORKING,
                   "Rolling out");
    }
    /* no new requests to the old ones, then let the ones in flight finish */
    if ((rc = route_change(r, NULL, exc, n, true, err)) < 0)
        goto restore;
    if (px_running)
        drain(r, s, n);
    for (i = 0; i < n && rc == 0; i++) {
        if (s[i].old_running) {
            if ((rc = orch__run_hooks(r->o, r->e, r->service, "pre_stop", exc[i], s[i].old_name,
                                      err)) < 0)
                break;
            orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].old_name, r->service, ORCH_WORKING,
                       "Stopping");
            if ((rc = engine_container_stop(r->e, exc[i], orch__stop_timeout(r->svc), err)) < 0)
                break;
            s[i].old_stopped = true;
            orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].old_name, r->service, ORCH_DONE, "Stopped");
        }
        if (strcmp(s[i].old_name, s[i].canon) == 0) {
            char *aside = zp_asprintf("%.12s_%s", exc[i], s[i].canon);
            rc = engine_container_rename(r->e, exc[i], aside, err);
            if (rc == 0) {
                free(s[i].old_name);
                s[i].old_name = aside;
                s[i].old_aside = true;
            } else {
                free(aside);
            }
        }
    }
    for (i = 0; i < n && rc == 0; i++)
        rc = create_and_start(r, &s[i], s[i].canon, err);
    for (i = 0; i < n && rc == 0; i++) {
        if ((rc = wait_ready(r, &s[i], px_running, err)) < 0)
            rc = fail_ready(r, &s[i], err);
    }
    if (rc < 0)
        goto restore;
    for (i = 0; i < n && rc == 0; i++)
        if ((rc = retire_old(r, &s[i], err)) == 0)
            orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].canon, r->service, ORCH_DONE, "Rolled out");
    zp_err_init(&ignored);
    int rc2 = route_change(r, NULL, exc, n, false, rc == 0 ? err : &ignored);
    if (rc == 0)
        rc = rc2;
    free(exc);
    return rc;
restore:
    /* the new ones go, the old ones come back under their names */
    for (i = 0; i < n; i++) {
        zp_err_init(&ignored);
        if (s[i].new_id != NULL) {
            remove_quietly(r->e, s[i].new_id);
            orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].canon, r->service, ORCH_FAILED, "%s",
                       err->msg);
            free(s[i].new_id);
            s[i].new_id = NULL;
        }
        if (s[i].old_aside && engine_container_rename(r->e, exc[i], s[i].canon, &ignored) == 0) {
            free(s[i].old_name);
            s[i].old_name = zp_strdup(s[i].canon);
        }
        if (s[i].old_stopped && engine_container_start(r->e, exc[i], &ignored) == 0)
            orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].old_name, r->service, ORCH_INFO,
                       "Restarted (the old version keeps serving)");
    }
    zp_err_init(&ignored);
    route_change(r, NULL, exc, n, false, &ignored);
    free(exc);
    return rc;
}

int orch__rollout(const struct orch_rollout *r, struct orch_roll_item *items, size_t n,
                  struct zp_err *err)
{
    struct orch_rollout_plan plan;
    struct slot *s = zp_calloc(n ? n : 1, sizeof(*s));
    bool px_running = false;
    int rc = 0;
    size_t nall = n;

    for (size_t i = 0; i < n; i++) {
        const struct orch_obs_container *old = items[i].old;
        s[i].it = &items[i];
        s[i].canon =
            orch__container_name(r->o->p->name, r->service, r->container_name, items[i].number);
        s[i].new_name = orch__temp_name(s[i].canon);
        s[i].old_name = zp_strdup(old->name);
        s[i].old_running = strcmp(old->state, "running") == 0 ||
                           strcmp(old->state, "restarting") == 0 ||
                           strcmp(old->state, "paused") == 0;
    }
    /* A replacement an interrupted rollout left serving under its temporary name (its
     * old container gone; the proxy routes it): when it runs what is wanted, the rollout
     * only has to finish, with the rename. The others roll below, at the front of s. */
    size_t keep = 0;
    for (size_t i = 0; i < n; i++) {
        const struct orch_obs_container *old = items[i].old;
        bool finish = strcmp(s[i].old_name, s[i].new_name) == 0 && r->hash != NULL &&
                      strcmp(old->hash, r->hash) == 0 && strcmp(old->state, "running") == 0;
        struct zp_err ignored;
        zp_err_init(&ignored);
        if (finish && engine_container_rename(r->e, old->id, s[i].canon, &ignored) == 0) {
            orch__emit(r->o, ORCH_OBJ_CONTAINER, s[i].canon, r->service, ORCH_DONE,
                       "Renamed (the interrupted rollout of %s is finished)", s[i].new_name);
            items[i].new_id = zp_strdup(old->id);
            if (keep != i) { /* swap: the finished slot is freed with the others */
                struct slot t = s[keep];
                s[keep] = s[i];
                s[i] = t;
            }
            keep++;
        }
    }
    /* the finished ones are s[0..keep): roll s[keep..n) */
    s += keep;
    n -= keep;
    orch__rollout_plan(r->svc, n, &plan);
    if (plan.fallback)
        orch__emit(r->o, ORCH_OBJ_PROJECT, r->o->p->name, r->service, ORCH_WARNING,
                   "service '%s' %s, so two of its containers cannot run at once: it is "
                   "replaced stop-first (requests wait or fail while it restarts)",
                   r->service, plan.why);
    if ((rc = proxy_running(r, &px_running, err)) < 0)
        goto out;

    size_t done = 0;
    for (size_t b = 0; b < plan.nbatches && rc == 0; b++) {
        struct slot *batch = &s[done];
        size_t bn = plan.batches[b];
        if (b > 0 && plan.delay_ms > 0)
            sleep_ms(r->o, plan.delay_ms);
        if (orch__cancelled(r->o)) {
            rc = orch__interrupted(err);
            break;
        }
        /* a replacement that outlived its old container (an interrupted rollout) goes
         * back to its name and is replaced like any other */
        for (size_t i = 0; i < bn; i++) {
            if (strcmp(batch[i].old_name, batch[i].new_name) != 0)
                continue;
            struct zp_err ignored;
            zp_err_init(&ignored);
            if (engine_container_rename(r->e, batch[i].it->old->id, batch[i].canon, &ignored) ==
                0) {
                free(batch[i].old_name);
                batch[i].old_name = zp_strdup(batch[i].canon);
            }
        }
        /* nothing runs to keep serving: the plain order is as good */
        bool any_running = false;
        for (size_t i = 0; i < bn; i++)
            any_running = any_running || batch[i].old_running;
        bool stop_first = plan.order == ORCH_ORDER_STOP_FIRST || !any_running;
        rc = stop_first ? batch_stop_first(r, batch, bn, px_running, err)
                        : batch_start_first(r, batch, bn, px_running, err);
        for (size_t i = 0; i < bn && rc == 0; i++) {
            batch[i].it->new_id = batch[i].new_id;
            batch[i].new_id = NULL;
        }
        done += bn;
    }
out:
    s -= keep;
    for (size_t i = 0; i < nall; i++) {
        free(s[i].canon);
        free(s[i].old_name);
        free(s[i].new_name);
        free(s[i].new_id);
        free(s[i].probe_out);
    }
    free(s);
    orch__rollout_plan_release(&plan);
    return rc;
}

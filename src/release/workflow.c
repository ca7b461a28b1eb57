/* release/workflow: deploy (up + record), update, rollback, list and cleanup: the lock, the
 * records, the health verdict, the automatic rollback and retention, shared by the CLI and
 * the server. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "../orchestrator/mapping.h"
#include "../orchestrator/swarm.h"
#include "release-int.h"
#include "release.h"

#include "../util/banned.h"

/* Sessions one workflow runs at once: its caller's and one it opened. */
#define MAX_TRACKED 4

/* ---- cancellation ---- */

struct release_cancel {
    pthread_mutex_t lock;
    bool fired;                        /* guarded by lock */
    struct orch *tracked[MAX_TRACKED]; /* guarded by lock */
};

struct release_cancel *release_cancel_new(void)
{
    struct release_cancel *c = zp_calloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void release_cancel_free(struct release_cancel *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void release_cancel_fire(struct release_cancel *c)
{
    pthread_mutex_lock(&c->lock);
    c->fired = true;
    for (size_t i = 0; i < MAX_TRACKED; i++)
        if (c->tracked[i] != NULL)
            orch_cancel(c->tracked[i]);
    pthread_mutex_unlock(&c->lock);
}

bool release_cancel_fired(struct release_cancel *c)
{
    if (c == NULL)
        return false;
    pthread_mutex_lock(&c->lock);
    bool fired = c->fired;
    pthread_mutex_unlock(&c->lock);
    return fired;
}

/* From now on firing c cancels o (at once when it fired already). */
static void track(struct release_cancel *c, struct orch *o)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    bool placed = false;
    for (size_t i = 0; i < MAX_TRACKED && !placed; i++) {
        if (c->tracked[i] == NULL) {
            c->tracked[i] = o;
            placed = true;
        }
    }
    if (!placed)
        ZP_BUG("release: more than %d sessions tracked", MAX_TRACKED);
    if (c->fired)
        orch_cancel(o);
    pthread_mutex_unlock(&c->lock);
}

static void untrack(struct release_cancel *c, struct orch *o)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < MAX_TRACKED; i++)
        if (c->tracked[i] == o)
            c->tracked[i] = NULL;
    pthread_mutex_unlock(&c->lock);
}

/* ---- results ---- */

void release_result_release(struct release_result *r)
{
    if (r == NULL)
        return;
    free(r->problem);
    memset(r, 0, sizeof(*r));
}

/* ---- one workflow's state ---- */

struct ctx {
    const struct release_opts *opts;
    const char *project;
    const char *workdir;
    char *state_dir;
    char *dir; /* <state>/projects: databases, locks, model files */
    struct store *store;
    int lock_fd;
    struct engine *engine; /* keep tags */
    int64_t wait_ms;
    size_t keep;
};

static void say(const struct ctx *c, enum release_level level, const char *fmt, ...)
    ZP_PRINTF(3, 4);
static void say(const struct ctx *c, enum release_level level, const char *fmt, ...)
{
    const struct release_sink *s = c->opts->sink;
    if (s == NULL || s->line == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *text = zp_vasprintf(fmt, ap);
    va_end(ap);
    s->line(s->ud, level, text);
    free(text);
}

static orch_progress_fn sink_event(const struct ctx *c)
{
    return c->opts->sink ? c->opts->sink->event : NULL;
}

static void *sink_ud(const struct ctx *c)
{
    return c->opts->sink ? c->opts->sink->ud : NULL;
}

static void ctx_close(struct ctx *c)
{
    engine_free(c->engine);
    release_unlock(c->lock_fd);
    store_close(c->store);
    free(c->dir);
    free(c->state_dir);
    c->engine = NULL;
    c->lock_fd = -1;
    c->store = NULL;
    c->dir = NULL;
    c->state_dir = NULL;
}

/* Open the project's state for a deployment: the database (created when absent), the
 * project's lock, an engine client for keep tags. */
static int ctx_open(struct ctx *c, const struct release_opts *opts, const char *project,
                    const char *workdir, struct zp_err *err)
{
    memset(c, 0, sizeof(*c));
    c->opts = opts;
    c->project = project;
    c->workdir = workdir;
    c->lock_fd = -1;
    c->wait_ms = opts->wait_timeout_ms > 0 ? opts->wait_timeout_ms : RELEASE_WAIT_DEFAULT_MS;
    c->keep = opts->keep > 0 ? opts->keep : RELEASE_KEEP_DEFAULT;
    c->state_dir = opts->state_dir ? zp_strdup(opts->state_dir) : store_state_dir();
    int rc;
    /* the lock first: whoever holds it may be migrating or writing the database */
    if ((rc = store_projects_dir(c->state_dir, &c->dir, err)) < 0 ||
        (rc = release_lock(c->dir, project, &c->lock_fd, err)) < 0 ||
        (rc = store_open(c->state_dir, project, &c->store, err)) < 0)
        goto fail;
    if ((rc = engine_global_init(err)) < 0 || (c->engine = engine_new(opts->host, err)) == NULL) {
        rc = rc < 0 ? rc : err->code;
        goto fail;
    }
    return 0;
fail:
    ctx_close(c);
    return rc;
}

/* The releases, with those left DEPLOYING by a zpanel that stopped marked FAILED (we hold
 * the lock, so nobody is deploying them). */
static int ctx_list(struct ctx *c, struct store_release **ret, size_t *ret_n, struct zp_err *err)
{
    size_t stale = 0;
    int rc = store_release_fail_stale(c->store, "interrupted before its health check ended", &stale,
                                      err);
    if (rc < 0)
        return rc;
    if (stale > 0)
        say(c, RELEASE_WARNING, "marked %zu interrupted release%s failed", stale,
            stale == 1 ? "" : "s");
    return store_release_list(c->store, ret, ret_n, err);
}

static bool cancelled(const struct ctx *c, int rc)
{
    return rc == ZP_E_CANCELLED || release_cancel_fired(c->opts->cancel);
}

/* Remove releases beyond c->keep and their keep tags; problems are warnings. */
static void prune(struct ctx *c)
{
    struct store_release *pruned = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (store_release_prune(c->store, c->keep, &pruned, &n, &err) < 0) {
        say(c, RELEASE_WARNING, "pruning old releases: %s", err.msg);
        return;
    }
    char *warnings = NULL;
    release_unkeep(c->engine, pruned, n, &warnings);
    for (size_t i = 0; i < n; i++)
        say(c, RELEASE_INFO, "Release %" PRId64 " removed (keeping %zu)", pruned[i].id, c->keep);
    if (warnings != NULL)
        say(c, RELEASE_WARNING, "keep tags left in place:\n%s", warnings);
    free(warnings);
    store_releases_free(pruned, n);
}

/* Bring o's project up (no builds: images are ready) and check its health. Returns 0, or
 * ZP_E_CANCELLED / ZP_E_ENGINE with *ret_problem (a new string) saying what failed. */
static int deploy_checked(struct ctx *c, struct orch *o, const struct store_release *rel,
                          const char *const *services, size_t nservices, bool remove_orphans,
                          char **ret_problem)
{
    struct orch_up_opts uo;
    memset(&uo, 0, sizeof(uo));
    uo.services = services;
    uo.nservices = nservices;
    uo.no_build = true;
    uo.pull = ORCH_PULL_NEVER;
    uo.wait = true;
    uo.wait_timeout_ms = c->wait_ms;
    uo.remove_orphans = remove_orphans;
    struct zp_err err, herr;
    zp_err_init(&err);
    zp_err_init(&herr);
    char *problem = NULL;
    int rc = orch_up(o, &uo, &err);
    if (cancelled(c, rc)) {
        *ret_problem = zp_strdup("interrupted");
        return ZP_E_CANCELLED;
    }
    /* the probe's own output says more than "unhealthy" */
    if (orch_snap_health(o, services, nservices, &problem, &herr) < 0 && rc == 0)
        problem = zp_strdup(herr.msg);
    if (rc < 0 && problem == NULL)
        problem = zp_strdup(err.msg);
    if (problem != NULL) {
        *ret_problem = problem;
        return ZP_E_ENGINE;
    }
    /* the containers must now carry the recorded config hashes */
    struct orch_snap *obs = NULL;
    size_t nobs = 0;
    char *diff = NULL;
    if (rel != NULL && orch_snap_observe(o, &obs, &nobs, &herr) == 0 &&
        release_compare(rel, obs, nobs, &diff) > 0)
        say(c, RELEASE_WARNING, "containers differ from release %" PRId64 "'s record: %s", rel->id,
            diff);
    free(diff);
    orch_snap_free(obs, nobs);
    return 0;
}

/* Load rel's recorded model and open a session on it (tracked for cancellation). */
static int open_recorded(struct ctx *c, const struct store_release *rel,
                         struct compose_project **ret_p, struct orch **ret_o, struct zp_err *err)
{
    struct compose_project *p = NULL;
    struct orch *o = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = release_load_model(rel, c->dir, c->project, c->workdir, &p, &d, err);
    zp_diags_release(&d);
    if (rc == 0)
        rc = orch_new(p, c->opts->host, sink_event(c), sink_ud(c), &o, err);
    if (rc < 0) {
        compose_project_free(p);
        return rc;
    }
    track(c->opts->cancel, o);
    *ret_p = p;
    *ret_o = o;
    return 0;
}

static void close_recorded(struct ctx *c, struct compose_project *p, struct orch *o)
{
    if (o != NULL)
        untrack(c->opts->cancel, o);
    orch_free(o);
    compose_project_free(p);
}

/* ---- Swarm releases (release.h: "Swarm projects") ---- */

/* The model a Swarm release records: p's, with x-zpanel.swarm set and the --scale
 * overrides folded into deploy.replicas (replicated services). A new string. */
static char *swarm_model_json(const struct compose_project *p, const struct orch_scale *scale,
                              size_t nscale)
{
    struct zp_node *m = zp_node_copy(p->model);
    struct zp_node *x = zp_node_get(m, "x-zpanel");
    if (x == NULL || !zp_node_is_map(x)) {
        zp_node_set(m, "x-zpanel", zp_node_new_map(NULL));
        x = zp_node_get(m, "x-zpanel");
    }
    zp_node_set(x, "swarm", zp_node_new_bool(true, NULL));
    /* a config's file as its content: a rollback gets the config it ran with, not the
     * file as it is then (secrets are not stored: their files are read again) */
    struct zp_node *configs = zp_node_get(m, "configs");
    for (size_t i = 0; configs && zp_node_is_map(configs) && i < configs->n; i++) {
        struct zp_node *def = configs->pairs[i].value;
        const char *file = zp_node_get_str(def, "file");
        char *data = NULL;
        size_t len = 0;
        struct zp_err ferr;
        zp_err_init(&ferr);
        if (file && zp_file_read(file, (size_t)500 * 1024, &data, &len, &ferr) == 0 &&
            strlen(data) == len) {
            zp_node_set(def, "content", zp_node_new_str(data, NULL));
            zp_node_del(def, "file");
        }
        free(data);
    }
    struct zp_node *svcs = zp_node_get(m, "services");
    for (size_t i = 0; i < nscale; i++) {
        struct zp_node *svc = zp_node_get(svcs, scale[i].service);
        if (svc == NULL || !zp_node_is_map(svc))
            continue;
        struct zp_node *d = zp_node_get(svc, "deploy");
        const char *mode = d ? zp_node_get_str(d, "mode") : NULL;
        if (mode != NULL && strcmp(mode, "global") == 0)
            continue;
        if (d == NULL || !zp_node_is_map(d)) {
            zp_node_set(svc, "deploy", zp_node_new_map(NULL));
            d = zp_node_get(svc, "deploy");
        }
        zp_node_set(d, "replicas", zp_node_new_int(scale[i].replicas, NULL));
        zp_node_del(svc, "scale");
    }
    char *json = release_model_json(m);
    zp_node_free(m);
    return json;
}

/* The services a Swarm release records: those of model whose image is on the manager
 * (built or pulled there: its ID, kept by a tag), with the config hash of the service as
 * it runs (run, from orch_swarm_services). Images only the nodes pull are not recorded:
 * the model names them. */
static int swarm_record_services(struct ctx *c, const struct zp_node *model, int64_t id,
                                 const struct orch_swarm_service *run, size_t nrun,
                                 struct store_release_service **ret, size_t *ret_n,
                                 struct zp_err *err)
{
    const struct zp_node *svcs = zp_node_get(model, "services");
    size_t nsvc = zp_node_is_map(svcs) ? svcs->n : 0;
    struct store_release_service *out = zp_calloc(nsvc ? nsvc : 1, sizeof(*out));
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < nsvc && rc == 0; i++) {
        const char *name = svcs->pairs[i].key->str;
        char *ref = orch_service_image(c->project, name, svcs->pairs[i].value);
        bool exists = false;
        char *image_id = NULL;
        rc = engine_image_inspect(c->engine, ref, &exists, &image_id, err);
        if (rc < 0 || !exists || image_id == NULL) {
            free(ref);
            free(image_id);
            continue;
        }
        const char *hash = "";
        for (size_t k = 0; k < nrun; k++)
            if (strcmp(run[k].service, name) == 0)
                hash = run[k].config_hash;
        struct store_release_service *s = &out[n++];
        s->service = zp_strdup(name);
        s->image_ref = ref;
        s->image_id = image_id;
        s->keep_tag = release_keep_tag(c->project, name, id);
        s->config_hash = zp_strdup(hash);
    }
    if (rc < 0) {
        release_services_free(out, n);
        return rc;
    }
    *ret = out;
    *ret_n = n;
    return 0;
}

/* Did a service of the project change between two looks (created, removed, new hash)? */
static bool swarm_changed(const struct orch_swarm_service *a, size_t na,
                          const struct orch_swarm_service *b, size_t nb)
{
    if (na != nb)
        return true;
    for (size_t i = 0; i < na; i++) {
        bool same = false;
        for (size_t k = 0; k < nb && !same; k++)
            same = strcmp(a[i].name, b[k].name) == 0 &&
                   strcmp(a[i].config_hash, b[k].config_hash) == 0;
        if (!same)
            return true;
    }
    return false;
}

/* Flags about containers have no meaning for services: refused, not ignored. */
static int swarm_refuse_flags(const struct orch_up_opts *up, struct zp_err *err)
{
    const char *bad = up->no_start                          ? "no_start"
                      : up->build                           ? "build"
                      : up->recreate == ORCH_RECREATE_FORCE ? "force_recreate"
                      : up->recreate == ORCH_RECREATE_NEVER ? "no_recreate"
                      : up->no_deps                         ? "no_deps"
                      : up->abort_on_container_exit         ? "abort_on_container_exit"
                                                            : NULL;
    if (bad == NULL)
        return 0;
    return zp_err_set(err, ZP_E_INPUT, NULL, "%s: not supported for a Swarm deploy", bad);
}

/* Converge the swarm to rel's recorded model (o is a session on it): its kept images back
 * under their references, then every service, orphans removed, waited for. As
 * deploy_checked. */
static int swarm_restore_on(struct ctx *c, struct orch *o, const struct store_release *rel,
                            char **ret_problem)
{
    struct zp_err err;
    zp_err_init(&err);
    int rc = release__restore_images(orch_engine(o), rel, c->opts->sink, &err);
    if (rc == 0) {
        struct orch_swarm_up_opts so;
        memset(&so, 0, sizeof(so));
        so.remove_orphans = true;
        so.wait_timeout_ms = c->wait_ms;
        rc = orch_swarm_up(o, &so, &err);
    }
    if (rc != 0) {
        *ret_problem = zp_strdup(err.msg);
        return cancelled(c, rc) ? ZP_E_CANCELLED : ZP_E_ENGINE;
    }
    return 0;
}

/* Redeploy rel on o (a session on its recorded model): its images back, then up with
 * orphans removed, health checked (on Swarm: swarm_restore_on). As deploy_checked. */
static int restore_on(struct ctx *c, struct orch *o, bool swarm, const struct store_release *rel,
                      char **ret_problem)
{
    if (swarm)
        return swarm_restore_on(c, o, rel, ret_problem);
    struct zp_err err;
    zp_err_init(&err);
    if (release__restore_images(orch_engine(o), rel, c->opts->sink, &err) < 0) {
        *ret_problem = zp_strdup(err.msg);
        return cancelled(c, err.code) ? ZP_E_CANCELLED : ZP_E_ENGINE;
    }
    return deploy_checked(c, o, rel, NULL, 0, true, ret_problem);
}

static int rehash(struct orch *o, const struct compose_project *p, struct store_release *rel,
                  struct zp_err *err);
static int refuse_beside_swarm(struct orch *o, const struct compose_project *p, struct zp_err *err);

/* Redeploy a recorded release exactly (its model, its images). */
static int restore(struct ctx *c, const struct store_release *rel, char **ret_problem)
{
    struct compose_project *p = NULL;
    struct orch *o = NULL;
    struct store_release copy;
    memset(&copy, 0, sizeof(copy));
    struct zp_err err;
    zp_err_init(&err);
    int rc = open_recorded(c, rel, &p, &o, &err);
    if (rc == 0 && !orch_swarm_wanted(p))
        rc = refuse_beside_swarm(o, p, &err);
    if (rc == 0) {
        /* what the containers will carry: the record's hashes may come from its files */
        copy = *rel;
        copy.kind = NULL;
        copy.model_json = NULL;
        copy.note = NULL;
        copy.services = zp_calloc(rel->nservices ? rel->nservices : 1, sizeof(*copy.services));
        for (size_t i = 0; i < rel->nservices; i++) {
            copy.services[i].service = zp_strdup(rel->services[i].service);
            copy.services[i].image_ref = zp_strdup(rel->services[i].image_ref);
            copy.services[i].image_id = zp_strdup(rel->services[i].image_id);
            copy.services[i].config_hash = zp_strdup(rel->services[i].config_hash);
            if (rel->services[i].keep_tag != NULL)
                copy.services[i].keep_tag = zp_strdup(rel->services[i].keep_tag);
        }
        if (!orch_swarm_wanted(p)) /* a Swarm record keeps the services' hashes */
            rc = rehash(o, p, &copy, &err);
    }
    if (rc < 0) {
        *ret_problem = zp_strdup(err.msg);
        rc = cancelled(c, rc) ? ZP_E_CANCELLED : ZP_E_ENGINE;
    } else {
        rc = restore_on(c, o, orch_swarm_wanted(p), &copy, ret_problem);
    }
    close_recorded(c, p, o);
    store_release_release(&copy);
    return rc;
}

/* The deploy of rel (recorded DEPLOYING) ended with rc and problem: mark it DEPLOYED (and
 * the one before SUPERSEDED, one transaction), or FAILED after restoring prev (not after a
 * cancel), then prune. Fills out; returns 0 or the error saying what failed. */
static int finish(struct ctx *c, const struct store_release *rel, const struct store_release *prev,
                  int rc, const char *problem, struct release_result *out, struct zp_err *err)
{
    out->id = rel->id;
    out->previous = prev ? prev->id : 0;
    if (rc == 0) {
        if ((rc = store_release_set_status(c->store, rel->id, STORE_RELEASE_DEPLOYED, NULL, err)) <
            0) {
            zp_err_prefix(err, "release %" PRId64 " runs, but recording it as deployed failed",
                          rel->id);
            out->outcome = RELEASE_FAILED;
            return rc;
        }
        out->outcome = RELEASE_DEPLOYED;
        prune(c);
        return 0;
    }
    out->problem = zp_strdup(problem);
    struct zp_err serr;
    zp_err_init(&serr);
    if (rc == ZP_E_CANCELLED || prev == NULL) {
        out->outcome = RELEASE_FAILED;
        if (store_release_set_status(c->store, rel->id, STORE_RELEASE_FAILED, problem, &serr) < 0)
            say(c, RELEASE_WARNING, "%s", serr.msg);
        prune(c);
        if (prev != NULL)
            return zp_err_set(err, rc, NULL,
                              "release %" PRId64 " failed: %s; run `zpanel rollback %" PRId64
                              "` to return to the release that ran before",
                              rel->id, problem, prev->id);
        return zp_err_set(err, rc, NULL,
                          "release %" PRId64 " failed: %s; no earlier release to roll back to: "
                          "its containers are left as they are",
                          rel->id, problem);
    }
    say(c, RELEASE_INFO, "Release %" PRId64 " failed: %s", rel->id, problem);
    say(c, RELEASE_INFO, "Rolling back to release %" PRId64, prev->id);
    char *again = NULL;
    int brc = restore(c, prev, &again);
    char *note;
    if (brc == 0)
        note = zp_asprintf("%s; rolled back to release %" PRId64, problem, prev->id);
    else
        note = zp_asprintf("%s; rolling back to release %" PRId64 " failed too: %s", problem,
                           prev->id, again);
    out->outcome = brc == 0 ? RELEASE_ROLLED_BACK : RELEASE_FAILED;
    if (store_release_set_status(c->store, rel->id, STORE_RELEASE_FAILED, note, &serr) < 0)
        say(c, RELEASE_WARNING, "%s", serr.msg);
    zp_err_set(err, brc == ZP_E_CANCELLED ? ZP_E_CANCELLED : ZP_E_ENGINE, NULL,
               "release %" PRId64 " failed: %s", rel->id, note);
    free(again);
    free(note);
    prune(c);
    return err->code;
}

/* Containers beside the project's Swarm services would run it twice: ZP_E_CONFLICT when
 * o's project runs as services (an engine that cannot say is not an error). */
static int refuse_beside_swarm(struct orch *o, const struct compose_project *p, struct zp_err *err)
{
    bool on_swarm = false;
    struct zp_err serr;
    zp_err_init(&serr);
    if (orch_swarm_deployed(o, &on_swarm, &serr) == 0 && on_swarm)
        return zp_err_set(err, ZP_E_CONFLICT, NULL,
                          "project '%s' runs as Swarm services on this engine: use `up "
                          "--swarm` (or x-zpanel.swarm), or `down` it first",
                          p->name);
    return 0;
}

/* update on a Swarm project: orch_swarm_up (Swarm's rolling update), then a release
 * recorded from what runs when a service changed or the update failed (DEPLOYED, or
 * FAILED and the release before redeployed: finish). Nothing new: UP_TO_DATE. */
static int swarm_update(struct ctx *c, struct orch *o, const struct compose_project *p,
                        const char *const *services, size_t nservices, struct release_result *out,
                        struct zp_err *err)
{
    struct store_release *list = NULL, rel;
    memset(&rel, 0, sizeof(rel));
    size_t nlist = 0, nbefore = 0, nafter = 0;
    struct orch_swarm_service *before = NULL, *after = NULL;
    char *model = NULL;
    struct zp_err uerr, serr;
    zp_err_init(&uerr);
    zp_err_init(&serr);
    int rc = ctx_list(c, &list, &nlist, err);
    if (rc < 0)
        return rc;
    const struct store_release *prev = release_running(list, nlist);
    out->previous = prev ? prev->id : 0;
    /* an engine that is no manager fails in orch_swarm_up, which says what to do */
    bool manager = orch_swarm_services(o, &before, &nbefore, &serr) == 0;
    struct orch_swarm_up_opts so;
    memset(&so, 0, sizeof(so));
    so.services = services;
    so.nservices = nservices;
    so.wait_timeout_ms = c->wait_ms;
    int urc = orch_swarm_up(o, &so, &uerr);
    zp_err_init(&serr);
    if (manager && orch_swarm_services(o, &after, &nafter, &serr) != 0)
        say(c, RELEASE_WARNING, "reading the services after the update: %s", serr.msg);
    bool changed = swarm_changed(before, nbefore, after, nafter);
    model = swarm_model_json(p, NULL, 0);
    if (urc == 0 && !changed && prev != NULL && strcmp(prev->model_json, model) == 0) {
        out->id = prev->id;
        out->outcome = RELEASE_UP_TO_DATE;
        goto out;
    }
    if (urc != 0 && !changed && !(manager && urc == ZP_E_ENGINE)) {
        *err = uerr; /* refused before anything was tried: nothing to record */
        rc = urc;
        goto out;
    }
    rel.kind = zp_strdup("update");
    rel.status = STORE_RELEASE_DEPLOYING;
    rel.model_json = model;
    model = NULL;
    if ((rc = store_release_next_id(c->store, &rel.id, err)) < 0 ||
        (rc = swarm_record_services(c, p->model, rel.id, after, nafter, &rel.services,
                                    &rel.nservices, err)) < 0 ||
        (rc = release_keep(c->engine, &rel, err)) < 0 ||
        (rc = store_release_add(c->store, &rel, err)) < 0)
        goto out;
    say(c, RELEASE_INFO, "Deployed on the swarm as release %" PRId64, rel.id);
    if (urc != 0)
        urc = cancelled(c, urc) ? ZP_E_CANCELLED : ZP_E_ENGINE;
    rc = finish(c, &rel, prev, urc, urc != 0 ? uerr.msg : NULL, out, err);
out:
    free(model);
    orch_swarm_services_free(before, nbefore);
    orch_swarm_services_free(after, nafter);
    store_release_release(&rel);
    store_releases_free(list, nlist);
    return rc;
}

/* ---- update ---- */

/* Does the new release change nothing from prev (same model, same images and hashes)? */
static bool unchanged(const struct store_release *prev, const char *model_json,
                      const struct orch_snap_target *w, size_t nw)
{
    if (prev == NULL || strcmp(prev->model_json, model_json) != 0)
        return false;
    for (size_t i = 0; i < nw; i++) {
        bool same = false;
        for (size_t k = 0; k < prev->nservices && !same; k++)
            same = strcmp(prev->services[k].service, w[i].service) == 0 &&
                   strcmp(prev->services[k].image_id, w[i].image_id) == 0 &&
                   strcmp(prev->services[k].config_hash, w[i].config_hash) == 0;
        if (!same)
            return false;
    }
    return true;
}

static bool has_containers(const struct orch_snap *obs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!obs[i].oneoff)
            return true;
    return false;
}

/* A note for a release recorded from containers whose definitions the files no longer
 * give (NULL when they all match). */
static int drift_note(struct orch *o, const struct orch_snap *obs, size_t nobs, bool no_adapt,
                      char **ret, struct zp_err *err)
{
    char *names = NULL;
    size_t n = 0;
    int rc = orch_snap_drift(o, obs, nobs, no_adapt, &names, &n, err);
    if (rc < 0)
        return rc;
    *ret = NULL;
    if (n > 0)
        *ret = zp_asprintf("recorded from the running containers; the files changed since "
                           "%s %s deployed, so a rollback to this release restores %s image but "
                           "takes %s definition from the files as they were when recorded",
                           names, n == 1 ? "was" : "were", n == 1 ? "its" : "their",
                           n == 1 ? "its" : "their");
    free(names);
    return 0;
}

/* The first update of a project that runs already (deployed before releases were
 * recorded): record what runs as a release. */
static int record_baseline(struct ctx *c, struct orch *o, const struct compose_project *p,
                           const struct orch_snap *obs, size_t nobs, struct store_release *ret,
                           struct zp_err *err)
{
    struct store_release b;
    memset(&b, 0, sizeof(b));
    int rc = store_release_next_id(c->store, &b.id, err);
    if (rc < 0)
        return rc;
    b.kind = zp_strdup("observed");
    b.status = STORE_RELEASE_DEPLOYED;
    b.model_json = release_model_json(p->model);
    release_services_build(c->project, p->model, b.id, NULL, 0, obs, nobs, &b.services,
                           &b.nservices);
    if ((rc = drift_note(o, obs, nobs, false, &b.note, err)) < 0 ||
        (rc = release_keep(c->engine, &b, err)) < 0 ||
        (rc = store_release_add(c->store, &b, err)) < 0) {
        store_release_release(&b);
        return rc;
    }
    say(c, RELEASE_INFO, "Recorded what runs now as release %" PRId64, b.id);
    *ret = b;
    return 0;
}

int release_update(struct orch *o, const struct compose_project *p, const char *const *services,
                   size_t nservices, const struct release_opts *opts, struct release_result *out,
                   struct zp_err *err)
{
    memset(out, 0, sizeof(*out));
    struct ctx c;
    struct store_release *list = NULL, base, rel;
    memset(&base, 0, sizeof(base));
    memset(&rel, 0, sizeof(rel));
    size_t nlist = 0, nobs = 0, ntargets = 0;
    struct orch_snap *obs = NULL;
    struct orch_snap_target *targets = NULL;
    char *model = NULL, *problem = NULL;
    bool swarm = opts->swarm;
    int rc = swarm ? 0 : orch_swarm_project(o, &swarm, err);
    if (rc != 0)
        return rc;
    if ((rc = ctx_open(&c, opts, p->name, p->workdir, err)) < 0)
        return rc;
    track(opts->cancel, o);
    if (swarm) {
        rc = swarm_update(&c, o, p, services, nservices, out, err);
        goto out;
    }
    if ((rc = ctx_list(&c, &list, &nlist, err)) < 0 ||
        (rc = orch_snap_observe(o, &obs, &nobs, err)) < 0)
        goto out;
    const struct store_release *prev = release_running(list, nlist);
    if (nlist == 0 && has_containers(obs, nobs)) {
        if ((rc = record_baseline(&c, o, p, obs, nobs, &base, err)) < 0)
            goto out;
        prev = &base;
        out->baseline = base.id;
    }
    out->previous = prev ? prev->id : 0;
    if ((rc = orch_snap_prepare(o, services, nservices, false, &targets, &ntargets, err)) < 0)
        goto out;
    model = release_model_json(p->model);
    if (unchanged(prev, model, targets, ntargets)) {
        /* nothing new to record: converge and check what runs */
        out->id = prev->id;
        rc = deploy_checked(&c, o, prev, services, nservices, false, &problem);
        if (rc == 0) {
            out->outcome = RELEASE_UP_TO_DATE;
        } else {
            out->outcome = RELEASE_FAILED;
            out->problem = zp_strdup(problem);
            zp_err_set(err, rc, NULL, "release %" PRId64 ": %s", prev->id, problem);
        }
        goto out;
    }
    rel.kind = zp_strdup("update");
    rel.status = STORE_RELEASE_DEPLOYING;
    rel.model_json = model;
    model = NULL;
    if ((rc = store_release_next_id(c.store, &rel.id, err)) < 0)
        goto out;
    release_services_build(c.project, p->model, rel.id, targets, ntargets, obs, nobs, &rel.services,
                           &rel.nservices);
    if ((rc = release_keep(c.engine, &rel, err)) < 0 ||
        (rc = store_release_add(c.store, &rel, err)) < 0)
        goto out;
    say(&c, RELEASE_INFO, "Deploying release %" PRId64, rel.id);
    rc = deploy_checked(&c, o, &rel, services, nservices, false, &problem);
    rc = finish(&c, &rel, prev, rc, problem, out, err);
out:
    untrack(opts->cancel, o);
    free(problem);
    free(model);
    orch_snap_targets_free(targets, ntargets);
    orch_snap_free(obs, nobs);
    store_release_release(&rel);
    store_release_release(&base);
    store_releases_free(list, nlist);
    ctx_close(&c);
    return rc;
}

/* ---- rollback ---- */

/* Are the images of release t still on the engine? */
static int check_images(struct engine *e, const struct store_release *t, struct zp_err *err)
{
    for (size_t i = 0; i < t->nservices; i++) {
        const struct store_release_service *s = &t->services[i];
        bool exists = false;
        if (engine_image_inspect(e, s->image_id, &exists, NULL, err) < 0)
            return err->code;
        if (!exists)
            return zp_err_set(err, ZP_E_NOTFOUND, NULL,
                              "release %" PRId64 ": the image of service '%s' (%s) is no "
                              "longer on the engine",
                              t->id, s->service, s->image_id);
    }
    return 0;
}

/* rel (a copy of a recorded release) as it will be recorded for a redeploy on o: the
 * config hashes `up` gives its services from the model as loaded now (a record whose files
 * are folded into it hashes differently from the files it came from). */
static int rehash(struct orch *o, const struct compose_project *p, struct store_release *rel,
                  struct zp_err *err)
{
    const struct zp_node *svcs = zp_node_get(p->model, "services");
    for (size_t i = 0; i < rel->nservices; i++) {
        struct store_release_service *s = &rel->services[i];
        const struct zp_node *svc = zp_node_get(svcs, s->service);
        if (svc == NULL)
            continue;
        char hash[65];
        int rc = orch_snap_config_hash(o, s->service, svc, s->image_id, false, hash, err);
        if (rc < 0)
            return rc;
        free(s->config_hash);
        s->config_hash = zp_strdup(hash);
    }
    return 0;
}

int release_rollback(const char *project, const char *workdir, int64_t target,
                     const struct release_opts *opts, struct release_result *out,
                     struct zp_err *err)
{
    memset(out, 0, sizeof(*out));
    struct ctx c;
    struct store_release *list = NULL, rel;
    memset(&rel, 0, sizeof(rel));
    size_t nlist = 0;
    int64_t target_id = 0;
    struct compose_project *p = NULL;
    struct orch *o = NULL;
    char *problem = NULL;
    int rc = ctx_open(&c, opts, project, workdir, err);
    if (rc < 0)
        return rc;
    if ((rc = ctx_list(&c, &list, &nlist, err)) < 0 ||
        (rc = release_pick_target(list, nlist, target, &target_id, err)) < 0)
        goto out;
    const struct store_release *t = NULL;
    for (size_t i = 0; i < nlist; i++)
        if (list[i].id == target_id)
            t = &list[i];
    if (t == NULL) /* release_pick_target picks from list */
        ZP_BUG("release %" PRId64 " vanished", target_id);
    const struct store_release *prev = release_running(list, nlist);
    out->previous = prev ? prev->id : 0;
    out->source = t->id;
    if ((rc = check_images(c.engine, t, err)) < 0)
        goto out;

    /* the redeploy is a release of its own, keeping the same images under its own tags */
    rel.kind = zp_strdup("rollback");
    rel.status = STORE_RELEASE_DEPLOYING;
    rel.source = t->id;
    rel.model_json = zp_strdup(t->model_json);
    rel.note = zp_asprintf("rollback to release %" PRId64, t->id);
    if ((rc = store_release_next_id(c.store, &rel.id, err)) < 0)
        goto out;
    rel.services = zp_calloc(t->nservices ? t->nservices : 1, sizeof(*rel.services));
    rel.nservices = t->nservices;
    for (size_t i = 0; i < t->nservices; i++) {
        const struct store_release_service *from = &t->services[i];
        struct store_release_service *to = &rel.services[i];
        to->service = zp_strdup(from->service);
        to->image_ref = zp_strdup(from->image_ref);
        to->image_id = zp_strdup(from->image_id);
        to->config_hash = zp_strdup(from->config_hash);
        to->keep_tag = release_keep_tag(project, from->service, rel.id);
    }
    if ((rc = open_recorded(&c, &rel, &p, &o, err)) < 0)
        goto out;
    bool swarm = orch_swarm_wanted(p); /* a Swarm release records x-zpanel.swarm */
    if (!swarm && (rc = refuse_beside_swarm(o, p, err)) < 0) {
        zp_err_prefix(err, "release %" PRId64 " ran as containers", t->id);
        goto out;
    }
    if ((!swarm && (rc = rehash(o, p, &rel, err)) < 0) ||
        (rc = release_keep(c.engine, &rel, err)) < 0 ||
        (rc = store_release_add(c.store, &rel, err)) < 0)
        goto out;
    say(&c, RELEASE_INFO, "Rolling back to release %" PRId64 " (recorded as release %" PRId64 ")",
        t->id, rel.id);
    rc = restore_on(&c, o, swarm, &rel, &problem);
    close_recorded(&c, p, o);
    p = NULL;
    o = NULL;
    rc = finish(&c, &rel, prev, rc, problem, out, err);
out:
    close_recorded(&c, p, o);
    free(problem);
    store_release_release(&rel);
    store_releases_free(list, nlist);
    ctx_close(&c);
    return rc;
}

/* ---- deploy: up, recorded ---- */

/* deploy on Swarm: orch_swarm_up, then a release recorded when a service changed or the
 * up failed on a manager (as release_deploy records containers). */
/* Open the project's release state for a deployment: 0 with *ret_record (false when the
 * state cannot be opened: the deployment matters more than its record, so it goes on with a
 * warning), or ZP_E_CONFLICT (err set) when another deployment of the project holds it. */
static int deploy_open(struct ctx *c, const struct release_opts *opts,
                       const struct compose_project *p, bool *ret_record, struct zp_err *err)
{
    struct zp_err serr;
    zp_err_init(&serr);
    int rc = ctx_open(c, opts, p->name, p->workdir, &serr);
    *ret_record = rc == 0;
    if (rc == ZP_E_CONFLICT) {
        *err = serr;
        return rc;
    }
    if (rc < 0) {
        memset(c, 0, sizeof(*c));
        c->opts = opts;
        c->lock_fd = -1;
        say(c, RELEASE_WARNING, "not recording this deployment as a release: %s", serr.msg);
    }
    return 0;
}

/* Number the deployment about to be recorded (rel->id) and note the release that ran before
 * it (out->previous); -1 with a warning when the store cannot say. */
static int number_deployment(struct ctx *c, struct store_release *rel, struct release_result *out)
{
    struct zp_err serr;
    zp_err_init(&serr);
    struct store_release *list = NULL;
    size_t nlist = 0;
    if (ctx_list(c, &list, &nlist, &serr) < 0 ||
        store_release_next_id(c->store, &rel->id, &serr) < 0) {
        store_releases_free(list, nlist);
        say(c, RELEASE_WARNING, "not recording this deployment as a release: %s", serr.msg);
        return -1;
    }
    const struct store_release *prev = release_running(list, nlist);
    out->previous = prev ? prev->id : 0;
    store_releases_free(list, nlist);
    return 0;
}

/* A deployment was recorded as rel: say so, in out too, and prune old releases. */
static void recorded(struct ctx *c, const struct store_release *rel, bool failed,
                     const struct zp_err *err, struct release_result *out)
{
    out->id = rel->id;
    out->outcome = failed ? RELEASE_FAILED : RELEASE_DEPLOYED;
    if (failed)
        out->problem = zp_strdup(err->msg);
    say(c, RELEASE_INFO, "Recorded as release %" PRId64, rel->id);
    prune(c);
}

static int swarm_deploy(struct orch *o, const struct compose_project *p,
                        const struct orch_up_opts *up, const struct release_opts *opts,
                        struct release_result *out, struct zp_err *err)
{
    int rc = swarm_refuse_flags(up, err);
    if (rc < 0)
        return rc;
    struct ctx c;
    struct zp_err serr;
    zp_err_init(&serr);
    struct orch_swarm_service *before = NULL, *after = NULL;
    size_t nbefore = 0, nafter = 0;
    struct store_release rel;
    memset(&rel, 0, sizeof(rel));
    bool record = false;
    if ((rc = deploy_open(&c, opts, p, &record, err)) < 0)
        return rc;
    /* an engine that is no manager fails in orch_swarm_up, which says what to do */
    bool manager = record && orch_swarm_services(o, &before, &nbefore, &serr) == 0;
    struct orch_swarm_up_opts so;
    memset(&so, 0, sizeof(so));
    so.services = up->services;
    so.nservices = up->nservices;
    so.scale = up->scale;
    so.nscale = up->nscale;
    so.remove_orphans = up->remove_orphans;
    so.wait_timeout_ms = up->wait_timeout_ms;
    track(opts->cancel, o);
    rc = orch_swarm_up(o, &so, err);
    untrack(opts->cancel, o);
    if (!manager)
        goto out;
    zp_err_init(&serr);
    if (orch_swarm_services(o, &after, &nafter, &serr) != 0) {
        say(&c, RELEASE_WARNING, "not recording this deployment as a release: %s", serr.msg);
        goto out;
    }
    if (!swarm_changed(before, nbefore, after, nafter) && rc != ZP_E_ENGINE)
        goto out; /* no service changed, and none failed: nothing new ran */
    if (number_deployment(&c, &rel, out) < 0)
        goto out;
    rel.kind = zp_strdup("up");
    rel.status = rc == 0 ? STORE_RELEASE_DEPLOYED : STORE_RELEASE_FAILED;
    rel.model_json = swarm_model_json(p, up->scale, up->nscale);
    if (rc != 0)
        rel.note = zp_asprintf("up failed: %s", err->msg);
    /* a DEPLOYED record supersedes the one before in the same transaction */
    if (swarm_record_services(&c, p->model, rel.id, after, nafter, &rel.services, &rel.nservices,
                              &serr) < 0 ||
        release_keep(c.engine, &rel, &serr) < 0 || store_release_add(c.store, &rel, &serr) < 0) {
        say(&c, RELEASE_WARNING,
            "the deployment ran, but recording it as release %" PRId64 " failed: %s", rel.id,
            serr.msg);
        goto out;
    }
    recorded(&c, &rel, rc != 0, err, out);
out:
    store_release_release(&rel);
    orch_swarm_services_free(before, nbefore);
    orch_swarm_services_free(after, nafter);
    ctx_close(&c);
    return rc;
}

int release_deploy(struct orch *o, const struct compose_project *p, const struct orch_up_opts *up,
                   const struct release_opts *opts, struct release_result *out, struct zp_err *err)
{
    memset(out, 0, sizeof(*out));
    if (opts->swarm || orch_swarm_wanted(p))
        return swarm_deploy(o, p, up, opts, out, err);
    /* containers beside the project's Swarm services would run it twice */
    int rrc = refuse_beside_swarm(o, p, err);
    if (rrc < 0)
        return rrc;
    struct ctx c;
    struct zp_err serr;
    zp_err_init(&serr);
    struct orch_snap *before = NULL, *after = NULL;
    size_t nbefore = 0, nafter = 0;
    struct store_release rel;
    memset(&rel, 0, sizeof(rel));
    bool record = false;
    int rc = deploy_open(&c, opts, p, &record, err);
    if (rc < 0)
        return rc;
    /* little before the up: a Ctrl-C should find it waiting on the engine; the up plans
     * from the same list */
    struct orch_listing *listed = NULL;
    if (record && orch_list_project(o, &listed, &serr) < 0) {
        say(&c, RELEASE_WARNING, "not recording this deployment as a release: %s", serr.msg);
        record = false;
    } else if (record) {
        orch_snap_from_listing(listed, &before, &nbefore);
    }
    struct orch_up_opts uo = *up;
    uo.listed = listed;
    track(opts->cancel, o);
    rc = orch_up(o, &uo, err);
    untrack(opts->cancel, o);
    orch_listing_free(listed);
    if (!record || orch_up_unchanged(o))
        goto out; /* nothing to record, or nothing new ran */
    zp_err_init(&serr);
    if (orch_snap_observe(o, &after, &nafter, &serr) < 0) {
        say(&c, RELEASE_WARNING, "not recording this deployment as a release: %s", serr.msg);
        goto out;
    }
    if (!orch_snap_changed(before, nbefore, after, nafter))
        goto out; /* no container changed: nothing new ran */
    if (number_deployment(&c, &rel, out) < 0)
        goto out;
    rel.kind = zp_strdup("up");
    rel.status = rc == 0 ? STORE_RELEASE_DEPLOYED : STORE_RELEASE_FAILED;
    rel.model_json = release_model_json(p->model);
    release_services_build(c.project, p->model, rel.id, NULL, 0, after, nafter, &rel.services,
                           &rel.nservices);
    if (rc < 0)
        rel.note = zp_asprintf("up failed: %s", err->msg);
    else if (drift_note(o, after, nafter, up->no_adapt_limits, &rel.note, &serr) < 0)
        zp_err_init(&serr); /* the note is a nicety */
    /* a DEPLOYED record supersedes the one before in the same transaction */
    if (release_keep(c.engine, &rel, &serr) < 0 || store_release_add(c.store, &rel, &serr) < 0) {
        say(&c, RELEASE_WARNING,
            "the deployment ran, but recording it as release %" PRId64 " failed: %s", rel.id,
            serr.msg);
        goto out;
    }
    recorded(&c, &rel, rc < 0, err, out);
out:
    store_release_release(&rel);
    orch_snap_free(before, nbefore);
    orch_snap_free(after, nafter);
    ctx_close(&c);
    return rc;
}

/* ---- readers and cleanup ---- */

int release_list(const char *state_dir, const char *project, struct store_release **ret,
                 size_t *ret_n, struct zp_err *err)
{
    char *dir = state_dir ? zp_strdup(state_dir) : store_state_dir();
    struct store *s = NULL;
    struct zp_err oerr;
    zp_err_init(&oerr);
    int rc = store_open_readonly(dir, project, &s, &oerr);
    free(dir);
    if (rc == ZP_E_NOTFOUND) { /* never deployed: no release */
        *ret = NULL;
        *ret_n = 0;
        return 0;
    }
    if (rc < 0) {
        *err = oerr;
        return rc;
    }
    rc = store_release_list(s, ret, ret_n, err);
    store_close(s);
    return rc;
}

int release_cleanup(struct orch *o, const char *project, const struct orch_cleanup_opts *co,
                    const struct release_opts *opts, struct orch_cleanup_result *ret,
                    struct zp_err *err)
{
    char *state = opts->state_dir ? zp_strdup(opts->state_dir) : store_state_dir();
    char *dir = NULL;
    int fd = -1;
    struct store_release *rs = NULL;
    size_t n = 0;
    char **tags = NULL;
    size_t ntags = 0;
    int rc = 0;
    /* a real cleanup never runs between an update's tagging and its record */
    if (!co->dry_run && ((rc = store_projects_dir(state, &dir, err)) < 0 ||
                         (rc = release_lock(dir, project, &fd, err)) < 0))
        goto out;
    if ((rc = release_list(state, project, &rs, &n, err)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < rs[i].nservices; j++) {
            if (rs[i].services[j].keep_tag == NULL)
                continue;
            tags = zp_realloc(tags, (ntags + 1) * sizeof(*tags));
            tags[ntags++] = rs[i].services[j].keep_tag;
        }
    }
    struct orch_cleanup_opts o2 = *co;
    o2.protected_tags = (const char *const *)tags;
    o2.nprotected = ntags;
    track(opts->cancel, o);
    rc = orch_cleanup(o, &o2, ret, err);
    untrack(opts->cancel, o);
out:
    free(tags);
    store_releases_free(rs, n);
    release_unlock(fd);
    free(dir);
    free(state);
    return rc;
}

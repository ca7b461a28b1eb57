/* cli/update: record the deployment as a release, bring the project to its files, check
 * health, and roll back to the release before when it fails. Also what update and
 * rollback share (struct cli_release): the state database, the lock, redeploying a
 * recorded release, and settling statuses and retention afterwards. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "../orchestrator/release.h"
#include "../store/store.h"
#include "cli.h"

#include "../util/banned.h"

/* How long a deploy waits for health when --wait-timeout does not say. */
#define DEFAULT_WAIT_TIMEOUT_MS 60000

/* ---- shared by update and rollback ---- */

/* The session Ctrl-C cancels (one release operation per process). */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct orch *current; /* guarded by current_lock */

static void on_signal(void *ud, int signo, unsigned count)
{
    (void)ud;
    if (signo == SIGWINCH || count == 0)
        return;
    pthread_mutex_lock(&current_lock);
    if (current != NULL)
        orch_cancel(current);
    pthread_mutex_unlock(&current_lock);
}

static void track(struct orch *o)
{
    pthread_mutex_lock(&current_lock);
    current = o;
    pthread_mutex_unlock(&current_lock);
}

static bool interrupted(void)
{
    return cli_signals_count() > 0;
}

int cli_release_parse_keep(const struct cli_cmd *cmd, const char *v, size_t *ret)
{
    const char *what = "--keep";
    int64_t n;
    if (v == NULL) {
        v = getenv("ZPANEL_KEEP_RELEASES");
        what = "ZPANEL_KEEP_RELEASES";
        if (v == NULL || v[0] == '\0') {
            *ret = RELEASE_KEEP_DEFAULT;
            return 0;
        }
    }
    if (zp_parse_int64(v, 1, RELEASE_KEEP_MAX, &n) != 0)
        return cli_usage_error(cmd, "%s: '%s' is not a number of releases from 1 to %d", what, v,
                               RELEASE_KEEP_MAX);
    *ret = (size_t)n;
    return 0;
}

int cli_release_parse_timeout(const struct cli_cmd *cmd, const char *v, int64_t *ret_ms)
{
    int64_t n;
    if (zp_parse_int64(v, 1, 86400, &n) == 0) {
        *ret_ms = n * 1000;
        return 0;
    }
    if (zp_parse_duration(v, false, &n) == 0 && n >= 1000000 && n <= (int64_t)86400 * 1000000000) {
        *ret_ms = n / 1000000;
        return 0;
    }
    return cli_usage_error(cmd, "--wait-timeout: '%s' is not a number of seconds (1 to 86400)", v);
}

int cli_release_parse_args(const struct cli_cmd *cmd, int argc, char **argv,
                           int64_t *ret_timeout_ms, size_t *ret_keep)
{
    enum { OPT_WAIT_TIMEOUT = 256, OPT_KEEP };
    static const struct option opts[] = {
        {"wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT},
        {"keep", required_argument, NULL, OPT_KEEP},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *keep_arg = NULL;
    int c, rc;
    *ret_timeout_ms = DEFAULT_WAIT_TIMEOUT_MS;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_WAIT_TIMEOUT:
            if ((rc = cli_release_parse_timeout(cmd, optarg, ret_timeout_ms)) != 0)
                return rc;
            break;
        case OPT_KEEP:
            keep_arg = optarg;
            break;
        case 'h':
            return cli_help(cmd);
        default:
            return cli_getopt_error(cmd, c, argv);
        }
    }
    if ((rc = cli_release_parse_keep(cmd, keep_arg, ret_keep)) != 0)
        return rc;
    return -1;
}

int cli_release_open(const struct cli_global *g, const struct compose_project *p,
                     struct cli_progress *progress, bool deploy, struct cli_release *ret)
{
    struct zp_err err;
    zp_err_init(&err);
    memset(ret, 0, sizeof(*ret));
    ret->g = g;
    ret->project = p->name;
    ret->workdir = p->workdir;
    ret->progress = progress;
    ret->lock_fd = -1;
    ret->wait_timeout_ms = DEFAULT_WAIT_TIMEOUT_MS;
    ret->keep = RELEASE_KEEP_DEFAULT;
    char *state = store_state_dir();
    int rc = store_open(state, p->name, &ret->store, &err);
    free(state);
    if (rc < 0)
        goto fail;
    ret->dir = zp_path_dir(store_path(ret->store));
    if (!deploy)
        return 0;
    if (release_lock(ret->dir, p->name, &ret->lock_fd, &err) < 0)
        goto fail;
    /* before any thread: a no-op when a session did it already */
    if (engine_global_init(&err) < 0 || (ret->engine = engine_new(g->host, &err)) == NULL)
        goto fail;
    if (cli_signals_start(on_signal, NULL) != 0) {
        cli_release_close(ret);
        return ZP_EXIT_RUNTIME;
    }
    ret->signals = true;
    return 0;
fail:
    cli_release_close(ret);
    return cli_error(&err);
}

void cli_release_close(struct cli_release *r)
{
    if (r->signals)
        cli_signals_stop();
    track(NULL);
    engine_free(r->engine);
    release_unlock(r->lock_fd);
    store_close(r->store);
    free(r->dir);
    memset(r, 0, sizeof(*r));
    r->lock_fd = -1;
}

int cli_release_mark_stale(struct cli_release *r, struct store_release *list, size_t n)
{
    struct zp_err err;
    zp_err_init(&err);
    for (size_t i = 0; i < n; i++) {
        if (list[i].status != STORE_RELEASE_DEPLOYING)
            continue;
        /* we hold the lock: whoever deployed it stopped before its health check */
        if (store_release_set_status(r->store, list[i].id, STORE_RELEASE_FAILED,
                                     "interrupted before its health check ended", &err) < 0)
            return cli_error(&err);
        list[i].status = STORE_RELEASE_FAILED;
    }
    return 0;
}

int cli_release_begin(const struct cli_global *g, const struct compose_project *p,
                      struct cli_progress *progress, int64_t timeout_ms, size_t keep,
                      struct cli_release *r, struct store_release **ret_list, size_t *ret_n)
{
    struct zp_err err;
    zp_err_init(&err);
    *ret_list = NULL;
    *ret_n = 0;
    int rc = cli_release_open(g, p, progress, true, r);
    if (rc != 0)
        return rc;
    r->wait_timeout_ms = timeout_ms;
    r->keep = keep;
    if (store_release_list(r->store, ret_list, ret_n, &err) < 0)
        rc = cli_error(&err);
    else
        rc = cli_release_mark_stale(r, *ret_list, *ret_n);
    if (rc != 0) {
        store_releases_free(*ret_list, *ret_n);
        *ret_list = NULL;
        *ret_n = 0;
        cli_release_close(r);
    }
    return rc;
}

/* Bring the session's project up (no builds: images are ready) and check its health.
 * Returns 0, or the exit code with *ret_problem saying what failed. */
static int deploy(struct cli_release *r, struct orch *o, const struct store_release *rel,
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
    uo.wait_timeout_ms = r->wait_timeout_ms;
    uo.remove_orphans = remove_orphans;
    struct zp_err err, herr;
    zp_err_init(&err);
    zp_err_init(&herr);
    char *problem = NULL;
    int rc = orch_up(o, &uo, &err);
    if (interrupted()) {
        *ret_problem = zp_strdup("interrupted");
        return CLI_EXIT_INTERRUPTED;
    }
    /* the probe's own output says more than "unhealthy" */
    if (release_health(o, services, nservices, &problem, &herr) < 0 && rc == 0)
        problem = zp_strdup(herr.msg);
    if (rc < 0 && problem == NULL)
        problem = zp_strdup(err.msg);
    if (problem != NULL) {
        *ret_problem = problem;
        return ZP_EXIT_RUNTIME;
    }
    /* the containers must now carry the recorded config hashes */
    struct release_obs *obs = NULL;
    size_t nobs = 0;
    char *diff = NULL;
    if (rel != NULL && release_observe(o, &obs, &nobs, &herr) == 0 &&
        release_compare(rel, obs, nobs, &diff) > 0)
        cli_progress_note(r->progress,
                          "warning: containers differ from release %" PRId64 "'s record: %s",
                          rel->id, diff);
    free(diff);
    release_obs_free(obs, nobs);
    return 0;
}

int cli_release_restore(struct cli_release *r, const struct store_release *rel, char **ret_problem)
{
    struct compose_project *p = NULL;
    struct orch *o = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    struct zp_err err;
    zp_err_init(&err);
    int rc = release_load_model(rel, r->dir, r->project, r->workdir, &p, &d, &err);
    cli_print_diags(&d);
    zp_diags_release(&d);
    if (rc == 0)
        rc = orch_new(p, r->g->host, cli_progress_event, r->progress, &o, &err);
    if (rc == 0) {
        track(o);
        rc = release_restore_images(o, rel, &err);
    }
    if (rc < 0) {
        *ret_problem = zp_strdup(err.msg);
        rc = ZP_EXIT_RUNTIME;
        goto out;
    }
    rc = deploy(r, o, rel, NULL, 0, true, ret_problem);
out:
    track(NULL);
    orch_free(o);
    compose_project_free(p);
    return rc;
}

/* Remove releases beyond the newest r->keep and their keep tags. */
static void prune(struct cli_release *r)
{
    struct store_release *pruned = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (store_release_prune(r->store, r->keep, &pruned, &n, &err) < 0) {
        char *msg = zp_err_render(&err);
        fprintf(stderr, "zpanel: warning: pruning old releases: %s\n", msg);
        free(msg);
        return;
    }
    char *warnings = NULL;
    release_unkeep(r->engine, pruned, n, &warnings);
    for (size_t i = 0; i < n; i++)
        cli_progress_note(r->progress, "Release %" PRId64 " removed (keeping %zu)", pruned[i].id,
                          r->keep);
    if (warnings != NULL)
        fprintf(stderr, "zpanel: warning: keep tags left in place:\n%s\n", warnings);
    free(warnings);
    store_releases_free(pruned, n);
}

int cli_release_finish(struct cli_release *r, const struct store_release *rel,
                       const struct store_release *prev, int rc, const char *problem)
{
    struct zp_err err;
    zp_err_init(&err);
    if (rc == 0) {
        if (store_release_set_status(r->store, rel->id, STORE_RELEASE_DEPLOYED, NULL, &err) < 0 ||
            (prev != NULL && prev->id != rel->id &&
             store_release_set_status(r->store, prev->id, STORE_RELEASE_SUPERSEDED, NULL, &err) <
                 0))
            return cli_error(&err);
        prune(r);
        return 0;
    }
    char *note = NULL;
    if (rc == CLI_EXIT_INTERRUPTED || prev == NULL) {
        note = zp_strdup(problem);
        if (store_release_set_status(r->store, rel->id, STORE_RELEASE_FAILED, note, &err) < 0)
            cli_error(&err);
        fprintf(stderr, "zpanel: release %" PRId64 " failed: %s\n", rel->id, problem);
        if (prev != NULL)
            fprintf(stderr,
                    "zpanel: run `zpanel rollback %" PRId64 "` to return to the release "
                    "that ran before\n",
                    prev->id);
        else
            fprintf(stderr, "zpanel: no earlier release to roll back to: its containers are left "
                            "as they are\n");
        free(note);
        prune(r);
        return rc;
    }
    cli_progress_note(r->progress, "Release %" PRId64 " failed: %s", rel->id, problem);
    cli_progress_note(r->progress, "Rolling back to release %" PRId64, prev->id);
    char *again = NULL;
    int brc = cli_release_restore(r, prev, &again);
    if (brc == 0)
        note = zp_asprintf("%s; rolled back to release %" PRId64, problem, prev->id);
    else
        note = zp_asprintf("%s; rolling back to release %" PRId64 " failed too: %s", problem,
                           prev->id, again);
    if (store_release_set_status(r->store, rel->id, STORE_RELEASE_FAILED, note, &err) < 0)
        cli_error(&err);
    fprintf(stderr, "zpanel: release %" PRId64 " failed: %s\n", rel->id, note);
    if (brc == 0)
        printf("Rolled back to release %" PRId64 "\n", prev->id);
    free(again);
    free(note);
    prune(r);
    return brc == CLI_EXIT_INTERRUPTED ? brc : ZP_EXIT_RUNTIME;
}

/* ---- update ---- */

/* Does the new release change nothing from prev (same model, same images and hashes)? */
static bool unchanged(const struct store_release *prev, const char *model_json,
                      const struct release_want *w, size_t nw)
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

static int64_t next_id(const struct store_release *list, size_t n, int64_t also)
{
    int64_t max = also;
    for (size_t i = 0; i < n; i++)
        if (list[i].id > max)
            max = list[i].id;
    return max + 1;
}

static bool has_containers(const struct release_obs *obs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!obs[i].oneoff)
            return true;
    return false;
}

/* The first update of a project that runs already: record what runs as a release. */
static int record_baseline(struct cli_release *r, struct cli_session *s,
                           const struct release_obs *obs, size_t nobs, struct store_release *ret)
{
    struct zp_err err;
    zp_err_init(&err);
    struct store_release b;
    memset(&b, 0, sizeof(b));
    int rc = 0;
    b.kind = zp_strdup("observed");
    b.status = STORE_RELEASE_DEPLOYED;
    b.model_json = release_model_json(s->project->model);
    release_services_build(r->project, s->project->model, 1, NULL, 0, obs, nobs, &b.services,
                           &b.nservices);
    if (release_drift(s->orch, obs, nobs, false, &b.note, &err) < 0 ||
        release_keep(r->engine, &b, &err) < 0 || store_release_add(r->store, &b, &err) < 0) {
        rc = cli_error(&err);
        store_release_release(&b);
        return rc;
    }
    cli_progress_note(r->progress, "Recorded what runs now as release %" PRId64, b.id);
    *ret = b;
    return 0;
}

static int update_exec(const struct cli_global *g, int argc, char **argv)
{
    const struct cli_cmd *cmd = &cli_cmd_update;
    int64_t timeout_ms;
    size_t keep;
    int rc = cli_release_parse_args(cmd, argc, argv, &timeout_ms, &keep);
    if (rc >= 0)
        return rc;
    const char *const *services = (const char *const *)argv + optind;
    size_t nservices = (size_t)(argc - optind);

    struct cli_session s;
    if ((rc = cli_session_open(g, cmd, services, nservices, true, &s)) != 0)
        return rc;
    struct cli_release r;
    struct store_release *list = NULL, base, rel;
    memset(&base, 0, sizeof(base));
    memset(&rel, 0, sizeof(rel));
    size_t nlist = 0, nobs = 0, nwants = 0;
    struct release_obs *obs = NULL;
    struct release_want *wants = NULL;
    char *model = NULL;
    struct zp_err err;
    zp_err_init(&err);
    if ((rc = cli_release_begin(g, s.project, s.progress, timeout_ms, keep, &r, &list, &nlist)) !=
        0)
        goto out_session;
    track(s.orch);
    if (release_observe(s.orch, &obs, &nobs, &err) < 0) {
        rc = cli_error(&err);
        goto out;
    }
    const struct store_release *prev = release_running(list, nlist);
    if (nlist == 0 && has_containers(obs, nobs)) {
        if ((rc = record_baseline(&r, &s, obs, nobs, &base)) != 0)
            goto out;
        prev = &base;
    }

    if (release_prepare(s.orch, services, nservices, false, &wants, &nwants, &err) < 0) {
        rc = cli_error(&err);
        goto out;
    }
    model = release_model_json(s.project->model);
    if (unchanged(prev, model, wants, nwants)) {
        /* nothing new to record: converge and check what runs */
        char *problem = NULL;
        rc = deploy(&r, s.orch, prev, services, nservices, false, &problem);
        if (rc == 0)
            printf("Release %" PRId64 " is up to date\n", prev->id);
        else if (rc != CLI_EXIT_INTERRUPTED)
            fprintf(stderr, "zpanel: release %" PRId64 ": %s\n", prev->id, problem);
        free(problem);
        goto out;
    }
    rel.kind = zp_strdup("update");
    rel.status = STORE_RELEASE_DEPLOYING;
    rel.model_json = model;
    model = NULL;
    release_services_build(r.project, s.project->model, next_id(list, nlist, base.id), wants,
                           nwants, obs, nobs, &rel.services, &rel.nservices);
    if (release_keep(r.engine, &rel, &err) < 0 || store_release_add(r.store, &rel, &err) < 0) {
        rc = cli_error(&err);
        goto out;
    }
    cli_progress_note(r.progress, "Deploying release %" PRId64, rel.id);
    char *problem = NULL;
    rc = deploy(&r, s.orch, &rel, services, nservices, false, &problem);
    cli_progress_done(s.progress);
    track(NULL);
    rc = cli_release_finish(&r, &rel, prev, rc, problem);
    if (rc == 0)
        printf("Release %" PRId64 " deployed\n", rel.id);
    free(problem);
out:
    cli_release_close(&r);
out_session:
    free(model);
    release_wants_free(wants, nwants);
    release_obs_free(obs, nobs);
    store_release_release(&rel);
    store_release_release(&base);
    store_releases_free(list, nlist);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_update = {
    .name = "update",
    .usage = "[--wait-timeout SECONDS] [--keep N] [SERVICE...]",
    .summary = "record a release, deploy the files, roll back when unhealthy",
    .exec = update_exec,
};

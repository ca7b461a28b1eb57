/* cli/build: build the images of services that have a build section, two at a
 * time, with each build step's output on stderr. */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "../orchestrator/build.h"
#include "../orchestrator/mapping.h"
#include "cli.h"

#include "../util/banned.h"

#define BUILD_PARALLEL 2

enum progress_mode { PROGRESS_PLAIN, PROGRESS_QUIET };

struct job {
    const char *service;
    const struct zp_node *svc;
    char *image;
    char *image_id; /* on success */
    struct zp_err err;
    int rc;
};

struct run {
    const struct cli_global *g;
    const struct compose_project *p;
    const struct orch_build_opts *opts;
    enum progress_mode mode;
    size_t width; /* of the service column */
    struct job *jobs;
    size_t njobs;
    pthread_mutex_t lock; /* guards next and stderr output */
    size_t next;
};

static void on_event(void *ud, const struct orch_event *ev)
{
    struct run *r = ud;
    if (r->mode == PROGRESS_QUIET || ev->state != ORCH_INFO || !ev->service)
        return;
    /* called by build workers: one line at a time on stderr */
    pthread_mutex_lock(&r->lock);
    fprintf(stderr, "%-*s | %s\n", (int)r->width, ev->service, ev->text);
    pthread_mutex_unlock(&r->lock);
}

static void *worker(void *arg)
{
    struct run *r = arg;
    struct zp_err err;
    zp_err_init(&err);
    struct engine *e = engine_new(r->g->host, &err);
    for (;;) {
        pthread_mutex_lock(&r->lock);
        size_t i = r->next < r->njobs ? r->next++ : r->njobs;
        pthread_mutex_unlock(&r->lock);
        if (i == r->njobs)
            break;
        struct job *j = &r->jobs[i];
        if (!e) {
            j->err = err;
            j->rc = err.code ? err.code : ZP_E_ENGINE;
            continue;
        }
        j->rc = orch_build_service(e, r->p, j->service, j->svc, j->image, NULL, r->opts, on_event,
                                   r, &j->image_id, &j->err);
        if (j->rc == 0 && r->mode != PROGRESS_QUIET) {
            pthread_mutex_lock(&r->lock);
            fprintf(stderr, "%-*s | built image '%s' (%s)\n", (int)r->width, j->service, j->image,
                    j->image_id);
            pthread_mutex_unlock(&r->lock);
        }
    }
    engine_free(e);
    return NULL;
}

static bool named(const char *const *services, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(services[i], name) == 0)
            return true;
    return n == 0;
}

static int build_exec(const struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"no-cache", no_argument, NULL, 'n'},
        {"pull", no_argument, NULL, 'P'},
        {"build-arg", required_argument, NULL, 'a'},
        {"progress", required_argument, NULL, 'p'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct orch_build_opts bo = {0};
    const char **args = NULL;
    enum progress_mode mode = g->progress == CLI_PROGRESS_QUIET ? PROGRESS_QUIET : PROGRESS_PLAIN;
    int c;
    while ((c = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            bo.no_cache = true;
            break;
        case 'P':
            bo.pull = true;
            break;
        case 'a':
            if (optarg[0] == '\0' || optarg[0] == '=') {
                free(args);
                return cli_usage_error(&cli_cmd_build, "--build-arg '%s': missing the name",
                                       optarg);
            }
            args = zp_realloc(args, (bo.nbuild_args + 1) * sizeof(*args));
            args[bo.nbuild_args++] = optarg;
            break;
        case 'p':
            if (strcmp(optarg, "quiet") == 0) {
                mode = PROGRESS_QUIET;
            } else if (strcmp(optarg, "auto") == 0 || strcmp(optarg, "plain") == 0 ||
                       strcmp(optarg, "tty") == 0 || strcmp(optarg, "json") == 0) {
                mode = PROGRESS_PLAIN;
            } else {
                free(args);
                return cli_usage_error(
                    &cli_cmd_build, "--progress: '%s' is not one of auto, tty, plain, quiet, json",
                    optarg);
            }
            break;
        case 'q':
            mode = PROGRESS_QUIET;
            break;
        case 'h':
            free(args);
            printf("usage: zpanel [global flags] build %s\n", cli_cmd_build.usage);
            return ZP_EXIT_OK;
        case ':':
            free(args);
            return cli_usage_error(&cli_cmd_build, "flag '%s' needs a value", argv[optind - 1]);
        default:
            free(args);
            return cli_usage_error(&cli_cmd_build, "unknown flag '%s'", argv[optind - 1]);
        }
    }
    bo.build_args = args;
    const char *const *services = (const char *const *)argv + optind;
    size_t nservices = (size_t)(argc - optind);

    struct compose_project *p = NULL;
    int rc = cli_load_project(g, services, nservices, false, &p);
    if (rc) {
        free(args);
        return rc;
    }
    const struct zp_node *svcs = zp_node_get(p->model, "services");
    for (size_t i = 0; i < nservices; i++) {
        if (!zp_node_get(svcs, services[i])) {
            fprintf(stderr, "zpanel: no such service '%s'\n", services[i]);
            compose_project_free(p);
            free(args);
            return ZP_EXIT_USAGE;
        }
    }

    struct run r = {.g = g, .p = p, .opts = &bo, .mode = mode};
    pthread_mutex_init(&r.lock, NULL);
    r.jobs = zp_calloc(svcs && svcs->n ? svcs->n : 1, sizeof(*r.jobs));
    for (size_t i = 0; svcs && i < svcs->n; i++) {
        const char *name = svcs->pairs[i].key->str;
        const struct zp_node *svc = svcs->pairs[i].value;
        if (!named(services, nservices, name))
            continue;
        if (!zp_node_get(svc, "build")) {
            if (nservices)
                fprintf(stderr, "zpanel: service '%s' has no build section, skipping\n", name);
            continue;
        }
        char *image = orch_service_image(p->name, name, svc);
        bool dup = false;
        for (size_t k = 0; k < r.njobs && !dup; k++)
            dup = strcmp(r.jobs[k].image, image) == 0;
        if (dup) { /* one build per image, as with compose */
            free(image);
            continue;
        }
        struct job *j = &r.jobs[r.njobs++];
        j->service = name;
        j->svc = svc;
        j->image = image;
        zp_err_init(&j->err);
        if (strlen(name) > r.width)
            r.width = strlen(name);
    }

    rc = ZP_EXIT_OK;
    struct zp_err err;
    zp_err_init(&err);
    if (r.njobs > 0 && engine_global_init(&err) != 0) {
        fprintf(stderr, "zpanel: %s\n", err.msg);
        rc = ZP_EXIT_RUNTIME;
        r.njobs = 0;
    }
    size_t nthreads = r.njobs < BUILD_PARALLEL ? r.njobs : BUILD_PARALLEL;
    pthread_t threads[BUILD_PARALLEL];
    size_t started = 0;
    for (; started < nthreads; started++)
        if (pthread_create(&threads[started], NULL, worker, &r) != 0)
            break;
    if (started == 0 && r.njobs > 0)
        worker(&r); /* no thread could start: build here, one at a time */
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);

    for (size_t i = 0; i < r.njobs; i++) {
        struct job *j = &r.jobs[i];
        if (j->rc != 0) {
            char *msg = zp_err_render(&j->err);
            fprintf(stderr, "zpanel: %s\n", msg);
            free(msg);
            rc = ZP_EXIT_RUNTIME;
        }
        free(j->image);
        free(j->image_id);
    }
    free(r.jobs);
    pthread_mutex_destroy(&r.lock);
    compose_project_free(p);
    free(args);
    return rc;
}

const struct cli_cmd cli_cmd_build = {
    .name = "build",
    .usage = "[--no-cache] [--pull] [--build-arg KEY[=VALUE]]... [--progress "
             "auto|tty|plain|quiet] "
             "[-q] [SERVICE...]",
    .summary = "build the images of services that have a build section",
    .exec = build_exec,
};

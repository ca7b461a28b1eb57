/* cli/rebuild: build the images of services that have a build section again without the
 * build cache, then recreate the containers of every service that runs them. */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../orchestrator/build.h"
#include "../orchestrator/mapping.h"
#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

static void on_signal(void *ud, int signo, unsigned count)
{
    if (count > 0 && signo != SIGWINCH)
        orch_cancel(ud);
}

static void report(struct cli_session *s, const char *image, const char *service,
                   enum orch_state state, const char *text)
{
    if (s->progress == NULL)
        return;
    struct orch_event ev = {
        .obj = ORCH_OBJ_IMAGE,
        .name = image,
        .service = service,
        .state = state,
        .text = text,
        .time_ns = zp_mono_ns(),
    };
    cli_progress_event(s->progress, &ev);
}

static bool named(const char *const *services, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(services[i], name) == 0)
            return true;
    return n == 0;
}

static bool in_list(char **list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

static int rebuild_exec(const struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(&cli_cmd_rebuild);
        return cli_getopt_error(&cli_cmd_rebuild, c, argv);
    }
    const char *const *services = (const char *const *)argv + optind;
    size_t nservices = (size_t)(argc - optind);

    struct cli_session s;
    int rc = cli_session_open(g, &cli_cmd_rebuild, services, nservices, true, &s);
    if (rc)
        return rc;
    char **built = NULL; /* image references rebuilt */
    size_t nbuilt = 0;
    const char **recreate = NULL;
    size_t nrecreate = 0;
    bool signals = false;
    struct zp_err err;
    zp_err_init(&err);
    const struct compose_project *p = s.project;
    const struct zp_node *svcs = zp_node_get(p->model, "services");
    size_t nsvcs = svcs ? svcs->n : 0;
    built = zp_calloc(nsvcs + 1, sizeof(*built));
    recreate = zp_calloc(nsvcs + 1, sizeof(*recreate));
    if ((rc = cli_signals_start(on_signal, s.orch)) != 0)
        goto out;
    signals = true;

    struct orch_build_opts bo = {.no_cache = true};
    for (size_t i = 0; i < nsvcs; i++) {
        const char *name = svcs->pairs[i].key->str;
        const struct zp_node *svc = svcs->pairs[i].value;
        if (!named(services, nservices, name))
            continue;
        if (!zp_node_get(svc, "build")) {
            if (nservices)
                cli_progress_note(s.progress,
                                  "service '%s' has no build section: not rebuilt, skipping", name);
            continue;
        }
        char *image = orch_service_image(p->name, name, svc);
        if (in_list(built, nbuilt, image)) { /* one build per image */
            free(image);
            continue;
        }
        char *id = NULL;
        report(&s, image, name, ORCH_WORKING, "Building (no cache)");
        if (orch_build_service(orch_engine(s.orch), p, name, svc, image, NULL, &bo,
                               cli_progress_event, s.progress, &id, &err) != 0) {
            report(&s, image, name, ORCH_FAILED, err.msg);
            free(image);
            rc = cli_error(&err);
            goto out;
        }
        report(&s, image, name, ORCH_DONE, "Built");
        free(id);
        built[nbuilt++] = image;
    }
    if (nbuilt == 0) {
        cli_progress_note(s.progress, "nothing to rebuild: no selected service has a build "
                                      "section");
        goto out;
    }
    /* every service running a rebuilt image, also one without a build section of its own */
    for (size_t i = 0; i < nsvcs; i++) {
        const char *name = svcs->pairs[i].key->str;
        char *image = orch_service_image(p->name, name, svcs->pairs[i].value);
        if (in_list(built, nbuilt, image))
            recreate[nrecreate++] = name;
        free(image);
    }
    struct orch_up_opts uo = {
        .services = recreate,
        .nservices = nrecreate,
        .no_deps = true,
        .recreate = ORCH_RECREATE_FORCE,
        .no_build = true,
        .pull = ORCH_PULL_NEVER,
    };
    if (orch_up(s.orch, &uo, &err) != 0)
        rc = cli_error(&err);
out:
    if (signals) {
        if (rc == 0 && cli_signals_count() > 0)
            rc = CLI_EXIT_INTERRUPTED;
        cli_signals_stop();
    }
    for (size_t i = 0; i < nbuilt; i++)
        free(built[i]);
    free(built);
    free(recreate);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_rebuild = {
    .name = "rebuild",
    .usage = "[SERVICE...]",
    .summary = "build images again without cache and recreate the containers that run them",
    .exec = rebuild_exec,
};

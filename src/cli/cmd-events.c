/* cli/events: the project's engine events as they happen (its containers, networks and
 * volumes), one line each, until Ctrl-C. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

/* Our own labels: every container has them, they are summed up by "service". */
#define LABEL_PREFIX "io.zpanel."

struct events_run {
    const char *project;
    const char *const *services; /* SERVICE... (only these services' containers), or none */
    size_t nservices;
    char **networks; /* the engine names of the project's own networks and volumes */
    size_t nnetworks;
    char **volumes;
    size_t nvolumes;
    bool json;
    bool out_closed; /* stdout went away (`zpanel events | head`) */
};

static bool in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* The engine names of the objects in a top-level section (networks, volumes) that the
 * project creates itself: external ones belong to someone else. */
static void object_names(const struct zp_node *model, const char *section, char ***ret,
                         size_t *ret_n)
{
    const struct zp_node *m = zp_node_get(model, section);
    char **names = NULL;
    size_t n = 0;
    for (size_t i = 0; m && zp_node_is_map(m) && i < m->n; i++) {
        const struct zp_node *obj = m->pairs[i].value;
        const struct zp_node *ext = zp_node_get(obj, "external");
        if (ext && ext->type == ZP_BOOL && strcmp(ext->str, "true") == 0)
            continue;
        const char *name = zp_node_get_str(obj, "name");
        if (!name)
            continue;
        names = zp_realloc(names, (n + 1) * sizeof(*names));
        names[n++] = zp_strdup(name);
    }
    *ret = names;
    *ret_n = n;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* "2026-11-23T22:00:00.000000000Z" from Unix nanoseconds. */
static void format_time(int64_t nano, char *out, size_t size)
{
    time_t sec = (time_t)(nano / 1000000000);
    long frac = (long)(nano % 1000000000);
    if (frac < 0) {
        frac += 1000000000;
        sec--;
    }
    struct tm tm;
    char base[32];
    if (!gmtime_r(&sec, &tm) || strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf(base, sizeof(base), "1970-01-01T00:00:00");
    snprintf(out, size, "%s.%09ldZ", base, frac);
}

static bool shown_attribute(const char *key)
{
    return !zp_str_has_prefix(key, LABEL_PREFIX);
}

/* Text, like `docker compose events`: TIME TYPE ACTION ID (k=v, ..., service=S), the
 * attributes sorted by key, our own labels left out. */
static void format_text(const struct engine_event *ev, const char *service, const char *when,
                        struct zp_buf *b)
{
    zp_buf_addf(b, "%s %s %s %s", when, ev->type, ev->action, ev->actor_id ? ev->actor_id : "");
    bool open = false, service_done = service == NULL;
    const struct engine_labels *a = &ev->attributes;
    for (size_t i = 0; i <= a->n; i++) {
        const char *key = i < a->n ? a->items[i].key : NULL;
        /* "service" goes in its sorted place among the engine's attributes */
        if (!service_done && (!key || strcmp(key, "service") > 0)) {
            zp_buf_adds(b, open ? ", " : " (");
            zp_buf_addf(b, "service=%s", service);
            open = true;
            service_done = true;
        }
        if (!key || !shown_attribute(key) || (service && strcmp(key, "service") == 0))
            continue;
        zp_buf_adds(b, open ? ", " : " (");
        zp_buf_addf(b, "%s=%s", key, a->items[i].value ? a->items[i].value : "");
        open = true;
    }
    if (open)
        zp_buf_addc(b, ')');
    zp_buf_addc(b, '\n');
}

/* One JSON object: time, type, action, id, service (null when none), attributes. */
static void format_json(const struct engine_event *ev, const char *service, const char *when,
                        struct zp_buf *b)
{
    zp_buf_adds(b, "{\"time\":");
    cli_json_str(b, when);
    zp_buf_adds(b, ",\"type\":");
    cli_json_str(b, ev->type);
    zp_buf_adds(b, ",\"action\":");
    cli_json_str(b, ev->action);
    zp_buf_adds(b, ",\"id\":");
    cli_json_str(b, ev->actor_id);
    zp_buf_adds(b, ",\"service\":");
    if (service)
        cli_json_str(b, service);
    else
        zp_buf_adds(b, "null");
    zp_buf_adds(b, ",\"attributes\":{");
    bool first = true;
    for (size_t i = 0; i < ev->attributes.n; i++) {
        const struct engine_label *l = &ev->attributes.items[i];
        if (!shown_attribute(l->key))
            continue;
        if (!first)
            zp_buf_addc(b, ',');
        first = false;
        cli_json_str(b, l->key);
        zp_buf_addc(b, ':');
        cli_json_str(b, l->value);
    }
    zp_buf_adds(b, "}}\n");
}

static int on_event(void *ctx, const struct engine_event *ev, struct zp_err *err)
{
    struct events_run *r = ctx;
    const char *service = NULL;
    if (!ev->type || !ev->action)
        return 0;
    if (strcmp(ev->type, "container") == 0) {
        const char *project = engine_labels_get(&ev->attributes, LABEL_PREFIX "project");
        if (!project || strcmp(project, r->project) != 0)
            return 0;
        service = engine_labels_get(&ev->attributes, LABEL_PREFIX "service");
        if (r->nservices && !in_list(r->services, r->nservices, service))
            return 0;
    } else if (strcmp(ev->type, "network") == 0) {
        /* network events carry no labels: the project's networks by name */
        const char *name = engine_labels_get(&ev->attributes, "name");
        if (r->nservices || !in_list((const char *const *)r->networks, r->nnetworks, name))
            return 0;
    } else if (strcmp(ev->type, "volume") == 0) {
        if (r->nservices || !in_list((const char *const *)r->volumes, r->nvolumes, ev->actor_id))
            return 0;
    } else {
        return 0;
    }

    char when[64];
    format_time(ev->time_nano, when, sizeof(when));
    struct zp_buf b = ZP_BUF_INIT;
    if (r->json)
        format_json(ev, service, when, &b);
    else
        format_text(ev, service, when, &b);
    bool written = fwrite(b.p, 1, b.len, stdout) == b.len;
    zp_buf_release(&b);
    if (fflush(stdout) == 0 && written)
        return 0;
    if (errno == EPIPE) {
        r->out_closed = true;
        return ENGINE_STOP;
    }
    return zp_err_sys(err, "writing events to stdout");
}

static void on_signal(void *ud, int signo, unsigned count)
{
    if (count > 0 && signo != SIGWINCH)
        engine_cancel(ud);
}

static int events_exec(const struct cli_global *g, int argc, char **argv)
{
    enum { OPT_FORMAT = 256, OPT_JSON };
    static const struct option opts[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_FORMAT:
            if (cli_parse_format(&cli_cmd_events, optarg, "text", &json) != 0)
                return ZP_EXIT_USAGE;
            break;
        case OPT_JSON:
            json = true;
            break;
        case 'h':
            return cli_help(&cli_cmd_events);
        default:
            return cli_getopt_error(&cli_cmd_events, c, argv);
        }
    }
    const char *const *services = (const char *const *)(argv + optind);
    size_t nservices = (size_t)(argc - optind);

    struct cli_session s;
    int rc = cli_session_open(g, &cli_cmd_events, services, nservices, false, &s);
    if (rc)
        return rc;
    struct events_run r = {
        .project = s.project->name,
        .services = services,
        .nservices = nservices,
        .json = json,
    };
    object_names(s.project->model, "networks", &r.networks, &r.nnetworks);
    object_names(s.project->model, "volumes", &r.volumes, &r.nvolumes);
    struct engine *e = orch_engine(s.orch);
    if ((rc = cli_signals_start(on_signal, e)) != 0)
        goto out;
    static const char *const types[] = {"container", "network", "volume", NULL};
    struct engine_events_filter filter = {.types = types};
    struct zp_err err;
    zp_err_init(&err);
    if (engine_events(e, 0, 0, &filter, on_event, &r, &err) != 0)
        rc = cli_error(&err);
    cli_signals_stop();
out:
    free_names(r.networks, r.nnetworks);
    free_names(r.volumes, r.nvolumes);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_events = {
    .name = "events",
    .usage = "[--format text|json] [SERVICE...]",
    .summary = "print the project's engine events as they happen",
    .exec = events_exec,
};

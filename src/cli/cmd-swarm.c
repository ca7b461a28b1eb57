/* cli/swarm: `zpanel swarm init|join|leave|nodes` (set up and inspect a Docker Swarm),
 * and the Swarm branch of ps, status, down and rollback (tasks instead of containers). */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "../orchestrator/swarm.h"
#include "cli.h"

#include "../util/banned.h"

int cli_swarm_project(struct cli_session *s, bool *ret)
{
    struct zp_err err;
    zp_err_init(&err);
    if (orch_swarm_project(s->orch, ret, &err) != 0)
        return cli_error(&err);
    return 0;
}

int cli_swarm_ps(struct cli_session *s, bool all, bool json, bool quiet)
{
    struct orch_swarm_task *t = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (orch_swarm_ps(s->orch, all, &t, &n, &err) != 0)
        return cli_error(&err);
    struct zp_buf out = ZP_BUF_INIT;
    if (quiet) {
        for (size_t i = 0; i < n; i++)
            zp_buf_addf(&out, "%s\n", t[i].id);
    } else if (json) {
        zp_buf_adds(&out, "[");
        for (size_t i = 0; i < n; i++) {
            zp_buf_adds(&out, i ? ",{\"Name\":" : "{\"Name\":");
            cli_json_str(&out, t[i].name);
            const char *keys[] = {"Service", "ID",    "Node",        "DesiredState",
                                  "State",   "Error", "ContainerID", "ConfigHash"};
            const char *vals[] = {t[i].service, t[i].id,    t[i].node,         t[i].desired,
                                  t[i].state,   t[i].error, t[i].container_id, t[i].config_hash};
            for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                zp_buf_addf(&out, ",\"%s\":", keys[k]);
                cli_json_str(&out, vals[k]);
            }
            zp_buf_addf(&out, ",\"Since\":%lld}", (long long)t[i].since);
        }
        zp_buf_adds(&out, "]\n");
    } else {
        const char *heads[] = {"NAME", "SERVICE", "NODE", "DESIRED", "STATE", "ERROR"};
        char **cells = zp_calloc(n * 6 + 1, sizeof(*cells));
        for (size_t i = 0; i < n; i++) {
            char **r = cells + i * 6;
            r[0] = t[i].name;
            r[1] = t[i].service;
            r[2] = t[i].node;
            r[3] = t[i].desired;
            r[4] = t[i].state;
            r[5] = t[i].error;
        }
        size_t w[6];
        cli_table_widths(heads, cells, n, 6, w);
        cli_table_row(&out, heads, w, 6);
        for (size_t i = 0; i < n; i++)
            cli_table_row(&out, (const char *const *)(cells + i * 6), w, 6);
        free(cells);
    }
    fputs(zp_buf_cstr(&out), stdout);
    zp_buf_release(&out);
    orch_swarm_tasks_free(t, n);
    return 0;
}

int cli_swarm_status(struct cli_session *s, bool json)
{
    struct orch_swarm_service *v = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (orch_swarm_services(s->orch, &v, &n, &err) != 0)
        return cli_error(&err);
    struct zp_buf out = ZP_BUF_INIT;
    if (json) {
        zp_buf_adds(&out, "[");
        for (size_t i = 0; i < n; i++) {
            zp_buf_adds(&out, i ? ",{\"Service\":" : "{\"Service\":");
            cli_json_str(&out, v[i].service);
            const char *keys[] = {"Name",          "Mode",  "UpdateState",
                                  "UpdateMessage", "Image", "ConfigHash"};
            const char *vals[] = {v[i].name,           v[i].mode,  v[i].update_state,
                                  v[i].update_message, v[i].image, v[i].config_hash};
            for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                zp_buf_addf(&out, ",\"%s\":", keys[k]);
                cli_json_str(&out, vals[k]);
            }
            zp_buf_addf(&out, ",\"Running\":%lld,\"Desired\":%lld,\"Swarm\":true}",
                        (long long)v[i].running, (long long)v[i].desired);
        }
        zp_buf_adds(&out, "]\n");
    } else {
        const char *heads[] = {"SERVICE", "NAME", "MODE", "REPLICAS", "UPDATE", "IMAGE"};
        char **cells = zp_calloc(n * 6 + 1, sizeof(*cells));
        for (size_t i = 0; i < n; i++) {
            char **r = cells + i * 6;
            r[0] = v[i].service;
            r[1] = v[i].name;
            r[2] = v[i].mode;
            r[3] = zp_asprintf("%lld/%lld", (long long)v[i].running, (long long)v[i].desired);
            r[4] = *v[i].update_state ? v[i].update_state : (char *)"-";
            r[5] = v[i].image;
        }
        size_t w[6];
        cli_table_widths(heads, cells, n, 6, w);
        cli_table_row(&out, heads, w, 6);
        for (size_t i = 0; i < n; i++) {
            cli_table_row(&out, (const char *const *)(cells + i * 6), w, 6);
            free(cells[i * 6 + 3]);
        }
        free(cells);
    }
    fputs(zp_buf_cstr(&out), stdout);
    zp_buf_release(&out);
    orch_swarm_services_free(v, n);
    return 0;
}

static bool named(const char *service, const char *const *services, size_t nservices)
{
    if (nservices == 0)
        return true;
    for (size_t i = 0; i < nservices; i++)
        if (strcmp(services[i], service) == 0)
            return true;
    return false;
}

static void logs_on_signal(void *ud, int signo, unsigned count)
{
    if (count > 0 && signo != SIGWINCH)
        cli_logs_cancel(ud);
}

int cli_swarm_logs(const struct cli_global *g, struct cli_session *s,
                   const struct engine_logs_opts *eo, bool prefix, bool color,
                   const char *const *services, size_t nservices)
{
    struct orch_swarm_service *v = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (orch_swarm_services(s->orch, &v, &n, &err) != 0)
        return cli_error(&err);
    int rc = 0;
    struct orch_container *cs = zp_calloc(n + 1, sizeof(*cs));
    size_t k = 0, width = 0;
    for (size_t i = 0; i < n; i++) {
        if (!named(v[i].service, services, nservices))
            continue;
        cs[k].id = v[i].name; /* borrowed: the service's name is its handle */
        cs[k].name = v[i].name;
        cs[k].service = v[i].service;
        if (strlen(v[i].name) + 1 > width)
            width = strlen(v[i].name) + 1;
        k++;
    }
    for (size_t i = 0; i < nservices; i++) {
        bool found = false;
        for (size_t j = 0; j < k && !found; j++)
            found = strcmp(cs[j].service, services[i]) == 0;
        if (!found) {
            fprintf(stderr, "zpanel: service '%s' is not deployed on the swarm\n", services[i]);
            rc = 1;
        }
    }
    struct cli_logs_opts lo = {
        .engine = eo, .prefix = prefix, .color = color, .width = width, .swarm = true};
    struct cli_logs *l = NULL;
    if (rc)
        goto out;
    l = cli_logs_new(g->host, &lo);
    if ((rc = cli_signals_start(logs_on_signal, l)) != 0)
        goto out;
    for (size_t i = 0; i < k && rc == 0; i++)
        if (cli_logs_add(l, &cs[i], (int)i, &err) != 0)
            rc = cli_error(&err);
    if (cli_logs_join(l, &err) != 0 && rc == 0)
        rc = cli_error(&err);
    cli_signals_stop();
    if (rc == 0 && cli_signals_count() > 0)
        rc = CLI_EXIT_INTERRUPTED;
out:
    cli_logs_free(l);
    free(cs);
    orch_swarm_services_free(v, n);
    return rc;
}

int cli_swarm_health(struct cli_session *s, const char *const *services, size_t nservices,
                     bool quiet)
{
    struct orch_swarm_service *v = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (orch_swarm_services(s->orch, &v, &n, &err) != 0)
        return cli_error(&err);
    size_t bad = 0, seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (!named(v[i].service, services, nservices))
            continue;
        seen++;
        char *why = orch_swarm_service_problem(&v[i]);
        if (why) {
            bad++;
            if (!quiet)
                printf("%s: %s\n", v[i].service, why);
            free(why);
        }
    }
    for (size_t i = 0; i < nservices; i++) {
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found = strcmp(v[j].service, services[i]) == 0;
        if (!found) {
            if (!quiet)
                printf("%s: not deployed on the swarm\n", services[i]);
            bad++;
        }
    }
    if (seen == 0 && nservices == 0) {
        if (!quiet)
            printf("no service of the project runs on the swarm\n");
        bad++;
    }
    if (bad == 0 && !quiet)
        printf("all %zu service%s healthy\n", seen, seen == 1 ? "" : "s");
    orch_swarm_services_free(v, n);
    return bad ? ZP_EXIT_RUNTIME : 0;
}

int cli_swarm_rollback(struct cli_session *s, const char *const *services, size_t nservices)
{
    struct zp_err err;
    zp_err_init(&err);
    int rc = orch_swarm_rollback(s->orch, services, nservices, &err);
    cli_progress_done(s->progress);
    return rc != 0 ? cli_error(&err) : 0;
}

/* ---- zpanel swarm ---- */

static int open_engine(const struct cli_global *g, struct engine **ret)
{
    struct zp_err err;
    zp_err_init(&err);
    struct engine *e = engine_new(g->host, &err);
    if (!e)
        return cli_error(&err);
    *ret = e;
    return 0;
}

static int swarm_init(const struct cli_global *g, const char *advertise, const char *listen)
{
    struct engine *e = NULL;
    int rc = open_engine(g, &e);
    if (rc)
        return rc;
    struct zp_err err;
    zp_err_init(&err);
    char *node = NULL;
    struct engine_swarm_info info = {0};
    if (engine_swarm_init(e, advertise, listen, &node, &err) != 0 ||
        engine_swarm_inspect(e, &info, &err) != 0) {
        rc = cli_error(&err);
    } else {
        printf("swarm initialised: this engine (node %s) is its manager\n", node);
        printf("to add a worker, run on it:\n  zpanel swarm join --token %s %s:2377\n",
               info.worker_token, advertise ? advertise : "<this host's address>");
    }
    free(node);
    engine_swarm_info_release(&info);
    engine_free(e);
    return rc;
}

static int swarm_nodes(const struct cli_global *g, bool json)
{
    struct engine *e = NULL;
    int rc = open_engine(g, &e);
    if (rc)
        return rc;
    struct zp_err err;
    zp_err_init(&err);
    struct engine_node_list l = {0};
    if (engine_node_list(e, &l, &err) != 0) {
        engine_free(e);
        return cli_error(&err);
    }
    struct zp_buf out = ZP_BUF_INIT;
    if (json) {
        zp_buf_adds(&out, "[");
        for (size_t i = 0; i < l.n; i++) {
            const struct engine_node *nd = &l.items[i];
            const char *keys[] = {"ID",    "Hostname", "Role",          "Availability",
                                  "State", "Addr",     "ManagerStatus", "EngineVersion"};
            const char *vals[] = {nd->id,    nd->hostname, nd->role,           nd->availability,
                                  nd->state, nd->addr,     nd->manager_status, nd->engine_version};
            zp_buf_adds(&out, i ? ",{" : "{");
            for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                zp_buf_addf(&out, "%s\"%s\":", k ? "," : "", keys[k]);
                cli_json_str(&out, vals[k]);
            }
            zp_buf_adds(&out, "}");
        }
        zp_buf_adds(&out, "]\n");
    } else {
        const char *heads[] = {"ID", "HOSTNAME", "ROLE", "STATUS", "AVAILABILITY", "MANAGER"};
        char **cells = zp_calloc(l.n * 6 + 1, sizeof(*cells));
        for (size_t i = 0; i < l.n; i++) {
            char **r = cells + i * 6;
            r[0] = l.items[i].id;
            r[1] = l.items[i].hostname;
            r[2] = l.items[i].role;
            r[3] = l.items[i].state;
            r[4] = l.items[i].availability;
            r[5] = l.items[i].manager_status;
        }
        size_t w[6];
        cli_table_widths(heads, cells, l.n, 6, w);
        cli_table_row(&out, heads, w, 6);
        for (size_t i = 0; i < l.n; i++)
            cli_table_row(&out, (const char *const *)(cells + i * 6), w, 6);
        free(cells);
    }
    fputs(zp_buf_cstr(&out), stdout);
    zp_buf_release(&out);
    engine_node_list_release(&l);
    engine_free(e);
    return 0;
}

static int swarm_exec(const struct cli_global *g, int argc, char **argv)
{
    enum { OPT_ADVERTISE = 256, OPT_LISTEN, OPT_TOKEN, OPT_FORMAT, OPT_FORCE };
    static const struct option opts[] = {
        {"advertise-addr", required_argument, NULL, OPT_ADVERTISE},
        {"listen-addr", required_argument, NULL, OPT_LISTEN},
        {"token", required_argument, NULL, OPT_TOKEN},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"force", no_argument, NULL, OPT_FORCE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *advertise = NULL, *listen = NULL, *token = NULL;
    bool json = false, force = false;
    int c, rc;
    while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
        switch (c) {
        case OPT_ADVERTISE:
            advertise = optarg;
            break;
        case OPT_LISTEN:
            listen = optarg;
            break;
        case OPT_TOKEN:
            token = optarg;
            break;
        case OPT_FORMAT:
            if ((rc = cli_parse_format(&cli_cmd_swarm, optarg, "table", &json)) != 0)
                return rc;
            break;
        case 'f':
        case OPT_FORCE:
            force = true;
            break;
        case 'h':
            return cli_help(&cli_cmd_swarm);
        default:
            return cli_getopt_error(&cli_cmd_swarm, c, argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error(&cli_cmd_swarm,
                               "missing subcommand: init, join, leave, nodes or rollback");
    const char *sub = argv[optind];
    int nargs = argc - optind - 1;
    if (strcmp(sub, "init") == 0 && nargs == 0)
        return swarm_init(g, advertise, listen);
    if (strcmp(sub, "nodes") == 0 && nargs == 0)
        return swarm_nodes(g, json);
    if (strcmp(sub, "rollback") == 0) {
        struct cli_session s;
        const char *const *svcs = (const char *const *)argv + optind + 1;
        if ((rc = cli_session_open(g, &cli_cmd_swarm, svcs, (size_t)nargs, true, &s)) != 0)
            return rc;
        rc = cli_swarm_rollback(&s, svcs, (size_t)nargs);
        cli_session_close(&s);
        return rc;
    }
    if (strcmp(sub, "join") == 0 || strcmp(sub, "leave") == 0) {
        bool join = strcmp(sub, "join") == 0;
        if (join && (nargs != 1 || !token))
            return cli_usage_error(&cli_cmd_swarm, "join: needs --token TOKEN and MANAGER:PORT");
        if (!join && nargs != 0)
            return cli_usage_error(&cli_cmd_swarm, "leave: takes no argument");
        struct engine *e = NULL;
        if ((rc = open_engine(g, &e)) != 0)
            return rc;
        struct zp_err err;
        zp_err_init(&err);
        if (join)
            rc = engine_swarm_join(e, argv[optind + 1], token, advertise, listen, &err);
        else
            rc = engine_swarm_leave(e, force, &err);
        engine_free(e);
        if (rc != 0)
            return cli_error(&err);
        printf("%s\n", join ? "joined the swarm" : "left the swarm");
        return 0;
    }
    return cli_usage_error(&cli_cmd_swarm, "unknown subcommand or arguments: '%s'", sub);
}

const struct cli_cmd cli_cmd_swarm = {
    .name = "swarm",
    .usage = "init [--advertise-addr ADDR] [--listen-addr ADDR] | join --token TOKEN "
             "[--advertise-addr ADDR] MANAGER:PORT | leave [--force] | nodes [--format "
             "table|json] | rollback [SERVICE...]",
    .summary = "set up and inspect the Docker Swarm that `up --swarm` deploys to",
    .exec = swarm_exec,
};

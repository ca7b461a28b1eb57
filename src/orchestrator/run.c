/* orchestrator/run: one-off containers of a service (`run`): its dependencies brought up,
 * then a container created from the service's definition with the command-line
 * overrides, labelled io.zpanel.oneoff=true. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "build.h"
#include "hooks.h"
#include "orchestrator-int.h"

#include "../util/banned.h"

/* Split an --entrypoint value on blanks, honouring single and double quotes. */
static struct zp_node *split_words(const char *s)
{
    struct zp_node *seq = zp_node_new_seq(NULL);
    struct zp_buf w = ZP_BUF_INIT;
    bool in_word = false;
    char quote = 0;
    for (const char *p = s;; p++) {
        char c = *p;
        if (c == '\0' || (!quote && (c == ' ' || c == '\t' || c == '\n'))) {
            if (in_word)
                zp_node_push(seq, zp_node_new_str(zp_buf_cstr(&w), NULL));
            zp_buf_reset(&w);
            in_word = false;
            if (c == '\0')
                break;
            continue;
        }
        in_word = true;
        if (quote && c == quote) {
            quote = 0;
        } else if (!quote && (c == '\'' || c == '"')) {
            quote = c;
        } else if (c == '\\' && quote != '\'' && p[1] != '\0') {
            zp_buf_addc(&w, *++p);
        } else {
            zp_buf_addc(&w, c);
        }
    }
    zp_buf_release(&w);
    return seq;
}

static void apply_overrides(struct zp_node *svc, const struct orch_run_opts *opts)
{
    if (opts->argc > 0) {
        struct zp_node *cmd = zp_node_new_seq(NULL);
        for (size_t i = 0; i < opts->argc; i++)
            zp_node_push(cmd, zp_node_new_str(opts->argv[i], NULL));
        zp_node_set(svc, "command", cmd);
    }
    if (opts->entrypoint != NULL)
        zp_node_set(svc, "entrypoint", split_words(opts->entrypoint));
    if (opts->nenv > 0) {
        struct zp_node *env = zp_node_get(svc, "environment");
        if (!zp_node_is_map(env)) {
            zp_node_set(svc, "environment", zp_node_new_map(NULL));
            env = zp_node_get(svc, "environment");
        }
        for (size_t i = 0; i < opts->nenv; i++) {
            const char *eq = strchr(opts->env[i], '=');
            if (eq == NULL) {
                const char *v = getenv(opts->env[i]);
                if (v != NULL)
                    zp_node_set(env, opts->env[i], zp_node_new_str(v, NULL));
                continue;
            }
            char *key = zp_strndup(opts->env[i], (size_t)(eq - opts->env[i]));
            zp_node_set(env, key, zp_node_new_str(eq + 1, NULL));
            free(key);
        }
    }
    if (opts->user != NULL)
        zp_node_set(svc, "user", zp_node_new_str(opts->user, NULL));
    if (opts->workdir != NULL)
        zp_node_set(svc, "working_dir", zp_node_new_str(opts->workdir, NULL));
    zp_node_set(svc, "tty", zp_node_new_bool(opts->tty, NULL));
    zp_node_set(svc, "stdin_open", zp_node_new_bool(opts->interactive, NULL));
    if (!opts->service_ports)
        zp_node_del(svc, "ports");
    /* a one-off runs once: no restart policy, no fixed name, no replicas */
    zp_node_del(svc, "restart");
    zp_node_del(svc, "container_name");
}

static int run_image(struct orch *o, const char *service, const struct zp_node *svc,
                     const char *image, char **ret_id, struct zp_err *err)
{
    bool exists = false;
    char *id = NULL;
    if (engine_image_inspect(o->e, image, &exists, &id, err) < 0) {
        zp_err_prefix(err, "service '%s'", service);
        return err->code;
    }
    if (!exists && zp_node_get(svc, "build") != NULL) {
        struct orch_build_opts bo = {0};
        orch__emit(o, ORCH_OBJ_IMAGE, image, service, ORCH_WORKING, "Building");
        if (orch_build_service(o->e, o->p, service, svc, image, NULL, &bo, orch__relay, o, &id,
                               err) < 0) {
            orch__emit(o, ORCH_OBJ_IMAGE, image, service, ORCH_FAILED, "%s", err->msg);
            return err->code;
        }
        orch__emit(o, ORCH_OBJ_IMAGE, image, service, ORCH_DONE, "Built");
        exists = true;
    }
    if (!exists)
        return zp_err_set(err, ZP_E_NOTFOUND, NULL,
                          "service '%s': image '%s' is not present on the engine and cannot be "
                          "pulled: no registry is configured",
                          service, image);
    *ret_id = id;
    return 0;
}

static char *run_resolve(void *ud, const char *service)
{
    struct orch *o = ud;
    const struct zp_node *svcs = zp_node_get(o->p->model, "services");
    const char *cn = zp_node_get_str(zp_node_get(svcs, service), "container_name");
    return orch__container_name(o->p->name, service, cn, 1);
}

int orch_run_create(struct orch *o, const struct orch_run_opts *opts, char **ret_id,
                    struct zp_err *err)
{
    struct orch_graph g = {0};
    struct zp_node *svc = NULL;
    char *image = NULL, *image_id = NULL, *name = NULL, *id = NULL;
    struct orch_container_spec spec = {0};
    const char *service = opts->service;
    int rc;

    if ((rc = orch__graph_build(o->p->model, &service, 1, true, &g, err)) < 0)
        goto out;
    const struct orch_gnode *node = &g.nodes[orch__graph_find(&g, service)];
    if (!opts->no_deps && node->ndeps > 0) {
        const char **deps = zp_calloc(node->ndeps, sizeof(*deps));
        size_t n = 0;
        bool gated = false;
        for (size_t i = 0; i < node->ndeps; i++) {
            deps[n++] = g.nodes[node->deps[i].target].name;
            gated = gated || node->deps[i].cond != ORCH_COND_STARTED;
        }
        struct orch_up_opts uo = {.services = deps, .nservices = n, .wait = gated};
        rc = orch_up(o, &uo, err);
        free(deps);
        if (rc < 0)
            goto out;
    }
    if (orch__cancelled(o)) {
        rc = orch__interrupted(err);
        goto out;
    }
    /* the service's own networks and volumes (up created them for the dependencies) */
    if ((rc = orch__ensure_objects(o, &g, false, err)) < 0)
        goto out;

    struct orch_host host = {0};
    if ((rc = orch__host(o, &host, err)) < 0)
        goto out;
    svc = zp_node_copy(node->svc);
    apply_overrides(svc, opts);
    struct orch_adjustment *adj = NULL;
    size_t nadj = 0;
    orch_adapt_limits(svc, service, &host, true, &adj, &nadj);
    orch_adjustments_free(adj, nadj);
    image = orch_service_image(o->p->name, service, node->svc);
    if ((rc = run_image(o, service, node->svc, image, &image_id, err)) < 0)
        goto out;
    char hash[65];
    orch_config_hash(svc, image_id, hash);
    if ((rc = orch_container_spec(o->p, service, svc, 1, image, image_id, hash, true,
                                  engine_api_minor(o->e), run_resolve, o, &spec, err)) < 0)
        goto out;
    /* create_host_path: a missing source only (a file bind source exists as a file); on
     * this machine only (a remote engine's paths are not ours: zpanel syncs them) */
    for (size_t i = 0; i < spec.nbind_dirs && engine_is_local(o->e); i++) {
        if (zp_file_exists(spec.bind_dirs[i]))
            continue;
        if ((rc = zp_mkdir_p(spec.bind_dirs[i], 0755, err)) < 0) {
            zp_err_prefix(err, "service '%s'", service);
            goto out;
        }
    }
    if (opts->name != NULL) {
        name = zp_strdup(opts->name);
    } else {
        unsigned char rnd[6] = {0};
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            rc = zp_err_sys(err, "getrandom");
            goto out;
        }
        name = zp_asprintf("%s-%s-run-%02x%02x%02x%02x%02x%02x", o->p->name, service, rnd[0],
                           rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    }
    orch__emit(o, ORCH_OBJ_CONTAINER, name, service, ORCH_WORKING, "Creating");
    if ((rc = engine_container_create(o->e, name, spec.json, &id, err)) < 0) {
        zp_err_prefix(err, "service '%s'", service);
        orch__emit(o, ORCH_OBJ_CONTAINER, name, service, ORCH_FAILED, "%s", err->msg);
        goto out;
    }
    for (size_t i = 0; i < spec.nnetworks; i++) {
        const struct orch_netattach *na = &spec.networks[i];
        struct engine_endpoint ep = {
            .aliases = (const char *const *)na->aliases,
            .ipv4_address = na->ipv4_address,
            .ipv6_address = na->ipv6_address,
        };
        if ((rc = engine_network_connect_endpoint(o->e, na->network, id, &ep, err)) < 0) {
            struct zp_err ignored;
            zp_err_init(&ignored);
            engine_container_remove(o->e, id, true, true, &ignored);
            zp_err_prefix(err, "service '%s'", service);
            goto out;
        }
    }
    orch__emit(o, ORCH_OBJ_CONTAINER, name, service, ORCH_DONE, "Created");
    *ret_id = id;
    id = NULL;
out:
    orch_container_spec_release(&spec);
    orch__graph_release(&g);
    zp_node_free(svc);
    free(image);
    free(image_id);
    free(name);
    free(id);
    return rc;
}

int orch_run_post_start(struct orch *o, struct engine *e, const char *service, const char *id,
                        struct zp_err *err)
{
    return orch__run_hooks(o, e, service, "post_start", id, id, err);
}

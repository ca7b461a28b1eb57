/* compose/engine-fields: the fields `config` accepts that `up` cannot honour: those that
 * need another engine than a Docker engine on Linux (Docker Model Runner, Compose provider
 * plugins, Windows containers), and pre_start hooks (not run yet), so that `up` refuses
 * them by name before touching anything, never skips them in silence. */
#include "compose-int.h"

#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

static void refuse(const struct zp_node *at, const char *path, const char *why, struct zp_diags *d,
                   size_t *n)
{
    zp_diag_error(d, at ? &at->pos : NULL, path, "%s", why);
    (*n)++;
}

size_t compose_engine_unsupported(const struct zp_node *model, struct zp_diags *d)
{
    size_t n = 0;
    const struct zp_node *models = zp_node_get(model, "models");
    if (models && zp_node_is_map(models) && models->n > 0)
        refuse(models, "models",
               "'models' needs Docker Model Runner (Docker Desktop or the docker-model plugin), "
               "which zpanel cannot drive: remove it, or run the model as a service",
               d, &n);
    const struct zp_node *services = zp_node_get(model, "services");
    for (size_t i = 0; services && zp_node_is_map(services) && i < services->n; i++) {
        const char *name = services->pairs[i].key->str;
        const struct zp_node *s = services->pairs[i].value;
        if (!zp_node_is_map(s))
            continue;
        char *path = NULL;
        const struct zp_node *v;
        if ((v = zp_node_get(s, "models")) != NULL) {
            path = zp_asprintf("services.%s.models", name);
            refuse(v, path,
                   "'models' needs Docker Model Runner (Docker Desktop or the docker-model "
                   "plugin), which zpanel cannot drive",
                   d, &n);
            free(path);
        }
        if ((v = zp_node_get(s, "provider")) != NULL) {
            path = zp_asprintf("services.%s.provider", name);
            const char *type = zp_node_get_str(v, "type");
            char *why = zp_asprintf("'provider' (type '%s') is run by a Compose provider plugin, "
                                    "which zpanel does not run",
                                    type ? type : "?");
            refuse(v, path, why, d, &n);
            free(why);
            free(path);
        }
        if ((v = zp_node_get(s, "isolation")) != NULL && zp_node_is_str(v) &&
            strcmp(v->str, "default") != 0) {
            path = zp_asprintf("services.%s.isolation", name);
            char *why = zp_asprintf("isolation '%s' is a Windows container isolation; this "
                                    "engine runs Linux containers (use 'default' or remove it)",
                                    v->str);
            refuse(v, path, why, d, &n);
            free(why);
            free(path);
        }
        if ((v = zp_node_get(s, "credential_spec")) != NULL) {
            path = zp_asprintf("services.%s.credential_spec", name);
            refuse(v, path,
                   "'credential_spec' is a Windows (gMSA) setting; this engine runs Linux "
                   "containers",
                   d, &n);
            free(path);
        }
        if ((v = zp_node_get(s, "pre_start")) != NULL && zp_node_is_seq(v) && v->n > 0) {
            /* never skipped in silence: a step the user counts on would not have run */
            path = zp_asprintf("services.%s.pre_start", name);
            refuse(v, path,
                   "'pre_start' hooks are not run by zpanel yet: run the step as a one-shot "
                   "service that this one depends on with condition "
                   "service_completed_successfully",
                   d, &n);
            free(path);
        }
    }
    return n;
}

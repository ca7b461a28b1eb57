/* orchestrator/observe: the project's containers as the engine holds them, found by the
 * io.zpanel.project label: service, number, config hash, state, health. */
#include <stdlib.h>
#include <string.h>

#include "../proxy/proxy.h"
#include "orchestrator-int.h"

#include "../util/banned.h"

/* Health from the list's Status text: "Up 3 seconds (healthy)", "(health: starting)". */
static char *status_health(const char *status)
{
    if (status == NULL)
        return NULL;
    if (strstr(status, "(healthy)") != NULL)
        return zp_strdup("healthy");
    if (strstr(status, "(unhealthy)") != NULL)
        return zp_strdup("unhealthy");
    if (strstr(status, "(health: starting)") != NULL)
        return zp_strdup("starting");
    return NULL;
}

/* The exit code of "Exited (137) 2 minutes ago"; 0 otherwise. */
static int64_t status_exit_code(const char *status)
{
    if (status == NULL || !zp_str_has_prefix(status, "Exited ("))
        return 0;
    const char *p = status + strlen("Exited (");
    const char *end = strchr(p, ')');
    if (end == NULL || end - p > 20)
        return 0;
    char num[24];
    memcpy(num, p, (size_t)(end - p));
    num[end - p] = '\0';
    int64_t v = 0;
    if (zp_parse_int64(num, INT64_MIN, INT64_MAX, &v) < 0)
        return 0;
    return v;
}

static int cmp_obs(const void *a, const void *b)
{
    const struct orch_obs_container *x = a, *y = b;
    int c = strcmp(x->service, y->service);
    if (c != 0)
        return c;
    if (x->oneoff != y->oneoff)
        return x->oneoff ? 1 : -1;
    if (x->number != y->number)
        return x->number < y->number ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void copy_ports(const struct engine_ports *src, struct engine_ports *dst)
{
    dst->n = src->n;
    dst->items = src->n ? zp_calloc(src->n, sizeof(*dst->items)) : NULL;
    for (size_t i = 0; i < src->n; i++) {
        dst->items[i] = src->items[i];
        dst->items[i].type = zp_strdup(src->items[i].type ? src->items[i].type : "tcp");
        dst->items[i].ip = zp_strdup(src->items[i].ip ? src->items[i].ip : "");
    }
}

void orch__observed_from_list(const struct engine_container_list *l, struct orch_observed *ret)
{
    struct orch_observed o = {0};
    o.c = l->n ? zp_calloc(l->n, sizeof(*o.c)) : NULL;
    for (size_t i = 0; i < l->n; i++) {
        const struct engine_container_summary *s = &l->items[i];
        struct orch_obs_container *c = &o.c[o.nc++];
        const char *svc = engine_labels_get(&s->labels, ORCH_LABEL_SERVICE);
        const char *hash = engine_labels_get(&s->labels, ORCH_LABEL_HASH);
        const char *num = engine_labels_get(&s->labels, ORCH_LABEL_NUMBER);
        const char *oneoff = engine_labels_get(&s->labels, ORCH_LABEL_ONEOFF);
        int64_t n = 0;
        c->id = zp_strdup(s->id ? s->id : "");
        c->name = zp_strdup(s->n_names > 0 ? s->names[0] : c->id);
        c->service = zp_strdup(svc ? svc : "");
        c->hash = zp_strdup(hash ? hash : "");
        c->state = zp_strdup(s->state ? s->state : "");
        c->health = status_health(s->status);
        c->status = zp_strdup(s->status ? s->status : "");
        c->image = zp_strdup(s->image ? s->image : "");
        if (num != NULL && zp_parse_int64(num, 1, 1000000, &n) == 0)
            c->number = (int)n;
        c->oneoff = oneoff != NULL && strcmp(oneoff, "true") == 0;
        c->routed = engine_labels_get(&s->labels, PROXY_LABEL_ROUTES) != NULL;
        c->created = s->created;
        c->exit_code = status_exit_code(s->status);
        copy_ports(&s->ports, &c->ports);
    }
    if (o.nc > 1)
        qsort(o.c, o.nc, sizeof(*o.c), cmp_obs);
    *ret = o;
}

int orch__list_containers(struct engine *e, const char *project, struct engine_container_list *ret,
                          struct zp_err *err)
{
    char *filter = zp_asprintf("%s=%s", ORCH_LABEL_PROJECT, project);
    const char *filters[] = {filter, NULL};
    int rc = engine_container_list(e, filters, true, ret, err);
    free(filter);
    return rc;
}

int orch__observe(struct engine *e, const char *project, struct orch_observed *ret,
                  struct zp_err *err)
{
    struct engine_container_list l = {0};
    int rc = orch__list_containers(e, project, &l, err);
    if (rc < 0)
        return rc;
    orch__observed_from_list(&l, ret);
    engine_container_list_release(&l);
    return 0;
}

void orch__observed_release(struct orch_observed *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->nc; i++) {
        struct orch_obs_container *c = &o->c[i];
        free(c->id);
        free(c->name);
        free(c->service);
        free(c->hash);
        free(c->state);
        free(c->health);
        free(c->status);
        free(c->image);
        engine_ports_release(&c->ports);
    }
    free(o->c);
    memset(o, 0, sizeof(*o));
}

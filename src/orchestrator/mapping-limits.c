/* orchestrator/mapping-limits: the host-adapted resource limits policy (orch_adapt_limits)
 * and the list of changes it made. Pure: rewrites a copy of a service's model. */
#include <stdlib.h>
#include <string.h>

#include "mapping.h"

#include "../util/banned.h"

void orch_adjustments_free(struct orch_adjustment *a, size_t n)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(a[i].service);
        free(a[i].field);
        free(a[i].from);
        free(a[i].to);
        free(a[i].why);
    }
    free(a);
}

/* One resource field of the service: where it lives, its value as written and as adapted,
 * and the reasons it changed (joined with "; "). */
struct lim {
    const char *field; /* for messages: "cpus", "deploy.resources.limits.memory" */
    struct zp_node *n; /* the scalar in svc, NULL when not set */
    bool cpu;          /* CPUs (a number) or bytes (an integer) */
    double cpus;       /* current value when cpu */
    int64_t bytes;     /* current value otherwise */
    struct zp_buf why; /* reasons, empty when unchanged */
};

static void lim_init(struct lim *l, const char *field, struct zp_node *n, bool cpu)
{
    memset(l, 0, sizeof(*l));
    zp_buf_init(&l->why, 0);
    l->field = field;
    l->cpu = cpu;
    if (n == NULL || n->kind != ZP_NODE_SCALAR)
        return;
    /* 0 means "no limit" for the engine: nothing to adapt */
    if (cpu) {
        double v;
        if (zp_parse_double(n->str, &v) == 0 && v > 0) {
            l->n = n;
            l->cpus = v;
        }
    } else {
        int64_t v;
        if (zp_parse_int64(n->str, 1, INT64_MAX, &v) == 0) {
            l->n = n;
            l->bytes = v;
        }
    }
}

static void lim_because(struct lim *l, const char *why)
{
    if (l->why.len > 0)
        zp_buf_adds(&l->why, "; ");
    zp_buf_adds(&l->why, why);
}

/* Shortest decimal text of a CPU count, as the model prints numbers ("0.5", "2"). */
static char *cpus_text(double v)
{
    struct zp_node *n = zp_node_new_float(v, NULL);
    char *s = zp_strdup(n->str);
    zp_node_free(n);
    return s;
}

/* The engine's smallest CPU limit and memory limit or reservation: scaling never goes
 * below them (a value written smaller than that is left to the engine to judge). */
#define MIN_CPUS 0.01
#define MIN_MEM ((int64_t)6 << 20)

static int64_t floor_mem(int64_t scaled, int64_t written)
{
    int64_t min = written < MIN_MEM ? written : MIN_MEM;
    return scaled < min ? min : scaled;
}

/* Keep CPU values to whole nano-CPUs, the engine's unit, so that 0.3 / 2 stays 0.15. */
static double round_nano(double v)
{
    return (double)(int64_t)(v * 1e9 + 0.5) / 1e9;
}

/* Scaled CPUs, never below MIN_CPUS unless written below it. */
static double floor_cpus(double scaled, double written)
{
    double min = written < MIN_CPUS ? written : MIN_CPUS;
    return scaled < min ? min : scaled;
}

/* 0.4 * b in integers (no overflow, rounded down). */
static int64_t two_fifths(int64_t b)
{
    return b / 5 * 2 + b % 5 * 2 / 5;
}

static void lim_clamp_cpu(struct lim *l, const struct orch_host *h)
{
    if (l->n == NULL || h->ncpu <= 0 || l->cpus <= (double)h->ncpu)
        return;
    l->cpus = (double)h->ncpu;
    char *why =
        zp_asprintf("above the host's %lld CPU%s", (long long)h->ncpu, h->ncpu == 1 ? "" : "s");
    lim_because(l, why);
    free(why);
}

static void lim_clamp_mem(struct lim *l, const struct orch_host *h)
{
    if (l->n == NULL || h->mem_total <= 0 || l->bytes <= h->mem_total)
        return;
    l->bytes = h->mem_total;
    char *why = zp_asprintf("above the host's memory (%lld bytes)", (long long)h->mem_total);
    lim_because(l, why);
    free(why);
}

/* A reservation may not exceed the limit it goes with (the engine refuses that). */
static void lim_below(struct lim *res, const struct lim *limit)
{
    if (res->n == NULL || limit->n == NULL)
        return;
    if (res->cpu ? res->cpus <= limit->cpus : res->bytes <= limit->bytes)
        return;
    if (res->cpu)
        res->cpus = limit->cpus;
    else
        res->bytes = limit->bytes;
    char *why = zp_asprintf("above the limit %s", limit->field);
    lim_because(res, why);
    free(why);
}

/* Write the adapted value back and record the change. */
static void lim_finish(struct lim *l, const char *service, struct orch_adjustment **list, size_t *n,
                       size_t *cap)
{
    if (l->n != NULL && l->why.len > 0) {
        char *to = l->cpu ? cpus_text(l->cpus) : zp_asprintf("%lld", (long long)l->bytes);
        if (strcmp(to, l->n->str) != 0) {
            zp_grow((void **)list, cap, *n + 1, sizeof(**list));
            struct orch_adjustment *a = &(*list)[(*n)++];
            a->service = zp_strdup(service);
            a->field = zp_strdup(l->field);
            a->from = zp_strdup(l->n->str);
            a->to = zp_strdup(to);
            a->why = zp_buf_detach(&l->why, NULL);
            zp_node_set_scalar(l->n, l->cpu ? ZP_FLOAT : ZP_INT, to);
        }
        free(to);
    }
    zp_buf_release(&l->why);
}

enum {
    L_CPUS,    /* cpus */
    L_MEM,     /* mem_limit */
    L_MEM_RES, /* mem_reservation */
    L_D_CPUS,  /* deploy.resources.limits.cpus */
    L_D_MEM,   /* deploy.resources.limits.memory */
    L_D_RCPUS, /* deploy.resources.reservations.cpus */
    L_D_RMEM,  /* deploy.resources.reservations.memory */
    L_COUNT
};

bool orch_limits_use_host(const struct zp_node *svc)
{
    const struct zp_node *res = zp_node_get(zp_node_get(svc, "deploy"), "resources");
    const struct zp_node *lims = zp_node_get(res, "limits");
    const struct zp_node *resv = zp_node_get(res, "reservations");
    return zp_node_get(svc, "cpus") || zp_node_get(svc, "mem_limit") ||
           zp_node_get(svc, "mem_reservation") || zp_node_get(lims, "cpus") ||
           zp_node_get(lims, "memory") || zp_node_get(resv, "cpus") || zp_node_get(resv, "memory");
}

void orch_adapt_limits(struct zp_node *svc, const char *service, const struct orch_host *host,
                       bool adapt, struct orch_adjustment **ret, size_t *ret_n)
{
    struct zp_node *res = zp_node_get(zp_node_get(svc, "deploy"), "resources");
    struct zp_node *lims = zp_node_get(res, "limits");
    struct zp_node *resv = zp_node_get(res, "reservations");
    struct lim l[L_COUNT];
    lim_init(&l[L_CPUS], "cpus", zp_node_get(svc, "cpus"), true);
    lim_init(&l[L_MEM], "mem_limit", zp_node_get(svc, "mem_limit"), false);
    lim_init(&l[L_MEM_RES], "mem_reservation", zp_node_get(svc, "mem_reservation"), false);
    lim_init(&l[L_D_CPUS], "deploy.resources.limits.cpus", zp_node_get(lims, "cpus"), true);
    lim_init(&l[L_D_MEM], "deploy.resources.limits.memory", zp_node_get(lims, "memory"), false);
    lim_init(&l[L_D_RCPUS], "deploy.resources.reservations.cpus", zp_node_get(resv, "cpus"), true);
    lim_init(&l[L_D_RMEM], "deploy.resources.reservations.memory", zp_node_get(resv, "memory"),
             false);

    /* every host: limits no larger than the host */
    lim_clamp_cpu(&l[L_CPUS], host);
    lim_clamp_cpu(&l[L_D_CPUS], host);
    lim_clamp_mem(&l[L_MEM], host);
    lim_clamp_mem(&l[L_D_MEM], host);

    if (adapt && host->ncpu == 1) {
        static const char halved[] = "single-core host: limits halved";
        static const char scaled[] = "single-core host: reservations scaled to 0.4";
        static const char capped[] = "single-core host: memory limit at most half the host's";
        const int cpu_limits[] = {L_CPUS, L_D_CPUS};
        const int mem_limits[] = {L_MEM, L_D_MEM};
        const int mem_resv[] = {L_MEM_RES, L_D_RMEM};
        for (size_t k = 0; k < 2; k++) {
            struct lim *c = &l[cpu_limits[k]];
            if (c->n != NULL) {
                c->cpus = floor_cpus(round_nano(c->cpus / 2), c->cpus);
                lim_because(c, halved);
            }
            struct lim *m = &l[mem_limits[k]];
            if (m->n != NULL) {
                m->bytes = floor_mem(m->bytes / 2, m->bytes);
                lim_because(m, halved);
                /* after the clamp this holds already; kept so the rule stands on its own */
                if (host->mem_total > 0 && m->bytes > host->mem_total / 2) {
                    m->bytes = host->mem_total / 2;
                    lim_because(m, capped);
                }
            }
            struct lim *r = &l[mem_resv[k]];
            if (r->n != NULL) {
                r->bytes = floor_mem(two_fifths(r->bytes), r->bytes);
                lim_because(r, scaled);
            }
        }
        struct lim *rc = &l[L_D_RCPUS];
        if (rc->n != NULL) {
            rc->cpus = floor_cpus(round_nano(rc->cpus * 0.4), rc->cpus);
            lim_because(rc, scaled);
        }
    }

    /* reservations stay within their limits (either spelling of the limit) */
    lim_below(&l[L_MEM_RES], &l[L_MEM]);
    lim_below(&l[L_MEM_RES], &l[L_D_MEM]);
    lim_below(&l[L_D_RMEM], &l[L_D_MEM]);
    lim_below(&l[L_D_RMEM], &l[L_MEM]);
    lim_below(&l[L_D_RCPUS], &l[L_D_CPUS]);
    lim_below(&l[L_D_RCPUS], &l[L_CPUS]);

    struct orch_adjustment *list = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < L_COUNT; i++)
        lim_finish(&l[i], service, &list, &n, &cap);
    *ret = list;
    *ret_n = n;
}

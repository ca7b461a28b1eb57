/* server/metrics: counters of answered HTTP requests by route and status, rendered as
 * Prometheus text (the jobs' figures come from the database at scrape time). */
#include <stdlib.h>
#include <string.h>

#include "server-int.h"

#include "../util/banned.h"

#define CODES_PER_ROUTE 12

struct code_count {
    int status;
    uint64_t n;
};

struct srv_metrics {
    pthread_mutex_t lock; /* guards everything below */
    size_t nroutes;
    /* nroutes + 1 rows (the last: no route matched) of CODES_PER_ROUTE status counters */
    struct code_count *counts;
};

struct srv_metrics *srv_metrics_new(size_t nroutes)
{
    struct srv_metrics *m = zp_calloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    m->nroutes = nroutes;
    m->counts = zp_calloc((nroutes + 1) * CODES_PER_ROUTE, sizeof(*m->counts));
    return m;
}

void srv_metrics_free(struct srv_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m->counts);
    free(m);
}

void srv_metrics_count(struct srv_metrics *m, size_t ri, int status)
{
    if (ri > m->nroutes)
        ri = m->nroutes;
    pthread_mutex_lock(&m->lock);
    struct code_count *row = &m->counts[ri * CODES_PER_ROUTE];
    for (size_t i = 0; i < CODES_PER_ROUTE; i++) {
        if (row[i].status == status || row[i].status == 0) {
            row[i].status = status;
            row[i].n++;
            break;
        }
    }
    /* more distinct codes than slots on one route: the rest are not counted */
    pthread_mutex_unlock(&m->lock);
}

void srv_metrics_render(struct srv_metrics *m, struct zp_buf *out)
{
    size_t n;
    const struct srv_route *routes = srv_routes(&n);
    zp_buf_adds(out, "# HELP zpanel_http_requests_total HTTP requests answered, by route and "
                     "status code.\n# TYPE zpanel_http_requests_total counter\n");
    pthread_mutex_lock(&m->lock);
    for (size_t r = 0; r <= m->nroutes; r++) {
        const struct code_count *row = &m->counts[r * CODES_PER_ROUTE];
        for (size_t i = 0; i < CODES_PER_ROUTE && row[i].status; i++) {
            if (r < m->nroutes)
                zp_buf_addf(out,
                            "zpanel_http_requests_total{method=\"%s\",route=\"%s\",code=\"%d\"} "
                            "%llu\n",
                            routes[r].method, routes[r].pattern, row[i].status,
                            (unsigned long long)row[i].n);
            else
                zp_buf_addf(out,
                            "zpanel_http_requests_total{method=\"\",route=\"\",code=\"%d\"} "
                            "%llu\n",
                            row[i].status, (unsigned long long)row[i].n);
        }
    }
    pthread_mutex_unlock(&m->lock);
}

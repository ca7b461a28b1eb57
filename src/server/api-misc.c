/* server/api-misc: /healthz, /api/v1/openapi.json (compiled in from openapi.json) and
 * /metrics (Prometheus text). */
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "../proxy/proxy.h"
#include "server-int.h"

#include "../util/banned.h"

void srv_api_healthz(struct srv_req *req, struct srv_resp *resp)
{
    srv_reply_json(resp, 200,
                   json_pack("{s:s, s:s, s:I}", "status", "ok", "version", ZP_VERSION, "uptime_s",
                             (json_int_t)((srv_now_ms() - req->srv->started_ms) / 1000)));
}

void srv_api_openapi(struct srv_req *req, struct srv_resp *resp)
{
    (void)req;
    size_t len;
    const char *text = srv_openapi_text(&len);
    srv_reply_text(resp, 200, "application/json", text, len);
}

/* The health of a container as the engine's list shows it ("Up 3 minutes (healthy)"). */
static const char *health_of(const struct engine_container_summary *c)
{
    if (!c->state || strcmp(c->state, "running") != 0)
        return "not_running";
    const char *st = c->status ? c->status : "";
    if (strstr(st, "(healthy)"))
        return "healthy";
    if (strstr(st, "(unhealthy)"))
        return "unhealthy";
    if (strstr(st, "(health: starting)"))
        return "starting";
    return "no_healthcheck";
}

struct health_count {
    const char *project, *health; /* borrowed from the list */
    int64_t n;
};

/* A host name as a Prometheus label value (quotes, backslashes and newlines escaped). */
static void add_label(struct zp_buf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            zp_buf_addc(out, '\\');
        if (*v == '\n')
            zp_buf_adds(out, "\\n");
        else
            zp_buf_addc(out, *v);
    }
}

/* The certificates of the hosts zpanel's proxy serves over HTTPS (when it runs): whether
 * each has one, its expiry, and whether its last issuance failed (issue: a failed ACME
 * order is never silent). */
static void render_certs(struct server *s, struct engine *e, struct zp_buf *out)
{
    struct proxy_opts po;
    memset(&po, 0, sizeof(po));
    po.state_dir = s->state_dir;
    struct proxy_cert *c = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (proxy_certs(e, &po, 0, &c, &n, &err) != 0 || n == 0) {
        proxy_certs_free(c, n);
        return;
    }
    static const char *const names[] = {"zpanel_proxy_certificate",
                                        "zpanel_proxy_certificate_expiry_seconds",
                                        "zpanel_proxy_certificate_error"};
    static const char *const helps[] = {
        "Whether the proxy holds a certificate for the host.",
        "When the host's certificate expires (Unix seconds; 0 without one).",
        "Whether the host's last certificate issuance failed (the error is in `proxy certs`)."};
    for (size_t k = 0; k < 3; k++) {
        zp_buf_addf(out, "# HELP %s %s\n# TYPE %s gauge\n", names[k], helps[k], names[k]);
        for (size_t i = 0; i < n; i++) {
            zp_buf_addf(out, "%s{host=\"", names[k]);
            add_label(out, c[i].host);
            long long v = k == 0   ? c[i].issuer != NULL
                          : k == 1 ? (long long)c[i].not_after
                                   : c[i].error != NULL;
            zp_buf_addf(out, "\"} %lld\n", v);
        }
    }
    proxy_certs_free(c, n);
}

/* zpanel_containers{project, health}: one list call for every container zpanel labelled;
 * an engine that does not answer gives zpanel_engine_up 0 and no container series. */
static void render_containers(struct server *s, struct zp_buf *out)
{
    struct zp_err err;
    zp_err_init(&err);
    struct engine *e = engine_new(s->host, &err);
    struct engine_container_list l;
    memset(&l, 0, sizeof(l));
    static const char *const filters[] = {"io.zpanel.project", NULL};
    bool up = e && engine_container_list(e, filters, true, &l, &err) == 0;
    zp_buf_addf(out,
                "# HELP zpanel_engine_up Whether the engine answered the container list.\n"
                "# TYPE zpanel_engine_up gauge\nzpanel_engine_up %d\n",
                up ? 1 : 0);
    if (up) {
        struct health_count *hc = zp_calloc(l.n + 1, sizeof(*hc));
        size_t nh = 0;
        for (size_t i = 0; i < l.n; i++) {
            const char *p = engine_labels_get(&l.items[i].labels, "io.zpanel.project");
            const char *oneoff = engine_labels_get(&l.items[i].labels, "io.zpanel.oneoff");
            if (!p || (oneoff && strcmp(oneoff, "true") == 0))
                continue;
            const char *h = health_of(&l.items[i]);
            size_t k = 0;
            while (k < nh && !(strcmp(hc[k].project, p) == 0 && strcmp(hc[k].health, h) == 0))
                k++;
            if (k == nh)
                hc[nh++] = (struct health_count){p, h, 0};
            hc[k].n++;
        }
        zp_buf_adds(out, "# HELP zpanel_containers Containers of zpanel projects, by project and "
                         "health.\n# TYPE zpanel_containers gauge\n");
        for (size_t k = 0; k < nh; k++)
            zp_buf_addf(out, "zpanel_containers{project=\"%s\",health=\"%s\"} %lld\n",
                        hc[k].project, hc[k].health, (long long)hc[k].n);
        free(hc);
    }
    engine_container_list_release(&l);
    if (up)
        render_certs(s, e, out);
    engine_free(e);
}

void srv_api_metrics(struct srv_req *req, struct srv_resp *resp)
{
    struct zp_buf out = ZP_BUF_INIT;
    srv_metrics_render(req->srv->metrics, &out);
    struct store_job_count *c = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_job_counts(req->db, &c, &n, &err) == 0) {
        zp_buf_adds(&out, "# HELP zpanel_jobs Jobs in the queue's history, by kind and status.\n"
                          "# TYPE zpanel_jobs gauge\n");
        int64_t queued = 0;
        for (size_t i = 0; i < n; i++) {
            zp_buf_addf(&out, "zpanel_jobs{kind=\"%s\",status=\"%s\"} %lld\n", c[i].kind,
                        store_job_status_name(c[i].status), (long long)c[i].count);
            if (c[i].status == STORE_JOB_QUEUED)
                queued += c[i].count;
        }
        zp_buf_adds(&out, "# HELP zpanel_job_duration_seconds_sum Time spent by finished jobs, "
                          "by kind and status.\n# TYPE zpanel_job_duration_seconds_sum counter\n");
        for (size_t i = 0; i < n; i++)
            if (c[i].status != STORE_JOB_QUEUED && c[i].status != STORE_JOB_RUNNING)
                zp_buf_addf(&out,
                            "zpanel_job_duration_seconds_sum{kind=\"%s\",status=\"%s\"} %.3f\n",
                            c[i].kind, store_job_status_name(c[i].status),
                            (double)c[i].duration_ms / 1000.0);
        zp_buf_addf(&out,
                    "# HELP zpanel_queue_depth Jobs waiting to run.\n# TYPE zpanel_queue_depth "
                    "gauge\nzpanel_queue_depth %lld\n",
                    (long long)queued);
        store_job_counts_free(c, n);
    }
    zp_buf_addf(&out,
                "# HELP zpanel_jobs_running Jobs running now.\n# TYPE zpanel_jobs_running "
                "gauge\nzpanel_jobs_running %zu\n",
                srv_jobs_nrunning(req->srv->jobs));
    render_containers(req->srv, &out);
    srv_reply_text(resp, 200, "text/plain; version=0.0.4", zp_buf_cstr(&out), out.len);
    zp_buf_release(&out);
}

/* server/api-misc: /healthz, /api/v1/openapi.json (compiled in from openapi.json) and
 * /metrics (Prometheus text). */
#include <stdlib.h>
#include <string.h>

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
    srv_reply_text(resp, 200, "text/plain; version=0.0.4", zp_buf_cstr(&out), out.len);
    zp_buf_release(&out);
}

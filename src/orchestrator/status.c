/* orchestrator/status: status, health and stats of a deployed project: the pure usage
 * computation, formatters and health verdict, and the engine round trips behind them.
 * The engine answers a one-shot stats request only at its collector's next tick (once a
 * second on 20.10), so per-container calls run all at once, one connection each (the
 * "wide" runner below), rather than a few at a time on the worker pool. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orchestrator-int.h"
#include "routes.h"
#include "status.h"

#include "../util/banned.h"

#define DEFAULT_PARALLEL 128
#define INSPECT_PARALLEL 8
#define MAX_PARALLEL 512
#define PROBE_OUTPUT_MAX 300

/* ---- pure helpers ---- */

void orch_stats_compute(const struct engine_stats *prev, const struct engine_stats *cur,
                        struct orch_usage *ret)
{
    struct orch_usage u = {0};
    uint64_t pre_cpu = prev ? prev->cpu_total : cur->pre_cpu_total;
    uint64_t pre_sys = prev ? prev->system_cpu : cur->pre_system_cpu;
    if (pre_sys != 0 && cur->system_cpu > pre_sys) {
        uint64_t cpus = cur->online_cpus ? cur->online_cpus : 1;
        uint64_t sys_delta = cur->system_cpu - pre_sys;
        uint64_t cpu_delta = cur->cpu_total > pre_cpu ? cur->cpu_total - pre_cpu : 0;
        u.have_cpu = true;
        u.cpu_percent = (double)cpu_delta / (double)sys_delta * (double)cpus * 100.0;
    } else if (pre_sys != 0) {
        u.have_cpu = true; /* no system time passed: nothing was used either */
    }
    u.mem_used = cur->mem_cache < cur->mem_usage ? cur->mem_usage - cur->mem_cache : cur->mem_usage;
    u.mem_limit = cur->mem_limit;
    if (u.mem_limit > 0)
        u.mem_percent = (double)u.mem_used / (double)u.mem_limit * 100.0;
    u.net_rx = cur->net_rx;
    u.net_tx = cur->net_tx;
    u.blk_read = cur->blk_read;
    u.blk_write = cur->blk_write;
    u.pids = cur->pids;
    *ret = u;
}

double orch_cpu_average(uint64_t cpu_total_ns, int64_t started_ns, int64_t now_ns)
{
    if (started_ns <= 0 || now_ns <= started_ns)
        return 0.0;
    return (double)cpu_total_ns / (double)(now_ns - started_ns) * 100.0;
}

void orch_fmt_bytes(uint64_t n, bool binary, char out[ORCH_FMT_BYTES])
{
    static const char *const bin[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    static const char *const dec[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    const char *const *units = binary ? bin : dec;
    double base = binary ? 1024.0 : 1000.0;
    if ((double)n < base) {
        snprintf(out, ORCH_FMT_BYTES, "%lluB", (unsigned long long)n);
        return;
    }
    double v = (double)n;
    size_t k = 0;
    while (v >= base && k < 6) {
        v /= base;
        k++;
    }
    if (v < 9.995)
        snprintf(out, ORCH_FMT_BYTES, "%.2f%s", v, units[k]);
    else if (v < 99.95)
        snprintf(out, ORCH_FMT_BYTES, "%.1f%s", v, units[k]);
    else
        snprintf(out, ORCH_FMT_BYTES, "%.0f%s", v, units[k]);
}

void orch_fmt_duration(int64_t secs, char out[ORCH_FMT_DURATION])
{
    if (secs < 0)
        secs = 0;
    long long s = (long long)secs;
    if (s < 60)
        snprintf(out, ORCH_FMT_DURATION, "%llds", s);
    else if (s < 3600)
        snprintf(out, ORCH_FMT_DURATION, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, ORCH_FMT_DURATION, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else if (s < 100LL * 86400)
        snprintf(out, ORCH_FMT_DURATION, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
    else
        snprintf(out, ORCH_FMT_DURATION, "%lldd", s / 86400);
}

/* ---- the health verdict ---- */

bool orch_verdict_ok(enum orch_verdict v)
{
    return v == ORCH_VERDICT_HEALTHY || v == ORCH_VERDICT_RUNNING;
}

const char *orch_verdict_name(enum orch_verdict v)
{
    switch (v) {
    case ORCH_VERDICT_HEALTHY:
        return "healthy";
    case ORCH_VERDICT_RUNNING:
        return "running";
    case ORCH_VERDICT_STARTING:
        return "starting";
    case ORCH_VERDICT_UNHEALTHY:
        return "unhealthy";
    case ORCH_VERDICT_RESTARTING:
        return "restarting";
    case ORCH_VERDICT_EXITED:
        return "exited";
    case ORCH_VERDICT_PAUSED:
        return "paused";
    case ORCH_VERDICT_CREATED:
        return "created";
    case ORCH_VERDICT_DEAD:
        return "dead";
    case ORCH_VERDICT_MISSING:
        return "not running";
    }
    return "unknown";
}

/* A probe's output on one line: surrounding blanks trimmed, each run of line ends
 * replaced by " | ", capped (at a UTF-8 character boundary) with "...". */
static void flatten_output(struct zp_buf *b, const char *s)
{
    size_t start = b->len;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n' || s[i] == '\r') {
            while (i + 1 < n && (s[i + 1] == '\n' || s[i + 1] == '\r'))
                i++;
            zp_buf_adds(b, " | ");
        } else if ((unsigned char)s[i] < 0x20 && s[i] != '\t') {
            zp_buf_addc(b, ' ');
        } else {
            zp_buf_addc(b, s[i]);
        }
        if (b->len - start > PROBE_OUTPUT_MAX) {
            size_t cut = start + PROBE_OUTPUT_MAX;
            while (cut > start && ((unsigned char)b->p[cut] & 0xC0) == 0x80)
                cut--;
            b->len = cut;
            b->p[cut] = '\0';
            zp_buf_adds(b, "...");
            break;
        }
    }
}

static bool state_is(const char *state, const char *s)
{
    return state != NULL && strcmp(state, s) == 0;
}

enum orch_verdict orch_health_verdict(const struct orch_health_facts *f, char **ret_reason)
{
    enum orch_verdict v;
    struct zp_buf b = ZP_BUF_INIT;
    bool has_output = f->health_output != NULL && f->health_output[0] != '\0';
    if (state_is(f->state, "running")) {
        if (f->health == NULL || strcmp(f->health, "none") == 0 || f->health[0] == '\0') {
            v = ORCH_VERDICT_RUNNING;
        } else if (strcmp(f->health, "healthy") == 0) {
            v = ORCH_VERDICT_HEALTHY;
        } else if (strcmp(f->health, "unhealthy") == 0) {
            v = ORCH_VERDICT_UNHEALTHY;
            zp_buf_adds(&b, "unhealthy: ");
            if (has_output)
                flatten_output(&b, f->health_output);
            else
                zp_buf_adds(&b, "the health check failed without output");
            zp_buf_addf(&b, " (%lld failed probes, last exit code %lld)",
                        (long long)f->failing_streak, (long long)f->health_exit_code);
        } else {
            v = ORCH_VERDICT_STARTING;
            zp_buf_adds(&b, "health check not passing yet");
            if (f->failing_streak > 0) {
                zp_buf_addf(&b, " (%lld failed probes)", (long long)f->failing_streak);
                if (has_output) {
                    zp_buf_adds(&b, ": ");
                    flatten_output(&b, f->health_output);
                }
            }
        }
    } else if (state_is(f->state, "restarting")) {
        v = ORCH_VERDICT_RESTARTING;
        zp_buf_addf(&b, "restarting in a loop: exit code %lld, %s, restarted %lld times",
                    (long long)f->exit_code, f->oom_killed ? "OOM-killed" : "not OOM-killed",
                    (long long)f->restart_count);
    } else if (state_is(f->state, "paused")) {
        v = ORCH_VERDICT_PAUSED;
        zp_buf_adds(&b, "paused");
    } else if (state_is(f->state, "created")) {
        v = ORCH_VERDICT_CREATED;
        zp_buf_adds(&b, "created but never started");
    } else if (state_is(f->state, "dead") || state_is(f->state, "removing")) {
        v = ORCH_VERDICT_DEAD;
        zp_buf_adds(&b, state_is(f->state, "dead") ? "dead" : "being removed");
    } else {
        v = ORCH_VERDICT_EXITED;
        zp_buf_addf(&b, "exited with code %lld", (long long)f->exit_code);
        if (f->oom_killed)
            zp_buf_adds(&b, " (OOM-killed)");
        if (f->restart_count > 0)
            zp_buf_addf(&b, " after %lld restarts", (long long)f->restart_count);
    }
    if (ret_reason != NULL)
        *ret_reason = orch_verdict_ok(v) ? NULL : zp_buf_detach(&b, NULL);
    zp_buf_release(&b);
    return v;
}

/* ---- shared: selection, replicas, the wide runner ---- */

bool orch_health_excluded(const struct zp_node *svc)
{
    const struct zp_node *x = zp_node_is_map(svc) ? zp_node_get(svc, "x-zpanel") : NULL;
    const struct zp_node *v = zp_node_is_map(x) ? zp_node_get(x, "exclude_from_health") : NULL;
    return v != NULL && zp_node_is_scalar(v) && v->type == ZP_BOOL && strcmp(v->str, "true") == 0;
}

static bool selected(const char *const *services, size_t n, const char *name)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(services[i], name) == 0)
            return true;
    return false;
}

static int check_services(struct orch *o, const char *const *services, size_t n, struct zp_err *err)
{
    const struct zp_node *svcs = zp_node_get(o->p->model, "services");
    for (size_t i = 0; i < n; i++)
        if (zp_node_get(svcs, services[i]) == NULL)
            return zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such service '%s'", services[i]);
    return 0;
}

static size_t wide_limit(int max_parallel)
{
    size_t n = max_parallel > 0 ? (size_t)max_parallel : DEFAULT_PARALLEL;
    return n > MAX_PARALLEL ? MAX_PARALLEL : n;
}

/* Unix nanoseconds of an RFC 3339 time whose whole seconds are already known. */
static int64_t time_with_fraction(int64_t unix_s, const char *rfc3339)
{
    if (unix_s <= 0)
        return 0;
    int64_t ns = 0;
    if (rfc3339 != NULL && strlen(rfc3339) > 20 && rfc3339[19] == '.') {
        int64_t scale = 100000000;
        for (const char *p = rfc3339 + 20; *p >= '0' && *p <= '9' && scale > 0; p++) {
            ns += (*p - '0') * scale;
            scale /= 10;
        }
    }
    return unix_s * 1000000000 + ns;
}

static void copy_ports(const struct engine_ports *ports, struct orch_port **ret, size_t *ret_n)
{
    struct orch_port *out = ports->n ? zp_calloc(ports->n, sizeof(*out)) : NULL;
    for (size_t k = 0; k < ports->n; k++) {
        const struct engine_port *p = &ports->items[k];
        out[k].host_ip = zp_strdup(p->ip ? p->ip : "");
        out[k].host_port = p->public_port;
        out[k].container_port = p->private_port;
        out[k].protocol = zp_strdup(p->type ? p->type : "tcp");
    }
    *ret = out;
    *ret_n = ports->n;
}

/* ---- status ---- */

struct status_job {
    struct orch *o;
    const struct orch_obs_container *c;
    const struct engine_image_list *images;
    struct engine_stats st; /* from the stats pass */
    bool have_stats;
    bool running;       /* from the inspect pass */
    int64_t started_ns; /* from the inspect pass */
    int64_t now_s;      /* the engine's clock (ages are engine time minus engine time) */
    struct orch_status_row row;
    bool gone; /* removed meanwhile */
    int rc;
    struct zp_err err;
};

/* The health facts of an inspected container, its state given (borrowed from ins). */
static struct orch_health_facts inspect_facts(const struct engine_container *ins, const char *state)
{
    struct orch_health_facts f = {
        .state = state,
        .health = ins->health,
        .health_output = ins->health_output,
        .health_exit_code = ins->health_exit_code,
        .failing_streak = ins->failing_streak,
        .exit_code = ins->exit_code,
        .oom_killed = ins->oom_killed,
        .restart_count = ins->restart_count,
    };
    return f;
}

static void status_fill(struct status_job *j, struct engine *e)
{
    const struct orch_obs_container *c = j->c;
    struct orch_status_row *r = &j->row;
    struct engine_container ins = {0};
    if (engine_container_inspect(e, c->id, &ins, &j->err) < 0) {
        if (j->err.code == ZP_E_NOTFOUND)
            j->gone = true;
        else
            j->rc = j->err.code;
        return;
    }
    r->service = zp_strdup(c->service);
    r->name = zp_strdup(c->name);
    r->id = zp_strdup(c->id);
    r->number = c->number;
    r->state = zp_strdup(ins.status ? ins.status : c->state);
    r->health = ins.health ? zp_strdup(ins.health) : NULL;
    r->exit_code = ins.exit_code;
    r->oom_killed = ins.oom_killed;
    r->restart_count = ins.restart_count;
    r->started_at = ins.started_at_unix;
    r->memory_limit = ins.memory_limit;
    r->restart_policy = zp_strdup(ins.restart_policy ? ins.restart_policy : "");
    r->image = zp_strdup(ins.config_image ? ins.config_image : c->image);
    r->image_id = zp_strdup(ins.image_id ? ins.image_id : "");
    r->now = j->now_s;
    for (size_t i = 0; i < j->images->n; i++)
        if (strcmp(j->images->items[i].id, r->image_id) == 0)
            r->image_created = j->images->items[i].created;
    struct orch_health_facts f = inspect_facts(&ins, r->state);
    r->verdict = orch_health_verdict(&f, &r->reason);
    if (ins.health_output != NULL && ins.failing_streak > 0)
        r->health_output = zp_strdup(ins.health_output);
    /* the list shows published ports; inspect also those only exposed */
    copy_ports(c->ports.n > 0 ? &c->ports : &ins.ports, &r->ports, &r->nports);
    bool running = ins.running && !ins.paused && !ins.restarting;
    r->uptime_s = running && r->started_at > 0 ? r->now - r->started_at : -1;
    if (r->uptime_s < -1)
        r->uptime_s = 0;
    j->running = running;
    j->started_ns = time_with_fraction(ins.started_at_unix, ins.started_at);
    engine_container_release(&ins);
}

static void status_job_run(struct engine *e, void *ctx, size_t i)
{
    struct status_job *j = &((struct status_job *)ctx)[i];
    if (!orch__cancelled(j->o))
        status_fill(j, e);
    else
        j->rc = orch__interrupted(&j->err);
}

/* The stats pass: ctx is the array of pointers to the jobs of running containers. A
 * container that stopped in between is shown without usage. */
static void status_stats_run(struct engine *e, void *ctx, size_t i)
{
    struct status_job *j = ((struct status_job **)ctx)[i];
    struct zp_err e2;
    zp_err_init(&e2);
    if (!orch__cancelled(j->o))
        j->have_stats = engine_container_stats(e, j->c->id, true, &j->st, &e2) == 0;
}

/* The inspect pass, on its own thread while the stats pass waits for the engine's tick:
 * few connections suffice for inspects, which the engine answers at once. */
struct inspect_pass {
    struct orch_wide wide;
    struct status_job *jobs;
    size_t njobs;
    int rc;
    struct zp_err err;
};

static void *inspect_pass_main(void *arg)
{
    struct inspect_pass *ip = arg;
    ip->rc =
        orch__wide_exec(&ip->wide, ip->njobs, INSPECT_PARALLEL, status_job_run, ip->jobs, &ip->err);
    return NULL;
}

static void row_release(struct orch_status_row *r)
{
    free(r->service);
    free(r->name);
    free(r->id);
    free(r->state);
    free(r->health);
    free(r->health_output);
    free(r->reason);
    free(r->restart_policy);
    for (size_t k = 0; k < r->nports; k++) {
        free(r->ports[k].host_ip);
        free(r->ports[k].protocol);
    }
    free(r->ports);
    free(r->image);
    free(r->image_id);
}

void orch_status_rows_free(struct orch_status_row *rows, size_t n)
{
    if (rows == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        row_release(&rows[i]);
    free(rows);
}

static int cmp_row(const void *x, const void *y)
{
    const struct orch_status_row *a = x, *b = y;
    int c = strcmp(a->service, b->service);
    if (c != 0)
        return c;
    if (a->number != b->number)
        return a->number < b->number ? -1 : 1;
    return strcmp(a->name ? a->name : "", b->name ? b->name : "");
}

int orch_status(struct orch *o, const struct orch_status_opts *opts, struct orch_status_row **ret,
                size_t *ret_n, struct zp_err *err)
{
    struct orch_observed obs = {0};
    struct engine_image_list images = {0};
    struct status_job *jobs = NULL;
    struct status_job **running = NULL;
    struct orch_wide wide = {.host = o->host, .like = o->e};
    struct inspect_pass ip = {.wide = {.host = o->host, .like = o->e}};
    struct orch_status_row *rows = NULL;
    size_t njobs = 0, n = 0;
    int rc = check_services(o, opts->services, opts->nservices, err);
    if (rc < 0)
        goto out;
    if ((rc = orch__observe(o->e, o->p->name, &obs, err)) < 0)
        goto out;
    if ((rc = engine_image_list(o->e, NULL, NULL, &images, err)) < 0)
        goto out;
    /* uptimes and ages on the engine's clock (a remote engine's may differ from ours) */
    int64_t now_s = orch_engine_now_s(o);

    jobs = zp_calloc(obs.nc ? obs.nc : 1, sizeof(*jobs));
    for (size_t i = 0; i < obs.nc; i++) {
        const struct orch_obs_container *c = &obs.c[i];
        if (c->oneoff || !selected(opts->services, opts->nservices, c->service))
            continue;
        struct status_job *j = &jobs[njobs++];
        j->o = o;
        j->c = c;
        j->images = &images;
        j->now_s = now_s;
        zp_err_init(&j->err);
    }
    /* the stats of running containers, all at once (the engine answers them at its
     * next collector tick), while a second thread inspects every container on few
     * connections */
    running = zp_calloc(njobs + 1, sizeof(*running));
    size_t nrunning = 0;
    for (size_t i = 0; i < njobs && !opts->no_usage; i++)
        if (strcmp(jobs[i].c->state, "running") == 0)
            running[nrunning++] = &jobs[i];
    ip.jobs = jobs;
    ip.njobs = njobs;
    zp_err_init(&ip.err);
    pthread_t inspector;
    bool threaded = nrunning > 0 && pthread_create(&inspector, NULL, inspect_pass_main, &ip) == 0;
    if (nrunning > 0)
        rc = orch__wide_exec(&wide, nrunning, wide_limit(opts->max_parallel), status_stats_run,
                             running, err);
    if (threaded)
        pthread_join(inspector, NULL);
    else
        inspect_pass_main(&ip); /* stats first, then inspects, in this thread */
    if (rc == 0 && ip.rc < 0) {
        *err = ip.err;
        rc = ip.rc;
    }
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < njobs; i++) {
        struct status_job *j = &jobs[i];
        if (!j->running || !j->have_stats)
            continue;
        const struct engine_stats *st = &j->st;
        int64_t at = st->read_ns > 0 ? st->read_ns : orch__engine_now(o);
        j->row.have_usage = true;
        j->row.cpu_avg_percent = orch_cpu_average(st->cpu_total, j->started_ns, at);
        j->row.mem_used =
            st->mem_cache < st->mem_usage ? st->mem_usage - st->mem_cache : st->mem_usage;
        j->row.mem_cgroup_limit = st->mem_limit;
    }

    const struct zp_node *svcs = zp_node_get(o->p->model, "services");
    size_t nsvcs = svcs ? svcs->n : 0;
    rows = zp_calloc(njobs + nsvcs + 1, sizeof(*rows));
    for (size_t i = 0; i < njobs; i++) {
        struct status_job *j = &jobs[i];
        if (j->rc < 0 && rc == 0) {
            *err = j->err;
            rc = j->rc;
        }
        if (j->rc == 0 && !j->gone) {
            rows[n++] = j->row;
            memset(&j->row, 0, sizeof(j->row));
        }
    }
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < nsvcs; i++) {
        const char *name = svcs->pairs[i].key->str;
        if (!selected(opts->services, opts->nservices, name) ||
            orch__model_replicas(svcs->pairs[i].value) == 0)
            continue;
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            found = strcmp(rows[k].service, name) == 0;
        if (found)
            continue;
        struct orch_status_row *r = &rows[n++];
        r->service = zp_strdup(name);
        r->state = zp_strdup("not created");
        r->verdict = ORCH_VERDICT_MISSING;
        r->reason = zp_strdup("not running: no container");
        r->uptime_s = -1;
        r->restart_policy = zp_strdup("");
        r->now = now_s;
    }
    for (size_t i = 0; i < n; i++)
        rows[i].health_excluded = orch_health_excluded(zp_node_get(svcs, rows[i].service));
    if (n > 1)
        qsort(rows, n, sizeof(*rows), cmp_row);
    *ret = rows;
    *ret_n = n;
    rows = NULL;
    n = 0;
out:
    orch__wide_release(&wide);
    orch__wide_release(&ip.wide);
    free(running);
    for (size_t i = 0; i < njobs; i++)
        row_release(&jobs[i].row);
    free(jobs);
    orch_status_rows_free(rows, n);
    engine_image_list_release(&images);
    orch__observed_release(&obs);
    return rc;
}

/* ---- health ---- */

void orch_health_items_free(struct orch_health_item *items, size_t n)
{
    if (items == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(items[i].service);
        free(items[i].name);
        free(items[i].reason);
    }
    free(items);
}

static int cmp_item(const void *x, const void *y)
{
    const struct orch_health_item *a = x, *b = y;
    int c = strcmp(a->service, b->service);
    if (c != 0)
        return c;
    return strcmp(a->name ? a->name : "", b->name ? b->name : "");
}

/* A service routed over HTTPS whose host has no valid certificate and a failed issuance
 * (the proxy's last ACME error) gets an item of its own, ORCH_VERDICT_UNHEALTHY:
 * "certificate for host 'a.example': <Caddy's error>". Nothing when the proxy does not
 * run or cannot be read (health is about the project's services). */
static void cert_items(struct orch *o, const char *const *services, size_t nservices,
                       struct orch_health_item **items, size_t *n, size_t *cap)
{
    const struct zp_node *svcs = zp_node_get(o->p->model, "services");
    struct proxy_site *sites = zp_calloc(svcs && svcs->n ? svcs->n : 1, sizeof(*sites));
    size_t nsites = 0;
    for (size_t i = 0; svcs && i < svcs->n; i++) {
        const char *name = svcs->pairs[i].key->str;
        bool routed = false;
        struct zp_err e2;
        zp_err_init(&e2);
        if (!selected(services, nservices, name) ||
            orch_service_site(o->p, name, svcs->pairs[i].value, &sites[nsites], &routed, &e2) < 0 ||
            !routed)
            continue;
        if (sites[nsites].kind == PROXY_KIND_CADDY && sites[nsites].tls != PROXY_TLS_OFF)
            nsites++;
        else
            proxy_site_release(&sites[nsites]);
    }
    struct proxy_cert *c = NULL;
    size_t nc = 0;
    if (nsites > 0) {
        char *state = zp_state_dir();
        struct proxy_opts po = {.state_dir = state};
        struct zp_err e2;
        zp_err_init(&e2);
        if (proxy_certs(o->e, &po, 0, &c, &nc, &e2) != 0)
            nc = 0;
        free(state);
    }
    int64_t now = (int64_t)time(NULL);
    for (size_t k = 0; k < nc; k++) {
        if (!c[k].error || c[k].not_after > now)
            continue;
        for (size_t i = 0; i < nsites; i++) {
            if (!proxy_site_names_host(&sites[i], c[k].host))
                continue;
            zp_grow((void **)items, cap, *n + 1, sizeof(**items));
            struct orch_health_item *it = &(*items)[(*n)++];
            memset(it, 0, sizeof(*it));
            it->service = zp_strdup(sites[i].service);
            it->name = zp_asprintf("host %s", c[k].host);
            it->verdict = ORCH_VERDICT_UNHEALTHY;
            it->reason = zp_asprintf("certificate for host '%s': %s", c[k].host, c[k].error);
            break;
        }
    }
    proxy_certs_free(c, nc);
    proxy_sites_free(sites, nsites);
}

int orch_health(struct orch *o, const char *const *services, size_t nservices,
                struct orch_health_item **ret, size_t *ret_n, struct zp_err *err)
{
    struct orch_observed obs = {0};
    struct orch_health_item *items = NULL;
    size_t n = 0;
    int rc = check_services(o, services, nservices, err);
    if (rc < 0)
        return rc;
    if ((rc = orch__observe(o->e, o->p->name, &obs, err)) < 0)
        return rc;
    const struct zp_node *svcs = zp_node_get(o->p->model, "services");
    size_t nsvcs = svcs ? svcs->n : 0;
    size_t cap = obs.nc + nsvcs + 1;
    items = zp_calloc(cap, sizeof(*items));
    for (size_t i = 0; i < obs.nc; i++) {
        const struct orch_obs_container *c = &obs.c[i];
        if (c->oneoff || !selected(services, nservices, c->service))
            continue;
        struct orch_health_facts f = {
            .state = c->state, .health = c->health, .exit_code = c->exit_code};
        char *reason = NULL;
        enum orch_verdict v = orch_health_verdict(&f, NULL);
        if (!orch_verdict_ok(v)) {
            /* the list does not say why: ask for the details */
            struct engine_container ins = {0};
            struct zp_err e2;
            zp_err_init(&e2);
            if (engine_container_inspect(o->e, c->id, &ins, &e2) < 0) {
                if (e2.code == ZP_E_NOTFOUND)
                    continue; /* removed meanwhile */
                *err = e2;
                rc = e2.code;
                goto out;
            }
            struct orch_health_facts full = inspect_facts(&ins, ins.status);
            v = orch_health_verdict(&full, &reason);
            engine_container_release(&ins);
        }
        struct orch_health_item *it = &items[n++];
        it->service = zp_strdup(c->service);
        it->name = zp_strdup(c->name);
        it->verdict = v;
        it->reason = reason;
    }
    for (size_t i = 0; i < nsvcs; i++) {
        const char *name = svcs->pairs[i].key->str;
        if (!selected(services, nservices, name) || orch__model_replicas(svcs->pairs[i].value) == 0)
            continue;
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            found = strcmp(items[k].service, name) == 0;
        if (found)
            continue;
        struct orch_health_item *it = &items[n++];
        it->service = zp_strdup(name);
        it->verdict = ORCH_VERDICT_MISSING;
        it->reason = zp_strdup("not running: no container");
    }
    cert_items(o, services, nservices, &items, &n, &cap);
    for (size_t i = 0; i < n; i++)
        items[i].excluded = orch_health_excluded(zp_node_get(svcs, items[i].service));
    if (n > 1)
        qsort(items, n, sizeof(*items), cmp_item);
    *ret = items;
    *ret_n = n;
    items = NULL;
    n = 0;
out:
    orch_health_items_free(items, n);
    orch__observed_release(&obs);
    return rc;
}

/* ---- stats ---- */

struct sample {
    char *id;
    struct engine_stats s;
};

struct orch_stats {
    struct orch *o;
    const char *const *services;
    size_t nservices;
    int max_parallel;
    struct orch_wide wide; /* its engines persist across rounds */
    struct sample *prev;   /* the last round's samples */
    size_t nprev;
};

struct stats_job {
    struct orch *o;
    const struct orch_obs_container *c;
    struct engine_stats s;
    bool ok;
    int rc;
    struct zp_err err;
};

static void stats_job_run(struct engine *e, void *ctx, size_t i)
{
    struct stats_job *j = &((struct stats_job *)ctx)[i];
    if (orch__cancelled(j->o)) {
        j->rc = orch__interrupted(&j->err);
    } else if (engine_container_stats(e, j->c->id, true, &j->s, &j->err) == 0) {
        j->ok = true;
    } else if (j->err.code != ZP_E_NOTFOUND && j->err.code != ZP_E_CONFLICT) {
        j->rc = j->err.code; /* not found or conflict: stopped or removed meanwhile */
    }
}

int orch_stats_open(struct orch *o, const char *const *services, size_t nservices, int max_parallel,
                    struct orch_stats **ret, struct zp_err *err)
{
    int rc = check_services(o, services, nservices, err);
    if (rc < 0)
        return rc;
    struct orch_stats *s = zp_calloc(1, sizeof(*s));
    s->o = o;
    s->services = services;
    s->nservices = nservices;
    s->max_parallel = max_parallel;
    s->wide.host = o->host;
    s->wide.like = o->e;
    *ret = s;
    return 0;
}

static void samples_free(struct sample *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i].id);
    free(s);
}

void orch_stats_close(struct orch_stats *s)
{
    if (s == NULL)
        return;
    orch__wide_release(&s->wide);
    samples_free(s->prev, s->nprev);
    free(s);
}

void orch_stats_rows_free(struct orch_stats_row *rows, size_t n)
{
    if (rows == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(rows[i].id);
        free(rows[i].name);
        free(rows[i].service);
    }
    free(rows);
}

int orch_stats_round(struct orch_stats *s, struct orch_stats_row **ret, size_t *ret_n,
                     struct zp_err *err)
{
    struct orch *o = s->o;
    struct orch_observed obs = {0};
    struct stats_job *jobs = NULL;
    struct orch_stats_row *rows = NULL;
    struct sample *cur = NULL;
    size_t njobs = 0, n = 0, ncur = 0;
    if (orch__cancelled(o))
        return orch__interrupted(err);
    int rc = orch__observe(o->e, o->p->name, &obs, err);
    if (rc < 0)
        return rc;
    jobs = zp_calloc(obs.nc ? obs.nc : 1, sizeof(*jobs));
    for (size_t i = 0; i < obs.nc; i++) {
        const struct orch_obs_container *c = &obs.c[i];
        if (c->oneoff || !selected(s->services, s->nservices, c->service) ||
            (strcmp(c->state, "running") != 0 && strcmp(c->state, "paused") != 0))
            continue;
        struct stats_job *j = &jobs[njobs++];
        j->o = o;
        j->c = c;
        zp_err_init(&j->err);
    }
    if ((rc = orch__wide_exec(&s->wide, njobs, wide_limit(s->max_parallel), stats_job_run, jobs,
                              err)) < 0)
        goto out;
    rows = zp_calloc(njobs + 1, sizeof(*rows));
    cur = zp_calloc(njobs + 1, sizeof(*cur));
    for (size_t i = 0; i < njobs; i++) {
        struct stats_job *j = &jobs[i];
        if (j->rc < 0) {
            *err = j->err;
            rc = j->rc;
            goto out;
        }
        if (!j->ok)
            continue;
        const struct engine_stats *prev = NULL;
        for (size_t k = 0; k < s->nprev && prev == NULL; k++)
            if (strcmp(s->prev[k].id, j->c->id) == 0)
                prev = &s->prev[k].s;
        struct orch_stats_row *r = &rows[n++];
        r->id = zp_strdup(j->c->id);
        r->name = zp_strdup(j->c->name);
        r->service = zp_strdup(j->c->service);
        /* a one-shot sample has no precpu: without a previous round there is no CPU % */
        orch_stats_compute(prev, &j->s, &r->u);
        cur[ncur].id = zp_strdup(j->c->id);
        cur[ncur++].s = j->s;
    }
    samples_free(s->prev, s->nprev);
    s->prev = cur;
    s->nprev = ncur;
    cur = NULL;
    ncur = 0;
    *ret = rows;
    *ret_n = n;
    rows = NULL;
    n = 0;
out:
    samples_free(cur, ncur);
    orch_stats_rows_free(rows, n);
    free(jobs);
    orch__observed_release(&obs);
    return rc;
}

/* Unit tests for store/panel (zpanel.db): users, tokens (scope, expiry), projects, the job
 * queue (one running job per project, cancel, requeue after a crash), audit, and refusing
 * databases that are not ours or newer. */
#define _GNU_SOURCE
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/panel.h"

struct fixture {
    char dir[64];
    struct store_panel *p;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/zp-panel-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    struct zp_err err;
    zp_err_init(&err);
    if (store_panel_open(f->dir, &f->p, &err) != 0)
        return -1;
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_panel_close(f->p);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void test_users_tokens(void **state)
{
    struct fixture *f = *state;
    struct zp_err err;
    zp_err_init(&err);
    int64_t uid, uid2;
    assert_int_equal(
        store_panel_user_add(f->p, "alice", STORE_ROLE_MEMBER, "$argon2id$x", &uid, &err), 0);
    zp_err_init(&err);
    assert_int_equal(store_panel_user_add(f->p, "alice", STORE_ROLE_ADMIN, "h", NULL, &err),
                     ZP_E_CONFLICT);
    assert_non_null(strstr(err.msg, "exists"));
    enum store_role role;
    zp_err_init(&err);
    assert_int_equal(store_panel_user_get(f->p, "alice", &uid2, &role, &err), 0);
    assert_int_equal(uid2, uid);
    assert_int_equal(role, STORE_ROLE_MEMBER);
    zp_err_init(&err);
    assert_int_equal(store_panel_user_get(f->p, "bob", &uid2, &role, &err), ZP_E_NOTFOUND);

    zp_err_init(&err);
    assert_int_equal(store_panel_token_add(f->p, uid, "aaaa", STORE_SCOPE_DEPLOY, 0, NULL, &err),
                     0);
    assert_int_equal(store_panel_token_add(f->p, uid, "bbbb", STORE_SCOPE_READ, 1000, NULL, &err),
                     0);
    struct store_token_info t;
    assert_int_equal(store_panel_token_find(f->p, "aaaa", 5000, &t, &err), 0);
    assert_string_equal(t.user, "alice");
    assert_int_equal(t.scope, STORE_SCOPE_DEPLOY);
    assert_int_equal(t.role, STORE_ROLE_MEMBER);
    store_token_info_release(&t);
    assert_int_equal(store_panel_token_find(f->p, "bbbb", 999, &t, &err), 0);
    store_token_info_release(&t);
    /* expired */
    zp_err_init(&err);
    assert_int_equal(store_panel_token_find(f->p, "bbbb", 1000, &t, &err), ZP_E_NOTFOUND);
    zp_err_init(&err);
    assert_int_equal(store_panel_token_find(f->p, "cccc", 0, &t, &err), ZP_E_NOTFOUND);

    assert_int_equal(store_scope_parse("write"), STORE_SCOPE_WRITE);
    assert_int_equal(store_scope_parse("none"), -1);
    assert_int_equal(store_role_parse("root"), -1);
}

static void add_job(struct store_panel *p, const char *project, const char *kind, int64_t *ret)
{
    struct store_job j;
    memset(&j, 0, sizeof(j));
    j.project = (char *)project;
    j.kind = (char *)kind;
    j.args_json = (char *)"{}";
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(store_panel_job_add(p, &j, &err), 0);
    assert_int_equal(j.status, STORE_JOB_QUEUED);
    *ret = j.id;
}

static void test_jobs(void **state)
{
    struct fixture *f = *state;
    struct zp_err err;
    zp_err_init(&err);
    int64_t a1, a2, b1, c1;
    add_job(f->p, "a", "deploy", &a1);
    add_job(f->p, "a", "stop", &a2);
    add_job(f->p, "b", "deploy", &b1);
    add_job(f->p, "c", "deploy", &c1);
    struct store_job j;
    /* oldest first; a's second job waits while a's first runs */
    assert_int_equal(store_panel_job_claim(f->p, 10, &j, &err), 0);
    assert_int_equal(j.id, a1);
    assert_int_equal(j.status, STORE_JOB_RUNNING);
    assert_int_equal(j.attempts, 1);
    store_job_release(&j);
    assert_int_equal(store_panel_job_claim(f->p, 11, &j, &err), 0);
    assert_int_equal(j.id, b1);
    store_job_release(&j);
    /* cancel a queued job; a running one is not cancelled here */
    assert_int_equal(store_panel_job_cancel_queued(f->p, c1, 12, &err), 0);
    zp_err_init(&err);
    assert_int_equal(store_panel_job_cancel_queued(f->p, a1, 12, &err), ZP_E_CONFLICT);
    assert_non_null(strstr(err.msg, "running"));
    zp_err_init(&err);
    assert_int_equal(store_panel_job_cancel_queued(f->p, 999, 12, &err), ZP_E_NOTFOUND);
    zp_err_init(&err);
    assert_int_equal(store_panel_job_claim(f->p, 13, &j, &err), ZP_E_NOTFOUND);
    /* a crash: running jobs are queued again, in their place */
    int64_t *ids;
    size_t n;
    zp_err_init(&err);
    assert_int_equal(store_panel_job_requeue_running(f->p, &ids, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], a1);
    assert_int_equal(ids[1], b1);
    free(ids);
    assert_int_equal(store_panel_job_claim(f->p, 14, &j, &err), 0);
    assert_int_equal(j.id, a1);
    assert_int_equal(j.attempts, 2);
    store_job_release(&j);
    assert_int_equal(store_panel_job_finish(f->p, a1, STORE_JOB_SUCCEEDED, NULL, 20, &err), 0);
    /* now a's next job may run (older than b's) */
    assert_int_equal(store_panel_job_claim(f->p, 21, &j, &err), 0);
    assert_int_equal(j.id, a2);
    store_job_release(&j);
    assert_int_equal(store_panel_job_claim(f->p, 22, &j, &err), 0);
    assert_int_equal(j.id, b1);
    store_job_release(&j);
    assert_int_equal(store_panel_job_get(f->p, a1, &j, &err), 0);
    assert_int_equal(j.status, STORE_JOB_SUCCEEDED);
    assert_int_equal(j.finished, 20);
    store_job_release(&j);
    struct store_job *list;
    assert_int_equal(store_panel_job_list(f->p, "a", -1, 0, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, a2); /* newest first */
    store_jobs_free(list, n);
    assert_int_equal(store_panel_job_list(f->p, NULL, STORE_JOB_CANCELLED, 0, &list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, c1);
    store_jobs_free(list, n);
    struct store_job_count *c;
    assert_int_equal(store_panel_job_counts(f->p, &c, &n, &err), 0);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += c[i].count;
    assert_int_equal(total, 4);
    store_job_counts_free(c, n);
}

static void test_projects_audit(void **state)
{
    struct fixture *f = *state;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(store_panel_project_add(f->p, "web", "{\"A\":\"1\"}", &err), 0);
    assert_int_equal(store_panel_project_add(f->p, "api", NULL, &err), 0);
    zp_err_init(&err);
    assert_int_equal(store_panel_project_add(f->p, "web", NULL, &err), ZP_E_CONFLICT);
    zp_err_init(&err);
    assert_int_equal(store_panel_project_update(f->p, "web", "{}", &err), 0);
    struct store_panel_project p;
    assert_int_equal(store_panel_project_get(f->p, "web", &p, &err), 0);
    assert_string_equal(p.env_json, "{}");
    store_panel_project_release(&p);
    struct store_panel_project *ps;
    size_t n;
    assert_int_equal(store_panel_project_list(f->p, &ps, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ps[0].name, "api");
    store_panel_projects_free(ps, n);
    assert_int_equal(store_panel_project_delete(f->p, "api", &err), 0);
    zp_err_init(&err);
    assert_int_equal(store_panel_project_delete(f->p, "api", &err), ZP_E_NOTFOUND);
    zp_err_init(&err);
    assert_int_equal(store_panel_audit_add(f->p, 1, "alice", "POST", "/x", 201, "127.0.0.1", &err),
                     0);
    int64_t count;
    assert_int_equal(store_panel_audit_count(f->p, &count, &err), 0);
    assert_int_equal(count, 1);
}

static void test_refuses_foreign_and_newer(void **state)
{
    struct fixture *f = *state;
    char path[128];
    /* a file of another program */
    char other[96];
    snprintf(other, sizeof(other), "%s/other", f->dir);
    mkdir(other, 0700);
    snprintf(path, sizeof(path), "%s/zpanel.db", other);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "CREATE TABLE t (x); PRAGMA user_version = 3;", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    struct store_panel *p = NULL;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(store_panel_open(other, &p, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, path));
    /* a newer zpanel's */
    store_panel_close(f->p);
    f->p = NULL;
    snprintf(path, sizeof(path), "%s/zpanel.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    zp_err_init(&err);
    assert_int_equal(store_panel_open(f->dir, &p, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "newer"));
    assert_non_null(strstr(err.msg, path));
}

static void test_channels(void **state)
{
    struct fixture *f = *state;
    struct zp_err err;
    zp_err_init(&err);
    char webhook[] = "webhook", email[] = "email", url1[] = "http://127.0.0.1:1/",
         url2[] = "smtp://127.0.0.1:25", sealed[] = "sealed", deploy[] = "deploy", app[] = "app",
         from[] = "a@b.test", to[] = "c@d.test";
    struct store_channel a = {.kind = webhook, .url = url1, .secret = sealed, .events = deploy};
    struct store_channel b = {.kind = email,
                              .url = url2,
                              .project = app,
                              .mail_from = from,
                              .mail_to = to,
                              .failures_only = true};
    assert_int_equal(store_panel_channel_add(f->p, &a, &err), 0);
    assert_int_equal(store_panel_channel_add(f->p, &b, &err), 0);
    assert_true(b.id > a.id && a.created > 0);
    struct store_channel *v = NULL;
    size_t n = 0;
    assert_int_equal(store_panel_channel_list(f->p, &v, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].secret, "sealed");
    assert_null(v[0].project);
    assert_string_equal(v[1].project, "app");
    assert_string_equal(v[1].mail_to, "c@d.test");
    assert_true(v[1].failures_only && !v[0].failures_only);
    store_channels_free(v, n);
    assert_int_equal(store_panel_channel_delete(f->p, a.id, &err), 0);
    assert_int_equal(store_panel_channel_delete(f->p, a.id, &err), ZP_E_NOTFOUND);
}

/* schedules: add, list by project, advance only from the expected next_run, delete; a
 * database of schema 1 (before channels and schedules) migrates with its data kept */
static void test_schedules(void **state)
{
    struct fixture *f = *state;
    struct zp_err err;
    zp_err_init(&err);
    char proj_a[] = "a", proj_b[] = "b", cron[] = "0 3 * * *", hook[] = "http://127.0.0.1:1/x";
    struct store_schedule s = {.project = proj_a,
                               .cron = cron,
                               .keep_last = 3,
                               .keep_weekly = 2,
                               .webhook = hook,
                               .notify_success = true,
                               .next_run = 1000};
    assert_int_equal(store_panel_schedule_add(f->p, &s, &err), 0);
    assert_true(s.id > 0);
    struct store_schedule t = {.project = proj_b, .cron = cron, .next_run = 2000};
    assert_int_equal(store_panel_schedule_add(f->p, &t, &err), 0);
    struct store_schedule *v = NULL;
    size_t n = 0;
    assert_int_equal(store_panel_schedule_list(f->p, "a", &v, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].cron, "0 3 * * *");
    assert_int_equal(v[0].keep_last, 3);
    assert_int_equal(v[0].keep_daily, 0);
    assert_int_equal(v[0].keep_weekly, 2);
    assert_string_equal(v[0].webhook, hook);
    assert_true(v[0].notify_success);
    assert_int_equal(v[0].last_job, 0);
    store_schedules_free(v, n);
    assert_int_equal(store_panel_schedule_list(f->p, NULL, &v, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_null(v[1].webhook);
    store_schedules_free(v, n);
    bool taken = false;
    assert_int_equal(store_panel_schedule_advance(f->p, s.id, 1000, 5000, 7, &taken, &err), 0);
    assert_true(taken);
    /* a second scheduler with the old next_run does not take it again */
    assert_int_equal(store_panel_schedule_advance(f->p, s.id, 1000, 6000, 8, &taken, &err), 0);
    assert_false(taken);
    struct store_schedule g;
    assert_int_equal(store_panel_schedule_get(f->p, s.id, &g, &err), 0);
    assert_int_equal(g.next_run, 5000);
    assert_int_equal(g.last_job, 7);
    store_schedule_release(&g);
    assert_int_equal(store_panel_schedule_delete(f->p, "b", s.id, &err), ZP_E_NOTFOUND);
    zp_err_init(&err);
    assert_int_equal(store_panel_schedule_delete(f->p, "a", s.id, &err), 0);
    assert_int_equal(store_panel_schedule_get(f->p, s.id, &g, &err), ZP_E_NOTFOUND);
    zp_err_init(&err);
    assert_int_equal(store_panel_schedule_delete_project(f->p, "b", &err), 0);
    assert_int_equal(store_panel_schedule_list(f->p, NULL, &v, &n, &err), 0);
    assert_int_equal(n, 0);
    store_schedules_free(v, n);

    /* schema 1: no schedules table; opening migrates and keeps the rest */
    store_panel_close(f->p);
    f->p = NULL;
    char path[128];
    snprintf(path, sizeof(path), "%s/zpanel.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "DROP TABLE schedules; DROP TABLE channels; DROP TABLE destinations; "
                     "PRAGMA user_version = 1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    zp_err_init(&err);
    assert_int_equal(store_panel_open(f->dir, &f->p, &err), 0);
    assert_int_equal(store_panel_schedule_list(f->p, NULL, &v, &n, &err), 0);
    assert_int_equal(n, 0);
    store_schedules_free(v, n);
    assert_int_equal(store_panel_schedule_add(f->p, &t, &err), 0);
}

static void test_destinations(void **state)
{
    struct fixture *f = *state;
    struct zp_err err;
    zp_err_init(&err);
    char name[] = "b2", ep[] = "https://s3.us-west-004.backblazeb2.com", region[] = "us-west-004",
         bucket[] = "zp", prefix[] = "", ak[] = "key-id", sk[] = "zpenc:v1:sealed";
    struct store_destination d = {.name = name,
                                  .endpoint = ep,
                                  .region = region,
                                  .bucket = bucket,
                                  .prefix = prefix,
                                  .access_key = ak,
                                  .secret_key = sk};
    assert_int_equal(store_panel_destination_add(f->p, &d, &err), 0);
    assert_true(d.created > 0);
    assert_int_equal(store_panel_destination_add(f->p, &d, &err), ZP_E_CONFLICT);
    zp_err_init(&err);
    char name2[] = "a-minio";
    d.name = name2;
    d.path_style = true;
    assert_int_equal(store_panel_destination_add(f->p, &d, &err), 0);
    struct store_destination *v = NULL;
    size_t n = 0;
    assert_int_equal(store_panel_destination_list(f->p, &v, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "a-minio"); /* by name */
    assert_true(v[0].path_style);
    assert_string_equal(v[1].name, "b2");
    assert_false(v[1].path_style);
    assert_string_equal(v[1].endpoint, ep);
    assert_string_equal(v[1].region, region);
    assert_string_equal(v[1].prefix, "");
    assert_string_equal(v[1].secret_key, sk);
    store_destinations_free(v, n);
    struct store_destination g;
    assert_int_equal(store_panel_destination_get(f->p, "b2", &g, &err), 0);
    assert_string_equal(g.access_key, ak);
    store_destination_release(&g);
    assert_int_equal(store_panel_destination_get(f->p, "zz", &g, &err), ZP_E_NOTFOUND);
    zp_err_init(&err);
    /* one a schedule uses stays until the schedule goes */
    char proj[] = "p", cron[] = "@daily";
    struct store_schedule s = {.project = proj, .cron = cron, .next_run = 1, .destination = name};
    assert_int_equal(store_panel_schedule_add(f->p, &s, &err), 0);
    assert_int_equal(store_panel_destination_delete(f->p, "b2", &err), ZP_E_CONFLICT);
    zp_err_init(&err);
    assert_int_equal(store_panel_schedule_delete(f->p, "p", s.id, &err), 0);
    assert_int_equal(store_panel_destination_delete(f->p, "b2", &err), 0);
    assert_int_equal(store_panel_destination_delete(f->p, "b2", &err), ZP_E_NOTFOUND);
    zp_err_init(&err);
    assert_int_equal(store_panel_destination_list(f->p, &v, &n, &err), 0);
    assert_int_equal(n, 1);
    store_destinations_free(v, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_users_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_projects_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_foreign_and_newer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schedules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destinations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* store/panel: the control plane's database (users, tokens, projects, jobs, audit) in
 * <state>/zpanel.db: WAL, busy timeout, numbered migrations, bound parameters only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "panel.h"
#include "store-int.h"

#include "../util/banned.h"

/* PRAGMA application_id of zpanel.db ("ZPpn"), distinct from the project databases'. */
#define APPLICATION_ID 1515221102

struct store_panel {
    struct store_db d;
};

static const char *const migrations[] = {
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL CHECK (role IN ('viewer', 'member', 'admin')),"
    "  pwhash TEXT NOT NULL,"
    "  created INTEGER NOT NULL"
    ");"
    "CREATE TABLE tokens ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    "  hash TEXT NOT NULL UNIQUE,"
    "  scope TEXT NOT NULL CHECK (scope IN ('read', 'deploy', 'write', 'admin')),"
    "  created INTEGER NOT NULL,"
    "  expires INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE TABLE projects ("
    "  name TEXT PRIMARY KEY,"
    "  env_json TEXT NOT NULL DEFAULT '{}',"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE jobs ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  project TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  args_json TEXT NOT NULL DEFAULT '{}',"
    "  user TEXT,"
    "  status TEXT NOT NULL"
    "    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),"
    "  created INTEGER NOT NULL,"
    "  started INTEGER NOT NULL DEFAULT 0,"
    "  finished INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT"
    ");"
    "CREATE INDEX jobs_by_status ON jobs (status, id);"
    "CREATE INDEX jobs_by_project ON jobs (project, id);"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time INTEGER NOT NULL,"
    "  user TEXT,"
    "  method TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  remote TEXT"
    ");"
    "PRAGMA application_id = 1515221102;"
    "PRAGMA user_version = 1;",
    /* 2: where the results of jobs are sent (webhooks, email) */
    "CREATE TABLE channels ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  project TEXT,"
    "  kind TEXT NOT NULL CHECK (kind IN ('webhook', 'email')),"
    "  url TEXT NOT NULL,"
    "  secret TEXT,"
    "  user TEXT,"
    "  mail_from TEXT,"
    "  mail_to TEXT,"
    "  events TEXT,"
    "  failures_only INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL"
    ");"
    "PRAGMA user_version = 2;",
    /* 3: backup schedules */
    "CREATE TABLE schedules ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  project TEXT NOT NULL,"
    "  cron TEXT NOT NULL,"
    "  keep_last INTEGER NOT NULL DEFAULT 0,"
    "  keep_daily INTEGER NOT NULL DEFAULT 0,"
    "  keep_weekly INTEGER NOT NULL DEFAULT 0,"
    "  webhook TEXT,"
    "  notify_success INTEGER NOT NULL DEFAULT 0,"
    "  next_run INTEGER NOT NULL,"
    "  last_job INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL"
    ");"
    "CREATE INDEX schedules_by_project ON schedules (project, id);"
    "PRAGMA user_version = 3;",
    /* 4: stored S3 destinations (the secret key sealed by the caller); a schedule's
     * destination and its retention by size */
    "CREATE TABLE destinations ("
    "  name TEXT PRIMARY KEY,"
    "  endpoint TEXT NOT NULL,"
    "  region TEXT NOT NULL,"
    "  bucket TEXT NOT NULL,"
    "  prefix TEXT NOT NULL DEFAULT '',"
    "  path_style INTEGER NOT NULL DEFAULT 0,"
    "  access_key TEXT NOT NULL,"
    "  secret_key TEXT NOT NULL,"
    "  created INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "ALTER TABLE schedules ADD COLUMN destination TEXT;"
    "ALTER TABLE schedules ADD COLUMN keep_bytes INTEGER NOT NULL DEFAULT 0;"
    "PRAGMA user_version = 4;",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_PANEL_SCHEMA_VERSION,
               "one migration per schema version");

static const struct store_schema schema = {
    .kind = "zpanel control-plane database",
    .application_id = APPLICATION_ID,
    .migrations = migrations,
    .nmigrations = sizeof(migrations) / sizeof(migrations[0]),
};

static const char *const role_names[] = {"viewer", "member", "admin"};
static const char *const scope_names[] = {"none", "read", "deploy", "write", "admin"};
static const char *const job_status_names[] = {"queued", "running", "succeeded", "failed",
                                               "cancelled"};

const char *store_role_name(enum store_role r)
{
    if ((unsigned)r > STORE_ROLE_ADMIN)
        ZP_BUG("role %d", (int)r);
    return role_names[r];
}

int store_role_parse(const char *s)
{
    for (int i = 0; i <= STORE_ROLE_ADMIN; i++)
        if (s && strcmp(s, role_names[i]) == 0)
            return i;
    return -1;
}

const char *store_scope_name(enum store_scope s)
{
    if ((unsigned)s > STORE_SCOPE_ADMIN)
        ZP_BUG("scope %d", (int)s);
    return scope_names[s];
}

int store_scope_parse(const char *s)
{
    for (int i = STORE_SCOPE_READ; i <= STORE_SCOPE_ADMIN; i++)
        if (s && strcmp(s, scope_names[i]) == 0)
            return i;
    return -1;
}

const char *store_job_status_name(enum store_job_status s)
{
    if ((unsigned)s >= STORE_JOB_NSTATUS)
        ZP_BUG("job status %d", (int)s);
    return job_status_names[s];
}

int store_job_status_parse(const char *s)
{
    for (int i = 0; i < STORE_JOB_NSTATUS; i++)
        if (s && strcmp(s, job_status_names[i]) == 0)
            return i;
    return -1;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- opening ---- */

char *store_panel_path(const char *state_dir)
{
    return zp_path_join(state_dir, "zpanel.db");
}

int store_panel_open(const char *state_dir, struct store_panel **ret, struct zp_err *err)
{
    if (!state_dir || !*state_dir)
        return zp_err_set(err, ZP_E_INPUT, NULL, "empty state directory");
    struct store_panel *p = zp_calloc(1, sizeof(*p));
    p->d.path = store_panel_path(state_dir);
    int rc = zp_mkdir_p(state_dir, 0700, err);
    if (rc)
        goto fail;
    if ((rc = store__db_file(p->d.path, err)) != 0) {
        if (rc == ZP_E_NOTFOUND)
            rc = err->code = ZP_E_SYSTEM;
        goto fail;
    }
    if ((rc = store__open_rw(&p->d, &schema, "PRAGMA foreign_keys = ON; PRAGMA cache_size = -512",
                             err)) != 0)
        goto fail;
    *ret = p;
    return 0;
fail:
    store_panel_close(p);
    return rc;
}

void store_panel_close(struct store_panel *p)
{
    if (!p)
        return;
    store__db_close(&p->d);
    free(p);
}

/* ---- users and tokens ---- */

int store_panel_user_add(struct store_panel *p, const char *name, enum store_role role,
                         const char *pwhash, int64_t *ret_id, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d,
                            "INSERT INTO users (name, role, pwhash, created) "
                            "VALUES (?, ?, ?, CAST(strftime('%s', 'now') AS INTEGER))",
                            "adding a user", &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, name);
    store__bind_str(st, 2, store_role_name(role));
    store__bind_str(st, 3, pwhash);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return zp_err_set(err, ZP_E_CONFLICT, NULL, "user '%s' exists already", name);
    if (rc != SQLITE_DONE)
        return store__db_error(&p->d, rc, "adding a user", err);
    if (ret_id)
        *ret_id = sqlite3_last_insert_rowid(p->d.db);
    return 0;
}

int store_panel_user_get(struct store_panel *p, const char *name, int64_t *ret_id,
                         enum store_role *ret_role, struct zp_err *err)
{
    return store_panel_user_pwhash(p, name, ret_id, ret_role, NULL, err);
}

int store_panel_user_pwhash(struct store_panel *p, const char *name, int64_t *ret_id,
                            enum store_role *ret_role, char **ret_pwhash, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d, "SELECT id, role, pwhash FROM users WHERE name = ?",
                            "reading a user", &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, name);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *ret_id = sqlite3_column_int64(st, 0);
        int r = store_role_parse((const char *)sqlite3_column_text(st, 1));
        *ret_role = r < 0 ? STORE_ROLE_VIEWER : (enum store_role)r;
        if (ret_pwhash != NULL)
            *ret_pwhash = zp_strdup((const char *)sqlite3_column_text(st, 2));
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such user '%s'", name);
    } else {
        rc = store__db_error(&p->d, rc, "reading a user", err);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_panel_token_delete(struct store_panel *p, const char *hash_hex, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc =
        store__prepare(&p->d, "DELETE FROM tokens WHERE hash = ?", "removing a token", &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, hash_hex);
    return store__step_done(&p->d, st, "removing a token", err);
}

int store_panel_token_add(struct store_panel *p, int64_t user_id, const char *hash_hex,
                          enum store_scope scope, int64_t expires, int64_t *ret_id,
                          struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d,
                            "INSERT INTO tokens (user_id, hash, scope, created, expires) "
                            "VALUES (?, ?, ?, CAST(strftime('%s', 'now') AS INTEGER), ?)",
                            "adding a token", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, user_id);
    store__bind_str(st, 2, hash_hex);
    store__bind_str(st, 3, store_scope_name(scope));
    sqlite3_bind_int64(st, 4, expires);
    if ((rc = store__step_done(&p->d, st, "adding a token", err)) != 0)
        return rc;
    if (ret_id)
        *ret_id = sqlite3_last_insert_rowid(p->d.db);
    return 0;
}

int store_panel_token_find(struct store_panel *p, const char *hash_hex, int64_t now,
                           struct store_token_info *ret, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d,
                            "SELECT t.id, u.name, u.role, t.scope, t.expires FROM tokens t "
                            "JOIN users u ON u.id = t.user_id "
                            "WHERE t.hash = ? AND (t.expires = 0 OR t.expires > ?)",
                            "reading a token", &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, hash_hex);
    sqlite3_bind_int64(st, 2, now);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int role = store_role_parse((const char *)sqlite3_column_text(st, 2));
        int scope = store_scope_parse((const char *)sqlite3_column_text(st, 3));
        ret->id = sqlite3_column_int64(st, 0);
        ret->user = store__col_str(st, 1);
        ret->role = role < 0 ? STORE_ROLE_VIEWER : (enum store_role)role;
        ret->scope = scope < 0 ? STORE_SCOPE_READ : (enum store_scope)scope;
        ret->expires = sqlite3_column_int64(st, 4);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "unknown or expired token");
    } else {
        rc = store__db_error(&p->d, rc, "reading a token", err);
    }
    sqlite3_finalize(st);
    return rc;
}

void store_token_info_release(struct store_token_info *t)
{
    if (!t)
        return;
    free(t->user);
    memset(t, 0, sizeof(*t));
}

/* ---- projects ---- */

int store_panel_project_add(struct store_panel *p, const char *name, const char *env_json,
                            struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d,
                            "INSERT INTO projects (name, env_json, created, updated) VALUES "
                            "(?, ?, CAST(strftime('%s', 'now') AS INTEGER), "
                            "CAST(strftime('%s', 'now') AS INTEGER))",
                            "adding a project", &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, name);
    store__bind_str(st, 2, env_json ? env_json : "{}");
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return zp_err_set(err, ZP_E_CONFLICT, NULL, "project '%s' exists already", name);
    return rc == SQLITE_DONE ? 0 : store__db_error(&p->d, rc, "adding a project", err);
}

int store_panel_project_update(struct store_panel *p, const char *name, const char *env_json,
                               struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d,
                            "UPDATE projects SET env_json = coalesce(?, env_json), "
                            "updated = CAST(strftime('%s', 'now') AS INTEGER) WHERE name = ?",
                            "updating a project", &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, env_json);
    store__bind_str(st, 2, name);
    if ((rc = store__step_done(&p->d, st, "updating a project", err)) != 0)
        return rc;
    if (sqlite3_changes(p->d.db) == 0)
        return zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such project '%s'", name);
    return 0;
}

static void project_row(sqlite3_stmt *st, void *elem)
{
    struct store_panel_project *pr = elem;
    pr->name = store__col_str(st, 0);
    pr->env_json = store__col_str(st, 1);
    pr->created = sqlite3_column_int64(st, 2);
    pr->updated = sqlite3_column_int64(st, 3);
}

static void project_release(void *elem)
{
    store_panel_project_release(elem);
}

static const struct store_rows project_rows = {sizeof(struct store_panel_project), project_row,
                                               project_release};

int store_panel_project_get(struct store_panel *p, const char *name,
                            struct store_panel_project *ret, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d,
                            "SELECT name, env_json, created, updated FROM projects WHERE name = ?",
                            "reading a project", &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, name);
    bool found;
    if ((rc = store__read_row(&p->d, st, &project_rows, ret, "reading a project", &found, err)) !=
        0)
        return rc;
    return found ? 0 : zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such project '%s'", name);
}

int store_panel_project_list(struct store_panel *p, struct store_panel_project **ret, size_t *ret_n,
                             struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc =
        store__prepare(&p->d, "SELECT name, env_json, created, updated FROM projects ORDER BY name",
                       "listing projects", &st, err);
    if (rc)
        return rc;
    void *v;
    if ((rc = store__read_rows(&p->d, st, &project_rows, "listing projects", &v, ret_n, err)) == 0)
        *ret = v;
    return rc;
}

int store_panel_project_delete(struct store_panel *p, const char *name, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d, "DELETE FROM projects WHERE name = ?", "removing a project", &st,
                            err);
    if (rc)
        return rc;
    store__bind_str(st, 1, name);
    if ((rc = store__step_done(&p->d, st, "removing a project", err)) != 0)
        return rc;
    if (sqlite3_changes(p->d.db) == 0)
        return zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such project '%s'", name);
    return 0;
}

void store_panel_project_release(struct store_panel_project *pr)
{
    if (!pr)
        return;
    free(pr->name);
    free(pr->env_json);
    memset(pr, 0, sizeof(*pr));
}

void store_panel_projects_free(struct store_panel_project *pr, size_t n)
{
    store__free_rows(pr, n, &project_rows);
}

/* ---- jobs ---- */

#define JOB_COLS                                                                                   \
    "id, project, kind, args_json, user, status, created, started, finished, attempts, error"

static void job_row(sqlite3_stmt *st, void *elem)
{
    struct store_job *j = elem;
    j->id = sqlite3_column_int64(st, 0);
    j->project = store__col_str(st, 1);
    j->kind = store__col_str(st, 2);
    j->args_json = store__col_str(st, 3);
    j->user = store__col_str(st, 4);
    int s = store_job_status_parse((const char *)sqlite3_column_text(st, 5));
    j->status = s < 0 ? STORE_JOB_FAILED : (enum store_job_status)s;
    j->created = sqlite3_column_int64(st, 6);
    j->started = sqlite3_column_int64(st, 7);
    j->finished = sqlite3_column_int64(st, 8);
    j->attempts = sqlite3_column_int64(st, 9);
    j->error = store__col_str(st, 10);
}

static void job_release(void *elem)
{
    store_job_release(elem);
}

static const struct store_rows job_rows = {sizeof(struct store_job), job_row, job_release};

int store_panel_job_add(struct store_panel *p, struct store_job *j, struct zp_err *err)
{
    sqlite3_stmt *st;
    int64_t now = wall_ms();
    int rc = store__prepare(&p->d,
                            "INSERT INTO jobs (project, kind, args_json, user, status, created) "
                            "VALUES (?, ?, ?, ?, 'queued', ?)",
                            "queueing a job", &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, j->project);
    store__bind_str(st, 2, j->kind);
    store__bind_str(st, 3, j->args_json);
    store__bind_str(st, 4, j->user);
    sqlite3_bind_int64(st, 5, now);
    if ((rc = store__step_done(&p->d, st, "queueing a job", err)) != 0)
        return rc;
    j->id = sqlite3_last_insert_rowid(p->d.db);
    j->created = now;
    j->status = STORE_JOB_QUEUED;
    return 0;
}

int store_panel_job_get(struct store_panel *p, int64_t id, struct store_job *ret,
                        struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d, "SELECT " JOB_COLS " FROM jobs WHERE id = ?", "reading a job",
                            &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    bool found;
    if ((rc = store__read_row(&p->d, st, &job_rows, ret, "reading a job", &found, err)) != 0)
        return rc;
    return found ? 0 : zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such job %lld", (long long)id);
}

int store_panel_job_list(struct store_panel *p, const char *project, int status, size_t limit,
                         struct store_job **ret, size_t *ret_n, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d,
                            "SELECT " JOB_COLS " FROM jobs WHERE (?1 IS NULL OR project = ?1) "
                            "AND (?2 IS NULL OR status = ?2) ORDER BY id DESC LIMIT ?3",
                            "listing jobs", &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, project);
    store__bind_str(st, 2,
                    status >= 0 ? store_job_status_name((enum store_job_status)status) : NULL);
    sqlite3_bind_int64(st, 3, limit ? (int64_t)limit : 1000);
    void *v;
    if ((rc = store__read_rows(&p->d, st, &job_rows, "listing jobs", &v, ret_n, err)) == 0)
        *ret = v;
    return rc;
}

int store_panel_job_claim(struct store_panel *p, int64_t now_ms, struct store_job *ret,
                          struct zp_err *err)
{
    int rc = store__exec(&p->d, "BEGIN IMMEDIATE", "claiming a job", err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    rc = store__prepare(&p->d,
                        "SELECT " JOB_COLS " FROM jobs WHERE status = 'queued' AND project NOT IN "
                        "(SELECT project FROM jobs WHERE status = 'running') ORDER BY id LIMIT 1",
                        "claiming a job", &st, err);
    if (rc)
        goto fail;
    struct store_job j;
    memset(&j, 0, sizeof(j));
    bool found;
    if ((rc = store__read_row(&p->d, st, &job_rows, &j, "claiming a job", &found, err)) != 0)
        goto fail;
    if (!found) {
        store__rollback(&p->d);
        return zp_err_set(err, ZP_E_NOTFOUND, NULL, "no job to run");
    }
    /* now_ms was read before the write lock was ours: the project's previous job may have
     * finished after it; a job never starts before the one before it finished */
    int64_t started = now_ms;
    rc = store__prepare(&p->d, "SELECT coalesce(max(finished), 0) FROM jobs WHERE project = ?",
                        "claiming a job", &st, err);
    if (rc == 0) {
        store__bind_str(st, 1, j.project);
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW && sqlite3_column_int64(st, 0) > started)
            started = sqlite3_column_int64(st, 0);
        else if (src != SQLITE_ROW)
            rc = store__db_error(&p->d, src, "claiming a job", err);
        sqlite3_finalize(st);
    }
    if (rc == 0)
        rc = store__prepare(&p->d,
                            "UPDATE jobs SET status = 'running', started = ?, "
                            "attempts = attempts + 1 WHERE id = ?",
                            "claiming a job", &st, err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, started);
        sqlite3_bind_int64(st, 2, j.id);
        rc = store__step_done(&p->d, st, "claiming a job", err);
    }
    if (rc == 0)
        rc = store__exec(&p->d, "COMMIT", "claiming a job", err);
    if (rc) {
        store_job_release(&j);
        goto fail;
    }
    j.status = STORE_JOB_RUNNING;
    j.started = started;
    j.attempts++;
    *ret = j;
    return 0;
fail:
    store__rollback(&p->d);
    return rc;
}

int store_panel_job_finish(struct store_panel *p, int64_t id, enum store_job_status status,
                           const char *error, int64_t now_ms, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc =
        store__prepare(&p->d, "UPDATE jobs SET status = ?, error = ?, finished = ? WHERE id = ?",
                       "finishing a job", &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, store_job_status_name(status));
    store__bind_str(st, 2, error);
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_int64(st, 4, id);
    return store__step_done(&p->d, st, "finishing a job", err);
}

int store_panel_job_cancel_queued(struct store_panel *p, int64_t id, int64_t now_ms,
                                  struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc =
        store__prepare(&p->d,
                       "UPDATE jobs SET status = 'cancelled', finished = ?, "
                       "error = 'cancelled before it started' WHERE id = ? AND status = 'queued'",
                       "cancelling a job", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, id);
    if ((rc = store__step_done(&p->d, st, "cancelling a job", err)) != 0)
        return rc;
    if (sqlite3_changes(p->d.db) == 1)
        return 0;
    struct store_job j;
    if ((rc = store_panel_job_get(p, id, &j, err)) != 0)
        return rc;
    rc = zp_err_set(err, ZP_E_CONFLICT, NULL, "job %lld is %s", (long long)id,
                    store_job_status_name(j.status));
    store_job_release(&j);
    return rc;
}

static void id_row(sqlite3_stmt *st, void *elem)
{
    *(int64_t *)elem = sqlite3_column_int64(st, 0);
}

static const struct store_rows id_rows = {sizeof(int64_t), id_row, NULL};

int store_panel_job_requeue_running(struct store_panel *p, int64_t **ret_ids, size_t *ret_n,
                                    struct zp_err *err)
{
    int rc = store__exec(&p->d, "BEGIN IMMEDIATE", "requeueing jobs", err);
    if (rc)
        return rc;
    sqlite3_stmt *st;
    void *ids = NULL;
    size_t n = 0;
    if ((rc = store__prepare(&p->d, "SELECT id FROM jobs WHERE status = 'running' ORDER BY id",
                             "requeueing jobs", &st, err)) != 0 ||
        (rc = store__read_rows(&p->d, st, &id_rows, "requeueing jobs", &ids, &n, err)) != 0)
        goto fail;
    if ((rc = store__exec(&p->d, "UPDATE jobs SET status = 'queued' WHERE status = 'running'",
                          "requeueing jobs", err)) != 0)
        goto fail;
    if ((rc = store__exec(&p->d, "COMMIT", "requeueing jobs", err)) != 0)
        goto fail;
    *ret_ids = ids;
    *ret_n = n;
    return 0;
fail:
    free(ids);
    store__rollback(&p->d);
    return rc;
}

static void count_row(sqlite3_stmt *st, void *elem)
{
    struct store_job_count *c = elem;
    int s = store_job_status_parse((const char *)sqlite3_column_text(st, 1));
    c->kind = store__col_str(st, 0);
    c->status = s < 0 ? STORE_JOB_FAILED : (enum store_job_status)s;
    c->count = sqlite3_column_int64(st, 2);
    c->duration_ms = sqlite3_column_int64(st, 3);
}

static void count_release(void *elem)
{
    free(((struct store_job_count *)elem)->kind);
}

static const struct store_rows count_rows = {sizeof(struct store_job_count), count_row,
                                             count_release};

int store_panel_job_counts(struct store_panel *p, struct store_job_count **ret, size_t *ret_n,
                           struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d,
                            "SELECT kind, status, count(*), "
                            "sum(CASE WHEN finished > 0 AND started > 0 THEN finished - started "
                            "ELSE 0 END) FROM jobs GROUP BY kind, status ORDER BY kind, status",
                            "counting jobs", &st, err);
    if (rc)
        return rc;
    void *v;
    if ((rc = store__read_rows(&p->d, st, &count_rows, "counting jobs", &v, ret_n, err)) == 0)
        *ret = v;
    return rc;
}

void store_job_counts_free(struct store_job_count *c, size_t n)
{
    store__free_rows(c, n, &count_rows);
}

void store_job_release(struct store_job *j)
{
    if (!j)
        return;
    free(j->project);
    free(j->kind);
    free(j->args_json);
    free(j->user);
    free(j->error);
    memset(j, 0, sizeof(*j));
}

void store_jobs_free(struct store_job *j, size_t n)
{
    store__free_rows(j, n, &job_rows);
}

/* ---- audit ---- */

int store_panel_audit_add(struct store_panel *p, int64_t now_ms, const char *user,
                          const char *method, const char *path, int status, const char *remote,
                          struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d,
                            "INSERT INTO audit (time, user, method, path, status, remote) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            "recording an audit entry", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, now_ms);
    store__bind_str(st, 2, user);
    store__bind_str(st, 3, method);
    store__bind_str(st, 4, path);
    sqlite3_bind_int(st, 5, status);
    store__bind_str(st, 6, remote);
    return store__step_done(&p->d, st, "recording an audit entry", err);
}

int store_panel_audit_count(struct store_panel *p, int64_t *ret, struct zp_err *err)
{
    return store__query_int(&p->d, "SELECT count(*) FROM audit", "counting audit entries", ret,
                            err);
}

/* ---- notification channels ---- */

#define CHANNEL_COLS                                                                               \
    "id, project, kind, url, secret, user, mail_from, mail_to, events, failures_only, created"

int store_panel_channel_add(struct store_panel *p, struct store_channel *c, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(
        &p->d,
        "INSERT INTO channels (project, kind, url, secret, user, mail_from, mail_to, "
        "events, failures_only, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "adding a channel", &st, err);
    if (rc)
        return rc;
    c->created = wall_ms();
    store__bind_str(st, 1, c->project);
    store__bind_str(st, 2, c->kind);
    store__bind_str(st, 3, c->url);
    store__bind_str(st, 4, c->secret);
    store__bind_str(st, 5, c->user);
    store__bind_str(st, 6, c->mail_from);
    store__bind_str(st, 7, c->mail_to);
    store__bind_str(st, 8, c->events);
    sqlite3_bind_int(st, 9, c->failures_only ? 1 : 0);
    sqlite3_bind_int64(st, 10, c->created);
    if ((rc = store__step_done(&p->d, st, "adding a channel", err)) != 0)
        return rc;
    c->id = sqlite3_last_insert_rowid(p->d.db);
    return 0;
}

static void channel_row(sqlite3_stmt *st, void *elem)
{
    struct store_channel *c = elem;
    c->id = sqlite3_column_int64(st, 0);
    c->project = store__col_str(st, 1);
    c->kind = store__col_str(st, 2);
    c->url = store__col_str(st, 3);
    c->secret = store__col_str(st, 4);
    c->user = store__col_str(st, 5);
    c->mail_from = store__col_str(st, 6);
    c->mail_to = store__col_str(st, 7);
    c->events = store__col_str(st, 8);
    c->failures_only = sqlite3_column_int(st, 9) != 0;
    c->created = sqlite3_column_int64(st, 10);
}

static void channel_release(void *elem)
{
    store_channel_release(elem);
}

static const struct store_rows channel_rows = {sizeof(struct store_channel), channel_row,
                                               channel_release};

int store_panel_channel_list(struct store_panel *p, struct store_channel **ret, size_t *ret_n,
                             struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d, "SELECT " CHANNEL_COLS " FROM channels ORDER BY id",
                            "listing channels", &st, err);
    if (rc)
        return rc;
    void *v;
    if ((rc = store__read_rows(&p->d, st, &channel_rows, "listing channels", &v, ret_n, err)) == 0)
        *ret = v;
    return rc;
}

int store_panel_channel_delete(struct store_panel *p, int64_t id, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc =
        store__prepare(&p->d, "DELETE FROM channels WHERE id = ?", "removing a channel", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = store__step_done(&p->d, st, "removing a channel", err)) != 0)
        return rc;
    if (sqlite3_changes(p->d.db) == 0)
        return zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such channel %lld", (long long)id);
    return 0;
}

void store_channel_release(struct store_channel *c)
{
    if (!c)
        return;
    free(c->project);
    free(c->kind);
    free(c->url);
    free(c->secret);
    free(c->user);
    free(c->mail_from);
    free(c->mail_to);
    free(c->events);
    memset(c, 0, sizeof(*c));
}

void store_channels_free(struct store_channel *c, size_t n)
{
    store__free_rows(c, n, &channel_rows);
}

/* ---- dashboard: listing and removing accounts, reading the audit trail ---- */

static void user_row(sqlite3_stmt *st, void *elem)
{
    struct store_user_row *u = elem;
    u->id = sqlite3_column_int64(st, 0);
    u->name = store__col_str(st, 1);
    int r = store_role_parse((const char *)sqlite3_column_text(st, 2));
    u->role = r < 0 ? STORE_ROLE_VIEWER : (enum store_role)r;
    u->created = sqlite3_column_int64(st, 3);
}

static void user_release(void *elem)
{
    free(((struct store_user_row *)elem)->name);
}

static const struct store_rows user_rows = {sizeof(struct store_user_row), user_row, user_release};

int store_panel_user_list(struct store_panel *p, struct store_user_row **ret, size_t *ret_n,
                          struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d, "SELECT id, name, role, created FROM users ORDER BY name",
                            "listing users", &st, err);
    if (rc)
        return rc;
    void *v;
    if ((rc = store__read_rows(&p->d, st, &user_rows, "listing users", &v, ret_n, err)) == 0)
        *ret = v;
    return rc;
}

void store_user_rows_free(struct store_user_row *u, size_t n)
{
    store__free_rows(u, n, &user_rows);
}

int store_panel_user_delete(struct store_panel *p, const char *name, struct zp_err *err)
{
    int rc = store__exec(&p->d, "BEGIN IMMEDIATE", "removing a user", err);
    if (rc)
        return rc;
    sqlite3_stmt *st;
    if ((rc = store__prepare(
             &p->d, "DELETE FROM tokens WHERE user_id = (SELECT id FROM users WHERE name = ?)",
             "removing a user's tokens", &st, err)) != 0)
        goto fail;
    store__bind_str(st, 1, name);
    if ((rc = store__step_done(&p->d, st, "removing a user's tokens", err)) != 0)
        goto fail;
    if ((rc = store__prepare(&p->d, "DELETE FROM users WHERE name = ?", "removing a user", &st,
                             err)) != 0)
        goto fail;
    store__bind_str(st, 1, name);
    if ((rc = store__step_done(&p->d, st, "removing a user", err)) != 0)
        goto fail;
    if (sqlite3_changes(p->d.db) == 0) {
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such user '%s'", name);
        goto fail;
    }
    return store__exec(&p->d, "COMMIT", "removing a user", err);
fail:
    store__rollback(&p->d);
    return rc;
}

static void token_row(sqlite3_stmt *st, void *elem)
{
    struct store_token_row *t = elem;
    t->id = sqlite3_column_int64(st, 0);
    t->user = store__col_str(st, 1);
    int sc = store_scope_parse((const char *)sqlite3_column_text(st, 2));
    t->scope = sc < 0 ? STORE_SCOPE_READ : (enum store_scope)sc;
    t->created = sqlite3_column_int64(st, 3);
    t->expires = sqlite3_column_int64(st, 4);
}

static void token_release(void *elem)
{
    free(((struct store_token_row *)elem)->user);
}

static const struct store_rows token_rows = {sizeof(struct store_token_row), token_row,
                                             token_release};

int store_panel_token_list(struct store_panel *p, int64_t now, struct store_token_row **ret,
                           size_t *ret_n, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d,
                            "SELECT t.id, u.name, t.scope, t.created, t.expires FROM tokens t "
                            "JOIN users u ON u.id = t.user_id WHERE t.expires = 0 OR t.expires > ? "
                            "ORDER BY t.id DESC",
                            "listing tokens", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    void *v;
    if ((rc = store__read_rows(&p->d, st, &token_rows, "listing tokens", &v, ret_n, err)) == 0)
        *ret = v;
    return rc;
}

void store_token_rows_free(struct store_token_row *t, size_t n)
{
    store__free_rows(t, n, &token_rows);
}

int store_panel_token_delete_id(struct store_panel *p, int64_t id, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d, "DELETE FROM tokens WHERE id = ?", "removing a token", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = store__step_done(&p->d, st, "removing a token", err)) != 0)
        return rc;
    if (sqlite3_changes(p->d.db) == 0)
        return zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such token %lld", (long long)id);
    return 0;
}

static void audit_row(sqlite3_stmt *st, void *elem)
{
    struct store_audit_row *a = elem;
    a->id = sqlite3_column_int64(st, 0);
    a->time = sqlite3_column_int64(st, 1);
    a->user = store__col_str(st, 2);
    a->method = store__col_str(st, 3);
    a->path = store__col_str(st, 4);
    a->status = sqlite3_column_int(st, 5);
    a->remote = store__col_str(st, 6);
}

static void audit_release(void *elem)
{
    struct store_audit_row *a = elem;
    free(a->user);
    free(a->method);
    free(a->path);
    free(a->remote);
}

static const struct store_rows audit_rows = {sizeof(struct store_audit_row), audit_row,
                                             audit_release};

int store_panel_audit_list(struct store_panel *p, int64_t before, size_t limit,
                           struct store_audit_row **ret, size_t *ret_n, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d,
                            "SELECT id, time, user, method, path, status, remote FROM audit "
                            "WHERE ?1 = 0 OR id < ?1 ORDER BY id DESC LIMIT ?2",
                            "reading the audit trail", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : 100);
    void *v;
    if ((rc = store__read_rows(&p->d, st, &audit_rows, "reading the audit trail", &v, ret_n,
                               err)) == 0)
        *ret = v;
    return rc;
}

void store_audit_rows_free(struct store_audit_row *a, size_t n)
{
    store__free_rows(a, n, &audit_rows);
}
/* ---- backup schedules ---- */

#define SCHEDULE_COLS                                                                              \
    "id, project, cron, keep_last, keep_daily, keep_weekly, webhook, notify_success, next_run, "   \
    "last_job, created, destination, keep_bytes"

static void schedule_row(sqlite3_stmt *st, void *elem)
{
    struct store_schedule *s = elem;
    s->id = sqlite3_column_int64(st, 0);
    s->project = store__col_str(st, 1);
    s->cron = store__col_str(st, 2);
    s->keep_last = sqlite3_column_int64(st, 3);
    s->keep_daily = sqlite3_column_int64(st, 4);
    s->keep_weekly = sqlite3_column_int64(st, 5);
    s->webhook = store__col_str(st, 6);
    s->notify_success = sqlite3_column_int64(st, 7) != 0;
    s->next_run = sqlite3_column_int64(st, 8);
    s->last_job = sqlite3_column_int64(st, 9);
    s->created = sqlite3_column_int64(st, 10);
    s->destination = store__col_str(st, 11);
    s->keep_bytes = sqlite3_column_int64(st, 12);
}

static void schedule_release(void *elem)
{
    store_schedule_release(elem);
}

static const struct store_rows schedule_rows = {sizeof(struct store_schedule), schedule_row,
                                                schedule_release};

int store_panel_schedule_add(struct store_panel *p, struct store_schedule *s, struct zp_err *err)
{
    sqlite3_stmt *st;
    int64_t now = wall_ms();
    int rc =
        store__prepare(&p->d,
                       "INSERT INTO schedules (project, cron, keep_last, keep_daily, keep_weekly, "
                       "webhook, notify_success, next_run, created, destination, keep_bytes) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       "adding a schedule", &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, s->project);
    store__bind_str(st, 2, s->cron);
    sqlite3_bind_int64(st, 3, s->keep_last);
    sqlite3_bind_int64(st, 4, s->keep_daily);
    sqlite3_bind_int64(st, 5, s->keep_weekly);
    store__bind_str(st, 6, s->webhook);
    sqlite3_bind_int64(st, 7, s->notify_success ? 1 : 0);
    sqlite3_bind_int64(st, 8, s->next_run);
    sqlite3_bind_int64(st, 9, now);
    store__bind_str(st, 10, s->destination);
    sqlite3_bind_int64(st, 11, s->keep_bytes);
    if ((rc = store__step_done(&p->d, st, "adding a schedule", err)) != 0)
        return rc;
    s->id = sqlite3_last_insert_rowid(p->d.db);
    s->created = now;
    return 0;
}

int store_panel_schedule_list(struct store_panel *p, const char *project,
                              struct store_schedule **ret, size_t *ret_n, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d,
                            project ? "SELECT " SCHEDULE_COLS
                                      " FROM schedules WHERE project = ? ORDER BY id"
                                    : "SELECT " SCHEDULE_COLS " FROM schedules ORDER BY id",
                            "listing schedules", &st, err);
    if (rc)
        return rc;
    if (project)
        store__bind_str(st, 1, project);
    void *v;
    if ((rc = store__read_rows(&p->d, st, &schedule_rows, "listing schedules", &v, ret_n, err)) ==
        0)
        *ret = v;
    return rc;
}

int store_panel_schedule_get(struct store_panel *p, int64_t id, struct store_schedule *ret,
                             struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d, "SELECT " SCHEDULE_COLS " FROM schedules WHERE id = ?",
                            "reading a schedule", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    bool found;
    if ((rc = store__read_row(&p->d, st, &schedule_rows, ret, "reading a schedule", &found, err)) !=
        0)
        return rc;
    return found ? 0 : zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such schedule %lld", (long long)id);
}

int store_panel_schedule_delete(struct store_panel *p, const char *project, int64_t id,
                                struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d, "DELETE FROM schedules WHERE project = ? AND id = ?",
                            "removing a schedule", &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, project);
    sqlite3_bind_int64(st, 2, id);
    if ((rc = store__step_done(&p->d, st, "removing a schedule", err)) != 0)
        return rc;
    if (sqlite3_changes(p->d.db) == 0)
        return zp_err_set(err, ZP_E_NOTFOUND, NULL, "project '%s' has no schedule %lld", project,
                          (long long)id);
    return 0;
}

int store_panel_schedule_advance(struct store_panel *p, int64_t id, int64_t was_next,
                                 int64_t next_run, int64_t job, bool *ret_taken, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(
        &p->d, "UPDATE schedules SET next_run = ?, last_job = ? WHERE id = ? AND next_run = ?",
        "updating a schedule", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, next_run);
    sqlite3_bind_int64(st, 2, job);
    sqlite3_bind_int64(st, 3, id);
    sqlite3_bind_int64(st, 4, was_next);
    if ((rc = store__step_done(&p->d, st, "updating a schedule", err)) != 0)
        return rc;
    *ret_taken = sqlite3_changes(p->d.db) > 0;
    return 0;
}

int store_panel_schedule_delete_project(struct store_panel *p, const char *project,
                                        struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d, "DELETE FROM schedules WHERE project = ?", "removing schedules",
                            &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, project);
    return store__step_done(&p->d, st, "removing schedules", err);
}

void store_schedule_release(struct store_schedule *s)
{
    if (!s)
        return;
    free(s->project);
    free(s->cron);
    free(s->webhook);
    free(s->destination);
    memset(s, 0, sizeof(*s));
}

void store_schedules_free(struct store_schedule *s, size_t n)
{
    store__free_rows(s, n, &schedule_rows);
}

/* ---- S3 destinations ---- */

#define DESTINATION_COLS                                                                           \
    "name, endpoint, region, bucket, prefix, path_style, access_key, secret_key, created"

static void destination_row(sqlite3_stmt *st, void *elem)
{
    struct store_destination *d = elem;
    d->name = store__col_str(st, 0);
    d->endpoint = store__col_str(st, 1);
    d->region = store__col_str(st, 2);
    d->bucket = store__col_str(st, 3);
    d->prefix = store__col_str(st, 4);
    d->path_style = sqlite3_column_int64(st, 5) != 0;
    d->access_key = store__col_str(st, 6);
    d->secret_key = store__col_str(st, 7);
    d->created = sqlite3_column_int64(st, 8);
}

static void destination_release(void *elem)
{
    store_destination_release(elem);
}

static const struct store_rows destination_rows = {sizeof(struct store_destination),
                                                   destination_row, destination_release};

int store_panel_destination_add(struct store_panel *p, struct store_destination *d,
                                struct zp_err *err)
{
    sqlite3_stmt *st;
    int64_t now = wall_ms();
    int rc = store__prepare(&p->d,
                            "INSERT INTO destinations (" DESTINATION_COLS ") "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            "adding a destination", &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, d->name);
    store__bind_str(st, 2, d->endpoint);
    store__bind_str(st, 3, d->region);
    store__bind_str(st, 4, d->bucket);
    store__bind_str(st, 5, d->prefix ? d->prefix : "");
    sqlite3_bind_int64(st, 6, d->path_style ? 1 : 0);
    store__bind_str(st, 7, d->access_key);
    store__bind_str(st, 8, d->secret_key);
    sqlite3_bind_int64(st, 9, now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return zp_err_set(err, ZP_E_CONFLICT, NULL, "destination '%s' exists already", d->name);
    if (rc != SQLITE_DONE)
        return store__db_error(&p->d, rc, "adding a destination", err);
    d->created = now;
    return 0;
}

int store_panel_destination_list(struct store_panel *p, struct store_destination **ret,
                                 size_t *ret_n, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d, "SELECT " DESTINATION_COLS " FROM destinations ORDER BY name",
                            "listing destinations", &st, err);
    if (rc)
        return rc;
    void *v;
    if ((rc = store__read_rows(&p->d, st, &destination_rows, "listing destinations", &v, ret_n,
                               err)) == 0)
        *ret = v;
    return rc;
}

int store_panel_destination_get(struct store_panel *p, const char *name,
                                struct store_destination *ret, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(&p->d, "SELECT " DESTINATION_COLS " FROM destinations WHERE name = ?",
                            "reading a destination", &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, name);
    bool found;
    if ((rc = store__read_row(&p->d, st, &destination_rows, ret, "reading a destination", &found,
                              err)) != 0)
        return rc;
    return found ? 0 : zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such destination '%s'", name);
}

int store_panel_destination_delete(struct store_panel *p, const char *name, struct zp_err *err)
{
    sqlite3_stmt *st;
    int64_t users = 0;
    int rc = store__prepare(&p->d, "SELECT count(*) FROM schedules WHERE destination = ?",
                            "removing a destination", &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, name);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        users = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (step != SQLITE_ROW)
        return store__db_error(&p->d, step, "removing a destination", err);
    if (users > 0)
        return zp_err_set(err, ZP_E_CONFLICT, NULL,
                          "destination '%s' is used by %lld schedule%s: remove them first", name,
                          (long long)users, users == 1 ? "" : "s");
    if ((rc = store__prepare(&p->d, "DELETE FROM destinations WHERE name = ?",
                             "removing a destination", &st, err)) != 0)
        return rc;
    store__bind_str(st, 1, name);
    if ((rc = store__step_done(&p->d, st, "removing a destination", err)) != 0)
        return rc;
    if (sqlite3_changes(p->d.db) == 0)
        return zp_err_set(err, ZP_E_NOTFOUND, NULL, "no such destination '%s'", name);
    return 0;
}

void store_destination_release(struct store_destination *d)
{
    if (!d)
        return;
    free(d->name);
    free(d->endpoint);
    free(d->region);
    free(d->bucket);
    free(d->prefix);
    free(d->access_key);
    free(d->secret_key);
    memset(d, 0, sizeof(*d));
}

void store_destinations_free(struct store_destination *d, size_t n)
{
    store__free_rows(d, n, &destination_rows);
}

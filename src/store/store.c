/* store: a project's releases in its own SQLite database (WAL, busy timeout, numbered
 * migrations, bound parameters only). The only file that includes sqlite3.h. */
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

#include "secret.h"
#include "store-int.h"
#include "store.h"

#include "../util/banned.h"

#define PROJECT_NAME_MAX 200
/* PRAGMA application_id of zpanel's state databases ("ZPst"): tells our files apart from
 * other programs' SQLite files. Also written literally in MIGRATION_1. */
#define APPLICATION_ID 0x5a507374

struct store {
    struct store_db d;
    char *state_dir; /* whose secret.key seals the recorded models */
};

int store__db_file(const char *path, struct zp_err *err)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (S_ISLNK(st.st_mode))
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "state database '%s' is a symbolic link: refused", path);
        /* there: never opened here (see store-int.h); SQLite would open a file it may not
         * write read-only, silently */
        if (faccessat(AT_FDCWD, path, R_OK | W_OK, AT_EACCESS) != 0)
            return zp_err_sys(err, "opening state database '%s'", path);
        return 0;
    }
    if (errno != ENOENT)
        return zp_err_sys(err, "state database '%s'", path);
    /* new: no connection of this process can have it open yet */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno != EEXIST) /* EEXIST: another thread made it just now */
        return zp_err_sys(err, "creating state database '%s'", path);
    if (fd >= 0)
        close(fd);
    return 0;
}

/* migrations[i] brings a database from schema version i to i + 1, inside one
 * transaction, and ends by setting user_version to i + 1. Constant text only. */
static const char *const migrations[] = {
    "CREATE TABLE releases ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  created INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  status TEXT NOT NULL"
    "    CHECK (status IN ('deploying', 'deployed', 'failed', 'superseded')),"
    "  source INTEGER NOT NULL DEFAULT 0,"
    "  model_json TEXT NOT NULL,"
    "  note TEXT"
    ");"
    "CREATE INDEX releases_by_status ON releases (status, id);"
    "CREATE TABLE release_services ("
    "  release_id INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,"
    "  service TEXT NOT NULL,"
    "  image_ref TEXT NOT NULL,"
    "  image_id TEXT NOT NULL,"
    "  keep_tag TEXT,"
    "  config_hash TEXT NOT NULL,"
    "  PRIMARY KEY (release_id, service)"
    ") WITHOUT ROWID;"
    "PRAGMA application_id = 1515221876;"
    "PRAGMA user_version = 1;",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_SCHEMA_VERSION,
               "one migration per schema version");
_Static_assert(APPLICATION_ID == 1515221876, "MIGRATION_1 writes the same application_id");

static const struct store_schema schema = {
    .kind = "zpanel state database",
    .application_id = APPLICATION_ID,
    .migrations = migrations,
    .nmigrations = sizeof(migrations) / sizeof(migrations[0]),
};

static const char *const status_names[] = {"deploying", "deployed", "failed", "superseded"};
#define NSTATUS (sizeof(status_names) / sizeof(status_names[0]))

#define RELEASE_COLS "id, created, kind, status, source, model_json, note"

const char *store_release_status_name(enum store_release_status st)
{
    if ((size_t)st >= NSTATUS)
        ZP_BUG("release status %d", (int)st);
    return status_names[st];
}

/* ---- the state directory ---- */

char *store__state_dir(bool root)
{
    return zp_state_dir_for(root);
}

char *store_state_dir(void)
{
    return store__state_dir(geteuid() == 0);
}

char *store_db_path(const char *state_dir, const char *project)
{
    char *rel = zp_asprintf("projects/%s.db", project);
    char *path = zp_path_join(state_dir, rel);
    free(rel);
    return path;
}

bool store_exists(const char *state_dir, const char *project)
{
    if (!store_project_name_valid(project))
        return false;
    char *path = store_db_path(state_dir, project);
    bool exists = zp_file_exists(path);
    free(path);
    return exists;
}

bool store_project_name_valid(const char *name)
{
    if (!name || !*name)
        return false;
    size_t i = 0;
    for (; name[i]; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '-' && c != '_')))
            return false;
    }
    return i <= PROJECT_NAME_MAX;
}

/* ---- transactions ---- */

/* Write transactions take the write lock at once: a deferred one that upgrades later can
 * fail with SQLITE_BUSY without waiting for the busy timeout in WAL mode. */
static int tx_begin_write(struct store *s, const char *what, struct zp_err *err)
{
    return store__exec(&s->d, "BEGIN IMMEDIATE", what, err);
}

/* A read transaction: a release and its services come from one snapshot. */
static int tx_begin_read(struct store *s, const char *what, struct zp_err *err)
{
    return store__exec(&s->d, "BEGIN", what, err);
}

static int tx_commit(struct store *s, const char *what, struct zp_err *err)
{
    return store__exec(&s->d, "COMMIT", what, err);
}

/* ---- opening ---- */

static int check_open_args(const char *state_dir, const char *project, struct zp_err *err)
{
    if (!store_project_name_valid(project))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "invalid project name '%s': use lowercase letters, digits, '-' and "
                          "'_', starting with a letter or a digit (at most %d characters)",
                          project ? project : "", PROJECT_NAME_MAX);
    if (!state_dir || !*state_dir)
        return zp_err_set(err, ZP_E_INPUT, NULL, "empty state directory");
    return 0;
}

int store_projects_dir(const char *state_dir, char **ret, struct zp_err *err)
{
    if (!state_dir || !*state_dir)
        return zp_err_set(err, ZP_E_INPUT, NULL, "empty state directory");
    char *dir = zp_path_join(state_dir, "projects");
    int rc = zp_mkdir_p(dir, 0700, err);
    if (rc) {
        free(dir);
        return rc;
    }
    *ret = dir;
    return 0;
}

int store_open(const char *state_dir, const char *project, struct store **ret, struct zp_err *err)
{
    int rc = check_open_args(state_dir, project, err);
    if (rc)
        return rc;
    struct store *s = zp_calloc(1, sizeof(*s));
    s->state_dir = zp_strdup(state_dir);
    char *dir = zp_path_join(state_dir, "projects");
    s->d.path = store_db_path(state_dir, project);
    rc = zp_mkdir_p(dir, 0700, err);
    free(dir);
    if (rc)
        goto fail_sys;
    if ((rc = store__db_file(s->d.path, err)) != 0)
        goto fail_sys;
    if ((rc = store__open_rw(&s->d, &schema, "PRAGMA foreign_keys = ON", err)) != 0)
        goto fail;
    *ret = s;
    return 0;
fail_sys:
    /* a missing parent is not a missing object the caller asked for */
    if (rc == ZP_E_NOTFOUND && err->code == ZP_E_NOTFOUND) {
        err->code = ZP_E_SYSTEM;
        rc = ZP_E_SYSTEM;
    }
fail:
    store_close(s);
    return rc;
}

/* Open path read-only: plain first (it sees a writer's WAL), and when SQLite cannot
 * create the WAL index beside a database in a directory we may not write, as an immutable
 * file (nobody can be writing it: a writer would have created the index). */
static int open_readonly(struct store *s, bool immutable, struct zp_err *err)
{
    int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
    char *uri = NULL;
    const char *name = s->d.path;
    if (immutable) {
        /* file: URI, with the characters that URIs give a meaning percent-encoded */
        struct zp_buf b = ZP_BUF_INIT;
        zp_buf_adds(&b, "file:");
        for (const char *c = s->d.path; *c; c++) {
            if (*c == '%' || *c == '?' || *c == '#')
                zp_buf_addf(&b, "%%%02X", (unsigned char)*c);
            else
                zp_buf_addc(&b, *c);
        }
        zp_buf_adds(&b, "?immutable=1");
        uri = zp_buf_detach(&b, NULL);
        name = uri;
        flags |= SQLITE_OPEN_URI;
    }
    int src = sqlite3_open_v2(name, &s->d.db, flags, NULL);
    free(uri);
    if (src != SQLITE_OK)
        return store__db_error(&s->d, src, "opening", err);
    sqlite3_extended_result_codes(s->d.db, 1);
    sqlite3_busy_timeout(s->d.db, STORE__BUSY_TIMEOUT_MS);
    return 0;
}

int store_open_readonly(const char *state_dir, const char *project, struct store **ret,
                        struct zp_err *err)
{
    int rc = check_open_args(state_dir, project, err);
    if (rc)
        return rc;
    struct store *s = zp_calloc(1, sizeof(*s));
    s->state_dir = zp_strdup(state_dir);
    s->d.path = store_db_path(state_dir, project);
    int64_t version = 0;
    if (!zp_file_exists(s->d.path)) {
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "no state database '%s'", s->d.path);
        goto fail;
    }
    if ((rc = open_readonly(s, false, err)) == 0)
        rc = store__check_header(&s->d, &schema, &version, err);
    if (rc == ZP_E_SYSTEM || rc == ZP_E_CONFLICT) {
        /* no WAL index and no right to create one (a read-only directory) */
        struct zp_err e2;
        zp_err_init(&e2);
        sqlite3_close(s->d.db);
        s->d.db = NULL;
        if (open_readonly(s, true, &e2) == 0 &&
            store__check_header(&s->d, &schema, &version, &e2) == 0) {
            zp_err_init(err);
            rc = 0;
        }
    }
    if (rc)
        goto fail;
    if (version == 0) {
        /* an empty file (created, never migrated) holds no release; an older schema is read
         * as it is (migrations only add: the releases tables are those of version 1) */
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "no releases in '%s'", s->d.path);
        goto fail;
    }
    if ((rc = store__exec(&s->d, "PRAGMA query_only = ON", "opening read-only", err)) != 0)
        goto fail;
    *ret = s;
    return 0;
fail:
    store_close(s);
    return rc;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    store__db_close(&s->d);
    free(s->state_dir);
    free(s);
}

const char *store_path(const struct store *s)
{
    return s->d.path;
}

/* ---- releases ---- */

void store_release_release(struct store_release *r)
{
    if (!r)
        return;
    free(r->kind);
    free(r->model_json);
    free(r->note);
    for (size_t i = 0; i < r->nservices; i++) {
        struct store_release_service *sv = &r->services[i];
        free(sv->service);
        free(sv->image_ref);
        free(sv->image_id);
        free(sv->keep_tag);
        free(sv->config_hash);
    }
    free(r->services);
    memset(r, 0, sizeof(*r));
}

void store_releases_free(struct store_release *r, size_t n)
{
    if (!r)
        return;
    for (size_t i = 0; i < n; i++)
        store_release_release(&r[i]);
    free(r);
}

/* Inside a write transaction: every DEPLOYED release but keep_id becomes SUPERSEDED, so that
 * at most one release is DEPLOYED whatever happened before. */
static int supersede_others(struct store *s, int64_t keep_id, const char *what, struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(
        &s->d, "UPDATE releases SET status = ? WHERE status = ? AND id IS NOT ?", what, &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, status_names[STORE_RELEASE_SUPERSEDED]);
    store__bind_str(st, 2, status_names[STORE_RELEASE_DEPLOYED]);
    if (keep_id > 0)
        sqlite3_bind_int64(st, 3, keep_id);
    else
        sqlite3_bind_null(st, 3);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = store__db_error(&s->d, src, what, err);
    sqlite3_finalize(st);
    return rc;
}

int store_release_next_id(struct store *s, int64_t *ret, struct zp_err *err)
{
    /* the larger of AUTOINCREMENT's last id and the largest id: what INSERT would take */
    int64_t id = 0;
    int rc = store__query_int(&s->d,
                              "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = "
                              "'releases'), 0), coalesce((SELECT max(id) FROM releases), 0)) + 1",
                              "reading the next release id", &id, err);
    if (rc == 0)
        *ret = id;
    return rc;
}

int store_release_add(struct store *s, struct store_release *r, struct zp_err *err)
{
    static const char *const what = "recording a release";
    if (!r->kind || !r->model_json || (size_t)r->status >= NSTATUS)
        ZP_BUG("store_release_add: incomplete release");
    for (size_t i = 0; i < r->nservices; i++) {
        const struct store_release_service *sv = &r->services[i];
        if (!sv->service || !sv->image_ref || !sv->image_id || !sv->config_hash)
            ZP_BUG("store_release_add: incomplete service %zu", i);
    }
    int64_t now = (int64_t)time(NULL);
    sqlite3_stmt *st = NULL;
    /* the model holds the environment's values (passwords, tokens): sealed at rest */
    char *sealed = NULL;
    int rc = store_secret_seal(s->state_dir, r->model_json, &sealed, err);
    if (rc)
        return rc;
    if ((rc = tx_begin_write(s, what, err)) != 0) {
        free(sealed);
        return rc;
    }
    if (r->status == STORE_RELEASE_DEPLOYED && (rc = supersede_others(s, r->id, what, err)) != 0)
        goto fail;
    rc =
        store__prepare(&s->d,
                       "INSERT INTO releases (id, created, kind, status, source, model_json, note) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       what, &st, err);
    if (rc)
        goto fail;
    /* id NULL: the next one (AUTOINCREMENT never reuses an id) */
    if (r->id > 0)
        sqlite3_bind_int64(st, 1, r->id);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int64(st, 2, now);
    store__bind_str(st, 3, r->kind);
    store__bind_str(st, 4, status_names[r->status]);
    sqlite3_bind_int64(st, 5, r->source);
    store__bind_str(st, 6, sealed);
    store__bind_str(st, 7, r->note);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) {
        rc = store__db_error(&s->d, src, what, err);
        goto fail;
    }
    int64_t id = sqlite3_last_insert_rowid(s->d.db);
    sqlite3_finalize(st);
    st = NULL;
    rc = store__prepare(&s->d,
                        "INSERT INTO release_services (release_id, service, image_ref, image_id, "
                        "keep_tag, config_hash) VALUES (?, ?, ?, ?, ?, ?)",
                        what, &st, err);
    if (rc)
        goto fail;
    for (size_t i = 0; i < r->nservices; i++) {
        const struct store_release_service *sv = &r->services[i];
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        sqlite3_bind_int64(st, 1, id);
        store__bind_str(st, 2, sv->service);
        store__bind_str(st, 3, sv->image_ref);
        store__bind_str(st, 4, sv->image_id);
        store__bind_str(st, 5, sv->keep_tag);
        store__bind_str(st, 6, sv->config_hash);
        src = sqlite3_step(st);
        if (src != SQLITE_DONE) {
            rc = store__db_error(&s->d, src, what, err);
            zp_err_prefix(err, "service '%s'", sv->service);
            goto fail;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = tx_commit(s, what, err)) != 0)
        goto fail;
    free(sealed);
    r->id = id;
    r->created = now;
    return 0;
fail:
    free(sealed);
    sqlite3_finalize(st);
    store__rollback(&s->d);
    return rc;
}

int store_release_set_status(struct store *s, int64_t id, enum store_release_status status,
                             const char *note, struct zp_err *err)
{
    static const char *const what = "changing the status of a release";
    if ((size_t)status >= NSTATUS)
        ZP_BUG("release status %d", (int)status);
    sqlite3_stmt *st = NULL;
    int rc = tx_begin_write(s, what, err);
    if (rc)
        return rc;
    if (status == STORE_RELEASE_DEPLOYED && (rc = supersede_others(s, id, what, err)) != 0)
        goto fail;
    rc = store__prepare(&s->d,
                        "UPDATE releases SET status = ?, note = coalesce(?, note) WHERE id = ?",
                        what, &st, err);
    if (rc)
        goto fail;
    store__bind_str(st, 1, status_names[status]);
    store__bind_str(st, 2, note);
    sqlite3_bind_int64(st, 3, id);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) {
        rc = store__db_error(&s->d, src, what, err);
        goto fail;
    }
    if (sqlite3_changes(s->d.db) == 0) {
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "no release %lld", (long long)id);
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = tx_commit(s, what, err)) != 0)
        goto fail;
    return 0;
fail:
    sqlite3_finalize(st);
    store__rollback(&s->d);
    return rc;
}

int store_release_fail_stale(struct store *s, const char *note, size_t *ret_n, struct zp_err *err)
{
    static const char *const what = "marking interrupted releases failed";
    sqlite3_stmt *st;
    /* one statement: one implicit transaction */
    int rc = store__prepare(
        &s->d, "UPDATE releases SET status = ?, note = coalesce(?, note) WHERE status = ?", what,
        &st, err);
    if (rc)
        return rc;
    store__bind_str(st, 1, status_names[STORE_RELEASE_FAILED]);
    store__bind_str(st, 2, note);
    store__bind_str(st, 3, status_names[STORE_RELEASE_DEPLOYING]);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = store__db_error(&s->d, src, what, err);
    else if (ret_n != NULL)
        *ret_n = (size_t)sqlite3_changes(s->d.db);
    sqlite3_finalize(st);
    return rc;
}

/* Open r's sealed model in place (one recorded before models were sealed is plain
 * already). A reader that may read the database but not the key (another user, given read
 * access to list the releases) gets the model still sealed: release_load_model refuses it. */
static int open_model(struct store *s, struct store_release *r, struct zp_err *err)
{
    if (!store_secret_sealed(r->model_json))
        return 0;
    char *what =
        zp_asprintf("state database '%s': release %lld's model", s->d.path, (long long)r->id);
    char *plain = NULL;
    struct zp_err e;
    zp_err_init(&e);
    int rc = store_secret_open(s->state_dir, what, r->model_json, &plain, &e);
    free(what);
    if (rc == 0) {
        free(r->model_json);
        r->model_json = plain;
    } else if (rc == ZP_E_SYSTEM && e.sys_errno == EACCES) {
        rc = 0; /* the key is not ours to read */
    } else {
        *err = e;
    }
    return rc;
}

/* Fill *r from a row of RELEASE_COLS; r is zeroed first. */
static int read_release_row(struct store *s, sqlite3_stmt *st, struct store_release *r,
                            struct zp_err *err)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    r->created = sqlite3_column_int64(st, 1);
    r->kind = store__col_str(st, 2);
    r->source = sqlite3_column_int64(st, 4);
    r->model_json = store__col_str(st, 5);
    r->note = store__col_str(st, 6);
    const char *status = (const char *)sqlite3_column_text(st, 3);
    for (size_t i = 0; i < NSTATUS; i++) {
        if (status && strcmp(status, status_names[i]) == 0) {
            r->status = (enum store_release_status)i;
            if (!r->kind || !r->model_json)
                break;
            return open_model(s, r, err);
        }
    }
    return zp_err_set(err, ZP_E_INPUT, NULL, "state database '%s': release %lld is damaged",
                      s->d.path, (long long)r->id);
}

static int load_services(struct store *s, struct store_release *r, struct zp_err *err)
{
    static const char *const what = "reading a release";
    sqlite3_stmt *st;
    int rc = store__prepare(&s->d,
                            "SELECT service, image_ref, image_id, keep_tag, config_hash "
                            "FROM release_services WHERE release_id = ? ORDER BY service",
                            what, &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, r->id);
    size_t cap = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        zp_grow((void **)&r->services, &cap, r->nservices + 1, sizeof(*r->services));
        struct store_release_service *sv = &r->services[r->nservices++];
        sv->service = store__col_str(st, 0);
        sv->image_ref = store__col_str(st, 1);
        sv->image_id = store__col_str(st, 2);
        sv->keep_tag = store__col_str(st, 3);
        sv->config_hash = store__col_str(st, 4);
        if (!sv->service || !sv->image_ref || !sv->image_id || !sv->config_hash) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "state database '%s': release %lld is damaged",
                            s->d.path, (long long)r->id);
            break;
        }
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = store__db_error(&s->d, src, what, err);
    sqlite3_finalize(st);
    return rc;
}

/* Read every release the prepared statement st yields (bound by the caller), newest
 * first as the query orders them, with their services. Finalizes st. */
static int read_releases(struct store *s, sqlite3_stmt *st, const char *what,
                         struct store_release **ret, size_t *ret_n, struct zp_err *err)
{
    struct store_release *list = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        zp_grow((void **)&list, &cap, n + 1, sizeof(*list));
        rc = read_release_row(s, st, &list[n], err);
        n++;
        if (rc)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = store__db_error(&s->d, src, what, err);
    sqlite3_finalize(st);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = load_services(s, &list[i], err);
    if (rc) {
        store_releases_free(list, n);
        return rc;
    }
    *ret = list;
    *ret_n = n;
    return 0;
}

/* Run a query of releases in a read transaction and give back the first one. */
static int read_one(struct store *s, sqlite3_stmt *st, const char *what, const char *missing,
                    struct store_release *ret, struct zp_err *err)
{
    struct store_release *list = NULL;
    size_t n = 0;
    int rc = read_releases(s, st, what, &list, &n, err);
    if (rc)
        return rc;
    if (n == 0) {
        free(list);
        return zp_err_set(err, ZP_E_NOTFOUND, NULL, "%s", missing);
    }
    *ret = list[0];
    memset(&list[0], 0, sizeof(list[0]));
    store_releases_free(list, n);
    return 0;
}

/* The body of a read: a transaction around statement st (already bound). */
static int read_in_tx(struct store *s, sqlite3_stmt *st, const char *what, const char *missing,
                      struct store_release *ret_one, struct store_release **ret_list, size_t *ret_n,
                      struct zp_err *err)
{
    int rc = tx_begin_read(s, what, err);
    if (rc) {
        sqlite3_finalize(st);
        return rc;
    }
    if (ret_one)
        rc = read_one(s, st, what, missing, ret_one, err);
    else
        rc = read_releases(s, st, what, ret_list, ret_n, err);
    if (rc == 0) {
        rc = tx_commit(s, what, err);
        if (rc) {
            if (ret_one)
                store_release_release(ret_one);
            else
                store_releases_free(*ret_list, *ret_n);
        }
    }
    store__rollback(&s->d);
    return rc;
}

int store_release_get(struct store *s, int64_t id, struct store_release *ret, struct zp_err *err)
{
    static const char *const what = "reading a release";
    sqlite3_stmt *st;
    int rc =
        store__prepare(&s->d, "SELECT " RELEASE_COLS " FROM releases WHERE id = ?", what, &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    char missing[64];
    snprintf(missing, sizeof(missing), "no release %lld", (long long)id);
    struct store_release r;
    rc = read_in_tx(s, st, what, missing, &r, NULL, NULL, err);
    if (rc == 0)
        *ret = r;
    return rc;
}

int store_release_latest(struct store *s, int status, struct store_release *ret, struct zp_err *err)
{
    static const char *const what = "reading the latest release";
    if (status >= (int)NSTATUS)
        ZP_BUG("release status %d", status);
    sqlite3_stmt *st;
    int rc;
    if (status < 0)
        rc = store__prepare(&s->d, "SELECT " RELEASE_COLS " FROM releases ORDER BY id DESC LIMIT 1",
                            what, &st, err);
    else
        rc = store__prepare(&s->d,
                            "SELECT " RELEASE_COLS " FROM releases WHERE status = ? "
                            "ORDER BY id DESC LIMIT 1",
                            what, &st, err);
    if (rc)
        return rc;
    char missing[64];
    if (status < 0) {
        snprintf(missing, sizeof(missing), "no release yet");
    } else {
        store__bind_str(st, 1, status_names[status]);
        snprintf(missing, sizeof(missing), "no %s release", status_names[status]);
    }
    struct store_release r;
    rc = read_in_tx(s, st, what, missing, &r, NULL, NULL, err);
    if (rc == 0)
        *ret = r;
    return rc;
}

int store_release_list(struct store *s, struct store_release **ret, size_t *ret_n,
                       struct zp_err *err)
{
    static const char *const what = "listing releases";
    sqlite3_stmt *st;
    int rc = store__prepare(&s->d, "SELECT " RELEASE_COLS " FROM releases ORDER BY id DESC", what,
                            &st, err);
    if (rc)
        return rc;
    struct store_release *list = NULL;
    size_t n = 0;
    rc = read_in_tx(s, st, what, NULL, NULL, &list, &n, err);
    if (rc == 0) {
        *ret = list;
        *ret_n = n;
    }
    return rc;
}

int store_release_prune(struct store *s, size_t keep, struct store_release **ret_pruned,
                        size_t *ret_n, struct zp_err *err)
{
    static const char *const what = "pruning releases";
    struct store_release *list = NULL;
    size_t n = 0;
    sqlite3_stmt *st = NULL;
    int rc = tx_begin_write(s, what, err);
    if (rc)
        return rc;
    /* the newest DEPLOYED release survives whatever keep says: it is the running one */
    rc = store__prepare(&s->d,
                        "SELECT " RELEASE_COLS " FROM releases "
                        "WHERE id NOT IN (SELECT id FROM releases ORDER BY id DESC LIMIT ?) "
                        "AND id IS NOT (SELECT max(id) FROM releases WHERE status = ?) "
                        "ORDER BY id DESC",
                        what, &st, err);
    if (rc)
        goto fail;
    sqlite3_bind_int64(st, 1, keep > (size_t)INT64_MAX ? INT64_MAX : (int64_t)keep);
    store__bind_str(st, 2, status_names[STORE_RELEASE_DEPLOYED]);
    rc = read_releases(s, st, what, &list, &n, err);
    st = NULL;
    if (rc)
        goto fail;
    if (n > 0) {
        /* release_services rows go with them (ON DELETE CASCADE) */
        if ((rc = store__prepare(&s->d, "DELETE FROM releases WHERE id = ?", what, &st, err)) != 0)
            goto fail;
        for (size_t i = 0; i < n; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, list[i].id);
            int src = sqlite3_step(st);
            if (src != SQLITE_DONE) {
                rc = store__db_error(&s->d, src, what, err);
                goto fail;
            }
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if ((rc = tx_commit(s, what, err)) != 0)
        goto fail;
    if (n == 0) {
        free(list);
        list = NULL;
    }
    *ret_pruned = list;
    *ret_n = n;
    return 0;
fail:
    sqlite3_finalize(st);
    store__rollback(&s->d);
    store_releases_free(list, n);
    return rc;
}

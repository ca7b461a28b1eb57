/* store/db: what zpanel's two kinds of SQLite database (a project's releases in store.c,
 * the control plane's zpanel.db in panel.c) share: errors that name the file, statement
 * helpers, and opening read-write with the header check, WAL and the migrations. */
#define _GNU_SOURCE
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

#include "../util/banned.h"

static int code_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CONSTRAINT:
        return ZP_E_CONFLICT;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_FORMAT:
    case SQLITE_MISMATCH:
        return ZP_E_INPUT;
    case SQLITE_NOTFOUND:
        return ZP_E_NOTFOUND;
    default:
        return ZP_E_SYSTEM;
    }
}

int store__db_error(const struct store_db *d, int rc, const char *what, struct zp_err *err)
{
    const char *msg = d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc);
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        return zp_err_set(err, ZP_E_CONFLICT, NULL,
                          "state database '%s': %s: %s (another zpanel is using it; try again)",
                          d->path, what, msg);
    return zp_err_set(err, code_of(rc), NULL, "state database '%s': %s: %s", d->path, what, msg);
}

int store__exec(struct store_db *d, const char *sql, const char *what, struct zp_err *err)
{
    int rc = sqlite3_exec(d->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : store__db_error(d, rc, what, err);
}

int store__prepare(struct store_db *d, const char *sql, const char *what, sqlite3_stmt **ret,
                   struct zp_err *err)
{
    int rc = sqlite3_prepare_v2(d->db, sql, -1, ret, NULL);
    if (rc != SQLITE_OK) {
        *ret = NULL;
        return store__db_error(d, rc, what, err);
    }
    return 0;
}

void store__rollback(struct store_db *d)
{
    if (!sqlite3_get_autocommit(d->db))
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
}

void store__bind_str(sqlite3_stmt *st, int i, const char *v)
{
    /* a NULL v binds SQL NULL */
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

char *store__col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    return v ? zp_strdup((const char *)v) : NULL;
}

int store__step_done(struct store_db *d, sqlite3_stmt *st, const char *what, struct zp_err *err)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? 0 : store__db_error(d, rc, what, err);
    sqlite3_finalize(st);
    return ret;
}

int store__query_int(struct store_db *d, const char *sql, const char *what, int64_t *ret,
                     struct zp_err *err)
{
    sqlite3_stmt *st;
    int rc = store__prepare(d, sql, what, &st, err);
    if (rc)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *ret = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        rc = store__db_error(d, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc, what, err);
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- reading rows ---- */

int store__read_row(struct store_db *d, sqlite3_stmt *st, const struct store_rows *k, void *elem,
                    const char *what, bool *ret_found, struct zp_err *err)
{
    int src = sqlite3_step(st);
    int rc = 0;
    *ret_found = src == SQLITE_ROW;
    if (src == SQLITE_ROW) {
        memset(elem, 0, k->size);
        k->row(st, elem);
    } else if (src != SQLITE_DONE)
        rc = store__db_error(d, src, what, err);
    sqlite3_finalize(st);
    return rc;
}

int store__read_rows(struct store_db *d, sqlite3_stmt *st, const struct store_rows *k,
                     const char *what, void **ret, size_t *ret_n, struct zp_err *err)
{
    void *v = NULL;
    size_t n = 0, cap = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        zp_grow(&v, &cap, n + 1, k->size);
        void *elem = (char *)v + n++ * k->size;
        memset(elem, 0, k->size);
        k->row(st, elem);
    }
    int rc = src == SQLITE_DONE ? 0 : store__db_error(d, src, what, err);
    sqlite3_finalize(st);
    if (rc) {
        store__free_rows(v, n, k);
        return rc;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

void store__free_rows(void *v, size_t n, const struct store_rows *k)
{
    if (!v)
        return;
    if (k->release)
        for (size_t i = 0; i < n; i++)
            k->release((char *)v + i * k->size);
    free(v);
}

/* ---- opening and migrations ---- */

int store__not_ours(const struct store_db *d, const struct store_schema *sc, const char *why,
                    struct zp_err *err)
{
    return zp_err_set(err, ZP_E_INPUT, NULL, "'%s' is not a %s (%s)", d->path, sc->kind, why);
}

int store__check_header(struct store_db *d, const struct store_schema *sc, int64_t *ret_version,
                        struct zp_err *err)
{
    int64_t version = 0, app = 0; /* set by query_int on success; gcc -O3 cannot see it */
    struct zp_err e;
    zp_err_init(&e);
    if (store__query_int(d, "PRAGMA user_version", "reading the schema version", &version, &e) !=
            0 ||
        store__query_int(d, "PRAGMA application_id", "reading the schema version", &app, &e) != 0) {
        if (e.code == ZP_E_INPUT)
            return store__not_ours(d, sc, "not an SQLite 3 file, or a damaged one", err);
        *err = e;
        return e.code;
    }
    if (version > 0 && app != sc->application_id)
        return store__not_ours(d, sc, "it belongs to another program", err);
    if (version > (int64_t)sc->nmigrations)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "state database '%s' has schema version %lld, newer than this zpanel "
                          "understands (%zu); use a newer zpanel",
                          d->path, (long long)version, sc->nmigrations);
    *ret_version = version;
    return 0;
}

/* Bring the schema up to the newest version in one transaction. Another process may be
 * doing the same: the version is read again under the write lock (BEGIN IMMEDIATE). */
static int migrate(struct store_db *d, const struct store_schema *sc, struct zp_err *err)
{
    int64_t version, tables;
    int rc = store__exec(d, "BEGIN IMMEDIATE", "migrating the schema", err);
    if (rc)
        return rc;
    if ((rc = store__check_header(d, sc, &version, err)) != 0)
        goto fail;
    if (version == 0) {
        rc = store__query_int(d,
                              "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE "
                              "'sqlite\\_%' ESCAPE '\\'",
                              "migrating the schema", &tables, err);
        if (rc)
            goto fail;
        if (tables > 0) {
            rc = store__not_ours(d, sc, "it holds tables of another program", err);
            goto fail;
        }
    }
    for (int64_t v = version; v < (int64_t)sc->nmigrations; v++)
        if ((rc = store__exec(d, sc->migrations[v], "migrating the schema", err)) != 0)
            goto fail;
    if ((rc = store__exec(d, "COMMIT", "migrating the schema", err)) != 0)
        goto fail;
    return 0;
fail:
    store__rollback(d);
    return rc;
}

int store__open_rw(struct store_db *d, const struct store_schema *sc, const char *pragmas,
                   struct zp_err *err)
{
    int src = sqlite3_open_v2(d->path, &d->db, STORE__OPEN_FLAGS, NULL);
    if (src != SQLITE_OK)
        return store__db_error(d, src, "opening", err);
    sqlite3_extended_result_codes(d->db, 1);
    sqlite3_busy_timeout(d->db, STORE__BUSY_TIMEOUT_MS);
    int64_t version = 0;
    int rc = store__check_header(d, sc, &version, err);
    if (rc != 0 || (rc = store__exec(d, pragmas, "configuring", err)) != 0)
        return rc;
    sqlite3_stmt *st;
    if ((rc = store__prepare(d, "PRAGMA journal_mode = WAL", "enabling WAL", &st, err)) != 0)
        return rc;
    src = sqlite3_step(st);
    bool wal = src == SQLITE_ROW && sqlite3_column_text(st, 0) &&
               strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    if (src != SQLITE_ROW)
        rc = store__db_error(d, src, "enabling WAL", err);
    else if (!wal)
        rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "state database '%s': cannot enable WAL mode",
                        d->path);
    sqlite3_finalize(st);
    if (rc == 0 && version < (int64_t)sc->nmigrations)
        rc = migrate(d, sc, err);
    return rc;
}

void store__db_close(struct store_db *d)
{
    if (d->db)
        sqlite3_close(d->db);
    d->db = NULL;
    free(d->path);
    d->path = NULL;
}

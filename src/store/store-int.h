/* store-int: helpers of the store module shared with its unit tests. */
#ifndef ZP_STORE_INT_H
#define ZP_STORE_INT_H

#include <stdbool.h>

/* store_state_dir's resolution with the root decision given (store_state_dir passes
 * geteuid() == 0), so that both branches can be tested. Newly allocated, never NULL. */
char *store__state_dir(bool root);

struct zp_err;
/* Make sure the database file at path exists with mode 0600 (SQLite would make it 0644)
 * and is not a symbolic link. Never opens an existing file: closing any descriptor of a
 * file drops every POSIX lock this process holds on it, the locks by which SQLite's other
 * connections in this process (serve's pool) tell other processes that the WAL is in use;
 * without them, another process's close deletes the WAL under them and their writes are
 * lost. Errors: ZP_E_INPUT (a link), ZP_E_SYSTEM. */
int store__db_file(const char *path, struct zp_err *err);
/* The flags of sqlite3_open_v2 for our databases. */
#define STORE__OPEN_FLAGS (SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW)
/* How long a statement waits for another connection's lock. */
#define STORE__BUSY_TIMEOUT_MS 5000

/* ---- db.c: what the project databases (store.c) and zpanel.db (panel.c) share ---- */

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

/* One open database: its connection and the path its errors name. */
struct store_db {
    sqlite3 *db;
    char *path;
};

/* A kind of database: its schema is migrations[0..nmigrations) (the version is their count). */
struct store_schema {
    const char *kind;       /* "zpanel state database": in "'PATH' is not a KIND (why)" */
    int64_t application_id; /* PRAGMA application_id */
    const char *const *migrations;
    size_t nmigrations;
};

/* err from the connection's last error: "state database 'PATH': WHAT: MESSAGE" (BUSY and
 * LOCKED: ZP_E_CONFLICT, "another zpanel is using it"). Call it before anything else
 * touches the connection (a rollback replaces the message). Returns err->code. */
int store__db_error(const struct store_db *d, int rc, const char *what, struct zp_err *err);
int store__exec(struct store_db *d, const char *sql, const char *what, struct zp_err *err);
int store__prepare(struct store_db *d, const char *sql, const char *what, sqlite3_stmt **ret,
                   struct zp_err *err);
/* Roll back the open transaction, if any. */
void store__rollback(struct store_db *d);
/* Bind v as text (NULL: SQL NULL); v must outlive the statement's step. */
void store__bind_str(sqlite3_stmt *st, int i, const char *v);
/* Column i as a new string, or NULL for SQL NULL. */
char *store__col_str(sqlite3_stmt *st, int i);
/* Step a statement that returns no row; finalizes it. */
int store__step_done(struct store_db *d, sqlite3_stmt *st, const char *what, struct zp_err *err);
/* Run a statement that yields one integer row (a PRAGMA, a count). */
int store__query_int(struct store_db *d, const char *sql, const char *what, int64_t *ret,
                     struct zp_err *err);
/* How rows of one query become elements of an array. */
struct store_rows {
    size_t size;                               /* of one element */
    void (*row)(sqlite3_stmt *st, void *elem); /* fills a zeroed element from the current row */
    void (*release)(void *elem);               /* frees what row put in one (NULL: nothing) */
};
/* Step st (prepared and bound) for one row: elem zeroed and filled, *ret_found true; or no
 * row: *ret_found false, elem untouched. Finalizes st. */
int store__read_row(struct store_db *d, sqlite3_stmt *st, const struct store_rows *k, void *elem,
                    const char *what, bool *ret_found, struct zp_err *err);
/* Step st (prepared and bound) through all its rows into a new array (NULL when there are
 * none) in *ret, its length in *ret_n. Finalizes st. On error nothing is returned (what
 * was read is freed) and err names WHAT. */
int store__read_rows(struct store_db *d, sqlite3_stmt *st, const struct store_rows *k,
                     const char *what, void **ret, size_t *ret_n, struct zp_err *err);
/* Release each of the n elements of v and free v (NULL: nothing). */
void store__free_rows(void *v, size_t n, const struct store_rows *k);
/* ZP_E_INPUT: "'PATH' is not a KIND (why)". */
int store__not_ours(const struct store_db *d, const struct store_schema *sc, const char *why,
                    struct zp_err *err);
/* Read and check the schema version and application id; a file that is not SQLite fails
 * on the first read. */
int store__check_header(struct store_db *d, const struct store_schema *sc, int64_t *ret_version,
                        struct zp_err *err);
/* Open d->path (which store__db_file made) read-write: extended result codes, the busy
 * timeout, the header checked, pragmas run, WAL on, and the schema migrated in one write
 * transaction when older. On error the caller closes d. */
int store__open_rw(struct store_db *d, const struct store_schema *sc, const char *pragmas,
                   struct zp_err *err);
/* Close the connection and free the path. */
void store__db_close(struct store_db *d);

#endif

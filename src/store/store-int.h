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

#endif

/* Unit tests for store: the state directory, project names, opening and refusing files,
 * releases (add, get, list, status, latest, prune) and persistence across reopening. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store-int.h"
#include "store/store.h"

struct fixture {
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/zp-store-XXXXXX");
    if (!mkdtemp(f->dir))
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
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static char *path_in(const struct fixture *f, const char *rel)
{
    size_t n = strlen(f->dir) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", f->dir, rel);
    return p;
}

static struct store *open_ok(const struct fixture *f, const char *project)
{
    struct store *s = NULL;
    struct zp_err err;
    zp_err_init(&err);
    int rc = store_open(f->dir, project, &s, &err);
    if (rc != 0)
        fail_msg("store_open: %s", err.msg);
    assert_non_null(s);
    return s;
}

/* A release of n services named svc0, svc1, ... with fields derived from tag. */
static int64_t add_release(struct store *s, const char *tag, enum store_release_status st, size_t n)
{
    struct store_release_service sv[3];
    char names[3][16], refs[3][32], ids[3][80], tags[3][48], hashes[3][80];
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "svc%zu", i);
        snprintf(refs[i], sizeof(refs[i]), "img-%s-%zu", tag, i);
        snprintf(ids[i], sizeof(ids[i]), "sha256:%s%zu", tag, i);
        snprintf(tags[i], sizeof(tags[i]), "zpanel-release/%s:%zu", tag, i);
        snprintf(hashes[i], sizeof(hashes[i]), "hash-%s-%zu", tag, i);
        sv[i].service = names[i];
        sv[i].image_ref = refs[i];
        sv[i].image_id = ids[i];
        sv[i].keep_tag = i == 1 ? NULL : tags[i];
        sv[i].config_hash = hashes[i];
    }
    char model[64];
    snprintf(model, sizeof(model), "{\"name\":\"%s\"}", tag);
    struct store_release r;
    memset(&r, 0, sizeof(r));
    r.kind = (char *)"update";
    r.status = st;
    r.model_json = model;
    r.services = n ? sv : NULL;
    r.nservices = n;
    struct zp_err err;
    zp_err_init(&err);
    time_t before = time(NULL);
    int rc = store_release_add(s, &r, &err);
    if (rc != 0)
        fail_msg("store_release_add: %s", err.msg);
    assert_true(r.id > 0);
    assert_true(r.created >= before && r.created <= time(NULL));
    return r.id;
}

/* ---- state directory and names ---- */

static void test_state_dir(void **state)
{
    (void)state;
    setenv("ZPANEL_STATE_DIR", "/srv/zp-state", 1);
    setenv("XDG_STATE_HOME", "/xdg/state", 1);
    setenv("HOME", "/home/someone", 1);
    char *d = store__state_dir(false);
    assert_string_equal(d, "/srv/zp-state");
    free(d);
    d = store__state_dir(true);
    assert_string_equal(d, "/srv/zp-state");
    free(d);
    d = store_state_dir();
    assert_string_equal(d, "/srv/zp-state");
    free(d);

    /* an empty ZPANEL_STATE_DIR counts as unset */
    setenv("ZPANEL_STATE_DIR", "", 1);
    d = store__state_dir(true);
    assert_string_equal(d, "/var/lib/zpanel");
    free(d);
    d = store__state_dir(false);
    assert_string_equal(d, "/xdg/state/zpanel");
    free(d);

    /* a relative XDG_STATE_HOME is ignored (XDG base directory rules) */
    setenv("XDG_STATE_HOME", "relative/state", 1);
    d = store__state_dir(false);
    assert_string_equal(d, "/home/someone/.local/state/zpanel");
    free(d);
    unsetenv("XDG_STATE_HOME");
    unsetenv("ZPANEL_STATE_DIR");
    d = store__state_dir(false);
    assert_string_equal(d, "/home/someone/.local/state/zpanel");
    free(d);

    /* store_state_dir decides on the effective user */
    d = store_state_dir();
    assert_string_equal(d,
                        geteuid() == 0 ? "/var/lib/zpanel" : "/home/someone/.local/state/zpanel");
    free(d);
    unsetenv("HOME");
    d = store__state_dir(false);
    assert_non_null(d);
    assert_true(d[0] == '/');
    free(d);
}

static void test_project_names(void **state)
{
    struct fixture *f = *state;
    static const char *const good[] = {"a", "0", "hello-web_1", "9lives", "a--b__c"};
    static const char *const bad[] = {
        "", "Hello", "-x", "_x", "a/b", "..", ".", "a.b", "a b", "../../etc/x", "x\n", "é",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(store_project_name_valid(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(store_project_name_valid(bad[i]));
        struct store *s = NULL;
        struct zp_err err;
        zp_err_init(&err);
        assert_int_equal(store_open(f->dir, bad[i], &s, &err), ZP_E_INPUT);
        assert_null(s);
        assert_non_null(strstr(err.msg, "invalid project name"));
        char want[64];
        snprintf(want, sizeof(want), "'%s'", bad[i]);
        assert_non_null(strstr(err.msg, want));
    }
    assert_false(store_project_name_valid(NULL));
    char longname[202];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[201] = '\0';
    assert_false(store_project_name_valid(longname));
    longname[200] = '\0';
    assert_true(store_project_name_valid(longname));

    /* nothing was created for the bad names */
    char *projects = path_in(f, "projects");
    struct stat sb;
    assert_int_equal(stat(projects, &sb), -1);
    free(projects);
}

/* ---- opening ---- */

static void test_open_creates(void **state)
{
    struct fixture *f = *state;
    /* a state directory that does not exist yet, two levels down */
    char *base = path_in(f, "a/b");
    struct store *s = NULL;
    struct zp_err err;
    zp_err_init(&err);
    assert_false(store_exists(base, "hello"));
    assert_int_equal(store_open(base, "hello", &s, &err), 0);
    assert_true(store_exists(base, "hello"));
    assert_false(store_exists(base, "other"));
    assert_false(store_exists(base, "../projects/hello"));
    char *projects = path_in(f, "a/b/projects");
    char *db = path_in(f, "a/b/projects/hello.db");
    char *wal = path_in(f, "a/b/projects/hello.db-wal");
    assert_string_equal(store_path(s), db);
    struct stat sb;
    assert_int_equal(stat(projects, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 07777, 0700);
    assert_int_equal(stat(db, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    add_release(s, "one", STORE_RELEASE_DEPLOYED, 1);
    /* WAL mode: the log exists while the database is open, with the file's mode */
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    store_close(s);

    /* the schema is what this zpanel writes, checked with SQLite itself */
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open_v2(db, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), STORE_SCHEMA_VERSION);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(raw,
                                        "SELECT service, image_ref FROM release_services "
                                        "WHERE release_id = 1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "svc0");
    assert_string_equal((const char *)sqlite3_column_text(st, 1), "img-one-0");
    sqlite3_finalize(st);
    sqlite3_close(raw);

    /* an empty file (schema version 0) is set up too */
    char *empty = path_in(f, "a/b/projects/empty.db");
    int fd = open(empty, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    s = open_ok(f, "unused"); /* other projects beside it are untouched */
    store_close(s);
    assert_int_equal(store_open(base, "empty", &s, &err), 0);
    add_release(s, "e", STORE_RELEASE_DEPLOYING, 0);
    store_close(s);
    free(empty);
    free(base);
    free(projects);
    free(db);
    free(wal);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

static void test_refuse_not_sqlite(void **state)
{
    struct fixture *f = *state;
    store_close(open_ok(f, "x")); /* creates projects/ */
    char *junk = path_in(f, "projects/junk.db");
    char text[4096];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = "services:\n  web: {}\n"[i % 20];
    write_file(junk, text, sizeof(text));
    struct store *s = NULL;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(store_open(f->dir, "junk", &s, &err), ZP_E_INPUT);
    assert_null(s);
    char want[256];
    snprintf(want, sizeof(want), "'%s' is not a zpanel state database (not an SQLite 3 file", junk);
    if (!strstr(err.msg, want))
        fail_msg("unexpected message: %s", err.msg);
    /* the file was not changed */
    char *data = NULL;
    size_t len = 0;
    struct zp_err rerr;
    zp_err_init(&rerr);
    assert_int_equal(zp_file_read(junk, 1 << 20, &data, &len, &rerr), 0);
    assert_int_equal(len, sizeof(text));
    assert_memory_equal(data, text, len);
    free(data);

    /* a short one too */
    write_file(junk, "hello\n", 6);
    zp_err_init(&err);
    assert_int_equal(store_open(f->dir, "junk", &s, &err), ZP_E_INPUT);
    if (!strstr(err.msg, want))
        fail_msg("unexpected message: %s", err.msg);
    free(junk);
}

/* Make a database with SQLite directly: sql run on a fresh file. */
static void make_db(const char *path, const char *sql)
{
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(raw, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s", msg);
    sqlite3_close(raw);
}

static void test_refuse_newer_and_foreign(void **state)
{
    struct fixture *f = *state;
    store_close(open_ok(f, "x"));
    char *newer = path_in(f, "projects/newer.db");
    make_db(newer, "CREATE TABLE releases (id INTEGER PRIMARY KEY, later TEXT);"
                   "PRAGMA application_id = 1515221876; PRAGMA user_version = 2;");
    struct store *s = NULL;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(store_open(f->dir, "newer", &s, &err), ZP_E_INPUT);
    assert_null(s);
    char want[256];
    snprintf(want, sizeof(want),
             "state database '%s' has schema version 2, newer than this zpanel understands (1)",
             newer);
    if (!strstr(err.msg, want))
        fail_msg("unexpected message: %s", err.msg);

    /* a versioned SQLite file of another program */
    char *other = path_in(f, "projects/other.db");
    make_db(other, "CREATE TABLE t (x); PRAGMA user_version = 1;");
    zp_err_init(&err);
    assert_int_equal(store_open(f->dir, "other", &s, &err), ZP_E_INPUT);
    snprintf(want, sizeof(want), "'%s' is not a zpanel state database (it belongs to", other);
    if (!strstr(err.msg, want))
        fail_msg("unexpected message: %s", err.msg);

    /* an unversioned one with tables: not taken over */
    char *plain = path_in(f, "projects/plain.db");
    make_db(plain, "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('keep me');");
    zp_err_init(&err);
    assert_int_equal(store_open(f->dir, "plain", &s, &err), ZP_E_INPUT);
    snprintf(want, sizeof(want), "'%s' is not a zpanel state database (it holds tables", plain);
    if (!strstr(err.msg, want))
        fail_msg("unexpected message: %s", err.msg);
    free(newer);
    free(other);
    free(plain);
}

static void test_unwritable_dir(void **state)
{
    struct fixture *f = *state;
    char *file = path_in(f, "file");
    write_file(file, "x", 1);
    struct store *s = NULL;
    struct zp_err err;
    zp_err_init(&err);
    /* the state "directory" is a file */
    assert_true(store_open(file, "app", &s, &err) < 0);
    assert_null(s);
    assert_non_null(strstr(err.msg, file));
    free(file);
}

/* ---- releases ---- */

static void test_add_get_list(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f, "app");
    struct zp_err err;
    zp_err_init(&err);
    struct store_release *list = NULL;
    size_t n = 99;
    assert_int_equal(store_release_list(s, &list, &n, &err), 0);
    assert_int_equal(n, 0);
    free(list);

    assert_int_equal(add_release(s, "r1", STORE_RELEASE_SUPERSEDED, 2), 1);
    assert_int_equal(add_release(s, "r2", STORE_RELEASE_DEPLOYED, 3), 2);
    assert_int_equal(add_release(s, "r3", STORE_RELEASE_DEPLOYING, 0), 3);

    struct store_release r;
    assert_int_equal(store_release_get(s, 2, &r, &err), 0);
    assert_int_equal(r.id, 2);
    assert_string_equal(r.kind, "update");
    assert_int_equal(r.status, STORE_RELEASE_DEPLOYED);
    assert_int_equal(r.source, 0);
    assert_string_equal(r.model_json, "{\"name\":\"r2\"}");
    assert_null(r.note);
    assert_int_equal(r.nservices, 3);
    for (size_t i = 0; i < 3; i++) {
        char want[64];
        snprintf(want, sizeof(want), "svc%zu", i);
        assert_string_equal(r.services[i].service, want);
        snprintf(want, sizeof(want), "img-r2-%zu", i);
        assert_string_equal(r.services[i].image_ref, want);
        snprintf(want, sizeof(want), "sha256:r2%zu", i);
        assert_string_equal(r.services[i].image_id, want);
        snprintf(want, sizeof(want), "hash-r2-%zu", i);
        assert_string_equal(r.services[i].config_hash, want);
    }
    assert_string_equal(r.services[0].keep_tag, "zpanel-release/r2:0");
    assert_null(r.services[1].keep_tag);
    store_release_release(&r);
    assert_null(r.kind);

    zp_err_init(&err);
    assert_int_equal(store_release_get(s, 42, &r, &err), ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "no release 42");

    /* a rollback with a source and a note */
    struct store_release rb;
    memset(&rb, 0, sizeof(rb));
    rb.kind = (char *)"rollback";
    rb.status = STORE_RELEASE_DEPLOYING;
    rb.source = 1;
    rb.model_json = (char *)"{}";
    rb.note = (char *)"back to 1 (\"quoted\"; DROP TABLE releases; --)";
    zp_err_init(&err);
    assert_int_equal(store_release_add(s, &rb, &err), 0);
    assert_int_equal(rb.id, 4);
    assert_int_equal(store_release_get(s, 4, &r, &err), 0);
    assert_string_equal(r.kind, "rollback");
    assert_int_equal(r.source, 1);
    assert_string_equal(r.note, rb.note);
    assert_int_equal(r.nservices, 0);
    assert_null(r.services);
    store_release_release(&r);

    assert_int_equal(store_release_list(s, &list, &n, &err), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(list[i].id, (int64_t)(4 - i));
    assert_int_equal(list[1].status, STORE_RELEASE_DEPLOYING);
    assert_int_equal(list[2].nservices, 3);
    assert_int_equal(list[3].nservices, 2);
    assert_string_equal(list[3].services[1].image_id, "sha256:r11");
    store_releases_free(list, n);

    /* a duplicate service in one release is refused and nothing of it stays */
    struct store_release_service dup[2] = {
        {(char *)"web", (char *)"a", (char *)"sha256:a", NULL, (char *)"h"},
        {(char *)"web", (char *)"b", (char *)"sha256:b", NULL, (char *)"h"},
    };
    struct store_release bad;
    memset(&bad, 0, sizeof(bad));
    bad.kind = (char *)"update";
    bad.model_json = (char *)"{}";
    bad.services = dup;
    bad.nservices = 2;
    zp_err_init(&err);
    assert_int_equal(store_release_add(s, &bad, &err), ZP_E_CONFLICT);
    assert_non_null(strstr(err.msg, "service 'web'"));
    assert_int_equal(bad.id, 0);
    assert_int_equal(store_release_list(s, &list, &n, &err), 0);
    assert_int_equal(n, 4);
    store_releases_free(list, n);
    store_close(s);
}

static void test_status_and_latest(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f, "app");
    struct zp_err err;
    zp_err_init(&err);
    struct store_release r;
    assert_int_equal(store_release_latest(s, -1, &r, &err), ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "no release yet");

    add_release(s, "a", STORE_RELEASE_DEPLOYED, 1);
    add_release(s, "b", STORE_RELEASE_DEPLOYING, 1);
    add_release(s, "c", STORE_RELEASE_DEPLOYING, 1);

    zp_err_init(&err);
    assert_int_equal(store_release_latest(s, -1, &r, &err), 0);
    assert_int_equal(r.id, 3);
    store_release_release(&r);
    assert_int_equal(store_release_latest(s, STORE_RELEASE_DEPLOYED, &r, &err), 0);
    assert_int_equal(r.id, 1);
    assert_string_equal(r.services[0].image_ref, "img-a-0");
    store_release_release(&r);
    assert_int_equal(store_release_latest(s, STORE_RELEASE_FAILED, &r, &err), ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "no failed release");

    /* 2 becomes the running one, 1 superseded, 3 fails with a note */
    zp_err_init(&err);
    assert_int_equal(store_release_set_status(s, 2, STORE_RELEASE_DEPLOYED, NULL, &err), 0);
    assert_int_equal(store_release_set_status(s, 1, STORE_RELEASE_SUPERSEDED, NULL, &err), 0);
    assert_int_equal(
        store_release_set_status(s, 3, STORE_RELEASE_FAILED, "health check of web failed", &err),
        0);
    assert_int_equal(store_release_latest(s, STORE_RELEASE_DEPLOYED, &r, &err), 0);
    assert_int_equal(r.id, 2);
    store_release_release(&r);
    assert_int_equal(store_release_latest(s, STORE_RELEASE_FAILED, &r, &err), 0);
    assert_int_equal(r.id, 3);
    assert_string_equal(r.note, "health check of web failed");
    store_release_release(&r);
    /* a NULL note keeps the old one */
    assert_int_equal(store_release_set_status(s, 3, STORE_RELEASE_SUPERSEDED, NULL, &err), 0);
    assert_int_equal(store_release_get(s, 3, &r, &err), 0);
    assert_int_equal(r.status, STORE_RELEASE_SUPERSEDED);
    assert_string_equal(r.note, "health check of web failed");
    store_release_release(&r);
    assert_int_equal(store_release_latest(s, STORE_RELEASE_DEPLOYING, &r, &err), ZP_E_NOTFOUND);

    zp_err_init(&err);
    assert_int_equal(store_release_set_status(s, 77, STORE_RELEASE_FAILED, "x", &err),
                     ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "no release 77");

    assert_string_equal(store_release_status_name(STORE_RELEASE_DEPLOYING), "deploying");
    assert_string_equal(store_release_status_name(STORE_RELEASE_DEPLOYED), "deployed");
    assert_string_equal(store_release_status_name(STORE_RELEASE_FAILED), "failed");
    assert_string_equal(store_release_status_name(STORE_RELEASE_SUPERSEDED), "superseded");
    store_close(s);
}

static size_t count_services(const char *db, int64_t id)
{
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open_v2(db, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(raw,
                                        "SELECT count(*) FROM release_services "
                                        "WHERE release_id = ?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    size_t n = (size_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(raw);
    return n;
}

static void test_prune(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f, "app");
    /* 1 deployed long ago, 2 the running one, then failed attempts and one in progress */
    add_release(s, "r1", STORE_RELEASE_DEPLOYED, 1);
    add_release(s, "r2", STORE_RELEASE_DEPLOYED, 2);
    add_release(s, "r3", STORE_RELEASE_FAILED, 1);
    add_release(s, "r4", STORE_RELEASE_FAILED, 1);
    add_release(s, "r5", STORE_RELEASE_FAILED, 1);
    add_release(s, "r6", STORE_RELEASE_DEPLOYING, 1);
    struct zp_err err;
    zp_err_init(&err);
    struct store_release *pruned = NULL, *list = NULL;
    size_t n = 0, nl = 0;
    assert_int_equal(count_services(store_path(s), 3), 1);

    /* recording 2 DEPLOYED superseded 1 in the same transaction: one deployed at most */
    struct store_release r1;
    assert_int_equal(store_release_get(s, 1, &r1, &err), 0);
    assert_int_equal(r1.status, STORE_RELEASE_SUPERSEDED);
    store_release_release(&r1);
    /* keep 3: 6, 5, 4 stay, 2 stays (the newest deployed); 3 and the superseded 1 go */
    assert_int_equal(store_release_prune(s, 3, &pruned, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(pruned[0].id, 3);
    assert_int_equal(pruned[1].id, 1);
    assert_int_equal(pruned[1].status, STORE_RELEASE_SUPERSEDED);
    assert_int_equal(pruned[0].nservices, 1);
    assert_string_equal(pruned[0].services[0].keep_tag, "zpanel-release/r3:0");
    assert_string_equal(pruned[1].services[0].image_id, "sha256:r10");
    store_releases_free(pruned, n);
    assert_int_equal(count_services(store_path(s), 3), 0);
    assert_int_equal(count_services(store_path(s), 1), 0);
    struct store_release r;
    assert_int_equal(store_release_get(s, 3, &r, &err), ZP_E_NOTFOUND);

    assert_int_equal(store_release_list(s, &list, &nl, &err), 0);
    assert_int_equal(nl, 4);
    static const int64_t after[] = {6, 5, 4, 2};
    for (size_t i = 0; i < nl; i++)
        assert_int_equal(list[i].id, after[i]);
    store_releases_free(list, nl);

    /* nothing more to prune */
    pruned = (struct store_release *)&n; /* must be overwritten */
    assert_int_equal(store_release_prune(s, 4, &pruned, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_null(pruned);

    /* keep 1: only 6 and the deployed 2 stay */
    assert_int_equal(store_release_prune(s, 1, &pruned, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(pruned[0].id, 5);
    assert_int_equal(pruned[1].id, 4);
    store_releases_free(pruned, n);

    /* keep 0: everything but the deployed one */
    assert_int_equal(store_release_prune(s, 0, &pruned, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pruned[0].id, 6);
    store_releases_free(pruned, n);
    assert_int_equal(store_release_list(s, &list, &nl, &err), 0);
    assert_int_equal(nl, 1);
    assert_int_equal(list[0].id, 2);
    assert_int_equal(list[0].nservices, 2);
    store_releases_free(list, nl);

    /* ids are never reused, even for deleted newest ones (keep tags carry them) */
    assert_int_equal(add_release(s, "r7", STORE_RELEASE_DEPLOYING, 1), 7);

    /* with no deployed release at all, keep counts alone */
    assert_int_equal(store_release_set_status(s, 2, STORE_RELEASE_SUPERSEDED, NULL, &err), 0);
    assert_int_equal(store_release_prune(s, 1, &pruned, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pruned[0].id, 2);
    store_releases_free(pruned, n);
    store_close(s);
}

/* The recorded model (the environment's values with it) is sealed at rest under the state
 * directory's secret.key; reading gives it back; a model recorded in clear still reads. */
static void test_model_sealed(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f, "sealed");
    add_release(s, "pw-3f9a1c", STORE_RELEASE_DEPLOYED, 1);
    struct zp_err err;
    zp_err_init(&err);
    struct store_release r;
    assert_int_equal(store_release_get(s, 1, &r, &err), 0);
    assert_string_equal(r.model_json, "{\"name\":\"pw-3f9a1c\"}");
    store_release_release(&r);
    store_close(s);

    char *db = NULL, *key = NULL;
    assert_true(asprintf(&db, "%s/projects/sealed.db", f->dir) > 0);
    assert_true(asprintf(&key, "%s/secret.key", f->dir) > 0);
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(raw, "SELECT model_json FROM releases WHERE id = 1", -1, &q, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    const char *stored = (const char *)sqlite3_column_text(q, 0);
    assert_non_null(stored);
    assert_true(strncmp(stored, "zpenc:v1:", 9) == 0);
    assert_null(strstr(stored, "pw-3f9a1c"));
    sqlite3_finalize(q);
    /* a release recorded before models were sealed */
    assert_int_equal(sqlite3_exec(raw, "UPDATE releases SET model_json = '{\"name\":\"old\"}'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    s = open_ok(f, "sealed");
    assert_int_equal(store_release_get(s, 1, &r, &err), 0);
    assert_string_equal(r.model_json, "{\"name\":\"old\"}");
    store_release_release(&r);
    store_close(s);
    free(db);
    free(key);
}

static void test_reopen(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f, "persist");
    add_release(s, "p1", STORE_RELEASE_SUPERSEDED, 1);
    add_release(s, "p2", STORE_RELEASE_DEPLOYED, 3);
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(store_release_set_status(s, 1, STORE_RELEASE_FAILED, "kept", &err), 0);
    store_close(s);

    s = open_ok(f, "persist");
    struct store_release *list = NULL;
    size_t n = 0;
    assert_int_equal(store_release_list(s, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, 2);
    assert_int_equal(list[0].status, STORE_RELEASE_DEPLOYED);
    assert_int_equal(list[0].nservices, 3);
    assert_string_equal(list[0].services[2].config_hash, "hash-p2-2");
    assert_int_equal(list[1].status, STORE_RELEASE_FAILED);
    assert_string_equal(list[1].note, "kept");
    store_releases_free(list, n);
    assert_int_equal(add_release(s, "p3", STORE_RELEASE_DEPLOYING, 0), 3);
    store_close(s);

    /* projects are separate files */
    s = open_ok(f, "persist2");
    struct store_release r;
    assert_int_equal(store_release_latest(s, -1, &r, &err), ZP_E_NOTFOUND);
    store_close(s);
}

/* ---- two connections ---- */

struct holder {
    sqlite3 *raw;
    int delay_ms;
};

static void *release_lock_later(void *arg)
{
    struct holder *h = arg;
    struct timespec ts = {h->delay_ms / 1000, (long)(h->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    sqlite3_exec(h->raw, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

static void test_two_writers(void **state)
{
    struct fixture *f = *state;
    struct store *a = open_ok(f, "shared");
    struct store *b = open_ok(f, "shared");
    assert_int_equal(add_release(a, "a1", STORE_RELEASE_DEPLOYED, 1), 1);
    assert_int_equal(add_release(b, "b1", STORE_RELEASE_DEPLOYING, 1), 2);
    struct zp_err err;
    zp_err_init(&err);
    struct store_release r;
    assert_int_equal(store_release_latest(a, -1, &r, &err), 0);
    assert_int_equal(r.id, 2);
    store_release_release(&r);

    /* another process holds the write lock for a while: the busy timeout waits for it */
    struct holder h = {NULL, 300};
    assert_int_equal(sqlite3_open(store_path(a), &h.raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h.raw, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, release_lock_later, &h), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(add_release(b, "b2", STORE_RELEASE_DEPLOYING, 1), 3);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(t, NULL);
    sqlite3_close(h.raw);
    long waited_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(waited_ms >= 200);
    store_close(a);
    store_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_dir),
        cmocka_unit_test_setup_teardown(test_project_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_creates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_not_sqlite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_newer_and_foreign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_get_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_and_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_sealed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_writers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

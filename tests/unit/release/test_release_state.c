/* Unit tests for the release state under failure: a write that fails at any point of a
 * state change (a full disk, through a VFS shim that fails the Nth write) leaves the state
 * exactly as before, never two releases DEPLOYED, and the rollback target stays right;
 * readers work on a read-only state directory; a relative ZPANEL_STATE_DIR becomes
 * absolute. */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "release/release.h"
#include "store/store.h"

/* ---- a VFS that fails writes on request (SQLITE_FULL, as a full disk does) ---- */

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;
static int writes_left = -1; /* -1: never fail; n: the (n+1)th write and all later fail */
static int writes_failed;

struct shim_file {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct in the same allocation */
};

static int fail_now(void)
{
    if (writes_left < 0)
        return 0;
    if (writes_left == 0) {
        writes_failed++;
        return 1;
    }
    writes_left--;
    return 0;
}

#define REAL(f) (((struct shim_file *)(f))->real)

static int x_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}
static int x_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), b, n, off);
}
static int x_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
    if (fail_now())
        return SQLITE_FULL;
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, off);
}
static int x_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    if (fail_now())
        return SQLITE_IOERR_TRUNCATE;
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int x_sync(sqlite3_file *f, int flags)
{
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int x_size(sqlite3_file *f, sqlite3_int64 *ret)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), ret);
}
static int x_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int x_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int x_check(sqlite3_file *f, int *ret)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), ret);
}
static int x_fcntl(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int x_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int x_dev(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int x_shm_map(sqlite3_file *f, int i, int sz, int ext, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, ext, pp);
}
static int x_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void x_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int x_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

/* version 2: no memory-mapped I/O, so every page goes through x_write */
static const sqlite3_io_methods shim_io = {
    2,          x_close,       x_read,      x_write, x_truncate, x_sync, x_size,
    x_lock,     x_unlock,      x_check,     x_fcntl, x_sector,   x_dev,  x_shm_map,
    x_shm_lock, x_shm_barrier, x_shm_unmap, NULL,    NULL,
};

static int x_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    (void)vfs;
    struct shim_file *s = (struct shim_file *)f;
    s->real = (sqlite3_file *)(s + 1);
    int rc = real_vfs->xOpen(real_vfs, name, s->real, flags, out);
    f->pMethods = s->real->pMethods != NULL ? &shim_io : NULL;
    return rc;
}

static void shim_install(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    shim_vfs = *real_vfs;
    shim_vfs.zName = "zp-faulty";
    shim_vfs.szOsFile = (int)sizeof(struct shim_file) + real_vfs->szOsFile;
    shim_vfs.xOpen = x_open;
    /* the default from now on: the store opens with it */
    assert_int_equal(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK);
}

static void shim_remove(void)
{
    sqlite3_vfs_unregister(&shim_vfs);
}

/* ---- helpers ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct store *open_ok(const char *dir)
{
    struct store *s = NULL;
    struct zp_err err;
    zp_err_init(&err);
    if (store_open(dir, "app", &s, &err) != 0)
        fail_msg("store_open: %s", err.msg);
    return s;
}

static int64_t add(struct store *s, enum store_release_status st)
{
    struct store_release_service sv = {
        .service = (char *)"web",
        .image_ref = (char *)"app-web",
        .image_id = (char *)"sha256:0123",
        .keep_tag = (char *)"zpanel-release/app-web:0",
        .config_hash = (char *)"hash",
    };
    struct store_release r = {
        .kind = (char *)"update",
        .status = st,
        .model_json = (char *)"{}\n",
        .services = &sv,
        .nservices = 1,
    };
    struct zp_err err;
    zp_err_init(&err);
    if (store_release_add(s, &r, &err) != 0)
        fail_msg("store_release_add: %s", err.msg);
    return r.id;
}

/* The statuses of releases 1..n as a string ("SDF..."), and the rollback target. */
static void state_of(const char *dir, char *ret, size_t cap, int64_t *ret_target)
{
    struct store *s = open_ok(dir);
    struct store_release *list = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(store_release_list(s, &list, &n, &err), 0);
    assert_true(n < cap);
    memset(ret, 0, cap);
    size_t deployed = 0;
    for (size_t i = 0; i < n; i++) {
        static const char letter[] = {'P', 'D', 'F', 'S'};
        ret[n - 1 - i] = letter[list[i].status];
        deployed += list[i].status == STORE_RELEASE_DEPLOYED;
    }
    /* the invariant whatever failed: at most one release is the running one */
    assert_true(deployed <= 1);
    *ret_target = 0;
    zp_err_init(&err);
    if (release_pick_target(list, n, 0, ret_target, &err) != 0)
        *ret_target = -1;
    store_releases_free(list, n);
    store_close(s);
}

/* A fresh state: 1 superseded, 2 deployed (the running one), 3 being deployed. */
static void base_state(char *dir)
{
    strcpy(dir, "/tmp/zp-rstate-XXXXXX");
    assert_non_null(mkdtemp(dir));
    struct store *s = open_ok(dir);
    add(s, STORE_RELEASE_SUPERSEDED);
    add(s, STORE_RELEASE_DEPLOYED);
    add(s, STORE_RELEASE_DEPLOYING);
    store_close(s);
}

enum change { MARK_DEPLOYED, ADD_DEPLOYED, FAIL_STALE, PRUNE };

static int apply(struct store *s, enum change c, struct zp_err *err)
{
    struct store_release *pruned = NULL;
    size_t n = 0;
    int rc;
    switch (c) {
    case MARK_DEPLOYED: /* update's success: 3 deployed, 2 superseded */
        return store_release_set_status(s, 3, STORE_RELEASE_DEPLOYED, NULL, err);
    case ADD_DEPLOYED: { /* up's record: 4 deployed, 2 superseded */
        struct store_release r = {
            .kind = (char *)"up", .status = STORE_RELEASE_DEPLOYED, .model_json = (char *)"{}"};
        return store_release_add(s, &r, err);
    }
    case FAIL_STALE:
        return store_release_fail_stale(s, "interrupted", NULL, err);
    case PRUNE:
        rc = store_release_prune(s, 1, &pruned, &n, err);
        store_releases_free(pruned, n);
        return rc;
    }
    return -1;
}

/* Fail the change at every write it makes: afterwards the state is either all before or
 * all after, never between. */
static void check_change(enum change c, const char *after, int64_t after_target)
{
    int failures = 0, successes = 0;
    for (int k = 0; k < 64 && successes == 0; k++) {
        char dir[64], got[16];
        int64_t target;
        base_state(dir);
        struct store *s = open_ok(dir);
        struct zp_err err;
        zp_err_init(&err);
        writes_failed = 0;
        writes_left = k;
        int rc = apply(s, c, &err);
        writes_left = -1;
        if (rc != 0) {
            assert_true(writes_failed > 0); /* it failed because a write did */
            assert_int_equal(rc, ZP_E_SYSTEM);
            assert_non_null(strstr(err.msg, "state database"));
        }
        store_close(s); /* a crash would leave the same files */
        state_of(dir, got, sizeof(got), &target);
        if (rc == 0) {
            successes++;
            assert_string_equal(got, after);
            assert_int_equal(target, after_target);
        } else {
            failures++;
            assert_string_equal(got, "SDP"); /* exactly the state before */
            assert_int_equal(target, 1);     /* rollback still goes to 1, before 2 */
        }
        rm_tree(dir);
    }
    assert_true(failures > 0); /* the shim made writes fail */
    assert_int_equal(successes, 1);
}

static void test_failed_writes_keep_state(void **state)
{
    (void)state;
    shim_install();
    check_change(MARK_DEPLOYED, "SSD", 2);
    check_change(ADD_DEPLOYED, "SSPD", 2);
    check_change(FAIL_STALE, "SDF", 1);
    check_change(PRUNE, "DP", -1); /* 3 newest and 2 running stay: nothing before 2 */
    shim_remove();
}

/* ---- readers on a read-only state directory ---- */

/* In a child that cannot write dir (nobody when we are root, else after chmod): list. */
static int list_as_reader(const char *dir, bool root)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (root && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(10);
        struct store *w = NULL;
        struct zp_err err;
        zp_err_init(&err);
        /* the premise: this process cannot write the state */
        if (store_open(dir, "app", &w, &err) == 0) {
            store_close(w);
            _exit(11);
        }
        struct store_release *list = NULL;
        size_t n = 0;
        zp_err_init(&err);
        if (release_list(dir, "app", &list, &n, &err) != 0) {
            fprintf(stderr, "release_list: %s\n", err.msg);
            _exit(12);
        }
        int ok = n == 3 && list[0].id == 3 && list[2].status == STORE_RELEASE_SUPERSEDED;
        store_releases_free(list, n);
        /* a project without state has no release, and nothing is created */
        zp_err_init(&err);
        if (release_list(dir, "other", &list, &n, &err) != 0 || n != 0)
            _exit(13);
        _exit(ok ? 0 : 14);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

static void test_readonly_readers(void **state)
{
    (void)state;
    char dir[64];
    base_state(dir);
    bool root = geteuid() == 0;
    char *projects = NULL, *db = NULL;
    assert_true(asprintf(&projects, "%s/projects", dir) > 0);
    assert_true(asprintf(&db, "%s/projects/app.db", dir) > 0);
    /* readable by all, writable by nobody but root (a read-only mount for the reader) */
    assert_int_equal(chmod(dir, 0555), 0);
    assert_int_equal(chmod(projects, 0555), 0);
    assert_int_equal(chmod(db, 0444), 0);

    /* no writer open: no WAL index exists and none can be created */
    assert_int_equal(list_as_reader(dir, root), 0);
    /* a writer open (its WAL index exists): the reader shares it */
    assert_int_equal(chmod(db, 0644), 0);
    assert_int_equal(chmod(projects, 0755), 0);
    struct store *w = open_ok(dir);
    struct store_release r;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(store_release_get(w, 1, &r, &err), 0);
    store_release_release(&r);
    char *shm = NULL;
    assert_true(asprintf(&shm, "%s-shm", db) > 0);
    struct stat sb;
    assert_int_equal(stat(shm, &sb), 0);
    if (!root) {
        assert_int_equal(chmod(projects, 0555), 0);
        assert_int_equal(chmod(db, 0444), 0);
    }
    assert_int_equal(list_as_reader(dir, root), 0);
    store_close(w);
    chmod(dir, 0700);
    chmod(projects, 0700);
    rm_tree(dir);
    free(shm);
    free(projects);
    free(db);
}

/* ---- the state directory's path ---- */

static void test_relative_state_dir(void **state)
{
    (void)state;
    char *cwd = getcwd(NULL, 0);
    assert_non_null(cwd);
    setenv("ZPANEL_STATE_DIR", "rel/state", 1);
    char *d = store_state_dir();
    char *want = NULL;
    assert_true(asprintf(&want, "%s/rel/state", cwd) > 0);
    assert_string_equal(d, want); /* absolute: the same state whichever directory follows */
    free(d);
    free(want);
    setenv("ZPANEL_STATE_DIR", "/abs/state", 1);
    d = store_state_dir();
    assert_string_equal(d, "/abs/state");
    free(d);
    unsetenv("ZPANEL_STATE_DIR");
    free(cwd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_writes_keep_state),
        cmocka_unit_test(test_readonly_readers),
        cmocka_unit_test(test_relative_state_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for backup/: manifest JSON, path rules, checksums, the entry rules verify and
 * restore share, verify on archives written here through archive/ (good, damaged,
 * hostile, truncated), and restore of bind sections into a temporary project. */
#define _GNU_SOURCE
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

#include "archive/archive.h"
#include "backup/backup-int.h"
#include "backup/backup.h"

#include "util/banned.h"

/* ---- manifest ---- */

static void manifest_round_trip(void **state)
{
    (void)state;
    char k0[] = "data", n0[] = "app_data", k1[] = "site/html", k2[] = "compose.yaml";
    char ver[] = "0.1.0", proj[] = "app", when[] = "2024-01-02T03:04:05Z";
    struct backup_section secs[3] = {
        {BACKUP_VOLUME, k0, n0, 12345, 7, ""},
        {BACKUP_BIND, k1, NULL, 6, 2, ""},
        {BACKUP_FILE, k2, NULL, 154, 1, ""},
    };
    memset(secs[0].sha256, 'a', 64);
    memset(secs[1].sha256, 'b', 64);
    memset(secs[2].sha256, 'c', 64);
    struct backup_manifest m = {BACKUP_FORMAT, ver, proj, when, secs, 3};
    struct zp_buf b = ZP_BUF_INIT;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(backup_manifest_to_json(&m, &b, &err), 0);
    struct backup_manifest back;
    assert_int_equal(backup_manifest_parse(b.p, b.len, &back, &err), 0);
    assert_int_equal(back.n, 3);
    assert_string_equal(back.project, "app");
    assert_string_equal(back.created, "2024-01-02T03:04:05Z");
    assert_string_equal(back.zpanel_version, "0.1.0");
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(back.sections[i].kind, secs[i].kind);
        assert_string_equal(back.sections[i].key, secs[i].key);
        assert_int_equal(back.sections[i].size, secs[i].size);
        assert_int_equal(back.sections[i].files, secs[i].files);
        assert_string_equal(back.sections[i].sha256, secs[i].sha256);
    }
    assert_string_equal(back.sections[0].name, "app_data");
    assert_null(back.sections[1].name);
    struct zp_buf again = ZP_BUF_INIT;
    assert_int_equal(backup_manifest_to_json(&back, &again, &err), 0);
    assert_string_equal(again.p, b.p);
    assert_non_null(backup_manifest_find(&back, BACKUP_BIND, "site/html"));
    assert_null(backup_manifest_find(&back, BACKUP_VOLUME, "site/html"));
    backup_manifest_release(&back);
    zp_buf_release(&again);
    zp_buf_release(&b);
}

static void manifest_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[]",
        "{\"format\": 1, \"zpanel_version\": \"x\", \"project\": \"p\", \"created\": \"t\", "
        "\"volumes\": [], \"binds\": [], \"files\": []}",
        "{\"format\": 2, \"zpanel_version\": \"x\", \"project\": \"p\", \"created\": \"t\", "
        "\"volumes\": [{\"key\": \"../x\", \"name\": \"n\", \"size\": 1, \"files\": 1, "
        "\"sha256\": \"" /* 64 hex */
        "0000000000000000000000000000000000000000000000000000000000000000\"}], \"binds\": [], "
        "\"files\": []}",
        "{\"format\": 2, \"zpanel_version\": \"x\", \"project\": \"p\", \"created\": \"t\", "
        "\"volumes\": [{\"key\": \"a\", \"name\": \"n\", \"size\": -1, \"files\": 1, "
        "\"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\"}], "
        "\"binds\": [], \"files\": []}",
        "{\"format\": 2, \"zpanel_version\": \"x\", \"project\": \"p\", \"created\": \"t\", "
        "\"volumes\": [{\"key\": \"a\", \"name\": \"n\", \"size\": 1, \"files\": 1, "
        "\"sha256\": \"XYZ\"}], \"binds\": [], \"files\": []}",
        "{\"format\": 2, \"zpanel_version\": \"x\", \"project\": \"p\", \"created\": \"t\", "
        "\"volumes\": [], \"binds\": [], \"files\": [{\"path\": \"/etc/passwd\", \"size\": 1, "
        "\"files\": 1, \"sha256\": "
        "\"0000000000000000000000000000000000000000000000000000000000000000\"}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct zp_err err;
        zp_err_init(&err);
        struct backup_manifest m;
        assert_int_equal(backup_manifest_parse(bad[i], strlen(bad[i]), &m, &err), ZP_E_INPUT);
        assert_true(strstr(err.msg, "manifest.json") != NULL);
    }
}

/* ---- path rules ---- */

static void path_rules(void **state)
{
    (void)state;
    struct zp_err err;
    static const char *const good[] = {"", "a", "a b/c", "dir/.hidden", "x..y", "héllo"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        zp_err_init(&err);
        assert_int_equal(backup_check_path(good[i], strlen(good[i]), &err), 0);
    }
    static const char *const bad[] = {"/etc", "../x", "a/../../b", "a//b",
                                      "a/",   "./a",  "a/.",       ".."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        zp_err_init(&err);
        assert_int_equal(backup_check_path(bad[i], strlen(bad[i]), &err), ZP_E_INPUT);
    }
    zp_err_init(&err);
    assert_int_equal(backup_check_path("a\0b", 3, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "NUL"));
    char *lng = zp_malloc(BACKUP_MAX_PATH + 2);
    memset(lng, 'a', BACKUP_MAX_PATH + 1);
    lng[BACKUP_MAX_PATH + 1] = '\0';
    zp_err_init(&err);
    assert_int_equal(backup_check_path(lng, strlen(lng), &err), ZP_E_INPUT);
    free(lng);

    zp_err_init(&err);
    assert_int_equal(backup_check_key(BACKUP_VOLUME, "a/b", &err), ZP_E_INPUT);
    zp_err_init(&err);
    assert_int_equal(backup_check_key(BACKUP_BIND, "a/b", &err), 0);
    zp_err_init(&err);
    assert_int_equal(backup_check_key(BACKUP_FILE, "", &err), ZP_E_INPUT);

    static const char *const links_ok[][2] = {
        {"l", "a"}, {"d/l", "../a"}, {"d/e/l", "../../a"}, {"l", "./a/b"}, {"d/l", "../a/./b/"}};
    for (size_t i = 0; i < sizeof(links_ok) / sizeof(links_ok[0]); i++) {
        zp_err_init(&err);
        assert_int_equal(backup_check_symlink(links_ok[i][0], links_ok[i][1], &err), 0);
    }
    static const char *const links_bad[][2] = {{"l", "/etc/passwd"}, {"l", "../a"},
                                               {"d/l", "../../a"},   {"l", ""},
                                               {"l", "a/../b"},      {"l", "a/l/a/l/../../.."}};
    for (size_t i = 0; i < sizeof(links_bad) / sizeof(links_bad[0]); i++) {
        zp_err_init(&err);
        assert_int_equal(backup_check_symlink(links_bad[i][0], links_bad[i][1], &err), ZP_E_INPUT);
    }
}

/* ---- checksums ---- */

struct ent {
    const char *path;
    enum backup_type type;
    unsigned mode;
    int uid;
    const char *content; /* files; link target for links */
};

static void digest_of(const struct ent *e, size_t n, char hex[65], uint64_t *size, uint64_t *files)
{
    struct backup_digest *d = backup_digest_new();
    for (size_t k = 0; k < n; k++) {
        const struct ent *x = &e[k];
        const char *link = x->type == BACKUP_T_FILE ? NULL : x->content;
        backup_digest_begin(d, x->path, x->type, x->mode, x->uid, x->uid, link);
        if (x->type == BACKUP_T_FILE) {
            /* in two pieces: chunking must not matter */
            size_t len = strlen(x->content);
            backup_digest_data(d, x->content, len / 2);
            backup_digest_data(d, x->content + len / 2, len - len / 2);
        }
        backup_digest_end(d);
    }
    backup_digest_finish(d, hex, size, files);
    backup_digest_free(d);
}

static const struct ent tree[] = {
    {"", BACKUP_T_DIR, 0755, 0, NULL},     {"a", BACKUP_T_FILE, 0644, 0, "hello"},
    {"d", BACKUP_T_DIR, 0700, 1234, NULL}, {"d/b", BACKUP_T_FILE, 04755, 1234, "world!"},
    {"l", BACKUP_T_SYMLINK, 0777, 0, "a"},
};

static void checksum_fields(void **state)
{
    (void)state;
    char h1[65], h2[65];
    uint64_t s1, f1, s2, f2;
    digest_of(tree, 5, h1, &s1, &f1);
    digest_of(tree, 5, h2, &s2, &f2);
    assert_string_equal(h1, h2);
    assert_int_equal(s1, 11);
    assert_int_equal(f1, 5);
    /* a different mode, owner, content, link target or entry type changes it */
    struct ent changed[5];
    for (size_t field = 0; field < 5; field++) {
        memcpy(changed, tree, sizeof(tree));
        if (field == 0)
            changed[3].mode = 0755;
        else if (field == 1)
            changed[2].uid = 0;
        else if (field == 2)
            changed[1].content = "hellO";
        else if (field == 3)
            changed[4].content = "d/b";
        else
            changed[4].type = BACKUP_T_HARDLINK;
        char hx[65];
        uint64_t sx, fx;
        digest_of(changed, 5, hx, &sx, &fx);
        assert_string_not_equal(hx, h1);
    }
}

static void path_order(void **state)
{
    (void)state;
    /* component by component: a directory's entries follow it, before its siblings */
    static const char *const sorted[] = {"", "a", "a/b", "a/b/c", "a-c", "a.d", "b", "é"};
    size_t n = sizeof(sorted) / sizeof(sorted[0]);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++)
            assert_int_equal(backup_path_cmp(sorted[i], sorted[k]) < 0, i < k);
}

/* ---- archives written here ---- */

struct arc {
    struct zp_buf data;
};

/* An entry by its archive name; content: a file's bytes, a symbolic link's target, a hard
 * link's target (archive name). */
struct rent {
    const char *name;
    enum backup_type type;
    const char *content;
    unsigned mode; /* 0: 0755 for directories, 0644 otherwise */
};

static void put(struct arc_writer *w, const struct rent *r)
{
    struct zp_err err;
    zp_err_init(&err);
    struct arc_entry e = {.path = r->name, .uid = getuid(), .gid = getgid(), .mtime = 1700000000};
    e.mode = r->mode ? r->mode : r->type == BACKUP_T_DIR ? 0755 : 0644;
    size_t len = 0;
    if (r->type == BACKUP_T_DIR) {
        e.type = ARC_DIR;
    } else if (r->type == BACKUP_T_SYMLINK) {
        e.type = ARC_SYMLINK;
        e.link = r->content;
    } else if (r->type == BACKUP_T_HARDLINK) {
        e.type = ARC_HARDLINK;
        e.link = r->content;
    } else {
        e.type = ARC_FILE;
        len = strlen(r->content);
        e.size = (int64_t)len;
    }
    assert_int_equal(arc_writer_header(w, &e, &err), 0);
    assert_int_equal(arc_writer_data(w, r->content, len, &err), 0);
}

/* Write ents, then (with manifest) a manifest of their real checksums, whatever they hold:
 * a hostile archive with valid checksums. gzip or not. */
static void build_raw(struct arc *c, const struct rent *ents, size_t n, bool gzip, bool manifest)
{
    char tmp[] = "/tmp/zp-test-arc-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    struct zp_err err;
    zp_err_init(&err);
    struct arc_writer *w = NULL;
    assert_int_equal(arc_writer_open_fd(fd, gzip ? ARC_GZIP : ARC_PLAIN, &w, &err), 0);
    struct backup_section secs[8];
    char *keys[8];
    struct backup_digest *dg[8];
    size_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        put(w, &ents[i]);
        enum backup_kind kind;
        char *key = NULL;
        const char *rel = NULL;
        zp_err_init(&err);
        if (backup__split(ents[i].name, &kind, &key, &rel, &err) != 0)
            continue; /* an unknown entry: not in the manifest */
        if (ns == 0 || secs[ns - 1].kind != kind || strcmp(keys[ns - 1], key) != 0) {
            assert_true(ns < 8);
            memset(&secs[ns], 0, sizeof(secs[ns]));
            secs[ns].kind = kind;
            secs[ns].key = keys[ns] = key;
            secs[ns].name = kind == BACKUP_VOLUME ? (char *)"p_data" : NULL;
            dg[ns++] = backup_digest_new();
        } else {
            free(key);
        }
        char *r = zp_strdup(rel);
        if (r[0] && r[strlen(r) - 1] == '/')
            r[strlen(r) - 1] = '\0';
        const char *link = NULL;
        char *lkey = NULL;
        if (ents[i].type == BACKUP_T_SYMLINK) {
            link = ents[i].content;
        } else if (ents[i].type == BACKUP_T_HARDLINK) {
            enum backup_kind lk;
            zp_err_init(&err);
            if (backup__split(ents[i].content, &lk, &lkey, &link, &err) != 0)
                link = ents[i].content;
        }
        unsigned mode = ents[i].mode ? ents[i].mode : ents[i].type == BACKUP_T_DIR ? 0755 : 0644;
        backup_digest_begin(dg[ns - 1], r, ents[i].type, mode, getuid(), getgid(), link);
        if (ents[i].type == BACKUP_T_FILE)
            backup_digest_data(dg[ns - 1], ents[i].content, strlen(ents[i].content));
        backup_digest_end(dg[ns - 1]);
        free(lkey);
        free(r);
    }
    for (size_t i = 0; i < ns; i++) {
        backup_digest_finish(dg[i], secs[i].sha256, &secs[i].size, &secs[i].files);
        backup_digest_free(dg[i]);
    }
    if (manifest) {
        char ver[] = "0.1.0", proj[] = "p", when[] = "2024-01-01T00:00:00Z";
        struct backup_manifest m = {BACKUP_FORMAT, ver, proj, when, secs, ns};
        struct zp_buf mj = ZP_BUF_INIT;
        zp_err_init(&err);
        assert_int_equal(backup_manifest_to_json(&m, &mj, &err), 0);
        const struct rent me = {"manifest.json", BACKUP_T_FILE, mj.p, 0};
        put(w, &me);
        zp_buf_release(&mj);
    }
    for (size_t i = 0; i < ns; i++)
        free(keys[i]);
    assert_int_equal(arc_writer_close(w, &err), 0);
    arc_writer_free(w);
    close(fd);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(zp_file_read(tmp, (size_t)1 << 24, &data, &len, &err), 0);
    unlink(tmp);
    zp_buf_init(&c->data, 0);
    zp_buf_add(&c->data, data, len);
    free(data);
}

/* An archive of one volume "data" holding tree-like ents. */
static void build(struct arc *c, const struct ent *ents, size_t n, bool gzip)
{
    struct rent r[16];
    char *names[16];
    for (size_t i = 0; i < n; i++) {
        names[i] = ents[i].path[0] ? zp_asprintf("volumes/data/%s", ents[i].path)
                                   : zp_strdup("volumes/data/");
        r[i] = (struct rent){names[i], ents[i].type, ents[i].content, ents[i].mode};
    }
    build_raw(c, r, n, gzip, true);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
}

static int verify(const struct arc *c, struct zp_err *err)
{
    zp_err_init(err);
    struct backup_manifest m;
    int rc = backup_verify_memory(c->data.p, c->data.len, &m, err);
    if (rc == 0)
        backup_manifest_release(&m);
    return rc;
}

static void verify_good(void **state)
{
    (void)state;
    for (int gz = 0; gz < 2; gz++) {
        struct arc c;
        build(&c, tree, 5, gz == 1);
        struct zp_err err;
        assert_int_equal(verify(&c, &err), 0);
        zp_buf_release(&c.data);
    }
}

static void verify_corrupted_byte(void **state)
{
    (void)state;
    struct arc c;
    build(&c, tree, 5, false);
    /* change one byte of "world!" inside the tar */
    char *p = memmem(c.data.p, c.data.len, "world!", 6);
    assert_non_null(p);
    p[0] = 'W';
    struct zp_err err;
    assert_int_equal(verify(&c, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "checksum mismatch"));
    zp_buf_release(&c.data);
}

/* Archives with valid checksums that break one rule each: refused, naming the rule. */
static void verify_rules(void **state)
{
    (void)state;
    static const struct {
        struct rent ents[6];
        size_t n;
        const char *msg;
    } cases[] = {
        /* restore would have to write through the link */
        {{{"volumes/data/", BACKUP_T_DIR, NULL, 0},
          {"volumes/data/l", BACKUP_T_SYMLINK, "missing", 0},
          {"volumes/data/l/x", BACKUP_T_FILE, "x", 0}},
         3,
         "not a directory"},
        /* a file, then a directory of the same name */
        {{{"volumes/data/", BACKUP_T_DIR, NULL, 0},
          {"volumes/data/f", BACKUP_T_FILE, "x", 0},
          {"volumes/data/f/", BACKUP_T_DIR, NULL, 0}},
         3,
         "twice"},
        /* below a file */
        {{{"volumes/data/", BACKUP_T_DIR, NULL, 0},
          {"volumes/data/f", BACKUP_T_FILE, "x", 0},
          {"volumes/data/f/x", BACKUP_T_FILE, "x", 0}},
         3,
         "not a directory"},
        /* a parent never seen */
        {{{"volumes/data/", BACKUP_T_DIR, NULL, 0}, {"volumes/data/a/b", BACKUP_T_FILE, "x", 0}},
         2,
         "parent"},
        /* out of order */
        {{{"volumes/data/", BACKUP_T_DIR, NULL, 0},
          {"volumes/data/b", BACKUP_T_FILE, "x", 0},
          {"volumes/data/a", BACKUP_T_FILE, "x", 0}},
         3,
         "out of order"},
        /* the root after an entry */
        {{{"volumes/data/a", BACKUP_T_FILE, "x", 0}, {"volumes/data/", BACKUP_T_DIR, NULL, 0}},
         2,
         "before the root"},
        /* a chain of links, each inside on its own, that leaves the root */
        {{{"volumes/data/", BACKUP_T_DIR, NULL, 0},
          {"volumes/data/a/", BACKUP_T_DIR, NULL, 0},
          {"volumes/data/a/l", BACKUP_T_SYMLINK, "..", 0},
          {"volumes/data/m", BACKUP_T_SYMLINK, "a/l/a/l/../../..", 0}},
         4,
         "'..' after a name"},
        /* hard links: to a directory, to a later file, to a symbolic link */
        {{{"volumes/data/", BACKUP_T_DIR, NULL, 0},
          {"volumes/data/d/", BACKUP_T_DIR, NULL, 0},
          {"volumes/data/h", BACKUP_T_HARDLINK, "volumes/data/d", 0}},
         3,
         "earlier regular file"},
        {{{"volumes/data/", BACKUP_T_DIR, NULL, 0},
          {"volumes/data/a", BACKUP_T_HARDLINK, "volumes/data/b", 0},
          {"volumes/data/b", BACKUP_T_FILE, "x", 0}},
         3,
         "earlier regular file"},
        {{{"volumes/data/", BACKUP_T_DIR, NULL, 0},
          {"volumes/data/a", BACKUP_T_SYMLINK, "b", 0},
          {"volumes/data/h", BACKUP_T_HARDLINK, "volumes/data/a", 0}},
         3,
         "earlier regular file"},
        /* a file section twice */
        {{{"files/x.env", BACKUP_T_FILE, "A=1", 0},
          {"volumes/data/", BACKUP_T_DIR, NULL, 0},
          {"files/x.env", BACKUP_T_FILE, "A=2", 0}},
         3,
         "split in two"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct arc c;
        build_raw(&c, cases[i].ents, cases[i].n, false, true);
        struct zp_err err;
        int rc = verify(&c, &err);
        if (rc != ZP_E_INPUT || strstr(err.msg, cases[i].msg) == NULL)
            fail_msg("case %zu (rc %d): '%s' does not say '%s'", i, rc, err.msg, cases[i].msg);
        zp_buf_release(&c.data);
    }
    /* and the same shapes done right pass */
    const struct rent good[] = {
        {"volumes/data/", BACKUP_T_DIR, NULL, 0},
        {"volumes/data/a/", BACKUP_T_DIR, NULL, 0},
        {"volumes/data/a/f", BACKUP_T_FILE, "x", 0},
        {"volumes/data/a/l", BACKUP_T_SYMLINK, "../b", 0},
        {"volumes/data/a-c", BACKUP_T_HARDLINK, "volumes/data/a/f", 0},
        {"volumes/data/b", BACKUP_T_SYMLINK, "a/f", 0},
    };
    struct arc c;
    build_raw(&c, good, 6, false, true);
    struct zp_err err;
    if (verify(&c, &err) != 0)
        fail_msg("the good archive: %s", err.msg);
    zp_buf_release(&c.data);
}

/* The entry cap counts the whole archive, not each section. */
static void check_entries_per_archive(void **state)
{
    (void)state;
    struct backup__check c;
    backup__check_init(&c);
    c.max_entries = 10;
    struct zp_err err;
    int rc = 0;
    for (int s = 0; s < 2 && rc == 0; s++) {
        backup__check_section(&c, BACKUP_VOLUME);
        for (int i = 0; i < 6 && rc == 0; i++) {
            char rel[16] = "";
            if (i > 0)
                snprintf(rel, sizeof(rel), "f%d", i);
            struct arc_entry e = {.path = rel, .type = i ? ARC_FILE : ARC_DIR, .mode = 0644};
            enum backup_type t;
            zp_err_init(&err);
            rc = backup__check_entry(&c, rel, &e, NULL, &t, &err);
        }
    }
    assert_int_equal(rc, ZP_E_TOOBIG);
    assert_int_equal(c.entries, 11); /* 6 in the first section, the 5th of the second */
    assert_non_null(strstr(err.msg, "more than 10 entries in the archive"));
    /* sparse entries are refused */
    backup__check_section(&c, BACKUP_VOLUME);
    c.entries = 0;
    struct arc_entry root = {.path = "volumes/x/", .type = ARC_DIR, .mode = 0755};
    struct arc_entry sp = {.path = "volumes/x/s", .type = ARC_FILE, .size = 5, .sparse = true};
    enum backup_type t;
    zp_err_init(&err);
    assert_int_equal(backup__check_entry(&c, "", &root, NULL, &t, &err), 0);
    assert_int_equal(backup__check_entry(&c, "s", &sp, NULL, &t, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "sparse"));
    backup__check_release(&c);
}

static void verify_dotdot(void **state)
{
    (void)state;
    const struct ent ents[] = {
        {"", BACKUP_T_DIR, 0755, 0, NULL},
        {"../evil", BACKUP_T_FILE, 0644, 0, "x"},
    };
    struct arc c;
    build(&c, ents, 2, false);
    struct zp_err err;
    assert_int_equal(verify(&c, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, ".."));
    zp_buf_release(&c.data);
}

static void verify_absolute_symlink(void **state)
{
    (void)state;
    const struct ent ents[] = {
        {"", BACKUP_T_DIR, 0755, 0, NULL},
        {"l", BACKUP_T_SYMLINK, 0777, 0, "/etc/shadow"},
    };
    struct arc c;
    build(&c, ents, 2, false);
    struct zp_err err;
    assert_int_equal(verify(&c, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "absolute"));
    zp_buf_release(&c.data);
}

static void verify_truncated(void **state)
{
    (void)state;
    for (int gz = 0; gz < 2; gz++) {
        struct arc c;
        build(&c, tree, 5, gz == 1);
        /* cut anywhere before the manifest's last byte (a plain tar cut only in its end
         * padding still holds every byte of content and is accepted): never accepted */
        size_t full = c.data.len;
        if (!gz) {
            const char *mj = memmem(c.data.p, c.data.len, "{\n  \"format\"", 12);
            assert_non_null(mj);
            full = (size_t)(mj - c.data.p) + strlen(mj);
        }
        for (size_t cut = 0; cut < full; cut += gz ? 7 : 97) {
            struct arc t = {{c.data.p, cut, cut, 0}};
            struct zp_err err;
            assert_int_not_equal(verify(&t, &err), 0);
        }
        zp_buf_release(&c.data);
    }
}

static void verify_unknown_entry(void **state)
{
    (void)state;
    const struct rent ents[] = {{"etc/passwd", BACKUP_T_FILE, "root", 0}};
    struct arc c;
    build_raw(&c, ents, 1, false, false);
    struct zp_err err;
    assert_int_equal(verify(&c, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "unknown entry"));
    zp_buf_release(&c.data);
}

/* ---- restore of bind sections (no engine needed) ---- */

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A project directory "<tmp>/proj" and the archive "<tmp>/a.tar" holding ents. */
static char *write_tar(const struct rent *ents, size_t n, char **ret_proj)
{
    char *dir = zp_strdup("/tmp/zp-test-restore-XXXXXX");
    assert_non_null(mkdtemp(dir));
    *ret_proj = zp_asprintf("%s/proj", dir);
    assert_int_equal(mkdir(*ret_proj, 0755), 0);
    char *path = zp_asprintf("%s/a.tar", dir);
    free(dir);
    struct arc c;
    build_raw(&c, ents, n, false, true);
    write_file(path, c.data.p, c.data.len);
    zp_buf_release(&c.data);
    return path;
}

static int restore_binds(const char *path, const char *proj, struct zp_err *err)
{
    static const struct backup_path binds[] = {{"data", NULL}};
    struct backup_restore_spec spec = {
        .project = "p", .project_dir = proj, .binds = binds, .nbinds = 1};
    zp_err_init(err);
    return backup_restore(NULL, path, &spec, NULL, NULL, err);
}

static void remove_all(const char *path, char *proj)
{
    char *cmd = zp_asprintf("rm -rf '%s'", proj);
    char *pdir = zp_path_dir(proj);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(pdir), 0);
    free(cmd);
    free(pdir);
    free(proj);
}

static void restore_bind_good(void **state)
{
    (void)state;
    const struct rent ents[] = {
        {"binds/data/", BACKUP_T_DIR, NULL, 0},
        {"binds/data/f", BACKUP_T_FILE, "hello", 04755},
        {"binds/data/sub/", BACKUP_T_DIR, NULL, 0555},
        {"binds/data/sub/h", BACKUP_T_HARDLINK, "binds/data/f", 0},
        {"binds/data/sub/l", BACKUP_T_SYMLINK, "../f", 0},
    };
    char *proj = NULL;
    char *path = write_tar(ents, 5, &proj);
    /* the old content is replaced whole */
    char *old = zp_asprintf("%s/data", proj);
    assert_int_equal(mkdir(old, 0755), 0);
    char *oldf = zp_asprintf("%s/data/stale", proj);
    write_file(oldf, "x", 1);
    struct zp_err err;
    assert_int_equal(restore_binds(path, proj, &err), 0);
    struct stat st;
    assert_int_not_equal(lstat(oldf, &st), 0);
    char *h = zp_asprintf("%s/data/sub/h", proj);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(zp_file_read(h, 100, &data, &len, &err), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "hello", 5);
    /* setuid dropped in a bind section; the directory's own mode set after its entries */
    assert_int_equal(stat(h, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    char *sub = zp_asprintf("%s/data/sub", proj);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0555);
    /* nothing left beside it */
    char *cmd = zp_asprintf("test \"$(ls -A '%s')\" = data", proj);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(sub);
    free(data);
    free(h);
    free(old);
    free(oldf);
    remove_all(path, proj);
    free(path);
}

/* Sections the project does not declare, and content that breaks the rules: refused before
 * anything changed. */
static void restore_bind_hostile(void **state)
{
    (void)state;
    const struct rent undeclared[] = {
        {"binds/.ssh/", BACKUP_T_DIR, NULL, 0},
        {"binds/.ssh/authorized_keys", BACKUP_T_FILE, "ssh-ed25519 AAAA", 0},
    };
    const struct rent root_link[] = {{"binds/data", BACKUP_T_SYMLINK, "elsewhere", 0}};
    const struct rent through_link[] = {
        {"binds/data/", BACKUP_T_DIR, NULL, 0},
        {"binds/data/l", BACKUP_T_SYMLINK, "missing", 0},
        {"binds/data/l/x", BACKUP_T_FILE, "x", 0},
    };
    const struct {
        const struct rent *ents;
        size_t n;
        const char *msg;
    } cases[] = {
        {undeclared, 2, "not a bind mount"},
        {root_link, 1, "not a directory"},
        {through_link, 3, "not a directory"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *proj = NULL;
        char *path = write_tar(cases[i].ents, cases[i].n, &proj);
        struct zp_err err;
        assert_int_equal(restore_binds(path, proj, &err), ZP_E_INPUT);
        if (strstr(err.msg, cases[i].msg) == NULL)
            fail_msg("case %zu: '%s' does not say '%s'", i, err.msg, cases[i].msg);
        /* nothing was written */
        char *cmd = zp_asprintf("test -z \"$(ls -A '%s')\"", proj);
        assert_int_equal(system(cmd), 0);
        free(cmd);
        remove_all(path, proj);
        free(path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manifest_round_trip),
        cmocka_unit_test(manifest_rejects),
        cmocka_unit_test(path_rules),
        cmocka_unit_test(path_order),
        cmocka_unit_test(checksum_fields),
        cmocka_unit_test(verify_good),
        cmocka_unit_test(verify_corrupted_byte),
        cmocka_unit_test(verify_rules),
        cmocka_unit_test(check_entries_per_archive),
        cmocka_unit_test(verify_dotdot),
        cmocka_unit_test(verify_absolute_symlink),
        cmocka_unit_test(verify_truncated),
        cmocka_unit_test(verify_unknown_entry),
        cmocka_unit_test(restore_bind_good),
        cmocka_unit_test(restore_bind_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

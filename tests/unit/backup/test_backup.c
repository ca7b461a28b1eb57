/* Unit tests for backup/: manifest JSON, path rules, order-independent checksums, and
 * verify on archives written here with libarchive (good, damaged, hostile, truncated). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

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
        "{\"format\": 2, \"zpanel_version\": \"x\", \"project\": \"p\", \"created\": \"t\", "
        "\"volumes\": [], \"binds\": [], \"files\": []}",
        "{\"format\": 1, \"zpanel_version\": \"x\", \"project\": \"p\", \"created\": \"t\", "
        "\"volumes\": [{\"key\": \"../x\", \"name\": \"n\", \"size\": 1, \"files\": 1, "
        "\"sha256\": \"" /* 64 hex */
        "0000000000000000000000000000000000000000000000000000000000000000\"}], \"binds\": [], "
        "\"files\": []}",
        "{\"format\": 1, \"zpanel_version\": \"x\", \"project\": \"p\", \"created\": \"t\", "
        "\"volumes\": [{\"key\": \"a\", \"name\": \"n\", \"size\": -1, \"files\": 1, "
        "\"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\"}], "
        "\"binds\": [], \"files\": []}",
        "{\"format\": 1, \"zpanel_version\": \"x\", \"project\": \"p\", \"created\": \"t\", "
        "\"volumes\": [{\"key\": \"a\", \"name\": \"n\", \"size\": 1, \"files\": 1, "
        "\"sha256\": \"XYZ\"}], \"binds\": [], \"files\": []}",
        "{\"format\": 1, \"zpanel_version\": \"x\", \"project\": \"p\", \"created\": \"t\", "
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
        {"l", "a"}, {"d/l", "../a"}, {"d/e/l", "../../a"}, {"l", "./a/../b"}};
    for (size_t i = 0; i < sizeof(links_ok) / sizeof(links_ok[0]); i++) {
        zp_err_init(&err);
        assert_int_equal(backup_check_symlink(links_ok[i][0], links_ok[i][1], &err), 0);
    }
    static const char *const links_bad[][2] = {
        {"l", "/etc/passwd"}, {"l", "../a"}, {"d/l", "../../a"}, {"l", ""}, {"l", "a/../../b"}};
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

static void digest_of(const struct ent *e, const size_t *order, size_t n, char hex[65],
                      uint64_t *size, uint64_t *files)
{
    struct backup_digest *d = backup_digest_new();
    struct zp_err err;
    for (size_t k = 0; k < n; k++) {
        const struct ent *x = &e[order[k]];
        zp_err_init(&err);
        const char *link = x->type == BACKUP_T_FILE ? NULL : x->content;
        assert_int_equal(
            backup_digest_begin(d, x->path, x->type, x->mode, x->uid, x->uid, link, &err), 0);
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

static void checksum_order_independent(void **state)
{
    (void)state;
    size_t o1[] = {0, 1, 2, 3, 4};
    size_t o2[] = {4, 3, 2, 1, 0};
    size_t o3[] = {2, 0, 4, 1, 3};
    char h1[65], h2[65], h3[65];
    uint64_t s1, f1, s2, f2, s3, f3;
    digest_of(tree, o1, 5, h1, &s1, &f1);
    digest_of(tree, o2, 5, h2, &s2, &f2);
    digest_of(tree, o3, 5, h3, &s3, &f3);
    assert_string_equal(h1, h2);
    assert_string_equal(h1, h3);
    assert_int_equal(s1, 11);
    assert_int_equal(f1, 5);
    assert_int_equal(s2, s1);
    assert_int_equal(f3, f1);

    /* a different mode, owner, content or link target changes it */
    struct ent changed[5];
    for (size_t field = 0; field < 4; field++) {
        memcpy(changed, tree, sizeof(tree));
        if (field == 0)
            changed[3].mode = 0755;
        else if (field == 1)
            changed[2].uid = 0;
        else if (field == 2)
            changed[1].content = "hellO";
        else
            changed[4].content = "d/b";
        char hx[65];
        uint64_t sx, fx;
        digest_of(changed, o1, 5, hx, &sx, &fx);
        assert_string_not_equal(hx, h1);
    }
}

static void checksum_duplicates_and_hardlinks(void **state)
{
    (void)state;
    struct zp_err err;
    struct backup_digest *d = backup_digest_new();
    zp_err_init(&err);
    assert_int_equal(backup_digest_begin(d, "x", BACKUP_T_FILE, 0644, 0, 0, NULL, &err), 0);
    backup_digest_data(d, "abc", 3);
    backup_digest_end(d);
    zp_err_init(&err);
    assert_int_equal(backup_digest_begin(d, "x", BACKUP_T_FILE, 0644, 0, 0, NULL, &err),
                     ZP_E_INPUT);
    zp_err_init(&err);
    assert_int_equal(backup_digest_begin(d, "h", BACKUP_T_HARDLINK, 0644, 0, 0, "nope", &err),
                     ZP_E_INPUT);
    zp_err_init(&err);
    assert_int_equal(backup_digest_begin(d, "h", BACKUP_T_HARDLINK, 0644, 0, 0, "x", &err), 0);
    backup_digest_end(d);
    char h1[65];
    uint64_t size, files;
    backup_digest_finish(d, h1, &size, &files);
    backup_digest_free(d);
    assert_int_equal(size, 3); /* a hard link's content is counted once */
    assert_int_equal(files, 2);

    /* the same tree with the other name as the file: same checksum */
    d = backup_digest_new();
    zp_err_init(&err);
    assert_int_equal(backup_digest_begin(d, "h", BACKUP_T_FILE, 0644, 0, 0, NULL, &err), 0);
    backup_digest_data(d, "abc", 3);
    backup_digest_end(d);
    assert_int_equal(backup_digest_begin(d, "x", BACKUP_T_HARDLINK, 0644, 0, 0, "h", &err), 0);
    backup_digest_end(d);
    char h2[65];
    backup_digest_finish(d, h2, NULL, NULL);
    backup_digest_free(d);
    assert_string_equal(h1, h2);
}

/* ---- verify on archives written here ---- */

struct arc {
    struct zp_buf data;
};

static la_ssize_t arc_write(struct archive *a, void *ud, const void *buf, size_t len)
{
    (void)a;
    struct arc *c = ud;
    assert_int_equal(zp_buf_add(&c->data, buf, len), 0);
    return (la_ssize_t)len;
}

static void add_entry(struct archive *w, const char *name, enum backup_type type, unsigned mode,
                      int uid, const char *content)
{
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, name);
    archive_entry_set_uid(ae, uid);
    archive_entry_set_gid(ae, uid);
    archive_entry_set_mtime(ae, 1700000000, 0);
    size_t len = 0;
    if (type == BACKUP_T_DIR) {
        archive_entry_set_filetype(ae, AE_IFDIR);
    } else if (type == BACKUP_T_SYMLINK) {
        archive_entry_set_filetype(ae, AE_IFLNK);
        archive_entry_set_symlink(ae, content);
    } else {
        archive_entry_set_filetype(ae, AE_IFREG);
        len = strlen(content);
        archive_entry_set_size(ae, (la_int64_t)len);
    }
    archive_entry_set_perm(ae, mode);
    assert_int_equal(archive_write_header(w, ae), ARCHIVE_OK);
    if (len)
        assert_int_equal(archive_write_data(w, content, len), (la_ssize_t)len);
    archive_entry_free(ae);
}

/* An archive of one volume "data" holding ents, with a manifest of their real checksum
 * (or, with hostile, the checksum of what is written, whatever it is). gzip or not. */
static void build(struct arc *c, const struct ent *ents, size_t n, bool gzip)
{
    zp_buf_init(&c->data, 0);
    struct archive *w = archive_write_new();
    archive_write_set_format_pax_restricted(w);
    if (gzip)
        archive_write_add_filter_gzip(w);
    archive_write_set_bytes_in_last_block(w, 1);
    assert_int_equal(archive_write_open2(w, c, NULL, arc_write, NULL, NULL), ARCHIVE_OK);
    size_t order[16];
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
        char *name = ents[i].path[0] ? zp_asprintf("volumes/data/%s", ents[i].path)
                                     : zp_strdup("volumes/data");
        add_entry(w, name, ents[i].type, ents[i].mode, ents[i].uid, ents[i].content);
        free(name);
    }
    char key[] = "data", vname[] = "p_data", ver[] = "0.1.0", proj[] = "p",
         when[] = "2024-01-01T00:00:00Z";
    struct backup_section sec = {BACKUP_VOLUME, key, vname, 0, 0, ""};
    struct backup_digest *d = backup_digest_new();
    struct zp_err err;
    for (size_t k = 0; k < n; k++) {
        const struct ent *x = &ents[order[k]];
        zp_err_init(&err);
        const char *link = x->type == BACKUP_T_FILE ? NULL : x->content;
        /* hostile entries may be refused by the digest: then the manifest is just wrong */
        if (backup_digest_begin(d, x->path, x->type, x->mode, x->uid, x->uid, link, &err) != 0)
            continue;
        if (x->type == BACKUP_T_FILE)
            backup_digest_data(d, x->content, strlen(x->content));
        backup_digest_end(d);
    }
    backup_digest_finish(d, sec.sha256, &sec.size, &sec.files);
    backup_digest_free(d);
    struct backup_manifest m = {BACKUP_FORMAT, ver, proj, when, &sec, 1};
    struct zp_buf mj = ZP_BUF_INIT;
    zp_err_init(&err);
    assert_int_equal(backup_manifest_to_json(&m, &mj, &err), 0);
    add_entry(w, "manifest.json", BACKUP_T_FILE, 0644, 0, mj.p);
    zp_buf_release(&mj);
    assert_int_equal(archive_write_close(w), ARCHIVE_OK);
    archive_write_free(w);
}

static int verify(const struct arc *c, struct zp_err *err)
{
    zp_err_init(err);
    struct backup_manifest m;
    int rc = backup_verify_memory(c->data.p, c->data.len, &m, err);
    if (rc == 0) {
        assert_int_equal(m.n, 1);
        assert_string_equal(m.sections[0].key, "data");
        backup_manifest_release(&m);
    }
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
    struct arc c;
    zp_buf_init(&c.data, 0);
    struct archive *w = archive_write_new();
    archive_write_set_format_pax_restricted(w);
    assert_int_equal(archive_write_open2(w, &c, NULL, arc_write, NULL, NULL), ARCHIVE_OK);
    add_entry(w, "etc/passwd", BACKUP_T_FILE, 0644, 0, "root");
    archive_write_close(w);
    archive_write_free(w);
    struct zp_err err;
    assert_int_equal(verify(&c, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "unknown entry"));
    zp_buf_release(&c.data);
}

/* ---- restore of bind sections (no engine needed) ---- */

struct rent {
    const char *name;
    enum backup_type type;
    const char *content; /* files; symlink target; hard link target (archive path) */
};

/* A project directory "<tmp>/proj" and the archive "<tmp>/a.tar" holding ents. */
static char *write_tar(const struct rent *ents, size_t n, char **ret_proj)
{
    char *dir = zp_strdup("/tmp/zp-test-restore-XXXXXX");
    assert_non_null(mkdtemp(dir));
    *ret_proj = zp_asprintf("%s/proj", dir);
    assert_int_equal(mkdir(*ret_proj, 0755), 0);
    char *path = zp_asprintf("%s/a.tar", dir);
    free(dir);
    struct archive *w = archive_write_new();
    archive_write_set_format_pax_restricted(w);
    assert_int_equal(archive_write_open_filename(w, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, ents[i].name);
        archive_entry_set_uid(ae, getuid());
        archive_entry_set_gid(ae, getgid());
        archive_entry_set_perm(ae, ents[i].type == BACKUP_T_DIR ? 0755 : 0644);
        size_t len = 0;
        if (ents[i].type == BACKUP_T_DIR) {
            archive_entry_set_filetype(ae, AE_IFDIR);
        } else if (ents[i].type == BACKUP_T_SYMLINK) {
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_symlink(ae, ents[i].content);
        } else if (ents[i].type == BACKUP_T_HARDLINK) {
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_hardlink(ae, ents[i].content);
        } else {
            archive_entry_set_filetype(ae, AE_IFREG);
            len = strlen(ents[i].content);
            archive_entry_set_size(ae, (la_int64_t)len);
        }
        assert_int_equal(archive_write_header(w, ae), ARCHIVE_OK);
        if (len)
            assert_int_equal(archive_write_data(w, ents[i].content, len), (la_ssize_t)len);
        archive_entry_free(ae);
    }
    assert_int_equal(archive_write_close(w), ARCHIVE_OK);
    archive_write_free(w);
    return path;
}

static int restore_binds(const char *path, const char *proj, struct zp_err *err)
{
    struct backup_restore_spec spec = {.project = "p", .project_dir = proj, .binds = true};
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
        {"binds/data/", BACKUP_T_DIR, NULL},
        {"binds/data/f", BACKUP_T_FILE, "hello"},
        {"binds/data/sub/", BACKUP_T_DIR, NULL},
        {"binds/data/sub/h", BACKUP_T_HARDLINK, "binds/data/f"},
        {"binds/data/sub/l", BACKUP_T_SYMLINK, "../f"},
    };
    char *proj = NULL;
    char *path = write_tar(ents, 5, &proj);
    struct zp_err err;
    assert_int_equal(restore_binds(path, proj, &err), 0);
    char *h = zp_asprintf("%s/data/sub/h", proj);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(zp_file_read(h, 100, &data, &len, &err), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "hello", 5);
    free(data);
    free(h);
    remove_all(path, proj);
    free(path);
}

/* The archive changed after verify: restore checks again and writes nothing that leaves
 * the bind directory. */
static void restore_bind_hostile(void **state)
{
    (void)state;
    /* the section root a symbolic link to a sibling of the bind directory */
    const struct rent root_link[] = {{"binds/data", BACKUP_T_SYMLINK, "elsewhere"}};
    /* a symbolic link inside the root, then a hard link to it two levels higher up */
    const struct rent hard_to_sym[] = {
        {"binds/data/", BACKUP_T_DIR, NULL},
        {"binds/data/a/", BACKUP_T_DIR, NULL},
        {"binds/data/a/b/", BACKUP_T_DIR, NULL},
        {"binds/data/a/b/l", BACKUP_T_SYMLINK, "../../x"},
        {"binds/data/l2", BACKUP_T_HARDLINK, "binds/data/a/b/l"},
    };
    const struct {
        const struct rent *ents;
        size_t n;
        const char *msg;
    } cases[] = {
        {root_link, 1, "not a directory"},
        {hard_to_sym, 5, "earlier regular file"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *proj = NULL;
        char *path = write_tar(cases[i].ents, cases[i].n, &proj);
        struct zp_err err;
        assert_int_equal(restore_binds(path, proj, &err), ZP_E_INPUT);
        assert_non_null(strstr(err.msg, cases[i].msg));
        /* nothing was swapped in */
        char *target = zp_asprintf("%s/data", proj);
        struct stat st;
        assert_int_not_equal(lstat(target, &st), 0);
        free(target);
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
        cmocka_unit_test(checksum_order_independent),
        cmocka_unit_test(checksum_duplicates_and_hardlinks),
        cmocka_unit_test(verify_good),
        cmocka_unit_test(verify_corrupted_byte),
        cmocka_unit_test(verify_dotdot),
        cmocka_unit_test(verify_absolute_symlink),
        cmocka_unit_test(verify_truncated),
        cmocka_unit_test(verify_unknown_entry),
        cmocka_unit_test(restore_bind_good),
        cmocka_unit_test(restore_bind_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

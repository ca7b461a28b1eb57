/* backup/verify: read a whole archive, check every entry against the path rules and every
 * section against the checksums of its manifest. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "backup-int.h"

#include "../util/banned.h"

struct seen {
    enum backup_kind kind;
    char *key;
    struct backup_digest *digest;
    bool closed; /* a later section started: it may not come back */
};

struct verifier {
    struct seen *items;
    size_t n, cap;
    struct seen *cur;
    uint64_t total;
    unsigned char *chunk;
};

static void verifier_release(struct verifier *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->items[i].key);
        backup_digest_free(v->items[i].digest);
    }
    free(v->items);
    free(v->chunk);
}

/* Make (kind, key) the current section; a section may not be split in two. */
static int enter_section(struct verifier *v, enum backup_kind kind, char *key, struct zp_err *err)
{
    if (v->cur && v->cur->kind == kind && strcmp(v->cur->key, key) == 0) {
        free(key);
        return 0;
    }
    for (size_t i = 0; i < v->n; i++) {
        if (v->items[i].kind == kind && strcmp(v->items[i].key, key) == 0) {
            zp_err_set(err, ZP_E_INPUT, NULL, "%s '%s' is split in two parts",
                       backup__kind_dir(kind), key);
            free(key);
            return ZP_E_INPUT;
        }
    }
    if (v->n >= BACKUP_MAX_SECTIONS) {
        free(key);
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "more than %d sections", BACKUP_MAX_SECTIONS);
    }
    if (v->cur)
        v->cur->closed = true;
    if (v->n == v->cap)
        zp_grow((void **)&v->items, &v->cap, v->n + 1, sizeof(*v->items));
    struct seen *s = &v->items[v->n++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->key = key;
    s->digest = backup_digest_new();
    v->cur = s;
    return 0;
}

/* One entry (not the manifest): rules, then its content into the section's digest. */
static int verify_entry(struct verifier *v, struct archive *a, struct archive_entry *ae,
                        const char *name, struct zp_err *err)
{
    enum backup_kind kind;
    char *key = NULL;
    const char *rel0 = NULL;
    int rc = backup__split(name, &kind, &key, &rel0, err);
    if (rc)
        return rc;
    if ((rc = enter_section(v, kind, key, err)) != 0)
        return rc;
    char *rel = zp_strdup(rel0);
    size_t len = strlen(rel);
    int type = backup__entry_type(ae);
    char *link = NULL;
    if (type == BACKUP_T_DIR && len > 0 && rel[len - 1] == '/')
        rel[--len] = '\0';
    if ((rc = backup__check_entry(kind, rel, len, ae, name, err)) != 0)
        goto out;
    if (type == BACKUP_T_SYMLINK) {
        link = zp_strdup(archive_entry_symlink(ae));
    } else if (type == BACKUP_T_HARDLINK) {
        enum backup_kind tk;
        char *tkey = NULL;
        const char *trel = NULL;
        if ((rc = backup__split(archive_entry_hardlink(ae), &tk, &tkey, &trel, err)) != 0)
            goto out;
        bool same = tk == kind && strcmp(tkey, v->cur->key) == 0;
        free(tkey);
        if (!same || kind == BACKUP_FILE) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "hard link '%s' leaves its section", name);
            goto out;
        }
        link = zp_strdup(trel);
    }
    rc = backup_digest_begin(v->cur->digest, rel, (enum backup_type)type,
                             (unsigned)archive_entry_perm(ae) | (archive_entry_mode(ae) & 07000),
                             archive_entry_uid(ae), archive_entry_gid(ae), link, err);
    if (rc) {
        zp_err_prefix(err, "%s '%s'", backup__kind_dir(kind), v->cur->key);
        goto out;
    }
    if (type == BACKUP_T_FILE) {
        for (;;) {
            la_ssize_t n = archive_read_data(a, v->chunk, BACKUP__CHUNK);
            if (n < 0) {
                rc = zp_err_set(err, ZP_E_INPUT, NULL, "'%s': %s", name,
                                archive_error_string(a) ? archive_error_string(a) : "read error");
                goto out;
            }
            if (n == 0)
                break;
            v->total += (uint64_t)n;
            if (v->total > BACKUP_MAX_SIZE) {
                rc = zp_err_set(err, ZP_E_TOOBIG, NULL, "more than %llu bytes of content",
                                (unsigned long long)BACKUP_MAX_SIZE);
                goto out;
            }
            backup_digest_data(v->cur->digest, v->chunk, (size_t)n);
        }
    }
    backup_digest_end(v->cur->digest);
out:
    free(link);
    free(rel);
    return rc;
}

/* Compare what was read with the manifest. */
static int check_manifest(struct verifier *v, const struct backup_manifest *m, struct zp_err *err)
{
    for (size_t i = 0; i < v->n; i++) {
        struct seen *s = &v->items[i];
        const struct backup_section *ms = backup_manifest_find(m, s->kind, s->key);
        if (ms == NULL)
            return zp_err_set(err, ZP_E_INPUT, NULL, "%s '%s' is not in the manifest",
                              backup__kind_dir(s->kind), s->key);
        char hex[65];
        uint64_t size = 0, files = 0;
        backup_digest_finish(s->digest, hex, &size, &files);
        if (strcmp(hex, ms->sha256) != 0)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "%s '%s': checksum mismatch (manifest %.12s..., content %.12s...)",
                              backup__kind_dir(s->kind), s->key, ms->sha256, hex);
        if (size != ms->size || files != ms->files)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "%s '%s': %llu bytes in %llu entries, the manifest says %llu in %llu",
                              backup__kind_dir(s->kind), s->key, (unsigned long long)size,
                              (unsigned long long)files, (unsigned long long)ms->size,
                              (unsigned long long)ms->files);
    }
    for (size_t i = 0; i < m->n; i++) {
        bool found = false;
        for (size_t k = 0; k < v->n && !found; k++)
            found = v->items[k].kind == m->sections[i].kind &&
                    strcmp(v->items[k].key, m->sections[i].key) == 0;
        if (!found)
            return zp_err_set(err, ZP_E_INPUT, NULL, "%s '%s' of the manifest is missing",
                              backup__kind_dir(m->sections[i].kind), m->sections[i].key);
    }
    return 0;
}

static int verify_open(struct archive *a, struct backup_manifest *ret_manifest, struct zp_err *err)
{
    struct verifier v;
    memset(&v, 0, sizeof(v));
    v.chunk = zp_malloc(BACKUP__CHUNK);
    struct backup_manifest m;
    memset(&m, 0, sizeof(m));
    bool have_manifest = false;
    int rc = 0;
    for (;;) {
        struct archive_entry *ae = NULL;
        int r = archive_read_next_header(a, &ae);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "damaged or truncated: %s",
                            archive_error_string(a) ? archive_error_string(a) : "read error");
            goto out;
        }
        const char *name = archive_entry_pathname(ae);
        if (name == NULL) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "an entry has no readable name");
            goto out;
        }
        if (have_manifest) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "entry '%s' after manifest.json", name);
            goto out;
        }
        if (strcmp(name, BACKUP_MANIFEST_NAME) == 0) {
            char *text = NULL;
            size_t len = 0;
            if ((rc = backup__read_manifest(a, ae, &text, &len, err)) != 0)
                goto out;
            rc = backup_manifest_parse(text, len, &m, err);
            free(text);
            if (rc)
                goto out;
            have_manifest = true;
            continue;
        }
        if ((rc = verify_entry(&v, a, ae, name, err)) != 0)
            goto out;
    }
    if (!have_manifest) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "no manifest.json (truncated?)");
        goto out;
    }
    if ((rc = check_manifest(&v, &m, err)) != 0)
        goto out;
    if (ret_manifest) {
        *ret_manifest = m;
        memset(&m, 0, sizeof(m));
    }
out:
    backup_manifest_release(&m);
    verifier_release(&v);
    return rc;
}

int backup_verify(const char *path, struct backup_manifest *ret_manifest, struct zp_err *err)
{
    struct archive *a = archive_read_new();
    backup__reader_setup(a);
    int rc;
    if (archive_read_open_filename(a, path, BACKUP__CHUNK) != ARCHIVE_OK) {
        int e = archive_errno(a);
        rc = zp_err_set(err, e == ENOENT ? ZP_E_NOTFOUND : ZP_E_INPUT, NULL, "archive '%s': %s",
                        path, archive_error_string(a) ? archive_error_string(a) : "cannot open");
        goto out;
    }
    rc = verify_open(a, ret_manifest, err);
    if (rc)
        zp_err_prefix(err, "archive '%s'", path);
out:
    archive_read_free(a);
    return rc;
}

int backup_verify_memory(const void *data, size_t len, struct backup_manifest *ret_manifest,
                         struct zp_err *err)
{
    struct archive *a = archive_read_new();
    backup__reader_setup(a);
    int rc;
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "archive: %s",
                        archive_error_string(a) ? archive_error_string(a) : "cannot open");
        goto out;
    }
    rc = verify_open(a, ret_manifest, err);
    if (rc)
        zp_err_prefix(err, "archive");
out:
    archive_read_free(a);
    return rc;
}

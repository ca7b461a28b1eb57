/* backup/verify: read a whole archive, check every entry against the rules restore relies on
 * and every section against the checksums of its manifest, in memory that does not grow
 * with the number of entries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backup-int.h"

#include "../util/banned.h"

/* A section seen: at most BACKUP_MAX_SECTIONS of them. */
struct seen {
    enum backup_kind kind;
    char *key;
    char sha256[65];
    uint64_t size, files;
};

struct verifier {
    struct seen *items;
    size_t n, cap;
    struct backup_digest *dg; /* of the current section, items[n - 1] */
    struct backup__check check;
    unsigned char *chunk;
};

static void verifier_release(struct verifier *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->items[i].key);
    free(v->items);
    backup_digest_free(v->dg);
    backup__check_release(&v->check);
    free(v->chunk);
}

static void close_section(struct verifier *v)
{
    if (v->dg == NULL)
        return;
    struct seen *s = &v->items[v->n - 1];
    backup_digest_finish(v->dg, s->sha256, &s->size, &s->files);
    backup_digest_free(v->dg);
    v->dg = NULL;
}

/* Make (kind, key) the current section; a section may not be split in two. */
static int enter_section(struct verifier *v, enum backup_kind kind, char *key, struct zp_err *err)
{
    if (v->dg && v->items[v->n - 1].kind == kind && strcmp(v->items[v->n - 1].key, key) == 0) {
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
    close_section(v);
    if (v->n == v->cap)
        zp_grow((void **)&v->items, &v->cap, v->n + 1, sizeof(*v->items));
    struct seen *s = &v->items[v->n++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->key = key;
    v->dg = backup_digest_new();
    backup__check_section(&v->check, kind);
    return 0;
}

/* One entry (not the manifest): rules, then its content into the section's digest. */
static int verify_entry(struct verifier *v, struct arc_reader *r, const struct arc_entry *e,
                        struct zp_err *err)
{
    enum backup_kind kind;
    char *key = NULL;
    const char *rel0 = NULL;
    int rc = backup__split(e->path, &kind, &key, &rel0, err);
    if (rc)
        return rc;
    if ((rc = enter_section(v, kind, key, err)) != 0)
        return rc;
    struct seen *s = &v->items[v->n - 1];
    char *rel = zp_strdup(rel0);
    size_t len = strlen(rel);
    char *link = NULL;
    if (e->type == ARC_DIR && len > 0 && rel[len - 1] == '/')
        rel[--len] = '\0';
    if (e->type == ARC_HARDLINK) {
        enum backup_kind tk;
        char *tkey = NULL;
        const char *trel = NULL;
        if ((rc = backup__split(e->link, &tk, &tkey, &trel, err)) != 0)
            goto out;
        bool same = tk == kind && strcmp(tkey, s->key) == 0;
        free(tkey);
        if (!same || kind == BACKUP_FILE || kind == BACKUP_DUMP) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "hard link '%s' leaves its section", e->path);
            goto out;
        }
        link = zp_strdup(trel);
    }
    enum backup_type type;
    if ((rc = backup__check_entry(&v->check, rel, e, link, &type, err)) != 0)
        goto out;
    backup_digest_begin(v->dg, rel, type, e->mode, e->uid, e->gid,
                        type == BACKUP_T_SYMLINK ? e->link : link);
    if (type == BACKUP_T_FILE) {
        for (;;) {
            size_t n = 0;
            if ((rc = arc_reader_data(r, v->chunk, BACKUP__CHUNK, &n, err)) != 0) {
                zp_err_prefix(err, "'%s'", e->path);
                goto out;
            }
            if (n == 0)
                break;
            if ((rc = backup__check_bytes(&v->check, n, err)) != 0)
                goto out;
            backup_digest_data(v->dg, v->chunk, n);
        }
    }
    backup_digest_end(v->dg);
out:
    free(link);
    free(rel);
    return rc;
}

/* Compare what was read with the manifest. */
static int check_manifest(struct verifier *v, const struct backup_manifest *m, struct zp_err *err)
{
    close_section(v);
    for (size_t i = 0; i < v->n; i++) {
        struct seen *s = &v->items[i];
        const struct backup_section *ms = backup_manifest_find(m, s->kind, s->key);
        if (ms == NULL)
            return zp_err_set(err, ZP_E_INPUT, NULL, "%s '%s' is not in the manifest",
                              backup__kind_dir(s->kind), s->key);
        if (strcmp(s->sha256, ms->sha256) != 0)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "%s '%s': checksum mismatch (manifest %.12s..., content %.12s...)",
                              backup__kind_dir(s->kind), s->key, ms->sha256, s->sha256);
        if (s->size != ms->size || s->files != ms->files)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "%s '%s': %llu bytes in %llu entries, the manifest says %llu in %llu",
                              backup__kind_dir(s->kind), s->key, (unsigned long long)s->size,
                              (unsigned long long)s->files, (unsigned long long)ms->size,
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

static int verify_open(struct arc_reader *r, struct backup_manifest *ret_manifest,
                       struct zp_err *err)
{
    struct verifier v;
    memset(&v, 0, sizeof(v));
    backup__check_init(&v.check);
    v.chunk = zp_malloc(BACKUP__CHUNK);
    struct backup_manifest m;
    memset(&m, 0, sizeof(m));
    bool have_manifest = false;
    int rc = 0;
    for (;;) {
        const struct arc_entry *e = NULL;
        if ((rc = arc_reader_next(r, &e, err)) != 0)
            goto out;
        if (e == NULL)
            break;
        if (have_manifest) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "entry '%s' after manifest.json", e->path);
            goto out;
        }
        if (strcmp(e->path, BACKUP_MANIFEST_NAME) == 0) {
            char *text = NULL;
            size_t len = 0;
            if ((rc = backup__read_manifest(r, e, &text, &len, err)) != 0)
                goto out;
            rc = backup_manifest_parse(text, len, &m, err);
            free(text);
            if (rc)
                goto out;
            have_manifest = true;
            continue;
        }
        if ((rc = verify_entry(&v, r, e, err)) != 0)
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
    struct arc_reader *r = NULL;
    int rc = arc_reader_open_file(path, &r, err);
    if (rc)
        return rc;
    rc = verify_open(r, ret_manifest, err);
    if (rc)
        zp_err_prefix(err, "archive '%s'", path);
    arc_reader_free(r);
    return rc;
}

int backup_verify_memory(const void *data, size_t len, struct backup_manifest *ret_manifest,
                         struct zp_err *err)
{
    struct arc_reader *r = NULL;
    int rc = arc_reader_open_memory(data, len, &r, err);
    if (rc)
        return rc;
    rc = verify_open(r, ret_manifest, err);
    if (rc)
        zp_err_prefix(err, "archive");
    arc_reader_free(r);
    return rc;
}

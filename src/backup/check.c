/* backup/check: the rules every entry of an archive follows, checked entry by entry with
 * memory that does not grow with the number of entries: canonical order (so no duplicate),
 * parents that are earlier directories of the section, links that cannot leave the root,
 * hard links to earlier regular files, no sparse entries, and archive-wide caps. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "backup-int.h"

#include "../util/banned.h"

/* 2^27 bits = 16 MiB: with 8 probes, about 4e-8 false positives at 2,000,000 files. A false
 * positive lets a hard link to a missing path through verify; restore then fails while
 * staging, before anything changed. The salt is random, so an archive cannot aim for one. */
#define FILTER_BITS ((uint64_t)1 << 27)
#define FILTER_PROBES 8

void backup__check_init(struct backup__check *c)
{
    memset(c, 0, sizeof(*c));
    c->max_entries = BACKUP_MAX_ENTRIES;
    zp_buf_init(&c->chain, 0);
    if (getrandom(c->salt, sizeof(c->salt), 0) != (ssize_t)sizeof(c->salt)) {
        /* no entropy source: still correct, only predictable */
        for (size_t i = 0; i < sizeof(c->salt); i++)
            c->salt[i] = (unsigned char)(i * 151u + 7u);
    }
}

void backup__check_release(struct backup__check *c)
{
    if (c == NULL)
        return;
    free(c->filter);
    zp_buf_release(&c->chain);
    free(c->ends);
    free(c->types);
    memset(c, 0, sizeof(*c));
}

void backup__check_section(struct backup__check *c, enum backup_kind kind)
{
    c->section++;
    c->kind = kind;
    c->started = false;
    c->depth = 0;
    zp_buf_reset(&c->chain);
}

static void filter_probes(const struct backup__check *c, const char *rel,
                          uint64_t out[FILTER_PROBES])
{
    struct zp_sha256 h;
    zp_sha256_init(&h);
    zp_sha256_update(&h, c->salt, sizeof(c->salt));
    zp_sha256_update(&h, &c->section, sizeof(c->section));
    zp_sha256_update(&h, rel, strlen(rel));
    unsigned char d[32];
    zp_sha256_final(&h, d);
    for (size_t i = 0; i < FILTER_PROBES; i++) {
        uint32_t v;
        memcpy(&v, d + 4 * i, sizeof(v));
        out[i] = v & (FILTER_BITS - 1);
    }
}

static void filter_add(struct backup__check *c, const char *rel)
{
    if (c->filter == NULL)
        c->filter = zp_calloc(FILTER_BITS / 8, 1);
    uint64_t p[FILTER_PROBES];
    filter_probes(c, rel, p);
    for (size_t i = 0; i < FILTER_PROBES; i++)
        c->filter[p[i] / 8] |= (unsigned char)(1u << (p[i] % 8));
}

static bool filter_has(const struct backup__check *c, const char *rel)
{
    if (c->filter == NULL)
        return false;
    uint64_t p[FILTER_PROBES];
    filter_probes(c, rel, p);
    for (size_t i = 0; i < FILTER_PROBES; i++)
        if (!(c->filter[p[i] / 8] & (1u << (p[i] % 8))))
            return false;
    return true;
}

int backup__check_bytes(struct backup__check *c, uint64_t n, struct zp_err *err)
{
    c->total += n;
    if (c->total > BACKUP_MAX_SIZE)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "more than %llu bytes of content",
                          (unsigned long long)BACKUP_MAX_SIZE);
    return 0;
}

static void push(struct backup__check *c, const char *rel, size_t len, enum backup_type type)
{
    if (c->depth == c->cap) {
        size_t cap = c->cap;
        zp_grow((void **)&c->ends, &cap, c->depth + 1, sizeof(*c->ends));
        c->types = zp_realloc(c->types, cap);
        c->cap = cap;
    }
    zp_buf_reset(&c->chain);
    zp_buf_add(&c->chain, rel, len);
    c->ends[c->depth] = len;
    c->types[c->depth] = (unsigned char)type;
    c->depth++;
}

int backup__check_entry(struct backup__check *c, const char *rel, const struct arc_entry *e,
                        const char *link_rel, enum backup_type *ret_type, struct zp_err *err)
{
    size_t len = strlen(rel);
    int rc = backup_check_path(rel, len, err);
    if (rc)
        return rc;
    if (++c->entries > c->max_entries)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "more than %llu entries in the archive",
                          (unsigned long long)c->max_entries);
    enum backup_type type;
    switch (e->type) {
    case ARC_FILE:
        type = BACKUP_T_FILE;
        break;
    case ARC_DIR:
        type = BACKUP_T_DIR;
        break;
    case ARC_SYMLINK:
        type = BACKUP_T_SYMLINK;
        break;
    case ARC_HARDLINK:
        type = BACKUP_T_HARDLINK;
        break;
    case ARC_FIFO:
        type = BACKUP_T_FIFO;
        break;
    default:
        return zp_err_set(err, ZP_E_INPUT, NULL, "'%s' is a device or socket", e->path);
    }
    if (e->sparse)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "'%s' is stored sparse (holes); zpanel never writes such entries",
                          e->path);
    if (type == BACKUP_T_FILE && (uint64_t)e->size > BACKUP_MAX_SIZE)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "'%s': %lld bytes", e->path, (long long)e->size);
    if (!c->started) {
        if (len != 0)
            return zp_err_set(err, ZP_E_INPUT, NULL, "'%s' comes before the root of its section",
                              e->path);
        bool one = c->kind == BACKUP_FILE || c->kind == BACKUP_DUMP;
        if (one ? type != BACKUP_T_FILE : type != BACKUP_T_DIR)
            return zp_err_set(err, ZP_E_INPUT, NULL, "the root '%s' is not a %s", e->path,
                              one ? "regular file" : "directory");
        c->started = true;
        c->depth = 0;
        push(c, "", 0, type);
        if (type == BACKUP_T_FILE)
            filter_add(c, "");
        *ret_type = type;
        return 0;
    }
    if (c->kind == BACKUP_FILE || c->kind == BACKUP_DUMP || len == 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "'%s' appears twice or under a file section",
                          e->path);
    /* strictly after the previous entry: no path twice (a file then a directory of the same
     * name is the same path twice) */
    if (backup_path_cmp(zp_buf_cstr(&c->chain), rel) >= 0)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "'%s' is out of order or appears twice (entries of a section are "
                          "sorted; zpanel writes them so)",
                          e->path);
    /* the ancestors of rel still on the chain: the root, then each prefix ending at '/' */
    while (c->depth > 1) {
        size_t n = c->ends[c->depth - 1];
        if (n < len && rel[n] == '/' && memcmp(rel, zp_buf_cstr(&c->chain), n) == 0)
            break;
        c->depth--;
    }
    const char *slash = strrchr(rel, '/');
    size_t plen = slash ? (size_t)(slash - rel) : 0;
    if (c->ends[c->depth - 1] != plen)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "'%s': its parent directory is not an earlier entry", e->path);
    if (c->types[c->depth - 1] != BACKUP_T_DIR)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "'%s' is below an entry that is not a directory (a link or a file)",
                          e->path);
    if (type == BACKUP_T_SYMLINK && (rc = backup_check_symlink(rel, e->link, err)) != 0)
        return rc;
    if (type == BACKUP_T_HARDLINK) {
        if (link_rel == NULL || link_rel[0] == '\0' ||
            backup_check_path(link_rel, strlen(link_rel), err) != 0 ||
            backup_path_cmp(link_rel, rel) >= 0 || !filter_has(c, link_rel))
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "hard link '%s' does not point to an earlier regular file of its "
                              "section",
                              e->path);
    }
    /* chain = rel; keep the ancestors' ends */
    size_t keep = c->depth;
    zp_buf_reset(&c->chain);
    zp_buf_add(&c->chain, rel, len);
    c->depth = keep;
    if (c->depth == c->cap) {
        size_t cap = c->cap;
        zp_grow((void **)&c->ends, &cap, c->depth + 1, sizeof(*c->ends));
        c->types = zp_realloc(c->types, cap);
        c->cap = cap;
    }
    c->ends[c->depth] = len;
    c->types[c->depth] = (unsigned char)type;
    c->depth++;
    if (type == BACKUP_T_FILE)
        filter_add(c, rel);
    *ret_type = type;
    return 0;
}

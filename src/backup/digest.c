/* backup/digest: the path rules every archive entry must follow, the archive's section
 * layout, and order-independent tree checksums. */
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "backup-int.h"

#include "../util/banned.h"

/* ---- path rules ---- */

int backup_check_path(const char *rel, size_t len, struct zp_err *err)
{
    if (len > BACKUP_MAX_PATH)
        return zp_err_set(err, ZP_E_INPUT, NULL, "path of %zu bytes is longer than %d", len,
                          BACKUP_MAX_PATH);
    if (memchr(rel, '\0', len) != NULL)
        return zp_err_set(err, ZP_E_INPUT, NULL, "path contains a NUL byte");
    if (len == 0)
        return 0;
    if (rel[0] == '/')
        return zp_err_set(err, ZP_E_INPUT, NULL, "absolute path '%.*s'", (int)len, rel);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && rel[i] != '/')
            continue;
        size_t n = i - start;
        const char *c = rel + start;
        if (n == 0)
            return zp_err_set(err, ZP_E_INPUT, NULL, "path '%.*s' has an empty component", (int)len,
                              rel);
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return zp_err_set(err, ZP_E_INPUT, NULL, "path '%.*s' has a '%.*s' component", (int)len,
                              rel, (int)n, c);
        start = i + 1;
    }
    return 0;
}

int backup_check_key(enum backup_kind kind, const char *key, struct zp_err *err)
{
    size_t len = strlen(key);
    if (len == 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "empty key");
    if (kind == BACKUP_VOLUME && strchr(key, '/') != NULL)
        return zp_err_set(err, ZP_E_INPUT, NULL, "volume key '%s' contains '/'", key);
    return backup_check_path(key, len, err);
}

int backup_check_symlink(const char *rel, const char *target, struct zp_err *err)
{
    if (target == NULL || target[0] == '\0')
        return zp_err_set(err, ZP_E_INPUT, NULL, "symbolic link '%s' has an empty target", rel);
    if (target[0] == '/')
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "symbolic link '%s' points to the absolute path '%s'", rel, target);
    if (strlen(target) > BACKUP_MAX_PATH)
        return zp_err_set(err, ZP_E_INPUT, NULL, "symbolic link '%s': target too long", rel);
    /* depth of the link's directory below the root, then walk the target lexically */
    long depth = 0;
    for (const char *p = rel; *p; p++)
        if (*p == '/')
            depth++;
    const char *p = target;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0)
                return zp_err_set(err, ZP_E_INPUT, NULL,
                                  "symbolic link '%s' points outside its root ('%s')", rel, target);
        } else if (!(n == 0 || (n == 1 && p[0] == '.'))) {
            depth++;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    return 0;
}

/* ---- layout ---- */

const char *backup__kind_dir(enum backup_kind kind)
{
    switch (kind) {
    case BACKUP_VOLUME:
        return "volumes";
    case BACKUP_BIND:
        return "binds";
    case BACKUP_FILE:
        return "files";
    }
    ZP_BUG("bad kind %d", (int)kind);
}

char *backup__section_dir(enum backup_kind kind, const char *key)
{
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_adds(&b, backup__kind_dir(kind));
    zp_buf_addc(&b, '/');
    for (const char *p = key; *p; p++) {
        if (kind == BACKUP_BIND && *p == '/')
            zp_buf_adds(&b, "%2F");
        else if (kind == BACKUP_BIND && *p == '%')
            zp_buf_adds(&b, "%25");
        else
            zp_buf_addc(&b, *p);
    }
    return zp_buf_detach(&b, NULL);
}

static char *decode_bind_key(const char *s, size_t n)
{
    struct zp_buf b = ZP_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            zp_buf_addc(&b, s[i]);
            continue;
        }
        if (i + 2 < n && s[i + 1] == '2' && (s[i + 2] == 'F' || s[i + 2] == '5')) {
            zp_buf_addc(&b, s[i + 2] == 'F' ? '/' : '%');
            i += 2;
            continue;
        }
        zp_buf_release(&b);
        return NULL;
    }
    return zp_buf_detach(&b, NULL);
}

int backup__split(const char *path, enum backup_kind *ret_kind, char **ret_key,
                  const char **ret_rel, struct zp_err *err)
{
    static const enum backup_kind kinds[] = {BACKUP_VOLUME, BACKUP_BIND, BACKUP_FILE};
    for (size_t k = 0; k < 3; k++) {
        const char *dir = backup__kind_dir(kinds[k]);
        size_t dl = strlen(dir);
        if (strncmp(path, dir, dl) != 0 || path[dl] != '/')
            continue;
        const char *rest = path + dl + 1;
        char *key = NULL;
        const char *rel = "";
        if (kinds[k] == BACKUP_FILE) {
            key = zp_strdup(rest);
        } else {
            const char *slash = strchr(rest, '/');
            size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
            key = kinds[k] == BACKUP_BIND ? decode_bind_key(rest, n) : zp_strndup(rest, n);
            if (key == NULL)
                return zp_err_set(err, ZP_E_INPUT, NULL, "entry '%s': bad key encoding", path);
            rel = slash ? slash + 1 : "";
        }
        if (backup_check_key(kinds[k], key, err) != 0) {
            zp_err_prefix(err, "entry '%s'", path);
            free(key);
            return err->code;
        }
        *ret_kind = kinds[k];
        *ret_key = key;
        *ret_rel = rel;
        return 0;
    }
    return zp_err_set(err, ZP_E_INPUT, NULL, "unknown entry '%s'", path);
}

int backup__entry_type(struct archive_entry *ae)
{
    if (archive_entry_hardlink(ae) != NULL)
        return BACKUP_T_HARDLINK;
    switch (archive_entry_filetype(ae)) {
    case AE_IFREG:
        return BACKUP_T_FILE;
    case AE_IFDIR:
        return BACKUP_T_DIR;
    case AE_IFLNK:
        return BACKUP_T_SYMLINK;
    case AE_IFIFO:
        return BACKUP_T_FIFO;
    default:
        return -1;
    }
}

int backup__check_entry(enum backup_kind kind, const char *rel, size_t len,
                        struct archive_entry *ae, const char *name, struct zp_err *err)
{
    int rc = backup_check_path(rel, len, err);
    if (rc)
        return rc;
    int type = backup__entry_type(ae);
    if (type < 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "'%s' is a device or socket", name);
    if (kind == BACKUP_FILE && type != BACKUP_T_FILE)
        return zp_err_set(err, ZP_E_INPUT, NULL, "'%s' is not a regular file", name);
    if (len == 0 && kind != BACKUP_FILE && type != BACKUP_T_DIR)
        return zp_err_set(err, ZP_E_INPUT, NULL, "the root '%s' is not a directory", name);
    if (type == BACKUP_T_SYMLINK)
        return backup_check_symlink(rel, archive_entry_symlink(ae), err);
    return 0;
}

/* ---- tree checksums ---- */

#define KEYLEN 16

/* One path seen in the tree: the first KEYLEN bytes of SHA-256(path), and for regular files
 * their content digest and size (what a hard link to them counts as). */
struct slot {
    unsigned char key[KEYLEN];
    unsigned char content[32];
    uint64_t size;
    unsigned char used;
    unsigned char regular;
};

struct backup_digest {
    unsigned char (*hashes)[32]; /* one per entry */
    size_t n, cap;
    struct slot *table; /* open addressing, power-of-two size */
    size_t tcap, tused;
    uint64_t size;
    /* the current entry */
    bool open;
    struct zp_buf head; /* the entry's fields before the content digest */
    struct zp_sha256 content;
    bool has_content;
    struct slot *cur;
    unsigned char link_content[32];
    uint64_t link_size;
    uint64_t cur_size;
};

struct backup_digest *backup_digest_new(void)
{
    struct backup_digest *d = zp_calloc(1, sizeof(*d));
    d->tcap = 1024;
    d->table = zp_calloc(d->tcap, sizeof(*d->table));
    zp_buf_init(&d->head, 0);
    return d;
}

void backup_digest_free(struct backup_digest *d)
{
    if (d == NULL)
        return;
    if (d->content.ctx != NULL) { /* freed in the middle of a file */
        unsigned char ignored[32];
        zp_sha256_final(&d->content, ignored);
    }
    free(d->hashes);
    free(d->table);
    zp_buf_release(&d->head);
    free(d);
}

static size_t slot_index(const unsigned char *key, size_t cap)
{
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    return (size_t)(h & (cap - 1));
}

static struct slot *table_find(struct backup_digest *d, const unsigned char *key, bool insert)
{
    if (insert && (d->tused + 1) * 2 > d->tcap) {
        size_t ncap = d->tcap * 2;
        struct slot *nt = zp_calloc(ncap, sizeof(*nt));
        for (size_t i = 0; i < d->tcap; i++) {
            if (!d->table[i].used)
                continue;
            size_t j = slot_index(d->table[i].key, ncap);
            while (nt[j].used)
                j = (j + 1) & (ncap - 1);
            nt[j] = d->table[i];
        }
        free(d->table);
        d->table = nt;
        d->tcap = ncap;
    }
    size_t i = slot_index(key, d->tcap);
    while (d->table[i].used) {
        if (memcmp(d->table[i].key, key, KEYLEN) == 0)
            return &d->table[i];
        i = (i + 1) & (d->tcap - 1);
    }
    if (!insert)
        return NULL;
    return &d->table[i];
}

static void path_key(const char *rel, unsigned char out[KEYLEN])
{
    unsigned char full[32];
    zp_sha256(rel, strlen(rel), full);
    memcpy(out, full, KEYLEN);
}

int backup_digest_begin(struct backup_digest *d, const char *rel, enum backup_type type,
                        unsigned mode, int64_t uid, int64_t gid, const char *link,
                        struct zp_err *err)
{
    if (d->open)
        ZP_BUG("backup_digest_begin inside an entry");
    if (d->n >= BACKUP_MAX_ENTRIES)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "more than %zu entries", BACKUP_MAX_ENTRIES);
    unsigned char key[KEYLEN];
    path_key(rel, key);
    if (table_find(d, key, false) != NULL)
        return zp_err_set(err, ZP_E_INPUT, NULL, "entry '%s' appears twice", rel);
    enum backup_type as = type;
    if (type == BACKUP_T_HARDLINK) {
        unsigned char tkey[KEYLEN];
        path_key(link ? link : "", tkey);
        const struct slot *t = table_find(d, tkey, false);
        if (t == NULL || !t->regular)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "hard link '%s' points to '%s', which is not an earlier file", rel,
                              link ? link : "");
        memcpy(d->link_content, t->content, 32);
        d->link_size = t->size;
        as = BACKUP_T_FILE; /* a hard link counts as the file it shares */
    }
    struct slot *s = table_find(d, key, true);
    memcpy(s->key, key, KEYLEN);
    s->used = 1;
    s->regular = type == BACKUP_T_FILE;
    d->tused++;
    d->cur = s;

    static const char type_char[] = {'f', 'd', 'l', 'h', 'p'};
    zp_buf_reset(&d->head);
    zp_buf_adds(&d->head, "zpanel-backup-entry-1");
    zp_buf_addc(&d->head, '\0');
    zp_buf_adds(&d->head, rel);
    zp_buf_addc(&d->head, '\0');
    zp_buf_addf(&d->head, "%c%c%o%c%lld%c%lld%c", type_char[as], '\0', mode & 07777u, '\0',
                (long long)uid, '\0', (long long)gid, '\0');
    if (type == BACKUP_T_SYMLINK)
        zp_buf_adds(&d->head, link ? link : "");
    zp_buf_addc(&d->head, '\0');
    d->has_content = as == BACKUP_T_FILE;
    d->cur_size = 0;
    if (type == BACKUP_T_FILE)
        zp_sha256_init(&d->content);
    d->open = true;
    return 0;
}

void backup_digest_data(struct backup_digest *d, const void *data, size_t len)
{
    if (!d->open || !d->cur->regular)
        return; /* only regular files have content of their own */
    zp_sha256_update(&d->content, data, len);
    d->cur_size += len;
}

void backup_digest_end(struct backup_digest *d)
{
    if (!d->open)
        ZP_BUG("backup_digest_end outside an entry");
    unsigned char content[32];
    uint64_t size = 0;
    memset(content, 0, sizeof(content));
    if (d->cur->regular) {
        zp_sha256_final(&d->content, content);
        size = d->cur_size;
        memcpy(d->cur->content, content, 32);
        d->cur->size = size;
        d->size += size;
    } else if (d->has_content) { /* a hard link */
        memcpy(content, d->link_content, 32);
        size = d->link_size;
    }
    if (d->has_content) {
        char hex[65];
        zp_hex32(content, hex);
        zp_buf_addf(&d->head, "%llu%c%s", (unsigned long long)size, '\0', hex);
    }
    if (d->n == d->cap)
        zp_grow((void **)&d->hashes, &d->cap, d->n + 1, sizeof(*d->hashes));
    zp_sha256(d->head.p, d->head.len, d->hashes[d->n++]);
    d->open = false;
    d->cur = NULL;
}

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

void backup_digest_finish(struct backup_digest *d, char ret_hex[65], uint64_t *ret_size,
                          uint64_t *ret_files)
{
    if (d->open)
        backup_digest_end(d);
    if (d->n > 1)
        qsort(d->hashes, d->n, sizeof(*d->hashes), cmp_hash);
    unsigned char out[32];
    struct zp_sha256 st;
    zp_sha256_init(&st);
    static const char tag[] = "zpanel-backup-tree-1";
    zp_sha256_update(&st, tag, sizeof(tag));
    if (d->n > 0)
        zp_sha256_update(&st, d->hashes, d->n * 32);
    zp_sha256_final(&st, out);
    zp_hex32(out, ret_hex);
    if (ret_size)
        *ret_size = d->size;
    if (ret_files)
        *ret_files = d->n;
}

/* backup/digest: the path rules every archive entry must follow, the archive's section
 * layout and entry order, and streaming tree checksums. */
#include <stdlib.h>
#include <string.h>

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
    if ((kind == BACKUP_VOLUME || kind == BACKUP_DUMP) && strchr(key, '/') != NULL)
        return zp_err_set(err, ZP_E_INPUT, NULL, "%s key '%s' contains '/'",
                          kind == BACKUP_VOLUME ? "volume" : "dump", key);
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
    /* Only leading ".." components may climb, and no higher than the link's directory.
     * Every directory an entry is written in is a real directory (never reached through a
     * link: restore opens each component without following links), so resolving such a
     * target starts in a real directory inside the root, climbs at most to the root, then
     * only descends; a link met on the way down starts again from its own real directory
     * under the same rule. No chain of such links can leave the root, whatever the order
     * the links were written in. */
    long depth = 0;
    for (const char *p = rel; *p; p++)
        if (*p == '/')
            depth++;
    bool descended = false;
    const char *p = target;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (descended)
                return zp_err_set(err, ZP_E_INPUT, NULL,
                                  "symbolic link '%s' -> '%s': '..' after a name (a link on "
                                  "the way could lead elsewhere)",
                                  rel, target);
            if (--depth < 0)
                return zp_err_set(err, ZP_E_INPUT, NULL,
                                  "symbolic link '%s' points outside its root ('%s')", rel, target);
        } else if (!(n == 0 || (n == 1 && p[0] == '.'))) {
            descended = true;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    return 0;
}

int backup_path_cmp(const char *a, const char *b)
{
    /* component by component: the end of a path sorts first, then '/', then bytes */
    for (size_t i = 0;; i++) {
        unsigned ca = a[i] == '\0' ? 0u : a[i] == '/' ? 1u : (unsigned char)a[i] + 1u;
        unsigned cb = b[i] == '\0' ? 0u : b[i] == '/' ? 1u : (unsigned char)b[i] + 1u;
        if (ca != cb)
            return ca < cb ? -1 : 1;
        if (ca == 0)
            return 0;
    }
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
    case BACKUP_DUMP:
        return "dumps";
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
    static const enum backup_kind kinds[] = {BACKUP_VOLUME, BACKUP_BIND, BACKUP_FILE, BACKUP_DUMP};
    for (size_t k = 0; k < 4; k++) {
        const char *dir = backup__kind_dir(kinds[k]);
        size_t dl = strlen(dir);
        if (strncmp(path, dir, dl) != 0 || path[dl] != '/')
            continue;
        const char *rest = path + dl + 1;
        char *key = NULL;
        const char *rel = "";
        if (kinds[k] == BACKUP_FILE || kinds[k] == BACKUP_DUMP) {
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

/* ---- tree checksums ---- */

struct backup_digest {
    struct zp_sha256 tree; /* over the entry hashes, in order */
    uint64_t n, size;
    bool open;
    bool regular;
    struct zp_buf head; /* the entry's fields before the content digest */
    struct zp_sha256 content;
    uint64_t cur_size;
};

struct backup_digest *backup_digest_new(void)
{
    struct backup_digest *d = zp_calloc(1, sizeof(*d));
    zp_buf_init(&d->head, 0);
    zp_sha256_init(&d->tree);
    static const char tag[] = "zpanel-backup-tree-2";
    zp_sha256_update(&d->tree, tag, sizeof(tag));
    return d;
}

void backup_digest_free(struct backup_digest *d)
{
    if (d == NULL)
        return;
    unsigned char ignored[32];
    if (d->content.ctx != NULL) /* freed in the middle of a file */
        zp_sha256_final(&d->content, ignored);
    if (d->tree.ctx != NULL)
        zp_sha256_final(&d->tree, ignored);
    zp_buf_release(&d->head);
    free(d);
}

void backup_digest_begin(struct backup_digest *d, const char *rel, enum backup_type type,
                         unsigned mode, int64_t uid, int64_t gid, const char *link)
{
    if (d->open)
        ZP_BUG("backup_digest_begin inside an entry");
    static const char type_char[] = {'f', 'd', 'l', 'h', 'p'};
    zp_buf_reset(&d->head);
    zp_buf_adds(&d->head, "zpanel-backup-entry-2");
    zp_buf_addc(&d->head, '\0');
    zp_buf_adds(&d->head, rel);
    zp_buf_addc(&d->head, '\0');
    zp_buf_addf(&d->head, "%c%c%o%c%lld%c%lld%c", type_char[type], '\0', mode & 07777u, '\0',
                (long long)uid, '\0', (long long)gid, '\0');
    if (type == BACKUP_T_SYMLINK || type == BACKUP_T_HARDLINK)
        zp_buf_adds(&d->head, link ? link : "");
    zp_buf_addc(&d->head, '\0');
    d->regular = type == BACKUP_T_FILE;
    d->cur_size = 0;
    if (d->regular)
        zp_sha256_init(&d->content);
    d->open = true;
}

void backup_digest_data(struct backup_digest *d, const void *data, size_t len)
{
    if (!d->open || !d->regular)
        return; /* only regular files have content */
    zp_sha256_update(&d->content, data, len);
    d->cur_size += len;
}

void backup_digest_end(struct backup_digest *d)
{
    if (!d->open)
        ZP_BUG("backup_digest_end outside an entry");
    if (d->regular) {
        unsigned char content[32];
        zp_sha256_final(&d->content, content);
        char hex[65];
        zp_hex32(content, hex);
        zp_buf_addf(&d->head, "%llu%c%s", (unsigned long long)d->cur_size, '\0', hex);
        d->size += d->cur_size;
    }
    unsigned char h[32];
    zp_sha256(d->head.p, d->head.len, h);
    zp_sha256_update(&d->tree, h, sizeof(h));
    d->n++;
    d->open = false;
}

void backup_digest_finish(struct backup_digest *d, char ret_hex[65], uint64_t *ret_size,
                          uint64_t *ret_files)
{
    if (d->open)
        backup_digest_end(d);
    unsigned char out[32];
    zp_sha256_final(&d->tree, out);
    zp_hex32(out, ret_hex);
    if (ret_size)
        *ret_size = d->size;
    if (ret_files)
        *ret_files = d->n;
}

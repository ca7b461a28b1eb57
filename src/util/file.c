/* util: whole-file reads, lexical path helpers and SHA-256. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

int zp_file_read(const char *path, size_t max, char **ret_data, size_t *ret_len, struct zp_err *err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return zp_err_sys(err, "cannot read '%s'", path);
    struct zp_buf b;
    zp_buf_init(&b, max);
    char chunk[65536];
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = zp_err_sys(err, "cannot read '%s'", path);
            break;
        }
        if (n == 0)
            break;
        if (zp_buf_add(&b, chunk, (size_t)n)) {
            rc = zp_err_set(err, ZP_E_TOOBIG, NULL, "'%s' is larger than %zu bytes", path, max);
            break;
        }
    }
    if (!is_stdin)
        close(fd);
    if (rc) {
        zp_buf_release(&b);
        return rc;
    }
    *ret_data = zp_buf_detach(&b, ret_len);
    return 0;
}

int zp_mkdir_p(const char *path, unsigned mode, struct zp_err *err)
{
    char *p = zp_strdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
            rc = zp_err_sys(err, "creating directory '%s'", p);
            break;
        }
        *s = saved;
        if (saved == '\0')
            break;
    }
    if (rc == 0) {
        struct stat sb;
        if (stat(p, &sb) != 0)
            rc = zp_err_sys(err, "creating directory '%s'", p);
        else if (!S_ISDIR(sb.st_mode))
            rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "'%s' is not a directory", p);
    }
    free(p);
    return rc;
}

bool zp_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

char *zp_path_clean(const char *path)
{
    bool abs = path[0] == '/';
    size_t n = strlen(path);
    /* components as (start, len) pairs */
    size_t *starts = zp_calloc(n + 1, sizeof(size_t));
    size_t *lens = zp_calloc(n + 1, sizeof(size_t));
    size_t nc = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && path[i] == '/')
            i++;
        size_t s = i;
        while (i < n && path[i] != '/')
            i++;
        size_t l = i - s;
        if (l == 0 || (l == 1 && path[s] == '.'))
            continue;
        if (l == 2 && path[s] == '.' && path[s + 1] == '.') {
            if (nc > 0 && !(lens[nc - 1] == 2 && path[starts[nc - 1]] == '.' &&
                            path[starts[nc - 1] + 1] == '.')) {
                nc--;
                continue;
            }
            if (abs)
                continue;
        }
        starts[nc] = s;
        lens[nc] = l;
        nc++;
    }
    struct zp_buf b = ZP_BUF_INIT;
    if (abs)
        zp_buf_addc(&b, '/');
    for (size_t k = 0; k < nc; k++) {
        if (k)
            zp_buf_addc(&b, '/');
        zp_buf_add(&b, path + starts[k], lens[k]);
    }
    if (b.len == 0)
        zp_buf_addc(&b, '.');
    free(starts);
    free(lens);
    return zp_buf_detach(&b, NULL);
}

char *zp_path_join(const char *dir, const char *rel)
{
    if (rel[0] == '/' || !dir || !*dir)
        return zp_path_clean(rel);
    char *j = zp_asprintf("%s/%s", dir, rel);
    char *c = zp_path_clean(j);
    free(j);
    return c;
}

char *zp_path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return zp_strdup(".");
    if (slash == path)
        return zp_strdup("/");
    return zp_strndup(path, (size_t)(slash - path));
}

char *zp_path_abs(const char *path)
{
    if (path[0] == '/')
        return zp_path_clean(path);
    char *cwd = getcwd(NULL, 0);
    if (!cwd)
        return zp_path_clean(path);
    char *r = zp_path_join(cwd, path);
    free(cwd);
    return r;
}

void zp_hex32(const unsigned char in[32], char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[64] = '\0';
}

void zp_sha256_init(struct zp_sha256 *h)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        abort(); /* out of memory: as zp_malloc */
    h->ctx = ctx;
}

void zp_sha256_update(struct zp_sha256 *h, const void *data, size_t len)
{
    if (len > 0 && EVP_DigestUpdate(h->ctx, data, len) != 1)
        abort();
}

void zp_sha256_final(struct zp_sha256 *h, unsigned char out[32])
{
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != 32)
        abort();
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

void zp_sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32)
        abort();
}

void zp_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char digest[32];
    zp_sha256(data, len, digest);
    zp_hex32(digest, out);
}

/* ---- zpanel's state directory ---- */

static char *passwd_home(void)
{
    long max = sysconf(_SC_GETPW_R_SIZE_MAX);
    size_t len = max > 0 ? (size_t)max : 16384;
    char *buf = zp_malloc(len);
    struct passwd pw, *found = NULL;
    char *home = NULL;
    if (getpwuid_r(geteuid(), &pw, buf, len, &found) == 0 && found && found->pw_dir &&
        found->pw_dir[0] == '/')
        home = zp_strdup(found->pw_dir);
    free(buf);
    return home;
}

char *zp_state_dir_for(bool root)
{
    const char *v = getenv("ZPANEL_STATE_DIR");
    /* relative: against the working directory, made absolute once (containers mount paths
     * under it, and a later chdir must not move the state) */
    if (v && *v)
        return zp_path_abs(v);
    if (root)
        return zp_strdup("/var/lib/zpanel");
    /* the XDG spec: a relative XDG_STATE_HOME is invalid and ignored */
    v = getenv("XDG_STATE_HOME");
    if (v && v[0] == '/')
        return zp_path_join(v, "zpanel");
    v = getenv("HOME");
    if (v && v[0] == '/')
        return zp_path_join(v, ".local/state/zpanel");
    char *home = passwd_home();
    if (home) {
        char *dir = zp_path_join(home, ".local/state/zpanel");
        free(home);
        return dir;
    }
    /* no home at all: whoever opens it fails on this path and names it */
    return zp_strdup("/var/lib/zpanel");
}

char *zp_state_dir(void)
{
    return zp_state_dir_for(geteuid() == 0);
}

int zp_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

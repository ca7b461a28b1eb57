/* store/secret: values encrypted at rest (project environments, notification secrets,
 * template values): each is sealed with libsodium's secretbox (XSalsa20-Poly1305, a random
 * nonce per value) under the key in <state>/secret.key (32 random bytes, 0600, created on
 * first use) and stored as "zpenc:v1:" + base64(nonce | box). The API shows masks; a job
 * opens them to deploy. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret.h"

#include "../util/banned.h"

#define KEY_FILE "secret.key"

static int read_key(int fd, const char *path, unsigned char key[crypto_secretbox_KEYBYTES],
                    struct zp_err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return zp_err_sys(err, "'%s'", path);
    if ((st.st_mode & 077) != 0)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "'%s' is readable by others (mode %03o): it must be 0600", path,
                          (unsigned)(st.st_mode & 0777));
    size_t got = 0;
    while (got < crypto_secretbox_KEYBYTES) {
        ssize_t n = read(fd, key + got, crypto_secretbox_KEYBYTES - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got != crypto_secretbox_KEYBYTES || st.st_size != crypto_secretbox_KEYBYTES)
        return zp_err_set(err, ZP_E_INPUT, NULL, "'%s' is not a key of %d bytes", path,
                          crypto_secretbox_KEYBYTES);
    return 0;
}

int store_secret_key(const char *state_dir, unsigned char key[STORE_SECRET_KEY_BYTES],
                     struct zp_err *err)
{
    if (sodium_init() < 0)
        return zp_err_set(err, ZP_E_SYSTEM, NULL, "libsodium cannot start");
    char *path = zp_path_join(state_dir, KEY_FILE);
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        /* first use: write the key under a temporary name, then link it in (a concurrent
         * first use keeps whichever key got there first) */
        char *tmp = zp_asprintf("%s.%ld.tmp", path, (long)getpid());
        int w = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (w < 0) {
            rc = zp_err_sys(err, "creating '%s'", tmp);
        } else {
            unsigned char fresh[crypto_secretbox_KEYBYTES];
            randombytes_buf(fresh, sizeof(fresh));
            ssize_t n = write(w, fresh, sizeof(fresh));
            sodium_memzero(fresh, sizeof(fresh));
            if (n != (ssize_t)sizeof(fresh) || fsync(w) != 0)
                rc = zp_err_sys(err, "writing '%s'", tmp);
            close(w);
            if (rc == 0 && link(tmp, path) != 0 && errno != EEXIST)
                rc = zp_err_sys(err, "creating '%s'", path);
            unlink(tmp);
        }
        free(tmp);
        if (rc == 0)
            fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (rc == 0 && fd < 0)
        rc = zp_err_sys(err, "reading '%s'", path);
    if (rc == 0)
        rc = read_key(fd, path, key, err);
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

bool store_secret_sealed(const char *v)
{
    return strncmp(v, STORE_SECRET_PREFIX, strlen(STORE_SECRET_PREFIX)) == 0;
}

static char *seal(const unsigned char *key, const char *v)
{
    size_t n = strlen(v);
    size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
    unsigned char *b = zp_malloc(blen);
    randombytes_buf(b, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(b + crypto_secretbox_NONCEBYTES, (const unsigned char *)v, n, b, key);
    size_t elen = sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_ORIGINAL);
    char *out = zp_malloc(strlen(STORE_SECRET_PREFIX) + elen);
    memcpy(out, STORE_SECRET_PREFIX, strlen(STORE_SECRET_PREFIX));
    sodium_bin2base64(out + strlen(STORE_SECRET_PREFIX), elen, b, blen,
                      sodium_base64_VARIANT_ORIGINAL);
    free(b);
    return out;
}

/* open v; what names it in errors ("env.KEY") */
static int open_one(const unsigned char *key, const char *what, const char *v, char **ret,
                    struct zp_err *err)
{
    const char *b64 = v + strlen(STORE_SECRET_PREFIX);
    size_t cap = strlen(b64);
    unsigned char *b = zp_malloc(cap + 1);
    size_t blen = 0;
    if (sodium_base642bin(b, cap, b64, strlen(b64), NULL, &blen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        blen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        free(b);
        return zp_err_set(err, ZP_E_INPUT, NULL, "%s: not a sealed value", what);
    }
    size_t n = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    char *plain = zp_malloc(n + 1);
    int bad = crypto_secretbox_open_easy((unsigned char *)plain, b + crypto_secretbox_NONCEBYTES,
                                         blen - crypto_secretbox_NONCEBYTES, b, key);
    free(b);
    if (bad) {
        free(plain);
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "%s: cannot be decrypted with this state directory's " KEY_FILE, what);
    }
    plain[n] = '\0';
    *ret = plain;
    return 0;
}

/* Map every string value of env_json through seal (open: false) or open_one (open: true). */
static int map_env(const char *state_dir, const char *env_json, bool do_open, char **ret,
                   struct zp_err *err)
{
    *ret = NULL;
    json_t *env = json_loads(env_json ? env_json : "{}", 0, NULL);
    if (!json_is_object(env)) {
        json_decref(env);
        return zp_err_set(err, ZP_E_INPUT, NULL, "the stored environment is not a JSON object");
    }
    unsigned char key[STORE_SECRET_KEY_BYTES];
    int rc = 0;
    bool have_key = false;
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v)
    {
        const char *s = json_string_value(v);
        if (!s || store_secret_sealed(s) != do_open)
            continue;
        if (!have_key) {
            if ((rc = store_secret_key(state_dir, key, err)) != 0)
                break;
            have_key = true;
        }
        char *out = NULL;
        if (do_open) {
            char *what = zp_asprintf("env.%s", k);
            rc = open_one(key, what, s, &out, err);
            free(what);
            if (rc != 0)
                break;
        } else {
            out = seal(key, s);
        }
        json_object_set_new(env, k, json_string(out));
        sodium_memzero(out, strlen(out));
        free(out);
    }
    sodium_memzero(key, sizeof(key));
    if (rc == 0)
        *ret = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(env);
    return rc;
}

int store_env_seal(const char *state_dir, const char *env_json, char **ret, struct zp_err *err)
{
    return map_env(state_dir, env_json, false, ret, err);
}

int store_env_open(const char *state_dir, const char *env_json, char **ret, struct zp_err *err)
{
    return map_env(state_dir, env_json, true, ret, err);
}

json_t *store_env_masked(const char *env_json)
{
    json_t *env = json_loads(env_json ? env_json : "{}", 0, NULL);
    if (!json_is_object(env)) {
        json_decref(env);
        return json_object();
    }
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v)
    {
        json_object_set_new(env, k, json_string(STORE_SECRET_MASK));
    }
    return env;
}

int store_secret_seal(const char *state_dir, const char *v, char **ret, struct zp_err *err)
{
    unsigned char key[STORE_SECRET_KEY_BYTES];
    int rc = store_secret_key(state_dir, key, err);
    if (rc)
        return rc;
    *ret = seal(key, v);
    sodium_memzero(key, sizeof(key));
    return 0;
}

int store_secret_open(const char *state_dir, const char *what, const char *v, char **ret,
                      struct zp_err *err)
{
    if (!store_secret_sealed(v))
        return zp_err_set(err, ZP_E_INPUT, NULL, "%s: not a sealed value", what);
    unsigned char key[STORE_SECRET_KEY_BYTES];
    int rc = store_secret_key(state_dir, key, err);
    if (rc == 0)
        rc = open_one(key, what, v, ret, err);
    sodium_memzero(key, sizeof(key));
    return rc;
}

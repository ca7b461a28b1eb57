/* server/auth: accounts of the control plane: users with argon2id password hashes
 * (libsodium) and API tokens, random and stored only as their SHA-256. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server-int.h"

#include "../util/banned.h"

#define USER_NAME_MAX 64
#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024
#define TOKEN_BYTES 32
#define TOKEN_PREFIX "zpt_"

static bool user_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > USER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (i > 0 && (c == '.' || c == '-' || c == '_'));
        if (!ok)
            return false;
    }
    return true;
}

int server_user_add(const char *state_dir, const char *name, const char *role, const char *password,
                    struct zp_err *err)
{
    if (!user_name_valid(name))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "invalid user name '%s': use letters, digits, '.', '-' and '_' (at "
                          "most %d)",
                          name, USER_NAME_MAX);
    int r = store_role_parse(role);
    if (r < 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "--role: '%s' is not one of admin, member, viewer",
                          role);
    size_t plen = strlen(password);
    if (plen < PASSWORD_MIN || plen > PASSWORD_MAX)
        return zp_err_set(err, ZP_E_INPUT, NULL, "the password must have %d to %d bytes",
                          PASSWORD_MIN, PASSWORD_MAX);
    if (sodium_init() < 0)
        return zp_err_set(err, ZP_E_SYSTEM, NULL, "libsodium cannot start");
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(hash, password, plen, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return zp_err_set(err, ZP_E_SYSTEM, NULL, "hashing the password: out of memory");
    struct store_panel *db = NULL;
    int rc = store_panel_open(state_dir, &db, err);
    if (rc == 0)
        rc = store_panel_user_add(db, name, (enum store_role)r, hash, NULL, err);
    store_panel_close(db);
    sodium_memzero(hash, sizeof(hash));
    return rc;
}

int server_token_create(const char *state_dir, const char *user, const char *scope, int64_t ttl_s,
                        char **ret_token, struct zp_err *err)
{
    int sc = store_scope_parse(scope);
    if (sc < 0)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "--scope: '%s' is not one of read, deploy, write, admin", scope);
    if (ttl_s < 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "--expires: must not be negative");
    if (sodium_init() < 0)
        return zp_err_set(err, ZP_E_SYSTEM, NULL, "libsodium cannot start");
    struct store_panel *db = NULL;
    int rc = store_panel_open(state_dir, &db, err);
    if (rc)
        return rc;
    int64_t uid;
    enum store_role role;
    if ((rc = store_panel_user_get(db, user, &uid, &role, err)) != 0)
        goto out;
    enum store_scope max = role == STORE_ROLE_ADMIN    ? STORE_SCOPE_ADMIN
                           : role == STORE_ROLE_MEMBER ? STORE_SCOPE_WRITE
                                                       : STORE_SCOPE_READ;
    if (sc > (int)max) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL,
                        "--scope: user '%s' is a %s: its tokens can have scope '%s' at most", user,
                        store_role_name(role), store_scope_name(max));
        goto out;
    }
    unsigned char raw[TOKEN_BYTES];
    randombytes_buf(raw, sizeof(raw));
    char b64[sodium_base64_ENCODED_LEN(TOKEN_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    char *token = zp_asprintf(TOKEN_PREFIX "%s", b64);
    sodium_memzero(b64, sizeof(b64));
    char hash[65];
    zp_sha256_hex(token, strlen(token), hash);
    int64_t expires = ttl_s > 0 ? (int64_t)time(NULL) + ttl_s : 0;
    if ((rc = store_panel_token_add(db, uid, hash, (enum store_scope)sc, expires, NULL, err)) !=
        0) {
        free(token);
        goto out;
    }
    *ret_token = token;
out:
    store_panel_close(db);
    return rc;
}

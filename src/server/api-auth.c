/* server/api-auth: browser sessions. POST /api/v1/login checks a user's password (argon2id,
 * libsodium) under the login rate limit (per user name and per client address: 429 with
 * Retry-After while locked) and sets two cookies: the session (HttpOnly, SameSite=Strict;
 * a random token stored only as its SHA-256 in the tokens table, with the user's role's
 * widest scope, for 12 hours) and the CSRF token (readable by the page's script), which
 * every state-changing request authenticated by the cookie must repeat in X-CSRF-Token.
 * POST /api/v1/logout forgets the session and clears both cookies. */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server-int.h"

#include "../util/banned.h"

#define SECRET_BYTES 32

static char *random_text(const char *prefix)
{
    unsigned char raw[SECRET_BYTES];
    randombytes_buf(raw, sizeof(raw));
    char b64[sodium_base64_ENCODED_LEN(SECRET_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    char *s = zp_asprintf("%s%s", prefix, b64);
    sodium_memzero(b64, sizeof(b64));
    return s;
}

/* "; Secure" when the request came through a TLS proxy that says so */
static const char *secure_attr(const struct srv_req *req)
{
    const char *p = srv_req_header(req, "X-Forwarded-Proto");
    return p && strcmp(p, "https") == 0 ? "; Secure" : "";
}

static void limited(struct srv_resp *resp, int64_t wait_ms)
{
    resp->retry_after = (wait_ms + 999) / 1000;
    srv_reply_error(resp, 429, "too_many_requests", NULL,
                    "too many failed logins: try again in %lld s", (long long)resp->retry_after);
}

static char decoy[crypto_pwhash_STRBYTES];

static void decoy_make(void)
{
    unsigned char pw[32];
    if (sodium_init() < 0)
        abort(); /* as the login would: libsodium cannot start without randomness */
    randombytes_buf(pw, sizeof(pw));
    /* the parameters of every user's hash (server_user_add) */
    if (crypto_pwhash_str_alg(
            decoy, (const char *)pw, sizeof(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        abort(); /* out of memory: as zp_malloc */
}

static const char *decoy_hash(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, decoy_make);
    return decoy;
}

void srv_api_login(struct srv_req *req, struct srv_resp *resp)
{
    json_t *body = srv_req_body(req, resp);
    if (!body)
        return;
    struct zp_err err;
    zp_err_init(&err);
    const char *user = json_string_value(json_object_get(body, "user"));
    const char *pw = json_string_value(json_object_get(body, "password"));
    if (!user || !pw || !*user || strlen(user) > 64 || strlen(pw) > 1024) {
        json_decref(body);
        srv_reply_error(resp, 400, "bad_request", NULL,
                        "the body must be {\"user\": NAME, \"password\": PASSWORD}");
        return;
    }
    decoy_hash(); /* made at the first login, whichever user it names */
    char *ukey = zp_asprintf("u:%s", user);
    char *akey = zp_asprintf("a:%s", req->addr);
    int64_t now = srv_now_ms();
    int64_t wu = srv_limit_check(req->srv->limit, ukey, now);
    int64_t wa = srv_limit_check(req->srv->limit, akey, now);
    char *pwhash = NULL;
    int64_t uid = 0;
    enum store_role role = STORE_ROLE_VIEWER;
    if (wu > 0 || wa > 0) {
        limited(resp, wu > wa ? wu : wa);
        goto out;
    }
    int rc = store_panel_user_pwhash(req->db, user, &uid, &role, &pwhash, &err);
    if (rc != 0 && err.code != ZP_E_NOTFOUND) {
        srv_reply_zerr(resp, &err);
        goto out;
    }
    /* an unknown user costs one verification too (against a hash of a random password
     * made once), so the answer's time does not tell which user names exist */
    bool good = crypto_pwhash_str_verify(rc == 0 ? pwhash : decoy_hash(), pw, strlen(pw)) == 0;
    if (rc != 0 || !good) {
        now = srv_now_ms(); /* the lockout counts from the answer, not from the request */
        srv_limit_fail(req->srv->limit, ukey, SRV_LIMIT_FREE_USER, now);
        srv_limit_fail(req->srv->limit, akey, SRV_LIMIT_FREE_ADDR, now);
        srv_log("warning", "msg=\"failed login\" user=%s remote=%s", user, req->addr);
        srv_reply_error(resp, 401, "unauthorized", NULL, "wrong user name or password");
        goto out;
    }
    /* only the user's count starts over: an address's is not reset by logging in to an
     * account its owner has between guesses at others */
    srv_limit_clear(req->srv->limit, ukey);
    enum store_scope scope = role == STORE_ROLE_ADMIN    ? STORE_SCOPE_ADMIN
                             : role == STORE_ROLE_MEMBER ? STORE_SCOPE_WRITE
                                                         : STORE_SCOPE_READ;
    char *session = random_text(SRV_SESSION_PREFIX);
    char *csrf = random_text("");
    char hash[65];
    zp_sha256_hex(session, strlen(session), hash);
    int64_t expires = (int64_t)time(NULL) + SRV_SESSION_TTL_S;
    if (store_panel_token_add(req->db, uid, hash, scope, expires, NULL, &err) != 0) {
        srv_reply_zerr(resp, &err);
    } else {
        const char *sec = secure_attr(req);
        resp->cookies[0] =
            zp_asprintf(SRV_SESSION_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s",
                        session, SRV_SESSION_TTL_S, sec);
        resp->cookies[1] = zp_asprintf(SRV_CSRF_COOKIE "=%s; Path=/; Max-Age=%d; SameSite=Strict%s",
                                       csrf, SRV_SESSION_TTL_S, sec);
        req->authed = true; /* the audit names who logged in */
        req->auth.user = zp_strdup(user);
        srv_reply_json(resp, 200,
                       json_pack("{s:s, s:s, s:s, s:s, s:I}", "user", user, "role",
                                 store_role_name(role), "scope", store_scope_name(scope),
                                 "csrf_token", csrf, "expires", (json_int_t)expires));
    }
    sodium_memzero(session, strlen(session));
    free(session);
    free(csrf);
out:
    if (pwhash) {
        sodium_memzero(pwhash, strlen(pwhash));
        free(pwhash);
    }
    free(ukey);
    free(akey);
    json_decref(body);
}

void srv_api_logout(struct srv_req *req, struct srv_resp *resp)
{
    const char *session = srv_req_cookie(req, SRV_SESSION_COOKIE);
    if (req->by_cookie && session) {
        char hash[65];
        zp_sha256_hex(session, strlen(session), hash);
        struct zp_err err;
        zp_err_init(&err);
        if (store_panel_token_delete(req->db, hash, &err) != 0) {
            srv_reply_zerr(resp, &err);
            return;
        }
    }
    const char *sec = secure_attr(req);
    resp->cookies[0] =
        zp_asprintf(SRV_SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s", sec);
    resp->cookies[1] = zp_asprintf(SRV_CSRF_COOKIE "=; Path=/; Max-Age=0; SameSite=Strict%s", sec);
    srv_reply_json(resp, 200, json_pack("{s:b}", "logged_out", req->by_cookie && session));
}

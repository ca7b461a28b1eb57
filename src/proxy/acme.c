/* proxy/acme: automatic HTTPS. The edge's ACME settings (kept in the proxy's state
 * directory), and what became of each HTTPS host's certificate: the certificate Caddy
 * keeps in the proxy's data directory (issuer, expiry) and the last failed issuance
 * from the edge's log. Keys are never read. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../engine/engine.h"
#include "proxy-int.h"

#include "../util/banned.h"

#define ACME_FILE "acme.json"
#define ACME_MAX_FILE ((size_t)64 << 10)
#define ACME_MAX_CERT ((size_t)1 << 20)
#define ACME_LOG_TAIL 5000
#define ACME_MAX_LOG ((size_t)32 << 20)
#define ACME_MAX_ERROR 1000 /* bytes of an issuance error kept */
#define ACME_POLL_MS 250

/* ---- settings ---- */

void proxy_acme_release(struct proxy_acme *a)
{
    if (!a)
        return;
    free(a->email);
    free(a->ca);
    free(a->root_sha);
    memset(a, 0, sizeof(*a));
}

char *proxy_acme_to_json(const struct proxy_acme *a)
{
    json_t *j = json_object();
    if (a->email)
        json_object_set_new(j, "email", json_string(a->email));
    if (a->ca)
        json_object_set_new(j, "ca", json_string(a->ca));
    if (a->ca_root)
        json_object_set_new(j, "ca_root_sha256", json_string(a->root_sha ? a->root_sha : ""));
    char *text = proxy__json_dump(j);
    json_decref(j);
    return text;
}

static int opt_string(json_t *j, const char *key, char **ret, struct zp_err *err)
{
    json_t *v = json_object_get(j, key);
    if (!v)
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v) || json_string_length(v) > 2048)
        return zp_err_set(err, ZP_E_INPUT, NULL, "acme settings: '%s' is not a string", key);
    *ret = zp_strdup(json_string_value(v));
    return 0;
}

int proxy_acme_from_json(const char *text, struct proxy_acme *ret, struct zp_err *err)
{
    memset(ret, 0, sizeof(*ret));
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        return zp_err_set(err, ZP_E_INPUT, NULL, "acme settings: line %d: %s", je.line, je.text);
    struct proxy_acme a;
    memset(&a, 0, sizeof(a));
    int rc = 0;
    if (!json_is_object(j)) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "acme settings: not a JSON object");
        goto out;
    }
    if ((rc = opt_string(j, "email", &a.email, err)) || (rc = opt_string(j, "ca", &a.ca, err)) ||
        (rc = opt_string(j, "ca_root_sha256", &a.root_sha, err)))
        goto out;
    a.ca_root = a.root_sha != NULL;
    *ret = a;
    memset(&a, 0, sizeof(a));
out:
    proxy_acme_release(&a);
    json_decref(j);
    return rc;
}

static char *acme_path(const struct proxy_opts *opts, const char *name)
{
    return proxy__sock_path(opts, name);
}

int proxy_acme_load(const struct proxy_opts *opts, struct proxy_acme *ret, struct zp_err *err)
{
    memset(ret, 0, sizeof(*ret));
    char *path = acme_path(opts, ACME_FILE);
    char *text = NULL;
    size_t len = 0;
    int rc = 0;
    if (zp_file_exists(path)) {
        if ((rc = zp_file_read(path, ACME_MAX_FILE, &text, &len, err)) == 0 &&
            (rc = proxy_acme_from_json(text, ret, err)))
            zp_err_prefix(err, "%s", path);
    }
    free(text);
    free(path);
    return rc;
}

/* Are the PEM text's contents certificates (at least one, nothing else)? */
static bool pem_certs(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return false;
    size_t n = 0;
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        X509_free(x);
        n++;
    }
    BIO_free(bio);
    return n > 0;
}

static bool email_valid(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@') || strlen(s) > 254)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '"' || *p == '\\')
            return false;
    return true;
}

static bool url_valid(const char *s)
{
    if (strncmp(s, "https://", 8) != 0 || !s[8] || s[8] == '/' || strlen(s) > 2048)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return false;
    return true;
}

int proxy_acme_check(const struct proxy_opts *opts, struct zp_err *err)
{
    if (opts->acme_email && opts->acme_email[0] && !email_valid(opts->acme_email))
        return zp_err_set(err, ZP_E_INPUT, NULL, "--acme-email: '%s' is not an email address",
                          opts->acme_email);
    const char *ca = opts->acme_ca;
    if (ca && ca[0] && strcmp(ca, "staging") != 0 && strcmp(ca, "production") != 0 &&
        strcmp(ca, "letsencrypt") != 0 && !url_valid(ca))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "--acme-ca: '%s' is not an https:// URL of an ACME directory (or "
                          "'staging', 'production')",
                          ca);
    if (opts->acme_ca_root && opts->acme_ca_root[0]) {
        char *text = NULL;
        size_t len = 0;
        struct zp_err ferr;
        zp_err_init(&ferr);
        if (zp_file_read(opts->acme_ca_root, ACME_MAX_CERT, &text, &len, &ferr))
            return zp_err_set(err, ZP_E_INPUT, NULL, "--acme-ca-root: %s", ferr.msg);
        bool ok = pem_certs(text, len);
        free(text);
        if (!ok)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "--acme-ca-root: '%s' holds no PEM certificate", opts->acme_ca_root);
    }
    return 0;
}

int proxy__acme_apply(const struct proxy_opts *opts, struct proxy_acme *ret, struct zp_err *err)
{
    struct proxy_acme a;
    int rc = proxy_acme_check(opts, err);
    if (rc)
        return rc;
    if ((rc = proxy_acme_load(opts, &a, err)))
        return rc;
    if (rc)
        return rc;
    char *root_text = NULL, *root_path = acme_path(opts, PROXY_ACME_ROOT_FILE);
    size_t root_len = 0;
    bool changed = false;
    if (opts->acme_email) {
        free(a.email);
        a.email = opts->acme_email[0] ? zp_strdup(opts->acme_email) : NULL;
        changed = true;
    }
    if (opts->acme_ca) {
        const char *ca = opts->acme_ca;
        if (strcmp(ca, "staging") == 0)
            ca = PROXY_ACME_STAGING;
        else if (strcmp(ca, "production") == 0 || strcmp(ca, "letsencrypt") == 0 || !ca[0])
            ca = NULL;
        free(a.ca);
        a.ca = ca ? zp_strdup(ca) : NULL;
        changed = true;
    }
    if (opts->acme_ca_root) {
        free(a.root_sha);
        a.root_sha = NULL;
        a.ca_root = false;
        if (opts->acme_ca_root[0]) {
            struct zp_err ferr;
            zp_err_init(&ferr);
            if (zp_file_read(opts->acme_ca_root, ACME_MAX_CERT, &root_text, &root_len, &ferr)) {
                rc = zp_err_set(err, ZP_E_INPUT, NULL, "--acme-ca-root: %s", ferr.msg);
                goto out;
            }
            if (!pem_certs(root_text, root_len)) {
                rc =
                    zp_err_set(err, ZP_E_INPUT, NULL,
                               "--acme-ca-root: '%s' holds no PEM certificate", opts->acme_ca_root);
                goto out;
            }
            char hex[65];
            zp_sha256_hex(root_text, root_len, hex);
            a.root_sha = zp_strdup(hex);
            a.ca_root = true;
            if ((rc = proxy__write_file(root_path, root_text, err)))
                goto out;
        }
        changed = true;
    }
    if (changed) {
        char *path = acme_path(opts, ACME_FILE);
        char *text = proxy_acme_to_json(&a);
        rc = proxy__write_file(path, text, err);
        free(text);
        free(path);
        if (rc)
            goto out;
    }
    if (a.ca_root && !zp_file_exists(root_path)) {
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL,
                        "the ACME server's root '%s' is gone: give it again with --acme-ca-root",
                        root_path);
        goto out;
    }
    *ret = a;
    memset(&a, 0, sizeof(a));
out:
    proxy_acme_release(&a);
    free(root_text);
    free(root_path);
    return rc;
}

/* ---- certificates ---- */

void proxy_certs_free(struct proxy_cert *c, size_t n)
{
    if (!c)
        return;
    for (size_t i = 0; i < n; i++) {
        free(c[i].host);
        free(c[i].issuer);
        free(c[i].error);
    }
    free(c);
}

static struct proxy_cert *cert_of(struct proxy_cert *c, size_t n, const char *host)
{
    for (size_t i = 0; host && i < n; i++)
        if (strcmp(c[i].host, host) == 0)
            return &c[i];
    return NULL;
}

/* One log line. */
static void log_line(const char *line, size_t len, struct proxy_cert *c, size_t n)
{
    if (len < 2 || line[0] != '{' || !memmem(line, len, "tls.", 4))
        return;
    json_t *j = json_loadb(line, len, 0, NULL);
    const char *logger = json_string_value(json_object_get(j, "logger"));
    const char *msg = json_string_value(json_object_get(j, "msg"));
    struct proxy_cert *pc = cert_of(c, n, json_string_value(json_object_get(j, "identifier")));
    if (!pc || !logger || !msg || strncmp(logger, "tls.", 4) != 0)
        goto out;
    if (strcmp(msg, "could not get certificate from issuer") == 0) {
        const char *e = json_string_value(json_object_get(j, "error"));
        free(pc->error);
        const char *text = e && *e ? e : msg;
        size_t tlen = strlen(text);
        pc->error = zp_strndup(text, tlen < ACME_MAX_ERROR ? tlen : ACME_MAX_ERROR);
        /* one line: the error is printed as a warning */
        for (char *p = pc->error; *p; p++)
            if ((unsigned char)*p < ' ')
                *p = ' ';
        json_t *ts = json_object_get(j, "ts");
        pc->error_at =
            json_is_number(ts) && json_number_value(ts) > 0 && json_number_value(ts) < 1e12
                ? (int64_t)json_number_value(ts)
                : 0;
    } else if (strstr(msg, "obtained successfully") || strstr(msg, "renewed successfully")) {
        free(pc->error);
        pc->error = NULL;
        pc->error_at = 0;
    }
out:
    json_decref(j);
}

void proxy_acme_log_apply(const char *log, size_t len, struct proxy_cert *c, size_t n)
{
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(log + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - log) : len;
        log_line(log + i, end - i, c, n);
        i = end + 1;
    }
}

/* Caddy's storage name of a host ("*.a.b" -> "wildcard_.a.b"). */
static char *storage_name(const char *host)
{
    if (host[0] == '*')
        return zp_asprintf("wildcard_%s", host + 1);
    return zp_strdup(host);
}

/* The certificate (the first of the PEM chain) in file path: its issuer and expiry. */
static bool read_cert(const char *path, char **ret_issuer, int64_t *ret_not_after)
{
    char *text = NULL;
    size_t len = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (zp_file_read(path, ACME_MAX_CERT, &text, &len, &err))
        return false;
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    bool ok = false;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (x && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
        char cn[256];
        X509_NAME *name = X509_get_issuer_name(x);
        if (X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof(cn)) > 0) {
            *ret_issuer = zp_strdup(cn);
        } else {
            char *line = X509_NAME_oneline(name, NULL, 0);
            *ret_issuer = zp_strdup(line ? line : "?");
            OPENSSL_free(line);
        }
        *ret_not_after = (int64_t)timegm(&tm);
        ok = true;
    }
    X509_free(x);
    BIO_free(bio);
    free(text);
    return ok;
}

/* The newest certificate of host under <dir>/data/edge/caddy/certificates/<issuer>/. */
static void find_cert(const char *dir, struct proxy_cert *c)
{
    free(c->issuer);
    c->issuer = NULL;
    c->not_after = 0;
    char *base = zp_asprintf("%s/data/edge/caddy/certificates", dir);
    char *name = storage_name(c->host);
    DIR *d = opendir(base);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *path = zp_asprintf("%s/%s/%s/%s.crt", base, de->d_name, name, name);
        char *issuer = NULL;
        int64_t na = 0;
        if (read_cert(path, &issuer, &na) && na > c->not_after) {
            free(c->issuer);
            c->issuer = issuer;
            c->not_after = na;
            issuer = NULL;
        }
        free(issuer);
        free(path);
    }
    if (d)
        closedir(d);
    free(base);
    free(name);
}

/* The HTTPS hosts of the edge's configuration cfg, with their TLS mode. */
static void hosts_of_config(json_t *cfg, struct proxy_cert **ret, size_t *ret_n)
{
    json_t *apps = json_object_get(cfg, "apps");
    json_t *https = json_object_get(
        json_object_get(json_object_get(json_object_get(apps, "http"), "servers"), "https"),
        "routes");
    json_t *policies =
        json_object_get(json_object_get(json_object_get(apps, "tls"), "automation"), "policies");
    struct proxy_cert *c = NULL;
    size_t n = 0, cap = 0, i, k;
    json_t *route, *h;
    json_array_foreach(https, i, route)
    {
        json_t *m = json_array_get(json_object_get(route, "match"), 0);
        json_array_foreach(json_object_get(m, "host"), k, h)
        {
            if (!json_is_string(h) || cert_of(c, n, json_string_value(h)))
                continue;
            zp_grow((void **)&c, &cap, n + 1, sizeof(*c));
            memset(&c[n], 0, sizeof(*c));
            c[n].host = zp_strdup(json_string_value(h));
            c[n].tls = PROXY_TLS_AUTO;
            n++;
        }
    }
    json_t *p;
    json_array_foreach(policies, i, p)
    {
        json_t *iss = json_array_get(json_object_get(p, "issuers"), 0);
        const char *mod = json_string_value(json_object_get(iss, "module"));
        if (!mod || strcmp(mod, "internal") != 0)
            continue;
        json_array_foreach(json_object_get(p, "subjects"), k, h)
        {
            struct proxy_cert *pc = cert_of(c, n, json_string_value(h));
            if (pc)
                pc->tls = PROXY_TLS_INTERNAL;
        }
    }
    *ret = c;
    *ret_n = n;
}

static int on_log(void *ctx, enum engine_stream stream, const char *data, size_t len,
                  struct zp_err *err)
{
    (void)stream;
    struct zp_buf *b = ctx;
    if (b->len + len > ACME_MAX_LOG)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "the proxy's log is too large");
    zp_buf_add(b, data, len);
    return 0;
}

/* Fill issuer, expiry and error of c[0..n). */
static int certs_read(struct engine *e, const char *dir, const char *edge_id, struct proxy_cert *c,
                      size_t n, struct zp_err *err)
{
    for (size_t i = 0; i < n; i++) {
        find_cert(dir, &c[i]);
        free(c[i].error);
        c[i].error = NULL;
        c[i].error_at = 0;
    }
    struct engine_logs_opts lo;
    memset(&lo, 0, sizeof(lo));
    lo.tail = ACME_LOG_TAIL;
    struct zp_buf b = ZP_BUF_INIT;
    int rc = engine_container_logs(e, edge_id, &lo, on_log, &b, err);
    if (rc == 0)
        proxy_acme_log_apply(zp_buf_cstr(&b), b.len, c, n);
    else
        zp_err_prefix(err, "reading the proxy's log");
    zp_buf_release(&b);
    return rc;
}

int proxy_certs(struct engine *e, const struct proxy_opts *opts, int64_t wait_ms,
                struct proxy_cert **ret, size_t *ret_n, struct zp_err *err)
{
    *ret = NULL;
    *ret_n = 0;
    struct proxy_opts ro;
    if (proxy__resolve(e, opts, &ro)->remote)
        return 0; /* the certificates are on the server: not read over SSH yet */
    struct engine_container edge;
    memset(&edge, 0, sizeof(edge));
    struct zp_err ierr;
    zp_err_init(&ierr);
    int rc = engine_container_inspect(e, PROXY_EDGE_NAME, &edge, &ierr);
    if (rc == ZP_E_NOTFOUND)
        return 0;
    if (rc) {
        *err = ierr;
        return rc;
    }
    struct proxy_cert *c = NULL;
    size_t n = 0;
    json_t *cfg = NULL;
    char *dir = proxy__dir(opts);
    if (!edge.running)
        goto out;
    if ((rc = proxy__admin_get_config(opts, PROXY_EDGE_SOCK, &cfg, err)))
        goto out;
    hosts_of_config(cfg, &c, &n);
    int64_t deadline = zp_mono_ms() + (wait_ms > 0 ? wait_ms : 0);
    for (;;) {
        if ((rc = certs_read(e, dir, edge.id, c, n, err)))
            goto out;
        bool pending = false;
        time_t now = time(NULL);
        for (size_t i = 0; i < n && !pending; i++)
            pending = (c[i].not_after <= (int64_t)now) && !c[i].error;
        if (!pending || zp_mono_ms() >= deadline)
            break;
        zp_sleep_ms(ACME_POLL_MS);
    }
    *ret = c;
    *ret_n = n;
    c = NULL;
    n = 0;
out:
    proxy_certs_free(c, n);
    json_decref(cfg);
    engine_container_release(&edge);
    free(dir);
    return rc;
}

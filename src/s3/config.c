/* s3/config: the configuration from flags and the environment, s3:// URLs, and the pure
 * pieces of a request (URLs, percent-encoding, base64, multipart ETags). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3-int.h"

#include "../util/banned.h"

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

void s3_config_release(struct s3_config *c)
{
    if (c == NULL)
        return;
    free(c->endpoint);
    free(c->region);
    free(c->access_key);
    free(c->secret_key);
    free(c->session_token);
    memset(c, 0, sizeof(*c));
}

static int env_int(const char *name, int64_t min, int64_t max, int64_t *v, struct zp_err *err)
{
    const char *s = env(name);
    if (s == NULL)
        return 0;
    if (zp_parse_int64(s, min, max, v) != 0)
        return zp_err_set(err, ZP_E_USAGE, NULL, "%s: '%s' is not a number from %lld to %lld", name,
                          s, (long long)min, (long long)max);
    return 0;
}

static bool region_valid(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = r[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              (c >= 'A' && c <= 'Z')))
            return false;
    }
    return true;
}

/* The endpoint ep checked ("http[s]://HOST[:PORT]", trailing slashes dropped) as a new
 * string in *ret; what names it in errors. */
static int endpoint_check(const char *what, const char *ep, enum zp_code code, char **ret,
                          struct zp_err *err)
{
    char *ep_owned = zp_strdup(ep);
    size_t n = strlen(ep_owned);
    while (n > 0 && ep_owned[n - 1] == '/')
        ep_owned[--n] = '\0';
    const char *host = NULL;
    if (zp_str_has_prefix(ep_owned, "http://"))
        host = ep_owned + 7;
    else if (zp_str_has_prefix(ep_owned, "https://"))
        host = ep_owned + 8;
    bool bad = host == NULL || host[0] == '\0' || n > 1024;
    for (const char *q = host; !bad && *q; q++)
        bad = *q == '/' || *q == '?' || *q == '@' || *q == '#' || (unsigned char)*q <= 0x20 ||
              *q == 0x7f;
    if (bad) {
        int rc = zp_err_set(err, code, NULL,
                            "%s: invalid endpoint '%s' (want http[s]://HOST[:PORT])", what, ep);
        free(ep_owned);
        return rc;
    }
    *ret = ep_owned;
    return 0;
}

/* The transfer settings: defaults, then ZPANEL_S3_PART_SIZE, _PARALLEL, _RETRIES, _RETRY_MS. */
static int tuning(struct s3_config *c, struct zp_err *err)
{
    c->part_size = S3_DEFAULT_PART;
    c->parallel = S3_DEFAULT_PARALLEL;
    c->retries = 5;
    c->retry_base_ms = 250;
    const char *psz = env("ZPANEL_S3_PART_SIZE");
    if (psz) {
        int64_t v;
        if (zp_parse_size(psz, &v) != 0 || v < (int64_t)S3_MIN_PART || v > (int64_t)S3_MAX_PART)
            return zp_err_set(err, ZP_E_USAGE, NULL,
                              "ZPANEL_S3_PART_SIZE: '%s' is not a size from 5MiB to 512MiB", psz);
        c->part_size = (size_t)v;
    }
    int64_t v = c->parallel;
    int rc = env_int("ZPANEL_S3_PARALLEL", 1, S3_MAX_PARALLEL, &v, err);
    c->parallel = (int)v;
    v = c->retries;
    if (rc == 0)
        rc = env_int("ZPANEL_S3_RETRIES", 0, 20, &v, err);
    c->retries = (int)v;
    v = c->retry_base_ms;
    if (rc == 0)
        rc = env_int("ZPANEL_S3_RETRY_MS", 1, 60000, &v, err);
    c->retry_base_ms = (int)v;
    return rc;
}

int s3_config_from_env(const char *endpoint, const char *region, bool path_style,
                       struct s3_config *ret, struct zp_err *err)
{
    struct s3_config c;
    memset(&c, 0, sizeof(c));
    const char *r = region              ? region
                    : env("AWS_REGION") ? env("AWS_REGION")
                                        : env("AWS_DEFAULT_REGION");
    if (r == NULL)
        r = "us-east-1";
    if (!region_valid(r))
        return zp_err_set(err, ZP_E_USAGE, NULL, "%s: invalid region '%s'",
                          region ? "--s3-region" : "AWS_REGION", r);
    const char *ep = endpoint ? endpoint : env("AWS_ENDPOINT_URL_S3");
    if (ep == NULL)
        ep = env("AWS_ENDPOINT_URL");
    char *ep_default = ep ? NULL : zp_asprintf("https://s3.%s.amazonaws.com", r);
    int rc = endpoint_check(endpoint ? "--s3-endpoint" : "AWS_ENDPOINT_URL", ep ? ep : ep_default,
                            ZP_E_USAGE, &c.endpoint, err);
    free(ep_default);
    if (rc)
        return rc;
    c.region = zp_strdup(r);
    const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY");
    if (ak == NULL || sk == NULL) {
        s3_config_release(&c);
        return zp_err_set(err, ZP_E_USAGE, NULL,
                          "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                          "(and AWS_SESSION_TOKEN for temporary ones)");
    }
    if (strchr(ak, ':') || strchr(ak, '\n') || strchr(sk, '\n')) {
        s3_config_release(&c);
        return zp_err_set(err, ZP_E_USAGE, NULL, "AWS_ACCESS_KEY_ID: invalid access key");
    }
    c.access_key = zp_strdup(ak);
    c.secret_key = zp_strdup(sk);
    const char *tok = env("AWS_SESSION_TOKEN");
    if (tok && (strchr(tok, '\n') || strchr(tok, '\r'))) {
        s3_config_release(&c);
        return zp_err_set(err, ZP_E_USAGE, NULL, "AWS_SESSION_TOKEN: invalid token");
    }
    c.session_token = tok ? zp_strdup(tok) : NULL;
    const char *ps = env("AWS_S3_PATH_STYLE");
    c.path_style = path_style || (ps && (strcmp(ps, "1") == 0 || strcmp(ps, "true") == 0));
    if ((rc = tuning(&c, err)) != 0) {
        s3_config_release(&c);
        return rc;
    }
    *ret = c;
    return 0;
}

/* A credential: 1 to 256 printable ASCII characters (no blank; an access key id no ':'). */
static bool credential_valid(const char *s, bool access)
{
    size_t n = strlen(s);
    if (n == 0 || n > 256)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || (access && s[i] == ':'))
            return false;
    return true;
}

int s3_config_from_values(const char *endpoint, const char *region, bool path_style,
                          const char *access_key, const char *secret_key, struct s3_config *ret,
                          struct zp_err *err)
{
    struct s3_config c;
    memset(&c, 0, sizeof(c));
    if (endpoint == NULL || endpoint[0] == '\0')
        return zp_err_set(err, ZP_E_INPUT, NULL, "endpoint: required, http[s]://HOST[:PORT]");
    if (region == NULL || !region_valid(region))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "region: '%s' is not a region (1 to 64 of a-z, A-Z, 0-9, '-', '_')",
                          region ? region : "");
    if (access_key == NULL || !credential_valid(access_key, true))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "access_key_id: required, 1 to 256 printable characters without ':'");
    if (secret_key == NULL || !credential_valid(secret_key, false))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "secret_key: required, 1 to 256 printable characters");
    int rc = endpoint_check("endpoint", endpoint, ZP_E_INPUT, &c.endpoint, err);
    if (rc)
        return rc;
    c.region = zp_strdup(region);
    c.access_key = zp_strdup(access_key);
    c.secret_key = zp_strdup(secret_key);
    c.path_style = path_style;
    if ((rc = tuning(&c, err)) != 0) {
        s3_config_release(&c);
        return rc;
    }
    *ret = c;
    return 0;
}

static bool bucket_valid(const char *b, size_t n)
{
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return false;
    }
    return b[0] != '.' && b[0] != '-' && b[n - 1] != '.' && b[n - 1] != '-';
}

bool s3_bucket_valid(const char *bucket)
{
    return bucket_valid(bucket, strlen(bucket));
}

int s3_url_parse(const char *url, char **ret_bucket, char **ret_key, struct zp_err *err)
{
    if (!zp_str_has_prefix(url, "s3://"))
        return zp_err_set(err, ZP_E_USAGE, NULL, "'%s': not an s3://BUCKET/KEY URL", url);
    const char *b = url + 5;
    const char *slash = strchr(b, '/');
    size_t bn = slash ? (size_t)(slash - b) : strlen(b);
    if (!bucket_valid(b, bn))
        return zp_err_set(err, ZP_E_USAGE, NULL,
                          "'%s': invalid bucket name (3 to 63 of a-z, 0-9, '.' and '-')", url);
    const char *key = slash ? slash + 1 : "";
    if (strlen(key) > 1024)
        return zp_err_set(err, ZP_E_USAGE, NULL, "'%s': key longer than 1024 bytes", url);
    for (const char *p = key; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return zp_err_set(err, ZP_E_USAGE, NULL, "'%s': control character in the key", url);
    *ret_bucket = zp_strndup(b, bn);
    *ret_key = zp_strdup(key);
    return 0;
}

int s3__uri_encode(struct zp_buf *out, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
        int rc = plain ? zp_buf_addc(out, (char)c)
                       : zp_buf_addf(out, "%%%c%c", hex[c >> 4], hex[c & 15]);
        if (rc)
            return rc;
    }
    return 0;
}

void s3__base64(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

char *s3__url(const struct s3_config *c, const char *bucket, const char *key, const char *query)
{
    struct zp_buf b;
    zp_buf_init(&b, 0);
    const char *host = strstr(c->endpoint, "://") + 3;
    if (c->path_style) {
        zp_buf_addf(&b, "%s/%s", c->endpoint, bucket);
    } else {
        zp_buf_add(&b, c->endpoint, (size_t)(host - c->endpoint));
        zp_buf_addf(&b, "%s.%s", bucket, host);
    }
    zp_buf_addc(&b, '/');
    if (key && key[0])
        s3__uri_encode(&b, key, true);
    if (query && query[0])
        zp_buf_addf(&b, "?%s", query);
    return zp_buf_detach(&b, NULL);
}

void s3__multipart_etag(const unsigned char (*md5s)[16], size_t n, char out[80])
{
    unsigned char *all = zp_malloc(n * 16 + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(all + i * 16, md5s[i], 16);
    unsigned char d[16];
    zp_md5(all, n * 16, d);
    free(all);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    snprintf(out + 32, 80 - 32, "-%zu", n);
}

/* ssh/parse: the pure parsers of the ssh module: ssh:// URLs, known_hosts lines, SHA256
 * fingerprints (base64 as OpenSSH prints them). No I/O. */
#include <stdlib.h>
#include <string.h>

#include "ssh.h"

#include "../util/banned.h"

#define MAX_URL 1024
#define MAX_LINE 16384

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

/* Decode standard base64 (padding optional) into a new buffer; -1 when malformed. */
static int b64_decode(const char *s, size_t len, unsigned char **ret, size_t *ret_len)
{
    while (len > 0 && s[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -1;
    unsigned char *out = zp_malloc(len / 4 * 3 + 3);
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) {
            free(out);
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    *ret = out;
    *ret_len = n;
    return 0;
}

/* Encode without padding, as OpenSSH prints fingerprints. */
static char *b64_encode_nopad(const unsigned char *in, size_t len)
{
    char *out = zp_malloc(len / 3 * 4 + 5);
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[n++] = b64[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[n++] = b64[(acc << (6 - bits)) & 63];
    out[n] = '\0';
    return out;
}

/* ---- URLs ---- */

static bool user_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

static bool host_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
}

int ssh_url_parse(const char *s, struct ssh_url *ret, struct zp_err *err)
{
    if (strlen(s) > MAX_URL)
        return zp_err_set(err, ZP_E_INPUT, NULL, "invalid ssh URL: longer than %d bytes", MAX_URL);
    if (!zp_str_has_prefix(s, "ssh://"))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "invalid ssh URL '%s': expected ssh://USER@HOST[:PORT]", s);
    const char *p = s + strlen("ssh://");
    const char *at = strchr(p, '@');
    if (!at || at == p)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "invalid ssh URL '%s': a user is needed (ssh://USER@HOST[:PORT])", s);
    for (const char *q = p; q < at; q++)
        if (!user_char_ok((unsigned char)*q))
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "invalid ssh URL '%s': invalid character in the user name", s);
    const char *h = at + 1, *hend, *rest;
    if (*h == '[') {
        const char *close = strchr(h, ']');
        if (!close || close == h + 1)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "invalid ssh URL '%s': unterminated [IPv6] address", s);
        for (const char *q = h + 1; q < close; q++)
            if (!(host_char_ok((unsigned char)*q) || *q == ':'))
                return zp_err_set(err, ZP_E_INPUT, NULL,
                                  "invalid ssh URL '%s': invalid character in the address", s);
        rest = close + 1;
        h++;
        hend = close;
    } else {
        hend = h;
        while (*hend && host_char_ok((unsigned char)*hend))
            hend++;
        rest = hend;
    }
    if (hend == h)
        return zp_err_set(err, ZP_E_INPUT, NULL, "invalid ssh URL '%s': a host is needed", s);
    int64_t port = 22;
    if (*rest == ':') {
        if (zp_parse_int64(rest + 1, 1, 65535, &port) != 0)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "invalid ssh URL '%s': the port must be a number from 1 to 65535", s);
    } else if (*rest == '/' && rest[1] == '\0') {
        /* a trailing slash is harmless */
    } else if (*rest != '\0') {
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          *rest == '/' ? "invalid ssh URL '%s': a path is not supported"
                                       : "invalid ssh URL '%s': invalid character in the host",
                          s);
    }
    ret->user = zp_strndup(p, (size_t)(at - p));
    ret->host = zp_strndup(h, (size_t)(hend - h));
    ret->port = (int)port;
    return 0;
}

void ssh_url_release(struct ssh_url *u)
{
    if (!u)
        return;
    free(u->user);
    free(u->host);
    memset(u, 0, sizeof(*u));
}

char *ssh_host_pattern(const char *host, int port)
{
    if (port == 22)
        return zp_strdup(host);
    return zp_asprintf("[%s]:%d", host, port);
}

/* ---- known_hosts ---- */

/* The next space-separated field of *p (advanced past it), or NULL at the end. */
static char *next_field(const char **p)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return NULL;
    const char *e = s;
    while (*e && *e != ' ' && *e != '\t')
        e++;
    *p = e;
    return zp_strndup(s, (size_t)(e - s));
}

int ssh_known_host_parse(const char *line, struct ssh_known_host *ret, bool *ret_blank,
                         struct zp_err *err)
{
    size_t len = strlen(line);
    if (len > MAX_LINE)
        return zp_err_set(err, ZP_E_INPUT, NULL, "known_hosts line longer than %d bytes", MAX_LINE);
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '#' || *p == '\r') {
        *ret_blank = true;
        return 0;
    }
    struct ssh_known_host k;
    memset(&k, 0, sizeof(k));
    int rc = 0;
    char *first = next_field(&p);
    if (first[0] == '@') {
        k.marker = first;
        k.names = next_field(&p);
    } else {
        k.names = first;
    }
    k.keytype = next_field(&p);
    k.key = next_field(&p);
    if (!k.names || !k.keytype || !k.key) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL,
                        "invalid known_hosts line: expected NAMES KEYTYPE KEY [COMMENT]");
        goto fail;
    }
    size_t klen = strlen(k.key);
    if (klen > 0 && k.key[klen - 1] == '\r')
        k.key[--klen] = '\0';
    unsigned char *blob = NULL;
    size_t blen = 0;
    if (b64_decode(k.key, klen, &blob, &blen) != 0 || blen < 4) {
        free(blob);
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "invalid known_hosts line: the key is not base64");
        goto fail;
    }
    /* the blob starts with its own key type: it must agree with the field */
    uint32_t tlen = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 |
                    (uint32_t)blob[3];
    bool agrees =
        tlen == strlen(k.keytype) && tlen <= blen - 4 && memcmp(blob + 4, k.keytype, tlen) == 0;
    free(blob);
    if (!agrees) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL,
                        "invalid known_hosts line: the key is not of type '%s'", k.keytype);
        goto fail;
    }
    *ret = k;
    *ret_blank = false;
    return 0;
fail:
    ssh_known_host_release(&k);
    return rc;
}

void ssh_known_host_release(struct ssh_known_host *k)
{
    if (!k)
        return;
    free(k->names);
    free(k->keytype);
    free(k->key);
    free(k->marker);
    memset(k, 0, sizeof(*k));
}

bool ssh_known_host_names_match(const char *names, const char *pattern)
{
    size_t plen = strlen(pattern);
    const char *p = names;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == plen && memcmp(p, pattern, n) == 0)
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

/* ---- fingerprints ---- */

int ssh_fingerprint_parse(const char *s, char **ret, struct zp_err *err)
{
    const char *v = s;
    if (!zp_str_has_prefix(v, "SHA256:"))
        goto bad;
    v += strlen("SHA256:");
    size_t len = strlen(v);
    while (len > 0 && v[len - 1] == '=')
        len--;
    if (len != 43)
        goto bad;
    unsigned char *raw = NULL;
    size_t rlen = 0;
    if (b64_decode(v, len, &raw, &rlen) != 0 || rlen != 32) {
        free(raw);
        goto bad;
    }
    char *canon = b64_encode_nopad(raw, rlen);
    free(raw);
    if (strncmp(canon, v, len) != 0) { /* stray bits in the last character */
        free(canon);
        goto bad;
    }
    *ret = zp_asprintf("SHA256:%s", canon);
    free(canon);
    return 0;
bad:
    return zp_err_set(err, ZP_E_INPUT, NULL,
                      "invalid fingerprint '%.100s': expected SHA256: and 43 base64 characters, "
                      "as ssh-keygen -lf prints it",
                      s);
}

int ssh_fingerprint_of_blob(const char *base64, char **ret, struct zp_err *err)
{
    unsigned char *blob = NULL;
    size_t blen = 0;
    if (b64_decode(base64, strlen(base64), &blob, &blen) != 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "invalid host key: not base64");
    unsigned char digest[32];
    zp_sha256(blob, blen, digest);
    free(blob);
    char *enc = b64_encode_nopad(digest, sizeof(digest));
    *ret = zp_asprintf("SHA256:%s", enc);
    free(enc);
    return 0;
}

char *ssh_known_hosts_path(const char *state_dir)
{
    return zp_path_join(state_dir, "ssh/known_hosts");
}

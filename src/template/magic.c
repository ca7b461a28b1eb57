/* template/magic: Coolify's magic variable names (SERVICE_<KIND>_<IDENT>) and the random
 * values of the random kinds, from libsodium's randombytes (unbiased choices). */
#include <sodium.h>
#include <string.h>

#include "template.h"

#include "../util/banned.h"

static const char ALNUM[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char LOWER[] = "abcdefghijklmnopqrstuvwxyz0123456789";
/* no '$' (interpolation), quotes, backslash, backquote or space: the value goes into
 * .env files and compose values unquoted by the user */
static const char SYMBOLS[] = "!#%&()*+,-.:;<=>?@[]^_{|}~";

struct prefix {
    const char *text; /* after SERVICE_ */
    enum template_magic_kind kind;
    size_t len;
};

/* longest first where one is a prefix of another */
static const struct prefix prefixes[] = {
    {"PASSWORDWITHSYMBOLS_64_", TEMPLATE_MAGIC_PASSWORDSYM, 64},
    {"PASSWORDWITHSYMBOLS_", TEMPLATE_MAGIC_PASSWORDSYM, 32},
    {"PASSWORD_64_", TEMPLATE_MAGIC_PASSWORD, 64},
    {"PASSWORD_", TEMPLATE_MAGIC_PASSWORD, 32},
    {"LOWERCASEUSER_", TEMPLATE_MAGIC_LOWERCASEUSER, 16},
    {"USER_", TEMPLATE_MAGIC_USER, 16},
    {"REALBASE64_128_", TEMPLATE_MAGIC_REALBASE64, 128},
    {"REALBASE64_64_", TEMPLATE_MAGIC_REALBASE64, 64},
    {"REALBASE64_32_", TEMPLATE_MAGIC_REALBASE64, 32},
    {"REALBASE64_", TEMPLATE_MAGIC_REALBASE64, 32},
    {"BASE64_128_", TEMPLATE_MAGIC_BASE64, 128},
    {"BASE64_64_", TEMPLATE_MAGIC_BASE64, 64},
    {"BASE64_32_", TEMPLATE_MAGIC_BASE64, 32},
    {"BASE64_", TEMPLATE_MAGIC_BASE64, 32},
    {"HEX_128_", TEMPLATE_MAGIC_HEX, 128},
    {"HEX_64_", TEMPLATE_MAGIC_HEX, 64},
    {"HEX_32_", TEMPLATE_MAGIC_HEX, 32},
    {"FQDN_", TEMPLATE_MAGIC_FQDN, 0},
    {"URL_", TEMPLATE_MAGIC_URL, 0},
    {"NAME_", TEMPLATE_MAGIC_NAME, 0},
    {"UUID_", TEMPLATE_MAGIC_UUID, 36},
};

static bool ident_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

bool template_magic_parse(const char *name, struct template_magic *ret)
{
    if (!zp_str_has_prefix(name, "SERVICE_"))
        return false;
    const char *rest = name + strlen("SERVICE_");
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        const struct prefix *p = &prefixes[i];
        if (!zp_str_has_prefix(rest, p->text))
            continue;
        const char *id = rest + strlen(p->text);
        size_t n = strlen(id);
        if (n == 0 || n >= sizeof(ret->ident) || id[0] == '_' || id[n - 1] == '_')
            return false;
        for (size_t k = 0; k < n; k++)
            if (!ident_char(id[k]))
                return false;
        struct template_magic m;
        memset(&m, 0, sizeof(m));
        m.kind = p->kind;
        m.len = p->len;
        memcpy(m.ident, id, n + 1);
        if (m.kind == TEMPLATE_MAGIC_FQDN || m.kind == TEMPLATE_MAGIC_URL) {
            /* a trailing _DIGITS is the port (when something is left before it) */
            const char *us = strrchr(m.ident, '_');
            if (us && us > m.ident && us[1]) {
                int64_t port;
                if (zp_parse_int64(us + 1, 1, 65535, &port) == 0 && us[1] != '0') {
                    m.port = (int)port;
                    m.ident[us - m.ident] = '\0';
                }
            }
        }
        *ret = m;
        return true;
    }
    return false;
}

static const char *kind_name(const struct template_magic *m)
{
    switch (m->kind) {
    case TEMPLATE_MAGIC_PASSWORD:
        return m->len == 64 ? "PASSWORD_64" : "PASSWORD";
    case TEMPLATE_MAGIC_PASSWORDSYM:
        return m->len == 64 ? "PASSWORDWITHSYMBOLS_64" : "PASSWORDWITHSYMBOLS";
    case TEMPLATE_MAGIC_USER:
        return "USER";
    case TEMPLATE_MAGIC_LOWERCASEUSER:
        return "LOWERCASEUSER";
    case TEMPLATE_MAGIC_BASE64:
        return m->len == 128 ? "BASE64_128" : m->len == 64 ? "BASE64_64" : "BASE64";
    case TEMPLATE_MAGIC_REALBASE64:
        return m->len == 128 ? "REALBASE64_128" : m->len == 64 ? "REALBASE64_64" : "REALBASE64";
    case TEMPLATE_MAGIC_HEX:
        return m->len == 128 ? "HEX_128" : m->len == 64 ? "HEX_64" : "HEX_32";
    case TEMPLATE_MAGIC_FQDN:
    case TEMPLATE_MAGIC_URL:
        return "FQDN";
    case TEMPLATE_MAGIC_NAME:
        return "NAME";
    case TEMPLATE_MAGIC_UUID:
        return "UUID";
    }
    ZP_BUG("magic kind %d", (int)m->kind);
}

char *template_magic_key(const struct template_magic *m)
{
    char *k = zp_asprintf("SERVICE_%s_%s", kind_name(m), m->ident);
    for (char *p = k; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return k;
}

static void init_sodium(void)
{
    if (sodium_init() < 0)
        ZP_BUG("libsodium failed to initialise");
}

static char *random_from(const char *alphabet, size_t n)
{
    size_t k = strlen(alphabet);
    char *s = zp_malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = alphabet[randombytes_uniform((uint32_t)k)];
    s[n] = '\0';
    return s;
}

char *template_magic_random(const struct template_magic *m)
{
    init_sodium();
    switch (m->kind) {
    case TEMPLATE_MAGIC_PASSWORD:
    case TEMPLATE_MAGIC_USER:
    case TEMPLATE_MAGIC_BASE64:
        return random_from(ALNUM, m->len);
    case TEMPLATE_MAGIC_LOWERCASEUSER:
        return random_from(LOWER, m->len);
    case TEMPLATE_MAGIC_PASSWORDSYM: {
        char all[sizeof(ALNUM) + sizeof(SYMBOLS)];
        memcpy(all, ALNUM, sizeof(ALNUM) - 1);
        memcpy(all + sizeof(ALNUM) - 1, SYMBOLS, sizeof(SYMBOLS));
        char *s = random_from(all, m->len);
        /* at least one symbol, at a random place */
        s[randombytes_uniform((uint32_t)m->len)] =
            SYMBOLS[randombytes_uniform((uint32_t)(sizeof(SYMBOLS) - 1))];
        return s;
    }
    case TEMPLATE_MAGIC_REALBASE64: {
        unsigned char bytes[128];
        randombytes_buf(bytes, m->len);
        size_t cap = sodium_base64_ENCODED_LEN(m->len, sodium_base64_VARIANT_ORIGINAL);
        char *s = zp_malloc(cap);
        sodium_bin2base64(s, cap, bytes, m->len, sodium_base64_VARIANT_ORIGINAL);
        sodium_memzero(bytes, sizeof(bytes));
        return s;
    }
    case TEMPLATE_MAGIC_HEX: {
        unsigned char bytes[64];
        size_t nb = m->len / 2;
        randombytes_buf(bytes, nb);
        char *s = zp_malloc(m->len + 1);
        sodium_bin2hex(s, m->len + 1, bytes, nb);
        sodium_memzero(bytes, sizeof(bytes));
        return s;
    }
    case TEMPLATE_MAGIC_UUID: {
        unsigned char b[16];
        randombytes_buf(b, sizeof(b));
        b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
        b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
        char hex[33];
        sodium_bin2hex(hex, sizeof(hex), b, sizeof(b));
        return zp_asprintf("%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    }
    case TEMPLATE_MAGIC_FQDN:
    case TEMPLATE_MAGIC_URL:
    case TEMPLATE_MAGIC_NAME:
        return NULL;
    }
    ZP_BUG("magic kind %d", (int)m->kind);
}

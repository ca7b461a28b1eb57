/* Fuzz target for what proxy/acme.c reads: arbitrary bytes as Caddy's log
 * (proxy_acme_log_apply over three hosts: an error found is one line) and as the ACME
 * settings file (proxy_acme_from_json: an accepted file survives a round trip, a refused
 * one says why). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy.h"
#include "util/util.h"

#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proxy_cert *c = zp_calloc(3, sizeof(*c));
    c[0].host = zp_strdup("a.zpacme.test");
    c[1].host = zp_strdup("b.zpacme.test");
    c[2].host = zp_strdup("*.zpacme.test");
    proxy_acme_log_apply((const char *)data, size, c, 3);
    for (size_t i = 0; i < 3; i++)
        for (const char *p = c[i].error; p && *p; p++)
            if ((unsigned char)*p < ' ')
                ZP_BUG("an issuance error with a control character");
    proxy_certs_free(c, 3);

    char *text = zp_strndup((const char *)data, size);
    struct zp_err err;
    zp_err_init(&err);
    struct proxy_acme a;
    if (proxy_acme_from_json(text, &a, &err) != 0) {
        if (err.code != ZP_E_INPUT || err.msg[0] == '\0')
            ZP_BUG("settings refused without an input error");
    } else {
        char *again = proxy_acme_to_json(&a);
        struct proxy_acme b;
        if (proxy_acme_from_json(again, &b, &err) != 0)
            ZP_BUG("own settings refused: %s", err.msg);
        char *third = proxy_acme_to_json(&b);
        if (strcmp(again, third) != 0)
            ZP_BUG("settings round trip differs");
        free(third);
        free(again);
        proxy_acme_release(&b);
        proxy_acme_release(&a);
    }
    free(text);
    return 0;
}

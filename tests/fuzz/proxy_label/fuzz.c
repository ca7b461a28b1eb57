/* Fuzz target for the route label (io.zpanel.routes): arbitrary bytes are parsed with
 * proxy_site_from_label. An accepted label must survive a round trip (to_label, from_label,
 * to_label gives the same text) and give configurations and Traefik labels without
 * crashing; a refused one must say why. */
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
    char *text = zp_strndup((const char *)data, size);
    struct zp_err err;
    zp_err_init(&err);
    struct proxy_site s;
    int rc = proxy_site_from_label(text, &s, &err);
    free(text);
    if (rc != 0) {
        if (err.code != ZP_E_INPUT || err.msg[0] == '\0')
            ZP_BUG("label refused without an input error");
        return 0;
    }
    char *label = proxy_site_to_label(&s);
    struct proxy_site back;
    if (proxy_site_from_label(label, &back, &err) != 0)
        ZP_BUG("own label refused: %s", err.msg);
    char *again = proxy_site_to_label(&back);
    if (strcmp(label, again) != 0)
        ZP_BUG("label round trip differs");
    struct proxy_upstream u[2] = {{&s, "0123456789abcdef", "10.0.0.2", false},
                                  {&back, "fedcba9876543210", "10.0.0.3", true}};
    free(proxy_router_config(u, 2, "/zpanel/router.sock", "/zpanel/probe.sock"));
    free(proxy_edge_config(u, 1, "/zpanel/edge.sock", 80, 443));
    char **tl = proxy_traefik_labels(&s);
    for (size_t i = 0; tl[i]; i++)
        free(tl[i]);
    free(tl);
    free(label);
    free(again);
    proxy_site_release(&back);
    proxy_site_release(&s);
    return 0;
}

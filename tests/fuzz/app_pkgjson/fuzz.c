/* Fuzz target: the package.json reader (also as deno.json, by the first byte's low bit).
 * Any input may be rejected; none may crash or leak. On failure nothing is kept. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/app-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct app_pkgjson p;
    struct zp_err err;
    zp_err_init(&err);
    bool deno = size > 0 && (data[0] & 1);
    int rc = app__pkgjson_parse("package.json", (const char *)data, size, deno, &p, &err);
    if (rc == 0) {
        check(err.code == 0);
        for (size_t i = 0; i < p.ndeps; i++)
            check(app__pkgjson_has_dep(&p, p.deps[i]));
        if (p.package_manager)
            check(strchr(p.package_manager, '@') == NULL);
    } else {
        check(err.code == rc);
    }
    app__pkgjson_release(&p);
    return 0;
}

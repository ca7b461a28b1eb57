/* Fuzz target: the TOML subset reader (pyproject.toml, zpanel.toml). Any input may be
 * rejected; none may crash or leak. On success every key is unique and every lookup finds
 * its own entry; on failure an error is set. */
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
    struct app_toml t;
    struct zp_err err;
    zp_err_init(&err);
    int rc = app__toml_parse("fuzz.toml", (const char *)data, size, &t, &err);
    if (rc == 0) {
        check(err.code == 0);
        for (size_t i = 0; i < t.n; i++)
            check(app__toml_get(&t, t.entries[i].key) == &t.entries[i].val);
    } else {
        check(err.code == rc && (rc == ZP_E_INPUT || rc == ZP_E_TOOBIG));
    }
    app__toml_release(&t);
    return 0;
}

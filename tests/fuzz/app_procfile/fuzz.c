/* Fuzz target: the Procfile reader. Any input may be rejected; none may crash or leak. On
 * success every name is unique, non-empty and every command non-empty without a newline. */
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
    struct app_procfile p;
    struct zp_err err;
    zp_err_init(&err);
    int rc = app__procfile_parse("Procfile", (const char *)data, size, &p, &err);
    if (rc == 0) {
        for (size_t i = 0; i < p.n; i++) {
            check(p.names[i][0] != '\0' && p.cmds[i][0] != '\0');
            check(strchr(p.cmds[i], '\n') == NULL);
            check(app__procfile_get(&p, p.names[i]) == p.cmds[i]);
        }
    } else {
        check(err.code == rc && err.pos.line >= 0);
    }
    app__procfile_release(&p);
    return 0;
}

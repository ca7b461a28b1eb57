/* Fuzz target: .env parsing. Any input may be rejected; none may crash or leak. On
 * success every key is valid and no error was reported; on failure nothing is added. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static bool valid_key(const char *k)
{
    if (!(*k == '_' || (*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z')))
        return false;
    for (k++; *k; k++)
        if (!(*k == '_' || *k == '.' || *k == '-' || (*k >= 'a' && *k <= 'z') ||
              (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9')))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct compose_env lookup, out;
    compose_env_init(&lookup);
    compose_env_init(&out);
    compose_env_set(&lookup, "HOME", "/home/fuzz");
    compose_env_set(&lookup, "A", "a");
    compose_env_set(&lookup, "EMPTY", "");
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = compose__dotenv_parse("fuzz.env", (const char *)data, size, &lookup, &out, &d);
    if (rc == 0) {
        check(d.errors == 0);
        for (size_t i = 0; i < out.n; i++)
            check(valid_key(out.keys[i]) && out.vals[i] != NULL);
    } else {
        check(rc == ZP_E_INPUT && d.errors > 0 && out.n == 0);
    }
    zp_diags_release(&d);
    compose_env_release(&out);
    compose_env_release(&lookup);
    return 0;
}

/* Fuzz target for backup verification: arbitrary bytes are read as an archive (tar, gzip
 * or zstd) and checked against the path rules and the manifest's checksums. Whatever the
 * input, verify must return cleanly, and accept only what it can describe. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "backup/backup.h"
#include "util/util.h"

#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zp_err err;
    zp_err_init(&err);
    struct backup_manifest m;
    int rc = backup_verify_memory(data, size, &m, &err);
    if (rc == 0) {
        /* an accepted archive has a manifest whose every key obeys the rules */
        for (size_t i = 0; i < m.n; i++) {
            struct zp_err kerr;
            zp_err_init(&kerr);
            if (backup_check_key(m.sections[i].kind, m.sections[i].key, &kerr) != 0)
                ZP_BUG("verify accepted a bad key");
        }
        backup_manifest_release(&m);
    } else if (err.code == 0 || err.msg[0] == '\0') {
        ZP_BUG("verify failed without a message");
    }
    return 0;
}

/* Fuzz target for the YAML loader: whatever parses must emit YAML that parses again and
 * emits the same bytes (the emitter's round-trip law). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose-int.h"

#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* smaller caps than the defaults keep each run fast; the logic is the same */
    struct compose_yaml_limits lim = {1 << 20, 64, 200000};
    struct zp_diags d;
    struct zp_node *doc = NULL, *again = NULL;
    struct zp_buf first = ZP_BUF_INIT, second = ZP_BUF_INIT;

    zp_diags_init(&d);
    if (compose__yaml_parse("fuzz.yaml", (const char *)data, size, &lim, &doc, &d) != 0)
        goto out;
    if (compose_emit_yaml(doc, &first) != 0)
        abort();
    /* aliases may expand a small input past the size cap (the cap on expansion is the
     * node count): such output cannot be read back under the same limits, by design */
    if (first.len > lim.max_bytes)
        goto out;
    zp_diags_release(&d);
    zp_diags_init(&d);
    if (compose__yaml_parse("fuzz.yaml", first.p, first.len, &lim, &again, &d) != 0) {
        for (size_t i = 0; i < d.n; i++) {
            char *msg = zp_diag_render(&d.items[i]);
            fprintf(stderr, "re-parse failed: %s\n--- emitted:\n%s---\n", msg, zp_buf_cstr(&first));
            free(msg);
        }
        abort();
    }
    if (compose_emit_yaml(again, &second) != 0)
        abort();
    if (first.len != second.len || memcmp(first.p, second.p, first.len) != 0) {
        fprintf(stderr, "emissions differ:\n%s---\n%s---\n", zp_buf_cstr(&first),
                zp_buf_cstr(&second));
        abort();
    }
    /* the re-read tree means the same: equal JSON (which spells bools and nulls one way) */
    struct zp_buf j1 = ZP_BUF_INIT, j2 = ZP_BUF_INIT;
    if (compose_emit_json(doc, false, &j1) != 0 || compose_emit_json(again, false, &j2) != 0)
        abort();
    if (j1.len != j2.len || memcmp(j1.p, j2.p, j1.len) != 0) {
        fprintf(stderr, "trees differ:\n%s\n%s\n", zp_buf_cstr(&j1), zp_buf_cstr(&j2));
        abort();
    }
    zp_buf_release(&j1);
    zp_buf_release(&j2);
out:
    zp_node_free(doc);
    zp_node_free(again);
    zp_buf_release(&first);
    zp_buf_release(&second);
    zp_diags_release(&d);
    return 0;
}

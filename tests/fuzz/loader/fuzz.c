/* Fuzz target: the whole per-file loading pipeline on one document (YAML parse,
 * interpolation, normalisation, merge with itself, cross-reference validation, emission).
 * Any input may be rejected; none may crash, leak or trip a sanitizer. */
#include <stdint.h>
#include <stdlib.h>

#include "compose/compose-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zp_diags d;
    zp_diags_init(&d);
    struct compose_env env;
    compose_env_init(&env);
    compose_env_set(&env, "TAG", "1.0");
    compose_env_set(&env, "EMPTY", "");
    compose_env_set(&env, "HOME", "/home/fuzz");
    struct zp_node *doc = NULL;
    if (compose__yaml_parse("fuzz.yaml", (const char *)data, size, NULL, &doc, &d) == 0) {
        compose__interp_tree(doc, &env, "", &d);
        struct compose_ctx ctx = {
            .file = zp_intern("fuzz.yaml"),
            .basedir = "/srv/fuzz",
            .env = &env,
            .keep_relative_paths = false,
        };
        if (compose__normalize_file(doc, &ctx, &d) == 0) {
            struct zp_node *copy = zp_node_copy(doc);
            compose__merge(doc, copy, false);
            compose__validate_project(doc, &d);
            struct zp_buf out = ZP_BUF_INIT;
            compose_emit_yaml(doc, &out);
            compose_emit_json(doc, false, &out);
            zp_buf_release(&out);
        }
        zp_node_free(doc);
    }
    compose_env_release(&env);
    zp_diags_release(&d);
    return 0;
}

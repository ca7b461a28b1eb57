/* Fuzz target: ${VAR} interpolation of one string (the input up to its first NUL) and of
 * a small tree holding it. Must not crash or leak; a string without '$' must come back
 * unchanged; success and failure must agree between the string and the tree. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = zp_strndup((const char *)data, size);
    struct compose_env env;
    compose_env_init(&env);
    compose_env_set(&env, "A", "a");
    compose_env_set(&env, "B", "bee");
    compose_env_set(&env, "EMPTY", "");
    compose_env_set(&env, "REF", "${A:-$B}");
    char big[4097];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    compose_env_set(&env, "BIG", big);

    struct zp_diags d;
    zp_diags_init(&d);
    struct zp_pos pos = {zp_intern("fuzz.yaml"), 1, 1};
    char *out = NULL;
    int rc = compose__interp_string(in, &env, &pos, "x.y[0]", &out, &d);
    if (rc == 0) {
        check(out != NULL && d.errors == 0);
        check(strlen(out) <= 1024 * 1024 || !strchr(in, '$'));
        if (!strchr(in, '$'))
            check(strcmp(out, in) == 0);
    } else {
        check(rc == ZP_E_INPUT && out == NULL && d.errors > 0);
    }
    zp_diags_release(&d);

    struct zp_node *root = zp_node_new_map(&pos);
    struct zp_node *seq = zp_node_new_seq(&pos);
    zp_node_push(seq, zp_node_new_str(in, &pos));
    struct zp_node *q = zp_node_new_str(in, &pos);
    q->flags |= ZP_NODE_QUOTED;
    zp_node_push(seq, q);
    zp_node_set(root, "k", seq);
    zp_diags_init(&d);
    int trc = compose__interp_tree(root, &env, "", &d);
    check((trc == 0) == (rc == 0));
    if (rc == 0) {
        check(strcmp(seq->items[1]->str, out) == 0);
        check(strcmp(seq->items[0]->str, out) == 0);
    }
    zp_diags_release(&d);
    zp_node_free(root);

    free(out);
    free(in);
    compose_env_release(&env);
    return 0;
}

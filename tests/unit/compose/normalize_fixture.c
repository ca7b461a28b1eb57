/* What the normaliser suites share (normalize_fixture.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "compose/normalize_fixture.h"
#include "util/util.h"

void normfx_setup(struct compose_env *env, struct compose_ctx *ctx, const char *home,
                  const char *basedir)
{
    compose_env_init(env);
    compose_env_set(env, "HOME", home);
    ctx->file = zp_intern("compose.yaml");
    ctx->basedir = basedir;
    ctx->env = env;
    ctx->keep_relative_paths = false;
}

struct zp_node *normfx_parse(const char *yaml)
{
    struct zp_node *doc = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = compose__yaml_parse("compose.yaml", yaml, strlen(yaml), NULL, &doc, &d);
    if (rc != 0 && d.n > 0) {
        char *r = zp_diag_render(&d.items[0]);
        print_error("yaml: %s\n", r);
        free(r);
    }
    assert_int_equal(rc, 0);
    zp_diags_release(&d);
    return doc;
}

static void dump(const struct zp_node *n, struct zp_buf *b)
{
    if (n->flags & ZP_NODE_RESET)
        zp_buf_adds(b, "!reset ");
    if (n->flags & ZP_NODE_OVERRIDE)
        zp_buf_adds(b, "!override ");
    if (n->kind == ZP_NODE_SCALAR) {
        if (n->type == ZP_STR) {
            zp_buf_addf(b, "\"%s\"", n->str);
        } else if (n->type == ZP_FLOAT) {
            struct zp_node *f = zp_node_new_float(strtod(n->str, NULL), NULL);
            zp_buf_addf(b, "float:%s", f->str);
            zp_node_free(f);
        } else {
            zp_buf_adds(b, n->str);
        }
        return;
    }
    if (n->kind == ZP_NODE_SEQ) {
        zp_buf_addc(b, '[');
        for (size_t i = 0; i < n->n; i++) {
            if (i)
                zp_buf_addc(b, ',');
            dump(n->items[i], b);
        }
        zp_buf_addc(b, ']');
        return;
    }
    struct zp_node *c = zp_node_copy(n);
    zp_node_sort_keys(c);
    zp_buf_addc(b, '{');
    for (size_t i = 0; i < c->n; i++) {
        if (i)
            zp_buf_addc(b, ',');
        zp_buf_addf(b, "%s:", c->pairs[i].key->str);
        dump(c->pairs[i].value, b);
    }
    zp_buf_addc(b, '}');
    zp_node_free(c);
}

char *normfx_dump(const struct zp_node *n)
{
    struct zp_buf b = ZP_BUF_INIT;
    dump(n, &b);
    return zp_buf_detach(&b, NULL);
}

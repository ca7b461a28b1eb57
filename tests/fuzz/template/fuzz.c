/* Fuzz target: a template's header and magic variables (template_header_parse,
 * template_magic_parse, template_render). Any input may be rejected; none may crash or
 * leak. Checked: a magic name parses to a non-empty identifier and a port in range; random
 * values have their kind's length; a render that succeeds has a value for every magic
 * variable it found and renders twice to the same values with the same state. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    /* every line, as a variable name */
    char *copy = zp_strdup(text);
    for (char *line = copy, *nl; line; line = nl) {
        nl = strchr(line, '\n');
        if (nl)
            *nl++ = '\0';
        struct template_magic m;
        if (template_magic_parse(line, &m)) {
            check(m.ident[0] != '\0');
            check(m.port >= 0 && m.port <= 65535);
            char *key = template_magic_key(&m);
            check(strncmp(key, "SERVICE_", 8) == 0);
            free(key);
            char *v = template_magic_random(&m);
            if (v && m.kind != TEMPLATE_MAGIC_REALBASE64)
                check(strlen(v) == m.len);
            free(v);
        }
    }
    free(copy);

    struct zp_diags d;
    zp_diags_init(&d);
    struct template_header h;
    if (template_header_parse("fuzz.yaml", text, size, &h, &d) == 0)
        template_header_release(&h);
    zp_diags_release(&d);

    struct compose_env st;
    compose_env_init(&st);
    struct template_render_opts o = {"fuzz", NULL, size % 2 == 1, NULL, size % 3 == 0};
    struct template_rendered r1, r2;
    zp_diags_init(&d);
    if (template_render("fuzz.yaml", text, size, &o, &st, &r1, &d) == 0) {
        zp_diags_release(&d);
        zp_diags_init(&d);
        check(template_render("fuzz.yaml", text, size, &o, &st, &r2, &d) == 0);
        check(r1.env.n == r2.env.n);
        for (size_t i = 0; i < r1.env.n; i++)
            check(strcmp(r1.env.vals[i], compose_env_get(&r2.env, r1.env.keys[i])) == 0);
        struct zp_buf b = ZP_BUF_INIT;
        template_rendered_yaml(&r1, &b);
        zp_buf_release(&b);
        template_rendered_release(&r1);
        template_rendered_release(&r2);
    }
    zp_diags_release(&d);
    compose_env_release(&st);
    free(text);
    return 0;
}

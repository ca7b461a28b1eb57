/* Fuzz target: .dockerignore parsing and matching. Input: the ignore file's text, a NUL
 * byte, then a path. Any input may be rejected; none may crash, leak or take long (the
 * matcher simulates an NFA: no backtracking). dockerignore.c depends on util only and is
 * compiled into this target directly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/dockerignore.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT ((size_t)64 << 10)

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    const char *text = (const char *)data;
    const uint8_t *nul = memchr(data, 0, size);
    size_t tlen = nul ? (size_t)(nul - data) : size;
    char *path = nul ? zp_strndup((const char *)nul + 1, size - tlen - 1) : zp_strdup("a/b");

    struct orch_ignore *ig = orch__ignore_new();
    struct zp_err err;
    zp_err_init(&err);
    int rc = orch__ignore_parse(ig, ".dockerignore", text, tlen, &err);
    if (rc != 0) {
        check((rc == ZP_E_INPUT || rc == ZP_E_TOOBIG) && err.code == rc && err.msg[0]);
        check(orch__ignore_count(ig) == 0);
    }
    bool ex = orch__ignore_excluded(ig, path);
    check(ex == orch__ignore_excluded(ig, path)); /* deterministic */
    if (!orch__ignore_has_exceptions(ig))
        check(!orch__ignore_may_reinclude(ig, path));
    else
        (void)orch__ignore_may_reinclude(ig, path);
    /* appending "!<path escaped>" always re-includes the path itself */
    char *esc = orch__ignore_escape(path);
    char *line = zp_asprintf("!%s", esc);
    zp_err_init(&err);
    char *clean = zp_path_clean(path);
    if (*path && strcmp(clean, path) == 0 && path[0] != '/' && strcmp(path, ".") != 0 &&
        !strchr(path, '\n') && strlen(line) <= ORCH_IGNORE_MAX_PATTERN &&
        strlen(path) <= ORCH_IGNORE_MAX_PATH && orch__ignore_add(ig, line, &err) == 0) {
        const char *p = path;
        bool spaced = false;
        for (; *p; p++)
            spaced |= *p == ' ' || *p == '\t' || *p == '\r' || *p == '\v' || *p == '\f';
        if (!spaced)
            check(!orch__ignore_excluded(ig, path));
    }
    free(clean);
    free(line);
    free(esc);

    /* the first line as one pattern against the path */
    const char *nl = memchr(text, '\n', tlen);
    char *pat = zp_strndup(text, nl ? (size_t)(nl - text) : tlen);
    bool m;
    zp_err_init(&err);
    rc = orch__glob_match(pat, path, &m, &err);
    check(rc == 0 || rc == ZP_E_INPUT || rc == ZP_E_TOOBIG);
    free(pat);
    orch__ignore_free(ig);
    free(path);
    return 0;
}

/* app/procfile: the Procfile reader ("name: command" per line), for the `web` process's
 * start command. */
#include <stdlib.h>
#include <string.h>

#include "app-int.h"

#include "../util/banned.h"

static int fail(const char *file, int line, int col, struct zp_err *err, const char *msg)
{
    struct zp_pos pos = {zp_intern(file), line, col};
    return zp_err_set(err, ZP_E_INPUT, &pos, "%s", msg);
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

int app__procfile_parse(const char *file, const char *text, size_t len, struct app_procfile *ret,
                        struct zp_err *err)
{
    memset(ret, 0, sizeof(*ret));
    if (len > APP_PROCFILE_MAX)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "%s: larger than %d bytes", file,
                          APP_PROCFILE_MAX);
    size_t off = 0;
    int line = 0;
    while (off < len) {
        line++;
        size_t eol = off;
        while (eol < len && text[eol] != '\n')
            eol++;
        size_t end = eol;
        if (end > off && text[end - 1] == '\r')
            end--;
        size_t i = off;
        while (i < end && (text[i] == ' ' || text[i] == '\t'))
            i++;
        size_t lstart = off;
        off = eol + 1;
        if (i == end || text[i] == '#')
            continue;
        for (size_t k = lstart; k < end; k++)
            if (text[k] == '\0' || ((unsigned char)text[k] < 0x20 && text[k] != '\t'))
                return fail(file, line, (int)(k - lstart) + 1, err,
                            "control character in a Procfile line");
        size_t nstart = i;
        while (i < end && name_char(text[i]))
            i++;
        if (i == nstart || i >= end || text[i] != ':')
            return fail(file, line, (int)(i - lstart) + 1, err,
                        "expected 'NAME: COMMAND' (a name of letters, digits, '_' or '-')");
        size_t nend = i++;
        while (i < end && (text[i] == ' ' || text[i] == '\t'))
            i++;
        size_t cend = end;
        while (cend > i && (text[cend - 1] == ' ' || text[cend - 1] == '\t'))
            cend--;
        if (cend == i)
            return fail(file, line, (int)(i - lstart) + 1, err, "empty command");
        char *name = zp_strndup(text + nstart, nend - nstart);
        if (app__procfile_get(ret, name)) {
            struct zp_pos pos = {zp_intern(file), line, (int)(nstart - lstart) + 1};
            zp_err_set(err, ZP_E_INPUT, &pos, "duplicate process type '%s'", name);
            free(name);
            return ZP_E_INPUT;
        }
        if (ret->n >= APP_PROCFILE_MAX_ENTRIES) {
            free(name);
            return fail(file, line, 1, err, "too many process types");
        }
        ret->names = zp_realloc(ret->names, (ret->n + 1) * sizeof(char *));
        ret->cmds = zp_realloc(ret->cmds, (ret->n + 1) * sizeof(char *));
        ret->names[ret->n] = name;
        ret->cmds[ret->n] = zp_strndup(text + i, cend - i);
        ret->n++;
    }
    return 0;
}

void app__procfile_release(struct app_procfile *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->names[i]);
        free(p->cmds[i]);
    }
    free(p->names);
    free(p->cmds);
    memset(p, 0, sizeof(*p));
}

const char *app__procfile_get(const struct app_procfile *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0)
            return p->cmds[i];
    return NULL;
}

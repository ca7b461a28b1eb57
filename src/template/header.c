/* template/header: the `# key: value` comment lines that open a Coolify template. */
#include <stdlib.h>
#include <string.h>

#include "template.h"

#include "../util/banned.h"

static char *trimmed(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    return zp_strndup(s, n);
}

/* Split a comma-separated list into trimmed, non-empty items (lowercased when lower). */
static void split_list(const char *v, bool lower, char ***items, size_t *n)
{
    const char *p = v;
    while (*p) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        char *item = trimmed(p, len);
        if (*item) {
            if (lower)
                for (char *q = item; *q; q++)
                    if (*q >= 'A' && *q <= 'Z')
                        *q = (char)(*q - 'A' + 'a');
            *items = zp_realloc(*items, (*n + 1) * sizeof(**items));
            (*items)[(*n)++] = item;
        } else {
            free(item);
        }
        p += len;
        if (*p == ',')
            p++;
    }
}

static void set_once(char **slot, char *v)
{
    free(*slot);
    *slot = v;
}

int template_header_parse(const char *file, const char *text, size_t len,
                          struct template_header *ret, struct zp_diags *d)
{
    struct template_header h;
    memset(&h, 0, sizeof(h));
    const char *fname = zp_intern(file ? file : "template");
    size_t errors = d->errors;
    size_t off = 0;
    int line = 0;
    while (off < len) {
        const char *l = text + off;
        const char *nl = memchr(l, '\n', len - off);
        size_t n = nl ? (size_t)(nl - l) : len - off;
        off += n + (nl ? 1 : 0);
        line++;
        size_t i = 0;
        while (i < n && (l[i] == ' ' || l[i] == '\t'))
            i++;
        if (i == n || l[i] == '\r')
            continue; /* blank lines may sit among the header's */
        if (l[i] != '#')
            break;
        i++;
        while (i < n && l[i] == ' ')
            i++;
        const char *colon = memchr(l + i, ':', n - i);
        if (!colon)
            continue; /* a plain comment */
        char *key = trimmed(l + i, (size_t)(colon - (l + i)));
        char *val = trimmed(colon + 1, n - (size_t)(colon + 1 - l));
        struct zp_pos pos = {fname, line, (int)i + 1};
        bool known = true;
        if (strlen(val) > TEMPLATE_MAX_HEADER_VALUE) {
            zp_diag_error(d, &pos, NULL, "header '%s': value longer than %d bytes", key,
                          TEMPLATE_MAX_HEADER_VALUE);
        } else if (strcmp(key, "documentation") == 0) {
            set_once(&h.documentation, val), val = NULL;
        } else if (strcmp(key, "slogan") == 0) {
            set_once(&h.slogan, val), val = NULL;
        } else if (strcmp(key, "category") == 0) {
            set_once(&h.category, val), val = NULL;
        } else if (strcmp(key, "logo") == 0) {
            set_once(&h.logo, val), val = NULL;
        } else if (strcmp(key, "minversion") == 0) {
            set_once(&h.minversion, val), val = NULL;
        } else if (strcmp(key, "env_file") == 0) {
            set_once(&h.env_file, val), val = NULL;
        } else if (strcmp(key, "tags") == 0) {
            split_list(val, true, &h.tags, &h.ntags);
        } else if (strcmp(key, "minimal") == 0) {
            split_list(val, false, &h.minimal, &h.nminimal);
        } else if (strcmp(key, "port") == 0) {
            int64_t port;
            if (zp_parse_int64(val, 1, 65535, &port) != 0)
                zp_diag_error(d, &pos, NULL, "header 'port': '%s' is not a port (1-65535)", val);
            else
                h.port = (int)port;
        } else if (strcmp(key, "ignore") == 0) {
            if (strcmp(val, "true") == 0)
                h.ignore = true;
            else if (strcmp(val, "false") != 0)
                zp_diag_error(d, &pos, NULL, "header 'ignore': '%s' is not true or false", val);
        } else {
            known = false;
        }
        /* a comment with a colon that is not a header key ("# see: ...") is only noted
         * when it looks like one (a single lowercase word) */
        if (!known) {
            bool word = *key != '\0';
            for (const char *q = key; *q && word; q++)
                word = (*q >= 'a' && *q <= 'z') || *q == '_';
            if (word)
                zp_diag_warn(d, &pos, NULL, "unknown header '%s', ignoring", key);
        }
        free(key);
        free(val);
    }
    if (d->errors > errors) {
        template_header_release(&h);
        return ZP_E_INPUT;
    }
    *ret = h;
    return 0;
}

void template_header_release(struct template_header *h)
{
    if (!h)
        return;
    free(h->documentation);
    free(h->slogan);
    free(h->category);
    free(h->logo);
    free(h->minversion);
    free(h->env_file);
    for (size_t i = 0; i < h->ntags; i++)
        free(h->tags[i]);
    free(h->tags);
    for (size_t i = 0; i < h->nminimal; i++)
        free(h->minimal[i]);
    free(h->minimal);
    memset(h, 0, sizeof(*h));
}

/* s3/xml: a small reader of the XML documents S3 answers (errors, listings, multipart
 * results). No DTDs, no namespaces (prefixes are dropped), attributes skipped; every size
 * is capped; anything malformed or truncated is an error, never a guess. */
#include <stdlib.h>
#include <string.h>

#include "s3-int.h"

#include "../util/banned.h"

struct walker {
    const char *doc, *p, *end;
    struct zp_str path[S3__XML_MAX_DEPTH];
    size_t depth;
    struct zp_buf text;
    s3__xml_leaf_fn leaf;
    void *ud;
    struct zp_err *err;
};

static int bad(struct walker *w, const char *why)
{
    return zp_err_set(w->err, ZP_E_INPUT, NULL, "XML at byte %zu: %s", (size_t)(w->p - w->doc),
                      why);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_name_char(char c)
{
    return !is_space(c) && c != '>' && c != '/' && c != '<' && c != '=' && c != '\0' && c != '"' &&
           c != '\'';
}

static const char *find(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    while ((size_t)(end - p) >= n) {
        if (memcmp(p, needle, n) == 0)
            return p;
        p++;
    }
    return NULL;
}

static int add_text(struct walker *w, const char *s, size_t n)
{
    if (w->text.len + n > S3__XML_MAX_TEXT || zp_buf_add(&w->text, s, n) != 0)
        return zp_err_set(w->err, ZP_E_TOOBIG, NULL, "XML at byte %zu: text longer than %zu bytes",
                          (size_t)(w->p - w->doc), S3__XML_MAX_TEXT);
    return 0;
}

static int add_codepoint(struct walker *w, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return bad(w, "invalid character reference");
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return add_text(w, u, n);
}

/* Character data up to the next '<', entities decoded. */
static int chardata(struct walker *w)
{
    while (w->p < w->end && *w->p != '<') {
        const char *amp = memchr(w->p, '&', (size_t)(w->end - w->p));
        const char *lt = memchr(w->p, '<', (size_t)(w->end - w->p));
        const char *stop = lt ? lt : w->end;
        if (amp == NULL || amp > stop) {
            if (w->depth == 0) {
                for (const char *q = w->p; q < stop; q++)
                    if (!is_space(*q))
                        return bad(w, "text outside the root element");
            } else if (add_text(w, w->p, (size_t)(stop - w->p)) != 0) {
                return w->err->code;
            }
            w->p = stop;
            break;
        }
        if (w->depth == 0)
            return bad(w, "text outside the root element");
        if (add_text(w, w->p, (size_t)(amp - w->p)) != 0)
            return w->err->code;
        w->p = amp;
        const char *semi = memchr(amp, ';', (size_t)(stop - amp));
        if (semi == NULL || semi - amp > 12)
            return bad(w, "unterminated entity");
        struct zp_str name = {amp + 1, (size_t)(semi - amp - 1)};
        static const struct {
            const char *name;
            char c;
        } named[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
        bool done = false;
        for (size_t i = 0; i < sizeof(named) / sizeof(named[0]) && !done; i++) {
            if (strlen(named[i].name) == name.len && memcmp(named[i].name, name.p, name.len) == 0) {
                if (add_text(w, &named[i].c, 1) != 0)
                    return w->err->code;
                done = true;
            }
        }
        if (!done) {
            if (name.len < 2 || name.p[0] != '#')
                return bad(w, "unknown entity");
            bool hex = name.p[1] == 'x';
            size_t i = hex ? 2 : 1;
            if (i >= name.len)
                return bad(w, "invalid character reference");
            unsigned long cp = 0;
            for (; i < name.len; i++) {
                char c = name.p[i];
                int d;
                if (c >= '0' && c <= '9')
                    d = c - '0';
                else if (hex && c >= 'a' && c <= 'f')
                    d = c - 'a' + 10;
                else if (hex && c >= 'A' && c <= 'F')
                    d = c - 'A' + 10;
                else
                    return bad(w, "invalid character reference");
                cp = cp * (hex ? 16 : 10) + (unsigned long)d;
                if (cp > 0x10FFFF)
                    return bad(w, "invalid character reference");
            }
            if (add_codepoint(w, cp) != 0)
                return w->err->code;
        }
        w->p = semi + 1;
    }
    return 0;
}

/* A name at w->p; its local part (after the last ':') into *ret. */
static int name(struct walker *w, struct zp_str *ret)
{
    const char *s = w->p;
    while (w->p < w->end && is_name_char(*w->p))
        w->p++;
    if (w->p == s)
        return bad(w, "expected an element name");
    if (w->p - s > 256)
        return bad(w, "element name too long");
    const char *local = s;
    for (const char *q = s; q < w->p; q++)
        if (*q == ':')
            local = q + 1;
    ret->p = local;
    ret->len = (size_t)(w->p - local);
    return 0;
}

/* Skip attributes up to '>' or "/>"; *ret_empty for the latter. */
static int attributes(struct walker *w, bool *ret_empty)
{
    while (w->p < w->end) {
        char c = *w->p;
        if (c == '"' || c == '\'') {
            const char *q = memchr(w->p + 1, c, (size_t)(w->end - w->p - 1));
            if (q == NULL)
                break;
            w->p = q + 1;
        } else if (c == '<') {
            return bad(w, "'<' inside a tag");
        } else if (c == '>') {
            w->p++;
            *ret_empty = false;
            return 0;
        } else if (c == '/' && w->p + 1 < w->end && w->p[1] == '>') {
            w->p += 2;
            *ret_empty = true;
            return 0;
        } else {
            w->p++;
        }
    }
    return bad(w, "unterminated tag");
}

static int close_element(struct walker *w)
{
    w->depth--;
    int rc = w->leaf(w->ud, w->path, w->depth + 1, zp_buf_cstr(&w->text), w->text.len);
    zp_buf_reset(&w->text);
    return rc;
}

static int markup(struct walker *w, bool *seen_root)
{
    const char *p = w->p;
    size_t left = (size_t)(w->end - p);
    if (left >= 2 && p[1] == '?') {
        const char *q = find(p + 2, w->end, "?>");
        if (q == NULL)
            return bad(w, "unterminated processing instruction");
        w->p = q + 2;
        return 0;
    }
    if (left >= 4 && memcmp(p, "<!--", 4) == 0) {
        const char *q = find(p + 4, w->end, "-->");
        if (q == NULL)
            return bad(w, "unterminated comment");
        w->p = q + 3;
        return 0;
    }
    if (left >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
        if (w->depth == 0)
            return bad(w, "CDATA outside the root element");
        const char *q = find(p + 9, w->end, "]]>");
        if (q == NULL)
            return bad(w, "unterminated CDATA section");
        w->p = p + 9;
        if (add_text(w, p + 9, (size_t)(q - p - 9)) != 0)
            return w->err->code;
        w->p = q + 3;
        return 0;
    }
    if (left >= 2 && p[1] == '!') {
        const char *q = memchr(p, '>', left);
        if (q == NULL || memchr(p, '[', (size_t)(q - p)) != NULL)
            return bad(w, "document type declarations are not supported");
        if (*seen_root)
            return bad(w, "declaration after the root element");
        w->p = q + 1;
        return 0;
    }
    if (left >= 2 && p[1] == '/') {
        w->p += 2;
        struct zp_str n;
        if (name(w, &n) != 0)
            return w->err->code;
        while (w->p < w->end && is_space(*w->p))
            w->p++;
        if (w->p >= w->end || *w->p != '>')
            return bad(w, "unterminated end tag");
        w->p++;
        if (w->depth == 0)
            return bad(w, "end tag without a start tag");
        struct zp_str *open = &w->path[w->depth - 1];
        if (open->len != n.len || memcmp(open->p, n.p, n.len) != 0)
            return bad(w, "end tag does not match its start tag");
        return close_element(w);
    }
    w->p++;
    if (w->depth == 0 && *seen_root)
        return bad(w, "a second root element");
    struct zp_str n;
    if (name(w, &n) != 0)
        return w->err->code;
    bool empty = false;
    if (attributes(w, &empty) != 0)
        return w->err->code;
    if (w->depth >= S3__XML_MAX_DEPTH)
        return zp_err_set(w->err, ZP_E_TOOBIG, NULL, "XML at byte %zu: nested deeper than %d",
                          (size_t)(w->p - w->doc), S3__XML_MAX_DEPTH);
    *seen_root = true;
    w->path[w->depth++] = n;
    zp_buf_reset(&w->text);
    return empty ? close_element(w) : 0;
}

int s3__xml_walk(const char *doc, size_t len, s3__xml_leaf_fn leaf, void *ud, struct zp_err *err)
{
    struct walker w = {.doc = doc, .p = doc, .end = doc + len, .leaf = leaf, .ud = ud, .err = err};
    zp_buf_init(&w.text, S3__XML_MAX_TEXT + 1);
    bool seen_root = false;
    int rc = 0;
    if (len >= 3 && memcmp(doc, "\xEF\xBB\xBF", 3) == 0)
        w.p += 3;
    while (w.p < w.end && rc == 0) {
        if (*w.p == '\0') {
            rc = bad(&w, "NUL byte");
            break;
        }
        if (*w.p == '<')
            rc = markup(&w, &seen_root);
        else
            rc = chardata(&w);
    }
    if (rc == 0 && (!seen_root || w.depth > 0))
        rc = bad(&w, seen_root ? "truncated document" : "no root element");
    zp_buf_release(&w.text);
    return rc;
}

static bool path_is(const struct zp_str *path, size_t depth, const char *const *names, size_t n)
{
    if (depth != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (path[i].len != strlen(names[i]) || memcmp(path[i].p, names[i], path[i].len) != 0)
            return false;
    return true;
}

static bool root_is(const struct zp_str *path, const char *name)
{
    return path[0].len == strlen(name) && memcmp(path[0].p, name, path[0].len) == 0;
}

/* ---- Error ---- */

struct error_doc {
    char *code, *message;
    bool is_error;
};

static int error_leaf(void *ud, const struct zp_str *path, size_t depth, const char *text,
                      size_t len)
{
    struct error_doc *d = ud;
    d->is_error = root_is(path, "Error");
    if (!d->is_error)
        return 0;
    if (path_is(path, depth, (const char *const[]){"Error", "Code"}, 2)) {
        free(d->code);
        d->code = zp_strndup(text, len);
    } else if (path_is(path, depth, (const char *const[]){"Error", "Message"}, 2)) {
        free(d->message);
        d->message = zp_strndup(text, len);
    }
    return 0;
}

int s3__xml_error(const char *doc, size_t len, char **ret_code, char **ret_message,
                  struct zp_err *err)
{
    struct error_doc d = {0};
    int rc = s3__xml_walk(doc, len, error_leaf, &d, err);
    if (rc == 0 && !d.is_error)
        rc = ZP_E_NOTFOUND;
    if (rc == 0) {
        *ret_code = d.code ? d.code : zp_strdup("");
        *ret_message = d.message ? d.message : zp_strdup("");
        return 0;
    }
    free(d.code);
    free(d.message);
    return rc;
}

/* ---- ListObjectsV2 ---- */

struct list_doc {
    struct s3_object **objs;
    size_t *n, *cap;
    struct s3_object cur;
    bool have_key, have_size;
    bool truncated;
    char *token;
    bool root_ok;
    struct zp_err *err;
};

static void object_release(struct s3_object *o)
{
    free(o->key);
    free(o->last_modified);
    free(o->etag);
    memset(o, 0, sizeof(*o));
}

static char *unquote(const char *s, size_t len)
{
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"')
        return zp_strndup(s + 1, len - 2);
    return zp_strndup(s, len);
}

static int list_leaf(void *ud, const struct zp_str *path, size_t depth, const char *text,
                     size_t len)
{
    struct list_doc *d = ud;
    if (!root_is(path, "ListBucketResult"))
        return zp_err_set(d->err, ZP_E_INPUT, NULL, "not a ListBucketResult document");
    d->root_ok = true;
    static const char *const c_key[] = {"ListBucketResult", "Contents", "Key"};
    static const char *const c_size[] = {"ListBucketResult", "Contents", "Size"};
    static const char *const c_mod[] = {"ListBucketResult", "Contents", "LastModified"};
    static const char *const c_etag[] = {"ListBucketResult", "Contents", "ETag"};
    static const char *const c_end[] = {"ListBucketResult", "Contents"};
    static const char *const trunc[] = {"ListBucketResult", "IsTruncated"};
    static const char *const token[] = {"ListBucketResult", "NextContinuationToken"};
    if (path_is(path, depth, c_key, 3)) {
        if (len == 0 || memchr(text, '\0', len) != NULL)
            return zp_err_set(d->err, ZP_E_INPUT, NULL,
                              "a listed object has an empty or binary Key");
        free(d->cur.key);
        d->cur.key = zp_strndup(text, len);
        d->have_key = true;
    } else if (path_is(path, depth, c_size, 3)) {
        int64_t v;
        char *s = zp_strndup(text, len);
        int rc = zp_parse_int64(s, 0, INT64_MAX, &v);
        free(s);
        if (rc != 0)
            return zp_err_set(d->err, ZP_E_INPUT, NULL, "a listed object's Size is not a number");
        d->cur.size = (uint64_t)v;
        d->have_size = true;
    } else if (path_is(path, depth, c_mod, 3)) {
        free(d->cur.last_modified);
        d->cur.last_modified = zp_strndup(text, len);
    } else if (path_is(path, depth, c_etag, 3)) {
        free(d->cur.etag);
        d->cur.etag = unquote(text, len);
    } else if (path_is(path, depth, c_end, 2)) {
        if (!d->have_key || !d->have_size)
            return zp_err_set(d->err, ZP_E_INPUT, NULL, "a listed object has no Key or Size");
        if (*d->n >= S3_MAX_LIST)
            return zp_err_set(d->err, ZP_E_TOOBIG, NULL, "more than %zu objects listed",
                              S3_MAX_LIST);
        zp_grow((void **)d->objs, d->cap, *d->n + 1, sizeof(**d->objs));
        if (d->cur.last_modified == NULL)
            d->cur.last_modified = zp_strdup("");
        if (d->cur.etag == NULL)
            d->cur.etag = zp_strdup("");
        (*d->objs)[(*d->n)++] = d->cur;
        memset(&d->cur, 0, sizeof(d->cur));
        d->have_key = d->have_size = false;
    } else if (path_is(path, depth, trunc, 2)) {
        d->truncated = len == 4 && memcmp(text, "true", 4) == 0;
    } else if (path_is(path, depth, token, 2)) {
        free(d->token);
        d->token = zp_strndup(text, len);
    }
    return 0;
}

int s3__xml_list(const char *doc, size_t len, struct s3_object **objs, size_t *n, size_t *cap,
                 bool *ret_truncated, char **ret_token, struct zp_err *err)
{
    struct list_doc d = {.objs = objs, .n = n, .cap = cap, .err = err};
    int rc = s3__xml_walk(doc, len, list_leaf, &d, err);
    if (rc == 0 && d.truncated && (d.token == NULL || d.token[0] == '\0'))
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "a truncated listing without NextContinuationToken");
    object_release(&d.cur);
    if (rc != 0) {
        free(d.token);
        return rc;
    }
    *ret_truncated = d.truncated;
    *ret_token = d.token;
    return 0;
}

/* ---- multipart ---- */

struct one_doc {
    const char *root, *field;
    char *value;
    bool is_error;
    char *code, *message;
};

static int one_leaf(void *ud, const struct zp_str *path, size_t depth, const char *text, size_t len)
{
    struct one_doc *d = ud;
    if (root_is(path, "Error")) {
        d->is_error = true;
        if (path_is(path, depth, (const char *const[]){"Error", "Code"}, 2)) {
            free(d->code);
            d->code = zp_strndup(text, len);
        } else if (path_is(path, depth, (const char *const[]){"Error", "Message"}, 2)) {
            free(d->message);
            d->message = zp_strndup(text, len);
        }
    } else if (path_is(path, depth, (const char *const[]){d->root, d->field}, 2)) {
        free(d->value);
        d->value = unquote(text, len);
    }
    return 0;
}

static int one_field(const char *doc, size_t len, const char *root, const char *field, char **ret,
                     struct zp_err *err)
{
    struct one_doc d = {.root = root, .field = field};
    int rc = s3__xml_walk(doc, len, one_leaf, &d, err);
    if (rc == 0 && d.is_error)
        rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "the storage answered an error: %s: %s",
                        d.code ? d.code : "", d.message ? d.message : "");
    else if (rc == 0 && (d.value == NULL || d.value[0] == '\0'))
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "no %s in the answer", field);
    free(d.code);
    free(d.message);
    if (rc != 0) {
        free(d.value);
        return rc;
    }
    *ret = d.value;
    return 0;
}

int s3__xml_initiate(const char *doc, size_t len, char **ret_upload_id, struct zp_err *err)
{
    return one_field(doc, len, "InitiateMultipartUploadResult", "UploadId", ret_upload_id, err);
}

int s3__xml_complete(const char *doc, size_t len, char **ret_etag, struct zp_err *err)
{
    return one_field(doc, len, "CompleteMultipartUploadResult", "ETag", ret_etag, err);
}

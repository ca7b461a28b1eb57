/* backup/manifest: the archive's manifest.json (what it holds, every checksum), written
 * and parsed with strict checks. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backup-int.h"

#include "../util/banned.h"

void backup_manifest_release(struct backup_manifest *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->sections[i].key);
        free(m->sections[i].name);
    }
    free(m->sections);
    free(m->zpanel_version);
    free(m->project);
    free(m->created);
    memset(m, 0, sizeof(*m));
}

const struct backup_section *backup_manifest_find(const struct backup_manifest *m,
                                                  enum backup_kind kind, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->sections[i].kind == kind && strcmp(m->sections[i].key, key) == 0)
            return &m->sections[i];
    return NULL;
}

static const char *const list_names[] = {"volumes", "binds", "files", "dumps"};
/* the member naming a section, per kind */
static const char *const key_names[] = {"key", "path", "path", "service"};

int backup_manifest_to_json(const struct backup_manifest *m, struct zp_buf *out, struct zp_err *err)
{
    /* json_t *root: owned here */
    json_t *root = json_object();
    json_object_set_new(root, "format", json_integer(m->format));
    json_object_set_new(root, "zpanel_version",
                        json_string(m->zpanel_version ? m->zpanel_version : ""));
    json_object_set_new(root, "project", json_string(m->project ? m->project : ""));
    json_object_set_new(root, "created", json_string(m->created ? m->created : ""));
    for (int k = BACKUP_VOLUME; k <= BACKUP_DUMP; k++) {
        json_t *list = json_array(); /* borrowed once set below */
        for (size_t i = 0; i < m->n; i++) {
            const struct backup_section *s = &m->sections[i];
            if ((int)s->kind != k)
                continue;
            json_t *o = json_object();
            json_object_set_new(o, key_names[k], json_string(s->key));
            if (k == BACKUP_VOLUME)
                json_object_set_new(o, "name", json_string(s->name ? s->name : ""));
            if (k == BACKUP_DUMP)
                json_object_set_new(o, "database", json_string(s->name ? s->name : ""));
            json_object_set_new(o, "size", json_integer((json_int_t)s->size));
            json_object_set_new(o, "files", json_integer((json_int_t)s->files));
            json_object_set_new(o, "sha256", json_string(s->sha256));
            json_array_append_new(list, o);
        }
        json_object_set_new(root, list_names[k], list);
    }
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text == NULL)
        return zp_err_set(err, ZP_E_INTERNAL, NULL, "manifest.json: cannot encode");
    int rc = zp_buf_adds(out, text);
    if (rc == 0)
        rc = zp_buf_addc(out, '\n');
    free(text);
    if (rc != 0)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "manifest.json: too big");
    return 0;
}

static bool is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

/* "manifest.json: LIST[I]: WHAT" */
static int bad(struct zp_err *err, const char *list, size_t i, const char *what)
{
    return zp_err_set(err, ZP_E_INPUT, NULL, "manifest.json: %s[%zu]%s", list, i, what);
}

/* A non-negative integer member within the cap. */
static int get_count(json_t *o, const char *field, const char *list, size_t i, uint64_t *ret,
                     struct zp_err *err)
{
    json_t *v = json_object_get(o, field); /* borrowed */
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > BACKUP_MAX_SIZE)
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "manifest.json: %s[%zu].%s: not a count within the limits", list, i,
                          field);
    *ret = (uint64_t)json_integer_value(v);
    return 0;
}

int backup_manifest_parse(const char *json, size_t len, struct backup_manifest *ret,
                          struct zp_err *err)
{
    if (len > BACKUP_MAX_MANIFEST)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "manifest.json: larger than %zu bytes",
                          BACKUP_MAX_MANIFEST);
    json_error_t jerr;
    /* owned */
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return zp_err_set(err, ZP_E_INPUT, NULL, "manifest.json:%d:%d: %s", jerr.line, jerr.column,
                          jerr.text);
    struct backup_manifest m;
    memset(&m, 0, sizeof(m));
    int rc = 0;
    if (!json_is_object(root)) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL, "manifest.json: not an object");
        goto out;
    }
    json_t *fmt = json_object_get(root, "format");
    if (!json_is_integer(fmt) || json_integer_value(fmt) != BACKUP_FORMAT) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL,
                        "manifest.json: format is not %d (written by another zpanel?)",
                        BACKUP_FORMAT);
        goto out;
    }
    m.format = BACKUP_FORMAT;
    static const char *const strs[] = {"zpanel_version", "project", "created"};
    char **dst[] = {&m.zpanel_version, &m.project, &m.created};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(root, strs[i]);
        if (!json_is_string(v) || json_string_length(v) > 1024 ||
            memchr(json_string_value(v), '\0', json_string_length(v)) != NULL) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "manifest.json: %s: not a string", strs[i]);
            goto out;
        }
        *dst[i] = zp_strdup(json_string_value(v));
    }
    size_t total = 0;
    for (int k = BACKUP_VOLUME; k <= BACKUP_DUMP; k++) {
        json_t *list = json_object_get(root, list_names[k]);
        if (k == BACKUP_DUMP && list == NULL)
            continue; /* archives written before dumps existed */
        if (!json_is_array(list)) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL, "manifest.json: %s: not a list", list_names[k]);
            goto out;
        }
        total += json_array_size(list);
    }
    if (total > BACKUP_MAX_SECTIONS) {
        rc = zp_err_set(err, ZP_E_TOOBIG, NULL, "manifest.json: more than %d sections",
                        BACKUP_MAX_SECTIONS);
        goto out;
    }
    m.sections = zp_calloc(total + 1, sizeof(*m.sections));
    for (int k = BACKUP_VOLUME; k <= BACKUP_DUMP; k++) {
        json_t *list = json_object_get(root, list_names[k]);
        const char *ln = list_names[k];
        for (size_t i = 0; i < json_array_size(list); i++) {
            json_t *o = json_array_get(list, i);
            if (!json_is_object(o)) {
                rc = bad(err, ln, i, ": not an object");
                goto out;
            }
            const char *kf = key_names[k];
            json_t *key = json_object_get(o, kf);
            json_t *sha = json_object_get(o, "sha256");
            if (!json_is_string(key) || strlen(json_string_value(key)) != json_string_length(key)) {
                rc = bad(err, ln, i, ": no valid key");
                goto out;
            }
            if (backup_check_key((enum backup_kind)k, json_string_value(key), err) != 0) {
                zp_err_prefix(err, "manifest.json: %s[%zu]", ln, i);
                rc = err->code;
                goto out;
            }
            if (backup_manifest_find(&m, (enum backup_kind)k, json_string_value(key))) {
                rc = zp_err_set(err, ZP_E_INPUT, NULL, "manifest.json: %s: '%s' appears twice", ln,
                                json_string_value(key));
                goto out;
            }
            if (!json_is_string(sha) || !is_hex64(json_string_value(sha))) {
                rc = bad(err, ln, i, ".sha256: not 64 hex digits");
                goto out;
            }
            struct backup_section *s = &m.sections[m.n];
            s->kind = (enum backup_kind)k;
            if (get_count(o, "size", ln, i, &s->size, err) != 0 ||
                get_count(o, "files", ln, i, &s->files, err) != 0) {
                rc = err->code;
                goto out;
            }
            if (k == BACKUP_VOLUME) {
                json_t *name = json_object_get(o, "name");
                if (!json_is_string(name) || json_string_length(name) == 0 ||
                    strlen(json_string_value(name)) != json_string_length(name)) {
                    rc = bad(err, ln, i, ".name: not a volume name");
                    goto out;
                }
                s->name = zp_strdup(json_string_value(name));
            }
            if (k == BACKUP_DUMP) {
                json_t *db = json_object_get(o, "database");
                enum backup_db type;
                struct zp_err ignored;
                zp_err_init(&ignored);
                if (!json_is_string(db) ||
                    strlen(json_string_value(db)) != json_string_length(db) ||
                    backup_db_parse(json_string_value(db), &type, &ignored) != 0) {
                    rc = bad(err, ln, i, ".database: not a known database type");
                    goto out;
                }
                s->name = zp_strdup(json_string_value(db));
            }
            s->key = zp_strdup(json_string_value(key));
            memcpy(s->sha256, json_string_value(sha), 65);
            m.n++;
        }
    }
    *ret = m;
    memset(&m, 0, sizeof(m));
out:
    backup_manifest_release(&m);
    json_decref(root);
    return rc;
}

/* orchestrator/mapping-mounts: volumes (bind, volume, tmpfs, anonymous), tmpfs, secrets and
 * configs to the create body's Mounts. Pure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping-int.h"

#include "../util/banned.h"

/* ---- volumes, tmpfs, secrets and configs ---- */

static void add_mount(struct mapper *m, struct zp_node *mount)
{
    zp_node_push(orch__map_jseq_at(m->hc, "Mounts"), mount);
}

static void add_bind_dir(struct mapper *m, const char *dir)
{
    struct orch_container_spec *s = m->spec;
    for (size_t i = 0; i < s->nbind_dirs; i++)
        if (strcmp(s->bind_dirs[i], dir) == 0)
            return;
    s->bind_dirs = zp_realloc(s->bind_dirs, (s->nbind_dirs + 1) * sizeof(*s->bind_dirs));
    s->bind_dirs[s->nbind_dirs++] = zp_strdup(dir);
}

/* The map_*_mount helpers below take ownership of mount (added or freed).
 * A bind mount with an SELinux label cannot go through Mounts (the API has no field for
 * it): it becomes a HostConfig.Binds entry "src:dst:opts" instead. */
static int map_bind(struct mapper *m, const struct zp_node *vol, const char *f,
                    struct zp_node *mount)
{
    static const char *const known[] = {"create_host_path", "propagation", "selinux", "recursive",
                                        NULL};
    const struct zp_node *bind = zp_node_get(vol, "bind");
    char *bf = zp_asprintf("%s.bind", f);
    int rc = orch__map_check_keys(m, bind, bf, known);
    const char *prop = zp_node_get_str(bind, "propagation");
    const char *selinux = zp_node_get_str(bind, "selinux");
    const char *rec = zp_node_get_str(bind, "recursive");
    const char *src = zp_node_get_str(vol, "source");
    if (rc == 0 && rec != NULL && strcmp(rec, "enabled") != 0 && strcmp(rec, "disabled") != 0) {
        char *rf = zp_asprintf("%s.recursive", bf);
        rc = orch__map_fail(m, zp_node_get(bind, "recursive"), rf, "'%s' is %s", rec, API_TOO_OLD);
        free(rf);
    }
    if (rc == 0 && selinux != NULL && rec != NULL && strcmp(rec, "disabled") == 0)
        rc = orch__map_fail(m, zp_node_get(bind, "selinux"), bf,
                            "selinux and recursive: disabled cannot be combined");
    free(bf);
    if (rc < 0) {
        zp_node_free(mount);
        return rc;
    }
    if (orch__map_is_true(zp_node_get(bind, "create_host_path")))
        add_bind_dir(m, src);
    if (selinux != NULL) {
        struct zp_buf b = ZP_BUF_INIT;
        zp_buf_addf(&b, "%s:%s:%s,%s", src, zp_node_get_str(vol, "target"),
                    orch__map_is_true(zp_node_get(vol, "read_only")) ? "ro" : "rw", selinux);
        if (prop != NULL)
            zp_buf_addf(&b, ",%s", prop);
        zp_node_push(orch__map_jseq_at(m->hc, "Binds"), orch__map_jstr(zp_buf_cstr(&b)));
        zp_buf_release(&b);
        zp_node_free(mount);
        return 0;
    }
    if (prop != NULL || (rec != NULL && strcmp(rec, "disabled") == 0)) {
        struct zp_node *bo = orch__map_jmap_at(mount, "BindOptions");
        if (prop != NULL)
            zp_node_set(bo, "Propagation", orch__map_jstr(prop));
        if (rec != NULL && strcmp(rec, "disabled") == 0)
            zp_node_set(bo, "NonRecursive", orch__map_jbool(true));
    }
    add_mount(m, mount);
    return 0;
}

static int map_volume_mount(struct mapper *m, const struct zp_node *vol, const char *f,
                            struct zp_node *mount)
{
    static const char *const known[] = {"nocopy", "subpath", "labels", NULL};
    const struct zp_node *opts = zp_node_get(vol, "volume");
    char *of = zp_asprintf("%s.volume", f);
    int rc = orch__map_check_keys(m, opts, of, known);
    if (rc == 0 && zp_node_get(opts, "subpath") != NULL) {
        char *sf = zp_asprintf("%s.subpath", of);
        rc = orch__map_fail(m, zp_node_get(opts, "subpath"), sf, API_TOO_OLD);
        free(sf);
    }
    free(of);
    if (rc < 0) {
        zp_node_free(mount);
        return rc;
    }
    const struct zp_node *src = zp_node_get(vol, "source");
    if (src != NULL) {
        /* a named volume: the engine name from the top-level definition */
        const struct zp_node *def = zp_node_get(zp_node_get(m->p->model, "volumes"), src->str);
        const char *name = zp_node_get_str(def, "name");
        if (def == NULL || name == NULL) {
            char *sf = zp_asprintf("%s.source", f);
            rc = orch__map_fail(m, src, sf, "volume '%s' is not defined in the top-level volumes",
                                src->str);
            free(sf);
            zp_node_free(mount);
            return rc;
        }
        zp_node_set(mount, "Source", orch__map_jstr(name));
    }
    struct zp_node *vo = NULL;
    if (orch__map_is_true(zp_node_get(opts, "nocopy")))
        zp_node_set(vo = orch__map_jmap_at(mount, "VolumeOptions"), "NoCopy",
                    orch__map_jbool(true));
    const struct zp_node *labels = zp_node_get(opts, "labels");
    if (labels != NULL) {
        struct zp_node *l = NULL;
        char *lf = zp_asprintf("%s.volume.labels", f);
        rc = orch__map_str_map(m, labels, lf, &l);
        free(lf);
        if (rc < 0) {
            zp_node_free(mount);
            return rc;
        }
        zp_node_set(vo ? vo : orch__map_jmap_at(mount, "VolumeOptions"), "Labels", l);
    }
    add_mount(m, mount);
    return 0;
}

static int map_tmpfs_mount(struct mapper *m, const struct zp_node *vol, const char *f,
                           struct zp_node *mount)
{
    static const char *const known[] = {"size", "mode", NULL};
    const struct zp_node *opts = zp_node_get(vol, "tmpfs");
    char *of = zp_asprintf("%s.tmpfs", f);
    int rc = orch__map_check_keys(m, opts, of, known);
    int64_t size = 0, mode = 0;
    const struct zp_node *sn = zp_node_get(opts, "size");
    const struct zp_node *mn = zp_node_get(opts, "mode");
    if (rc == 0 && sn != NULL)
        rc = orch__map_get_int(m, sn, of, &size);
    if (rc == 0 && mn != NULL)
        rc = orch__map_get_int(m, mn, of, &mode);
    free(of);
    if (rc < 0) {
        zp_node_free(mount);
        return rc;
    }
    if (sn != NULL || mn != NULL) {
        struct zp_node *to = orch__map_jmap_at(mount, "TmpfsOptions");
        if (sn != NULL)
            zp_node_set(to, "SizeBytes", orch__map_jint(size));
        if (mn != NULL)
            zp_node_set(to, "Mode", orch__map_jint(mode));
    }
    add_mount(m, mount);
    return 0;
}

int orch__map_volumes(struct mapper *m, const struct zp_node *v)
{
    static const char *const known[] = {"type", "source", "target", "read_only", "consistency",
                                        "bind", "volume", "tmpfs",  "image",     NULL};
    if (v->kind != ZP_NODE_SEQ)
        return orch__map_fail(m, v, "volumes", "must be a list");
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *vol = v->items[i];
        char *f = zp_asprintf("volumes[%zu]", i);
        int rc = orch__map_check_keys(m, vol, f, known);
        const char *type = zp_node_get_str(vol, "type");
        const char *target = zp_node_get_str(vol, "target");
        if (rc == 0 && (type == NULL || target == NULL))
            rc = orch__map_fail(m, vol, f, "a mount needs a type and a target");
        if (rc < 0) {
            free(f);
            return rc;
        }
        struct zp_node *mount = zp_node_new_map(NULL);
        zp_node_set(mount, "Type", orch__map_jstr(type));
        zp_node_set(mount, "Target", orch__map_jstr(target));
        const char *src = zp_node_get_str(vol, "source");
        if (orch__map_is_true(zp_node_get(vol, "read_only")))
            zp_node_set(mount, "ReadOnly", orch__map_jbool(true));
        const char *cons = zp_node_get_str(vol, "consistency");
        if (cons != NULL)
            zp_node_set(mount, "Consistency", orch__map_jstr(cons));
        if (strcmp(type, "bind") == 0) {
            if (src == NULL) {
                zp_node_free(mount);
                rc = orch__map_fail(m, vol, f, "a bind mount needs a 'source'");
            } else {
                zp_node_set(mount, "Source", orch__map_jstr(src));
                rc = map_bind(m, vol, f, mount);
            }
        } else if (strcmp(type, "volume") == 0) {
            rc = map_volume_mount(m, vol, f, mount);
        } else if (strcmp(type, "tmpfs") == 0) {
            rc = map_tmpfs_mount(m, vol, f, mount);
        } else {
            zp_node_free(mount);
            char *tf = zp_asprintf("%s.type", f);
            rc = orch__map_fail(m, zp_node_get(vol, "type"), tf, "volume type '%s' is %s", type,
                                strcmp(type, "image") == 0
                                    ? API_TOO_OLD
                                    : "not supported by the container mapping");
            free(tf);
        }
        free(f);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* tmpfs: "/run" or "/run:size=64k,mode=1777" -> HostConfig.Tmpfs {"/run": "size=..."}. */
int orch__map_tmpfs(struct mapper *m, const struct zp_node *v)
{
    if (v->kind != ZP_NODE_SEQ)
        return orch__map_fail(m, v, "tmpfs", "must be a list");
    struct zp_node *t = orch__map_jmap_at(m->hc, "Tmpfs");
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *it = v->items[i];
        if (it->kind != ZP_NODE_SCALAR || it->str[0] != '/') {
            char *f = zp_asprintf("tmpfs[%zu]", i);
            int rc = orch__map_fail(m, it, f,
                                    "must be an absolute path, optionally followed by :options");
            free(f);
            return rc;
        }
        const char *colon = strchr(it->str, ':');
        char *path = colon ? zp_strndup(it->str, (size_t)(colon - it->str)) : zp_strdup(it->str);
        zp_node_set(t, path, orch__map_jstr(colon ? colon + 1 : ""));
        free(path);
    }
    return 0;
}

/* secrets / configs with a file: read-only bind mounts at /run/secrets/<target> (secrets)
 * or /<target> (configs), as compose does without swarm. */
int orch__map_file_refs(struct mapper *m, const struct zp_node *v, const char *kind)
{
    static const char *const known[] = {"source", "target", "uid", "gid", "mode", NULL};
    bool secret = strcmp(kind, "secrets") == 0;
    if (v->kind != ZP_NODE_SEQ)
        return orch__map_fail(m, v, kind, "must be a list");
    const struct zp_node *defs = zp_node_get(m->p->model, kind);
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *ref = v->items[i];
        char *f = zp_asprintf("%s[%zu]", kind, i);
        int rc = orch__map_check_keys(m, ref, f, known);
        const char *src = zp_node_get_str(ref, "source");
        const struct zp_node *def = src ? zp_node_get(defs, src) : NULL;
        const char *file = zp_node_get_str(def, "file");
        const char *target = zp_node_get_str(ref, "target");
        if (rc < 0) {
            /* reported */
        } else if (src == NULL || def == NULL) {
            rc = orch__map_fail(m, ref, f, "'%s' is not defined in the top-level %s",
                                src ? src : "", kind);
        } else if (orch__map_is_true(zp_node_get(def, "external"))) {
            rc = orch__map_fail(m, ref, f, "external %s need swarm; use a file-based one", kind);
        } else if (file == NULL) {
            rc = orch__map_fail(
                m, ref, f, "%s from 'environment' or 'content' are not supported yet; use 'file'",
                kind);
        } else {
            static const char *const owner[] = {"uid", "gid", "mode", NULL};
            for (size_t k = 0; rc == 0 && owner[k]; k++) {
                if (zp_node_get(ref, owner[k]) == NULL)
                    continue;
                char *of = zp_asprintf("%s.%s", f, owner[k]);
                rc = orch__map_fail(
                    m, zp_node_get(ref, owner[k]), of,
                    "not supported without swarm: the %s is bind-mounted and keeps the "
                    "owner and mode of '%s'",
                    secret ? "secret" : "config", file);
                free(of);
            }
        }
        free(f);
        if (rc < 0)
            return rc;
        const char *name = target ? target : src;
        char *dst;
        if (name[0] == '/')
            dst = zp_strdup(name);
        else
            dst = zp_asprintf("%s/%s", secret ? "/run/secrets" : "", name);
        struct zp_node *mount = zp_node_new_map(NULL);
        zp_node_set(mount, "Type", orch__map_jstr("bind"));
        zp_node_set(mount, "Source", orch__map_jstr(file));
        zp_node_set(mount, "Target", orch__map_jstr(dst));
        zp_node_set(mount, "ReadOnly", orch__map_jbool(true));
        add_mount(m, mount);
        free(dst);
    }
    return 0;
}

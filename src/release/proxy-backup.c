/* release/proxy-backup: see proxy-backup.h. */
#include "proxy-backup.h"

#include <stdlib.h>
#include <string.h>

#include "../proxy/proxy.h"

#include "../util/banned.h"

/* What a proxy archive holds, relative to <state_dir>/proxy. */
static const char *const dirs[] = {"data"};
static const char *const files[] = {"acme.json", "acme-ca-root.pem"};
#define NDIRS (sizeof(dirs) / sizeof(dirs[0]))
#define NFILES (sizeof(files) / sizeof(files[0]))

struct sections {
    char *root;
    char *paths[NDIRS + NFILES];
    struct backup_path binds[NDIRS], files[NFILES];
    size_t nbinds, nfiles;
};

/* The sections under <state_dir>/proxy; with existing, only those present on disk. */
static void sections_init(struct sections *s, const char *state_dir, bool existing)
{
    memset(s, 0, sizeof(*s));
    s->root = zp_path_join(state_dir, "proxy");
    for (size_t i = 0; i < NDIRS + NFILES; i++) {
        const char *key = i < NDIRS ? dirs[i] : files[i - NDIRS];
        s->paths[i] = zp_path_join(s->root, key);
        if (existing && !zp_file_exists(s->paths[i]))
            continue;
        if (i < NDIRS)
            s->binds[s->nbinds++] = (struct backup_path){key, s->paths[i]};
        else
            s->files[s->nfiles++] = (struct backup_path){key, s->paths[i]};
    }
}

static void sections_release(struct sections *s)
{
    for (size_t i = 0; i < NDIRS + NFILES; i++)
        free(s->paths[i]);
    free(s->root);
}

int release_proxy_backup(struct engine *e, const char *state_dir, const char *output,
                         backup_progress_fn progress, void *ud,
                         struct backup_manifest *ret_manifest, struct zp_err *err)
{
    struct sections s;
    sections_init(&s, state_dir, true);
    int rc = 0;
    if (s.nbinds == 0)
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL,
                        "%s: no proxy data to back up (has `zpanel proxy up` run with this "
                        "state directory?)",
                        s.root);
    struct backup_spec spec = {
        .project = RELEASE_PROXY_ARCHIVE_PROJECT,
        .binds = s.binds,
        .nbinds = s.nbinds,
        .files = s.files,
        .nfiles = s.nfiles,
    };
    if (rc == 0)
        rc = backup_create(e, &spec, output, progress, ud, ret_manifest, err);
    sections_release(&s);
    return rc;
}

/* Does the container named name run? */
static int runs(struct engine *e, const char *name, bool *ret, struct zp_err *err)
{
    struct engine_container c;
    memset(&c, 0, sizeof(c));
    struct zp_err ierr;
    zp_err_init(&ierr);
    int rc = engine_container_inspect(e, name, &c, &ierr);
    *ret = rc == 0 && c.running;
    engine_container_release(&c);
    if (rc == ZP_E_NOTFOUND)
        return 0;
    if (rc != 0)
        *err = ierr;
    return rc;
}

int release_proxy_restore(struct engine *e, const char *state_dir, const char *path,
                          backup_progress_fn progress, void *ud, struct zp_err *err)
{
    static const char *const names[] = {PROXY_EDGE_NAME, PROXY_ROUTER_NAME};
    for (size_t i = 0; i < 2; i++) {
        bool running = false;
        int rc = runs(e, names[i], &running, err);
        if (rc != 0)
            return rc;
        if (running)
            return zp_err_set(err, ZP_E_CONFLICT, NULL,
                              "the proxy runs (%s): stop it first with `zpanel proxy down`, "
                              "then restore and `zpanel proxy up`",
                              names[i]);
    }
    struct backup_manifest m;
    memset(&m, 0, sizeof(m));
    int rc = backup_verify(path, &m, err);
    if (rc == 0 && (m.project == NULL || strcmp(m.project, RELEASE_PROXY_ARCHIVE_PROJECT) != 0))
        rc = zp_err_set(err, ZP_E_INPUT, NULL,
                        "%s: not a proxy archive (it holds project '%s'; restore it with "
                        "`zpanel restore`)",
                        path, m.project ? m.project : "?");
    struct sections s;
    sections_init(&s, state_dir, false);
    if (rc == 0 && (rc = zp_mkdir_p(s.root, 0700, err)) == 0) {
        struct backup_restore_spec spec = {
            .project = RELEASE_PROXY_ARCHIVE_PROJECT,
            .project_dir = s.root,
            .binds = s.binds,
            .nbinds = s.nbinds,
            .files = s.files,
            .nfiles = s.nfiles,
            .manifest = &m,
        };
        rc = backup_restore(e, path, &spec, progress, ud, err);
    }
    sections_release(&s);
    backup_manifest_release(&m);
    return rc;
}

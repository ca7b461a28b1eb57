/* orchestrator/develop: develop.watch rules followed with inotify; batches of changes are
 * synced into the containers (a tar of just the changed paths, built by context.c's walker
 * with "exclude everything but these" ignore rules), or restart, exec, rebuild. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "context.h"
#include "hooks.h"
#include "orchestrator-int.h"
#include "develop.h"

#include "../util/banned.h"

enum waction { W_SYNC, W_SYNC_RESTART, W_SYNC_EXEC, W_RESTART, W_REBUILD };

struct wrule {
    size_t svc;   /* index into watcher.svcs */
    size_t index; /* position in develop.watch */
    enum waction action;
    char *path; /* absolute, no trailing '/' */
    bool is_dir;
    const char *target;         /* borrowed from the model; NULL for restart/rebuild */
    const struct zp_node *exec; /* sync+exec */
    const struct zp_node *ignores, *includes; /* sequences of patterns, or NULL */
    struct orch_ignore *ignore;               /* the rule's ignore patterns */
    struct orch_ignore *include;              /* NULL: every path */
    bool initial_sync;
    /* pending changes: paths relative to path ("" for a file rule's file) */
    char **changed;
    size_t nchanged;
    bool all; /* too many, or lost events: the whole path */
};

struct wsvc {
    const char *name;
    bool has_build;
    struct orch_context ctx; /* for the build context's .dockerignore */
    bool has_ctx;
};

struct wdir {
    int wd;
    char *path;
};

struct watcher {
    struct orch *o;
    struct engine *e;
    int fd;
    struct wdir *dirs;
    size_t ndirs;
    struct wrule *rules;
    size_t nrules;
    struct wsvc *svcs;
    size_t nsvcs;
};

/* ---- paths ---- */

/* rel of abs under root ("" for root itself), or NULL when abs is not under root. */
static const char *under(const char *root, const char *abs)
{
    size_t n = strlen(root);
    if (strncmp(root, abs, n) != 0)
        return NULL;
    if (abs[n] == '\0')
        return abs + n;
    if (abs[n] == '/')
        return abs + n + 1;
    if (n == 1 && root[0] == '/')
        return abs + 1;
    return NULL;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static char *dir_name(const char *p)
{
    const char *s = strrchr(p, '/');
    if (s == NULL)
        return zp_strdup(".");
    if (s == p)
        return zp_strdup("/");
    return zp_strndup(p, (size_t)(s - p));
}

/* Files editors write beside the real ones, and version control: never synced (compose
 * leaves the same ones out). */
static bool always_ignored(const char *rel)
{
    static const char *const suffixes[] = {"~",    ".swp",         ".swx",         ".swo",
                                           ".tmp", "___jb_tmp___", "___jb_old___", NULL};
    for (const char *p = rel; p != NULL;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 4 && strncmp(p, ".git", 4) == 0)
            return true;
        p = slash ? slash + 1 : NULL;
    }
    const char *b = base_name(rel);
    if (b[0] == '\0')
        return false;
    if (zp_str_has_prefix(b, ".#") || (b[0] == '#' && zp_str_has_suffix(b, "#")) ||
        strcmp(b, "4913") == 0)
        return true;
    for (size_t i = 0; suffixes[i]; i++)
        if (zp_str_has_suffix(b, suffixes[i]))
            return true;
    return false;
}

/* Is abs (under rule r) left alone? */
static bool ignored(const struct watcher *w, const struct wrule *r, const char *abs)
{
    const char *rel = under(r->path, abs);
    if (rel == NULL)
        return true;
    if (!r->is_dir)
        return rel[0] != '\0'; /* a file rule: only the file itself */
    if (rel[0] == '\0')
        return false;
    if (always_ignored(rel) || orch__ignore_excluded(r->ignore, rel))
        return true;
    if (r->include != NULL && !orch__ignore_excluded(r->include, rel))
        return true;
    const struct wsvc *s = &w->svcs[r->svc];
    if (s->has_ctx) {
        const char *crel = under(s->ctx.dir, abs);
        if (crel != NULL && crel[0] != '\0' && orch__ignore_excluded(s->ctx.ignore, crel))
            return true;
    }
    return false;
}

/* ---- inotify ---- */

#define WATCH_MASK                                                                                 \
    (IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |            \
     IN_DELETE_SELF | IN_MODIFY)

static int add_dir(struct watcher *w, const char *path, struct zp_err *err)
{
    int wd = inotify_add_watch(w->fd, path, WATCH_MASK | IN_ONLYDIR);
    if (wd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0; /* gone meanwhile */
        if (errno == ENOSPC)
            return zp_err_set(err, ZP_E_TOOBIG, NULL,
                              "watching '%s': the system's limit of inotify watches is reached "
                              "(fs.inotify.max_user_watches)",
                              path);
        return zp_err_sys(err, "watching '%s'", path);
    }
    for (size_t i = 0; i < w->ndirs; i++)
        if (w->dirs[i].wd == wd)
            return 0;
    if (w->ndirs >= ORCH_DEVELOP_MAX_DIRS)
        return zp_err_set(err, ZP_E_TOOBIG, NULL,
                          "watching '%s': more than %d directories to watch; add ignore rules",
                          path, ORCH_DEVELOP_MAX_DIRS);
    w->dirs = zp_realloc(w->dirs, (w->ndirs + 1) * sizeof(*w->dirs));
    w->dirs[w->ndirs].wd = wd;
    w->dirs[w->ndirs].path = zp_strdup(path);
    w->ndirs++;
    return 0;
}

/* Does some rule care about directory abs (so that it must be watched)? */
static bool dir_wanted(const struct watcher *w, const char *abs)
{
    for (size_t i = 0; i < w->nrules; i++) {
        const struct wrule *r = &w->rules[i];
        const char *rel = r->is_dir ? under(r->path, abs) : NULL;
        if (rel == NULL)
            continue;
        if (rel[0] == '\0')
            return true;
        if (always_ignored(rel))
            continue;
        if (!orch__ignore_excluded(r->ignore, rel) || orch__ignore_may_reinclude(r->ignore, rel))
            return true;
    }
    return false;
}

/* Watch dir and every directory below it (depth-first, bounded by the directory cap). */
static int add_tree(struct watcher *w, const char *dir, int depth, struct zp_err *err)
{
    if (depth > ORCH_WALK_MAX_DEPTH)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "watching '%s': directories nested too deep",
                          dir);
    int rc = add_dir(w, dir, err);
    if (rc < 0)
        return rc;
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT || errno == ENOTDIR ? 0 : zp_err_sys(err, "reading '%s'", dir);
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *sub = zp_path_join(dir, de->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode) && dir_wanted(w, sub))
            rc = add_tree(w, sub, depth + 1, err);
        free(sub);
    }
    closedir(d);
    return rc;
}

static void note_change(struct watcher *w, const char *abs)
{
    for (size_t i = 0; i < w->nrules; i++) {
        struct wrule *r = &w->rules[i];
        if (r->all || ignored(w, r, abs))
            continue;
        const char *rel = under(r->path, abs);
        bool dup = false;
        for (size_t k = 0; k < r->nchanged && !dup; k++)
            dup = strcmp(r->changed[k], rel) == 0;
        if (dup)
            continue;
        if (r->nchanged >= ORCH_DEVELOP_MAX_CHANGES) {
            r->all = true;
            continue;
        }
        r->changed = zp_realloc(r->changed, (r->nchanged + 1) * sizeof(*r->changed));
        r->changed[r->nchanged++] = zp_strdup(rel);
    }
}

static void forget_wd(struct watcher *w, int wd)
{
    for (size_t i = 0; i < w->ndirs; i++) {
        if (w->dirs[i].wd == wd) {
            free(w->dirs[i].path);
            w->dirs[i] = w->dirs[--w->ndirs];
            return;
        }
    }
}

/* Read what inotify has; returns the number of relevant events, or a negative error. */
static int read_events(struct watcher *w, struct zp_err *err)
{
    char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
    int seen = 0;
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return seen;
        if (n < 0)
            return zp_err_sys(err, "reading inotify events");
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                for (size_t i = 0; i < w->nrules; i++)
                    w->rules[i].all = true;
                seen++;
                continue;
            }
            const char *dir = NULL;
            for (size_t i = 0; i < w->ndirs && !dir; i++)
                if (w->dirs[i].wd == ev->wd)
                    dir = w->dirs[i].path;
            if (ev->mask & IN_IGNORED) {
                forget_wd(w, ev->wd);
                continue;
            }
            if (dir == NULL || ev->len == 0 || ev->name[0] == '\0')
                continue;
            char *abs = zp_path_join(dir, ev->name);
            if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
                dir_wanted(w, abs)) {
                int rc = add_tree(w, abs, 0, err);
                if (rc < 0) {
                    free(abs);
                    return rc;
                }
            }
            note_change(w, abs);
            free(abs);
            seen++;
        }
    }
}

/* ---- actions ---- */

static int discard_output(void *ctx, enum engine_stream stream, const char *data, size_t len,
                          struct zp_err *err)
{
    (void)ctx;
    (void)stream;
    (void)data;
    (void)len;
    (void)err;
    return 0;
}

/* Run argv in container id as root and wait; a non-zero exit is ZP_E_ENGINE. */
static int exec_quiet(struct engine *e, const char *id, const char *const *argv, struct zp_err *err)
{
    struct engine_exec_opts xo = {.argv = argv, .user = "0"};
    char *xid = NULL;
    int rc = engine_exec_create_opts(e, id, &xo, &xid, err);
    struct engine_stream_io io = {.stdin_fd = -1, .on_output = discard_output};
    if (rc == 0)
        rc = engine_exec_start(e, xid, &io, err);
    struct engine_exec_state st = {0};
    if (rc == 0 && (rc = engine_exec_inspect(e, xid, &st, err)) == 0 && st.exit_code != 0)
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "'%s' exited with status %lld", argv[0],
                        (long long)st.exit_code);
    free(xid);
    return rc;
}

/* The ignore rules that select what one sync sends, relative to the rule's directory:
 * everything but the changed paths (unless all), then the rule's own ignores again. */
static int sync_rules(const struct wrule *r, char **present, size_t npresent,
                      struct orch_ignore **ret, struct zp_err *err)
{
    struct orch_ignore *ig = orch__ignore_new();
    int rc = 0;
    if (!r->all || r->includes != NULL)
        rc = orch__ignore_add(ig, "**", err);
    for (size_t i = 0; rc == 0 && !r->all && i < npresent; i++) {
        char *esc = orch__ignore_escape(present[i]);
        char *line = zp_asprintf("!%s", esc);
        rc = orch__ignore_add(ig, line, err);
        free(line);
        free(esc);
    }
    for (size_t i = 0; rc == 0 && r->all && r->includes && i < r->includes->n; i++) {
        char *line = zp_asprintf("!%s", r->includes->items[i]->str);
        rc = orch__ignore_add(ig, line, err);
        free(line);
    }
    for (size_t i = 0; rc == 0 && r->ignores && i < r->ignores->n; i++)
        rc = orch__ignore_add(ig, r->ignores->items[i]->str, err);
    static const char *const always[] = {".git",     "**/.git", "**/*~",   "**/*.swp",
                                         "**/*.swx", "**/.#*",  "**/4913", NULL};
    for (size_t i = 0; rc == 0 && always[i]; i++)
        rc = orch__ignore_add(ig, always[i], err);
    if (rc == 0)
        *ret = ig;
    else
        orch__ignore_free(ig);
    return rc;
}

/* PUT the selected files of r into dest of container id (created when missing). */
static int put_files(struct watcher *w, const struct orch_context *c, const char *id,
                     const char *dest, uint64_t *ret_entries, struct zp_err *err)
{
    for (int attempt = 0;; attempt++) {
        struct orch_tar *t = orch__tar_new(c);
        int rc = engine_container_archive_put(w->e, id, dest, orch__tar_read, t, err);
        *ret_entries = orch__tar_entries(t);
        orch__tar_free(t);
        if (rc != ZP_E_NOTFOUND || attempt > 0)
            return rc;
        /* the target directory does not exist yet in the container */
        zp_err_init(err);
        const char *const mk[] = {"mkdir", "-p", dest, NULL};
        if ((rc = exec_quiet(w->e, id, mk, err)) < 0)
            return rc;
    }
}

/* The running containers of service s. */
static int running(struct watcher *w, const char *service, struct orch_container **ret,
                   size_t *ret_n, struct zp_err *err)
{
    const char *const svcs[] = {service};
    return orch_ps(w->o, svcs, 1, false, ret, ret_n, err);
}

static void clear_pending(struct wrule *r);

static int do_sync(struct watcher *w, struct wrule *r, struct orch_container *cs, size_t n,
                   struct zp_err *err)
{
    const char *service = w->svcs[r->svc].name;
    char **present = NULL, **gone = NULL;
    size_t npresent = 0, ngone = 0;
    if (!r->is_dir && r->all) {
        /* a file rule's "everything" is its file: never the rest of its directory */
        clear_pending(r);
        r->changed = zp_calloc(1, sizeof(*r->changed));
        r->changed[r->nchanged++] = zp_strdup("");
    }
    for (size_t i = 0; !r->all && i < r->nchanged; i++) {
        char *abs = r->changed[i][0] ? zp_path_join(r->path, r->changed[i]) : zp_strdup(r->path);
        struct stat st;
        bool exists = lstat(abs, &st) == 0;
        free(abs);
        if (exists) {
            present = zp_realloc(present, (npresent + 1) * sizeof(*present));
            present[npresent++] = r->is_dir ? r->changed[i] : (char *)base_name(r->path);
        } else {
            gone = zp_realloc(gone, (ngone + 1) * sizeof(*gone));
            gone[ngone++] = r->changed[i];
        }
    }
    struct orch_context c = {0};
    struct orch_ignore *ig = NULL;
    char *dest = r->is_dir ? zp_strdup(r->target) : dir_name(r->target);
    int rc = 0;
    if (!r->is_dir && strcmp(base_name(r->path), base_name(r->target)) != 0)
        rc = zp_err_set(err, ZP_E_INPUT, NULL,
                        "develop.watch[%zu]: a file is synced under its own name: target '%s' "
                        "must end with '%s'",
                        r->index, r->target, base_name(r->path));
    if (rc == 0 && (npresent > 0 || r->all) &&
        (rc = sync_rules(r, present, npresent, &ig, err)) == 0) {
        c.dir = r->is_dir ? r->path : dir_name(r->path);
        c.ignore = ig;
    }
    for (size_t k = 0; rc == 0 && k < n; k++) {
        if (c.ignore != NULL) {
            uint64_t entries = 0;
            orch__emit(w->o, ORCH_OBJ_CONTAINER, cs[k].name, service, ORCH_WORKING, "Syncing");
            if ((rc = put_files(w, &c, cs[k].id, dest, &entries, err)) < 0)
                break;
            orch__emit(w->o, ORCH_OBJ_CONTAINER, cs[k].name, service, ORCH_DONE,
                       "Synced %llu path%s to %s", (unsigned long long)entries,
                       entries == 1 ? "" : "s", dest);
        }
        if (ngone > 0) {
            const char **argv = zp_calloc(ngone + 4, sizeof(*argv));
            char **paths = zp_calloc(ngone, sizeof(*paths));
            argv[0] = "rm";
            argv[1] = "-rf";
            argv[2] = "--";
            for (size_t i = 0; i < ngone; i++) {
                paths[i] = gone[i][0] ? zp_path_join(r->target, gone[i]) : zp_strdup(r->target);
                argv[3 + i] = paths[i];
            }
            rc = exec_quiet(w->e, cs[k].id, argv, err);
            if (rc == 0)
                orch__emit(w->o, ORCH_OBJ_CONTAINER, cs[k].name, service, ORCH_DONE,
                           "Removed %zu path%s", ngone, ngone == 1 ? "" : "s");
            for (size_t i = 0; i < ngone; i++)
                free(paths[i]);
            free(paths);
            free(argv);
        }
    }
    if (rc < 0)
        zp_err_prefix(err, "service '%s': develop.watch[%zu]", service, r->index);
    if (!r->is_dir)
        free(c.dir);
    orch__ignore_free(ig);
    free(dest);
    free(present);
    free(gone);
    return rc;
}

static void clear_pending(struct wrule *r)
{
    for (size_t i = 0; i < r->nchanged; i++)
        free(r->changed[i]);
    free(r->changed);
    r->changed = NULL;
    r->nchanged = 0;
    r->all = false;
}

static bool pending(const struct wrule *r)
{
    return r->all || r->nchanged > 0;
}

static void warn(struct watcher *w, const char *service, struct zp_err *err)
{
    if (err->code == ZP_E_CANCELLED)
        return;
    orch__emit(w->o, ORCH_OBJ_PROJECT, w->o->p->name, service, ORCH_WARNING, "%s", err->msg);
    zp_err_init(err);
}

/* Apply every pending change, service by service. Failures are reported, not returned;
 * only cancellation ends the watch. */
static int apply(struct watcher *w, struct zp_err *err)
{
    for (size_t s = 0; s < w->nsvcs; s++) {
        const char *service = w->svcs[s].name;
        bool rebuild = false, restart = false, any = false;
        for (size_t i = 0; i < w->nrules; i++) {
            const struct wrule *r = &w->rules[i];
            if (r->svc == s && pending(r)) {
                any = true;
                rebuild = rebuild || r->action == W_REBUILD;
            }
        }
        if (!any)
            continue;
        if (orch__cancelled(w->o))
            return orch__interrupted(err);
        if (rebuild) {
            orch__emit(w->o, ORCH_OBJ_PROJECT, w->o->p->name, service, ORCH_INFO,
                       "Rebuilding service '%s' after changes", service);
            const char *const svcs[] = {service};
            struct orch_up_opts uo = {.services = svcs,
                                      .nservices = 1,
                                      .no_deps = true,
                                      .build = true,
                                      .recreate = ORCH_RECREATE_FORCE};
            if (orch_up(w->o, &uo, err) < 0)
                warn(w, service, err);
        } else {
            struct orch_container *cs = NULL;
            size_t n = 0;
            if (running(w, service, &cs, &n, err) < 0) {
                warn(w, service, err);
                n = 0;
            }
            for (size_t i = 0; i < w->nrules; i++) {
                struct wrule *r = &w->rules[i];
                if (r->svc != s || !pending(r))
                    continue;
                if (r->action == W_RESTART || r->action == W_SYNC_RESTART)
                    restart = true;
                if (r->action == W_RESTART)
                    continue;
                if (do_sync(w, r, cs, n, err) < 0) {
                    warn(w, service, err);
                    restart = false;
                    continue;
                }
                for (size_t k = 0; r->action == W_SYNC_EXEC && r->exec && k < n; k++)
                    if (orch__run_hook(w->o, w->e, service, "develop.watch.exec", r->index, r->exec,
                                       cs[k].id, cs[k].name, err) < 0)
                        warn(w, service, err);
            }
            orch_containers_free(cs, n);
            if (restart) {
                const char *const svcs[] = {service};
                struct orch_action_opts ao = {.services = svcs, .nservices = 1, .timeout_s = -1};
                if (orch_act(w->o, ORCH_RESTART, &ao, err) < 0)
                    warn(w, service, err);
            }
        }
        for (size_t i = 0; i < w->nrules; i++)
            if (w->rules[i].svc == s)
                clear_pending(&w->rules[i]);
    }
    return orch__cancelled(w->o) ? orch__interrupted(err) : 0;
}

/* ---- setup ---- */

static int parse_patterns(const struct zp_node *seq, const char *what, struct orch_ignore **ret,
                          struct zp_err *err)
{
    struct orch_ignore *ig = orch__ignore_new();
    int rc = 0;
    for (size_t i = 0; rc == 0 && seq && seq->kind == ZP_NODE_SEQ && i < seq->n; i++) {
        const struct zp_node *p = seq->items[i];
        if (p->kind != ZP_NODE_SCALAR || p->type == ZP_NULL)
            rc = zp_err_set(err, ZP_E_INPUT, &p->pos, "%s[%zu]: must be a string", what, i);
        else if ((rc = orch__ignore_add(ig, p->str, err)) < 0)
            zp_err_prefix(err, "%s[%zu]", what, i);
    }
    if (rc == 0)
        *ret = ig;
    else
        orch__ignore_free(ig);
    return rc;
}

static bool selected(const struct orch_develop_opts *opts, const char *service)
{
    if (opts->nservices == 0)
        return true;
    for (size_t i = 0; i < opts->nservices; i++)
        if (strcmp(opts->services[i], service) == 0)
            return true;
    return false;
}

static int add_rule(struct watcher *w, size_t s, size_t index, const struct zp_node *rule,
                    struct zp_err *err)
{
    static const struct {
        const char *name;
        enum waction action;
    } actions[] = {{"sync", W_SYNC},
                   {"sync+restart", W_SYNC_RESTART},
                   {"sync+exec", W_SYNC_EXEC},
                   {"restart", W_RESTART},
                   {"rebuild", W_REBUILD}};
    struct orch *o = w->o;
    const char *service = w->svcs[s].name;
    char *what = zp_asprintf("services.%s.develop.watch[%zu]", service, index);
    const char *action = zp_node_get_str(rule, "action");
    const char *path = zp_node_get_str(rule, "path");
    const struct zp_pos *pos = rule && rule->pos.line > 0 ? &rule->pos : NULL;
    struct wrule r = {.svc = s, .index = index};
    int rc = 0;
    size_t k = 0;
    for (; action && k < sizeof(actions) / sizeof(actions[0]); k++)
        if (strcmp(action, actions[k].name) == 0)
            break;
    if (action == NULL || path == NULL || k == sizeof(actions) / sizeof(actions[0])) {
        rc = zp_err_set(err, ZP_E_INPUT, pos, "%s: needs a path and an action", what);
        goto out;
    }
    r.action = actions[k].action;
    r.target = zp_node_get_str(rule, "target");
    r.exec = zp_node_get(rule, "exec");
    r.ignores = zp_node_get(rule, "ignore");
    r.includes = zp_node_get(rule, "include");
    const struct zp_node *is = zp_node_get(rule, "initial_sync");
    r.initial_sync = is && is->type == ZP_BOOL && strcmp(is->str, "true") == 0;
    bool syncs = r.action == W_SYNC || r.action == W_SYNC_RESTART || r.action == W_SYNC_EXEC;
    if (syncs && (r.target == NULL || r.target[0] != '/')) {
        rc = zp_err_set(err, ZP_E_INPUT, pos, "%s: action '%s' needs an absolute target", what,
                        action);
        goto out;
    }
    if (r.action == W_SYNC_EXEC && (r.exec == NULL || !zp_node_get(r.exec, "command"))) {
        rc = zp_err_set(err, ZP_E_INPUT, pos, "%s: action 'sync+exec' needs exec.command", what);
        goto out;
    }
    if (r.action == W_REBUILD && !w->svcs[s].has_build) {
        rc =
            zp_err_set(err, ZP_E_INPUT, pos,
                       "%s: action 'rebuild' needs a build section in service '%s'", what, service);
        goto out;
    }
    r.path = path[0] == '/' ? zp_strdup(path) : zp_path_join(o->p->workdir, path);
    while (strlen(r.path) > 1 && r.path[strlen(r.path) - 1] == '/')
        r.path[strlen(r.path) - 1] = '\0';
    struct stat st;
    if (stat(r.path, &st) != 0) {
        rc = zp_err_set(err, ZP_E_INPUT, pos, "%s: path '%s' does not exist", what, r.path);
        goto out;
    }
    r.is_dir = S_ISDIR(st.st_mode);
    char *iw = zp_asprintf("%s.ignore", what);
    rc = parse_patterns(r.ignores, iw, &r.ignore, err);
    free(iw);
    if (rc == 0 && r.includes != NULL) {
        char *inw = zp_asprintf("%s.include", what);
        rc = parse_patterns(r.includes, inw, &r.include, err);
        free(inw);
    }
out:
    if (rc == 0) {
        w->rules = zp_realloc(w->rules, (w->nrules + 1) * sizeof(*w->rules));
        w->rules[w->nrules++] = r;
    } else {
        free(r.path);
        orch__ignore_free(r.ignore);
        orch__ignore_free(r.include);
    }
    free(what);
    return rc;
}

static void watcher_release(struct watcher *w)
{
    if (w->fd >= 0)
        close(w->fd);
    for (size_t i = 0; i < w->ndirs; i++)
        free(w->dirs[i].path);
    free(w->dirs);
    for (size_t i = 0; i < w->nrules; i++) {
        clear_pending(&w->rules[i]);
        free(w->rules[i].path);
        orch__ignore_free(w->rules[i].ignore);
        orch__ignore_free(w->rules[i].include);
    }
    free(w->rules);
    for (size_t i = 0; i < w->nsvcs; i++)
        if (w->svcs[i].has_ctx)
            orch__context_release(&w->svcs[i].ctx);
    free(w->svcs);
}

static int setup(struct watcher *w, const struct orch_develop_opts *opts, struct zp_err *err)
{
    const struct zp_node *svcs = zp_node_get(w->o->p->model, "services");
    int rc = 0;
    for (size_t i = 0; svcs && i < svcs->n && rc == 0; i++) {
        const char *name = svcs->pairs[i].key->str;
        const struct zp_node *svc = svcs->pairs[i].value;
        const struct zp_node *rules = zp_node_get(zp_node_get(svc, "develop"), "watch");
        if (!selected(opts, name) || rules == NULL || rules->kind != ZP_NODE_SEQ || rules->n == 0)
            continue;
        w->svcs = zp_realloc(w->svcs, (w->nsvcs + 1) * sizeof(*w->svcs));
        struct wsvc *s = &w->svcs[w->nsvcs++];
        memset(s, 0, sizeof(*s));
        s->name = name;
        const struct zp_node *build = zp_node_get(svc, "build");
        s->has_build = build != NULL;
        struct zp_err ignored;
        zp_err_init(&ignored);
        if (build != NULL && orch__context_open(build, &s->ctx, &ignored) == 0)
            s->has_ctx = true;
        for (size_t k = 0; k < rules->n && rc == 0; k++)
            rc = add_rule(w, w->nsvcs - 1, k, rules->items[k], err);
    }
    if (rc == 0 && w->nrules == 0)
        rc = zp_err_set(err, ZP_E_INPUT, NULL,
                        "none of the selected services is configured for watch, consider "
                        "setting a 'develop' section");
    if (rc < 0)
        return rc;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0)
        return zp_err_sys(err, "inotify_init1");
    for (size_t i = 0; i < w->nrules && rc == 0; i++) {
        const struct wrule *r = &w->rules[i];
        if (r->is_dir) {
            rc = add_tree(w, r->path, 0, err);
        } else {
            char *parent = dir_name(r->path);
            rc = add_dir(w, parent, err);
            free(parent);
        }
    }
    return rc;
}

int orch_develop_watch(struct orch *o, const struct orch_develop_opts *opts, struct zp_err *err)
{
    struct watcher w = {.o = o, .e = orch_engine(o), .fd = -1};
    int64_t debounce = opts->debounce_ms > 0 ? opts->debounce_ms : ORCH_DEVELOP_DEBOUNCE_MS;
    int rc = setup(&w, opts, err);
    if (rc == 0 && !opts->no_up) {
        const char **svcs = zp_calloc(w.nsvcs + 1, sizeof(*svcs));
        for (size_t i = 0; i < w.nsvcs; i++)
            svcs[i] = w.svcs[i].name;
        struct orch_up_opts uo = {.services = svcs, .nservices = w.nsvcs};
        rc = orch_up(o, &uo, err);
        free(svcs);
    }
    for (size_t i = 0; rc == 0 && i < w.nrules; i++)
        w.rules[i].all = w.rules[i].initial_sync && w.rules[i].action != W_REBUILD &&
                         w.rules[i].action != W_RESTART;
    if (rc == 0)
        rc = apply(&w, err);
    if (rc == 0)
        orch__emit(o, ORCH_OBJ_PROJECT, o->p->name, NULL, ORCH_INFO,
                   "Watching %zu path%s of %zu service%s for changes", w.nrules,
                   w.nrules == 1 ? "" : "s", w.nsvcs, w.nsvcs == 1 ? "" : "s");
    int64_t first = 0, last = 0; /* of the pending batch, monotonic ms; 0: none */
    while (rc == 0) {
        if (orch__cancelled(o)) {
            rc = orch__interrupted(err);
            break;
        }
        int64_t now = zp_mono_ms();
        int timeout = 200; /* also how soon a cancellation is seen */
        if (first > 0) {
            int64_t due = last + debounce;
            if (due > first + ORCH_DEVELOP_MAX_BATCH_MS)
                due = first + ORCH_DEVELOP_MAX_BATCH_MS;
            if (now >= due) {
                first = last = 0;
                rc = apply(&w, err);
                continue;
            }
            if (due - now < timeout)
                timeout = (int)(due - now);
        }
        struct pollfd pfd = {.fd = w.fd, .events = POLLIN};
        int n = poll(&pfd, 1, timeout);
        if (n < 0 && errno != EINTR) {
            rc = zp_err_sys(err, "waiting for file changes");
            break;
        }
        if (n > 0) {
            int seen = read_events(&w, err);
            if (seen < 0) {
                rc = seen;
                break;
            }
            bool any = false;
            for (size_t i = 0; i < w.nrules && !any; i++)
                any = pending(&w.rules[i]);
            if (seen > 0 && any) {
                last = zp_mono_ms();
                if (first == 0)
                    first = last;
            }
        }
    }
    watcher_release(&w);
    return rc;
}

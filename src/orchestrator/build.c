/* orchestrator/build: the build-input digest of a service and its image build through the
 * engine's streamed /build call, with the step output forwarded as progress. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "build.h"
#include "context.h"
#include "mapping.h"

#include "../util/banned.h"

#define TAIL_LINES 6      /* output lines of the failed step kept for the message */
#define TAIL_LINE_MAX 200 /* ... each cut to this many bytes */
#define PROGRESS_LINE_MAX 65536

/* ---- the build section ---- */

/* Fields of the build section the engine's builder (classic, API 1.41) cannot honour. */
static int check_supported(const struct zp_node *build, struct zp_err *err)
{
    static const char *const lists[] = {"secrets", "ssh",      "additional_contexts",
                                        "ulimits", "cache_to", NULL};
    for (size_t i = 0; lists[i]; i++) {
        const struct zp_node *v = zp_node_get(build, lists[i]);
        if (v && !zp_node_is_null(v) && (!(zp_node_is_map(v) || zp_node_is_seq(v)) || v->n > 0))
            return zp_err_set(err, ZP_E_INPUT, &v->pos, "build.%s is not supported yet", lists[i]);
    }
    const struct zp_node *v = zp_node_get(build, "privileged");
    if (v && v->type == ZP_BOOL && strcmp(v->str, "true") == 0)
        return zp_err_set(err, ZP_E_INPUT, &v->pos, "build.privileged is not supported yet");
    const char *iso = zp_node_get_str(build, "isolation");
    if (iso && *iso && strcmp(iso, "default") != 0)
        return zp_err_set(err, ZP_E_INPUT, &zp_node_get(build, "isolation")->pos,
                          "build.isolation '%s' is not supported yet", iso);
    return 0;
}

/* The one platform to build for: build.platforms (one entry at most), else the
 * service's platform, else none (borrowed). */
static int pick_platform(const struct zp_node *svc, const struct zp_node *build, const char **ret,
                         struct zp_err *err)
{
    const struct zp_node *pl = zp_node_get(build, "platforms");
    if (zp_node_is_seq(pl) && pl->n > 1)
        return zp_err_set(err, ZP_E_INPUT, &pl->pos,
                          "build.platforms: building for %zu platforms is not supported yet "
                          "(keep one)",
                          pl->n);
    if (zp_node_is_seq(pl) && pl->n == 1 && zp_node_is_scalar(pl->items[0])) {
        *ret = pl->items[0]->str;
        return 0;
    }
    *ret = zp_node_get_str(svc, "platform");
    return 0;
}

static const char *env_lookup(const struct compose_env *env, const char *key)
{
    return env ? compose_env_get(env, key) : getenv(key);
}

/* Resolved build arguments, sorted by name; value NULL passes the name alone. */
struct args {
    struct engine_kv *kv;
    char **owned; /* 2 * n strings */
    size_t n, cap;
};

static void args_release(struct args *a)
{
    for (size_t i = 0; i < 2 * a->n; i++)
        free(a->owned[i]);
    free(a->owned);
    free(a->kv);
}

static void args_set(struct args *a, const char *key, size_t klen, const char *val)
{
    for (size_t i = 0; i < a->n; i++) {
        if (strlen(a->owned[2 * i]) == klen && memcmp(a->owned[2 * i], key, klen) == 0) {
            free(a->owned[2 * i + 1]);
            a->owned[2 * i + 1] = val ? zp_strdup(val) : NULL;
            return;
        }
    }
    size_t cap = a->cap;
    zp_grow((void **)&a->owned, &cap, 2 * (a->n + 1), sizeof(*a->owned));
    a->cap = cap;
    a->owned[2 * a->n] = zp_strndup(key, klen);
    a->owned[2 * a->n + 1] = val ? zp_strdup(val) : NULL;
    a->n++;
}

static int cmp_kv(const void *x, const void *y)
{
    return strcmp(((const struct engine_kv *)x)->key, ((const struct engine_kv *)y)->key);
}

/* build.args from the model (a name without a value takes it from env), then the
 * --build-arg overrides ("K=V", or "K" from env; ignored when K is unset there). */
static int args_resolve(const struct zp_node *build, const struct orch_build_opts *opts,
                        const struct compose_env *env, struct args *ret, struct zp_err *err)
{
    struct args a = {0};
    const struct zp_node *m = zp_node_get(build, "args");
    for (size_t i = 0; zp_node_is_map(m) && i < m->n; i++) {
        const char *k = m->pairs[i].key->str;
        const struct zp_node *v = m->pairs[i].value;
        args_set(&a, k, strlen(k), zp_node_is_null(v) ? env_lookup(env, k) : v->str);
    }
    for (size_t i = 0; opts && i < opts->nbuild_args; i++) {
        const char *s = opts->build_args[i];
        const char *eq = strchr(s, '=');
        size_t klen = eq ? (size_t)(eq - s) : strlen(s);
        if (klen == 0) {
            args_release(&a);
            return zp_err_set(err, ZP_E_INPUT, NULL, "--build-arg '%s': missing the name", s);
        }
        if (eq) {
            args_set(&a, s, klen, eq + 1);
        } else {
            const char *v = env_lookup(env, s);
            if (v)
                args_set(&a, s, klen, v);
        }
    }
    a.kv = zp_calloc(a.n ? a.n : 1, sizeof(*a.kv));
    for (size_t i = 0; i < a.n; i++) {
        a.kv[i].key = a.owned[2 * i];
        a.kv[i].value = a.owned[2 * i + 1];
    }
    qsort(a.kv, a.n, sizeof(*a.kv), cmp_kv);
    *ret = a;
    return 0;
}

/* ---- the digest ---- */

/* Add one length-prefixed field, so that no two different inputs hash alike. */
static void h_field(struct zp_sha256 *h, const char *tag, const void *data, size_t len)
{
    char pre[64];
    int n = snprintf(pre, sizeof(pre), "%s %zu:", tag, len);
    zp_sha256_update(h, pre, (size_t)n);
    if (len)
        zp_sha256_update(h, data, len);
    zp_sha256_update(h, "\n", 1);
}

static void h_str(struct zp_sha256 *h, const char *tag, const char *s)
{
    h_field(h, tag, s ? s : "", s ? strlen(s) : 0);
}

/* SHA-256 of a file's contents, streamed. */
static int hash_file(const char *path, char out[65], struct zp_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return zp_err_sys(err, "build context: cannot read '%s'", path);
    struct zp_sha256 h;
    zp_sha256_init(&h);
    unsigned char *buf = zp_malloc(65536);
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = zp_err_sys(err, "build context: cannot read '%s'", path);
            break;
        }
        if (n == 0)
            break;
        zp_sha256_update(&h, buf, (size_t)n);
    }
    close(fd);
    free(buf);
    unsigned char d[32];
    zp_sha256_final(&h, d);
    zp_hex32(d, out);
    return rc;
}

/* The build section's fields that shape the image, as canonical JSON: the context's
 * location, tags and cache switches are left out, and args and the Dockerfile are
 * hashed separately (resolved). */
static char *fields_json(const struct zp_node *build)
{
    static const char *const drop[] = {"context", "tags",       "no_cache",          "pull",
                                       "args",    "dockerfile", "dockerfile_inline", NULL};
    struct zp_node *copy = zp_node_copy(build);
    for (size_t i = 0; drop[i]; i++)
        zp_node_del(copy, drop[i]);
    struct zp_buf b = ZP_BUF_INIT;
    compose_emit_json(copy, false, &b);
    zp_node_free(copy);
    return zp_buf_detach(&b, NULL);
}

static int digest_walk(struct zp_sha256 *h, const struct orch_context *c, struct zp_err *err)
{
    struct orch_walk *w = orch__walk_new(c);
    const struct orch_walk_entry *e;
    int rc;
    while ((rc = orch__walk_next(w, &e, err)) == 0 && e) {
        char meta[96];
        char sum[65] = "";
        const char *kind = S_ISDIR(e->st.st_mode)   ? "dir"
                           : S_ISLNK(e->st.st_mode) ? "link"
                                                    : "file";
        if (S_ISREG(e->st.st_mode)) {
            if ((rc = hash_file(e->path, sum, err)))
                break;
        } else if (S_ISLNK(e->st.st_mode)) {
            char target[4097];
            ssize_t n = readlink(e->path, target, sizeof(target) - 1);
            if (n < 0) {
                rc = zp_err_sys(err, "build context: cannot read '%s'", e->path);
                break;
            }
            zp_sha256_hex(target, (size_t)n, sum);
        }
        snprintf(meta, sizeof(meta), "%s %o %lld %s", kind, (unsigned)(e->st.st_mode & 07777),
                 S_ISREG(e->st.st_mode) ? (long long)e->st.st_size : 0LL, sum);
        h_str(h, "path", e->rel);
        h_str(h, "meta", meta);
    }
    orch__walk_free(w);
    return rc;
}

static int build_digest(const struct zp_node *svc, const struct orch_build_opts *opts,
                        const struct compose_env *env, const struct orch_context *c, char out[65],
                        struct zp_err *err)
{
    const struct zp_node *build = zp_node_get(svc, "build");
    const char *platform = NULL;
    struct args a = {0};
    int rc = pick_platform(svc, build, &platform, err);
    if (rc == 0)
        rc = args_resolve(build, opts, env, &a, err);
    if (rc)
        return rc;
    struct zp_sha256 h;
    zp_sha256_init(&h);
    h_str(&h, "zpanel-build", "1");
    char *fields = fields_json(build);
    h_str(&h, "fields", fields);
    free(fields);
    h_str(&h, "platform", platform);
    for (size_t i = 0; i < a.n; i++) {
        h_str(&h, "arg", a.kv[i].key);
        h_str(&h, a.kv[i].value ? "value" : "unset", a.kv[i].value);
    }
    args_release(&a);
    char sum[65];
    h_str(&h, "dockerfile", c->dockerfile);
    if (c->generated)
        zp_sha256_hex(c->generated, c->generated_len, sum);
    else
        rc = hash_file(c->dockerfile_path, sum, err);
    if (rc == 0) {
        h_str(&h, "dockerfile-sha256", sum);
        rc = digest_walk(&h, c, err);
    }
    unsigned char d[32];
    zp_sha256_final(&h, d); /* also on error: it releases the state */
    if (rc == 0)
        zp_hex32(d, out);
    return rc;
}

/* Check the build section and open its context. */
static int open_build(const struct zp_node *svc, struct orch_context *ret, struct zp_err *err)
{
    const struct zp_node *build = zp_node_get(svc, "build");
    if (!zp_node_is_map(build))
        return zp_err_set(err, ZP_E_INPUT, NULL, "no build section");
    int rc = check_supported(build, err);
    if (rc == 0)
        rc = orch__context_open(build, ret, err);
    return rc;
}

int orch_build_digest(const struct compose_project *p, const struct zp_node *svc,
                      const struct orch_build_opts *opts, char out[65], struct zp_err *err)
{
    struct orch_context c = {0};
    int rc = open_build(svc, &c, err);
    if (rc == 0)
        rc = build_digest(svc, opts, p ? &p->env : NULL, &c, out, err);
    orch__context_release(&c);
    return rc;
}

/* ---- progress of a build ---- */

struct progress {
    const char *service;
    const char *image;
    orch_progress_fn fn;
    void *ud;
    struct zp_buf line;     /* the partial current line */
    char step[32];          /* "2/3" of the last "Step N/M :" line */
    char *tail[TAIL_LINES]; /* the step's last output lines, a ring */
    size_t ntail;
    char *error; /* the first error message of the stream */
};

static void emit(struct progress *ps, enum orch_state state, const char *text)
{
    if (!ps->fn)
        return;
    struct orch_event ev = {.obj = ORCH_OBJ_IMAGE,
                            .name = ps->image,
                            .service = ps->service,
                            .state = state,
                            .text = text,
                            .time_ns = zp_mono_ns()};
    ps->fn(ps->ud, &ev);
}

static void tail_clear(struct progress *ps)
{
    for (size_t i = 0; i < TAIL_LINES; i++) {
        free(ps->tail[i]);
        ps->tail[i] = NULL;
    }
    ps->ntail = 0;
}

/* "Step 12/15 : RUN make" -> "12/15"; false for other lines. */
static bool parse_step(const char *line, char *out, size_t cap)
{
    if (!zp_str_has_prefix(line, "Step "))
        return false;
    const char *s = line + 5;
    size_t n = strspn(s, "0123456789");
    if (n == 0 || s[n] != '/')
        return false;
    size_t m = strspn(s + n + 1, "0123456789");
    if (m == 0 || n + 1 + m >= cap)
        return false;
    memcpy(out, s, n + 1 + m);
    out[n + 1 + m] = '\0';
    return true;
}

static void progress_line(struct progress *ps, const char *line)
{
    if (*line == '\0')
        return;
    emit(ps, ORCH_INFO, line);
    if (parse_step(line, ps->step, sizeof(ps->step))) {
        tail_clear(ps);
        return;
    }
    /* the builder's own bookkeeping says nothing about why a step failed */
    if (zp_str_has_prefix(line, " ---> ") || zp_str_has_prefix(line, "Removing intermediate"))
        return;
    size_t slot = ps->ntail % TAIL_LINES;
    free(ps->tail[slot]);
    size_t len = strlen(line);
    ps->tail[slot] = zp_strndup(line, len < TAIL_LINE_MAX ? len : TAIL_LINE_MAX);
    ps->ntail++;
}

/* Emit every complete line held in ps->line (all of it when flush). */
static void progress_lines(struct progress *ps, bool flush)
{
    char *p = ps->line.p;
    size_t len = ps->line.len, start = 0;
    for (size_t i = 0; p && i < len; i++) {
        if (p[i] != '\n')
            continue;
        p[i] = '\0';
        if (i > start && p[i - 1] == '\r')
            p[i - 1] = '\0';
        progress_line(ps, p + start);
        start = i + 1;
    }
    if (flush && start < len) {
        progress_line(ps, p + start);
        start = len;
    }
    if (start > 0) {
        memmove(ps->line.p, ps->line.p + start, len - start);
        ps->line.len = len - start;
        ps->line.p[ps->line.len] = '\0';
    }
}

static int on_progress(void *ctx, const struct engine_progress *p, struct zp_err *err)
{
    struct progress *ps = ctx;
    (void)err;
    if (p->stream) {
        if (ps->line.len + strlen(p->stream) > PROGRESS_LINE_MAX)
            progress_lines(ps, true);
        zp_buf_adds(&ps->line, p->stream);
        progress_lines(ps, false);
    }
    if (p->error) {
        progress_lines(ps, true);
        if (!ps->error)
            ps->error = zp_strdup(p->error);
    }
    return 0;
}

/* The failed step's message with its last output lines. */
static char *step_failure(struct progress *ps)
{
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_addf(&b, "step %s failed: %s", ps->step, ps->error);
    size_t n = ps->ntail < TAIL_LINES ? ps->ntail : TAIL_LINES;
    for (size_t i = ps->ntail - n; i < ps->ntail; i++)
        zp_buf_addf(&b, "\n    %s", ps->tail[i % TAIL_LINES]);
    return zp_buf_detach(&b, NULL);
}

/* ---- building ---- */

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* A sequence of strings as a NULL-terminated array: borrowed strings, owned array. */
static const char **strv_borrow(const struct zp_node *seq)
{
    if (!zp_node_is_seq(seq) || seq->n == 0)
        return NULL;
    const char **v = zp_calloc(seq->n + 1, sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; i < seq->n; i++)
        if (zp_node_is_scalar(seq->items[i]))
            v[k++] = seq->items[i]->str;
    return v;
}

/* extra_hosts "host=ip" (the model's form) as the engine's "host:ip". */
static char **extra_hosts(const struct zp_node *seq)
{
    if (!zp_node_is_seq(seq) || seq->n == 0)
        return NULL;
    char **v = zp_calloc(seq->n + 1, sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; i < seq->n; i++) {
        if (!zp_node_is_scalar(seq->items[i]))
            continue;
        char *s = zp_strdup(seq->items[i]->str);
        char *eq = strchr(s, '=');
        if (eq)
            *eq = ':';
        v[k++] = s;
    }
    return v;
}

static bool node_true(const struct zp_node *n)
{
    return n && n->type == ZP_BOOL && strcmp(n->str, "true") == 0;
}

static void take_err(struct zp_err *dst, const struct zp_err *src)
{
    if (!dst->code)
        *dst = *src;
}

/* May s go between the double quotes of a LABEL line as it is, whatever the Dockerfile's
 * escape character? (No quote, escape, variable or control character.) */
static bool label_plain(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || *s == '`' || *s == '$' || (unsigned char)*s < 0x20 ||
            *s == 0x7f)
            return false;
    return true;
}

/* The engine's legacy builder turns each build label into a LABEL step of its own, a
 * container created and committed per label (the engine's slowest step kind for what
 * it does). One LABEL line appended to the Dockerfile sent is one step with the same
 * image: the labels still come last, above what the Dockerfile made (cleanup relies on
 * that). Done only where it is exact: no build target (the line would land in the last
 * stage), plain keys and values, a Dockerfile that does not end in a line continuation.
 * True when c now carries the labels (sent under a generated name, as dockerfile_inline
 * is); false: pass them as the build's labels. */
static bool labels_into_dockerfile(struct orch_context *c, const char *target,
                                   const struct engine_kv *labels, size_t n)
{
    if (target || n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!*labels[i].key || !label_plain(labels[i].key) || !label_plain(labels[i].value))
            return false;
    char *text = c->generated;
    size_t len = c->generated_len;
    struct zp_err rerr;
    zp_err_init(&rerr);
    if (!text && zp_file_read(c->dockerfile_path, ORCH_DOCKERFILE_MAX, &text, &len, &rerr) != 0)
        return false;
    size_t end = len;
    while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r' || text[end - 1] == ' ' ||
                       text[end - 1] == '\t'))
        end--;
    if (end == 0 || text[end - 1] == '\\' || text[end - 1] == '`' || memchr(text, '\0', len)) {
        if (text != c->generated)
            free(text);
        return false;
    }
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_add(&b, text, len);
    zp_buf_adds(&b, "\nLABEL");
    for (size_t i = 0; i < n; i++)
        zp_buf_addf(&b, " \"%s\"=\"%s\"", labels[i].key, labels[i].value);
    zp_buf_addc(&b, '\n');
    if (text != c->generated)
        free(text);
    free(c->generated);
    size_t glen = 0;
    c->generated = zp_buf_detach(&b, &glen);
    c->generated_len = glen;
    if (!c->ignore_text) {
        /* the Dockerfile was the context's own: now it is sent under a generated name,
         * which the engine's .dockerignore (the context's, kept) drops from COPY . */
        char *root = zp_path_join(c->dir, ".dockerignore");
        char *rt = NULL;
        zp_err_init(&rerr);
        if (zp_file_exists(root) && zp_file_read(root, ORCH_IGNORE_MAX_FILE, &rt, NULL, &rerr) != 0)
            rt = NULL;
        free(c->dockerfile);
        char hex[65];
        zp_sha256_hex(c->generated, c->generated_len, hex);
        hex[16] = '\0';
        c->dockerfile = zp_asprintf("%s%s", ORCH_GENERATED_DOCKERFILE, hex);
        c->ignore_text = zp_asprintf("%s\n%s\n", rt ? rt : ".dockerignore", c->dockerfile);
        free(rt);
        free(root);
    }
    return true;
}

int orch_build_service(struct engine *e, const struct compose_project *p, const char *service,
                       const struct zp_node *svc, const char *image, const char *digest,
                       const struct orch_build_opts *opts, orch_progress_fn progress, void *ud,
                       char **ret_image_id, struct zp_err *err)
{
    struct orch_context c = {0};
    struct args a = {0};
    struct engine_kv *labels = NULL;
    const char **tags = NULL, **cache_from = NULL;
    char **hosts = NULL;
    struct orch_tar *tar = NULL;
    char *id = NULL;
    struct progress ps = {.service = service, .image = image, .fn = progress, .ud = ud};
    zp_buf_init(&ps.line, 2 * PROGRESS_LINE_MAX);
    struct zp_err lerr;
    zp_err_init(&lerr);
    const struct zp_node *build = zp_node_get(svc, "build");
    char own_digest[65];
    const char *platform = NULL;
    int64_t shm = 0;

    int rc = open_build(svc, &c, &lerr);
    if (rc == 0)
        rc = pick_platform(svc, build, &platform, &lerr);
    if (rc == 0 && !digest) {
        /* computed exactly as orch_build_digest does, so that `build` and `up` agree on
         * the label */
        rc = build_digest(svc, opts, p ? &p->env : NULL, &c, own_digest, &lerr);
        digest = own_digest;
    }
    if (rc == 0)
        rc = args_resolve(build, opts, p ? &p->env : NULL, &a, &lerr);
    const char *shm_s = zp_node_get_str(build, "shm_size");
    if (rc == 0 && shm_s && zp_parse_int64(shm_s, 0, INT64_MAX, &shm) != 0)
        rc = zp_err_set(&lerr, ZP_E_INPUT, NULL, "build.shm_size: invalid size '%s'", shm_s);
    if (rc) {
        take_err(err, &lerr);
        zp_err_prefix(err, "service '%s'", service);
        goto out;
    }

    const struct zp_node *lm = zp_node_get(build, "labels");
    size_t nl = zp_node_is_map(lm) ? lm->n : 0;
    labels = zp_calloc(nl + 3, sizeof(*labels));
    size_t k = 0;
    for (size_t i = 0; i < nl; i++)
        if (zp_node_is_scalar(lm->pairs[i].value))
            labels[k++] = (struct engine_kv){lm->pairs[i].key->str, lm->pairs[i].value->str};
    labels[k++] = (struct engine_kv){ORCH_LABEL_BUILD_DIGEST, digest};
    if (p && p->name)
        labels[k++] = (struct engine_kv){ORCH_LABEL_PROJECT, p->name};
    labels[k++] = (struct engine_kv){ORCH_LABEL_SERVICE, service};
    tags = strv_borrow(zp_node_get(build, "tags"));
    cache_from = strv_borrow(zp_node_get(build, "cache_from"));
    hosts = extra_hosts(zp_node_get(build, "extra_hosts"));

    struct engine_build_opts bo = {
        .tag = image,
        .tags = tags,
        .dockerfile = c.dockerfile,
        .target = zp_node_get_str(build, "target"),
        .labels = labels,
        .n_labels = k,
        .build_args = a.kv,
        .n_build_args = a.n,
        .no_cache = (opts && opts->no_cache) || node_true(zp_node_get(build, "no_cache")),
        .pull = (opts && opts->pull) || node_true(zp_node_get(build, "pull")),
        .network_mode = zp_node_get_str(build, "network"),
        .extra_hosts = (const char *const *)hosts,
        .shm_size = shm,
        .cache_from = cache_from,
        .platform = platform,
    };
    if (labels_into_dockerfile(&c, bo.target, labels, k))
        bo.dockerfile = c.dockerfile, bo.labels = NULL, bo.n_labels = 0;
    tar = orch__tar_new(&c);
    rc = engine_image_build_stream(e, &bo, orch__tar_read, tar, on_progress, &ps, &id, &lerr);
    progress_lines(&ps, true);
    if (rc == 0) {
        /* the ID the tag names now, as every later `up` reads it (the config hash
         * includes it) */
        bool exists = false;
        char *tagged = NULL;
        rc = engine_image_inspect(e, image, &exists, &tagged, err);
        if (rc == 0 && !exists)
            rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                            "service '%s': image '%s' is missing right after its build", service,
                            image);
        if (rc == 0) {
            *ret_image_id = tagged;
            tagged = NULL;
        }
        free(tagged);
    } else if (rc != ENGINE_E_CANCELLED && ps.error && ps.step[0]) {
        char *why = step_failure(&ps);
        zp_err_set(err, ZP_E_ENGINE, NULL, "service '%s': building image '%s': %s", service, image,
                   why);
        free(why);
    } else {
        take_err(err, &lerr);
        if (rc != ENGINE_E_CANCELLED)
            zp_err_prefix(err, "service '%s'", service);
    }
out:
    orch__tar_free(tar);
    orch__context_release(&c);
    args_release(&a);
    free(labels);
    free(tags);
    free(cache_from);
    free_strv(hosts);
    free(id);
    tail_clear(&ps);
    free(ps.error);
    zp_buf_release(&ps.line);
    return rc;
}

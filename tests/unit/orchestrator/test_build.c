/* Unit tests of build contexts: resolution (Dockerfile inside/outside, inline, ignore file
 * precedence, remote and missing contexts), the tar stream (parsed back here: names,
 * types, modes, owners, contents), and the build-input digest's stability. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orchestrator/build.h"
#include "orchestrator/context.h"

/* ---- a scratch directory per test ---- */

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/zp-test-build-XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    g_dir = zp_strdup(tmpl);
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_rf(const char *path)
{
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "cannot remove %s\n", path);
}

static int teardown(void **state)
{
    (void)state;
    rm_rf(g_dir);
    free(g_dir);
    g_dir = NULL;
    return 0;
}

/* Write rel (below g_dir, parents created) with text and mode. */
static void put(const char *rel, const char *text, mode_t mode)
{
    char *path = zp_asprintf("%s/%s", g_dir, rel);
    for (char *s = strchr(path + strlen(g_dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            fail_msg("mkdir %s: %s", path, strerror(errno));
        *s = '/';
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
    free(path);
}

static void mkdir_rel(const char *rel)
{
    char *path = zp_asprintf("%s/%s", g_dir, rel);
    assert_int_equal(mkdir(path, 0750), 0);
    free(path);
}

/* A service {build: {context: g_dir (or ctx), dockerfile?: df}}. */
static struct zp_node *service(const char *ctx, const char *df)
{
    struct zp_node *svc = zp_node_new_map(NULL);
    struct zp_node *b = zp_node_new_map(NULL);
    zp_node_set(b, "context", zp_node_new_str(ctx ? ctx : g_dir, NULL));
    if (df)
        zp_node_set(b, "dockerfile", zp_node_new_str(df, NULL));
    zp_node_set(svc, "build", b);
    return svc;
}

static struct zp_node *build_of(struct zp_node *svc)
{
    return zp_node_get(svc, "build");
}

static void digest_ok(const struct zp_node *svc, const struct orch_build_opts *opts, char out[65])
{
    struct zp_err err;
    zp_err_init(&err);
    if (orch_build_digest(NULL, svc, opts, out, &err) != 0)
        fail_msg("digest: %s", err.msg);
    assert_int_equal(strlen(out), 64);
}

/* ---- a small tar reader ---- */

struct tar_entry {
    char *name;
    char type; /* '0' file, '5' dir, '2' symlink */
    unsigned mode;
    unsigned long long uid, gid, size, mtime;
    char *link;
    char *data;
};

struct tar_list {
    struct tar_entry *items;
    size_t n;
};

static unsigned long long octal(const char *p, size_t n)
{
    unsigned long long v = 0;
    for (size_t i = 0; i < n && p[i]; i++)
        if (p[i] >= '0' && p[i] <= '7')
            v = v * 8 + (unsigned long long)(p[i] - '0');
    return v;
}

static char *pax_get(const char *recs, size_t len, const char *key)
{
    size_t i = 0, klen = strlen(key);
    while (i < len) {
        size_t reclen = strtoul(recs + i, NULL, 10);
        if (reclen == 0)
            break;
        const char *sp = memchr(recs + i, ' ', reclen);
        if (sp && (size_t)(recs + i + reclen - sp) > klen + 2 && memcmp(sp + 1, key, klen) == 0 &&
            sp[1 + klen] == '=')
            return zp_strndup(sp + 2 + klen, (size_t)(recs + i + reclen - 1 - (sp + 2 + klen)));
        i += reclen;
    }
    return NULL;
}

static void tar_parse(const char *t, size_t len, struct tar_list *out)
{
    memset(out, 0, sizeof(*out));
    size_t off = 0;
    char *pax_path = NULL, *pax_link = NULL;
    size_t cap = 0;
    while (off + 512 <= len) {
        const char *h = t + off;
        bool zero = true;
        for (size_t i = 0; i < 512 && zero; i++)
            zero = h[i] == 0;
        if (zero)
            break;
        unsigned long long size = octal(h + 124, 12);
        char type = h[156] ? h[156] : '0';
        const char *data = h + 512;
        off += 512 + ((size + 511) / 512) * 512;
        assert_true(off <= len);
        if (type == 'x') {
            free(pax_path);
            free(pax_link);
            pax_path = pax_get(data, size, "path");
            pax_link = pax_get(data, size, "linkpath");
            continue;
        }
        if (type == 'g')
            continue;
        zp_grow((void **)&out->items, &cap, out->n + 1, sizeof(*out->items));
        struct tar_entry *e = &out->items[out->n++];
        memset(e, 0, sizeof(*e));
        if (pax_path) {
            e->name = pax_path;
            pax_path = NULL;
        } else if (h[345]) {
            e->name = zp_asprintf("%.155s/%.100s", h + 345, h);
        } else {
            e->name = zp_strndup(h, 100);
        }
        size_t nl = strlen(e->name);
        if (nl > 1 && e->name[nl - 1] == '/')
            e->name[nl - 1] = '\0';
        e->type = type;
        e->mode = (unsigned)octal(h + 100, 8);
        e->uid = octal(h + 108, 8);
        e->gid = octal(h + 116, 8);
        e->size = size;
        e->mtime = octal(h + 136, 12);
        e->link = pax_link ? pax_link : zp_strndup(h + 157, 100);
        pax_link = NULL;
        e->data = zp_strndup(data, (size_t)size);
    }
    free(pax_path);
    free(pax_link);
}

static void tar_list_release(struct tar_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].name);
        free(l->items[i].link);
        free(l->items[i].data);
    }
    free(l->items);
}

static const struct tar_entry *tar_find(const struct tar_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, name) == 0)
            return &l->items[i];
    return NULL;
}

/* Stream the context of svc through orch__tar_read in pieces of at most cap bytes. */
static char *stream_context(const struct zp_node *svc, size_t cap, size_t *ret_len,
                            struct orch_context *ret_ctx)
{
    struct zp_err err;
    zp_err_init(&err);
    if (orch__context_open(build_of((struct zp_node *)svc), ret_ctx, &err) != 0)
        fail_msg("context: %s", err.msg);
    struct orch_tar *t = orch__tar_new(ret_ctx);
    struct zp_buf out = ZP_BUF_INIT;
    char *buf = zp_malloc(cap);
    for (;;) {
        size_t n = 0;
        if (orch__tar_read(t, buf, cap, &n, &err) != 0)
            fail_msg("tar: %s", err.msg);
        assert_true(n <= cap);
        if (n == 0)
            break;
        zp_buf_add(&out, buf, n);
    }
    assert_int_equal(orch__tar_bytes(t), out.len);
    free(buf);
    orch__tar_free(t);
    return zp_buf_detach(&out, ret_len);
}

/* ---- tests ---- */

static void test_tar_contents(void **state)
{
    (void)state;
    put("Dockerfile", "FROM scratch\nCOPY . /\n", 0644);
    put("run.sh", "#!/bin/sh\necho hi\n", 0755);
    put("src/a.c", "int a;\n", 0600);
    put("src/deep/b.c", "int b;\n", 0644);
    put("secret.key", "hush", 0644);
    put("logs/x.log", "x", 0644);
    put("logs/keep.log", "keep", 0644);
    put(".dockerignore", "*.key\nlogs\n!logs/keep.log\nDockerfile\n.dockerignore\n", 0644);
    mkdir_rel("empty");
    char *link = zp_asprintf("%s/link", g_dir);
    assert_int_equal(symlink("src/a.c", link), 0);
    free(link);
    char *fifo = zp_asprintf("%s/fifo", g_dir);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    free(fifo);
    char *p = zp_asprintf("%s/run.sh", g_dir);
    struct timeval tv[2] = {{1600000000, 0}, {1600000000, 0}};
    assert_int_equal(utimes(p, tv), 0);
    free(p);

    /* a name that needs a pax header */
    char longname[160];
    memset(longname, 'n', 150);
    memcpy(longname, "src/deep/", 9);
    longname[150] = '\0';
    put(longname, "long", 0644);
    struct zp_node *svc = service(NULL, NULL);
    static const size_t caps[] = {1, 7, 512, 100000};
    for (size_t ci = 0; ci < sizeof(caps) / sizeof(caps[0]); ci++) {
        struct orch_context c;
        size_t len;
        char *tar = stream_context(svc, caps[ci], &len, &c);
        assert_string_equal(c.dockerfile, "Dockerfile");
        assert_null(c.generated);
        struct tar_list l;
        tar_parse(tar, len, &l);
        /* sorted, directories before their contents, excluded things absent */
        const char *const want[] = {".dockerignore", "Dockerfile",   "empty", "link",
                                    "logs/keep.log", "run.sh",       "src",   "src/a.c",
                                    "src/deep",      "src/deep/b.c", longname};
        assert_int_equal(l.n, sizeof(want) / sizeof(want[0]));
        for (size_t i = 0; i < l.n; i++)
            assert_string_equal(l.items[i].name, want[i]);
        const struct tar_entry *e = tar_find(&l, "run.sh");
        assert_int_equal(e->type, '0');
        assert_int_equal(e->mode, 0755);
        assert_int_equal(e->mtime, 1600000000);
        assert_string_equal(e->data, "#!/bin/sh\necho hi\n");
        e = tar_find(&l, "src/a.c");
        assert_int_equal(e->mode, 0600);
        assert_int_equal(e->uid, 0);
        assert_int_equal(e->gid, 0);
        e = tar_find(&l, "link");
        assert_int_equal(e->type, '2');
        assert_string_equal(e->link, "src/a.c");
        assert_string_equal(tar_find(&l, longname)->data, "long");
        e = tar_find(&l, "empty");
        assert_int_equal(e->type, '5');
        assert_int_equal(e->mode, 0750);
        /* the Dockerfile and .dockerignore are sent although they are ignored */
        assert_string_equal(tar_find(&l, "Dockerfile")->data, "FROM scratch\nCOPY . /\n");
        assert_non_null(tar_find(&l, ".dockerignore"));
        /* "logs" itself is excluded: only the re-included file is sent */
        assert_null(tar_find(&l, "logs"));
        assert_string_equal(tar_find(&l, "logs/keep.log")->data, "keep");
        tar_list_release(&l);
        free(tar);
        orch__context_release(&c);
    }
    zp_node_free(svc);
}

static void test_dockerfile_outside_context(void **state)
{
    (void)state;
    put("ctx/app.txt", "app", 0644);
    put("ctx/.dockerignore", "*.tmp\n", 0644);
    put("ctx/x.tmp", "tmp", 0644);
    put("other/Build.df", "FROM scratch\nCOPY app.txt /\n", 0644);
    char *ctx = zp_asprintf("%s/ctx", g_dir);
    char *df = zp_asprintf("%s/other/Build.df", g_dir);
    struct zp_node *svc = service(ctx, df);
    struct orch_context c;
    size_t len;
    char *tar = stream_context(svc, 4096, &len, &c);
    assert_true(zp_str_has_prefix(c.dockerfile, ORCH_GENERATED_DOCKERFILE));
    struct tar_list l;
    tar_parse(tar, len, &l);
    const struct tar_entry *e = tar_find(&l, c.dockerfile);
    assert_non_null(e);
    assert_string_equal(e->data, "FROM scratch\nCOPY app.txt /\n");
    /* the sent .dockerignore is the context's own plus the generated name */
    e = tar_find(&l, ".dockerignore");
    char *want = zp_asprintf("*.tmp\n\n%s\n", c.dockerfile);
    assert_string_equal(e->data, want);
    free(want);
    assert_non_null(tar_find(&l, "app.txt"));
    assert_null(tar_find(&l, "x.tmp"));
    assert_int_equal(l.n, 3);
    tar_list_release(&l);
    free(tar);
    orch__context_release(&c);
    zp_node_free(svc);

    /* a relative dockerfile that leaves the context */
    svc = service(ctx, "../other/Build.df");
    tar = stream_context(svc, 4096, &len, &c);
    assert_true(zp_str_has_prefix(c.dockerfile, ORCH_GENERATED_DOCKERFILE));
    free(tar);
    orch__context_release(&c);
    zp_node_free(svc);
    free(ctx);
    free(df);
}

static void test_dockerfile_inline(void **state)
{
    (void)state;
    put("a.txt", "a", 0644);
    struct zp_node *svc = service(NULL, NULL);
    zp_node_set(build_of(svc), "dockerfile_inline",
                zp_node_new_str("FROM scratch\nCOPY a.txt /\n", NULL));
    struct orch_context c;
    size_t len;
    char *tar = stream_context(svc, 300, &len, &c);
    struct tar_list l;
    tar_parse(tar, len, &l);
    assert_string_equal(tar_find(&l, c.dockerfile)->data, "FROM scratch\nCOPY a.txt /\n");
    /* no .dockerignore in the context: the one sent also hides itself */
    char *want = zp_asprintf(".dockerignore\n%s\n", c.dockerfile);
    assert_string_equal(tar_find(&l, ".dockerignore")->data, want);
    free(want);
    assert_non_null(tar_find(&l, "a.txt"));
    tar_list_release(&l);
    free(tar);
    orch__context_release(&c);

    char d1[65], d2[65];
    digest_ok(svc, NULL, d1);
    zp_node_set(build_of(svc), "dockerfile_inline",
                zp_node_new_str("FROM scratch\nCOPY a.txt /b\n", NULL));
    digest_ok(svc, NULL, d2);
    assert_string_not_equal(d1, d2);
    zp_node_free(svc);
}

static void test_dockerfile_ignore_precedence(void **state)
{
    (void)state;
    put("docker/app.Dockerfile", "FROM scratch\n", 0644);
    put("docker/app.Dockerfile.dockerignore", "b.txt\n", 0644);
    put(".dockerignore", "a.txt\n", 0644);
    put("a.txt", "a", 0644);
    put("b.txt", "b", 0644);
    struct zp_node *svc = service(NULL, "docker/app.Dockerfile");
    struct orch_context c;
    size_t len;
    char *tar = stream_context(svc, 4096, &len, &c);
    assert_string_equal(c.dockerfile, "docker/app.Dockerfile");
    struct tar_list l;
    tar_parse(tar, len, &l);
    assert_non_null(tar_find(&l, "a.txt")); /* the context's .dockerignore is not in force */
    assert_null(tar_find(&l, "b.txt"));
    assert_non_null(tar_find(&l, "docker/app.Dockerfile"));
    assert_non_null(tar_find(&l, ".dockerignore")); /* still sent */
    tar_list_release(&l);
    free(tar);
    orch__context_release(&c);
    zp_node_free(svc);

    /* an ignored directory holding the Dockerfile is entered to send it */
    put(".dockerignore", "docker\n", 0644);
    char *p = zp_asprintf("%s/docker/app.Dockerfile.dockerignore", g_dir);
    assert_int_equal(unlink(p), 0);
    free(p);
    put("docker/other", "o", 0644);
    svc = service(NULL, "docker/app.Dockerfile");
    tar = stream_context(svc, 4096, &len, &c);
    tar_parse(tar, len, &l);
    assert_non_null(tar_find(&l, "docker/app.Dockerfile"));
    assert_null(tar_find(&l, "docker/other"));
    assert_null(tar_find(&l, "docker"));
    tar_list_release(&l);
    free(tar);
    orch__context_release(&c);
    zp_node_free(svc);
}

static void test_context_errors(void **state)
{
    (void)state;
    struct zp_err err;
    char d[65];
    static const char *const remotes[] = {"https://github.com/x/y.git", "git@github.com:x/y.git",
                                          "github.com/x/y", NULL};
    for (size_t i = 0; remotes[i]; i++) {
        struct zp_node *svc = service(remotes[i], NULL);
        zp_err_init(&err);
        assert_int_equal(orch_build_digest(NULL, svc, NULL, d, &err), ZP_E_INPUT);
        assert_non_null(strstr(err.msg, "remote build contexts are not supported yet"));
        zp_node_free(svc);
    }

    char *missing = zp_asprintf("%s/nope", g_dir);
    struct zp_node *svc = service(missing, NULL);
    zp_err_init(&err);
    assert_int_equal(orch_build_digest(NULL, svc, NULL, d, &err), ZP_E_NOTFOUND);
    char *want = zp_asprintf("build context '%s' does not exist", missing);
    assert_string_equal(err.msg, want);
    free(want);
    free(missing);
    zp_node_free(svc);

    svc = service(NULL, NULL); /* no Dockerfile yet */
    zp_err_init(&err);
    assert_int_equal(orch_build_digest(NULL, svc, NULL, d, &err), ZP_E_NOTFOUND);
    want = zp_asprintf("Dockerfile '%s/Dockerfile' does not exist", g_dir);
    assert_string_equal(err.msg, want);
    free(want);

    put("Dockerfile", "FROM scratch\n", 0644);
    put(".dockerignore", "ok\n[bad\n", 0644);
    zp_err_init(&err);
    assert_int_equal(orch_build_digest(NULL, svc, NULL, d, &err), ZP_E_INPUT);
    char *r = zp_err_render(&err);
    want = zp_asprintf("%s/.dockerignore:2:1: invalid pattern '[bad'", g_dir);
    assert_string_equal(r, want);
    free(want);
    free(r);
    put(".dockerignore", "", 0644);

    /* several platforms, unsupported fields */
    struct zp_node *pl = zp_node_new_seq(NULL);
    zp_node_push(pl, zp_node_new_str("linux/amd64", NULL));
    zp_node_push(pl, zp_node_new_str("linux/arm64", NULL));
    zp_node_set(build_of(svc), "platforms", pl);
    zp_err_init(&err);
    assert_int_equal(orch_build_digest(NULL, svc, NULL, d, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "build.platforms: building for 2 platforms"));
    zp_node_remove_at(pl, 1);
    zp_err_init(&err);
    assert_int_equal(orch_build_digest(NULL, svc, NULL, d, &err), 0);

    struct zp_node *secrets = zp_node_new_seq(NULL);
    zp_node_push(secrets, zp_node_new_map(NULL));
    zp_node_set(build_of(svc), "secrets", secrets);
    zp_err_init(&err);
    assert_int_equal(orch_build_digest(NULL, svc, NULL, d, &err), ZP_E_INPUT);
    assert_string_equal(err.msg, "build.secrets is not supported yet");
    zp_node_del(build_of(svc), "secrets");

    const char *bad_arg[] = {"=v"};
    struct orch_build_opts o = {.build_args = bad_arg, .nbuild_args = 1};
    zp_err_init(&err);
    assert_int_equal(orch_build_digest(NULL, svc, &o, d, &err), ZP_E_INPUT);
    assert_string_equal(err.msg, "--build-arg '=v': missing the name");
    zp_node_free(svc);
}

static void test_digest_stability(void **state)
{
    (void)state;
    put("Dockerfile", "FROM scratch\nARG A\nCOPY . /\n", 0644);
    put("app/main.c", "int main(void) { return 0; }\n", 0644);
    put("notes.tmp", "scratch notes", 0644);
    put(".dockerignore", "*.tmp\n", 0644);
    struct zp_node *svc = service(NULL, NULL);
    struct zp_node *args = zp_node_new_map(NULL);
    zp_node_set(args, "A", zp_node_new_str("1", NULL));
    zp_node_set(build_of(svc), "args", args);

    char base[65], d[65];
    digest_ok(svc, NULL, base);
    digest_ok(svc, NULL, d);
    assert_string_equal(base, d); /* same inputs, same digest */

    /* an ignored file changes or appears: same */
    put("notes.tmp", "other notes", 0644);
    put("more.tmp", "x", 0644);
    digest_ok(svc, NULL, d);
    assert_string_equal(base, d);

    /* mtimes do not count */
    char *p = zp_asprintf("%s/app/main.c", g_dir);
    struct timeval tv[2] = {{1500000000, 0}, {1500000000, 0}};
    assert_int_equal(utimes(p, tv), 0);
    digest_ok(svc, NULL, d);
    assert_string_equal(base, d);

    /* a changed file: different, and back again: the same */
    put("app/main.c", "int main(void) { return 1; }\n", 0644);
    digest_ok(svc, NULL, d);
    assert_string_not_equal(base, d);
    put("app/main.c", "int main(void) { return 0; }\n", 0644);
    digest_ok(svc, NULL, d);
    assert_string_equal(base, d);

    /* a changed mode */
    assert_int_equal(chmod(p, 0755), 0);
    digest_ok(svc, NULL, d);
    assert_string_not_equal(base, d);
    assert_int_equal(chmod(p, 0644), 0);
    free(p);

    /* a new file that is sent */
    put("app/new.c", "", 0644);
    digest_ok(svc, NULL, d);
    assert_string_not_equal(base, d);
    p = zp_asprintf("%s/app/new.c", g_dir);
    assert_int_equal(unlink(p), 0);
    free(p);
    digest_ok(svc, NULL, d);
    assert_string_equal(base, d);

    /* a changed arg, and an override from the command line */
    zp_node_set(args, "A", zp_node_new_str("2", NULL));
    digest_ok(svc, NULL, d);
    assert_string_not_equal(base, d);
    zp_node_set(args, "A", zp_node_new_str("1", NULL));
    const char *over[] = {"A=2"};
    struct orch_build_opts o = {.build_args = over, .nbuild_args = 1};
    char d2[65];
    digest_ok(svc, &o, d2);
    assert_string_not_equal(base, d2);
    const char *same[] = {"A=1"};
    o.build_args = same;
    digest_ok(svc, &o, d2);
    assert_string_equal(base, d2);
    /* no_cache and pull do not change what is built */
    o.nbuild_args = 0;
    o.no_cache = true;
    o.pull = true;
    digest_ok(svc, &o, d2);
    assert_string_equal(base, d2);

    /* an arg taken from the environment */
    zp_node_set(args, "FROM_ENV", zp_node_new_null(NULL));
    setenv("FROM_ENV", "x", 1);
    digest_ok(svc, NULL, d);
    setenv("FROM_ENV", "y", 1);
    digest_ok(svc, NULL, d2);
    assert_string_not_equal(d, d2);
    unsetenv("FROM_ENV");
    zp_node_del(args, "FROM_ENV");

    /* the Dockerfile, the target, labels */
    put("Dockerfile", "FROM scratch\nARG A\nCOPY . /app\n", 0644);
    digest_ok(svc, NULL, d);
    assert_string_not_equal(base, d);
    put("Dockerfile", "FROM scratch\nARG A\nCOPY . /\n", 0644);
    digest_ok(svc, NULL, d);
    assert_string_equal(base, d);
    zp_node_set(build_of(svc), "target", zp_node_new_str("dev", NULL));
    digest_ok(svc, NULL, d);
    assert_string_not_equal(base, d);
    zp_node_del(build_of(svc), "target");
    /* tags do not change the inputs */
    struct zp_node *tags = zp_node_new_seq(NULL);
    zp_node_push(tags, zp_node_new_str("x:1", NULL));
    zp_node_set(build_of(svc), "tags", tags);
    digest_ok(svc, NULL, d);
    assert_string_equal(base, d);

    /* the .dockerignore itself is an input (always sent) */
    put(".dockerignore", "*.tmp\n# changed\n", 0644);
    digest_ok(svc, NULL, d);
    assert_string_not_equal(base, d);
    zp_node_free(svc);
}

static void test_walk_order_and_caps(void **state)
{
    (void)state;
    put("Dockerfile", "FROM scratch\n", 0644);
    put("b/2", "", 0644);
    put("b/1", "", 0644);
    put("a", "", 0644);
    put("B", "", 0644);
    struct zp_node *svc = service(NULL, NULL);
    struct orch_context c;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(orch__context_open(build_of(svc), &c, &err), 0);
    struct orch_walk *w = orch__walk_new(&c);
    const struct orch_walk_entry *e;
    static const char *const want[] = {"B", "Dockerfile", "a", "b", "b/1", "b/2"};
    size_t n = 0;
    while (orch__walk_next(w, &e, &err) == 0 && e) {
        assert_true(n < sizeof(want) / sizeof(want[0]));
        assert_string_equal(e->rel, want[n]);
        n++;
    }
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    orch__walk_free(w);
    orch__context_release(&c);

    /* nesting deeper than the cap */
    struct zp_buf deep = ZP_BUF_INIT;
    for (int i = 0; i <= ORCH_WALK_MAX_DEPTH; i++)
        zp_buf_adds(&deep, "d/");
    zp_buf_adds(&deep, "f");
    put(zp_buf_cstr(&deep), "", 0644);
    zp_buf_release(&deep);
    char out[65];
    zp_err_init(&err);
    assert_int_equal(orch_build_digest(NULL, svc, NULL, out, &err), ZP_E_TOOBIG);
    assert_non_null(strstr(err.msg, "nested more than 256 directories"));
    zp_node_free(svc);
}

/* What orch_build_digest returned, and its message. */
struct digest_result {
    int rc;
    char msg[ZP_ERR_MSG_MAX];
};

static void digest_here(const struct zp_node *svc, struct digest_result *res)
{
    struct zp_err err;
    char out[65];
    zp_err_init(&err);
    res->rc = orch_build_digest(NULL, svc, NULL, out, &err);
    snprintf(res->msg, sizeof(res->msg), "%s", err.msg);
}

#define DIGEST_NOT_RUN (-1000) /* the child could not give up root */

/* orch_build_digest as a user without privileges. Root reads a file whatever its mode, and
 * CI runs as root: there the digest runs in a forked child that gave up root for the uid
 * and gid 65534 (nobody; no passwd entry needed) before calling it, and sends its result
 * back through a pipe. */
static void digest_unprivileged(const struct zp_node *svc, struct digest_result *res)
{
    if (geteuid() != 0) {
        digest_here(svc, res);
        return;
    }
    assert_int_equal(chmod(g_dir, 0755), 0); /* mkdtemp made it 0700: let nobody in */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct digest_result r = {.rc = DIGEST_NOT_RUN};
        close(fds[0]);
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            snprintf(r.msg, sizeof(r.msg), "giving up root: %s", strerror(errno));
        else if (setuid(0) == 0)
            snprintf(r.msg, sizeof(r.msg), "the child got root back");
        else
            digest_here(svc, &r);
        ssize_t n = write(fds[1], &r, sizeof(r));
        _exit(n == (ssize_t)sizeof(r) ? 0 : 1);
    }
    close(fds[1]);
    size_t got = 0;
    while (got < sizeof(*res)) {
        ssize_t n = read(fds[0], (char *)res + got, sizeof(*res) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(got, sizeof(*res));
    if (res->rc == DIGEST_NOT_RUN)
        fail_msg("%s", res->msg);
}

static void test_unreadable_file(void **state)
{
    (void)state;
    put("Dockerfile", "FROM scratch\n", 0644);
    put("readable", "x", 0644);
    struct zp_node *svc = service(NULL, NULL);
    struct digest_result res;
    /* the same user reads the context when every file is readable */
    digest_unprivileged(svc, &res);
    assert_int_equal(res.rc, 0);
    put("locked", "x", 0000);
    digest_unprivileged(svc, &res);
    assert_int_equal(res.rc, ZP_E_SYSTEM);
    assert_non_null(strstr(res.msg, "build context: cannot read '"));
    assert_non_null(strstr(res.msg, "/locked': Permission denied"));
    zp_node_free(svc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tar_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dockerfile_outside_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dockerfile_inline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dockerfile_ignore_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_stability, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_order_and_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

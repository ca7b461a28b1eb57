/* Unit tests for compose/yaml.c: typing, positions, anchors, merge keys, tags, errors and
 * the caps on size, depth and alias expansion. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compose/compose-int.h"
#include "util/util.h"

#include "util/banned.h"

/* Parse text as "f.yaml"; asserts success and returns the document. */
static struct zp_node *parse_ok(const char *text)
{
    struct zp_diags d;
    struct zp_node *doc = NULL;
    zp_diags_init(&d);
    int rc = compose__yaml_parse("f.yaml", text, strlen(text), NULL, &doc, &d);
    if (rc != 0) {
        for (size_t i = 0; i < d.n; i++) {
            char *m = zp_diag_render(&d.items[i]);
            print_error("unexpected diagnostic: %s\n", m);
            free(m);
        }
    }
    assert_int_equal(rc, 0);
    assert_int_equal(d.n, 0);
    assert_non_null(doc);
    zp_diags_release(&d);
    return doc;
}

/* Parse text expecting failure with code; returns the single rendered diagnostic. */
static char *parse_fail_lim(const char *text, size_t len, const struct compose_yaml_limits *lim,
                            int code)
{
    struct zp_diags d;
    struct zp_node *doc = NULL;
    zp_diags_init(&d);
    int rc = compose__yaml_parse("f.yaml", text, len, lim, &doc, &d);
    assert_int_equal(rc, code);
    assert_null(doc);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.errors, 1);
    char *m = zp_diag_render(&d.items[0]);
    zp_diags_release(&d);
    return m;
}

static char *parse_fail(const char *text)
{
    return parse_fail_lim(text, strlen(text), NULL, ZP_E_INPUT);
}

static void assert_fails_with(const char *text, const char *want)
{
    char *m = parse_fail(text);
    assert_string_equal(m, want);
    free(m);
}

/* Walk a path of keys ("services", "web", ...) down from a map. */
static struct zp_node *at(struct zp_node *n, const char *k1, const char *k2, const char *k3)
{
    const char *keys[] = {k1, k2, k3};
    for (int i = 0; i < 3 && keys[i]; i++) {
        n = zp_node_get(n, keys[i]);
        if (!n)
            fail_msg("no key '%s'", keys[i]);
    }
    return n;
}

static void assert_scalar(const struct zp_node *n, enum zp_scalar_type type, const char *text)
{
    assert_non_null(n);
    assert_int_equal(n->kind, ZP_NODE_SCALAR);
    assert_int_equal(n->type, type);
    assert_string_equal(n->str, text);
    assert_int_equal(n->len, strlen(text));
}

static void assert_pos(const struct zp_node *n, int line, int col)
{
    assert_non_null(n->pos.file);
    assert_string_equal(n->pos.file, "f.yaml");
    assert_ptr_equal(n->pos.file, zp_intern("f.yaml"));
    assert_int_equal(n->pos.line, line);
    assert_int_equal(n->pos.col, col);
}

/* ---- core schema ---- */

static void test_resolve_core_schema(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum zp_scalar_type type;
    } cases[] = {
        {"", ZP_NULL},       {"~", ZP_NULL},      {"null", ZP_NULL},  {"Null", ZP_NULL},
        {"NULL", ZP_NULL},   {"nULL", ZP_STR},    {"true", ZP_BOOL},  {"True", ZP_BOOL},
        {"TRUE", ZP_BOOL},   {"false", ZP_BOOL},  {"False", ZP_BOOL}, {"FALSE", ZP_BOOL},
        {"tRUE", ZP_STR},    {"yes", ZP_STR},     {"no", ZP_STR},     {"on", ZP_STR},
        {"off", ZP_STR},     {"y", ZP_STR},       {"0", ZP_INT},      {"123", ZP_INT},
        {"-5", ZP_INT},      {"+5", ZP_INT},      {"007", ZP_INT},    {"0o17", ZP_INT},
        {"0o8", ZP_STR},     {"0o", ZP_STR},      {"0x1F", ZP_INT},   {"0xfg", ZP_STR},
        {"0x", ZP_STR},      {"0X1F", ZP_STR},    {"-0x1F", ZP_STR},  {"1_000", ZP_STR},
        {"0b101", ZP_STR},   {"1.5", ZP_FLOAT},   {"1.", ZP_FLOAT},   {".5", ZP_FLOAT},
        {"-.5", ZP_FLOAT},   {"1e3", ZP_FLOAT},   {"1E-3", ZP_FLOAT}, {"+1.5e+10", ZP_FLOAT},
        {".", ZP_STR},       {"1e", ZP_STR},      {"e3", ZP_STR},     {".inf", ZP_FLOAT},
        {"-.Inf", ZP_FLOAT}, {"+.INF", ZP_FLOAT}, {".nan", ZP_FLOAT}, {".NaN", ZP_FLOAT},
        {".NAN", ZP_FLOAT},  {"-.nan", ZP_STR},   {".Nan", ZP_STR},   {"1.2.3", ZP_STR},
        {"8080:80", ZP_STR}, {"abc", ZP_STR},     {"1 ", ZP_STR},     {"- 1", ZP_STR},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum zp_scalar_type t = compose__yaml_resolve(cases[i].text);
        if (t != cases[i].type)
            fail_msg("'%s': type %d, want %d", cases[i].text, t, cases[i].type);
    }
}

static void test_scalar_typing(void **state)
{
    (void)state;
    struct zp_node *doc = parse_ok("a: 0x1F\n"
                                   "b: 0o17\n"
                                   "c: \"1\"\n"
                                   "d: |\n"
                                   "  x\n"
                                   "e: yes\n"
                                   "f:\n"
                                   "g: True\n"
                                   "h: 1.5\n"
                                   "i: 'true'\n"
                                   "j: >-\n"
                                   "  folded\n"
                                   "  text\n"
                                   "k: ~\n"
                                   "l: 007\n"
                                   "m: .inf\n"
                                   "n: 0xFFFFFFFFFFFFFFFFFF\n"
                                   "o: plain text\n");
    assert_scalar(zp_node_get(doc, "a"), ZP_INT, "31");
    assert_scalar(zp_node_get(doc, "b"), ZP_INT, "15");
    assert_scalar(zp_node_get(doc, "c"), ZP_STR, "1");
    assert_true(zp_node_get(doc, "c")->flags & ZP_NODE_QUOTED);
    assert_scalar(zp_node_get(doc, "d"), ZP_STR, "x\n");
    assert_true(zp_node_get(doc, "d")->flags & ZP_NODE_QUOTED);
    assert_scalar(zp_node_get(doc, "e"), ZP_STR, "yes");
    assert_false(zp_node_get(doc, "e")->flags & ZP_NODE_QUOTED);
    assert_scalar(zp_node_get(doc, "f"), ZP_NULL, "null");
    assert_scalar(zp_node_get(doc, "g"), ZP_BOOL, "True");
    assert_scalar(zp_node_get(doc, "h"), ZP_FLOAT, "1.5");
    assert_scalar(zp_node_get(doc, "i"), ZP_STR, "true");
    assert_scalar(zp_node_get(doc, "j"), ZP_STR, "folded text");
    assert_true(zp_node_get(doc, "j")->flags & ZP_NODE_QUOTED);
    assert_scalar(zp_node_get(doc, "k"), ZP_NULL, "~");
    assert_scalar(zp_node_get(doc, "l"), ZP_INT, "007");
    assert_scalar(zp_node_get(doc, "m"), ZP_FLOAT, ".inf");
    /* too large for 64 bits: still an integer, text kept */
    assert_scalar(zp_node_get(doc, "n"), ZP_INT, "0xFFFFFFFFFFFFFFFFFF");
    assert_scalar(zp_node_get(doc, "o"), ZP_STR, "plain text");
    assert_int_equal(zp_node_get(doc, "a")->flags, 0);
    zp_node_free(doc);
}

static void test_escapes_and_nul(void **state)
{
    (void)state;
    struct zp_node *doc = parse_ok("a: \"x\\0y\\t\\u00e9\"\n"
                                   "b: 'it''s'\n");
    struct zp_node *a = zp_node_get(doc, "a");
    assert_int_equal(a->type, ZP_STR);
    assert_int_equal(a->len, 6);
    assert_memory_equal(a->str, "x\0y\t\xc3\xa9", 6);
    assert_scalar(zp_node_get(doc, "b"), ZP_STR, "it's");
    zp_node_free(doc);
}

/* ---- positions ---- */

static void test_positions(void **state)
{
    (void)state;
    struct zp_node *doc = parse_ok("# comment\n"
                                   "services:\n"
                                   "  web:\n"
                                   "    image: \"nginx\"\n"
                                   "    ports:\n"
                                   "      - 80\n"
                                   "      - target: 443\n"
                                   "    cmd: [a, 'b']\n"
                                   "    cfg: !override {x: 1}\n");
    assert_pos(doc, 2, 1);
    assert_pos(zp_node_get_key(doc, "services"), 2, 1);
    struct zp_node *web = at(doc, "services", "web", NULL);
    assert_pos(web, 4, 5);
    assert_pos(zp_node_get_key(at(doc, "services", NULL, NULL), "web"), 3, 3);
    assert_pos(zp_node_get_key(web, "image"), 4, 5);
    assert_pos(zp_node_get(web, "image"), 4, 12); /* at the opening quote */
    struct zp_node *ports = zp_node_get(web, "ports");
    assert_pos(ports, 6, 7);
    assert_pos(ports->items[0], 6, 9);
    assert_pos(ports->items[1], 7, 9);
    assert_pos(zp_node_get_key(ports->items[1], "target"), 7, 9);
    assert_pos(zp_node_get(ports->items[1], "target"), 7, 17);
    struct zp_node *cmd = zp_node_get(web, "cmd");
    assert_pos(cmd, 8, 10);
    assert_pos(cmd->items[0], 8, 11);
    assert_pos(cmd->items[1], 8, 14);
    /* a tagged node is located at its tag */
    assert_pos(zp_node_get(web, "cfg"), 9, 10);
    assert_pos(zp_node_get_key(zp_node_get(web, "cfg"), "x"), 9, 21);
    zp_node_free(doc);
}

/* ---- anchors, aliases and merge keys ---- */

static void test_aliases_are_copies(void **state)
{
    (void)state;
    struct zp_node *doc = parse_ok("base: &b\n"
                                   "  image: alpine\n"
                                   "  env: [A, B]\n"
                                   "one: *b\n"
                                   "two: *b\n"
                                   "s: &s hello\n"
                                   "t: *s\n");
    struct zp_node *base = zp_node_get(doc, "base"), *one = zp_node_get(doc, "one");
    struct zp_node *two = zp_node_get(doc, "two");
    assert_true(zp_node_equal(base, one));
    assert_true(zp_node_equal(base, two));
    assert_ptr_not_equal(base, one);
    assert_ptr_not_equal(zp_node_get(base, "env"), zp_node_get(one, "env"));
    /* the copy is located at the alias, its insides at the definition */
    assert_pos(one, 4, 6);
    assert_pos(two, 5, 6);
    assert_pos(zp_node_get(one, "image"), 2, 10);
    assert_scalar(zp_node_get(doc, "t"), ZP_STR, "hello");
    assert_pos(zp_node_get(doc, "t"), 7, 4);
    /* changing a copy leaves the others alone */
    zp_node_set(one, "image", zp_node_new_str("busybox", NULL));
    assert_string_equal(zp_node_get_str(base, "image"), "alpine");
    assert_string_equal(zp_node_get_str(two, "image"), "alpine");
    zp_node_free(doc);
}

static void test_anchor_redefined(void **state)
{
    (void)state;
    struct zp_node *doc = parse_ok("a: &x 1\n"
                                   "b: *x\n"
                                   "c: &x 2\n"
                                   "d: *x\n");
    assert_scalar(zp_node_get(doc, "b"), ZP_INT, "1");
    assert_scalar(zp_node_get(doc, "d"), ZP_INT, "2");
    zp_node_free(doc);
}

static void test_merge_single(void **state)
{
    (void)state;
    struct zp_node *doc = parse_ok("x-common: &common\n"
                                   "  restart: always\n"
                                   "  image: base\n"
                                   "services:\n"
                                   "  a:\n"
                                   "    image: mine\n"
                                   "    <<: *common\n"
                                   "  b:\n"
                                   "    <<: *common\n"
                                   "    image: other\n"
                                   "  c:\n"
                                   "    <<: {inline: 1}\n");
    struct zp_node *a = at(doc, "services", "a", NULL);
    assert_int_equal(a->n, 2);
    assert_string_equal(zp_node_get_str(a, "image"), "mine");
    assert_string_equal(zp_node_get_str(a, "restart"), "always");
    assert_null(zp_node_get(a, "<<"));
    /* merged keys keep the position of their definition */
    assert_pos(zp_node_get_key(a, "restart"), 2, 3);
    struct zp_node *b = at(doc, "services", "b", NULL);
    assert_int_equal(b->n, 2);
    assert_string_equal(zp_node_get_str(b, "image"), "other");
    assert_string_equal(zp_node_get_str(b, "restart"), "always");
    assert_scalar(at(doc, "services", "c", "inline"), ZP_INT, "1");
    zp_node_free(doc);
}

/* As Compose: a key tagged !reset beside `<<` takes the merge source's value, which then
 * replaces (as !override) the value of an earlier file; without a source it stays a reset. */
static void test_reset_beside_merge(void **state)
{
    (void)state;
    struct zp_node *doc = parse_ok("x-base: &base\n"
                                   "  ports: [\"80:80\"]\n"
                                   "  image: base\n"
                                   "web:\n"
                                   "  <<: *base\n"
                                   "  ports: !reset []\n"
                                   "  command: !reset null\n");
    struct zp_node *web = zp_node_get(doc, "web");
    struct zp_node *ports = zp_node_get(web, "ports");
    assert_int_equal(ports->kind, ZP_NODE_SEQ);
    assert_int_equal(ports->n, 1);
    assert_string_equal(ports->items[0]->str, "80:80");
    assert_true(ports->flags & ZP_NODE_OVERRIDE);
    assert_false(ports->flags & ZP_NODE_RESET);
    assert_true(zp_node_get(web, "command")->flags & ZP_NODE_RESET);
    assert_string_equal(zp_node_get_str(web, "image"), "base");
    zp_node_free(doc);
}

static void test_merge_list_precedence(void **state)
{
    (void)state;
    struct zp_node *doc = parse_ok("one: &one {a: one, b: one}\n"
                                   "two: &two {a: two, b: two, c: two}\n"
                                   "three: &three {d: three, c: three}\n"
                                   "child:\n"
                                   "  b: child\n"
                                   "  <<: [*one, *two, *three]\n");
    struct zp_node *c = zp_node_get(doc, "child");
    assert_int_equal(c->n, 4);
    assert_string_equal(zp_node_get_str(c, "a"), "one");   /* earlier source wins */
    assert_string_equal(zp_node_get_str(c, "b"), "child"); /* explicit key wins */
    assert_string_equal(zp_node_get_str(c, "c"), "two");
    assert_string_equal(zp_node_get_str(c, "d"), "three");
    zp_node_free(doc);
}

static void test_merge_quoted_key_is_plain_key(void **state)
{
    (void)state;
    struct zp_node *doc = parse_ok("a:\n  \"<<\": {x: 1}\n");
    struct zp_node *a = zp_node_get(doc, "a");
    assert_int_equal(a->n, 1);
    assert_true(zp_node_is_map(zp_node_get(a, "<<")));
    zp_node_free(doc);
}

/* An anchor on the `<<` key itself stays valid after the merge consumed the key. */
static void test_anchor_on_merge_key(void **state)
{
    (void)state;
    struct zp_node *doc = parse_ok("a:\n  &k <<: &m {x: 1}\nb: *k\nc: *m\n");
    assert_scalar(at(doc, "a", "x", NULL), ZP_INT, "1");
    assert_scalar(zp_node_get(doc, "b"), ZP_STR, "<<");
    assert_scalar(at(doc, "c", "x", NULL), ZP_INT, "1");
    zp_node_free(doc);
}

static void test_merge_errors(void **state)
{
    (void)state;
    assert_fails_with("a:\n  <<: 3\n",
                      "f.yaml:2:7: merge key '<<' expects a mapping or a sequence of mappings, "
                      "not an integer");
    assert_fails_with("a:\n  <<: [{x: 1}, y]\n",
                      "f.yaml:2:16: merge key '<<' expects mappings, not a string");
    assert_fails_with("a:\n  <<: {x: 1}\n  <<: {y: 1}\n",
                      "f.yaml:3:3: duplicate key '<<' (first at line 2)");
}

static void test_alias_errors(void **state)
{
    (void)state;
    assert_fails_with("a: *nope\n", "f.yaml:1:4: undefined alias '*nope'");
    assert_fails_with("a: &x [1, *x]\n",
                      "f.yaml:1:11: alias '*x' refers to a node that contains it");
    assert_fails_with("a: &k [1]\n*k : 2\n", "f.yaml:2:1: mapping keys must be scalars, not a "
                                             "sequence");
}

/* ---- tags ---- */

static void test_tags(void **state)
{
    (void)state;
    struct zp_node *doc = parse_ok("ports: !reset []\n"
                                   "command: !reset null\n"
                                   "env: !override\n"
                                   "  A: 1\n"
                                   "list: !override [a]\n"
                                   "s: !!str 123\n"
                                   "i: !!int \"42\"\n"
                                   "h: !!int 0x10\n"
                                   "f: !!float 1\n"
                                   "b: !!bool \"false\"\n"
                                   "n: !!null ''\n"
                                   "m: !!map {a: 1}\n"
                                   "q: !!seq [1]\n"
                                   "r: !reset plain\n");
    struct zp_node *ports = zp_node_get(doc, "ports");
    assert_true(zp_node_is_seq(ports));
    assert_int_equal(ports->n, 0);
    assert_int_equal(ports->flags, ZP_NODE_RESET);
    assert_pos(ports, 1, 8);
    struct zp_node *cmd = zp_node_get(doc, "command");
    assert_scalar(cmd, ZP_NULL, "null");
    assert_int_equal(cmd->flags, ZP_NODE_RESET);
    struct zp_node *env = zp_node_get(doc, "env");
    assert_true(zp_node_is_map(env));
    assert_int_equal(env->flags, ZP_NODE_OVERRIDE);
    assert_pos(env, 3, 6);
    assert_int_equal(zp_node_get(doc, "list")->flags, ZP_NODE_OVERRIDE);
    assert_scalar(zp_node_get(doc, "s"), ZP_STR, "123");
    assert_true(zp_node_get(doc, "s")->flags & ZP_NODE_QUOTED);
    assert_scalar(zp_node_get(doc, "i"), ZP_INT, "42");
    assert_scalar(zp_node_get(doc, "h"), ZP_INT, "16");
    assert_scalar(zp_node_get(doc, "f"), ZP_FLOAT, "1");
    assert_scalar(zp_node_get(doc, "b"), ZP_BOOL, "false");
    assert_scalar(zp_node_get(doc, "n"), ZP_NULL, "");
    assert_true(zp_node_is_map(zp_node_get(doc, "m")));
    assert_true(zp_node_is_seq(zp_node_get(doc, "q")));
    assert_scalar(zp_node_get(doc, "r"), ZP_STR, "plain");
    assert_int_equal(zp_node_get(doc, "r")->flags, ZP_NODE_RESET);
    zp_node_free(doc);
}

static void test_tag_errors(void **state)
{
    (void)state;
    assert_fails_with("a: !custom x\n", "f.yaml:1:4: unsupported tag '!custom'");
    assert_fails_with("a: !!binary aGk=\n", "f.yaml:1:4: unsupported tag '!!binary'");
    assert_fails_with("a: !weird {b: 1}\n", "f.yaml:1:4: unsupported tag '!weird'");
    assert_fails_with("a:\n  b: !!int abc\n", "f.yaml:2:6: invalid value 'abc' for tag '!!int'");
    assert_fails_with("a: !!bool yes\n", "f.yaml:1:4: invalid value 'yes' for tag '!!bool'");
    assert_fails_with("a: !!seq {b: 1}\n", "f.yaml:1:4: tag '!!seq' cannot be used on a mapping");
    assert_fails_with("a: !!map x\n", "f.yaml:1:4: tag '!!map' cannot be used on a scalar");
}

/* ---- errors ---- */

static void test_duplicate_keys(void **state)
{
    (void)state;
    assert_fails_with("services:\n"
                      "  web:\n"
                      "    image: a\n"
                      "    ports: []\n"
                      "    image: b\n",
                      "f.yaml:5:5: duplicate key 'image' (first at line 3)");
    assert_fails_with("{a: 1, b: 2, a: 3}\n", "f.yaml:1:14: duplicate key 'a' (first at line 1)");
    /* many keys go through the hash set */
    struct zp_buf b = ZP_BUF_INIT;
    for (int i = 0; i < 500; i++)
        zp_buf_addf(&b, "k%d: %d\n", i, i);
    zp_buf_adds(&b, "k250: again\n");
    assert_fails_with(zp_buf_cstr(&b), "f.yaml:501:1: duplicate key 'k250' (first at line 251)");
    zp_buf_release(&b);
}

static void test_non_scalar_keys(void **state)
{
    (void)state;
    /* as Compose: keys are strings */
    assert_fails_with("a:\n  1: x\n", "f.yaml:2:3: non-string key '1' (an integer): quote it");
    assert_fails_with("true: x\n", "f.yaml:1:1: non-string key 'true' (a boolean): quote it");
    assert_fails_with("? [a, b]\n: c\n",
                      "f.yaml:1:3: mapping keys must be scalars, not a sequence");
    assert_fails_with("a:\n  {x: 1}: y\n",
                      "f.yaml:2:3: mapping keys must be scalars, not a mapping");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    char *m = parse_fail("services:\n  web: 1\n db: 2\n");
    assert_true(zp_str_has_prefix(m, "f.yaml:3:2: invalid YAML: "));
    assert_true(strlen(m) > strlen("f.yaml:3:2: invalid YAML: "));
    free(m);
    m = parse_fail("a: [1,\nb: 2\n");
    assert_true(zp_str_has_prefix(m, "f.yaml:3:1: invalid YAML: "));
    free(m);
    m = parse_fail("a: b: c\n");
    assert_true(zp_str_has_prefix(m, "f.yaml:1:5: invalid YAML: "));
    free(m);
    m = parse_fail("a: \"unterminated\n");
    assert_true(zp_str_has_prefix(m, "f.yaml:"));
    assert_non_null(strstr(m, ": invalid YAML: "));
    free(m);
}

/* libfyaml must not write to stderr: zpanel's library code never prints. */
static void test_no_stderr_output(void **state)
{
    (void)state;
    char path[] = "/tmp/zp-test-yaml-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    char *m = parse_fail("a:\n  b: 1\n c: 2\n");
    free(m);
    m = parse_fail("a: [1,\n");
    free(m);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t size = lseek(fd, 0, SEEK_END);
    close(fd);
    unlink(path);
    assert_int_equal(size, 0);
}

static void test_multiple_documents(void **state)
{
    (void)state;
    assert_fails_with("a: 1\n---\nb: 2\n", "f.yaml:2:1: multiple YAML documents are not supported");
    assert_fails_with("a: 1\n...\nb: 2\n", "f.yaml:3:1: multiple YAML documents are not supported");
}

static void test_top_level(void **state)
{
    (void)state;
    static const char *const empty[] = {"",    "# only a comment\n", "---\n", "null\n",
                                        "~\n", "--- # x\n...\n"};
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        struct zp_node *doc = parse_ok(empty[i]);
        assert_true(zp_node_is_map(doc));
        assert_int_equal(doc->n, 0);
        assert_int_equal(doc->pos.line, 1);
        zp_node_free(doc);
    }
    assert_fails_with("- a\n- b\n",
                      "f.yaml:1:1: the top level of a compose file must be a mapping, not a "
                      "sequence");
    assert_fails_with("hello\n", "f.yaml:1:1: the top level of a compose file must be a mapping, "
                                 "not a string");
    assert_fails_with("\n\n  42\n", "f.yaml:3:3: the top level of a compose file must be a "
                                    "mapping, not an integer");
}

static void test_encoding_errors(void **state)
{
    (void)state;
    char *m = parse_fail("a: 1\nb: x\xff\n");
    assert_string_equal(m, "f.yaml:2:5: invalid UTF-8 byte 0xff");
    free(m);
    m = parse_fail_lim("a: 1\0", 5, NULL, ZP_E_INPUT);
    assert_string_equal(m, "f.yaml:1:5: invalid NUL byte in YAML input");
    free(m);
    /* a leading byte-order mark is fine */
    struct zp_node *doc = parse_ok("\xef\xbb\xbf"
                                   "a: 1\n");
    assert_scalar(zp_node_get(doc, "a"), ZP_INT, "1");
    zp_node_free(doc);
}

/* ---- limits ---- */

static const char bomb[] =
    "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";

static void test_alias_bomb(void **state)
{
    (void)state;
    /* the cap stops the expansion: the error names the limit (no timing asserted: speed is
     * measured in bench/, never in a test) */
    char *m = parse_fail_lim(bomb, strlen(bomb), NULL, ZP_E_TOOBIG);
    assert_string_equal(m,
                        "f.yaml:7:8: document expands to more than 1000000 nodes through aliases "
                        "(limit of nodes per file; an alias bomb?)");
    free(m);

    /* a small cap stops it at the first alias that would pass it */
    struct compose_yaml_limits lim = {0, 0, 100};
    m = parse_fail_lim(bomb, strlen(bomb), &lim, ZP_E_TOOBIG);
    assert_string_equal(m, "f.yaml:2:32: document expands to more than 100 nodes through aliases "
                           "(limit of nodes per file; an alias bomb?)");
    free(m);
}

static void test_node_cap_counts_everything(void **state)
{
    (void)state;
    /* map + 3 keys + 3 values = 7 nodes */
    const char *doc7 = "a: 1\nb: 2\nc: 3\n";
    struct compose_yaml_limits lim = {0, 0, 7};
    struct zp_diags d;
    struct zp_node *doc = NULL;
    zp_diags_init(&d);
    assert_int_equal(compose__yaml_parse("f.yaml", doc7, strlen(doc7), &lim, &doc, &d), 0);
    zp_node_free(doc);
    zp_diags_release(&d);
    lim.max_nodes = 6;
    char *m = parse_fail_lim(doc7, strlen(doc7), &lim, ZP_E_TOOBIG);
    /* no alias involved: the message names the plain size limit, not a bomb */
    assert_string_equal(m, "f.yaml:3:4: document has more than 6 nodes (limit of nodes per file); "
                           "split it into several files");
    free(m);
}

static void test_depth_cap(void **state)
{
    (void)state;
    struct zp_buf b = ZP_BUF_INIT;
    /* the top-level map plus 63 nested sequences: 64 levels, fine */
    zp_buf_adds(&b, "a: ");
    for (int i = 0; i < 63; i++)
        zp_buf_addc(&b, '[');
    for (int i = 0; i < 63; i++)
        zp_buf_addc(&b, ']');
    zp_buf_addc(&b, '\n');
    struct zp_node *doc = parse_ok(zp_buf_cstr(&b));
    zp_node_free(doc);
    zp_buf_reset(&b);
    zp_buf_adds(&b, "a: ");
    for (int i = 0; i < 64; i++)
        zp_buf_addc(&b, '[');
    for (int i = 0; i < 64; i++)
        zp_buf_addc(&b, ']');
    char *m = parse_fail_lim(zp_buf_cstr(&b), b.len, NULL, ZP_E_TOOBIG);
    assert_string_equal(m, "f.yaml:1:67: document nests deeper than 64 levels");
    free(m);
    zp_buf_release(&b);

    struct compose_yaml_limits lim = {0, 3, 0};
    const char *ok = "a: {b: [1]}\n";
    const char *deep = "a: {b: [[1]]}\n";
    m = parse_fail_lim(deep, strlen(deep), &lim, ZP_E_TOOBIG);
    assert_string_equal(m, "f.yaml:1:9: document nests deeper than 3 levels");
    free(m);
    struct zp_diags d;
    zp_diags_init(&d);
    doc = NULL;
    assert_int_equal(compose__yaml_parse("f.yaml", ok, strlen(ok), &lim, &doc, &d), 0);
    zp_node_free(doc);
    /* an alias can deepen the tree too */
    const char *via_alias = "x: &x {b: [1]}\ny: {c: *x}\n";
    m = parse_fail_lim(via_alias, strlen(via_alias), &lim, ZP_E_TOOBIG);
    assert_string_equal(m, "f.yaml:2:8: document nests deeper than 3 levels");
    free(m);
    zp_diags_release(&d);
}

static void test_size_cap(void **state)
{
    (void)state;
    struct compose_yaml_limits lim = {10, 0, 0};
    const char *text = "a: 1234567\n";
    char *m = parse_fail_lim(text, strlen(text), &lim, ZP_E_TOOBIG);
    assert_string_equal(m, "f.yaml: file is too big (11 bytes, at most 10)");
    free(m);
    lim.max_bytes = 11;
    struct zp_diags d;
    struct zp_node *doc = NULL;
    zp_diags_init(&d);
    assert_int_equal(compose__yaml_parse("f.yaml", text, strlen(text), &lim, &doc, &d), 0);
    assert_scalar(zp_node_get(doc, "a"), ZP_INT, "1234567");
    zp_node_free(doc);
    zp_diags_release(&d);
}

static void test_flow_and_keys(void **state)
{
    (void)state;
    struct zp_node *doc = parse_ok("{a: 1, \"b c\": [x, {y: z}], \"3\": three, \"true\": t}\n");
    assert_int_equal(doc->n, 4);
    assert_scalar(doc->pairs[2].key, ZP_STR, "3");
    assert_scalar(doc->pairs[3].key, ZP_STR, "true");
    struct zp_node *bc = zp_node_get(doc, "b c");
    assert_true(zp_node_is_seq(bc));
    assert_string_equal(zp_node_get_str(bc->items[1], "y"), "z");
    zp_node_free(doc);
}

static void test_compose_reader_leniency(void **state)
{
    (void)state;
    /* a flow sequence closed at its key's indentation, as real templates write it */
    struct zp_node *doc = parse_ok("a:\n  b: [\n    x, y\n  ]\n");
    assert_int_equal(zp_node_get(zp_node_get(doc, "a"), "b")->n, 2);
    zp_node_free(doc);
    /* the explicit merge tag */
    doc = parse_ok("x: &x {i: 1}\ny:\n  !!merge <<: *x\n  j: 2\n");
    assert_string_equal(zp_node_get_str(zp_node_get(doc, "y"), "i"), "1");
    zp_node_free(doc);
    assert_fails_with("a: !!merge x\n",
                      "f.yaml:1:4: tag '!!merge' can only be used on the key '<<'");
    /* several documents: one at a time, or refused by the single-document reader */
    const char *two = "a: 1\n---\nb: 2\n";
    struct zp_diags d;
    struct zp_node **docs = NULL;
    size_t n = 0;
    zp_diags_init(&d);
    assert_int_equal(compose__yaml_parse_docs("f.yaml", two, strlen(two), NULL, &docs, &n, &d), 0);
    assert_int_equal(n, 2);
    assert_string_equal(zp_node_get_str(docs[1], "b"), "2");
    for (size_t i = 0; i < n; i++)
        zp_node_free(docs[i]);
    free(docs);
    zp_diags_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve_core_schema),
        cmocka_unit_test(test_scalar_typing),
        cmocka_unit_test(test_escapes_and_nul),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_aliases_are_copies),
        cmocka_unit_test(test_anchor_redefined),
        cmocka_unit_test(test_merge_single),
        cmocka_unit_test(test_reset_beside_merge),
        cmocka_unit_test(test_merge_list_precedence),
        cmocka_unit_test(test_merge_quoted_key_is_plain_key),
        cmocka_unit_test(test_anchor_on_merge_key),
        cmocka_unit_test(test_merge_errors),
        cmocka_unit_test(test_alias_errors),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_tag_errors),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_non_scalar_keys),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_no_stderr_output),
        cmocka_unit_test(test_multiple_documents),
        cmocka_unit_test(test_top_level),
        cmocka_unit_test(test_encoding_errors),
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_node_cap_counts_everything),
        cmocka_unit_test(test_depth_cap),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_flow_and_keys),
        cmocka_unit_test(test_compose_reader_leniency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

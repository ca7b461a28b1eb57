/* Unit tests for compose/emit.c: YAML layout and quoting, the round-trip law (emit, parse,
 * emit gives the same bytes) on fixed and generated trees, JSON escaping, service hashes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose-int.h"
#include "util/util.h"

#include "util/banned.h"

static struct zp_node *parse_ok(const char *text, size_t len)
{
    struct zp_diags d;
    struct zp_node *doc = NULL;
    zp_diags_init(&d);
    int rc = compose__yaml_parse("f.yaml", text, len, NULL, &doc, &d);
    if (rc != 0) {
        for (size_t i = 0; i < d.n; i++) {
            char *m = zp_diag_render(&d.items[i]);
            print_error("re-parse failed: %s\n--- input:\n%.*s---\n", m, (int)len, text);
            free(m);
        }
    }
    assert_int_equal(rc, 0);
    zp_diags_release(&d);
    return doc;
}

static char *yaml_of(const struct zp_node *n)
{
    struct zp_buf b = ZP_BUF_INIT;
    assert_int_equal(compose_emit_yaml(n, &b), 0);
    return zp_buf_detach(&b, NULL);
}

static char *json_of(const struct zp_node *n, bool pretty)
{
    struct zp_buf b = ZP_BUF_INIT;
    assert_int_equal(compose_emit_json(n, pretty, &b), 0);
    return zp_buf_detach(&b, NULL);
}

/* Emit, parse, emit: both emissions equal and the parsed tree means the same (JSON). */
static void assert_round_trip(const struct zp_node *tree)
{
    char *first = yaml_of(tree);
    struct zp_node *again = parse_ok(first, strlen(first));
    char *second = yaml_of(again);
    assert_string_equal(first, second);
    char *j1 = json_of(tree, false), *j2 = json_of(again, false);
    assert_string_equal(j1, j2);
    free(j1);
    free(j2);
    free(first);
    free(second);
    zp_node_free(again);
}

static void assert_yaml(const char *input, const char *want)
{
    struct zp_node *doc = parse_ok(input, strlen(input));
    char *got = yaml_of(doc);
    assert_string_equal(got, want);
    free(got);
    assert_round_trip(doc);
    zp_node_free(doc);
}

/* ---- YAML layout ---- */

static void test_yaml_layout(void **state)
{
    (void)state;
    assert_yaml("services:\n"
                "  web:\n"
                "    ports: [{target: 80, published: \"8080\"}, \"443:443\"]\n"
                "    image: nginx\n"
                "    environment: {}\n"
                "    volumes: []\n"
                "    command: [nginx, -g, 'daemon off;']\n"
                "name: demo\n",
                "name: demo\n"
                "services:\n"
                "  web:\n"
                "    command:\n"
                "      - nginx\n"
                "      - -g\n"
                "      - daemon off;\n"
                "    environment: {}\n"
                "    image: nginx\n"
                "    ports:\n"
                "      - published: \"8080\"\n"
                "        target: 80\n"
                "      - \"443:443\"\n"
                "    volumes: []\n");
    assert_yaml("a: [[1, 2], [], {}, [{b: 1, a: 2}]]\n", "a:\n"
                                                         "  - - 1\n"
                                                         "    - 2\n"
                                                         "  - []\n"
                                                         "  - {}\n"
                                                         "  - - a: 2\n"
                                                         "      b: 1\n");
    assert_yaml("", "{}\n");
    /* bytewise key order: upper case before lower case, shorter prefix first */
    assert_yaml("b: 1\nB: 2\nab: 3\na: 4\n_: 5\n", "B: 2\n_: 5\na: 4\nab: 3\nb: 1\n");
}

static void test_yaml_scalars(void **state)
{
    (void)state;
    assert_yaml("i: 0x1F\n"
                "o: 0o17\n"
                "n: ~\n"
                "e:\n"
                "b: True\n"
                "c: FALSE\n"
                "f: 1.5e3\n"
                "g: -.INF\n"
                "s: 'it''s'\n",
                "b: true\n"
                "c: false\n"
                "e: null\n"
                "f: 1.5e3\n"
                "g: -.inf\n"
                "i: 31\n"
                "\"n\": null\n"
                "o: 15\n"
                "s: it's\n");
    struct zp_node *m = zp_node_new_map(NULL);
    zp_node_set(m, "inf", zp_node_new_float(INFINITY, NULL));
    zp_node_set(m, "ninf", zp_node_new_float(-INFINITY, NULL));
    zp_node_set(m, "nan", zp_node_new_float(NAN, NULL));
    zp_node_set(m, "half", zp_node_new_float(0.5, NULL));
    zp_node_set(m, "int", zp_node_new_int(-42, NULL));
    zp_node_set(m, "hex", zp_node_new_scalar(ZP_INT, "0x10", NULL));
    zp_node_set(m, "t", zp_node_new_bool(true, NULL));
    zp_node_set(m, "z", zp_node_new_null(NULL));
    char *y = yaml_of(m);
    assert_string_equal(y, "half: 0.5\n"
                           "hex: 16\n"
                           "inf: .inf\n"
                           "int: -42\n"
                           "nan: .nan\n"
                           "ninf: -.inf\n"
                           "t: true\n"
                           "z: null\n");
    free(y);
    assert_round_trip(m);
    zp_node_free(m);
}

static void test_yaml_quoting(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        /* plain */
        {"nginx:1.25", "nginx:1.25"},
        {"hello world", "hello world"},
        {"10s", "10s"},
        {"512M", "512M"},
        {"a#b", "a#b"},
        {"a:b", "a:b"},
        {"-Xmx512m", "-Xmx512m"},
        {"/var/lib", "/var/lib"},
        {"$${VAR}", "$${VAR}"},
        {"\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9"},
        {"quote \" inside", "quote \" inside"},
        {"Yess", "Yess"},
        /* would resolve to something else */
        {"8080", "\"8080\""},
        {"1e3", "\"1e3\""},
        {"0x1F", "\"0x1F\""},
        {"1.5", "\"1.5\""},
        {".inf", "\".inf\""},
        {"true", "\"true\""},
        {"False", "\"False\""},
        {"null", "\"null\""},
        {"~", "\"~\""},
        {"", "\"\""},
        /* YAML 1.1 readers */
        {"yes", "\"yes\""},
        {"No", "\"No\""},
        {"on", "\"on\""},
        {"OFF", "\"OFF\""},
        {"y", "\"y\""},
        {"n", "\"n\""},
        {"1_000", "\"1_000\""},
        {"1:30", "\"1:30\""},
        {"2024-01-31", "\"2024-01-31\""},
        {"1.2.3", "\"1.2.3\""},
        {"-1", "\"-1\""},
        {"+1", "\"+1\""},
        {".5", "\".5\""},
        /* syntax */
        {" lead", "\" lead\""},
        {"trail ", "\"trail \""},
        {"a: b", "\"a: b\""},
        {"a:", "\"a:\""},
        {"a #b", "\"a #b\""},
        {"#x", "\"#x\""},
        {"-", "\"-\""},
        {"- x", "\"- x\""},
        {"--flag", "\"--flag\""},
        {"?x", "\"?x\""},
        {"*x", "\"*x\""},
        {"&x", "\"&x\""},
        {"!x", "\"!x\""},
        {"|x", "\"|x\""},
        {">x", "\">x\""},
        {"'x", "\"'x\""},
        {"\"x", "\"\\\"x\""},
        {"%x", "\"%x\""},
        {"@x", "\"@x\""},
        {"`x", "\"`x\""},
        {"[x", "\"[x\""},
        {"{x", "\"{x\""},
        {",x", "\",x\""},
        {"<<", "\"<<\""},
        {"...", "\"...\""},
        /* escapes */
        {"line\nbreak", "\"line\\nbreak\""},
        {"tab\there", "\"tab\\there\""},
        {"cr\r", "\"cr\\r\""},
        {"back\\slash\n", "\"back\\\\slash\\n\""},
        {"\x01\x1f\x7f", "\"\\x01\\x1F\\x7F\""},
        {"ls\xe2\x80\xa8", "\"ls\\u2028\""},
        {"nel\xc2\x85", "\"nel\\x85\""},
        {"bom\xef\xbb\xbf", "\"bom\\uFEFF\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct zp_node *m = zp_node_new_map(NULL);
        zp_node_set(m, "v", zp_node_new_str(cases[i].in, NULL));
        char *got = yaml_of(m);
        char *want = zp_asprintf("v: %s\n", cases[i].out);
        if (strcmp(got, want) != 0)
            fail_msg("case %zu: got [%s], want [%s]", i, got, want);
        free(want);
        free(got);
        /* and it reads back as the very same string */
        char *y = yaml_of(m);
        struct zp_node *back = parse_ok(y, strlen(y));
        struct zp_node *v = zp_node_get(back, "v");
        assert_int_equal(v->type, ZP_STR);
        assert_int_equal(v->len, strlen(cases[i].in));
        assert_memory_equal(v->str, cases[i].in, v->len);
        zp_node_free(back);
        free(y);
        zp_node_free(m);
    }
    /* a NUL inside a string */
    struct zp_node *m = zp_node_new_map(NULL);
    zp_node_set(m, "v", zp_node_new_strn("a\0b", 3, NULL));
    char *got = yaml_of(m);
    assert_string_equal(got, "v: \"a\\0b\"\n");
    free(got);
    assert_round_trip(m);
    zp_node_free(m);
}

static void test_yaml_keys(void **state)
{
    (void)state;
    assert_yaml("{\"8080\": a, \"1\": b, \"\": c, \"a b\": d, \"x: y\": e, \"True\": f, \"~\": g, "
                "\"<<\": h, \".Inf\": i}\n",
                "\"\": c\n"
                "\".Inf\": i\n"
                "\"1\": b\n"
                "\"8080\": a\n"
                "\"<<\": h\n"
                "\"True\": f\n"
                "a b: d\n"
                "\"x: y\": e\n"
                "\"~\": g\n");
}

static void test_yaml_tags(void **state)
{
    (void)state;
    assert_yaml("ports: !reset []\n"
                "command: !reset null\n"
                "env: !override {B: 2, A: 1}\n"
                "list: !override [1]\n"
                "s: !override x\n"
                "items:\n"
                "  - !reset {a: 1}\n"
                "  - !override [2]\n"
                "  - !reset {}\n",
                "command: !reset null\n"
                "env: !override\n"
                "  A: 1\n"
                "  B: 2\n"
                "items:\n"
                "  - !reset\n"
                "    a: 1\n"
                "  - !override\n"
                "    - 2\n"
                "  - !reset {}\n"
                "list: !override\n"
                "  - 1\n"
                "ports: !reset []\n"
                "s: !override x\n");
    struct zp_node *doc = parse_ok("env: !override {A: 1}\n", strlen("env: !override {A: 1}\n"));
    char *y = yaml_of(doc);
    struct zp_node *back = parse_ok(y, strlen(y));
    assert_int_equal(zp_node_get(back, "env")->flags, ZP_NODE_OVERRIDE);
    zp_node_free(back);
    free(y);
    zp_node_free(doc);
}

static void test_yaml_top_level_kinds(void **state)
{
    (void)state;
    struct zp_node *s = zp_node_new_str("x", NULL);
    char *y = yaml_of(s);
    assert_string_equal(y, "x\n");
    free(y);
    zp_node_free(s);
    struct zp_node *q = zp_node_new_seq(NULL);
    zp_node_push(q, zp_node_new_int(1, NULL));
    zp_node_push(q, zp_node_new_str("yes", NULL));
    y = yaml_of(q);
    assert_string_equal(y, "- 1\n- \"yes\"\n");
    free(y);
    zp_node_free(q);
    q = zp_node_new_seq(NULL);
    y = yaml_of(q);
    assert_string_equal(y, "[]\n");
    free(y);
    zp_node_free(q);
}

static void test_emit_too_big(void **state)
{
    (void)state;
    struct zp_node *doc =
        parse_ok("a: some text\nb: more text\n", strlen("a: some text\nb: more text\n"));
    struct zp_buf b;
    zp_buf_init(&b, 8);
    assert_int_equal(compose_emit_yaml(doc, &b), ZP_E_TOOBIG);
    zp_buf_release(&b);
    zp_buf_init(&b, 8);
    assert_int_equal(compose_emit_json(doc, true, &b), ZP_E_TOOBIG);
    zp_buf_release(&b);
    zp_node_free(doc);
}

/* ---- the round-trip law ---- */

static void test_round_trip_documents(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "x-base: &b {restart: always, labels: {a: '1'}}\n"
        "services:\n"
        "  web:\n"
        "    <<: *b\n"
        "    image: \"nginx:latest\"\n"
        "    healthcheck: {test: [CMD, curl, -f, 'http://localhost'], interval: 10s}\n"
        "    environment: [A=1, 'B=two words', C]\n"
        "    ports: !reset []\n",
        "a: |\n  multi\n  line\n\n  text\nb: >\n  folded\n  more\n",
        "k: \"\\t\\x01\\u00e9\\U0001F600 \\\\ \\\" end \"\n",
        "nums: [0, -0, 007, +3, 1., .5, 1e3, -1.5E-3, .inf, -.Inf, .NaN, 0xff, 0o7]\n",
        "bools: [true, True, TRUE, false, yes, no, on, off, y, n]\n",
        "nulls: [~, null, Null, NULL, '', \"\"]\n",
        "deep: {a: {b: {c: {d: [[[{e: f}]]]}}}}\n",
        "weird: [':', '-', '?', '#', '&a', '*a', '!t', '%', '@', '`', '|', '>', '<<', '---']\n",
        "\"quoted key\": 1\n'single': 2\n? explicit\n: 3\n",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct zp_node *doc = parse_ok(docs[i], strlen(docs[i]));
        assert_round_trip(doc);
        zp_node_free(doc);
    }
}

/* A small deterministic generator of awkward trees. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static char *random_string(void)
{
    static const char *const pieces[] = {
        "a",        "b",    "Z",    " ",   ":",   "#",        "-",
        "?",        "'",    "\"",   "\\",  "\n",  "\t",       "0",
        "1",        ".",    "e",    "x",   "yes", "no",       "on",
        "null",     "~",    "true", "*",   "&",   "!",        "|",
        ">",        "%",    "@",    "`",   "[",   "]",        "{",
        "}",        ",",    "<<",   "...", "---", "\xc3\xa9", "\xe2\x80\xa8",
        "\xc2\x85", "\x01", "=",    "0x",  "inf", "\r",       "\xf0\x9f\x98\x80",
        "/",        "$",    "${X}",
    };
    struct zp_buf b = ZP_BUF_INIT;
    unsigned n = rnd(5);
    for (unsigned i = 0; i < n; i++)
        zp_buf_adds(&b, pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))]);
    return zp_buf_detach(&b, NULL);
}

static struct zp_node *random_scalar(void)
{
    static const char *const ints[] = {"0", "-7", "123456789012", "42"};
    static const char *const floats[] = {"1.5", "-0.25", "1e3", ".inf", "-.inf", ".nan", "2."};
    switch (rnd(6)) {
    case 0:
        return zp_node_new_scalar(ZP_INT, ints[rnd(4)], NULL);
    case 1:
        return zp_node_new_scalar(ZP_FLOAT, floats[rnd(7)], NULL);
    case 2:
        return zp_node_new_bool(rnd(2), NULL);
    case 3:
        return zp_node_new_null(NULL);
    default: {
        char *s = random_string();
        struct zp_node *n = zp_node_new_str(s, NULL);
        free(s);
        return n;
    }
    }
}

static struct zp_node *random_tree(int depth, bool force_map)
{
    unsigned kind = force_map ? 2 : depth <= 0 ? 0 : rnd(3);
    struct zp_node *n;
    if (kind == 0) {
        n = random_scalar();
    } else if (kind == 1) {
        n = zp_node_new_seq(NULL);
        unsigned items = rnd(4);
        for (unsigned i = 0; i < items; i++)
            zp_node_push(n, random_tree(depth - 1, false));
    } else {
        n = zp_node_new_map(NULL);
        unsigned items = rnd(5);
        for (unsigned i = 0; i < items; i++) {
            char *k = random_string();
            if (zp_node_index(n, k) < 0)
                zp_node_set(n, k, random_tree(depth - 1, false));
            free(k);
        }
    }
    if (!force_map && rnd(8) == 0)
        n->flags |= rnd(2) ? ZP_NODE_RESET : ZP_NODE_OVERRIDE;
    return n;
}

static void sort_all(struct zp_node *n)
{
    if (n->kind == ZP_NODE_MAP) {
        zp_node_sort_keys(n);
        for (size_t i = 0; i < n->n; i++)
            sort_all(n->pairs[i].value);
    } else if (n->kind == ZP_NODE_SEQ) {
        for (size_t i = 0; i < n->n; i++)
            sort_all(n->items[i]);
    }
}

static void assert_same_flags(const struct zp_node *a, const struct zp_node *b)
{
    unsigned mask = ZP_NODE_RESET | ZP_NODE_OVERRIDE;
    assert_int_equal(a->flags & mask, b->flags & mask);
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; a->kind != ZP_NODE_SCALAR && i < a->n; i++) {
        if (a->kind == ZP_NODE_SEQ)
            assert_same_flags(a->items[i], b->items[i]);
        else
            assert_same_flags(a->pairs[i].value, b->pairs[i].value);
    }
}

static void test_round_trip_generated(void **state)
{
    (void)state;
    for (int round = 0; round < 500; round++) {
        struct zp_node *t = random_tree(4, true);
        sort_all(t);
        assert_round_trip(t);
        char *y = yaml_of(t);
        struct zp_node *back = parse_ok(y, strlen(y));
        assert_true(zp_node_equal(t, back));
        assert_same_flags(t, back);
        zp_node_free(back);
        free(y);
        zp_node_free(t);
    }
}

/* ---- JSON ---- */

static void test_json_layout(void **state)
{
    (void)state;
    const char *text = "b: [1, {y: null, x: true}, []]\na: {}\nc: \"s\"\n";
    struct zp_node *doc = parse_ok(text, strlen(text));
    char *j = json_of(doc, true);
    assert_string_equal(j, "{\n"
                           "  \"a\": {},\n"
                           "  \"b\": [\n"
                           "    1,\n"
                           "    {\n"
                           "      \"x\": true,\n"
                           "      \"y\": null\n"
                           "    },\n"
                           "    []\n"
                           "  ],\n"
                           "  \"c\": \"s\"\n"
                           "}\n");
    free(j);
    j = json_of(doc, false);
    assert_string_equal(j, "{\"a\":{},\"b\":[1,{\"x\":true,\"y\":null},[]],\"c\":\"s\"}");
    free(j);
    zp_node_free(doc);
}

static void test_json_escapes(void **state)
{
    (void)state;
    struct zp_node *m = zp_node_new_map(NULL);
    static const char s[] = "q\" b\\ n\n r\r t\t b\b f\f \x01\x1f\x7f \0 "
                            "\xc3\xa9 \xe2\x80\xa8 \xff/";
    zp_node_set(m, "s", zp_node_new_strn(s, sizeof(s) - 1, NULL));
    zp_node_set(m, "k\"ey\n", zp_node_new_str("v", NULL));
    char *j = json_of(m, false);
    assert_string_equal(j, "{\"k\\\"ey\\n\":\"v\",\"s\":\"q\\\" b\\\\ n\\n r\\r t\\t b\\b f\\f "
                           "\\u0001\\u001f\x7f \\u0000 \xc3\xa9 \xe2\x80\xa8 \\ufffd/\"}");
    free(j);
    zp_node_free(m);
}

/* Every '$' of the strings, keys included, is doubled (as `docker compose config`). */
static void test_escape_dollars(void **state)
{
    (void)state;
    const char *text = "labels:\n  app.${X}.role: $$v\n  plain: 3\nlist: [a$b, 4]\n";
    struct zp_node *doc = parse_ok(text, strlen(text));
    compose_escape_dollars(doc);
    char *j = json_of(doc, false);
    assert_string_equal(j, "{\"labels\":{\"app.$${X}.role\":\"$$$$v\",\"plain\":3},"
                           "\"list\":[\"a$$b\",4]}");
    free(j);
    zp_node_free(doc);
}

static void test_json_numbers(void **state)
{
    (void)state;
    struct zp_node *doc;
    const char *text = "a: [007, +5, -0, 0x1F, 0o17, 1., .5, -.5, +1.50e+3, 1E3, .inf, -.inf, "
                       ".nan, 99999999999999999999, True, ~, '8080', 00.5]\n";
    doc = parse_ok(text, strlen(text));
    char *j = json_of(doc, false);
    assert_string_equal(j, "{\"a\":[7,5,-0,31,15,1,0.5,-0.5,1.50e+3,1e3,\".inf\",\"-.inf\","
                           "\".nan\",99999999999999999999,true,null,\"8080\",0.5]}");
    free(j);
    zp_node_free(doc);
}

/* ---- hashes ---- */

static void test_service_hash(void **state)
{
    (void)state;
    const char *a = "image: nginx\nports: [80, 443]\nenvironment: {A: '1', B: '2'}\n";
    const char *b = "\n\nenvironment:\n  B: '2'\n  A: '1'\nports:\n  - 80\n  - 443\nimage: nginx\n";
    const char *c = "image: nginx\nports: [443, 80]\nenvironment: {A: '1', B: '2'}\n";
    struct zp_node *na = parse_ok(a, strlen(a)), *nb = parse_ok(b, strlen(b));
    struct zp_node *nc = parse_ok(c, strlen(c));
    char ha[65], hb[65], hc[65], want[65];
    compose_service_hash(na, ha);
    compose_service_hash(nb, hb);
    compose_service_hash(nc, hc);
    assert_int_equal(strlen(ha), 64);
    assert_string_equal(ha, hb); /* key order and positions do not matter */
    assert_string_not_equal(ha, hc);
    char *j = json_of(na, false);
    zp_sha256_hex(j, strlen(j), want);
    assert_string_equal(ha, want);
    free(j);
    /* a changed value changes the hash */
    zp_node_set(na, "image", zp_node_new_str("nginx:1", NULL));
    compose_service_hash(na, hc);
    assert_string_not_equal(ha, hc);
    zp_node_free(na);
    zp_node_free(nb);
    zp_node_free(nc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_layout),
        cmocka_unit_test(test_yaml_scalars),
        cmocka_unit_test(test_yaml_quoting),
        cmocka_unit_test(test_yaml_keys),
        cmocka_unit_test(test_yaml_tags),
        cmocka_unit_test(test_yaml_top_level_kinds),
        cmocka_unit_test(test_emit_too_big),
        cmocka_unit_test(test_round_trip_documents),
        cmocka_unit_test(test_round_trip_generated),
        cmocka_unit_test(test_json_layout),
        cmocka_unit_test(test_json_escapes),
        cmocka_unit_test(test_escape_dollars),
        cmocka_unit_test(test_json_numbers),
        cmocka_unit_test(test_service_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for template/: every magic variable rule (names, lengths, alphabets), the
 * header, content / is_directory, undeclared volumes, variables, routes, --minimal,
 * actions, stored values (stable for a project, different across projects), the built-ins
 * and the corpus under tests/data/templates (each renders to a compose file zpanel's
 * loader accepts). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compose/compose.h"
#include "template/template.h"
#include "util/util.h"

static bool all_in(const char *s, const char *alphabet)
{
    for (; *s; s++)
        if (!strchr(alphabet, *s))
            return false;
    return true;
}

static const char ALNUM[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char LOWER[] = "abcdefghijklmnopqrstuvwxyz0123456789";
static const char HEX[] = "0123456789abcdef";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";

static char *gen(const char *name, struct template_magic *m)
{
    assert_true(template_magic_parse(name, m));
    return template_magic_random(m);
}

static void test_magic_names(void **state)
{
    (void)state;
    struct template_magic m;
    assert_false(template_magic_parse("POSTGRES_PASSWORD", &m));
    assert_false(template_magic_parse("SERVICE_PASSWORD_", &m));
    assert_false(template_magic_parse("SERVICE_UNKNOWN_X", &m));
    assert_false(template_magic_parse("SERVICE_PASSWORD_A-B", &m));
    assert_false(template_magic_parse("SERVICE_HEX_X", &m)); /* HEX needs a length */

    assert_true(template_magic_parse("SERVICE_PASSWORD_DB", &m));
    assert_int_equal(m.kind, TEMPLATE_MAGIC_PASSWORD);
    assert_int_equal(m.len, 32);
    assert_string_equal(m.ident, "DB");
    assert_true(template_magic_parse("SERVICE_PASSWORD_64_DB", &m));
    assert_int_equal(m.len, 64);
    assert_string_equal(m.ident, "DB");
    assert_true(template_magic_parse("SERVICE_PASSWORDWITHSYMBOLS_ADMIN", &m));
    assert_int_equal(m.kind, TEMPLATE_MAGIC_PASSWORDSYM);
    assert_true(template_magic_parse("SERVICE_BASE64_128_KEY", &m));
    assert_int_equal(m.kind, TEMPLATE_MAGIC_BASE64);
    assert_int_equal(m.len, 128);
    assert_true(template_magic_parse("SERVICE_REALBASE64_64_KEY", &m));
    assert_int_equal(m.kind, TEMPLATE_MAGIC_REALBASE64);
    assert_int_equal(m.len, 64);
    assert_true(template_magic_parse("SERVICE_NAME_WEB_APP", &m));
    assert_int_equal(m.kind, TEMPLATE_MAGIC_NAME);
    assert_string_equal(m.ident, "WEB_APP");

    /* FQDN / URL with and without a port; identifiers with underscores */
    assert_true(template_magic_parse("SERVICE_FQDN_APP", &m));
    assert_int_equal(m.kind, TEMPLATE_MAGIC_FQDN);
    assert_int_equal(m.port, 0);
    assert_true(template_magic_parse("SERVICE_FQDN_APP_8080", &m));
    assert_string_equal(m.ident, "APP");
    assert_int_equal(m.port, 8080);
    assert_true(template_magic_parse("SERVICE_URL_MY_API_3000", &m));
    assert_int_equal(m.kind, TEMPLATE_MAGIC_URL);
    assert_string_equal(m.ident, "MY_API");
    assert_int_equal(m.port, 3000);
    assert_true(template_magic_parse("SERVICE_FQDN_APP_99999", &m)); /* not a port: ident */
    assert_string_equal(m.ident, "APP_99999");
    assert_int_equal(m.port, 0);

    /* shared keys */
    struct template_magic a, b;
    assert_true(template_magic_parse("SERVICE_FQDN_APP", &a));
    assert_true(template_magic_parse("SERVICE_URL_APP_8080", &b));
    char *ka = template_magic_key(&a), *kb = template_magic_key(&b);
    assert_string_equal(ka, kb);
    free(ka);
    free(kb);
    assert_true(template_magic_parse("SERVICE_PASSWORD_DB", &a));
    assert_true(template_magic_parse("SERVICE_PASSWORD_64_DB", &b));
    ka = template_magic_key(&a);
    kb = template_magic_key(&b);
    assert_string_not_equal(ka, kb);
    free(ka);
    free(kb);
}

static void test_magic_values(void **state)
{
    (void)state;
    struct template_magic m;
    struct {
        const char *name;
        size_t len;
        const char *alphabet;
    } cases[] = {
        {"SERVICE_PASSWORD_X", 32, ALNUM},    {"SERVICE_PASSWORD_64_X", 64, ALNUM},
        {"SERVICE_USER_X", 16, ALNUM},        {"SERVICE_LOWERCASEUSER_X", 16, LOWER},
        {"SERVICE_BASE64_X", 32, ALNUM},      {"SERVICE_BASE64_32_X", 32, ALNUM},
        {"SERVICE_BASE64_64_X", 64, ALNUM},   {"SERVICE_BASE64_128_X", 128, ALNUM},
        {"SERVICE_HEX_32_X", 32, HEX},        {"SERVICE_HEX_64_X", 64, HEX},
        {"SERVICE_HEX_128_X", 128, HEX},      {"SERVICE_REALBASE64_X", 44, B64},
        {"SERVICE_REALBASE64_64_X", 88, B64}, {"SERVICE_REALBASE64_128_X", 172, B64},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *v1 = gen(cases[i].name, &m);
        char *v2 = gen(cases[i].name, &m);
        assert_int_equal(strlen(v1), cases[i].len);
        assert_true(all_in(v1, cases[i].alphabet));
        assert_string_not_equal(v1, v2); /* random: two draws differ */
        free(v1);
        free(v2);
    }
    /* REALBASE64 is base64 of that many bytes: 32 bytes -> 44 chars ending in one '=' */
    char *b = gen("SERVICE_REALBASE64_32_X", &m);
    assert_int_equal(b[43], '=');
    assert_int_not_equal(b[42], '=');
    free(b);
    /* with symbols: 32 characters, at least one symbol, never '$', quotes or spaces */
    for (int k = 0; k < 50; k++) {
        char *s =
            gen(k % 2 ? "SERVICE_PASSWORDWITHSYMBOLS_X" : "SERVICE_PASSWORDWITHSYMBOLS_64_X", &m);
        assert_int_equal(strlen(s), k % 2 ? 32 : 64);
        assert_false(all_in(s, ALNUM));
        assert_null(strpbrk(s, "$'\"`\\ \n"));
        free(s);
    }
    /* lowercase users over many draws: never an upper-case letter */
    for (int k = 0; k < 50; k++) {
        char *s = gen("SERVICE_LOWERCASEUSER_X", &m);
        assert_true(all_in(s, LOWER));
        free(s);
    }
    /* zpanel's UUID_X: a version 4 UUID */
    for (int k = 0; k < 20; k++) {
        char *u = gen("SERVICE_UUID_X", &m);
        assert_int_equal(strlen(u), 36);
        for (int i = 0; i < 36; i++)
            assert_true(i == 8 || i == 13 || i == 18 || i == 23 ? u[i] == '-'
                                                                : strchr(HEX, u[i]) != NULL);
        assert_int_equal(u[14], '4');
        assert_non_null(strchr("89ab", u[19]));
        free(u);
    }
    assert_true(template_magic_parse("SERVICE_FQDN_X", &m));
    assert_null(template_magic_random(&m));
}

static void test_header(void **state)
{
    (void)state;
    const char *t = "# documentation: https://example.org/docs\n"
                    "# slogan: A thing: with a colon\n"
                    "# category: database\n"
                    "# tags: SQL, db , ,postgres\n"
                    "# logo: svgs/x.svg\n"
                    "\n"
                    "# port: 5432\n"
                    "# minversion: 4.0.0-beta.300\n"
                    "# env_file: .env.example\n"
                    "# ignore: true\n"
                    "# minimal: web, db\n"
                    "# just a comment\n"
                    "services:\n"
                    "# slogan: not a header any more\n";
    struct template_header h;
    struct zp_diags d;
    zp_diags_init(&d);
    assert_int_equal(template_header_parse("t.yaml", t, strlen(t), &h, &d), 0);
    assert_int_equal(d.n, 0);
    assert_string_equal(h.documentation, "https://example.org/docs");
    assert_string_equal(h.slogan, "A thing: with a colon");
    assert_string_equal(h.category, "database");
    assert_int_equal(h.ntags, 3);
    assert_string_equal(h.tags[0], "sql");
    assert_string_equal(h.tags[1], "db");
    assert_string_equal(h.tags[2], "postgres");
    assert_string_equal(h.logo, "svgs/x.svg");
    assert_int_equal(h.port, 5432);
    assert_string_equal(h.minversion, "4.0.0-beta.300");
    assert_string_equal(h.env_file, ".env.example");
    assert_true(h.ignore);
    assert_int_equal(h.nminimal, 2);
    assert_string_equal(h.minimal[1], "db");
    template_header_release(&h);
    zp_diags_release(&d);

    /* errors name file:line:col; unknown keys are warnings */
    const char *bad = "# slogan: x\n# port: 80a\n# colour: red\n# ignore: maybe\n";
    zp_diags_init(&d);
    assert_int_equal(template_header_parse("b.yaml", bad, strlen(bad), &h, &d), ZP_E_INPUT);
    assert_int_equal(d.errors, 2);
    char *first = zp_diag_render(&d.items[0]);
    assert_non_null(strstr(first, "b.yaml:2:3"));
    assert_non_null(strstr(first, "'80a'"));
    free(first);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.items[1].sev, ZP_SEV_WARNING);
    zp_diags_release(&d);
}

struct out {
    struct template_rendered r;
    struct zp_diags d;
    int rc;
};

static void render(const char *text, const char *project, const char *domain, bool min,
                   struct compose_env *st, struct out *o)
{
    zp_diags_init(&o->d);
    struct template_render_opts opts = {project, domain, min, NULL, false};
    o->rc = template_render("t.yaml", text, strlen(text), &opts, st, &o->r, &o->d);
}

static void out_release(struct out *o)
{
    if (o->rc == 0)
        template_rendered_release(&o->r);
    zp_diags_release(&o->d);
}

static const char *APP =
    "# slogan: test\n"
    "# minimal: app\n"
    "services:\n"
    "  app:\n"
    "    image: app\n"
    "    environment:\n"
    "      - SERVICE_FQDN_APP_8080\n"
    "      - DB_PASS=${SERVICE_PASSWORD_DB}\n"
    "      - SECRET=${SERVICE_BASE64_64_SECRET}\n"
    "      - SELF=${SERVICE_URL_APP}\n"
    "      - DBHOST=${SERVICE_NAME_DB}\n"
    "      - TITLE=${TITLE:-My app}\n"
    "      - KEY=${LICENSE_KEY:?a licence key is needed}\n"
    "    volumes:\n"
    "      - app-data:/data\n"
    "      - type: bind\n"
    "        source: ./conf/app.ini\n"
    "        target: /etc/app.ini\n"
    "        content: |\n"
    "          [main]\n"
    "          port = 8080\n"
    "      - type: bind\n"
    "        source: ./uploads\n"
    "        target: /uploads\n"
    "        is_directory: true\n"
    "    depends_on: [db]\n"
    "  db:\n"
    "    image: db\n"
    "    exclude_from_hc: true\n"
    "    environment:\n"
    "      PASSWORD: ${SERVICE_PASSWORD_DB}\n"
    "      SERVICE_USER_DB:\n"
    "    volumes:\n"
    "      - type: volume\n"
    "        source: db-data\n"
    "        target: /var/lib/db\n"
    "      - ./local:/local\n"
    "x-zpanel:\n"
    "  actions:\n"
    "    dump: {service: db, command: [db-dump, --all], description: a dump}\n";

static void test_content_values(void **state)
{
    (void)state;
    const char *t =
        "services:\n"
        "  a:\n"
        "    image: x\n"
        "    volumes:\n"
        "      - type: bind\n"
        "        source: ./a.conf\n"
        "        target: /a.conf\n"
        "        content: |\n"
        "          id ${SERVICE_UUID_A} key ${SERVICE_HEX_32_K}\n"
        "          shell $HOME ${HOME} $${X} ${SERVICE_NOPE_X} ${SERVICE_PASSWORD_P:-d}\n";
    struct compose_env st;
    compose_env_init(&st);
    struct out o;
    render(t, "p", NULL, false, &st, &o);
    assert_int_equal(o.rc, 0);
    const char *uuid = compose_env_get(&o.r.env, "SERVICE_UUID_A");
    const char *key = compose_env_get(&o.r.env, "SERVICE_HEX_32_K");
    assert_non_null(uuid);
    assert_non_null(key);
    char *want = zp_asprintf("id %s key %s\nshell $HOME ${HOME} $${X} ${SERVICE_NOPE_X} "
                             "${SERVICE_PASSWORD_P:-d}\n",
                             uuid, key);
    assert_string_equal(o.r.files[0].content, want);
    free(want);
    /* the values are stored: the same content again */
    char *first = zp_strdup(o.r.files[0].content);
    out_release(&o);
    render(t, "p", NULL, false, &st, &o);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.r.files[0].content, first);
    free(first);
    out_release(&o);
    compose_env_release(&st);
}

static void test_render(void **state)
{
    (void)state;
    struct compose_env st, set;
    compose_env_init(&st);
    compose_env_init(&set);
    struct out o;
    /* a required variable without a value: an error naming it */
    render(APP, "shop", NULL, false, &st, &o);
    assert_int_equal(o.rc, ZP_E_INPUT);
    assert_int_equal(o.d.errors, 1);
    assert_non_null(strstr(o.d.items[0].msg, "LICENSE_KEY"));
    out_release(&o);

    /* missing_ok: rendered, the required variable listed without a value */
    zp_diags_init(&o.d);
    struct template_render_opts lax = {"shop", NULL, false, NULL, true};
    struct compose_env tmp;
    compose_env_init(&tmp);
    o.rc = template_render("t.yaml", APP, strlen(APP), &lax, &tmp, &o.r, &o.d);
    assert_int_equal(o.rc, 0);
    assert_null(compose_env_get(&o.r.env, "LICENSE_KEY"));
    out_release(&o);
    compose_env_release(&tmp);

    compose_env_set(&set, "LICENSE_KEY", "abc");
    zp_diags_init(&o.d);
    struct template_render_opts opts = {"shop", "shop.example.com", false, &set, false};
    o.rc = template_render("t.yaml", APP, strlen(APP), &opts, &st, &o.r, &o.d);
    assert_int_equal(o.rc, 0);
    struct template_rendered *r = &o.r;
    /* values: one password shared by both services, the right lengths */
    const char *pw = compose_env_get(&r->env, "SERVICE_PASSWORD_DB");
    assert_non_null(pw);
    assert_int_equal(strlen(pw), 32);
    assert_int_equal(strlen(compose_env_get(&r->env, "SERVICE_BASE64_64_SECRET")), 64);
    assert_int_equal(strlen(compose_env_get(&r->env, "SERVICE_USER_DB")), 16);
    assert_string_equal(compose_env_get(&r->env, "SERVICE_FQDN_APP_8080"), "shop.example.com");
    assert_string_equal(compose_env_get(&r->env, "SERVICE_URL_APP"), "https://shop.example.com");
    assert_string_equal(compose_env_get(&r->env, "SERVICE_NAME_DB"), "db");
    assert_string_equal(compose_env_get(&r->env, "LICENSE_KEY"), "abc");
    /* variables: defaults and required ones */
    bool title = false, key = false;
    for (size_t i = 0; i < r->nvars; i++) {
        if (strcmp(r->vars[i].name, "TITLE") == 0)
            title = r->vars[i].def && strcmp(r->vars[i].def, "My app") == 0 && !r->vars[i].required;
        if (strcmp(r->vars[i].name, "LICENSE_KEY") == 0)
            key = r->vars[i].required;
    }
    assert_true(title);
    assert_true(key);
    /* the magic keys got their value as references */
    struct zp_node *svcs = zp_node_get(r->model, "services");
    struct zp_node *app = zp_node_get(svcs, "app");
    struct zp_node *db = zp_node_get(svcs, "db");
    assert_string_equal(zp_node_get(app, "environment")->items[0]->str,
                        "SERVICE_FQDN_APP_8080=${SERVICE_FQDN_APP_8080}");
    assert_string_equal(zp_node_get_str(zp_node_get(db, "environment"), "SERVICE_USER_DB"),
                        "${SERVICE_USER_DB}");
    /* the route */
    assert_int_equal(r->nroutes, 1);
    assert_string_equal(r->routes[0].service, "app");
    assert_string_equal(r->routes[0].host, "shop.example.com");
    assert_int_equal(r->routes[0].port, 8080);
    struct zp_node *routes = zp_node_get(zp_node_get(app, "x-zpanel"), "routes");
    assert_non_null(routes);
    assert_string_equal(zp_node_get_str(routes->items[0], "host"), "shop.example.com");
    /* exclude_from_hc stripped and recorded */
    assert_null(zp_node_get(db, "exclude_from_hc"));
    assert_int_equal(r->nhc_excluded, 1);
    assert_string_equal(r->hc_excluded[0], "db");
    /* ... and carried as zpanel's mark, which health verdicts honour */
    const struct zp_node *dbx = zp_node_get(zp_node_get(db, "x-zpanel"), "exclude_from_health");
    assert_non_null(dbx);
    assert_int_equal(dbx->type, ZP_BOOL);
    assert_string_equal(dbx->str, "true");
    assert_null(zp_node_get(app, "x-zpanel")
                    ? zp_node_get(zp_node_get(app, "x-zpanel"), "exclude_from_health")
                    : NULL);
    /* content and is_directory */
    assert_int_equal(r->nfiles, 2);
    assert_string_equal(r->files[0].path, "conf/app.ini");
    assert_string_equal(r->files[0].content, "[main]\nport = 8080\n");
    assert_false(r->files[0].is_dir);
    assert_string_equal(r->files[1].path, "uploads");
    assert_true(r->files[1].is_dir);
    struct zp_node *v1 = zp_node_get(app, "volumes")->items[1];
    assert_null(zp_node_get(v1, "content"));
    assert_null(zp_node_get(zp_node_get(app, "volumes")->items[2], "is_directory"));
    /* named volumes declared, bind sources not */
    struct zp_node *vols = zp_node_get(r->model, "volumes");
    assert_non_null(zp_node_get(vols, "app-data"));
    assert_non_null(zp_node_get(vols, "db-data"));
    assert_null(zp_node_get(vols, "./local"));
    assert_int_equal(vols->n, 2);
    /* actions */
    assert_int_equal(r->nactions, 1);
    assert_string_equal(r->actions[0].name, "dump");
    assert_string_equal(r->actions[0].service, "db");
    assert_int_equal(r->actions[0].argc, 2);
    assert_string_equal(r->actions[0].argv[1], "--all");
    assert_string_equal(zp_node_get_str(r->model, "name"), "shop");

    /* a second render with the same state: the same values, none regenerated */
    char *pw1 = zp_strdup(pw);
    size_t nstate = st.n;
    out_release(&o);
    zp_diags_init(&o.d);
    opts.domain = NULL; /* the stored domain is kept */
    o.rc = template_render("t.yaml", APP, strlen(APP), &opts, &st, &o.r, &o.d);
    assert_int_equal(o.rc, 0);
    assert_string_equal(compose_env_get(&o.r.env, "SERVICE_PASSWORD_DB"), pw1);
    assert_string_equal(compose_env_get(&o.r.env, "SERVICE_FQDN_APP_8080"), "shop.example.com");
    assert_int_equal(st.n, nstate);
    out_release(&o);

    /* another project (its own state): different values; without a domain, .localhost */
    struct compose_env st2;
    compose_env_init(&st2);
    zp_diags_init(&o.d);
    opts.project = "blog";
    o.rc = template_render("t.yaml", APP, strlen(APP), &opts, &st2, &o.r, &o.d);
    assert_int_equal(o.rc, 0);
    assert_string_not_equal(compose_env_get(&o.r.env, "SERVICE_PASSWORD_DB"), pw1);
    assert_string_equal(compose_env_get(&o.r.env, "SERVICE_FQDN_APP_8080"), "app-blog.localhost");
    assert_string_equal(compose_env_get(&o.r.env, "SERVICE_URL_APP"), "http://app-blog.localhost");
    out_release(&o);

    /* --minimal: only app; its dependency on db is gone, and so is db's action */
    zp_diags_init(&o.d);
    opts.minimal = true;
    o.rc = template_render("t.yaml", APP, strlen(APP), &opts, &st2, &o.r, &o.d);
    assert_int_equal(o.rc, 0);
    svcs = zp_node_get(o.r.model, "services");
    assert_int_equal(svcs->n, 1);
    assert_null(zp_node_get(zp_node_get(svcs, "app"), "depends_on"));
    assert_int_equal(o.r.nactions, 0);
    out_release(&o);

    free(pw1);
    compose_env_release(&st);
    compose_env_release(&st2);
    compose_env_release(&set);
}

static void test_render_errors(void **state)
{
    (void)state;
    struct compose_env st;
    compose_env_init(&st);
    struct out o;
    render("services:\n  a:\n    image: x\n    volumes:\n      - type: bind\n"
           "        source: ../outside\n        target: /x\n        content: hi\n",
           "p", NULL, false, &st, &o);
    assert_int_equal(o.rc, ZP_E_INPUT);
    char *msg = zp_diag_render(&o.d.items[0]);
    assert_non_null(strstr(msg, "t.yaml:5:"));
    assert_non_null(strstr(msg, "services.a.volumes[0]"));
    free(msg);
    out_release(&o);
    render("# slogan: x\nfoo: 1\n", "p", NULL, false, &st, &o);
    assert_int_equal(o.rc, ZP_E_INPUT);
    out_release(&o);
    render("services:\n  a:\n    image: x\n", "p", NULL, true, &st, &o);
    assert_int_equal(o.rc, ZP_E_INPUT);
    assert_non_null(strstr(o.d.items[0].msg, "minimal"));
    out_release(&o);
    render("services: [\n", "p", NULL, false, &st, &o);
    assert_int_equal(o.rc, ZP_E_INPUT);
    out_release(&o);
    struct compose_env bad;
    compose_env_init(&bad);
    compose_env_set(&bad, "X", "a\nb");
    zp_diags_init(&o.d);
    struct template_render_opts bo = {"p", NULL, false, &bad, false};
    o.rc = template_render("t.yaml", "services: {a: {image: x}}\n", 26, &bo, &st, &o.r, &o.d);
    assert_int_equal(o.rc, ZP_E_INPUT);
    assert_non_null(strstr(o.d.items[0].msg, "line break"));
    out_release(&o);
    compose_env_release(&bad);
    assert_int_equal(st.n, 0); /* nothing generated by failed renders */
    compose_env_release(&st);
}

/* Render text into a temporary project directory and load it with zpanel's loader. */
static void render_and_load(const char *name, const char *text, size_t len)
{
    char dir[] = "/tmp/zp-template-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct compose_env st, set;
    compose_env_init(&st);
    compose_env_init(&set);
    compose_env_set(&set, "ADMIN_EMAIL", "admin@example.com");
    compose_env_set(&set, "DOMAIN", "vpn.example.com");
    compose_env_set(&set, "EMAIL", "ops@example.com");
    struct template_render_opts opts = {"corpus", NULL, false, &set, false};
    struct template_rendered r;
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = template_render(name, text, len, &opts, &st, &r, &d);
    if (rc != 0)
        for (size_t i = 0; i < d.n; i++) {
            char *m = zp_diag_render(&d.items[i]);
            fprintf(stderr, "%s\n", m);
            free(m);
        }
    assert_int_equal(rc, 0);
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(template_write_project(&r, dir, true, &err), 0);
    for (size_t i = 0; i < r.nfiles; i++) {
        char *p = zp_path_join(dir, r.files[i].path);
        struct stat sb;
        assert_int_equal(stat(p, &sb), 0);
        assert_true(r.files[i].is_dir ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode));
        free(p);
    }
    char *envp = zp_path_join(dir, ".env");
    struct stat sb;
    assert_int_equal(stat(envp, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    free(envp);
    char *file = zp_path_join(dir, "compose.yaml");
    const char *files[] = {file};
    char *environ_empty[] = {NULL};
    struct compose_options co = {.files = files, .nfiles = 1, .environ = environ_empty};
    struct compose_project *p = NULL;
    zp_diags_release(&d);
    zp_diags_init(&d);
    rc = compose_project_load(&co, &p, &d);
    if (rc != 0)
        for (size_t i = 0; i < d.n; i++) {
            char *m = zp_diag_render(&d.items[i]);
            fprintf(stderr, "%s: %s\n", name, m);
            free(m);
        }
    assert_int_equal(rc, 0);
    assert_string_equal(p->name, "corpus");
    /* every magic value reached the model through .env */
    struct zp_buf b = ZP_BUF_INIT;
    compose_emit_yaml(p->model, &b);
    assert_null(strstr(zp_buf_cstr(&b), "${SERVICE_"));
    zp_buf_release(&b);
    compose_project_free(p);
    zp_diags_release(&d);
    template_rendered_release(&r);
    compose_env_release(&st);
    compose_env_release(&set);
    /* clean up the directory */
    char *cmd = zp_asprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(file);
}

static void test_corpus(void **state)
{
    (void)state;
    const char *cdir = ZP_SOURCE_DIR "/tests/data/templates";
    DIR *dd = opendir(cdir);
    assert_non_null(dd);
    struct dirent *de;
    size_t n = 0;
    while ((de = readdir(dd)) != NULL) {
        if (!zp_str_has_suffix(de->d_name, ".yaml"))
            continue;
        char *path = zp_path_join(cdir, de->d_name);
        char *text = NULL;
        size_t len = 0;
        struct zp_err err;
        zp_err_init(&err);
        assert_int_equal(zp_file_read(path, TEMPLATE_MAX_SIZE, &text, &len, &err), 0);
        render_and_load(path, text, len);
        free(text);
        free(path);
        n++;
    }
    closedir(dd);
    assert_true(n >= 8);
}

static void test_builtins(void **state)
{
    (void)state;
    assert_true(template_nbuiltins >= 6);
    struct template_catalog c;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(template_catalog_load(NULL, &c, &err), 0);
    const char *want[] = {"postgresql", "mysql", "mariadb", "mongodb", "redis", "valkey"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct template_entry *e = template_catalog_find(&c, want[i]);
        assert_non_null(e);
        assert_non_null(e->header.slogan);
        assert_true(e->header.port > 0);
        /* generated credentials and a health check */
        assert_non_null(strstr(e->text, "${SERVICE_PASSWORD_"));
        assert_non_null(strstr(e->text, "healthcheck:"));
    }
    for (size_t i = 0; i < c.n; i++)
        render_and_load(c.items[i].name, c.items[i].text, c.items[i].len);
    assert_true(template_entry_matches(template_catalog_find(&c, "postgresql"), "SQL"));
    assert_false(template_entry_matches(template_catalog_find(&c, "redis"), "sql"));
    template_catalog_release(&c);
}

static char *slurp(const char *path)
{
    char *data = NULL;
    size_t len = 0;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(zp_file_read(path, 1 << 20, &data, &len, &err), 0);
    return data;
}

static void put(const char *path, const char *text, mode_t mode)
{
    char *dir = zp_path_dir(path);
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(zp_mkdir_p(dir, 0700, &err), 0);
    free(dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* The stored values through the file: sealed at rest, read back, stable across renders of
 * a project, different for another; plaintext files of an older zpanel read and migrate. */
static void test_state_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/zp-tstate-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *p = template_state_path(dir, "shop");
    struct compose_env a, b;
    compose_env_init(&a);
    compose_env_init(&b);
    struct zp_err err;
    zp_err_init(&err);
    size_t plain = 99;
    assert_int_equal(template_state_load(dir, "shop", &a, &plain, &err), 0); /* missing */
    assert_int_equal(a.n, 0);
    assert_int_equal(plain, 0);
    compose_env_set(&a, "PASSWORD_DB", "x=y-secret-value");
    compose_env_set(&a, "DOMAIN", "a.example");
    assert_int_equal(template_state_save(dir, "shop", &a, &err), 0);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* at rest: every value sealed, none in the clear */
    char *text = slurp(p);
    assert_null(strstr(text, "x=y-secret-value"));
    assert_null(strstr(text, "a.example"));
    assert_non_null(strstr(text, "PASSWORD_DB=zpenc:v1:"));
    assert_non_null(strstr(text, "DOMAIN=zpenc:v1:"));
    free(text);
    assert_int_equal(template_state_load(dir, "shop", &b, &plain, &err), 0);
    assert_int_equal(b.n, 2);
    assert_int_equal(plain, 0);
    assert_string_equal(compose_env_get(&b, "PASSWORD_DB"), "x=y-secret-value");
    assert_string_equal(compose_env_get(&b, "DOMAIN"), "a.example");
    compose_env_release(&a);
    compose_env_release(&b);

    /* a file an older zpanel wrote in the clear: read as it is, sealed at the next save */
    char *old = template_state_path(dir, "legacy");
    put(old, "SERVICE_PASSWORD_DB=oldplainpassword\nZPANEL_DOMAIN=old.example\n", 0600);
    compose_env_init(&a);
    assert_int_equal(template_state_load(dir, "legacy", &a, &plain, &err), 0);
    assert_int_equal(plain, 2);
    assert_string_equal(compose_env_get(&a, "SERVICE_PASSWORD_DB"), "oldplainpassword");
    assert_int_equal(template_state_save(dir, "legacy", &a, &err), 0);
    text = slurp(old);
    assert_null(strstr(text, "oldplainpassword"));
    assert_non_null(strstr(text, "SERVICE_PASSWORD_DB=zpenc:v1:"));
    free(text);
    compose_env_init(&b);
    assert_int_equal(template_state_load(dir, "legacy", &b, &plain, &err), 0);
    assert_int_equal(plain, 0);
    assert_string_equal(compose_env_get(&b, "SERVICE_PASSWORD_DB"), "oldplainpassword");
    compose_env_release(&a);
    compose_env_release(&b);

    /* renders through the stored file: the same values on a redeploy, others elsewhere */
    static const char *T = "services:\n  db:\n    image: db\n    environment:\n"
                           "      PW: ${SERVICE_PASSWORD_DB}\n      U: ${SERVICE_USER_DB}\n";
    char *pw[3] = {NULL, NULL, NULL};
    const char *projects[3] = {"one", "one", "two"};
    for (int i = 0; i < 3; i++) {
        struct compose_env st;
        compose_env_init(&st);
        assert_int_equal(template_state_load(dir, projects[i], &st, NULL, &err), 0);
        struct out o;
        render(T, projects[i], NULL, false, &st, &o);
        assert_int_equal(o.rc, 0);
        pw[i] = zp_strdup(compose_env_get(&o.r.env, "SERVICE_PASSWORD_DB"));
        assert_int_equal(strlen(pw[i]), 32);
        assert_int_equal(template_state_save(dir, projects[i], &st, &err), 0);
        char *sp = template_state_path(dir, projects[i]);
        text = slurp(sp);
        assert_null(strstr(text, pw[i]));
        free(text);
        free(sp);
        out_release(&o);
        compose_env_release(&st);
    }
    assert_string_equal(pw[0], pw[1]);
    assert_string_not_equal(pw[0], pw[2]);
    for (int i = 0; i < 3; i++)
        free(pw[i]);

    /* a value sealed under another key does not open: an error naming the file and key */
    char *key = zp_asprintf("%s/secret.key", dir);
    put(key, "0123456789abcdef0123456789abcdef", 0600);
    compose_env_init(&a);
    assert_int_equal(template_state_load(dir, "shop", &a, NULL, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "shop.env:1"));
    assert_int_equal(a.n, 0);
    compose_env_release(&a);
    free(key);

    free(old);
    free(p);
    char *cmd = zp_asprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

/* Files under dir whose bytes hold needle (a newly allocated, newline-separated list of
 * the paths relative to dir). */
static void files_holding(const char *dir, const char *rel, const char *needle, struct zp_buf *out)
{
    char *path = *rel ? zp_path_join(dir, rel) : zp_strdup(dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *r = *rel ? zp_asprintf("%s/%s", rel, e->d_name) : zp_strdup(e->d_name);
        char *full = zp_path_join(dir, r);
        struct stat sb;
        assert_int_equal(lstat(full, &sb), 0);
        if (S_ISDIR(sb.st_mode)) {
            files_holding(dir, r, needle, out);
        } else if (S_ISREG(sb.st_mode)) {
            char *text = slurp(full);
            if (strstr(text, needle))
                zp_buf_addf(out, "%s\n", r);
            free(text);
        }
        free(full);
        free(r);
    }
    closedir(d);
    free(path);
}

/* `template deploy`'s environment: sealed in the state directory, no .env in the project
 * (an older zpanel's generated lines stripped from one), supplied to the loader below the
 * project's .env and the process environment; no generated value in the clear in any file
 * but the content file the template asks for. */
static void test_sealed_env(void **state)
{
    (void)state;
    char dir[] = "/tmp/zp-tenv-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *sdir = zp_path_join(dir, "state"), *pdir = zp_path_join(dir, "proj");
    static const char *T =
        "services:\n  db:\n    image: db\n    environment:\n"
        "      PW: ${SERVICE_PASSWORD_DB}\n      TOK: ${SERVICE_HEX_32_DB}\n"
        "      MODE: ${MODE:-quiet}\n"
        "    volumes:\n      - type: bind\n        source: ./db.conf\n"
        "        target: /etc/db.conf\n        content: \"pw ${SERVICE_PASSWORD_DB}\"\n";
    struct zp_err err;
    zp_err_init(&err);
    char *tok[2] = {NULL, NULL}, *pw = NULL;
    for (int i = 0; i < 2; i++) { /* a deploy, then a redeploy */
        struct compose_env st;
        compose_env_init(&st);
        assert_int_equal(template_state_load(sdir, "shop", &st, NULL, &err), 0);
        struct out o;
        render(T, "shop", NULL, false, &st, &o);
        assert_int_equal(o.rc, 0);
        assert_int_equal(template_state_save(sdir, "shop", &st, &err), 0);
        assert_int_equal(template_env_save(sdir, "shop", &o.r.env, &err), 0);
        tok[i] = zp_strdup(compose_env_get(&o.r.env, "SERVICE_HEX_32_DB"));
        if (i == 0) {
            pw = zp_strdup(compose_env_get(&o.r.env, "SERVICE_PASSWORD_DB"));
            /* an older zpanel's .env: its generated lines go, the user's own line stays */
            char *envp = zp_path_join(pdir, ".env");
            char *old = zp_asprintf("SERVICE_PASSWORD_DB='%s'\nMINE=kept\n", pw);
            put(envp, old, 0600);
            free(old);
            free(envp);
        }
        assert_int_equal(template_write_project(&o.r, pdir, false, &err), 0);
        out_release(&o);
        compose_env_release(&st);
    }
    assert_int_equal(strlen(tok[0]), 32);
    assert_string_equal(tok[0], tok[1]); /* never regenerated */
    char *envp = zp_path_join(pdir, ".env");
    char *text = slurp(envp);
    assert_string_equal(text, "MINE=kept\n");
    free(text);
    /* sealed at rest */
    char *ep = template_env_path(sdir, "shop");
    text = slurp(ep);
    assert_non_null(strstr(text, "SERVICE_HEX_32_DB=zpenc:v1:"));
    assert_non_null(strstr(text, "SERVICE_PASSWORD_DB=zpenc:v1:"));
    free(text);
    struct zp_buf hits = ZP_BUF_INIT;
    files_holding(dir, "", tok[0], &hits);
    assert_string_equal(zp_buf_cstr(&hits), ""); /* nowhere in the clear */
    zp_buf_reset(&hits);
    files_holding(dir, "", pw, &hits);
    assert_string_equal(zp_buf_cstr(&hits), "proj/db.conf\n"); /* only where the template puts it */
    zp_buf_release(&hits);

    /* loaded back and supplied to the loader: below the process environment and .env */
    struct compose_env env;
    compose_env_init(&env);
    assert_int_equal(template_env_load(sdir, "shop", &env, &err), 0);
    assert_string_equal(compose_env_get(&env, "SERVICE_HEX_32_DB"), tok[0]);
    put(envp, "MINE=kept\nMODE=loud\n", 0600);
    char *file = zp_path_join(pdir, "compose.yaml");
    const char *files[] = {file};
    char *environ_[] = {(char *)"SERVICE_PASSWORD_DB=from-the-environment", NULL};
    struct compose_options co = {
        .files = files, .nfiles = 1, .environ = environ_, .defaults = &env};
    struct compose_project *p = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    assert_int_equal(compose_project_load(&co, &p, &d), 0);
    const struct zp_node *e =
        zp_node_get(zp_node_get(zp_node_get(p->model, "services"), "db"), "environment");
    assert_non_null(e);
    assert_string_equal(zp_node_get(e, "TOK")->str, tok[0]);
    assert_string_equal(zp_node_get(e, "PW")->str, "from-the-environment");
    assert_string_equal(zp_node_get(e, "MODE")->str, "loud");
    compose_project_free(p);
    /* without them: the references stay empty (what a .env-less project would get) */
    co.defaults = NULL;
    assert_int_equal(compose_project_load(&co, &p, &d), 0);
    e = zp_node_get(zp_node_get(zp_node_get(p->model, "services"), "db"), "environment");
    assert_string_equal(zp_node_get(e, "TOK")->str, "");
    compose_project_free(p);
    zp_diags_release(&d);
    compose_env_release(&env);

    /* a .env holding only generated lines is removed */
    put(envp, "SERVICE_HEX_32_DB=old\n", 0600);
    struct compose_env st;
    compose_env_init(&st);
    assert_int_equal(template_state_load(sdir, "shop", &st, NULL, &err), 0);
    struct out o;
    render(T, "shop", NULL, false, &st, &o);
    assert_int_equal(o.rc, 0);
    assert_int_equal(template_write_project(&o.r, pdir, false, &err), 0);
    assert_false(zp_file_exists(envp));
    out_release(&o);
    compose_env_release(&st);

    free(file);
    free(ep);
    free(envp);
    free(pw);
    free(tok[0]);
    free(tok[1]);
    free(sdir);
    free(pdir);
    char *cmd = zp_asprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_magic_names),    cmocka_unit_test(test_magic_values),
        cmocka_unit_test(test_header),         cmocka_unit_test(test_render),
        cmocka_unit_test(test_render_errors),  cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_builtins),       cmocka_unit_test(test_state_file),
        cmocka_unit_test(test_content_values), cmocka_unit_test(test_sealed_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

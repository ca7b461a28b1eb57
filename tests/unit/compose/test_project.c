/* Unit tests for compose_project_load: discovery, env files, include, extends, profiles,
 * project names and finalisation, on the projects under tests/data/compose/projects. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compose/compose-int.h"
#include "util/util.h"

#define PROJECTS ZP_TEST_DATA "/compose/projects"

/* One load: options filled by the test, results kept for assertions. */
struct load {
    struct compose_options o;
    char *envp[8];
    size_t nenv;
    struct compose_project *p;
    struct zp_diags d;
    int rc;
};

static void load_init(struct load *l, const char *dir)
{
    memset(l, 0, sizeof(*l));
    zp_diags_init(&l->d);
    l->o.environ = l->envp; /* a clean environment unless the test adds to it */
    l->o.cwd = dir;
}

static void load_env(struct load *l, const char *kv)
{
    assert_true(l->nenv + 1 < sizeof(l->envp) / sizeof(*l->envp));
    l->envp[l->nenv++] = (char *)(uintptr_t)kv;
}

static void load_run(struct load *l)
{
    l->rc = compose_project_load(&l->o, &l->p, &l->d);
    if (l->rc != 0 || l->d.n > 0) {
        for (size_t i = 0; i < l->d.n; i++) {
            char *s = zp_diag_render(&l->d.items[i]);
            print_message("diag: %s\n", s);
            free(s);
        }
    }
}

static void load_release(struct load *l)
{
    if (l->rc == 0)
        compose_project_free(l->p);
    zp_diags_release(&l->d);
}

/* The node at a dotted path ("services.web.image"); numeric parts index sequences. */
static const struct zp_node *at(const struct zp_node *n, const char *path)
{
    char *copy = zp_strdup(path);
    char *save = NULL;
    for (char *part = strtok_r(copy, ".", &save); part && n; part = strtok_r(NULL, ".", &save)) {
        if (n->kind == ZP_NODE_SEQ) {
            int64_t i;
            if (zp_parse_int64(part, 0, INT32_MAX, &i) || (size_t)i >= n->n)
                n = NULL;
            else
                n = n->items[i];
        } else {
            n = zp_node_get(n, part);
        }
    }
    free(copy);
    return n;
}

static const char *str_at(const struct zp_node *n, const char *path)
{
    const struct zp_node *v = at(n, path);
    if (!v || v->kind != ZP_NODE_SCALAR)
        fail_msg("no scalar at %s", path);
    return v->str;
}

/* Some diagnostic renders exactly as want, or contains it when partial. */
static void expect_diag(const struct load *l, const char *want, bool partial)
{
    for (size_t i = 0; i < l->d.n; i++) {
        char *s = zp_diag_render(&l->d.items[i]);
        bool ok = partial ? strstr(s, want) != NULL : strcmp(s, want) == 0;
        free(s);
        if (ok)
            return;
    }
    fail_msg("no diagnostic %s '%s'", partial ? "containing" : "equal to", want);
}

static void test_discovery_in_parents_with_override(void **state)
{
    (void)state;
    struct load l;
    load_init(&l, PROJECTS "/basic/sub/deeper");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.d.n, 0);
    assert_string_equal(l.p->name, "basic");
    assert_string_equal(l.p->workdir, PROJECTS "/basic");
    assert_int_equal(l.p->nfiles, 2);
    assert_string_equal(l.p->files[0], PROJECTS "/basic/compose.yaml");
    assert_string_equal(l.p->files[1], PROJECTS "/basic/compose.override.yaml");
    const struct zp_node *m = l.p->model;
    assert_string_equal(str_at(m, "name"), "basic");
    /* .env gives TAG */
    assert_string_equal(str_at(m, "services.web.image"), "nginx:1.25");
    /* ports appended by the override, environment merged */
    assert_int_equal(at(m, "services.web.ports")->n, 2);
    assert_string_equal(str_at(m, "services.web.ports.1.published"), "8443");
    assert_string_equal(str_at(m, "services.web.environment.FROM_BASE"), "1");
    assert_string_equal(str_at(m, "services.web.environment.FROM_OVERRIDE"), "2");
    /* relative paths against the project directory */
    assert_string_equal(str_at(m, "services.web.volumes.0.source"), PROJECTS "/basic/html");
    /* finalisation: default network and object names */
    assert_non_null(at(m, "services.web.networks"));
    assert_true(zp_node_is_null(at(m, "services.web.networks.default")));
    assert_string_equal(str_at(m, "networks.default.name"), "basic_default");
    assert_string_equal(str_at(m, "volumes.data.name"), "basic_data");
    assert_string_equal(compose_env_get(&l.p->env, "TAG"), "1.25");
    load_release(&l);
}

static void test_process_env_wins_over_dotenv(void **state)
{
    (void)state;
    struct load l;
    load_init(&l, PROJECTS "/envfiles");
    load_env(&l, "TAG=process");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_string_equal(str_at(l.p->model, "services.app.image"), "app:process");
    assert_string_equal(str_at(l.p->model, "services.app.environment.ONLY_DOTENV"), "yes");
    assert_string_equal(l.p->name, "envfiles");
    load_release(&l);
}

static void test_env_file_option_replaces_dotenv(void **state)
{
    (void)state;
    struct load l;
    const char *envf[] = {"alt.env"};
    load_init(&l, PROJECTS "/envfiles");
    l.o.env_files = envf;
    l.o.nenv_files = 1;
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_string_equal(str_at(l.p->model, "services.app.image"), "app:alt");
    /* .env is not read when --env-file is given */
    assert_string_equal(str_at(l.p->model, "services.app.environment.ONLY_DOTENV"), "unset");
    load_release(&l);

    const char *missing[] = {"nope.env"};
    load_init(&l, PROJECTS "/envfiles");
    l.o.env_files = missing;
    l.o.nenv_files = 1;
    load_run(&l);
    assert_int_equal(l.rc, ZP_E_NOTFOUND);
    expect_diag(&l, "env file '" PROJECTS "/envfiles/nope.env' not found", false);
    load_release(&l);
}

static void test_compose_file_variable(void **state)
{
    (void)state;
    struct load l;
    load_init(&l, PROJECTS "/composefile");
    load_env(&l, "COMPOSE_FILE=one.yaml:two.yaml");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.p->nfiles, 2);
    assert_string_equal(l.p->files[1], "two.yaml");
    assert_string_equal(str_at(l.p->model, "services.a.labels.x"), "1");
    assert_string_equal(str_at(l.p->model, "services.a.labels.y"), "2");
    assert_string_equal(str_at(l.p->model, "services.b.image"), "two");
    assert_string_equal(l.p->name, "composefile");
    load_release(&l);

    load_init(&l, PROJECTS "/composefile");
    load_env(&l, "COMPOSE_FILE=two.yaml;one.yaml");
    load_env(&l, "COMPOSE_PATH_SEPARATOR=;");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.p->files[0], "two.yaml");
    /* one.yaml last: its labels merge over two.yaml's */
    assert_string_equal(str_at(l.p->model, "services.a.image"), "one");
    load_release(&l);
}

static void test_explicit_files_and_missing(void **state)
{
    (void)state;
    struct load l;
    const char *files[] = {"two.yaml", "one.yaml"};
    load_init(&l, PROJECTS "/composefile");
    l.o.files = files;
    l.o.nfiles = 2;
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.p->nfiles, 2);
    assert_string_equal(l.p->files[0], "two.yaml");
    load_release(&l);

    const char *bad[] = {"nothere.yaml"};
    load_init(&l, PROJECTS "/composefile");
    l.o.files = bad;
    l.o.nfiles = 1;
    load_run(&l);
    assert_int_equal(l.rc, ZP_E_NOTFOUND);
    expect_diag(&l, "compose file 'nothere.yaml' not found", false);
    load_release(&l);
}

static void test_no_compose_file(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/zp-project-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    struct load l;
    load_init(&l, tmpl);
    load_run(&l);
    assert_int_equal(l.rc, ZP_E_NOTFOUND);
    char *want = zp_asprintf("no compose file found in '%s' or its parents (looked for "
                             "compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml)",
                             tmpl);
    expect_diag(&l, want, false);
    free(want);
    load_release(&l);
    rmdir(tmpl);
}

static void test_both_names_warns(void **state)
{
    (void)state;
    struct load l;
    load_init(&l, PROJECTS "/both-names");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_string_equal(str_at(l.p->model, "services.a.image"), "from-compose-yaml");
    expect_diag(&l,
                "warning: found multiple compose files in '" PROJECTS
                "/both-names': compose.yaml, docker-compose.yml; using 'compose.yaml'",
                false);
    load_release(&l);
}

static void test_legacy_names(void **state)
{
    (void)state;
    struct load l;
    load_init(&l, PROJECTS "/legacy");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.d.n, 0);
    assert_int_equal(l.p->nfiles, 2);
    assert_string_equal(l.p->files[1], PROJECTS "/legacy/docker-compose.override.yml");
    assert_string_equal(str_at(l.p->model, "services.a.dns.0"), "1.1.1.1");
    assert_string_equal(str_at(l.p->model, "services.a.dns.1"), "8.8.8.8");
    load_release(&l);
}

static void test_include(void **state)
{
    (void)state;
    struct load l;
    load_init(&l, PROJECTS "/include");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    const struct zp_node *m = l.p->model;
    assert_null(at(m, "include"));
    /* the included project's own .env, and its own project directory */
    assert_string_equal(str_at(m, "services.api.image"), "api:fromsub");
    assert_string_equal(str_at(m, "services.api.build.context"), PROJECTS "/include/sub/api");
    assert_string_equal(str_at(m, "networks.backend.name"), "include_backend");
    assert_non_null(at(m, "services.web.depends_on.api"));
    load_release(&l);

    /* the including project's environment wins */
    load_init(&l, PROJECTS "/include");
    load_env(&l, "API_TAG=local");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_string_equal(str_at(l.p->model, "services.api.image"), "api:local");
    load_release(&l);
}

static void test_include_conflict_and_cycle(void **state)
{
    (void)state;
    struct load l;
    load_init(&l, PROJECTS "/include-conflict");
    load_run(&l);
    assert_int_equal(l.rc, ZP_E_INPUT);
    expect_diag(&l,
                PROJECTS "/include-conflict/compose.yaml:4:3: services.api: service 'api' "
                         "conflicts with the service of the same name imported from '" PROJECTS
                         "/include-conflict/sub/compose.yaml'",
                true);
    load_release(&l);

    load_init(&l, PROJECTS "/include-cycle");
    load_run(&l);
    assert_int_equal(l.rc, ZP_E_INPUT);
    expect_diag(&l,
                "include cycle: " PROJECTS "/include-cycle/compose.yaml -> " PROJECTS
                "/include-cycle/b.yaml -> " PROJECTS "/include-cycle/compose.yaml",
                true);
    load_release(&l);
}

static void test_extends(void **state)
{
    (void)state;
    struct load l;
    load_init(&l, PROJECTS "/extends");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    const struct zp_node *m = l.p->model;
    /* two levels in the same file */
    assert_string_equal(str_at(m, "services.cli.image"), "busybox");
    assert_string_equal(str_at(m, "services.cli.user"), "root");
    assert_string_equal(str_at(m, "services.cli.environment.TZ"), "utc");
    assert_string_equal(str_at(m, "services.cli.environment.PORT"), "8080");
    assert_int_equal(at(m, "services.cli.security_opt")->n, 2);
    assert_string_equal(str_at(m, "services.cli.security_opt.0"), "label:role:ROLE");
    assert_string_equal(str_at(m, "services.cli.security_opt.1"), "label:user:USER");
    assert_null(at(m, "services.cli.extends"));
    assert_null(at(m, "services.common.extends"));
    /* another file: its relative paths against its own directory; command replaced */
    assert_string_equal(str_at(m, "services.remote.build.context"), PROJECTS "/extends/common/ctx");
    assert_string_equal(str_at(m, "services.remote.working_dir"), "/src");
    assert_int_equal(at(m, "services.remote.command")->n, 2);
    assert_string_equal(str_at(m, "services.remote.command.1"), "test");
    load_release(&l);
}

static void test_extends_cycle(void **state)
{
    (void)state;
    struct load l;
    load_init(&l, PROJECTS "/extends-cycle");
    load_run(&l);
    assert_int_equal(l.rc, ZP_E_INPUT);
    expect_diag(&l,
                PROJECTS "/extends-cycle/compose.yaml:5:7: services.a.extends: extends cycle: "
                         "a -> b -> a",
                false);
    assert_int_equal(l.d.errors, 1);
    load_release(&l);
}

static void test_profiles(void **state)
{
    (void)state;
    struct load l;

    /* none active: only foo */
    load_init(&l, PROJECTS "/profiles");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_int_equal(at(l.p->model, "services")->n, 1);
    assert_non_null(at(l.p->model, "services.foo"));
    assert_int_equal(l.p->nall_profiles, 2);
    assert_string_equal(l.p->all_profiles[0], "debug");
    assert_string_equal(l.p->all_profiles[1], "test");
    load_release(&l);

    /* test: foo, bar, baz */
    const char *test[] = {"test"};
    load_init(&l, PROJECTS "/profiles");
    l.o.profiles = test;
    l.o.nprofiles = 1;
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_int_equal(at(l.p->model, "services")->n, 3);
    assert_non_null(at(l.p->model, "services.baz"));
    assert_null(at(l.p->model, "services.zot"));
    load_release(&l);

    /* debug: zot needs bar, which is disabled */
    load_init(&l, PROJECTS "/profiles");
    load_env(&l, "COMPOSE_PROFILES=debug");
    load_run(&l);
    assert_int_equal(l.rc, ZP_E_INPUT);
    expect_diag(&l,
                PROJECTS "/profiles/compose.yaml:17:9: services.zot.depends_on.bar: service 'zot' "
                         "depends on service 'bar', which is disabled by profiles: enable "
                         "profile 'test'",
                false);
    load_release(&l);

    /* '*': everything */
    load_init(&l, PROJECTS "/profiles");
    load_env(&l, "COMPOSE_PROFILES=*");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_int_equal(at(l.p->model, "services")->n, 4);
    load_release(&l);

    /* baz named explicitly: its profile test becomes active, bar comes along */
    const char *baz[] = {"baz"};
    load_init(&l, PROJECTS "/profiles");
    l.o.services = baz;
    l.o.nservices = 1;
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_int_equal(at(l.p->model, "services")->n, 3);
    assert_non_null(at(l.p->model, "services.bar"));
    load_release(&l);

    /* zot named with test active: all four */
    const char *zot[] = {"zot"};
    load_init(&l, PROJECTS "/profiles");
    l.o.services = zot;
    l.o.nservices = 1;
    l.o.profiles = test;
    l.o.nprofiles = 1;
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_int_equal(at(l.p->model, "services")->n, 4);
    load_release(&l);
}

static void test_project_names(void **state)
{
    (void)state;
    struct load l;

    /* derived from the directory: lowercased, invalid characters removed */
    load_init(&l, PROJECTS "/My_App.Dir");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.p->name, "my_appdir");
    assert_string_equal(str_at(l.p->model, "networks.default.name"), "my_appdir_default");
    load_release(&l);

    /* top-level name */
    load_init(&l, PROJECTS "/toplevel-name");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.p->name, "from-file");
    load_release(&l);

    /* COMPOSE_PROJECT_NAME beats the top-level name, -p beats both */
    load_init(&l, PROJECTS "/toplevel-name");
    load_env(&l, "COMPOSE_PROJECT_NAME=from-env");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.p->name, "from-env");
    assert_string_equal(str_at(l.p->model, "name"), "from-env");
    load_release(&l);

    load_init(&l, PROJECTS "/toplevel-name");
    load_env(&l, "COMPOSE_PROJECT_NAME=from-env");
    l.o.project_name = "from-flag";
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.p->name, "from-flag");
    load_release(&l);

    /* an invalid explicit name is an error, not corrected */
    load_init(&l, PROJECTS "/toplevel-name");
    l.o.project_name = "Bad Name";
    load_run(&l);
    assert_int_equal(l.rc, ZP_E_INPUT);
    expect_diag(&l, "name: invalid project name 'Bad Name'", true);
    load_release(&l);

    /* the name from the file is interpolated (PNAME), then made valid as Compose does */
    load_init(&l, PROJECTS "/envfiles");
    load_env(&l, "PNAME=Upper Case");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.p->name, "uppercase");
    load_release(&l);
}

static void test_service_env_files(void **state)
{
    (void)state;
    struct load l;
    const char *files[] = {"compose.yaml"};
    load_init(&l, PROJECTS "/service-envfile");
    l.o.files = files;
    l.o.nfiles = 1;
    load_run(&l);
    assert_int_equal(l.rc, ZP_E_INPUT);
    expect_diag(&l,
                "compose.yaml:13:9: services.broken.env_file[0]: env file '" PROJECTS
                "/service-envfile/nothere.env' not found",
                false);
    assert_int_equal(l.d.errors, 1);
    load_release(&l);
}

static void test_service_env_file_contents(void **state)
{
    (void)state;
    /* the same project without the broken service, through an override that resets it */
    struct load l;
    char tmpl[] = "/tmp/zp-project-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char *over = zp_asprintf("%s/reset.yaml", tmpl);
    FILE *f = fopen(over, "w");
    assert_non_null(f);
    fputs("services:\n  broken: !reset null\n", f);
    fclose(f);
    const char *files[] = {PROJECTS "/service-envfile/compose.yaml", over};
    load_init(&l, PROJECTS "/service-envfile");
    l.o.files = files;
    l.o.nfiles = 2;
    load_run(&l);
    assert_int_equal(l.rc, 0);
    const struct zp_node *m = l.p->model;
    assert_null(at(m, "services.broken"));
    assert_string_equal(str_at(m, "services.app.environment.FROM_FILE"), "file");
    assert_string_equal(str_at(m, "services.app.environment.EXPLICIT"), "mine");
    assert_string_equal(str_at(m, "services.app.env_file.0.path"),
                        PROJECTS "/service-envfile/app.env");
    assert_int_equal(at(m, "services.app.env_file")->n, 2);
    load_release(&l);
    unlink(over);
    free(over);
    rmdir(tmpl);
}

static void test_finalise(void **state)
{
    (void)state;
    struct load l;
    load_init(&l, PROJECTS "/finalise");
    load_run(&l);
    assert_int_equal(l.rc, 0);
    const struct zp_node *m = l.p->model;
    assert_string_equal(l.p->name, "fin");
    assert_true(zp_node_is_null(at(m, "services.web.networks.default")));
    assert_null(at(m, "services.host.networks"));
    assert_null(at(m, "services.multi.networks.default"));
    assert_non_null(at(m, "services.multi.networks.front"));
    assert_string_equal(str_at(m, "networks.default.name"), "fin_default");
    assert_string_equal(str_at(m, "networks.front.name"), "fin_front");
    assert_string_equal(str_at(m, "networks.ext.name"), "ext");
    assert_int_equal(at(m, "networks.ext")->n, 2);
    assert_string_equal(str_at(m, "volumes.data.name"), "custom");
    assert_string_equal(str_at(m, "secrets.token.name"), "fin_token");
    assert_string_equal(str_at(m, "secrets.token.file"), PROJECTS "/finalise/token.txt");
    load_release(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery_in_parents_with_override),
        cmocka_unit_test(test_process_env_wins_over_dotenv),
        cmocka_unit_test(test_env_file_option_replaces_dotenv),
        cmocka_unit_test(test_compose_file_variable),
        cmocka_unit_test(test_explicit_files_and_missing),
        cmocka_unit_test(test_no_compose_file),
        cmocka_unit_test(test_both_names_warns),
        cmocka_unit_test(test_legacy_names),
        cmocka_unit_test(test_include),
        cmocka_unit_test(test_include_conflict_and_cycle),
        cmocka_unit_test(test_extends),
        cmocka_unit_test(test_extends_cycle),
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_project_names),
        cmocka_unit_test(test_service_env_files),
        cmocka_unit_test(test_service_env_file_contents),
        cmocka_unit_test(test_finalise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

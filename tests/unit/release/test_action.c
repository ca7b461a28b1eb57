/* Unit tests for release/action.c's pure part: the actions a model declares (listed in
 * order with their commands), resolving one with arguments appended, and the errors: an
 * unknown action, a declaration without service or command, too many arguments. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "release/action.h"
#include "util/util.h"

static struct zp_node *parse(const char *yaml)
{
    struct zp_node *doc = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    assert_int_equal(compose_yaml_parse("compose.yaml", yaml, strlen(yaml), &doc, &d), 0);
    zp_diags_release(&d);
    return doc;
}

static const char *MODEL = "services:\n"
                           "  admin: {image: x}\n"
                           "x-zpanel:\n"
                           "  actions:\n"
                           "    add-user:\n"
                           "      service: admin\n"
                           "      command: [/app/manage, add-user]\n"
                           "      description: add a user\n"
                           "    list-users: {service: admin, command: [/app/manage, list-users]}\n"
                           "    broken: {service: admin}\n";

static void test_resolve(void **state)
{
    (void)state;
    struct zp_node *m = parse(MODEL);
    struct zp_err err;
    zp_err_init(&err);
    struct release_action a;
    const char *args[] = {"alice", "--admin"};
    assert_int_equal(release_action_resolve(m, "add-user", args, 2, &a, &err), 0);
    assert_string_equal(a.service, "admin");
    assert_int_equal(a.argc, 4);
    assert_string_equal(a.argv[0], "/app/manage");
    assert_string_equal(a.argv[1], "add-user");
    assert_string_equal(a.argv[2], "alice");
    assert_string_equal(a.argv[3], "--admin");
    assert_null(a.argv[4]);
    assert_string_equal(a.description, "add a user");
    release_action_release(&a);

    assert_int_equal(release_action_resolve(m, "nope", NULL, 0, &a, &err), ZP_E_NOTFOUND);
    assert_string_equal(err.msg, "no action 'nope'");
    zp_err_init(&err);
    assert_int_equal(release_action_resolve(m, "broken", NULL, 0, &a, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "x-zpanel.actions.broken: needs 'service' and 'command'"));
    assert_int_equal(err.pos.line, 10);
    zp_err_init(&err);
    const char **many = calloc(RELEASE_ACTION_MAX_ARGS + 1, sizeof(*many));
    for (size_t i = 0; i <= RELEASE_ACTION_MAX_ARGS; i++)
        many[i] = "x";
    assert_int_equal(
        release_action_resolve(m, "list-users", many, RELEASE_ACTION_MAX_ARGS + 1, &a, &err),
        ZP_E_INPUT);
    free(many);
    zp_node_free(m);
}

static void test_list(void **state)
{
    (void)state;
    struct zp_err err;
    zp_err_init(&err);
    struct release_action *a = NULL;
    size_t n = 9;
    /* a broken declaration fails the list, naming it */
    struct zp_node *m = parse(MODEL);
    assert_int_equal(release_actions_list(m, &a, &n, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "broken"));
    zp_node_free(m);
    zp_err_init(&err);
    m = parse("services: {a: {image: x}}\n"
              "x-zpanel: {actions: {b: {service: a, command: [sh, -c, 'echo hi']}, "
              "a: {service: a, command: [true]}}}\n");
    assert_int_equal(release_actions_list(m, &a, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(a[0].name, "b"); /* as written */
    assert_int_equal(a[0].argc, 3);
    assert_string_equal(a[0].argv[2], "echo hi");
    assert_null(a[0].description);
    assert_string_equal(a[1].name, "a");
    release_actions_free(a, n);
    zp_node_free(m);
    /* none declared: an empty list */
    m = parse("services: {a: {image: x}}\n");
    assert_int_equal(release_actions_list(m, &a, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_null(a);
    zp_node_free(m);
    /* actions that are not a mapping */
    m = parse("services: {a: {image: x}}\nx-zpanel: {actions: [a]}\n");
    assert_int_equal(release_actions_list(m, &a, &n, &err), ZP_E_INPUT);
    zp_node_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

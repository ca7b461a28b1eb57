/* Unit tests for the dashboard's server parts: the compiled-in assets (web.c), the routes
 * it added (Allow headers of paths with one method), backup file names, and the store's
 * account and audit listings (store/panel.c). */
#define _GNU_SOURCE
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/server-int.h"
#include "server/web.h"
#include "store/panel.h"

static void test_assets(void **state)
{
    (void)state;
    const struct web_asset *a = web_asset_find("/");
    assert_non_null(a);
    assert_string_equal(a->path, "/index.html");
    assert_string_equal(a->type, "text/html; charset=utf-8");
    assert_int_equal(strlen(a->etag), 34); /* a quoted 32-hex prefix of the SHA-256 */
    assert_true(a->etag[0] == '"' && a->etag[33] == '"');
    assert_non_null(strstr((const char *)a->data, "/app.js"));
    assert_int_equal(strlen((const char *)a->data), a->len);
    a = web_asset_find("/app.js");
    assert_non_null(a);
    assert_string_equal(a->type, "text/javascript; charset=utf-8");
    a = web_asset_find("/app.css");
    assert_non_null(a);
    assert_string_equal(a->type, "text/css; charset=utf-8");
    assert_null(web_asset_find("/api/v1/projects"));
    assert_null(web_asset_find("/../app.js"));
    assert_null(web_asset_find("/index.html/"));
}

static void test_routes(void **state)
{
    (void)state;
    const struct srv_route *r;
    struct zp_str p[SRV_MAX_PARAMS];
    size_t n;
    const char *allow;
    const char *path = "/api/v1/users/alice";
    assert_int_equal(srv_route_match("DELETE", path, strlen(path), &r, p, &n, &allow), 0);
    assert_int_equal(r->scope, STORE_SCOPE_ADMIN);
    assert_int_equal(srv_route_match("GET", path, strlen(path), &r, p, &n, &allow), 405);
    assert_string_equal(allow, "DELETE");
    path = "/api/v1/tokens";
    assert_int_equal(srv_route_match("PUT", path, strlen(path), &r, p, &n, &allow), 405);
    assert_string_equal(allow, "GET, POST");
    path = "/api/v1/projects/web/backups/web-20260101-000000.tar.zst";
    assert_int_equal(srv_route_match("GET", path, strlen(path), &r, p, &n, &allow), 0);
    assert_string_equal(r->pattern, "/api/v1/projects/{name}/backups/{file}");
    assert_int_equal(n, 2);
    assert_memory_equal(p[1].p, "web-20260101-000000.tar.zst", p[1].len);
    path = "/api/v1/projects/web/restore";
    assert_int_equal(srv_route_match("POST", path, strlen(path), &r, p, &n, &allow), 0);
    assert_int_equal(r->scope, STORE_SCOPE_WRITE);
}

static void test_backup_names(void **state)
{
    (void)state;
    assert_true(srv_backup_name_valid("web-20260101-000000.tar.zst"));
    assert_true(srv_backup_name_valid("x.tar"));
    assert_true(srv_backup_name_valid("x.tar.gz"));
    assert_false(srv_backup_name_valid(""));
    assert_false(srv_backup_name_valid(".tar.zst"));
    assert_false(srv_backup_name_valid("..tar"));
    assert_false(srv_backup_name_valid("a/b.tar"));
    assert_false(srv_backup_name_valid("notes.txt"));
    assert_false(srv_backup_name_valid("x.tar.zst.tmp"));
    assert_false(srv_backup_name_valid("a\"b.tar"));
    assert_false(srv_backup_name_valid("a\nb.tar"));
    assert_false(srv_backup_name_valid("a b.tar"));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void test_store_lists(void **state)
{
    (void)state;
    char dir[] = "/tmp/zp-dash-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct zp_err err;
    zp_err_init(&err);
    struct store_panel *p = NULL;
    assert_int_equal(store_panel_open(dir, &p, &err), 0);
    int64_t bob, ann;
    assert_int_equal(store_panel_user_add(p, "bob", STORE_ROLE_MEMBER, "h1", &bob, &err), 0);
    assert_int_equal(store_panel_user_add(p, "ann", STORE_ROLE_ADMIN, "h2", &ann, &err), 0);
    struct store_user_row *u = NULL;
    size_t nu = 0;
    assert_int_equal(store_panel_user_list(p, &u, &nu, &err), 0);
    assert_int_equal(nu, 2);
    assert_string_equal(u[0].name, "ann"); /* sorted by name */
    assert_int_equal(u[0].role, STORE_ROLE_ADMIN);
    assert_string_equal(u[1].name, "bob");
    store_user_rows_free(u, nu);

    int64_t t1, t2, t3;
    assert_int_equal(store_panel_token_add(p, bob, "aa", STORE_SCOPE_DEPLOY, 0, &t1, &err), 0);
    assert_int_equal(store_panel_token_add(p, ann, "bb", STORE_SCOPE_ADMIN, 100, &t2, &err), 0);
    assert_int_equal(store_panel_token_add(p, bob, "cc", STORE_SCOPE_READ, 0, &t3, &err), 0);
    struct store_token_row *t = NULL;
    size_t nt = 0;
    assert_int_equal(store_panel_token_list(p, 1000, &t, &nt, &err), 0);
    assert_int_equal(nt, 2); /* the one that expired at 100 is left out; newest first */
    assert_int_equal(t[0].id, t3);
    assert_int_equal(t[1].id, t1);
    assert_string_equal(t[1].user, "bob");
    assert_int_equal(t[1].scope, STORE_SCOPE_DEPLOY);
    store_token_rows_free(t, nt);
    assert_int_equal(store_panel_token_delete_id(p, t3, &err), 0);
    assert_int_equal(store_panel_token_delete_id(p, t3, &err), ZP_E_NOTFOUND);

    /* removing a user removes its tokens and sessions */
    assert_int_equal(store_panel_user_delete(p, "bob", &err), 0);
    assert_int_equal(store_panel_user_delete(p, "bob", &err), ZP_E_NOTFOUND);
    assert_int_equal(store_panel_token_list(p, 0, &t, &nt, &err), 0);
    assert_int_equal(nt, 1);
    assert_int_equal(t[0].id, t2);
    store_token_rows_free(t, nt);

    for (int i = 0; i < 5; i++)
        assert_int_equal(store_panel_audit_add(p, 1000 + i, i % 2 ? "ann" : NULL, "POST",
                                               "/api/v1/x", 200 + i, "127.0.0.1", &err),
                         0);
    struct store_audit_row *a = NULL;
    size_t na = 0;
    assert_int_equal(store_panel_audit_list(p, 0, 2, &a, &na, &err), 0);
    assert_int_equal(na, 2);
    assert_int_equal(a[0].time, 1004);
    assert_null(a[0].user);
    assert_string_equal(a[1].user, "ann");
    assert_int_equal(a[1].status, 203);
    int64_t before = a[1].id;
    store_audit_rows_free(a, na);
    assert_int_equal(store_panel_audit_list(p, before, 0, &a, &na, &err), 0);
    assert_int_equal(na, 3);
    assert_int_equal(a[0].time, 1002);
    assert_string_equal(a[2].remote, "127.0.0.1");
    store_audit_rows_free(a, na);
    store_panel_close(p);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assets),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_backup_names),
        cmocka_unit_test(test_store_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for stored S3 destinations (server/api-destinations.c): the checks of every
 * field (each error names its field), the store round trip with the secret key sealed at
 * rest and opened again for the client, and the API on a running server on a loopback
 * port: admin only, the secret key never in an answer, conflicts, a schedule's
 * destination checked and a destination in use kept. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "s3/s3.h"
#include "server/server-int.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"

static struct server_destination_spec good(void)
{
    return (struct server_destination_spec){
        .name = "backups-1",
        .endpoint = "http://127.0.0.1:9000",
        .region = "eu-west-1",
        .bucket = "my-bucket",
        .prefix = "zpanel/prod",
        .path_style = true,
        .access_key = "AKIAEXAMPLE",
        .secret_key = SECRET,
    };
}

/* d fails its check with an error naming field (the start of the message) */
static void check_bad(const struct server_destination_spec *d, const char *field)
{
    struct zp_err err;
    zp_err_init(&err);
    int rc = srv_destination_check(d, &err);
    if (rc != ZP_E_INPUT)
        fail_msg("want ZP_E_INPUT for %s, got %d (%s)", field, rc, err.msg);
    size_t n = strlen(field);
    if (strncmp(err.msg, field, n) != 0 || err.msg[n] != ':')
        fail_msg("error does not name '%s': %s", field, err.msg);
    assert_null(strstr(err.msg, SECRET)); /* never the secret in a message */
}

static void test_check(void **state)
{
    (void)state;
    struct zp_err err;
    zp_err_init(&err);
    struct server_destination_spec d = good();
    assert_int_equal(srv_destination_check(&d, &err), 0);
    d.prefix = NULL; /* the bucket's top */
    assert_int_equal(srv_destination_check(&d, &err), 0);
    d.endpoint = "https://s3.eu-west-1.amazonaws.com/"; /* a trailing slash is fine */
    assert_int_equal(srv_destination_check(&d, &err), 0);

    static const char *const bad_names[] = {"", "-x", "a b", "a/b", "é"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(*bad_names); i++) {
        d = good();
        d.name = bad_names[i];
        check_bad(&d, "name");
    }
    d = good();
    d.name = NULL;
    check_bad(&d, "name");
    char longname[80];
    memset(longname, 'a', 64);
    longname[64] = '\0';
    d.name = longname;
    check_bad(&d, "name");

    static const char *const bad_buckets[] = {"ab", "My-Bucket", "-bucket", "bucket-", "a_b_c"};
    for (size_t i = 0; i < sizeof(bad_buckets) / sizeof(*bad_buckets); i++) {
        d = good();
        d.bucket = bad_buckets[i];
        check_bad(&d, "bucket");
    }
    d = good();
    d.bucket = NULL;
    check_bad(&d, "bucket");

    static const char *const bad_prefixes[] = {"/abs", "a\nb", "a\\b"};
    for (size_t i = 0; i < sizeof(bad_prefixes) / sizeof(*bad_prefixes); i++) {
        d = good();
        d.prefix = bad_prefixes[i];
        check_bad(&d, "prefix");
    }

    static const char *const bad_endpoints[] = {"",           "ftp://x",       "http://",
                                                "http://a/b", "http://u@host", "127.0.0.1:9000"};
    for (size_t i = 0; i < sizeof(bad_endpoints) / sizeof(*bad_endpoints); i++) {
        d = good();
        d.endpoint = bad_endpoints[i];
        check_bad(&d, "endpoint");
    }
    d = good();
    d.endpoint = NULL;
    check_bad(&d, "endpoint");

    d = good();
    d.region = "eu west";
    check_bad(&d, "region");
    d.region = "";
    check_bad(&d, "region");

    d = good();
    d.access_key = "";
    check_bad(&d, "access_key_id");
    d.access_key = "a:b";
    check_bad(&d, "access_key_id");
    d.access_key = NULL;
    check_bad(&d, "access_key_id");

    d = good();
    d.secret_key = "";
    check_bad(&d, "secret_key");
    d.secret_key = "with\nnewline";
    check_bad(&d, "secret_key");
    d.secret_key = NULL;
    check_bad(&d, "secret_key");
}

static void test_store(void **state)
{
    struct srvt_fixture *f = *state;
    struct zp_err err;
    zp_err_init(&err);
    struct server_destination_spec d = good();
    assert_int_equal(server_destination_add(f->dir, &d, &err), 0);
    assert_int_equal(server_destination_add(f->dir, &d, &err), ZP_E_CONFLICT);
    assert_non_null(strstr(err.msg, "'backups-1' exists already"));
    zp_err_init(&err);
    d = good();
    d.bucket = "Bad";
    assert_int_equal(server_destination_add(f->dir, &d, &err), ZP_E_INPUT);
    zp_err_init(&err);

    struct store_destination *v = NULL;
    size_t n = 0;
    assert_int_equal(server_destination_list(f->dir, &v, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].name, "backups-1");
    assert_string_equal(v[0].bucket, "my-bucket");
    assert_string_equal(v[0].prefix, "zpanel/prod");
    assert_string_equal(v[0].access_key, "AKIAEXAMPLE");
    assert_true(v[0].path_style);
    /* sealed at rest: not the secret, and it opens to the secret with the state's key */
    assert_true(store_secret_sealed(v[0].secret_key));
    assert_null(strstr(v[0].secret_key, SECRET));
    char *opened = NULL;
    assert_int_equal(store_secret_open(f->dir, "secret_key", v[0].secret_key, &opened, &err), 0);
    assert_string_equal(opened, SECRET);
    free(opened);
    /* the API's view masks it */
    json_t *j = srv_destination_json(&v[0]);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_null(strstr(text, SECRET));
    assert_null(strstr(text, "zpenc:"));
    assert_string_equal(json_string_value(json_object_get(j, "secret_key")), STORE_SECRET_MASK);
    assert_string_equal(json_string_value(json_object_get(j, "access_key_id")), "AKIAEXAMPLE");
    free(text);
    json_decref(j);
    store_destinations_free(v, n);

    /* the client of a scheduled backup: bucket and prefix as stored */
    struct store_panel *db = NULL;
    assert_int_equal(store_panel_open(f->dir, &db, &err), 0);
    struct s3_client *c = NULL;
    char *bucket = NULL, *prefix = NULL;
    assert_int_equal(srv_destination_client(f->dir, db, "backups-1", &c, &bucket, &prefix, &err),
                     0);
    assert_non_null(c);
    assert_string_equal(bucket, "my-bucket");
    assert_string_equal(prefix, "zpanel/prod");
    s3_client_free(c);
    free(bucket);
    free(prefix);
    assert_int_equal(srv_destination_client(f->dir, db, "nope", &c, &bucket, &prefix, &err),
                     ZP_E_NOTFOUND);
    assert_non_null(strstr(err.msg, "no such destination 'nope'"));
    zp_err_init(&err);

    /* a destination a schedule uses stays */
    assert_int_equal(store_panel_project_add(db, "app", "{}", &err), 0);
    struct server_schedule_spec spec = {.cron = "@daily", .destination = "nowhere"};
    store_panel_close(db);
    assert_int_equal(server_schedule_add(f->dir, "app", &spec, NULL, NULL, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "destination: no stored destination 'nowhere'"));
    zp_err_init(&err);
    spec.destination = "backups-1";
    spec.keep_bytes = -1;
    assert_int_equal(server_schedule_add(f->dir, "app", &spec, NULL, NULL, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "keep.size"));
    zp_err_init(&err);
    spec.keep_bytes = (int64_t)1 << 30;
    int64_t id = 0;
    assert_int_equal(server_schedule_add(f->dir, "app", &spec, &id, NULL, &err), 0);
    assert_int_equal(server_destination_remove(f->dir, "backups-1", &err), ZP_E_CONFLICT);
    assert_non_null(strstr(err.msg, "used by 1 schedule"));
    zp_err_init(&err);
    assert_int_equal(store_panel_open(f->dir, &db, &err), 0);
    struct store_schedule s;
    assert_int_equal(store_panel_schedule_get(db, id, &s, &err), 0);
    assert_string_equal(s.destination, "backups-1");
    assert_int_equal(s.keep_bytes, (int64_t)1 << 30);
    store_schedule_release(&s);
    store_panel_close(db);
    assert_int_equal(server_schedule_remove(f->dir, "app", id, &err), 0);
    assert_int_equal(server_destination_remove(f->dir, "backups-1", &err), 0);
    assert_int_equal(server_destination_remove(f->dir, "backups-1", &err), ZP_E_NOTFOUND);
}

static void expect(struct srvt_reply *r, int status, const char *has)
{
    if (r->status != status || (has && !strstr(r->body, has)))
        fail_msg("HTTP %d, want %d with '%s': %s", r->status, status, has ? has : "", r->body);
    assert_null(strstr(r->body, SECRET));
    srvt_reply_free(r);
}

static void test_api(void **state)
{
    struct srvt_fixture *f = *state;
    const char *body =
        "{\"name\": \"r2\", \"endpoint\": \"https://acct.r2.cloudflarestorage.com\", "
        "\"region\": \"auto\", \"bucket\": \"zp-backups\", \"prefix\": \"prod/\", "
        "\"access_key_id\": \"AKIA1\", \"secret_key\": \"" SECRET "\"}";
    struct srvt_reply r = srvt_request(f, "POST", "/api/v1/destinations", f->member, body);
    expect(&r, 403, NULL); /* admin only: it holds credentials */
    r = srvt_request(f, "GET", "/api/v1/destinations", f->member, NULL);
    expect(&r, 403, NULL);
    r = srvt_request(f, "POST", "/api/v1/destinations", f->admin, body);
    expect(&r, 201, "\"secret_key\":\"" STORE_SECRET_MASK "\"");
    r = srvt_request(f, "POST", "/api/v1/destinations", f->admin, body);
    expect(&r, 409, "exists already");
    r = srvt_request(f, "GET", "/api/v1/destinations", f->admin, NULL);
    expect(&r, 200,
           "{\"destinations\":[{\"name\":\"r2\",\"endpoint\":\"https://"
           "acct.r2.cloudflarestorage.com\",\"region\":\"auto\",\"bucket\":\"zp-backups\",");
    r = srvt_request(f, "GET", "/api/v1/destinations", f->admin, NULL);
    expect(&r, 200,
           "\"prefix\":\"prod/\",\"path_style\":false,\"access_key_id\":\"AKIA1\","
           "\"secret_key\":\"********\"");

    /* bad input names the field; nothing stored */
    r = srvt_request(f, "POST", "/api/v1/destinations", f->admin,
                     "{\"name\": \"x\", \"endpoint\": \"http://h\", \"bucket\": \"B\", "
                     "\"access_key_id\": \"a\", \"secret_key\": \"s\"}");
    expect(&r, 400, "bucket: 'B' is not a bucket name");
    r = srvt_request(f, "POST", "/api/v1/destinations", f->admin,
                     "{\"name\": \"x\", \"endpoint\": \"http://h\", \"bucket\": \"bbb\", "
                     "\"access_key_id\": \"a\"}");
    expect(&r, 400, "secret_key: required");
    r = srvt_request(f, "POST", "/api/v1/destinations", f->admin,
                     "{\"name\": \"x\", \"endpoint\": \"http://h\", \"bucket\": \"bbb\", "
                     "\"access_key_id\": \"a\", \"secret_key\": \"s\", \"path_style\": \"yes\"}");
    expect(&r, 400, "path_style: must be true or false");
    r = srvt_request(f, "POST", "/api/v1/destinations", f->admin,
                     "{\"name\": 5, \"endpoint\": \"http://h\"}");
    expect(&r, 400, "name: must be a string");
    r = srvt_request(f, "GET", "/api/v1/destinations", f->admin, NULL);
    expect(&r, 200, "\"name\":\"r2\"");

    r = srvt_request(f, "DELETE", "/api/v1/destinations/r2", f->admin, NULL);
    expect(&r, 200, "{\"deleted\":\"r2\"}");
    r = srvt_request(f, "DELETE", "/api/v1/destinations/r2", f->admin, NULL);
    expect(&r, 404, "no such destination 'r2'");
    r = srvt_request(f, "GET", "/api/v1/destinations", f->admin, NULL);
    expect(&r, 200, "{\"destinations\":[]}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test_setup_teardown(test_store, srvt_setup_dir, srvt_teardown),
        cmocka_unit_test_setup_teardown(test_api, srvt_setup_server, srvt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

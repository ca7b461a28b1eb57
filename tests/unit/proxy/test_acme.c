/* Unit tests for proxy/acme.c and the edge's ACME policy: the settings file's round trip
 * and refusals, the flags' checks, the tls auto policy's issuer (CA, email, trusted
 * root), and the certificate state read from Caddy's log (lines recorded from Caddy
 * 2.6.2 issuing against pebble, then failing with pebble stopped). */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "proxy/proxy.h"
#include "util/util.h"

static void site_init(struct proxy_site *s, const char *service, const char *host,
                      enum proxy_tls tls)
{
    memset(s, 0, sizeof(*s));
    s->project = zp_strdup("shop");
    s->service = zp_strdup(service);
    s->tls = tls;
    s->routes = zp_calloc(1, sizeof(*s->routes));
    s->nroutes = 1;
    s->routes[0].hosts = zp_calloc(1, sizeof(char *));
    s->routes[0].hosts[0] = zp_strdup(host);
    s->routes[0].nhosts = 1;
    s->routes[0].port = 8080;
}

static json_t *load(char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    free(text);
    return j;
}

static json_t *policies(json_t *cfg)
{
    return json_object_get(
        json_object_get(json_object_get(json_object_get(cfg, "apps"), "tls"), "automation"),
        "policies");
}

static void test_edge_policy(void **state)
{
    (void)state;
    struct proxy_site a, i, p;
    site_init(&a, "web", "a.example.com", PROXY_TLS_AUTO);
    site_init(&i, "int", "i.example.com", PROXY_TLS_INTERNAL);
    site_init(&p, "plain", "p.example.com", PROXY_TLS_OFF);
    struct proxy_upstream u[] = {{&a, "a1", "10.0.0.1", false},
                                 {&i, "i1", "10.0.0.2", false},
                                 {&p, "p1", "10.0.0.3", false}};

    /* nothing set: auto hosts keep Caddy's default issuers (no policy of ours) */
    struct proxy_acme none = {0};
    json_t *cfg = load(proxy_edge_config_acme(u, 3, "/s", 80, 443, &none));
    assert_int_equal(json_array_size(policies(cfg)), 1); /* the internal one */
    json_decref(cfg);

    struct proxy_acme acme = {.email = zp_strdup("ops@example.com"),
                              .ca = zp_strdup("https://pebble:14000/dir"),
                              .ca_root = true,
                              .root_sha = zp_strdup("ab")};
    cfg = load(proxy_edge_config_acme(u, 3, "/s", 80, 443, &acme));
    json_t *pol = policies(cfg);
    assert_int_equal(json_array_size(pol), 2);
    json_t *first = json_array_get(pol, 0);
    json_t *subj = json_object_get(first, "subjects");
    assert_int_equal(json_array_size(subj), 1);
    assert_string_equal(json_string_value(json_array_get(subj, 0)), "a.example.com");
    json_t *iss = json_array_get(json_object_get(first, "issuers"), 0);
    assert_string_equal(json_string_value(json_object_get(iss, "module")), "acme");
    assert_string_equal(json_string_value(json_object_get(iss, "ca")), "https://pebble:14000/dir");
    assert_string_equal(json_string_value(json_object_get(iss, "email")), "ops@example.com");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(iss, "trusted_roots_pem_files"), 0)),
        PROXY_ACME_ROOT_MOUNT);
    json_t *second = json_array_get(pol, 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(second, "subjects"), 0)),
                        "i.example.com");
    json_decref(cfg);

    /* only an email: Let's Encrypt's production directory, no root */
    struct proxy_acme mail = {.email = zp_strdup("ops@example.com")};
    cfg = load(proxy_edge_config_acme(u, 1, "/s", 80, 443, &mail));
    iss = json_array_get(json_object_get(json_array_get(policies(cfg), 0), "issuers"), 0);
    assert_string_equal(json_string_value(json_object_get(iss, "ca")), PROXY_ACME_PRODUCTION);
    assert_null(json_object_get(iss, "trusted_roots_pem_files"));
    json_decref(cfg);

    /* no auto host: no ACME policy; no HTTPS port: no TLS at all */
    cfg = load(proxy_edge_config_acme(&u[1], 2, "/s", 80, 443, &acme));
    assert_int_equal(json_array_size(policies(cfg)), 1);
    json_decref(cfg);
    cfg = load(proxy_edge_config_acme(u, 3, "/s", 80, 0, &acme));
    assert_null(policies(cfg));
    json_decref(cfg);

    proxy_acme_release(&acme);
    proxy_acme_release(&mail);
    proxy_site_release(&a);
    proxy_site_release(&i);
    proxy_site_release(&p);
}

static void test_settings_round_trip(void **state)
{
    (void)state;
    struct proxy_acme a = {.email = zp_strdup("ops@example.com"),
                           .ca = zp_strdup(PROXY_ACME_STAGING),
                           .ca_root = true,
                           .root_sha = zp_strdup("0123")};
    char *text = proxy_acme_to_json(&a);
    struct proxy_acme b;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(proxy_acme_from_json(text, &b, &err), 0);
    assert_string_equal(b.email, "ops@example.com");
    assert_string_equal(b.ca, PROXY_ACME_STAGING);
    assert_true(b.ca_root);
    assert_string_equal(b.root_sha, "0123");
    proxy_acme_release(&b);
    proxy_acme_release(&a);
    free(text);

    assert_int_equal(proxy_acme_from_json("{}", &b, &err), 0);
    assert_null(b.email);
    assert_null(b.ca);
    assert_false(b.ca_root);
    proxy_acme_release(&b);

    static const char *const bad[] = {"",          "[]", "{\"email\": 3}", "{\"ca\": \"\"}",
                                      "{\"ca\": ", NULL};
    for (size_t i = 0; bad[i]; i++) {
        zp_err_init(&err);
        assert_int_equal(proxy_acme_from_json(bad[i], &b, &err), ZP_E_INPUT);
        assert_true(strstr(err.msg, "acme settings") != NULL);
    }
}

static void test_flag_checks(void **state)
{
    (void)state;
    struct zp_err err;
    struct proxy_opts o = {.state_dir = "/nonexistent"};
    zp_err_init(&err);
    assert_int_equal(proxy_acme_check(&o, &err), 0);
    o.acme_email = "ops@example.com";
    o.acme_ca = "staging";
    o.acme_ca_root = ""; /* clears */
    assert_int_equal(proxy_acme_check(&o, &err), 0);
    o.acme_ca = "https://ca.internal:9000/acme/acme/directory";
    assert_int_equal(proxy_acme_check(&o, &err), 0);

    o.acme_ca = "http://ca.internal/dir";
    assert_int_equal(proxy_acme_check(&o, &err), ZP_E_INPUT);
    assert_true(strstr(err.msg, "--acme-ca: 'http://ca.internal/dir'") != NULL);
    o.acme_ca = "https://";
    zp_err_init(&err);
    assert_int_equal(proxy_acme_check(&o, &err), ZP_E_INPUT);
    o.acme_ca = NULL;
    static const char *const emails[] = {"ops", "@example.com", "ops@", "a b@example.com", "a@b@c",
                                         NULL};
    for (size_t i = 0; emails[i]; i++) {
        o.acme_email = emails[i];
        zp_err_init(&err);
        assert_int_equal(proxy_acme_check(&o, &err), ZP_E_INPUT);
        assert_true(strstr(err.msg, "--acme-email") != NULL);
    }
    o.acme_email = NULL;
    o.acme_ca_root = "/nonexistent/root.pem";
    zp_err_init(&err);
    assert_int_equal(proxy_acme_check(&o, &err), ZP_E_INPUT);
    assert_true(strstr(err.msg, "--acme-ca-root") != NULL);
    /* a file that is not PEM certificates */
    char path[] = "/tmp/zp-acme-root-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a certificate\n", 18), 18);
    close(fd);
    o.acme_ca_root = path;
    zp_err_init(&err);
    assert_int_equal(proxy_acme_check(&o, &err), ZP_E_INPUT);
    assert_true(strstr(err.msg, "holds no PEM certificate") != NULL);
    unlink(path);
}

/* Recorded from Caddy 2.6.2's log (pebble as the ACME server). */
static const char LOG[] =
    "{\"level\":\"info\",\"ts\":1796500300.6430783,\"logger\":\"tls.obtain\",\"msg\":\"obtaining "
    "certificate\",\"identifier\":\"a.zpacme.test\"}\n"
    "{\"level\":\"info\",\"ts\":1796500301.1982305,\"logger\":\"tls.obtain\",\"msg\":\"certificate "
    "obtained successfully\",\"identifier\":\"a.zpacme.test\"}\n"
    "not json at all\n"
    "{\"level\":\"error\",\"ts\":1796500323.9254124,\"logger\":\"tls.obtain\",\"msg\":\"could not "
    "get certificate from issuer\",\"identifier\":\"b.zpacme.test\",\"issuer\":\"localhost:14777-"
    "dir\",\"error\":\"[b.zpacme.test] creating new order: fetching new nonce from server: "
    "performing request: Head \\\"https://localhost:14777/nonce-plz\\\": dial tcp "
    "127.0.0.1:14777: connect: connection refused (ca=https://localhost:14777/dir)\"}\n"
    "{\"level\":\"error\",\"ts\":1796500323.9255836,\"logger\":\"tls.obtain\",\"msg\":\"will "
    "retry\",\"error\":\"[b.zpacme.test] Obtain: ...\",\"attempt\":1,\"retrying_in\":60}\n"
    "{\"level\":\"error\",\"ts\":1796500324,\"logger\":\"tls.obtain\",\"msg\":\"could not get "
    "certificate from issuer\",\"identifier\":\"c.zpacme.test\",\"error\":\"first\\nsecond\"}\n"
    "{\"level\":\"info\",\"ts\":1796500325,\"logger\":\"tls.renew\",\"msg\":\"certificate renewed "
    "successfully\",\"identifier\":\"c.zpacme.test\"}\n"
    "{\"level\":\"error\",\"ts\":1796500326,\"logger\":\"http.log\",\"msg\":\"could not get "
    "certificate from issuer\",\"identifier\":\"a.zpacme.test\",\"error\":\"not tls\"}";

static void test_log_apply(void **state)
{
    (void)state;
    struct proxy_cert c[4];
    memset(c, 0, sizeof(c));
    const char *hosts[] = {"a.zpacme.test", "b.zpacme.test", "c.zpacme.test", "d.zpacme.test"};
    for (size_t i = 0; i < 4; i++)
        c[i].host = zp_strdup(hosts[i]);
    c[0].error = zp_strdup("an older error"); /* cleared by the success after it */
    proxy_acme_log_apply(LOG, strlen(LOG), c, 4);
    assert_null(c[0].error);
    assert_non_null(c[1].error);
    assert_true(strstr(c[1].error, "connect: connection refused") != NULL);
    assert_true(strstr(c[1].error, "ca=https://localhost:14777/dir") != NULL);
    assert_int_equal(c[1].error_at, 1796500323);
    assert_null(c[2].error); /* renewed after its failure */
    assert_null(c[3].error);

    /* an error is one line; a later one replaces it; a cut last line is ignored */
    const char two[] = "{\"logger\":\"tls.obtain\",\"msg\":\"could not get certificate from "
                       "issuer\",\"identifier\":\"d.zpacme.test\",\"error\":\"one\\ntwo\"}\n"
                       "{\"logger\":\"tls.obtain\",\"msg\":\"could not get certif";
    proxy_acme_log_apply(two, strlen(two), c, 4);
    assert_string_equal(c[3].error, "one two");
    assert_int_equal(c[3].error_at, 0);
    proxy_acme_log_apply("", 0, c, 4);
    assert_string_equal(c[3].error, "one two");

    struct proxy_cert *heap = zp_calloc(4, sizeof(*heap));
    memcpy(heap, c, sizeof(c));
    proxy_certs_free(heap, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_policy),
        cmocka_unit_test(test_settings_round_trip),
        cmocka_unit_test(test_flag_checks),
        cmocka_unit_test(test_log_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

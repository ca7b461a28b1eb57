/* Unit tests for the ssh module's pure parts: ssh:// URLs, known_hosts lines, SHA256
 * fingerprints (checked against what ssh-keygen -lf printed for the same key), and the
 * server registry file. */
#define _GNU_SOURCE
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

#include "ssh/ssh.h"

/* an ed25519 host key and the fingerprint `ssh-keygen -lf` printed for it */
#define KEY_B64 "AAAAC3NzaC1lZDI1NTE5AAAAIKiUA8LiRwGrnxA7Ltgp/RzL89btHVgnQCdZ1wd4fqqG"
#define KEY_FP "SHA256:KDxa9aoD9oxC0zp3nrd3pbmG80M8IUvJWUkgj3g0jo0"

static void url_ok(const char *s, const char *user, const char *host, int port)
{
    struct ssh_url u;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(ssh_url_parse(s, &u, &err), 0);
    assert_string_equal(u.user, user);
    assert_string_equal(u.host, host);
    assert_int_equal(u.port, port);
    ssh_url_release(&u);
}

static void url_bad(const char *s, const char *why)
{
    struct ssh_url u;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(ssh_url_parse(s, &u, &err), ZP_E_INPUT);
    if (!strstr(err.msg, why))
        fail_msg("'%s': message '%s' lacks '%s'", s, err.msg, why);
}

static void test_url(void **state)
{
    (void)state;
    url_ok("ssh://root@example.com", "root", "example.com", 22);
    url_ok("ssh://deploy@10.0.0.5:2222", "deploy", "10.0.0.5", 2222);
    url_ok("ssh://a.b-c_d@[2001:db8::1]:22", "a.b-c_d", "2001:db8::1", 22);
    url_ok("ssh://u@h/", "u", "h", 22);
    url_bad("ssh://example.com", "a user is needed");
    url_bad("ssh://@example.com", "a user is needed");
    url_bad("tcp://u@h:1", "expected ssh://");
    url_bad("ssh://u@h:0", "the port");
    url_bad("ssh://u@h:65536", "the port");
    url_bad("ssh://u@h:22x", "the port");
    url_bad("ssh://u@h/var/run", "a path");
    url_bad("ssh://u@", "a host is needed");
    url_bad("ssh://u@[::1", "unterminated");
    url_bad("ssh://u;x@h", "user name");
    url_bad("ssh://u@h$x", "host");
    char *p = ssh_host_pattern("h", 22);
    assert_string_equal(p, "h");
    free(p);
    p = ssh_host_pattern("127.0.0.1", 2222);
    assert_string_equal(p, "[127.0.0.1]:2222");
    free(p);
}

static void test_known_hosts(void **state)
{
    (void)state;
    struct ssh_known_host k;
    bool blank = false;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(ssh_known_host_parse("  # comment", &k, &blank, &err), 0);
    assert_true(blank);
    assert_int_equal(ssh_known_host_parse("", &k, &blank, &err), 0);
    assert_true(blank);
    assert_int_equal(ssh_known_host_parse("[127.0.0.1]:2222,web1 ssh-ed25519 " KEY_B64 " root@vm",
                                          &k, &blank, &err),
                     0);
    assert_false(blank);
    assert_string_equal(k.names, "[127.0.0.1]:2222,web1");
    assert_string_equal(k.keytype, "ssh-ed25519");
    assert_string_equal(k.key, KEY_B64);
    assert_null(k.marker);
    assert_true(ssh_known_host_names_match(k.names, "web1"));
    assert_true(ssh_known_host_names_match(k.names, "[127.0.0.1]:2222"));
    assert_false(ssh_known_host_names_match(k.names, "127.0.0.1"));
    assert_false(ssh_known_host_names_match(k.names, "web"));
    ssh_known_host_release(&k);
    assert_int_equal(ssh_known_host_parse("@revoked h ssh-ed25519 " KEY_B64, &k, &blank, &err), 0);
    assert_string_equal(k.marker, "@revoked");
    assert_string_equal(k.names, "h");
    ssh_known_host_release(&k);
    /* the blob's own type must agree with the field */
    zp_err_init(&err);
    assert_int_equal(ssh_known_host_parse("h ssh-rsa " KEY_B64, &k, &blank, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "not of type 'ssh-rsa'"));
    zp_err_init(&err);
    assert_int_equal(ssh_known_host_parse("h ssh-ed25519 not*base64", &k, &blank, &err),
                     ZP_E_INPUT);
    zp_err_init(&err);
    assert_int_equal(ssh_known_host_parse("h ssh-ed25519", &k, &blank, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "expected NAMES KEYTYPE KEY"));
}

static void test_fingerprint(void **state)
{
    (void)state;
    struct zp_err err;
    zp_err_init(&err);
    char *fp = NULL;
    assert_int_equal(ssh_fingerprint_of_blob(KEY_B64, &fp, &err), 0);
    assert_string_equal(fp, KEY_FP); /* what ssh-keygen -lf printed */
    free(fp);
    assert_int_equal(ssh_fingerprint_parse(KEY_FP, &fp, &err), 0);
    assert_string_equal(fp, KEY_FP);
    free(fp);
    assert_int_equal(ssh_fingerprint_parse(KEY_FP "=", &fp, &err), 0); /* padding accepted */
    assert_string_equal(fp, KEY_FP);
    free(fp);
    static const char *const bad[] = {
        "KDxa9aoD9oxC0zp3nrd3pbmG80M8IUvJWUkgj3g0jo0",         /* no SHA256: */
        "MD5:KDxa9aoD9oxC0zp3nrd3pbmG80M8IUvJWUkgj3g0jo0",     /* other hash */
        "SHA256:KDxa9aoD9oxC0zp3nrd3pbmG80M8IUvJWUkgj3g0jo",   /* short */
        "SHA256:KDxa9aoD9oxC0zp3nrd3pbmG80M8IUvJWUkgj3g0jo0A", /* long */
        "SHA256:KDxa9aoD9oxC0zp3nrd3pbmG80M8IUvJWUkgj3g0j*0",  /* not base64 */
        "SHA256:KDxa9aoD9oxC0zp3nrd3pbmG80M8IUvJWUkgj3g0jo1",  /* stray low bits */
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        zp_err_init(&err);
        if (ssh_fingerprint_parse(bad[i], &fp, &err) != ZP_E_INPUT)
            fail_msg("'%s' accepted", bad[i]);
        assert_non_null(strstr(err.msg, "invalid fingerprint"));
    }
}

static void test_servers(void **state)
{
    (void)state;
    char dir[] = "/tmp/zp-ssh-unit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct zp_err err;
    zp_err_init(&err);
    struct ssh_servers s;
    assert_int_equal(ssh_servers_load(dir, &s, &err), 0);
    assert_int_equal(s.n, 0);
    ssh_servers_release(&s);
    char n1[] = "web1", u1[] = "ssh://u@h:2222", i1[] = "/k/a";
    char n2[] = "db", u2[] = "ssh://u@db", i2[] = "/k/b", b2[] = "/srv/zp";
    struct ssh_server a = {.name = n1, .url = u1, .identity = i1};
    struct ssh_server b = {.name = n2, .url = u2, .identity = i2, .base_dir = b2};
    char rel[] = "srv/zp", bad_id[] = "/k/a b";
    struct ssh_server bad = {.name = n2, .url = u2, .identity = i2, .base_dir = rel};
    assert_int_equal(ssh_servers_add(dir, &bad, &err), ZP_E_INPUT);
    bad.base_dir = NULL;
    bad.identity = bad_id;
    assert_int_equal(ssh_servers_add(dir, &bad, &err), ZP_E_INPUT);
    assert_int_equal(ssh_servers_add(dir, &a, &err), 0);
    assert_int_equal(ssh_servers_add(dir, &b, &err), 0);
    zp_err_init(&err);
    assert_int_equal(ssh_servers_add(dir, &a, &err), ZP_E_CONFLICT);
    assert_int_equal(ssh_servers_load(dir, &s, &err), 0);
    assert_int_equal(s.n, 2);
    const struct ssh_server *f = ssh_servers_find(&s, "web1");
    assert_non_null(f);
    assert_string_equal(f->url, "ssh://u@h:2222");
    assert_string_equal(f->identity, "/k/a");
    assert_null(f->base_dir);
    assert_string_equal(ssh_servers_find(&s, "db")->base_dir, "/srv/zp");
    assert_null(ssh_servers_find(&s, "web"));
    ssh_servers_release(&s);
    char *path = zp_path_join(dir, "ssh/servers");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    zp_err_init(&err);
    assert_int_equal(ssh_servers_remove(dir, "web1", &err), 0);
    assert_int_equal(ssh_servers_remove(dir, "web1", &err), ZP_E_NOTFOUND);
    assert_int_equal(ssh_servers_load(dir, &s, &err), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.items[0].name, "db");
    ssh_servers_release(&s);
    /* a malformed line is named file:line */
    FILE *fp = fopen(path, "a");
    assert_non_null(fp);
    fputs("broken line\n", fp);
    fclose(fp);
    zp_err_init(&err);
    assert_int_equal(ssh_servers_load(dir, &s, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "servers:2: invalid server line"));
    assert_true(ssh_server_name_valid("web-1.a_b"));
    assert_false(ssh_server_name_valid("-web"));
    assert_false(ssh_server_name_valid("Web"));
    assert_false(ssh_server_name_valid(""));
    assert_false(ssh_server_name_valid("a b"));
    unlink(path);
    free(path);
    char *sub = zp_path_join(dir, "ssh");
    rmdir(sub);
    free(sub);
    rmdir(dir);
}

static void manifest_bad(const char *line)
{
    struct ssh_sync_entry e;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(ssh_sync_manifest_line(line, &e, &err), ZP_E_INPUT);
}

#define SHA "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"

static void test_manifest(void **state)
{
    (void)state;
    struct ssh_sync_entry e;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(ssh_sync_manifest_line(SHA " 12 1733450000 644 conf/a b.txt", &e, &err), 0);
    assert_string_equal(e.sha256, SHA);
    assert_int_equal(e.size, 12);
    assert_int_equal(e.mtime, 1733450000);
    assert_int_equal(e.mode, 0644);
    assert_string_equal(e.path, "conf/a b.txt"); /* the rest of the line, spaces and all */
    free(e.path);
    manifest_bad("");
    manifest_bad(SHA);
    manifest_bad(SHA " 12 1733450000 644 /etc/passwd");  /* absolute */
    manifest_bad(SHA " 12 1733450000 644 conf/../../x"); /* escapes the base */
    manifest_bad(SHA " 12 1733450000 644 conf//x");      /* empty component */
    manifest_bad(SHA " 12 1733450000 644 conf/");        /* trailing slash */
    manifest_bad(SHA " 12 1733450000 648 x");            /* not octal */
    manifest_bad(SHA " 12 1733450000 17777 x");          /* mode too large */
    manifest_bad(SHA " -1 1733450000 644 x");            /* negative size */
    manifest_bad(SHA " 99999999999999999999 1 644 x");   /* overflow */
    manifest_bad("2D711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 1 1 644 x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),         cmocka_unit_test(test_known_hosts),
        cmocka_unit_test(test_fingerprint), cmocka_unit_test(test_servers),
        cmocka_unit_test(test_manifest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

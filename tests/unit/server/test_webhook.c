/* Unit tests for server/api-apps.c's pure parts: the webhook payload reader of each
 * provider and the signature check (HMAC-SHA256 of the body, GitLab's token). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/server-int.h"

#define SHA1 "0123456789abcdef0123456789abcdef01234567"

static void parse_ok(enum srv_hook_provider p, const char *event, const char *body, bool push,
                     const char *branch, const char *sha, bool deleted)
{
    struct srv_webhook w;
    struct zp_err err;
    zp_err_init(&err);
    if (srv_webhook_parse(p, event, body, strlen(body), &w, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(w.push, push);
    assert_int_equal(w.deleted, deleted);
    if (branch)
        assert_string_equal(w.branch, branch);
    else
        assert_null(w.branch);
    if (sha)
        assert_string_equal(w.sha, sha);
    else
        assert_null(w.sha);
    srv_webhook_release(&w);
}

static void test_parse(void **state)
{
    (void)state;
    const char *gh = "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA1 "\",\"repository\":{}}";
    parse_ok(SRV_HOOK_GITHUB, "push", gh, true, "main", SHA1, false);
    parse_ok(SRV_HOOK_GITEA, "push", gh, true, "main", SHA1, false);
    parse_ok(SRV_HOOK_GITLAB, "Push Hook", gh, true, "main", SHA1, false);
    /* not a push: ping, another GitLab event, no header */
    parse_ok(SRV_HOOK_GITHUB, "ping", "{\"zen\":\"x\"}", false, NULL, NULL, false);
    parse_ok(SRV_HOOK_GITLAB, "Tag Push Hook", gh, false, NULL, NULL, false);
    parse_ok(SRV_HOOK_GITHUB, NULL, gh, false, NULL, NULL, false);
    /* a tag push is no branch push */
    parse_ok(SRV_HOOK_GITHUB, "push", "{\"ref\":\"refs/tags/v1\",\"after\":\"" SHA1 "\"}", false,
             NULL, NULL, false);
    /* a deleted branch: after is all zeros */
    parse_ok(SRV_HOOK_GITHUB, "push",
             "{\"ref\":\"refs/heads/dev\",\"after\":\"0000000000000000000000000000000000000000\"}",
             true, "dev", NULL, true);
    /* Bitbucket: push.changes[].new */
    parse_ok(SRV_HOOK_BITBUCKET, "repo:push",
             "{\"push\":{\"changes\":[{\"new\":{\"type\":\"tag\",\"name\":\"v1\"}},{\"new\":{"
             "\"type\":\"branch\",\"name\":\"main\",\"target\":{\"hash\":\"" SHA1 "\"}}}]}}",
             true, "main", SHA1, false);
    parse_ok(
        SRV_HOOK_BITBUCKET, "repo:push",
        "{\"push\":{\"changes\":[{\"new\":null,\"old\":{\"type\":\"branch\",\"name\":\"x\"}}]}}",
        true, "x", NULL, true);

    static const struct {
        enum srv_hook_provider p;
        const char *event, *body, *want;
    } bad[] = {
        {SRV_HOOK_GITHUB, "push", "[1]", "JSON object"},
        {SRV_HOOK_GITHUB, "push", "{\"ref\":", "1:"},
        {SRV_HOOK_GITHUB, "push", "{\"after\":\"" SHA1 "\"}", "no \"ref\""},
        {SRV_HOOK_GITHUB, "push", "{\"ref\":\"refs/heads/main\",\"after\":\"xyz\"}",
         "invalid commit id"},
        {SRV_HOOK_GITHUB, "push", "{\"ref\":\"refs/heads/\"}", "invalid branch"},
        {SRV_HOOK_BITBUCKET, "repo:push", "{\"push\":{\"changes\":[]}}", "no branch change"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct srv_webhook w;
        struct zp_err err;
        zp_err_init(&err);
        assert_int_not_equal(
            srv_webhook_parse(bad[i].p, bad[i].event, bad[i].body, strlen(bad[i].body), &w, &err),
            0);
        char *r = zp_err_render(&err);
        if (!strstr(r, bad[i].want))
            fail_msg("want '%s', got '%s'", bad[i].want, r);
        free(r);
        assert_null(w.branch);
    }
}

static void pr_ok(enum srv_hook_provider p, const char *event, const char *body,
                  enum srv_hook_pr kind, int64_t number, const char *head, const char *base,
                  bool same)
{
    struct srv_webhook w;
    struct zp_err err;
    zp_err_init(&err);
    if (srv_webhook_parse(p, event, body, strlen(body), &w, &err) != 0)
        fail_msg("%s", err.msg);
    assert_false(w.push);
    assert_int_equal(w.pr, kind);
    if (kind != SRV_PR_NONE) {
        assert_int_equal(w.pr_number, number);
        assert_string_equal(w.branch, head);
        assert_string_equal(w.pr_base, base);
        assert_int_equal(w.pr_same_repo, same);
    }
    srv_webhook_release(&w);
}

/* a GitHub pull_request event */
#define GH_PR(action, head_repo)                                                                   \
    "{\"action\":\"" action "\",\"number\":7,\"pull_request\":{\"head\":{\"ref\":"                 \
    "\"feature\",\"sha\":\"" SHA1 "\",\"repo\":{\"full_name\":\"" head_repo "\"}},"                \
    "\"base\":{\"ref\":\"main\",\"repo\":{\"full_name\":\"acme/shop\"}}}}"

static void test_pull_requests(void **state)
{
    (void)state;
    const char *b = GH_PR("opened", "acme/shop");
    pr_ok(SRV_HOOK_GITHUB, "pull_request", b, SRV_PR_OPEN, 7, "feature", "main", true);
    pr_ok(SRV_HOOK_GITEA, "pull_request", b, SRV_PR_OPEN, 7, "feature", "main", true);
    b = GH_PR("synchronize", "mallory/shop");
    pr_ok(SRV_HOOK_GITHUB, "pull_request", b, SRV_PR_OPEN, 7, "feature", "main", false);
    b = GH_PR("closed", "acme/shop");
    pr_ok(SRV_HOOK_GITHUB, "pull_request", b, SRV_PR_CLOSE, 7, "feature", "main", true);
    b = GH_PR("labeled", "acme/shop");
    pr_ok(SRV_HOOK_GITHUB, "pull_request", b, SRV_PR_NONE, 0, NULL, NULL, false);
    pr_ok(SRV_HOOK_GITLAB, "Merge Request Hook",
          "{\"object_attributes\":{\"action\":\"merge\",\"iid\":3,\"source_branch\":\"fix\","
          "\"target_branch\":\"main\",\"source_project_id\":5,\"target_project_id\":5}}",
          SRV_PR_CLOSE, 3, "fix", "main", true);
    pr_ok(SRV_HOOK_BITBUCKET, "pullrequest:created",
          "{\"pullrequest\":{\"id\":9,\"source\":{\"branch\":{\"name\":\"b\"},\"repository\":{"
          "\"full_name\":\"a/s\"}},\"destination\":{\"branch\":{\"name\":\"main\"},"
          "\"repository\":{\"full_name\":\"a/s\"}}}}",
          SRV_PR_OPEN, 9, "b", "main", true);
    struct srv_webhook w;
    struct zp_err err;
    zp_err_init(&err);
    const char *bad = "{\"action\":\"opened\",\"number\":0,\"pull_request\":{}}";
    assert_int_equal(srv_webhook_parse(SRV_HOOK_GITHUB, "pull_request", bad, strlen(bad), &w, &err),
                     ZP_E_INPUT);
    assert_null(w.branch);
}

static void test_verify(void **state)
{
    (void)state;
    /* RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?" */
    const char *body = "what do ya want for nothing?";
    const char *hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    char *gh = zp_asprintf("sha256=%s", hex);
    size_t n = strlen(body);
    assert_true(srv_webhook_verify(SRV_HOOK_GITHUB, "Jefe", gh, body, n));
    assert_true(srv_webhook_verify(SRV_HOOK_BITBUCKET, "Jefe", gh, body, n));
    assert_true(srv_webhook_verify(SRV_HOOK_GITEA, "Jefe", hex, body, n));
    /* the wrong form for the provider, key, body, a flipped digit, missing parts */
    assert_false(srv_webhook_verify(SRV_HOOK_GITEA, "Jefe", gh, body, n));
    assert_false(srv_webhook_verify(SRV_HOOK_GITHUB, "Jefe", hex, body, n));
    assert_false(srv_webhook_verify(SRV_HOOK_GITHUB, "jefe", gh, body, n));
    assert_false(srv_webhook_verify(SRV_HOOK_GITHUB, "Jefe", gh, body, n - 1));
    gh[strlen(gh) - 1] = '4';
    assert_false(srv_webhook_verify(SRV_HOOK_GITHUB, "Jefe", gh, body, n));
    assert_false(srv_webhook_verify(SRV_HOOK_GITHUB, "Jefe", "sha256=", body, n));
    assert_false(srv_webhook_verify(SRV_HOOK_GITHUB, "Jefe", NULL, body, n));
    assert_false(srv_webhook_verify(SRV_HOOK_GITHUB, "", "sha256=", body, n));
    assert_false(srv_webhook_verify(SRV_HOOK_GITHUB, NULL, gh, body, n));
    /* the decoy secret of unknown apps: one per process, as long as a generated secret */
    const char *decoy = srv_webhook_decoy_secret();
    assert_int_equal(strlen(decoy), 48);
    assert_ptr_equal(decoy, srv_webhook_decoy_secret());
    assert_int_equal(strspn(decoy, "0123456789abcdef"), 48);
    assert_false(srv_webhook_verify(SRV_HOOK_GITHUB, decoy, gh, body, n));
    /* GitLab: the token */
    assert_true(
        srv_webhook_verify(SRV_HOOK_GITLAB, "s3cret-token-1234", "s3cret-token-1234", body, n));
    assert_false(
        srv_webhook_verify(SRV_HOOK_GITLAB, "s3cret-token-1234", "s3cret-token-123", body, n));
    assert_false(srv_webhook_verify(SRV_HOOK_GITLAB, "s3cret-token-1234", NULL, body, n));
    free(gh);

    assert_int_equal(srv_webhook_provider("github"), SRV_HOOK_GITHUB);
    assert_int_equal(srv_webhook_provider("bitbucket"), SRV_HOOK_BITBUCKET);
    assert_int_equal(srv_webhook_provider("svn"), SRV_HOOK_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_pull_requests),
        cmocka_unit_test(test_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

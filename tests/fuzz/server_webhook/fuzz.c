/* Fuzz target: the webhook payload reader (server/api-apps.c). The first byte picks the
 * provider and the event (a push, a pull request or another); the rest is the body. Any input may
 * be rejected; none may crash or leak. A push names a non-empty branch; a commit id is 40 or 64
 * lowercase hex digits; on failure nothing is kept. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/server-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const push_events[] = {"push", "push", "Push Hook", "repo:push"};
    static const char *const pr_events[] = {"pull_request", "pull_request", "Merge Request Hook",
                                            "pullrequest:updated"};
    enum srv_hook_provider p = (enum srv_hook_provider)(data[0] & 3);
    const char *event = (data[0] & 8) ? pr_events[p] : (data[0] & 4) ? "other" : push_events[p];
    struct srv_webhook w;
    struct zp_err err;
    zp_err_init(&err);
    int rc = srv_webhook_parse(p, event, (const char *)data + 1, size - 1, &w, &err);
    if (rc == 0) {
        if (w.pr != SRV_PR_NONE) {
            check(!w.push && w.branch && *w.branch && w.pr_base && *w.pr_base);
            check(w.pr_number >= 1);
        } else if (w.push) {
            check(w.branch && *w.branch);
            if (w.sha)
                check((strlen(w.sha) == 40 || strlen(w.sha) == 64) &&
                      strspn(w.sha, "0123456789abcdef") == strlen(w.sha));
        } else {
            check(!w.branch && !w.sha);
        }
    } else {
        check(err.code == rc && !w.branch && !w.sha);
    }
    srv_webhook_release(&w);
    return 0;
}

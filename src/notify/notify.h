/* notify: the result of a job sent out on a channel: a webhook (a JSON POST signed with
 * HMAC-SHA256 of its body) or an email over SMTP, both through libcurl. One attempt per
 * call: the caller queues and retries. Library code: it never prints. */
#ifndef ZP_NOTIFY_H
#define ZP_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

enum notify_kind { NOTIFY_WEBHOOK, NOTIFY_SMTP };

/* "sha256=" and 64 hex digits, NUL-terminated */
#define NOTIFY_SIGNATURE_LEN (7 + 64 + 1)
#define NOTIFY_SIGNATURE_HEADER "X-Zpanel-Signature-256"

struct notify_channel {
    int64_t id;
    char *project; /* NULL: every project */
    enum notify_kind kind;
    char *url;          /* http(s)://... (webhook); smtp(s)://HOST[:PORT] (email) */
    char *secret;       /* webhook: the HMAC key; email: the SMTP password (NULL: none) */
    char *user;         /* email: the SMTP login (NULL: none) */
    char *from;         /* email: the sender's address */
    char *to;           /* email: the recipients' addresses, comma-separated */
    char *events;       /* comma-separated job kinds ("deploy,backup"), or "*" for all */
    bool failures_only; /* only failed or cancelled jobs */
};

struct notify_event {
    const char *event; /* the job's kind: "deploy", "rollback", "backup", ... */
    const char *project;
    int64_t job;
    const char *status; /* "succeeded", "failed", "cancelled" */
    const char *error;  /* why it failed, or NULL */
    const char *user;   /* who asked, or NULL */
    int64_t started_ms, finished_ms;
};

/* Is the channel well formed? Names the field at fault: the URL's scheme (http, https for
 * a webhook; smtp, smtps for email), a webhook's secret (at least 16 bytes), the
 * addresses (one '@', no spaces, no angle brackets, no control characters), the events.
 * Errors: ZP_E_INPUT. */
int notify_channel_check(const struct notify_channel *c, struct zp_err *err);
/* Does the channel take this event of this project? */
bool notify_wants(const struct notify_channel *c, const char *project, const char *event,
                  const char *status);
void notify_channel_release(struct notify_channel *c);
/* The webhook's body: {"event", "project", "job", "status", "error", "user", "started_at",
 * "finished_at", "sent_at"} (times in Unix milliseconds), newly allocated. */
char *notify_body_json(const struct notify_event *ev, int64_t now_ms);
/* "sha256=" + hex HMAC-SHA256(secret, body) into out. */
void notify_sign(const char *secret, const char *body, size_t len, char out[NOTIFY_SIGNATURE_LEN]);
/* The email (RFC 5322, CRLF line ends): From, To, Subject, Date, Message-ID and a plain
 * text body; newly allocated. */
char *notify_mail_text(const struct notify_channel *c, const struct notify_event *ev,
                       int64_t now_ms);
/* POST the JSON text body to url (http:// or https://) within timeout_ms, with the headers
 * X-Zpanel-Event (event), X-Zpanel-Delivery (random) and, when secret is not NULL,
 * X-Zpanel-Signature-256. Errors: ZP_E_SYSTEM (no answer, an answer other than 2xx), the
 * message naming the URL. */
int notify_post_json(const char *url, const char *secret, const char *event, const char *body,
                     int timeout_ms, struct zp_err *err);
/* One attempt to deliver ev on c within timeout_ms. Errors: ZP_E_SYSTEM (no answer, a
 * refused connection, a webhook's answer other than 2xx, an SMTP server's refusal): the
 * message names the channel's URL. */
int notify_send(const struct notify_channel *c, const struct notify_event *ev, int timeout_ms,
                struct zp_err *err);

#endif

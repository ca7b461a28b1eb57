/* notify: a job's result as a signed webhook or an email (see notify.h). */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify.h"

#include "../util/banned.h"

#define SECRET_MIN 16

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (sodium_init() < 0)
        abort(); /* no randomness: nothing can be signed or named */
}

/* libcurl's and libsodium's global state, once for the whole module */
static void init_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
}

static CURL *curl_new(void)
{
    init_once();
    CURL *h = curl_easy_init();
    if (h == NULL)
        abort(); /* out of memory: as zp_malloc */
    return h;
}

/* ---- checks ---- */

static bool has_scheme(const char *url, const char *const *schemes)
{
    for (size_t i = 0; schemes[i] != NULL; i++) {
        size_t n = strlen(schemes[i]);
        if (strncmp(url, schemes[i], n) == 0 && strncmp(url + n, "://", 3) == 0 && url[n + 3])
            return true;
    }
    return false;
}

static bool bad_char(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* one address: local@domain, printable, no spaces, no brackets, no commas */
static bool address_ok(const char *a, size_t n)
{
    size_t at = 0, nat = 0;
    if (n == 0 || n > 254)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' || c == '"' || c == '\\')
            return false;
        if (c == '@') {
            at = i;
            nat++;
        }
    }
    return nat == 1 && at > 0 && at + 1 < n;
}

/* The next item of the comma-separated list at *cursor, spaces around it trimmed, into
 * *ret and *ret_n; false at the end. */
static bool list_next(const char **cursor, const char **ret, size_t *ret_n)
{
    const char *p = *cursor;
    if (p == NULL || *p == '\0')
        return false;
    while (*p == ' ')
        p++;
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    while (n > 0 && p[n - 1] == ' ')
        n--;
    *ret = p;
    *ret_n = n;
    *cursor = end ? end + 1 : NULL;
    return true;
}

/* each item of list passes ok; at least one */
static bool list_ok(const char *list, bool (*ok)(const char *, size_t))
{
    size_t count = 0, n;
    const char *cur = list, *item;
    while (list_next(&cur, &item, &n)) {
        if (!ok(item, n))
            return false;
        count++;
    }
    return count > 0;
}

static bool event_ok(const char *e, size_t n)
{
    if (n == 1 && e[0] == '*')
        return true;
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((e[i] >= 'a' && e[i] <= 'z') || e[i] == '-' || e[i] == '_'))
            return false;
    return true;
}

int notify_channel_check(const struct notify_channel *c, struct zp_err *err)
{
    static const char *const web[] = {"http", "https", NULL};
    static const char *const mail[] = {"smtp", "smtps", NULL};
    if (c->url == NULL || bad_char(c->url) || strchr(c->url, ' ') != NULL ||
        !has_scheme(c->url, c->kind == NOTIFY_WEBHOOK ? web : mail))
        return zp_err_set(err, ZP_E_INPUT, NULL, "url: '%s' is not a%s URL", c->url ? c->url : "",
                          c->kind == NOTIFY_WEBHOOK ? "n http:// or https://"
                                                    : " smtp:// or smtps://");
    if (c->events != NULL && !list_ok(c->events, event_ok))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "events: '%s' is not a list of job kinds (deploy,backup,...) or '*'",
                          c->events);
    if (c->kind == NOTIFY_WEBHOOK) {
        if (c->secret == NULL || strlen(c->secret) < SECRET_MIN)
            return zp_err_set(err, ZP_E_INPUT, NULL,
                              "secret: a webhook's signing secret needs at least %d bytes",
                              SECRET_MIN);
        return 0;
    }
    if (c->from == NULL || !address_ok(c->from, strlen(c->from)))
        return zp_err_set(err, ZP_E_INPUT, NULL, "from: '%s' is not an email address",
                          c->from ? c->from : "");
    if (c->to == NULL || !list_ok(c->to, address_ok))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "to: '%s' is not a comma-separated list of email addresses",
                          c->to ? c->to : "");
    if ((c->user && bad_char(c->user)) || (c->secret && bad_char(c->secret)))
        return zp_err_set(err, ZP_E_INPUT, NULL, "user, password: no control characters");
    return 0;
}

static bool in_list(const char *list, const char *word)
{
    size_t wn = strlen(word), n;
    const char *cur = list, *item;
    while (list_next(&cur, &item, &n))
        if ((n == 1 && item[0] == '*') || (n == wn && memcmp(item, word, n) == 0))
            return true;
    return false;
}

bool notify_wants(const struct notify_channel *c, const char *project, const char *event,
                  const char *status)
{
    if (c->project != NULL && strcmp(c->project, project) != 0)
        return false;
    if (c->failures_only && strcmp(status, "succeeded") == 0)
        return false;
    return c->events == NULL || in_list(c->events, event);
}

void notify_channel_release(struct notify_channel *c)
{
    free(c->project);
    free(c->url);
    if (c->secret) {
        sodium_memzero(c->secret, strlen(c->secret));
        free(c->secret);
    }
    free(c->user);
    free(c->from);
    free(c->to);
    free(c->events);
    memset(c, 0, sizeof(*c));
}

/* ---- messages ---- */

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

char *notify_body_json(const struct notify_event *ev, int64_t now_ms)
{
    json_t *o = json_object();
    json_object_set_new(o, "event", json_string(ev->event));
    json_object_set_new(o, "project", json_string(ev->project));
    json_object_set_new(o, "job", json_integer(ev->job));
    json_object_set_new(o, "status", json_string(ev->status));
    json_object_set_new(o, "error", str_or_null(ev->error));
    json_object_set_new(o, "user", str_or_null(ev->user));
    json_object_set_new(o, "started_at", json_integer(ev->started_ms));
    json_object_set_new(o, "finished_at", json_integer(ev->finished_ms));
    json_object_set_new(o, "sent_at", json_integer(now_ms));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (s == NULL)
        abort(); /* out of memory: as zp_malloc */
    return s;
}

void notify_sign(const char *secret, const char *body, size_t len, char out[NOTIFY_SIGNATURE_LEN])
{
    init_once();
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "sha256=", 7);
    sodium_bin2hex(out + 7, NOTIFY_SIGNATURE_LEN - 7, mac, sizeof(mac));
}

/* text with every line end as CRLF (SMTP's) */
static void add_crlf(struct zp_buf *b, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n')
            zp_buf_addc(b, '\r');
        zp_buf_addc(b, *p);
    }
}

char *notify_mail_text(const struct notify_channel *c, const struct notify_event *ev,
                       int64_t now_ms)
{
    init_once();
    char date[64];
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    unsigned char rnd[12];
    char id[sizeof(rnd) * 2 + 1];
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(id, sizeof(id), rnd, sizeof(rnd));
    const char *domain = strchr(c->from, '@') + 1; /* checked: one '@' inside */

    struct zp_buf b;
    zp_buf_init(&b, 0);
    zp_buf_addf(&b, "From: zpanel <%s>\r\nTo: %s\r\n", c->from, c->to);
    /* the subject carries only checked names (project, kind) and the status word */
    zp_buf_addf(&b, "Subject: [zpanel] %s of %s %s\r\n", ev->event, ev->project, ev->status);
    zp_buf_addf(&b, "Date: %s\r\nMessage-ID: <%s@%s>\r\n", date, id, domain);
    zp_buf_adds(&b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: 8bit\r\n\r\n");
    zp_buf_addf(&b, "The %s of project %s (job %lld) %s", ev->event, ev->project,
                (long long)ev->job, ev->status);
    if (ev->finished_ms > ev->started_ms && ev->started_ms > 0)
        zp_buf_addf(&b, " after %.1f s", (double)(ev->finished_ms - ev->started_ms) / 1000.0);
    zp_buf_adds(&b, ".\r\n");
    if (ev->user)
        zp_buf_addf(&b, "Asked by: %s\r\n", ev->user);
    if (ev->error) {
        zp_buf_adds(&b, "\r\n");
        add_crlf(&b, ev->error);
        zp_buf_adds(&b, "\r\n");
    }
    return zp_buf_detach(&b, NULL);
}

/* ---- delivery ---- */

struct reader {
    const char *p;
    size_t left;
};

static size_t read_cb(char *buf, size_t size, size_t n, void *ud)
{
    struct reader *r = ud;
    size_t max = size * n, k = r->left < max ? r->left : max;
    memcpy(buf, r->p, k);
    r->p += k;
    r->left -= k;
    return k;
}

static size_t discard_cb(char *buf, size_t size, size_t n, void *ud)
{
    (void)buf;
    (void)ud;
    return size * n;
}

static void common_opts(CURL *h, const char *url, int timeout_ms, char *errbuf)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 5000 ? timeout_ms : 5000));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,smtp,smtps");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
}

int notify_post_json(const char *url, const char *secret, const char *event, const char *body,
                     int timeout_ms, struct zp_err *err)
{
    size_t len = strlen(body);
    unsigned char rnd[16];
    char delivery[sizeof(rnd) * 2 + 1];
    init_once();
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(delivery, sizeof(delivery), rnd, sizeof(rnd));
    char *lines[7];
    size_t n = 0;
    lines[n++] = zp_strdup("Content-Type: application/json");
    lines[n++] = zp_asprintf("User-Agent: zpanel/%s", ZP_VERSION);
    lines[n++] = zp_asprintf("X-Zpanel-Event: %s", event);
    lines[n++] = zp_asprintf("X-Zpanel-Delivery: %s", delivery);
    lines[n++] = zp_strdup("Expect:");
    if (secret != NULL) {
        char sig[NOTIFY_SIGNATURE_LEN];
        notify_sign(secret, body, len, sig);
        lines[n++] = zp_asprintf("%s: %s", NOTIFY_SIGNATURE_HEADER, sig);
    }
    struct curl_slist *hdr = NULL;
    for (size_t i = 0; i < n; i++)
        hdr = curl_slist_append(hdr, lines[i]);
    CURL *h = curl_new();
    char errbuf[CURL_ERROR_SIZE] = "";
    common_opts(h, url, timeout_ms, errbuf);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_cb);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    int ret = 0;
    if (rc != CURLE_OK)
        ret = zp_err_set(err, ZP_E_SYSTEM, NULL, "webhook %s: %s", url,
                         errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else if (status < 200 || status > 299)
        ret = zp_err_set(err, ZP_E_SYSTEM, NULL, "webhook %s answered %ld", url, status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdr);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    return ret;
}

static int send_webhook(const struct notify_channel *c, const struct notify_event *ev,
                        int timeout_ms, struct zp_err *err)
{
    char *body = notify_body_json(ev, ev->finished_ms);
    int rc = notify_post_json(c->url, c->secret, ev->event, body, timeout_ms, err);
    free(body);
    return rc;
}

static int send_mail(const struct notify_channel *c, const struct notify_event *ev, int timeout_ms,
                     struct zp_err *err)
{
    char *text = notify_mail_text(c, ev, ev->finished_ms);
    struct reader r = {text, strlen(text)};
    struct curl_slist *rcpt = NULL;
    const char *cur = c->to, *item;
    size_t n;
    while (list_next(&cur, &item, &n)) {
        char *one = zp_asprintf("<%.*s>", (int)n, item);
        rcpt = curl_slist_append(rcpt, one);
        free(one);
    }
    char *from = zp_asprintf("<%s>", c->from);
    CURL *h = curl_new();
    char errbuf[CURL_ERROR_SIZE] = "";
    common_opts(h, c->url, timeout_ms, errbuf);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, &r);
    /* STARTTLS when the server offers it; smtps:// is TLS from the start */
    curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    if (c->user)
        curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
    if (c->secret)
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret);
    CURLcode rc = curl_easy_perform(h);
    int ret = 0;
    if (rc != CURLE_OK)
        ret = zp_err_set(err, ZP_E_SYSTEM, NULL, "email through %s: %s", c->url,
                         errbuf[0] ? errbuf : curl_easy_strerror(rc));
    curl_easy_cleanup(h);
    curl_slist_free_all(rcpt);
    free(from);
    free(text);
    return ret;
}

int notify_send(const struct notify_channel *c, const struct notify_event *ev, int timeout_ms,
                struct zp_err *err)
{
    if (c->kind == NOTIFY_WEBHOOK)
        return send_webhook(c, ev, timeout_ms, err);
    return send_mail(c, ev, timeout_ms, err);
}

/* app/git: fetch and check out an app's repository with libgit2 (no git binary): file://,
 * https with a token, ssh with a deploy key and the host key checked against zpanel's
 * known_hosts (the one `zpanel server add` fills). libgit2 stays in this file. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "../ssh/ssh.h"
#include "app-int.h"

#include "../util/banned.h"

struct cb_state {
    const struct app_git_auth *auth;
    int ssh_port; /* the URL's (22 when it names none): known_hosts has "[host]:port" */
    int cred_tries;
    char *problem;    /* why the host key or the credentials were refused */
    bool auth_failed; /* problem is about credentials */
};

static int git_fail(struct zp_err *err, int code, const char *what)
{
    const git_error *e = git_error_last();
    return zp_err_set(err, code, NULL, "%s: %s", what, e && e->message ? e->message : "failed");
}

static int on_credentials(git_credential **out, const char *url, const char *user_from_url,
                          unsigned int allowed, void *payload)
{
    struct cb_state *st = payload;
    (void)url;
    /* one try per kind: a wrong token must fail, not loop. libgit2's own message after a
     * refusal here is not about it, so the reason is kept for the error. */
    free(st->problem);
    st->problem = NULL;
    st->auth_failed = true;
    if (st->cred_tries++ > 0) {
        st->problem = zp_strdup("the repository refused the credentials (a wrong or expired "
                                "token or deploy key?)");
        return GIT_EAUTH;
    }
    const struct app_git_auth *a = st->auth;
    if ((allowed & GIT_CREDENTIAL_SSH_KEY) && a && a->ssh_key)
        return git_credential_ssh_key_new(out, user_from_url ? user_from_url : "git", NULL,
                                          a->ssh_key, NULL);
    if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && a && a->token)
        return git_credential_userpass_plaintext_new(
            out, user_from_url && *user_from_url ? user_from_url : "x-access-token", a->token);
    st->problem = zp_strdup((allowed & GIT_CREDENTIAL_SSH_KEY)
                                ? "the repository needs a deploy key (--ssh-key)"
                                : "the repository needs a token (--token-file)");
    return GIT_EAUTH;
}

static void b64(const unsigned char *in, size_t n, struct zp_buf *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        zp_buf_addc(out, tab[(v >> 18) & 63]);
        zp_buf_addc(out, tab[(v >> 12) & 63]);
        if (i + 1 < n)
            zp_buf_addc(out, tab[(v >> 6) & 63]);
        if (i + 2 < n)
            zp_buf_addc(out, tab[v & 63]);
    }
}

enum host_match { HOST_UNKNOWN, HOST_KNOWN, HOST_OTHER_KEY };

/* Does known_hosts list the SSH host key of host:port (fingerprint fp, "SHA256:...") for
 * it (HOST_KNOWN), only other keys (HOST_OTHER_KEY), or nothing (HOST_UNKNOWN)? Names as
 * OpenSSH writes them: "host" for port 22, else "[host]:port". */
static enum host_match host_known(const char *known_hosts, const char *host, int port,
                                  const char *fp)
{
    char *data = NULL;
    size_t len;
    struct zp_err err;
    zp_err_init(&err);
    if (!known_hosts || zp_file_read(known_hosts, SSH_MAX_FILE, &data, &len, &err) != 0)
        return HOST_UNKNOWN;
    char *pat = ssh_host_pattern(host, port);
    enum host_match m = HOST_UNKNOWN;
    for (char *line = data; line && *line && m != HOST_KNOWN;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        struct ssh_known_host k;
        bool blank = false;
        zp_err_init(&err);
        if (ssh_known_host_parse(line, &k, &blank, &err) == 0 && !blank) {
            char *kfp = NULL;
            if (!k.marker && ssh_known_host_names_match(k.names, pat) &&
                ssh_fingerprint_of_blob(k.key, &kfp, &err) == 0)
                m = strcmp(kfp, fp) == 0 ? HOST_KNOWN : HOST_OTHER_KEY;
            free(kfp);
            ssh_known_host_release(&k);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(pat);
    free(data);
    return m;
}

static int on_certificate(git_cert *cert, int valid, const char *host, void *payload)
{
    struct cb_state *st = payload;
    if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
        return valid ? 0 : GIT_PASSTHROUGH; /* TLS: libgit2's own verification decides */
    git_cert_hostkey *hk = (git_cert_hostkey *)cert;
    if (!(hk->type & GIT_CERT_SSH_SHA256)) {
        free(st->problem);
        st->problem = zp_asprintf("host '%s': no SHA-256 host key fingerprint", host);
        return GIT_ECERTIFICATE;
    }
    struct zp_buf fp = ZP_BUF_INIT;
    zp_buf_adds(&fp, "SHA256:");
    b64(hk->hash_sha256, 32, &fp);
    enum host_match m =
        host_known(st->auth ? st->auth->known_hosts : NULL, host, st->ssh_port, zp_buf_cstr(&fp));
    char *name = ssh_host_pattern(host, st->ssh_port);
    free(st->problem);
    st->problem = NULL;
    if (m == HOST_OTHER_KEY)
        st->problem = zp_asprintf("host '%s': REFUSING host key %s: zpanel's known_hosts "
                                  "holds another key for it (the key changed, or someone is "
                                  "in the middle); if the change is expected, replace the "
                                  "host's line in %s",
                                  name, zp_buf_cstr(&fp), st->auth->known_hosts);
    else if (m == HOST_UNKNOWN)
        st->problem = zp_asprintf("host '%s' is not known: its host key %s is not in "
                                  "zpanel's known_hosts (add it with `zpanel server add` or "
                                  "`ssh-keyscan`, after checking the fingerprint)",
                                  name, zp_buf_cstr(&fp));
    free(name);
    zp_buf_release(&fp);
    return m == HOST_KNOWN ? 0 : GIT_ECERTIFICATE;
}

static void callbacks(git_remote_callbacks *cb, struct cb_state *st)
{
    cb->credentials = on_credentials;
    cb->certificate_check = on_certificate;
    cb->payload = st;
}

/* check out the submodules of repo at the commits its tree names */
static int update_submodules_cb(git_submodule *sm, const char *name, void *payload)
{
    (void)name;
    struct cb_state *st = payload;
    git_submodule_update_options o;
    git_submodule_update_options_init(&o, GIT_SUBMODULE_UPDATE_OPTIONS_VERSION);
    callbacks(&o.fetch_opts.callbacks, st);
    o.checkout_opts.checkout_strategy = GIT_CHECKOUT_FORCE;
    st->cred_tries = 0;
    return git_submodule_update(sm, 1, &o);
}

bool app_git_url_valid(const char *url)
{
    return zp_str_has_prefix(url, "file://") || zp_str_has_prefix(url, "https://") ||
           zp_str_has_prefix(url, "http://") || zp_str_has_prefix(url, "ssh://") ||
           (strchr(url, '@') && strchr(url, ':') && !strstr(url, "://")); /* git@host:repo */
}

int app__git_ssh_port(const char *url)
{
    if (!zp_str_has_prefix(url, "ssh://"))
        return 22;
    const char *h = url + 6, *end = strchr(h, '/');
    if (!end)
        end = h + strlen(h);
    for (const char *at = h; at < end; at++)
        if (*at == '@')
            h = at + 1;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        h = rb ? rb + 1 : end;
    }
    const char *colon = memchr(h, ':', (size_t)(end - h));
    if (!colon)
        return 22;
    char *digits = zp_strndup(colon + 1, (size_t)(end - colon - 1));
    int64_t v;
    int port = zp_parse_int64(digits, 1, 65535, &v) == 0 ? (int)v : -1;
    free(digits);
    return port;
}

bool app_git_shallow_supported(void)
{
#if LIBGIT2_VER_MAJOR > 1 || (LIBGIT2_VER_MAJOR == 1 && LIBGIT2_VER_MINOR >= 7)
    return true;
#else
    return false;
#endif
}

int app_git_sync(const char *url, const char *branch, const char *commit, const char *dir,
                 const struct app_git_auth *auth, char ret_sha[41], char **ret_fetch,
                 struct zp_err *err)
{
    if (ret_fetch)
        *ret_fetch = NULL;
    if (!app_git_url_valid(url))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "git URL '%s': expected file://, https://, ssh:// or USER@HOST:PATH",
                          url);
    if (!branch || !*branch || branch[0] == '-' || strstr(branch, "..") ||
        strpbrk(branch, " ~^:?*[\\"))
        return zp_err_set(err, ZP_E_INPUT, NULL, "invalid branch name '%s'", branch ? branch : "");
    bool ssh = zp_str_has_prefix(url, "ssh://") || !strstr(url, "://");
    int port = ssh ? app__git_ssh_port(url) : 0;
    if (port < 0)
        return zp_err_set(err, ZP_E_INPUT, NULL, "git URL '%s': invalid port", url);
    git_libgit2_init();
    if (ssh && !(git_libgit2_features() & GIT_FEATURE_SSH)) {
        git_libgit2_shutdown();
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "git URL '%s': this zpanel's libgit2 (" LIBGIT2_VERSION
                          ") was built without SSH; use https:// with a token, or file://",
                          url);
    }
    git_repository *repo = NULL;
    git_remote *remote = NULL;
    git_object *target = NULL;
    struct cb_state st = {.auth = auth, .ssh_port = port};
    char *fetch_note = NULL;
    char *refspec = zp_asprintf("+refs/heads/%s:refs/remotes/origin/%s", branch, branch);
    char *tracking = zp_asprintf("refs/remotes/origin/%s", branch);
    int rc = 0;
    if (zp_mkdir_p(dir, 0700, err) != 0) {
        rc = err->code;
        goto out;
    }
    if (git_repository_open_ext(&repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) != 0 &&
        git_repository_init(&repo, dir, 0) != 0) {
        rc = git_fail(err, ZP_E_SYSTEM, "creating the repository");
        goto out;
    }
    if (git_remote_lookup(&remote, repo, "origin") != 0) {
        if (git_remote_create(&remote, repo, "origin", url) != 0) {
            rc = git_fail(err, ZP_E_INPUT, "git remote");
            goto out;
        }
    } else if (strcmp(git_remote_url(remote), url) != 0) {
        git_remote_free(remote);
        remote = NULL;
        if (git_remote_set_url(repo, "origin", url) != 0 ||
            git_remote_lookup(&remote, repo, "origin") != 0) {
            rc = git_fail(err, ZP_E_INPUT, "git remote");
            goto out;
        }
    }
    git_fetch_options fo;
    git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
    callbacks(&fo.callbacks, &st);
    fo.prune = GIT_FETCH_PRUNE;
#if LIBGIT2_VER_MAJOR > 1 || (LIBGIT2_VER_MAJOR == 1 && LIBGIT2_VER_MINOR >= 7)
    /* shallow: the branch's tip is all a deploy needs; a given commit (a rollback) needs
     * the history, which a shallow checkout then fetches once */
    if (zp_str_has_prefix(url, "file://")) {
        /* libgit2's local transport refuses a depth ("shallow fetch is not supported by
         * the local transport"): a local repository is fetched whole */
        fetch_note = zp_strdup("full fetch: libgit2's local transport (file://) has no "
                               "shallow fetch");
    } else if (ssh) {
        /* libgit2 1.8's depth request over ssh is malformed: git upload-pack answers
         * "expected SHA1 list, got 'want ... shallow '" (seen with 1.8.4 and git 2.39;
         * rust-lang/git2-rs#1084); over smart HTTP it works */
        fetch_note = zp_strdup("full fetch: libgit2's shallow fetch over ssh is refused by "
                               "git upload-pack (shallow over http(s) only)");
    } else if (!commit) {
        fo.depth = 1;
        fetch_note = zp_strdup("shallow fetch (depth 1, libgit2 " LIBGIT2_VERSION ")");
    } else if (git_repository_is_shallow(repo) == 1) {
        fo.depth = GIT_FETCH_DEPTH_UNSHALLOW;
        fetch_note = zp_strdup("full fetch: a given commit needs the branch's history (the "
                               "shallow checkout is unshallowed)");
    } else {
        fetch_note = zp_strdup("full fetch: a given commit needs the branch's history");
    }
#else
    fetch_note = zp_strdup("full fetch: libgit2 " LIBGIT2_VERSION " has no shallow fetch, "
                           "1.7 or later has; later fetches are incremental");
#endif
    char *specs[] = {refspec};
    git_strarray refspecs = {specs, 1};
    if (git_remote_fetch(remote, &refspecs, &fo, "zpanel fetch") != 0) {
        if (st.problem)
            rc = zp_err_set(err, st.auth_failed ? ZP_E_NOTFOUND : ZP_E_INPUT, NULL,
                            "fetching '%s': %s", url, st.problem);
        else
            rc = git_fail(err, ZP_E_NOTFOUND, "fetching the repository");
        zp_err_prefix(err, "branch '%s'", branch);
        goto out;
    }
    if (commit) {
        for (const char *s = commit; *s; s++)
            if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                s = commit + strlen(commit) - 1, commit = NULL;
        if (!commit || strlen(commit) < 7 || strlen(commit) > 40 ||
            git_revparse_single(&target, repo, commit) != 0) {
            rc = zp_err_set(err, ZP_E_NOTFOUND, NULL,
                            "commit '%s' is not in the fetched history of branch '%s'",
                            commit ? commit : "(invalid)", branch);
            goto out;
        }
    } else if (git_revparse_single(&target, repo, tracking) != 0) {
        rc = git_fail(err, ZP_E_NOTFOUND, "branch");
        goto out;
    }
    git_object *peeled = NULL;
    if (git_object_peel(&peeled, target, GIT_OBJECT_COMMIT) != 0) {
        rc = git_fail(err, ZP_E_NOTFOUND, "not a commit");
        goto out;
    }
    git_object_free(target);
    target = peeled;
    git_checkout_options co;
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED;
    if (git_checkout_tree(repo, target, &co) != 0 ||
        git_repository_set_head_detached(repo, git_object_id(target)) != 0) {
        rc = git_fail(err, ZP_E_SYSTEM, "checking out");
        goto out;
    }
    if (git_submodule_foreach(repo, update_submodules_cb, &st) != 0) {
        rc = git_fail(err, ZP_E_NOTFOUND, "submodules");
        goto out;
    }
    git_oid_tostr(ret_sha, 41, git_object_id(target));
    if (ret_fetch) {
        *ret_fetch = fetch_note;
        fetch_note = NULL;
    }
out:
    free(fetch_note);
    free(st.problem);
    free(refspec);
    free(tracking);
    git_object_free(target);
    git_remote_free(remote);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return rc;
}

/* Fuzz target: the ssh module's parsers: an ssh:// URL, a known_hosts line, a line of the
 * sync manifest and a SHA256 fingerprint, each fed the same input (as one string, and line by
 * line). Any input may be rejected; none may crash or leak; what is accepted must be consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ssh/ssh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void one(const char *s)
{
    struct zp_err err;
    zp_err_init(&err);
    struct ssh_url u;
    if (ssh_url_parse(s, &u, &err) == 0) {
        check(u.user[0] != '\0' && u.host[0] != '\0' && u.port >= 1 && u.port <= 65535);
        char *p = ssh_host_pattern(u.host, u.port);
        check(strstr(p, u.host) != NULL);
        free(p);
        ssh_url_release(&u);
    } else {
        check(err.code == ZP_E_INPUT && err.msg[0] != '\0');
    }
    zp_err_init(&err);
    struct ssh_known_host k;
    bool blank = false;
    if (ssh_known_host_parse(s, &k, &blank, &err) == 0) {
        if (!blank) {
            check(k.names && k.keytype && k.key);
            char *fp = NULL;
            check(ssh_fingerprint_of_blob(k.key, &fp, &err) == 0);
            char *again = NULL;
            check(ssh_fingerprint_parse(fp, &again, &err) == 0 && strcmp(fp, again) == 0);
            free(again);
            free(fp);
            (void)ssh_known_host_names_match(k.names, s);
            ssh_known_host_release(&k);
        }
    } else {
        check(err.code == ZP_E_INPUT);
    }
    zp_err_init(&err);
    struct ssh_sync_entry se;
    if (ssh_sync_manifest_line(s, &se, &err) == 0) {
        check(se.path[0] != '\0' && se.path[0] != '/' && strlen(se.sha256) == 64 &&
              se.mode <= 07777 && strstr(se.path, "\n") == NULL);
        free(se.path);
    } else {
        check(err.code == ZP_E_INPUT);
    }
    zp_err_init(&err);
    char *fp = NULL;
    if (ssh_fingerprint_parse(s, &fp, &err) == 0) {
        check(strlen(fp) == strlen("SHA256:") + 43);
        free(fp);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 20000)
        return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    one(s);
    for (char *line = s; line;) { /* each line alone too (strings stop at a NUL) */
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        one(line);
        line = nl ? nl + 1 : NULL;
    }
    free(s);
    return 0;
}

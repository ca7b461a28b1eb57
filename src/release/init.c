/* release/init: the system checks before a template is installed as a stack (uname, the
 * engine's /info, a bind on the HTTP ports, the firewall tools found on the system). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "init.h"

#include "../util/banned.h"

bool release_port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return true; /* cannot tell */
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static int port_of(const struct compose_env *set, const char *key, int def)
{
    const char *v = set ? compose_env_get(set, key) : NULL;
    int64_t p;
    if (v && zp_parse_int64(v, 1, 65535, &p) == 0)
        return (int)p;
    return def;
}

static void add(struct release_init_check **c, size_t *n, const char *what, bool failed, char *text)
{
    *c = zp_realloc(*c, (*n + 1) * sizeof(**c));
    (*c)[*n].what = zp_strdup(what);
    (*c)[*n].text = text;
    (*c)[*n].failed = failed;
    (*n)++;
}

bool release_init_checks(const struct release_init_opts *o, struct release_init_check **ret,
                         size_t *ret_n)
{
    struct release_init_check *c = NULL;
    size_t n = 0;
    bool ok = true;
    struct utsname u;
    if (uname(&u) == 0)
        add(&c, &n, "system", false,
            zp_asprintf("system %s %s (%s)", u.sysname, u.release, u.machine));
    struct zp_err err;
    zp_err_init(&err);
    struct engine *e = engine_new(o->host, &err);
    struct engine_info info;
    if (!e || engine_info(e, &info, &err) != 0) {
        char *m = zp_err_render(&err);
        add(&c, &n, "engine", true, zp_asprintf("engine: FAILED: %s", m));
        free(m);
        ok = false;
    } else {
        add(&c, &n, "engine", false,
            zp_asprintf("engine %s on %s (%s), %" PRId64 " CPU%s", info.server_version,
                        info.operating_system, info.architecture, info.ncpu,
                        info.ncpu == 1 ? "" : "s"));
        engine_info_release(&info);
    }
    engine_free(e);
    int ports[2] = {port_of(o->set, "HTTP_PORT", 80), port_of(o->set, "HTTPS_PORT", 443)};
    for (int i = 0; i < 2; i++) {
        if (release_port_free(ports[i])) {
            add(&c, &n, "port", false, zp_asprintf("port %d free", ports[i]));
        } else if (o->first) {
            add(&c, &n, "port", true,
                zp_asprintf("port %d: FAILED: in use (free it, or choose another with "
                            "--set %s=PORT)",
                            ports[i], i ? "HTTPS_PORT" : "HTTP_PORT"));
            ok = false;
        } else {
            add(&c, &n, "port", false,
                zp_asprintf("port %d in use (by this stack, installed already)", ports[i]));
        }
    }
    static const char *const fws[] = {"/usr/sbin/ufw", "/usr/sbin/firewalld", "/usr/sbin/nft",
                                      NULL};
    const char *fw = NULL;
    for (size_t i = 0; fws[i] && !fw; i++)
        if (access(fws[i], X_OK) == 0)
            fw = fws[i];
    if (fw)
        add(&c, &n, "firewall", false,
            zp_asprintf("firewall %s found: allow %d/tcp, %d/tcp and %d/udp (ufw allow %d/tcp; "
                        "ufw allow %d/tcp; ufw allow %d/udp)",
                        fw, ports[0], ports[1], ports[1], ports[0], ports[1], ports[1]));
    else
        add(&c, &n, "firewall", false,
            zp_strdup("no firewall tool found (ufw, firewalld, nft): nothing to open"));
    *ret = c;
    *ret_n = n;
    return ok;
}

void release_init_checks_free(struct release_init_check *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free(c[i].what);
        free(c[i].text);
    }
    free(c);
}

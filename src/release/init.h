/* release/init: the system checks of `zpanel init` (a stack installed from a template):
 * the system and its architecture, the engine and its version, the HTTP and HTTPS ports
 * free, the firewall tool and the rules to add. Library code: the results come back as
 * lines for the caller to print. */
#ifndef ZP_RELEASE_INIT_H
#define ZP_RELEASE_INIT_H

#include <stdbool.h>
#include <stddef.h>

#include "../compose/compose.h"
#include "../util/util.h"

struct release_init_check {
    char *what;  /* "system", "engine", "port", "firewall" */
    char *text;  /* one line, e.g. "engine 26.1.5 on Debian GNU/Linux 13 (x86_64), 2 CPUs" */
    bool failed; /* this check stops the install (text says what to do) */
};

struct release_init_opts {
    const char *host;              /* the engine's address (-H), or NULL: DOCKER_HOST / default */
    const struct compose_env *set; /* the project's variables: HTTP_PORT, HTTPS_PORT (80, 443) */
    bool first;                    /* a first install: a port in use fails (later: ours) */
};

/* Run the checks, in the order above. *ret gets the results (free with
 * release_init_checks_free); returns true when none failed. Never fails itself: an engine
 * that does not answer is a failed check naming the reason. */
bool release_init_checks(const struct release_init_opts *o, struct release_init_check **ret,
                         size_t *ret_n);
void release_init_checks_free(struct release_init_check *c, size_t n);

/* Can a TCP listener bind port on every IPv4 address? (true when it cannot be told) */
bool release_port_free(int port);

#endif

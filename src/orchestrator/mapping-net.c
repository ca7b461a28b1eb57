/* orchestrator/mapping-net: ports and expose, networks (aliases, addresses, the first one in
 * the create body), ipc/pid/network_mode, volumes_from, links and the x-zpanel route. Pure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping-int.h"
#include "routes.h"

#include "../util/banned.h"

/* ---- ports ---- */

static void expose_port(struct mapper *m, const char *key)
{
    zp_node_set(orch__map_jmap_at(m->body, "ExposedPorts"), key, zp_node_new_map(NULL));
}

int orch__map_ports(struct mapper *m, const struct zp_node *v)
{
    static const char *const known[] = {"mode",     "host_ip",      "target", "published",
                                        "protocol", "app_protocol", "name",   NULL};
    if (v->kind != ZP_NODE_SEQ)
        return orch__map_fail(m, v, "ports", "must be a list");
    struct zp_node *pb = orch__map_jmap_at(m->hc, "PortBindings");
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *p = v->items[i];
        char *f = zp_asprintf("ports[%zu]", i);
        int64_t target = 0;
        int rc = orch__map_check_keys(m, p, f, known);
        if (rc == 0) {
            char *tf = zp_asprintf("%s.target", f);
            rc = orch__map_get_int(m, zp_node_get(p, "target"), tf, &target);
            free(tf);
        }
        free(f);
        if (rc < 0)
            return rc;
        const char *proto = zp_node_get_str(p, "protocol");
        char *key = zp_asprintf("%lld/%s", (long long)target, proto ? proto : "tcp");
        expose_port(m, key);
        struct zp_node *b = zp_node_new_map(NULL);
        const char *ip = zp_node_get_str(p, "host_ip");
        zp_node_set(b, "HostIp", orch__map_jstr(ip ? ip : "")); /* "": every address */
        /* not published: an empty HostPort lets the engine pick one, as compose does */
        const char *pub = zp_node_get_str(p, "published");
        zp_node_set(b, "HostPort", orch__map_jstr(pub ? pub : ""));
        zp_node_push(orch__map_jseq_at(pb, key), b);
        free(key);
    }
    return 0;
}

/* expose: "80", "8000-8010", "53/udp". */
int orch__map_expose(struct mapper *m, const struct zp_node *v)
{
    if (v->kind != ZP_NODE_SEQ)
        return orch__map_fail(m, v, "expose", "must be a list");
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *it = v->items[i];
        if (it->kind != ZP_NODE_SCALAR)
            return orch__map_fail(m, it, "expose", "must be a list of strings");
        char *s = zp_strdup(it->str);
        const char *proto = "tcp";
        char *slash = strchr(s, '/');
        if (slash != NULL) {
            *slash = '\0';
            proto = slash + 1;
        }
        char *dash = strchr(s, '-');
        if (dash != NULL)
            *dash = '\0';
        int64_t lo = 0, hi = 0;
        bool ok = zp_parse_int64(s, 1, 65535, &lo) == 0 &&
                  (dash == NULL ? (hi = lo, true) : zp_parse_int64(dash + 1, lo, 65535, &hi) == 0);
        if (ok) {
            for (int64_t port = lo; port <= hi; port++) {
                char *key = zp_asprintf("%lld/%s", (long long)port, proto);
                expose_port(m, key);
                free(key);
            }
        }
        free(s);
        if (!ok) {
            char *f = zp_asprintf("expose[%zu]", i);
            int rc = orch__map_fail(m, it, f, "invalid port '%s'", it->str);
            free(f);
            return rc;
        }
    }
    return 0;
}

/* ---- namespaces and links ---- */

/* network_mode, ipc, pid: "service:x" -> "container:<x's container>", else as written. */
int orch__map_mode(struct mapper *m, const struct zp_node *v, const char *key, const char *field)
{
    if (zp_node_is_null(v))
        return 0;
    if (v->kind != ZP_NODE_SCALAR)
        return orch__map_fail(m, v, key, "must be a string");
    if (zp_str_has_prefix(v->str, "service:")) {
        char *c = NULL;
        int rc = orch__map_resolve_service(m, v, key, v->str + strlen("service:"), &c);
        if (rc < 0)
            return rc;
        char *s = zp_asprintf("container:%s", c);
        zp_node_set(m->hc, field, orch__map_jstr(s));
        free(s);
        free(c);
        return 0;
    }
    zp_node_set(m->hc, field, orch__map_jstr(v->str));
    return 0;
}

/* volumes_from: "service[:ro|rw]" or "container:name[:ro|rw]". */
int orch__map_volumes_from(struct mapper *m, const struct zp_node *v)
{
    if (v->kind != ZP_NODE_SEQ)
        return orch__map_fail(m, v, "volumes_from", "must be a list");
    struct zp_node *out = zp_node_new_seq(NULL);
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *it = v->items[i];
        if (it->kind != ZP_NODE_SCALAR) {
            zp_node_free(out);
            return orch__map_fail(m, it, "volumes_from", "must be a list of strings");
        }
        if (zp_str_has_prefix(it->str, "container:")) {
            zp_node_push(out, orch__map_jstr(it->str + strlen("container:")));
            continue;
        }
        const char *colon = strchr(it->str, ':');
        char *svc = colon ? zp_strndup(it->str, (size_t)(colon - it->str)) : zp_strdup(it->str);
        char *c = NULL, *f = zp_asprintf("volumes_from[%zu]", i);
        int rc = orch__map_resolve_service(m, it, f, svc, &c);
        free(f);
        free(svc);
        if (rc < 0) {
            zp_node_free(out);
            return rc;
        }
        char *s = zp_asprintf("%s%s", c, colon ? colon : "");
        zp_node_push(out, orch__map_jstr(s));
        free(s);
        free(c);
    }
    zp_node_set(m->hc, "VolumesFrom", out);
    return 0;
}

/* links "service[:alias]" -> "<container>:<alias>"; external_links "container[:alias]" as
 * written. Appended to seq. */
int orch__map_links(struct mapper *m, const struct zp_node *v, const char *key, bool external,
                    struct zp_node *seq)
{
    if (v->kind != ZP_NODE_SEQ)
        return orch__map_fail(m, v, key, "must be a list");
    for (size_t i = 0; i < v->n; i++) {
        const struct zp_node *it = v->items[i];
        if (it->kind != ZP_NODE_SCALAR)
            return orch__map_fail(m, it, key, "must be a list of strings");
        if (external) {
            zp_node_push(seq, orch__map_jstr(it->str));
            continue;
        }
        const char *colon = strchr(it->str, ':');
        char *svc = colon ? zp_strndup(it->str, (size_t)(colon - it->str)) : zp_strdup(it->str);
        char *c = NULL, *f = zp_asprintf("%s[%zu]", key, i);
        int rc = orch__map_resolve_service(m, it, f, svc, &c);
        free(f);
        if (rc == 0) {
            char *s = zp_asprintf("%s:%s", c, colon ? colon + 1 : svc);
            zp_node_push(seq, orch__map_jstr(s));
            free(s);
        }
        free(svc);
        free(c);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- networks ---- */

struct net_ref {
    const char *key;
    const struct zp_node *cfg; /* may be NULL */
    int64_t priority;
};

static int cmp_net(const void *a, const void *b)
{
    const struct net_ref *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    return strcmp(x->key, y->key);
}

static void push_unique(struct zp_node *seq, const char *s)
{
    for (size_t i = 0; i < seq->n; i++)
        if (strcmp(seq->items[i]->str, s) == 0)
            return;
    zp_node_push(seq, orch__map_jstr(s));
}

/* The aliases of the container on one network: the service name, the aliases written,
 * the container name. A one-off (`run`) container gets none, so it never receives the
 * service's traffic. */
static int net_aliases(struct mapper *m, const struct zp_node *cfg, const char *f,
                       struct zp_node **ret)
{
    struct zp_node *al = zp_node_new_seq(NULL);
    if (!m->oneoff) {
        push_unique(al, m->service);
        const struct zp_node *a = zp_node_get(cfg, "aliases");
        if (a != NULL) {
            struct zp_node *copy = NULL;
            char *af = zp_asprintf("%s.aliases", f);
            int rc = orch__map_str_list(m, a, af, &copy);
            free(af);
            if (rc < 0) {
                zp_node_free(al);
                return rc;
            }
            for (size_t i = 0; i < copy->n; i++)
                push_unique(al, copy->items[i]->str);
            zp_node_free(copy);
        }
        push_unique(al, m->spec->name);
    }
    *ret = al;
    return 0;
}

static int map_primary_network(struct mapper *m, const struct net_ref *r, const char *engine_name,
                               const char *f, struct zp_node *links)
{
    const struct zp_node *cfg = r->cfg;
    struct zp_node *ep = zp_node_new_map(NULL);
    struct zp_node *al = NULL;
    int rc = net_aliases(m, cfg, f, &al);
    if (rc < 0)
        goto out;
    if (al->n > 0)
        zp_node_set(ep, "Aliases", al);
    else
        zp_node_free(al);
    const char *v4 = zp_node_get_str(cfg, "ipv4_address");
    const char *v6 = zp_node_get_str(cfg, "ipv6_address");
    const struct zp_node *ll = zp_node_get(cfg, "link_local_ips");
    if (v4 != NULL || v6 != NULL || ll != NULL) {
        struct zp_node *ipam = orch__map_jmap_at(ep, "IPAMConfig");
        if (v4 != NULL)
            zp_node_set(ipam, "IPv4Address", orch__map_jstr(v4));
        if (v6 != NULL)
            zp_node_set(ipam, "IPv6Address", orch__map_jstr(v6));
        if (ll != NULL) {
            struct zp_node *l = NULL;
            char *lf = zp_asprintf("%s.link_local_ips", f);
            rc = orch__map_str_list(m, ll, lf, &l);
            free(lf);
            if (rc < 0)
                goto out;
            zp_node_set(ipam, "LinkLocalIPs", l);
        }
    }
    const struct zp_node *dopts = zp_node_get(cfg, "driver_opts");
    if (dopts != NULL) {
        struct zp_node *d = NULL;
        char *df = zp_asprintf("%s.driver_opts", f);
        rc = orch__map_str_map(m, dopts, df, &d);
        free(df);
        if (rc < 0)
            goto out;
        zp_node_set(ep, "DriverOpts", d);
    }
    /* API 1.41 takes the MAC address of the first network from the container config */
    const char *mac = zp_node_get_str(cfg, "mac_address");
    if (mac != NULL) {
        const char *svc_mac = zp_node_get_str(m->svc, "mac_address");
        if (svc_mac != NULL && strcmp(svc_mac, mac) != 0) {
            char *mf = zp_asprintf("%s.mac_address", f);
            rc = orch__map_fail(m, zp_node_get(cfg, "mac_address"), mf,
                                "'%s' differs from mac_address '%s'", mac, svc_mac);
            free(mf);
            goto out;
        }
        zp_node_set(m->body, "MacAddress", orch__map_jstr(mac));
    }
    if (links->n > 0)
        zp_node_set(ep, "Links", zp_node_copy(links));
    struct zp_node *nc =
        orch__map_jmap_at(orch__map_jmap_at(m->body, "NetworkingConfig"), "EndpointsConfig");
    zp_node_set(nc, engine_name, ep);
    ep = NULL;
    zp_node_set(m->hc, "NetworkMode", orch__map_jstr(engine_name));
out:
    zp_node_free(ep);
    return rc;
}

static int map_secondary_network(struct mapper *m, const struct net_ref *r, const char *engine_name,
                                 const char *f)
{
    static const char *const first_only[] = {"link_local_ips", "mac_address", "driver_opts", NULL};
    for (size_t k = 0; first_only[k]; k++) {
        const struct zp_node *n = zp_node_get(r->cfg, first_only[k]);
        if (n == NULL)
            continue;
        char *kf = zp_asprintf("%s.%s", f, first_only[k]);
        int rc = orch__map_fail(m, n, kf,
                                "can only be set on the service's first network (the one with the "
                                "highest priority)");
        free(kf);
        return rc;
    }
    struct zp_node *al = NULL;
    int rc = net_aliases(m, r->cfg, f, &al);
    if (rc < 0)
        return rc;
    struct orch_container_spec *s = m->spec;
    s->networks = zp_realloc(s->networks, (s->nnetworks + 1) * sizeof(*s->networks));
    struct orch_netattach *na = &s->networks[s->nnetworks++];
    memset(na, 0, sizeof(*na));
    na->network = zp_strdup(engine_name);
    na->aliases = zp_calloc(al->n + 1, sizeof(*na->aliases));
    for (size_t i = 0; i < al->n; i++)
        na->aliases[i] = zp_strdup(al->items[i]->str);
    zp_node_free(al);
    const char *v4 = zp_node_get_str(r->cfg, "ipv4_address");
    const char *v6 = zp_node_get_str(r->cfg, "ipv6_address");
    na->ipv4_address = v4 ? zp_strdup(v4) : NULL;
    na->ipv6_address = v6 ? zp_strdup(v6) : NULL;
    return 0;
}

int orch__map_networks(struct mapper *m, const struct zp_node *nets, struct zp_node *links)
{
    static const char *const known[] = {
        "aliases",     "ipv4_address", "ipv6_address", "link_local_ips", "mac_address",
        "driver_opts", "priority",     "gw_priority",  "interface_name", NULL};
    if (nets->kind != ZP_NODE_MAP)
        return orch__map_fail(m, nets, "networks", "must be a mapping");
    if (nets->n == 0)
        return 0;
    struct net_ref *refs = zp_calloc(nets->n, sizeof(*refs));
    int rc = 0;
    for (size_t i = 0; i < nets->n && rc == 0; i++) {
        struct net_ref *r = &refs[i];
        r->key = nets->pairs[i].key->str;
        r->cfg = zp_node_is_null(nets->pairs[i].value) ? NULL : nets->pairs[i].value;
        char *f = zp_path_key("networks", r->key);
        rc = orch__map_check_keys(m, r->cfg, f, known);
        static const char *const too_new[] = {"gw_priority", "interface_name", NULL};
        for (size_t k = 0; rc == 0 && too_new[k]; k++) {
            const struct zp_node *n = zp_node_get(r->cfg, too_new[k]);
            if (n != NULL) {
                char *kf = zp_asprintf("%s.%s", f, too_new[k]);
                rc = orch__map_fail(m, n, kf, API_TOO_OLD);
                free(kf);
            }
        }
        const struct zp_node *prio = zp_node_get(r->cfg, "priority");
        if (rc == 0 && prio != NULL) {
            char *pf = zp_asprintf("%s.priority", f);
            rc = orch__map_get_int(m, prio, pf, &r->priority);
            free(pf);
        }
        free(f);
    }
    if (rc == 0)
        qsort(refs, nets->n, sizeof(*refs), cmp_net);
    const struct zp_node *defs = zp_node_get(m->p->model, "networks");
    for (size_t i = 0; i < nets->n && rc == 0; i++) {
        char *f = zp_path_key("networks", refs[i].key);
        const char *engine_name = zp_node_get_str(zp_node_get(defs, refs[i].key), "name");
        if (engine_name == NULL)
            rc = orch__map_fail(m, zp_node_get_key(nets, refs[i].key), f,
                                "network '%s' is not defined in the top-level networks",
                                refs[i].key);
        else if (i == 0)
            rc = map_primary_network(m, &refs[i], engine_name, f, links);
        else
            rc = map_secondary_network(m, &refs[i], engine_name, f);
        free(f);
    }
    free(refs);
    return rc;
}

/* ---- routes: x-zpanel ---- */

/* Is engine network `name` already one of the container's? */
static bool has_network(const struct mapper *m, const char *name)
{
    const struct zp_node *eps =
        zp_node_get(zp_node_get(m->body, "NetworkingConfig"), "EndpointsConfig");
    if (zp_node_get(eps, name) != NULL)
        return true;
    for (size_t i = 0; i < m->spec->nnetworks; i++)
        if (strcmp(m->spec->networks[i].network, name) == 0)
            return true;
    return false;
}

/* A routed service (x-zpanel): its routes as the label the proxy reads (Caddy), or the
 * Traefik labels (labels the service writes itself win), and the proxy's network without
 * aliases (the router dials containers by address): `zpanel-<project>` for Caddy, the
 * shared `zpanel` for Traefik. One-off containers are never routed. */
int orch__map_route(struct mapper *m)
{
    const struct zp_node *x = zp_node_get(m->svc, "x-zpanel");
    if (x == NULL || m->oneoff)
        return 0;
    struct proxy_site site;
    bool routed = false;
    int rc = orch_service_site(m->p, m->service, m->svc, &site, &routed, m->err);
    if (rc < 0 || !routed)
        return rc;
    const char *nm = zp_node_get_str(m->svc, "network_mode");
    if (nm != NULL && strcmp(nm, "bridge") != 0 && strcmp(nm, "default") != 0) {
        rc = orch__map_fail(
            m, zp_node_get_key(m->svc, "x-zpanel"), "x-zpanel",
            "a routed service must be on a network the proxy can reach; network_mode "
            "'%s' cannot be routed",
            nm);
        goto out;
    }
    struct zp_node *labels = orch__map_jmap_at(m->body, "Labels");
    if (site.kind == PROXY_KIND_CADDY) {
        char *l = proxy_site_to_label(&site);
        zp_node_set(labels, PROXY_LABEL_ROUTES, orch__map_jstr(l));
        free(l);
    } else {
        char **tl = proxy_traefik_labels(&site);
        for (size_t i = 0; tl != NULL && tl[i] != NULL; i++) {
            char *eq = strchr(tl[i], '=');
            if (eq != NULL) {
                *eq = '\0';
                if (zp_node_get(labels, tl[i]) == NULL)
                    zp_node_set(labels, tl[i], orch__map_jstr(eq + 1));
            }
            free(tl[i]);
        }
        free(tl);
    }
    /* Caddy's router reaches the project's routed containers on the project's own
     * network (no other project's containers are on it); Traefik's on `zpanel` */
    char *pnet = site.kind == PROXY_KIND_CADDY ? proxy_project_network(m->p->name)
                                               : zp_strdup(PROXY_NETWORK);
    if (!has_network(m, pnet)) {
        struct orch_container_spec *sp = m->spec;
        sp->networks = zp_realloc(sp->networks, (sp->nnetworks + 1) * sizeof(*sp->networks));
        struct orch_netattach *na = &sp->networks[sp->nnetworks++];
        memset(na, 0, sizeof(*na));
        na->network = pnet;
        na->aliases = zp_calloc(1, sizeof(*na->aliases));
    } else {
        free(pnet);
    }
out:
    proxy_site_release(&site);
    return rc;
}

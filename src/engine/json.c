/* engine/json: Engine API JSON mapped to zpanel's structs (pure; tested on recorded
 * answers of a real engine). */
#define _DEFAULT_SOURCE /* timegm */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine-int.h"

#include "../util/banned.h"

const char *engine__str(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

char *engine__strdup(const json_t *obj, const char *key)
{
    const char *s = engine__str(obj, key);
    return zp_strdup(s ? s : "");
}

static char *strdup_or_null(const json_t *obj, const char *key)
{
    const char *s = engine__str(obj, key);
    return s ? zp_strdup(s) : NULL;
}

static int64_t int_member(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)json_real_value(v);
    return 0;
}

/* ---- version ---- */

/* The checks both negotiations share: api parsed, not older than ours; pick ours or its. */
static int negotiate(const char *api, const char *min_api, const char *server, int *ret_minor,
                     char **ret_server, struct zp_err *err)
{
    int engine_minor, engine_min_minor = 0;
    if (!api || engine__parse_api_version(api, &engine_minor) != 0)
        return zp_err_set(err, ZP_E_ENGINE, NULL,
                          "the engine did not report a usable API version ('%s')", api ? api : "");
    if (engine_minor < ENGINE_API_MIN_MINOR)
        return zp_err_set(err, ZP_E_ENGINE, NULL,
                          "Docker engine %s speaks API %s, but zpanel needs API 1.%d or newer "
                          "(Docker 20.10 or later): upgrade the engine",
                          server ? server : "(unknown version)", api, ENGINE_API_MIN_MINOR);
    if (min_api && engine__parse_api_version(min_api, &engine_min_minor) == 0 &&
        engine_min_minor > ENGINE_API_MAX_MINOR)
        return zp_err_set(err, ZP_E_ENGINE, NULL,
                          "Docker engine %s needs API %s or newer, but zpanel speaks at most "
                          "API 1.%d: upgrade zpanel",
                          server ? server : "(unknown version)", min_api, ENGINE_API_MAX_MINOR);
    *ret_minor = engine_minor < ENGINE_API_MAX_MINOR ? engine_minor : ENGINE_API_MAX_MINOR;
    *ret_server = zp_strdup(server ? server : "");
    return 0;
}

int engine__negotiate(const json_t *version, int *ret_minor, char **ret_server, struct zp_err *err)
{
    return negotiate(engine__str(version, "ApiVersion"), engine__str(version, "MinAPIVersion"),
                     engine__str(version, "Version"), ret_minor, ret_server, err);
}

int engine__negotiate_ping(const char *api, const char *server, int *ret_minor, char **ret_server,
                           struct zp_err *err)
{
    /* "Docker/20.10.24+dfsg1 (linux)" -> "20.10.24+dfsg1"; another server's name stays whole */
    char *version = NULL;
    if (server != NULL && zp_str_has_prefix(server, "Docker/")) {
        const char *v = server + strlen("Docker/");
        version = zp_strndup(v, strcspn(v, " "));
    } else if (server != NULL) {
        version = zp_strdup(server);
    }
    int rc = negotiate(api, NULL, version, ret_minor, ret_server, err);
    free(version);
    return rc;
}

/* ---- info ---- */

int engine__map_info(const json_t *info, struct engine_info *ret_info, struct zp_err *err)
{
    if (!json_is_object(info))
        return zp_err_set(err, ZP_E_ENGINE, NULL, "engine info is not a JSON object");
    struct engine_info in = {0};
    in.server_version = engine__strdup(info, "ServerVersion");
    in.name = engine__strdup(info, "Name");
    in.os_type = engine__strdup(info, "OSType");
    in.operating_system = engine__strdup(info, "OperatingSystem");
    in.architecture = engine__strdup(info, "Architecture");
    in.kernel_version = engine__strdup(info, "KernelVersion");
    in.cgroup_version = engine__strdup(info, "CgroupVersion");
    in.swarm_state = engine__strdup(json_object_get(info, "Swarm"), "LocalNodeState");
    in.swarm_control =
        json_is_true(json_object_get(json_object_get(info, "Swarm"), "ControlAvailable"));
    in.ncpu = int_member(info, "NCPU");
    in.mem_total = int_member(info, "MemTotal");
    in.system_time_ns = engine__time_ns(engine__str(info, "SystemTime"));
    *ret_info = in;
    return 0;
}

void engine_info_release(struct engine_info *info)
{
    if (!info)
        return;
    free(info->server_version);
    free(info->name);
    free(info->os_type);
    free(info->operating_system);
    free(info->architecture);
    free(info->kernel_version);
    free(info->cgroup_version);
    free(info->swarm_state);
    memset(info, 0, sizeof(*info));
}

/* ---- labels ---- */

static int label_cmp(const void *a, const void *b)
{
    const struct engine_label *x = a, *y = b;
    return strcmp(x->key, y->key);
}

void engine__map_labels(const json_t *obj, struct engine_labels *ret_labels)
{
    struct engine_labels l = {NULL, 0};
    if (json_is_object(obj) && json_object_size(obj) > 0) {
        l.items = zp_calloc(json_object_size(obj), sizeof(*l.items));
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)obj, key, v)
        {
            if (!json_is_string(v))
                continue;
            l.items[l.n].key = zp_strdup(key);
            l.items[l.n].value = zp_strdup(json_string_value(v));
            l.n++;
        }
        qsort(l.items, l.n, sizeof(*l.items), label_cmp);
    }
    *ret_labels = l;
}

json_t *engine__labels_json(const struct engine_kv *labels, size_t n)
{
    json_t *obj = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(obj, labels[i].key, json_string(labels[i].value));
    return obj;
}

const char *engine_labels_get(const struct engine_labels *l, const char *key)
{
    struct engine_label k = {(char *)key, NULL};
    if (!l || l->n == 0)
        return NULL;
    const struct engine_label *hit = bsearch(&k, l->items, l->n, sizeof(*l->items), label_cmp);
    return hit ? hit->value : NULL;
}

void engine_labels_release(struct engine_labels *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* ---- times ---- */

int64_t engine__time_ns(const char *s)
{
    int64_t sec = 0;
    if (!s || engine__parse_time(s, &sec) != 0 || sec <= 0 || sec >= INT64_MAX / 1000000000)
        return 0;
    int64_t ns = 0;
    if (s[19] == '.') {
        int64_t scale = 100000000;
        for (const char *p = s + 20; *p >= '0' && *p <= '9'; p++) {
            ns += (*p - '0') * scale;
            scale /= 10;
        }
    }
    return sec * 1000000000 + ns;
}

/* Exactly n digits at s into *ret. */
static bool digits(const char *s, int n, int *ret)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return true;
}

int engine__parse_time(const char *s, int64_t *ret_unix)
{
    int Y, M, D, h, m, sec;
    if (!s || strlen(s) < 20 || !digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) ||
        s[7] != '-' || !digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &m) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        return ZP_E_INPUT;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return ZP_E_INPUT;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return ZP_E_INPUT;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return ZP_E_INPUT;
        offset = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return ZP_E_INPUT;
    }
    if (*p != '\0')
        return ZP_E_INPUT;
    if (Y <= 1) { /* Go's zero time: never */
        *ret_unix = 0;
        return 0;
    }
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    *ret_unix = (int64_t)timegm(&tm) - offset;
    return 0;
}

/* ---- ports ---- */

static int port_cmp(const void *a, const void *b)
{
    const struct engine_port *x = a, *y = b;
    if (x->private_port != y->private_port)
        return x->private_port < y->private_port ? -1 : 1;
    int c = strcmp(x->type, y->type);
    if (c == 0)
        c = strcmp(x->ip, y->ip);
    if (c == 0 && x->public_port != y->public_port)
        c = x->public_port < y->public_port ? -1 : 1;
    return c;
}

/* A port number member: an integer, or a string such as "8080". */
static uint16_t port_member(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    int64_t n = 0;
    if (json_is_integer(v))
        n = (int64_t)json_integer_value(v);
    else if (json_is_string(v) && zp_parse_int64(json_string_value(v), 0, 65535, &n) != 0)
        n = 0;
    return n >= 0 && n <= 65535 ? (uint16_t)n : 0;
}

static void ports_add(struct engine_ports *p, size_t *cap, uint16_t priv, uint16_t pub,
                      const char *type, const char *ip)
{
    zp_grow((void **)&p->items, cap, p->n + 1, sizeof(*p->items));
    struct engine_port *it = &p->items[p->n++];
    it->private_port = priv;
    it->public_port = pub;
    it->type = zp_strdup(type && *type ? type : "tcp");
    it->ip = zp_strdup(ip ? ip : "");
}

void engine__map_summary_ports(const json_t *arr, struct engine_ports *ret_ports)
{
    struct engine_ports p = {NULL, 0};
    size_t cap = 0;
    for (size_t i = 0; json_is_array(arr) && i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i);
        uint16_t priv = port_member(o, "PrivatePort");
        if (priv == 0)
            continue;
        ports_add(&p, &cap, priv, port_member(o, "PublicPort"), engine__str(o, "Type"),
                  engine__str(o, "IP"));
    }
    if (p.n > 1)
        qsort(p.items, p.n, sizeof(*p.items), port_cmp);
    *ret_ports = p;
}

void engine__map_inspect_ports(const json_t *obj, struct engine_ports *ret_ports)
{
    struct engine_ports p = {NULL, 0};
    size_t cap = 0;
    const char *key;
    json_t *v;
    if (json_is_object(obj)) {
        json_object_foreach((json_t *)obj, key, v)
        {
            /* "80/tcp" */
            size_t nlen = strcspn(key, "/");
            char *num = zp_strndup(key, nlen);
            int64_t priv = 0;
            int bad = zp_parse_int64(num, 1, 65535, &priv);
            free(num);
            if (bad)
                continue;
            const char *type = key[nlen] == '/' ? key + nlen + 1 : "tcp";
            if (!json_is_array(v) || json_array_size(v) == 0) {
                ports_add(&p, &cap, (uint16_t)priv, 0, type, "");
                continue;
            }
            for (size_t i = 0; i < json_array_size(v); i++) {
                const json_t *b = json_array_get(v, i);
                ports_add(&p, &cap, (uint16_t)priv, port_member(b, "HostPort"), type,
                          engine__str(b, "HostIp"));
            }
        }
    }
    if (p.n > 1)
        qsort(p.items, p.n, sizeof(*p.items), port_cmp);
    *ret_ports = p;
}

void engine_ports_release(struct engine_ports *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].type);
        free(p->items[i].ip);
    }
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

/* ---- containers ---- */

static void summary_release(struct engine_container_summary *s)
{
    free(s->id);
    for (size_t i = 0; i < s->n_names; i++)
        free(s->names[i]);
    free(s->names);
    free(s->image);
    free(s->image_id);
    free(s->command);
    free(s->state);
    free(s->status);
    engine_labels_release(&s->labels);
    engine_ports_release(&s->ports);
}

static int summary_cmp(const void *a, const void *b)
{
    const struct engine_container_summary *x = a, *y = b;
    const char *nx = x->n_names ? x->names[0] : "", *ny = y->n_names ? y->names[0] : "";
    int c = strcmp(nx, ny);
    return c ? c : strcmp(x->id, y->id);
}

int engine__map_container_list(const json_t *arr, struct engine_container_list *ret_list,
                               struct zp_err *err)
{
    if (!json_is_array(arr))
        return zp_err_set(err, ZP_E_ENGINE, NULL, "container list is not a JSON array");
    struct engine_container_list l = {NULL, 0};
    size_t n = json_array_size(arr);
    l.items = n ? zp_calloc(n, sizeof(*l.items)) : NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_array_get(arr, i);
        const char *id = engine__str(c, "Id");
        if (!id || !*id) {
            engine_container_list_release(&l);
            return zp_err_set(err, ZP_E_ENGINE, NULL, "container list: entry %zu has no Id", i);
        }
        struct engine_container_summary *s = &l.items[l.n++];
        s->id = zp_strdup(id);
        json_t *names = json_object_get(c, "Names");
        size_t nn = json_is_array(names) ? json_array_size(names) : 0;
        s->names = nn ? zp_calloc(nn, sizeof(*s->names)) : NULL;
        for (size_t k = 0; k < nn; k++) {
            const char *name = json_string_value(json_array_get(names, k));
            if (!name)
                continue;
            s->names[s->n_names++] = zp_strdup(name[0] == '/' ? name + 1 : name);
        }
        s->image = engine__strdup(c, "Image");
        s->image_id = engine__strdup(c, "ImageID");
        s->command = engine__strdup(c, "Command");
        engine__map_summary_ports(json_object_get(c, "Ports"), &s->ports);
        s->state = engine__strdup(c, "State");
        s->status = engine__strdup(c, "Status");
        s->created = int_member(c, "Created");
        engine__map_labels(json_object_get(c, "Labels"), &s->labels);
    }
    if (l.n > 1)
        qsort(l.items, l.n, sizeof(*l.items), summary_cmp);
    *ret_list = l;
    return 0;
}

void engine_container_list_release(struct engine_container_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        summary_release(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int container_net_cmp(const void *a, const void *b)
{
    const struct engine_container_net *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* NetworkSettings.Networks: {"name": {"IPAddress": ..., "Aliases": [...] or null}}. */
static void map_container_networks(const json_t *obj, struct engine_container *c)
{
    size_t n = json_is_object(obj) ? json_object_size(obj) : 0;
    if (n == 0)
        return;
    c->networks = zp_calloc(n, sizeof(*c->networks));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        struct engine_container_net *nw = &c->networks[c->n_networks++];
        nw->name = zp_strdup(key);
        nw->ip = engine__strdup(v, "IPAddress");
        const json_t *aliases = json_object_get(v, "Aliases");
        size_t na = json_is_array(aliases) ? json_array_size(aliases) : 0;
        nw->aliases = na ? zp_calloc(na, sizeof(*nw->aliases)) : NULL;
        for (size_t i = 0; i < na; i++) {
            const char *a = json_string_value(json_array_get(aliases, i));
            if (a)
                nw->aliases[nw->n_aliases++] = zp_strdup(a);
        }
    }
    if (c->n_networks > 1)
        qsort(c->networks, c->n_networks, sizeof(*c->networks), container_net_cmp);
}

/* State.Health: the streak and the last probe (Log is oldest first). */
static void map_container_health(const json_t *health, struct engine_container *c)
{
    c->failing_streak = int_member(health, "FailingStreak");
    const json_t *log = json_object_get(health, "Log");
    size_t n = json_is_array(log) ? json_array_size(log) : 0;
    if (n == 0)
        return;
    const json_t *last = json_array_get(log, n - 1);
    const char *out = engine__str(last, "Output");
    if (out) {
        size_t len = strlen(out);
        while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
            len--;
        c->health_output = zp_strndup(out, len);
    }
    c->health_exit_code = int_member(last, "ExitCode");
    c->health_end_ns = engine__time_ns(engine__str(last, "End"));
}

int engine__map_container(const json_t *obj, const char *raw, struct engine_container *ret_c,
                          struct zp_err *err)
{
    const char *id = engine__str(obj, "Id");
    if (!id || !*id)
        return zp_err_set(err, ZP_E_ENGINE, NULL, "container inspect: no Id in the answer");
    struct engine_container c = {0};
    const json_t *state = json_object_get(obj, "State");
    const json_t *config = json_object_get(obj, "Config");
    const char *name = engine__str(obj, "Name");
    c.json = zp_strdup(raw ? raw : "");
    c.id = zp_strdup(id);
    c.name = zp_strdup(name ? (name[0] == '/' ? name + 1 : name) : "");
    c.image_id = engine__strdup(obj, "Image");
    c.status = engine__strdup(state, "Status");
    c.health = strdup_or_null(json_object_get(state, "Health"), "Status");
    c.running = json_is_true(json_object_get(state, "Running"));
    c.paused = json_is_true(json_object_get(state, "Paused"));
    c.restarting = json_is_true(json_object_get(state, "Restarting"));
    c.oom_killed = json_is_true(json_object_get(state, "OOMKilled"));
    c.exit_code = int_member(state, "ExitCode");
    c.pid = int_member(state, "Pid");
    c.config_image = engine__strdup(config, "Image");
    c.created = engine__strdup(obj, "Created");
    c.started_at = engine__strdup(state, "StartedAt");
    c.finished_at = engine__strdup(state, "FinishedAt");
    if (engine__parse_time(c.started_at, &c.started_at_unix) != 0)
        c.started_at_unix = 0;
    if (engine__parse_time(c.finished_at, &c.finished_at_unix) != 0)
        c.finished_at_unix = 0;
    c.restart_count = int_member(obj, "RestartCount");
    c.tty = json_is_true(json_object_get(config, "Tty"));
    c.open_stdin = json_is_true(json_object_get(config, "OpenStdin"));
    engine__map_labels(json_object_get(config, "Labels"), &c.labels);
    const json_t *netset = json_object_get(obj, "NetworkSettings");
    engine__map_inspect_ports(json_object_get(netset, "Ports"), &c.ports);
    map_container_health(json_object_get(state, "Health"), &c);
    int64_t started = engine__time_ns(c.started_at), finished = engine__time_ns(c.finished_at);
    c.state_time_ns = started > finished ? started : finished;
    if (c.health_end_ns > c.state_time_ns)
        c.state_time_ns = c.health_end_ns;
    const json_t *hostcfg = json_object_get(obj, "HostConfig");
    c.memory_limit = int_member(hostcfg, "Memory");
    c.restart_policy = engine__strdup(json_object_get(hostcfg, "RestartPolicy"), "Name");
    map_container_networks(json_object_get(netset, "Networks"), &c);
    *ret_c = c;
    return 0;
}

void engine_container_release(struct engine_container *c)
{
    if (!c)
        return;
    free(c->json);
    free(c->id);
    free(c->name);
    free(c->image_id);
    free(c->config_image);
    free(c->created);
    free(c->status);
    free(c->health);
    free(c->started_at);
    free(c->finished_at);
    engine_labels_release(&c->labels);
    engine_ports_release(&c->ports);
    free(c->health_output);
    free(c->restart_policy);
    for (size_t i = 0; i < c->n_networks; i++) {
        struct engine_container_net *nw = &c->networks[i];
        free(nw->name);
        free(nw->ip);
        for (size_t k = 0; k < nw->n_aliases; k++)
            free(nw->aliases[k]);
        free(nw->aliases);
    }
    free(c->networks);
    memset(c, 0, sizeof(*c));
}

/* ---- networks ---- */

static int network_cmp(const void *a, const void *b)
{
    const struct engine_network *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->id, y->id);
}

int engine__map_network_list(const json_t *arr, struct engine_network_list *ret_list,
                             struct zp_err *err)
{
    if (!json_is_array(arr))
        return zp_err_set(err, ZP_E_ENGINE, NULL, "network list is not a JSON array");
    struct engine_network_list l = {NULL, 0};
    size_t n = json_array_size(arr);
    l.items = n ? zp_calloc(n, sizeof(*l.items)) : NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(arr, i);
        const char *id = engine__str(o, "Id");
        if (!id || !*id) {
            engine_network_list_release(&l);
            return zp_err_set(err, ZP_E_ENGINE, NULL, "network list: entry %zu has no Id", i);
        }
        struct engine_network *nw = &l.items[l.n++];
        nw->id = zp_strdup(id);
        nw->name = engine__strdup(o, "Name");
        nw->driver = engine__strdup(o, "Driver");
        nw->scope = engine__strdup(o, "Scope");
        engine__map_labels(json_object_get(o, "Labels"), &nw->labels);
    }
    if (l.n > 1)
        qsort(l.items, l.n, sizeof(*l.items), network_cmp);
    *ret_list = l;
    return 0;
}

void engine_network_list_release(struct engine_network_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].id);
        free(l->items[i].name);
        free(l->items[i].driver);
        free(l->items[i].scope);
        engine_labels_release(&l->items[i].labels);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* ---- volumes ---- */

static int volume_cmp(const void *a, const void *b)
{
    const struct engine_volume *x = a, *y = b;
    return strcmp(x->name, y->name);
}

int engine__map_volume_list(const json_t *obj, struct engine_volume_list *ret_list,
                            struct zp_err *err)
{
    const json_t *arr = json_object_get(obj, "Volumes");
    if (!json_is_object(obj) || (arr && !json_is_array(arr) && !json_is_null(arr)))
        return zp_err_set(err, ZP_E_ENGINE, NULL, "volume list is not in the expected form");
    struct engine_volume_list l = {NULL, 0};
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    l.items = n ? zp_calloc(n, sizeof(*l.items)) : NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(arr, i);
        const char *name = engine__str(o, "Name");
        if (!name || !*name) {
            engine_volume_list_release(&l);
            return zp_err_set(err, ZP_E_ENGINE, NULL, "volume list: entry %zu has no Name", i);
        }
        struct engine_volume *v = &l.items[l.n++];
        v->name = zp_strdup(name);
        v->driver = engine__strdup(o, "Driver");
        v->mountpoint = engine__strdup(o, "Mountpoint");
        engine__map_labels(json_object_get(o, "Labels"), &v->labels);
    }
    if (l.n > 1)
        qsort(l.items, l.n, sizeof(*l.items), volume_cmp);
    *ret_list = l;
    return 0;
}

void engine_volume_list_release(struct engine_volume_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].name);
        free(l->items[i].driver);
        free(l->items[i].mountpoint);
        engine_labels_release(&l->items[i].labels);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* ---- images ---- */

static int image_cmp(const void *a, const void *b)
{
    const struct engine_image_summary *x = a, *y = b;
    const char *tx = x->n_repo_tags ? x->repo_tags[0] : "";
    const char *ty = y->n_repo_tags ? y->repo_tags[0] : "";
    int c = strcmp(tx, ty);
    return c ? c : strcmp(x->id, y->id);
}

int engine__map_image_list(const json_t *arr, struct engine_image_list *ret_list,
                           struct zp_err *err)
{
    if (!json_is_array(arr))
        return zp_err_set(err, ZP_E_ENGINE, NULL, "image list is not a JSON array");
    struct engine_image_list l = {NULL, 0};
    size_t n = json_array_size(arr);
    l.items = n ? zp_calloc(n, sizeof(*l.items)) : NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(arr, i);
        const char *id = engine__str(o, "Id");
        if (!id || !*id) {
            engine_image_list_release(&l);
            return zp_err_set(err, ZP_E_ENGINE, NULL, "image list: entry %zu has no Id", i);
        }
        struct engine_image_summary *im = &l.items[l.n++];
        im->id = zp_strdup(id);
        const json_t *tags = json_object_get(o, "RepoTags");
        size_t nt = json_is_array(tags) ? json_array_size(tags) : 0;
        im->repo_tags = nt ? zp_calloc(nt, sizeof(*im->repo_tags)) : NULL;
        for (size_t k = 0; k < nt; k++) {
            const char *t = json_string_value(json_array_get(tags, k));
            /* old engines list untagged images as "<none>:<none>" */
            if (t && strcmp(t, "<none>:<none>") != 0)
                im->repo_tags[im->n_repo_tags++] = zp_strdup(t);
        }
        im->size = int_member(o, "Size");
        im->created = int_member(o, "Created");
        engine__map_labels(json_object_get(o, "Labels"), &im->labels);
        const char *parent = engine__str(o, "ParentId");
        im->parent_id = zp_strdup(parent ? parent : "");
    }
    if (l.n > 1)
        qsort(l.items, l.n, sizeof(*l.items), image_cmp);
    *ret_list = l;
    return 0;
}

void engine_image_list_release(struct engine_image_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        struct engine_image_summary *im = &l->items[i];
        free(im->id);
        for (size_t k = 0; k < im->n_repo_tags; k++)
            free(im->repo_tags[k]);
        free(im->repo_tags);
        engine_labels_release(&im->labels);
        free(im->parent_id);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* ---- top and exec ---- */

/* A JSON array of strings into a new string vector; non-strings become "". */
static char **string_vector(const json_t *arr, size_t *ret_n)
{
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    char **v = n ? zp_calloc(n, sizeof(*v)) : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        v[i] = zp_strdup(s ? s : "");
    }
    *ret_n = n;
    return v;
}

int engine__map_top(const json_t *obj, struct engine_top *ret_top, struct zp_err *err)
{
    const json_t *titles = json_object_get(obj, "Titles");
    const json_t *procs = json_object_get(obj, "Processes");
    if (!json_is_array(titles) || (procs && !json_is_array(procs) && !json_is_null(procs)))
        return zp_err_set(err, ZP_E_ENGINE, NULL, "process list is not in the expected form");
    struct engine_top t = {0};
    t.titles = string_vector(titles, &t.n_titles);
    size_t n = json_is_array(procs) ? json_array_size(procs) : 0;
    t.rows = n ? zp_calloc(n, sizeof(*t.rows)) : NULL;
    for (size_t i = 0; i < n; i++)
        t.rows[i].cells = string_vector(json_array_get(procs, i), &t.rows[i].n);
    t.n_rows = n;
    *ret_top = t;
    return 0;
}

void engine_top_release(struct engine_top *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_titles; i++)
        free(t->titles[i]);
    free(t->titles);
    for (size_t r = 0; r < t->n_rows; r++) {
        for (size_t i = 0; i < t->rows[r].n; i++)
            free(t->rows[r].cells[i]);
        free(t->rows[r].cells);
    }
    free(t->rows);
    memset(t, 0, sizeof(*t));
}

int engine__map_exec_state(const json_t *obj, struct engine_exec_state *ret_state,
                           struct zp_err *err)
{
    if (!json_is_object(obj))
        return zp_err_set(err, ZP_E_ENGINE, NULL, "exec inspect is not a JSON object");
    struct engine_exec_state st = {0};
    st.running = json_is_true(json_object_get(obj, "Running"));
    st.exit_code = int_member(obj, "ExitCode");
    st.pid = int_member(obj, "Pid");
    *ret_state = st;
    return 0;
}

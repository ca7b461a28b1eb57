/* cli/config: load, validate and print the normalised project. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "../orchestrator/routes.h"
#include "cli.h"

#include "../util/banned.h"

enum config_list {
    LIST_NONE,
    LIST_SERVICES,
    LIST_VOLUMES,
    LIST_NETWORKS,
    LIST_PROFILES,
    LIST_IMAGES,
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Print the keys of a top-level map, sorted. */
static void print_keys(const struct zp_node *map)
{
    if (!zp_node_is_map(map))
        return;
    const char **keys = zp_calloc(map->n, sizeof(*keys));
    for (size_t i = 0; i < map->n; i++)
        keys[i] = map->pairs[i].key->str;
    qsort(keys, map->n, sizeof(*keys), cmp_str);
    for (size_t i = 0; i < map->n; i++)
        printf("%s\n", keys[i]);
    free(keys);
}

static void print_list(const struct compose_project *p, enum config_list what)
{
    const struct zp_node *services = zp_node_get(p->model, "services");
    switch (what) {
    case LIST_SERVICES:
        print_keys(services);
        break;
    case LIST_VOLUMES:
        print_keys(zp_node_get(p->model, "volumes"));
        break;
    case LIST_NETWORKS:
        print_keys(zp_node_get(p->model, "networks"));
        break;
    case LIST_PROFILES:
        for (size_t i = 0; i < p->nall_profiles; i++)
            printf("%s\n", p->all_profiles[i]);
        break;
    case LIST_IMAGES: {
        /* in the order of the service names, like every other listing */
        struct zp_node *sorted = zp_node_copy(services);
        zp_node_sort_keys(sorted);
        for (size_t i = 0; sorted && i < sorted->n; i++) {
            const char *image = zp_node_get_str(sorted->pairs[i].value, "image");
            if (image)
                printf("%s\n", image);
            else
                printf("%s-%s\n", p->name, sorted->pairs[i].key->str);
        }
        zp_node_free(sorted);
        break;
    }
    case LIST_NONE:
        break;
    }
}

static int print_hashes(const struct compose_project *p, const char *which)
{
    const struct zp_node *services = zp_node_get(p->model, "services");
    size_t n = services ? services->n : 0;
    const char **names = zp_calloc(n, sizeof(*names));
    for (size_t i = 0; i < n; i++)
        names[i] = services->pairs[i].key->str;
    qsort(names, n, sizeof(*names), cmp_str);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(which, "*") != 0 && strcmp(which, names[i]) != 0)
            continue;
        char hash[65];
        compose_service_hash(zp_node_get(services, names[i]), hash);
        printf("%s %s\n", names[i], hash);
        found++;
    }
    free(names);
    if (!found) {
        fprintf(stderr, "zpanel: --hash: no such service '%s'\n", which);
        return ZP_EXIT_USAGE;
    }
    return ZP_EXIT_OK;
}

/* --labels traefik: the Traefik labels of each routed service (x-zpanel routes), as
 * `services: NAME: labels: {...}` in the format of the model (keys sorted). */
static int print_traefik_labels(const struct compose_project *p, bool json, struct zp_buf *out)
{
    const struct zp_node *services = zp_node_get(p->model, "services");
    struct zp_node *root = zp_node_new_map(NULL);
    struct zp_node *svcs = zp_node_new_map(NULL);
    int rc = ZP_EXIT_OK;
    for (size_t i = 0; services && i < services->n; i++) {
        const char *name = services->pairs[i].key->str;
        struct proxy_site site;
        bool routed = false;
        struct zp_err err;
        zp_err_init(&err);
        if (orch_service_site(p, name, services->pairs[i].value, &site, &routed, &err) != 0) {
            rc = cli_error(&err);
            break;
        }
        if (!routed)
            continue;
        char **labels = proxy_traefik_labels(&site);
        struct zp_node *lm = zp_node_new_map(NULL);
        for (size_t k = 0; labels[k]; k++) {
            char *eq = strchr(labels[k], '=');
            *eq = '\0';
            zp_node_set(lm, labels[k], zp_node_new_str(eq + 1, NULL));
            free(labels[k]);
        }
        free(labels);
        struct zp_node *sm = zp_node_new_map(NULL);
        zp_node_set(sm, "labels", lm);
        zp_node_set(svcs, name, sm);
        proxy_site_release(&site);
    }
    zp_node_set(root, "services", svcs);
    if (rc == ZP_EXIT_OK && json) {
        compose_emit_json(root, true, out);
        zp_buf_addc(out, '\n');
    } else if (rc == ZP_EXIT_OK) {
        compose_emit_yaml(root, out);
    }
    zp_node_free(root);
    return rc;
}

/* Write the whole output with write(2): one system call for most projects, and no stdio
 * buffer to allocate. */
static int write_output(const char *path, const struct zp_buf *out)
{
    int fd = STDOUT_FILENO;
    if (path && (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        fprintf(stderr, "zpanel: cannot write '%s': %s\n", path, strerror(errno));
        return ZP_EXIT_RUNTIME;
    }
    const char *p = zp_buf_cstr(out);
    size_t left = out->len;
    int rc = ZP_EXIT_OK;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "zpanel: cannot write '%s': %s\n", path ? path : "stdout",
                    strerror(errno));
            rc = ZP_EXIT_RUNTIME;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (path && close(fd) != 0 && rc == ZP_EXIT_OK) {
        fprintf(stderr, "zpanel: cannot write '%s': %s\n", path, strerror(errno));
        rc = ZP_EXIT_RUNTIME;
    }
    return rc;
}

static int config_exec(const struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'F'},
        {"services", no_argument, NULL, 'S'},
        {"volumes", no_argument, NULL, 'V'},
        {"networks", no_argument, NULL, 'N'},
        {"profiles", no_argument, NULL, 'P'},
        {"images", no_argument, NULL, 'I'},
        {"quiet", no_argument, NULL, 'q'},
        {"no-interpolate", no_argument, NULL, 'n'},
        {"hash", required_argument, NULL, 'H'},
        {"output", required_argument, NULL, 'o'},
        {"labels", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false, quiet = false, no_interp = false;
    enum config_list list = LIST_NONE;
    const char *hash = NULL, *output = NULL;
    bool traefik = false;
    int c;
    while ((c = getopt_long(argc, argv, ":qo:h", opts, NULL)) != -1) {
        switch (c) {
        case 'F':
            if (cli_parse_format(&cli_cmd_config, optarg, "yaml", &json) != 0)
                return ZP_EXIT_USAGE;
            break;
        case 'S':
            list = LIST_SERVICES;
            break;
        case 'V':
            list = LIST_VOLUMES;
            break;
        case 'N':
            list = LIST_NETWORKS;
            break;
        case 'P':
            list = LIST_PROFILES;
            break;
        case 'I':
            list = LIST_IMAGES;
            break;
        case 'q':
            quiet = true;
            break;
        case 'n':
            no_interp = true;
            break;
        case 'L':
            if (strcmp(optarg, "traefik") != 0)
                return cli_usage_error(&cli_cmd_config, "--labels: '%s' is not one of traefik",
                                       optarg);
            traefik = true;
            break;
        case 'H':
            hash = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'h':
            printf("usage: zpanel [global flags] config %s\n", cli_cmd_config.usage);
            return ZP_EXIT_OK;
        case ':':
            return cli_usage_error(&cli_cmd_config, "flag '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error(&cli_cmd_config, "unknown flag '%s'", argv[optind - 1]);
        }
    }
    const char *const *services = (const char *const *)argv + optind;
    size_t nservices = (size_t)(argc - optind);

    struct compose_project *p = NULL;
    int rc = cli_load_project(g, services, nservices, no_interp, &p);
    if (rc)
        return rc;
    for (size_t i = 0; i < nservices; i++) {
        if (!zp_node_get(zp_node_get(p->model, "services"), services[i])) {
            fprintf(stderr, "zpanel: no such service '%s'\n", services[i]);
            compose_project_free(p);
            return ZP_EXIT_USAGE;
        }
    }
    if (quiet) {
        compose_project_free(p);
        return ZP_EXIT_OK;
    }
    if (hash) {
        rc = print_hashes(p, hash);
        compose_project_free(p);
        return rc;
    }
    if (traefik) {
        /* only the named services when there are any */
        struct zp_node *svcs = zp_node_get(p->model, "services");
        for (size_t i = svcs && nservices ? svcs->n : 0; i > 0; i--) {
            bool keep = false;
            for (size_t k = 0; k < nservices && !keep; k++)
                keep = strcmp(services[k], svcs->pairs[i - 1].key->str) == 0;
            if (!keep)
                zp_node_del(svcs, svcs->pairs[i - 1].key->str);
        }
        struct zp_buf out = ZP_BUF_INIT;
        rc = print_traefik_labels(p, json, &out);
        if (rc == ZP_EXIT_OK)
            rc = write_output(output, &out);
        zp_buf_release(&out);
        compose_project_free(p);
        return rc;
    }
    if (list != LIST_NONE) {
        print_list(p, list);
        compose_project_free(p);
        return ZP_EXIT_OK;
    }

    /* the model is printed once and then freed, so it is edited in place */
    struct zp_node *model = p->model;
    if (nservices) {
        /* only the named services (their dependencies are not pulled in: as compose) */
        struct zp_node *svcs = zp_node_get(model, "services");
        for (size_t i = svcs ? svcs->n : 0; i > 0; i--) {
            const char *name = svcs->pairs[i - 1].key->str;
            bool keep = false;
            for (size_t k = 0; k < nservices && !keep; k++)
                keep = strcmp(services[k], name) == 0;
            if (!keep)
                zp_node_del(svcs, name);
        }
    }
    if (!no_interp)
        compose_escape_dollars(model);
    struct zp_buf out = ZP_BUF_INIT;
    if (json) {
        compose_emit_json(model, true, &out);
        zp_buf_addc(&out, '\n');
    } else {
        compose_emit_yaml(model, &out);
    }
    rc = write_output(output, &out);
    zp_buf_release(&out);
    compose_project_free(p);
    return rc;
}

const struct cli_cmd cli_cmd_config = {
    .name = "config",
    .usage = "[--format yaml|json] [--services|--volumes|--networks|--profiles|--images] "
             "[-q] [--no-interpolate] [--hash SERVICE|'*'] [--labels traefik] [-o FILE] "
             "[SERVICE...]",
    .summary = "validate the project and print its normalised model",
    .exec = config_exec,
};

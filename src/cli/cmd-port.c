/* cli/port: the host address a container port of a service is published on. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

static int port_exec(const struct cli_global *g, int argc, char **argv)
{
    enum { OPT_PROTOCOL = 256, OPT_INDEX };
    static const struct option opts[] = {
        {"protocol", required_argument, NULL, OPT_PROTOCOL},
        {"index", required_argument, NULL, OPT_INDEX},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *protocol = "tcp";
    int64_t index = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_PROTOCOL:
            if (strcmp(optarg, "tcp") != 0 && strcmp(optarg, "udp") != 0 &&
                strcmp(optarg, "sctp") != 0)
                return cli_usage_error(&cli_cmd_port,
                                       "--protocol: '%s' is not one of tcp, udp, sctp", optarg);
            protocol = optarg;
            break;
        case OPT_INDEX:
            if (zp_parse_int64(optarg, 1, 100000, &index) != 0)
                return cli_usage_error(&cli_cmd_port, "--index: '%s' is not a number from 1",
                                       optarg);
            break;
        case 'h':
            return cli_help(&cli_cmd_port);
        default:
            return cli_getopt_error(&cli_cmd_port, c, argv);
        }
    }
    if (argc - optind != 2)
        return cli_usage_error(&cli_cmd_port, "port needs SERVICE and PRIVATE_PORT");
    const char *service = argv[optind];
    /* "80" or "80/udp" */
    char *portstr = zp_strdup(argv[optind + 1]);
    char *slash = strchr(portstr, '/');
    if (slash) {
        *slash = '\0';
        protocol = slash + 1;
        if (strcmp(protocol, "tcp") != 0 && strcmp(protocol, "udp") != 0 &&
            strcmp(protocol, "sctp") != 0) {
            int rc = cli_usage_error(&cli_cmd_port, "PRIVATE_PORT: '%s' has an unknown protocol",
                                     argv[optind + 1]);
            free(portstr);
            return rc;
        }
    }
    int64_t port;
    if (zp_parse_int64(portstr, 1, 65535, &port) != 0) {
        free(portstr);
        return cli_usage_error(&cli_cmd_port, "PRIVATE_PORT: '%s' is not a port", argv[optind + 1]);
    }

    struct cli_session s;
    const char *svcs[] = {service};
    int rc = cli_session_open(g, &cli_cmd_port, svcs, 1, false, &s);
    if (rc) {
        free(portstr);
        return rc;
    }
    struct orch_container *cs = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (orch_ps(s.orch, svcs, 1, true, &cs, &n, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    const struct orch_container *ct = NULL;
    for (size_t i = 0; i < n && !ct; i++)
        if (!cs[i].oneoff && cs[i].number == index)
            ct = &cs[i];
    if (!ct) {
        fprintf(stderr, "zpanel: service '%s' has no container number %lld\n", service,
                (long long)index);
        rc = ZP_EXIT_RUNTIME;
        goto out;
    }
    const struct orch_port *found = NULL;
    for (size_t i = 0; i < ct->nports && !found; i++)
        if (ct->ports[i].container_port == port && ct->ports[i].host_port &&
            strcmp(ct->ports[i].protocol, protocol) == 0)
            found = &ct->ports[i];
    if (!found) {
        fprintf(stderr, "zpanel: container '%s': port %lld/%s is not published\n", ct->name,
                (long long)port, protocol);
        rc = ZP_EXIT_RUNTIME;
        goto out;
    }
    if (strchr(found->host_ip, ':'))
        printf("[%s]:%d\n", found->host_ip, found->host_port);
    else
        printf("%s:%d\n", *found->host_ip ? found->host_ip : "0.0.0.0", found->host_port);
out:
    free(portstr);
    orch_containers_free(cs, n);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_port = {
    .name = "port",
    .usage = "[--protocol tcp|udp] [--index N] SERVICE PRIVATE_PORT",
    .summary = "print the public address of a port",
    .exec = port_exec,
};

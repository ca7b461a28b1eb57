/* cli/s3-opts: the S3 flags that `backup`, `backup list`, `backup verify` and `restore`
 * share (--s3-endpoint, --s3-region, --s3-path-style), the client they open, and the
 * download of an archive into a local temporary file. */
#ifndef ZP_CLI_S3_OPTS_H
#define ZP_CLI_S3_OPTS_H

#include <getopt.h>
#include <stdbool.h>

#include "../s3/s3.h"

#define CLI_S3_ENDPOINT 0x5301
#define CLI_S3_REGION 0x5302
#define CLI_S3_PATH_STYLE 0x5303

/* For a struct option table. */
#define CLI_S3_LONGOPTS                                                                            \
    {"s3-endpoint", required_argument, NULL, CLI_S3_ENDPOINT},                                     \
        {"s3-region", required_argument, NULL, CLI_S3_REGION},                                     \
    {                                                                                              \
        "s3-path-style", no_argument, NULL, CLI_S3_PATH_STYLE                                      \
    }

#define CLI_S3_USAGE "[--s3-endpoint URL] [--s3-region R] [--s3-path-style]"

struct cli_s3_opts {
    const char *endpoint;
    const char *region;
    bool path_style;
};

/* Take getopt's answer c (and optarg) when it is one of the S3 flags. */
bool cli_s3_opt(struct cli_s3_opts *o, int c, const char *arg);
/* A client for the flags and the environment; *ret belongs to the caller.
 * Errors: ZP_E_USAGE (flags, environment). */
int cli_s3_client(const struct cli_s3_opts *o, struct s3_client **ret, struct zp_err *err);
/* Download s3://BUCKET/KEY, verified against its recorded checksum, into a new file (mode
 * 0600) in $TMPDIR or /tmp; *ret_path (the caller unlinks and frees it) and *ret_info.
 * Nothing is left behind on failure. Errors: ZP_E_USAGE, those of backup_fetch_s3. */
int cli_s3_fetch(const struct cli_s3_opts *o, const char *url, char **ret_path,
                 struct s3_object_info *ret_info, struct zp_err *err);

#endif

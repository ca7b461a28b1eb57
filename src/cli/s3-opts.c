/* cli/s3-opts: the S3 flags shared by the backup commands, and downloads to a temporary
 * file for `restore` and `backup verify`. */
#define _GNU_SOURCE
#include "s3-opts.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../backup/backup.h"

#include "../util/banned.h"

bool cli_s3_opt(struct cli_s3_opts *o, int c, const char *arg)
{
    switch (c) {
    case CLI_S3_ENDPOINT:
        o->endpoint = arg;
        return true;
    case CLI_S3_REGION:
        o->region = arg;
        return true;
    case CLI_S3_PATH_STYLE:
        o->path_style = true;
        return true;
    default:
        return false;
    }
}

int cli_s3_client(const struct cli_s3_opts *o, struct s3_client **ret, struct zp_err *err)
{
    struct s3_config cfg;
    int rc = s3_config_from_env(o->endpoint, o->region, o->path_style, &cfg, err);
    if (rc)
        return rc;
    rc = s3_client_new(&cfg, ret, err);
    s3_config_release(&cfg);
    return rc;
}

int cli_s3_fetch(const struct cli_s3_opts *o, const char *url, char **ret_path,
                 struct s3_object_info *ret_info, struct zp_err *err)
{
    char *bucket = NULL, *key = NULL, *path = NULL;
    struct s3_client *c = NULL;
    int fd = -1;
    int rc = s3_url_parse(url, &bucket, &key, err);
    if (rc)
        goto out;
    if (key[0] == '\0' || key[strlen(key) - 1] == '/') {
        rc = zp_err_set(err, ZP_E_USAGE, NULL, "'%s': name an object (s3://BUCKET/KEY)", url);
        goto out;
    }
    if ((rc = cli_s3_client(o, &c, err)) != 0)
        goto out;
    const char *tmp = getenv("TMPDIR");
    path = zp_asprintf("%s/zpanel-s3-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        rc = zp_err_sys(err, "creating a temporary file '%s'", path);
        free(path);
        path = NULL;
        goto out;
    }
    fchmod(fd, 0600); /* volumes hold secrets */
    rc = backup_fetch_s3(c, bucket, key, fd, ret_info, err);
out:
    if (fd >= 0)
        close(fd);
    if (rc && path)
        unlink(path);
    if (rc == 0)
        *ret_path = path;
    else
        free(path);
    s3_client_free(c);
    free(bucket);
    free(key);
    return rc;
}

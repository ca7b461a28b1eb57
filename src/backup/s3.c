/* backup/s3: archives to and from S3-compatible storage. The archive is produced by one
 * thread into a pipe and uploaded from the other end as it comes (s3/'s streaming
 * multipart upload), so memory does not depend on the archive's size; it is fetched back
 * with its checksum verified. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup-int.h"

#include "../util/banned.h"

struct producer {
    struct engine *e;
    const struct backup_spec *spec;
    int fd;
    enum backup_compression comp;
    const char *name;
    backup_progress_fn progress;
    void *ud;
    struct backup_manifest m;
    struct zp_err err;
    int rc;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    /* a failed upload closes the pipe: writes fail with EPIPE, no signal */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    p->rc = backup_create_fd(p->e, p->spec, p->fd, p->comp, p->name, p->progress, p->ud, &p->m,
                             &p->err);
    close(p->fd); /* the reader sees the end of the archive (or of a failed one) */
    p->fd = -1;
    return NULL;
}

int backup_create_s3(struct engine *e, const struct backup_spec *spec, struct s3_client *c,
                     const char *bucket, const char *key, backup_progress_fn progress, void *ud,
                     struct backup_manifest *ret_manifest, struct s3_object_info *ret_info,
                     struct zp_err *err)
{
    enum backup_compression comp;
    int rc = backup_compression_for(key, &comp, err);
    if (rc)
        return rc;
    char *name = zp_asprintf("s3://%s/%s", bucket, key);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        rc = zp_err_sys(err, "creating a pipe");
        free(name);
        return rc;
    }
    struct producer p = {.e = e,
                         .spec = spec,
                         .fd = fds[1],
                         .comp = comp,
                         .name = name,
                         .progress = progress,
                         .ud = ud};
    zp_err_init(&p.err);
    struct s3_upload *u = NULL;
    pthread_t t;
    bool started = false;
    unsigned char *buf = zp_malloc(BACKUP__CHUNK);
    if ((rc = s3_upload_begin(c, bucket, key, &u, err)) != 0)
        goto out;
    if (pthread_create(&t, NULL, produce, &p) != 0) {
        rc = zp_err_sys(err, "starting the archive thread");
        goto out;
    }
    started = true;
    for (;;) {
        ssize_t n = read(fds[0], buf, BACKUP__CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = zp_err_sys(err, "reading the archive stream");
            break;
        }
        if (n == 0)
            break;
        if ((rc = s3_upload_write(u, buf, (size_t)n, err)) != 0)
            break;
    }
    /* the producer stops on its next write (EPIPE) when the upload failed */
    close(fds[0]);
    fds[0] = -1;
    pthread_join(t, NULL);
    started = false;
    if (rc == 0 && p.rc != 0) {
        *err = p.err;
        rc = p.rc;
    }
    if (rc == 0) {
        struct s3_upload *uu = u;
        u = NULL;
        rc = s3_upload_finish(uu, ret_info, err);
    }
out:
    if (started) {
        close(fds[0]);
        fds[0] = -1;
        pthread_join(t, NULL);
    }
    s3_upload_abort(u); /* no partial object on any failure */
    if (fds[0] >= 0)
        close(fds[0]);
    if (p.fd >= 0)
        close(p.fd);
    if (rc == 0 && ret_manifest) {
        *ret_manifest = p.m;
        memset(&p.m, 0, sizeof(p.m));
    }
    backup_manifest_release(&p.m);
    free(buf);
    free(name);
    return rc;
}

static int write_fd(void *ud, const void *data, size_t len)
{
    int fd = *(int *)ud;
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int backup_fetch_s3(struct s3_client *c, const char *bucket, const char *key, int fd,
                    struct s3_object_info *ret_info, struct zp_err *err)
{
    int rc = s3_fetch_verified(c, bucket, key, write_fd, &fd, ret_info, err);
    if (rc == 0 && fsync(fd) != 0 && errno != EINVAL)
        rc = zp_err_sys(err, "writing s3://%s/%s to a local file", bucket, key);
    return rc;
}

/* backup/s3-prune: retention of the archives a schedule uploads to S3. Only what zpanel
 * wrote is ever considered: a key named as zpanel names archives directly under the
 * prefix, with its checksum object beside it carrying zpanel's metadata. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "backup-int.h"
#include "schedule.h"

#include "../util/banned.h"

struct candidate {
    const char *key; /* borrowed from the listing */
    int64_t time;
    uint64_t size;
};

/* Is key + ".sha256" in the listing? ListObjectsV2 lists keys in UTF-8 binary order,
 * strcmp's; a server that does not would only make zpanel keep more, never delete more. */
static bool listed(const struct s3_object *objs, size_t n, const char *key)
{
    char *sum = zp_asprintf("%s%s", key, S3_SUM_SUFFIX);
    size_t lo = 0, hi = n;
    bool found = false;
    while (lo < hi && !found) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(objs[mid].key, sum);
        if (c == 0)
            found = true;
        else if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    free(sum);
    return found;
}

int backup_s3_prune(struct s3_client *c, const char *bucket, const char *prefix,
                    const char *project, const struct backup_retention *r,
                    void (*note)(void *ud, const char *text), void *ud,
                    struct backup_prune_result *ret, struct zp_err *err)
{
    size_t pl = strlen(prefix);
    char *dir = zp_asprintf("%s%s", prefix, pl == 0 || prefix[pl - 1] == '/' ? "" : "/");
    size_t dl = strlen(dir);
    struct s3_object *objs = NULL;
    size_t n = 0;
    struct candidate *cand = NULL;
    int64_t *times = NULL;
    uint64_t *sizes = NULL;
    bool *keep = NULL;
    size_t nc = 0, removed = 0;
    int rc = s3_list(c, bucket, dir, &objs, &n, err);
    if (rc) {
        zp_err_prefix(err, "retention");
        goto out;
    }
    cand = zp_calloc(n + 1, sizeof(*cand));
    for (size_t i = 0; i < n; i++) {
        const char *name = objs[i].key + dl;
        if (strncmp(objs[i].key, dir, dl) != 0 || strchr(name, '/'))
            continue;
        int64_t t = backup_archive_time(project, name);
        if (t < 0 || !listed(objs, n, objs[i].key))
            continue;
        /* zpanel's metadata on the checksum object: a verified upload of zpanel's */
        char *sum = zp_asprintf("%s%s", objs[i].key, S3_SUM_SUFFIX);
        struct s3_object_info info;
        rc = s3_head(c, bucket, sum, &info, err);
        free(sum);
        if (rc == ZP_E_NOTFOUND) { /* removed meanwhile */
            zp_err_init(err);
            rc = 0;
            continue;
        }
        if (rc) {
            zp_err_prefix(err, "retention");
            goto out;
        }
        if (info.sha256[0] == '\0' || info.meta_size[0] == '\0')
            continue;
        cand[nc++] = (struct candidate){objs[i].key, t, objs[i].size};
    }
    times = zp_calloc(nc + 1, sizeof(*times));
    sizes = zp_calloc(nc + 1, sizeof(*sizes));
    keep = zp_calloc(nc + 1, sizeof(*keep));
    for (size_t i = 0; i < nc; i++) {
        times[i] = cand[i].time;
        sizes[i] = cand[i].size;
    }
    backup_retention_select(r, times, sizes, nc, keep);
    for (size_t i = 0; i < nc; i++) {
        if (keep[i])
            continue;
        /* the archive first: a checksum object without its archive is harmless, the
         * reverse would be an unverifiable archive */
        char *sum = zp_asprintf("%s%s", cand[i].key, S3_SUM_SUFFIX);
        rc = s3_delete(c, bucket, cand[i].key, err);
        if (rc == 0)
            rc = s3_delete(c, bucket, sum, err);
        free(sum);
        if (rc) {
            zp_err_prefix(err, "retention");
            goto out;
        }
        removed++;
        if (note) {
            char *text = zp_asprintf("retention: removed s3://%s/%s", bucket, cand[i].key);
            note(ud, text);
            free(text);
        }
    }
out:
    if (rc == 0 && ret) {
        ret->considered = nc;
        ret->removed = removed;
    }
    free(keep);
    free(sizes);
    free(times);
    free(cand);
    s3_objects_free(objs, n);
    free(dir);
    return rc;
}

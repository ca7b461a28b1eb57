/* Fuzz target for the reader of archive names (backup_archive_time, backup/schedule.c),
 * which retention applies to object keys an S3 listing returns: the input is a project
 * name, a newline, and a name. A name taken for an archive must be exactly the name zpanel
 * writes for that project at that time (so nothing else is ever pruned). */
#define _DEFAULT_SOURCE /* gmtime_r */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backup/schedule.h"
#include "util/util.h"

#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024)
        return 0;
    char *s = zp_strndup((const char *)data, size);
    char *nl = strchr(s, '\n');
    const char *project = s, *name = "";
    if (nl) {
        *nl = '\0';
        name = nl + 1;
    }
    int64_t t = backup_archive_time(project, name);
    if (t < -1)
        ZP_BUG("time %lld", (long long)t);
    if (t >= 0) {
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        char stamp[32];
        strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
        char *want = zp_asprintf("%s-%s.tar.zst", project, stamp);
        if (strcmp(want, name) != 0)
            ZP_BUG("'%s' taken for '%s'", name, want);
        free(want);
    }
    free(s);
    return 0;
}

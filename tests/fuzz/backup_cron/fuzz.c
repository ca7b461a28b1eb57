/* Fuzz target for the cron expression parser (backup/schedule.c): arbitrary bytes are
 * parsed; a failure carries a message, and a parsed expression's next time, from a time
 * taken from the input, is after it and matches the expression's fields. */
#define _DEFAULT_SOURCE /* gmtime_r */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backup/schedule.h"
#include "util/util.h"

#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * BACKUP_CRON_MAX)
        return 0;
    char *s = zp_strndup((const char *)data, size);
    struct zp_err err;
    zp_err_init(&err);
    struct backup_cron c;
    int rc = backup_cron_parse(s, &c, &err);
    if (rc != 0 && (rc != ZP_E_INPUT || err.msg[0] == '\0'))
        ZP_BUG("cron parse failed without ZP_E_INPUT and a message");
    if (rc == 0) {
        /* a start time from the input's bytes, within 1970..2100 */
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < size; i++)
            h = (h ^ data[i]) * 16777619u;
        int64_t after = (int64_t)(h % 4102444800u);
        int64_t next = backup_cron_next(&c, after);
        if (next != -1) {
            if (next <= after)
                ZP_BUG("next time %lld is not after %lld", (long long)next, (long long)after);
            time_t t = (time_t)next;
            struct tm tm;
            gmtime_r(&t, &tm);
            if (!((c.seconds >> tm.tm_sec) & 1) || !((c.minutes >> tm.tm_min) & 1) ||
                !((c.hours >> tm.tm_hour) & 1) || !((c.months >> (tm.tm_mon + 1)) & 1))
                ZP_BUG("next time %lld does not match the expression", (long long)next);
        }
    }
    free(s);
    return 0;
}

/* backup/schedule: when scheduled backups run and which archives they keep. Pure code
 * (no I/O, no clock of its own): cron expressions and their next time, and the retention
 * choice over a list of archive times. The control plane's scheduler (server/) and
 * `zpanel schedule` use it. */
#ifndef ZP_BACKUP_SCHEDULE_H
#define ZP_BACKUP_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

#define BACKUP_CRON_MAX 256 /* bytes of an expression */

/* A parsed expression: one bit per allowed value of each field. */
struct backup_cron {
    uint64_t seconds;  /* bits 0-59; only bit 0 without a seconds field */
    uint64_t minutes;  /* bits 0-59 */
    uint32_t hours;    /* bits 0-23 */
    uint32_t days;     /* bits 1-31 */
    uint16_t months;   /* bits 1-12 */
    uint8_t weekdays;  /* bits 0-6, Sunday 0 (7 is read as 0) */
    bool days_any;     /* the day-of-month field was '*' */
    bool weekdays_any; /* the day-of-week field was '*' */
};

/* Parse a cron expression: five fields (minute hour day-of-month month day-of-week), or
 * six with a seconds field first (for tests and sub-minute schedules), separated by
 * blanks. Each field is a list (',') of '*', a value or a range 'a-b', each optionally
 * with a step '/n' ('5/15' is 5-max/15). Months take JAN-DEC, weekdays SUN-SAT (any case);
 * weekday 7 is Sunday. Also @yearly (@annually), @monthly, @weekly, @daily (@midnight),
 * @hourly. When both day fields are restricted a day matches either (as cron does).
 * Errors: ZP_E_INPUT naming the field and the token ("field 2 (hour): '25' is out of range
 * 0-23"). */
int backup_cron_parse(const char *expr, struct backup_cron *ret, struct zp_err *err);

/* The first time (Unix seconds, UTC) strictly after `after` that c matches, or -1 when
 * there is none within 8 years (30 February). */
int64_t backup_cron_next(const struct backup_cron *c, int64_t after);

/* ---- retention ---- */

/* Which archives to keep; 0 everywhere keeps everything. */
struct backup_retention {
    unsigned last;   /* the newest N */
    unsigned daily;  /* the newest archive of each of the D most recent UTC days with one */
    unsigned weekly; /* the newest of each of the W most recent ISO weeks (Monday first) */
    uint64_t bytes;  /* by size: newest first while their total stays within this many bytes
                      * (the newest archive always, even when it alone is larger) */
};

/* Set keep[i] for each archive (times[i]: Unix seconds of its creation, in any order;
 * sizes[i]: its bytes, only read when r->bytes is set, else may be NULL) the rules keep:
 * the union of the four. Nothing is dropped when all four are 0. */
void backup_retention_select(const struct backup_retention *r, const int64_t *times,
                             const uint64_t *sizes, size_t n, bool *keep);

/* The creation time (Unix seconds, UTC) of an archive named as zpanel names them,
 * "<project>-YYYYmmdd-HHMMSS.tar.zst" (release_backup_default_name, a real UTC date and
 * time), or -1 for any other name: retention only ever considers these. */
int64_t backup_archive_time(const char *project, const char *name);

#endif

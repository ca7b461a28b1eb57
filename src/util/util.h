/* util: allocation, errors and diagnostics, buffers, checked parsers.
 * The base layer every other module builds on; depends on libc only. */
#ifndef ZP_UTIL_H
#define ZP_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ZP_VERSION "0.1.0"

#if defined(__GNUC__)
#define ZP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ZP_NORETURN __attribute__((noreturn))
#else
#define ZP_PRINTF(a, b)
#define ZP_NORETURN
#endif

/* ---- programming errors ---- */

/* Abort with file:line; for states that are bugs in zpanel, never for user input. */
ZP_NORETURN void zp_bug(const char *file, int line, const char *fmt, ...) ZP_PRINTF(3, 4);
#define ZP_BUG(...) zp_bug(__FILE__, __LINE__, __VA_ARGS__)

/* ---- allocation: every wrapper aborts on out-of-memory, never returns NULL ---- */

void *zp_malloc(size_t n);
void *zp_calloc(size_t nmemb, size_t size);
void *zp_realloc(void *p, size_t n);
/* Grow *array (element size elem) so that it holds at least need elements. */
void zp_grow(void **array, size_t *cap, size_t need, size_t elem);
char *zp_strdup(const char *s);
char *zp_strndup(const char *s, size_t n);
/* Returns a newly allocated formatted string; the caller frees it. */
char *zp_asprintf(const char *fmt, ...) ZP_PRINTF(1, 2);
char *zp_vasprintf(const char *fmt, va_list ap) ZP_PRINTF(1, 0);

/* ---- error codes: actions return 0 or one of these ---- */

enum zp_code {
    ZP_OK = 0,
    ZP_E_INPUT = -1,     /* the user's input is invalid */
    ZP_E_NOTFOUND = -2,  /* a named object or file does not exist */
    ZP_E_CONFLICT = -3,  /* the object exists or is in a conflicting state */
    ZP_E_ENGINE = -4,    /* the Docker engine failed or refused */
    ZP_E_SYSTEM = -5,    /* an OS call failed; errno is kept */
    ZP_E_TOOBIG = -6,    /* a cap on user-controlled size was hit */
    ZP_E_INTERNAL = -7,  /* a bug or an impossible state */
    ZP_E_USAGE = -8,     /* wrong command-line flags */
    ZP_E_CANCELLED = -9, /* stopped on request (Ctrl-C, a cancel call) */
};

/* Process exit codes used by every command. */
enum zp_exit {
    ZP_EXIT_OK = 0,
    ZP_EXIT_RUNTIME = 1, /* engine, I/O */
    ZP_EXIT_USAGE = 2,   /* flags */
    ZP_EXIT_INVALID = 3, /* invalid project files */
};

/* A position in the user's input; file is an interned string (zp_intern), line and
 * column start at 1; line 0 means "no position". */
struct zp_pos {
    const char *file;
    int line;
    int col;
};

/* The longest error message kept (with its NUL): room for a container's last log lines
 * and a probe's output. A longer message is cut at a UTF-8 boundary and ends with
 * ZP_ERR_CUT_MARK naming how many bytes were left out. */
#define ZP_ERR_MSG_MAX 16384
#define ZP_ERR_CUT_MARK " [... message truncated: %zu more bytes]"

/* One error: the first one set wins; callers add context with zp_err_prefix. */
struct zp_err {
    int code; /* enum zp_code, 0 when unset */
    int sys_errno;
    struct zp_pos pos;
    char msg[ZP_ERR_MSG_MAX];
    const char *src_file; /* C call site, for debugging */
    int src_line;
};

void zp_err_init(struct zp_err *err);
/* Set the error unless one is set already; returns code so callers can `return zp_err_set(...)`. */
int zp_err_set_(struct zp_err *err, const char *src_file, int src_line, int code,
                const struct zp_pos *pos, const char *fmt, ...) ZP_PRINTF(6, 7);
#define zp_err_set(err, code, pos, ...) zp_err_set_(err, __FILE__, __LINE__, code, pos, __VA_ARGS__)
/* Same, with errno appended as ": strerror(errno)" and kept in sys_errno. */
int zp_err_sys_(struct zp_err *err, const char *src_file, int src_line, const char *fmt, ...)
    ZP_PRINTF(4, 5);
#define zp_err_sys(err, ...) zp_err_sys_(err, __FILE__, __LINE__, __VA_ARGS__)
/* Prepend "prefix: " to the message of a set error. */
void zp_err_prefix(struct zp_err *err, const char *fmt, ...) ZP_PRINTF(2, 3);
/* Render as "file:line:col: msg" (or just msg without a position) into a new string. */
char *zp_err_render(const struct zp_err *err);

/* ---- diagnostics: many problems reported at once (validation) ---- */

enum zp_severity { ZP_SEV_ERROR, ZP_SEV_WARNING };

struct zp_diag {
    enum zp_severity sev;
    struct zp_pos pos;
    char *path; /* e.g. "services.web.ports[0]"; may be NULL */
    char *msg;
};

struct zp_diags {
    struct zp_diag *items;
    size_t n, cap;
    size_t errors;  /* number of ZP_SEV_ERROR items */
    size_t max;     /* stop recording after this many (0: default 1000) */
    size_t dropped; /* items not recorded because of max */
};

void zp_diags_init(struct zp_diags *d);
void zp_diags_release(struct zp_diags *d);
/* Record one problem; pos and path may be NULL. */
void zp_diags_add(struct zp_diags *d, enum zp_severity sev, const struct zp_pos *pos,
                  const char *path, const char *fmt, ...) ZP_PRINTF(5, 6);
void zp_diags_vadd(struct zp_diags *d, enum zp_severity sev, const struct zp_pos *pos,
                   const char *path, const char *fmt, va_list ap) ZP_PRINTF(5, 0);
#define zp_diag_error(d, pos, path, ...) zp_diags_add(d, ZP_SEV_ERROR, pos, path, __VA_ARGS__)
#define zp_diag_warn(d, pos, path, ...) zp_diags_add(d, ZP_SEV_WARNING, pos, path, __VA_ARGS__)
/* Render one diagnostic as "FILE:LINE:COL: PATH: message" ("warning: " before warnings). */
char *zp_diag_render(const struct zp_diag *diag);
/* Move every item of src to the end of dst; src is left empty. */
void zp_diags_take(struct zp_diags *dst, struct zp_diags *src);
/* Sort stably by file, line, column (order of discovery for equal positions). */
void zp_diags_sort(struct zp_diags *d);
/* Convert the first error of d into err (ZP_E_INPUT); returns its code or 0. */
int zp_diags_to_err(const struct zp_diags *d, struct zp_err *err);

/* ---- interned strings: live until the process ends ---- */

/* Return a canonical copy of s; equal strings give the same pointer. Thread-safe. */
const char *zp_intern(const char *s);

/* ---- buffers ---- */

/* A growable byte buffer, always NUL-terminated, binary-safe, with a hard maximum. */
struct zp_buf {
    char *p; /* NULL until the first append; zp_buf_cstr never returns NULL */
    size_t len;
    size_t cap;
    size_t max; /* 0: SIZE_MAX / 2 */
};

#define ZP_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }
void zp_buf_init(struct zp_buf *b, size_t max);
void zp_buf_release(struct zp_buf *b);
void zp_buf_reset(struct zp_buf *b);
/* Appends return 0, or ZP_E_TOOBIG when the maximum would be passed (b unchanged). */
int zp_buf_add(struct zp_buf *b, const void *data, size_t len);
int zp_buf_adds(struct zp_buf *b, const char *s);
int zp_buf_addc(struct zp_buf *b, char c);
int zp_buf_addf(struct zp_buf *b, const char *fmt, ...) ZP_PRINTF(2, 3);
int zp_buf_vaddf(struct zp_buf *b, const char *fmt, va_list ap) ZP_PRINTF(2, 0);
const char *zp_buf_cstr(const struct zp_buf *b);
/* Hand the contents to the caller (who frees them) and reset b. Never NULL. */
char *zp_buf_detach(struct zp_buf *b, size_t *ret_len);

/* A non-owning view. */
struct zp_str {
    const char *p;
    size_t len;
};

/* ---- checked parsers: 0 on success, ZP_E_INPUT on malformed or out-of-range input ---- */

/* A whole-string base-10 integer within [min, max]. */
int zp_parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret);
/* A whole-string finite decimal number. */
int zp_parse_double(const char *s, double *ret);
/* A Go-style duration ("1m30s", "500ms", "2h", "1.5s", "10us", "0") into nanoseconds.
 * A bare number is rejected unless allow_bare_seconds, then it means seconds. */
int zp_parse_duration(const char *s, bool allow_bare_seconds, int64_t *ret_ns);
/* Format nanoseconds the way Go prints a time.Duration ("1m30s", "500ms", "0s"). */
char *zp_format_duration(int64_t ns);
/* A byte size: "512", "512b", "512k", "512kb", "2m", "2M", "1.5gb", "1g" (binary
 * multiples, case-insensitive) into bytes. */
int zp_parse_size(const char *s, int64_t *ret_bytes);

/* ---- strings ---- */

bool zp_str_has_prefix(const char *s, const char *prefix);
/* Decode the UTF-8 sequence at s (n >= 1 bytes left) into *ret_cp; returns its length, or
 * 0 when it is not valid UTF-8 (truncated, overlong, a surrogate, above U+10FFFF). */
size_t zp_utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp);
bool zp_str_has_suffix(const char *s, const char *suffix);
/* Levenshtein distance, for "did you mean" suggestions. */
size_t zp_edit_distance(const char *a, const char *b);
/* Is s a lowercase host name: DNS labels of 1..63 [a-z0-9-] (not starting or ending with
 * '-') joined by dots, at most 253 chars; with allow_wildcard also "*." first. */
bool zp_hostname_valid(const char *s, bool allow_wildcard);

/* ---- files ---- */

/* Read a whole file (at most max bytes) into a new NUL-terminated buffer. "-" reads stdin.
 * Errors: ZP_E_NOTFOUND, ZP_E_SYSTEM, ZP_E_TOOBIG; err names the path. */
int zp_file_read(const char *path, size_t max, char **ret_data, size_t *ret_len,
                 struct zp_err *err);
bool zp_file_exists(const char *path);
/* Write all len bytes to fd (again after EINTR and short writes): 0, or -1 with errno. */
int zp_write_all(int fd, const void *data, size_t len);
/* mkdir -p: create path and its missing parents with mode (existing ones are kept as
 * they are). Errors: ZP_E_SYSTEM naming the directory, also when path exists and is not
 * a directory. */
int zp_mkdir_p(const char *path, unsigned mode, struct zp_err *err);
/* Join dir and rel (rel kept when absolute); lexically cleaned ("a/./b/../c" -> "a/c"). */
char *zp_path_join(const char *dir, const char *rel);
/* Lexically clean a path. */
char *zp_path_clean(const char *path);
/* Directory part of path ("." when none). */
char *zp_path_dir(const char *path);
/* Absolute form of path, relative to the current directory when relative. */
char *zp_path_abs(const char *path);

/* zpanel's state directory (state databases, the proxy's sockets and data):
 * $ZPANEL_STATE_DIR when set and not empty (a relative one is made absolute against the
 * working directory), else /var/lib/zpanel for root, else
 * $XDG_STATE_HOME/zpanel or ~/.local/state/zpanel. Newly allocated, never NULL; not
 * created here. zp_state_dir_for takes the root decision as an argument (tests). */
char *zp_state_dir(void);
char *zp_state_dir_for(bool root);

/* ---- time ---- */

/* CLOCK_MONOTONIC in nanoseconds / milliseconds: for deadlines and durations. */
int64_t zp_mono_ns(void);
int64_t zp_mono_ms(void);
/* Sleep ms milliseconds (resumed after signals). */
void zp_sleep_ms(int64_t ms);
/* Initialise *cond so that pthread_cond_timedwait measures its deadline on
 * CLOCK_MONOTONIC (an NTP step neither stretches nor cuts a wait); take deadlines from
 * zp_mono_deadline. Aborts when the system refuses (a bug). */
void zp_cond_init_mono(pthread_cond_t *cond);
/* The CLOCK_MONOTONIC time ms milliseconds from now (ms <= 0: now), for
 * pthread_cond_timedwait on a condition made by zp_cond_init_mono. */
struct timespec zp_mono_deadline(int64_t ms);

/* ---- hashing ---- */

/* SHA-256 of data as 64 lowercase hex characters plus NUL into out. */
void zp_sha256_hex(const void *data, size_t len, char out[65]);

/* Incremental SHA-256 (OpenSSL's libcrypto: it uses the CPU's SHA instructions, about
 * 4x libsodium's portable code here, which matters for backups of large volumes). */
struct zp_sha256 {
    void *ctx; /* EVP_MD_CTX */
};

void zp_sha256_init(struct zp_sha256 *h);
void zp_sha256_update(struct zp_sha256 *h, const void *data, size_t len);
/* Write the 32-byte digest and release the state (init again to reuse). */
void zp_sha256_final(struct zp_sha256 *h, unsigned char out[32]);
/* One-shot SHA-256 into 32 bytes. */
void zp_sha256(const void *data, size_t len, unsigned char out[32]);
/* 32 bytes as 64 lowercase hex characters plus NUL. */
void zp_hex32(const unsigned char in[32], char out[65]);
/* One-shot MD5 into 16 bytes (S3's Content-MD5 and ETags only; never for security). */
void zp_md5(const void *data, size_t len, unsigned char out[16]);

/* The name prefix of the private directory that holds an SSH tunnel's local socket
 * (ssh/ makes it; engine_is_local reads it: that socket's engine is another machine's). */
#define ZP_TUNNEL_DIR_PREFIX "zpanel-ssh-"

#endif

/* orchestrator/dockerignore: .dockerignore rules (private to the orchestrator). Patterns are
 * Go filepath.Match patterns plus `**` (any number of directories), `!` exceptions where
 * the last matching line wins, and a match on a directory covers everything below it.
 * Pure code: depends on util only (the fuzz target includes dockerignore.c directly). */
#ifndef ZP_ORCH_DOCKERIGNORE_H
#define ZP_ORCH_DOCKERIGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/util.h"

/* Caps on what a user's ignore file can make us do. */
#define ORCH_IGNORE_MAX_FILE ((size_t)1 << 20) /* bytes of one ignore file */
#define ORCH_IGNORE_MAX_PATTERN 4096           /* bytes of one pattern */
#define ORCH_IGNORE_MAX_PATH 4096              /* bytes of one matched path */

/* A compiled list of patterns, in order. */
struct orch_ignore;

/* An empty list (matches nothing). Free with orch__ignore_free. */
struct orch_ignore *orch__ignore_new(void);
/* NULL is accepted. */
void orch__ignore_free(struct orch_ignore *ig);

/* Parse the text of an ignore file (len bytes; name is used in messages) and append its
 * patterns to ig: lines starting with '#' are comments, surrounding white space is
 * trimmed, blank lines are skipped, a leading '!' makes an exception, each pattern is
 * cleaned like Go's path.Clean and a leading '/' is dropped; "." is ignored.
 * Errors: ZP_E_INPUT "NAME:LINE: invalid pattern 'P'" (malformed class, trailing '\',
 * lone '!', NUL byte), ZP_E_TOOBIG (file or pattern above the caps); ig is unchanged on
 * error. */
int orch__ignore_parse(struct orch_ignore *ig, const char *name, const char *text, size_t len,
                       struct zp_err *err);

/* Append one pattern written as a line of an ignore file would be ("!x" for an
 * exception). Same errors as orch__ignore_parse. */
int orch__ignore_add(struct orch_ignore *ig, const char *line, struct zp_err *err);

/* Number of patterns and whether any of them is an exception. */
size_t orch__ignore_count(const struct orch_ignore *ig);
bool orch__ignore_has_exceptions(const struct orch_ignore *ig);

/* Is path (relative to the context, '/'-separated, cleaned, not ".") excluded? A pattern
 * matches the path or any of its parent directories; patterns are applied in order and
 * the last one that matches decides. A path longer than ORCH_IGNORE_MAX_PATH is never
 * matched by a wildcard pattern. */
bool orch__ignore_excluded(const struct orch_ignore *ig, const char *path);

/* For an excluded directory dir: could an exception pattern match something below it
 * (so that the walker must still descend)? Conservative: true when unsure. */
bool orch__ignore_may_reinclude(const struct orch_ignore *ig, const char *dir);

/* Match one pattern (the syntax of one cleaned line, without '!') against a whole path,
 * not its parents. Errors: ZP_E_INPUT for a malformed pattern, ZP_E_TOOBIG for one above
 * the cap. For tests and the fuzz target. */
int orch__glob_match(const char *pattern, const char *path, bool *ret_match, struct zp_err *err);

/* Escape the characters that are special in patterns ('*', '?', '[', '\\') so that
 * the result matches name literally. Returns a new string. */
char *orch__ignore_escape(const char *name);

#endif

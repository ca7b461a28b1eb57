/* orchestrator/context: a service's build context on disk (directory, Dockerfile, ignore
 * rules), walked in a stable order and streamed as a tar archive without loading it.
 * Private to the orchestrator; libarchive stays inside context.c. */
#ifndef ZP_ORCH_CONTEXT_H
#define ZP_ORCH_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../compose/node.h"
#include "../util/util.h"
#include "dockerignore.h"

#define ORCH_DOCKERFILE_MAX ((size_t)16 << 20) /* a Dockerfile read into memory */
#define ORCH_WALK_MAX_DEPTH 256                /* nested directories in a context */

/* Prefix of the name a Dockerfile from outside the context (or dockerfile_inline) gets
 * in the archive; the rest is derived from its contents. */
#define ORCH_GENERATED_DOCKERFILE ".zpanel.Dockerfile."

/* Everything needed to hash or send one build context. */
struct orch_context {
    char *dir;             /* absolute context directory */
    char *dockerfile;      /* the Dockerfile's name inside the archive (the build parameter) */
    char *dockerfile_path; /* the Dockerfile on disk, NULL for dockerfile_inline */
    char *generated;       /* contents of a Dockerfile added under a generated name, or NULL */
    size_t generated_len;
    char *ignore_text;          /* a .dockerignore sent instead of the context's own, or NULL */
    struct orch_ignore *ignore; /* the rules in force, with the always-sent files re-included */
};

/* Resolve the build section of a normalised service: context directory, Dockerfile
 * (dockerfile relative to the context, or dockerfile_inline), and the ignore rules
 * (`<Dockerfile>.dockerignore` beside the Dockerfile wins over the context's
 * .dockerignore). Errors: ZP_E_INPUT "remote build contexts are not supported yet" (URL
 * or git address), a context that is not a directory, a bad ignore pattern;
 * ZP_E_NOTFOUND (context or Dockerfile missing); ZP_E_SYSTEM; ZP_E_TOOBIG. */
int orch__context_open(const struct zp_node *build, struct orch_context *ret, struct zp_err *err);
void orch__context_release(struct orch_context *c);

/* One file, directory or symlink of the context that is sent. */
struct orch_walk_entry {
    const char *rel;  /* relative to the context, '/'-separated */
    const char *path; /* on disk */
    struct stat st;   /* lstat: symlinks are never followed */
};

/* Walk of the context honouring the ignore rules: depth-first, each directory's entries
 * in byte order, a directory before its contents. An excluded directory is not reported
 * and is entered only when an exception may re-include something below it. Sockets,
 * FIFOs and devices are left out. */
struct orch_walk;

struct orch_walk *orch__walk_new(const struct orch_context *c);
/* The next entry (borrowed until the next call), or NULL at the end. Errors: ZP_E_SYSTEM
 * (unreadable directory), ZP_E_TOOBIG (nesting or path length above the caps). */
int orch__walk_next(struct orch_walk *w, const struct orch_walk_entry **ret_entry,
                    struct zp_err *err);
void orch__walk_free(struct orch_walk *w);

/* The context as a tar stream (pax, uid/gid 0, modes and mtimes kept, symlinks as
 * symlinks), produced piece by piece as it is read: memory stays bounded whatever the
 * context's size. c is borrowed and must outlive the stream. */
struct orch_tar;

struct orch_tar *orch__tar_new(const struct orch_context *c);
/* An engine_read_fn: at most cap bytes into buf, *ret_len 0 at the end. Errors:
 * ZP_E_SYSTEM (a file or directory could not be read: the message names it), ZP_E_TOOBIG;
 * after an error every call fails the same way. */
int orch__tar_read(void *tar, char *buf, size_t cap, size_t *ret_len, struct zp_err *err);
/* Bytes produced so far and the number of entries written. */
uint64_t orch__tar_bytes(const struct orch_tar *t);
uint64_t orch__tar_entries(const struct orch_tar *t);
void orch__tar_free(struct orch_tar *t);

#endif

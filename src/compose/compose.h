/* compose: the Compose model and everything that builds it from files: load, interpolate,
 * merge, validate, normalise. Pure: no I/O other than reading the project's files. */
#ifndef ZP_COMPOSE_H
#define ZP_COMPOSE_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/util.h"
#include "node.h"

/* ---- environments: ordered KEY=VALUE lists ---- */

struct compose_env {
    char **keys;
    char **vals;
    size_t n, cap;
};

void compose_env_init(struct compose_env *env);
void compose_env_release(struct compose_env *env);
/* Borrowed value or NULL when unset (an empty value is set). */
const char *compose_env_get(const struct compose_env *env, const char *key);
/* Set (copying key and value), replacing an existing value. */
void compose_env_set(struct compose_env *env, const char *key, const char *val);
/* Set only when key is unset. */
void compose_env_set_default(struct compose_env *env, const char *key, const char *val);
/* Load a NULL-terminated environ-style array. */
void compose_env_from_environ(struct compose_env *env, char *const *envp);

/* ---- loading a project ---- */

struct compose_options {
    const char *const *files; /* -f, in order; "-" reads stdin; none: COMPOSE_FILE or discovery */
    size_t nfiles;
    const char *project_name;     /* -p, or NULL */
    const char *project_dir;      /* --project-directory, or NULL */
    const char *const *env_files; /* --env-file, in order */
    size_t nenv_files;
    const char *const *profiles; /* --profile */
    size_t nprofiles;
    const char *const *services; /* services named on the command line (enable their profiles) */
    size_t nservices;
    bool no_interpolate;
    bool no_normalize_paths; /* keep relative paths as written */
    char *const *environ;    /* the process environment; NULL means the real one */
    const char *cwd;         /* where discovery starts; NULL means getcwd() */
    /* Interpolation values below the env files and the process environment (a deployed
     * template's stored values, template/); NULL: none. */
    const struct compose_env *defaults;
};

struct compose_project {
    char *name;    /* the project name */
    char *workdir; /* absolute project directory */
    char **files;  /* the compose files loaded, as given or discovered */
    size_t nfiles;
    struct compose_env env; /* the interpolation environment (process env + env files) */
    /* The normalised model: a map with `name`, `services`, `networks`, `volumes`,
     * `secrets`, `configs` and x-* extensions, in the canonical long syntax of
     * `docker compose config`. Services disabled by profiles are not in it. */
    struct zp_node *model;
    /* Every profile named by any service, sorted. */
    char **all_profiles;
    size_t nall_profiles;
};

/* Load, interpolate, merge, validate and normalise a project. Problems (errors and
 * warnings) are appended to diags, each with file:line:col; returns 0 and *ret (owned by
 * the caller) when there is no error, else ZP_E_INPUT (invalid files), ZP_E_NOTFOUND
 * (no compose file) or ZP_E_SYSTEM (I/O), with *ret untouched. */
int compose_project_load(const struct compose_options *opts, struct compose_project **ret,
                         struct zp_diags *diags);
void compose_project_free(struct compose_project *p);

/* Fields of a loaded model that `config` accepts but that need another engine: top-level
 * and service `models` (Docker Model Runner), `provider` (Compose provider plugins),
 * `isolation` other than `default` and `credential_spec` (Windows containers). Appends one
 * error per field to d (file:line:col, the field's path, and why) and returns how many;
 * 0 means the model can run here. */
size_t compose_engine_unsupported(const struct zp_node *model, struct zp_diags *d);

/* Parse one YAML document (file names it in positions) into a tree: syntax only, no
 * interpolation or normalisation; the default size, depth and alias caps. Returns 0 and
 * *ret_doc (owned by the caller; an empty document is an empty map), or ZP_E_INPUT /
 * ZP_E_TOOBIG with the problems in d. */
int compose_yaml_parse(const char *file, const char *data, size_t len, struct zp_node **ret_doc,
                       struct zp_diags *d);

/* ---- output ---- */

/* Append n as YAML (block style, map keys sorted, strings quoted where needed so that
 * reading the output back gives the same tree). */
int compose_emit_yaml(const struct zp_node *n, struct zp_buf *out);
/* Append n as JSON (map keys sorted); pretty: two-space indented. */
int compose_emit_json(const struct zp_node *n, bool pretty, struct zp_buf *out);

/* Double every '$' of the string scalars below n, so that loading the emitted text
 * again (with interpolation) gives back the same values. */
void compose_escape_dollars(struct zp_node *n);

/* A stable hash (64 hex chars) of a normalised service definition: equal definitions
 * give equal hashes, whatever the order of keys or the positions. */
void compose_service_hash(const struct zp_node *service, char out[65]);

#endif

/* compose: interfaces between the loading stages (private to src/compose/).
 * Pipeline per file: read -> yaml parse -> interpolate -> normalise (shape, short syntax ->
 * long syntax, types) ; then per project: include, extends, merge of files, profiles,
 * finalisation (env_file, defaults), cross-reference validation. */
#ifndef ZP_COMPOSE_INT_H
#define ZP_COMPOSE_INT_H

#include "compose.h"

/* ---- yaml.c: YAML 1.2 (libfyaml) -> zp_node ---- */

struct compose_yaml_limits {
    size_t max_bytes;  /* input size; default 16 MiB */
    size_t max_depth;  /* nesting of collections; default 64 */
    size_t max_nodes;  /* nodes after alias expansion; default 1,000,000 */
};

/* Parse one YAML document from data (len bytes; file is the name used in positions).
 * Anchors and aliases are expanded (copies), `<<` merge keys applied (mapping or list of
 * mappings; explicit keys win), `!reset` and `!override` tags become ZP_NODE_RESET /
 * ZP_NODE_OVERRIDE flags, scalars are typed with the YAML 1.2 core schema. Errors (syntax,
 * duplicate keys, non-scalar keys, other tags, limits) go to d with file:line:col.
 * An empty document gives an empty map. lim may be NULL for the defaults.
 * Returns 0 and *ret_doc (caller owns), or ZP_E_INPUT / ZP_E_TOOBIG. */
int compose__yaml_parse(const char *file, const char *data, size_t len,
                        const struct compose_yaml_limits *lim, struct zp_node **ret_doc,
                        struct zp_diags *d);

/* Resolve the type of a plain (unquoted) scalar's text with the YAML 1.2 core schema. */
enum zp_scalar_type compose__yaml_resolve(const char *text);

/* ---- dotenv.c: .env files ---- */

/* Parse an env file (compose syntax: comments, `export`, quotes with escapes, multi-line
 * quoted values, ${VAR} references to earlier entries of the same file then to lookup).
 * Entries are added to out in file order (later duplicates replace). Errors go to d with
 * file:line:col. Returns 0 or ZP_E_INPUT. lookup may be NULL. */
int compose__dotenv_parse(const char *file, const char *data, size_t len,
                          const struct compose_env *lookup, struct compose_env *out,
                          struct zp_diags *d);

/* ---- interp.c: ${VAR} interpolation ---- */

/* Interpolate one string. Unset variables without default: a warning (once per variable
 * per call site) and an empty string. `${VAR:?msg}` / `${VAR?msg}` unset: an error naming
 * the variable, the message and path. pos/path locate the value for messages (may be
 * NULL). Returns 0 and *ret (caller owns), or ZP_E_INPUT (syntax error, required variable
 * missing). */
int compose__interp_string(const char *in, const struct compose_env *env,
                           const struct zp_pos *pos, const char *path, char **ret,
                           struct zp_diags *d);

/* Interpolate every string scalar value below root in place (map keys are left alone;
 * nodes flagged ZP_NODE_NOINTERP are skipped). A plain (unquoted) scalar that changed is
 * re-typed with compose__yaml_resolve, so `replicas: ${N}` becomes an integer. path is the
 * path of root for messages ("" for a document). Returns 0 or ZP_E_INPUT (all problems
 * are in d). */
int compose__interp_tree(struct zp_node *root, const struct compose_env *env, const char *path,
                         struct zp_diags *d);

/* ---- normalize.c / normalize-service.c: validation of shape and canonical form ---- */

struct compose_ctx {
    const char *file;    /* the compose file being normalised (interned) */
    const char *basedir; /* absolute directory relative paths are resolved against */
    const struct compose_env *env; /* for `environment: [KEY]` without a value */
    bool keep_relative_paths;       /* do not make paths absolute */
};

/* Validate and normalise a whole file's document in place: top-level keys (version,
 * name, include, services, networks, volumes, secrets, configs, x-*), every object's
 * keys ("unknown key ... did you mean ..."), types and ranges, and short syntax to the
 * long one. !reset / !override flags on a field's value are kept on its normalised value.
 * Does not check cross references (a partial override file is fine) nor that a service
 * has an image or a build. Returns 0 or ZP_E_INPUT; every problem is in d. */
int compose__normalize_file(struct zp_node *doc, const struct compose_ctx *ctx,
                            struct zp_diags *d);

/* Same for one service definition (the value under services.NAME), path for messages
 * ("services.web"). */
int compose__normalize_service(struct zp_node *svc, const char *path,
                               const struct compose_ctx *ctx, struct zp_diags *d);

/* ---- merge.c: the Compose Specification's merge rules on normalised trees ---- */

/* Merge the normalised document (or service, with is_service) `over` into `base` in place;
 * `over` is consumed. Mappings merge recursively; scalars and most sequences are replaced;
 * keyed sequences (ports, volumes, secrets, configs, ...) merge by their key; `!reset`
 * removes, `!override` replaces. */
void compose__merge(struct zp_node *base, struct zp_node *over, bool is_service);

/* ---- project.c: discovery, include, extends, profiles, finalisation, references ---- */

/* Cross-reference validation of the merged, profile-filtered model: undefined networks,
 * volumes, secrets, configs, services (depends_on, links, network_mode service:,
 * volumes_from), dependency cycles (naming the cycle), services with neither image nor
 * build, invalid names. Returns 0 or ZP_E_INPUT. */
int compose__validate_project(const struct zp_node *model, struct zp_diags *d);

#endif

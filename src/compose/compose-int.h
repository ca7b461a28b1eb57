/* compose: interfaces between the loading stages (private to src/compose/).
 * Pipeline per file: read -> yaml parse -> interpolate -> normalise (shape, short syntax ->
 * long syntax, types) ; then per project: include, extends, merge of files, profiles,
 * finalisation (env_file, defaults), cross-reference validation. */
#ifndef ZP_COMPOSE_INT_H
#define ZP_COMPOSE_INT_H

#include "compose.h"

/* ---- yaml.c: YAML 1.2 (libfyaml) -> zp_node ---- */

struct compose_yaml_limits {
    size_t max_bytes; /* input size; default 16 MiB */
    size_t max_depth; /* nesting of collections; default 64 */
    size_t max_nodes; /* nodes after alias expansion; default 1,000,000 */
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
/* The same for a stream of several documents (`---`), as Compose reads them: *ret_docs
 * (owned, at least one) holds each document's root mapping, in order. */
int compose__yaml_parse_docs(const char *file, const char *data, size_t len,
                             const struct compose_yaml_limits *lim, struct zp_node ***ret_docs,
                             size_t *ret_n, struct zp_diags *d);

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
int compose__interp_string(const char *in, const struct compose_env *env, const struct zp_pos *pos,
                           const char *path, char **ret, struct zp_diags *d);

/* Interpolate every string scalar value below root in place (map keys are left alone;
 * nodes flagged ZP_NODE_NOINTERP are skipped). A plain (unquoted) scalar that changed is
 * re-typed with compose__yaml_resolve, so `replicas: ${N}` becomes an integer. path is the
 * path of root for messages ("" for a document). Returns 0 or ZP_E_INPUT (all problems
 * are in d). */
int compose__interp_tree(struct zp_node *root, const struct compose_env *env, const char *path,
                         struct zp_diags *d);

/* ---- normalize.c / normalize-service.c: validation of shape and canonical form ---- */

struct compose_ctx {
    const char *file;              /* the compose file being normalised (interned) */
    const char *basedir;           /* absolute directory relative paths are resolved against */
    const struct compose_env *env; /* for `environment: [KEY]` without a value */
    bool keep_relative_paths;      /* do not make paths absolute */
};

/* Validate and normalise a whole file's document in place: top-level keys (version,
 * name, include, services, networks, volumes, secrets, configs, x-*), every object's
 * keys ("unknown key ... did you mean ..."), types and ranges, and short syntax to the
 * long one. !reset / !override flags on a field's value are kept on its normalised value.
 * Does not check cross references (a partial override file is fine) nor that a service
 * has an image or a build. Returns 0 or ZP_E_INPUT; every problem is in d. */
int compose__normalize_file(struct zp_node *doc, const struct compose_ctx *ctx, struct zp_diags *d);

/* Same for one service definition (the value under services.NAME), path for messages
 * ("services.web"). */
int compose__normalize_service(struct zp_node *svc, const char *path, const struct compose_ctx *ctx,
                               struct zp_diags *d);

/* normalize-objects.c: parts of a service that have their own sub-schema; each validates
 * and normalises the field's value in place (path is e.g. "services.web.build"). */
/* The top-level `models` section: name -> {model, name?, context_size?, runtime_flags?}. */
int compose__normalize_models(struct zp_node *n, const struct compose_ctx *ctx, struct zp_diags *d);
int compose__normalize_build(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                             struct zp_diags *d);
int compose__normalize_deploy(struct zp_node *n, const char *path, const struct compose_ctx *ctx,
                              struct zp_diags *d);
int compose__normalize_healthcheck(struct zp_node *n, const char *path,
                                   const struct compose_ctx *ctx, struct zp_diags *d);

/* ---- normalize-common.c: helpers shared by the normalisers ----
 * Each checks or converts one value in place, reports problems to d at the value's
 * position with path, and returns 0 or ZP_E_INPUT. */

/* Best suggestion for an unknown word among candidates (NULL-terminated), or NULL. */
const char *compose__suggest(const char *word, const char *const *candidates);
/* Report every key of map that is not in known (NULL-terminated) and does not start with
 * "x-": "unknown key 'imagee' in WHAT, did you mean 'image'?". Returns 0 or ZP_E_INPUT. */
int compose__check_keys(const struct zp_node *map, const char *const *known, const char *what,
                        const char *path, struct zp_diags *d);
/* Require a node kind: "must be a mapping, not a string". */
int compose__expect_kind(const struct zp_node *n, enum zp_node_kind kind, const char *path,
                         struct zp_diags *d);
/* A scalar string; numbers (and bools when allow_bool) are converted to their text. */
int compose__to_str(struct zp_node *n, bool allow_bool, const char *path, struct zp_diags *d);
/* An integer within [min, max]; a string holding one is converted. */
int compose__to_int(struct zp_node *n, int64_t min, int64_t max, const char *path,
                    struct zp_diags *d);
/* A number (int or float, or a string holding one) within [min, max], made ZP_FLOAT
 * (printed in its shortest form: 2, 0.5). */
int compose__to_number(struct zp_node *n, double min, double max, const char *path,
                       struct zp_diags *d);
/* A boolean (or the strings "true"/"false"). */
int compose__to_bool(struct zp_node *n, const char *path, struct zp_diags *d);
/* A duration ("1m30s"; a plain integer counts as seconds, and with allow_bare_seconds a
 * decimal string such as "1.5" too), printed back the way Go prints durations. */
int compose__to_duration(struct zp_node *n, bool allow_bare_seconds, const char *path,
                         struct zp_diags *d);
/* A byte size ("512m", "1.5gb", or an integer) converted to integer bytes. */
int compose__to_size(struct zp_node *n, const char *path, struct zp_diags *d);
/* A list of strings; with allow_single a lone string becomes a one-element list.
 * Numbers in the list are converted to strings. */
int compose__to_str_list(struct zp_node *n, bool allow_single, const char *path,
                         struct zp_diags *d);
/* A mapping KEY: value or a list of "KEY<sep>value" strings, into a map str -> str.
 * Values that are numbers or bools become strings; null values (and list items "KEY" without
 * sep) stay null when allow_null, else become "". */
int compose__to_str_map(struct zp_node *n, char sep, bool allow_null, const char *path,
                        struct zp_diags *d);
/* A file mode (secrets, configs, tmpfs): octal as written ("0440", 0440, 0o440), a YAML
 * integer without a leading zero as decimal; at most 07777. Becomes a decimal integer. */
int compose__to_file_mode(struct zp_node *n, const char *path, struct zp_diags *d);
/* Split a command line like a POSIX shell (quotes, backslashes; no expansion) into a
 * sequence of strings. Returns 0 or ZP_E_INPUT (unterminated quote). */
int compose__shell_split(const char *s, const struct zp_pos *pos, struct zp_node **ret_seq);
/* A string or a list of strings (command, entrypoint): a string is shell-split. */
int compose__to_command(struct zp_node *n, const char *path, struct zp_diags *d);
/* Resolve a (possibly relative) path against ctx->basedir unless keep_relative_paths;
 * "~/" is expanded with HOME from ctx->env; absolute results are lexically cleaned.
 * Returns a new string. */
char *compose__abs_path(const struct compose_ctx *ctx, const char *p);

/* ---- merge.c: the Compose Specification's merge rules on normalised trees ---- */

/* Merge the normalised document (or service, with is_service) `over` into `base` in place;
 * `over` is consumed. Mappings merge recursively; scalars, command, entrypoint and
 * healthcheck.test are replaced; other sequences are appended, and keyed ones (ports,
 * volumes, secrets, configs, ...) merge by their key; `!reset` removes, `!override`
 * replaces. */
void compose__merge(struct zp_node *base, struct zp_node *over, bool is_service);

/* ---- project.c: discovery, include, extends, profiles, finalisation, references ---- */

/* Cross-reference validation of the merged, profile-filtered model: undefined networks,
 * volumes, secrets, configs, services (depends_on, links, network_mode service:,
 * volumes_from), dependency cycles (naming the cycle), services with neither image nor
 * build, invalid names. Returns 0 or ZP_E_INPUT. */
int compose__validate_project(const struct zp_node *model, struct zp_diags *d);
/* A valid project name: lowercase letters, digits, '-' and '_', starting with a letter or
 * a digit. */
bool compose__valid_project_name(const char *s);

#endif

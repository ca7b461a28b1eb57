/* template: one-click templates in Coolify's dialect: a compose file with header comments
 * (`# slogan: ...`) and magic variables (`${SERVICE_PASSWORD_DB}`, `SERVICE_FQDN_APP_8080`)
 * that zpanel fills with values generated once per project and kept in its state. Sits
 * above compose/ (it parses and emits through it) and below release/ and cli/.
 * Library code: it never prints. */
#ifndef ZP_TEMPLATE_H
#define ZP_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "../compose/compose.h"
#include "../util/util.h"

/* Caps on what a template may hold (it is user input). */
#define TEMPLATE_MAX_SIZE (1024 * 1024)
#define TEMPLATE_MAX_HEADER_VALUE 4096

/* ---- header comments ---- */

/* The `# key: value` lines before the first line that is not a comment. */
struct template_header {
    char *documentation;
    char *slogan;
    char *category;
    char *logo;
    char *minversion;
    char *env_file;
    char **tags; /* `# tags: a, b` split on commas, trimmed, lowercased */
    size_t ntags;
    int port;       /* `# port:`, 0 when absent */
    bool ignore;    /* `# ignore: true`: not listed in the catalogue */
    char **minimal; /* zpanel's own `# minimal: a, b`: the services of --minimal */
    size_t nminimal;
};

/* Parse the header of text (file names positions in d). Unknown keys are warnings; a bad
 * `port` or `ignore` value is an error. Returns 0 and fills *ret (release it with
 * template_header_release) or ZP_E_INPUT. */
int template_header_parse(const char *file, const char *text, size_t len,
                          struct template_header *ret, struct zp_diags *d);
void template_header_release(struct template_header *h);

/* ---- magic variables ---- */

enum template_magic_kind {
    TEMPLATE_MAGIC_PASSWORD,      /* PASSWORD (32), PASSWORD_64: [A-Za-z0-9] */
    TEMPLATE_MAGIC_PASSWORDSYM,   /* PASSWORDWITHSYMBOLS (32), _64: letters, digits, symbols */
    TEMPLATE_MAGIC_USER,          /* USER: 16 of [A-Za-z0-9] */
    TEMPLATE_MAGIC_LOWERCASEUSER, /* LOWERCASEUSER: 16 of [a-z0-9] */
    TEMPLATE_MAGIC_BASE64,        /* BASE64 (32), _32, _64, _128: [A-Za-z0-9] (not base64) */
    TEMPLATE_MAGIC_REALBASE64,    /* REALBASE64 (32), _32, _64, _128: base64 of that many bytes */
    TEMPLATE_MAGIC_HEX,           /* HEX_32, _64, _128: that many hex digits */
    TEMPLATE_MAGIC_FQDN,          /* FQDN_X[_PORT]: the host name */
    TEMPLATE_MAGIC_URL,           /* URL_X[_PORT]: scheme://host */
    TEMPLATE_MAGIC_NAME,          /* NAME_X: the service's name in the stack */
    TEMPLATE_MAGIC_UUID,          /* UUID_X (zpanel's): a random version 4 UUID */
};

struct template_magic {
    enum template_magic_kind kind;
    char ident[128]; /* X, upper case as written */
    size_t len;      /* generated length (characters, or bytes for REALBASE64) */
    int port;        /* FQDN/URL: the trailing _PORT, 0 when none */
};

/* Is name (SERVICE_...) a magic variable? Fills *ret when it is. */
bool template_magic_parse(const char *name, struct template_magic *ret);
/* The key its value is stored under: the same for every name that must share the value
 * (SERVICE_FQDN_APP and SERVICE_URL_APP_8080 give "SERVICE_FQDN_APP"). Newly allocated. */
char *template_magic_key(const struct template_magic *m);
/* A new random value for a magic variable of a random kind (PASSWORD .. HEX); NULL for
 * FQDN, URL and NAME (they are derived, not random). Uses libsodium's randombytes. */
char *template_magic_random(const struct template_magic *m);

/* ---- rendering ---- */

/* A file or directory the template asks for (a bind mount with `content` or
 * `is_directory`), relative to the project directory. */
struct template_file {
    char *path;    /* cleaned, relative, never above the project directory */
    char *content; /* NULL for a directory */
    bool is_dir;
};

/* A `${VAR}` the template reads that is not a magic variable: the project's variables. */
struct template_var {
    char *name;
    char *def;     /* the ${VAR:-default} / ${VAR-default} text, or NULL */
    bool required; /* ${VAR:?...} / ${VAR?...} */
};

/* A route the FQDN/URL variables ask for. */
struct template_route {
    char *service;
    char *host;
    int port;
};

/* An operational command of the template (`x-zpanel: {actions: {NAME: {service, command}}}`). */
struct template_action {
    char *name;
    char *service;
    char **argv; /* the command, as a list */
    size_t argc;
    char *description;
};

struct template_render_opts {
    const char *project; /* the project name (valid Compose name) */
    const char *domain;  /* --domain: FQDN variables are hosts under it; NULL: kept/localhost */
    bool minimal;        /* keep only the header's `minimal` services */
    const struct compose_env *set; /* --set K=V: the project's variables */
    bool missing_ok; /* a required variable without a value is not an error (to ask for it) */
};

struct template_rendered {
    struct template_header header;
    struct zp_node *model;  /* the compose file to deploy (a document tree) */
    struct compose_env env; /* the project's .env: generated values, then --set values */
    struct template_file *files;
    size_t nfiles;
    struct template_var *vars;
    size_t nvars;
    struct template_route *routes;
    size_t nroutes;
    struct template_action *actions;
    size_t nactions;
    char **hc_excluded; /* services with exclude_from_hc */
    size_t nhc_excluded;
};

/* Render a template: parse text (file names it in messages), fill the magic variables from
 * state (the project's stored values, KEY -> value with template_magic_key's keys, the
 * project's variables and "ZPANEL_DOMAIN"), generating and adding the missing ones to state (the
 * caller saves it), strip Coolify's keys, declare used named volumes, add the routes. Errors (with
 * file:line:col) go to d; returns 0 and *ret (release with template_rendered_release), or
 * ZP_E_INPUT (also for a required variable without a value in opts->set). */
int template_render(const char *file, const char *text, size_t len,
                    const struct template_render_opts *opts, struct compose_env *state,
                    struct template_rendered *ret, struct zp_diags *d);
void template_rendered_release(struct template_rendered *r);

/* The compose file as YAML text (appended to out). */
int template_rendered_yaml(const struct template_rendered *r, struct zp_buf *out);
/* The .env text (KEY=VALUE lines, values single-quoted). */
void template_rendered_envfile(const struct template_rendered *r, struct zp_buf *out);

/* Write the project into dir (created 0700 when missing): compose.yaml, with envfile the
 * .env (0600), and the template's files and directories (an existing file is left as it
 * is: the user may have edited it). Without envfile no .env is written, and the lines of an
 * existing one that set a key of r->env are removed (the file too when nothing else is
 * left): an older zpanel kept the generated values there in the clear. Errors: ZP_E_SYSTEM
 * naming the path. */
int template_write_project(const struct template_rendered *r, const char *dir, bool envfile,
                           struct zp_err *err);

/* ---- stored values ---- */

/* Read / write a project's stored values: KEY=VALUE lines in
 * <state_dir>/templates/state/<project>.env (0600), each value sealed under state_dir's key
 * (store/secret.h: <state_dir>/secret.key, created on first use). load adds the values to
 * *ret (a missing file adds none); a value an older zpanel stored in the clear reads as it
 * is and *ret_plain (may be NULL) counts those; save seals every value (so a load then a
 * save migrates them). Errors: ZP_E_SYSTEM, ZP_E_INPUT (a bad line, naming file:line; a
 * value that does not open with this state directory's key). */
int template_state_load(const char *state_dir, const char *project, struct compose_env *ret,
                        size_t *ret_plain, struct zp_err *err);
int template_state_save(const char *state_dir, const char *project, const struct compose_env *env,
                        struct zp_err *err);
/* That file's path (newly allocated). */
char *template_state_path(const char *state_dir, const char *project);

/* A deployed template's interpolation environment (template_rendered.env: the generated
 * values under every name the compose file reads, and the project's variables), sealed the
 * same way in <state_dir>/templates/env/<project>.env, so that `template deploy` writes no
 * .env: the CLI supplies it when it loads the project (compose_options.defaults: below the
 * project's own .env and the process environment). load adds nothing when the file is
 * missing. Errors as template_state_load / _save. */
int template_env_load(const char *state_dir, const char *project, struct compose_env *ret,
                      struct zp_err *err);
int template_env_save(const char *state_dir, const char *project, const struct compose_env *env,
                      struct zp_err *err);
char *template_env_path(const char *state_dir, const char *project);

/* ---- the catalogue ---- */

struct template_entry {
    char *name;   /* file name without .yaml */
    char *origin; /* "built-in" or the file's path */
    char *text;
    size_t len;
    struct template_header header;
};

struct template_catalog {
    struct template_entry *items; /* sorted by name; a user file hides a built-in */
    size_t n;
};

/* The built-in templates plus the *.yaml / *.yml files of user_dir (NULL or missing: none).
 * A user file whose header does not parse is an error naming it. */
int template_catalog_load(const char *user_dir, struct template_catalog *ret, struct zp_err *err);
void template_catalog_release(struct template_catalog *c);
const struct template_entry *template_catalog_find(const struct template_catalog *c,
                                                   const char *name);
/* Does e match a search word (case-insensitive, in the name, slogan, category or tags)? */
bool template_entry_matches(const struct template_entry *e, const char *word);
/* The user's template directory: $ZPANEL_TEMPLATES_DIR, else <state_dir>/templates.
 * Newly allocated. */
char *template_user_dir(const char *state_dir);

/* Built-ins (generated at build time from templates/ *.yaml). */
struct template_builtin {
    const char *name;
    const char *text;
    size_t len;
};
extern const struct template_builtin template_builtins[];
extern const size_t template_nbuiltins;

#endif

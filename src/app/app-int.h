/* app-int: the parsers behind detection (TOML subset, Procfile, package.json) and the
 * Dockerfile generator, shared by the module's files, its tests and fuzz targets. */
#ifndef ZP_APP_INT_H
#define ZP_APP_INT_H

#include <stdint.h>

#include "app.h"

/* ---- TOML subset (pyproject.toml, zpanel.toml) ----
 * Tables [a.b], arrays of tables [[a]] (keys become "a[0].k", "a[1].k"), bare, quoted and
 * dotted keys, basic/literal/multi-line strings with escapes, integers, booleans, floats
 * and dates (kept as their text), arrays over several lines, inline tables (flattened
 * into dotted keys). Caps: APP_TOML_MAX bytes, APP_TOML_MAX_ENTRIES keys, nesting depth
 * APP_TOML_MAX_DEPTH. Duplicate keys are errors. */
#define APP_TOML_MAX (1024 * 1024)
#define APP_TOML_MAX_ENTRIES 4096
#define APP_TOML_MAX_DEPTH 32

enum app_toml_type {
    APP_TOML_STRING,
    APP_TOML_INT,
    APP_TOML_BOOL,
    APP_TOML_FLOAT, /* s holds the text */
    APP_TOML_DATE,  /* s holds the text */
    APP_TOML_ARRAY,
    APP_TOML_TABLE, /* an inline table inside an array (its keys are not kept) */
};

struct app_toml_val {
    enum app_toml_type type;
    char *s; /* STRING, FLOAT, DATE */
    int64_t i;
    bool b;
    struct app_toml_val *items; /* ARRAY */
    size_t n;
    struct zp_pos pos;
};

struct app_toml_entry {
    char *key; /* the full dotted path: "tool.poetry.dependencies.flask" */
    struct app_toml_val val;
};

struct app_toml {
    struct app_toml_entry *entries;
    size_t n, cap;
};

/* Parse text (len bytes, need not be NUL-terminated) named file into *ret (the caller
 * releases it with app__toml_release, also after a failure). Errors: ZP_E_INPUT with
 * file:line:col, ZP_E_TOOBIG. */
int app__toml_parse(const char *file, const char *text, size_t len, struct app_toml *ret,
                    struct zp_err *err);
void app__toml_release(struct app_toml *t);
/* The value at a dotted key; borrowed; NULL when absent. */
const struct app_toml_val *app__toml_get(const struct app_toml *t, const char *key);
/* The string at key: borrowed; NULL when absent or not a string. */
const char *app__toml_str(const struct app_toml *t, const char *key);

/* ---- Procfile ---- */

#define APP_PROCFILE_MAX (256 * 1024)
#define APP_PROCFILE_MAX_ENTRIES 256

struct app_procfile {
    char **names;
    char **cmds;
    size_t n;
};

/* Parse "name: command" lines (blank lines and # comments skipped) into *ret (released
 * with app__procfile_release, also after a failure). Errors: ZP_E_INPUT with
 * file:line:col (a line without a valid name and colon, an empty command, a duplicate
 * name), ZP_E_TOOBIG. */
int app__procfile_parse(const char *file, const char *text, size_t len, struct app_procfile *ret,
                        struct zp_err *err);
void app__procfile_release(struct app_procfile *p);
/* The command of process type name; borrowed; NULL when absent. */
const char *app__procfile_get(const struct app_procfile *p, const char *name);

/* ---- package.json (and deno.json's tasks) ---- */

#define APP_PKGJSON_MAX (2 * 1024 * 1024)
#define APP_PKGJSON_MAX_DEPS 4096

struct app_pkgjson {
    char *name;
    char *main;
    char *start;           /* scripts.start (deno.json: tasks.start) */
    char *build;           /* scripts.build (deno.json: tasks.build) */
    char *package_manager; /* "packageManager": "pnpm@9.1.0" -> "pnpm" */
    char **deps;           /* names in dependencies and devDependencies */
    size_t ndeps;
};

/* Parse a package.json (deno: read "tasks" instead of "scripts") into *ret (released with
 * app__pkgjson_release, also after a failure). Errors: ZP_E_INPUT with file:line:col
 * (not JSON, not an object, a field of the wrong type), ZP_E_TOOBIG. */
int app__pkgjson_parse(const char *file, const char *text, size_t len, bool deno,
                       struct app_pkgjson *ret, struct zp_err *err);
void app__pkgjson_release(struct app_pkgjson *p);
bool app__pkgjson_has_dep(const struct app_pkgjson *p, const char *name);

/* ---- Dockerfile generation ---- */

/* Fill plan->dockerfile for plan->provider from the plan's commands, port and images
 * (and the facts in hint: the static output directory, the binary's name). */
struct app_gen_hint {
    const char *static_dir;   /* node SPA: "dist", "build"...; static: "public", "dist", "." */
    const char *binary;       /* rust: the package name; elixir: the app name; dotnet: the dll */
    const char *lockfiles;    /* space-separated dependency manifests copied before install */
    bool php_assets;          /* php: a package.json with a build script (assets stage) */
    const char *assets_image; /* php: the assets stage's image (node's) */
    bool java_gradle;
};
void app__dockerfile_generate(struct app_plan *plan, const struct app_gen_hint *hint);

/* ---- git URLs ---- */

/* The SSH port of a git URL: ssh://[USER@]HOST[:PORT]/PATH (HOST possibly [IPv6]) gives
 * PORT, or 22 without one; any other URL (USER@HOST:PATH included) gives 22; -1 when PORT
 * is not a number from 1 to 65535. */
int app__git_ssh_port(const char *url);

#endif

/* app: applications from git repositories. Detection of the build pack from a
 * repository's files (first match wins, in the order of app_providers), the build plan
 * (commands, port, a generated Dockerfile) and the parsers it reads (package.json,
 * a TOML subset for pyproject.toml and zpanel.toml, Procfile). Above compose/ and
 * engine/, below release/ and the front ends; never prints. */
#ifndef ZP_APP_H
#define ZP_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/util.h"

/* The build packs. Detection order (first match wins), documented in README.md:
 * dockerfile (Dockerfile), compose (compose.yaml, compose.yml, docker-compose.yaml,
 * docker-compose.yml), php (composer.json: before node, whose package.json then only
 * builds assets, as in Laravel), node (package.json), python (requirements.txt,
 * pyproject.toml, Pipfile, main.py), go (go.mod, main.go), rust (Cargo.toml), php
 * (index.php), ruby (Gemfile), java (pom.xml, gradlew, build.gradle, build.gradle.kts),
 * dotnet (*.csproj), deno (deno.json, deno.jsonc), elixir (mix.exs), static (index.html,
 * public/index.html, dist/index.html), shell (start.sh). */
enum app_provider {
    APP_DOCKERFILE,
    APP_COMPOSE,
    APP_NODE,
    APP_PYTHON,
    APP_GO,
    APP_RUST,
    APP_PHP,
    APP_RUBY,
    APP_JAVA,
    APP_DOTNET,
    APP_DENO,
    APP_ELIXIR,
    APP_STATIC,
    APP_SHELL,
    APP_NPROVIDERS,
};

/* The provider's name as users write it ("dockerfile", "node", "php", ...). */
const char *app_provider_name(enum app_provider p);
/* Look a provider up by name; false when unknown. */
bool app_provider_parse(const char *name, enum app_provider *ret);

/* What the caller forces; zero-initialise for automatic detection. */
struct app_options {
    /* --build-pack: NULL or "auto" detects; else a provider name */
    const char *build_pack;
    /* --port: 0 keeps the detected or configured one */
    int port;
    /* base images, "KEY=IMAGE" where KEY is a provider name (the build stage's image) or
     * "<provider>-runtime" (the final stage's); these win over zpanel.toml's [images] */
    const char *const *images;
    size_t nimages;
};

/* A build plan; every string is owned by the plan (NULL when not applicable). */
struct app_plan {
    enum app_provider provider;
    char *framework;       /* "django", "vite", "rails", ... */
    char *package_manager; /* "npm", "yarn", "pnpm", "bun", "pip", "poetry", ... */
    char *install_cmd;
    char *build_cmd;
    char *start_cmd;
    char *start_source;    /* where start_cmd came from: "detected", "Procfile", "zpanel.toml" */
    int port;              /* the port the app listens on ($PORT inside the container) */
    char *dockerfile_path; /* APP_DOCKERFILE: the repository's Dockerfile (relative) */
    char *compose_path;    /* APP_COMPOSE: the repository's compose file (relative) */
    char *dockerfile;      /* the generated Dockerfile (every provider but those two) */
    char *image;           /* the build stage's base image */
    char *runtime_image;   /* the final stage's base image */
    bool spa;              /* a static front-end build served by Caddy */
};

/* Detect the build pack of the repository checked out at dir and make its plan.
 * Order: opts->build_pack, then zpanel.toml's build.pack, then the files in the order of
 * enum app_provider. A Procfile's `web` sets the start command; zpanel.toml's [build]
 * (install, build, start, port, dockerfile, image, runtime_image) and [images] override
 * anything detected; opts->port and opts->images win over zpanel.toml.
 * *ret belongs to the caller (app_plan_release). Errors: ZP_E_INPUT for a malformed
 * package.json, pyproject.toml, zpanel.toml or Procfile (err names file:line:col) or an
 * unknown build pack; ZP_E_NOTFOUND when nothing is recognised; ZP_E_SYSTEM. */
int app_detect(const char *dir, const struct app_options *opts, struct app_plan *ret,
               struct zp_err *err);
void app_plan_release(struct app_plan *plan);

/* The default base images of a provider (build stage, final stage); static strings. */
void app_default_images(enum app_provider p, const char **ret_image, const char **ret_runtime);

/* ---- git (libgit2) ---- */

/* How to reach a repository; every field may be NULL. */
struct app_git_auth {
    const char *token;       /* https: a token sent as the password (user from the URL, else
                                "x-access-token") */
    const char *ssh_key;     /* ssh: the private key file (a deploy key) */
    const char *known_hosts; /* ssh: the known_hosts file the host key must be in (zpanel's,
                                ssh_known_hosts_path); an unknown host is refused */
};

/* Is url one app_git_sync takes (file://, http(s)://, ssh://, USER@HOST:PATH)? */
bool app_git_url_valid(const char *url);

/* Was zpanel built against a libgit2 with shallow fetches (1.7 or later)? */
bool app_git_shallow_supported(void);

/* Fetch branch of url into the repository at dir (made when missing) and check out commit
 * (a hex prefix of at least 7; NULL: the branch's tip) with its submodules, detached.
 * Untracked files are removed. ret_sha gets the full commit id. The branch's tip is
 * fetched shallow (depth 1) when app_git_shallow_supported, a given commit with the
 * history; *ret_fetch (when not NULL; a new string for the caller, NULL on error) says
 * which and why, for the log. ssh: the host key must be in auth->known_hosts under the
 * name OpenSSH gives host:port ("host", "[host]:port"). Errors: ZP_E_INPUT (a bad URL,
 * port or branch name, an unknown or changed host key, ssh with a libgit2 built
 * without SSH), ZP_E_NOTFOUND (no such repository, branch or commit; authentication
 * failed), ZP_E_SYSTEM. */
int app_git_sync(const char *url, const char *branch, const char *commit, const char *dir,
                 const struct app_git_auth *auth, char ret_sha[41], char **ret_fetch,
                 struct zp_err *err);

/* ---- apps: settings, checkout, generated compose file (STATE/apps/NAME/) ---- */

/* An app's settings; every string owned (app_settings_release). */
struct app_settings {
    char *name;       /* the project name too */
    char *git;        /* the repository URL */
    char *branch;     /* NULL: "main" */
    char *build_pack; /* NULL or "auto": detected */
    char *domain;     /* the proxy route's host, or NULL */
    char *publish;    /* "[IP:]PORT" published on the host, or NULL */
    char *tls;        /* the route's TLS: "auto" (NULL), "internal" or "off" */
    char *proxy;      /* the route's proxy: "caddy" (NULL: zpanel's) or "traefik" (labels) */
    char *health;     /* the route's HTTP probe path during a rollout ("/up"), or NULL */
    char *server;     /* the registered server (ssh/) it deploys to, or NULL: this engine */
    int port;         /* 0: the plan's */
    char *secret;     /* the webhook secret */
    char *token;      /* https token, or NULL */
    char *ssh_key;    /* deploy key file, or NULL */
    char *memory;     /* limits: NULL "512m" */
    char *cpus;       /* NULL: "1" */
    char *commit;     /* the commit deployed last, or NULL */
    char *preview_of; /* a pull-request preview: the app it previews (NAME of NAME-pr-N) */
    char **env;       /* "KEY=VALUE" */
    size_t nenv;
    char **volumes; /* "NAME:/path" (named volumes) */
    size_t nvolumes;
    char **images; /* base images, "KEY=IMAGE" as app_options.images (over zpanel.toml's) */
    size_t nimages;
};

/* 1-48 of [a-z0-9_-], starting with a letter or digit (a project name). */
bool app_name_valid(const char *name);
/* Is name one that only a pull-request preview takes (it ends in "-pr-" and digits)? */
bool app_name_reserved(const char *name);
/* STATE/apps/NAME (newly allocated). */
char *app_dir(const char *state_dir, const char *name);
/* Is kv "KEY=IMAGE" with KEY a provider name or "<provider>-runtime" and an image
 * reference without blanks or quotes? */
bool app_image_option_valid(const char *kv);
/* Check the settings; ZP_E_INPUT naming the flag. */
int app_settings_validate(const struct app_settings *s, struct zp_err *err);
/* Write STATE/apps/NAME/app.toml (0600, atomically), with secret, token and the env values
 * sealed under state_dir's key (store_secret_seal; STATE/secret.key made on first use).
 * create: ZP_E_CONFLICT when the app exists, ZP_E_INPUT when its server is not registered
 * (STATE/ssh/servers); ZP_E_INPUT for a name app_name_reserved
 * (NAME-pr-N is the preview of NAME's pull request N). Errors also: ZP_E_INPUT
 * (app_settings_validate, an unusable key file), ZP_E_SYSTEM. */
int app_save(const char *state_dir, const struct app_settings *s, bool create, struct zp_err *err);
/* Read an app's settings into *ret (the caller's), sealed values opened (values in clear,
 * from a file written before they were sealed, are taken as they are). Errors:
 * ZP_E_NOTFOUND, ZP_E_INPUT (a malformed file, a value that does not open with this state
 * directory's key), ZP_E_SYSTEM. */
int app_load(const char *state_dir, const char *name, struct app_settings *ret, struct zp_err *err);
void app_settings_release(struct app_settings *s);
/* The apps' names, sorted (*ret: an array of new strings, the caller frees both). */
int app_list(const char *state_dir, char ***ret, size_t *ret_n, struct zp_err *err);
/* May parent's pull-request preview be written as app name at host domain? Not when an
 * app called name exists that is not parent's preview (preview_of), nor when an app other
 * than name routes domain. Errors: ZP_E_CONFLICT naming the other app, those of app_load
 * (an unreadable app.toml of name). */
int app_preview_check(const char *state_dir, const char *parent, const char *name,
                      const char *domain, struct zp_err *err);
/* rm -rf dir (symbolic links removed, not followed); a missing dir is fine. */
int app_rmtree(const char *dir, struct zp_err *err);
/* Remove STATE/apps/NAME (settings and checkout). */
int app_delete(const char *state_dir, const char *name, struct zp_err *err);

/* The compose file of an app at commit sha with plan (a new string): service "web",
 * image zpanel-app-NAME:<sha's first 12>, built from ./src (the plan's Dockerfile inline,
 * or the repository's), PORT and the settings' environment, labels naming the app and
 * commit, named volumes, resource limits, the x-zpanel route to domain (with its tls and
 * health path), published port.
 * The environment's keys only (`KEY: null`): the file holds no secret, its values come
 * from the environment it is loaded with (app_environ). */
char *app_compose_generate(const struct app_settings *s, const struct app_plan *plan,
                           const char *sha);
/* The environment an app's compose file is loaded with (compose_options.environ, its whole
 * environment): s's KEY=VALUE, NULL-terminated. The array is the caller's (free), the
 * strings are s's. */
char **app_environ(const struct app_settings *s);

/* What a deploy needs, made by app_prepare. */
struct app_prepared {
    char sha[41];     /* the commit checked out */
    char *fetch_note; /* how it was fetched (app_git_sync's ret_fetch) */
    struct app_plan plan;
    char *compose_path; /* the generated compose file, or the repository's (compose pack) */
    char *project_dir;
};

/* Fetch and check out the app's branch (commit: that commit; NULL: the tip), detect the
 * build pack and write the compose file. Errors: those of app_git_sync and app_detect,
 * ZP_E_SYSTEM. *ret for app_prepared_release. */
int app_prepare(const char *state_dir, const struct app_settings *s, const char *commit,
                const char *known_hosts, struct app_prepared *ret, struct zp_err *err);
void app_prepared_release(struct app_prepared *p);

#endif

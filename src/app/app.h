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
    char *start_source; /* where start_cmd came from: "detected", "Procfile", "zpanel.toml" */
    int port;           /* the port the app listens on ($PORT inside the container) */
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
void app_default_images(enum app_provider p, const char **ret_image,
                        const char **ret_runtime);

#endif

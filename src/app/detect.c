/* app/detect: which build pack a repository needs (first match wins, in the order that
 * app.h documents), its commands and port, with the Procfile's and zpanel.toml's
 * overrides, then the generated Dockerfile. Reads the checkout only; never writes. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app-int.h"

#include "../util/banned.h"

/* the most read from any one file of the repository */
#define REPO_FILE_MAX (2 * 1024 * 1024)

static const char *const provider_names[APP_NPROVIDERS] = {
    [APP_DOCKERFILE] = "dockerfile",
    [APP_COMPOSE] = "compose",
    [APP_NODE] = "node",
    [APP_PYTHON] = "python",
    [APP_GO] = "go",
    [APP_RUST] = "rust",
    [APP_PHP] = "php",
    [APP_RUBY] = "ruby",
    [APP_JAVA] = "java",
    [APP_DOTNET] = "dotnet",
    [APP_DENO] = "deno",
    [APP_ELIXIR] = "elixir",
    [APP_STATIC] = "static",
    [APP_SHELL] = "shell",
};

/* defaults: the official images (build stage, final stage) */
static const char *const default_images[APP_NPROVIDERS][2] = {
    [APP_DOCKERFILE] = {NULL, NULL},
    [APP_COMPOSE] = {NULL, NULL},
    [APP_NODE] = {"node:22-slim", "node:22-slim"},
    [APP_PYTHON] = {"python:3.12-slim", "python:3.12-slim"},
    [APP_GO] = {"golang:1.23", "debian:bookworm-slim"},
    [APP_RUST] = {"rust:1", "debian:bookworm-slim"},
    [APP_PHP] = {"composer:2", "php:8.3-cli"},
    [APP_RUBY] = {"ruby:3.3-slim", "ruby:3.3-slim"},
    [APP_JAVA] = {"maven:3-eclipse-temurin-21", "eclipse-temurin:21-jre"},
    [APP_DOTNET] = {"mcr.microsoft.com/dotnet/sdk:8.0", "mcr.microsoft.com/dotnet/aspnet:8.0"},
    [APP_DENO] = {"denoland/deno:2", "denoland/deno:2"},
    [APP_ELIXIR] = {"elixir:1.17", "elixir:1.17"},
    [APP_STATIC] = {NULL, "caddy:2"},
    [APP_SHELL] = {NULL, "debian:bookworm-slim"},
};

static const int default_ports[APP_NPROVIDERS] = {
    [APP_DOCKERFILE] = 80, [APP_COMPOSE] = 0,   [APP_NODE] = 3000, [APP_PYTHON] = 8000,
    [APP_GO] = 8080,       [APP_RUST] = 8080,   [APP_PHP] = 8080,  [APP_RUBY] = 3000,
    [APP_JAVA] = 8080,     [APP_DOTNET] = 8080, [APP_DENO] = 8000, [APP_ELIXIR] = 4000,
    [APP_STATIC] = 8080,   [APP_SHELL] = 8080,
};

static const char *const compose_files[] = {"compose.yaml", "compose.yml", "docker-compose.yaml",
                                            "docker-compose.yml"};

const char *app_provider_name(enum app_provider p)
{
    if ((unsigned)p < APP_NPROVIDERS)
        return provider_names[p];
    ZP_BUG("provider %d", (int)p);
}

bool app_provider_parse(const char *name, enum app_provider *ret)
{
    for (int i = 0; i < APP_NPROVIDERS; i++) {
        if (strcmp(provider_names[i], name) == 0) {
            *ret = (enum app_provider)i;
            return true;
        }
    }
    return false;
}

void app_default_images(enum app_provider p, const char **ret_image, const char **ret_runtime)
{
    *ret_image = default_images[p][0];
    *ret_runtime = default_images[p][1];
}

/* ---- the repository's files ---- */

struct repo {
    const char *dir;
    struct zp_err *err;
};

static bool has_file(const struct repo *r, const char *rel)
{
    char *path = zp_path_join(r->dir, rel);
    struct stat st;
    bool ok = lstat(path, &st) == 0 && S_ISREG(st.st_mode);
    free(path);
    return ok;
}

/* Read rel (a regular file; a symbolic link is refused: it could point out of the
 * checkout). *ret is NULL when the file is absent. */
static int slurp(const struct repo *r, const char *rel, char **ret, size_t *ret_len)
{
    *ret = NULL;
    *ret_len = 0;
    char *path = zp_path_join(r->dir, rel);
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno != ENOENT)
            rc = zp_err_sys(r->err, "reading '%s'", rel);
        free(path);
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = zp_err_sys(r->err, "reading '%s'", rel);
    } else if (!S_ISREG(st.st_mode)) {
        rc = zp_err_set(r->err, ZP_E_INPUT, NULL, "'%s' is not a regular file", rel);
    } else {
        close(fd);
        fd = -1;
        rc = zp_file_read(path, REPO_FILE_MAX, ret, ret_len, r->err);
    }
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

/* the first top-level file whose name ends with suffix (sorted, for a stable answer) */
static char *find_suffix(const struct repo *r, const char *suffix)
{
    DIR *d = opendir(r->dir);
    if (!d)
        return NULL;
    char *best = NULL;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !zp_str_has_suffix(de->d_name, suffix) ||
            strlen(de->d_name) == strlen(suffix) || !has_file(r, de->d_name))
            continue;
        if (!best || strcmp(de->d_name, best) < 0) {
            free(best);
            best = zp_strdup(de->d_name);
        }
    }
    closedir(d);
    return best;
}

/* the first top-level directory holding file (Django's project package with wsgi.py) */
static char *find_dir_with(const struct repo *r, const char *file)
{
    DIR *d = opendir(r->dir);
    if (!d)
        return NULL;
    char *best = NULL;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *rel = zp_asprintf("%s/%s", de->d_name, file);
        if (has_file(r, rel) && (!best || strcmp(de->d_name, best) < 0)) {
            free(best);
            best = zp_strdup(de->d_name);
        }
        free(rel);
    }
    closedir(d);
    return best;
}

/* Does text name package at the start of a line (requirements.txt, Pipfile, Gemfile
 * entries: `flask==3.0`, `gem "rails"`, `flask = "*"`)? Case-insensitive. */
static bool mentions(const char *text, const char *package)
{
    size_t n = strlen(package);
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        const char *s = l;
        while (*s == ' ' || *s == '\t')
            s++;
        if (strncmp(s, "gem ", 4) == 0) {
            s += 4;
            while (*s == ' ')
                s++;
        }
        if (*s == '"' || *s == '\'' || *s == ':')
            s++;
        if (strncasecmp(s, package, n) == 0 && !isalnum((unsigned char)s[n]) && s[n] != '-' &&
            s[n] != '_')
            return true;
    }
    return false;
}

/* ---- plan building ---- */

static void set(char **field, const char *v)
{
    free(*field);
    *field = v ? zp_strdup(v) : NULL;
}

static void setf(char **field, char *owned)
{
    free(*field);
    *field = owned;
}

/* space-separated list of the files of names that exist */
static char *existing(const struct repo *r, const char *const *names)
{
    struct zp_buf b = ZP_BUF_INIT;
    for (; *names; names++) {
        if (has_file(r, *names)) {
            if (b.len)
                zp_buf_addc(&b, ' ');
            zp_buf_adds(&b, *names);
        }
    }
    return b.len ? zp_buf_detach(&b, NULL) : (zp_buf_release(&b), NULL);
}

struct ctx {
    struct repo r;
    struct app_plan *plan;
    struct app_gen_hint hint;
    char *hint_static_dir, *hint_binary, *hint_lockfiles; /* owned storage of hint */
    struct zp_err *err;
};

static int no_start(struct ctx *c, const char *what)
{
    return zp_err_set(c->err, ZP_E_INPUT, NULL,
                      "%s app: no start command found (%s); set one in a Procfile "
                      "('web: COMMAND') or in zpanel.toml ([build] start = \"...\")",
                      app_provider_name(c->plan->provider), what);
}

static int plan_node(struct ctx *c)
{
    struct app_plan *plan = c->plan;
    char *text = NULL;
    size_t len;
    struct app_pkgjson pj;
    int rc = slurp(&c->r, "package.json", &text, &len);
    if (rc)
        return rc;
    rc = app__pkgjson_parse("package.json", text, len, false, &pj, c->err);
    free(text);
    if (rc) {
        app__pkgjson_release(&pj);
        return rc;
    }
    const char *pm = "npm";
    if (pj.package_manager &&
        (strcmp(pj.package_manager, "npm") == 0 || strcmp(pj.package_manager, "yarn") == 0 ||
         strcmp(pj.package_manager, "pnpm") == 0 || strcmp(pj.package_manager, "bun") == 0))
        pm = pj.package_manager;
    else if (has_file(&c->r, "bun.lockb") || has_file(&c->r, "bun.lock"))
        pm = "bun";
    else if (has_file(&c->r, "pnpm-lock.yaml"))
        pm = "pnpm";
    else if (has_file(&c->r, "yarn.lock"))
        pm = "yarn";
    set(&plan->package_manager, pm);
    static const char *const locks[] = {"package.json",
                                        "package-lock.json",
                                        "npm-shrinkwrap.json",
                                        "yarn.lock",
                                        "pnpm-lock.yaml",
                                        "bun.lockb",
                                        "bun.lock",
                                        ".npmrc",
                                        NULL};
    c->hint_lockfiles = existing(&c->r, locks);
    if (strcmp(pm, "npm") == 0)
        set(&plan->install_cmd,
            has_file(&c->r, "package-lock.json") || has_file(&c->r, "npm-shrinkwrap.json")
                ? "npm ci"
                : "npm install");
    else if (strcmp(pm, "yarn") == 0)
        set(&plan->install_cmd, "corepack enable && yarn install --frozen-lockfile");
    else if (strcmp(pm, "pnpm") == 0)
        set(&plan->install_cmd, "corepack enable && pnpm install --frozen-lockfile");
    else
        set(&plan->install_cmd, "bun install");
    if (strcmp(pm, "bun") == 0) {
        set(&plan->image, "oven/bun:1");
        set(&plan->runtime_image, "oven/bun:1");
    }
    if (pj.build)
        setf(&plan->build_cmd, zp_asprintf("%s run build", pm));

    /* static front-end builds: served by Caddy when the app has no server of its own */
    static const char *const spa[][2] = {{"astro", "dist"},
                                         {"@angular/core", NULL},
                                         {"react-scripts", "build"},
                                         {"@vue/cli-service", "dist"},
                                         {"vite", "dist"}};
    static const char *const servers[] = {"next",    "nuxt",    "@sveltejs/kit", "@remix-run/node",
                                          "express", "fastify", "koa",           "@nestjs/core",
                                          "hono",    NULL};
    const char *fw = NULL;
    for (const char *const *s = servers; *s; s++)
        if (app__pkgjson_has_dep(&pj, *s)) {
            fw = *s;
            break;
        }
    if (!fw && !pj.start && pj.build) {
        for (size_t i = 0; i < sizeof(spa) / sizeof(spa[0]); i++) {
            if (!app__pkgjson_has_dep(&pj, spa[i][0]))
                continue;
            fw = spa[i][0];
            plan->spa = true;
            if (spa[i][1])
                c->hint_static_dir = zp_strdup(spa[i][1]);
            else /* Angular 17+: dist/<project>/browser */
                c->hint_static_dir = zp_asprintf("dist/%s/browser", pj.name ? pj.name : "app");
            break;
        }
    }
    if (fw) {
        /* "@angular/core" -> "angular", "@sveltejs/kit" -> "sveltekit" */
        if (strcmp(fw, "@angular/core") == 0)
            fw = "angular";
        else if (strcmp(fw, "@sveltejs/kit") == 0)
            fw = "sveltekit";
        else if (strcmp(fw, "@remix-run/node") == 0)
            fw = "remix";
        else if (strcmp(fw, "@vue/cli-service") == 0)
            fw = "vue";
        else if (strcmp(fw, "@nestjs/core") == 0)
            fw = "nestjs";
        else if (strcmp(fw, "react-scripts") == 0)
            fw = "create-react-app";
        set(&plan->framework, fw);
    }
    if (plan->spa) {
        set(&plan->start_cmd, "caddy run --config /etc/caddy/Caddyfile --adapter caddyfile");
        set(&plan->runtime_image, "caddy:2");
        plan->port = 8080;
    } else if (pj.start) {
        setf(&plan->start_cmd, zp_asprintf("%s %sstart", pm, strcmp(pm, "bun") == 0 ? "run " : ""));
    } else if (pj.main) {
        setf(&plan->start_cmd,
             zp_asprintf("%s %s", strcmp(pm, "bun") == 0 ? "bun" : "node", pj.main));
    } else {
        static const char *const entries[] = {"index.js",  "server.js",  "app.js", "main.js",
                                              "index.mjs", "server.mjs", NULL};
        for (const char *const *e = entries; *e; e++)
            if (has_file(&c->r, *e)) {
                setf(&plan->start_cmd,
                     zp_asprintf("%s %s", strcmp(pm, "bun") == 0 ? "bun" : "node", *e));
                break;
            }
    }
    app__pkgjson_release(&pj);
    return 0;
}

/* the Python module holding the ASGI/WSGI `app` object */
static const char *python_module(struct ctx *c)
{
    if (has_file(&c->r, "main.py"))
        return "main";
    if (has_file(&c->r, "app.py"))
        return "app";
    if (has_file(&c->r, "app/main.py"))
        return "app.main";
    if (has_file(&c->r, "wsgi.py"))
        return "wsgi";
    if (has_file(&c->r, "server.py"))
        return "server";
    return NULL;
}

static int plan_python(struct ctx *c)
{
    struct app_plan *plan = c->plan;
    struct zp_buf deps = ZP_BUF_INIT; /* every dependency name, one per line */
    char *text = NULL;
    size_t len;
    int rc = 0;
    struct app_toml py = {0};
    if ((rc = slurp(&c->r, "requirements.txt", &text, &len)))
        goto out;
    if (text) {
        zp_buf_adds(&deps, text);
        zp_buf_addc(&deps, '\n');
        free(text);
    }
    if ((rc = slurp(&c->r, "Pipfile", &text, &len)))
        goto out;
    if (text) {
        zp_buf_adds(&deps, text);
        zp_buf_addc(&deps, '\n');
        free(text);
    }
    if ((rc = slurp(&c->r, "pyproject.toml", &text, &len)))
        goto out;
    if (text) {
        rc = app__toml_parse("pyproject.toml", text, len, &py, c->err);
        free(text);
        if (rc)
            goto out;
        const struct app_toml_val *pd = app__toml_get(&py, "project.dependencies");
        if (pd && pd->type == APP_TOML_ARRAY)
            for (size_t i = 0; i < pd->n; i++)
                if (pd->items[i].type == APP_TOML_STRING)
                    zp_buf_addf(&deps, "%s\n", pd->items[i].s);
        for (size_t i = 0; i < py.n; i++) {
            const char *k = py.entries[i].key;
            const char *pfx = "tool.poetry.dependencies.";
            /* `flask = "^3"` or `flask = { version = "^3" }` (flattened: flask.version) */
            if (zp_str_has_prefix(k, pfx)) {
                const char *n = k + strlen(pfx);
                const char *dot = strchr(n, '.');
                zp_buf_addf(&deps, "%.*s\n", (int)(dot ? (size_t)(dot - n) : strlen(n)), n);
            }
        }
    }
    const char *d = zp_buf_cstr(&deps);

    static const char *const req[] = {"requirements.txt", NULL};
    if (has_file(&c->r, "poetry.lock")) {
        set(&plan->package_manager, "poetry");
        static const char *const l[] = {"pyproject.toml", "poetry.lock", NULL};
        c->hint_lockfiles = existing(&c->r, l);
        set(&plan->install_cmd, "pip install --no-cache-dir poetry && poetry config "
                                "virtualenvs.create false && poetry install --no-root --only main");
    } else if (has_file(&c->r, "Pipfile")) {
        set(&plan->package_manager, "pipenv");
        static const char *const l[] = {"Pipfile", "Pipfile.lock", NULL};
        c->hint_lockfiles = existing(&c->r, l);
        set(&plan->install_cmd, "pip install --no-cache-dir pipenv && pipenv install --system "
                                "--deploy");
    } else if (has_file(&c->r, "requirements.txt")) {
        set(&plan->package_manager, "pip");
        c->hint_lockfiles = existing(&c->r, req);
        set(&plan->install_cmd, "pip install --no-cache-dir -r requirements.txt");
    } else if (has_file(&c->r, "pyproject.toml")) {
        /* a build backend needs the sources: installed after they are copied */
        set(&plan->package_manager, "pip");
        set(&plan->install_cmd, "pip install --no-cache-dir .");
    }
    const char *mod = python_module(c);
    if (has_file(&c->r, "manage.py") || mentions(d, "django")) {
        set(&plan->framework, "django");
        char *proj = find_dir_with(&c->r, "wsgi.py");
        if (proj)
            setf(&plan->start_cmd, zp_asprintf("gunicorn %s.wsgi --bind 0.0.0.0:$PORT", proj));
        else if (has_file(&c->r, "manage.py"))
            set(&plan->start_cmd, "python manage.py runserver 0.0.0.0:$PORT");
        free(proj);
    } else if (mentions(d, "fastapi")) {
        set(&plan->framework, "fastapi");
        if (mod)
            setf(&plan->start_cmd, zp_asprintf("uvicorn %s:app --host 0.0.0.0 --port $PORT", mod));
    } else if (mentions(d, "flask")) {
        set(&plan->framework, "flask");
        if (mod)
            setf(&plan->start_cmd, zp_asprintf("gunicorn %s:app --bind 0.0.0.0:$PORT", mod));
    } else if (has_file(&c->r, "main.py")) {
        set(&plan->start_cmd, "python main.py");
    } else if (has_file(&c->r, "app.py")) {
        set(&plan->start_cmd, "python app.py");
    }
    /* the server the framework's start command names, when the app does not list it */
    const char *server = NULL;
    if (plan->start_cmd && zp_str_has_prefix(plan->start_cmd, "gunicorn ") &&
        !mentions(d, "gunicorn"))
        server = "gunicorn";
    if (plan->start_cmd && zp_str_has_prefix(plan->start_cmd, "uvicorn ") &&
        !mentions(d, "uvicorn"))
        server = "uvicorn";
    if (server) {
        if (plan->install_cmd)
            setf(&plan->install_cmd,
                 zp_asprintf("%s && pip install --no-cache-dir %s", plan->install_cmd, server));
        else
            setf(&plan->install_cmd, zp_asprintf("pip install --no-cache-dir %s", server));
    }
out:
    app__toml_release(&py);
    zp_buf_release(&deps);
    return rc;
}

static int plan_go(struct ctx *c)
{
    struct app_plan *plan = c->plan;
    static const char *const l[] = {"go.mod", "go.sum", NULL};
    c->hint_lockfiles = existing(&c->r, l);
    if (c->hint_lockfiles)
        set(&plan->install_cmd, "go mod download");
    set(&plan->build_cmd, "go build -trimpath -o /out/server .");
    set(&plan->start_cmd, "/app/server");
    return 0;
}

static int plan_rust(struct ctx *c)
{
    struct app_plan *plan = c->plan;
    char *text = NULL;
    size_t len;
    struct app_toml t = {0};
    int rc = slurp(&c->r, "Cargo.toml", &text, &len);
    if (rc)
        return rc;
    rc = app__toml_parse("Cargo.toml", text ? text : "", text ? len : 0, &t, c->err);
    free(text);
    const char *name = rc ? NULL : app__toml_str(&t, "package.name");
    if (!rc && !name)
        rc = zp_err_set(c->err, ZP_E_INPUT, NULL, "Cargo.toml: no package.name");
    if (!rc) {
        for (const char *s = name; *s; s++)
            if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_'))
                rc = zp_err_set(c->err, ZP_E_INPUT, NULL,
                                "Cargo.toml: package.name: invalid name '%s'", name);
    }
    if (!rc) {
        static const char *const l[] = {"Cargo.toml", "Cargo.lock", NULL};
        c->hint_lockfiles = existing(&c->r, l);
        c->hint_binary = zp_strdup(name);
        set(&plan->install_cmd, "cargo fetch");
        set(&plan->build_cmd, "cargo build --release");
        setf(&plan->start_cmd, zp_asprintf("/app/%s", name));
    }
    app__toml_release(&t);
    return rc;
}

static int plan_php(struct ctx *c)
{
    struct app_plan *plan = c->plan;
    if (has_file(&c->r, "composer.json")) {
        set(&plan->package_manager, "composer");
        static const char *const l[] = {"composer.json", "composer.lock", NULL};
        c->hint_lockfiles = existing(&c->r, l);
        set(&plan->install_cmd,
            "composer install --no-dev --prefer-dist --no-interaction --no-scripts");
    } else {
        /* no dependencies: the runtime image is the build image too */
        set(&plan->image, plan->runtime_image);
    }
    if (has_file(&c->r, "package.json")) {
        char *text = NULL;
        size_t len;
        struct app_pkgjson pj;
        int rc = slurp(&c->r, "package.json", &text, &len);
        if (rc)
            return rc;
        rc = app__pkgjson_parse("package.json", text, len, false, &pj, c->err);
        free(text);
        c->hint.php_assets = rc == 0 && pj.build != NULL;
        app__pkgjson_release(&pj);
        if (rc)
            return rc;
    }
    if (has_file(&c->r, "artisan")) {
        set(&plan->framework, "laravel");
        set(&plan->start_cmd, "php artisan serve --host=0.0.0.0 --port=$PORT");
    } else if (has_file(&c->r, "public/index.php")) {
        set(&plan->start_cmd, "php -S 0.0.0.0:$PORT -t public");
    } else {
        set(&plan->start_cmd, "php -S 0.0.0.0:$PORT -t .");
    }
    return 0;
}

static int plan_ruby(struct ctx *c)
{
    struct app_plan *plan = c->plan;
    char *gem = NULL;
    size_t len;
    int rc = slurp(&c->r, "Gemfile", &gem, &len);
    if (rc)
        return rc;
    set(&plan->package_manager, "bundler");
    static const char *const l[] = {"Gemfile", "Gemfile.lock", NULL};
    c->hint_lockfiles = existing(&c->r, l);
    set(&plan->install_cmd, "bundle install");
    if (has_file(&c->r, "config/application.rb") || (gem && mentions(gem, "rails"))) {
        set(&plan->framework, "rails");
        set(&plan->start_cmd, "bundle exec rails server -b 0.0.0.0 -p $PORT");
    } else if (has_file(&c->r, "config.ru")) {
        set(&plan->framework, "rack");
        set(&plan->start_cmd, "bundle exec rackup --host 0.0.0.0 --port $PORT");
    } else if (has_file(&c->r, "app.rb")) {
        set(&plan->start_cmd, "bundle exec ruby app.rb");
    }
    free(gem);
    return 0;
}

static int plan_java(struct ctx *c)
{
    struct app_plan *plan = c->plan;
    char *pom = NULL;
    size_t len;
    int rc = slurp(&c->r, "pom.xml", &pom, &len);
    if (rc)
        return rc;
    if (pom) {
        set(&plan->package_manager, "maven");
        static const char *const l[] = {"pom.xml", NULL};
        c->hint_lockfiles = existing(&c->r, l);
        set(&plan->install_cmd, "mvn -B -q dependency:go-offline");
        set(&plan->build_cmd, "mvn -B -q package -DskipTests");
        if (strstr(pom, "spring-boot"))
            set(&plan->framework, "spring-boot");
    } else {
        set(&plan->package_manager, "gradle");
        c->hint.java_gradle = true;
        if (has_file(&c->r, "gradlew")) {
            set(&plan->build_cmd, "./gradlew build -x test --no-daemon");
        } else {
            set(&plan->image, "gradle:8-jdk21");
            set(&plan->build_cmd, "gradle build -x test --no-daemon");
        }
    }
    free(pom);
    set(&plan->start_cmd, "java -Dserver.port=$PORT -jar /app/app.jar");
    return 0;
}

static int plan_dotnet(struct ctx *c)
{
    struct app_plan *plan = c->plan;
    char *proj = find_suffix(&c->r, ".csproj");
    if (!proj)
        return zp_err_set(c->err, ZP_E_INTERNAL, NULL, "no .csproj");
    char *name = zp_strndup(proj, strlen(proj) - strlen(".csproj"));
    c->hint_lockfiles = proj;
    set(&plan->install_cmd, "dotnet restore");
    set(&plan->build_cmd, "dotnet publish -c Release -o /out --no-restore");
    setf(&plan->start_cmd,
         zp_asprintf("ASPNETCORE_URLS=http://0.0.0.0:$PORT exec dotnet /app/%s.dll", name));
    free(name);
    return 0;
}

static int plan_deno(struct ctx *c)
{
    struct app_plan *plan = c->plan;
    const char *file = has_file(&c->r, "deno.json") ? "deno.json" : "deno.jsonc";
    char *text = NULL;
    size_t len;
    struct app_pkgjson pj;
    int rc = slurp(&c->r, file, &text, &len);
    if (rc)
        return rc;
    /* deno.jsonc may hold comments, which JSON does not: its tasks are not read */
    rc = strcmp(file, "deno.json") == 0
             ? app__pkgjson_parse(file, text ? text : "{}", text ? len : 2, true, &pj, c->err)
             : app__pkgjson_parse(file, "{}", 2, true, &pj, c->err);
    free(text);
    if (rc) {
        app__pkgjson_release(&pj);
        return rc;
    }
    const char *entry = has_file(&c->r, "main.ts")     ? "main.ts"
                        : has_file(&c->r, "main.js")   ? "main.js"
                        : has_file(&c->r, "server.ts") ? "server.ts"
                                                       : NULL;
    if (entry)
        setf(&plan->install_cmd, zp_asprintf("deno cache %s", entry));
    if (pj.build)
        set(&plan->build_cmd, "deno task build");
    if (pj.start)
        set(&plan->start_cmd, "deno task start");
    else if (entry)
        setf(&plan->start_cmd,
             zp_asprintf("deno run --allow-net --allow-env --allow-read %s", entry));
    app__pkgjson_release(&pj);
    return 0;
}

static int plan_elixir(struct ctx *c)
{
    struct app_plan *plan = c->plan;
    char *mix = NULL;
    size_t len;
    int rc = slurp(&c->r, "mix.exs", &mix, &len);
    if (rc)
        return rc;
    /* `app: :name` in project/0 */
    const char *a = mix ? strstr(mix, "app:") : NULL;
    char *name = NULL;
    if (a) {
        a += 4;
        while (*a == ' ')
            a++;
        if (*a == ':') {
            a++;
            size_t n = 0;
            while (isalnum((unsigned char)a[n]) || a[n] == '_')
                n++;
            if (n)
                name = zp_strndup(a, n);
        }
    }
    if (mix && strstr(mix, ":phoenix"))
        set(&plan->framework, "phoenix");
    free(mix);
    if (!name)
        return zp_err_set(c->err, ZP_E_INPUT, NULL, "mix.exs: no 'app: :name' in project/0");
    static const char *const l[] = {"mix.exs", "mix.lock", NULL};
    c->hint_lockfiles = existing(&c->r, l);
    set(&plan->package_manager, "mix");
    set(&plan->install_cmd, "mix local.hex --force && mix local.rebar --force && mix deps.get "
                            "--only prod && mix deps.compile");
    set(&plan->build_cmd, "mix release");
    setf(&plan->start_cmd, zp_asprintf("/app/bin/%s start", name));
    c->hint_binary = name;
    return 0;
}

static int plan_static(struct ctx *c)
{
    struct app_plan *plan = c->plan;
    const char *dir = has_file(&c->r, "public/index.html") ? "public"
                      : has_file(&c->r, "dist/index.html") ? "dist"
                                                           : ".";
    c->hint_static_dir = zp_strdup(dir);
    set(&plan->start_cmd, "caddy run --config /etc/caddy/Caddyfile --adapter caddyfile");
    return 0;
}

static int plan_shell(struct ctx *c)
{
    set(&c->plan->start_cmd, "sh start.sh");
    return 0;
}

/* the first EXPOSE of a Dockerfile, when a plain number */
static int dockerfile_port(struct ctx *c, const char *path)
{
    char *text = NULL;
    size_t len;
    if (slurp(&c->r, path, &text, &len) != 0 || !text)
        return 0;
    int port = 0;
    for (const char *l = text; l && *l && !port; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        while (*l == ' ' || *l == '\t')
            l++;
        if (strncasecmp(l, "EXPOSE", 6) != 0 || (l[6] != ' ' && l[6] != '\t'))
            continue;
        const char *s = l + 6;
        while (*s == ' ' || *s == '\t')
            s++;
        char num[8];
        size_t n = 0;
        while (n < sizeof(num) - 1 && s[n] >= '0' && s[n] <= '9') {
            num[n] = s[n];
            n++;
        }
        num[n] = '\0';
        int64_t v;
        if (n && zp_parse_int64(num, 1, 65535, &v) == 0)
            port = (int)v;
    }
    free(text);
    return port;
}

/* ---- detection ---- */

static bool detect_one(struct ctx *c, enum app_provider p)
{
    switch (p) {
    case APP_DOCKERFILE:
        return has_file(&c->r, "Dockerfile");
    case APP_COMPOSE:
        for (size_t i = 0; i < sizeof(compose_files) / sizeof(compose_files[0]); i++)
            if (has_file(&c->r, compose_files[i]))
                return true;
        return false;
    case APP_NODE:
        return has_file(&c->r, "package.json");
    case APP_PYTHON:
        return has_file(&c->r, "requirements.txt") || has_file(&c->r, "pyproject.toml") ||
               has_file(&c->r, "Pipfile") || has_file(&c->r, "main.py");
    case APP_GO:
        return has_file(&c->r, "go.mod") || has_file(&c->r, "main.go");
    case APP_RUST:
        return has_file(&c->r, "Cargo.toml");
    case APP_PHP:
        return has_file(&c->r, "composer.json") || has_file(&c->r, "index.php") ||
               has_file(&c->r, "public/index.php");
    case APP_RUBY:
        return has_file(&c->r, "Gemfile");
    case APP_JAVA:
        return has_file(&c->r, "pom.xml") || has_file(&c->r, "gradlew") ||
               has_file(&c->r, "build.gradle") || has_file(&c->r, "build.gradle.kts");
    case APP_DOTNET: {
        char *p2 = find_suffix(&c->r, ".csproj");
        free(p2);
        return p2 != NULL;
    }
    case APP_DENO:
        return has_file(&c->r, "deno.json") || has_file(&c->r, "deno.jsonc");
    case APP_ELIXIR:
        return has_file(&c->r, "mix.exs");
    case APP_STATIC:
        return has_file(&c->r, "index.html") || has_file(&c->r, "public/index.html") ||
               has_file(&c->r, "dist/index.html");
    case APP_SHELL:
        return has_file(&c->r, "start.sh");
    case APP_NPROVIDERS:
        break;
    }
    return false;
}

/* the order of detection: composer.json makes PHP win over Node (see app.h) */
static bool detect(struct ctx *c, enum app_provider *ret)
{
    static const enum app_provider order[] = {
        APP_DOCKERFILE, APP_COMPOSE, APP_PHP /* composer.json only */,
        APP_NODE,       APP_PYTHON,  APP_GO,
        APP_RUST,       APP_PHP,     APP_RUBY,
        APP_JAVA,       APP_DOTNET,  APP_DENO,
        APP_ELIXIR,     APP_STATIC,  APP_SHELL};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        bool hit = i == 2 ? has_file(&c->r, "composer.json") : detect_one(c, order[i]);
        if (hit) {
            *ret = order[i];
            return true;
        }
    }
    return false;
}

/* ---- zpanel.toml ---- */

static const char *const build_keys[] = {"pack",       "install", "build",         "start", "port",
                                         "dockerfile", "image",   "runtime_image", NULL};

static int toml_check(const struct app_toml *t, struct zp_err *err)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct app_toml_entry *e = &t->entries[i];
        bool ok = false;
        if (zp_str_has_prefix(e->key, "build.")) {
            for (const char *const *k = build_keys; *k; k++)
                if (strcmp(e->key + 6, *k) == 0)
                    ok = true;
            bool want_int = strcmp(e->key, "build.port") == 0;
            if (ok && want_int && (e->val.type != APP_TOML_INT || e->val.i < 1 || e->val.i > 65535))
                return zp_err_set(err, ZP_E_INPUT, &e->val.pos,
                                  "%s: expected a port number (1-65535)", e->key);
            if (ok && !want_int && e->val.type != APP_TOML_STRING)
                return zp_err_set(err, ZP_E_INPUT, &e->val.pos, "%s: expected a string", e->key);
        } else if (zp_str_has_prefix(e->key, "images.")) {
            char *prov = zp_strdup(e->key + 7);
            char *dash = strstr(prov, "-runtime");
            if (dash && dash[8] == '\0')
                *dash = '\0';
            enum app_provider p;
            ok = app_provider_parse(prov, &p);
            free(prov);
            if (ok && e->val.type != APP_TOML_STRING)
                return zp_err_set(err, ZP_E_INPUT, &e->val.pos, "%s: expected a string", e->key);
        }
        if (!ok)
            return zp_err_set(err, ZP_E_INPUT, &e->val.pos,
                              "unknown key '%s' (known: [build] pack, install, build, "
                              "start, port, dockerfile, image, runtime_image; [images] "
                              "PROVIDER or PROVIDER-runtime)",
                              e->key);
    }
    return 0;
}

/* "KEY=IMAGE" options over zpanel.toml's [images] over the defaults */
static const char *image_for(const struct app_options *o, const struct app_toml *t, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; o && i < o->nimages; i++)
        if (strncmp(o->images[i], key, n) == 0 && o->images[i][n] == '=')
            return o->images[i] + n + 1;
    char *tk = zp_asprintf("images.%s", key);
    const char *v = app__toml_str(t, tk);
    free(tk);
    return v;
}

int app_detect(const char *dir, const struct app_options *opts, struct app_plan *ret,
               struct zp_err *err)
{
    struct app_plan plan;
    memset(&plan, 0, sizeof(plan));
    struct ctx c = {.r = {dir, err}, .plan = &plan, .err = err};
    struct app_toml zt = {0};
    struct app_procfile pf = {0};
    char *text = NULL;
    size_t len;
    int rc;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = errno == ENOENT || errno == 0
                 ? zp_err_set(err, ZP_E_NOTFOUND, NULL, "'%s': no such directory", dir)
                 : zp_err_sys(err, "'%s'", dir);
        goto out;
    }

    /* zpanel.toml and Procfile first: they may name the pack and override commands */
    if ((rc = slurp(&c.r, "zpanel.toml", &text, &len)))
        goto out;
    if (text) {
        rc = app__toml_parse("zpanel.toml", text, len, &zt, err);
        free(text);
        text = NULL;
        if (rc || (rc = toml_check(&zt, err)))
            goto out;
    }
    if ((rc = slurp(&c.r, "Procfile", &text, &len)))
        goto out;
    if (text) {
        rc = app__procfile_parse("Procfile", text, len, &pf, err);
        free(text);
        text = NULL;
        if (rc)
            goto out;
    }

    const char *pack =
        opts && opts->build_pack && strcmp(opts->build_pack, "auto") != 0 ? opts->build_pack : NULL;
    const char *pack_src = "--build-pack";
    if (!pack && app__toml_str(&zt, "build.dockerfile")) {
        pack = "dockerfile";
    } else if (!pack && app__toml_str(&zt, "build.pack")) {
        pack = app__toml_str(&zt, "build.pack");
        pack_src = "zpanel.toml: build.pack";
    }
    if (pack && strcmp(pack, "auto") != 0) {
        if (!app_provider_parse(pack, &plan.provider)) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL,
                            "%s: unknown build pack '%s' (auto, dockerfile, compose, node, "
                            "python, go, rust, php, ruby, java, dotnet, deno, elixir, "
                            "static, shell)",
                            pack_src, pack);
            goto out;
        }
    } else if (!detect(&c, &plan.provider)) {
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL,
                        "no build pack matches the repository (no Dockerfile, compose file, "
                        "package.json, requirements.txt, go.mod, ... or index.html); add a "
                        "Dockerfile or a zpanel.toml");
        goto out;
    }
    enum app_provider p = plan.provider;
    plan.port = default_ports[p];
    set(&plan.image, default_images[p][0]);
    set(&plan.runtime_image, default_images[p][1]);
    set(&plan.start_source, "detected");

    switch (p) {
    case APP_DOCKERFILE: {
        const char *df = app__toml_str(&zt, "build.dockerfile");
        set(&plan.dockerfile_path, df ? df : "Dockerfile");
        char *clean = zp_path_clean(plan.dockerfile_path);
        bool outside =
            clean[0] == '/' || strcmp(clean, "..") == 0 || zp_str_has_prefix(clean, "../");
        free(clean);
        if (outside) {
            rc = zp_err_set(err, ZP_E_INPUT, NULL,
                            "zpanel.toml: build.dockerfile: '%s' is outside the repository",
                            plan.dockerfile_path);
            goto out;
        }
        if (!has_file(&c.r, plan.dockerfile_path)) {
            rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "no Dockerfile '%s' in the repository",
                            plan.dockerfile_path);
            goto out;
        }
        int port = dockerfile_port(&c, plan.dockerfile_path);
        if (port)
            plan.port = port;
        break;
    }
    case APP_COMPOSE:
        for (size_t i = 0; i < sizeof(compose_files) / sizeof(compose_files[0]); i++)
            if (has_file(&c.r, compose_files[i])) {
                set(&plan.compose_path, compose_files[i]);
                break;
            }
        if (!plan.compose_path) {
            rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "no compose file in the repository");
            goto out;
        }
        break;
    case APP_NODE:
        rc = has_file(&c.r, "package.json")
                 ? plan_node(&c)
                 : zp_err_set(err, ZP_E_NOTFOUND, NULL, "node: no package.json");
        break;
    case APP_PYTHON:
        rc = plan_python(&c);
        break;
    case APP_GO:
        rc = plan_go(&c);
        break;
    case APP_RUST:
        rc = plan_rust(&c);
        break;
    case APP_PHP:
        rc = plan_php(&c);
        break;
    case APP_RUBY:
        rc = plan_ruby(&c);
        break;
    case APP_JAVA:
        rc = plan_java(&c);
        break;
    case APP_DOTNET:
        rc = plan_dotnet(&c);
        break;
    case APP_DENO:
        rc = plan_deno(&c);
        break;
    case APP_ELIXIR:
        rc = plan_elixir(&c);
        break;
    case APP_STATIC:
        rc = plan_static(&c);
        break;
    case APP_SHELL:
        rc = plan_shell(&c);
        break;
    case APP_NPROVIDERS:
        ZP_BUG("provider");
    }
    if (rc)
        goto out;

    /* overrides: Procfile's web, then zpanel.toml, then the options */
    bool generated = p != APP_DOCKERFILE && p != APP_COMPOSE;
    if (generated && !plan.spa && p != APP_STATIC && app__procfile_get(&pf, "web")) {
        set(&plan.start_cmd, app__procfile_get(&pf, "web"));
        set(&plan.start_source, "Procfile");
    }
    if (app__toml_str(&zt, "build.install"))
        set(&plan.install_cmd, app__toml_str(&zt, "build.install"));
    if (app__toml_str(&zt, "build.build"))
        set(&plan.build_cmd, app__toml_str(&zt, "build.build"));
    if (app__toml_str(&zt, "build.start")) {
        set(&plan.start_cmd, app__toml_str(&zt, "build.start"));
        set(&plan.start_source, "zpanel.toml");
    }
    const struct app_toml_val *tp = app__toml_get(&zt, "build.port");
    if (tp)
        plan.port = (int)tp->i;
    if (opts && opts->port > 0)
        plan.port = opts->port;
    const char *name = provider_names[p];
    char *rkey = zp_asprintf("%s-runtime", name);
    const char *img = image_for(opts, &zt, name);
    const char *rimg = image_for(opts, &zt, rkey);
    free(rkey);
    if (app__toml_str(&zt, "build.image"))
        set(&plan.image, app__toml_str(&zt, "build.image"));
    if (app__toml_str(&zt, "build.runtime_image"))
        set(&plan.runtime_image, app__toml_str(&zt, "build.runtime_image"));
    if (img)
        set(&plan.image, img);
    if (rimg)
        set(&plan.runtime_image, rimg);
    if (plan.spa) {
        const char *simg = image_for(opts, &zt, "static-runtime");
        if (simg)
            set(&plan.runtime_image, simg);
    }

    if (generated) {
        if (!plan.start_cmd) {
            rc = no_start(&c, p == APP_NODE     ? "no 'start' script, 'main' or index.js"
                              : p == APP_PYTHON ? "no main.py, app.py or framework entry"
                              : p == APP_RUBY   ? "no Rails, config.ru or app.rb"
                              : p == APP_DENO   ? "no 'start' task or main.ts"
                                                : "none detected");
            goto out;
        }
        c.hint.static_dir = c.hint_static_dir ? c.hint_static_dir : ".";
        c.hint.binary = c.hint_binary;
        c.hint.lockfiles = c.hint_lockfiles;
        const char *nimg = image_for(opts, &zt, "node");
        c.hint.assets_image = nimg ? nimg : default_images[APP_NODE][0];
        app__dockerfile_generate(&plan, &c.hint);
    } else {
        set(&plan.install_cmd, NULL);
        set(&plan.build_cmd, NULL);
        set(&plan.start_cmd, NULL);
        set(&plan.start_source, NULL);
    }
    *ret = plan;
    memset(&plan, 0, sizeof(plan));
out:
    app_plan_release(&plan);
    app__toml_release(&zt);
    app__procfile_release(&pf);
    free(c.hint_static_dir);
    free(c.hint_binary);
    free(c.hint_lockfiles);
    return rc;
}

void app_plan_release(struct app_plan *plan)
{
    if (!plan)
        return;
    free(plan->framework);
    free(plan->package_manager);
    free(plan->install_cmd);
    free(plan->build_cmd);
    free(plan->start_cmd);
    free(plan->start_source);
    free(plan->dockerfile_path);
    free(plan->compose_path);
    free(plan->dockerfile);
    free(plan->image);
    free(plan->runtime_image);
    memset(plan, 0, sizeof(*plan));
}

/* Unit tests for app/: build-pack detection on the fixture repositories of
 * tests/data/app (provider, commands, port, generated Dockerfile), the order between
 * conflicting packs, the Procfile's and zpanel.toml's overrides and bad input. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/app.h"

#define FIX ZP_TEST_DATA "/app/"

static struct app_plan plan_of(const char *fixture, const struct app_options *o)
{
    struct app_plan p;
    struct zp_err err;
    zp_err_init(&err);
    char *dir = zp_asprintf(FIX "%s", fixture);
    int rc = app_detect(dir, o, &p, &err);
    if (rc != 0)
        fail_msg("%s: %s", fixture, err.msg);
    free(dir);
    return p;
}

static int plan_err(const char *fixture, const struct app_options *o, struct zp_err *err)
{
    struct app_plan p;
    zp_err_init(err);
    char *dir = zp_asprintf(FIX "%s", fixture);
    int rc = app_detect(dir, o, &p, err);
    free(dir);
    assert_int_not_equal(rc, 0);
    return rc;
}

#define assert_has(hay, needle)                                                                    \
    do {                                                                                           \
        if (!(hay) || !strstr((hay), (needle)))                                                    \
            fail_msg("'%s' not in:\n%s", (needle), (hay) ? (hay) : "(null)");                      \
    } while (0)

/* every generated Dockerfile: non-root, $PORT, exec'd start */
static void check_common(const struct app_plan *p)
{
    assert_non_null(p->dockerfile);
    assert_has(p->dockerfile, "USER 10001:10001\n");
    char *env = zp_asprintf("ENV PORT=%d", p->port);
    assert_has(p->dockerfile, env);
    free(env);
    char *expose = zp_asprintf("EXPOSE %d\n", p->port);
    assert_has(p->dockerfile, expose);
    free(expose);
}

/* manifests are copied and installed before the sources (layer reuse) */
static void check_order(const char *df, const char *manifest_copy, const char *install)
{
    const char *a = strstr(df, manifest_copy), *b = strstr(df, install),
               *c = b ? strstr(b, "COPY . .") : NULL;
    if (!a || !b || !c || !(a < b && b < c))
        fail_msg("layer order wrong (want '%s' < '%s' < 'COPY . .'):\n%s", manifest_copy, install,
                 df);
}

static void test_dockerfile(void **state)
{
    (void)state;
    /* a Dockerfile wins over package.json; the port is its EXPOSE */
    struct app_plan p = plan_of("dockerfile", NULL);
    assert_string_equal(app_provider_name(p.provider), "dockerfile");
    assert_string_equal(p.dockerfile_path, "Dockerfile");
    assert_int_equal(p.port, 8081);
    assert_null(p.dockerfile);
    assert_null(p.start_cmd);
    app_plan_release(&p);
    struct app_options o = {.port = 9999};
    p = plan_of("dockerfile", &o);
    assert_int_equal(p.port, 9999);
    app_plan_release(&p);
}

static void test_compose(void **state)
{
    (void)state;
    struct app_plan p = plan_of("compose", NULL);
    assert_int_equal(p.provider, APP_COMPOSE);
    assert_string_equal(p.compose_path, "compose.yaml");
    assert_null(p.dockerfile);
    app_plan_release(&p);
}

static void test_node(void **state)
{
    (void)state;
    struct app_plan p = plan_of("node-npm", NULL);
    assert_int_equal(p.provider, APP_NODE);
    assert_string_equal(p.package_manager, "npm");
    assert_string_equal(p.framework, "express");
    assert_string_equal(p.install_cmd, "npm ci");
    assert_string_equal(p.build_cmd, "npm run build");
    assert_string_equal(p.start_cmd, "npm start");
    assert_string_equal(p.start_source, "detected");
    assert_int_equal(p.port, 3000);
    check_common(&p);
    check_order(p.dockerfile, "COPY package.json package-lock.json ./", "RUN npm ci");
    assert_has(p.dockerfile, "FROM node:22-slim AS build\n");
    assert_has(p.dockerfile, "RUN npm run build\n");
    assert_has(p.dockerfile, "COPY --from=build --chown=10001:10001 /app /app\n");
    assert_has(p.dockerfile, "CMD [\"/bin/sh\", \"-c\", \"exec npm start\"]\n");
    assert_false(p.spa);
    app_plan_release(&p);

    p = plan_of("node-yarn", NULL);
    assert_string_equal(p.package_manager, "yarn");
    assert_string_equal(p.install_cmd, "corepack enable && yarn install --frozen-lockfile");
    assert_string_equal(p.start_cmd, "node app.js");
    assert_null(p.build_cmd);
    check_order(p.dockerfile, "COPY package.json yarn.lock ./", "RUN corepack enable");
    /* a compound command is not exec'd (exec would drop what follows) */
    app_plan_release(&p);

    p = plan_of("node-pnpm", NULL);
    assert_string_equal(p.package_manager, "pnpm");
    assert_string_equal(p.start_cmd, "pnpm start");
    app_plan_release(&p);

    p = plan_of("node-bun", NULL);
    assert_string_equal(p.package_manager, "bun");
    assert_string_equal(p.install_cmd, "bun install");
    assert_string_equal(p.start_cmd, "bun index.js");
    assert_string_equal(p.image, "oven/bun:1");
    check_common(&p);
    app_plan_release(&p);
}

static void test_node_spa(void **state)
{
    (void)state;
    struct app_plan p = plan_of("node-vite", NULL);
    assert_int_equal(p.provider, APP_NODE);
    assert_true(p.spa);
    assert_string_equal(p.framework, "vite");
    assert_string_equal(p.build_cmd, "npm run build");
    assert_string_equal(p.runtime_image, "caddy:2");
    assert_int_equal(p.port, 8080);
    check_common(&p);
    assert_has(p.dockerfile, "COPY --from=build /app/dist /srv\n");
    assert_has(p.dockerfile, "'try_files {path} /index.html'");
    assert_has(p.dockerfile, "':{$PORT}'");
    app_plan_release(&p);

    p = plan_of("node-cra", NULL);
    assert_true(p.spa);
    assert_string_equal(p.framework, "create-react-app");
    assert_has(p.dockerfile, "COPY --from=build /app/build /srv\n");
    assert_string_equal(p.install_cmd, "npm install");
    app_plan_release(&p);

    /* the static runtime image is configurable too */
    const char *imgs[] = {"static-runtime=local/caddy:test"};
    struct app_options o = {.images = imgs, .nimages = 1};
    p = plan_of("node-vite", &o);
    assert_string_equal(p.runtime_image, "local/caddy:test");
    assert_has(p.dockerfile, "FROM local/caddy:test\n");
    app_plan_release(&p);
}

static void test_python(void **state)
{
    (void)state;
    struct app_plan p = plan_of("python-django", NULL);
    assert_int_equal(p.provider, APP_PYTHON);
    assert_string_equal(p.framework, "django");
    assert_string_equal(p.package_manager, "pip");
    assert_string_equal(p.start_cmd, "gunicorn mysite.wsgi --bind 0.0.0.0:$PORT");
    /* gunicorn is not in requirements.txt: the install adds it */
    assert_string_equal(p.install_cmd, "pip install --no-cache-dir -r requirements.txt && pip "
                                       "install --no-cache-dir gunicorn");
    assert_int_equal(p.port, 8000);
    check_common(&p);
    check_order(p.dockerfile, "COPY requirements.txt ./", "RUN pip install");
    assert_has(p.dockerfile, "RUN python3 -m venv /opt/venv\n");
    assert_has(p.dockerfile, "COPY --from=build /opt/venv /opt/venv\n");
    /* $PORT is left to the shell: not exec'd away */
    assert_has(p.dockerfile, "exec gunicorn mysite.wsgi --bind 0.0.0.0:$PORT");
    app_plan_release(&p);

    p = plan_of("python-fastapi", NULL);
    assert_string_equal(p.framework, "fastapi");
    assert_string_equal(p.start_cmd, "uvicorn main:app --host 0.0.0.0 --port $PORT");
    /* uvicorn[standard] is listed: not added again; pyproject needs the sources first */
    assert_string_equal(p.install_cmd, "pip install --no-cache-dir .");
    const char *venv = strstr(p.dockerfile, "RUN python3 -m venv"),
               *copy = strstr(p.dockerfile, "COPY . ."),
               *inst = strstr(p.dockerfile, "RUN pip install");
    assert_true(venv && copy && inst && venv < copy && copy < inst);
    app_plan_release(&p);

    p = plan_of("python-flask", NULL);
    assert_string_equal(p.framework, "flask");
    assert_string_equal(p.start_cmd, "gunicorn app:app --bind 0.0.0.0:$PORT");
    app_plan_release(&p);

    p = plan_of("python-poetry", NULL);
    assert_string_equal(p.package_manager, "poetry");
    assert_string_equal(p.framework, "flask");
    assert_string_equal(p.start_cmd, "gunicorn wsgi:app --bind 0.0.0.0:$PORT");
    check_order(p.dockerfile, "COPY pyproject.toml poetry.lock ./", "RUN pip install");
    app_plan_release(&p);

    p = plan_of("python-plain", NULL);
    assert_null(p.framework);
    assert_string_equal(p.start_cmd, "python main.py");
    assert_null(p.install_cmd);
    /* nothing to install: a venv without pip (the base image needs no python3-venv) */
    assert_has(p.dockerfile, "RUN python3 -m venv --without-pip /opt/venv\n");
    app_plan_release(&p);
}

static void test_compiled(void **state)
{
    (void)state;
    struct app_plan p = plan_of("go", NULL);
    assert_int_equal(p.provider, APP_GO);
    assert_string_equal(p.install_cmd, "go mod download");
    assert_string_equal(p.start_cmd, "/app/server");
    assert_string_equal(p.runtime_image, "debian:bookworm-slim");
    assert_int_equal(p.port, 8080);
    check_common(&p);
    check_order(p.dockerfile, "COPY go.mod go.sum ./", "RUN go mod download");
    assert_has(p.dockerfile, "COPY --from=build /out/server /app/server\n");
    app_plan_release(&p);

    p = plan_of("rust", NULL);
    assert_int_equal(p.provider, APP_RUST);
    assert_string_equal(p.start_cmd, "/app/hello-srv");
    check_common(&p);
    check_order(p.dockerfile, "COPY Cargo.toml Cargo.lock ./", "RUN cargo fetch");
    assert_has(p.dockerfile, "/app/target/release/hello-srv /app/hello-srv\n");
    app_plan_release(&p);

    p = plan_of("java-maven", NULL);
    assert_int_equal(p.provider, APP_JAVA);
    assert_string_equal(p.framework, "spring-boot");
    assert_string_equal(p.package_manager, "maven");
    assert_has(p.dockerfile, "COPY --from=build /app/target/*.jar /app/app.jar\n");
    check_common(&p);
    app_plan_release(&p);

    p = plan_of("java-gradle", NULL);
    assert_string_equal(p.package_manager, "gradle");
    assert_string_equal(p.build_cmd, "./gradlew build -x test --no-daemon");
    assert_has(p.dockerfile, "/app/build/libs/*.jar");
    app_plan_release(&p);

    p = plan_of("dotnet", NULL);
    assert_int_equal(p.provider, APP_DOTNET);
    assert_string_equal(p.start_cmd,
                        "ASPNETCORE_URLS=http://0.0.0.0:$PORT exec dotnet /app/Shop.Api.dll");
    check_order(p.dockerfile, "COPY Shop.Api.csproj ./", "RUN dotnet restore");
    check_common(&p);
    app_plan_release(&p);

    p = plan_of("elixir", NULL);
    assert_int_equal(p.provider, APP_ELIXIR);
    assert_string_equal(p.framework, "phoenix");
    assert_string_equal(p.start_cmd, "/app/bin/hello_web start");
    assert_int_equal(p.port, 4000);
    assert_has(p.dockerfile, "/app/_build/prod/rel/hello_web /app\n");
    app_plan_release(&p);
}

static void test_scripting(void **state)
{
    (void)state;
    struct app_plan p = plan_of("php-laravel", NULL);
    assert_int_equal(p.provider, APP_PHP);
    assert_string_equal(p.framework, "laravel");
    assert_string_equal(p.start_cmd, "php artisan serve --host=0.0.0.0 --port=$PORT");
    check_order(p.dockerfile, "COPY composer.json composer.lock ./", "RUN composer install");
    assert_has(p.dockerfile, "AS assets\n");
    check_common(&p);
    app_plan_release(&p);

    p = plan_of("php-plain", NULL);
    assert_int_equal(p.provider, APP_PHP);
    assert_string_equal(p.start_cmd, "php -S 0.0.0.0:$PORT -t .");
    assert_null(p.install_cmd);
    app_plan_release(&p);

    p = plan_of("ruby-rails", NULL);
    assert_int_equal(p.provider, APP_RUBY);
    assert_string_equal(p.framework, "rails");
    assert_string_equal(p.start_cmd, "bundle exec rails server -b 0.0.0.0 -p $PORT");
    check_order(p.dockerfile, "COPY Gemfile Gemfile.lock ./", "RUN bundle install");
    app_plan_release(&p);

    p = plan_of("ruby-rack", NULL);
    assert_string_equal(p.framework, "rack");
    app_plan_release(&p);

    p = plan_of("deno", NULL);
    assert_int_equal(p.provider, APP_DENO);
    assert_string_equal(p.start_cmd, "deno task start");
    assert_string_equal(p.install_cmd, "deno cache main.ts");
    check_common(&p);
    app_plan_release(&p);
}

static void test_static_shell(void **state)
{
    (void)state;
    struct app_plan p = plan_of("static", NULL);
    assert_int_equal(p.provider, APP_STATIC);
    assert_has(p.dockerfile, "COPY public /srv\n");
    assert_has(p.dockerfile, "FROM caddy:2\n");
    check_common(&p);
    app_plan_release(&p);
    p = plan_of("static-root", NULL);
    assert_has(p.dockerfile, "COPY . /srv\n");
    app_plan_release(&p);

    p = plan_of("shell", NULL);
    assert_int_equal(p.provider, APP_SHELL);
    assert_string_equal(p.start_cmd, "sh start.sh");
    check_common(&p);
    app_plan_release(&p);
}

static void test_conflicts(void **state)
{
    (void)state;
    /* PHP and Node: composer.json wins, package.json only builds assets */
    struct app_plan p = plan_of("php-node-conflict", NULL);
    assert_int_equal(p.provider, APP_PHP);
    assert_string_equal(p.start_cmd, "php -S 0.0.0.0:$PORT -t public");
    app_plan_release(&p);
    /* compose over Python */
    p = plan_of("compose", NULL);
    assert_int_equal(p.provider, APP_COMPOSE);
    app_plan_release(&p);
    /* the user's choice over detection */
    struct app_options o = {.build_pack = "node"};
    p = plan_of("php-node-conflict", &o);
    assert_int_equal(p.provider, APP_NODE);
    assert_string_equal(p.start_cmd, "npm start");
    app_plan_release(&p);
}

static void test_overrides(void **state)
{
    (void)state;
    /* Procfile's web sets the start command */
    struct app_plan p = plan_of("procfile", NULL);
    assert_string_equal(p.start_cmd, "gunicorn app:app --workers 2 --bind 0.0.0.0:$PORT");
    assert_string_equal(p.start_source, "Procfile");
    app_plan_release(&p);

    /* zpanel.toml over the Procfile and detection; options over zpanel.toml */
    p = plan_of("toml-override", NULL);
    assert_string_equal(p.start_cmd, "node custom.js");
    assert_string_equal(p.start_source, "zpanel.toml");
    assert_string_equal(p.build_cmd, "npm run compile");
    assert_int_equal(p.port, 9000);
    assert_string_equal(p.image, "local/node:22");
    assert_string_equal(p.runtime_image, "local/node-runtime:22");
    assert_has(p.dockerfile, "FROM local/node:22 AS build\n");
    assert_has(p.dockerfile, "FROM local/node-runtime:22\n");
    assert_has(p.dockerfile, "EXPOSE 9000\n");
    app_plan_release(&p);
    const char *imgs[] = {"node=mine/node:1"};
    struct app_options o = {.port = 5000, .images = imgs, .nimages = 1};
    p = plan_of("toml-override", &o);
    assert_int_equal(p.port, 5000);
    assert_string_equal(p.image, "mine/node:1");
    assert_string_equal(p.runtime_image, "local/node-runtime:22");
    app_plan_release(&p);

    /* build.pack in zpanel.toml: static although go.mod is there */
    p = plan_of("toml-pack", NULL);
    assert_int_equal(p.provider, APP_STATIC);
    app_plan_release(&p);

    /* build.dockerfile names another Dockerfile */
    p = plan_of("toml-dockerfile", NULL);
    assert_int_equal(p.provider, APP_DOCKERFILE);
    assert_string_equal(p.dockerfile_path, "deploy/app.Dockerfile");
    assert_int_equal(p.port, 7000);
    app_plan_release(&p);
}

static void test_errors(void **state)
{
    (void)state;
    struct zp_err err;
    assert_int_equal(plan_err("empty", NULL, &err), ZP_E_NOTFOUND);
    assert_has(err.msg, "no build pack matches");

    assert_int_equal(plan_err("node-bad", NULL, &err), ZP_E_INPUT);
    char *r = zp_err_render(&err);
    assert_has(r, "package.json:3:");
    assert_has(r, "invalid JSON");
    free(r);

    assert_int_equal(plan_err("node-nostart", NULL, &err), ZP_E_INPUT);
    assert_has(err.msg, "no start command");

    assert_int_equal(plan_err("toml-bad", NULL, &err), ZP_E_INPUT);
    r = zp_err_render(&err);
    assert_has(r, "zpanel.toml:2:8: build.port: expected a port number");
    free(r);

    assert_int_equal(plan_err("toml-unknown", NULL, &err), ZP_E_INPUT);
    r = zp_err_render(&err);
    assert_has(r, "zpanel.toml:2:9: unknown key 'build.strat'");
    free(r);

    struct app_options o = {.build_pack = "cobol"};
    assert_int_equal(plan_err("go", &o, &err), ZP_E_INPUT);
    assert_has(err.msg, "unknown build pack 'cobol'");

    assert_int_equal(plan_err("does-not-exist", NULL, &err), ZP_E_NOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dockerfile), cmocka_unit_test(test_compose),
        cmocka_unit_test(test_node),       cmocka_unit_test(test_node_spa),
        cmocka_unit_test(test_python),     cmocka_unit_test(test_compiled),
        cmocka_unit_test(test_scripting),  cmocka_unit_test(test_static_shell),
        cmocka_unit_test(test_conflicts),  cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

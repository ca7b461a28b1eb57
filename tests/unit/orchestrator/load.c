/* What the orchestrator suites share (load.h). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "compose/compose.h"
#include "load.h"
#include "util/util.h"

static char *const test_env[] = {(char *)"PATH=/usr/bin:/bin", NULL};

struct compose_project *orcht_load_yaml(const char *name, const char *yaml)
{
    char dir[] = "/tmp/zp-orch-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = zp_path_join(dir, "compose.yaml");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(yaml, f);
    fclose(f);
    const char *files[] = {path};
    struct compose_options o = {
        .files = files, .nfiles = 1, .project_name = name, .environ = test_env, .cwd = dir};
    struct compose_project *p = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = compose_project_load(&o, &p, &d);
    for (size_t i = 0; rc && i < d.n; i++) {
        char *s = zp_diag_render(&d.items[i]);
        print_error("diag: %s\n", s);
        free(s);
    }
    zp_diags_release(&d);
    unlink(path);
    rmdir(dir);
    free(path);
    assert_int_equal(rc, 0);
    return p;
}

/* What the normaliser suites share: their context, and YAML text parsed and dumped. */
#ifndef ZP_TEST_COMPOSE_NORMALIZE_FIXTURE_H
#define ZP_TEST_COMPOSE_NORMALIZE_FIXTURE_H

#include "compose/compose-int.h"

/* env with HOME=home only, and ctx for compose.yaml in basedir with env (absolute paths);
 * the caller releases env. */
void normfx_setup(struct compose_env *env, struct compose_ctx *ctx, const char *home,
                  const char *basedir);
/* yaml parsed as compose.yaml (fails the test on an error, printing it). */
struct zp_node *normfx_parse(const char *yaml);
/* Compact text of a tree with map keys sorted: strings quoted, floats canonical ("2.0" and
 * "2" are the same float) and tagged, flags shown as tags. Newly allocated. */
char *normfx_dump(const struct zp_node *n);

#endif

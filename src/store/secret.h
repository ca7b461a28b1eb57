/* store/secret: values encrypted at rest under the state directory's key (libsodium's
 * secretbox). The server seals project environments, notification secrets and template
 * values with it; the CLI seals what it stores the same way. */
#ifndef ZP_STORE_SECRET_H
#define ZP_STORE_SECRET_H

#include <jansson.h>
#include <stdbool.h>

#include "../util/util.h"

#define STORE_SECRET_KEY_BYTES 32
#define STORE_SECRET_PREFIX "zpenc:v1:"
#define STORE_SECRET_MASK "********"

/* The key of <state>/secret.key, created (0600, random) on first use. Errors: ZP_E_INPUT
 * (a key file readable by others, or of the wrong size), ZP_E_SYSTEM. */
int store_secret_key(const char *state_dir, unsigned char key[STORE_SECRET_KEY_BYTES],
                     struct zp_err *err);
/* Is v a sealed value? */
bool store_secret_sealed(const char *v);
/* env_json with every value sealed (those sealed already kept): *ret a new string. */
int store_env_seal(const char *state_dir, const char *env_json, char **ret, struct zp_err *err);
/* env_json with every sealed value opened: *ret a new string. Errors: ZP_E_INPUT (a value
 * that does not open with this key). */
int store_env_open(const char *state_dir, const char *env_json, char **ret, struct zp_err *err);
/* The environment as the API shows it: every value masked. */
json_t *store_env_masked(const char *env_json);
/* One value sealed under state_dir's key: *ret a new string. */
int store_secret_seal(const char *state_dir, const char *v, char **ret, struct zp_err *err);
/* One sealed value opened (what names it in errors): *ret a new string. Errors: ZP_E_INPUT. */
int store_secret_open(const char *state_dir, const char *what, const char *v, char **ret,
                      struct zp_err *err);

#endif

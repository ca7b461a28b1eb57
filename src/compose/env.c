/* compose/env: ordered KEY=VALUE environments (process env, env files). */
#include "compose.h"

#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

void compose_env_init(struct compose_env *env)
{
    memset(env, 0, sizeof(*env));
}

void compose_env_release(struct compose_env *env)
{
    if (!env)
        return;
    for (size_t i = 0; i < env->n; i++) {
        free(env->keys[i]);
        free(env->vals[i]);
    }
    free(env->keys);
    free(env->vals);
    compose_env_init(env);
}

static long env_index(const struct compose_env *env, const char *key)
{
    for (size_t i = 0; i < env->n; i++)
        if (strcmp(env->keys[i], key) == 0)
            return (long)i;
    return -1;
}

const char *compose_env_get(const struct compose_env *env, const char *key)
{
    if (!env)
        return NULL;
    long i = env_index(env, key);
    return i < 0 ? NULL : env->vals[i];
}

void compose_env_set(struct compose_env *env, const char *key, const char *val)
{
    long i = env_index(env, key);
    if (i >= 0) {
        char *v = zp_strdup(val);
        free(env->vals[i]);
        env->vals[i] = v;
        return;
    }
    size_t cap = env->cap;
    zp_grow((void **)&env->keys, &cap, env->n + 1, sizeof(*env->keys));
    zp_grow((void **)&env->vals, &env->cap, env->n + 1, sizeof(*env->vals));
    env->keys[env->n] = zp_strdup(key);
    env->vals[env->n] = zp_strdup(val);
    env->n++;
}

void compose_env_set_default(struct compose_env *env, const char *key, const char *val)
{
    if (env_index(env, key) < 0)
        compose_env_set(env, key, val);
}

void compose_env_from_environ(struct compose_env *env, char *const *envp)
{
    for (size_t i = 0; envp && envp[i]; i++) {
        const char *eq = strchr(envp[i], '=');
        if (!eq || eq == envp[i])
            continue;
        char *key = zp_strndup(envp[i], (size_t)(eq - envp[i]));
        compose_env_set(env, key, eq + 1);
        free(key);
    }
}

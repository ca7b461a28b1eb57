/* server/limit: the login rate limit: failures counted per key ("u:NAME", "a:ADDRESS") in a
 * bounded table; past a free number of failures a key is locked for a delay that doubles
 * with each further failure (capped), and a success clears it. Time is passed in, so the
 * unit test drives it. */
#include <stdlib.h>
#include <string.h>

#include "server-int.h"

#include "../util/banned.h"

#define LIMIT_KEYS 4096
#define LIMIT_FORGET_MS (15 * 60 * 1000) /* an unlocked key idle that long starts over */

struct limit_entry {
    char *key;
    unsigned failures;
    int64_t until_ms; /* locked until */
    int64_t last_ms;
};

struct srv_limit {
    pthread_mutex_t lock;
    struct limit_entry *e;
    size_t n;
};

struct srv_limit *srv_limit_new(void)
{
    struct srv_limit *l = zp_calloc(1, sizeof(*l));
    pthread_mutex_init(&l->lock, NULL);
    l->e = zp_calloc(LIMIT_KEYS, sizeof(*l->e));
    return l;
}

void srv_limit_free(struct srv_limit *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].key);
    free(l->e);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* Under lock: the entry of key, or NULL. */
static struct limit_entry *find(struct srv_limit *l, const char *key, int64_t now)
{
    for (size_t i = 0; i < l->n; i++) {
        struct limit_entry *e = &l->e[i];
        if (strcmp(e->key, key) != 0)
            continue;
        if (e->until_ms <= now && now - e->last_ms > LIMIT_FORGET_MS) {
            e->failures = 0;
            e->until_ms = 0;
        }
        return e;
    }
    return NULL;
}

int64_t srv_limit_check(struct srv_limit *l, const char *key, int64_t now_ms)
{
    pthread_mutex_lock(&l->lock);
    struct limit_entry *e = find(l, key, now_ms);
    int64_t wait = e && e->until_ms > now_ms ? e->until_ms - now_ms : 0;
    pthread_mutex_unlock(&l->lock);
    return wait;
}

void srv_limit_fail(struct srv_limit *l, const char *key, unsigned free_failures, int64_t now_ms)
{
    pthread_mutex_lock(&l->lock);
    struct limit_entry *e = find(l, key, now_ms);
    if (!e) {
        if (l->n == LIMIT_KEYS) {
            /* full: the key idle the longest goes (a flood of addresses cannot grow memory) */
            size_t old = 0;
            for (size_t i = 1; i < l->n; i++)
                if (l->e[i].last_ms < l->e[old].last_ms)
                    old = i;
            free(l->e[old].key);
            l->e[old] = l->e[--l->n];
        }
        e = &l->e[l->n++];
        memset(e, 0, sizeof(*e));
        e->key = zp_strdup(key);
    }
    e->failures++;
    e->last_ms = now_ms;
    if (e->failures >= free_failures) {
        unsigned k = e->failures - free_failures;
        int64_t d = k >= 10 ? SRV_LIMIT_MAX_MS : ((int64_t)SRV_LIMIT_BASE_MS << k);
        e->until_ms = now_ms + (d < SRV_LIMIT_MAX_MS ? d : SRV_LIMIT_MAX_MS);
    }
    pthread_mutex_unlock(&l->lock);
}

void srv_limit_clear(struct srv_limit *l, const char *key)
{
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->e[i].key, key) == 0) {
            free(l->e[i].key);
            l->e[i] = l->e[--l->n];
            break;
        }
    }
    pthread_mutex_unlock(&l->lock);
}

/* Unit tests for orchestrator/watch: the container-state table grows past any fixed size,
 * events are ordered by the engine's own clock (a remote engine whose clock is far behind
 * ours loses no event), and a cancellation keeps its code through added context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "orchestrator/orchestrator-int.h"

struct fixture {
    struct orch o;
    struct orch_watch w;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    pthread_mutex_init(&f->o.lock, NULL);
    zp_cond_init_mono(&f->o.cond);
    orch__watch_init(&f->w, &f->o);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    orch__watch_release(&f->w);
    pthread_cond_destroy(&f->o.cond);
    pthread_mutex_destroy(&f->o.lock);
    free(f);
    return 0;
}

/* Feed one container event (engine time t, Unix ns). */
static void event(struct orch_watch *w, const char *id, const char *action, int64_t t,
                  const char *exit_code)
{
    struct engine_label attrs[2] = {{(char *)"exitCode", (char *)exit_code},
                                    {(char *)"name", (char *)"p-web-1"}};
    struct engine_event ev = {0};
    ev.type = (char *)"container";
    ev.action = (char *)action;
    ev.actor_id = (char *)id;
    ev.time_nano = t;
    ev.attributes.items = exit_code ? attrs : attrs + 1;
    ev.attributes.n = exit_code ? 2 : 1;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(orch__watch_event(w, &ev, &err), 0);
}

static void test_table_grows(void **state)
{
    struct fixture *f = *state;
    char id[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "c%05d", i);
        event(&f->w, id, "start", 1000 + i, NULL);
    }
    assert_int_equal(f->w.ncs, 10000);
    pthread_mutex_lock(&f->o.lock);
    for (int i = 0; i < 10000; i += 999) {
        snprintf(id, sizeof(id), "c%05d", i);
        struct orch_cstate *c = orch__watch_find(&f->w, id, false);
        assert_non_null(c);
        assert_true(c->known && c->running);
    }
    assert_null(orch__watch_find(&f->w, "never-seen", false));
    pthread_mutex_unlock(&f->o.lock);
}

/* An engine whose clock reads 1990: its events still apply, in the engine's order. */
static void test_engine_time_order(void **state)
{
    struct fixture *f = *state;
    int64_t t1990 = 631152000LL * 1000000000LL;
    event(&f->w, "abc", "start", t1990, NULL);
    event(&f->w, "abc", "health_status: healthy", t1990 + 5, NULL);
    pthread_mutex_lock(&f->o.lock);
    struct orch_cstate *c = orch__watch_find(&f->w, "abc", false);
    assert_non_null(c);
    assert_true(c->known && c->running && !c->exited);
    assert_string_equal(c->health, "healthy");
    assert_string_equal(c->name, "p-web-1");
    pthread_mutex_unlock(&f->o.lock);
    /* an older event replayed late changes nothing */
    event(&f->w, "abc", "die", t1990 + 1, "3");
    pthread_mutex_lock(&f->o.lock);
    assert_true(c->running && !c->exited);
    pthread_mutex_unlock(&f->o.lock);
    /* a newer one does */
    event(&f->w, "abc", "die", t1990 + 10, "3");
    pthread_mutex_lock(&f->o.lock);
    assert_true(!c->running && c->exited);
    assert_int_equal(c->exit_code, 3);
    pthread_mutex_unlock(&f->o.lock);
}

static void test_cancelled_code(void **state)
{
    (void)state;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(orch__interrupted(&err), ZP_E_CANCELLED);
    zp_err_prefix(&err, "service '%s'", "web");
    zp_err_prefix(&err, "up");
    assert_int_equal(err.code, ZP_E_CANCELLED); /* context never hides a cancellation */
    assert_string_equal(err.msg, "up: service 'web': interrupted");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_time_order, setup, teardown),
        cmocka_unit_test(test_cancelled_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* store-int: helpers of the store module shared with its unit tests. */
#ifndef ZP_STORE_INT_H
#define ZP_STORE_INT_H

#include <stdbool.h>

/* store_state_dir's resolution with the root decision given (store_state_dir passes
 * geteuid() == 0), so that both branches can be tested. Newly allocated, never NULL. */
char *store__state_dir(bool root);

#endif

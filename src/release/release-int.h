/* release-int: helpers shared by the files of the release module. */
#ifndef ZP_RELEASE_INT_H
#define ZP_RELEASE_INT_H

#include "release.h"

/* Check that every keep tag of r still names its image, then move each service's image
 * reference back onto it (a rebuilt "<project>-web" points at the recorded image again),
 * reporting each move to sink (may be NULL) as an image event. Errors: ZP_E_NOTFOUND
 * naming the service and tag when an image is gone (nothing was moved), ZP_E_CONFLICT (a
 * reference pinned by digest), ZP_E_ENGINE. */
int release__restore_images(struct engine *e, const struct store_release *r,
                            const struct release_sink *sink, struct zp_err *err);

#endif

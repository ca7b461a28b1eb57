/* compose/parse: one YAML document as a tree, for modules that read YAML other than a
 * whole project (templates): no interpolation, no merge, no normalisation. */
#include "compose-int.h"
#include "compose.h"

#include "../util/banned.h"

int compose_yaml_parse(const char *file, const char *data, size_t len, struct zp_node **ret_doc,
                       struct zp_diags *d)
{
    return compose__yaml_parse(file, data, len, NULL, ret_doc, d);
}

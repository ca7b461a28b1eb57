/* cli: entry point (placeholder until the command table lands). */
#include <stdio.h>

#include "../util/util.h"

int main(void)
{
    printf("zpanel %s\n", ZP_VERSION);
    return 0;
}

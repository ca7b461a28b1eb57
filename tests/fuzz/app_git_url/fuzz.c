/* Fuzz target: a git URL's SSH port (app__git_ssh_port) and the URL check. Any input; none
 * may crash or read past its end. The port is -1 or 1..65535, and 22 for what is not an
 * ssh:// URL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/app-int.h"
#include "app/app.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1); /* exactly the input, NUL-terminated */
    if (url == NULL)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    int port = app__git_ssh_port(url);
    check(port == -1 || (port >= 1 && port <= 65535));
    if (strncmp(url, "ssh://", 6) != 0)
        check(port == 22);
    (void)app_git_url_valid(url);
    free(url);
    return 0;
}

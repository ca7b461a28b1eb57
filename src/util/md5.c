/* util/md5: MD5 for the S3 protocol (Content-MD5 headers and ETags), never for security. */
#include "util.h"

#include <openssl/evp.h>
#include <stdlib.h>

#include "banned.h"

void zp_md5(const void *data, size_t len, unsigned char out[16])
{
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, EVP_md5(), NULL) != 1 || n != 16)
        abort();
}

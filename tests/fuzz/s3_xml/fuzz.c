/* Fuzz target for the S3 XML readers: arbitrary bytes are read as an error document, a
 * ListObjectsV2 page and the multipart answers. Whatever the input, each reader returns
 * cleanly, with a message on failure, and what a listing accepts obeys its rules. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3-int.h"
#include "util/util.h"

#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failed(int rc, const struct zp_err *err)
{
    if (rc != 0 && rc != ZP_E_NOTFOUND && (err->code == 0 || err->msg[0] == '\0'))
        ZP_BUG("an XML reader failed without a message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *doc = (const char *)data;
    struct zp_err err;
    zp_err_init(&err);
    char *a = NULL, *b = NULL;
    int rc = s3__xml_error(doc, size, &a, &b, &err);
    check_failed(rc, &err);
    if (rc == 0) {
        free(a);
        free(b);
    }
    zp_err_init(&err);
    struct s3_object *objs = NULL;
    size_t n = 0, cap = 0;
    bool truncated = false;
    char *token = NULL;
    rc = s3__xml_list(doc, size, &objs, &n, &cap, &truncated, &token, &err);
    check_failed(rc, &err);
    if (rc == 0) {
        if (truncated && (token == NULL || token[0] == '\0'))
            ZP_BUG("a truncated listing accepted without a token");
        for (size_t i = 0; i < n; i++)
            if (objs[i].key == NULL || objs[i].key[0] == '\0' || objs[i].etag == NULL ||
                objs[i].last_modified == NULL)
                ZP_BUG("a listed object without a key");
        free(token);
    }
    s3_objects_free(objs, n);
    zp_err_init(&err);
    rc = s3__xml_initiate(doc, size, &a, &err);
    check_failed(rc, &err);
    if (rc == 0)
        free(a);
    zp_err_init(&err);
    rc = s3__xml_complete(doc, size, &a, &err);
    check_failed(rc, &err);
    if (rc == 0)
        free(a);
    return 0;
}

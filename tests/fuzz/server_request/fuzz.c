/* Fuzz target: what serve reads from a client before any handler runs: the router (a
 * method and a path), JSON request bodies (caps, depth, duplicates) and the SSE framing of
 * a log line. Input: METHOD ' ' PATH '\n' BODY. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/server-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t line = nl ? (size_t)(nl - s) : size;
    const char *sp = memchr(s, ' ', line);
    char method[16] = "GET";
    const char *path = s;
    size_t path_len = line;
    if (sp && (size_t)(sp - s) < sizeof(method)) {
        memcpy(method, s, (size_t)(sp - s));
        method[sp - s] = '\0';
        path = sp + 1;
        path_len = line - (size_t)(sp - s) - 1;
    }
    const struct srv_route *r = NULL;
    struct zp_str params[SRV_MAX_PARAMS];
    size_t n = 0;
    const char *allow = NULL;
    int m = srv_route_match(method, path, path_len, &r, params, &n, &allow);
    if (m == SRV_MATCH_OK) {
        if (!r || n > SRV_MAX_PARAMS)
            abort();
        for (size_t i = 0; i < n; i++)
            if (params[i].p < path || params[i].p + params[i].len > path + path_len ||
                params[i].len == 0 || memchr(params[i].p, '/', params[i].len))
                abort();
    } else if (m == SRV_MATCH_NO_METHOD && !allow) {
        abort();
    }
    const char *body = nl ? nl + 1 : s + size;
    size_t body_len = nl ? size - line - 1 : 0;
    json_t *v = NULL;
    struct zp_err err;
    zp_err_init(&err);
    if (srv_json_parse_object(body, body_len, &v, &err) == 0) {
        if (!json_is_object(v))
            abort();
        json_decref(v);
    } else if (err.code == 0) {
        abort();
    }
    struct zp_buf out = ZP_BUF_INIT;
    srv_sse_frame(&out, 1, body, body_len);
    /* one frame: nothing in the data may end the field early */
    const char *text = zp_buf_cstr(&out);
    const char *data_field = strstr(text, "data: ");
    if (!data_field || strchr(data_field, '\n') != text + out.len - 2)
        abort();
    zp_buf_release(&out);
    return 0;
}

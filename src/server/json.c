/* server/json: reading request bodies as JSON (caps on size and depth, positions in
 * errors) and framing job log lines as server-sent events. Pure: no I/O. */
#include <string.h>

#include "server-int.h"

#include "../util/banned.h"

size_t srv_json_depth(const char *text, size_t len, size_t max)
{
    size_t depth = 0, deepest = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > deepest) {
                deepest = depth;
                if (deepest > max)
                    return deepest;
            }
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return deepest;
}

int srv_json_parse_object(const char *body, size_t len, json_t **ret, struct zp_err *err)
{
    if (len > SRV_BODY_MAX)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "request body is larger than %d bytes",
                          SRV_BODY_MAX);
    if (srv_json_depth(body, len, SRV_JSON_DEPTH_MAX) > SRV_JSON_DEPTH_MAX)
        return zp_err_set(err, ZP_E_TOOBIG, NULL, "request body nests deeper than %d levels",
                          SRV_JSON_DEPTH_MAX);
    json_error_t je;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        struct zp_pos pos = {zp_intern("body"), je.line > 0 ? je.line : 1,
                             je.column > 0 ? je.column : 1};
        return zp_err_set(err, ZP_E_INPUT, &pos, "invalid JSON: %s", je.text);
    }
    if (!json_is_object(v)) {
        json_decref(v);
        struct zp_pos pos = {zp_intern("body"), 1, 1};
        return zp_err_set(err, ZP_E_INPUT, &pos, "the body must be a JSON object");
    }
    *ret = v;
    return 0;
}

void srv_sse_frame(struct zp_buf *out, int64_t id, const char *line, size_t len)
{
    zp_buf_addf(out, "id: %lld\ndata: ", (long long)id);
    for (size_t i = 0; i < len; i++) {
        /* a CR or LF would end the field: the line is one data field */
        if (line[i] == '\r' || line[i] == '\n' || line[i] == '\0')
            continue;
        zp_buf_addc(out, line[i]);
    }
    zp_buf_adds(out, "\n\n");
}

/* server/web: the dashboard's static assets (compiled in from web/): GET / is index.html,
 * every other asset by its file name. Revalidated with an ETag (the content's SHA-256), so a
 * new binary's assets replace the cached ones at once; served under a strict
 * Content-Security-Policy (http.c adds the headers). The API is the dashboard's only
 * backend. */
#include <string.h>

#include "server-int.h"
#include "web.h"

#include "../util/banned.h"

const struct web_asset *web_asset_find(const char *path)
{
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    for (const struct web_asset *a = web_assets; a->path; a++)
        if (strcmp(a->path, path) == 0)
            return a;
    return NULL;
}

bool srv_web_serve(struct srv_req *req, struct srv_resp *resp)
{
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
        return false;
    const struct web_asset *a = web_asset_find(req->path);
    if (!a)
        return false;
    resp->etag = a->etag;
    resp->page = true;
    const char *inm = srv_req_header(req, "If-None-Match");
    if (inm && strstr(inm, a->etag)) {
        resp->status = 304;
        resp->type = a->type;
        return true;
    }
    srv_reply_text(resp, 200, a->type, (const char *)a->data, a->len);
    return true;
}

/* server/web: the dashboard's assets (web/ in the repository), compiled into the binary by
 * CMakeLists.txt (generated/web-assets.c) and served by http.c outside /api. */
#ifndef ZP_SERVER_WEB_H
#define ZP_SERVER_WEB_H

#include <stddef.h>

struct web_asset {
    const char *path; /* "/app.js" */
    const char *type; /* its Content-Type */
    const char *etag; /* "\"<SHA-256 prefix>\"" */
    const unsigned char *data;
    size_t len;
};

/* Every asset, ended by one whose path is NULL. */
extern const struct web_asset web_assets[];

/* The asset a GET of path serves ("/" is /index.html), or NULL. */
const struct web_asset *web_asset_find(const char *path);

#endif

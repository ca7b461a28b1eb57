/* s3-int: what the files of s3/ share: the XML readers of S3's responses, the request
 * builder (URLs, encodings) and the one request function with its retries. */
#ifndef ZP_S3_INT_H
#define ZP_S3_INT_H

#include <pthread.h>

#include "s3.h"

#define S3__MAX_BODY ((size_t)8 << 20) /* bytes of one XML response or error body */
#define S3__XML_MAX_DEPTH 32
#define S3__XML_MAX_TEXT ((size_t)1 << 20) /* bytes of text inside one element */
#define S3__EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- XML (a small reader of what S3 answers: no DTDs, namespaces ignored) ---- */

/* Called at each end tag with the path of element names from the root (local names,
 * prefixes dropped) and the text directly before the end tag (entities decoded). */
typedef int (*s3__xml_leaf_fn)(void *ud, const struct zp_str *path, size_t depth, const char *text,
                               size_t len);

/* Walk a whole document, calling leaf for every element. Errors: ZP_E_INPUT ("XML at byte
 * N: why") for anything malformed or truncated, ZP_E_TOOBIG past the depth or text caps;
 * a non-zero return of leaf stops the walk and is returned. */
int s3__xml_walk(const char *doc, size_t len, s3__xml_leaf_fn leaf, void *ud, struct zp_err *err);

/* An <Error> document: its Code and Message (fresh strings; "" when absent).
 * Returns 0, or ZP_E_NOTFOUND when doc is not an Error document, or ZP_E_INPUT. */
int s3__xml_error(const char *doc, size_t len, char **ret_code, char **ret_message,
                  struct zp_err *err);

/* One page of ListObjectsV2: its Contents appended to *objs (count *n, allocation *cap;
 * at most S3_MAX_LIST in all, else ZP_E_TOOBIG), IsTruncated and NextContinuationToken
 * (fresh, NULL when absent). Errors: ZP_E_INPUT (malformed, a Size that is not a number, a
 * Contents without Key, truncated without a token), ZP_E_TOOBIG. */
int s3__xml_list(const char *doc, size_t len, struct s3_object **objs, size_t *n, size_t *cap,
                 bool *ret_truncated, char **ret_token, struct zp_err *err);

/* InitiateMultipartUploadResult's UploadId (fresh). Errors: ZP_E_INPUT. */
int s3__xml_initiate(const char *doc, size_t len, char **ret_upload_id, struct zp_err *err);

/* CompleteMultipartUploadResult's ETag (fresh, without quotes). A 200 answer can hold an
 * <Error> instead: that is ZP_E_SYSTEM with its code and message. Errors: ZP_E_INPUT. */
int s3__xml_complete(const char *doc, size_t len, char **ret_etag, struct zp_err *err);

/* ---- encodings and URLs ---- */

/* Append s percent-encoded as SigV4 wants (unreserved A-Z a-z 0-9 - . _ ~ kept; '/' kept
 * when keep_slash). Errors: ZP_E_TOOBIG from out. */
int s3__uri_encode(struct zp_buf *out, const char *s, bool keep_slash);
/* Base64 of n bytes into out (4 * ((n + 2) / 3) + 1 bytes). */
void s3__base64(const unsigned char *in, size_t n, char *out);
/* The URL of bucket/key (key NULL or "" for the bucket) with query (already canonical:
 * names sorted, values encoded; NULL for none) in c's style. Fresh string. */
char *s3__url(const struct s3_config *c, const char *bucket, const char *key, const char *query);
/* The ETag S3 gives a multipart object: hex MD5 of the parts' MD5s, "-", the part count. */
void s3__multipart_etag(const unsigned char (*md5s)[16], size_t n, char out[80]);

/* ---- requests ---- */

struct s3_client {
    struct s3_config cfg;
    void *curl; /* CURL * of the calling thread */
};

struct s3__req {
    const char *method; /* GET HEAD PUT POST DELETE */
    const char *bucket;
    const char *key;   /* NULL: the bucket */
    const char *query; /* canonical, or NULL */
    const void *body;  /* PUT and POST: the whole body */
    size_t len;
    const char *content_md5;    /* base64, or NULL */
    const char *payload_sha256; /* hex; NULL: computed from body */
    const char *const *headers; /* more "Name: value" lines */
    size_t nheaders;
    s3_sink_fn sink; /* GET: the content goes here (2xx only) */
    void *sink_ud;
};

struct s3__resp {
    long status;
    struct zp_buf body; /* the body when there is no sink, or an error body; capped */
    struct s3_object_info info;
    uint64_t delivered; /* bytes given to the sink */
};

void s3__resp_init(struct s3__resp *r);
void s3__resp_release(struct s3__resp *r);

/* A curl handle (void * to keep curl's header in one file). */
void *s3__curl_new(void);
void s3__curl_free(void *curl);

/* Send r on curl with the retries of c's config: connection failures, 5xx, 429 and
 * SlowDown are retried with backoff; a GET dropped in the middle is resumed with a Range
 * pinned to the ETag. A non-2xx final answer is an error as s3.h describes, named
 * "METHOD s3://bucket/key". resp (initialised by the caller) holds the last answer. */
int s3__perform(const struct s3_config *c, void *curl, const struct s3__req *r,
                struct s3__resp *resp, struct zp_err *err);

/* Write the checksum object of bucket/key: "<sha>  <base name>\n" as KEY.sha256 with
 * metadata x-amz-meta-zpanel-size. Errors: as s3_put. */
int s3__put_sum(struct s3_client *c, const char *bucket, const char *key, const char sha[65],
                uint64_t size, struct zp_err *err);

#endif

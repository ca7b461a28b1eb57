/* s3: a client of S3-compatible object storage (AWS, MinIO, R2, B2, Wasabi, s3rver) on
 * libcurl, which signs every request (CURLOPT_AWS_SIGV4): objects put, read as a stream,
 * described, listed and deleted; a streaming multipart upload with parts in parallel and
 * memory bounded whatever the size; retries with backoff; verification after upload.
 * Library code: it calls util/ only and never prints. Only this module includes libcurl's
 * header for S3; no curl type crosses this interface. */
#ifndef ZP_S3_H
#define ZP_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

#define S3_MIN_PART ((size_t)5 << 20)     /* S3's minimum part size (all but the last) */
#define S3_DEFAULT_PART ((size_t)8 << 20) /* bytes of one part */
#define S3_MAX_PART ((size_t)512 << 20)   /* what ZPANEL_S3_PART_SIZE may ask for */
#define S3_MAX_PARTS 10000                /* S3's limit on parts in one upload */
#define S3_DEFAULT_PARALLEL 2             /* parts uploaded at the same time */
#define S3_MAX_PARALLEL 16
#define S3_MAX_LIST ((size_t)100000) /* objects one listing may return */
#define S3_SUM_SUFFIX ".sha256"      /* the checksum object written beside an upload */

/* Where and how to reach the storage. Strings are owned by the config. */
struct s3_config {
    char *endpoint;      /* "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000" */
    char *region;        /* "us-east-1" */
    char *access_key;    /* AWS_ACCESS_KEY_ID */
    char *secret_key;    /* AWS_SECRET_ACCESS_KEY */
    char *session_token; /* AWS_SESSION_TOKEN, or NULL */
    bool path_style;     /* http://host/bucket/key rather than http://bucket.host/key */
    size_t part_size;    /* S3_MIN_PART..S3_MAX_PART */
    int parallel;        /* 1..S3_MAX_PARALLEL */
    int retries;         /* attempts after the first one, for each request */
    int retry_base_ms;   /* first backoff; doubled each attempt, with jitter, capped at 8 s */
};

/* Fill c from the flags (NULL when not given) and the environment: endpoint from the flag,
 * AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS's regional endpoint; region from the
 * flag, AWS_REGION or AWS_DEFAULT_REGION, else "us-east-1"; credentials from
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (never flags: a command
 * line is visible to every user of the host); path style from the flag or
 * AWS_S3_PATH_STYLE=1; ZPANEL_S3_PART_SIZE (a size, "16MiB"), ZPANEL_S3_PARALLEL,
 * ZPANEL_S3_RETRIES and ZPANEL_S3_RETRY_MS tune the transfer. *ret belongs to the caller
 * (s3_config_release). Errors: ZP_E_USAGE naming the variable or flag. */
int s3_config_from_env(const char *endpoint, const char *region, bool path_style,
                       struct s3_config *ret, struct zp_err *err);
void s3_config_release(struct s3_config *c);

/* Fill c from explicit values (a destination stored in the control plane) rather than the
 * environment: the endpoint (http[s]://HOST[:PORT]), the region, the path style and the
 * credentials (access_key: 1 to 256 printable characters without ':' or blanks; secret_key:
 * 1 to 256 printable characters); the transfer tuning still comes from ZPANEL_S3_* as
 * above. *ret belongs to the caller (s3_config_release). Errors: ZP_E_INPUT naming the
 * field ("endpoint: ...", "region: ...", "access_key_id: ...", "secret_key: ..."; the
 * message never holds a credential), ZP_E_USAGE (a ZPANEL_S3_* variable). */
int s3_config_from_values(const char *endpoint, const char *region, bool path_style,
                          const char *access_key, const char *secret_key, struct s3_config *ret,
                          struct zp_err *err);

/* Does bucket follow S3's naming rules (3-63 of a-z 0-9 . -, a letter or digit at each end)? */
bool s3_bucket_valid(const char *bucket);

/* Split "s3://BUCKET/KEY" (KEY may be empty) into fresh strings. The bucket must follow
 * S3's naming rules (3-63 of a-z 0-9 . -). Errors: ZP_E_USAGE naming the URL. */
int s3_url_parse(const char *url, char **ret_bucket, char **ret_key, struct zp_err *err);

struct s3_client; /* opaque; one thread at a time (uploads run their own threads) */

/* A client for config (copied). Errors: ZP_E_USAGE (a malformed endpoint), ZP_E_SYSTEM. */
int s3_client_new(const struct s3_config *config, struct s3_client **ret, struct zp_err *err);
/* NULL is accepted. */
void s3_client_free(struct s3_client *c);

/* What HEAD (or a finished upload) says of an object. */
struct s3_object_info {
    uint64_t size;
    char etag[80];          /* without quotes */
    char last_modified[40]; /* as the server sent it */
    char sha256[65];        /* x-amz-meta-zpanel-sha256, or "" */
    char meta_size[24];     /* x-amz-meta-zpanel-size, or "" */
};

/* One object of a listing. */
struct s3_object {
    char *key;
    uint64_t size;
    char *last_modified; /* RFC 3339 as the server sent it */
    char *etag;          /* without quotes */
};
void s3_objects_free(struct s3_object *objs, size_t n);

/* How every call fails:
 *   ZP_E_NOTFOUND  the bucket (NoSuchBucket) or the object (NoSuchKey, 404) does not exist
 *   ZP_E_INPUT     the storage refused the credentials or the request (403 and other 4xx),
 *                  with the server's code and message and what to check
 *   ZP_E_SYSTEM    the endpoint could not be reached, or kept failing (5xx, SlowDown,
 *                  dropped connections) after the retries; a local write failed
 *   ZP_E_TOOBIG    a response or a listing passed its cap
 * Messages start with the method and "s3://bucket/key". */

/* Put data as the object bucket/key with metadata x-amz-meta-zpanel-sha256 and -size
 * (Content-MD5 and the signed payload SHA-256 let the server check what it got). */
int s3_put(struct s3_client *c, const char *bucket, const char *key, const void *data, size_t len,
           struct zp_err *err);
/* HEAD of bucket/key into *ret. */
int s3_head(struct s3_client *c, const char *bucket, const char *key, struct s3_object_info *ret,
            struct zp_err *err);
/* The object's content, in order, to sink (called with each chunk; a non-zero return
 * stops the transfer with ZP_E_SYSTEM). A connection dropped in the middle is resumed
 * where it stopped (a Range request pinned to the first response's ETag), so sink never
 * sees a byte twice. *ret_info (may be NULL) gets the size and ETag. */
typedef int (*s3_sink_fn)(void *ud, const void *data, size_t len);
int s3_get(struct s3_client *c, const char *bucket, const char *key, s3_sink_fn sink, void *ud,
           struct s3_object_info *ret_info, struct zp_err *err);
/* Delete bucket/key (deleting an absent key succeeds, as in S3). */
int s3_delete(struct s3_client *c, const char *bucket, const char *key, struct zp_err *err);
/* Every object under prefix (ListObjectsV2, following continuation tokens), in key order;
 * *ret (n objects) belongs to the caller. Errors: ZP_E_TOOBIG past S3_MAX_LIST objects. */
int s3_list(struct s3_client *c, const char *bucket, const char *prefix, struct s3_object **ret,
            size_t *ret_n, struct zp_err *err);

/* ---- streaming upload ----
 *
 * Bytes written are cut into parts of config.part_size. An upload that ends within the
 * first part is one PUT; anything larger is a multipart upload whose parts are uploaded by
 * config.parallel threads while the caller keeps writing (memory: parallel + 1 parts).
 * finish completes it and verifies it: HEAD must show the size written and the ETag S3
 * computes from the parts' MD5s (when the server uses that form), then a checksum object
 * "KEY.sha256" ("<sha256>  <name>\n", metadata x-amz-meta-zpanel-size) records the
 * content's SHA-256 for s3_fetch_verified. On any failure (a write, a part after its
 * retries, complete, the verification, the checksum object) the multipart upload is
 * aborted and a completed object deleted: no partial or unverified object is left. */
struct s3_upload;

/* Start an upload of bucket/key (nothing is sent before the first part is full).
 * Errors: none today beyond ZP_E_USAGE for an empty key. */
int s3_upload_begin(struct s3_client *c, const char *bucket, const char *key,
                    struct s3_upload **ret, struct zp_err *err);
/* Append data. Errors: those above (a part that failed), ZP_E_TOOBIG past S3_MAX_PARTS. */
int s3_upload_write(struct s3_upload *u, const void *data, size_t len, struct zp_err *err);
/* Complete, verify and record the checksum; frees u whatever happens. *ret_info (may be
 * NULL) gets the verified size and SHA-256. */
int s3_upload_finish(struct s3_upload *u, struct s3_object_info *ret_info, struct zp_err *err);
/* Abort: the multipart upload (if started) is aborted; frees u. NULL is accepted. */
void s3_upload_abort(struct s3_upload *u);

/* Read bucket/key to sink and check it against its checksum object: the SHA-256 and size
 * of what was read must match what the upload recorded. *ret_info gets them.
 * Errors: ZP_E_NOTFOUND (no object, or no checksum object: "not a verified upload"),
 * ZP_E_INPUT (a mismatch), and those above. */
int s3_fetch_verified(struct s3_client *c, const char *bucket, const char *key, s3_sink_fn sink,
                      void *ud, struct s3_object_info *ret_info, struct zp_err *err);

#endif

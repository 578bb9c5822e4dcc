/* s3.h - the store's S3 API (path-style) and its admin API, over the
 * HTTPS server of core/http. Internal to the store: store.c builds a
 * struct cu_s3 and mounts both APIs; s3_*.c and admin.c implement them.
 *
 * Request flow of every S3 route (s3_common.c):
 *   on_headers  authenticate (SigV4 header or presigned, SigV2 presigned)
 *               and resolve the tenant; pick the operation; an operation
 *               that takes a body prepares its sink (an object upload
 *               starts its encrypted file here, so the body is never held
 *               whole);
 *   on_body     the raw body goes through the aws-chunked decoder when
 *               the payload is streamed, is hashed when a SHA-256 was
 *               signed, and reaches the operation's sink;
 *   on_end      the payload is checked (chunk signatures, trailer, hash)
 *               and only then does the operation commit and reply.
 * Every query is scoped by the tenant the signature authenticated. */
#ifndef CU_STORE_S3_H
#define CU_STORE_S3_H

#include <stddef.h>
#include <stdint.h>

#include "core/http/server.h"
#include "store/cmk.h"
#include "store/keys.h"
#include "store/meta.h"
#include "store/objmeta.h"
#include "store/sigv4.h"
#include "store/skcache.h"

#define CU_S3_MAX_OBJECT (5ull * 1024 * 1024 * 1024) /* single PUT */
#define CU_S3_REGION     "us-east-1"

struct cu_s3_req;

/* What both APIs share; owned by store.c. */
struct cu_s3 {
	cu_smeta_t *meta;
	cu_skeys_t *keys;
	const char *data_dir;
	/* seals access-key secrets in the metadata (locked memory) */
	const unsigned char *master_key;
	/* SHA-256 of the operator's admin token */
	unsigned char operator_hash[32];
	/* custos_store_tamper_detected_total (may be NULL) */
	cu_metric_t *tamper_metric;
	/* customer-managed keys (NULL in tests without them) */
	cu_scmk_t *cmk;
	/* derived SigV4 signing keys (NULL: none kept) */
	cu_skcache_t *skcache;
};

/* cu_s3_sse_headers - x-amz-server-side-encryption: aws:kms and
 * ...-aws-kms-key-id naming the tenant's first customer key while it is
 * customer-managed, else AES256. Returns as cu_http_set_header. */
int cu_s3_sse_headers(cu_http_req_t *req, const struct cu_s3_req *rq);

/* cu_s3_mount - add the S3 routes ("/", "/{bucket}", "/{bucket}/{key*}")
 * to srv; mount them last: they match every path. Returns 0 or the
 * errors of cu_http_server_route. */
int cu_s3_mount(struct cu_s3 *s3, cu_http_server_t *srv);

/* cu_s3_error_fn - the server's error formatter: S3 error XML (with
 * x-amz-request-id) for S3 paths, the JSON shape for /admin/, /healthz
 * and /metrics. arg is unused. */
int cu_s3_error_fn(cu_http_req_t *req, int status, const char *code,
                   const char *message, void *arg);

/* cu_s3_reply_error - reply with an S3 error document. Returns as
 * cu_http_reply_error. */
int cu_s3_reply_error(cu_http_req_t *req, int status, const char *code,
                      const char *message);

/* cu_s3_key_lost - 1 when rc, from a tenant key operation after the data
 * gate let the request in, means the tenant's key was denied or its vault
 * did not answer just then (CU_ERR_DENIED, CU_ERR_UNAVAILABLE,
 * CU_ERR_TIMEOUT): not a damaged object. A handler returns such an rc
 * without replying, and the S3 dispatcher answers it as the gate answers
 * now (403 CustomerKeyInaccessible naming the key, or a 503). */
int cu_s3_key_lost(int rc);

/* cu_s3_std_headers - add x-amz-request-id (and the like) to a success
 * reply. Returns 0 or the errors of cu_http_set_header. */
int cu_s3_std_headers(cu_http_req_t *req);

/* cu_s3_http_date / cu_s3_iso_date - a Unix time as an HTTP date ("Tue,
 * 15 Nov 1994 08:12:31 GMT") or an ISO 8601 one ("...T08:12:31.000Z"),
 * into out (room for 40 bytes). */
void cu_s3_http_date(int64_t t, char out[40]);
void cu_s3_iso_date(int64_t t, char out[40]);

/* cu_s3_bucket_name_ok - 1 when name follows S3's bucket naming rules
 * (and is not one of the store's own path names), else 0. */
int cu_s3_bucket_name_ok(const char *name);

/* cu_s3_key_ok - 1 when key (len bytes) is an acceptable object key:
 * 1..1024 bytes of valid UTF-8 without NUL. */
int cu_s3_key_ok(const char *key, size_t len);

/* ---- the operations (s3_bucket.c, s3_object.c) --------------------- */

/* The request state shared by the common flow and the operations. */
struct cu_s3_req {
	struct cu_s3 *s3;
	int op;                           /* enum in s3_common.c */
	char tenant[CU_SMETA_ID_MAX + 1]; /* the authenticated tenant */
	char bucket[CU_SMETA_BUCKET_MAX + 1];
	const char *key; /* decoded, owned by the request; NULL if none */
	size_t key_len;
	/* signed x-amz-meta-* header names (lower case) */
	char **meta_names;
	size_t n_meta_names;
	/* UploadPart and the multipart operations: from the query */
	const char *upload_id; /* NULL when none */
	uint32_t part_number;  /* 0 when none */
	/* a buffered body (ops other than PutObject) */
	char *body;
	size_t body_len, body_cap, body_max;
	/* the object upload of PutObject (s3_object.c) */
	void *upload;
	void (*upload_free)(void *upload);
	int (*upload_sink)(struct cu_s3_req *rq, const unsigned char *p,
	                   size_t n);
};

/* Operations. Each replies (success or S3 error) and returns 0, or
 * returns a negative CU_ERR_* for the server to reply 500. */
int cu_s3_list_buckets(cu_http_req_t *req, struct cu_s3_req *rq);
int cu_s3_create_bucket(cu_http_req_t *req, struct cu_s3_req *rq);
int cu_s3_head_bucket(cu_http_req_t *req, struct cu_s3_req *rq);
int cu_s3_delete_bucket(cu_http_req_t *req, struct cu_s3_req *rq);
int cu_s3_bucket_location(cu_http_req_t *req, struct cu_s3_req *rq);
enum { CU_S3_LIST_V1 = 0, CU_S3_LIST_V2 = 1, CU_S3_LIST_VERSIONS = 2 };
int cu_s3_list_objects(cu_http_req_t *req, struct cu_s3_req *rq, int mode);
int cu_s3_bucket_versioning(cu_http_req_t *req, struct cu_s3_req *rq);
/* put: PutBucketEncryption (AES256 only), else GetBucketEncryption. */
int cu_s3_bucket_encryption(cu_http_req_t *req, struct cu_s3_req *rq, int put);
int cu_s3_delete_objects(cu_http_req_t *req, struct cu_s3_req *rq);

/* cu_s3_objmeta - what a new object keeps from the request
 * (store/objmeta.h): the signed x-amz-meta-* headers and the standard
 * headers, into *out (cu_sobjmeta_free). A header refused is answered
 * (cu_s3_objmeta_refuse) and 0 returned with *out NULL. Returns 0 or
 * CU_ERR_NOMEM. */
int cu_s3_objmeta(cu_http_req_t *req, const struct cu_s3_req *rq,
                  cu_sobjmeta_t **out);

/* cu_s3_objmeta_refuse - answer an error of store/objmeta.h as S3 does:
 * CU_ERR_TOOLARGE 400 MetadataTooLarge, CU_ERR_RANGE 400
 * RequestHeaderSectionTooLarge, CU_ERR_INVAL 400 InvalidArgument; returns
 * what the reply returned. Any other rc is returned unanswered. */
int cu_s3_objmeta_refuse(cu_http_req_t *req, int rc);

/* Multipart uploads (s3_multipart.c). UploadPart is PutObject's path
 * with rq->part_number and rq->upload_id set. */
int cu_s3_mpu_create(cu_http_req_t *req, struct cu_s3_req *rq);
int cu_s3_mpu_complete(cu_http_req_t *req, struct cu_s3_req *rq);
int cu_s3_mpu_abort(cu_http_req_t *req, struct cu_s3_req *rq);
int cu_s3_mpu_list_parts(cu_http_req_t *req, struct cu_s3_req *rq);
int cu_s3_mpu_list_uploads(cu_http_req_t *req, struct cu_s3_req *rq);

/* PutObject in two steps: cu_s3_put_begin in on_headers (validates,
 * makes the DEK and the file, sets rq->upload*; may reply an error, in
 * which case it returns 0 with the request replied), cu_s3_put_end in
 * on_end once the payload is verified. */
int cu_s3_put_begin(cu_http_req_t *req, struct cu_s3_req *rq);
int cu_s3_put_end(cu_http_req_t *req, struct cu_s3_req *rq);
int cu_s3_get_object(cu_http_req_t *req, struct cu_s3_req *rq, int head);
int cu_s3_delete_object(cu_http_req_t *req, struct cu_s3_req *rq);
/* CopyObject (x-amz-copy-source, same tenant), in on_end: decrypts the
 * source and encrypts it anew under a fresh DEK and identity. */
int cu_s3_copy_object(cu_http_req_t *req, struct cu_s3_req *rq);
/* GetObjectTagging: objects carry no tags yet, an empty TagSet (the aws
 * CLI asks before a multipart copy). */
int cu_s3_get_tagging(cu_http_req_t *req, struct cu_s3_req *rq);

/* cu_s3_admin_mount - the admin API (/admin/v1/...), admin.c. */
int cu_s3_admin_mount(struct cu_s3 *s3, cu_http_server_t *srv);

/* cu_s3_seal_secret / cu_s3_open_secret - an access key's secret sealed
 * under the master key with the access key id as associated data. */
int cu_s3_seal_secret(const struct cu_s3 *s3, const char *akid, size_t akid_len,
                      const void *secret, size_t len, unsigned char *out,
                      size_t cap, size_t *out_len);
int cu_s3_open_secret(const struct cu_s3 *s3, const char *akid, size_t akid_len,
                      const void *sealed, size_t len, unsigned char *out,
                      size_t cap, size_t *out_len);

#endif

/* s3xml.h - strict, bounded parsers (expat) for the XML request bodies of
 * the S3 API: CompleteMultipartUpload, Delete (DeleteObjects),
 * CreateBucketConfiguration and ServerSideEncryptionConfiguration.
 *
 * Every parser refuses: malformed XML, any DOCTYPE or entity declaration
 * (no XXE, no entity expansion bombs), an unexpected root or element, an
 * attribute, text where only elements belong, an element repeated where
 * S3 allows one, more items than allowed, over-long strings and nesting
 * deeper than CU_S3XML_MAX_DEPTH. Namespaces are tolerated as S3 does:
 * elements match by local name whatever their namespace (normally
 * xmlns="http://s3.amazonaws.com/doc/2006-03-01/", or none).
 *
 * Returns: 0, or
 *   CU_ERR_PARSE     S3 "MalformedXML" (every refusal above);
 *   CU_ERR_TOOLARGE  body larger than CU_S3XML_MAX_BODY
 *                    ("MaxMessageLengthExceeded");
 *   CU_ERR_RANGE     CompleteMultipartUpload parts not in strictly
 *                    ascending order ("InvalidPartOrder");
 *   CU_ERR_INVAL     a well-formed value S3 refuses with
 *                    "InvalidArgument" (part number outside 1..10000, KMS
 *                    key id without aws:kms, bad location constraint);
 *   CU_ERR_NOMEM.
 * cu_s3xml_s3code() names the S3 error code for each. */
#ifndef CU_S3XML_H
#define CU_S3XML_H

#include <stddef.h>
#include <stdint.h>

#define CU_S3XML_MAX_BODY    (4u * 1024 * 1024)
#define CU_S3XML_MAX_PARTS   10000 /* S3's limit for one upload */
#define CU_S3XML_MAX_OBJECTS 1000  /* S3's limit for one Delete */
#define CU_S3XML_MAX_KEY     1024  /* bytes of UTF-8, as S3 */
#define CU_S3XML_MAX_ETAG    256
#define CU_S3XML_MAX_VERSION 1024
#define CU_S3XML_MAX_KMS_ID  2048
#define CU_S3XML_MAX_DEPTH   8

/* One <Part> of a CompleteMultipartUpload. */
struct cu_s3xml_part {
	uint32_t number; /* 1..10000 */
	char *etag;      /* as sent, quotes included; NUL-terminated */
};

struct cu_s3xml_complete {
	size_t n_parts; /* >= 1, numbers strictly ascending */
	struct cu_s3xml_part *parts;
};

/* cu_s3xml_parse_complete - parse a CompleteMultipartUpload body of len
 * bytes. max_parts bounds the part count (0 means CU_S3XML_MAX_PARTS; never
 * more). On success *out is owned by the caller (free with
 * cu_s3xml_complete_free); on error *out is NULL. */
int cu_s3xml_parse_complete(const char *body, size_t len, size_t max_parts,
                            struct cu_s3xml_complete **out)
    __attribute__((warn_unused_result));

void cu_s3xml_complete_free(struct cu_s3xml_complete *c);

/* One <Object> of a Delete. */
struct cu_s3xml_delete_object {
	char *key;        /* exactly as sent (never trimmed), NUL-terminated */
	size_t key_len;   /* 1..CU_S3XML_MAX_KEY */
	char *version_id; /* NULL when absent */
};

struct cu_s3xml_delete {
	int quiet;        /* <Quiet>true</Quiet> */
	size_t n_objects; /* >= 1 */
	struct cu_s3xml_delete_object *objects;
};

/* cu_s3xml_parse_delete - parse a Delete (DeleteObjects) body. max_objects
 * 0 means CU_S3XML_MAX_OBJECTS (never more). Ownership as above; free with
 * cu_s3xml_delete_free. */
int cu_s3xml_parse_delete(const char *body, size_t len, size_t max_objects,
                          struct cu_s3xml_delete **out)
    __attribute__((warn_unused_result));

void cu_s3xml_delete_free(struct cu_s3xml_delete *d);

struct cu_s3xml_bucket_config {
	char *location; /* LocationConstraint; NULL when absent or empty */
};

/* cu_s3xml_parse_create_bucket - parse a CreateBucketConfiguration body.
 * An empty body (len 0) is valid, as in S3, and gives location NULL.
 * Free with cu_s3xml_bucket_config_free. */
int cu_s3xml_parse_create_bucket(const char *body, size_t len,
                                 struct cu_s3xml_bucket_config **out)
    __attribute__((warn_unused_result));

void cu_s3xml_bucket_config_free(struct cu_s3xml_bucket_config *b);

struct cu_s3xml_sse {
	char *algorithm;        /* "AES256", "aws:kms" or "aws:kms:dsse" */
	char *kms_key_id;       /* KMSMasterKeyID; NULL when absent */
	int bucket_key_enabled; /* 1, 0, or -1 when absent */
};

/* cu_s3xml_parse_sse - parse a ServerSideEncryptionConfiguration body
 * (one Rule with ApplyServerSideEncryptionByDefault). Free with
 * cu_s3xml_sse_free. */
int cu_s3xml_parse_sse(const char *body, size_t len, struct cu_s3xml_sse **out)
    __attribute__((warn_unused_result));

void cu_s3xml_sse_free(struct cu_s3xml_sse *s);

/* cu_s3xml_s3code - the S3 error code for an error these parsers returned
 * ("MalformedXML", "InvalidPartOrder", ...); "InternalError" for anything
 * else. Never NULL. */
const char *cu_s3xml_s3code(int err);

#endif

/* sigv4.h - server-side verification of AWS request signatures for the S3
 * API: Signature Version 4 in the Authorization header and in presigned
 * query strings, aws-chunked streaming bodies (signed chunks, or unsigned
 * chunks with a checksum trailer), and Signature Version 2 presigned URLs.
 *
 * Everything here reads untrusted input from the network. Inputs are
 * pointer+length slices as the HTTP server received them; every length is
 * bounded by the CU_SIGV4_MAX_* constants below and anything beyond them,
 * or not in the exact format AWS defines, is refused.
 *
 * A typical header-signed PUT with a streaming body:
 *
 *	struct cu_sigv4_request rq = { method, path, query, headers, now };
 *	struct cu_sigv4_options op = { .service = "s3",
 *				       .secret = lookup, .secret_arg = db };
 *	struct cu_sigv4_result res;
 *	int r = cu_sigv4_verify(&rq, &op, &res);
 *	if (r != 0) -> S3 error cu_sigv4_s3_error(&res, &status); when the
 *	               reason is a signature mismatch, res.canonical_request
 *	               and res.string_to_sign go into the error body.
 *	if (res.payload is one of the STREAMING modes) {
 *		cu_sigv4_chunked_new(&res, 0, &ch);
 *		for each piece of the body:
 *			cu_sigv4_chunked_feed(ch, piece, n, sink, obj);
 *		cu_sigv4_chunked_finish(ch);   // the object is good only now
 *		cu_sigv4_chunked_free(ch);
 *	}
 *	cu_sigv4_result_clear(&res);          // wipes the signing key
 */
#ifndef CU_SIGV4_H
#define CU_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#define CU_SIGV4_KEY_LEN       32 /* derived signing key (HMAC-SHA-256) */
#define CU_SIGV4_SIG_HEX_LEN   64 /* hex signature, without NUL */
#define CU_SIGV4_AMZDATE_LEN   16 /* YYYYMMDDTHHMMSSZ */
#define CU_SIGV4_MAX_AKID      128
#define CU_SIGV4_MAX_SECRET    128
#define CU_SIGV4_MAX_REGION    63
#define CU_SIGV4_MAX_SERVICE   32
#define CU_SIGV4_MAX_SCOPE     (8 + 1 + 63 + 1 + 32 + 1 + 12)
#define CU_SIGV4_MAX_METHOD    32
#define CU_SIGV4_MAX_PATH      8192
#define CU_SIGV4_MAX_QUERY     16384
#define CU_SIGV4_MAX_PARAMS    512    /* query parameters */
#define CU_SIGV4_MAX_HEADERS   256    /* request headers given to verify */
#define CU_SIGV4_MAX_SIGNED    64     /* names in SignedHeaders */
#define CU_SIGV4_MAX_HVALUE    16384  /* one header value */
#define CU_SIGV4_MAX_AUTH      8192   /* the Authorization header value */
#define CU_SIGV4_MAX_CANON     262144 /* canonical request / string to sign */
#define CU_SIGV4_DEFAULT_SKEW  900    /* seconds, as S3 */
#define CU_SIGV4_MAX_EXPIRES   604800 /* presigned: 7 days, as S3 */
#define CU_SIGV4_CHUNK_MAX     (16u * 1024 * 1024) /* largest aws-chunk */
#define CU_SIGV4_CHUNK_HDR_MAX 256 /* longest chunk header line */

/* One request header as received. Names compare case-insensitively;
 * several headers may carry the same name (their values are joined with
 * ',' in received order, as AWS does). */
struct cu_sigv4_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* The request to verify. */
struct cu_sigv4_request {
	const char *method; /* "GET", "PUT", ... */
	size_t method_len;
	const char *path; /* raw path as received: percent-encoded, no '?' */
	size_t path_len;
	const char *query; /* raw query string without '?'; may be NULL/0 */
	size_t query_len;
	const struct cu_sigv4_header *headers;
	size_t n_headers;
	/* The payload hash to sign with. NULL: taken from the request the way
	 * S3 does (header auth: the x-amz-content-sha256 header, required;
	 * presigned: X-Amz-Content-Sha256 in the query, else
	 * UNSIGNED-PAYLOAD). Non-S3 callers (the generic test suite) pass the
	 * hex SHA-256 of the body here. */
	const char *payload_hash;
	size_t payload_hash_len;
	int64_t now; /* current time, seconds since the Unix epoch */
};

/* Look up the secret access key of access key id `akid` (not
 * NUL-terminated). Write it to secret (room for cap bytes, cap is
 * CU_SIGV4_MAX_SECRET) and its length to *secret_len. Return 0,
 * CU_ERR_NOTFOUND for an unknown (or disabled) key, or another CU_ERR_*
 * (passed back to the caller of verify). The buffer is wiped afterwards. */
typedef int (*cu_sigv4_secret_fn)(void *arg, const char *akid, size_t akid_len,
                                  unsigned char *secret, size_t cap,
                                  size_t *secret_len);

/* Optional: give the derived SigV4 signing key directly, so a caller can
 * cache cu_sigv4_derive_key() results per (key, date, region, service).
 * `date8`, `region`, `service` are NUL-terminated and already validated.
 * Same returns as cu_sigv4_secret_fn. */
typedef int (*cu_sigv4_key_fn)(void *arg, const char *akid, size_t akid_len,
                               const char *date8, const char *region,
                               const char *service,
                               unsigned char key[CU_SIGV4_KEY_LEN]);

struct cu_sigv4_options {
	const char *region;  /* NULL: any region; else the scope must match */
	const char *service; /* NULL means "s3"; the scope must match */
	int normalize_path;  /* 1: remove dot segments and empty segments
	                        (generic AWS services); 0 for S3 */
	int double_encode;   /* 1: encode the received path once more
	                        (generic services); 0 for S3 */
	int max_skew;        /* seconds; 0 means CU_SIGV4_DEFAULT_SKEW */
	int allow_v2;        /* 1: accept SigV2 presigned URLs */
	cu_sigv4_secret_fn secret;   /* required */
	cu_sigv4_key_fn signing_key; /* optional, SigV4 only */
	void *secret_arg;            /* passed to both callbacks */
};

enum cu_sigv4_auth {
	CU_SIGV4_AUTH_NONE = 0,
	CU_SIGV4_AUTH_HEADER = 1,   /* Authorization: AWS4-HMAC-SHA256 ... */
	CU_SIGV4_AUTH_QUERY = 2,    /* presigned X-Amz-* query */
	CU_SIGV4_AUTH_V2_QUERY = 3, /* presigned AWSAccessKeyId/Expires */
};

/* Why a request was refused. Map to S3 with cu_sigv4_s3_error(). */
enum cu_sigv4_fail {
	CU_SIGV4_OK = 0,
	CU_SIGV4_FAIL_MISSING,         /* no authentication at all */
	CU_SIGV4_FAIL_AMBIGUOUS,       /* more than one auth mechanism */
	CU_SIGV4_FAIL_UNSUPPORTED,     /* other algorithm, SigV2 header, ... */
	CU_SIGV4_FAIL_MALFORMED,       /* Authorization / X-Amz-* malformed */
	CU_SIGV4_FAIL_REGION,          /* scope region is not ours */
	CU_SIGV4_FAIL_SERVICE,         /* scope service is not ours */
	CU_SIGV4_FAIL_DATE_MISSING,    /* no x-amz-date / Date */
	CU_SIGV4_FAIL_DATE_MALFORMED,  /* unparseable date */
	CU_SIGV4_FAIL_DATE_MISMATCH,   /* credential date != request date */
	CU_SIGV4_FAIL_SKEWED,          /* header auth: clock skew too large */
	CU_SIGV4_FAIL_EXPIRED,         /* presigned: past expiry */
	CU_SIGV4_FAIL_NOT_YET_VALID,   /* presigned: dated in the future */
	CU_SIGV4_FAIL_EXPIRES,         /* X-Amz-Expires not in 1..604800 */
	CU_SIGV4_FAIL_HOST_UNSIGNED,   /* host not in SignedHeaders */
	CU_SIGV4_FAIL_HEADER_ABSENT,   /* a signed header is not present */
	CU_SIGV4_FAIL_PAYLOAD_MISSING, /* no x-amz-content-sha256 */
	CU_SIGV4_FAIL_PAYLOAD_INVALID, /* bad x-amz-content-sha256 value */
	CU_SIGV4_FAIL_DECODED_LENGTH,  /* streaming: bad/missing
	                                  x-amz-decoded-content-length */
	CU_SIGV4_FAIL_TRAILER,         /* bad or unsupported x-amz-trailer */
	CU_SIGV4_FAIL_REQUEST,         /* bad path/query/header encoding or
	                                  a size limit exceeded */
	CU_SIGV4_FAIL_UNKNOWN_KEY,     /* no such access key id */
	CU_SIGV4_FAIL_SIGNATURE,       /* signature does not match */
	CU_SIGV4_FAIL_INTERNAL,        /* out of memory, crypto failure */
};

enum cu_sigv4_payload {
	CU_SIGV4_PAYLOAD_SHA256 = 1,   /* hex SHA-256 declared: the caller
	                                  must check the body against
	                                  res.payload_sha256 */
	CU_SIGV4_PAYLOAD_UNSIGNED = 2, /* UNSIGNED-PAYLOAD (and SigV2) */
	CU_SIGV4_PAYLOAD_STREAMING_SIGNED = 3, /* aws-chunked, signed chunks */
	CU_SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER = 4, /* aws-chunked,
	                                                    checksum trailer */
};

/* Checksum algorithms of an aws-chunked trailer (x-amz-trailer). */
enum cu_sigv4_checksum {
	CU_SIGV4_CKSUM_NONE = 0,
	CU_SIGV4_CKSUM_CRC32 = 1,
	CU_SIGV4_CKSUM_CRC32C = 2,
	CU_SIGV4_CKSUM_SHA1 = 3,
	CU_SIGV4_CKSUM_SHA256 = 4,
};

/* What verify learnt. Always initialised by cu_sigv4_verify (whatever it
 * returns) and always released with cu_sigv4_result_clear. */
struct cu_sigv4_result {
	enum cu_sigv4_auth auth;
	enum cu_sigv4_fail fail;
	char access_key_id[CU_SIGV4_MAX_AKID + 1];
	char amz_date[CU_SIGV4_AMZDATE_LEN + 1]; /* signing time, SigV4 */
	char region[CU_SIGV4_MAX_REGION + 1];
	char scope[CU_SIGV4_MAX_SCOPE +
	           1];        /* DATE/REGION/SERVICE/aws4_request */
	int64_t request_time; /* SigV4: the signing time */
	int64_t expires_at;   /* presigned: last valid second; else 0 */
	enum cu_sigv4_payload payload;
	unsigned char payload_sha256[32]; /* when payload is SHA256 */
	int64_t decoded_length; /* streaming: x-amz-decoded-content-length,
	                           else -1 */
	enum cu_sigv4_checksum trailer; /* streaming trailer checksum */
	char signature[CU_SIGV4_SIG_HEX_LEN + 1]; /* the verified (seed)
	                                             signature, SigV4 */
	/* The derived signing key, kept for aws-chunked verification. A
	 * secret: cu_sigv4_result_clear wipes it. */
	unsigned char signing_key[CU_SIGV4_KEY_LEN];
	/* What was signed, for S3's SignatureDoesNotMatch body (and tests):
	 * heap strings (NUL-terminated), NULL when verify stopped before
	 * building them. Owned by the result. */
	char *canonical_request;
	size_t canonical_request_len;
	char *string_to_sign;
	size_t string_to_sign_len;
};

/* cu_sigv4_verify - authenticate one request: SigV4 header, SigV4
 * presigned query, or (when opt->allow_v2) SigV2 presigned query.
 * `res` is initialised here; release it with cu_sigv4_result_clear.
 * Returns 0 when authentic (res->fail == CU_SIGV4_OK) or
 *   CU_ERR_DENIED   no authentication, expired, not yet valid, skewed,
 *                   host or a signed header missing;
 *   CU_ERR_PARSE    malformed authentication or request encoding;
 *   CU_ERR_UNSUPPORTED  another algorithm or auth mechanism;
 *   CU_ERR_NOTFOUND unknown access key id;
 *   CU_ERR_AUTH     signature mismatch (canonical request and string to
 *                   sign are in res);
 *   CU_ERR_INVAL    bad payload hash, decoded length or trailer header,
 *                   or more than one mechanism at once;
 *   CU_ERR_NOMEM / CU_ERR_CRYPTO, or what the secret callback returned.
 * res->fail always names the reason. */
int cu_sigv4_verify(const struct cu_sigv4_request *req,
                    const struct cu_sigv4_options *opt,
                    struct cu_sigv4_result *res)
    __attribute__((warn_unused_result));

/* cu_sigv4_result_clear - wipe the signing key and free the strings.
 * res may be NULL; the result can be reused afterwards. */
void cu_sigv4_result_clear(struct cu_sigv4_result *res);

/* cu_sigv4_s3_error - the S3 error code ("SignatureDoesNotMatch",
 * "AccessDenied", "AuthorizationHeaderMalformed", ...) and HTTP status for
 * the failure recorded in res. Never NULL; "InternalError"/500 for an
 * unknown reason. `status` may be NULL. */
const char *cu_sigv4_s3_error(const struct cu_sigv4_result *res, int *status);

/* cu_sigv4_fail_text - a short English message for a failure reason
 * (goes into the <Message> of the S3 error). Never NULL. */
const char *cu_sigv4_fail_text(enum cu_sigv4_fail fail);

/* cu_sigv4_derive_key - the SigV4 signing key:
 * HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date8), region), service),
 * "aws4_request"). Strings are NUL-terminated; secret_len at most
 * CU_SIGV4_MAX_SECRET. The caller owns (and wipes) key. Returns 0,
 * CU_ERR_RANGE for over-long input, or CU_ERR_CRYPTO. */
int cu_sigv4_derive_key(const void *secret, size_t secret_len,
                        const char *date8, const char *region,
                        const char *service,
                        unsigned char key[CU_SIGV4_KEY_LEN])
    __attribute__((warn_unused_result));

/* cu_sigv4_chunk_signature - the signature of one aws-chunked chunk:
 * hex HMAC(key, "AWS4-HMAC-SHA256-PAYLOAD\n" amz_date "\n" scope "\n"
 * prev_sig "\n" hex(SHA-256("")) "\n" hex(SHA-256(data))). Written to
 * out (CU_SIGV4_SIG_HEX_LEN + 1 bytes, NUL-terminated). Verification does
 * this internally; exposed for tests and clients. Returns 0 or
 * CU_ERR_CRYPTO / CU_ERR_RANGE. */
int cu_sigv4_chunk_signature(const unsigned char key[CU_SIGV4_KEY_LEN],
                             const char *amz_date, const char *scope,
                             const char *prev_sig, const void *data, size_t len,
                             char out[CU_SIGV4_SIG_HEX_LEN + 1])
    __attribute__((warn_unused_result));

/* An aws-chunked body decoder. Opaque; free with cu_sigv4_chunked_free. */
typedef struct cu_sigv4_chunked cu_sigv4_chunked_t;

/* Receives decoded payload bytes. Return 0 to go on; any other value
 * stops decoding and is returned by cu_sigv4_chunked_feed. */
typedef int (*cu_sigv4_sink_fn)(void *arg, const unsigned char *data,
                                size_t len);

/* cu_sigv4_chunked_new - a decoder for the body of a request that
 * cu_sigv4_verify accepted with a STREAMING payload mode. It copies what
 * it needs from res (the signing key into locked memory), so res may be
 * cleared right after. max_chunk bounds one chunk's size (0 means
 * CU_SIGV4_CHUNK_MAX; never more). Returns 0 and sets *out, CU_ERR_INVAL
 * when res is not a streaming result, or CU_ERR_NOMEM. */
int cu_sigv4_chunked_new(const struct cu_sigv4_result *res, size_t max_chunk,
                         cu_sigv4_chunked_t **out)
    __attribute__((warn_unused_result));

/* cu_sigv4_chunked_feed - feed the next len bytes of the raw body, in
 * pieces of any size. Decoded payload goes to sink. With signed chunks a
 * chunk's data reaches the sink only after its signature has been
 * verified (one chunk is buffered at most); with unsigned chunks data is
 * passed on at once and only cu_sigv4_chunked_finish vouches for it.
 * Returns 0, or
 *   CU_ERR_PARSE    bad framing, trailer or trailing garbage;
 *   CU_ERR_TOOLARGE a chunk larger than the maximum;
 *   CU_ERR_RANGE    more payload than x-amz-decoded-content-length;
 *   CU_ERR_AUTH     a chunk signature or the trailer checksum is wrong;
 *   CU_ERR_NOMEM / CU_ERR_CRYPTO, or the sink's non-zero value.
 * After an error the decoder refuses everything (same error again). */
int cu_sigv4_chunked_feed(cu_sigv4_chunked_t *c, const void *data, size_t len,
                          cu_sigv4_sink_fn sink, void *arg)
    __attribute__((warn_unused_result));

/* cu_sigv4_chunked_finish - call at the end of the body. Returns 0 only
 * when the final chunk (and trailer) arrived and verified and the payload
 * length equals x-amz-decoded-content-length; CU_ERR_PARSE when the body
 * ended early, CU_ERR_RANGE on a length mismatch, or the decoder's
 * earlier error. */
int cu_sigv4_chunked_finish(cu_sigv4_chunked_t *c)
    __attribute__((warn_unused_result));

/* cu_sigv4_chunked_checksum - after a successful finish with a trailer:
 * the checksum as the client sent it (base64, NUL-terminated, owned by
 * the decoder), and its algorithm. NULL when there was no trailer. */
const char *cu_sigv4_chunked_checksum(const cu_sigv4_chunked_t *c,
                                      enum cu_sigv4_checksum *alg);

/* cu_sigv4_chunked_free - wipe and free. c may be NULL. */
void cu_sigv4_chunked_free(cu_sigv4_chunked_t *c);

#endif

/* hash.h - SHA-256, MD5 (for S3 ETags only) and HMAC-SHA-256, via EVP.
 *
 * One-shot calls for small inputs and a streaming context for bodies that
 * are never held whole in memory. */
#ifndef CU_HASH_H
#define CU_HASH_H

#include <stddef.h>

#define CU_SHA256_LEN 32
#define CU_MD5_LEN    16

enum cu_hash_alg {
	CU_HASH_SHA256 = 1,
	CU_HASH_MD5 = 2, /* not for security: S3's ETag is an MD5 */
};

/* cu_sha256 - out = SHA-256(msg). msg may be NULL when len is 0.
 * Returns 0 or CU_ERR_CRYPTO. */
int cu_sha256(const void *msg, size_t len, unsigned char out[CU_SHA256_LEN])
    __attribute__((warn_unused_result));

/* cu_hmac_sha256 - out = HMAC-SHA-256(key, msg). Returns 0 or
 * CU_ERR_CRYPTO. */
int cu_hmac_sha256(const void *key, size_t key_len, const void *msg,
                   size_t msg_len, unsigned char out[CU_SHA256_LEN])
    __attribute__((warn_unused_result));

/* A streaming digest. Opaque; create with cu_hash_new, free with
 * cu_hash_free (accepts NULL). */
typedef struct cu_hash cu_hash_t;

/* cu_hash_new - a fresh context for `alg`. Returns 0 and sets *out (owned
 * by the caller), or CU_ERR_INVAL / CU_ERR_NOMEM / CU_ERR_CRYPTO. */
int cu_hash_new(enum cu_hash_alg alg, cu_hash_t **out);

/* cu_hash_update - feed len bytes. Returns 0 or CU_ERR_CRYPTO. */
int cu_hash_update(cu_hash_t *h, const void *data, size_t len);

/* cu_hash_final - write the digest (CU_SHA256_LEN or CU_MD5_LEN bytes) to
 * out, which has room for out_cap bytes; *out_len gets the length. The
 * context can then only be freed. Returns 0, CU_ERR_RANGE when out_cap is
 * too small, or CU_ERR_CRYPTO. */
int cu_hash_final(cu_hash_t *h, unsigned char *out, size_t out_cap,
                  size_t *out_len);

void cu_hash_free(cu_hash_t *h);

#endif

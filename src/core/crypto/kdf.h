/* kdf.h - HKDF-SHA-256 (RFC 5869), via OpenSSL's EVP_KDF "HKDF".
 *
 * Used to derive per-object subkeys and key commitments (seg.h) and any
 * other key that must be bound to a context string. */
#ifndef CU_KDF_H
#define CU_KDF_H

#include <stddef.h>

#define CU_HKDF_SHA256_HASH_LEN 32
/* RFC 5869: at most 255 blocks of the hash's output. */
#define CU_HKDF_SHA256_MAX_OUT (255 * CU_HKDF_SHA256_HASH_LEN)

/* cu_hkdf_sha256 - extract-then-expand: out (out_len bytes, 1 up to
 * CU_HKDF_SHA256_MAX_OUT) = HKDF-SHA-256(ikm, salt, info). Any of ikm,
 * salt and info may be empty (NULL with length 0); an empty salt is the
 * RFC's default of HashLen zero bytes. The caller owns every buffer; out
 * is wiped on failure. Returns 0, CU_ERR_RANGE when out_len is 0 or over
 * CU_HKDF_SHA256_MAX_OUT, CU_ERR_INVAL for a NULL buffer with a non-zero
 * length, CU_ERR_NOMEM or CU_ERR_CRYPTO. */
int cu_hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt,
                   size_t salt_len, const void *info, size_t info_len,
                   unsigned char *out, size_t out_len)
    __attribute__((warn_unused_result));

#endif

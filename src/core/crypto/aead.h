/* aead.h - one-shot AES-256-GCM for small records (sealed key material,
 * wrapped keys in the database). Large data uses seg.h, the segmented
 * streaming format.
 *
 * Sealed layout: nonce (12, random) || ciphertext || tag (16). */
#ifndef CU_AEAD_H
#define CU_AEAD_H

#include <stddef.h>

#define CU_AES256_KEY_LEN 32
#define CU_GCM_NONCE_LEN  12
#define CU_GCM_TAG_LEN    16
#define CU_AEAD_OVERHEAD  (CU_GCM_NONCE_LEN + CU_GCM_TAG_LEN)

/* cu_aead_seal - encrypt and authenticate pt (pt_len bytes, may be 0) with
 * aad bound in, under a fresh random nonce. out needs room for
 * pt_len + CU_AEAD_OVERHEAD bytes (out_cap); *out_len gets the length.
 * Returns 0, CU_ERR_RANGE (out too small or lengths too big) or
 * CU_ERR_CRYPTO. */
int cu_aead_seal(const unsigned char key[CU_AES256_KEY_LEN], const void *aad,
		 size_t aad_len, const void *pt, size_t pt_len,
		 unsigned char *out, size_t out_cap, size_t *out_len)
	__attribute__((warn_unused_result));

/* cu_aead_open - check and decrypt a sealed record. out needs room for
 * in_len - CU_AEAD_OVERHEAD bytes. Returns 0, CU_ERR_AUTH when the record
 * or aad was altered or the key is wrong (out is wiped then), CU_ERR_PARSE
 * when in_len < CU_AEAD_OVERHEAD, CU_ERR_RANGE, or CU_ERR_CRYPTO. */
int cu_aead_open(const unsigned char key[CU_AES256_KEY_LEN], const void *aad,
		 size_t aad_len, const void *in, size_t in_len,
		 unsigned char *out, size_t out_cap, size_t *out_len)
	__attribute__((warn_unused_result));

#endif

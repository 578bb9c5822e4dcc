/* aead.h - one-shot AES-256-GCM for small records (sealed key material,
 * wrapped keys in the database). Large data uses seg.h, the segmented
 * streaming format.
 *
 * Sealed layout: nonce (12, random) || ciphertext || tag (16). */
#ifndef CU_AEAD_H
#define CU_AEAD_H

#include <stddef.h>

#define CU_AES256_KEY_LEN  32
#define CU_GCM_NONCE_LEN   12
#define CU_GCM_TAG_LEN     16
#define CU_AEAD_OVERHEAD   (CU_GCM_NONCE_LEN + CU_GCM_TAG_LEN)
#define CU_GCM_TAG_MIN_LEN 4

/* cu_aead_seal - encrypt and authenticate pt (pt_len bytes, may be 0) with
 * aad bound in, under a fresh random nonce. out needs room for
 * pt_len + CU_AEAD_OVERHEAD bytes (out_cap); *out_len gets the length.
 * The caller owns every buffer; out is wiped on failure. Returns 0,
 * CU_ERR_RANGE (out too small or lengths too big), CU_ERR_NOMEM or
 * CU_ERR_CRYPTO (including a DRBG that cannot give a nonce). */
int cu_aead_seal(const unsigned char key[CU_AES256_KEY_LEN], const void *aad,
                 size_t aad_len, const void *pt, size_t pt_len,
                 unsigned char *out, size_t out_cap, size_t *out_len)
    __attribute__((warn_unused_result));

/* cu_aead_open - check and decrypt a sealed record. out needs room for
 * in_len - CU_AEAD_OVERHEAD bytes. Returns 0, CU_ERR_AUTH when the record
 * or aad was altered or the key is wrong (out is wiped then), CU_ERR_PARSE
 * when in_len < CU_AEAD_OVERHEAD, CU_ERR_RANGE (out too small), CU_ERR_NOMEM
 * or CU_ERR_CRYPTO. */
int cu_aead_open(const unsigned char key[CU_AES256_KEY_LEN], const void *aad,
                 size_t aad_len, const void *in, size_t in_len,
                 unsigned char *out, size_t out_cap, size_t *out_len)
    __attribute__((warn_unused_result));

/* Low-level GCM, for known-answer tests and for formats that manage their
 * own nonces (seg.h). Prefer cu_aead_seal/open: these calls leave nonce
 * uniqueness to the caller, and reusing a (key, iv) pair breaks GCM.
 *
 * key_len is 16, 24 or 32 (AES-128/192/256); iv_len 1..128 bytes (12 is
 * the only size for new designs); tag_len CU_GCM_TAG_MIN_LEN..16. aad may
 * be NULL when aad_len is 0. */

/* cu_gcm_encrypt - ct (pt_len bytes, may alias pt) and tag (tag_len bytes)
 * of pt under key and iv, with aad authenticated. ct may be NULL only when
 * pt_len is 0. Returns 0, CU_ERR_INVAL (key, tag length or NULL buffer),
 * CU_ERR_UNSUPPORTED (iv length), CU_ERR_RANGE (a length over INT_MAX),
 * CU_ERR_NOMEM or CU_ERR_CRYPTO; ct is wiped on failure. */
int cu_gcm_encrypt(const unsigned char *key, size_t key_len,
                   const unsigned char *iv, size_t iv_len, const void *aad,
                   size_t aad_len, const void *pt, size_t pt_len,
                   unsigned char *ct, unsigned char *tag, size_t tag_len)
    __attribute__((warn_unused_result));

/* cu_gcm_decrypt - check tag (tag_len bytes) over aad and ct, and write the
 * ct_len bytes of plaintext to pt (may alias ct; NULL only when ct_len is
 * 0). Returns 0, CU_ERR_AUTH when the tag does not verify (pt is wiped:
 * never use it then), or the errors of cu_gcm_encrypt. */
int cu_gcm_decrypt(const unsigned char *key, size_t key_len,
                   const unsigned char *iv, size_t iv_len, const void *aad,
                   size_t aad_len, const void *ct, size_t ct_len,
                   const unsigned char *tag, size_t tag_len, unsigned char *pt)
    __attribute__((warn_unused_result));

#endif

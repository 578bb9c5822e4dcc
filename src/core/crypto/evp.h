/* evp.h - the OpenSSL algorithms the project uses, fetched once.
 *
 * OpenSSL 3 resolves EVP_sha256(), EVP_aes_256_gcm() and the one-shot
 * HMAC() by name at every init: a search of its method store under a
 * lock, then a provider context made and freed. In a 4 KiB S3 GET the
 * lookups for one SHA-256, one HMAC, one key unwrap and one AES-GCM init
 * cost more than the work they set up (perf: about a tenth of the
 * store's CPU, with lock waits between threads). The objects here are
 * fetched once ("explicit fetching", OpenSSL's crypto(7), Performance)
 * and shared read-only by every thread; they live until the process
 * ends. If a fetch ever fails, the legacy object is returned instead:
 * slower, the same result. */
#ifndef CU_CRYPTO_EVP_H
#define CU_CRYPTO_EVP_H

#include <openssl/evp.h>

enum cu_evp_md {
	CU_EVP_SHA1,
	CU_EVP_SHA256,
	CU_EVP_SHA384,
	CU_EVP_SHA512,
	CU_EVP_MD5,
	CU_EVP_MD_COUNT
};

enum cu_evp_cipher {
	CU_EVP_AES128_GCM,
	CU_EVP_AES192_GCM,
	CU_EVP_AES256_GCM,
	CU_EVP_AES128_WRAP,
	CU_EVP_AES192_WRAP,
	CU_EVP_AES256_WRAP,
	CU_EVP_AES128_WRAP_PAD,
	CU_EVP_AES192_WRAP_PAD,
	CU_EVP_AES256_WRAP_PAD,
	CU_EVP_CIPHER_COUNT
};

/* cu_evp_md - the digest; never NULL for a listed one. Not to be freed. */
const EVP_MD *cu_evp_md(enum cu_evp_md md);

/* cu_evp_cipher - the cipher; never NULL for a listed one. Not to be
 * freed. */
const EVP_CIPHER *cu_evp_cipher(enum cu_evp_cipher c);

/* cu_evp_hmac_new - a fresh HMAC context over `md` (CU_EVP_SHA1 or
 * CU_EVP_SHA256) without a key: give it one with EVP_MAC_init. The
 * caller frees it with EVP_MAC_CTX_free (which wipes the key). NULL when
 * out of memory, for another digest, or when OpenSSL offered no HMAC. */
EVP_MAC_CTX *cu_evp_hmac_new(enum cu_evp_md md);

/* cu_evp_hmac - out (exactly out_len bytes: the digest's size) = HMAC
 * over `md` (as cu_evp_hmac_new) of msg under key; either may be empty
 * (NULL with length 0); out is wiped on failure. Returns 0, CU_ERR_INVAL
 * (another digest), CU_ERR_NOMEM or CU_ERR_CRYPTO (also for an out_len
 * that is not the digest's size). */
int cu_evp_hmac(enum cu_evp_md md, const void *key, size_t key_len,
                const void *msg, size_t msg_len, unsigned char *out,
                size_t out_len);

#endif

#include "core/crypto/kdf.h"
#include "core/err.h"
#include "core/secmem.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

int cu_hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt,
                   size_t salt_len, const void *info, size_t info_len,
                   unsigned char *out, size_t out_len)
{
	/* OpenSSL copies the key parameter; a zero-length key still needs
	 * a valid pointer to copy from. */
	static unsigned char empty[1];
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[5], *p = params;
	int r = CU_ERR_CRYPTO;

	if (out_len == 0 || out_len > CU_HKDF_SHA256_MAX_OUT)
		return CU_ERR_RANGE;
	if (out == NULL || (ikm_len > 0 && ikm == NULL) ||
	    (salt_len > 0 && salt == NULL) || (info_len > 0 && info == NULL))
		return CU_ERR_INVAL;
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL)
		goto out;
	if ((ctx = EVP_KDF_CTX_new(kdf)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	                                        (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_KEY, ikm_len ? (void *)ikm : empty, ikm_len);
	/* No salt parameter means HashLen zeros, which HMAC treats exactly
	 * like an empty salt. */
	if (salt_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(
		    OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	if (info_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(
		    OSSL_KDF_PARAM_INFO, (void *)info, info_len);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, out_len, params) != 1)
		goto out;
	r = 0;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	if (r != 0)
		cu_memzero(out, out_len);
	return r;
}

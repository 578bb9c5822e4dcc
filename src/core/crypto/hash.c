#include "core/crypto/hash.h"
#include "core/crypto/evp.h"
#include "core/err.h"

#include <openssl/evp.h>
#include <stdlib.h>

struct cu_hash {
	EVP_MD_CTX *ctx;
};

int cu_sha256(const void *msg, size_t len, unsigned char out[CU_SHA256_LEN])
{
	unsigned int n = 0;
	static const unsigned char empty[1];

	if (EVP_Digest(len ? msg : empty, len, out, &n,
	               cu_evp_md(CU_EVP_SHA256), NULL) != 1 ||
	    n != CU_SHA256_LEN)
		return CU_ERR_CRYPTO;
	return 0;
}

int cu_hmac_sha256(const void *key, size_t key_len, const void *msg,
                   size_t msg_len, unsigned char out[CU_SHA256_LEN])
{
	if (key_len > (size_t)INT32_MAX)
		return CU_ERR_RANGE;
	return cu_evp_hmac(CU_EVP_SHA256, key, key_len, msg, msg_len, out,
	                   CU_SHA256_LEN);
}

int cu_hash_new(enum cu_hash_alg alg, cu_hash_t **out)
{
	const EVP_MD *md;
	cu_hash_t *h = NULL;

	*out = NULL;
	switch (alg) {
	case CU_HASH_SHA256:
		md = cu_evp_md(CU_EVP_SHA256);
		break;
	case CU_HASH_MD5:
		md = cu_evp_md(CU_EVP_MD5);
		break;
	default:
		return CU_ERR_INVAL;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return CU_ERR_NOMEM;
	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL) {
		free(h);
		return CU_ERR_NOMEM;
	}
	if (EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
		cu_hash_free(h);
		return CU_ERR_CRYPTO;
	}
	*out = h;
	return 0;
}

int cu_hash_update(cu_hash_t *h, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	return EVP_DigestUpdate(h->ctx, data, len) == 1 ? 0 : CU_ERR_CRYPTO;
}

int cu_hash_final(cu_hash_t *h, unsigned char *out, size_t out_cap,
                  size_t *out_len)
{
	unsigned int n = 0;
	int size = EVP_MD_CTX_get_size(h->ctx);

	if (size <= 0)
		return CU_ERR_CRYPTO;
	if (out_cap < (size_t)size)
		return CU_ERR_RANGE;
	if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1)
		return CU_ERR_CRYPTO;
	*out_len = n;
	return 0;
}

void cu_hash_free(cu_hash_t *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

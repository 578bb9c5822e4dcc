#include "core/crypto/keywrap.h"
#include "core/crypto/evp.h"
#include "core/err.h"
#include "core/secmem.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <string.h>

static const EVP_CIPHER *wrap_cipher(size_t kek_len, int pad)
{
	switch (kek_len) {
	case 16:
		return cu_evp_cipher(pad ? CU_EVP_AES128_WRAP_PAD
		                         : CU_EVP_AES128_WRAP);
	case 24:
		return cu_evp_cipher(pad ? CU_EVP_AES192_WRAP_PAD
		                         : CU_EVP_AES192_WRAP);
	case 32:
		return cu_evp_cipher(pad ? CU_EVP_AES256_WRAP_PAD
		                         : CU_EVP_AES256_WRAP);
	default:
		return NULL;
	}
}

/* One EVP pass in either direction. EVP's update assumes the output has
 * room for the input plus a block, which is more than a wrap produces, so
 * the pass goes through a scratch buffer sized for that; on unwrap it holds
 * key material, hence locked memory, wiped on every path. */
static int wrap_pass(const unsigned char *kek, size_t kek_len, int pad, int enc,
                     const unsigned char *in, size_t in_len, unsigned char *out,
                     size_t out_cap, size_t *out_len)
{
	const EVP_CIPHER *cipher = wrap_cipher(kek_len, pad);
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *tmp = NULL;
	size_t tmp_len = in_len + 2 * CU_KW_BLOCK_LEN;
	int n = 0, fin = 0, r = CU_ERR_CRYPTO;

	*out_len = 0;
	if (cipher == NULL)
		return CU_ERR_INVAL;
	if ((tmp = cu_secmem_alloc(tmp_len)) == NULL)
		return CU_ERR_NOMEM;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex(ctx, cipher, NULL, kek, NULL, enc) != 1)
		goto out;
	if (EVP_CipherUpdate(ctx, tmp, &n, in, (int)in_len) != 1 || n <= 0 ||
	    EVP_CipherFinal_ex(ctx, tmp + n, &fin) != 1 || fin != 0) {
		/* On unwrap a failed pass is the integrity check failing;
		 * say nothing more about why. */
		r = enc ? CU_ERR_CRYPTO : CU_ERR_AUTH;
		goto out;
	}
	if ((size_t)n > out_cap) {
		r = CU_ERR_RANGE;
		goto out;
	}
	memcpy(out, tmp, (size_t)n);
	*out_len = (size_t)n;
	r = 0;
out:
	if (r != 0 && !enc)
		ERR_clear_error();
	EVP_CIPHER_CTX_free(ctx);
	cu_secmem_free(tmp, tmp_len);
	return r;
}

static int do_wrap(const unsigned char *kek, size_t kek_len, int pad,
                   const void *in, size_t in_len, unsigned char *out,
                   size_t out_cap, size_t *out_len)
{
	size_t need;

	*out_len = 0;
	if (wrap_cipher(kek_len, pad) == NULL || kek == NULL)
		return CU_ERR_INVAL;
	if (in_len < (pad ? CU_KWP_MIN_LEN : CU_KW_MIN_LEN) ||
	    in_len > CU_KW_MAX_LEN)
		return CU_ERR_RANGE;
	if (!pad && in_len % CU_KW_BLOCK_LEN != 0)
		return CU_ERR_INVAL;
	need = pad ? CU_KWP_WRAPPED_LEN(in_len) : CU_KW_WRAPPED_LEN(in_len);
	if (out_cap < need)
		return CU_ERR_RANGE;
	return wrap_pass(kek, kek_len, pad, 1, in, in_len, out, out_cap,
	                 out_len);
}

static int do_unwrap(const unsigned char *kek, size_t kek_len, int pad,
                     const void *in, size_t in_len, unsigned char *out,
                     size_t out_cap, size_t *out_len)
{
	int r;

	*out_len = 0;
	if (wrap_cipher(kek_len, pad) == NULL || kek == NULL)
		return CU_ERR_INVAL;
	/* A wrapped key is the integrity block plus at least one (KWP) or
	 * two (KW) semiblocks. */
	if (in_len % CU_KW_BLOCK_LEN != 0 ||
	    in_len < (pad ? 2 : 3) * CU_KW_BLOCK_LEN ||
	    in_len > CU_KW_WRAPPED_LEN(CU_KW_MAX_LEN))
		return CU_ERR_PARSE;
	if (out_cap < in_len - CU_KW_BLOCK_LEN)
		return CU_ERR_RANGE;
	r = wrap_pass(kek, kek_len, pad, 0, in, in_len, out, out_cap, out_len);
	if (r != 0)
		cu_memzero(out, in_len - CU_KW_BLOCK_LEN);
	return r;
}

int cu_kw_wrap(const unsigned char *kek, size_t kek_len, const void *in,
               size_t in_len, unsigned char *out, size_t out_cap,
               size_t *out_len)
{
	return do_wrap(kek, kek_len, 0, in, in_len, out, out_cap, out_len);
}

int cu_kw_unwrap(const unsigned char *kek, size_t kek_len, const void *in,
                 size_t in_len, unsigned char *out, size_t out_cap,
                 size_t *out_len)
{
	return do_unwrap(kek, kek_len, 0, in, in_len, out, out_cap, out_len);
}

int cu_kw_wrap_pad(const unsigned char *kek, size_t kek_len, const void *in,
                   size_t in_len, unsigned char *out, size_t out_cap,
                   size_t *out_len)
{
	return do_wrap(kek, kek_len, 1, in, in_len, out, out_cap, out_len);
}

int cu_kw_unwrap_pad(const unsigned char *kek, size_t kek_len, const void *in,
                     size_t in_len, unsigned char *out, size_t out_cap,
                     size_t *out_len)
{
	return do_unwrap(kek, kek_len, 1, in, in_len, out, out_cap, out_len);
}

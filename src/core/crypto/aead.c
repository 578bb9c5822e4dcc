#include "core/crypto/aead.h"
#include "core/crypto/evp.h"
#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/secmem.h"

#include <limits.h>
#include <openssl/evp.h>
#include <string.h>

/* EVP takes int lengths; keep every length well inside that. */
#define GCM_MAX_LEN ((size_t)INT_MAX - 64)

/* OpenSSL's GCM takes IVs of 1 to 128 bytes (its IV buffer); longer ones
 * are legal GCM but refused up front as unsupported. */
#define GCM_IV_MAX 128

static const unsigned char empty[1];

static const EVP_CIPHER *gcm_cipher(size_t key_len)
{
	switch (key_len) {
	case 16:
		return cu_evp_cipher(CU_EVP_AES128_GCM);
	case 24:
		return cu_evp_cipher(CU_EVP_AES192_GCM);
	case 32:
		return cu_evp_cipher(CU_EVP_AES256_GCM);
	default:
		return NULL;
	}
}

/* One GCM pass in either direction: enc 1 encrypts in to out and writes
 * the tag to tag_out; enc 0 decrypts in to out and checks tag_in. The two
 * public calls below give the contract; out is wiped on any failure. */
static int gcm_crypt(int enc, const unsigned char *key, size_t key_len,
                     const unsigned char *iv, size_t iv_len, const void *aad,
                     size_t aad_len, const void *in, size_t in_len,
                     unsigned char *out, const unsigned char *tag_in,
                     unsigned char *tag_out, size_t tag_len)
{
	const EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char tagbuf[CU_GCM_TAG_LEN], fin[CU_GCM_TAG_LEN];
	int n = 0, r = CU_ERR_CRYPTO;

	if ((cipher = gcm_cipher(key_len)) == NULL)
		return CU_ERR_INVAL;
	if (iv_len == 0 || iv_len > GCM_IV_MAX)
		return CU_ERR_UNSUPPORTED;
	if (tag_len < CU_GCM_TAG_MIN_LEN || tag_len > CU_GCM_TAG_LEN)
		return CU_ERR_INVAL;
	if (aad_len > GCM_MAX_LEN || in_len > GCM_MAX_LEN)
		return CU_ERR_RANGE;
	/* A NULL output would make EVP treat the input as AAD. */
	if ((in_len > 0 && out == NULL) || (aad_len > 0 && aad == NULL))
		return CU_ERR_INVAL;
	/* EVP wants a writable tag buffer. */
	if (!enc)
		memcpy(tagbuf, tag_in, tag_len);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return CU_ERR_NOMEM;
	if (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len,
	                        NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) != 1)
		goto out;
	if (aad_len > 0 &&
	    EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
		goto out;
	if (in_len > 0) {
		if (EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) != 1 ||
		    (size_t)n != in_len)
			goto out;
	}
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int)tag_len,
	                                tagbuf) != 1)
		goto out;
	/* GCM writes nothing at final; fin only keeps EVP from a NULL. When
	 * decrypting, the tag check happens here; until it passes, out is not
	 * to be trusted and is wiped on failure. */
	if (EVP_CipherFinal_ex(ctx, fin, &n) != 1 || n != 0) {
		if (!enc)
			r = CU_ERR_AUTH;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, (int)tag_len,
	                               tag_out) != 1)
		goto out;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (r != 0 && out != NULL)
		cu_memzero(out, in_len);
	return r;
}

int cu_gcm_encrypt(const unsigned char *key, size_t key_len,
                   const unsigned char *iv, size_t iv_len, const void *aad,
                   size_t aad_len, const void *pt, size_t pt_len,
                   unsigned char *ct, unsigned char *tag, size_t tag_len)
{
	return gcm_crypt(1, key, key_len, iv, iv_len, aad, aad_len, pt, pt_len,
	                 ct, NULL, tag, tag_len);
}

int cu_gcm_decrypt(const unsigned char *key, size_t key_len,
                   const unsigned char *iv, size_t iv_len, const void *aad,
                   size_t aad_len, const void *ct, size_t ct_len,
                   const unsigned char *tag, size_t tag_len, unsigned char *pt)
{
	return gcm_crypt(0, key, key_len, iv, iv_len, aad, aad_len, ct, ct_len,
	                 pt, tag, NULL, tag_len);
}

int cu_aead_seal(const unsigned char key[CU_AES256_KEY_LEN], const void *aad,
                 size_t aad_len, const void *pt, size_t pt_len,
                 unsigned char *out, size_t out_cap, size_t *out_len)
{
	int r;

	*out_len = 0;
	if (pt_len > GCM_MAX_LEN - CU_AEAD_OVERHEAD || aad_len > GCM_MAX_LEN)
		return CU_ERR_RANGE;
	if (out_cap < pt_len + CU_AEAD_OVERHEAD)
		return CU_ERR_RANGE;
	if ((r = cu_rand_bytes(out, CU_GCM_NONCE_LEN)) != 0)
		return r;
	r = cu_gcm_encrypt(key, CU_AES256_KEY_LEN, out, CU_GCM_NONCE_LEN,
	                   aad_len ? aad : empty, aad_len, pt_len ? pt : empty,
	                   pt_len, out + CU_GCM_NONCE_LEN,
	                   out + CU_GCM_NONCE_LEN + pt_len, CU_GCM_TAG_LEN);
	if (r != 0) {
		cu_memzero(out, pt_len + CU_AEAD_OVERHEAD);
		return r;
	}
	*out_len = pt_len + CU_AEAD_OVERHEAD;
	return 0;
}

int cu_aead_open(const unsigned char key[CU_AES256_KEY_LEN], const void *aad,
                 size_t aad_len, const void *in, size_t in_len,
                 unsigned char *out, size_t out_cap, size_t *out_len)
{
	const unsigned char *p = in;
	size_t ct_len;
	int r;

	*out_len = 0;
	if (in_len < CU_AEAD_OVERHEAD)
		return CU_ERR_PARSE;
	ct_len = in_len - CU_AEAD_OVERHEAD;
	if (ct_len > GCM_MAX_LEN || aad_len > GCM_MAX_LEN)
		return CU_ERR_RANGE;
	if (out_cap < ct_len)
		return CU_ERR_RANGE;
	r = cu_gcm_decrypt(key, CU_AES256_KEY_LEN, p, CU_GCM_NONCE_LEN,
	                   aad_len ? aad : empty, aad_len, p + CU_GCM_NONCE_LEN,
	                   ct_len, p + CU_GCM_NONCE_LEN + ct_len,
	                   CU_GCM_TAG_LEN, out);
	if (r != 0)
		return r;
	*out_len = ct_len;
	return 0;
}

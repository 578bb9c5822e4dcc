#include "core/crypto/rsa.h"
#include "core/err.h"
#include "core/secmem.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

struct cu_rsa {
	EVP_PKEY *pkey;
	int priv;
};

/* Hand *pkey over to a new handle *out; *pkey is NULL afterwards. On
 * failure *pkey stays the caller's. */
static int wrap_pkey(EVP_PKEY **pkey, int priv, cu_rsa_t **out)
{
	cu_rsa_t *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return CU_ERR_NOMEM;
	k->pkey = *pkey;
	k->priv = priv;
	*pkey = NULL;
	*out = k;
	return 0;
}

/* The OpenSSL name of a key encoding, or NULL when fmt is none. */
static const char *fmt_name(enum cu_rsa_format fmt)
{
	if (fmt == CU_RSA_DER)
		return "DER";
	if (fmt == CU_RSA_PEM)
		return "PEM";
	return NULL;
}

int cu_rsa_generate(unsigned bits, cu_rsa_t **out)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	int r = CU_ERR_CRYPTO;

	*out = NULL;
	if (bits != 2048 && bits != 3072 && bits != 4096)
		return CU_ERR_UNSUPPORTED;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) != 1 ||
	    EVP_PKEY_generate(ctx, &pkey) != 1)
		goto out;
	r = wrap_pkey(&pkey, 1, out);
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* Never prompt for a passphrase: encrypted keys are simply refused. */
static int no_passphrase(char *pass, size_t pass_size, size_t *pass_len,
                         const OSSL_PARAM params[], void *arg)
{
	return 0;
}

static int check_loaded(EVP_PKEY *pkey)
{
	int bits;

	if (!EVP_PKEY_is_a(pkey, "RSA"))
		return CU_ERR_UNSUPPORTED;
	bits = EVP_PKEY_get_bits(pkey);
	if (bits < CU_RSA_MIN_BITS || bits > CU_RSA_MAX_BITS)
		return CU_ERR_UNSUPPORTED;
	return 0;
}

static int load(const void *buf, size_t len, enum cu_rsa_format fmt, int priv,
                cu_rsa_t **out)
{
	OSSL_DECODER_CTX *dctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *d = NULL;
	const unsigned char *p = buf;
	size_t left = len;
	const char *type;
	int r = CU_ERR_PARSE;

	*out = NULL;
	if ((type = fmt_name(fmt)) == NULL)
		return CU_ERR_INVAL;
	if (buf == NULL || len == 0)
		return CU_ERR_PARSE;
	dctx = OSSL_DECODER_CTX_new_for_pkey(
	    &pkey, type, NULL, "RSA",
	    priv ? OSSL_KEYMGMT_SELECT_KEYPAIR : OSSL_KEYMGMT_SELECT_PUBLIC_KEY,
	    NULL, NULL);
	if (dctx == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if (OSSL_DECODER_CTX_set_passphrase_cb(dctx, no_passphrase, NULL) !=
	    1) {
		r = CU_ERR_CRYPTO;
		goto out;
	}
	if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || pkey == NULL)
		goto out;
	/* One DER structure and nothing after it (PEM may end in
	 * whitespace, which the decoder leaves over). */
	if (fmt == CU_RSA_DER && left != 0)
		goto out;
	if ((r = check_loaded(pkey)) != 0)
		goto out;
	if (priv &&
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &d) != 1) {
		r = CU_ERR_PARSE;
		goto out;
	}
	r = wrap_pkey(&pkey, priv, out);
out:
	BN_clear_free(d);
	EVP_PKEY_free(pkey);
	OSSL_DECODER_CTX_free(dctx);
	/* Leave no decoder detail behind for anyone to turn into an
	 * oracle. */
	ERR_clear_error();
	return r;
}

int cu_rsa_load_private(const void *buf, size_t len, enum cu_rsa_format fmt,
                        cu_rsa_t **out)
{
	return load(buf, len, fmt, 1, out);
}

int cu_rsa_load_public(const void *buf, size_t len, enum cu_rsa_format fmt,
                       cu_rsa_t **out)
{
	return load(buf, len, fmt, 0, out);
}

static int save(const cu_rsa_t *key, enum cu_rsa_format fmt, int priv,
                unsigned char **out, size_t *out_len)
{
	OSSL_ENCODER_CTX *ectx = NULL;
	unsigned char *data = NULL;
	size_t len = 0;
	const char *type;
	int r = CU_ERR_CRYPTO;

	*out = NULL;
	*out_len = 0;
	if ((type = fmt_name(fmt)) == NULL)
		return CU_ERR_INVAL;
	if (priv && !key->priv)
		return CU_ERR_STATE;
	ectx = OSSL_ENCODER_CTX_new_for_pkey(
	    key->pkey,
	    priv ? OSSL_KEYMGMT_SELECT_KEYPAIR : OSSL_KEYMGMT_SELECT_PUBLIC_KEY,
	    type, priv ? "PrivateKeyInfo" : "SubjectPublicKeyInfo", NULL);
	if (ectx == NULL || OSSL_ENCODER_CTX_get_num_encoders(ectx) == 0)
		goto out;
	if (OSSL_ENCODER_to_data(ectx, &data, &len) != 1 || data == NULL)
		goto out;
	*out = data;
	*out_len = len;
	r = 0;
out:
	OSSL_ENCODER_CTX_free(ectx);
	return r;
}

int cu_rsa_save_private(const cu_rsa_t *key, enum cu_rsa_format fmt,
                        unsigned char **out, size_t *out_len)
{
	return save(key, fmt, 1, out, out_len);
}

int cu_rsa_save_public(const cu_rsa_t *key, enum cu_rsa_format fmt,
                       unsigned char **out, size_t *out_len)
{
	return save(key, fmt, 0, out, out_len);
}

void cu_rsa_buf_free(unsigned char *buf, size_t len)
{
	if (buf != NULL)
		OPENSSL_clear_free(buf, len);
}

static int bn_out(const EVP_PKEY *pkey, const char *name, unsigned char *buf,
                  size_t cap, size_t *len)
{
	BIGNUM *bn = NULL;
	int n, r = CU_ERR_CRYPTO;

	*len = 0;
	if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
		goto out;
	n = BN_num_bytes(bn);
	if (n <= 0)
		goto out;
	if ((size_t)n > cap) {
		r = CU_ERR_RANGE;
		goto out;
	}
	if (BN_bn2bin(bn, buf) != n)
		goto out;
	*len = (size_t)n;
	r = 0;
out:
	BN_free(bn);
	return r;
}

int cu_rsa_public_ne(const cu_rsa_t *key, unsigned char *n, size_t n_cap,
                     size_t *n_len, unsigned char *e, size_t e_cap,
                     size_t *e_len)
{
	int r;

	*e_len = 0;
	if ((r = bn_out(key->pkey, OSSL_PKEY_PARAM_RSA_N, n, n_cap, n_len)) !=
	    0)
		return r;
	return bn_out(key->pkey, OSSL_PKEY_PARAM_RSA_E, e, e_cap, e_len);
}

int cu_rsa_from_ne(const unsigned char *n, size_t n_len, const unsigned char *e,
                   size_t e_len, cu_rsa_t **out)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	int bits, r = CU_ERR_CRYPTO;

	*out = NULL;
	if (n == NULL || e == NULL)
		return CU_ERR_INVAL;
	/* Leading zero bytes carry no value; strip them before sizing. */
	while (n_len > 0 && n[0] == 0) {
		n++;
		n_len--;
	}
	while (e_len > 0 && e[0] == 0) {
		e++;
		e_len--;
	}
	if (n_len < CU_RSA_MIN_BITS / 8 || n_len > CU_RSA_MAX_LEN)
		return CU_ERR_UNSUPPORTED;
	if (e_len == 0 || e_len > CU_RSA_MAX_E_LEN || (e[e_len - 1] & 1) == 0 ||
	    (e_len == 1 && e[0] < 3) || (n[n_len - 1] & 1) == 0)
		return CU_ERR_INVAL;
	if ((bn_n = BN_bin2bn(n, (int)n_len, NULL)) == NULL ||
	    (bn_e = BN_bin2bn(e, (int)e_len, NULL)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	bits = BN_num_bits(bn_n);
	if (bits < CU_RSA_MIN_BITS || bits > CU_RSA_MAX_BITS) {
		r = CU_ERR_UNSUPPORTED;
		goto out;
	}
	if (BN_cmp(bn_e, bn_n) >= 0) {
		r = CU_ERR_INVAL;
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL)
		goto out;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	r = wrap_pkey(&pkey, 0, out);
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	return r;
}

unsigned cu_rsa_bits(const cu_rsa_t *key)
{
	int b = EVP_PKEY_get_bits(key->pkey);

	return b > 0 ? (unsigned)b : 0;
}

size_t cu_rsa_size(const cu_rsa_t *key)
{
	int s = EVP_PKEY_get_size(key->pkey);

	return s > 0 ? (size_t)s : 0;
}

int cu_rsa_has_private(const cu_rsa_t *key)
{
	return key->priv;
}

static size_t hash_len(enum cu_rsa_oaep hash)
{
	return hash == CU_RSA_OAEP_SHA1 ? 20 : 32;
}

size_t cu_rsa_oaep_max_len(const cu_rsa_t *key, enum cu_rsa_oaep hash)
{
	size_t k = cu_rsa_size(key), h = hash_len(hash);

	return k > 2 * h + 2 ? k - 2 * h - 2 : 0;
}

/* An EVP_PKEY_CTX set up for OAEP in one direction. */
static int oaep_ctx(const cu_rsa_t *key, enum cu_rsa_oaep hash,
                    const void *label, size_t label_len, int enc,
                    EVP_PKEY_CTX **out)
{
	OSSL_PARAM params[5], *p = params;
	EVP_PKEY_CTX *ctx = NULL;
	const char *md;
	int ok;

	*out = NULL;
	if (hash == CU_RSA_OAEP_SHA256)
		md = "SHA256";
	else if (hash == CU_RSA_OAEP_SHA1)
		md = "SHA1";
	else
		return CU_ERR_INVAL;
	if (label_len > CU_RSA_MAX_LABEL_LEN)
		return CU_ERR_RANGE;
	if (label_len > 0 && label == NULL)
		return CU_ERR_INVAL;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL)) == NULL)
		return CU_ERR_NOMEM;
	*p++ = OSSL_PARAM_construct_utf8_string(
	    OSSL_ASYM_CIPHER_PARAM_PAD_MODE,
	    (char *)OSSL_PKEY_RSA_PAD_MODE_OAEP, 0);
	*p++ = OSSL_PARAM_construct_utf8_string(
	    OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, (char *)md, 0);
	*p++ = OSSL_PARAM_construct_utf8_string(
	    OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, (char *)md, 0);
	/* The provider copies the label. */
	if (label_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(
		    OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, (void *)label,
		    label_len);
	*p = OSSL_PARAM_construct_end();
	ok = enc ? EVP_PKEY_encrypt_init_ex(ctx, params)
	         : EVP_PKEY_decrypt_init_ex(ctx, params);
	if (ok != 1) {
		EVP_PKEY_CTX_free(ctx);
		return CU_ERR_CRYPTO;
	}
	*out = ctx;
	return 0;
}

int cu_rsa_oaep_wrap(const cu_rsa_t *key, enum cu_rsa_oaep hash,
                     const void *label, size_t label_len, const void *in,
                     size_t in_len, unsigned char *out, size_t out_cap,
                     size_t *out_len)
{
	EVP_PKEY_CTX *ctx = NULL;
	size_t len;
	int r;

	*out_len = 0;
	if (in == NULL && in_len > 0)
		return CU_ERR_INVAL;
	if (in_len > cu_rsa_oaep_max_len(key, hash))
		return CU_ERR_RANGE;
	if (out_cap < cu_rsa_size(key))
		return CU_ERR_RANGE;
	if ((r = oaep_ctx(key, hash, label, label_len, 1, &ctx)) != 0)
		return r;
	len = out_cap;
	if (EVP_PKEY_encrypt(ctx, out, &len, in_len ? in : (const void *)"",
	                     in_len) != 1) {
		r = CU_ERR_CRYPTO;
		goto out;
	}
	*out_len = len;
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int cu_rsa_oaep_unwrap(const cu_rsa_t *key, enum cu_rsa_oaep hash,
                       const void *label, size_t label_len, const void *in,
                       size_t in_len, unsigned char *out, size_t out_cap,
                       size_t *out_len)
{
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char *tmp = NULL;
	size_t k = cu_rsa_size(key), len = 0;
	int r;

	*out_len = 0;
	if (!key->priv)
		return CU_ERR_STATE;
	if (in == NULL || out == NULL)
		return CU_ERR_INVAL;
	/* Every OAEP ciphertext is exactly the modulus size. */
	if (in_len != k)
		return CU_ERR_AUTH;
	if ((r = oaep_ctx(key, hash, label, label_len, 0, &ctx)) != 0)
		return r;
	/* The provider wants room for a whole modulus; decrypt into locked
	 * scratch memory and copy only what the padding says is the key. */
	if ((tmp = cu_secmem_alloc(k)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	len = k;
	if (EVP_PKEY_decrypt(ctx, tmp, &len, in, in_len) != 1) {
		r = CU_ERR_AUTH;
		goto out;
	}
	if (len > out_cap) {
		r = CU_ERR_RANGE;
		goto out;
	}
	memcpy(out, tmp, len);
	*out_len = len;
	r = 0;
out:
	if (r != 0) {
		/* One answer for every failure: no padding-oracle detail in
		 * the error queue either. */
		ERR_clear_error();
		if (out != NULL)
			cu_memzero(out, out_cap < k ? out_cap : k);
	}
	cu_secmem_free(tmp, k);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

void cu_rsa_free(cu_rsa_t *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

#include "core/crypto/evp.h"
#include "core/err.h"
#include "core/secmem.h"

#include <openssl/core_names.h>
#include <openssl/params.h>
#include <pthread.h>

static const char *const md_names[CU_EVP_MD_COUNT] = {
    [CU_EVP_SHA1] = "SHA1",     [CU_EVP_SHA256] = "SHA256",
    [CU_EVP_SHA384] = "SHA384", [CU_EVP_SHA512] = "SHA512",
    [CU_EVP_MD5] = "MD5",
};

static const char *const cipher_names[CU_EVP_CIPHER_COUNT] = {
    [CU_EVP_AES128_GCM] = "AES-128-GCM",
    [CU_EVP_AES192_GCM] = "AES-192-GCM",
    [CU_EVP_AES256_GCM] = "AES-256-GCM",
    [CU_EVP_AES128_WRAP] = "AES-128-WRAP",
    [CU_EVP_AES192_WRAP] = "AES-192-WRAP",
    [CU_EVP_AES256_WRAP] = "AES-256-WRAP",
    [CU_EVP_AES128_WRAP_PAD] = "AES-128-WRAP-PAD",
    [CU_EVP_AES192_WRAP_PAD] = "AES-192-WRAP-PAD",
    [CU_EVP_AES256_WRAP_PAD] = "AES-256-WRAP-PAD",
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *mds[CU_EVP_MD_COUNT];
static EVP_CIPHER *ciphers[CU_EVP_CIPHER_COUNT];
/* HMAC contexts with their digest set and no key, to be copied */
static EVP_MAC_CTX *hmac_sha1, *hmac_sha256;

static EVP_MAC_CTX *hmac_template(EVP_MAC *mac, const char *md)
{
	OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(
	                      OSSL_MAC_PARAM_DIGEST, (char *)md, 0),
	                  OSSL_PARAM_construct_end()};
	EVP_MAC_CTX *c = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;

	if (c != NULL && EVP_MAC_CTX_set_params(c, p) != 1) {
		EVP_MAC_CTX_free(c);
		c = NULL;
	}
	return c;
}

static void fetch_all(void)
{
	EVP_MAC *mac;

	for (int i = 0; i < CU_EVP_MD_COUNT; i++)
		mds[i] = EVP_MD_fetch(NULL, md_names[i], NULL);
	for (int i = 0; i < CU_EVP_CIPHER_COUNT; i++)
		ciphers[i] = EVP_CIPHER_fetch(NULL, cipher_names[i], NULL);
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	hmac_sha1 = hmac_template(mac, "SHA1");
	hmac_sha256 = hmac_template(mac, "SHA256");
	EVP_MAC_free(mac); /* the contexts hold their own references */
}

/* what to fall back on if a fetch failed */
static const EVP_MD *(*const legacy_md[CU_EVP_MD_COUNT])(void) = {
    [CU_EVP_SHA1] = EVP_sha1,     [CU_EVP_SHA256] = EVP_sha256,
    [CU_EVP_SHA384] = EVP_sha384, [CU_EVP_SHA512] = EVP_sha512,
    [CU_EVP_MD5] = EVP_md5,
};

static const EVP_CIPHER *(*const legacy_cipher[CU_EVP_CIPHER_COUNT])(void) = {
    [CU_EVP_AES128_GCM] = EVP_aes_128_gcm,
    [CU_EVP_AES192_GCM] = EVP_aes_192_gcm,
    [CU_EVP_AES256_GCM] = EVP_aes_256_gcm,
    [CU_EVP_AES128_WRAP] = EVP_aes_128_wrap,
    [CU_EVP_AES192_WRAP] = EVP_aes_192_wrap,
    [CU_EVP_AES256_WRAP] = EVP_aes_256_wrap,
    [CU_EVP_AES128_WRAP_PAD] = EVP_aes_128_wrap_pad,
    [CU_EVP_AES192_WRAP_PAD] = EVP_aes_192_wrap_pad,
    [CU_EVP_AES256_WRAP_PAD] = EVP_aes_256_wrap_pad,
};

const EVP_MD *cu_evp_md(enum cu_evp_md md)
{
	if ((unsigned)md >= CU_EVP_MD_COUNT)
		return NULL;
	pthread_once(&once, fetch_all);
	return mds[md] != NULL ? mds[md] : legacy_md[md]();
}

const EVP_CIPHER *cu_evp_cipher(enum cu_evp_cipher c)
{
	if ((unsigned)c >= CU_EVP_CIPHER_COUNT)
		return NULL;
	pthread_once(&once, fetch_all);
	return ciphers[c] != NULL ? ciphers[c] : legacy_cipher[c]();
}

EVP_MAC_CTX *cu_evp_hmac_new(enum cu_evp_md md)
{
	EVP_MAC_CTX *t;

	pthread_once(&once, fetch_all);
	t = md == CU_EVP_SHA1     ? hmac_sha1
	    : md == CU_EVP_SHA256 ? hmac_sha256
	                          : NULL;
	return t != NULL ? EVP_MAC_CTX_dup(t) : NULL;
}

int cu_evp_hmac(enum cu_evp_md md, const void *key, size_t key_len,
                const void *msg, size_t msg_len, unsigned char *out,
                size_t out_len)
{
	/* OpenSSL copies the key; an empty one still needs a pointer */
	static const unsigned char empty[1];
	EVP_MAC_CTX *c = cu_evp_hmac_new(md);
	size_t n = 0;
	int r = CU_ERR_CRYPTO;

	if (c == NULL)
		return md == CU_EVP_SHA1 || md == CU_EVP_SHA256 ? CU_ERR_NOMEM
		                                                : CU_ERR_INVAL;
	if (EVP_MAC_init(c, key_len ? key : empty, key_len, NULL) == 1 &&
	    EVP_MAC_update(c, msg_len ? msg : empty, msg_len) == 1 &&
	    EVP_MAC_final(c, out, &n, out_len) == 1 && n == out_len)
		r = 0;
	EVP_MAC_CTX_free(c); /* wipes the key */
	if (r != 0)
		cu_memzero(out, out_len);
	return r;
}

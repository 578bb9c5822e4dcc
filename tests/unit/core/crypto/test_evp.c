/* Unit tests for core/crypto/evp: every algorithm fetched once is the
 * one its name says (same NID and sizes as OpenSSL's legacy object, same
 * answer on a known input), HMAC contexts copied from the templates
 * compute RFC 4231 / RFC 2202 answers and do not share state, and names
 * outside the lists give NULL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/crypto/evp.h"
#include "core/err.h"

static void every_digest_is_the_named_one(void **state)
{
	const EVP_MD *legacy[CU_EVP_MD_COUNT] = {
	    [CU_EVP_SHA1] = EVP_sha1(),     [CU_EVP_SHA256] = EVP_sha256(),
	    [CU_EVP_SHA384] = EVP_sha384(), [CU_EVP_SHA512] = EVP_sha512(),
	    [CU_EVP_MD5] = EVP_md5(),
	};
	unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
	unsigned int na = 0, nb = 0;

	(void)state;
	for (int i = 0; i < CU_EVP_MD_COUNT; i++) {
		const EVP_MD *md = cu_evp_md((enum cu_evp_md)i);
		assert_non_null(md);
		assert_int_equal(EVP_MD_get_type(md),
		                 EVP_MD_get_type(legacy[i]));
		assert_int_equal(EVP_MD_get_size(md),
		                 EVP_MD_get_size(legacy[i]));
		assert_int_equal(EVP_Digest("abc", 3, a, &na, md, NULL), 1);
		assert_int_equal(EVP_Digest("abc", 3, b, &nb, legacy[i], NULL),
		                 1);
		assert_int_equal(na, nb);
		assert_memory_equal(a, b, na);
		/* the same object every time: fetched once */
		assert_ptr_equal(md, cu_evp_md((enum cu_evp_md)i));
	}
	assert_null(cu_evp_md(CU_EVP_MD_COUNT));
	assert_null(cu_evp_md((enum cu_evp_md) - 1));
}

static void every_cipher_is_the_named_one(void **state)
{
	const EVP_CIPHER *legacy[CU_EVP_CIPHER_COUNT] = {
	    [CU_EVP_AES128_GCM] = EVP_aes_128_gcm(),
	    [CU_EVP_AES192_GCM] = EVP_aes_192_gcm(),
	    [CU_EVP_AES256_GCM] = EVP_aes_256_gcm(),
	    [CU_EVP_AES128_WRAP] = EVP_aes_128_wrap(),
	    [CU_EVP_AES192_WRAP] = EVP_aes_192_wrap(),
	    [CU_EVP_AES256_WRAP] = EVP_aes_256_wrap(),
	    [CU_EVP_AES128_WRAP_PAD] = EVP_aes_128_wrap_pad(),
	    [CU_EVP_AES192_WRAP_PAD] = EVP_aes_192_wrap_pad(),
	    [CU_EVP_AES256_WRAP_PAD] = EVP_aes_256_wrap_pad(),
	};

	(void)state;
	for (int i = 0; i < CU_EVP_CIPHER_COUNT; i++) {
		const EVP_CIPHER *c = cu_evp_cipher((enum cu_evp_cipher)i);
		assert_non_null(c);
		assert_int_equal(EVP_CIPHER_get_nid(c),
		                 EVP_CIPHER_get_nid(legacy[i]));
		assert_int_equal(EVP_CIPHER_get_key_length(c),
		                 EVP_CIPHER_get_key_length(legacy[i]));
		assert_int_equal(EVP_CIPHER_get_mode(c),
		                 EVP_CIPHER_get_mode(legacy[i]));
		assert_ptr_equal(c, cu_evp_cipher((enum cu_evp_cipher)i));
	}
	assert_null(cu_evp_cipher(CU_EVP_CIPHER_COUNT));
}

static void hmac(enum cu_evp_md md, const char *key, const char *msg,
                 unsigned char *out, size_t cap, size_t *n)
{
	EVP_MAC_CTX *c = cu_evp_hmac_new(md);

	assert_non_null(c);
	assert_int_equal(
	    EVP_MAC_init(c, (const unsigned char *)key, strlen(key), NULL), 1);
	assert_int_equal(
	    EVP_MAC_update(c, (const unsigned char *)msg, strlen(msg)), 1);
	assert_int_equal(EVP_MAC_final(c, out, n, cap), 1);
	EVP_MAC_CTX_free(c);
}

/* RFC 4231 test case 2 and RFC 2202 test case 2: key "Jefe" */
static void hmac_copies_give_the_rfc_answers(void **state)
{
	static const unsigned char want256[32] = {
	    0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
	    0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
	    0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
	static const unsigned char want1[20] = {
	    0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74,
	    0x16, 0xd5, 0xf1, 0x84, 0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79};
	const char *msg = "what do ya want for nothing?";
	unsigned char out[64];
	size_t n = 0;

	(void)state;
	/* twice each: a copy starts clean whatever the one before did */
	for (int i = 0; i < 2; i++) {
		hmac(CU_EVP_SHA256, "Jefe", msg, out, sizeof(out), &n);
		assert_int_equal(n, 32);
		assert_memory_equal(out, want256, 32);
		hmac(CU_EVP_SHA1, "Jefe", msg, out, sizeof(out), &n);
		assert_int_equal(n, 20);
		assert_memory_equal(out, want1, 20);
	}
	assert_null(cu_evp_hmac_new(CU_EVP_MD5));
	assert_null(cu_evp_hmac_new(CU_EVP_MD_COUNT));
	/* the one-shot form: the same answers, a wrong length refused */
	assert_int_equal(
	    cu_evp_hmac(CU_EVP_SHA256, "Jefe", 4, msg, strlen(msg), out, 32),
	    0);
	assert_memory_equal(out, want256, 32);
	assert_int_equal(
	    cu_evp_hmac(CU_EVP_SHA1, "Jefe", 4, msg, strlen(msg), out, 20), 0);
	assert_memory_equal(out, want1, 20);
	memset(out, 0xee, sizeof(out));
	assert_int_equal(
	    cu_evp_hmac(CU_EVP_SHA256, "Jefe", 4, msg, strlen(msg), out, 31),
	    CU_ERR_CRYPTO);
	for (size_t i = 0; i < 31; i++)
		assert_int_equal(out[i], 0); /* wiped */
	assert_int_equal(cu_evp_hmac(CU_EVP_MD5, "k", 1, "m", 1, out, 16),
	                 CU_ERR_INVAL);
}

static void *hmac_many(void *arg)
{
	unsigned char out[64], first[64];
	size_t n = 0;

	(void)arg;
	hmac(CU_EVP_SHA256, "key", "message", first, sizeof(first), &n);
	for (int i = 0; i < 2000; i++) {
		hmac(CU_EVP_SHA256, "key", "message", out, sizeof(out), &n);
		if (memcmp(out, first, 32) != 0)
			return (void *)1;
	}
	return NULL;
}

static void hmac_contexts_are_safe_across_threads(void **state)
{
	pthread_t t[4];
	void *r;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hmac_many, NULL),
		                 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &r), 0);
		assert_null(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_digest_is_the_named_one),
	    cmocka_unit_test(every_cipher_is_the_named_one),
	    cmocka_unit_test(hmac_copies_give_the_rfc_answers),
	    cmocka_unit_test(hmac_contexts_are_safe_across_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for core/crypto/aead: one-shot seal/open and the low-level
 * GCM calls, against Wycheproof's aes_gcm_test.json.
 *
 * Wycheproof semantics: every "valid" case must encrypt to the expected
 * ciphertext and tag and decrypt back; every "invalid" one must be
 * refused. The file has no "acceptable" case. OpenSSL's GCM takes IVs of
 * 1 to 128 bytes: the three valid cases with a 257-byte IV are counted as
 * skipped; the empty IV is "invalid" and refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto/aead.h"
#include "core/err.h"
#include "helpers/vectors.h"

static enum tv_outcome gcm_case(const json_t *group, const json_t *test,
                                void *arg)
{
	struct tv_bytes key, iv, aad, msg, ct, tag;
	enum tv_expect want = tv_expect_of(test);
	enum tv_outcome o = TV_FAIL;
	unsigned char *buf = NULL, tagbuf[CU_GCM_TAG_LEN];
	int r;

	if (tv_hex(test, "key", &key) | tv_hex(test, "iv", &iv) |
	    tv_hex(test, "aad", &aad) | tv_hex(test, "msg", &msg) |
	    tv_hex(test, "ct", &ct) | tv_hex(test, "tag", &tag))
		goto out;
	if ((buf = malloc(msg.len + ct.len + 1)) == NULL)
		goto out;
	r = cu_gcm_decrypt(key.data, key.len, iv.data, iv.len, aad.data,
	                   aad.len, ct.data, ct.len, tag.data, tag.len, buf);
	if (r == CU_ERR_UNSUPPORTED && iv.len > 0) {
		/* An IV size OpenSSL does not take at all. */
		o = want == TV_INVALID ? TV_PASS : TV_SKIP;
		goto out;
	}
	if (want == TV_INVALID) {
		o = r != 0 ? TV_PASS : TV_FAIL;
		goto out;
	}
	if (r != 0 || ct.len != msg.len || memcmp(buf, msg.data, msg.len) != 0)
		goto out;
	/* valid (or acceptable, treated alike): encryption must agree too. */
	r = cu_gcm_encrypt(key.data, key.len, iv.data, iv.len, aad.data,
	                   aad.len, msg.data, msg.len, buf, tagbuf, tag.len);
	if (r != 0 || memcmp(buf, ct.data, ct.len) != 0 ||
	    memcmp(tagbuf, tag.data, tag.len) != 0)
		goto out;
	o = TV_PASS;
out:
	free(buf);
	tv_bytes_free(&key);
	tv_bytes_free(&iv);
	tv_bytes_free(&aad);
	tv_bytes_free(&msg);
	tv_bytes_free(&ct);
	tv_bytes_free(&tag);
	return o;
}

static void every_wycheproof_gcm_case_gives_the_expected_answer(void **state)
{
	assert_int_equal(
	    tv_run_wycheproof("aes_gcm_test.json", gcm_case, NULL, NULL), 0);
}

static const unsigned char key1[CU_AES256_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
static const unsigned char key2[CU_AES256_KEY_LEN] = {8, 7, 6, 5, 4, 3, 2, 1};

static void sealed_record_opens_with_same_key_and_aad(void **state)
{
	const char msg[] = "tenant key v1 material";
	unsigned char sealed[sizeof(msg) + CU_AEAD_OVERHEAD], out[sizeof(msg)];
	size_t n = 0, m = 0;

	assert_int_equal(cu_aead_seal(key1, "aad", 3, msg, sizeof(msg), sealed,
	                              sizeof(sealed), &n),
	                 0);
	assert_int_equal(n, sizeof(msg) + CU_AEAD_OVERHEAD);
	assert_int_equal(
	    cu_aead_open(key1, "aad", 3, sealed, n, out, sizeof(out), &m), 0);
	assert_int_equal(m, sizeof(msg));
	assert_memory_equal(out, msg, sizeof(msg));
}

static void empty_plaintext_and_empty_aad_round_trip(void **state)
{
	unsigned char sealed[CU_AEAD_OVERHEAD], out[1];
	size_t n = 0, m = 1;

	assert_int_equal(
	    cu_aead_seal(key1, NULL, 0, NULL, 0, sealed, sizeof(sealed), &n),
	    0);
	assert_int_equal(n, CU_AEAD_OVERHEAD);
	assert_int_equal(cu_aead_open(key1, NULL, 0, sealed, n, out, 0, &m), 0);
	assert_int_equal(m, 0);
}

static void every_flipped_bit_of_a_sealed_record_is_refused(void **state)
{
	const unsigned char msg[5] = {'h', 'e', 'l', 'l', 'o'};
	unsigned char sealed[sizeof(msg) + CU_AEAD_OVERHEAD], out[sizeof(msg)];
	size_t n = 0, m = 0;

	assert_int_equal(cu_aead_seal(key1, "id", 2, msg, sizeof(msg), sealed,
	                              sizeof(sealed), &n),
	                 0);
	for (size_t i = 0; i < n * 8; i++) {
		sealed[i / 8] ^= (unsigned char)(1u << (i % 8));
		memset(out, 0xEE, sizeof(out));
		assert_int_equal(cu_aead_open(key1, "id", 2, sealed, n, out,
		                              sizeof(out), &m),
		                 CU_ERR_AUTH);
		assert_int_equal(m, 0);
		/* unauthenticated plaintext is never left behind */
		for (size_t j = 0; j < sizeof(out); j++)
			assert_int_equal(out[j], 0);
		sealed[i / 8] ^= (unsigned char)(1u << (i % 8));
	}
	assert_int_equal(
	    cu_aead_open(key1, "id", 2, sealed, n, out, sizeof(out), &m), 0);
}

static void open_with_wrong_key_or_aad_is_refused(void **state)
{
	unsigned char sealed[3 + CU_AEAD_OVERHEAD], out[3];
	size_t n = 0, m = 0;

	assert_int_equal(
	    cu_aead_seal(key1, "a", 1, "abc", 3, sealed, sizeof(sealed), &n),
	    0);
	assert_int_equal(
	    cu_aead_open(key2, "a", 1, sealed, n, out, sizeof(out), &m),
	    CU_ERR_AUTH);
	assert_int_equal(
	    cu_aead_open(key1, "b", 1, sealed, n, out, sizeof(out), &m),
	    CU_ERR_AUTH);
	assert_int_equal(
	    cu_aead_open(key1, NULL, 0, sealed, n, out, sizeof(out), &m),
	    CU_ERR_AUTH);
}

static void truncated_record_and_small_buffers_are_refused(void **state)
{
	unsigned char sealed[8 + CU_AEAD_OVERHEAD], out[8];
	size_t n = 0, m = 0;

	assert_int_equal(cu_aead_seal(key1, NULL, 0, "12345678", 8, sealed,
	                              sizeof(sealed) - 1, &n),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_aead_seal(key1, NULL, 0, "12345678", 8, sealed,
	                              sizeof(sealed), &n),
	                 0);
	assert_int_equal(cu_aead_open(key1, NULL, 0, sealed,
	                              CU_AEAD_OVERHEAD - 1, out, 8, &m),
	                 CU_ERR_PARSE);
	assert_int_equal(cu_aead_open(key1, NULL, 0, sealed, n - 1, out, 8, &m),
	                 CU_ERR_AUTH);
	assert_int_equal(cu_aead_open(key1, NULL, 0, sealed, n, out, 7, &m),
	                 CU_ERR_RANGE);
}

static void two_seals_of_the_same_message_use_different_nonces(void **state)
{
	unsigned char a[4 + CU_AEAD_OVERHEAD], b[4 + CU_AEAD_OVERHEAD];
	size_t n = 0;

	assert_int_equal(
	    cu_aead_seal(key1, NULL, 0, "same", 4, a, sizeof(a), &n), 0);
	assert_int_equal(
	    cu_aead_seal(key1, NULL, 0, "same", 4, b, sizeof(b), &n), 0);
	assert_memory_not_equal(a, b, CU_GCM_NONCE_LEN);
	assert_memory_not_equal(a + CU_GCM_NONCE_LEN, b + CU_GCM_NONCE_LEN, 4);
}

static void low_level_gcm_refuses_bad_parameters(void **state)
{
	unsigned char iv[12] = {0}, tag[16], ct[4];

	assert_int_equal(
	    cu_gcm_encrypt(key1, 31, iv, 12, NULL, 0, "abcd", 4, ct, tag, 16),
	    CU_ERR_INVAL);
	assert_int_equal(
	    cu_gcm_encrypt(key1, 32, iv, 0, NULL, 0, "abcd", 4, ct, tag, 16),
	    CU_ERR_UNSUPPORTED);
	assert_int_equal(
	    cu_gcm_encrypt(key1, 32, iv, 12, NULL, 0, "abcd", 4, ct, tag, 17),
	    CU_ERR_INVAL);
	assert_int_equal(
	    cu_gcm_encrypt(key1, 32, iv, 12, NULL, 0, "abcd", 4, ct, tag, 3),
	    CU_ERR_INVAL);
	assert_int_equal(
	    cu_gcm_encrypt(key1, 32, iv, 12, NULL, 0, "abcd", 4, NULL, tag, 16),
	    CU_ERR_INVAL);
	/* a truncated tag still authenticates, at its own strength */
	assert_int_equal(
	    cu_gcm_encrypt(key1, 32, iv, 12, NULL, 0, "abcd", 4, ct, tag, 12),
	    0);
	assert_int_equal(
	    cu_gcm_decrypt(key1, 32, iv, 12, NULL, 0, ct, 4, tag, 12, ct), 0);
	assert_memory_equal(ct, "abcd", 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        every_wycheproof_gcm_case_gives_the_expected_answer),
	    cmocka_unit_test(sealed_record_opens_with_same_key_and_aad),
	    cmocka_unit_test(empty_plaintext_and_empty_aad_round_trip),
	    cmocka_unit_test(every_flipped_bit_of_a_sealed_record_is_refused),
	    cmocka_unit_test(open_with_wrong_key_or_aad_is_refused),
	    cmocka_unit_test(truncated_record_and_small_buffers_are_refused),
	    cmocka_unit_test(
	        two_seals_of_the_same_message_use_different_nonces),
	    cmocka_unit_test(low_level_gcm_refuses_bad_parameters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

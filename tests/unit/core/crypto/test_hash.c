/* Unit tests for core/crypto/hash: HMAC-SHA-256 against Wycheproof's
 * hmac_sha256_test.json (tags truncated to the group's tagSize; "valid":
 * the computed tag matches; "invalid", all modified tags: it does not; no
 * "acceptable" case), plus SHA-256 known answers and streaming. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/crypto/hash.h"
#include "core/err.h"
#include "core/secmem.h"
#include "helpers/vectors.h"

static enum tv_outcome hmac_case(const json_t *group, const json_t *test,
                                 void *arg)
{
	struct tv_bytes key, msg, tag;
	enum tv_expect want = tv_expect_of(test);
	json_int_t bits = json_integer_value(json_object_get(group, "tagSize"));
	unsigned char mac[CU_SHA256_LEN];
	enum tv_outcome o = TV_FAIL;
	int match;

	if (tv_hex(test, "key", &key) | tv_hex(test, "msg", &msg) |
	    tv_hex(test, "tag", &tag))
		goto out;
	if (bits <= 0 || bits % 8 != 0 || bits / 8 > CU_SHA256_LEN)
		goto out;
	if (cu_hmac_sha256(key.data, key.len, msg.data, msg.len, mac) != 0)
		goto out;
	/* compare as a verifier would: constant time, full tag length */
	match =
	    tag.len == (size_t)bits / 8 && cu_ct_equal(mac, tag.data, tag.len);
	o = (want == TV_INVALID) != match ? TV_PASS : TV_FAIL;
out:
	tv_bytes_free(&key);
	tv_bytes_free(&msg);
	tv_bytes_free(&tag);
	return o;
}

static void every_wycheproof_hmac_case_gives_the_expected_answer(void **state)
{
	assert_int_equal(
	    tv_run_wycheproof("hmac_sha256_test.json", hmac_case, NULL, NULL),
	    0);
}

static void sha256_of_abc_is_the_fips_answer(void **state)
{
	unsigned char d[CU_SHA256_LEN];
	struct tv_bytes want;

	assert_int_equal(tv_hex_str("ba7816bf8f01cfea414140de5dae2223b00361a396"
	                            "177a9cb410ff61f20015ad",
	                            &want),
	                 0);
	assert_int_equal(cu_sha256("abc", 3, d), 0);
	assert_memory_equal(d, want.data, CU_SHA256_LEN);
	tv_bytes_free(&want);
}

static void streaming_digest_equals_one_shot(void **state)
{
	unsigned char msg[1000], a[CU_SHA256_LEN], b[CU_SHA256_LEN];
	cu_hash_t *h = NULL;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)i;
	assert_int_equal(cu_sha256(msg, sizeof(msg), a), 0);
	assert_int_equal(cu_hash_new(CU_HASH_SHA256, &h), 0);
	for (size_t i = 0; i < sizeof(msg); i += 7)
		assert_int_equal(
		    cu_hash_update(h, msg + i,
		                   sizeof(msg) - i < 7 ? sizeof(msg) - i : 7),
		    0);
	assert_int_equal(cu_hash_final(h, b, sizeof(b), &n), 0);
	assert_int_equal(n, CU_SHA256_LEN);
	assert_memory_equal(a, b, CU_SHA256_LEN);
	cu_hash_free(h);
	cu_hash_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        every_wycheproof_hmac_case_gives_the_expected_answer),
	    cmocka_unit_test(sha256_of_abc_is_the_fips_answer),
	    cmocka_unit_test(streaming_digest_equals_one_shot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

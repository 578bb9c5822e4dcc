/* Unit tests for core/crypto/kdf against Wycheproof's
 * hkdf_sha256_test.json ("valid": the expected output; "invalid", all
 * outputs longer than 255 * 32 bytes: refused with CU_ERR_RANGE; no
 * "acceptable" case). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto/kdf.h"
#include "core/err.h"
#include "helpers/vectors.h"

static enum tv_outcome hkdf_case(const json_t *group, const json_t *test,
                                 void *arg)
{
	struct tv_bytes ikm, salt, info, okm;
	enum tv_expect want = tv_expect_of(test);
	enum tv_outcome o = TV_FAIL;
	json_int_t size = json_integer_value(json_object_get(test, "size"));
	unsigned char *buf = NULL;
	int r;

	if (tv_hex(test, "ikm", &ikm) | tv_hex(test, "salt", &salt) |
	    tv_hex(test, "info", &info) | tv_hex(test, "okm", &okm))
		goto out;
	if (size < 0 || size > 65536 ||
	    (buf = malloc((size_t)size + 1)) == NULL)
		goto out;
	r = cu_hkdf_sha256(ikm.data, ikm.len, salt.data, salt.len, info.data,
	                   info.len, buf, (size_t)size);
	if (want == TV_INVALID)
		o = r == CU_ERR_RANGE ? TV_PASS : TV_FAIL;
	else if (r == 0 && okm.len == (size_t)size &&
	         memcmp(buf, okm.data, okm.len) == 0)
		o = TV_PASS;
out:
	free(buf);
	tv_bytes_free(&ikm);
	tv_bytes_free(&salt);
	tv_bytes_free(&info);
	tv_bytes_free(&okm);
	return o;
}

static void every_wycheproof_hkdf_case_gives_the_expected_answer(void **state)
{
	assert_int_equal(
	    tv_run_wycheproof("hkdf_sha256_test.json", hkdf_case, NULL, NULL),
	    0);
}

static void rfc5869_case_3_with_empty_salt_and_info(void **state)
{
	/* RFC 5869 A.3 */
	unsigned char ikm[22], okm[42];
	struct tv_bytes want;

	memset(ikm, 0x0b, sizeof(ikm));
	assert_int_equal(
	    tv_hex_str("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e"
	               "5f3c738d2d9d201395faa4b61a96c8",
	               &want),
	    0);
	assert_int_equal(cu_hkdf_sha256(ikm, sizeof(ikm), NULL, 0, NULL, 0, okm,
	                                sizeof(okm)),
	                 0);
	assert_memory_equal(okm, want.data, sizeof(okm));
	tv_bytes_free(&want);
}

static void over_long_or_empty_output_is_refused(void **state)
{
	unsigned char out[CU_HKDF_SHA256_MAX_OUT + 1];

	assert_int_equal(cu_hkdf_sha256("k", 1, NULL, 0, NULL, 0, out,
	                                CU_HKDF_SHA256_MAX_OUT + 1),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_hkdf_sha256("k", 1, NULL, 0, NULL, 0, out, 0),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_hkdf_sha256("k", 1, NULL, 0, NULL, 0, out,
	                                CU_HKDF_SHA256_MAX_OUT),
	                 0);
	assert_int_equal(cu_hkdf_sha256(NULL, 1, NULL, 0, NULL, 0, out, 32),
	                 CU_ERR_INVAL);
}

static void different_info_gives_unrelated_keys(void **state)
{
	unsigned char a[32], b[32], c[64];

	assert_int_equal(cu_hkdf_sha256("ikm", 3, "salt", 4, "a", 1, a, 32), 0);
	assert_int_equal(cu_hkdf_sha256("ikm", 3, "salt", 4, "b", 1, b, 32), 0);
	assert_memory_not_equal(a, b, 32);
	/* a longer output extends, it does not change, the prefix */
	assert_int_equal(cu_hkdf_sha256("ikm", 3, "salt", 4, "a", 1, c, 64), 0);
	assert_memory_equal(a, c, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        every_wycheproof_hkdf_case_gives_the_expected_answer),
	    cmocka_unit_test(rfc5869_case_3_with_empty_salt_and_info),
	    cmocka_unit_test(over_long_or_empty_output_is_refused),
	    cmocka_unit_test(different_info_gives_unrelated_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

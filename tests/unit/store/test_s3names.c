/* Unit tests for the store's S3 name rules: bucket names and object
 * keys. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "store/s3.h"

static void bucket_names_follow_s3_rules(void **state)
{
	static const char *const good[] = {
	    "abc",
	    "my-bucket",
	    "my.bucket.2024",
	    "0bucket9",
	    "a23456789012345678901234567890123456789012345678901234567890123",
	};
	static const char *const bad[] = {
	    "ab",
	    "ABC",
	    "my_bucket",
	    "-abc",
	    "abc-",
	    ".abc",
	    "abc.",
	    "a..b",
	    "a.-b",
	    "a-.b",
	    "192.168.1.1",
	    "xn--abc",
	    "sthree-x",
	    "bucket-s3alias",
	    "admin",
	    "healthz",
	    "metrics",
	    "caf\xc3\xa9",
	    "a234567890123456789012345678901234567890123456789012345678901234",
	    "",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(cu_s3_bucket_name_ok(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(cu_s3_bucket_name_ok(bad[i]));
	assert_false(cu_s3_bucket_name_ok(NULL));
}

static void keys_are_utf8_without_nul_up_to_1024_bytes(void **state)
{
	char long_key[1026];

	(void)state;
	assert_true(cu_s3_key_ok("a", 1));
	assert_true(cu_s3_key_ok("../../etc/passwd", 16));
	assert_true(cu_s3_key_ok("\xc3\xa9t\xc3\xa9", 5));
	assert_true(cu_s3_key_ok("\xf0\x9f\x98\x80", 4)); /* emoji */
	assert_false(cu_s3_key_ok("", 0));
	assert_false(cu_s3_key_ok("a\0b", 3));
	assert_false(cu_s3_key_ok("\xc3", 1));             /* truncated */
	assert_false(cu_s3_key_ok("\xc0\xaf", 2));         /* overlong '/' */
	assert_false(cu_s3_key_ok("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(cu_s3_key_ok("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(cu_s3_key_ok("\xff", 1));
	memset(long_key, 'k', sizeof(long_key));
	assert_true(cu_s3_key_ok(long_key, 1024));
	assert_false(cu_s3_key_ok(long_key, 1025));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bucket_names_follow_s3_rules),
	    cmocka_unit_test(keys_are_utf8_without_nul_up_to_1024_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

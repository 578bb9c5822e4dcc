/* Unit tests for core/crypto/rand and the constant-time compare the crypto
 * core relies on (core/secmem). Light checks only: the DRBG is
 * OpenSSL's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/secmem.h"

static void random_buffers_differ_and_are_not_all_zero(void **state)
{
	unsigned char a[32], b[32], zero[32] = {0};

	assert_int_equal(cu_rand_bytes(a, sizeof(a)), 0);
	assert_int_equal(cu_rand_bytes(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_int_equal(cu_rand_bytes(a, 0), 0);
}

static void every_byte_value_shows_up_in_64_kib(void **state)
{
	static unsigned char buf[65536];
	unsigned seen[256] = {0};

	assert_int_equal(cu_rand_bytes(buf, sizeof(buf)), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		seen[buf[i]]++;
	/* expectation 256 each; a working DRBG never leaves one at zero */
	for (int v = 0; v < 256; v++)
		assert_true(seen[v] > 100 && seen[v] < 450);
}

static void random_hex_is_lowercase_hex_and_terminated(void **state)
{
	char hex[2 * 16 + 1];

	memset(hex, 'X', sizeof(hex));
	assert_int_equal(cu_rand_hex(hex, 16), 0);
	assert_int_equal(hex[32], '\0');
	for (int i = 0; i < 32; i++)
		assert_non_null(strchr("0123456789abcdef", hex[i]));
	assert_int_equal(cu_rand_hex(hex, 65), CU_ERR_RANGE);
}

static void constant_time_compare_finds_a_difference_anywhere(void **state)
{
	unsigned char a[64], b[64];

	assert_int_equal(cu_rand_bytes(a, sizeof(a)), 0);
	memcpy(b, a, sizeof(a));
	assert_int_equal(cu_ct_equal(a, b, sizeof(a)), 1);
	for (size_t i = 0; i < sizeof(a) * 8; i++) {
		b[i / 8] ^= (unsigned char)(1u << (i % 8));
		assert_int_equal(cu_ct_equal(a, b, sizeof(a)), 0);
		b[i / 8] ^= (unsigned char)(1u << (i % 8));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(random_buffers_differ_and_are_not_all_zero),
	    cmocka_unit_test(every_byte_value_shows_up_in_64_kib),
	    cmocka_unit_test(random_hex_is_lowercase_hex_and_terminated),
	    cmocka_unit_test(constant_time_compare_finds_a_difference_anywhere),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for core/secmem and core/err. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/err.h"
#include "core/secmem.h"

static void secure_blocks_come_zeroed_and_from_the_locked_arena(void **state)
{
	assert_int_equal(cu_secmem_init(1 << 16), 0);
	assert_int_equal(cu_secmem_locked(), 1);
	unsigned char *p = cu_secmem_alloc(32);
	assert_non_null(p);
	for (int i = 0; i < 32; i++)
		assert_int_equal(p[i], 0);
	memset(p, 0xAB, 32);
	cu_secmem_free(p, 32);
	/* a fresh block of the same size is zeroed again */
	p = cu_secmem_alloc(32);
	assert_non_null(p);
	for (int i = 0; i < 32; i++)
		assert_int_equal(p[i], 0);
	cu_secmem_free(p, 32);
}

static void arena_size_must_be_a_power_of_two(void **state)
{
	assert_int_equal(cu_secmem_init(1000), CU_ERR_INVAL);
	assert_int_equal(cu_secmem_init(3 << 16), CU_ERR_INVAL);
	assert_int_equal(cu_secmem_init(1 << 15), CU_ERR_INVAL);
	/* a second valid call after init is a no-op */
	assert_int_equal(cu_secmem_init(1 << 17), 0);
}

static void zero_sized_and_null_requests_are_harmless(void **state)
{
	assert_null(cu_secmem_alloc(0));
	cu_secmem_free(NULL, 10);
	cu_memzero(NULL, 0);
}

static void memzero_wipes(void **state)
{
	unsigned char buf[16];
	memset(buf, 0x5A, sizeof(buf));
	cu_memzero(buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
}

static void constant_time_compare_tells_equal_from_different(void **state)
{
	unsigned char a[32], b[32];
	memset(a, 1, sizeof(a));
	memset(b, 1, sizeof(b));
	assert_int_equal(cu_ct_equal(a, b, sizeof(a)), 1);
	b[31] ^= 0x80;
	assert_int_equal(cu_ct_equal(a, b, sizeof(a)), 0);
	b[31] ^= 0x80;
	b[0] ^= 1;
	assert_int_equal(cu_ct_equal(a, b, sizeof(a)), 0);
	assert_int_equal(cu_ct_equal(a, b, 0), 1);
}

static void every_error_code_has_a_name_and_text(void **state)
{
	for (int e = 0; e >= CU_ERR_MIN; e--) {
		assert_non_null(cu_strerror(e));
		assert_string_not_equal(cu_strerror(e), "unknown error");
		assert_string_not_equal(cu_errname(e), "CU_ERR_UNKNOWN");
	}
	assert_string_equal(cu_strerror(CU_ERR_MIN - 1), "unknown error");
	assert_string_equal(cu_strerror(5), "unknown error");
	assert_string_equal(cu_errname(CU_ERR_AUTH), "CU_ERR_AUTH");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(zero_sized_and_null_requests_are_harmless),
	    cmocka_unit_test(
	        secure_blocks_come_zeroed_and_from_the_locked_arena),
	    cmocka_unit_test(arena_size_must_be_a_power_of_two),
	    cmocka_unit_test(memzero_wipes),
	    cmocka_unit_test(constant_time_compare_tells_equal_from_different),
	    cmocka_unit_test(every_error_code_has_a_name_and_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for store/range: the Range header of GetObject. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/err.h"
#include "store/range.h"

static int parse(const char *s, uint64_t size, uint64_t *off, uint64_t *n)
{
	return cu_srange_parse(s, strlen(s), size, off, n);
}

static void satisfiable_ranges(void **state)
{
	uint64_t off = 0, n = 0;

	(void)state;
	assert_int_equal(parse("bytes=0-0", 10, &off, &n), 0);
	assert_true(off == 0 && n == 1);
	assert_int_equal(parse("bytes=2-5", 10, &off, &n), 0);
	assert_true(off == 2 && n == 4);
	assert_int_equal(parse("bytes=2-", 10, &off, &n), 0);
	assert_true(off == 2 && n == 8);
	assert_int_equal(parse("bytes=-3", 10, &off, &n), 0);
	assert_true(off == 7 && n == 3);
	assert_int_equal(parse("bytes=-30", 10, &off, &n), 0);
	assert_true(off == 0 && n == 10);
	assert_int_equal(parse("bytes=5-1000", 10, &off, &n), 0);
	assert_true(off == 5 && n == 5);
	assert_int_equal(parse("Bytes= 9-9 ", 10, &off, &n), 0);
	assert_true(off == 9 && n == 1);
	assert_int_equal(
	    parse("bytes=0-18446744073709551615", UINT64_MAX, &off, &n), 0);
	assert_true(off == 0 && n == UINT64_MAX);
}

static void unsatisfiable_ranges(void **state)
{
	uint64_t off, n;

	(void)state;
	assert_int_equal(parse("bytes=10-", 10, &off, &n), CU_ERR_RANGE);
	assert_int_equal(parse("bytes=10-20", 10, &off, &n), CU_ERR_RANGE);
	assert_int_equal(parse("bytes=-0", 10, &off, &n), CU_ERR_RANGE);
	assert_int_equal(parse("bytes=0-0", 0, &off, &n), CU_ERR_RANGE);
	assert_int_equal(parse("bytes=-5", 0, &off, &n), CU_ERR_RANGE);
}

static void malformed_ranges_are_ignored(void **state)
{
	static const char *const bad[] = {
	    "",
	    "bytes",
	    "bytes=",
	    "bytes=-",
	    "bytes=a-b",
	    "bytes=5-2",
	    "bytes=1-2,4-5",
	    "items=0-1",
	    "bytes=0-1x",
	    "bytes=+1-2",
	    "bytes=0--1",
	    "bytes=99999999999999999999-",
	    "bytes=0-99999999999999999999",
	    "bytes =0-1",
	};
	uint64_t off, n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], 100, &off, &n), CU_ERR_PARSE);
	/* not NUL-terminated input is read only up to len */
	assert_int_equal(cu_srange_parse("bytes=0-1GARBAGE", 9, 10, &off, &n),
	                 0);
	assert_true(off == 0 && n == 2);
	assert_int_equal(cu_srange_parse(NULL, 0, 10, &off, &n), CU_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(satisfiable_ranges),
	    cmocka_unit_test(unsatisfiable_ranges),
	    cmocka_unit_test(malformed_ranges_are_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

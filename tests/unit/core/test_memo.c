/* Unit tests for core/memo: an answer holds only at the commit count it
 * was read at, per key, within fixed bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/memo.h"

static void an_answer_holds_only_at_the_count_it_was_read_at(void **s)
{
	cu_memo_t *m = NULL;
	char val[CU_MEMO_VAL_MAX];
	size_t n = 99;
	uint64_t hits = 0, misses = 0;

	(void)s;
	assert_int_equal(cu_memo_new(16, &m), 0);
	assert_int_equal(cu_memo_get(m, "k", 1, 7, val, sizeof(val), &n),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(n, 0);
	assert_int_equal(cu_memo_put(m, "k", 1, 7, "alice", 5), 0);
	assert_int_equal(cu_memo_get(m, "k", 1, 7, val, sizeof(val), &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(val, "alice", 5);
	/* one commit later: stale */
	assert_int_equal(cu_memo_get(m, "k", 1, 8, val, sizeof(val), &n),
	                 CU_ERR_NOTFOUND);
	/* another key, a key that is a prefix: not this entry */
	assert_int_equal(cu_memo_get(m, "j", 1, 7, val, sizeof(val), &n),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_memo_get(m, "kk", 2, 7, val, sizeof(val), &n),
	                 CU_ERR_NOTFOUND);
	/* a value larger than the caller's buffer is not handed out cut */
	assert_int_equal(cu_memo_get(m, "k", 1, 7, val, 4, &n),
	                 CU_ERR_NOTFOUND);
	/* read again at the new count: replaced, and the old count is gone */
	assert_int_equal(cu_memo_put(m, "k", 1, 8, "bob", 3), 0);
	assert_int_equal(cu_memo_get(m, "k", 1, 8, val, sizeof(val), &n), 0);
	assert_memory_equal(val, "bob", 3);
	assert_int_equal(cu_memo_get(m, "k", 1, 7, val, sizeof(val), &n),
	                 CU_ERR_NOTFOUND);
	cu_memo_stats(m, &hits, &misses);
	assert_int_equal(hits, 2);
	assert_int_equal(misses, 6);
	cu_memo_free(m);
	cu_memo_free(NULL);
}

static void bounds_are_refused_and_the_table_stays_bounded(void **s)
{
	cu_memo_t *m = NULL;
	char key[CU_MEMO_KEY_MAX + 1], val[CU_MEMO_VAL_MAX + 1];
	size_t n = 0, found = 0;

	(void)s;
	assert_int_equal(cu_memo_new(3, &m), CU_ERR_INVAL);
	assert_int_equal(cu_memo_new(65537, &m), CU_ERR_INVAL);
	assert_int_equal(cu_memo_new(8, &m), 0);
	memset(key, 'a', sizeof(key));
	memset(val, 'v', sizeof(val));
	assert_int_equal(cu_memo_put(m, key, sizeof(key), 1, "x", 1),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_memo_put(m, "k", 1, 1, val, sizeof(val)),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_memo_put(m, "", 0, 1, "x", 1), CU_ERR_RANGE);
	/* the largest key and value fit */
	assert_int_equal(
	    cu_memo_put(m, key, CU_MEMO_KEY_MAX, 1, val, CU_MEMO_VAL_MAX), 0);
	assert_int_equal(
	    cu_memo_get(m, key, CU_MEMO_KEY_MAX, 1, val, sizeof(val), &n), 0);
	assert_int_equal(n, CU_MEMO_VAL_MAX);
	/* 100 keys into 8 entries: at most 8 answer, the last put among them */
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		assert_int_equal(
		    cu_memo_put(m, key, strlen(key), 1, key, strlen(key)), 0);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		if (cu_memo_get(m, key, strlen(key), 1, val, sizeof(val), &n) ==
		    0) {
			assert_int_equal(n, strlen(key));
			assert_memory_equal(val, key, n);
			found++;
		}
	}
	assert_true(found >= 1 && found <= 8);
	assert_int_equal(cu_memo_get(m, "key-99", 6, 1, val, sizeof(val), &n),
	                 0);
	cu_memo_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(an_answer_holds_only_at_the_count_it_was_read_at),
	    cmocka_unit_test(bounds_are_refused_and_the_table_stays_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

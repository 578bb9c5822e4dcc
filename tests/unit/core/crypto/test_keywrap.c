/* Unit tests for core/crypto/keywrap: RFC 3394 and RFC 5649 against
 * Wycheproof's aes_wrap_test.json and aes_kwp_test.json.
 *
 * "valid": wrap gives the expected bytes and unwrap gives the key back.
 * "invalid": unwrap refuses. "acceptable" (aes_wrap's three "ShortKey"
 * cases, an 8-byte key wrapped with RFC 3394's single-block special case):
 * either answer is allowed; we refuse, as RFC 3394 section 2 asks for at
 * least two semiblocks and custos only wraps 32-byte keys. The checker
 * passes an acceptable case when it is refused, or accepted with the
 * right output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto/keywrap.h"
#include "core/err.h"
#include "helpers/vectors.h"

/* The two RFCs' calls: kw[0] is RFC 3394, kw[1] RFC 5649 (padded). */
typedef int (*kw_fn)(const unsigned char *kek, size_t kek_len, const void *in,
                     size_t in_len, unsigned char *out, size_t out_cap,
                     size_t *out_len);
static const struct {
	kw_fn wrap, unwrap;
} kw[] = {
    {cu_kw_wrap, cu_kw_unwrap},
    {cu_kw_wrap_pad, cu_kw_unwrap_pad},
};

static enum tv_outcome wrap_case(const json_t *group, const json_t *test,
                                 void *arg)
{
	int pad = *(int *)arg;
	struct tv_bytes key, msg, ct;
	enum tv_expect want = tv_expect_of(test);
	enum tv_outcome o = TV_FAIL;
	unsigned char *buf = NULL;
	size_t cap, n = 0;
	int r;

	if (tv_hex(test, "key", &key) | tv_hex(test, "msg", &msg) |
	    tv_hex(test, "ct", &ct))
		goto out;
	cap = ct.len + msg.len + 16;
	if ((buf = malloc(cap)) == NULL)
		goto out;
	r = kw[pad].unwrap(key.data, key.len, ct.data, ct.len, buf, cap, &n);
	if (want == TV_INVALID) {
		o = r != 0 ? TV_PASS : TV_FAIL;
		goto out;
	}
	if (want == TV_ACCEPTABLE && r != 0) {
		o = TV_PASS;
		goto out;
	}
	if (r != 0 || n != msg.len || memcmp(buf, msg.data, n) != 0)
		goto out;
	r = kw[pad].wrap(key.data, key.len, msg.data, msg.len, buf, cap, &n);
	if (r != 0 || n != ct.len || memcmp(buf, ct.data, n) != 0)
		goto out;
	o = TV_PASS;
out:
	free(buf);
	tv_bytes_free(&key);
	tv_bytes_free(&msg);
	tv_bytes_free(&ct);
	return o;
}

static void
every_wycheproof_key_wrap_case_gives_the_expected_answer(void **state)
{
	int pad = 0;
	assert_int_equal(
	    tv_run_wycheproof("aes_wrap_test.json", wrap_case, &pad, NULL), 0);
}

static void
every_wycheproof_padded_key_wrap_case_gives_the_expected_answer(void **state)
{
	int pad = 1;
	assert_int_equal(
	    tv_run_wycheproof("aes_kwp_test.json", wrap_case, &pad, NULL), 0);
}

static const unsigned char kek[32] = {0x11, 0x22, 0x33};
static const unsigned char kek2[32] = {0x11, 0x22, 0x34};
static const unsigned char dek[32] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3};

static void wrapped_key_unwraps_with_the_same_kek(void **state)
{
	unsigned char w[CU_KW_WRAPPED_LEN(32)], u[32];
	size_t n = 0, m = 0;

	assert_int_equal(cu_kw_wrap(kek, 32, dek, 32, w, sizeof(w), &n), 0);
	assert_int_equal(n, 40);
	assert_int_equal(cu_kw_unwrap(kek, 32, w, n, u, sizeof(u), &m), 0);
	assert_int_equal(m, 32);
	assert_memory_equal(u, dek, 32);
}

static void unwrap_with_wrong_kek_is_refused(void **state)
{
	unsigned char w[CU_KWP_WRAPPED_LEN(32)], u[32];
	size_t n = 0, m = 0;

	assert_int_equal(cu_kw_wrap(kek, 32, dek, 32, w, sizeof(w), &n), 0);
	memset(u, 0xAA, sizeof(u));
	assert_int_equal(cu_kw_unwrap(kek2, 32, w, n, u, sizeof(u), &m),
	                 CU_ERR_AUTH);
	assert_int_equal(m, 0);
	for (size_t i = 0; i < sizeof(u); i++)
		assert_int_equal(u[i], 0);
	assert_int_equal(cu_kw_wrap_pad(kek, 32, dek, 32, w, sizeof(w), &n), 0);
	assert_int_equal(cu_kw_unwrap_pad(kek2, 32, w, n, u, sizeof(u), &m),
	                 CU_ERR_AUTH);
}

static void every_flipped_bit_of_a_wrapped_key_is_refused(void **state)
{
	unsigned char w[CU_KWP_WRAPPED_LEN(32)], u[32];
	size_t n = 0, m = 0;

	for (int pad = 0; pad <= 1; pad++) {
		assert_int_equal(
		    kw[pad].wrap(kek, 32, dek, 32, w, sizeof(w), &n), 0);
		for (size_t i = 0; i < n * 8; i++) {
			w[i / 8] ^= (unsigned char)(1u << (i % 8));
			assert_int_equal(
			    kw[pad].unwrap(kek, 32, w, n, u, sizeof(u), &m),
			    CU_ERR_AUTH);
			w[i / 8] ^= (unsigned char)(1u << (i % 8));
		}
	}
}

static void padded_wrap_round_trips_every_length_up_to_40(void **state)
{
	unsigned char in[40], w[CU_KWP_WRAPPED_LEN(40)], u[48];
	size_t n = 0, m = 0;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 1);
	for (size_t len = 1; len <= sizeof(in); len++) {
		assert_int_equal(
		    cu_kw_wrap_pad(kek, 32, in, len, w, sizeof(w), &n), 0);
		assert_int_equal(n, CU_KWP_WRAPPED_LEN(len));
		assert_int_equal(
		    cu_kw_unwrap_pad(kek, 32, w, n, u, sizeof(u), &m), 0);
		assert_int_equal(m, len);
		assert_memory_equal(u, in, len);
		/* a wrap with padding is not a plain wrap */
		if (n >= 24)
			assert_int_not_equal(
			    cu_kw_unwrap(kek, 32, w, n, u, sizeof(u), &m), 0);
	}
}

static void bad_sizes_are_refused(void **state)
{
	unsigned char w[64], u[64];
	size_t n = 0, m = 0;

	/* KEK sizes */
	assert_int_equal(cu_kw_wrap(kek, 31, dek, 32, w, sizeof(w), &n),
	                 CU_ERR_INVAL);
	assert_int_equal(cu_kw_unwrap(kek, 0, w, 40, u, sizeof(u), &m),
	                 CU_ERR_INVAL);
	/* inputs RFC 3394 cannot wrap */
	assert_int_equal(cu_kw_wrap(kek, 32, dek, 8, w, sizeof(w), &n),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_kw_wrap(kek, 32, dek, 20, w, sizeof(w), &n),
	                 CU_ERR_INVAL);
	assert_int_equal(cu_kw_wrap_pad(kek, 32, dek, 0, w, sizeof(w), &n),
	                 CU_ERR_RANGE);
	/* output too small */
	assert_int_equal(cu_kw_wrap(kek, 32, dek, 32, w, 39, &n), CU_ERR_RANGE);
	assert_int_equal(cu_kw_wrap(kek, 32, dek, 32, w, 40, &n), 0);
	assert_int_equal(cu_kw_unwrap(kek, 32, w, 40, u, 31, &m), CU_ERR_RANGE);
	/* wrapped lengths that cannot be */
	assert_int_equal(cu_kw_unwrap(kek, 32, w, 39, u, sizeof(u), &m),
	                 CU_ERR_PARSE);
	assert_int_equal(cu_kw_unwrap(kek, 32, w, 16, u, sizeof(u), &m),
	                 CU_ERR_PARSE);
	assert_int_equal(cu_kw_unwrap_pad(kek, 32, w, 8, u, sizeof(u), &m),
	                 CU_ERR_PARSE);
	/* the truncated wrap fails its check */
	assert_int_equal(cu_kw_unwrap(kek, 32, w, 32, u, sizeof(u), &m),
	                 CU_ERR_AUTH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        every_wycheproof_key_wrap_case_gives_the_expected_answer),
	    cmocka_unit_test(
	        every_wycheproof_padded_key_wrap_case_gives_the_expected_answer),
	    cmocka_unit_test(wrapped_key_unwraps_with_the_same_kek),
	    cmocka_unit_test(unwrap_with_wrong_kek_is_refused),
	    cmocka_unit_test(every_flipped_bit_of_a_wrapped_key_is_refused),
	    cmocka_unit_test(padded_wrap_round_trips_every_length_up_to_40),
	    cmocka_unit_test(bad_sizes_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

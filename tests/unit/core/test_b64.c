/* Unit tests for core/b64: RFC 4648 vectors, strictness, sizes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "core/err.h"

static const struct {
	const char *raw, *std, *url;
} rfc[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
    {"\xfb\xff\xbf", "+/+/", "-_-_"},
};

static void rfc4648_vectors_encode_and_decode(void **state)
{
	char enc[64];
	unsigned char dec[64];
	size_t n;

	for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		size_t len = strlen(rfc[i].raw);
		assert_int_equal(
		    cu_b64_encode(rfc[i].raw, len, enc, sizeof(enc), &n), 0);
		assert_string_equal(enc, rfc[i].std);
		assert_int_equal(n, cu_b64_encoded_len(len));
		assert_int_equal(
		    cu_b64url_encode(rfc[i].raw, len, enc, sizeof(enc), &n), 0);
		assert_string_equal(enc, rfc[i].url);
		assert_int_equal(n, cu_b64url_encoded_len(len));
		assert_int_equal(cu_b64_decode(rfc[i].std, strlen(rfc[i].std),
		                               dec, sizeof(dec), &n),
		                 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, rfc[i].raw, len);
		assert_int_equal(cu_b64url_decode(rfc[i].url,
		                                  strlen(rfc[i].url), dec,
		                                  sizeof(dec), &n),
		                 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, rfc[i].raw, len);
		assert_true(cu_b64_decoded_max(strlen(rfc[i].url)) >= len);
		assert_int_equal(cu_b64_decoded_max(strlen(rfc[i].url)), len);
	}
}

static void long_inputs_round_trip_across_chunks(void **state)
{
	size_t sizes[] = {12287, 12288, 12289, 20000, 100001};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t len = sizes[k], n = 0;
		unsigned char *raw = malloc(len), *dec = malloc(len);
		char *enc = malloc(cu_b64_encoded_len(len) + 1);
		for (size_t i = 0; i < len; i++)
			raw[i] = (unsigned char)(i * 131 + 7);
		assert_int_equal(cu_b64_encode(raw, len, enc,
		                               cu_b64_encoded_len(len) + 1, &n),
		                 0);
		assert_int_equal(cu_b64_decode(enc, n, dec, len, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, raw, len);
		assert_int_equal(cu_b64url_encode(raw, len, enc,
		                                  cu_b64_encoded_len(len) + 1,
		                                  &n),
		                 0);
		assert_null(memchr(enc, '=', n));
		assert_null(memchr(enc, '+', n));
		assert_int_equal(cu_b64url_decode(enc, n, dec, len, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, raw, len);
		free(raw);
		free(dec);
		free(enc);
	}
}

static void malformed_inputs_are_refused(void **state)
{
	static const char *bad_std[] = {
	    "Zg=",  "Zg",   "Z===", "Zm9v=", "Zm 9v", "Zm9v\n",   "Zh==",
	    "Zm9=", "-_-_", "Zm=v", "=Zm9",  "====",  "Zg==Zg==", "Zm\0v",
	};
	static const char *bad_url[] = {
	    "Z",     "Zg=",    "Zg==",  "+/+/", "Zh",    "Zm9",
	    "Zm 9v", "Zm9v\r", "Zm9vY", "Zm.v", "Zm\0v",
	};
	unsigned char dec[64];
	size_t n = 99;

	for (size_t i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++) {
		size_t len = strlen(bad_std[i]);
		if (i == sizeof(bad_std) / sizeof(bad_std[0]) - 1)
			len = 4;
		assert_int_equal(
		    cu_b64_decode(bad_std[i], len, dec, sizeof(dec), &n),
		    CU_ERR_PARSE);
		assert_int_equal(n, 0);
	}
	for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++) {
		size_t len = strlen(bad_url[i]);
		if (i == sizeof(bad_url) / sizeof(bad_url[0]) - 1)
			len = 4;
		assert_int_equal(
		    cu_b64url_decode(bad_url[i], len, dec, sizeof(dec), &n),
		    CU_ERR_PARSE);
	}
}

static void small_buffers_are_refused_not_overrun(void **state)
{
	char enc[8];
	unsigned char dec[8];
	size_t n;

	assert_int_equal(cu_b64_encode("foob", 4, enc, 8, &n), CU_ERR_RANGE);
	assert_int_equal(cu_b64_encode("foob", 4, enc, 9 - 1, &n),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_b64url_encode("foobar", 6, enc, 8, &n),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_b64url_encode("fooba", 5, enc, 8, &n), 0);
	assert_string_equal(enc, "Zm9vYmE");
	assert_int_equal(cu_b64_decode("Zm9vYmFy", 8, dec, 5, &n),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_b64_decode("Zm9vYmE=", 8, dec, 5, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(cu_b64url_decode("Zm9vYmFy", 8, dec, 5, &n),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_b64url_decode("Zm9vYmE", 7, dec, 5, &n), 0);
	assert_int_equal(cu_b64url_encode(NULL, 0, enc, 1, &n), 0);
	assert_int_equal(n, 0);
}

static void alloc_variants_honour_the_maximum(void **state)
{
	unsigned char *d = NULL;
	char *e = NULL;
	size_t n = 0;

	assert_int_equal(cu_b64url_encode_alloc("foobar", 6, &e), 0);
	assert_string_equal(e, "Zm9vYmFy");
	assert_int_equal(cu_b64url_decode_alloc(e, strlen(e), 6, &d, &n), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(d, "foobar", 6);
	free(d);
	assert_int_equal(cu_b64url_decode_alloc(e, strlen(e), 5, &d, &n),
	                 CU_ERR_TOOLARGE);
	assert_null(d);
	assert_int_equal(cu_b64url_decode_alloc("Zm9v!", 5, 100, &d, &n),
	                 CU_ERR_PARSE);
	assert_null(d);
	assert_int_equal(cu_b64url_decode_alloc("", 0, 0, &d, &n), 0);
	assert_non_null(d);
	assert_int_equal(n, 0);
	free(d);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rfc4648_vectors_encode_and_decode),
	    cmocka_unit_test(long_inputs_round_trip_across_chunks),
	    cmocka_unit_test(malformed_inputs_are_refused),
	    cmocka_unit_test(small_buffers_are_refused_not_overrun),
	    cmocka_unit_test(alloc_variants_honour_the_maximum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

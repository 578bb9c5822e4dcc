/* Unit tests for vault/keycache: loaded keys answer only for the exact
 * sealed bytes they came from (by digest), for a bounded time, in bounded
 * number. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/crypto/hash.h"
#include "core/err.h"
#include "vault/keycache.h"
#include "vault/keyops.h"

static const unsigned char sealed_a[] = "sealed bytes of version a";
static const unsigned char sealed_b[] = "sealed bytes of version b";
/* their SHA-256 digests, and that of sealed_a cut by one byte */
static unsigned char d_a[32], d_b[32], d_short[32];

static int digests(void **s)
{
	(void)s;
	return cu_sha256(sealed_a, sizeof(sealed_a), d_a) != 0 ||
	       cu_sha256(sealed_b, sizeof(sealed_b), d_b) != 0 ||
	       cu_sha256(sealed_a, sizeof(sealed_a) - 1, d_short) != 0;
}

static cu_vko_t *oct_key(void)
{
	cu_vko_t *k = NULL;

	assert_int_equal(cu_vko_generate(CU_VKO_OCT, 256, &k), 0);
	return k;
}

/* Wrap 16 bytes under k and return the first 8 of the result, so two
 * handles can be told to hold the same key or not. */
static uint64_t fingerprint(const cu_vko_t *k)
{
	unsigned char in[16] = {0}, out[CU_VKO_MAX_OUT];
	size_t n = 0;
	uint64_t v;

	assert_int_equal(cu_vko_encrypt(k, CU_VKO_A256KW, in, sizeof(in), out,
	                                sizeof(out), &n),
	                 0);
	memcpy(&v, out, sizeof(v));
	return v;
}

static void a_cached_key_answers_for_the_same_sealed_bytes_only(void **s)
{
	cu_vkc_t *c = NULL;
	cu_vko_t *k = oct_key(), *got = NULL;

	assert_int_equal(cu_vkc_new(4, 60, &c), 0);
	assert_int_equal(cu_vkc_get(c, "k", "v1", d_a, &got), CU_ERR_NOTFOUND);
	assert_null(got);
	assert_int_equal(cu_vkc_put(c, "k", "v1", d_a, k), 0);
	assert_int_equal(cu_vkc_get(c, "k", "v1", d_a, &got), 0);
	assert_int_equal(fingerprint(got), fingerprint(k));
	cu_vko_free(got);
	got = NULL;
	/* another version, another name: not this entry */
	assert_int_equal(cu_vkc_get(c, "k", "v2", d_a, &got), CU_ERR_NOTFOUND);
	assert_int_equal(cu_vkc_get(c, "j", "v1", d_a, &got), CU_ERR_NOTFOUND);
	/* the row's material changed (restored, tampered): a miss, and the
	 * stale entry is gone */
	assert_int_equal(cu_vkc_get(c, "k", "v1", d_b, &got), CU_ERR_NOTFOUND);
	assert_int_equal(cu_vkc_count(c), 0);
	assert_int_equal(cu_vkc_get(c, "k", "v1", d_a, &got), CU_ERR_NOTFOUND);
	assert_int_equal(cu_vkc_get(c, "k", "v1", d_short, &got),
	                 CU_ERR_NOTFOUND);
	cu_vko_free(k);
	cu_vkc_free(c);
}

static void entries_are_bounded_and_the_least_recently_used_goes(void **s)
{
	cu_vkc_t *c = NULL;
	cu_vko_t *k = oct_key(), *got = NULL;
	char name[8];

	assert_int_equal(cu_vkc_new(3, 60, &c), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		assert_int_equal(cu_vkc_put(c, name, "v", d_a, k), 0);
	}
	/* k0 used: k1 is now the oldest */
	assert_int_equal(cu_vkc_get(c, "k0", "v", d_a, &got), 0);
	cu_vko_free(got);
	assert_int_equal(cu_vkc_put(c, "k3", "v", d_a, k), 0);
	assert_int_equal(cu_vkc_count(c), 3);
	assert_int_equal(cu_vkc_get(c, "k1", "v", d_a, &got), CU_ERR_NOTFOUND);
	assert_int_equal(cu_vkc_get(c, "k0", "v", d_a, &got), 0);
	cu_vko_free(got);
	/* putting a cached version again replaces it, never duplicates */
	assert_int_equal(cu_vkc_put(c, "k0", "v", d_b, k), 0);
	assert_int_equal(cu_vkc_count(c), 3);
	assert_int_equal(cu_vkc_get(c, "k0", "v", d_b, &got), 0);
	cu_vko_free(got);
	cu_vkc_free(c);
	assert_int_equal(cu_vkc_new(0, 60, &c), CU_ERR_INVAL);
	assert_int_equal(cu_vkc_new(3, 0, &c), CU_ERR_INVAL);
	cu_vko_free(k);
	cu_vkc_free(NULL);
}

static void drop_forgets_every_version_of_a_key(void **s)
{
	cu_vkc_t *c = NULL;
	cu_vko_t *k = oct_key(), *got = NULL;

	assert_int_equal(cu_vkc_new(8, 60, &c), 0);
	assert_int_equal(cu_vkc_put(c, "k", "v1", d_a, k), 0);
	assert_int_equal(cu_vkc_put(c, "k", "v2", d_b, k), 0);
	assert_int_equal(cu_vkc_put(c, "j", "v1", d_a, k), 0);
	cu_vkc_drop(c, "k");
	assert_int_equal(cu_vkc_count(c), 1);
	assert_int_equal(cu_vkc_get(c, "j", "v1", d_a, &got), 0);
	cu_vko_free(got);
	cu_vkc_drop(c, NULL);
	assert_int_equal(cu_vkc_count(c), 0);
	cu_vko_free(k);
	cu_vkc_free(c);
}

static void entries_expire_from_their_load_whatever_the_use(void **s)
{
	cu_vkc_t *c = NULL;
	cu_vko_t *k = oct_key(), *got = NULL;

	assert_int_equal(cu_vkc_new(8, 1, &c), 0);
	assert_int_equal(cu_vkc_put(c, "k", "v1", d_a, k), 0);
	assert_int_equal(cu_vkc_put(c, "k", "v2", d_a, k), 0);
	for (int i = 0; i < 6; i++) {
		/* use does not extend the lifetime */
		usleep(200 * 1000);
		if (cu_vkc_get(c, "k", "v1", d_a, &got) == 0)
			cu_vko_free(got);
	}
	assert_int_equal(cu_vkc_get(c, "k", "v1", d_a, &got), CU_ERR_NOTFOUND);
	assert_int_equal(cu_vkc_expire(c), 1); /* v2, never asked for */
	assert_int_equal(cu_vkc_count(c), 0);
	cu_vko_free(k);
	cu_vkc_free(c);
}

static void handles_outlive_eviction_and_the_cache(void **s)
{
	cu_vkc_t *c = NULL;
	cu_vko_t *k = oct_key(), *got = NULL;
	uint64_t fp = fingerprint(k);

	assert_int_equal(cu_vkc_new(1, 60, &c), 0);
	assert_int_equal(cu_vkc_put(c, "k", "v1", d_a, k), 0);
	cu_vko_free(k); /* the cache holds the only other handle */
	assert_int_equal(cu_vkc_get(c, "k", "v1", d_a, &got), 0);
	cu_vkc_drop(c, NULL);
	cu_vkc_free(c);
	/* still usable (ASan would catch a use after free) */
	assert_int_equal(fingerprint(got), fp);
	cu_vko_free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        a_cached_key_answers_for_the_same_sealed_bytes_only),
	    cmocka_unit_test(
	        entries_are_bounded_and_the_least_recently_used_goes),
	    cmocka_unit_test(drop_forgets_every_version_of_a_key),
	    cmocka_unit_test(entries_expire_from_their_load_whatever_the_use),
	    cmocka_unit_test(handles_outlive_eviction_and_the_cache),
	};
	return cmocka_run_group_tests(tests, digests, NULL);
}

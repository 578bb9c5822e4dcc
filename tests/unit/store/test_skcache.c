/* Unit tests for store/skcache: derived SigV4 signing keys. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "store/skcache.h"

static const unsigned char sealed_a[] = "sealed secret A, as stored";
static const unsigned char sealed_b[] = "sealed secret B, as stored";

static struct cu_skcache_id id_for(const char *akid,
                                   const unsigned char *sealed,
                                   const char *date8, const char *region)
{
	return (struct cu_skcache_id){.akid = akid,
	                              .akid_len = strlen(akid),
	                              .sealed = sealed,
	                              .sealed_len = sizeof(sealed_a),
	                              .date8 = date8,
	                              .region = region,
	                              .service = "s3"};
}

static void a_kept_key_is_found_for_exactly_its_id(void **state)
{
	cu_skcache_t *c = NULL;
	unsigned char key[CU_SIGV4_KEY_LEN], got[CU_SIGV4_KEY_LEN];
	struct cu_skcache_id id =
	    id_for("AKID1", sealed_a, "20261203", "us-east-1");
	struct cu_skcache_id other;

	(void)state;
	memset(key, 0x5a, sizeof(key));
	assert_int_equal(cu_skcache_new(&c), 0);
	assert_int_equal(cu_skcache_get(c, &id, got), 0);
	cu_skcache_put(c, &id, key);
	memset(got, 0, sizeof(got));
	assert_int_equal(cu_skcache_get(c, &id, got), 1);
	assert_memory_equal(got, key, sizeof(key));

	/* any field that differs misses */
	other = id_for("AKID2", sealed_a, "20261203", "us-east-1");
	assert_int_equal(cu_skcache_get(c, &other, got), 0);
	other = id_for("AKID1", sealed_a, "20261204", "us-east-1");
	assert_int_equal(cu_skcache_get(c, &other, got), 0);
	other = id_for("AKID1", sealed_a, "20261203", "eu-west-1");
	assert_int_equal(cu_skcache_get(c, &other, got), 0);
	other = id;
	other.service = "sts";
	assert_int_equal(cu_skcache_get(c, &other, got), 0);
	other = id;
	other.sealed_len--;
	assert_int_equal(cu_skcache_get(c, &other, got), 0);
	cu_skcache_free(c);
}

static void a_new_secret_under_the_same_id_never_meets_the_old_key(void **state)
{
	cu_skcache_t *c = NULL;
	unsigned char key[CU_SIGV4_KEY_LEN], got[CU_SIGV4_KEY_LEN];
	struct cu_skcache_id old =
	    id_for("AKID1", sealed_a, "20261203", "us-east-1");
	struct cu_skcache_id rotated =
	    id_for("AKID1", sealed_b, "20261203", "us-east-1");

	(void)state;
	memset(key, 0x11, sizeof(key));
	assert_int_equal(cu_skcache_new(&c), 0);
	cu_skcache_put(c, &old, key);
	assert_int_equal(cu_skcache_get(c, &rotated, got), 0);
	/* the new key replaces the old one in its slot */
	memset(key, 0x22, sizeof(key));
	cu_skcache_put(c, &rotated, key);
	assert_int_equal(cu_skcache_get(c, &rotated, got), 1);
	assert_memory_equal(got, key, sizeof(key));
	assert_int_equal(cu_skcache_get(c, &old, got), 0);
	cu_skcache_free(c);
}

static void ids_too_long_for_an_entry_are_not_kept(void **state)
{
	cu_skcache_t *c = NULL;
	unsigned char key[CU_SIGV4_KEY_LEN] = {1}, got[CU_SIGV4_KEY_LEN];
	unsigned char big[CU_SKCACHE_SEALED_MAX + 1];
	char region[CU_SIGV4_MAX_REGION + 2];
	struct cu_skcache_id id =
	    id_for("AKID1", sealed_a, "20261203", "us-east-1");

	(void)state;
	memset(big, 7, sizeof(big));
	memset(region, 'r', sizeof(region) - 1);
	region[sizeof(region) - 1] = '\0';
	assert_int_equal(cu_skcache_new(&c), 0);
	id.sealed = big;
	id.sealed_len = sizeof(big);
	cu_skcache_put(c, &id, key);
	assert_int_equal(cu_skcache_get(c, &id, got), 0);
	id = id_for("AKID1", sealed_a, "20261203", region);
	cu_skcache_put(c, &id, key);
	assert_int_equal(cu_skcache_get(c, &id, got), 0);
	id = id_for("AKID1", sealed_a, "2026120", "us-east-1");
	cu_skcache_put(c, &id, key);
	assert_int_equal(cu_skcache_get(c, &id, got), 0);
	cu_skcache_free(c);
}

static void many_keys_overwrite_slots_and_never_mix_them_up(void **state)
{
	cu_skcache_t *c = NULL;
	unsigned char key[CU_SIGV4_KEY_LEN], got[CU_SIGV4_KEY_LEN];
	char akid[32];
	size_t found = 0;

	(void)state;
	assert_int_equal(cu_skcache_new(&c), 0);
	for (unsigned i = 0; i < 4 * CU_SKCACHE_SLOTS; i++) {
		struct cu_skcache_id id;

		snprintf(akid, sizeof(akid), "AKID%u", i);
		id = id_for(akid, sealed_a, "20261203", "us-east-1");
		memset(key, (int)(i & 0xff), sizeof(key));
		cu_skcache_put(c, &id, key);
	}
	for (unsigned i = 0; i < 4 * CU_SKCACHE_SLOTS; i++) {
		struct cu_skcache_id id;

		snprintf(akid, sizeof(akid), "AKID%u", i);
		id = id_for(akid, sealed_a, "20261203", "us-east-1");
		if (cu_skcache_get(c, &id, got)) {
			memset(key, (int)(i & 0xff), sizeof(key));
			assert_memory_equal(got, key, sizeof(key));
			found++;
		}
	}
	assert_true(found > 0 && found <= CU_SKCACHE_SLOTS);
	cu_skcache_free(c);
}

static void a_forgotten_access_key_has_no_entries_left(void **state)
{
	cu_skcache_t *c = NULL;
	unsigned char key[CU_SIGV4_KEY_LEN] = {3}, got[CU_SIGV4_KEY_LEN];
	struct cu_skcache_id a1 =
	    id_for("AKID1", sealed_a, "20261203", "us-east-1");
	struct cu_skcache_id a2 =
	    id_for("AKID1", sealed_a, "20261202", "us-east-1");
	struct cu_skcache_id b =
	    id_for("AKID2", sealed_a, "20261203", "us-east-1");

	(void)state;
	assert_int_equal(cu_skcache_new(&c), 0);
	cu_skcache_put(c, &a1, key);
	cu_skcache_put(c, &a2, key);
	cu_skcache_put(c, &b, key);
	cu_skcache_forget(c, "AKID1", 5);
	assert_int_equal(cu_skcache_get(c, &a1, got), 0);
	assert_int_equal(cu_skcache_get(c, &a2, got), 0);
	assert_int_equal(cu_skcache_get(c, &b, got), 1);
	cu_skcache_forget(NULL, "AKID1", 5);
	cu_skcache_free(c);
}

static void a_null_cache_keeps_nothing(void **state)
{
	unsigned char key[CU_SIGV4_KEY_LEN] = {1}, got[CU_SIGV4_KEY_LEN];
	struct cu_skcache_id id =
	    id_for("AKID1", sealed_a, "20261203", "us-east-1");

	(void)state;
	cu_skcache_put(NULL, &id, key);
	assert_int_equal(cu_skcache_get(NULL, &id, got), 0);
	cu_skcache_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_kept_key_is_found_for_exactly_its_id),
	    cmocka_unit_test(
	        a_new_secret_under_the_same_id_never_meets_the_old_key),
	    cmocka_unit_test(ids_too_long_for_an_entry_are_not_kept),
	    cmocka_unit_test(many_keys_overwrite_slots_and_never_mix_them_up),
	    cmocka_unit_test(a_forgotten_access_key_has_no_entries_left),
	    cmocka_unit_test(a_null_cache_keeps_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

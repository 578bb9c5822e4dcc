/* Unit tests for core/crypto/rsa: RSA-OAEP against Wycheproof's
 * rsa_oaep_2048_sha1_mgf1sha1 and rsa_oaep_{2048,3072,4096}_sha256_mgf1sha256
 * files ("valid": unwraps to the expected message, which also wraps and
 * unwraps again; "invalid": refused with CU_ERR_AUTH; no "acceptable"
 * case), key generation, DER/PEM and n/e round trips, and refusals.
 *
 * The one slow test is the 4096-bit key generation (a second or two; more
 * under sanitizers); CUSTOS_SKIP_SLOW=1 skips it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto/rsa.h"
#include "core/err.h"
#include "helpers/vectors.h"

/* The key of the group being run, loaded once per group. */
struct oaep_run {
	const json_t *group;
	cu_rsa_t *key;
	enum cu_rsa_oaep hash;
	int bad_group;
};

static enum tv_outcome oaep_case(const json_t *group, const json_t *test,
                                 void *arg)
{
	struct oaep_run *run = arg;
	struct tv_bytes der, msg, ct, label;
	enum tv_expect want = tv_expect_of(test);
	enum tv_outcome o = TV_FAIL;
	unsigned char out[CU_RSA_MAX_LEN], ct2[CU_RSA_MAX_LEN];
	size_t n = 0, n2 = 0;
	int r;

	memset(&der, 0, sizeof(der));
	if (run->group != group) {
		const char *sha =
		    json_string_value(json_object_get(group, "sha"));
		const char *mgf =
		    json_string_value(json_object_get(group, "mgfSha"));
		cu_rsa_free(run->key);
		run->key = NULL;
		run->group = group;
		run->bad_group = 1;
		if (sha == NULL || mgf == NULL || strcmp(sha, mgf) != 0)
			return TV_FAIL;
		run->hash = strcmp(sha, "SHA-1") == 0 ? CU_RSA_OAEP_SHA1
		                                      : CU_RSA_OAEP_SHA256;
		if (tv_hex(group, "privateKeyPkcs8", &der) != 0)
			return TV_FAIL;
		r = cu_rsa_load_private(der.data, der.len, CU_RSA_DER,
		                        &run->key);
		tv_bytes_free(&der);
		if (r != 0)
			return TV_FAIL;
		run->bad_group = 0;
	}
	if (run->bad_group)
		return TV_FAIL;
	if (tv_hex(test, "msg", &msg) | tv_hex(test, "ct", &ct) |
	    tv_hex(test, "label", &label))
		goto out;
	r = cu_rsa_oaep_unwrap(run->key, run->hash, label.data, label.len,
	                       ct.data, ct.len, out, sizeof(out), &n);
	if (want == TV_INVALID) {
		o = r == CU_ERR_AUTH ? TV_PASS : TV_FAIL;
		goto out;
	}
	if (r != 0 || n != msg.len || memcmp(out, msg.data, n) != 0)
		goto out;
	/* and our own wrap of the message unwraps to it under this label */
	if (cu_rsa_oaep_wrap(run->key, run->hash, label.data, label.len,
	                     msg.data, msg.len, ct2, sizeof(ct2), &n2) != 0 ||
	    cu_rsa_oaep_unwrap(run->key, run->hash, label.data, label.len, ct2,
	                       n2, out, sizeof(out), &n) != 0 ||
	    n != msg.len || memcmp(out, msg.data, n) != 0)
		goto out;
	o = TV_PASS;
out:
	tv_bytes_free(&msg);
	tv_bytes_free(&ct);
	tv_bytes_free(&label);
	return o;
}

static void run_oaep_file(const char *name)
{
	struct oaep_run run = {NULL, NULL, CU_RSA_OAEP_SHA256, 0};
	int r = tv_run_wycheproof(name, oaep_case, &run, NULL);

	cu_rsa_free(run.key);
	assert_int_equal(r, 0);
}

static void
wycheproof_oaep_2048_sha1_cases_give_the_expected_answer(void **state)
{
	run_oaep_file("rsa_oaep_2048_sha1_mgf1sha1_test.json");
}

static void
wycheproof_oaep_2048_sha256_cases_give_the_expected_answer(void **state)
{
	run_oaep_file("rsa_oaep_2048_sha256_mgf1sha256_test.json");
}

static void
wycheproof_oaep_3072_sha256_cases_give_the_expected_answer(void **state)
{
	run_oaep_file("rsa_oaep_3072_sha256_mgf1sha256_test.json");
}

static void
wycheproof_oaep_4096_sha256_cases_give_the_expected_answer(void **state)
{
	run_oaep_file("rsa_oaep_4096_sha256_mgf1sha256_test.json");
}

/* One 2048-bit pair shared by the behaviour tests below. */
static cu_rsa_t *pair;
static cu_rsa_t *other;

static int setup_keys(void **state)
{
	if (cu_rsa_generate(2048, &pair) != 0 ||
	    cu_rsa_generate(2048, &other) != 0)
		return -1;
	return 0;
}

static int teardown_keys(void **state)
{
	cu_rsa_free(pair);
	cu_rsa_free(other);
	pair = other = NULL;
	return 0;
}

static const unsigned char tk[32] = {0x7e, 0x4a, 1, 2, 3, 4, 5, 6, 7, 8};

static void generated_2048_and_3072_bit_keys_wrap_and_unwrap(void **state)
{
	unsigned bits[] = {2048, 3072};

	for (size_t i = 0; i < 2; i++) {
		cu_rsa_t *k = NULL;
		unsigned char ct[CU_RSA_MAX_LEN], out[64];
		size_t n = 0, m = 0;

		assert_int_equal(cu_rsa_generate(bits[i], &k), 0);
		assert_int_equal(cu_rsa_bits(k), bits[i]);
		assert_int_equal(cu_rsa_size(k), bits[i] / 8);
		assert_int_equal(cu_rsa_has_private(k), 1);
		assert_int_equal(cu_rsa_oaep_wrap(k, CU_RSA_OAEP_SHA256, NULL,
		                                  0, tk, 32, ct, sizeof(ct),
		                                  &n),
		                 0);
		assert_int_equal(n, bits[i] / 8);
		assert_int_equal(cu_rsa_oaep_unwrap(k, CU_RSA_OAEP_SHA256, NULL,
		                                    0, ct, n, out, sizeof(out),
		                                    &m),
		                 0);
		assert_int_equal(m, 32);
		assert_memory_equal(out, tk, 32);
		cu_rsa_free(k);
	}
}

static void other_sizes_cannot_be_generated(void **state)
{
	cu_rsa_t *k = (cu_rsa_t *)1;

	assert_int_equal(cu_rsa_generate(1024, &k), CU_ERR_UNSUPPORTED);
	assert_null(k);
	assert_int_equal(cu_rsa_generate(2047, &k), CU_ERR_UNSUPPORTED);
}

static void unwrap_with_wrong_key_label_or_hash_is_refused(void **state)
{
	unsigned char ct[256], out[256];
	size_t n = 0, m = 0;

	assert_int_equal(cu_rsa_oaep_wrap(pair, CU_RSA_OAEP_SHA256, "ctx", 3,
	                                  tk, 32, ct, sizeof(ct), &n),
	                 0);
	assert_int_equal(cu_rsa_oaep_unwrap(other, CU_RSA_OAEP_SHA256, "ctx", 3,
	                                    ct, n, out, sizeof(out), &m),
	                 CU_ERR_AUTH);
	assert_int_equal(cu_rsa_oaep_unwrap(pair, CU_RSA_OAEP_SHA256, "ctX", 3,
	                                    ct, n, out, sizeof(out), &m),
	                 CU_ERR_AUTH);
	assert_int_equal(cu_rsa_oaep_unwrap(pair, CU_RSA_OAEP_SHA256, NULL, 0,
	                                    ct, n, out, sizeof(out), &m),
	                 CU_ERR_AUTH);
	assert_int_equal(cu_rsa_oaep_unwrap(pair, CU_RSA_OAEP_SHA1, "ctx", 3,
	                                    ct, n, out, sizeof(out), &m),
	                 CU_ERR_AUTH);
	assert_int_equal(m, 0);
	assert_int_equal(cu_rsa_oaep_unwrap(pair, CU_RSA_OAEP_SHA256, "ctx", 3,
	                                    ct, n, out, sizeof(out), &m),
	                 0);
	assert_memory_equal(out, tk, 32);
}

static void tampered_or_resized_ciphertext_is_refused_alike(void **state)
{
	unsigned char ct[257], out[256];
	size_t n = 0, m = 0;

	assert_int_equal(cu_rsa_oaep_wrap(pair, CU_RSA_OAEP_SHA1, NULL, 0, tk,
	                                  32, ct, sizeof(ct), &n),
	                 0);
	for (size_t i = 0; i < n; i += 17) {
		ct[i] ^= 0x01;
		assert_int_equal(cu_rsa_oaep_unwrap(pair, CU_RSA_OAEP_SHA1,
		                                    NULL, 0, ct, n, out,
		                                    sizeof(out), &m),
		                 CU_ERR_AUTH);
		ct[i] ^= 0x01;
	}
	/* short, long and empty ciphertexts: the same one answer */
	assert_int_equal(cu_rsa_oaep_unwrap(pair, CU_RSA_OAEP_SHA1, NULL, 0, ct,
	                                    n - 1, out, sizeof(out), &m),
	                 CU_ERR_AUTH);
	ct[n] = 0;
	assert_int_equal(cu_rsa_oaep_unwrap(pair, CU_RSA_OAEP_SHA1, NULL, 0, ct,
	                                    n + 1, out, sizeof(out), &m),
	                 CU_ERR_AUTH);
	assert_int_equal(cu_rsa_oaep_unwrap(pair, CU_RSA_OAEP_SHA1, NULL, 0, ct,
	                                    0, out, sizeof(out), &m),
	                 CU_ERR_AUTH);
	/* a ciphertext >= n */
	memset(ct, 0xff, n);
	assert_int_equal(cu_rsa_oaep_unwrap(pair, CU_RSA_OAEP_SHA1, NULL, 0, ct,
	                                    n, out, sizeof(out), &m),
	                 CU_ERR_AUTH);
}

static void wrap_refuses_too_long_input_and_small_output(void **state)
{
	unsigned char in[256] = {0}, ct[256];
	size_t n = 0;
	size_t max = cu_rsa_oaep_max_len(pair, CU_RSA_OAEP_SHA256);

	assert_int_equal(max, 256 - 2 * 32 - 2);
	assert_int_equal(cu_rsa_oaep_max_len(pair, CU_RSA_OAEP_SHA1),
	                 256 - 2 * 20 - 2);
	assert_int_equal(cu_rsa_oaep_wrap(pair, CU_RSA_OAEP_SHA256, NULL, 0, in,
	                                  max + 1, ct, sizeof(ct), &n),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_rsa_oaep_wrap(pair, CU_RSA_OAEP_SHA256, NULL, 0, in,
	                                  max, ct, sizeof(ct), &n),
	                 0);
	assert_int_equal(cu_rsa_oaep_wrap(pair, CU_RSA_OAEP_SHA256, NULL, 0, in,
	                                  32, ct, 255, &n),
	                 CU_ERR_RANGE);
	/* the unwrapped key must fit the caller's buffer */
	assert_int_equal(cu_rsa_oaep_wrap(pair, CU_RSA_OAEP_SHA256, NULL, 0, tk,
	                                  32, ct, sizeof(ct), &n),
	                 0);
	assert_int_equal(cu_rsa_oaep_unwrap(pair, CU_RSA_OAEP_SHA256, NULL, 0,
	                                    ct, n, in, 31, &n),
	                 CU_ERR_RANGE);
}

static void keys_survive_der_and_pem_round_trips(void **state)
{
	enum cu_rsa_format fmts[] = {CU_RSA_DER, CU_RSA_PEM};

	for (size_t i = 0; i < 2; i++) {
		unsigned char *priv = NULL, *pub = NULL;
		size_t priv_len = 0, pub_len = 0, n = 0, m = 0;
		cu_rsa_t *k2 = NULL, *p2 = NULL, *k3 = NULL;
		unsigned char ct[256], out[64];

		assert_int_equal(
		    cu_rsa_save_private(pair, fmts[i], &priv, &priv_len), 0);
		assert_int_equal(
		    cu_rsa_save_public(pair, fmts[i], &pub, &pub_len), 0);
		if (fmts[i] == CU_RSA_PEM) {
			assert_memory_equal(priv, "-----BEGIN PRIVATE KEY-----",
			                    27);
			assert_memory_equal(pub, "-----BEGIN PUBLIC KEY-----",
			                    26);
		}
		assert_int_equal(
		    cu_rsa_load_private(priv, priv_len, fmts[i], &k2), 0);
		assert_int_equal(cu_rsa_load_public(pub, pub_len, fmts[i], &p2),
		                 0);
		assert_int_equal(cu_rsa_has_private(p2), 0);
		/* wrap under the loaded public, unwrap with the loaded pair */
		assert_int_equal(cu_rsa_oaep_wrap(p2, CU_RSA_OAEP_SHA256, NULL,
		                                  0, tk, 32, ct, sizeof(ct),
		                                  &n),
		                 0);
		assert_int_equal(cu_rsa_oaep_unwrap(k2, CU_RSA_OAEP_SHA256,
		                                    NULL, 0, ct, n, out,
		                                    sizeof(out), &m),
		                 0);
		assert_memory_equal(out, tk, 32);
		/* a public key cannot unwrap nor be saved as private */
		assert_int_equal(cu_rsa_oaep_unwrap(p2, CU_RSA_OAEP_SHA256,
		                                    NULL, 0, ct, n, out,
		                                    sizeof(out), &m),
		                 CU_ERR_STATE);
		cu_rsa_buf_free(pub, pub_len);
		pub = NULL;
		assert_int_equal(
		    cu_rsa_save_private(p2, fmts[i], &pub, &pub_len),
		    CU_ERR_STATE);
		/* a public key is not a private key */
		assert_int_not_equal(
		    cu_rsa_load_private(priv + 1, priv_len - 1, fmts[i], &k3),
		    0);
		assert_null(k3);
		cu_rsa_buf_free(priv, priv_len);
		cu_rsa_free(k2);
		cu_rsa_free(p2);
	}
	cu_rsa_free(NULL);
	cu_rsa_buf_free(NULL, 0);
}

static void der_with_trailing_bytes_does_not_load(void **state)
{
	unsigned char *der = NULL, *junk;
	size_t len = 0;
	cu_rsa_t *k = NULL;

	assert_int_equal(cu_rsa_save_public(pair, CU_RSA_DER, &der, &len), 0);
	junk = malloc(len + 1);
	assert_non_null(junk);
	memcpy(junk, der, len);
	junk[len] = 0;
	assert_int_equal(cu_rsa_load_public(junk, len + 1, CU_RSA_DER, &k),
	                 CU_ERR_PARSE);
	assert_int_equal(cu_rsa_load_public(junk, len, CU_RSA_DER, &k), 0);
	cu_rsa_free(k);
	free(junk);
	cu_rsa_buf_free(der, len);
}

static void garbage_and_foreign_keys_do_not_load(void **state)
{
	cu_rsa_t *k = NULL;
	/* an EC P-256 public key (SubjectPublicKeyInfo, DER) */
	struct tv_bytes ec;

	assert_int_equal(cu_rsa_load_private("nonsense", 8, CU_RSA_DER, &k),
	                 CU_ERR_PARSE);
	assert_int_equal(cu_rsa_load_public("nonsense", 8, CU_RSA_PEM, &k),
	                 CU_ERR_PARSE);
	assert_int_equal(cu_rsa_load_public(NULL, 0, CU_RSA_DER, &k),
	                 CU_ERR_PARSE);
	assert_int_equal(
	    tv_hex_str("3059301306072a8648ce3d020106082a8648ce3d030107034200"
	               "042927b10512bae3eddcfe467828128bad2903269919f7086069"
	               "c8c4df6c732838c7787964eaac00e5921fb1498a60f4606766b3"
	               "d9685001558d1a974e7341513e",
	               &ec),
	    0);
	assert_int_not_equal(
	    cu_rsa_load_public(ec.data, ec.len, CU_RSA_DER, &k), 0);
	assert_null(k);
	tv_bytes_free(&ec);
}

static void public_key_rebuilds_from_n_and_e(void **state)
{
	unsigned char n[CU_RSA_MAX_LEN + 1], e[CU_RSA_MAX_E_LEN], ct[256],
	    out[64];
	size_t n_len = 0, e_len = 0, c = 0, m = 0;
	cu_rsa_t *pub = NULL;

	assert_int_equal(cu_rsa_public_ne(pair, n + 1, CU_RSA_MAX_LEN, &n_len,
	                                  e, sizeof(e), &e_len),
	                 0);
	assert_int_equal(n_len, 256);
	assert_int_equal(e_len, 3);
	assert_memory_equal(e, "\x01\x00\x01", 3);
	/* a leading zero byte (as some JWK encoders write) is accepted */
	n[0] = 0;
	assert_int_equal(cu_rsa_from_ne(n, n_len + 1, e, e_len, &pub), 0);
	assert_int_equal(cu_rsa_bits(pub), 2048);
	assert_int_equal(cu_rsa_oaep_wrap(pub, CU_RSA_OAEP_SHA256, NULL, 0, tk,
	                                  32, ct, sizeof(ct), &c),
	                 0);
	assert_int_equal(cu_rsa_oaep_unwrap(pair, CU_RSA_OAEP_SHA256, NULL, 0,
	                                    ct, c, out, sizeof(out), &m),
	                 0);
	assert_memory_equal(out, tk, 32);
	cu_rsa_free(pub);
	pub = NULL;
	/* buffers too small */
	assert_int_equal(
	    cu_rsa_public_ne(pair, n, 255, &n_len, e, sizeof(e), &e_len),
	    CU_ERR_RANGE);
	/* refusals: short modulus, even modulus, bad exponents */
	assert_int_equal(cu_rsa_from_ne(n + 1, 128, e, 3, &pub),
	                 CU_ERR_UNSUPPORTED);
	assert_int_equal(
	    cu_rsa_public_ne(pair, n, sizeof(n), &n_len, e, sizeof(e), &e_len),
	    0);
	n[n_len - 1] ^= 1;
	assert_int_equal(cu_rsa_from_ne(n, n_len, e, e_len, &pub),
	                 CU_ERR_INVAL);
	n[n_len - 1] ^= 1;
	assert_int_equal(
	    cu_rsa_from_ne(n, n_len, (const unsigned char *)"\x01", 1, &pub),
	    CU_ERR_INVAL);
	assert_int_equal(cu_rsa_from_ne(n, n_len,
	                                (const unsigned char *)"\x01\x00", 2,
	                                &pub),
	                 CU_ERR_INVAL);
	assert_int_equal(cu_rsa_from_ne(n, n_len, e, 0, &pub), CU_ERR_INVAL);
	assert_null(pub);
}

/* The slow one. */
static void generated_4096_bit_key_wraps_and_unwraps(void **state)
{
	cu_rsa_t *k = NULL;
	unsigned char ct[512], out[64];
	size_t n = 0, m = 0;
	const char *skip = getenv("CUSTOS_SKIP_SLOW");

	if (skip != NULL && strcmp(skip, "1") == 0)
		skip();
	assert_int_equal(cu_rsa_generate(4096, &k), 0);
	assert_int_equal(cu_rsa_bits(k), 4096);
	assert_int_equal(cu_rsa_oaep_wrap(k, CU_RSA_OAEP_SHA256, NULL, 0, tk,
	                                  32, ct, sizeof(ct), &n),
	                 0);
	assert_int_equal(n, 512);
	assert_int_equal(cu_rsa_oaep_unwrap(k, CU_RSA_OAEP_SHA256, NULL, 0, ct,
	                                    n, out, sizeof(out), &m),
	                 0);
	assert_memory_equal(out, tk, 32);
	cu_rsa_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        wycheproof_oaep_2048_sha1_cases_give_the_expected_answer),
	    cmocka_unit_test(
	        wycheproof_oaep_2048_sha256_cases_give_the_expected_answer),
	    cmocka_unit_test(
	        wycheproof_oaep_3072_sha256_cases_give_the_expected_answer),
	    cmocka_unit_test(
	        wycheproof_oaep_4096_sha256_cases_give_the_expected_answer),
	    cmocka_unit_test(generated_2048_and_3072_bit_keys_wrap_and_unwrap),
	    cmocka_unit_test(other_sizes_cannot_be_generated),
	    cmocka_unit_test(unwrap_with_wrong_key_label_or_hash_is_refused),
	    cmocka_unit_test(tampered_or_resized_ciphertext_is_refused_alike),
	    cmocka_unit_test(wrap_refuses_too_long_input_and_small_output),
	    cmocka_unit_test(keys_survive_der_and_pem_round_trips),
	    cmocka_unit_test(garbage_and_foreign_keys_do_not_load),
	    cmocka_unit_test(der_with_trailing_bytes_does_not_load),
	    cmocka_unit_test(public_key_rebuilds_from_n_and_e),
	    cmocka_unit_test(generated_4096_bit_key_wraps_and_unwraps),
	};
	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}

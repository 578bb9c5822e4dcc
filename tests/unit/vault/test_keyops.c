/* Unit tests for vault/keyops: generation, JWK import, sealing form,
 * OAEP, A256KW, RSA/ECDSA signatures over digests, and refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/ec.h>

#include "core/b64.h"
#include "core/err.h"
#include "core/secmem.h"
#include "vault/keyops.h"

static cu_vko_t *rsa2048;

static int group_setup(void **state)
{
	return cu_vko_generate(CU_VKO_RSA, 2048, &rsa2048);
}

static int group_teardown(void **state)
{
	cu_vko_free(rsa2048);
	return 0;
}

static cu_vko_t *reload(const cu_vko_t *k)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	cu_vko_t *k2 = NULL;

	assert_int_equal(cu_vko_serialize(k, &buf, &len), 0);
	assert_int_equal(cu_vko_load(cu_vko_kty(k), buf, len, &k2), 0);
	cu_secmem_free(buf, len);
	assert_int_equal(cu_vko_size(k2), cu_vko_size(k));
	return k2;
}

static void algorithm_names_parse_and_rsa1_5_is_refused(void **state)
{
	const char *why = NULL;
	int alg = 0;

	assert_int_equal(cu_vko_alg_parse("RSA-OAEP-256", &alg, &why), 0);
	assert_int_equal(alg, CU_VKO_RSA_OAEP_256);
	assert_string_equal(cu_vko_alg_name(alg), "RSA-OAEP-256");
	assert_int_equal(cu_vko_alg_parse("RSA1_5", &alg, &why),
	                 CU_ERR_UNSUPPORTED);
	assert_non_null(strstr(why, "padding-oracle"));
	assert_int_equal(cu_vko_alg_parse("bogus", &alg, &why), CU_ERR_INVAL);
	assert_int_equal(cu_vko_alg_parse(NULL, &alg, &why), CU_ERR_INVAL);
}

static void rsa_oaep_round_trips_after_sealing_form_reload(void **state)
{
	unsigned char pt[32], ct[CU_VKO_MAX_OUT], back[CU_VKO_MAX_OUT];
	size_t ctl = 0, bl = 0;
	cu_vko_t *k2 = reload(rsa2048);

	memset(pt, 0x42, sizeof(pt));
	for (int alg = CU_VKO_RSA_OAEP; alg <= CU_VKO_RSA_OAEP_256; alg++) {
		assert_int_equal(cu_vko_encrypt(rsa2048, alg, pt, sizeof(pt),
		                                ct, sizeof(ct), &ctl),
		                 0);
		assert_int_equal(ctl, 256);
		assert_int_equal(
		    cu_vko_decrypt(k2, alg, ct, ctl, back, sizeof(back), &bl),
		    0);
		assert_int_equal(bl, sizeof(pt));
		assert_memory_equal(back, pt, sizeof(pt));
		/* the other OAEP hash does not decrypt it */
		assert_int_equal(
		    cu_vko_decrypt(k2,
		                   alg == CU_VKO_RSA_OAEP ? CU_VKO_RSA_OAEP_256
		                                          : CU_VKO_RSA_OAEP,
		                   ct, ctl, back, sizeof(back), &bl),
		    CU_ERR_AUTH);
		ct[100] ^= 1;
		assert_int_equal(
		    cu_vko_decrypt(k2, alg, ct, ctl, back, sizeof(back), &bl),
		    CU_ERR_AUTH);
		assert_int_equal(cu_vko_decrypt(k2, alg, ct, ctl - 1, back,
		                                sizeof(back), &bl),
		                 CU_ERR_AUTH);
	}
	/* wrong algorithm for the key type */
	assert_int_equal(cu_vko_encrypt(rsa2048, CU_VKO_A256KW, pt, 32, ct,
	                                sizeof(ct), &ctl),
	                 CU_ERR_INVAL);
	assert_int_equal(
	    cu_vko_encrypt(rsa2048, CU_VKO_RS256, pt, 32, ct, sizeof(ct), &ctl),
	    CU_ERR_INVAL);
	/* too long for OAEP-256 under 2048 bits (max 190) */
	unsigned char big[191] = {0};
	assert_int_equal(cu_vko_encrypt(rsa2048, CU_VKO_RSA_OAEP_256, big,
	                                sizeof(big), ct, sizeof(ct), &ctl),
	                 CU_ERR_INVAL);
	cu_vko_free(k2);
}

static void oct_keys_wrap_with_a256kw_only(void **state)
{
	unsigned char pt[32], ct[64], back[64];
	size_t ctl = 0, bl = 0;
	cu_vko_t *k = NULL, *k2;
	json_t *jwk = json_object();

	assert_int_equal(cu_vko_generate(CU_VKO_OCT, 256, &k), 0);
	assert_int_equal(cu_vko_generate(CU_VKO_OCT, 128, &k2),
	                 CU_ERR_UNSUPPORTED);
	k2 = reload(k);
	memset(pt, 7, sizeof(pt));
	assert_int_equal(
	    cu_vko_encrypt(k, CU_VKO_A256KW, pt, 32, ct, sizeof(ct), &ctl), 0);
	assert_int_equal(ctl, 40);
	assert_int_equal(
	    cu_vko_decrypt(k2, CU_VKO_A256KW, ct, ctl, back, sizeof(back), &bl),
	    0);
	assert_memory_equal(back, pt, 32);
	ct[5] ^= 1;
	assert_int_equal(
	    cu_vko_decrypt(k2, CU_VKO_A256KW, ct, ctl, back, sizeof(back), &bl),
	    CU_ERR_AUTH);
	assert_int_equal(
	    cu_vko_encrypt(k, CU_VKO_A256KW, pt, 12, ct, sizeof(ct), &ctl),
	    CU_ERR_INVAL);
	assert_int_equal(cu_vko_encrypt(k, CU_VKO_RSA_OAEP_256, pt, 32, ct,
	                                sizeof(ct), &ctl),
	                 CU_ERR_INVAL);
	assert_int_equal(
	    cu_vko_sign(k, CU_VKO_RS256, pt, 32, ct, sizeof(ct), &ctl),
	    CU_ERR_INVAL);
	/* the public JWK of an oct key carries nothing */
	assert_int_equal(cu_vko_public_jwk(k, jwk), 0);
	assert_int_equal(json_object_size(jwk), 0);
	json_decref(jwk);
	cu_vko_free(k);
	cu_vko_free(k2);
}

static void rsa_signatures_verify_over_digests(void **state)
{
	static const int algs[] = {CU_VKO_RS256, CU_VKO_RS384, CU_VKO_RS512,
	                           CU_VKO_PS256, CU_VKO_PS384, CU_VKO_PS512};
	static const size_t dl[] = {32, 48, 64, 32, 48, 64};
	unsigned char d[64], sig[CU_VKO_MAX_OUT];
	size_t sl = 0;

	memset(d, 0x11, sizeof(d));
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(cu_vko_sign(rsa2048, algs[i], d, dl[i], sig,
		                             sizeof(sig), &sl),
		                 0);
		assert_int_equal(sl, 256);
		assert_int_equal(
		    cu_vko_verify(rsa2048, algs[i], d, dl[i], sig, sl), 0);
		d[0] ^= 1;
		assert_int_equal(
		    cu_vko_verify(rsa2048, algs[i], d, dl[i], sig, sl),
		    CU_ERR_AUTH);
		d[0] ^= 1;
		/* wrong digest length */
		assert_int_equal(cu_vko_sign(rsa2048, algs[i], d, dl[i] - 1,
		                             sig, sizeof(sig), &sl),
		                 CU_ERR_INVAL);
	}
	assert_int_equal(
	    cu_vko_sign(rsa2048, CU_VKO_ES256, d, 32, sig, sizeof(sig), &sl),
	    CU_ERR_INVAL);
}

/* Many threads at once on one key: each private operation takes a copy
 * of the key no other uses (more threads than copies share the key);
 * every answer must be right. */
static unsigned char conc_ct[256];
static size_t conc_ctl;

static void *private_ops(void *arg)
{
	unsigned char back[CU_VKO_MAX_OUT], d[32], sig[CU_VKO_MAX_OUT];
	size_t bl = 0, sl = 0;

	memset(d, (int)(intptr_t)arg, sizeof(d));
	for (int i = 0; i < 10; i++) {
		if (cu_vko_decrypt(rsa2048, CU_VKO_RSA_OAEP_256, conc_ct,
		                   conc_ctl, back, sizeof(back), &bl) != 0 ||
		    bl != 32 || back[0] != 0x5a || back[31] != 0x5a)
			return (void *)1;
		if (cu_vko_sign(rsa2048, CU_VKO_PS256, d, sizeof(d), sig,
		                sizeof(sig), &sl) != 0 ||
		    cu_vko_verify(rsa2048, CU_VKO_PS256, d, sizeof(d), sig,
		                  sl) != 0)
			return (void *)1;
	}
	return NULL;
}

static void concurrent_private_operations_on_one_key_are_right(void **state)
{
	unsigned char pt[32];
	pthread_t t[12];
	void *ret;

	memset(pt, 0x5a, sizeof(pt));
	assert_int_equal(cu_vko_encrypt(rsa2048, CU_VKO_RSA_OAEP_256, pt,
	                                sizeof(pt), conc_ct, sizeof(conc_ct),
	                                &conc_ctl),
	                 0);
	for (int i = 0; i < 12; i++)
		assert_int_equal(pthread_create(&t[i], NULL, private_ops,
		                                (void *)(intptr_t)(i + 1)),
		                 0);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
}

static void ecdsa_signatures_are_raw_r_s_and_verify(void **state)
{
	unsigned char d[48], sig[CU_VKO_MAX_OUT];
	size_t sl = 0;
	cu_vko_t *k = NULL, *k2;
	json_t *jwk = json_object();

	memset(d, 0x22, sizeof(d));
	assert_int_equal(cu_vko_generate(CU_VKO_EC, CU_VKO_P256, &k), 0);
	k2 = reload(k);
	assert_int_equal(
	    cu_vko_sign(k2, CU_VKO_ES256, d, 32, sig, sizeof(sig), &sl), 0);
	assert_int_equal(sl, 64);
	assert_int_equal(cu_vko_verify(k, CU_VKO_ES256, d, 32, sig, sl), 0);
	sig[63] ^= 1;
	assert_int_equal(cu_vko_verify(k, CU_VKO_ES256, d, 32, sig, sl),
	                 CU_ERR_AUTH);
	assert_int_equal(cu_vko_verify(k, CU_VKO_ES256, d, 32, sig, 63),
	                 CU_ERR_AUTH);
	assert_int_equal(
	    cu_vko_sign(k, CU_VKO_ES384, d, 48, sig, sizeof(sig), &sl),
	    CU_ERR_INVAL);
	assert_int_equal(
	    cu_vko_encrypt(k, CU_VKO_RSA_OAEP, d, 32, sig, sizeof(sig), &sl),
	    CU_ERR_INVAL);
	assert_int_equal(cu_vko_public_jwk(k, jwk), 0);
	assert_string_equal(json_string_value(json_object_get(jwk, "crv")),
	                    "P-256");
	assert_int_equal(strlen(json_string_value(json_object_get(jwk, "x"))),
	                 43);
	assert_null(json_object_get(jwk, "d"));
	json_decref(jwk);
	cu_vko_free(k);
	cu_vko_free(k2);
	assert_int_equal(cu_vko_generate(CU_VKO_EC, CU_VKO_P384, &k), 0);
	assert_int_equal(
	    cu_vko_sign(k, CU_VKO_ES384, d, 48, sig, sizeof(sig), &sl), 0);
	assert_int_equal(sl, 96);
	assert_int_equal(cu_vko_verify(k, CU_VKO_ES384, d, 48, sig, sl), 0);
	cu_vko_free(k);
}

/* Build a private JWK from an OpenSSL key for the import tests. */
static void put(json_t *jwk, const char *name, EVP_PKEY *pk, const char *param,
                int pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[600];
	char *enc = NULL;
	int n;

	assert_int_equal(EVP_PKEY_get_bn_param(pk, param, &bn), 1);
	n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	assert_int_equal(cu_b64url_encode_alloc(buf, (size_t)n, &enc), 0);
	json_object_set_new(jwk, name, json_string(enc));
	free(enc);
	BN_free(bn);
}

static void jwk_imports_work_and_bad_ones_are_refused(void **state)
{
	EVP_PKEY *pk = EVP_RSA_gen(2048);
	json_t *jwk = json_pack("{s:s}", "kty", "RSA");
	cu_vko_t *k = NULL;
	const char *why = NULL;
	unsigned char d[32] = {0}, sig[512];
	size_t sl;

	put(jwk, "n", pk, OSSL_PKEY_PARAM_RSA_N, 0);
	put(jwk, "e", pk, OSSL_PKEY_PARAM_RSA_E, 0);
	put(jwk, "d", pk, OSSL_PKEY_PARAM_RSA_D, 0);
	put(jwk, "p", pk, OSSL_PKEY_PARAM_RSA_FACTOR1, 0);
	put(jwk, "q", pk, OSSL_PKEY_PARAM_RSA_FACTOR2, 0);
	put(jwk, "dp", pk, OSSL_PKEY_PARAM_RSA_EXPONENT1, 0);
	put(jwk, "dq", pk, OSSL_PKEY_PARAM_RSA_EXPONENT2, 0);
	put(jwk, "qi", pk, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, 0);
	assert_int_equal(cu_vko_from_jwk(jwk, &k, &why), 0);
	assert_int_equal(cu_vko_kty(k), CU_VKO_RSA);
	assert_int_equal(cu_vko_size(k), 2048);
	assert_int_equal(
	    cu_vko_sign(k, CU_VKO_PS256, d, 32, sig, sizeof(sig), &sl), 0);
	cu_vko_free(k);
	/* a p from another key: inconsistent */
	EVP_PKEY *other = EVP_RSA_gen(2048);
	json_t *bad = json_deep_copy(jwk);
	put(bad, "p", other, OSSL_PKEY_PARAM_RSA_FACTOR1, 0);
	assert_int_not_equal(cu_vko_from_jwk(bad, &k, &why), 0);
	assert_null(k);
	json_decref(bad);
	/* a missing member, bad base64url */
	bad = json_deep_copy(jwk);
	json_object_del(bad, "qi");
	assert_int_equal(cu_vko_from_jwk(bad, &k, &why), CU_ERR_PARSE);
	json_object_set_new(bad, "qi", json_string("!!!"));
	assert_int_equal(cu_vko_from_jwk(bad, &k, &why), CU_ERR_PARSE);
	json_object_set_new(bad, "qi", json_integer(5));
	assert_int_equal(cu_vko_from_jwk(bad, &k, &why), CU_ERR_PARSE);
	json_decref(bad);
	json_decref(jwk);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(other);

	/* EC */
	pk = EVP_EC_gen("P-256");
	jwk = json_pack("{s:s,s:s}", "kty", "EC", "crv", "P-256");
	put(jwk, "x", pk, OSSL_PKEY_PARAM_EC_PUB_X, 32);
	put(jwk, "y", pk, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
	put(jwk, "d", pk, OSSL_PKEY_PARAM_PRIV_KEY, 32);
	assert_int_equal(cu_vko_from_jwk(jwk, &k, &why), 0);
	assert_int_equal(cu_vko_size(k), CU_VKO_P256);
	cu_vko_free(k);
	json_object_set_new(jwk, "crv", json_string("P-384"));
	assert_int_not_equal(cu_vko_from_jwk(jwk, &k, &why), 0);
	json_object_set_new(jwk, "crv", json_string("P-521"));
	assert_int_equal(cu_vko_from_jwk(jwk, &k, &why), CU_ERR_UNSUPPORTED);
	json_decref(jwk);
	EVP_PKEY_free(pk);

	/* oct */
	jwk = json_pack("{s:s,s:s}", "kty", "oct", "k",
	                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
	assert_int_equal(cu_vko_from_jwk(jwk, &k, &why), 0);
	assert_int_equal(cu_vko_size(k), 256);
	cu_vko_free(k);
	json_object_set_new(jwk, "k", json_string("AAECAwQFBgcICQoLDA0ODw"));
	assert_int_equal(cu_vko_from_jwk(jwk, &k, &why), CU_ERR_UNSUPPORTED);
	json_object_set_new(jwk, "kty", json_string("OKP"));
	assert_int_equal(cu_vko_from_jwk(jwk, &k, &why), CU_ERR_UNSUPPORTED);
	json_decref(jwk);
	assert_int_equal(cu_vko_from_jwk(NULL, &k, &why), CU_ERR_PARSE);
}

static void public_jwk_of_rsa_has_n_and_e_only(void **state)
{
	json_t *jwk = json_object();

	assert_int_equal(cu_vko_public_jwk(rsa2048, jwk), 0);
	assert_int_equal(json_object_size(jwk), 2);
	assert_string_equal(json_string_value(json_object_get(jwk, "e")),
	                    "AQAB");
	assert_int_equal(strlen(json_string_value(json_object_get(jwk, "n"))),
	                 342);
	json_decref(jwk);
}

static void loading_garbage_is_refused(void **state)
{
	unsigned char junk[100];
	cu_vko_t *k = NULL;

	memset(junk, 0x30, sizeof(junk));
	assert_int_equal(cu_vko_load(CU_VKO_RSA, junk, sizeof(junk), &k),
	                 CU_ERR_PARSE);
	assert_int_equal(cu_vko_load(CU_VKO_OCT, junk, 31, &k), CU_ERR_PARSE);
	assert_int_equal(cu_vko_load(9, junk, 32, &k), CU_ERR_UNSUPPORTED);
	assert_null(k);
	cu_vko_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(algorithm_names_parse_and_rsa1_5_is_refused),
	    cmocka_unit_test(rsa_oaep_round_trips_after_sealing_form_reload),
	    cmocka_unit_test(oct_keys_wrap_with_a256kw_only),
	    cmocka_unit_test(rsa_signatures_verify_over_digests),
	    cmocka_unit_test(ecdsa_signatures_are_raw_r_s_and_verify),
	    cmocka_unit_test(
	        concurrent_private_operations_on_one_key_are_right),
	    cmocka_unit_test(jwk_imports_work_and_bad_ones_are_refused),
	    cmocka_unit_test(public_jwk_of_rsa_has_n_and_e_only),
	    cmocka_unit_test(loading_garbage_is_refused),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

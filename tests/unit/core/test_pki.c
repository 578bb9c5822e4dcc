/* Unit tests for core/pki: CA, server and client certificates, files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/pki.h"

static X509 *parse(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(x);
	return x;
}

static int verifies(const char *ca_pem, const char *leaf_pem, int purpose,
                    const char *host)
{
	X509 *ca = parse(ca_pem), *leaf = parse(leaf_pem);
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	X509_STORE_add_cert(st, ca);
	X509_STORE_CTX_init(ctx, st, leaf, NULL);
	X509_STORE_CTX_set_purpose(ctx, purpose);
	if (host != NULL)
		X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx),
		                            host, 0);
	ok = X509_verify_cert(ctx) == 1;
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	X509_free(ca);
	X509_free(leaf);
	return ok;
}

static void server_certificate_chains_to_the_ca_with_sans(void **state)
{
	char *ca = NULL, *cakey = NULL, *cert = NULL, *key = NULL;
	const char *extra[] = {"vault.example", "10.1.2.3"};

	assert_int_equal(cu_pki_ca_new("test CA", 0, &ca, &cakey), 0);
	assert_non_null(strstr(ca, "BEGIN CERTIFICATE"));
	assert_non_null(strstr(cakey, "PRIVATE KEY"));
	assert_int_equal(cu_pki_issue(ca, cakey, CU_PKI_SERVER, "localhost",
	                              extra, 2, 0, &cert, &key),
	                 0);
	assert_true(verifies(ca, cert, X509_PURPOSE_SSL_SERVER, "localhost"));
	assert_true(
	    verifies(ca, cert, X509_PURPOSE_SSL_SERVER, "vault.example"));
	assert_false(verifies(ca, cert, X509_PURPOSE_SSL_SERVER, "evil.test"));
	/* a server certificate is not a client one */
	assert_false(verifies(ca, cert, X509_PURPOSE_SSL_CLIENT, NULL));
	X509 *x = parse(cert);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "10.1.2.3", 0), 1);
	X509_free(x);
	cu_pki_pem_free(ca);
	cu_pki_pem_free(cakey);
	cu_pki_pem_free(cert);
	cu_pki_pem_free(key);
}

static void client_certificate_names_the_principal(void **state)
{
	char *ca = NULL, *cakey = NULL, *cert = NULL, *key = NULL;
	char cn[80];

	assert_int_equal(cu_pki_ca_new("test CA", 1, &ca, &cakey), 0);
	assert_int_equal(cu_pki_issue(ca, cakey, CU_PKI_CLIENT, "custos-store",
	                              NULL, 0, 1, &cert, &key),
	                 0);
	assert_true(verifies(ca, cert, X509_PURPOSE_SSL_CLIENT, NULL));
	assert_false(verifies(ca, cert, X509_PURPOSE_SSL_SERVER, NULL));
	X509 *x = parse(cert);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
	                          sizeof(cn));
	assert_string_equal(cn, "custos-store");
	X509_free(x);
	cu_pki_pem_free(ca);
	cu_pki_pem_free(cakey);
	cu_pki_pem_free(cert);
	cu_pki_pem_free(key);
}

static void wrong_ca_key_and_bad_input_are_refused(void **state)
{
	char *ca = NULL, *cakey = NULL, *ca2 = NULL, *cakey2 = NULL;
	char *cert = NULL, *key = NULL;
	const char *bad_san[] = {"a,DNS:evil"};

	assert_int_equal(cu_pki_ca_new("a", 1, &ca, &cakey), 0);
	assert_int_equal(cu_pki_ca_new("b", 1, &ca2, &cakey2), 0);
	assert_int_equal(cu_pki_issue(ca, cakey2, CU_PKI_CLIENT, "x", NULL, 0,
	                              1, &cert, &key),
	                 CU_ERR_INVAL);
	assert_null(cert);
	assert_null(key);
	assert_int_equal(cu_pki_issue(ca, cakey, CU_PKI_SERVER, "x", bad_san, 1,
	                              1, &cert, &key),
	                 CU_ERR_INVAL);
	assert_int_equal(cu_pki_issue("junk", cakey, CU_PKI_CLIENT, "x", NULL,
	                              0, 1, &cert, &key),
	                 CU_ERR_INVAL);
	assert_int_equal(
	    cu_pki_issue(ca, cakey, CU_PKI_CLIENT, "", NULL, 0, 1, &cert, &key),
	    CU_ERR_INVAL);
	assert_int_equal(cu_pki_ca_new("bad\nname", 1, &cert, &key),
	                 CU_ERR_INVAL);
	cu_pki_pem_free(ca);
	cu_pki_pem_free(cakey);
	cu_pki_pem_free(ca2);
	cu_pki_pem_free(cakey2);
	cu_pki_pem_free(NULL);
}

static void fingerprint_is_sha256_of_der_in_lowercase_hex(void **state)
{
	char *ca = NULL, *cakey = NULL;
	char fp[CU_PKI_FINGERPRINT_LEN + 1], fp2[CU_PKI_FINGERPRINT_LEN + 1];
	unsigned char *der = NULL, md[32];
	char want[65];

	assert_int_equal(cu_pki_ca_new("fp", 1, &ca, &cakey), 0);
	assert_int_equal(cu_pki_fingerprint(ca, strlen(ca), fp), 0);
	X509 *x = parse(ca);
	int n = i2d_X509(x, &der);
	unsigned int mdlen;
	X509_digest(x, EVP_sha256(), md, &mdlen);
	for (int i = 0; i < 32; i++)
		snprintf(want + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(fp, want);
	assert_true(n > 0);
	OPENSSL_free(der);
	X509_free(x);
	/* the same certificate, the same fingerprint */
	assert_int_equal(cu_pki_fingerprint(ca, strlen(ca), fp2), 0);
	assert_string_equal(fp, fp2);
	assert_int_equal(cu_pki_fingerprint("nope", 4, fp), CU_ERR_PARSE);
	assert_int_equal(cu_pki_fingerprint(ca, 10, fp), CU_ERR_PARSE);
	cu_pki_pem_free(ca);
	cu_pki_pem_free(cakey);
}

static void init_dir_writes_keys_0600_and_refuses_to_overwrite(void **state)
{
	char dir[] = "/tmp/custos-pki-XXXXXX";
	char path[256], fp[CU_PKI_FINGERPRINT_LEN + 1];
	char fp2[CU_PKI_FINGERPRINT_LEN + 1];
	struct stat st;
	char *pem = NULL;
	size_t len;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(cu_pki_issue_client_dir(dir, "x", fp),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_pki_init_dir(dir, NULL, 0), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, CU_PKI_CA_KEY);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/%s", dir, CU_PKI_SERVER_KEY);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(cu_pki_init_dir(dir, NULL, 0), CU_ERR_EXISTS);

	assert_int_equal(cu_pki_issue_client_dir(dir, "custos-store", fp), 0);
	snprintf(path, sizeof(path), "%s/client-custos-store-key.pem", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/client-custos-store.pem", dir);
	assert_int_equal(cu_pki_read_file(path, 65536, &pem, &len), 0);
	assert_int_equal(cu_pki_fingerprint(pem, len, fp2), 0);
	assert_string_equal(fp, fp2);
	cu_pki_pem_free(pem);
	assert_int_equal(cu_pki_read_file(path, 10, &pem, &len),
	                 CU_ERR_TOOLARGE);

	assert_int_equal(cu_pki_issue_client_dir(dir, "../evil", fp),
	                 CU_ERR_INVAL);
	assert_int_equal(cu_pki_issue_client_dir(dir, ".hidden", fp),
	                 CU_ERR_INVAL);
	assert_int_equal(cu_pki_issue_client_dir(dir, "", fp), CU_ERR_INVAL);

	const char *names[] = {CU_PKI_CA_CERT,
	                       CU_PKI_CA_KEY,
	                       CU_PKI_SERVER_CERT,
	                       CU_PKI_SERVER_KEY,
	                       "client-custos-store.pem",
	                       "client-custos-store-key.pem"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		assert_int_equal(unlink(path), 0);
	}
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(server_certificate_chains_to_the_ca_with_sans),
	    cmocka_unit_test(client_certificate_names_the_principal),
	    cmocka_unit_test(wrong_ca_key_and_bad_input_are_refused),
	    cmocka_unit_test(fingerprint_is_sha256_of_der_in_lowercase_hex),
	    cmocka_unit_test(
	        init_dir_writes_keys_0600_and_refuses_to_overwrite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

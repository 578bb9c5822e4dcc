#include "core/pki.h"
#include "core/crypto/hash.h"
#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/secmem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PEM      (64 * 1024)
#define MAX_SAN_LEN  253
#define MAX_CN_LEN   64
#define CA_DAYS      3650
#define LEAF_DAYS    825
#define SAN_TEXT_MAX 4096

void cu_pki_pem_free(char *pem)
{
	if (pem == NULL)
		return;
	cu_memzero(pem, strlen(pem));
	free(pem);
}

/* The contents of a memory BIO as a fresh NUL-terminated string. */
static int bio_to_string(BIO *b, char **out)
{
	char *data = NULL;
	long len = BIO_get_mem_data(b, &data);
	char *s;

	*out = NULL;
	if (len <= 0 || data == NULL)
		return CU_ERR_CRYPTO;
	s = malloc((size_t)len + 1);
	if (s == NULL)
		return CU_ERR_NOMEM;
	memcpy(s, data, (size_t)len);
	s[len] = '\0';
	*out = s;
	return 0;
}

static int valid_cn(const char *cn)
{
	size_t n;

	if (cn == NULL)
		return 0;
	n = strnlen(cn, MAX_CN_LEN + 1);
	if (n == 0 || n > MAX_CN_LEN)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)cn[i];
		if (c < 0x20 || c >= 0x7f)
			return 0;
	}
	return 1;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return CU_ERR_CRYPTO;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : CU_ERR_CRYPTO;
}

/* A fresh P-256 key (*keyp) and a certificate skeleton for it (*out): v3,
 * random positive serial, subject CN, issuer the subject of `issuer` (NULL:
 * the certificate's own), validity from an hour ago (clock skew) for
 * `days`. Extensions and the signature are the caller's. */
static int cert_base(const char *cn, unsigned days, X509 *issuer,
                     EVP_PKEY **keyp, X509 **out)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	BIGNUM *bn = NULL;
	unsigned char serial[16];
	int rc = CU_ERR_CRYPTO;

	*keyp = NULL;
	*out = NULL;
	if ((key = EVP_EC_gen("P-256")) == NULL)
		goto out;
	rc = CU_ERR_NOMEM;
	if ((x = X509_new()) == NULL)
		goto out;
	if ((rc = cu_rand_bytes(serial, sizeof(serial))) != 0)
		goto out;
	rc = CU_ERR_CRYPTO;
	serial[0] &= 0x7f; /* positive */
	serial[0] |= 0x01; /* and not zero */
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	if (X509_set_version(x, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ==
	        NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto out;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                               (const unsigned char *)cn, -1, -1,
	                               0) != 1)
		goto out;
	if (X509_set_issuer_name(
	        x, X509_get_subject_name(issuer != NULL ? issuer : x)) != 1)
		goto out;
	*keyp = key;
	key = NULL;
	*out = x;
	x = NULL;
	rc = 0;
out:
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

/* Sign x with `signer` and hand out x and its key as PEM: both or, on
 * failure, neither. */
static int sign_to_pem(X509 *x, EVP_PKEY *signer, EVP_PKEY *key,
                       char **cert_pem, char **key_pem)
{
	BIO *cb = NULL, *kb = NULL;
	int rc = CU_ERR_CRYPTO;

	*cert_pem = NULL;
	*key_pem = NULL;
	if (X509_sign(x, signer, EVP_sha256()) <= 0)
		goto out;
	rc = CU_ERR_NOMEM;
	if ((cb = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	rc = CU_ERR_CRYPTO;
	if (PEM_write_bio_X509(cb, x) != 1)
		goto out;
	if ((rc = bio_to_string(cb, cert_pem)) != 0)
		goto out;
	/* a secure-heap BIO: the PEM of a private key is a secret */
	rc = CU_ERR_NOMEM;
	if ((kb = BIO_new(BIO_s_secmem())) == NULL)
		goto out;
	rc = CU_ERR_CRYPTO;
	if (PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	rc = bio_to_string(kb, key_pem);
out:
	if (rc != 0) {
		cu_pki_pem_free(*cert_pem);
		*cert_pem = NULL;
	}
	BIO_free(cb);
	BIO_free(kb); /* secmem BIOs are cleansed on free */
	return rc;
}

int cu_pki_ca_new(const char *cn, unsigned days, char **cert_pem,
                  char **key_pem)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int rc = CU_ERR_INVAL;

	*cert_pem = NULL;
	*key_pem = NULL;
	if (!valid_cn(cn) || days > 36500)
		goto out;
	if (days == 0)
		days = CA_DAYS;
	if ((rc = cert_base(cn, days, NULL, &key, &x)) != 0)
		goto out;
	if ((rc = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE")) !=
	        0 ||
	    (rc = add_ext(x, x, NID_key_usage,
	                  "critical,keyCertSign,cRLSign")) != 0 ||
	    (rc = add_ext(x, x, NID_subject_key_identifier, "hash")) != 0 ||
	    (rc = add_ext(x, x, NID_authority_key_identifier,
	                  "keyid:always")) != 0)
		goto out;
	rc = sign_to_pem(x, key, key, cert_pem, key_pem);
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

/* Append ",IP:x" or ",DNS:x" for one caller SAN after checking it cannot
 * inject anything into OpenSSL's configuration syntax. */
static int append_san(char *buf, size_t cap, const char *san)
{
	unsigned char addr[16];
	size_t n, used = strlen(buf);
	int w;

	if (san == NULL)
		return CU_ERR_INVAL;
	n = strnlen(san, MAX_SAN_LEN + 1);
	if (n == 0 || n > MAX_SAN_LEN)
		return CU_ERR_INVAL;
	if (inet_pton(AF_INET, san, addr) == 1 ||
	    inet_pton(AF_INET6, san, addr) == 1) {
		w = snprintf(buf + used, cap - used, ",IP:%s", san);
	} else {
		for (size_t i = 0; i < n; i++) {
			char c = san[i];
			if (!((c >= 'a' && c <= 'z') ||
			      (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
			      (c == '*' && i == 0)))
				return CU_ERR_INVAL;
		}
		w = snprintf(buf + used, cap - used, ",DNS:%s", san);
	}
	if (w < 0 || (size_t)w >= cap - used)
		return CU_ERR_RANGE;
	return 0;
}

static int load_ca(const char *cert_pem, const char *key_pem, X509 **ca,
                   EVP_PKEY **cakey)
{
	BIO *b = NULL;
	int rc = CU_ERR_INVAL;

	*ca = NULL;
	*cakey = NULL;
	if (cert_pem == NULL || key_pem == NULL)
		goto out;
	if ((b = BIO_new_mem_buf(cert_pem, -1)) == NULL) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	*ca = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if ((b = BIO_new_mem_buf(key_pem, -1)) == NULL) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	*cakey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	if (*ca == NULL || *cakey == NULL ||
	    X509_check_private_key(*ca, *cakey) != 1)
		goto out;
	rc = 0;
out:
	BIO_free(b);
	if (rc != 0) {
		X509_free(*ca);
		EVP_PKEY_free(*cakey);
		*ca = NULL;
		*cakey = NULL;
	}
	return rc;
}

int cu_pki_issue(const char *ca_cert_pem, const char *ca_key_pem,
                 enum cu_pki_kind kind, const char *cn,
                 const char *const *extra_sans, size_t n, unsigned days,
                 char **cert_pem, char **key_pem)
{
	X509 *ca = NULL, *x = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL;
	char *sans = NULL;
	int rc = CU_ERR_INVAL;

	*cert_pem = NULL;
	*key_pem = NULL;
	if (!valid_cn(cn) || (kind != CU_PKI_SERVER && kind != CU_PKI_CLIENT) ||
	    days > 36500 || (n > 0 && extra_sans == NULL))
		goto out;
	if (days == 0)
		days = LEAF_DAYS;
	if ((rc = load_ca(ca_cert_pem, ca_key_pem, &ca, &cakey)) != 0 ||
	    (rc = cert_base(cn, days, ca, &key, &x)) != 0)
		goto out;
	if ((rc = add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE")) !=
	        0 ||
	    (rc = add_ext(x, ca, NID_subject_key_identifier, "hash")) != 0 ||
	    (rc = add_ext(x, ca, NID_authority_key_identifier, "keyid")) != 0)
		goto out;
	if (kind == CU_PKI_SERVER) {
		rc = CU_ERR_NOMEM;
		if ((sans = malloc(SAN_TEXT_MAX)) == NULL)
			goto out;
		snprintf(sans, SAN_TEXT_MAX,
		         "DNS:localhost,IP:127.0.0.1,IP:::1");
		for (size_t i = 0; i < n; i++) {
			if ((rc = append_san(sans, SAN_TEXT_MAX,
			                     extra_sans[i])) != 0)
				goto out;
		}
		if ((rc = add_ext(x, ca, NID_key_usage,
		                  "critical,digitalSignature,"
		                  "keyEncipherment")) != 0 ||
		    (rc = add_ext(x, ca, NID_ext_key_usage, "serverAuth")) !=
		        0 ||
		    (rc = add_ext(x, ca, NID_subject_alt_name, sans)) != 0)
			goto out;
	} else {
		if ((rc = add_ext(x, ca, NID_key_usage,
		                  "critical,digitalSignature")) != 0 ||
		    (rc = add_ext(x, ca, NID_ext_key_usage, "clientAuth")) != 0)
			goto out;
	}
	rc = sign_to_pem(x, cakey, key, cert_pem, key_pem);
out:
	free(sans);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
	return rc;
}

int cu_pki_fingerprint(const char *pem, size_t len,
                       char out[CU_PKI_FINGERPRINT_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	BIO *b = NULL;
	X509 *x = NULL;
	unsigned char *der = NULL;
	unsigned char md[CU_SHA256_LEN];
	int dlen, rc = CU_ERR_PARSE;

	out[0] = '\0';
	if (pem == NULL || len == 0 || len > INT_MAX)
		goto out;
	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		rc = CU_ERR_CRYPTO;
		goto out;
	}
	if ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL)
		goto out;
	rc = CU_ERR_CRYPTO;
	if ((dlen = i2d_X509(x, &der)) <= 0)
		goto out;
	if (cu_sha256(der, (size_t)dlen, md) != 0)
		goto out;
	for (size_t i = 0; i < CU_SHA256_LEN; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[CU_PKI_FINGERPRINT_LEN] = '\0';
	rc = 0;
out:
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(b);
	return rc;
}

int cu_pki_read_file(const char *path, size_t max, char **out, size_t *len)
{
	char *buf = NULL;
	size_t used = 0;
	int fd = -1, rc = CU_ERR_IO;
	struct stat st;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT ? CU_ERR_NOTFOUND : CU_ERR_IO;
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	if ((uint64_t)st.st_size > (uint64_t)max) {
		rc = CU_ERR_TOOLARGE;
		goto out;
	}
	rc = CU_ERR_NOMEM;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto out;
	rc = CU_ERR_IO;
	while (used < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + used, (size_t)st.st_size - used);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto out;
		used += (size_t)r;
	}
	buf[used] = '\0';
	*out = buf;
	buf = NULL;
	if (len != NULL)
		*len = used;
	rc = 0;
out:
	if (buf != NULL) {
		cu_memzero(buf, used);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int cu_pki_write_file(const char *path, const void *data, size_t len,
                      unsigned mode)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd = -1, rc = CU_ERR_IO;
	int w = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);

	if (w < 0 || (size_t)w >= sizeof(tmp))
		return CU_ERR_IO;
	if ((fd = mkstemp(tmp)) < 0)
		return CU_ERR_IO;
	if (fchmod(fd, (mode_t)mode) != 0)
		goto out;
	while (len > 0) {
		ssize_t r = write(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto out;
		p += r;
		len -= (size_t)r;
	}
	if (fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlink(tmp);
	return rc;
}

static int join(char *out, size_t cap, const char *dir, const char *a,
                const char *b, const char *c)
{
	int w = snprintf(out, cap, "%s/%s%s%s", dir, a, b, c);
	return w < 0 || (size_t)w >= cap ? CU_ERR_INVAL : 0;
}

/* Write pem to DIR/ABC (the name in up to three parts) with `mode`. */
static int write_pem(const char *dir, const char *a, const char *b,
                     const char *c, const char *pem, unsigned mode)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = join(path, sizeof(path), dir, a, b, c)) != 0)
		return rc;
	return cu_pki_write_file(path, pem, strlen(pem), mode);
}

/* Read DIR/NAME, a PEM file, into *out (free with cu_pki_pem_free). */
static int read_pem(const char *dir, const char *name, char **out)
{
	char path[PATH_MAX];
	int rc;

	*out = NULL;
	if ((rc = join(path, sizeof(path), dir, name, "", "")) != 0)
		return rc;
	return cu_pki_read_file(path, MAX_PEM, out, NULL);
}

int cu_pki_init_dir(const char *dir, const char *const *extra_sans, size_t n)
{
	char path[PATH_MAX];
	char *ca = NULL, *cakey = NULL, *cert = NULL, *key = NULL;
	int rc = CU_ERR_INVAL;
	struct stat st;

	if (dir == NULL || dir[0] == '\0')
		goto out;
	rc = CU_ERR_IO;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		goto out;
	if ((rc = join(path, sizeof(path), dir, CU_PKI_CA_CERT, "", "")) != 0)
		goto out;
	if (stat(path, &st) == 0) {
		rc = CU_ERR_EXISTS;
		goto out;
	}
	if ((rc = cu_pki_ca_new("custos development CA", 0, &ca, &cakey)) != 0)
		goto out;
	if ((rc = cu_pki_issue(ca, cakey, CU_PKI_SERVER, "localhost",
	                       extra_sans, n, 0, &cert, &key)) != 0)
		goto out;
	/* keys first: a directory with a CA certificate is "initialised" */
	if ((rc = write_pem(dir, CU_PKI_CA_KEY, "", "", cakey, 0600)) != 0 ||
	    (rc = write_pem(dir, CU_PKI_SERVER_KEY, "", "", key, 0600)) != 0 ||
	    (rc = write_pem(dir, CU_PKI_SERVER_CERT, "", "", cert, 0644)) !=
	        0 ||
	    (rc = write_pem(dir, CU_PKI_CA_CERT, "", "", ca, 0644)) != 0)
		goto out;
out:
	cu_pki_pem_free(ca);
	cu_pki_pem_free(cakey);
	cu_pki_pem_free(cert);
	cu_pki_pem_free(key);
	return rc;
}

static int valid_principal(const char *name)
{
	size_t n;

	if (name == NULL || name[0] == '.')
		return 0;
	n = strnlen(name, MAX_CN_LEN + 1);
	if (n == 0 || n > MAX_CN_LEN)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

int cu_pki_issue_client_dir(const char *dir, const char *name,
                            char fp[CU_PKI_FINGERPRINT_LEN + 1])
{
	char *ca = NULL, *cakey = NULL, *cert = NULL, *key = NULL;
	int rc = CU_ERR_INVAL;

	if (dir == NULL || !valid_principal(name))
		goto out;
	if ((rc = read_pem(dir, CU_PKI_CA_CERT, &ca)) != 0 ||
	    (rc = read_pem(dir, CU_PKI_CA_KEY, &cakey)) != 0)
		goto out;
	if ((rc = cu_pki_issue(ca, cakey, CU_PKI_CLIENT, name, NULL, 0, 0,
	                       &cert, &key)) != 0)
		goto out;
	if ((rc = write_pem(dir, "client-", name, "-key.pem", key, 0600)) !=
	        0 ||
	    (rc = write_pem(dir, "client-", name, ".pem", cert, 0644)) != 0)
		goto out;
	if (fp != NULL &&
	    (rc = cu_pki_fingerprint(cert, strlen(cert), fp)) != 0)
		goto out;
	rc = 0;
out:
	cu_pki_pem_free(ca);
	cu_pki_pem_free(cakey);
	cu_pki_pem_free(cert);
	cu_pki_pem_free(key);
	return rc;
}

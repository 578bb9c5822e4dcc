/* RSAPrivateKey parsing below uses the RSA type, deprecated in OpenSSL 3
 * but much faster than its decoders for this one job. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "vault/keyops.h"
#include "core/b64.h"
#include "core/crypto/keywrap.h"
#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/secmem.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Copies of an RSA private key for concurrent private operations.
 * OpenSSL 3.0 takes each RSA key's write lock for every private
 * operation, and every thread but the first to use the key shares one
 * blinding under another lock (which also runs the blinding's periodic
 * modular inverse): with the vault's thread per connection, dozens of
 * threads queue there. A private operation instead takes a copy no other
 * operation is using, made on demand up to PRIV_COPIES (measured with 32
 * threads on 2 cores: 7625 RSA-2048 decrypts/s on one shared key, 8190
 * on a copy each, the same as 2 threads). */
#define PRIV_COPIES 8

struct priv_pool {
	pthread_mutex_t mu;
	EVP_PKEY *spare[PRIV_COPIES]; /* copies free for an operation */
	int n_spare, n_made;
};

struct cu_vko {
	int kty;
	int size; /* RSA bits, oct bits, or enum cu_vko_crv */
	EVP_PKEY *pkey;
	unsigned char *oct;     /* CU_VKO_OCT_LEN bytes of locked memory */
	atomic_int refs;        /* handles (cu_vko_dup); 1 when made */
	struct priv_pool *pool; /* RSA keys; NULL when it could not be made */
};

static const struct {
	const char *name;
	int alg;
} algs[] = {
    {"RSA-OAEP", CU_VKO_RSA_OAEP}, {"RSA-OAEP-256", CU_VKO_RSA_OAEP_256},
    {"A256KW", CU_VKO_A256KW},     {"RS256", CU_VKO_RS256},
    {"RS384", CU_VKO_RS384},       {"RS512", CU_VKO_RS512},
    {"PS256", CU_VKO_PS256},       {"PS384", CU_VKO_PS384},
    {"PS512", CU_VKO_PS512},       {"ES256", CU_VKO_ES256},
    {"ES384", CU_VKO_ES384},
};

static const struct {
	const char *name;
	const char *why;
} refused[] = {
    {"RSA1_5", "RSA1_5 (PKCS#1 v1.5 encryption) is refused: it is open to "
               "padding-oracle attacks; use RSA-OAEP-256"},
    {"A128KW", "only 256-bit AES keys are supported: use A256KW"},
    {"A192KW", "only 256-bit AES keys are supported: use A256KW"},
    {"A128GCM", "AES-GCM encryption is not supported by this vault"},
    {"A192GCM", "AES-GCM encryption is not supported by this vault"},
    {"A256GCM", "AES-GCM encryption is not supported by this vault"},
    {"A128CBC", "AES-CBC encryption is not supported by this vault"},
    {"A192CBC", "AES-CBC encryption is not supported by this vault"},
    {"A256CBC", "AES-CBC encryption is not supported by this vault"},
    {"A128CBCPAD", "AES-CBC encryption is not supported by this vault"},
    {"A192CBCPAD", "AES-CBC encryption is not supported by this vault"},
    {"A256CBCPAD", "AES-CBC encryption is not supported by this vault"},
    {"ES256K", "the P-256K curve is not supported: use ES256"},
    {"ES512", "the P-521 curve is not supported: use ES384"},
    {"RSNULL", "RSNULL is not supported"},
};

int cu_vko_alg_parse(const char *name, int *alg, const char **why)
{
	if (why != NULL)
		*why = "unknown algorithm";
	if (name == NULL)
		return CU_ERR_INVAL;
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (strcmp(name, algs[i].name) == 0) {
			*alg = algs[i].alg;
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (strcmp(name, refused[i].name) == 0) {
			if (why != NULL)
				*why = refused[i].why;
			return CU_ERR_UNSUPPORTED;
		}
	}
	return CU_ERR_INVAL;
}

const char *cu_vko_alg_name(int alg)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].alg == alg)
			return algs[i].name;
	return "";
}

int cu_vko_crv_parse(const char *name, int *crv)
{
	if (name != NULL && strcmp(name, "P-256") == 0)
		*crv = CU_VKO_P256;
	else if (name != NULL && strcmp(name, "P-384") == 0)
		*crv = CU_VKO_P384;
	else
		return CU_ERR_UNSUPPORTED;
	return 0;
}

const char *cu_vko_crv_name(int crv)
{
	return crv == CU_VKO_P256 ? "P-256" : crv == CU_VKO_P384 ? "P-384" : "";
}

static size_t crv_len(int crv)
{
	return crv == CU_VKO_P256 ? 32 : 48;
}

static const char *crv_group(int crv)
{
	return crv == CU_VKO_P256 ? "P-256" : "P-384";
}

int cu_vko_kty(const cu_vko_t *k)
{
	return k->kty;
}

int cu_vko_size(const cu_vko_t *k)
{
	return k->size;
}

void cu_vko_free(cu_vko_t *k)
{
	if (k == NULL)
		return;
	/* the last handle wipes */
	if (atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (k->pool != NULL) {
		/* every copy is back: an operation holds a handle */
		for (int i = 0; i < k->pool->n_spare; i++)
			EVP_PKEY_free(k->pool->spare[i]);
		pthread_mutex_destroy(&k->pool->mu);
		free(k->pool);
	}
	EVP_PKEY_free(k->pkey);
	cu_secmem_free(k->oct, CU_VKO_OCT_LEN);
	free(k);
}

static cu_vko_t *vko_new(int kty)
{
	cu_vko_t *k = calloc(1, sizeof(*k));

	if (k != NULL) {
		k->kty = kty;
		atomic_init(&k->refs, 1);
		/* without a pool, operations share the key: slower, not wrong
		 */
		if (kty == CU_VKO_RSA &&
		    (k->pool = calloc(1, sizeof(*k->pool))) != NULL)
			pthread_mutex_init(&k->pool->mu, NULL);
	}
	return k;
}

/* The key the next private operation of k uses: a copy of its own for
 * an RSA key (priv_pool), else k's. Give it back with priv_put. */
static EVP_PKEY *priv_take(const cu_vko_t *k)
{
	struct priv_pool *pool = k->pool;
	EVP_PKEY *pk = NULL;
	int make = 0;

	if (pool == NULL)
		return k->pkey;
	pthread_mutex_lock(&pool->mu);
	if (pool->n_spare > 0)
		pk = pool->spare[--pool->n_spare];
	else if (pool->n_made < PRIV_COPIES)
		make = ++pool->n_made;
	pthread_mutex_unlock(&pool->mu);
	if (make && (pk = EVP_PKEY_dup(k->pkey)) == NULL) {
		pthread_mutex_lock(&pool->mu);
		pool->n_made--;
		pthread_mutex_unlock(&pool->mu);
	}
	/* all copies busy (or none could be made): share k's key */
	return pk != NULL ? pk : k->pkey;
}

static void priv_put(const cu_vko_t *k, EVP_PKEY *pk)
{
	struct priv_pool *pool = k->pool;

	if (pk == NULL || pk == k->pkey)
		return;
	pthread_mutex_lock(&pool->mu);
	pool->spare[pool->n_spare++] = pk;
	pthread_mutex_unlock(&pool->mu);
}

cu_vko_t *cu_vko_dup(cu_vko_t *k)
{
	/* a key is never changed after it is made, so handles may share it
	 * (OpenSSL keys may be used by many threads at once) */
	atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
	return k;
}

/* Curve of an EC key from its group name; 0 for another curve. */
static int ec_curve(EVP_PKEY *pk)
{
	char name[64];
	size_t len = 0;

	if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, name,
	                                   sizeof(name), &len) != 1)
		return 0;
	if (strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0)
		return CU_VKO_P256;
	if (strcmp(name, "secp384r1") == 0 || strcmp(name, "P-384") == 0)
		return CU_VKO_P384;
	return 0;
}

/* Fill in k->size from k->pkey and check the type and size are ours. */
static int adopt_pkey(cu_vko_t *k)
{
	int bits;

	if (k->kty == CU_VKO_RSA) {
		if (EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA)
			return CU_ERR_UNSUPPORTED;
		bits = EVP_PKEY_get_bits(k->pkey);
		if (bits < 2048 || bits > 4096)
			return CU_ERR_UNSUPPORTED;
		k->size = bits;
		return 0;
	}
	if (k->kty == CU_VKO_EC) {
		if (EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_EC)
			return CU_ERR_UNSUPPORTED;
		k->size = ec_curve(k->pkey);
		return k->size ? 0 : CU_ERR_UNSUPPORTED;
	}
	return CU_ERR_INVAL;
}

int cu_vko_generate(int kty, int size, cu_vko_t **out)
{
	EVP_PKEY_CTX *ctx = NULL;
	cu_vko_t *k = NULL;
	int r;

	*out = NULL;
	if ((k = vko_new(kty)) == NULL)
		return CU_ERR_NOMEM;
	switch (kty) {
	case CU_VKO_RSA:
		if (size != 2048 && size != 3072 && size != 4096) {
			r = CU_ERR_UNSUPPORTED;
			goto out;
		}
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
		if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
		    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, size) != 1 ||
		    EVP_PKEY_generate(ctx, &k->pkey) != 1) {
			r = CU_ERR_CRYPTO;
			goto out;
		}
		break;
	case CU_VKO_EC:
		if (size != CU_VKO_P256 && size != CU_VKO_P384) {
			r = CU_ERR_UNSUPPORTED;
			goto out;
		}
		k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", crv_group(size));
		if (k->pkey == NULL) {
			r = CU_ERR_CRYPTO;
			goto out;
		}
		break;
	case CU_VKO_OCT:
		if (size != CU_VKO_OCT_LEN * 8) {
			r = CU_ERR_UNSUPPORTED;
			goto out;
		}
		k->size = size;
		if ((k->oct = cu_secmem_alloc(CU_VKO_OCT_LEN)) == NULL) {
			r = CU_ERR_NOMEM;
			goto out;
		}
		if ((r = cu_rand_bytes(k->oct, CU_VKO_OCT_LEN)) != 0)
			goto out;
		break;
	default:
		r = CU_ERR_INVAL;
		goto out;
	}
	if (kty != CU_VKO_OCT && (r = adopt_pkey(k)) != 0)
		goto out;
	*out = k;
	k = NULL;
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	cu_vko_free(k);
	return r;
}

/* Decode JWK member `name` (base64url) into locked memory of at most max
 * bytes. *buf is the caller's (cu_secmem_free(*buf, max)). */
static int member(const json_t *jwk, const char *name, size_t max,
                  unsigned char **buf, size_t *len)
{
	const json_t *v = json_object_get(jwk, name);
	const char *s;
	size_t slen;
	int r;

	*buf = NULL;
	*len = 0;
	if (!json_is_string(v))
		return CU_ERR_PARSE;
	s = json_string_value(v);
	slen = json_string_length(v);
	if (cu_b64_decoded_max(slen) > max)
		return CU_ERR_PARSE;
	if ((*buf = cu_secmem_alloc(max)) == NULL)
		return CU_ERR_NOMEM;
	r = cu_b64url_decode(s, slen, *buf, max, len);
	if (r != 0 || *len == 0) {
		cu_secmem_free(*buf, max);
		*buf = NULL;
		return CU_ERR_PARSE;
	}
	return 0;
}

static const char *const rsa_members[] = {"n", "e",  "d",  "p",
                                          "q", "dp", "dq", "qi"};
static const char *const rsa_params[] = {
    OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
    OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
    OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
    OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
};
#define RSA_MEMBERS 8
#define RSA_MAX_LEN 512

static int pairwise_check(EVP_PKEY *pk)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	int ok = c != NULL && EVP_PKEY_pairwise_check(c) == 1;

	EVP_PKEY_CTX_free(c);
	return ok ? 0 : CU_ERR_INVAL;
}

static int fromdata(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **pk)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	int r = 0;

	if (params == NULL || ctx == NULL)
		r = CU_ERR_NOMEM;
	else if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	         EVP_PKEY_fromdata(ctx, pk, EVP_PKEY_KEYPAIR, params) != 1)
		r = CU_ERR_INVAL;
	OSSL_PARAM_free(params); /* secure BNs were copied to the secure heap */
	EVP_PKEY_CTX_free(ctx);
	return r;
}

static int rsa_from_jwk(const json_t *jwk, cu_vko_t *k, const char **why)
{
	unsigned char *buf[RSA_MEMBERS] = {0};
	size_t len[RSA_MEMBERS] = {0};
	BIGNUM *bn[RSA_MEMBERS] = {0};
	OSSL_PARAM_BLD *bld = NULL;
	int r = 0;

	for (int i = 0; i < RSA_MEMBERS; i++) {
		if ((r = member(jwk, rsa_members[i], RSA_MAX_LEN, &buf[i],
		                &len[i])) != 0) {
			*why = "an RSA key needs n, e, d, p, q, dp, dq and qi "
			       "in base64url";
			goto out;
		}
		bn[i] = i >= 2 ? BN_secure_new() : BN_new();
		if (bn[i] == NULL) {
			r = CU_ERR_NOMEM;
			goto out;
		}
		if (BN_bin2bn(buf[i], (int)len[i], bn[i]) == NULL) {
			r = CU_ERR_NOMEM;
			goto out;
		}
	}
	if (len[1] > 8) {
		*why = "the RSA public exponent is too long";
		r = CU_ERR_INVAL;
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < RSA_MEMBERS; i++) {
		if (OSSL_PARAM_BLD_push_BN(bld, rsa_params[i], bn[i]) != 1) {
			r = CU_ERR_NOMEM;
			goto out;
		}
	}
	if ((r = fromdata("RSA", bld, &k->pkey)) != 0) {
		*why = "the RSA key is not valid";
		goto out;
	}
	if ((r = adopt_pkey(k)) != 0) {
		*why = "RSA keys must have 2048 to 4096 bits";
		goto out;
	}
	if ((r = pairwise_check(k->pkey)) != 0)
		*why = "the RSA key's private and public parts do not match";
out:
	for (int i = 0; i < RSA_MEMBERS; i++) {
		cu_secmem_free(buf[i], RSA_MAX_LEN);
		BN_clear_free(bn[i]);
	}
	OSSL_PARAM_BLD_free(bld);
	return r;
}

static int ec_from_jwk(const json_t *jwk, cu_vko_t *k, const char **why)
{
	unsigned char *x = NULL, *y = NULL, *d = NULL;
	unsigned char pub[1 + 2 * 48];
	size_t xl = 0, yl = 0, dl = 0, fl;
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *dbn = NULL;
	int crv = 0, r;

	if ((r = cu_vko_crv_parse(
	         json_string_value(json_object_get(jwk, "crv")), &crv)) != 0) {
		*why = "EC keys must be on curve P-256 or P-384";
		goto out;
	}
	fl = crv_len(crv);
	if ((r = member(jwk, "x", 66, &x, &xl)) != 0 ||
	    (r = member(jwk, "y", 66, &y, &yl)) != 0 ||
	    (r = member(jwk, "d", 66, &d, &dl)) != 0) {
		*why = "an EC key needs crv, x, y and d in base64url";
		goto out;
	}
	if (xl != fl || yl != fl || dl > fl) {
		*why = "EC key coordinates have the wrong length for the curve";
		r = CU_ERR_PARSE;
		goto out;
	}
	pub[0] = 0x04;
	memcpy(pub + 1, x, fl);
	memcpy(pub + 1 + fl, y, fl);
	if ((dbn = BN_secure_new()) == NULL ||
	    BN_bin2bn(d, (int)dl, dbn) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	                                    crv_group(crv), 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
	                                     1 + 2 * fl) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, dbn) != 1) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if ((r = fromdata("EC", bld, &k->pkey)) != 0) {
		*why = "the EC key is not valid";
		goto out;
	}
	if ((r = adopt_pkey(k)) != 0) {
		*why = "EC keys must be on curve P-256 or P-384";
		goto out;
	}
	if ((r = pairwise_check(k->pkey)) != 0)
		*why = "the EC key's private and public parts do not match";
out:
	cu_secmem_free(x, 66);
	cu_secmem_free(y, 66);
	cu_secmem_free(d, 66);
	BN_clear_free(dbn);
	OSSL_PARAM_BLD_free(bld);
	return r;
}

int cu_vko_from_jwk(const json_t *jwk, cu_vko_t **out, const char **why)
{
	const char *kty, *dummy;
	cu_vko_t *k = NULL;
	unsigned char *raw = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	if (why == NULL)
		why = &dummy;
	*why = "the key is not valid";
	if (!json_is_object(jwk)) {
		*why = "the key must be a JSON web key object";
		return CU_ERR_PARSE;
	}
	kty = json_string_value(json_object_get(jwk, "kty"));
	if (kty == NULL) {
		*why = "the key has no kty";
		return CU_ERR_PARSE;
	}
	if (strcmp(kty, "RSA") == 0 || strcmp(kty, "RSA-HSM") == 0) {
		if ((k = vko_new(CU_VKO_RSA)) == NULL)
			return CU_ERR_NOMEM;
		r = rsa_from_jwk(jwk, k, why);
	} else if (strcmp(kty, "EC") == 0 || strcmp(kty, "EC-HSM") == 0) {
		if ((k = vko_new(CU_VKO_EC)) == NULL)
			return CU_ERR_NOMEM;
		r = ec_from_jwk(jwk, k, why);
	} else if (strcmp(kty, "oct") == 0 || strcmp(kty, "oct-HSM") == 0) {
		if ((k = vko_new(CU_VKO_OCT)) == NULL)
			return CU_ERR_NOMEM;
		if ((r = member(jwk, "k", 64, &raw, &len)) != 0) {
			*why = "an oct key needs k in base64url";
			goto out;
		}
		if (len != CU_VKO_OCT_LEN) {
			*why = "oct keys must be 256 bits";
			r = CU_ERR_UNSUPPORTED;
			goto out;
		}
		if ((k->oct = cu_secmem_alloc(CU_VKO_OCT_LEN)) == NULL) {
			r = CU_ERR_NOMEM;
			goto out;
		}
		memcpy(k->oct, raw, CU_VKO_OCT_LEN);
		k->size = CU_VKO_OCT_LEN * 8;
		r = 0;
	} else {
		*why = "kty must be RSA, RSA-HSM, EC, EC-HSM, oct or oct-HSM";
		return CU_ERR_UNSUPPORTED;
	}
	if (r == 0) {
		*out = k;
		k = NULL;
	}
out:
	cu_secmem_free(raw, 64);
	cu_vko_free(k);
	return r;
}

int cu_vko_serialize(const cu_vko_t *k, unsigned char **buf, size_t *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *p;
	int n, r;

	*buf = NULL;
	*len = 0;
	if (k->kty == CU_VKO_OCT) {
		if ((*buf = cu_secmem_alloc(CU_VKO_OCT_LEN)) == NULL)
			return CU_ERR_NOMEM;
		memcpy(*buf, k->oct, CU_VKO_OCT_LEN);
		*len = CU_VKO_OCT_LEN;
		return 0;
	}
	if ((p8 = EVP_PKEY2PKCS8(k->pkey)) == NULL ||
	    (n = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL)) <= 0) {
		r = CU_ERR_CRYPTO;
		goto out;
	}
	if ((*buf = cu_secmem_alloc((size_t)n)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	p = *buf;
	if (i2d_PKCS8_PRIV_KEY_INFO(p8, &p) != n) {
		cu_secmem_free(*buf, (size_t)n);
		*buf = NULL;
		r = CU_ERR_CRYPTO;
		goto out;
	}
	*len = (size_t)n;
	r = 0;
out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	return r;
}

/* The RSA key of a PKCS#8 structure, through the RSAPrivateKey parser:
 * OpenSSL 3's generic decoder (EVP_PKCS82PKEY) takes about 330 us per
 * RSA-2048 key, more than the private-key operation itself, and the
 * vault parses a key for every unwrap. NULL when p8 is not RSA. */
static EVP_PKEY *rsa_from_pkcs8(const PKCS8_PRIV_KEY_INFO *p8)
{
	const unsigned char *der = NULL;
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *oid = NULL;
	EVP_PKEY *pk = NULL;
	RSA *rsa = NULL;
	int len = 0;

	if (PKCS8_pkey_get0(NULL, &der, &len, &alg, p8) != 1 || alg == NULL)
		return NULL;
	X509_ALGOR_get0(&oid, NULL, NULL, alg);
	if (OBJ_obj2nid(oid) != NID_rsaEncryption)
		return NULL;
	if ((rsa = d2i_RSAPrivateKey(NULL, &der, len)) == NULL ||
	    (pk = EVP_PKEY_new()) == NULL ||
	    EVP_PKEY_assign_RSA(pk, rsa) != 1) {
		RSA_free(rsa);
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

int cu_vko_load(int kty, const unsigned char *buf, size_t len, cu_vko_t **out)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	const unsigned char *p = buf;
	cu_vko_t *k = NULL;
	int r;

	*out = NULL;
	if (kty != CU_VKO_RSA && kty != CU_VKO_EC && kty != CU_VKO_OCT)
		return CU_ERR_UNSUPPORTED;
	if ((k = vko_new(kty)) == NULL)
		return CU_ERR_NOMEM;
	if (kty == CU_VKO_OCT) {
		if (len != CU_VKO_OCT_LEN) {
			r = CU_ERR_PARSE;
			goto out;
		}
		if ((k->oct = cu_secmem_alloc(CU_VKO_OCT_LEN)) == NULL) {
			r = CU_ERR_NOMEM;
			goto out;
		}
		memcpy(k->oct, buf, CU_VKO_OCT_LEN);
		k->size = CU_VKO_OCT_LEN * 8;
	} else {
		if (len > 16384 ||
		    (p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len)) ==
		        NULL ||
		    p != buf + len) {
			r = CU_ERR_PARSE;
			goto out;
		}
		if (kty == CU_VKO_RSA)
			k->pkey = rsa_from_pkcs8(p8);
		else
			k->pkey = EVP_PKCS82PKEY(p8);
		if (k->pkey == NULL) {
			r = CU_ERR_PARSE;
			goto out;
		}
		if ((r = adopt_pkey(k)) != 0)
			goto out;
	}
	*out = k;
	k = NULL;
	r = 0;
out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	cu_vko_free(k);
	return r;
}

/* Set jwk[name] to the base64url of bn, left-padded to pad bytes (0: no
 * padding, no leading zeros). */
static int put_bn(json_t *jwk, const char *name, const BIGNUM *bn, int pad)
{
	unsigned char buf[RSA_MAX_LEN];
	char *enc = NULL;
	int n, r;

	n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	if (n < 0 || BN_num_bytes(bn) > (int)sizeof(buf))
		return CU_ERR_CRYPTO;
	if ((r = cu_b64url_encode_alloc(buf, (size_t)n, &enc)) != 0)
		return r;
	r = json_object_set_new(jwk, name, json_string(enc)) == 0
	        ? 0
	        : CU_ERR_NOMEM;
	free(enc);
	return r;
}

static int put_param(json_t *jwk, const char *name, EVP_PKEY *pk,
                     const char *param, int pad)
{
	BIGNUM *bn = NULL;
	int r;

	if (EVP_PKEY_get_bn_param(pk, param, &bn) != 1)
		return CU_ERR_CRYPTO;
	r = put_bn(jwk, name, bn, pad);
	BN_free(bn);
	return r;
}

int cu_vko_public_jwk(const cu_vko_t *k, json_t *jwk)
{
	int r;

	switch (k->kty) {
	case CU_VKO_RSA:
		if ((r = put_param(jwk, "n", k->pkey, OSSL_PKEY_PARAM_RSA_N,
		                   0)) != 0)
			return r;
		return put_param(jwk, "e", k->pkey, OSSL_PKEY_PARAM_RSA_E, 0);
	case CU_VKO_EC:
		if (json_object_set_new(jwk, "crv",
		                        json_string(cu_vko_crv_name(k->size))))
			return CU_ERR_NOMEM;
		if ((r = put_param(jwk, "x", k->pkey, OSSL_PKEY_PARAM_EC_PUB_X,
		                   (int)crv_len(k->size))) != 0)
			return r;
		return put_param(jwk, "y", k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y,
		                 (int)crv_len(k->size));
	default:
		return 0;
	}
}

/* The digest of a signature algorithm and its length. */
static const EVP_MD *sig_md(int alg, size_t *len)
{
	switch (alg) {
	case CU_VKO_RS256:
	case CU_VKO_PS256:
	case CU_VKO_ES256:
		*len = 32;
		return EVP_sha256();
	case CU_VKO_RS384:
	case CU_VKO_PS384:
	case CU_VKO_ES384:
		*len = 48;
		return EVP_sha384();
	case CU_VKO_RS512:
	case CU_VKO_PS512:
		*len = 64;
		return EVP_sha512();
	default:
		*len = 0;
		return NULL;
	}
}

int cu_vko_alg_fits(const cu_vko_t *k, int alg, int op, const char **why)
{
	return cu_vko_alg_fits_type(k->kty, k->size, alg, op, why);
}

int cu_vko_alg_fits_type(int kty, int size, int alg, int op, const char **why)
{
	const char *dummy;
	int ok = 0;

	if (why == NULL)
		why = &dummy;
	*why = "the algorithm does not fit the key type";
	switch (kty) {
	case CU_VKO_RSA:
		ok = op == 'e'
		         ? alg == CU_VKO_RSA_OAEP || alg == CU_VKO_RSA_OAEP_256
		         : alg >= CU_VKO_RS256 && alg <= CU_VKO_PS512;
		if (!ok)
			*why = op == 'e' ? "RSA keys encrypt and wrap with "
			                   "RSA-OAEP or RSA-OAEP-256"
			                 : "RSA keys sign with RS256, RS384, "
			                   "RS512, PS256, PS384 or PS512";
		break;
	case CU_VKO_EC:
		ok = op == 's' &&
		     ((alg == CU_VKO_ES256 && size == CU_VKO_P256) ||
		      (alg == CU_VKO_ES384 && size == CU_VKO_P384));
		if (!ok)
			*why = op == 's' ? "P-256 keys sign with ES256, P-384 "
			                   "keys with ES384"
			                 : "EC keys only sign and verify";
		break;
	case CU_VKO_OCT:
		ok = op == 'e' && alg == CU_VKO_A256KW;
		if (!ok)
			*why = "oct keys only wrap and unwrap with A256KW";
		break;
	}
	return ok ? 0 : CU_ERR_INVAL;
}

static int oaep_ctx(EVP_PKEY_CTX *ctx, int alg)
{
	const EVP_MD *md = alg == CU_VKO_RSA_OAEP ? EVP_sha1() : EVP_sha256();

	if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1)
		return CU_ERR_CRYPTO;
	return 0;
}

int cu_vko_encrypt(const cu_vko_t *k, int alg, const unsigned char *in,
                   size_t in_len, unsigned char *out, size_t out_cap,
                   size_t *out_len)
{
	EVP_PKEY_CTX *ctx = NULL;
	size_t n, hlen;
	int r;

	*out_len = 0;
	if ((r = cu_vko_alg_fits(k, alg, 'e', NULL)) != 0)
		return r;
	if (in_len > CU_VKO_MAX_IN)
		return CU_ERR_INVAL;
	if (k->kty == CU_VKO_OCT) {
		if (in_len < CU_KW_MIN_LEN || in_len % 8 != 0)
			return CU_ERR_INVAL;
		return cu_kw_wrap(k->oct, CU_VKO_OCT_LEN, in, in_len, out,
		                  out_cap, out_len);
	}
	hlen = alg == CU_VKO_RSA_OAEP ? 20 : 32;
	n = (size_t)EVP_PKEY_get_size(k->pkey);
	if (in_len + 2 * hlen + 2 > n)
		return CU_ERR_INVAL;
	if (out_cap < n)
		return CU_ERR_RANGE;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_encrypt_init(ctx) != 1 || (r = oaep_ctx(ctx, alg)) != 0 ||
	    EVP_PKEY_encrypt(ctx, out, &n, in, in_len) != 1) {
		r = CU_ERR_CRYPTO;
		goto out;
	}
	*out_len = n;
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int cu_vko_decrypt(const cu_vko_t *k, int alg, const unsigned char *in,
                   size_t in_len, unsigned char *out, size_t out_cap,
                   size_t *out_len)
{
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char *tmp = NULL;
	size_t n = 0, cap = 0;
	int r;

	*out_len = 0;
	if ((r = cu_vko_alg_fits(k, alg, 'e', NULL)) != 0)
		return r;
	if (in_len > CU_VKO_MAX_OUT + 8)
		return CU_ERR_INVAL;
	if (k->kty == CU_VKO_OCT) {
		if (in_len < CU_KW_MIN_LEN + 8 || in_len % 8 != 0)
			return CU_ERR_INVAL;
		r = cu_kw_unwrap(k->oct, CU_VKO_OCT_LEN, in, in_len, out,
		                 out_cap, out_len);
		return r == CU_ERR_PARSE ? CU_ERR_AUTH : r;
	}
	cap = (size_t)EVP_PKEY_get_size(k->pkey);
	if (in_len != cap)
		return CU_ERR_AUTH;
	pk = priv_take(k);
	if ((tmp = cu_secmem_alloc(cap)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_decrypt_init(ctx) != 1 || oaep_ctx(ctx, alg) != 0) {
		r = CU_ERR_CRYPTO;
		goto out;
	}
	n = cap;
	if (EVP_PKEY_decrypt(ctx, tmp, &n, in, in_len) != 1) {
		r = CU_ERR_AUTH;
		goto out;
	}
	if (n > out_cap) {
		r = CU_ERR_RANGE;
		goto out;
	}
	memcpy(out, tmp, n);
	*out_len = n;
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	priv_put(k, pk);
	cu_secmem_free(tmp, cap);
	return r;
}

static int sign_ctx(EVP_PKEY_CTX *ctx, int alg, const EVP_MD *md)
{
	if (EVP_PKEY_CTX_set_signature_md(ctx, md) != 1)
		return CU_ERR_CRYPTO;
	if (alg >= CU_VKO_RS256 && alg <= CU_VKO_RS512 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
		return CU_ERR_CRYPTO;
	if (alg >= CU_VKO_PS256 && alg <= CU_VKO_PS512 &&
	    (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) !=
	         1 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1))
		return CU_ERR_CRYPTO;
	return 0;
}

int cu_vko_sign(const cu_vko_t *k, int alg, const unsigned char *digest,
                size_t digest_len, unsigned char *out, size_t out_cap,
                size_t *out_len)
{
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	ECDSA_SIG *es = NULL;
	unsigned char der[160];
	const unsigned char *p;
	const EVP_MD *md;
	size_t hlen, n;
	int r;

	*out_len = 0;
	if ((r = cu_vko_alg_fits(k, alg, 's', NULL)) != 0)
		return r;
	md = sig_md(alg, &hlen);
	if (digest_len != hlen)
		return CU_ERR_INVAL;
	pk = priv_take(k);
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_sign_init(ctx) != 1 || (r = sign_ctx(ctx, alg, md)) != 0) {
		r = CU_ERR_CRYPTO;
		goto out;
	}
	if (k->kty == CU_VKO_RSA) {
		n = out_cap;
		if ((size_t)EVP_PKEY_get_size(k->pkey) > out_cap) {
			r = CU_ERR_RANGE;
			goto out;
		}
		if (EVP_PKEY_sign(ctx, out, &n, digest, digest_len) != 1) {
			r = CU_ERR_CRYPTO;
			goto out;
		}
		*out_len = n;
	} else {
		size_t fl = crv_len(k->size);
		const BIGNUM *er, *es_s;
		if (out_cap < 2 * fl) {
			r = CU_ERR_RANGE;
			goto out;
		}
		n = sizeof(der);
		if (EVP_PKEY_sign(ctx, der, &n, digest, digest_len) != 1) {
			r = CU_ERR_CRYPTO;
			goto out;
		}
		p = der;
		if ((es = d2i_ECDSA_SIG(NULL, &p, (long)n)) == NULL) {
			r = CU_ERR_CRYPTO;
			goto out;
		}
		ECDSA_SIG_get0(es, &er, &es_s);
		if (BN_bn2binpad(er, out, (int)fl) < 0 ||
		    BN_bn2binpad(es_s, out + fl, (int)fl) < 0) {
			r = CU_ERR_CRYPTO;
			goto out;
		}
		*out_len = 2 * fl;
	}
	r = 0;
out:
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(ctx);
	priv_put(k, pk);
	return r;
}

int cu_vko_verify(const cu_vko_t *k, int alg, const unsigned char *digest,
                  size_t digest_len, const unsigned char *sig, size_t sig_len)
{
	EVP_PKEY_CTX *ctx = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *der = NULL;
	const EVP_MD *md;
	size_t hlen;
	int r, n = 0;

	if ((r = cu_vko_alg_fits(k, alg, 's', NULL)) != 0)
		return r;
	md = sig_md(alg, &hlen);
	if (digest_len != hlen)
		return CU_ERR_AUTH;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_verify_init(ctx) != 1 || sign_ctx(ctx, alg, md) != 0) {
		r = CU_ERR_CRYPTO;
		goto out;
	}
	if (k->kty == CU_VKO_RSA) {
		if (sig_len != (size_t)EVP_PKEY_get_size(k->pkey)) {
			r = CU_ERR_AUTH;
			goto out;
		}
		r = EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) == 1
		        ? 0
		        : CU_ERR_AUTH;
		goto out;
	}
	if (sig_len != 2 * crv_len(k->size)) {
		r = CU_ERR_AUTH;
		goto out;
	}
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (br = BN_bin2bn(sig, (int)(sig_len / 2), NULL)) == NULL ||
	    (bs = BN_bin2bn(sig + sig_len / 2, (int)(sig_len / 2), NULL)) ==
	        NULL ||
	    ECDSA_SIG_set0(es, br, bs) != 1) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	br = bs = NULL; /* owned by es now */
	if ((n = i2d_ECDSA_SIG(es, &der)) <= 0) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	r = EVP_PKEY_verify(ctx, der, (size_t)n, digest, digest_len) == 1
	        ? 0
	        : CU_ERR_AUTH;
out:
	OPENSSL_free(der);
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* keyops.h - the vault's key material and the operations on it.
 *
 * A cu_vko_t holds one key version's material in memory for the length of
 * one operation: an RSA or EC key pair (OpenSSL EVP_PKEY) or a 256-bit
 * symmetric ("oct") key in locked memory. It is made by generation, by a
 * JWK import or from its serialized form (what the vault seals at rest),
 * and wiped by the cu_vko_free of its last handle (cu_vko_dup).
 *
 * Algorithms and their names are those of JOSE and the Azure Key Vault
 * REST API. Signatures follow Azure's raw-digest semantics: the caller
 * hands in the digest, never the message. */
#ifndef CU_VAULT_KEYOPS_H
#define CU_VAULT_KEYOPS_H

#include <jansson.h>
#include <stddef.h>

enum cu_vko_kty {
	CU_VKO_RSA = 1,
	CU_VKO_EC = 2,
	CU_VKO_OCT = 3,
};

enum cu_vko_alg {
	CU_VKO_RSA_OAEP = 1, /* RSA-OAEP: SHA-1, MGF1-SHA-1 */
	CU_VKO_RSA_OAEP_256, /* RSA-OAEP-256: SHA-256, MGF1-SHA-256 */
	CU_VKO_A256KW,       /* RFC 3394 key wrap, oct keys */
	CU_VKO_RS256,
	CU_VKO_RS384,
	CU_VKO_RS512,
	CU_VKO_PS256,
	CU_VKO_PS384,
	CU_VKO_PS512,
	CU_VKO_ES256,
	CU_VKO_ES384,
};

/* EC curves we take: P-256 and P-384 (sign and verify only). */
enum cu_vko_crv {
	CU_VKO_P256 = 1,
	CU_VKO_P384 = 2,
};

/* The largest signature or ciphertext an operation produces (RSA-4096). */
#define CU_VKO_MAX_OUT 512
/* Longest input to wrap/encrypt/unwrap/decrypt we accept. */
#define CU_VKO_MAX_IN 1024
/* The one symmetric key size we support (A256KW). */
#define CU_VKO_OCT_LEN 32

typedef struct cu_vko cu_vko_t;

/* cu_vko_alg_parse - JOSE name ("RSA-OAEP-256") to an algorithm.
 * Returns 0, CU_ERR_UNSUPPORTED for a known but refused algorithm
 * (RSA1_5: PKCS#1 v1.5 encryption is a padding oracle; A128KW ...), or
 * CU_ERR_INVAL for an unknown name. `why` (may be NULL) gets a static
 * reason for the refusal. */
int cu_vko_alg_parse(const char *name, int *alg, const char **why);

/* cu_vko_alg_name - the JOSE name of alg; "" for an unknown value. */
const char *cu_vko_alg_name(int alg);

/* cu_vko_crv_parse - "P-256"/"P-384" to a curve; CU_ERR_UNSUPPORTED for
 * other names. cu_vko_crv_name - the reverse ("" for unknown). */
int cu_vko_crv_parse(const char *name, int *crv);
const char *cu_vko_crv_name(int crv);

/* cu_vko_generate - a fresh key: RSA of `size` bits (2048, 3072, 4096),
 * EC on curve `size` (enum cu_vko_crv), or oct of `size` bits (256).
 * *out is the caller's. Returns 0, CU_ERR_UNSUPPORTED (size), CU_ERR_INVAL,
 * CU_ERR_NOMEM or CU_ERR_CRYPTO. */
int cu_vko_generate(int kty, int size, cu_vko_t **out)
    __attribute__((warn_unused_result));

/* cu_vko_from_jwk - import a private JWK: RSA with n, e, d, p, q, dp, dq,
 * qi; EC with crv, x, y, d; oct with k (32 bytes). Members are base64url
 * without padding. The key pair is checked for consistency. *out is the
 * caller's. Returns 0, CU_ERR_PARSE (missing or malformed member),
 * CU_ERR_UNSUPPORTED (type, size or curve), CU_ERR_INVAL (inconsistent
 * key), CU_ERR_NOMEM or CU_ERR_CRYPTO. `why` (may be NULL) gets a static
 * reason on failure. */
int cu_vko_from_jwk(const json_t *jwk, cu_vko_t **out, const char **why)
    __attribute__((warn_unused_result));

/* cu_vko_serialize - the private material in the form cu_vko_load takes
 * (PKCS#8 DER for RSA and EC, the raw bytes for oct), in a new block of
 * locked memory *buf of *len bytes that the caller frees with
 * cu_secmem_free(*buf, *len). Returns 0, CU_ERR_NOMEM or CU_ERR_CRYPTO. */
int cu_vko_serialize(const cu_vko_t *k, unsigned char **buf, size_t *len)
    __attribute__((warn_unused_result));

/* cu_vko_load - a key of type kty from cu_vko_serialize's output (the
 * caller keeps buf). Returns 0, CU_ERR_PARSE, CU_ERR_UNSUPPORTED,
 * CU_ERR_NOMEM or CU_ERR_CRYPTO. */
int cu_vko_load(int kty, const unsigned char *buf, size_t len, cu_vko_t **out)
    __attribute__((warn_unused_result));

/* cu_vko_dup - another handle on k for another user (the key cache
 * hands one to each operation): the same key, shared. A key is never
 * changed once made, and OpenSSL keys are safe to use from many threads
 * at once. Each handle is released with cu_vko_free; the last one wipes
 * the material. Returns k. */
cu_vko_t *cu_vko_dup(cu_vko_t *k);

/* cu_vko_kty - the key's type; cu_vko_size - RSA modulus bits, oct key
 * bits, or the EC curve (enum cu_vko_crv). */
int cu_vko_kty(const cu_vko_t *k);
int cu_vko_size(const cu_vko_t *k);

/* cu_vko_public_jwk - add the public members to jwk (an object owned by
 * the caller): RSA n and e, EC crv, x and y, nothing for oct. Never a
 * private member. Returns 0, CU_ERR_NOMEM or CU_ERR_CRYPTO. */
int cu_vko_public_jwk(const cu_vko_t *k, json_t *jwk);

/* cu_vko_alg_fits - 0 when alg can be used with k for op ('e' encrypt or
 * wrap, 's' sign or verify), else CU_ERR_INVAL with a static reason in
 * *why (may be NULL). */
int cu_vko_alg_fits(const cu_vko_t *k, int alg, int op, const char **why);

/* cu_vko_alg_fits_type - the same check from a key's type and size
 * (enum cu_vko_kty; RSA bits, oct bits or EC curve) without its
 * material. */
int cu_vko_alg_fits_type(int kty, int size, int alg, int op, const char **why);

/* cu_vko_encrypt - encrypt or wrap in_len bytes (RSA-OAEP[-256] for RSA
 * keys, A256KW for oct keys; A256KW needs a multiple of 8 from 16 bytes).
 * out has out_cap bytes (CU_VKO_MAX_OUT suffices). cu_vko_decrypt - the
 * reverse; hand locked memory for out: it receives key material.
 * Returns 0, CU_ERR_INVAL (algorithm does not fit the key, bad input
 * length), CU_ERR_AUTH (decrypt: the ciphertext does not decrypt under
 * this key; out wiped), CU_ERR_RANGE, CU_ERR_NOMEM or CU_ERR_CRYPTO. */
int cu_vko_encrypt(const cu_vko_t *k, int alg, const unsigned char *in,
                   size_t in_len, unsigned char *out, size_t out_cap,
                   size_t *out_len) __attribute__((warn_unused_result));
int cu_vko_decrypt(const cu_vko_t *k, int alg, const unsigned char *in,
                   size_t in_len, unsigned char *out, size_t out_cap,
                   size_t *out_len) __attribute__((warn_unused_result));

/* cu_vko_sign - sign a digest (its length must match alg's hash) with
 * RSASSA-PKCS1-v1_5 (RS*), RSASSA-PSS with salt length = hash length
 * (PS*) or ECDSA (ES*, raw r||s of fixed size, not DER). out has out_cap
 * bytes. Returns 0, CU_ERR_INVAL (alg does not fit the key, digest length
 * wrong), CU_ERR_RANGE, CU_ERR_NOMEM or CU_ERR_CRYPTO. */
int cu_vko_sign(const cu_vko_t *k, int alg, const unsigned char *digest,
                size_t digest_len, unsigned char *out, size_t out_cap,
                size_t *out_len) __attribute__((warn_unused_result));

/* cu_vko_verify - check sig over digest. Returns 0 when valid, CU_ERR_AUTH
 * when not, CU_ERR_INVAL (alg does not fit), CU_ERR_NOMEM or
 * CU_ERR_CRYPTO. */
int cu_vko_verify(const cu_vko_t *k, int alg, const unsigned char *digest,
                  size_t digest_len, const unsigned char *sig, size_t sig_len)
    __attribute__((warn_unused_result));

/* cu_vko_free - release a handle; the last one wipes and frees. NULL is
 * fine. */
void cu_vko_free(cu_vko_t *k);

#endif

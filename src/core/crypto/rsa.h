/* rsa.h - RSA keys and RSA-OAEP key wrapping, via EVP_PKEY.
 *
 * Customer keys and the operator's system and availability keys may be
 * RSA (2048, 3072 or 4096 bits). Tenant keys are wrapped with RSA-OAEP:
 * SHA-256 with MGF1-SHA-256 (JOSE "RSA-OAEP-256", the default) or SHA-1
 * with MGF1-SHA-1 (JOSE "RSA-OAEP", for Azure clients that ask for it).
 *
 * A cu_rsa_t holds a public key or a key pair. It is immutable once made,
 * so one key may be used from several threads. */
#ifndef CU_RSA_H
#define CU_RSA_H

#include <stddef.h>

#define CU_RSA_MIN_BITS 2048
#define CU_RSA_MAX_BITS 8192
#define CU_RSA_MAX_LEN  (CU_RSA_MAX_BITS / 8) /* modulus bytes */
/* The public exponent we accept on import: 3 up to 2^64 - 1. */
#define CU_RSA_MAX_E_LEN 8
/* OAEP labels are short context strings; this bounds them. */
#define CU_RSA_MAX_LABEL_LEN 1024

typedef struct cu_rsa cu_rsa_t;

enum cu_rsa_oaep {
	CU_RSA_OAEP_SHA256 = 1, /* SHA-256, MGF1-SHA-256: "RSA-OAEP-256" */
	CU_RSA_OAEP_SHA1 = 2,   /* SHA-1, MGF1-SHA-1: "RSA-OAEP" */
};

enum cu_rsa_format {
	CU_RSA_DER = 1, /* private: PKCS#8 PrivateKeyInfo (PKCS#1 also read);
	                   public: SubjectPublicKeyInfo (PKCS#1 also read) */
	CU_RSA_PEM = 2, /* the same structures, PEM-armoured */
};

/* cu_rsa_generate - a fresh key pair of `bits` (2048, 3072 or 4096) with
 * e = 65537. *out is the caller's (cu_rsa_free). Returns 0,
 * CU_ERR_UNSUPPORTED for another size, CU_ERR_NOMEM or CU_ERR_CRYPTO. */
int cu_rsa_generate(unsigned bits, cu_rsa_t **out)
    __attribute__((warn_unused_result));

/* cu_rsa_load_private - read a private key (unencrypted) of format fmt
 * from buf; cu_rsa_load_public - read a public key. The caller keeps buf
 * and owns *out. Keys that are not plain RSA or outside
 * CU_RSA_MIN_BITS..CU_RSA_MAX_BITS are refused, and so are bytes after a
 * DER key and passphrase-protected keys. Returns 0, CU_ERR_PARSE
 * (not a key of that format), CU_ERR_UNSUPPORTED (another key type or
 * size), CU_ERR_INVAL, CU_ERR_NOMEM or CU_ERR_CRYPTO. */
int cu_rsa_load_private(const void *buf, size_t len, enum cu_rsa_format fmt,
                        cu_rsa_t **out) __attribute__((warn_unused_result));
int cu_rsa_load_public(const void *buf, size_t len, enum cu_rsa_format fmt,
                       cu_rsa_t **out) __attribute__((warn_unused_result));

/* cu_rsa_save_private - encode the key pair as fmt into a new buffer *out
 * (*out_len bytes; PEM output is not NUL-terminated) that the caller frees
 * with cu_rsa_buf_free. cu_rsa_save_public - the same for the public key
 * (works on a pair too). Returns 0, CU_ERR_STATE when saving the private
 * part of a public key, CU_ERR_INVAL, CU_ERR_NOMEM or CU_ERR_CRYPTO. */
int cu_rsa_save_private(const cu_rsa_t *key, enum cu_rsa_format fmt,
                        unsigned char **out, size_t *out_len)
    __attribute__((warn_unused_result));
int cu_rsa_save_public(const cu_rsa_t *key, enum cu_rsa_format fmt,
                       unsigned char **out, size_t *out_len)
    __attribute__((warn_unused_result));

/* cu_rsa_buf_free - wipe and free a buffer from cu_rsa_save_*. NULL is
 * fine. */
void cu_rsa_buf_free(unsigned char *buf, size_t len);

/* cu_rsa_public_ne - the modulus n and public exponent e as unsigned
 * big-endian bytes without leading zeros (the form JWK "n" and "e" carry
 * in base64url). n_cap must be at least cu_rsa_size(key), e_cap at least
 * CU_RSA_MAX_E_LEN. Returns 0, CU_ERR_RANGE (a buffer too small) or
 * CU_ERR_CRYPTO. */
int cu_rsa_public_ne(const cu_rsa_t *key, unsigned char *n, size_t n_cap,
                     size_t *n_len, unsigned char *e, size_t e_cap,
                     size_t *e_len) __attribute__((warn_unused_result));

/* cu_rsa_from_ne - a public key from big-endian n and e (leading zero
 * bytes allowed). *out is the caller's. Returns 0, CU_ERR_UNSUPPORTED (n
 * outside CU_RSA_MIN_BITS..CU_RSA_MAX_BITS), CU_ERR_INVAL (e even, below 3
 * or longer than CU_RSA_MAX_E_LEN, n even), CU_ERR_NOMEM or
 * CU_ERR_CRYPTO. */
int cu_rsa_from_ne(const unsigned char *n, size_t n_len, const unsigned char *e,
                   size_t e_len, cu_rsa_t **out)
    __attribute__((warn_unused_result));

/* cu_rsa_bits - modulus size in bits; cu_rsa_size - in bytes (the size of
 * every OAEP ciphertext under the key); cu_rsa_has_private - 1 for a key
 * pair, 0 for a public key. */
unsigned cu_rsa_bits(const cu_rsa_t *key);
size_t cu_rsa_size(const cu_rsa_t *key);
int cu_rsa_has_private(const cu_rsa_t *key);

/* cu_rsa_oaep_max_len - the longest input cu_rsa_oaep_wrap takes under key
 * and hash (modulus bytes - 2 * hash length - 2). */
size_t cu_rsa_oaep_max_len(const cu_rsa_t *key, enum cu_rsa_oaep hash);

/* cu_rsa_oaep_wrap - RSA-OAEP encrypt in (in_len bytes, at most
 * cu_rsa_oaep_max_len) with an optional label (NULL/0 for none) under the
 * public key. out receives cu_rsa_size(key) bytes. Returns 0, CU_ERR_RANGE
 * (input too long or out too small), CU_ERR_INVAL, CU_ERR_NOMEM or
 * CU_ERR_CRYPTO. */
int cu_rsa_oaep_wrap(const cu_rsa_t *key, enum cu_rsa_oaep hash,
                     const void *label, size_t label_len, const void *in,
                     size_t in_len, unsigned char *out, size_t out_cap,
                     size_t *out_len) __attribute__((warn_unused_result));

/* cu_rsa_oaep_unwrap - RSA-OAEP decrypt in (exactly cu_rsa_size(key)
 * bytes) with the key pair, the same hash and label as the wrap. out needs
 * room for the unwrapped key (cu_rsa_oaep_max_len suffices); hand in
 * locked memory. Returns 0, CU_ERR_AUTH for any ciphertext that does not
 * decrypt (wrong length, out of range, bad padding, wrong label or key:
 * one code so callers cannot become a padding oracle; out is wiped),
 * CU_ERR_STATE for a public key, CU_ERR_RANGE (out too small for a
 * successfully unwrapped key: out is wiped), CU_ERR_INVAL, CU_ERR_NOMEM or
 * CU_ERR_CRYPTO. */
int cu_rsa_oaep_unwrap(const cu_rsa_t *key, enum cu_rsa_oaep hash,
                       const void *label, size_t label_len, const void *in,
                       size_t in_len, unsigned char *out, size_t out_cap,
                       size_t *out_len) __attribute__((warn_unused_result));

/* cu_rsa_free - release a key (private parts are wiped). NULL is fine. */
void cu_rsa_free(cu_rsa_t *key);

#endif

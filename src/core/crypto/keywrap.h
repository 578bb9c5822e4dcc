/* keywrap.h - AES key wrap: RFC 3394 (KW, JOSE "A256KW") and RFC 5649
 * (KWP, with padding), via OpenSSL's EVP wrap ciphers.
 *
 * The KEK is 16, 24 or 32 bytes (AES-128/192/256; custos itself uses
 * AES-256 tenant and system keys, the smaller sizes exist for test
 * vectors and interoperability). Wrapped output is not secret; unwrapped
 * output is key material, so callers should hand in locked memory
 * (cu_secmem_alloc) for it. */
#ifndef CU_KEYWRAP_H
#define CU_KEYWRAP_H

#include <stddef.h>

#define CU_KW_BLOCK_LEN 8 /* the wrap's semiblock and integrity value */
/* RFC 3394 wraps at least two semiblocks; KWP at least one byte. */
#define CU_KW_MIN_LEN  16
#define CU_KWP_MIN_LEN 1
/* No key we wrap comes near this; it bounds allocations on unwrap. */
#define CU_KW_MAX_LEN 4096

/* CU_KW_WRAPPED_LEN - wrapped size of n bytes under KW (n a multiple of
 * 8); CU_KWP_WRAPPED_LEN - under KWP (n rounded up to 8). */
#define CU_KW_WRAPPED_LEN(n) ((size_t)(n) + CU_KW_BLOCK_LEN)
#define CU_KWP_WRAPPED_LEN(n)                                                  \
	((((size_t)(n) + 7) & ~(size_t)7) + CU_KW_BLOCK_LEN)

/* cu_kw_wrap - RFC 3394 wrap of in (in_len: a multiple of 8 from
 * CU_KW_MIN_LEN to CU_KW_MAX_LEN) under kek. out has room for out_cap
 * bytes and receives CU_KW_WRAPPED_LEN(in_len) bytes; *out_len gets the
 * count. The caller owns every buffer. Returns 0, CU_ERR_INVAL (KEK size,
 * in_len not a multiple of 8), CU_ERR_RANGE (in_len out of bounds or out
 * too small), CU_ERR_NOMEM or CU_ERR_CRYPTO. */
int cu_kw_wrap(const unsigned char *kek, size_t kek_len, const void *in,
               size_t in_len, unsigned char *out, size_t out_cap,
               size_t *out_len) __attribute__((warn_unused_result));

/* cu_kw_unwrap - check and unwrap an RFC 3394 wrapped key. out needs room
 * for in_len - 8 bytes. Returns 0, CU_ERR_AUTH when the integrity check
 * fails (wrong KEK or altered input; out is wiped then), CU_ERR_PARSE when
 * in_len cannot be a wrapped key (not a multiple of 8, too short or too
 * long), CU_ERR_INVAL (KEK size), CU_ERR_RANGE (out too small),
 * CU_ERR_NOMEM or CU_ERR_CRYPTO. */
int cu_kw_unwrap(const unsigned char *kek, size_t kek_len, const void *in,
                 size_t in_len, unsigned char *out, size_t out_cap,
                 size_t *out_len) __attribute__((warn_unused_result));

/* cu_kw_wrap_pad - RFC 5649 wrap of in (CU_KWP_MIN_LEN to CU_KW_MAX_LEN
 * bytes, any length) under kek; out receives CU_KWP_WRAPPED_LEN(in_len)
 * bytes. Returns as cu_kw_wrap. */
int cu_kw_wrap_pad(const unsigned char *kek, size_t kek_len, const void *in,
                   size_t in_len, unsigned char *out, size_t out_cap,
                   size_t *out_len) __attribute__((warn_unused_result));

/* cu_kw_unwrap_pad - check and unwrap an RFC 5649 wrapped key; the length
 * comes from the wrapped data's integrity block. out needs room for
 * in_len - 8 bytes (the most the key can be). Returns as cu_kw_unwrap;
 * a bad length indicator or non-zero padding is CU_ERR_AUTH. */
int cu_kw_unwrap_pad(const unsigned char *kek, size_t kek_len, const void *in,
                     size_t in_len, unsigned char *out, size_t out_cap,
                     size_t *out_len) __attribute__((warn_unused_result));

#endif

/* b64.h - base64 (RFC 4648 section 4, padded) and base64url without
 * padding (section 5; JOSE, Azure Key Vault).
 *
 * Decoders are strict: they refuse any character outside the alphabet
 * (whitespace included), misplaced or missing padding, impossible lengths
 * and non-canonical encodings (unused bits of the last character set), so
 * one byte string has exactly one accepted encoding. */
#ifndef CU_B64_H
#define CU_B64_H

#include <stddef.h>

/* cu_b64_encoded_len / cu_b64url_encoded_len - characters the encoding of
 * n bytes takes, without the terminating NUL. SIZE_MAX when n is so large
 * the result would overflow. */
size_t cu_b64_encoded_len(size_t n);
size_t cu_b64url_encoded_len(size_t n);

/* cu_b64_decoded_max - an upper bound of the bytes decoding in_len
 * characters (either alphabet) gives; size a decode buffer with it. */
size_t cu_b64_decoded_max(size_t in_len);

/* cu_b64_encode / cu_b64url_encode - encode n bytes at `in` (may be NULL
 * when n is 0) into out, NUL-terminated; out_cap counts the NUL. *out_len
 * (may be NULL) gets the length without NUL. Returns 0 or CU_ERR_RANGE
 * (out too small). */
int cu_b64_encode(const void *in, size_t n, char *out, size_t out_cap,
                  size_t *out_len);
int cu_b64url_encode(const void *in, size_t n, char *out, size_t out_cap,
                     size_t *out_len);

/* cu_b64_decode / cu_b64url_decode - strictly decode in_len characters at
 * `in` (need not be NUL-terminated) into out (out_cap bytes; may be
 * secure memory). *out_len gets the decoded length. Returns 0,
 * CU_ERR_PARSE (not a valid, canonical encoding) or CU_ERR_RANGE (out too
 * small). On failure out's first out_cap bytes may hold garbage and are
 * wiped. */
int cu_b64_decode(const char *in, size_t in_len, unsigned char *out,
                  size_t out_cap, size_t *out_len);
int cu_b64url_decode(const char *in, size_t in_len, unsigned char *out,
                     size_t out_cap, size_t *out_len);

/* cu_b64url_encode_alloc - encode into a fresh NUL-terminated string
 * (malloc; the caller frees). Returns 0, CU_ERR_RANGE or CU_ERR_NOMEM. */
int cu_b64url_encode_alloc(const void *in, size_t n, char **out);

/* cu_b64url_decode_alloc - strictly decode into a fresh buffer (malloc;
 * the caller frees; never NULL on success, even for empty input) of at
 * most `max` bytes. Returns 0, CU_ERR_PARSE, CU_ERR_TOOLARGE (the input
 * would decode to more than max bytes) or CU_ERR_NOMEM. */
int cu_b64url_decode_alloc(const char *in, size_t in_len, size_t max,
                           unsigned char **out, size_t *out_len);

#endif

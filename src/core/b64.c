#include "core/b64.h"
#include "core/err.h"
#include "core/secmem.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* EVP_EncodeBlock and EVP_DecodeBlock take int lengths; work in chunks
 * far below INT_MAX (a multiple of 3 for encoding, of 4 for decoding). */
#define ENC_CHUNK (3 * 4096)
#define DEC_CHUNK (4 * 4096)

size_t cu_b64_encoded_len(size_t n)
{
	if (n / 3 >= SIZE_MAX / 4 - 1)
		return SIZE_MAX;
	return (n + 2) / 3 * 4;
}

size_t cu_b64url_encoded_len(size_t n)
{
	if (n / 3 >= SIZE_MAX / 4 - 1)
		return SIZE_MAX;
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t cu_b64_decoded_max(size_t in_len)
{
	size_t rem = in_len % 4;

	return in_len / 4 * 3 + (rem > 1 ? rem - 1 : 0);
}

int cu_b64_encode(const void *in, size_t n, char *out, size_t out_cap,
                  size_t *out_len)
{
	const unsigned char *p = in;
	size_t need = cu_b64_encoded_len(n), done = 0;

	if (need == SIZE_MAX || out_cap < need + 1)
		return CU_ERR_RANGE;
	while (n > 0) {
		size_t take = n < ENC_CHUNK ? n : ENC_CHUNK;
		done += (size_t)EVP_EncodeBlock((unsigned char *)out + done, p,
		                                (int)take);
		p += take;
		n -= take;
	}
	out[done] = '\0';
	if (out_len != NULL)
		*out_len = done;
	return 0;
}

int cu_b64url_encode(const void *in, size_t n, char *out, size_t out_cap,
                     size_t *out_len)
{
	const unsigned char *p = in;
	size_t need = cu_b64url_encoded_len(n), done = 0;
	unsigned char tail[5];

	if (need == SIZE_MAX || out_cap < need + 1)
		return CU_ERR_RANGE;
	/* Whole groups go straight into out; the last partial group goes
	 * through a small buffer because its padding would not fit. */
	while (n >= 3) {
		size_t take = n < ENC_CHUNK ? n / 3 * 3 : ENC_CHUNK;
		done += (size_t)EVP_EncodeBlock((unsigned char *)out + done, p,
		                                (int)take);
		p += take;
		n -= take;
	}
	if (n > 0) {
		EVP_EncodeBlock(tail, p, (int)n);
		memcpy(out + done, tail, n + 1);
		done += n + 1;
	}
	for (size_t i = 0; i < done; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	out[done] = '\0';
	if (out_len != NULL)
		*out_len = done;
	return 0;
}

/* Value of a standard-alphabet character, or -1. */
static int val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode `len` characters of the standard alphabet, len % 4 == 0, with
 * `pad` (0..2) '=' already counted at the end and validated. */
static int decode_std(const char *in, size_t len, size_t pad,
                      unsigned char *out, size_t out_cap, size_t *out_len)
{
	size_t need = len / 4 * 3 - pad, done = 0;
	unsigned char last[3];

	if (need > out_cap)
		return CU_ERR_RANGE;
	/* EVP_DecodeBlock writes whole groups (3 bytes, padding included),
	 * so the final group goes through `last` to respect out_cap. */
	while (len > 4) {
		size_t take = len - 4 < DEC_CHUNK ? len - 4 : DEC_CHUNK;
		int n = EVP_DecodeBlock(out + done, (const unsigned char *)in,
		                        (int)take);
		if (n < 0 || (size_t)n != take / 4 * 3)
			return CU_ERR_PARSE;
		done += (size_t)n;
		in += take;
		len -= take;
	}
	if (len == 4) {
		if (EVP_DecodeBlock(last, (const unsigned char *)in, 4) != 3)
			return CU_ERR_PARSE;
		memcpy(out + done, last, 3 - pad);
		done += 3 - pad;
		cu_memzero(last, sizeof(last));
	}
	*out_len = done;
	return 0;
}

/* Check the alphabet and canonical final bits of `len` data characters
 * (no padding) for alphabet `url`. */
static int check(const char *in, size_t len, int url)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (url ? (c == '+' || c == '/') : (c == '-' || c == '_'))
			return CU_ERR_PARSE;
		if (url && (c == '-' || c == '_'))
			continue;
		if (val(c) < 0)
			return CU_ERR_PARSE;
	}
	if (len % 4 == 1)
		return CU_ERR_PARSE;
	if (len % 4 != 0) {
		unsigned char c = (unsigned char)in[len - 1];
		int v = c == '-' ? 62 : c == '_' ? 63 : val(c);
		/* 2 chars carry 1 byte (4 spare bits), 3 carry 2 (2 spare). */
		int mask = len % 4 == 2 ? 0x0f : 0x03;
		if (v & mask)
			return CU_ERR_PARSE;
	}
	return 0;
}

int cu_b64_decode(const char *in, size_t in_len, unsigned char *out,
                  size_t out_cap, size_t *out_len)
{
	size_t pad = 0;
	int r;

	*out_len = 0;
	if (in_len % 4 != 0)
		return CU_ERR_PARSE;
	while (pad < 2 && pad < in_len && in[in_len - 1 - pad] == '=')
		pad++;
	if ((r = check(in, in_len - pad, 0)) != 0)
		return r;
	r = decode_std(in, in_len, pad, out, out_cap, out_len);
	if (r != 0) {
		cu_memzero(out, out_cap);
		*out_len = 0;
	}
	return r;
}

int cu_b64url_decode(const char *in, size_t in_len, unsigned char *out,
                     size_t out_cap, size_t *out_len)
{
	char buf[DEC_CHUNK];
	size_t done = 0;
	int r;

	*out_len = 0;
	if ((r = check(in, in_len, 1)) != 0)
		return r;
	if (cu_b64_decoded_max(in_len) > out_cap) {
		/* cu_b64_decoded_max is exact for canonical input */
		return CU_ERR_RANGE;
	}
	/* Translate to the standard alphabet chunk by chunk, padding the
	 * last group, and decode each chunk. */
	while (in_len > 0) {
		size_t take = in_len < DEC_CHUNK ? in_len : DEC_CHUNK;
		size_t n = 0, pad = 0, got = 0;
		for (size_t i = 0; i < take; i++) {
			char c = in[i];
			buf[n++] = c == '-' ? '+' : c == '_' ? '/' : c;
		}
		while (n % 4 != 0) {
			buf[n++] = '=';
			pad++;
		}
		r = decode_std(buf, n, pad, out + done, out_cap - done, &got);
		if (r != 0)
			goto out;
		done += got;
		in += take;
		in_len -= take;
	}
	*out_len = done;
out:
	cu_memzero(buf, sizeof(buf));
	if (r != 0)
		cu_memzero(out, out_cap);
	return r;
}

int cu_b64url_encode_alloc(const void *in, size_t n, char **out)
{
	size_t need = cu_b64url_encoded_len(n);
	int r;

	*out = NULL;
	if (need == SIZE_MAX)
		return CU_ERR_RANGE;
	*out = malloc(need + 1);
	if (*out == NULL)
		return CU_ERR_NOMEM;
	if ((r = cu_b64url_encode(in, n, *out, need + 1, NULL)) != 0) {
		free(*out);
		*out = NULL;
	}
	return r;
}

int cu_b64url_decode_alloc(const char *in, size_t in_len, size_t max,
                           unsigned char **out, size_t *out_len)
{
	size_t cap = cu_b64_decoded_max(in_len);
	int r;

	*out = NULL;
	*out_len = 0;
	if (in_len % 4 == 1)
		return CU_ERR_PARSE;
	if (cap > max)
		return CU_ERR_TOOLARGE;
	*out = malloc(cap ? cap : 1);
	if (*out == NULL)
		return CU_ERR_NOMEM;
	if ((r = cu_b64url_decode(in, in_len, *out, cap, out_len)) != 0) {
		free(*out);
		*out = NULL;
	}
	return r;
}

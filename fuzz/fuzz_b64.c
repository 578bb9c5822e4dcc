/* libFuzzer target for core/b64: the strict decoders never crash, never
 * write past their buffer, and whatever they accept re-encodes to exactly
 * the input (one canonical encoding per byte string). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const char *in, size_t len, int url)
{
	size_t cap = cu_b64_decoded_max(len), n = 0, m = 0;
	unsigned char *dec = malloc(cap ? cap : 1);
	char *enc = NULL;
	int r;

	if (dec == NULL)
		return;
	r = url ? cu_b64url_decode(in, len, dec, cap, &n)
	        : cu_b64_decode(in, len, dec, cap, &n);
	if (r == 0) {
		enc = malloc(len + 1);
		if (enc == NULL)
			goto out;
		r = url ? cu_b64url_encode(dec, n, enc, len + 1, &m)
		        : cu_b64_encode(dec, n, enc, len + 1, &m);
		if (r != 0 || m != len || memcmp(enc, in, len) != 0)
			abort();
	}
out:
	free(enc);
	free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one((const char *)data, size, 0);
	one((const char *)data, size, 1);
	return 0;
}

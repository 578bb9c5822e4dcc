/* libFuzzer target for the store's name validators: object keys (UTF-8,
 * no NUL, 1..1024 bytes) and bucket names (S3's rules). Never crash; an
 * accepted key is valid UTF-8 by an independent check; an accepted bucket
 * name is 3..63 bytes of [a-z0-9.-]. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Straightforward UTF-8 check (RFC 3629), written independently. */
static int utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t c = s[i], cp, min;
		size_t k;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i - 1 < k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	int key_ok;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	key_ok = cu_s3_key_ok(s, size);
	if (key_ok != (size >= 1 && size <= 1024 && utf8_ok(data, size)))
		abort();
	if (cu_s3_bucket_name_ok(s)) {
		size_t n = strlen(s);

		if (n < 3 || n > 63 ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyz"
		              "0123456789.-") != n)
			abort();
	}
	free(s);
	return 0;
}

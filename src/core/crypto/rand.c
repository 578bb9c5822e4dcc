#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/secmem.h"

#include <limits.h>
#include <openssl/rand.h>

int cu_rand_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n;
		if (RAND_bytes(p, chunk) != 1)
			return CU_ERR_CRYPTO;
		p += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

int cu_rand_hex(char *out, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char raw[64];
	int r;

	if (n > sizeof(raw))
		return CU_ERR_RANGE;
	if ((r = cu_rand_bytes(raw, n)) != 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 15];
	}
	out[2 * n] = '\0';
	cu_memzero(raw, sizeof(raw));
	return 0;
}

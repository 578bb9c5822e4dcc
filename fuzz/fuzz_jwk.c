/* libFuzzer target for vault/keyops JWK import: any JSON the keys API
 * could hand to cu_vko_from_jwk is refused or imported, never a crash or
 * leak; an imported key serializes and loads back. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/secmem.h"
#include "vault/keyops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j;
	cu_vko_t *k = NULL, *k2 = NULL;
	const char *why = NULL;
	unsigned char *buf = NULL;
	size_t len = 0;

	if (size > 16384)
		return 0;
	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL)
		return 0;
	if (cu_vko_from_jwk(j, &k, &why) == 0) {
		if (cu_vko_serialize(k, &buf, &len) != 0 ||
		    cu_vko_load(cu_vko_kty(k), buf, len, &k2) != 0)
			abort();
		cu_secmem_free(buf, len);
	}
	cu_vko_free(k);
	cu_vko_free(k2);
	json_decref(j);
	return 0;
}

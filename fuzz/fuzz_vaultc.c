/* libFuzzer target for store/vaultc's parsers of untrusted input: the key
 * identifier a tenant gives, and the vault's KeyBundles, error bodies, key
 * operation results and event pages. The first byte picks the parser.
 * Every input is refused or parsed, never a crash or a leak; a parsed
 * kid formats back to itself, and a decoded value fits its buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/vaultc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text;
	size_t len;

	if (size < 1 || size > 65536)
		return 0;
	text = (const char *)data + 1;
	len = size - 1;
	switch (data[0] % 5) {
	case 0: {
		struct cu_vaultc_kid k, k2;
		char out[CU_VAULTC_KID_MAX + 64];
		if (cu_vaultc_kid_parse(text, len, &k) == 0) {
			if (cu_vaultc_kid_format(&k, out, sizeof(out)) != 0 ||
			    cu_vaultc_kid_parse(out, strlen(out), &k2) != 0 ||
			    memcmp(&k, &k2, sizeof(k)) != 0)
				abort();
		}
		break;
	}
	case 1: {
		struct cu_vaultc_key key;
		if (cu_vaultc_parse_key(text, len, &key) == 0 &&
		    (key.name[0] == '\0' ||
		     strlen(key.version) % CU_VAULTC_VERSION_LEN != 0))
			abort();
		break;
	}
	case 2: {
		struct cu_vaultc_result res;
		long status = len > 0 ? 100 + (long)(data[1] % 5) * 100 +
		                            (long)(len > 1 ? data[2] % 32 : 0)
		                      : 500;
		int r = cu_vaultc_classify(
		    status, len > 0 && data[1] & 1 ? "unwrapkey" : "get", text,
		    len, &res);
		if ((r == 0) != (res.reason == CU_VAULTC_OK) ||
		    (res.reason != CU_VAULTC_OK &&
		     cu_vaultc_is_denial(res.reason) ==
		         cu_vaultc_is_unreachable(res.reason)))
			abort();
		break;
	}
	case 3: {
		unsigned char out[64];
		char ver[CU_VAULTC_VERSION_LEN + 1];
		char *copy = malloc(len ? len : 1);
		size_t n = 0;
		if (copy == NULL)
			return 0;
		memcpy(copy, text, len);
		if (cu_vaultc_parse_value(copy, len, NULL, out, sizeof(out), &n,
		                          ver) == 0 &&
		    n > sizeof(out))
			abort();
		free(copy);
		break;
	}
	default: {
		struct cu_vaultc_event *ev = NULL;
		size_t n = 0;
		int64_t last = 0;
		if (cu_vaultc_parse_events(text, len, &ev, &n, &last) == 0 &&
		    n > 0 && ev == NULL)
			abort();
		cu_vaultc_events_free(ev);
		break;
	}
	}
	return 0;
}

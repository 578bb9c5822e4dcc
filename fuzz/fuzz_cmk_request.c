/* libFuzzer target for store/cmk's PUT .../encryption parser: any JSON
 * never crashes it, and what it accepts is well formed: one or two
 * distinct kids that parse, none for system-managed mode, the
 * availability key only when the store has one. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store/cmk.h"
#include "store/vaultc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *body =
	    json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct cu_scmk_error err;

	if (body == NULL)
		return 0;
	for (int have_avk = 0; have_avk < 2; have_avk++) {
		struct cu_scmk_req rq;
		struct cu_vaultc_kid k;

		memset(&err, 0, sizeof(err));
		if (cu_scmk_parse_request(body, have_avk, &rq, &err) != 0) {
			if (err.status != 400 || err.code == NULL ||
			    err.message[0] == '\0')
				abort();
			continue;
		}
		if (rq.availability_key && !have_avk)
			abort();
		if (!rq.customer_managed && (rq.n != 0 || rq.availability_key))
			abort();
		if (rq.customer_managed &&
		    (rq.n < 1 || rq.n > CU_SCMK_MAX_KEYS))
			abort();
		for (size_t i = 0; i < rq.n; i++)
			if (cu_vaultc_kid_parse(rq.kid[i], strlen(rq.kid[i]),
			                        &k) != 0)
				abort();
		if (rq.n == 2 && strcmp(rq.kid[0], rq.kid[1]) == 0)
			abort();
	}
	json_decref(body);
	return 0;
}

/* libFuzzer target for store/range: the Range parser never crashes and
 * whatever it accepts lies inside the object. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t sizes[] = {0, 1, 65535, 65536, 65537, UINT64_MAX};
	uint64_t off, count;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int r = cu_srange_parse((const char *)data, size, sizes[i],
		                        &off, &count);

		if (r == 0 &&
		    (count == 0 || off >= sizes[i] || count > sizes[i] - off))
			abort();
		if (r != 0 && r != CU_ERR_PARSE && r != CU_ERR_RANGE)
			abort();
	}
	return 0;
}

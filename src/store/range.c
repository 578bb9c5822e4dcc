/* range.c - single byte-range parsing for GetObject. */
#include "store/range.h"
#include "core/err.h"

#include <string.h>

/* Digits at s[*i..]: at least one, no overflow of uint64_t. */
static int number(const char *s, size_t len, size_t *i, uint64_t *v)
{
	size_t start = *i;

	*v = 0;
	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		uint64_t d = (uint64_t)(s[*i] - '0');

		if (*v > (UINT64_MAX - d) / 10)
			return CU_ERR_PARSE;
		*v = *v * 10 + d;
		(*i)++;
	}
	return *i > start ? 0 : CU_ERR_PARSE;
}

static void skip_ows(const char *s, size_t len, size_t *i)
{
	while (*i < len && (s[*i] == ' ' || s[*i] == '\t'))
		(*i)++;
}

int cu_srange_parse(const char *s, size_t len, uint64_t size, uint64_t *off,
                    uint64_t *count)
{
	static const char unit[] = "bytes=";
	uint64_t a = 0, b = 0;
	int has_a, has_b;
	size_t i = 0;

	if (s == NULL || off == NULL || count == NULL)
		return CU_ERR_INVAL;
	if (len > CU_SRANGE_MAX_LEN || len < sizeof(unit) - 1)
		return CU_ERR_PARSE;
	for (; i < sizeof(unit) - 1; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != unit[i])
			return CU_ERR_PARSE;
	}
	skip_ows(s, len, &i);
	has_a = i < len && s[i] >= '0' && s[i] <= '9';
	if (has_a && number(s, len, &i, &a) != 0)
		return CU_ERR_PARSE;
	if (i >= len || s[i] != '-')
		return CU_ERR_PARSE;
	i++;
	has_b = i < len && s[i] >= '0' && s[i] <= '9';
	if (has_b && number(s, len, &i, &b) != 0)
		return CU_ERR_PARSE;
	skip_ows(s, len, &i);
	if (i != len) /* a list of ranges, or garbage */
		return CU_ERR_PARSE;
	if (!has_a && !has_b)
		return CU_ERR_PARSE;
	if (has_a) {
		if (has_b && b < a)
			return CU_ERR_PARSE;
		if (a >= size)
			return CU_ERR_RANGE;
		if (!has_b || b >= size)
			b = size - 1;
		*off = a;
		*count = b - a + 1;
		return 0;
	}
	/* suffix: the last b bytes */
	if (b == 0 || size == 0)
		return CU_ERR_RANGE;
	if (b > size)
		b = size;
	*off = size - b;
	*count = b;
	return 0;
}

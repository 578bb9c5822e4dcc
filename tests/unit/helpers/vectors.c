#include "helpers/vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tv_dir(void)
{
	const char *d = getenv("CUSTOS_TESTVECTORS");

	return d != NULL && d[0] != '\0' ? d : "../shared/testvectors";
}

json_t *tv_load(const char *subdir, const char *name)
{
	char path[4096];
	json_error_t err;
	json_t *j;
	int n;

	n = snprintf(path, sizeof(path), "%s/%s/%s", tv_dir(), subdir, name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "vectors: path too long\n");
		return NULL;
	}
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL)
		fprintf(stderr, "vectors: %s: %s (line %d)\n", path, err.text,
		        err.line);
	return j;
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int tv_hex_str(const char *hex, struct tv_bytes *out)
{
	size_t n = strlen(hex);

	out->data = NULL;
	out->len = 0;
	if (n % 2 != 0)
		return -1;
	if ((out->data = malloc(n / 2 + 1)) == NULL)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			tv_bytes_free(out);
			return -1;
		}
		out->data[i] = (unsigned char)(hi << 4 | lo);
	}
	out->len = n / 2;
	return 0;
}

void tv_hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int tv_hex(const json_t *obj, const char *key, struct tv_bytes *out)
{
	const json_t *v = json_object_get(obj, key);

	out->data = NULL;
	out->len = 0;
	if (!json_is_string(v))
		return -1;
	return tv_hex_str(json_string_value(v), out);
}

void tv_bytes_free(struct tv_bytes *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

enum tv_expect tv_expect_of(const json_t *test)
{
	const char *r = json_string_value(json_object_get(test, "result"));

	if (r == NULL)
		return 0;
	if (strcmp(r, "valid") == 0)
		return TV_VALID;
	if (strcmp(r, "invalid") == 0)
		return TV_INVALID;
	if (strcmp(r, "acceptable") == 0)
		return TV_ACCEPTABLE;
	return 0;
}

int tv_has_flag(const json_t *test, const char *flag)
{
	const json_t *flags = json_object_get(test, "flags"), *f;
	size_t i;

	json_array_foreach(flags, i, f)
	{
		if (json_is_string(f) &&
		    strcmp(json_string_value(f), flag) == 0)
			return 1;
	}
	return 0;
}

int tv_run_wycheproof(const char *name, tv_case_fn fn, void *arg,
                      struct tv_count *count)
{
	struct tv_count c = {0, 0, 0};
	json_t *root = tv_load("wycheproof", name);
	const json_t *groups, *g, *tests, *t;
	size_t gi, ti;
	json_int_t declared;
	int rc = 0;

	if (root == NULL) {
		printf("wycheproof: %s: cannot be read\n", name);
		return -1;
	}
	groups = json_object_get(root, "testGroups");
	json_array_foreach(groups, gi, g)
	{
		tests = json_object_get(g, "tests");
		json_array_foreach(tests, ti, t)
		{
			enum tv_outcome o = fn(g, t, arg);
			if (o == TV_PASS) {
				c.passed++;
			} else if (o == TV_SKIP) {
				c.skipped++;
			} else {
				c.failed++;
				printf("wycheproof-fail: %s: tcId %lld (%s)\n",
				       name,
				       (long long)json_integer_value(
				           json_object_get(t, "tcId")),
				       json_string_value(
				           json_object_get(t, "result")));
			}
		}
	}
	declared = json_integer_value(json_object_get(root, "numberOfTests"));
	printf("wycheproof: %s: %u passed, %u failed, %u skipped\n", name,
	       c.passed, c.failed, c.skipped);
	fflush(stdout);
	if (c.failed != 0 || c.passed + c.failed + c.skipped == 0 ||
	    (declared > 0 &&
	     (json_int_t)(c.passed + c.failed + c.skipped) != declared))
		rc = -1;
	if (count != NULL)
		*count = c;
	json_decref(root);
	return rc;
}

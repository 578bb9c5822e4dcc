/* libFuzzer target: SigV4/SigV2 verification of random requests.
 *
 * Input: one byte of options, then lines separated by '\n': the method,
 * the raw path, the raw query, then "name:value" header lines. Whatever
 * the input, verify must not crash, must leave the signing key wiped on
 * failure, and must report a reason consistent with its return. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/err.h"
#include "store/sigv4.h"

#define MAXH 24

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int secret(void *arg, const char *akid, size_t akid_len,
                  unsigned char *out, size_t cap, size_t *out_len)
{
	static const char s[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

	if (akid_len == 11 && memcmp(akid, "AKIDEXAMPLE", 11) == 0) {
		memcpy(out, s, sizeof(s) - 1);
		*out_len = sizeof(s) - 1;
		return 0;
	}
	if (akid_len == 4 && memcmp(akid, "FAIL", 4) == 0)
		return CU_ERR_IO;
	return CU_ERR_NOTFOUND;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cu_sigv4_header h[MAXH];
	struct cu_sigv4_request rq = {0};
	struct cu_sigv4_options op = {0};
	struct cu_sigv4_result res;
	const char *p, *end, *line[3 + MAXH];
	size_t len[3 + MAXH], n = 0;
	unsigned char zero[CU_SIGV4_KEY_LEN] = {0};
	int r;

	if (size < 1)
		return 0;
	op.normalize_path = data[0] & 1;
	op.double_encode = (data[0] >> 1) & 1;
	op.allow_v2 = (data[0] >> 2) & 1;
	op.region = (data[0] & 8) ? "us-east-1" : NULL;
	op.service = (data[0] & 16) ? "service" : "s3";
	op.secret = secret;
	p = (const char *)data + 1;
	end = (const char *)data + size;
	while (p <= end && n < 3 + MAXH) {
		const char *e = memchr(p, '\n', (size_t)(end - p));

		if (e == NULL)
			e = end;
		line[n] = p;
		len[n] = (size_t)(e - p);
		n++;
		p = e + 1;
	}
	if (n < 3)
		return 0;
	rq.method = line[0];
	rq.method_len = len[0];
	rq.path = line[1];
	rq.path_len = len[1];
	rq.query = line[2];
	rq.query_len = len[2];
	for (size_t i = 3; i < n; i++) {
		const char *c = memchr(line[i], ':', len[i]);
		struct cu_sigv4_header *hh = &h[rq.n_headers];

		if (c == NULL)
			continue;
		hh->name = line[i];
		hh->name_len = (size_t)(c - line[i]);
		hh->value = c + 1;
		hh->value_len = len[i] - hh->name_len - 1;
		rq.n_headers++;
	}
	rq.headers = h;
	rq.now = (data[0] & 32) ? 1440938160 /* 2015-08-30T12:36:00Z */
	                        : 1369353600;
	if (data[0] & 64) {
		rq.payload_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b"
		                  "934ca495991b7852b855";
		rq.payload_hash_len = 64;
	}
	r = cu_sigv4_verify(&rq, &op, &res);
	if ((r == 0) != (res.fail == CU_SIGV4_OK))
		__builtin_trap();
	if (r != 0 && memcmp(res.signing_key, zero, sizeof(zero)) != 0)
		__builtin_trap();
	(void)cu_sigv4_s3_error(&res, NULL);
	(void)cu_sigv4_fail_text(res.fail);
	if (r == 0 &&
	    (res.payload == CU_SIGV4_PAYLOAD_STREAMING_SIGNED ||
	     res.payload == CU_SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER)) {
		cu_sigv4_chunked_t *c = NULL;

		if (cu_sigv4_chunked_new(&res, 0, &c) == 0)
			cu_sigv4_chunked_free(c);
	}
	cu_sigv4_result_clear(&res);
	return 0;
}

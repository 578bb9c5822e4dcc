/* libFuzzer target: the aws-chunked decoder fed random bytes in random
 * splits.
 *
 * Input: byte 0 picks the mode (signed chunks, or unsigned chunks with
 * one of the trailer checksums) and whether the decoded length is known;
 * byte 1 seeds the split sizes; bytes 2-3 are the decoded length (big
 * endian) unless byte 0 has bit 0x80 set (length unknown); the rest is the
 * body. The signing key and
 * seed signature are those of fuzz/corpus/chunked (secret
 * "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 20130524/us-east-1/s3), so
 * seeds with valid signatures reach past the first chunk. Invariants: no
 * crash, no more output than the declared length, and nothing emitted
 * after an error. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/err.h"
#include "store/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct count {
	uint64_t n;
	int stopped;
};

static int sink(void *arg, const unsigned char *d, size_t n)
{
	struct count *c = arg;

	if (c->stopped)
		__builtin_trap();
	c->n += n;
	return 0;
}

#define SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cu_sigv4_result res;
	cu_sigv4_chunked_t *c = NULL;
	struct count cnt = {0, 0};
	static const char secret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
	unsigned seed;
	size_t off = 4;
	int r = 0;

	if (size < 4)
		return 0;
	memset(&res, 0, sizeof(res));
	res.fail = CU_SIGV4_OK;
	switch ((data[0] & 0x0f) % 6) {
	case 0:
		res.payload = CU_SIGV4_PAYLOAD_STREAMING_SIGNED;
		break;
	default:
		res.payload = CU_SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
		res.trailer =
		    (enum cu_sigv4_checksum)((data[0] & 0x0f) % 6 - 1);
		break;
	}
	res.decoded_length =
	    (data[0] & 0x80) ? -1 : (int64_t)(data[2] << 8 | data[3]);
	memcpy(res.amz_date, "20130524T000000Z", 17);
	memcpy(res.scope, "20130524/us-east-1/s3/aws4_request", 35);
	memcpy(res.signature, SEED, 65);
	if (cu_sigv4_derive_key(secret, sizeof(secret) - 1, "20130524",
	                        "us-east-1", "s3", res.signing_key) != 0)
		return 0;
	if (cu_sigv4_chunked_new(&res, (data[0] & 0x40) ? 4096 : 0, &c) != 0)
		goto out;
	seed = data[1];
	while (off < size) {
		size_t k;

		seed = seed * 1103515245u + 12345u;
		k = 1 + (seed >> 16) % 97;
		if (k > size - off)
			k = size - off;
		r = cu_sigv4_chunked_feed(c, data + off, k, sink, &cnt);
		if (r != 0) {
			cnt.stopped = 1;
			/* refused for good */
			if (cu_sigv4_chunked_feed(c, data, 1, sink, &cnt) != r)
				__builtin_trap();
			break;
		}
		off += k;
	}
	if (cu_sigv4_chunked_finish(c) == 0) {
		if (res.decoded_length >= 0 &&
		    cnt.n != (uint64_t)res.decoded_length)
			__builtin_trap();
		(void)cu_sigv4_chunked_checksum(c, NULL);
	}
	if (res.decoded_length >= 0 && cnt.n > (uint64_t)res.decoded_length)
		__builtin_trap();
out:
	cu_sigv4_chunked_free(c);
	cu_sigv4_result_clear(&res);
	return 0;
}

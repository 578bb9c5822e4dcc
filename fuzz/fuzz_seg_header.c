/* libFuzzer target: arbitrary bytes as a stored object, through the
 * segmented format's header parser, size mapping, streaming decryptor
 * (whole and in chunks: both must agree) and random-access decryptor.
 *
 * The DEK and identity are the ones the seed corpus was made with (see
 * tests/unit/core/crypto/test_seg.c, CUSTOS_WRITE_SEG_CORPUS), so mutations
 * of real objects get past the commitment and reach segment opening. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto/seg.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char fuzz_dek[CU_SEG_DEK_LEN] = {
    'c', 'u', 's', 't', 'o', 's', '-', 'f', 'u', 'z', 'z'};
static const char fuzz_id[] = "fuzz-object";

struct out {
	size_t len;
	uint64_t sum;
};

static int sink(void *arg, const unsigned char *p, size_t len)
{
	struct out *o = arg;

	if (len == 0 || len > CU_SEG_SEGMENT_SIZE)
		abort();
	o->len += len;
	for (size_t i = 0; i < len; i++)
		o->sum = o->sum * 31 + p[i];
	return 0;
}

static int get_dek(void *arg, const struct cu_seg_header *h,
                   unsigned char dek[CU_SEG_DEK_LEN])
{
	if (h->wrapped_dek_len == 0 ||
	    h->wrapped_dek_len > CU_SEG_WRAPPED_DEK_MAX)
		abort();
	memcpy(dek, fuzz_dek, CU_SEG_DEK_LEN);
	return 0;
}

/* Decrypt data fed in chunks of `chunk` bytes (0: all at once). */
static int stream(const uint8_t *data, size_t size, size_t chunk, struct out *o)
{
	cu_seg_dec_t *d = NULL;
	int r;

	memset(o, 0, sizeof(*o));
	if (cu_seg_dec_new(fuzz_id, sizeof(fuzz_id) - 1, get_dek, NULL, sink, o,
	                   &d) != 0)
		abort();
	if (chunk == 0)
		chunk = size ? size : 1;
	r = 0;
	for (size_t off = 0; off < size && r == 0; off += chunk)
		r = cu_seg_dec_update(d, data + off,
		                      size - off < chunk ? size - off : chunk);
	if (r == 0)
		r = cu_seg_dec_final(d);
	cu_seg_dec_free(d);
	return r;
}

static void random_access(const uint8_t *data, size_t size)
{
	cu_seg_dec_t *d = NULL;
	uint64_t pt_size = 0;
	size_t hlen, off;
	unsigned char *pt;

	if (cu_seg_dec_open(fuzz_dek, data, size, fuzz_id, sizeof(fuzz_id) - 1,
	                    &d) != 0)
		return;
	hlen = cu_seg_dec_header_len(d);
	if (hlen == 0 || hlen > size)
		abort();
	pt = malloc(CU_SEG_SEGMENT_SIZE);
	if (pt != NULL && cu_seg_plaintext_size(size, hlen, &pt_size) == 0) {
		struct cu_seg_range r;
		if (pt_size > 0 &&
		    cu_seg_range(pt_size, hlen, 0, pt_size, &r) == 0) {
			if (r.ct_off != hlen || r.ct_off + r.ct_len != size)
				abort();
			off = hlen;
			for (uint64_t i = 0; i < r.seg_count && off < size;
			     i++) {
				size_t n = size - off, m = 0;
				if (n > CU_SEG_CT_SEGMENT_SIZE)
					n = CU_SEG_CT_SEGMENT_SIZE;
				if (cu_seg_dec_segment(
				        d, i, i == r.seg_count - 1, data + off,
				        n, pt, CU_SEG_SEGMENT_SIZE, &m) != 0)
					break;
				off += n;
			}
		}
	}
	free(pt);
	cu_seg_dec_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cu_seg_header h;
	struct out whole, bits;
	uint64_t pt_size = 0, ct_size = 0;
	size_t chunk;
	int r1, r2;

	if (cu_seg_header_parse(data, size, &h) == 0) {
		/* everything the parser hands out lies inside the input */
		if (h.len > size || h.len > CU_SEG_HEADER_MAX ||
		    h.wrapped_dek < data ||
		    h.commitment + CU_SEG_COMMIT_LEN != data + h.len)
			abort();
		if (cu_seg_plaintext_size(size, h.len, &pt_size) == 0) {
			if (cu_seg_ciphertext_size(pt_size, h.len, &ct_size) !=
			        0 ||
			    ct_size != size)
				abort();
		}
	}
	/* A chunk size from the input's length, to vary the split. */
	chunk = 1 + (size * 2654435761u) % (CU_SEG_CT_SEGMENT_SIZE + 17);
	r1 = stream(data, size, 0, &whole);
	r2 = stream(data, size, chunk, &bits);
	/* The split must not change the verdict, nor what was emitted before
	 * it, once a failure ends the stream. */
	if (r1 != r2 ||
	    (r1 == 0 && (whole.len != bits.len || whole.sum != bits.sum)))
		abort();
	if (r1 == 0 && (cu_seg_plaintext_size(size, h.len, &pt_size) != 0 ||
	                pt_size != whole.len))
		abort();
	random_access(data, size);
	return 0;
}

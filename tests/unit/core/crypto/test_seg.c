/* Unit tests for core/crypto/seg: the segmented object format.
 *
 * Round trips at the sizes around segment edges fed in odd chunk sizes,
 * ranged reads, and refusal of every kind of tampering. Throughout, the
 * decryptor's output is checked to be a prefix of the true plaintext that
 * stops before the first altered segment: it never emits unauthenticated
 * bytes.
 *
 * With CUSTOS_WRITE_SEG_CORPUS=DIR set, the test also writes a few real
 * objects to DIR (the fuzz target's seed corpus, made with its DEK and
 * identity). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto/seg.h"
#include "core/err.h"

#define SEG   CU_SEG_SEGMENT_SIZE
#define CTSEG CU_SEG_CT_SEGMENT_SIZE
#define MIB   (1024u * 1024u)

struct buf {
	unsigned char *p;
	size_t len, cap;
	int fail_with; /* a sink error to inject, 0 for none */
	size_t calls;
};

static int sink(void *arg, const unsigned char *data, size_t len)
{
	struct buf *b = arg;

	b->calls++;
	if (b->fail_with != 0)
		return b->fail_with;
	assert_true(len > 0); /* the streams never hand on nothing */
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len)
			cap *= 2;
		b->p = realloc(b->p, cap);
		assert_non_null(b->p);
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static const unsigned char dek_a[CU_SEG_DEK_LEN] = {0xa1, 0xa2, 0xa3, 4, 5};
static const unsigned char dek_b[CU_SEG_DEK_LEN] = {0xb1, 0xb2, 0xb3, 4, 5};
static const unsigned char wrapped[40] = {0x77, 0x72, 0x61, 0x70};
static const char id_a[] = "tenant=acme\0bucket=b1\0key=k.txt\0version=1";
static const char id_b[] = "tenant=acme\0bucket=b1\0key=k.txt\0version=2";
#define TK_VERSION 7u

/* What the DEK callback hands out, and what it saw. */
struct dek_src {
	const unsigned char *dek;
	int fail_with;
	uint32_t seen_tk_version;
	size_t seen_wrapped_len;
	int calls;
};

static int get_dek(void *arg, const struct cu_seg_header *h,
                   unsigned char dek[CU_SEG_DEK_LEN])
{
	struct dek_src *s = arg;

	s->calls++;
	s->seen_tk_version = h->tk_version;
	s->seen_wrapped_len = h->wrapped_dek_len;
	if (s->fail_with != 0)
		return s->fail_with;
	memcpy(dek, s->dek, CU_SEG_DEK_LEN);
	return 0;
}

static unsigned char *pattern(size_t len, unsigned seed)
{
	unsigned char *p = malloc(len ? len : 1);
	uint32_t x = seed * 2654435761u + 1;

	assert_non_null(p);
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

/* chunk == 0 means all at once. */
static void encrypt(const unsigned char *dek, const char *id, size_t id_len,
                    const unsigned char *pt, size_t len, size_t chunk,
                    struct buf *out)
{
	cu_seg_enc_t *e = NULL;

	memset(out, 0, sizeof(*out));
	assert_int_equal(cu_seg_enc_new(dek, TK_VERSION, wrapped,
	                                sizeof(wrapped), id, id_len, sink, out,
	                                &e),
	                 0);
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len; off += chunk)
		assert_int_equal(
		    cu_seg_enc_update(e, pt + off,
		                      len - off < chunk ? len - off : chunk),
		    0);
	assert_int_equal(cu_seg_enc_final(e), 0);
	/* once final, the stream is closed */
	assert_int_equal(cu_seg_enc_update(e, "x", 1), CU_ERR_STATE);
	assert_int_equal(cu_seg_enc_final(e), CU_ERR_STATE);
	cu_seg_enc_free(e);
}

/* Decrypt ct fed in chunks; returns the first error (or 0) and leaves the
 * emitted plaintext in out. */
static int decrypt(const unsigned char *dek, const char *id, size_t id_len,
                   const unsigned char *ct, size_t len, size_t chunk,
                   struct buf *out)
{
	struct dek_src src = {dek, 0, 0, 0, 0};
	cu_seg_dec_t *d = NULL;
	int r = 0;

	memset(out, 0, sizeof(*out));
	assert_int_equal(
	    cu_seg_dec_new(id, id_len, get_dek, &src, sink, out, &d), 0);
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len && r == 0; off += chunk)
		r = cu_seg_dec_update(d, ct + off,
		                      len - off < chunk ? len - off : chunk);
	if (r == 0)
		r = cu_seg_dec_final(d);
	else
		/* a failed stream stays failed */
		assert_int_equal(cu_seg_dec_final(d), CU_ERR_STATE);
	assert_true(src.calls <= 1);
	if (src.calls == 1 && r == 0) {
		assert_int_equal(src.seen_tk_version, TK_VERSION);
		assert_int_equal(src.seen_wrapped_len, sizeof(wrapped));
	}
	cu_seg_dec_free(d);
	return r;
}

static void assert_round_trip(size_t len, size_t enc_chunk, size_t dec_chunk)
{
	unsigned char *pt = pattern(len, (unsigned)len);
	struct buf ct, back;
	uint64_t want = 0, pt_size = 0;
	size_t hlen = cu_seg_header_len(sizeof(wrapped));

	encrypt(dek_a, id_a, sizeof(id_a), pt, len, enc_chunk, &ct);
	assert_int_equal(cu_seg_ciphertext_size(len, hlen, &want), 0);
	assert_int_equal(ct.len, want);
	assert_int_equal(cu_seg_plaintext_size(ct.len, hlen, &pt_size), 0);
	assert_int_equal(pt_size, len);
	assert_int_equal(
	    decrypt(dek_a, id_a, sizeof(id_a), ct.p, ct.len, dec_chunk, &back),
	    0);
	assert_int_equal(back.len, len);
	if (len > 0)
		assert_memory_equal(back.p, pt, len);
	buf_free(&ct);
	buf_free(&back);
	free(pt);
}

static void objects_round_trip_at_every_segment_edge_in_odd_chunks(void **state)
{
	static const size_t sizes[] = {0,     1,      65535,  65536,
	                               65537, 131071, 131072, 131073};
	static const size_t chunks[] = {1, 7, SEG + 3, 0};

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (size_t a = 0; a < 4; a++)
			for (size_t b = 0; b < 4; b++)
				assert_round_trip(sizes[s], chunks[a],
				                  chunks[b]);
}

static void multi_mib_object_round_trips_in_odd_chunks(void **state)
{
	size_t len = 5 * MIB + 12345;

	assert_round_trip(len, 1, SEG + 3);
	assert_round_trip(len, SEG + 3, 1);
	assert_round_trip(len, 7, 0);
	assert_round_trip(len, 0, 7);
	assert_round_trip(4 * MIB, 0, 0); /* last segment full */
}

static void empty_object_is_one_empty_segment(void **state)
{
	struct buf ct, back;
	size_t hlen = cu_seg_header_len(sizeof(wrapped));

	encrypt(dek_a, id_a, sizeof(id_a), NULL, 0, 0, &ct);
	assert_int_equal(ct.len, hlen + CU_SEG_TAG_LEN);
	assert_int_equal(
	    decrypt(dek_a, id_a, sizeof(id_a), ct.p, ct.len, 0, &back), 0);
	assert_int_equal(back.len, 0);
	/* nothing (not even the header) is an error, not an empty object */
	assert_int_equal(decrypt(dek_a, id_a, sizeof(id_a), ct.p, 0, 0, &back),
	                 CU_ERR_PARSE);
	assert_int_equal(
	    decrypt(dek_a, id_a, sizeof(id_a), ct.p, hlen, 0, &back),
	    CU_ERR_AUTH);
	buf_free(&ct);
	buf_free(&back);
}

/* Decrypt a tampered object: it must fail, and what came out before the
 * failure must be whole authentic segments before segment `bad`. */
static void assert_refused_before(const unsigned char *ct, size_t len,
                                  const unsigned char *pt, size_t pt_len,
                                  size_t bad, size_t chunk)
{
	struct buf back;
	int r = decrypt(dek_a, id_a, sizeof(id_a), ct, len, chunk, &back);

	assert_int_not_equal(r, 0);
	assert_true(back.len <= bad * SEG);
	assert_true(back.len % SEG == 0);
	assert_true(back.len <= pt_len);
	if (back.len > 0)
		assert_memory_equal(back.p, pt, back.len);
	buf_free(&back);
}

/* A three-segment object (two full, one partial). */
#define OBJ_LEN (2 * SEG + 1000)

static void flipped_bit_anywhere_in_a_segment_or_tag_is_refused(void **state)
{
	unsigned char *pt = pattern(OBJ_LEN, 3);
	struct buf ct;
	size_t hlen = cu_seg_header_len(sizeof(wrapped));

	encrypt(dek_a, id_a, sizeof(id_a), pt, OBJ_LEN, 0, &ct);
	for (size_t seg = 0; seg < 3; seg++) {
		size_t start = hlen + seg * CTSEG;
		size_t end = seg < 2 ? start + CTSEG : ct.len;
		/* first, middle and last ciphertext bytes, every tag byte */
		size_t pos[3 + CU_SEG_TAG_LEN];
		size_t npos = 0;
		pos[npos++] = start;
		pos[npos++] = start + (end - start - CU_SEG_TAG_LEN) / 2;
		for (size_t i = end - CU_SEG_TAG_LEN - 1; i < end; i++)
			pos[npos++] = i;
		for (size_t i = 0; i < npos; i++) {
			for (int bit = 0; bit < 8; bit += 7) {
				ct.p[pos[i]] ^= (unsigned char)(1u << bit);
				assert_refused_before(ct.p, ct.len, pt, OBJ_LEN,
				                      seg, i % 2 ? 7 : 0);
				ct.p[pos[i]] ^= (unsigned char)(1u << bit);
			}
		}
	}
	assert_refused_before(ct.p, ct.len - 1, pt, OBJ_LEN, 2, 0);
	buf_free(&ct);
	free(pt);
}

static void flipped_bit_anywhere_in_the_header_is_refused(void **state)
{
	unsigned char *pt = pattern(100, 4);
	struct buf ct;
	size_t hlen = cu_seg_header_len(sizeof(wrapped));
	cu_seg_dec_t *d = NULL;

	encrypt(dek_a, id_a, sizeof(id_a), pt, 100, 0, &ct);
	for (size_t i = 0; i < hlen * 8; i++) {
		ct.p[i / 8] ^= (unsigned char)(1u << (i % 8));
		assert_refused_before(ct.p, ct.len, pt, 100, 0, 0);
		assert_int_not_equal(cu_seg_dec_open(dek_a, ct.p, ct.len, id_a,
		                                     sizeof(id_a), &d),
		                     0);
		assert_null(d);
		ct.p[i / 8] ^= (unsigned char)(1u << (i % 8));
	}
	buf_free(&ct);
	free(pt);
}

static void truncated_objects_are_refused(void **state)
{
	unsigned char *pt = pattern(OBJ_LEN, 5);
	struct buf ct;
	size_t hlen = cu_seg_header_len(sizeof(wrapped));

	encrypt(dek_a, id_a, sizeof(id_a), pt, OBJ_LEN, 0, &ct);
	/* the last segment dropped: segment 1 is not marked last */
	assert_refused_before(ct.p, hlen + 2 * CTSEG, pt, OBJ_LEN, 1, 0);
	assert_refused_before(ct.p, hlen + CTSEG, pt, OBJ_LEN, 0, 7);
	/* cut in the middle of a segment, in a tag, in the header */
	for (size_t cut = 0; cut < ct.len; cut += 4099)
		assert_refused_before(ct.p, cut, pt, OBJ_LEN,
		                      cut < hlen ? 0 : (cut - hlen) / CTSEG, 0);
	for (size_t cut = ct.len - CU_SEG_TAG_LEN; cut < ct.len; cut++)
		assert_refused_before(ct.p, cut, pt, OBJ_LEN, 2, 1);
	assert_refused_before(ct.p, hlen - 1, pt, OBJ_LEN, 0, 0);
	assert_refused_before(ct.p, hlen, pt, OBJ_LEN, 0, 0);
	buf_free(&ct);
	free(pt);
}

static void extended_objects_are_refused(void **state)
{
	size_t lens[] = {0, 1000, 2 * SEG};

	for (size_t k = 0; k < 3; k++) {
		size_t len = lens[k];
		unsigned char *pt = pattern(len, 6);
		struct buf ct;
		size_t hlen = cu_seg_header_len(sizeof(wrapped));
		size_t last_off =
		    len == 0 ? hlen : hlen + (len - 1) / SEG * CTSEG;
		size_t last_len;
		unsigned char *big;

		encrypt(dek_a, id_a, sizeof(id_a), pt, len, 0, &ct);
		last_len = ct.len - last_off;
		big = malloc(ct.len + CTSEG + 1);
		assert_non_null(big);
		memcpy(big, ct.p, ct.len);
		/* the last segment again */
		memcpy(big + ct.len, ct.p + last_off, last_len);
		assert_refused_before(big, ct.len + last_len, pt, len,
		                      len / SEG, 0);
		/* one stray byte, or a bare tag */
		big[ct.len] = 0;
		assert_refused_before(big, ct.len + 1, pt, len, len / SEG, 0);
		assert_refused_before(big, ct.len + CU_SEG_TAG_LEN, pt, len,
		                      len / SEG, 3);
		free(big);
		buf_free(&ct);
		free(pt);
	}
}

/* Exchange the ciphertext segments at a and b through tmp. */
static void swap_segments(unsigned char *a, unsigned char *b,
                          unsigned char *tmp)
{
	memcpy(tmp, a, CTSEG);
	memcpy(a, b, CTSEG);
	memcpy(b, tmp, CTSEG);
}

static void reordered_dropped_and_duplicated_segments_are_refused(void **state)
{
	size_t len = 3 * SEG + 10;
	unsigned char *pt = pattern(len, 8), *tmp = malloc(CTSEG);
	struct buf ct;
	size_t hlen = cu_seg_header_len(sizeof(wrapped));
	unsigned char *s0, *s1, *s2;

	assert_non_null(tmp);
	encrypt(dek_a, id_a, sizeof(id_a), pt, len, 0, &ct);
	s0 = ct.p + hlen;
	s1 = s0 + CTSEG;
	s2 = s1 + CTSEG;
	/* swap segments 0 and 1, and back */
	swap_segments(s0, s1, tmp);
	assert_refused_before(ct.p, ct.len, pt, len, 0, 0);
	swap_segments(s0, s1, tmp);
	/* swap segments 1 and 2, and back */
	swap_segments(s1, s2, tmp);
	assert_refused_before(ct.p, ct.len, pt, len, 1, 0);
	swap_segments(s1, s2, tmp);
	/* segment 0 twice */
	memcpy(tmp, s1, CTSEG);
	memcpy(s1, s0, CTSEG);
	assert_refused_before(ct.p, ct.len, pt, len, 1, 0);
	memcpy(s1, tmp, CTSEG);
	/* segment 1 dropped */
	memmove(s1, s2, ct.len - (size_t)(s2 - ct.p));
	assert_refused_before(ct.p, ct.len - CTSEG, pt, len, 1, 0);
	free(tmp);
	buf_free(&ct);
	free(pt);
}

static void
segments_from_another_object_under_the_same_key_are_refused(void **state)
{
	size_t len = 2 * SEG + 5;
	unsigned char *pt = pattern(len, 9);
	struct buf a, b;
	size_t hlen = cu_seg_header_len(sizeof(wrapped));

	/* same DEK, same identity, same plaintext: only salt and prefix
	 * differ */
	encrypt(dek_a, id_a, sizeof(id_a), pt, len, 0, &a);
	encrypt(dek_a, id_a, sizeof(id_a), pt, len, 0, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_not_equal(a.p + hlen, b.p + hlen, CTSEG);
	/* b's second segment in a */
	memcpy(a.p + hlen + CTSEG, b.p + hlen + CTSEG, CTSEG);
	assert_refused_before(a.p, a.len, pt, len, 1, 0);
	/* b's header on a's body */
	memcpy(a.p, b.p, hlen);
	assert_refused_before(a.p, a.len, pt, len, 0, 0);
	buf_free(&a);
	buf_free(&b);
	free(pt);
}

static void wrong_identity_or_dek_is_refused(void **state)
{
	unsigned char *pt = pattern(1000, 10);
	struct buf ct, back;
	cu_seg_dec_t *d = NULL;

	encrypt(dek_a, id_a, sizeof(id_a), pt, 1000, 0, &ct);
	assert_int_equal(
	    decrypt(dek_a, id_b, sizeof(id_b), ct.p, ct.len, 0, &back),
	    CU_ERR_AUTH);
	assert_int_equal(back.len, 0);
	buf_free(&back);
	assert_int_equal(
	    decrypt(dek_a, id_a, sizeof(id_a) - 1, ct.p, ct.len, 0, &back),
	    CU_ERR_AUTH);
	buf_free(&back);
	assert_int_equal(decrypt(dek_a, NULL, 0, ct.p, ct.len, 0, &back),
	                 CU_ERR_AUTH);
	buf_free(&back);
	assert_int_equal(
	    decrypt(dek_b, id_a, sizeof(id_a), ct.p, ct.len, 0, &back),
	    CU_ERR_AUTH);
	assert_int_equal(back.len, 0);
	buf_free(&back);
	assert_int_equal(
	    cu_seg_dec_open(dek_b, ct.p, ct.len, id_a, sizeof(id_a), &d),
	    CU_ERR_AUTH);
	assert_int_equal(
	    cu_seg_dec_open(dek_a, ct.p, ct.len, id_b, sizeof(id_b), &d),
	    CU_ERR_AUTH);
	assert_null(d);
	buf_free(&ct);
	free(pt);
}

static void altered_commitment_is_refused(void **state)
{
	unsigned char *pt = pattern(10, 11);
	struct buf ct, back;
	size_t hlen = cu_seg_header_len(sizeof(wrapped));

	encrypt(dek_a, id_a, sizeof(id_a), pt, 10, 0, &ct);
	for (size_t i = hlen - CU_SEG_COMMIT_LEN; i < hlen; i++) {
		ct.p[i] ^= 0x80;
		assert_int_equal(
		    decrypt(dek_a, id_a, sizeof(id_a), ct.p, ct.len, 0, &back),
		    CU_ERR_AUTH);
		assert_int_equal(back.len, 0);
		buf_free(&back);
		ct.p[i] ^= 0x80;
	}
	buf_free(&ct);
	free(pt);
}

static void changed_header_fields_are_refused_with_the_right_code(void **state)
{
	unsigned char *pt = pattern(10, 12);
	struct buf ct, back;

	encrypt(dek_a, id_a, sizeof(id_a), pt, 10, 0, &ct);
	struct {
		size_t off;
		unsigned char val;
		int want;
	} cases[] = {
	    {0, 'X', CU_ERR_PARSE},            /* magic */
	    {4, 2, CU_ERR_UNSUPPORTED},        /* version */
	    {4, 0, CU_ERR_UNSUPPORTED},        /* version */
	    {5, 2, CU_ERR_UNSUPPORTED},        /* algorithm */
	    {7, 0x00, CU_ERR_PARSE},           /* segment size 64 KiB -> 0 */
	    {7, 0x02, CU_ERR_PARSE},           /* segment size 128 KiB */
	    {13, TK_VERSION + 1, CU_ERR_AUTH}, /* tenant-key version */
	    {14, 0x04, CU_ERR_PARSE},          /* wrapped DEK length 1064 */
	    {15, 0x00, CU_ERR_PARSE},          /* wrapped DEK length 0 */
	    {15, 41, CU_ERR_AUTH},             /* wrapped DEK length 41 */
	    {15, 39, CU_ERR_AUTH},             /* wrapped DEK length 39 */
	    {16, 0xff, CU_ERR_AUTH},           /* wrapped DEK */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char old = ct.p[cases[i].off];
		ct.p[cases[i].off] = cases[i].val;
		assert_int_equal(
		    decrypt(dek_a, id_a, sizeof(id_a), ct.p, ct.len, 0, &back),
		    cases[i].want);
		assert_int_equal(back.len, 0);
		buf_free(&back);
		ct.p[cases[i].off] = old;
	}
	assert_int_equal(
	    decrypt(dek_a, id_a, sizeof(id_a), ct.p, ct.len, 0, &back), 0);
	buf_free(&back);
	buf_free(&ct);
	free(pt);
}

static void header_parser_is_strict_and_asks_for_what_it_needs(void **state)
{
	struct buf ct;
	struct cu_seg_header h;
	size_t hlen = cu_seg_header_len(sizeof(wrapped));

	encrypt(dek_a, id_a, sizeof(id_a), (const unsigned char *)"x", 1, 0,
	        &ct);
	assert_int_equal(cu_seg_header_parse(ct.p, ct.len, &h), 0);
	assert_int_equal(h.len, hlen);
	assert_int_equal(h.version, CU_SEG_VERSION);
	assert_int_equal(h.alg, CU_SEG_ALG_AES256GCM_HKDF);
	assert_int_equal(h.segment_size, SEG);
	assert_int_equal(h.tk_version, TK_VERSION);
	assert_int_equal(h.wrapped_dek_len, sizeof(wrapped));
	assert_memory_equal(h.wrapped_dek, wrapped, sizeof(wrapped));
	assert_ptr_equal(h.commitment, ct.p + hlen - CU_SEG_COMMIT_LEN);
	/* prefixes ask for more: the fixed part, then the whole header */
	for (size_t n = 0; n < CU_SEG_HEADER_FIXED_LEN; n++) {
		assert_int_equal(cu_seg_header_parse(ct.p, n, &h),
		                 CU_ERR_RANGE);
		assert_int_equal(h.len, CU_SEG_HEADER_FIXED_LEN);
	}
	for (size_t n = CU_SEG_HEADER_FIXED_LEN; n < hlen; n++) {
		assert_int_equal(cu_seg_header_parse(ct.p, n, &h),
		                 CU_ERR_RANGE);
		assert_int_equal(h.len, hlen);
	}
	/* a wrong magic is refused as soon as one byte shows it */
	assert_int_equal(cu_seg_header_parse("X", 1, &h), CU_ERR_PARSE);
	assert_int_equal(cu_seg_header_parse("CUSX", 4, &h), CU_ERR_PARSE);
	assert_int_equal(cu_seg_header_parse("CU", 2, &h), CU_ERR_RANGE);
	/* wrapped-DEK lengths at and past the bound */
	ct.p[14] = (unsigned char)(CU_SEG_WRAPPED_DEK_MAX >> 8);
	ct.p[15] = (unsigned char)CU_SEG_WRAPPED_DEK_MAX;
	assert_int_equal(cu_seg_header_parse(ct.p, ct.len, &h), CU_ERR_RANGE);
	assert_int_equal(h.len, CU_SEG_HEADER_MAX);
	ct.p[15]++;
	assert_int_equal(cu_seg_header_parse(ct.p, ct.len, &h), CU_ERR_PARSE);
	ct.p[14] = 0xff;
	assert_int_equal(cu_seg_header_parse(ct.p, ct.len, &h), CU_ERR_PARSE);
	assert_int_equal(cu_seg_header_len(0), 0);
	assert_int_equal(cu_seg_header_len(CU_SEG_WRAPPED_DEK_MAX),
	                 CU_SEG_HEADER_MAX);
	assert_int_equal(cu_seg_header_len(CU_SEG_WRAPPED_DEK_MAX + 1), 0);
	buf_free(&ct);
}

static void sizes_map_both_ways_and_impossible_sizes_are_refused(void **state)
{
	size_t hlen = cu_seg_header_len(sizeof(wrapped));
	uint64_t ct = 0, pt = 0;
	static const uint64_t pts[] = {
	    0,       1,       SEG - 1,      SEG,
	    SEG + 1, 2 * SEG, 10 * MIB + 3, CU_SEG_MAX_PLAINTEXT};

	for (size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
		assert_int_equal(cu_seg_ciphertext_size(pts[i], hlen, &ct), 0);
		assert_int_equal(cu_seg_plaintext_size(ct, hlen, &pt), 0);
		assert_int_equal(pt, pts[i]);
	}
	assert_int_equal(cu_seg_ciphertext_size(0, hlen, &ct), 0);
	assert_int_equal(ct, hlen + 16);
	assert_int_equal(cu_seg_ciphertext_size(SEG, hlen, &ct), 0);
	assert_int_equal(ct, hlen + CTSEG);
	assert_int_equal(cu_seg_ciphertext_size(SEG + 1, hlen, &ct), 0);
	assert_int_equal(ct, hlen + CTSEG + 17);
	assert_int_equal(
	    cu_seg_ciphertext_size(CU_SEG_MAX_PLAINTEXT + 1, hlen, &ct),
	    CU_ERR_RANGE);
	/* header only, partial tags, an empty segment after a full one */
	for (uint64_t n = 0; n < 16; n++)
		assert_int_equal(cu_seg_plaintext_size(hlen + n, hlen, &pt),
		                 CU_ERR_PARSE);
	for (uint64_t n = 0; n <= 16; n++)
		assert_int_equal(
		    cu_seg_plaintext_size(hlen + CTSEG + n, hlen, &pt),
		    n == 0 ? 0 : CU_ERR_PARSE);
	assert_int_equal(cu_seg_plaintext_size(hlen + CTSEG + 17, hlen, &pt),
	                 0);
	assert_int_equal(pt, SEG + 1);
	assert_int_equal(cu_seg_plaintext_size(UINT64_MAX, hlen, &pt),
	                 CU_ERR_PARSE);
	/* header lengths no header has */
	assert_int_equal(cu_seg_plaintext_size(1000, 10, &pt), CU_ERR_INVAL);
	assert_int_equal(cu_seg_ciphertext_size(1, CU_SEG_HEADER_MAX + 1, &ct),
	                 CU_ERR_INVAL);
}

/* Read [off, off + len) through cu_seg_range and single-segment opens. */
static void assert_range(const struct buf *ct, const unsigned char *pt,
                         size_t pt_len, cu_seg_dec_t *d, uint64_t off,
                         uint64_t len)
{
	struct cu_seg_range r;
	size_t hlen = cu_seg_dec_header_len(d);
	unsigned char *out = malloc((size_t)len + 2 * SEG);
	size_t got = 0;

	assert_non_null(out);
	assert_int_equal(cu_seg_range(pt_len, hlen, off, len, &r), 0);
	assert_true(r.ct_off + r.ct_len <= ct->len);
	assert_true(r.count >= 1 && r.first + r.count <= r.seg_count);
	assert_int_equal(r.count, (off + len - 1) / SEG - off / SEG + 1);
	for (uint64_t i = 0; i < r.count; i++) {
		uint64_t idx = r.first + i;
		size_t at = (size_t)(r.ct_off + i * CTSEG);
		size_t n = (size_t)(r.ct_off + r.ct_len - at);
		size_t m = 0;
		if (n > CTSEG)
			n = CTSEG;
		assert_int_equal(
		    cu_seg_dec_segment(d, idx, idx == r.seg_count - 1,
		                       ct->p + at, n, out + got, SEG, &m),
		    0);
		got += m;
	}
	assert_true(got >= r.skip + len);
	assert_memory_equal(out + r.skip, pt + off, (size_t)len);
	free(out);
}

static void ranged_reads_decrypt_only_the_segments_they_touch(void **state)
{
	static const size_t lens[] = {3 * SEG + 777, 3 * SEG, 1};

	for (size_t k = 0; k < 3; k++) {
		size_t n = lens[k];
		unsigned char *pt = pattern(n, 13);
		struct buf ct;
		cu_seg_dec_t *d = NULL;
		struct {
			uint64_t off, len;
		} rs[] = {{0, 1},
		          {0, n},
		          {n - 1, 1},
		          {SEG - 1, 2},
		          {SEG, SEG},
		          {SEG - 1, SEG + 2},
		          {SEG + 5, 2 * SEG - 10},
		          {2 * SEG, n - 2 * SEG},
		          {3 * SEG - 1, n - 3 * SEG + 1},
		          {100, 200}};

		encrypt(dek_a, id_a, sizeof(id_a), pt, n, 0, &ct);
		/* the header alone opens a random-access decryptor */
		assert_int_equal(
		    cu_seg_dec_open(dek_a, ct.p,
		                    cu_seg_header_len(sizeof(wrapped)), id_a,
		                    sizeof(id_a), &d),
		    0);
		for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
			if (rs[i].off + rs[i].len > n || rs[i].len == 0 ||
			    rs[i].off >= n)
				continue;
			assert_range(&ct, pt, n, d, rs[i].off, rs[i].len);
		}
		cu_seg_dec_free(d);
		buf_free(&ct);
		free(pt);
	}
}

static void single_segment_open_checks_index_last_flag_and_length(void **state)
{
	size_t n = 2 * SEG + 100;
	unsigned char *pt = pattern(n, 14), *out = malloc(SEG);
	struct buf ct;
	cu_seg_dec_t *d = NULL;
	size_t hlen = cu_seg_header_len(sizeof(wrapped)), m = 0;
	const unsigned char *s0, *s2;
	struct cu_seg_range r;

	assert_non_null(out);
	encrypt(dek_a, id_a, sizeof(id_a), pt, n, 0, &ct);
	s0 = ct.p + hlen;
	s2 = s0 + 2 * CTSEG;
	assert_int_equal(
	    cu_seg_dec_open(dek_a, ct.p, ct.len, id_a, sizeof(id_a), &d), 0);
	assert_int_equal(cu_seg_dec_segment(d, 0, 0, s0, CTSEG, out, SEG, &m),
	                 0);
	assert_memory_equal(out, pt, SEG);
	/* wrong index, wrong last flag */
	assert_int_equal(cu_seg_dec_segment(d, 1, 0, s0, CTSEG, out, SEG, &m),
	                 CU_ERR_AUTH);
	assert_int_equal(m, 0);
	assert_int_equal(cu_seg_dec_segment(d, 0, 1, s0, CTSEG, out, SEG, &m),
	                 CU_ERR_AUTH);
	assert_int_equal(cu_seg_dec_segment(d, 2, 0, s2, 116, out, SEG, &m),
	                 CU_ERR_PARSE);
	assert_int_equal(cu_seg_dec_segment(d, 2, 1, s2, 116, out, SEG, &m), 0);
	assert_int_equal(m, 100);
	/* impossible lengths and small outputs */
	assert_int_equal(
	    cu_seg_dec_segment(d, 0, 0, s0, CTSEG - 1, out, SEG, &m),
	    CU_ERR_PARSE);
	assert_int_equal(cu_seg_dec_segment(d, 2, 1, s2, 15, out, SEG, &m),
	                 CU_ERR_PARSE);
	assert_int_equal(cu_seg_dec_segment(d, 2, 1, s2, 16, out, SEG, &m),
	                 CU_ERR_PARSE);
	assert_int_equal(cu_seg_dec_segment(d, 2, 1, s2, 116, out, 99, &m),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_seg_dec_segment(d, CU_SEG_MAX_SEGMENTS, 1, s2, 116,
	                                    out, SEG, &m),
	                 CU_ERR_RANGE);
	/* a random-access decryptor has no stream */
	assert_int_equal(cu_seg_dec_update(d, "x", 1), CU_ERR_STATE);
	/* ranges outside the object */
	assert_int_equal(cu_seg_range(n, hlen, n, 1, &r), CU_ERR_RANGE);
	assert_int_equal(cu_seg_range(n, hlen, 0, 0, &r), CU_ERR_RANGE);
	assert_int_equal(cu_seg_range(n, hlen, 1, n, &r), CU_ERR_RANGE);
	assert_int_equal(cu_seg_range(0, hlen, 0, 1, &r), CU_ERR_RANGE);
	assert_int_equal(cu_seg_range(n, hlen, UINT64_MAX, 2, &r),
	                 CU_ERR_RANGE);
	cu_seg_dec_free(d);
	cu_seg_dec_free(NULL);
	cu_seg_enc_free(NULL);
	free(out);
	buf_free(&ct);
	free(pt);
}

/* A subkey kept by cu_seg_dec_open_keep opens the same object again
 * without the DEK; a failed open leaves nothing in it. */
static void a_kept_subkey_reopens_the_same_object(void **state)
{
	size_t n = SEG + 10;
	unsigned char *pt = pattern(n, 21), *out = malloc(SEG);
	unsigned char sk[CU_SEG_SUBKEY_LEN], zero[CU_SEG_SUBKEY_LEN] = {0};
	size_t hlen = cu_seg_header_len(sizeof(wrapped)), m = 0;
	struct buf ct;
	cu_seg_dec_t *d = NULL;

	(void)state;
	assert_non_null(out);
	encrypt(dek_a, id_a, sizeof(id_a), pt, n, 0, &ct);
	assert_int_equal(cu_seg_dec_open_keep(dek_a, ct.p, ct.len, id_a,
	                                      sizeof(id_a), sk, &d),
	                 0);
	cu_seg_dec_free(d);
	assert_int_equal(
	    cu_seg_dec_open_subkey(sk, ct.p, ct.len, id_a, sizeof(id_a), &d),
	    0);
	assert_int_equal(
	    cu_seg_dec_segment(d, 0, 0, ct.p + hlen, CTSEG, out, SEG, &m), 0);
	assert_memory_equal(out, pt, SEG);
	assert_int_equal(
	    cu_seg_dec_segment(d, 1, 1, ct.p + hlen + CTSEG, 26, out, SEG, &m),
	    0);
	assert_int_equal(m, 10);
	assert_memory_equal(out, pt + SEG, 10);
	cu_seg_dec_free(d);
	/* the subkey with another identity: the tags refuse every segment */
	assert_int_equal(
	    cu_seg_dec_open_subkey(sk, ct.p, ct.len, id_b, sizeof(id_b), &d),
	    0);
	assert_int_equal(
	    cu_seg_dec_segment(d, 0, 0, ct.p + hlen, CTSEG, out, SEG, &m),
	    CU_ERR_AUTH);
	cu_seg_dec_free(d);
	/* the wrong DEK: refused, and no subkey is handed out */
	memset(sk, 0x5a, sizeof(sk));
	assert_int_equal(cu_seg_dec_open_keep(dek_b, ct.p, ct.len, id_a,
	                                      sizeof(id_a), sk, &d),
	                 CU_ERR_AUTH);
	assert_null(d);
	assert_memory_equal(sk, zero, sizeof(sk));
	assert_int_equal(
	    cu_seg_dec_open_subkey(NULL, ct.p, ct.len, id_a, sizeof(id_a), &d),
	    CU_ERR_INVAL);
	free(out);
	buf_free(&ct);
	free(pt);
}

static void sink_and_dek_errors_stop_the_stream(void **state)
{
	unsigned char *pt = pattern(3 * SEG, 15);
	struct buf ct, out;
	struct dek_src src = {dek_a, CU_ERR_DENIED, 0, 0, 0};
	cu_seg_enc_t *e = NULL;
	cu_seg_dec_t *d = NULL;

	/* encryptor: the sink's error comes back and the stream stays shut */
	memset(&out, 0, sizeof(out));
	out.fail_with = CU_ERR_IO;
	assert_int_equal(cu_seg_enc_new(dek_a, 1, wrapped, sizeof(wrapped),
	                                id_a, sizeof(id_a), sink, &out, &e),
	                 0);
	assert_int_equal(cu_seg_enc_update(e, pt, SEG), 0); /* held back */
	assert_int_equal(out.calls, 0);
	assert_int_equal(cu_seg_enc_update(e, pt + SEG, 1), CU_ERR_IO);
	assert_int_equal(cu_seg_enc_update(e, pt, 1), CU_ERR_STATE);
	assert_int_equal(cu_seg_enc_final(e), CU_ERR_STATE);
	cu_seg_enc_free(e);

	/* decryptor: the DEK callback's refusal comes back */
	encrypt(dek_a, id_a, sizeof(id_a), pt, 3 * SEG, 0, &ct);
	memset(&out, 0, sizeof(out));
	assert_int_equal(
	    cu_seg_dec_new(id_a, sizeof(id_a), get_dek, &src, sink, &out, &d),
	    0);
	assert_int_equal(cu_seg_dec_update(d, ct.p, 10), 0);
	assert_int_equal(cu_seg_dec_update(d, ct.p + 10, ct.len - 10),
	                 CU_ERR_DENIED);
	assert_int_equal(cu_seg_dec_update(d, ct.p, 1), CU_ERR_STATE);
	cu_seg_dec_free(d);

	/* decryptor: the sink's error comes back */
	src.fail_with = 0;
	out.fail_with = CU_ERR_IO;
	assert_int_equal(
	    cu_seg_dec_new(id_a, sizeof(id_a), get_dek, &src, sink, &out, &d),
	    0);
	assert_int_equal(cu_seg_dec_update(d, ct.p, ct.len), CU_ERR_IO);
	assert_int_equal(cu_seg_dec_final(d), CU_ERR_STATE);
	cu_seg_dec_free(d);
	buf_free(&out);
	buf_free(&ct);
	free(pt);
}

static void bad_encryptor_arguments_are_refused(void **state)
{
	cu_seg_enc_t *e = NULL;
	cu_seg_dec_t *d = NULL;
	struct buf out;
	static unsigned char big[CU_SEG_ID_MAX + 1];

	memset(&out, 0, sizeof(out));
	assert_int_equal(cu_seg_enc_new(dek_a, 1, wrapped, 0, id_a,
	                                sizeof(id_a), sink, &out, &e),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_seg_enc_new(dek_a, 1, big,
	                                CU_SEG_WRAPPED_DEK_MAX + 1, id_a,
	                                sizeof(id_a), sink, &out, &e),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_seg_enc_new(dek_a, 1, wrapped, sizeof(wrapped), big,
	                                sizeof(big), sink, &out, &e),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_seg_enc_new(dek_a, 1, wrapped, sizeof(wrapped),
	                                id_a, sizeof(id_a), NULL, &out, &e),
	                 CU_ERR_INVAL);
	assert_null(e);
	assert_int_equal(
	    cu_seg_dec_new(big, sizeof(big), get_dek, NULL, sink, &out, &d),
	    CU_ERR_RANGE);
	assert_int_equal(
	    cu_seg_dec_new(id_a, sizeof(id_a), NULL, NULL, sink, &out, &d),
	    CU_ERR_INVAL);
	assert_null(d);
	/* the largest wrapped DEK and identity work */
	assert_int_equal(cu_seg_enc_new(dek_a, 1, big, CU_SEG_WRAPPED_DEK_MAX,
	                                big, CU_SEG_ID_MAX, sink, &out, &e),
	                 0);
	assert_int_equal(cu_seg_enc_final(e), 0);
	assert_int_equal(out.len, CU_SEG_HEADER_MAX + CU_SEG_TAG_LEN);
	cu_seg_enc_free(e);
	buf_free(&out);
}

/* Seed corpus for fuzz/fuzz_seg_header.c: same DEK and identity as the
 * fuzz target uses. */
static void write_corpus_file(const char *dir, const char *name,
                              const unsigned char *p, size_t len)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	fclose(f);
}

static void seed_corpus_is_written_when_asked(void **state)
{
	const char *dir = getenv("CUSTOS_WRITE_SEG_CORPUS");
	static const unsigned char fuzz_dek[CU_SEG_DEK_LEN] = {
	    'c', 'u', 's', 't', 'o', 's', '-', 'f', 'u', 'z', 'z'};
	static const char fuzz_id[] = "fuzz-object";
	static const size_t sizes[] = {0, 1, 100, SEG, SEG + 1};
	static const char *names[] = {"empty", "one_byte", "small",
	                              "one_full_segment", "two_segments"};

	if (dir == NULL || dir[0] == '\0')
		skip();
	for (size_t i = 0; i < 5; i++) {
		unsigned char *pt = pattern(sizes[i], 16);
		struct buf ct;
		encrypt(fuzz_dek, fuzz_id, sizeof(fuzz_id) - 1, pt, sizes[i], 0,
		        &ct);
		write_corpus_file(dir, names[i], ct.p, ct.len);
		if (i == 2)
			write_corpus_file(dir, "header_only", ct.p,
			                  cu_seg_header_len(sizeof(wrapped)));
		buf_free(&ct);
		free(pt);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        objects_round_trip_at_every_segment_edge_in_odd_chunks),
	    cmocka_unit_test(multi_mib_object_round_trips_in_odd_chunks),
	    cmocka_unit_test(empty_object_is_one_empty_segment),
	    cmocka_unit_test(
	        flipped_bit_anywhere_in_a_segment_or_tag_is_refused),
	    cmocka_unit_test(flipped_bit_anywhere_in_the_header_is_refused),
	    cmocka_unit_test(truncated_objects_are_refused),
	    cmocka_unit_test(extended_objects_are_refused),
	    cmocka_unit_test(
	        reordered_dropped_and_duplicated_segments_are_refused),
	    cmocka_unit_test(
	        segments_from_another_object_under_the_same_key_are_refused),
	    cmocka_unit_test(wrong_identity_or_dek_is_refused),
	    cmocka_unit_test(altered_commitment_is_refused),
	    cmocka_unit_test(
	        changed_header_fields_are_refused_with_the_right_code),
	    cmocka_unit_test(
	        header_parser_is_strict_and_asks_for_what_it_needs),
	    cmocka_unit_test(
	        sizes_map_both_ways_and_impossible_sizes_are_refused),
	    cmocka_unit_test(ranged_reads_decrypt_only_the_segments_they_touch),
	    cmocka_unit_test(
	        single_segment_open_checks_index_last_flag_and_length),
	    cmocka_unit_test(a_kept_subkey_reopens_the_same_object),
	    cmocka_unit_test(sink_and_dek_errors_stop_the_stream),
	    cmocka_unit_test(bad_encryptor_arguments_are_refused),
	    cmocka_unit_test(seed_corpus_is_written_when_asked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* bench_crypto - throughput of the segmented object format (seg.h) beside
 * OpenSSL's raw AES-256-GCM over the same bytes in the same 64 KiB pieces.
 *
 * Raw: one EVP context keyed once, then per 64 KiB piece a new IV, the
 * update, the final and the tag: the least any GCM-per-segment format can
 * cost. Seg: whole objects through cu_seg_enc / cu_seg_dec (header, key
 * derivation, commitment check, per-segment AAD and nonce), fed 1 MiB at a
 * time into a sink that takes the bytes. Each round measures 64 MiB of raw
 * and right after it 64 MiB of seg; the figures printed are medians over
 * the rounds (the ratio is the median of the per-round ratios), which
 * keeps a busy neighbour from skewing them and the run within a few
 * seconds. Target: seg >= 0.90 of raw. Benchmarks never fail the build;
 * a ratio below target is flagged "BELOW". */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/crypto/seg.h"
#include "core/err.h"

#define MIB    (1024u * 1024u)
#define ROUND  (64u * MIB) /* bytes per measured round */
#define ROUNDS 7
#define FEED   MIB /* bytes per update call */
#define TARGET 0.90
#define PIECE  CU_SEG_SEGMENT_SIZE
#define TAG    CU_SEG_TAG_LEN

static const unsigned char dek[CU_SEG_DEK_LEN] = {1, 2, 3, 4};
static const unsigned char wrapped[40] = {5, 6, 7, 8};
static const char id[] = "bench/tenant/bucket/key/version";

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct sink_buf {
	unsigned char *p; /* NULL: count only */
	size_t len;
};

static int sink(void *arg, const unsigned char *data, size_t len)
{
	struct sink_buf *s = arg;

	if (s->p != NULL)
		memcpy(s->p + s->len, data, len);
	s->len += len;
	return 0;
}

static int get_dek(void *arg, const struct cu_seg_header *h,
                   unsigned char out[CU_SEG_DEK_LEN])
{
	memcpy(out, dek, CU_SEG_DEK_LEN);
	return 0;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench_crypto: %s failed: %s\n", what, cu_strerror(r));
	exit(1);
}

/* Encrypt one object of len bytes from pt; ciphertext to s. */
static void seg_encrypt(const unsigned char *pt, size_t len, struct sink_buf *s)
{
	cu_seg_enc_t *e = NULL;
	int r;

	if ((r = cu_seg_enc_new(dek, 1, wrapped, sizeof(wrapped), id,
	                        sizeof(id), sink, s, &e)) != 0)
		die("cu_seg_enc_new", r);
	for (size_t off = 0; off < len; off += FEED)
		if ((r = cu_seg_enc_update(
		         e, pt + off, len - off < FEED ? len - off : FEED)) !=
		    0)
			die("cu_seg_enc_update", r);
	if ((r = cu_seg_enc_final(e)) != 0)
		die("cu_seg_enc_final", r);
	cu_seg_enc_free(e);
}

static void seg_decrypt(const unsigned char *ct, size_t len)
{
	struct sink_buf s = {NULL, 0};
	cu_seg_dec_t *d = NULL;
	int r;

	if ((r = cu_seg_dec_new(id, sizeof(id), get_dek, NULL, sink, &s, &d)) !=
	    0)
		die("cu_seg_dec_new", r);
	for (size_t off = 0; off < len; off += FEED)
		if ((r = cu_seg_dec_update(
		         d, ct + off, len - off < FEED ? len - off : FEED)) !=
		    0)
			die("cu_seg_dec_update", r);
	if ((r = cu_seg_dec_final(d)) != 0)
		die("cu_seg_dec_final", r);
	cu_seg_dec_free(d);
}

/* Raw GCM over total bytes in PIECE-sized one-shot calls. enc: pt -> out
 * (and tags); dec: out + tags -> pt, each tag checked. */
static void raw_gcm(EVP_CIPHER_CTX *ctx, int enc, unsigned char *pt,
                    unsigned char *ct, unsigned char *tags, size_t total)
{
	unsigned char iv[12] = {0}, fin[16];
	int n = 0;

	for (size_t i = 0, off = 0; off < total; i++, off += PIECE) {
		memcpy(iv + 8, &i, 4);
		if (enc) {
			if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) !=
			        1 ||
			    EVP_EncryptUpdate(ctx, ct + off, &n, pt + off,
			                      PIECE) != 1 ||
			    EVP_EncryptFinal_ex(ctx, fin, &n) != 1 ||
			    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG,
			                        tags + i * TAG) != 1)
				die("raw encrypt", CU_ERR_CRYPTO);
		} else {
			if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv) !=
			        1 ||
			    EVP_DecryptUpdate(ctx, pt + off, &n, ct + off,
			                      PIECE) != 1 ||
			    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG,
			                        tags + i * TAG) != 1 ||
			    EVP_DecryptFinal_ex(ctx, fin, &n) != 1)
				die("raw decrypt", CU_ERR_AUTH);
		}
	}
}

static double mibs(size_t bytes, double secs)
{
	return (double)bytes / MIB / secs;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return v[n / 2];
}

/* fig: seg MiB/s, raw MiB/s and their ratio, per round. */
static void report(const char *op, const char *size, double fig[3][ROUNDS])
{
	double seg = median(fig[0], ROUNDS), raw = median(fig[1], ROUNDS);
	double ratio = median(fig[2], ROUNDS);

	printf("seg %s %s: %5.0f MiB/s  raw %5.0f MiB/s  ratio %.2f "
	       "(target >= %.2f) %s\n",
	       op, size, seg, raw, ratio, TARGET,
	       ratio >= TARGET ? "ok" : "BELOW");
}

int main(void)
{
	unsigned char *pt = malloc(ROUND), *pt2 = malloc(ROUND);
	unsigned char *raw_ct = malloc(ROUND);
	unsigned char *tags = malloc(ROUND / PIECE * TAG);
	unsigned char *seg64 = NULL, *seg1 = NULL;
	size_t seg64_len, seg1_len;
	uint64_t sz = 0;
	EVP_CIPHER_CTX *enc = EVP_CIPHER_CTX_new(), *dec = EVP_CIPHER_CTX_new();
	const size_t small = 1 * MIB;
	/* [enc 1MiB, enc 64MiB, dec 1MiB, dec 64MiB][seg, raw, ratio][round] */
	static double fig[4][3][ROUNDS];
	struct sink_buf s = {NULL, 0};
	size_t hlen = cu_seg_header_len(sizeof(wrapped));

	if (pt == NULL || pt2 == NULL || raw_ct == NULL || tags == NULL ||
	    enc == NULL || dec == NULL)
		die("allocation", CU_ERR_NOMEM);
	for (size_t i = 0; i < ROUND; i++)
		pt[i] = (unsigned char)(i * 131 + 7);
	if (EVP_EncryptInit_ex(enc, EVP_aes_256_gcm(), NULL, dek, NULL) != 1 ||
	    EVP_DecryptInit_ex(dec, EVP_aes_256_gcm(), NULL, dek, NULL) != 1)
		die("EVP init", CU_ERR_CRYPTO);

	/* ciphertexts to decrypt: one 64 MiB object, one 1 MiB object */
	if (cu_seg_ciphertext_size(ROUND, hlen, &sz) != 0)
		die("size", CU_ERR_RANGE);
	seg64_len = (size_t)sz;
	if (cu_seg_ciphertext_size(small, hlen, &sz) != 0)
		die("size", CU_ERR_RANGE);
	seg1_len = (size_t)sz;
	if ((seg64 = malloc(seg64_len)) == NULL ||
	    (seg1 = malloc(seg1_len)) == NULL)
		die("allocation", CU_ERR_NOMEM);
	s.p = seg64;
	seg_encrypt(pt, ROUND, &s);
	s.p = seg1;
	s.len = 0;
	seg_encrypt(pt, small, &s);
	raw_gcm(enc, 1, pt, raw_ct, tags, ROUND);

	for (int round = 0; round < ROUNDS; round++) {
		struct sink_buf count = {NULL, 0};
		double t;

		/* Each seg figure is taken right after its raw one, so a
		 * neighbour's load hits both alike. */
		for (int c = 0; c < 4; c++) {
			int encrypting = c < 2;
			t = now();
			raw_gcm(encrypting ? enc : dec, encrypting,
			        encrypting ? pt : pt2, raw_ct, tags, ROUND);
			fig[c][1][round] = mibs(ROUND, now() - t);
			t = now();
			if (c == 0)
				for (size_t off = 0; off < ROUND; off += small)
					seg_encrypt(pt + off, small, &count);
			else if (c == 1)
				seg_encrypt(pt, ROUND, &count);
			else if (c == 2)
				for (size_t off = 0; off < ROUND; off += small)
					seg_decrypt(seg1, seg1_len);
			else
				seg_decrypt(seg64, seg64_len);
			fig[c][0][round] = mibs(ROUND, now() - t);
			fig[c][2][round] = fig[c][0][round] / fig[c][1][round];
		}
	}
	if (memcmp(pt, pt2, ROUND) != 0)
		die("raw round trip", CU_ERR_AUTH);

	report("encrypt", "1MiB", fig[0]);
	report("encrypt", "64MiB", fig[1]);
	report("decrypt", "1MiB", fig[2]);
	report("decrypt", "64MiB", fig[3]);

	EVP_CIPHER_CTX_free(enc);
	EVP_CIPHER_CTX_free(dec);
	free(pt);
	free(pt2);
	free(raw_ct);
	free(tags);
	free(seg64);
	free(seg1);
	return 0;
}

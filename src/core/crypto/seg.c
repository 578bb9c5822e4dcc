#include "core/crypto/seg.h"
#include "core/crypto/evp.h"
#include "core/crypto/hash.h"
#include "core/crypto/kdf.h"
#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/secmem.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char magic[4] = {'C', 'U', 'S', 'G'};
static const char kdf_label[] = "custos/seg/v1";

#define NONCE_LEN 12
#define HASH_LEN  CU_SHA256_LEN
#define OKM_LEN                                                                \
	(CU_SEG_SUBKEY_LEN + CU_SEG_COMMIT_LEN) /* subkey || commitment */
#define OFF_WLEN 14                             /* wrapped-DEK length field */
#define OFF_WDEK CU_SEG_HEADER_FIXED_LEN

_Static_assert(CU_SEG_NONCE_PREFIX_LEN + 4 + 1 == NONCE_LEN,
               "nonce = prefix || u32 counter || last flag");
_Static_assert(CU_SEG_WRAPPED_DEK_MAX <= 0xffff,
               "the wrapped-DEK length is a u16");

enum { ST_HEADER, ST_BODY, ST_DONE, ST_FAILED };

/* What both directions need once the header is known. */
struct seg_keys {
	EVP_CIPHER_CTX *ctx; /* keyed with the subkey; IV set per segment */
	unsigned char aad[HASH_LEN];
	unsigned char prefix[CU_SEG_NONCE_PREFIX_LEN];
};

struct cu_seg_enc {
	struct seg_keys k;
	unsigned char header[CU_SEG_HEADER_MAX];
	size_t header_len;
	int header_sent;
	/* One segment: plaintext held back, sealed in place; or, while
	 * empty, the output of a segment sealed straight from the caller's
	 * buffer. CU_SEG_CT_SEGMENT_SIZE bytes. */
	unsigned char *buf;
	size_t buf_len;
	uint64_t index;
	int state;
	cu_seg_sink_fn sink;
	void *sink_arg;
};

struct cu_seg_dec {
	struct seg_keys k;
	unsigned char id_hash[HASH_LEN];
	unsigned char header[CU_SEG_HEADER_MAX];
	size_t header_have; /* bytes of header gathered so far */
	size_t header_len;  /* 0 until the header is complete */
	/* One segment: ciphertext held, opened in place; or, while empty,
	 * the output of a segment opened straight from the caller's buffer.
	 * CU_SEG_CT_SEGMENT_SIZE bytes. */
	unsigned char *buf;
	size_t buf_len;
	uint64_t index;
	int state;
	cu_seg_dek_fn get_dek;
	void *dek_arg;
	cu_seg_sink_fn sink;
	void *sink_arg;
};

static void put_u16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_u16(const unsigned char *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

size_t cu_seg_header_len(size_t wrapped_dek_len)
{
	if (wrapped_dek_len == 0 || wrapped_dek_len > CU_SEG_WRAPPED_DEK_MAX)
		return 0;
	return CU_SEG_HEADER_FIXED_LEN + wrapped_dek_len +
	       CU_SEG_HEADER_TAIL_LEN;
}

int cu_seg_header_parse(const void *buf, size_t len, struct cu_seg_header *h)
{
	const unsigned char *p = buf;
	size_t w, total;

	memset(h, 0, sizeof(*h));
	if (p == NULL && len > 0)
		return CU_ERR_INVAL;
	/* Refuse a wrong magic as soon as any of it is visible, so a stream
	 * of garbage is not buffered up to a whole header first. */
	if (len > 0 &&
	    memcmp(p, magic, len < sizeof(magic) ? len : sizeof(magic)) != 0)
		return CU_ERR_PARSE;
	if (len < CU_SEG_HEADER_FIXED_LEN) {
		h->len = CU_SEG_HEADER_FIXED_LEN;
		return CU_ERR_RANGE;
	}
	h->version = p[4];
	h->alg = p[5];
	h->segment_size = get_u32(p + 6);
	h->tk_version = get_u32(p + 10);
	w = get_u16(p + OFF_WLEN);
	if (h->version != CU_SEG_VERSION || h->alg != CU_SEG_ALG_AES256GCM_HKDF)
		return CU_ERR_UNSUPPORTED;
	if (h->segment_size != CU_SEG_SEGMENT_SIZE)
		return CU_ERR_PARSE;
	if ((total = cu_seg_header_len(w)) == 0)
		return CU_ERR_PARSE;
	if (len < total) {
		h->len = total;
		return CU_ERR_RANGE;
	}
	h->wrapped_dek = p + OFF_WDEK;
	h->wrapped_dek_len = w;
	h->salt = p + OFF_WDEK + w;
	h->nonce_prefix = h->salt + CU_SEG_SALT_LEN;
	h->commitment = h->nonce_prefix + CU_SEG_NONCE_PREFIX_LEN;
	h->len = total;
	return 0;
}

static int header_len_ok(size_t header_len)
{
	return header_len >= cu_seg_header_len(1) &&
	       header_len <= CU_SEG_HEADER_MAX;
}

static uint64_t seg_count_of(uint64_t pt_size)
{
	if (pt_size == 0)
		return 1;
	return (pt_size - 1) / CU_SEG_SEGMENT_SIZE + 1;
}

int cu_seg_ciphertext_size(uint64_t pt_size, size_t header_len,
                           uint64_t *ct_size)
{
	*ct_size = 0;
	if (!header_len_ok(header_len))
		return CU_ERR_INVAL;
	if (pt_size > CU_SEG_MAX_PLAINTEXT)
		return CU_ERR_RANGE;
	/* At most 2^48 + 2^36 + a header: no overflow. */
	*ct_size =
	    header_len + pt_size + seg_count_of(pt_size) * CU_SEG_TAG_LEN;
	return 0;
}

int cu_seg_plaintext_size(uint64_t ct_size, size_t header_len,
                          uint64_t *pt_size)
{
	uint64_t body, nseg, last;

	*pt_size = 0;
	if (!header_len_ok(header_len))
		return CU_ERR_INVAL;
	if (ct_size < header_len + (uint64_t)CU_SEG_TAG_LEN)
		return CU_ERR_PARSE;
	body = ct_size - header_len;
	nseg = (body - 1) / CU_SEG_CT_SEGMENT_SIZE + 1;
	if (nseg > CU_SEG_MAX_SEGMENTS)
		return CU_ERR_PARSE;
	last = body - (nseg - 1) * CU_SEG_CT_SEGMENT_SIZE;
	/* A partial tag, or an empty last segment after full ones: the
	 * encryptor never writes either. */
	if (last < CU_SEG_TAG_LEN || (nseg > 1 && last == CU_SEG_TAG_LEN))
		return CU_ERR_PARSE;
	*pt_size = body - nseg * CU_SEG_TAG_LEN;
	return 0;
}

int cu_seg_range(uint64_t pt_size, size_t header_len, uint64_t off,
                 uint64_t len, struct cu_seg_range *r)
{
	uint64_t end, last_seg;

	memset(r, 0, sizeof(*r));
	if (!header_len_ok(header_len))
		return CU_ERR_INVAL;
	if (pt_size > CU_SEG_MAX_PLAINTEXT || len == 0 || off >= pt_size ||
	    len > pt_size - off)
		return CU_ERR_RANGE;
	end = off + len; /* <= pt_size: no overflow */
	r->seg_count = seg_count_of(pt_size);
	r->first = off / CU_SEG_SEGMENT_SIZE;
	last_seg = (end - 1) / CU_SEG_SEGMENT_SIZE;
	r->count = last_seg - r->first + 1;
	r->ct_off = header_len + r->first * CU_SEG_CT_SEGMENT_SIZE;
	if (last_seg == r->seg_count - 1)
		r->ct_len = (r->count - 1) * CU_SEG_CT_SEGMENT_SIZE +
		            (pt_size - last_seg * CU_SEG_SEGMENT_SIZE) +
		            CU_SEG_TAG_LEN;
	else
		r->ct_len = r->count * CU_SEG_CT_SEGMENT_SIZE;
	r->skip = (size_t)(off - r->first * CU_SEG_SEGMENT_SIZE);
	return 0;
}

/* Key k with the subkey for a complete header: the associated data of
 * every segment (the whole header and the identity), the nonce prefix
 * and the cipher context. */
static int key_setup(const unsigned char subkey[CU_SEG_SUBKEY_LEN],
                     const unsigned char *hdr, size_t hdr_len,
                     const unsigned char id_hash[HASH_LEN], int enc,
                     struct seg_keys *k)
{
	const unsigned char *commit = hdr + hdr_len - CU_SEG_COMMIT_LEN;
	cu_hash_t *hh = NULL;
	size_t n = 0;
	int r;

	if ((r = cu_hash_new(CU_HASH_SHA256, &hh)) != 0 ||
	    (r = cu_hash_update(hh, hdr, hdr_len)) != 0 ||
	    (r = cu_hash_update(hh, id_hash, HASH_LEN)) != 0 ||
	    (r = cu_hash_final(hh, k->aad, sizeof(k->aad), &n)) != 0)
		goto out;
	memcpy(k->prefix, commit - CU_SEG_NONCE_PREFIX_LEN,
	       CU_SEG_NONCE_PREFIX_LEN);
	if ((k->ctx = EVP_CIPHER_CTX_new()) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if (EVP_CipherInit_ex(k->ctx, cu_evp_cipher(CU_EVP_AES256_GCM), NULL,
	                      subkey, NULL, enc) != 1) {
		r = CU_ERR_CRYPTO;
		goto out;
	}
	r = 0;
out:
	if (r != 0) {
		EVP_CIPHER_CTX_free(k->ctx);
		k->ctx = NULL;
	}
	cu_hash_free(hh);
	return r;
}

/* Derive the subkey and commitment for a complete header (whose last
 * CU_SEG_COMMIT_LEN bytes are the commitment), then key k. On encrypt the
 * commitment is written into the header; on decrypt it is checked. The
 * subkey exists only in locked memory: here, and in subkey_out when the
 * caller asks for it (cu_seg_dec_open_keep). */
static int derive(const unsigned char dek[CU_SEG_DEK_LEN], unsigned char *hdr,
                  size_t hdr_len, const unsigned char id_hash[HASH_LEN],
                  int enc, struct seg_keys *k, unsigned char *subkey_out)
{
	unsigned char info[sizeof(kdf_label) - 1 + 2 * HASH_LEN];
	unsigned char *okm = NULL;
	unsigned char *commit = hdr + hdr_len - CU_SEG_COMMIT_LEN;
	const unsigned char *salt =
	    commit - CU_SEG_NONCE_PREFIX_LEN - CU_SEG_SALT_LEN;
	int r;

	memcpy(info, kdf_label, sizeof(kdf_label) - 1);
	if ((r = cu_sha256(hdr, hdr_len - CU_SEG_COMMIT_LEN,
	                   info + sizeof(kdf_label) - 1)) != 0)
		goto out;
	memcpy(info + sizeof(kdf_label) - 1 + HASH_LEN, id_hash, HASH_LEN);
	if ((okm = cu_secmem_alloc(OKM_LEN)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if ((r = cu_hkdf_sha256(dek, CU_SEG_DEK_LEN, salt, CU_SEG_SALT_LEN,
	                        info, sizeof(info), okm, OKM_LEN)) != 0)
		goto out;
	if (enc) {
		memcpy(commit, okm + CU_SEG_SUBKEY_LEN, CU_SEG_COMMIT_LEN);
	} else if (!cu_ct_equal(commit, okm + CU_SEG_SUBKEY_LEN,
	                        CU_SEG_COMMIT_LEN)) {
		/* Wrong DEK, wrong identity, or an altered header. */
		r = CU_ERR_AUTH;
		goto out;
	}
	if ((r = key_setup(okm, hdr, hdr_len, id_hash, enc, k)) != 0)
		goto out;
	if (subkey_out != NULL)
		memcpy(subkey_out, okm, CU_SEG_SUBKEY_LEN);
out:
	cu_secmem_free(okm, OKM_LEN);
	return r;
}

static int hash_id(const void *id, size_t id_len, unsigned char out[HASH_LEN])
{
	if (id_len > CU_SEG_ID_MAX)
		return CU_ERR_RANGE;
	if (id == NULL && id_len > 0)
		return CU_ERR_INVAL;
	return cu_sha256(id, id_len, out);
}

static void make_nonce(const struct seg_keys *k, uint64_t index, int last,
                       unsigned char nonce[NONCE_LEN])
{
	memcpy(nonce, k->prefix, CU_SEG_NONCE_PREFIX_LEN);
	put_u32(nonce + CU_SEG_NONCE_PREFIX_LEN, (uint32_t)index);
	nonce[NONCE_LEN - 1] = last ? 1 : 0;
}

#ifdef CU_BENCH_NULL_CIPHER
/* NULL CIPHER: benchmarks only (Makefile NULL_CIPHER=1, never a release).
 * A segment is its plaintext copied as it is, followed by a zero tag, so
 * that a benchmark can tell what AES-256-GCM costs the store: framing,
 * key derivation, commitment, nonces, hashing and I/O all stay. Such a
 * build says so in `custos version` and in the store's start log. */
static int seal_segment(struct seg_keys *k, uint64_t index, int last,
                        const unsigned char *pt, size_t len, unsigned char *out)
{
	unsigned char nonce[NONCE_LEN];

	if (index >= CU_SEG_MAX_SEGMENTS)
		return CU_ERR_RANGE;
	make_nonce(k, index, last, nonce);
	memmove(out, pt, len);
	memset(out + len, 0, CU_SEG_TAG_LEN);
	return 0;
}

static int open_segment(struct seg_keys *k, uint64_t index, int last,
                        const unsigned char *ct, size_t ct_len,
                        unsigned char *pt)
{
	static const unsigned char zero_tag[CU_SEG_TAG_LEN];
	unsigned char nonce[NONCE_LEN];
	size_t len = ct_len - CU_SEG_TAG_LEN;

	if (index >= CU_SEG_MAX_SEGMENTS)
		return CU_ERR_RANGE;
	make_nonce(k, index, last, nonce);
	if (!cu_ct_equal(ct + len, zero_tag, CU_SEG_TAG_LEN))
		return CU_ERR_AUTH;
	memmove(pt, ct, len);
	return 0;
}
#else
/* Seal len (<= CU_SEG_SEGMENT_SIZE) bytes of pt as segment `index` into
 * out (len + tag); out may be pt. */
static int seal_segment(struct seg_keys *k, uint64_t index, int last,
                        const unsigned char *pt, size_t len, unsigned char *out)
{
	unsigned char nonce[NONCE_LEN];
	int n = 0;

	if (index >= CU_SEG_MAX_SEGMENTS)
		return CU_ERR_RANGE;
	make_nonce(k, index, last, nonce);
	if (EVP_EncryptInit_ex(k->ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(k->ctx, NULL, &n, k->aad, sizeof(k->aad)) != 1)
		return CU_ERR_CRYPTO;
	if (len > 0 && (EVP_EncryptUpdate(k->ctx, out, &n, pt, (int)len) != 1 ||
	                (size_t)n != len))
		return CU_ERR_CRYPTO;
	if (EVP_EncryptFinal_ex(k->ctx, out + len, &n) != 1 || n != 0 ||
	    EVP_CIPHER_CTX_ctrl(k->ctx, EVP_CTRL_GCM_GET_TAG, CU_SEG_TAG_LEN,
	                        out + len) != 1)
		return CU_ERR_CRYPTO;
	return 0;
}

/* Open segment `index` (ct_len bytes, checked by the caller to be a
 * possible length) into pt, which may be ct. pt is wiped when the tag does not
 * verify: GCM has already written the unauthenticated plaintext there. */
static int open_segment(struct seg_keys *k, uint64_t index, int last,
                        const unsigned char *ct, size_t ct_len,
                        unsigned char *pt)
{
	unsigned char nonce[NONCE_LEN], tag[CU_SEG_TAG_LEN],
	    fin[CU_SEG_TAG_LEN];
	size_t len = ct_len - CU_SEG_TAG_LEN;
	int n = 0, r = CU_ERR_CRYPTO;

	if (index >= CU_SEG_MAX_SEGMENTS)
		return CU_ERR_RANGE;
	make_nonce(k, index, last, nonce);
	memcpy(tag, ct + len, CU_SEG_TAG_LEN);
	if (EVP_DecryptInit_ex(k->ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(k->ctx, NULL, &n, k->aad, sizeof(k->aad)) != 1)
		goto out;
	if (len > 0 && (EVP_DecryptUpdate(k->ctx, pt, &n, ct, (int)len) != 1 ||
	                (size_t)n != len))
		goto out;
	if (EVP_CIPHER_CTX_ctrl(k->ctx, EVP_CTRL_GCM_SET_TAG, CU_SEG_TAG_LEN,
	                        tag) != 1)
		goto out;
	if (EVP_DecryptFinal_ex(k->ctx, fin, &n) != 1) {
		r = CU_ERR_AUTH;
		goto out;
	}
	r = 0;
out:
	if (r != 0)
		cu_memzero(pt, len);
	return r;
}
#endif /* CU_BENCH_NULL_CIPHER */

/* The ciphertext lengths a segment can have. */
static int segment_len_ok(uint64_t index, int last, size_t ct_len)
{
	if (!last)
		return ct_len == CU_SEG_CT_SEGMENT_SIZE;
	if (ct_len < CU_SEG_TAG_LEN || ct_len > CU_SEG_CT_SEGMENT_SIZE)
		return 0;
	/* Only an empty object ends in an empty segment. */
	return index == 0 || ct_len > CU_SEG_TAG_LEN;
}

/* ---- encryptor ---- */

int cu_seg_enc_new(const unsigned char dek[CU_SEG_DEK_LEN], uint32_t tk_version,
                   const void *wrapped_dek, size_t wrapped_dek_len,
                   const void *id, size_t id_len, cu_seg_sink_fn sink,
                   void *sink_arg, cu_seg_enc_t **out)
{
	cu_seg_enc_t *e = NULL;
	unsigned char id_hash[HASH_LEN];
	unsigned char *p;
	size_t hlen = cu_seg_header_len(wrapped_dek_len);
	int r;

	*out = NULL;
	if (dek == NULL || sink == NULL || wrapped_dek == NULL)
		return CU_ERR_INVAL;
	if (hlen == 0)
		return CU_ERR_RANGE;
	if ((r = hash_id(id, id_len, id_hash)) != 0)
		return r;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return CU_ERR_NOMEM;
	if ((e->buf = malloc(CU_SEG_CT_SEGMENT_SIZE)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	e->sink = sink;
	e->sink_arg = sink_arg;
	e->header_len = hlen;
	p = e->header;
	memcpy(p, magic, sizeof(magic));
	p[4] = CU_SEG_VERSION;
	p[5] = CU_SEG_ALG_AES256GCM_HKDF;
	put_u32(p + 6, CU_SEG_SEGMENT_SIZE);
	put_u32(p + 10, tk_version);
	put_u16(p + OFF_WLEN, (uint32_t)wrapped_dek_len);
	memcpy(p + OFF_WDEK, wrapped_dek, wrapped_dek_len);
	p += OFF_WDEK + wrapped_dek_len;
	/* Salt and nonce prefix are fresh for every object, so even a DEK
	 * used twice gives two unrelated subkeys. */
	if ((r = cu_rand_bytes(p, CU_SEG_SALT_LEN + CU_SEG_NONCE_PREFIX_LEN)) !=
	    0)
		goto out;
	if ((r = derive(dek, e->header, hlen, id_hash, 1, &e->k, NULL)) != 0)
		goto out;
	e->state = ST_BODY;
	*out = e;
	e = NULL;
	r = 0;
out:
	cu_seg_enc_free(e);
	return r;
}

void cu_seg_enc_header(const cu_seg_enc_t *e, const unsigned char **hdr,
                       size_t *len)
{
	*hdr = e->header;
	*len = e->header_len;
}

/* Seal (encryptor) or open (decryptor) one segment of len bytes at seg
 * and hand the result to the sink; last marks the final segment. */
typedef int (*emit_fn)(void *self, const unsigned char *seg, size_t len,
                       int last);

/* The update loop of both directions: cut p (len bytes) into segments of
 * `size` bytes, gathered in buf (*buf_len bytes held). A full held segment
 * goes to emit only once more data follows it, since it is not the last.
 * Whole segments with data after them go straight from the caller's
 * buffer, without a copy (buf, empty then, is free for the output). */
static int segment(void *self, emit_fn emit, size_t size, unsigned char *buf,
                   size_t *buf_len, const unsigned char *p, size_t len)
{
	size_t n;
	int r;

	while (len > 0) {
		if (*buf_len == size) {
			if ((r = emit(self, buf, *buf_len, 0)) != 0)
				return r;
			*buf_len = 0;
		}
		if (*buf_len == 0 && len > size) {
			if ((r = emit(self, p, size, 0)) != 0)
				return r;
			p += size;
			len -= size;
			continue;
		}
		n = size - *buf_len;
		if (n > len)
			n = len;
		memcpy(buf + *buf_len, p, n);
		*buf_len += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int enc_emit(void *self, const unsigned char *pt, size_t len, int last)
{
	cu_seg_enc_t *e = self;
	int r;

	if (!e->header_sent) {
		if ((r = e->sink(e->sink_arg, e->header, e->header_len)) != 0)
			return r;
		e->header_sent = 1;
	}
	if ((r = seal_segment(&e->k, e->index, last, pt, len, e->buf)) != 0)
		return r;
	e->index++;
	return e->sink(e->sink_arg, e->buf, len + CU_SEG_TAG_LEN);
}

int cu_seg_enc_update(cu_seg_enc_t *e, const void *data, size_t len)
{
	int r;

	if (e->state != ST_BODY)
		return CU_ERR_STATE;
	if (data == NULL && len > 0) {
		r = CU_ERR_INVAL;
		goto out;
	}
	r = segment(e, enc_emit, CU_SEG_SEGMENT_SIZE, e->buf, &e->buf_len, data,
	            len);
out:
	if (r != 0)
		e->state = ST_FAILED;
	return r;
}

int cu_seg_enc_final(cu_seg_enc_t *e)
{
	int r;

	if (e->state != ST_BODY)
		return CU_ERR_STATE;
	r = enc_emit(e, e->buf, e->buf_len, 1);
	e->buf_len = 0;
	e->state = r == 0 ? ST_DONE : ST_FAILED;
	return r;
}

void cu_seg_enc_free(cu_seg_enc_t *e)
{
	if (e == NULL)
		return;
	EVP_CIPHER_CTX_free(e->k.ctx);
	/* Plaintext enters buf only to be sealed in place, so a finished
	 * stream leaves ciphertext there; any other may hold plaintext. */
	if (e->buf != NULL && e->state != ST_DONE)
		cu_memzero(e->buf, CU_SEG_CT_SEGMENT_SIZE);
	free(e->buf);
	cu_memzero(e, sizeof(*e));
	free(e);
}

/* ---- decryptor ---- */

static int dec_alloc(const void *id, size_t id_len, int with_buffers,
                     cu_seg_dec_t **out)
{
	cu_seg_dec_t *d;
	int r;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return CU_ERR_NOMEM;
	if ((r = hash_id(id, id_len, d->id_hash)) != 0) {
		free(d);
		return r;
	}
	if (with_buffers && (d->buf = malloc(CU_SEG_CT_SEGMENT_SIZE)) == NULL) {
		cu_seg_dec_free(d);
		return CU_ERR_NOMEM;
	}
	*out = d;
	return 0;
}

int cu_seg_dec_new(const void *id, size_t id_len, cu_seg_dek_fn get_dek,
                   void *dek_arg, cu_seg_sink_fn sink, void *sink_arg,
                   cu_seg_dec_t **out)
{
	cu_seg_dec_t *d = NULL;
	int r;

	*out = NULL;
	if (get_dek == NULL || sink == NULL)
		return CU_ERR_INVAL;
	if ((r = dec_alloc(id, id_len, 1, &d)) != 0)
		return r;
	d->get_dek = get_dek;
	d->dek_arg = dek_arg;
	d->sink = sink;
	d->sink_arg = sink_arg;
	d->state = ST_HEADER;
	*out = d;
	return 0;
}

/* The header is complete in d->header: check the DEK against it and key
 * the decryptor. */
static int dec_key(cu_seg_dec_t *d, const struct cu_seg_header *h,
                   const unsigned char *dek_in, unsigned char *subkey_out)
{
	unsigned char *dek = NULL;
	int r;

	if (dek_in == NULL) {
		if ((dek = cu_secmem_alloc(CU_SEG_DEK_LEN)) == NULL)
			return CU_ERR_NOMEM;
		if ((r = d->get_dek(d->dek_arg, h, dek)) != 0)
			goto out;
		dek_in = dek;
	}
	r = derive(dek_in, d->header, h->len, d->id_hash, 0, &d->k, subkey_out);
	if (r == 0)
		d->header_len = h->len;
out:
	cu_secmem_free(dek, CU_SEG_DEK_LEN);
	return r;
}

/* A random-access decryptor keyed from the DEK (subkey_out, when not
 * NULL, gets the derived subkey) or from a subkey kept earlier. */
static int dec_open(const unsigned char *dek, const unsigned char *subkey,
                    unsigned char *subkey_out, const void *header,
                    size_t header_len, const void *id, size_t id_len,
                    cu_seg_dec_t **out)
{
	struct cu_seg_header h;
	cu_seg_dec_t *d = NULL;
	int r;

	if (out == NULL)
		return CU_ERR_INVAL;
	*out = NULL;
	/* exactly one of the two keys */
	if ((dek == NULL) == (subkey == NULL) || header == NULL)
		return CU_ERR_INVAL;
	if ((r = cu_seg_header_parse(header, header_len, &h)) != 0)
		return r;
	if ((r = dec_alloc(id, id_len, 0, &d)) != 0)
		return r;
	memcpy(d->header, header, h.len);
	d->header_have = h.len;
	if ((r = cu_seg_header_parse(d->header, h.len, &h)) != 0)
		goto out;
	if (dek != NULL)
		r = dec_key(d, &h, dek, subkey_out);
	else if ((r = key_setup(subkey, d->header, h.len, d->id_hash, 0,
	                        &d->k)) == 0)
		d->header_len = h.len;
	if (r != 0)
		goto out;
	d->state = ST_DONE; /* no stream: segments only */
	*out = d;
	d = NULL;
out:
	cu_seg_dec_free(d);
	return r;
}

int cu_seg_dec_open(const unsigned char dek[CU_SEG_DEK_LEN], const void *header,
                    size_t header_len, const void *id, size_t id_len,
                    cu_seg_dec_t **out)
{
	if (dek == NULL && out != NULL)
		*out = NULL;
	return dek == NULL ? CU_ERR_INVAL
	                   : dec_open(dek, NULL, NULL, header, header_len, id,
	                              id_len, out);
}

int cu_seg_dec_open_keep(const unsigned char dek[CU_SEG_DEK_LEN],
                         const void *header, size_t header_len, const void *id,
                         size_t id_len, unsigned char subkey[CU_SEG_SUBKEY_LEN],
                         cu_seg_dec_t **out)
{
	int r;

	if (subkey == NULL) {
		if (out != NULL)
			*out = NULL;
		return CU_ERR_INVAL;
	}
	r = dec_open(dek, NULL, subkey, header, header_len, id, id_len, out);
	if (r != 0)
		cu_memzero(subkey, CU_SEG_SUBKEY_LEN);
	return r;
}

int cu_seg_dec_open_subkey(const unsigned char subkey[CU_SEG_SUBKEY_LEN],
                           const void *header, size_t header_len,
                           const void *id, size_t id_len, cu_seg_dec_t **out)
{
	return dec_open(NULL, subkey, NULL, header, header_len, id, id_len,
	                out);
}

size_t cu_seg_dec_header_len(const cu_seg_dec_t *d)
{
	return d->header_len;
}

int cu_seg_dec_segment(cu_seg_dec_t *d, uint64_t index, int last,
                       const void *ct, size_t ct_len, unsigned char *pt,
                       size_t pt_cap, size_t *pt_len)
{
	int r;

	*pt_len = 0;
	if (d->k.ctx == NULL)
		return CU_ERR_STATE;
	if (ct == NULL || pt == NULL)
		return CU_ERR_INVAL;
	last = last != 0;
	if (!segment_len_ok(index, last, ct_len))
		return CU_ERR_PARSE;
	if (index >= CU_SEG_MAX_SEGMENTS || pt_cap < ct_len - CU_SEG_TAG_LEN)
		return CU_ERR_RANGE;
	if ((r = open_segment(&d->k, index, last, ct, ct_len, pt)) != 0)
		return r;
	*pt_len = ct_len - CU_SEG_TAG_LEN;
	return 0;
}

/* Gather header bytes; once whole, key the decryptor. *used gets how many
 * input bytes went to the header. */
static int dec_header(cu_seg_dec_t *d, const unsigned char *p, size_t len,
                      size_t *used)
{
	struct cu_seg_header h;
	size_t want = CU_SEG_HEADER_FIXED_LEN, n;
	int r;

	*used = 0;
	for (;;) {
		r = cu_seg_header_parse(d->header, d->header_have, &h);
		if (r == 0)
			break;
		if (r != CU_ERR_RANGE)
			return r;
		/* The parser caps h.len at CU_SEG_HEADER_MAX. */
		want = h.len;
		if (*used == len)
			return 0;
		n = want - d->header_have;
		if (n > len - *used)
			n = len - *used;
		memcpy(d->header + d->header_have, p + *used, n);
		d->header_have += n;
		*used += n;
	}
	if ((r = dec_key(d, &h, NULL, NULL)) != 0)
		return r;
	d->state = ST_BODY;
	return 0;
}

static int dec_emit(void *self, const unsigned char *ct, size_t ct_len,
                    int last)
{
	cu_seg_dec_t *d = self;
	int r;

	if (!segment_len_ok(d->index, last, ct_len))
		return CU_ERR_AUTH;
	if ((r = open_segment(&d->k, d->index, last, ct, ct_len, d->buf)) != 0)
		return r;
	d->index++;
	/* An empty object has nothing to hand on. */
	if (ct_len == CU_SEG_TAG_LEN)
		return 0;
	return d->sink(d->sink_arg, d->buf, ct_len - CU_SEG_TAG_LEN);
}

int cu_seg_dec_update(cu_seg_dec_t *d, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t n;
	int r = 0;

	if (d->state != ST_HEADER && d->state != ST_BODY)
		return CU_ERR_STATE;
	if (p == NULL && len > 0) {
		r = CU_ERR_INVAL;
		goto out;
	}
	if (d->state == ST_HEADER) {
		if ((r = dec_header(d, p, len, &n)) != 0)
			goto out;
		p += n;
		len -= n;
	}
	r = segment(d, dec_emit, CU_SEG_CT_SEGMENT_SIZE, d->buf, &d->buf_len, p,
	            len);
out:
	if (r != 0)
		d->state = ST_FAILED;
	return r;
}

int cu_seg_dec_final(cu_seg_dec_t *d)
{
	int r;

	if (d->state == ST_HEADER) {
		d->state = ST_FAILED;
		return CU_ERR_PARSE;
	}
	if (d->state != ST_BODY)
		return CU_ERR_STATE;
	/* Whatever is held is the last segment; too short or too long for
	 * one means the object was cut or extended. */
	r = dec_emit(d, d->buf, d->buf_len, 1);
	d->buf_len = 0;
	d->state = r == 0 ? ST_DONE : ST_FAILED;
	return r;
}

void cu_seg_dec_free(cu_seg_dec_t *d)
{
	if (d == NULL)
		return;
	EVP_CIPHER_CTX_free(d->k.ctx);
	if (d->buf != NULL) {
		cu_memzero(d->buf, CU_SEG_CT_SEGMENT_SIZE);
		free(d->buf);
	}
	cu_memzero(d, sizeof(*d));
	free(d);
}

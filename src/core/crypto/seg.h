/* seg.h - the segmented streaming AEAD format of objects at rest
 * (DESIGN.md section 4), in the spirit of age's STREAM, Tink's streaming
 * AEAD (AES-GCM-HKDF) and MinIO's DARE.
 *
 * An object is a header followed by segments. All integers big-endian.
 *
 *   off    len  field
 *   0      4    magic "CUSG"
 *   4      1    format version (1)
 *   5      1    algorithm (1: AES-256-GCM, HKDF-SHA-256 subkey)
 *   6      4    segment size in plaintext bytes (65536)
 *   10     4    tenant-key version that wrapped the DEK
 *   14     2    wrapped-DEK length w (1..CU_SEG_WRAPPED_DEK_MAX)
 *   16     w    wrapped DEK (opaque to this module)
 *   16+w   32   salt (random)
 *   48+w   7    nonce prefix (random)
 *   55+w   32   key commitment
 *   87+w        first segment
 *
 * Keys. From the DEK, HKDF-SHA-256 with the salt and
 * info = "custos/seg/v1" || SHA-256(header up to the commitment) ||
 * SHA-256(id) derives 64 bytes: an AES-256 subkey for the segments and
 * the commitment. The subkey is unique to the object (fresh salt) and
 * bound to its identity and header, and the commitment makes the format
 * key-committing (GCM alone is not: one ciphertext can be made to open
 * under two keys).
 *
 * Segments. Each holds 65536 bytes of plaintext, the last one 1..65536
 * (0 only when the object is empty, which is then one empty segment), as
 * AES-256-GCM ciphertext plus a 16-byte tag, with nonce = prefix ||
 * u32 segment index || last flag (1 on the last segment, else 0) and
 * associated data = SHA-256(whole header || SHA-256(id)). A segment
 * moved, reordered, dropped, duplicated, appended, taken from another
 * object or opened under another identity fails to authenticate.
 *
 * The object identity `id` is an opaque byte string the caller builds
 * (tenant, bucket, object key and version id, unambiguously encoded); the
 * same bytes must be given to decrypt.
 *
 * Each encryptor or decryptor is used by one thread at a time; separate
 * objects are independent.
 *
 * Secrets: the DEK is only read, never kept; the subkey lives in locked
 * memory only while the cipher context is keyed; plaintext buffers are
 * wiped when freed and on every failure. */
#ifndef CU_SEG_H
#define CU_SEG_H

#include <stddef.h>
#include <stdint.h>

#define CU_SEG_DEK_LEN            32
#define CU_SEG_SUBKEY_LEN         32     /* AES-256-GCM key of the segments */
#define CU_SEG_SEGMENT_SIZE       65536u /* plaintext bytes per segment */
#define CU_SEG_TAG_LEN            16
#define CU_SEG_CT_SEGMENT_SIZE    (CU_SEG_SEGMENT_SIZE + CU_SEG_TAG_LEN)
#define CU_SEG_MAX_SEGMENTS       ((uint64_t)1 << 32) /* 32-bit counter */
#define CU_SEG_MAX_PLAINTEXT      (CU_SEG_MAX_SEGMENTS * CU_SEG_SEGMENT_SIZE)
#define CU_SEG_VERSION            1
#define CU_SEG_ALG_AES256GCM_HKDF 1
#define CU_SEG_SALT_LEN           32
#define CU_SEG_NONCE_PREFIX_LEN   7
#define CU_SEG_COMMIT_LEN         32
#define CU_SEG_WRAPPED_DEK_MAX    1024
#define CU_SEG_HEADER_FIXED_LEN   16 /* through the wrapped-DEK length */
#define CU_SEG_HEADER_TAIL_LEN                                                 \
	(CU_SEG_SALT_LEN + CU_SEG_NONCE_PREFIX_LEN + CU_SEG_COMMIT_LEN)
#define CU_SEG_HEADER_MAX                                                      \
	(CU_SEG_HEADER_FIXED_LEN + CU_SEG_WRAPPED_DEK_MAX +                    \
	 CU_SEG_HEADER_TAIL_LEN)
/* Bounds the identity hashed into keys and associated data. */
#define CU_SEG_ID_MAX 4096

/* A parsed header. The pointers point into the buffer given to
 * cu_seg_header_parse and live as long as it does. */
struct cu_seg_header {
	unsigned version;
	unsigned alg;
	uint32_t segment_size;
	uint32_t tk_version;
	const unsigned char *wrapped_dek;
	size_t wrapped_dek_len;
	const unsigned char *salt;         /* CU_SEG_SALT_LEN bytes */
	const unsigned char *nonce_prefix; /* CU_SEG_NONCE_PREFIX_LEN bytes */
	const unsigned char *commitment;   /* CU_SEG_COMMIT_LEN bytes */
	size_t len;                        /* header length in bytes */
};

/* cu_seg_header_len - the header length for a wrapped DEK of w bytes, or
 * 0 when w is 0 or over CU_SEG_WRAPPED_DEK_MAX. */
size_t cu_seg_header_len(size_t wrapped_dek_len);

/* cu_seg_header_parse - parse the header at the start of buf (len bytes;
 * bytes after the header are ignored). Strict: every field must hold the
 * only value this version defines, and no size is trusted before it is
 * checked against len. Returns 0 (h filled, h->len bytes used),
 * CU_ERR_RANGE when buf holds only the beginning of a header that is
 * well-formed so far (h->len is then the number of bytes needed: the
 * whole header once the fixed part is in, else CU_SEG_HEADER_FIXED_LEN),
 * CU_ERR_PARSE (not a custos object, or a malformed field) or
 * CU_ERR_UNSUPPORTED (a version or algorithm this build does not know). */
int cu_seg_header_parse(const void *buf, size_t len, struct cu_seg_header *h)
    __attribute__((warn_unused_result));

/* In the three size functions below, header_len is the object's header
 * length (cu_seg_header_len); one outside what a header can be is
 * CU_ERR_INVAL. */

/* cu_seg_ciphertext_size - the object size (header_len + segments) for a
 * plaintext of pt_size bytes. Returns 0, or CU_ERR_RANGE when pt_size is
 * over CU_SEG_MAX_PLAINTEXT. */
int cu_seg_ciphertext_size(uint64_t pt_size, size_t header_len,
                           uint64_t *ct_size);

/* cu_seg_plaintext_size - the reverse: the plaintext size of an object of
 * ct_size bytes (header included). Returns 0, or CU_ERR_PARSE when no
 * plaintext encrypts to that size (too short, a partial tag, an empty
 * last segment after others, too many segments). */
int cu_seg_plaintext_size(uint64_t ct_size, size_t header_len,
                          uint64_t *pt_size)
    __attribute__((warn_unused_result));

/* Where the plaintext bytes [off, off + len) live in an object. */
struct cu_seg_range {
	uint64_t first;     /* first segment index touched */
	uint64_t count;     /* number of segments touched (>= 1) */
	uint64_t seg_count; /* segments in the whole object */
	uint64_t ct_off;    /* object offset of segment `first` */
	uint64_t ct_len;    /* bytes from ct_off covering the `count` ones */
	size_t skip;        /* plaintext bytes to drop from segment `first` */
};

/* cu_seg_range - map the plaintext range [off, off + len) of an object
 * with pt_size bytes of plaintext and a header of header_len bytes to the
 * segments that hold it. The caller reads ct_len bytes at ct_off, opens
 * each segment with cu_seg_dec_segment (segment i is the last when
 * i == seg_count - 1), drops `skip` bytes from the first and keeps len
 * bytes in all. Returns 0, or CU_ERR_RANGE when len is 0, the range ends
 * past pt_size or pt_size is over CU_SEG_MAX_PLAINTEXT. */
int cu_seg_range(uint64_t pt_size, size_t header_len, uint64_t off,
                 uint64_t len, struct cu_seg_range *r)
    __attribute__((warn_unused_result));

/* A consumer of output: called with each piece, in order. Return 0 to go
 * on; any other value stops the stream and is returned to the caller of
 * the update or final call (use a negative CU_ERR_* code). Must not call
 * back into the stream that called it. */
typedef int (*cu_seg_sink_fn)(void *arg, const unsigned char *data, size_t len);

/* The encryptor. Opaque. */
typedef struct cu_seg_enc cu_seg_enc_t;

/* cu_seg_enc_new - start encrypting one object under dek (CU_SEG_DEK_LEN
 * bytes, the caller keeps and wipes it), recording tk_version and the
 * wrapped DEK (1..CU_SEG_WRAPPED_DEK_MAX bytes, copied) in the header and
 * binding the identity id (id_len bytes, at most CU_SEG_ID_MAX; copied
 * into a hash). Output goes to sink, header first, at the first update or
 * final. *out is the caller's (cu_seg_enc_free). Returns 0, CU_ERR_INVAL
 * (NULL argument), CU_ERR_RANGE (a length out of bounds), CU_ERR_NOMEM
 * or CU_ERR_CRYPTO. */
int cu_seg_enc_new(const unsigned char dek[CU_SEG_DEK_LEN], uint32_t tk_version,
                   const void *wrapped_dek, size_t wrapped_dek_len,
                   const void *id, size_t id_len, cu_seg_sink_fn sink,
                   void *sink_arg, cu_seg_enc_t **out)
    __attribute__((warn_unused_result));

/* cu_seg_enc_header - the header this encryptor writes (valid until
 * cu_seg_enc_free), e.g. to keep a copy in metadata. */
void cu_seg_enc_header(const cu_seg_enc_t *e, const unsigned char **hdr,
                       size_t *len);

/* cu_seg_enc_update - encrypt len more bytes of plaintext (any amount,
 * may be 0). At most one segment (64 KiB) of plaintext is held back:
 * a segment goes to the sink once the next byte shows it is not the last.
 * Returns 0, the sink's error, CU_ERR_RANGE (object over
 * CU_SEG_MAX_PLAINTEXT), CU_ERR_STATE (after final or a failure: any
 * failure is final) or CU_ERR_CRYPTO. */
int cu_seg_enc_update(cu_seg_enc_t *e, const void *data, size_t len)
    __attribute__((warn_unused_result));

/* cu_seg_enc_final - write the last segment (an empty one for an empty
 * object). The object is complete once this returns 0. Returns as
 * cu_seg_enc_update. */
int cu_seg_enc_final(cu_seg_enc_t *e) __attribute__((warn_unused_result));

/* cu_seg_enc_free - wipe and release. NULL is fine. */
void cu_seg_enc_free(cu_seg_enc_t *e);

/* The decryptor. Opaque. */
typedef struct cu_seg_dec cu_seg_dec_t;

/* Given a parsed header, find the DEK: typically unwrap h->wrapped_dek
 * with tenant-key version h->tk_version, and write it to dek. Return 0 or
 * a negative CU_ERR_* code, which the decryptor returns. */
typedef int (*cu_seg_dek_fn)(void *arg, const struct cu_seg_header *h,
                             unsigned char dek[CU_SEG_DEK_LEN]);

/* cu_seg_dec_new - a streaming decryptor for a whole object fed from its
 * first byte. When the header is in, get_dek is called once, the DEK is
 * checked against the commitment and wiped. Only authenticated plaintext
 * ever reaches sink, one segment at a time; a segment is held until the
 * next byte or the final call shows whether it is the last. id is as
 * given to the encryptor (copied into a hash). *out is the caller's.
 * Returns 0, CU_ERR_INVAL, CU_ERR_RANGE (id too long) or CU_ERR_NOMEM. */
int cu_seg_dec_new(const void *id, size_t id_len, cu_seg_dek_fn get_dek,
                   void *dek_arg, cu_seg_sink_fn sink, void *sink_arg,
                   cu_seg_dec_t **out) __attribute__((warn_unused_result));

/* cu_seg_dec_update - feed len more bytes of the object. Returns 0,
 * CU_ERR_PARSE / CU_ERR_UNSUPPORTED (bad header), CU_ERR_AUTH (wrong DEK
 * or identity, altered header or segment, bytes after the last segment),
 * get_dek's or the sink's error, CU_ERR_STATE (after final or a failure:
 * any failure is final), CU_ERR_RANGE or CU_ERR_CRYPTO. */
int cu_seg_dec_update(cu_seg_dec_t *d, const void *data, size_t len)
    __attribute__((warn_unused_result));

/* cu_seg_dec_final - the object has ended: open the held segment as the
 * last one. Only a 0 return means the whole object was authentic; the
 * caller must discard what it got otherwise. Returns as update, and
 * CU_ERR_AUTH for a truncated object, CU_ERR_PARSE for a truncated
 * header. */
int cu_seg_dec_final(cu_seg_dec_t *d) __attribute__((warn_unused_result));

/* cu_seg_dec_open - a decryptor for random access, from the header bytes
 * (at least the whole header; more is ignored) and the DEK (checked
 * against the commitment, not kept). No sink: use cu_seg_dec_segment.
 * *out is the caller's. Returns 0, CU_ERR_PARSE / CU_ERR_UNSUPPORTED /
 * CU_ERR_RANGE (bad or short header), CU_ERR_AUTH (wrong DEK or identity,
 * altered header), CU_ERR_INVAL, CU_ERR_NOMEM or CU_ERR_CRYPTO. */
int cu_seg_dec_open(const unsigned char dek[CU_SEG_DEK_LEN], const void *header,
                    size_t header_len, const void *id, size_t id_len,
                    cu_seg_dec_t **out) __attribute__((warn_unused_result));

/* cu_seg_dec_open_keep - cu_seg_dec_open that also writes the derived
 * segment subkey to `subkey` (give locked memory), for a cache of opened
 * objects: cu_seg_dec_open_subkey opens these same header bytes and id
 * again from it without the DEK. Whoever keeps a subkey must key it by
 * the whole header and the id, and keep it no longer than it may use the
 * DEK (store/keys.h). subkey is wiped on failure. Same returns. */
int cu_seg_dec_open_keep(const unsigned char dek[CU_SEG_DEK_LEN],
                         const void *header, size_t header_len, const void *id,
                         size_t id_len, unsigned char subkey[CU_SEG_SUBKEY_LEN],
                         cu_seg_dec_t **out)
    __attribute__((warn_unused_result));

/* cu_seg_dec_open_subkey - a random-access decryptor from a subkey that
 * cu_seg_dec_open_keep gave for exactly these header bytes and this id.
 * The commitment is not checked again (it was when the subkey was
 * derived); every segment's tag still is, so a wrong subkey yields
 * CU_ERR_AUTH from cu_seg_dec_segment, never plaintext. Returns as
 * cu_seg_dec_open, without CU_ERR_AUTH. */
int cu_seg_dec_open_subkey(const unsigned char subkey[CU_SEG_SUBKEY_LEN],
                           const void *header, size_t header_len,
                           const void *id, size_t id_len, cu_seg_dec_t **out)
    __attribute__((warn_unused_result));

/* cu_seg_dec_header_len - the length of the header of the object being
 * decrypted (0 while a streaming decryptor has not seen it whole). */
size_t cu_seg_dec_header_len(const cu_seg_dec_t *d);

/* cu_seg_dec_segment - open segment `index` alone (ct_len bytes: a whole
 * CU_SEG_CT_SEGMENT_SIZE unless last is set) into pt (pt_cap at least
 * ct_len - CU_SEG_TAG_LEN). `last` must be 1 exactly for the object's
 * last segment (see cu_seg_range). Works on either kind of decryptor and
 * does not disturb a stream in progress. Returns 0, CU_ERR_AUTH (pt wiped),
 * CU_ERR_PARSE (impossible ct_len), CU_ERR_RANGE (index past the counter
 * or pt too small), CU_ERR_STATE (header not yet known) or CU_ERR_CRYPTO. */
int cu_seg_dec_segment(cu_seg_dec_t *d, uint64_t index, int last,
                       const void *ct, size_t ct_len, unsigned char *pt,
                       size_t pt_cap, size_t *pt_len)
    __attribute__((warn_unused_result));

/* cu_seg_dec_free - wipe and release. NULL is fine. */
void cu_seg_dec_free(cu_seg_dec_t *d);

#endif

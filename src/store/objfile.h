/* objfile.h - object versions on disk: one file per version, in the
 * segmented format of core/crypto/seg.h, at
 * DATA/objects/<tenant>/<first 2 chars of version>/<version>.
 *
 * Writing streams: plaintext goes through the encryptor to the file as
 * it arrives (one segment held at most) while its MD5 (the S3 ETag) and
 * size are counted. cu_sobj_writer_finish makes the file durable (file
 * and directory fsync'd); the caller then commits the metadata row and
 * calls cu_sobj_writer_keep. A writer freed without keep removes its
 * file, so an abandoned or failed upload leaves nothing behind (a crash
 * may leave an unreferenced file, never a visible object).
 *
 * Reading is random access: the header is read and checked (the DEK comes
 * from a callback and must match the header's commitment), then any
 * plaintext range is served by decrypting only the segments it touches.
 * Any authentication failure is CU_ERR_AUTH: the caller must not send
 * bytes it has not got from a successful read. */
#ifndef CU_STORE_OBJFILE_H
#define CU_STORE_OBJFILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/crypto/seg.h"

#define CU_SOBJ_PATH_MAX 256 /* relative path */

typedef struct cu_sobj_writer cu_sobj_writer_t;

/* cu_sobj_writer_new - create the file of version `vid` (at least 3
 * characters of [0-9a-f]) of `tenant` ([0-9a-z] only) under data_dir,
 * exclusively, mode 0600, creating its directories, and start the
 * encryptor with dek (copied into the encryptor's key schedule; the
 * caller wipes its copy), tk_version, the wrapped DEK and the identity
 * id. Returns 0 and *out, CU_ERR_INVAL (bad name), CU_ERR_IO (detail
 * logged), CU_ERR_EXISTS, CU_ERR_NOMEM, or the encryptor's errors. */
int cu_sobj_writer_new(const char *data_dir, const char *tenant,
                       const char *vid, const unsigned char dek[CU_SEG_DEK_LEN],
                       uint32_t tk_version, const void *wrapped, size_t wlen,
                       const void *id, size_t id_len, cu_sobj_writer_t **out);

/* cu_sobj_upload_dir - the directory (relative) holding the part files
 * of multipart upload upload_id (hex, at least 3 characters) of tenant:
 * objects/<tenant>/<xx>/<upload_id>.mp. Returns 0, CU_ERR_INVAL or
 * CU_ERR_RANGE. */
int cu_sobj_upload_dir(const char *tenant, const char *upload_id,
                       char out[CU_SOBJ_PATH_MAX + 1]);

/* cu_sobj_part_writer_new - as cu_sobj_writer_new, for the part file
 * `file` ([0-9a-z], 1-64 characters) in the upload's directory. */
int cu_sobj_part_writer_new(const char *data_dir, const char *tenant,
                            const char *upload_id, const char *file,
                            const unsigned char dek[CU_SEG_DEK_LEN],
                            uint32_t tk_version, const void *wrapped,
                            size_t wlen, const void *id, size_t id_len,
                            cu_sobj_writer_t **out);

/* cu_sobj_writer_update - encrypt and write len more bytes of plaintext.
 * Returns 0, CU_ERR_IO (disk), CU_ERR_RANGE (too large) or the
 * encryptor's error; any failure is final. */
int cu_sobj_writer_update(cu_sobj_writer_t *w, const void *data, size_t len);

/* cu_sobj_writer_finish - write the last segment, fsync the file and its
 * directory, and give the plaintext's MD5 and size. Returns 0 (the file
 * is complete and durable), CU_ERR_IO, or the encryptor's error. */
int cu_sobj_writer_finish(cu_sobj_writer_t *w, unsigned char md5[16],
                          uint64_t *size);

/* cu_sobj_writer_size - plaintext bytes written so far. */
uint64_t cu_sobj_writer_size(const cu_sobj_writer_t *w);

/* cu_sobj_writer_path - the file's path relative to data_dir. */
const char *cu_sobj_writer_path(const cu_sobj_writer_t *w);

/* cu_sobj_writer_keep - the metadata now references the file: free will
 * not remove it. */
void cu_sobj_writer_keep(cu_sobj_writer_t *w);

/* cu_sobj_writer_free - release; removes the file unless kept. NULL ok. */
void cu_sobj_writer_free(cu_sobj_writer_t *w);

/* cu_sobj_remove - remove the data file at relpath under data_dir (after
 * the metadata stopped referencing it), or the directory of a multipart
 * object with its part files. Missing is fine. Returns 0 or CU_ERR_IO
 * (logged). */
int cu_sobj_remove(const char *data_dir, const char *relpath);

typedef struct cu_sobj_reader cu_sobj_reader_t;

/* cu_sobj_reader_open - open the file at relpath (relative to data_dir)
 * holding pt_size bytes of plaintext, read and parse its header, get the
 * DEK from get_dek (see cu_seg_dek_fn) and check it against the header
 * with identity id. The file's size must be exactly what pt_size
 * encrypts to. Returns 0 and *out, CU_ERR_NOTFOUND (no file), CU_ERR_AUTH
 * (wrong DEK or identity, altered header, wrong size), CU_ERR_PARSE /
 * CU_ERR_UNSUPPORTED (not our format), CU_ERR_IO, CU_ERR_NOMEM, or
 * get_dek's error. */
int cu_sobj_reader_open(const char *data_dir, const char *relpath,
                        uint64_t pt_size, const void *id, size_t id_len,
                        cu_seg_dek_fn get_dek, void *dek_arg,
                        cu_sobj_reader_t **out);

/* A cache of segment subkeys for cu_sobj_reader_open_cached (the store
 * keeps them with its tenant keys, store/keys.h): get fills subkey and
 * returns 0 when it has one under digest (SHA-256 of the object's whole
 * header and identity) for header h, put keeps one. */
#define CU_SOBJ_DIGEST_LEN 32
struct cu_sobj_subkeys {
	int (*get)(void *arg, const struct cu_seg_header *h,
	           const unsigned char digest[CU_SOBJ_DIGEST_LEN],
	           unsigned char subkey[CU_SEG_SUBKEY_LEN]);
	void (*put)(void *arg, const struct cu_seg_header *h,
	            const unsigned char digest[CU_SOBJ_DIGEST_LEN],
	            const unsigned char subkey[CU_SEG_SUBKEY_LEN]);
	void *arg;
};

/* cu_sobj_reader_open_cached - cu_sobj_reader_open that first asks sk
 * (NULL: none) for the object's subkey, and otherwise gets the DEK and
 * gives sk the subkey derived from it. A kept subkey skips the DEK and
 * the derivation; every segment's tag is still checked. Same returns. */
int cu_sobj_reader_open_cached(const char *data_dir, const char *relpath,
                               uint64_t pt_size, const void *id, size_t id_len,
                               cu_seg_dek_fn get_dek, void *dek_arg,
                               const struct cu_sobj_subkeys *sk,
                               cu_sobj_reader_t **out);

/* cu_sobj_reader_read - up to len bytes of plaintext at offset off into
 * buf; *got (>= 1 unless off is at the end) is how many. Decrypts the
 * segments touched (the last one is kept for the next read). Returns 0,
 * CU_ERR_RANGE (off past the end), CU_ERR_AUTH (a segment was altered:
 * nothing was written to buf), CU_ERR_IO. */
int cu_sobj_reader_read(cu_sobj_reader_t *r, uint64_t off, void *buf,
                        size_t len, size_t *got);

/* cu_sobj_reader_free - wipe and release. NULL ok. */
void cu_sobj_reader_free(cu_sobj_reader_t *r);

#endif

/* objfile.c - object version files: segmented encryption on the way in,
 * random-access decryption on the way out. */
#include "store/objfile.h"
#include "core/crypto/hash.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secmem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cu_sobj_writer {
	int fd;
	int dir_fd; /* the version's directory, for fsync */
	int kept;
	char *abs;
	char rel[CU_SOBJ_PATH_MAX + 1];
	cu_seg_enc_t *enc;
	cu_hash_t *md5;
	uint64_t size;
};

static int name_ok(const char *s, int hex_only)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++) {
		char c = s[n];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (!hex_only && c >= 'g' && c <= 'z')))
			return 0;
		if (n > 64)
			return 0;
	}
	return n >= 3 || (!hex_only && n >= 1);
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return CU_ERR_IO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int sink(void *arg, const unsigned char *data, size_t len)
{
	cu_sobj_writer_t *w = arg;

	return write_all(w->fd, data, len);
}

/* fsync the directory holding path p (its part before the last '/'). */
static int sync_parent(char *p)
{
	char *slash = strrchr(p, '/');
	int fd, rc = 0;

	if (slash == NULL)
		return 0;
	*slash = '\0';
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		rc = CU_ERR_IO;
	if (fd >= 0)
		close(fd);
	*slash = '/';
	return rc;
}

/* mkdir -p of rel's directories under data_dir (rel's last component is
 * the file), 0700. A directory made here has its entry synced in its
 * parent: the file's own fsync and its directory's make the file durable
 * only once the directory itself is (power loss, not just kill -9). */
static int make_dirs(const char *data_dir, const char *rel)
{
	char p[4096];
	int n = snprintf(p, sizeof(p), "%s/%s", data_dir, rel);
	size_t base = strlen(data_dir) + 1;

	if (n < 0 || (size_t)n >= sizeof(p))
		return CU_ERR_RANGE;
	for (size_t i = base; p[i] != '\0'; i++) {
		if (p[i] != '/')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0700) == 0) {
			if (sync_parent(p) != 0)
				return CU_ERR_IO;
		} else if (errno != EEXIST) {
			return CU_ERR_IO;
		}
		p[i] = '/';
	}
	return 0;
}

/* Create the file at rel (relative to data_dir) and start encrypting. */
static int writer_open(const char *data_dir, const char *rel,
                       const unsigned char dek[CU_SEG_DEK_LEN],
                       uint32_t tk_version, const void *wrapped, size_t wlen,
                       const void *id, size_t id_len, cu_sobj_writer_t **out)
{
	cu_sobj_writer_t *w = NULL;
	char *slash;
	size_t alen;
	int rc = CU_ERR_NOMEM;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return CU_ERR_NOMEM;
	w->fd = w->dir_fd = -1;
	if (strlen(rel) >= sizeof(w->rel)) {
		rc = CU_ERR_RANGE;
		goto out;
	}
	memcpy(w->rel, rel, strlen(rel) + 1);
	alen = strlen(data_dir) + 1 + strlen(rel) + 1;
	if ((w->abs = malloc(alen)) == NULL)
		goto out;
	snprintf(w->abs, alen, "%s/%s", data_dir, w->rel);
	if ((rc = make_dirs(data_dir, rel)) != 0)
		goto ioerr;
	slash = strrchr(w->abs, '/');
	*slash = '\0';
	w->dir_fd = open(w->abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*slash = '/';
	if (w->dir_fd < 0)
		goto ioerr;
	w->fd = open(
	    w->abs, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w->fd < 0) {
		if (errno == EEXIST) {
			rc = CU_ERR_EXISTS;
			goto out;
		}
		goto ioerr;
	}
	if ((rc = cu_hash_new(CU_HASH_MD5, &w->md5)) != 0)
		goto out;
	rc = cu_seg_enc_new(dek, tk_version, wrapped, wlen, id, id_len, sink, w,
	                    &w->enc);
	if (rc != 0)
		goto out;
	*out = w;
	w = NULL;
	rc = 0;
	goto out;
ioerr:
	rc = CU_ERR_IO;
	cu_log(
	    CU_LOG_ERROR, "cannot create an object file",
	    json_pack("{s:s,s:s}", "path", w->rel, "error", strerror(errno)));
out:
	cu_sobj_writer_free(w);
	return rc;
}

int cu_sobj_writer_new(const char *data_dir, const char *tenant,
                       const char *vid, const unsigned char dek[CU_SEG_DEK_LEN],
                       uint32_t tk_version, const void *wrapped, size_t wlen,
                       const void *id, size_t id_len, cu_sobj_writer_t **out)
{
	char rel[CU_SOBJ_PATH_MAX + 1];
	int n;

	if (out == NULL)
		return CU_ERR_INVAL;
	*out = NULL;
	if (data_dir == NULL || !name_ok(tenant, 0) || !name_ok(vid, 1))
		return CU_ERR_INVAL;
	n = snprintf(rel, sizeof(rel), "objects/%s/%c%c/%s", tenant, vid[0],
	             vid[1], vid);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return CU_ERR_RANGE;
	return writer_open(data_dir, rel, dek, tk_version, wrapped, wlen, id,
	                   id_len, out);
}

int cu_sobj_upload_dir(const char *tenant, const char *upload_id,
                       char out[CU_SOBJ_PATH_MAX + 1])
{
	int n;

	if (!name_ok(tenant, 0) || !name_ok(upload_id, 1))
		return CU_ERR_INVAL;
	n = snprintf(out, CU_SOBJ_PATH_MAX + 1, "objects/%s/%c%c/%s.mp", tenant,
	             upload_id[0], upload_id[1], upload_id);
	return n < 0 || n > CU_SOBJ_PATH_MAX ? CU_ERR_RANGE : 0;
}

int cu_sobj_part_writer_new(const char *data_dir, const char *tenant,
                            const char *upload_id, const char *file,
                            const unsigned char dek[CU_SEG_DEK_LEN],
                            uint32_t tk_version, const void *wrapped,
                            size_t wlen, const void *id, size_t id_len,
                            cu_sobj_writer_t **out)
{
	char dir[CU_SOBJ_PATH_MAX + 1], rel[CU_SOBJ_PATH_MAX + 1];
	int n, rc;

	if (out == NULL)
		return CU_ERR_INVAL;
	*out = NULL;
	if (data_dir == NULL || !name_ok(file, 0))
		return CU_ERR_INVAL;
	if ((rc = cu_sobj_upload_dir(tenant, upload_id, dir)) != 0)
		return rc;
	n = snprintf(rel, sizeof(rel), "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return CU_ERR_RANGE;
	return writer_open(data_dir, rel, dek, tk_version, wrapped, wlen, id,
	                   id_len, out);
}

int cu_sobj_writer_update(cu_sobj_writer_t *w, const void *data, size_t len)
{
	int rc;

	if (w == NULL || (data == NULL && len > 0))
		return CU_ERR_INVAL;
	if (len == 0)
		return 0;
	if ((rc = cu_hash_update(w->md5, data, len)) != 0)
		return rc;
	if ((rc = cu_seg_enc_update(w->enc, data, len)) != 0)
		return rc;
	w->size += len;
	return 0;
}

int cu_sobj_writer_finish(cu_sobj_writer_t *w, unsigned char md5[16],
                          uint64_t *size)
{
	size_t n = 0;
	int rc;

	if (w == NULL || md5 == NULL || size == NULL)
		return CU_ERR_INVAL;
	if ((rc = cu_seg_enc_final(w->enc)) != 0)
		return rc;
	if (fsync(w->fd) != 0 || fsync(w->dir_fd) != 0) {
		cu_log(CU_LOG_ERROR, "cannot fsync an object file",
		       json_pack("{s:s,s:s}", "path", w->rel, "error",
		                 strerror(errno)));
		return CU_ERR_IO;
	}
	if ((rc = cu_hash_final(w->md5, md5, 16, &n)) != 0)
		return rc;
	*size = w->size;
	return 0;
}

uint64_t cu_sobj_writer_size(const cu_sobj_writer_t *w)
{
	return w->size;
}

const char *cu_sobj_writer_path(const cu_sobj_writer_t *w)
{
	return w->rel;
}

void cu_sobj_writer_keep(cu_sobj_writer_t *w)
{
	w->kept = 1;
}

void cu_sobj_writer_free(cu_sobj_writer_t *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0) {
		close(w->fd);
		if (!w->kept)
			unlink(w->abs);
	}
	if (w->dir_fd >= 0)
		close(w->dir_fd);
	cu_seg_enc_free(w->enc);
	cu_hash_free(w->md5);
	free(w->abs);
	free(w);
}

int cu_sobj_remove(const char *data_dir, const char *relpath)
{
	char p[4096];
	DIR *d;
	struct dirent *e;
	int n, rc = 0;

	if (data_dir == NULL || relpath == NULL || relpath[0] == '\0')
		return CU_ERR_INVAL;
	n = snprintf(p, sizeof(p), "%s/%s", data_dir, relpath);
	if (n < 0 || (size_t)n >= sizeof(p))
		return CU_ERR_RANGE;
	if (unlink(p) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		goto ioerr;
	/* a multipart object: a directory of part files, one level */
	if ((d = opendir(p)) == NULL)
		goto ioerr;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
			rc = CU_ERR_IO;
	}
	closedir(d);
	if (rc == 0 && rmdir(p) != 0 && errno != ENOENT)
		rc = CU_ERR_IO;
	if (rc == 0)
		return 0;
ioerr:
	cu_log(
	    CU_LOG_ERROR, "cannot remove an object file",
	    json_pack("{s:s,s:s}", "path", relpath, "error", strerror(errno)));
	return CU_ERR_IO;
}

/* ---- reading ------------------------------------------------------ */

struct cu_sobj_reader {
	int fd;
	cu_seg_dec_t *dec;
	size_t header_len;
	uint64_t pt_size;
	uint64_t seg_count;
	/* one allocation: the plaintext of one segment, then room for its
	 * ciphertext; sized for this object's largest segment, so a small
	 * object does not pay for (and fault in) two 64 KiB buffers */
	unsigned char *buf;
	size_t seg_max;    /* plaintext bytes of the largest segment */
	unsigned char *ct; /* one ciphertext segment: buf + seg_max */
	unsigned char *pt; /* its plaintext: buf */
	uint64_t pt_index; /* which segment pt holds */
	size_t pt_len;     /* valid bytes in pt */
	int pt_valid;
	/* a one-segment object was read whole at open: ct holds its only
	 * segment, and the file is closed */
	int ct_loaded;
};

static int read_at(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (unsigned char *)buf + done, len - done,
		                  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return CU_ERR_IO;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

/* The name a subkey is kept under: SHA-256 of the whole header and the
 * identity, everything the subkey derives from with the DEK (which the
 * header's wrapped DEK and TK version fix). */
static int subkey_digest(const unsigned char *hdr, size_t hdr_len,
                         const void *id, size_t id_len,
                         unsigned char digest[CU_SOBJ_DIGEST_LEN])
{
	cu_hash_t *h = NULL;
	size_t n = 0;
	int rc;

	if ((rc = cu_hash_new(CU_HASH_SHA256, &h)) == 0 &&
	    (rc = cu_hash_update(h, hdr, hdr_len)) == 0 &&
	    (rc = cu_hash_update(h, id, id_len)) == 0)
		rc = cu_hash_final(h, digest, CU_SOBJ_DIGEST_LEN, &n);
	cu_hash_free(h);
	return rc;
}

/* Key the reader's decryptor: from a kept subkey when sk has one for
 * this header and identity, else from the DEK (keeping the subkey). */
static int reader_key(cu_sobj_reader_t *r, const unsigned char *hdr,
                      const struct cu_seg_header *h, const void *id,
                      size_t id_len, cu_seg_dek_fn get_dek, void *dek_arg,
                      const struct cu_sobj_subkeys *sk)
{
	unsigned char digest[CU_SOBJ_DIGEST_LEN];
	unsigned char *dek = NULL, *subkey = NULL;
	int rc;

	if (sk != NULL) {
		if ((rc = subkey_digest(hdr, h->len, id, id_len, digest)) != 0)
			return rc;
		if ((subkey = cu_secmem_alloc(CU_SEG_SUBKEY_LEN)) == NULL)
			return CU_ERR_NOMEM;
		if (sk->get(sk->arg, h, digest, subkey) == 0) {
			rc = cu_seg_dec_open_subkey(subkey, hdr, h->len, id,
			                            id_len, &r->dec);
			goto out;
		}
	}
	if ((dek = cu_secmem_alloc(CU_SEG_DEK_LEN)) == NULL) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	if ((rc = get_dek(dek_arg, h, dek)) != 0)
		goto out;
	if (subkey == NULL)
		rc = cu_seg_dec_open(dek, hdr, h->len, id, id_len, &r->dec);
	else if ((rc = cu_seg_dec_open_keep(dek, hdr, h->len, id, id_len,
	                                    subkey, &r->dec)) == 0)
		sk->put(sk->arg, h, digest, subkey);
out:
	cu_secmem_free(dek, CU_SEG_DEK_LEN);
	cu_secmem_free(subkey, CU_SEG_SUBKEY_LEN);
	return rc;
}

int cu_sobj_reader_open(const char *data_dir, const char *relpath,
                        uint64_t pt_size, const void *id, size_t id_len,
                        cu_seg_dek_fn get_dek, void *dek_arg,
                        cu_sobj_reader_t **out)
{
	return cu_sobj_reader_open_cached(data_dir, relpath, pt_size, id,
	                                  id_len, get_dek, dek_arg, NULL, out);
}

int cu_sobj_reader_open_cached(const char *data_dir, const char *relpath,
                               uint64_t pt_size, const void *id, size_t id_len,
                               cu_seg_dek_fn get_dek, void *dek_arg,
                               const struct cu_sobj_subkeys *sk,
                               cu_sobj_reader_t **out)
{
	unsigned char hdr[CU_SEG_HEADER_MAX], *hp = hdr;
	struct cu_seg_header h;
	cu_sobj_reader_t *r = NULL;
	struct cu_seg_range rg;
	struct stat sb;
	uint64_t ct_size = 0;
	size_t got = 0;
	char p[4096];
	int n, rc;

	if (out == NULL)
		return CU_ERR_INVAL;
	*out = NULL;
	if (data_dir == NULL || relpath == NULL || get_dek == NULL)
		return CU_ERR_INVAL;
	n = snprintf(p, sizeof(p), "%s/%s", data_dir, relpath);
	if (n < 0 || (size_t)n >= sizeof(p))
		return CU_ERR_RANGE;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return CU_ERR_NOMEM;
	r->pt_size = pt_size;
	r->fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (r->fd < 0) {
		rc = errno == ENOENT ? CU_ERR_NOTFOUND : CU_ERR_IO;
		goto out;
	}
	if (pt_size <= CU_SEG_SEGMENT_SIZE) {
		/* one segment: the whole file in one read, one byte more
		 * than it can hold (so that an extended file shows), no
		 * fstat and no second read */
		size_t whole =
		    CU_SEG_HEADER_MAX + (size_t)pt_size + CU_SEG_TAG_LEN + 1;
		r->seg_max = (size_t)pt_size;
		if ((r->buf = malloc(r->seg_max + whole)) == NULL) {
			rc = CU_ERR_NOMEM;
			goto out;
		}
		r->pt = r->buf;
		hp = r->buf + r->seg_max;
		if ((rc = read_at(r->fd, hp, whole, 0, &got)) != 0)
			goto out;
	} else if ((rc = read_at(r->fd, hdr, sizeof(hdr), 0, &got)) != 0) {
		goto out;
	}
	if ((rc = cu_seg_header_parse(hp, got, &h)) != 0) {
		if (rc == CU_ERR_RANGE)
			rc = CU_ERR_AUTH; /* truncated */
		goto out;
	}
	r->header_len = h.len;
	/* the size recorded in metadata fixes the file's size: a truncated
	 * or extended file is refused before any byte is served */
	if ((rc = cu_seg_ciphertext_size(pt_size, h.len, &ct_size)) != 0)
		goto out;
	if (hp != hdr) {
		if ((uint64_t)got != ct_size) {
			rc = CU_ERR_AUTH;
			goto out;
		}
		r->ct = hp + h.len;
		r->ct_loaded = 1;
		close(r->fd);
		r->fd = -1;
	} else if (fstat(r->fd, &sb) != 0) {
		rc = CU_ERR_IO;
		goto out;
	} else if ((uint64_t)sb.st_size != ct_size) {
		rc = CU_ERR_AUTH;
		goto out;
	}
	if ((rc = reader_key(r, hp, &h, id, id_len, get_dek, dek_arg, sk)) != 0)
		goto out;
	if (pt_size > 0) {
		if ((rc = cu_seg_range(pt_size, h.len, 0, 1, &rg)) != 0)
			goto out;
		r->seg_count = rg.seg_count;
	} else {
		r->seg_count = 1;
	}
	if (!r->ct_loaded) {
		r->seg_max = CU_SEG_SEGMENT_SIZE;
		if ((r->buf = malloc(2 * r->seg_max + CU_SEG_TAG_LEN)) ==
		    NULL) {
			rc = CU_ERR_NOMEM;
			goto out;
		}
		r->pt = r->buf;
		r->ct = r->buf + r->seg_max;
	}
	*out = r;
	r = NULL;
	rc = 0;
out:
	cu_sobj_reader_free(r);
	return rc;
}

/* Decrypt segment idx into r->pt. */
static int load_segment(cu_sobj_reader_t *r, uint64_t idx)
{
	uint64_t off = r->header_len + idx * (uint64_t)CU_SEG_CT_SEGMENT_SIZE;
	int last = idx == r->seg_count - 1;
	size_t want, got = 0;
	int rc;

	r->pt_valid = 0;
	if (last) {
		uint64_t rest =
		    r->pt_size - idx * (uint64_t)CU_SEG_SEGMENT_SIZE;
		want = (size_t)rest + CU_SEG_TAG_LEN;
	} else {
		want = CU_SEG_CT_SEGMENT_SIZE;
	}
	if (want > r->seg_max + CU_SEG_TAG_LEN)
		return CU_ERR_AUTH; /* not a segment of this object */
	if (r->ct_loaded) {
		if (idx != 0)
			return CU_ERR_AUTH;
	} else if ((rc = read_at(r->fd, r->ct, want, off, &got)) != 0) {
		return rc;
	} else if (got != want) {
		return CU_ERR_AUTH;
	}
	rc = cu_seg_dec_segment(r->dec, idx, last, r->ct, want, r->pt,
	                        r->seg_max, &r->pt_len);
	if (rc != 0)
		return rc == CU_ERR_PARSE ? CU_ERR_AUTH : rc;
	r->pt_index = idx;
	r->pt_valid = 1;
	return 0;
}

int cu_sobj_reader_read(cu_sobj_reader_t *r, uint64_t off, void *buf,
                        size_t len, size_t *got)
{
	uint64_t idx;
	size_t in, n;
	int rc;

	if (r == NULL || got == NULL || (buf == NULL && len > 0))
		return CU_ERR_INVAL;
	*got = 0;
	if (off > r->pt_size)
		return CU_ERR_RANGE;
	if (off == r->pt_size || len == 0)
		return 0;
	idx = off / CU_SEG_SEGMENT_SIZE;
	if (!r->pt_valid || r->pt_index != idx) {
		if ((rc = load_segment(r, idx)) != 0)
			return rc;
	}
	in = (size_t)(off % CU_SEG_SEGMENT_SIZE);
	if (in >= r->pt_len)
		return CU_ERR_AUTH;
	n = r->pt_len - in;
	if (n > len)
		n = len;
	memcpy(buf, r->pt + in, n);
	*got = n;
	return 0;
}

void cu_sobj_reader_free(cu_sobj_reader_t *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	cu_seg_dec_free(r->dec);
	if (r->buf != NULL) {
		cu_memzero(r->pt, r->seg_max);
		free(r->buf);
	}
	free(r);
}

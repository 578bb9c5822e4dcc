/* s3_object.c - PutObject, GetObject, HeadObject, DeleteObject: objects
 * encrypted on the way in and decrypted on the way out, streaming. */
#include "core/b64.h"
#include "core/crypto/aead.h"
#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secmem.h"
#include "store/objfile.h"
#include "store/objmeta.h"
#include "core/http/router.h"
#include "store/range.h"
#include "store/s3.h"
#include "store/xmlw.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define VID_BYTES 16 /* version ids: 32 hex digits */
#define ID_MAX                                                                 \
	(4 * 4 + CU_SMETA_ID_MAX + CU_SMETA_BUCKET_MAX + CU_SMETA_KEY_MAX +    \
	 2 * VID_BYTES)

struct upload {
	cu_sobj_writer_t *w;
	cu_sobjmeta_t *meta; /* what the new version keeps (objmeta.h) */
	char vid[2 * VID_BYTES + 1];
	char file[CU_SMETA_VID_MAX + 1]; /* UploadPart: the part's file */
	char dir[CU_SOBJ_PATH_MAX + 1];  /* UploadPart: the upload's */
	/* CopyObject: reply a CopyObjectResult; with the COPY metadata
	 * directive, the content type comes from the source (and meta is
	 * the source's, opened by cu_s3_copy_object) */
	int copy;
	const struct cu_smeta_object *src; /* NULL: from the request */
	unsigned char id[ID_MAX];
	size_t id_len;
	uint32_t tk_version;
	uint64_t max; /* plaintext bytes allowed */
};

static void upload_free(void *p)
{
	struct upload *u = p;

	if (u == NULL)
		return;
	cu_sobj_writer_free(u->w);
	cu_sobjmeta_free(u->meta);
	free(u);
}

static int upload_sink(struct cu_s3_req *rq, const unsigned char *p, size_t n)
{
	struct upload *u = rq->upload;

	if (n > u->max - cu_sobj_writer_size(u->w))
		return CU_ERR_TOOLARGE;
	return cu_sobj_writer_update(u->w, p, n);
}

static int no_such_bucket(cu_http_req_t *req)
{
	return cu_s3_reply_error(req, 404, "NoSuchBucket",
	                         "The specified bucket does not exist.");
}

static int no_such_key(cu_http_req_t *req)
{
	return cu_s3_reply_error(req, 404, "NoSuchKey",
	                         "The specified key does not exist.");
}

/* The declared size of the payload, when known: the decoded length of
 * an aws-chunked body, else Content-Length. */
static int declared_size(cu_http_req_t *req, uint64_t *size)
{
	const char *d = cu_http_req_header(req, "x-amz-decoded-content-length");

	if (d != NULL) {
		uint64_t v = 0;

		if (*d == '\0' || strlen(d) > 19)
			return CU_ERR_PARSE;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return CU_ERR_PARSE;
			v = v * 10 + (uint64_t)(*d - '0');
		}
		*size = v;
		return 0;
	}
	return cu_http_req_content_length(req, size);
}

int cu_s3_objmeta_refuse(cu_http_req_t *req, int rc)
{
	if (rc == CU_ERR_TOOLARGE)
		return cu_s3_reply_error(req, 400, "MetadataTooLarge",
		                         "Your metadata headers exceed the "
		                         "maximum allowed metadata size.");
	if (rc == CU_ERR_RANGE)
		return cu_s3_reply_error(
		    req, 400, "RequestHeaderSectionTooLarge",
		    "Cache-Control, Content-Disposition, Content-Encoding, "
		    "Content-Language and Expires together exceed 8192 bytes.");
	if (rc == CU_ERR_INVAL)
		return cu_s3_reply_error(req, 400, "InvalidArgument",
		                         "User metadata and the standard "
		                         "object headers must be UTF-8.");
	return rc;
}

_Static_assert(CU_SOBJMETA_STD_MAX == 8192, "the message above says 8192");

int cu_s3_objmeta(cu_http_req_t *req, const struct cu_s3_req *rq,
                  cu_sobjmeta_t **out)
{
	cu_sobjmeta_t *m = NULL;
	int rc;

	*out = NULL;
	if ((rc = cu_sobjmeta_new(&m)) != 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < rq->n_meta_names; i++) {
		const char *v = cu_http_req_header(req, rq->meta_names[i]);

		if (v != NULL)
			rc = cu_sobjmeta_add_user(
			    m, rq->meta_names[i] + strlen("x-amz-meta-"), v);
	}
	/* taken as sent, signed or not, as S3 takes them and Content-Type */
	for (size_t i = 0; rc == 0 && i < CU_SOBJMETA_N_STD; i++) {
		const char *v =
		    cu_http_req_header(req, cu_sobjmeta_std_name(i));

		if (v != NULL)
			rc = cu_sobjmeta_set_std(m, i, v);
	}
	if (rc == 0) {
		*out = m;
		return 0;
	}
	cu_sobjmeta_free(m);
	return cu_s3_objmeta_refuse(req, rc);
}

int cu_s3_put_begin(cu_http_req_t *req, struct cu_s3_req *rq)
{
	unsigned char *dek = NULL;
	unsigned char wrapped[CU_SKEYS_DEK_WRAPPED];
	struct upload *u = NULL;
	cu_sobjmeta_t *meta = NULL;
	const char *ct = cu_http_req_header(req, "Content-Type");
	uint64_t size = 0;
	size_t wlen = 0;
	int rc;

	if (ct != NULL && strlen(ct) > CU_SMETA_CTYPE_MAX)
		return cu_s3_reply_error(req, 400, "InvalidArgument",
		                         "Content-Type is too long.");
	if (declared_size(req, &size) == 0 && size > CU_S3_MAX_OBJECT)
		return cu_s3_reply_error(req, 400, "EntityTooLarge",
		                         "Your proposed upload exceeds the "
		                         "maximum allowed size.");
	if ((rc = cu_s3_objmeta(req, rq, &meta)) != 0 || meta == NULL)
		return rc; /* refused with a reply, or rc */
	rc = cu_smeta_bucket_get(rq->s3->meta, rq->tenant, rq->bucket, NULL);
	if (rc != 0 || (u = calloc(1, sizeof(*u))) == NULL) {
		cu_sobjmeta_free(meta);
		if (rc == CU_ERR_NOTFOUND)
			return no_such_bucket(req);
		return rc != 0 ? rc : CU_ERR_NOMEM;
	}
	u->meta = meta;
	u->max = CU_S3_MAX_OBJECT;
	rq->upload = u;
	rq->upload_free = upload_free;
	if ((rc = cu_rand_hex(u->vid, VID_BYTES)) != 0)
		return rc;
	if (rq->part_number > 0) {
		/* UploadPart: the part binds "<upload id>.<number>" */
		struct cu_smeta_upload up;
		char v[CU_SMETA_VID_MAX + 16];

		rc = cu_smeta_upload_get(rq->s3->meta, rq->tenant, rq->bucket,
		                         rq->upload_id, &up);
		if (rc == 0 && (up.key_len != rq->key_len ||
		                memcmp(up.key, rq->key, rq->key_len) != 0))
			rc = CU_ERR_NOTFOUND;
		cu_smeta_upload_clear(&up);
		if (rc == CU_ERR_NOTFOUND)
			return cu_s3_reply_error(
			    req, 404, "NoSuchUpload",
			    "The specified upload does not exist.");
		if (rc != 0)
			return rc;
		snprintf(u->file, sizeof(u->file), "p%ux%.16s",
		         (unsigned)rq->part_number, u->vid);
		snprintf(v, sizeof(v), "%s.%u", rq->upload_id,
		         (unsigned)rq->part_number);
		rc = cu_skeys_object_id(rq->tenant, rq->bucket, rq->key,
		                        rq->key_len, v, u->id, sizeof(u->id),
		                        &u->id_len);
		if (rc == 0)
			rc = cu_sobj_upload_dir(rq->tenant, rq->upload_id,
			                        u->dir);
	} else {
		rc = cu_skeys_object_id(rq->tenant, rq->bucket, rq->key,
		                        rq->key_len, u->vid, u->id,
		                        sizeof(u->id), &u->id_len);
	}
	if (rc != 0)
		return rc;
	if ((dek = cu_secmem_alloc(CU_SKEYS_KEY_LEN)) == NULL)
		return CU_ERR_NOMEM;
	rc = cu_skeys_dek_new(rq->s3->keys, rq->tenant, u->id, u->id_len, dek,
	                      wrapped, sizeof(wrapped), &wlen, &u->tk_version);
	if (rc != 0)
		goto out;
	if (rq->part_number > 0)
		rc = cu_sobj_part_writer_new(
		    rq->s3->data_dir, rq->tenant, rq->upload_id, u->file, dek,
		    u->tk_version, wrapped, wlen, u->id, u->id_len, &u->w);
	else
		rc = cu_sobj_writer_new(rq->s3->data_dir, rq->tenant, u->vid,
		                        dek, u->tk_version, wrapped, wlen,
		                        u->id, u->id_len, &u->w);
	if (rc != 0)
		goto out;
	rq->upload_sink = upload_sink;
out:
	cu_secmem_free(dek, CU_SKEYS_KEY_LEN);
	if (rc != 0 && cu_s3_key_lost(rc))
		return rc; /* the dispatcher answers it as a revocation */
	if (rc != 0) {
		cu_log(CU_LOG_ERROR, "cannot start an object upload",
		       json_pack("{s:s,s:s,s:s}", "request_id",
		                 cu_http_req_id(req), "tenant", rq->tenant,
		                 "error", cu_strerror(rc)));
		return cu_s3_reply_error(req, 500, "InternalError",
		                         "The object could not be stored.");
	}
	return 0;
}

/* Content-MD5, when sent, must be the body's MD5. */
static int content_md5_ok(cu_http_req_t *req, const unsigned char md5[16])
{
	const char *want = cu_http_req_header(req, "Content-MD5");
	unsigned char dec[20];
	size_t n = 0;

	if (want == NULL)
		return 1;
	if (cu_b64_decode(want, strlen(want), dec, sizeof(dec), &n) != 0 ||
	    n != 16)
		return 0;
	return cu_ct_equal(dec, md5, 16);
}

static void md5_etag(const unsigned char md5[16], char *etag)
{
	static const char hex[] = "0123456789abcdef";

	etag[0] = '"';
	for (int i = 0; i < 16; i++) {
		etag[1 + 2 * i] = hex[md5[i] >> 4];
		etag[2 + 2 * i] = hex[md5[i] & 15];
	}
	etag[33] = '"';
	etag[34] = '\0';
}

static int copy_result(cu_http_req_t *req, const struct cu_s3_req *rq,
                       const char *root, const char *etag, int64_t created)
{
	cu_xmlw_t *w = NULL;
	char date[40], *doc = NULL;
	size_t len = 0;
	int rc;

	if ((rc = cu_xmlw_new(0, &w)) != 0)
		return rc;
	cu_s3_iso_date(created, date);
	cu_xmlw_decl(w);
	cu_xmlw_open(w, root, CU_XMLW_S3_NS);
	cu_xmlw_str(w, "LastModified", date);
	cu_xmlw_str(w, "ETag", etag);
	cu_xmlw_close(w);
	if ((rc = cu_xmlw_finish(w, &doc, &len)) == 0 &&
	    (rc = cu_s3_std_headers(req)) == 0 &&
	    (rc = cu_s3_sse_headers(req, rq)) == 0)
		rc = cu_http_reply(req, 200, doc, len, "application/xml");
	free(doc);
	cu_xmlw_free(w);
	return rc;
}

/* UploadPart, once the body is in and verified. */
static int part_end(cu_http_req_t *req, struct cu_s3_req *rq, struct upload *u)
{
	struct cu_smeta_part p;
	char old[CU_SMETA_VID_MAX + 1], path[CU_SOBJ_PATH_MAX + 80];
	unsigned char md5[16];
	int rc, replaced = 0;

	memset(&p, 0, sizeof(p));
	if ((rc = cu_sobj_writer_finish(u->w, md5, &p.size)) != 0)
		return cu_s3_reply_error(req, 500, "InternalError",
		                         "The part could not be stored.");
	if (!content_md5_ok(req, md5))
		return cu_s3_reply_error(
		    req, 400, "BadDigest",
		    "The Content-MD5 you specified did not "
		    "match what we received.");
	p.number = rq->part_number;
	md5_etag(md5, p.etag);
	memcpy(p.file, u->file, sizeof(p.file));
	p.created = (int64_t)time(NULL);
	rc = cu_smeta_part_put(rq->s3->meta, rq->tenant, rq->bucket,
	                       rq->upload_id, &p, old, &replaced);
	if (rc == CU_ERR_NOTFOUND) /* aborted or completed meanwhile */
		return cu_s3_reply_error(
		    req, 404, "NoSuchUpload",
		    "The specified upload does not exist.");
	if (rc != 0)
		return rc;
	cu_sobj_writer_keep(u->w);
	if (replaced && (size_t)snprintf(path, sizeof(path), "%s/%s", u->dir,
	                                 old) < sizeof(path))
		(void)cu_sobj_remove(rq->s3->data_dir, path);
	if (u->copy) /* UploadPartCopy */
		return copy_result(req, rq, "CopyPartResult", p.etag,
		                   p.created);
	if ((rc = cu_s3_std_headers(req)) != 0 ||
	    (rc = cu_http_set_header(req, "ETag", p.etag)) != 0 ||
	    (rc = cu_s3_sse_headers(req, rq)) != 0)
		return rc;
	return cu_http_reply(req, 200, NULL, 0, NULL);
}

int cu_s3_put_end(cu_http_req_t *req, struct cu_s3_req *rq)
{
	struct upload *u = rq->upload;
	struct cu_smeta_object *o = NULL;
	const char *ct = cu_http_req_header(req, "Content-Type");
	char old[CU_SMETA_PATH_MAX + 1];
	unsigned char md5[16];
	uint64_t size = 0;
	int rc, replaced = 0;

	if (u == NULL || u->w == NULL)
		return CU_ERR_INTERNAL;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return CU_ERR_NOMEM;
	if (rq->part_number > 0) {
		rc = part_end(req, rq, u);
		goto out;
	}
	if (u->src != NULL)
		ct = u->src->content_type;
	rc = cu_sobjmeta_seal(u->meta, rq->s3->keys, rq->tenant, u->tk_version,
	                      u->id, u->id_len, &o->meta_sealed,
	                      &o->meta_sealed_len);
	if (rc == CU_ERR_TOOLARGE) {
		rc = cu_s3_objmeta_refuse(req, rc);
		goto out;
	}
	if (rc != 0)
		goto out;
	if ((rc = cu_sobj_writer_finish(u->w, md5, &size)) != 0) {
		cu_log(CU_LOG_ERROR, "cannot finish an object file",
		       json_pack("{s:s,s:s}", "tenant", rq->tenant, "error",
		                 cu_strerror(rc)));
		rc = cu_s3_reply_error(req, 500, "InternalError",
		                       "The object could not be stored.");
		goto out;
	}
	if (!content_md5_ok(req, md5)) {
		rc = cu_s3_reply_error(req, 400, "BadDigest",
		                       "The Content-MD5 you specified did not "
		                       "match what we received.");
		goto out;
	}
	memcpy(o->key, rq->key, rq->key_len);
	o->key[rq->key_len] = '\0';
	o->key_len = rq->key_len;
	memcpy(o->version_id, u->vid, sizeof(u->vid));
	o->size = size;
	md5_etag(md5, o->etag);
	snprintf(o->content_type, sizeof(o->content_type), "%s",
	         ct != NULL ? ct : "");
	o->tk_version = u->tk_version;
	snprintf(o->path, sizeof(o->path), "%s", cu_sobj_writer_path(u->w));
	o->created = (int64_t)time(NULL);
	rc = cu_smeta_object_put(rq->s3->meta, rq->tenant, rq->bucket, o, old,
	                         &replaced);
	if (rc == CU_ERR_NOTFOUND) { /* the bucket went away meanwhile */
		rc = no_such_bucket(req);
		goto out;
	}
	if (rc != 0)
		goto out;
	cu_sobj_writer_keep(u->w);
	if (replaced)
		(void)cu_sobj_remove(rq->s3->data_dir, old);
	if (u->copy) {
		rc = copy_result(req, rq, "CopyObjectResult", o->etag,
		                 o->created);
		goto out;
	}
	if ((rc = cu_s3_std_headers(req)) != 0 ||
	    (rc = cu_http_set_header(req, "ETag", o->etag)) != 0 ||
	    (rc = cu_s3_sse_headers(req, rq)) != 0)
		goto out;
	rc = cu_http_reply(req, 200, NULL, 0, NULL);
out:
	cu_smeta_object_clear(o);
	free(o);
	return rc;
}

/* ---- GetObject / HeadObject --------------------------------------- */

struct dek_arg {
	struct cu_s3 *s3;
	const char *tenant;
	const unsigned char *id;
	size_t id_len;
};

static int get_dek(void *arg, const struct cu_seg_header *h,
                   unsigned char dek[CU_SEG_DEK_LEN])
{
	struct dek_arg *a = arg;

	return cu_skeys_dek_open(a->s3->keys, a->tenant, h->tk_version,
	                         h->wrapped_dek, h->wrapped_dek_len, a->id,
	                         a->id_len, dek);
}

_Static_assert(CU_SOBJ_DIGEST_LEN == CU_SKEYS_DIGEST_LEN &&
                   CU_SEG_SUBKEY_LEN == CU_SKEYS_KEY_LEN,
               "objfile's subkey cache is the keys module's");

static int subkey_get(void *arg, const struct cu_seg_header *h,
                      const unsigned char digest[CU_SOBJ_DIGEST_LEN],
                      unsigned char subkey[CU_SEG_SUBKEY_LEN])
{
	struct dek_arg *a = arg;

	return cu_skeys_subkey_get(a->s3->keys, a->tenant, h->tk_version,
	                           digest, subkey);
}

static void subkey_put(void *arg, const struct cu_seg_header *h,
                       const unsigned char digest[CU_SOBJ_DIGEST_LEN],
                       const unsigned char subkey[CU_SEG_SUBKEY_LEN])
{
	struct dek_arg *a = arg;

	cu_skeys_subkey_put(a->s3->keys, a->tenant, h->tk_version, digest,
	                    subkey);
}

/* One data file of an object: the whole object, or one part. */
struct spart {
	uint64_t start, size;
	uint32_t number; /* 0: not a multipart object */
	char path[CU_SMETA_PATH_MAX + CU_SMETA_VID_MAX + 2];
};

/* A GET being streamed: the object's files, one open at a time. */
struct stream {
	struct cu_s3 *s3;
	char tenant[CU_SMETA_ID_MAX + 1];
	char bucket[CU_SMETA_BUCKET_MAX + 1];
	char key[CU_SMETA_KEY_MAX + 1];
	size_t key_len;
	char vid[CU_SMETA_VID_MAX + 1];
	struct spart *parts;
	size_t n_parts, cap_parts;
	size_t cur; /* index of the open part when r != NULL */
	cu_sobj_reader_t *r;
	uint64_t off, len; /* the plaintext range served */
};

static void stream_free(void *p)
{
	struct stream *s = p;

	if (s == NULL)
		return;
	cu_sobj_reader_free(s->r);
	free(s->parts);
	free(s);
}

static void security_event(struct cu_s3 *s3, const char *tenant,
                           const char *bucket, const char *vid, int rc)
{
	if (s3->tamper_metric != NULL)
		(void)cu_metrics_add(s3->tamper_metric, NULL, 1);
	cu_log(CU_LOG_WARN, "security: stored object failed authentication",
	       json_pack("{s:s,s:s,s:s,s:s,s:s}", "event", "tamper_detected",
	                 "tenant", tenant, "bucket", bucket, "version_id", vid,
	                 "error", cu_strerror(rc)));
}

/* The identity a data file is bound to: the version's, or for a part
 * "<version>.<part number>" (a part moved to another position, upload or
 * object does not open). */
static int part_id(const char *tenant, const char *bucket, const char *key,
                   size_t klen, const char *vid, uint32_t number,
                   unsigned char *id, size_t cap, size_t *id_len)
{
	char v[CU_SMETA_VID_MAX + 16];

	if (number == 0)
		return cu_skeys_object_id(tenant, bucket, key, klen, vid, id,
		                          cap, id_len);
	snprintf(v, sizeof(v), "%s.%u", vid, (unsigned)number);
	return cu_skeys_object_id(tenant, bucket, key, klen, v, id, cap,
	                          id_len);
}

static int open_part(struct stream *s, size_t i)
{
	unsigned char id[ID_MAX];
	struct dek_arg da;
	struct cu_sobj_subkeys sk = {subkey_get, subkey_put, &da};
	size_t id_len = 0;
	int rc;

	cu_sobj_reader_free(s->r);
	s->r = NULL;
	rc = part_id(s->tenant, s->bucket, s->key, s->key_len, s->vid,
	             s->parts[i].number, id, sizeof(id), &id_len);
	if (rc != 0)
		return rc;
	da.s3 = s->s3;
	da.tenant = s->tenant;
	da.id = id;
	da.id_len = id_len;
	rc = cu_sobj_reader_open_cached(s->s3->data_dir, s->parts[i].path,
	                                s->parts[i].size, id, id_len, get_dek,
	                                &da, &sk, &s->r);
	if (rc == 0)
		s->cur = i;
	return rc;
}

/* Plaintext at object offset `off`, from whichever part holds it. */
static int stream_at(struct stream *s, uint64_t off, char *buf, size_t max,
                     size_t *got)
{
	size_t i = s->r != NULL ? s->cur : 0;
	int rc;

	if (i < s->n_parts && off < s->parts[i].start)
		i = 0;
	while (i < s->n_parts && off >= s->parts[i].start + s->parts[i].size)
		i++;
	if (i >= s->n_parts)
		return CU_ERR_RANGE;
	if (s->r == NULL || s->cur != i) {
		if ((rc = open_part(s, i)) != 0)
			return rc;
	}
	return cu_sobj_reader_read(s->r, off - s->parts[i].start, buf, max,
	                           got);
}

static ssize_t stream_read(void *arg, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = arg;
	size_t got = 0, want;
	int rc;

	if (pos >= s->len)
		return CU_HTTP_STREAM_END;
	want = s->len - pos < max ? (size_t)(s->len - pos) : max;
	rc = stream_at(s, s->off + pos, buf, want, &got);
	if (rc != 0 || got == 0) {
		if (rc == CU_ERR_AUTH || rc == CU_ERR_NOTFOUND ||
		    rc == CU_ERR_PARSE)
			security_event(s->s3, s->tenant, s->bucket, s->vid, rc);
		return CU_HTTP_STREAM_ERROR;
	}
	return (ssize_t)got;
}

/* dir "/" file into out (cap bytes); CU_ERR_RANGE when too long. */
static int join(char *out, size_t cap, const char *dir, const char *file)
{
	size_t d = strlen(dir), f = strlen(file);

	if (d + 1 + f + 1 > cap)
		return CU_ERR_RANGE;
	memcpy(out, dir, d);
	out[d] = '/';
	memcpy(out + d + 1, file, f + 1);
	return 0;
}

struct parts_arg {
	struct stream *s;
	const char *dir;
};

static int add_part(void *arg, const struct cu_smeta_part *p)
{
	struct parts_arg *a = arg;
	struct stream *s = a->s;
	struct spart *sp;

	if (s->n_parts == s->cap_parts)
		return CU_ERR_DB; /* more rows than the object's count */
	sp = &s->parts[s->n_parts];
	sp->number = p->number;
	sp->size = p->size;
	if (s->n_parts > 0)
		sp->start = s->parts[s->n_parts - 1].start +
		            s->parts[s->n_parts - 1].size;
	if (join(sp->path, sizeof(sp->path), a->dir, p->file) != 0)
		return CU_ERR_DB;
	s->n_parts++;
	return 0;
}

/* The object's data files into s. */
static int stream_parts(struct cu_s3_req *rq, const struct cu_smeta_object *o,
                        struct stream *s)
{
	struct parts_arg pa;
	uint64_t total = 0;
	int rc;

	s->cap_parts = o->parts > 0 ? o->parts : 1;
	if ((s->parts = calloc(s->cap_parts, sizeof(*s->parts))) == NULL)
		return CU_ERR_NOMEM;
	if (o->parts == 0) {
		s->parts[0].size = o->size;
		snprintf(s->parts[0].path, sizeof(s->parts[0].path), "%s",
		         o->path);
		s->n_parts = 1;
		return 0;
	}
	pa.s = s;
	pa.dir = o->path;
	rc = cu_smeta_object_parts(rq->s3->meta, rq->tenant, rq->bucket,
	                           o->version_id, add_part, &pa);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < s->n_parts; i++)
		total += s->parts[i].size;
	if (s->n_parts != o->parts || total != o->size)
		return CU_ERR_DB;
	return 0;
}

static ssize_t no_body(void *arg, uint64_t pos, char *buf, size_t max)
{
	(void)arg;
	(void)pos;
	(void)buf;
	(void)max;
	return CU_HTTP_STREAM_ERROR;
}

/* An ETag list of If-Match / If-None-Match against ours ("*" matches). */
static int etag_matches(const char *list, const char *etag)
{
	size_t elen = strlen(etag), n;
	const char *p = list, *e;

	while (cu_http_list_next(&p, &e, &n)) {
		if (n == 1 && *e == '*')
			return 1;
		if (n >= 2 && e[0] == 'W' && e[1] == '/') {
			e += 2;
			n -= 2;
		}
		if (n == elen && memcmp(e, etag, elen) == 0)
			return 1;
		/* clients may send it without quotes */
		if (n == elen - 2 && memcmp(e, etag + 1, elen - 2) == 0)
			return 1;
	}
	return 0;
}

/* An HTTP date (IMF-fixdate) to Unix time; -1 when it does not parse. */
static int64_t parse_http_date(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	return (int64_t)timegm(&tm);
}

/* Conditional headers: 0 to go on, or a reply was made (1). */
static int preconditions(cu_http_req_t *req, const struct cu_smeta_object *o,
                         int *rc)
{
	const char *im = cu_http_req_header(req, "If-Match");
	const char *inm = cu_http_req_header(req, "If-None-Match");
	const char *ims = cu_http_req_header(req, "If-Modified-Since");
	const char *ius = cu_http_req_header(req, "If-Unmodified-Since");
	int64_t t;

	if (im != NULL && !etag_matches(im, o->etag)) {
		*rc = cu_s3_reply_error(req, 412, "PreconditionFailed",
		                        "At least one of the pre-conditions "
		                        "you specified did not hold");
		return 1;
	}
	if (im == NULL && ius != NULL && (t = parse_http_date(ius)) >= 0 &&
	    o->created > t) {
		*rc = cu_s3_reply_error(req, 412, "PreconditionFailed",
		                        "At least one of the pre-conditions "
		                        "you specified did not hold");
		return 1;
	}
	if ((inm != NULL && etag_matches(inm, o->etag)) ||
	    (inm == NULL && ims != NULL && (t = parse_http_date(ims)) >= 0 &&
	     o->created <= t)) {
		*rc = cu_s3_std_headers(req);
		if (*rc == 0)
			*rc = cu_http_set_header(req, "ETag", o->etag);
		if (*rc == 0)
			*rc = cu_http_reply(req, 304, NULL, 0, NULL);
		return 1;
	}
	return 0;
}

static int user_header(void *arg, const char *name, const char *value)
{
	char h[160];

	if ((size_t)snprintf(h, sizeof(h), "x-amz-meta-%s", name) >= sizeof(h))
		return 0;
	return cu_http_set_header(arg, h, value);
}

/* The standard headers: each from its response-* query parameter when
 * given (presigned downloads use them to name the file), else as stored
 * with the object (m may be NULL: none). A value that cannot be a header
 * (CR, LF) is ignored. */
static int std_headers(cu_http_req_t *req, const cu_sobjmeta_t *m)
{
	/* in cu_sobjmeta_std_name's order */
	_Static_assert(CU_SOBJMETA_N_STD == 5, "one query name per header");
	static const char *const query[CU_SOBJMETA_N_STD] = {
	    "response-cache-control",    "response-content-disposition",
	    "response-content-encoding", "response-content-language",
	    "response-expires",
	};

	for (size_t i = 0; i < CU_SOBJMETA_N_STD; i++) {
		const char *name = cu_sobjmeta_std_name(i);
		const char *v = cu_http_req_query(req, query[i]);
		int rc;

		if (v != NULL && v[0] != '\0') {
			rc = cu_http_set_header(req, name, v);
			if (rc == 0)
				continue;
			if (rc != CU_ERR_INVAL)
				return rc;
		}
		v = cu_sobjmeta_std(m, i);
		if (v != NULL && (rc = cu_http_set_header(req, name, v)) != 0 &&
		    rc != CU_ERR_INVAL)
			return rc;
	}
	return 0;
}

/* A stored version (its content or its metadata) that did not open: a
 * lost key is returned unanswered, for the dispatcher to answer as a
 * revocation (see settle); anything else is a 500, and a security event
 * when the version was altered or its file is gone. */
static int not_opened(cu_http_req_t *req, struct cu_s3_req *rq,
                      const struct cu_smeta_object *o, int rc)
{
	if (cu_s3_key_lost(rc))
		return rc;
	if (rc == CU_ERR_AUTH || rc == CU_ERR_PARSE ||
	    rc == CU_ERR_UNSUPPORTED || rc == CU_ERR_NOTFOUND)
		security_event(rq->s3, rq->tenant, rq->bucket, o->version_id,
		               rc);
	return cu_s3_reply_error(req, 500, "InternalError",
	                         "The stored object failed its integrity "
	                         "check.");
}

int cu_s3_get_object(cu_http_req_t *req, struct cu_s3_req *rq, int head)
{
	const char *ctype;
	struct cu_smeta_object *o = NULL;
	cu_sobjmeta_t *om = NULL;
	struct stream *s = NULL;
	unsigned char id[ID_MAX];
	const char *range = cu_http_req_header(req, "Range");
	uint64_t off = 0, count = 0;
	char date[40], len_s[32], cr[96];
	size_t id_len = 0;
	int rc, status = 200, ranged = 0, attempts = 0;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		return CU_ERR_NOMEM;
again:
	rc = cu_smeta_object_get(rq->s3->meta, rq->tenant, rq->bucket, rq->key,
	                         rq->key_len, o);
	if (rc == CU_ERR_NOTFOUND) {
		rc = cu_smeta_bucket_get(rq->s3->meta, rq->tenant, rq->bucket,
		                         NULL);
		if (rc == CU_ERR_NOTFOUND)
			rc = no_such_bucket(req);
		else if (rc == 0)
			rc = no_such_key(req);
		goto out;
	}
	if (rc != 0)
		goto out;
	if (preconditions(req, o, &rc))
		goto out;
	count = o->size;
	if (range != NULL) {
		rc = cu_srange_parse(range, strlen(range), o->size, &off,
		                     &count);
		if (rc == CU_ERR_RANGE) {
			snprintf(cr, sizeof(cr), "bytes */%llu",
			         (unsigned long long)o->size);
			(void)cu_http_set_header(req, "Content-Range", cr);
			rc = cu_s3_reply_error(req, 416, "InvalidRange",
			                       "The requested range is not "
			                       "satisfiable");
			goto out;
		}
		if (rc == 0) {
			ranged = 1;
			status = 206;
		} else {
			off = 0; /* not a range we serve: the whole object */
			count = o->size;
		}
	}
	rc = cu_skeys_object_id(rq->tenant, rq->bucket, o->key, o->key_len,
	                        o->version_id, id, sizeof(id), &id_len);
	if (rc != 0)
		goto out;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	s->s3 = rq->s3;
	s->off = off;
	s->len = count;
	memcpy(s->tenant, rq->tenant, sizeof(s->tenant));
	memcpy(s->bucket, rq->bucket, sizeof(s->bucket));
	memcpy(s->key, o->key, o->key_len + 1);
	s->key_len = o->key_len;
	memcpy(s->vid, o->version_id, sizeof(s->vid));
	if (!head) {
		char probe[1];
		size_t got = 0;

		rc = stream_parts(rq, o, s);
		/* open the file and decrypt the first segment served before
		 * answering, so a damaged object mostly fails with an error
		 * document rather than a cut connection */
		if (rc == 0 && count > 0)
			rc = stream_at(s, off, probe, 1, &got);
		else if (rc == 0)
			rc = open_part(s, 0);
		if (rc == CU_ERR_NOTFOUND && ++attempts < 3) {
			/* a PUT replaced this version (and removed its
			 * file) since we read the row: read it again */
			stream_free(s);
			s = NULL;
			cu_smeta_object_clear(o);
			off = 0;
			status = 200;
			ranged = 0;
			goto again;
		}
		if (rc != 0) {
			rc = not_opened(req, rq, o, rc);
			goto out;
		}
	}
	/* its metadata is sealed like its content, and as checked */
	if (o->meta_sealed_len > 0 &&
	    (rc = cu_sobjmeta_open(rq->s3->keys, rq->tenant, o->tk_version, id,
	                           id_len, o->meta_sealed, o->meta_sealed_len,
	                           &om)) != 0) {
		rc = not_opened(req, rq, o, rc);
		goto out;
	}
	if ((rc = cu_s3_std_headers(req)) != 0 ||
	    (rc = cu_sobjmeta_user_each(om, user_header, req)) != 0)
		goto out;
	cu_s3_http_date(o->created, date);
	snprintf(len_s, sizeof(len_s), "%llu", (unsigned long long)count);
	if ((rc = cu_http_set_header(req, "ETag", o->etag)) != 0 ||
	    (rc = cu_http_set_header(req, "Last-Modified", date)) != 0 ||
	    (rc = cu_http_set_header(req, "Accept-Ranges", "bytes")) != 0 ||
	    (rc = cu_s3_sse_headers(req, rq)) != 0)
		goto out;
	if (ranged) {
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu",
		         (unsigned long long)off,
		         (unsigned long long)(off + count - 1),
		         (unsigned long long)o->size);
		if ((rc = cu_http_set_header(req, "Content-Range", cr)) != 0)
			goto out;
	}
	if ((rc = std_headers(req, om)) != 0)
		goto out;
	ctype = cu_http_req_query(req, "response-content-type");
	if (ctype == NULL || ctype[0] == '\0' || strchr(ctype, '\r') != NULL ||
	    strchr(ctype, '\n') != NULL)
		ctype = o->content_type[0] != '\0' ? o->content_type
		                                   : "binary/octet-stream";
	rc = cu_http_reply_stream(req, status, count, ctype,
	                          head ? no_body : stream_read, s, stream_free);
	s = NULL;
out:
	stream_free(s);
	cu_sobjmeta_free(om);
	cu_smeta_object_clear(o);
	free(o);
	return rc;
}

/* ---- DeleteObject ------------------------------------------------- */

int cu_s3_delete_object(cu_http_req_t *req, struct cu_s3_req *rq)
{
	char old[CU_SMETA_PATH_MAX + 1];
	int rc, deleted = 0;

	rc = cu_smeta_object_delete(rq->s3->meta, rq->tenant, rq->bucket,
	                            rq->key, rq->key_len, old, &deleted);
	if (rc == CU_ERR_NOTFOUND)
		return no_such_bucket(req);
	if (rc != 0)
		return rc;
	if (deleted)
		(void)cu_sobj_remove(rq->s3->data_dir, old);
	if ((rc = cu_s3_std_headers(req)) != 0)
		return rc;
	return cu_http_reply(req, 204, NULL, 0, NULL);
}

/* ---- CopyObject --------------------------------------------------- */

/* x-amz-copy-source: "[/]bucket/key[?versionId=V]", URL-encoded. */
static int parse_copy_source(const char *v, char *bucket, char **key,
                             size_t *klen, char **version)
{
	size_t len = strlen(v), n = 0;
	char *dec = NULL, *q, *slash;
	const char *end = strstr(v, "?versionId=");

	*key = NULL;
	*version = NULL;
	if (end != NULL) {
		if ((*version = strdup(end + strlen("?versionId="))) == NULL)
			return CU_ERR_NOMEM;
		len = (size_t)(end - v);
	}
	if (len > 0 && v[0] == '/') {
		v++;
		len--;
	}
	if (len == 0 || len > 4 * CU_SMETA_KEY_MAX)
		return CU_ERR_PARSE;
	if ((dec = malloc(len + 1)) == NULL)
		return CU_ERR_NOMEM;
	if (cu_http_url_decode(v, len, dec, &n) != 0 ||
	    (slash = memchr(dec, '/', n)) == NULL) {
		free(dec);
		return CU_ERR_PARSE;
	}
	*slash = '\0';
	if (strlen(dec) > CU_SMETA_BUCKET_MAX) {
		free(dec);
		return CU_ERR_PARSE;
	}
	memcpy(bucket, dec, strlen(dec) + 1);
	q = slash + 1;
	*klen = n - (size_t)(q - dec);
	memmove(dec, q, *klen);
	dec[*klen] = '\0';
	*key = dec;
	return 0;
}

int cu_s3_copy_object(cu_http_req_t *req, struct cu_s3_req *rq)
{
	const char *cs = cu_http_req_header(req, "x-amz-copy-source");
	const char *dir = cu_http_req_header(req, "x-amz-metadata-directive");
	char sbucket[CU_SMETA_BUCKET_MAX + 1], *skey = NULL, *version = NULL;
	struct cu_smeta_object *src = NULL;
	cu_sobjmeta_t *sm = NULL;
	struct stream *s = NULL;
	unsigned char sid[ID_MAX];
	char *buf = NULL;
	size_t sklen = 0, sid_len = 0;
	uint64_t first = 0, count = 0;
	int rc, replace;

	replace = dir != NULL && strcmp(dir, "REPLACE") == 0;
	if (dir != NULL && !replace && strcmp(dir, "COPY") != 0)
		return cu_s3_reply_error(req, 400, "InvalidArgument",
		                         "Unknown metadata directive.");
	rc = parse_copy_source(cs != NULL ? cs : "", sbucket, &skey, &sklen,
	                       &version);
	if (rc == CU_ERR_NOMEM)
		goto out;
	if (rc != 0 || !cu_s3_bucket_name_ok(sbucket) ||
	    !cu_s3_key_ok(skey, sklen)) {
		rc = cu_s3_reply_error(
		    req, 400, "InvalidArgument",
		    "Copy Source must mention the source "
		    "bucket and key: sourcebucket/sourcekey.");
		goto out;
	}
	rc = CU_ERR_NOMEM;
	if ((src = calloc(1, sizeof(*src))) == NULL)
		goto out;
	/* the source is looked up in the caller's own tenant only */
	rc = cu_smeta_object_get(rq->s3->meta, rq->tenant, sbucket, skey, sklen,
	                         src);
	if (rc == CU_ERR_NOTFOUND) {
		if (cu_smeta_bucket_get(rq->s3->meta, rq->tenant, sbucket,
		                        NULL) == CU_ERR_NOTFOUND)
			rc = no_such_bucket(req);
		else
			rc = no_such_key(req);
		goto out;
	}
	if (rc != 0)
		goto out;
	if (version != NULL && strcmp(version, "null") != 0 &&
	    strcmp(version, src->version_id) != 0) {
		rc = cu_s3_reply_error(req, 404, "NoSuchVersion",
		                       "The specified version does not exist.");
		goto out;
	}
	if (rq->part_number > 0) {
		/* UploadPartCopy: a byte range of the source, or all of it */
		const char *cr =
		    cu_http_req_header(req, "x-amz-copy-source-range");

		first = 0;
		count = src->size;
		if (cr != NULL && (strncmp(cr, "bytes=", 6) != 0 ||
		                   cr[6] == '-' || cr[strlen(cr) - 1] == '-' ||
		                   cu_srange_parse(cr, strlen(cr), src->size,
		                                   &first, &count) != 0 ||
		                   strchr(cr, '-') == NULL)) {
			rc = cu_s3_reply_error(
			    req, 400, "InvalidArgument",
			    "Range specified is not valid for "
			    "source object.");
			goto out;
		}
		replace = 1; /* parts carry no metadata */
	}
	if (rq->part_number == 0 && !replace &&
	    strcmp(sbucket, rq->bucket) == 0 && sklen == rq->key_len &&
	    memcmp(skey, rq->key, sklen) == 0) {
		rc = cu_s3_reply_error(
		    req, 400, "InvalidRequest",
		    "This copy request is illegal because it is trying to copy "
		    "an object to itself without changing the object's "
		    "metadata, storage class, website redirect location or "
		    "encryption attributes.");
		goto out;
	}
	if (rq->part_number == 0)
		count = src->size;
	rc = cu_skeys_object_id(rq->tenant, sbucket, src->key, src->key_len,
	                        src->version_id, sid, sizeof(sid), &sid_len);
	if (rc != 0)
		goto out;
	/* COPY directive: the source's metadata, checked as its content is
	 * (and as a GET checks it), before a byte is copied */
	if (!replace &&
	    (rc = cu_sobjmeta_open(rq->s3->keys, rq->tenant, src->tk_version,
	                           sid, sid_len, src->meta_sealed,
	                           src->meta_sealed_len, &sm)) != 0)
		goto checked;
	/* the new version: DEK, file, encryptor, as for a PUT */
	if ((rc = cu_s3_put_begin(req, rq)) != 0 || cu_http_replied(req))
		goto out;
	rc = CU_ERR_NOMEM;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (buf = malloc(CU_SEG_SEGMENT_SIZE)) == NULL)
		goto out;
	s->s3 = rq->s3;
	s->len = src->size;
	memcpy(s->tenant, rq->tenant, sizeof(s->tenant));
	memcpy(s->bucket, sbucket, sizeof(s->bucket));
	memcpy(s->key, src->key, src->key_len + 1);
	s->key_len = src->key_len;
	memcpy(s->vid, src->version_id, sizeof(s->vid));
	{
		struct cu_s3_req srq = *rq;

		memcpy(srq.bucket, sbucket, sizeof(srq.bucket));
		rc = stream_parts(&srq, src, s);
	}
	if (rc != 0)
		goto out;
	if (count == 0)
		rc = open_part(s, 0); /* authenticate even an empty source */
	for (uint64_t off = first; rc == 0 && off < first + count;) {
		size_t got = 0, want = CU_SEG_SEGMENT_SIZE;

		if (first + count - off < want)
			want = (size_t)(first + count - off);
		rc = stream_at(s, off, buf, want, &got);
		if (rc == 0 && got == 0)
			rc = CU_ERR_AUTH;
		if (rc == 0)
			rc = upload_sink(rq, (const unsigned char *)buf, got);
		off += got;
	}
checked:
	if (rc == CU_ERR_AUTH || rc == CU_ERR_PARSE || rc == CU_ERR_NOTFOUND ||
	    rc == CU_ERR_UNSUPPORTED) {
		security_event(rq->s3, rq->tenant, sbucket, src->version_id,
		               rc);
		rc = cu_s3_reply_error(req, 500, "InternalError",
		                       "The source object failed its integrity "
		                       "check.");
		goto out;
	}
	if (rc != 0)
		goto out;
	{
		struct upload *u = rq->upload;

		u->copy = 1;
		if (!replace) {
			cu_sobjmeta_free(u->meta);
			u->meta = sm;
			sm = NULL;
			u->src = src;
		}
		rc = cu_s3_put_end(req, rq);
		u->src = NULL;
	}
out:
	if (buf != NULL) {
		cu_memzero(buf, CU_SEG_SEGMENT_SIZE);
		free(buf);
	}
	stream_free(s);
	cu_sobjmeta_free(sm);
	if (src != NULL) {
		cu_smeta_object_clear(src);
		free(src);
	}
	free(skey);
	free(version);
	return rc;
}

int cu_s3_get_tagging(cu_http_req_t *req, struct cu_s3_req *rq)
{
	struct cu_smeta_object *o = calloc(1, sizeof(*o));
	cu_xmlw_t *w = NULL;
	char *doc = NULL;
	size_t len = 0;
	int rc;

	if (o == NULL)
		return CU_ERR_NOMEM;
	rc = cu_smeta_object_get(rq->s3->meta, rq->tenant, rq->bucket, rq->key,
	                         rq->key_len, o);
	if (rc == CU_ERR_NOTFOUND) {
		if (cu_smeta_bucket_get(rq->s3->meta, rq->tenant, rq->bucket,
		                        NULL) == CU_ERR_NOTFOUND)
			rc = no_such_bucket(req);
		else
			rc = no_such_key(req);
		goto out;
	}
	if (rc != 0 || (rc = cu_xmlw_new(0, &w)) != 0)
		goto out;
	cu_xmlw_decl(w);
	cu_xmlw_open(w, "Tagging", CU_XMLW_S3_NS);
	cu_xmlw_open(w, "TagSet", NULL);
	cu_xmlw_close(w);
	cu_xmlw_close(w);
	if ((rc = cu_xmlw_finish(w, &doc, &len)) == 0 &&
	    (rc = cu_s3_std_headers(req)) == 0)
		rc = cu_http_reply(req, 200, doc, len, "application/xml");
out:
	free(doc);
	cu_xmlw_free(w);
	cu_smeta_object_clear(o);
	free(o);
	return rc;
}

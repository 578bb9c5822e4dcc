/* s3_object.c - PutObject, GetObject, HeadObject, DeleteObject: objects
 * encrypted on the way in and decrypted on the way out, streaming. */
#include "core/b64.h"
#include "core/crypto/aead.h"
#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secmem.h"
#include "store/objfile.h"
#include "store/range.h"
#include "store/s3.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define VID_BYTES 16 /* version ids: 32 hex digits */
#define ID_MAX                                                                 \
	(4 * 4 + CU_SMETA_ID_MAX + CU_SMETA_BUCKET_MAX + CU_SMETA_KEY_MAX +    \
	 2 * VID_BYTES)

static const char meta_label[] = "custos/meta/v1";

struct upload {
	cu_sobj_writer_t *w;
	char vid[2 * VID_BYTES + 1];
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

/* Bytes of user metadata (names without the prefix, and values), as S3
 * counts them against its 2 KB limit. */
static size_t usermeta_size(cu_http_req_t *req, struct cu_s3_req *rq)
{
	size_t total = 0;

	for (size_t i = 0; i < rq->n_meta_names; i++) {
		const char *v = cu_http_req_header(req, rq->meta_names[i]);

		if (v != NULL)
			total += strlen(rq->meta_names[i]) -
			         strlen("x-amz-meta-") + strlen(v);
	}
	return total;
}

int cu_s3_put_begin(cu_http_req_t *req, struct cu_s3_req *rq)
{
	unsigned char *dek = NULL;
	unsigned char wrapped[CU_SKEYS_DEK_WRAPPED];
	struct upload *u = NULL;
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
	if (usermeta_size(req, rq) > CU_S3_MAX_USERMETA)
		return cu_s3_reply_error(req, 400, "MetadataTooLarge",
		                         "Your metadata headers exceed the "
		                         "maximum allowed metadata size.");
	rc = cu_smeta_bucket_get(rq->s3->meta, rq->tenant, rq->bucket, NULL);
	if (rc == CU_ERR_NOTFOUND)
		return no_such_bucket(req);
	if (rc != 0)
		return rc;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return CU_ERR_NOMEM;
	u->max = CU_S3_MAX_OBJECT;
	rq->upload = u;
	rq->upload_free = upload_free;
	if ((rc = cu_rand_hex(u->vid, VID_BYTES)) != 0)
		return rc;
	rc = cu_skeys_object_id(rq->tenant, rq->bucket, rq->key, rq->key_len,
	                        u->vid, u->id, sizeof(u->id), &u->id_len);
	if (rc != 0)
		return rc;
	if ((dek = cu_secmem_alloc(CU_SKEYS_KEY_LEN)) == NULL)
		return CU_ERR_NOMEM;
	rc = cu_skeys_dek_new(rq->s3->keys, rq->tenant, u->id, u->id_len, dek,
	                      wrapped, sizeof(wrapped), &wlen, &u->tk_version);
	if (rc != 0)
		goto out;
	rc = cu_sobj_writer_new(rq->s3->data_dir, rq->tenant, u->vid, dek,
	                        u->tk_version, wrapped, wlen, u->id, u->id_len,
	                        &u->w);
	if (rc != 0)
		goto out;
	rq->upload_sink = upload_sink;
out:
	cu_secmem_free(dek, CU_SKEYS_KEY_LEN);
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

/* The signed x-amz-meta-* headers as a JSON object, sealed under the
 * tenant key with the object identity bound. *out NULL when none. */
static int seal_usermeta(cu_http_req_t *req, struct cu_s3_req *rq,
                         struct upload *u, unsigned char **out, size_t *len,
                         int *too_large)
{
	json_t *obj = NULL;
	char *text = NULL;
	unsigned char *aad = NULL;
	size_t total = 0, tlen, alen;
	int rc = 0;

	*out = NULL;
	*len = 0;
	*too_large = 0;
	if (rq->n_meta_names == 0)
		return 0;
	if ((obj = json_object()) == NULL)
		return CU_ERR_NOMEM;
	for (size_t i = 0; i < rq->n_meta_names; i++) {
		const char *name = rq->meta_names[i] + strlen("x-amz-meta-");
		const char *v = cu_http_req_header(req, rq->meta_names[i]);
		json_t *js;

		if (v == NULL)
			continue;
		total += strlen(name) + strlen(v);
		if (total > CU_S3_MAX_USERMETA) {
			*too_large = 1;
			rc = CU_ERR_TOOLARGE;
			goto out;
		}
		if ((js = json_string(v)) == NULL ||
		    json_object_set_new(obj, name, js) != 0) {
			rc = CU_ERR_INVAL; /* not UTF-8 */
			goto out;
		}
	}
	if ((text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	tlen = strlen(text);
	alen = sizeof(meta_label) - 1 + u->id_len;
	if ((aad = malloc(alen)) == NULL ||
	    (*out = malloc(tlen + CU_SKEYS_DEK_WRAPPED)) == NULL) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	memcpy(aad, meta_label, sizeof(meta_label) - 1);
	memcpy(aad + sizeof(meta_label) - 1, u->id, u->id_len);
	rc = cu_skeys_seal(rq->s3->keys, rq->tenant, u->tk_version, aad, alen,
	                   text, tlen, *out, tlen + CU_SKEYS_DEK_WRAPPED, len);
out:
	if (rc != 0) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	if (text != NULL) {
		cu_memzero(text, strlen(text));
		free(text);
	}
	free(aad);
	json_decref(obj);
	return rc;
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

int cu_s3_put_end(cu_http_req_t *req, struct cu_s3_req *rq)
{
	struct upload *u = rq->upload;
	struct cu_smeta_object *o = NULL;
	const char *ct = cu_http_req_header(req, "Content-Type");
	char old[CU_SMETA_PATH_MAX + 1];
	unsigned char md5[16];
	uint64_t size = 0;
	int rc, replaced = 0, too_large = 0;

	if (u == NULL || u->w == NULL)
		return CU_ERR_INTERNAL;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return CU_ERR_NOMEM;
	rc = seal_usermeta(req, rq, u, &o->meta_sealed, &o->meta_sealed_len,
	                   &too_large);
	if (rc != 0) {
		if (too_large)
			rc = cu_s3_reply_error(
			    req, 400, "MetadataTooLarge",
			    "Your metadata headers exceed the "
			    "maximum allowed metadata size.");
		else if (rc == CU_ERR_INVAL)
			rc = cu_s3_reply_error(req, 400, "InvalidArgument",
			                       "User metadata must be UTF-8.");
		goto out;
	}
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
	o->etag[0] = '"';
	for (int i = 0; i < 16; i++) {
		static const char hex[] = "0123456789abcdef";
		o->etag[1 + 2 * i] = hex[md5[i] >> 4];
		o->etag[2 + 2 * i] = hex[md5[i] & 15];
	}
	o->etag[33] = '"';
	o->etag[34] = '\0';
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
	if ((rc = cu_s3_std_headers(req)) != 0 ||
	    (rc = cu_http_set_header(req, "ETag", o->etag)) != 0 ||
	    (rc = cu_http_set_header(req, "x-amz-server-side-encryption",
	                             "AES256")) != 0)
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

static void security_event(const char *tenant, const char *bucket,
                           const char *vid, int rc)
{
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
	rc = cu_sobj_reader_open(s->s3->data_dir, s->parts[i].path,
	                         s->parts[i].size, id, id_len, get_dek, &da,
	                         &s->r);
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
	while (i < s->n_parts &&
	       off >= s->parts[i].start + s->parts[i].size)
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
			security_event(s->tenant, s->bucket, s->vid, rc);
		return CU_HTTP_STREAM_ERROR;
	}
	return (ssize_t)got;
}

static int add_part(void *arg, const struct cu_smeta_part *p)
{
	struct stream *s = arg;
	struct spart *sp;
	const char *dir = s->parts[0].path; /* set by the caller */

	if (s->n_parts == s->cap_parts)
		return CU_ERR_DB; /* more rows than the object's count */
	sp = &s->parts[s->n_parts];
	sp->number = p->number;
	sp->size = p->size;
	sp->start = s->n_parts == 0
	                ? 0
	                : s->parts[s->n_parts - 1].start +
	                      s->parts[s->n_parts - 1].size;
	if (s->n_parts == 0) {
		char tmp[sizeof(sp->path)];

		snprintf(tmp, sizeof(tmp), "%s", dir);
		snprintf(sp->path, sizeof(sp->path), "%s/%s", tmp, p->file);
	} else {
		/* the directory is the first part's path without its file */
		const char *slash = strrchr(s->parts[0].path, '/');
		int n = (int)(slash - s->parts[0].path);

		snprintf(sp->path, sizeof(sp->path), "%.*s/%s", n,
		         s->parts[0].path, p->file);
	}
	s->n_parts++;
	return 0;
}

/* The object's data files into s. */
static int stream_parts(struct cu_s3_req *rq, const struct cu_smeta_object *o,
                        struct stream *s)
{
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
	snprintf(s->parts[0].path, sizeof(s->parts[0].path), "%s", o->path);
	rc = cu_smeta_object_parts(rq->s3->meta, rq->tenant, rq->bucket,
	                           o->version_id, add_part, s);
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
	size_t elen = strlen(etag);
	const char *p = list;

	while (*p != '\0') {
		const char *start, *end;

		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end - start == 1 && *start == '*')
			return 1;
		if (end - start >= 2 && start[0] == 'W' && start[1] == '/')
			start += 2;
		if ((size_t)(end - start) == elen &&
		    memcmp(start, etag, elen) == 0)
			return 1;
		/* clients may send it without quotes */
		if ((size_t)(end - start) == elen - 2 &&
		    memcmp(start, etag + 1, elen - 2) == 0)
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

/* x-amz-meta-* headers from the sealed metadata. */
static int usermeta_headers(cu_http_req_t *req, struct cu_s3_req *rq,
                            const struct cu_smeta_object *o,
                            const unsigned char *id, size_t id_len)
{
	unsigned char *aad = NULL, *pt = NULL;
	size_t alen = sizeof(meta_label) - 1 + id_len, n = 0;
	json_t *obj = NULL, *v;
	const char *k;
	int rc;

	if (o->meta_sealed == NULL || o->meta_sealed_len < CU_AEAD_OVERHEAD)
		return 0;
	if ((aad = malloc(alen)) == NULL ||
	    (pt = malloc(o->meta_sealed_len)) == NULL) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	memcpy(aad, meta_label, sizeof(meta_label) - 1);
	memcpy(aad + sizeof(meta_label) - 1, id, id_len);
	rc = cu_skeys_open(rq->s3->keys, rq->tenant, o->tk_version, aad, alen,
	                   o->meta_sealed, o->meta_sealed_len, pt,
	                   o->meta_sealed_len, &n);
	if (rc != 0)
		goto out;
	if ((obj = json_loadb((const char *)pt, n, JSON_REJECT_DUPLICATES,
	                      NULL)) == NULL ||
	    !json_is_object(obj)) {
		rc = CU_ERR_PARSE;
		goto out;
	}
	json_object_foreach(obj, k, v)
	{
		char name[160];

		if (!json_is_string(v))
			continue;
		if ((size_t)snprintf(name, sizeof(name), "x-amz-meta-%s", k) >=
		    sizeof(name))
			continue;
		if ((rc = cu_http_set_header(req, name,
		                             json_string_value(v))) != 0)
			goto out;
	}
	rc = 0;
out:
	if (pt != NULL) {
		cu_memzero(pt, o->meta_sealed_len);
		free(pt);
	}
	free(aad);
	json_decref(obj);
	return rc;
}

int cu_s3_get_object(cu_http_req_t *req, struct cu_s3_req *rq, int head)
{
	struct cu_smeta_object *o = NULL;
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
			if (rc == CU_ERR_AUTH || rc == CU_ERR_PARSE ||
			    rc == CU_ERR_UNSUPPORTED || rc == CU_ERR_NOTFOUND)
				security_event(rq->tenant, rq->bucket,
				               o->version_id, rc);
			rc = cu_s3_reply_error(req, 500, "InternalError",
			                       "The stored object failed its "
			                       "integrity check.");
			goto out;
		}
	}
	if ((rc = cu_s3_std_headers(req)) != 0 ||
	    (rc = usermeta_headers(req, rq, o, id, id_len)) != 0)
		goto out;
	cu_s3_http_date(o->created, date);
	snprintf(len_s, sizeof(len_s), "%llu", (unsigned long long)count);
	if ((rc = cu_http_set_header(req, "ETag", o->etag)) != 0 ||
	    (rc = cu_http_set_header(req, "Last-Modified", date)) != 0 ||
	    (rc = cu_http_set_header(req, "Accept-Ranges", "bytes")) != 0 ||
	    (rc = cu_http_set_header(req, "x-amz-server-side-encryption",
	                             "AES256")) != 0)
		goto out;
	if (ranged) {
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu",
		         (unsigned long long)off,
		         (unsigned long long)(off + count - 1),
		         (unsigned long long)o->size);
		if ((rc = cu_http_set_header(req, "Content-Range", cr)) != 0)
			goto out;
	}
	rc = cu_http_reply_stream(req, status, count,
	                          o->content_type[0] != '\0'
	                              ? o->content_type
	                              : "binary/octet-stream",
	                          head ? no_body : stream_read, s, stream_free);
	s = NULL;
out:
	stream_free(s);
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

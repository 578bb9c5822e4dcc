/* s3_multipart.c - multipart uploads: create, complete, abort, list
 * parts. (UploadPart streams like PutObject: s3_object.c.)
 *
 * Each part is its own encrypted file, with its own DEK, bound to the
 * identity "<upload id>.<part number>" of its object, in the upload's
 * directory. Completing records the chosen parts as the object's
 * manifest and makes the upload id the object's version id, in one
 * transaction; parts uploaded but not chosen are removed after it. */
#include "core/crypto/hash.h"
#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/log.h"
#include "store/objfile.h"
#include "store/s3.h"
#include "store/s3xml.h"
#include "store/xmlw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UPLOAD_ID_BYTES 16
#define MIN_PART_SIZE   (5u * 1024 * 1024) /* all parts but the last */
#define ID_MAX                                                                 \
	(4 * 4 + CU_SMETA_ID_MAX + CU_SMETA_BUCKET_MAX + CU_SMETA_KEY_MAX +    \
	 CU_SMETA_VID_MAX)
#define XML_MAX (16u * 1024 * 1024)

static int reply_xml(cu_http_req_t *req, cu_xmlw_t *w)
{
	char *doc = NULL;
	size_t len = 0;
	int rc;

	if ((rc = cu_xmlw_finish(w, &doc, &len)) != 0)
		return rc;
	if ((rc = cu_s3_std_headers(req)) == 0)
		rc = cu_http_reply(req, 200, doc, len, "application/xml");
	free(doc);
	return rc;
}

static int no_such_upload(cu_http_req_t *req)
{
	return cu_s3_reply_error(req, 404, "NoSuchUpload",
	                         "The specified upload does not exist. The "
	                         "upload ID may be invalid, or the upload may "
	                         "have been aborted or completed.");
}

/* The upload named by the request, for its key. */
static int find_upload(cu_http_req_t *req, struct cu_s3_req *rq,
                       struct cu_smeta_upload *u, int *replied)
{
	int rc;

	*replied = 0;
	rc = cu_smeta_upload_get(rq->s3->meta, rq->tenant, rq->bucket,
	                         rq->upload_id, u);
	if (rc == 0 && (u->key_len != rq->key_len ||
	                memcmp(u->key, rq->key, rq->key_len) != 0)) {
		cu_smeta_upload_clear(u);
		rc = CU_ERR_NOTFOUND;
	}
	if (rc == CU_ERR_NOTFOUND) {
		*replied = 1;
		if (cu_smeta_bucket_get(rq->s3->meta, rq->tenant, rq->bucket,
		                        NULL) == CU_ERR_NOTFOUND)
			return cu_s3_reply_error(
			    req, 404, "NoSuchBucket",
			    "The specified bucket does not exist.");
		return no_such_upload(req);
	}
	return rc;
}

int cu_s3_mpu_create(cu_http_req_t *req, struct cu_s3_req *rq)
{
	struct cu_smeta_upload u;
	cu_sobjmeta_t *meta = NULL;
	const char *ct = cu_http_req_header(req, "Content-Type");
	unsigned char w[CU_SKEYS_WRAPPED_MAX], id[ID_MAX];
	size_t wl = 0, id_len = 0;
	cu_xmlw_t *x = NULL;
	int rc;

	memset(&u, 0, sizeof(u));
	if (ct != NULL && strlen(ct) > CU_SMETA_CTYPE_MAX)
		return cu_s3_reply_error(req, 400, "InvalidArgument",
		                         "Content-Type is too long.");
	if ((rc = cu_s3_objmeta(req, rq, &meta)) != 0 || meta == NULL)
		return rc; /* refused with a reply, or rc */
	rc = cu_smeta_bucket_get(rq->s3->meta, rq->tenant, rq->bucket, NULL);
	if (rc == CU_ERR_NOTFOUND) {
		rc = cu_s3_reply_error(req, 404, "NoSuchBucket",
		                       "The specified bucket does not exist.");
		goto out;
	}
	if (rc != 0 || (rc = cu_rand_hex(u.upload_id, UPLOAD_ID_BYTES)) != 0)
		goto out;
	memcpy(u.key, rq->key, rq->key_len);
	u.key_len = rq->key_len;
	snprintf(u.content_type, sizeof(u.content_type), "%s",
	         ct != NULL ? ct : "");
	/* the metadata is sealed now, under the tenant's latest key, with
	 * the identity the completed object will have */
	rc = cu_smeta_tk_get(rq->s3->meta, rq->tenant, 0, w, sizeof(w), &wl,
	                     &u.tk_version);
	if (rc != 0)
		goto out;
	rc = cu_skeys_object_id(rq->tenant, rq->bucket, rq->key, rq->key_len,
	                        u.upload_id, id, sizeof(id), &id_len);
	if (rc != 0)
		goto out;
	rc = cu_sobjmeta_seal(meta, rq->s3->keys, rq->tenant, u.tk_version, id,
	                      id_len, &u.meta_sealed, &u.meta_sealed_len);
	if (rc == CU_ERR_TOOLARGE) {
		rc = cu_s3_objmeta_refuse(req, rc);
		goto out;
	}
	if (rc != 0)
		goto out;
	if ((rc = cu_sobj_upload_dir(rq->tenant, u.upload_id, u.path)) != 0)
		goto out;
	u.created = (int64_t)time(NULL);
	if ((rc = cu_smeta_upload_create(rq->s3->meta, rq->tenant, rq->bucket,
	                                 &u)) != 0)
		goto out;
	if ((rc = cu_xmlw_new(0, &x)) != 0)
		goto out;
	cu_xmlw_decl(x);
	cu_xmlw_open(x, "InitiateMultipartUploadResult", CU_XMLW_S3_NS);
	cu_xmlw_str(x, "Bucket", rq->bucket);
	cu_xmlw_text(x, "Key", rq->key, rq->key_len);
	cu_xmlw_str(x, "UploadId", u.upload_id);
	cu_xmlw_close(x);
	if ((rc = cu_s3_sse_headers(req, rq)) != 0)
		goto out;
	rc = reply_xml(req, x);
out:
	cu_xmlw_free(x);
	cu_sobjmeta_free(meta);
	cu_smeta_upload_clear(&u);
	return rc;
}

struct part_set {
	struct cu_smeta_part *p;
	size_t n, cap;
};

static int collect_part(void *arg, const struct cu_smeta_part *p)
{
	struct part_set *ps = arg;

	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 16;
		struct cu_smeta_part *np = realloc(ps->p, cap * sizeof(*np));

		if (np == NULL)
			return CU_ERR_NOMEM;
		ps->p = np;
		ps->cap = cap;
	}
	ps->p[ps->n++] = *p;
	return 0;
}

static const struct cu_smeta_part *find_part(const struct part_set *ps,
                                             uint32_t number)
{
	size_t lo = 0, hi = ps->n;

	while (lo < hi) { /* parts come sorted by number */
		size_t mid = lo + (hi - lo) / 2;

		if (ps->p[mid].number == number)
			return &ps->p[mid];
		if (ps->p[mid].number < number)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A client's ETag for a part: with or without quotes. */
static int etag_eq(const char *client, const char *ours)
{
	size_t cl = strlen(client), ol = strlen(ours);

	if (cl == ol && strcmp(client, ours) == 0)
		return 1;
	return cl + 2 == ol && memcmp(client, ours + 1, cl) == 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int cu_s3_mpu_complete(cu_http_req_t *req, struct cu_s3_req *rq)
{
	struct cu_s3xml_complete *c = NULL;
	struct cu_smeta_upload u;
	struct part_set all = {0};
	struct cu_smeta_part *chosen = NULL;
	struct cu_smeta_object *o = NULL;
	char old[CU_SMETA_PATH_MAX + 1], fpath[CU_SMETA_PATH_MAX + 80];
	unsigned char md5[16];
	cu_hash_t *h = NULL;
	cu_xmlw_t *x = NULL;
	uint64_t total = 0;
	size_t n = 0;
	int rc, replied, replaced = 0;

	memset(&u, 0, sizeof(u));
	if ((rc = find_upload(req, rq, &u, &replied)) != 0 || replied)
		return rc;
	rc = cu_s3xml_parse_complete(rq->body != NULL ? rq->body : "",
	                             rq->body_len, 0, &c);
	if (rc == CU_ERR_NOMEM)
		goto out;
	if (rc != 0) {
		rc =
		    cu_s3_reply_error(req, 400, cu_s3xml_s3code(rc),
		                      "The XML you provided was not "
		                      "well-formed or did not validate against "
		                      "our published schema.");
		goto out;
	}
	rc = cu_smeta_part_list(rq->s3->meta, u.upload_id, 0, 10000,
	                        collect_part, &all);
	if (rc != 0)
		goto out;
	rc = CU_ERR_NOMEM;
	if ((chosen = calloc(c->n_parts, sizeof(*chosen))) == NULL ||
	    (o = calloc(1, sizeof(*o))) == NULL)
		goto out;
	if ((rc = cu_hash_new(CU_HASH_MD5, &h)) != 0)
		goto out;
	for (size_t i = 0; i < c->n_parts; i++) {
		const struct cu_smeta_part *p =
		    find_part(&all, c->parts[i].number);
		unsigned char pm[16];

		if (p == NULL || !etag_eq(c->parts[i].etag, p->etag)) {
			rc = cu_s3_reply_error(
			    req, 400, "InvalidPart",
			    "One or more of the specified parts could not be "
			    "found. The part may not have been uploaded, or "
			    "the specified entity tag may not match the part's "
			    "entity tag.");
			goto out;
		}
		if (i + 1 < c->n_parts && p->size < MIN_PART_SIZE) {
			rc = cu_s3_reply_error(
			    req, 400, "EntityTooSmall",
			    "Your proposed upload is smaller than the minimum "
			    "allowed object size.");
			goto out;
		}
		for (int k = 0; k < 16; k++) {
			int hi = hexval(p->etag[1 + 2 * k]);
			int lo = hexval(p->etag[2 + 2 * k]);

			if (hi < 0 || lo < 0) {
				rc = CU_ERR_DB;
				goto out;
			}
			pm[k] = (unsigned char)(hi << 4 | lo);
		}
		if ((rc = cu_hash_update(h, pm, sizeof(pm))) != 0)
			goto out;
		chosen[n++] = *p;
		total += p->size;
	}
	{
		size_t ml = 0;

		if ((rc = cu_hash_final(h, md5, sizeof(md5), &ml)) != 0)
			goto out;
	}
	/* S3's multipart ETag: MD5 of the parts' MD5s, dash, part count */
	{
		static const char hex[] = "0123456789abcdef";
		size_t k = 0;

		o->etag[k++] = '"';
		for (int i = 0; i < 16; i++) {
			o->etag[k++] = hex[md5[i] >> 4];
			o->etag[k++] = hex[md5[i] & 15];
		}
		snprintf(o->etag + k, sizeof(o->etag) - k, "-%zu\"", n);
	}
	memcpy(o->key, rq->key, rq->key_len);
	o->key_len = rq->key_len;
	memcpy(o->version_id, u.upload_id, sizeof(o->version_id));
	o->size = total;
	memcpy(o->content_type, u.content_type, sizeof(o->content_type));
	o->meta_sealed = u.meta_sealed; /* borrowed: u frees it */
	o->meta_sealed_len = u.meta_sealed_len;
	o->tk_version = u.tk_version;
	memcpy(o->path, u.path, sizeof(o->path));
	o->created = (int64_t)time(NULL);
	o->parts = (uint32_t)n;
	rc =
	    cu_smeta_upload_complete(rq->s3->meta, rq->tenant, rq->bucket,
	                             u.upload_id, o, chosen, n, old, &replaced);
	o->meta_sealed = NULL;
	if (rc == CU_ERR_NOTFOUND) {
		rc = no_such_upload(req);
		goto out;
	}
	if (rc != 0)
		goto out;
	/* parts uploaded but not chosen */
	for (size_t i = 0; i < all.n; i++) {
		const struct cu_smeta_part *p = &all.p[i];
		int used = 0;

		for (size_t k = 0; k < n && !used; k++)
			used = strcmp(chosen[k].file, p->file) == 0;
		if (!used && (size_t)snprintf(fpath, sizeof(fpath), "%s/%s",
		                              u.path, p->file) < sizeof(fpath))
			(void)cu_sobj_remove(rq->s3->data_dir, fpath);
	}
	if (replaced)
		(void)cu_sobj_remove(rq->s3->data_dir, old);
	if ((rc = cu_xmlw_new(0, &x)) != 0)
		goto out;
	cu_xmlw_decl(x);
	cu_xmlw_open(x, "CompleteMultipartUploadResult", CU_XMLW_S3_NS);
	snprintf(fpath, sizeof(fpath), "/%s", rq->bucket);
	cu_xmlw_str(x, "Location", fpath);
	cu_xmlw_str(x, "Bucket", rq->bucket);
	cu_xmlw_text(x, "Key", rq->key, rq->key_len);
	cu_xmlw_str(x, "ETag", o->etag);
	cu_xmlw_close(x);
	if ((rc = cu_s3_sse_headers(req, rq)) != 0)
		goto out;
	rc = reply_xml(req, x);
out:
	cu_xmlw_free(x);
	cu_hash_free(h);
	cu_s3xml_complete_free(c);
	free(all.p);
	free(chosen);
	if (o != NULL) {
		o->meta_sealed = NULL;
		cu_smeta_object_clear(o);
		free(o);
	}
	cu_smeta_upload_clear(&u);
	return rc;
}

int cu_s3_mpu_abort(cu_http_req_t *req, struct cu_s3_req *rq)
{
	struct cu_smeta_upload u;
	char path[CU_SMETA_PATH_MAX + 1];
	int rc, replied;

	memset(&u, 0, sizeof(u));
	if ((rc = find_upload(req, rq, &u, &replied)) != 0 || replied)
		return rc;
	cu_smeta_upload_clear(&u);
	rc = cu_smeta_upload_abort(rq->s3->meta, rq->tenant, rq->bucket,
	                           rq->upload_id, path);
	if (rc == CU_ERR_NOTFOUND)
		return no_such_upload(req);
	if (rc != 0)
		return rc;
	(void)cu_sobj_remove(rq->s3->data_dir, path);
	if ((rc = cu_s3_std_headers(req)) != 0)
		return rc;
	return cu_http_reply(req, 204, NULL, 0, NULL);
}

static int list_part_cb(void *arg, const struct cu_smeta_part *p)
{
	cu_xmlw_t *x = arg;
	char date[40];

	cu_s3_iso_date(p->created, date);
	cu_xmlw_open(x, "Part", NULL);
	cu_xmlw_u64(x, "PartNumber", p->number);
	cu_xmlw_str(x, "LastModified", date);
	cu_xmlw_str(x, "ETag", p->etag);
	cu_xmlw_u64(x, "Size", p->size);
	return cu_xmlw_close(x) == 0 ? 0 : CU_ERR_NOMEM;
}

int cu_s3_mpu_list_parts(cu_http_req_t *req, struct cu_s3_req *rq)
{
	struct cu_smeta_upload u;
	cu_xmlw_t *x = NULL;
	int rc, replied;

	memset(&u, 0, sizeof(u));
	if ((rc = find_upload(req, rq, &u, &replied)) != 0 || replied)
		return rc;
	if ((rc = cu_xmlw_new(XML_MAX, &x)) != 0)
		goto out;
	cu_xmlw_decl(x);
	cu_xmlw_open(x, "ListPartsResult", CU_XMLW_S3_NS);
	cu_xmlw_str(x, "Bucket", rq->bucket);
	cu_xmlw_text(x, "Key", rq->key, rq->key_len);
	cu_xmlw_str(x, "UploadId", u.upload_id);
	cu_xmlw_str(x, "StorageClass", "STANDARD");
	/* every part in one page (at most 10000) */
	rc = cu_smeta_part_list(rq->s3->meta, u.upload_id, 0, 10000,
	                        list_part_cb, x);
	if (rc != 0)
		goto out;
	cu_xmlw_u64(x, "MaxParts", 10000);
	cu_xmlw_bool(x, "IsTruncated", 0);
	cu_xmlw_close(x);
	rc = reply_xml(req, x);
out:
	cu_xmlw_free(x);
	cu_smeta_upload_clear(&u);
	return rc;
}

struct uploads_list {
	cu_xmlw_t *x;
	unsigned max, count;
	int truncated;
	char last_key[CU_SMETA_KEY_MAX + 1];
	size_t last_len;
	char last_id[CU_SMETA_VID_MAX + 1];
};

static int upload_cb(void *arg, const struct cu_smeta_upload *u)
{
	struct uploads_list *l = arg;
	char date[40];

	if (l->count >= l->max) {
		l->truncated = 1;
		return 1;
	}
	cu_s3_iso_date(u->created, date);
	cu_xmlw_open(l->x, "Upload", NULL);
	cu_xmlw_text(l->x, "Key", u->key, u->key_len);
	cu_xmlw_str(l->x, "UploadId", u->upload_id);
	cu_xmlw_str(l->x, "StorageClass", "STANDARD");
	cu_xmlw_str(l->x, "Initiated", date);
	cu_xmlw_close(l->x);
	memcpy(l->last_key, u->key, u->key_len + 1);
	l->last_len = u->key_len;
	memcpy(l->last_id, u->upload_id, sizeof(l->last_id));
	l->count++;
	return 0;
}

int cu_s3_mpu_list_uploads(cu_http_req_t *req, struct cu_s3_req *rq)
{
	const char *prefix = cu_http_req_query(req, "prefix");
	const char *marker = cu_http_req_query(req, "key-marker");
	const char *mx = cu_http_req_query(req, "max-uploads");
	struct uploads_list l = {.max = 1000};
	size_t plen = prefix != NULL ? strlen(prefix) : 0;
	size_t mlen = marker != NULL ? strlen(marker) : 0;
	int rc;

	rc = cu_smeta_bucket_get(rq->s3->meta, rq->tenant, rq->bucket, NULL);
	if (rc == CU_ERR_NOTFOUND)
		return cu_s3_reply_error(
		    req, 404, "NoSuchBucket",
		    "The specified bucket does not exist.");
	if (rc != 0)
		return rc;
	if (mx != NULL) {
		unsigned long v = 0;

		if (*mx == '\0' || strlen(mx) > 10 ||
		    strspn(mx, "0123456789") != strlen(mx))
			return cu_s3_reply_error(req, 400, "InvalidArgument",
			                         "max-uploads must be a "
			                         "non-negative integer.");
		for (const char *p = mx; *p; p++)
			v = v * 10 + (unsigned long)(*p - '0');
		l.max = v < 1000 ? (unsigned)v : 1000;
	}
	if ((prefix != NULL && plen > 0 && !cu_s3_key_ok(prefix, plen)) ||
	    mlen > CU_SMETA_KEY_MAX)
		return cu_s3_reply_error(req, 400, "InvalidArgument",
		                         "A listing parameter is not valid.");
	if ((rc = cu_xmlw_new(XML_MAX, &l.x)) != 0)
		return rc;
	cu_xmlw_decl(l.x);
	cu_xmlw_open(l.x, "ListMultipartUploadsResult", CU_XMLW_S3_NS);
	cu_xmlw_str(l.x, "Bucket", rq->bucket);
	cu_xmlw_text(l.x, "KeyMarker", marker != NULL ? marker : "", mlen);
	cu_xmlw_str(l.x, "UploadIdMarker", "");
	cu_xmlw_text(l.x, "Prefix", prefix != NULL ? prefix : "", plen);
	/* uploads of the marker key itself are skipped whole: upload ids
	 * are not ordered by time, so the upload-id-marker is not kept */
	if (l.max > 0)
		rc = cu_smeta_upload_list(rq->s3->meta, rq->tenant, rq->bucket,
		                          prefix, plen, marker, mlen, l.max + 1,
		                          upload_cb, &l);
	if (rc < 0)
		goto out;
	if (l.truncated) {
		cu_xmlw_text(l.x, "NextKeyMarker", l.last_key, l.last_len);
		cu_xmlw_str(l.x, "NextUploadIdMarker", l.last_id);
	}
	cu_xmlw_u64(l.x, "MaxUploads", l.max);
	cu_xmlw_bool(l.x, "IsTruncated", l.truncated);
	cu_xmlw_close(l.x);
	rc = reply_xml(req, l.x);
out:
	cu_xmlw_free(l.x);
	return rc;
}

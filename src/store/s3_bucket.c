/* s3_bucket.c - bucket operations, object listings and DeleteObjects. */
#include "core/b64.h"
#include "core/crypto/hash.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secmem.h"
#include "store/objfile.h"
#include "store/s3.h"
#include "store/s3xml.h"
#include "store/xmlw.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIST_MAX_KEYS 1000
#define LIST_BATCH    1000
#define XML_MAX       (16u * 1024 * 1024)

static int reply_xml(cu_http_req_t *req, int status, cu_xmlw_t *w)
{
	char *doc = NULL;
	size_t len = 0;
	int rc;

	if ((rc = cu_xmlw_finish(w, &doc, &len)) != 0)
		return rc;
	if ((rc = cu_s3_std_headers(req)) == 0)
		rc = cu_http_reply(req, status, doc, len, "application/xml");
	free(doc);
	return rc;
}

static int no_such_bucket(cu_http_req_t *req)
{
	return cu_s3_reply_error(req, 404, "NoSuchBucket",
	                         "The specified bucket does not exist.");
}

static int reply_empty(cu_http_req_t *req, int status)
{
	int rc;

	if ((rc = cu_s3_std_headers(req)) != 0)
		return rc;
	return cu_http_reply(req, status, NULL, 0, NULL);
}

/* ---- ListBuckets -------------------------------------------------- */

static int bucket_cb(void *arg, const char *name, int64_t created)
{
	cu_xmlw_t *w = arg;
	char date[40];

	cu_s3_iso_date(created, date);
	cu_xmlw_open(w, "Bucket", NULL);
	cu_xmlw_str(w, "Name", name);
	cu_xmlw_str(w, "CreationDate", date);
	return cu_xmlw_close(w) == 0 ? 0 : 1;
}

int cu_s3_list_buckets(cu_http_req_t *req, struct cu_s3_req *rq)
{
	struct cu_smeta_tenant t;
	cu_xmlw_t *w = NULL;
	int rc;

	if ((rc = cu_smeta_tenant_get(rq->s3->meta, rq->tenant, &t)) != 0)
		return rc;
	if ((rc = cu_xmlw_new(XML_MAX, &w)) != 0)
		return rc;
	cu_xmlw_decl(w);
	cu_xmlw_open(w, "ListAllMyBucketsResult", CU_XMLW_S3_NS);
	cu_xmlw_open(w, "Owner", NULL);
	cu_xmlw_str(w, "ID", t.id);
	cu_xmlw_str(w, "DisplayName", t.name);
	cu_xmlw_close(w);
	cu_xmlw_open(w, "Buckets", NULL);
	rc = cu_smeta_bucket_list(rq->s3->meta, rq->tenant, bucket_cb, w);
	if (rc < 0)
		goto out;
	cu_xmlw_close(w);
	cu_xmlw_close(w);
	rc = reply_xml(req, 200, w);
out:
	cu_xmlw_free(w);
	return rc;
}

/* ---- bucket lifecycle --------------------------------------------- */

int cu_s3_create_bucket(cu_http_req_t *req, struct cu_s3_req *rq)
{
	struct cu_s3xml_bucket_config *cfg = NULL;
	char loc[CU_SMETA_BUCKET_MAX + 2];
	int rc;

	rc = cu_s3xml_parse_create_bucket(rq->body != NULL ? rq->body : "",
	                                  rq->body_len, &cfg);
	if (rc == CU_ERR_NOMEM)
		return rc;
	if (rc != 0)
		return cu_s3_reply_error(req, 400, cu_s3xml_s3code(rc),
		                         "The bucket configuration is not "
		                         "valid.");
	cu_s3xml_bucket_config_free(cfg);
	rc = cu_smeta_bucket_create(rq->s3->meta, rq->tenant, rq->bucket,
	                            (int64_t)time(NULL));
	if (rc == CU_ERR_EXISTS)
		return cu_s3_reply_error(req, 409, "BucketAlreadyOwnedByYou",
		                         "Your previous request to create the "
		                         "named bucket succeeded and you "
		                         "already own it.");
	if (rc != 0)
		return rc;
	snprintf(loc, sizeof(loc), "/%s", rq->bucket);
	if ((rc = cu_http_set_header(req, "Location", loc)) != 0)
		return rc;
	return reply_empty(req, 200);
}

int cu_s3_head_bucket(cu_http_req_t *req, struct cu_s3_req *rq)
{
	int rc =
	    cu_smeta_bucket_get(rq->s3->meta, rq->tenant, rq->bucket, NULL);

	if (rc == CU_ERR_NOTFOUND)
		return no_such_bucket(req);
	if (rc != 0)
		return rc;
	if ((rc = cu_http_set_header(req, "x-amz-bucket-region",
	                             CU_S3_REGION)) != 0)
		return rc;
	return reply_empty(req, 200);
}

int cu_s3_delete_bucket(cu_http_req_t *req, struct cu_s3_req *rq)
{
	int rc = cu_smeta_bucket_delete(rq->s3->meta, rq->tenant, rq->bucket);

	if (rc == CU_ERR_NOTFOUND)
		return no_such_bucket(req);
	if (rc == CU_ERR_STATE)
		return cu_s3_reply_error(
		    req, 409, "BucketNotEmpty",
		    "The bucket you tried to delete is not "
		    "empty.");
	if (rc != 0)
		return rc;
	return reply_empty(req, 204);
}

int cu_s3_bucket_location(cu_http_req_t *req, struct cu_s3_req *rq)
{
	cu_xmlw_t *w = NULL;
	int rc =
	    cu_smeta_bucket_get(rq->s3->meta, rq->tenant, rq->bucket, NULL);

	if (rc == CU_ERR_NOTFOUND)
		return no_such_bucket(req);
	if (rc != 0)
		return rc;
	if ((rc = cu_xmlw_new(0, &w)) != 0)
		return rc;
	cu_xmlw_decl(w);
	/* us-east-1 is the empty constraint, as in S3 */
	cu_xmlw_open(w, "LocationConstraint", CU_XMLW_S3_NS);
	cu_xmlw_close(w);
	rc = reply_xml(req, 200, w);
	cu_xmlw_free(w);
	return rc;
}

/* ---- listings ----------------------------------------------------- */

/* A growing byte string. */
struct str {
	char *p;
	size_t n;
};

static int str_set(struct str *s, const char *p, size_t n)
{
	char *np = realloc(s->p, n + 1);

	if (np == NULL)
		return CU_ERR_NOMEM;
	if (n > 0)
		memcpy(np, p, n);
	np[n] = '\0';
	s->p = np;
	s->n = n;
	return 0;
}

struct lister {
	cu_xmlw_t *w;
	const char *prefix;
	size_t plen;
	const char *delim;
	size_t dlen;
	int url;           /* encoding-type=url */
	int versions;      /* ListObjectVersions */
	unsigned max_keys; /* items to return */
	unsigned count;    /* returned so far */
	unsigned rows;     /* rows seen in the current batch */
	int truncated;
	int restart;       /* a common prefix was added: query again after it */
	struct str cursor; /* sort position after the last item returned */
	struct str last;   /* the last item returned (key or prefix) */
	struct str last_cp; /* the last common prefix added */
	/* common prefixes, written after the contents as S3 does */
	char **cps;
	size_t n_cps;
	int rc;
};

/* S3's encoding-type=url: percent-encode all but unreserved and '/'. */
static int url_encode(const char *s, size_t n, char **out, size_t *out_len)
{
	static const char hex[] = "0123456789ABCDEF";
	char *o = malloc(n * 3 + 1);
	size_t k = 0;

	if (o == NULL)
		return CU_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~' || c == '/') {
			o[k++] = (char)c;
		} else {
			o[k++] = '%';
			o[k++] = hex[c >> 4];
			o[k++] = hex[c & 15];
		}
	}
	o[k] = '\0';
	*out = o;
	*out_len = k;
	return 0;
}

static int put_name(cu_xmlw_t *w, int url, const char *el, const char *s,
                    size_t n)
{
	char *e = NULL;
	size_t elen = 0;
	int rc;

	if (!url)
		return cu_xmlw_text(w, el, s, n);
	if ((rc = url_encode(s, n, &e, &elen)) != 0)
		return rc;
	rc = cu_xmlw_text(w, el, e, elen);
	free(e);
	return rc;
}

static int list_cb(void *arg, const struct cu_smeta_object *o)
{
	struct lister *l = arg;
	const char *rest = o->key + l->plen;
	size_t rlen = o->key_len - l->plen;
	const char *d = NULL;
	char date[40];

	l->rows++;
	if (l->count >= l->max_keys) {
		l->truncated = 1;
		return 1;
	}
	if (l->dlen > 0 && rlen >= l->dlen) {
		for (size_t i = 0; i + l->dlen <= rlen; i++)
			if (memcmp(rest + i, l->delim, l->dlen) == 0) {
				d = rest + i;
				break;
			}
	}
	if (d != NULL) {
		size_t cplen = (size_t)(d - o->key) + l->dlen;
		char **ncps;

		if ((l->rc = str_set(&l->last_cp, o->key, cplen)) != 0 ||
		    (l->rc = str_set(&l->last, o->key, cplen)) != 0)
			return 1;
		ncps = realloc(l->cps, (l->n_cps + 1) * sizeof(*ncps));
		if (ncps == NULL) {
			l->rc = CU_ERR_NOMEM;
			return 1;
		}
		l->cps = ncps;
		if ((l->cps[l->n_cps] = malloc(cplen + 1)) == NULL) {
			l->rc = CU_ERR_NOMEM;
			return 1;
		}
		memcpy(l->cps[l->n_cps], o->key, cplen);
		l->cps[l->n_cps][cplen] = '\0';
		l->n_cps++;
		l->count++;
		/* skip every key under this prefix: UTF-8 never holds 0xff */
		if ((l->rc = str_set(&l->cursor, o->key, cplen + 1)) != 0)
			return 1;
		l->cursor.p[cplen] = (char)0xff;
		l->restart = 1;
		return 1;
	}
	cu_s3_iso_date(o->created, date);
	cu_xmlw_open(l->w, l->versions ? "Version" : "Contents", NULL);
	put_name(l->w, l->url, "Key", o->key, o->key_len);
	if (l->versions) {
		/* unversioned buckets: the one version is "null" */
		cu_xmlw_str(l->w, "VersionId", "null");
		cu_xmlw_bool(l->w, "IsLatest", 1);
	}
	cu_xmlw_str(l->w, "LastModified", date);
	cu_xmlw_str(l->w, "ETag", o->etag);
	cu_xmlw_u64(l->w, "Size", o->size);
	cu_xmlw_str(l->w, "StorageClass", "STANDARD");
	cu_xmlw_close(l->w);
	l->count++;
	if ((l->rc = str_set(&l->cursor, o->key, o->key_len)) != 0 ||
	    (l->rc = str_set(&l->last, o->key, o->key_len)) != 0)
		return 1;
	return 0;
}

/* Walk the bucket from l->cursor, filling l. */
static int walk(struct cu_s3_req *rq, struct lister *l)
{
	int rc;

	for (;;) {
		l->rows = 0;
		l->restart = 0;
		rc = cu_smeta_object_list(rq->s3->meta, rq->tenant, rq->bucket,
		                          l->prefix, l->plen, l->cursor.p,
		                          l->cursor.n, LIST_BATCH, list_cb, l);
		if (rc < 0)
			return rc;
		if (l->rc != 0)
			return l->rc;
		if (l->truncated)
			break;
		if (l->restart)
			continue;
		if (l->rows < LIST_BATCH)
			break;
	}
	return 0;
}

/* A marker that is itself a common prefix ("photos/") stands for every
 * key under it, which the previous page already rolled up. */
static void skip_own_prefix(struct lister *l)
{
	const char *rest;
	size_t rlen;
	char *np;

	if (l->dlen == 0 || l->cursor.p == NULL || l->cursor.n < l->plen ||
	    memcmp(l->cursor.p, l->prefix, l->plen) != 0)
		return;
	rest = l->cursor.p + l->plen;
	rlen = l->cursor.n - l->plen;
	if (rlen < l->dlen ||
	    memcmp(rest + rlen - l->dlen, l->delim, l->dlen) != 0)
		return;
	for (size_t i = 0; i + l->dlen < rlen; i++)
		if (memcmp(rest + i, l->delim, l->dlen) == 0)
			return; /* an earlier delimiter: not its own prefix */
	if ((np = realloc(l->cursor.p, l->cursor.n + 2)) == NULL)
		return;
	np[l->cursor.n] = (char)0xff;
	np[l->cursor.n + 1] = '\0';
	l->cursor.p = np;
	l->cursor.n++;
}

static void lister_clear(struct lister *l)
{
	for (size_t i = 0; i < l->n_cps; i++)
		free(l->cps[i]);
	free(l->cps);
	free(l->cursor.p);
	free(l->last.p);
	free(l->last_cp.p);
}

static int parse_max_keys(const char *s, unsigned *out)
{
	unsigned long v = 0;

	if (s == NULL) {
		*out = LIST_MAX_KEYS;
		return 0;
	}
	if (*s == '\0' || strlen(s) > 10)
		return CU_ERR_PARSE;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return CU_ERR_PARSE;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	*out = v > LIST_MAX_KEYS ? LIST_MAX_KEYS : (unsigned)v;
	return 0;
}

int cu_s3_list_objects(cu_http_req_t *req, struct cu_s3_req *rq, int mode)
{
	const int v2 = mode == CU_S3_LIST_V2,
	          vers = mode == CU_S3_LIST_VERSIONS;
	const char *prefix = cu_http_req_query(req, "prefix");
	const char *delim = cu_http_req_query(req, "delimiter");
	const char *enc = cu_http_req_query(req, "encoding-type");
	const char *token =
	    v2 ? cu_http_req_query(req, "continuation-token") : NULL;
	const char *after = cu_http_req_query(req, v2     ? "start-after"
	                                           : vers ? "key-marker"
	                                                  : "marker");
	struct lister l = {0};
	unsigned char *tok = NULL;
	size_t tok_len = 0;
	char *next = NULL;
	int rc;

	if ((rc = cu_smeta_bucket_get(rq->s3->meta, rq->tenant, rq->bucket,
	                              NULL)) == CU_ERR_NOTFOUND)
		return no_such_bucket(req);
	if (rc != 0)
		return rc;
	if (parse_max_keys(cu_http_req_query(req, "max-keys"), &l.max_keys))
		return cu_s3_reply_error(req, 400, "InvalidArgument",
		                         "max-keys must be an integer from 0 "
		                         "to 2147483647.");
	if (enc != NULL && strcmp(enc, "url") != 0)
		return cu_s3_reply_error(req, 400, "InvalidArgument",
		                         "Invalid Encoding Method specified in "
		                         "Request");
	l.url = enc != NULL;
	l.versions = vers;
	l.prefix = prefix != NULL ? prefix : "";
	l.plen = strlen(l.prefix);
	l.delim = delim != NULL ? delim : "";
	l.dlen = strlen(l.delim);
	if ((l.plen > 0 && !cu_s3_key_ok(l.prefix, l.plen)) ||
	    (l.dlen > 0 && !cu_s3_key_ok(l.delim, l.dlen)) ||
	    (after != NULL && strlen(after) > CU_SMETA_KEY_MAX))
		return cu_s3_reply_error(req, 400, "InvalidArgument",
		                         "A listing parameter is not valid.");
	if (token != NULL) {
		rc = cu_b64url_decode_alloc(
		    token, strlen(token), CU_SMETA_KEY_MAX + 1, &tok, &tok_len);
		if (rc == CU_ERR_NOMEM)
			return rc;
		if (rc != 0 || tok_len == 0)
			return cu_s3_reply_error(
			    req, 400, "InvalidArgument",
			    "The continuation token provided "
			    "is incorrect");
		rc = str_set(&l.cursor, (const char *)tok, tok_len);
	} else if (after != NULL) {
		rc = str_set(&l.cursor, after, strlen(after));
	}
	free(tok);
	if (rc != 0)
		goto out;
	skip_own_prefix(&l);
	if ((rc = cu_xmlw_new(XML_MAX, &l.w)) != 0)
		goto out;
	cu_xmlw_decl(l.w);
	cu_xmlw_open(l.w, vers ? "ListVersionsResult" : "ListBucketResult",
	             CU_XMLW_S3_NS);
	cu_xmlw_str(l.w, "Name", rq->bucket);
	put_name(l.w, l.url, "Prefix", l.prefix, l.plen);
	if (l.max_keys > 0 && (rc = walk(rq, &l)) != 0)
		goto out;
	if (l.max_keys == 0) {
		/* S3 answers "truncated" when anything would follow */
		struct lister probe = {
		    .max_keys = 0, .prefix = l.prefix, .plen = l.plen};
		rc = cu_smeta_object_list(rq->s3->meta, rq->tenant, rq->bucket,
		                          l.prefix, l.plen, l.cursor.p,
		                          l.cursor.n, 1, list_cb, &probe);
		l.truncated = probe.truncated;
		lister_clear(&probe);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < l.n_cps; i++) {
		cu_xmlw_open(l.w, "CommonPrefixes", NULL);
		put_name(l.w, l.url, "Prefix", l.cps[i], strlen(l.cps[i]));
		cu_xmlw_close(l.w);
	}
	if (v2) {
		cu_xmlw_u64(l.w, "KeyCount", l.count);
		if (token != NULL)
			cu_xmlw_str(l.w, "ContinuationToken", token);
		if (after != NULL)
			put_name(l.w, l.url, "StartAfter", after,
			         strlen(after));
		if (l.truncated) {
			rc = cu_b64url_encode_alloc(l.cursor.p, l.cursor.n,
			                            &next);
			if (rc != 0)
				goto out;
			cu_xmlw_str(l.w, "NextContinuationToken", next);
		}
	} else if (vers) {
		put_name(l.w, l.url, "KeyMarker", after ? after : "",
		         after ? strlen(after) : 0);
		cu_xmlw_str(l.w, "VersionIdMarker", "");
		if (l.truncated && l.last.p != NULL) {
			put_name(l.w, l.url, "NextKeyMarker", l.last.p,
			         l.last.n);
			cu_xmlw_str(l.w, "NextVersionIdMarker", "null");
		}
	} else {
		put_name(l.w, l.url, "Marker", after ? after : "",
		         after ? strlen(after) : 0);
		if (l.truncated && l.dlen > 0 && l.last.p != NULL)
			put_name(l.w, l.url, "NextMarker", l.last.p, l.last.n);
	}
	cu_xmlw_u64(l.w, "MaxKeys", l.max_keys);
	if (l.dlen > 0)
		put_name(l.w, l.url, "Delimiter", l.delim, l.dlen);
	if (l.url)
		cu_xmlw_str(l.w, "EncodingType", "url");
	cu_xmlw_bool(l.w, "IsTruncated", l.truncated);
	cu_xmlw_close(l.w);
	rc = reply_xml(req, 200, l.w);
out:
	free(next);
	cu_xmlw_free(l.w);
	lister_clear(&l);
	return rc;
}

/* ---- DeleteObjects ------------------------------------------------ */

/* Content-MD5, when sent, must match the body (S3 requires it here). */
static int md5_ok(cu_http_req_t *req, const char *body, size_t len)
{
	const char *want = cu_http_req_header(req, "Content-MD5");
	unsigned char got[CU_MD5_LEN], dec[CU_MD5_LEN + 4];
	cu_hash_t *h = NULL;
	size_t n = 0, dn = 0;
	int ok = 0;

	if (want == NULL)
		return 1;
	if (cu_b64_decode(want, strlen(want), dec, sizeof(dec), &dn) != 0 ||
	    dn != CU_MD5_LEN)
		return 0;
	if (cu_hash_new(CU_HASH_MD5, &h) == 0 &&
	    cu_hash_update(h, body, len) == 0 &&
	    cu_hash_final(h, got, sizeof(got), &n) == 0)
		ok = cu_ct_equal(got, dec, CU_MD5_LEN);
	cu_hash_free(h);
	return ok;
}

int cu_s3_delete_objects(cu_http_req_t *req, struct cu_s3_req *rq)
{
	struct cu_s3xml_delete *d = NULL;
	char old[CU_SMETA_PATH_MAX + 1];
	cu_xmlw_t *w = NULL;
	int rc, deleted;

	if ((rc = cu_smeta_bucket_get(rq->s3->meta, rq->tenant, rq->bucket,
	                              NULL)) == CU_ERR_NOTFOUND)
		return no_such_bucket(req);
	if (rc != 0)
		return rc;
	if (!md5_ok(req, rq->body != NULL ? rq->body : "", rq->body_len))
		return cu_s3_reply_error(req, 400, "BadDigest",
		                         "The Content-MD5 you specified did "
		                         "not match what we received.");
	rc = cu_s3xml_parse_delete(rq->body != NULL ? rq->body : "",
	                           rq->body_len, 0, &d);
	if (rc == CU_ERR_NOMEM)
		return rc;
	if (rc != 0)
		return cu_s3_reply_error(req, 400, cu_s3xml_s3code(rc),
		                         "The XML you provided was not "
		                         "well-formed or did not validate "
		                         "against our published schema.");
	if ((rc = cu_xmlw_new(XML_MAX, &w)) != 0)
		goto out;
	cu_xmlw_decl(w);
	cu_xmlw_open(w, "DeleteResult", CU_XMLW_S3_NS);
	for (size_t i = 0; i < d->n_objects; i++) {
		const struct cu_s3xml_delete_object *o = &d->objects[i];

		if (!cu_s3_key_ok(o->key, o->key_len)) {
			cu_xmlw_open(w, "Error", NULL);
			cu_xmlw_text(w, "Key", o->key, o->key_len);
			cu_xmlw_str(w, "Code", "InvalidArgument");
			cu_xmlw_str(w, "Message",
			            "The object key is not "
			            "valid.");
			cu_xmlw_close(w);
			continue;
		}
		rc =
		    cu_smeta_object_delete(rq->s3->meta, rq->tenant, rq->bucket,
		                           o->key, o->key_len, old, &deleted);
		if (rc == 0 && deleted)
			(void)cu_sobj_remove(rq->s3->data_dir, old);
		if (rc != 0) {
			cu_xmlw_open(w, "Error", NULL);
			cu_xmlw_text(w, "Key", o->key, o->key_len);
			cu_xmlw_str(w, "Code", "InternalError");
			cu_xmlw_str(w, "Message",
			            "We encountered an internal "
			            "error. Please try again.");
			cu_xmlw_close(w);
			continue;
		}
		if (!d->quiet) {
			cu_xmlw_open(w, "Deleted", NULL);
			cu_xmlw_text(w, "Key", o->key, o->key_len);
			cu_xmlw_close(w);
		}
	}
	cu_xmlw_close(w);
	rc = reply_xml(req, 200, w);
out:
	cu_xmlw_free(w);
	cu_s3xml_delete_free(d);
	return rc;
}

/* ---- bucket configuration ----------------------------------------- */

int cu_s3_bucket_versioning(cu_http_req_t *req, struct cu_s3_req *rq)
{
	cu_xmlw_t *w = NULL;
	int rc =
	    cu_smeta_bucket_get(rq->s3->meta, rq->tenant, rq->bucket, NULL);

	if (rc == CU_ERR_NOTFOUND)
		return no_such_bucket(req);
	if (rc != 0)
		return rc;
	if ((rc = cu_xmlw_new(0, &w)) != 0)
		return rc;
	cu_xmlw_decl(w);
	/* never versioned: an empty configuration, as S3 answers */
	cu_xmlw_open(w, "VersioningConfiguration", CU_XMLW_S3_NS);
	cu_xmlw_close(w);
	rc = reply_xml(req, 200, w);
	cu_xmlw_free(w);
	return rc;
}

int cu_s3_bucket_encryption(cu_http_req_t *req, struct cu_s3_req *rq, int put)
{
	struct cu_s3xml_sse *sse = NULL;
	cu_xmlw_t *w = NULL;
	int rc =
	    cu_smeta_bucket_get(rq->s3->meta, rq->tenant, rq->bucket, NULL);

	if (rc == CU_ERR_NOTFOUND)
		return no_such_bucket(req);
	if (rc != 0)
		return rc;
	if (put) {
		/* every object is encrypted with the tenant's keys whatever
		 * the bucket says: accept the default the store applies */
		rc = cu_s3xml_parse_sse(rq->body != NULL ? rq->body : "",
		                        rq->body_len, &sse);
		if (rc == CU_ERR_NOMEM)
			return rc;
		if (rc != 0)
			return cu_s3_reply_error(req, 400, cu_s3xml_s3code(rc),
			                         "The encryption configuration "
			                         "is not valid.");
		rc = strcmp(sse->algorithm, "AES256") == 0;
		cu_s3xml_sse_free(sse);
		if (!rc)
			return cu_s3_reply_error(
			    req, 400, "InvalidArgument",
			    "Only AES256 is available while the tenant is on "
			    "system-managed keys.");
		return reply_empty(req, 200);
	}
	if ((rc = cu_xmlw_new(0, &w)) != 0)
		return rc;
	cu_xmlw_decl(w);
	cu_xmlw_open(w, "ServerSideEncryptionConfiguration", CU_XMLW_S3_NS);
	cu_xmlw_open(w, "Rule", NULL);
	cu_xmlw_open(w, "ApplyServerSideEncryptionByDefault", NULL);
	cu_xmlw_str(w, "SSEAlgorithm", "AES256");
	cu_xmlw_close(w);
	cu_xmlw_bool(w, "BucketKeyEnabled", 0);
	cu_xmlw_close(w);
	cu_xmlw_close(w);
	rc = reply_xml(req, 200, w);
	cu_xmlw_free(w);
	return rc;
}

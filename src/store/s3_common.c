/* s3_common.c - what every S3 request goes through: authentication,
 * operation dispatch, body plumbing (aws-chunked, payload hash), error
 * documents, and the small validators. */
#include "core/crypto/aead.h"
#include "core/crypto/hash.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secmem.h"
#include "store/s3.h"
#include "store/s3xml.h"
#include "store/xmlw.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum {
	OP_NONE = 0,
	OP_LIST_BUCKETS,
	OP_CREATE_BUCKET,
	OP_HEAD_BUCKET,
	OP_DELETE_BUCKET,
	OP_LOCATION,
	OP_LIST_V1,
	OP_LIST_V2,
	OP_DELETE_OBJECTS,
	OP_PUT_OBJECT,
	OP_GET_OBJECT,
	OP_HEAD_OBJECT,
	OP_DELETE_OBJECT,
	OP_UPLOAD_PART,
	OP_MPU_CREATE,
	OP_MPU_COMPLETE,
	OP_MPU_ABORT,
	OP_MPU_LIST_PARTS,
	OP_LIST_VERSIONS,
	OP_GET_VERSIONING,
	OP_GET_ENCRYPTION,
	OP_PUT_ENCRYPTION,
	OP_COPY_OBJECT,
	OP_MPU_LIST_UPLOADS,
	OP_UPLOAD_PART_COPY,
	OP_GET_TAGGING,
};

/* Longest header names we take from SignedHeaders. */
#define MAX_HNAME    128
#define BASE_HEADERS 12
#define MAX_HEADERS  (BASE_HEADERS + CU_SIGV4_MAX_SIGNED)
#define SMALL_BODY   (64 * 1024)

/* Per-request state of the common flow; embeds the operation's. */
struct s3ctx {
	struct cu_s3_req rq;
	enum cu_sigv4_payload payload;
	cu_sigv4_chunked_t *chunked;
	cu_hash_t *sha;
	unsigned char want_sha[CU_SHA256_LEN];
	char names[MAX_HEADERS][MAX_HNAME + 1];
	size_t n_names;
};

/* ---- small helpers ------------------------------------------------ */

/* strftime in the "C" locale (custos never calls setlocale), so day
 * and month names are English as HTTP wants. */
void cu_s3_http_date(int64_t t, char out[40])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	if (strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		out[0] = '\0';
}

void cu_s3_iso_date(int64_t t, char out[40])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	if (strftime(out, 40, "%Y-%m-%dT%H:%M:%S.000Z", &tm) == 0)
		out[0] = '\0';
}

int cu_s3_bucket_name_ok(const char *name)
{
	static const char *const reserved[] = {"admin", "healthz", "metrics"};
	size_t n, dots = 0, digits_only = 1;

	if (name == NULL)
		return 0;
	n = strnlen(name, 64);
	if (n < 3 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && c != '.' && c != '-')
			return 0;
		if ((i == 0 || i == n - 1) && !alnum)
			return 0;
		if (c == '.' && (name[i + 1] == '.' || name[i + 1] == '-' ||
		                 (i > 0 && name[i - 1] == '-')))
			return 0;
		if (c == '.')
			dots++;
		else if (!(c >= '0' && c <= '9'))
			digits_only = 0;
	}
	if (dots == 3 && digits_only) /* looks like an IPv4 address */
		return 0;
	if (strncmp(name, "xn--", 4) == 0 || strncmp(name, "sthree-", 7) == 0)
		return 0;
	if (n > 8 && strcmp(name + n - 8, "-s3alias") == 0)
		return 0;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(name, reserved[i]) == 0)
			return 0;
	return 1;
}

int cu_s3_key_ok(const char *key, size_t len)
{
	const unsigned char *s = (const unsigned char *)key;
	size_t i = 0;

	if (key == NULL || len == 0 || len > CU_SMETA_KEY_MAX)
		return 0;
	while (i < len) {
		unsigned c = s[i];
		size_t n;
		uint32_t cp;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i - 1 < n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

int cu_s3_seal_secret(const struct cu_s3 *s3, const char *akid, size_t akid_len,
                      const void *secret, size_t len, unsigned char *out,
                      size_t cap, size_t *out_len)
{
	return cu_aead_seal(s3->master_key, akid, akid_len, secret, len, out,
	                    cap, out_len);
}

int cu_s3_open_secret(const struct cu_s3 *s3, const char *akid, size_t akid_len,
                      const void *sealed, size_t len, unsigned char *out,
                      size_t cap, size_t *out_len)
{
	return cu_aead_open(s3->master_key, akid, akid_len, sealed, len, out,
	                    cap, out_len);
}

/* ---- errors ------------------------------------------------------- */

int cu_s3_std_headers(cu_http_req_t *req)
{
	return cu_http_set_header(req, "x-amz-request-id", cu_http_req_id(req));
}

static int is_admin_path(const char *p)
{
	return strncmp(p, "/admin/", 7) == 0 || strcmp(p, "/admin") == 0 ||
	       strcmp(p, "/healthz") == 0 || strcmp(p, "/metrics") == 0;
}

int cu_s3_error_fn(cu_http_req_t *req, int status, const char *code,
                   const char *message, void *arg)
{
	char *doc = NULL;
	size_t len = 0;
	int rc;

	(void)arg;
	if (is_admin_path(cu_http_req_path(req)))
		return cu_http_error_json(req, status, code, message, NULL);
	/* the server core's own words, in S3's */
	if (strcmp(code, "RequestTooLarge") == 0)
		code = "EntityTooLarge";
	else if (strcmp(code, "NotFound") == 0)
		code = "NoSuchKey";
	else if (strcmp(code, "BadRequest") == 0)
		code = "InvalidRequest";
	(void)cu_s3_std_headers(req);
	rc = cu_xmlw_error_doc(code, message, cu_http_req_path(req),
	                       cu_http_req_id(req), 0, &doc, &len);
	if (rc != 0) {
		/* a path that is not UTF-8 cannot go into the document */
		rc = cu_xmlw_error_doc(code, message, NULL, cu_http_req_id(req),
		                       0, &doc, &len);
		if (rc != 0)
			return cu_http_reply(req, status, NULL, 0, NULL);
	}
	rc = cu_http_reply(req, status, doc, len, "application/xml");
	free(doc);
	return rc;
}

int cu_s3_reply_error(cu_http_req_t *req, int status, const char *code,
                      const char *message)
{
	return cu_http_reply_error(req, status, code, message);
}

/* ---- authentication ----------------------------------------------- */

struct auth_arg {
	struct cu_s3 *s3;
	char tenant[CU_SMETA_ID_MAX + 1];
};

/* The sealed secret of access key akid (read on every request: a
 * disabled or deleted key is refused at once); one too long to be ours
 * is no key. */
static int sealed_secret(struct auth_arg *a, const char *akid, size_t akid_len,
                         unsigned char *sealed, size_t cap, size_t *slen)
{
	int rc = cu_smeta_akey_get(a->s3->meta, akid, akid_len, a->tenant,
	                           sealed, cap, slen);

	return rc == CU_ERR_RANGE ? CU_ERR_NOTFOUND : rc;
}

static int secret_cb(void *arg, const char *akid, size_t akid_len,
                     unsigned char *secret, size_t cap, size_t *secret_len)
{
	struct auth_arg *a = arg;
	unsigned char sealed[CU_SIGV4_MAX_SECRET + CU_AEAD_OVERHEAD];
	size_t slen = 0;
	int rc;

	if ((rc = sealed_secret(a, akid, akid_len, sealed, sizeof(sealed),
	                        &slen)) != 0)
		return rc;
	rc = cu_s3_open_secret(a->s3, akid, akid_len, sealed, slen, secret, cap,
	                       secret_len);
	if (rc != 0)
		cu_log(CU_LOG_ERROR, "an access key's secret does not open",
		       json_pack("{s:s}", "tenant", a->tenant));
	return rc;
}

/* SigV4: the signing key for akid's secret on date8 in region/service.
 * The access key's row is read for every request (a disabled key is
 * refused at once); its derived key comes from the cache when the
 * sealed secret is the one it was derived from (store/skcache.h). */
static int signing_key_cb(void *arg, const char *akid, size_t akid_len,
                          const char *date8, const char *region,
                          const char *service,
                          unsigned char key[CU_SIGV4_KEY_LEN])
{
	struct auth_arg *a = arg;
	unsigned char sealed[CU_SIGV4_MAX_SECRET + CU_AEAD_OVERHEAD];
	unsigned char secret[CU_SIGV4_MAX_SECRET];
	struct cu_skcache_id id;
	size_t slen = 0, sec_len = 0;
	int rc;

	if ((rc = sealed_secret(a, akid, akid_len, sealed, sizeof(sealed),
	                        &slen)) != 0)
		return rc;
	id = (struct cu_skcache_id){.akid = akid,
	                            .akid_len = akid_len,
	                            .sealed = sealed,
	                            .sealed_len = slen,
	                            .date8 = date8,
	                            .region = region,
	                            .service = service};
	if (cu_skcache_get(a->s3->skcache, &id, key))
		return 0;
	rc = cu_s3_open_secret(a->s3, akid, akid_len, sealed, slen, secret,
	                       sizeof(secret), &sec_len);
	if (rc != 0) {
		cu_log(CU_LOG_ERROR, "an access key's secret does not open",
		       json_pack("{s:s}", "tenant", a->tenant));
		goto out;
	}
	rc = cu_sigv4_derive_key(secret, sec_len, date8, region, service, key);
	if (rc == 0)
		cu_skcache_put(a->s3->skcache, &id, key);
out:
	cu_memzero(secret, sizeof(secret));
	return rc;
}

static void add_name(struct s3ctx *c, const char *p, size_t n)
{
	if (n == 0 || n > MAX_HNAME || c->n_names >= MAX_HEADERS)
		return;
	for (size_t i = 0; i < c->n_names; i++)
		if (strlen(c->names[i]) == n &&
		    strncasecmp(c->names[i], p, n) == 0)
			return;
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		c->names[c->n_names][i] = ch;
	}
	c->names[c->n_names][n] = '\0';
	c->n_names++;
}

/* The names of SignedHeaders (header auth or presigned), split on ';'. */
static void add_signed(struct s3ctx *c, cu_http_req_t *req)
{
	const char *auth = cu_http_req_header(req, "Authorization");
	const char *list = NULL, *end;
	size_t n;

	if (auth != NULL) {
		list = strstr(auth, "SignedHeaders=");
		if (list != NULL)
			list += strlen("SignedHeaders=");
	}
	if (list == NULL)
		list = cu_http_req_query(req, "X-Amz-SignedHeaders");
	if (list == NULL)
		return;
	end = list;
	while (*end != '\0' && *end != ',' && *end != ' ')
		end++;
	n = (size_t)(end - list);
	while (n > 0) {
		const char *semi = memchr(list, ';', n);
		size_t k = semi != NULL ? (size_t)(semi - list) : n;

		add_name(c, list, k);
		if (semi == NULL)
			break;
		n -= k + 1;
		list = semi + 1;
	}
}

/* Authenticate; on failure reply the S3 error and return 1. */
static int authenticate(cu_http_req_t *req, struct s3ctx *c)
{
	static const char *const base[BASE_HEADERS] = {
	    "authorization",        "host",
	    "x-amz-date",           "date",
	    "x-amz-content-sha256", "x-amz-decoded-content-length",
	    "x-amz-trailer",        "content-md5",
	    "content-type",         "content-encoding",
	    "x-amz-security-token", "expect",
	};
	struct cu_sigv4_header hs[MAX_HEADERS];
	struct cu_sigv4_request sr = {0};
	struct cu_sigv4_options op = {0};
	struct cu_sigv4_result res;
	struct auth_arg a = {.s3 = c->rq.s3};
	const char *q = cu_http_req_query_string(req);
	size_t nh = 0;
	int rc, status = 403;

	for (size_t i = 0; i < BASE_HEADERS; i++)
		add_name(c, base[i], strlen(base[i]));
	add_signed(c, req);
	for (size_t i = 0; i < c->n_names; i++) {
		const char *v = cu_http_req_header(req, c->names[i]);

		if (v == NULL)
			continue;
		hs[nh].name = c->names[i];
		hs[nh].name_len = strlen(c->names[i]);
		hs[nh].value = v;
		hs[nh].value_len = strlen(v);
		nh++;
	}
	sr.method = cu_http_req_method(req);
	sr.method_len = strlen(sr.method);
	sr.path = cu_http_req_path(req);
	sr.path_len = strlen(sr.path);
	sr.query = q;
	sr.query_len = strlen(q);
	sr.headers = hs;
	sr.n_headers = nh;
	sr.now = (int64_t)time(NULL);
	op.service = "s3";
	op.allow_v2 = 1;
	op.secret = secret_cb; /* SigV2 */
	op.signing_key = signing_key_cb;
	op.secret_arg = &a;

	rc = cu_sigv4_verify(&sr, &op, &res);
	if (rc != 0) {
		const char *code = cu_sigv4_s3_error(&res, &status);
		enum cu_sigv4_fail why = res.fail;

		if (rc == CU_ERR_NOMEM || rc == CU_ERR_CRYPTO ||
		    rc == CU_ERR_DB) {
			code = "InternalError";
			status = 500;
		}
		cu_log(CU_LOG_INFO, "S3 request refused",
		       json_pack("{s:s,s:s,s:s}", "request_id",
		                 cu_http_req_id(req), "code", code, "reason",
		                 cu_sigv4_fail_text(why)));
		cu_sigv4_result_clear(&res);
		(void)cu_s3_reply_error(req, status, code,
		                        cu_sigv4_fail_text(why));
		return 1;
	}
	memcpy(c->rq.tenant, a.tenant, sizeof(c->rq.tenant));
	(void)cu_http_req_set_principal(req, a.tenant);
	c->payload = res.payload;
	rc = 0;
	if (res.payload == CU_SIGV4_PAYLOAD_SHA256) {
		memcpy(c->want_sha, res.payload_sha256, CU_SHA256_LEN);
		rc = cu_hash_new(CU_HASH_SHA256, &c->sha);
	} else if (res.payload == CU_SIGV4_PAYLOAD_STREAMING_SIGNED ||
	           res.payload == CU_SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER) {
		rc = cu_sigv4_chunked_new(&res, 0, &c->chunked);
	}
	cu_sigv4_result_clear(&res);
	if (rc != 0) {
		(void)cu_s3_reply_error(req, 500, "InternalError",
		                        "Out of resources.");
		return 1;
	}
	/* user metadata: only headers the signature covers */
	for (size_t i = 0; i < c->n_names; i++)
		if (strncmp(c->names[i], "x-amz-meta-", 11) == 0)
			c->rq.n_meta_names++;
	if (c->rq.n_meta_names > 0) {
		size_t k = 0;

		c->rq.meta_names = calloc(c->rq.n_meta_names, sizeof(char *));
		if (c->rq.meta_names == NULL) {
			c->rq.n_meta_names = 0;
			(void)cu_s3_reply_error(req, 500, "InternalError",
			                        "Out of resources.");
			return 1;
		}
		for (size_t i = 0; i < c->n_names; i++)
			if (strncmp(c->names[i], "x-amz-meta-", 11) == 0)
				c->rq.meta_names[k++] = c->names[i];
	}
	return 0;
}

/* ---- dispatch ----------------------------------------------------- */

static int has_query(cu_http_req_t *req, const char *name)
{
	return cu_http_req_query(req, name) != NULL;
}

/* Subresources we do not implement: refuse clearly rather than act as if
 * the plain operation had been asked for. */
static const char *unsupported_sub(cu_http_req_t *req)
{
	static const char *const subs[] = {
	    "acl",
	    "policy",
	    "cors",
	    "lifecycle",
	    "website",
	    "logging",
	    "notification",
	    "replication",
	    "object-lock",
	    "retention",
	    "legal-hold",
	    "ownershipControls",
	    "publicAccessBlock",
	    "requestPayment",
	    "accelerate",
	    "analytics",
	    "inventory",
	    "metrics",
	    "intelligent-tiering",
	    "select",
	    "restore",
	    "torrent",
	    "attributes",
	};

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (has_query(req, subs[i]))
			return subs[i];
	return NULL;
}

static int pick_op(cu_http_req_t *req, struct s3ctx *c)
{
	unsigned m = cu_http_req_method_bit(req);
	const char *b = cu_http_req_param(req, "bucket");
	const char *k = cu_http_req_param(req, "key");

	if (b == NULL) /* "/" */
		return m == CU_HTTP_GET || m == CU_HTTP_HEAD ? OP_LIST_BUCKETS
		                                             : OP_NONE;
	if (k == NULL && has_query(req, "tagging")) /* bucket tagging */
		return OP_NONE;
	if (k == NULL) {
		switch (m) {
		case CU_HTTP_PUT:
			if (has_query(req, "encryption"))
				return OP_PUT_ENCRYPTION;
			if (has_query(req, "versioning"))
				return OP_NONE;
			return OP_CREATE_BUCKET;
		case CU_HTTP_HEAD:
			return OP_HEAD_BUCKET;
		case CU_HTTP_DELETE:
			if (has_query(req, "encryption"))
				return OP_NONE;
			return OP_DELETE_BUCKET;
		case CU_HTTP_POST:
			return has_query(req, "delete") ? OP_DELETE_OBJECTS
			                                : OP_NONE;
		case CU_HTTP_GET: {
			const char *lt;

			if (has_query(req, "versions"))
				return OP_LIST_VERSIONS;
			if (has_query(req, "versioning"))
				return OP_GET_VERSIONING;
			if (has_query(req, "encryption"))
				return OP_GET_ENCRYPTION;

			if (has_query(req, "uploads"))
				return OP_MPU_LIST_UPLOADS;
			if (has_query(req, "location"))
				return OP_LOCATION;
			lt = cu_http_req_query(req, "list-type");
			if (lt != NULL && strcmp(lt, "2") == 0)
				return OP_LIST_V2;
			return OP_LIST_V1;
		}
		default:
			return OP_NONE;
		}
	}
	if (has_query(req, "uploadId")) {
		switch (m) {
		case CU_HTTP_PUT:
			if (!has_query(req, "partNumber"))
				return OP_NONE;
			if (cu_http_req_header(req, "x-amz-copy-source"))
				return OP_UPLOAD_PART_COPY;
			return OP_UPLOAD_PART;
		case CU_HTTP_POST:
			return OP_MPU_COMPLETE;
		case CU_HTTP_DELETE:
			return OP_MPU_ABORT;
		case CU_HTTP_GET:
			return OP_MPU_LIST_PARTS;
		default:
			return OP_NONE;
		}
	}
	if (has_query(req, "partNumber")) /* GetObject of one part */
		return OP_NONE;
	if (has_query(req, "tagging"))
		return m == CU_HTTP_GET ? OP_GET_TAGGING : OP_NONE;
	(void)c;
	switch (m) {
	case CU_HTTP_POST:
		return has_query(req, "uploads") ? OP_MPU_CREATE : OP_NONE;
	case CU_HTTP_PUT:
		if (cu_http_req_header(req, "x-amz-copy-source") != NULL)
			return OP_COPY_OBJECT;
		return OP_PUT_OBJECT;
	case CU_HTTP_GET:
		return OP_GET_OBJECT;
	case CU_HTTP_HEAD:
		return OP_HEAD_OBJECT;
	case CU_HTTP_DELETE:
		return OP_DELETE_OBJECT;
	default:
		return OP_NONE;
	}
}

static int parse_part_number(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 5)
		return CU_ERR_PARSE;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return CU_ERR_PARSE;
		v = v * 10 + (uint32_t)(*s - '0');
	}
	if (v < 1 || v > 10000)
		return CU_ERR_PARSE;
	*out = v;
	return 0;
}

static void ctx_free(void *p)
{
	struct s3ctx *c = p;

	if (c == NULL)
		return;
	if (c->rq.upload_free != NULL)
		c->rq.upload_free(c->rq.upload);
	cu_sigv4_chunked_free(c->chunked);
	cu_hash_free(c->sha);
	free(c->rq.meta_names);
	free(c->rq.body);
	free(c);
}

int cu_s3_key_lost(int rc)
{
	return rc == CU_ERR_DENIED || rc == CU_ERR_UNAVAILABLE ||
	       rc == CU_ERR_TIMEOUT;
}

/* A handler that could not reply because a tenant key was lost after
 * the gate let the request in (cu_s3_key_lost: its lease ended meanwhile,
 * or it needed an older TK version) is answered as the gate answers now:
 * 403 CustomerKeyInaccessible naming the key, 503 KeyVaultUnavailable or
 * SystemKeyUnavailable; when the gate lets it in again (the key answered
 * meanwhile), 503 with what failed this request. Anything else is the
 * handler's result as it is. */
static int settle(cu_http_req_t *req, struct cu_s3_req *rq, int rc)
{
	struct cu_scmk_error ge = {0};
	int st = 0;

	if (rc >= 0 || !cu_s3_key_lost(rc) || cu_http_replied(req))
		return rc;
	if (rq->s3->cmk != NULL)
		st =
		    cu_scmk_gate(rq->s3->cmk, rq->tenant, CU_SCMK_OP_DATA, &ge);
	if (st == 0 && rq->s3->cmk != NULL)
		st = cu_scmk_key_error(rq->s3->cmk, rq->tenant, rc, &ge);
	if (st != 0)
		return cu_s3_reply_error(req, st, ge.code, ge.message);
	return cu_s3_reply_error(req, 503, "KeyVaultUnavailable",
	                         "The tenant's key could not be obtained "
	                         "from its vault just now; retry.");
}

static int on_headers(cu_http_req_t *req, void *arg)
{
	struct s3ctx *c;
	const char *b, *sub;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CU_ERR_NOMEM;
	c->rq.s3 = arg;
	cu_http_req_set_ctx(req, c, ctx_free);
	if (authenticate(req, c))
		return 0;
	c->rq.op = pick_op(req, c);
	sub = unsupported_sub(req);
	/* GET /bucket?acl and the like: never answered as the plain
	 * operation */
	if (c->rq.op == OP_NONE || sub != NULL)
		return cu_s3_reply_error(req, 501, "NotImplemented",
		                         "This operation is not implemented.");
	b = cu_http_req_param(req, "bucket");
	if (b != NULL) {
		if (!cu_s3_bucket_name_ok(b)) {
			/* a name that cannot exist: no such bucket, except
			 * when asked to create it */
			if (c->rq.op == OP_CREATE_BUCKET)
				return cu_s3_reply_error(
				    req, 400, "InvalidBucketName",
				    "The specified bucket is not valid.");
			return cu_s3_reply_error(
			    req, 404, "NoSuchBucket",
			    "The specified bucket does not exist.");
		}
		memcpy(c->rq.bucket, b, strlen(b) + 1);
	}
	c->rq.key = cu_http_req_param_len(req, "key", &c->rq.key_len);
	if (c->rq.key != NULL) {
		if (!cu_s3_key_ok(c->rq.key, c->rq.key_len))
			return cu_s3_reply_error(
			    req, 400,
			    c->rq.key_len > CU_SMETA_KEY_MAX
			        ? "KeyTooLongError"
			        : "InvalidArgument",
			    "The object key is not valid.");
	}
	c->rq.upload_id = cu_http_req_query(req, "uploadId");
	if (c->rq.upload_id != NULL &&
	    (strlen(c->rq.upload_id) < 3 ||
	     strspn(c->rq.upload_id, "0123456789abcdef") !=
	         strlen(c->rq.upload_id) ||
	     strlen(c->rq.upload_id) > CU_SMETA_VID_MAX))
		return cu_s3_reply_error(
		    req, 404, "NoSuchUpload",
		    "The specified upload does not exist.");
	if ((c->rq.op == OP_UPLOAD_PART || c->rq.op == OP_UPLOAD_PART_COPY) &&
	    parse_part_number(cu_http_req_query(req, "partNumber"),
	                      &c->rq.part_number) != 0)
		return cu_s3_reply_error(req, 400, "InvalidArgument",
		                         "Part number must be an integer "
		                         "between 1 and 10000, inclusive");
	if (c->rq.s3->cmk != NULL) {
		/* customer-managed keys: a tenant whose key is denied, or
		 * being purged, reads and writes no data */
		struct cu_scmk_error ge = {0};
		int data =
		    c->rq.op == OP_PUT_OBJECT || c->rq.op == OP_GET_OBJECT ||
		    c->rq.op == OP_HEAD_OBJECT || c->rq.op == OP_COPY_OBJECT ||
		    c->rq.op == OP_UPLOAD_PART ||
		    c->rq.op == OP_UPLOAD_PART_COPY ||
		    c->rq.op == OP_MPU_CREATE || c->rq.op == OP_MPU_COMPLETE;
		int st =
		    cu_scmk_gate(c->rq.s3->cmk, c->rq.tenant,
		                 data ? CU_SCMK_OP_DATA : CU_SCMK_OP_META, &ge);

		if (st != 0)
			return cu_s3_reply_error(req, st, ge.code, ge.message);
	}
	c->rq.body_max = SMALL_BODY;
	if (c->rq.op == OP_DELETE_OBJECTS || c->rq.op == OP_MPU_COMPLETE ||
	    c->rq.op == OP_PUT_ENCRYPTION)
		c->rq.body_max = CU_S3XML_MAX_BODY;
	if (c->rq.op == OP_PUT_OBJECT || c->rq.op == OP_UPLOAD_PART)
		return settle(req, &c->rq, cu_s3_put_begin(req, &c->rq));
	return 0;
}

static int buffer_sink(struct cu_s3_req *rq, const unsigned char *p, size_t n)
{
	if (n > rq->body_max - rq->body_len)
		return CU_ERR_TOOLARGE;
	if (rq->body_cap - rq->body_len < n + 1) {
		size_t cap = rq->body_len + n + 1;
		char *nb;

		if (cap < 4096)
			cap = 4096;
		if ((nb = realloc(rq->body, cap)) == NULL)
			return CU_ERR_NOMEM;
		rq->body = nb;
		rq->body_cap = cap;
	}
	memcpy(rq->body + rq->body_len, p, n);
	rq->body_len += n;
	rq->body[rq->body_len] = '\0';
	return 0;
}

static int payload_sink(void *arg, const unsigned char *p, size_t n)
{
	struct cu_s3_req *rq = arg;

	if (rq->upload_sink != NULL)
		return rq->upload_sink(rq, p, n);
	return buffer_sink(rq, p, n);
}

static int body_error(cu_http_req_t *req, int rc)
{
	switch (rc) {
	case CU_ERR_TOOLARGE:
		return cu_s3_reply_error(req, 400, "EntityTooLarge",
		                         "Your proposed upload exceeds the "
		                         "maximum allowed size.");
	case CU_ERR_AUTH:
		return cu_s3_reply_error(req, 403, "SignatureDoesNotMatch",
		                         "A chunk signature or the trailer "
		                         "checksum does not match.");
	case CU_ERR_PARSE:
		return cu_s3_reply_error(req, 400, "IncompleteBody",
		                         "The aws-chunked body is malformed or "
		                         "incomplete.");
	case CU_ERR_RANGE:
		return cu_s3_reply_error(req, 400, "IncompleteBody",
		                         "The body length does not match "
		                         "x-amz-decoded-content-length.");
	case CU_ERR_NOMEM:
		return CU_ERR_NOMEM;
	default:
		return cu_s3_reply_error(req, 500, "InternalError",
		                         "The object could not be stored.");
	}
}

static int on_body(cu_http_req_t *req, const char *data, size_t len, void *arg)
{
	struct s3ctx *c = cu_http_req_ctx(req);
	int rc;

	(void)arg;
	if (c == NULL || cu_http_replied(req))
		return 0;
	if (c->sha != NULL && (rc = cu_hash_update(c->sha, data, len)) != 0)
		return rc;
	if (c->chunked != NULL)
		rc = cu_sigv4_chunked_feed(c->chunked, data, len, payload_sink,
		                           &c->rq);
	else
		rc = payload_sink(&c->rq, (const unsigned char *)data, len);
	if (rc != 0)
		return body_error(req, rc);
	return 0;
}

/* The operation's handler, once the request is authenticated, let in
 * and (for a body) read in full. */
static int run_op(cu_http_req_t *req, struct cu_s3_req *rq)
{
	switch (rq->op) {
	case OP_LIST_BUCKETS:
		return cu_s3_list_buckets(req, rq);
	case OP_CREATE_BUCKET:
		return cu_s3_create_bucket(req, rq);
	case OP_HEAD_BUCKET:
		return cu_s3_head_bucket(req, rq);
	case OP_DELETE_BUCKET:
		return cu_s3_delete_bucket(req, rq);
	case OP_LOCATION:
		return cu_s3_bucket_location(req, rq);
	case OP_LIST_V1:
		return cu_s3_list_objects(req, rq, CU_S3_LIST_V1);
	case OP_LIST_V2:
		return cu_s3_list_objects(req, rq, CU_S3_LIST_V2);
	case OP_LIST_VERSIONS:
		return cu_s3_list_objects(req, rq, CU_S3_LIST_VERSIONS);
	case OP_GET_VERSIONING:
		return cu_s3_bucket_versioning(req, rq);
	case OP_GET_ENCRYPTION:
		return cu_s3_bucket_encryption(req, rq, 0);
	case OP_PUT_ENCRYPTION:
		return cu_s3_bucket_encryption(req, rq, 1);
	case OP_DELETE_OBJECTS:
		return cu_s3_delete_objects(req, rq);
	case OP_PUT_OBJECT:
	case OP_UPLOAD_PART:
		return cu_s3_put_end(req, rq);
	case OP_MPU_LIST_UPLOADS:
		return cu_s3_mpu_list_uploads(req, rq);
	case OP_GET_TAGGING:
		return cu_s3_get_tagging(req, rq);
	case OP_COPY_OBJECT:
	case OP_UPLOAD_PART_COPY:
		return cu_s3_copy_object(req, rq);
	case OP_MPU_CREATE:
		return cu_s3_mpu_create(req, rq);
	case OP_MPU_COMPLETE:
		return cu_s3_mpu_complete(req, rq);
	case OP_MPU_ABORT:
		return cu_s3_mpu_abort(req, rq);
	case OP_MPU_LIST_PARTS:
		return cu_s3_mpu_list_parts(req, rq);
	case OP_GET_OBJECT:
		return cu_s3_get_object(req, rq, 0);
	case OP_HEAD_OBJECT:
		return cu_s3_get_object(req, rq, 1);
	case OP_DELETE_OBJECT:
		return cu_s3_delete_object(req, rq);
	default:
		return cu_s3_reply_error(req, 501, "NotImplemented",
		                         "This operation is not implemented.");
	}
}

static int on_end(cu_http_req_t *req, void *arg)
{
	struct s3ctx *c = cu_http_req_ctx(req);
	int rc;

	(void)arg;
	if (c == NULL || cu_http_replied(req))
		return 0;
	if (c->chunked != NULL && (rc = cu_sigv4_chunked_finish(c->chunked)))
		return body_error(req, rc);
	if (c->sha != NULL) {
		unsigned char got[CU_SHA256_LEN];
		size_t n = 0;

		if ((rc = cu_hash_final(c->sha, got, sizeof(got), &n)) != 0)
			return rc;
		if (!cu_ct_equal(got, c->want_sha, CU_SHA256_LEN))
			return cu_s3_reply_error(
			    req, 400, "XAmzContentSHA256Mismatch",
			    "The provided 'x-amz-content-sha256' header does "
			    "not match what was computed.");
	}
	return settle(req, &c->rq, run_op(req, &c->rq));
}

int cu_s3_mount(struct cu_s3 *s3, cu_http_server_t *srv)
{
	const unsigned all =
	    CU_HTTP_GET | CU_HTTP_PUT | CU_HTTP_DELETE | CU_HTTP_POST;
	struct cu_http_route r = {
	    .on_headers = on_headers,
	    .on_body = on_body,
	    .on_end = on_end,
	    .max_body = CU_HTTP_BODY_UNLIMITED,
	    .arg = s3,
	};
	int rc;

	r.methods = CU_HTTP_GET;
	r.pattern = "/";
	if ((rc = cu_http_server_route(srv, &r)) != 0)
		return rc;
	r.methods = all;
	r.pattern = "/{bucket}";
	r.flags = CU_HTTP_ROUTE_TRAILING_SLASH;
	if ((rc = cu_http_server_route(srv, &r)) != 0)
		return rc;
	r.pattern = "/{bucket}/{key*}";
	r.flags = 0;
	return cu_http_server_route(srv, &r);
}

int cu_s3_sse_headers(cu_http_req_t *req, const struct cu_s3_req *rq)
{
	char kid[CU_VAULTC_KID_MAX + 1];
	int rc;

	if (rq == NULL || rq->s3->cmk == NULL ||
	    !cu_scmk_sse_kid(rq->s3->cmk, rq->tenant, kid, sizeof(kid)))
		return cu_http_set_header(req, "x-amz-server-side-encryption",
		                          "AES256");
	if ((rc = cu_http_set_header(req, "x-amz-server-side-encryption",
	                             "aws:kms")) != 0)
		return rc;
	return cu_http_set_header(
	    req, "x-amz-server-side-encryption-aws-kms-key-id", kid);
}

#include "core/b64.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secmem.h"
#include "vault/api_internal.h"
#include "vault/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHALLENGE                                                              \
	"Bearer authorization=\"https://login.microsoftonline.com/common\", "  \
	"resource=\"https://vault.azure.net\""

static const char *const api_versions[] = {
    "7.0", "7.1", "7.2", "7.3", "7.4", "7.4-preview.1",
};

int cu_vapi_new(cu_vks_t *vks, cu_vapi_t **out)
{
	cu_vapi_t *api = calloc(1, sizeof(*api));
	cu_db_t *db = NULL;
	int r;

	*out = NULL;
	if (api == NULL)
		return CU_ERR_NOMEM;
	api->vks = vks;
	pthread_mutex_init(&api->mu, NULL);
	if ((r = cu_vks_open_audit_db(vks, &db)) != 0 ||
	    (r = cu_vaudit_writer_new(db, &api->audit)) != 0) {
		cu_vapi_free(api);
		return r;
	}
	*out = api;
	return 0;
}

int cu_vapi_set_url(cu_vapi_t *api, const char *url)
{
	size_t n = url ? strlen(url) : 0;

	if (url == NULL || n >= CU_VAPI_URL_MAX ||
	    (strncmp(url, "https://", 8) != 0 &&
	     strncmp(url, "http://", 7) != 0))
		return CU_ERR_INVAL;
	while (n > 0 && url[n - 1] == '/')
		n--;
	pthread_mutex_lock(&api->mu);
	memcpy(api->url, url, n);
	api->url[n] = '\0';
	pthread_mutex_unlock(&api->mu);
	return 0;
}

void cu_vapi_free(cu_vapi_t *api)
{
	if (api == NULL)
		return;
	for (size_t i = 0; i < api->nroutes; i++)
		free(api->routes[i]);
	free(api->routes);
	cu_vaudit_writer_free(api->audit);
	pthread_mutex_destroy(&api->mu);
	free(api);
}

int cu_vapi_mount(cu_vapi_t *api, cu_http_server_t *srv)
{
	int r;

	if ((r = cu_vapi_mount_admin(api, srv)) != 0 ||
	    (r = cu_vapi_mount_keys(api, srv)) != 0 ||
	    (r = cu_vapi_mount_crypto(api, srv)) != 0)
		return r;
	return 0;
}

/* Host header characters we accept when building URLs from it. */
static int host_ok(const char *h)
{
	size_t n = 0;

	for (; h[n] != '\0'; n++) {
		char c = h[n];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
		      c == ':' || c == '[' || c == ']'))
			return 0;
	}
	return n > 0 && n < 200;
}

static void free_vreq(void *p)
{
	free(p);
}

static void audit(cu_http_req_t *req, struct cu_vapi_req *vr,
                  const char *result)
{
	struct cu_vaudit_rec rec = {0};
	int r;

	if (vr == NULL || vr->audited)
		return;
	vr->audited = 1;
	rec.principal = vr->principal;
	rec.op = vr->route ? vr->route->op : "";
	rec.key = vr->key;
	rec.version = vr->version;
	rec.result = result;
	rec.request_id = cu_http_req_id(req);
	if ((r = cu_vaudit_writer_append(vr->api->audit, &rec)) != 0)
		cu_log(CU_LOG_ERROR, "audit record not written",
		       json_pack("{s:s,s:s}", "request_id", cu_http_req_id(req),
		                 "error", cu_strerror(r)));
}

json_t *cu_vapi_error_body(const char *code, const char *inner,
                           const char *message)
{
	json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code,
	                         "message", message);

	if (body != NULL && inner != NULL &&
	    json_object_set_new(json_object_get(body, "error"), "innererror",
	                        json_pack("{s:s}", "code", inner)) != 0) {
		json_decref(body);
		return NULL;
	}
	return body;
}

int cu_vapi_error_inner(cu_http_req_t *req, int status, const char *code,
                        const char *inner, const char *message)
{
	audit(req, cu_http_req_ctx(req), code);
	return cu_http_reply_json(req, status,
	                          cu_vapi_error_body(code, inner, message));
}

int cu_vapi_error(cu_http_req_t *req, int status, const char *code,
                  const char *message)
{
	return cu_vapi_error_inner(req, status, code, NULL, message);
}

int cu_vapi_ok(cu_http_req_t *req, int status, json_t *body)
{
	audit(req, cu_http_req_ctx(req), "ok");
	return cu_http_reply_json(req, status, body);
}

int cu_vapi_no_content(cu_http_req_t *req)
{
	audit(req, cu_http_req_ctx(req), "ok");
	return cu_http_reply(req, 204, NULL, 0, NULL);
}

int cu_vapi_fail(cu_http_req_t *req, int err, const char *message)
{
	struct cu_vapi_req *vr = cu_http_req_ctx(req);
	char msg[512];

	switch (err) {
	case CU_ERR_NOTFOUND:
		if (message == NULL) {
			snprintf(msg, sizeof(msg),
			         "A key with (name/id) %s%s%s was not found in "
			         "this key vault. If you recently deleted this "
			         "key you may be able to recover it using the "
			         "correct recovery command.",
			         vr ? vr->key : "",
			         vr && vr->version[0] ? "/" : "",
			         vr ? vr->version : "");
			message = msg;
		}
		return cu_vapi_error(req, 404, "KeyNotFound", message);
	case CU_ERR_EXISTS:
		return cu_vapi_error(req, 409, "Conflict",
		                     message ? message
		                             : "A key of this name exists, "
		                               "live or in the deleted state: "
		                               "recover or purge it first");
	case CU_ERR_DENIED:
	case CU_ERR_STATE:
		return cu_vapi_error(req, 403, "Forbidden",
		                     message ? message
		                             : "Operation is not allowed");
	case CU_ERR_INVAL:
	case CU_ERR_PARSE:
	case CU_ERR_UNSUPPORTED:
	case CU_ERR_RANGE:
	case CU_ERR_AUTH:
	case CU_ERR_TOOLARGE:
		return cu_vapi_error(req, 400, "BadParameter",
		                     message ? message : cu_strerror(err));
	case CU_ERR_NOMEM:
		cu_http_set_header(req, "Retry-After", "1");
		return cu_vapi_error(req, 503, "ServiceUnavailable",
		                     "The vault is out of memory");
	default:
		return cu_vapi_error(req, 500, "InternalError",
		                     "The vault failed; see its log");
	}
}

int cu_vapi_body(cu_http_req_t *req, json_t **out)
{
	json_t *j = NULL;
	int r = cu_http_req_body_json(req, &j);

	*out = NULL;
	if (r == CU_ERR_NOMEM) {
		cu_vapi_fail(req, r, NULL);
		return r;
	}
	if (r != 0 || !json_is_object(j)) {
		json_decref(j);
		cu_vapi_error(req, 400, "BadParameter",
		              "The request body must be one JSON object "
		              "(valid UTF-8, no duplicate members)");
		return CU_ERR_PARSE;
	}
	*out = j;
	return 0;
}

void cu_vapi_kid(const struct cu_vapi_req *vr, const char *name,
                 const char *version, char *out, size_t cap)
{
	if (version != NULL && version[0] != '\0')
		snprintf(out, cap, "%s/keys/%s/%s", vr->base, name, version);
	else
		snprintf(out, cap, "%s/keys/%s", vr->base, name);
}

static const char *kty_name(int kty, int hsm)
{
	switch (kty) {
	case CU_VKO_RSA:
		return hsm ? "RSA-HSM" : "RSA";
	case CU_VKO_EC:
		return hsm ? "EC-HSM" : "EC";
	default:
		return hsm ? "oct-HSM" : "oct";
	}
}

static int set(json_t *o, const char *name, json_t *v)
{
	return json_object_set_new(o, name, v);
}

json_t *cu_vapi_key_json(const struct cu_vapi_req *vr,
                         const struct cu_vks_key *k, int shape,
                         int with_version)
{
	char kid[CU_VAPI_URL_MAX + 2 * CU_VKS_NAME_MAX];
	json_t *o = json_object(), *attrs = json_object(), *jwk = NULL;
	int bad = 0,
	    deleted = shape == CU_VAPI_DELETED || shape == CU_VAPI_DELETED_ITEM;
	int item = shape == CU_VAPI_ITEM || shape == CU_VAPI_DELETED_ITEM;

	if (o == NULL || attrs == NULL)
		goto fail;
	bad |= set(attrs, "enabled", json_boolean(k->enabled));
	if (k->nbf)
		bad |= set(attrs, "nbf", json_integer(k->nbf));
	if (k->exp)
		bad |= set(attrs, "exp", json_integer(k->exp));
	bad |= set(attrs, "created", json_integer(k->created));
	bad |= set(attrs, "updated", json_integer(k->updated));
	bad |= set(attrs, "recoveryLevel",
	           json_string(cu_vks_recovery_level(&k->settings)));
	bad |= set(attrs, "recoverableDays",
	           json_integer(k->settings.retention_days));
	bad |= set(attrs, "exportable", json_false());
	bad |= set(o, "attributes", attrs);
	attrs = NULL;
	cu_vapi_kid(vr, k->name, item && !with_version ? NULL : k->version, kid,
	            sizeof(kid));
	if (item) {
		bad |= set(o, "kid", json_string(kid));
	} else {
		if ((jwk = json_deep_copy(k->pub)) == NULL)
			goto fail;
		bad |= set(jwk, "kid", json_string(kid));
		bad |= set(jwk, "kty", json_string(kty_name(k->kty, k->hsm)));
		bad |= set(jwk, "key_ops", cu_vks_ops_json(k->ops));
		bad |= set(o, "key", jwk);
	}
	if (k->tags != NULL && json_object_size(k->tags) > 0)
		bad |= set(o, "tags", json_deep_copy(k->tags));
	if (deleted) {
		snprintf(kid, sizeof(kid), "%s/deletedkeys/%s", vr->base,
		         k->name);
		bad |= set(o, "recoveryId", json_string(kid));
		bad |= set(o, "deletedDate", json_integer(k->deleted_date));
		bad |= set(o, "scheduledPurgeDate",
		           json_integer(k->scheduled_purge));
	}
	if (bad)
		goto fail;
	return o;
fail:
	json_decref(attrs);
	json_decref(o);
	return NULL;
}

void cu_vapi_buf_free(unsigned char *buf, size_t cap, int secret)
{
	if (secret)
		cu_secmem_free(buf, cap);
	else
		free(buf);
}

int cu_vapi_b64_member(cu_http_req_t *req, const json_t *obj, const char *name,
                       size_t max, int secret, unsigned char **buf, size_t *len,
                       size_t *cap)
{
	const json_t *v = json_object_get(obj, name);
	char msg[160];
	size_t slen;
	int r;

	*buf = NULL;
	*len = *cap = 0;
	if (!json_is_string(v)) {
		snprintf(msg, sizeof(msg), "'%s' must be a base64url string",
		         name);
		cu_vapi_error(req, 400, "BadParameter", msg);
		return CU_ERR_PARSE;
	}
	slen = json_string_length(v);
	*cap = cu_b64_decoded_max(slen);
	if (*cap > max) {
		snprintf(msg, sizeof(msg), "'%s' is too long", name);
		cu_vapi_error(req, 400, "BadParameter", msg);
		return CU_ERR_PARSE;
	}
	*buf =
	    secret ? cu_secmem_alloc(*cap ? *cap : 1) : malloc(*cap ? *cap : 1);
	if (*buf == NULL) {
		cu_vapi_fail(req, CU_ERR_NOMEM, NULL);
		return CU_ERR_NOMEM;
	}
	if (*cap == 0)
		*cap = 1;
	r = cu_b64url_decode(json_string_value(v), slen, *buf, *cap, len);
	if (r != 0) {
		cu_vapi_buf_free(*buf, *cap, secret);
		*buf = NULL;
		snprintf(msg, sizeof(msg),
		         "'%s' is not valid base64url (RFC 4648 section 5, "
		         "no padding)",
		         name);
		cu_vapi_error(req, 400, "BadParameter", msg);
		return CU_ERR_PARSE;
	}
	return 0;
}

int cu_vapi_int_query(cu_http_req_t *req, const char *name, int64_t lo,
                      int64_t hi, int64_t def, int64_t *out)
{
	const char *s = cu_http_req_query(req, name);
	char msg[160];
	int64_t v = 0;

	*out = def;
	if (s == NULL)
		return 0;
	if (*s == '\0' || strlen(s) > 18)
		goto bad;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (*p - '0');
	}
	if (v < lo || v > hi)
		goto bad;
	*out = v;
	return 0;
bad:
	snprintf(msg, sizeof(msg), "'%s' must be an integer from %lld to %lld",
	         name, (long long)lo, (long long)hi);
	cu_vapi_error(req, 400, "BadParameter", msg);
	return CU_ERR_PARSE;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Who is calling: a bearer token first, else a registered client
 * certificate. Returns 0 with vr->principal set, or CU_ERR_AUTH. */
static int authenticate(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	const char *h = cu_http_req_header(req, "Authorization");
	const char *fp;

	if (h != NULL) {
		if (strncasecmp(h, "Bearer ", 7) != 0)
			return CU_ERR_AUTH;
		h += 7;
		while (*h == ' ')
			h++;
		return cu_vrbac_auth_token(vr->api->vks, h,
		                           strnlen(h, CU_VRBAC_TOKEN_MAX + 1),
		                           vr->principal) == 0
		           ? 0
		           : CU_ERR_AUTH;
	}
	fp = cu_http_req_client_cert_sha256(req);
	if (fp != NULL && strlen(fp) == 64) {
		unsigned char raw[32];
		for (int i = 0; i < 32; i++) {
			int a = hexval(fp[2 * i]), b = hexval(fp[2 * i + 1]);
			if (a < 0 || b < 0)
				return CU_ERR_AUTH;
			raw[i] = (unsigned char)(a << 4 | b);
		}
		return cu_vrbac_auth_cert(vr->api->vks, raw, vr->principal) == 0
		           ? 0
		           : CU_ERR_AUTH;
	}
	return CU_ERR_AUTH;
}

static int on_headers(cu_http_req_t *req, void *arg)
{
	const struct cu_vapi_route *rt = arg;
	struct cu_vapi_req *vr = calloc(1, sizeof(*vr));
	const char *name, *version, *host, *av;
	int r;

	if (vr == NULL)
		return CU_ERR_NOMEM;
	vr->api = rt->api;
	vr->route = rt;
	cu_http_req_set_ctx(req, vr, free_vreq);
	name = cu_http_req_param(req, "name");
	version = cu_http_req_param(req, "version");
	if (name != NULL)
		snprintf(vr->key, sizeof(vr->key), "%s", name);
	if (version != NULL)
		snprintf(vr->version, sizeof(vr->version), "%s", version);
	/* a name or version too long for the buffers must not be cut down
	 * to a valid one */
	if (name != NULL && strlen(name) > CU_VKS_NAME_MAX)
		vr->key[0] = '\0';
	if (version != NULL && strlen(version) > CU_VKS_VERSION_LEN)
		snprintf(vr->version, sizeof(vr->version), "-");
	pthread_mutex_lock(&rt->api->mu);
	snprintf(vr->base, sizeof(vr->base), "%s", rt->api->url);
	pthread_mutex_unlock(&rt->api->mu);
	host = cu_http_req_header(req, "Host");
	if (vr->base[0] == '\0' && host != NULL && host_ok(host))
		snprintf(vr->base, sizeof(vr->base), "https://%s", host);

	/* 1: who is it (before the body is read) */
	if (authenticate(req, vr) != 0) {
		vr->principal[0] = '\0';
		if ((r = cu_http_set_header(req, "WWW-Authenticate",
		                            CHALLENGE)) != 0)
			return r;
		return cu_vapi_error(req, 401, "Unauthorized",
		                     "AKV10000: Request is missing a Bearer or "
		                     "PoP token, or it is not valid.");
	}
	cu_http_req_set_principal(req, vr->principal);

	/* 2: the api-version of the keys API */
	if (rt->keys_api) {
		size_t i, n = sizeof(api_versions) / sizeof(api_versions[0]);
		av = cu_http_req_query(req, "api-version");
		for (i = 0; av != NULL && i < n; i++)
			if (strcmp(av, api_versions[i]) == 0)
				break;
		if (av == NULL || i == n) {
			char msg[200];
			snprintf(msg, sizeof(msg),
			         "The specified version (%.40s) is not "
			         "recognized. Consider using the latest "
			         "supported version (7.4).",
			         av ? av : "");
			return cu_vapi_error(req, 400, "BadParameter", msg);
		}
		vr->api_version = av;
	}

	/* 3: may they (as the database says now: the memo answers only
	 * while it has had no commit since) */
	if (rt->perm != 0) {
		r = cu_vrbac_check(vr->api->vks, vr->principal, rt->perm,
		                   rt->key_scoped ? name : NULL);
		if (r == CU_ERR_DENIED) {
			char msg[400];
			snprintf(msg, sizeof(msg),
			         "Caller is not authorized to perform action "
			         "on resource. Caller: %s; Action: %s; "
			         "Resource: %s%s",
			         vr->principal, rt->op,
			         rt->key_scoped ? "/keys/" : "/",
			         rt->key_scoped && name ? name : "");
			return cu_vapi_error_inner(req, 403, "Forbidden",
			                           "ForbiddenByRbac", msg);
		}
		if (r != 0)
			return cu_vapi_fail(req, r, NULL);
	}
	return 0;
}

static int on_end(cu_http_req_t *req, void *arg)
{
	const struct cu_vapi_route *rt = arg;
	struct cu_vapi_req *vr = cu_http_req_ctx(req);
	int r;

	if (cu_http_replied(req) || vr == NULL)
		return 0;
	r = rt->fn(req, vr);
	if (r != 0 && !cu_http_replied(req))
		return cu_vapi_fail(req, r, NULL);
	return 0;
}

int cu_vapi_add(cu_vapi_t *api, cu_http_server_t *srv,
                const struct cu_vapi_route *r)
{
	struct cu_vapi_route *copy = NULL, **grown;
	struct cu_http_route hr = {0};
	int rc;

	grown = realloc(api->routes, (api->nroutes + 1) * sizeof(*grown));
	if (grown == NULL)
		return CU_ERR_NOMEM;
	api->routes = grown;
	if ((copy = malloc(sizeof(*copy))) == NULL)
		return CU_ERR_NOMEM;
	*copy = *r;
	copy->api = api;
	api->routes[api->nroutes++] = copy;
	hr.methods = r->methods;
	hr.pattern = r->pattern;
	hr.flags = CU_HTTP_ROUTE_TRAILING_SLASH;
	if (strstr(r->pattern, "{version}") != NULL)
		hr.flags |= CU_HTTP_ROUTE_EMPTY_PARAMS;
	hr.on_headers = on_headers;
	hr.on_end = on_end;
	hr.max_body = r->max_body ? r->max_body : CU_VAPI_MAX_BODY;
	hr.arg = copy;
	if ((rc = cu_http_server_route(srv, &hr)) != 0)
		return rc;
	return 0;
}

int cu_vapi_error_fn(cu_http_req_t *req, int status, const char *code,
                     const char *message, void *arg)
{
	cu_vapi_t *api = arg;
	struct cu_vapi_req *vr = cu_http_req_ctx(req);

	if (vr == NULL && api != NULL) {
		/* no route ran: record it under the path */
		struct cu_vaudit_rec rec = {0};
		rec.principal = "";
		rec.op = cu_http_req_method(req);
		rec.key = cu_http_req_path(req);
		rec.result = code;
		rec.request_id = cu_http_req_id(req);
		(void)cu_vaudit_writer_append(api->audit, &rec);
		return cu_http_error_json(req, status, code, message, NULL);
	}
	return cu_vapi_error(req, status, code, message);
}

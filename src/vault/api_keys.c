/* api_keys.c - key management of the Azure Key Vault keys REST API:
 * create, import, get, list, versions, update, delete, deleted keys,
 * recover, purge, backup, restore, rotate, rotation policy. */
#include "core/b64.h"
#include "core/err.h"
#include "vault/api_internal.h"
#include "vault/keyops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TAGS 15

static int bad(cu_http_req_t *req, const char *msg)
{
	cu_vapi_error(req, 400, "BadParameter", msg);
	return 0;
}

/* attributes {enabled, nbf, exp} into the has_* form of an update. */
static int parse_attrs(cu_http_req_t *req, const json_t *body,
                       struct cu_vks_update *u)
{
	const json_t *a = json_object_get(body, "attributes"), *v;

	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_object(a)) {
		bad(req, "'attributes' must be an object");
		return CU_ERR_PARSE;
	}
	if ((v = json_object_get(a, "enabled")) != NULL && !json_is_null(v)) {
		if (!json_is_boolean(v)) {
			bad(req, "'attributes.enabled' must be true or false");
			return CU_ERR_PARSE;
		}
		u->has_enabled = 1;
		u->enabled = json_is_true(v);
	}
	if ((v = json_object_get(a, "nbf")) != NULL) {
		if (!json_is_null(v) &&
		    (!json_is_integer(v) || json_integer_value(v) < 0)) {
			bad(req, "'attributes.nbf' must be Unix seconds");
			return CU_ERR_PARSE;
		}
		u->has_nbf = 1;
		u->nbf = json_is_null(v) ? 0 : json_integer_value(v);
	}
	if ((v = json_object_get(a, "exp")) != NULL) {
		if (!json_is_null(v) &&
		    (!json_is_integer(v) || json_integer_value(v) < 0)) {
			bad(req, "'attributes.exp' must be Unix seconds");
			return CU_ERR_PARSE;
		}
		u->has_exp = 1;
		u->exp = json_is_null(v) ? 0 : json_integer_value(v);
	}
	if (u->has_nbf && u->has_exp && u->nbf && u->exp && u->nbf > u->exp) {
		bad(req, "'attributes.nbf' is after 'attributes.exp'");
		return CU_ERR_PARSE;
	}
	return 0;
}

static int parse_tags(cu_http_req_t *req, const json_t *body,
                      const json_t **tags)
{
	const json_t *t = json_object_get(body, "tags"), *v;
	const char *k;

	*tags = NULL;
	if (t == NULL || json_is_null(t))
		return 0;
	if (!json_is_object(t) || json_object_size(t) > MAX_TAGS) {
		bad(req, "'tags' must be an object of at most 15 strings");
		return CU_ERR_PARSE;
	}
	json_object_foreach((json_t *)t, k, v)
	{
		if (!json_is_string(v) || strlen(k) > 512 ||
		    json_string_length(v) > 512) {
			bad(req, "'tags' values must be strings of at most "
			         "512 characters");
			return CU_ERR_PARSE;
		}
	}
	*tags = t;
	return 0;
}

static int parse_ops(cu_http_req_t *req, const json_t *obj, int *has,
                     unsigned *ops)
{
	const json_t *v = json_object_get(obj, "key_ops");

	*has = 0;
	*ops = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (cu_vks_ops_parse(v, ops) != 0) {
		bad(req, "'key_ops' must be an array of encrypt, decrypt, "
		         "sign, verify, wrapKey, unwrapKey, import, export");
		return CU_ERR_PARSE;
	}
	*has = 1;
	return 0;
}

static int reply_key(cu_http_req_t *req, struct cu_vapi_req *vr, int status,
                     struct cu_vks_key *k, int shape)
{
	json_t *j = cu_vapi_key_json(vr, k, shape, 1);

	snprintf(vr->version, sizeof(vr->version), "%s", k->version);
	cu_vks_key_clear(k);
	if (j == NULL)
		return cu_vapi_fail(req, CU_ERR_NOMEM, NULL);
	return cu_vapi_ok(req, status, j);
}

/* Azure's 409 for a name held by a deleted key. */
static int deleted_conflict(cu_http_req_t *req, const char *name)
{
	char msg[CU_VKS_NAME_MAX + 200];

	snprintf(msg, sizeof(msg),
	         "Key %s is currently in a deleted but recoverable state, "
	         "and its name cannot be reused; in this state, the key can "
	         "only be recovered or purged.",
	         name);
	return cu_vapi_error_inner(req, 409, "Conflict",
	                           "ObjectIsDeletedButRecoverable", msg);
}

/* The reply to a create or an import: r and k from cu_vks_create. */
static int reply_created(cu_http_req_t *req, struct cu_vapi_req *vr, int r,
                         struct cu_vks_key *k)
{
	if (r == CU_ERR_INVAL && !cu_vks_name_valid(vr->key, strlen(vr->key)))
		return bad(req, "key names are 1-127 letters, digits and "
		                "dashes");
	if (r == CU_ERR_EXISTS) /* a live name takes a new version */
		return deleted_conflict(req, vr->key);
	if (r != 0)
		return cu_vapi_fail(req, r, NULL);
	return reply_key(req, vr, 200, k, CU_VAPI_BUNDLE);
}

/* kty string to type and HSM flag. */
static int parse_kty(const char *s, int *kty, int *hsm)
{
	static const struct {
		const char *name;
		int kty, hsm;
	} t[] = {
	    {"RSA", CU_VKO_RSA, 0}, {"RSA-HSM", CU_VKO_RSA, 1},
	    {"EC", CU_VKO_EC, 0},   {"EC-HSM", CU_VKO_EC, 1},
	    {"oct", CU_VKO_OCT, 0}, {"oct-HSM", CU_VKO_OCT, 1},
	};
	for (size_t i = 0; s != NULL && i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(s, t[i].name) == 0) {
			*kty = t[i].kty;
			*hsm = t[i].hsm;
			return 0;
		}
	}
	return CU_ERR_UNSUPPORTED;
}

static int create_key(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	struct cu_vks_new n = {.enabled = 1};
	struct cu_vks_update u = {0};
	struct cu_vks_key k;
	json_t *body = NULL, *v;
	int r, has_ops;

	if (cu_vapi_body(req, &body) != 0)
		return 0;
	if (parse_kty(json_string_value(json_object_get(body, "kty")), &n.kty,
	              &n.hsm) != 0) {
		r = bad(req, "'kty' must be RSA, RSA-HSM, EC, EC-HSM, oct or "
		             "oct-HSM");
		goto out;
	}
	v = json_object_get(body, "key_size");
	if (v != NULL && !json_is_null(v) && !json_is_integer(v)) {
		r = bad(req, "'key_size' must be an integer");
		goto out;
	}
	n.size = v && json_is_integer(v) ? (int)json_integer_value(v) : 0;
	if (v && json_is_integer(v) &&
	    (json_integer_value(v) < 0 || json_integer_value(v) > 65536)) {
		r = bad(req, "unsupported 'key_size'");
		goto out;
	}
	if (n.kty == CU_VKO_RSA) {
		n.size = n.size ? n.size : 2048;
		if (n.size != 2048 && n.size != 3072 && n.size != 4096) {
			r = bad(req, "RSA keys are 2048, 3072 or 4096 bits");
			goto out;
		}
		v = json_object_get(body, "public_exponent");
		if (v != NULL && !json_is_null(v) &&
		    json_integer_value(v) != 65537) {
			r = bad(req, "the public exponent must be 65537");
			goto out;
		}
	} else if (n.kty == CU_VKO_OCT) {
		n.size = n.size ? n.size : 256;
		if (n.size != 256) {
			r = bad(req, "oct keys are 256 bits (A256KW)");
			goto out;
		}
	} else {
		const char *crv =
		    json_string_value(json_object_get(body, "crv"));
		if (crv == NULL)
			crv = "P-256";
		if (cu_vko_crv_parse(crv, &n.size) != 0) {
			r = bad(req, "EC keys are on curve P-256 or P-384");
			goto out;
		}
	}
	if ((r = parse_ops(req, body, &has_ops, &n.ops)) != 0 ||
	    (r = parse_attrs(req, body, &u)) != 0 ||
	    (r = parse_tags(req, body, &n.tags)) != 0) {
		r = 0;
		goto out;
	}
	if (has_ops && n.ops == 0) {
		r = bad(req, "'key_ops' must not be empty");
		goto out;
	}
	n.enabled = u.has_enabled ? u.enabled : 1;
	n.nbf = u.nbf;
	n.exp = u.exp;
	r = cu_vks_create(vr->api->vks, vr->key, &n, NULL, &k);
	r = reply_created(req, vr, r, &k);
out:
	json_decref(body);
	return r;
}

static int import_key(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	struct cu_vks_new n = {.enabled = 1};
	struct cu_vks_update u = {0};
	struct cu_vks_key k;
	json_t *body = NULL, *jwk, *hsm;
	cu_vko_t *mat = NULL;
	const char *why = NULL;
	int r, has_ops;

	if (cu_vapi_body(req, &body) != 0)
		return 0;
	jwk = json_object_get(body, "key");
	if (!json_is_object(jwk)) {
		r = bad(req, "'key' must be a JSON web key");
		goto out;
	}
	if (parse_kty(json_string_value(json_object_get(jwk, "kty")), &n.kty,
	              &n.hsm) != 0) {
		r = bad(req, "'key.kty' must be RSA, RSA-HSM, EC, EC-HSM, oct "
		             "or oct-HSM");
		goto out;
	}
	hsm = json_object_get(body, "Hsm");
	if (json_is_true(hsm))
		n.hsm = 1;
	if ((r = parse_ops(req, jwk, &has_ops, &n.ops)) != 0 ||
	    (r = parse_attrs(req, body, &u)) != 0 ||
	    (r = parse_tags(req, body, &n.tags)) != 0) {
		r = 0;
		goto out;
	}
	if ((r = cu_vko_from_jwk(jwk, &mat, &why)) != 0) {
		r = r == CU_ERR_NOMEM ? cu_vapi_fail(req, r, NULL)
		                      : bad(req, why);
		goto out;
	}
	n.enabled = u.has_enabled ? u.enabled : 1;
	n.nbf = u.nbf;
	n.exp = u.exp;
	r = cu_vks_create(vr->api->vks, vr->key, &n, mat, &k);
	r = reply_created(req, vr, r, &k);
out:
	cu_vko_free(mat);
	json_decref(body);
	return r;
}

static int get_key(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	struct cu_vks_key k;
	int r = cu_vks_get(vr->api->vks, vr->key, vr->version, &k);

	if (r != 0)
		return cu_vapi_fail(req, r, NULL);
	return reply_key(req, vr, 200, &k, CU_VAPI_BUNDLE);
}

static int update_key(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	struct cu_vks_update u = {0};
	struct cu_vks_key k;
	json_t *body = NULL;
	int r;

	if (cu_vapi_body(req, &body) != 0)
		return 0;
	if (parse_ops(req, body, &u.has_ops, &u.ops) != 0 ||
	    parse_attrs(req, body, &u) != 0 ||
	    parse_tags(req, body, &u.tags) != 0) {
		r = 0;
		goto out;
	}
	r = cu_vks_update(vr->api->vks, vr->key, vr->version, &u, &k);
	if (r == CU_ERR_INVAL)
		r = bad(req, "'attributes.nbf' is after 'attributes.exp'");
	else if (r != 0)
		r = cu_vapi_fail(req, r, NULL);
	else
		r = reply_key(req, vr, 200, &k, CU_VAPI_BUNDLE);
out:
	json_decref(body);
	return r;
}

struct list_ctx {
	struct cu_vapi_req *vr;
	json_t *arr;
	int shape, with_version;
};

static int list_one(void *p, const struct cu_vks_key *k)
{
	struct list_ctx *c = p;
	json_t *j = cu_vapi_key_json(c->vr, k, c->shape, c->with_version);

	if (j == NULL || json_array_append_new(c->arr, j) != 0)
		return CU_ERR_NOMEM;
	return 0;
}

/* GET /keys, /keys/{name}/versions, /deletedkeys. */
static int list_common(cu_http_req_t *req, struct cu_vapi_req *vr,
                       const char *what)
{
	struct list_ctx c = {vr, NULL, CU_VAPI_ITEM, 0};
	int64_t max, skip;
	int more = 0, r;
	char link[CU_VAPI_URL_MAX + 512];
	json_t *body;

	if (cu_vapi_int_query(req, "maxresults", 1, CU_VAPI_PAGE_MAX,
	                      CU_VAPI_PAGE_DEFAULT, &max) != 0 ||
	    cu_vapi_int_query(req, "$skiptoken", 0, INT32_MAX, 0, &skip) != 0)
		return 0;
	if ((c.arr = json_array()) == NULL)
		return CU_ERR_NOMEM;
	if (strcmp(what, "versions") == 0) {
		c.with_version = 1;
		r = cu_vks_list(vr->api->vks, vr->key, skip, max, list_one, &c,
		                &more);
		snprintf(link, sizeof(link), "%s/keys/%s/versions", vr->base,
		         vr->key);
	} else if (strcmp(what, "deleted") == 0) {
		c.shape = CU_VAPI_DELETED_ITEM;
		r = cu_vks_list_deleted(vr->api->vks, skip, max, list_one, &c,
		                        &more);
		snprintf(link, sizeof(link), "%s/deletedkeys", vr->base);
	} else {
		r = cu_vks_list(vr->api->vks, NULL, skip, max, list_one, &c,
		                &more);
		snprintf(link, sizeof(link), "%s/keys", vr->base);
	}
	if (r != 0) {
		json_decref(c.arr);
		return cu_vapi_fail(req, r, NULL);
	}
	body = json_pack("{s:o}", "value", c.arr);
	if (body == NULL)
		return CU_ERR_NOMEM;
	if (more) {
		size_t n = strlen(link);
		snprintf(link + n, sizeof(link) - n,
		         "?api-version=%s&$skiptoken=%lld&maxresults=%lld",
		         vr->api_version, (long long)(skip + max),
		         (long long)max);
		json_object_set_new(body, "nextLink", json_string(link));
	} else {
		json_object_set_new(body, "nextLink", json_null());
	}
	return cu_vapi_ok(req, 200, body);
}

static int list_keys(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	return list_common(req, vr, "keys");
}

static int list_versions(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	return list_common(req, vr, "versions");
}

static int list_deleted(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	return list_common(req, vr, "deleted");
}

static int delete_key(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	struct cu_vks_key k;
	int r = cu_vks_delete(vr->api->vks, vr->key, &k);

	if (r != 0)
		return cu_vapi_fail(req, r, NULL);
	return reply_key(req, vr, 200, &k, CU_VAPI_DELETED);
}

static int get_deleted(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	struct cu_vks_key k;
	int r = cu_vks_get_deleted(vr->api->vks, vr->key, &k);

	if (r == CU_ERR_NOTFOUND)
		return cu_vapi_error(req, 404, "KeyNotFound",
		                     "Deleted Key not found");
	if (r != 0)
		return cu_vapi_fail(req, r, NULL);
	return reply_key(req, vr, 200, &k, CU_VAPI_DELETED);
}

static int purge_deleted(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	int r = cu_vks_purge(vr->api->vks, vr->key);

	if (r == CU_ERR_DENIED)
		return cu_vapi_error(
		    req, 403, "Forbidden",
		    "Operation \"purge\" is not allowed because purge "
		    "protection is enabled for this vault. The key will be "
		    "purged by the system at its scheduled purge date.");
	if (r == CU_ERR_NOTFOUND)
		return cu_vapi_error(req, 404, "KeyNotFound",
		                     "Deleted Key not found");
	if (r != 0)
		return cu_vapi_fail(req, r, NULL);
	return cu_vapi_no_content(req);
}

static int recover_deleted(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	struct cu_vks_key k;
	int r = cu_vks_recover(vr->api->vks, vr->key, &k);

	if (r == CU_ERR_NOTFOUND)
		return cu_vapi_error(req, 404, "KeyNotFound",
		                     "Deleted Key not found");
	if (r != 0)
		return cu_vapi_fail(req, r, NULL);
	return reply_key(req, vr, 200, &k, CU_VAPI_BUNDLE);
}

static int backup_key(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	unsigned char *blob = NULL;
	char *enc = NULL;
	size_t len = 0;
	int r = cu_vks_backup(vr->api->vks, vr->key, &blob, &len);

	if (r != 0)
		return cu_vapi_fail(req, r, NULL);
	r = cu_b64url_encode_alloc(blob, len, &enc);
	free(blob);
	if (r != 0)
		return cu_vapi_fail(req, r, NULL);
	r = cu_vapi_ok(req, 200, json_pack("{s:s}", "value", enc));
	free(enc);
	return r;
}

#define BACKUP_MAX_B64 (CU_VAPI_MAX_BODY - 64)

static int restore_key(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	unsigned char *blob = NULL;
	size_t len = 0, cap = 0;
	struct cu_vks_key k;
	json_t *body = NULL;
	int r;

	if (cu_vapi_body(req, &body) != 0)
		return 0;
	if (cu_vapi_b64_member(req, body, "value", BACKUP_MAX_B64, 0, &blob,
	                       &len, &cap) != 0) {
		json_decref(body);
		return 0;
	}
	json_decref(body);
	r = cu_vks_restore(vr->api->vks, blob, len, &k);
	cu_vapi_buf_free(blob, cap, 0);
	if (r == CU_ERR_AUTH || r == CU_ERR_PARSE)
		return bad(req, "the backup blob is not a key backup of this "
		                "vault");
	if (r == CU_ERR_EXISTS) {
		snprintf(vr->key, sizeof(vr->key), "%s", k.name);
		if (k.deleted_date != 0)
			return deleted_conflict(req, k.name);
		return cu_vapi_error(req, 409, "Conflict",
		                     "A key with this name exists: delete and "
		                     "purge it before restoring");
	}
	if (r != 0)
		return cu_vapi_fail(req, r, NULL);
	snprintf(vr->key, sizeof(vr->key), "%s", k.name);
	return reply_key(req, vr, 200, &k, CU_VAPI_BUNDLE);
}

static int rotate_key(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	struct cu_vks_key k;
	int r = cu_vks_rotate(vr->api->vks, vr->key, &k);

	if (r != 0)
		return cu_vapi_fail(req, r, NULL);
	return reply_key(req, vr, 200, &k, CU_VAPI_BUNDLE);
}

static json_t *policy_json(struct cu_vapi_req *vr, json_t *stored)
{
	char id[CU_VAPI_URL_MAX + CU_VKS_NAME_MAX + 32];
	json_t *p = stored;

	if (p == NULL)
		p = json_pack("{s:[{s:{s:s},s:{s:s}}],s:{}}", "lifetimeActions",
		              "trigger", "timeBeforeExpiry", "P30D", "action",
		              "type", "Notify", "attributes");
	if (p == NULL)
		return NULL;
	snprintf(id, sizeof(id), "%s/keys/%s/rotationpolicy", vr->base,
	         vr->key);
	json_object_set_new(p, "id", json_string(id));
	return p;
}

static int get_policy(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	json_t *p = NULL;
	int r = cu_vks_policy_get(vr->api->vks, vr->key, &p);

	if (r != 0)
		return cu_vapi_fail(req, r, NULL);
	return cu_vapi_ok(req, 200, policy_json(vr, p));
}

/* An ISO 8601 duration of days, weeks, months or years ("P30D"). */
static int duration_ok(const char *s)
{
	int64_t secs;

	return cu_vks_duration(s, &secs) == 0;
}

static int put_policy(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	json_t *body = NULL, *acts, *a, *keep = NULL, *attrs;
	const char *why = NULL;
	size_t i;
	int r;

	if (cu_vapi_body(req, &body) != 0)
		return 0;
	acts = json_object_get(body, "lifetimeActions");
	if (acts != NULL &&
	    (!json_is_array(acts) || json_array_size(acts) > 2)) {
		r = bad(req, "'lifetimeActions' must be an array of at most 2");
		goto out;
	}
	json_array_foreach(acts, i, a)
	{
		json_t *t = json_object_get(a, "trigger");
		const char *type = json_string_value(
		    json_object_get(json_object_get(a, "action"), "type"));
		const char *after =
		    json_string_value(json_object_get(t, "timeAfterCreate"));
		const char *before =
		    json_string_value(json_object_get(t, "timeBeforeExpiry"));
		if (type == NULL ||
		    (strcasecmp(type, "Rotate") != 0 &&
		     strcasecmp(type, "Notify") != 0) ||
		    (after == NULL) == (before == NULL) ||
		    !duration_ok(after ? after : before)) {
			r = bad(req, "each lifetime action needs action.type "
			             "Rotate or Notify and one trigger "
			             "(timeAfterCreate or timeBeforeExpiry) "
			             "as an ISO 8601 duration like P90D");
			goto out;
		}
	}
	attrs = json_object_get(body, "attributes");
	if (attrs != NULL && !json_is_object(attrs)) {
		r = bad(req, "'attributes' must be an object");
		goto out;
	}
	if (json_object_get(attrs, "expiryTime") != NULL &&
	    !json_is_null(json_object_get(attrs, "expiryTime")) &&
	    !duration_ok(
	        json_string_value(json_object_get(attrs, "expiryTime")))) {
		r = bad(req, "'attributes.expiryTime' must be an ISO 8601 "
		             "duration like P90D");
		goto out;
	}
	/* Azure's floors, below which a policy such as "P0D" would rotate
	 * on every maintenance pass */
	if (cu_vks_policy_floors(body, &why) != 0) {
		r = bad(req, why);
		goto out;
	}
	keep = json_pack("{s:o,s:o}", "lifetimeActions",
	                 acts ? json_incref(acts) : json_array(), "attributes",
	                 attrs ? json_incref(attrs) : json_object());
	if (keep == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if ((r = cu_vks_policy_set(vr->api->vks, vr->key, keep)) != 0) {
		r = cu_vapi_fail(req, r, NULL);
		goto out;
	}
	r = cu_vapi_ok(req, 200, policy_json(vr, keep));
	keep = NULL;
out:
	json_decref(keep);
	json_decref(body);
	return r;
}

int cu_vapi_mount_keys(cu_vapi_t *api, cu_http_server_t *srv)
{
	static const struct cu_vapi_route routes[] = {
	    {.methods = CU_HTTP_GET,
	     .pattern = "/keys",
	     .op = "list",
	     .perm = CU_VPERM_READ,
	     .fn = list_keys},
	    {.methods = CU_HTTP_POST,
	     .pattern = "/keys/restore",
	     .op = "restore",
	     .perm = CU_VPERM_RESTORE,
	     .fn = restore_key},
	    {.methods = CU_HTTP_POST,
	     .pattern = "/keys/{name}/create",
	     .op = "create",
	     .perm = CU_VPERM_CREATE,
	     .key_scoped = 1,
	     .fn = create_key},
	    {.methods = CU_HTTP_POST,
	     .pattern = "/keys/{name}/backup",
	     .op = "backup",
	     .perm = CU_VPERM_BACKUP,
	     .key_scoped = 1,
	     .fn = backup_key},
	    {.methods = CU_HTTP_POST,
	     .pattern = "/keys/{name}/rotate",
	     .op = "rotate",
	     .perm = CU_VPERM_ROTATE,
	     .key_scoped = 1,
	     .fn = rotate_key},
	    {.methods = CU_HTTP_GET,
	     .pattern = "/keys/{name}/versions",
	     .op = "listversions",
	     .perm = CU_VPERM_READ,
	     .key_scoped = 1,
	     .fn = list_versions},
	    {.methods = CU_HTTP_GET,
	     .pattern = "/keys/{name}/rotationpolicy",
	     .op = "getrotationpolicy",
	     .perm = CU_VPERM_READ_POLICY,
	     .key_scoped = 1,
	     .fn = get_policy},
	    {.methods = CU_HTTP_PUT,
	     .pattern = "/keys/{name}/rotationpolicy",
	     .op = "setrotationpolicy",
	     .perm = CU_VPERM_ROTATE,
	     .key_scoped = 1,
	     .fn = put_policy},
	    {.methods = CU_HTTP_GET,
	     .pattern = "/keys/{name}",
	     .op = "get",
	     .perm = CU_VPERM_READ,
	     .key_scoped = 1,
	     .fn = get_key},
	    {.methods = CU_HTTP_PATCH,
	     .pattern = "/keys/{name}",
	     .op = "update",
	     .perm = CU_VPERM_UPDATE,
	     .key_scoped = 1,
	     .fn = update_key},
	    {.methods = CU_HTTP_PUT,
	     .pattern = "/keys/{name}",
	     .op = "import",
	     .perm = CU_VPERM_IMPORT,
	     .key_scoped = 1,
	     .fn = import_key},
	    {.methods = CU_HTTP_DELETE,
	     .pattern = "/keys/{name}",
	     .op = "delete",
	     .perm = CU_VPERM_DELETE,
	     .key_scoped = 1,
	     .fn = delete_key},
	    {.methods = CU_HTTP_GET,
	     .pattern = "/keys/{name}/{version}",
	     .op = "get",
	     .perm = CU_VPERM_READ,
	     .key_scoped = 1,
	     .fn = get_key},
	    {.methods = CU_HTTP_PATCH,
	     .pattern = "/keys/{name}/{version}",
	     .op = "update",
	     .perm = CU_VPERM_UPDATE,
	     .key_scoped = 1,
	     .fn = update_key},
	    {.methods = CU_HTTP_GET,
	     .pattern = "/deletedkeys",
	     .op = "listdeleted",
	     .perm = CU_VPERM_READ,
	     .fn = list_deleted},
	    {.methods = CU_HTTP_GET,
	     .pattern = "/deletedkeys/{name}",
	     .op = "getdeleted",
	     .perm = CU_VPERM_READ,
	     .key_scoped = 1,
	     .fn = get_deleted},
	    {.methods = CU_HTTP_DELETE,
	     .pattern = "/deletedkeys/{name}",
	     .op = "purge",
	     .perm = CU_VPERM_PURGE,
	     .key_scoped = 1,
	     .fn = purge_deleted},
	    {.methods = CU_HTTP_POST,
	     .pattern = "/deletedkeys/{name}/recover",
	     .op = "recover",
	     .perm = CU_VPERM_RECOVER,
	     .key_scoped = 1,
	     .fn = recover_deleted},
	};
	int r;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		struct cu_vapi_route rt = routes[i];
		rt.keys_api = 1;
		if ((r = cu_vapi_add(api, srv, &rt)) != 0)
			return r;
	}
	return 0;
}

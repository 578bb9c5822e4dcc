/* admin.c - the store's admin API (JSON, bearer tokens): tenants.
 *
 * The operator's token (hash in struct cu_s3) may do everything; a
 * tenant's admin token may read its own tenant. Tokens are compared as
 * SHA-256 hashes with cu_ct_equal. Secrets made here (access key
 * secret, admin token) are built in locked memory, shown once in the
 * reply and wiped. */
#include "core/b64.h"
#include "core/crypto/aead.h"
#include "core/crypto/hash.h"
#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secmem.h"
#include "store/s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECRET_BYTES 30 /* 40 base64url characters, as AWS's length */
#define TOKEN_BYTES  32
#define AKID_LEN     20
#define REPLY_MAX    1024

/* Roles: the operator, a tenant's admin (may manage its customer-managed
 * key), a tenant's reader (reads settings and events only). */
enum { WHO_NONE = 0, WHO_OPERATOR, WHO_TENANT, WHO_READER };

/* Who presents this bearer token: the operator, the admin of tenant
 * `tenant` (when not NULL), or nobody. */
static int who(cu_http_req_t *req, struct cu_s3 *s3, const char *tenant)
{
	const char *h = cu_http_req_header(req, "Authorization");
	unsigned char got[CU_SHA256_LEN], want[CU_SMETA_HASH_LEN];
	size_t n;

	if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
		return WHO_NONE;
	h += 7;
	n = strnlen(h, 512);
	if (n == 0 || n >= 512 || cu_sha256(h, n, got) != 0)
		return WHO_NONE;
	if (cu_ct_equal(got, s3->operator_hash, CU_SHA256_LEN))
		return WHO_OPERATOR;
	if (tenant != NULL && strlen(tenant) <= CU_SMETA_ID_MAX &&
	    cu_smeta_tenant_token_hash(s3->meta, tenant, want) == 0 &&
	    cu_ct_equal(got, want, CU_SHA256_LEN))
		return WHO_TENANT;
	if (tenant != NULL && strlen(tenant) <= CU_SMETA_ID_MAX &&
	    cu_smeta_reader_check(s3->meta, tenant, got) == 0)
		return WHO_READER;
	return WHO_NONE;
}

static int unauthorized(cu_http_req_t *req)
{
	(void)cu_http_set_header(req, "WWW-Authenticate", "Bearer");
	return cu_http_reply_error(req, 401, "Unauthorized",
	                           "A valid bearer token is required.");
}

static json_t *tenant_json(const struct cu_smeta_tenant *t)
{
	return json_pack("{s:s,s:s,s:s,s:I,s:{s:s,s:s}}", "id", t->id, "name",
	                 t->name, "state", t->state, "created",
	                 (json_int_t)t->created, "encryption", "mode",
	                 "system_managed", "state", t->state);
}

static int name_ok(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return n >= 1 && n <= CU_SMETA_NAME_MAX;
}

/* An access key id shaped like AWS's: "CU" and 18 of [A-Z2-7]. */
static int make_akid(char out[AKID_LEN + 1])
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned char r[AKID_LEN];
	int rc;

	if ((rc = cu_rand_bytes(r, sizeof(r))) != 0)
		return rc;
	out[0] = 'C';
	out[1] = 'U';
	for (int i = 2; i < AKID_LEN; i++)
		out[i] = b32[r[i] & 31];
	out[AKID_LEN] = '\0';
	return 0;
}

/* A fresh access key: its id, its secret (into secret, locked memory of
 * SECRET_BYTES * 2 bytes) and the secret sealed for the database. */
static int new_access_key(struct cu_s3 *s3, char akid[AKID_LEN + 1],
                          char *secret, unsigned char *sealed, size_t cap,
                          size_t *slen)
{
	unsigned char *raw = cu_secmem_alloc(SECRET_BYTES);
	size_t n = 0;
	int rc;

	if (raw == NULL)
		return CU_ERR_NOMEM;
	if ((rc = make_akid(akid)) != 0 ||
	    (rc = cu_rand_bytes(raw, SECRET_BYTES)) != 0 ||
	    (rc = cu_b64url_encode(raw, SECRET_BYTES, secret, SECRET_BYTES * 2,
	                           &n)) != 0)
		goto out;
	rc = cu_s3_seal_secret(s3, akid, strlen(akid), secret, n, sealed, cap,
	                       slen);
out:
	cu_secmem_free(raw, SECRET_BYTES);
	return rc;
}

static int create_tenant(cu_http_req_t *req, void *arg)
{
	struct cu_s3 *s3 = arg;
	struct cu_smeta_tenant_new tn = {0};
	unsigned char sealed[SECRET_BYTES * 2 + CU_AEAD_OVERHEAD];
	unsigned char wrapped[CU_SKEYS_WRAPPED_MAX];
	unsigned char token_hash[CU_SHA256_LEN];
	unsigned char *raw = NULL;
	char *secret = NULL, *token = NULL, *reply = NULL;
	char id[20], akid[AKID_LEN + 1];
	size_t slen = 0, wlen = 0, n;
	json_t *body = NULL;
	const char *name;
	int rc, len;

	if (who(req, s3, NULL) != WHO_OPERATOR)
		return unauthorized(req);
	if (cu_http_req_body_json(req, &body) != 0 || !json_is_object(body) ||
	    (name = json_string_value(json_object_get(body, "name"))) == NULL) {
		rc = cu_http_reply_error(req, 400, "BadRequest",
		                         "Expected {\"name\": \"...\"}.");
		goto out;
	}
	if (!name_ok(name)) {
		rc = cu_http_reply_error(req, 400, "BadRequest",
		                         "A tenant name is 1-64 characters of "
		                         "a-z, 0-9, '-', '_' and '.'.");
		goto out;
	}
	rc = CU_ERR_NOMEM;
	raw = cu_secmem_alloc(TOKEN_BYTES);
	secret = cu_secmem_alloc(SECRET_BYTES * 2);
	token = cu_secmem_alloc(TOKEN_BYTES * 2 + 8);
	reply = cu_secmem_alloc(REPLY_MAX);
	if (raw == NULL || secret == NULL || token == NULL || reply == NULL)
		goto out;
	id[0] = 't';
	if ((rc = cu_rand_hex(id + 1, 8)) != 0 ||
	    (rc = new_access_key(s3, akid, secret, sealed, sizeof(sealed),
	                         &slen)) != 0)
		goto out;
	/* the tenant admin's token: kept only as a hash */
	memcpy(token, "cut_", 4);
	if ((rc = cu_rand_bytes(raw, TOKEN_BYTES)) != 0 ||
	    (rc = cu_b64url_encode(raw, TOKEN_BYTES, token + 4,
	                           TOKEN_BYTES * 2 + 4, &n)) != 0 ||
	    (rc = cu_sha256(token, n + 4, token_hash)) != 0)
		goto out;
	if ((rc = cu_skeys_tk_new(s3->keys, wrapped, sizeof(wrapped), &wlen)) !=
	    0)
		goto out;
	tn.id = id;
	tn.name = name;
	tn.admin_token_hash = token_hash;
	tn.access_key_id = akid;
	tn.secret_sealed = sealed;
	tn.secret_sealed_len = slen;
	tn.tk_wrapped = wrapped;
	tn.tk_wrapped_len = wlen;
	tn.root = cu_skeys_root_name(s3->keys);
	tn.created = (int64_t)time(NULL);
	rc = cu_smeta_tenant_create(s3->meta, &tn);
	if (rc == CU_ERR_EXISTS) {
		rc = cu_http_reply_error(req, 409, "Conflict",
		                         "A tenant by that name exists.");
		goto out;
	}
	if (rc != 0)
		goto out;
	cu_log(CU_LOG_INFO, "tenant created",
	       json_pack("{s:s,s:s,s:s,s:s}", "request_id", cu_http_req_id(req),
	                 "tenant", id, "name", name, "access_key_id", akid));
	/* built here, not with jansson, so the secrets stay in locked
	 * memory (every value is from a safe alphabet: no escaping) */
	len = snprintf(reply, REPLY_MAX,
	               "{\"id\":\"%s\",\"name\":\"%s\",\"state\":"
	               "\"system_managed\",\"access_key_id\":\"%s\","
	               "\"secret_access_key\":\"%s\",\"admin_token\":\"%s\"}",
	               id, name, akid, secret, token);
	if (len < 0 || len >= REPLY_MAX) {
		rc = CU_ERR_RANGE;
		goto out;
	}
	(void)cu_http_set_header(req, "Cache-Control", "no-store");
	rc = cu_http_reply(req, 201, reply, (size_t)len, "application/json");
out:
	cu_secmem_free(raw, TOKEN_BYTES);
	cu_secmem_free(secret, SECRET_BYTES * 2);
	cu_secmem_free(token, TOKEN_BYTES * 2 + 8);
	cu_secmem_free(reply, REPLY_MAX);
	cu_memzero(sealed, sizeof(sealed));
	json_decref(body);
	return rc;
}

static int list_cb(void *arg, const struct cu_smeta_tenant *t)
{
	json_t *j = tenant_json(t);

	if (j == NULL || json_array_append_new(arg, j) != 0)
		return CU_ERR_NOMEM;
	return 0;
}

static int list_tenants(cu_http_req_t *req, void *arg)
{
	struct cu_s3 *s3 = arg;
	json_t *arr;
	int rc;

	if (who(req, s3, NULL) != WHO_OPERATOR)
		return unauthorized(req);
	if ((arr = json_array()) == NULL)
		return CU_ERR_NOMEM;
	if ((rc = cu_smeta_tenant_list(s3->meta, list_cb, arr)) != 0) {
		json_decref(arr);
		return rc;
	}
	return cu_http_reply_json(req, 200, json_pack("{s:o}", "tenants", arr));
}

static int get_tenant(cu_http_req_t *req, void *arg)
{
	struct cu_s3 *s3 = arg;
	const char *id = cu_http_req_param(req, "tenant");
	struct cu_smeta_tenant t;
	int rc;

	if (who(req, s3, id) == WHO_NONE)
		return unauthorized(req);
	if (strlen(id) > CU_SMETA_ID_MAX)
		rc = CU_ERR_NOTFOUND;
	else
		rc = cu_smeta_tenant_get(s3->meta, id, &t);
	if (rc == CU_ERR_NOTFOUND)
		return cu_http_reply_error(req, 404, "TenantNotFound",
		                           "No such tenant.");
	if (rc != 0)
		return rc;
	if (s3->cmk != NULL) {
		json_t *j = tenant_json(&t), *enc = cu_scmk_status(s3->cmk, id);

		if (j != NULL && enc != NULL)
			json_object_set_new(j, "encryption", enc);
		else
			json_decref(enc);
		return cu_http_reply_json(req, 200, j);
	}
	return cu_http_reply_json(req, 200, tenant_json(&t));
}

static int delete_tenant(cu_http_req_t *req, void *arg)
{
	struct cu_s3 *s3 = arg;
	const char *id = cu_http_req_param(req, "tenant");
	int rc;

	if (who(req, s3, NULL) != WHO_OPERATOR)
		return unauthorized(req);
	rc = cu_smeta_tenant_delete(s3->meta, id);
	if (rc == CU_ERR_NOTFOUND)
		return cu_http_reply_error(req, 404, "TenantNotFound",
		                           "No such tenant.");
	if (rc == CU_ERR_STATE)
		return cu_http_reply_error(
		    req, 409, "TenantNotEmpty",
		    "Delete the tenant's buckets first.");
	if (rc != 0)
		return rc;
	/* its plaintext TKs and object subkeys go now, not at lease end */
	(void)cu_skeys_forget(s3->keys, id);
	cu_log(CU_LOG_INFO, "tenant deleted",
	       json_pack("{s:s,s:s}", "request_id", cu_http_req_id(req),
	                 "tenant", id));
	return cu_http_reply(req, 204, NULL, 0, NULL);
}

/* The tenant named in the path, when the caller may manage it (the
 * operator, or the tenant's admin; with `reader`, the tenant's readers
 * too); else a reply was made and NULL. */
static const char *tenant_for(cu_http_req_t *req, struct cu_s3 *s3, int reader)
{
	const char *id = cu_http_req_param(req, "tenant");
	struct cu_smeta_tenant t;
	int w = who(req, s3, id);

	if (w == WHO_NONE) {
		(void)unauthorized(req);
		return NULL;
	}
	if (w == WHO_READER && !reader) {
		(void)cu_http_reply_error(req, 403, "ReadOnlyToken",
		                          "A tenant reader token may only read "
		                          "the tenant's settings and events.");
		return NULL;
	}
	if (strlen(id) > CU_SMETA_ID_MAX ||
	    cu_smeta_tenant_get(s3->meta, id, &t) != 0) {
		(void)cu_http_reply_error(req, 404, "TenantNotFound",
		                          "No such tenant.");
		return NULL;
	}
	return id;
}

static const char *managed_tenant(cu_http_req_t *req, struct cu_s3 *s3)
{
	return tenant_for(req, s3, 0);
}

static const char *read_tenant(cu_http_req_t *req, struct cu_s3 *s3)
{
	return tenant_for(req, s3, 1);
}

static int create_key(cu_http_req_t *req, void *arg)
{
	struct cu_s3 *s3 = arg;
	unsigned char sealed[SECRET_BYTES * 2 + CU_AEAD_OVERHEAD];
	char akid[AKID_LEN + 1], *secret = NULL, *reply = NULL;
	const char *id;
	size_t slen = 0;
	int rc, len;

	if ((id = managed_tenant(req, s3)) == NULL)
		return 0;
	secret = cu_secmem_alloc(SECRET_BYTES * 2);
	reply = cu_secmem_alloc(REPLY_MAX);
	rc = CU_ERR_NOMEM;
	if (secret == NULL || reply == NULL)
		goto out;
	rc = new_access_key(s3, akid, secret, sealed, sizeof(sealed), &slen);
	if (rc != 0)
		goto out;
	rc = cu_smeta_akey_add(s3->meta, id, akid, sealed, slen,
	                       (int64_t)time(NULL));
	if (rc != 0)
		goto out;
	cu_log(CU_LOG_INFO, "access key created",
	       json_pack("{s:s,s:s,s:s}", "request_id", cu_http_req_id(req),
	                 "tenant", id, "access_key_id", akid));
	len = snprintf(reply, REPLY_MAX,
	               "{\"access_key_id\":\"%s\",\"secret_access_key\":"
	               "\"%s\"}",
	               akid, secret);
	if (len < 0 || len >= REPLY_MAX) {
		rc = CU_ERR_RANGE;
		goto out;
	}
	(void)cu_http_set_header(req, "Cache-Control", "no-store");
	rc = cu_http_reply(req, 201, reply, (size_t)len, "application/json");
out:
	cu_secmem_free(secret, SECRET_BYTES * 2);
	cu_secmem_free(reply, REPLY_MAX);
	cu_memzero(sealed, sizeof(sealed));
	return rc;
}

static int key_cb(void *arg, const struct cu_smeta_akey *k)
{
	json_t *j = json_pack("{s:s,s:s,s:I}", "access_key_id", k->id, "state",
	                      k->active ? "active" : "revoked", "created",
	                      (json_int_t)k->created);

	if (j == NULL || json_array_append_new(arg, j) != 0)
		return CU_ERR_NOMEM;
	return 0;
}

static int list_keys(cu_http_req_t *req, void *arg)
{
	struct cu_s3 *s3 = arg;
	const char *id;
	json_t *arr;
	int rc;

	if ((id = managed_tenant(req, s3)) == NULL)
		return 0;
	if ((arr = json_array()) == NULL)
		return CU_ERR_NOMEM;
	if ((rc = cu_smeta_akey_list(s3->meta, id, key_cb, arr)) != 0) {
		json_decref(arr);
		return rc;
	}
	return cu_http_reply_json(req, 200,
	                          json_pack("{s:o}", "access_keys", arr));
}

static int revoke_key(cu_http_req_t *req, void *arg)
{
	struct cu_s3 *s3 = arg;
	const char *id, *akid = cu_http_req_param(req, "key");
	int rc;

	if ((id = managed_tenant(req, s3)) == NULL)
		return 0;
	rc = cu_smeta_akey_revoke(s3->meta, id, akid);
	if (rc == CU_ERR_NOTFOUND)
		return cu_http_reply_error(req, 404, "AccessKeyNotFound",
		                           "No such active access key.");
	if (rc != 0)
		return rc;
	if (akid != NULL)
		cu_skcache_forget(s3->skcache, akid, strlen(akid));
	cu_log(CU_LOG_INFO, "access key revoked",
	       json_pack("{s:s,s:s,s:s}", "request_id", cu_http_req_id(req),
	                 "tenant", id, "access_key_id", akid));
	return cu_http_reply(req, 204, NULL, 0, NULL);
}

/* ---- customer-managed keys (store/cmk.h) --------------------------- */

static int cmk_error(cu_http_req_t *req, const struct cu_scmk_error *e)
{
	return cu_http_reply_error(req, e->status ? e->status : 500,
	                           e->code ? e->code : "InternalError",
	                           e->message);
}

static int encryption_status(cu_http_req_t *req, struct cu_s3 *s3,
                             const char *id, int status)
{
	json_t *doc = cu_scmk_status(s3->cmk, id);

	if (doc == NULL)
		return CU_ERR_NOMEM;
	return cu_http_reply_json(req, status, doc);
}

static int put_encryption(cu_http_req_t *req, void *arg)
{
	struct cu_s3 *s3 = arg;
	struct cu_scmk_error e = {0};
	json_t *body = NULL;
	const char *id;
	int rc;

	if ((id = managed_tenant(req, s3)) == NULL)
		return 0;
	if (cu_http_req_body_json(req, &body) != 0) {
		json_decref(body);
		return cu_http_reply_error(req, 400, "InvalidEncryptionRequest",
		                           "The body is not valid JSON.");
	}
	rc = cu_scmk_request(s3->cmk, id, body, &e);
	json_decref(body);
	if (rc == CU_ERR_NOMEM || rc == CU_ERR_DB)
		return rc;
	if (rc != 0)
		return cmk_error(req, &e);
	cu_log(CU_LOG_INFO, "tenant encryption change requested",
	       json_pack("{s:s,s:s}", "request_id", cu_http_req_id(req),
	                 "tenant", id));
	return encryption_status(req, s3, id, 202);
}

static int get_encryption(cu_http_req_t *req, void *arg)
{
	struct cu_s3 *s3 = arg;
	const char *id;

	if ((id = read_tenant(req, s3)) == NULL)
		return 0;
	return encryption_status(req, s3, id, 200);
}

static int check_encryption(cu_http_req_t *req, void *arg)
{
	struct cu_s3 *s3 = arg;
	struct cu_scmk_error e = {0};
	const char *id;

	if ((id = managed_tenant(req, s3)) == NULL)
		return 0;
	if (cu_scmk_check(s3->cmk, id, &e) != 0)
		return cmk_error(req, &e);
	return encryption_status(req, s3, id, 200);
}

static int roll_tenant_key(cu_http_req_t *req, void *arg)
{
	struct cu_s3 *s3 = arg;
	struct cu_scmk_error e = {0};
	uint32_t v = 0;
	const char *id;

	if ((id = managed_tenant(req, s3)) == NULL)
		return 0;
	if (cu_scmk_roll(s3->cmk, id, &v, &e) != 0)
		return cmk_error(req, &e);
	cu_log(CU_LOG_INFO, "tenant key rolled",
	       json_pack("{s:s,s:s,s:i}", "request_id", cu_http_req_id(req),
	                 "tenant", id, "tk_version", (int)v));
	return cu_http_reply_json(
	    req, 200, json_pack("{s:i}", "tenant_key_version", (int)v));
}

static int purge_tenant(cu_http_req_t *req, void *arg)
{
	struct cu_s3 *s3 = arg;
	struct cu_scmk_error e = {0};
	json_t *body = NULL;
	const char *id;
	int rc;

	if ((id = managed_tenant(req, s3)) == NULL)
		return 0;
	if (cu_http_req_body_json(req, &body) != 0 || !json_is_object(body)) {
		json_decref(body);
		return cu_http_reply_error(
		    req, 400, "ConfirmationRequired",
		    "Send {\"confirm\": \"<tenant id>\"} "
		    "to purge.");
	}
	rc = cu_scmk_purge(s3->cmk, id,
	                   json_string_value(json_object_get(body, "confirm")),
	                   &e);
	json_decref(body);
	if (rc != 0)
		return cmk_error(req, &e);
	cu_log(CU_LOG_WARN, "tenant purge requested",
	       json_pack("{s:s,s:s}", "request_id", cu_http_req_id(req),
	                 "tenant", id));
	return encryption_status(req, s3, id, 202);
}

static int cancel_purge(cu_http_req_t *req, void *arg)
{
	struct cu_s3 *s3 = arg;
	struct cu_scmk_error e = {0};
	const char *id;

	if ((id = managed_tenant(req, s3)) == NULL)
		return 0;
	if (cu_scmk_purge_cancel(s3->cmk, id, &e) != 0)
		return cmk_error(req, &e);
	return encryption_status(req, s3, id, 200);
}

static int tenant_events(cu_http_req_t *req, void *arg)
{
	struct cu_s3 *s3 = arg;
	const char *id, *q = cu_http_req_query(req, "since");
	int64_t since = 0;
	json_t *doc;

	if ((id = read_tenant(req, s3)) == NULL)
		return 0;
	if (q != NULL) {
		size_t n = strnlen(q, 20);

		if (n == 0 || n > 18 || strspn(q, "0123456789") != n)
			return cu_http_reply_error(
			    req, 400, "InvalidArgument",
			    "since is a non-negative integer.");
		for (size_t i = 0; i < n; i++)
			since = since * 10 + (q[i] - '0');
	}
	if ((doc = cu_scmk_events(s3->cmk, id, since)) == NULL)
		return CU_ERR_NOMEM;
	return cu_http_reply_json(req, 200, doc);
}

/* POST /admin/v1/tenants/{t}/reader-tokens: a new reader token, shown
 * once; only its hash is kept. */
static int create_reader(cu_http_req_t *req, void *arg)
{
	struct cu_s3 *s3 = arg;
	unsigned char *raw = NULL, hash[CU_SHA256_LEN];
	char *token = NULL, *reply = NULL;
	const char *id;
	size_t n = 0;
	int rc, len;

	if ((id = managed_tenant(req, s3)) == NULL)
		return 0;
	rc = CU_ERR_NOMEM;
	raw = cu_secmem_alloc(TOKEN_BYTES);
	token = cu_secmem_alloc(TOKEN_BYTES * 2 + 8);
	reply = cu_secmem_alloc(REPLY_MAX);
	if (raw == NULL || token == NULL || reply == NULL)
		goto out;
	memcpy(token, "cur_", 4);
	if ((rc = cu_rand_bytes(raw, TOKEN_BYTES)) != 0 ||
	    (rc = cu_b64url_encode(raw, TOKEN_BYTES, token + 4,
	                           TOKEN_BYTES * 2 + 4, &n)) != 0 ||
	    (rc = cu_sha256(token, n + 4, hash)) != 0 ||
	    (rc = cu_smeta_reader_add(s3->meta, id, hash,
	                              (int64_t)time(NULL))) != 0)
		goto out;
	cu_log(CU_LOG_INFO, "tenant reader token created",
	       json_pack("{s:s,s:s}", "request_id", cu_http_req_id(req),
	                 "tenant", id));
	len = snprintf(reply, REPLY_MAX, "{\"reader_token\":\"%.*s\"}",
	               (int)(n + 4), token);
	if (len < 0 || len >= REPLY_MAX) {
		rc = CU_ERR_RANGE;
		goto out;
	}
	(void)cu_http_set_header(req, "Cache-Control", "no-store");
	rc = cu_http_reply(req, 201, reply, (size_t)len, "application/json");
out:
	cu_secmem_free(raw, TOKEN_BYTES);
	cu_secmem_free(token, TOKEN_BYTES * 2 + 8);
	cu_secmem_free(reply, REPLY_MAX);
	cu_memzero(hash, sizeof(hash));
	return rc;
}

static int mount_cmk(struct cu_s3 *s3, cu_http_server_t *srv)
{
	static const struct {
		const char *pattern;
		unsigned methods;
		cu_http_handler_fn fn;
	} routes[] = {
	    {"/admin/v1/tenants/{tenant}/encryption", CU_HTTP_PUT,
	     put_encryption},
	    {"/admin/v1/tenants/{tenant}/encryption", CU_HTTP_GET,
	     get_encryption},
	    {"/admin/v1/tenants/{tenant}/encryption/check", CU_HTTP_POST,
	     check_encryption},
	    {"/admin/v1/tenants/{tenant}/encryption/roll", CU_HTTP_POST,
	     roll_tenant_key},
	    {"/admin/v1/tenants/{tenant}/purge", CU_HTTP_POST, purge_tenant},
	    {"/admin/v1/tenants/{tenant}/purge", CU_HTTP_DELETE, cancel_purge},
	    {"/admin/v1/tenants/{tenant}/events", CU_HTTP_GET, tenant_events},
	    {"/admin/v1/tenants/{tenant}/reader-tokens", CU_HTTP_POST,
	     create_reader},
	};
	struct cu_http_route r = {.arg = s3};
	int rc;

	if (s3->cmk == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		r.pattern = routes[i].pattern;
		r.methods = routes[i].methods;
		r.on_end = routes[i].fn;
		r.flags = CU_HTTP_ROUTE_TRAILING_SLASH;
		r.max_body = 8192;
		if ((rc = cu_http_server_route(srv, &r)) != 0)
			return rc;
	}
	return 0;
}

int cu_s3_admin_mount(struct cu_s3 *s3, cu_http_server_t *srv)
{
	struct cu_http_route r = {.arg = s3};
	int rc;

	r.methods = CU_HTTP_POST;
	r.pattern = "/admin/v1/tenants";
	r.flags = CU_HTTP_ROUTE_TRAILING_SLASH;
	r.on_end = create_tenant;
	r.max_body = 4096;
	if ((rc = cu_http_server_route(srv, &r)) != 0)
		return rc;
	r.methods = CU_HTTP_GET;
	r.on_end = list_tenants;
	if ((rc = cu_http_server_route(srv, &r)) != 0)
		return rc;
	r.pattern = "/admin/v1/tenants/{tenant}";
	r.on_end = get_tenant;
	if ((rc = cu_http_server_route(srv, &r)) != 0)
		return rc;
	r.methods = CU_HTTP_DELETE;
	r.on_end = delete_tenant;
	if ((rc = cu_http_server_route(srv, &r)) != 0)
		return rc;
	r.pattern = "/admin/v1/tenants/{tenant}/access-keys";
	r.methods = CU_HTTP_POST;
	r.on_end = create_key;
	if ((rc = cu_http_server_route(srv, &r)) != 0)
		return rc;
	r.methods = CU_HTTP_GET;
	r.on_end = list_keys;
	if ((rc = cu_http_server_route(srv, &r)) != 0)
		return rc;
	r.pattern = "/admin/v1/tenants/{tenant}/access-keys/{key}";
	r.methods = CU_HTTP_DELETE;
	r.on_end = revoke_key;
	if ((rc = cu_http_server_route(srv, &r)) != 0)
		return rc;
	return mount_cmk(s3, srv);
}

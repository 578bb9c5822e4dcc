/* api_internal.h - shared by the vault's api_*.c files (module cu_vapi_);
 * not part of any public face. */
#ifndef CU_VAULT_API_INTERNAL_H
#define CU_VAULT_API_INTERNAL_H

#include "core/http/server.h"
#include "vault/api.h"
#include "vault/keystore.h"
#include "vault/rbac.h"

#include <jansson.h>
#include <pthread.h>

#define CU_VAPI_URL_MAX 256

struct cu_vapi_route;

struct cu_vapi {
	cu_vks_t *vks;
	struct cu_vaudit_writer *audit; /* group commit, own connection */
	pthread_mutex_t mu;             /* guards url */
	char url[CU_VAPI_URL_MAX];
	struct cu_vapi_route **routes; /* owned, for cu_vapi_free */
	size_t nroutes;
};

/* Per-request state, attached with cu_http_req_set_ctx. */
struct cu_vapi_req {
	cu_vapi_t *api;
	const struct cu_vapi_route *route;
	char principal[CU_VRBAC_NAME_MAX + 1];
	char key[CU_VKS_NAME_MAX + 1];
	char version[CU_VKS_VERSION_LEN + 1];
	char base[CU_VAPI_URL_MAX]; /* public URL for this request */
	const char *api_version;    /* as sent; keys API only */
	int audited;
};

typedef int (*cu_vapi_fn)(cu_http_req_t *req, struct cu_vapi_req *vr);

/* A route: what the server calls and how it is checked. */
struct cu_vapi_route {
	cu_vapi_t *api;
	unsigned methods;
	const char *pattern;
	const char *op; /* name in the audit log */
	unsigned perm;  /* CU_VPERM_*; 0 = any authenticated principal */
	int keys_api;   /* 1: needs api-version; 0: admin API */
	int key_scoped; /* authorize against the {name} key */
	uint64_t max_body;
	cu_vapi_fn fn;
};

/* cu_vapi_add - register a route (copied) with the server. */
int cu_vapi_add(cu_vapi_t *api, cu_http_server_t *srv,
                const struct cu_vapi_route *r);

/* The route tables of each api_*.c file. */
int cu_vapi_mount_keys(cu_vapi_t *api, cu_http_server_t *srv);
int cu_vapi_mount_crypto(cu_vapi_t *api, cu_http_server_t *srv);
int cu_vapi_mount_admin(cu_vapi_t *api, cu_http_server_t *srv);

/* Replies; each records the request in the audit log once.
 * cu_vapi_error sends Azure's error body {"error":{"code","message"}};
 * cu_vapi_error_inner adds "innererror":{"code":inner} (inner NULL: none),
 * which Azure sends where the code alone does not say what happened
 * ("ForbiddenByRbac", "KeyDisabled", "ObjectIsDeletedButRecoverable"). */
int cu_vapi_error(cu_http_req_t *req, int status, const char *code,
                  const char *message);
int cu_vapi_error_inner(cu_http_req_t *req, int status, const char *code,
                        const char *inner, const char *message);
int cu_vapi_ok(cu_http_req_t *req, int status, json_t *body);
int cu_vapi_no_content(cu_http_req_t *req);

/* cu_vapi_error_body - the body cu_vapi_error_inner sends, as a new JSON
 * object (caller decrefs); NULL when out of memory. */
json_t *cu_vapi_error_body(const char *code, const char *inner,
                           const char *message);

/* cu_vapi_refusal - Azure's 403 for cu_vks_use refusing operation `op`
 * (one CU_VKS_OP_* bit) with r (CU_ERR_STATE or CU_ERR_DENIED) on the key
 * version m, with cu_vks_use's reason `why`: writes the message into msg
 * (cap bytes) and returns the innererror code, or NULL when there is none
 * to send (expired or not yet valid: no code of Azure's for these could
 * be confirmed, so none is made up). */
const char *cu_vapi_refusal(int r, const struct cu_vks_key *m, unsigned op,
                            const char *why, char *msg, size_t cap);

/* cu_vapi_fail - reply for a CU_ERR_* from the keystore: 404 KeyNotFound,
 * 409 Conflict, 403 Forbidden (no innererror), 400 BadParameter, 500/503.
 * `message` (may be NULL) overrides the default text. */
int cu_vapi_fail(cu_http_req_t *req, int err, const char *message);

/* cu_vapi_body - the request body as a JSON object (*out, caller
 * decrefs). On failure replies 400 BadParameter and returns
 * CU_ERR_PARSE: the handler just returns 0. */
int cu_vapi_body(cu_http_req_t *req, json_t **out);

/* cu_vapi_key_json - the Azure shape of one key version:
 * CU_VAPI_BUNDLE KeyBundle, CU_VAPI_ITEM KeyItem (kid with version when
 * with_version), CU_VAPI_DELETED / CU_VAPI_DELETED_ITEM with recoveryId,
 * deletedDate and scheduledPurgeDate. NULL when out of memory. */
enum {
	CU_VAPI_BUNDLE = 1,
	CU_VAPI_ITEM,
	CU_VAPI_DELETED,
	CU_VAPI_DELETED_ITEM,
};
json_t *cu_vapi_key_json(const struct cu_vapi_req *vr,
                         const struct cu_vks_key *k, int shape,
                         int with_version);

/* cu_vapi_kid - "BASE/keys/NAME/VERSION" into out. */
void cu_vapi_kid(const struct cu_vapi_req *vr, const char *name,
                 const char *version, char *out, size_t cap);

/* cu_vapi_b64_member - decode base64url member `name` of obj into a fresh
 * buffer of at most max bytes (secure memory when secret; free with
 * cu_vapi_buf_free(buf, cap, secret)). On failure replies 400 and returns
 * CU_ERR_PARSE. */
int cu_vapi_b64_member(cu_http_req_t *req, const json_t *obj, const char *name,
                       size_t max, int secret, unsigned char **buf, size_t *len,
                       size_t *cap);
void cu_vapi_buf_free(unsigned char *buf, size_t cap, int secret);

/* cu_vapi_int_query - integer query argument in [lo, hi] or def when
 * absent. Returns 0 or CU_ERR_PARSE (400 already replied). */
int cu_vapi_int_query(cu_http_req_t *req, const char *name, int64_t lo,
                      int64_t hi, int64_t def, int64_t *out);

#endif

/* rbac.h - who may do what in a vault: principals and role assignments.
 *
 * A principal authenticates with a bearer token (stored only as its
 * SHA-256) or a TLS client certificate (by the SHA-256 fingerprint of its
 * DER encoding). Role assignments give a principal one of Azure's built-in
 * key roles at vault scope ("/") or at one key ("/keys/NAME").
 * Authorization answers from what the database last said (memo.h), valid
 * only until its next commit: removing an assignment takes effect on the
 * very next request. */
#ifndef CU_VAULT_RBAC_H
#define CU_VAULT_RBAC_H

#include "vault/keystore.h"

#include <jansson.h>
#include <stddef.h>

#define CU_VRBAC_NAME_MAX 127
/* A token is 32 random bytes in base64url: 43 characters. */
#define CU_VRBAC_TOKEN_LEN 43
#define CU_VRBAC_TOKEN_MAX 512

/* Permissions, after Azure's data actions (Microsoft.KeyVault/vaults/
 * keys/..., keyrotationpolicies/...). */
enum {
	CU_VPERM_READ = 1 << 0,        /* keys/read: get, list keys and
	                                  versions, get and list deleted keys */
	CU_VPERM_READ_POLICY = 1 << 1, /* keyrotationpolicies/read */
	CU_VPERM_CREATE = 1 << 2,
	CU_VPERM_IMPORT = 1 << 3,
	CU_VPERM_UPDATE = 1 << 4,
	CU_VPERM_DELETE = 1 << 5,
	CU_VPERM_RECOVER = 1 << 6,
	CU_VPERM_PURGE = 1 << 7,
	CU_VPERM_BACKUP = 1 << 8,
	CU_VPERM_RESTORE = 1 << 9,
	CU_VPERM_ROTATE = 1 << 10, /* keys/rotate and
	                              keyrotationpolicies/write */
	CU_VPERM_ENCRYPT = 1 << 11,
	CU_VPERM_DECRYPT = 1 << 12,
	CU_VPERM_WRAP = 1 << 13,
	CU_VPERM_UNWRAP = 1 << 14,
	CU_VPERM_SIGN = 1 << 15,
	CU_VPERM_VERIFY = 1 << 16,
	CU_VPERM_ADMIN = 1 << 17, /* settings, principals, roles, audit,
	                             events */
};

#define CU_VROLE_ADMIN    "Key Vault Administrator"
#define CU_VROLE_OFFICER  "Key Vault Crypto Officer"
#define CU_VROLE_USER     "Key Vault Crypto User"
#define CU_VROLE_SVC_USER "Key Vault Crypto Service Encryption User"
#define CU_VROLE_READER   "Key Vault Reader"

/* cu_vrbac_role_perms - the permissions of a built-in role by name; 0
 * for an unknown role. */
unsigned cu_vrbac_role_perms(const char *role);

/* cu_vrbac_name_valid - 1 when s (len bytes) is a valid principal or
 * assignment name: 1-127 of [A-Za-z0-9._-]. */
int cu_vrbac_name_valid(const char *s, size_t len);

/* cu_vrbac_principal_token - create principal `name` authenticating by
 * token, or give an existing one a new token (the old stops working).
 * token receives the new token, NUL-terminated (room for
 * CU_VRBAC_TOKEN_LEN + 1): show it once, never store or log it.
 * Returns 0, CU_ERR_INVAL (name), CU_ERR_CRYPTO or CU_ERR_DB. */
int cu_vrbac_principal_token(cu_vks_t *vks, const char *name,
                             char token[CU_VRBAC_TOKEN_LEN + 1]);

/* cu_vrbac_principal_cert - create or replace principal `name`
 * authenticating by the client certificate whose DER SHA-256 is fp.
 * Returns 0, CU_ERR_INVAL, CU_ERR_EXISTS (another principal has that
 * certificate) or CU_ERR_DB. */
int cu_vrbac_principal_cert(cu_vks_t *vks, const char *name,
                            const unsigned char fp[32]);

/* cu_vrbac_principal_delete - remove a principal and its assignments
 * (each recorded as a role_removed event). Returns 0, CU_ERR_NOTFOUND or
 * CU_ERR_DB. */
int cu_vrbac_principal_delete(cu_vks_t *vks, const char *name);

/* cu_vrbac_principal_count - how many principals exist. */
int cu_vrbac_principal_count(cu_vks_t *vks, int64_t *n);

/* cu_vrbac_bootstrap - on a vault with no principal yet, create
 * principal `name` with a token and the Key Vault Administrator role at
 * "/", and write the token (one line) to the new file `token_path`
 * (mode 0600; an existing file is replaced). Does nothing (returns 0,
 * *created 0) when any principal exists. Returns 0, CU_ERR_IO or a
 * database error. */
int cu_vrbac_bootstrap(cu_vks_t *vks, const char *name, const char *token_path,
                       int *created);

/* cu_vrbac_auth_token - the principal whose token is tok (len bytes,
 * untrusted) into name (room for CU_VRBAC_NAME_MAX + 1). Returns 0,
 * CU_ERR_AUTH (no such token) or CU_ERR_DB. */
int cu_vrbac_auth_token(cu_vks_t *vks, const char *tok, size_t len,
                        char name[CU_VRBAC_NAME_MAX + 1]);

/* cu_vrbac_auth_cert - the principal of a client certificate's SHA-256.
 * Returns 0, CU_ERR_AUTH or CU_ERR_DB. */
int cu_vrbac_auth_cert(cu_vks_t *vks, const unsigned char fp[32],
                       char name[CU_VRBAC_NAME_MAX + 1]);

/* cu_vrbac_assign - create or replace assignment `id`: principal gets
 * role at scope ("/" or "/keys/NAME"). Records a role_assigned event.
 * Returns 0, CU_ERR_INVAL (id, role or scope), CU_ERR_NOTFOUND (no such
 * principal) or CU_ERR_DB. */
int cu_vrbac_assign(cu_vks_t *vks, const char *id, const char *principal,
                    const char *role, const char *scope);

/* cu_vrbac_unassign - remove assignment `id` (role_removed event).
 * Returns 0, CU_ERR_NOTFOUND or CU_ERR_DB. */
int cu_vrbac_unassign(cu_vks_t *vks, const char *id);

/* cu_vrbac_list - every assignment as a new JSON array of {id,
 * principal, role, scope, created}. Returns 0, CU_ERR_NOMEM or
 * CU_ERR_DB. */
int cu_vrbac_list(cu_vks_t *vks, json_t **out);

/* cu_vrbac_check - may `principal` do `perm` (one CU_VPERM_* bit) on key
 * `key` (NULL for vault-wide operations such as listing, which only a
 * vault-scope assignment allows)? Returns 0 when allowed, CU_ERR_DENIED,
 * or CU_ERR_DB. */
int cu_vrbac_check(cu_vks_t *vks, const char *principal, unsigned perm,
                   const char *key);

#endif

/* cmk.h - tenants' customer-managed keys (DESIGN.md sections 5 and 6):
 * per-tenant roots, the encryption state machine, validation, re-wrap,
 * revocation, outage grace, the availability key, roll and purge.
 *
 * Roots. A tenant on system-managed keys has each TK version wrapped
 * under the system key (store/keys.h). Enabling customer-managed keys
 * validates each customer key (store/cmkcheck.h) and then re-wraps every
 * TK version once under each customer key (store/root_vault.h over
 * store/vaultc.h, pinned or following the latest version) and, when the
 * tenant chose it, under the availability key (AvK, an operator-held
 * root: a key file or a key in the operator's vault, store/oproot.h). The
 * system-key wraps are then emptied. Swapping keys, a new key version and
 * leaving customer-managed keys re-wrap the TK versions the same way: objects
 * are never touched.
 *
 * Unwrap (the keys.h callback this module installs): the customer keys
 * in order, the first that answers wins. Every key denying (role
 * removed, key disabled, deleted, expired) is a revocation: the tenant
 * goes `inaccessible` at once, its plaintext TKs are wiped, a security
 * event is recorded and a counter counts it. Keys not answering is an
 * outage: keys.h serves on under the last lease for the operator's
 * grace, then this module unwraps with the AvK when the tenant chose it
 * and no key denied, else the tenant goes `inaccessible`.
 *
 * A background worker validates pending requests, re-checks every
 * customer-managed tenant's keys every check interval (denials, restore,
 * new versions of keys that follow the latest), and ends purges whose
 * grace has run out.
 *
 * States (the tenants.state column): system_managed, pending, active,
 * failed, inaccessible, purge_pending, purged. The rest of a tenant's
 * encryption settings is a JSON document in the metadata.
 *
 * Thread-safe. */
#ifndef CU_STORE_CMK_H
#define CU_STORE_CMK_H

#include <jansson.h>
#include <stddef.h>

#include "core/metrics.h"
#include "store/keys.h"
#include "store/meta.h"
#include "store/vaultc.h"

#define CU_SCMK_MAX_KEYS      2
#define CU_SCMK_DEFAULT_PURGE 86400 /* seconds of purge grace */
#define CU_SCMK_ERR_MSG       512
#define CU_SCMK_EVENTS_MAX    1000 /* events per page */
#define CU_SCMK_DEFAULT_CHECK 60   /* seconds between key checks */
#define CU_SCMK_PRINCIPAL     "custos-store"

typedef struct cu_scmk cu_scmk_t;

struct cu_scmk_config {
	cu_smeta_t *meta;      /* borrowed */
	cu_skeys_t *keys;      /* borrowed; its tenant unwrap is set here */
	const char *data_dir;  /* objects/TENANT removed by a purge */
	cu_metrics_t *metrics; /* may be NULL */
	/* how the store reaches tenants' vaults */
	const char *vault_ca_file; /* NULL = the system's CA store */
	const char *client_cert_file;
	const char *client_key_file;
	/* the availability key: a root (store/oproot.h: its key file or
	 * its key in the operator's vault; taken, even on failure); NULL =
	 * none */
	struct cu_skeys_root *availability_root;
	/* the system key's kid when it is in the operator's vault (data
	 * operations of system-managed tenants are then gated on it);
	 * NULL = a key file */
	const char *system_key_kid;
	unsigned outage_grace_s; /* serve on after a lease during an outage */
	unsigned purge_grace_s;  /* 0 = CU_SCMK_DEFAULT_PURGE */
	unsigned check_s;        /* key re-check interval; 0 = default */
	int refuse_revert;       /* 1: customer-managed is for good */
	double lockout_purge_s;  /* an `inaccessible` tenant moves to
	                          * purge_pending after this; 0 = never */
	int no_events;           /* 1: do not follow vaults' event streams
	                          * (polling only; for measurements) */
};

/* cu_scmk_new - load every tenant's settings, install the unwrap
 * callback in cfg->keys and start the worker. Strings are copied.
 * Returns 0 and *out, CU_ERR_INVAL, CU_ERR_NOMEM, CU_ERR_DB or the key
 * file's errors. */
int cu_scmk_new(const struct cu_scmk_config *cfg, cu_scmk_t **out);

/* cu_scmk_free - stop the worker, wipe and free every root. NULL ok.
 * Call before freeing the keys and the metadata. */
void cu_scmk_free(cu_scmk_t *c);

/* An admin API error: HTTP status, machine-readable code, message. */
struct cu_scmk_error {
	int status;
	const char *code;
	char message[CU_SCMK_ERR_MSG];
};

/* A parsed PUT .../encryption body. */
struct cu_scmk_req {
	int customer_managed;
	int availability_key;
	size_t n; /* 1..CU_SCMK_MAX_KEYS when customer_managed, else 0 */
	char kid[CU_SCMK_MAX_KEYS][CU_VAULTC_KID_MAX + 1];
};

/* cu_scmk_parse_request - check body (untrusted JSON) strictly: {"mode":
 * "customer_managed", "keys": [{"kid": KID}, ...1-2, distinct, each a
 * valid https kid (store/vaultc.h)], "availability_key": bool (optional;
 * true only when have_avk)} or {"mode": "system_managed"}; no other
 * field. Returns 0 and *out, or CU_ERR_INVAL with *err (400 and a code:
 * InvalidEncryptionRequest, InvalidKeyIdentifier,
 * AvailabilityKeyNotConfigured). */
int cu_scmk_parse_request(const json_t *body, int have_avk,
                          struct cu_scmk_req *out, struct cu_scmk_error *err);

/* cu_scmk_request - PUT .../encryption with body (a JSON object): checks
 * the shape and the state, records the request and wakes the worker.
 * Returns 0 (answer 202 with cu_scmk_status) or CU_ERR_INVAL /
 * CU_ERR_STATE / CU_ERR_DENIED / CU_ERR_NOTFOUND with *err filled, or
 * CU_ERR_NOMEM / CU_ERR_DB. */
int cu_scmk_request(cu_scmk_t *c, const char *tenant, const json_t *body,
                    struct cu_scmk_error *err);

/* cu_scmk_status - the tenant's encryption document ({"mode","state",
 * "reason","message","keys":[...],"availability_key",
 * "tenant_key_version","lease_seconds",...}); NULL when no such tenant
 * or out of memory. The caller owns it. */
json_t *cu_scmk_status(cu_scmk_t *c, const char *tenant);

/* cu_scmk_check - re-check the tenant's keys now (synchronously).
 * Returns 0 or CU_ERR_NOTFOUND / CU_ERR_STATE with *err. */
int cu_scmk_check(cu_scmk_t *c, const char *tenant, struct cu_scmk_error *err);

/* cu_scmk_roll - a new TK version for new writes, wrapped under the
 * tenant's current roots; *version gets it. Returns 0, or an error with
 * *err filled. */
int cu_scmk_roll(cu_scmk_t *c, const char *tenant, uint32_t *version,
                 struct cu_scmk_error *err);

/* cu_scmk_purge - start the purge grace (confirm must equal the tenant
 * id). cu_scmk_purge_cancel - back to the state before it. Return 0, or
 * an error with *err filled. */
int cu_scmk_purge(cu_scmk_t *c, const char *tenant, const char *confirm,
                  struct cu_scmk_error *err);
int cu_scmk_purge_cancel(cu_scmk_t *c, const char *tenant,
                         struct cu_scmk_error *err);

/* cu_scmk_events - the tenant's events after seq since, as
 * {"events":[{"seq","ts","type","detail"}],"last":N}; NULL on error. */
json_t *cu_scmk_events(cu_scmk_t *c, const char *tenant, int64_t since);

/* Data operations a gate may refuse. */
enum cu_scmk_op { CU_SCMK_OP_META = 0, CU_SCMK_OP_DATA };

/* cu_scmk_gate - may the tenant's S3 operation of kind op run now? For a
 * data operation the tenant's latest TK is made usable first (through
 * its vault when the lease has ended). Returns 0, or an HTTP status
 * (403 CustomerKeyInaccessible naming the key, 403 TenantPurged..., 503
 * KeyVaultUnavailable) with *err filled. A system-managed tenant's key
 * is not asked for here: its failures fail the operation itself and are
 * answered with cu_scmk_key_error. */
int cu_scmk_gate(cu_scmk_t *c, const char *tenant, enum cu_scmk_op op,
                 struct cu_scmk_error *err);

/* cu_scmk_key_error - the answer for a tenant whose key operation
 * failed with rc (a keys.h error): 0 when rc is not about the key's
 * availability, else an HTTP status with *err filled: 403
 * CustomerKeyInaccessible or 503 KeyVaultUnavailable for a
 * customer-managed tenant; 503 SystemKeyUnavailable for a system-managed
 * one (the operator's vault refuses or does not answer). */
int cu_scmk_key_error(cu_scmk_t *c, const char *tenant, int rc,
                      struct cu_scmk_error *err);

/* cu_scmk_sse_kid - 1 and the tenant's first customer key id in kid
 * (cap bytes) while it is customer-managed, else 0. */
int cu_scmk_sse_kid(cu_scmk_t *c, const char *tenant, char *kid, size_t cap);

/* cu_scmk_tick - run the worker's periodic duties once, now (tests). */
void cu_scmk_tick(cu_scmk_t *c);

#endif

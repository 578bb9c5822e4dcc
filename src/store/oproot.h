/* oproot.h - the operator's two roots of the store's key hierarchy
 * (DESIGN.md sections 2-3): the system key (SK), which wraps the tenant
 * keys of system-managed tenants, and the availability key (AvK), which
 * also wraps those of customer-managed tenants that chose it.
 *
 * Each lives either in the operator's `custos vault` (a kid,
 * https://HOST:PORT/keys/NAME[/VERSION]; the store calls the vault's
 * wrapkey/unwrapkey as a principal identified by its client certificate)
 * or, for the simplest deployments, in a 0600 key file in the store's
 * data directory (DATA/system.key, DATA/availability.key).
 *
 * Opening a vault root validates the key first (store/cmkcheck.h: it
 * exists, is enabled and valid now, RSA >= 2048 or AES-256, allows
 * wrapKey and unwrapKey, the vault has soft delete and purge protection,
 * and a real wrap/unwrap round trip works); a failure is an error with a
 * message telling the operator what to fix (which role to grant where).
 *
 * A vault root's errors (keys.h contract) are sharpened for the store: the
 * vault answering "no" (role removed, key disabled, deleted, expired) is
 * CU_ERR_DENIED, logged as a security event (`security: the operator's
 * vault denied ...`, event operator_key_denied); a value the vault says
 * does not decrypt stays CU_ERR_AUTH; no answer is CU_ERR_UNAVAILABLE or
 * CU_ERR_TIMEOUT, logged as a warning. For CU_OPROOT_HOLD_MS after a
 * denial or an outage the root gives the same answer without asking the
 * vault (a refusing or silent vault must not hold one request thread per
 * tenant, nor be asked once per request); the first call after that asks
 * again, so restoring access takes effect within that bound. Nothing here
 * logs key material.
 *
 * Switching roots (cu_oproot_adopt). The metadata records which root the
 * wraps are under (setting "system_key" / "availability_key": "file" or
 * the kid; absent = "file", as every store before vault roots). When the
 * configured root differs, the store re-wraps the tenant keys (never an
 * object) from the recorded root to the new one at start-up, in one
 * transaction, before it serves; if the recorded root cannot unwrap them
 * (its key file is missing, its vault refuses) it refuses to start and
 * says which root it needs. The same key reached at a new address (a
 * vault on another port) is recognised by a probe unwrap and only the
 * record changes. */
#ifndef CU_STORE_OPROOT_H
#define CU_STORE_OPROOT_H

#include <stddef.h>

#include "store/keys.h"
#include "store/meta.h"

#define CU_OPROOT_MSG_MAX 768
#define CU_OPROOT_HOLD_MS 1000   /* a denial or outage answered at once */
#define CU_OPROOT_FILE    "file" /* identity of a key-file root */

/* Which root, for messages and the metadata record. */
enum cu_oproot_which { CU_OPROOT_SYSTEM = 1, CU_OPROOT_AVAILABILITY };

struct cu_oproot_config {
	enum cu_oproot_which which;
	const char *kid;           /* the key in the operator's vault; NULL =
	                            * the key file */
	const char *key_file;      /* DATA/system.key or DATA/availability.key:
	                            * the root when kid is NULL (created when
	                            * missing), else only read to re-wrap */
	const char *vault_ca_file; /* NULL = the system's CA store */
	const char *client_cert_file; /* the store's identity (required */
	const char *client_key_file;  /* with a kid) */
	const char *principal;        /* for messages; NULL = custos-store */
};

/* cu_oproot_open - fill *root with the configured root: a key file
 * (cu_skeys_root_file) or, with a kid, a validated vault root. root->name
 * is CU_SMETA_ROOT_SYSTEM or CU_SMETA_ROOT_AVK. On failure msg (cap
 * bytes) says what to fix. Returns 0, CU_ERR_INVAL (bad kid, no client
 * certificate), CU_ERR_DENIED (the key or the store's access to it fails
 * validation), CU_ERR_UNAVAILABLE / CU_ERR_TIMEOUT (the vault does not
 * answer), the key file's errors, or CU_ERR_NOMEM. */
int cu_oproot_open(const struct cu_oproot_config *cfg,
                   struct cu_skeys_root *root, char *msg, size_t cap);

/* cu_oproot_is_vault - 1 when root came from cu_oproot_open with a kid. */
int cu_oproot_is_vault(const struct cu_skeys_root *root);

/* cu_oproot_adopt - make every wrap under operator root cfg->which be
 * under root (opened by cu_oproot_open with cfg), re-wrapping from the
 * recorded root when it differs (see above). Call before the store
 * serves. *rewrapped (may be NULL) gets how many tenant-key wraps were
 * re-wrapped. On failure nothing changed and msg says why. Returns 0,
 * CU_ERR_STATE (the recorded root is not available to re-wrap from),
 * a root's error, CU_ERR_DB or CU_ERR_NOMEM. */
int cu_oproot_adopt(cu_smeta_t *meta, const struct cu_oproot_config *cfg,
                    struct cu_skeys_root *root, size_t *rewrapped, char *msg,
                    size_t cap);

/* cu_oproot_setting - the metadata setting that records the root
 * ("system_key", "availability_key"). */
const char *cu_oproot_setting(enum cu_oproot_which which);

#endif

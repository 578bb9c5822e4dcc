/* cmkcheck.h - validation of a customer key before a tenant's encryption
 * goes `active` (DESIGN.md section 5, "Validation before active").
 *
 * In order, stopping at the first failure:
 *   1. the key exists (GET; 404 -> KeyNotFound, and when the store may
 *      read deleted keys the message says it is soft-deleted) and the
 *      store's principal may read it (401/403 -> PermissionDenied);
 *   2. it is enabled (KeyDisabled) and now is within nbf (KeyNotYetValid)
 *      and exp (KeyExpired);
 *   3. it is RSA of at least 2048 bits (KeySizeTooSmall) or an AES-256
 *      oct key; EC and anything else: KeyTypeNotSupported;
 *   4. its key_ops include wrapKey and unwrapKey (KeyOperationNotAllowed);
 *   5. its recoveryLevel shows soft delete and purge protection:
 *      Recoverable or CustomizedRecoverable (or their
 *      +ProtectedSubscription forms); "...+Purgeable" ->
 *      PurgeProtectionDisabled, "Purgeable" or none -> SoftDeleteDisabled;
 *   6. a real round trip: a random 32-byte value wrapped (RSA-OAEP-256 or
 *      A256KW) and unwrapped by the resolved version gives the same bytes
 *      (refusals map as in 1-4, a mismatch or a refused value ->
 *      RoundTripFailed).
 * The vault not answering at any step: VaultUnreachable (timeouts, 5xx,
 * 429, refused connections, unparseable answers) or VaultTlsError (its
 * certificate does not verify, handshake failure). */
#ifndef CU_STORE_CMKCHECK_H
#define CU_STORE_CMKCHECK_H

#include <stdint.h>

#include "store/vaultc.h"

enum cu_cmkcheck_reason {
	CU_CMK_OK = 0,
	CU_CMK_KEY_NOT_FOUND,
	CU_CMK_KEY_DISABLED,
	CU_CMK_KEY_EXPIRED,
	CU_CMK_KEY_NOT_YET_VALID,
	CU_CMK_KEY_TYPE_NOT_SUPPORTED,
	CU_CMK_KEY_SIZE_TOO_SMALL,
	CU_CMK_PERMISSION_DENIED,
	CU_CMK_KEY_OPERATION_NOT_ALLOWED,
	CU_CMK_PURGE_PROTECTION_DISABLED,
	CU_CMK_SOFT_DELETE_DISABLED,
	CU_CMK_VAULT_UNREACHABLE,
	CU_CMK_VAULT_TLS_ERROR,
	CU_CMK_ROUND_TRIP_FAILED,
};

struct cu_cmkcheck_result {
	enum cu_cmkcheck_reason reason;
	const char *code;  /* cu_cmkcheck_reason_name(reason): static */
	char message[512]; /* for the tenant admin: what is wrong and what
	                    * to do next; never a secret */
	char version[CU_VAULTC_VERSION_LEN + 1]; /* resolved, "" until read */
	enum cu_vaultc_kty kty;
	unsigned bits;
	enum cu_vaultc_alg alg;        /* what the store wraps with */
	struct cu_vaultc_result vault; /* the failing call's detail */
};

/* cu_cmkcheck_reason_name - "OK", "KeyNotFound", "KeyDisabled",
 * "KeyExpired", "KeyNotYetValid", "KeyTypeNotSupported",
 * "KeySizeTooSmall", "PermissionDenied", "KeyOperationNotAllowed",
 * "PurgeProtectionDisabled", "SoftDeleteDisabled", "VaultUnreachable",
 * "VaultTlsError", "RoundTripFailed"; never NULL. */
const char *cu_cmkcheck_reason_name(enum cu_cmkcheck_reason r);

/* cu_cmkcheck_run - validate key kid through v (kid's origin must be
 * v's) as principal `principal` (for messages; NULL = "custos-store"),
 * at Unix time now (0 = the clock). Fills *out in every case. Returns 0
 * (out->reason CU_CMK_OK), CU_ERR_DENIED (the key or the vault fails a
 * condition: fix it and check again), CU_ERR_UNAVAILABLE /
 * CU_ERR_TIMEOUT (VaultUnreachable, VaultTlsError: retry later or fix
 * the configuration), CU_ERR_INVAL (kid malformed or another vault's;
 * reason KeyNotFound) or CU_ERR_NOMEM / CU_ERR_CRYPTO. */
int cu_cmkcheck_run(cu_vaultc_t *v, const char *kid, const char *principal,
                    int64_t now, struct cu_cmkcheck_result *out);

#endif

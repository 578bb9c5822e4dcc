/* root_vault.h - a root of the store's key hierarchy (store/keys.h,
 * struct cu_skeys_root) held in a key vault: a tenant's customer key, or
 * the operator's system or availability key in the operator's vault.
 * wrap and unwrap are the vault's wrapkey and unwrapkey (store/vaultc.h)
 * with one key and algorithm (RSA-OAEP-256 for RSA keys, A256KW for
 * oct keys).
 *
 * Errors follow keys.h: the vault answering "no" (role removed, key
 * disabled, expired, deleted, unknown version, value refused) is
 * CU_ERR_AUTH, a denial; no usable answer (refused connection, DNS, TLS
 * failure, 5xx, 429, unparseable answer) is CU_ERR_UNAVAILABLE, and a
 * bound running out CU_ERR_TIMEOUT.
 *
 * What the root writes. With a kid that names a version, wrap gives the
 * vault's output as is (RSA-2048: 256 bytes, RSA-4096: 512, A256KW of 32
 * bytes: 40) and unwrap uses that version. With a kid that follows the
 * latest version, wrap uses the latest and records which one: the output
 * is 1 byte CU_VROOT_FORMAT_V1, the 16 bytes of the version, then the
 * vault's output; unwrap calls the vault with exactly that version, so a
 * TK wrapped before a rotation still opens. (For RSA-4096 this is 529
 * bytes: give a cap above CU_SKEYS_WRAPPED_MAX, or pin the version.) */
#ifndef CU_STORE_ROOT_VAULT_H
#define CU_STORE_ROOT_VAULT_H

#include "store/keys.h"
#include "store/vaultc.h"

#define CU_VROOT_FORMAT_V1 0x01
#define CU_VROOT_HEADER    17 /* format byte + 16-byte version */

/* cu_vroot_new - fill *root with a vault-backed root for key kid (copied;
 * its origin must be v's) wrapping with alg. Takes a reference to v
 * (cu_vaultc_ref), dropped by root->free. root->name is the kid as given
 * (owned by the root). No call to the vault is made here: validate the
 * key first (store/cmkcheck.h). Returns 0, CU_ERR_INVAL (bad kid,
 * another vault's, unknown alg) or CU_ERR_NOMEM (*root untouched on
 * failure). */
int cu_vroot_new(cu_vaultc_t *v, const char *kid, enum cu_vaultc_alg alg,
                 struct cu_skeys_root *root);

/* cu_vroot_is - 1 when root was made by cu_vroot_new, else 0. */
int cu_vroot_is(const struct cu_skeys_root *root);

/* cu_vroot_last - the outcome of the root's latest wrap or unwrap (any
 * thread): into *res and, when not NULL, the version the vault used
 * (33 bytes; "" when none). Returns 0, or CU_ERR_INVAL when root is not
 * a vault root. */
int cu_vroot_last(const struct cu_skeys_root *root,
                  struct cu_vaultc_result *res,
                  char version[CU_VAULTC_VERSION_LEN + 1]);

/* cu_vroot_error - the keys.h error for a vaultc error r with result res:
 * denial -> CU_ERR_AUTH, timeout -> CU_ERR_TIMEOUT, other outage ->
 * CU_ERR_UNAVAILABLE; CU_ERR_RANGE and CU_ERR_NOMEM unchanged. */
int cu_vroot_error(int r, const struct cu_vaultc_result *res);

#endif

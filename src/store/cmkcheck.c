/* cmkcheck.c - is a customer key fit to be a tenant's root? */
#include "store/cmkcheck.h"
#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/secmem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PROBE_LEN 32

static const char *const names[] = {
    [CU_CMK_OK] = "OK",
    [CU_CMK_KEY_NOT_FOUND] = "KeyNotFound",
    [CU_CMK_KEY_DISABLED] = "KeyDisabled",
    [CU_CMK_KEY_EXPIRED] = "KeyExpired",
    [CU_CMK_KEY_NOT_YET_VALID] = "KeyNotYetValid",
    [CU_CMK_KEY_TYPE_NOT_SUPPORTED] = "KeyTypeNotSupported",
    [CU_CMK_KEY_SIZE_TOO_SMALL] = "KeySizeTooSmall",
    [CU_CMK_PERMISSION_DENIED] = "PermissionDenied",
    [CU_CMK_KEY_OPERATION_NOT_ALLOWED] = "KeyOperationNotAllowed",
    [CU_CMK_PURGE_PROTECTION_DISABLED] = "PurgeProtectionDisabled",
    [CU_CMK_SOFT_DELETE_DISABLED] = "SoftDeleteDisabled",
    [CU_CMK_VAULT_UNREACHABLE] = "VaultUnreachable",
    [CU_CMK_VAULT_TLS_ERROR] = "VaultTlsError",
    [CU_CMK_ROUND_TRIP_FAILED] = "RoundTripFailed",
};

const char *cu_cmkcheck_reason_name(enum cu_cmkcheck_reason r)
{
	if ((unsigned)r >= sizeof(names) / sizeof(names[0]) || names[r] == NULL)
		return "Unknown";
	return names[r];
}

static int fail(struct cu_cmkcheck_result *out, enum cu_cmkcheck_reason r,
                const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Set the reason and message; return the CU_ERR_* for the reason. */
static int fail(struct cu_cmkcheck_result *out, enum cu_cmkcheck_reason r,
                const char *fmt, ...)
{
	va_list ap;

	out->reason = r;
	out->code = cu_cmkcheck_reason_name(r);
	va_start(ap, fmt);
	vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
	if (r == CU_CMK_VAULT_UNREACHABLE || r == CU_CMK_VAULT_TLS_ERROR)
		return out->vault.reason == CU_VAULTC_TIMEOUT
		           ? CU_ERR_TIMEOUT
		           : CU_ERR_UNAVAILABLE;
	return CU_ERR_DENIED;
}

/* A failed vault call (op "get", "wrapKey" or "unwrapKey") to a reason
 * and advice. */
static int vault_fail(cu_vaultc_t *v, const char *kid,
                      const struct cu_vaultc_kid *k, const char *principal,
                      const char *op, int r, struct cu_cmkcheck_result *out)
{
	const struct cu_vaultc_result *vr = &out->vault;
	struct cu_vaultc_result del;
	int64_t purge_at = 0;

	if (r == CU_ERR_NOMEM || r == CU_ERR_RANGE)
		return r;
	switch (vr->reason) {
	case CU_VAULTC_KEY_NOT_FOUND:
		if (cu_vaultc_get_deleted(v, kid, &purge_at, &del) == 0)
			return fail(out, CU_CMK_KEY_NOT_FOUND,
			            "key %s is deleted (soft delete; purge "
			            "scheduled at %lld): recover it (POST "
			            "/deletedkeys/%s/recover) and check again",
			            k->name, (long long)purge_at, k->name);
		if (k->version[0] != '\0')
			return fail(
			    out, CU_CMK_KEY_NOT_FOUND,
			    "key %s has no version %s in vault %s (or the "
			    "key was deleted): give an existing version, "
			    "or none to follow the latest",
			    k->name, k->version, k->origin);
		return fail(out, CU_CMK_KEY_NOT_FOUND,
		            "vault %s has no key %s (or it was deleted: "
		            "recover it): create it or correct the key "
		            "identifier",
		            k->origin, k->name);
	case CU_VAULTC_KEY_DELETED:
		return fail(out, CU_CMK_KEY_NOT_FOUND,
		            "key %s is deleted: recover it and check again",
		            k->name);
	case CU_VAULTC_KEY_DISABLED:
		return fail(out, CU_CMK_KEY_DISABLED,
		            "key %s is disabled: enable it (PATCH /keys/%s "
		            "{\"attributes\":{\"enabled\":true}}) and check "
		            "again",
		            k->name, k->name);
	case CU_VAULTC_KEY_EXPIRED:
		return fail(out, CU_CMK_KEY_EXPIRED,
		            "key %s has expired: move its expiry date (exp) "
		            "into the future or rotate to a new version",
		            k->name);
	case CU_VAULTC_KEY_NOT_YET_VALID:
		return fail(out, CU_CMK_KEY_NOT_YET_VALID,
		            "key %s is not valid yet (nbf): wait, or move its "
		            "activation date (nbf) back",
		            k->name);
	case CU_VAULTC_OP_NOT_ALLOWED:
		return fail(out, CU_CMK_KEY_OPERATION_NOT_ALLOWED,
		            "key %s does not permit %s: add wrapKey and "
		            "unwrapKey to its key_ops",
		            k->name, op);
	case CU_VAULTC_PERMISSION_DENIED:
		return fail(
		    out, CU_CMK_PERMISSION_DENIED,
		    "principal %s may not %s key %s (or the key does "
		    "not exist: without a role the vault does not say): "
		    "grant it the role Key Vault Crypto Service "
		    "Encryption User on /keys/%s",
		    principal, op, k->name, k->name);
	case CU_VAULTC_UNAUTHENTICATED:
		return fail(out, CU_CMK_PERMISSION_DENIED,
		            "vault %s does not know principal %s: register the "
		            "store's client certificate as principal %s "
		            "(PUT /admin/v1/principals/%s), then grant it the "
		            "role Key Vault Crypto Service Encryption User on "
		            "/keys/%s",
		            k->origin, principal, principal, principal,
		            k->name);
	case CU_VAULTC_UNWRAP_FAILED:
		return fail(out, CU_CMK_ROUND_TRIP_FAILED,
		            "key %s wrapped a test value that it then refused "
		            "to unwrap (%s): the vault is not usable as a root",
		            k->name, vr->message);
	case CU_VAULTC_TLS_ERROR:
		return fail(out, CU_CMK_VAULT_TLS_ERROR,
		            "TLS with vault %s failed (%s): check that its "
		            "certificate chains to the CA the store trusts for "
		            "it, and that it accepts the store's client "
		            "certificate",
		            k->origin, vr->message);
	case CU_VAULTC_BAD_REQUEST:
		return fail(out, CU_CMK_VAULT_UNREACHABLE,
		            "vault %s refused the store's %s request (HTTP "
		            "%ld: %s): is it a key vault with the Azure Key "
		            "Vault keys API 7.4?",
		            k->origin, op, vr->status, vr->message);
	default:
		return fail(
		    out, CU_CMK_VAULT_UNREACHABLE,
		    "vault %s did not answer usably (%s): check that it "
		    "runs and is reachable from the store, then check "
		    "again",
		    k->origin, vr->message);
	}
}

/* Soft delete and purge protection from a recoveryLevel. */
static enum cu_cmkcheck_reason recovery(const char *level)
{
	static const char *const good[] = {
	    "Recoverable",
	    "CustomizedRecoverable",
	    "Recoverable+ProtectedSubscription",
	    "CustomizedRecoverable+ProtectedSubscription",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (strcmp(level, good[i]) == 0)
			return CU_CMK_OK;
	if (level[0] == '\0' || strcmp(level, "Purgeable") == 0)
		return CU_CMK_SOFT_DELETE_DISABLED;
	return CU_CMK_PURGE_PROTECTION_DISABLED;
}

int cu_cmkcheck_run(cu_vaultc_t *v, const char *kid, const char *principal,
                    int64_t now, struct cu_cmkcheck_result *out)
{
	struct cu_vaultc_key key;
	struct cu_vaultc_kid k;
	unsigned char *probe = NULL, *back = NULL;
	unsigned char wrapped[CU_VAULTC_WRAPPED_MAX];
	char vkid[CU_VAULTC_KID_MAX + 1], wver[CU_VAULTC_VERSION_LEN + 1];
	char uver[CU_VAULTC_VERSION_LEN + 1];
	size_t wlen = 0, blen = 0;
	enum cu_cmkcheck_reason rr;
	int r;

	memset(out, 0, sizeof(*out));
	out->code = cu_cmkcheck_reason_name(CU_CMK_OK);
	if (principal == NULL)
		principal = "custos-store";
	if (now == 0)
		now = (int64_t)time(NULL);
	if (kid == NULL ||
	    cu_vaultc_kid_parse(kid, strnlen(kid, CU_VAULTC_KID_MAX + 1), &k) !=
	        0 ||
	    strcmp(k.origin, cu_vaultc_origin(v)) != 0) {
		fail(out, CU_CMK_KEY_NOT_FOUND,
		     "the key identifier must be https://VAULT/keys/NAME or "
		     "https://VAULT/keys/NAME/VERSION (32 hex digits) in "
		     "vault %s",
		     cu_vaultc_origin(v));
		return CU_ERR_INVAL;
	}

	/* 1. exists, and we may read it */
	if ((r = cu_vaultc_get_key(v, kid, &key, &out->vault)) != 0)
		return vault_fail(v, kid, &k, principal, "get", r, out);
	memcpy(out->version, key.version, sizeof(out->version));
	out->kty = key.kty;
	out->bits = key.bits;

	/* 2. enabled, within nbf and exp */
	if (!key.enabled)
		return fail(out, CU_CMK_KEY_DISABLED,
		            "key %s (version %s) is disabled: enable it "
		            "(PATCH /keys/%s/%s {\"attributes\":"
		            "{\"enabled\":true}}) and check again",
		            k.name, key.version, k.name, key.version);
	if (key.nbf != 0 && now < key.nbf)
		return fail(out, CU_CMK_KEY_NOT_YET_VALID,
		            "key %s (version %s) is not valid before %lld "
		            "(nbf): wait, or move nbf back",
		            k.name, key.version, (long long)key.nbf);
	if (key.exp != 0 && now >= key.exp)
		return fail(out, CU_CMK_KEY_EXPIRED,
		            "key %s (version %s) expired at %lld (exp): move "
		            "exp into the future or rotate the key",
		            k.name, key.version, (long long)key.exp);

	/* 3. type and size */
	switch (key.kty) {
	case CU_VAULTC_KTY_RSA:
		if (key.bits < 2048)
			return fail(
			    out, CU_CMK_KEY_SIZE_TOO_SMALL,
			    "key %s is RSA-%u: customer keys are RSA of "
			    "2048, 3072 or 4096 bits, or AES-256 (oct)",
			    k.name, key.bits);
		out->alg = CU_VAULTC_RSA_OAEP_256;
		break;
	case CU_VAULTC_KTY_OCT:
		/* a vault may not say the size; A256KW in step 6 only works
		 * with a 256-bit key, so the round trip proves it */
		if (key.bits != 0 && key.bits < 256)
			return fail(out, CU_CMK_KEY_SIZE_TOO_SMALL,
			            "key %s is a %u-bit oct key: customer keys "
			            "are AES-256 or RSA >= 2048",
			            k.name, key.bits);
		if (key.bits != 0 && key.bits != 256)
			return fail(out, CU_CMK_KEY_TYPE_NOT_SUPPORTED,
			            "key %s is a %u-bit oct key: only AES-256 "
			            "(A256KW) is supported",
			            k.name, key.bits);
		out->alg = CU_VAULTC_A256KW;
		break;
	case CU_VAULTC_KTY_EC:
		return fail(
		    out, CU_CMK_KEY_TYPE_NOT_SUPPORTED,
		    "key %s is an EC key (%s): EC keys cannot wrap; "
		    "use RSA (2048, 3072 or 4096 bits) or AES-256 (oct)",
		    k.name, key.crv[0] ? key.crv : "unknown curve");
	default:
		return fail(out, CU_CMK_KEY_TYPE_NOT_SUPPORTED,
		            "key %s has a key type the store cannot use: use "
		            "RSA (2048, 3072 or 4096 bits) or AES-256 (oct)",
		            k.name);
	}

	/* 4. key_ops */
	if (!(key.ops & CU_VAULTC_OP_WRAP) || !(key.ops & CU_VAULTC_OP_UNWRAP))
		return fail(out, CU_CMK_KEY_OPERATION_NOT_ALLOWED,
		            "key %s does not permit %s: add wrapKey and "
		            "unwrapKey to its key_ops",
		            k.name,
		            !(key.ops & CU_VAULTC_OP_WRAP) ? "wrapKey"
		                                           : "unwrapKey");

	/* 5. soft delete and purge protection */
	if ((rr = recovery(key.recovery_level)) == CU_CMK_SOFT_DELETE_DISABLED)
		return fail(
		    out, rr,
		    "vault %s does not keep deleted keys (recoveryLevel "
		    "\"%s\"): turn on soft delete and purge protection",
		    k.origin,
		    key.recovery_level[0] ? key.recovery_level : "none");
	if (rr != CU_CMK_OK)
		return fail(
		    out, rr,
		    "vault %s lets a deleted key be purged at once "
		    "(recoveryLevel \"%s\"): turn on purge protection "
		    "(PUT /admin/v1/settings {\"purge_protection\":true}"
		    "; it cannot be turned off)",
		    k.origin, key.recovery_level);

	/* 6. a real round trip with the version just read */
	memcpy(k.version, key.version, sizeof(k.version));
	if ((r = cu_vaultc_kid_format(&k, vkid, sizeof(vkid))) != 0)
		goto out;
	if ((probe = cu_secmem_alloc(PROBE_LEN)) == NULL ||
	    (back = cu_secmem_alloc(CU_VAULTC_WRAPPED_MAX)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if ((r = cu_rand_bytes(probe, PROBE_LEN)) != 0)
		goto out;
	if ((r = cu_vaultc_wrap(v, vkid, out->alg, probe, PROBE_LEN, wrapped,
	                        sizeof(wrapped), &wlen, wver, &out->vault)) !=
	    0) {
		r = vault_fail(v, kid, &k, principal, "wrapKey", r, out);
		goto out;
	}
	if ((r = cu_vaultc_unwrap(v, vkid, out->alg, wrapped, wlen, back,
	                          CU_VAULTC_WRAPPED_MAX, &blen, uver,
	                          &out->vault)) != 0) {
		r = vault_fail(v, kid, &k, principal, "unwrapKey", r, out);
		goto out;
	}
	if (blen != PROBE_LEN || !cu_ct_equal(probe, back, PROBE_LEN) ||
	    strcmp(wver, key.version) != 0 || strcmp(uver, key.version) != 0) {
		r = fail(out, CU_CMK_ROUND_TRIP_FAILED,
		         "key %s (version %s) unwrapped a test value to "
		         "different bytes: the vault is not usable as a root",
		         k.name, key.version);
		goto out;
	}
	out->reason = CU_CMK_OK;
	out->code = cu_cmkcheck_reason_name(CU_CMK_OK);
	snprintf(out->message, sizeof(out->message),
	         "key %s version %s is usable: %s-%u, wrap and unwrap work",
	         k.name, key.version,
	         key.kty == CU_VAULTC_KTY_RSA ? "RSA" : "AES",
	         key.bits ? key.bits : 256);
	r = 0;
out:
	cu_secmem_free(probe, PROBE_LEN);
	cu_secmem_free(back, CU_VAULTC_WRAPPED_MAX);
	return r;
}

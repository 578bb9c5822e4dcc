/* keys.h - the store's key hierarchy (DESIGN.md section 3): a root key
 * wraps each tenant's tenant keys (TK, AES-256, versioned), and a TK
 * wraps each object version's data key (DEK) with the object's identity
 * bound in.
 *
 * Roots. A root is anything that can wrap and unwrap a 32-byte TK: this
 * session's one is the system key (SK) in a key file in the store's data
 * directory (cu_skeys_root_file); a root in the operator's vault, or a
 * tenant's customer key, plugs in behind the same two functions.
 *
 * Leases. A plaintext TK lives in locked memory (cu_secmem) for at most
 * the lease (default 60 s), counted from its unwrap and never extended by
 * use; then it is wiped, and the next use unwraps it again through the
 * root, once: concurrent requests for a TK being unwrapped wait for that
 * unwrap and share its answer. cu_skeys_sweep wipes expired TKs even
 * when nothing uses them.
 * TKs never leave this module: callers ask it to wrap, unwrap, seal and
 * open with them.
 *
 * DEK wrap: AES-256-GCM (cu_aead_seal) under the TK with associated data
 * "custos/dek/v1" || id, where id is the object identity (tenant, bucket,
 * key, version; see cu_skeys_object_id). A wrapped DEK moved to another
 * object or tenant does not open.
 *
 * Object subkeys. Opening an object derives its segments' subkey from
 * its DEK (core/crypto/seg.h); unwrapping the DEK and deriving were an
 * eighth of a 4 KiB GET's CPU. The subkey of an object opened recently is
 * kept in locked memory with the TK that opened it, looked up by a digest
 * of the object's whole header and identity (cu_sobj_reader_open_cached).
 * It answers only while that very TK entry is cached under a live lease,
 * and is wiped with it: at the lease's end, cu_skeys_forget (a denial, a
 * revocation, a purge) and cu_skeys_free. So a revoked tenant's objects
 * stop opening exactly when its TKs stop unwrapping, as without it. A
 * fixed table (1024 slots in sets of four): the least recently used
 * goes first.
 *
 * Thread-safe: one mutex guards the cache. */
#ifndef CU_STORE_KEYS_H
#define CU_STORE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "store/meta.h"

#define CU_SKEYS_KEY_LEN       32  /* SK, TK, DEK: AES-256 */
#define CU_SKEYS_WRAPPED_MAX   544 /* RSA-4096 vault root + header */
#define CU_SKEYS_DEK_WRAPPED   (CU_SKEYS_KEY_LEN + 28) /* nonce + tag */
#define CU_SKEYS_DEFAULT_LEASE 60                      /* seconds */
#define CU_SKEYS_MAX_CACHED    4096                    /* TKs held at once */
#define CU_SKEYS_DIGEST_LEN    32 /* SHA-256 naming an object subkey */

/* A root of trust that wraps tenant keys. wrap: in (in_len bytes of key
 * material) to out (cap bytes; *out_len). unwrap: the reverse, into out
 * (locked memory given by the caller). Both return 0, CU_ERR_AUTH (wrong
 * root or altered input: a denial), CU_ERR_UNAVAILABLE / CU_ERR_TIMEOUT
 * (the root cannot be reached), CU_ERR_RANGE or CU_ERR_CRYPTO. free
 * releases ctx (may be NULL). */
struct cu_skeys_root {
	const char *name; /* recorded with each wrapped TK ("file") */
	int (*wrap)(void *ctx, const unsigned char *in, size_t in_len,
	            unsigned char *out, size_t cap, size_t *out_len);
	int (*unwrap)(void *ctx, const unsigned char *in, size_t in_len,
	              unsigned char *out, size_t cap, size_t *out_len);
	void (*free)(void *ctx);
	void *ctx;
};

/* cu_skeys_keyfile_load - read the 32-byte key in the file at path into
 * key (give locked memory), creating the file with a fresh random key
 * (mode 0600, fsync'd, with its directory) when it does not exist.
 * Refuses a file of another size or readable by group or others.
 * Returns 0, CU_ERR_IO (detail logged), CU_ERR_PARSE (wrong size),
 * CU_ERR_DENIED (permissions too open) or CU_ERR_CRYPTO. */
int cu_skeys_keyfile_load(const char *path,
                          unsigned char key[CU_SKEYS_KEY_LEN]);

/* cu_skeys_root_file - a root that wraps with RFC 3394 AES key wrap under
 * the system key in the key file at path (cu_skeys_keyfile_load). The
 * key is held in locked memory until root->free. Returns 0 and *root
 * filled, or the errors of cu_skeys_keyfile_load, or CU_ERR_NOMEM. */
int cu_skeys_root_file(const char *path, struct cu_skeys_root *root);

typedef struct cu_skeys cu_skeys_t;

/* cu_skeys_new - the key hierarchy over metadata `meta` (borrowed) and
 * `root` (taken: its free is called by cu_skeys_free, or here on
 * failure). lease_s 0 means CU_SKEYS_DEFAULT_LEASE. Returns 0 and *out,
 * CU_ERR_INVAL or CU_ERR_NOMEM. */
int cu_skeys_new(cu_smeta_t *meta, struct cu_skeys_root *root, unsigned lease_s,
                 cu_skeys_t **out);

/* cu_skeys_free - wipe every cached TK, free the root and the handle.
 * NULL ok. */
void cu_skeys_free(cu_skeys_t *k);

/* cu_skeys_set_clock - for tests: read time (milliseconds, monotonic)
 * from fn instead of CLOCK_MONOTONIC. fn NULL restores the clock. */
void cu_skeys_set_clock(cu_skeys_t *k, int64_t (*fn)(void *arg), void *arg);

/* cu_skeys_root_name - the root's name, to record beside wrapped TKs. */
const char *cu_skeys_root_name(const cu_skeys_t *k);

/* cu_skeys_tk_new - make a fresh tenant key and wrap it under the root
 * into out (cap bytes; *len); the plaintext is wiped at once (it is
 * unwrapped again on first use). For a new tenant's version 1 or a roll.
 * Returns 0, CU_ERR_RANGE, CU_ERR_CRYPTO or the root's error. */
int cu_skeys_tk_new(cu_skeys_t *k, unsigned char *out, size_t cap, size_t *len);

/* cu_skeys_object_id - the identity of an object version, as bound into
 * its wrapped DEK and its data file: each of tenant, bucket, key (klen
 * bytes) and version as a 4-byte big-endian length and the bytes. Writes
 * at most cap bytes to out; *len gets the length. Returns 0 or
 * CU_ERR_RANGE. */
int cu_skeys_object_id(const char *tenant, const char *bucket, const char *key,
                       size_t klen, const char *version, unsigned char *out,
                       size_t cap, size_t *len);

/* cu_skeys_dek_new - a fresh DEK for an object version of `tenant` with
 * identity id (id_len bytes): the plaintext into dek (give locked memory;
 * the caller wipes it), wrapped under the tenant's latest TK into wrapped
 * (cap at least CU_SKEYS_DEK_WRAPPED; *wlen), and that TK's version into
 * *tk_version. Returns 0, CU_ERR_NOTFOUND (the tenant has no TK),
 * CU_ERR_RANGE, CU_ERR_CRYPTO, or the root's error on unwrap. */
int cu_skeys_dek_new(cu_skeys_t *k, const char *tenant, const void *id,
                     size_t id_len, unsigned char dek[CU_SKEYS_KEY_LEN],
                     unsigned char *wrapped, size_t cap, size_t *wlen,
                     uint32_t *tk_version) __attribute__((warn_unused_result));

/* cu_skeys_dek_open - unwrap a DEK wrapped by cu_skeys_dek_new for the
 * same tenant, TK version and identity, into dek (locked memory).
 * Returns 0, CU_ERR_AUTH (wrong tenant, version or identity, or altered:
 * dek wiped), CU_ERR_NOTFOUND (no such TK version), CU_ERR_PARSE (not a
 * wrapped DEK), or the root's error. */
int cu_skeys_dek_open(cu_skeys_t *k, const char *tenant, uint32_t tk_version,
                      const void *wrapped, size_t wlen, const void *id,
                      size_t id_len, unsigned char dek[CU_SKEYS_KEY_LEN])
    __attribute__((warn_unused_result));

/* cu_skeys_seal / cu_skeys_open - cu_aead_seal / cu_aead_open of a small
 * record (user metadata) under the tenant's TK version tk_version, with
 * aad bound in. Buffers as for cu_aead_seal/open. Returns theirs, and
 * CU_ERR_NOTFOUND for a missing TK version, or the root's error. */
int cu_skeys_seal(cu_skeys_t *k, const char *tenant, uint32_t tk_version,
                  const void *aad, size_t aad_len, const void *pt,
                  size_t pt_len, unsigned char *out, size_t cap,
                  size_t *out_len) __attribute__((warn_unused_result));
int cu_skeys_open(cu_skeys_t *k, const char *tenant, uint32_t tk_version,
                  const void *aad, size_t aad_len, const void *in,
                  size_t in_len, unsigned char *out, size_t cap,
                  size_t *out_len) __attribute__((warn_unused_result));

/* ---- per-tenant roots (customer-managed keys, store/cmk.h) ------------
 *
 * A tenant on system-managed keys has each TK version wrapped under the
 * system key (the root given to cu_skeys_new). A customer-managed
 * tenant's versions are wrapped under its own roots (one or two customer
 * keys, optionally the availability key), which this module reaches
 * through one callback: cu_skeys_tenant_unwrap_fn. */

/* Unwrap TK (tenant, version) into tk (locked memory). avk 0: through
 * the tenant's customer keys in order; avk 1: asked only after that
 * failed as an outage and no lease copy is left within the grace: the
 * availability key where the tenant chose it. Returns 0, CU_ERR_DENIED
 * (a denial: the TK is dropped from the cache), CU_ERR_UNAVAILABLE /
 * CU_ERR_TIMEOUT (an outage), CU_ERR_NOTFOUND or another error. */
typedef int (*cu_skeys_tenant_unwrap_fn)(void *arg, const char *tenant,
                                         uint32_t version, int avk,
                                         unsigned char tk[CU_SKEYS_KEY_LEN]);

/* cu_skeys_set_tenant_unwrap - install fn (arg borrowed) for every TK
 * version whose system-key wrap is empty. */
void cu_skeys_set_tenant_unwrap(cu_skeys_t *k, cu_skeys_tenant_unwrap_fn fn,
                                void *arg);

/* cu_skeys_set_outage_grace - after its lease a TK is kept (unused) for
 * grace_s more seconds and used only when the unwrap fails as an outage
 * (CU_ERR_UNAVAILABLE, CU_ERR_TIMEOUT); never after a denial. 0 (the
 * default) = no grace. */
void cu_skeys_set_outage_grace(cu_skeys_t *k, unsigned grace_s);

/* cu_skeys_forget - wipe every plaintext TK of the tenant now (a denial,
 * a purge). Returns how many were wiped. */
size_t cu_skeys_forget(cu_skeys_t *k, const char *tenant);

/* cu_skeys_tk_plain - TK (tenant, version) in clear into tk (locked
 * memory, the caller wipes it), through the cache or the tenant's roots:
 * only to re-wrap it under new roots. Returns as cu_skeys_dek_open. */
int cu_skeys_tk_plain(cu_skeys_t *k, const char *tenant, uint32_t version,
                      unsigned char tk[CU_SKEYS_KEY_LEN])
    __attribute__((warn_unused_result));

/* cu_skeys_tk_touch - make sure the tenant's latest TK is usable now
 * (cached under a lease, or unwrapped). Returns 0 or as
 * cu_skeys_dek_new. */
int cu_skeys_tk_touch(cu_skeys_t *k, const char *tenant);

/* cu_skeys_sk_wrap / cu_skeys_sk_unwrap - wrap a TK under the system
 * key / unwrap a system-key wrap (in_len bytes) into tk (locked memory).
 * Return 0 or the root's errors (tk wiped on failure). */
int cu_skeys_sk_wrap(cu_skeys_t *k, const unsigned char tk[CU_SKEYS_KEY_LEN],
                     unsigned char *out, size_t cap, size_t *len);
int cu_skeys_sk_unwrap(cu_skeys_t *k, const unsigned char *in, size_t in_len,
                       unsigned char tk[CU_SKEYS_KEY_LEN])
    __attribute__((warn_unused_result));

/* cu_skeys_dek_open_with - cu_skeys_dek_open with a TK given in clear
 * (the purge test's attempt to open objects with leftover key
 * material). Returns 0, CU_ERR_AUTH, CU_ERR_PARSE. */
int cu_skeys_dek_open_with(const unsigned char tk[CU_SKEYS_KEY_LEN],
                           const void *wrapped, size_t wlen, const void *id,
                           size_t id_len, unsigned char dek[CU_SKEYS_KEY_LEN])
    __attribute__((warn_unused_result));

/* cu_skeys_lease_seconds - the lease, in seconds. */
unsigned cu_skeys_lease_seconds(const cu_skeys_t *k);

/* cu_skeys_sweep - wipe and drop every TK whose lease has ended. Returns
 * how many were dropped. */
size_t cu_skeys_sweep(cu_skeys_t *k);

/* cu_skeys_subkey_get - the subkey kept under digest with the tenant's
 * TK version, into subkey (give locked memory). Returns 0, CU_ERR_NOTFOUND
 * (none kept, or its TK no longer cached under a live lease) or
 * CU_ERR_INVAL. */
int cu_skeys_subkey_get(cu_skeys_t *k, const char *tenant, uint32_t tk_version,
                        const unsigned char digest[CU_SKEYS_DIGEST_LEN],
                        unsigned char subkey[CU_SKEYS_KEY_LEN]);

/* cu_skeys_subkey_put - keep subkey under digest with the tenant's TK
 * version, if that TK is cached under a live lease now (else nothing). */
void cu_skeys_subkey_put(cu_skeys_t *k, const char *tenant, uint32_t tk_version,
                         const unsigned char digest[CU_SKEYS_DIGEST_LEN],
                         const unsigned char subkey[CU_SKEYS_KEY_LEN]);

/* cu_skeys_subkey_stats - subkey lookups answered and missed (for tests
 * and metrics). Either pointer may be NULL. */
void cu_skeys_subkey_stats(cu_skeys_t *k, uint64_t *hits, uint64_t *misses);

/* cu_skeys_cached - how many plaintext TKs are held now (leases not yet
 * swept included). */
size_t cu_skeys_cached(cu_skeys_t *k);

/* cu_skeys_unwraps - how many times a TK was unwrapped through the root
 * since cu_skeys_new (for tests and metrics). */
uint64_t cu_skeys_unwraps(cu_skeys_t *k);

/* cu_skeys_unwrap_waits - how many times a request found the TK it
 * needed being unwrapped by another and waited for that unwrap instead
 * of asking the root itself (one unwrap per TK at a time: at a lease's
 * end a busy tenant's concurrent requests cost the vault one call, not
 * one each). For tests and metrics. */
uint64_t cu_skeys_unwrap_waits(cu_skeys_t *k);

#endif

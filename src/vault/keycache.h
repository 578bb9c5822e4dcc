/* keycache.h - a small, bounded cache of unsealed key versions.
 *
 * Unsealing a key version and building its OpenSSL key costs more than
 * the operation itself (a PKCS#8 parse, and for RSA the Montgomery and
 * blinding setup of the first private operation, about 235 us for
 * RSA-2048). The cache keeps the loaded key of recently used versions so
 * that the next operation starts from a ready key.
 *
 * The cache decides nothing: the keystore reads a version's row (state,
 * enabled, nbf/exp, key_ops, sealed material) from the database, or from
 * its memo while the database is unchanged (memo.h), and only then asks
 * the cache, handing it the SHA-256 of the sealed bytes it read. An entry
 * answers only when those bytes are the ones it was loaded from (same
 * name, version, and material under the same master key), so a changed,
 * restored or tampered row is never served from memory.
 *
 * Bounds: at most `max` entries (the least recently used goes first) and
 * a fixed lifetime counted from the load, never extended by use (expiry
 * is checked on every lookup and swept by cu_vkc_expire). Private
 * material lives only inside the OpenSSL key objects and locked memory of
 * cu_vko_t; it is wiped when the last user of an evicted entry lets go
 * and when the cache is freed.
 *
 * Thread-safe: one mutex, held for a lookup or an insert, never during
 * key operations. */
#ifndef CU_VAULT_KEYCACHE_H
#define CU_VAULT_KEYCACHE_H

#include "core/crypto/hash.h"
#include "vault/keyops.h"

#include <stddef.h>

typedef struct cu_vkc cu_vkc_t;

#define CU_VKC_MAX_DEFAULT 64 /* entries */
#define CU_VKC_TTL_DEFAULT 60 /* seconds from load */

/* cu_vkc_new - a cache of at most max entries (1-4096), each living
 * ttl_s seconds (1-86400) from its load. *out is the caller's
 * (cu_vkc_free). Returns 0, CU_ERR_INVAL or CU_ERR_NOMEM. */
int cu_vkc_new(size_t max, unsigned ttl_s, cu_vkc_t **out);

/* cu_vkc_free - wipe and free every entry and the cache. NULL is fine.
 * Keys handed out earlier stay valid until their holders free them. */
void cu_vkc_free(cu_vkc_t *c);

/* cu_vkc_get - the cached key of name/version if it was loaded from the
 * sealed bytes whose SHA-256 is sealed_sha and has not expired: *out is a
 * new handle (cu_vko_dup; the caller frees it with cu_vko_free). An entry
 * whose sealed bytes differ or whose time is up is dropped. Returns 0 or
 * CU_ERR_NOTFOUND (not cached: load it). */
int cu_vkc_get(cu_vkc_t *c, const char *name, const char *version,
               const unsigned char sealed_sha[CU_SHA256_LEN], cu_vko_t **out)
    __attribute__((warn_unused_result));

/* cu_vkc_put - remember k (the caller keeps k; the cache takes its own
 * handle) as loaded from the sealed bytes whose SHA-256 is sealed_sha,
 * for name/version, replacing an older entry of that version and
 * evicting the least recently used entry when full. Returns 0 or
 * CU_ERR_INVAL (name or version too long; nothing cached, the caller's
 * key is unaffected). */
int cu_vkc_put(cu_vkc_t *c, const char *name, const char *version,
               const unsigned char sealed_sha[CU_SHA256_LEN], cu_vko_t *k);

/* cu_vkc_drop - forget every version of key `name` in any case (key
 * names ignore case; NULL: every key),
 * e.g. when it is deleted or purged. */
void cu_vkc_drop(cu_vkc_t *c, const char *name);

/* cu_vkc_expire - drop the entries whose time is up (the lookup does so
 * too; this also frees entries nobody asks for). Returns how many were
 * dropped. */
size_t cu_vkc_expire(cu_vkc_t *c);

/* cu_vkc_count - entries held now (for tests and metrics). */
size_t cu_vkc_count(cu_vkc_t *c);

#endif

/* skcache.h - derived SigV4 signing keys, kept in locked memory.
 *
 * A SigV4 signing key is HMAC-SHA-256 chained four times over the access
 * key's secret, the date, the region and the service; it changes once a
 * day. Opening the secret (sealed in the metadata) and deriving the key
 * for every request was a tenth of a small GET. This cache keeps the
 * derived key for (access key id, sealed secret, date, region, service).
 *
 * What it does not change: the caller still reads the access key's row
 * on every request (a disabled or deleted key is refused at once) and
 * passes the sealed secret it found; an entry is used only when that
 * sealed secret is byte for byte the one the key was derived from, so a
 * new secret under the same id never meets an old key. The signature is
 * still computed and compared (in constant time) for every request.
 *
 * Entries (keys and what they are looked up by) live in one block of
 * locked memory (core/secmem.h), wiped when replaced and on free.
 * Thread-safe: one mutex. Fixed size: a full slot is overwritten. */
#ifndef CU_STORE_SKCACHE_H
#define CU_STORE_SKCACHE_H

#include <stddef.h>

#include "core/crypto/aead.h"
#include "store/sigv4.h"

#define CU_SKCACHE_SLOTS 64
/* the longest sealed secret an entry holds; longer ones are not cached */
#define CU_SKCACHE_SEALED_MAX (CU_SIGV4_MAX_SECRET + CU_AEAD_OVERHEAD)

typedef struct cu_skcache cu_skcache_t;

/* What an entry is found by: every field must match. Strings are
 * NUL-terminated (akid, sealed: pointer and length). */
struct cu_skcache_id {
	const char *akid;
	size_t akid_len;
	const unsigned char *sealed; /* the secret as stored, sealed */
	size_t sealed_len;
	const char *date8; /* YYYYMMDD */
	const char *region;
	const char *service;
};

/* cu_skcache_new - an empty cache of CU_SKCACHE_SLOTS entries. Returns 0
 * and *out (free with cu_skcache_free), or CU_ERR_NOMEM. */
int cu_skcache_new(cu_skcache_t **out);

/* cu_skcache_free - wipe every entry and free. NULL ok. */
void cu_skcache_free(cu_skcache_t *c);

/* cu_skcache_get - copy the key kept for id into key. Returns 1 (found),
 * 0 (not kept: key untouched). c may be NULL (nothing is kept). */
int cu_skcache_get(cu_skcache_t *c, const struct cu_skcache_id *id,
                   unsigned char key[CU_SIGV4_KEY_LEN]);

/* cu_skcache_put - keep key for id, replacing what its slot held. Ids
 * with a field longer than an entry holds are not kept. c may be NULL. */
void cu_skcache_put(cu_skcache_t *c, const struct cu_skcache_id *id,
                    const unsigned char key[CU_SIGV4_KEY_LEN]);

/* cu_skcache_forget - wipe every entry of access key akid (a revoked key:
 * its row already refuses it; this only keeps its derived keys from
 * lingering in memory). c may be NULL. */
void cu_skcache_forget(cu_skcache_t *c, const char *akid, size_t akid_len);

#endif

/* memo.h - answers read from the vault's database, kept while it is
 * unchanged.
 *
 * Every request authenticates (token -> principal), is authorized (the
 * principal's role assignments) and, for a key operation, reads the key
 * version's row. Read from SQLite each time, those three read
 * transactions were a third of an AES-256 unwrap's CPU (perf: the WAL
 * read lock's mutex and fcntl calls, statement resets). A memo entry
 * holds such an answer tagged with the database's commit count when it
 * was read (cu_db_commits: every commit on the keystore's connection,
 * the only one that writes vault.db, bumps it), and answers only while
 * that count is unchanged. So the very next request after any change (a
 * role removed, a key disabled, a token replaced) reads the database
 * again, as before; the memo only spares reading what cannot have
 * changed.
 *
 * A reader must take the count before its database read and tag what it
 * read with that count: a commit landing in between then makes the entry
 * stale at once instead of keeping an answer older than its tag.
 *
 * Entries are small byte strings (a key of up to CU_VMEMO_KEY_MAX bytes,
 * a value of up to CU_VMEMO_VAL_MAX), in a fixed table of sets of four,
 * the oldest of a set replaced first. Nothing secret is kept: principal
 * names, SHA-256 digests of bearer tokens (what the database holds too),
 * permission bits, a key version's attributes and the digest of its
 * sealed material. Thread-safe (one mutex, held for a copy). */
#ifndef CU_VAULT_MEMO_H
#define CU_VAULT_MEMO_H

#include <stddef.h>
#include <stdint.h>

typedef struct cu_vmemo cu_vmemo_t;

#define CU_VMEMO_KEY_MAX 192
#define CU_VMEMO_VAL_MAX 320

/* cu_vmemo_new - a memo of about `entries` entries (rounded up to a
 * power of two, 4-65536). *out is the caller's (cu_vmemo_free). Returns
 * 0, CU_ERR_INVAL or CU_ERR_NOMEM. */
int cu_vmemo_new(size_t entries, cu_vmemo_t **out);

/* cu_vmemo_free - free the memo. NULL is fine. */
void cu_vmemo_free(cu_vmemo_t *m);

/* cu_vmemo_get - the value kept for key (klen bytes) if it was read at
 * commit count `gen`: copied to val (vcap bytes at least its length),
 * *vlen its length. Returns 0, or CU_ERR_NOTFOUND (absent, read at
 * another count, or larger than vcap). */
int cu_vmemo_get(cu_vmemo_t *m, const void *key, size_t klen, uint64_t gen,
                 void *val, size_t vcap, size_t *vlen);

/* cu_vmemo_put - keep val (vlen bytes) for key, as read at commit count
 * gen, replacing what the key had. Returns 0 or CU_ERR_RANGE (key or
 * value too long: nothing kept). */
int cu_vmemo_put(cu_vmemo_t *m, const void *key, size_t klen, uint64_t gen,
                 const void *val, size_t vlen);

/* cu_vmemo_stats - lookups answered and missed so far (for tests and
 * metrics). Either pointer may be NULL. */
void cu_vmemo_stats(cu_vmemo_t *m, uint64_t *hits, uint64_t *misses);

#endif

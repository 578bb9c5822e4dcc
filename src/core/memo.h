/* memo.h - answers read from a database, kept while it is unchanged.
 *
 * Every vault request authenticates (token -> principal), is authorized
 * (the principal's role assignments) and, for a key operation, reads the
 * key version's row; every S3 request reads its access key's row. Read
 * from SQLite each time, those read transactions were a third of an
 * AES-256 unwrap's CPU (perf: the WAL read lock's mutex and fcntl calls,
 * statement resets). A memo entry holds such an answer tagged with the
 * database's commit count when it was read (cu_db_commits: every commit
 * on the handle that alone writes the file bumps it), and answers only
 * while that count is unchanged. So the very next request after any
 * change (a role removed, a key disabled, a token replaced, an access
 * key revoked) reads the database again, as before; the memo only spares
 * reading what cannot have changed.
 *
 * A reader must take the count before its database read and tag what it
 * read with that count: a commit landing in between then makes the entry
 * stale at once instead of keeping an answer older than its tag.
 *
 * Entries are small byte strings (a key of up to CU_MEMO_KEY_MAX bytes,
 * a value of up to CU_MEMO_VAL_MAX), in a fixed table of sets of four,
 * the oldest of a set replaced first, in ordinary memory: callers keep
 * nothing secret in it (principal names, digests of bearer tokens as the
 * database holds them, permission bits, key attributes, digests and
 * sealed ciphertext). Thread-safe (one mutex, held for a copy). */
#ifndef CU_CORE_MEMO_H
#define CU_CORE_MEMO_H

#include <stddef.h>
#include <stdint.h>

typedef struct cu_memo cu_memo_t;

#define CU_MEMO_KEY_MAX 192
#define CU_MEMO_VAL_MAX 320

/* cu_memo_new - a memo of about `entries` entries (rounded up to a
 * power of two, 4-65536). *out is the caller's (cu_memo_free). Returns
 * 0, CU_ERR_INVAL or CU_ERR_NOMEM. */
int cu_memo_new(size_t entries, cu_memo_t **out);

/* cu_memo_free - free the memo. NULL is fine. */
void cu_memo_free(cu_memo_t *m);

/* cu_memo_get - the value kept for key (klen bytes) if it was read at
 * commit count `gen`: copied to val (vcap bytes at least its length),
 * *vlen its length. Returns 0, or CU_ERR_NOTFOUND (absent, read at
 * another count, or larger than vcap). */
int cu_memo_get(cu_memo_t *m, const void *key, size_t klen, uint64_t gen,
                void *val, size_t vcap, size_t *vlen);

/* cu_memo_put - keep val (vlen bytes) for key, as read at commit count
 * gen, replacing what the key had. Returns 0 or CU_ERR_RANGE (key or
 * value too long: nothing kept). */
int cu_memo_put(cu_memo_t *m, const void *key, size_t klen, uint64_t gen,
                const void *val, size_t vlen);

/* cu_memo_stats - lookups answered and missed so far (for tests and
 * metrics). Either pointer may be NULL. */
void cu_memo_stats(cu_memo_t *m, uint64_t *hits, uint64_t *misses);

#endif

/* secmem.h - memory for secrets: locked, never dumped, wiped on free.
 *
 * Key material (plaintext tenant keys, data keys, private keys in transit)
 * is allocated here. The arena is OpenSSL's secure heap: mlock'd pages,
 * excluded from core dumps, guard pages around it. Each block is zeroed
 * on allocation and wiped on free. */
#ifndef CU_SECMEM_H
#define CU_SECMEM_H

#include <stddef.h>

/* cu_secmem_init - set up the locked arena of `size` bytes (a power of two,
 * at least 64 KiB). Call once at process start, before any thread.
 * Returns 0, CU_ERR_INVAL for a bad size, or CU_ERR_NOMEM when the pages
 * cannot be mapped or locked (RLIMIT_MEMLOCK too low): the caller decides
 * whether to run without locked memory. The size is checked first; once
 * the arena exists, a further call with a valid size is a no-op. */
int cu_secmem_init(size_t size);

/* cu_secmem_locked - 1 when the locked arena is in use, else 0. */
int cu_secmem_locked(void);

/* cu_secmem_alloc - `n` zeroed bytes from the locked arena (or, when the
 * arena is not initialised, from the ordinary heap: still wiped on free).
 * Returns NULL when out of memory or n == 0. Free with cu_secmem_free. */
void *cu_secmem_alloc(size_t n);

/* cu_secmem_free - wipe `n` bytes at p and release them. p may be NULL. */
void cu_secmem_free(void *p, size_t n);

/* cu_memzero - wipe a buffer in a way the compiler cannot elide. */
void cu_memzero(void *p, size_t n);

/* cu_ct_equal - 1 when the n bytes at a and b are equal, else 0, in time
 * that depends only on n. For MACs, tags, tokens and signatures. */
int cu_ct_equal(const void *a, const void *b, size_t n);

/* cu_proc_harden - disable core dumps for this process (RLIMIT_CORE = 0 and
 * not dumpable). Daemons call it first thing. Returns 0 or CU_ERR_IO. */
int cu_proc_harden(void);

#endif

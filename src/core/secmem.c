#include "core/secmem.h"
#include "core/err.h"

#include <openssl/crypto.h>
#include <sys/prctl.h>
#include <sys/resource.h>

static int arena_ready;

int cu_secmem_init(size_t size)
{
	if (size < 65536 || (size & (size - 1)) != 0)
		return CU_ERR_INVAL;
	if (arena_ready)
		return 0;
	/* minsize 32: tenant keys and DEKs are 32 bytes; smaller blocks would
	 * only fragment the buddy allocator. */
	if (CRYPTO_secure_malloc_init(size, 32) != 1)
		return CU_ERR_NOMEM;
	arena_ready = 1;
	return 0;
}

int cu_secmem_locked(void)
{
	return CRYPTO_secure_malloc_initialized();
}

void *cu_secmem_alloc(size_t n)
{
	if (n == 0)
		return NULL;
	return OPENSSL_secure_zalloc(n);
}

void cu_secmem_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	OPENSSL_secure_clear_free(p, n);
}

void cu_memzero(void *p, size_t n)
{
	if (p != NULL && n > 0)
		OPENSSL_cleanse(p, n);
}

int cu_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int cu_proc_harden(void)
{
	struct rlimit rl = {0, 0};

	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return CU_ERR_IO;
#if !defined(__SANITIZE_ADDRESS__) && !defined(CU_SANITIZE)
	/* Not under sanitizers: LeakSanitizer needs to ptrace its own
	 * process, which a non-dumpable process forbids. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return CU_ERR_IO;
#endif
	return 0;
}

/* rand.h - the CSPRNG (OpenSSL's DRBG, seeded by the kernel). */
#ifndef CU_RAND_H
#define CU_RAND_H

#include <stddef.h>

/* cu_rand_bytes - fill buf with n unpredictable bytes. Returns 0 or
 * CU_ERR_CRYPTO (the DRBG could not be seeded: treat as fatal for any
 * key or nonce). */
int cu_rand_bytes(void *buf, size_t n) __attribute__((warn_unused_result));

/* cu_rand_hex - write 2*n lowercase hex digits of n random bytes and a
 * NUL to out (room for 2*n+1 bytes). For ids and versions, not keys. */
int cu_rand_hex(char *out, size_t n) __attribute__((warn_unused_result));

#endif

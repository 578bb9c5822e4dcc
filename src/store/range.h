/* range.h - the HTTP Range header of S3's GetObject (RFC 9110 section
 * 14.1.2, single byte ranges as S3 supports them).
 *
 * Pure function over untrusted input; fuzzed by fuzz/fuzz_range.c. */
#ifndef CU_STORE_RANGE_H
#define CU_STORE_RANGE_H

#include <stddef.h>
#include <stdint.h>

#define CU_SRANGE_MAX_LEN 256 /* longer header values are not ranges */

/* cu_srange_parse - read `bytes=a-b`, `bytes=a-` or `bytes=-n` (len
 * bytes at s, need not be NUL-terminated) against an object of `size`
 * bytes. Returns
 *   0              *off and *count set: the satisfiable range, clipped to
 *                  the object (count >= 1);
 *   CU_ERR_PARSE   not a single byte range (bad syntax, several ranges,
 *                  another unit, b < a, numbers too big): S3 then serves
 *                  the whole object, as RFC 9110 says to;
 *   CU_ERR_RANGE   a valid range that selects nothing (a >= size, or
 *                  -0, or any range of an empty object): 416 InvalidRange;
 *   CU_ERR_INVAL   NULL argument. */
int cu_srange_parse(const char *s, size_t len, uint64_t size, uint64_t *off,
                    uint64_t *count);

#endif

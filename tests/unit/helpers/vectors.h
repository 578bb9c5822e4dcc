/* vectors.h - test helpers: load JSON test-vector files (Wycheproof) and
 * decode hex, for the crypto known-answer tests.
 *
 * Files are read from $CUSTOS_TESTVECTORS (default ../shared/testvectors,
 * relative to the project root where the tests run). */
#ifndef TV_VECTORS_H
#define TV_VECTORS_H

#include <jansson.h>
#include <stddef.h>

/* A decoded byte string. data is never NULL (an empty string points at a
 * one-byte allocation), so it can be handed to APIs that refuse NULL. */
struct tv_bytes {
	unsigned char *data;
	size_t len;
};

enum tv_expect { TV_VALID = 1, TV_INVALID = 2, TV_ACCEPTABLE = 3 };

/* What one test case's checker says. */
enum tv_outcome { TV_PASS = 0, TV_FAIL = 1, TV_SKIP = 2 };

struct tv_count {
	unsigned passed, failed, skipped;
};

/* tv_dir - the test-vector root directory. */
const char *tv_dir(void);

/* tv_load - parse SUBDIR/NAME under tv_dir(), e.g. ("wycheproof",
 * "aes_gcm_test.json"). Returns a new reference (json_decref) or NULL with
 * a message on stderr. */
json_t *tv_load(const char *subdir, const char *name);

/* tv_hex - decode the hex string member `key` of obj into *out (free with
 * tv_bytes_free). Returns 0, or -1 when the member is missing or not
 * valid hex. */
int tv_hex(const json_t *obj, const char *key, struct tv_bytes *out);

/* tv_hex_str - decode a hex C string. Returns 0 or -1. */
int tv_hex_str(const char *hex, struct tv_bytes *out);

/* tv_hex_encode - write the 2*n lowercase hex digits of in (n bytes) and a
 * NUL to out (2*n + 1 bytes). */
void tv_hex_encode(const unsigned char *in, size_t n, char *out);

void tv_bytes_free(struct tv_bytes *b);

/* tv_expect_of - the "result" of a Wycheproof test case; 0 if unknown. */
enum tv_expect tv_expect_of(const json_t *test);

/* tv_has_flag - 1 when a Wycheproof test case lists flag in "flags". */
int tv_has_flag(const json_t *test, const char *flag);

/* A checker for one Wycheproof test case of a group. */
typedef enum tv_outcome (*tv_case_fn)(const json_t *group, const json_t *test,
                                      void *arg);

/* tv_run_wycheproof - run fn over every test of every group of
 * wycheproof/NAME, print each failure (with its tcId) and then the line
 * "wycheproof: NAME: P passed, F failed, S skipped". Fills *count (when
 * not NULL). Returns 0 when every case ran and none failed, -1 otherwise
 * (including a file that cannot be read, or a numberOfTests that does
 * not match the cases found). */
int tv_run_wycheproof(const char *name, tv_case_fn fn, void *arg,
                      struct tv_count *count);

#endif

/* log.h - structured logs: one JSON object per line.
 *
 * Every line has "ts" (RFC 3339, UTC, milliseconds), "level", "component"
 * and "msg", then the caller's fields ("request_id", "tenant", ...). Never
 * pass a secret, a whole token or a plaintext as a field: nothing here can
 * tell them apart from ordinary strings. */
#ifndef CU_LOG_H
#define CU_LOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum cu_log_level {
	CU_LOG_DEBUG = 0,
	CU_LOG_INFO = 1,
	CU_LOG_WARN = 2,
	CU_LOG_ERROR = 3,
};

/* cu_log_init - set the component name written on every line (copied, at
 * most 31 bytes), the lowest level written, and the file descriptor lines
 * go to (2 for stderr). Not thread-safe: call before starting threads. */
void cu_log_init(const char *component, int min_level, int fd);

/* cu_log_level_parse - "debug", "info", "warn" or "error" to a level.
 * Returns 0, or CU_ERR_INVAL for anything else (level untouched). */
int cu_log_level_parse(const char *s, int *level);

/* cu_log_enabled - 1 when a line at `level` would be written. */
int cu_log_enabled(int level);

/* cu_log - write one line. `fields` is a JSON object whose members are
 * added to the line, or NULL; the reference is stolen (decref'd here)
 * whether or not the line is written. Thread-safe: one write(2) per line. */
void cu_log(int level, const char *msg, json_t *fields);

/* A field of cu_log_fields: typed, so that a hot path (one access-log line
 * per request) builds no JSON values. */
enum cu_log_type {
	CU_LOG_STR = 1, /* s, len bytes (NUL not needed): a JSON string;
	                 * bytes that are not UTF-8 become U+FFFD */
	CU_LOG_INT,     /* i: a JSON integer */
	CU_LOG_NS_MS,   /* i nanoseconds, written as milliseconds: a JSON
	                 * real with six decimals (1500 -> 0.001500) */
};

struct cu_log_field {
	const char *key; /* NUL-terminated; escaped like a string */
	enum cu_log_type type;
	const char *s;
	size_t len;
	int64_t i;
};

/* cu_log_fields - write one line with the `n` fields given, in order after
 * the standard ones; a field named like a standard one ("ts", "level",
 * "component", "msg") is skipped, and so is one of an unknown type. The
 * caller keeps the keys unique. Thread-safe: one write(2) per line. */
void cu_log_fields(int level, const char *msg, const struct cu_log_field *f,
                   size_t n);

/* cu_logf - write a line whose "msg" is formatted printf-style. */
void cu_logf(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif

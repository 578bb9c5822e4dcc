/* err.h - the one table of custos error codes.
 *
 * Every function in custos that can fail returns int: 0 on success or one
 * of the negative CU_ERR_* codes below. Detail meant for a person goes to
 * the log or the HTTP error body, never into the code. */
#ifndef CU_ERR_H
#define CU_ERR_H

enum {
	CU_OK = 0,
	CU_ERR_NOMEM = -1,    /* allocation failed */
	CU_ERR_INVAL = -2,    /* bad argument or malformed input */
	CU_ERR_RANGE = -3,    /* a size, count or offset is out of bounds */
	CU_ERR_CRYPTO = -4,   /* the crypto library failed (not bad input) */
	CU_ERR_AUTH = -5,     /* authentication failed: tag, MAC, unwrap */
	CU_ERR_IO = -6,       /* file or socket I/O failed */
	CU_ERR_NOTFOUND = -7, /* no such object */
	CU_ERR_EXISTS = -8,   /* object already exists */
	CU_ERR_DENIED = -9,   /* caller is not allowed */
	CU_ERR_UNSUPPORTED = -10, /* valid but not supported */
	CU_ERR_PARSE = -11,       /* input could not be parsed */
	CU_ERR_TIMEOUT = -12,     /* a peer did not answer in time */
	CU_ERR_UNAVAILABLE = -13, /* a peer is unreachable or failing */
	CU_ERR_STATE = -14,       /* not allowed in the current state */
	CU_ERR_TOOLARGE = -15,    /* input exceeds a configured limit */
	CU_ERR_DB = -16,          /* the database failed */
	CU_ERR_INTERNAL = -17,    /* broken internal contract */
};

#define CU_ERR_MIN CU_ERR_INTERNAL

/* cu_strerror - a short English text for an error code; never NULL.
 * Unknown codes give "unknown error". */
const char *cu_strerror(int err);

/* cu_errname - the symbolic name ("CU_ERR_AUTH") of a code; never NULL. */
const char *cu_errname(int err);

#endif

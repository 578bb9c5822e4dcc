/* router.h - HTTP method + path pattern matching, and URL decoding.
 *
 * Part of the core/http module (prefix cu_http_). Pure functions over
 * untrusted input with explicit lengths: no I/O, no MHD, fuzzed by
 * fuzz/fuzz_router.c.
 *
 * Patterns are absolute paths made of segments separated by '/':
 *   literal   "keys"        matches exactly (byte for byte, case-sensitive,
 *                           against the still-encoded path segment)
 *   {name}    one segment   value percent-decoded; empty only with
 *                           CU_HTTP_ROUTE_EMPTY_PARAMS
 *   {name*}   the rest      last segment of a pattern only: everything after
 *                           the preceding '/', slashes included, decoded
 *                           (an S3 object key); may be empty only with
 *                           CU_HTTP_ROUTE_EMPTY_PARAMS
 * A trailing '/' in the request path matches only a pattern with a
 * trailing '/' unless CU_HTTP_ROUTE_TRAILING_SLASH makes it optional.
 * Empty segments ("//") never match a literal. A decoded value holding a
 * NUL byte, or a bad %XX escape, makes the path not match (the server
 * refuses such a path with 400 before it routes). */
#ifndef CU_HTTP_ROUTER_H
#define CU_HTTP_ROUTER_H

#include <stddef.h>

/* Method bits. */
enum {
	CU_HTTP_GET = 1u << 0,
	CU_HTTP_HEAD = 1u << 1,
	CU_HTTP_POST = 1u << 2,
	CU_HTTP_PUT = 1u << 3,
	CU_HTTP_DELETE = 1u << 4,
	CU_HTTP_PATCH = 1u << 5,
	CU_HTTP_OPTIONS = 1u << 6,
	CU_HTTP_ANY = (1u << 7) - 1,
};

/* Route flags. */
enum {
	/* "/keys" and "/keys/" both match a pattern written either way. */
	CU_HTTP_ROUTE_TRAILING_SLASH = 1u << 0,
	/* {name} and {name*} may match an empty string. */
	CU_HTTP_ROUTE_EMPTY_PARAMS = 1u << 1,
};

#define CU_HTTP_MAX_PARAMS   8
#define CU_HTTP_MAX_SEGMENTS 32 /* per pattern */

typedef struct cu_http_router cu_http_router_t;

struct cu_http_param {
	const char *name; /* borrowed from the router */
	char *value;      /* owned by the match, NUL-terminated, decoded */
	size_t len;
};

struct cu_http_match {
	void *data;       /* the route's data pointer */
	unsigned flags;   /* the route's flags */
	unsigned allowed; /* on a 405: methods the path allows */
	size_t nparams;
	struct cu_http_param params[CU_HTTP_MAX_PARAMS];
};

/* cu_http_method_bit - the CU_HTTP_* bit of a method name (exact, upper
 * case), or 0 when unknown. `name` need not be NUL-terminated. */
unsigned cu_http_method_bit(const char *name, size_t len);

/* cu_http_methods_format - write the names of the bits in `methods` as an
 * Allow header value ("GET, HEAD, PUT") into out (NUL-terminated,
 * truncated to cap). Returns the length written. */
size_t cu_http_methods_format(unsigned methods, char *out, size_t cap);

/* cu_http_router_new / _free - an empty router. new returns 0 and *out, or
 * CU_ERR_NOMEM. free accepts NULL. */
int cu_http_router_new(cu_http_router_t **out);
void cu_http_router_free(cu_http_router_t *r);

/* cu_http_router_add - add a route for `methods` (non-zero). `pattern` is
 * copied; `data` is returned by matches. Returns 0, CU_ERR_INVAL for a bad
 * pattern (not starting with '/', unbalanced braces, a parameter name not
 * [A-Za-z0-9_], a duplicate name, {x*} not last, too many segments or
 * parameters), or CU_ERR_NOMEM. */
int cu_http_router_add(cu_http_router_t *r, unsigned methods,
                       const char *pattern, unsigned flags, void *data);

/* cu_http_router_match - find the first route, in the order added, whose
 * pattern matches `path` (len bytes, no query string, still encoded) and
 * whose methods include `method` (a GET route also matches HEAD).
 * Returns 0 with *m filled (release with cu_http_match_clear);
 * CU_ERR_NOTFOUND when no route matches: m->allowed is then the union of
 * the methods of routes whose pattern matched (non-zero means 405);
 * CU_ERR_NOMEM. *m needs no clearing after an error. */
int cu_http_router_match(const cu_http_router_t *r, unsigned method,
                         const char *path, size_t len, struct cu_http_match *m);

/* cu_http_match_param - a parameter's value from a match, or NULL;
 * *len (when len is not NULL) gets its decoded length, 0 when absent. */
const char *cu_http_match_param(const struct cu_http_match *m, const char *name,
                                size_t *len);

/* cu_http_match_clear - free a match's values. NULL ok; idempotent. */
void cu_http_match_clear(struct cu_http_match *m);

/* cu_http_url_decode - percent-decode len bytes of `in` into `out` (room
 * for len + 1 bytes; the result is never longer) and NUL-terminate it;
 * *out_len gets the length. '+' is kept as is. With out NULL, only checks
 * that `in` decodes. Returns 0, or CU_ERR_PARSE for a bad escape or a
 * decoded NUL byte. */
int cu_http_url_decode(const char *in, size_t len, char *out, size_t *out_len);

/* cu_http_list_next - the next element of a comma-separated header
 * list (RFC 9110 section 5.6.1: If-Match, Content-Encoding) in the
 * NUL-terminated text at *p: *elem and *len get it without the optional
 * white space (spaces, tabs) around it, empty elements are skipped, and
 * *p moves past it. Returns 1 for an element, 0 at the end. Quoted
 * strings are not parsed: a comma inside one splits it. */
int cu_http_list_next(const char **p, const char **elem, size_t *len);

/* cu_http_query_find - in the raw query string `q` (qlen bytes, without
 * '?'), find the first argument whose decoded name equals `name`, and
 * decode its value into a fresh string (*out, caller frees; "" for an
 * argument without '='). Returns 0, CU_ERR_NOTFOUND, CU_ERR_PARSE (the
 * matching argument's value does not decode), or CU_ERR_NOMEM.
 * Arguments whose name does not decode are skipped. */
int cu_http_query_find(const char *q, size_t qlen, const char *name,
                       char **out);

/* A query string decoded once, for many lookups (cu_http_query_find
 * scans the raw string each time). */
typedef struct cu_http_query cu_http_query_t;

/* cu_http_query_parse - split q (len bytes, without '?', not
 * NUL-terminated) at '&' and decode every name and value, as
 * cu_http_query_find would. *out is the caller's (cu_http_query_free).
 * Returns 0, CU_ERR_INVAL or CU_ERR_NOMEM. */
int cu_http_query_parse(const char *q, size_t len, cu_http_query_t **out);

/* cu_http_query_get - what cu_http_query_find would give for name: the
 * first argument of that decoded name's decoded value ("" without '='),
 * or NULL when there is none or its value does not decode. Points into
 * x; valid until cu_http_query_free. */
const char *cu_http_query_get(const cu_http_query_t *x, const char *name);

void cu_http_query_free(cu_http_query_t *x);

#endif

/* libFuzzer target for core/http/router: the path matcher, percent-decoding
 * and query lookup never crash or read out of bounds on any input, and
 * what they return is consistent (decoded values hold no NUL, a 405 only
 * names methods of routes whose pattern matched, the parsed query answers
 * every name as the scan of the raw query does).
 *
 * Input: byte 0 picks the method, then the path (up to a '?'), then the
 * query string; a fixed route table like the vault's and the store's. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/http/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cu_http_router_t *router;
static int tag;

static void setup(void)
{
	static const struct {
		unsigned m;
		const char *p;
		unsigned f;
	} routes[] = {
	    {CU_HTTP_GET, "/", 0},
	    {CU_HTTP_GET | CU_HTTP_POST, "/keys", CU_HTTP_ROUTE_TRAILING_SLASH},
	    {CU_HTTP_GET | CU_HTTP_DELETE, "/keys/{name}", 0},
	    {CU_HTTP_GET | CU_HTTP_PATCH, "/keys/{name}/{version}", 0},
	    {CU_HTTP_POST, "/keys/{name}/{version}/{op}", 0},
	    {CU_HTTP_GET, "/deletedkeys/", 0},
	    {CU_HTTP_PUT | CU_HTTP_GET, "/{bucket}/{key*}", 0},
	    {CU_HTTP_PUT, "/{bucket}",
	     CU_HTTP_ROUTE_TRAILING_SLASH | CU_HTTP_ROUTE_EMPTY_PARAMS},
	    {CU_HTTP_GET, "/list/{p*}", CU_HTTP_ROUTE_EMPTY_PARAMS},
	};
	if (cu_http_router_new(&router) != 0)
		abort();
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (cu_http_router_add(router, routes[i].m, routes[i].p,
		                       routes[i].f, &tag) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"api-version", "x",       "",
	                                    "a b",         "uploads", "p+q"};
	struct cu_http_match m;
	const char *in = (const char *)data;
	const char *q;
	size_t plen, qlen;
	unsigned method;
	char *v = NULL;
	char allow[128];

	if (router == NULL)
		setup();
	if (size == 0)
		return 0;
	method = 1u << (data[0] % 8); /* bit 7 is no known method */
	in++;
	size--;
	q = memchr(in, '?', size);
	plen = q != NULL ? (size_t)(q - in) : size;
	qlen = q != NULL ? size - plen - 1 : 0;

	/* the router reads only `plen` bytes: hand it an exact copy so ASan
	 * catches any read past the end */
	char *path = malloc(plen ? plen : 1);
	if (path == NULL)
		return 0;
	memcpy(path, in, plen);
	if (cu_http_router_match(router, method & CU_HTTP_ANY, path, plen,
	                         &m) == 0) {
		if (m.data != &tag)
			abort();
		for (size_t i = 0; i < m.nparams; i++) {
			if (strlen(m.params[i].value) != m.params[i].len)
				abort(); /* a NUL slipped through */
		}
		cu_http_match_clear(&m);
	} else if ((m.allowed & ~(unsigned)CU_HTTP_ANY) != 0) {
		abort();
	}
	cu_http_methods_format(m.allowed, allow, sizeof(allow));
	free(path);

	char *query = malloc(qlen ? qlen : 1);
	if (query == NULL)
		return 0;
	memcpy(query, q != NULL ? q + 1 : "", qlen);
	cu_http_query_t *qx = NULL;
	if (cu_http_query_parse(query, qlen, &qx) != 0)
		qx = NULL; /* out of memory */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int rc = cu_http_query_find(query, qlen, names[i], &v);
		const char *pv = cu_http_query_get(qx, names[i]);
		if (rc == 0 && v == NULL)
			abort();
		/* the parsed query answers as the scan does */
		if (qx != NULL && rc != CU_ERR_NOMEM &&
		    ((rc == 0) != (pv != NULL) ||
		     (pv != NULL && strcmp(pv, v) != 0)))
			abort();
		free(v);
		v = NULL;
	}
	cu_http_query_free(qx);
	char *dec = malloc(qlen + 1);
	size_t n;
	if (dec != NULL && cu_http_url_decode(query, qlen, dec, &n) == 0 &&
	    (n > qlen || strlen(dec) != n))
		abort();
	free(dec);
	free(query);

	/* the whole input as a header list: every element lies inside it,
	 * is not empty and has no comma or white space at its ends */
	char *list = malloc(size + 1);
	if (list == NULL)
		return 0;
	memcpy(list, in, size);
	list[size] = '\0';
	const char *lp = list, *e;
	while (cu_http_list_next(&lp, &e, &n)) {
		if (n == 0 || e < list || e + n > list + strlen(list) ||
		    memchr(e, ',', n) != NULL || e[0] == ' ' || e[0] == '\t' ||
		    e[n - 1] == ' ' || e[n - 1] == '\t')
			abort();
	}
	free(list);
	return 0;
}

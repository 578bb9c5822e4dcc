/* Unit tests for core/http/router: patterns, matching, 404/405, decoding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/http/router.h"

static int keys, key, version, op, deleted, obj, bucket, root, list;

/* The routes every matching test runs against, added in this order. */
static cu_http_router_t *make(void)
{
	static const struct {
		unsigned methods;
		const char *pattern;
		unsigned flags;
		int *data;
	} routes[] = {
	    {CU_HTTP_GET, "/", 0, &root},
	    {CU_HTTP_GET, "/keys", CU_HTTP_ROUTE_TRAILING_SLASH, &keys},
	    {CU_HTTP_GET | CU_HTTP_DELETE, "/keys/{name}", 0, &key},
	    {CU_HTTP_GET | CU_HTTP_PATCH, "/keys/{name}/{version}", 0,
	     &version},
	    {CU_HTTP_POST, "/keys/{name}/{version}/{op}", 0, &op},
	    {CU_HTTP_GET, "/deletedkeys/", 0, &deleted},
	    {CU_HTTP_GET | CU_HTTP_PUT, "/s3/{bucket}/{key*}", 0, &obj},
	    {CU_HTTP_PUT, "/s3/{bucket}", CU_HTTP_ROUTE_TRAILING_SLASH,
	     &bucket},
	    {CU_HTTP_GET, "/list/{p*}", CU_HTTP_ROUTE_EMPTY_PARAMS, &list},
	};
	cu_http_router_t *r = NULL;

	assert_int_equal(cu_http_router_new(&r), 0);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		int rc =
		    cu_http_router_add(r, routes[i].methods, routes[i].pattern,
		                       routes[i].flags, routes[i].data);

		if (rc != 0)
			fprintf(stderr, "route %s: %d\n", routes[i].pattern,
			        rc);
		assert_int_equal(rc, 0);
	}
	return r;
}

static int match(cu_http_router_t *r, unsigned m, const char *path,
                 struct cu_http_match *out)
{
	return cu_http_router_match(r, m, path, strlen(path), out);
}

static void named_segments_are_captured_and_decoded(void **state)
{
	cu_http_router_t *r = make();
	struct cu_http_match m;
	size_t n;

	assert_int_equal(match(r, CU_HTTP_GET, "/keys/k1/abc", &m), 0);
	assert_ptr_equal(m.data, &version);
	assert_string_equal(cu_http_match_param(&m, "name", NULL), "k1");
	assert_string_equal(cu_http_match_param(&m, "version", NULL), "abc");
	assert_null(cu_http_match_param(&m, "op", NULL));
	cu_http_match_clear(&m);

	assert_int_equal(match(r, CU_HTTP_GET, "/keys/a%2Fb%20c", &m), 0);
	assert_ptr_equal(m.data, &key);
	assert_string_equal(cu_http_match_param(&m, "name", &n), "a/b c");
	assert_int_equal(n, 5); /* the decoded length, not the path's */
	assert_null(cu_http_match_param(&m, "version", &n));
	assert_int_equal(n, 0);
	cu_http_match_clear(&m);

	assert_int_equal(match(r, CU_HTTP_POST, "/keys/k/v/wrapkey", &m), 0);
	assert_ptr_equal(m.data, &op);
	assert_string_equal(cu_http_match_param(&m, "op", NULL), "wrapkey");
	cu_http_match_clear(&m);
	cu_http_router_free(r);
}

static void root_and_literals_match_exactly(void **state)
{
	cu_http_router_t *r = make();
	struct cu_http_match m;

	assert_int_equal(match(r, CU_HTTP_GET, "/", &m), 0);
	assert_ptr_equal(m.data, &root);
	assert_int_equal(match(r, CU_HTTP_GET, "/Keys", &m), CU_ERR_NOTFOUND);
	assert_int_equal(m.allowed, 0);
	assert_int_equal(match(r, CU_HTTP_GET, "/keysx", &m), CU_ERR_NOTFOUND);
	assert_int_equal(match(r, CU_HTTP_GET, "", &m), CU_ERR_NOTFOUND);
	assert_int_equal(match(r, CU_HTTP_GET, "keys", &m), CU_ERR_NOTFOUND);
	cu_http_router_free(r);
}

static void trailing_slash_is_strict_unless_the_route_allows_it(void **state)
{
	cu_http_router_t *r = make();
	struct cu_http_match m;

	assert_int_equal(match(r, CU_HTTP_GET, "/keys", &m), 0);
	assert_ptr_equal(m.data, &keys);
	assert_int_equal(match(r, CU_HTTP_GET, "/keys/", &m), 0);
	assert_ptr_equal(m.data, &keys);
	/* not allowed on /keys/{name} */
	assert_int_equal(match(r, CU_HTTP_GET, "/keys/k1/", &m),
	                 CU_ERR_NOTFOUND);
	/* a pattern written with the slash requires it */
	assert_int_equal(match(r, CU_HTTP_GET, "/deletedkeys/", &m), 0);
	assert_int_equal(match(r, CU_HTTP_GET, "/deletedkeys", &m),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(match(r, CU_HTTP_PUT, "/s3/b/", &m), 0);
	/* "/s3/b/" is also obj with an empty key: refused there, so the
	 * bucket route (added later) answers */
	assert_ptr_equal(m.data, &bucket);
	cu_http_match_clear(&m);
	cu_http_router_free(r);
}

static void empty_segments_match_nothing_by_default(void **state)
{
	cu_http_router_t *r = make();
	struct cu_http_match m;

	assert_int_equal(match(r, CU_HTTP_GET, "/keys//v", &m),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(match(r, CU_HTTP_GET, "//keys", &m), CU_ERR_NOTFOUND);
	assert_int_equal(match(r, CU_HTTP_GET, "/list/", &m), 0);
	assert_ptr_equal(m.data, &list);
	assert_string_equal(cu_http_match_param(&m, "p", NULL), "");
	cu_http_match_clear(&m);
	cu_http_router_free(r);
}

static void rest_parameter_takes_slashes(void **state)
{
	cu_http_router_t *r = make();
	struct cu_http_match m;

	assert_int_equal(match(r, CU_HTTP_GET, "/s3/bkt/a/b//c.txt", &m), 0);
	assert_ptr_equal(m.data, &obj);
	assert_string_equal(cu_http_match_param(&m, "bucket", NULL), "bkt");
	assert_string_equal(cu_http_match_param(&m, "key", NULL), "a/b//c.txt");
	cu_http_match_clear(&m);
	assert_int_equal(match(r, CU_HTTP_GET, "/s3/bkt/dir/", &m), 0);
	assert_string_equal(cu_http_match_param(&m, "key", NULL), "dir/");
	cu_http_match_clear(&m);
	cu_http_router_free(r);
}

static void wrong_method_reports_the_allowed_ones(void **state)
{
	cu_http_router_t *r = make();
	struct cu_http_match m;
	char allow[64];

	assert_int_equal(match(r, CU_HTTP_PUT, "/keys/k", &m), CU_ERR_NOTFOUND);
	assert_int_equal(m.allowed,
	                 CU_HTTP_GET | CU_HTTP_HEAD | CU_HTTP_DELETE);
	cu_http_methods_format(m.allowed, allow, sizeof(allow));
	assert_string_equal(allow, "GET, HEAD, DELETE");
	/* HEAD is served by GET routes */
	assert_int_equal(match(r, CU_HTTP_HEAD, "/keys/k", &m), 0);
	cu_http_match_clear(&m);
	/* unknown methods (bit 0) never match */
	assert_int_equal(match(r, 0, "/keys/k", &m), CU_ERR_NOTFOUND);
	assert_int_not_equal(m.allowed, 0);
	cu_http_router_free(r);
}

static void bad_escapes_and_nul_bytes_do_not_match(void **state)
{
	cu_http_router_t *r = make();
	struct cu_http_match m;

	assert_int_equal(match(r, CU_HTTP_GET, "/keys/a%2", &m),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(match(r, CU_HTTP_GET, "/keys/a%zz", &m),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(match(r, CU_HTTP_GET, "/keys/a%00b", &m),
	                 CU_ERR_NOTFOUND);
	cu_http_router_free(r);
}

static void bad_patterns_are_refused(void **state)
{
	cu_http_router_t *r = NULL;
	const char *bad[] = {"",      "keys",   "/{}",      "/{a",
	                     "/a}",   "/{a-b}", "/{a}/{a}", "/{k*}/x",
	                     "/x//y", "/{k*}/", "/a{b}",    "/{a}{b}"};

	assert_int_equal(cu_http_router_new(&r), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    cu_http_router_add(r, CU_HTTP_GET, bad[i], 0, NULL),
		    CU_ERR_INVAL);
	assert_int_equal(cu_http_router_add(r, 0, "/x", 0, NULL), CU_ERR_INVAL);
	assert_int_equal(cu_http_router_add(r, 1u << 20, "/x", 0, NULL),
	                 CU_ERR_INVAL);
	assert_int_equal(cu_http_router_add(r, CU_HTTP_GET,
	                                    "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/"
	                                    "{i}",
	                                    0, NULL),
	                 CU_ERR_INVAL);
	cu_http_router_free(r);
	cu_http_router_free(NULL);
	cu_http_match_clear(NULL);
}

static void methods_have_bits_and_names(void **state)
{
	char buf[8];

	assert_int_equal(cu_http_method_bit("GET", 3), CU_HTTP_GET);
	assert_int_equal(cu_http_method_bit("get", 3), 0);
	assert_int_equal(cu_http_method_bit("GETX", 4), 0);
	assert_int_equal(cu_http_method_bit("OPTIONS", 7), CU_HTTP_OPTIONS);
	/* truncation never overflows */
	size_t n = cu_http_methods_format(CU_HTTP_ANY, buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf, "GET");
}

static void query_arguments_are_found_and_decoded(void **state)
{
	const char *q = "api-version=7.4&a%20b=c%2Bd&flag&x=1&x=2&bad=%zz&+=p";
	char *v = NULL;

	assert_int_equal(cu_http_query_find(q, strlen(q), "api-version", &v),
	                 0);
	assert_string_equal(v, "7.4");
	free(v);
	assert_int_equal(cu_http_query_find(q, strlen(q), "a b", &v), 0);
	assert_string_equal(v, "c+d");
	free(v);
	assert_int_equal(cu_http_query_find(q, strlen(q), "flag", &v), 0);
	assert_string_equal(v, "");
	free(v);
	assert_int_equal(cu_http_query_find(q, strlen(q), "x", &v), 0);
	assert_string_equal(v, "1");
	free(v);
	assert_int_equal(cu_http_query_find(q, strlen(q), "+", &v), 0);
	assert_string_equal(v, "p");
	free(v);
	assert_int_equal(cu_http_query_find(q, strlen(q), "bad", &v),
	                 CU_ERR_PARSE);
	assert_null(v);
	assert_int_equal(cu_http_query_find(q, strlen(q), "nope", &v),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_http_query_find("", 0, "x", &v), CU_ERR_NOTFOUND);
	/* a name sent encoded and one sent as it is match alike */
	assert_int_equal(cu_http_query_find("fo=1&f%6Fo=2", 12, "foo", &v), 0);
	assert_string_equal(v, "2");
	free(v);
	assert_int_equal(cu_http_query_find("foox=1&fo=2", 11, "fo", &v), 0);
	assert_string_equal(v, "2");
	free(v);
	assert_int_equal(cu_http_query_find("&&=&", 4, "", &v), 0);
	free(v);
}

static void url_decoding_is_strict(void **state)
{
	char out[16];
	size_t n;

	assert_int_equal(cu_http_url_decode("a%41%6a+", 8, out, &n), 0);
	assert_string_equal(out, "aAj+");
	assert_int_equal(n, 4);
	assert_int_equal(cu_http_url_decode("%", 1, out, &n), CU_ERR_PARSE);
	assert_int_equal(cu_http_url_decode("%4", 2, out, &n), CU_ERR_PARSE);
	assert_int_equal(cu_http_url_decode("%g0", 3, out, &n), CU_ERR_PARSE);
	assert_int_equal(cu_http_url_decode("%00", 3, out, &n), CU_ERR_PARSE);
	/* without an output, only checked */
	assert_int_equal(cu_http_url_decode("a%41%6a+", 8, NULL, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(cu_http_url_decode("a%41", 4, NULL, NULL), 0);
	assert_int_equal(cu_http_url_decode("a%00", 4, NULL, NULL),
	                 CU_ERR_PARSE);
	assert_int_equal(cu_http_url_decode("a%4", 3, NULL, NULL),
	                 CU_ERR_PARSE);
}

/* The elements of a header list, each as "<elem>" in one string. */
static void list_of(const char *text, char *out, size_t cap)
{
	const char *p = text, *e;
	size_t n, at = 0;

	out[0] = '\0';
	while (cu_http_list_next(&p, &e, &n)) {
		assert_true(at + n + 3 <= cap);
		out[at++] = '<';
		memcpy(out + at, e, n);
		at += n;
		out[at++] = '>';
		out[at] = '\0';
	}
	assert_int_equal(*p, '\0');
}

static void header_lists_split_at_commas_without_white_space(void **state)
{
	char out[64];

	(void)state;
	list_of("gzip", out, sizeof(out));
	assert_string_equal(out, "<gzip>");
	list_of(" aws-chunked ,gzip,\tbr\t", out, sizeof(out));
	assert_string_equal(out, "<aws-chunked><gzip><br>");
	list_of(",, a b ,,, c,", out, sizeof(out));
	assert_string_equal(out, "<a b><c>");
	list_of("W/\"x\", \"y\"", out, sizeof(out));
	assert_string_equal(out, "<W/\"x\"><\"y\">");
	list_of("", out, sizeof(out));
	assert_string_equal(out, "");
	list_of(" , \t,", out, sizeof(out));
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(named_segments_are_captured_and_decoded),
	    cmocka_unit_test(root_and_literals_match_exactly),
	    cmocka_unit_test(
	        trailing_slash_is_strict_unless_the_route_allows_it),
	    cmocka_unit_test(empty_segments_match_nothing_by_default),
	    cmocka_unit_test(rest_parameter_takes_slashes),
	    cmocka_unit_test(wrong_method_reports_the_allowed_ones),
	    cmocka_unit_test(bad_escapes_and_nul_bytes_do_not_match),
	    cmocka_unit_test(bad_patterns_are_refused),
	    cmocka_unit_test(methods_have_bits_and_names),
	    cmocka_unit_test(query_arguments_are_found_and_decoded),
	    cmocka_unit_test(url_decoding_is_strict),
	    cmocka_unit_test(header_lists_split_at_commas_without_white_space),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

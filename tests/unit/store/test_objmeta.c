/* Unit tests for store/objmeta: an object's user metadata and standard
 * headers, sealed as one record bound to the object, and records written
 * by earlier versions (user metadata only) still read. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto/aead.h"
#include "core/err.h"
#include "store/keys.h"
#include "store/meta.h"
#include "store/objmeta.h"
#include "helpers/skeys_fx.h"

enum { CC, CD, CE, CL, EXP };

struct fx {
	struct skfx k; /* first: skfx_teardown frees fx */
	unsigned char id[512], other_id[512];
	size_t id_len, other_len;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || skfx_open(&f->k) != 0 ||
	    skfx_tenant(f->k.meta, f->k.keys, "ta", "AKA") != 0 ||
	    cu_skeys_object_id("ta", "b", "k", 1, "v1", f->id, sizeof(f->id),
	                       &f->id_len) != 0 ||
	    cu_skeys_object_id("ta", "b", "k2", 2, "v1", f->other_id,
	                       sizeof(f->other_id), &f->other_len) != 0)
		return -1;
	*state = f;
	return 0;
}

/* A record's plaintext sealed as every version seals it: under TK 1,
 * "custos/meta/v1" || id bound in. *out malloc'd. */
static size_t seal_text(struct fx *f, const char *text, unsigned char **out)
{
	static const char label[] = "custos/meta/v1";
	unsigned char aad[600];
	size_t tlen = strlen(text), n = 0;

	memcpy(aad, label, sizeof(label) - 1);
	memcpy(aad + sizeof(label) - 1, f->id, f->id_len);
	*out = malloc(tlen + CU_AEAD_OVERHEAD);
	assert_non_null(*out);
	assert_int_equal(cu_skeys_seal(f->k.keys, "ta", 1, aad,
	                               sizeof(label) - 1 + f->id_len, text,
	                               tlen, *out, tlen + CU_AEAD_OVERHEAD, &n),
	                 0);
	return n;
}

static int open_text(struct fx *f, const char *text, cu_sobjmeta_t **m)
{
	unsigned char *sealed = NULL;
	size_t n = seal_text(f, text, &sealed);
	int rc = cu_sobjmeta_open(f->k.keys, "ta", 1, f->id, f->id_len, sealed,
	                          n, m);

	free(sealed);
	return rc;
}

/* The user items as "name=value;" in the order given. */
static int collect(void *arg, const char *name, const char *value)
{
	char *buf = arg;
	size_t at = strlen(buf);

	snprintf(buf + at, 256 - at, "%s=%s;", name, value);
	return 0;
}

static void user_items(const cu_sobjmeta_t *m, char buf[256])
{
	buf[0] = '\0';
	assert_int_equal(cu_sobjmeta_user_each(m, collect, buf), 0);
}

static void standard_headers_and_user_metadata_round_trip(void **state)
{
	struct fx *f = *state;
	cu_sobjmeta_t *m = NULL, *back = NULL;
	unsigned char *sealed = NULL;
	size_t len = 0;
	char items[256];

	assert_int_equal(cu_sobjmeta_new(&m), 0);
	assert_int_equal(cu_sobjmeta_add_user(m, "owner", "alice"), 0);
	assert_int_equal(cu_sobjmeta_add_user(m, "cache-control", "mine"), 0);
	assert_int_equal(cu_sobjmeta_set_std(m, CC, "max-age=60"), 0);
	assert_int_equal(
	    cu_sobjmeta_set_std(
	        m, CD, "attachment; filename=\"r\xc3\xa9sum\xc3\xa9.pdf\""),
	    0);
	assert_int_equal(cu_sobjmeta_set_std(m, CE, "gzip"), 0);
	assert_int_equal(cu_sobjmeta_set_std(m, CL, "de-CH"), 0);
	assert_int_equal(
	    cu_sobjmeta_set_std(m, EXP, "Wed, 21 Oct 2037 07:28:00 GMT"), 0);
	assert_int_equal(cu_sobjmeta_seal(m, f->k.keys, "ta", 1, f->id,
	                                  f->id_len, &sealed, &len),
	                 0);
	assert_non_null(sealed);
	/* sealed: no header value is in clear */
	assert_null(memmem(sealed, len, "sum", 3));
	assert_null(memmem(sealed, len, "max-age", 7));
	assert_int_equal(cu_sobjmeta_open(f->k.keys, "ta", 1, f->id, f->id_len,
	                                  sealed, len, &back),
	                 0);
	assert_string_equal(cu_sobjmeta_std(back, CC), "max-age=60");
	assert_string_equal(
	    cu_sobjmeta_std(back, CD),
	    "attachment; filename=\"r\xc3\xa9sum\xc3\xa9.pdf\"");
	assert_string_equal(cu_sobjmeta_std(back, CE), "gzip");
	assert_string_equal(cu_sobjmeta_std(back, CL), "de-CH");
	assert_string_equal(cu_sobjmeta_std(back, EXP),
	                    "Wed, 21 Oct 2037 07:28:00 GMT");
	/* a user item named like a standard header stays a user item */
	user_items(back, items);
	assert_string_equal(items, "cache-control=mine;owner=alice;");
	assert_string_equal(cu_sobjmeta_std_name(CD), "Content-Disposition");
	assert_null(cu_sobjmeta_std_name(CU_SOBJMETA_N_STD));
	assert_null(cu_sobjmeta_std(back, CU_SOBJMETA_N_STD));
	cu_sobjmeta_free(back);
	cu_sobjmeta_free(m);
	free(sealed);
}

static void a_record_is_bound_to_its_object(void **state)
{
	struct fx *f = *state;
	cu_sobjmeta_t *m = NULL, *back = NULL;
	unsigned char *sealed = NULL;
	size_t len = 0;

	assert_int_equal(cu_sobjmeta_new(&m), 0);
	assert_int_equal(cu_sobjmeta_set_std(m, CD, "inline"), 0);
	assert_int_equal(cu_sobjmeta_seal(m, f->k.keys, "ta", 1, f->id,
	                                  f->id_len, &sealed, &len),
	                 0);
	assert_int_equal(cu_sobjmeta_open(f->k.keys, "ta", 1, f->other_id,
	                                  f->other_len, sealed, len, &back),
	                 CU_ERR_AUTH);
	assert_null(back);
	sealed[len - 1] ^= 1;
	assert_int_equal(cu_sobjmeta_open(f->k.keys, "ta", 1, f->id, f->id_len,
	                                  sealed, len, &back),
	                 CU_ERR_AUTH);
	assert_int_equal(cu_sobjmeta_open(f->k.keys, "ta", 1, f->id, f->id_len,
	                                  sealed, CU_AEAD_OVERHEAD - 1, &back),
	                 CU_ERR_PARSE);
	assert_null(back);
	cu_sobjmeta_free(m);
	free(sealed);
}

static void nothing_to_keep_seals_to_nothing(void **state)
{
	struct fx *f = *state;
	cu_sobjmeta_t *m = NULL, *back = NULL;
	unsigned char *sealed = (unsigned char *)"x";
	size_t len = 1;
	char items[256];

	assert_int_equal(cu_sobjmeta_new(&m), 0);
	/* empty values and a Content-Encoding that only named the body's
	 * transfer are not kept */
	assert_int_equal(cu_sobjmeta_set_std(m, CC, ""), 0);
	assert_int_equal(cu_sobjmeta_set_std(m, CE, "aws-chunked"), 0);
	assert_null(cu_sobjmeta_std(m, CE));
	assert_int_equal(cu_sobjmeta_seal(m, f->k.keys, "ta", 1, f->id,
	                                  f->id_len, &sealed, &len),
	                 0);
	assert_null(sealed);
	assert_int_equal(len, 0);
	assert_int_equal(cu_sobjmeta_seal(NULL, f->k.keys, "ta", 1, f->id,
	                                  f->id_len, &sealed, &len),
	                 0);
	assert_null(sealed);
	assert_int_equal(cu_sobjmeta_open(f->k.keys, "ta", 1, f->id, f->id_len,
	                                  NULL, 0, &back),
	                 0);
	assert_null(cu_sobjmeta_std(back, CC));
	user_items(back, items);
	assert_string_equal(items, "");
	cu_sobjmeta_free(back);
	cu_sobjmeta_free(m);
}

static void aws_chunked_is_dropped_from_content_encoding(void **state)
{
	cu_sobjmeta_t *m = NULL;

	(void)state;
	assert_int_equal(cu_sobjmeta_new(&m), 0);
	assert_int_equal(cu_sobjmeta_set_std(m, CE, "aws-chunked,gzip"), 0);
	assert_string_equal(cu_sobjmeta_std(m, CE), "gzip");
	assert_int_equal(
	    cu_sobjmeta_set_std(m, CE, " gzip , AWS-Chunked,, br "), 0);
	assert_string_equal(cu_sobjmeta_std(m, CE), "gzip,br");
	assert_int_equal(cu_sobjmeta_set_std(m, CE, "aws-chunkedx"), 0);
	assert_string_equal(cu_sobjmeta_std(m, CE), "aws-chunkedx");
	/* only Content-Encoding is a list of codings */
	assert_int_equal(cu_sobjmeta_set_std(m, CL, "aws-chunked"), 0);
	assert_string_equal(cu_sobjmeta_std(m, CL), "aws-chunked");
	cu_sobjmeta_free(m);
}

static void a_record_of_the_previous_version_still_opens(void **state)
{
	struct fx *f = *state;
	cu_sobjmeta_t *m = NULL;
	char items[256];

	/* form 1: user metadata only, a flat object of strings (a user item
	 * may be called "v": its value is a string, never the form number) */
	assert_int_equal(
	    open_text(f, "{\"owner\":\"alice\",\"v\":\"2\",\"x\":\"a b=c;d\"}",
	              &m),
	    0);
	user_items(m, items);
	assert_string_equal(items, "owner=alice;v=2;x=a b=c;d;");
	for (size_t i = 0; i < CU_SOBJMETA_N_STD; i++)
		assert_null(cu_sobjmeta_std(m, i));
	cu_sobjmeta_free(m);
	/* its reader skipped members that are not strings */
	assert_int_equal(open_text(f, "{\"a\":\"1\",\"n\":5}", &m), 0);
	user_items(m, items);
	assert_string_equal(items, "a=1;");
	cu_sobjmeta_free(m);
	assert_int_equal(open_text(f, "{}", &m), 0);
	cu_sobjmeta_free(m);
}

static void records_that_are_not_this_form_are_refused(void **state)
{
	struct fx *f = *state;
	cu_sobjmeta_t *m = NULL;

	assert_int_equal(open_text(f, "{\"v\":3,\"m\":{\"a\":\"1\"}}", &m),
	                 CU_ERR_UNSUPPORTED);
	assert_null(m);
	assert_int_equal(open_text(f, "{\"v\":2,\"m\":{\"a\":1}}", &m),
	                 CU_ERR_PARSE);
	assert_int_equal(open_text(f, "{\"v\":2,\"h\":[]}", &m), CU_ERR_PARSE);
	assert_int_equal(open_text(f, "{\"v\":2,\"h\":{\"Expires\":7}}", &m),
	                 CU_ERR_PARSE);
	assert_int_equal(open_text(f, "[\"a\"]", &m), CU_ERR_PARSE);
	assert_int_equal(open_text(f, "{\"a\":\"1\",\"a\":\"2\"}", &m),
	                 CU_ERR_PARSE);
	assert_int_equal(open_text(f, "not json", &m), CU_ERR_PARSE);
	assert_null(m);
	/* a header a later version keeps is skipped, the rest read */
	assert_int_equal(
	    open_text(
	        f, "{\"v\":2,\"h\":{\"Expires\":\"0\",\"X-Later\":\"y\"}}", &m),
	    0);
	assert_string_equal(cu_sobjmeta_std(m, EXP), "0");
	cu_sobjmeta_free(m);
}

static void user_metadata_is_held_to_s3s_2_kb(void **state)
{
	cu_sobjmeta_t *m = NULL;
	char v[CU_SOBJMETA_USER_MAX + 2];

	(void)state;
	assert_int_equal(cu_sobjmeta_new(&m), 0);
	memset(v, 'a', sizeof(v));
	v[CU_SOBJMETA_USER_MAX - 1] = '\0'; /* with the name "n": 2048 */
	assert_int_equal(cu_sobjmeta_add_user(m, "n", v), 0);
	assert_int_equal(cu_sobjmeta_add_user(m, "o", ""), CU_ERR_TOOLARGE);
	/* the standard headers do not count against it */
	assert_int_equal(cu_sobjmeta_set_std(m, CC, "no-cache"), 0);
	assert_int_equal(cu_sobjmeta_add_user(m, "bad", "\xff"),
	                 CU_ERR_TOOLARGE);
	cu_sobjmeta_free(m);
	assert_int_equal(cu_sobjmeta_new(&m), 0);
	assert_int_equal(cu_sobjmeta_add_user(m, "bad", "\xff"), CU_ERR_INVAL);
	assert_int_equal(cu_sobjmeta_add_user(m, "\xc3", "v"), CU_ERR_INVAL);
	cu_sobjmeta_free(m);
}

static void standard_headers_are_held_to_8_kb_together(void **state)
{
	cu_sobjmeta_t *m = NULL;
	char *v = malloc(CU_SOBJMETA_STD_MAX + 1);

	(void)state;
	assert_non_null(v);
	assert_int_equal(cu_sobjmeta_new(&m), 0);
	memset(v, 'a', CU_SOBJMETA_STD_MAX);
	v[CU_SOBJMETA_STD_MAX - 2] = '\0';
	assert_int_equal(cu_sobjmeta_set_std(m, CD, v), 0);
	assert_int_equal(cu_sobjmeta_set_std(m, CL, "de"), 0); /* 8192 */
	assert_int_equal(cu_sobjmeta_set_std(m, CC, "x"), CU_ERR_RANGE);
	assert_null(cu_sobjmeta_std(m, CC));
	/* replacing a header gives its bytes back */
	assert_int_equal(cu_sobjmeta_set_std(m, CL, "d"), 0);
	assert_int_equal(cu_sobjmeta_set_std(m, CC, "x"), 0);
	assert_int_equal(cu_sobjmeta_set_std(m, CD, ""), 0);
	assert_null(cu_sobjmeta_std(m, CD));
	assert_int_equal(cu_sobjmeta_set_std(m, EXP, v), 0); /* 8192 again */
	assert_int_equal(cu_sobjmeta_set_std(m, CE, "gzip"), CU_ERR_RANGE);
	assert_int_equal(cu_sobjmeta_set_std(m, EXP, ""), 0);
	assert_int_equal(cu_sobjmeta_set_std(m, CE, "\xc3("), CU_ERR_INVAL);
	assert_null(cu_sobjmeta_std(m, CE));
	assert_int_equal(cu_sobjmeta_set_std(m, CU_SOBJMETA_N_STD, "x"),
	                 CU_ERR_INVAL);
	assert_string_equal(cu_sobjmeta_std(m, CL), "d");
	cu_sobjmeta_free(m);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        standard_headers_and_user_metadata_round_trip, setup,
	        skfx_teardown),
	    cmocka_unit_test_setup_teardown(a_record_is_bound_to_its_object,
	                                    setup, skfx_teardown),
	    cmocka_unit_test_setup_teardown(nothing_to_keep_seals_to_nothing,
	                                    setup, skfx_teardown),
	    cmocka_unit_test(aws_chunked_is_dropped_from_content_encoding),
	    cmocka_unit_test_setup_teardown(
	        a_record_of_the_previous_version_still_opens, setup,
	        skfx_teardown),
	    cmocka_unit_test_setup_teardown(
	        records_that_are_not_this_form_are_refused, setup,
	        skfx_teardown),
	    cmocka_unit_test(user_metadata_is_held_to_s3s_2_kb),
	    cmocka_unit_test(standard_headers_are_held_to_8_kb_together),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

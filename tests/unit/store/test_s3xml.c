/* Unit tests for store/s3xml (request bodies) and store/xmlw (response
 * documents). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/s3xml.h"
#include "store/xmlw.h"

#define NS "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

/* ---- CompleteMultipartUpload ---- */

static void complete_multipart_upload_as_botocore_sends_it(void **state)
{
	/* botocore: no declaration, one line, ETag before PartNumber */
	static const char body[] =
	    "<CompleteMultipartUpload " NS "><Part><ETag>"
	    "\"a54357aff0632cce46d942af68356b38\"</ETag><PartNumber>1"
	    "</PartNumber></Part><Part><ETag>"
	    "\"0c78aef83f66abc1fa1e8477f296d394\"</ETag><PartNumber>2"
	    "</PartNumber></Part><Part><ETag>"
	    "\"acbd18db4cc2f85cedef654fccc4a4d8-3\"</ETag><PartNumber>"
	    "10000</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32>"
	    "</Part></CompleteMultipartUpload>";
	struct cu_s3xml_complete *c = NULL;

	assert_int_equal(cu_s3xml_parse_complete(body, strlen(body), 0, &c), 0);
	assert_int_equal(c->n_parts, 3);
	assert_int_equal(c->parts[0].number, 1);
	assert_string_equal(c->parts[0].etag,
	                    "\"a54357aff0632cce46d942af68356b38\"");
	assert_int_equal(c->parts[1].number, 2);
	assert_int_equal(c->parts[2].number, 10000);
	assert_string_equal(c->parts[2].etag,
	                    "\"acbd18db4cc2f85cedef654fccc4a4d8-3\"");
	cu_s3xml_complete_free(c);
	cu_s3xml_complete_free(NULL);
}

static void
complete_multipart_upload_pretty_printed_with_declaration(void **state)
{
	/* the S3 API reference's example, with entity-escaped quotes */
	static const char body[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<CompleteMultipartUpload>\n"
	    "  <Part>\n"
	    "    <PartNumber>1</PartNumber>\n"
	    "    <ETag>&quot;a54357aff0632cce46d942af68356b38&quot;</ETag>\n"
	    "  </Part>\n"
	    "  <Part>\n"
	    "    <PartNumber> 3 </PartNumber>\n"
	    "    <ETag>\"acbd18db4cc2f85cedef654fccc4a4d8\"</ETag>\n"
	    "  </Part>\n"
	    "</CompleteMultipartUpload>\n";
	struct cu_s3xml_complete *c = NULL;

	assert_int_equal(cu_s3xml_parse_complete(body, strlen(body), 0, &c), 0);
	assert_int_equal(c->n_parts, 2);
	assert_string_equal(c->parts[0].etag,
	                    "\"a54357aff0632cce46d942af68356b38\"");
	assert_int_equal(c->parts[1].number, 3);
	cu_s3xml_complete_free(c);
}

static char *many_parts(size_t n, int descending)
{
	size_t cap = 128 + n * 64, o = 0;
	char *b = malloc(cap);

	assert_non_null(b);
	o += (size_t)snprintf(b + o, cap - o,
	                      "<CompleteMultipartUpload " NS ">");
	for (size_t i = 1; i <= n; i++)
		o += (size_t)snprintf(b + o, cap - o,
		                      "<Part><PartNumber>%zu</PartNumber>"
		                      "<ETag>\"e\"</ETag></Part>",
		                      descending ? n + 1 - i : i);
	snprintf(b + o, cap - o, "</CompleteMultipartUpload>");
	return b;
}

static void complete_refusals(void **state)
{
	static const struct {
		const char *body;
		int err;
	} v[] = {
	    /* part order: S3's InvalidPartOrder */
	    {"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber>"
	     "<ETag>a</ETag></Part><Part><PartNumber>1</PartNumber><ETag>"
	     "b</ETag></Part></CompleteMultipartUpload>",
	     CU_ERR_RANGE},
	    {"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber>"
	     "<ETag>a</ETag></Part><Part><PartNumber>2</PartNumber><ETag>"
	     "b</ETag></Part></CompleteMultipartUpload>",
	     CU_ERR_RANGE},
	    /* bad numbers */
	    {"<CompleteMultipartUpload><Part><PartNumber>abc</PartNumber>"
	     "<ETag>a</ETag></Part></CompleteMultipartUpload>",
	     CU_ERR_PARSE},
	    {"<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber>"
	     "<ETag>a</ETag></Part></CompleteMultipartUpload>",
	     CU_ERR_PARSE},
	    {"<CompleteMultipartUpload><Part><PartNumber>1.5</PartNumber>"
	     "<ETag>a</ETag></Part></CompleteMultipartUpload>",
	     CU_ERR_PARSE},
	    {"<CompleteMultipartUpload><Part><PartNumber></PartNumber>"
	     "<ETag>a</ETag></Part></CompleteMultipartUpload>",
	     CU_ERR_PARSE},
	    {"<CompleteMultipartUpload><Part><PartNumber>123456789012"
	     "</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
	     CU_ERR_PARSE},
	    {"<CompleteMultipartUpload><Part><PartNumber>0</PartNumber>"
	     "<ETag>a</ETag></Part></CompleteMultipartUpload>",
	     CU_ERR_INVAL},
	    {"<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber>"
	     "<ETag>a</ETag></Part></CompleteMultipartUpload>",
	     CU_ERR_INVAL},
	    {"<CompleteMultipartUpload><Part><PartNumber>4294967296"
	     "</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
	     CU_ERR_INVAL},
	    /* structure */
	    {"<CompleteMultipartUpload></CompleteMultipartUpload>",
	     CU_ERR_PARSE},
	    {"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
	     "</Part></CompleteMultipartUpload>",
	     CU_ERR_PARSE},
	    {"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
	     "<PartNumber>1</PartNumber><ETag>a</ETag></Part>"
	     "</CompleteMultipartUpload>",
	     CU_ERR_PARSE},
	    {"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
	     "<ETag>a</ETag><Size>3</Size></Part></CompleteMultipartUpload>",
	     CU_ERR_PARSE},
	    {"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
	     "<ETag>a</ETag></Part>text</CompleteMultipartUpload>",
	     CU_ERR_PARSE},
	    {"<CompleteMultipartUpload><Part id=\"1\"><PartNumber>1"
	     "</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
	     CU_ERR_PARSE},
	    {"<CompleteMultipartUpload><Part><PartNumber>1<b/></PartNumber>"
	     "<ETag>a</ETag></Part></CompleteMultipartUpload>",
	     CU_ERR_PARSE},
	    {"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
	     "<ETag>a</ETag></Part>",
	     CU_ERR_PARSE}, /* truncated */
	    {"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
	     "<ETag>a</ETag></Part></CompleteMultipartUpload><x/>",
	     CU_ERR_PARSE},
	    {"<Delete><Object><Key>a</Key></Object></Delete>", CU_ERR_PARSE},
	    {"not xml at all", CU_ERR_PARSE},
	    {"", CU_ERR_PARSE},
	};
	struct cu_s3xml_complete *c = (void *)1;
	char *b;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int rc = cu_s3xml_parse_complete(v[i].body, strlen(v[i].body),
		                                 0, &c);

		if (rc != v[i].err)
			fprintf(stderr, "complete case %zu: %s\n", i,
			        cu_errname(rc));
		assert_int_equal(rc, v[i].err);
		assert_null(c);
	}
	assert_string_equal(cu_s3xml_s3code(CU_ERR_RANGE), "InvalidPartOrder");
	assert_string_equal(cu_s3xml_s3code(CU_ERR_PARSE), "MalformedXML");
	assert_string_equal(cu_s3xml_s3code(CU_ERR_INVAL), "InvalidArgument");
	assert_string_equal(cu_s3xml_s3code(CU_ERR_NOMEM), "InternalError");

	/* 10000 parts pass, 10001 do not; a caller's lower bound holds */
	b = many_parts(10000, 0);
	assert_int_equal(cu_s3xml_parse_complete(b, strlen(b), 0, &c), 0);
	assert_int_equal(c->n_parts, 10000);
	cu_s3xml_complete_free(c);
	assert_int_equal(cu_s3xml_parse_complete(b, strlen(b), 100, &c),
	                 CU_ERR_PARSE);
	free(b);
	b = many_parts(10001, 0);
	assert_int_equal(cu_s3xml_parse_complete(b, strlen(b), 0, &c),
	                 CU_ERR_PARSE);
	free(b);
	b = many_parts(5, 1);
	assert_int_equal(cu_s3xml_parse_complete(b, strlen(b), 0, &c),
	                 CU_ERR_RANGE);
	free(b);
}

/* ---- Delete ---- */

static void delete_objects_as_botocore_sends_it(void **state)
{
	static const char body[] =
	    "<Delete " NS "><Object><Key>photos/2024/a.jpg</Key></Object>"
	    "<Object><Key> b &amp; &lt;c&gt; \xc3\xa9 </Key><VersionId>"
	    "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY</VersionId></Object>"
	    "<Object><Key>x</Key><VersionId>null</VersionId></Object>"
	    "<Quiet>true</Quiet></Delete>";
	struct cu_s3xml_delete *d = NULL;

	assert_int_equal(cu_s3xml_parse_delete(body, strlen(body), 0, &d), 0);
	assert_int_equal(d->quiet, 1);
	assert_int_equal(d->n_objects, 3);
	assert_string_equal(d->objects[0].key, "photos/2024/a.jpg");
	assert_null(d->objects[0].version_id);
	/* white space inside a key is the key's */
	assert_string_equal(d->objects[1].key, " b & <c> \xc3\xa9 ");
	assert_int_equal(d->objects[1].key_len, 12);
	assert_string_equal(d->objects[1].version_id,
	                    "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY");
	assert_string_equal(d->objects[2].version_id, "null");
	cu_s3xml_delete_free(d);
	cu_s3xml_delete_free(NULL);
}

static void
delete_with_a_prefixed_or_foreign_namespace_is_tolerated(void **state)
{
	static const char *const ok[] = {
	    "<s3:Delete xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<s3:Object><s3:Key>k</s3:Key></s3:Object></s3:Delete>",
	    "<Delete xmlns=\"urn:other\"><Object><Key>k</Key></Object>"
	    "<Quiet>false</Quiet></Delete>",
	    "<Delete>\r\n\t<Object>\n<Key>k</Key>\n</Object>\n</Delete>",
	};
	struct cu_s3xml_delete *d = NULL;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(
		    cu_s3xml_parse_delete(ok[i], strlen(ok[i]), 0, &d), 0);
		assert_int_equal(d->n_objects, 1);
		assert_string_equal(d->objects[0].key, "k");
		assert_int_equal(d->quiet, 0);
		cu_s3xml_delete_free(d);
	}
}

static char *many_objects(size_t n)
{
	size_t cap = 64 + n * 48, o = 0;
	char *b = malloc(cap);

	assert_non_null(b);
	o += (size_t)snprintf(b + o, cap - o, "<Delete " NS ">");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(b + o, cap - o,
		                      "<Object><Key>k%zu</Key></Object>", i);
	snprintf(b + o, cap - o, "</Delete>");
	return b;
}

static void delete_refusals(void **state)
{
	static const char *const bad[] = {
	    "<Delete></Delete>",
	    "<Delete><Object></Object></Delete>",
	    "<Delete><Object><Key></Key></Object></Delete>",
	    "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
	    "<Delete><Object><Key>a</Key><VersionId></VersionId></Object>"
	    "</Delete>",
	    "<Delete><Object><Key>a</Key><ETag>x</ETag></Object></Delete>",
	    "<Delete><Object><Key>a</Key></Object><Quiet>yes</Quiet></Delete>",
	    "<Delete><Object><Key>a</Key></Object><Quiet>true</Quiet>"
	    "<Quiet>true</Quiet></Delete>",
	    "<Delete><Object><Key>a</Key></Object><Objects/></Delete>",
	    "<Delete><Object><Key>a&foo;</Key></Object></Delete>",
	    "<Delete><Object><Key>a\xff</Key></Object></Delete>",
	    "<Delete><Object><Key>a</Key></Object></Delete",
	    "<Delete><Object><Key>a</Key></Object></Delete></Delete>",
	    "<Delete><Object><Key>a</Key></Object><!-- c --></Delete>x",
	    "<?xml version=\"1.0\"?><?pi x?><Delete><Object><Key>a</Key>"
	    "<Object><Key>b</Key></Object></Object></Delete>",
	};
	struct cu_s3xml_delete *d = (void *)1;
	char *b, key[1100];
	int n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = cu_s3xml_parse_delete(bad[i], strlen(bad[i]), 0, &d);

		if (rc != CU_ERR_PARSE)
			fprintf(stderr, "delete case %zu: %s\n", i,
			        cu_errname(rc));
		assert_int_equal(rc, CU_ERR_PARSE);
		assert_null(d);
	}
	/* 1000 objects pass, 1001 do not */
	b = many_objects(1000);
	assert_int_equal(cu_s3xml_parse_delete(b, strlen(b), 0, &d), 0);
	assert_int_equal(d->n_objects, 1000);
	assert_string_equal(d->objects[999].key, "k999");
	cu_s3xml_delete_free(d);
	free(b);
	b = many_objects(1001);
	assert_int_equal(cu_s3xml_parse_delete(b, strlen(b), 0, &d),
	                 CU_ERR_PARSE);
	assert_int_equal(cu_s3xml_parse_delete(b, strlen(b), 5000, &d),
	                 CU_ERR_PARSE);
	free(b);
	/* a key of 1024 bytes passes, 1025 does not (escapes count once) */
	memset(key, 'k', sizeof(key));
	key[1020] = '\0';
	b = malloc(4096);
	n = snprintf(b, 4096,
	             "<Delete><Object><Key>%s&amp;&lt;&gt;&#x41;</Key>"
	             "</Object></Delete>",
	             key);
	assert_int_equal(cu_s3xml_parse_delete(b, (size_t)n, 0, &d), 0);
	assert_int_equal(d->objects[0].key_len, 1024);
	cu_s3xml_delete_free(d);
	n = snprintf(b, 4096,
	             "<Delete><Object><Key>%s&amp;&lt;&gt;&#x41;B"
	             "</Key></Object></Delete>",
	             key);
	assert_int_equal(cu_s3xml_parse_delete(b, (size_t)n, 0, &d),
	                 CU_ERR_PARSE);
	free(b);
	/* a body past the bound */
	b = malloc(CU_S3XML_MAX_BODY + 1);
	memset(b, ' ', CU_S3XML_MAX_BODY + 1);
	assert_int_equal(cu_s3xml_parse_delete(b, CU_S3XML_MAX_BODY + 1, 0, &d),
	                 CU_ERR_TOOLARGE);
	assert_string_equal(cu_s3xml_s3code(CU_ERR_TOOLARGE),
	                    "MaxMessageLengthExceeded");
	free(b);
}

static void doctypes_and_entities_are_refused(void **state)
{
	static const char *const bad[] = {
	    /* a plain DOCTYPE */
	    "<!DOCTYPE Delete><Delete><Object><Key>a</Key></Object>"
	    "</Delete>",
	    /* XXE */
	    "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM "
	    "\"file:///etc/passwd\">]><Delete><Object><Key>&x;</Key>"
	    "</Object></Delete>",
	    /* billion laughs */
	    "<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b "
	    "\"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c "
	    "\"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]><Delete><Object><Key>"
	    "&c;</Key></Object></Delete>",
	    /* parameter entities */
	    "<!DOCTYPE d [<!ENTITY % p SYSTEM \"http://x/\"> %p;]><Delete>"
	    "<Object><Key>a</Key></Object></Delete>",
	    /* an undeclared entity */
	    "<Delete><Object><Key>&lol;</Key></Object></Delete>",
	};
	struct cu_s3xml_delete *d = NULL;
	struct cu_s3xml_sse *s = NULL;
	struct cu_s3xml_complete *c = NULL;
	struct cu_s3xml_bucket_config *b = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    cu_s3xml_parse_delete(bad[i], strlen(bad[i]), 0, &d),
		    CU_ERR_PARSE);
		assert_int_equal(cu_s3xml_parse_sse(bad[i], strlen(bad[i]), &s),
		                 CU_ERR_PARSE);
		assert_int_equal(
		    cu_s3xml_parse_complete(bad[i], strlen(bad[i]), 0, &c),
		    CU_ERR_PARSE);
		assert_int_equal(
		    cu_s3xml_parse_create_bucket(bad[i], strlen(bad[i]), &b),
		    CU_ERR_PARSE);
	}
}

static void deep_nesting_is_refused(void **state)
{
	char b[4096];
	size_t o = 0;
	struct cu_s3xml_delete *d = NULL;

	o += (size_t)snprintf(b + o, sizeof(b) - o, "<Delete><Object>");
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(b + o, sizeof(b) - o, "<Object>");
	assert_int_equal(cu_s3xml_parse_delete(b, o, 0, &d), CU_ERR_PARSE);
}

/* ---- CreateBucketConfiguration ---- */

static void create_bucket_configuration(void **state)
{
	static const char body[] =
	    "<CreateBucketConfiguration " NS "><LocationConstraint>"
	    "eu-west-1</LocationConstraint></CreateBucketConfiguration>";
	static const char empty[] = "<CreateBucketConfiguration " NS "/>";
	static const char *const bad[] = {
	    "<CreateBucketConfiguration><LocationConstraint>a b"
	    "</LocationConstraint></CreateBucketConfiguration>",
	    "<CreateBucketConfiguration><LocationConstraint>a/../b"
	    "</LocationConstraint></CreateBucketConfiguration>",
	};
	struct cu_s3xml_bucket_config *c = NULL;

	assert_int_equal(cu_s3xml_parse_create_bucket(body, strlen(body), &c),
	                 0);
	assert_string_equal(c->location, "eu-west-1");
	cu_s3xml_bucket_config_free(c);
	assert_int_equal(cu_s3xml_parse_create_bucket(empty, strlen(empty), &c),
	                 0);
	assert_null(c->location);
	cu_s3xml_bucket_config_free(c);
	/* S3 takes a PUT Bucket without a body */
	assert_int_equal(cu_s3xml_parse_create_bucket(NULL, 0, &c), 0);
	assert_null(c->location);
	cu_s3xml_bucket_config_free(c);
	cu_s3xml_bucket_config_free(NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    cu_s3xml_parse_create_bucket(bad[i], strlen(bad[i]), &c),
		    CU_ERR_INVAL);
	{
		static const char loc[] =
		    "<CreateBucketConfiguration><Location><Name>x</Name>"
		    "</Location></CreateBucketConfiguration>";

		assert_int_equal(
		    cu_s3xml_parse_create_bucket(loc, sizeof(loc) - 1, &c),
		    CU_ERR_PARSE);
	}
}

/* ---- ServerSideEncryptionConfiguration ---- */

static void server_side_encryption_configuration(void **state)
{
	static const char kms[] =
	    "<ServerSideEncryptionConfiguration " NS "><Rule>"
	    "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms"
	    "</SSEAlgorithm><KMSMasterKeyID>https://vault.example/keys/k1"
	    "</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>"
	    "<BucketKeyEnabled>true</BucketKeyEnabled></Rule>"
	    "</ServerSideEncryptionConfiguration>";
	static const char aes[] =
	    "<ServerSideEncryptionConfiguration " NS "><Rule>"
	    "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256"
	    "</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
	    "</ServerSideEncryptionConfiguration>";
	static const struct {
		const char *body;
		int err;
	} bad[] = {
	    {"<ServerSideEncryptionConfiguration><Rule>"
	     "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES128"
	     "</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
	     "</ServerSideEncryptionConfiguration>",
	     CU_ERR_PARSE},
	    {"<ServerSideEncryptionConfiguration><Rule>"
	     "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256"
	     "</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID>"
	     "</ApplyServerSideEncryptionByDefault></Rule>"
	     "</ServerSideEncryptionConfiguration>",
	     CU_ERR_INVAL},
	    {"<ServerSideEncryptionConfiguration><Rule>"
	     "</Rule></ServerSideEncryptionConfiguration>",
	     CU_ERR_PARSE},
	    {"<ServerSideEncryptionConfiguration><Rule>"
	     "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256"
	     "</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
	     "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>"
	     "AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>"
	     "</Rule></ServerSideEncryptionConfiguration>",
	     CU_ERR_PARSE},
	    {"<ServerSideEncryptionConfiguration><Rule>"
	     "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256"
	     "</SSEAlgorithm></ApplyServerSideEncryptionByDefault>"
	     "<BucketKeyEnabled>1</BucketKeyEnabled></Rule>"
	     "</ServerSideEncryptionConfiguration>",
	     CU_ERR_PARSE},
	};
	struct cu_s3xml_sse *s = NULL;

	assert_int_equal(cu_s3xml_parse_sse(kms, strlen(kms), &s), 0);
	assert_string_equal(s->algorithm, "aws:kms");
	assert_string_equal(s->kms_key_id, "https://vault.example/keys/k1");
	assert_int_equal(s->bucket_key_enabled, 1);
	cu_s3xml_sse_free(s);
	assert_int_equal(cu_s3xml_parse_sse(aes, strlen(aes), &s), 0);
	assert_string_equal(s->algorithm, "AES256");
	assert_null(s->kms_key_id);
	assert_int_equal(s->bucket_key_enabled, -1);
	cu_s3xml_sse_free(s);
	cu_s3xml_sse_free(NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc =
		    cu_s3xml_parse_sse(bad[i].body, strlen(bad[i].body), &s);

		if (rc != bad[i].err)
			fprintf(stderr, "sse case %zu: %s\n", i,
			        cu_errname(rc));
		assert_int_equal(rc, bad[i].err);
		assert_null(s);
	}
}

/* ---- the writer ---- */

static char *write_text(const char *text, size_t len, int *err)
{
	cu_xmlw_t *w = NULL;
	char *out = NULL;
	size_t n;

	assert_int_equal(cu_xmlw_new(0, &w), 0);
	cu_xmlw_text(w, "Key", text, len);
	*err = cu_xmlw_finish(w, &out, &n);
	cu_xmlw_free(w);
	return out;
}

static void writer_escapes_markup_and_control_characters(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = {
	    {"a&b<c>d\"e'f", "<Key>a&amp;b&lt;c&gt;d&quot;e&apos;f</Key>"},
	    {"tab\there\nnl", "<Key>tab\there\nnl</Key>"},
	    {"cr\r\x01\x1f\x7f!", "<Key>cr&#xD;&#x1;&#x1F;&#x7F;!</Key>"},
	    {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
	     "<Key>\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80</Key>"},
	    {"", "<Key></Key>"},
	    {"]]>", "<Key>]]&gt;</Key>"},
	};
	static const char *const invalid[] = {
	    "\xc3",             /* truncated */
	    "\xc0\x80",         /* overlong NUL */
	    "\xe0\x80\xaf",     /* overlong '/' */
	    "\xed\xa0\x80",     /* surrogate */
	    "\xf4\x90\x80\x80", /* above U+10FFFF */
	    "\xf5\x80\x80\x80",
	    "\xef\xbf\xbf", /* U+FFFF */
	    "\x80",
	    "a\xfe",
	};
	int err;
	char *o;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		o = write_text(v[i].in, strlen(v[i].in), &err);
		assert_int_equal(err, 0);
		assert_string_equal(o, v[i].out);
		free(o);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		o = write_text(invalid[i], strlen(invalid[i]), &err);
		assert_int_equal(err, CU_ERR_INVAL);
		assert_null(o);
	}
	o = write_text("a\0b", 3, &err); /* NUL cannot be said in XML */
	assert_int_equal(err, CU_ERR_INVAL);
	assert_null(o);
}

struct wf {
	int depth, elements;
	char text[256];
	size_t text_len;
};

static void XMLCALL wf_start(void *ud, const XML_Char *n, const XML_Char **a)
{
	struct wf *f = ud;

	f->depth++;
	f->elements++;
}

static void XMLCALL wf_end(void *ud, const XML_Char *n)
{
	((struct wf *)ud)->depth--;
}

static void XMLCALL wf_chars(void *ud, const XML_Char *s, int len)
{
	struct wf *f = ud;

	if (f->text_len + (size_t)len < sizeof(f->text)) {
		memcpy(f->text + f->text_len, s, (size_t)len);
		f->text_len += (size_t)len;
	}
}

static void writer_builds_well_formed_s3_documents(void **state)
{
	cu_xmlw_t *w = NULL;
	char *out = NULL;
	size_t n;
	XML_Parser p;
	struct wf f = {0};

	assert_int_equal(cu_xmlw_new(0, &w), 0);
	cu_xmlw_decl(w);
	cu_xmlw_open(w, "ListBucketResult", CU_XMLW_S3_NS);
	cu_xmlw_str(w, "Name", "bucket");
	cu_xmlw_u64(w, "KeyCount", 1);
	cu_xmlw_bool(w, "IsTruncated", 0);
	cu_xmlw_open(w, "Contents", NULL);
	cu_xmlw_str(w, "Key", "a&b <c>");
	cu_xmlw_u64(w, "Size", UINT64_MAX);
	cu_xmlw_close(w);
	assert_int_equal(cu_xmlw_close(w), 0);
	assert_int_equal(cu_xmlw_finish(w, &out, &n), 0);
	assert_int_equal(strlen(out), n);
	assert_string_equal(
	    out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	         "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/"
	         "2006-03-01/\"><Name>bucket</Name><KeyCount>1</KeyCount>"
	         "<IsTruncated>false</IsTruncated><Contents><Key>a&amp;b "
	         "&lt;c&gt;</Key><Size>18446744073709551615</Size>"
	         "</Contents></ListBucketResult>");
	p = XML_ParserCreate(NULL);
	XML_SetUserData(p, &f);
	XML_SetElementHandler(p, wf_start, wf_end);
	XML_SetCharacterDataHandler(p, wf_chars);
	assert_int_equal(XML_Parse(p, out, (int)n, 1), XML_STATUS_OK);
	XML_ParserFree(p);
	assert_int_equal(f.elements, 7);
	assert_int_equal(f.depth, 0);
	assert_non_null(memmem(f.text, f.text_len, "a&b <c>", 7));
	free(out);
	/* the writer is reusable after finish */
	cu_xmlw_str(w, "A", "b");
	assert_int_equal(cu_xmlw_finish(w, &out, &n), 0);
	assert_string_equal(out, "<A>b</A>");
	free(out);
	cu_xmlw_free(w);
	cu_xmlw_free(NULL);
}

static void writer_errors_are_sticky_and_bounded(void **state)
{
	cu_xmlw_t *w = NULL;
	char *out = (char *)1;
	size_t n;

	/* unbalanced */
	assert_int_equal(cu_xmlw_new(0, &w), 0);
	assert_int_equal(cu_xmlw_close(w), CU_ERR_INVAL);
	assert_int_equal(cu_xmlw_str(w, "A", "b"), CU_ERR_INVAL);
	assert_int_equal(cu_xmlw_finish(w, &out, &n), CU_ERR_INVAL);
	assert_null(out);
	cu_xmlw_free(w);
	assert_int_equal(cu_xmlw_new(0, &w), 0);
	cu_xmlw_open(w, "A", NULL);
	assert_int_equal(cu_xmlw_finish(w, &out, &n), CU_ERR_INVAL);
	cu_xmlw_free(w);
	/* bad names */
	static const char *const names[] = {"",   "1a",  "a b",
	                                    "a<", "a:b", "\xc3\xa9"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(cu_xmlw_new(0, &w), 0);
		assert_int_equal(cu_xmlw_open(w, names[i], NULL), CU_ERR_INVAL);
		cu_xmlw_free(w);
	}
	assert_int_equal(cu_xmlw_new(0, &w), 0);
	assert_int_equal(cu_xmlw_str(w, NULL, "x"), CU_ERR_INVAL);
	cu_xmlw_free(w);
	/* declaration only first */
	assert_int_equal(cu_xmlw_new(0, &w), 0);
	cu_xmlw_str(w, "A", "");
	assert_int_equal(cu_xmlw_decl(w), CU_ERR_INVAL);
	cu_xmlw_free(w);
	/* depth */
	assert_int_equal(cu_xmlw_new(0, &w), 0);
	for (int i = 0; i < CU_XMLW_MAX_DEPTH; i++)
		assert_int_equal(cu_xmlw_open(w, "D", NULL), 0);
	assert_int_equal(cu_xmlw_open(w, "D", NULL), CU_ERR_RANGE);
	cu_xmlw_free(w);
	/* the size bound */
	assert_int_equal(cu_xmlw_new(16, &w), 0);
	assert_int_equal(cu_xmlw_str(w, "A", "0123456"), 0); /* 16 bytes */
	assert_int_equal(cu_xmlw_str(w, "A", ""), CU_ERR_TOOLARGE);
	assert_int_equal(cu_xmlw_finish(w, &out, &n), CU_ERR_TOOLARGE);
	cu_xmlw_free(w);
	assert_int_equal(cu_xmlw_new(16, &w), 0);
	assert_int_equal(cu_xmlw_str(w, "A", "&&&&"), CU_ERR_TOOLARGE);
	cu_xmlw_free(w);
	/* nothing written is an empty document */
	assert_int_equal(cu_xmlw_new(0, &w), 0);
	assert_int_equal(cu_xmlw_finish(w, &out, &n), 0);
	assert_string_equal(out, "");
	assert_int_equal(n, 0);
	free(out);
	cu_xmlw_free(w);
}

static void s3_error_documents(void **state)
{
	char *out = NULL;
	size_t n;
	cu_xmlw_t *w = NULL;

	assert_int_equal(
	    cu_xmlw_error_doc("NoSuchKey", "The specified key does not exist.",
	                      "/bucket/a&b", "4442587FB7D0A2F9", 0, &out, &n),
	    0);
	assert_string_equal(out,
	                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	                    "<Error><Code>NoSuchKey</Code><Message>The "
	                    "specified key does not exist.</Message><Resource>"
	                    "/bucket/a&amp;b</Resource><RequestId>"
	                    "4442587FB7D0A2F9</RequestId></Error>");
	free(out);
	assert_int_equal(cu_xmlw_error_doc("AccessDenied", "Access Denied",
	                                   NULL, NULL, 0, &out, &n),
	                 0);
	assert_string_equal(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	                         "<Error><Code>AccessDenied</Code><Message>"
	                         "Access Denied</Message></Error>");
	free(out);
	assert_int_equal(
	    cu_xmlw_error_doc("X", "\xff", NULL, NULL, 0, &out, &n),
	    CU_ERR_INVAL);
	assert_null(out);
	assert_int_equal(
	    cu_xmlw_error_doc("X", "long message", NULL, NULL, 10, &out, &n),
	    CU_ERR_TOOLARGE);
	/* a SignatureDoesNotMatch body carries what was signed */
	assert_int_equal(cu_xmlw_new(0, &w), 0);
	cu_xmlw_error_open(w, "SignatureDoesNotMatch", "no", "/b", "1");
	cu_xmlw_str(w, "StringToSign", "AWS4-HMAC-SHA256\n20130524T000000Z");
	cu_xmlw_close(w);
	assert_int_equal(cu_xmlw_finish(w, &out, &n), 0);
	assert_non_null(strstr(out, "<StringToSign>AWS4-HMAC-SHA256\n"
	                            "20130524T000000Z</StringToSign></Error>"));
	free(out);
	cu_xmlw_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(complete_multipart_upload_as_botocore_sends_it),
	    cmocka_unit_test(
	        complete_multipart_upload_pretty_printed_with_declaration),
	    cmocka_unit_test(complete_refusals),
	    cmocka_unit_test(delete_objects_as_botocore_sends_it),
	    cmocka_unit_test(
	        delete_with_a_prefixed_or_foreign_namespace_is_tolerated),
	    cmocka_unit_test(delete_refusals),
	    cmocka_unit_test(doctypes_and_entities_are_refused),
	    cmocka_unit_test(deep_nesting_is_refused),
	    cmocka_unit_test(create_bucket_configuration),
	    cmocka_unit_test(server_side_encryption_configuration),
	    cmocka_unit_test(writer_escapes_markup_and_control_characters),
	    cmocka_unit_test(writer_builds_well_formed_s3_documents),
	    cmocka_unit_test(writer_errors_are_sticky_and_bounded),
	    cmocka_unit_test(s3_error_documents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

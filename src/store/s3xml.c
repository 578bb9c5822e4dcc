/* s3xml.c - S3 request bodies through expat, against a small fixed schema
 * per document. See s3xml.h for the contracts. */
#include "store/s3xml.h"
#include "core/err.h"

#include <expat.h>
#include <stdlib.h>
#include <string.h>

/* expat reports "namespace-URI SEP local-name"; a newline never occurs in
 * a name, so the local name is what follows the last one. */
#define NS_SEP '\n'

#define LEAF     1u /* text content, no children */
#define MULTI    2u /* may repeat */
#define REQ      4u /* must occur */
#define MAX_KIDS 8
#define TEXT_CAP CU_S3XML_MAX_KMS_ID /* the longest leaf */

enum {
	E_COMPLETE = 1,
	E_PART,
	E_PARTNUMBER,
	E_ETAG,
	E_CHECKSUM,
	E_DELETE,
	E_QUIET,
	E_OBJECT,
	E_KEY,
	E_VERSIONID,
	E_CBC,
	E_LOCATION,
	E_SSE,
	E_RULE,
	E_APPLY,
	E_ALGORITHM,
	E_KMSID,
	E_BUCKETKEY,
};

struct node {
	const char *name;
	int id;
	unsigned flags;
	size_t max_text;
	const struct node *kids; /* terminated by a NULL name */
};

static const struct node part_kids[] = {
    {"PartNumber", E_PARTNUMBER, LEAF | REQ, 16, NULL},
    {"ETag", E_ETAG, LEAF | REQ, CU_S3XML_MAX_ETAG, NULL},
    {"ChecksumCRC32", E_CHECKSUM, LEAF, 128, NULL},
    {"ChecksumCRC32C", E_CHECKSUM, LEAF, 128, NULL},
    {"ChecksumCRC64NVME", E_CHECKSUM, LEAF, 128, NULL},
    {"ChecksumSHA1", E_CHECKSUM, LEAF, 128, NULL},
    {"ChecksumSHA256", E_CHECKSUM, LEAF, 128, NULL},
    {NULL, 0, 0, 0, NULL},
};
static const struct node complete_kids[] = {
    {"Part", E_PART, MULTI | REQ, 0, part_kids},
    {NULL, 0, 0, 0, NULL},
};
static const struct node complete_root = {"CompleteMultipartUpload", E_COMPLETE,
                                          0, 0, complete_kids};

static const struct node object_kids[] = {
    {"Key", E_KEY, LEAF | REQ, CU_S3XML_MAX_KEY, NULL},
    {"VersionId", E_VERSIONID, LEAF, CU_S3XML_MAX_VERSION, NULL},
    {NULL, 0, 0, 0, NULL},
};
static const struct node delete_kids[] = {
    {"Quiet", E_QUIET, LEAF, 16, NULL},
    {"Object", E_OBJECT, MULTI | REQ, 0, object_kids},
    {NULL, 0, 0, 0, NULL},
};
static const struct node delete_root = {"Delete", E_DELETE, 0, 0, delete_kids};

static const struct node cbc_kids[] = {
    {"LocationConstraint", E_LOCATION, LEAF, 64, NULL},
    {NULL, 0, 0, 0, NULL},
};
static const struct node cbc_root = {"CreateBucketConfiguration", E_CBC, 0, 0,
                                     cbc_kids};

static const struct node apply_kids[] = {
    {"SSEAlgorithm", E_ALGORITHM, LEAF | REQ, 32, NULL},
    {"KMSMasterKeyID", E_KMSID, LEAF, CU_S3XML_MAX_KMS_ID, NULL},
    {NULL, 0, 0, 0, NULL},
};
static const struct node rule_kids[] = {
    {"ApplyServerSideEncryptionByDefault", E_APPLY, REQ, 0, apply_kids},
    {"BucketKeyEnabled", E_BUCKETKEY, LEAF, 16, NULL},
    {NULL, 0, 0, 0, NULL},
};
static const struct node sse_kids[] = {
    {"Rule", E_RULE, REQ, 0, rule_kids},
    {NULL, 0, 0, 0, NULL},
};
static const struct node sse_root = {"ServerSideEncryptionConfiguration", E_SSE,
                                     0, 0, sse_kids};

struct frame {
	const struct node *n;
	unsigned seen[MAX_KIDS];
};

struct pctx {
	XML_Parser p;
	int err;
	const struct node *root;
	struct frame st[CU_S3XML_MAX_DEPTH];
	int depth;
	char text[TEXT_CAP + 1];
	size_t text_len;
	size_t max_items;
	/* the document being built */
	struct cu_s3xml_complete *complete;
	size_t parts_cap;
	struct cu_s3xml_delete *del;
	size_t objects_cap;
	struct cu_s3xml_bucket_config *cbc;
	struct cu_s3xml_sse *sse;
	int seen_root;
};

static void stop(struct pctx *c, int err)
{
	if (c->err == 0)
		c->err = err;
	XML_StopParser(c->p, XML_FALSE);
}

static const char *local_name(const char *name)
{
	const char *s = strrchr(name, NS_SEP);

	return s != NULL ? s + 1 : name;
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* The leaf's text without surrounding white space, NUL-terminated in
 * place. */
static char *trimmed(struct pctx *c, size_t *n)
{
	char *s = c->text;
	size_t len = c->text_len;

	while (len > 0 && is_space(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && is_space(s[len - 1]))
		len--;
	s[len] = '\0';
	*n = len;
	return s;
}

static char *dup_text(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static int parse_bool(const char *s, int *v)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "TRUE") == 0 ||
	    strcmp(s, "True") == 0)
		*v = 1;
	else if (strcmp(s, "false") == 0 || strcmp(s, "FALSE") == 0 ||
	         strcmp(s, "False") == 0)
		*v = 0;
	else
		return CU_ERR_PARSE;
	return 0;
}

/* Decimal digits only (leading zeros allowed, as S3's integer parse). */
static int parse_uint(const char *s, size_t n, uint32_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 10)
		return CU_ERR_PARSE;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return CU_ERR_PARSE;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x > UINT32_MAX)
		return CU_ERR_INVAL;
	*v = (uint32_t)x;
	return 0;
}

/* A new item opens: make room for it. */
static int on_open(struct pctx *c, int id)
{
	if (id == E_PART) {
		struct cu_s3xml_complete *d = c->complete;

		if (d->n_parts >= c->max_items)
			return CU_ERR_PARSE;
		if (d->n_parts == c->parts_cap) {
			size_t cap = c->parts_cap ? 2 * c->parts_cap : 16;
			struct cu_s3xml_part *q;

			q = realloc(d->parts, cap * sizeof(*q));
			if (q == NULL)
				return CU_ERR_NOMEM;
			d->parts = q;
			c->parts_cap = cap;
		}
		memset(&d->parts[d->n_parts], 0, sizeof(d->parts[0]));
		d->n_parts++;
	} else if (id == E_OBJECT) {
		struct cu_s3xml_delete *d = c->del;

		if (d->n_objects >= c->max_items)
			return CU_ERR_PARSE;
		if (d->n_objects == c->objects_cap) {
			size_t cap = c->objects_cap ? 2 * c->objects_cap : 16;
			struct cu_s3xml_delete_object *q;

			q = realloc(d->objects, cap * sizeof(*q));
			if (q == NULL)
				return CU_ERR_NOMEM;
			d->objects = q;
			c->objects_cap = cap;
		}
		memset(&d->objects[d->n_objects], 0, sizeof(d->objects[0]));
		d->n_objects++;
	}
	return 0;
}

static int on_leaf(struct pctx *c, int id)
{
	size_t n;
	char *s;
	int r;

	if (id == E_KEY) {
		/* keys are taken byte for byte: white space is significant */
		struct cu_s3xml_delete_object *o =
		    &c->del->objects[c->del->n_objects - 1];

		if (c->text_len == 0)
			return CU_ERR_PARSE;
		o->key = dup_text(c->text, c->text_len);
		o->key_len = c->text_len;
		return o->key != NULL ? 0 : CU_ERR_NOMEM;
	}
	s = trimmed(c, &n);
	switch (id) {
	case E_PARTNUMBER: {
		struct cu_s3xml_part *p =
		    &c->complete->parts[c->complete->n_parts - 1];

		if ((r = parse_uint(s, n, &p->number)) != 0)
			return r;
		if (p->number < 1 || p->number > CU_S3XML_MAX_PARTS)
			return CU_ERR_INVAL;
		return 0;
	}
	case E_ETAG: {
		struct cu_s3xml_part *p =
		    &c->complete->parts[c->complete->n_parts - 1];

		if (n == 0)
			return CU_ERR_PARSE;
		p->etag = dup_text(s, n);
		return p->etag != NULL ? 0 : CU_ERR_NOMEM;
	}
	case E_CHECKSUM:
		return 0; /* bounded, accepted, not used */
	case E_QUIET:
		return parse_bool(s, &c->del->quiet);
	case E_VERSIONID: {
		struct cu_s3xml_delete_object *o =
		    &c->del->objects[c->del->n_objects - 1];

		if (n == 0)
			return CU_ERR_PARSE;
		o->version_id = dup_text(s, n);
		return o->version_id != NULL ? 0 : CU_ERR_NOMEM;
	}
	case E_LOCATION:
		for (size_t i = 0; i < n; i++) {
			char ch = s[i];

			if (!((ch >= 'a' && ch <= 'z') ||
			      (ch >= 'A' && ch <= 'Z') ||
			      (ch >= '0' && ch <= '9') || ch == '-' ||
			      ch == '_'))
				return CU_ERR_INVAL;
		}
		if (n == 0)
			return 0;
		c->cbc->location = dup_text(s, n);
		return c->cbc->location != NULL ? 0 : CU_ERR_NOMEM;
	case E_ALGORITHM:
		if (strcmp(s, "AES256") != 0 && strcmp(s, "aws:kms") != 0 &&
		    strcmp(s, "aws:kms:dsse") != 0)
			return CU_ERR_PARSE;
		c->sse->algorithm = dup_text(s, n);
		return c->sse->algorithm != NULL ? 0 : CU_ERR_NOMEM;
	case E_KMSID:
		if (n == 0)
			return CU_ERR_PARSE;
		c->sse->kms_key_id = dup_text(s, n);
		return c->sse->kms_key_id != NULL ? 0 : CU_ERR_NOMEM;
	case E_BUCKETKEY:
		return parse_bool(s, &c->sse->bucket_key_enabled);
	default:
		return CU_ERR_INTERNAL;
	}
}

/* Whole-item checks when an element closes. */
static int on_close(struct pctx *c, int id)
{
	if (id == E_PART) {
		struct cu_s3xml_complete *d = c->complete;

		if (d->n_parts > 1 && d->parts[d->n_parts - 1].number <=
		                          d->parts[d->n_parts - 2].number)
			return CU_ERR_RANGE;
	} else if (id == E_APPLY) {
		if (c->sse->kms_key_id != NULL &&
		    strncmp(c->sse->algorithm, "aws:kms", 7) != 0)
			return CU_ERR_INVAL;
	}
	return 0;
}

static void XMLCALL start(void *ud, const XML_Char *name,
                          const XML_Char **attrs)
{
	struct pctx *c = ud;
	const char *ln = local_name(name);
	const struct node *n = NULL;
	struct frame *f;
	size_t k = 0;
	int r;

	if (c->err != 0)
		return;
	if (attrs != NULL && attrs[0] != NULL) {
		stop(c, CU_ERR_PARSE);
		return;
	}
	if (c->depth == 0) {
		if (c->seen_root || strcmp(ln, c->root->name) != 0) {
			stop(c, CU_ERR_PARSE);
			return;
		}
		c->seen_root = 1;
		n = c->root;
	} else {
		f = &c->st[c->depth - 1];
		if (f->n->flags & LEAF) {
			stop(c, CU_ERR_PARSE);
			return;
		}
		/* text between elements must be white space only */
		for (size_t i = 0; i < c->text_len; i++)
			if (!is_space(c->text[i])) {
				stop(c, CU_ERR_PARSE);
				return;
			}
		for (k = 0; f->n->kids[k].name != NULL; k++)
			if (strcmp(f->n->kids[k].name, ln) == 0)
				break;
		n = &f->n->kids[k];
		if (n->name == NULL ||
		    (f->seen[k] > 0 && !(n->flags & MULTI))) {
			stop(c, CU_ERR_PARSE);
			return;
		}
		if (f->seen[k] < UINT32_MAX)
			f->seen[k]++;
		if (c->depth == CU_S3XML_MAX_DEPTH) {
			stop(c, CU_ERR_PARSE);
			return;
		}
	}
	f = &c->st[c->depth++];
	memset(f, 0, sizeof(*f));
	f->n = n;
	c->text_len = 0;
	if ((r = on_open(c, n->id)) != 0)
		stop(c, r);
}

static void XMLCALL end(void *ud, const XML_Char *name)
{
	struct pctx *c = ud;
	struct frame *f;
	int r;

	(void)name;
	if (c->err != 0 || c->depth == 0)
		return;
	f = &c->st[c->depth - 1];
	if (f->n->flags & LEAF) {
		r = on_leaf(c, f->n->id);
	} else {
		r = 0;
		for (size_t i = 0; i < c->text_len; i++)
			if (!is_space(c->text[i]))
				r = CU_ERR_PARSE;
		for (size_t k = 0; r == 0 && f->n->kids[k].name != NULL; k++)
			if ((f->n->kids[k].flags & REQ) && f->seen[k] == 0)
				r = CU_ERR_PARSE;
		if (r == 0)
			r = on_close(c, f->n->id);
	}
	c->depth--;
	c->text_len = 0;
	if (r != 0)
		stop(c, r);
}

static void XMLCALL chars(void *ud, const XML_Char *s, int len)
{
	struct pctx *c = ud;
	size_t max;

	if (c->err != 0 || c->depth == 0 || len <= 0)
		return;
	max = c->st[c->depth - 1].n->max_text;
	if (!(c->st[c->depth - 1].n->flags & LEAF)) {
		/* only white space may sit between elements: keep a little of
		 * it so start() and end() can check it */
		for (int i = 0; i < len; i++)
			if (!is_space(s[i])) {
				stop(c, CU_ERR_PARSE);
				return;
			}
		return;
	}
	if ((size_t)len > max - c->text_len) {
		stop(c, CU_ERR_PARSE);
		return;
	}
	memcpy(c->text + c->text_len, s, (size_t)len);
	c->text_len += (size_t)len;
}

static void XMLCALL doctype(void *ud, const XML_Char *name,
                            const XML_Char *sysid, const XML_Char *pubid,
                            int has_internal_subset)
{
	stop(ud, CU_ERR_PARSE);
}

static void XMLCALL entity(void *ud, const XML_Char *name, int is_param,
                           const XML_Char *value, int value_len,
                           const XML_Char *base, const XML_Char *sysid,
                           const XML_Char *pubid, const XML_Char *notation)
{
	stop(ud, CU_ERR_PARSE);
}

static int run(struct pctx *c, const char *body, size_t len)
{
	int r = 0;

	if (len > CU_S3XML_MAX_BODY)
		return CU_ERR_TOOLARGE;
	if (len == 0 || body == NULL)
		return CU_ERR_PARSE;
	c->p = XML_ParserCreateNS("UTF-8", NS_SEP);
	if (c->p == NULL)
		return CU_ERR_NOMEM;
	XML_SetUserData(c->p, c);
	XML_SetElementHandler(c->p, start, end);
	XML_SetCharacterDataHandler(c->p, chars);
	XML_SetStartDoctypeDeclHandler(c->p, doctype);
	XML_SetEntityDeclHandler(c->p, entity);
	XML_SetParamEntityParsing(c->p, XML_PARAM_ENTITY_PARSING_NEVER);
	if (XML_Parse(c->p, body, (int)len, XML_TRUE) != XML_STATUS_OK)
		r = c->err != 0 ? c->err : CU_ERR_PARSE;
	else if (c->err != 0)
		r = c->err;
	else if (!c->seen_root || c->depth != 0)
		r = CU_ERR_PARSE;
	XML_ParserFree(c->p);
	c->p = NULL;
	return r;
}

static size_t cap_items(size_t want, size_t limit)
{
	return (want == 0 || want > limit) ? limit : want;
}

int cu_s3xml_parse_complete(const char *body, size_t len, size_t max_parts,
                            struct cu_s3xml_complete **out)
{
	struct pctx *c = NULL;
	int r;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return CU_ERR_NOMEM;
	c->root = &complete_root;
	c->max_items = cap_items(max_parts, CU_S3XML_MAX_PARTS);
	c->complete = calloc(1, sizeof(*c->complete));
	if (c->complete == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if ((r = run(c, body, len)) != 0)
		goto out;
	*out = c->complete;
	c->complete = NULL;
out:
	cu_s3xml_complete_free(c->complete);
	free(c);
	return r;
}

void cu_s3xml_complete_free(struct cu_s3xml_complete *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n_parts; i++)
		free(d->parts[i].etag);
	free(d->parts);
	free(d);
}

int cu_s3xml_parse_delete(const char *body, size_t len, size_t max_objects,
                          struct cu_s3xml_delete **out)
{
	struct pctx *c = NULL;
	int r;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return CU_ERR_NOMEM;
	c->root = &delete_root;
	c->max_items = cap_items(max_objects, CU_S3XML_MAX_OBJECTS);
	c->del = calloc(1, sizeof(*c->del));
	if (c->del == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if ((r = run(c, body, len)) != 0)
		goto out;
	*out = c->del;
	c->del = NULL;
out:
	cu_s3xml_delete_free(c->del);
	free(c);
	return r;
}

void cu_s3xml_delete_free(struct cu_s3xml_delete *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n_objects; i++) {
		free(d->objects[i].key);
		free(d->objects[i].version_id);
	}
	free(d->objects);
	free(d);
}

int cu_s3xml_parse_create_bucket(const char *body, size_t len,
                                 struct cu_s3xml_bucket_config **out)
{
	struct pctx *c = NULL;
	int r = 0;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return CU_ERR_NOMEM;
	c->root = &cbc_root;
	c->cbc = calloc(1, sizeof(*c->cbc));
	if (c->cbc == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if (len > 0 && (r = run(c, body, len)) != 0)
		goto out;
	*out = c->cbc;
	c->cbc = NULL;
out:
	cu_s3xml_bucket_config_free(c->cbc);
	free(c);
	return r;
}

void cu_s3xml_bucket_config_free(struct cu_s3xml_bucket_config *b)
{
	if (b == NULL)
		return;
	free(b->location);
	free(b);
}

int cu_s3xml_parse_sse(const char *body, size_t len, struct cu_s3xml_sse **out)
{
	struct pctx *c = NULL;
	int r;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return CU_ERR_NOMEM;
	c->root = &sse_root;
	c->sse = calloc(1, sizeof(*c->sse));
	if (c->sse == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	c->sse->bucket_key_enabled = -1;
	if ((r = run(c, body, len)) != 0)
		goto out;
	*out = c->sse;
	c->sse = NULL;
out:
	cu_s3xml_sse_free(c->sse);
	free(c);
	return r;
}

void cu_s3xml_sse_free(struct cu_s3xml_sse *s)
{
	if (s == NULL)
		return;
	free(s->algorithm);
	free(s->kms_key_id);
	free(s);
}

const char *cu_s3xml_s3code(int err)
{
	switch (err) {
	case 0:
		return "OK";
	case CU_ERR_PARSE:
		return "MalformedXML";
	case CU_ERR_TOOLARGE:
		return "MaxMessageLengthExceeded";
	case CU_ERR_RANGE:
		return "InvalidPartOrder";
	case CU_ERR_INVAL:
		return "InvalidArgument";
	default:
		return "InternalError";
	}
}

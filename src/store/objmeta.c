/* objmeta.c - an object's user metadata and standard headers, sealed as
 * one record under the tenant key (objmeta.h). */
#include "store/objmeta.h"

#include "core/crypto/aead.h"
#include "core/err.h"
#include "core/http/router.h"
#include "core/secmem.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FORM 2 /* the form written; form 1 has no "v" */

static const char label[] = "custos/meta/v1";

static const char *const std_names[CU_SOBJMETA_N_STD] = {
    "Cache-Control",    "Content-Disposition",
    "Content-Encoding", "Content-Language",
    "Expires",
};
enum { CONTENT_ENCODING = 2 };

struct cu_sobjmeta {
	json_t *user; /* name -> value, both strings */
	char *std[CU_SOBJMETA_N_STD];
	size_t user_bytes, std_bytes;
};

const char *cu_sobjmeta_std_name(size_t i)
{
	return i < CU_SOBJMETA_N_STD ? std_names[i] : NULL;
}

int cu_sobjmeta_new(cu_sobjmeta_t **out)
{
	cu_sobjmeta_t *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (m == NULL)
		return CU_ERR_NOMEM;
	if ((m->user = json_object()) == NULL) {
		free(m);
		return CU_ERR_NOMEM;
	}
	*out = m;
	return 0;
}

static void free_str(char *s)
{
	if (s == NULL)
		return;
	cu_memzero(s, strlen(s));
	free(s);
}

void cu_sobjmeta_free(cu_sobjmeta_t *m)
{
	if (m == NULL)
		return;
	json_decref(m->user);
	for (size_t i = 0; i < CU_SOBJMETA_N_STD; i++)
		free_str(m->std[i]);
	free(m);
}

int cu_sobjmeta_add_user(cu_sobjmeta_t *m, const char *name, const char *value)
{
	size_t n;
	json_t *js;

	if (m == NULL || name == NULL || value == NULL)
		return CU_ERR_INVAL;
	n = strlen(name) + strlen(value);
	if (m->user_bytes > CU_SOBJMETA_USER_MAX ||
	    n > CU_SOBJMETA_USER_MAX - m->user_bytes)
		return CU_ERR_TOOLARGE;
	if ((js = json_string(value)) == NULL)
		return CU_ERR_INVAL; /* not UTF-8 (or no memory) */
	if (json_object_set_new(m->user, name, js) != 0)
		return CU_ERR_INVAL; /* the name is not UTF-8 */
	m->user_bytes += n;
	return 0;
}

/* Content-Encoding without the coding aws-chunked: a malloc'd list of
 * the other codings, comma-separated, "" when none remain. */
static char *drop_aws_chunked(const char *v)
{
	char *out = malloc(strlen(v) + 1);
	const char *e;
	size_t at = 0, n;

	if (out == NULL)
		return NULL;
	while (cu_http_list_next(&v, &e, &n)) {
		if (n == 11 && strncasecmp(e, "aws-chunked", 11) == 0)
			continue;
		if (at > 0)
			out[at++] = ',';
		memcpy(out + at, e, n);
		at += n;
	}
	out[at] = '\0';
	return out;
}

/* 1 when s is valid UTF-8 (what JSON text may hold); jansson's string
 * check is the one the record is written with. */
static int utf8_ok(const char *s)
{
	json_t *js = json_string(s);

	json_decref(js);
	return js != NULL;
}

/* Take value (malloc'd, or NULL for none) as header i, within the
 * bound; on failure value is wiped and freed. */
static int take_std(cu_sobjmeta_t *m, size_t i, char *value)
{
	size_t old = m->std[i] != NULL ? strlen(m->std[i]) : 0;
	size_t n = value != NULL ? strlen(value) : 0;
	size_t others = m->std_bytes - old;

	if (others > CU_SOBJMETA_STD_MAX || n > CU_SOBJMETA_STD_MAX - others) {
		free_str(value);
		return CU_ERR_RANGE;
	}
	if (value != NULL && !utf8_ok(value)) {
		free_str(value);
		return CU_ERR_INVAL;
	}
	free_str(m->std[i]);
	m->std[i] = value;
	m->std_bytes = m->std_bytes - old + n;
	return 0;
}

int cu_sobjmeta_set_std(cu_sobjmeta_t *m, size_t i, const char *value)
{
	char *v;

	if (m == NULL || value == NULL || i >= CU_SOBJMETA_N_STD)
		return CU_ERR_INVAL;
	if (i == CONTENT_ENCODING)
		v = drop_aws_chunked(value);
	else
		v = strdup(value);
	if (v == NULL)
		return CU_ERR_NOMEM;
	if (v[0] == '\0') {
		free(v);
		v = NULL;
	}
	return take_std(m, i, v);
}

const char *cu_sobjmeta_std(const cu_sobjmeta_t *m, size_t i)
{
	if (m == NULL || i >= CU_SOBJMETA_N_STD)
		return NULL;
	return m->std[i];
}

int cu_sobjmeta_user_each(const cu_sobjmeta_t *m, cu_sobjmeta_user_fn fn,
                          void *arg)
{
	const char *k;
	json_t *v;

	if (m == NULL)
		return 0;
	json_object_foreach(m->user, k, v)
	{
		int rc = fn(arg, k, json_string_value(v));

		if (rc != 0)
			return rc;
	}
	return 0;
}

/* The associated data: label || id, malloc'd. */
static unsigned char *make_aad(const unsigned char *id, size_t id_len,
                               size_t *alen)
{
	unsigned char *aad;

	*alen = sizeof(label) - 1 + id_len;
	if ((aad = malloc(*alen)) == NULL)
		return NULL;
	memcpy(aad, label, sizeof(label) - 1);
	memcpy(aad + sizeof(label) - 1, id, id_len);
	return aad;
}

/* m as form 2 JSON text (malloc'd), or NULL with rc 0 when empty. */
static int encode(const cu_sobjmeta_t *m, char **text)
{
	json_t *root = NULL, *h = NULL;
	int rc = CU_ERR_NOMEM, any = 0;

	*text = NULL;
	if ((root = json_object()) == NULL || (h = json_object()) == NULL)
		goto out;
	for (size_t i = 0; i < CU_SOBJMETA_N_STD; i++) {
		if (m->std[i] == NULL)
			continue;
		if (json_object_set_new(h, std_names[i],
		                        json_string(m->std[i])) != 0)
			goto out;
		any = 1;
	}
	if (json_object_set_new(root, "v", json_integer(FORM)) != 0 ||
	    (any && json_object_set(root, "h", h) != 0) ||
	    (json_object_size(m->user) > 0 &&
	     json_object_set(root, "m", m->user) != 0))
		goto out;
	rc = 0;
	if (!any && json_object_size(m->user) == 0)
		goto out; /* nothing to keep */
	if ((*text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		rc = CU_ERR_NOMEM;
out:
	json_decref(h);
	json_decref(root);
	return rc;
}

int cu_sobjmeta_seal(const cu_sobjmeta_t *m, cu_skeys_t *k, const char *tenant,
                     uint32_t tk_version, const unsigned char *id,
                     size_t id_len, unsigned char **out, size_t *len)
{
	char *text = NULL;
	unsigned char *aad = NULL;
	size_t tlen = 0, alen = 0;
	int rc;

	*out = NULL;
	*len = 0;
	if (m == NULL)
		return 0;
	if ((rc = encode(m, &text)) != 0 || text == NULL)
		return rc;
	tlen = strlen(text);
	rc = CU_ERR_TOOLARGE;
	if (tlen > CU_SMETA_META_MAX - CU_AEAD_OVERHEAD)
		goto out;
	rc = CU_ERR_NOMEM;
	if ((aad = make_aad(id, id_len, &alen)) == NULL ||
	    (*out = malloc(tlen + CU_AEAD_OVERHEAD)) == NULL)
		goto out;
	rc = cu_skeys_seal(k, tenant, tk_version, aad, alen, text, tlen, *out,
	                   tlen + CU_AEAD_OVERHEAD, len);
out:
	if (rc != 0) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	free(aad);
	free_str(text);
	return rc;
}

/* The user metadata of obj into m. strict (form 2): every value must be
 * a string; form 1 skipped others, as its reader always did. */
static int decode_user(cu_sobjmeta_t *m, json_t *obj, int strict)
{
	const char *k;
	json_t *v;

	if (obj == NULL)
		return 0;
	if (!json_is_object(obj))
		return CU_ERR_PARSE;
	json_object_foreach(obj, k, v)
	{
		if (!json_is_string(v)) {
			if (strict)
				return CU_ERR_PARSE;
			continue;
		}
		if (json_object_set(m->user, k, v) != 0)
			return CU_ERR_NOMEM;
		m->user_bytes += strlen(k) + json_string_length(v);
	}
	return 0;
}

/* Standard headers by canonical name; names this version does not know
 * (a later one's) are skipped. */
static int decode_std(cu_sobjmeta_t *m, json_t *h)
{
	if (h == NULL)
		return 0;
	if (!json_is_object(h))
		return CU_ERR_PARSE;
	for (size_t i = 0; i < CU_SOBJMETA_N_STD; i++) {
		json_t *v = json_object_get(h, std_names[i]);

		if (v == NULL)
			continue;
		if (!json_is_string(v))
			return CU_ERR_PARSE;
		if ((m->std[i] = strdup(json_string_value(v))) == NULL)
			return CU_ERR_NOMEM;
		m->std_bytes += strlen(m->std[i]);
	}
	return 0;
}

static int decode(const char *text, size_t n, cu_sobjmeta_t *m)
{
	json_t *root, *v;
	int rc;

	root = json_loadb(text, n, JSON_REJECT_DUPLICATES, NULL);
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		return CU_ERR_PARSE;
	}
	v = json_object_get(root, "v");
	if (json_is_integer(v)) {
		if (json_integer_value(v) != FORM)
			rc = CU_ERR_UNSUPPORTED;
		else if ((rc = decode_user(m, json_object_get(root, "m"), 1)) ==
		         0)
			rc = decode_std(m, json_object_get(root, "h"));
	} else {
		rc = decode_user(m, root, 0); /* form 1 */
	}
	json_decref(root);
	return rc;
}

int cu_sobjmeta_open(cu_skeys_t *k, const char *tenant, uint32_t tk_version,
                     const unsigned char *id, size_t id_len,
                     const unsigned char *sealed, size_t len,
                     cu_sobjmeta_t **out)
{
	cu_sobjmeta_t *m = NULL;
	unsigned char *aad = NULL, *pt = NULL;
	size_t alen = 0, n = 0;
	int rc;

	*out = NULL;
	if ((rc = cu_sobjmeta_new(&m)) != 0)
		return rc;
	if (sealed == NULL || len == 0)
		goto out;
	rc = CU_ERR_PARSE;
	if (len < CU_AEAD_OVERHEAD)
		goto out;
	rc = CU_ERR_NOMEM;
	if ((aad = make_aad(id, id_len, &alen)) == NULL ||
	    (pt = malloc(len)) == NULL)
		goto out;
	rc = cu_skeys_open(k, tenant, tk_version, aad, alen, sealed, len, pt,
	                   len, &n);
	if (rc == 0)
		rc = decode((const char *)pt, n, m);
out:
	if (pt != NULL) {
		cu_memzero(pt, len);
		free(pt);
	}
	free(aad);
	if (rc != 0) {
		cu_sobjmeta_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

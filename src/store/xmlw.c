/* xmlw.c - the S3 response XML writer. See xmlw.h. */
#include "store/xmlw.h"
#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX (16u * 1024 * 1024)
#define MAX_NAME    64

struct cu_xmlw {
	char *p;
	size_t len;
	size_t cap;
	size_t max;
	int err;
	int depth;
	const char *stack[CU_XMLW_MAX_DEPTH]; /* caller's names: must live
	                                         until closed */
	size_t stack_len[CU_XMLW_MAX_DEPTH];
};

int cu_xmlw_new(size_t max_len, cu_xmlw_t **out)
{
	cu_xmlw_t *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (w == NULL)
		return CU_ERR_NOMEM;
	w->max = max_len != 0 ? max_len : DEFAULT_MAX;
	*out = w;
	return 0;
}

void cu_xmlw_free(cu_xmlw_t *w)
{
	if (w == NULL)
		return;
	free(w->p);
	free(w);
}

static void put(cu_xmlw_t *w, const char *s, size_t n)
{
	size_t cap;
	char *q;

	if (w->err != 0 || n == 0)
		return;
	if (n > w->max - w->len) {
		w->err = CU_ERR_TOOLARGE;
		return;
	}
	if (n + 1 > w->cap - w->len) {
		cap = w->cap != 0 ? w->cap : 512;
		while (cap - w->len < n + 1)
			cap *= 2;
		q = realloc(w->p, cap);
		if (q == NULL) {
			w->err = CU_ERR_NOMEM;
			return;
		}
		w->p = q;
		w->cap = cap;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

static void puts_(cu_xmlw_t *w, const char *s)
{
	put(w, s, strlen(s));
}

static int name_ok(const char *s, size_t *n)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		            c == '_';

		if (i == MAX_NAME)
			return 0;
		if (!alpha && (i == 0 || !((c >= '0' && c <= '9') || c == '.' ||
		                           c == '-')))
			return 0;
	}
	*n = i;
	return i > 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left) that is also an
 * XML character, or 0. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
	unsigned cp;
	size_t len, i;

	if (s[0] < 0x80)
		return s[0] != 0 ? 1 : 0;
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2;
		cp = s[0] & 0x1Fu;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3;
		cp = s[0] & 0x0Fu;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		cp = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3Fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE ||
	    cp == 0xFFFF)
		return 0;
	return len;
}

static void put_escaped(cu_xmlw_t *w, const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, run = 0;
	char ref[8];

	while (i < n && w->err == 0) {
		const char *e = NULL;
		size_t k;

		switch (s[i]) {
		case '&':
			e = "&amp;";
			break;
		case '<':
			e = "&lt;";
			break;
		case '>':
			e = "&gt;";
			break;
		case '"':
			e = "&quot;";
			break;
		case '\'':
			e = "&apos;";
			break;
		default:
			break;
		}
		if (e == NULL && ((s[i] < 0x20 && s[i] != '\t' &&
		                   s[i] != '\n' && s[i] != 0) ||
		                  s[i] == 0x7F)) {
			/* control characters as references (\r too, which a
			 * parser would otherwise turn into \n) */
			snprintf(ref, sizeof(ref), "&#x%X;", s[i]);
			e = ref;
		}
		if (e != NULL) {
			put(w, text + i - run, run);
			run = 0;
			puts_(w, e);
			i++;
			continue;
		}
		k = utf8_char(s + i, n - i);
		if (k == 0) {
			w->err = CU_ERR_INVAL;
			return;
		}
		run += k;
		i += k;
	}
	put(w, text + i - run, run);
}

int cu_xmlw_decl(cu_xmlw_t *w)
{
	if (w->err == 0 && w->len != 0)
		w->err = CU_ERR_INVAL;
	puts_(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	return w->err;
}

int cu_xmlw_open(cu_xmlw_t *w, const char *name, const char *xmlns)
{
	size_t n;

	if (w->err != 0)
		return w->err;
	if (!name_ok(name, &n)) {
		w->err = CU_ERR_INVAL;
		return w->err;
	}
	if (w->depth == CU_XMLW_MAX_DEPTH) {
		w->err = CU_ERR_RANGE;
		return w->err;
	}
	put(w, "<", 1);
	put(w, name, n);
	if (xmlns != NULL) {
		puts_(w, " xmlns=\"");
		put_escaped(w, xmlns, strlen(xmlns));
		put(w, "\"", 1);
	}
	put(w, ">", 1);
	w->stack[w->depth] = name;
	w->stack_len[w->depth] = n;
	w->depth++;
	return w->err;
}

int cu_xmlw_close(cu_xmlw_t *w)
{
	if (w->err != 0)
		return w->err;
	if (w->depth == 0) {
		w->err = CU_ERR_INVAL;
		return w->err;
	}
	w->depth--;
	put(w, "</", 2);
	put(w, w->stack[w->depth], w->stack_len[w->depth]);
	put(w, ">", 1);
	return w->err;
}

int cu_xmlw_text(cu_xmlw_t *w, const char *name, const char *text, size_t len)
{
	size_t n;

	if (w->err != 0)
		return w->err;
	if (!name_ok(name, &n) || (text == NULL && len != 0)) {
		w->err = CU_ERR_INVAL;
		return w->err;
	}
	put(w, "<", 1);
	put(w, name, n);
	put(w, ">", 1);
	if (len != 0)
		put_escaped(w, text, len);
	put(w, "</", 2);
	put(w, name, n);
	put(w, ">", 1);
	return w->err;
}

int cu_xmlw_str(cu_xmlw_t *w, const char *name, const char *s)
{
	return cu_xmlw_text(w, name, s, s != NULL ? strlen(s) : 0);
}

int cu_xmlw_u64(cu_xmlw_t *w, const char *name, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%llu", (unsigned long long)v);

	return cu_xmlw_text(w, name, b, (size_t)n);
}

int cu_xmlw_bool(cu_xmlw_t *w, const char *name, int v)
{
	return cu_xmlw_str(w, name, v ? "true" : "false");
}

int cu_xmlw_error_open(cu_xmlw_t *w, const char *code, const char *message,
                       const char *resource, const char *request_id)
{
	cu_xmlw_decl(w);
	cu_xmlw_open(w, "Error", NULL);
	cu_xmlw_str(w, "Code", code);
	cu_xmlw_str(w, "Message", message);
	if (resource != NULL)
		cu_xmlw_str(w, "Resource", resource);
	if (request_id != NULL)
		cu_xmlw_str(w, "RequestId", request_id);
	return w->err;
}

int cu_xmlw_finish(cu_xmlw_t *w, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (w->err == 0 && w->depth != 0)
		w->err = CU_ERR_INVAL;
	if (w->err != 0)
		return w->err;
	if (w->p == NULL) {
		w->p = calloc(1, 1);
		if (w->p == NULL) {
			w->err = CU_ERR_NOMEM;
			return w->err;
		}
	}
	*out = w->p;
	*len = w->len;
	w->p = NULL;
	w->len = w->cap = 0;
	return 0;
}

int cu_xmlw_error_doc(const char *code, const char *message,
                      const char *resource, const char *request_id,
                      size_t max_len, char **out, size_t *len)
{
	cu_xmlw_t *w = NULL;
	int r;

	*out = NULL;
	*len = 0;
	if ((r = cu_xmlw_new(max_len, &w)) != 0)
		return r;
	cu_xmlw_error_open(w, code, message, resource, request_id);
	cu_xmlw_close(w);
	r = cu_xmlw_finish(w, out, len);
	cu_xmlw_free(w);
	return r;
}

#include "core/http/router.h"
#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum seg_type { SEG_LIT = 1, SEG_PARAM, SEG_REST };

struct seg {
	enum seg_type type;
	const char *text; /* literal text or parameter name, in `pattern` */
	size_t len;
};

struct route {
	unsigned methods;
	unsigned flags;
	void *data;
	char *pattern; /* owned copy; segs point into it (names NUL-ended) */
	int trailing;  /* pattern ends with '/' (and is not "/") */
	size_t nseg;
	struct seg segs[CU_HTTP_MAX_SEGMENTS];
};

struct cu_http_router {
	struct route **routes;
	size_t n, cap;
};

static const struct {
	const char *name;
	unsigned bit;
} methods[] = {
    {"GET", CU_HTTP_GET},         {"HEAD", CU_HTTP_HEAD},
    {"POST", CU_HTTP_POST},       {"PUT", CU_HTTP_PUT},
    {"DELETE", CU_HTTP_DELETE},   {"PATCH", CU_HTTP_PATCH},
    {"OPTIONS", CU_HTTP_OPTIONS},
};

#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

unsigned cu_http_method_bit(const char *name, size_t len)
{
	if (name == NULL)
		return 0;
	for (size_t i = 0; i < NMETHODS; i++) {
		if (strlen(methods[i].name) == len &&
		    memcmp(methods[i].name, name, len) == 0)
			return methods[i].bit;
	}
	return 0;
}

size_t cu_http_methods_format(unsigned bits, char *out, size_t cap)
{
	size_t used = 0;

	if (out == NULL || cap == 0)
		return 0;
	out[0] = '\0';
	for (size_t i = 0; i < NMETHODS; i++) {
		if ((bits & methods[i].bit) == 0)
			continue;
		/* ", " before every name but the first */
		size_t sep = used > 0 ? 2 : 0, n = strlen(methods[i].name);
		if (used + sep + n + 1 > cap)
			break;
		memcpy(out + used, ", ", sep);
		memcpy(out + used + sep, methods[i].name, n);
		used += sep + n;
		out[used] = '\0';
	}
	return used;
}

int cu_http_router_new(cu_http_router_t **out)
{
	cu_http_router_t *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (r == NULL)
		return CU_ERR_NOMEM;
	*out = r;
	return 0;
}

void cu_http_router_free(cu_http_router_t *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->routes[i]->pattern);
		free(r->routes[i]);
	}
	free(r->routes);
	free(r);
}

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/* Split rt->pattern (owned, writable) into segments. Parameter names are
 * NUL-terminated in place (the closing brace becomes the NUL), which is
 * why the pattern is parsed from a private copy. */
static int parse_pattern(struct route *rt)
{
	char *p = rt->pattern;
	size_t len = strlen(p);
	size_t nparams = 0;

	if (len == 0 || p[0] != '/')
		return CU_ERR_INVAL;
	if (len > 1 && p[len - 1] == '/') {
		rt->trailing = 1;
		p[--len] = '\0';
	}
	size_t pos = 1;
	while (pos < len) {
		char *s = p + pos;
		char *slash = memchr(s, '/', len - pos);
		size_t slen = slash != NULL ? (size_t)(slash - s) : len - pos;
		struct seg *sg;

		if (slen == 0 || rt->nseg == CU_HTTP_MAX_SEGMENTS)
			return CU_ERR_INVAL;
		if (rt->nseg > 0 && rt->segs[rt->nseg - 1].type == SEG_REST)
			return CU_ERR_INVAL; /* {x*} must be last */
		sg = &rt->segs[rt->nseg++];
		if (s[0] == '{') {
			if (slen < 3 || s[slen - 1] != '}')
				return CU_ERR_INVAL;
			size_t nlen = slen - 2;
			sg->type = SEG_PARAM;
			if (s[slen - 2] == '*') {
				sg->type = SEG_REST;
				nlen--;
			}
			if (nlen == 0)
				return CU_ERR_INVAL;
			for (size_t i = 0; i < nlen; i++) {
				if (!is_name_char(s[1 + i]))
					return CU_ERR_INVAL;
			}
			s[1 + nlen] = '\0';
			sg->text = s + 1;
			sg->len = nlen;
			for (size_t j = 0; j + 1 < rt->nseg; j++) {
				if (rt->segs[j].type != SEG_LIT &&
				    strcmp(rt->segs[j].text, sg->text) == 0)
					return CU_ERR_INVAL;
			}
			if (++nparams > CU_HTTP_MAX_PARAMS)
				return CU_ERR_INVAL;
		} else {
			if (memchr(s, '{', slen) != NULL ||
			    memchr(s, '}', slen) != NULL)
				return CU_ERR_INVAL;
			sg->type = SEG_LIT;
			sg->text = s;
			sg->len = slen;
		}
		pos += slen + 1;
	}
	if (rt->trailing && rt->nseg > 0 &&
	    rt->segs[rt->nseg - 1].type == SEG_REST)
		return CU_ERR_INVAL; /* "/{k*}/" is meaningless */
	return 0;
}

int cu_http_router_add(cu_http_router_t *r, unsigned meth, const char *pattern,
                       unsigned flags, void *data)
{
	struct route *rt = NULL;
	int rc;

	if (r == NULL || pattern == NULL || (meth & CU_HTTP_ANY) == 0 ||
	    (meth & ~(unsigned)CU_HTTP_ANY) != 0)
		return CU_ERR_INVAL;
	rt = calloc(1, sizeof(*rt));
	if (rt == NULL) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	rt->methods = meth;
	rt->flags = flags;
	rt->data = data;
	rt->pattern = strdup(pattern);
	if (rt->pattern == NULL) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	if ((rc = parse_pattern(rt)) != 0)
		goto out;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct route **nr = realloc(r->routes, cap * sizeof(*nr));
		if (nr == NULL) {
			rc = CU_ERR_NOMEM;
			goto out;
		}
		r->routes = nr;
		r->cap = cap;
	}
	r->routes[r->n++] = rt;
	rt = NULL;
	rc = 0;
out:
	if (rt != NULL) {
		free(rt->pattern);
		free(rt);
	}
	return rc;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int cu_http_list_next(const char **p, const char **elem, size_t *len)
{
	const char *s = *p, *end;

	while (*s == ' ' || *s == '\t' || *s == ',')
		s++;
	*p = s;
	if (*s == '\0')
		return 0;
	*elem = s; /* neither white space nor ',': not empty */
	while (*s != '\0' && *s != ',')
		s++;
	end = s;
	while (end > *elem && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*len = (size_t)(end - *elem);
	*p = s;
	return 1;
}

int cu_http_url_decode(const char *in, size_t len, char *out, size_t *out_len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '%') {
			if (len - i < 3)
				return CU_ERR_PARSE;
			int hi = hexval((unsigned char)in[i + 1]);
			int lo = hexval((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				return CU_ERR_PARSE;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0')
			return CU_ERR_PARSE;
		if (out != NULL)
			out[o] = (char)c;
		o++;
	}
	if (out != NULL)
		out[o] = '\0';
	if (out_len != NULL)
		*out_len = o;
	return 0;
}

void cu_http_match_clear(struct cu_http_match *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nparams && i < CU_HTTP_MAX_PARAMS; i++) {
		free(m->params[i].value);
		m->params[i].value = NULL;
	}
	m->nparams = 0;
}

const char *cu_http_match_param(const struct cu_http_match *m, const char *name,
                                size_t *len)
{
	if (len != NULL)
		*len = 0;
	if (m == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < m->nparams; i++) {
		if (strcmp(m->params[i].name, name) == 0) {
			if (len != NULL)
				*len = m->params[i].len;
			return m->params[i].value;
		}
	}
	return NULL;
}

/* Returns 0 and adds the parameter, 1 when the value does not decode (no
 * match), or CU_ERR_NOMEM. */
static int add_param(struct cu_http_match *m, const struct seg *sg,
                     const char *v, size_t len)
{
	char *buf;
	size_t dlen;

	if (len == SIZE_MAX)
		return 1;
	buf = malloc(len + 1);
	if (buf == NULL)
		return CU_ERR_NOMEM;
	if (cu_http_url_decode(v, len, buf, &dlen) != 0) {
		free(buf);
		return 1;
	}
	m->params[m->nparams].name = sg->text;
	m->params[m->nparams].value = buf;
	m->params[m->nparams].len = dlen;
	m->nparams++;
	return 0;
}

/* Returns 0 on a match (params in m), 1 on no match, or CU_ERR_NOMEM. */
static int match_route(const struct route *rt, const char *path, size_t len,
                       struct cu_http_match *m)
{
	int empty_ok = (rt->flags & CU_HTTP_ROUTE_EMPTY_PARAMS) != 0;
	int path_trailing = len > 1 && path[len - 1] == '/';
	const char *end = path + len;
	const char *body_end = end - path_trailing;
	const char *p = path + 1;
	int exhausted = p >= body_end;
	int rc;

	m->nparams = 0;
	for (size_t i = 0; i < rt->nseg; i++) {
		const struct seg *sg = &rt->segs[i];
		if (sg->type == SEG_REST) {
			const char *rest;
			if (i == 0)
				rest = path + 1;
			else if (!exhausted)
				rest = p;
			else if (path_trailing && p == body_end)
				rest = end;
			else
				return 1;
			if (rest == end && !empty_ok)
				return 1;
			return add_param(m, sg, rest, (size_t)(end - rest));
		}
		if (exhausted)
			return 1;
		const char *q = memchr(p, '/', (size_t)(body_end - p));
		if (q == NULL)
			q = body_end;
		size_t slen = (size_t)(q - p);
		if (sg->type == SEG_LIT) {
			if (slen != sg->len || memcmp(p, sg->text, slen) != 0)
				return 1;
		} else {
			if (slen == 0 && !empty_ok)
				return 1;
			if ((rc = add_param(m, sg, p, slen)) != 0)
				return rc;
		}
		if (q == body_end) {
			exhausted = 1;
			p = q;
		} else {
			p = q + 1;
		}
	}
	if (!exhausted)
		return 1;
	if (path_trailing != rt->trailing &&
	    (rt->flags & CU_HTTP_ROUTE_TRAILING_SLASH) == 0)
		return 1;
	return 0;
}

int cu_http_router_match(const cu_http_router_t *r, unsigned method,
                         const char *path, size_t len, struct cu_http_match *m)
{
	memset(m, 0, sizeof(*m));
	if (r == NULL || path == NULL || len == 0 || path[0] != '/')
		return CU_ERR_NOTFOUND;
	for (size_t i = 0; i < r->n; i++) {
		const struct route *rt = r->routes[i];
		unsigned allowed = rt->methods;
		int rc;

		if (allowed & CU_HTTP_GET)
			allowed |= CU_HTTP_HEAD;
		rc = match_route(rt, path, len, m);
		if (rc < 0) {
			cu_http_match_clear(m);
			return rc;
		}
		if (rc == 0 && (allowed & method) != 0 && method != 0) {
			m->data = rt->data;
			m->flags = rt->flags;
			m->allowed = 0;
			return 0;
		}
		if (rc == 0)
			m->allowed |= allowed;
		cu_http_match_clear(m);
	}
	return CU_ERR_NOTFOUND;
}

int cu_http_query_find(const char *q, size_t qlen, const char *name, char **out)
{
	size_t pos = 0;
	size_t nlen = name != NULL ? strlen(name) : 0;
	char *buf = NULL;
	int rc = CU_ERR_NOTFOUND;

	*out = NULL;
	if (q == NULL || name == NULL)
		goto out;
	while (pos < qlen) {
		const char *a = q + pos;
		const char *amp = memchr(a, '&', qlen - pos);
		size_t alen = amp != NULL ? (size_t)(amp - a) : qlen - pos;
		const char *eq = memchr(a, '=', alen);
		size_t klen = eq != NULL ? (size_t)(eq - a) : alen;
		size_t dlen;

		pos += alen + 1;
		/* a decoded name is never longer than its encoding, so an
		 * encoding shorter than the name cannot match */
		if (alen == 0 || klen < nlen)
			continue;
		/* without a '%' the decoded name is the name as sent: no copy
		 * (a request asks for a dozen names that are not there, and
		 * a presigned query has a dozen parameters) */
		if (memchr(a, '%', klen) == NULL) {
			if (klen != nlen || memcmp(a, name, nlen) != 0)
				continue;
		} else {
			buf = malloc(klen + 1);
			if (buf == NULL) {
				rc = CU_ERR_NOMEM;
				goto out;
			}
			if (cu_http_url_decode(a, klen, buf, &dlen) != 0 ||
			    dlen != nlen || memcmp(buf, name, nlen) != 0) {
				free(buf);
				buf = NULL;
				continue;
			}
			free(buf);
			buf = NULL;
		}
		const char *v = eq != NULL ? eq + 1 : a + alen;
		size_t vlen = eq != NULL ? alen - klen - 1 : 0;
		buf = malloc(vlen + 1);
		if (buf == NULL) {
			rc = CU_ERR_NOMEM;
			goto out;
		}
		if (cu_http_url_decode(v, vlen, buf, NULL) != 0) {
			rc = CU_ERR_PARSE;
			goto out;
		}
		*out = buf;
		buf = NULL;
		rc = 0;
		goto out;
	}
out:
	free(buf);
	return rc;
}

/* The parameters in order; after them, their decoded strings. */
struct qparam {
	const char *name;
	const char *value; /* NULL: the value does not decode */
};

struct cu_http_query {
	size_t n;
	struct qparam *p;
};

int cu_http_query_parse(const char *q, size_t len, cu_http_query_t **out)
{
	size_t n = 1, pos = 0;
	cu_http_query_t *x;
	char *strs;

	*out = NULL;
	if (q == NULL && len > 0)
		return CU_ERR_INVAL;
	for (size_t i = 0; i < len; i++)
		n += q[i] == '&';
	/* every decoded string is no longer than its encoding, plus a NUL
	 * for each name and each value */
	x = malloc(sizeof(*x) + n * sizeof(struct qparam) + len + 2 * n);
	if (x == NULL)
		return CU_ERR_NOMEM;
	x->p = (struct qparam *)(x + 1);
	x->n = 0;
	strs = (char *)(x->p + n);
	while (pos < len) {
		const char *a = q + pos;
		const char *amp = memchr(a, '&', len - pos);
		size_t alen = amp != NULL ? (size_t)(amp - a) : len - pos;
		const char *eq = memchr(a, '=', alen);
		size_t klen = eq != NULL ? (size_t)(eq - a) : alen, dlen = 0;
		struct qparam *p = &x->p[x->n];

		pos += alen + 1;
		if (alen == 0 || cu_http_url_decode(a, klen, strs, &dlen) != 0)
			continue;
		p->name = strs;
		strs += dlen + 1;
		p->value = strs;
		if (cu_http_url_decode(eq != NULL ? eq + 1 : a + alen,
		                       eq != NULL ? alen - klen - 1 : 0, strs,
		                       &dlen) != 0)
			p->value = NULL;
		else
			strs += dlen + 1;
		x->n++;
	}
	*out = x;
	return 0;
}

const char *cu_http_query_get(const cu_http_query_t *x, const char *name)
{
	if (x == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < x->n; i++)
		if (strcmp(x->p[i].name, name) == 0)
			return x->p[i].value;
	return NULL;
}

void cu_http_query_free(cu_http_query_t *x)
{
	free(x);
}

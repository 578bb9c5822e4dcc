/* sigv4.c - AWS SigV4 / SigV2 request verification and aws-chunked
 * decoding for the S3 API. See sigv4.h for the contracts.
 *
 * The canonical forms follow the AWS documentation for S3
 * ("Signature Calculations for the Authorization Header", "Authenticating
 * Requests: Using Query Parameters", "Transferring Payload in Multiple
 * Chunks") and the generic SigV4 test suite (normalize / double-encode).
 * Everything is parsed strictly: a request that is not in the exact form
 * AWS clients produce is refused, never "repaired". */
#include "store/sigv4.h"
#include "core/crypto/evp.h"
#include "core/crypto/hash.h"
#include "core/err.h"
#include "core/secmem.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define ALGO       "AWS4-HMAC-SHA256"
#define ALGO_LEN   (sizeof(ALGO) - 1)
#define TERMINATOR "aws4_request"
#define EMPTY_SHA                                                              \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA1_LEN    20
#define MAX_DECODED ((int64_t)5 * 1024 * 1024 * 1024 * 1024) /* 5 TiB */

struct slice {
	const char *p;
	size_t n;
};

/* A growable, bounded, NUL-terminated string; the first error sticks. */
struct buf {
	char *p;
	size_t len;
	size_t cap;
	size_t max;
	int err;
};

static void buf_put(struct buf *b, const void *s, size_t n)
{
	size_t cap;
	char *q;

	if (b->err != 0 || n == 0)
		return;
	if (n > b->max - b->len) {
		b->err = CU_ERR_TOOLARGE;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		cap = b->cap != 0 ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		q = realloc(b->p, cap);
		if (q == NULL) {
			b->err = CU_ERR_NOMEM;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static void buf_putc(struct buf *b, char c)
{
	buf_put(b, &c, 1);
}

static void buf_sl(struct buf *b, struct slice s)
{
	buf_put(b, s.p, s.n);
}

static const char hexdig[] = "0123456789ABCDEF";
static const char hexlow[] = "0123456789abcdef";

static void hex_lower(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexlow[in[i] >> 4];
		out[2 * i + 1] = hexlow[in[i] & 15];
	}
	out[2 * n] = '\0';
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

static int is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '~';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_lower_hex(struct slice s, size_t n)
{
	if (s.n != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_digit((unsigned char)s.p[i]) &&
		    !(s.p[i] >= 'a' && s.p[i] <= 'f'))
			return 0;
	return 1;
}

/* AWS UriEncode of one byte: unreserved characters stay, the rest become
 * %XX with upper-case hex. */
static void put_enc(struct buf *b, unsigned char c)
{
	char e[3];

	if (is_unreserved(c)) {
		buf_putc(b, (char)c);
		return;
	}
	e[0] = '%';
	e[1] = hexdig[c >> 4];
	e[2] = hexdig[c & 15];
	buf_put(b, e, 3);
}

static int sl_eq(struct slice a, const char *s)
{
	size_t n = strlen(s);

	return a.n == n && memcmp(a.p, s, n) == 0;
}

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int ieq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return 0;
	for (size_t i = 0; i < an; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static struct slice sl_trim(struct slice s)
{
	while (s.n > 0 && is_ws((unsigned char)s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && is_ws((unsigned char)s.p[s.n - 1]))
		s.n--;
	return s;
}

static int sl_cmp(struct slice a, struct slice b)
{
	size_t n = a.n < b.n ? a.n : b.n;
	int c = n ? memcmp(a.p, b.p, n) : 0;

	if (c != 0)
		return c;
	return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
}

/* Copy a validated slice into a fixed NUL-terminated field. */
static void sl_copy(char *dst, size_t cap, struct slice s)
{
	size_t n = s.n < cap - 1 ? s.n : cap - 1;

	if (n)
		memcpy(dst, s.p, n);
	dst[n] = '\0';
}

/* ---- time ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int num(const char *p, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!is_digit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

static int civil_ok(int y, int mo, int d, int h, int mi, int s)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
	                            31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1)
		return 0;
	if (d > mdays[mo - 1] + (mo == 2 && leap))
		return 0;
	return h <= 23 && mi <= 59 && s <= 59;
}

static int64_t to_epoch(int y, int mo, int d, int h, int mi, int s)
{
	return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

/* ISO 8601 basic, exactly YYYYMMDDTHHMMSSZ. */
static int parse_amz_date(struct slice s, int64_t *t)
{
	int y, mo, d, h, mi, se;

	if (s.n != CU_SIGV4_AMZDATE_LEN || s.p[8] != 'T' || s.p[15] != 'Z')
		return -1;
	if (num(s.p, 4, &y) || num(s.p + 4, 2, &mo) || num(s.p + 6, 2, &d) ||
	    num(s.p + 9, 2, &h) || num(s.p + 11, 2, &mi) ||
	    num(s.p + 13, 2, &se))
		return -1;
	if (!civil_ok(y, mo, d, h, mi, se))
		return -1;
	*t = to_epoch(y, mo, d, h, mi, se);
	return 0;
}

/* RFC 7231 IMF-fixdate ("Fri, 24 May 2013 00:00:00 GMT"; "+0000" is
 * taken too, as S3 does); writes the same instant as an amz date. */
static int parse_http_date(struct slice s, int64_t *t, char *amz)
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr",
	                                  "May", "Jun", "Jul", "Aug",
	                                  "Sep", "Oct", "Nov", "Dec"};
	int y, mo = 0, d, h, mi, se;
	const char *p = s.p;

	if (s.n != 29 && s.n != 31)
		return -1;
	if (p[3] != ',' || p[4] != ' ' || p[7] != ' ' || p[11] != ' ' ||
	    p[16] != ' ' || p[19] != ':' || p[22] != ':' || p[25] != ' ')
		return -1;
	if (!(s.n == 29 && memcmp(p + 26, "GMT", 3) == 0) &&
	    !(s.n == 31 && memcmp(p + 26, "+0000", 5) == 0))
		return -1;
	for (int i = 0; i < 12; i++)
		if (memcmp(p + 8, mon[i], 3) == 0)
			mo = i + 1;
	if (mo == 0 || num(p + 5, 2, &d) || num(p + 12, 4, &y) ||
	    num(p + 17, 2, &h) || num(p + 20, 2, &mi) || num(p + 23, 2, &se))
		return -1;
	if (!civil_ok(y, mo, d, h, mi, se))
		return -1;
	*t = to_epoch(y, mo, d, h, mi, se);
	memcpy(amz, p + 12, 4);
	amz[4] = (char)('0' + mo / 10);
	amz[5] = (char)('0' + mo % 10);
	memcpy(amz + 6, p + 5, 2);
	amz[8] = 'T';
	memcpy(amz + 9, p + 17, 2);
	memcpy(amz + 11, p + 20, 2);
	memcpy(amz + 13, p + 23, 2);
	amz[15] = 'Z';
	amz[16] = '\0';
	return 0;
}

/* Decimal without sign or leading garbage, at most max_digits digits. */
static int parse_dec(struct slice s, size_t max_digits, int64_t *out)
{
	int64_t v = 0;

	if (s.n == 0 || s.n > max_digits)
		return -1;
	for (size_t i = 0; i < s.n; i++) {
		if (!is_digit((unsigned char)s.p[i]))
			return -1;
		v = v * 10 + (s.p[i] - '0');
	}
	*out = v;
	return 0;
}

/* ---- request pieces ---- */

struct param {
	struct slice key;  /* decoded */
	struct slice val;  /* decoded */
	struct slice ekey; /* AWS-encoded */
	struct slice eval;
	int has_eq;
	size_t index;
};

struct cred {
	struct slice akid, date, region, service;
};

struct v4auth {
	struct cred cred;
	struct slice signed_raw;
	struct slice names[CU_SIGV4_MAX_SIGNED];
	size_t n_names;
	struct slice sig;
};

struct ctx {
	const struct cu_sigv4_request *rq;
	const struct cu_sigv4_options *op;
	struct cu_sigv4_result *res;
	struct param *params;
	size_t n_params;
	char *scratch;
};

/* Strict percent-decoding: every '%' needs two hex digits; '+' is a plain
 * '+' (AWS clients encode a space as %20). */
static int pct_decode(const char *s, size_t n, char *out, size_t *out_n)
{
	size_t o = 0;
	int hi, lo;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (n - i < 3)
			return -1;
		hi = hexval((unsigned char)s[i + 1]);
		lo = hexval((unsigned char)s[i + 2]);
		if (hi < 0 || lo < 0)
			return -1;
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	*out_n = o;
	return 0;
}

static size_t pct_encode(const char *s, size_t n, char *out)
{
	size_t o = 0;
	unsigned char c;

	for (size_t i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (is_unreserved(c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hexdig[c >> 4];
			out[o++] = hexdig[c & 15];
		}
	}
	return o;
}

/* Split the raw query into decoded and re-encoded parameters. */
static int parse_query(struct ctx *c)
{
	const char *q = c->rq->query;
	size_t n = c->rq->query_len, segs = 1, i = 0, np = 0, so = 0;
	char *sc;

	if (n == 0 || q == NULL)
		return 0;
	if (n > CU_SIGV4_MAX_QUERY)
		return CU_ERR_PARSE;
	for (size_t k = 0; k < n; k++)
		if (q[k] == '&')
			segs++;
	if (segs > CU_SIGV4_MAX_PARAMS)
		return CU_ERR_PARSE;
	c->params = calloc(segs, sizeof(*c->params));
	/* decoded bytes <= raw bytes; encoded <= 3 x decoded */
	c->scratch = malloc(4 * n + 1);
	if (c->params == NULL || c->scratch == NULL)
		return CU_ERR_NOMEM;
	sc = c->scratch;
	while (i <= n) {
		size_t j = i, eq;
		struct param *p;
		size_t kn, vn;

		while (j < n && q[j] != '&')
			j++;
		if (j == i) { /* empty segment ("a&&b", trailing '&') */
			i = j + 1;
			continue;
		}
		p = &c->params[np];
		eq = i;
		while (eq < j && q[eq] != '=')
			eq++;
		p->has_eq = eq < j;
		p->index = np;
		if (pct_decode(q + i, eq - i, sc + so, &kn) != 0)
			return CU_ERR_PARSE;
		p->key.p = sc + so;
		p->key.n = kn;
		so += kn;
		vn = 0;
		if (p->has_eq &&
		    pct_decode(q + eq + 1, j - eq - 1, sc + so, &vn) != 0)
			return CU_ERR_PARSE;
		p->val.p = sc + so;
		p->val.n = vn;
		so += vn;
		p->ekey.p = sc + so;
		p->ekey.n = pct_encode(p->key.p, p->key.n, sc + so);
		so += p->ekey.n;
		p->eval.p = sc + so;
		p->eval.n = pct_encode(p->val.p, p->val.n, sc + so);
		so += p->eval.n;
		np++;
		i = j + 1;
	}
	c->n_params = np;
	return 0;
}

/* The one parameter named `name` (decoded, case-sensitive), counting
 * duplicates. */
static size_t find_param(const struct ctx *c, const char *name,
                         struct slice *val)
{
	size_t count = 0;

	for (size_t i = 0; i < c->n_params; i++) {
		if (sl_eq(c->params[i].key, name)) {
			if (count++ == 0 && val != NULL)
				*val = c->params[i].val;
		}
	}
	return count;
}

static size_t find_header(const struct cu_sigv4_request *rq, const char *name,
                          struct slice *val)
{
	size_t count = 0, nl = strlen(name);

	for (size_t i = 0; i < rq->n_headers; i++) {
		const struct cu_sigv4_header *h = &rq->headers[i];

		if (ieq(h->name, h->name_len, name, nl)) {
			if (count++ == 0 && val != NULL) {
				val->p = h->value;
				val->n = h->value_len;
				*val = sl_trim(*val);
			}
		}
	}
	return count;
}

static int akid_ok(struct slice s)
{
	if (s.n == 0 || s.n > CU_SIGV4_MAX_AKID)
		return 0;
	for (size_t i = 0; i < s.n; i++) {
		unsigned char ch = (unsigned char)s.p[i];

		if (!is_unreserved(ch))
			return 0;
	}
	return 1;
}

static int name_ok(struct slice s, size_t max, int allow_underscore)
{
	if (s.n == 0 || s.n > max)
		return 0;
	for (size_t i = 0; i < s.n; i++) {
		unsigned char ch = (unsigned char)s.p[i];

		if (!((ch >= 'a' && ch <= 'z') || is_digit(ch) || ch == '-' ||
		      (allow_underscore && ch == '_')))
			return 0;
	}
	return 1;
}

/* AKID/YYYYMMDD/REGION/SERVICE/aws4_request */
static int parse_credential(struct slice s, struct cred *cr)
{
	struct slice part[5];
	size_t k = 0, start = 0;

	if (s.n > CU_SIGV4_MAX_AKID + CU_SIGV4_MAX_SCOPE + 1)
		return -1;
	for (size_t i = 0; i <= s.n; i++) {
		if (i < s.n && s.p[i] != '/')
			continue;
		if (k == 5)
			return -1;
		part[k].p = s.p + start;
		part[k].n = i - start;
		k++;
		start = i + 1;
	}
	if (k != 5 || !sl_eq(part[4], TERMINATOR))
		return -1;
	if (!akid_ok(part[0]) || part[1].n != 8)
		return -1;
	for (size_t i = 0; i < 8; i++)
		if (!is_digit((unsigned char)part[1].p[i]))
			return -1;
	if (!name_ok(part[2], CU_SIGV4_MAX_REGION, 1) ||
	    !name_ok(part[3], CU_SIGV4_MAX_SERVICE, 0))
		return -1;
	cr->akid = part[0];
	cr->date = part[1];
	cr->region = part[2];
	cr->service = part[3];
	return 0;
}

static int tchar_lower(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || is_digit(c) ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Lower-case header names separated by ';', strictly ascending. */
static int parse_signed_headers(struct slice s, struct v4auth *a)
{
	size_t start = 0;

	a->n_names = 0;
	a->signed_raw = s;
	if (s.n == 0 || s.n > CU_SIGV4_MAX_AUTH)
		return -1;
	for (size_t i = 0; i <= s.n; i++) {
		struct slice nm;

		if (i < s.n && s.p[i] != ';') {
			if (!tchar_lower((unsigned char)s.p[i]))
				return -1;
			continue;
		}
		nm.p = s.p + start;
		nm.n = i - start;
		if (nm.n == 0 || a->n_names == CU_SIGV4_MAX_SIGNED)
			return -1;
		if (a->n_names > 0 && sl_cmp(a->names[a->n_names - 1], nm) >= 0)
			return -1;
		a->names[a->n_names++] = nm;
		start = i + 1;
	}
	return 0;
}

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...":
 * each component exactly once, in any order, nothing else. */
static enum cu_sigv4_fail parse_auth_header(struct slice v, struct v4auth *a)
{
	struct slice cred = {0}, sh = {0}, sig = {0};
	size_t i, start;

	if (v.n > CU_SIGV4_MAX_AUTH)
		return CU_SIGV4_FAIL_MALFORMED;
	if (v.n < ALGO_LEN || memcmp(v.p, ALGO, ALGO_LEN) != 0)
		return CU_SIGV4_FAIL_UNSUPPORTED;
	if (v.n == ALGO_LEN || v.p[ALGO_LEN] != ' ')
		return CU_SIGV4_FAIL_MALFORMED;
	i = ALGO_LEN;
	while (i < v.n && v.p[i] == ' ')
		i++;
	start = i;
	for (; i <= v.n; i++) {
		struct slice comp, key, val;
		size_t eq;

		if (i < v.n && v.p[i] != ',')
			continue;
		comp.p = v.p + start;
		comp.n = i - start;
		comp = sl_trim(comp);
		start = i + 1;
		for (eq = 0; eq < comp.n && comp.p[eq] != '='; eq++)
			;
		if (eq == comp.n)
			return CU_SIGV4_FAIL_MALFORMED;
		key.p = comp.p;
		key.n = eq;
		val.p = comp.p + eq + 1;
		val.n = comp.n - eq - 1;
		if (sl_eq(key, "Credential") && cred.p == NULL)
			cred = val;
		else if (sl_eq(key, "SignedHeaders") && sh.p == NULL)
			sh = val;
		else if (sl_eq(key, "Signature") && sig.p == NULL)
			sig = val;
		else
			return CU_SIGV4_FAIL_MALFORMED;
	}
	if (cred.p == NULL || sh.p == NULL || sig.p == NULL)
		return CU_SIGV4_FAIL_MALFORMED;
	if (parse_credential(cred, &a->cred) != 0 ||
	    parse_signed_headers(sh, a) != 0 ||
	    !is_lower_hex(sig, CU_SIGV4_SIG_HEX_LEN))
		return CU_SIGV4_FAIL_MALFORMED;
	a->sig = sig;
	return CU_SIGV4_OK;
}

/* ---- canonical forms ---- */

/* RFC 3986 dot-segment removal plus collapsing of empty segments, as the
 * AWS SDKs normalise paths for services other than S3. out has n+2
 * bytes. */
static size_t normalize_path(const char *p, size_t n, char *out)
{
	size_t o = 0, i = 0;
	int trailing = 0;

	while (i < n) {
		size_t j;

		while (i < n && p[i] == '/')
			i++;
		if (i == n)
			break;
		j = i;
		while (j < n && p[j] != '/')
			j++;
		trailing = 0;
		if (j - i == 1 && p[i] == '.') {
			trailing = 1;
		} else if (j - i == 2 && p[i] == '.' && p[i + 1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			trailing = 1;
		} else {
			out[o++] = '/';
			memcpy(out + o, p + i, j - i);
			o += j - i;
		}
		i = j;
	}
	if (n > 0 && p[n - 1] == '/')
		trailing = 1;
	if (o == 0 || trailing)
		out[o++] = '/';
	return o;
}

static int canon_path(const struct ctx *c, struct buf *b)
{
	const char *p = c->rq->path;
	size_t n = c->rq->path_len;
	char *norm = NULL;
	int r = 0;

	if (p == NULL || n == 0 || p[0] != '/' || n > CU_SIGV4_MAX_PATH)
		return CU_ERR_PARSE;
	if (c->op->normalize_path) {
		norm = malloc(n + 2);
		if (norm == NULL)
			return CU_ERR_NOMEM;
		n = normalize_path(p, n, norm);
		p = norm;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		int hi, lo;

		if (ch == '/') {
			buf_putc(b, '/');
		} else if (ch == '%' && !c->op->double_encode) {
			/* S3: the client encoded the key once; bring each
			 * escape to AWS's form (%2F stays distinct from /) */
			if (n - i < 3) {
				r = CU_ERR_PARSE;
				break;
			}
			hi = hexval((unsigned char)p[i + 1]);
			lo = hexval((unsigned char)p[i + 2]);
			if (hi < 0 || lo < 0) {
				r = CU_ERR_PARSE;
				break;
			}
			put_enc(b, (unsigned char)(hi * 16 + lo));
			i += 2;
		} else {
			put_enc(b, ch);
		}
	}
	free(norm);
	return r;
}

static int cmp_param(const void *x, const void *y)
{
	const struct param *a = *(const struct param *const *)x;
	const struct param *b = *(const struct param *const *)y;
	int r = sl_cmp(a->ekey, b->ekey);

	if (r == 0)
		r = sl_cmp(a->eval, b->eval);
	if (r == 0)
		r = a->index < b->index ? -1 : a->index > b->index;
	return r;
}

static int canon_query(const struct ctx *c, struct buf *b, int presigned)
{
	const struct param **v;
	size_t n = 0;

	if (c->n_params == 0)
		return 0;
	v = malloc(c->n_params * sizeof(*v));
	if (v == NULL)
		return CU_ERR_NOMEM;
	for (size_t i = 0; i < c->n_params; i++) {
		if (presigned && sl_eq(c->params[i].key, "X-Amz-Signature"))
			continue;
		v[n++] = &c->params[i];
	}
	qsort(v, n, sizeof(*v), cmp_param);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(b, '&');
		buf_sl(b, v[i]->ekey);
		buf_putc(b, '=');
		buf_sl(b, v[i]->eval);
	}
	free(v);
	return 0;
}

/* A header value trimmed, with every run of white space (obs-fold
 * included) collapsed to one space. */
static void put_collapsed(struct buf *b, const char *v, size_t n)
{
	int pending = 0, any = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			pending = any;
			continue;
		}
		if (pending)
			buf_putc(b, ' ');
		pending = 0;
		any = 1;
		buf_putc(b, (char)ch);
	}
}

static enum cu_sigv4_fail canon_headers(const struct ctx *c,
                                        const struct v4auth *a, struct buf *b)
{
	const struct cu_sigv4_request *rq = c->rq;

	for (size_t k = 0; k < a->n_names; k++) {
		size_t found = 0;

		buf_sl(b, a->names[k]);
		buf_putc(b, ':');
		for (size_t i = 0; i < rq->n_headers; i++) {
			const struct cu_sigv4_header *h = &rq->headers[i];

			if (!ieq(h->name, h->name_len, a->names[k].p,
			         a->names[k].n))
				continue;
			if (h->value_len > CU_SIGV4_MAX_HVALUE)
				return CU_SIGV4_FAIL_REQUEST;
			if (found++ > 0)
				buf_putc(b, ',');
			put_collapsed(b, h->value, h->value_len);
		}
		if (found == 0)
			return CU_SIGV4_FAIL_HEADER_ABSENT;
		buf_putc(b, '\n');
	}
	return CU_SIGV4_OK;
}

/* ---- crypto helpers ---- */

int cu_sigv4_derive_key(const void *secret, size_t secret_len,
                        const char *date8, const char *region,
                        const char *service,
                        unsigned char key[CU_SIGV4_KEY_LEN])
{
	unsigned char k[4 + CU_SIGV4_MAX_SECRET];
	unsigned char t[CU_SHA256_LEN];
	int r;

	if (secret_len > CU_SIGV4_MAX_SECRET)
		return CU_ERR_RANGE;
	memcpy(k, "AWS4", 4);
	if (secret_len)
		memcpy(k + 4, secret, secret_len);
	if ((r = cu_hmac_sha256(k, 4 + secret_len, date8, strlen(date8),
	                        key)) != 0)
		goto out;
	if ((r = cu_hmac_sha256(key, CU_SHA256_LEN, region, strlen(region),
	                        t)) != 0)
		goto out;
	if ((r = cu_hmac_sha256(t, CU_SHA256_LEN, service, strlen(service),
	                        key)) != 0)
		goto out;
	if ((r = cu_hmac_sha256(key, CU_SHA256_LEN, TERMINATOR,
	                        strlen(TERMINATOR), t)) != 0)
		goto out;
	memcpy(key, t, CU_SHA256_LEN);
out:
	if (r != 0)
		cu_memzero(key, CU_SIGV4_KEY_LEN);
	cu_memzero(k, sizeof(k));
	cu_memzero(t, sizeof(t));
	return r;
}

static int hmac_hex(const unsigned char key[CU_SIGV4_KEY_LEN], const char *msg,
                    size_t len, char out[CU_SIGV4_SIG_HEX_LEN + 1])
{
	unsigned char mac[CU_SHA256_LEN];
	int r = cu_hmac_sha256(key, CU_SIGV4_KEY_LEN, msg, len, mac);

	if (r == 0)
		hex_lower(mac, sizeof(mac), out);
	cu_memzero(mac, sizeof(mac));
	return r;
}

int cu_sigv4_chunk_signature(const unsigned char key[CU_SIGV4_KEY_LEN],
                             const char *amz_date, const char *scope,
                             const char *prev_sig, const void *data, size_t len,
                             char out[CU_SIGV4_SIG_HEX_LEN + 1])
{
	char sts[64 + CU_SIGV4_AMZDATE_LEN + CU_SIGV4_MAX_SCOPE + 3 * 65];
	unsigned char h[CU_SHA256_LEN];
	char hh[2 * CU_SHA256_LEN + 1];
	int n, r;

	if ((r = cu_sha256(data, len, h)) != 0)
		return r;
	hex_lower(h, sizeof(h), hh);
	if (strlen(amz_date) != CU_SIGV4_AMZDATE_LEN ||
	    strlen(scope) > CU_SIGV4_MAX_SCOPE ||
	    strlen(prev_sig) != CU_SIGV4_SIG_HEX_LEN)
		return CU_ERR_RANGE;
	n = snprintf(sts, sizeof(sts),
	             "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n" EMPTY_SHA "\n%s",
	             amz_date, scope, prev_sig, hh);
	if (n < 0 || (size_t)n >= sizeof(sts))
		return CU_ERR_RANGE;
	return hmac_hex(key, sts, (size_t)n, out);
}

static int hmac_sha1(const void *key, size_t key_len, const void *msg,
                     size_t msg_len, unsigned char out[SHA1_LEN])
{
	return cu_evp_hmac(CU_EVP_SHA1, key, key_len, msg, msg_len, out,
	                   SHA1_LEN);
}

/* ---- failure reasons ---- */

static const struct {
	int err;
	int status;
	const char *code;
	const char *text;
} fails[] = {
    [CU_SIGV4_OK] = {0, 200, "OK", "authenticated"},
    [CU_SIGV4_FAIL_MISSING] = {CU_ERR_DENIED, 403, "AccessDenied",
                               "Access Denied"},
    [CU_SIGV4_FAIL_AMBIGUOUS] = {CU_ERR_INVAL, 400, "InvalidArgument",
                                 "Only one auth mechanism allowed"},
    [CU_SIGV4_FAIL_UNSUPPORTED] =
        {CU_ERR_UNSUPPORTED, 400, "InvalidRequest",
         "The authorization mechanism you have provided is not "
         "supported. Please use AWS4-HMAC-SHA256."},
    [CU_SIGV4_FAIL_MALFORMED] = {CU_ERR_PARSE, 400,
                                 "AuthorizationHeaderMalformed",
                                 "The authorization is malformed"},
    [CU_SIGV4_FAIL_REGION] = {CU_ERR_PARSE, 400, "AuthorizationHeaderMalformed",
                              "The authorization region is wrong"},
    [CU_SIGV4_FAIL_SERVICE] = {CU_ERR_PARSE, 400,
                               "AuthorizationHeaderMalformed",
                               "The authorization service is wrong"},
    [CU_SIGV4_FAIL_DATE_MISSING] =
        {CU_ERR_DENIED, 403, "AccessDenied",
         "AWS authentication requires a valid Date or x-amz-date "
         "header"},
    [CU_SIGV4_FAIL_DATE_MALFORMED] =
        {CU_ERR_PARSE, 403, "AccessDenied",
         "AWS authentication requires a valid Date or x-amz-date "
         "header"},
    [CU_SIGV4_FAIL_DATE_MISMATCH] =
        {CU_ERR_PARSE, 400, "AuthorizationHeaderMalformed",
         "The credential date does not match the request date"},
    [CU_SIGV4_FAIL_SKEWED] =
        {CU_ERR_DENIED, 403, "RequestTimeTooSkewed",
         "The difference between the request time and the current "
         "time is too large."},
    [CU_SIGV4_FAIL_EXPIRED] = {CU_ERR_DENIED, 403, "AccessDenied",
                               "Request has expired"},
    [CU_SIGV4_FAIL_NOT_YET_VALID] = {CU_ERR_DENIED, 403, "AccessDenied",
                                     "Request is not valid yet"},
    [CU_SIGV4_FAIL_EXPIRES] =
        {CU_ERR_PARSE, 400, "AuthorizationQueryParametersError",
         "X-Amz-Expires must be between 1 and 604800 seconds"},
    [CU_SIGV4_FAIL_HOST_UNSIGNED] = {CU_ERR_DENIED, 403, "AccessDenied",
                                     "The host header must be signed"},
    [CU_SIGV4_FAIL_HEADER_ABSENT] =
        {CU_ERR_DENIED, 403, "AccessDenied",
         "A signed header is missing from the request"},
    [CU_SIGV4_FAIL_PAYLOAD_MISSING] =
        {CU_ERR_INVAL, 400, "InvalidRequest",
         "Missing required header for this request: "
         "x-amz-content-sha256"},
    [CU_SIGV4_FAIL_PAYLOAD_INVALID] =
        {CU_ERR_INVAL, 400, "InvalidArgument",
         "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
         "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
         "STREAMING-UNSIGNED-PAYLOAD-TRAILER or a valid sha256 "
         "value."},
    [CU_SIGV4_FAIL_DECODED_LENGTH] =
        {CU_ERR_INVAL, 411, "MissingContentLength",
         "x-amz-decoded-content-length is missing or invalid"},
    [CU_SIGV4_FAIL_TRAILER] = {CU_ERR_INVAL, 400, "InvalidRequest",
                               "The x-amz-trailer header is invalid or "
                               "not supported"},
    [CU_SIGV4_FAIL_REQUEST] = {CU_ERR_PARSE, 400, "InvalidArgument",
                               "The request is malformed or too large"},
    [CU_SIGV4_FAIL_UNKNOWN_KEY] =
        {CU_ERR_NOTFOUND, 403, "InvalidAccessKeyId",
         "The AWS Access Key Id you provided does not exist in our "
         "records."},
    [CU_SIGV4_FAIL_SIGNATURE] =
        {CU_ERR_AUTH, 403, "SignatureDoesNotMatch",
         "The request signature we calculated does not match the "
         "signature you provided. Check your key and signing method."},
    [CU_SIGV4_FAIL_INTERNAL] = {CU_ERR_INTERNAL, 500, "InternalError",
                                "We encountered an internal error. Please "
                                "try again."},
};

#define NFAILS (sizeof(fails) / sizeof(fails[0]))

const char *cu_sigv4_s3_error(const struct cu_sigv4_result *res, int *status)
{
	unsigned f = res != NULL ? (unsigned)res->fail : NFAILS;
	const char *code;

	if (f >= NFAILS || fails[f].code == NULL) {
		if (status != NULL)
			*status = 500;
		return "InternalError";
	}
	code = fails[f].code;
	/* presigned requests report their parameter errors under S3's
	 * query-specific code */
	if (res->auth != CU_SIGV4_AUTH_HEADER &&
	    strcmp(code, "AuthorizationHeaderMalformed") == 0)
		code = "AuthorizationQueryParametersError";
	if (status != NULL)
		*status = fails[f].status;
	return code;
}

const char *cu_sigv4_fail_text(enum cu_sigv4_fail fail)
{
	if ((unsigned)fail >= NFAILS || fails[fail].text == NULL)
		return "internal error";
	return fails[fail].text;
}

void cu_sigv4_result_clear(struct cu_sigv4_result *res)
{
	if (res == NULL)
		return;
	free(res->canonical_request);
	free(res->string_to_sign);
	cu_memzero(res, sizeof(*res));
	res->decoded_length = -1;
}

/* ---- verification ---- */

#define FAIL(reason)                                                           \
	do {                                                                   \
		res->fail = (reason);                                          \
		r = fails[(reason)].err;                                       \
		goto out;                                                      \
	} while (0)

/* What went wrong in a buffer or parse step: memory is ours, anything
 * else the request's. */
static enum cu_sigv4_fail nomem_or_request(int err)
{
	return err == CU_ERR_NOMEM ? CU_SIGV4_FAIL_INTERNAL
	                           : CU_SIGV4_FAIL_REQUEST;
}

/* A key callback's error err, recorded in res->fail: CU_ERR_NOTFOUND is an
 * unknown key, anything else internal. Returns err. */
static int key_error(struct cu_sigv4_result *res, int err)
{
	res->fail = err == CU_ERR_NOTFOUND ? CU_SIGV4_FAIL_UNKNOWN_KEY
	                                   : CU_SIGV4_FAIL_INTERNAL;
	return err;
}

/* Fetch the secret for akid into sec (wiped by the caller). Returns 0 or,
 * with res->fail set by key_error, the error. */
static int get_secret(const struct ctx *c, struct slice akid,
                      unsigned char *sec, size_t *sec_len)
{
	int err;

	*sec_len = 0;
	err = c->op->secret(c->op->secret_arg, akid.p, akid.n, sec,
	                    CU_SIGV4_MAX_SECRET, sec_len);
	if (err == 0 && *sec_len > CU_SIGV4_MAX_SECRET)
		err = CU_ERR_RANGE;
	return err != 0 ? key_error(c->res, err) : 0;
}

/* x-amz-content-sha256 (or what the caller declared) to a payload mode. */
static enum cu_sigv4_fail payload_mode(struct slice h, int presigned,
                                       struct cu_sigv4_result *res)
{
	if (h.n == 64) {
		for (size_t i = 0; i < 32; i++) {
			int hi = hexval((unsigned char)h.p[2 * i]);
			int lo = hexval((unsigned char)h.p[2 * i + 1]);

			if (hi < 0 || lo < 0)
				return CU_SIGV4_FAIL_PAYLOAD_INVALID;
			res->payload_sha256[i] = (unsigned char)(hi * 16 + lo);
		}
		res->payload = CU_SIGV4_PAYLOAD_SHA256;
	} else if (sl_eq(h, "UNSIGNED-PAYLOAD")) {
		res->payload = CU_SIGV4_PAYLOAD_UNSIGNED;
	} else if (sl_eq(h, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") &&
	           !presigned) {
		res->payload = CU_SIGV4_PAYLOAD_STREAMING_SIGNED;
	} else if (sl_eq(h, "STREAMING-UNSIGNED-PAYLOAD-TRAILER") &&
	           !presigned) {
		res->payload = CU_SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
	} else if (sl_eq(h, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER") ||
	           sl_eq(h, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD") ||
	           sl_eq(h,
	                 "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER")) {
		return CU_SIGV4_FAIL_UNSUPPORTED;
	} else {
		return CU_SIGV4_FAIL_PAYLOAD_INVALID;
	}
	return CU_SIGV4_OK;
}

static enum cu_sigv4_fail streaming_headers(const struct ctx *c)
{
	struct cu_sigv4_result *res = c->res;
	struct slice v;
	size_t n;

	if (res->payload != CU_SIGV4_PAYLOAD_STREAMING_SIGNED &&
	    res->payload != CU_SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER)
		return CU_SIGV4_OK;
	if (find_header(c->rq, "x-amz-decoded-content-length", &v) != 1 ||
	    parse_dec(v, 19, &res->decoded_length) != 0 ||
	    res->decoded_length > MAX_DECODED) {
		res->decoded_length = -1;
		return CU_SIGV4_FAIL_DECODED_LENGTH;
	}
	n = find_header(c->rq, "x-amz-trailer", &v);
	if (n == 0)
		return CU_SIGV4_OK;
	if (n > 1 ||
	    res->payload != CU_SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER)
		return CU_SIGV4_FAIL_TRAILER;
	if (ieq(v.p, v.n, "x-amz-checksum-crc32", 20))
		res->trailer = CU_SIGV4_CKSUM_CRC32;
	else if (ieq(v.p, v.n, "x-amz-checksum-crc32c", 21))
		res->trailer = CU_SIGV4_CKSUM_CRC32C;
	else if (ieq(v.p, v.n, "x-amz-checksum-sha1", 19))
		res->trailer = CU_SIGV4_CKSUM_SHA1;
	else if (ieq(v.p, v.n, "x-amz-checksum-sha256", 21))
		res->trailer = CU_SIGV4_CKSUM_SHA256;
	else
		return CU_SIGV4_FAIL_TRAILER;
	return CU_SIGV4_OK;
}

static int method_ok(const struct cu_sigv4_request *rq)
{
	if (rq->method == NULL || rq->method_len == 0 ||
	    rq->method_len > CU_SIGV4_MAX_METHOD)
		return 0;
	for (size_t i = 0; i < rq->method_len; i++)
		if (!tchar_lower((unsigned char)rq->method[i]) &&
		    !(rq->method[i] >= 'A' && rq->method[i] <= 'Z'))
			return 0;
	return 1;
}

/* SigV4, header or presigned: everything after the auth fields are
 * parsed. */
static int verify_v4(struct ctx *c, struct v4auth *a, struct slice amz_date,
                     int presigned, int64_t expires)
{
	struct cu_sigv4_result *res = c->res;
	const struct cu_sigv4_options *op = c->op;
	const char *service = op->service != NULL ? op->service : "s3";
	struct buf cr = {.max = CU_SIGV4_MAX_CANON};
	struct buf sts = {.max = CU_SIGV4_MAX_CANON};
	struct slice ph;
	unsigned char sec[CU_SIGV4_MAX_SECRET];
	unsigned char h[CU_SHA256_LEN];
	char hh[2 * CU_SHA256_LEN + 1], sig[CU_SIGV4_SIG_HEX_LEN + 1];
	char date8[9];
	size_t sec_len = 0, n;
	int64_t t,
	    skew = op->max_skew > 0 ? op->max_skew : CU_SIGV4_DEFAULT_SKEW;
	int r = 0, host = 0, err = 0;
	enum cu_sigv4_fail f;

	sl_copy(res->access_key_id, sizeof(res->access_key_id), a->cred.akid);
	sl_copy(res->region, sizeof(res->region), a->cred.region);
	if (parse_amz_date(amz_date, &t) != 0)
		FAIL(presigned ? CU_SIGV4_FAIL_MALFORMED
		               : CU_SIGV4_FAIL_DATE_MALFORMED);
	sl_copy(res->amz_date, sizeof(res->amz_date), amz_date);
	res->request_time = t;
	if (memcmp(amz_date.p, a->cred.date.p, 8) != 0)
		FAIL(CU_SIGV4_FAIL_DATE_MISMATCH);
	if (op->region != NULL && !sl_eq(a->cred.region, op->region))
		FAIL(CU_SIGV4_FAIL_REGION);
	if (!sl_eq(a->cred.service, service))
		FAIL(CU_SIGV4_FAIL_SERVICE);
	for (size_t i = 0; i < a->n_names; i++)
		if (sl_eq(a->names[i], "host"))
			host = 1;
	if (!host)
		FAIL(CU_SIGV4_FAIL_HOST_UNSIGNED);
	if (presigned) {
		res->expires_at = t + expires;
		if (c->rq->now < t - skew)
			FAIL(CU_SIGV4_FAIL_NOT_YET_VALID);
		if (c->rq->now > t + expires)
			FAIL(CU_SIGV4_FAIL_EXPIRED);
	} else if (c->rq->now > t + skew || c->rq->now < t - skew) {
		FAIL(CU_SIGV4_FAIL_SKEWED);
	}
	n = snprintf(res->scope, sizeof(res->scope), "%.8s/%s/%s/" TERMINATOR,
	             amz_date.p, res->region, service);
	(void)n;

	/* the payload hash */
	if (c->rq->payload_hash != NULL) {
		ph.p = c->rq->payload_hash;
		ph.n = c->rq->payload_hash_len;
	} else if (presigned) {
		n = find_param(c, "X-Amz-Content-Sha256", &ph);
		if (n > 1)
			FAIL(CU_SIGV4_FAIL_MALFORMED);
		if (n == 0) {
			ph.p = "UNSIGNED-PAYLOAD";
			ph.n = 16;
		}
	} else {
		n = find_header(c->rq, "x-amz-content-sha256", &ph);
		if (n == 0)
			FAIL(CU_SIGV4_FAIL_PAYLOAD_MISSING);
		if (n > 1)
			FAIL(CU_SIGV4_FAIL_PAYLOAD_INVALID);
	}
	if ((f = payload_mode(ph, presigned, res)) != CU_SIGV4_OK)
		FAIL(f);
	if ((f = streaming_headers(c)) != CU_SIGV4_OK)
		FAIL(f);

	/* the canonical request */
	buf_put(&cr, c->rq->method, c->rq->method_len);
	buf_putc(&cr, '\n');
	if ((r = canon_path(c, &cr)) != 0)
		FAIL(nomem_or_request(r));
	buf_putc(&cr, '\n');
	if ((r = canon_query(c, &cr, presigned)) != 0)
		FAIL(CU_SIGV4_FAIL_INTERNAL);
	buf_putc(&cr, '\n');
	if ((f = canon_headers(c, a, &cr)) != CU_SIGV4_OK)
		FAIL(f);
	buf_putc(&cr, '\n');
	buf_sl(&cr, a->signed_raw);
	buf_putc(&cr, '\n');
	buf_sl(&cr, ph);
	if (cr.err != 0)
		FAIL(nomem_or_request(cr.err));
	if ((r = cu_sha256(cr.p, cr.len, h)) != 0)
		FAIL(CU_SIGV4_FAIL_INTERNAL);
	hex_lower(h, sizeof(h), hh);
	buf_puts(&sts, ALGO "\n");
	buf_sl(&sts, amz_date);
	buf_putc(&sts, '\n');
	buf_puts(&sts, res->scope);
	buf_putc(&sts, '\n');
	buf_puts(&sts, hh);
	if (sts.err != 0)
		FAIL(CU_SIGV4_FAIL_INTERNAL);
	res->canonical_request = cr.p;
	res->canonical_request_len = cr.len;
	res->string_to_sign = sts.p;
	res->string_to_sign_len = sts.len;
	cr.p = sts.p = NULL;

	/* the key, then the signature */
	memcpy(date8, amz_date.p, 8);
	date8[8] = '\0';
	if (op->signing_key != NULL) {
		err = op->signing_key(op->secret_arg, a->cred.akid.p,
		                      a->cred.akid.n, date8, res->region,
		                      service, res->signing_key);
		if (err != 0) {
			r = key_error(res, err);
			goto out;
		}
	} else {
		if ((r = get_secret(c, a->cred.akid, sec, &sec_len)) != 0)
			goto out;
		if ((r = cu_sigv4_derive_key(sec, sec_len, date8, res->region,
		                             service, res->signing_key)) != 0) {
			res->fail = CU_SIGV4_FAIL_INTERNAL;
			goto out;
		}
	}
	if ((r = hmac_hex(res->signing_key, res->string_to_sign,
	                  res->string_to_sign_len, sig)) != 0) {
		res->fail = CU_SIGV4_FAIL_INTERNAL;
		goto out;
	}
	if (!cu_ct_equal(sig, a->sig.p, CU_SIGV4_SIG_HEX_LEN))
		FAIL(CU_SIGV4_FAIL_SIGNATURE);
	memcpy(res->signature, sig, sizeof(res->signature));
	res->fail = CU_SIGV4_OK;
	r = 0;
out:
	if (r != 0)
		cu_memzero(res->signing_key, sizeof(res->signing_key));
	cu_memzero(sec, sizeof(sec));
	cu_memzero(sig, sizeof(sig));
	free(cr.p);
	free(sts.p);
	return r;
}

static int verify_header(struct ctx *c, struct slice auth)
{
	struct cu_sigv4_result *res = c->res;
	struct v4auth a;
	struct slice date;
	char amz[CU_SIGV4_AMZDATE_LEN + 1];
	int64_t t;
	size_t n;
	int r = 0;
	enum cu_sigv4_fail f;

	res->auth = CU_SIGV4_AUTH_HEADER;
	if ((f = parse_auth_header(auth, &a)) != CU_SIGV4_OK)
		FAIL(f);
	n = find_header(c->rq, "x-amz-date", &date);
	if (n > 1)
		FAIL(CU_SIGV4_FAIL_DATE_MALFORMED);
	if (n == 0) {
		n = find_header(c->rq, "date", &date);
		if (n == 0)
			FAIL(CU_SIGV4_FAIL_DATE_MISSING);
		if (n > 1 || parse_http_date(date, &t, amz) != 0)
			FAIL(CU_SIGV4_FAIL_DATE_MALFORMED);
		date.p = amz;
		date.n = CU_SIGV4_AMZDATE_LEN;
	}
	r = verify_v4(c, &a, date, 0, 0);
out:
	return r;
}

/* The X-Amz-* parameter `name`: exactly once, else malformed. */
static int one_param(const struct ctx *c, const char *name, struct slice *v)
{
	return find_param(c, name, v) == 1 ? 0 : -1;
}

static int verify_query(struct ctx *c)
{
	struct cu_sigv4_result *res = c->res;
	struct v4auth a;
	struct slice alg, cred, date, exp, sh, sig;
	int64_t expires;
	int r = 0;

	res->auth = CU_SIGV4_AUTH_QUERY;
	if (one_param(c, "X-Amz-Algorithm", &alg) ||
	    one_param(c, "X-Amz-Credential", &cred) ||
	    one_param(c, "X-Amz-Date", &date) ||
	    one_param(c, "X-Amz-Expires", &exp) ||
	    one_param(c, "X-Amz-SignedHeaders", &sh) ||
	    one_param(c, "X-Amz-Signature", &sig) || !sl_eq(alg, ALGO) ||
	    parse_credential(cred, &a.cred) != 0 ||
	    parse_signed_headers(sh, &a) != 0 ||
	    !is_lower_hex(sig, CU_SIGV4_SIG_HEX_LEN))
		FAIL(CU_SIGV4_FAIL_MALFORMED);
	if (parse_dec(exp, 6, &expires) != 0 || expires < 1 ||
	    expires > CU_SIGV4_MAX_EXPIRES)
		FAIL(CU_SIGV4_FAIL_EXPIRES);
	a.sig = sig;
	r = verify_v4(c, &a, date, 1, expires);
out:
	return r;
}

/* ---- SigV2 presigned ---- */

/* botocore's and S3's list of sub-resources that are part of the SigV2
 * canonicalised resource. */
static const char *const subresources[] = {
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
};

static int is_subresource(struct slice k)
{
	for (size_t i = 0; i < sizeof(subresources) / sizeof(subresources[0]);
	     i++)
		if (sl_eq(k, subresources[i]))
			return 1;
	return 0;
}

static int cmp_key(const void *x, const void *y)
{
	const struct param *a = *(const struct param *const *)x;
	const struct param *b = *(const struct param *const *)y;
	int r = sl_cmp(a->key, b->key);

	if (r == 0)
		r = a->index < b->index ? -1 : a->index > b->index;
	return r;
}

struct hdr_ref {
	const struct cu_sigv4_header *h;
	size_t index;
};

static int cmp_hdr(const void *x, const void *y)
{
	const struct hdr_ref *a = x, *b = y;
	size_t n =
	    a->h->name_len < b->h->name_len ? a->h->name_len : b->h->name_len;

	for (size_t i = 0; i < n; i++) {
		int ca = lower((unsigned char)a->h->name[i]);
		int cb = lower((unsigned char)b->h->name[i]);

		if (ca != cb)
			return ca - cb;
	}
	if (a->h->name_len != b->h->name_len)
		return a->h->name_len < b->h->name_len ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

/* METHOD \n Content-MD5 \n Content-Type \n Expires \n x-amz-headers
 * resource[?subresources] */
static enum cu_sigv4_fail v2_string_to_sign(const struct ctx *c,
                                            struct slice expires, struct buf *b)
{
	const struct cu_sigv4_request *rq = c->rq;
	struct hdr_ref *hs = NULL;
	const struct param **ps = NULL;
	struct slice v;
	size_t nh = 0, np = 0, n;
	enum cu_sigv4_fail f = CU_SIGV4_OK;
	static const char *const hdr[] = {"content-md5", "content-type"};

	buf_put(b, rq->method, rq->method_len);
	buf_putc(b, '\n');
	for (size_t i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++) {
		n = find_header(rq, hdr[i], &v);
		if (n > 1)
			return CU_SIGV4_FAIL_REQUEST;
		if (n == 1)
			buf_sl(b, v);
		buf_putc(b, '\n');
	}
	buf_sl(b, expires);
	buf_putc(b, '\n');

	hs = calloc(rq->n_headers + 1, sizeof(*hs));
	ps = calloc(c->n_params + 1, sizeof(*ps));
	if (hs == NULL || ps == NULL) {
		f = CU_SIGV4_FAIL_INTERNAL;
		goto out;
	}
	for (size_t i = 0; i < rq->n_headers; i++) {
		const struct cu_sigv4_header *h = &rq->headers[i];

		if (h->name_len > 6 && ieq(h->name, 6, "x-amz-", 6)) {
			if (h->value_len > CU_SIGV4_MAX_HVALUE) {
				f = CU_SIGV4_FAIL_REQUEST;
				goto out;
			}
			hs[nh].h = h;
			hs[nh].index = i;
			nh++;
		}
	}
	qsort(hs, nh, sizeof(*hs), cmp_hdr);
	for (size_t i = 0; i < nh; i++) {
		const struct cu_sigv4_header *h = hs[i].h;
		struct slice val = {h->value, h->value_len};

		if (i == 0 || !ieq(h->name, h->name_len, hs[i - 1].h->name,
		                   hs[i - 1].h->name_len)) {
			if (i > 0)
				buf_putc(b, '\n');
			for (size_t k = 0; k < h->name_len; k++)
				buf_putc(
				    b, (char)lower((unsigned char)h->name[k]));
			buf_putc(b, ':');
		} else {
			buf_putc(b, ',');
		}
		buf_sl(b, sl_trim(val));
	}
	if (nh > 0)
		buf_putc(b, '\n');

	/* path-style: the resource is the path as the client sent it */
	buf_put(b, rq->path, rq->path_len);
	for (size_t i = 0; i < c->n_params; i++)
		if (is_subresource(c->params[i].key))
			ps[np++] = &c->params[i];
	qsort(ps, np, sizeof(*ps), cmp_key);
	for (size_t i = 0; i < np; i++) {
		buf_putc(b, i == 0 ? '?' : '&');
		buf_sl(b, ps[i]->key);
		if (ps[i]->has_eq) {
			buf_putc(b, '=');
			buf_sl(b, ps[i]->val);
		}
	}
	if (b->err != 0)
		f = nomem_or_request(b->err);
out:
	free(hs);
	free(ps);
	return f;
}

static int verify_v2(struct ctx *c)
{
	struct cu_sigv4_result *res = c->res;
	struct buf sts = {.max = CU_SIGV4_MAX_CANON};
	struct slice akid, exp, sig;
	unsigned char sec[CU_SIGV4_MAX_SECRET], mac[SHA1_LEN];
	char b64[4 * ((SHA1_LEN + 2) / 3) + 1];
	size_t sec_len = 0;
	int64_t expires;
	int r = 0;
	enum cu_sigv4_fail f;

	res->auth = CU_SIGV4_AUTH_V2_QUERY;
	res->payload = CU_SIGV4_PAYLOAD_UNSIGNED;
	if (one_param(c, "AWSAccessKeyId", &akid) ||
	    one_param(c, "Expires", &exp) || one_param(c, "Signature", &sig) ||
	    !akid_ok(akid) || sig.n != sizeof(b64) - 1)
		FAIL(CU_SIGV4_FAIL_MALFORMED);
	if (parse_dec(exp, 12, &expires) != 0)
		FAIL(CU_SIGV4_FAIL_MALFORMED);
	sl_copy(res->access_key_id, sizeof(res->access_key_id), akid);
	res->expires_at = expires;
	if (c->rq->now > expires)
		FAIL(CU_SIGV4_FAIL_EXPIRED);
	if ((f = v2_string_to_sign(c, exp, &sts)) != CU_SIGV4_OK)
		FAIL(f);
	res->string_to_sign = sts.p;
	res->string_to_sign_len = sts.len;
	sts.p = NULL;
	if ((r = get_secret(c, akid, sec, &sec_len)) != 0)
		goto out;
	if ((r = hmac_sha1(sec, sec_len, res->string_to_sign,
	                   res->string_to_sign_len, mac)) != 0) {
		res->fail = CU_SIGV4_FAIL_INTERNAL;
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)b64, mac, SHA1_LEN);
	if (!cu_ct_equal(b64, sig.p, sizeof(b64) - 1))
		FAIL(CU_SIGV4_FAIL_SIGNATURE);
	res->fail = CU_SIGV4_OK;
out:
	cu_memzero(sec, sizeof(sec));
	cu_memzero(mac, sizeof(mac));
	free(sts.p);
	return r;
}

int cu_sigv4_verify(const struct cu_sigv4_request *req,
                    const struct cu_sigv4_options *opt,
                    struct cu_sigv4_result *res)
{
	struct ctx c = {.rq = req, .op = opt, .res = res};
	struct slice auth = {0};
	size_t n_auth;
	int r = 0, v4q, v2q;

	memset(res, 0, sizeof(*res));
	res->decoded_length = -1;
	if (opt == NULL || opt->secret == NULL)
		FAIL(CU_SIGV4_FAIL_INTERNAL);
	if (!method_ok(req) || req->n_headers > CU_SIGV4_MAX_HEADERS ||
	    (req->n_headers > 0 && req->headers == NULL) ||
	    req->path_len > CU_SIGV4_MAX_PATH)
		FAIL(CU_SIGV4_FAIL_REQUEST);
	if ((r = parse_query(&c)) != 0)
		FAIL(nomem_or_request(r));
	n_auth = find_header(req, "authorization", &auth);
	v4q = find_param(&c, "X-Amz-Algorithm", NULL) ||
	      find_param(&c, "X-Amz-Credential", NULL) ||
	      find_param(&c, "X-Amz-Signature", NULL);
	v2q = find_param(&c, "AWSAccessKeyId", NULL) ||
	      find_param(&c, "Signature", NULL);
	if ((n_auth > 0) + (v4q != 0) + (v2q != 0) > 1) {
		res->auth =
		    n_auth > 0 ? CU_SIGV4_AUTH_HEADER : CU_SIGV4_AUTH_QUERY;
		FAIL(CU_SIGV4_FAIL_AMBIGUOUS);
	}
	if (n_auth > 1) {
		res->auth = CU_SIGV4_AUTH_HEADER;
		FAIL(CU_SIGV4_FAIL_MALFORMED);
	}
	if (n_auth == 1)
		r = verify_header(&c, auth);
	else if (v4q)
		r = verify_query(&c);
	else if (v2q && opt->allow_v2)
		r = verify_v2(&c);
	else if (v2q)
		FAIL(CU_SIGV4_FAIL_UNSUPPORTED);
	else
		FAIL(CU_SIGV4_FAIL_MISSING);
out:
	free(c.params);
	free(c.scratch);
	if (r != 0)
		cu_memzero(res->signing_key, sizeof(res->signing_key));
	return r;
}

/* ---- aws-chunked ---- */

enum cstate {
	ST_HDR,     /* reading a chunk header line */
	ST_DATA,    /* reading chunk data */
	ST_DATA_CR, /* CRLF after chunk data */
	ST_DATA_LF,
	ST_END,     /* signed: the empty line after the final chunk */
	ST_TRAILER, /* unsigned: trailer lines up to an empty line */
	ST_DONE,
};

struct cu_sigv4_chunked {
	enum cu_sigv4_payload mode;
	enum cstate st;
	int err;
	char line[CU_SIGV4_CHUNK_HDR_MAX + 1];
	size_t line_len;
	size_t size; /* current chunk size */
	size_t got;  /* bytes of it received */
	size_t max_chunk;
	int64_t decoded_length;
	uint64_t total;
	unsigned char *key; /* locked memory */
	char amz_date[CU_SIGV4_AMZDATE_LEN + 1];
	char scope[CU_SIGV4_MAX_SCOPE + 1];
	char prev_sig[CU_SIGV4_SIG_HEX_LEN + 1];
	char chunk_sig[CU_SIGV4_SIG_HEX_LEN + 1];
	unsigned char *data; /* signed mode: the chunk being verified */
	size_t data_cap;
	/* unsigned mode: the trailer checksum */
	enum cu_sigv4_checksum alg;
	uint32_t crc;
	uint32_t *crc32c_table;
	EVP_MD_CTX *md;
	int have_trailer;
	char checksum[64];
};

int cu_sigv4_chunked_new(const struct cu_sigv4_result *res, size_t max_chunk,
                         cu_sigv4_chunked_t **out)
{
	cu_sigv4_chunked_t *c = NULL;
	int r = 0;

	*out = NULL;
	if (res == NULL || res->fail != CU_SIGV4_OK ||
	    (res->payload != CU_SIGV4_PAYLOAD_STREAMING_SIGNED &&
	     res->payload != CU_SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER))
		return CU_ERR_INVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return CU_ERR_NOMEM;
	c->mode = res->payload;
	c->st = ST_HDR;
	c->max_chunk = (max_chunk == 0 || max_chunk > CU_SIGV4_CHUNK_MAX)
	                   ? CU_SIGV4_CHUNK_MAX
	                   : max_chunk;
	c->decoded_length = res->decoded_length;
	c->alg = res->trailer;
	if (c->mode == CU_SIGV4_PAYLOAD_STREAMING_SIGNED) {
		c->key = cu_secmem_alloc(CU_SIGV4_KEY_LEN);
		if (c->key == NULL) {
			r = CU_ERR_NOMEM;
			goto out;
		}
		memcpy(c->key, res->signing_key, CU_SIGV4_KEY_LEN);
		memcpy(c->amz_date, res->amz_date, sizeof(c->amz_date));
		memcpy(c->scope, res->scope, sizeof(c->scope));
		memcpy(c->prev_sig, res->signature, sizeof(c->prev_sig));
		if (strlen(c->prev_sig) != CU_SIGV4_SIG_HEX_LEN) {
			r = CU_ERR_INVAL;
			goto out;
		}
	} else if (c->alg == CU_SIGV4_CKSUM_CRC32C) {
		c->crc32c_table = malloc(256 * sizeof(uint32_t));
		if (c->crc32c_table == NULL) {
			r = CU_ERR_NOMEM;
			goto out;
		}
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;

			for (int k = 0; k < 8; k++)
				v = (v >> 1) ^ (0x82F63B78u & (0u - (v & 1)));
			c->crc32c_table[i] = v;
		}
	} else if (c->alg == CU_SIGV4_CKSUM_SHA1 ||
	           c->alg == CU_SIGV4_CKSUM_SHA256) {
		c->md = EVP_MD_CTX_new();
		if (c->md == NULL) {
			r = CU_ERR_NOMEM;
			goto out;
		}
		if (EVP_DigestInit_ex(c->md,
		                      cu_evp_md(c->alg == CU_SIGV4_CKSUM_SHA1
		                                    ? CU_EVP_SHA1
		                                    : CU_EVP_SHA256),
		                      NULL) != 1) {
			r = CU_ERR_CRYPTO;
			goto out;
		}
	}
out:
	if (r != 0) {
		cu_sigv4_chunked_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void cu_sigv4_chunked_free(cu_sigv4_chunked_t *c)
{
	if (c == NULL)
		return;
	cu_secmem_free(c->key, CU_SIGV4_KEY_LEN);
	if (c->data != NULL) {
		cu_memzero(c->data, c->data_cap);
		free(c->data);
	}
	free(c->crc32c_table);
	EVP_MD_CTX_free(c->md);
	cu_memzero(c, sizeof(*c));
	free(c);
}

static int cksum_update(cu_sigv4_chunked_t *c, const unsigned char *p, size_t n)
{
	switch (c->alg) {
	case CU_SIGV4_CKSUM_CRC32:
		c->crc = (uint32_t)crc32(c->crc, p, (uInt)n);
		break;
	case CU_SIGV4_CKSUM_CRC32C: {
		uint32_t v = ~c->crc;

		for (size_t i = 0; i < n; i++)
			v = c->crc32c_table[(v ^ p[i]) & 0xff] ^ (v >> 8);
		c->crc = ~v;
		break;
	}
	case CU_SIGV4_CKSUM_SHA1:
	case CU_SIGV4_CKSUM_SHA256:
		if (n > 0 && EVP_DigestUpdate(c->md, p, n) != 1)
			return CU_ERR_CRYPTO;
		break;
	default:
		break;
	}
	return 0;
}

static const char *cksum_name(enum cu_sigv4_checksum alg)
{
	switch (alg) {
	case CU_SIGV4_CKSUM_CRC32:
		return "x-amz-checksum-crc32";
	case CU_SIGV4_CKSUM_CRC32C:
		return "x-amz-checksum-crc32c";
	case CU_SIGV4_CKSUM_SHA1:
		return "x-amz-checksum-sha1";
	case CU_SIGV4_CKSUM_SHA256:
		return "x-amz-checksum-sha256";
	default:
		return "";
	}
}

/* Compare the received trailer checksum with ours. */
static int cksum_check(cu_sigv4_chunked_t *c)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dn = 0;
	char b64[64];
	int n;

	if (c->alg == CU_SIGV4_CKSUM_NONE)
		return 0;
	if (!c->have_trailer)
		return CU_ERR_PARSE;
	if (c->alg == CU_SIGV4_CKSUM_CRC32 || c->alg == CU_SIGV4_CKSUM_CRC32C) {
		d[0] = (unsigned char)(c->crc >> 24);
		d[1] = (unsigned char)(c->crc >> 16);
		d[2] = (unsigned char)(c->crc >> 8);
		d[3] = (unsigned char)c->crc;
		dn = 4;
	} else if (EVP_DigestFinal_ex(c->md, d, &dn) != 1) {
		return CU_ERR_CRYPTO;
	}
	n = EVP_EncodeBlock((unsigned char *)b64, d, (int)dn);
	if (n <= 0 || strlen(c->checksum) != (size_t)n ||
	    !cu_ct_equal(b64, c->checksum, (size_t)n))
		return CU_ERR_AUTH;
	return 0;
}

/* "<hex>;chunk-signature=<sig>" (signed) or "<hex>" (unsigned). */
static int parse_chunk_header(cu_sigv4_chunked_t *c)
{
	const char *p = c->line;
	size_t n = c->line_len, i = 0;
	uint64_t v = 0;
	static const char ext[] = ";chunk-signature=";

	while (i < n && i < 9 && hexval((unsigned char)p[i]) >= 0) {
		v = v * 16 + (uint64_t)hexval((unsigned char)p[i]);
		i++;
	}
	if (i == 0 || i > 8)
		return CU_ERR_PARSE;
	if (c->mode == CU_SIGV4_PAYLOAD_STREAMING_SIGNED) {
		struct slice s = {p + i + sizeof(ext) - 1, 0};

		if (n - i != sizeof(ext) - 1 + CU_SIGV4_SIG_HEX_LEN ||
		    memcmp(p + i, ext, sizeof(ext) - 1) != 0)
			return CU_ERR_PARSE;
		s.n = CU_SIGV4_SIG_HEX_LEN;
		if (!is_lower_hex(s, CU_SIGV4_SIG_HEX_LEN))
			return CU_ERR_PARSE;
		memcpy(c->chunk_sig, s.p, CU_SIGV4_SIG_HEX_LEN);
		c->chunk_sig[CU_SIGV4_SIG_HEX_LEN] = '\0';
	} else if (i != n) {
		return CU_ERR_PARSE;
	}
	if (v > c->max_chunk)
		return CU_ERR_TOOLARGE;
	if (c->decoded_length >= 0 &&
	    v > (uint64_t)c->decoded_length - c->total)
		return CU_ERR_RANGE;
	c->size = (size_t)v;
	c->got = 0;
	return 0;
}

/* Check the signature of the buffered chunk (size bytes). */
static int verify_chunk(cu_sigv4_chunked_t *c)
{
	char sig[CU_SIGV4_SIG_HEX_LEN + 1];
	int r;

	r = cu_sigv4_chunk_signature(c->key, c->amz_date, c->scope, c->prev_sig,
	                             c->data, c->size, sig);
	if (r != 0)
		return r;
	if (!cu_ct_equal(sig, c->chunk_sig, CU_SIGV4_SIG_HEX_LEN))
		return CU_ERR_AUTH;
	memcpy(c->prev_sig, sig, sizeof(sig));
	return 0;
}

static int grow_data(cu_sigv4_chunked_t *c, size_t need)
{
	size_t cap;
	unsigned char *q;

	if (need <= c->data_cap)
		return 0;
	/* grow with what arrives, not with what the header claims */
	cap = c->data_cap ? c->data_cap : 65536;
	while (cap < need)
		cap *= 2;
	if (cap > c->size)
		cap = c->size;
	q = malloc(cap);
	if (q == NULL)
		return CU_ERR_NOMEM;
	if (c->data != NULL) {
		memcpy(q, c->data, c->got);
		cu_memzero(c->data, c->data_cap);
		free(c->data);
	}
	c->data = q;
	c->data_cap = cap;
	return 0;
}

/* One trailer line "name:value" (unsigned mode). */
static int trailer_line(cu_sigv4_chunked_t *c)
{
	const char *name = cksum_name(c->alg);
	size_t nl = strlen(name), colon = 0;
	struct slice v;

	while (colon < c->line_len && c->line[colon] != ':')
		colon++;
	if (colon == c->line_len || c->alg == CU_SIGV4_CKSUM_NONE ||
	    c->have_trailer || !ieq(c->line, colon, name, nl))
		return CU_ERR_PARSE;
	v.p = c->line + colon + 1;
	v.n = c->line_len - colon - 1;
	v = sl_trim(v);
	if (v.n == 0 || v.n >= sizeof(c->checksum))
		return CU_ERR_PARSE;
	memcpy(c->checksum, v.p, v.n);
	c->checksum[v.n] = '\0';
	c->have_trailer = 1;
	return 0;
}

/* A complete line (without CRLF) in c->line: act on it. */
static int on_line(cu_sigv4_chunked_t *c)
{
	int r;

	switch (c->st) {
	case ST_HDR:
		if ((r = parse_chunk_header(c)) != 0)
			return r;
		if (c->size > 0) {
			c->st = ST_DATA;
			return 0;
		}
		if (c->mode == CU_SIGV4_PAYLOAD_STREAMING_SIGNED) {
			if ((r = verify_chunk(c)) != 0)
				return r;
			c->st = ST_END;
		} else {
			c->st = ST_TRAILER;
		}
		return 0;
	case ST_END:
		if (c->line_len != 0)
			return CU_ERR_PARSE;
		c->st = ST_DONE;
		return 0;
	case ST_TRAILER:
		if (c->line_len != 0)
			return trailer_line(c);
		if ((r = cksum_check(c)) != 0)
			return r;
		c->st = ST_DONE;
		return 0;
	default:
		return CU_ERR_INTERNAL;
	}
}

static int feed(cu_sigv4_chunked_t *c, const unsigned char *p, size_t len,
                cu_sigv4_sink_fn sink, void *arg)
{
	int r;

	while (len > 0) {
		switch (c->st) {
		case ST_HDR:
		case ST_END:
		case ST_TRAILER:
			if (*p == '\n') {
				if (c->line_len == 0 ||
				    c->line[c->line_len - 1] != '\r')
					return CU_ERR_PARSE;
				c->line_len--;
				c->line[c->line_len] = '\0';
				if ((r = on_line(c)) != 0)
					return r;
				c->line_len = 0;
			} else {
				if (c->line_len == CU_SIGV4_CHUNK_HDR_MAX ||
				    (c->line_len > 0 &&
				     c->line[c->line_len - 1] == '\r'))
					return CU_ERR_PARSE;
				c->line[c->line_len++] = (char)*p;
			}
			p++;
			len--;
			break;
		case ST_DATA: {
			size_t n = c->size - c->got;

			if (n > len)
				n = len;
			if (c->mode == CU_SIGV4_PAYLOAD_STREAMING_SIGNED) {
				if ((r = grow_data(c, c->got + n)) != 0)
					return r;
				memcpy(c->data + c->got, p, n);
			} else {
				if ((r = cksum_update(c, p, n)) != 0)
					return r;
				if ((r = sink(arg, p, n)) != 0)
					return r;
				c->total += n;
			}
			c->got += n;
			p += n;
			len -= n;
			if (c->got < c->size)
				break;
			if (c->mode == CU_SIGV4_PAYLOAD_STREAMING_SIGNED) {
				if ((r = verify_chunk(c)) != 0)
					return r;
				if ((r = sink(arg, c->data, c->size)) != 0)
					return r;
				c->total += c->size;
			}
			c->st = ST_DATA_CR;
			break;
		}
		case ST_DATA_CR:
			if (*p != '\r')
				return CU_ERR_PARSE;
			c->st = ST_DATA_LF;
			p++;
			len--;
			break;
		case ST_DATA_LF:
			if (*p != '\n')
				return CU_ERR_PARSE;
			c->st = ST_HDR;
			p++;
			len--;
			break;
		case ST_DONE:
		default:
			return CU_ERR_PARSE; /* bytes after the end */
		}
	}
	return 0;
}

int cu_sigv4_chunked_feed(cu_sigv4_chunked_t *c, const void *data, size_t len,
                          cu_sigv4_sink_fn sink, void *arg)
{
	if (c->err != 0)
		return c->err;
	if (len == 0)
		return 0;
	c->err = feed(c, data, len, sink, arg);
	return c->err;
}

int cu_sigv4_chunked_finish(cu_sigv4_chunked_t *c)
{
	if (c->err != 0)
		return c->err;
	if (c->st != ST_DONE)
		c->err = CU_ERR_PARSE;
	else if (c->decoded_length >= 0 &&
	         c->total != (uint64_t)c->decoded_length)
		c->err = CU_ERR_RANGE;
	return c->err;
}

const char *cu_sigv4_chunked_checksum(const cu_sigv4_chunked_t *c,
                                      enum cu_sigv4_checksum *alg)
{
	if (c == NULL || c->st != ST_DONE || c->err != 0 || !c->have_trailer)
		return NULL;
	if (alg != NULL)
		*alg = c->alg;
	return c->checksum;
}

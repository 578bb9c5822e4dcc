/* vaultc.c - HTTPS client to a tenant's key vault (libcurl), with every
 * failure classified as a denial or an outage. */
#include "store/vaultc.h"
#include "core/b64.h"
#include "core/err.h"
#include "core/secmem.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYOP_RESPONSE_MAX  (64 * 1024)
#define EVENTS_RESPONSE_MAX (2 * 1024 * 1024)
#define JSON_DEPTH_MAX      32
#define TOKEN_MAX           4096
#define AUTH_PREFIX         "Authorization: Bearer "

/* ---- reasons --------------------------------------------------------- */

const char *cu_vaultc_reason_name(enum cu_vaultc_reason r)
{
	switch (r) {
	case CU_VAULTC_OK:
		return "OK";
	case CU_VAULTC_KEY_NOT_FOUND:
		return "KeyNotFound";
	case CU_VAULTC_KEY_DELETED:
		return "KeyDeleted";
	case CU_VAULTC_KEY_DISABLED:
		return "KeyDisabled";
	case CU_VAULTC_KEY_EXPIRED:
		return "KeyExpired";
	case CU_VAULTC_KEY_NOT_YET_VALID:
		return "KeyNotYetValid";
	case CU_VAULTC_OP_NOT_ALLOWED:
		return "KeyOperationNotAllowed";
	case CU_VAULTC_PERMISSION_DENIED:
		return "PermissionDenied";
	case CU_VAULTC_UNAUTHENTICATED:
		return "Unauthenticated";
	case CU_VAULTC_UNWRAP_FAILED:
		return "UnwrapFailed";
	case CU_VAULTC_BAD_REQUEST:
		return "BadRequest";
	case CU_VAULTC_UNREACHABLE:
		return "VaultUnreachable";
	case CU_VAULTC_TIMEOUT:
		return "VaultTimeout";
	case CU_VAULTC_TLS_ERROR:
		return "VaultTlsError";
	case CU_VAULTC_BAD_RESPONSE:
		return "BadResponse";
	}
	return "Unknown";
}

int cu_vaultc_is_denial(enum cu_vaultc_reason r)
{
	return r >= CU_VAULTC_KEY_NOT_FOUND && r <= CU_VAULTC_BAD_REQUEST;
}

int cu_vaultc_is_unreachable(enum cu_vaultc_reason r)
{
	return r >= CU_VAULTC_UNREACHABLE && r <= CU_VAULTC_BAD_RESPONSE;
}

/* The CU_ERR_* of a reason. */
static int reason_err(enum cu_vaultc_reason r)
{
	switch (r) {
	case CU_VAULTC_OK:
		return 0;
	case CU_VAULTC_UNWRAP_FAILED:
		return CU_ERR_AUTH;
	case CU_VAULTC_BAD_REQUEST:
		return CU_ERR_INVAL;
	case CU_VAULTC_TIMEOUT:
		return CU_ERR_TIMEOUT;
	default:
		return cu_vaultc_is_denial(r) ? CU_ERR_DENIED
		                              : CU_ERR_UNAVAILABLE;
	}
}

static void set_res(struct cu_vaultc_result *res, enum cu_vaultc_reason r,
                    const char *msg)
{
	res->reason = r;
	if (msg != NULL)
		snprintf(res->message, sizeof(res->message), "%s", msg);
}

/* ---- kids ------------------------------------------------------------- */

static int is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Parse "https://HOST[:PORT]" at s (len bytes) into origin; *used gets
 * the bytes consumed (the rest must start with '/' or be empty). */
static int parse_origin(const char *s, size_t len, size_t *used,
                        char origin[CU_VAULTC_ORIGIN_MAX + 1])
{
	char host[260];
	size_t i = 8, h = 0;
	unsigned long port = 443;

	if (len < 9 || strncmp(s, "https://", 8) != 0)
		return CU_ERR_INVAL;
	if (s[i] == '[') {
		/* an IPv6 literal: hex digits, ':' and '.' only */
		host[h++] = '[';
		for (i++; i < len && s[i] != ']'; i++) {
			if (h >= 50 ||
			    !(is_hex(s[i]) || s[i] == ':' || s[i] == '.'))
				return CU_ERR_INVAL;
			host[h++] = lower(s[i]);
		}
		if (i >= len || h < 3)
			return CU_ERR_INVAL;
		host[h++] = ']';
		i++;
	} else {
		for (; i < len && s[i] != ':' && s[i] != '/'; i++) {
			if (h >= 253 ||
			    !(is_alnum(s[i]) || s[i] == '-' || s[i] == '.'))
				return CU_ERR_INVAL;
			host[h++] = lower(s[i]);
		}
		if (h == 0 || host[0] == '.' || host[0] == '-')
			return CU_ERR_INVAL;
	}
	host[h] = '\0';
	if (i < len && s[i] == ':') {
		size_t d = 0;
		port = 0;
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, d++) {
			if (d >= 5)
				return CU_ERR_INVAL;
			port = port * 10 + (unsigned long)(s[i] - '0');
		}
		if (d == 0 || port == 0 || port > 65535)
			return CU_ERR_INVAL;
	}
	if (i < len && s[i] != '/')
		return CU_ERR_INVAL;
	*used = i;
	if ((size_t)snprintf(origin, CU_VAULTC_ORIGIN_MAX + 1, "https://%s:%lu",
	                     host, port) > CU_VAULTC_ORIGIN_MAX)
		return CU_ERR_INVAL;
	return 0;
}

int cu_vaultc_kid_parse(const char *s, size_t len, struct cu_vaultc_kid *out)
{
	size_t i = 0, n = 0;

	memset(out, 0, sizeof(*out));
	if (s == NULL || len > CU_VAULTC_KID_MAX ||
	    memchr(s, '\0', len) != NULL)
		goto bad;
	if (parse_origin(s, len, &i, out->origin) != 0)
		goto bad;
	if (len - i < 7 || memcmp(s + i, "/keys/", 6) != 0)
		goto bad;
	for (i += 6; i < len && s[i] != '/'; i++, n++) {
		if (n >= CU_VAULTC_NAME_MAX || !(is_alnum(s[i]) || s[i] == '-'))
			goto bad;
		out->name[n] = s[i];
	}
	if (n == 0)
		goto bad;
	if (i == len)
		return 0;
	i++; /* the '/' */
	if (i == len)
		return 0; /* trailing slash: latest */
	if (len - i != CU_VAULTC_VERSION_LEN)
		goto bad;
	for (n = 0; n < CU_VAULTC_VERSION_LEN; n++) {
		if (!is_hex(s[i + n]))
			goto bad;
		out->version[n] = lower(s[i + n]);
	}
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return CU_ERR_INVAL;
}

int cu_vaultc_kid_format(const struct cu_vaultc_kid *k, char *out, size_t cap)
{
	int n;

	if (k->version[0] != '\0')
		n = snprintf(out, cap, "%s/keys/%s/%s", k->origin, k->name,
		             k->version);
	else
		n = snprintf(out, cap, "%s/keys/%s", k->origin, k->name);
	if (n < 0 || (size_t)n >= cap)
		return CU_ERR_RANGE;
	return 0;
}

/* ---- a response buffer we own (wiped whenever it moves) ---------------- */

struct rbuf {
	char *p;
	size_t len, cap, max;
	int toolarge;
};

static void rbuf_free(struct rbuf *b)
{
	if (b->p != NULL) {
		cu_memzero(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct rbuf *b = arg;
	size_t n = size * nmemb;

	if (n > b->max - b->len) {
		b->toolarge = 1;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		/* grow by copy so no unwiped copy of a key is left behind
		 * by realloc */
		size_t cap = b->cap ? b->cap : 1024;
		char *p;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > b->max + 1)
			cap = b->max + 1;
		if ((p = malloc(cap)) == NULL)
			return 0;
		if (b->p != NULL) {
			memcpy(p, b->p, b->len);
			cu_memzero(b->p, b->cap);
			free(b->p);
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

/* ---- the handle -------------------------------------------------------- */

struct cu_vaultc {
	atomic_int refs;
	char origin[CU_VAULTC_ORIGIN_MAX + 1];
	char *ca_file, *cert_file, *key_file;
	char *auth;      /* "Authorization: Bearer TOKEN" in secmem, or NULL */
	size_t auth_cap; /* bytes of auth */
	long connect_timeout_ms, timeout_ms;
	pthread_mutex_t mu; /* guards the pool */
	CURL **pool;
	size_t npool, pool_max;
	atomic_uint_fast64_t requests, connections;
};

static pthread_mutex_t global_mu = PTHREAD_MUTEX_INITIALIZER;
static int global_inited;

static int global_init(void)
{
	int r = 0;

	pthread_mutex_lock(&global_mu);
	if (!global_inited) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			r = CU_ERR_NOMEM;
		else
			global_inited = 1;
	}
	pthread_mutex_unlock(&global_mu);
	return r;
}

void cu_vaultc_global_cleanup(void)
{
	pthread_mutex_lock(&global_mu);
	if (global_inited)
		curl_global_cleanup();
	global_inited = 0;
	pthread_mutex_unlock(&global_mu);
}

static int dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL)
		return 0;
	if (s[0] == '\0' || strlen(s) > 4096)
		return CU_ERR_INVAL;
	return (*out = strdup(s)) != NULL ? 0 : CU_ERR_NOMEM;
}

int cu_vaultc_new(const struct cu_vaultc_config *cfg, cu_vaultc_t **out)
{
	cu_vaultc_t *v = NULL;
	size_t used = 0, ulen, tlen;
	int r;

	*out = NULL;
	if (cfg == NULL || cfg->url == NULL)
		return CU_ERR_INVAL;
	if ((cfg->cert_file == NULL) != (cfg->key_file == NULL) ||
	    (cfg->cert_file == NULL && cfg->token == NULL))
		return CU_ERR_INVAL;
	if ((r = global_init()) != 0)
		return r;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return CU_ERR_NOMEM;
	atomic_init(&v->refs, 1);
	atomic_init(&v->requests, 0);
	atomic_init(&v->connections, 0);
	pthread_mutex_init(&v->mu, NULL);
	ulen = strnlen(cfg->url, CU_VAULTC_ORIGIN_MAX + 2);
	while (ulen > 0 && ulen <= CU_VAULTC_ORIGIN_MAX &&
	       cfg->url[ulen - 1] == '/')
		ulen--;
	if (ulen > CU_VAULTC_ORIGIN_MAX ||
	    parse_origin(cfg->url, ulen, &used, v->origin) != 0 ||
	    used != ulen) {
		r = CU_ERR_INVAL;
		goto out;
	}
	if ((r = dup_opt(cfg->ca_file, &v->ca_file)) != 0 ||
	    (r = dup_opt(cfg->cert_file, &v->cert_file)) != 0 ||
	    (r = dup_opt(cfg->key_file, &v->key_file)) != 0)
		goto out;
	if (cfg->token != NULL) {
		tlen = strnlen(cfg->token, TOKEN_MAX + 1);
		if (tlen == 0 || tlen > TOKEN_MAX) {
			r = CU_ERR_INVAL;
			goto out;
		}
		for (size_t i = 0; i < tlen; i++)
			if (cfg->token[i] <= ' ' || cfg->token[i] > '~') {
				r = CU_ERR_INVAL;
				goto out;
			}
		v->auth_cap = sizeof(AUTH_PREFIX) + tlen;
		if ((v->auth = cu_secmem_alloc(v->auth_cap)) == NULL) {
			r = CU_ERR_NOMEM;
			goto out;
		}
		memcpy(v->auth, AUTH_PREFIX, sizeof(AUTH_PREFIX) - 1);
		memcpy(v->auth + sizeof(AUTH_PREFIX) - 1, cfg->token, tlen);
	}
	v->connect_timeout_ms = cfg->connect_timeout_ms
	                            ? (long)cfg->connect_timeout_ms
	                            : CU_VAULTC_CONNECT_TIMEOUT_MS;
	v->timeout_ms =
	    cfg->timeout_ms ? (long)cfg->timeout_ms : CU_VAULTC_TIMEOUT_MS;
	v->pool_max = cfg->pool_max ? cfg->pool_max : CU_VAULTC_POOL_MAX;
	if ((v->pool = calloc(v->pool_max, sizeof(*v->pool))) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	*out = v;
	v = NULL;
	r = 0;
out:
	cu_vaultc_free(v);
	return r;
}

cu_vaultc_t *cu_vaultc_ref(cu_vaultc_t *v)
{
	atomic_fetch_add(&v->refs, 1);
	return v;
}

void cu_vaultc_free(cu_vaultc_t *v)
{
	if (v == NULL || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	for (size_t i = 0; i < v->npool; i++)
		curl_easy_cleanup(v->pool[i]);
	free(v->pool);
	free(v->ca_file);
	free(v->cert_file);
	free(v->key_file);
	cu_secmem_free(v->auth, v->auth_cap);
	pthread_mutex_destroy(&v->mu);
	free(v);
}

const char *cu_vaultc_origin(const cu_vaultc_t *v)
{
	return v->origin;
}

void cu_vaultc_stats(cu_vaultc_t *v, struct cu_vaultc_stats *out)
{
	out->requests = atomic_load(&v->requests);
	out->connections = atomic_load(&v->connections);
}

/* An easy handle from the pool (it keeps its connection alive), or a new
 * one with the options that never change. */
static CURL *handle_get(cu_vaultc_t *v)
{
	CURL *h = NULL;
	int bad = 0;

	pthread_mutex_lock(&v->mu);
	if (v->npool > 0)
		h = v->pool[--v->npool];
	pthread_mutex_unlock(&v->mu);
	if (h != NULL)
		return h;
	if ((h = curl_easy_init()) == NULL)
		return NULL;
	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_SSLVERSION,
	                        (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	                        v->connect_timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK;
	if (v->ca_file != NULL) {
		bad |=
		    curl_easy_setopt(h, CURLOPT_CAINFO, v->ca_file) != CURLE_OK;
		/* only this CA: not the system's directory as well */
		bad |= curl_easy_setopt(h, CURLOPT_CAPATH, NULL) != CURLE_OK;
	}
	if (v->cert_file != NULL) {
		bad |= curl_easy_setopt(h, CURLOPT_SSLCERT, v->cert_file) !=
		       CURLE_OK;
		bad |=
		    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_SSLKEY, v->key_file) !=
		       CURLE_OK;
		bad |=
		    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK;
	}
	if (bad) {
		curl_easy_cleanup(h);
		return NULL;
	}
	return h;
}

/* Back to the pool, or closed when the transfer failed (its connection
 * is in an unknown state) or the pool is full. */
static void handle_put(cu_vaultc_t *v, CURL *h, int ok)
{
	if (h == NULL)
		return;
	if (ok) {
		pthread_mutex_lock(&v->mu);
		if (v->npool < v->pool_max) {
			v->pool[v->npool++] = h;
			h = NULL;
		}
		pthread_mutex_unlock(&v->mu);
	}
	curl_easy_cleanup(h);
}

/* The reason of a transport failure. */
static enum cu_vaultc_reason curl_reason(CURLcode c, int *err)
{
	*err = CU_ERR_UNAVAILABLE;
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT:
		*err = CU_ERR_TIMEOUT;
		return CU_VAULTC_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_USE_SSL_FAILED:
		return CU_VAULTC_TLS_ERROR;
	case CURLE_WRITE_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return CU_VAULTC_BAD_RESPONSE;
	case CURLE_OUT_OF_MEMORY:
		*err = CU_ERR_NOMEM;
		return CU_VAULTC_UNREACHABLE;
	default:
		/* DNS, refused, reset, nothing received, ... */
		return CU_VAULTC_UNREACHABLE;
	}
}

/* One HTTP exchange: method GET or POST (body of body_len bytes, which may
 * be secret), path with its query, the response into *b (max bytes).
 * Returns 0 with *status set for any HTTP answer, or the classified
 * transport error with res filled. */
static int exchange(cu_vaultc_t *v, const char *method, const char *path,
                    const char *body, size_t body_len, long timeout_ms,
                    size_t max, long *status, struct rbuf *b,
                    struct cu_vaultc_result *res)
{
	char url[CU_VAULTC_ORIGIN_MAX + 640];
	struct curl_slist *hdr = NULL, *t;
	CURL *h = NULL;
	CURLcode c;
	long nconn = 0;
	int r = 0, ok = 0;

	*status = 0;
	b->max = max;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", v->origin, path) >=
	    sizeof(url))
		return CU_ERR_RANGE;
	if ((h = handle_get(v)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if ((t = curl_slist_append(hdr, "Accept: application/json")) == NULL)
		goto nomem;
	hdr = t;
	if ((t = curl_slist_append(hdr, "Expect:")) == NULL)
		goto nomem;
	hdr = t;
	if (body != NULL) {
		t = curl_slist_append(hdr, "Content-Type: application/json");
		if (t == NULL)
			goto nomem;
		hdr = t;
	}
	if (v->auth != NULL) {
		if ((t = curl_slist_append(hdr, v->auth)) == NULL)
			goto nomem;
		hdr = t;
	}
	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, b) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK)
		goto nomem;
	if (strcmp(method, "POST") == 0) {
		if (curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		                     (curl_off_t)body_len) != CURLE_OK ||
		    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK)
			goto nomem;
	} else if (curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) != CURLE_OK) {
		goto nomem;
	}
	atomic_fetch_add(&v->requests, 1);
	c = curl_easy_perform(h);
	if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nconn) == CURLE_OK &&
	    nconn > 0)
		atomic_fetch_add(&v->connections, (uint_fast64_t)nconn);
	/* drop the pointer to the (secret) body before the handle idles */
	(void)curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	(void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	if (c != CURLE_OK) {
		res->reason = curl_reason(c, &r);
		if (b->toolarge) {
			res->reason = CU_VAULTC_BAD_RESPONSE;
			r = CU_ERR_UNAVAILABLE;
		}
		snprintf(res->message, sizeof(res->message),
		         "%s %.120s: %.100s", method, v->origin,
		         b->toolarge ? "response too large"
		                     : curl_easy_strerror(c));
		goto out;
	}
	(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	res->status = *status;
	ok = 1;
	goto out;
nomem:
	r = CU_ERR_NOMEM;
out:
	for (t = hdr; t != NULL; t = t->next)
		cu_memzero(t->data, strlen(t->data));
	curl_slist_free_all(hdr);
	handle_put(v, h, ok);
	return r;
}

/* ---- a strict scanner for the one JSON member that holds a secret ------ */

struct scan {
	const char *p, *end;
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	                         *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* A string at s->p; *start and *len its contents, *esc whether it had an
 * escape. */
static int scan_string(struct scan *s, const char **start, size_t *len,
                       int *esc)
{
	*esc = 0;
	if (s->p >= s->end || *s->p != '"')
		return CU_ERR_PARSE;
	*start = ++s->p;
	while (s->p < s->end && *s->p != '"') {
		unsigned char c = (unsigned char)*s->p;
		if (c < 0x20)
			return CU_ERR_PARSE;
		if (c == '\\') {
			*esc = 1;
			if (++s->p >= s->end)
				return CU_ERR_PARSE;
			if (*s->p == 'u') {
				if (s->end - s->p < 5)
					return CU_ERR_PARSE;
				for (int i = 1; i <= 4; i++)
					if (!is_hex(s->p[i]))
						return CU_ERR_PARSE;
				s->p += 4;
			} else if (strchr("\"\\/bfnrt", *s->p) == NULL ||
			           *s->p == '\0') {
				return CU_ERR_PARSE;
			}
		}
		s->p++;
	}
	if (s->p >= s->end)
		return CU_ERR_PARSE;
	*len = (size_t)(s->p - *start);
	s->p++;
	return 0;
}

static int skip_value(struct scan *s, int depth);

static int skip_container(struct scan *s, int depth, char close)
{
	const char *st;
	size_t n;
	int esc, r;

	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 0;
	}
	for (;;) {
		ws(s);
		if (close == '}') {
			if ((r = scan_string(s, &st, &n, &esc)) != 0)
				return r;
			ws(s);
			if (s->p >= s->end || *s->p != ':')
				return CU_ERR_PARSE;
			s->p++;
		}
		if ((r = skip_value(s, depth + 1)) != 0)
			return r;
		ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == close) {
			s->p++;
			return 0;
		}
		return CU_ERR_PARSE;
	}
}

static int skip_value(struct scan *s, int depth)
{
	const char *st;
	size_t n;
	int esc;

	if (depth > JSON_DEPTH_MAX)
		return CU_ERR_PARSE;
	ws(s);
	if (s->p >= s->end)
		return CU_ERR_PARSE;
	switch (*s->p) {
	case '"':
		return scan_string(s, &st, &n, &esc);
	case '{':
		return skip_container(s, depth, '}');
	case '[':
		return skip_container(s, depth, ']');
	default:
		/* numbers and literals: jansson checks them afterwards */
		st = s->p;
		while (s->p < s->end && (is_alnum(*s->p) || *s->p == '-' ||
		                         *s->p == '+' || *s->p == '.'))
			s->p++;
		return s->p > st ? 0 : CU_ERR_PARSE;
	}
}

/* Find the top-level member "value" of a JSON object: a string without
 * escapes. */
static int find_value(const char *text, size_t len, const char **vstart,
                      size_t *vlen)
{
	struct scan s = {text, text + len};
	const char *st;
	size_t n;
	int esc, r, found = 0;

	ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return CU_ERR_PARSE;
	s.p++;
	ws(&s);
	if (s.p < s.end && *s.p == '}')
		return CU_ERR_PARSE;
	for (;;) {
		ws(&s);
		if ((r = scan_string(&s, &st, &n, &esc)) != 0)
			return r;
		ws(&s);
		if (s.p >= s.end || *s.p != ':')
			return CU_ERR_PARSE;
		s.p++;
		ws(&s);
		if (!esc && n == 5 && memcmp(st, "value", 5) == 0 && !found &&
		    s.p < s.end && *s.p == '"') {
			if ((r = scan_string(&s, vstart, vlen, &esc)) != 0)
				return r;
			if (esc)
				return CU_ERR_PARSE;
			found = 1;
		} else if ((r = skip_value(&s, 1)) != 0) {
			return r;
		}
		ws(&s);
		if (s.p < s.end && *s.p == ',') {
			s.p++;
			continue;
		}
		if (s.p < s.end && *s.p == '}')
			break;
		return CU_ERR_PARSE;
	}
	s.p++;
	ws(&s);
	if (s.p != s.end || !found)
		return CU_ERR_PARSE;
	return 0;
}

/* The version in a response's kid, checked to name `name` (NULL: any). */
static int kid_version(const json_t *kid, const char *name,
                       char version[CU_VAULTC_VERSION_LEN + 1])
{
	struct cu_vaultc_kid k;

	if (!json_is_string(kid) ||
	    cu_vaultc_kid_parse(json_string_value(kid), json_string_length(kid),
	                        &k) != 0 ||
	    (name != NULL && strcmp(k.name, name) != 0))
		return CU_ERR_PARSE;
	if (version != NULL)
		memcpy(version, k.version, sizeof(k.version));
	return 0;
}

int cu_vaultc_parse_value(char *text, size_t len, const char *name,
                          unsigned char *out, size_t cap, size_t *out_len,
                          char version[CU_VAULTC_VERSION_LEN + 1])
{
	const char *vs = NULL;
	size_t vl = 0;
	json_t *j = NULL;
	int r;

	*out_len = 0;
	if ((r = find_value(text, len, &vs, &vl)) != 0)
		goto out;
	if ((r = cu_b64url_decode(vs, vl, out, cap, out_len)) != 0)
		goto out;
	/* the secret is in out now: blank its encoding in place (still
	 * valid JSON) before anything else copies the text */
	memset(text + (vs - text), 'A', vl);
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j) ||
	    kid_version(json_object_get(j, "kid"), name, version) != 0)
		r = CU_ERR_PARSE;
out:
	json_decref(j);
	if (r != 0) {
		cu_memzero(out, cap);
		*out_len = 0;
	}
	return r;
}

/* ---- KeyBundles -------------------------------------------------------- */

static int64_t opt_int(const json_t *o, const char *name, int *bad)
{
	const json_t *v = json_object_get(o, name);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		*bad = 1;
		return 0;
	}
	return (int64_t)json_integer_value(v);
}

static int copy_str(char *dst, size_t cap, const json_t *v)
{
	if (!json_is_string(v) || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return CU_ERR_PARSE;
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static unsigned rsa_bits(const json_t *n)
{
	unsigned char *raw = NULL;
	size_t len = 0, i = 0;
	unsigned bits = 0;

	if (!json_is_string(n) ||
	    cu_b64url_decode_alloc(json_string_value(n), json_string_length(n),
	                           2048, &raw, &len) != 0)
		return 0;
	while (i < len && raw[i] == 0)
		i++;
	if (i < len) {
		unsigned char top = raw[i];
		bits = (unsigned)(len - i - 1) * 8;
		while (top) {
			bits++;
			top >>= 1;
		}
	}
	free(raw);
	return bits;
}

int cu_vaultc_parse_key(const char *text, size_t len, struct cu_vaultc_key *key)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opnames[] = {
	    {"encrypt", CU_VAULTC_OP_ENCRYPT},
	    {"decrypt", CU_VAULTC_OP_DECRYPT},
	    {"sign", CU_VAULTC_OP_SIGN},
	    {"verify", CU_VAULTC_OP_VERIFY},
	    {"wrapKey", CU_VAULTC_OP_WRAP},
	    {"unwrapKey", CU_VAULTC_OP_UNWRAP},
	};
	json_t *j = NULL, *k, *a, *ops, *v;
	struct cu_vaultc_kid kid;
	const char *kty;
	size_t i;
	int r = CU_ERR_PARSE, bad = 0;

	memset(key, 0, sizeof(*key));
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	k = json_object_get(j, "key");
	a = json_object_get(j, "attributes");
	if (!json_is_object(k) || !json_is_object(a))
		goto out;
	v = json_object_get(k, "kid");
	if (!json_is_string(v) ||
	    cu_vaultc_kid_parse(json_string_value(v), json_string_length(v),
	                        &kid) != 0)
		goto out;
	memcpy(key->name, kid.name, sizeof(kid.name));
	memcpy(key->version, kid.version, sizeof(kid.version));
	kty = json_string_value(json_object_get(k, "kty"));
	if (kty == NULL)
		goto out;
	key->hsm =
	    strlen(kty) > 4 && strcmp(kty + strlen(kty) - 4, "-HSM") == 0;
	if (strcmp(kty, "RSA") == 0 || strcmp(kty, "RSA-HSM") == 0) {
		key->kty = CU_VAULTC_KTY_RSA;
		key->bits = rsa_bits(json_object_get(k, "n"));
		if (key->bits == 0)
			goto out;
	} else if (strcmp(kty, "EC") == 0 || strcmp(kty, "EC-HSM") == 0) {
		key->kty = CU_VAULTC_KTY_EC;
		v = json_object_get(k, "crv");
		if (v != NULL && copy_str(key->crv, sizeof(key->crv), v) != 0)
			goto out;
		key->bits = strcmp(key->crv, "P-256") == 0   ? 256
		            : strcmp(key->crv, "P-384") == 0 ? 384
		            : strcmp(key->crv, "P-521") == 0 ? 521
		                                             : 0;
	} else if (strcmp(kty, "oct") == 0 || strcmp(kty, "oct-HSM") == 0) {
		key->kty = CU_VAULTC_KTY_OCT;
		v = json_object_get(k, "key_size");
		if (json_is_integer(v) && json_integer_value(v) > 0 &&
		    json_integer_value(v) <= 65536)
			key->bits = (unsigned)json_integer_value(v);
	} else {
		key->kty = CU_VAULTC_KTY_UNKNOWN;
		key->hsm = 0;
	}
	ops = json_object_get(k, "key_ops");
	if (ops != NULL && !json_is_array(ops))
		goto out;
	for (i = 0; i < json_array_size(ops); i++) {
		const char *o = json_string_value(json_array_get(ops, i));
		if (o == NULL)
			goto out;
		for (size_t x = 0; x < sizeof(opnames) / sizeof(opnames[0]);
		     x++)
			if (strcmp(o, opnames[x].name) == 0)
				key->ops |= opnames[x].bit;
	}
	v = json_object_get(a, "enabled");
	if (v != NULL && !json_is_boolean(v))
		goto out;
	key->enabled = v == NULL || json_is_true(v); /* Azure: default on */
	key->nbf = opt_int(a, "nbf", &bad);
	key->exp = opt_int(a, "exp", &bad);
	key->created = opt_int(a, "created", &bad);
	key->updated = opt_int(a, "updated", &bad);
	v = json_object_get(a, "recoverableDays");
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= 100000)
		key->recoverable_days = (int)json_integer_value(v);
	else if (v != NULL && !json_is_null(v))
		bad = 1;
	v = json_object_get(a, "recoveryLevel");
	if (v != NULL &&
	    copy_str(key->recovery_level, sizeof(key->recovery_level), v) != 0)
		bad = 1;
	if (bad)
		goto out;
	r = 0;
out:
	json_decref(j);
	if (r != 0)
		memset(key, 0, sizeof(*key));
	return r;
}

/* ---- classification ---------------------------------------------------- */

/* strcasestr for a phrase in the vault's message. */
static int has(const char *hay, const char *needle)
{
	return hay != NULL && strcasestr(hay, needle) != NULL;
}

int cu_vaultc_classify(long status, const char *op, const char *text,
                       size_t len, struct cu_vaultc_result *res)
{
	json_t *j = NULL, *e;
	const char *code = NULL, *msg = NULL, *inner = NULL;
	enum cu_vaultc_reason r;

	res->status = status;
	res->code[0] = res->message[0] = '\0';
	if (status >= 200 && status < 300) {
		res->reason = CU_VAULTC_OK;
		return 0;
	}
	if (text != NULL && len > 0)
		j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	e = json_object_get(j, "error");
	code = json_string_value(json_object_get(e, "code"));
	msg = json_string_value(json_object_get(e, "message"));
	inner = json_string_value(
	    json_object_get(json_object_get(e, "innererror"), "code"));
	if (code != NULL)
		snprintf(res->code, sizeof(res->code), "%s", code);
	if (msg != NULL)
		snprintf(res->message, sizeof(res->message), "%s", msg);
	else
		snprintf(res->message, sizeof(res->message),
		         "HTTP %ld from the vault", status);

	if (status == 401) {
		r = CU_VAULTC_UNAUTHENTICATED;
	} else if (status == 403) {
		/* Key names cannot hold spaces, so these phrases can only
		 * come from the vault's own text. An RBAC refusal first: its
		 * message names the resource. */
		if (has(msg, "Caller is not authorized") ||
		    (inner != NULL && strcmp(inner, "AccessDenied") == 0))
			r = CU_VAULTC_PERMISSION_DENIED;
		else if ((code && strcmp(code, "KeyDisabled") == 0) ||
		         has(msg, "key is disabled") ||
		         has(msg, "disabled key"))
			r = CU_VAULTC_KEY_DISABLED;
		else if ((code && strcmp(code, "KeyExpired") == 0) ||
		         has(msg, "has expired") || has(msg, "expired key"))
			r = CU_VAULTC_KEY_EXPIRED;
		else if (has(msg, "not yet valid"))
			r = CU_VAULTC_KEY_NOT_YET_VALID;
		else if (has(msg, "key_ops") || has(msg, "not permitted"))
			r = CU_VAULTC_OP_NOT_ALLOWED;
		else
			r = CU_VAULTC_PERMISSION_DENIED;
	} else if (status == 404 || status == 410) {
		r = CU_VAULTC_KEY_NOT_FOUND;
	} else if (status == 408) {
		r = CU_VAULTC_TIMEOUT;
	} else if (status == 429 || status >= 500) {
		r = CU_VAULTC_UNREACHABLE;
	} else if (status == 400 && op != NULL &&
	           strcmp(op, "unwrapkey") == 0) {
		r = CU_VAULTC_UNWRAP_FAILED;
	} else if (status >= 400 && status < 500) {
		r = CU_VAULTC_BAD_REQUEST;
	} else {
		r = CU_VAULTC_BAD_RESPONSE; /* 1xx, 3xx: not followed */
	}
	json_decref(j);
	res->reason = r;
	return reason_err(r);
}

/* ---- operations -------------------------------------------------------- */

static int kid_for(cu_vaultc_t *v, const char *kid, struct cu_vaultc_kid *k,
                   struct cu_vaultc_result *res)
{
	if (kid == NULL ||
	    cu_vaultc_kid_parse(kid, strnlen(kid, CU_VAULTC_KID_MAX + 1), k) !=
	        0) {
		set_res(res, CU_VAULTC_BAD_REQUEST, "malformed key identifier");
		return CU_ERR_INVAL;
	}
	if (strcmp(k->origin, v->origin) != 0) {
		set_res(res, CU_VAULTC_BAD_REQUEST,
		        "the key identifier names another vault");
		return CU_ERR_INVAL;
	}
	return 0;
}

int cu_vaultc_get_key(cu_vaultc_t *v, const char *kid,
                      struct cu_vaultc_key *key, struct cu_vaultc_result *res)
{
	struct cu_vaultc_result dummy;
	struct cu_vaultc_kid k;
	struct rbuf b = {0};
	char path[320];
	long status;
	int r;

	if (res == NULL)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	memset(key, 0, sizeof(*key));
	if ((r = kid_for(v, kid, &k, res)) != 0)
		return r;
	snprintf(path, sizeof(path), "/keys/%s%s%s?api-version=%s", k.name,
	         k.version[0] ? "/" : "", k.version, CU_VAULTC_API_VERSION);
	if ((r = exchange(v, "GET", path, NULL, 0, v->timeout_ms,
	                  KEYOP_RESPONSE_MAX, &status, &b, res)) != 0)
		goto out;
	if ((r = cu_vaultc_classify(status, "get", b.p, b.len, res)) != 0)
		goto out;
	r = b.p != NULL ? cu_vaultc_parse_key(b.p, b.len, key) : CU_ERR_PARSE;
	if (r == 0 && strcmp(key->name, k.name) != 0)
		r = CU_ERR_PARSE;
	if (r != 0) {
		if (r != CU_ERR_NOMEM) {
			set_res(res, CU_VAULTC_BAD_RESPONSE,
			        "the vault's KeyBundle could not be parsed");
			r = CU_ERR_UNAVAILABLE;
		}
		memset(key, 0, sizeof(*key));
	}
out:
	rbuf_free(&b);
	return r;
}

int cu_vaultc_get_deleted(cu_vaultc_t *v, const char *kid, int64_t *purge_at,
                          struct cu_vaultc_result *res)
{
	struct cu_vaultc_result dummy;
	struct cu_vaultc_kid k;
	struct rbuf b = {0};
	json_t *j = NULL;
	char path[320];
	long status;
	int r;

	if (res == NULL)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	if (purge_at != NULL)
		*purge_at = 0;
	if ((r = kid_for(v, kid, &k, res)) != 0)
		return r;
	snprintf(path, sizeof(path), "/deletedkeys/%s?api-version=%s", k.name,
	         CU_VAULTC_API_VERSION);
	if ((r = exchange(v, "GET", path, NULL, 0, v->timeout_ms,
	                  KEYOP_RESPONSE_MAX, &status, &b, res)) != 0)
		goto out;
	if ((r = cu_vaultc_classify(status, "getdeleted", b.p, b.len, res)) !=
	    0)
		goto out;
	j = b.p ? json_loadb(b.p, b.len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (!json_is_object(j)) {
		set_res(res, CU_VAULTC_BAD_RESPONSE,
		        "the vault's DeletedKeyBundle could not be parsed");
		r = CU_ERR_UNAVAILABLE;
		goto out;
	}
	if (purge_at != NULL &&
	    json_is_integer(json_object_get(j, "scheduledPurgeDate")))
		*purge_at = (int64_t)json_integer_value(
		    json_object_get(j, "scheduledPurgeDate"));
	set_res(res, CU_VAULTC_KEY_DELETED, "the key is in the deleted state");
out:
	json_decref(j);
	rbuf_free(&b);
	return r;
}

const char *cu_vaultc_alg_name(enum cu_vaultc_alg alg)
{
	switch (alg) {
	case CU_VAULTC_RSA_OAEP_256:
		return "RSA-OAEP-256";
	case CU_VAULTC_A256KW:
		return "A256KW";
	}
	return NULL;
}

/* wrapkey or unwrapkey. The request body holds in (a plaintext key for
 * wrapkey) and the response the output (a plaintext key for unwrapkey):
 * both live in buffers that are wiped. */
static int key_op(cu_vaultc_t *v, const char *op, const char *kid,
                  enum cu_vaultc_alg alg, const unsigned char *in,
                  size_t in_len, unsigned char *out, size_t cap,
                  size_t *out_len, char version[CU_VAULTC_VERSION_LEN + 1],
                  struct cu_vaultc_result *res)
{
	struct cu_vaultc_result dummy;
	struct cu_vaultc_kid k;
	struct rbuf b = {0};
	const char *algname = cu_vaultc_alg_name(alg);
	char path[360], *body = NULL, ver[CU_VAULTC_VERSION_LEN + 1] = "";
	size_t body_cap = 0, enc_len = 0, pre;
	long status;
	int r;

	if (res == NULL)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	*out_len = 0;
	if (version != NULL)
		version[0] = '\0';
	if ((r = kid_for(v, kid, &k, res)) != 0)
		goto out;
	if (algname == NULL || in == NULL || in_len == 0 ||
	    in_len > CU_VAULTC_WRAPPED_MAX) {
		set_res(res, CU_VAULTC_BAD_REQUEST, "bad algorithm or length");
		r = in_len > CU_VAULTC_WRAPPED_MAX ? CU_ERR_RANGE
		                                   : CU_ERR_INVAL;
		goto out;
	}
	/* {"alg":"ALG","value":"B64"} built by hand in locked memory */
	pre = strlen("{\"alg\":\"\",\"value\":\"") + strlen(algname);
	body_cap = pre + cu_b64url_encoded_len(in_len) + 3;
	if ((body = cu_secmem_alloc(body_cap)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	snprintf(body, body_cap, "{\"alg\":\"%s\",\"value\":\"", algname);
	if ((r = cu_b64url_encode(in, in_len, body + pre, body_cap - pre,
	                          &enc_len)) != 0)
		goto out;
	memcpy(body + pre + enc_len, "\"}", 3);
	snprintf(path, sizeof(path), "/keys/%s/%s/%s?api-version=%s", k.name,
	         k.version, op, CU_VAULTC_API_VERSION);
	if ((r = exchange(v, "POST", path, body, pre + enc_len + 2,
	                  v->timeout_ms, KEYOP_RESPONSE_MAX, &status, &b,
	                  res)) != 0)
		goto out;
	if ((r = cu_vaultc_classify(status, op, b.p, b.len, res)) != 0)
		goto out;
	r = b.p != NULL ? cu_vaultc_parse_value(b.p, b.len, k.name, out, cap,
	                                        out_len, ver)
	                : CU_ERR_PARSE;
	if (r == CU_ERR_RANGE) {
		set_res(res, CU_VAULTC_OK, "the output buffer is too small");
		goto out;
	}
	if (r != 0 || (k.version[0] != '\0' && strcmp(ver, k.version) != 0) ||
	    ver[0] == '\0') {
		set_res(res, CU_VAULTC_BAD_RESPONSE,
		        "the vault's key operation result could not be parsed");
		r = CU_ERR_UNAVAILABLE;
		goto out;
	}
	if (version != NULL)
		memcpy(version, ver, sizeof(ver));
out:
	if (r != 0 && out != NULL) {
		cu_memzero(out, cap);
		*out_len = 0;
	}
	cu_secmem_free(body, body_cap);
	rbuf_free(&b);
	return r;
}

int cu_vaultc_wrap(cu_vaultc_t *v, const char *kid, enum cu_vaultc_alg alg,
                   const unsigned char *in, size_t in_len, unsigned char *out,
                   size_t cap, size_t *out_len,
                   char version[CU_VAULTC_VERSION_LEN + 1],
                   struct cu_vaultc_result *res)
{
	return key_op(v, "wrapkey", kid, alg, in, in_len, out, cap, out_len,
	              version, res);
}

int cu_vaultc_unwrap(cu_vaultc_t *v, const char *kid, enum cu_vaultc_alg alg,
                     const unsigned char *in, size_t in_len, unsigned char *out,
                     size_t cap, size_t *out_len,
                     char version[CU_VAULTC_VERSION_LEN + 1],
                     struct cu_vaultc_result *res)
{
	return key_op(v, "unwrapkey", kid, alg, in, in_len, out, cap, out_len,
	              version, res);
}

/* ---- events ------------------------------------------------------------ */

static int event_str(char *dst, size_t cap, const json_t *o, const char *name)
{
	const json_t *v = json_object_get(o, name);

	if (v == NULL || json_is_null(v)) {
		dst[0] = '\0';
		return 0;
	}
	return copy_str(dst, cap, v);
}

int cu_vaultc_parse_events(const char *text, size_t len,
                           struct cu_vaultc_event **events, size_t *n,
                           int64_t *last)
{
	struct cu_vaultc_event *ev = NULL;
	json_t *j = NULL, *arr, *lastj;
	size_t cnt, i;
	int r = CU_ERR_PARSE;

	*events = NULL;
	*n = 0;
	*last = 0;
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	arr = json_object_get(j, "value");
	lastj = json_object_get(j, "last");
	if (!json_is_array(arr) || !json_is_integer(lastj) ||
	    json_integer_value(lastj) < 0)
		goto out;
	cnt = json_array_size(arr);
	if (cnt > 0 && (ev = calloc(cnt, sizeof(*ev))) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < cnt; i++) {
		json_t *o = json_array_get(arr, i), *seq, *ts, *d = NULL;
		const char *detail;
		seq = json_object_get(o, "seq");
		ts = json_object_get(o, "ts");
		if (!json_is_object(o) || !json_is_integer(seq) ||
		    json_integer_value(seq) <= 0 ||
		    (ts != NULL && !json_is_integer(ts)) ||
		    copy_str(ev[i].type, sizeof(ev[i].type),
		             json_object_get(o, "type")) != 0 ||
		    event_str(ev[i].key, sizeof(ev[i].key), o, "key") != 0 ||
		    event_str(ev[i].version, sizeof(ev[i].version), o,
		              "version") != 0)
			goto out;
		ev[i].seq = (int64_t)json_integer_value(seq);
		ev[i].ts_ms = ts ? (int64_t)json_integer_value(ts) : 0;
		/* role events name the principal in their detail */
		detail = json_string_value(json_object_get(o, "detail"));
		if (detail != NULL && strncmp(ev[i].type, "role_", 5) == 0)
			d = json_loads(detail, JSON_REJECT_DUPLICATES, NULL);
		if (d != NULL) {
			int bad =
			    event_str(ev[i].principal, sizeof(ev[i].principal),
			              d, "principal");
			json_decref(d);
			if (bad)
				goto out;
		}
	}
	*last = (int64_t)json_integer_value(lastj);
	*events = ev;
	*n = cnt;
	ev = NULL;
	r = 0;
out:
	free(ev);
	json_decref(j);
	return r;
}

void cu_vaultc_events_free(struct cu_vaultc_event *events)
{
	free(events);
}

int cu_vaultc_events(cu_vaultc_t *v, int64_t since, unsigned wait_s,
                     unsigned max, struct cu_vaultc_event **events, size_t *n,
                     int64_t *last, struct cu_vaultc_result *res)
{
	struct cu_vaultc_result dummy;
	struct rbuf b = {0};
	char path[160];
	long status;
	int r;

	if (res == NULL)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	*events = NULL;
	*n = 0;
	*last = since;
	if (since < 0 || wait_s > CU_VAULTC_EVENTS_WAIT_MAX || max > 1000) {
		set_res(res, CU_VAULTC_BAD_REQUEST, "bad events arguments");
		return CU_ERR_INVAL;
	}
	snprintf(path, sizeof(path),
	         "/admin/v1/events?since=%lld&wait=%u&max=%u", (long long)since,
	         wait_s, max ? max : 100);
	if ((r = exchange(v, "GET", path, NULL, 0,
	                  v->timeout_ms + (long)wait_s * 1000,
	                  EVENTS_RESPONSE_MAX, &status, &b, res)) != 0)
		goto out;
	if ((r = cu_vaultc_classify(status, "events", b.p, b.len, res)) != 0)
		goto out;
	r = b.p ? cu_vaultc_parse_events(b.p, b.len, events, n, last)
	        : CU_ERR_PARSE;
	if (r == CU_ERR_PARSE) {
		set_res(res, CU_VAULTC_BAD_RESPONSE,
		        "the vault's events could not be parsed");
		r = CU_ERR_UNAVAILABLE;
	}
	if (r != 0)
		*last = since;
out:
	rbuf_free(&b);
	return r;
}

/* log.c - one JSON object per line, written without building a JSON tree.
 *
 * A line is serialised straight into a buffer on the stack (the heap only
 * for a line longer than that) and written with one write(2). The standard
 * fields come first, then the caller's in their order, as jansson's
 * json_dumps would have written them: the access log alone is one line per
 * request, and building it as a jansson object, dumping it and copying it
 * cost more than the rest of the HTTP core's bookkeeping together. Values
 * of a jansson `fields` object that are not strings, integers or
 * literals (reals, arrays, objects: rare) are still dumped by jansson. */
#include "core/log.h"
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_STACK 2048

static char component[32] = "custos";
static int min_level = CU_LOG_INFO;
static int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void cu_log_init(const char *name, int level, int fd)
{
	if (name != NULL)
		snprintf(component, sizeof(component), "%s", name);
	if (level >= CU_LOG_DEBUG && level <= CU_LOG_ERROR)
		min_level = level;
	if (fd >= 0)
		log_fd = fd;
}

int cu_log_level_parse(const char *s, int *level)
{
	for (int i = 0; i < 4; i++) {
		if (s != NULL && strcmp(s, level_names[i]) == 0) {
			*level = i;
			return 0;
		}
	}
	return CU_ERR_INVAL;
}

int cu_log_enabled(int level)
{
	return level >= min_level;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n <= 0)
			return; /* a log that cannot be written must not stop
			           work */
		buf += n;
		len -= (size_t)n;
	}
}

/* ---- the line buffer ---------------------------------------------- */

struct line {
	char *p;
	size_t len, cap;
	int oom; /* a heap allocation failed: the line is dropped */
	char stack[LINE_STACK];
};

static void line_init(struct line *l)
{
	l->p = l->stack;
	l->len = 0;
	l->cap = sizeof(l->stack);
	l->oom = 0;
}

static void line_free(struct line *l)
{
	if (l->p != l->stack)
		free(l->p);
}

/* Room for `n` more bytes; 0, or -1 (and oom set) when out of memory. */
static int line_room(struct line *l, size_t n)
{
	size_t cap;
	char *np;

	if (l->oom)
		return -1;
	if (l->cap - l->len >= n)
		return 0;
	cap = l->cap;
	while (cap - l->len < n) {
		if (cap > SIZE_MAX / 2)
			goto oom;
		cap *= 2;
	}
	if (l->p == l->stack) {
		np = malloc(cap);
		if (np != NULL)
			memcpy(np, l->p, l->len);
	} else {
		np = realloc(l->p, cap);
	}
	if (np == NULL)
		goto oom;
	l->p = np;
	l->cap = cap;
	return 0;
oom:
	l->oom = 1;
	return -1;
}

static void put(struct line *l, const char *s, size_t n)
{
	if (line_room(l, n) != 0)
		return;
	memcpy(l->p + l->len, s, n);
	l->len += n;
}

static void put_u64(struct line *l, uint64_t v)
{
	char d[20];
	size_t n = 0;

	do {
		d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put(l, d + sizeof(d) - n, n);
}

static void put_i64(struct line *l, int64_t v)
{
	if (v < 0) {
		put(l, "-", 1);
		put_u64(l, (uint64_t)0 - (uint64_t)v);
	} else {
		put_u64(l, (uint64_t)v);
	}
}

/* Length of the well-formed UTF-8 sequence at s (n bytes available), or 0
 * when it is not one (overlong forms, surrogates and code points past
 * U+10FFFF included). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];

	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

/* plain[c]: byte c goes into a JSON string as it is (printable ASCII and
 * DEL, but for the quote and the backslash). */
/* clang-format off */
static const unsigned char plain[256] = {
	0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* 00 */
	0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* 10 */
	1,1,0,1,1,1,1,1,1,1,1,1,1,1,1,1, /* 20 */
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, /* 30 */
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, /* 40 */
	1,1,1,1,1,1,1,1,1,1,1,1,0,1,1,1, /* 50 */
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, /* 60 */
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, /* 70 */
	0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* 80 */
	0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* 90 */
	0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* a0 */
	0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* b0 */
	0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* c0 */
	0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* d0 */
	0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* e0 */
	0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, /* f0 */
};
/* clang-format on */

/* A JSON string: quotes, backslash and control characters escaped as
 * jansson escapes them; other UTF-8 kept; bytes that are not UTF-8 as
 * U+FFFD, so the line stays valid JSON whatever came in. */
static void put_str(struct line *l, const char *str, size_t n)
{
	static const char hex[] = "0123456789ABCDEF"; /* as jansson */
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run;

	put(l, "\"", 1);
	while (i < n) {
		/* the common case: a run of plain printable ASCII */
		run = i;
		while (run < n && plain[s[run]])
			run++;
		if (run > i) {
			put(l, str + i, run - i);
			i = run;
			continue;
		}
		unsigned char c = s[i];
		if (c >= 0x80) {
			size_t k = utf8_len(s + i, n - i);
			if (k == 0) {
				put(l, "\\ufffd", 6);
				i++;
			} else {
				put(l, str + i, k);
				i += k;
			}
			continue;
		}
		char esc[6] = {'\\', 0, 0, 0, 0, 0};
		size_t en = 2;
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			en = 6;
			break;
		}
		put(l, esc, en);
		i++;
	}
	put(l, "\"", 1);
}

static void put_key(struct line *l, const char *key)
{
	put(l, ",", 1);
	put_str(l, key, strlen(key));
	put(l, ":", 1);
}

/* "YYYY-MM-DDTHH:MM:SS" of a second, kept per thread: gmtime_r takes
 * glibc's time zone lock and most lines share their second. */
static void put_ts(struct line *l)
{
	static _Thread_local time_t cached_sec = (time_t)-1;
	static _Thread_local char cached[64];
	struct timespec now;
	char ms[5];
	int m;

	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec != cached_sec) {
		struct tm tm;
		gmtime_r(&now.tv_sec, &tm);
		snprintf(cached, sizeof(cached),
		         "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		         tm.tm_sec);
		cached_sec = now.tv_sec;
	}
	m = (int)(now.tv_nsec / 1000000);
	ms[0] = '.';
	ms[1] = (char)('0' + m / 100);
	ms[2] = (char)('0' + m / 10 % 10);
	ms[3] = (char)('0' + m % 10);
	ms[4] = 'Z';
	put(l, "{\"ts\":\"", 7);
	put(l, cached, strlen(cached));
	put(l, ms, sizeof(ms));
	put(l, "\"", 1);
}

static void line_begin(struct line *l, int level, const char *msg)
{
	const char *lv = level_names[level];

	line_init(l);
	put_ts(l);
	put(l, ",\"level\":\"", 10);
	put(l, lv, strlen(lv));
	put(l, "\",\"component\":", 14);
	put_str(l, component, strlen(component));
	put(l, ",\"msg\":", 7);
	if (msg == NULL)
		msg = "";
	put_str(l, msg, strlen(msg));
}

static void line_end(struct line *l)
{
	put(l, "}\n", 2);
	if (!l->oom)
		write_all(log_fd, l->p, l->len);
	line_free(l);
}

static int is_standard(const char *key)
{
	return strcmp(key, "ts") == 0 || strcmp(key, "level") == 0 ||
	       strcmp(key, "component") == 0 || strcmp(key, "msg") == 0;
}

static void put_json(struct line *l, const json_t *v)
{
	char *text;

	switch (json_typeof(v)) {
	case JSON_STRING:
		put_str(l, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		put_i64(l, (int64_t)json_integer_value(v));
		return;
	case JSON_TRUE:
		put(l, "true", 4);
		return;
	case JSON_FALSE:
		put(l, "false", 5);
		return;
	case JSON_NULL:
		put(l, "null", 4);
		return;
	default:
		break;
	}
	text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (text == NULL) {
		l->oom = 1;
		return;
	}
	put(l, text, strlen(text));
	free(text);
}

static int clamp_level(int level)
{
	return level < CU_LOG_DEBUG || level > CU_LOG_ERROR ? CU_LOG_ERROR
	                                                    : level;
}

void cu_log(int level, const char *msg, json_t *fields)
{
	struct line l;
	const char *key;
	json_t *v;

	level = clamp_level(level);
	if (!cu_log_enabled(level))
		goto out;
	line_begin(&l, level, msg);
	if (fields != NULL && json_is_object(fields)) {
		json_object_foreach(fields, key, v)
		{
			if (is_standard(key))
				continue;
			put_key(&l, key);
			put_json(&l, v);
		}
	}
	line_end(&l);
out:
	json_decref(fields);
}

static void put_ns_ms(struct line *l, int64_t ns)
{
	uint64_t u;
	char frac[7];

	if (ns < 0) {
		put(l, "-", 1);
		u = (uint64_t)0 - (uint64_t)ns;
	} else {
		u = (uint64_t)ns;
	}
	put_u64(l, u / 1000000);
	u %= 1000000;
	frac[0] = '.';
	for (int i = 6; i >= 1; i--) {
		frac[i] = (char)('0' + u % 10);
		u /= 10;
	}
	put(l, frac, sizeof(frac));
}

void cu_log_fields(int level, const char *msg, const struct cu_log_field *f,
                   size_t n)
{
	struct line l;

	level = clamp_level(level);
	if (!cu_log_enabled(level))
		return;
	line_begin(&l, level, msg);
	for (size_t i = 0; f != NULL && i < n; i++) {
		if (f[i].key == NULL || is_standard(f[i].key))
			continue;
		switch (f[i].type) {
		case CU_LOG_STR:
			put_key(&l, f[i].key);
			put_str(&l, f[i].s != NULL ? f[i].s : "",
			        f[i].s != NULL ? f[i].len : 0);
			break;
		case CU_LOG_INT:
			put_key(&l, f[i].key);
			put_i64(&l, f[i].i);
			break;
		case CU_LOG_NS_MS:
			put_key(&l, f[i].key);
			put_ns_ms(&l, f[i].i);
			break;
		default:
			break;
		}
	}
	line_end(&l);
}

void cu_logf(int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!cu_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cu_log(level, msg, NULL);
}

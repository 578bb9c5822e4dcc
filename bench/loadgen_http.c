/* loadgen_http - the load generator of bench/bench_store.py: GETs or PUTs
 * a list of URLs (presigned S3 URLs, or plain ones for nginx) over HTTPS
 * keep-alive connections and prints what moved in a timed window.
 *
 * Not a benchmark on its own (scripts/run-bench.sh skips loadgen_*): run
 * alone it prints its usage. It is meant to cost the server under test
 * as little CPU as possible on a machine they share: one thread, libcurl's
 * multi interface with one easy handle per connection, each re-used for
 * the next request on the same kept-alive TLS connection; every URL
 * parsed once at start (CURLOPT_CURLU) rather than at each request; PUT
 * bodies served from one pseudo-random 1 MiB pattern (byte i of every body
 * is pattern[i % 1 MiB], so every object of one size holds the same bytes
 * on every server); GET bodies counted and dropped.
 *
 * Usage: loadgen_http --method GET|PUT --urls FILE --cacert FILE
 *                     [--conns N] [--size BYTES] [--seconds S]
 *                     [--warmup S]
 *
 * URLs are taken in file order, round robin, and every URL is requested
 * at least once. --seconds S > 0: requests for --warmup seconds, then a
 * measured window of S seconds (bytes of body moved and requests that
 * completed inside it), then no new requests; the ones in flight finish
 * uncounted. --seconds 0: each URL once, everything measured.
 *
 * Prints one line: ops= bytes= seconds= cpu= (user + system seconds of
 * this process in the window), all_ops= all_bytes= (the whole run, warm-up
 * and the requests that finished after the window included), errors=
 * connects= (TLS connections opened, all told), tls= (version and
 * cipher) and first_error= when a request failed or was answered with
 * other than 2xx. Exits 0 when the run
 * completed (errors are reported, not fatal), 2 on bad usage, 1 when the
 * run could not be carried out. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define PATTERN_LEN   (1024u * 1024u)
#define MAX_CONNS     256
#define MAX_URLS      100000
#define MAX_URL_LEN   4096
#define MAX_SECONDS   600.0
#define DRAIN_SECONDS 120.0 /* for requests in flight once the window ends */
#define POLL_MS       20

struct cfg {
	int put;
	const char *urls_file;
	const char *cacert;
	unsigned conns;
	uint64_t size;
	double seconds;
	double warmup;
};

struct lg;

struct xfer {
	struct lg *lg;
	CURL *h;
	uint64_t off; /* PUT: body bytes handed to libcurl */
};

struct lg {
	struct cfg c;
	CURLU **urls; /* parsed once: libcurl parses a URL string at every
	                 transfer, ~7 us per presigned S3 URL here */
	size_t n_urls;
	size_t next; /* requests issued */
	unsigned char *pattern;
	uint64_t bytes; /* body bytes moved, all told */
	uint64_t ops, errors, connects;
	uint64_t all_ops; /* completed, window or not */
	int in_window, window_done;
	char tls[128];
	char first_error[256];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0.0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_seconds(const char *s, double *out)
{
	char *end = NULL;
	double v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0) ||
	    v > MAX_SECONDS)
		return -1;
	*out = v;
	return 0;
}

/* The same bytes on every run: xorshift64* from a fixed seed. */
static void fill_pattern(unsigned char *p, size_t len)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < len; i += 8) {
		uint64_t v;

		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		v = x * 0x2545f4914f6cdd1dull;
		for (size_t j = 0; j < 8 && i + j < len; j++)
			p[i + j] = (unsigned char)(v >> (8 * j));
	}
}

static void free_urls(struct lg *g)
{
	for (size_t i = 0; i < g->n_urls; i++)
		curl_url_cleanup(g->urls[i]);
	free(g->urls);
	g->urls = NULL;
	g->n_urls = 0;
}

/* One URL per line; blank lines are skipped. */
static int read_urls(struct lg *g, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, have = 0;
	ssize_t n;
	int rc = -1;

	if (f == NULL) {
		fprintf(stderr, "loadgen: cannot open %s: %s\n", path,
		        strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (n > MAX_URL_LEN || g->n_urls == MAX_URLS) {
			fprintf(stderr,
			        "loadgen: %s: too many or too long "
			        "URLs\n",
			        path);
			goto out;
		}
		if (g->n_urls == have) {
			size_t want = have == 0 ? 64 : 2 * have;
			CURLU **u = realloc(g->urls, want * sizeof(*u));

			if (u == NULL)
				goto out;
			g->urls = u;
			have = want;
		}
		if ((g->urls[g->n_urls] = curl_url()) == NULL)
			goto out;
		g->n_urls++;
		if (curl_url_set(g->urls[g->n_urls - 1], CURLUPART_URL, line,
		                 0) != CURLUE_OK) {
			fprintf(stderr, "loadgen: %s: not a URL: %s\n", path,
			        line);
			goto out;
		}
	}
	if (g->n_urls == 0) {
		fprintf(stderr, "loadgen: %s holds no URL\n", path);
		goto out;
	}
	rc = 0;
out:
	free(line);
	fclose(f);
	return rc;
}

/* The TLS version and cipher of a connection, once. */
static void note_tls(struct xfer *x)
{
	const struct curl_tlssessioninfo *ti = NULL;

	if (x->lg->tls[0] != '\0')
		return;
	if (curl_easy_getinfo(x->h, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK ||
	    ti == NULL || ti->backend != CURLSSLBACKEND_OPENSSL ||
	    ti->internals == NULL)
		return;
	snprintf(x->lg->tls, sizeof(x->lg->tls), "%s/%s",
	         SSL_get_version(ti->internals),
	         SSL_get_cipher_name((SSL *)ti->internals));
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	uint64_t left = x->lg->c.size - x->off;
	size_t cap = size * nitems, done = 0;

	note_tls(x);
	if (left < cap)
		cap = (size_t)left;
	while (done < cap) {
		size_t at = (size_t)(x->off % PATTERN_LEN);
		size_t n = PATTERN_LEN - at;

		if (n > cap - done)
			n = cap - done;
		memcpy(buf + done, x->lg->pattern + at, n);
		done += n;
		x->off += n;
	}
	x->lg->bytes += done;
	return done;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;

	(void)data;
	note_tls(x);
	if (!x->lg->c.put)
		x->lg->bytes += size * nmemb;
	return size * nmemb;
}

static int setup(struct xfer *x, CURL *h)
{
	const struct cfg *c = &x->lg->c;
	int bad = 0;

	x->h = h;
	bad |= curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)x) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V4) !=
	       CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
	                        (long)CURL_HTTP_VERSION_1_1) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, x) != CURLE_OK;
	if (c->put) {
		bad |= curl_easy_setopt(h, CURLOPT_UPLOAD, 1L) != CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE,
		                        1024L * 1024) != CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read) !=
		       CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_READDATA, x) != CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
		                        (curl_off_t)c->size) != CURLE_OK;
	}
	return bad ? -1 : 0;
}

/* Start the next request on x's handle. */
static int issue(CURLM *m, struct xfer *x)
{
	struct lg *g = x->lg;
	CURLU *url = g->urls[g->next % g->n_urls];

	g->next++;
	x->off = 0;
	if (curl_easy_setopt(x->h, CURLOPT_CURLU, url) != CURLE_OK ||
	    curl_multi_add_handle(m, x->h) != CURLM_OK)
		return -1;
	return 0;
}

/* Whether another request should start: in the window (or before it),
 * and until every URL has had one. */
static int more(const struct lg *g)
{
	if (g->next < g->n_urls)
		return 1;
	return g->c.seconds > 0 && !g->window_done;
}

static void finished(struct xfer *x, CURLcode res)
{
	struct lg *g = x->lg;
	long status = 0, nc = 0;

	(void)curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	if (curl_easy_getinfo(x->h, CURLINFO_NUM_CONNECTS, &nc) == CURLE_OK)
		g->connects += (uint64_t)nc;
	if (res != CURLE_OK || status < 200 || status > 299) {
		g->errors++;
		if (g->first_error[0] == '\0')
			snprintf(g->first_error, sizeof(g->first_error),
			         "%s:%ld",
			         res != CURLE_OK ? curl_easy_strerror(res)
			                         : "status",
			         status);
		return;
	}
	g->all_ops++;
	if (g->in_window)
		g->ops++;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: loadgen_http --method GET|PUT --urls FILE --cacert "
	        "FILE\n"
	        "                    [--conns N] [--size BYTES] [--seconds S] "
	        "[--warmup S]\n"
	        "A load generator driven by bench/bench_store.py; not a "
	        "benchmark on its own.\n");
}

static int parse_args(int argc, char **argv, struct cfg *c)
{
	static const struct option opts[] = {
	    {"method", required_argument, NULL, 'm'},
	    {"urls", required_argument, NULL, 'u'},
	    {"cacert", required_argument, NULL, 'k'},
	    {"conns", required_argument, NULL, 'c'},
	    {"size", required_argument, NULL, 's'},
	    {"seconds", required_argument, NULL, 'd'},
	    {"warmup", required_argument, NULL, 'w'},
	    {NULL, 0, NULL, 0},
	};
	const char *method = NULL;
	uint64_t v;
	int o;

	memset(c, 0, sizeof(*c));
	c->conns = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'm':
			method = optarg;
			break;
		case 'u':
			c->urls_file = optarg;
			break;
		case 'k':
			c->cacert = optarg;
			break;
		case 'c':
			if (parse_u64(optarg, MAX_CONNS, &v) != 0 || v == 0)
				return -1;
			c->conns = (unsigned)v;
			break;
		case 's':
			if (parse_u64(optarg, UINT64_MAX / 2, &c->size) != 0)
				return -1;
			break;
		case 'd':
			if (parse_seconds(optarg, &c->seconds) != 0)
				return -1;
			break;
		case 'w':
			if (parse_seconds(optarg, &c->warmup) != 0)
				return -1;
			break;
		default:
			return -1;
		}
	}
	if (optind != argc || method == NULL || c->urls_file == NULL ||
	    c->cacert == NULL)
		return -1;
	if (strcmp(method, "PUT") == 0)
		c->put = 1;
	else if (strcmp(method, "GET") != 0)
		return -1;
	return 0;
}

static int run(struct lg *g)
{
	struct xfer x[MAX_CONNS];
	CURLM *m = NULL;
	double t0, ws = 0.0, we = 0.0, deadline, cpu0 = 0.0, cpu1 = 0.0;
	uint64_t b0 = 0, b1 = 0;
	unsigned active = 0, made = 0;
	int rc = 1;

	memset(x, 0, sizeof(x));
	if ((m = curl_multi_init()) == NULL)
		return 1;
	if (curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS,
	                      (long)g->c.conns) != CURLM_OK ||
	    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)g->c.conns) !=
	        CURLM_OK)
		goto out;
	for (; made < g->c.conns; made++) {
		CURL *h = curl_easy_init();

		x[made].lg = g;
		if (h == NULL || setup(&x[made], h) != 0) {
			curl_easy_cleanup(h);
			goto out;
		}
	}
	t0 = now();
	if (g->c.seconds > 0) {
		ws = t0 + g->c.warmup;
		we = ws + g->c.seconds;
		deadline = we + DRAIN_SECONDS;
	} else {
		/* each URL once, all of it measured */
		g->in_window = 1;
		ws = t0;
		cpu0 = cpu_seconds();
		deadline = t0 + MAX_SECONDS;
	}
	for (unsigned i = 0; i < g->c.conns && more(g); i++) {
		if (issue(m, &x[i]) != 0)
			goto out;
		active++;
	}
	while (active > 0) {
		CURLMsg *msg;
		int running = 0, left = 0;
		double t;

		if (curl_multi_perform(m, &running) != CURLM_OK)
			goto out;
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct xfer *xf = NULL;
			char *priv = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			if (curl_easy_getinfo(msg->easy_handle,
			                      CURLINFO_PRIVATE,
			                      &priv) != CURLE_OK ||
			    priv == NULL)
				goto out;
			xf = (struct xfer *)(void *)priv;
			finished(xf, msg->data.result);
			(void)curl_multi_remove_handle(m, xf->h);
			active--;
			if (more(g)) {
				if (issue(m, xf) != 0)
					goto out;
				active++;
			}
		}
		t = now();
		if (g->c.seconds > 0 && !g->in_window && !g->window_done &&
		    t >= ws) {
			g->in_window = 1;
			b0 = g->bytes;
			cpu0 = cpu_seconds();
			ws = t;
			we = t + g->c.seconds;
		} else if (g->c.seconds > 0 && g->in_window && t >= we) {
			g->in_window = 0;
			g->window_done = 1;
			b1 = g->bytes;
			cpu1 = cpu_seconds();
			we = t;
		}
		if (t > deadline) {
			fprintf(stderr, "loadgen: requests still in flight "
			                "after the deadline\n");
			goto out;
		}
		if (active > 0 &&
		    curl_multi_poll(m, NULL, 0, POLL_MS, NULL) != CURLM_OK)
			goto out;
	}
	if (g->c.seconds == 0) {
		we = now();
		b1 = g->bytes;
		cpu1 = cpu_seconds();
	} else if (!g->window_done) {
		fprintf(stderr, "loadgen: the run ended before its window\n");
		goto out;
	}
	printf("ops=%llu bytes=%llu seconds=%.4f cpu=%.4f all_ops=%llu "
	       "all_bytes=%llu errors=%llu connects=%llu tls=%s",
	       (unsigned long long)g->ops, (unsigned long long)(b1 - b0),
	       we - ws, cpu1 - cpu0, (unsigned long long)g->all_ops,
	       (unsigned long long)g->bytes, (unsigned long long)g->errors,
	       (unsigned long long)g->connects,
	       g->tls[0] != '\0' ? g->tls : "?");
	if (g->first_error[0] != '\0')
		printf(" first_error=%s", g->first_error);
	printf("\n");
	rc = 0;
out:
	for (unsigned i = 0; i < made; i++) {
		if (x[i].h == NULL)
			continue;
		(void)curl_multi_remove_handle(m, x[i].h);
		curl_easy_cleanup(x[i].h);
	}
	curl_multi_cleanup(m);
	return rc;
}

int main(int argc, char **argv)
{
	struct lg g;
	int rc;

	memset(&g, 0, sizeof(g));
	if (argc == 1) {
		usage();
		return 0;
	}
	if (parse_args(argc, argv, &g.c) != 0) {
		usage();
		return 2;
	}
	if ((g.pattern = malloc(PATTERN_LEN)) == NULL)
		return 1;
	fill_pattern(g.pattern, PATTERN_LEN);
	if (read_urls(&g, g.c.urls_file) != 0) {
		free_urls(&g);
		free(g.pattern);
		return 1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free_urls(&g);
		free(g.pattern);
		return 1;
	}
	rc = run(&g);
	curl_global_cleanup();
	free_urls(&g);
	free(g.pattern);
	return rc;
}

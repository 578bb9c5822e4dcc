/* server.c - libmicrohttpd glue: routing, limits, logs, metrics, TLS.
 *
 * Threads. MHD_USE_INTERNAL_POLLING_THREAD with a pool of threads
 * (default 2 * CPUs) rather than MHD_USE_THREAD_PER_CONNECTION: the pool
 * keeps a fixed number of threads however many keep-alive connections sit
 * idle (one thread and stack each otherwise), and it is what gave the
 * measured 110k req/s. The price is that a handler blocking for long (a
 * slow vault, a slow disk) holds up the other connections of its thread;
 * 2 * CPUs threads absorbs ordinary blocking (fsync, a loopback call), and a
 * daemon whose handlers wait on remote peers can set thread_per_connection
 * (bounded by max_connections).
 *
 * poll(), not epoll: with MHD 0.9.75's epoll mode a client that closes
 * right after a burst of body bytes (an aborted upload) leaves the
 * connection in CLOSE_WAIT until the idle timeout, its request (and the
 * handler's context) never completing; measured by the client-abort unit
 * test, which passes with poll. Each pool thread polls only its share of
 * the connections, so poll's cost stays small.
 *
 * Keep-alive. MHD treats a reply queued during the first access-handler
 * call (headers just parsed) as "early": it shuts the read side and closes
 * the connection after the reply, even for a GET without a body. Measured
 * by the team: 128k -> 15k req/s. So a reply made by a handler is held in
 * the request and queued on MHD's next call (the one that says the body is
 * complete), except when a body was announced and not read: then closing is
 * the point (401 or 413 before the body, and with Expect: 100-continue the
 * client never sends it).
 *
 * Raw URI. MHD_OPTION_URI_LOG_CALLBACK sees the request target before MHD
 * splits and unescapes it; the request object is made there, with a copy
 * of the raw target, so routing decodes each segment itself ("a%2Fb" stays
 * one segment) and signature checks see the query exactly as sent. MHD
 * calls the completion notifier for every request that reached this
 * callback, so the object is always freed. */
#include "core/http/server.h"
#include "core/crypto/hash.h"
#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/log.h"
#include "core/pki.h"
#include "core/secmem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* the largest TLS PEM file cu_http_tls_file_read takes */
#define MAX_PEM_FILE (1024 * 1024)

#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_MAX_HEADER      (32 * 1024)
#define DEFAULT_MAX_BODY        (1024 * 1024)
#define DEFAULT_IDLE_TIMEOUT    60
#define STREAM_BLOCK            (64 * 1024)
#define LOG_PATH_MAX            512
/* After a reply made in the middle of a body, the rest is read and thrown
 * away up to this much so the client can read the reply; past it the
 * connection is cut. */
#define DRAIN_MAX (1024 * 1024)
/* Replies up to this size go out as one TLS record where possible (see
 * cork()); with a thread pool, up to the smaller size. */
#define COALESCE_MAX      (64 * 1024)
#define COALESCE_POOL_MAX (16 * 1024)
/* A coalesced reply whose client does not read it is given this long:
 * with a thread per connection; with a pool, COALESCE_POOL_WAIT_MS. */
#define COALESCE_POLL_MS      100
#define COALESCE_POOL_WAIT_MS 1000
/* How long a connection trusts a client certificate it verified. */
#define CERT_CACHE_S 60

static const char TLS_PRIORITIES[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:"
                                     "+VERS-TLS1.2:%SERVER_PRECEDENCE";

struct srv_route {
	struct cu_http_route r;
};

struct cu_http_server {
	struct cu_http_config cfg;
	char *bind_addr, *cert, *key, *ca; /* owned copies */
	cu_http_router_t *router;
	struct srv_route **routes;
	size_t nroutes, cap;
	cu_metrics_t *metrics;
	int own_metrics;
	cu_metric_t *m_requests, *m_duration, *m_inflight, *m_bytes_in,
	    *m_bytes_out;
	struct MHD_Daemon *d;
	uint16_t port;
	atomic_long inflight;
	atomic_int stopping;
};

/* MHD's socket context: what stays the same for every request of a
 * connection. NULL when it could not be allocated (nothing is cached). */
struct conn {
	char peer[INET6_ADDRSTRLEN]; /* "" until the first request */
	/* the client certificate last verified on this connection: its DER,
	 * fingerprint, and until when the verdict holds (see
	 * cu_http_req_client_cert_sha256) */
	unsigned char *cert_der;
	size_t cert_len;
	time_t cert_until;
	char cert_fp[CU_HTTP_FINGERPRINT_LEN + 1];
};

struct hdr {
	struct hdr *next;
	char *name, *value; /* both in buf */
	char buf[];
};

/* A streamed reply's state, shared by the request (which reads the byte
 * count for the log) and MHD's response (which calls the reader): whichever
 * lets go last frees it, since MHD does not promise an order. */
struct stream {
	atomic_int refs;
	atomic_uint_least64_t bytes;
	cu_http_reader_fn fn;
	void *arg;
	void (*free_fn)(void *arg);
};

struct cu_http_req {
	cu_http_server_t *srv;
	struct MHD_Connection *conn;
	char id[CU_HTTP_REQUEST_ID_LEN + 1];
	struct timespec t0;
	char *target; /* raw target (target_buf); '?' replaced by NUL */
	const char *path, *query;
	size_t path_len, query_len;
	const char *method;
	unsigned method_bit;
	struct cu_http_match match;
	const struct srv_route *route;
	int started;
	int has_body;
	uint64_t max_body;
	uint64_t bytes_in;
	uint64_t drained;
	char *body;
	size_t body_len, body_cap;
	/* reply */
	int replied, queued;
	int status;
	struct MHD_Response *resp;
	uint64_t bytes_out;
	struct stream *stream;
	struct hdr *hdrs;
	/* handler's */
	void *ctx;
	void (*ctx_free)(void *ctx);
	char *principal;
	/* the query decoded on the first cu_http_req_query: an S3 request
	 * asks for some thirty names, nearly all absent, and scanning the raw
	 * query for each was a twentieth of a small GET; NULL until then */
	cu_http_query_t *queries;
	char peer[INET6_ADDRSTRLEN];
	int fp_state; /* 0 not looked up, 1 present, -1 none */
	char fp[CU_HTTP_FINGERPRINT_LEN + 1];
	/* a reply held in GnuTLS until it is complete (cork()) */
	gnutls_session_t corked;
	char target_buf[]; /* what target points to */
};

/* ---- helpers ------------------------------------------------------ */

static struct conn *conn_ctx(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

static void stream_unref(struct stream *st)
{
	if (st != NULL && atomic_fetch_sub(&st->refs, 1) == 1)
		free(st);
}

static int64_t elapsed_ns(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - t0->tv_sec) * 1000000000 +
	       (int64_t)(now.tv_nsec - t0->tv_nsec);
}

static double elapsed_s(const struct timespec *t0)
{
	return (double)elapsed_ns(t0) / 1e9;
}

static int has_ctl(const char *s)
{
	for (; *s; s++) {
		if (*s == '\r' || *s == '\n')
			return 1;
	}
	return 0;
}

/* Copy network text into a log-safe string: printable ASCII kept, other
 * bytes as %XX, cut at `max` output bytes. */
static void log_safe(const char *in, size_t len, char *out, size_t max)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c > 0x20 && c < 0x7f && c != '%') {
			if (o + 2 > max)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 > max)
				break;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

static __attribute__((format(printf, 2, 0))) void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/* MHD reports every failed TLS handshake and dropped connection:
	 * noise from scanners, so debug. */
	cu_log(CU_LOG_DEBUG, "libmicrohttpd",
	       json_pack("{s:s}", "detail", msg));
}

/* Request ids: 128 random bits each, taken from a per-thread stash that
 * one RAND_bytes call refills for RID_STASH ids. A call per request (with
 * the DRBG's fork check, a getpid system call) was a measurable part of a
 * keep-alive request. A fork empties every stash in the child, so parent
 * and child never hand out the same ids. */
#define RID_RAW   (CU_HTTP_REQUEST_ID_LEN / 2)
#define RID_STASH 32

static atomic_uint rid_generation;
static pthread_once_t rid_once = PTHREAD_ONCE_INIT;

static void rid_forked(void)
{
	atomic_fetch_add(&rid_generation, 1);
}

static void rid_init(void)
{
	(void)pthread_atfork(NULL, NULL, rid_forked);
}

static int request_id(char *out)
{
	static const char digits[] = "0123456789abcdef";
	static _Thread_local unsigned char stash[RID_RAW * RID_STASH];
	static _Thread_local size_t used = sizeof(stash);
	static _Thread_local unsigned gen;
	unsigned now;
	int rc;

	(void)pthread_once(&rid_once, rid_init);
	now = atomic_load(&rid_generation);
	if (used == sizeof(stash) || gen != now) {
		if ((rc = cu_rand_bytes(stash, sizeof(stash))) != 0)
			return rc;
		used = 0;
		gen = now;
	}
	for (size_t i = 0; i < RID_RAW; i++) {
		unsigned char b = stash[used + i];
		out[2 * i] = digits[b >> 4];
		out[2 * i + 1] = digits[b & 15];
	}
	out[CU_HTTP_REQUEST_ID_LEN] = '\0';
	used += RID_RAW;
	return 0;
}

/* ---- replies ------------------------------------------------------ */

static int reply_prepare(cu_http_req_t *req, struct MHD_Response *resp,
                         int status, const char *content_type)
{
	int rc = CU_ERR_NOMEM;

	if (MHD_add_response_header(resp, "x-request-id", req->id) != MHD_YES)
		goto out;
	if (content_type != NULL &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                            content_type) != MHD_YES)
		goto out;
	for (struct hdr *h = req->hdrs; h != NULL; h = h->next) {
		if (MHD_add_response_header(resp, h->name, h->value) != MHD_YES)
			goto out;
	}
	req->resp = resp;
	req->status = status;
	req->replied = 1;
	resp = NULL;
	rc = 0;
out:
	if (resp != NULL)
		MHD_destroy_response(resp);
	return rc;
}

int cu_http_reply(cu_http_req_t *req, int status, const void *body, size_t len,
                  const char *content_type)
{
	struct MHD_Response *resp;

	if (req == NULL || status < 100 || status > 599 ||
	    (body == NULL && len > 0))
		return CU_ERR_INVAL;
	if (req->replied)
		return CU_ERR_STATE;
	resp = MHD_create_response_from_buffer(len, (void *)body,
	                                       MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return CU_ERR_NOMEM;
	req->bytes_out = len;
	return reply_prepare(req, resp, status, content_type);
}

int cu_http_error_json(cu_http_req_t *req, int status, const char *code,
                       const char *message, void *arg)
{
	return cu_http_reply_json(req, status,
	                          json_pack("{s:{s:s, s:s}}", "error", "code",
	                                    code != NULL ? code : "Error",
	                                    "message",
	                                    message != NULL ? message : ""));
}

int cu_http_reply_json(cu_http_req_t *req, int status, json_t *json)
{
	struct MHD_Response *resp;
	char *text = NULL;
	size_t len;
	int rc;

	if (req == NULL) {
		json_decref(json);
		return CU_ERR_INVAL;
	}
	/* A NULL json is a failed json_pack() in the caller: out of memory
	 * like a failed dump. */
	if (json != NULL) {
		text = json_dumps(json, JSON_COMPACT);
		json_decref(json);
	}
	if (text == NULL) {
		if (!req->replied)
			(void)cu_http_reply(req, 500, NULL, 0, NULL);
		return CU_ERR_NOMEM;
	}
	if (status < 100 || status > 599 || req->replied) {
		free(text);
		return status < 100 || status > 599 ? CU_ERR_INVAL
		                                    : CU_ERR_STATE;
	}
	/* MHD takes the dumped text as it is (json_dumps's result is freed
	 * with free()) instead of copying it */
	len = strlen(text);
	resp =
	    MHD_create_response_from_buffer_with_free_callback(len, text, free);
	if (resp == NULL) {
		free(text);
		return CU_ERR_NOMEM;
	}
	req->bytes_out = len;
	rc = reply_prepare(req, resp, status, "application/json");
	return rc;
}

int cu_http_reply_error(cu_http_req_t *req, int status, const char *code,
                        const char *message)
{
	cu_http_error_fn fn;

	if (req == NULL)
		return CU_ERR_INVAL;
	if (req->replied)
		return CU_ERR_STATE;
	fn = req->srv->cfg.error_fn != NULL ? req->srv->cfg.error_fn
	                                    : cu_http_error_json;
	return fn(req, status, code != NULL ? code : "Error",
	          message != NULL ? message : "", req->srv->cfg.error_arg);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	ssize_t n = st->fn(st->arg, pos, buf, max);

	if (n == CU_HTTP_STREAM_END)
		return MHD_CONTENT_READER_END_OF_STREAM;
	/* 0 would make MHD poll the reader in a busy loop */
	if (n <= 0 || (size_t)n > max)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	atomic_fetch_add(&st->bytes, (uint64_t)n);
	return n;
}

static void stream_done(void *cls)
{
	struct stream *st = cls;

	if (st->free_fn != NULL)
		st->free_fn(st->arg);
	st->free_fn = NULL;
	stream_unref(st);
}

int cu_http_reply_stream(cu_http_req_t *req, int status, uint64_t size,
                         const char *content_type, cu_http_reader_fn reader,
                         void *arg, void (*free_fn)(void *arg))
{
	struct stream *st = NULL;
	struct MHD_Response *resp;
	size_t block;
	int rc;

	if (req == NULL || reader == NULL || status < 100 || status > 599) {
		rc = CU_ERR_INVAL;
		goto fail;
	}
	if (req->replied) {
		rc = CU_ERR_STATE;
		goto fail;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		rc = CU_ERR_NOMEM;
		goto fail;
	}
	atomic_init(&st->refs, 2); /* the request and the response */
	atomic_init(&st->bytes, 0);
	st->fn = reader;
	st->arg = arg;
	st->free_fn = free_fn;
	/* MHD callocs the block with every response: a small body of known
	 * size gets a block its size, not STREAM_BLOCK (64 KiB zeroed,
	 * freed and trimmed per request was a large part of a small GET) */
	block = STREAM_BLOCK;
	if (size != CU_HTTP_SIZE_UNKNOWN && size < STREAM_BLOCK)
		block = size > 0 ? (size_t)size : 1;
	resp = MHD_create_response_from_callback(
	    size == CU_HTTP_SIZE_UNKNOWN ? MHD_SIZE_UNKNOWN : size, block,
	    stream_read, st, stream_done);
	if (resp == NULL) {
		rc = CU_ERR_NOMEM;
		goto fail;
	}
	/* from here the response owns arg: destroying it calls free_fn */
	req->stream = st;
	/* what cork() goes by; the log counts the bytes actually read */
	req->bytes_out = size == CU_HTTP_SIZE_UNKNOWN ? UINT64_MAX : size;
	return reply_prepare(req, resp, status, content_type);
fail:
	free(st);
	if (free_fn != NULL)
		free_fn(arg);
	return rc;
}

int cu_http_replied(const cu_http_req_t *req)
{
	return req != NULL && req->replied;
}

int cu_http_set_header(cu_http_req_t *req, const char *name, const char *value)
{
	struct hdr *h;

	if (req == NULL || name == NULL || value == NULL || name[0] == '\0' ||
	    has_ctl(name) || has_ctl(value) || strchr(name, ':') != NULL)
		return CU_ERR_INVAL;
	if (req->replied)
		return CU_ERR_STATE;
	size_t nl = strlen(name), vl = strlen(value);
	if (nl > SIZE_MAX / 2 - sizeof(*h) || vl > SIZE_MAX / 2)
		return CU_ERR_NOMEM;
	h = malloc(sizeof(*h) + nl + 1 + vl + 1);
	if (h == NULL)
		return CU_ERR_NOMEM;
	h->next = NULL;
	h->name = h->buf;
	h->value = h->buf + nl + 1;
	memcpy(h->name, name, nl + 1);
	memcpy(h->value, value, vl + 1);
	/* appended in order: callers expect headers in the order set */
	struct hdr **tail = &req->hdrs;
	while (*tail != NULL)
		tail = &(*tail)->next;
	*tail = h;
	return 0;
}

/* Hand the reply to MHD. Returns MHD_YES, or MHD_NO (MHD then closes the
 * connection) when MHD refuses it. */
static enum MHD_Result flush(cu_http_req_t *req)
{
	enum MHD_Result r;

	if (!req->replied || req->queued)
		return MHD_YES;
	r = MHD_queue_response(req->conn, (unsigned)req->status, req->resp);
	if (r != MHD_YES)
		return MHD_NO;
	MHD_destroy_response(req->resp); /* MHD holds its own reference */
	req->resp = NULL;
	req->queued = 1;
	return MHD_YES;
}

/* One record per reply. MHD writes a reply's header and body with two
 * gnutls_record_send calls: two TLS records, two sendmsg calls, and it
 * keeps the socket TCP_CORKed and pushes each reply with a TCP_NODELAY
 * setsockopt. A small reply is cheaper as one record, for the server and
 * for the client (one record to decrypt, one wake-up): GnuTLS is corked
 * while MHD writes it and uncorked once MHD reports the request complete
 * (on the same thread, before it reads the next request), which sends
 * header and body as one record in one sendmsg. TCP_CORK is cleared
 * after it, every time, so that this sendmsg goes out at once: MHD sets
 * TCP_CORK whenever it believes it off (after it pushed a 100 Continue,
 * for one) and does not clear it for a reply GnuTLS held, and a socket
 * left corked holds each later small reply for 200 ms. A streamed body
 * counts when its size is known and small (a small object's GET).
 *
 * If the client does not read, the uncork has to wait for it: nothing
 * else would send what GnuTLS holds. With a thread per connection it
 * waits up to the idle timeout (or until the server stops; then the
 * connection is cut). A pool thread serves other connections too, so
 * there a reply is corked only when it is at most COALESCE_POOL_MAX and
 * the socket has nothing unacknowledged queued (SIOCOUTQ: a client that
 * has stopped reading soon fills its window and is not corked for), and
 * the wait is at most COALESCE_POOL_WAIT_MS before the connection is
 * cut. */
static void cork(cu_http_req_t *req)
{
	const union MHD_ConnectionInfo *ci;

	int pool = !req->srv->cfg.thread_per_connection;

	if (req->srv->cert == NULL || req->resp == NULL ||
	    req->bytes_out > (pool ? COALESCE_POOL_MAX : COALESCE_MAX))
		return;
	if (pool) {
		int queued = -1;
		ci = MHD_get_connection_info(req->conn,
		                             MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci == NULL ||
		    ioctl(ci->connect_fd, SIOCOUTQ, &queued) != 0 ||
		    queued != 0)
			return;
	}
	ci = MHD_get_connection_info(req->conn,
	                             MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return;
	req->corked = (gnutls_session_t)ci->tls_session;
	gnutls_record_cork(req->corked);
}

static void uncork(cu_http_req_t *req, struct MHD_Connection *conn,
                   enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t sess = req->corked;
	uint64_t waited = 0,
	         limit = req->srv->cfg.thread_per_connection
	                     ? (uint64_t)req->srv->cfg.idle_timeout_s * 1000
	                     : COALESCE_POOL_WAIT_MS;
	int fd, r, off = 0;

	if (sess == NULL)
		return;
	req->corked = NULL;
	/* the connection is being torn down: GnuTLS drops what it holds */
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL)
		return;
	fd = ci->connect_fd;
	for (;;) {
		r = gnutls_record_uncork(sess, 0);
		if (r >= 0)
			break;
		if ((r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED) ||
		    waited >= limit || atomic_load(&req->srv->stopping)) {
			/* the reply cannot be delivered: make MHD close the
			 * connection rather than answer the next request on
			 * a stream missing this one */
			(void)shutdown(fd, SHUT_RDWR);
			return;
		}
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		(void)poll(&p, 1, COALESCE_POLL_MS);
		waited += COALESCE_POLL_MS;
	}
	/* also pushes this reply out if TCP_CORK held it */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
}

/* A failed callback without a reply gets a generic one. */
static void reply_failure(cu_http_req_t *req, int rc)
{
	if (req->replied)
		return;
	if (rc == CU_ERR_NOMEM)
		(void)cu_http_reply_error(req, 503, "ServiceUnavailable",
		                          "The server is out of memory.");
	else
		(void)cu_http_reply_error(req, 500, "InternalError",
		                          "The server failed to handle the "
		                          "request.");
	/* if even that failed, MHD's connection close tells the client */
}

/* ---- request accessors -------------------------------------------- */

const char *cu_http_req_id(const cu_http_req_t *req)
{
	return req->id;
}

const char *cu_http_req_method(const cu_http_req_t *req)
{
	return req->method != NULL ? req->method : "";
}

unsigned cu_http_req_method_bit(const cu_http_req_t *req)
{
	return req->method_bit;
}

const char *cu_http_req_path(const cu_http_req_t *req)
{
	return req->path;
}

const char *cu_http_req_query_string(const cu_http_req_t *req)
{
	return req->query;
}

const char *cu_http_req_param(const cu_http_req_t *req, const char *name)
{
	return cu_http_match_param(&req->match, name, NULL);
}

const char *cu_http_req_param_len(const cu_http_req_t *req, const char *name,
                                  size_t *len)
{
	return cu_http_match_param(&req->match, name, len);
}

const char *cu_http_req_query(cu_http_req_t *req, const char *name)
{
	if (req == NULL || name == NULL)
		return NULL;
	if (req->queries == NULL &&
	    cu_http_query_parse(req->query, req->query_len, &req->queries) != 0)
		return NULL;
	return cu_http_query_get(req->queries, name);
}

const char *cu_http_req_header(const cu_http_req_t *req, const char *name)
{
	if (req == NULL || req->conn == NULL || name == NULL)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return CU_ERR_PARSE;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return CU_ERR_PARSE;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return CU_ERR_PARSE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int cu_http_req_content_length(const cu_http_req_t *req, uint64_t *len)
{
	const char *v = cu_http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (v == NULL)
		return CU_ERR_NOTFOUND;
	return parse_u64(v, len);
}

uint64_t cu_http_req_bytes_in(const cu_http_req_t *req)
{
	return req->bytes_in;
}

const char *cu_http_req_body(const cu_http_req_t *req, size_t *len)
{
	if (len != NULL)
		*len = 0;
	if (req->route != NULL && req->route->r.on_body != NULL)
		return NULL;
	if (len != NULL)
		*len = req->body_len;
	return req->body != NULL ? req->body : "";
}

int cu_http_req_body_json(const cu_http_req_t *req, json_t **out)
{
	size_t len;
	const char *body = cu_http_req_body(req, &len);
	json_error_t err;

	*out = NULL;
	if (body == NULL)
		return CU_ERR_INVAL;
	*out = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
	if (*out == NULL)
		return CU_ERR_PARSE;
	return 0;
}

const char *cu_http_req_peer(const cu_http_req_t *req)
{
	return req->peer;
}

/* Keep a verified certificate's verdict on its connection (best effort:
 * nothing is kept when memory or parsing fails). */
static void cert_remember(struct conn *c, const gnutls_datum_t *der,
                          const char *fp, time_t now)
{
	gnutls_x509_crt_t crt = NULL;
	time_t expiry;
	unsigned char *copy;

	free(c->cert_der);
	c->cert_der = NULL;
	if (gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) < 0)
		goto out;
	expiry = gnutls_x509_crt_get_expiration_time(crt);
	if (expiry == (time_t)-1 || expiry <= now)
		goto out;
	if ((copy = malloc(der->size)) == NULL)
		goto out;
	memcpy(copy, der->data, der->size);
	c->cert_der = copy;
	c->cert_len = der->size;
	c->cert_until =
	    now + CERT_CACHE_S < expiry ? now + CERT_CACHE_S : expiry;
	memcpy(c->cert_fp, fp, sizeof(c->cert_fp));
out:
	gnutls_x509_crt_deinit(crt);
}

const char *cu_http_req_client_cert_sha256(cu_http_req_t *req)
{
	static const char hex[] = "0123456789abcdef";
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *certs;
	unsigned int ncerts = 0, status = 0;
	unsigned char md[CU_SHA256_LEN];
	gnutls_session_t sess;
	struct conn *c;
	time_t now;

	if (req->fp_state != 0)
		goto out;
	req->fp_state = -1;
	if (req->srv->ca == NULL || req->conn == NULL)
		goto out;
	ci = MHD_get_connection_info(req->conn,
	                             MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		goto out;
	sess = (gnutls_session_t)ci->tls_session;
	certs = gnutls_certificate_get_peers(sess, &ncerts);
	if (certs == NULL || ncerts == 0)
		goto out;
	/* A verdict is kept per connection, for exactly the certificate it
	 * was given on (a renegotiation that brought another one misses),
	 * for at most CERT_CACHE_S and never past the certificate's expiry:
	 * the chain verification (a signature check) is the dearest part
	 * of a request from a client with a certificate. */
	c = conn_ctx(req->conn);
	now = time(NULL);
	if (c != NULL && c->cert_der != NULL && c->cert_len == certs[0].size &&
	    now < c->cert_until &&
	    memcmp(c->cert_der, certs[0].data, c->cert_len) == 0) {
		memcpy(req->fp, c->cert_fp, sizeof(req->fp));
		req->fp_state = 1;
		goto out;
	}
	/* MHD only asks for the certificate; trusting it is ours to do,
	 * against the client CA MHD loaded into the session's credentials */
	if (gnutls_certificate_verify_peers2(sess, &status) !=
	        GNUTLS_E_SUCCESS ||
	    status != 0)
		goto out;
	if (cu_sha256(certs[0].data, certs[0].size, md) != 0)
		goto out;
	for (size_t i = 0; i < CU_SHA256_LEN; i++) {
		req->fp[2 * i] = hex[md[i] >> 4];
		req->fp[2 * i + 1] = hex[md[i] & 15];
	}
	req->fp[CU_HTTP_FINGERPRINT_LEN] = '\0';
	req->fp_state = 1;
	if (c != NULL)
		cert_remember(c, &certs[0], req->fp, now);
out:
	return req->fp_state == 1 ? req->fp : NULL;
}

void cu_http_req_set_ctx(cu_http_req_t *req, void *ctx,
                         void (*free_fn)(void *ctx))
{
	req->ctx = ctx;
	req->ctx_free = free_fn;
}

void *cu_http_req_ctx(const cu_http_req_t *req)
{
	return req->ctx;
}

int cu_http_req_set_principal(cu_http_req_t *req, const char *name)
{
	char *copy = NULL;

	if (name != NULL) {
		copy = strndup(name, 127);
		if (copy == NULL)
			return CU_ERR_NOMEM;
	}
	free(req->principal);
	req->principal = copy;
	return 0;
}

/* ---- MHD callbacks ------------------------------------------------ */

static void peer_text(struct MHD_Connection *conn, char *out, size_t max)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(out, max, "unknown");
	if (ci == NULL || ci->client_addr == NULL)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		          out, (socklen_t)max);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		          &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
		          (socklen_t)max);
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		/* NULL on failure: requests then just find nothing cached */
		*socket_context = calloc(1, sizeof(struct conn));
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct conn *c = *socket_context;
		if (c != NULL)
			free(c->cert_der);
		free(c);
		*socket_context = NULL;
	}
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	cu_http_server_t *s = cls;
	struct conn *c;
	size_t ulen = uri != NULL ? strlen(uri) : 0;
	cu_http_req_t *req;

	/* the request and its copy of the target in one allocation */
	if (ulen > SIZE_MAX - sizeof(*req) - 1)
		return NULL;
	req = calloc(1, sizeof(*req) + ulen + 1);
	if (req == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &req->t0);
	req->srv = s;
	req->conn = conn;
	req->target = req->target_buf;
	if (ulen > 0)
		memcpy(req->target, uri, ulen);
	if (request_id(req->id) != 0) {
		free(req);
		return NULL;
	}
	char *q = strchr(req->target, '?');
	if (q != NULL)
		*q++ = '\0';
	/* a fragment is never sent by conforming clients; drop it */
	char *frag = strchr(q != NULL ? q : req->target, '#');
	if (frag != NULL)
		*frag = '\0';
	req->path = req->target;
	req->path_len = strlen(req->path);
	req->query = q != NULL ? q : "";
	req->query_len = strlen(req->query);
	c = conn_ctx(conn);
	if (c != NULL && c->peer[0] != '\0') {
		memcpy(req->peer, c->peer, sizeof(req->peer));
	} else {
		peer_text(conn, req->peer, sizeof(req->peer));
		if (c != NULL)
			memcpy(c->peer, req->peer, sizeof(c->peer));
	}
	atomic_fetch_add(&s->inflight, 1);
	(void)cu_metrics_add(s->m_inflight, NULL, 1);
	return req;
}

/* First call: headers are in. Route, check limits, run on_headers. */
static enum MHD_Result begin(cu_http_req_t *req, const char *method)
{
	cu_http_server_t *s = req->srv;
	const char *te;
	uint64_t clen = 0;
	int rc;

	req->started = 1;
	req->method = method;
	req->method_bit = cu_http_method_bit(method, strlen(method));
	te = cu_http_req_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	rc = cu_http_req_content_length(req, &clen);
	if (rc == CU_ERR_PARSE) {
		req->has_body = 1; /* unknown: do not keep the connection */
		(void)cu_http_reply_error(req, 400, "BadRequest",
		                          "Malformed Content-Length.");
		goto out;
	}
	req->has_body = (rc == 0 && clen > 0) || te != NULL;

	/* a path that does not decode names nothing, and no route could
	 * tell the client why it matched none (S3's words) */
	if (cu_http_url_decode(req->path, req->path_len, NULL, NULL) != 0) {
		(void)cu_http_reply_error(req, 400, "InvalidURI",
		                          "Couldn't parse the specified URI.");
		goto out;
	}
	rc = cu_http_router_match(s->router, req->method_bit, req->path,
	                          req->path_len, &req->match);
	if (rc == CU_ERR_NOTFOUND && req->match.allowed != 0) {
		char allow[128];
		cu_http_methods_format(req->match.allowed, allow,
		                       sizeof(allow));
		(void)cu_http_set_header(req, "Allow", allow);
		(void)cu_http_reply_error(req, 405, "MethodNotAllowed",
		                          "The method is not allowed on this "
		                          "resource.");
		goto out;
	}
	if (rc == CU_ERR_NOTFOUND) {
		(void)cu_http_reply_error(req, 404, "NotFound",
		                          "No such resource.");
		goto out;
	}
	if (rc != 0) {
		reply_failure(req, rc);
		goto out;
	}
	req->route = req->match.data;
	req->max_body = req->route->r.max_body != 0 ? req->route->r.max_body
	                                            : s->cfg.max_body_bytes;
	if (req->has_body && te == NULL && clen > req->max_body) {
		(void)cu_http_reply_error(req, 413, "RequestTooLarge",
		                          "The request body is too large.");
		goto out;
	}
	if (req->route->r.on_headers != NULL) {
		rc = req->route->r.on_headers(req, req->route->r.arg);
		if (rc != 0)
			reply_failure(req, rc);
	}
	if (!req->replied && req->route->r.on_body == NULL && req->has_body &&
	    te == NULL) {
		/* the whole (bounded) body, in one allocation */
		req->body = malloc((size_t)clen + 1);
		if (req->body == NULL) {
			reply_failure(req, CU_ERR_NOMEM);
			goto out;
		}
		req->body_cap = (size_t)clen + 1;
	}
out:
	/* An early reply to a request without a body waits for MHD's next
	 * call (see the keep-alive note at the top); with an unread body it
	 * goes now, and MHD closes the connection after it. */
	if (req->replied && req->has_body)
		return flush(req);
	return MHD_YES;
}

static int buffer_body(cu_http_req_t *req, const char *data, size_t n)
{
	if (req->body_cap - req->body_len < n + 1) {
		size_t cap = req->body_cap ? req->body_cap : 4096;
		while (cap - req->body_len < n + 1) {
			if (cap > SIZE_MAX / 2)
				return CU_ERR_NOMEM;
			cap *= 2;
		}
		char *nb = realloc(req->body, cap);
		if (nb == NULL)
			return CU_ERR_NOMEM;
		req->body = nb;
		req->body_cap = cap;
	}
	memcpy(req->body + req->body_len, data, n);
	req->body_len += n;
	req->body[req->body_len] = '\0';
	return 0;
}

/* A chunk of the body. */
static enum MHD_Result feed(cu_http_req_t *req, const char *data, size_t n)
{
	const struct cu_http_config *cfg = &req->srv->cfg;
	int rc;

	if (req->replied) {
		/* replied mid-body: drain a little so the reply can be read,
		 * then give up on the connection */
		req->drained += n;
		if (req->drained > DRAIN_MAX)
			return MHD_NO;
		return MHD_YES;
	}
	req->bytes_in += n;
	if (req->max_body != CU_HTTP_BODY_UNLIMITED &&
	    req->bytes_in > req->max_body) {
		(void)cu_http_reply_error(req, 413, "RequestTooLarge",
		                          "The request body is too large.");
		goto replied;
	}
	if (cfg->request_timeout_s > 0 &&
	    elapsed_s(&req->t0) > (double)cfg->request_timeout_s) {
		(void)cu_http_reply_error(req, 408, "RequestTimeout",
		                          "The request took too long.");
		goto replied;
	}
	if (req->route->r.on_body != NULL)
		rc = req->route->r.on_body(req, data, n, req->route->r.arg);
	else
		rc = buffer_body(req, data, n);
	if (rc != 0)
		reply_failure(req, rc);
	if (!req->replied)
		return MHD_YES;
replied:
	/* MHD may refuse a reply while the body is still coming; it then
	 * waits for the end of the (drained) body. */
	if (MHD_queue_response(req->conn, (unsigned)req->status, req->resp) ==
	    MHD_YES) {
		MHD_destroy_response(req->resp);
		req->resp = NULL;
		req->queued = 1;
	}
	return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
	cu_http_req_t *req = *con_cls;
	enum MHD_Result r;
	int rc;

	if (req == NULL)
		return MHD_NO; /* out of memory in on_uri */
	req->conn = conn;
	if (!req->started)
		return begin(req, method);
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		return feed(req, upload_data, n);
	}
	/* the body is complete */
	if (!req->replied) {
		rc = req->route->r.on_end(req, req->route->r.arg);
		if (rc != 0) {
			reply_failure(req, rc);
		} else if (!req->replied) {
			cu_log(CU_LOG_ERROR, "handler did not reply",
			       json_pack("{s:s, s:s}", "request_id", req->id,
			                 "pattern", req->route->r.pattern));
			reply_failure(req, CU_ERR_INTERNAL);
		}
	}
	if (req->replied && !req->queued)
		cork(req);
	r = flush(req);
	if (r != MHD_YES && req->corked != NULL) {
		/* refused: nothing of it was written */
		gnutls_session_t sess = req->corked;
		req->corked = NULL;
		(void)gnutls_record_uncork(sess, 0);
	}
	return r;
}

static const char *termination_name(enum MHD_RequestTerminationCode toe)
{
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK:
		return NULL;
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
		return "timeout";
	case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
		return "shutdown";
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
	case MHD_REQUEST_TERMINATED_READ_ERROR:
		return "client_abort";
	default:
		return "error";
	}
}

static void req_free(cu_http_req_t *req)
{
	if (req->ctx_free != NULL)
		req->ctx_free(req->ctx);
	if (req->resp != NULL)
		MHD_destroy_response(req->resp); /* never queued */
	stream_unref(req->stream);
	while (req->hdrs != NULL) {
		struct hdr *h = req->hdrs;
		req->hdrs = h->next;
		free(h);
	}
	cu_http_query_free(req->queries);
	cu_http_match_clear(&req->match);
	free(req->body);
	free(req->principal);
	free(req);
}

/* A status code as a metric label ("%u" without printf). */
static void status_label(unsigned status, char *out, size_t max)
{
	char d[12];
	size_t n = 0;

	do {
		d[n++] = (char)('0' + status % 10);
		status /= 10;
	} while (status != 0 && n < sizeof(d));
	if (n >= max)
		n = max - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = d[n - 1 - i];
	out[n] = '\0';
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	cu_http_server_t *s = cls;
	cu_http_req_t *req = *con_cls;
	char method[32], path[LOG_PATH_MAX], pr[128], code[16];
	const char *mlabel, *term;
	unsigned status = 0;
	uint64_t out;
	int64_t ns;
	double dur;

	if (req == NULL)
		return;
	*con_cls = NULL;
	uncork(req, conn, toe); /* first: the client is waiting for it */
	ns = elapsed_ns(&req->t0);
	dur = (double)ns / 1e9;
	if (req->queued) {
		status = (unsigned)req->status;
	} else {
		/* MHD's own replies (431, 400 for a malformed request) */
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		    conn, MHD_CONNECTION_INFO_HTTP_STATUS);
		if (ci != NULL)
			status = ci->http_status;
	}
	out = req->stream != NULL ? atomic_load(&req->stream->bytes)
	                          : req->bytes_out;
	term = termination_name(toe);
	if (cu_log_enabled(CU_LOG_INFO)) {
		struct cu_log_field f[10];
		size_t n = 0;

		if (req->method != NULL)
			log_safe(req->method, strlen(req->method), method,
			         sizeof(method));
		else
			memcpy(method, "-", 2);
		log_safe(req->path, req->path_len, path, sizeof(path));
#define FSTR(k, v)                                                             \
	f[n++] = (struct cu_log_field){                                        \
	    .key = (k), .type = CU_LOG_STR, .s = (v), .len = strlen(v)}
#define FINT(k, t, v)                                                          \
	f[n++] = (struct cu_log_field)                                         \
	{                                                                      \
		.key = (k), .type = (t), .i = (v)                              \
	}
		FSTR("request_id", req->id);
		FSTR("method", method);
		FSTR("path", path);
		FINT("status", CU_LOG_INT, (int64_t)status);
		FINT("bytes_in", CU_LOG_INT, (int64_t)req->bytes_in);
		FINT("bytes_out", CU_LOG_INT, (int64_t)out);
		FINT("duration_ms", CU_LOG_NS_MS, ns);
		FSTR("peer", req->peer);
		if (req->principal != NULL) {
			log_safe(req->principal, strlen(req->principal), pr,
			         sizeof(pr));
			FSTR("principal", pr);
		}
		if (term != NULL)
			FSTR("aborted", term);
#undef FSTR
#undef FINT
		cu_log_fields(CU_LOG_INFO, "request", f, n);
	}

	mlabel = req->method_bit != 0 ? req->method : "OTHER";
	status_label(status, code, sizeof(code));
	(void)cu_metrics_add(s->m_requests, (const char *const[]){mlabel, code},
	                     1);
	(void)cu_metrics_observe(s->m_duration, NULL, dur);
	(void)cu_metrics_add(s->m_bytes_in, NULL, (double)req->bytes_in);
	(void)cu_metrics_add(s->m_bytes_out, NULL, (double)out);
	(void)cu_metrics_add(s->m_inflight, NULL, -1);
	req_free(req);
	atomic_fetch_sub(&s->inflight, 1);
}

/* ---- built-in routes ---------------------------------------------- */

static int healthz(cu_http_req_t *req, void *arg)
{
	return cu_http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static int metrics_route(cu_http_req_t *req, void *arg)
{
	cu_http_server_t *s = arg;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if ((rc = cu_metrics_render(s->metrics, &text, &len)) != 0)
		return rc;
	rc = cu_http_reply(req, 200, text, len,
	                   "text/plain; version=0.0.4; charset=utf-8");
	free(text);
	return rc;
}

/* ---- server lifetime ---------------------------------------------- */

static int dup_opt(const char *in, char **out)
{
	*out = NULL;
	if (in == NULL)
		return 0;
	*out = strdup(in);
	return *out != NULL ? 0 : CU_ERR_NOMEM;
}

static int register_metrics(cu_http_server_t *s)
{
	static const char *const req_labels[] = {"method", "code"};
	static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
	                                 0.025,  0.05,  0.1,    0.25,  0.5,
	                                 1,      2.5,   5,      10,    30};
	int rc;

	if ((rc = cu_metrics_register(
	         s->metrics, CU_METRIC_COUNTER, "http_requests_total",
	         "HTTP requests completed, by method and status code.",
	         req_labels, 2, NULL, 0, 256, &s->m_requests)) != 0)
		return rc;
	if ((rc = cu_metrics_register(
	         s->metrics, CU_METRIC_HISTOGRAM,
	         "http_request_duration_seconds",
	         "Time from request line to completion.", NULL, 0, buckets,
	         sizeof(buckets) / sizeof(buckets[0]), 1, &s->m_duration)) != 0)
		return rc;
	if ((rc = cu_metrics_register(
	         s->metrics, CU_METRIC_GAUGE, "http_requests_in_flight",
	         "HTTP requests begun and not completed.", NULL, 0, NULL, 0, 1,
	         &s->m_inflight)) != 0)
		return rc;
	if ((rc = cu_metrics_register(s->metrics, CU_METRIC_COUNTER,
	                              "http_request_bytes_total",
	                              "Request body bytes received.", NULL, 0,
	                              NULL, 0, 1, &s->m_bytes_in)) != 0)
		return rc;
	rc = cu_metrics_register(
	    s->metrics, CU_METRIC_COUNTER, "http_response_bytes_total",
	    "Response body bytes sent.", NULL, 0, NULL, 0, 1, &s->m_bytes_out);
	if (rc == 0) {
		/* render the gauge at 0 before the first request */
		(void)cu_metrics_set(s->m_inflight, NULL, 0);
	}
	return rc;
}

int cu_http_server_new(const struct cu_http_config *cfg, cu_http_server_t **out)
{
	cu_http_server_t *s = NULL;
	int rc = CU_ERR_INVAL;

	*out = NULL;
	if (cfg == NULL)
		goto out;
	if ((cfg->tls_cert_pem == NULL) != (cfg->tls_key_pem == NULL))
		goto out;
	if (cfg->tls_cert_pem == NULL && !cfg->allow_plain)
		goto out;
	if (cfg->tls_cert_pem == NULL && cfg->client_ca_pem != NULL)
		goto out;
	rc = CU_ERR_NOMEM;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto out;
	s->cfg = *cfg;
	atomic_init(&s->inflight, 0);
	atomic_init(&s->stopping, 0);
	if (dup_opt(cfg->bind_addr != NULL ? cfg->bind_addr : "127.0.0.1",
	            &s->bind_addr) != 0 ||
	    dup_opt(cfg->tls_cert_pem, &s->cert) != 0 ||
	    dup_opt(cfg->tls_key_pem, &s->key) != 0 ||
	    dup_opt(cfg->client_ca_pem, &s->ca) != 0)
		goto out;
	s->cfg.bind_addr = s->bind_addr;
	s->cfg.tls_cert_pem = s->cert;
	s->cfg.tls_key_pem = s->key;
	s->cfg.client_ca_pem = s->ca;
	if (s->cfg.max_connections == 0)
		s->cfg.max_connections = DEFAULT_MAX_CONNECTIONS;
	if (s->cfg.max_header_bytes == 0)
		s->cfg.max_header_bytes = DEFAULT_MAX_HEADER;
	if (s->cfg.max_body_bytes == 0)
		s->cfg.max_body_bytes = DEFAULT_MAX_BODY;
	if (s->cfg.idle_timeout_s == 0)
		s->cfg.idle_timeout_s = DEFAULT_IDLE_TIMEOUT;
	if (s->cfg.threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		s->cfg.threads = n > 0 && n < 256 ? 2 * (unsigned)n : 4;
	}
	{
		struct in6_addr a6;
		struct in_addr a4;
		if (inet_pton(AF_INET, s->bind_addr, &a4) != 1 &&
		    inet_pton(AF_INET6, s->bind_addr, &a6) != 1) {
			rc = CU_ERR_INVAL;
			goto out;
		}
	}
	if ((rc = cu_http_router_new(&s->router)) != 0)
		goto out;
	if (cfg->metrics != NULL) {
		s->metrics = cfg->metrics;
	} else {
		if ((rc = cu_metrics_new(&s->metrics)) != 0)
			goto out;
		s->own_metrics = 1;
	}
	if ((rc = register_metrics(s)) != 0)
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	cu_http_server_free(s);
	return rc;
}

int cu_http_server_route(cu_http_server_t *s, const struct cu_http_route *r)
{
	struct srv_route *sr = NULL;
	int rc = CU_ERR_INVAL;

	if (s == NULL || r == NULL || r->on_end == NULL || r->pattern == NULL)
		goto out;
	rc = CU_ERR_STATE;
	if (s->d != NULL)
		goto out;
	rc = CU_ERR_NOMEM;
	if (s->nroutes == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct srv_route **nr = realloc(s->routes, cap * sizeof(*nr));
		if (nr == NULL)
			goto out;
		s->routes = nr;
		s->cap = cap;
	}
	sr = calloc(1, sizeof(*sr));
	if (sr == NULL)
		goto out;
	sr->r = *r;
	sr->r.pattern = strdup(r->pattern);
	if (sr->r.pattern == NULL)
		goto out;
	if ((rc = cu_http_router_add(s->router, r->methods, r->pattern,
	                             r->flags, sr)) != 0)
		goto out;
	s->routes[s->nroutes++] = sr;
	sr = NULL;
	rc = 0;
out:
	if (sr != NULL) {
		free((char *)sr->r.pattern);
		free(sr);
	}
	return rc;
}

int cu_http_server_mount_builtin(cu_http_server_t *s)
{
	struct cu_http_route h = {
	    .methods = CU_HTTP_GET, .pattern = "/healthz", .on_end = healthz};
	struct cu_http_route m = {.methods = CU_HTTP_GET,
	                          .pattern = "/metrics",
	                          .on_end = metrics_route,
	                          .arg = s};
	int rc;

	if ((rc = cu_http_server_route(s, &h)) != 0)
		return rc;
	return cu_http_server_route(s, &m);
}

int cu_http_server_start(cu_http_server_t *s)
{
	struct sockaddr_storage ss;
	unsigned int flags =
	    MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_INTERNAL_POLLING_THREAD;
	struct MHD_OptionItem opts[16];
	size_t n = 0;
	const union MHD_DaemonInfo *di;

	if (s == NULL)
		return CU_ERR_INVAL;
	if (s->d != NULL)
		return CU_ERR_STATE;
	memset(&ss, 0, sizeof(ss));
	{
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
		if (inet_pton(AF_INET, s->bind_addr, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			a4->sin_port = htons(s->cfg.port);
		} else if (inet_pton(AF_INET6, s->bind_addr, &a6->sin6_addr) ==
		           1) {
			a6->sin6_family = AF_INET6;
			a6->sin6_port = htons(s->cfg.port);
			flags |= MHD_USE_IPv6;
		} else {
			return CU_ERR_INVAL;
		}
	}
	if (s->cfg.thread_per_connection)
		flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
	else
		flags |= MHD_USE_POLL;
	if (s->cert != NULL)
		flags |= MHD_USE_TLS;
	atomic_store(&s->stopping, 0);

#define OPT(o, v, p)                                                           \
	opts[n++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (void *)(p)}
	OPT(MHD_OPTION_SOCK_ADDR, 0, &ss);
	OPT(MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->cfg.max_header_bytes, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.idle_timeout_s, NULL);
	if (!s->cfg.thread_per_connection && s->cfg.threads > 1)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads, NULL);
	if (s->cert != NULL) {
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, s->key);
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, TLS_PRIORITIES);
		if (s->ca != NULL)
			OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, s->ca);
	}
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
#undef OPT

	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s,
	                        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
	                        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
	                        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	                        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
	                        MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (s->d == NULL) {
		cu_log(CU_LOG_ERROR, "cannot start the HTTP server",
		       json_pack("{s:s, s:i}", "address", s->bind_addr, "port",
		                 (int)s->cfg.port));
		return CU_ERR_IO;
	}
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di != NULL ? di->port : s->cfg.port;
	return 0;
}

uint16_t cu_http_server_port(const cu_http_server_t *s)
{
	return s != NULL ? s->port : 0;
}

void cu_http_server_url(const cu_http_server_t *s, int tls, const char *addr,
                        char *buf, size_t cap)
{
	const char *scheme = tls ? "https" : "http";
	unsigned port = cu_http_server_port(s);

	if (strchr(addr, ':') != NULL) /* IPv6 */
		snprintf(buf, cap, "%s://[%s]:%u", scheme, addr, port);
	else
		snprintf(buf, cap, "%s://%s:%u", scheme, addr, port);
}

int cu_http_tls_file_read(const char *what, const char *path, char **out)
{
	int rc;

	*out = NULL;
	if (path == NULL)
		return 0;
	rc = cu_pki_read_file(path, MAX_PEM_FILE, out, NULL);
	if (rc != 0)
		cu_log(CU_LOG_ERROR, "cannot read a TLS file",
		       json_pack("{s:s, s:s, s:s}", "file", what, "path", path,
		                 "error", cu_strerror(rc)));
	return rc;
}

cu_metrics_t *cu_http_server_metrics(cu_http_server_t *s)
{
	return s != NULL ? s->metrics : NULL;
}

long cu_http_server_inflight(const cu_http_server_t *s)
{
	return s != NULL ? atomic_load(&s->inflight) : 0;
}

int cu_http_server_stop(cu_http_server_t *s, unsigned deadline_ms)
{
	struct timespec t0;
	MHD_socket fd;
	int rc = 0;

	if (s == NULL || s->d == NULL)
		return 0;
	atomic_store(&s->stopping, 1);
	fd = MHD_quiesce_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd); /* quiesce hands the listening socket to us */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (atomic_load(&s->inflight) > 0) {
		if (elapsed_s(&t0) * 1000.0 >= (double)deadline_ms) {
			rc = CU_ERR_TIMEOUT;
			break;
		}
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(s->d);
	s->d = NULL;
	return rc;
}

void cu_http_server_free(cu_http_server_t *s)
{
	if (s == NULL)
		return;
	(void)cu_http_server_stop(s, 0);
	for (size_t i = 0; i < s->nroutes; i++) {
		free((char *)s->routes[i]->r.pattern);
		free(s->routes[i]);
	}
	free(s->routes);
	cu_http_router_free(s->router);
	if (s->own_metrics)
		cu_metrics_free(s->metrics);
	free(s->bind_addr);
	free(s->cert);
	if (s->key != NULL) {
		/* the TLS private key */
		cu_memzero(s->key, strlen(s->key));
		free(s->key);
	}
	free(s->ca);
	free(s);
}

/* ---- daemons ------------------------------------------------------ */

int cu_http_signals_block(void)
{
	sigset_t set;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return CU_ERR_IO;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return CU_ERR_IO;
	return 0;
}

int cu_http_signals_wait(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigwait(&set, &sig) != 0)
		return CU_ERR_IO;
	return sig;
}

/* server.h - the HTTPS server shared by the vault and the store.
 *
 * A thin, opinionated layer over libmicrohttpd (MHD): TLS 1.2+ only, optional
 * client certificates (verified against a CA, exposed to handlers as a
 * SHA-256 fingerprint), a router with named path segments, streamed request
 * and response bodies, a fresh request id per request, one JSON access-log
 * line per request, Prometheus metrics, limits and graceful shutdown.
 *
 * Writing a handler
 * -----------------
 * A route has up to three callbacks, all run on an MHD worker thread:
 *
 *   on_headers(req, arg)   optional. The request line and headers are in,
 *                          the body is unread. Authenticate here; a reply
 *                          made here is an "early reply": the body is never
 *                          read (with `Expect: 100-continue` the client does
 *                          not even send it) and, when a body was announced,
 *                          the connection closes after the reply.
 *   on_body(req, p, n, arg) optional. Called for each chunk of the body, in
 *                          order, as it arrives; never the whole body at
 *                          once. Without it, the body is buffered up to the
 *                          route's max_body and read with cu_http_req_body().
 *   on_end(req, arg)       required. The whole body has been received:
 *                          reply here (unless replied earlier).
 *
 * A callback returns 0 to go on, or a negative CU_ERR_*: the server then
 * replies 500 (CU_ERR_NOMEM: 503) through the error formatter if the
 * handler has not replied yet. At most one reply per request; a reply is
 * only sent once the server's bookkeeping allows it (see the keep-alive note
 * in server.c), so handlers just call cu_http_reply*() and return.
 *
 *   static int get_key(cu_http_req_t *req, void *arg)
 *   {
 *       const char *name = cu_http_req_param(req, "name");
 *       return cu_http_reply_json(req, 200, json_pack("{s:s}", "kid", name));
 *   }
 *   ...
 *   struct cu_http_route r = {.methods = CU_HTTP_GET,
 *                             .pattern = "/keys/{name}", .on_end = get_key};
 *   cu_http_server_route(srv, &r);
 *
 * Threads: handlers run concurrently on several threads. A request's
 * callbacks all run on the same thread, one at a time. */
#ifndef CU_HTTP_SERVER_H
#define CU_HTTP_SERVER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/http/router.h"
#include "core/metrics.h"

typedef struct cu_http_server cu_http_server_t;
typedef struct cu_http_req cu_http_req_t;

/* Lengths of the strings the server hands out. */
#define CU_HTTP_REQUEST_ID_LEN  32 /* hex digits, 128 random bits */
#define CU_HTTP_FINGERPRINT_LEN 64 /* hex digits of a SHA-256 */

/* A route's max_body meaning "no limit" (for streamed uploads). */
#define CU_HTTP_BODY_UNLIMITED UINT64_MAX
/* cu_http_reply_stream: total size not known in advance (chunked). */
#define CU_HTTP_SIZE_UNKNOWN UINT64_MAX
/* Return values of a cu_http_reader_fn besides a byte count. */
#define CU_HTTP_STREAM_END   ((ssize_t)-1)
#define CU_HTTP_STREAM_ERROR ((ssize_t)-2)

/* Formats a reply for an error the server itself produces (404, 405, 413,
 * 500, ...) or one a handler asks for with cu_http_reply_error(). It must
 * reply (cu_http_reply or cu_http_reply_json) and return its result.
 * `code` is a short machine-readable word ("NotFound"), `message` a
 * sentence for people; neither is NULL. */
typedef int (*cu_http_error_fn)(cu_http_req_t *req, int status,
                                const char *code, const char *message,
                                void *arg);

struct cu_http_config {
	/* Listening address: a numeric IPv4 or IPv6 address. NULL means
	 * "127.0.0.1". port 0 picks a free port: see cu_http_server_port. */
	const char *bind_addr;
	uint16_t port;

	/* TLS: PEM text (not file names) of the certificate chain and its
	 * private key. Both NULL means plain HTTP, which is refused unless
	 * allow_plain is set (tests and benchmarks only). */
	const char *tls_cert_pem;
	const char *tls_key_pem;
	/* Optional PEM of the CA(s) whose client certificates are accepted.
	 * Client certificates are then requested but optional: handlers see
	 * the fingerprint of a verified one, or NULL. */
	const char *client_ca_pem;
	int allow_plain;

	/* Threads: 0 = 2 * online CPUs (a thread pool, see server.c). With
	 * thread_per_connection set, one thread per connection instead. */
	unsigned threads;
	int thread_per_connection;

	/* Limits. 0 picks the default given. */
	unsigned max_connections;   /* 1024 */
	size_t max_header_bytes;    /* 32 KiB: request line + headers */
	uint64_t max_body_bytes;    /* 1 MiB: routes with max_body 0 */
	unsigned idle_timeout_s;    /* 60: a connection silent this long */
	unsigned request_timeout_s; /* 0 = none: a request's body still
	                             * arriving after this gets 408 */

	/* Error body format; NULL = cu_http_error_json. */
	cu_http_error_fn error_fn;
	void *error_arg;

	/* Metrics registry for the http_* series; NULL = the server owns a
	 * fresh one (what GET /metrics renders either way). Borrowed: must
	 * outlive the server. */
	cu_metrics_t *metrics;
};

typedef int (*cu_http_handler_fn)(cu_http_req_t *req, void *arg);
typedef int (*cu_http_body_fn)(cu_http_req_t *req, const char *data, size_t len,
                               void *arg);

struct cu_http_route {
	unsigned methods;    /* CU_HTTP_GET | ... (router.h); GET routes
	                      * also answer HEAD */
	const char *pattern; /* "/keys/{name}/{version}", "/{b}/{key*}";
	                      * see router.h */
	unsigned flags;      /* CU_HTTP_ROUTE_* (router.h) */
	cu_http_handler_fn on_headers; /* optional */
	cu_http_body_fn on_body;       /* optional: stream the body */
	cu_http_handler_fn on_end;     /* required */
	uint64_t max_body;             /* 0 = config's max_body_bytes; or
	                                * CU_HTTP_BODY_UNLIMITED */
	void *arg;                     /* passed to the callbacks */
};

/* ---- server lifetime ---------------------------------------------- */

/* cu_http_server_new - make a server from `cfg` (copied; PEM strings too).
 * Nothing listens until cu_http_server_start. Returns 0 and *out (free with
 * cu_http_server_free), CU_ERR_INVAL for a bad config (plain HTTP without
 * allow_plain, half a TLS pair, bad address), or CU_ERR_NOMEM. */
int cu_http_server_new(const struct cu_http_config *cfg,
                       cu_http_server_t **out);

/* cu_http_server_route - add a route (copied). Routes are tried in the
 * order added; the first whose pattern and method match wins. Only before
 * cu_http_server_start. Returns 0, CU_ERR_INVAL (bad pattern, no on_end),
 * CU_ERR_STATE (already started) or CU_ERR_NOMEM. */
int cu_http_server_route(cu_http_server_t *s, const struct cu_http_route *r);

/* cu_http_server_mount_builtin - add GET /healthz ({"status":"ok"}) and
 * GET /metrics (Prometheus text format 0.0.4 of the server's registry).
 * Same returns as cu_http_server_route. */
int cu_http_server_mount_builtin(cu_http_server_t *s);

/* cu_http_server_start - bind and start serving. Returns 0,
 * CU_ERR_IO when the address cannot be bound or MHD refuses the TLS
 * material (detail logged), CU_ERR_STATE when already started. */
int cu_http_server_start(cu_http_server_t *s);

/* cu_http_server_port - the port actually bound (useful with port 0);
 * 0 before start. */
uint16_t cu_http_server_port(const cu_http_server_t *s);

/* cu_http_server_url - write "SCHEME://ADDR:PORT" for a started server
 * into buf (cap bytes, NUL-terminated, truncated if short): SCHEME is
 * https when tls is nonzero, else http; an IPv6 addr goes in brackets;
 * PORT is the port bound. */
void cu_http_server_url(const cu_http_server_t *s, int tls, const char *addr,
                        char *buf, size_t cap);

/* cu_http_tls_file_read - read the PEM file at path for the TLS setting
 * `what` ("tls-cert"; named in the log) into *out (NUL-terminated, at
 * most 1 MiB; the caller frees it with cu_pki_pem_free). path NULL: *out
 * NULL and 0. Returns 0, or cu_pki_read_file's error after logging it. */
int cu_http_tls_file_read(const char *what, const char *path, char **out);

/* cu_http_server_metrics - the registry the server records into (the
 * config's or its own); handlers may add their own series to it. */
cu_metrics_t *cu_http_server_metrics(cu_http_server_t *s);

/* cu_http_server_inflight - requests begun and not yet completed. */
long cu_http_server_inflight(const cu_http_server_t *s);

/* cu_http_server_stop - graceful stop: stop accepting connections at once,
 * let requests in flight finish for up to `deadline_ms`, then close every
 * connection (aborted requests get their free callbacks) and stop the
 * threads. Returns 0 when everything finished in time, CU_ERR_TIMEOUT
 * when requests had to be cut off. Idempotent; a server never started
 * returns 0. */
int cu_http_server_stop(cu_http_server_t *s, unsigned deadline_ms);

/* cu_http_server_free - stop (deadline 0) if needed and free. NULL ok. */
void cu_http_server_free(cu_http_server_t *s);

/* ---- reading the request ------------------------------------------ */

/* Strings returned below belong to the request and stay valid until it
 * completes; none is NULL unless stated. */

/* Request id: CU_HTTP_REQUEST_ID_LEN lowercase hex digits. Also sent back
 * as the `x-request-id` response header. */
const char *cu_http_req_id(const cu_http_req_t *req);

/* The method as sent ("GET") and its CU_HTTP_* bit (0 if unknown). */
const char *cu_http_req_method(const cu_http_req_t *req);
unsigned cu_http_req_method_bit(const cu_http_req_t *req);

/* The path as sent, still percent-encoded, without the query string. */
const char *cu_http_req_path(const cu_http_req_t *req);

/* The raw query string after '?' (percent-encoded; "" when none). For
 * signature checks that must see exactly what the client signed. */
const char *cu_http_req_query_string(const cu_http_req_t *req);

/* The value of the named path parameter ({name} in the pattern),
 * percent-decoded; NULL when the pattern has no such parameter. */
const char *cu_http_req_param(const cu_http_req_t *req, const char *name);

/* cu_http_req_param_len - cu_http_req_param, with the decoded length in
 * *len as the decoder counted it (0 when absent): a value's length that
 * never depends on it holding no NUL byte. */
const char *cu_http_req_param_len(const cu_http_req_t *req, const char *name,
                                  size_t *len);

/* The decoded value of the first query argument `name` (decoded name
 * compared exactly), "" for `?name` without '=', NULL when absent or
 * when it does not decode (bad %XX, NUL byte). '+' stays '+'. */
const char *cu_http_req_query(cu_http_req_t *req, const char *name);

/* A request header's value (name case-insensitive); NULL when absent.
 * Repeated headers: the first. */
const char *cu_http_req_header(const cu_http_req_t *req, const char *name);

/* Declared body length: 0 and *len set when Content-Length is present and
 * valid, CU_ERR_NOTFOUND when absent (chunked or no body), CU_ERR_PARSE
 * when malformed. */
int cu_http_req_content_length(const cu_http_req_t *req, uint64_t *len);

/* Body bytes received so far. */
uint64_t cu_http_req_bytes_in(const cu_http_req_t *req);

/* The buffered body of a route without on_body, complete in on_end; NUL
 * terminated (the NUL not counted). *len may be NULL. Empty body: "" and
 * 0. With on_body set: NULL and 0. */
const char *cu_http_req_body(const cu_http_req_t *req, size_t *len);

/* Parse the buffered body as one JSON value (duplicate keys refused).
 * Returns 0 and *out (caller decrefs), CU_ERR_PARSE, or CU_ERR_NOMEM. */
int cu_http_req_body_json(const cu_http_req_t *req, json_t **out);

/* The peer's address as text ("127.0.0.1", "::1"). */
const char *cu_http_req_peer(const cu_http_req_t *req);

/* The lowercase hex SHA-256 of the client certificate's DER when the
 * client sent one and it verified against the configured client CA; NULL
 * otherwise (no TLS, no client CA, none sent, or not trusted). */
const char *cu_http_req_client_cert_sha256(cu_http_req_t *req);

/* ---- per-request state -------------------------------------------- */

/* Attach the handler's own state to the request. `free_fn` (may be NULL)
 * is called exactly once with `ctx` when the request completes or the
 * client goes away, even when no reply was made. Replaces (without
 * freeing) any previous context. */
void cu_http_req_set_ctx(cu_http_req_t *req, void *ctx,
                         void (*free_fn)(void *ctx));
void *cu_http_req_ctx(const cu_http_req_t *req);

/* Name the authenticated principal for the access log (copied, at most
 * 127 bytes kept). NULL clears. Returns 0 or CU_ERR_NOMEM. */
int cu_http_req_set_principal(cu_http_req_t *req, const char *name);

/* ---- replying ----------------------------------------------------- */

/* Add a response header to the reply (copied), before replying. Names
 * and values with CR, LF or NUL are refused. Returns 0, CU_ERR_INVAL,
 * CU_ERR_STATE (already replied) or CU_ERR_NOMEM. */
int cu_http_set_header(cu_http_req_t *req, const char *name, const char *value);

/* Reply with `len` bytes of `body` (copied; may be NULL when len is 0)
 * and the given Content-Type (NULL = none). Returns 0, CU_ERR_STATE when
 * a reply was already made, CU_ERR_INVAL, or CU_ERR_NOMEM. */
int cu_http_reply(cu_http_req_t *req, int status, const void *body, size_t len,
                  const char *content_type);

/* Reply with `json` serialised compactly, as application/json. Steals the
 * reference (decref'd here, on every path); json NULL replies 500 and
 * returns CU_ERR_NOMEM. Other returns as cu_http_reply. */
int cu_http_reply_json(cu_http_req_t *req, int status, json_t *json);

/* Reply through the server's error formatter (config error_fn, by default
 * cu_http_error_json). */
int cu_http_reply_error(cu_http_req_t *req, int status, const char *code,
                        const char *message);

/* The default error formatter: {"error":{"code":"...","message":"..."}}
 * (the Azure shape), application/json. Usable as a cu_http_error_fn. */
int cu_http_error_json(cu_http_req_t *req, int status, const char *code,
                       const char *message, void *arg);

/* Produces the next bytes of a streamed reply: write up to `max` bytes at
 * offset `pos` into buf and return how many (> 0), or CU_HTTP_STREAM_END
 * when done (only valid for CU_HTTP_SIZE_UNKNOWN), or
 * CU_HTTP_STREAM_ERROR to abort the connection. May block. */
typedef ssize_t (*cu_http_reader_fn)(void *arg, uint64_t pos, char *buf,
                                     size_t max);

/* Reply with a body produced by `reader` (MHD calls it as the client
 * reads: never the whole body in memory). `size` is the total length or
 * CU_HTTP_SIZE_UNKNOWN (chunked encoding). Ownership of `arg` passes to
 * the server on every path: `free_fn` (may be NULL) is called exactly once
 * when the reply is finished or abandoned, or at once if this fails.
 * Returns as cu_http_reply. */
int cu_http_reply_stream(cu_http_req_t *req, int status, uint64_t size,
                         const char *content_type, cu_http_reader_fn reader,
                         void *arg, void (*free_fn)(void *arg));

/* 1 when a reply has been made for this request, else 0. */
int cu_http_replied(const cu_http_req_t *req);

/* ---- daemons ------------------------------------------------------ */

/* cu_http_signals_block - block SIGTERM, SIGINT (and SIGPIPE) in the
 * calling thread, which all threads created afterwards inherit: call it
 * first in main, before starting any server. Returns 0 or CU_ERR_IO. */
int cu_http_signals_block(void);

/* cu_http_signals_wait - wait for SIGTERM or SIGINT (blocked by
 * cu_http_signals_block); returns the signal number, or CU_ERR_IO. */
int cu_http_signals_wait(void);

#endif

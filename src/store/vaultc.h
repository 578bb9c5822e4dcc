/* vaultc.h - the store's HTTPS client to a tenant's key vault: a custos
 * vault or Azure Key Vault (keys REST API, api-version 7.4).
 *
 * One handle per vault (one origin, "https://host:port"). The store
 * authenticates with its TLS client certificate (principal custos-store,
 * no secret exchanged) or, alternatively, a bearer token; the vault is
 * verified against a CA file. Connections are reused: the handle keeps a
 * small pool of libcurl easy handles, each holding its kept-alive
 * connection, so calls from many threads share them safely.
 *
 * Every failure is classified (struct cu_vaultc_result, DESIGN.md section
 * 5, "denied versus unreachable"):
 *
 *   the vault answered "no"  -> a denial: CU_ERR_DENIED (or CU_ERR_AUTH
 *                               when the vault says the wrapped value
 *                               does not decrypt under the key);
 *   the vault did not answer -> an outage: CU_ERR_UNAVAILABLE, or
 *                               CU_ERR_TIMEOUT when a bound ran out.
 *
 * A TLS failure (the vault's certificate does not verify, or our client
 * certificate is refused during the handshake) is a configuration error,
 * not an answer: unreachable, reason CU_VAULTC_TLS_ERROR.
 *
 * Secrets: a key unwrapped by the vault goes from the response text
 * straight into the caller's (locked) buffer; the response text, the
 * request body of a wrap and the Authorization header are wiped before
 * they are freed. Nothing here logs a key, a wrapped value or a token.
 *
 * Thread-safe: a handle may be used from any number of threads. */
#ifndef CU_STORE_VAULTC_H
#define CU_STORE_VAULTC_H

#include <stddef.h>
#include <stdint.h>

#define CU_VAULTC_API_VERSION        "7.4"
#define CU_VAULTC_KID_MAX            512 /* longest kid accepted */
#define CU_VAULTC_ORIGIN_MAX         300 /* "https://host:port" */
#define CU_VAULTC_NAME_MAX           127 /* Azure: 1-127 of [0-9A-Za-z-] */
#define CU_VAULTC_VERSION_LEN        32  /* 32 hex digits */
#define CU_VAULTC_CONNECT_TIMEOUT_MS 2000
#define CU_VAULTC_TIMEOUT_MS         5000
#define CU_VAULTC_POOL_MAX           8
#define CU_VAULTC_WRAPPED_MAX        512 /* RSA-4096 */
#define CU_VAULTC_EVENTS_WAIT_MAX    30  /* the vault's long-poll limit */

/* Why a call failed. The *_DENIED group are answers from the vault; the
 * *_UNREACHABLE group mean no usable answer came. */
enum cu_vaultc_reason {
	CU_VAULTC_OK = 0,
	/* denials (the vault answered no) */
	CU_VAULTC_KEY_NOT_FOUND,     /* 404: no such key or version, or
	                              * the key is soft-deleted */
	CU_VAULTC_KEY_DELETED,       /* cu_vaultc_get_deleted found it */
	CU_VAULTC_KEY_DISABLED,      /* 403, "disabled" */
	CU_VAULTC_KEY_EXPIRED,       /* 403, "expired" (exp passed) */
	CU_VAULTC_KEY_NOT_YET_VALID, /* 403, "not yet valid" (nbf) */
	CU_VAULTC_OP_NOT_ALLOWED,    /* 403, the key's key_ops */
	CU_VAULTC_PERMISSION_DENIED, /* 403 otherwise: no role (RBAC) */
	CU_VAULTC_UNAUTHENTICATED,   /* 401: the vault knows no such
	                              * principal (certificate or token) */
	CU_VAULTC_UNWRAP_FAILED,     /* 400 on unwrap: the value does not
	                              * decrypt under this key version */
	CU_VAULTC_BAD_REQUEST,       /* other 4xx (wrong alg for the key,
	                              * ...): the vault refused the call */
	/* unreachable (no usable answer) */
	CU_VAULTC_UNREACHABLE,  /* DNS, refused, reset, 5xx, 429 */
	CU_VAULTC_TIMEOUT,      /* connect or total bound ran out */
	CU_VAULTC_TLS_ERROR,    /* handshake or verification failed */
	CU_VAULTC_BAD_RESPONSE, /* an answer we cannot parse */
};

/* The outcome of one call, for logs and for the store's status. */
struct cu_vaultc_result {
	enum cu_vaultc_reason reason;
	long status;       /* HTTP status, 0 when none arrived */
	char code[64];     /* the vault's error.code ("Forbidden"), or "" */
	char message[256]; /* the vault's error.message or the transport's
	                    * error text; never a secret */
};

/* cu_vaultc_reason_name - "KeyNotFound", "KeyDeleted", "KeyDisabled",
 * "KeyExpired", "KeyNotYetValid", "KeyOperationNotAllowed",
 * "PermissionDenied", "Unauthenticated", "UnwrapFailed", "BadRequest",
 * "VaultUnreachable", "VaultTimeout", "VaultTlsError", "BadResponse",
 * "OK"; never NULL. */
const char *cu_vaultc_reason_name(enum cu_vaultc_reason r);

/* cu_vaultc_is_denial - 1 when r is an answer "no" from the vault (a
 * revocation for the store), else 0. */
int cu_vaultc_is_denial(enum cu_vaultc_reason r);

/* cu_vaultc_is_unreachable - 1 when r means no usable answer (an
 * outage for the store), else 0. */
int cu_vaultc_is_unreachable(enum cu_vaultc_reason r);

/* ---- key identifiers ----------------------------------------------- */

/* A parsed kid: https://HOST[:PORT]/keys/NAME[/VERSION]. */
struct cu_vaultc_kid {
	char origin[CU_VAULTC_ORIGIN_MAX + 1]; /* "https://host:port";
	                                        * host lowercased, port
	                                        * always present */
	char name[CU_VAULTC_NAME_MAX + 1];
	char version[CU_VAULTC_VERSION_LEN + 1]; /* "" = follow latest */
};

/* cu_vaultc_kid_parse - strictly parse len bytes at s (need not be
 * NUL-terminated) as a kid: at most CU_VAULTC_KID_MAX bytes, scheme
 * "https" only, a host of [A-Za-z0-9.-] (1-253) or a bracketed IPv6
 * literal, an optional port 1-65535, path /keys/NAME with NAME 1-127 of
 * [0-9A-Za-z-], then nothing, "/" or "/VERSION" with VERSION 32 hex
 * digits (kept lowercase). No user info, query or fragment. Returns 0 and
 * *out, or CU_ERR_INVAL (*out zeroed). */
int cu_vaultc_kid_parse(const char *s, size_t len, struct cu_vaultc_kid *out);

/* cu_vaultc_kid_format - "ORIGIN/keys/NAME[/VERSION]" into out (cap
 * bytes with the NUL). Returns 0 or CU_ERR_RANGE. */
int cu_vaultc_kid_format(const struct cu_vaultc_kid *k, char *out, size_t cap);

/* ---- the client ---------------------------------------------------- */

typedef struct cu_vaultc cu_vaultc_t;

struct cu_vaultc_config {
	const char *url;             /* the vault: "https://host[:port]"
	                              * (required; a trailing "/" is ignored) */
	const char *ca_file;         /* PEM CA bundle the vault's certificate
	                              * must chain to; NULL = the system store */
	const char *cert_file;       /* PEM client certificate and key of the */
	const char *key_file;        /* store (both or neither) */
	const char *token;           /* or a bearer token (copied into locked
	                              * memory); NULL = none */
	unsigned connect_timeout_ms; /* 0 = CU_VAULTC_CONNECT_TIMEOUT_MS */
	unsigned timeout_ms;         /* whole call; 0 = CU_VAULTC_TIMEOUT_MS */
	unsigned pool_max; /* idle connections kept; 0 = CU_VAULTC_POOL_MAX */
};

/* cu_vaultc_new - a client for one vault. Initialises libcurl once per
 * process (thread-safe). Checks the configuration only (no connection is
 * made). Returns 0 and *out (release with cu_vaultc_free), CU_ERR_INVAL
 * (url not https://host[:port], cert without key, neither certificate
 * nor token, ...) or CU_ERR_NOMEM. */
int cu_vaultc_new(const struct cu_vaultc_config *cfg, cu_vaultc_t **out);

/* cu_vaultc_ref - take one more reference to v (for a root that shares
 * it); each reference is dropped with cu_vaultc_free. Returns v. */
cu_vaultc_t *cu_vaultc_ref(cu_vaultc_t *v);

/* cu_vaultc_free - drop a reference; the last one closes every pooled
 * connection and wipes the token. NULL ok. */
void cu_vaultc_free(cu_vaultc_t *v);

/* cu_vaultc_origin - the vault's normalised origin ("https://h:p");
 * owned by v. */
const char *cu_vaultc_origin(const cu_vaultc_t *v);

/* cu_vaultc_global_cleanup - release libcurl's global state at process
 * end, after every handle is freed (for leak checkers). */
void cu_vaultc_global_cleanup(void);

/* Counters since cu_vaultc_new, for tests and metrics. */
struct cu_vaultc_stats {
	uint64_t requests;    /* HTTP requests sent */
	uint64_t connections; /* new connections opened (reuse = fewer) */
};
void cu_vaultc_stats(cu_vaultc_t *v, struct cu_vaultc_stats *out);

/* Key types and operations of a KeyBundle. */
enum cu_vaultc_kty {
	CU_VAULTC_KTY_UNKNOWN = 0,
	CU_VAULTC_KTY_RSA,
	CU_VAULTC_KTY_EC,
	CU_VAULTC_KTY_OCT,
};
enum {
	CU_VAULTC_OP_ENCRYPT = 1 << 0,
	CU_VAULTC_OP_DECRYPT = 1 << 1,
	CU_VAULTC_OP_SIGN = 1 << 2,
	CU_VAULTC_OP_VERIFY = 1 << 3,
	CU_VAULTC_OP_WRAP = 1 << 4,
	CU_VAULTC_OP_UNWRAP = 1 << 5,
};

/* A KeyBundle, as much of it as the store uses. */
struct cu_vaultc_key {
	char name[CU_VAULTC_NAME_MAX + 1];
	char version[CU_VAULTC_VERSION_LEN + 1]; /* resolved, from kid */
	enum cu_vaultc_kty kty;
	int hsm;       /* "-HSM" key type */
	unsigned bits; /* RSA: modulus bits (from n); oct: key_size when
	                * the vault gives it, else 0; EC: curve bits */
	char crv[16];  /* EC only */
	unsigned ops;  /* CU_VAULTC_OP_* from key_ops */
	int enabled;
	int64_t nbf, exp, created, updated; /* Unix seconds; 0 = absent */
	char recovery_level[48];            /* "" when absent */
	int recoverable_days;               /* 0 when absent */
};

/* cu_vaultc_get_key - GET /keys/NAME[/VERSION] of kid (its origin must be
 * v's). Returns 0 and *key; a denial (CU_ERR_DENIED), an outage
 * (CU_ERR_UNAVAILABLE, CU_ERR_TIMEOUT), CU_ERR_INVAL (bad kid or another
 * vault's) or CU_ERR_NOMEM; res (may be NULL) says why. */
int cu_vaultc_get_key(cu_vaultc_t *v, const char *kid,
                      struct cu_vaultc_key *key, struct cu_vaultc_result *res);

/* cu_vaultc_get_deleted - GET /deletedkeys/NAME: 0 when kid's key is in
 * the soft-deleted state (res->reason CU_VAULTC_KEY_DELETED, *purge_at
 * (may be NULL) the scheduled purge date or 0), else the classified
 * error (a 404: CU_ERR_DENIED with CU_VAULTC_KEY_NOT_FOUND). Any role
 * that reads the key reads it deleted (Azure's keys/read); a principal
 * without one gets CU_ERR_DENIED, PERMISSION_DENIED. */
int cu_vaultc_get_deleted(cu_vaultc_t *v, const char *kid, int64_t *purge_at,
                          struct cu_vaultc_result *res);

/* Algorithms the store wraps with. */
enum cu_vaultc_alg {
	CU_VAULTC_RSA_OAEP_256 = 1, /* RSA keys */
	CU_VAULTC_A256KW,           /* oct (AES-256) keys */
};

/* cu_vaultc_alg_name - "RSA-OAEP-256" / "A256KW"; NULL when unknown. */
const char *cu_vaultc_alg_name(enum cu_vaultc_alg alg);

/* cu_vaultc_wrap - POST .../wrapkey: the vault wraps in (in_len bytes,
 * 1-512) under kid's key with alg; the result into out (cap bytes,
 * CU_VAULTC_WRAPPED_MAX is always enough; *out_len) and the version that
 * wrapped it into version (may be NULL; 33 bytes). The request text that
 * held `in` is wiped. Returns 0, CU_ERR_RANGE (out too small, in too
 * long), the errors of cu_vaultc_get_key, with res (may be NULL). */
int cu_vaultc_wrap(cu_vaultc_t *v, const char *kid, enum cu_vaultc_alg alg,
                   const unsigned char *in, size_t in_len, unsigned char *out,
                   size_t cap, size_t *out_len,
                   char version[CU_VAULTC_VERSION_LEN + 1],
                   struct cu_vaultc_result *res)
    __attribute__((warn_unused_result));

/* cu_vaultc_unwrap - POST .../unwrapkey: the plaintext into out (give
 * locked memory; cap bytes; *out_len), the version that unwrapped it into
 * version (may be NULL). The response text is wiped; on any failure out
 * is wiped too. Returns 0, CU_ERR_AUTH (the vault says the value does not
 * decrypt: CU_VAULTC_UNWRAP_FAILED), CU_ERR_RANGE (out too small), and
 * the errors of cu_vaultc_get_key, with res (may be NULL). */
int cu_vaultc_unwrap(cu_vaultc_t *v, const char *kid, enum cu_vaultc_alg alg,
                     const unsigned char *in, size_t in_len, unsigned char *out,
                     size_t cap, size_t *out_len,
                     char version[CU_VAULTC_VERSION_LEN + 1],
                     struct cu_vaultc_result *res)
    __attribute__((warn_unused_result));

/* ---- key events (DESIGN.md section 6) ------------------------------ */

struct cu_vaultc_event {
	int64_t seq;
	int64_t ts_ms;
	char type[32]; /* key_created, key_new_version, key_enabled,
	                * key_disabled, key_deleted, key_recovered,
	                * key_purged, key_near_expiry, role_assigned,
	                * role_removed (others passed through) */
	char key[CU_VAULTC_NAME_MAX + 1]; /* "" for vault-wide events */
	char version[CU_VAULTC_VERSION_LEN + 1];
	char principal[128]; /* role events: whose role; else "" */
};

/* cu_vaultc_events - read the vault's key event stream once: GET
 * /admin/v1/events?since=SINCE&wait=WAIT_S&max=MAX as a long-poll (the
 * vault answers at once when events newer than since exist, else after at
 * most wait_s seconds, 0-30, with none). The call's total bound is
 * wait_s plus the configured timeout. *events gets a fresh array of *n
 * events (free with cu_vaultc_events_free; NULL when n is 0), *last the
 * sequence number to pass as since next time. max 1-1000 (0 = 100).
 * Returns 0, the errors of cu_vaultc_get_key (a principal without the
 * right to read events: CU_ERR_DENIED, PERMISSION_DENIED), CU_ERR_INVAL,
 * with res (may be NULL). */
int cu_vaultc_events(cu_vaultc_t *v, int64_t since, unsigned wait_s,
                     unsigned max, struct cu_vaultc_event **events, size_t *n,
                     int64_t *last, struct cu_vaultc_result *res);

/* cu_vaultc_events_free - NULL ok. */
void cu_vaultc_events_free(struct cu_vaultc_event *events);

/* ---- parsers, exposed for tests and fuzzing ------------------------ */

/* cu_vaultc_parse_key - a KeyBundle (len bytes of JSON text) into *key.
 * Returns 0, CU_ERR_PARSE (not a KeyBundle) or CU_ERR_NOMEM. */
int cu_vaultc_parse_key(const char *text, size_t len,
                        struct cu_vaultc_key *key);

/* cu_vaultc_classify - the reason for an HTTP answer of `status` with
 * body text (len bytes; an Azure error body or anything else) to
 * operation op ("get", "wrapkey", "unwrapkey", "events", ...); fills res
 * and returns its CU_ERR_* (0 for 2xx). */
int cu_vaultc_classify(long status, const char *op, const char *text,
                       size_t len, struct cu_vaultc_result *res);

/* cu_vaultc_parse_value - from a key operation result {"kid","value"}
 * (len bytes at text, which is modified: the value is overwritten in
 * place once decoded), decode "value" (base64url) into out (cap bytes;
 * *out_len) and the version from "kid" into version (may be NULL); the
 * kid must name key `name` (NULL: any). Returns 0, CU_ERR_PARSE or
 * CU_ERR_RANGE; out wiped on failure. */
int cu_vaultc_parse_value(char *text, size_t len, const char *name,
                          unsigned char *out, size_t cap, size_t *out_len,
                          char version[CU_VAULTC_VERSION_LEN + 1]);

/* cu_vaultc_parse_events - an events page {"value":[...],"last":N} into
 * a fresh array as cu_vaultc_events gives. Returns 0, CU_ERR_PARSE or
 * CU_ERR_NOMEM. */
int cu_vaultc_parse_events(const char *text, size_t len,
                           struct cu_vaultc_event **events, size_t *n,
                           int64_t *last);

#endif

/* store.h - the custos store daemon: S3 API, admin API, key hierarchy.
 *
 * cu_store_start prepares the data directory (metadata database, key
 * files, object files), loads or creates the operator token, builds the
 * HTTPS server (core/http/server.h) with /healthz, /metrics, the admin
 * API and the S3 API, and starts serving; a background thread wipes
 * tenant keys whose lease has ended. The caller (`custos store serve`)
 * owns process concerns: signals, logging, secure memory.
 *
 * Data directory layout:
 *   store.db        metadata (SQLite, WAL)
 *   master.key      seals access-key secrets in store.db (0600)
 *   system.key      the system key (SK) that wraps tenant keys (0600),
 *                   unless it is a key in the operator's vault
 *                   (system_key_kid)
 *   availability.key  the availability key (AvK) of customer-managed
 *                   tenants that chose it (0600), unless it is a key in
 *                   the operator's vault (availability_key_kid)
 *   objects/T/xx/V  object version V of tenant T, encrypted */
#ifndef CU_STORE_H
#define CU_STORE_H

#include <stdint.h>

typedef struct cu_store cu_store_t;

struct cu_store_config {
	const char *listen_addr;   /* numeric address; NULL = 127.0.0.1 */
	uint16_t port;             /* 0 = any free port */
	const char *tls_cert_file; /* PEM files; both NULL = plain HTTP, */
	const char *tls_key_file;  /* only with allow_plain (tests) */
	int allow_plain;
	/* The store's client certificate for vaults (customer-managed keys,
	 * the operator's vault); checked readable. */
	const char *client_cert_file;
	const char *client_key_file;
	const char *data_dir; /* required */
	/* The operator's admin token: read from this file, or created
	 * (random, 0600) when missing. NULL = DATA/operator.token. */
	const char *operator_token_file;
	unsigned lease_s; /* tenant key lease; 0 = 60 s */
	/* customer-managed keys (store/cmk.h) */
	const char *vault_ca_file; /* CA of tenants' vaults; NULL = system */
	unsigned outage_grace_s;   /* serve on past a lease in an outage */
	unsigned purge_grace_s;    /* 0 = one day */
	unsigned cmk_check_s;      /* key re-check interval; 0 = the lease */
	int refuse_revert;         /* 1: no way back to system-managed */
	int no_vault_events;       /* 1: poll only (measurements) */
	double lockout_purge_days; /* inaccessible this long -> purge;
	                            * 0 = never (default) */
	unsigned threads;          /* 0 = the server's default */
	/* The operator's keys in the operator's vault (store/oproot.h):
	 * kids, the store authenticating with client_cert_file and
	 * trusting vault_ca_file; NULL = the key files in data_dir. */
	const char *system_key_kid;
	const char *availability_key_kid;
};

/* cu_store_start - open everything and start serving. Returns 0 and *out
 * (stop and free with cu_store_stop / cu_store_free), CU_ERR_INVAL (bad
 * config), CU_ERR_NOTFOUND / CU_ERR_IO (unreadable files, address in
 * use), CU_ERR_DENIED (a key file readable by others), CU_ERR_DB,
 * CU_ERR_NOMEM. Detail is logged. */
int cu_store_start(const struct cu_store_config *cfg, cu_store_t **out);

/* cu_store_port - the port bound. */
uint16_t cu_store_port(const cu_store_t *s);

/* cu_store_url - "https://ADDR:PORT" (IPv6 in brackets); owned by s. */
const char *cu_store_url(const cu_store_t *s);

/* cu_store_stop - graceful stop (see cu_http_server_stop). Returns 0 or
 * CU_ERR_TIMEOUT. NULL ok. */
int cu_store_stop(cu_store_t *s, unsigned deadline_ms);

/* cu_store_free - stop if needed and free everything, wiping keys. NULL
 * ok. */
void cu_store_free(cu_store_t *s);

#endif

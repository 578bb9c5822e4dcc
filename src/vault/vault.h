/* vault.h - the custos vault daemon: its HTTPS server and routes.
 *
 * cu_vault_start opens the vault's keystore (keystore.h) in the data
 * directory, builds the server (core/http/server.h) from a config, mounts
 * /healthz, /metrics, the Azure Key Vault keys API and the admin API
 * (api.h), starts serving, and runs the scheduled purge, rotation by
 * policy and near-expiry checks in a background thread. The caller (the `vault
 * serve` command) owns process concerns: signals, logging, secure memory. */
#ifndef CU_VAULT_H
#define CU_VAULT_H

#include <stdint.h>

#include "core/http/server.h"

typedef struct cu_vault cu_vault_t;

struct cu_vault_config {
	const char *listen_addr;    /* numeric address; NULL = 127.0.0.1 */
	uint16_t port;              /* 0 = any free port */
	const char *tls_cert_file;  /* PEM files; both NULL = plain HTTP, */
	const char *tls_key_file;   /* only with allow_plain (tests) */
	const char *client_ca_file; /* optional: client certificates */
	int allow_plain;
	const char *data_dir; /* where the vault keeps its state
	                       * (vault.db, master.key, admin.token);
	                       * required */
	unsigned threads;     /* ignored: one thread per connection, since
	                       * event long-polls and streams block */
	/* Settings of a new vault (an existing one keeps its own): soft
	 * delete retention 7-90 days (0 = 90) and purge protection. */
	int retention_days;
	int purge_protection;
	/* The URL clients reach the vault at ("https://vault.example:8443"),
	 * used in kids and links; NULL = each request's Host header. */
	const char *public_url;
	/* Seconds between background runs of the scheduled purge, rotation
	 * by policy and the near-expiry check, 1 to CU_VAULT_INTERVAL_MAX_S
	 * (0 = 60); and how close exp must be to raise a near-expiry event,
	 * in seconds, at most CU_VAULT_NEAR_EXPIRY_MAX_DAYS days (0 = 30
	 * days). */
	unsigned maintenance_interval_s;
	unsigned near_expiry_s;
};

#define CU_VAULT_INTERVAL_MAX_S       86400
#define CU_VAULT_NEAR_EXPIRY_MAX_DAYS 365

/* The file in data_dir that receives the first administrator's token when
 * a vault starts with no principal (principal "admin", Key Vault
 * Administrator at "/"). */
#define CU_VAULT_ADMIN_TOKEN_FILE "admin.token"
/* The lock a serving vault holds on its data directory (core/lockfile.h). */
#define CU_VAULT_LOCK_FILE "vault.lock"

/* cu_vault_start - read the TLS files, build and start the server. Returns
 * 0 and *out (stop and free with cu_vault_stop / cu_vault_free),
 * CU_ERR_NOTFOUND / CU_ERR_IO for unreadable files, CU_ERR_INVAL for a bad
 * config, CU_ERR_IO when the address cannot be bound, or CU_ERR_NOMEM.
 * Detail is logged. */
int cu_vault_start(const struct cu_vault_config *cfg, cu_vault_t **out);

/* cu_vault_port - the port bound. */
uint16_t cu_vault_port(const cu_vault_t *v);

/* cu_vault_url - "https://ADDR:PORT" (or http://), IPv6 in brackets;
 * owned by v. */
const char *cu_vault_url(const cu_vault_t *v);

/* cu_vault_stop - graceful stop: see cu_http_server_stop. Returns 0 or
 * CU_ERR_TIMEOUT. NULL ok. */
int cu_vault_stop(cu_vault_t *v, unsigned deadline_ms);

/* cu_vault_free - stop if needed and free everything. NULL ok. */
void cu_vault_free(cu_vault_t *v);

#endif

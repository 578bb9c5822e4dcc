/* vault.h - the custos vault daemon: its HTTPS server and routes.
 *
 * cu_vault_start builds the server (core/http/server.h) from a config,
 * mounts /healthz and /metrics and the vault's own routes (add them in
 * add_routes() in vault.c), and starts serving. The caller (the `vault
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
	const char *data_dir; /* where the vault keeps its state; may be
	                       * NULL until storage exists */
	unsigned threads;     /* 0 = server default */
};

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

#include "vault/vault.h"
#include "core/err.h"
#include "core/log.h"
#include "core/pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PEM_FILE (1024 * 1024)

struct cu_vault {
	cu_http_server_t *srv;
	char url[96];
};

/* The vault's API routes go here (keys API, admin API). */
static int add_routes(cu_vault_t *v)
{
	return cu_http_server_mount_builtin(v->srv);
}

static int load(const char *what, const char *path, char **out)
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

int cu_vault_start(const struct cu_vault_config *cfg, cu_vault_t **out)
{
	struct cu_http_config hc = {0};
	cu_vault_t *v = NULL;
	char *cert = NULL, *key = NULL, *ca = NULL;
	const char *addr;
	int rc = CU_ERR_INVAL;

	*out = NULL;
	if (cfg == NULL)
		goto out;
	rc = CU_ERR_NOMEM;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		goto out;
	if ((rc = load("tls-cert", cfg->tls_cert_file, &cert)) != 0 ||
	    (rc = load("tls-key", cfg->tls_key_file, &key)) != 0 ||
	    (rc = load("client-ca", cfg->client_ca_file, &ca)) != 0)
		goto out;
	addr = cfg->listen_addr != NULL ? cfg->listen_addr : "127.0.0.1";
	hc.bind_addr = addr;
	hc.port = cfg->port;
	hc.tls_cert_pem = cert;
	hc.tls_key_pem = key;
	hc.client_ca_pem = ca;
	hc.allow_plain = cfg->allow_plain;
	hc.threads = cfg->threads;
	if ((rc = cu_http_server_new(&hc, &v->srv)) != 0)
		goto out;
	if ((rc = add_routes(v)) != 0)
		goto out;
	if ((rc = cu_http_server_start(v->srv)) != 0)
		goto out;
	{
		const char *scheme = cert != NULL ? "https" : "http";
		unsigned port = cu_http_server_port(v->srv);
		if (strchr(addr, ':') != NULL) /* IPv6 */
			snprintf(v->url, sizeof(v->url), "%s://[%s]:%u", scheme,
			         addr, port);
		else
			snprintf(v->url, sizeof(v->url), "%s://%s:%u", scheme,
			         addr, port);
	}
	*out = v;
	v = NULL;
	rc = 0;
out:
	cu_pki_pem_free(cert);
	cu_pki_pem_free(key);
	cu_pki_pem_free(ca);
	cu_vault_free(v);
	return rc;
}

uint16_t cu_vault_port(const cu_vault_t *v)
{
	return v != NULL ? cu_http_server_port(v->srv) : 0;
}

const char *cu_vault_url(const cu_vault_t *v)
{
	return v != NULL ? v->url : "";
}

int cu_vault_stop(cu_vault_t *v, unsigned deadline_ms)
{
	if (v == NULL)
		return 0;
	return cu_http_server_stop(v->srv, deadline_ms);
}

void cu_vault_free(cu_vault_t *v)
{
	if (v == NULL)
		return;
	cu_http_server_free(v->srv);
	free(v);
}

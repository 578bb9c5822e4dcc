/* api.h - the vault's HTTP APIs: the Azure Key Vault keys REST API at the
 * URL root and custos's own admin API under /admin/v1.
 *
 * Every request is authenticated first (bearer token, or a verified TLS
 * client certificate registered to a principal): without one it gets 401
 * with the bearer challenge the Azure SDKs expect, before its body is
 * read. Then the api-version (keys API), then authorization from the
 * database on every request, then the operation. Every request is
 * recorded in the hash-chained audit log. */
#ifndef CU_VAULT_API_H
#define CU_VAULT_API_H

#include "core/http/server.h"
#include "vault/keystore.h"

typedef struct cu_vapi cu_vapi_t;

/* Largest request body the keys API reads (an RSA-4096 JWK import is
 * about 4 KiB). */
#define CU_VAPI_MAX_BODY (64 * 1024)
/* Default and largest page of a list (Azure: maxresults 1-25). */
#define CU_VAPI_PAGE_DEFAULT 25
#define CU_VAPI_PAGE_MAX     25

/* cu_vapi_new - an API over keystore vks (borrowed: must outlive the
 * API). Returns 0 and *out (cu_vapi_free), or CU_ERR_NOMEM. */
int cu_vapi_new(cu_vks_t *vks, cu_vapi_t **out);

/* cu_vapi_set_url - the vault's public URL ("https://host:port", no
 * trailing slash; copied), used in every kid, recoveryId and nextLink.
 * May be called while serving. Until set, the request's Host header is
 * used. Returns 0, CU_ERR_INVAL (not http(s)://, or too long) or
 * CU_ERR_NOMEM. */
int cu_vapi_set_url(cu_vapi_t *api, const char *url);

/* cu_vapi_mount - add the keys and admin routes to srv (before it
 * starts). Returns 0 or a cu_http_server_route error. */
int cu_vapi_mount(cu_vapi_t *api, cu_http_server_t *srv);

/* cu_vapi_error_fn - the server's error formatter for a vault (set it as
 * cu_http_config.error_fn with the API as error_arg): Azure's error
 * shape, and an audit record for errors the server core answers itself
 * (413, 408, 404, 405, ...). */
int cu_vapi_error_fn(cu_http_req_t *req, int status, const char *code,
                     const char *message, void *arg);

/* cu_vapi_free - NULL is fine. Only after the server has stopped. */
void cu_vapi_free(cu_vapi_t *api);

#endif

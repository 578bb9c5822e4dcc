#include "vault/vault.h"
#include "core/err.h"
#include "core/lockfile.h"
#include "core/log.h"
#include "core/pki.h"
#include "vault/api.h"
#include "vault/keystore.h"
#include "vault/rbac.h"

#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cu_vault {
	cu_http_server_t *srv;
	cu_vks_t *vks;
	cu_vapi_t *api;
	char url[96];
	/* the maintenance thread: scheduled purge, rotation by policy,
	 * near-expiry events */
	pthread_t maint;
	int maint_running, stopping;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned interval_s, near_expiry_s;
	int lock_fd; /* DATA/vault.lock, held while serving; -1: none */
};

static int add_routes(cu_vault_t *v)
{
	int rc;

	if ((rc = cu_http_server_mount_builtin(v->srv)) != 0)
		return rc;
	return cu_vapi_mount(v->api, v->srv);
}

static void maintain_once(cu_vault_t *v)
{
	int64_t now = (int64_t)time(NULL);
	int n = 0, rc;

	if ((rc = cu_vks_purge_due(v->vks, now, &n)) != 0)
		cu_log(CU_LOG_ERROR, "scheduled purge failed",
		       json_pack("{s:s}", "error", cu_strerror(rc)));
	else if (n > 0)
		cu_log(CU_LOG_INFO, "scheduled purge",
		       json_pack("{s:i}", "keys", n));
	if ((rc = cu_vks_rotate_due(v->vks, now, &n)) != 0)
		cu_log(CU_LOG_ERROR, "scheduled rotation failed",
		       json_pack("{s:s}", "error", cu_strerror(rc)));
	else if (n > 0)
		cu_log(CU_LOG_INFO, "scheduled rotation",
		       json_pack("{s:i}", "keys", n));
	if ((rc = cu_vks_check_expiry(v->vks, now, v->near_expiry_s, &n)) != 0)
		cu_log(CU_LOG_ERROR, "near-expiry check failed",
		       json_pack("{s:s}", "error", cu_strerror(rc)));
	/* loaded keys nobody asked for lately leave memory */
	cu_vks_cache_expire(v->vks);
}

static void *maintain(void *arg)
{
	cu_vault_t *v = arg;
	struct timespec until;

	pthread_mutex_lock(&v->mu);
	while (!v->stopping) {
		pthread_mutex_unlock(&v->mu);
		maintain_once(v);
		pthread_mutex_lock(&v->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += v->interval_s;
		while (!v->stopping &&
		       pthread_cond_timedwait(&v->cv, &v->mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&v->mu);
	return NULL;
}

static void stop_maintenance(cu_vault_t *v)
{
	if (!v->maint_running)
		return;
	pthread_mutex_lock(&v->mu);
	v->stopping = 1;
	pthread_cond_broadcast(&v->cv);
	pthread_mutex_unlock(&v->mu);
	pthread_join(v->maint, NULL);
	v->maint_running = 0;
}

/* One vault per data directory (lockfile.h): held until the vault is
 * freed. */
static int lock_data(cu_vault_t *v, const char *dir)
{
	(void)mkdir(dir, 0700); /* cu_vks_open says what is wrong with it */
	return cu_lockfile_take(dir, CU_VAULT_LOCK_FILE, "vault", &v->lock_fd);
}

/* Open the keystore; on a vault without principals, make the first
 * administrator and write its token to DATA/admin.token. */
static int open_store(cu_vault_t *v, const struct cu_vault_config *cfg)
{
	struct cu_vks_settings s = {cfg->retention_days ? cfg->retention_days
	                                                : 90,
	                            cfg->purge_protection != 0};
	char path[4096];
	int rc, created = 0;

	if (cfg->data_dir == NULL) {
		cu_log(CU_LOG_ERROR, "the vault needs a data directory", NULL);
		return CU_ERR_INVAL;
	}
	if ((rc = lock_data(v, cfg->data_dir)) != 0 ||
	    (rc = cu_vks_open(cfg->data_dir, &s, &v->vks)) != 0)
		return rc;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", cfg->data_dir,
	                     CU_VAULT_ADMIN_TOKEN_FILE) >= sizeof(path))
		return CU_ERR_RANGE;
	if ((rc = cu_vrbac_bootstrap(v->vks, "admin", path, &created)) != 0)
		return rc;
	if (created)
		cu_log(CU_LOG_INFO, "created the first administrator",
		       json_pack("{s:s,s:s}", "principal", "admin",
		                 "token_file", path));
	return cu_vapi_new(v->vks, &v->api);
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
	if (cfg->retention_days != 0 &&
	    (cfg->retention_days < CU_VKS_RETENTION_MIN ||
	     cfg->retention_days > CU_VKS_RETENTION_MAX))
		goto out;
	if (cfg->maintenance_interval_s > CU_VAULT_INTERVAL_MAX_S ||
	    cfg->near_expiry_s > CU_VAULT_NEAR_EXPIRY_MAX_DAYS * 86400u)
		goto out;
	rc = CU_ERR_NOMEM;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		goto out;
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->cv, NULL);
	v->lock_fd = -1;
	v->interval_s =
	    cfg->maintenance_interval_s ? cfg->maintenance_interval_s : 60;
	v->near_expiry_s = cfg->near_expiry_s ? cfg->near_expiry_s : 30 * 86400;
	if ((rc = open_store(v, cfg)) != 0)
		goto out;
	if (cfg->public_url != NULL &&
	    (rc = cu_vapi_set_url(v->api, cfg->public_url)) != 0) {
		cu_log(CU_LOG_ERROR, "bad public URL",
		       json_pack("{s:s}", "url", cfg->public_url));
		goto out;
	}
	if ((rc = cu_http_tls_file_read("tls-cert", cfg->tls_cert_file,
	                                &cert)) != 0 ||
	    (rc = cu_http_tls_file_read("tls-key", cfg->tls_key_file, &key)) !=
	        0 ||
	    (rc = cu_http_tls_file_read("client-ca", cfg->client_ca_file,
	                                &ca)) != 0)
		goto out;
	addr = cfg->listen_addr != NULL ? cfg->listen_addr : "127.0.0.1";
	hc.bind_addr = addr;
	hc.port = cfg->port;
	hc.tls_cert_pem = cert;
	hc.tls_key_pem = key;
	hc.client_ca_pem = ca;
	hc.allow_plain = cfg->allow_plain;
	/* The admin API's event long-poll and stream block their thread:
	 * with a thread pool they would stall other connections. */
	hc.thread_per_connection = 1;
	hc.error_fn = cu_vapi_error_fn;
	hc.error_arg = v->api;
	if ((rc = cu_http_server_new(&hc, &v->srv)) != 0)
		goto out;
	if ((rc = add_routes(v)) != 0)
		goto out;
	if ((rc = cu_http_server_start(v->srv)) != 0)
		goto out;
	cu_http_server_url(v->srv, cert != NULL, addr, v->url, sizeof(v->url));
	if (pthread_create(&v->maint, NULL, maintain, v) != 0) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	v->maint_running = 1;
	cu_log(CU_LOG_INFO, "maintenance scheduled",
	       json_pack("{s:I,s:I}", "interval_s", (json_int_t)v->interval_s,
	                 "near_expiry_s", (json_int_t)v->near_expiry_s));
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
	stop_maintenance(v);
	/* long-polls and event streams answer now, not at their timeout */
	cu_vks_stop_waits(v->vks);
	return cu_http_server_stop(v->srv, deadline_ms);
}

void cu_vault_free(cu_vault_t *v)
{
	if (v == NULL)
		return;
	stop_maintenance(v);
	cu_http_server_free(v->srv);
	cu_vapi_free(v->api);
	cu_vks_close(v->vks);
	if (v->lock_fd >= 0)
		close(v->lock_fd); /* lets the lock go */
	pthread_cond_destroy(&v->cv);
	pthread_mutex_destroy(&v->mu);
	free(v);
}

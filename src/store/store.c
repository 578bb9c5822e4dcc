/* store.c - the store daemon's assembly: data directory, keys, server. */
#include "store/store.h"
#include "core/b64.h"
#include "core/crypto/hash.h"
#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/lockfile.h"
#include "core/log.h"
#include "core/pki.h"
#include "core/secmem.h"
#include "store/cmk.h"
#include "store/keys.h"
#include "store/meta.h"
#include "store/objfile.h"
#include "store/oproot.h"
#include "store/s3.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_TOKEN_FILE 4096
#define TOKEN_BYTES    32
#define SWEEP_INTERVAL 1 /* seconds between lease sweeps */

struct cu_store {
	cu_http_server_t *srv;
	struct cu_s3 s3;
	cu_smeta_t *meta;
	cu_skeys_t *keys;
	cu_scmk_t *cmk;        /* customer-managed keys: worker and roots */
	unsigned char *master; /* secmem */
	char *data_dir;
	int lock_fd; /* DATA/store.lock, held while serving; -1: none */
	char url[96];
	pthread_t sweeper;
	cu_metric_t *m_cached, *m_unwraps, *m_sk_hits, *m_sk_misses;
	uint64_t unwraps_seen, sk_hits_seen, sk_misses_seen;
	int sweeper_running, stopping;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* Add to counter m what n grew by since *seen. */
static void counter_follow(cu_metric_t *m, uint64_t n, uint64_t *seen)
{
	if (m != NULL && n > *seen) {
		(void)cu_metrics_add(m, NULL, (double)(n - *seen));
		*seen = n;
	}
}

/* The key hierarchy's figures, refreshed by the sweeper each second. */
static void update_metrics(cu_store_t *s)
{
	uint64_t hits = 0, misses = 0;

	if (s->m_cached != NULL)
		(void)cu_metrics_set(s->m_cached, NULL,
		                     (double)cu_skeys_cached(s->keys));
	counter_follow(s->m_unwraps, cu_skeys_unwraps(s->keys),
	               &s->unwraps_seen);
	cu_skeys_subkey_stats(s->keys, &hits, &misses);
	counter_follow(s->m_sk_hits, hits, &s->sk_hits_seen);
	counter_follow(s->m_sk_misses, misses, &s->sk_misses_seen);
}

static int register_metrics(cu_store_t *s)
{
	const struct {
		enum cu_metric_type type;
		const char *name, *help;
		cu_metric_t **m;
	} all[] = {
	    {CU_METRIC_GAUGE, "custos_store_tenant_keys_cached",
	     "Plaintext tenant keys held in locked memory under a lease",
	     &s->m_cached},
	    {CU_METRIC_COUNTER, "custos_store_tenant_key_unwraps_total",
	     "Tenant keys unwrapped through their root", &s->m_unwraps},
	    {CU_METRIC_COUNTER, "custos_store_object_subkey_hits_total",
	     "Objects opened from a segment subkey kept with their tenant key",
	     &s->m_sk_hits},
	    {CU_METRIC_COUNTER, "custos_store_object_subkey_misses_total",
	     "Objects opened from their data key (no subkey kept, or its "
	     "tenant key's lease ended)",
	     &s->m_sk_misses},
	    {CU_METRIC_COUNTER, "custos_store_tamper_detected_total",
	     "Stored objects that failed authentication on read",
	     &s->s3.tamper_metric},
	};
	cu_metrics_t *reg = cu_http_server_metrics(s->srv);
	int rc;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if ((rc = cu_metrics_register(reg, all[i].type, all[i].name,
		                              all[i].help, NULL, 0, NULL, 0, 1,
		                              all[i].m)) != 0)
			return rc;
		/* shown from the start, at 0 */
		if (all[i].type == CU_METRIC_GAUGE)
			(void)cu_metrics_set(*all[i].m, NULL, 0);
		else
			(void)cu_metrics_add(*all[i].m, NULL, 0);
	}
	return 0;
}

static void *sweep(void *arg)
{
	cu_store_t *s = arg;
	struct timespec until;

	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		pthread_mutex_unlock(&s->mu);
		(void)cu_skeys_sweep(s->keys);
		update_metrics(s);
		pthread_mutex_lock(&s->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += SWEEP_INTERVAL;
		while (!s->stopping &&
		       pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void stop_sweeper(cu_store_t *s)
{
	if (!s->sweeper_running)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->sweeper, NULL);
	s->sweeper_running = 0;
}

static int path_in(const char *dir, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? CU_ERR_RANGE : 0;
}

/* Read the operator token (trailing whitespace ignored) or create one,
 * and keep only its hash. */
static int operator_token(const char *path, unsigned char hash[32])
{
	unsigned char raw[TOKEN_BYTES];
	char *text = NULL, tok[TOKEN_BYTES * 2 + 8];
	size_t len = 0, n = 0;
	int rc;

	rc = cu_pki_read_file(path, MAX_TOKEN_FILE, &text, &len);
	if (rc == 0) {
		while (len > 0 &&
		       (text[len - 1] == '\n' || text[len - 1] == '\r' ||
		        text[len - 1] == ' ' || text[len - 1] == '\t'))
			len--;
		if (len < 16) {
			cu_log(CU_LOG_ERROR, "the operator token is too short",
			       json_pack("{s:s}", "path", path));
			rc = CU_ERR_INVAL;
		} else {
			rc = cu_sha256(text, len, hash);
		}
		cu_pki_pem_free(text);
		return rc;
	}
	if (rc != CU_ERR_NOTFOUND) {
		cu_log(CU_LOG_ERROR, "cannot read the operator token",
		       json_pack("{s:s,s:s}", "path", path, "error",
		                 cu_strerror(rc)));
		return rc;
	}
	memcpy(tok, "cuo_", 4);
	if ((rc = cu_rand_bytes(raw, sizeof(raw))) != 0 ||
	    (rc = cu_b64url_encode(raw, sizeof(raw), tok + 4, sizeof(tok) - 4,
	                           &n)) != 0)
		goto out;
	tok[4 + n] = '\n';
	if ((rc = cu_pki_write_file(path, tok, n + 5, 0600)) != 0) {
		cu_log(CU_LOG_ERROR, "cannot write the operator token",
		       json_pack("{s:s}", "path", path));
		goto out;
	}
	rc = cu_sha256(tok, n + 4, hash);
	cu_log(CU_LOG_INFO, "created the operator token",
	       json_pack("{s:s}", "path", path));
out:
	cu_memzero(raw, sizeof(raw));
	cu_memzero(tok, sizeof(tok));
	return rc;
}

static DIR *subdir(DIR *parent, const char *name)
{
	int fd = openat(dirfd(parent), name,
	                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		close(fd);
	return d;
}

/* Remove the part files that no part row references from the multipart
 * directory `name` of parent (rel: objects/T/XX/ID.mp, in use): a part
 * cut off by a crash, or one replaced or left out at completion just
 * before it. Returns how many went. */
static size_t sweep_parts(cu_store_t *s, DIR *parent, const char *name,
                          const char *rel)
{
	char frel[CU_SMETA_PATH_MAX + 80];
	DIR *d = subdir(parent, name);
	struct dirent *e;
	size_t removed = 0;
	int in_use;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (cu_smeta_path_in_use(s->meta, rel, e->d_name, &in_use) !=
		        0 ||
		    in_use)
			continue;
		if ((size_t)snprintf(frel, sizeof(frel), "%s/%s", rel,
		                     e->d_name) < sizeof(frel) &&
		    cu_sobj_remove(s->data_dir, frel) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

/* Remove data files no metadata row references: what a crash between
 * writing a file and committing its row (or between a commit and the
 * removal of the version it replaced) leaves behind, whole multipart
 * directories and single part files alike. Runs before the server
 * starts, so no upload is in flight. Logs what it removed. */
static void sweep_orphans(cu_store_t *s)
{
	char top[4096], rel[CU_SMETA_PATH_MAX + 1];
	DIR *dt = NULL, *dx = NULL, *dv = NULL;
	struct dirent *t, *x, *v;
	size_t removed = 0;
	int in_use;

	if ((size_t)snprintf(top, sizeof(top), "%s/objects", s->data_dir) >=
	    sizeof(top))
		return;
	if ((dt = opendir(top)) == NULL)
		return;
	while ((t = readdir(dt)) != NULL) {
		if (t->d_name[0] == '.')
			continue;
		if ((dx = subdir(dt, t->d_name)) == NULL)
			continue;
		while ((x = readdir(dx)) != NULL) {
			if (x->d_name[0] == '.')
				continue;
			if ((dv = subdir(dx, x->d_name)) == NULL)
				continue;
			while ((v = readdir(dv)) != NULL) {
				int n;

				if (v->d_name[0] == '.')
					continue;
				n = snprintf(rel, sizeof(rel),
				             "objects/%s/%s/%s", t->d_name,
				             x->d_name, v->d_name);
				if (n < 0 || (size_t)n >= sizeof(rel))
					continue;
				if (cu_smeta_path_in_use(s->meta, rel, NULL,
				                         &in_use) != 0)
					continue;
				if (in_use) {
					if (v->d_type == DT_DIR ||
					    v->d_type == DT_UNKNOWN)
						removed += sweep_parts(
						    s, dv, v->d_name, rel);
					continue;
				}
				if (cu_sobj_remove(s->data_dir, rel) == 0)
					removed++;
			}
			closedir(dv);
		}
		closedir(dx);
	}
	closedir(dt);
	if (removed > 0)
		cu_log(CU_LOG_INFO, "removed unreferenced data files",
		       json_pack("{s:I}", "files", (json_int_t)removed));
}

/* The system key or the availability key (store/oproot.h): opened,
 * validated, and every tenant key wrap moved under it when the data
 * directory's were under another root. Logs what to fix on failure. */
static int operator_root(cu_store_t *s, const struct cu_store_config *cfg,
                         enum cu_oproot_which which, const char *kid,
                         const char *file, struct cu_skeys_root *root)
{
	struct cu_oproot_config oc = {0};
	char msg[CU_OPROOT_MSG_MAX];
	int rc;

	oc.which = which;
	oc.kid = kid;
	oc.key_file = file;
	oc.vault_ca_file = cfg->vault_ca_file;
	oc.client_cert_file = cfg->client_cert_file;
	oc.client_key_file = cfg->client_key_file;
	memset(root, 0, sizeof(*root));
	if ((rc = cu_oproot_open(&oc, root, msg, sizeof(msg))) == 0 &&
	    (rc = cu_oproot_adopt(s->meta, &oc, root, NULL, msg,
	                          sizeof(msg))) != 0) {
		root->free(root->ctx);
		memset(root, 0, sizeof(*root));
	}
	if (rc != 0)
		cu_log(CU_LOG_ERROR,
		       which == CU_OPROOT_SYSTEM
		           ? "the system key is not usable"
		           : "the availability key is not usable",
		       json_pack("{s:s,s:s,s:s}", "kid",
		                 kid != NULL ? kid : "(key file)", "error",
		                 cu_strerror(rc), "detail",
		                 msg[0] ? msg : cu_strerror(rc)));
	return rc;
}

static int open_data(cu_store_t *s, const struct cu_store_config *cfg)
{
	struct cu_skeys_root root;
	char p[4096];
	int rc;

	if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
		cu_log(CU_LOG_ERROR, "cannot create the data directory",
		       json_pack("{s:s,s:s}", "path", cfg->data_dir, "error",
		                 strerror(errno)));
		return CU_ERR_IO;
	}
	if ((s->data_dir = strdup(cfg->data_dir)) == NULL)
		return CU_ERR_NOMEM;
	/* one store per data directory (lockfile.h): the metadata's memo
	 * sees only this process's commits */
	if ((rc = cu_lockfile_take(cfg->data_dir, "store.lock", "store",
	                           &s->lock_fd)) != 0)
		return rc;
	if ((rc = path_in(cfg->data_dir, "store.db", p, sizeof(p))) != 0)
		return rc;
	if ((rc = cu_smeta_open(p, &s->meta)) != 0) {
		cu_log(CU_LOG_ERROR, "cannot open the metadata database",
		       json_pack("{s:s,s:s}", "path", p, "error",
		                 cu_strerror(rc)));
		return rc;
	}
	if ((s->master = cu_secmem_alloc(CU_SKEYS_KEY_LEN)) == NULL)
		return CU_ERR_NOMEM;
	if ((rc = path_in(cfg->data_dir, "master.key", p, sizeof(p))) != 0 ||
	    (rc = cu_skeys_keyfile_load(p, s->master)) != 0)
		return rc;
	if ((rc = path_in(cfg->data_dir, "system.key", p, sizeof(p))) != 0 ||
	    (rc = operator_root(s, cfg, CU_OPROOT_SYSTEM, cfg->system_key_kid,
	                        p, &root)) != 0)
		return rc;
	if ((rc = cu_skeys_new(s->meta, &root, cfg->lease_s, &s->keys)) != 0)
		return rc;
	if (cfg->operator_token_file != NULL)
		rc = operator_token(cfg->operator_token_file,
		                    s->s3.operator_hash);
	else if ((rc = path_in(cfg->data_dir, "operator.token", p,
	                       sizeof(p))) == 0)
		rc = operator_token(p, s->s3.operator_hash);
	if (rc != 0)
		return rc;
	sweep_orphans(s);
	s->s3.meta = s->meta;
	s->s3.keys = s->keys;
	s->s3.data_dir = s->data_dir;
	s->s3.master_key = s->master;
	return cu_skcache_new(&s->s3.skcache);
}

/* Customer-managed keys: the worker, per-tenant roots, the AvK. */
static int start_cmk(cu_store_t *s, const struct cu_store_config *cfg)
{
	struct cu_scmk_config cc = {0};
	struct cu_skeys_root avk_root;
	char avk[4096];
	int rc;

	if ((rc = path_in(cfg->data_dir, "availability.key", avk,
	                  sizeof(avk))) != 0 ||
	    (rc = operator_root(s, cfg, CU_OPROOT_AVAILABILITY,
	                        cfg->availability_key_kid, avk, &avk_root)) !=
	        0)
		return rc;
	cc.meta = s->meta;
	cc.keys = s->keys;
	cc.data_dir = s->data_dir;
	cc.metrics = cu_http_server_metrics(s->srv);
	cc.vault_ca_file = cfg->vault_ca_file;
	cc.client_cert_file = cfg->client_cert_file;
	cc.client_key_file = cfg->client_key_file;
	cc.availability_root = &avk_root;
	cc.system_key_kid = cfg->system_key_kid;
	cc.outage_grace_s = cfg->outage_grace_s;
	cc.purge_grace_s = cfg->purge_grace_s;
	cc.check_s = cfg->cmk_check_s ? cfg->cmk_check_s
	                              : (cfg->lease_s ? cfg->lease_s
	                                              : CU_SKEYS_DEFAULT_LEASE);
	cc.refuse_revert = cfg->refuse_revert;
	cc.no_events = cfg->no_vault_events;
	cc.lockout_purge_s = cfg->lockout_purge_days * 86400.0;
	if ((rc = cu_scmk_new(&cc, &s->cmk)) != 0)
		return rc;
	s->s3.cmk = s->cmk;
	return 0;
}

int cu_store_start(const struct cu_store_config *cfg, cu_store_t **out)
{
	struct cu_http_config hc = {0};
	cu_store_t *s = NULL;
	char *cert = NULL, *key = NULL, *ccert = NULL, *ckey = NULL;
	const char *addr;
	int rc = CU_ERR_INVAL;

	if (out == NULL)
		return CU_ERR_INVAL;
	*out = NULL;
#ifdef CU_BENCH_NULL_CIPHER
	/* A benchmark build (Makefile NULL_CIPHER=1): say it where an
	 * operator looks first. */
	cu_log(CU_LOG_ERROR,
	       "NULL CIPHER BUILD - benchmarks only, no confidentiality: "
	       "object data is stored unencrypted",
	       NULL);
#endif
	if (cfg == NULL || cfg->data_dir == NULL) {
		cu_log(CU_LOG_ERROR, "the store needs a data directory", NULL);
		goto out;
	}
	rc = CU_ERR_NOMEM;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto out;
	s->lock_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if ((rc = open_data(s, cfg)) != 0)
		goto out;
	if ((rc = cu_http_tls_file_read("tls-cert", cfg->tls_cert_file,
	                                &cert)) != 0 ||
	    (rc = cu_http_tls_file_read("tls-key", cfg->tls_key_file, &key)) !=
	        0 ||
	    (rc = cu_http_tls_file_read("client-cert", cfg->client_cert_file,
	                                &ccert)) != 0 ||
	    (rc = cu_http_tls_file_read("client-key", cfg->client_key_file,
	                                &ckey)) != 0)
		goto out;
	addr = cfg->listen_addr != NULL ? cfg->listen_addr : "127.0.0.1";
	hc.bind_addr = addr;
	hc.port = cfg->port;
	hc.tls_cert_pem = cert;
	hc.tls_key_pem = key;
	hc.allow_plain = cfg->allow_plain;
	hc.threads = cfg->threads;
	hc.error_fn = cu_s3_error_fn;
	/* S3 clients keep connections; uploads may be slow */
	hc.idle_timeout_s = 120;
	if ((rc = cu_http_server_new(&hc, &s->srv)) != 0)
		goto out;
	if ((rc = register_metrics(s)) != 0 || (rc = start_cmk(s, cfg)) != 0 ||
	    (rc = cu_http_server_mount_builtin(s->srv)) != 0 ||
	    (rc = cu_s3_admin_mount(&s->s3, s->srv)) != 0 ||
	    (rc = cu_s3_mount(&s->s3, s->srv)) != 0)
		goto out;
	if ((rc = cu_http_server_start(s->srv)) != 0)
		goto out;
	cu_http_server_url(s->srv, cert != NULL, addr, s->url, sizeof(s->url));
	if (pthread_create(&s->sweeper, NULL, sweep, s) != 0) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	s->sweeper_running = 1;
	*out = s;
	s = NULL;
	rc = 0;
out:
	cu_pki_pem_free(cert);
	cu_pki_pem_free(key);
	cu_pki_pem_free(ccert);
	cu_pki_pem_free(ckey);
	cu_store_free(s);
	return rc;
}

uint16_t cu_store_port(const cu_store_t *s)
{
	return cu_http_server_port(s->srv);
}

const char *cu_store_url(const cu_store_t *s)
{
	return s->url;
}

int cu_store_stop(cu_store_t *s, unsigned deadline_ms)
{
	if (s == NULL)
		return 0;
	stop_sweeper(s);
	return s->srv != NULL ? cu_http_server_stop(s->srv, deadline_ms) : 0;
}

void cu_store_free(cu_store_t *s)
{
	if (s == NULL)
		return;
	stop_sweeper(s);
	cu_http_server_free(s->srv);
	cu_scmk_free(s->cmk);
	cu_skeys_free(s->keys);
	cu_smeta_close(s->meta);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* lets the lock go */
	cu_secmem_free(s->master, CU_SKEYS_KEY_LEN);
	cu_skcache_free(s->s3.skcache);
	cu_memzero(s->s3.operator_hash, sizeof(s->s3.operator_hash));
	free(s->data_dir);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

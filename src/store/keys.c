/* keys.c - root -> tenant key -> data key, with leased TKs in locked
 * memory. */
#include "store/keys.h"
#include "core/crypto/aead.h"
#include "core/crypto/keywrap.h"
#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secmem.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char dek_label[] = "custos/dek/v1";

/* One plaintext TK under its lease. */
struct tk_entry {
	struct tk_entry *next;
	char tenant[CU_SMETA_ID_MAX + 1];
	uint32_t version;
	int64_t expires_ms;
	/* past its lease the entry is kept, unused, until here: it serves
	 * only while the tenant's vault does not answer (outage grace) */
	int64_t stale_until_ms;
	unsigned char *key; /* CU_SKEYS_KEY_LEN bytes of secmem */
	uint64_t serial;    /* set when cached; subkey slots name it */
};

/* A segment subkey kept for the entry whose serial it names (keys.h,
 * "Object subkeys"). The digest picks a set of SUBKEY_WAYS slots; a new
 * subkey takes an empty slot of its set or the least recently used.
 * serial 0: empty. */
struct subkey_slot {
	uint64_t serial;
	uint64_t used; /* tick of the last put or hit */
	unsigned char digest[CU_SKEYS_DIGEST_LEN];
	unsigned char subkey[CU_SKEYS_KEY_LEN];
};

#define SUBKEY_SLOTS 1024 /* a power of two; 80 KiB of locked memory */
#define SUBKEY_WAYS  4

/* An unwrap of (tenant, version) through the root under way. Requests
 * that find the TK missing while one is in flight wait for its result
 * instead of asking the root (a tenant's vault) again: at each lease's
 * end every concurrent request of a busy tenant would otherwise unwrap
 * the same TK, multiplying the calls to the vault by the concurrency. */
struct tk_flight {
	struct tk_flight *next;
	char tenant[CU_SMETA_ID_MAX + 1];
	uint32_t version;
	int done;
	int rc;   /* the root's answer, once done */
	int refs; /* the unwrapping request and its waiters */
};

struct cu_skeys {
	cu_smeta_t *meta;
	struct cu_skeys_root root;
	int64_t lease_ms;
	pthread_mutex_t mu;
	struct tk_entry *cache;
	size_t n_cached;
	uint64_t unwraps;
	int64_t (*clock)(void *arg);
	void *clock_arg;
	int64_t grace_ms;
	cu_skeys_tenant_unwrap_fn tenant_unwrap;
	void *tenant_unwrap_arg;
	struct tk_flight *flights; /* under mu */
	pthread_cond_t flight_done;
	uint64_t flight_waits;
	struct subkey_slot *slots; /* SUBKEY_SLOTS, secmem; NULL: none kept */
	uint64_t next_serial;
	uint64_t subkey_tick, subkey_hits, subkey_misses;
};

/* ---- key files and the file root --------------------------------- */

static int write_new_key(const char *path, unsigned char *key)
{
	char *dup = NULL;
	int fd = -1, rc = CU_ERR_IO;

	if ((rc = cu_rand_bytes(key, CU_SKEYS_KEY_LEN)) != 0)
		return rc;
	rc = CU_ERR_IO;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	          0600);
	if (fd < 0)
		goto out;
	if (write(fd, key, CU_SKEYS_KEY_LEN) != CU_SKEYS_KEY_LEN ||
	    fsync(fd) != 0) {
		close(fd);
		fd = -1;
		unlink(path);
		goto out;
	}
	close(fd);
	fd = -1;
	/* the directory entry must be durable too */
	if ((dup = strdup(path)) == NULL) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	fd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		(void)fsync(fd);
	rc = 0;
	cu_log(CU_LOG_INFO, "created a key file",
	       json_pack("{s:s}", "path", path));
out:
	if (fd >= 0)
		close(fd);
	free(dup);
	if (rc != 0)
		cu_memzero(key, CU_SKEYS_KEY_LEN);
	return rc;
}

int cu_skeys_keyfile_load(const char *path, unsigned char key[CU_SKEYS_KEY_LEN])
{
	struct stat sb;
	ssize_t n;
	int fd, rc = CU_ERR_IO;

	if (path == NULL || key == NULL)
		return CU_ERR_INVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		rc = write_new_key(path, key);
		if (rc == CU_ERR_IO)
			cu_log(CU_LOG_ERROR, "cannot create a key file",
			       json_pack("{s:s,s:s}", "path", path, "error",
			                 strerror(errno)));
		return rc;
	}
	if (fd < 0) {
		cu_log(CU_LOG_ERROR, "cannot open a key file",
		       json_pack("{s:s,s:s}", "path", path, "error",
		                 strerror(errno)));
		return CU_ERR_IO;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rc = CU_ERR_IO;
		goto out;
	}
	if (sb.st_size != CU_SKEYS_KEY_LEN) {
		rc = CU_ERR_PARSE;
		goto out;
	}
	if (sb.st_mode & 077) {
		rc = CU_ERR_DENIED;
		goto out;
	}
	n = read(fd, key, CU_SKEYS_KEY_LEN);
	rc = n == CU_SKEYS_KEY_LEN ? 0 : CU_ERR_IO;
out:
	close(fd);
	if (rc != 0) {
		cu_memzero(key, CU_SKEYS_KEY_LEN);
		cu_log(CU_LOG_ERROR, "refused a key file",
		       json_pack("{s:s,s:s}", "path", path, "error",
		                 rc == CU_ERR_DENIED
		                     ? "readable by group or others"
		                 : rc == CU_ERR_PARSE ? "not a 32-byte key"
		                                      : cu_strerror(rc)));
	}
	return rc;
}

static int file_wrap(void *ctx, const unsigned char *in, size_t in_len,
                     unsigned char *out, size_t cap, size_t *out_len)
{
	return cu_kw_wrap(ctx, CU_SKEYS_KEY_LEN, in, in_len, out, cap, out_len);
}

static int file_unwrap(void *ctx, const unsigned char *in, size_t in_len,
                       unsigned char *out, size_t cap, size_t *out_len)
{
	return cu_kw_unwrap(ctx, CU_SKEYS_KEY_LEN, in, in_len, out, cap,
	                    out_len);
}

static void file_free(void *ctx)
{
	cu_secmem_free(ctx, CU_SKEYS_KEY_LEN);
}

int cu_skeys_root_file(const char *path, struct cu_skeys_root *root)
{
	unsigned char *sk;
	int rc;

	if (path == NULL || root == NULL)
		return CU_ERR_INVAL;
	memset(root, 0, sizeof(*root));
	if ((sk = cu_secmem_alloc(CU_SKEYS_KEY_LEN)) == NULL)
		return CU_ERR_NOMEM;
	if ((rc = cu_skeys_keyfile_load(path, sk)) != 0) {
		cu_secmem_free(sk, CU_SKEYS_KEY_LEN);
		return rc;
	}
	root->name = "file";
	root->wrap = file_wrap;
	root->unwrap = file_unwrap;
	root->free = file_free;
	root->ctx = sk;
	return 0;
}

/* ---- the hierarchy ------------------------------------------------ */

static int64_t mono_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cu_skeys_new(cu_smeta_t *meta, struct cu_skeys_root *root, unsigned lease_s,
                 cu_skeys_t **out)
{
	cu_skeys_t *k;

	if (out != NULL)
		*out = NULL;
	if (meta == NULL || root == NULL || root->wrap == NULL ||
	    root->unwrap == NULL || out == NULL) {
		if (root != NULL && root->free != NULL)
			root->free(root->ctx);
		return CU_ERR_INVAL;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		if (root->free != NULL)
			root->free(root->ctx);
		return CU_ERR_NOMEM;
	}
	k->meta = meta;
	k->root = *root;
	memset(root, 0, sizeof(*root));
	k->lease_ms =
	    (int64_t)(lease_s ? lease_s : CU_SKEYS_DEFAULT_LEASE) * 1000;
	k->clock = mono_ms;
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->flight_done, NULL);
	/* without it objects open the long way, as before */
	k->slots = cu_secmem_alloc(SUBKEY_SLOTS * sizeof(struct subkey_slot));
	*out = k;
	return 0;
}

static void entry_free(struct tk_entry *e)
{
	if (e == NULL)
		return;
	cu_secmem_free(e->key, CU_SKEYS_KEY_LEN);
	free(e);
}

/* With k->mu held: free a cached entry and wipe the subkeys kept under
 * it (they go with the TK they were opened with). */
static void entry_drop_locked(cu_skeys_t *k, struct tk_entry *e)
{
	for (size_t i = 0; k->slots != NULL && i < SUBKEY_SLOTS; i++)
		if (k->slots[i].serial == e->serial)
			cu_memzero(&k->slots[i], sizeof(k->slots[i]));
	entry_free(e);
}

void cu_skeys_free(cu_skeys_t *k)
{
	struct tk_entry *e, *next;

	if (k == NULL)
		return;
	for (e = k->cache; e != NULL; e = next) {
		next = e->next;
		entry_free(e);
	}
	cu_secmem_free(k->slots, SUBKEY_SLOTS * sizeof(struct subkey_slot));
	if (k->root.free != NULL)
		k->root.free(k->root.ctx);
	pthread_cond_destroy(&k->flight_done);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

void cu_skeys_set_clock(cu_skeys_t *k, int64_t (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&k->mu);
	k->clock = fn != NULL ? fn : mono_ms;
	k->clock_arg = fn != NULL ? arg : NULL;
	pthread_mutex_unlock(&k->mu);
}

const char *cu_skeys_root_name(const cu_skeys_t *k)
{
	return k->root.name != NULL ? k->root.name : "root";
}

int cu_skeys_tk_new(cu_skeys_t *k, unsigned char *out, size_t cap, size_t *len)
{
	unsigned char *tk = NULL;
	int rc;

	if (k == NULL || out == NULL || len == NULL)
		return CU_ERR_INVAL;
	if ((tk = cu_secmem_alloc(CU_SKEYS_KEY_LEN)) == NULL)
		return CU_ERR_NOMEM;
	if ((rc = cu_rand_bytes(tk, CU_SKEYS_KEY_LEN)) != 0)
		goto out;
	rc = k->root.wrap(k->root.ctx, tk, CU_SKEYS_KEY_LEN, out, cap, len);
out:
	cu_secmem_free(tk, CU_SKEYS_KEY_LEN);
	return rc;
}

static int put_part(unsigned char *out, size_t cap, size_t *off, const void *p,
                    size_t n)
{
	if (n > UINT32_MAX || cap - *off < 4 || cap - *off - 4 < n)
		return CU_ERR_RANGE;
	out[*off] = (unsigned char)(n >> 24);
	out[*off + 1] = (unsigned char)(n >> 16);
	out[*off + 2] = (unsigned char)(n >> 8);
	out[*off + 3] = (unsigned char)n;
	if (n > 0)
		memcpy(out + *off + 4, p, n);
	*off += 4 + n;
	return 0;
}

int cu_skeys_object_id(const char *tenant, const char *bucket, const char *key,
                       size_t klen, const char *version, unsigned char *out,
                       size_t cap, size_t *len)
{
	size_t off = 0;
	int rc;

	if (tenant == NULL || bucket == NULL || key == NULL ||
	    version == NULL || out == NULL || len == NULL)
		return CU_ERR_INVAL;
	if ((rc = put_part(out, cap, &off, tenant, strlen(tenant))) != 0 ||
	    (rc = put_part(out, cap, &off, bucket, strlen(bucket))) != 0 ||
	    (rc = put_part(out, cap, &off, key, klen)) != 0 ||
	    (rc = put_part(out, cap, &off, version, strlen(version))) != 0)
		return rc;
	*len = off;
	return 0;
}

/* With k->mu held: drop expired entries. */
static size_t sweep_locked(cu_skeys_t *k, int64_t now)
{
	struct tk_entry **pp = &k->cache, *e;
	size_t n = 0;

	while ((e = *pp) != NULL) {
		if (e->stale_until_ms <= now) {
			*pp = e->next;
			entry_drop_locked(k, e);
			k->n_cached--;
			n++;
		} else {
			pp = &e->next;
		}
	}
	return n;
}

size_t cu_skeys_sweep(cu_skeys_t *k)
{
	size_t n;

	if (k == NULL)
		return 0;
	pthread_mutex_lock(&k->mu);
	n = sweep_locked(k, k->clock(k->clock_arg));
	pthread_mutex_unlock(&k->mu);
	return n;
}

size_t cu_skeys_cached(cu_skeys_t *k)
{
	size_t n;

	pthread_mutex_lock(&k->mu);
	n = k->n_cached;
	pthread_mutex_unlock(&k->mu);
	return n;
}

uint64_t cu_skeys_unwraps(cu_skeys_t *k)
{
	uint64_t n;

	pthread_mutex_lock(&k->mu);
	n = k->unwraps;
	pthread_mutex_unlock(&k->mu);
	return n;
}

uint64_t cu_skeys_unwrap_waits(cu_skeys_t *k)
{
	uint64_t n;

	pthread_mutex_lock(&k->mu);
	n = k->flight_waits;
	pthread_mutex_unlock(&k->mu);
	return n;
}

/* With k->mu held: the live entry for (tenant, version), or NULL. */
static struct tk_entry *find_locked(cu_skeys_t *k, const char *tenant,
                                    uint32_t version)
{
	struct tk_entry *e;

	int64_t now = k->clock(k->clock_arg);

	sweep_locked(k, now);
	for (e = k->cache; e != NULL; e = e->next)
		if (e->version == version && e->expires_ms > now &&
		    strcmp(e->tenant, tenant) == 0)
			return e;
	return NULL;
}

/* With k->mu held: the entry for (tenant, version) past its lease but
 * within the outage grace, or NULL. */
static struct tk_entry *find_stale_locked(cu_skeys_t *k, const char *tenant,
                                          uint32_t version)
{
	struct tk_entry *e;
	int64_t now = k->clock(k->clock_arg);

	for (e = k->cache; e != NULL; e = e->next)
		if (e->version == version && e->stale_until_ms > now &&
		    strcmp(e->tenant, tenant) == 0)
			return e;
	return NULL;
}

/* With k->mu held: wipe every entry of (tenant, version; 0 = all). */
static size_t drop_locked(cu_skeys_t *k, const char *tenant, uint32_t version)
{
	struct tk_entry **pp = &k->cache, *e;
	size_t n = 0;

	while ((e = *pp) != NULL) {
		if ((version == 0 || e->version == version) &&
		    strcmp(e->tenant, tenant) == 0) {
			*pp = e->next;
			entry_drop_locked(k, e);
			k->n_cached--;
			n++;
		} else {
			pp = &e->next;
		}
	}
	return n;
}

/* Unwrap TK (tenant, version; 0 = latest) through the root, without the
 * lock (a remote root may be slow), into a fresh entry. */
static int unwrap_tk(cu_skeys_t *k, const char *tenant, uint32_t version,
                     int avk, struct tk_entry **out)
{
	unsigned char wrapped[CU_SKEYS_WRAPPED_MAX];
	struct tk_entry *e = NULL;
	size_t wlen = 0, klen = 0;
	uint32_t found = 0;
	int rc;

	*out = NULL;
	if (strlen(tenant) > CU_SMETA_ID_MAX)
		return CU_ERR_NOTFOUND;
	rc = cu_smeta_tk_get(k->meta, tenant, version, wrapped, sizeof(wrapped),
	                     &wlen, &found);
	if (rc != 0)
		return rc;
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->key = cu_secmem_alloc(CU_SKEYS_KEY_LEN)) == NULL) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	if (avk && wlen != 0) {
		/* the availability key serves customer-managed tenants
		 * only; a system-key outage is not retried */
		rc = CU_ERR_UNAVAILABLE;
		goto out;
	}
	if (wlen == 0) {
		/* customer-managed: the tenant's own roots */
		rc = CU_ERR_NOTFOUND;
		if (k->tenant_unwrap != NULL)
			rc = k->tenant_unwrap(k->tenant_unwrap_arg, tenant,
			                      found, avk, e->key);
		klen = CU_SKEYS_KEY_LEN;
	} else {
		rc = k->root.unwrap(k->root.ctx, wrapped, wlen, e->key,
		                    CU_SKEYS_KEY_LEN, &klen);
	}
	if (rc == 0 && klen != CU_SKEYS_KEY_LEN)
		rc = CU_ERR_AUTH;
	if (rc != 0) {
		cu_log(CU_LOG_ERROR, "tenant key unwrap failed",
		       json_pack("{s:s,s:i,s:s}", "tenant", tenant,
		                 "tk_version", (int)found, "error",
		                 cu_strerror(rc)));
		goto out;
	}
	memcpy(e->tenant, tenant, strlen(tenant) + 1);
	e->version = found;
	*out = e;
	e = NULL;
out:
	entry_free(e);
	return rc;
}

/* With k->mu held: the unwrap of (tenant, version) in flight, or NULL. */
static struct tk_flight *flight_find_locked(cu_skeys_t *k, const char *tenant,
                                            uint32_t version)
{
	struct tk_flight *f;

	for (f = k->flights; f != NULL; f = f->next)
		if (f->version == version && strcmp(f->tenant, tenant) == 0)
			return f;
	return NULL;
}

/* With k->mu held: list a new flight for (tenant, version), held by the
 * caller. NULL when out of memory or the name is too long: the caller
 * then unwraps without one (correct, only not shared). */
static struct tk_flight *flight_start_locked(cu_skeys_t *k, const char *tenant,
                                             uint32_t version)
{
	size_t len = strlen(tenant);
	struct tk_flight *f;

	if (len > CU_SMETA_ID_MAX || (f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	memcpy(f->tenant, tenant, len + 1);
	f->version = version;
	f->refs = 1;
	f->next = k->flights;
	k->flights = f;
	return f;
}

/* With k->mu held: drop one reference; the last one frees. */
static void flight_unref_locked(struct tk_flight *f)
{
	if (--f->refs == 0)
		free(f);
}

/* With k->mu held: publish rc (with the TK in the cache when 0), unlist
 * the flight, wake its waiters, drop the caller's reference. NULL ok. */
static void flight_end_locked(cu_skeys_t *k, struct tk_flight *f, int rc)
{
	struct tk_flight **pp;

	if (f == NULL)
		return;
	for (pp = &k->flights; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	f->done = 1;
	f->rc = rc;
	pthread_cond_broadcast(&k->flight_done);
	flight_unref_locked(f);
}

/* Run fn with the plaintext TK (tenant, version; 0 = latest), unwrapping
 * it under a new lease when none is live. fn runs with k->mu held. One
 * unwrap per (tenant, version) at a time: requests arriving while it is
 * under way wait for it and share its answer. */
typedef int (*tk_fn)(void *arg, const unsigned char *tk, uint32_t version);

static int with_tk(cu_skeys_t *k, const char *tenant, uint32_t version,
                   tk_fn fn, void *arg)
{
	struct tk_entry *e = NULL, *fresh = NULL;
	struct tk_flight *fl = NULL;
	uint32_t want = version;
	int rc;

	if (version == 0) {
		/* the latest version is a metadata question: ask it, then
		 * look in the cache for that version */
		unsigned char w[CU_SKEYS_WRAPPED_MAX];
		size_t wl;

		rc = cu_smeta_tk_get(k->meta, tenant, 0, w, sizeof(w), &wl,
		                     &want);
		if (rc != 0)
			return rc;
	}
	pthread_mutex_lock(&k->mu);
	e = find_locked(k, tenant, want);
	if (e != NULL) {
		rc = fn(arg, e->key, e->version);
		pthread_mutex_unlock(&k->mu);
		return rc;
	}
	if ((fl = flight_find_locked(k, tenant, want)) != NULL) {
		/* another request is unwrapping this TK: take its answer */
		fl->refs++;
		k->flight_waits++;
		while (!fl->done)
			pthread_cond_wait(&k->flight_done, &k->mu);
		rc = fl->rc;
		flight_unref_locked(fl);
		fl = NULL;
		if (rc == 0 && (e = find_locked(k, tenant, want)) != NULL) {
			rc = fn(arg, e->key, e->version);
			pthread_mutex_unlock(&k->mu);
			return rc;
		}
		pthread_mutex_unlock(&k->mu);
		/* a denial or an outage: handled below as if ours; done but
		 * not cached (the cache was full): unwrap ourselves */
		if (rc == 0)
			rc = unwrap_tk(k, tenant, want, 0, &fresh);
	} else {
		fl = flight_start_locked(k, tenant, want);
		pthread_mutex_unlock(&k->mu);
		rc = unwrap_tk(k, tenant, want, 0, &fresh);
		if (rc != 0) {
			pthread_mutex_lock(&k->mu);
			flight_end_locked(k, fl, rc);
			pthread_mutex_unlock(&k->mu);
			fl = NULL;
		}
	}
	if (rc == CU_ERR_UNAVAILABLE || rc == CU_ERR_TIMEOUT) {
		/* an outage, not a denial: serve on under the lease that
		 * just ended while the operator's grace lasts ... */
		pthread_mutex_lock(&k->mu);
		e = find_stale_locked(k, tenant, want);
		if (e != NULL) {
			rc = fn(arg, e->key, e->version);
			pthread_mutex_unlock(&k->mu);
			return rc;
		}
		pthread_mutex_unlock(&k->mu);
		/* ... then the availability key, where the tenant chose it
		 * (the tenant's unwrap decides) */
		if (k->tenant_unwrap != NULL)
			rc = unwrap_tk(k, tenant, want, 1, &fresh);
	}
	if (rc != 0) {
		if (rc == CU_ERR_DENIED || rc == CU_ERR_AUTH)
			(void)cu_skeys_forget(k, tenant);
		return rc;
	}
	pthread_mutex_lock(&k->mu);
	k->unwraps++;
	e = find_locked(k, tenant, want);
	if (e == NULL) {
		/* a stale copy is replaced by the fresh one */
		drop_locked(k, tenant, want);
		/* the lease counts from this unwrap */
		fresh->expires_ms = k->clock(k->clock_arg) + k->lease_ms;
		fresh->stale_until_ms = fresh->expires_ms + k->grace_ms;
		if (k->n_cached >= CU_SKEYS_MAX_CACHED) {
			/* full: use it once, keep nothing */
			flight_end_locked(k, fl, 0);
			rc = fn(arg, fresh->key, fresh->version);
			pthread_mutex_unlock(&k->mu);
			entry_free(fresh);
			return rc;
		}
		fresh->serial = ++k->next_serial;
		fresh->next = k->cache;
		k->cache = fresh;
		k->n_cached++;
		e = fresh;
		fresh = NULL;
	}
	flight_end_locked(k, fl, 0);
	rc = fn(arg, e->key, e->version);
	pthread_mutex_unlock(&k->mu);
	entry_free(fresh);
	return rc;
}

struct dek_op {
	const void *id;
	size_t id_len;
	unsigned char *dek;
	unsigned char *wrapped;
	size_t cap, *wlen;
	const void *in;
	size_t in_len;
	uint32_t version;
	/* generic seal/open */
	const void *aad;
	size_t aad_len;
	unsigned char *out;
	size_t out_cap, *out_len;
};

static int dek_aad(const struct dek_op *op, unsigned char **aad, size_t *len)
{
	size_t n = sizeof(dek_label) - 1;

	if (op->id_len > CU_SMETA_BLOB_MAX)
		return CU_ERR_RANGE;
	if ((*aad = malloc(n + op->id_len)) == NULL)
		return CU_ERR_NOMEM;
	memcpy(*aad, dek_label, n);
	if (op->id_len > 0)
		memcpy(*aad + n, op->id, op->id_len);
	*len = n + op->id_len;
	return 0;
}

static int do_dek_wrap(void *arg, const unsigned char *tk, uint32_t version)
{
	struct dek_op *op = arg;
	unsigned char *aad = NULL;
	size_t alen = 0;
	int rc;

	if ((rc = dek_aad(op, &aad, &alen)) != 0)
		return rc;
	rc = cu_aead_seal(tk, aad, alen, op->dek, CU_SKEYS_KEY_LEN, op->wrapped,
	                  op->cap, op->wlen);
	op->version = version;
	free(aad);
	return rc;
}

static int do_dek_unwrap(void *arg, const unsigned char *tk, uint32_t version)
{
	struct dek_op *op = arg;
	unsigned char *aad = NULL;
	size_t alen = 0, n = 0;
	int rc;

	(void)version;
	if ((rc = dek_aad(op, &aad, &alen)) != 0)
		return rc;
	rc = cu_aead_open(tk, aad, alen, op->in, op->in_len, op->dek,
	                  CU_SKEYS_KEY_LEN, &n);
	if (rc == 0 && n != CU_SKEYS_KEY_LEN)
		rc = CU_ERR_AUTH;
	free(aad);
	return rc;
}

int cu_skeys_dek_new(cu_skeys_t *k, const char *tenant, const void *id,
                     size_t id_len, unsigned char dek[CU_SKEYS_KEY_LEN],
                     unsigned char *wrapped, size_t cap, size_t *wlen,
                     uint32_t *tk_version)
{
	struct dek_op op = {0};
	int rc;

	if (k == NULL || tenant == NULL || id == NULL || dek == NULL ||
	    wrapped == NULL || wlen == NULL || tk_version == NULL)
		return CU_ERR_INVAL;
	if ((rc = cu_rand_bytes(dek, CU_SKEYS_KEY_LEN)) != 0)
		goto out;
	op.id = id;
	op.id_len = id_len;
	op.dek = dek;
	op.wrapped = wrapped;
	op.cap = cap;
	op.wlen = wlen;
	if ((rc = with_tk(k, tenant, 0, do_dek_wrap, &op)) != 0)
		goto out;
	*tk_version = op.version;
out:
	if (rc != 0)
		cu_memzero(dek, CU_SKEYS_KEY_LEN);
	return rc;
}

int cu_skeys_dek_open(cu_skeys_t *k, const char *tenant, uint32_t tk_version,
                      const void *wrapped, size_t wlen, const void *id,
                      size_t id_len, unsigned char dek[CU_SKEYS_KEY_LEN])
{
	struct dek_op op = {0};
	int rc;

	if (k == NULL || tenant == NULL || wrapped == NULL || id == NULL ||
	    dek == NULL)
		return CU_ERR_INVAL;
	if (tk_version == 0)
		return CU_ERR_NOTFOUND;
	if (wlen != CU_SKEYS_DEK_WRAPPED)
		return CU_ERR_PARSE;
	op.id = id;
	op.id_len = id_len;
	op.dek = dek;
	op.in = wrapped;
	op.in_len = wlen;
	rc = with_tk(k, tenant, tk_version, do_dek_unwrap, &op);
	if (rc != 0)
		cu_memzero(dek, CU_SKEYS_KEY_LEN);
	return rc;
}

static int do_seal(void *arg, const unsigned char *tk, uint32_t version)
{
	struct dek_op *op = arg;

	(void)version;
	return cu_aead_seal(tk, op->aad, op->aad_len, op->in, op->in_len,
	                    op->out, op->out_cap, op->out_len);
}

static int do_open(void *arg, const unsigned char *tk, uint32_t version)
{
	struct dek_op *op = arg;

	(void)version;
	return cu_aead_open(tk, op->aad, op->aad_len, op->in, op->in_len,
	                    op->out, op->out_cap, op->out_len);
}

int cu_skeys_seal(cu_skeys_t *k, const char *tenant, uint32_t tk_version,
                  const void *aad, size_t aad_len, const void *pt,
                  size_t pt_len, unsigned char *out, size_t cap,
                  size_t *out_len)
{
	struct dek_op op = {0};

	if (k == NULL || tenant == NULL || tk_version == 0 || out == NULL ||
	    out_len == NULL)
		return CU_ERR_INVAL;
	op.aad = aad;
	op.aad_len = aad_len;
	op.in = pt;
	op.in_len = pt_len;
	op.out = out;
	op.out_cap = cap;
	op.out_len = out_len;
	return with_tk(k, tenant, tk_version, do_seal, &op);
}

int cu_skeys_open(cu_skeys_t *k, const char *tenant, uint32_t tk_version,
                  const void *aad, size_t aad_len, const void *in,
                  size_t in_len, unsigned char *out, size_t cap,
                  size_t *out_len)
{
	struct dek_op op = {0};

	if (k == NULL || tenant == NULL || tk_version == 0 || out == NULL ||
	    out_len == NULL)
		return CU_ERR_INVAL;
	op.aad = aad;
	op.aad_len = aad_len;
	op.in = in;
	op.in_len = in_len;
	op.out = out;
	op.out_cap = cap;
	op.out_len = out_len;
	return with_tk(k, tenant, tk_version, do_open, &op);
}

/* ---- per-tenant roots -------------------------------------------- */

void cu_skeys_set_tenant_unwrap(cu_skeys_t *k, cu_skeys_tenant_unwrap_fn fn,
                                void *arg)
{
	pthread_mutex_lock(&k->mu);
	k->tenant_unwrap = fn;
	k->tenant_unwrap_arg = arg;
	pthread_mutex_unlock(&k->mu);
}

void cu_skeys_set_outage_grace(cu_skeys_t *k, unsigned grace_s)
{
	pthread_mutex_lock(&k->mu);
	k->grace_ms = (int64_t)grace_s * 1000;
	pthread_mutex_unlock(&k->mu);
}

size_t cu_skeys_forget(cu_skeys_t *k, const char *tenant)
{
	size_t n;

	if (k == NULL || tenant == NULL)
		return 0;
	pthread_mutex_lock(&k->mu);
	n = drop_locked(k, tenant, 0);
	pthread_mutex_unlock(&k->mu);
	return n;
}

static int do_copy(void *arg, const unsigned char *tk, uint32_t version)
{
	(void)version;
	memcpy(arg, tk, CU_SKEYS_KEY_LEN);
	return 0;
}

static int do_nothing(void *arg, const unsigned char *tk, uint32_t version)
{
	(void)arg;
	(void)tk;
	(void)version;
	return 0;
}

int cu_skeys_tk_plain(cu_skeys_t *k, const char *tenant, uint32_t version,
                      unsigned char tk[CU_SKEYS_KEY_LEN])
{
	int rc;

	if (k == NULL || tenant == NULL || version == 0 || tk == NULL)
		return CU_ERR_INVAL;
	rc = with_tk(k, tenant, version, do_copy, tk);
	if (rc != 0)
		cu_memzero(tk, CU_SKEYS_KEY_LEN);
	return rc;
}

int cu_skeys_tk_touch(cu_skeys_t *k, const char *tenant)
{
	if (k == NULL || tenant == NULL)
		return CU_ERR_INVAL;
	return with_tk(k, tenant, 0, do_nothing, NULL);
}

int cu_skeys_sk_wrap(cu_skeys_t *k, const unsigned char tk[CU_SKEYS_KEY_LEN],
                     unsigned char *out, size_t cap, size_t *len)
{
	if (k == NULL || tk == NULL || out == NULL || len == NULL)
		return CU_ERR_INVAL;
	return k->root.wrap(k->root.ctx, tk, CU_SKEYS_KEY_LEN, out, cap, len);
}

int cu_skeys_sk_unwrap(cu_skeys_t *k, const unsigned char *in, size_t in_len,
                       unsigned char tk[CU_SKEYS_KEY_LEN])
{
	size_t n = 0;
	int rc;

	if (k == NULL || in == NULL || tk == NULL)
		return CU_ERR_INVAL;
	rc = k->root.unwrap(k->root.ctx, in, in_len, tk, CU_SKEYS_KEY_LEN, &n);
	if (rc == 0 && n != CU_SKEYS_KEY_LEN)
		rc = CU_ERR_AUTH;
	if (rc != 0)
		cu_memzero(tk, CU_SKEYS_KEY_LEN);
	return rc;
}

int cu_skeys_dek_open_with(const unsigned char tk[CU_SKEYS_KEY_LEN],
                           const void *wrapped, size_t wlen, const void *id,
                           size_t id_len, unsigned char dek[CU_SKEYS_KEY_LEN])
{
	struct dek_op op = {0};
	int rc;

	if (tk == NULL || wrapped == NULL || id == NULL || dek == NULL)
		return CU_ERR_INVAL;
	if (wlen != CU_SKEYS_DEK_WRAPPED)
		return CU_ERR_PARSE;
	op.id = id;
	op.id_len = id_len;
	op.dek = dek;
	op.in = wrapped;
	op.in_len = wlen;
	rc = do_dek_unwrap(&op, tk, 0);
	if (rc != 0)
		cu_memzero(dek, CU_SKEYS_KEY_LEN);
	return rc;
}

unsigned cu_skeys_lease_seconds(const cu_skeys_t *k)
{
	return (unsigned)(k->lease_ms / 1000);
}

/* ---- object subkeys ----------------------------------------------- */

/* The first slot of digest's set. */
static struct subkey_slot *set_of(cu_skeys_t *k, const unsigned char *digest)
{
	size_t i = ((size_t)digest[0] | (size_t)digest[1] << 8) &
	           (SUBKEY_SLOTS / SUBKEY_WAYS - 1);
	return &k->slots[i * SUBKEY_WAYS];
}

int cu_skeys_subkey_get(cu_skeys_t *k, const char *tenant, uint32_t tk_version,
                        const unsigned char digest[CU_SKEYS_DIGEST_LEN],
                        unsigned char subkey[CU_SKEYS_KEY_LEN])
{
	struct tk_entry *e;
	struct subkey_slot *set;
	int rc = CU_ERR_NOTFOUND;

	if (k == NULL || tenant == NULL || digest == NULL || subkey == NULL)
		return CU_ERR_INVAL;
	if (k->slots == NULL || tk_version == 0)
		return CU_ERR_NOTFOUND;
	pthread_mutex_lock(&k->mu);
	/* only under the live lease of the very TK entry it was kept under:
	 * a TK wiped, expired or unwrapped again takes its subkeys along */
	e = find_locked(k, tenant, tk_version);
	set = set_of(k, digest);
	for (int w = 0; e != NULL && w < SUBKEY_WAYS; w++) {
		if (set[w].serial == e->serial &&
		    memcmp(set[w].digest, digest, CU_SKEYS_DIGEST_LEN) == 0) {
			memcpy(subkey, set[w].subkey, CU_SKEYS_KEY_LEN);
			set[w].used = ++k->subkey_tick;
			rc = 0;
			break;
		}
	}
	if (rc == 0)
		k->subkey_hits++;
	else
		k->subkey_misses++;
	pthread_mutex_unlock(&k->mu);
	return rc;
}

void cu_skeys_subkey_put(cu_skeys_t *k, const char *tenant, uint32_t tk_version,
                         const unsigned char digest[CU_SKEYS_DIGEST_LEN],
                         const unsigned char subkey[CU_SKEYS_KEY_LEN])
{
	struct tk_entry *e;
	struct subkey_slot *set, *sl;

	if (k == NULL || tenant == NULL || digest == NULL || subkey == NULL ||
	    k->slots == NULL || tk_version == 0)
		return;
	pthread_mutex_lock(&k->mu);
	/* kept only while the TK is cached under a live lease: not from a
	 * stale one serving through an outage, nor when the cache is full */
	if ((e = find_locked(k, tenant, tk_version)) != NULL) {
		set = set_of(k, digest);
		sl = &set[0];
		for (int w = 0; w < SUBKEY_WAYS; w++) {
			if (memcmp(set[w].digest, digest,
			           CU_SKEYS_DIGEST_LEN) == 0 ||
			    set[w].serial == 0) {
				sl = &set[w];
				break;
			}
			if (set[w].used < sl->used)
				sl = &set[w];
		}
		sl->serial = e->serial;
		sl->used = ++k->subkey_tick;
		memcpy(sl->digest, digest, CU_SKEYS_DIGEST_LEN);
		memcpy(sl->subkey, subkey, CU_SKEYS_KEY_LEN);
	}
	pthread_mutex_unlock(&k->mu);
}

void cu_skeys_subkey_stats(cu_skeys_t *k, uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&k->mu);
	if (hits != NULL)
		*hits = k->subkey_hits;
	if (misses != NULL)
		*misses = k->subkey_misses;
	pthread_mutex_unlock(&k->mu);
}

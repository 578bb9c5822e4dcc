/* oproot.c - the system key and the availability key: a key file or a
 * key in the operator's vault, and moving the tenant keys between them. */
#include "store/oproot.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secmem.h"
#include "store/cmkcheck.h"
#include "store/root_vault.h"
#include "store/vaultc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* A vault root with the store's reading of its errors. */
struct oproot {
	struct cu_skeys_root inner; /* cu_vroot_new */
	enum cu_oproot_which which;
	char kid[CU_VAULTC_KID_MAX + 1];
	pthread_mutex_t mu; /* guards hold_until_ms, hold_rc */
	int64_t hold_until_ms;
	int hold_rc;
};

static const char *what(enum cu_oproot_which w)
{
	return w == CU_OPROOT_SYSTEM ? "system key" : "availability key";
}

static const char *flag(enum cu_oproot_which w)
{
	return w == CU_OPROOT_SYSTEM ? "--system-key" : "--availability-key";
}

const char *cu_oproot_setting(enum cu_oproot_which which)
{
	return which == CU_OPROOT_SYSTEM ? "system_key" : "availability_key";
}

__attribute__((format(printf, 3, 4))) static void msgf(char *dst, size_t cap,
                                                       const char *fmt, ...)
{
	va_list ap;

	if (dst == NULL || cap == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* After a denial or an outage every tenant's unwrap would ask the vault
 * again (and, with a vault that does not answer, hold a request thread
 * for the connect timeout): for CU_OPROOT_HOLD_MS the same answer is
 * given at once. Returns it, or 0 when the vault should be asked. */
static int held(struct oproot *o)
{
	int rc = 0;

	pthread_mutex_lock(&o->mu);
	if (o->hold_rc != 0 && mono_ms() < o->hold_until_ms)
		rc = o->hold_rc;
	pthread_mutex_unlock(&o->mu);
	return rc;
}

static void hold(struct oproot *o, int rc)
{
	pthread_mutex_lock(&o->mu);
	o->hold_rc = rc;
	o->hold_until_ms = rc != 0 ? mono_ms() + CU_OPROOT_HOLD_MS : 0;
	pthread_mutex_unlock(&o->mu);
}

/* The inner root's error r, classified and logged once per failure. */
static int outcome(struct oproot *o, const char *op, int r)
{
	struct cu_vaultc_result res = {0};

	if (r == 0)
		hold(o, 0);
	if (r == 0 || r == CU_ERR_RANGE || r == CU_ERR_NOMEM)
		return r;
	(void)cu_vroot_last(&o->inner, &res, NULL);
	if (r == CU_ERR_AUTH && res.reason != CU_VAULTC_UNWRAP_FAILED &&
	    cu_vaultc_is_denial(res.reason)) {
		/* the operator's vault said no: not a wrong value, a
		 * revocation of the store's access to the operator's key */
		cu_log(CU_LOG_WARN,
		       "security: the operator's vault denied the store the "
		       "key",
		       json_pack("{s:s,s:s,s:s,s:s,s:i,s:s}", "event",
		                 "operator_key_denied", "root", what(o->which),
		                 "kid", o->kid, "op", op, "status",
		                 (int)res.status, "reason",
		                 cu_vaultc_reason_name(res.reason)));
		hold(o, CU_ERR_DENIED);
		return CU_ERR_DENIED;
	}
	if (r == CU_ERR_UNAVAILABLE || r == CU_ERR_TIMEOUT) {
		cu_log(CU_LOG_WARN, "the operator's vault does not answer",
		       json_pack("{s:s,s:s,s:s,s:s,s:s}", "event",
		                 "operator_vault_unreachable", "root",
		                 what(o->which), "kid", o->kid, "op", op,
		                 "reason", cu_vaultc_reason_name(res.reason)));
		hold(o, r);
	}
	return r;
}

typedef int (*root_op_fn)(void *ctx, const unsigned char *in, size_t in_len,
                          unsigned char *out, size_t cap, size_t *out_len);

/* One wrap or unwrap through the inner root, unless a recent answer
 * still holds. */
static int op_call(struct oproot *o, const char *op, root_op_fn fn,
                   const unsigned char *in, size_t in_len, unsigned char *out,
                   size_t cap, size_t *out_len)
{
	int r;

	*out_len = 0;
	if ((r = held(o)) != 0)
		return r;
	return outcome(o, op, fn(o->inner.ctx, in, in_len, out, cap, out_len));
}

static int op_wrap(void *ctx, const unsigned char *in, size_t in_len,
                   unsigned char *out, size_t cap, size_t *out_len)
{
	struct oproot *o = ctx;

	return op_call(o, "wrapKey", o->inner.wrap, in, in_len, out, cap,
	               out_len);
}

static int op_unwrap(void *ctx, const unsigned char *in, size_t in_len,
                     unsigned char *out, size_t cap, size_t *out_len)
{
	struct oproot *o = ctx;

	return op_call(o, "unwrapKey", o->inner.unwrap, in, in_len, out, cap,
	               out_len);
}

static void op_free(void *ctx)
{
	struct oproot *o = ctx;

	if (o == NULL)
		return;
	if (o->inner.free != NULL)
		o->inner.free(o->inner.ctx);
	pthread_mutex_destroy(&o->mu);
	free(o);
}

int cu_oproot_is_vault(const struct cu_skeys_root *root)
{
	return root != NULL && root->wrap == op_wrap && root->ctx != NULL;
}

static const char *root_name(enum cu_oproot_which w)
{
	return w == CU_OPROOT_SYSTEM ? CU_SMETA_ROOT_SYSTEM : CU_SMETA_ROOT_AVK;
}

/* A client for kid's vault as the store. */
static int client_for(const struct cu_oproot_config *cfg, const char *kid,
                      cu_vaultc_t **v, char *msg, size_t cap)
{
	struct cu_vaultc_config vc = {0};
	struct cu_vaultc_kid k;

	if (cu_vaultc_kid_parse(kid, strnlen(kid, CU_VAULTC_KID_MAX + 1), &k) !=
	    0) {
		msgf(msg, cap,
		     "%s '%s' is not a key identifier "
		     "(https://HOST:PORT/keys/NAME[/VERSION])",
		     flag(cfg->which), kid);
		return CU_ERR_INVAL;
	}
	if (cfg->client_cert_file == NULL || cfg->client_key_file == NULL) {
		msgf(msg, cap,
		     "%s needs the store's identity in the operator's vault: "
		     "give --client-cert and --client-key",
		     flag(cfg->which));
		return CU_ERR_INVAL;
	}
	vc.url = k.origin;
	vc.ca_file = cfg->vault_ca_file;
	vc.cert_file = cfg->client_cert_file;
	vc.key_file = cfg->client_key_file;
	if (cu_vaultc_new(&vc, v) != 0) {
		msgf(msg, cap, "cannot make a client for the vault %s",
		     k.origin);
		return CU_ERR_INVAL;
	}
	return 0;
}

/* Wrap a vroot (taken) in the store's error reading. */
static int adapt(enum cu_oproot_which which, const char *kid,
                 struct cu_skeys_root *inner, struct cu_skeys_root *root)
{
	struct oproot *o = calloc(1, sizeof(*o));

	if (o == NULL) {
		inner->free(inner->ctx);
		return CU_ERR_NOMEM;
	}
	o->inner = *inner;
	o->which = which;
	pthread_mutex_init(&o->mu, NULL);
	snprintf(o->kid, sizeof(o->kid), "%s", kid);
	memset(root, 0, sizeof(*root));
	root->name = root_name(which);
	root->wrap = op_wrap;
	root->unwrap = op_unwrap;
	root->free = op_free;
	root->ctx = o;
	return 0;
}

int cu_oproot_open(const struct cu_oproot_config *cfg,
                   struct cu_skeys_root *root, char *msg, size_t cap)
{
	struct cu_cmkcheck_result chk;
	struct cu_skeys_root inner = {0};
	cu_vaultc_t *v = NULL;
	const char *principal;
	int rc;

	if (cfg == NULL || root == NULL)
		return CU_ERR_INVAL;
	msgf(msg, cap, "%s", "");
	if (cfg->kid == NULL) {
		if (cfg->key_file == NULL)
			return CU_ERR_INVAL;
		rc = cu_skeys_root_file(cfg->key_file, root);
		if (rc != 0)
			msgf(msg, cap, "the %s file %s is not usable: %s",
			     what(cfg->which), cfg->key_file, cu_strerror(rc));
		else
			root->name = root_name(cfg->which);
		return rc;
	}
	principal = cfg->principal != NULL ? cfg->principal : "custos-store";
	if ((rc = client_for(cfg, cfg->kid, &v, msg, cap)) != 0)
		return rc;
	rc = cu_cmkcheck_run(v, cfg->kid, principal, 0, &chk);
	if (rc != 0) {
		msgf(msg, cap, "the %s %s is not usable (%s): %s",
		     what(cfg->which), cfg->kid, chk.code, chk.message);
		goto out;
	}
	if ((rc = cu_vroot_new(v, cfg->kid, chk.alg, &inner)) != 0) {
		msgf(msg, cap, "the %s %s: %s", what(cfg->which), cfg->kid,
		     cu_strerror(rc));
		goto out;
	}
	rc = adapt(cfg->which, cfg->kid, &inner, root);
	if (rc == 0)
		cu_log(CU_LOG_INFO, "operator key validated",
		       json_pack("{s:s,s:s,s:s,s:i,s:s}", "root",
		                 what(cfg->which), "kid", cfg->kid, "version",
		                 chk.version, "bits", (int)chk.bits, "alg",
		                 cu_vaultc_alg_name(chk.alg)));
out:
	cu_vaultc_free(v);
	return rc;
}

/* ---- moving the wraps between roots --------------------------------- */

struct wrap {
	char *tenant;
	uint32_t version;
	unsigned char *w; /* the wrap read, then the new one */
	size_t len;
};

struct wraps {
	struct wrap *a;
	size_t n, cap;
};

static int collect(void *arg, const char *tenant, uint32_t version,
                   const void *wrapped, size_t wlen)
{
	struct wraps *ws = arg;
	struct wrap *e;

	if (ws->n == ws->cap) {
		size_t nc = ws->cap ? ws->cap * 2 : 16;
		struct wrap *na = realloc(ws->a, nc * sizeof(*na));

		if (na == NULL)
			return CU_ERR_NOMEM;
		ws->a = na;
		ws->cap = nc;
	}
	e = &ws->a[ws->n];
	memset(e, 0, sizeof(*e));
	if ((e->tenant = strdup(tenant)) == NULL ||
	    (e->w = malloc(wlen)) == NULL) {
		free(e->tenant);
		return CU_ERR_NOMEM;
	}
	memcpy(e->w, wrapped, wlen);
	e->version = version;
	e->len = wlen;
	ws->n++;
	return 0;
}

static void wraps_free(struct wraps *ws)
{
	for (size_t i = 0; i < ws->n; i++) {
		free(ws->a[i].tenant);
		free(ws->a[i].w);
	}
	free(ws->a);
}

/* Whether root opens w (len bytes) into tk: the probe of
 * cu_oproot_adopt, which hands root a wrap that may well not be its own.
 * A vault root that follows the latest version reads the version to ask
 * for from the wrap's first 17 bytes (root_vault.h): a key-file wrap
 * starting with CU_VROOT_FORMAT_V1 (1 in 256 of them) or another vault
 * key's wrap names a version this key does not have, and the vault
 * answers KeyNotFound. The key was found and usable when the root was
 * opened, so that answer says the wrap is not under it: CU_ERR_AUTH, with
 * no denial held and no security event logged. If the key really went
 * since, wrapping under it fails next and nothing changes. */
static int probe(struct cu_skeys_root *root, const unsigned char *w, size_t len,
                 unsigned char *tk, size_t *n)
{
	struct cu_vaultc_result res = {0};
	struct oproot *o;
	int r;

	if (!cu_oproot_is_vault(root))
		return root->unwrap(root->ctx, w, len, tk, CU_SKEYS_KEY_LEN, n);
	o = root->ctx;
	*n = 0;
	if ((r = held(o)) != 0)
		return r;
	r = o->inner.unwrap(o->inner.ctx, w, len, tk, CU_SKEYS_KEY_LEN, n);
	if (r == CU_ERR_AUTH && cu_vroot_last(&o->inner, &res, NULL) == 0 &&
	    res.reason == CU_VAULTC_KEY_NOT_FOUND)
		return CU_ERR_AUTH;
	return outcome(o, "unwrapKey", r);
}

/* The root that wrapped what the metadata records under `rec`. */
static int open_recorded(const struct cu_oproot_config *cfg, const char *rec,
                         struct cu_skeys_root *old, char *msg, size_t cap)
{
	struct cu_vaultc_key key;
	struct cu_vaultc_result res = {0};
	struct cu_skeys_root inner = {0};
	struct stat sb;
	cu_vaultc_t *v = NULL;
	int rc;

	if (strcmp(rec, CU_OPROOT_FILE) == 0) {
		/* never create it here: a fresh key would unwrap nothing */
		if (cfg->key_file == NULL || stat(cfg->key_file, &sb) != 0) {
			msgf(msg, cap,
			     "the tenant keys are wrapped under the %s file "
			     "%s, which is missing: restore it so the store "
			     "can re-wrap them under %s",
			     what(cfg->which),
			     cfg->key_file ? cfg->key_file : "(none)",
			     cfg->kid ? cfg->kid : "the new key file");
			return CU_ERR_STATE;
		}
		rc = cu_skeys_root_file(cfg->key_file, old);
		if (rc != 0)
			msgf(msg, cap, "the %s file %s is not usable: %s",
			     what(cfg->which), cfg->key_file, cu_strerror(rc));
		return rc;
	}
	/* a key in a vault: reach it as the store, as configured now */
	if ((rc = client_for(cfg, rec, &v, msg, cap)) != 0)
		goto refuse;
	if ((rc = cu_vaultc_get_key(v, rec, &key, &res)) != 0) {
		msgf(msg, cap, "%s", cu_vaultc_reason_name(res.reason));
		goto refuse;
	}
	rc = cu_vroot_new(v, rec,
	                  key.kty == CU_VAULTC_KTY_OCT ? CU_VAULTC_A256KW
	                                               : CU_VAULTC_RSA_OAEP_256,
	                  &inner);
	if (rc == 0)
		rc = adapt(cfg->which, rec, &inner, old);
	cu_vaultc_free(v);
	return rc;
refuse:
	cu_vaultc_free(v);
	{
		char why[128];

		snprintf(why, sizeof(why), "%s", msg != NULL ? msg : "");
		msgf(msg, cap,
		     "the tenant keys are wrapped under the %s %s, which the "
		     "store cannot use (%s): start with %s %s, or make that "
		     "key reachable so the store can re-wrap them",
		     what(cfg->which), rec, why, flag(cfg->which), rec);
	}
	return CU_ERR_STATE;
}

int cu_oproot_adopt(cu_smeta_t *meta, const struct cu_oproot_config *cfg,
                    struct cu_skeys_root *root, size_t *rewrapped, char *msg,
                    size_t cap)
{
	const char *setting, *id;
	char rec[CU_VAULTC_KID_MAX + 1];
	struct wraps ws = {0};
	struct cu_skeys_root old = {0};
	struct cu_smeta_oproot_rewrap *rw = NULL;
	enum cu_smeta_oproot which;
	unsigned char *tk = NULL;
	size_t n = 0;
	int rc;

	if (meta == NULL || cfg == NULL || root == NULL)
		return CU_ERR_INVAL;
	if (rewrapped != NULL)
		*rewrapped = 0;
	msgf(msg, cap, "%s", "");
	setting = cu_oproot_setting(cfg->which);
	id = cfg->kid != NULL ? cfg->kid : CU_OPROOT_FILE;
	which = cfg->which == CU_OPROOT_SYSTEM ? CU_SMETA_OPROOT_SYSTEM
	                                       : CU_SMETA_OPROOT_AVK;
	rc = cu_smeta_setting_get(meta, setting, rec, sizeof(rec));
	if (rc == CU_ERR_NOTFOUND)
		snprintf(rec, sizeof(rec), "%s", CU_OPROOT_FILE);
	else if (rc != 0)
		return rc;
	if (strcmp(rec, id) == 0)
		return 0;
	if ((rc = cu_smeta_oproot_wraps(meta, which, collect, &ws)) != 0)
		goto out;
	if ((tk = cu_secmem_alloc(CU_SKEYS_KEY_LEN)) == NULL) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	if (ws.n > 0) {
		/* the same key at a new address (a vault on another port):
		 * it opens what is there, nothing to re-wrap */
		rc = probe(root, ws.a[0].w, ws.a[0].len, tk, &n);
		cu_memzero(tk, CU_SKEYS_KEY_LEN);
		if (rc == 0 && n == CU_SKEYS_KEY_LEN) {
			cu_log(CU_LOG_INFO,
			       "operator key recorded at a new identifier",
			       json_pack("{s:s,s:s,s:s}", "root",
			                 what(cfg->which), "was", rec, "now",
			                 id));
			rc = cu_smeta_setting_set(meta, setting, id);
			goto out;
		}
		/* a refusal or no answer says nothing about the wraps; any
		 * other failure (wrong key, another root's format) means
		 * they are not under this root */
		if (rc == CU_ERR_DENIED || rc == CU_ERR_UNAVAILABLE ||
		    rc == CU_ERR_TIMEOUT || rc == CU_ERR_NOMEM) {
			msgf(
			    msg, cap,
			    "cannot tell whether the tenant keys are under the "
			    "%s %s: %s",
			    what(cfg->which), id, cu_strerror(rc));
			goto out;
		}
		if ((rc = open_recorded(cfg, rec, &old, msg, cap)) != 0)
			goto out;
	}
	if (ws.n > 0 && (rw = calloc(ws.n, sizeof(*rw))) == NULL) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < ws.n; i++) {
		unsigned char out[CU_SKEYS_WRAPPED_MAX];
		size_t ol = 0;
		unsigned char *nw;

		n = 0;
		rc = old.unwrap(old.ctx, ws.a[i].w, ws.a[i].len, tk,
		                CU_SKEYS_KEY_LEN, &n);
		if (rc == 0 && n != CU_SKEYS_KEY_LEN)
			rc = CU_ERR_AUTH;
		if (rc == 0)
			rc = root->wrap(root->ctx, tk, CU_SKEYS_KEY_LEN, out,
			                sizeof(out), &ol);
		cu_memzero(tk, CU_SKEYS_KEY_LEN);
		if (rc != 0) {
			msgf(msg, cap,
			     "re-wrapping tenant %s key version %u from %s to "
			     "%s failed: %s; nothing was changed",
			     ws.a[i].tenant, (unsigned)ws.a[i].version, rec, id,
			     cu_strerror(rc));
			goto out;
		}
		if ((nw = malloc(ol)) == NULL) {
			rc = CU_ERR_NOMEM;
			goto out;
		}
		memcpy(nw, out, ol);
		free(ws.a[i].w);
		ws.a[i].w = nw;
		ws.a[i].len = ol;
		rw[i].tenant = ws.a[i].tenant;
		rw[i].version = ws.a[i].version;
		rw[i].wrapped = nw;
		rw[i].len = ol;
	}
	rc = cu_smeta_oproot_rewrap(meta, which, rw, ws.n, setting, id);
	if (rc != 0) {
		msgf(msg, cap,
		     "recording the re-wrapped tenant keys failed: %s",
		     cu_strerror(rc));
		goto out;
	}
	if (rewrapped != NULL)
		*rewrapped = ws.n;
	if (ws.n == 0) {
		cu_log(CU_LOG_INFO,
		       "operator key recorded (no tenant keys yet)",
		       json_pack("{s:s,s:s}", "root", what(cfg->which), "kid",
		                 id));
		goto out;
	}
	cu_log(CU_LOG_INFO,
	       "re-wrapped the tenant keys under the new operator key "
	       "(objects untouched)",
	       json_pack("{s:s,s:s,s:s,s:I}", "root", what(cfg->which), "from",
	                 rec, "to", id, "wraps", (json_int_t)ws.n));
out:
	if (old.free != NULL)
		old.free(old.ctx);
	cu_secmem_free(tk, CU_SKEYS_KEY_LEN);
	free(rw);
	wraps_free(&ws);
	return rc;
}

/* cmk.c - tenants' customer-managed keys: state machine, roots, worker. */
#include "store/cmk.h"
#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secmem.h"
#include "store/cmkcheck.h"
#include "store/root_vault.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define WRAP_CAP     (CU_VAULTC_WRAPPED_MAX + CU_VROOT_HEADER + 64)
#define MAX_VERSIONS 4096
#define TICK_MS      200
#define STATUS_MAX   40
#define MAX_VAULTS   1024 /* tenant vault origins a store talks to */
#define EVENTS_WAIT  2    /* long-poll seconds: bounds the stop delay too */

/* A tenant's customer keys as roots; shared by unwraps in flight. */
struct rootset {
	int refs;
	size_t n;
	struct cu_skeys_root ck[CU_SCMK_MAX_KEYS];
	char kid[CU_SCMK_MAX_KEYS][CU_VAULTC_KID_MAX + 1];
};

struct keystat {
	char kid[CU_VAULTC_KID_MAX + 1];
	char version[CU_VAULTC_VERSION_LEN + 1]; /* in use; "" unknown */
	char status[STATUS_MAX];                 /* "ok" or a reason */
	enum cu_vaultc_alg alg;
	int64_t checked_at;
};

/* A tenant's encryption settings and runtime. */
struct trec {
	struct trec *next;
	char id[CU_SMETA_ID_MAX + 1];
	int cmk; /* the roots in force are customer keys */
	char state[CU_SMETA_STATE_MAX + 1];
	char reason[STATUS_MAX];
	char message[CU_SCMK_ERR_MSG];
	size_t n;
	struct keystat k[CU_SCMK_MAX_KEYS];
	int avk;
	struct rootset *rs;
	/* a request waiting for the worker */
	int has_req, req_cmk, req_avk;
	size_t req_n;
	char req_kid[CU_SCMK_MAX_KEYS][CU_VAULTC_KID_MAX + 1];
	/* purge */
	int64_t inaccessible_since_ms; /* wall clock */
	int64_t purge_at;
	char prev_state[CU_SMETA_STATE_MAX + 1];
	/* runtime only */
	int64_t next_check_ms;
	int denial_seen;
};

/* A tenant vault's client and its event subscriber. */
struct vclient {
	struct vclient *next;
	cu_vaultc_t *v;
	struct cu_scmk *c;
	pthread_t th;
	int started, wanted; /* wanted: a root in force uses this vault */
};

struct cu_scmk {
	cu_smeta_t *meta;
	cu_skeys_t *keys;
	char *data_dir, *ca, *cert, *key;
	unsigned outage_grace_s, purge_grace_s, check_s;
	int refuse_revert, no_events;
	double lockout_purge_s;
	struct cu_skeys_root avk;
	int has_avk;
	char *sk_kid; /* the system key in the operator's vault, or NULL */
	pthread_mutex_t mu;    /* tenants, vaults, every trec field */
	pthread_mutex_t op_mu; /* one re-wrap, roll, check or purge at once */
	pthread_mutex_t save_mu;
	pthread_cond_t cv;
	int stopping, running, kick;
	pthread_t worker;
	struct trec *tenants;
	struct vclient *vaults;
	size_t n_vaults;
	cu_metric_t *m_denials, *m_states, *m_avk;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Bounded copy, truncating. */
static void copy(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strnlen(src, cap - 1) : 0;

	if (n > 0)
		memmove(dst, src, n);
	dst[n] = '\0';
}

/* A message for a person, truncated when long. */
__attribute__((format(printf, 3, 4))) static void msgf(char *dst, size_t cap,
                                                       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
}

static void set_err(struct cu_scmk_error *err, int status, const char *code,
                    const char *msg)
{
	if (err == NULL)
		return;
	err->status = status;
	err->code = code;
	copy(err->message, sizeof(err->message), msg);
}

/* ---- roots -------------------------------------------------------- */

static void rootset_unref(cu_scmk_t *c, struct rootset *rs)
{
	int last;

	if (rs == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	last = --rs->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (!last)
		return;
	for (size_t i = 0; i < rs->n; i++)
		if (rs->ck[i].free != NULL)
			rs->ck[i].free(rs->ck[i].ctx);
	free(rs);
}

static void *subscribe(void *arg);

/* With c->mu held: the client for kid's vault, made on first use, with
 * its event subscriber. */
static cu_vaultc_t *vault_locked(cu_scmk_t *c, const char *kid)
{
	struct cu_vaultc_config vc = {0};
	struct cu_vaultc_kid k;
	struct vclient *e;

	if (cu_vaultc_kid_parse(kid, strlen(kid), &k) != 0)
		return NULL;
	for (e = c->vaults; e != NULL; e = e->next)
		if (strcmp(cu_vaultc_origin(e->v), k.origin) == 0)
			return e->v;
	if (c->n_vaults >= MAX_VAULTS) {
		cu_log(CU_LOG_WARN, "too many tenant vaults; refusing another",
		       json_pack("{s:s}", "origin", k.origin));
		return NULL;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	vc.url = k.origin;
	vc.ca_file = c->ca;
	vc.cert_file = c->cert;
	vc.key_file = c->key;
	if (cu_vaultc_new(&vc, &e->v) != 0) {
		free(e);
		return NULL;
	}
	e->c = c;
	e->next = c->vaults;
	c->vaults = e;
	c->n_vaults++;
	return e->v;
}

static cu_vaultc_t *vault_for(cu_scmk_t *c, const char *kid)
{
	cu_vaultc_t *v;

	pthread_mutex_lock(&c->mu);
	v = vault_locked(c, kid);
	pthread_mutex_unlock(&c->mu);
	return v;
}

/* With c->mu held: follow the event stream of v, whose key is now a
 * root in force (only those: a request naming any vault must not leave
 * a thread behind). */
static void follow_locked(cu_scmk_t *c, cu_vaultc_t *v)
{
	for (struct vclient *e = c->vaults; e != NULL; e = e->next) {
		if (e->v != v)
			continue;
		e->wanted = 1;
		if (!e->started && c->running && !c->stopping &&
		    !c->no_events &&
		    pthread_create(&e->th, NULL, subscribe, e) == 0)
			e->started = 1;
		return;
	}
}

/* A rootset over kids with algs; NULL on failure. refs = 1. */
static struct rootset *rootset_new(cu_scmk_t *c, size_t n,
                                   const char kids[][CU_VAULTC_KID_MAX + 1],
                                   const enum cu_vaultc_alg *algs)
{
	struct rootset *rs = calloc(1, sizeof(*rs));

	if (rs == NULL)
		return NULL;
	rs->refs = 1;
	for (size_t i = 0; i < n; i++) {
		cu_vaultc_t *v = vault_for(c, kids[i]);

		if (v == NULL ||
		    cu_vroot_new(v, kids[i], algs[i], &rs->ck[i]) != 0) {
			rootset_unref(c, rs);
			return NULL;
		}
		copy(rs->kid[i], sizeof(rs->kid[i]), kids[i]);
		rs->n = i + 1;
		pthread_mutex_lock(&c->mu);
		follow_locked(c, v);
		pthread_mutex_unlock(&c->mu);
	}
	return rs;
}

/* ---- the document ------------------------------------------------- */

static const char *alg_name(enum cu_vaultc_alg a)
{
	const char *s = cu_vaultc_alg_name(a);

	return s != NULL ? s : "";
}

static enum cu_vaultc_alg alg_parse(const char *s)
{
	if (s != NULL && strcmp(s, "A256KW") == 0)
		return CU_VAULTC_A256KW;
	return CU_VAULTC_RSA_OAEP_256;
}

/* With c->mu held. */
static json_t *doc_locked(const struct trec *t)
{
	json_t *keys = json_array(), *doc, *req = json_null();

	if (keys == NULL)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		json_array_append_new(
		    keys, json_pack("{s:s,s:s?,s:s,s:I,s:s}", "kid",
		                    t->k[i].kid, "version_in_use",
		                    t->k[i].version[0] ? t->k[i].version : NULL,
		                    "status", t->k[i].status, "checked_at",
		                    (json_int_t)t->k[i].checked_at, "alg",
		                    alg_name(t->k[i].alg)));
	if (t->has_req) {
		json_t *rk = json_array();

		for (size_t i = 0; rk != NULL && i < t->req_n; i++)
			json_array_append_new(rk, json_string(t->req_kid[i]));
		json_decref(req);
		req = json_pack("{s:s,s:o,s:b}", "mode",
		                t->req_cmk ? "customer_managed"
		                           : "system_managed",
		                "keys", rk != NULL ? rk : json_array(),
		                "availability_key", t->req_avk);
	}
	doc = json_pack("{s:s,s:s,s:s?,s:s?,s:o,s:b,s:o,s:I,s:s}", "mode",
	                t->cmk ? "customer_managed" : "system_managed", "state",
	                t->state, "reason", t->reason[0] ? t->reason : NULL,
	                "message", t->message[0] ? t->message : NULL, "keys",
	                keys, "availability_key", t->avk, "request",
	                req != NULL ? req : json_null(), "purge_at",
	                (json_int_t)t->purge_at, "prev_state", t->prev_state);
	if (doc != NULL && t->inaccessible_since_ms != 0)
		json_object_set_new(doc, "inaccessible_since_ms",
		                    json_integer(t->inaccessible_since_ms));
	return doc;
}

static void save(cu_scmk_t *c, const char *tenant)
{
	struct trec *t;
	char *text = NULL, state[CU_SMETA_STATE_MAX + 1] = "";
	json_t *doc = NULL;
	int rc;

	pthread_mutex_lock(&c->save_mu);
	pthread_mutex_lock(&c->mu);
	for (t = c->tenants; t != NULL; t = t->next)
		if (strcmp(t->id, tenant) == 0)
			break;
	if (t != NULL) {
		doc = doc_locked(t);
		copy(state, sizeof(state), t->state);
	}
	pthread_mutex_unlock(&c->mu);
	if (doc != NULL &&
	    (text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)) != NULL) {
		rc = cu_smeta_cmk_put(c->meta, tenant, text, state);
		if (rc != 0)
			cu_log(CU_LOG_ERROR, "cannot save encryption settings",
			       json_pack("{s:s,s:s}", "tenant", tenant, "error",
			                 cu_strerror(rc)));
	}
	free(text);
	json_decref(doc);
	pthread_mutex_unlock(&c->save_mu);
}

static void load_doc(struct trec *t, const char *text)
{
	json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	json_t *keys, *req, *e;
	size_t i;

	if (doc == NULL)
		return;
	t->cmk = json_is_string(json_object_get(doc, "mode")) &&
	         strcmp(json_string_value(json_object_get(doc, "mode")),
	                "customer_managed") == 0;
	copy(t->reason, sizeof(t->reason),
	     json_string_value(json_object_get(doc, "reason")));
	copy(t->message, sizeof(t->message),
	     json_string_value(json_object_get(doc, "message")));
	t->avk = json_is_true(json_object_get(doc, "availability_key"));
	t->purge_at = json_integer_value(json_object_get(doc, "purge_at"));
	t->inaccessible_since_ms =
	    json_integer_value(json_object_get(doc, "inaccessible_since_ms"));
	copy(t->prev_state, sizeof(t->prev_state),
	     json_string_value(json_object_get(doc, "prev_state")));
	keys = json_object_get(doc, "keys");
	json_array_foreach(keys, i, e)
	{
		if (i >= CU_SCMK_MAX_KEYS)
			break;
		copy(t->k[i].kid, sizeof(t->k[i].kid),
		     json_string_value(json_object_get(e, "kid")));
		copy(t->k[i].version, sizeof(t->k[i].version),
		     json_string_value(json_object_get(e, "version_in_use")));
		copy(t->k[i].status, sizeof(t->k[i].status),
		     json_string_value(json_object_get(e, "status")));
		t->k[i].alg =
		    alg_parse(json_string_value(json_object_get(e, "alg")));
		t->k[i].checked_at =
		    json_integer_value(json_object_get(e, "checked_at"));
		t->n = i + 1;
	}
	req = json_object_get(doc, "request");
	if (json_is_object(req)) {
		t->has_req = 1;
		t->req_cmk =
		    strcmp(json_string_value(json_object_get(req, "mode"))
		               ? json_string_value(json_object_get(req, "mode"))
		               : "",
		           "customer_managed") == 0;
		t->req_avk =
		    json_is_true(json_object_get(req, "availability_key"));
		json_array_foreach(json_object_get(req, "keys"), i, e)
		{
			if (i >= CU_SCMK_MAX_KEYS)
				break;
			copy(t->req_kid[i], sizeof(t->req_kid[i]),
			     json_string_value(e));
			t->req_n = i + 1;
		}
	}
	json_decref(doc);
}

/* With c->mu held: the tenant's record, made from the metadata when
 * missing; NULL when there is no such tenant. */
static struct trec *trec_locked(cu_scmk_t *c, const char *id)
{
	struct cu_smeta_tenant row;
	struct trec *t;
	char *text = NULL;

	if (id == NULL || strlen(id) > CU_SMETA_ID_MAX)
		return NULL;
	for (t = c->tenants; t != NULL; t = t->next)
		if (strcmp(t->id, id) == 0)
			return t;
	if (cu_smeta_tenant_get(c->meta, id, &row) != 0)
		return NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	copy(t->id, sizeof(t->id), id);
	copy(t->state, sizeof(t->state), row.state);
	if (cu_smeta_cmk_get(c->meta, id, &text) == 0)
		load_doc(t, text);
	free(text);
	if (t->cmk && t->n > 0) {
		char kids[CU_SCMK_MAX_KEYS][CU_VAULTC_KID_MAX + 1];
		enum cu_vaultc_alg algs[CU_SCMK_MAX_KEYS];

		for (size_t i = 0; i < t->n; i++) {
			copy(kids[i], sizeof(kids[i]), t->k[i].kid);
			algs[i] = t->k[i].alg;
		}
		/* rootset_new takes c->mu through vault_for: build the
		 * clients here first */
		for (size_t i = 0; i < t->n; i++)
			(void)vault_locked(c, kids[i]);
		pthread_mutex_unlock(&c->mu);
		t->rs = rootset_new(c, t->n, kids, algs);
		pthread_mutex_lock(&c->mu);
		if (t->rs == NULL)
			cu_log(CU_LOG_ERROR,
			       "cannot build a tenant's customer-key roots",
			       json_pack("{s:s}", "tenant", id));
	}
	/* another thread may have added it meanwhile */
	for (struct trec *o = c->tenants; o != NULL; o = o->next)
		if (strcmp(o->id, id) == 0) {
			struct rootset *rs = t->rs;

			free(t);
			if (rs != NULL) {
				pthread_mutex_unlock(&c->mu);
				rootset_unref(c, rs);
				pthread_mutex_lock(&c->mu);
			}
			return o;
		}
	t->next = c->tenants;
	c->tenants = t;
	return t;
}

/* ---- events ------------------------------------------------------- */

static void emit(cu_scmk_t *c, const char *tenant, const char *type,
                 json_t *detail)
{
	char *text = NULL;

	if (detail == NULL)
		detail = json_object();
	if (detail != NULL)
		text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
	if (text != NULL)
		(void)cu_smeta_event_add(c->meta, tenant, wall_ms(), type,
		                         text);
	cu_log(CU_LOG_INFO, "tenant encryption event",
	       json_pack("{s:s,s:s,s:s?}", "tenant", tenant, "event", type,
	                 "detail", text));
	free(text);
	json_decref(detail);
}

/* With c->mu held: a state change (counted). */
static void set_state_locked(cu_scmk_t *c, struct trec *t, const char *state)
{
	if (strcmp(t->state, state) == 0)
		return;
	/* an inaccessible tenant stays so while purge_pending counts */
	if (strcmp(state, "inaccessible") == 0)
		t->inaccessible_since_ms = wall_ms();
	else if (strcmp(state, "purge_pending") != 0 &&
	         strcmp(state, "purged") != 0)
		t->inaccessible_since_ms = 0;
	copy(t->state, sizeof(t->state), state);
	if (c->m_states != NULL)
		(void)cu_metrics_add(c->m_states, NULL, 1);
}

/* A revocation: every customer key denied. Wipes the tenant's TKs. */
static void revoke(cu_scmk_t *c, const char *tenant, const char *reason,
                   const char *kid)
{
	struct trec *t;
	int changed = 0;
	char msg[CU_SCMK_ERR_MSG];

	pthread_mutex_lock(&c->mu);
	t = trec_locked(c, tenant);
	if (t != NULL && strcmp(t->state, "inaccessible") != 0 &&
	    strcmp(t->state, "purge_pending") != 0 &&
	    strcmp(t->state, "purged") != 0) {
		msgf(msg, sizeof(msg),
		     "The vault refused the store's use of the customer "
		     "key %s (%s). Restore the store's access in your "
		     "vault; the tenant becomes active again by itself.",
		     kid, reason);
		copy(t->prev_state, sizeof(t->prev_state), t->state);
		set_state_locked(c, t, "inaccessible");
		copy(t->reason, sizeof(t->reason), reason);
		copy(t->message, sizeof(t->message), msg);
		changed = 1;
	}
	pthread_mutex_unlock(&c->mu);
	(void)cu_skeys_forget(c->keys, tenant);
	if (!changed)
		return;
	if (c->m_denials != NULL)
		(void)cu_metrics_add(c->m_denials, NULL, 1);
	cu_log(CU_LOG_WARN, "customer key denied: tenant inaccessible",
	       json_pack("{s:s,s:s,s:s}", "tenant", tenant, "kid", kid,
	                 "reason", reason));
	save(c, tenant);
	emit(c, tenant, "state_changed",
	     json_pack("{s:s,s:s,s:s,s:s}", "state", "inaccessible", "reason",
	               reason, "kid", kid, "security", "revocation"));
}

/* With c->mu held: record a key's status; 1 when it went from ok to
 * something else (a lost key). */
static int key_status_locked(struct trec *t, const char *kid,
                             const char *status, const char *version)
{
	for (size_t i = 0; i < t->n; i++) {
		int lost;

		if (strcmp(t->k[i].kid, kid) != 0)
			continue;
		lost = strcmp(t->k[i].status, "ok") == 0 &&
		       strcmp(status, "ok") != 0;
		copy(t->k[i].status, sizeof(t->k[i].status), status);
		if (version != NULL && version[0] != '\0')
			copy(t->k[i].version, sizeof(t->k[i].version), version);
		t->k[i].checked_at = wall_ms() / 1000;
		return lost;
	}
	return 0;
}

/* ---- unwrap (the keys.h callback) ---------------------------------- */

static int denied_state(const char *s)
{
	return strcmp(s, "inaccessible") == 0 ||
	       strcmp(s, "purge_pending") == 0 || strcmp(s, "purged") == 0;
}

static int unwrap_avk(cu_scmk_t *c, const char *tenant, uint32_t version,
                      unsigned char *tk)
{
	unsigned char w[WRAP_CAP];
	size_t wl = 0, n = 0;
	int rc;

	rc = cu_smeta_tk_wrap_get(c->meta, tenant, version, CU_SMETA_ROOT_AVK,
	                          w, sizeof(w), &wl);
	if (rc == 0)
		rc = c->avk.unwrap(c->avk.ctx, w, wl, tk, CU_SKEYS_KEY_LEN, &n);
	if (rc == 0 && n != CU_SKEYS_KEY_LEN)
		rc = CU_ERR_AUTH;
	if (c->m_avk != NULL && rc == 0)
		(void)cu_metrics_add(c->m_avk, NULL, 1);
	emit(c, tenant, "tk_unwrap",
	     json_pack("{s:s,s:i,s:s,s:s}", "root", "availability_key",
	               "tk_version", (int)version, "reason", "vault_outage",
	               "result", rc == 0 ? "ok" : cu_strerror(rc)));
	return rc;
}

static int tenant_unwrap(void *arg, const char *tenant, uint32_t version,
                         int avk, unsigned char *tk)
{
	cu_scmk_t *c = arg;
	struct rootset *rs = NULL;
	struct trec *t;
	char first_reason[STATUS_MAX] = "", first_kid[CU_VAULTC_KID_MAX + 1];
	int chose_avk, denial_seen, ok = 0, denied = 0, lost = 0, rc;
	size_t tried = 0;

	pthread_mutex_lock(&c->mu);
	t = trec_locked(c, tenant);
	if (t == NULL || denied_state(t->state)) {
		pthread_mutex_unlock(&c->mu);
		return CU_ERR_DENIED;
	}
	if ((rs = t->rs) == NULL) {
		pthread_mutex_unlock(&c->mu);
		return CU_ERR_NOTFOUND;
	}
	rs->refs++;
	chose_avk = t->avk && c->has_avk;
	denial_seen = t->denial_seen;
	pthread_mutex_unlock(&c->mu);
	first_kid[0] = '\0';

	if (avk) {
		/* the lease and the outage grace are over */
		if (chose_avk && !denial_seen) {
			rc = unwrap_avk(c, tenant, version, tk);
		} else {
			revoke(c, tenant, "VaultUnreachable", rs->kid[0]);
			rc = CU_ERR_DENIED;
		}
		goto out;
	}
	for (size_t i = 0; i < rs->n && !ok; i++) {
		unsigned char w[WRAP_CAP];
		struct cu_vaultc_result res = {0};
		char ver[CU_VAULTC_VERSION_LEN + 1] = "";
		const char *status;
		size_t wl = 0, n = 0;
		int r;

		r = cu_smeta_tk_wrap_get(c->meta, tenant, version, rs->kid[i],
		                         w, sizeof(w), &wl);
		if (r != 0)
			continue;
		tried++;
		r = rs->ck[i].unwrap(rs->ck[i].ctx, w, wl, tk, CU_SKEYS_KEY_LEN,
		                     &n);
		(void)cu_vroot_last(&rs->ck[i], &res, ver);
		if (r == 0 && n == CU_SKEYS_KEY_LEN) {
			ok = 1;
			status = "ok";
		} else {
			status = cu_vaultc_reason_name(res.reason);
			if (r == CU_ERR_AUTH)
				denied++;
			if (first_reason[0] == '\0') {
				copy(first_reason, sizeof(first_reason),
				     status);
				copy(first_kid, sizeof(first_kid), rs->kid[i]);
			}
		}
		pthread_mutex_lock(&c->mu);
		lost |= key_status_locked(t, rs->kid[i], status, ver);
		if (ok)
			t->denial_seen = 0;
		pthread_mutex_unlock(&c->mu);
		emit(c, tenant, "tk_unwrap",
		     json_pack("{s:s,s:s,s:i,s:s,s:s}", "kid", rs->kid[i],
		               "key_version", ver, "tk_version", (int)version,
		               "reason", "lease", "result", status));
	}
	if (lost)
		emit(c, tenant, "key_lost",
		     json_pack("{s:s,s:s,s:s}", "kid", first_kid, "status",
		               first_reason, "security", "key_lost"));
	if (ok) {
		rc = 0;
	} else if (tried > 0 && (size_t)denied == tried) {
		revoke(c, tenant, first_reason, first_kid);
		rc = CU_ERR_DENIED;
	} else {
		pthread_mutex_lock(&c->mu);
		t->denial_seen = denied > 0;
		pthread_mutex_unlock(&c->mu);
		rc = tried > 0 ? CU_ERR_UNAVAILABLE : CU_ERR_NOTFOUND;
	}
out:
	if (rc != 0)
		cu_memzero(tk, CU_SKEYS_KEY_LEN);
	if (ok || (avk && rc == 0))
		save(c, tenant);
	rootset_unref(c, rs);
	return rc;
}

/* ---- re-wrap ------------------------------------------------------ */

/* Re-wrap every TK version of tenant under cks (n; none: to the system
 * key) and the AvK when avk; versions[i] gets the version each customer
 * key wrapped with. Fills err on failure. */
static int rewrap(cu_scmk_t *c, const char *tenant, struct rootset *rs, int avk,
                  char versions[][CU_VAULTC_VERSION_LEN + 1],
                  struct cu_scmk_error *err)
{
	uint32_t *vers = NULL;
	struct cu_smeta_wrap *w = NULL;
	unsigned char *bufs = NULL, *tk = NULL;
	size_t nv = 0, per, nw = 0;
	int rc;

	per = rs != NULL ? rs->n + (avk ? 1 : 0) : 1;
	rc = CU_ERR_NOMEM;
	if ((vers = calloc(MAX_VERSIONS, sizeof(*vers))) == NULL ||
	    (tk = cu_secmem_alloc(CU_SKEYS_KEY_LEN)) == NULL)
		goto out;
	if ((rc = cu_smeta_tk_versions(c->meta, tenant, vers, MAX_VERSIONS,
	                               &nv)) != 0) {
		set_err(err, 500, "InternalError",
		        "The tenant's key versions cannot be read.");
		goto out;
	}
	rc = CU_ERR_NOMEM;
	if ((w = calloc(nv * per + 1, sizeof(*w))) == NULL ||
	    (bufs = calloc(nv * per + 1, WRAP_CAP)) == NULL)
		goto out;
	for (size_t j = 0; j < nv; j++) {
		if ((rc = cu_skeys_tk_plain(c->keys, tenant, vers[j], tk)) !=
		    0) {
			set_err(err, 409, "TenantKeyUnavailable",
			        "The tenant key cannot be unwrapped under the "
			        "roots now in force (is the current key "
			        "accessible?); nothing was changed.");
			goto out;
		}
		for (size_t i = 0; i < per; i++) {
			unsigned char *b = bufs + nw * WRAP_CAP;
			size_t len = 0;

			if (rs == NULL) {
				rc = cu_skeys_sk_wrap(c->keys, tk, b, WRAP_CAP,
				                      &len);
				w[nw].root = CU_SMETA_ROOT_SYSTEM;
			} else if (i < rs->n) {
				struct cu_vaultc_result res = {0};

				rc = rs->ck[i].wrap(rs->ck[i].ctx, tk,
				                    CU_SKEYS_KEY_LEN, b,
				                    WRAP_CAP, &len);
				(void)cu_vroot_last(&rs->ck[i], &res,
				                    versions[i]);
				w[nw].root = rs->kid[i];
				if (rc != 0) {
					char m[CU_SCMK_ERR_MSG];

					msgf(m, sizeof(m),
					     "Wrapping the tenant key under "
					     "%s failed: %s. Nothing was "
					     "changed.",
					     rs->kid[i],
					     cu_vaultc_reason_name(res.reason));
					set_err(err, 409,
					        rc == CU_ERR_AUTH
					            ? "PermissionDenied"
					            : "VaultUnreachable",
					        m);
					goto out;
				}
			} else {
				rc = c->avk.wrap(c->avk.ctx, tk,
				                 CU_SKEYS_KEY_LEN, b, WRAP_CAP,
				                 &len);
				w[nw].root = CU_SMETA_ROOT_AVK;
			}
			if (rc != 0) {
				set_err(err, 500, "InternalError",
				        "The tenant key could not be wrapped.");
				goto out;
			}
			w[nw].version = vers[j];
			w[nw].wrapped = b;
			w[nw].len = len;
			nw++;
		}
		cu_memzero(tk, CU_SKEYS_KEY_LEN);
	}
	if ((rc = cu_smeta_tk_set_wraps(c->meta, tenant, w, nw)) != 0)
		set_err(err, 500, "InternalError",
		        "The new wraps could not be stored.");
out:
	if (rc == CU_ERR_NOMEM)
		set_err(err, 500, "InternalError", "Out of memory.");
	cu_secmem_free(tk, CU_SKEYS_KEY_LEN);
	free(vers);
	free(w);
	free(bufs);
	return rc;
}

/* ---- the worker's duties ------------------------------------------ */

static void process_request(cu_scmk_t *c, const char *tenant)
{
	char kids[CU_SCMK_MAX_KEYS][CU_VAULTC_KID_MAX + 1];
	char versions[CU_SCMK_MAX_KEYS][CU_VAULTC_VERSION_LEN + 1];
	enum cu_vaultc_alg algs[CU_SCMK_MAX_KEYS];
	struct cu_scmk_error err = {0};
	struct rootset *rs = NULL, *old = NULL;
	struct trec *t;
	size_t n;
	int to_cmk, avk, rc = 0;

	memset(versions, 0, sizeof(versions));
	pthread_mutex_lock(&c->mu);
	t = trec_locked(c, tenant);
	if (t == NULL || !t->has_req) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	to_cmk = t->req_cmk;
	avk = t->req_avk;
	n = t->req_n;
	for (size_t i = 0; i < n; i++)
		copy(kids[i], sizeof(kids[i]), t->req_kid[i]);
	pthread_mutex_unlock(&c->mu);

	if (to_cmk) {
		for (size_t i = 0; i < n; i++) {
			struct cu_cmkcheck_result res;
			cu_vaultc_t *v = vault_for(c, kids[i]);
			char m[CU_SCMK_ERR_MSG];

			if (v == NULL) {
				msgf(m, sizeof(m),
				     "No client for the vault of %s.", kids[i]);
				set_err(&err, 0, "VaultUnreachable", m);
				rc = CU_ERR_UNAVAILABLE;
				break;
			}
			memset(&res, 0, sizeof(res));
			rc = cu_cmkcheck_run(v, kids[i], CU_SCMK_PRINCIPAL, 0,
			                     &res);
			if (rc != 0) {
				msgf(m, sizeof(m), "%s: %s", kids[i],
				     res.message);
				set_err(&err, 0, res.code, m);
				break;
			}
			algs[i] = res.alg;
		}
		if (rc == 0 && (rs = rootset_new(c, n, kids, algs)) == NULL) {
			set_err(&err, 0, "InternalError",
			        "The customer-key roots could not be built.");
			rc = CU_ERR_NOMEM;
		}
	}
	if (rc == 0)
		rc = rewrap(c, tenant, rs, to_cmk && avk, versions, &err);

	pthread_mutex_lock(&c->mu);
	t->has_req = 0;
	if (rc != 0) {
		/* the previous root stays in force */
		set_state_locked(c, t, "failed");
		copy(t->reason, sizeof(t->reason), err.code);
		copy(t->message, sizeof(t->message), err.message);
	} else {
		old = t->rs;
		t->rs = rs;
		rs = NULL;
		t->cmk = to_cmk;
		t->avk = to_cmk && avk;
		t->n = to_cmk ? n : 0;
		t->denial_seen = 0;
		for (size_t i = 0; i < t->n; i++) {
			memset(&t->k[i], 0, sizeof(t->k[i]));
			copy(t->k[i].kid, sizeof(t->k[i].kid), kids[i]);
			copy(t->k[i].version, sizeof(t->k[i].version),
			     versions[i]);
			copy(t->k[i].status, sizeof(t->k[i].status), "ok");
			t->k[i].alg = algs[i];
			t->k[i].checked_at = wall_ms() / 1000;
		}
		set_state_locked(c, t, to_cmk ? "active" : "system_managed");
		t->reason[0] = '\0';
		t->message[0] = '\0';
		t->next_check_ms = now_ms() + (int64_t)c->check_s * 1000;
	}
	pthread_mutex_unlock(&c->mu);
	rootset_unref(c, old);
	rootset_unref(c, rs);
	save(c, tenant);
	if (rc != 0)
		emit(c, tenant, "state_changed",
		     json_pack("{s:s,s:s,s:s}", "state", "failed", "reason",
		               err.code ? err.code : "", "message",
		               err.message));
	else
		emit(c, tenant, "state_changed",
		     json_pack("{s:s,s:s}", "state",
		               to_cmk ? "active" : "system_managed", "reason",
		               "root changed: tenant key versions re-wrapped"));
}

/* Re-check the tenant's customer keys: revocation, restore, new
 * versions of keys that follow the latest. */
static void check_tenant(cu_scmk_t *c, const char *tenant)
{
	char kids[CU_SCMK_MAX_KEYS][CU_VAULTC_KID_MAX + 1];
	char inuse[CU_SCMK_MAX_KEYS][CU_VAULTC_VERSION_LEN + 1];
	char status[CU_SCMK_MAX_KEYS][STATUS_MAX];
	char latest[CU_SCMK_MAX_KEYS][CU_VAULTC_VERSION_LEN + 1];
	struct rootset *rs;
	struct trec *t;
	size_t n, ok = 0, denied = 0;
	int inaccessible, lost = 0, rotate = 0;
	int64_t now = wall_ms() / 1000;

	pthread_mutex_lock(&c->mu);
	t = trec_locked(c, tenant);
	if (t == NULL || !t->cmk || t->rs == NULL ||
	    strcmp(t->state, "purge_pending") == 0 ||
	    strcmp(t->state, "purged") == 0) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	rs = t->rs;
	rs->refs++;
	n = t->n < rs->n ? t->n : rs->n;
	for (size_t i = 0; i < n; i++) {
		copy(kids[i], sizeof(kids[i]), t->k[i].kid);
		copy(inuse[i], sizeof(inuse[i]), t->k[i].version);
	}
	inaccessible = strcmp(t->state, "inaccessible") == 0;
	pthread_mutex_unlock(&c->mu);

	for (size_t i = 0; i < n; i++) {
		struct cu_vaultc_key key;
		struct cu_vaultc_result res = {0};
		struct cu_vaultc_kid pk;
		cu_vaultc_t *v = vault_for(c, kids[i]);
		int r = v != NULL ? cu_vaultc_get_key(v, kids[i], &key, &res)
		                  : CU_ERR_UNAVAILABLE;
		const char *s;

		latest[i][0] = '\0';
		if (r == 0 && !key.enabled)
			s = "KeyDisabled";
		else if (r == 0 && key.exp != 0 && key.exp <= now)
			s = "KeyExpired";
		else if (r == 0 && key.nbf != 0 && key.nbf > now)
			s = "KeyNotYetValid";
		else if (r == 0)
			s = "ok";
		else
			s = cu_vaultc_reason_name(res.reason);
		if (r == 0 && strcmp(s, "ok") == 0) {
			ok++;
			copy(latest[i], sizeof(latest[i]), key.version);
			if (cu_vaultc_kid_parse(kids[i], strlen(kids[i]),
			                        &pk) == 0 &&
			    pk.version[0] == '\0' && inuse[i][0] != '\0' &&
			    strcmp(inuse[i], key.version) != 0)
				rotate = 1;
		} else if (r == 0 || cu_vaultc_is_denial(res.reason)) {
			denied++;
		}
		copy(status[i], sizeof(status[i]), s);
	}
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < n; i++)
		lost |= key_status_locked(t, kids[i], status[i], NULL);
	pthread_mutex_unlock(&c->mu);
	if (lost && ok > 0)
		emit(c, tenant, "key_lost",
		     json_pack("{s:s,s:s}", "detail",
		               "a customer key is no longer usable; the "
		               "tenant stays active on the other",
		               "security", "key_lost"));
	if (n > 0 && denied == n) {
		size_t i = 0;

		revoke(c, tenant, status[i], kids[i]);
	} else if (ok > 0 && inaccessible) {
		/* restore: a real unwrap through the keys must work */
		pthread_mutex_lock(&c->mu);
		t->denial_seen = 0;
		set_state_locked(c, t,
		                 t->prev_state[0] != '\0' &&
		                         strcmp(t->prev_state, "failed") == 0
		                     ? "failed"
		                     : "active");
		if (strcmp(t->state, "active") == 0) {
			t->reason[0] = '\0';
			t->message[0] = '\0';
		}
		pthread_mutex_unlock(&c->mu);
		if (cu_skeys_tk_touch(c->keys, tenant) != 0) {
			pthread_mutex_lock(&c->mu);
			set_state_locked(c, t, "inaccessible");
			pthread_mutex_unlock(&c->mu);
		} else {
			save(c, tenant);
			emit(c, tenant, "state_changed",
			     json_pack("{s:s,s:s}", "state", "active", "reason",
			               "access restored"));
		}
	} else {
		save(c, tenant);
	}
	if (rotate && ok > 0) {
		struct cu_scmk_error err = {0};
		char versions[CU_SCMK_MAX_KEYS][CU_VAULTC_VERSION_LEN + 1];
		int avk;

		memset(versions, 0, sizeof(versions));
		pthread_mutex_lock(&c->mu);
		avk = t->avk;
		pthread_mutex_unlock(&c->mu);
		if (rewrap(c, tenant, rs, avk, versions, &err) == 0) {
			pthread_mutex_lock(&c->mu);
			for (size_t i = 0; i < n; i++)
				if (versions[i][0] != '\0')
					copy(t->k[i].version,
					     sizeof(t->k[i].version),
					     versions[i]);
			pthread_mutex_unlock(&c->mu);
			save(c, tenant);
			emit(c, tenant, "key_version_picked_up",
			     json_pack("{s:s,s:s}", "kid", kids[0], "version",
			               versions[0]));
		}
	}
	rootset_unref(c, rs);
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static void finish_purge(cu_scmk_t *c, const char *tenant)
{
	struct rootset *old = NULL;
	struct trec *t;
	char dir[4096];
	int rc;

	(void)cu_skeys_forget(c->keys, tenant);
	rc = cu_smeta_tenant_shred(c->meta, tenant);
	if (rc != 0) {
		cu_log(CU_LOG_ERROR, "purge failed; retrying",
		       json_pack("{s:s,s:s}", "tenant", tenant, "error",
		                 cu_strerror(rc)));
		return;
	}
	if ((size_t)snprintf(dir, sizeof(dir), "%s/objects/%s", c->data_dir,
	                     tenant) < sizeof(dir))
		(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	pthread_mutex_lock(&c->mu);
	t = trec_locked(c, tenant);
	if (t != NULL) {
		set_state_locked(c, t, "purged");
		old = t->rs;
		t->rs = NULL;
		t->reason[0] = '\0';
		copy(t->message, sizeof(t->message),
		     "Every wrapped copy of every tenant key was destroyed; "
		     "the tenant's data is unreadable for good.");
	}
	pthread_mutex_unlock(&c->mu);
	rootset_unref(c, old);
	save(c, tenant);
	emit(c, tenant, "state_changed",
	     json_pack("{s:s,s:s}", "state", "purged", "security", "purge"));
}

/* The operator's policy: a tenant locked out for too long is purged
 * (after the usual grace, which its admin may use to cancel). */
static void lockout_purge(cu_scmk_t *c, const char *tenant)
{
	struct trec *t;
	int64_t at = 0;

	pthread_mutex_lock(&c->mu);
	t = trec_locked(c, tenant);
	if (t != NULL && strcmp(t->state, "inaccessible") == 0) {
		at = wall_ms() / 1000 + c->purge_grace_s;
		copy(t->prev_state, sizeof(t->prev_state), t->state);
		t->purge_at = at;
		set_state_locked(c, t, "purge_pending");
	}
	pthread_mutex_unlock(&c->mu);
	if (at == 0)
		return;
	save(c, tenant);
	emit(c, tenant, "state_changed",
	     json_pack("{s:s,s:I,s:s,s:s}", "state", "purge_pending",
	               "purge_at", (json_int_t)at, "reason",
	               "inaccessible for longer than the operator allows",
	               "security", "purge"));
}

void cu_scmk_tick(cu_scmk_t *c)
{
	char(*ids)[CU_SMETA_ID_MAX + 1] = NULL;
	int *what = NULL;
	size_t n = 0, cap = 0;
	int64_t mono = now_ms(), wall = wall_ms() / 1000;

	pthread_mutex_lock(&c->mu);
	for (struct trec *t = c->tenants; t != NULL; t = t->next)
		cap++;
	if (cap > 0) {
		ids = calloc(cap, sizeof(*ids));
		what = calloc(cap, sizeof(*what));
	}
	for (struct trec *t = c->tenants;
	     t != NULL && ids != NULL && what != NULL; t = t->next) {
		int w = 0;

		if (t->has_req)
			w = 1;
		else if (strcmp(t->state, "purge_pending") == 0 &&
		         wall >= t->purge_at)
			w = 2;
		else if (t->cmk && !denied_state(t->state) &&
		         mono >= t->next_check_ms)
			w = 3;
		else if (strcmp(t->state, "inaccessible") == 0 &&
		         c->lockout_purge_s > 0 &&
		         t->inaccessible_since_ms != 0 &&
		         (double)(wall * 1000 - t->inaccessible_since_ms) >=
		             c->lockout_purge_s * 1000)
			w = 4;
		else if (strcmp(t->state, "inaccessible") == 0 &&
		         mono >= t->next_check_ms)
			w = 3;
		if (w == 3)
			t->next_check_ms = mono + (int64_t)c->check_s * 1000;
		if (w != 0) {
			copy(ids[n], sizeof(ids[n]), t->id);
			what[n++] = w;
		}
	}
	pthread_mutex_unlock(&c->mu);
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&c->op_mu);
		if (what[i] == 1)
			process_request(c, ids[i]);
		else if (what[i] == 2)
			finish_purge(c, ids[i]);
		else if (what[i] == 4)
			lockout_purge(c, ids[i]);
		else
			check_tenant(c, ids[i]);
		pthread_mutex_unlock(&c->op_mu);
	}
	free(ids);
	free(what);
}

static void *worker(void *arg)
{
	cu_scmk_t *c = arg;
	struct timespec until;

	pthread_mutex_lock(&c->mu);
	while (!c->stopping) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!c->stopping && !c->kick &&
		       pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
			;
		c->kick = 0;
		if (c->stopping)
			break;
		pthread_mutex_unlock(&c->mu);
		cu_scmk_tick(c);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static void kick(cu_scmk_t *c)
{
	pthread_mutex_lock(&c->mu);
	c->kick = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* ---- the vaults' event streams (DESIGN.md section 6) -------------- */

static int stopping(cu_scmk_t *c)
{
	int s;

	pthread_mutex_lock(&c->mu);
	s = c->stopping;
	pthread_mutex_unlock(&c->mu);
	return s;
}

/* An event of vault v: re-check at once every customer-managed tenant
 * with a key in v that the event is about (a key event of that key, or
 * a role event naming the store). Returns how many were marked. */
static size_t on_event(cu_scmk_t *c, cu_vaultc_t *v,
                       const struct cu_vaultc_event *ev)
{
	const char *origin = cu_vaultc_origin(v);
	int role = strncmp(ev->type, "role_", 5) == 0;
	size_t n = 0;

	if (role && strcmp(ev->principal, CU_SCMK_PRINCIPAL) != 0)
		return 0;
	pthread_mutex_lock(&c->mu);
	for (struct trec *t = c->tenants; t != NULL; t = t->next) {
		for (size_t i = 0; t->cmk && i < t->n; i++) {
			struct cu_vaultc_kid k;

			if (cu_vaultc_kid_parse(t->k[i].kid,
			                        strlen(t->k[i].kid), &k) != 0 ||
			    strcmp(k.origin, origin) != 0)
				continue;
			if (role || ev->key[0] == '\0' ||
			    strcasecmp(ev->key, k.name) == 0) {
				t->next_check_ms = 0;
				n++;
				break;
			}
		}
	}
	if (n > 0) {
		c->kick = 1;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* One thread per tenant vault: follow its key events by long-poll,
 * resuming by sequence number; on any failure wait a second and retry
 * (meanwhile the periodic check at lease expiry is the fallback). */
static void *subscribe(void *arg)
{
	struct vclient *e = arg;
	cu_scmk_t *c = e->c;
	int64_t since = -1;

	while (!stopping(c)) {
		struct cu_vaultc_event *ev = NULL;
		struct cu_vaultc_result res = {0};
		size_t n = 0;
		int64_t last = 0;
		int r;

		if (since < 0) {
			/* start at the end: only what happens from now on */
			r = cu_vaultc_events(e->v, 0, 0, 1000, &ev, &n, &last,
			                     &res);
			cu_vaultc_events_free(ev);
			if (r == 0 && n < 1000)
				since = last;
			else if (r == 0)
				continue;
		} else {
			r = cu_vaultc_events(e->v, since, EVENTS_WAIT, 100, &ev,
			                     &n, &last, &res);
			for (size_t i = 0; r == 0 && i < n; i++)
				(void)on_event(c, e->v, &ev[i]);
			cu_vaultc_events_free(ev);
			if (r == 0 && last > since)
				since = last;
		}
		if (r != 0) {
			/* pace the retries; stop promptly */
			for (int i = 0; i < 10 && !stopping(c); i++) {
				struct timespec ts = {0, 100 * 1000000L};

				nanosleep(&ts, NULL);
			}
		}
	}
	return NULL;
}

/* ---- life cycle --------------------------------------------------- */

static void preload(cu_scmk_t *c);

static char *dup_or_null(const char *s, int *fail)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*fail = 1;
	return d;
}

int cu_scmk_new(const struct cu_scmk_config *cfg, cu_scmk_t **out)
{
	cu_scmk_t *c = NULL;
	int rc = CU_ERR_INVAL, fail = 0;

	if (out == NULL)
		return CU_ERR_INVAL;
	*out = NULL;
	if (cfg == NULL || cfg->meta == NULL || cfg->keys == NULL ||
	    cfg->data_dir == NULL)
		return CU_ERR_INVAL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		if (cfg->availability_root != NULL &&
		    cfg->availability_root->free != NULL) {
			cfg->availability_root->free(
			    cfg->availability_root->ctx);
			memset(cfg->availability_root, 0,
			       sizeof(*cfg->availability_root));
		}
		return CU_ERR_NOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->op_mu, NULL);
	pthread_mutex_init(&c->save_mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->meta = cfg->meta;
	c->keys = cfg->keys;
	c->data_dir = dup_or_null(cfg->data_dir, &fail);
	c->ca = dup_or_null(cfg->vault_ca_file, &fail);
	c->cert = dup_or_null(cfg->client_cert_file, &fail);
	c->key = dup_or_null(cfg->client_key_file, &fail);
	c->outage_grace_s = cfg->outage_grace_s;
	c->purge_grace_s =
	    cfg->purge_grace_s ? cfg->purge_grace_s : CU_SCMK_DEFAULT_PURGE;
	c->check_s = cfg->check_s ? cfg->check_s : CU_SCMK_DEFAULT_CHECK;
	c->refuse_revert = cfg->refuse_revert;
	c->no_events = cfg->no_events;
	c->lockout_purge_s = cfg->lockout_purge_s;
	c->sk_kid = dup_or_null(cfg->system_key_kid, &fail);
	rc = CU_ERR_NOMEM;
	if (cfg->availability_root != NULL) {
		/* taken, even when this fails */
		c->avk = *cfg->availability_root;
		memset(cfg->availability_root, 0,
		       sizeof(*cfg->availability_root));
		c->has_avk = 1;
	}
	if (fail)
		goto out;
	if (cfg->metrics != NULL &&
	    ((rc = cu_metrics_register(
	          cfg->metrics, CU_METRIC_COUNTER,
	          "custos_store_cmk_denials_total",
	          "Tenants made inaccessible by a customer key denial", NULL, 0,
	          NULL, 0, 1, &c->m_denials)) != 0 ||
	     (rc = cu_metrics_register(cfg->metrics, CU_METRIC_COUNTER,
	                               "custos_store_cmk_state_changes_total",
	                               "Tenant encryption state changes", NULL,
	                               0, NULL, 0, 1, &c->m_states)) != 0 ||
	     (rc = cu_metrics_register(
	          cfg->metrics, CU_METRIC_COUNTER,
	          "custos_store_cmk_availability_unwraps_total",
	          "Tenant keys unwrapped with the availability key", NULL, 0,
	          NULL, 0, 1, &c->m_avk)) != 0))
		goto out;
	if (c->m_denials != NULL) {
		(void)cu_metrics_add(c->m_denials, NULL, 0);
		(void)cu_metrics_add(c->m_states, NULL, 0);
		(void)cu_metrics_add(c->m_avk, NULL, 0);
	}
	preload(c);
	cu_skeys_set_outage_grace(c->keys, c->outage_grace_s);
	cu_skeys_set_tenant_unwrap(c->keys, tenant_unwrap, c);
	if (pthread_create(&c->worker, NULL, worker, c) != 0) {
		cu_skeys_set_tenant_unwrap(c->keys, NULL, NULL);
		rc = CU_ERR_NOMEM;
		goto out;
	}
	pthread_mutex_lock(&c->mu);
	c->running = 1;
	for (struct vclient *v = c->vaults; v != NULL; v = v->next)
		if (v->wanted && !v->started && !c->no_events &&
		    pthread_create(&v->th, NULL, subscribe, v) == 0)
			v->started = 1;
	pthread_mutex_unlock(&c->mu);
	*out = c;
	c = NULL;
	rc = 0;
out:
	cu_scmk_free(c);
	return rc;
}

/* Load every tenant's record (the worker must see pending requests and
 * purges after a restart). Done lazily on the first tick otherwise. */
static int preload_cb(void *arg, const struct cu_smeta_tenant *t)
{
	char(*ids)[CU_SMETA_ID_MAX + 1] = ((void **)arg)[0];
	size_t *n = ((void **)arg)[1];

	if (*n < 1024)
		copy(ids[(*n)++], CU_SMETA_ID_MAX + 1, t->id);
	return 0;
}

static void preload(cu_scmk_t *c)
{
	char(*ids)[CU_SMETA_ID_MAX + 1] = calloc(1024, sizeof(*ids));
	size_t n = 0;
	void *arg[2] = {ids, &n};

	if (ids == NULL)
		return;
	(void)cu_smeta_tenant_list(c->meta, preload_cb, arg);
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < n; i++)
		(void)trec_locked(c, ids[i]);
	pthread_mutex_unlock(&c->mu);
	free(ids);
}

void cu_scmk_free(cu_scmk_t *c)
{
	struct trec *t, *tn;
	struct vclient *v, *vn;

	if (c == NULL)
		return;
	if (c->running) {
		pthread_mutex_lock(&c->mu);
		c->stopping = 1;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->worker, NULL);
		cu_skeys_set_tenant_unwrap(c->keys, NULL, NULL);
	}
	pthread_mutex_lock(&c->mu);
	c->stopping = 1;
	pthread_mutex_unlock(&c->mu);
	for (v = c->vaults; v != NULL; v = v->next)
		if (v->started)
			pthread_join(v->th, NULL);
	for (t = c->tenants; t != NULL; t = tn) {
		tn = t->next;
		rootset_unref(c, t->rs);
		free(t);
	}
	for (v = c->vaults; v != NULL; v = vn) {
		vn = v->next;
		cu_vaultc_free(v->v);
		free(v);
	}
	if (c->has_avk && c->avk.free != NULL)
		c->avk.free(c->avk.ctx);
	free(c->data_dir);
	free(c->sk_kid);
	free(c->ca);
	free(c->cert);
	free(c->key);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->op_mu);
	pthread_mutex_destroy(&c->save_mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

/* ---- the admin API's calls ---------------------------------------- */

static int kid_ok(const char *s)
{
	struct cu_vaultc_kid k;

	return s != NULL && cu_vaultc_kid_parse(s, strlen(s), &k) == 0;
}

int cu_scmk_parse_request(const json_t *body, int have_avk,
                          struct cu_scmk_req *out, struct cu_scmk_error *err)
{
	const char *mode, *k;
	json_t *keys, *avk, *e;
	size_t n = 0, i;
	int to_cmk, want_avk = 0;

	memset(out, 0, sizeof(*out));

	if (!json_is_object(body)) {
		set_err(err, 400, "InvalidEncryptionRequest",
		        "Expected a JSON object.");
		return CU_ERR_INVAL;
	}
	json_object_foreach((json_t *)body, k, e)
	{
		if (strcmp(k, "mode") != 0 && strcmp(k, "keys") != 0 &&
		    strcmp(k, "availability_key") != 0) {
			set_err(
			    err, 400, "InvalidEncryptionRequest",
			    "Unknown field: expected \"mode\", \"keys\" and "
			    "\"availability_key\".");
			return CU_ERR_INVAL;
		}
	}
	mode = json_string_value(json_object_get(body, "mode"));
	if (mode == NULL || (strcmp(mode, "customer_managed") != 0 &&
	                     strcmp(mode, "system_managed") != 0)) {
		set_err(err, 400, "InvalidEncryptionRequest",
		        "\"mode\" is \"customer_managed\" or "
		        "\"system_managed\".");
		return CU_ERR_INVAL;
	}
	to_cmk = strcmp(mode, "customer_managed") == 0;
	keys = json_object_get(body, "keys");
	avk = json_object_get(body, "availability_key");
	if (avk != NULL && !json_is_boolean(avk)) {
		set_err(err, 400, "InvalidEncryptionRequest",
		        "\"availability_key\" is true or false.");
		return CU_ERR_INVAL;
	}
	want_avk = json_is_true(avk);
	if (!to_cmk && (keys != NULL || want_avk)) {
		set_err(err, 400, "InvalidEncryptionRequest",
		        "System-managed mode takes no keys.");
		return CU_ERR_INVAL;
	}
	if (to_cmk) {
		if (!json_is_array(keys) || json_array_size(keys) < 1 ||
		    json_array_size(keys) > CU_SCMK_MAX_KEYS) {
			set_err(err, 400, "InvalidEncryptionRequest",
			        "\"keys\" is an array of one or two "
			        "{\"kid\": "
			        "\"https://VAULT/keys/NAME[/VERSION]\"}.");
			return CU_ERR_INVAL;
		}
		json_array_foreach(keys, i, e)
		{
			const char *kid =
			    json_string_value(json_object_get(e, "kid"));

			if (!json_is_object(e) || json_object_size(e) != 1 ||
			    !kid_ok(kid)) {
				set_err(
				    err, 400, "InvalidKeyIdentifier",
				    "Each key is {\"kid\": "
				    "\"https://VAULT/keys/NAME[/VERSION]\"} "
				    "with an https vault URL.");
				return CU_ERR_INVAL;
			}
			copy(out->kid[n], sizeof(out->kid[n]), kid);
			for (size_t j = 0; j < n; j++)
				if (strcmp(out->kid[j], out->kid[n]) == 0) {
					set_err(err, 400,
					        "InvalidKeyIdentifier",
					        "The two keys must differ.");
					return CU_ERR_INVAL;
				}
			n++;
		}
		if (want_avk && !have_avk) {
			set_err(err, 400, "AvailabilityKeyNotConfigured",
			        "This store has no availability key.");
			return CU_ERR_INVAL;
		}
	}
	out->customer_managed = to_cmk;
	out->availability_key = want_avk;
	out->n = n;
	return 0;
}

int cu_scmk_request(cu_scmk_t *c, const char *tenant, const json_t *body,
                    struct cu_scmk_error *err)
{
	struct cu_scmk_req rq;
	struct trec *t;
	size_t i;
	int rc;

	if ((rc = cu_scmk_parse_request(body, c->has_avk, &rq, err)) != 0)
		return rc;
	pthread_mutex_lock(&c->mu);
	t = trec_locked(c, tenant);
	if (t == NULL) {
		pthread_mutex_unlock(&c->mu);
		set_err(err, 404, "TenantNotFound", "No such tenant.");
		return CU_ERR_NOTFOUND;
	}
	if (t->has_req || strcmp(t->state, "pending") == 0) {
		pthread_mutex_unlock(&c->mu);
		set_err(err, 409, "EncryptionChangeInProgress",
		        "A change is being validated; wait until the state is "
		        "no longer \"pending\".");
		return CU_ERR_STATE;
	}
	if (strcmp(t->state, "purge_pending") == 0 ||
	    strcmp(t->state, "purged") == 0) {
		pthread_mutex_unlock(&c->mu);
		set_err(err, 409, "TenantPurged",
		        "The tenant is being or has been purged.");
		return CU_ERR_STATE;
	}
	if (!rq.customer_managed && t->cmk && c->refuse_revert) {
		pthread_mutex_unlock(&c->mu);
		set_err(err, 409, "RevertNotAllowed",
		        "This store's policy does not allow going back to "
		        "system-managed keys.");
		return CU_ERR_DENIED;
	}
	t->has_req = 1;
	t->req_cmk = rq.customer_managed;
	t->req_avk = rq.availability_key;
	t->req_n = rq.n;
	for (i = 0; i < rq.n; i++)
		copy(t->req_kid[i], sizeof(t->req_kid[i]), rq.kid[i]);
	copy(t->prev_state, sizeof(t->prev_state), t->state);
	set_state_locked(c, t, "pending");
	t->reason[0] = '\0';
	t->message[0] = '\0';
	pthread_mutex_unlock(&c->mu);
	save(c, tenant);
	emit(c, tenant, "state_changed",
	     json_pack("{s:s,s:s}", "state", "pending", "requested",
	               rq.customer_managed ? "customer_managed"
	                                   : "system_managed"));
	kick(c);
	return 0;
}

json_t *cu_scmk_status(cu_scmk_t *c, const char *tenant)
{
	unsigned char w[CU_SKEYS_WRAPPED_MAX];
	struct trec *t;
	json_t *doc = NULL;
	uint32_t tkv = 0;
	size_t wl;

	pthread_mutex_lock(&c->mu);
	t = trec_locked(c, tenant);
	if (t != NULL)
		doc = doc_locked(t);
	pthread_mutex_unlock(&c->mu);
	if (doc == NULL)
		return NULL;
	if (cu_smeta_tk_get(c->meta, tenant, 0, w, sizeof(w), &wl, &tkv) != 0)
		tkv = 0;
	json_object_set_new(doc, "tenant_key_version", json_integer(tkv));
	json_object_set_new(doc, "lease_seconds",
	                    json_integer(cu_skeys_lease_seconds(c->keys)));
	json_object_set_new(doc, "outage_grace_seconds",
	                    json_integer(c->outage_grace_s));
	json_object_del(doc, "prev_state");
	if (json_integer_value(json_object_get(doc, "purge_at")) == 0)
		json_object_del(doc, "purge_at");
	/* the key entries' "alg" is internal */
	{
		size_t i;
		json_t *e;

		json_array_foreach(json_object_get(doc, "keys"), i, e)
		    json_object_del(e, "alg");
	}
	return doc;
}

int cu_scmk_check(cu_scmk_t *c, const char *tenant, struct cu_scmk_error *err)
{
	struct trec *t;
	int cmk;

	pthread_mutex_lock(&c->mu);
	t = trec_locked(c, tenant);
	cmk = t != NULL && t->cmk;
	pthread_mutex_unlock(&c->mu);
	if (t == NULL) {
		set_err(err, 404, "TenantNotFound", "No such tenant.");
		return CU_ERR_NOTFOUND;
	}
	if (!cmk) {
		set_err(err, 409, "NotCustomerManaged",
		        "The tenant is not on customer-managed keys.");
		return CU_ERR_STATE;
	}
	pthread_mutex_lock(&c->op_mu);
	check_tenant(c, tenant);
	pthread_mutex_unlock(&c->op_mu);
	return 0;
}

int cu_scmk_roll(cu_scmk_t *c, const char *tenant, uint32_t *version,
                 struct cu_scmk_error *err)
{
	unsigned char w[CU_SKEYS_WRAPPED_MAX], *tk = NULL, *bufs = NULL;
	struct cu_smeta_wrap wr[CU_SCMK_MAX_KEYS + 1];
	struct rootset *rs = NULL;
	struct trec *t;
	uint32_t latest = 0;
	size_t wl = 0, nw = 0;
	int rc, avk = 0;

	pthread_mutex_lock(&c->op_mu);
	pthread_mutex_lock(&c->mu);
	t = trec_locked(c, tenant);
	if (t != NULL && (rs = t->rs) != NULL)
		rs->refs++;
	if (t != NULL)
		avk = t->avk && c->has_avk;
	rc = t == NULL ? CU_ERR_NOTFOUND
	     : denied_state(t->state) || strcmp(t->state, "pending") == 0
	         ? CU_ERR_STATE
	         : 0;
	pthread_mutex_unlock(&c->mu);
	if (rc == CU_ERR_NOTFOUND) {
		set_err(err, 404, "TenantNotFound", "No such tenant.");
		goto out;
	}
	if (rc != 0) {
		set_err(err, 409, "InvalidTenantState",
		        "The tenant key cannot be rolled in this state.");
		goto out;
	}
	if ((rc = cu_smeta_tk_get(c->meta, tenant, 0, w, sizeof(w), &wl,
	                          &latest)) != 0) {
		set_err(err, 500, "InternalError", "No tenant key found.");
		goto out;
	}
	rc = CU_ERR_NOMEM;
	if ((tk = cu_secmem_alloc(CU_SKEYS_KEY_LEN)) == NULL ||
	    (bufs = calloc(CU_SCMK_MAX_KEYS + 1, WRAP_CAP)) == NULL)
		goto out;
	if ((rc = cu_rand_bytes(tk, CU_SKEYS_KEY_LEN)) != 0)
		goto out;
	if (rs == NULL) {
		rc = cu_skeys_sk_wrap(c->keys, tk, bufs, WRAP_CAP, &wl);
		if (rc == 0)
			rc = cu_smeta_tk_put(c->meta, tenant, latest + 1, bufs,
			                     wl, CU_SMETA_ROOT_SYSTEM);
	} else {
		for (size_t i = 0; i < rs->n + (size_t)avk; i++) {
			unsigned char *b = bufs + nw * WRAP_CAP;
			size_t len = 0;

			if (i < rs->n) {
				rc = rs->ck[i].wrap(rs->ck[i].ctx, tk,
				                    CU_SKEYS_KEY_LEN, b,
				                    WRAP_CAP, &len);
				wr[nw].root = rs->kid[i];
			} else {
				rc = c->avk.wrap(c->avk.ctx, tk,
				                 CU_SKEYS_KEY_LEN, b, WRAP_CAP,
				                 &len);
				wr[nw].root = CU_SMETA_ROOT_AVK;
			}
			if (rc != 0)
				break;
			wr[nw].version = latest + 1;
			wr[nw].wrapped = b;
			wr[nw].len = len;
			nw++;
		}
		if (rc == 0)
			rc = cu_smeta_tk_add(c->meta, tenant, latest + 1, wr,
			                     nw);
	}
	if (rc != 0) {
		set_err(err,
		        rc == CU_ERR_AUTH || rc == CU_ERR_UNAVAILABLE ||
		                rc == CU_ERR_TIMEOUT
		            ? 409
		            : 500,
		        rc == CU_ERR_AUTH ? "CustomerKeyInaccessible"
		        : rc == CU_ERR_UNAVAILABLE || rc == CU_ERR_TIMEOUT
		            ? "VaultUnreachable"
		            : "InternalError",
		        "The new tenant key could not be wrapped and stored.");
		goto out;
	}
	*version = latest + 1;
out:
	rootset_unref(c, rs);
	cu_secmem_free(tk, CU_SKEYS_KEY_LEN);
	free(bufs);
	pthread_mutex_unlock(&c->op_mu);
	if (rc == 0)
		emit(c, tenant, "tenant_key_rolled",
		     json_pack("{s:i}", "tk_version", (int)*version));
	return rc;
}

int cu_scmk_purge(cu_scmk_t *c, const char *tenant, const char *confirm,
                  struct cu_scmk_error *err)
{
	struct trec *t;
	int64_t at;

	if (confirm == NULL || strcmp(confirm, tenant) != 0) {
		set_err(err, 400, "ConfirmationRequired",
		        "Send {\"confirm\": \"<tenant id>\"} to purge.");
		return CU_ERR_INVAL;
	}
	pthread_mutex_lock(&c->mu);
	t = trec_locked(c, tenant);
	if (t == NULL) {
		pthread_mutex_unlock(&c->mu);
		set_err(err, 404, "TenantNotFound", "No such tenant.");
		return CU_ERR_NOTFOUND;
	}
	if (strcmp(t->state, "purge_pending") == 0 ||
	    strcmp(t->state, "purged") == 0 || t->has_req) {
		pthread_mutex_unlock(&c->mu);
		set_err(err, 409, "InvalidTenantState",
		        "The tenant is already being purged, purged, or has "
		        "a change pending.");
		return CU_ERR_STATE;
	}
	at = wall_ms() / 1000 + c->purge_grace_s;
	copy(t->prev_state, sizeof(t->prev_state), t->state);
	t->purge_at = at;
	set_state_locked(c, t, "purge_pending");
	pthread_mutex_unlock(&c->mu);
	(void)cu_skeys_forget(c->keys, tenant);
	save(c, tenant);
	emit(c, tenant, "state_changed",
	     json_pack("{s:s,s:I,s:s}", "state", "purge_pending", "purge_at",
	               (json_int_t)at, "security", "purge"));
	return 0;
}

int cu_scmk_purge_cancel(cu_scmk_t *c, const char *tenant,
                         struct cu_scmk_error *err)
{
	struct trec *t;
	char back[CU_SMETA_STATE_MAX + 1];

	pthread_mutex_lock(&c->op_mu);
	pthread_mutex_lock(&c->mu);
	t = trec_locked(c, tenant);
	if (t == NULL || strcmp(t->state, "purge_pending") != 0) {
		pthread_mutex_unlock(&c->mu);
		pthread_mutex_unlock(&c->op_mu);
		if (t == NULL)
			set_err(err, 404, "TenantNotFound", "No such tenant.");
		else
			set_err(err, 409, "NoPurgePending",
			        "No purge is pending for this tenant.");
		return t == NULL ? CU_ERR_NOTFOUND : CU_ERR_STATE;
	}
	copy(back, sizeof(back),
	     t->prev_state[0] ? t->prev_state
	                      : (t->cmk ? "active" : "system_managed"));
	set_state_locked(c, t, back);
	t->purge_at = 0;
	t->next_check_ms = 0;
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_unlock(&c->op_mu);
	save(c, tenant);
	emit(
	    c, tenant, "state_changed",
	    json_pack("{s:s,s:s}", "state", back, "reason", "purge cancelled"));
	return 0;
}

static int event_cb(void *arg, int64_t seq, int64_t ts, const char *type,
                    const char *detail)
{
	json_t *d = json_loads(detail, 0, NULL);
	json_t *e = json_pack("{s:I,s:I,s:s,s:o}", "seq", (json_int_t)seq, "ts",
	                      (json_int_t)ts, "type", type, "detail",
	                      d != NULL ? d : json_object());
	json_t **pair = arg;

	if (e == NULL || json_array_append_new(pair[0], e) != 0)
		return CU_ERR_NOMEM;
	json_integer_set(pair[1], seq);
	return 0;
}

json_t *cu_scmk_events(cu_scmk_t *c, const char *tenant, int64_t since)
{
	json_t *arr = json_array(), *last = json_integer(since);
	json_t *pair[2] = {arr, last};

	if (arr == NULL || last == NULL ||
	    cu_smeta_event_list(c->meta, tenant, since, CU_SCMK_EVENTS_MAX,
	                        event_cb, pair) != 0) {
		json_decref(arr);
		json_decref(last);
		return NULL;
	}
	return json_pack("{s:o,s:o}", "events", arr, "last", last);
}

int cu_scmk_gate(cu_scmk_t *c, const char *tenant, enum cu_scmk_op op,
                 struct cu_scmk_error *err)
{
	char state[CU_SMETA_STATE_MAX + 1], kid[CU_VAULTC_KID_MAX + 1] = "";
	char reason[STATUS_MAX] = "", msg[CU_SCMK_ERR_MSG];
	struct trec *t;
	int cmk, rc;

	pthread_mutex_lock(&c->mu);
	t = trec_locked(c, tenant);
	if (t == NULL) {
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	copy(state, sizeof(state), t->state);
	cmk = t->cmk && t->rs != NULL;
	if (t->n > 0)
		copy(kid, sizeof(kid), t->k[0].kid);
	copy(reason, sizeof(reason), t->reason);
	pthread_mutex_unlock(&c->mu);
	if (op == CU_SCMK_OP_META)
		return 0;
	if (strcmp(state, "purged") == 0) {
		set_err(err, 403, "TenantPurged",
		        "The tenant's data was purged.");
		return 403;
	}
	if (strcmp(state, "purge_pending") == 0) {
		set_err(err, 403, "TenantPurgePending",
		        "The tenant's data is being purged; its admin may "
		        "cancel during the grace period.");
		return 403;
	}
	/* a system-managed tenant's key is not asked for here (no lease
	 * or metadata read per request): a system key the operator's vault
	 * refuses fails the read itself, which the S3 dispatcher answers
	 * with cu_scmk_key_error */
	if (!cmk)
		return 0;
	rc = strcmp(state, "inaccessible") == 0
	         ? CU_ERR_DENIED
	         : cu_skeys_tk_touch(c->keys, tenant);
	if (rc == CU_ERR_DENIED || rc == CU_ERR_AUTH) {
		pthread_mutex_lock(&c->mu);
		if ((t = trec_locked(c, tenant)) != NULL && t->reason[0])
			copy(reason, sizeof(reason), t->reason);
		pthread_mutex_unlock(&c->mu);
		msgf(msg, sizeof(msg),
		     "The customer-managed key %s is not accessible to the "
		     "store (%s); the tenant's data cannot be read or "
		     "written until access is restored.",
		     kid, reason[0] ? reason : "denied");
		set_err(err, 403, "CustomerKeyInaccessible", msg);
		return 403;
	}
	if (rc == CU_ERR_UNAVAILABLE || rc == CU_ERR_TIMEOUT) {
		msgf(msg, sizeof(msg),
		     "The vault of the customer-managed key %s does not "
		     "answer; retry later.",
		     kid);
		set_err(err, 503, "KeyVaultUnavailable", msg);
		return 503;
	}
	return 0;
}

int cu_scmk_sse_kid(cu_scmk_t *c, const char *tenant, char *kid, size_t cap)
{
	struct trec *t;
	int r = 0;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->mu);
	t = trec_locked(c, tenant);
	if (t != NULL && t->cmk && t->n > 0) {
		copy(kid, cap, t->k[0].kid);
		r = 1;
	}
	pthread_mutex_unlock(&c->mu);
	return r;
}

int cu_scmk_key_error(cu_scmk_t *c, const char *tenant, int rc,
                      struct cu_scmk_error *err)
{
	char msg[CU_SCMK_ERR_MSG];
	struct trec *t;
	int cmk;

	if (c == NULL || (rc != CU_ERR_DENIED && rc != CU_ERR_UNAVAILABLE &&
	                  rc != CU_ERR_TIMEOUT))
		return 0;
	pthread_mutex_lock(&c->mu);
	t = trec_locked(c, tenant);
	cmk = t != NULL && t->cmk && t->rs != NULL;
	pthread_mutex_unlock(&c->mu);
	if (cmk) {
		if (rc == CU_ERR_UNAVAILABLE || rc == CU_ERR_TIMEOUT) {
			set_err(
			    err, 503, "KeyVaultUnavailable",
			    "The vault of the tenant's customer-managed key "
			    "does not answer; retry later.");
			return 503;
		}
		set_err(err, 403, "CustomerKeyInaccessible",
		        "The tenant's customer-managed key is not accessible "
		        "to the store; the tenant's data cannot be read or "
		        "written until access is restored.");
		return 403;
	}
	if (rc == CU_ERR_UNAVAILABLE || rc == CU_ERR_TIMEOUT)
		msgf(msg, sizeof(msg),
		     "The operator's vault holding the system key %s does not "
		     "answer; the tenant's data is unavailable until it does. "
		     "Retry later.",
		     c->sk_kid != NULL ? c->sk_kid : "(key file)");
	else
		msgf(msg, sizeof(msg),
		     "The operator's vault refuses the store the system key "
		     "%s (the store's role or the key was changed); the "
		     "tenant's data is unavailable until the operator restores "
		     "access. Retry later.",
		     c->sk_kid != NULL ? c->sk_kid : "(key file)");
	set_err(err, 503, "SystemKeyUnavailable", msg);
	return 503;
}

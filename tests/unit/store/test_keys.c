/* Unit tests for store/keys: the key file, the file root, TK leases and
 * DEKs bound to their object's identity. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "store/keys.h"
#include "store/meta.h"
#include "helpers/skeys_fx.h"

struct fx {
	struct skfx k; /* first: skfx_teardown frees fx */
	int64_t now_ms;
};

static int64_t fake_clock(void *arg)
{
	return ((struct fx *)arg)->now_ms;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || skfx_open(&f->k) != 0)
		return -1;
	f->now_ms = 1000000;
	cu_skeys_set_clock(f->k.keys, fake_clock, f);
	if (skfx_tenant(f->k.meta, f->k.keys, "ta", "AKA") != 0 ||
	    skfx_tenant(f->k.meta, f->k.keys, "tb", "AKB") != 0)
		return -1;
	*state = f;
	return 0;
}

static void id_of(const char *tenant, const char *bucket, const char *key,
                  const char *vid, unsigned char *id, size_t *len)
{
	assert_int_equal(cu_skeys_object_id(tenant, bucket, key, strlen(key),
	                                    vid, id, 2048, len),
	                 0);
}

static void key_file_is_created_0600_and_reloaded(void **state)
{
	struct fx *f = *state;
	unsigned char a[32], b[32], w[CU_SKEYS_WRAPPED_MAX];
	struct stat sb;
	size_t wl = 0;

	assert_int_equal(cu_skeys_tk_new(f->k.keys, w, sizeof(w), &wl), 0);
	assert_int_equal(wl, 40); /* RFC 3394 of 32 bytes */
	assert_int_equal(stat(f->k.keyfile, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sb.st_size, 32);
	assert_int_equal(cu_skeys_keyfile_load(f->k.keyfile, a), 0);
	assert_int_equal(cu_skeys_keyfile_load(f->k.keyfile, b), 0);
	assert_memory_equal(a, b, 32);
	assert_int_equal(chmod(f->k.keyfile, 0644), 0);
	assert_int_equal(cu_skeys_keyfile_load(f->k.keyfile, a), CU_ERR_DENIED);
	assert_int_equal(chmod(f->k.keyfile, 0600), 0);
}

static void a_key_file_of_the_wrong_size_is_refused(void **state)
{
	struct fx *f = *state;
	char p[160];
	unsigned char k[32];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/short.key", f->k.dir);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("short", fp);
	fclose(fp);
	chmod(p, 0600);
	assert_int_equal(cu_skeys_keyfile_load(p, k), CU_ERR_PARSE);
	unlink(p);
}

static void dek_round_trip_and_identity_binding(void **state)
{
	struct fx *f = *state;
	unsigned char id[2048], id2[2048], dek[32], back[32], w[64];
	size_t il, il2, wl = 0;
	uint32_t v = 0;

	id_of("ta", "bucket", "key", "v1", id, &il);
	assert_int_equal(cu_skeys_dek_new(f->k.keys, "ta", id, il, dek, w,
	                                  sizeof(w), &wl, &v),
	                 0);
	assert_int_equal(wl, CU_SKEYS_DEK_WRAPPED);
	assert_int_equal(v, 1);
	assert_int_equal(
	    cu_skeys_dek_open(f->k.keys, "ta", v, w, wl, id, il, back), 0);
	assert_memory_equal(dek, back, 32);

	/* another key, version, bucket or tenant: refused */
	id_of("ta", "bucket", "key2", "v1", id2, &il2);
	assert_int_equal(
	    cu_skeys_dek_open(f->k.keys, "ta", v, w, wl, id2, il2, back),
	    CU_ERR_AUTH);
	id_of("ta", "bucket", "key", "v2", id2, &il2);
	assert_int_equal(
	    cu_skeys_dek_open(f->k.keys, "ta", v, w, wl, id2, il2, back),
	    CU_ERR_AUTH);
	id_of("ta", "other", "key", "v1", id2, &il2);
	assert_int_equal(
	    cu_skeys_dek_open(f->k.keys, "ta", v, w, wl, id2, il2, back),
	    CU_ERR_AUTH);
	/* beta's TK cannot open alpha's DEK, even with alpha's identity */
	assert_int_equal(
	    cu_skeys_dek_open(f->k.keys, "tb", v, w, wl, id, il, back),
	    CU_ERR_AUTH);
	/* a flipped bit anywhere */
	for (size_t i = 0; i < wl; i += 7) {
		w[i] ^= 0x10;
		assert_int_equal(
		    cu_skeys_dek_open(f->k.keys, "ta", v, w, wl, id, il, back),
		    CU_ERR_AUTH);
		w[i] ^= 0x10;
	}
	assert_int_equal(
	    cu_skeys_dek_open(f->k.keys, "ta", 9, w, wl, id, il, back),
	    CU_ERR_NOTFOUND);
	assert_int_equal(
	    cu_skeys_dek_open(f->k.keys, "ta", v, w, wl - 1, id, il, back),
	    CU_ERR_PARSE);
}

static void identities_are_unambiguous(void **state)
{
	unsigned char a[256], b[256];
	size_t al, bl;

	(void)state;
	/* "ab"+"c" and "a"+"bc" must differ */
	assert_int_equal(
	    cu_skeys_object_id("t", "ab", "c", 1, "v", a, sizeof(a), &al), 0);
	assert_int_equal(
	    cu_skeys_object_id("t", "a", "bc", 2, "v", b, sizeof(b), &bl), 0);
	assert_false(al == bl && memcmp(a, b, al) == 0);
	assert_int_equal(cu_skeys_object_id("t", "a", "bc", 2, "v", b, 10, &bl),
	                 CU_ERR_RANGE);
}

static void lease_counts_from_unwrap_and_is_not_extended_by_use(void **state)
{
	struct fx *f = *state;
	unsigned char id[2048], dek[32], back[32], w[64];
	size_t il, wl = 0;
	uint32_t v = 0;

	id_of("ta", "b", "k", "v", id, &il);
	assert_int_equal(cu_skeys_cached(f->k.keys), 0);
	assert_int_equal(cu_skeys_dek_new(f->k.keys, "ta", id, il, dek, w,
	                                  sizeof(w), &wl, &v),
	                 0);
	assert_int_equal(cu_skeys_unwraps(f->k.keys), 1);
	assert_int_equal(cu_skeys_cached(f->k.keys), 1);
	/* used every 10 s for 50 s: still the same unwrap */
	for (int i = 0; i < 5; i++) {
		f->now_ms += 10000;
		assert_int_equal(
		    cu_skeys_dek_open(f->k.keys, "ta", v, w, wl, id, il, back),
		    0);
	}
	assert_int_equal(cu_skeys_unwraps(f->k.keys), 1);
	/* 60 s after the unwrap, use or not, the lease is over */
	f->now_ms += 10000;
	assert_int_equal(cu_skeys_sweep(f->k.keys), 1);
	assert_int_equal(cu_skeys_cached(f->k.keys), 0);
	assert_int_equal(
	    cu_skeys_dek_open(f->k.keys, "ta", v, w, wl, id, il, back), 0);
	assert_int_equal(cu_skeys_unwraps(f->k.keys), 2);
	/* expiry is also noticed on use, without a sweep */
	f->now_ms += 60000;
	assert_int_equal(
	    cu_skeys_dek_open(f->k.keys, "ta", v, w, wl, id, il, back), 0);
	assert_int_equal(cu_skeys_unwraps(f->k.keys), 3);
	assert_int_equal(cu_skeys_cached(f->k.keys), 1);
}

/* A DEK for an object of tenant "ta": its TK is then cached. */
static uint32_t ta_dek(struct fx *f, unsigned char *id, size_t *il,
                       unsigned char w[64], size_t *wl)
{
	unsigned char dek[32];
	uint32_t v = 0;

	id_of("ta", "b", "k", "v", id, il);
	assert_int_equal(
	    cu_skeys_dek_new(f->k.keys, "ta", id, *il, dek, w, 64, wl, &v), 0);
	return v;
}

/* Object subkeys are kept only with a TK cached under a live lease and
 * go with it: at the lease's end, on forget, and when another TK entry
 * replaces it. */
static void object_subkeys_live_and_die_with_their_tk(void **state)
{
	struct fx *f = *state;
	unsigned char id[2048], w[64], dg[32], dg2[32], sk[32], got[32];
	size_t il, wl = 0;
	uint32_t v = 0;
	uint64_t hits = 0, misses = 0;

	memset(dg, 0x11, sizeof(dg));
	memset(dg2, 0x11, sizeof(dg2));
	dg2[31] = 0x12; /* the same set, another object */
	memset(sk, 0xab, sizeof(sk));
	/* no TK cached: nothing is kept */
	cu_skeys_subkey_put(f->k.keys, "ta", 1, dg, sk);
	assert_int_equal(cu_skeys_subkey_get(f->k.keys, "ta", 1, dg, got),
	                 CU_ERR_NOTFOUND);
	v = ta_dek(f, id, &il, w, &wl);
	assert_int_equal(cu_skeys_subkey_get(f->k.keys, "ta", v, dg, got),
	                 CU_ERR_NOTFOUND);
	cu_skeys_subkey_put(f->k.keys, "ta", v, dg, sk);
	assert_int_equal(cu_skeys_subkey_get(f->k.keys, "ta", v, dg, got), 0);
	assert_memory_equal(got, sk, sizeof(sk));
	/* another digest, tenant or TK version finds nothing */
	assert_int_equal(cu_skeys_subkey_get(f->k.keys, "ta", v, dg2, got),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_skeys_subkey_get(f->k.keys, "tb", v, dg, got),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_skeys_subkey_get(f->k.keys, "ta", v + 1, dg, got),
	                 CU_ERR_NOTFOUND);
	cu_skeys_subkey_stats(f->k.keys, &hits, &misses);
	assert_int_equal(hits, 1);
	assert_int_equal(misses, 5);
	/* forgotten (a denial, a revocation): gone with the TK */
	assert_int_equal(cu_skeys_forget(f->k.keys, "ta"), 1);
	assert_int_equal(cu_skeys_subkey_get(f->k.keys, "ta", v, dg, got),
	                 CU_ERR_NOTFOUND);
	/* a TK unwrapped again does not bring back what the old one had */
	assert_int_equal(
	    cu_skeys_dek_open(f->k.keys, "ta", v, w, wl, id, il, got), 0);
	assert_int_equal(cu_skeys_subkey_get(f->k.keys, "ta", v, dg, got),
	                 CU_ERR_NOTFOUND);
	cu_skeys_subkey_put(f->k.keys, "ta", v, dg, sk);
	assert_int_equal(cu_skeys_subkey_get(f->k.keys, "ta", v, dg, got), 0);
	/* the lease's end, noticed on use without a sweep */
	f->now_ms += 60000;
	assert_int_equal(cu_skeys_subkey_get(f->k.keys, "ta", v, dg, got),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_skeys_cached(f->k.keys), 0);
}

/* Five objects in one set of four: the least recently used goes. */
static void object_subkeys_replace_the_least_recently_used(void **state)
{
	struct fx *f = *state;
	unsigned char id[2048], w[64], dg[5][32], sk[32], got[32];
	size_t il, wl = 0;
	uint32_t v = ta_dek(f, id, &il, w, &wl);

	for (int i = 0; i < 5; i++) {
		memset(dg[i], 0x22, 32);
		dg[i][31] = (unsigned char)i;
	}
	for (int i = 0; i < 4; i++) {
		memset(sk, i, sizeof(sk));
		cu_skeys_subkey_put(f->k.keys, "ta", v, dg[i], sk);
	}
	/* 0 used again: 1 is now the oldest */
	assert_int_equal(cu_skeys_subkey_get(f->k.keys, "ta", v, dg[0], got),
	                 0);
	memset(sk, 4, sizeof(sk));
	cu_skeys_subkey_put(f->k.keys, "ta", v, dg[4], sk);
	assert_int_equal(cu_skeys_subkey_get(f->k.keys, "ta", v, dg[1], got),
	                 CU_ERR_NOTFOUND);
	for (int i = 0; i < 5; i++) {
		if (i == 1)
			continue;
		assert_int_equal(
		    cu_skeys_subkey_get(f->k.keys, "ta", v, dg[i], got), 0);
		memset(sk, i, sizeof(sk));
		assert_memory_equal(got, sk, sizeof(sk));
	}
}

static void tenant_keys_are_per_tenant(void **state)
{
	struct fx *f = *state;
	unsigned char id[2048], dek[32], w[64];
	size_t il, wl = 0;
	uint32_t v = 0;

	id_of("ta", "b", "k", "v", id, &il);
	assert_int_equal(cu_skeys_dek_new(f->k.keys, "ta", id, il, dek, w,
	                                  sizeof(w), &wl, &v),
	                 0);
	assert_int_equal(cu_skeys_dek_new(f->k.keys, "tb", id, il, dek, w,
	                                  sizeof(w), &wl, &v),
	                 0);
	assert_int_equal(cu_skeys_cached(f->k.keys), 2);
	assert_int_equal(cu_skeys_dek_new(f->k.keys, "nobody", id, il, dek, w,
	                                  sizeof(w), &wl, &v),
	                 CU_ERR_NOTFOUND);
}

static void a_wrapped_tk_altered_in_the_database_does_not_unwrap(void **state)
{
	struct fx *f = *state;
	unsigned char w[CU_SKEYS_WRAPPED_MAX], id[2048], dek[32], dw[64];
	size_t wl = 0, il, dwl;
	uint32_t v;

	assert_int_equal(
	    cu_smeta_tk_get(f->k.meta, "ta", 1, w, sizeof(w), &wl, &v), 0);
	w[3] ^= 1;
	assert_int_equal(cu_smeta_tk_put(f->k.meta, "ta", 2, w, wl, "file"), 0);
	id_of("ta", "b", "k", "v", id, &il);
	/* the latest version (2) is the altered one */
	assert_int_equal(cu_skeys_dek_new(f->k.keys, "ta", id, il, dek, dw,
	                                  sizeof(dw), &dwl, &v),
	                 CU_ERR_AUTH);
	assert_int_equal(cu_skeys_cached(f->k.keys), 0);
}

static void metadata_seal_is_bound_to_tenant_and_aad(void **state)
{
	struct fx *f = *state;
	unsigned char out[128], back[128];
	size_t n = 0, m = 0;

	assert_int_equal(cu_skeys_seal(f->k.keys, "ta", 1, "aad", 3, "{}", 2,
	                               out, sizeof(out), &n),
	                 0);
	assert_int_equal(cu_skeys_open(f->k.keys, "ta", 1, "aad", 3, out, n,
	                               back, sizeof(back), &m),
	                 0);
	assert_int_equal(m, 2);
	assert_int_equal(cu_skeys_open(f->k.keys, "ta", 1, "aaX", 3, out, n,
	                               back, sizeof(back), &m),
	                 CU_ERR_AUTH);
	assert_int_equal(cu_skeys_open(f->k.keys, "tb", 1, "aad", 3, out, n,
	                               back, sizeof(back), &m),
	                 CU_ERR_AUTH);
}

/* ---- per-tenant roots (customer-managed keys) ---------------------- */

struct fake_ck {
	unsigned char tk[32];
	int rc;     /* what the customer keys answer */
	int avk_rc; /* what the availability key answers */
	int calls, avk_calls;
};

static int fake_unwrap(void *arg, const char *tenant, uint32_t version, int avk,
                       unsigned char *tk)
{
	struct fake_ck *c = arg;

	(void)tenant;
	(void)version;
	if (avk) {
		c->avk_calls++;
		if (c->avk_rc == 0)
			memcpy(tk, c->tk, 32);
		return c->avk_rc;
	}
	c->calls++;
	if (c->rc == 0)
		memcpy(tk, c->tk, 32);
	return c->rc;
}

/* Move tenant ta's TK under a customer key (empty system-key wrap). */
static void to_customer_key(struct fx *f, struct fake_ck *c)
{
	unsigned char blob[40] = {1};
	struct cu_smeta_wrap w = {1, "https://v/keys/k", blob, sizeof(blob)};

	assert_int_equal(cu_skeys_tk_plain(f->k.keys, "ta", 1, c->tk), 0);
	assert_int_equal(cu_smeta_tk_set_wraps(f->k.meta, "ta", &w, 1), 0);
	(void)cu_skeys_forget(f->k.keys, "ta");
	cu_skeys_set_tenant_unwrap(f->k.keys, fake_unwrap, c);
}

static void a_customer_managed_tk_unwraps_through_the_tenant_roots(void **state)
{
	struct fx *f = *state;
	struct fake_ck c = {0};
	unsigned char id[2048], dek[32], back[32], w[64], sk[32];
	size_t il, wl = 0;
	uint32_t v = 0;

	id_of("ta", "b", "k", "v", id, &il);
	assert_int_equal(cu_skeys_dek_new(f->k.keys, "ta", id, il, dek, w,
	                                  sizeof(w), &wl, &v),
	                 0);
	to_customer_key(f, &c);
	/* the system key no longer opens it: its wrap is empty */
	assert_int_equal(
	    cu_smeta_tk_get(f->k.meta, "ta", 1, sk, sizeof(sk), &il, NULL), 0);
	assert_int_equal(il, 0);
	id_of("ta", "b", "k", "v", id, &il);
	assert_int_equal(
	    cu_skeys_dek_open(f->k.keys, "ta", v, w, wl, id, il, back), 0);
	assert_memory_equal(dek, back, 32);
	assert_int_equal(c.calls, 1);
	/* the other tenant stays on the system key */
	id_of("tb", "b", "k", "v", id, &il);
	assert_int_equal(cu_skeys_dek_new(f->k.keys, "tb", id, il, dek, w,
	                                  sizeof(w), &wl, &v),
	                 0);
	assert_int_equal(c.calls, 1);
	cu_skeys_set_tenant_unwrap(f->k.keys, NULL, NULL);
}

static void
an_outage_is_served_within_grace_then_the_availability_key(void **state)
{
	struct fx *f = *state;
	struct fake_ck c = {0};

	cu_skeys_set_outage_grace(f->k.keys, 30);
	to_customer_key(f, &c);
	assert_int_equal(cu_skeys_tk_touch(f->k.keys, "ta"), 0);
	/* the vault stops answering; the lease (60 s) ends */
	c.rc = CU_ERR_UNAVAILABLE;
	c.avk_rc = CU_ERR_DENIED;
	f->now_ms += 61000;
	assert_int_equal(cu_skeys_tk_touch(f->k.keys, "ta"), 0);
	assert_int_equal(c.avk_calls, 0);
	/* past lease + grace: the availability key is asked */
	f->now_ms += 30000;
	assert_int_equal(cu_skeys_tk_touch(f->k.keys, "ta"), CU_ERR_DENIED);
	assert_int_equal(c.avk_calls, 1);
	c.avk_rc = 0;
	assert_int_equal(cu_skeys_tk_touch(f->k.keys, "ta"), 0);
	assert_int_equal(c.avk_calls, 2);
	cu_skeys_set_tenant_unwrap(f->k.keys, NULL, NULL);
}

static void a_denial_wipes_the_tk_and_never_uses_the_grace(void **state)
{
	struct fx *f = *state;
	struct fake_ck c = {0};

	cu_skeys_set_outage_grace(f->k.keys, 30);
	to_customer_key(f, &c);
	assert_int_equal(cu_skeys_tk_touch(f->k.keys, "ta"), 0);
	assert_int_equal(cu_skeys_cached(f->k.keys), 1);
	c.rc = CU_ERR_DENIED;
	f->now_ms += 61000;
	assert_int_equal(cu_skeys_tk_touch(f->k.keys, "ta"), CU_ERR_DENIED);
	assert_int_equal(c.avk_calls, 0);
	assert_int_equal(cu_skeys_cached(f->k.keys), 0);
	cu_skeys_set_tenant_unwrap(f->k.keys, NULL, NULL);
}

/* A customer key that answers only when the test releases it, as a
 * vault that takes its time: concurrent requests pile up meanwhile. */
struct slow_ck {
	unsigned char tk[32];
	int rc;
	int calls;
	int release;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static int slow_unwrap(void *arg, const char *tenant, uint32_t version, int avk,
                       unsigned char *tk)
{
	struct slow_ck *c = arg;
	int rc;

	(void)tenant;
	(void)version;
	(void)avk;
	pthread_mutex_lock(&c->mu);
	c->calls++;
	while (!c->release)
		pthread_cond_wait(&c->cv, &c->mu);
	rc = c->rc;
	if (rc == 0)
		memcpy(tk, c->tk, 32);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

#define CONCURRENT 8

struct toucher {
	cu_skeys_t *keys;
	int rc;
};

static void *touch_thread(void *arg)
{
	struct toucher *t = arg;

	t->rc = cu_skeys_tk_touch(t->keys, "ta");
	return NULL;
}

/* Start CONCURRENT touches of ta's TK while the customer key has not
 * answered; release it once all but one wait; join them. */
static void touch_concurrently(struct fx *f, struct slow_ck *c,
                               struct toucher *t)
{
	pthread_t th[CONCURRENT];
	uint64_t waits0 = cu_skeys_unwrap_waits(f->k.keys);

	for (int i = 0; i < CONCURRENT; i++) {
		t[i].keys = f->k.keys;
		assert_int_equal(
		    pthread_create(&th[i], NULL, touch_thread, &t[i]), 0);
	}
	/* every request but the unwrapping one waits for its answer */
	for (int spin = 0; spin < 10000; spin++) {
		if (cu_skeys_unwrap_waits(f->k.keys) - waits0 == CONCURRENT - 1)
			break;
		usleep(1000);
	}
	assert_int_equal(cu_skeys_unwrap_waits(f->k.keys) - waits0,
	                 CONCURRENT - 1);
	pthread_mutex_lock(&c->mu);
	c->release = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	for (int i = 0; i < CONCURRENT; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
}

static void slow_customer_key(struct fx *f, struct slow_ck *c)
{
	struct fake_ck plain = {0};

	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	to_customer_key(f, &plain);
	memcpy(c->tk, plain.tk, 32);
	cu_skeys_set_tenant_unwrap(f->k.keys, slow_unwrap, c);
}

static void concurrent_requests_at_a_lease_end_unwrap_the_tk_once(void **state)
{
	struct fx *f = *state;
	struct slow_ck c = {0};
	struct toucher t[CONCURRENT];
	uint64_t unwraps0;

	slow_customer_key(f, &c);
	unwraps0 = cu_skeys_unwraps(f->k.keys);
	touch_concurrently(f, &c, t);
	assert_int_equal(c.calls, 1);
	for (int i = 0; i < CONCURRENT; i++)
		assert_int_equal(t[i].rc, 0);
	assert_int_equal(cu_skeys_unwraps(f->k.keys) - unwraps0, 1);
	assert_int_equal(cu_skeys_cached(f->k.keys), 1);
	/* the next lease's end: again one call for everyone */
	c.release = 0;
	f->now_ms += 61000;
	touch_concurrently(f, &c, t);
	assert_int_equal(c.calls, 2);
	for (int i = 0; i < CONCURRENT; i++)
		assert_int_equal(t[i].rc, 0);
	cu_skeys_set_tenant_unwrap(f->k.keys, NULL, NULL);
	pthread_cond_destroy(&c.cv);
	pthread_mutex_destroy(&c.mu);
}

static void requests_waiting_for_a_denied_unwrap_are_all_denied(void **state)
{
	struct fx *f = *state;
	struct slow_ck c = {0};
	struct toucher t[CONCURRENT];

	slow_customer_key(f, &c);
	c.rc = CU_ERR_DENIED;
	touch_concurrently(f, &c, t);
	assert_int_equal(c.calls, 1);
	for (int i = 0; i < CONCURRENT; i++)
		assert_int_equal(t[i].rc, CU_ERR_DENIED);
	assert_int_equal(cu_skeys_cached(f->k.keys), 0);
	/* nothing waits any more: the next request asks again */
	c.rc = 0;
	assert_int_equal(cu_skeys_tk_touch(f->k.keys, "ta"), 0);
	assert_int_equal(c.calls, 2);
	cu_skeys_set_tenant_unwrap(f->k.keys, NULL, NULL);
	pthread_cond_destroy(&c.cv);
	pthread_mutex_destroy(&c.mu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        key_file_is_created_0600_and_reloaded, setup, skfx_teardown),
	    cmocka_unit_test_setup_teardown(
	        a_key_file_of_the_wrong_size_is_refused, setup, skfx_teardown),
	    cmocka_unit_test_setup_teardown(dek_round_trip_and_identity_binding,
	                                    setup, skfx_teardown),
	    cmocka_unit_test(identities_are_unambiguous),
	    cmocka_unit_test_setup_teardown(
	        lease_counts_from_unwrap_and_is_not_extended_by_use, setup,
	        skfx_teardown),
	    cmocka_unit_test_setup_teardown(
	        object_subkeys_live_and_die_with_their_tk, setup,
	        skfx_teardown),
	    cmocka_unit_test_setup_teardown(
	        object_subkeys_replace_the_least_recently_used, setup,
	        skfx_teardown),
	    cmocka_unit_test_setup_teardown(tenant_keys_are_per_tenant, setup,
	                                    skfx_teardown),
	    cmocka_unit_test_setup_teardown(
	        a_wrapped_tk_altered_in_the_database_does_not_unwrap, setup,
	        skfx_teardown),
	    cmocka_unit_test_setup_teardown(
	        metadata_seal_is_bound_to_tenant_and_aad, setup, skfx_teardown),
	    cmocka_unit_test_setup_teardown(
	        a_customer_managed_tk_unwraps_through_the_tenant_roots, setup,
	        skfx_teardown),
	    cmocka_unit_test_setup_teardown(
	        an_outage_is_served_within_grace_then_the_availability_key,
	        setup, skfx_teardown),
	    cmocka_unit_test_setup_teardown(
	        a_denial_wipes_the_tk_and_never_uses_the_grace, setup,
	        skfx_teardown),
	    cmocka_unit_test_setup_teardown(
	        concurrent_requests_at_a_lease_end_unwrap_the_tk_once, setup,
	        skfx_teardown),
	    cmocka_unit_test_setup_teardown(
	        requests_waiting_for_a_denied_unwrap_are_all_denied, setup,
	        skfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "vault/keycache.h"
#include "core/err.h"
#include "vault/keystore.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct entry {
	char name[CU_VKS_NAME_MAX + 1];
	char version[CU_VKS_VERSION_LEN + 1];
	/* SHA-256 of the sealed bytes the key was loaded from (ciphertext,
	 * not secret): any change to the row misses */
	unsigned char sealed_sha[CU_SHA256_LEN];
	cu_vko_t *key; /* NULL: the slot is free */
	int64_t loaded_ms;
	uint64_t used; /* LRU tick */
};

struct cu_vkc {
	pthread_mutex_t mu;
	struct entry *e;
	size_t max, n;
	int64_t ttl_ms;
	uint64_t tick;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Release one slot: the key handle (wiped by its last holder) and the
 * copy of the sealed bytes. Under the mutex. */
static void clear(cu_vkc_t *c, struct entry *e)
{
	if (e->key == NULL)
		return;
	cu_vko_free(e->key);
	memset(e, 0, sizeof(*e));
	c->n--;
}

int cu_vkc_new(size_t max, unsigned ttl_s, cu_vkc_t **out)
{
	cu_vkc_t *c = NULL;

	*out = NULL;
	if (max == 0 || max > 4096 || ttl_s == 0 || ttl_s > 86400)
		return CU_ERR_INVAL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CU_ERR_NOMEM;
	if ((c->e = calloc(max, sizeof(*c->e))) == NULL) {
		free(c);
		return CU_ERR_NOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	c->max = max;
	c->ttl_ms = (int64_t)ttl_s * 1000;
	*out = c;
	return 0;
}

void cu_vkc_free(cu_vkc_t *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->max; i++)
		clear(c, &c->e[i]);
	pthread_mutex_destroy(&c->mu);
	free(c->e);
	free(c);
}

static struct entry *find(cu_vkc_t *c, const char *name, const char *version)
{
	for (size_t i = 0; i < c->max; i++) {
		struct entry *e = &c->e[i];
		if (e->key != NULL && strcmp(e->version, version) == 0 &&
		    strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

int cu_vkc_get(cu_vkc_t *c, const char *name, const char *version,
               const unsigned char sealed_sha[CU_SHA256_LEN], cu_vko_t **out)
{
	struct entry *e;
	int r = CU_ERR_NOTFOUND;

	*out = NULL;
	pthread_mutex_lock(&c->mu);
	if ((e = find(c, name, version)) == NULL)
		goto out;
	if (memcmp(e->sealed_sha, sealed_sha, CU_SHA256_LEN) != 0 ||
	    mono_ms() - e->loaded_ms >= c->ttl_ms) {
		clear(c, e);
		goto out;
	}
	*out = cu_vko_dup(e->key);
	e->used = ++c->tick;
	r = 0;
out:
	pthread_mutex_unlock(&c->mu);
	return r;
}

int cu_vkc_put(cu_vkc_t *c, const char *name, const char *version,
               const unsigned char sealed_sha[CU_SHA256_LEN], cu_vko_t *k)
{
	struct entry *e, *victim = NULL;

	if (strlen(name) > CU_VKS_NAME_MAX ||
	    strlen(version) > CU_VKS_VERSION_LEN)
		return CU_ERR_INVAL;
	pthread_mutex_lock(&c->mu);
	if ((e = find(c, name, version)) != NULL)
		clear(c, e);
	for (size_t i = 0; i < c->max; i++) {
		e = &c->e[i];
		if (e->key == NULL) {
			victim = e;
			break;
		}
		if (victim == NULL || e->used < victim->used)
			victim = e;
	}
	clear(c, victim);
	memcpy(victim->name, name, strlen(name) + 1);
	memcpy(victim->version, version, strlen(version) + 1);
	memcpy(victim->sealed_sha, sealed_sha, CU_SHA256_LEN);
	victim->key = cu_vko_dup(k);
	victim->loaded_ms = mono_ms();
	victim->used = ++c->tick;
	c->n++;
	pthread_mutex_unlock(&c->mu);
	return 0;
}

void cu_vkc_drop(cu_vkc_t *c, const char *name)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->max; i++)
		if (c->e[i].key != NULL &&
		    (name == NULL || strcasecmp(c->e[i].name, name) == 0))
			clear(c, &c->e[i]);
	pthread_mutex_unlock(&c->mu);
}

size_t cu_vkc_expire(cu_vkc_t *c)
{
	size_t n = 0;
	int64_t now = mono_ms();

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->max; i++) {
		if (c->e[i].key != NULL &&
		    now - c->e[i].loaded_ms >= c->ttl_ms) {
			clear(c, &c->e[i]);
			n++;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return n;
}

size_t cu_vkc_count(cu_vkc_t *c)
{
	size_t n;

	pthread_mutex_lock(&c->mu);
	n = c->n;
	pthread_mutex_unlock(&c->mu);
	return n;
}

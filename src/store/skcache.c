/* skcache.c - derived SigV4 signing keys in locked memory. */
#include "store/skcache.h"
#include "core/err.h"
#include "core/secmem.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

struct entry {
	int used;
	size_t akid_len, sealed_len;
	char akid[CU_SIGV4_MAX_AKID + 1];
	unsigned char sealed[CU_SKCACHE_SEALED_MAX];
	char date8[9];
	char region[CU_SIGV4_MAX_REGION + 1];
	char service[CU_SIGV4_MAX_SERVICE + 1];
	unsigned char key[CU_SIGV4_KEY_LEN];
};

struct cu_skcache {
	pthread_mutex_t mu;
	struct entry *e; /* CU_SKCACHE_SLOTS, in secmem */
};

/* FNV-1a over the fields that vary between a tenant's requests */
static size_t slot_of(const struct cu_skcache_id *id)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (size_t i = 0; i < id->akid_len; i++)
		h = (h ^ (unsigned char)id->akid[i]) * 0x100000001b3u;
	for (const char *p = id->date8; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3u;
	for (const char *p = id->region; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3u;
	return (size_t)(h % CU_SKCACHE_SLOTS);
}

/* 1 when the id fits an entry */
static int fits(const struct cu_skcache_id *id)
{
	return id->akid != NULL && id->sealed != NULL && id->date8 != NULL &&
	       id->region != NULL && id->service != NULL &&
	       id->akid_len <= CU_SIGV4_MAX_AKID &&
	       id->sealed_len <= CU_SKCACHE_SEALED_MAX &&
	       strlen(id->date8) == 8 &&
	       strlen(id->region) <= CU_SIGV4_MAX_REGION &&
	       strlen(id->service) <= CU_SIGV4_MAX_SERVICE;
}

int cu_skcache_new(cu_skcache_t **out)
{
	cu_skcache_t *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CU_ERR_NOMEM;
	c->e = cu_secmem_alloc(CU_SKCACHE_SLOTS * sizeof(*c->e));
	if (c->e == NULL) {
		free(c);
		return CU_ERR_NOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

void cu_skcache_free(cu_skcache_t *c)
{
	if (c == NULL)
		return;
	cu_secmem_free(c->e, CU_SKCACHE_SLOTS * sizeof(*c->e));
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int cu_skcache_get(cu_skcache_t *c, const struct cu_skcache_id *id,
                   unsigned char key[CU_SIGV4_KEY_LEN])
{
	struct entry *e;
	int hit;

	if (c == NULL || id == NULL || !fits(id))
		return 0;
	pthread_mutex_lock(&c->mu);
	e = &c->e[slot_of(id)];
	/* the sealed secret is compared in constant time like any value
	 * derived from a secret, though it is not one itself */
	hit = e->used && e->akid_len == id->akid_len &&
	      memcmp(e->akid, id->akid, id->akid_len) == 0 &&
	      e->sealed_len == id->sealed_len &&
	      cu_ct_equal(e->sealed, id->sealed, id->sealed_len) &&
	      strcmp(e->date8, id->date8) == 0 &&
	      strcmp(e->region, id->region) == 0 &&
	      strcmp(e->service, id->service) == 0;
	if (hit)
		memcpy(key, e->key, CU_SIGV4_KEY_LEN);
	pthread_mutex_unlock(&c->mu);
	return hit;
}

void cu_skcache_put(cu_skcache_t *c, const struct cu_skcache_id *id,
                    const unsigned char key[CU_SIGV4_KEY_LEN])
{
	struct entry *e;

	if (c == NULL || id == NULL || key == NULL || !fits(id))
		return;
	pthread_mutex_lock(&c->mu);
	e = &c->e[slot_of(id)];
	cu_memzero(e, sizeof(*e));
	e->akid_len = id->akid_len;
	memcpy(e->akid, id->akid, id->akid_len);
	e->sealed_len = id->sealed_len;
	memcpy(e->sealed, id->sealed, id->sealed_len);
	memcpy(e->date8, id->date8, 9);
	memcpy(e->region, id->region, strlen(id->region) + 1);
	memcpy(e->service, id->service, strlen(id->service) + 1);
	memcpy(e->key, key, CU_SIGV4_KEY_LEN);
	e->used = 1;
	pthread_mutex_unlock(&c->mu);
}

void cu_skcache_forget(cu_skcache_t *c, const char *akid, size_t akid_len)
{
	if (c == NULL || akid == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < CU_SKCACHE_SLOTS; i++) {
		struct entry *e = &c->e[i];

		if (e->used && e->akid_len == akid_len &&
		    memcmp(e->akid, akid, akid_len) == 0)
			cu_memzero(e, sizeof(*e));
	}
	pthread_mutex_unlock(&c->mu);
}

/* memo.c - answers read from a database, kept while it is unchanged. */
#include "core/memo.h"
#include "core/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 4

struct entry {
	uint64_t gen;  /* the commit count it was read at */
	uint64_t used; /* tick of the last put or hit: the oldest goes */
	unsigned short klen, vlen; /* klen 0: free */
	unsigned char key[CU_MEMO_KEY_MAX];
	unsigned char val[CU_MEMO_VAL_MAX];
};

struct cu_memo {
	pthread_mutex_t mu;
	struct entry *e; /* sets * WAYS */
	size_t sets;     /* a power of two */
	uint64_t tick, hits, misses;
};

int cu_memo_new(size_t entries, cu_memo_t **out)
{
	cu_memo_t *m;
	size_t sets = 1;

	*out = NULL;
	if (entries < WAYS || entries > 65536)
		return CU_ERR_INVAL;
	while (sets * WAYS < entries)
		sets <<= 1;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return CU_ERR_NOMEM;
	if ((m->e = calloc(sets * WAYS, sizeof(*m->e))) == NULL) {
		free(m);
		return CU_ERR_NOMEM;
	}
	m->sets = sets;
	pthread_mutex_init(&m->mu, NULL);
	*out = m;
	return 0;
}

void cu_memo_free(cu_memo_t *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m->e);
	free(m);
}

/* The first entry of key's set (FNV-1a). */
static struct entry *set_of(cu_memo_t *m, const void *key, size_t klen)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325u;

	for (size_t i = 0; i < klen; i++)
		h = (h ^ p[i]) * 0x100000001b3u;
	return &m->e[(size_t)(h & (m->sets - 1)) * WAYS];
}

static struct entry *find(struct entry *set, const void *key, size_t klen)
{
	for (int i = 0; i < WAYS; i++)
		if (set[i].klen == klen && memcmp(set[i].key, key, klen) == 0)
			return &set[i];
	return NULL;
}

int cu_memo_get(cu_memo_t *m, const void *key, size_t klen, uint64_t gen,
                void *val, size_t vcap, size_t *vlen)
{
	struct entry *e;
	int r = CU_ERR_NOTFOUND;

	*vlen = 0;
	if (klen == 0 || klen > CU_MEMO_KEY_MAX)
		return r;
	pthread_mutex_lock(&m->mu);
	e = find(set_of(m, key, klen), key, klen);
	if (e != NULL && e->gen == gen && e->vlen <= vcap) {
		memcpy(val, e->val, e->vlen);
		*vlen = e->vlen;
		e->used = ++m->tick;
		m->hits++;
		r = 0;
	} else {
		m->misses++;
	}
	pthread_mutex_unlock(&m->mu);
	return r;
}

int cu_memo_put(cu_memo_t *m, const void *key, size_t klen, uint64_t gen,
                const void *val, size_t vlen)
{
	struct entry *set, *e;

	if (klen == 0 || klen > CU_MEMO_KEY_MAX || vlen > CU_MEMO_VAL_MAX)
		return CU_ERR_RANGE;
	pthread_mutex_lock(&m->mu);
	set = set_of(m, key, klen);
	if ((e = find(set, key, klen)) == NULL) {
		/* a free way, else the one unused longest */
		e = &set[0];
		for (int i = 0; i < WAYS; i++) {
			if (set[i].klen == 0) {
				e = &set[i];
				break;
			}
			if (set[i].used < e->used)
				e = &set[i];
		}
	}
	e->gen = gen;
	e->used = ++m->tick;
	e->klen = (unsigned short)klen;
	e->vlen = (unsigned short)vlen;
	memcpy(e->key, key, klen);
	memcpy(e->val, val, vlen);
	pthread_mutex_unlock(&m->mu);
	return 0;
}

void cu_memo_stats(cu_memo_t *m, uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&m->mu);
	if (hits != NULL)
		*hits = m->hits;
	if (misses != NULL)
		*misses = m->misses;
	pthread_mutex_unlock(&m->mu);
}

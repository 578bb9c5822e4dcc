/* skeys_fx.h - test helper: the store's key hierarchy (store/keys.h) over
 * a system key file in a fresh temporary directory and an in-memory
 * metadata database, for the unit tests of store modules that use tenant
 * keys. */
#ifndef SKFX_H
#define SKFX_H

#include "store/keys.h"
#include "store/meta.h"

struct skfx {
	char dir[64];
	char keyfile[128];
	cu_smeta_t *meta;
	cu_skeys_t *keys;
};

/* skfx_open - make it in *x (zeroed by the caller), with 60 s leases.
 * Returns 0, or -1 with whatever was made left for skfx_close. */
int skfx_open(struct skfx *x);

/* skfx_tenant - in meta, a tenant `id` with access key akid and TK
 * version 1 made by keys (wrapped under its root). Returns 0 or -1. */
int skfx_tenant(cu_smeta_t *meta, cu_skeys_t *keys, const char *id,
                const char *akid);

/* skfx_tenant_first - skfx_tenant, with a TK whose wrap starts with the
 * byte `first` (TKs are made until one does). */
int skfx_tenant_first(cu_smeta_t *meta, cu_skeys_t *keys, const char *id,
                      const char *akid, int first);

/* skfx_close - free what skfx_open made and remove the directory. */
void skfx_close(struct skfx *x);

/* skfx_teardown - a cmocka teardown for a malloc'd fixture whose first
 * member is a struct skfx: skfx_close, then free. Returns 0. */
int skfx_teardown(void **state);

#endif

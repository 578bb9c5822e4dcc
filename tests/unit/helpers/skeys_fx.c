/* skeys_fx.c - test helper: a store key hierarchy (skeys_fx.h). */
#include "helpers/skeys_fx.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"

int skfx_open(struct skfx *x)
{
	struct cu_skeys_root root;

	cu_log_init("test", CU_LOG_ERROR + 1, 2);
	snprintf(x->dir, sizeof(x->dir), "/tmp/custos-test-skeys-XXXXXX");
	if (mkdtemp(x->dir) == NULL) {
		x->dir[0] = '\0';
		return -1;
	}
	snprintf(x->keyfile, sizeof(x->keyfile), "%s/system.key", x->dir);
	if (cu_smeta_open(":memory:", &x->meta) != 0 ||
	    cu_skeys_root_file(x->keyfile, &root) != 0 ||
	    cu_skeys_new(x->meta, &root, 60, &x->keys) != 0)
		return -1;
	return 0;
}

int skfx_tenant(cu_smeta_t *meta, cu_skeys_t *keys, const char *id,
                const char *akid)
{
	return skfx_tenant_first(meta, keys, id, akid, -1);
}

int skfx_tenant_first(cu_smeta_t *meta, cu_skeys_t *keys, const char *id,
                      const char *akid, int first)
{
	unsigned char w[CU_SKEYS_WRAPPED_MAX], h[CU_SMETA_HASH_LEN] = {0};
	size_t wl = 0;
	struct cu_smeta_tenant_new t = {
	    .id = id,
	    .name = id,
	    .admin_token_hash = h,
	    .access_key_id = akid,
	    .secret_sealed = (const unsigned char *)"s",
	    .secret_sealed_len = 1,
	    .root = CU_SMETA_ROOT_SYSTEM,
	};

	do
		if (cu_skeys_tk_new(keys, w, sizeof(w), &wl) != 0)
			return -1;
	while (first >= 0 && w[0] != first);
	t.tk_wrapped = w;
	t.tk_wrapped_len = wl;
	return cu_smeta_tenant_create(meta, &t) == 0 ? 0 : -1;
}

void skfx_close(struct skfx *x)
{
	cu_skeys_free(x->keys);
	cu_smeta_close(x->meta);
	x->keys = NULL;
	x->meta = NULL;
	if (x->dir[0] != '\0') {
		unlink(x->keyfile);
		rmdir(x->dir);
	}
}

int skfx_teardown(void **state)
{
	struct skfx *x = *state;

	skfx_close(x);
	free(x);
	return 0;
}

/* root_vault.c - a key hierarchy root whose key stays in a vault. */
#include "store/root_vault.h"
#include "core/err.h"
#include "core/secmem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vroot {
	cu_vaultc_t *v;
	char *kid; /* as given: the root's name */
	struct cu_vaultc_kid parsed;
	enum cu_vaultc_alg alg;
	pthread_mutex_t mu; /* guards last, last_version */
	struct cu_vaultc_result last;
	char last_version[CU_VAULTC_VERSION_LEN + 1];
};

int cu_vroot_error(int r, const struct cu_vaultc_result *res)
{
	if (r == 0 || r == CU_ERR_RANGE || r == CU_ERR_NOMEM)
		return r;
	if (res != NULL && cu_vaultc_is_denial(res->reason))
		return CU_ERR_AUTH;
	if (r == CU_ERR_TIMEOUT ||
	    (res != NULL && res->reason == CU_VAULTC_TIMEOUT))
		return CU_ERR_TIMEOUT;
	return CU_ERR_UNAVAILABLE;
}

static void record(struct vroot *c, const struct cu_vaultc_result *res,
                   const char *version)
{
	pthread_mutex_lock(&c->mu);
	c->last = *res;
	snprintf(c->last_version, sizeof(c->last_version), "%s", version);
	pthread_mutex_unlock(&c->mu);
}

static int hexval(char ch)
{
	return ch <= '9' ? ch - '0' : ch - 'a' + 10;
}

/* A full kid naming `version` (32 lowercase hex digits). */
static int versioned_kid(const struct vroot *c, const char *version, char *out,
                         size_t cap)
{
	struct cu_vaultc_kid k = c->parsed;

	memcpy(k.version, version, sizeof(k.version));
	return cu_vaultc_kid_format(&k, out, cap);
}

static int vr_wrap(void *ctx, const unsigned char *in, size_t in_len,
                   unsigned char *out, size_t cap, size_t *out_len)
{
	struct vroot *c = ctx;
	struct cu_vaultc_result res;
	char version[CU_VAULTC_VERSION_LEN + 1] = "";
	int pinned = c->parsed.version[0] != '\0', r;
	size_t hdr = pinned ? 0 : CU_VROOT_HEADER, n = 0;

	*out_len = 0;
	if (cap < hdr + 1)
		return CU_ERR_RANGE;
	r = cu_vaultc_wrap(c->v, c->kid, c->alg, in, in_len, out + hdr,
	                   cap - hdr, &n, version, &res);
	record(c, &res, version);
	if (r != 0)
		return cu_vroot_error(r, &res);
	if (!pinned) {
		/* remember which version wrapped it: unwrap must use it */
		out[0] = CU_VROOT_FORMAT_V1;
		for (size_t i = 0; i < 16; i++)
			out[1 + i] =
			    (unsigned char)(hexval(version[2 * i]) << 4 |
			                    hexval(version[2 * i + 1]));
	}
	*out_len = hdr + n;
	return 0;
}

/* Whether n bytes can be what the vault's wrapkey gave with c's
 * algorithm: A256KW output is whole 8-byte blocks, at least three; RSA's
 * is the modulus size (customer keys are RSA-2048 to 4096). Then a wrap of
 * another root (a key file's, 40 bytes) whose first byte happens to read
 * as CU_VROOT_FORMAT_V1 never sends the vault a version made of random
 * bytes. */
static int payload_fits(const struct vroot *c, size_t n)
{
	if (c->alg == CU_VAULTC_A256KW)
		return n >= 24 && n % 8 == 0;
	return n >= 256 && n <= 512;
}

static int vr_unwrap(void *ctx, const unsigned char *in, size_t in_len,
                     unsigned char *out, size_t cap, size_t *out_len)
{
	static const char hex[] = "0123456789abcdef";
	struct vroot *c = ctx;
	struct cu_vaultc_result res = {0};
	char version[CU_VAULTC_VERSION_LEN + 1] = "";
	char kid[CU_VAULTC_KID_MAX + 1];
	const char *use = c->kid;
	int r;

	*out_len = 0;
	if (c->parsed.version[0] == '\0') {
		char want[CU_VAULTC_VERSION_LEN + 1];
		if (in_len <= CU_VROOT_HEADER || in[0] != CU_VROOT_FORMAT_V1 ||
		    !payload_fits(c, in_len - CU_VROOT_HEADER)) {
			res.reason = CU_VAULTC_UNWRAP_FAILED;
			record(c, &res, "");
			return CU_ERR_AUTH; /* not ours, or altered */
		}
		for (size_t i = 0; i < 16; i++) {
			want[2 * i] = hex[in[1 + i] >> 4];
			want[2 * i + 1] = hex[in[1 + i] & 15];
		}
		want[CU_VAULTC_VERSION_LEN] = '\0';
		if ((r = versioned_kid(c, want, kid, sizeof(kid))) != 0)
			return r;
		use = kid;
		in += CU_VROOT_HEADER;
		in_len -= CU_VROOT_HEADER;
	}
	r = cu_vaultc_unwrap(c->v, use, c->alg, in, in_len, out, cap, out_len,
	                     version, &res);
	record(c, &res, version);
	return cu_vroot_error(r, &res);
}

static void vr_free(void *ctx)
{
	struct vroot *c = ctx;

	if (c == NULL)
		return;
	cu_vaultc_free(c->v);
	free(c->kid);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int cu_vroot_new(cu_vaultc_t *v, const char *kid, enum cu_vaultc_alg alg,
                 struct cu_skeys_root *root)
{
	struct vroot *c = NULL;
	size_t n;

	if (v == NULL || kid == NULL || cu_vaultc_alg_name(alg) == NULL)
		return CU_ERR_INVAL;
	n = strnlen(kid, CU_VAULTC_KID_MAX + 1);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CU_ERR_NOMEM;
	if (cu_vaultc_kid_parse(kid, n, &c->parsed) != 0 ||
	    strcmp(c->parsed.origin, cu_vaultc_origin(v)) != 0) {
		free(c);
		return CU_ERR_INVAL;
	}
	if ((c->kid = strndup(kid, n)) == NULL) {
		free(c);
		return CU_ERR_NOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	c->alg = alg;
	c->v = cu_vaultc_ref(v);
	root->name = c->kid;
	root->wrap = vr_wrap;
	root->unwrap = vr_unwrap;
	root->free = vr_free;
	root->ctx = c;
	return 0;
}

int cu_vroot_is(const struct cu_skeys_root *root)
{
	return root != NULL && root->wrap == vr_wrap && root->ctx != NULL;
}

int cu_vroot_last(const struct cu_skeys_root *root,
                  struct cu_vaultc_result *res,
                  char version[CU_VAULTC_VERSION_LEN + 1])
{
	struct vroot *c;

	if (!cu_vroot_is(root))
		return CU_ERR_INVAL;
	c = root->ctx;
	pthread_mutex_lock(&c->mu);
	*res = c->last;
	if (version != NULL)
		memcpy(version, c->last_version, sizeof(c->last_version));
	pthread_mutex_unlock(&c->mu);
	return 0;
}

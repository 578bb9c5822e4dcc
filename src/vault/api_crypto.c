/* api_crypto.c - key operations of the Azure Key Vault keys REST API:
 * wrapkey, unwrapkey, encrypt, decrypt, sign, verify. The key version's
 * state, attributes and the caller's roles are checked for every
 * operation, as the database says now (read, or answered by the memo only
 * while the database has had no commit since: core/memo.h); its loaded
 * material may come from the keystore's key cache (keycache.h), and this
 * operation's handle on it is released (the last handle wipes) when it is
 * done. */
#include "core/b64.h"
#include "core/err.h"
#include "core/secmem.h"
#include "vault/api_internal.h"
#include "vault/keyops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OP_WRAP, OP_UNWRAP, OP_ENCRYPT, OP_DECRYPT, OP_SIGN, OP_VERIFY };

static const unsigned op_bits[] = {
    CU_VKS_OP_WRAP,    CU_VKS_OP_UNWRAP, CU_VKS_OP_ENCRYPT,
    CU_VKS_OP_DECRYPT, CU_VKS_OP_SIGN,   CU_VKS_OP_VERIFY,
};

const char *cu_vapi_refusal(int r, const struct cu_vks_key *m, unsigned op,
                            const char *why, char *msg, size_t cap)
{
	const char *name = cu_vks_op_name(op);

	/* Azure's texts and codes; the store's vault client (vaultc.c)
	 * tells the reasons apart by these phrases too */
	if (r == CU_ERR_DENIED) {
		snprintf(msg, cap, "Operation %s is not permitted on this key.",
		         name);
		return "KeyOperationForbidden";
	}
	if (!m->enabled) {
		snprintf(msg, cap,
		         "Operation %s is not allowed on a disabled key.",
		         name);
		return "KeyDisabled";
	}
	snprintf(msg, cap, "Operation %s is not allowed: %s.", name,
	         why ? why : "the key is outside its validity period");
	return NULL;
}

static int key_op(cu_http_req_t *req, struct cu_vapi_req *vr, int op)
{
	unsigned char *in = NULL, *out = NULL, *sig = NULL;
	size_t in_len = 0, in_cap = 0, out_len = 0, sig_len = 0, sig_cap = 0;
	struct cu_vks_key meta = {0};
	json_t *body = NULL, *res = NULL;
	cu_vko_t *k = NULL;
	const char *why = NULL, *why2 = NULL, *algname;
	char kid[CU_VAPI_URL_MAX + 2 * CU_VKS_NAME_MAX], msg[256];
	char *enc = NULL;
	int alg = 0, r, in_secret = op == OP_WRAP || op == OP_ENCRYPT;
	int kind = op >= OP_SIGN ? 's' : 'e';

	if (cu_vapi_body(req, &body) != 0)
		return 0;
	algname = json_string_value(json_object_get(body, "alg"));
	if ((r = cu_vko_alg_parse(algname, &alg, &why)) != 0) {
		if (r == CU_ERR_INVAL) {
			snprintf(msg, sizeof(msg),
			         "'alg' %.40s is not a known algorithm",
			         algname ? algname : "(missing)");
			why = msg;
		}
		r = cu_vapi_error(req, 400, "BadParameter", why);
		goto out;
	}
	if (cu_vapi_b64_member(req, body, op == OP_VERIFY ? "digest" : "value",
	                       CU_VKO_MAX_IN, in_secret, &in, &in_len,
	                       &in_cap) != 0 ||
	    (op == OP_VERIFY &&
	     cu_vapi_b64_member(req, body, "value", CU_VKO_MAX_OUT, 0, &sig,
	                        &sig_len, &sig_cap) != 0)) {
		r = 0;
		goto out;
	}
	r = cu_vks_use(vr->api->vks, vr->key, vr->version, op_bits[op],
	               (int64_t)time(NULL), &k, &meta, &why);
	if ((r == CU_ERR_STATE || r == CU_ERR_DENIED) &&
	    cu_vko_alg_fits_type(meta.kty, meta.size, alg, kind, &why2) != 0) {
		r = cu_vapi_error(req, 400, "BadParameter", why2);
		goto out;
	}
	if (r == CU_ERR_STATE || r == CU_ERR_DENIED) {
		const char *inner = cu_vapi_refusal(r, &meta, op_bits[op], why,
		                                    msg, sizeof(msg));
		r = cu_vapi_error_inner(req, 403, "Forbidden", inner, msg);
		goto out;
	}
	if (r != 0) {
		r = cu_vapi_fail(req, r, NULL);
		goto out;
	}
	snprintf(vr->version, sizeof(vr->version), "%s", meta.version);
	if (cu_vko_alg_fits(k, alg, kind, &why) != 0) {
		r = cu_vapi_error(req, 400, "BadParameter", why);
		goto out;
	}
	if ((out = cu_secmem_alloc(CU_VKO_MAX_OUT)) == NULL) {
		r = cu_vapi_fail(req, CU_ERR_NOMEM, NULL);
		goto out;
	}
	switch (op) {
	case OP_WRAP:
	case OP_ENCRYPT:
		r = cu_vko_encrypt(k, alg, in, in_len, out, CU_VKO_MAX_OUT,
		                   &out_len);
		if (r == CU_ERR_INVAL)
			why = "the value's length does not fit the algorithm "
			      "and key (A256KW: a multiple of 8 bytes from 16;"
			      " RSA-OAEP: at most the modulus size minus the "
			      "padding)";
		break;
	case OP_UNWRAP:
	case OP_DECRYPT:
		r = cu_vko_decrypt(k, alg, in, in_len, out, CU_VKO_MAX_OUT,
		                   &out_len);
		if (r == CU_ERR_AUTH || r == CU_ERR_INVAL) {
			r = CU_ERR_AUTH;
			why = "the value does not decrypt under this key "
			      "version and algorithm";
		}
		break;
	case OP_SIGN:
		r = cu_vko_sign(k, alg, in, in_len, out, CU_VKO_MAX_OUT,
		                &out_len);
		if (r == CU_ERR_INVAL)
			why = "the digest's length does not match the "
			      "algorithm's hash";
		break;
	default:
		r = cu_vko_verify(k, alg, in, in_len, sig, sig_len);
		if (r == 0 || r == CU_ERR_AUTH) {
			res = json_pack("{s:b}", "value", r == 0);
			r = 0;
		}
		break;
	}
	if (r != 0) {
		r = cu_vapi_fail(req, r, why);
		goto out;
	}
	if (res == NULL) {
		cu_vapi_kid(vr, meta.name, meta.version, kid, sizeof(kid));
		if ((r = cu_b64url_encode_alloc(out, out_len, &enc)) != 0 ||
		    (res = json_pack("{s:s,s:s}", "kid", kid, "value", enc)) ==
		        NULL) {
			r = cu_vapi_fail(req, CU_ERR_NOMEM, NULL);
			goto out;
		}
	}
	r = cu_vapi_ok(req, 200, res);
	res = NULL;
out:
	if (enc != NULL) {
		cu_memzero(enc, strlen(enc));
		free(enc);
	}
	json_decref(res);
	cu_secmem_free(out, CU_VKO_MAX_OUT);
	cu_vapi_buf_free(in, in_cap, in_secret);
	cu_vapi_buf_free(sig, sig_cap, 0);
	cu_vko_free(k);
	cu_vks_key_clear(&meta);
	json_decref(body);
	return r;
}

static int wrap(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	return key_op(req, vr, OP_WRAP);
}

static int unwrap(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	return key_op(req, vr, OP_UNWRAP);
}

static int encrypt(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	return key_op(req, vr, OP_ENCRYPT);
}

static int decrypt(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	return key_op(req, vr, OP_DECRYPT);
}

static int sign(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	return key_op(req, vr, OP_SIGN);
}

static int verify(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	return key_op(req, vr, OP_VERIFY);
}

int cu_vapi_mount_crypto(cu_vapi_t *api, cu_http_server_t *srv)
{
	static const struct {
		const char *op;
		unsigned perm;
		cu_vapi_fn fn;
	} ops[] = {
	    {"wrapkey", CU_VPERM_WRAP, wrap},
	    {"unwrapkey", CU_VPERM_UNWRAP, unwrap},
	    {"encrypt", CU_VPERM_ENCRYPT, encrypt},
	    {"decrypt", CU_VPERM_DECRYPT, decrypt},
	    {"sign", CU_VPERM_SIGN, sign},
	    {"verify", CU_VPERM_VERIFY, verify},
	};
	static char patterns[6][48];
	int r;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct cu_vapi_route rt = {
		    .methods = CU_HTTP_POST,
		    .op = ops[i].op,
		    .perm = ops[i].perm,
		    .keys_api = 1,
		    .key_scoped = 1,
		    .fn = ops[i].fn,
		};
		snprintf(patterns[i], sizeof(patterns[i]),
		         "/keys/{name}/{version}/%s", ops[i].op);
		rt.pattern = patterns[i];
		if ((r = cu_vapi_add(api, srv, &rt)) != 0)
			return r;
	}
	return 0;
}

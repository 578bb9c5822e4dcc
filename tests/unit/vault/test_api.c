/* Unit tests for the vault's Azure error bodies (api_common.c) and its
 * answers to a refused key operation (api_crypto.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "vault/api_internal.h"

/* The compact JSON of body, which is consumed; the caller frees. */
static char *dump(json_t *body)
{
	char *s;

	assert_non_null(body);
	s = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(body);
	assert_non_null(s);
	return s;
}

static void an_error_body_has_an_innererror_only_when_given_one(void **state)
{
	char *s;

	(void)state;
	s = dump(cu_vapi_error_body("KeyNotFound", NULL, "no such key"));
	assert_string_equal(
	    s, "{\"error\":{\"code\":\"KeyNotFound\",\"message\":\"no such "
	       "key\"}}");
	free(s);
	s = dump(cu_vapi_error_body("Forbidden", "ForbiddenByRbac", "no"));
	assert_string_equal(s, "{\"error\":{\"code\":\"Forbidden\","
	                       "\"innererror\":{\"code\":\"ForbiddenByRbac\"},"
	                       "\"message\":\"no\"}}");
	free(s);
}

static void a_disabled_key_is_refused_as_azure_does(void **state)
{
	struct cu_vks_key m = {.enabled = 0, .ops = 0};
	char msg[256];

	(void)state;
	/* disabled wins over key_ops, as the keystore checks it first */
	assert_string_equal(cu_vapi_refusal(CU_ERR_STATE, &m, CU_VKS_OP_UNWRAP,
	                                    "the key is disabled", msg,
	                                    sizeof(msg)),
	                    "KeyDisabled");
	assert_string_equal(
	    msg, "Operation unwrapKey is not allowed on a disabled key.");
}

static void an_operation_outside_key_ops_is_refused_as_azure_does(void **state)
{
	struct cu_vks_key m = {.enabled = 1, .ops = CU_VKS_OP_WRAP};
	char msg[256];

	(void)state;
	assert_string_equal(
	    cu_vapi_refusal(CU_ERR_DENIED, &m, CU_VKS_OP_DECRYPT,
	                    "the key's key_ops do not permit this operation",
	                    msg, sizeof(msg)),
	    "KeyOperationForbidden");
	assert_string_equal(msg,
	                    "Operation decrypt is not permitted on this key.");
}

static void an_expired_or_early_key_gets_no_innererror(void **state)
{
	struct cu_vks_key m = {.enabled = 1, .exp = 1};
	char msg[256];

	(void)state;
	assert_null(cu_vapi_refusal(CU_ERR_STATE, &m, CU_VKS_OP_WRAP,
	                            "the key has expired (exp)", msg,
	                            sizeof(msg)));
	assert_string_equal(
	    msg,
	    "Operation wrapKey is not allowed: the key has expired (exp).");
	m.exp = 0;
	m.nbf = 1;
	assert_null(cu_vapi_refusal(CU_ERR_STATE, &m, CU_VKS_OP_SIGN,
	                            "the key is not yet valid (nbf)", msg,
	                            sizeof(msg)));
	assert_string_equal(
	    msg,
	    "Operation sign is not allowed: the key is not yet valid (nbf).");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        an_error_body_has_an_innererror_only_when_given_one),
	    cmocka_unit_test(a_disabled_key_is_refused_as_azure_does),
	    cmocka_unit_test(
	        an_operation_outside_key_ops_is_refused_as_azure_does),
	    cmocka_unit_test(an_expired_or_early_key_gets_no_innererror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

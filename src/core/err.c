#include "core/err.h"

static const struct {
	const char *name;
	const char *text;
} table[] = {
    {"CU_OK", "success"},
    {"CU_ERR_NOMEM", "out of memory"},
    {"CU_ERR_INVAL", "invalid argument"},
    {"CU_ERR_RANGE", "value out of range"},
    {"CU_ERR_CRYPTO", "cryptographic library failure"},
    {"CU_ERR_AUTH", "authentication failed"},
    {"CU_ERR_IO", "input/output error"},
    {"CU_ERR_NOTFOUND", "not found"},
    {"CU_ERR_EXISTS", "already exists"},
    {"CU_ERR_DENIED", "permission denied"},
    {"CU_ERR_UNSUPPORTED", "not supported"},
    {"CU_ERR_PARSE", "malformed input"},
    {"CU_ERR_TIMEOUT", "timed out"},
    {"CU_ERR_UNAVAILABLE", "service unavailable"},
    {"CU_ERR_STATE", "not allowed in the current state"},
    {"CU_ERR_TOOLARGE", "input too large"},
    {"CU_ERR_DB", "database error"},
    {"CU_ERR_INTERNAL", "internal error"},
};

_Static_assert(sizeof(table) / sizeof(table[0]) == 1 - CU_ERR_MIN,
               "error table must list every CU_ERR_* code");

const char *cu_strerror(int err)
{
	if (err > 0 || err < CU_ERR_MIN)
		return "unknown error";
	return table[-err].text;
}

const char *cu_errname(int err)
{
	if (err > 0 || err < CU_ERR_MIN)
		return "CU_ERR_UNKNOWN";
	return table[-err].name;
}

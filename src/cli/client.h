/* client.h - the HTTPS call that the API client commands (custos key,
 * custos vault principal|role|..., custos tenant) share: a JSON request
 * with a bearer token over libcurl, and the printing of an API error. */
#ifndef CU_CLI_CLIENT_H
#define CU_CLI_CLIENT_H

#include <jansson.h>

/* cu_client_call - send `method` to base_url followed by path, with
 * "Authorization: Bearer token", TLS 1.2 or later, trusting the CA file
 * `ca` (NULL: the system's), and `body` (not NULL: sent as compact JSON;
 * NULL: no body, or an empty one for POST and PUT). *reply gets the
 * parsed JSON reply (NULL when there is none or it does not parse; the
 * caller json_decref's it). Returns the HTTP status, or -1 when the
 * request did not complete (told on stderr, prefixed with prog). */
long cu_client_call(const char *prog, const char *base_url, const char *token,
                    const char *ca, const char *method, const char *path,
                    json_t *body, json_t **reply);

/* cu_client_print_error - tell the user on stderr about an API error:
 * "PROG: HTTP STATUS CODE: MESSAGE" from the reply's error object
 * (reply may be NULL). */
void cu_client_print_error(const char *prog, long status, json_t *reply);

#endif

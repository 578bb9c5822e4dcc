/* client.c - the API client commands' HTTPS call (libcurl). */
#include "cli/client.h"
#include "core/secmem.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPLY (4 * 1024 * 1024)

struct buf {
	char *p;
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t add = size * n;
	char *g;

	if (b->len + add > MAX_REPLY)
		return 0;
	if ((g = realloc(b->p, b->len + add + 1)) == NULL)
		return 0;
	b->p = g;
	memcpy(b->p + b->len, p, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

long cu_client_call(const char *prog, const char *base_url, const char *token,
                    const char *ca, const char *method, const char *path,
                    json_t *body, json_t **reply)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	struct buf b = {0};
	char url[2048], auth[700];
	char *text = NULL;
	long status = -1;
	CURLcode rc;

	*reply = NULL;
	if (h == NULL)
		return -1;
	snprintf(url, sizeof(url), "%s%s", base_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	hdr = curl_slist_append(hdr, auth);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
	if (ca != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text ? text : "{}");
	} else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		fprintf(stderr, "%s: %s %s: %s\n", prog, method, url,
		        curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (b.len > 0)
		*reply = json_loadb(b.p, b.len, 0, NULL);
out:
	/* a body may carry key material (an import, a wrap) */
	if (text != NULL)
		cu_memzero(text, strlen(text));
	free(text);
	free(b.p);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	cu_memzero(auth, sizeof(auth));
	return status;
}

void cu_client_print_error(const char *prog, long status, json_t *reply)
{
	json_t *e = json_object_get(reply, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	fprintf(stderr, "%s: HTTP %ld %s: %s\n", prog, status, code ? code : "",
	        msg ? msg : "");
}

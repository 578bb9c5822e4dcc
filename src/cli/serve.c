/* serve.c - the daemon command lines' shared start and stop. */
#include "cli/serve.h"
#include "core/err.h"
#include "core/http/server.h"
#include "core/log.h"
#include "core/secmem.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECMEM_ARENA (1u << 20)

int cu_serve_parse_listen(const char *s, char *addr, size_t cap, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	const char *a = s;
	size_t alen;
	char *end = NULL;
	unsigned long p;

	if (colon == NULL || colon[1] == '\0')
		return CU_ERR_INVAL;
	alen = (size_t)(colon - s);
	if (alen >= 2 && s[0] == '[' && s[alen - 1] == ']') {
		a = s + 1;
		alen -= 2;
	}
	if (alen == 0 || alen >= cap)
		return CU_ERR_INVAL;
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	/* strtoul would take a sign */
	if (colon[1] == '-' || colon[1] == '+')
		return CU_ERR_INVAL;
	p = strtoul(colon + 1, &end, 10);
	if (end == NULL || *end != '\0' || p > 65535)
		return CU_ERR_INVAL;
	*port = (uint16_t)p;
	return 0;
}

int cu_serve_log_level(const char *prog, const char *s, int *level)
{
	if (cu_log_level_parse(s, level) != 0) {
		fprintf(stderr, "%s: bad --log-level '%s'\n", prog, s);
		return 2;
	}
	return 0;
}

int cu_serve_prepare(const char *name, int level)
{
	int rc;

	cu_log_init(name, level, 2);
	if (cu_proc_harden() != 0) {
		cu_log(CU_LOG_ERROR, "cannot disable core dumps", NULL);
		return 1;
	}
	if ((rc = cu_secmem_init(SECMEM_ARENA)) != 0)
		cu_log(CU_LOG_WARN, "running without locked memory",
		       json_pack("{s:s}", "error", cu_strerror(rc)));
	/* before any thread exists, so every thread inherits the mask */
	if (cu_http_signals_block() != 0) {
		cu_log(CU_LOG_ERROR, "cannot block signals", NULL);
		return 1;
	}
	return 0;
}

void cu_serve_wait(const char *url, uint16_t port)
{
	int sig;

	cu_log(CU_LOG_INFO, "listening",
	       json_pack("{s:s, s:i}", "url", url, "port", (int)port));
	sig = cu_http_signals_wait();
	cu_log(
	    CU_LOG_INFO, "stopping",
	    json_pack("{s:s}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
}

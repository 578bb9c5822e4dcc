/* custos dev - a whole local deployment for newcomers and the e2e tests:
 * a local CA, the operator's vault, one tenant vault, the store, each a
 * separate process of this binary on 127.0.0.1 with TLS. */
#include "cli/cli.h"
#include "cli/supervise.h"
#include "core/err.h"
#include "core/pki.h"
#include "core/secmem.h"

#include <curl/curl.h>
#include <jansson.h>

#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct service {
	const char *name;  /* child name and log file */
	const char *label; /* for people */
	const char *env;   /* variable holding its URL */
	int tenant; /* 1: the tenant's vault (purge protection, store principal)
	             */
	int port;
	char url[64];
	char token[128]; /* its first administrator's token */
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: custos dev [--dir DIR] [--port-base N]\n"
	        "\n"
	        "Start a complete local custos on 127.0.0.1 with TLS from a "
	        "fresh local CA:\n"
	        "the operator's vault, one tenant vault and (when built) the "
	        "store. When every\n"
	        "service answers, write DIR/env (shell export lines) and print "
	        "the same.\n"
	        "Runs until SIGINT or SIGTERM, then stops every process it "
	        "started.\n"
	        "\n"
	        "  --dir DIR        state, certificates and logs "
	        "(default ./.custos-dev)\n"
	        "  --port-base N    listen on N+1, N+2, ... (default 8440); 0 "
	        "picks free ports\n");
}

/* A port nothing listens on now. Racy in principle; fine for a dev run. */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port = -1;

	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "custos dev: cannot create %s: %s\n", path,
		        strerror(errno));
		return CU_ERR_IO;
	}
	return 0;
}

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int setup_pki(const char *pki)
{
	char path[1024];
	int r;

	snprintf(path, sizeof(path), "%s/%s", pki, CU_PKI_CA_CERT);
	if (!file_exists(path)) {
		if ((r = cu_pki_init_dir(pki, NULL, 0)) != 0) {
			fprintf(stderr,
			        "custos dev: cannot make the local CA "
			        "in %s: %s\n",
			        pki, cu_strerror(r));
			return r;
		}
	}
	snprintf(path, sizeof(path), "%s/client-custos-store.pem", pki);
	if (!file_exists(path)) {
		if ((r = cu_pki_issue_client_dir(pki, "custos-store", NULL)) !=
		    0) {
			fprintf(stderr,
			        "custos dev: cannot issue the store's "
			        "client certificate: %s\n",
			        cu_strerror(r));
			return r;
		}
	}
	return 0;
}

static int start_vault(struct cu_sup *sup, const char *dir, const char *pki,
                       struct service *svc)
{
	char listen[64], cert[1024], key[1024], ca[1024], data[1024], log[1024];
	char *argv[20];
	int i = 0;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", svc->port);
	snprintf(cert, sizeof(cert), "%s/%s", pki, CU_PKI_SERVER_CERT);
	snprintf(key, sizeof(key), "%s/%s", pki, CU_PKI_SERVER_KEY);
	snprintf(ca, sizeof(ca), "%s/%s", pki, CU_PKI_CA_CERT);
	snprintf(data, sizeof(data), "%s/%s", dir, svc->name);
	snprintf(log, sizeof(log), "%s/logs/%s.log", dir, svc->name);
	if (make_dir(data) != 0)
		return CU_ERR_IO;
	argv[i++] = "vault";
	argv[i++] = "serve";
	argv[i++] = "--listen";
	argv[i++] = listen;
	argv[i++] = "--tls-cert";
	argv[i++] = cert;
	argv[i++] = "--tls-key";
	argv[i++] = key;
	argv[i++] = "--client-ca";
	argv[i++] = ca;
	argv[i++] = "--data";
	argv[i++] = data;
	argv[i++] = "--public-url";
	snprintf(svc->url, sizeof(svc->url), "https://127.0.0.1:%d", svc->port);
	argv[i++] = svc->url;
	if (svc->tenant)
		argv[i++] = "--purge-protection";
	argv[i] = NULL;
	return cu_sup_spawn(sup, svc->name, argv, log);
}

/* The vault writes its first administrator's token into its data dir. */
static int read_token(const char *dir, struct service *svc)
{
	char path[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s/admin.token", dir, svc->name);
	f = fopen(path, "r");
	if (f == NULL)
		return CU_ERR_NOTFOUND;
	n = fread(svc->token, 1, sizeof(svc->token) - 1, f);
	fclose(f);
	while (n > 0 &&
	       (svc->token[n - 1] == '\n' || svc->token[n - 1] == '\r'))
		n--;
	svc->token[n] = '\0';
	return n > 0 ? 0 : CU_ERR_PARSE;
}

static size_t discard(void *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

/* PUT a JSON body to the vault's admin API as its administrator. */
static int admin_put(const struct service *svc, const char *ca,
                     const char *path, json_t *body)
{
	char url[256], auth[200];
	char *text = json_dumps(body, JSON_COMPACT);
	struct curl_slist *hdrs = NULL;
	CURL *h = curl_easy_init();
	long code = 0;
	int r = CU_ERR_UNAVAILABLE;

	if (text == NULL || h == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	snprintf(url, sizeof(url), "%s%s", svc->url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", svc->token);
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(h) == CURLE_OK &&
	    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
		r = code >= 200 && code < 300 ? 0 : CU_ERR_DENIED;
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	free(text);
	cu_memzero(auth, sizeof(auth));
	json_decref(body);
	return r;
}

/* Register the store as principal `custos-store` of the tenant's vault,
 * identified by its client certificate: a tenant then grants it access
 * with a role assignment, and no secret changes hands. No role yet. */
static int register_store(const struct service *svc, const char *pki,
                          const char *ca)
{
	char path[1024], fp[CU_PKI_FINGERPRINT_LEN + 1];
	char *pem = NULL;
	size_t len = 0;
	int r;

	snprintf(path, sizeof(path), "%s/client-custos-store.pem", pki);
	if ((r = cu_pki_read_file(path, 65536, &pem, &len)) != 0)
		return r;
	r = cu_pki_fingerprint(pem, len, fp);
	cu_pki_pem_free(pem);
	if (r != 0)
		return r;
	return admin_put(svc, ca, "/admin/v1/principals/custos-store",
	                 json_pack("{s:s, s:s}", "auth", "certificate",
	                           "certificate_sha256", fp));
}

static void print_exports(FILE *f, const char *ca, const struct service *svcs,
                          int n)
{
	fprintf(f, "export CUSTOS_CA_FILE='%s'\n", ca);
	for (int i = 0; i < n; i++) {
		fprintf(f, "export %s='%s'\n", svcs[i].env, svcs[i].url);
		if (svcs[i].tenant)
			fprintf(f, "export CUSTOS_TENANT_VAULT_TOKEN='%s'\n",
			        svcs[i].token);
	}
	fprintf(f, "export CUSTOS_STORE_PRINCIPAL='custos-store'\n");
}

static int write_env(const char *dir, const char *ca, struct service *svcs,
                     int n)
{
	char path[1024], tmp[1100];
	FILE *f;

	snprintf(path, sizeof(path), "%s/env", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return CU_ERR_IO;
	print_exports(f, ca, svcs, n);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		return CU_ERR_IO;
	}
	fclose(f);
	chmod(tmp, 0600);
	if (rename(tmp, path) != 0)
		return CU_ERR_IO;
	return 0;
}

int cu_cli_dev(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"port-base", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct service svcs[] = {
	    {.name = "operator-vault",
	     .label = "operator vault",
	     .env = "CUSTOS_OPERATOR_VAULT_URL"},
	    {.name = "tenant-vault",
	     .label = "tenant vault",
	     .env = "CUSTOS_TENANT_VAULT_URL",
	     .tenant = 1},
	};
	const int nsvc = (int)(sizeof(svcs) / sizeof(svcs[0]));
	struct cu_sup sup = {0};
	char dir[512] = ".custos-dev", pki[600], logs[600], ca[700], url[128];
	long base = 8440;
	int c, r, status = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'd':
			snprintf(dir, sizeof(dir), "%s", optarg);
			break;
		case 'p':
			errno = 0;
			base = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || base < 0 ||
			    base > 65535 - nsvc) {
				fprintf(stderr,
				        "custos dev: --port-base must be 0 or "
				        "a port number below %d\n",
				        65535 - nsvc);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	if (dir[0] != '/') {
		char cwd[256], rel[512];
		int n;
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return 1;
		snprintf(rel, sizeof(rel), "%s", dir);
		n = snprintf(dir, sizeof(dir), "%s/%s", cwd, rel);
		if (n < 0 || (size_t)n >= sizeof(dir)) {
			fprintf(stderr, "custos dev: --dir path too long\n");
			return 2;
		}
	}
	snprintf(pki, sizeof(pki), "%s/pki", dir);
	snprintf(logs, sizeof(logs), "%s/logs", dir);
	snprintf(ca, sizeof(ca), "%s/%s", pki, CU_PKI_CA_CERT);
	if (make_dir(dir) != 0 || make_dir(logs) != 0 || setup_pki(pki) != 0)
		return 1;

	cu_sup_block_signals();
	for (int i = 0; i < nsvc; i++) {
		svcs[i].port = base ? (int)base + 1 + i : free_port();
		if (svcs[i].port <= 0 ||
		    (r = start_vault(&sup, dir, pki, &svcs[i])) != 0) {
			fprintf(stderr, "custos dev: cannot start the %s\n",
			        svcs[i].label);
			goto out;
		}
	}
	for (int i = 0; i < nsvc; i++) {
		snprintf(url, sizeof(url), "%s/healthz", svcs[i].url);
		r = cu_sup_wait_http(&sup, svcs[i].name, url, ca, 30000);
		if (r != 0) {
			fprintf(stderr,
			        "custos dev: the %s did not come up (%s); see "
			        "%s/%s.log\n",
			        svcs[i].label, cu_strerror(r), logs,
			        svcs[i].name);
			goto out;
		}
	}
	for (int i = 0; i < nsvc; i++) {
		if ((r = read_token(dir, &svcs[i])) != 0) {
			fprintf(stderr,
			        "custos dev: no administrator token in "
			        "%s/%s/admin.token (%s)\n",
			        dir, svcs[i].name, cu_strerror(r));
			goto out;
		}
		if (svcs[i].tenant &&
		    (r = register_store(&svcs[i], pki, ca)) != 0) {
			fprintf(stderr,
			        "custos dev: cannot register principal "
			        "custos-store in the %s: %s; see %s/%s.log\n",
			        svcs[i].label, cu_strerror(r), logs,
			        svcs[i].name);
			goto out;
		}
	}
	if ((r = write_env(dir, ca, svcs, nsvc)) != 0) {
		fprintf(stderr, "custos dev: cannot write %s/env: %s\n", dir,
		        cu_strerror(r));
		goto out;
	}

	printf("custos dev is up. Services (logs in %s):\n", logs);
	for (int i = 0; i < nsvc; i++)
		printf("  %-16s %s\n", svcs[i].label, svcs[i].url);
	printf("\nTo use it from a shell:  . %s/env\n\n", dir);
	print_exports(stdout, ca, svcs, nsvc);
	printf("\nPress Ctrl-C to stop.\n");
	fflush(stdout);

	if (cu_sup_wait(&sup) != 0) {
		for (int i = 0; i < sup.n; i++) {
			if (sup.children[i].exited)
				fprintf(stderr,
				        "custos dev: the %s stopped "
				        "unexpectedly; see %s\n",
				        sup.children[i].name,
				        sup.children[i].log);
		}
		goto out;
	}
	status = 0;
out:
	if (cu_sup_stop_all(&sup, 10000) != 0 && status == 0) {
		fprintf(stderr,
		        "custos dev: a service did not stop cleanly; "
		        "see %s\n",
		        logs);
		status = 1;
	}
	if (status == 0)
		printf("custos dev: stopped\n");
	return status;
}

/* custos dev - a whole local deployment for newcomers and the e2e tests:
 * a local CA, the operator's vault, one tenant vault and the store, each a
 * separate process of this binary on 127.0.0.1 with TLS (DESIGN.md
 * section 7 fixes what it starts and the variables it exports). The
 * vaults start first: the store validates its system key and
 * availability key in the operator's vault when it starts. */
#include "cli/cli.h"
#include "cli/supervise.h"
#include "core/err.h"
#include "core/pki.h"
#include "core/secmem.h"

#include <curl/curl.h>
#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum kind { OPERATOR_VAULT, TENANT_VAULT, STORE };

struct service {
	const char *name;  /* child name, data dir and log file */
	const char *label; /* for people */
	const char *env;   /* variable holding its URL */
	enum kind kind;
	int port;
	char url[64];
	char token[160]; /* vault: first administrator's; store: operator's */
};

/* The service of that kind among svcs[0..n), or NULL. */
static struct service *by_kind(struct service *svcs, int n, enum kind kind)
{
	for (int i = 0; i < n; i++)
		if (svcs[i].kind == kind)
			return &svcs[i];
	return NULL;
}

/* The demo tenant, as the store's admin API created it. */
struct tenant {
	char id[64];
	char access_key_id[64];
	char secret[128];
	char admin_token[160];
};

#define DEMO_TENANT          "demo"
#define DEV_SYSTEM_KEY       "system-key"
#define DEV_AVAILABILITY_KEY "availability-key"
#define CSEU_ROLE            "Key Vault Crypto Service Encryption User"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: custos dev [--dir DIR] [--port-base N]\n"
	        "\n"
	        "Start a complete local custos on 127.0.0.1 with TLS from a "
	        "fresh local CA:\n"
	        "the operator's vault (the store's system key and availability "
	        "key, the store\n"
	        "its principal custos-store with Key Vault Crypto Service "
	        "Encryption User on\n"
	        "each), one tenant vault (soft delete and purge "
	        "protection on,\n"
	        "the store registered as principal custos-store by its client "
	        "certificate,\n"
	        "no role granted), the store, and one demo tenant. When every "
	        "service\n"
	        "answers, write DIR/env (shell export lines) and print the "
	        "same. Runs until\n"
	        "SIGINT or SIGTERM, then stops every process it started. A "
	        "second run with\n"
	        "the same DIR keeps its keys, objects and tenant.\n"
	        "\n"
	        "  --dir DIR        state, certificates and logs "
	        "(default ./.custos-dev)\n"
	        "  --port-base N    listen on N+1, N+2, N+3 (default 8440); 0 "
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
	if (!file_exists(path) && (r = cu_pki_init_dir(pki, NULL, 0)) != 0) {
		fprintf(stderr,
		        "custos dev: cannot make the local CA in %s: %s\n", pki,
		        cu_strerror(r));
		return r;
	}
	snprintf(path, sizeof(path), "%s/client-custos-store.pem", pki);
	if (!file_exists(path) &&
	    (r = cu_pki_issue_client_dir(pki, "custos-store", NULL)) != 0) {
		fprintf(stderr,
		        "custos dev: cannot issue the store's client "
		        "certificate: %s\n",
		        cu_strerror(r));
		return r;
	}
	return 0;
}

static int start_service(struct cu_sup *sup, const char *dir, const char *pki,
                         struct service *svc, const struct service *opvault)
{
	char listen[64], cert[1024], key[1024], ca[1024], data[1024], log[1024],
	    tokfile[1100], ccert[1024], ckey[1024], sk[200], avk[200];
	char *argv[32];
	int i = 0;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", svc->port);
	snprintf(cert, sizeof(cert), "%s/%s", pki, CU_PKI_SERVER_CERT);
	snprintf(key, sizeof(key), "%s/%s", pki, CU_PKI_SERVER_KEY);
	snprintf(ca, sizeof(ca), "%s/%s", pki, CU_PKI_CA_CERT);
	snprintf(data, sizeof(data), "%s/%s", dir, svc->name);
	snprintf(log, sizeof(log), "%s/logs/%s.log", dir, svc->name);
	snprintf(svc->url, sizeof(svc->url), "https://127.0.0.1:%d", svc->port);
	if (make_dir(data) != 0)
		return CU_ERR_IO;
	argv[i++] = svc->kind == STORE ? "store" : "vault";
	argv[i++] = "serve";
	argv[i++] = "--listen";
	argv[i++] = listen;
	argv[i++] = "--tls-cert";
	argv[i++] = cert;
	argv[i++] = "--tls-key";
	argv[i++] = key;
	argv[i++] = "--data";
	argv[i++] = data;
	if (svc->kind == STORE) {
		snprintf(tokfile, sizeof(tokfile), "%s/operator.token", data);
		snprintf(ccert, sizeof(ccert), "%s/client-custos-store.pem",
		         pki);
		snprintf(ckey, sizeof(ckey), "%s/client-custos-store-key.pem",
		         pki);
		argv[i++] = "--operator-token-file";
		argv[i++] = tokfile;
		argv[i++] = "--client-cert";
		argv[i++] = ccert;
		argv[i++] = "--client-key";
		argv[i++] = ckey;
		/* tenants' vaults chain to the local CA; a purge's grace is
		 * a minute here, not the production day */
		argv[i++] = "--vault-ca";
		argv[i++] = ca;
		argv[i++] = "--purge-grace-seconds";
		argv[i++] = "60";
		/* the system key and the availability key live in the
		 * operator's vault, which the store reaches by its
		 * certificate as the tenants' vaults */
		if (opvault != NULL) {
			snprintf(sk, sizeof(sk), "%s/keys/%s", opvault->url,
			         DEV_SYSTEM_KEY);
			snprintf(avk, sizeof(avk), "%s/keys/%s", opvault->url,
			         DEV_AVAILABILITY_KEY);
			argv[i++] = "--system-key";
			argv[i++] = sk;
			argv[i++] = "--availability-key";
			argv[i++] = avk;
		}
	} else {
		argv[i++] = "--client-ca";
		argv[i++] = ca;
		argv[i++] = "--public-url";
		argv[i++] = svc->url;
		/* both vaults: the tenant's for CMK validation, the
		 * operator's because the store requires it of its own keys */
		argv[i++] = "--purge-protection";
	}
	argv[i] = NULL;
	return cu_sup_spawn(sup, svc->name, argv, log);
}

/* Read a one-line secret file (a token) into buf, without its newline. */
static int read_line_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return CU_ERR_NOTFOUND;
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return n > 0 ? 0 : CU_ERR_PARSE;
}

static size_t collect(void *p, size_t size, size_t n, void *ud)
{
	json_t **reply = ud;
	/* replies here are small JSON documents; keep the first parse */
	if (*reply == NULL)
		*reply = json_loadb(p, size * n, 0, NULL);
	return size * n;
}

/* One JSON request to an admin API as `token`. Returns the HTTP status
 * (0 when there was no answer); *reply (may be NULL) gets the parsed body
 * if it was JSON. Consumes `body` (may be NULL). */
static long admin_call(const char *method, const char *url, const char *ca,
                       const char *token, json_t *body, json_t **reply)
{
	char auth[200];
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	struct curl_slist *hdrs = NULL;
	json_t *got = NULL;
	CURL *h = curl_easy_init();
	long code = 0;

	if (h == NULL || (body != NULL && text == NULL))
		goto out;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (text != NULL)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(h) != CURLE_OK ||
	    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
		code = 0;
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	free(text);
	cu_memzero(auth, sizeof(auth));
	json_decref(body);
	if (reply != NULL)
		*reply = got;
	else
		json_decref(got);
	return code;
}

/* Register the store as principal `custos-store` of the tenant's vault,
 * identified by its client certificate: the tenant then grants it access
 * with a role assignment, and no secret changes hands. No role yet. */
static int register_store(const struct service *vault, const char *pki,
                          const char *ca)
{
	char path[1024], url[256], fp[CU_PKI_FINGERPRINT_LEN + 1];
	char *pem = NULL;
	size_t len = 0;
	long code;
	int r;

	snprintf(path, sizeof(path), "%s/client-custos-store.pem", pki);
	if ((r = cu_pki_read_file(path, 65536, &pem, &len)) != 0)
		return r;
	r = cu_pki_fingerprint(pem, len, fp);
	cu_pki_pem_free(pem);
	if (r != 0)
		return r;
	snprintf(url, sizeof(url), "%s/admin/v1/principals/custos-store",
	         vault->url);
	code = admin_call("PUT", url, ca, vault->token,
	                  json_pack("{s:s, s:s}", "auth", "certificate",
	                            "certificate_sha256", fp),
	                  NULL);
	return code >= 200 && code < 300 ? 0 : CU_ERR_DENIED;
}

/* The operator's vault holds the store's system key and availability
 * key: purge protection on (the store refuses its own keys without it),
 * each key made once, the store registered by certificate and granted
 * Crypto Service Encryption User on each key. Idempotent: a second run
 * over the same DIR changes nothing. */
static int setup_operator_vault(const struct service *vault, const char *pki,
                                const char *ca)
{
	static const struct {
		const char *name, *kty;
		int size;
	} keys[] = {
	    {DEV_SYSTEM_KEY, "RSA", 3072},
	    {DEV_AVAILABILITY_KEY, "oct", 256},
	};
	char url[256], scope[160];
	long code;
	int r;

	snprintf(url, sizeof(url), "%s/admin/v1/settings", vault->url);
	code = admin_call("PUT", url, ca, vault->token,
	                  json_pack("{s:b}", "purge_protection", 1), NULL);
	if (code != 200)
		return CU_ERR_DENIED;
	if ((r = register_store(vault, pki, ca)) != 0)
		return r;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(url, sizeof(url), "%s/keys/%s?api-version=7.4",
		         vault->url, keys[i].name);
		code = admin_call("GET", url, ca, vault->token, NULL, NULL);
		if (code == 404) {
			snprintf(url, sizeof(url),
			         "%s/keys/%s/create?api-version=7.4",
			         vault->url, keys[i].name);
			code = admin_call("POST", url, ca, vault->token,
			                  json_pack("{s:s,s:i}", "kty",
			                            keys[i].kty, "key_size",
			                            keys[i].size),
			                  NULL);
		}
		if (code != 200)
			return CU_ERR_DENIED;
		snprintf(url, sizeof(url),
		         "%s/admin/v1/role-assignments/store-%s", vault->url,
		         keys[i].name);
		snprintf(scope, sizeof(scope), "/keys/%s", keys[i].name);
		code = admin_call("PUT", url, ca, vault->token,
		                  json_pack("{s:s,s:s,s:s}", "principal",
		                            "custos-store", "role", CSEU_ROLE,
		                            "scope", scope),
		                  NULL);
		if (code < 200 || code >= 300)
			return CU_ERR_DENIED;
	}
	return 0;
}

static int copy_field(json_t *obj, const char *name, char *out, size_t cap)
{
	const char *v = json_string_value(json_object_get(obj, name));
	if (v == NULL || strlen(v) >= cap)
		return CU_ERR_PARSE;
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int tenant_from_json(json_t *j, struct tenant *t)
{
	int r;
	if ((r = copy_field(j, "id", t->id, sizeof(t->id))) != 0 ||
	    (r = copy_field(j, "access_key_id", t->access_key_id,
	                    sizeof(t->access_key_id))) != 0 ||
	    (r = copy_field(j, "secret_access_key", t->secret,
	                    sizeof(t->secret))) != 0 ||
	    (r = copy_field(j, "admin_token", t->admin_token,
	                    sizeof(t->admin_token))) != 0)
		return r;
	return 0;
}

/* The store shows a tenant's secrets once, at creation: keep them in
 * DIR/tenant.json (0600) so a second run of `custos dev` finds them. */
static int demo_tenant(const char *dir, const struct service *store,
                       const char *ca, struct tenant *t)
{
	char path[1024], url[256];
	json_t *j = NULL;
	long code;
	int r, fd;

	snprintf(path, sizeof(path), "%s/tenant.json", dir);
	if (file_exists(path)) {
		j = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
		r = j != NULL ? tenant_from_json(j, t) : CU_ERR_PARSE;
		json_decref(j);
		return r;
	}
	snprintf(url, sizeof(url), "%s/admin/v1/tenants", store->url);
	code = admin_call("POST", url, ca, store->token,
	                  json_pack("{s:s}", "name", DEMO_TENANT), &j);
	if (code == 409) {
		fprintf(stderr,
		        "custos dev: the store already has a tenant '%s' but "
		        "%s is gone;\nremove %s to start afresh\n",
		        DEMO_TENANT, path, dir);
		r = CU_ERR_EXISTS;
		goto out;
	}
	if (code < 200 || code >= 300 || j == NULL) {
		r = CU_ERR_UNAVAILABLE;
		goto out;
	}
	if ((r = tenant_from_json(j, t)) != 0)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || json_dumpfd(j, fd, JSON_INDENT(2)) != 0 ||
	    fsync(fd) != 0) {
		r = CU_ERR_IO;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
out:
	json_decref(j);
	return r;
}

static void print_exports(FILE *f, const char *ca, const struct service *svcs,
                          int n, const struct tenant *t)
{
	fprintf(f, "export CUSTOS_CA_FILE='%s'\n", ca);
	for (int i = 0; i < n; i++) {
		fprintf(f, "export %s='%s'\n", svcs[i].env, svcs[i].url);
		if (svcs[i].kind == TENANT_VAULT)
			fprintf(f, "export CUSTOS_TENANT_VAULT_TOKEN='%s'\n",
			        svcs[i].token);
		if (svcs[i].kind == STORE)
			fprintf(f, "export CUSTOS_OPERATOR_TOKEN='%s'\n",
			        svcs[i].token);
	}
	fprintf(f, "export CUSTOS_STORE_PRINCIPAL='custos-store'\n");
	fprintf(f, "export CUSTOS_TENANT='%s'\n", t->id);
	fprintf(f, "export CUSTOS_TENANT_ADMIN_TOKEN='%s'\n", t->admin_token);
	fprintf(f, "export AWS_ACCESS_KEY_ID='%s'\n", t->access_key_id);
	fprintf(f, "export AWS_SECRET_ACCESS_KEY='%s'\n", t->secret);
	fprintf(f, "export AWS_CA_BUNDLE='%s'\n", ca);
	fprintf(f, "export AWS_DEFAULT_REGION='us-east-1'\n");
}

static int write_env(const char *dir, const char *ca,
                     const struct service *svcs, int n, const struct tenant *t)
{
	char path[1024], tmp[1100];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/env", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return CU_ERR_IO;
	}
	print_exports(f, ca, svcs, n, t);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		return CU_ERR_IO;
	}
	fclose(f);
	return rename(tmp, path) == 0 ? 0 : CU_ERR_IO;
}

/* Once the service answers: its token and, for a vault, the store's
 * principal (and in the operator's vault the store's keys and roles).
 * Reports its own errors. */
static int bootstrap_service(const char *dir, const char *pki, const char *ca,
                             const char *logs, struct service *svc)
{
	char path[1024];
	int r = 0;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, svc->name,
	         svc->kind == STORE ? "operator.token" : "admin.token");
	if ((r = read_line_file(path, svc->token, sizeof(svc->token))) != 0) {
		fprintf(stderr, "custos dev: no token in %s (%s)\n", path,
		        cu_strerror(r));
		return r;
	}
	if (svc->kind == TENANT_VAULT)
		r = register_store(svc, pki, ca);
	else if (svc->kind == OPERATOR_VAULT)
		r = setup_operator_vault(svc, pki, ca);
	if (r != 0)
		fprintf(stderr,
		        "custos dev: cannot set up principal custos-store in "
		        "the %s: %s; see %s/%s.log\n",
		        svc->label, cu_strerror(r), logs, svc->name);
	return r;
}

/* Start the services of one phase (vaults, then the store, which needs
 * its keys in the operator's vault), wait until each answers, and
 * bootstrap it. */
static int start_phase(struct cu_sup *sup, const char *dir, const char *pki,
                       const char *ca, const char *logs, struct service *svcs,
                       int n, long base, int store_phase)
{
	const struct service *opvault = by_kind(svcs, n, OPERATOR_VAULT);
	char url[128];
	int r;

	for (int i = 0; i < n; i++) {
		if ((svcs[i].kind == STORE) != store_phase)
			continue;
		svcs[i].port = base ? (int)base + 1 + i : free_port();
		if (svcs[i].port <= 0 ||
		    (r = start_service(sup, dir, pki, &svcs[i], opvault)) !=
		        0) {
			fprintf(stderr, "custos dev: cannot start the %s\n",
			        svcs[i].label);
			return CU_ERR_IO;
		}
	}
	for (int i = 0; i < n; i++) {
		if ((svcs[i].kind == STORE) != store_phase)
			continue;
		snprintf(url, sizeof(url), "%s/healthz", svcs[i].url);
		r = cu_sup_wait_http(sup, svcs[i].name, url, ca, 60000);
		if (r != 0) {
			fprintf(stderr,
			        "custos dev: the %s did not come up (%s); see "
			        "%s/%s.log\n",
			        svcs[i].label, cu_strerror(r), logs,
			        svcs[i].name);
			return r;
		}
		if ((r = bootstrap_service(dir, pki, ca, logs, &svcs[i])) != 0)
			return r;
	}
	return 0;
}

static int parse_args(int argc, char **argv, char *dir, size_t dir_cap,
                      long *base, int nsvc)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"port-base", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char arg[512] = ".custos-dev", cwd[256];
	int c, n;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'd':
			snprintf(arg, sizeof(arg), "%s", optarg);
			break;
		case 'p':
			errno = 0;
			*base = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || *base < 0 ||
			    *base > 65535 - nsvc) {
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
	if (arg[0] == '/')
		n = snprintf(dir, dir_cap, "%s", arg);
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		n = snprintf(dir, dir_cap, "%s/%s", cwd, arg);
	else
		n = -1;
	if (n < 0 || (size_t)n >= dir_cap) {
		fprintf(stderr, "custos dev: --dir path too long\n");
		return 2;
	}
	return -1; /* go on */
}

int cu_cli_dev(int argc, char **argv)
{
	struct service svcs[] = {
	    {.name = "operator-vault",
	     .label = "operator vault",
	     .env = "CUSTOS_OPERATOR_VAULT_URL",
	     .kind = OPERATOR_VAULT},
	    {.name = "tenant-vault",
	     .label = "tenant vault",
	     .env = "CUSTOS_TENANT_VAULT_URL",
	     .kind = TENANT_VAULT},
	    {.name = "store",
	     .label = "store",
	     .env = "CUSTOS_STORE_URL",
	     .kind = STORE},
	};
	const int nsvc = (int)(sizeof(svcs) / sizeof(svcs[0]));
	struct cu_sup sup = {0};
	struct tenant t = {0};
	char dir[512], pki[600], logs[600], ca[700];
	long base = 8440;
	int r, status = 1;

	if ((r = parse_args(argc, argv, dir, sizeof(dir), &base, nsvc)) >= 0)
		return r;
	snprintf(pki, sizeof(pki), "%s/pki", dir);
	snprintf(logs, sizeof(logs), "%s/logs", dir);
	snprintf(ca, sizeof(ca), "%s/%s", pki, CU_PKI_CA_CERT);
	if (make_dir(dir) != 0 || make_dir(logs) != 0 || setup_pki(pki) != 0)
		return 1;

	cu_sup_block_signals();
	if (start_phase(&sup, dir, pki, ca, logs, svcs, nsvc, base, 0) != 0 ||
	    start_phase(&sup, dir, pki, ca, logs, svcs, nsvc, base, 1) != 0)
		goto out;
	if ((r = demo_tenant(dir, by_kind(svcs, nsvc, STORE), ca, &t)) != 0) {
		fprintf(stderr,
		        "custos dev: cannot create the demo tenant: %s; see "
		        "%s/%s.log\n",
		        cu_strerror(r), logs, by_kind(svcs, nsvc, STORE)->name);
		goto out;
	}
	if ((r = write_env(dir, ca, svcs, nsvc, &t)) != 0) {
		fprintf(stderr, "custos dev: cannot write %s/env: %s\n", dir,
		        cu_strerror(r));
		goto out;
	}

	printf("custos dev is up. Services (logs in %s):\n", logs);
	for (int i = 0; i < nsvc; i++)
		printf("  %-16s %s\n", svcs[i].label, svcs[i].url);
	printf("  %-16s %s (id %s)\n", "demo tenant", DEMO_TENANT, t.id);
	printf("\nTo use it from a shell:  . %s/env\n\n", dir);
	print_exports(stdout, ca, svcs, nsvc, &t);
	printf("\nThen for example:  /usr/bin/aws --endpoint-url "
	       "\"$CUSTOS_STORE_URL\" s3 mb s3://photos\n");
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
	cu_memzero(&t, sizeof(t));
	for (int i = 0; i < nsvc; i++)
		cu_memzero(svcs[i].token, sizeof(svcs[i].token));
	if (cu_sup_stop_all(&sup, 10000) != 0 && status == 0) {
		fprintf(stderr,
		        "custos dev: a service did not stop cleanly; see %s\n",
		        logs);
		status = 1;
	}
	if (status == 0)
		printf("custos dev: stopped\n");
	return status;
}

/* cmd_tenant.c - `custos tenant ...`: a client of the store's admin API
 * for tenants and their customer-managed keys (DESIGN.md section 7), and
 * `debug-try-open`, an offline attempt to open object files with every
 * key material found in a store's data directory (the purge test). */
#include "cli/cli.h"
#include "cli/client.h"
#include "core/crypto/keywrap.h"
#include "core/crypto/seg.h"
#include "core/err.h"
#include "core/secmem.h"
#include "store/keys.h"

#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS     2
#define MAX_CANDS    4096
#define MAX_OBJ_FILE (64 * 1024 * 1024)

static const char usage[] =
    "usage: custos tenant COMMAND [OPTIONS]\n"
    "\n"
    "A client of the store's admin API (tenants, customer-managed keys).\n"
    "\n"
    "  create NAME                    create a tenant (operator)\n"
    "  show TENANT                    the tenant and its state\n"
    "  encryption TENANT              show the encryption settings\n"
    "  encryption TENANT --kid KID [--kid KID2] [--availability-key]\n"
    "                                 use customer-managed keys\n"
    "  encryption TENANT --system-managed\n"
    "                                 go back to system-managed keys\n"
    "  check TENANT                   re-check the keys now\n"
    "  roll TENANT                    new tenant key version\n"
    "  purge TENANT [--cancel]        start (or cancel) a purge\n"
    "  events TENANT [--since N]      security and key-usage events\n"
    "  debug-try-open --data DIR --tenant T --bucket B KEY=FILE...\n"
    "                                 try every key material in DIR on\n"
    "                                 object files (offline; exit 0 when\n"
    "                                 none opens, 1 when one does)\n"
    "\n"
    "Options of every client command:\n"
    "  --url URL     the store (default $CUSTOS_STORE_URL)\n"
    "  --token TOKEN admin token (default $CUSTOS_TENANT_ADMIN_TOKEN,\n"
    "                then $CUSTOS_OPERATOR_TOKEN; create: the operator's)\n"
    "  --ca FILE     CA certificate to trust (default $CUSTOS_CA_FILE)\n";

struct conn {
	const char *url, *token, *ca;
};

/* One request; prints the reply (JSON) or the error. Returns the exit
 * status: 0 for 2xx, 1 otherwise. */
static int call(const struct conn *c, const char *method, const char *path,
                json_t *body)
{
	json_t *reply = NULL;
	long status;
	int ret = 1;

	status = cu_client_call("custos tenant", c->url, c->token, c->ca,
	                        method, path, body, &reply);
	if (status >= 200 && status < 300) {
		if (reply != NULL) {
			json_dumpf(reply, stdout, JSON_INDENT(2));
			putchar('\n');
		}
		ret = 0;
	} else if (status >= 0) {
		cu_client_print_error("custos tenant", status, reply);
	}
	json_decref(reply);
	return ret;
}

/* ---- debug-try-open ------------------------------------------------ */

struct cands {
	unsigned char (*k)[CU_SKEYS_KEY_LEN];
	size_t n;
};

static void cand_add(struct cands *c, const unsigned char *k)
{
	for (size_t i = 0; i < c->n; i++)
		if (memcmp(c->k[i], k, CU_SKEYS_KEY_LEN) == 0)
			return;
	if (c->n < MAX_CANDS)
		memcpy(c->k[c->n++], k, CU_SKEYS_KEY_LEN);
}

static int read_file(const char *path, size_t max, unsigned char **out,
                     size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	size_t n = 0, got;

	*out = NULL;
	*len = 0;
	if (f == NULL)
		return CU_ERR_IO;
	if ((p = malloc(max)) == NULL) {
		fclose(f);
		return CU_ERR_NOMEM;
	}
	while ((got = fread(p + n, 1, max - n, f)) > 0 && n + got < max)
		n += got;
	n += got;
	fclose(f);
	*out = p;
	*len = n;
	return 0;
}

/* Every 32-byte file directly in dir: root keys (system, availability,
 * master). */
static void key_files(const char *dir, struct cands *roots)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[4096];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		unsigned char *b = NULL;
		size_t n = 0;

		if (e->d_name[0] == '.' ||
		    (size_t)snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) >=
		        sizeof(p))
			continue;
		if (read_file(p, 64, &b, &n) == 0 && n == CU_SKEYS_KEY_LEN)
			cand_add(roots, b);
		if (b != NULL)
			cu_memzero(b, 64);
		free(b);
	}
	closedir(d);
}

/* Every blob of every table of the store's database: each is tried as a
 * key wrapped under each root, and a 32-byte blob as a key itself. */
static void db_blobs(const char *dir, const struct cands *roots,
                     struct cands *tks)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *tabs = NULL;
	char p[4096];

	if ((size_t)snprintf(p, sizeof(p), "%s/store.db", dir) >= sizeof(p) ||
	    sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(db,
	                       "SELECT name FROM sqlite_master WHERE type = "
	                       "'table'",
	                       -1, &tabs, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(tabs) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(tabs, 0);
		sqlite3_stmt *st = NULL;
		char q[256];

		if (t == NULL || strchr(t, '"') != NULL ||
		    (size_t)snprintf(q, sizeof(q), "SELECT * FROM \"%s\"", t) >=
		        sizeof(q) ||
		    sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
			continue;
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (int i = 0; i < sqlite3_column_count(st); i++) {
				const unsigned char *b;
				int n;

				if (sqlite3_column_type(st, i) != SQLITE_BLOB)
					continue;
				b = sqlite3_column_blob(st, i);
				n = sqlite3_column_bytes(st, i);
				if (b == NULL || n <= 0)
					continue;
				if (n == CU_SKEYS_KEY_LEN)
					cand_add(tks, b);
				for (size_t r = 0; r < roots->n; r++) {
					unsigned char out[64];
					size_t ol = 0;

					if (cu_kw_unwrap(
					        roots->k[r], CU_SKEYS_KEY_LEN,
					        b, (size_t)n, out, sizeof(out),
					        &ol) == 0 &&
					    ol == CU_SKEYS_KEY_LEN)
						cand_add(tks, out);
					cu_memzero(out, sizeof(out));
				}
			}
		}
		sqlite3_finalize(st);
	}
out:
	sqlite3_finalize(tabs);
	sqlite3_close(db);
}

struct try_dek {
	const unsigned char *dek;
};

static int give_dek(void *arg, const struct cu_seg_header *h,
                    unsigned char dek[CU_SEG_DEK_LEN])
{
	struct try_dek *t = arg;

	(void)h;
	memcpy(dek, t->dek, CU_SEG_DEK_LEN);
	return 0;
}

static int discard(void *arg, const unsigned char *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return 0;
}

/* Decrypt the whole file with dek: 0 when it opens. */
static int opens_with(const unsigned char *file, size_t len, const void *id,
                      size_t id_len, const unsigned char *dek)
{
	struct try_dek t = {dek};
	cu_seg_dec_t *d = NULL;
	int rc;

	if ((rc = cu_seg_dec_new(id, id_len, give_dek, &t, discard, NULL,
	                         &d)) != 0)
		return rc;
	rc = cu_seg_dec_update(d, file, len);
	if (rc == 0)
		rc = cu_seg_dec_final(d);
	cu_seg_dec_free(d);
	return rc;
}

static int try_open(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"tenant", required_argument, NULL, 't'},
	    {"bucket", required_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *tenant = NULL, *bucket = NULL;
	struct cands roots = {0}, tks = {0};
	size_t opened = 0, tried = 0;
	int o, ret = 2;

	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'd')
			dir = optarg;
		else if (o == 't')
			tenant = optarg;
		else if (o == 'b')
			bucket = optarg;
		else {
			fputs(usage, o == 'h' ? stdout : stderr);
			return o == 'h' ? 0 : 2;
		}
	}
	if (dir == NULL || tenant == NULL || bucket == NULL || optind >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	ret = 1;
	roots.k = cu_secmem_alloc(MAX_CANDS * CU_SKEYS_KEY_LEN);
	tks.k = cu_secmem_alloc(MAX_CANDS * CU_SKEYS_KEY_LEN);
	if (roots.k == NULL || tks.k == NULL)
		goto out;
	key_files(dir, &roots);
	db_blobs(dir, &roots, &tks);
	for (size_t i = 0; i < roots.n; i++)
		cand_add(&tks, roots.k[i]);
	printf("key material: %zu root candidates, %zu tenant-key "
	       "candidates\n",
	       roots.n, tks.n);
	for (int a = optind; a < argc; a++) {
		char *eq = strchr(argv[a], '=');
		const char *file, *vid;
		unsigned char *data = NULL, id[CU_SEG_ID_MAX];
		struct cu_seg_header h;
		size_t len = 0, idl = 0;
		int hit = 0;

		if (eq == NULL) {
			fprintf(stderr,
			        "custos tenant: want KEY=FILE, got %s\n",
			        argv[a]);
			goto out;
		}
		*eq = '\0';
		file = eq + 1;
		vid = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
		if (read_file(file, MAX_OBJ_FILE, &data, &len) != 0 ||
		    cu_seg_header_parse(data, len, &h) != 0 ||
		    cu_skeys_object_id(tenant, bucket, argv[a], strlen(argv[a]),
		                       vid, id, sizeof(id), &idl) != 0) {
			fprintf(stderr, "custos tenant: cannot read %s\n",
			        file);
			free(data);
			goto out;
		}
		tried++;
		for (size_t i = 0; i < tks.n && !hit; i++) {
			unsigned char dek[CU_SKEYS_KEY_LEN];

			/* as a tenant key: unwrap the DEK, then decrypt */
			if (cu_skeys_dek_open_with(tks.k[i], h.wrapped_dek,
			                           h.wrapped_dek_len, id, idl,
			                           dek) == 0 &&
			    opens_with(data, len, id, idl, dek) == 0)
				hit = 1;
			cu_memzero(dek, sizeof(dek));
			/* as the data key itself */
			if (!hit &&
			    opens_with(data, len, id, idl, tks.k[i]) == 0)
				hit = 1;
		}
		printf("%s %s\n", hit ? "OPENED" : "sealed", file);
		opened += (size_t)hit;
		free(data);
	}
	printf("%zu of %zu object files opened\n", opened, tried);
	ret = opened > 0 ? 1 : 0;
out:
	cu_secmem_free(roots.k, MAX_CANDS * CU_SKEYS_KEY_LEN);
	cu_secmem_free(tks.k, MAX_CANDS * CU_SKEYS_KEY_LEN);
	return ret;
}

/* ---- the client commands ------------------------------------------- */

static int tenant_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"token", required_argument, NULL, 't'},
	    {"ca", required_argument, NULL, 'c'},
	    {"kid", required_argument, NULL, 'k'},
	    {"availability-key", no_argument, NULL, 'a'},
	    {"system-managed", no_argument, NULL, 's'},
	    {"cancel", no_argument, NULL, 'x'},
	    {"since", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = argv[0], *kids[MAX_KEYS], *since = NULL;
	struct conn c = {0};
	char path[512];
	size_t nk = 0;
	int o, avk = 0, sysm = 0, cancel = 0, ret;
	json_t *body = NULL;

	c.url = getenv("CUSTOS_STORE_URL");
	c.ca = getenv("CUSTOS_CA_FILE");
	if (strcmp(cmd, "create") == 0 ||
	    (c.token = getenv("CUSTOS_TENANT_ADMIN_TOKEN")) == NULL)
		c.token = getenv("CUSTOS_OPERATOR_TOKEN");
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			c.url = optarg;
			break;
		case 't':
			c.token = optarg;
			break;
		case 'c':
			c.ca = optarg;
			break;
		case 'k':
			if (nk >= MAX_KEYS) {
				fputs("custos tenant: at most two --kid\n",
				      stderr);
				return 2;
			}
			kids[nk++] = optarg;
			break;
		case 'a':
			avk = 1;
			break;
		case 's':
			sysm = 1;
			break;
		case 'x':
			cancel = 1;
			break;
		case 'n':
			since = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || c.url == NULL || c.token == NULL) {
		fprintf(stderr,
		        "custos tenant %s: one argument, and --url and --token "
		        "(or CUSTOS_STORE_URL and a token variable) are "
		        "needed\n",
		        cmd);
		return 2;
	}
	if (strspn(argv[optind], "abcdefghijklmnopqrstuvwxyz0123456789-_.") !=
	        strlen(argv[optind]) ||
	    strlen(argv[optind]) > 64 ||
	    (since != NULL && strspn(since, "0123456789") != strlen(since))) {
		fprintf(stderr, "custos tenant %s: bad argument\n", cmd);
		return 2;
	}
	if (strcmp(cmd, "create") == 0) {
		body = json_pack("{s:s}", "name", argv[optind]);
		ret = call(&c, "POST", "/admin/v1/tenants", body);
	} else if (strcmp(cmd, "show") == 0) {
		snprintf(path, sizeof(path), "/admin/v1/tenants/%s",
		         argv[optind]);
		ret = call(&c, "GET", path, NULL);
	} else if (strcmp(cmd, "encryption") == 0) {
		snprintf(path, sizeof(path), "/admin/v1/tenants/%s/encryption",
		         argv[optind]);
		if (sysm && nk > 0) {
			fputs("custos tenant encryption: --kid or "
			      "--system-managed, not both\n",
			      stderr);
			return 2;
		}
		if (sysm) {
			body = json_pack("{s:s}", "mode", "system_managed");
		} else if (nk > 0) {
			json_t *keys = json_array();

			for (size_t i = 0; keys != NULL && i < nk; i++)
				json_array_append_new(
				    keys, json_pack("{s:s}", "kid", kids[i]));
			body = json_pack("{s:s,s:o,s:b}", "mode",
			                 "customer_managed", "keys", keys,
			                 "availability_key", avk);
		}
		ret = call(&c, body != NULL ? "PUT" : "GET", path, body);
	} else if (strcmp(cmd, "check") == 0 || strcmp(cmd, "roll") == 0) {
		snprintf(path, sizeof(path),
		         "/admin/v1/tenants/%s/encryption/%s", argv[optind],
		         cmd);
		ret = call(&c, "POST", path, NULL);
	} else if (strcmp(cmd, "purge") == 0) {
		snprintf(path, sizeof(path), "/admin/v1/tenants/%s/purge",
		         argv[optind]);
		if (!cancel)
			body = json_pack("{s:s}", "confirm", argv[optind]);
		ret = call(&c, cancel ? "DELETE" : "POST", path, body);
	} else {
		snprintf(path, sizeof(path),
		         "/admin/v1/tenants/%s/events?since=%s", argv[optind],
		         since != NULL ? since : "0");
		ret = call(&c, "GET", path, NULL);
	}
	json_decref(body);
	return ret;
}

int cu_cli_tenant(int argc, char **argv)
{
	static const struct cu_cli_cmd cmds[] = {
	    {"create", "create a tenant (operator)", tenant_cmd},
	    {"show", "a tenant and its state", tenant_cmd},
	    {"encryption", "show or change the encryption settings",
	     tenant_cmd},
	    {"check", "re-check the customer keys now", tenant_cmd},
	    {"roll", "start a new tenant key version", tenant_cmd},
	    {"purge", "start or cancel a purge (crypto-shred)", tenant_cmd},
	    {"events", "security and key-usage events", tenant_cmd},
	    {"debug-try-open", "try every key material on object files",
	     try_open},
	    {NULL, NULL, NULL},
	};

	return cu_cli_dispatch("custos tenant", cmds, argc - 1, argv + 1);
}

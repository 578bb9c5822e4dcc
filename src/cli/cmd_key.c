/* custos key ... and custos vault principal|role|settings|audit: clients
 * of a running vault's keys API and admin API over HTTPS (libcurl).
 *
 * Where to connect: --url, --token or --token-file, --ca, or the
 * environment (CUSTOS_VAULT_URL, CUSTOS_VAULT_TOKEN, CUSTOS_CA_FILE). */
#include "cli/cli.h"
#include "cli/client.h"
#include "core/b64.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secmem.h"
#include "vault/audit.h"
#include "vault/keystore.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API "?api-version=7.4"

struct conn {
	const char *url, *token, *ca;
	char token_buf[600];
};

/* One request; *reply (may be NULL on error) is the parsed JSON body.
 * Returns the HTTP status, or -1 when the request failed. */
static long call(const struct conn *c, const char *method, const char *path,
                 json_t *body, json_t **reply)
{
	return cu_client_call("custos", c->url, c->token, c->ca, method, path,
	                      body, reply);
}

/* Print the reply (or the error) and turn the status into an exit code. */
static int finish(long status, json_t *reply, const char *member)
{
	int rc = 0;

	if (status >= 200 && status < 300) {
		if (member != NULL) {
			const char *s =
			    json_string_value(json_object_get(reply, member));
			printf("%s\n", s ? s : "");
		} else if (reply != NULL) {
			json_dumpf(reply, stdout, JSON_INDENT(2));
			putchar('\n');
		}
	} else if (status > 0) {
		cu_client_print_error("custos", status, reply);
		rc = 1;
	} else {
		rc = 1;
	}
	json_decref(reply);
	return rc;
}

static int read_token_file(struct conn *c, const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "custos: cannot read %s\n", path);
		return CU_ERR_IO;
	}
	n = fread(c->token_buf, 1, sizeof(c->token_buf) - 1, f);
	fclose(f);
	while (n > 0 &&
	       (c->token_buf[n - 1] == '\n' || c->token_buf[n - 1] == '\r' ||
	        c->token_buf[n - 1] == ' '))
		n--;
	c->token_buf[n] = '\0';
	c->token = c->token_buf;
	return 0;
}

enum {
	O_URL = 1000,
	O_TOKEN,
	O_TOKEN_FILE,
	O_CA,
	O_KTY,
	O_SIZE,
	O_CURVE,
	O_VERSION,
	O_ALG,
	O_VALUE,
	O_PRINCIPAL,
	O_ROLE,
	O_SCOPE,
	O_CERT,
	O_RETENTION,
	O_PURGE_PROT,
	O_SINCE,
	O_DATA,
	O_OPS,
};

static const struct option opts[] = {
    {"url", required_argument, NULL, O_URL},
    {"token", required_argument, NULL, O_TOKEN},
    {"token-file", required_argument, NULL, O_TOKEN_FILE},
    {"ca", required_argument, NULL, O_CA},
    {"kty", required_argument, NULL, O_KTY},
    {"size", required_argument, NULL, O_SIZE},
    {"curve", required_argument, NULL, O_CURVE},
    {"version", required_argument, NULL, O_VERSION},
    {"alg", required_argument, NULL, O_ALG},
    {"value", required_argument, NULL, O_VALUE},
    {"principal", required_argument, NULL, O_PRINCIPAL},
    {"role", required_argument, NULL, O_ROLE},
    {"scope", required_argument, NULL, O_SCOPE},
    {"cert-sha256", required_argument, NULL, O_CERT},
    {"retention-days", required_argument, NULL, O_RETENTION},
    {"purge-protection", no_argument, NULL, O_PURGE_PROT},
    {"since", required_argument, NULL, O_SINCE},
    {"data", required_argument, NULL, O_DATA},
    {"ops", required_argument, NULL, O_OPS},
    {NULL, 0, NULL, 0},
};

struct args {
	struct conn c;
	const char *kty, *curve, *version, *alg, *value, *principal, *role,
	    *scope, *cert, *since, *data, *ops;
	long size, retention;
	int purge_protection;
	const char *pos[3]; /* positional arguments */
	int npos;
};

static long num(const char *s, int *ok)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);

	*ok = end != NULL && *end == '\0' && end != s;
	return v;
}

/* Parse options after the verb (argv[0]). Returns 0, or 2 (usage). */
static int parse(int argc, char **argv, struct args *a)
{
	int o, ok;

	memset(a, 0, sizeof(*a));
	a->c.url = getenv("CUSTOS_VAULT_URL");
	a->c.token = getenv("CUSTOS_VAULT_TOKEN");
	a->c.ca = getenv("CUSTOS_CA_FILE");
	a->retention = -1;
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case O_URL:
			a->c.url = optarg;
			break;
		case O_TOKEN:
			a->c.token = optarg;
			break;
		case O_TOKEN_FILE:
			if (read_token_file(&a->c, optarg) != 0)
				return 2;
			break;
		case O_CA:
			a->c.ca = optarg;
			break;
		case O_KTY:
			a->kty = optarg;
			break;
		case O_SIZE:
			a->size = num(optarg, &ok);
			if (!ok)
				return 2;
			break;
		case O_CURVE:
			a->curve = optarg;
			break;
		case O_VERSION:
			a->version = optarg;
			break;
		case O_ALG:
			a->alg = optarg;
			break;
		case O_VALUE:
			a->value = optarg;
			break;
		case O_PRINCIPAL:
			a->principal = optarg;
			break;
		case O_ROLE:
			a->role = optarg;
			break;
		case O_SCOPE:
			a->scope = optarg;
			break;
		case O_CERT:
			a->cert = optarg;
			break;
		case O_RETENTION:
			a->retention = num(optarg, &ok);
			if (!ok)
				return 2;
			break;
		case O_PURGE_PROT:
			a->purge_protection = 1;
			break;
		case O_SINCE:
			a->since = optarg;
			break;
		case O_DATA:
			a->data = optarg;
			break;
		case O_OPS:
			a->ops = optarg;
			break;
		default:
			return 2;
		}
	}
	for (; optind < argc; optind++) {
		if (a->npos == 3)
			return 2;
		a->pos[a->npos++] = argv[optind];
	}
	return 0;
}

static int need_conn(const struct args *a, const char *prog)
{
	if (a->c.url == NULL || a->c.token == NULL) {
		fprintf(stderr,
		        "%s: give --url and --token (or --token-file), or set "
		        "CUSTOS_VAULT_URL and CUSTOS_VAULT_TOKEN\n",
		        prog);
		return 2;
	}
	return 0;
}

static const char key_usage[] =
    "usage: custos key VERB NAME [options]\n"
    "\n"
    "  create NAME [--kty RSA|RSA-HSM|oct|oct-HSM|EC] [--size BITS]\n"
    "              [--curve P-256|P-384] [--ops wrapKey,unwrapKey,...]\n"
    "  list | show NAME [--version V] | versions NAME | rotate NAME\n"
    "  enable NAME | disable NAME | delete NAME | recover NAME | "
    "purge NAME\n"
    "  wrap NAME --value B64URL [--alg A] [--version V]   (prints the "
    "wrapped key)\n"
    "  unwrap NAME --value B64URL [--alg A] [--version V] (prints the "
    "key)\n"
    "\n"
    "Connection: --url URL --token T | --token-file F --ca FILE, or\n"
    "CUSTOS_VAULT_URL, CUSTOS_VAULT_TOKEN, CUSTOS_CA_FILE.\n"
    "--alg defaults to RSA-OAEP-256 (A256KW for oct keys: give it).\n";

int cu_cli_key(int argc, char **argv)
{
	struct args a;
	const char *verb;
	char path[512];
	json_t *body = NULL, *reply = NULL;
	long st;

	if (argc < 2 || cu_cli_wants_help(argc, argv)) {
		fputs(key_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	verb = argv[1];
	if (parse(argc - 1, argv + 1, &a) != 0) {
		fputs(key_usage, stderr);
		return 2;
	}
	if (need_conn(&a, "custos key") != 0)
		return 2;
	if (strcmp(verb, "list") == 0) {
		st = call(&a.c, "GET", "/keys" API, NULL, &reply);
		return finish(st, reply, NULL);
	}
	if (a.npos != 1 || !cu_vks_name_valid(a.pos[0], strlen(a.pos[0]))) {
		fprintf(stderr, "custos key %s: give one key name\n", verb);
		return 2;
	}
	/* it goes into the path: "../x" would name another resource */
	if (a.version != NULL && !cu_vks_version_valid(a.version)) {
		fprintf(stderr,
		        "custos key %s: --version is 32 hex digits "
		        "(lowercase), as in the key's kid\n",
		        verb);
		return 2;
	}
	if (strcmp(verb, "create") == 0) {
		const char *kty = a.kty ? a.kty : "RSA";
		body = json_pack("{s:s}", "kty", kty);
		if (a.size > 0)
			json_object_set_new(body, "key_size",
			                    json_integer(a.size));
		if (a.curve != NULL)
			json_object_set_new(body, "crv", json_string(a.curve));
		if (a.ops != NULL) {
			json_t *ops = json_array();
			char tmp[256], *save = NULL, *t;
			snprintf(tmp, sizeof(tmp), "%s", a.ops);
			for (t = strtok_r(tmp, ",", &save); t != NULL;
			     t = strtok_r(NULL, ",", &save))
				json_array_append_new(ops, json_string(t));
			json_object_set_new(body, "key_ops", ops);
		}
		snprintf(path, sizeof(path), "/keys/%s/create" API, a.pos[0]);
		st = call(&a.c, "POST", path, body, &reply);
	} else if (strcmp(verb, "show") == 0) {
		snprintf(path, sizeof(path), "/keys/%s/%s" API, a.pos[0],
		         a.version ? a.version : "");
		st = call(&a.c, "GET", path, NULL, &reply);
	} else if (strcmp(verb, "versions") == 0) {
		snprintf(path, sizeof(path), "/keys/%s/versions" API, a.pos[0]);
		st = call(&a.c, "GET", path, NULL, &reply);
	} else if (strcmp(verb, "rotate") == 0) {
		snprintf(path, sizeof(path), "/keys/%s/rotate" API, a.pos[0]);
		st = call(&a.c, "POST", path, NULL, &reply);
	} else if (strcmp(verb, "enable") == 0 ||
	           strcmp(verb, "disable") == 0) {
		body = json_pack("{s:{s:b}}", "attributes", "enabled",
		                 strcmp(verb, "enable") == 0);
		snprintf(path, sizeof(path), "/keys/%s/%s" API, a.pos[0],
		         a.version ? a.version : "");
		st = call(&a.c, "PATCH", path, body, &reply);
	} else if (strcmp(verb, "delete") == 0) {
		snprintf(path, sizeof(path), "/keys/%s" API, a.pos[0]);
		st = call(&a.c, "DELETE", path, NULL, &reply);
	} else if (strcmp(verb, "recover") == 0) {
		snprintf(path, sizeof(path), "/deletedkeys/%s/recover" API,
		         a.pos[0]);
		st = call(&a.c, "POST", path, NULL, &reply);
	} else if (strcmp(verb, "purge") == 0) {
		snprintf(path, sizeof(path), "/deletedkeys/%s" API, a.pos[0]);
		st = call(&a.c, "DELETE", path, NULL, &reply);
	} else if (strcmp(verb, "wrap") == 0 || strcmp(verb, "unwrap") == 0) {
		if (a.value == NULL) {
			fprintf(stderr, "custos key %s: --value is required\n",
			        verb);
			return 2;
		}
		body =
		    json_pack("{s:s,s:s}", "alg",
		              a.alg ? a.alg : "RSA-OAEP-256", "value", a.value);
		snprintf(path, sizeof(path), "/keys/%s/%s/%skey" API, a.pos[0],
		         a.version ? a.version : "", verb);
		st = call(&a.c, "POST", path, body, &reply);
		json_decref(body);
		return finish(st, reply, "value");
	} else {
		fprintf(stderr, "custos key: unknown verb '%s'\n", verb);
		fputs(key_usage, stderr);
		return 2;
	}
	json_decref(body);
	return finish(st, reply, NULL);
}

static const char vadmin_usage[] =
    "usage: custos vault principal put NAME [--cert-sha256 HEX]\n"
    "       custos vault principal delete NAME\n"
    "       custos vault role assign ID --principal P --role ROLE "
    "[--scope /|/keys/NAME]\n"
    "       custos vault role remove ID | custos vault role list\n"
    "       custos vault settings [--retention-days N] "
    "[--purge-protection]\n"
    "       custos vault audit list [--since SEQ]\n"
    "       custos vault audit verify [--data DIR]\n"
    "\n"
    "Connection as for `custos key`; `audit verify --data DIR` reads a\n"
    "vault's data directory directly (the vault may be running).\n";

static int audit_verify_local(const char *dir)
{
	cu_vks_t *vks = NULL;
	int64_t count = 0, bad = 0;
	int r;

	cu_log_init("vault", CU_LOG_WARN, 2);
	if ((r = cu_vks_open(dir, NULL, &vks)) != 0) {
		fprintf(stderr,
		        "custos vault audit verify: cannot open %s: %s\n", dir,
		        cu_strerror(r));
		return 1;
	}
	r = cu_vaudit_verify(cu_vks_audit_db(vks), &count, &bad);
	cu_vks_close(vks);
	if (r == 0) {
		printf("audit chain intact: %lld records\n", (long long)count);
		return 0;
	}
	if (r == CU_ERR_AUTH) {
		printf("audit chain BROKEN at record %lld\n", (long long)bad);
		return 1;
	}
	fprintf(stderr, "custos vault audit verify: %s\n", cu_strerror(r));
	return 1;
}

int cu_cli_vault_admin(int argc, char **argv)
{
	struct args a;
	const char *what = argv[0], *verb = argc > 1 ? argv[1] : "";
	char path[512];
	json_t *body = NULL, *reply = NULL;
	long st;

	if (cu_cli_wants_help(argc, argv)) {
		fputs(vadmin_usage, stdout);
		return 0;
	}
	if (parse(argc, argv, &a) != 0) {
		fputs(vadmin_usage, stderr);
		return 2;
	}
	/* the verb is the first positional argument */
	if (strcmp(what, "settings") != 0) {
		if (a.npos < 1) {
			fputs(vadmin_usage, stderr);
			return 2;
		}
		verb = a.pos[0];
	}
	if (strcmp(what, "audit") == 0 && strcmp(verb, "verify") == 0 &&
	    a.data != NULL)
		return audit_verify_local(a.data);
	if (need_conn(&a, "custos vault") != 0)
		return 2;
	if (strcmp(what, "principal") == 0 && a.npos == 2 &&
	    strcmp(verb, "put") == 0) {
		body = a.cert ? json_pack("{s:s,s:s}", "auth", "certificate",
		                          "certificate_sha256", a.cert)
		              : json_pack("{s:s}", "auth", "token");
		snprintf(path, sizeof(path), "/admin/v1/principals/%s",
		         a.pos[1]);
		st = call(&a.c, "PUT", path, body, &reply);
	} else if (strcmp(what, "principal") == 0 && a.npos == 2 &&
	           strcmp(verb, "delete") == 0) {
		snprintf(path, sizeof(path), "/admin/v1/principals/%s",
		         a.pos[1]);
		st = call(&a.c, "DELETE", path, NULL, &reply);
	} else if (strcmp(what, "role") == 0 && a.npos == 2 &&
	           strcmp(verb, "assign") == 0 && a.principal && a.role) {
		body =
		    json_pack("{s:s,s:s,s:s}", "principal", a.principal, "role",
		              a.role, "scope", a.scope ? a.scope : "/");
		snprintf(path, sizeof(path), "/admin/v1/role-assignments/%s",
		         a.pos[1]);
		st = call(&a.c, "PUT", path, body, &reply);
	} else if (strcmp(what, "role") == 0 && a.npos == 2 &&
	           strcmp(verb, "remove") == 0) {
		snprintf(path, sizeof(path), "/admin/v1/role-assignments/%s",
		         a.pos[1]);
		st = call(&a.c, "DELETE", path, NULL, &reply);
	} else if (strcmp(what, "role") == 0 && strcmp(verb, "list") == 0) {
		st = call(&a.c, "GET", "/admin/v1/role-assignments", NULL,
		          &reply);
	} else if (strcmp(what, "settings") == 0) {
		if (a.retention >= 0 || a.purge_protection) {
			body = json_object();
			if (a.retention >= 0)
				json_object_set_new(
				    body, "soft_delete_retention_days",
				    json_integer(a.retention));
			if (a.purge_protection)
				json_object_set_new(body, "purge_protection",
				                    json_true());
			st = call(&a.c, "PUT", "/admin/v1/settings", body,
			          &reply);
		} else {
			st = call(&a.c, "GET", "/admin/v1/settings", NULL,
			          &reply);
		}
	} else if (strcmp(what, "audit") == 0 && strcmp(verb, "list") == 0) {
		snprintf(path, sizeof(path), "/admin/v1/audit?since=%s",
		         a.since ? a.since : "0");
		st = call(&a.c, "GET", path, NULL, &reply);
	} else if (strcmp(what, "audit") == 0 && strcmp(verb, "verify") == 0) {
		st = call(&a.c, "GET", "/admin/v1/audit/verify", NULL, &reply);
		if (st == 200 && !json_is_true(json_object_get(reply, "ok"))) {
			json_dumpf(reply, stdout, JSON_INDENT(2));
			putchar('\n');
			json_decref(reply);
			return 1;
		}
	} else {
		fputs(vadmin_usage, stderr);
		return 2;
	}
	json_decref(body);
	return finish(st, reply, NULL);
}

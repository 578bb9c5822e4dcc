/* custos store - run the multi-tenant S3 store. */
#include "cli/cli.h"
#include "cli/serve.h"
#include "core/err.h"
#include "core/log.h"
#include "store/store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STOP_DEADLINE_MS 10000

static const char serve_usage[] =
    "usage: custos store serve --listen ADDR:PORT --tls-cert FILE "
    "--tls-key FILE\n"
    "                          [--data DIR] [--operator-token-file FILE]\n"
    "                          [--client-cert FILE --client-key FILE]\n"
    "                          [--lease-seconds N] [--log-level LEVEL]\n"
    "                          [--vault-ca FILE] [--outage-grace-seconds N]\n"
    "                          [--purge-grace-seconds N] "
    "[--cmk-check-seconds N]\n"
    "                          [--allow-revert-to-system-managed yes|no]\n"
    "                          [--vault-events yes|no] "
    "[--inaccessible-purge-days D]\n"
    "                          [--system-key KID] [--availability-key KID]\n"
    "\n"
    "Run a custos store (S3 API and admin API, one HTTPS origin) until\n"
    "SIGTERM or SIGINT. Objects are encrypted at rest under per-tenant\n"
    "keys wrapped by the system key: a key in the operator's vault\n"
    "(--system-key) or else the key file DIR/system.key.\n"
    "\n"
    "  --listen ADDR:PORT         address to listen on: 127.0.0.1:9443,\n"
    "                             [::1]:9443; port 0 picks a free one\n"
    "                             (see the \"listening\" log line)\n"
    "  --tls-cert FILE            server certificate chain (PEM)\n"
    "  --tls-key FILE             its private key (PEM)\n"
    "  --data DIR                 the store's state directory "
    "(default ./store-data)\n"
    "  --operator-token-file FILE the operator's admin API token; "
    "created\n"
    "                             (random, 0600) if missing "
    "(default DIR/operator.token)\n"
    "  --client-cert FILE         the store's client certificate for "
    "vaults\n"
    "  --client-key FILE          its private key\n"
    "  --lease-seconds N          how long a tenant key may stay "
    "unwrapped\n"
    "                             in memory (default 60)\n"
    "  --log-level LEVEL          debug, info (default), warn or error\n"
    "  --vault-ca FILE            CA that tenants' vaults chain to "
    "(default:\n"
    "                             the system's)\n"
    "  --outage-grace-seconds N   serve on this long past a lease while a\n"
    "                             tenant's vault does not answer "
    "(default 0)\n"
    "  --purge-grace-seconds N    delay before a purge destroys a "
    "tenant's\n"
    "                             keys (default 86400)\n"
    "  --cmk-check-seconds N      re-check customer keys this often\n"
    "                             (default: the lease)\n"
    "  --allow-revert-to-system-managed yes|no\n"
    "                             may a tenant leave customer-managed "
    "keys\n"
    "                             (default yes)\n"
    "  --vault-events yes|no      follow tenant vaults' key events "
    "(default\n"
    "                             yes; no = poll at lease expiry only)\n"
    "  --inaccessible-purge-days D  purge a tenant inaccessible for D "
    "days\n"
    "                             (fractions allowed; default 0 = "
    "never)\n"
    "  --system-key KID           the system key in the operator's vault,\n"
    "                             https://HOST:PORT/keys/NAME[/VERSION]; "
    "the\n"
    "                             store signs in with --client-cert and\n"
    "                             trusts --vault-ca (default: the key "
    "file\n"
    "                             DIR/system.key)\n"
    "  --availability-key KID     the availability key in the operator's\n"
    "                             vault (default: DIR/availability.key)\n"
    "\n"
    "With a KID the store checks at start that the key exists, is "
    "enabled and\n"
    "that it may wrap and unwrap with it (its principal needs the role Key\n"
    "Vault Crypto Service Encryption User on the key), and exits 1 with "
    "what\n"
    "to fix otherwise. Tenant keys wrapped under another root before (the "
    "key\n"
    "file, another kid) are re-wrapped at start; objects are never "
    "touched.\n"
    "\n"
    "Create a tenant (the reply shows its S3 keys once):\n"
    "  curl --cacert CA -H \"Authorization: Bearer $(cat TOKEN_FILE)\" \\\n"
    "       -d '{\"name\":\"acme\"}' https://ADDR:PORT/admin/v1/tenants\n";

static int parse_lease(const char *s, unsigned *out)
{
	char *end = NULL;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return CU_ERR_INVAL;
	v = strtoul(s, &end, 10);
	if (end == NULL || *end != '\0' || v < 1 || v > 86400)
		return CU_ERR_INVAL;
	*out = (unsigned)v;
	return 0;
}

/* A number of seconds in [lo, 86400 * 30]. */
static int parse_seconds(const char *s, unsigned lo, unsigned *out)
{
	char *end = NULL;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return CU_ERR_INVAL;
	v = strtoul(s, &end, 10);
	if (end == NULL || *end != '\0' || v < lo || v > 86400ul * 30)
		return CU_ERR_INVAL;
	*out = (unsigned)v;
	return 0;
}

static int store_serve(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"tls-cert", required_argument, NULL, 'c'},
	    {"tls-key", required_argument, NULL, 'k'},
	    {"client-cert", required_argument, NULL, 'C'},
	    {"client-key", required_argument, NULL, 'K'},
	    {"data", required_argument, NULL, 'd'},
	    {"operator-token-file", required_argument, NULL, 't'},
	    {"lease-seconds", required_argument, NULL, 'L'},
	    {"log-level", required_argument, NULL, 'v'},
	    {"vault-ca", required_argument, NULL, 'A'},
	    {"outage-grace-seconds", required_argument, NULL, 'G'},
	    {"purge-grace-seconds", required_argument, NULL, 'P'},
	    {"cmk-check-seconds", required_argument, NULL, 'Q'},
	    {"allow-revert-to-system-managed", required_argument, NULL, 'R'},
	    {"vault-events", required_argument, NULL, 'E'},
	    {"inaccessible-purge-days", required_argument, NULL, 'D'},
	    {"system-key", required_argument, NULL, 'S'},
	    {"availability-key", required_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cu_store_config cfg = {0};
	cu_store_t *s = NULL;
	const char *listen = NULL;
	char addr[64];
	int level = CU_LOG_INFO, o, rc;

	if (cu_cli_wants_help(argc, argv)) {
		fputs(serve_usage, stdout);
		return 0;
	}
	cfg.data_dir = "store-data";
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			listen = optarg;
			break;
		case 'c':
			cfg.tls_cert_file = optarg;
			break;
		case 'k':
			cfg.tls_key_file = optarg;
			break;
		case 'C':
			cfg.client_cert_file = optarg;
			break;
		case 'K':
			cfg.client_key_file = optarg;
			break;
		case 'd':
			cfg.data_dir = optarg;
			break;
		case 't':
			cfg.operator_token_file = optarg;
			break;
		case 'L':
			if (parse_lease(optarg, &cfg.lease_s) != 0) {
				fprintf(stderr,
				        "custos store serve: bad "
				        "--lease-seconds '%s' (1-86400)\n",
				        optarg);
				return 2;
			}
			break;
		case 'A':
			cfg.vault_ca_file = optarg;
			break;
		case 'S':
		case 'V':
			if (strncmp(optarg, "https://", 8) != 0) {
				fprintf(
				    stderr,
				    "custos store serve: %s takes a key "
				    "identifier "
				    "https://HOST:PORT/keys/NAME[/VERSION]\n",
				    o == 'S' ? "--system-key"
				             : "--availability-key");
				return 2;
			}
			if (o == 'S')
				cfg.system_key_kid = optarg;
			else
				cfg.availability_key_kid = optarg;
			break;
		case 'G':
		case 'P':
		case 'Q':
			if (parse_seconds(optarg, o == 'G' ? 0 : 1,
			                  o == 'G'   ? &cfg.outage_grace_s
			                  : o == 'P' ? &cfg.purge_grace_s
			                             : &cfg.cmk_check_s) != 0) {
				fprintf(stderr,
				        "custos store serve: bad number of "
				        "seconds '%s'\n",
				        optarg);
				return 2;
			}
			break;
		case 'D': {
			char *end = NULL;
			double d = strtod(optarg, &end);

			if (end == optarg || *end != '\0' || !(d >= 0) ||
			    d > 3650) {
				fprintf(stderr,
				        "custos store serve: bad "
				        "--inaccessible-purge-days '%s' "
				        "(0-3650)\n",
				        optarg);
				return 2;
			}
			cfg.lockout_purge_days = d;
			break;
		}
		case 'R':
		case 'E':
			if (strcmp(optarg, "yes") != 0 &&
			    strcmp(optarg, "no") != 0) {
				fprintf(stderr,
				        "custos store serve: %s takes yes or "
				        "no\n",
				        o == 'R' ? "--allow-revert-to-system-"
				                   "managed"
				                 : "--vault-events");
				return 2;
			}
			if (o == 'R')
				cfg.refuse_revert = strcmp(optarg, "no") == 0;
			else
				cfg.no_vault_events = strcmp(optarg, "no") == 0;
			break;
		case 'v':
			if (cu_serve_log_level("custos store serve", optarg,
			                       &level) != 0)
				return 2;
			break;
		default:
			fputs(serve_usage, stderr);
			return 2;
		}
	}
	if (optind != argc || listen == NULL || cfg.tls_cert_file == NULL ||
	    cfg.tls_key_file == NULL) {
		fprintf(stderr, "custos store serve: --listen, --tls-cert and "
		                "--tls-key are required\n");
		fputs(serve_usage, stderr);
		return 2;
	}
	if ((cfg.client_cert_file == NULL) != (cfg.client_key_file == NULL)) {
		fprintf(stderr, "custos store serve: --client-cert and "
		                "--client-key go together\n");
		return 2;
	}
	if ((cfg.system_key_kid != NULL || cfg.availability_key_kid != NULL) &&
	    cfg.client_cert_file == NULL) {
		fprintf(stderr, "custos store serve: --system-key and "
		                "--availability-key need --client-cert and "
		                "--client-key (the store's identity in the "
		                "operator's vault)\n");
		return 2;
	}
	if (cu_serve_parse_listen(listen, addr, sizeof(addr), &cfg.port) != 0) {
		fprintf(stderr,
		        "custos store serve: bad --listen '%s' (want "
		        "ADDR:PORT)\n",
		        listen);
		return 2;
	}
	cfg.listen_addr = addr;

	if (cu_serve_prepare("store", level) != 0)
		return 1;
	if ((rc = cu_store_start(&cfg, &s)) != 0) {
		cu_log(CU_LOG_ERROR, "store did not start",
		       json_pack("{s:s}", "error", cu_strerror(rc)));
		return 1;
	}
	cu_serve_wait(cu_store_url(s), cu_store_port(s));
	if (cu_store_stop(s, STOP_DEADLINE_MS) != 0)
		cu_log(CU_LOG_WARN, "requests cut off at shutdown", NULL);
	cu_store_free(s);
	cu_log(CU_LOG_INFO, "stopped", NULL);
	return 0;
}

int cu_cli_store(int argc, char **argv)
{
	static const struct cu_cli_cmd cmds[] = {
	    {"serve", "run a store (S3 + admin API) over HTTPS", store_serve},
	    {NULL, NULL, NULL},
	};

	return cu_cli_dispatch("custos store", cmds, argc - 1, argv + 1);
}

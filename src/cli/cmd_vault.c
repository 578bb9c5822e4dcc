/* custos vault - run a vault. */
#include "cli/cli.h"
#include "cli/serve.h"
#include "core/err.h"
#include "core/log.h"
#include "vault/vault.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STOP_DEADLINE_MS 10000

static const char serve_usage[] =
    "usage: custos vault serve --listen ADDR:PORT --tls-cert FILE "
    "--tls-key FILE\n"
    "                          [--data DIR] [--client-ca FILE] "
    "[--log-level LEVEL]\n"
    "                          [--retention-days N] [--purge-protection] "
    "[--public-url URL]\n"
    "                          [--maintenance-interval SECONDS] "
    "[--near-expiry-days N]\n"
    "\n"
    "Run a custos vault over HTTPS (TLS 1.2+) until SIGTERM or SIGINT.\n"
    "\n"
    "  --listen ADDR:PORT  address to listen on: 127.0.0.1:8443, "
    "[::1]:8443;\n"
    "                      port 0 picks a free one (see the "
    "\"listening\" log line)\n"
    "  --tls-cert FILE     server certificate chain (PEM)\n"
    "  --tls-key FILE      its private key (PEM)\n"
    "  --client-ca FILE    CA whose client certificates identify "
    "principals\n"
    "  --data DIR          the vault's state directory (default: a "
    "temporary one,\n"
    "                      removed at exit); a new "
    "vault\n"
    "                      writes its first administrator's token to "
    "DIR/admin.token\n"
    "  --retention-days N  soft-delete retention of a new vault, 7-90 "
    "(default 90)\n"
    "  --purge-protection  a new vault refuses purges (irreversible)\n"
    "  --public-url URL    the URL in key ids (default: the Host header)\n"
    "  --maintenance-interval SECONDS\n"
    "                      how often scheduled purge, rotation by policy "
    "and\n"
    "                      near-expiry events run, 1-86400 (default 60)\n"
    "  --near-expiry-days N\n"
    "                      a key_near_expiry event when a key version's exp "
    "is\n"
    "                      this close, 1-365 days (default 30)\n"
    "  --log-level LEVEL   debug, info (default), warn or error\n"
    "\n"
    "Logs are JSON lines on stderr, one per request.\n";

/* The value of option --name, a whole number in [lo, hi], into *out.
 * Returns 0, or 2 (the exit status) after saying what is wrong. */
static int number_opt(const char *name, const char *s, long lo, long hi,
                      long *out)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);

	if (end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "custos vault serve: --%s must be %ld to %ld\n",
		        name, lo, hi);
		return 2;
	}
	*out = v;
	return 0;
}

/* Remove the files of a vault started without --data, and its directory.
 * dir NULL: nothing to do. */
static void remove_ephemeral(const char *dir)
{
	static const char *const files[] = {
	    "vault.db",         "vault.db-wal",
	    "vault.db-shm",     "audit.db",
	    "audit.db-wal",     "audit.db-shm",
	    "master.key",       CU_VAULT_ADMIN_TOKEN_FILE,
	    CU_VAULT_LOCK_FILE,
	};
	char path[256];

	if (dir == NULL)
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		(void)unlink(path);
	}
	(void)rmdir(dir);
}

static int vault_serve(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"tls-cert", required_argument, NULL, 'c'},
	    {"tls-key", required_argument, NULL, 'k'},
	    {"client-ca", required_argument, NULL, 'a'},
	    {"data", required_argument, NULL, 'd'},
	    {"log-level", required_argument, NULL, 'v'},
	    {"retention-days", required_argument, NULL, 'r'},
	    {"purge-protection", no_argument, NULL, 'P'},
	    {"public-url", required_argument, NULL, 'u'},
	    {"maintenance-interval", required_argument, NULL, 'm'},
	    {"near-expiry-days", required_argument, NULL, 'e'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cu_vault_config cfg = {0};
	cu_vault_t *v = NULL;
	const char *listen = NULL;
	char addr[64], tmpdir[] = "/tmp/custos-vault-XXXXXX";
	int level = CU_LOG_INFO, o, rc;
	long n;

	if (cu_cli_wants_help(argc, argv)) {
		fputs(serve_usage, stdout);
		return 0;
	}
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
		case 'a':
			cfg.client_ca_file = optarg;
			break;
		case 'd':
			cfg.data_dir = optarg;
			break;
		case 'r':
			if (number_opt("retention-days", optarg, 7, 90, &n) !=
			    0)
				return 2;
			cfg.retention_days = (int)n;
			break;
		case 'm':
			if (number_opt("maintenance-interval", optarg, 1,
			               CU_VAULT_INTERVAL_MAX_S, &n) != 0)
				return 2;
			cfg.maintenance_interval_s = (unsigned)n;
			break;
		case 'e':
			if (number_opt("near-expiry-days", optarg, 1,
			               CU_VAULT_NEAR_EXPIRY_MAX_DAYS, &n) != 0)
				return 2;
			cfg.near_expiry_s = (unsigned)n * 86400u;
			break;
		case 'P':
			cfg.purge_protection = 1;
			break;
		case 'u':
			cfg.public_url = optarg;
			break;
		case 'v':
			if (cu_serve_log_level("custos vault serve", optarg,
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
		fprintf(stderr, "custos vault serve: --listen, --tls-cert and "
		                "--tls-key are required\n");
		fputs(serve_usage, stderr);
		return 2;
	}
	if (cu_serve_parse_listen(listen, addr, sizeof(addr), &cfg.port) != 0) {
		fprintf(stderr,
		        "custos vault serve: bad --listen '%s' (want "
		        "ADDR:PORT)\n",
		        listen);
		return 2;
	}
	cfg.listen_addr = addr;

	if (cu_serve_prepare("vault", level) != 0)
		return 1;
	if (cfg.data_dir == NULL) {
		if (mkdtemp(tmpdir) == NULL) {
			cu_log(CU_LOG_ERROR,
			       "cannot make a temporary directory", NULL);
			return 1;
		}
		cfg.data_dir = tmpdir;
		cu_log(CU_LOG_WARN,
		       "no --data: an ephemeral vault, removed at exit",
		       json_pack("{s:s}", "data", tmpdir));
	}
	if ((rc = cu_vault_start(&cfg, &v)) != 0) {
		cu_log(CU_LOG_ERROR, "vault did not start",
		       json_pack("{s:s}", "error", cu_strerror(rc)));
		remove_ephemeral(cfg.data_dir == tmpdir ? tmpdir : NULL);
		return 1;
	}
	cu_serve_wait(cu_vault_url(v), cu_vault_port(v));
	rc = cu_vault_stop(v, STOP_DEADLINE_MS);
	if (rc != 0)
		cu_log(CU_LOG_WARN, "requests cut off at shutdown", NULL);
	cu_vault_free(v);
	remove_ephemeral(cfg.data_dir == tmpdir ? tmpdir : NULL);
	cu_log(CU_LOG_INFO, "stopped", NULL);
	return 0;
}

int cu_cli_vault(int argc, char **argv)
{
	static const struct cu_cli_cmd cmds[] = {
	    {"serve", "run a vault over HTTPS", vault_serve},
	    {"principal", "add or remove a principal (a running vault)",
	     cu_cli_vault_admin},
	    {"role", "assign, remove or list roles (a running vault)",
	     cu_cli_vault_admin},
	    {"settings", "show or change soft delete and purge protection",
	     cu_cli_vault_admin},
	    {"audit", "list or verify the hash-chained audit log",
	     cu_cli_vault_admin},
	    {NULL, NULL, NULL},
	};

	return cu_cli_dispatch("custos vault", cmds, argc - 1, argv + 1);
}

/* custos pki - a development PKI: a local CA, server and client
 * certificates (core/pki.h). */
#include "cli/cli.h"
#include "core/err.h"
#include "core/pki.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define MAX_SANS 16

static const char init_usage[] =
    "usage: custos pki init --dir DIR [--san NAME]...\n"
    "\n"
    "Create a development CA and a server certificate in DIR:\n"
    "  " CU_PKI_CA_CERT "          the CA certificate (trust this)\n"
    "  " CU_PKI_CA_KEY "      its private key (0600)\n"
    "  " CU_PKI_SERVER_CERT "      server certificate: localhost, "
    "127.0.0.1, ::1\n"
    "  " CU_PKI_SERVER_KEY "  its private key (0600)\n"
    "\n"
    "  --dir DIR    directory (created 0700); refused if it holds a CA\n"
    "  --san NAME   an extra DNS name or IP address for the server "
    "certificate\n";

static const char client_usage[] =
    "usage: custos pki issue-client --dir DIR --name NAME\n"
    "\n"
    "Issue a client certificate for principal NAME, signed by the CA in "
    "DIR,\n"
    "as DIR/client-NAME.pem and DIR/client-NAME-key.pem (0600). Prints "
    "the\n"
    "certificate's SHA-256 fingerprint, the value a vault principal's\n"
    "\"certificate_sha256\" takes.\n"
    "\n"
    "  --dir DIR    directory made by 'custos pki init'\n"
    "  --name NAME  principal name: letters, digits, '.', '_', '-'\n";

static int pki_init(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"san", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	const char *sans[MAX_SANS];
	size_t nsans = 0;
	int o, rc;

	if (cu_cli_wants_help(argc, argv)) {
		fputs(init_usage, stdout);
		return 0;
	}
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'd') {
			dir = optarg;
		} else if (o == 's' && nsans < MAX_SANS) {
			sans[nsans++] = optarg;
		} else {
			fputs(init_usage, stderr);
			return 2;
		}
	}
	if (dir == NULL || optind != argc) {
		fputs(init_usage, stderr);
		return 2;
	}
	rc = cu_pki_init_dir(dir, sans, nsans);
	if (rc == CU_ERR_EXISTS) {
		fprintf(stderr, "custos pki init: %s already holds a CA\n",
		        dir);
		return 1;
	}
	if (rc != 0) {
		fprintf(stderr, "custos pki init: %s: %s\n", dir,
		        cu_strerror(rc));
		return 1;
	}
	printf("CA:     %s/%s\nserver: %s/%s\n", dir, CU_PKI_CA_CERT, dir,
	       CU_PKI_SERVER_CERT);
	return 0;
}

static int pki_issue_client(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"name", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *name = NULL;
	char fp[CU_PKI_FINGERPRINT_LEN + 1];
	int o, rc;

	if (cu_cli_wants_help(argc, argv)) {
		fputs(client_usage, stdout);
		return 0;
	}
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'd') {
			dir = optarg;
		} else if (o == 'n') {
			name = optarg;
		} else {
			fputs(client_usage, stderr);
			return 2;
		}
	}
	if (dir == NULL || name == NULL || optind != argc) {
		fputs(client_usage, stderr);
		return 2;
	}
	rc = cu_pki_issue_client_dir(dir, name, fp);
	if (rc == CU_ERR_INVAL) {
		fprintf(stderr, "custos pki issue-client: bad name '%s'\n",
		        name);
		return 2;
	}
	if (rc == CU_ERR_NOTFOUND) {
		fprintf(stderr,
		        "custos pki issue-client: no CA in %s (run 'custos "
		        "pki init --dir %s' first)\n",
		        dir, dir);
		return 1;
	}
	if (rc != 0) {
		fprintf(stderr, "custos pki issue-client: %s\n",
		        cu_strerror(rc));
		return 1;
	}
	printf("%s\n", fp);
	return 0;
}

int cu_cli_pki(int argc, char **argv)
{
	static const struct cu_cli_cmd cmds[] = {
	    {"init", "create a development CA and server certificate",
	     pki_init},
	    {"issue-client", "issue a client certificate for a principal",
	     pki_issue_client},
	    {NULL, NULL, NULL},
	};

	return cu_cli_dispatch("custos pki", cmds, argc - 1, argv + 1);
}

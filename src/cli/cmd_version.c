#include "cli/cli.h"
#include "core/version.h"

#include <openssl/crypto.h>
#include <microhttpd.h>
#include <sqlite3.h>
#include <jansson.h>
#include <curl/curl.h>
#include <stdio.h>

int cu_cli_version(int argc, char **argv)
{
	if (cu_cli_wants_help(argc, argv)) {
		printf("usage: custos version\n\n"
		       "Print the custos version and the versions of the "
		       "libraries it runs on.\n");
		return 0;
	}
	printf("custos %s\n", CU_VERSION);
#ifdef CU_BENCH_NULL_CIPHER
	/* Makefile NULL_CIPHER=1: object segments are copied, not encrypted */
	printf("NULL CIPHER BUILD - benchmarks only, no confidentiality\n");
#endif
	printf("  %s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("  libmicrohttpd %s\n", MHD_get_version());
	printf("  SQLite %s\n", sqlite3_libversion());
	printf("  jansson %s\n", jansson_version_str());
	printf("  %s\n", curl_version());
	return 0;
}

/* custos - customer-managed-key service encryption: one binary, many
 * subcommands. This file only routes; each command lives in cmd_*.c. */
#include "cli/cli.h"

#include <stddef.h>

static const struct cu_cli_cmd commands[] = {
    {"dev", "run a complete local custos (what `make run` starts)", cu_cli_dev},
    {"key", "manage and use keys in a running vault", cu_cli_key},
    {"pki", "development PKI: a local CA and certificates", cu_cli_pki},
    {"store", "run the S3 store (`custos store serve`)", cu_cli_store},
    {"tenant", "manage store tenants and their customer-managed keys",
     cu_cli_tenant},
    {"vault", "run a vault (`custos vault serve`)", cu_cli_vault},
    {"version", "print version information", cu_cli_version},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
	return cu_cli_dispatch("custos", commands, argc - 1, argv + 1);
}

/* custos - customer-managed-key service encryption: one binary, many
 * subcommands. This file only routes; each command lives in cmd_*.c. */
#include "cli/cli.h"

#include <stddef.h>

static const struct cu_cli_cmd commands[] = {
	{"version", "print version information", cu_cli_version},
	{NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
	return cu_cli_dispatch("custos", commands, argc - 1, argv + 1);
}

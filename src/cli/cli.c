#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static void print_help(FILE *f, const char *prog, const struct cu_cli_cmd *cmds)
{
	fprintf(f, "usage: %s <command> [options]\n\ncommands:\n", prog);
	for (const struct cu_cli_cmd *c = cmds; c->name != NULL; c++)
		fprintf(f, "  %-12s %s\n", c->name, c->summary);
	fprintf(f, "\nRun '%s <command> --help' for a command's options.\n",
	        prog);
}

int cu_cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

int cu_cli_dispatch(const char *prog, const struct cu_cli_cmd *cmds, int argc,
                    char **argv)
{
	if (argc < 1) {
		print_help(stderr, prog, cmds);
		return 2;
	}
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
	    strcmp(argv[0], "help") == 0) {
		print_help(stdout, prog, cmds);
		return 0;
	}
	for (const struct cu_cli_cmd *c = cmds; c->name != NULL; c++) {
		if (strcmp(argv[0], c->name) == 0)
			return c->run(argc, argv);
	}
	fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[0]);
	fprintf(stderr, "Run '%s --help' to list the commands.\n", prog);
	return 2;
}

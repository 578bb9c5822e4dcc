/* cli.h - the `custos` command line: one entry per subcommand.
 *
 * Each subcommand is a function taking the arguments after its own name
 * (argv[0] is the subcommand name) and returning a process exit status:
 * 0 success, 1 failure (already reported to the user), 2 usage error. */
#ifndef CU_CLI_H
#define CU_CLI_H

struct cu_cli_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

/* cu_cli_dispatch - find `argv[0]` in `cmds` (terminated by a NULL name) and
 * run it; print the table as help for "--help", "-h" or "help", or for no
 * argument. `prog` names the parent command in help and errors. */
int cu_cli_dispatch(const char *prog, const struct cu_cli_cmd *cmds, int argc,
                    char **argv);

/* cu_cli_wants_help - 1 when argv holds -h or --help, else 0. */
int cu_cli_wants_help(int argc, char **argv);

/* The top-level subcommands, each in its own cmd_*.c. */
int cu_cli_version(int argc, char **argv);
int cu_cli_dev(int argc, char **argv);
int cu_cli_pki(int argc, char **argv);
int cu_cli_store(int argc, char **argv);
int cu_cli_vault(int argc, char **argv);
int cu_cli_vault_admin(int argc, char **argv); /* vault principal|role|... */
int cu_cli_key(int argc, char **argv);
int cu_cli_tenant(int argc, char **argv); /* store admin API client */

#endif

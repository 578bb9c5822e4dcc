/* supervise.h - start, watch and stop the child processes of `custos dev`.
 *
 * Each child is this same binary run with other arguments (a real separate
 * process, as in production: the vault/store boundary stays real). */
#ifndef CU_SUPERVISE_H
#define CU_SUPERVISE_H

#include <sys/types.h>

#define CU_SUP_MAX_CHILDREN 8

struct cu_sup_child {
	char name[32];
	pid_t pid;     /* 0 when not running */
	int exited;    /* 1 once reaped */
	int status;    /* wait status once reaped */
	char log[512]; /* where its stdout and stderr go */
};

struct cu_sup {
	struct cu_sup_child children[CU_SUP_MAX_CHILDREN];
	int n;
};

/* cu_sup_block_signals - block SIGINT, SIGTERM and SIGCHLD in the calling
 * thread so cu_sup_wait can take them synchronously. Call before spawning.
 * Children get an empty mask back. */
void cu_sup_block_signals(void);

/* cu_sup_spawn - run this binary with `argv` (NULL-terminated; argv[0] is
 * the first subcommand word) as child `name`, stdout and stderr appended to
 * `log_path`. Returns 0, CU_ERR_RANGE when the table is full, or CU_ERR_IO
 * (fork/exec/open failed; detail on stderr). */
int cu_sup_spawn(struct cu_sup *s, const char *name, char *const argv[],
                 const char *log_path);

/* cu_sup_wait_http - poll `url` (https, verified against ca_file) until it
 * answers 200 or timeout_ms passes or child `name` exits. Returns 0,
 * CU_ERR_TIMEOUT or CU_ERR_STATE (the child died; its log has why). */
int cu_sup_wait_http(struct cu_sup *s, const char *name, const char *url,
                     const char *ca_file, int timeout_ms);

/* cu_sup_wait - sleep until SIGINT/SIGTERM (returns 0) or until a child
 * exits on its own (returns CU_ERR_STATE; its entry shows how). */
int cu_sup_wait(struct cu_sup *s);

/* cu_sup_stop_all - SIGTERM every running child, wait up to grace_ms for
 * them, then SIGKILL the rest. Returns 0 when every child exited 0 on
 * SIGTERM, else CU_ERR_STATE. */
int cu_sup_stop_all(struct cu_sup *s, int grace_ms);

#endif

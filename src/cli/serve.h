/* serve.h - what `custos store serve` and `custos vault serve` share:
 * the --listen and --log-level options, the process set-up before a
 * daemon starts its threads, and the wait for SIGTERM or SIGINT. */
#ifndef CU_CLI_SERVE_H
#define CU_CLI_SERVE_H

#include <stddef.h>
#include <stdint.h>

/* cu_serve_parse_listen - "127.0.0.1:8443" or "[::1]:8443" into addr
 * (NUL-terminated, at most cap - 1 bytes) and *port. Returns 0, or
 * CU_ERR_INVAL for anything else (addr may then hold a partial copy). */
int cu_serve_parse_listen(const char *s, char *addr, size_t cap,
                          uint16_t *port);

/* cu_serve_log_level - parse a --log-level value into *level. Returns 0,
 * or 2 (a usage exit status) after telling the user on stderr; prog
 * ("custos vault serve") prefixes the message. */
int cu_serve_log_level(const char *prog, const char *s, int *level);

/* cu_serve_prepare - start JSON logging for daemon `name` at `level`,
 * disable core dumps, lock the secret memory arena (a warning when that
 * fails) and block the stop signals, before any thread exists so every
 * thread inherits the mask. Returns 0, or 1 (an exit status) after
 * logging why. */
int cu_serve_prepare(const char *name, int level);

/* cu_serve_wait - log the "listening" line for url and port, wait for
 * SIGTERM or SIGINT, and log the "stopping" line. */
void cu_serve_wait(const char *url, uint16_t port);

#endif

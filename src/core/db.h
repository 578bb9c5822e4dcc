/* db.h - the embedded storage base: SQLite with durable writes.
 *
 * One handle wraps one SQLite connection opened in WAL mode with
 * synchronous=FULL (a commit that returned survives kill -9 and power
 * loss), foreign keys on and a busy timeout for other processes that open
 * the same file (a CLI reading the audit log while the daemon runs).
 *
 * Threads: the handle carries a mutex. Every use goes through a
 * transaction (cu_db_begin or cu_db_begin_read ... cu_db_commit or
 * cu_db_rollback), which holds the mutex from begin to end, so statements
 * of two threads never interleave inside one transaction. Statements
 * prepared inside a transaction must be finalized (cached ones released)
 * before it ends; the mutex also guards the handle's statement cache.
 *
 * Schema: the caller passes an array of migrations; migration i (0-based)
 * moves PRAGMA user_version from i to i+1 and runs in its own transaction
 * together with that version bump, so a crash leaves either the old or
 * the new schema. */
#ifndef CU_DB_H
#define CU_DB_H

#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cu_db cu_db_t;

/* Milliseconds a statement waits for a lock held by another process. */
#define CU_DB_BUSY_TIMEOUT_MS 5000

/* cu_db_open - open (creating it with mode 0600 if missing) the database
 * at `path`, set WAL, synchronous=FULL, foreign_keys=ON and the busy
 * timeout, and apply the migrations `migrations[0..n_migrations)` that the
 * file has not seen yet. ":memory:" opens a private in-memory database
 * (no durability; for tests). On success *out is the caller's, to close
 * with cu_db_close. Returns 0, CU_ERR_INVAL (NULL argument), CU_ERR_IO
 * (the file cannot be created or opened), CU_ERR_STATE (the file's schema
 * is newer than this binary knows), CU_ERR_NOMEM or CU_ERR_DB. */
int cu_db_open(const char *path, const char *const *migrations,
               size_t n_migrations, cu_db_t **out);

/* cu_db_close - finish and free the handle. NULL is accepted. No
 * transaction may be open. */
void cu_db_close(cu_db_t *db);

/* cu_db_sqlite - the underlying connection, for sqlite3_* calls inside a
 * transaction. Owned by the handle. */
sqlite3 *cu_db_sqlite(cu_db_t *db);

/* cu_db_user_version - the schema version (PRAGMA user_version) into *v.
 * Takes the handle's mutex itself; call outside a transaction.
 * Returns 0 or CU_ERR_DB. */
int cu_db_user_version(cu_db_t *db, int *v);

/* cu_db_commits - how many transactions this handle has committed since
 * it was opened, its migrations included (ever growing; read with
 * acquire order: a thread that sees a count sees the commits it counts).
 * For memos of what the database said: an answer read after seeing count
 * N holds while the count is still N, provided no other handle or
 * process writes the file. Thread-safe. */
uint64_t cu_db_commits(cu_db_t *db);

/* cu_db_begin - lock the handle and start a write transaction
 * (BEGIN IMMEDIATE: the write lock is taken now, so the transaction
 * cannot fail later with SQLITE_BUSY on its first write).
 * cu_db_begin_read - lock the handle and start a read transaction
 * (BEGIN DEFERRED: one consistent snapshot of the file).
 * Both return 0 (the caller must then end with cu_db_commit or
 * cu_db_rollback), or CU_ERR_DB with nothing held. */
int cu_db_begin(cu_db_t *db);
int cu_db_begin_read(cu_db_t *db);

/* cu_db_commit - commit and unlock. On failure the transaction is rolled
 * back and the handle unlocked all the same. Returns 0 (durable, unless
 * the database is ":memory:") or CU_ERR_DB. */
int cu_db_commit(cu_db_t *db);

/* cu_db_rollback - roll back and unlock. Always releases the handle. */
void cu_db_rollback(cu_db_t *db);

/* cu_db_exec - run SQL text without parameters (one or more statements;
 * schema changes). Inside a transaction. Returns 0 or a mapped error. */
int cu_db_exec(cu_db_t *db, const char *sql);

/* Prepared statements with bound parameters. `fmt` has one letter per
 * parameter (?1, ?2, ...) and the variadic arguments follow it:
 *   't'  const char * NUL-terminated text (NULL binds SQL NULL)
 *   'T'  const char *, size_t: text with a length
 *   'b'  const void *, size_t: a blob (NULL binds SQL NULL)
 *   'i'  int64_t
 *   'n'  no argument: SQL NULL
 * Text and blobs are copied by SQLite (SQLITE_TRANSIENT). */

/* cu_db_query - prepare `sql` and bind `fmt` arguments. On success *out
 * is a statement to step with cu_db_step and then sqlite3_finalize (still
 * inside the transaction). Returns 0, CU_ERR_INVAL (bad fmt letter or
 * count), or a mapped error (*out NULL). */
int cu_db_query(cu_db_t *db, sqlite3_stmt **out, const char *sql,
                const char *fmt, ...);

/* cu_db_vquery - cu_db_query with the arguments as a va_list (for
 * wrappers that take their own variadic arguments). The caller owns `ap`
 * and ends it; same contract and returns as cu_db_query. */
int cu_db_vquery(cu_db_t *db, sqlite3_stmt **out, const char *sql,
                 const char *fmt, va_list ap);

/* cu_db_query_cached - as cu_db_query, with a statement the handle
 * prepares once and keeps (up to a few dozen distinct sql texts; past
 * that, or when the same text is handed out already, a fresh statement
 * is prepared as by cu_db_query). Step it with cu_db_step and end it
 * with cu_db_release, not sqlite3_finalize, still inside the
 * transaction. For the statements run on every request. Same returns
 * as cu_db_query (*out NULL on failure). */
int cu_db_query_cached(cu_db_t *db, sqlite3_stmt **out, const char *sql,
                       const char *fmt, ...);

/* cu_db_vquery_cached - cu_db_query_cached with a va_list (the caller
 * owns and ends `ap`). */
int cu_db_vquery_cached(cu_db_t *db, sqlite3_stmt **out, const char *sql,
                        const char *fmt, va_list ap);

/* cu_db_release - end a statement from cu_db_query_cached: a kept one
 * is reset (its bindings cleared) for the next use, any other
 * finalized. NULL is accepted. */
void cu_db_release(cu_db_t *db, sqlite3_stmt *st);

/* cu_db_run - prepare, bind, step to completion and finalize a statement
 * that returns no rows (INSERT, UPDATE, DELETE). *changes, when not NULL,
 * gets the number of rows changed; the statement is kept as by
 * cu_db_query_cached. Returns 0 or a mapped error. */
int cu_db_run(cu_db_t *db, int *changes, const char *sql, const char *fmt, ...);

/* cu_db_vrun - cu_db_run with the arguments as a va_list (for wrappers
 * that take their own variadic arguments). The caller owns `ap` and ends
 * it; same returns as cu_db_run. */
int cu_db_vrun(cu_db_t *db, int *changes, const char *sql, const char *fmt,
               va_list ap);

/* cu_db_row_fn - reads the current row of st into arg; returns 0 or an
 * error (cu_db_read_rows: or positive to stop). */
typedef int (*cu_db_row_fn)(sqlite3_stmt *st, void *arg);

/* cu_db_read_row - run one query (sql, fmt and arguments as cu_db_query)
 * and hand its first row to fn (NULL: only whether there is one), on one
 * of a pool of read-only connections to the handle's file (up to 8,
 * opened on demand, statements kept prepared), without the handle's
 * mutex: for the reads every request makes, from many threads at once.
 * The statement is its own read transaction, so it sees every commit
 * made before it started. Not inside the caller's transaction; an
 * in-memory database runs it in a read transaction on the handle. Returns
 * 0, CU_ERR_NOTFOUND (no row), fn's error or a mapped error.
 * Thread-safe. */
int cu_db_read_row(cu_db_t *db, cu_db_row_fn fn, void *arg, const char *sql,
                   const char *fmt, ...);

/* cu_db_vread_row - cu_db_read_row with a va_list (the caller owns and
 * ends `ap`). */
int cu_db_vread_row(cu_db_t *db, cu_db_row_fn fn, void *arg, const char *sql,
                    const char *fmt, va_list ap);

/* cu_db_read_rows - as cu_db_read_row, handing every row to fn in turn
 * until fn returns nonzero: negative is an error, returned as is;
 * positive stops early. Returns 0 (no row at all too), fn's error or a
 * mapped error. cu_db_vread_rows takes a va_list. */
int cu_db_read_rows(cu_db_t *db, cu_db_row_fn fn, void *arg, const char *sql,
                    const char *fmt, ...);
int cu_db_vread_rows(cu_db_t *db, cu_db_row_fn fn, void *arg, const char *sql,
                     const char *fmt, va_list ap);

/* cu_db_step - step a statement: 1 when a row is ready, 0 when done, or
 * a mapped error. */
int cu_db_step(sqlite3_stmt *st);

/* cu_db_last_rowid - the rowid of the last INSERT on this connection. */
int64_t cu_db_last_rowid(cu_db_t *db);

/* cu_db_err - map an SQLite result code (primary or extended) to a
 * custos error: SQLITE_OK/ROW/DONE -> 0, a UNIQUE or PRIMARY KEY
 * violation -> CU_ERR_EXISTS, a FOREIGN KEY violation -> CU_ERR_NOTFOUND
 * (the row it refers to is missing), SQLITE_NOMEM -> CU_ERR_NOMEM,
 * SQLITE_TOOBIG -> CU_ERR_TOOLARGE, anything else -> CU_ERR_DB. */
int cu_db_err(int sqlite_rc);

/* cu_db_col_text - column `i` of the current row as NUL-terminated text
 * owned by the statement (valid until the next step or finalize); "" for
 * SQL NULL. Never NULL. */
const char *cu_db_col_text(sqlite3_stmt *st, int i);

#endif

#include "core/db.h"
#include "core/err.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Prepared statements kept for the handle's life (see
 * cu_db_query_cached): parsing a statement cost more than running it in
 * the store's per-request lookups. */
#define STMT_CACHE 64

struct cached {
	const char *key; /* the caller's sql pointer: compared, never read */
	sqlite3_stmt *st;
	int busy; /* handed out and not yet released */
};

/* the transaction statements, prepared once */
enum { TX_BEGIN, TX_BEGIN_READ, TX_COMMIT, TX_ROLLBACK, TX_N };

static const char *const tx_sql[TX_N] = {"BEGIN IMMEDIATE", "BEGIN DEFERRED",
                                         "COMMIT", "ROLLBACK"};

/* Read connections beyond this many wait for one to come back; a few
 * are plenty on a machine of a few cores. */
#define READERS_MAX 8

struct cu_db {
	sqlite3 *conn;
	pthread_mutex_t mu;
	int memory;
	/* the pool of read-only connections (cu_db_read_row), each a
	 * handle of its own (its conn and statement cache) */
	char *path;
	pthread_mutex_t rd_mu;
	pthread_cond_t rd_cv;
	struct cu_db *rd_free; /* linked by rd_next */
	struct cu_db *rd_next;
	int rd_open;
	_Atomic uint64_t commits; /* cu_db_commits */
	sqlite3_stmt *tx[TX_N];   /* NULL until first used */
	struct cached cache[STMT_CACHE];
	size_t n_cached;
};

int cu_db_err(int rc)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return CU_ERR_EXISTS;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return CU_ERR_NOTFOUND;
	case SQLITE_NOMEM:
		return CU_ERR_NOMEM;
	case SQLITE_TOOBIG:
		return CU_ERR_TOOLARGE;
	default:
		return CU_ERR_DB;
	}
}

/* Map the connection's last extended code: the primary code that
 * sqlite3_step returns does not tell UNIQUE from FOREIGN KEY. */
static int conn_err(sqlite3 *conn, int rc)
{
	int ext = sqlite3_extended_errcode(conn);

	if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	if ((ext & 0xff) == (rc & 0xff))
		rc = ext;
	if (cu_db_err(rc) == CU_ERR_DB)
		cu_logf(CU_LOG_WARN, "sqlite: %s (%d)", sqlite3_errmsg(conn),
		        rc);
	return cu_db_err(rc);
}

sqlite3 *cu_db_sqlite(cu_db_t *db)
{
	return db->conn;
}

int cu_db_exec(cu_db_t *db, const char *sql)
{
	int rc = sqlite3_exec(db->conn, sql, NULL, NULL, NULL);

	return conn_err(db->conn, rc);
}

/* Run one of the transaction statements, prepared on first use. */
static int tx_run(cu_db_t *db, int which)
{
	sqlite3_stmt *st = db->tx[which];
	int rc, r;

	if (st == NULL) {
		rc = sqlite3_prepare_v2(db->conn, tx_sql[which], -1, &st, NULL);
		if (rc != SQLITE_OK)
			return conn_err(db->conn, rc);
		db->tx[which] = st;
	}
	r = conn_err(db->conn, sqlite3_step(st));
	(void)sqlite3_reset(st);
	return r;
}

static int tx_start(cu_db_t *db, int which)
{
	int r;

	pthread_mutex_lock(&db->mu);
	r = tx_run(db, which);
	if (r != 0)
		pthread_mutex_unlock(&db->mu);
	return r;
}

int cu_db_begin(cu_db_t *db)
{
	return tx_start(db, TX_BEGIN);
}

int cu_db_begin_read(cu_db_t *db)
{
	return tx_start(db, TX_BEGIN_READ);
}

int cu_db_commit(cu_db_t *db)
{
	int r = tx_run(db, TX_COMMIT);

	if (r != 0 && !sqlite3_get_autocommit(db->conn))
		(void)tx_run(db, TX_ROLLBACK);
	pthread_mutex_unlock(&db->mu);
	return r;
}

void cu_db_rollback(cu_db_t *db)
{
	if (!sqlite3_get_autocommit(db->conn))
		(void)tx_run(db, TX_ROLLBACK);
	pthread_mutex_unlock(&db->mu);
}

static int bind_args(sqlite3_stmt *st, const char *fmt, va_list ap)
{
	int n = sqlite3_bind_parameter_count(st);
	int i = 0, rc = SQLITE_OK;

	for (; fmt != NULL && fmt[i] != '\0'; i++) {
		int idx = i + 1;

		if (idx > n)
			return CU_ERR_INVAL;
		switch (fmt[i]) {
		case 't': {
			const char *s = va_arg(ap, const char *);
			rc = s ? sqlite3_bind_text(st, idx, s, -1,
			                           SQLITE_TRANSIENT)
			       : sqlite3_bind_null(st, idx);
			break;
		}
		case 'T': {
			const char *s = va_arg(ap, const char *);
			size_t len = va_arg(ap, size_t);
			if (len > INT32_MAX)
				return CU_ERR_TOOLARGE;
			rc = sqlite3_bind_text(st, idx, s ? s : "", (int)len,
			                       SQLITE_TRANSIENT);
			break;
		}
		case 'b': {
			const void *p = va_arg(ap, const void *);
			size_t len = va_arg(ap, size_t);
			if (len > INT32_MAX)
				return CU_ERR_TOOLARGE;
			if (p == NULL)
				rc = sqlite3_bind_null(st, idx);
			else
				rc = sqlite3_bind_blob(st, idx, p, (int)len,
				                       SQLITE_TRANSIENT);
			break;
		}
		case 'i':
			rc = sqlite3_bind_int64(st, idx, va_arg(ap, int64_t));
			break;
		case 'n':
			rc = sqlite3_bind_null(st, idx);
			break;
		default:
			return CU_ERR_INVAL;
		}
		if (rc != SQLITE_OK)
			return cu_db_err(rc);
	}
	return i == n ? 0 : CU_ERR_INVAL;
}

static int vquery(cu_db_t *db, sqlite3_stmt **out, const char *sql,
                  const char *fmt, va_list ap)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	*out = NULL;
	rc = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		r = conn_err(db->conn, rc);
		goto out;
	}
	if (st == NULL) { /* sql held no statement (empty, a comment) */
		r = CU_ERR_INVAL;
		goto out;
	}
	if ((r = bind_args(st, fmt, ap)) != 0)
		goto out;
	*out = st;
	st = NULL;
out:
	sqlite3_finalize(st);
	return r;
}

int cu_db_query(cu_db_t *db, sqlite3_stmt **out, const char *sql,
                const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vquery(db, out, sql, fmt, ap);
	va_end(ap);
	return r;
}

int cu_db_vquery(cu_db_t *db, sqlite3_stmt **out, const char *sql,
                 const char *fmt, va_list ap)
{
	return vquery(db, out, sql, fmt, ap);
}

/* The cached statement for sql, prepared and kept on first use; NULL
 * (with *rc 0) when the cache is full or the statement is handed out
 * already (the caller prepares its own). */
static sqlite3_stmt *cache_take(cu_db_t *db, const char *sql, int *rc)
{
	struct cached *c = NULL;
	sqlite3_stmt *st = NULL;

	*rc = 0;
	for (size_t i = 0; i < db->n_cached; i++) {
		/* the pointer finds the entry, the text (SQLite's own
		 * copy) confirms it: sql may be a reused buffer */
		if (db->cache[i].key == sql &&
		    strcmp(sqlite3_sql(db->cache[i].st), sql) == 0) {
			c = &db->cache[i];
			break;
		}
	}
	if (c == NULL) {
		if (db->n_cached == STMT_CACHE)
			return NULL;
		int prc = sqlite3_prepare_v3(
		    db->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
		if (prc != SQLITE_OK) {
			*rc = conn_err(db->conn, prc);
			sqlite3_finalize(st);
			return NULL;
		}
		if (st == NULL)
			return NULL; /* no statement: vquery refuses it */
		c = &db->cache[db->n_cached++];
		c->key = sql;
		c->st = st;
		c->busy = 0;
	}
	if (c->busy)
		return NULL;
	c->busy = 1;
	return c->st;
}

int cu_db_vquery_cached(cu_db_t *db, sqlite3_stmt **out, const char *sql,
                        const char *fmt, va_list ap)
{
	sqlite3_stmt *st;
	int r;

	*out = NULL;
	st = cache_take(db, sql, &r);
	if (r != 0)
		return r;
	if (st == NULL)
		return vquery(db, out, sql, fmt, ap);
	if ((r = bind_args(st, fmt, ap)) != 0) {
		cu_db_release(db, st);
		return r;
	}
	*out = st;
	return 0;
}

int cu_db_query_cached(cu_db_t *db, sqlite3_stmt **out, const char *sql,
                       const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cu_db_vquery_cached(db, out, sql, fmt, ap);
	va_end(ap);
	return r;
}

void cu_db_release(cu_db_t *db, sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < db->n_cached; i++) {
		if (db->cache[i].st == st) {
			(void)sqlite3_reset(st);
			(void)sqlite3_clear_bindings(st);
			db->cache[i].busy = 0;
			return;
		}
	}
	sqlite3_finalize(st);
}

int cu_db_step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return conn_err(sqlite3_db_handle(st), rc);
}

int cu_db_run(cu_db_t *db, int *changes, const char *sql, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cu_db_vrun(db, changes, sql, fmt, ap);
	va_end(ap);
	return r;
}

int cu_db_vrun(cu_db_t *db, int *changes, const char *sql, const char *fmt,
               va_list ap)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = cu_db_vquery_cached(db, &st, sql, fmt, ap);
	if (r != 0)
		goto out;
	while ((r = cu_db_step(st)) == 1)
		;
	if (r == 0 && changes != NULL)
		*changes = sqlite3_changes(db->conn);
out:
	cu_db_release(db, st);
	return r;
}

int64_t cu_db_last_rowid(cu_db_t *db)
{
	return sqlite3_last_insert_rowid(db->conn);
}

const char *cu_db_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? (const char *)s : "";
}

static int read_user_version(cu_db_t *db, int *v)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = cu_db_query(db, &st, "PRAGMA user_version", "")) != 0)
		goto out;
	if ((r = cu_db_step(st)) != 1) {
		r = r == 0 ? CU_ERR_DB : r;
		goto out;
	}
	*v = sqlite3_column_int(st, 0);
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

int cu_db_user_version(cu_db_t *db, int *v)
{
	int r;

	pthread_mutex_lock(&db->mu);
	r = read_user_version(db, v);
	pthread_mutex_unlock(&db->mu);
	return r;
}

static int pragma_text(cu_db_t *db, const char *sql, char *out, size_t cap)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = cu_db_query(db, &st, sql, "")) != 0)
		goto out;
	if ((r = cu_db_step(st)) != 1) {
		r = r == 0 ? CU_ERR_DB : r;
		goto out;
	}
	snprintf(out, cap, "%s", cu_db_col_text(st, 0));
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

static int migrate(cu_db_t *db, const char *const *migrations, size_t n)
{
	int v = 0, r;

	if ((r = cu_db_user_version(db, &v)) != 0)
		return r;
	if (v < 0 || (size_t)v > n) {
		cu_logf(CU_LOG_ERROR,
		        "database schema version %d is newer than this "
		        "binary's %zu",
		        v, n);
		return CU_ERR_STATE;
	}
	for (size_t i = (size_t)v; i < n; i++) {
		char bump[64];

		if ((r = cu_db_begin(db)) != 0)
			return r;
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %zu",
		         i + 1);
		if ((r = cu_db_exec(db, migrations[i])) != 0 ||
		    (r = cu_db_exec(db, bump)) != 0) {
			cu_db_rollback(db);
			cu_logf(CU_LOG_ERROR, "database migration %zu failed",
			        i + 1);
			return r;
		}
		if ((r = cu_db_commit(db)) != 0)
			return r;
	}
	return 0;
}

/* SQLite's own WAL hook checkpoints once the log holds this many pages
 * (its default); setting a hook replaces it, so count_wal does it too. */
#define AUTOCHECKPOINT_PAGES 1000

/* Called by SQLite after each commit on the connection has taken place
 * and released the write lock: a reader that then sees the new count
 * also sees the change. */
static int count_wal(void *arg, sqlite3 *conn, const char *name, int pages)
{
	cu_db_t *db = arg;

	atomic_fetch_add_explicit(&db->commits, 1, memory_order_release);
	if (pages >= AUTOCHECKPOINT_PAGES)
		(void)sqlite3_wal_checkpoint(conn, name);
	return SQLITE_OK;
}

/* An in-memory database has no WAL; its one connection is serialized by
 * SQLite's mutex, so counting just before the commit is as good. */
static int count_commit(void *arg)
{
	cu_db_t *db = arg;

	atomic_fetch_add_explicit(&db->commits, 1, memory_order_release);
	return 0; /* 0: let the commit go on */
}

uint64_t cu_db_commits(cu_db_t *db)
{
	return atomic_load_explicit(&db->commits, memory_order_acquire);
}

int cu_db_open(const char *path, const char *const *migrations,
               size_t n_migrations, cu_db_t **out)
{
	cu_db_t *db = NULL;
	char mode[16];
	int r, rc, fd;

	if (out == NULL)
		return CU_ERR_INVAL;
	*out = NULL;
	if (path == NULL || (migrations == NULL && n_migrations > 0))
		return CU_ERR_INVAL;
	db = calloc(1, sizeof(*db));
	if (db == NULL)
		return CU_ERR_NOMEM;
	pthread_mutex_init(&db->mu, NULL);
	pthread_mutex_init(&db->rd_mu, NULL);
	pthread_cond_init(&db->rd_cv, NULL);
	db->memory = strcmp(path, ":memory:") == 0;
	if ((db->path = strdup(path)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if (!db->memory) {
		/* SQLite would create the file 0644; the -wal and -shm files
		 * copy the main file's mode, so creating it 0600 here keeps
		 * all three private. */
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			cu_logf(CU_LOG_ERROR, "cannot open database %s: %s",
			        path, strerror(errno));
			r = CU_ERR_IO;
			goto out;
		}
		close(fd);
	}
	rc = sqlite3_open_v2(path, &db->conn,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                         SQLITE_OPEN_FULLMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		r = rc == SQLITE_NOMEM ? CU_ERR_NOMEM : CU_ERR_IO;
		goto out;
	}
	sqlite3_extended_result_codes(db->conn, 1);
	sqlite3_busy_timeout(db->conn, CU_DB_BUSY_TIMEOUT_MS);
	if ((r = pragma_text(db, "PRAGMA journal_mode=WAL", mode,
	                     sizeof(mode))) != 0)
		goto out;
	if (strcmp(mode, db->memory ? "memory" : "wal") != 0) {
		cu_logf(CU_LOG_ERROR, "database %s: journal mode %s, not WAL",
		        path, mode);
		r = CU_ERR_DB;
		goto out;
	}
	if ((r = cu_db_exec(db, "PRAGMA synchronous=FULL;"
	                        "PRAGMA foreign_keys=ON;")) != 0)
		goto out;
	if (db->memory)
		sqlite3_commit_hook(db->conn, count_commit, db);
	else
		sqlite3_wal_hook(db->conn, count_wal, db);
	if ((r = migrate(db, migrations, n_migrations)) != 0)
		goto out;
	*out = db;
	db = NULL;
out:
	cu_db_close(db);
	return r;
}

static void handle_close(cu_db_t *db);

void cu_db_close(cu_db_t *db)
{
	if (db == NULL)
		return;
	while (db->rd_free != NULL) {
		cu_db_t *rd = db->rd_free;
		db->rd_free = rd->rd_next;
		handle_close(rd);
	}
	pthread_cond_destroy(&db->rd_cv);
	pthread_mutex_destroy(&db->rd_mu);
	free(db->path);
	handle_close(db);
}

/* The connection, its statements and the handle itself. */
static void handle_close(cu_db_t *db)
{
	for (size_t i = 0; i < db->n_cached; i++)
		sqlite3_finalize(db->cache[i].st);
	for (size_t i = 0; i < TX_N; i++)
		sqlite3_finalize(db->tx[i]);
	if (db->conn != NULL)
		sqlite3_close_v2(db->conn);
	pthread_mutex_destroy(&db->mu);
	free(db);
}

/* ---- read connections ---------------------------------------------- */

/* A read-only connection to db's file (NULL when none can be opened). */
static cu_db_t *reader_open(cu_db_t *db)
{
	cu_db_t *rd = calloc(1, sizeof(*rd));
	int rc;

	if (rd == NULL)
		return NULL;
	pthread_mutex_init(&rd->mu, NULL);
	/* read-only: a reader can never write, whatever SQL it is given;
	 * no SQLite mutex: the pool hands a reader to one thread at a time */
	rc = sqlite3_open_v2(db->path, &rd->conn,
	                     SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		cu_logf(CU_LOG_ERROR, "cannot open a reader on %s: %s",
		        db->path,
		        rd->conn ? sqlite3_errmsg(rd->conn) : "out of memory");
		handle_close(rd);
		return NULL;
	}
	sqlite3_extended_result_codes(rd->conn, 1);
	sqlite3_busy_timeout(rd->conn, CU_DB_BUSY_TIMEOUT_MS);
	return rd;
}

/* A free reader of db, opened when none is free and fewer than
 * READERS_MAX exist, else waited for; NULL for an in-memory database (no
 * second connection sees it) or when none can be opened. */
static cu_db_t *reader_get(cu_db_t *db)
{
	cu_db_t *rd;

	if (db->memory)
		return NULL;
	pthread_mutex_lock(&db->rd_mu);
	while (db->rd_free == NULL && db->rd_open >= READERS_MAX)
		pthread_cond_wait(&db->rd_cv, &db->rd_mu);
	if ((rd = db->rd_free) != NULL) {
		db->rd_free = rd->rd_next;
		pthread_mutex_unlock(&db->rd_mu);
		rd->rd_next = NULL;
		return rd;
	}
	db->rd_open++;
	pthread_mutex_unlock(&db->rd_mu);
	if ((rd = reader_open(db)) == NULL) {
		pthread_mutex_lock(&db->rd_mu);
		db->rd_open--;
		pthread_cond_signal(&db->rd_cv);
		pthread_mutex_unlock(&db->rd_mu);
	}
	return rd;
}

static void reader_put(cu_db_t *db, cu_db_t *rd)
{
	pthread_mutex_lock(&db->rd_mu);
	rd->rd_next = db->rd_free;
	db->rd_free = rd;
	pthread_cond_signal(&db->rd_cv);
	pthread_mutex_unlock(&db->rd_mu);
}

int cu_db_read_rows(cu_db_t *db, cu_db_row_fn fn, void *arg, const char *sql,
                    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cu_db_vread_rows(db, fn, arg, sql, fmt, ap);
	va_end(ap);
	return rc;
}

int cu_db_vread_rows(cu_db_t *db, cu_db_row_fn fn, void *arg, const char *sql,
                     const char *fmt, va_list ap)
{
	cu_db_t *rd = reader_get(db), *h = rd != NULL ? rd : db;
	sqlite3_stmt *st = NULL;
	int rc;

	/* without a reader: a read transaction on the handle itself */
	if (rd == NULL && (rc = cu_db_begin_read(db)) != 0)
		return rc;
	rc = cu_db_vquery_cached(h, &st, sql, fmt, ap);
	/* a reader's statement is its own read transaction: it sees every
	 * commit made before it started */
	while (rc == 0 && (rc = cu_db_step(st)) == 1)
		rc = fn(st, arg);
	cu_db_release(h, st); /* ends the read */
	if (rd != NULL)
		reader_put(db, rd);
	else
		cu_db_rollback(db);
	return rc < 0 ? rc : 0;
}

/* cu_db_read_row on cu_db_read_rows: the first row only. */
struct first_row {
	cu_db_row_fn fn;
	void *arg;
	int seen, rc;
};

static int take_first(sqlite3_stmt *st, void *arg)
{
	struct first_row *f = arg;

	f->seen = 1;
	f->rc = f->fn != NULL ? f->fn(st, f->arg) : 0;
	return 1; /* stop */
}

int cu_db_read_row(cu_db_t *db, cu_db_row_fn fn, void *arg, const char *sql,
                   const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cu_db_vread_row(db, fn, arg, sql, fmt, ap);
	va_end(ap);
	return rc;
}

int cu_db_vread_row(cu_db_t *db, cu_db_row_fn fn, void *arg, const char *sql,
                    const char *fmt, va_list ap)
{
	struct first_row f = {fn, arg, 0, 0};
	int rc = cu_db_vread_rows(db, take_first, &f, sql, fmt, ap);

	if (rc != 0)
		return rc;
	return f.seen ? f.rc : CU_ERR_NOTFOUND;
}

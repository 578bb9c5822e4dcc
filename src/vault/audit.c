#include "vault/audit.h"
#include "core/crypto/hash.h"
#include "core/err.h"
#include "core/secmem.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* Plain: printable ASCII with nothing JSON escapes. Every field of an
 * ordinary record is plain; others take the general path. */
static int plain(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
			return 0;
	return 1;
}

/* The canonical record of plain fields into buf, byte for byte what
 * jansson's json_dumps(JSON_COMPACT | JSON_SORT_KEYS) makes of it (the
 * chain is defined by that text). Returns its length, or 0 when it does
 * not fit or a field is not plain. */
static size_t canon_plain(const struct cu_vaudit_rec *r, char *buf, size_t cap)
{
	const char *k = nz(r->key), *op = nz(r->op), *pr = nz(r->principal);
	const char *rid = nz(r->request_id), *res = nz(r->result);
	const char *ver = nz(r->version);
	int n;

	if (!plain(k) || !plain(op) || !plain(pr) || !plain(rid) ||
	    !plain(res) || !plain(ver))
		return 0;
	n = snprintf(buf, cap,
	             "{\"key\":\"%s\",\"op\":\"%s\",\"principal\":\"%s\","
	             "\"request_id\":\"%s\",\"result\":\"%s\",\"seq\":%lld,"
	             "\"ts\":%lld,\"version\":\"%s\"}",
	             k, op, pr, rid, res, (long long)r->seq,
	             (long long)r->ts_ms, ver);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* hash = SHA-256(prev || canonical JSON of the record's fields). */
static int chain_hash(const unsigned char prev[CU_SHA256_LEN],
                      const struct cu_vaudit_rec *r,
                      unsigned char out[CU_SHA256_LEN])
{
	unsigned char fast[CU_SHA256_LEN + 1024];
	json_t *o = NULL;
	char *canon = NULL;
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	len = canon_plain(r, (char *)fast + CU_SHA256_LEN,
	                  sizeof(fast) - CU_SHA256_LEN);
	if (len > 0) {
		memcpy(fast, prev, CU_SHA256_LEN);
		return cu_sha256(fast, CU_SHA256_LEN + len, out);
	}
	o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s}", "seq",
	              (json_int_t)r->seq, "ts", (json_int_t)r->ts_ms,
	              "principal", nz(r->principal), "op", nz(r->op), "key",
	              nz(r->key), "version", nz(r->version), "result",
	              nz(r->result), "request_id", nz(r->request_id));
	if (o == NULL ||
	    (canon = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	len = strlen(canon);
	if ((buf = malloc(CU_SHA256_LEN + len)) == NULL) {
		rc = CU_ERR_NOMEM;
		goto out;
	}
	memcpy(buf, prev, CU_SHA256_LEN);
	memcpy(buf + CU_SHA256_LEN, canon, len);
	rc = cu_sha256(buf, CU_SHA256_LEN + len, out);
out:
	free(buf);
	free(canon);
	json_decref(o);
	return rc;
}

static const char *const schema[] = {
    "CREATE TABLE audit (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
    " principal TEXT NOT NULL, op TEXT NOT NULL, key TEXT NOT NULL,"
    " version TEXT NOT NULL, result TEXT NOT NULL,"
    " request_id TEXT NOT NULL, hash BLOB NOT NULL);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
};

int cu_vaudit_open(const char *path, cu_db_t **out)
{
	return cu_db_open(path, schema, sizeof(schema) / sizeof(schema[0]),
	                  out);
}

/* Step a statement made by cu_db_query to its end and finalize it (not
 * cu_db_run: these name the attached file, and are run once). */
static int run_once(sqlite3_stmt *st, int r)
{
	while (r == 0 && (r = cu_db_step(st)) == 1)
		;
	sqlite3_finalize(st);
	return r;
}

int cu_vaudit_adopt(cu_db_t *db, const char *legacy_path)
{
	sqlite3_stmt *st = NULL;
	struct stat sb;
	int r;

	/* ATTACH would create a missing file */
	if (stat(legacy_path, &sb) != 0)
		return 0;
	r = cu_db_query(db, &st, "ATTACH DATABASE ?1 AS legacy", "t",
	                legacy_path);
	if ((r = run_once(st, r)) != 0)
		return r;
	/* a write transaction only when there is something to move: on
	 * every start after the first, a read and nothing else */
	if ((r = cu_db_begin_read(db)) == 0) {
		if ((r = cu_db_query(db, &st,
		                     "SELECT 1 FROM legacy.sqlite_master WHERE "
		                     "type = 'table' AND name = 'audit'",
		                     "")) == 0)
			r = cu_db_step(st);
		sqlite3_finalize(st);
		cu_db_rollback(db);
	}
	if (r == 1 && (r = cu_db_begin(db)) == 0) {
		r = cu_db_query(
		    db, &st,
		    "INSERT INTO main.audit SELECT seq, ts, principal, "
		    "op, key, version, result, request_id, hash FROM "
		    "legacy.audit WHERE seq > (SELECT IFNULL(MAX(seq), "
		    "0) FROM main.audit) ORDER BY seq",
		    "");
		if ((r = run_once(st, r)) != 0)
			cu_db_rollback(db);
		else
			r = cu_db_commit(db);
	}
	if (cu_db_exec(db, "DETACH DATABASE legacy") != 0 && r == 0)
		r = CU_ERR_DB;
	return r;
}

/* The end of the chain: the next record's seq and the hash it chains
 * to. */
struct tail {
	int64_t seq;
	unsigned char prev[CU_SHA256_LEN];
};

static int read_tail(cu_db_t *db, struct tail *t)
{
	sqlite3_stmt *st = NULL;
	int r;

	t->seq = 1;
	memset(t->prev, 0, sizeof(t->prev));
	if ((r = cu_db_query(db, &st,
	                     "SELECT seq, hash FROM audit ORDER BY seq DESC "
	                     "LIMIT 1",
	                     "")) != 0)
		return r;
	r = cu_db_step(st);
	if (r == 1) {
		if (sqlite3_column_bytes(st, 1) != CU_SHA256_LEN) {
			r = CU_ERR_DB;
		} else {
			t->seq = sqlite3_column_int64(st, 0) + 1;
			memcpy(t->prev, sqlite3_column_blob(st, 1),
			       CU_SHA256_LEN);
			r = 0;
		}
	}
	sqlite3_finalize(st);
	return r;
}

/* Append n records after *t in the caller's open write transaction,
 * moving *t past them (the caller keeps *t only if the transaction
 * commits). */
static int append_tx(cu_db_t *db, struct tail *t, struct cu_vaudit_rec **recs,
                     size_t n)
{
	unsigned char h[CU_SHA256_LEN];
	int r;

	for (size_t i = 0; i < n; i++) {
		struct cu_vaudit_rec *rec = recs[i];

		if (rec->ts_ms == 0)
			rec->ts_ms = now_ms();
		rec->seq = t->seq;
		if ((r = chain_hash(t->prev, rec, h)) != 0)
			return r;
		/* the handle keeps the statement prepared */
		if ((r = cu_db_run(db, NULL,
		                   "INSERT INTO audit(seq, ts, principal, op, "
		                   "key, version, result, request_id, hash) "
		                   "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
		                   "iittttttb", rec->seq, rec->ts_ms,
		                   nz(rec->principal), nz(rec->op),
		                   nz(rec->key), nz(rec->version),
		                   nz(rec->result), nz(rec->request_id), h,
		                   sizeof(h))) != 0)
			return r;
		t->seq++;
		memcpy(t->prev, h, sizeof(t->prev));
	}
	return 0;
}

int cu_vaudit_append(cu_db_t *db, struct cu_vaudit_rec *rec)
{
	struct tail t;
	int r;

	if ((r = cu_db_begin(db)) != 0)
		return r;
	if ((r = read_tail(db, &t)) != 0 ||
	    (r = append_tx(db, &t, &rec, 1)) != 0) {
		cu_db_rollback(db);
		return r;
	}
	return cu_db_commit(db);
}

/* Group commit without a writer thread. A request that finds no commit
 * under way becomes the leader: it takes the queued records (its own
 * first among them) into one transaction, commits (one fsync), tells each
 * record's owner the result, and hands the lead to the oldest record
 * still queued, if any. Everyone else sleeps until told. A lone request
 * thus commits at once with no hand-off, and under load the records that
 * queue during one commit share the next. */

/* A queued record; lives on its owner's stack until the owner wakes.
 * Each has its own semaphore, posted exactly once: "done" (committed or
 * failed) or "lead". No lock is needed to read the result, and waking
 * never runs into a mutex the waker still holds. */
enum { WAITING, DONE, LEAD };

struct pending {
	struct cu_vaudit_rec *rec;
	struct pending *next;
	int result, state;
	sem_t sem;
};

struct cu_vaudit_writer {
	cu_db_t *db; /* used by the leader only */
	/* the chain's end as last committed, kept by the leader (the only
	 * writer of the file while the writer lives); read again after a
	 * failed batch */
	struct tail end;
	int end_known;
	pthread_mutex_t mu;
	struct pending *head, **tail; /* the queue */
	int busy;                     /* a leader is at work */
};

#define BATCH_MAX 256

/* Take up to BATCH_MAX records off the queue into recs. Under w->mu. */
static size_t take(cu_vaudit_writer_t *w, struct pending **batch,
                   struct cu_vaudit_rec **recs)
{
	struct pending *p;
	size_t n = 0;

	*batch = w->head;
	for (p = w->head; p != NULL && n < BATCH_MAX; p = p->next)
		recs[n++] = p->rec;
	w->head = p;
	if (w->head == NULL)
		w->tail = &w->head;
	return n;
}

/* Lead until self's record is committed, then pass the lead on. */
static void lead(cu_vaudit_writer_t *w, struct pending *self)
{
	struct cu_vaudit_rec *recs[BATCH_MAX];
	struct pending *batch, *p, *next = NULL;
	size_t n;
	int r;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		n = take(w, &batch, recs);
		pthread_mutex_unlock(&w->mu);

		if ((r = cu_db_begin(w->db)) == 0) {
			struct tail t = w->end;
			if ((!w->end_known &&
			     (r = read_tail(w->db, &t)) != 0) ||
			    (r = append_tx(w->db, &t, recs, n)) != 0)
				cu_db_rollback(w->db);
			else
				r = cu_db_commit(w->db);
			if ((w->end_known = r == 0))
				w->end = t;
		}
		/* the batch has left the queue: only this thread sees it */
		p = batch;
		for (size_t i = 0; i < n; i++, p = next) {
			next = p->next;
			p->result = r;
			p->state = DONE;
			if (p != self)
				sem_post(&p->sem); /* p is gone once it wakes */
		}
		if (self->state == DONE)
			break;
	}
	pthread_mutex_lock(&w->mu);
	if ((p = w->head) != NULL)
		p->state = LEAD; /* busy stays set: the lead passes to p */
	else
		w->busy = 0;
	pthread_mutex_unlock(&w->mu);
	if (p != NULL)
		sem_post(&p->sem);
}

int cu_vaudit_writer_new(cu_db_t *db, cu_vaudit_writer_t **out)
{
	cu_vaudit_writer_t *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (w == NULL) {
		cu_db_close(db);
		return CU_ERR_NOMEM;
	}
	w->db = db;
	w->tail = &w->head;
	pthread_mutex_init(&w->mu, NULL);
	*out = w;
	return 0;
}

int cu_vaudit_writer_append(cu_vaudit_writer_t *w, struct cu_vaudit_rec *rec)
{
	struct pending p;
	int leader = 0;

	memset(&p, 0, sizeof(p));
	p.rec = rec;
	p.state = WAITING;
	if (sem_init(&p.sem, 0, 0) != 0)
		return CU_ERR_NOMEM;
	pthread_mutex_lock(&w->mu);
	*w->tail = &p;
	w->tail = &p.next;
	if (!w->busy)
		w->busy = leader = 1;
	pthread_mutex_unlock(&w->mu);
	if (!leader) {
		while (sem_wait(&p.sem) != 0)
			; /* EINTR */
		leader = p.state == LEAD;
	}
	if (leader)
		lead(w, &p);
	/* back only when the batch holding rec is committed (durable) or
	 * has failed */
	sem_destroy(&p.sem);
	return p.result;
}

void cu_vaudit_writer_free(cu_vaudit_writer_t *w)
{
	if (w == NULL)
		return;
	cu_db_close(w->db);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

static void hex(const unsigned char *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void read_rec(sqlite3_stmt *st, struct cu_vaudit_rec *r)
{
	r->seq = sqlite3_column_int64(st, 0);
	r->ts_ms = sqlite3_column_int64(st, 1);
	r->principal = cu_db_col_text(st, 2);
	r->op = cu_db_col_text(st, 3);
	r->key = cu_db_col_text(st, 4);
	r->version = cu_db_col_text(st, 5);
	r->result = cu_db_col_text(st, 6);
	r->request_id = cu_db_col_text(st, 7);
}

#define AUDIT_COLS                                                             \
	"SELECT seq, ts, principal, op, key, version, result, request_id, "    \
	"hash FROM audit "

int cu_vaudit_list(cu_db_t *db, int64_t since, int64_t max, json_t **out)
{
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	int r;

	*out = NULL;
	if (arr == NULL)
		return CU_ERR_NOMEM;
	if ((r = cu_db_begin_read(db)) != 0) {
		json_decref(arr);
		return r;
	}
	if ((r = cu_db_query(db, &st,
	                     AUDIT_COLS "WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	                     "ii", since, max)) != 0)
		goto out;
	while ((r = cu_db_step(st)) == 1) {
		struct cu_vaudit_rec rec;
		char h[2 * CU_SHA256_LEN + 1] = "";
		json_t *o;

		read_rec(st, &rec);
		if (sqlite3_column_bytes(st, 8) == CU_SHA256_LEN)
			hex(sqlite3_column_blob(st, 8), CU_SHA256_LEN, h);
		o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "seq",
		              (json_int_t)rec.seq, "ts", (json_int_t)rec.ts_ms,
		              "principal", rec.principal, "op", rec.op, "key",
		              rec.key, "version", rec.version, "result",
		              rec.result, "request_id", rec.request_id, "hash",
		              h);
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			r = CU_ERR_NOMEM;
			goto out;
		}
	}
out:
	sqlite3_finalize(st);
	cu_db_rollback(db);
	if (r == 0)
		*out = arr;
	else
		json_decref(arr);
	return r;
}

int cu_vaudit_verify(cu_db_t *db, int64_t *count, int64_t *bad_seq)
{
	unsigned char prev[CU_SHA256_LEN] = {0}, h[CU_SHA256_LEN];
	sqlite3_stmt *st = NULL;
	int64_t expect = 1, n = 0;
	int r;

	if (bad_seq != NULL)
		*bad_seq = 0;
	if ((r = cu_db_begin_read(db)) != 0)
		return r;
	if ((r = cu_db_query(db, &st, AUDIT_COLS "ORDER BY seq", "")) != 0)
		goto out;
	while ((r = cu_db_step(st)) == 1) {
		struct cu_vaudit_rec rec;

		read_rec(st, &rec);
		if (rec.seq != expect) {
			/* a record was removed (or one inserted out of
			 * order): the first sequence number not in place */
			if (bad_seq != NULL)
				*bad_seq = expect;
			r = CU_ERR_AUTH;
			goto out;
		}
		if ((r = chain_hash(prev, &rec, h)) != 0)
			goto out;
		if (sqlite3_column_bytes(st, 8) != CU_SHA256_LEN ||
		    !cu_ct_equal(h, sqlite3_column_blob(st, 8),
		                 CU_SHA256_LEN)) {
			if (bad_seq != NULL)
				*bad_seq = rec.seq;
			r = CU_ERR_AUTH;
			goto out;
		}
		memcpy(prev, h, sizeof(prev));
		expect++;
		n++;
	}
out:
	sqlite3_finalize(st);
	cu_db_rollback(db);
	if (r == 0 && count != NULL)
		*count = n;
	return r;
}

int cu_vaudit_event_add(cu_db_t *db, const char *type, const char *key,
                        const char *version, const char *detail)
{
	return cu_db_run(db, NULL,
	                 "INSERT INTO events(ts, type, key, version, detail) "
	                 "VALUES(?1, ?2, ?3, ?4, ?5)",
	                 "itttt", now_ms(), nz(type), nz(key), nz(version),
	                 nz(detail));
}

int cu_vaudit_events(cu_db_t *db, int64_t since, int64_t max, json_t **out)
{
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	int r;

	*out = NULL;
	if (arr == NULL)
		return CU_ERR_NOMEM;
	if ((r = cu_db_begin_read(db)) != 0) {
		json_decref(arr);
		return r;
	}
	if ((r = cu_db_query(db, &st,
	                     "SELECT seq, ts, type, key, version, detail FROM "
	                     "events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	                     "ii", since, max)) != 0)
		goto out;
	while ((r = cu_db_step(st)) == 1) {
		json_t *o = json_pack(
		    "{s:I,s:I,s:s,s:s,s:s,s:s}", "seq",
		    (json_int_t)sqlite3_column_int64(st, 0), "ts",
		    (json_int_t)sqlite3_column_int64(st, 1), "type",
		    cu_db_col_text(st, 2), "key", cu_db_col_text(st, 3),
		    "version", cu_db_col_text(st, 4), "detail",
		    cu_db_col_text(st, 5));
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			r = CU_ERR_NOMEM;
			goto out;
		}
	}
out:
	sqlite3_finalize(st);
	cu_db_rollback(db);
	if (r == 0)
		*out = arr;
	else
		json_decref(arr);
	return r;
}

int cu_vaudit_events_last(cu_db_t *db, int64_t *seq)
{
	sqlite3_stmt *st = NULL;
	int r;

	*seq = 0;
	if ((r = cu_db_begin_read(db)) != 0)
		return r;
	if ((r = cu_db_query(db, &st,
	                     "SELECT COALESCE(MAX(seq), 0) FROM events", "")) ==
	        0 &&
	    (r = cu_db_step(st)) == 1) {
		*seq = sqlite3_column_int64(st, 0);
		r = 0;
	}
	sqlite3_finalize(st);
	cu_db_rollback(db);
	return r;
}

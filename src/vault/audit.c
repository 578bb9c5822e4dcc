#include "vault/audit.h"
#include "core/crypto/hash.h"
#include "core/err.h"
#include "core/secmem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
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

/* hash = SHA-256(prev || canonical JSON of the record's fields). */
static int chain_hash(const unsigned char prev[CU_SHA256_LEN],
                      const struct cu_vaudit_rec *r,
                      unsigned char out[CU_SHA256_LEN])
{
	json_t *o = NULL;
	char *canon = NULL;
	unsigned char *buf = NULL;
	size_t len;
	int rc;

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

/* Append n records in the caller's open write transaction. */
static int append_tx(cu_db_t *db, struct cu_vaudit_rec **recs, size_t n)
{
	unsigned char prev[CU_SHA256_LEN] = {0}, h[CU_SHA256_LEN];
	sqlite3_stmt *st = NULL;
	int64_t seq = 1;
	int r;

	if ((r = cu_db_query(db, &st,
	                     "SELECT seq, hash FROM audit ORDER BY seq DESC "
	                     "LIMIT 1",
	                     "")) != 0)
		return r;
	r = cu_db_step(st);
	if (r == 1) {
		if (sqlite3_column_bytes(st, 1) != CU_SHA256_LEN) {
			sqlite3_finalize(st);
			return CU_ERR_DB;
		}
		seq = sqlite3_column_int64(st, 0) + 1;
		memcpy(prev, sqlite3_column_blob(st, 1), CU_SHA256_LEN);
	}
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct cu_vaudit_rec *rec = recs[i];
		if (rec->ts_ms == 0)
			rec->ts_ms = now_ms();
		rec->seq = seq++;
		if ((r = chain_hash(prev, rec, h)) != 0)
			return r;
		r = cu_db_run(db, NULL,
		              "INSERT INTO audit(seq, ts, principal, op, key, "
		              "version, result, request_id, hash) VALUES(?1, "
		              "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
		              "iittttttb", rec->seq, rec->ts_ms,
		              nz(rec->principal), nz(rec->op), nz(rec->key),
		              nz(rec->version), nz(rec->result),
		              nz(rec->request_id), h, sizeof(h));
		if (r != 0)
			return r;
		memcpy(prev, h, sizeof(prev));
	}
	return 0;
}

int cu_vaudit_append(cu_db_t *db, struct cu_vaudit_rec *rec)
{
	int r;

	if ((r = cu_db_begin(db)) != 0)
		return r;
	if ((r = append_tx(db, &rec, 1)) != 0) {
		cu_db_rollback(db);
		return r;
	}
	return cu_db_commit(db);
}

/* A queued record; lives on the appending thread's stack until done. */
struct pending {
	struct cu_vaudit_rec *rec;
	struct pending *next;
	int done, result;
};

struct cu_vaudit_writer {
	cu_db_t *db;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct pending *head, **tail;
	int stopping;
};

#define BATCH_MAX 256

static void *writer_main(void *arg)
{
	cu_vaudit_writer_t *w = arg;
	struct cu_vaudit_rec *recs[BATCH_MAX];

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct pending *batch, *p;
		size_t n = 0;
		int r;

		while (w->head == NULL && !w->stopping)
			pthread_cond_wait(&w->work, &w->mu);
		if (w->head == NULL && w->stopping)
			break;
		/* take up to BATCH_MAX records off the queue */
		batch = w->head;
		for (p = batch; p != NULL && n < BATCH_MAX; p = p->next)
			recs[n++] = p->rec;
		w->head = p;
		if (w->head == NULL)
			w->tail = &w->head;
		pthread_mutex_unlock(&w->mu);

		if ((r = cu_db_begin(w->db)) == 0) {
			if ((r = append_tx(w->db, recs, n)) != 0)
				cu_db_rollback(w->db);
			else
				r = cu_db_commit(w->db);
		}

		pthread_mutex_lock(&w->mu);
		p = batch;
		for (size_t i = 0; i < n; i++) {
			struct pending *next = p->next;
			p->result = r;
			p->done = 1;
			p = next;
		}
		pthread_cond_broadcast(&w->done);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
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
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->done, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_cond_destroy(&w->done);
		pthread_cond_destroy(&w->work);
		pthread_mutex_destroy(&w->mu);
		cu_db_close(db);
		free(w);
		return CU_ERR_NOMEM;
	}
	*out = w;
	return 0;
}

int cu_vaudit_writer_append(cu_vaudit_writer_t *w, struct cu_vaudit_rec *rec)
{
	struct pending p = {rec, NULL, 0, 0};

	pthread_mutex_lock(&w->mu);
	*w->tail = &p;
	w->tail = &p.next;
	pthread_cond_signal(&w->work);
	while (!p.done)
		pthread_cond_wait(&w->done, &w->mu);
	pthread_mutex_unlock(&w->mu);
	return p.result;
}

void cu_vaudit_writer_free(cu_vaudit_writer_t *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	cu_db_close(w->db);
	pthread_cond_destroy(&w->done);
	pthread_cond_destroy(&w->work);
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

/* meta.c - the store's metadata tables over core/db. */
#include "store/meta.h"
#include "core/db.h"
#include "core/memo.h"
#include "core/err.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct cu_smeta {
	cu_db_t *db;
	cu_memo_t *memo; /* access keys and object rows (memo.h) */
};

/* Memo entries: the access keys and the objects in use (about 2 MiB). */
#define MEMO_ENTRIES 4096

/* Migration i moves the schema from version i to i + 1; never edit one
 * that has shipped, append a new one. */
static const char *const migrations[] = {
    "CREATE TABLE tenants ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " state TEXT NOT NULL,"
    " admin_token_hash BLOB NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE access_keys ("
    " id TEXT PRIMARY KEY,"
    " tenant TEXT NOT NULL REFERENCES tenants(id),"
    " secret_sealed BLOB NOT NULL,"
    " active INTEGER NOT NULL DEFAULT 1,"
    " created INTEGER NOT NULL);"
    "CREATE INDEX access_keys_tenant ON access_keys(tenant);"
    "CREATE TABLE tenant_keys ("
    " tenant TEXT NOT NULL REFERENCES tenants(id),"
    " version INTEGER NOT NULL,"
    " root TEXT NOT NULL,"
    " wrapped BLOB NOT NULL,"
    " created INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, version));"
    "CREATE TABLE buckets ("
    " tenant TEXT NOT NULL REFERENCES tenants(id),"
    " name TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, name));"
    /* one row per key: its current version */
    "CREATE TABLE objects ("
    " tenant TEXT NOT NULL,"
    " bucket TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " version_id TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " etag TEXT NOT NULL,"
    " content_type TEXT NOT NULL,"
    " meta_sealed BLOB,"
    " tk_version INTEGER NOT NULL,"
    " path TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, bucket, key),"
    " FOREIGN KEY (tenant, bucket) REFERENCES buckets(tenant, name));",
    /* 2: multipart uploads */
    "ALTER TABLE objects ADD COLUMN parts INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE uploads ("
    " upload_id TEXT PRIMARY KEY,"
    " tenant TEXT NOT NULL,"
    " bucket TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " content_type TEXT NOT NULL,"
    " meta_sealed BLOB,"
    " tk_version INTEGER NOT NULL,"
    " path TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " FOREIGN KEY (tenant, bucket) REFERENCES buckets(tenant, name));"
    "CREATE INDEX uploads_bucket ON uploads(tenant, bucket);"
    "CREATE TABLE upload_parts ("
    " upload_id TEXT NOT NULL REFERENCES uploads(upload_id)"
    "  ON DELETE CASCADE,"
    " number INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " etag TEXT NOT NULL,"
    " file TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " PRIMARY KEY (upload_id, number));"
    "CREATE TABLE object_parts ("
    " tenant TEXT NOT NULL,"
    " bucket TEXT NOT NULL,"
    " version_id TEXT NOT NULL,"
    " number INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " etag TEXT NOT NULL,"
    " file TEXT NOT NULL,"
    " PRIMARY KEY (tenant, bucket, version_id, number));",
    /* 3: finding data files' owners (the orphan sweep at start) */
    ("CREATE INDEX objects_path ON objects(path);"
     "CREATE INDEX uploads_path ON uploads(path);"),
    /* 4: customer-managed keys: a TK version wrapped under each of the
     * tenant's roots (customer keys by kid, the availability key), the
     * tenant's encryption document, and its security events. While a
     * tenant is customer-managed its tenant_keys.wrapped is empty. */
    ("CREATE TABLE tk_wraps ("
     " tenant TEXT NOT NULL,"
     " version INTEGER NOT NULL,"
     " root TEXT NOT NULL,"
     " wrapped BLOB NOT NULL,"
     " PRIMARY KEY (tenant, version, root));"
     "CREATE TABLE tenant_cmk ("
     " tenant TEXT PRIMARY KEY,"
     " doc TEXT NOT NULL);"
     "CREATE TABLE tenant_events ("
     " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
     " tenant TEXT NOT NULL,"
     " ts INTEGER NOT NULL,"
     " type TEXT NOT NULL,"
     " detail TEXT NOT NULL);"
     "CREATE INDEX tenant_events_tenant ON tenant_events(tenant, seq);"),
    /* 5: tenant readers: tokens (as SHA-256) that may read a tenant's
     * settings and events, and change nothing */
    ("CREATE TABLE reader_tokens ("
     " tenant TEXT NOT NULL,"
     " token_hash BLOB NOT NULL,"
     " created INTEGER NOT NULL,"
     " PRIMARY KEY (tenant, token_hash));"),
    /* 6: store-wide settings: which operator root (key file or vault
     * key) the system-key and availability-key wraps are under */
    ("CREATE TABLE settings ("
     " name TEXT PRIMARY KEY,"
     " value TEXT NOT NULL);"),
};

int cu_smeta_open(const char *path, cu_smeta_t **out)
{
	cu_smeta_t *m = NULL;
	int rc;

	if (out == NULL)
		return CU_ERR_INVAL;
	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return CU_ERR_NOMEM;
	rc = cu_db_open(path, migrations,
	                sizeof(migrations) / sizeof(migrations[0]), &m->db);
	if (rc != 0) {
		free(m);
		return rc;
	}
	if ((rc = cu_memo_new(MEMO_ENTRIES, &m->memo)) != 0) {
		cu_db_close(m->db);
		free(m);
		return rc;
	}
	/* deleted rows (wrapped tenant keys of a purge) are overwritten */
	if ((rc = cu_db_exec(m->db, "PRAGMA secure_delete = ON;")) != 0) {
		cu_smeta_close(m);
		return rc;
	}
	*out = m;
	return 0;
}

void cu_smeta_close(cu_smeta_t *m)
{
	if (m == NULL)
		return;
	cu_db_close(m->db);
	cu_memo_free(m->memo);
	free(m);
}

/* Copy a text column into a fixed buffer; too long is a broken row. */
static int col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap, size_t *len)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);

	if (s == NULL)
		n = 0;
	if (n < 0 || (size_t)n >= cap)
		return CU_ERR_DB;
	if (n > 0)
		memcpy(dst, s, (size_t)n);
	dst[n] = '\0';
	if (len != NULL)
		*len = (size_t)n;
	return 0;
}

static int col_blob(sqlite3_stmt *st, int i, unsigned char *dst, size_t cap,
                    size_t *len)
{
	const void *p = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);

	if (p == NULL)
		n = 0;
	if (n < 0)
		return CU_ERR_DB;
	if ((size_t)n > cap)
		return CU_ERR_RANGE;
	if (n > 0)
		memcpy(dst, p, (size_t)n);
	*len = (size_t)n;
	return 0;
}

static int bounded(const char *s, size_t max)
{
	return s != NULL && s[0] != '\0' && strlen(s) <= max;
}

/* End a write transaction begun with cu_db_begin: commit when rc is 0,
 * otherwise roll back and hand rc on. */
static int txn_end(cu_smeta_t *m, int rc)
{
	if (rc != 0) {
		cu_db_rollback(m->db);
		return rc;
	}
	return cu_db_commit(m->db);
}

/* Inside a transaction: 1 when the query (cu_db_query's sql, fmt and
 * arguments) returns a row, 0 when it returns none, or an error. */
static int any_row(cu_smeta_t *m, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cu_db_vquery_cached(m->db, &st, sql, fmt, ap);
	va_end(ap);
	if (rc == 0)
		rc = cu_db_step(st);
	cu_db_release(m->db, st);
	return rc;
}

/* Reads the current row into the caller's arg; returns 0 or an error. */
typedef cu_db_row_fn row_fn;

/* One row in its own read transaction (cu_db_query's sql, fmt and
 * arguments): fn (NULL: nothing to read) gets it, no row is
 * CU_ERR_NOTFOUND. On a pooled read connection (cu_db_read_row): the
 * requests' reads run side by side, not one at a time on the handle.
 * Returns 0, fn's error, or a mapped error. */
static int read_one(cu_smeta_t *m, row_fn fn, void *arg, const char *sql,
                    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cu_db_vread_row(m->db, fn, arg, sql, fmt, ap);
	va_end(ap);
	return rc;
}

/* Where a blob column 0 goes (read_one with blob_row). */
struct blob_out {
	unsigned char *p;
	size_t cap;
	size_t *len;
};

static int blob_row(sqlite3_stmt *st, void *arg)
{
	struct blob_out *b = arg;

	return col_blob(st, 0, b->p, b->cap, b->len);
}

/* One statement in its own write transaction (cu_db_run's sql, fmt and
 * arguments). With must_change, no row changed is CU_ERR_NOTFOUND. */
static int write_one(cu_smeta_t *m, int must_change, const char *sql,
                     const char *fmt, ...)
{
	va_list ap;
	int rc, changes = 0;

	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	va_start(ap, fmt);
	rc = cu_db_vrun(m->db, &changes, sql, fmt, ap);
	va_end(ap);
	if (rc == 0 && must_change && changes == 0)
		rc = CU_ERR_NOTFOUND;
	return txn_end(m, rc);
}

/* ---- tenants ------------------------------------------------------ */

int cu_smeta_tenant_create(cu_smeta_t *m, const struct cu_smeta_tenant_new *t)
{
	int rc;

	if (m == NULL || t == NULL || !bounded(t->id, CU_SMETA_ID_MAX) ||
	    !bounded(t->name, CU_SMETA_NAME_MAX) ||
	    !bounded(t->access_key_id, CU_SMETA_ID_MAX) ||
	    t->admin_token_hash == NULL || t->secret_sealed == NULL ||
	    t->secret_sealed_len == 0 ||
	    t->secret_sealed_len > CU_SMETA_BLOB_MAX || t->tk_wrapped == NULL ||
	    t->tk_wrapped_len == 0 || t->tk_wrapped_len > CU_SMETA_BLOB_MAX ||
	    t->root == NULL)
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	rc = cu_db_run(m->db, NULL,
	               "INSERT INTO tenants (id, name, state, admin_token_hash,"
	               " created) VALUES (?1, ?2, 'system_managed', ?3, ?4)",
	               "ttbi", t->id, t->name, t->admin_token_hash,
	               (size_t)CU_SMETA_HASH_LEN, (int64_t)t->created);
	if (rc != 0)
		goto out;
	rc = cu_db_run(m->db, NULL,
	               "INSERT INTO access_keys (id, tenant, secret_sealed,"
	               " created) VALUES (?1, ?2, ?3, ?4)",
	               "ttbi", t->access_key_id, t->id, t->secret_sealed,
	               t->secret_sealed_len, (int64_t)t->created);
	if (rc != 0)
		goto out;
	rc =
	    cu_db_run(m->db, NULL,
	              "INSERT INTO tenant_keys (tenant, version, root, wrapped,"
	              " created) VALUES (?1, 1, ?2, ?3, ?4)",
	              "ttbi", t->id, t->root, t->tk_wrapped, t->tk_wrapped_len,
	              (int64_t)t->created);
out:
	return txn_end(m, rc);
}

static int tenant_row(sqlite3_stmt *st, void *arg)
{
	struct cu_smeta_tenant *t = arg;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = col_copy(st, 0, t->id, sizeof(t->id), NULL)) != 0 ||
	    (rc = col_copy(st, 1, t->name, sizeof(t->name), NULL)) != 0 ||
	    (rc = col_copy(st, 2, t->state, sizeof(t->state), NULL)) != 0)
		return rc;
	t->created = sqlite3_column_int64(st, 3);
	return 0;
}

int cu_smeta_tenant_get(cu_smeta_t *m, const char *id,
                        struct cu_smeta_tenant *out)
{
	if (m == NULL || id == NULL || out == NULL)
		return CU_ERR_INVAL;
	return read_one(m, tenant_row, out,
	                "SELECT id, name, state, created FROM tenants"
	                " WHERE id = ?1",
	                "t", id);
}

int cu_smeta_tenant_token_hash(cu_smeta_t *m, const char *id,
                               unsigned char hash[CU_SMETA_HASH_LEN])
{
	size_t n = 0;
	struct blob_out b = {hash, CU_SMETA_HASH_LEN, &n};
	int rc;

	if (m == NULL || id == NULL || hash == NULL)
		return CU_ERR_INVAL;
	rc = read_one(m, blob_row, &b,
	              "SELECT admin_token_hash FROM tenants WHERE id = ?1", "t",
	              id);
	if (rc == 0 && n != CU_SMETA_HASH_LEN)
		rc = CU_ERR_DB;
	return rc;
}

int cu_smeta_tenant_list(cu_smeta_t *m, cu_smeta_tenant_fn fn, void *arg)
{
	struct cu_smeta_tenant t;
	sqlite3_stmt *st = NULL;
	int rc;

	if (m == NULL || fn == NULL)
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin_read(m->db)) != 0)
		return rc;
	rc = cu_db_query_cached(m->db, &st,
	                        "SELECT id, name, state, created FROM tenants"
	                        " ORDER BY created, id",
	                        "");
	if (rc != 0)
		goto out;
	while ((rc = cu_db_step(st)) == 1) {
		if ((rc = tenant_row(st, &t)) != 0 || (rc = fn(arg, &t)) != 0)
			break;
	}
out:
	cu_db_release(m->db, st);
	cu_db_rollback(m->db);
	return rc;
}

void cu_smeta_memo_stats(cu_smeta_t *m, uint64_t *hits, uint64_t *misses)
{
	cu_memo_stats(m->memo, hits, misses);
}

/* ---- access keys -------------------------------------------------- */

/* Where an access key's row goes (akey_row). */
struct akey_out {
	char *tenant;
	unsigned char *sealed;
	size_t cap, *len;
};

static int akey_row(sqlite3_stmt *st, void *arg)
{
	struct akey_out *a = arg;
	int rc = col_copy(st, 0, a->tenant, CU_SMETA_ID_MAX + 1, NULL);

	return rc != 0 ? rc : col_blob(st, 1, a->sealed, a->cap, a->len);
}

int cu_smeta_akey_get(cu_smeta_t *m, const char *akid, size_t akid_len,
                      char tenant[CU_SMETA_ID_MAX + 1], unsigned char *sealed,
                      size_t cap, size_t *len)
{
	struct akey_out a = {tenant, sealed, cap, len};
	/* 'A' akid -> tenant NUL sealed (ciphertext) */
	unsigned char key[1 + CU_SMETA_ID_MAX], val[CU_MEMO_VAL_MAX];
	size_t vlen = 0, tlen;
	uint64_t gen;
	int rc;

	if (m == NULL || akid == NULL || tenant == NULL || sealed == NULL ||
	    len == NULL)
		return CU_ERR_INVAL;
	if (akid_len == 0 || akid_len > CU_SMETA_ID_MAX)
		return CU_ERR_NOTFOUND;
	/* every request asks: the row as committed now, from the memo while
	 * nothing was committed since it was read (memo.h), so a revoked
	 * key is refused at once */
	gen = cu_db_commits(m->db); /* before the read */
	key[0] = 'A';
	memcpy(key + 1, akid, akid_len);
	if (cu_memo_get(m->memo, key, 1 + akid_len, gen, val, sizeof(val),
	                &vlen) == 0 &&
	    (tlen = strnlen((char *)val, vlen)) < vlen &&
	    tlen <= CU_SMETA_ID_MAX && vlen - tlen - 1 <= cap) {
		memcpy(tenant, val, tlen + 1);
		*len = vlen - tlen - 1;
		memcpy(sealed, val + tlen + 1, *len);
		return 0;
	}
	rc = read_one(m, akey_row, &a,
	              "SELECT tenant, secret_sealed FROM access_keys"
	              " WHERE id = ?1 AND active = 1",
	              "T", akid, akid_len);
	if (rc == 0 && (tlen = strlen(tenant)) + 1 + *len <= sizeof(val)) {
		memcpy(val, tenant, tlen + 1);
		memcpy(val + tlen + 1, sealed, *len);
		(void)cu_memo_put(m->memo, key, 1 + akid_len, gen, val,
		                  tlen + 1 + *len);
	}
	return rc;
}

/* ---- tenant keys -------------------------------------------------- */

int cu_smeta_tk_get(cu_smeta_t *m, const char *tenant, uint32_t version,
                    unsigned char *out, size_t cap, size_t *len,
                    uint32_t *version_out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (m == NULL || tenant == NULL || out == NULL || len == NULL)
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin_read(m->db)) != 0)
		return rc;
	if (version == 0)
		rc = cu_db_query_cached(
		    m->db, &st,
		    "SELECT version, wrapped FROM tenant_keys"
		    " WHERE tenant = ?1 ORDER BY version DESC"
		    " LIMIT 1",
		    "t", tenant);
	else
		rc = cu_db_query_cached(
		    m->db, &st,
		    "SELECT version, wrapped FROM tenant_keys"
		    " WHERE tenant = ?1 AND version = ?2",
		    "ti", tenant, (int64_t)version);
	if (rc != 0)
		goto out;
	rc = cu_db_step(st);
	if (rc == 1) {
		int64_t v = sqlite3_column_int64(st, 0);

		if (v <= 0 || v > UINT32_MAX) {
			rc = CU_ERR_DB;
			goto out;
		}
		if (version_out != NULL)
			*version_out = (uint32_t)v;
		rc = col_blob(st, 1, out, cap, len);
	} else if (rc == 0) {
		rc = CU_ERR_NOTFOUND;
	}
out:
	cu_db_release(m->db, st);
	cu_db_rollback(m->db);
	return rc;
}

int cu_smeta_tk_put(cu_smeta_t *m, const char *tenant, uint32_t version,
                    const void *wrapped, size_t len, const char *root)
{
	if (m == NULL || tenant == NULL || version == 0 || wrapped == NULL ||
	    len == 0 || len > CU_SMETA_BLOB_MAX || root == NULL)
		return CU_ERR_INVAL;
	return write_one(
	    m, 0,
	    "INSERT INTO tenant_keys (tenant, version, root, wrapped,"
	    " created) VALUES (?1, ?2, ?3, ?4, strftime('%s','now'))",
	    "titb", tenant, (int64_t)version, root, wrapped, len);
}

/* ---- buckets ------------------------------------------------------ */

int cu_smeta_bucket_create(cu_smeta_t *m, const char *tenant, const char *name,
                           int64_t created)
{
	if (m == NULL || tenant == NULL || !bounded(name, CU_SMETA_BUCKET_MAX))
		return CU_ERR_INVAL;
	return write_one(m, 0,
	                 "INSERT INTO buckets (tenant, name, created)"
	                 " VALUES (?1, ?2, ?3)",
	                 "tti", tenant, name, created);
}

/* Inside a transaction: 0 when the bucket exists. */
static int bucket_exists(cu_smeta_t *m, const char *tenant, const char *name,
                         int64_t *created)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = cu_db_query_cached(m->db, &st,
	                        "SELECT created FROM buckets WHERE tenant = ?1"
	                        " AND name = ?2",
	                        "tt", tenant, name);
	if (rc != 0)
		return rc;
	rc = cu_db_step(st);
	if (rc == 1) {
		if (created != NULL)
			*created = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if (rc == 0) {
		rc = CU_ERR_NOTFOUND;
	}
	cu_db_release(m->db, st);
	return rc;
}

int cu_smeta_bucket_get(cu_smeta_t *m, const char *tenant, const char *name,
                        int64_t *created)
{
	int rc;

	if (m == NULL || tenant == NULL || name == NULL)
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin_read(m->db)) != 0)
		return rc;
	rc = bucket_exists(m, tenant, name, created);
	cu_db_rollback(m->db);
	return rc;
}

int cu_smeta_bucket_delete(cu_smeta_t *m, const char *tenant, const char *name)
{
	int rc, changes = 0;

	if (m == NULL || tenant == NULL || name == NULL)
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	if ((rc = bucket_exists(m, tenant, name, NULL)) != 0)
		goto out;
	rc = any_row(m,
	             "SELECT 1 FROM objects WHERE tenant = ?1 AND"
	             " bucket = ?2 LIMIT 1",
	             "tt", tenant, name);
	if (rc == 0)
		rc = any_row(m,
		             "SELECT 1 FROM uploads WHERE tenant = ?1 AND"
		             " bucket = ?2 LIMIT 1",
		             "tt", tenant, name);
	if (rc == 1)
		rc = CU_ERR_STATE;
	if (rc != 0)
		goto out;
	rc = cu_db_run(m->db, &changes,
	               "DELETE FROM buckets WHERE tenant = ?1 AND name = ?2",
	               "tt", tenant, name);
out:
	return txn_end(m, rc);
}

int cu_smeta_bucket_list(cu_smeta_t *m, const char *tenant,
                         cu_smeta_bucket_fn fn, void *arg)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (m == NULL || tenant == NULL || fn == NULL)
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin_read(m->db)) != 0)
		return rc;
	rc = cu_db_query_cached(
	    m->db, &st,
	    "SELECT name, created FROM buckets WHERE tenant = ?1"
	    " ORDER BY name",
	    "t", tenant);
	if (rc != 0)
		goto out;
	while ((rc = cu_db_step(st)) == 1) {
		if ((rc = fn(arg, cu_db_col_text(st, 0),
		             sqlite3_column_int64(st, 1))) != 0)
			break;
	}
out:
	cu_db_release(m->db, st);
	cu_db_rollback(m->db);
	return rc;
}

/* ---- objects ------------------------------------------------------ */

#define OBJ_COLS                                                               \
	"key, version_id, size, etag, content_type, tk_version, path, "        \
	"created, meta_sealed, parts"

/* Fill o from a row of OBJ_COLS; with_meta copies the sealed metadata. */
static int object_row(sqlite3_stmt *st, struct cu_smeta_object *o,
                      int with_meta)
{
	int64_t size = sqlite3_column_int64(st, 2);
	int64_t tkv = sqlite3_column_int64(st, 5);
	int rc;

	memset(o, 0, sizeof(*o));
	if ((rc = col_copy(st, 0, o->key, sizeof(o->key), &o->key_len)) != 0 ||
	    (rc = col_copy(st, 1, o->version_id, sizeof(o->version_id),
	                   NULL)) != 0 ||
	    (rc = col_copy(st, 3, o->etag, sizeof(o->etag), NULL)) != 0 ||
	    (rc = col_copy(st, 4, o->content_type, sizeof(o->content_type),
	                   NULL)) != 0 ||
	    (rc = col_copy(st, 6, o->path, sizeof(o->path), NULL)) != 0)
		return rc;
	if (size < 0 || tkv <= 0 || tkv > UINT32_MAX)
		return CU_ERR_DB;
	o->size = (uint64_t)size;
	o->tk_version = (uint32_t)tkv;
	o->created = sqlite3_column_int64(st, 7);
	{
		int64_t parts = sqlite3_column_int64(st, 9);

		if (parts < 0 || parts > 10000)
			return CU_ERR_DB;
		o->parts = (uint32_t)parts;
	}
	if (with_meta && sqlite3_column_type(st, 8) == SQLITE_BLOB) {
		int n = sqlite3_column_bytes(st, 8);
		const void *p = sqlite3_column_blob(st, 8);

		if (n > 0 && p != NULL) {
			if ((o->meta_sealed = malloc((size_t)n)) == NULL)
				return CU_ERR_NOMEM;
			memcpy(o->meta_sealed, p, (size_t)n);
			o->meta_sealed_len = (size_t)n;
		}
	}
	return 0;
}

static int object_row_full(sqlite3_stmt *st, void *arg)
{
	return object_row(st, arg, 1);
}

void cu_smeta_object_clear(struct cu_smeta_object *o)
{
	if (o == NULL)
		return;
	free(o->meta_sealed);
	memset(o, 0, sizeof(*o));
}

/* The memo of object rows (memo.h): key 'O' tenant NUL bucket NUL key;
 * value the row's fields, each string with a length byte or two in front.
 * A row whose key or value does not fit is simply read every time. */
static size_t obj_memo_key(const char *tenant, const char *bucket,
                           const char *key, size_t key_len,
                           unsigned char out[CU_MEMO_KEY_MAX])
{
	size_t tl = strlen(tenant), bl = strlen(bucket),
	       n = 1 + tl + 1 + bl + 1 + key_len;

	if (n > CU_MEMO_KEY_MAX)
		return 0;
	out[0] = 'O';
	memcpy(out + 1, tenant, tl + 1);
	memcpy(out + 2 + tl, bucket, bl + 1);
	memcpy(out + 3 + tl + bl, key, key_len);
	return n;
}

struct obj_memo_fixed {
	uint64_t size;
	int64_t created;
	uint32_t tk_version, parts;
};

/* Append len bytes of p with a 2-byte length; 0 or CU_ERR_RANGE. */
static int pack_field(unsigned char *buf, size_t cap, size_t *at, const void *p,
                      size_t len)
{
	if (len > 0xffff || *at + 2 + len > cap)
		return CU_ERR_RANGE;
	buf[*at] = (unsigned char)(len >> 8);
	buf[*at + 1] = (unsigned char)len;
	if (len > 0)
		memcpy(buf + *at + 2, p, len);
	*at += 2 + len;
	return 0;
}

/* The next field: *p and *len; 0 or CU_ERR_RANGE. */
static int unpack_field(const unsigned char *buf, size_t n, size_t *at,
                        const unsigned char **p, size_t *len)
{
	if (*at + 2 > n)
		return CU_ERR_RANGE;
	*len = (size_t)buf[*at] << 8 | buf[*at + 1];
	if (*at + 2 + *len > n)
		return CU_ERR_RANGE;
	*p = buf + *at + 2;
	*at += 2 + *len;
	return 0;
}

static size_t obj_memo_pack(const struct cu_smeta_object *o,
                            unsigned char out[CU_MEMO_VAL_MAX])
{
	struct obj_memo_fixed f = {o->size, o->created, o->tk_version,
	                           o->parts};
	size_t at = sizeof(f);

	memcpy(out, &f, sizeof(f));
	if (pack_field(out, CU_MEMO_VAL_MAX, &at, o->version_id,
	               strlen(o->version_id)) != 0 ||
	    pack_field(out, CU_MEMO_VAL_MAX, &at, o->etag, strlen(o->etag)) !=
	        0 ||
	    pack_field(out, CU_MEMO_VAL_MAX, &at, o->content_type,
	               strlen(o->content_type)) != 0 ||
	    pack_field(out, CU_MEMO_VAL_MAX, &at, o->path, strlen(o->path)) !=
	        0 ||
	    pack_field(out, CU_MEMO_VAL_MAX, &at, o->meta_sealed,
	               o->meta_sealed_len) != 0)
		return 0;
	return at;
}

/* Copy a string field into dst (cap bytes with its NUL). */
static int unpack_str(const unsigned char *buf, size_t n, size_t *at, char *dst,
                      size_t cap)
{
	const unsigned char *p;
	size_t len;
	int rc = unpack_field(buf, n, at, &p, &len);

	if (rc != 0 || len >= cap)
		return CU_ERR_RANGE;
	memcpy(dst, p, len);
	dst[len] = '\0';
	return 0;
}

static int obj_memo_unpack(const unsigned char *buf, size_t n, const char *key,
                           size_t key_len, struct cu_smeta_object *o)
{
	struct obj_memo_fixed f;
	const unsigned char *meta;
	size_t at = sizeof(f), meta_len;

	if (n < sizeof(f) || key_len >= sizeof(o->key))
		return CU_ERR_RANGE;
	memcpy(&f, buf, sizeof(f));
	if (unpack_str(buf, n, &at, o->version_id, sizeof(o->version_id)) !=
	        0 ||
	    unpack_str(buf, n, &at, o->etag, sizeof(o->etag)) != 0 ||
	    unpack_str(buf, n, &at, o->content_type, sizeof(o->content_type)) !=
	        0 ||
	    unpack_str(buf, n, &at, o->path, sizeof(o->path)) != 0 ||
	    unpack_field(buf, n, &at, &meta, &meta_len) != 0 || at != n)
		return CU_ERR_RANGE;
	if (meta_len > 0) {
		if ((o->meta_sealed = malloc(meta_len)) == NULL)
			return CU_ERR_NOMEM;
		memcpy(o->meta_sealed, meta, meta_len);
		o->meta_sealed_len = meta_len;
	}
	memcpy(o->key, key, key_len);
	o->key[key_len] = '\0';
	o->key_len = key_len;
	o->size = f.size;
	o->created = f.created;
	o->tk_version = f.tk_version;
	o->parts = f.parts;
	return 0;
}

int cu_smeta_object_get(cu_smeta_t *m, const char *tenant, const char *bucket,
                        const char *key, size_t key_len,
                        struct cu_smeta_object *o)
{
	unsigned char mkey[CU_MEMO_KEY_MAX], val[CU_MEMO_VAL_MAX];
	size_t mklen, vlen = 0;
	uint64_t gen;
	int rc;

	if (m == NULL || tenant == NULL || bucket == NULL || key == NULL ||
	    o == NULL)
		return CU_ERR_INVAL;
	memset(o, 0, sizeof(*o));
	/* every GET and HEAD asks: the row as committed now, from the memo
	 * while nothing was committed since it was read (memo.h), so a
	 * replaced or deleted object is seen at once */
	gen = cu_db_commits(m->db); /* before the read */
	mklen = obj_memo_key(tenant, bucket, key, key_len, mkey);
	if (mklen > 0 && cu_memo_get(m->memo, mkey, mklen, gen, val,
	                             sizeof(val), &vlen) == 0) {
		if ((rc = obj_memo_unpack(val, vlen, key, key_len, o)) == 0)
			return 0;
		cu_smeta_object_clear(o);
		if (rc == CU_ERR_NOMEM)
			return rc;
	}
	rc = read_one(m, object_row_full, o,
	              "SELECT " OBJ_COLS " FROM objects WHERE tenant = ?1"
	              " AND bucket = ?2 AND key = ?3",
	              "ttT", tenant, bucket, key, key_len);
	if (rc != 0) {
		cu_smeta_object_clear(o);
		return rc;
	}
	if (mklen > 0 && (vlen = obj_memo_pack(o, val)) > 0)
		(void)cu_memo_put(m->memo, mkey, mklen, gen, val, vlen);
	return 0;
}

/* Inside a transaction: the current version's path, if any; a
 * multipart version's manifest rows are deleted here (the caller is
 * replacing or deleting it in the same transaction). */
static int current_path(cu_smeta_t *m, const char *tenant, const char *bucket,
                        const char *key, size_t key_len,
                        char old_path[CU_SMETA_PATH_MAX + 1], int *found)
{
	char vid[CU_SMETA_VID_MAX + 1];
	sqlite3_stmt *st = NULL;
	int64_t parts = 0;
	int rc;

	*found = 0;
	old_path[0] = '\0';
	rc = cu_db_query_cached(
	    m->db, &st,
	    "SELECT path, version_id, parts FROM objects"
	    " WHERE tenant = ?1 AND bucket = ?2 AND key = ?3",
	    "ttT", tenant, bucket, key, key_len);
	if (rc != 0)
		return rc;
	rc = cu_db_step(st);
	if (rc == 1) {
		rc = col_copy(st, 0, old_path, CU_SMETA_PATH_MAX + 1, NULL);
		if (rc == 0)
			rc = col_copy(st, 1, vid, sizeof(vid), NULL);
		parts = sqlite3_column_int64(st, 2);
		*found = rc == 0;
	}
	cu_db_release(m->db, st);
	if (rc == 0 && *found && parts > 0)
		rc = cu_db_run(m->db, NULL,
		               "DELETE FROM object_parts WHERE tenant = ?1 AND"
		               " bucket = ?2 AND version_id = ?3",
		               "ttt", tenant, bucket, vid);
	if (rc != 0)
		*found = 0;
	return rc;
}

static int replace_locked(cu_smeta_t *m, const char *tenant, const char *bucket,
                          const struct cu_smeta_object *o,
                          char old_path[CU_SMETA_PATH_MAX + 1], int *replaced);

int cu_smeta_object_put(cu_smeta_t *m, const char *tenant, const char *bucket,
                        const struct cu_smeta_object *o,
                        char old_path[CU_SMETA_PATH_MAX + 1], int *replaced)
{
	int rc;

	if (m == NULL || tenant == NULL || bucket == NULL || o == NULL ||
	    old_path == NULL || replaced == NULL)
		return CU_ERR_INVAL;
	*replaced = 0;
	old_path[0] = '\0';
	if (o->key_len == 0 || o->key_len > CU_SMETA_KEY_MAX ||
	    o->size > INT64_MAX || o->tk_version == 0 ||
	    o->meta_sealed_len > CU_SMETA_META_MAX || o->path[0] == '\0')
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	if ((rc = bucket_exists(m, tenant, bucket, NULL)) != 0)
		goto out;
	rc = replace_locked(m, tenant, bucket, o, old_path, replaced);
out:
	if (rc != 0) {
		cu_db_rollback(m->db);
		*replaced = 0;
		return rc;
	}
	if ((rc = cu_db_commit(m->db)) != 0)
		*replaced = 0;
	return rc;
}

/* Inside a write transaction: make o the current version. */
static int replace_locked(cu_smeta_t *m, const char *tenant, const char *bucket,
                          const struct cu_smeta_object *o,
                          char old_path[CU_SMETA_PATH_MAX + 1], int *replaced)
{
	int rc;

	rc = current_path(m, tenant, bucket, o->key, o->key_len, old_path,
	                  replaced);
	if (rc != 0)
		return rc;
	return cu_db_run(m->db, NULL,
	                 "INSERT OR REPLACE INTO objects (tenant, bucket, key,"
	                 " version_id, size, etag, content_type, meta_sealed,"
	                 " tk_version, path, created, parts) VALUES (?1, ?2,"
	                 " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	                 "ttTtittbitii", tenant, bucket, o->key, o->key_len,
	                 o->version_id, (int64_t)o->size, o->etag,
	                 o->content_type, o->meta_sealed, o->meta_sealed_len,
	                 (int64_t)o->tk_version, o->path, o->created,
	                 (int64_t)o->parts);
}

int cu_smeta_object_delete(cu_smeta_t *m, const char *tenant,
                           const char *bucket, const char *key, size_t key_len,
                           char old_path[CU_SMETA_PATH_MAX + 1], int *deleted)
{
	int rc;

	if (m == NULL || tenant == NULL || bucket == NULL || key == NULL ||
	    old_path == NULL || deleted == NULL)
		return CU_ERR_INVAL;
	*deleted = 0;
	old_path[0] = '\0';
	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	if ((rc = bucket_exists(m, tenant, bucket, NULL)) != 0)
		goto out;
	rc = current_path(m, tenant, bucket, key, key_len, old_path, deleted);
	if (rc != 0 || !*deleted)
		goto out;
	rc = cu_db_run(m->db, NULL,
	               "DELETE FROM objects WHERE tenant = ?1 AND bucket = ?2"
	               " AND key = ?3",
	               "ttT", tenant, bucket, key, key_len);
out:
	if (rc != 0) {
		cu_db_rollback(m->db);
		*deleted = 0;
		return rc;
	}
	if ((rc = cu_db_commit(m->db)) != 0)
		*deleted = 0;
	return rc;
}

int cu_smeta_object_list(cu_smeta_t *m, const char *tenant, const char *bucket,
                         const char *prefix, size_t plen, const char *after,
                         size_t alen, unsigned limit, cu_smeta_object_fn fn,
                         void *arg)
{
	struct cu_smeta_object o;
	sqlite3_stmt *st = NULL;
	char *upper = NULL;
	int rc;

	if (m == NULL || tenant == NULL || bucket == NULL || fn == NULL ||
	    (plen > 0 && prefix == NULL) || (alen > 0 && after == NULL))
		return CU_ERR_INVAL;
	if (plen > CU_SMETA_KEY_MAX || alen > CU_SMETA_KEY_MAX + 1)
		return CU_ERR_INVAL;
	/* Keys are UTF-8, which never holds 0xff: every key starting with
	 * the prefix sorts below prefix || 0xff, and none other between. */
	if ((upper = malloc(plen + 1)) == NULL)
		return CU_ERR_NOMEM;
	if (plen > 0)
		memcpy(upper, prefix, plen);
	upper[plen] = (char)0xff;
	if ((rc = cu_db_begin_read(m->db)) != 0)
		goto done;
	rc = cu_db_query_cached(
	    m->db, &st,
	    "SELECT " OBJ_COLS " FROM objects WHERE tenant = ?1"
	    " AND bucket = ?2 AND key > ?3 AND key >= ?4"
	    " AND key < ?5 ORDER BY key LIMIT ?6",
	    "ttTTTi", tenant, bucket, alen > 0 ? after : "", alen,
	    plen > 0 ? prefix : "", plen, upper, plen + 1, (int64_t)limit);
	if (rc != 0)
		goto out;
	while ((rc = cu_db_step(st)) == 1) {
		if ((rc = object_row(st, &o, 0)) != 0 ||
		    (rc = fn(arg, &o)) != 0)
			break;
	}
out:
	cu_db_release(m->db, st);
	cu_db_rollback(m->db);
done:
	free(upper);
	return rc;
}

/* ---- multipart uploads ------------------------------------------- */

int cu_smeta_upload_create(cu_smeta_t *m, const char *tenant,
                           const char *bucket, const struct cu_smeta_upload *u)
{
	int rc;

	if (m == NULL || tenant == NULL || bucket == NULL || u == NULL ||
	    u->key_len == 0 || u->key_len > CU_SMETA_KEY_MAX ||
	    u->upload_id[0] == '\0' || u->path[0] == '\0' ||
	    u->tk_version == 0 || u->meta_sealed_len > CU_SMETA_META_MAX)
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	if ((rc = bucket_exists(m, tenant, bucket, NULL)) != 0)
		goto out;
	rc = cu_db_run(m->db, NULL,
	               "INSERT INTO uploads (upload_id, tenant, bucket, key,"
	               " content_type, meta_sealed, tk_version, path, created)"
	               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	               "tttTtbiti", u->upload_id, tenant, bucket, u->key,
	               u->key_len, u->content_type, u->meta_sealed,
	               u->meta_sealed_len, (int64_t)u->tk_version, u->path,
	               u->created);
out:
	return txn_end(m, rc);
}

void cu_smeta_upload_clear(struct cu_smeta_upload *u)
{
	if (u == NULL)
		return;
	free(u->meta_sealed);
	memset(u, 0, sizeof(*u));
}

/* Inside a transaction: 0 when the upload belongs to (tenant, bucket). */
static int upload_owned(cu_smeta_t *m, const char *tenant, const char *bucket,
                        const char *upload_id, struct cu_smeta_upload *u)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (u != NULL)
		memset(u, 0, sizeof(*u));
	rc = cu_db_query_cached(
	    m->db, &st,
	    "SELECT upload_id, key, content_type, meta_sealed,"
	    " tk_version, path, created FROM uploads WHERE"
	    " upload_id = ?1 AND tenant = ?2 AND bucket = ?3",
	    "ttt", upload_id, tenant, bucket);
	if (rc != 0)
		return rc;
	rc = cu_db_step(st);
	if (rc == 0)
		rc = CU_ERR_NOTFOUND;
	if (rc != 1)
		goto out;
	rc = 0;
	if (u == NULL)
		goto out;
	if ((rc = col_copy(st, 0, u->upload_id, sizeof(u->upload_id), NULL)) !=
	        0 ||
	    (rc = col_copy(st, 1, u->key, sizeof(u->key), &u->key_len)) != 0 ||
	    (rc = col_copy(st, 2, u->content_type, sizeof(u->content_type),
	                   NULL)) != 0 ||
	    (rc = col_copy(st, 5, u->path, sizeof(u->path), NULL)) != 0)
		goto out;
	{
		int64_t v = sqlite3_column_int64(st, 4);
		int n = sqlite3_column_bytes(st, 3);
		const void *p = sqlite3_column_blob(st, 3);

		if (v <= 0 || v > UINT32_MAX) {
			rc = CU_ERR_DB;
			goto out;
		}
		u->tk_version = (uint32_t)v;
		u->created = sqlite3_column_int64(st, 6);
		if (p != NULL && n > 0) {
			if ((u->meta_sealed = malloc((size_t)n)) == NULL) {
				rc = CU_ERR_NOMEM;
				goto out;
			}
			memcpy(u->meta_sealed, p, (size_t)n);
			u->meta_sealed_len = (size_t)n;
		}
	}
out:
	cu_db_release(m->db, st);
	if (rc != 0 && u != NULL)
		cu_smeta_upload_clear(u);
	return rc;
}

int cu_smeta_upload_get(cu_smeta_t *m, const char *tenant, const char *bucket,
                        const char *upload_id, struct cu_smeta_upload *u)
{
	int rc;

	if (m == NULL || tenant == NULL || bucket == NULL ||
	    upload_id == NULL || u == NULL)
		return CU_ERR_INVAL;
	memset(u, 0, sizeof(*u));
	if ((rc = cu_db_begin_read(m->db)) != 0)
		return rc;
	rc = upload_owned(m, tenant, bucket, upload_id, u);
	cu_db_rollback(m->db);
	return rc;
}

int cu_smeta_part_put(cu_smeta_t *m, const char *tenant, const char *bucket,
                      const char *upload_id, const struct cu_smeta_part *p,
                      char old_file[CU_SMETA_VID_MAX + 1], int *replaced)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (m == NULL || tenant == NULL || bucket == NULL ||
	    upload_id == NULL || p == NULL || old_file == NULL ||
	    replaced == NULL || p->number < 1 || p->number > 10000 ||
	    p->size > INT64_MAX || p->file[0] == '\0')
		return CU_ERR_INVAL;
	*replaced = 0;
	old_file[0] = '\0';
	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	if ((rc = upload_owned(m, tenant, bucket, upload_id, NULL)) != 0)
		goto out;
	rc = cu_db_query_cached(
	    m->db, &st,
	    "SELECT file FROM upload_parts WHERE upload_id = ?1"
	    " AND number = ?2",
	    "ti", upload_id, (int64_t)p->number);
	if (rc != 0)
		goto out;
	rc = cu_db_step(st);
	if (rc == 1) {
		rc = col_copy(st, 0, old_file, CU_SMETA_VID_MAX + 1, NULL);
		*replaced = rc == 0;
	}
	cu_db_release(m->db, st);
	if (rc != 0)
		goto out;
	rc = cu_db_run(m->db, NULL,
	               "INSERT OR REPLACE INTO upload_parts (upload_id, number,"
	               " size, etag, file, created) VALUES (?1, ?2, ?3, ?4,"
	               " ?5, ?6)",
	               "tiitti", upload_id, (int64_t)p->number,
	               (int64_t)p->size, p->etag, p->file, p->created);
out:
	if (rc != 0) {
		cu_db_rollback(m->db);
		*replaced = 0;
		return rc;
	}
	if ((rc = cu_db_commit(m->db)) != 0)
		*replaced = 0;
	return rc;
}

static int part_row(sqlite3_stmt *st, struct cu_smeta_part *p)
{
	int64_t num = sqlite3_column_int64(st, 0);
	int64_t size = sqlite3_column_int64(st, 1);
	int rc;

	memset(p, 0, sizeof(*p));
	if (num < 1 || num > 10000 || size < 0)
		return CU_ERR_DB;
	p->number = (uint32_t)num;
	p->size = (uint64_t)size;
	if ((rc = col_copy(st, 2, p->etag, sizeof(p->etag), NULL)) != 0 ||
	    (rc = col_copy(st, 3, p->file, sizeof(p->file), NULL)) != 0)
		return rc;
	p->created = sqlite3_column_int64(st, 4);
	return 0;
}

int cu_smeta_part_list(cu_smeta_t *m, const char *upload_id, uint32_t after,
                       unsigned limit, cu_smeta_part_fn fn, void *arg)
{
	struct cu_smeta_part p;
	sqlite3_stmt *st = NULL;
	int rc;

	if (m == NULL || upload_id == NULL || fn == NULL)
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin_read(m->db)) != 0)
		return rc;
	rc = cu_db_query_cached(
	    m->db, &st,
	    "SELECT number, size, etag, file, created FROM"
	    " upload_parts WHERE upload_id = ?1 AND number > ?2"
	    " ORDER BY number LIMIT ?3",
	    "tii", upload_id, (int64_t)after, (int64_t)limit);
	if (rc != 0)
		goto out;
	while ((rc = cu_db_step(st)) == 1) {
		if ((rc = part_row(st, &p)) != 0 || (rc = fn(arg, &p)) != 0)
			break;
	}
out:
	cu_db_release(m->db, st);
	cu_db_rollback(m->db);
	return rc;
}

int cu_smeta_upload_complete(cu_smeta_t *m, const char *tenant,
                             const char *bucket, const char *upload_id,
                             const struct cu_smeta_object *o,
                             const struct cu_smeta_part *parts, size_t n,
                             char old_path[CU_SMETA_PATH_MAX + 1],
                             int *replaced)
{
	int rc;

	if (m == NULL || tenant == NULL || bucket == NULL ||
	    upload_id == NULL || o == NULL || parts == NULL || n == 0 ||
	    n > 10000 || o->parts != n || old_path == NULL ||
	    replaced == NULL || o->key_len == 0 ||
	    o->key_len > CU_SMETA_KEY_MAX || o->tk_version == 0 ||
	    strcmp(o->version_id, upload_id) != 0)
		return CU_ERR_INVAL;
	*replaced = 0;
	old_path[0] = '\0';
	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	if ((rc = upload_owned(m, tenant, bucket, upload_id, NULL)) != 0)
		goto out;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = cu_db_run(m->db, NULL,
		               "INSERT INTO object_parts (tenant, bucket,"
		               " version_id, number, size, etag, file) VALUES"
		               " (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
		               "tttiitt", tenant, bucket, upload_id,
		               (int64_t)parts[i].number, (int64_t)parts[i].size,
		               parts[i].etag, parts[i].file);
	if (rc != 0)
		goto out;
	if ((rc = replace_locked(m, tenant, bucket, o, old_path, replaced)) !=
	    0)
		goto out;
	rc = cu_db_run(m->db, NULL, "DELETE FROM uploads WHERE upload_id = ?1",
	               "t", upload_id);
out:
	if (rc != 0) {
		cu_db_rollback(m->db);
		*replaced = 0;
		return rc;
	}
	if ((rc = cu_db_commit(m->db)) != 0)
		*replaced = 0;
	return rc;
}

int cu_smeta_upload_abort(cu_smeta_t *m, const char *tenant, const char *bucket,
                          const char *upload_id,
                          char path[CU_SMETA_PATH_MAX + 1])
{
	struct cu_smeta_upload u;
	int rc;

	if (m == NULL || tenant == NULL || bucket == NULL ||
	    upload_id == NULL || path == NULL)
		return CU_ERR_INVAL;
	path[0] = '\0';
	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	if ((rc = upload_owned(m, tenant, bucket, upload_id, &u)) != 0)
		goto out;
	memcpy(path, u.path, sizeof(u.path));
	cu_smeta_upload_clear(&u);
	rc = cu_db_run(m->db, NULL, "DELETE FROM uploads WHERE upload_id = ?1",
	               "t", upload_id);
out:
	if (rc != 0) {
		cu_db_rollback(m->db);
		path[0] = '\0';
		return rc;
	}
	return cu_db_commit(m->db);
}

int cu_smeta_object_parts(cu_smeta_t *m, const char *tenant, const char *bucket,
                          const char *version_id, cu_smeta_part_fn fn,
                          void *arg)
{
	struct cu_smeta_part p;
	sqlite3_stmt *st = NULL;
	int rc;

	if (m == NULL || tenant == NULL || bucket == NULL ||
	    version_id == NULL || fn == NULL)
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin_read(m->db)) != 0)
		return rc;
	rc = cu_db_query_cached(
	    m->db, &st,
	    "SELECT number, size, etag, file, 0 FROM object_parts"
	    " WHERE tenant = ?1 AND bucket = ?2 AND"
	    " version_id = ?3 ORDER BY number",
	    "ttt", tenant, bucket, version_id);
	if (rc != 0)
		goto out;
	while ((rc = cu_db_step(st)) == 1) {
		if ((rc = part_row(st, &p)) != 0 || (rc = fn(arg, &p)) != 0)
			break;
	}
out:
	cu_db_release(m->db, st);
	cu_db_rollback(m->db);
	return rc;
}

/* ---- access key management and tenant deletion -------------------- */

int cu_smeta_akey_add(cu_smeta_t *m, const char *tenant, const char *akid,
                      const void *sealed, size_t len, int64_t created)
{
	if (m == NULL || tenant == NULL || !bounded(akid, CU_SMETA_ID_MAX) ||
	    sealed == NULL || len == 0 || len > CU_SMETA_BLOB_MAX)
		return CU_ERR_INVAL;
	return write_one(m, 0,
	                 "INSERT INTO access_keys (id, tenant, secret_sealed,"
	                 " created) VALUES (?1, ?2, ?3, ?4)",
	                 "ttbi", akid, tenant, sealed, len, created);
}

int cu_smeta_akey_list(cu_smeta_t *m, const char *tenant, cu_smeta_akey_fn fn,
                       void *arg)
{
	struct cu_smeta_akey k;
	sqlite3_stmt *st = NULL;
	int rc;

	if (m == NULL || tenant == NULL || fn == NULL)
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin_read(m->db)) != 0)
		return rc;
	rc = cu_db_query_cached(
	    m->db, &st,
	    "SELECT id, active, created FROM access_keys WHERE"
	    " tenant = ?1 ORDER BY created, id",
	    "t", tenant);
	if (rc != 0)
		goto out;
	while ((rc = cu_db_step(st)) == 1) {
		memset(&k, 0, sizeof(k));
		if ((rc = col_copy(st, 0, k.id, sizeof(k.id), NULL)) != 0)
			break;
		k.active = sqlite3_column_int(st, 1) != 0;
		k.created = sqlite3_column_int64(st, 2);
		if ((rc = fn(arg, &k)) != 0)
			break;
	}
out:
	cu_db_release(m->db, st);
	cu_db_rollback(m->db);
	return rc;
}

int cu_smeta_akey_revoke(cu_smeta_t *m, const char *tenant, const char *akid)
{
	if (m == NULL || tenant == NULL || akid == NULL)
		return CU_ERR_INVAL;
	/* the sealed secret goes too: a revoked key can never come back */
	return write_one(
	    m, 1,
	    "UPDATE access_keys SET active = 0, secret_sealed = x''"
	    " WHERE id = ?1 AND tenant = ?2 AND active = 1",
	    "tt", akid, tenant);
}

int cu_smeta_tenant_delete(cu_smeta_t *m, const char *tenant)
{
	int rc, changes = 0;

	if (m == NULL || tenant == NULL)
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	rc = any_row(m, "SELECT 1 FROM buckets WHERE tenant = ?1 LIMIT 1", "t",
	             tenant);
	if (rc == 1)
		rc = CU_ERR_STATE;
	if (rc != 0)
		goto out;
	if ((rc = cu_db_run(m->db, NULL,
	                    "DELETE FROM access_keys WHERE tenant = ?1", "t",
	                    tenant)) != 0 ||
	    (rc = cu_db_run(m->db, NULL,
	                    "DELETE FROM tenant_keys WHERE tenant = ?1", "t",
	                    tenant)) != 0 ||
	    (rc = cu_db_run(m->db, NULL,
	                    "DELETE FROM tk_wraps WHERE tenant = ?1", "t",
	                    tenant)) != 0 ||
	    (rc = cu_db_run(m->db, NULL,
	                    "DELETE FROM tenant_cmk WHERE tenant = ?1", "t",
	                    tenant)) != 0 ||
	    (rc = cu_db_run(m->db, NULL,
	                    "DELETE FROM tenant_events WHERE tenant = ?1", "t",
	                    tenant)) != 0 ||
	    (rc = cu_db_run(m->db, NULL,
	                    "DELETE FROM reader_tokens WHERE tenant = ?1", "t",
	                    tenant)) != 0 ||
	    (rc =
	         cu_db_run(m->db, &changes, "DELETE FROM tenants WHERE id = ?1",
	                   "t", tenant)) != 0)
		goto out;
	if (changes == 0)
		rc = CU_ERR_NOTFOUND;
out:
	return txn_end(m, rc);
}

int cu_smeta_path_in_use(cu_smeta_t *m, const char *path, const char *file,
                         int *in_use)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (m == NULL || path == NULL || in_use == NULL)
		return CU_ERR_INVAL;
	*in_use = 1; /* on any failure, keep the file */
	if ((rc = cu_db_begin_read(m->db)) != 0)
		return rc;
	if (file == NULL)
		rc = cu_db_query_cached(
		    m->db, &st,
		    "SELECT 1 FROM objects WHERE path = ?1 UNION ALL"
		    " SELECT 1 FROM uploads WHERE path = ?1 LIMIT 1",
		    "t", path);
	else
		rc = cu_db_query_cached(
		    m->db, &st,
		    "SELECT 1 FROM uploads u JOIN upload_parts p"
		    " ON p.upload_id = u.upload_id"
		    " WHERE u.path = ?1 AND p.file = ?2 UNION ALL"
		    " SELECT 1 FROM objects o JOIN object_parts p"
		    " ON p.tenant = o.tenant AND p.bucket = o.bucket"
		    " AND p.version_id = o.version_id"
		    " WHERE o.path = ?1 AND p.file = ?2 LIMIT 1",
		    "tt", path, file);
	if (rc == 0) {
		rc = cu_db_step(st);
		if (rc >= 0) {
			*in_use = rc == 1;
			rc = 0;
		}
	}
	cu_db_release(m->db, st);
	cu_db_rollback(m->db);
	return rc;
}

int cu_smeta_upload_list(cu_smeta_t *m, const char *tenant, const char *bucket,
                         const char *prefix, size_t plen, const char *after,
                         size_t alen, unsigned limit, cu_smeta_upload_fn fn,
                         void *arg)
{
	struct cu_smeta_upload u;
	sqlite3_stmt *st = NULL;
	char *upper = NULL;
	int rc;

	if (m == NULL || tenant == NULL || bucket == NULL || fn == NULL ||
	    (plen > 0 && prefix == NULL) || (alen > 0 && after == NULL) ||
	    plen > CU_SMETA_KEY_MAX || alen > CU_SMETA_KEY_MAX + 1)
		return CU_ERR_INVAL;
	if ((upper = malloc(plen + 1)) == NULL)
		return CU_ERR_NOMEM;
	if (plen > 0)
		memcpy(upper, prefix, plen);
	upper[plen] = (char)0xff; /* as in cu_smeta_object_list */
	if ((rc = cu_db_begin_read(m->db)) != 0)
		goto done;
	rc = cu_db_query_cached(
	    m->db, &st,
	    "SELECT upload_id, key, created FROM uploads WHERE"
	    " tenant = ?1 AND bucket = ?2 AND key > ?3 AND"
	    " key >= ?4 AND key < ?5 ORDER BY key, upload_id"
	    " LIMIT ?6",
	    "ttTTTi", tenant, bucket, alen > 0 ? after : "", alen,
	    plen > 0 ? prefix : "", plen, upper, plen + 1, (int64_t)limit);
	if (rc != 0)
		goto out;
	while ((rc = cu_db_step(st)) == 1) {
		memset(&u, 0, sizeof(u));
		if ((rc = col_copy(st, 0, u.upload_id, sizeof(u.upload_id),
		                   NULL)) != 0 ||
		    (rc = col_copy(st, 1, u.key, sizeof(u.key), &u.key_len)) !=
		        0)
			break;
		u.created = sqlite3_column_int64(st, 2);
		if ((rc = fn(arg, &u)) != 0)
			break;
	}
out:
	cu_db_release(m->db, st);
	cu_db_rollback(m->db);
done:
	free(upper);
	return rc;
}

/* ---- customer-managed keys ---------------------------------------- */

int cu_smeta_tk_versions(cu_smeta_t *m, const char *tenant, uint32_t *out,
                         size_t cap, size_t *n)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (m == NULL || tenant == NULL || out == NULL || n == NULL)
		return CU_ERR_INVAL;
	*n = 0;
	if ((rc = cu_db_begin_read(m->db)) != 0)
		return rc;
	rc = cu_db_query_cached(
	    m->db, &st,
	    "SELECT version FROM tenant_keys WHERE tenant = ?1"
	    " ORDER BY version",
	    "t", tenant);
	while (rc == 0 && (rc = cu_db_step(st)) == 1) {
		int64_t v = sqlite3_column_int64(st, 0);

		if (v <= 0 || v > UINT32_MAX) {
			rc = CU_ERR_DB;
			break;
		}
		if (*n >= cap) {
			rc = CU_ERR_RANGE;
			break;
		}
		out[(*n)++] = (uint32_t)v;
		rc = 0;
	}
	cu_db_release(m->db, st);
	cu_db_rollback(m->db);
	return rc;
}

int cu_smeta_tk_wrap_get(cu_smeta_t *m, const char *tenant, uint32_t version,
                         const char *root, unsigned char *out, size_t cap,
                         size_t *len)
{
	struct blob_out b = {out, cap, len};

	if (m == NULL || tenant == NULL || root == NULL || out == NULL ||
	    len == NULL)
		return CU_ERR_INVAL;
	return read_one(m, blob_row, &b,
	                "SELECT wrapped FROM tk_wraps WHERE tenant = ?1 AND"
	                " version = ?2 AND root = ?3",
	                "tit", tenant, (int64_t)version, root);
}

/* With a write transaction open: store one wrap (see cu_smeta_tk_set_wraps). */
static int put_wrap(cu_smeta_t *m, const char *tenant,
                    const struct cu_smeta_wrap *w)
{
	int changes = 0, rc;

	if (w->version == 0 || w->root == NULL || w->wrapped == NULL ||
	    w->len == 0 || w->len > CU_SMETA_BLOB_MAX)
		return CU_ERR_INVAL;
	if (strcmp(w->root, CU_SMETA_ROOT_SYSTEM) == 0) {
		rc = cu_db_run(m->db, &changes,
		               "UPDATE tenant_keys SET wrapped = ?3, root = ?4"
		               " WHERE tenant = ?1 AND version = ?2",
		               "tibt", tenant, (int64_t)w->version, w->wrapped,
		               w->len, CU_SMETA_ROOT_SYSTEM);
		if (rc == 0 && changes == 0)
			rc = CU_ERR_NOTFOUND;
		return rc;
	}
	return cu_db_run(m->db, NULL,
	                 "INSERT INTO tk_wraps (tenant, version, root, wrapped)"
	                 " VALUES (?1, ?2, ?3, ?4)",
	                 "titb", tenant, (int64_t)w->version, w->root,
	                 w->wrapped, w->len);
}

int cu_smeta_tk_set_wraps(cu_smeta_t *m, const char *tenant,
                          const struct cu_smeta_wrap *w, size_t n)
{
	int rc;

	if (m == NULL || tenant == NULL || (w == NULL && n > 0))
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	if ((rc = cu_db_run(m->db, NULL,
	                    "DELETE FROM tk_wraps WHERE tenant = ?1", "t",
	                    tenant)) != 0 ||
	    (rc = cu_db_run(m->db, NULL,
	                    "UPDATE tenant_keys SET wrapped = X'', root = ?2"
	                    " WHERE tenant = ?1",
	                    "tt", tenant, CU_SMETA_ROOT_CUSTOMER)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((rc = put_wrap(m, tenant, &w[i])) != 0)
			goto out;
out:
	return txn_end(m, rc);
}

int cu_smeta_tk_add(cu_smeta_t *m, const char *tenant, uint32_t version,
                    const struct cu_smeta_wrap *w, size_t n)
{
	int rc;

	if (m == NULL || tenant == NULL || version == 0 || w == NULL || n == 0)
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	rc =
	    cu_db_run(m->db, NULL,
	              "INSERT INTO tenant_keys (tenant, version, root, wrapped,"
	              " created) VALUES (?1, ?2, ?3, X'',"
	              " strftime('%s','now'))",
	              "tit", tenant, (int64_t)version, CU_SMETA_ROOT_CUSTOMER);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (w[i].version != version)
			rc = CU_ERR_INVAL;
		else
			rc = put_wrap(m, tenant, &w[i]);
	}
	return txn_end(m, rc);
}

int cu_smeta_tenant_set_state(cu_smeta_t *m, const char *tenant,
                              const char *state)
{
	if (m == NULL || tenant == NULL || !bounded(state, CU_SMETA_STATE_MAX))
		return CU_ERR_INVAL;
	return write_one(m, 1, "UPDATE tenants SET state = ?2 WHERE id = ?1",
	                 "tt", tenant, state);
}

static int doc_row(sqlite3_stmt *st, void *arg)
{
	const unsigned char *t = sqlite3_column_text(st, 0);
	char **doc = arg;

	*doc = strdup(t != NULL ? (const char *)t : "");
	return *doc != NULL ? 0 : CU_ERR_NOMEM;
}

int cu_smeta_cmk_get(cu_smeta_t *m, const char *tenant, char **doc)
{
	if (m == NULL || tenant == NULL || doc == NULL)
		return CU_ERR_INVAL;
	*doc = NULL;
	return read_one(m, doc_row, doc,
	                "SELECT doc FROM tenant_cmk WHERE tenant = ?1", "t",
	                tenant);
}

int cu_smeta_cmk_put(cu_smeta_t *m, const char *tenant, const char *doc,
                     const char *state)
{
	int rc, changes = 0;

	if (m == NULL || tenant == NULL || doc == NULL ||
	    !bounded(state, CU_SMETA_STATE_MAX))
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	if ((rc = cu_db_run(m->db, NULL,
	                    "INSERT OR REPLACE INTO tenant_cmk (tenant, doc)"
	                    " VALUES (?1, ?2)",
	                    "tt", tenant, doc)) == 0)
		rc = cu_db_run(m->db, &changes,
		               "UPDATE tenants SET state = ?2 WHERE id = ?1",
		               "tt", tenant, state);
	if (rc == 0 && changes == 0)
		rc = CU_ERR_NOTFOUND;
	return txn_end(m, rc);
}

int cu_smeta_event_add(cu_smeta_t *m, const char *tenant, int64_t ts,
                       const char *type, const char *detail)
{
	if (m == NULL || tenant == NULL || type == NULL || detail == NULL)
		return CU_ERR_INVAL;
	return write_one(m, 0,
	                 "INSERT INTO tenant_events (tenant, ts, type, detail)"
	                 " VALUES (?1, ?2, ?3, ?4)",
	                 "titt", tenant, ts, type, detail);
}

int cu_smeta_event_list(cu_smeta_t *m, const char *tenant, int64_t since,
                        unsigned limit, cu_smeta_event_fn fn, void *arg)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (m == NULL || tenant == NULL || fn == NULL)
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin_read(m->db)) != 0)
		return rc;
	rc =
	    cu_db_query_cached(m->db, &st,
	                       "SELECT seq, ts, type, detail FROM tenant_events"
	                       " WHERE tenant = ?1 AND seq > ?2 ORDER BY seq"
	                       " LIMIT ?3",
	                       "tii", tenant, since, (int64_t)limit);
	while (rc == 0 && (rc = cu_db_step(st)) == 1) {
		const unsigned char *type = sqlite3_column_text(st, 2);
		const unsigned char *detail = sqlite3_column_text(st, 3);

		rc = fn(arg, sqlite3_column_int64(st, 0),
		        sqlite3_column_int64(st, 1),
		        type != NULL ? (const char *)type : "",
		        detail != NULL ? (const char *)detail : "{}");
	}
	cu_db_release(m->db, st);
	cu_db_rollback(m->db);
	return rc;
}

int cu_smeta_tenant_shred(cu_smeta_t *m, const char *tenant)
{
	int rc;

	if (m == NULL || tenant == NULL)
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	if ((rc = cu_db_run(m->db, NULL,
	                    "DELETE FROM tk_wraps WHERE tenant = ?1", "t",
	                    tenant)) != 0 ||
	    (rc = cu_db_run(m->db, NULL,
	                    "DELETE FROM tenant_keys WHERE tenant = ?1", "t",
	                    tenant)) != 0 ||
	    (rc = cu_db_run(m->db, NULL,
	                    "DELETE FROM object_parts WHERE tenant = ?1", "t",
	                    tenant)) != 0 ||
	    (rc =
	         cu_db_run(m->db, NULL,
	                   "DELETE FROM upload_parts WHERE upload_id IN"
	                   " (SELECT upload_id FROM uploads WHERE tenant = ?1)",
	                   "t", tenant)) != 0 ||
	    (rc =
	         cu_db_run(m->db, NULL, "DELETE FROM uploads WHERE tenant = ?1",
	                   "t", tenant)) != 0 ||
	    (rc =
	         cu_db_run(m->db, NULL, "DELETE FROM objects WHERE tenant = ?1",
	                   "t", tenant)) != 0 ||
	    (rc =
	         cu_db_run(m->db, NULL, "DELETE FROM buckets WHERE tenant = ?1",
	                   "t", tenant)) != 0 ||
	    (rc = cu_db_run(m->db, NULL,
	                    "DELETE FROM access_keys WHERE tenant = ?1", "t",
	                    tenant)) != 0)
		goto out;
out:
	if (rc != 0) {
		cu_db_rollback(m->db);
		return rc;
	}
	if ((rc = cu_db_commit(m->db)) != 0)
		return rc;
	/* secure_delete overwrote the rows' pages; VACUUM also rebuilds
	 * the file and the WAL checkpoint drops the old frames */
	(void)cu_db_exec(m->db, "VACUUM;");
	(void)cu_db_exec(m->db, "PRAGMA wal_checkpoint(TRUNCATE);");
	return 0;
}

int cu_smeta_reader_add(cu_smeta_t *m, const char *tenant,
                        const unsigned char hash[CU_SMETA_HASH_LEN],
                        int64_t created)
{
	if (m == NULL || tenant == NULL || hash == NULL)
		return CU_ERR_INVAL;
	return write_one(
	    m, 0,
	    "INSERT INTO reader_tokens (tenant, token_hash, created)"
	    " SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM tenants"
	    " WHERE id = ?1)",
	    "tbi", tenant, hash, (size_t)CU_SMETA_HASH_LEN, created);
}

int cu_smeta_reader_check(cu_smeta_t *m, const char *tenant,
                          const unsigned char hash[CU_SMETA_HASH_LEN])
{
	if (m == NULL || tenant == NULL || hash == NULL)
		return CU_ERR_INVAL;
	/* the hash is of a random 256-bit token: an index lookup on it
	 * reveals nothing useful about other tokens */
	return read_one(m, NULL, NULL,
	                "SELECT 1 FROM reader_tokens WHERE tenant = ?1 AND"
	                " token_hash = ?2",
	                "tb", tenant, hash, (size_t)CU_SMETA_HASH_LEN);
}

/* ---- store settings and operator-root wraps ----------------------- */

struct text_out {
	char *p;
	size_t cap;
};

static int text_row(sqlite3_stmt *st, void *arg)
{
	struct text_out *t = arg;
	const unsigned char *v = sqlite3_column_text(st, 0);
	size_t n = v != NULL ? (size_t)sqlite3_column_bytes(st, 0) : 0;

	if (n >= t->cap)
		return CU_ERR_RANGE;
	if (n > 0)
		memcpy(t->p, v, n);
	t->p[n] = '\0';
	return 0;
}

int cu_smeta_setting_get(cu_smeta_t *m, const char *name, char *out, size_t cap)
{
	struct text_out t = {out, cap};

	if (m == NULL || name == NULL || out == NULL || cap == 0)
		return CU_ERR_INVAL;
	return read_one(m, text_row, &t,
	                "SELECT value FROM settings WHERE name = ?1", "t",
	                name);
}

static int setting_put(cu_smeta_t *m, const char *name, const char *value)
{
	return cu_db_run(m->db, NULL,
	                 "INSERT INTO settings (name, value) VALUES (?1, ?2)"
	                 " ON CONFLICT(name) DO UPDATE SET value = ?2",
	                 "tt", name, value);
}

int cu_smeta_setting_set(cu_smeta_t *m, const char *name, const char *value)
{
	int rc;

	if (m == NULL || name == NULL || value == NULL)
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	return txn_end(m, setting_put(m, name, value));
}

/* Where each operator root's wraps live: a system-managed tenant's in
 * tenant_keys.wrapped (empty once on customer keys), the availability
 * key's in tk_wraps. */
static const struct {
	const char *select, *update, *root;
} oproot_sql[] = {
    [CU_SMETA_OPROOT_SYSTEM] = {"SELECT tenant, version, wrapped FROM"
                                " tenant_keys WHERE root = ?1 AND"
                                " length(wrapped) > 0"
                                " ORDER BY tenant, version",
                                "UPDATE tenant_keys SET wrapped = ?3"
                                " WHERE tenant = ?1 AND version = ?2"
                                " AND root = ?4",
                                CU_SMETA_ROOT_SYSTEM},
    [CU_SMETA_OPROOT_AVK] = {"SELECT tenant, version, wrapped FROM tk_wraps"
                             " WHERE root = ?1 ORDER BY tenant, version",
                             "UPDATE tk_wraps SET wrapped = ?3"
                             " WHERE tenant = ?1 AND version = ?2"
                             " AND root = ?4",
                             CU_SMETA_ROOT_AVK},
};

int cu_smeta_oproot_wraps(cu_smeta_t *m, enum cu_smeta_oproot which,
                          cu_smeta_oproot_wrap_fn fn, void *arg)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (m == NULL || fn == NULL ||
	    (which != CU_SMETA_OPROOT_SYSTEM && which != CU_SMETA_OPROOT_AVK))
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin_read(m->db)) != 0)
		return rc;
	rc = cu_db_query(m->db, &st, oproot_sql[which].select, "t",
	                 oproot_sql[which].root);
	while (rc == 0 && (rc = cu_db_step(st)) == 1) {
		int64_t v = sqlite3_column_int64(st, 1);
		const char *t = (const char *)sqlite3_column_text(st, 0);
		const void *w = sqlite3_column_blob(st, 2);
		int wl = sqlite3_column_bytes(st, 2);

		if (t == NULL || v <= 0 || v > UINT32_MAX || w == NULL ||
		    wl <= 0) {
			rc = CU_ERR_DB;
			break;
		}
		rc = fn(arg, t, (uint32_t)v, w, (size_t)wl);
	}
	sqlite3_finalize(st);
	cu_db_rollback(m->db);
	return rc;
}

int cu_smeta_oproot_rewrap(cu_smeta_t *m, enum cu_smeta_oproot which,
                           const struct cu_smeta_oproot_rewrap *w, size_t n,
                           const char *setting, const char *value)
{
	int rc, changes;

	if (m == NULL || (w == NULL && n > 0) || setting == NULL ||
	    value == NULL ||
	    (which != CU_SMETA_OPROOT_SYSTEM && which != CU_SMETA_OPROOT_AVK))
		return CU_ERR_INVAL;
	if ((rc = cu_db_begin(m->db)) != 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (w[i].tenant == NULL || w[i].wrapped == NULL ||
		    w[i].len == 0 || w[i].len > CU_SMETA_BLOB_MAX) {
			rc = CU_ERR_INVAL;
			break;
		}
		changes = 0;
		rc = cu_db_run(m->db, &changes, oproot_sql[which].update,
		               "tibt", w[i].tenant, (int64_t)w[i].version,
		               w[i].wrapped, w[i].len, oproot_sql[which].root);
		if (rc == 0 && changes != 1)
			rc = CU_ERR_NOTFOUND;
	}
	if (rc == 0)
		rc = setting_put(m, setting, value);
	return txn_end(m, rc);
}

#include "vault/keystore.h"
#include "core/b64.h"
#include "core/crypto/aead.h"
#include "core/crypto/hash.h"
#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/log.h"
#include "core/memo.h"
#include "core/secmem.h"
#include "vault/audit.h"
#include "vault/keycache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Memo entries (memo.h): tokens, role checks and key rows of the
 * principals and keys in use. */
#define MEMO_ENTRIES 1024

struct cu_vks {
	cu_db_t *db;
	char audit_path[4096]; /* of audit.db */
	cu_db_t *audit_db;     /* for reading the audit log */
	unsigned char *mk;     /* CU_AES256_KEY_LEN bytes, locked */
	pthread_mutex_t ev_mu;
	pthread_cond_t ev_cv;
	uint64_t ev_gen;
	int ev_stopping; /* cu_vks_stop_waits: waits return at once */
	cu_vkc_t *cache; /* loaded key versions (keycache.h) */
	cu_memo_t *memo; /* rows read on the hot path (memo.h) */
};

static const char *const schema[] = {
    "CREATE TABLE settings (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " retention_days INTEGER NOT NULL, purge_protection INTEGER NOT NULL);"
    "CREATE TABLE keys (name TEXT PRIMARY KEY, created INTEGER NOT NULL,"
    " deleted_date INTEGER NOT NULL DEFAULT 0,"
    " scheduled_purge INTEGER NOT NULL DEFAULT 0, policy TEXT);"
    "CREATE TABLE key_versions (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL REFERENCES keys(name) ON DELETE CASCADE,"
    " version TEXT NOT NULL, kty INTEGER NOT NULL, hsm INTEGER NOT NULL,"
    " size INTEGER NOT NULL, ops INTEGER NOT NULL,"
    " enabled INTEGER NOT NULL, nbf INTEGER NOT NULL,"
    " exp INTEGER NOT NULL, created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL, tags TEXT, pub TEXT NOT NULL,"
    " sealed BLOB NOT NULL, expiry_notified INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (name, version));"
    "CREATE INDEX key_versions_name ON key_versions(name, seq);"
    "CREATE TABLE principals (name TEXT PRIMARY KEY, auth TEXT NOT NULL,"
    " token_hash BLOB UNIQUE, cert_sha256 BLOB UNIQUE,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE role_assignments (id TEXT PRIMARY KEY,"
    " principal TEXT NOT NULL REFERENCES principals(name)"
    " ON DELETE CASCADE, role TEXT NOT NULL, scope TEXT NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE INDEX role_assignments_principal ON"
    " role_assignments(principal);"
    "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " ts INTEGER NOT NULL, type TEXT NOT NULL, key TEXT NOT NULL,"
    " version TEXT NOT NULL, detail TEXT NOT NULL);",
    /* Key names are case-insensitive, as Azure Key Vault's: a name is
     * stored as first given, and every lookup and the uniqueness of a
     * name ignore ASCII case. (Fails on a database that holds two names
     * differing only in case: such a vault must rename one first.) */
    "CREATE UNIQUE INDEX keys_name_nocase ON keys(name COLLATE NOCASE);"
    "CREATE INDEX key_versions_name_nocase ON"
    " key_versions(name COLLATE NOCASE, seq);",
    /* The audit log, a table here up to this version (migration 0 made
     * it then), moved to DIR/audit.db (audit.h says why); cu_vks_open
     * copies its records there before this runs. */
    "DROP TABLE IF EXISTS audit;",
};

static const char *const op_names[] = {
    "encrypt", "decrypt",   "sign",   "verify",
    "wrapKey", "unwrapKey", "import", "export",
};
#define N_OPS 8

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

void cu_vks_key_clear(struct cu_vks_key *k)
{
	if (k == NULL)
		return;
	json_decref(k->tags);
	json_decref(k->pub);
	memset(k, 0, sizeof(*k));
}

int cu_vks_name_valid(const char *name, size_t len)
{
	if (name == NULL || len == 0 || len > CU_VKS_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '-'))
			return 0;
	}
	return 1;
}

int cu_vks_version_valid(const char *v)
{
	size_t n = strlen(v);

	if (n != CU_VKS_VERSION_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= '0' && v[i] <= '9') ||
		      (v[i] >= 'a' && v[i] <= 'f')))
			return 0;
	return 1;
}

int cu_vks_ops_parse(const json_t *arr, unsigned *ops)
{
	size_t i;
	json_t *v;

	*ops = 0;
	if (!json_is_array(arr))
		return CU_ERR_PARSE;
	json_array_foreach(arr, i, v)
	{
		const char *s = json_string_value(v);
		int found = 0;
		if (s == NULL)
			return CU_ERR_PARSE;
		for (int j = 0; j < N_OPS; j++) {
			if (strcmp(s, op_names[j]) == 0) {
				*ops |= 1u << j;
				found = 1;
			}
		}
		if (!found)
			return CU_ERR_PARSE;
	}
	return 0;
}

json_t *cu_vks_ops_json(unsigned ops)
{
	json_t *arr = json_array();

	for (int j = 0; arr != NULL && j < N_OPS; j++) {
		if ((ops & (1u << j)) &&
		    json_array_append_new(arr, json_string(op_names[j])) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

const char *cu_vks_op_name(unsigned op)
{
	for (int j = 0; j < N_OPS; j++)
		if (op == 1u << j)
			return op_names[j];
	return "";
}

unsigned cu_vks_ops_default(int kty)
{
	switch (kty) {
	case CU_VKO_RSA:
		return CU_VKS_OP_ENCRYPT | CU_VKS_OP_DECRYPT | CU_VKS_OP_SIGN |
		       CU_VKS_OP_VERIFY | CU_VKS_OP_WRAP | CU_VKS_OP_UNWRAP;
	case CU_VKO_EC:
		return CU_VKS_OP_SIGN | CU_VKS_OP_VERIFY;
	case CU_VKO_OCT:
		return CU_VKS_OP_ENCRYPT | CU_VKS_OP_DECRYPT | CU_VKS_OP_WRAP |
		       CU_VKS_OP_UNWRAP;
	default:
		return 0;
	}
}

const char *cu_vks_recovery_level(const struct cu_vks_settings *s)
{
	if (s->retention_days < CU_VKS_RETENTION_MAX)
		return s->purge_protection ? "CustomizedRecoverable"
		                           : "CustomizedRecoverable+Purgeable";
	return s->purge_protection ? "Recoverable" : "Recoverable+Purgeable";
}

cu_db_t *cu_vks_db(cu_vks_t *vks)
{
	return vks->db;
}

cu_memo_t *cu_vks_memo(cu_vks_t *vks)
{
	return vks->memo;
}

/* Read or make DIR/master.key. */
static int load_master_key(const char *dir, unsigned char *mk)
{
	char path[4096];
	struct stat sb;
	ssize_t n;
	int fd = -1, r;

	if ((size_t)snprintf(path, sizeof(path), "%s/master.key", dir) >=
	    sizeof(path))
		return CU_ERR_RANGE;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		if ((r = cu_rand_bytes(mk, CU_AES256_KEY_LEN)) != 0)
			return r;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			goto ioerr;
		if (write(fd, mk, CU_AES256_KEY_LEN) != CU_AES256_KEY_LEN ||
		    fsync(fd) != 0) {
			close(fd);
			unlink(path);
			goto ioerr;
		}
		close(fd);
		/* make the new file's directory entry durable too */
		if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			(void)fsync(fd);
			close(fd);
		}
		cu_logf(CU_LOG_INFO, "created vault master key %s", path);
		return 0;
	}
	if (fd < 0)
		goto ioerr;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size != CU_AES256_KEY_LEN) {
		cu_logf(CU_LOG_ERROR, "%s: not a %d-byte key file", path,
		        CU_AES256_KEY_LEN);
		close(fd);
		return CU_ERR_IO;
	}
	if (sb.st_mode & 077) {
		cu_logf(CU_LOG_ERROR,
		        "%s: readable by group or others (mode %o): refused",
		        path, (unsigned)(sb.st_mode & 0777));
		close(fd);
		return CU_ERR_IO;
	}
	n = read(fd, mk, CU_AES256_KEY_LEN);
	close(fd);
	if (n != CU_AES256_KEY_LEN) {
		cu_memzero(mk, CU_AES256_KEY_LEN);
		return CU_ERR_IO;
	}
	return 0;
ioerr:
	cu_logf(CU_LOG_ERROR, "vault master key %s: %s", path, strerror(errno));
	return CU_ERR_IO;
}

static int settings_valid(const struct cu_vks_settings *s)
{
	return s->retention_days >= CU_VKS_RETENTION_MIN &&
	       s->retention_days <= CU_VKS_RETENTION_MAX &&
	       (s->purge_protection == 0 || s->purge_protection == 1);
}

int cu_vks_open(const char *dir, const struct cu_vks_settings *initial,
                cu_vks_t **out)
{
	struct cu_vks_settings def = {CU_VKS_RETENTION_MAX, 0};
	cu_vks_t *vks = NULL;
	char path[4096];
	int r;

	*out = NULL;
	if (dir == NULL)
		return CU_ERR_INVAL;
	if (initial == NULL)
		initial = &def;
	if (!settings_valid(initial))
		return CU_ERR_INVAL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		cu_logf(CU_LOG_ERROR, "cannot create %s: %s", dir,
		        strerror(errno));
		return CU_ERR_IO;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/vault.db", dir) >=
	    sizeof(path))
		return CU_ERR_RANGE;
	if ((vks = calloc(1, sizeof(*vks))) == NULL)
		return CU_ERR_NOMEM;
	if ((size_t)snprintf(vks->audit_path, sizeof(vks->audit_path),
	                     "%s/audit.db", dir) >= sizeof(vks->audit_path)) {
		free(vks);
		return CU_ERR_RANGE;
	}
	pthread_mutex_init(&vks->ev_mu, NULL);
	pthread_cond_init(&vks->ev_cv, NULL);
	if ((vks->mk = cu_secmem_alloc(CU_AES256_KEY_LEN)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if ((r = cu_vkc_new(CU_VKC_MAX_DEFAULT, CU_VKC_TTL_DEFAULT,
	                    &vks->cache)) != 0 ||
	    (r = cu_memo_new(MEMO_ENTRIES, &vks->memo)) != 0)
		goto out;
	if ((r = load_master_key(dir, vks->mk)) != 0)
		goto out;
	/* the audit first: vault.db's migrations drop its old audit table */
	if ((r = cu_vaudit_open(vks->audit_path, &vks->audit_db)) != 0 ||
	    (r = cu_vaudit_adopt(vks->audit_db, path)) != 0)
		goto out;
	if ((r = cu_db_open(path, schema, sizeof(schema) / sizeof(schema[0]),
	                    &vks->db)) != 0)
		goto out;
	if ((r = cu_db_begin(vks->db)) != 0)
		goto out;
	r = cu_db_run(vks->db, NULL,
	              "INSERT OR IGNORE INTO settings(id, retention_days, "
	              "purge_protection) VALUES(1, ?1, ?2)",
	              "ii", (int64_t)initial->retention_days,
	              (int64_t)initial->purge_protection);
	if (r != 0) {
		cu_db_rollback(vks->db);
		goto out;
	}
	if ((r = cu_db_commit(vks->db)) != 0)
		goto out;
	*out = vks;
	vks = NULL;
out:
	cu_vks_close(vks);
	return r;
}

int cu_vks_open_audit_db(cu_vks_t *vks, cu_db_t **out)
{
	return cu_vaudit_open(vks->audit_path, out);
}

cu_db_t *cu_vks_audit_db(cu_vks_t *vks)
{
	return vks->audit_db;
}

void cu_vks_close(cu_vks_t *vks)
{
	if (vks == NULL)
		return;
	cu_vkc_free(vks->cache);
	cu_memo_free(vks->memo);
	cu_db_close(vks->db);
	cu_db_close(vks->audit_db);
	cu_secmem_free(vks->mk, CU_AES256_KEY_LEN);
	pthread_cond_destroy(&vks->ev_cv);
	pthread_mutex_destroy(&vks->ev_mu);
	free(vks);
}

void cu_vks_cache_expire(cu_vks_t *vks)
{
	cu_vkc_expire(vks->cache);
}

/* Inside a transaction. */
static int settings_tx(cu_vks_t *vks, struct cu_vks_settings *s)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = cu_db_query(vks->db, &st,
	                     "SELECT retention_days, purge_protection FROM "
	                     "settings WHERE id = 1",
	                     "")) != 0)
		return r;
	if ((r = cu_db_step(st)) == 1) {
		s->retention_days = sqlite3_column_int(st, 0);
		s->purge_protection = sqlite3_column_int(st, 1);
		r = 0;
	} else if (r == 0) {
		r = CU_ERR_DB;
	}
	sqlite3_finalize(st);
	return r;
}

int cu_vks_settings_get(cu_vks_t *vks, struct cu_vks_settings *s)
{
	int r;

	if ((r = cu_db_begin_read(vks->db)) != 0)
		return r;
	r = settings_tx(vks, s);
	cu_db_rollback(vks->db);
	return r;
}

int cu_vks_settings_set(cu_vks_t *vks, const struct cu_vks_settings *s)
{
	struct cu_vks_settings cur;
	int r;

	if (s->retention_days < CU_VKS_RETENTION_MIN ||
	    s->retention_days > CU_VKS_RETENTION_MAX)
		return CU_ERR_RANGE;
	if (s->purge_protection != 0 && s->purge_protection != 1)
		return CU_ERR_INVAL;
	if ((r = cu_db_begin(vks->db)) != 0)
		return r;
	if ((r = settings_tx(vks, &cur)) != 0)
		goto out;
	if (cur.purge_protection && !s->purge_protection) {
		r = CU_ERR_STATE;
		goto out;
	}
	r = cu_db_run(vks->db, NULL,
	              "UPDATE settings SET retention_days = ?1, "
	              "purge_protection = ?2 WHERE id = 1",
	              "ii", (int64_t)s->retention_days,
	              (int64_t)s->purge_protection);
out:
	if (r != 0) {
		cu_db_rollback(vks->db);
		return r;
	}
	return cu_db_commit(vks->db);
}

#define KCOLS                                                                  \
	"SELECT v.name, v.version, v.kty, v.hsm, v.size, v.ops, v.enabled, "   \
	"v.nbf, v.exp, v.created, v.updated, v.tags, v.pub, k.deleted_date, "  \
	"k.scheduled_purge, v.sealed FROM key_versions v JOIN keys k ON "      \
	"k.name = v.name "

/* Columns 0-10 of both KCOLS and USE_COLS: the version's
 * name, attributes and times. */
static void version_cols(sqlite3_stmt *st, struct cu_vks_key *k)
{
	snprintf(k->name, sizeof(k->name), "%s", cu_db_col_text(st, 0));
	snprintf(k->version, sizeof(k->version), "%s", cu_db_col_text(st, 1));
	k->kty = sqlite3_column_int(st, 2);
	k->hsm = sqlite3_column_int(st, 3);
	k->size = sqlite3_column_int(st, 4);
	k->ops = (unsigned)sqlite3_column_int(st, 5);
	k->enabled = sqlite3_column_int(st, 6);
	k->nbf = sqlite3_column_int64(st, 7);
	k->exp = sqlite3_column_int64(st, 8);
	k->created = sqlite3_column_int64(st, 9);
	k->updated = sqlite3_column_int64(st, 10);
}

static int row_to_key(sqlite3_stmt *st, struct cu_vks_key *k)
{
	const char *tags, *pub;

	memset(k, 0, sizeof(*k));
	version_cols(st, k);
	tags = cu_db_col_text(st, 11);
	pub = cu_db_col_text(st, 12);
	k->deleted_date = sqlite3_column_int64(st, 13);
	k->scheduled_purge = sqlite3_column_int64(st, 14);
	if (tags[0] != '\0' &&
	    (k->tags = json_loads(tags, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return CU_ERR_DB;
	if ((k->pub = json_loads(pub, JSON_REJECT_DUPLICATES, NULL)) == NULL) {
		cu_vks_key_clear(k);
		return CU_ERR_DB;
	}
	return 0;
}

/* Read one version (latest when version is NULL or "") inside a
 * transaction; deleted selects live (0) or deleted (1) keys. When sealed
 * is not NULL it gets a malloc'd copy of the sealed material. */
static int read_version_tx(cu_vks_t *vks, const char *name, const char *version,
                           int deleted, struct cu_vks_key *out,
                           unsigned char **sealed, size_t *sealed_len)
{
	sqlite3_stmt *st = NULL;
	int latest = version == NULL || version[0] == '\0';
	int r;

	memset(out, 0, sizeof(*out));
	if (!latest && !cu_vks_version_valid(version))
		return CU_ERR_NOTFOUND;
	if (latest)
		r = cu_db_query(vks->db, &st,
		                KCOLS "WHERE v.name = ?1 COLLATE NOCASE AND "
		                      "(k.deleted_date "
		                      "!= 0) = ?2 ORDER BY v.seq DESC LIMIT 1",
		                "ti", name, (int64_t)deleted);
	else
		r = cu_db_query(vks->db, &st,
		                KCOLS "WHERE v.name = ?1 COLLATE NOCASE AND "
		                      "(k.deleted_date "
		                      "!= 0) = ?2 AND v.version = ?3",
		                "tit", name, (int64_t)deleted, version);
	if (r != 0)
		return r;
	if ((r = cu_db_step(st)) == 0)
		r = CU_ERR_NOTFOUND;
	if (r != 1)
		goto out;
	if ((r = row_to_key(st, out)) != 0)
		goto out;
	if (sealed != NULL) {
		int n = sqlite3_column_bytes(st, 15);
		*sealed = malloc(n > 0 ? (size_t)n : 1);
		if (*sealed == NULL) {
			r = CU_ERR_NOMEM;
			goto out;
		}
		memcpy(*sealed, sqlite3_column_blob(st, 15), (size_t)n);
		*sealed_len = (size_t)n;
	}
	r = settings_tx(vks, &out->settings);
out:
	sqlite3_finalize(st);
	if (r != 0)
		cu_vks_key_clear(out);
	return r;
}

static int aad_for(const char *name, const char *version, char *aad, size_t cap)
{
	int n = snprintf(aad, cap, "/keys/%s/%s", name, version);

	return n > 0 && (size_t)n < cap ? n : CU_ERR_RANGE;
}

/* The name a key is stored under for name in any case (into canon, of
 * CU_VKS_NAME_MAX + 1 bytes), inside a transaction; name itself when no
 * key, live or deleted, has it. *deleted (may be NULL) gets that key's
 * deleted_date (0: live, or no key). Returns 1 when a key has the name,
 * 0 when none does, or CU_ERR_DB. */
static int canon_tx(cu_vks_t *vks, const char *name, char *canon,
                    int64_t *deleted)
{
	sqlite3_stmt *st = NULL;
	int r;

	snprintf(canon, CU_VKS_NAME_MAX + 1, "%s", name);
	if (deleted != NULL)
		*deleted = 0;
	if ((r = cu_db_query(vks->db, &st,
	                     "SELECT name, deleted_date FROM keys WHERE "
	                     "name = ?1 COLLATE NOCASE",
	                     "t", name)) != 0)
		return r;
	if ((r = cu_db_step(st)) == 1) {
		snprintf(canon, CU_VKS_NAME_MAX + 1, "%s",
		         cu_db_col_text(st, 0));
		if (deleted != NULL)
			*deleted = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return r;
}

int cu_vks_create(cu_vks_t *vks, const char *name, const struct cu_vks_new *n,
                  const cu_vko_t *material, struct cu_vks_key *out)
{
	char version[CU_VKS_VERSION_LEN + 1], aad[256];
	char cname[CU_VKS_NAME_MAX + 1];
	cu_vko_t *gen = NULL;
	const cu_vko_t *k = material;
	unsigned char *raw = NULL, *sealed = NULL;
	size_t raw_len = 0, sealed_len = 0;
	json_t *pub = NULL;
	char *pub_s = NULL, *tags_s = NULL;
	int64_t now = now_s(), exists = 0, deleted = 0;
	unsigned ops;
	int r, aad_len, in_tx = 0;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (name == NULL || !cu_vks_name_valid(name, strlen(name)))
		return CU_ERR_INVAL;
	if (n->nbf < 0 || n->exp < 0 || (n->nbf && n->exp && n->nbf > n->exp))
		return CU_ERR_INVAL;
	if (n->tags != NULL && !json_is_object(n->tags))
		return CU_ERR_INVAL;
	if (k == NULL) {
		if ((r = cu_vko_generate(n->kty, n->size, &gen)) != 0)
			return r;
		k = gen;
	}
	ops = n->ops ? n->ops : cu_vks_ops_default(cu_vko_kty(k));
	if ((r = cu_rand_hex(version, CU_VKS_VERSION_LEN / 2)) != 0)
		goto out;
	if ((r = cu_vko_serialize(k, &raw, &raw_len)) != 0)
		goto out;
	sealed_len = raw_len + CU_AEAD_OVERHEAD;
	if ((sealed = malloc(sealed_len)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if ((pub = json_object()) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if ((r = cu_vko_public_jwk(k, pub)) != 0)
		goto out;
	if ((pub_s = json_dumps(pub, JSON_COMPACT)) == NULL ||
	    (n->tags != NULL &&
	     (tags_s = json_dumps(n->tags, JSON_COMPACT)) == NULL)) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if ((r = cu_db_begin(vks->db)) != 0)
		goto out;
	in_tx = 1;
	/* a new version goes under the name as first given, whatever the
	 * case of this request's */
	if ((r = canon_tx(vks, name, cname, &deleted)) < 0)
		goto out;
	exists = r;
	if (deleted) {
		r = CU_ERR_EXISTS;
		goto out;
	}
	/* the material is sealed to the name it is stored under */
	if ((aad_len = aad_for(cname, version, aad, sizeof(aad))) < 0) {
		r = aad_len;
		goto out;
	}
	if ((r = cu_aead_seal(vks->mk, aad, (size_t)aad_len, raw, raw_len,
	                      sealed, sealed_len, &sealed_len)) != 0)
		goto out;
	if (!exists &&
	    (r = cu_db_run(vks->db, NULL,
	                   "INSERT INTO keys(name, created) VALUES(?1, ?2)",
	                   "ti", cname, now)) != 0)
		goto out;
	r = cu_db_run(vks->db, NULL,
	              "INSERT INTO key_versions(name, version, kty, hsm, size, "
	              "ops, enabled, nbf, exp, created, updated, tags, pub, "
	              "sealed) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
	              "?10, ?11, ?12, ?13)",
	              "ttiiiiiiiittb", cname, version, (int64_t)cu_vko_kty(k),
	              (int64_t)(n->hsm != 0), (int64_t)cu_vko_size(k),
	              (int64_t)ops, (int64_t)(n->enabled != 0), n->nbf, n->exp,
	              now, tags_s, pub_s, sealed, sealed_len);
	if (r != 0)
		goto out;
	if ((r = cu_vaudit_event_add(
	         vks->db, exists ? CU_VEV_NEW_VERSION : CU_VEV_CREATED, cname,
	         version, NULL)) != 0)
		goto out;
	if (out != NULL &&
	    (r = read_version_tx(vks, cname, version, 0, out, NULL, NULL)) != 0)
		goto out;
	r = cu_db_commit(vks->db);
	in_tx = 0;
	if (r == 0)
		cu_vks_notify(vks);
out:
	if (in_tx)
		cu_db_rollback(vks->db);
	if (r != 0 && out != NULL)
		cu_vks_key_clear(out);
	cu_secmem_free(raw, raw_len);
	free(sealed);
	free(pub_s);
	free(tags_s);
	json_decref(pub);
	cu_vko_free(gen);
	return r;
}

int cu_vks_get(cu_vks_t *vks, const char *name, const char *version,
               struct cu_vks_key *out)
{
	int r;

	if ((r = cu_db_begin_read(vks->db)) != 0)
		return r;
	r = read_version_tx(vks, name, version, 0, out, NULL, NULL);
	cu_db_rollback(vks->db);
	return r;
}

static int list_query(cu_vks_t *vks, sqlite3_stmt *st, int64_t max,
                      cu_vks_list_fn fn, void *ctx, int *more)
{
	struct cu_vks_settings s;
	int64_t seen = 0;
	int r;

	*more = 0;
	if ((r = settings_tx(vks, &s)) != 0)
		return r;
	while ((r = cu_db_step(st)) == 1) {
		struct cu_vks_key k;
		if (seen == max) {
			*more = 1;
			break;
		}
		if ((r = row_to_key(st, &k)) != 0)
			return r;
		k.settings = s;
		r = fn(ctx, &k);
		cu_vks_key_clear(&k);
		if (r != 0)
			return r;
		seen++;
	}
	return r < 0 ? r : 0;
}

int cu_vks_list(cu_vks_t *vks, const char *name, int64_t skip, int64_t max,
                cu_vks_list_fn fn, void *ctx, int *more)
{
	sqlite3_stmt *st = NULL;
	int r;

	*more = 0;
	if ((r = cu_db_begin_read(vks->db)) != 0)
		return r;
	if (name == NULL) {
		r = cu_db_query(vks->db, &st,
		                KCOLS "WHERE k.deleted_date = 0 AND v.seq = "
		                      "(SELECT MAX(seq) FROM key_versions "
		                      "WHERE name = k.name) ORDER BY k.name "
		                      "LIMIT ?1 OFFSET ?2",
		                "ii", max + 1, skip);
	} else {
		struct cu_vks_key tmp;
		if ((r = read_version_tx(vks, name, NULL, 0, &tmp, NULL,
		                         NULL)) != 0)
			goto out;
		cu_vks_key_clear(&tmp);
		r = cu_db_query(vks->db, &st,
		                KCOLS "WHERE v.name = ?1 COLLATE NOCASE "
		                      "ORDER BY v.seq "
		                      "LIMIT ?2 OFFSET ?3",
		                "tii", name, max + 1, skip);
	}
	if (r == 0)
		r = list_query(vks, st, max, fn, ctx, more);
out:
	sqlite3_finalize(st);
	cu_db_rollback(vks->db);
	return r;
}

int cu_vks_list_deleted(cu_vks_t *vks, int64_t skip, int64_t max,
                        cu_vks_list_fn fn, void *ctx, int *more)
{
	sqlite3_stmt *st = NULL;
	int r;

	*more = 0;
	if ((r = cu_db_begin_read(vks->db)) != 0)
		return r;
	r = cu_db_query(vks->db, &st,
	                KCOLS "WHERE k.deleted_date != 0 AND v.seq = (SELECT "
	                      "MAX(seq) FROM key_versions WHERE name = "
	                      "k.name) ORDER BY k.name LIMIT ?1 OFFSET ?2",
	                "ii", max + 1, skip);
	if (r == 0)
		r = list_query(vks, st, max, fn, ctx, more);
	sqlite3_finalize(st);
	cu_db_rollback(vks->db);
	return r;
}

int cu_vks_update(cu_vks_t *vks, const char *name, const char *version,
                  const struct cu_vks_update *u, struct cu_vks_key *out)
{
	struct cu_vks_key cur;
	char *tags_s = NULL;
	int64_t nbf, exp;
	int r, enabled = 0;
	unsigned ops;

	memset(&cur, 0, sizeof(cur));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (u->tags != NULL && !json_is_object(u->tags))
		return CU_ERR_INVAL;
	if (u->tags != NULL &&
	    (tags_s = json_dumps(u->tags, JSON_COMPACT)) == NULL)
		return CU_ERR_NOMEM;
	if ((r = cu_db_begin(vks->db)) != 0) {
		free(tags_s);
		return r;
	}
	if ((r = read_version_tx(vks, name, version, 0, &cur, NULL, NULL)) != 0)
		goto out;
	enabled = u->has_enabled ? u->enabled != 0 : cur.enabled;
	nbf = u->has_nbf ? u->nbf : cur.nbf;
	exp = u->has_exp ? u->exp : cur.exp;
	ops = u->has_ops ? u->ops : cur.ops;
	if (nbf < 0 || exp < 0 || (nbf && exp && nbf > exp)) {
		r = CU_ERR_INVAL;
		goto out;
	}
	r = cu_db_run(
	    vks->db, NULL,
	    "UPDATE key_versions SET enabled = ?1, nbf = ?2, exp = "
	    "?3, ops = ?4, tags = CASE WHEN ?5 THEN ?6 ELSE tags END, "
	    "updated = ?7, expiry_notified = CASE WHEN exp = ?3 THEN "
	    "expiry_notified ELSE 0 END WHERE name = ?8 AND version = "
	    "?9",
	    "iiiiititt", (int64_t)enabled, nbf, exp, (int64_t)ops,
	    (int64_t)(u->tags != NULL), tags_s, now_s(), cur.name, cur.version);
	if (r != 0)
		goto out;
	if (enabled != cur.enabled &&
	    (r = cu_vaudit_event_add(vks->db,
	                             enabled ? CU_VEV_ENABLED : CU_VEV_DISABLED,
	                             cur.name, cur.version, NULL)) != 0)
		goto out;
	if (out != NULL && (r = read_version_tx(vks, cur.name, cur.version, 0,
	                                        out, NULL, NULL)) != 0)
		goto out;
out:
	free(tags_s);
	if (r != 0) {
		cu_db_rollback(vks->db);
		if (out != NULL)
			cu_vks_key_clear(out);
	} else if ((r = cu_db_commit(vks->db)) == 0) {
		if (enabled != cur.enabled)
			cu_vks_notify(vks);
	} else if (out != NULL) {
		cu_vks_key_clear(out);
	}
	cu_vks_key_clear(&cur);
	return r;
}

/* Run body(vks, name as stored, out) in a write transaction, commit,
 * notify. */
static int write_tx(cu_vks_t *vks, const char *name, struct cu_vks_key *out,
                    int (*body)(cu_vks_t *, const char *, struct cu_vks_key *))
{
	char canon[CU_VKS_NAME_MAX + 1];
	struct cu_vks_key tmp;
	int r;

	if (out == NULL)
		out = &tmp;
	memset(out, 0, sizeof(*out));
	if (name == NULL || !cu_vks_name_valid(name, strlen(name)))
		return CU_ERR_NOTFOUND;
	if ((r = cu_db_begin(vks->db)) != 0)
		return r;
	if ((r = canon_tx(vks, name, canon, NULL)) < 0 ||
	    (r = body(vks, canon, out)) != 0) {
		cu_db_rollback(vks->db);
	} else if ((r = cu_db_commit(vks->db)) == 0) {
		cu_vks_notify(vks);
	}
	if (r != 0 || out == &tmp)
		cu_vks_key_clear(out);
	return r;
}

static int delete_body(cu_vks_t *vks, const char *name, struct cu_vks_key *out)
{
	struct cu_vks_settings s;
	int64_t now = now_s();
	int r, changes = 0;

	if ((r = settings_tx(vks, &s)) != 0)
		return r;
	r = cu_db_run(vks->db, &changes,
	              "UPDATE keys SET deleted_date = ?1, scheduled_purge = ?2 "
	              "WHERE name = ?3 AND deleted_date = 0",
	              "iit", now, now + (int64_t)s.retention_days * 86400,
	              name);
	if (r != 0)
		return r;
	if (changes == 0)
		return CU_ERR_NOTFOUND;
	if ((r = cu_vaudit_event_add(vks->db, CU_VEV_DELETED, name, NULL,
	                             NULL)) != 0)
		return r;
	return read_version_tx(vks, name, NULL, 1, out, NULL, NULL);
}

int cu_vks_delete(cu_vks_t *vks, const char *name, struct cu_vks_key *out)
{
	int r = write_tx(vks, name, out, delete_body);

	/* a deleted key is never used: keep none of it in memory */
	if (r == 0)
		cu_vkc_drop(vks->cache, name);
	return r;
}

int cu_vks_get_deleted(cu_vks_t *vks, const char *name, struct cu_vks_key *out)
{
	int r;

	if ((r = cu_db_begin_read(vks->db)) != 0)
		return r;
	r = read_version_tx(vks, name, NULL, 1, out, NULL, NULL);
	cu_db_rollback(vks->db);
	return r;
}

static int recover_body(cu_vks_t *vks, const char *name, struct cu_vks_key *out)
{
	int r, changes = 0;

	r = cu_db_run(vks->db, &changes,
	              "UPDATE keys SET deleted_date = 0, scheduled_purge = 0 "
	              "WHERE name = ?1 AND deleted_date != 0",
	              "t", name);
	if (r != 0)
		return r;
	if (changes == 0)
		return CU_ERR_NOTFOUND;
	if ((r = cu_vaudit_event_add(vks->db, CU_VEV_RECOVERED, name, NULL,
	                             NULL)) != 0)
		return r;
	return read_version_tx(vks, name, NULL, 0, out, NULL, NULL);
}

int cu_vks_recover(cu_vks_t *vks, const char *name, struct cu_vks_key *out)
{
	return write_tx(vks, name, out, recover_body);
}

static int purge_body(cu_vks_t *vks, const char *name, struct cu_vks_key *out)
{
	struct cu_vks_settings s;
	int r, changes = 0;

	if ((r = read_version_tx(vks, name, NULL, 1, out, NULL, NULL)) != 0)
		return r;
	if ((r = settings_tx(vks, &s)) != 0)
		return r;
	if (s.purge_protection)
		return CU_ERR_DENIED;
	r = cu_db_run(vks->db, &changes,
	              "DELETE FROM keys WHERE name = ?1 AND deleted_date != 0",
	              "t", name);
	if (r != 0)
		return r;
	return cu_vaudit_event_add(vks->db, CU_VEV_PURGED, name, NULL, NULL);
}

int cu_vks_purge(cu_vks_t *vks, const char *name)
{
	int r = write_tx(vks, name, NULL, purge_body);

	if (r == 0)
		cu_vkc_drop(vks->cache, name);
	return r;
}

int cu_vks_purge_due(cu_vks_t *vks, int64_t now, int *count)
{
	sqlite3_stmt *st = NULL;
	int r, n = 0;

	if (count != NULL)
		*count = 0;
	if ((r = cu_db_begin(vks->db)) != 0)
		return r;
	if ((r = cu_db_query(vks->db, &st,
	                     "SELECT name FROM keys WHERE deleted_date != 0 "
	                     "AND scheduled_purge <= ?1",
	                     "i", now)) != 0)
		goto out;
	while ((r = cu_db_step(st)) == 1) {
		if ((r = cu_vaudit_event_add(vks->db, CU_VEV_PURGED,
		                             cu_db_col_text(st, 0), NULL,
		                             "scheduled purge")) != 0)
			goto out;
		n++;
	}
	if (r < 0)
		goto out;
	sqlite3_finalize(st);
	st = NULL;
	r = cu_db_run(vks->db, NULL,
	              "DELETE FROM keys WHERE deleted_date != 0 AND "
	              "scheduled_purge <= ?1",
	              "i", now);
out:
	sqlite3_finalize(st);
	if (r != 0) {
		cu_db_rollback(vks->db);
		return r;
	}
	if ((r = cu_db_commit(vks->db)) == 0) {
		if (count != NULL)
			*count = n;
		if (n > 0) {
			cu_vkc_drop(vks->cache, NULL);
			cu_vks_notify(vks);
		}
	}
	return r;
}

/* The use path reads only what an operation needs, in one statement on
 * a pooled read connection: no tags or public key to parse. */
#define USE_COLS                                                               \
	"SELECT v.name, v.version, v.kty, v.hsm, v.size, v.ops, v.enabled, "   \
	"v.nbf, v.exp, v.created, v.updated, s.retention_days, "               \
	"s.purge_protection, v.sealed FROM key_versions v JOIN keys k ON "     \
	"k.name = v.name JOIN settings s ON s.id = 1 WHERE v.name = ?1 "       \
	"COLLATE NOCASE AND "                                                  \
	"k.deleted_date = 0 "

static void use_row(sqlite3_stmt *st, struct cu_vks_key *m)
{
	version_cols(st, m);
	m->settings.retention_days = sqlite3_column_int(st, 11);
	m->settings.purge_protection = sqlite3_column_int(st, 12);
}

/* Unseal `sealed` of m's version and build its key into *key. */
static int unseal(cu_vks_t *vks, const struct cu_vks_key *m,
                  const unsigned char *sealed, size_t sealed_len,
                  cu_vko_t **key)
{
	unsigned char *raw = NULL;
	size_t raw_cap, raw_len = 0;
	char aad[256];
	int r, aad_len;

	if ((aad_len = aad_for(m->name, m->version, aad, sizeof(aad))) < 0 ||
	    sealed == NULL || sealed_len < CU_AEAD_OVERHEAD)
		return CU_ERR_AUTH;
	raw_cap = sealed_len - CU_AEAD_OVERHEAD;
	if ((raw = cu_secmem_alloc(raw_cap ? raw_cap : 1)) == NULL)
		return CU_ERR_NOMEM;
	if ((r = cu_aead_open(vks->mk, aad, (size_t)aad_len, sealed, sealed_len,
	                      raw, raw_cap, &raw_len)) != 0) {
		cu_logf(CU_LOG_ERROR,
		        "sealed material of %s/%s does not open: tampered "
		        "database or wrong master key",
		        m->name, m->version);
		r = CU_ERR_AUTH;
		goto out;
	}
	r = cu_vko_load(m->kty, raw, raw_len, key);
out:
	cu_secmem_free(raw, raw_cap ? raw_cap : 1);
	return r;
}

/* What the memo keeps of a version's row for cu_vks_use: its attributes
 * (no tags, no public key) and the digest of its sealed material, by
 * which the key cache finds the loaded key. */
struct use_memo {
	struct cu_vks_key m;
	unsigned char sealed_sha[CU_SHA256_LEN];
};
_Static_assert(sizeof(struct use_memo) <= CU_MEMO_VAL_MAX,
               "a key version's row fits a memo entry");

/* The memo's key for name/version ("" for the latest): 'U', name, NUL,
 * version. Returns its length, 0 when it does not fit. */
static size_t use_key(const char *name, const char *version,
                      char buf[CU_MEMO_KEY_MAX])
{
	int n = snprintf(buf, CU_MEMO_KEY_MAX, "U%s%c%s", name, '\0', version);

	return n > 0 && n < CU_MEMO_KEY_MAX ? (size_t)n : 0;
}

/* Whether m's state lets `op` run now. */
static int use_allowed(const struct cu_vks_key *m, unsigned op, int64_t now,
                       const char **why)
{
	if (!m->enabled) {
		*why = "the key is disabled";
		return CU_ERR_STATE;
	}
	if (m->nbf != 0 && now < m->nbf) {
		*why = "the key is not yet valid (nbf)";
		return CU_ERR_STATE;
	}
	if (m->exp != 0 && now >= m->exp) {
		*why = "the key has expired (exp)";
		return CU_ERR_STATE;
	}
	if (!(m->ops & op)) {
		*why = "the key's key_ops do not permit this operation";
		return CU_ERR_DENIED;
	}
	return 0;
}

/* Where use_read's row goes: the attributes and the digest into um, a
 * copy of the sealed material (ciphertext) into *sealed. */
struct use_out {
	struct use_memo *um;
	unsigned char *sealed;
	size_t sealed_len;
};

static int use_out_row(sqlite3_stmt *st, void *arg)
{
	struct use_out *u = arg;
	const void *p = sqlite3_column_blob(st, 13);
	int n = sqlite3_column_bytes(st, 13);

	use_row(st, &u->um->m);
	if (p == NULL || n <= 0)
		return CU_ERR_AUTH; /* nothing to unseal */
	if ((u->sealed = malloc((size_t)n)) == NULL)
		return CU_ERR_NOMEM;
	memcpy(u->sealed, p, (size_t)n);
	u->sealed_len = (size_t)n;
	return cu_sha256(u->sealed, u->sealed_len, u->um->sealed_sha);
}

/* Read the row of name/version (NULL or "": the latest) into um, the
 * loaded key into *key when the state allows op. Returns as cu_vks_use. */
static int use_read(cu_vks_t *vks, const char *name, const char *version,
                    unsigned op, int64_t now, struct use_memo *um,
                    cu_vko_t **key, const char **why)
{
	struct use_out u = {um, NULL, 0};
	int r;

	if (version == NULL || version[0] == '\0')
		r = cu_db_read_row(vks->db, use_out_row, &u,
		                   USE_COLS "ORDER BY v.seq DESC LIMIT 1", "t",
		                   name);
	else
		r = cu_db_read_row(vks->db, use_out_row, &u,
		                   USE_COLS "AND v.version = ?2", "tt", name,
		                   version);
	if (r != 0 || (r = use_allowed(&um->m, op, now, why)) != 0)
		goto out;
	if ((r = cu_vkc_get(vks->cache, um->m.name, um->m.version,
	                    um->sealed_sha, key)) != CU_ERR_NOTFOUND)
		goto out;
	if ((r = unseal(vks, &um->m, u.sealed, u.sealed_len, key)) != 0)
		goto out;
	/* failing to cache only costs the next operation a load */
	(void)cu_vkc_put(vks->cache, um->m.name, um->m.version, um->sealed_sha,
	                 *key);
out:
	free(u.sealed);
	return r;
}

int cu_vks_use(cu_vks_t *vks, const char *name, const char *version,
               unsigned op, int64_t now, cu_vko_t **key,
               struct cu_vks_key *meta, const char **why)
{
	struct use_memo um;
	char mkey[CU_MEMO_KEY_MAX];
	const char *dummy;
	size_t mlen = 0, vlen = 0;
	uint64_t gen;
	int r;

	*key = NULL;
	memset(&um, 0, sizeof(um));
	if (why == NULL)
		why = &dummy;
	*why = "";
	if (version == NULL)
		version = "";
	if (name == NULL ||
	    (version[0] != '\0' && !cu_vks_version_valid(version)))
		return CU_ERR_NOTFOUND;
	/* the count before the read: see memo.h */
	gen = cu_db_commits(vks->db);
	mlen = use_key(name, version, mkey);
	if (mlen != 0 &&
	    cu_memo_get(vks->memo, mkey, mlen, gen, &um, sizeof(um), &vlen) ==
	        0 &&
	    vlen == sizeof(um)) {
		/* the row as committed now: nothing was committed since it
		 * was read */
		r = use_allowed(&um.m, op, now, why);
		if (r == 0 && cu_vkc_get(vks->cache, um.m.name, um.m.version,
		                         um.sealed_sha, key) != 0)
			r = use_read(vks, name, version, op, now, &um, key,
			             why);
	} else {
		memset(&um, 0, sizeof(um));
		r = use_read(vks, name, version, op, now, &um, key, why);
		if (mlen != 0 &&
		    (r == 0 || r == CU_ERR_STATE || r == CU_ERR_DENIED))
			(void)cu_memo_put(vks->memo, mkey, mlen, gen, &um,
			                  sizeof(um));
	}
	if (r != 0) {
		cu_vko_free(*key);
		*key = NULL;
	}
	if ((r == 0 || r == CU_ERR_STATE || r == CU_ERR_DENIED) && meta != NULL)
		*meta = um.m;
	else
		cu_vks_key_clear(&um.m);
	return r;
}

#define BACKUP_AAD "custos-vault-key-backup-v1"

int cu_vks_backup(cu_vks_t *vks, const char *name, unsigned char **blob,
                  size_t *len)
{
	sqlite3_stmt *st = NULL;
	json_t *doc = NULL, *vers = NULL;
	char *text = NULL, *b64 = NULL;
	size_t tlen, cap;
	int r;

	*blob = NULL;
	*len = 0;
	if ((r = cu_db_begin_read(vks->db)) != 0)
		return r;
	if ((r = cu_db_query(vks->db, &st,
	                     "SELECT v.version, v.kty, v.hsm, v.size, v.ops, "
	                     "v.enabled, v.nbf, v.exp, v.created, v.updated, "
	                     "v.tags, v.pub, v.sealed, k.created, k.policy, "
	                     "k.name FROM key_versions v JOIN keys k ON "
	                     "k.name = v.name WHERE v.name = ?1 COLLATE "
	                     "NOCASE AND k.deleted_date = 0 "
	                     "ORDER BY v.seq",
	                     "t", name)) != 0)
		goto out;
	if ((vers = json_array()) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	while ((r = cu_db_step(st)) == 1) {
		json_t *v;
		if (doc == NULL &&
		    (doc = json_pack("{s:i,s:s,s:I,s:s}", "v", 1, "name",
		                     cu_db_col_text(st, 15), "created",
		                     (json_int_t)sqlite3_column_int64(st, 13),
		                     "policy", cu_db_col_text(st, 14))) ==
		        NULL) {
			r = CU_ERR_NOMEM;
			goto out;
		}
		if ((r = cu_b64url_encode_alloc(
		         sqlite3_column_blob(st, 12),
		         (size_t)sqlite3_column_bytes(st, 12), &b64)) != 0)
			goto out;
		v = json_pack(
		    "{s:s,s:i,s:i,s:i,s:i,s:i,s:I,s:I,s:I,s:I,s:s,s:"
		    "s,s:s}",
		    "version", cu_db_col_text(st, 0), "kty",
		    sqlite3_column_int(st, 1), "hsm", sqlite3_column_int(st, 2),
		    "size", sqlite3_column_int(st, 3), "ops",
		    sqlite3_column_int(st, 4), "enabled",
		    sqlite3_column_int(st, 5), "nbf",
		    (json_int_t)sqlite3_column_int64(st, 6), "exp",
		    (json_int_t)sqlite3_column_int64(st, 7), "created",
		    (json_int_t)sqlite3_column_int64(st, 8), "updated",
		    (json_int_t)sqlite3_column_int64(st, 9), "tags",
		    cu_db_col_text(st, 10), "pub", cu_db_col_text(st, 11),
		    "sealed", b64);
		free(b64);
		b64 = NULL;
		if (v == NULL || json_array_append_new(vers, v) != 0) {
			r = CU_ERR_NOMEM;
			goto out;
		}
	}
	if (r < 0)
		goto out;
	if (doc == NULL) {
		r = CU_ERR_NOTFOUND;
		goto out;
	}
	if (json_object_set(doc, "versions", vers) != 0 ||
	    (text = json_dumps(doc, JSON_COMPACT)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	tlen = strlen(text);
	cap = tlen + CU_AEAD_OVERHEAD;
	if ((*blob = malloc(cap)) == NULL) {
		r = CU_ERR_NOMEM;
		goto out;
	}
	if ((r = cu_aead_seal(vks->mk, BACKUP_AAD, strlen(BACKUP_AAD), text,
	                      tlen, *blob, cap, len)) != 0) {
		free(*blob);
		*blob = NULL;
	}
out:
	sqlite3_finalize(st);
	cu_db_rollback(vks->db);
	free(text);
	free(b64);
	json_decref(doc);
	json_decref(vers);
	return r;
}

#define BACKUP_MAX (4 * 1024 * 1024)

static int restore_version(cu_vks_t *vks, const char *name, json_t *v)
{
	json_int_t kty, hsm, size, ops, enabled, nbf, exp, created, updated;
	const char *version, *tags, *pub, *sealed_b64;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	int r;

	if (json_unpack(v,
	                "{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:s,"
	                "s:s}",
	                "version", &version, "kty", &kty, "hsm", &hsm, "size",
	                &size, "ops", &ops, "enabled", &enabled, "nbf", &nbf,
	                "exp", &exp, "created", &created, "updated", &updated,
	                "tags", &tags, "pub", &pub, "sealed",
	                &sealed_b64) != 0 ||
	    !cu_vks_version_valid(version))
		return CU_ERR_PARSE;
	if ((r = cu_b64url_decode_alloc(sealed_b64, strlen(sealed_b64),
	                                BACKUP_MAX, &sealed, &sealed_len)) != 0)
		return CU_ERR_PARSE;
	r = cu_db_run(vks->db, NULL,
	              "INSERT INTO key_versions(name, version, kty, hsm, size, "
	              "ops, enabled, nbf, exp, created, updated, tags, pub, "
	              "sealed) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
	              "?11, ?12, ?13, ?14)",
	              "ttiiiiiiiiittb", name, version, (int64_t)kty,
	              (int64_t)hsm, (int64_t)size, (int64_t)ops,
	              (int64_t)enabled, (int64_t)nbf, (int64_t)exp,
	              (int64_t)created, (int64_t)updated, tags[0] ? tags : NULL,
	              pub, sealed, sealed_len);
	free(sealed);
	return r;
}

int cu_vks_restore(cu_vks_t *vks, const unsigned char *blob, size_t len,
                   struct cu_vks_key *out)
{
	char *text = NULL;
	size_t tlen = 0;
	json_t *doc = NULL, *vers, *v;
	const char *name = NULL, *policy = "";
	json_int_t created = 0, ver = 0;
	char taken[CU_VKS_NAME_MAX + 1] = "";
	int64_t taken_deleted = 0;
	size_t i;
	int r, in_tx = 0;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (len < CU_AEAD_OVERHEAD || len > BACKUP_MAX)
		return CU_ERR_PARSE;
	if ((text = malloc(len - CU_AEAD_OVERHEAD + 1)) == NULL)
		return CU_ERR_NOMEM;
	if ((r = cu_aead_open(vks->mk, BACKUP_AAD, strlen(BACKUP_AAD), blob,
	                      len, (unsigned char *)text, len, &tlen)) != 0) {
		r = r == CU_ERR_NOMEM ? r : CU_ERR_AUTH;
		goto out;
	}
	text[tlen] = '\0';
	if ((doc = json_loadb(text, tlen, JSON_REJECT_DUPLICATES, NULL)) ==
	        NULL ||
	    json_unpack(doc, "{s:I,s:s,s:I,s:s,s:o}", "v", &ver, "name", &name,
	                "created", &created, "policy", &policy, "versions",
	                &vers) != 0 ||
	    ver != 1 || !json_is_array(vers) || json_array_size(vers) == 0 ||
	    !cu_vks_name_valid(name, strlen(name))) {
		r = CU_ERR_PARSE;
		goto out;
	}
	if ((r = cu_db_begin(vks->db)) != 0)
		goto out;
	in_tx = 1;
	/* a name taken, live or deleted, is refused; the caller learns by
	 * whom (Azure answers each case differently) */
	if ((r = canon_tx(vks, name, taken, &taken_deleted)) != 0) {
		r = r == 1 ? CU_ERR_EXISTS : r;
		goto out;
	}
	if ((r = cu_db_run(vks->db, NULL,
	                   "INSERT INTO keys(name, created, policy) "
	                   "VALUES(?1, ?2, ?3)",
	                   "tit", name, (int64_t)created,
	                   policy[0] ? policy : NULL)) != 0)
		goto out;
	json_array_foreach(vers, i, v)
	{
		if ((r = restore_version(vks, name, v)) != 0)
			goto out;
	}
	if ((r = cu_vaudit_event_add(vks->db, CU_VEV_CREATED, name, NULL,
	                             "restored from backup")) != 0)
		goto out;
	if (out != NULL &&
	    (r = read_version_tx(vks, name, NULL, 0, out, NULL, NULL)) != 0)
		goto out;
	in_tx = 0;
	if ((r = cu_db_commit(vks->db)) == 0)
		cu_vks_notify(vks);
out:
	if (in_tx)
		cu_db_rollback(vks->db);
	if (r != 0 && out != NULL) {
		cu_vks_key_clear(out);
		if (r == CU_ERR_EXISTS) {
			snprintf(out->name, sizeof(out->name), "%s", taken);
			out->deleted_date = taken_deleted;
		}
	}
	json_decref(doc);
	if (text != NULL)
		cu_memzero(text, len - CU_AEAD_OVERHEAD + 1);
	free(text);
	return r;
}

int cu_vks_policy_get(cu_vks_t *vks, const char *name, json_t **policy)
{
	sqlite3_stmt *st = NULL;
	int r;

	*policy = NULL;
	if ((r = cu_db_begin_read(vks->db)) != 0)
		return r;
	if ((r = cu_db_query(vks->db, &st,
	                     "SELECT policy FROM keys WHERE name = ?1 "
	                     "COLLATE NOCASE AND "
	                     "deleted_date = 0",
	                     "t", name)) != 0)
		goto out;
	if ((r = cu_db_step(st)) == 0)
		r = CU_ERR_NOTFOUND;
	if (r != 1)
		goto out;
	r = 0;
	if (sqlite3_column_type(st, 0) != SQLITE_NULL &&
	    (*policy = json_loads(cu_db_col_text(st, 0), 0, NULL)) == NULL)
		r = CU_ERR_DB;
out:
	sqlite3_finalize(st);
	cu_db_rollback(vks->db);
	return r;
}

int cu_vks_policy_set(cu_vks_t *vks, const char *name, const json_t *policy)
{
	char *text = json_dumps(policy, JSON_COMPACT);
	int r, changes = 0;

	if (text == NULL)
		return CU_ERR_NOMEM;
	if ((r = cu_db_begin(vks->db)) != 0) {
		free(text);
		return r;
	}
	r = cu_db_run(vks->db, &changes,
	              "UPDATE keys SET policy = ?1 WHERE name = ?2 "
	              "COLLATE NOCASE AND "
	              "deleted_date = 0",
	              "tt", text, name);
	free(text);
	if (r == 0 && changes == 0)
		r = CU_ERR_NOTFOUND;
	if (r != 0) {
		cu_db_rollback(vks->db);
		return r;
	}
	return cu_db_commit(vks->db);
}

int cu_vks_check_expiry(cu_vks_t *vks, int64_t now, int64_t window, int *count)
{
	sqlite3_stmt *st = NULL;
	int r, n = 0;

	if (count != NULL)
		*count = 0;
	if ((r = cu_db_begin(vks->db)) != 0)
		return r;
	if ((r = cu_db_query(vks->db, &st,
	                     "SELECT v.name, v.version FROM key_versions v "
	                     "JOIN keys k ON k.name = v.name WHERE "
	                     "k.deleted_date = 0 AND v.exp != 0 AND v.exp <= "
	                     "?1 AND v.expiry_notified = 0",
	                     "i", now + window)) != 0)
		goto out;
	while ((r = cu_db_step(st)) == 1) {
		if ((r = cu_vaudit_event_add(vks->db, CU_VEV_NEAR_EXPIRY,
		                             cu_db_col_text(st, 0),
		                             cu_db_col_text(st, 1), NULL)) != 0)
			goto out;
		n++;
	}
	if (r < 0)
		goto out;
	sqlite3_finalize(st);
	st = NULL;
	/* only the versions just told of: a deleted key's are told of
	 * when it is recovered, not passed over in silence */
	r = cu_db_run(vks->db, NULL,
	              "UPDATE key_versions SET expiry_notified = 1 WHERE exp "
	              "!= 0 AND exp <= ?1 AND expiry_notified = 0 AND name "
	              "IN (SELECT name FROM keys WHERE deleted_date = 0)",
	              "i", now + window);
out:
	sqlite3_finalize(st);
	if (r != 0) {
		cu_db_rollback(vks->db);
		return r;
	}
	if ((r = cu_db_commit(vks->db)) == 0) {
		if (count != NULL)
			*count = n;
		if (n > 0)
			cu_vks_notify(vks);
	}
	return r;
}

void cu_vks_notify(cu_vks_t *vks)
{
	pthread_mutex_lock(&vks->ev_mu);
	vks->ev_gen++;
	pthread_cond_broadcast(&vks->ev_cv);
	pthread_mutex_unlock(&vks->ev_mu);
}

void cu_vks_stop_waits(cu_vks_t *vks)
{
	pthread_mutex_lock(&vks->ev_mu);
	vks->ev_stopping = 1;
	pthread_cond_broadcast(&vks->ev_cv);
	pthread_mutex_unlock(&vks->ev_mu);
}

int cu_vks_stopping(cu_vks_t *vks)
{
	int r;

	pthread_mutex_lock(&vks->ev_mu);
	r = vks->ev_stopping;
	pthread_mutex_unlock(&vks->ev_mu);
	return r;
}

int cu_vks_wait(cu_vks_t *vks, int64_t since, int timeout_ms)
{
	struct timespec until;
	uint64_t gen;
	int64_t last = 0;
	int woke = 0;

	pthread_mutex_lock(&vks->ev_mu);
	gen = vks->ev_gen;
	pthread_mutex_unlock(&vks->ev_mu);
	if (cu_vaudit_events_last(vks->db, &last) == 0 && last > since)
		return 1;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&vks->ev_mu);
	while (vks->ev_gen == gen && !vks->ev_stopping) {
		if (pthread_cond_timedwait(&vks->ev_cv, &vks->ev_mu, &until) !=
		    0)
			break;
	}
	woke = vks->ev_gen != gen;
	pthread_mutex_unlock(&vks->ev_mu);
	return woke;
}

int cu_vks_duration(const char *s, int64_t *secs)
{
	int64_t n = 0, unit;
	size_t i = 1;

	*secs = 0;
	if (s == NULL || s[0] != 'P' || s[1] < '0' || s[1] > '9')
		return CU_ERR_PARSE;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		if (n > 100000)
			return CU_ERR_PARSE;
		n = n * 10 + (s[i] - '0');
	}
	switch (s[i]) {
	case 'D':
		unit = 86400;
		break;
	case 'W':
		unit = 7 * 86400;
		break;
	case 'M':
		unit = 30 * 86400;
		break;
	case 'Y':
		unit = 365 * 86400;
		break;
	default:
		return CU_ERR_PARSE;
	}
	if (s[i + 1] != '\0')
		return CU_ERR_PARSE;
	*secs = n * unit;
	return 0;
}

int cu_vks_rotate(cu_vks_t *vks, const char *name, struct cu_vks_key *out)
{
	struct cu_vks_key cur;
	struct cu_vks_new n = {.enabled = 1};
	json_t *policy = NULL;
	int64_t life = 0;
	int r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if ((r = cu_vks_get(vks, name, NULL, &cur)) != 0)
		return r;
	if ((r = cu_vks_policy_get(vks, name, &policy)) != 0)
		goto out;
	if (cu_vks_duration(
	        json_string_value(json_object_get(
	            json_object_get(policy, "attributes"), "expiryTime")),
	        &life) == 0 &&
	    life > 0)
		n.exp = now_s() + life;
	n.kty = cur.kty;
	n.hsm = cur.hsm;
	n.size = cur.size;
	n.ops = cur.ops;
	n.tags = cur.tags;
	r = cu_vks_create(vks, name, &n, NULL, out);
out:
	json_decref(policy);
	cu_vks_key_clear(&cur);
	return r;
}

/* A duration member of obj in seconds; 0 when absent or not one. */
static int64_t duration_of(const json_t *obj, const char *name)
{
	int64_t d = 0;

	if (cu_vks_duration(json_string_value(json_object_get(obj, name)),
	                    &d) != 0)
		return 0;
	return d;
}

/* Whether lifetime action a rotates; its triggers' durations in seconds
 * (0: that trigger is not set) into *after and *before. */
static int rotate_action(const json_t *a, int64_t *after, int64_t *before)
{
	const json_t *t = json_object_get(a, "trigger");
	const char *type = json_string_value(
	    json_object_get(json_object_get(a, "action"), "type"));

	*after = duration_of(t, "timeAfterCreate");
	*before = duration_of(t, "timeBeforeExpiry");
	return type != NULL && strcasecmp(type, "Rotate") == 0;
}

int cu_vks_policy_floors(const json_t *policy, const char **why)
{
	const json_t *acts = json_object_get(policy, "lifetimeActions"), *a;
	const json_t *attrs = json_object_get(policy, "attributes");
	const json_t *exp = json_object_get(attrs, "expiryTime");
	int64_t life = duration_of(attrs, "expiryTime"), before_max = 0;
	const char *w = NULL;
	size_t i;

	json_array_foreach(acts, i, a)
	{
		int64_t after, before;

		if (!rotate_action(a, &after, &before))
			continue;
		if (after + before < CU_VKS_ROTATE_MIN_S)
			w = "a Rotate action's timeAfterCreate or "
			    "timeBeforeExpiry must be at least 7 days (P7D)";
		if (before > before_max)
			before_max = before;
	}
	if (w == NULL && exp != NULL && !json_is_null(exp) &&
	    life < CU_VKS_EXPIRY_MIN_S)
		w = "'attributes.expiryTime' must be an ISO 8601 duration of "
		    "at least 28 days, like P90D";
	/* the version a rotation makes expires expiryTime after it, so a
	 * timeBeforeExpiry that is not 7 days shorter makes it due at once */
	if (w == NULL && before_max > 0 && life > 0 &&
	    life - before_max < CU_VKS_ROTATE_MIN_S)
		w = "a Rotate action's timeBeforeExpiry must be at least 7 "
		    "days (P7D) shorter than 'attributes.expiryTime'";
	if (why != NULL)
		*why = w;
	return w == NULL ? 0 : CU_ERR_RANGE;
}

/* Whether a policy (JSON) asks for a rotation now. */
static int rotation_due(const json_t *policy, int64_t created, int64_t exp,
                        int64_t now)
{
	const json_t *acts = json_object_get(policy, "lifetimeActions"), *a;
	size_t i;

	if (cu_vks_policy_floors(policy, NULL) != 0)
		return 0;
	json_array_foreach(acts, i, a)
	{
		int64_t after, before;

		if (!rotate_action(a, &after, &before))
			continue;
		if (after > 0 && now >= created + after)
			return 1;
		if (before > 0 && exp != 0 && now >= exp - before)
			return 1;
	}
	return 0;
}

int cu_vks_rotate_due(cu_vks_t *vks, int64_t now, int *count)
{
	sqlite3_stmt *st = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r;

	if (count != NULL)
		*count = 0;
	if ((r = cu_db_begin_read(vks->db)) != 0)
		return r;
	if ((r = cu_db_query(vks->db, &st,
	                     "SELECT k.name, k.policy, v.created, v.exp FROM "
	                     "keys k JOIN key_versions v ON v.seq = (SELECT "
	                     "MAX(seq) FROM key_versions WHERE name = k.name) "
	                     "WHERE k.deleted_date = 0 AND k.policy IS NOT "
	                     "NULL",
	                     "")) != 0)
		goto out;
	while ((r = cu_db_step(st)) == 1) {
		json_t *p = json_loads(cu_db_col_text(st, 1), 0, NULL);
		int due =
		    p != NULL && rotation_due(p, sqlite3_column_int64(st, 2),
		                              sqlite3_column_int64(st, 3), now);
		json_decref(p);
		if (!due)
			continue;
		if (n == cap) {
			char **g = realloc(names, (cap ? 2 * cap : 8) *
			                              sizeof(*names));
			if (g == NULL) {
				r = CU_ERR_NOMEM;
				goto out;
			}
			names = g;
			cap = cap ? 2 * cap : 8;
		}
		if ((names[n] = strdup(cu_db_col_text(st, 0))) == NULL) {
			r = CU_ERR_NOMEM;
			goto out;
		}
		n++;
	}
out:
	sqlite3_finalize(st);
	cu_db_rollback(vks->db);
	/* generate outside the read transaction: RSA keys take a while */
	for (size_t i = 0; i < n; i++) {
		int rr = r < 0 ? r : cu_vks_rotate(vks, names[i], NULL);
		if (rr == 0 && count != NULL)
			(*count)++;
		if (rr != 0 && r >= 0)
			r = rr;
		free(names[i]);
	}
	free(names);
	return r < 0 ? r : 0;
}

#include "vault/rbac.h"
#include "core/b64.h"
#include "core/crypto/hash.h"
#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secmem.h"
#include "vault/audit.h"
#include "core/memo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ALL_KEY_PERMS                                                          \
	(CU_VPERM_READ | CU_VPERM_READ_POLICY | CU_VPERM_CREATE |              \
	 CU_VPERM_IMPORT | CU_VPERM_UPDATE | CU_VPERM_DELETE |                 \
	 CU_VPERM_RECOVER | CU_VPERM_PURGE | CU_VPERM_BACKUP |                 \
	 CU_VPERM_RESTORE | CU_VPERM_ROTATE | CU_VPERM_ENCRYPT |               \
	 CU_VPERM_DECRYPT | CU_VPERM_WRAP | CU_VPERM_UNWRAP | CU_VPERM_SIGN |  \
	 CU_VPERM_VERIFY)

/* Azure's built-in roles, as their data actions define them: Crypto
 * Officer every keys/ and keyrotationpolicies/ action; Crypto User
 * keys/read, update, backup, encrypt, decrypt, wrap, unwrap, sign, verify;
 * Crypto Service Encryption User keys/read, wrap, unwrap; Reader every
 * read, which for keys is keys/read and keyrotationpolicies/read. Deleted
 * keys have no data action of their own in a vault: keys/read covers
 * them. */
static const struct {
	const char *name;
	unsigned perms;
} roles[] = {
    {CU_VROLE_ADMIN, ALL_KEY_PERMS | CU_VPERM_ADMIN},
    {CU_VROLE_OFFICER, ALL_KEY_PERMS},
    {CU_VROLE_USER, CU_VPERM_READ | CU_VPERM_UPDATE | CU_VPERM_BACKUP |
                        CU_VPERM_ENCRYPT | CU_VPERM_DECRYPT | CU_VPERM_WRAP |
                        CU_VPERM_UNWRAP | CU_VPERM_SIGN | CU_VPERM_VERIFY},
    {CU_VROLE_SVC_USER, CU_VPERM_READ | CU_VPERM_WRAP | CU_VPERM_UNWRAP},
    {CU_VROLE_READER, CU_VPERM_READ | CU_VPERM_READ_POLICY},
};

unsigned cu_vrbac_role_perms(const char *role)
{
	for (size_t i = 0; role != NULL && i < sizeof(roles) / sizeof(roles[0]);
	     i++)
		if (strcmp(role, roles[i].name) == 0)
			return roles[i].perms;
	return 0;
}

int cu_vrbac_name_valid(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > CU_VRBAC_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '-' || c == '_' ||
		      c == '.'))
			return 0;
	}
	return 1;
}

static int name_ok(const char *s)
{
	return s != NULL && cu_vrbac_name_valid(s, strnlen(s, 256));
}

int cu_vrbac_principal_token(cu_vks_t *vks, const char *name,
                             char token[CU_VRBAC_TOKEN_LEN + 1])
{
	unsigned char raw[32], h[CU_SHA256_LEN];
	cu_db_t *db = cu_vks_db(vks);
	int r;

	token[0] = '\0';
	if (!name_ok(name))
		return CU_ERR_INVAL;
	if ((r = cu_rand_bytes(raw, sizeof(raw))) != 0 ||
	    (r = cu_b64url_encode(raw, sizeof(raw), token,
	                          CU_VRBAC_TOKEN_LEN + 1, NULL)) != 0 ||
	    (r = cu_sha256(token, CU_VRBAC_TOKEN_LEN, h)) != 0)
		goto out;
	if ((r = cu_db_begin(db)) != 0)
		goto out;
	r = cu_db_run(db, NULL,
	              "INSERT INTO principals(name, auth, token_hash, created) "
	              "VALUES(?1, 'token', ?2, ?3) ON CONFLICT(name) DO UPDATE "
	              "SET auth = 'token', token_hash = ?2, cert_sha256 = NULL",
	              "tbi", name, h, sizeof(h), (int64_t)time(NULL));
	if (r != 0)
		cu_db_rollback(db);
	else
		r = cu_db_commit(db);
out:
	cu_memzero(raw, sizeof(raw));
	if (r != 0)
		cu_memzero(token, CU_VRBAC_TOKEN_LEN + 1);
	return r;
}

int cu_vrbac_principal_cert(cu_vks_t *vks, const char *name,
                            const unsigned char fp[32])
{
	cu_db_t *db = cu_vks_db(vks);
	int r;

	if (!name_ok(name))
		return CU_ERR_INVAL;
	if ((r = cu_db_begin(db)) != 0)
		return r;
	r = cu_db_run(
	    db, NULL,
	    "INSERT INTO principals(name, auth, cert_sha256, created) "
	    "VALUES(?1, 'certificate', ?2, ?3) ON CONFLICT(name) DO "
	    "UPDATE SET auth = 'certificate', cert_sha256 = ?2, "
	    "token_hash = NULL",
	    "tbi", name, fp, (size_t)32, (int64_t)time(NULL));
	if (r != 0) {
		cu_db_rollback(db);
		return r;
	}
	return cu_db_commit(db);
}

static int removed_events(cu_db_t *db, const char *where, const char *arg)
{
	char sql[256];
	sqlite3_stmt *st = NULL;
	int r;

	snprintf(sql, sizeof(sql),
	         "SELECT id, principal, role, scope FROM role_assignments "
	         "WHERE %s = ?1",
	         where);
	if ((r = cu_db_query(db, &st, sql, "t", arg)) != 0)
		return r;
	while ((r = cu_db_step(st)) == 1) {
		char detail[512];
		const char *scope = cu_db_col_text(st, 3);
		snprintf(detail, sizeof(detail),
		         "{\"id\":\"%s\",\"principal\":\"%s\",\"role\":\"%s\","
		         "\"scope\":\"%s\"}",
		         cu_db_col_text(st, 0), cu_db_col_text(st, 1),
		         cu_db_col_text(st, 2), scope);
		if ((r = cu_vaudit_event_add(
		         db, CU_VEV_ROLE_REMOVED,
		         strncmp(scope, "/keys/", 6) == 0 ? scope + 6 : "",
		         NULL, detail)) != 0)
			break;
	}
	sqlite3_finalize(st);
	return r < 0 ? r : 0;
}

int cu_vrbac_principal_delete(cu_vks_t *vks, const char *name)
{
	cu_db_t *db = cu_vks_db(vks);
	int r, changes = 0;

	if (!name_ok(name))
		return CU_ERR_NOTFOUND;
	if ((r = cu_db_begin(db)) != 0)
		return r;
	if ((r = removed_events(db, "principal", name)) != 0)
		goto out;
	r = cu_db_run(db, &changes, "DELETE FROM principals WHERE name = ?1",
	              "t", name);
	if (r == 0 && changes == 0)
		r = CU_ERR_NOTFOUND;
out:
	if (r != 0) {
		cu_db_rollback(db);
		return r;
	}
	if ((r = cu_db_commit(db)) == 0)
		cu_vks_notify(vks);
	return r;
}

int cu_vrbac_principal_count(cu_vks_t *vks, int64_t *n)
{
	cu_db_t *db = cu_vks_db(vks);
	sqlite3_stmt *st = NULL;
	int r;

	*n = 0;
	if ((r = cu_db_begin_read(db)) != 0)
		return r;
	if ((r = cu_db_query(db, &st, "SELECT COUNT(*) FROM principals", "")) ==
	        0 &&
	    (r = cu_db_step(st)) == 1) {
		*n = sqlite3_column_int64(st, 0);
		r = 0;
	}
	sqlite3_finalize(st);
	cu_db_rollback(db);
	return r;
}

/* Where a principal's row goes (principal_row): the hash looked up. */
struct principal_out {
	const unsigned char *h;
	char *name;
};

static int principal_row(sqlite3_stmt *st, void *arg)
{
	struct principal_out *p = arg;

	/* the index found it by equality; compare once more in constant
	 * time so this path never depends on how the bytes differ */
	if (sqlite3_column_bytes(st, 1) != 32 ||
	    !cu_ct_equal(sqlite3_column_blob(st, 1), p->h, 32))
		return CU_ERR_AUTH;
	snprintf(p->name, CU_VRBAC_NAME_MAX + 1, "%s", cu_db_col_text(st, 0));
	return 0;
}

/* The principal whose token hash (by_token) or certificate fingerprint is h,
 * on a pooled read connection (every request authenticates). */
static int lookup_db(cu_vks_t *vks, int by_token, const unsigned char h[32],
                     char name[CU_VRBAC_NAME_MAX + 1])
{
	struct principal_out p = {h, name};
	int r;

	name[0] = '\0';
	if (by_token)
		r = cu_db_read_row(cu_vks_db(vks), principal_row, &p,
		                   "SELECT name, token_hash FROM principals "
		                   "WHERE token_hash = ?1",
		                   "b", h, (size_t)32);
	else
		r = cu_db_read_row(cu_vks_db(vks), principal_row, &p,
		                   "SELECT name, cert_sha256 FROM principals "
		                   "WHERE cert_sha256 = ?1",
		                   "b", h, (size_t)32);
	if (r != 0)
		name[0] = '\0';
	return r == CU_ERR_NOTFOUND ? CU_ERR_AUTH : r;
}

/* lookup_db, answered from the memo while the database is unchanged
 * (memo.h). Only principals found are kept: an unknown token always
 * reaches the database. */
static int lookup(cu_vks_t *vks, int by_token, const unsigned char h[32],
                  char name[CU_VRBAC_NAME_MAX + 1])
{
	unsigned char key[1 + 32];
	uint64_t gen = cu_db_commits(cu_vks_db(vks)); /* before the read */
	size_t n = 0;
	int r;

	key[0] = by_token ? 'T' : 'C';
	memcpy(key + 1, h, 32);
	if (cu_memo_get(cu_vks_memo(vks), key, sizeof(key), gen, name,
	                CU_VRBAC_NAME_MAX, &n) == 0 &&
	    n > 0) {
		name[n] = '\0';
		r = 0;
	} else if ((r = lookup_db(vks, by_token, h, name)) == 0) {
		(void)cu_memo_put(cu_vks_memo(vks), key, sizeof(key), gen, name,
		                  strlen(name));
	}
	cu_memzero(key, sizeof(key));
	return r;
}

int cu_vrbac_auth_token(cu_vks_t *vks, const char *tok, size_t len,
                        char name[CU_VRBAC_NAME_MAX + 1])
{
	unsigned char h[CU_SHA256_LEN];
	int r;

	name[0] = '\0';
	if (tok == NULL || len == 0 || len > CU_VRBAC_TOKEN_MAX)
		return CU_ERR_AUTH;
	if ((r = cu_sha256(tok, len, h)) != 0)
		return r;
	r = lookup(vks, 1, h, name);
	cu_memzero(h, sizeof(h));
	return r;
}

int cu_vrbac_auth_cert(cu_vks_t *vks, const unsigned char fp[32],
                       char name[CU_VRBAC_NAME_MAX + 1])
{
	return lookup(vks, 0, fp, name);
}

static int scope_valid(const char *scope)
{
	if (scope == NULL)
		return 0;
	if (strcmp(scope, "/") == 0)
		return 1;
	return strncmp(scope, "/keys/", 6) == 0 &&
	       cu_vks_name_valid(scope + 6, strnlen(scope + 6, 256));
}

int cu_vrbac_assign(cu_vks_t *vks, const char *id, const char *principal,
                    const char *role, const char *scope)
{
	cu_db_t *db = cu_vks_db(vks);
	char detail[512];
	int r;

	if (!name_ok(id) || !name_ok(principal) ||
	    cu_vrbac_role_perms(role) == 0 || !scope_valid(scope))
		return CU_ERR_INVAL;
	if ((r = cu_db_begin(db)) != 0)
		return r;
	/* replacing an assignment removes the old one first */
	if ((r = removed_events(db, "id", id)) != 0)
		goto out;
	if ((r = cu_db_run(db, NULL,
	                   "DELETE FROM role_assignments WHERE id = ?1", "t",
	                   id)) != 0)
		goto out;
	if ((r = cu_db_run(db, NULL,
	                   "INSERT INTO role_assignments(id, principal, role, "
	                   "scope, created) VALUES(?1, ?2, ?3, ?4, ?5)",
	                   "tttti", id, principal, role, scope,
	                   (int64_t)time(NULL))) != 0)
		goto out;
	snprintf(detail, sizeof(detail),
	         "{\"id\":\"%s\",\"principal\":\"%s\",\"role\":\"%s\","
	         "\"scope\":\"%s\"}",
	         id, principal, role, scope);
	r = cu_vaudit_event_add(db, CU_VEV_ROLE_ADDED,
	                        strcmp(scope, "/") == 0 ? "" : scope + 6, NULL,
	                        detail);
out:
	if (r != 0) {
		cu_db_rollback(db);
		return r;
	}
	if ((r = cu_db_commit(db)) == 0)
		cu_vks_notify(vks);
	return r;
}

int cu_vrbac_unassign(cu_vks_t *vks, const char *id)
{
	cu_db_t *db = cu_vks_db(vks);
	int r, changes = 0;

	if (!name_ok(id))
		return CU_ERR_NOTFOUND;
	if ((r = cu_db_begin(db)) != 0)
		return r;
	if ((r = removed_events(db, "id", id)) != 0)
		goto out;
	r = cu_db_run(db, &changes,
	              "DELETE FROM role_assignments WHERE id = ?1", "t", id);
	if (r == 0 && changes == 0)
		r = CU_ERR_NOTFOUND;
out:
	if (r != 0) {
		cu_db_rollback(db);
		return r;
	}
	if ((r = cu_db_commit(db)) == 0)
		cu_vks_notify(vks);
	return r;
}

int cu_vrbac_list(cu_vks_t *vks, json_t **out)
{
	cu_db_t *db = cu_vks_db(vks);
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
	                     "SELECT id, principal, role, scope, created FROM "
	                     "role_assignments ORDER BY id",
	                     "")) != 0)
		goto out;
	while ((r = cu_db_step(st)) == 1) {
		json_t *o = json_pack(
		    "{s:s,s:s,s:s,s:s,s:I}", "id", cu_db_col_text(st, 0),
		    "principal", cu_db_col_text(st, 1), "role",
		    cu_db_col_text(st, 2), "scope", cu_db_col_text(st, 3),
		    "created", (json_int_t)sqlite3_column_int64(st, 4));
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

/* What check_db looks for in each assignment row, and whether a row
 * gave it. */
struct check_want {
	unsigned perm;
	const char *key;
	int allowed;
};

static int assignment_row(sqlite3_stmt *st, void *arg)
{
	struct check_want *w = arg;
	const char *scope = cu_db_col_text(st, 1);
	int in_scope =
	    strcmp(scope, "/") == 0 ||
	    (w->key != NULL && strncmp(scope, "/keys/", 6) == 0 &&
	     strcasecmp(scope + 6, w->key) == 0); /* names ignore case */

	if (in_scope &&
	    (cu_vrbac_role_perms(cu_db_col_text(st, 0)) & w->perm) == w->perm)
		w->allowed = 1;
	return w->allowed; /* 1: enough read */
}

static int check_db(cu_vks_t *vks, const char *principal, unsigned perm,
                    const char *key)
{
	struct check_want w = {perm, key, 0};
	int r = cu_db_read_rows(cu_vks_db(vks), assignment_row, &w,
	                        "SELECT role, scope FROM role_assignments "
	                        "WHERE principal = ?1",
	                        "t", principal);

	if (r != 0)
		return r;
	return w.allowed ? 0 : CU_ERR_DENIED;
}

int cu_vrbac_check(cu_vks_t *vks, const char *principal, unsigned perm,
                   const char *key)
{
	/* 'R', perm, principal, NUL, key: at most 1 + 8 + 127 + 1 + 127 */
	char mkey[CU_MEMO_KEY_MAX];
	unsigned char verdict = 0;
	uint64_t gen;
	size_t n = 0;
	int len, r;

	if (principal == NULL || principal[0] == '\0' || perm == 0)
		return CU_ERR_DENIED;
	/* the assignments as committed now: the memo answers only while
	 * nothing was committed since it read them (memo.h), so a removed
	 * assignment stops the very next request */
	gen = cu_db_commits(cu_vks_db(vks)); /* before the read */
	len = snprintf(mkey, sizeof(mkey), "R%08x%s%c%s", perm, principal, '\0',
	               key != NULL ? key : "");
	if (len <= 0 || (size_t)len >= sizeof(mkey))
		return check_db(vks, principal, perm, key);
	if (cu_memo_get(cu_vks_memo(vks), mkey, (size_t)len, gen, &verdict, 1,
	                &n) == 0 &&
	    n == 1)
		return verdict == 'y' ? 0 : CU_ERR_DENIED;
	r = check_db(vks, principal, perm, key);
	if (r == 0 || r == CU_ERR_DENIED) {
		verdict = r == 0 ? 'y' : 'n';
		(void)cu_memo_put(cu_vks_memo(vks), mkey, (size_t)len, gen,
		                  &verdict, 1);
	}
	return r;
}

int cu_vrbac_bootstrap(cu_vks_t *vks, const char *name, const char *token_path,
                       int *created)
{
	char token[CU_VRBAC_TOKEN_LEN + 2], tmp[4096];
	int64_t n = 0;
	int r, fd = -1;

	*created = 0;
	if ((r = cu_vrbac_principal_count(vks, &n)) != 0 || n > 0)
		return r;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", token_path) >=
	    sizeof(tmp))
		return CU_ERR_RANGE;
	if ((r = cu_vrbac_principal_token(vks, name, token)) != 0)
		return r;
	if ((r = cu_vrbac_assign(vks, name, name, CU_VROLE_ADMIN, "/")) != 0)
		goto out;
	token[CU_VRBAC_TOKEN_LEN] = '\n';
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 ||
	    write(fd, token, CU_VRBAC_TOKEN_LEN + 1) !=
	        CU_VRBAC_TOKEN_LEN + 1 ||
	    fsync(fd) != 0 || rename(tmp, token_path) != 0) {
		cu_logf(CU_LOG_ERROR, "cannot write %s: %s", token_path,
		        strerror(errno));
		r = CU_ERR_IO;
		goto out;
	}
	*created = 1;
out:
	if (fd >= 0)
		close(fd);
	if (r != 0) {
		(void)unlink(tmp);
		(void)cu_vrbac_principal_delete(vks, name);
	}
	cu_memzero(token, sizeof(token));
	return r;
}

/* Unit tests for vault/rbac (principals, roles, scopes) and vault/audit
 * (the hash-chained audit log). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#include "core/err.h"
#include <openssl/sha.h>
#include "vault/audit.h"
#include "vault/keystore.h"
#include "core/memo.h"
#include "vault/rbac.h"

struct fx {
	char dir[64];
	cu_vks_t *vks;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/custos-test-rbac-XXXXXX");
	if (mkdtemp(f->dir) == NULL || cu_vks_open(f->dir, NULL, &f->vks) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	cu_vks_close(f->vks);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void tokens_authenticate_and_a_new_token_replaces_the_old(void **s)
{
	struct fx *f = *s;
	char t1[CU_VRBAC_TOKEN_LEN + 1], t2[CU_VRBAC_TOKEN_LEN + 1];
	char who[CU_VRBAC_NAME_MAX + 1];

	assert_int_equal(cu_vrbac_principal_token(f->vks, "alice", t1), 0);
	assert_int_equal(strlen(t1), CU_VRBAC_TOKEN_LEN);
	assert_int_equal(cu_vrbac_auth_token(f->vks, t1, strlen(t1), who), 0);
	assert_string_equal(who, "alice");
	assert_int_equal(cu_vrbac_auth_token(f->vks, t1, strlen(t1) - 1, who),
	                 CU_ERR_AUTH);
	assert_int_equal(cu_vrbac_auth_token(f->vks, "", 0, who), CU_ERR_AUTH);
	/* again, from the memo (nothing committed since) */
	assert_int_equal(cu_vrbac_auth_token(f->vks, t1, strlen(t1), who), 0);
	assert_string_equal(who, "alice");
	assert_int_equal(cu_vrbac_principal_token(f->vks, "alice", t2), 0);
	assert_int_equal(cu_vrbac_auth_token(f->vks, t1, strlen(t1), who),
	                 CU_ERR_AUTH);
	assert_int_equal(cu_vrbac_auth_token(f->vks, t2, strlen(t2), who), 0);
	assert_int_equal(cu_vrbac_principal_token(f->vks, "bad name!", t1),
	                 CU_ERR_INVAL);
}

static void certificates_authenticate_by_fingerprint(void **s)
{
	struct fx *f = *s;
	unsigned char fp[32], other[32];
	char who[CU_VRBAC_NAME_MAX + 1];

	memset(fp, 0xAA, sizeof(fp));
	memset(other, 0xBB, sizeof(other));
	assert_int_equal(cu_vrbac_principal_cert(f->vks, "custos-store", fp),
	                 0);
	assert_int_equal(cu_vrbac_auth_cert(f->vks, fp, who), 0);
	assert_string_equal(who, "custos-store");
	assert_int_equal(cu_vrbac_auth_cert(f->vks, other, who), CU_ERR_AUTH);
	assert_int_equal(cu_vrbac_principal_cert(f->vks, "dup", fp),
	                 CU_ERR_EXISTS);
}

static void each_role_allows_exactly_its_permissions(void **s)
{
	struct fx *f = *s;
	char t[CU_VRBAC_TOKEN_LEN + 1];
	/* exactly these, after Azure's data actions (rbac.c) */
	const unsigned rd = CU_VPERM_READ,
	               use = CU_VPERM_ENCRYPT | CU_VPERM_DECRYPT |
	                     CU_VPERM_SIGN | CU_VPERM_VERIFY,
	               wrap = CU_VPERM_WRAP | CU_VPERM_UNWRAP,
	               keys = 2 * CU_VPERM_VERIFY - 1; /* every key bit */
	const struct {
		const char *role;
		unsigned yes;
	} cases[] = {
	    {CU_VROLE_ADMIN, keys | CU_VPERM_ADMIN},
	    {CU_VROLE_OFFICER, keys},
	    {CU_VROLE_USER,
	     rd | CU_VPERM_UPDATE | CU_VPERM_BACKUP | use | wrap},
	    {CU_VROLE_SVC_USER, rd | wrap},
	    {CU_VROLE_READER, rd | CU_VPERM_READ_POLICY},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char p[16], id[16];
		snprintf(p, sizeof(p), "p%zu", i);
		snprintf(id, sizeof(id), "a%zu", i);
		assert_int_equal(cu_vrbac_principal_token(f->vks, p, t), 0);
		assert_int_equal(cu_vrbac_check(f->vks, p, CU_VPERM_READ, "k"),
		                 CU_ERR_DENIED);
		assert_int_equal(
		    cu_vrbac_assign(f->vks, id, p, cases[i].role, "/"), 0);
		assert_int_equal(cu_vrbac_role_perms(cases[i].role),
		                 cases[i].yes);
		for (unsigned b = 1; b <= CU_VPERM_ADMIN; b <<= 1)
			assert_int_equal(cu_vrbac_check(f->vks, p, b, "k"),
			                 cases[i].yes & b ? 0 : CU_ERR_DENIED);
	}
	assert_int_equal(cu_vrbac_assign(f->vks, "x", "p0", "Owner", "/"),
	                 CU_ERR_INVAL);
	assert_int_equal(
	    cu_vrbac_assign(f->vks, "x", "ghost", CU_VROLE_READER, "/"),
	    CU_ERR_NOTFOUND);
	assert_int_equal(
	    cu_vrbac_assign(f->vks, "x", "p0", CU_VROLE_READER, "/secrets/a"),
	    CU_ERR_INVAL);
}

static void key_scope_covers_one_key_and_removal_is_immediate(void **s)
{
	struct fx *f = *s;
	char t[CU_VRBAC_TOKEN_LEN + 1];
	json_t *list = NULL, *ev = NULL;

	assert_int_equal(cu_vrbac_principal_token(f->vks, "store", t), 0);
	assert_int_equal(cu_vrbac_assign(f->vks, "ra1", "store",
	                                 CU_VROLE_SVC_USER, "/keys/k1"),
	                 0);
	assert_int_equal(cu_vrbac_check(f->vks, "store", CU_VPERM_UNWRAP, "k1"),
	                 0);
	assert_int_equal(cu_vrbac_check(f->vks, "store", CU_VPERM_UNWRAP, "k2"),
	                 CU_ERR_DENIED);
	assert_int_equal(cu_vrbac_check(f->vks, "store", CU_VPERM_READ, NULL),
	                 CU_ERR_DENIED);
	assert_int_equal(cu_vrbac_list(f->vks, &list), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	/* asked again with nothing committed: answered from the memo, the
	 * same answers */
	{
		uint64_t h0 = 0, h1 = 0;
		cu_memo_stats(cu_vks_memo(f->vks), &h0, NULL);
		assert_int_equal(
		    cu_vrbac_check(f->vks, "store", CU_VPERM_UNWRAP, "k1"), 0);
		assert_int_equal(
		    cu_vrbac_check(f->vks, "store", CU_VPERM_UNWRAP, "k2"),
		    CU_ERR_DENIED);
		cu_memo_stats(cu_vks_memo(f->vks), &h1, NULL);
		assert_int_equal(h1, h0 + 2);
	}
	assert_int_equal(cu_vrbac_unassign(f->vks, "ra1"), 0);
	assert_int_equal(cu_vrbac_check(f->vks, "store", CU_VPERM_UNWRAP, "k1"),
	                 CU_ERR_DENIED);
	assert_int_equal(cu_vrbac_unassign(f->vks, "ra1"), CU_ERR_NOTFOUND);
	/* deleting a principal removes its assignments */
	assert_int_equal(
	    cu_vrbac_assign(f->vks, "ra2", "store", CU_VROLE_SVC_USER, "/"), 0);
	assert_int_equal(cu_vrbac_principal_delete(f->vks, "store"), 0);
	assert_int_equal(cu_vrbac_list(f->vks, &list), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(cu_vaudit_events(cu_vks_db(f->vks), 0, 10, &ev), 0);
	assert_int_equal(json_array_size(ev), 4);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(ev, 0), "type")),
	    CU_VEV_ROLE_ADDED);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(ev, 0), "key")),
	    "k1");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(ev, 3), "type")),
	    CU_VEV_ROLE_REMOVED);
	json_decref(ev);
}

static void the_audit_chain_verifies_and_catches_edits(void **s)
{
	struct fx *f = *s;
	cu_db_t *db = cu_vks_audit_db(f->vks);
	int64_t count = 0, bad = 0;
	json_t *list = NULL;

	for (int i = 0; i < 5; i++) {
		struct cu_vaudit_rec rec = {.principal = "alice",
		                            .op = "unwrapKey",
		                            .key = "k1",
		                            .version = "v",
		                            .result = "ok",
		                            .request_id = "r"};
		assert_int_equal(cu_vaudit_append(db, &rec), 0);
		assert_int_equal(rec.seq, i + 1);
	}
	assert_int_equal(cu_vaudit_verify(db, &count, &bad), 0);
	assert_int_equal(count, 5);
	assert_int_equal(cu_vaudit_list(db, 3, 10, &list), 0);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	/* the triggers refuse edits through SQL */
	assert_int_equal(cu_db_begin(db), 0);
	assert_int_not_equal(
	    cu_db_run(db, NULL, "UPDATE audit SET result = 'x'", ""), 0);
	cu_db_rollback(db);
	/* an attacker with the file drops them: the chain still tells */
	assert_int_equal(cu_db_begin(db), 0);
	assert_int_equal(cu_db_exec(db, "DROP TRIGGER audit_no_update;"
	                                "DROP TRIGGER audit_no_delete;"
	                                "UPDATE audit SET principal = 'mallory'"
	                                " WHERE seq = 3"),
	                 0);
	assert_int_equal(cu_db_commit(db), 0);
	assert_int_equal(cu_vaudit_verify(db, &count, &bad), CU_ERR_AUTH);
	assert_int_equal(bad, 3);
	assert_int_equal(cu_db_begin(db), 0);
	assert_int_equal(cu_db_exec(db, "UPDATE audit SET principal = 'alice' "
	                                "WHERE seq = 3;"
	                                "DELETE FROM audit WHERE seq = 2"),
	                 0);
	assert_int_equal(cu_db_commit(db), 0);
	assert_int_equal(cu_vaudit_verify(db, &count, &bad), CU_ERR_AUTH);
	assert_int_equal(bad, 2);
}

/* The chain's definition, computed here independently: SHA-256 of the
 * previous hash and jansson's compact, key-sorted JSON of the record. */
static void expected_hash(const unsigned char prev[32], json_t *rec,
                          unsigned char out[32])
{
	json_t *o = json_deep_copy(rec);
	unsigned char buf[32 + 2048];
	char *canon;
	size_t len;

	json_object_del(o, "hash");
	canon = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(canon);
	len = strlen(canon);
	assert_true(len < 2048);
	memcpy(buf, prev, 32);
	memcpy(buf + 32, canon, len);
	SHA256(buf, 32 + len, out);
	free(canon);
	json_decref(o);
}

static void every_record_hashes_its_canonical_json_after_the_last(void **s)
{
	struct fx *f = *s;
	cu_db_t *db = cu_vks_audit_db(f->vks);
	const char *odd[] = {"plain",     "quote\"d",    "back\\slash",
	                     "tab\there", "caf\xc3\xa9", "slash/ok",
	                     "",          NULL};
	unsigned char prev[32] = {0}, want[32];
	json_t *list = NULL, *rec;
	size_t i;

	for (i = 0; i < 7; i++) {
		struct cu_vaudit_rec r = {.principal = odd[i],
		                          .op = "unwrapkey",
		                          .key = odd[(i + 1) % 7],
		                          .version = odd[(i + 2) % 7],
		                          .result = odd[(i + 3) % 7],
		                          .request_id = odd[(i + 4) % 7]};
		assert_int_equal(cu_vaudit_append(db, &r), 0);
	}
	{
		struct cu_vaudit_rec r = {.op = "GET"}; /* NULLs store "" */
		assert_int_equal(cu_vaudit_append(db, &r), 0);
	}
	assert_int_equal(cu_vaudit_list(db, 0, 100, &list), 0);
	assert_int_equal(json_array_size(list), 8);
	json_array_foreach(list, i, rec)
	{
		char hex[65];
		expected_hash(prev, rec, want);
		for (int j = 0; j < 32; j++)
			snprintf(hex + 2 * j, 3, "%02x", want[j]);
		assert_string_equal(
		    json_string_value(json_object_get(rec, "hash")), hex);
		memcpy(prev, want, 32);
	}
	json_decref(list);
}

static cu_vaudit_writer_t *writer;

static void *append_many(void *arg)
{
	for (int i = 0; i < 50; i++) {
		struct cu_vaudit_rec rec = {.principal = arg,
		                            .op = "unwrapKey",
		                            .key = "k",
		                            .result = "ok",
		                            .request_id = "r"};
		if (cu_vaudit_writer_append(writer, &rec) != 0 || rec.seq <= 0)
			return (void *)1;
	}
	return NULL;
}

static void concurrent_appends_group_commit_into_one_intact_chain(void **s)
{
	struct fx *f = *s;
	cu_db_t *db = NULL;
	pthread_t t[8];
	int64_t count = 0, bad = 0;
	void *ret;

	assert_int_equal(cu_vks_open_audit_db(f->vks, &db), 0);
	assert_int_equal(cu_vaudit_writer_new(db, &writer), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(
		    pthread_create(&t[i], NULL, append_many, i % 2 ? "a" : "b"),
		    0);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
	cu_vaudit_writer_free(writer);
	writer = NULL;
	cu_vaudit_writer_free(NULL);
	assert_int_equal(
	    cu_vaudit_verify(cu_vks_audit_db(f->vks), &count, &bad), 0);
	assert_int_equal(count, 400);
}

static void sql(const char *path, const char *text)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, text, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* Put the audit log back where an older version kept it: a table of
 * vault.db, whose schema is then one migration behind. keep_new: leave
 * audit.db too (as a crash between the copy and the drop would). */
static void make_legacy(struct fx *f, int keep_new)
{
	char vdb[128], adb[128], q[512];

	cu_vks_close(f->vks);
	f->vks = NULL;
	snprintf(vdb, sizeof(vdb), "%s/vault.db", f->dir);
	snprintf(adb, sizeof(adb), "%s/audit.db", f->dir);
	snprintf(q, sizeof(q),
	         "ATTACH DATABASE '%s' AS a;"
	         "CREATE TABLE main.audit AS SELECT * FROM a.audit;"
	         "DETACH DATABASE a; PRAGMA user_version = 2;",
	         adb);
	sql(vdb, q);
	if (!keep_new) {
		snprintf(q, sizeof(q), "rm -f %s %s-wal %s-shm", adb, adb, adb);
		assert_int_equal(system(q), 0);
	}
}

static void an_older_vaults_audit_log_moves_to_its_own_file_unbroken(void **s)
{
	struct fx *f = *s;
	int64_t count = 0, bad = 0;
	int keep;

	for (int i = 0; i < 3; i++) {
		struct cu_vaudit_rec rec = {.principal = "alice",
		                            .op = "unwrapKey",
		                            .key = "k1",
		                            .result = "ok",
		                            .request_id = "r"};
		assert_int_equal(
		    cu_vaudit_append(cu_vks_audit_db(f->vks), &rec), 0);
	}
	for (keep = 0; keep < 2; keep++) {
		struct cu_vaudit_rec rec = {.op = "get", .result = "ok"};
		sqlite3_stmt *st = NULL;
		int v = 0;

		make_legacy(f, keep);
		assert_int_equal(cu_vks_open(f->dir, NULL, &f->vks), 0);
		/* every record once, the chain intact, and it goes on */
		assert_int_equal(
		    cu_vaudit_verify(cu_vks_audit_db(f->vks), &count, &bad), 0);
		assert_int_equal(count, 3 + keep);
		assert_int_equal(
		    cu_vaudit_append(cu_vks_audit_db(f->vks), &rec), 0);
		assert_int_equal(rec.seq, 4 + keep);
		/* the old table is gone from vault.db */
		assert_int_equal(cu_db_user_version(cu_vks_db(f->vks), &v), 0);
		assert_int_equal(v, 3);
		assert_int_equal(
		    cu_db_query(cu_vks_db(f->vks), &st,
		                "SELECT 1 FROM sqlite_master WHERE "
		                "name = 'audit'",
		                ""),
		    0);
		assert_int_equal(cu_db_step(st), 0);
		sqlite3_finalize(st);
	}
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(tokens_authenticate_and_a_new_token_replaces_the_old),
	    T(certificates_authenticate_by_fingerprint),
	    T(each_role_allows_exactly_its_permissions),
	    T(key_scope_covers_one_key_and_removal_is_immediate),
	    T(the_audit_chain_verifies_and_catches_edits),
	    T(concurrent_appends_group_commit_into_one_intact_chain),
	    T(every_record_hashes_its_canonical_json_after_the_last),
	    T(an_older_vaults_audit_log_moves_to_its_own_file_unbroken),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

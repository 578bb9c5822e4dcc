/* Unit tests for vault/keystore: versions, attributes, sealing at rest,
 * soft delete, recovery, purge protection, backup and restore. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/secmem.h"
#include "vault/audit.h"
#include "vault/keystore.h"
#include "core/memo.h"

struct fx {
	char dir[64];
	cu_vks_t *vks;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cu_vks_settings s = {90, 0};

	snprintf(f->dir, sizeof(f->dir), "/tmp/custos-test-vks-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	if (cu_vks_open(f->dir, &s, &f->vks) != 0)
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

static struct cu_vks_new rsa_new(void)
{
	struct cu_vks_new n = {.kty = CU_VKO_RSA, .size = 2048, .enabled = 1};
	return n;
}

static void a_new_vault_has_a_private_master_key(void **state)
{
	struct fx *f = *state;
	char p[128];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/master.key", f->dir);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_size, 32);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* a key file others can read is refused */
	cu_vks_close(f->vks);
	f->vks = NULL;
	chmod(p, 0644);
	assert_int_equal(cu_vks_open(f->dir, NULL, &f->vks), CU_ERR_IO);
	chmod(p, 0600);
	assert_int_equal(cu_vks_open(f->dir, NULL, &f->vks), 0);
}

static void create_adds_versions_and_latest_follows(void **state)
{
	struct fx *f = *state;
	struct cu_vks_new n = rsa_new();
	struct cu_vks_key a, b, g;
	cu_vko_t *k = NULL;
	unsigned char pt[32] = {1}, ct[512], back[512];
	size_t cl, bl;

	assert_int_equal(cu_vks_create(f->vks, "k1", &n, NULL, &a), 0);
	assert_int_equal(strlen(a.version), 32);
	assert_int_equal(a.kty, CU_VKO_RSA);
	assert_int_equal(a.size, 2048);
	assert_int_equal(a.ops, cu_vks_ops_default(CU_VKO_RSA));
	assert_non_null(json_object_get(a.pub, "n"));
	assert_null(json_object_get(a.pub, "d"));
	assert_string_equal(cu_vks_recovery_level(&a.settings),
	                    "Recoverable+Purgeable");
	assert_int_equal(cu_vks_create(f->vks, "k1", &n, NULL, &b), 0);
	assert_string_not_equal(a.version, b.version);
	assert_true(cu_vks_version_valid(a.version));
	assert_false(cu_vks_version_valid(""));
	assert_false(cu_vks_version_valid("0123"));
	assert_false(cu_vks_version_valid("../../deletedkeys/0123456789abcd"));
	assert_false(cu_vks_version_valid("0123456789ABCDEF0123456789abcdef"));
	assert_int_equal(cu_vks_get(f->vks, "k1", NULL, &g), 0);
	assert_string_equal(g.version, b.version);
	cu_vks_key_clear(&g);
	assert_int_equal(cu_vks_get(f->vks, "k1", a.version, &g), 0);
	assert_string_equal(g.version, a.version);
	cu_vks_key_clear(&g);
	assert_int_equal(cu_vks_get(f->vks, "k1", "0123", &g), CU_ERR_NOTFOUND);
	assert_int_equal(cu_vks_get(f->vks, "nope", NULL, &g), CU_ERR_NOTFOUND);
	/* the old version still decrypts what it encrypted */
	assert_int_equal(cu_vks_use(f->vks, "k1", a.version, CU_VKS_OP_WRAP,
	                            time(NULL), &k, NULL, NULL),
	                 0);
	assert_int_equal(
	    cu_vko_encrypt(k, CU_VKO_RSA_OAEP_256, pt, 32, ct, sizeof(ct), &cl),
	    0);
	cu_vko_free(k);
	assert_int_equal(cu_vks_use(f->vks, "k1", a.version, CU_VKS_OP_UNWRAP,
	                            time(NULL), &k, NULL, NULL),
	                 0);
	assert_int_equal(cu_vko_decrypt(k, CU_VKO_RSA_OAEP_256, ct, cl, back,
	                                sizeof(back), &bl),
	                 0);
	assert_memory_equal(back, pt, 32);
	cu_vko_free(k);
	cu_vks_key_clear(&a);
	cu_vks_key_clear(&b);
	/* bad names */
	assert_int_equal(cu_vks_create(f->vks, "bad name", &n, NULL, NULL),
	                 CU_ERR_INVAL);
	assert_int_equal(cu_vks_create(f->vks, "", &n, NULL, NULL),
	                 CU_ERR_INVAL);
	n.size = 1024;
	assert_int_equal(cu_vks_create(f->vks, "small", &n, NULL, NULL),
	                 CU_ERR_UNSUPPORTED);
}

static void the_database_never_holds_plaintext_material(void **state)
{
	struct fx *f = *state;
	struct cu_vks_new n = {.kty = CU_VKO_OCT, .size = 256, .enabled = 1};
	cu_vko_t *k = NULL;
	unsigned char *raw = NULL, *file = NULL;
	size_t rl = 0, fl = 0;
	char p[128];
	FILE *fp;

	assert_int_equal(cu_vks_create(f->vks, "secret", &n, NULL, NULL), 0);
	assert_int_equal(cu_vks_use(f->vks, "secret", NULL, CU_VKS_OP_WRAP,
	                            time(NULL), &k, NULL, NULL),
	                 0);
	assert_int_equal(cu_vko_serialize(k, &raw, &rl), 0);
	cu_vko_free(k);
	cu_vks_close(f->vks);
	f->vks = NULL;
	/* search the database and its WAL for the raw key bytes */
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/vault.db%s", f->dir,
		         i ? "-wal" : "");
		fp = fopen(p, "rb");
		if (fp == NULL)
			continue;
		file = malloc(1 << 22);
		fl = fread(file, 1, 1 << 22, fp);
		fclose(fp);
		assert_null(memmem(file, fl, raw, rl));
		free(file);
	}
	cu_secmem_free(raw, rl);
	assert_int_equal(cu_vks_open(f->dir, NULL, &f->vks), 0);
}

static void disabled_expired_early_and_ops_limits_are_refused(void **state)
{
	struct fx *f = *state;
	struct cu_vks_new n = {.kty = CU_VKO_OCT, .size = 256, .enabled = 1};
	struct cu_vks_update u = {0};
	struct cu_vks_key m;
	cu_vko_t *k = NULL;
	const char *why = NULL;
	int64_t now = time(NULL);

	n.ops = CU_VKS_OP_WRAP | CU_VKS_OP_UNWRAP;
	assert_int_equal(cu_vks_create(f->vks, "o", &n, NULL, NULL), 0);
	assert_int_equal(cu_vks_use(f->vks, "o", NULL, CU_VKS_OP_ENCRYPT, now,
	                            &k, NULL, &why),
	                 CU_ERR_DENIED);
	u.has_enabled = 1;
	u.enabled = 0;
	assert_int_equal(cu_vks_update(f->vks, "o", NULL, &u, &m), 0);
	assert_int_equal(m.enabled, 0);
	cu_vks_key_clear(&m);
	assert_int_equal(
	    cu_vks_use(f->vks, "o", NULL, CU_VKS_OP_WRAP, now, &k, NULL, &why),
	    CU_ERR_STATE);
	assert_string_equal(why, "the key is disabled");
	u.enabled = 1;
	u.has_exp = 1;
	u.exp = now + 10;
	assert_int_equal(cu_vks_update(f->vks, "o", NULL, &u, NULL), 0);
	assert_int_equal(
	    cu_vks_use(f->vks, "o", NULL, CU_VKS_OP_WRAP, now, &k, NULL, &why),
	    0);
	cu_vko_free(k);
	assert_int_equal(cu_vks_use(f->vks, "o", NULL, CU_VKS_OP_WRAP, now + 10,
	                            &k, NULL, &why),
	                 CU_ERR_STATE);
	assert_non_null(strstr(why, "expired"));
	memset(&u, 0, sizeof(u));
	u.has_nbf = 1;
	u.nbf = now + 5;
	assert_int_equal(cu_vks_update(f->vks, "o", NULL, &u, NULL), 0);
	assert_int_equal(
	    cu_vks_use(f->vks, "o", NULL, CU_VKS_OP_WRAP, now, &k, NULL, &why),
	    CU_ERR_STATE);
	/* nbf after exp is refused */
	u.nbf = now + 100;
	assert_int_equal(cu_vks_update(f->vks, "o", NULL, &u, NULL),
	                 CU_ERR_INVAL);
	assert_null(k);
}

static void a_cached_key_is_refused_as_soon_as_its_row_says_so(void **state)
{
	struct fx *f = *state;
	struct cu_vks_new n = {.kty = CU_VKO_OCT, .size = 256, .enabled = 1};
	struct cu_vks_update u = {.has_enabled = 1, .enabled = 0};
	struct cu_vks_key a;
	cu_db_t *db = cu_vks_db(f->vks);
	cu_vko_t *k = NULL;
	int64_t now = time(NULL);

	uint64_t h0 = 0, h1 = 0;

	assert_int_equal(cu_vks_create(f->vks, "c", &n, NULL, &a), 0);
	/* twice: the second use is served from the memo (the row) and the
	 * key cache (the loaded key) */
	cu_memo_stats(cu_vks_memo(f->vks), &h0, NULL);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(cu_vks_use(f->vks, "c", NULL, CU_VKS_OP_WRAP,
		                            now, &k, NULL, NULL),
		                 0);
		cu_vko_free(k);
		k = NULL;
	}
	cu_memo_stats(cu_vks_memo(f->vks), &h1, NULL);
	assert_int_equal(h1, h0 + 1);
	/* disabled, and at once refused */
	assert_int_equal(cu_vks_update(f->vks, "c", NULL, &u, NULL), 0);
	assert_int_equal(
	    cu_vks_use(f->vks, "c", NULL, CU_VKS_OP_WRAP, now, &k, NULL, NULL),
	    CU_ERR_STATE);
	u.enabled = 1;
	assert_int_equal(cu_vks_update(f->vks, "c", NULL, &u, NULL), 0);
	assert_int_equal(cu_vks_use(f->vks, "c", a.version, CU_VKS_OP_WRAP, now,
	                            &k, NULL, NULL),
	                 0);
	cu_vko_free(k);
	k = NULL;
	/* the sealed material in the row changes under the cache: it is
	 * unsealed afresh, and fails */
	assert_int_equal(cu_db_begin(db), 0);
	assert_int_equal(
	    cu_db_run(db, NULL,
	              "UPDATE key_versions SET sealed = "
	              "randomblob(length(sealed)) WHERE name = 'c'",
	              ""),
	    0);
	assert_int_equal(cu_db_commit(db), 0);
	assert_int_equal(cu_vks_use(f->vks, "c", a.version, CU_VKS_OP_WRAP, now,
	                            &k, NULL, NULL),
	                 CU_ERR_AUTH);
	assert_null(k);
	/* deleted: not found, cached or not */
	assert_int_equal(cu_vks_delete(f->vks, "c", NULL), 0);
	assert_int_equal(cu_vks_use(f->vks, "c", a.version, CU_VKS_OP_WRAP, now,
	                            &k, NULL, NULL),
	                 CU_ERR_NOTFOUND);
	cu_vks_key_clear(&a);
}

static int count_fn(void *ctx, const struct cu_vks_key *k)
{
	(*(int *)ctx)++;
	return 0;
}

static void soft_delete_recover_and_purge(void **state)
{
	struct fx *f = *state;
	struct cu_vks_new n = {
	    .kty = CU_VKO_EC, .size = CU_VKO_P256, .enabled = 1};
	struct cu_vks_key d;
	int cnt = 0, more = 0;

	assert_int_equal(cu_vks_create(f->vks, "e1", &n, NULL, NULL), 0);
	assert_int_equal(cu_vks_create(f->vks, "e2", &n, NULL, NULL), 0);
	assert_int_equal(cu_vks_delete(f->vks, "e1", &d), 0);
	assert_true(d.deleted_date > 0);
	assert_int_equal(d.scheduled_purge - d.deleted_date, 90 * 86400);
	cu_vks_key_clear(&d);
	assert_int_equal(cu_vks_get(f->vks, "e1", NULL, &d), CU_ERR_NOTFOUND);
	assert_int_equal(cu_vks_delete(f->vks, "e1", NULL), CU_ERR_NOTFOUND);
	/* the name is taken while deleted */
	assert_int_equal(cu_vks_create(f->vks, "e1", &n, NULL, NULL),
	                 CU_ERR_EXISTS);
	assert_int_equal(
	    cu_vks_list(f->vks, NULL, 0, 25, count_fn, &cnt, &more), 0);
	assert_int_equal(cnt, 1);
	cnt = 0;
	assert_int_equal(
	    cu_vks_list_deleted(f->vks, 0, 25, count_fn, &cnt, &more), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(cu_vks_recover(f->vks, "e1", &d), 0);
	assert_string_equal(d.name, "e1");
	cu_vks_key_clear(&d);
	assert_int_equal(cu_vks_get(f->vks, "e1", NULL, &d), 0);
	cu_vks_key_clear(&d);
	assert_int_equal(cu_vks_purge(f->vks, "e1"), CU_ERR_NOTFOUND);
	assert_int_equal(cu_vks_delete(f->vks, "e1", NULL), 0);
	assert_int_equal(cu_vks_purge(f->vks, "e1"), 0);
	assert_int_equal(cu_vks_get_deleted(f->vks, "e1", &d), CU_ERR_NOTFOUND);
	assert_int_equal(cu_vks_create(f->vks, "e1", &n, NULL, NULL), 0);
}

static void purge_protection_refuses_purge_and_cannot_be_undone(void **state)
{
	struct fx *f = *state;
	struct cu_vks_new n = {.kty = CU_VKO_OCT, .size = 256, .enabled = 1};
	struct cu_vks_settings s = {7, 1};
	struct cu_vks_key d;
	int count = 0;

	assert_int_equal(cu_vks_settings_set(f->vks, &s), 0);
	s.purge_protection = 0;
	assert_int_equal(cu_vks_settings_set(f->vks, &s), CU_ERR_STATE);
	s.retention_days = 6;
	s.purge_protection = 1;
	assert_int_equal(cu_vks_settings_set(f->vks, &s), CU_ERR_RANGE);
	s.retention_days = 91;
	assert_int_equal(cu_vks_settings_set(f->vks, &s), CU_ERR_RANGE);
	assert_int_equal(cu_vks_create(f->vks, "p", &n, NULL, &d), 0);
	assert_string_equal(cu_vks_recovery_level(&d.settings),
	                    "CustomizedRecoverable");
	cu_vks_key_clear(&d);
	assert_int_equal(cu_vks_delete(f->vks, "p", &d), 0);
	assert_int_equal(d.scheduled_purge - d.deleted_date, 7 * 86400);
	cu_vks_key_clear(&d);
	assert_int_equal(cu_vks_purge(f->vks, "p"), CU_ERR_DENIED);
	/* the system purge at the scheduled date still runs */
	assert_int_equal(cu_vks_purge_due(f->vks, time(NULL), &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(
	    cu_vks_purge_due(f->vks, time(NULL) + 7 * 86400, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(cu_vks_get_deleted(f->vks, "p", &d), CU_ERR_NOTFOUND);
	s.retention_days = 90;
	s.purge_protection = 1;
	assert_string_equal(cu_vks_recovery_level(&s), "Recoverable");
	s.purge_protection = 0;
	s.retention_days = 30;
	assert_string_equal(cu_vks_recovery_level(&s),
	                    "CustomizedRecoverable+Purgeable");
}

static void backup_restores_only_when_the_name_is_free(void **state)
{
	struct fx *f = *state;
	struct cu_vks_new n = rsa_new();
	struct cu_vks_key a, r;
	unsigned char *blob = NULL;
	size_t len = 0;
	int cnt = 0, more = 0;

	assert_int_equal(cu_vks_create(f->vks, "b", &n, NULL, &a), 0);
	assert_int_equal(cu_vks_create(f->vks, "b", &n, NULL, NULL), 0);
	assert_int_equal(cu_vks_backup(f->vks, "b", &blob, &len), 0);
	/* a refused restore says whose the name is: a live key's... */
	assert_int_equal(cu_vks_restore(f->vks, blob, len, &r), CU_ERR_EXISTS);
	assert_string_equal(r.name, "b");
	assert_int_equal(r.deleted_date, 0);
	assert_null(r.pub);
	assert_int_equal(cu_vks_delete(f->vks, "b", NULL), 0);
	/* ...or a deleted one's */
	assert_int_equal(cu_vks_restore(f->vks, blob, len, &r), CU_ERR_EXISTS);
	assert_string_equal(r.name, "b");
	assert_true(r.deleted_date > 0);
	assert_int_equal(cu_vks_restore(f->vks, blob, len, NULL),
	                 CU_ERR_EXISTS);
	assert_int_equal(cu_vks_purge(f->vks, "b"), 0);
	blob[len / 2] ^= 1;
	assert_int_equal(cu_vks_restore(f->vks, blob, len, NULL), CU_ERR_AUTH);
	blob[len / 2] ^= 1;
	assert_int_equal(cu_vks_restore(f->vks, blob, len, &r), 0);
	assert_string_equal(r.name, "b");
	cu_vks_key_clear(&r);
	assert_int_equal(cu_vks_list(f->vks, "b", 0, 25, count_fn, &cnt, &more),
	                 0);
	assert_int_equal(cnt, 2);
	assert_int_equal(cu_vks_get(f->vks, "b", a.version, &r), 0);
	cu_vks_key_clear(&r);
	cu_vks_key_clear(&a);
	free(blob);
	assert_int_equal(cu_vks_backup(f->vks, "none", &blob, &len),
	                 CU_ERR_NOTFOUND);
}

static void names_ignore_case_and_keep_their_first_spelling(void **state)
{
	struct fx *f = *state;
	struct cu_vks_new n = {.kty = CU_VKO_OCT, .size = 256, .enabled = 1};
	struct cu_vks_key a, b, g;
	struct cu_vks_update u = {.has_enabled = 1, .enabled = 0};
	unsigned char *blob = NULL;
	size_t len = 0;
	cu_vko_t *k = NULL;
	int cnt = 0, more = 0;

	assert_int_equal(cu_vks_create(f->vks, "MyKey", &n, NULL, &a), 0);
	/* another spelling is the same key: a new version under MyKey */
	assert_int_equal(cu_vks_create(f->vks, "MYKEY", &n, NULL, &b), 0);
	assert_string_equal(b.name, "MyKey");
	assert_int_equal(cu_vks_get(f->vks, "mykey", NULL, &g), 0);
	assert_string_equal(g.name, "MyKey");
	assert_string_equal(g.version, b.version);
	cu_vks_key_clear(&g);
	assert_int_equal(
	    cu_vks_list(f->vks, NULL, 0, 25, count_fn, &cnt, &more), 0);
	assert_int_equal(cnt, 1);
	cnt = 0;
	assert_int_equal(
	    cu_vks_list(f->vks, "mYkEy", 0, 25, count_fn, &cnt, &more), 0);
	assert_int_equal(cnt, 2);
	/* the old version opens through any spelling (sealed to MyKey) */
	assert_int_equal(cu_vks_use(f->vks, "mykey", a.version,
	                            CU_VKS_OP_UNWRAP, time(NULL), &k, NULL,
	                            NULL),
	                 0);
	cu_vko_free(k);
	/* disabling through one spelling refuses the key through all */
	assert_int_equal(cu_vks_update(f->vks, "MYKEY", b.version, &u, &g), 0);
	assert_string_equal(g.name, "MyKey");
	cu_vks_key_clear(&g);
	assert_int_equal(cu_vks_use(f->vks, "MyKey", NULL, CU_VKS_OP_UNWRAP,
	                            time(NULL), &k, NULL, NULL),
	                 CU_ERR_STATE);
	/* backup keeps the first spelling; restore over any spelling is a
	 * conflict; delete, recover and purge take any spelling */
	assert_int_equal(cu_vks_backup(f->vks, "mykey", &blob, &len), 0);
	assert_int_equal(cu_vks_restore(f->vks, blob, len, NULL),
	                 CU_ERR_EXISTS);
	assert_int_equal(cu_vks_delete(f->vks, "mykey", &g), 0);
	assert_string_equal(g.name, "MyKey");
	cu_vks_key_clear(&g);
	assert_int_equal(cu_vks_create(f->vks, "MYKEY", &n, NULL, NULL),
	                 CU_ERR_EXISTS);
	assert_int_equal(cu_vks_get_deleted(f->vks, "MYKEY", &g), 0);
	cu_vks_key_clear(&g);
	assert_int_equal(cu_vks_recover(f->vks, "MYKEY", &g), 0);
	assert_string_equal(g.name, "MyKey");
	cu_vks_key_clear(&g);
	assert_int_equal(cu_vks_delete(f->vks, "MyKey", NULL), 0);
	assert_int_equal(cu_vks_purge(f->vks, "mykey"), 0);
	assert_int_equal(cu_vks_restore(f->vks, blob, len, &g), 0);
	assert_string_equal(g.name, "MyKey");
	cu_vks_key_clear(&g);
	free(blob);
	cu_vks_key_clear(&a);
	cu_vks_key_clear(&b);
}

static void paging_reports_more(void **state)
{
	struct fx *f = *state;
	struct cu_vks_new n = {.kty = CU_VKO_OCT, .size = 256, .enabled = 1};
	char name[16];
	int cnt = 0, more = 0;

	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		assert_int_equal(cu_vks_create(f->vks, name, &n, NULL, NULL),
		                 0);
	}
	assert_int_equal(cu_vks_list(f->vks, NULL, 0, 2, count_fn, &cnt, &more),
	                 0);
	assert_int_equal(cnt, 2);
	assert_int_equal(more, 1);
	cnt = 0;
	assert_int_equal(cu_vks_list(f->vks, NULL, 4, 2, count_fn, &cnt, &more),
	                 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(more, 0);
	assert_int_equal(cu_vks_list(f->vks, "zz", 0, 2, count_fn, &cnt, &more),
	                 CU_ERR_NOTFOUND);
}

static void events_record_the_key_lifecycle(void **state)
{
	struct fx *f = *state;
	struct cu_vks_new n = {.kty = CU_VKO_OCT, .size = 256, .enabled = 1};
	struct cu_vks_update u = {.has_enabled = 1, .enabled = 0};
	json_t *ev = NULL;
	int64_t last = 0;
	static const char *want[] = {
	    CU_VEV_CREATED, CU_VEV_NEW_VERSION, CU_VEV_DISABLED,
	    CU_VEV_ENABLED, CU_VEV_DISABLED,    CU_VEV_NEAR_EXPIRY,
	    CU_VEV_DELETED, CU_VEV_RECOVERED,
	};
	const size_t nwant = sizeof(want) / sizeof(want[0]);
	int count = 0;

	assert_int_equal(cu_vks_create(f->vks, "ev", &n, NULL, NULL), 0);
	assert_int_equal(cu_vks_create(f->vks, "ev", &n, NULL, NULL), 0);
	assert_int_equal(cu_vks_update(f->vks, "ev", NULL, &u, NULL), 0);
	/* enabling is recorded as disabling is */
	u.enabled = 1;
	assert_int_equal(cu_vks_update(f->vks, "ev", NULL, &u, NULL), 0);
	/* an update that leaves enabled as it is records nothing */
	assert_int_equal(cu_vks_update(f->vks, "ev", NULL, &u, NULL), 0);
	u.enabled = 0;
	u.has_exp = 1;
	u.exp = time(NULL) + 3600;
	assert_int_equal(cu_vks_update(f->vks, "ev", NULL, &u, NULL), 0);
	assert_int_equal(cu_vks_check_expiry(f->vks, time(NULL), 7200, &count),
	                 0);
	assert_int_equal(count, 1);
	assert_int_equal(cu_vks_check_expiry(f->vks, time(NULL), 7200, &count),
	                 0);
	assert_int_equal(count, 0);
	assert_int_equal(cu_vks_delete(f->vks, "ev", NULL), 0);
	assert_int_equal(cu_vks_recover(f->vks, "ev", NULL), 0);
	assert_int_equal(cu_vaudit_events(cu_vks_db(f->vks), 0, 100, &ev), 0);
	assert_int_equal(json_array_size(ev), nwant);
	for (size_t i = 0; i < nwant; i++)
		assert_string_equal(json_string_value(json_object_get(
		                        json_array_get(ev, i), "type")),
		                    want[i]);
	json_decref(ev);
	assert_int_equal(cu_vaudit_events(cu_vks_db(f->vks), 6, 100, &ev), 0);
	assert_int_equal(json_array_size(ev), 2);
	json_decref(ev);
	assert_int_equal(cu_vaudit_events_last(cu_vks_db(f->vks), &last), 0);
	assert_int_equal(last, (int64_t)nwant);
	assert_int_equal(cu_vks_wait(f->vks, (int64_t)nwant - 1, 10), 1);
	assert_int_equal(cu_vks_wait(f->vks, (int64_t)nwant, 10), 0);
}

static void
a_deleted_keys_near_expiry_is_told_once_it_is_recovered(void **state)
{
	struct fx *f = *state;
	struct cu_vks_new n = {.kty = CU_VKO_OCT, .size = 256, .enabled = 1};
	int64_t now = time(NULL);
	int count = -1;

	n.exp = now + 3600;
	assert_int_equal(cu_vks_create(f->vks, "gone", &n, NULL, NULL), 0);
	assert_int_equal(cu_vks_delete(f->vks, "gone", NULL), 0);
	assert_int_equal(cu_vks_check_expiry(f->vks, now, 7200, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(cu_vks_recover(f->vks, "gone", NULL), 0);
	assert_int_equal(cu_vks_check_expiry(f->vks, now, 7200, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(cu_vks_check_expiry(f->vks, now, 7200, &count), 0);
	assert_int_equal(count, 0);
	/* outside the window, nothing */
	n.exp = now + 3 * 3600;
	assert_int_equal(cu_vks_create(f->vks, "later", &n, NULL, NULL), 0);
	assert_int_equal(cu_vks_check_expiry(f->vks, now, 7200, &count), 0);
	assert_int_equal(count, 0);
}

static void rotation_policy_rotates_when_due(void **state)
{
	struct fx *f = *state;
	struct cu_vks_new n = {.kty = CU_VKO_OCT, .size = 256, .enabled = 1};
	json_t *pol =
	    json_pack("{s:[{s:{s:s},s:{s:s}}],s:{s:s}}", "lifetimeActions",
	              "trigger", "timeAfterCreate", "P30D", "action", "type",
	              "Rotate", "attributes", "expiryTime", "P90D");
	struct cu_vks_key k;
	int64_t secs = 0, now = time(NULL);
	int count = -1, cnt = 0, more = 0;

	assert_int_equal(cu_vks_duration("P90D", &secs), 0);
	assert_int_equal(secs, 90 * 86400);
	assert_int_equal(cu_vks_duration("P1Y", &secs), 0);
	assert_int_equal(secs, 365 * 86400);
	assert_int_equal(cu_vks_duration("P", &secs), CU_ERR_PARSE);
	assert_int_equal(cu_vks_duration("P1DT", &secs), CU_ERR_PARSE);
	assert_int_equal(cu_vks_duration("90D", &secs), CU_ERR_PARSE);
	assert_int_equal(cu_vks_create(f->vks, "r", &n, NULL, NULL), 0);
	assert_int_equal(cu_vks_create(f->vks, "norot", &n, NULL, NULL), 0);
	assert_int_equal(cu_vks_policy_set(f->vks, "r", pol), 0);
	assert_int_equal(cu_vks_rotate_due(f->vks, now, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(cu_vks_rotate_due(f->vks, now + 31 * 86400, &count),
	                 0);
	assert_int_equal(count, 1);
	assert_int_equal(cu_vks_list(f->vks, "r", 0, 25, count_fn, &cnt, &more),
	                 0);
	assert_int_equal(cnt, 2);
	/* the new version expires as the policy says */
	assert_int_equal(cu_vks_get(f->vks, "r", NULL, &k), 0);
	assert_true(k.exp >= now + 90 * 86400 && k.exp <= now + 90 * 86400 + 5);
	cu_vks_key_clear(&k);
	json_decref(pol);
}

/* Policies below Azure's floors, stored before the keys API refused them
 * (written here straight to the keystore): every version they make would
 * be due at once, so maintenance leaves them alone. */
static void policies_below_the_floors_never_rotate(void **state)
{
	struct fx *f = *state;
	struct cu_vks_new n = {.kty = CU_VKO_OCT, .size = 256, .enabled = 1};
	json_t *zero = json_pack(
	    "{s:[{s:{s:s},s:{s:s}}],s:{}}", "lifetimeActions", "trigger",
	    "timeAfterCreate", "P0D", "action", "type", "Rotate", "attributes");
	json_t *tight =
	    json_pack("{s:[{s:{s:s},s:{s:s}}],s:{s:s}}", "lifetimeActions",
	              "trigger", "timeBeforeExpiry", "P28D", "action", "type",
	              "Rotate", "attributes", "expiryTime", "P28D");
	json_t *fine =
	    json_pack("{s:[{s:{s:s},s:{s:s}}],s:{s:s}}", "lifetimeActions",
	              "trigger", "timeBeforeExpiry", "P21D", "action", "type",
	              "Rotate", "attributes", "expiryTime", "P28D");
	int64_t now = time(NULL);
	int count = -1, cnt = 0, more = 0;

	n.exp = now + 10 * 86400;
	assert_int_equal(cu_vks_create(f->vks, "zero", &n, NULL, NULL), 0);
	assert_int_equal(cu_vks_create(f->vks, "tight", &n, NULL, NULL), 0);
	assert_int_equal(cu_vks_create(f->vks, "fine", &n, NULL, NULL), 0);
	assert_int_equal(cu_vks_policy_set(f->vks, "zero", zero), 0);
	assert_int_equal(cu_vks_policy_set(f->vks, "tight", tight), 0);
	assert_int_equal(cu_vks_policy_set(f->vks, "fine", fine), 0);
	/* due: only the policy within the floors */
	assert_int_equal(cu_vks_rotate_due(f->vks, now + 60, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(
	    cu_vks_list(f->vks, "fine", 0, 25, count_fn, &cnt, &more), 0);
	assert_int_equal(cnt, 2);
	/* and again on the next pass: nothing (the new version of "fine"
	 * expires in 28 days, 7 more than its trigger) */
	assert_int_equal(cu_vks_rotate_due(f->vks, now + 120, &count), 0);
	assert_int_equal(count, 0);
	json_decref(zero);
	json_decref(tight);
	json_decref(fine);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(a_new_vault_has_a_private_master_key),
	    T(create_adds_versions_and_latest_follows),
	    T(the_database_never_holds_plaintext_material),
	    T(disabled_expired_early_and_ops_limits_are_refused),
	    T(a_cached_key_is_refused_as_soon_as_its_row_says_so),
	    T(soft_delete_recover_and_purge),
	    T(purge_protection_refuses_purge_and_cannot_be_undone),
	    T(backup_restores_only_when_the_name_is_free),
	    T(names_ignore_case_and_keep_their_first_spelling),
	    T(paging_reports_more),
	    T(events_record_the_key_lifecycle),
	    T(a_deleted_keys_near_expiry_is_told_once_it_is_recovered),
	    T(rotation_policy_rotates_when_due),
	    T(policies_below_the_floors_never_rotate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

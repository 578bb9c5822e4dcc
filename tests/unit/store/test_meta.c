/* Unit tests for store/meta: tenants, access keys, tenant keys, buckets
 * and objects, scoped by tenant. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/meta.h"

static const unsigned char hash[CU_SMETA_HASH_LEN] = {1, 2, 3};

static void add_tenant(cu_smeta_t *m, const char *id, const char *name,
                       const char *akid)
{
	struct cu_smeta_tenant_new t = {
	    .id = id,
	    .name = name,
	    .admin_token_hash = hash,
	    .access_key_id = akid,
	    .secret_sealed = (const unsigned char *)"sealed-secret",
	    .secret_sealed_len = 13,
	    .tk_wrapped = (const unsigned char *)"wrapped-tk-v1-40-bytes",
	    .tk_wrapped_len = 22,
	    .root = "file",
	    .created = 1700000000,
	};
	assert_int_equal(cu_smeta_tenant_create(m, &t), 0);
}

static int setup(void **state)
{
	cu_smeta_t *m = NULL;

	if (cu_smeta_open(":memory:", &m) != 0)
		return -1;
	add_tenant(m, "ta", "alpha", "AKIDALPHA");
	add_tenant(m, "tb", "beta", "AKIDBETA");
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	cu_smeta_close(*state);
	return 0;
}

static void obj(struct cu_smeta_object *o, const char *key, const char *vid,
                const char *path)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->key, sizeof(o->key), "%s", key);
	o->key_len = strlen(key);
	snprintf(o->version_id, sizeof(o->version_id), "%s", vid);
	o->size = 5;
	snprintf(o->etag, sizeof(o->etag), "\"e\"");
	o->tk_version = 1;
	snprintf(o->path, sizeof(o->path), "%s", path);
	o->created = 1700000001;
}

static void tenants_are_created_listed_and_unique(void **state)
{
	cu_smeta_t *m = *state;
	struct cu_smeta_tenant t;
	struct cu_smeta_tenant_new dup = {
	    .id = "tc",
	    .name = "alpha",
	    .admin_token_hash = hash,
	    .access_key_id = "AKIDC",
	    .secret_sealed = (const unsigned char *)"s",
	    .secret_sealed_len = 1,
	    .tk_wrapped = (const unsigned char *)"w",
	    .tk_wrapped_len = 1,
	    .root = "file",
	};
	unsigned char h[CU_SMETA_HASH_LEN];

	assert_int_equal(cu_smeta_tenant_get(m, "ta", &t), 0);
	assert_string_equal(t.name, "alpha");
	assert_string_equal(t.state, "system_managed");
	assert_int_equal(cu_smeta_tenant_get(m, "zz", &t), CU_ERR_NOTFOUND);
	assert_int_equal(cu_smeta_tenant_create(m, &dup), CU_ERR_EXISTS);
	/* the failed create left nothing behind, not even its access key */
	{
		char tenant[CU_SMETA_ID_MAX + 1];
		unsigned char s[64];
		size_t n;
		assert_int_equal(
		    cu_smeta_akey_get(m, "AKIDC", 5, tenant, s, sizeof(s), &n),
		    CU_ERR_NOTFOUND);
	}
	assert_int_equal(cu_smeta_tenant_token_hash(m, "tb", h), 0);
	assert_memory_equal(h, hash, sizeof(h));
}

static void access_keys_resolve_to_their_tenant(void **state)
{
	cu_smeta_t *m = *state;
	char tenant[CU_SMETA_ID_MAX + 1];
	unsigned char s[64];
	size_t n = 0;

	assert_int_equal(
	    cu_smeta_akey_get(m, "AKIDBETA", 8, tenant, s, sizeof(s), &n), 0);
	assert_string_equal(tenant, "tb");
	assert_int_equal(n, 13);
	assert_memory_equal(s, "sealed-secret", 13);
	/* a prefix of a key id is not that key */
	assert_int_equal(
	    cu_smeta_akey_get(m, "AKIDBETA", 7, tenant, s, sizeof(s), &n),
	    CU_ERR_NOTFOUND);
	assert_int_equal(cu_smeta_akey_get(m, "AKIDBETA", 8, tenant, s, 4, &n),
	                 CU_ERR_RANGE);
}

static void tenant_key_versions(void **state)
{
	cu_smeta_t *m = *state;
	unsigned char w[64];
	size_t n = 0;
	uint32_t v = 0;

	assert_int_equal(cu_smeta_tk_get(m, "ta", 0, w, sizeof(w), &n, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(cu_smeta_tk_put(m, "ta", 2, "v2", 2, "file"), 0);
	assert_int_equal(cu_smeta_tk_put(m, "ta", 2, "v2", 2, "file"),
	                 CU_ERR_EXISTS);
	assert_int_equal(cu_smeta_tk_get(m, "ta", 0, w, sizeof(w), &n, &v), 0);
	assert_int_equal(v, 2);
	assert_memory_equal(w, "v2", 2);
	assert_int_equal(cu_smeta_tk_get(m, "ta", 1, w, sizeof(w), &n, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(cu_smeta_tk_get(m, "tb", 7, w, sizeof(w), &n, &v),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_smeta_tk_put(m, "nobody", 1, "x", 1, "file"),
	                 CU_ERR_NOTFOUND);
}

static int count_bucket(void *arg, const char *name, int64_t created)
{
	(void)name;
	(void)created;
	(*(int *)arg)++;
	return 0;
}

static void buckets_are_per_tenant(void **state)
{
	cu_smeta_t *m = *state;
	struct cu_smeta_object o;
	char old[CU_SMETA_PATH_MAX + 1];
	int n = 0, replaced;

	assert_int_equal(cu_smeta_bucket_create(m, "ta", "same", 1), 0);
	assert_int_equal(cu_smeta_bucket_create(m, "tb", "same", 1), 0);
	assert_int_equal(cu_smeta_bucket_create(m, "ta", "same", 1),
	                 CU_ERR_EXISTS);
	assert_int_equal(cu_smeta_bucket_create(m, "ghost", "b", 1),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_smeta_bucket_list(m, "ta", count_bucket, &n), 0);
	assert_int_equal(n, 1);
	obj(&o, "k", "v1", "objects/ta/v1/v1");
	assert_int_equal(
	    cu_smeta_object_put(m, "ta", "same", &o, old, &replaced), 0);
	assert_int_equal(cu_smeta_bucket_delete(m, "ta", "same"), CU_ERR_STATE);
	/* beta's bucket of the same name is empty and independent */
	assert_int_equal(cu_smeta_object_get(m, "tb", "same", "k", 1, &o),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_smeta_bucket_delete(m, "tb", "same"), 0);
	assert_int_equal(cu_smeta_bucket_delete(m, "tb", "same"),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_smeta_bucket_get(m, "ta", "same", NULL), 0);
}

static void one_current_version_per_key(void **state)
{
	cu_smeta_t *m = *state;
	struct cu_smeta_object o, got;
	char old[CU_SMETA_PATH_MAX + 1];
	int replaced = -1, deleted = -1;

	assert_int_equal(cu_smeta_bucket_create(m, "ta", "b", 1), 0);
	obj(&o, "dir/k", "v1", "objects/ta/v1/v1");
	o.meta_sealed = (unsigned char *)"sealed-meta";
	o.meta_sealed_len = 11;
	assert_int_equal(cu_smeta_object_put(m, "ta", "b", &o, old, &replaced),
	                 0);
	assert_int_equal(replaced, 0);
	obj(&o, "dir/k", "v2", "objects/ta/v2/v2");
	assert_int_equal(cu_smeta_object_put(m, "ta", "b", &o, old, &replaced),
	                 0);
	assert_int_equal(replaced, 1);
	assert_string_equal(old, "objects/ta/v1/v1");
	assert_int_equal(cu_smeta_object_get(m, "ta", "b", "dir/k", 5, &got),
	                 0);
	assert_string_equal(got.version_id, "v2");
	assert_null(got.meta_sealed);
	cu_smeta_object_clear(&got);
	assert_int_equal(
	    cu_smeta_object_put(m, "ta", "nobucket", &o, old, &replaced),
	    CU_ERR_NOTFOUND);
	assert_int_equal(cu_smeta_object_put(m, "tb", "b", &o, old, &replaced),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(
	    cu_smeta_object_delete(m, "ta", "b", "dir/k", 5, old, &deleted), 0);
	assert_int_equal(deleted, 1);
	assert_string_equal(old, "objects/ta/v2/v2");
	assert_int_equal(
	    cu_smeta_object_delete(m, "ta", "b", "dir/k", 5, old, &deleted), 0);
	assert_int_equal(deleted, 0);
}

/* An object row comes back the same from the database and from the
 * memo, and any change is seen by the very next read. */
static void object_rows_from_the_memo_follow_every_change(void **state)
{
	cu_smeta_t *m = *state;
	struct cu_smeta_object o, got[2];
	char old[CU_SMETA_PATH_MAX + 1];
	uint64_t h0, h1, miss0, miss1;
	int replaced = -1, deleted = -1;

	assert_int_equal(cu_smeta_bucket_create(m, "ta", "b", 1), 0);
	assert_int_equal(cu_smeta_bucket_create(m, "tb", "b", 1), 0);
	obj(&o, "k", "v1", "objects/ta/v1/v1");
	snprintf(o.content_type, sizeof(o.content_type), "text/plain");
	o.meta_sealed = (unsigned char *)"sealed-meta";
	o.meta_sealed_len = 11;
	o.tk_version = 3;
	o.size = 123456789012ull;
	assert_int_equal(cu_smeta_object_put(m, "ta", "b", &o, old, &replaced),
	                 0);
	cu_smeta_memo_stats(m, &h0, &miss0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(
		    cu_smeta_object_get(m, "ta", "b", "k", 1, &got[i]), 0);
	cu_smeta_memo_stats(m, &h1, &miss1);
	assert_int_equal(h1 - h0, 1);
	assert_int_equal(miss1 - miss0, 1);
	for (int i = 0; i < 2; i++) {
		assert_string_equal(got[i].key, "k");
		assert_int_equal(got[i].key_len, 1);
		assert_string_equal(got[i].version_id, "v1");
		assert_string_equal(got[i].etag, "\"e\"");
		assert_string_equal(got[i].content_type, "text/plain");
		assert_string_equal(got[i].path, "objects/ta/v1/v1");
		assert_true(got[i].size == 123456789012ull);
		assert_int_equal(got[i].tk_version, 3);
		assert_int_equal(got[i].created, 1700000001);
		assert_int_equal(got[i].parts, 0);
		assert_int_equal(got[i].meta_sealed_len, 11);
		assert_memory_equal(got[i].meta_sealed, "sealed-meta", 11);
		cu_smeta_object_clear(&got[i]);
	}
	/* the other tenant's bucket of the same name holds nothing */
	assert_int_equal(cu_smeta_object_get(m, "tb", "b", "k", 1, &got[0]),
	                 CU_ERR_NOTFOUND);
	/* replaced: the next read has the new version */
	obj(&o, "k", "v2", "objects/ta/v2/v2");
	assert_int_equal(cu_smeta_object_put(m, "ta", "b", &o, old, &replaced),
	                 0);
	assert_int_equal(cu_smeta_object_get(m, "ta", "b", "k", 1, &got[0]), 0);
	assert_string_equal(got[0].version_id, "v2");
	assert_null(got[0].meta_sealed);
	cu_smeta_object_clear(&got[0]);
	/* deleted: gone at once */
	assert_int_equal(
	    cu_smeta_object_delete(m, "ta", "b", "k", 1, old, &deleted), 0);
	assert_int_equal(deleted, 1);
	assert_int_equal(cu_smeta_object_get(m, "ta", "b", "k", 1, &got[0]),
	                 CU_ERR_NOTFOUND);
}

struct keys {
	char k[16][32];
	int n;
};

static int collect(void *arg, const struct cu_smeta_object *o)
{
	struct keys *ks = arg;

	size_t n = o->key_len < 31 ? o->key_len : 31;

	memcpy(ks->k[ks->n], o->key, n);
	ks->k[ks->n++][n] = '\0';
	return ks->n >= 16;
}

static void listing_is_bytewise_with_prefix_and_cursor(void **state)
{
	cu_smeta_t *m = *state;
	static const char *const keys[] = {"a", "a/1",      "a/2",  "ab",
	                                   "b", "\xc3\xa9", "a\x7f"};
	struct cu_smeta_object o;
	char old[CU_SMETA_PATH_MAX + 1], vid[8];
	struct keys ks = {0};
	int replaced;

	assert_int_equal(cu_smeta_bucket_create(m, "ta", "b", 1), 0);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(vid, sizeof(vid), "v%zu", i);
		obj(&o, keys[i], vid, "objects/x");
		assert_int_equal(
		    cu_smeta_object_put(m, "ta", "b", &o, old, &replaced), 0);
	}
	assert_int_equal(cu_smeta_object_list(m, "ta", "b", NULL, 0, NULL, 0,
	                                      100, collect, &ks),
	                 0);
	assert_int_equal(ks.n, 7);
	assert_string_equal(ks.k[0], "a");
	assert_string_equal(ks.k[1], "a/1");
	assert_string_equal(ks.k[3], "ab");
	assert_string_equal(ks.k[4], "a\x7f"); /* bytewise: 'b' < 0x7f */
	assert_string_equal(ks.k[6], "\xc3\xa9");
	ks.n = 0;
	assert_int_equal(cu_smeta_object_list(m, "ta", "b", "a/", 2, NULL, 0,
	                                      100, collect, &ks),
	                 0);
	assert_int_equal(ks.n, 2);
	ks.n = 0;
	/* after "a/" || 0xff: everything under a/ is skipped */
	assert_int_equal(cu_smeta_object_list(m, "ta", "b", "a", 1, "a/\xff", 3,
	                                      100, collect, &ks),
	                 0);
	assert_int_equal(ks.n, 2);
	assert_string_equal(ks.k[0], "ab");
	assert_string_equal(ks.k[1], "a\x7f");
	ks.n = 0;
	assert_int_equal(cu_smeta_object_list(m, "ta", "b", NULL, 0, NULL, 0, 2,
	                                      collect, &ks),
	                 0);
	assert_int_equal(ks.n, 2);
	ks.n = 0;
	assert_int_equal(cu_smeta_object_list(m, "tb", "b", NULL, 0, NULL, 0,
	                                      100, collect, &ks),
	                 0);
	assert_int_equal(ks.n, 0);
}

static int count_part(void *arg, const struct cu_smeta_part *p)
{
	(void)p;
	(*(int *)arg)++;
	return 0;
}

static void multipart_upload_lifecycle(void **state)
{
	cu_smeta_t *m = *state;
	struct cu_smeta_upload u, got;
	struct cu_smeta_part p = {0}, chosen[1];
	struct cu_smeta_object o, cur;
	char old[CU_SMETA_PATH_MAX + 1], oldf[CU_SMETA_VID_MAX + 1];
	int replaced = -1, n = 0;

	assert_int_equal(cu_smeta_bucket_create(m, "ta", "b", 1), 0);
	memset(&u, 0, sizeof(u));
	snprintf(u.upload_id, sizeof(u.upload_id), "abc123");
	snprintf(u.key, sizeof(u.key), "big");
	u.key_len = 3;
	u.tk_version = 1;
	snprintf(u.path, sizeof(u.path), "objects/ta/ab/abc123.mp");
	assert_int_equal(cu_smeta_upload_create(m, "ta", "b", &u), 0);
	assert_int_equal(cu_smeta_upload_create(m, "ta", "nob", &u),
	                 CU_ERR_NOTFOUND);
	/* another tenant cannot see or use it */
	assert_int_equal(cu_smeta_upload_get(m, "tb", "b", "abc123", &got),
	                 CU_ERR_NOTFOUND);
	p.number = 1;
	p.size = 10;
	snprintf(p.etag, sizeof(p.etag), "\"e1\"");
	snprintf(p.file, sizeof(p.file), "p1xaa");
	assert_int_equal(
	    cu_smeta_part_put(m, "tb", "b", "abc123", &p, oldf, &replaced),
	    CU_ERR_NOTFOUND);
	assert_int_equal(
	    cu_smeta_part_put(m, "ta", "b", "abc123", &p, oldf, &replaced), 0);
	assert_int_equal(replaced, 0);
	snprintf(p.file, sizeof(p.file), "p1xbb");
	assert_int_equal(
	    cu_smeta_part_put(m, "ta", "b", "abc123", &p, oldf, &replaced), 0);
	assert_int_equal(replaced, 1);
	assert_string_equal(oldf, "p1xaa");
	assert_int_equal(
	    cu_smeta_part_list(m, "abc123", 0, 100, count_part, &n), 0);
	assert_int_equal(n, 1);
	/* a bucket with an upload in progress is not empty */
	assert_int_equal(cu_smeta_bucket_delete(m, "ta", "b"), CU_ERR_STATE);

	obj(&o, "big", "abc123", "objects/ta/ab/abc123.mp");
	o.parts = 1;
	o.size = 10;
	chosen[0] = p;
	assert_int_equal(cu_smeta_upload_complete(m, "ta", "b", "abc123", &o,
	                                          chosen, 1, old, &replaced),
	                 0);
	assert_int_equal(replaced, 0);
	assert_int_equal(cu_smeta_upload_get(m, "ta", "b", "abc123", &got),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_smeta_object_get(m, "ta", "b", "big", 3, &cur), 0);
	assert_int_equal(cur.parts, 1);
	cu_smeta_object_clear(&cur);
	n = 0;
	assert_int_equal(
	    cu_smeta_object_parts(m, "ta", "b", "abc123", count_part, &n), 0);
	assert_int_equal(n, 1);
	/* completing twice: the upload is gone */
	assert_int_equal(cu_smeta_upload_complete(m, "ta", "b", "abc123", &o,
	                                          chosen, 1, old, &replaced),
	                 CU_ERR_NOTFOUND);
	/* replacing the multipart version drops its manifest */
	obj(&o, "big", "v9", "objects/ta/v9/v9");
	assert_int_equal(cu_smeta_object_put(m, "ta", "b", &o, old, &replaced),
	                 0);
	assert_int_equal(replaced, 1);
	assert_string_equal(old, "objects/ta/ab/abc123.mp");
	n = 0;
	assert_int_equal(
	    cu_smeta_object_parts(m, "ta", "b", "abc123", count_part, &n), 0);
	assert_int_equal(n, 0);
	/* abort */
	snprintf(u.upload_id, sizeof(u.upload_id), "def456");
	assert_int_equal(cu_smeta_upload_create(m, "ta", "b", &u), 0);
	assert_int_equal(
	    cu_smeta_part_put(m, "ta", "b", "def456", &p, oldf, &replaced), 0);
	assert_int_equal(cu_smeta_upload_abort(m, "tb", "b", "def456", old),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_smeta_upload_abort(m, "ta", "b", "def456", old), 0);
	assert_string_equal(old, "objects/ta/ab/abc123.mp");
	n = 0;
	assert_int_equal(
	    cu_smeta_part_list(m, "def456", 0, 100, count_part, &n), 0);
	assert_int_equal(n, 0);
}

static int in_use(cu_smeta_t *m, const char *path, const char *file)
{
	int u = -1;

	assert_int_equal(cu_smeta_path_in_use(m, path, file, &u), 0);
	assert_true(u == 0 || u == 1);
	return u;
}

/* What the start-up sweep keeps: files and multipart directories that a
 * version or an upload references, and inside a multipart directory only
 * the part files that a part row names. */
static void data_files_in_use_are_told_from_orphans(void **state)
{
	cu_smeta_t *m = *state;
	const char *dir = "objects/ta/aa/aaa111.mp";
	struct cu_smeta_upload u;
	struct cu_smeta_part p = {0}, chosen[1];
	struct cu_smeta_object o;
	char old[CU_SMETA_PATH_MAX + 1], oldf[CU_SMETA_VID_MAX + 1];
	int replaced = 0;

	assert_int_equal(cu_smeta_bucket_create(m, "ta", "b", 1), 0);
	obj(&o, "single", "v1", "objects/ta/v1/v1");
	assert_int_equal(cu_smeta_object_put(m, "ta", "b", &o, old, &replaced),
	                 0);
	assert_int_equal(in_use(m, "objects/ta/v1/v1", NULL), 1);
	assert_int_equal(in_use(m, "objects/ta/v2/v2", NULL), 0);
	assert_int_equal(in_use(m, dir, NULL), 0);

	memset(&u, 0, sizeof(u));
	snprintf(u.upload_id, sizeof(u.upload_id), "aaa111");
	snprintf(u.key, sizeof(u.key), "big");
	u.key_len = 3;
	u.tk_version = 1;
	snprintf(u.path, sizeof(u.path), "%s", dir);
	assert_int_equal(cu_smeta_upload_create(m, "ta", "b", &u), 0);
	assert_int_equal(in_use(m, dir, NULL), 1);
	assert_int_equal(in_use(m, dir, "p1xaa"), 0);
	p.size = 10;
	snprintf(p.etag, sizeof(p.etag), "\"e\"");
	for (uint32_t i = 1; i <= 2; i++) {
		p.number = i;
		snprintf(p.file, sizeof(p.file), "p%ux%s", (unsigned)i,
		         i == 1 ? "aa" : "bb");
		assert_int_equal(cu_smeta_part_put(m, "ta", "b", "aaa111", &p,
		                                   oldf, &replaced),
		                 0);
	}
	/* a part re-sent: the file it replaced is no one's */
	snprintf(p.file, sizeof(p.file), "p2xcc");
	assert_int_equal(
	    cu_smeta_part_put(m, "ta", "b", "aaa111", &p, oldf, &replaced), 0);
	assert_int_equal(in_use(m, dir, "p1xaa"), 1);
	assert_int_equal(in_use(m, dir, "p2xcc"), 1);
	assert_int_equal(in_use(m, dir, "p2xbb"), 0);
	assert_int_equal(in_use(m, dir, "p3xdd"), 0); /* cut off by a crash */
	assert_int_equal(in_use(m, "objects/ta/bb/other.mp", "p1xaa"), 0);
	assert_int_equal(in_use(m, "objects/ta/v1/v1", "p1xaa"), 0);

	/* completed with part 1 only: part 2's file is no one's */
	obj(&o, "big", "aaa111", dir);
	o.parts = 1;
	o.size = 10;
	p.number = 1;
	snprintf(p.file, sizeof(p.file), "p1xaa");
	chosen[0] = p;
	assert_int_equal(cu_smeta_upload_complete(m, "ta", "b", "aaa111", &o,
	                                          chosen, 1, old, &replaced),
	                 0);
	assert_int_equal(in_use(m, dir, NULL), 1);
	assert_int_equal(in_use(m, dir, "p1xaa"), 1);
	assert_int_equal(in_use(m, dir, "p2xcc"), 0);
	assert_int_equal(cu_smeta_path_in_use(NULL, dir, NULL, &replaced),
	                 CU_ERR_INVAL);
}

static int count_key(void *arg, const struct cu_smeta_akey *k)
{
	if (k->active)
		(*(int *)arg)++;
	return 0;
}

static void access_keys_are_added_revoked_and_tenants_deleted(void **state)
{
	cu_smeta_t *m = *state;
	char tenant[CU_SMETA_ID_MAX + 1];
	struct cu_smeta_tenant t;
	unsigned char s[64];
	size_t n = 0;
	int active = 0;

	assert_int_equal(cu_smeta_akey_add(m, "ta", "AK2", "sealed2", 7, 5), 0);
	assert_int_equal(cu_smeta_akey_add(m, "ta", "AK2", "sealed2", 7, 5),
	                 CU_ERR_EXISTS);
	assert_int_equal(cu_smeta_akey_add(m, "ghost", "AK3", "s", 1, 5),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_smeta_akey_list(m, "ta", count_key, &active), 0);
	assert_int_equal(active, 2);
	/* asked twice (the second from the memo), then revoked: refused at
	 * once */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(
		    cu_smeta_akey_get(m, "AK2", 3, tenant, s, sizeof(s), &n),
		    0);
		assert_string_equal(tenant, "ta");
		assert_int_equal(n, 7);
		assert_memory_equal(s, "sealed2", 7);
	}
	assert_int_equal(
	    cu_smeta_akey_get(m, "AKIDBETA", 8, tenant, s, sizeof(s), &n), 0);
	/* only the owner's revoke counts */
	assert_int_equal(cu_smeta_akey_revoke(m, "tb", "AK2"), CU_ERR_NOTFOUND);
	assert_int_equal(
	    cu_smeta_akey_get(m, "AK2", 3, tenant, s, sizeof(s), &n), 0);
	assert_int_equal(cu_smeta_akey_revoke(m, "ta", "AK2"), 0);
	assert_int_equal(cu_smeta_akey_revoke(m, "ta", "AK2"), CU_ERR_NOTFOUND);
	assert_int_equal(
	    cu_smeta_akey_get(m, "AK2", 3, tenant, s, sizeof(s), &n),
	    CU_ERR_NOTFOUND);
	active = 0;
	assert_int_equal(cu_smeta_akey_list(m, "ta", count_key, &active), 0);
	assert_int_equal(active, 1);
	/* a tenant with a bucket stays */
	assert_int_equal(cu_smeta_bucket_create(m, "tb", "b", 1), 0);
	assert_int_equal(cu_smeta_tenant_delete(m, "tb"), CU_ERR_STATE);
	assert_int_equal(cu_smeta_bucket_delete(m, "tb", "b"), 0);
	assert_int_equal(cu_smeta_tenant_delete(m, "tb"), 0);
	assert_int_equal(cu_smeta_tenant_delete(m, "tb"), CU_ERR_NOTFOUND);
	assert_int_equal(cu_smeta_tenant_get(m, "tb", &t), CU_ERR_NOTFOUND);
	assert_int_equal(
	    cu_smeta_akey_get(m, "AKIDBETA", 8, tenant, s, sizeof(s), &n),
	    CU_ERR_NOTFOUND);
}

static int count_event(void *arg, int64_t seq, int64_t ts, const char *type,
                       const char *detail)
{
	(void)seq;
	(void)ts;
	(void)detail;
	assert_string_equal(type, "state_changed");
	(*(int *)arg)++;
	return 0;
}

static void wraps_are_replaced_together_and_shredded(void **state)
{
	cu_smeta_t *m = *state;
	unsigned char a[8] = {1}, b[8] = {2}, out[64];
	struct cu_smeta_wrap w[2] = {{1, "https://v/keys/k1", a, sizeof(a)},
	                             {1, CU_SMETA_ROOT_AVK, b, sizeof(b)}};
	uint32_t vers[4];
	size_t n = 0, len = 0;
	char *doc = NULL;
	int ev = 0;

	assert_int_equal(cu_smeta_tk_set_wraps(m, "ta", w, 2), 0);
	assert_int_equal(
	    cu_smeta_tk_get(m, "ta", 1, out, sizeof(out), &len, NULL), 0);
	assert_int_equal(len, 0); /* no system-key wrap any more */
	assert_int_equal(cu_smeta_tk_wrap_get(m, "ta", 1, "https://v/keys/k1",
	                                      out, sizeof(out), &len),
	                 0);
	assert_memory_equal(out, a, sizeof(a));
	assert_int_equal(cu_smeta_tk_wrap_get(m, "tb", 1, CU_SMETA_ROOT_AVK,
	                                      out, sizeof(out), &len),
	                 CU_ERR_NOTFOUND);
	/* a roll adds version 2 with its wraps */
	w[0].version = w[1].version = 2;
	assert_int_equal(cu_smeta_tk_add(m, "ta", 2, w, 2), 0);
	assert_int_equal(cu_smeta_tk_versions(m, "ta", vers, 4, &n), 0);
	assert_int_equal(n, 2);
	/* a version missing from the new set keeps no wrap */
	w[0].version = 1;
	w[0].root = CU_SMETA_ROOT_SYSTEM;
	assert_int_equal(cu_smeta_tk_set_wraps(m, "ta", w, 1), 0);
	assert_int_equal(
	    cu_smeta_tk_get(m, "ta", 1, out, sizeof(out), &len, NULL), 0);
	assert_int_equal(len, sizeof(a));
	assert_int_equal(cu_smeta_tk_wrap_get(m, "ta", 2, CU_SMETA_ROOT_AVK,
	                                      out, sizeof(out), &len),
	                 CU_ERR_NOTFOUND);
	/* the document, state and events */
	assert_int_equal(cu_smeta_cmk_get(m, "ta", &doc), CU_ERR_NOTFOUND);
	assert_int_equal(cu_smeta_cmk_put(m, "ta", "{}", "active"), 0);
	assert_int_equal(cu_smeta_cmk_get(m, "ta", &doc), 0);
	assert_string_equal(doc, "{}");
	free(doc);
	assert_int_equal(cu_smeta_cmk_put(m, "nope", "{}", "active"),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_smeta_event_add(m, "ta", 1, "state_changed", "{}"),
	                 0);
	assert_int_equal(cu_smeta_event_list(m, "ta", 0, 10, count_event, &ev),
	                 0);
	assert_int_equal(ev, 1);
	/* purge: every wrap and version gone, the tenant stays */
	assert_int_equal(cu_smeta_tenant_shred(m, "ta"), 0);
	assert_int_equal(cu_smeta_tk_versions(m, "ta", vers, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(
	    cu_smeta_tk_get(m, "ta", 0, out, sizeof(out), &len, NULL),
	    CU_ERR_NOTFOUND);
	assert_int_equal(cu_smeta_tenant_set_state(m, "ta", "purged"), 0);
	assert_int_equal(cu_smeta_tk_versions(m, "tb", vers, 4, &n), 0);
	assert_int_equal(n, 1);
}

static void reader_tokens_are_per_tenant(void **state)
{
	cu_smeta_t *m = *state;
	unsigned char h1[CU_SMETA_HASH_LEN] = {9}, h2[CU_SMETA_HASH_LEN] = {8};

	assert_int_equal(cu_smeta_reader_add(m, "ta", h1, 1), 0);
	assert_int_equal(cu_smeta_reader_add(m, "ta", h1, 1), CU_ERR_EXISTS);
	assert_int_equal(cu_smeta_reader_check(m, "ta", h1), 0);
	assert_int_equal(cu_smeta_reader_check(m, "tb", h1), CU_ERR_NOTFOUND);
	assert_int_equal(cu_smeta_reader_check(m, "ta", h2), CU_ERR_NOTFOUND);
	/* no token for a tenant that does not exist */
	assert_int_equal(cu_smeta_reader_add(m, "nope", h2, 1), 0);
	assert_int_equal(cu_smeta_reader_check(m, "nope", h2), CU_ERR_NOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        tenants_are_created_listed_and_unique, setup, teardown),
	    cmocka_unit_test_setup_teardown(access_keys_resolve_to_their_tenant,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(tenant_key_versions, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(buckets_are_per_tenant, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        object_rows_from_the_memo_follow_every_change, setup, teardown),
	    cmocka_unit_test_setup_teardown(one_current_version_per_key, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        listing_is_bytewise_with_prefix_and_cursor, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        data_files_in_use_are_told_from_orphans, setup, teardown),
	    cmocka_unit_test_setup_teardown(multipart_upload_lifecycle, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        access_keys_are_added_revoked_and_tenants_deleted, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        wraps_are_replaced_together_and_shredded, setup, teardown),
	    cmocka_unit_test_setup_teardown(reader_tokens_are_per_tenant, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

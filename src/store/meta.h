/* meta.h - the store's metadata: tenants, access keys, tenant keys,
 * buckets and objects, in SQLite (core/db.h: WAL, full fsync).
 *
 * Every object and bucket call is scoped by a tenant id: there is no way
 * to name a bucket or object without its tenant, which is how tenants
 * stay isolated whatever their bucket names.
 *
 * Objects: a row exists only for a key's one current version; a new
 * version replaces it in one transaction (cu_smeta_object_put), which is
 * the moment the new version becomes visible. The data files themselves
 * are the caller's (store/objfile.h); this module only records their
 * relative paths and hands back the path of a version it replaced or
 * deleted so the caller can remove the file after the commit.
 *
 * Secrets: rows hold access-key secrets sealed (never in clear), tenant
 * keys wrapped, admin tokens as SHA-256 hashes, user metadata sealed
 * (with the standard headers, store/objmeta.h).
 * This module stores those bytes without interpreting them. */
#ifndef CU_STORE_META_H
#define CU_STORE_META_H

#include <stddef.h>
#include <stdint.h>

#define CU_SMETA_ID_MAX     64   /* tenant ids, access key ids */
#define CU_SMETA_NAME_MAX   64   /* tenant names */
#define CU_SMETA_STATE_MAX  24   /* "system_managed", ... */
#define CU_SMETA_BUCKET_MAX 63   /* S3 bucket names */
#define CU_SMETA_KEY_MAX    1024 /* S3 object keys, bytes */
#define CU_SMETA_VID_MAX    64   /* object version ids */
#define CU_SMETA_ETAG_MAX   80   /* quoted ETag */
#define CU_SMETA_CTYPE_MAX  1024 /* Content-Type */
#define CU_SMETA_PATH_MAX   256  /* data file path, relative */
#define CU_SMETA_BLOB_MAX   8192 /* sealed secrets, wrapped keys */
#define CU_SMETA_HASH_LEN   32   /* SHA-256 of admin tokens */

/* an object's sealed metadata record (store/objmeta.h) */
#define CU_SMETA_META_MAX 32768

typedef struct cu_smeta cu_smeta_t;

struct cu_smeta_tenant {
	char id[CU_SMETA_ID_MAX + 1];
	char name[CU_SMETA_NAME_MAX + 1];
	char state[CU_SMETA_STATE_MAX + 1];
	int64_t created; /* Unix seconds */
};

/* What a new tenant starts with: its first access key (secret sealed by
 * the caller), its admin token's hash and tenant key version 1 (wrapped
 * by the caller under the root named `root`). */
struct cu_smeta_tenant_new {
	const char *id;
	const char *name;
	const unsigned char *admin_token_hash; /* CU_SMETA_HASH_LEN bytes */
	const char *access_key_id;
	const unsigned char *secret_sealed;
	size_t secret_sealed_len;
	const unsigned char *tk_wrapped;
	size_t tk_wrapped_len;
	const char *root;
	int64_t created;
};

/* One object's current version. */
struct cu_smeta_object {
	char key[CU_SMETA_KEY_MAX + 1]; /* NUL-terminated; keys hold no NUL */
	size_t key_len;
	char version_id[CU_SMETA_VID_MAX + 1];
	uint64_t size; /* plaintext bytes */
	char etag[CU_SMETA_ETAG_MAX + 1];
	char content_type[CU_SMETA_CTYPE_MAX + 1]; /* "" when none */
	unsigned char *meta_sealed; /* malloc'd; NULL when no metadata */
	size_t meta_sealed_len;
	uint32_t tk_version;
	char path[CU_SMETA_PATH_MAX + 1]; /* relative to the data dir */
	int64_t created;                  /* Unix seconds */
	/* 0: one data file at path. N > 0: a multipart object whose N
	 * parts are files in the directory at path (cu_smeta_object_parts) */
	uint32_t parts;
};

/* cu_smeta_open - open (creating, 0600) the metadata database at path
 * (":memory:" for tests) and bring its schema up to date. Returns 0 and
 * *out (cu_smeta_close), or the errors of cu_db_open. */
int cu_smeta_open(const char *path, cu_smeta_t **out);

/* cu_smeta_close - close. NULL ok. */
void cu_smeta_close(cu_smeta_t *m);

/* cu_smeta_memo_stats - reads answered from the memo of access keys and
 * object rows, and reads that went to the database (for tests and
 * metrics). Either pointer may be NULL. */
void cu_smeta_memo_stats(cu_smeta_t *m, uint64_t *hits, uint64_t *misses);

/* ---- tenants ------------------------------------------------------ */

/* cu_smeta_tenant_create - insert a tenant in state "system_managed"
 * with its first access key and tenant key version 1, all in one
 * transaction. Returns 0, CU_ERR_EXISTS (id, name or access key id
 * taken), CU_ERR_INVAL (a NULL or over-long field) or CU_ERR_DB. */
int cu_smeta_tenant_create(cu_smeta_t *m, const struct cu_smeta_tenant_new *t);

/* cu_smeta_tenant_get - the tenant with this id into *out. Returns 0,
 * CU_ERR_NOTFOUND or CU_ERR_DB. */
int cu_smeta_tenant_get(cu_smeta_t *m, const char *id,
                        struct cu_smeta_tenant *out);

/* cu_smeta_tenant_token_hash - the SHA-256 of the tenant's admin token
 * into hash. Returns 0, CU_ERR_NOTFOUND or CU_ERR_DB. */
int cu_smeta_tenant_token_hash(cu_smeta_t *m, const char *id,
                               unsigned char hash[CU_SMETA_HASH_LEN]);

/* Called once per row, in order; return 0 to go on, anything else stops
 * the walk and is returned by the walking function (use 1 to stop early
 * without an error). Runs with the database locked: must not call back
 * into this module. */
typedef int (*cu_smeta_tenant_fn)(void *arg, const struct cu_smeta_tenant *t);

/* cu_smeta_tenant_list - every tenant, by creation time then id. Returns
 * 0, what fn returned, or CU_ERR_DB. */
int cu_smeta_tenant_list(cu_smeta_t *m, cu_smeta_tenant_fn fn, void *arg);

/* ---- access keys -------------------------------------------------- */

/* cu_smeta_akey_get - for an active access key: its tenant id (into
 * tenant, room for CU_SMETA_ID_MAX + 1) and its sealed secret (into
 * sealed, room for cap bytes; *len its length). akid is akid_len bytes
 * (untrusted). Returns 0, CU_ERR_NOTFOUND (unknown or revoked key),
 * CU_ERR_RANGE (sealed too small) or CU_ERR_DB. */
int cu_smeta_akey_get(cu_smeta_t *m, const char *akid, size_t akid_len,
                      char tenant[CU_SMETA_ID_MAX + 1], unsigned char *sealed,
                      size_t cap, size_t *len);

/* cu_smeta_akey_add - a further access key of the tenant (secret sealed
 * by the caller). Returns 0, CU_ERR_EXISTS, CU_ERR_NOTFOUND (no such
 * tenant), CU_ERR_INVAL or CU_ERR_DB. */
int cu_smeta_akey_add(cu_smeta_t *m, const char *tenant, const char *akid,
                      const void *sealed, size_t len, int64_t created);

struct cu_smeta_akey {
	char id[CU_SMETA_ID_MAX + 1];
	int active;
	int64_t created;
};

typedef int (*cu_smeta_akey_fn)(void *arg, const struct cu_smeta_akey *k);

/* cu_smeta_akey_list - the tenant's access keys (no secrets), by
 * creation. Returns as cu_smeta_tenant_list. */
int cu_smeta_akey_list(cu_smeta_t *m, const char *tenant, cu_smeta_akey_fn fn,
                       void *arg);

/* cu_smeta_akey_revoke - revoke one of the tenant's access keys for good
 * (its sealed secret is erased). Returns 0, CU_ERR_NOTFOUND (no such key
 * of this tenant, or already revoked) or CU_ERR_DB. */
int cu_smeta_akey_revoke(cu_smeta_t *m, const char *tenant, const char *akid);

/* cu_smeta_tenant_delete - delete a tenant that has no buckets, with its
 * access keys and tenant keys. Returns 0, CU_ERR_NOTFOUND, CU_ERR_STATE
 * (it still has buckets) or CU_ERR_DB. */
int cu_smeta_tenant_delete(cu_smeta_t *m, const char *tenant);

/* ---- tenant keys -------------------------------------------------- */

/* cu_smeta_tk_get - a tenant key version's wrapped bytes. version 0 means
 * the latest; *version_out (may be NULL) gets the version found. Returns
 * 0, CU_ERR_NOTFOUND, CU_ERR_RANGE (out too small) or CU_ERR_DB. */
int cu_smeta_tk_get(cu_smeta_t *m, const char *tenant, uint32_t version,
                    unsigned char *out, size_t cap, size_t *len,
                    uint32_t *version_out);

/* cu_smeta_tk_put - record a new tenant key version (wrapped under the
 * root named `root`). Returns 0, CU_ERR_EXISTS (version taken),
 * CU_ERR_NOTFOUND (no such tenant) or CU_ERR_DB. */
int cu_smeta_tk_put(cu_smeta_t *m, const char *tenant, uint32_t version,
                    const void *wrapped, size_t len, const char *root);

/* ---- customer-managed keys ---------------------------------------- */

/* Root names. The system key's wrap of a TK version lives in
 * tenant_keys (root CU_SMETA_ROOT_SYSTEM); while a tenant is
 * customer-managed that wrap is empty (root CU_SMETA_ROOT_CUSTOMER) and
 * each version has one wrap per root (a kid, or CU_SMETA_ROOT_AVK) in
 * a table of wraps. */
#define CU_SMETA_ROOT_SYSTEM   "file"
#define CU_SMETA_ROOT_CUSTOMER "cmk"
#define CU_SMETA_ROOT_AVK      "avk"

struct cu_smeta_wrap {
	uint32_t version;
	const char *root; /* CU_SMETA_ROOT_SYSTEM or a wrap table root */
	const unsigned char *wrapped;
	size_t len; /* 1..CU_SMETA_BLOB_MAX */
};

/* cu_smeta_tk_versions - the tenant's TK versions, ascending, into out
 * (cap entries; *n). Returns 0, CU_ERR_RANGE (more than cap) or
 * CU_ERR_DB. */
int cu_smeta_tk_versions(cu_smeta_t *m, const char *tenant, uint32_t *out,
                         size_t cap, size_t *n);

/* cu_smeta_tk_wrap_get - the wrap of TK version under root (a kid or
 * CU_SMETA_ROOT_AVK) into out. Returns 0, CU_ERR_NOTFOUND, CU_ERR_RANGE
 * or CU_ERR_DB. */
int cu_smeta_tk_wrap_get(cu_smeta_t *m, const char *tenant, uint32_t version,
                         const char *root, unsigned char *out, size_t cap,
                         size_t *len);

/* cu_smeta_tk_set_wraps - in one transaction, replace every wrap of every
 * TK version of the tenant by w[0..n): the old wraps are deleted (the
 * database overwrites deleted content: secure_delete), system-key wraps
 * go back into tenant_keys. A version without a wrap in w keeps none.
 * Returns 0, CU_ERR_INVAL, CU_ERR_NOTFOUND (no such version) or
 * CU_ERR_DB. */
int cu_smeta_tk_set_wraps(cu_smeta_t *m, const char *tenant,
                          const struct cu_smeta_wrap *w, size_t n);

/* cu_smeta_tk_add - a new TK version of a customer-managed tenant with
 * its wraps w[0..n) (all of that version). Returns 0, CU_ERR_EXISTS,
 * CU_ERR_INVAL or CU_ERR_DB. */
int cu_smeta_tk_add(cu_smeta_t *m, const char *tenant, uint32_t version,
                    const struct cu_smeta_wrap *w, size_t n);

/* cu_smeta_tenant_set_state - set the tenant's state. Returns 0,
 * CU_ERR_NOTFOUND, CU_ERR_INVAL or CU_ERR_DB. */
int cu_smeta_tenant_set_state(cu_smeta_t *m, const char *tenant,
                              const char *state);

/* cu_smeta_cmk_get - the tenant's encryption document (JSON text,
 * malloc'd into *doc). Returns 0, CU_ERR_NOTFOUND (never set),
 * CU_ERR_NOMEM or CU_ERR_DB. */
int cu_smeta_cmk_get(cu_smeta_t *m, const char *tenant, char **doc);

/* cu_smeta_cmk_put - store the encryption document and the tenant's
 * state in one transaction. Returns 0, CU_ERR_NOTFOUND, CU_ERR_INVAL or
 * CU_ERR_DB. */
int cu_smeta_cmk_put(cu_smeta_t *m, const char *tenant, const char *doc,
                     const char *state);

/* cu_smeta_event_add - append a security event (detail: JSON text).
 * Returns 0, CU_ERR_INVAL or CU_ERR_DB. */
int cu_smeta_event_add(cu_smeta_t *m, const char *tenant, int64_t ts,
                       const char *type, const char *detail);

typedef int (*cu_smeta_event_fn)(void *arg, int64_t seq, int64_t ts,
                                 const char *type, const char *detail);

/* cu_smeta_event_list - the tenant's events after seq `since`, oldest
 * first, at most limit. Returns as cu_smeta_tenant_list. */
int cu_smeta_event_list(cu_smeta_t *m, const char *tenant, int64_t since,
                        unsigned limit, cu_smeta_event_fn fn, void *arg);

/* cu_smeta_tenant_shred - the crypto-shred of a purge: delete every wrap
 * of every TK version of the tenant, its objects, uploads, buckets and
 * access keys (the tenant row stays), then VACUUM and checkpoint so no
 * deleted page survives in the file or the WAL. The caller removes the
 * data files. Returns 0, CU_ERR_INVAL or CU_ERR_DB. */
int cu_smeta_tenant_shred(cu_smeta_t *m, const char *tenant);

/* cu_smeta_reader_add - a tenant reader token (its SHA-256): may read the
 * tenant's settings and events. Returns 0, CU_ERR_EXISTS, CU_ERR_INVAL or
 * CU_ERR_DB (no row is added for an unknown tenant). */
int cu_smeta_reader_add(cu_smeta_t *m, const char *tenant,
                        const unsigned char hash[CU_SMETA_HASH_LEN],
                        int64_t created);

/* cu_smeta_reader_check - 0 when hash is a reader token of the tenant,
 * CU_ERR_NOTFOUND when not, or CU_ERR_DB. */
int cu_smeta_reader_check(cu_smeta_t *m, const char *tenant,
                          const unsigned char hash[CU_SMETA_HASH_LEN]);

/* ---- buckets ------------------------------------------------------ */

/* cu_smeta_bucket_create - a bucket of the tenant. Returns 0,
 * CU_ERR_EXISTS (the tenant already has one by that name),
 * CU_ERR_NOTFOUND (no such tenant) or CU_ERR_DB. */
int cu_smeta_bucket_create(cu_smeta_t *m, const char *tenant, const char *name,
                           int64_t created);

/* cu_smeta_bucket_get - 0 when the tenant has this bucket (*created, may
 * be NULL, gets its creation time), CU_ERR_NOTFOUND, or CU_ERR_DB. */
int cu_smeta_bucket_get(cu_smeta_t *m, const char *tenant, const char *name,
                        int64_t *created);

/* cu_smeta_bucket_delete - delete an empty bucket. Returns 0,
 * CU_ERR_NOTFOUND, CU_ERR_STATE (it holds objects or uploads in
 * progress) or CU_ERR_DB. */
int cu_smeta_bucket_delete(cu_smeta_t *m, const char *tenant, const char *name);

typedef int (*cu_smeta_bucket_fn)(void *arg, const char *name, int64_t created);

/* cu_smeta_bucket_list - the tenant's buckets by name. Returns as
 * cu_smeta_tenant_list. */
int cu_smeta_bucket_list(cu_smeta_t *m, const char *tenant,
                         cu_smeta_bucket_fn fn, void *arg);

/* ---- objects ------------------------------------------------------ */

/* cu_smeta_object_get - the current version of key (key_len bytes) in
 * the tenant's bucket into *o (release with cu_smeta_object_clear).
 * Returns 0, CU_ERR_NOTFOUND (no such object; *o cleared) or CU_ERR_DB. */
int cu_smeta_object_get(cu_smeta_t *m, const char *tenant, const char *bucket,
                        const char *key, size_t key_len,
                        struct cu_smeta_object *o);

/* cu_smeta_object_put - make *o the key's current version, in one
 * transaction that first checks the bucket exists and reads the version
 * it replaces. When one was replaced, *replaced is 1 and its data path
 * is in old_path (room for CU_SMETA_PATH_MAX + 1); the caller removes
 * that file after this returns. Returns 0, CU_ERR_NOTFOUND (no such
 * bucket), CU_ERR_INVAL (over-long field) or CU_ERR_DB. */
int cu_smeta_object_put(cu_smeta_t *m, const char *tenant, const char *bucket,
                        const struct cu_smeta_object *o,
                        char old_path[CU_SMETA_PATH_MAX + 1], int *replaced);

/* cu_smeta_object_delete - remove the key's current version. *deleted is
 * 1 and old_path its data path when there was one, else 0 (deleting a
 * missing key is not an error, as in S3). Returns 0, CU_ERR_NOTFOUND (no
 * such bucket) or CU_ERR_DB. */
int cu_smeta_object_delete(cu_smeta_t *m, const char *tenant,
                           const char *bucket, const char *key, size_t key_len,
                           char old_path[CU_SMETA_PATH_MAX + 1], int *deleted);

typedef int (*cu_smeta_object_fn)(void *arg, const struct cu_smeta_object *o);

/* cu_smeta_object_list - the bucket's objects whose key starts with
 * prefix (plen bytes, may be 0) and sorts strictly after `after` (alen
 * bytes, 0 = from the start), in S3 order (bytewise), at most `limit`
 * rows. The struct given to fn is only valid during the call and has no
 * metadata (meta_sealed NULL). Returns as cu_smeta_tenant_list. */
int cu_smeta_object_list(cu_smeta_t *m, const char *tenant, const char *bucket,
                         const char *prefix, size_t plen, const char *after,
                         size_t alen, unsigned limit, cu_smeta_object_fn fn,
                         void *arg);

/* ---- multipart uploads ------------------------------------------- */

/* An upload in progress. Its parts' files live in the directory at path;
 * when completed, upload_id becomes the object's version id. */
struct cu_smeta_upload {
	char upload_id[CU_SMETA_VID_MAX + 1];
	char key[CU_SMETA_KEY_MAX + 1];
	size_t key_len;
	char content_type[CU_SMETA_CTYPE_MAX + 1];
	unsigned char *meta_sealed; /* malloc'd; NULL when none */
	size_t meta_sealed_len;
	uint32_t tk_version; /* sealed the metadata */
	char path[CU_SMETA_PATH_MAX + 1];
	int64_t created;
};

/* One uploaded part (of an upload, or of a completed object). */
struct cu_smeta_part {
	uint32_t number; /* 1..10000 */
	uint64_t size;
	char etag[CU_SMETA_ETAG_MAX + 1]; /* quoted MD5 of the part */
	char file[CU_SMETA_VID_MAX + 1];  /* name inside the directory */
	int64_t created;
};

/* cu_smeta_upload_create - record a new upload of key in the tenant's
 * bucket (u->meta_sealed may be NULL). Returns 0, CU_ERR_NOTFOUND (no
 * such bucket), CU_ERR_EXISTS, CU_ERR_INVAL or CU_ERR_DB. */
int cu_smeta_upload_create(cu_smeta_t *m, const char *tenant,
                           const char *bucket, const struct cu_smeta_upload *u);

/* cu_smeta_upload_get - the upload with this id in the tenant's bucket
 * into *u (release with cu_smeta_upload_clear). Returns 0,
 * CU_ERR_NOTFOUND or CU_ERR_DB. */
int cu_smeta_upload_get(cu_smeta_t *m, const char *tenant, const char *bucket,
                        const char *upload_id, struct cu_smeta_upload *u);

/* cu_smeta_upload_clear - free what *u owns and zero it. NULL ok. */
void cu_smeta_upload_clear(struct cu_smeta_upload *u);

/* cu_smeta_part_put - record part p of the upload, replacing a previous
 * upload of the same number: *replaced is then 1 and old_file its file
 * (room for CU_SMETA_VID_MAX + 1), for the caller to remove. Returns 0,
 * CU_ERR_NOTFOUND (no such upload in this tenant's bucket), CU_ERR_INVAL
 * or CU_ERR_DB. */
int cu_smeta_part_put(cu_smeta_t *m, const char *tenant, const char *bucket,
                      const char *upload_id, const struct cu_smeta_part *p,
                      char old_file[CU_SMETA_VID_MAX + 1], int *replaced);

typedef int (*cu_smeta_part_fn)(void *arg, const struct cu_smeta_part *p);

/* cu_smeta_part_list - the upload's parts by number, those after
 * `after` (0 = all), at most limit. Returns as cu_smeta_tenant_list. */
int cu_smeta_part_list(cu_smeta_t *m, const char *upload_id, uint32_t after,
                       unsigned limit, cu_smeta_part_fn fn, void *arg);

/* cu_smeta_upload_complete - in one transaction: check the upload still
 * exists, make o (o->parts == n, o->path the upload's directory) the
 * key's current version with parts[0..n) as its manifest, and forget
 * the upload. A replaced version's path is given back as for
 * cu_smeta_object_put. Returns 0, CU_ERR_NOTFOUND (no such upload or
 * bucket), CU_ERR_INVAL or CU_ERR_DB. */
int cu_smeta_upload_complete(cu_smeta_t *m, const char *tenant,
                             const char *bucket, const char *upload_id,
                             const struct cu_smeta_object *o,
                             const struct cu_smeta_part *parts, size_t n,
                             char old_path[CU_SMETA_PATH_MAX + 1],
                             int *replaced);

/* cu_smeta_upload_abort - forget the upload and its parts; *path gets
 * its directory for the caller to remove. Returns 0, CU_ERR_NOTFOUND or
 * CU_ERR_DB. */
int cu_smeta_upload_abort(cu_smeta_t *m, const char *tenant, const char *bucket,
                          const char *upload_id,
                          char path[CU_SMETA_PATH_MAX + 1]);

typedef int (*cu_smeta_upload_fn)(void *arg, const struct cu_smeta_upload *u);

/* cu_smeta_upload_list - the bucket's uploads in progress, by key then
 * upload id, those whose key starts with prefix (plen bytes) and sorts
 * after `after` (alen bytes), at most limit. The struct given to fn has
 * no metadata. Returns as cu_smeta_tenant_list. */
int cu_smeta_upload_list(cu_smeta_t *m, const char *tenant, const char *bucket,
                         const char *prefix, size_t plen, const char *after,
                         size_t alen, unsigned limit, cu_smeta_upload_fn fn,
                         void *arg);

/* cu_smeta_object_parts - the manifest of a multipart object version, by
 * part number. Returns as cu_smeta_tenant_list. */
int cu_smeta_object_parts(cu_smeta_t *m, const char *tenant, const char *bucket,
                          const char *version_id, cu_smeta_part_fn fn,
                          void *arg);

/* cu_smeta_path_in_use - with file NULL: *in_use 1 when an object
 * version or an upload in progress references the data path (a version
 * file or a multipart directory), else 0. With file set: 1 when a part
 * of the upload or multipart object whose directory is `path` is that
 * file (a part acknowledged, or chosen at completion), else 0. Returns 0
 * or CU_ERR_DB (*in_use is then 1). */
int cu_smeta_path_in_use(cu_smeta_t *m, const char *path, const char *file,
                         int *in_use);

/* cu_smeta_object_clear - free what an object struct owns and zero it.
 * NULL ok. */
void cu_smeta_object_clear(struct cu_smeta_object *o);

/* ---- store settings and operator roots ---------------------------- */

/* cu_smeta_setting_get - the store-wide setting `name` into out (cap
 * bytes with the NUL). Returns 0, CU_ERR_NOTFOUND (never set),
 * CU_ERR_RANGE (out too small) or CU_ERR_DB. */
int cu_smeta_setting_get(cu_smeta_t *m, const char *name, char *out,
                         size_t cap);

/* cu_smeta_setting_set - set (or replace) the setting `name`. Returns 0,
 * CU_ERR_INVAL or CU_ERR_DB. */
int cu_smeta_setting_set(cu_smeta_t *m, const char *name, const char *value);

/* The operator's two roots: the system key's wraps (tenant_keys rows of
 * root CU_SMETA_ROOT_SYSTEM with a wrap) and the availability key's
 * (tk_wraps rows of root CU_SMETA_ROOT_AVK). */
enum cu_smeta_oproot { CU_SMETA_OPROOT_SYSTEM = 1, CU_SMETA_OPROOT_AVK };

/* Called once per wrap (wrapped: wlen bytes, valid during the call);
 * a non-zero return stops the walk and is returned. */
typedef int (*cu_smeta_oproot_wrap_fn)(void *arg, const char *tenant,
                                       uint32_t version, const void *wrapped,
                                       size_t wlen);

/* cu_smeta_oproot_wraps - every wrap under operator root `which`, in
 * tenant and version order, inside one read transaction. Returns 0,
 * fn's error, CU_ERR_INVAL or CU_ERR_DB. */
int cu_smeta_oproot_wraps(cu_smeta_t *m, enum cu_smeta_oproot which,
                          cu_smeta_oproot_wrap_fn fn, void *arg);

struct cu_smeta_oproot_rewrap {
	const char *tenant;
	uint32_t version;
	const unsigned char *wrapped;
	size_t len; /* 1..CU_SMETA_BLOB_MAX */
};

/* cu_smeta_oproot_rewrap - in one transaction, replace the wraps w[0..n)
 * under operator root `which` (each must exist) and set the setting
 * `setting` to `value` (which root they are now under). Nothing changes
 * on failure. Returns 0, CU_ERR_INVAL, CU_ERR_NOTFOUND (a wrap is gone)
 * or CU_ERR_DB. */
int cu_smeta_oproot_rewrap(cu_smeta_t *m, enum cu_smeta_oproot which,
                           const struct cu_smeta_oproot_rewrap *w, size_t n,
                           const char *setting, const char *value);

#endif

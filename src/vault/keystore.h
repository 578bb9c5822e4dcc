/* keystore.h - the vault's keys at rest: versions, attributes, soft
 * delete, recovery, purge, backup, and the vault's settings.
 *
 * One keystore is one vault's data directory: DIR/vault.db (SQLite, every
 * acknowledged write durable) and DIR/master.key (32 random bytes, mode
 * 0600, made on first open). Key material is sealed with cu_aead_seal
 * under the master key, with "/keys/NAME/VERSION" as associated data, so
 * the database never holds a plaintext private or secret key and a sealed
 * blob moved to another key or version fails to open. Material is
 * unsealed into locked memory for an operation (cu_vks_use), and the
 * loaded key is kept in a small bounded cache (keycache.h) that answers
 * only for the exact sealed bytes the database holds at that moment.
 *
 * The keystore also owns the schema of the tables that rbac.h and audit.h
 * use, and the wake-up of event-stream waiters.
 *
 * Times are Unix seconds. Functions are thread-safe. */
#ifndef CU_VAULT_KEYSTORE_H
#define CU_VAULT_KEYSTORE_H

#include "core/db.h"
#include "vault/keyops.h"

#include <jansson.h>
#include <stdint.h>

typedef struct cu_vks cu_vks_t;

#define CU_VKS_NAME_MAX      127 /* Azure: 1-127 of [0-9A-Za-z-] */
#define CU_VKS_VERSION_LEN   32  /* lowercase hex */
#define CU_VKS_RETENTION_MIN 7
#define CU_VKS_RETENTION_MAX 90

/* key_ops bits (JSON names "encrypt", "decrypt", ...). */
enum {
	CU_VKS_OP_ENCRYPT = 1 << 0,
	CU_VKS_OP_DECRYPT = 1 << 1,
	CU_VKS_OP_SIGN = 1 << 2,
	CU_VKS_OP_VERIFY = 1 << 3,
	CU_VKS_OP_WRAP = 1 << 4,
	CU_VKS_OP_UNWRAP = 1 << 5,
	CU_VKS_OP_IMPORT = 1 << 6,
	CU_VKS_OP_EXPORT = 1 << 7,
};

struct cu_vks_settings {
	int retention_days;   /* soft-delete retention, 7-90 */
	int purge_protection; /* 1: purge only by the system at the end */
};

/* One key version's metadata. Never holds key material. */
struct cu_vks_key {
	char name[CU_VKS_NAME_MAX + 1];
	char version[CU_VKS_VERSION_LEN + 1];
	int kty;      /* enum cu_vko_kty */
	int hsm;      /* created as RSA-HSM / EC-HSM / oct-HSM */
	int size;     /* RSA or oct bits; EC: enum cu_vko_crv */
	unsigned ops; /* CU_VKS_OP_* */
	int enabled;
	int64_t nbf, exp; /* 0: not set */
	int64_t created, updated;
	json_t *tags; /* object, owned; NULL when none */
	json_t *pub;  /* public JWK members (n, e / crv, x, y), owned */
	/* deleted keys only, else 0 / "" */
	int64_t deleted_date, scheduled_purge;
	/* the vault's settings, for recoveryLevel and recoverableDays */
	struct cu_vks_settings settings;
};

/* cu_vks_key_clear - release what a cu_vks_key owns (tags, pub) and zero
 * it. Safe on a zeroed struct. */
void cu_vks_key_clear(struct cu_vks_key *k);

/* cu_vks_open - open or create the keystore in directory dir (created
 * 0700 if missing). A new vault starts with `initial` settings (NULL: 90
 * days, no purge protection); an existing one keeps its own. *out is the
 * caller's (cu_vks_close). Returns 0, CU_ERR_INVAL (bad settings),
 * CU_ERR_IO (directory, master key file unreadable or of the wrong size
 * or mode), CU_ERR_NOMEM or a cu_db_open error. */
int cu_vks_open(const char *dir, const struct cu_vks_settings *initial,
                cu_vks_t **out);

/* cu_vks_close - close; wipes the master key. NULL is fine. */
void cu_vks_close(cu_vks_t *vks);

/* cu_vks_db - the database handle (owned by the keystore) for rbac.h and
 * audit.h's events. */
cu_db_t *cu_vks_db(cu_vks_t *vks);

/* cu_vks_memo - the memo (owned by the keystore) of answers read from
 * the keystore's database on the hot path, tagged with
 * cu_db_commits(cu_vks_db(vks)) (memo.h); for rbac.h. */
struct cu_memo *cu_vks_memo(cu_vks_t *vks);

/* cu_vks_audit_db - a handle (owned by the keystore) on the vault's audit
 * database, DIR/audit.db, for reading the log (cu_vaudit_list,
 * cu_vaudit_verify). */
cu_db_t *cu_vks_audit_db(cu_vks_t *vks);

/* cu_vks_cache_expire - drop loaded keys whose time in the key cache is
 * up (the maintenance thread calls it; lookups expire entries too). */
void cu_vks_cache_expire(cu_vks_t *vks);

/* cu_vks_open_audit_db - open another connection to the audit database
 * (for the audit writer, which commits on its own). *out is the
 * caller's (cu_db_close). Returns as cu_db_open. */
int cu_vks_open_audit_db(cu_vks_t *vks, cu_db_t **out);

/* cu_vks_settings_get - the vault's settings. Returns 0 or CU_ERR_DB. */
int cu_vks_settings_get(cu_vks_t *vks, struct cu_vks_settings *s);

/* cu_vks_settings_set - change the settings. Returns 0, CU_ERR_RANGE
 * (retention outside 7-90), CU_ERR_STATE (turning purge protection off
 * once it is on: it is irreversible) or CU_ERR_DB. */
int cu_vks_settings_set(cu_vks_t *vks, const struct cu_vks_settings *s);

/* cu_vks_recovery_level - Azure's DeletionRecoveryLevel for settings:
 * "Recoverable+Purgeable" / "Recoverable" (purge protection) at 90 days,
 * "CustomizedRecoverable+Purgeable" / "CustomizedRecoverable" below. */
const char *cu_vks_recovery_level(const struct cu_vks_settings *s);

/* cu_vks_name_valid - 1 when name (len bytes) is a valid key name. */
int cu_vks_name_valid(const char *name, size_t len);

/* cu_vks_version_valid - 1 when v (NUL-terminated) is a key version:
 * CU_VKS_VERSION_LEN lowercase hex digits. */
int cu_vks_version_valid(const char *v);

/* cu_vks_ops_parse - a JSON array of key_ops names to bits. Returns 0,
 * or CU_ERR_PARSE (not an array of strings, or an unknown name).
 * cu_vks_ops_json - bits to a new JSON array (NULL when out of memory).
 * cu_vks_ops_default - the operations a new key of kty gets when the
 * request names none. */
int cu_vks_ops_parse(const json_t *arr, unsigned *ops);
json_t *cu_vks_ops_json(unsigned ops);
unsigned cu_vks_ops_default(int kty);

/* cu_vks_op_name - the JSON name of one CU_VKS_OP_* bit ("unwrapKey");
 * "" for anything else. */
const char *cu_vks_op_name(unsigned op);

/* What a create or import asks for. */
struct cu_vks_new {
	int kty;      /* enum cu_vko_kty */
	int hsm;      /* report kty as "...-HSM" */
	int size;     /* generate: RSA bits, EC curve or oct bits; import: 0 */
	unsigned ops; /* 0: cu_vks_ops_default(kty) */
	int enabled;
	int64_t nbf, exp;
	const json_t *tags; /* object or NULL; copied */
};

/* cu_vks_create - add a version to key `name` (creating the key when
 * new): generate the material (material NULL) or take `material` (an
 * import; the caller keeps it and its kty wins over n->kty). The material
 * is sealed before it is stored. Records a "created" or "new_version"
 * event in the same transaction. *out (the new version, owned by the
 * caller) may be NULL. Returns 0, CU_ERR_INVAL (name, attributes),
 * CU_ERR_UNSUPPORTED (type or size), CU_ERR_EXISTS (a deleted key of this
 * name exists: recover or purge it first), CU_ERR_NOMEM, CU_ERR_CRYPTO or
 * CU_ERR_DB. */
int cu_vks_create(cu_vks_t *vks, const char *name, const struct cu_vks_new *n,
                  const cu_vko_t *material, struct cu_vks_key *out);

/* cu_vks_get - metadata of key `name` at `version` (NULL or "" = the
 * latest). Deleted keys are not found here. Returns 0, CU_ERR_NOTFOUND or
 * CU_ERR_DB. */
int cu_vks_get(cu_vks_t *vks, const char *name, const char *version,
               struct cu_vks_key *out);

/* cu_vks_list_fn - called once per key by the list functions; k is only
 * valid during the call. Return 0 to go on, non-zero to stop (and make
 * the list call return that value). */
typedef int (*cu_vks_list_fn)(void *ctx, const struct cu_vks_key *k);

/* cu_vks_list - live keys (the latest version of each, by name) when
 * name is NULL; else the versions of key `name` (oldest first). Skips
 * `skip` entries, calls fn for at most `max`, and sets *more to 1 when
 * entries remain. Returns 0, CU_ERR_NOTFOUND (versions of a missing
 * key), fn's non-zero value, or CU_ERR_DB. */
int cu_vks_list(cu_vks_t *vks, const char *name, int64_t skip, int64_t max,
                cu_vks_list_fn fn, void *ctx, int *more);

/* cu_vks_list_deleted - deleted keys (latest version each), like
 * cu_vks_list. */
int cu_vks_list_deleted(cu_vks_t *vks, int64_t skip, int64_t max,
                        cu_vks_list_fn fn, void *ctx, int *more);

/* What an update changes: each has_* flag says whether to set the field. */
struct cu_vks_update {
	int has_enabled, enabled;
	int has_nbf;
	int64_t nbf; /* 0 clears */
	int has_exp;
	int64_t exp; /* 0 clears */
	int has_ops;
	unsigned ops;
	const json_t *tags; /* replaces all tags when not NULL */
};

/* cu_vks_update - change one version's attributes (version NULL or "" =
 * the latest); records "enabled"/"disabled" events when enabled flips.
 * *out (may be NULL) gets the updated version. Returns 0, CU_ERR_NOTFOUND,
 * CU_ERR_INVAL (nbf after exp) or CU_ERR_DB. */
int cu_vks_update(cu_vks_t *vks, const char *name, const char *version,
                  const struct cu_vks_update *u, struct cu_vks_key *out);

/* cu_vks_delete - soft-delete key `name` (all versions): scheduled purge
 * = now + retention. *out (may be NULL) gets the latest version with its
 * deletion dates. Returns 0, CU_ERR_NOTFOUND or CU_ERR_DB. */
int cu_vks_delete(cu_vks_t *vks, const char *name, struct cu_vks_key *out);

/* cu_vks_get_deleted - the latest version of deleted key `name`.
 * Returns 0, CU_ERR_NOTFOUND or CU_ERR_DB. */
int cu_vks_get_deleted(cu_vks_t *vks, const char *name, struct cu_vks_key *out);

/* cu_vks_recover - bring deleted key `name` back. *out (may be NULL)
 * gets its latest version. Returns 0, CU_ERR_NOTFOUND or CU_ERR_DB. */
int cu_vks_recover(cu_vks_t *vks, const char *name, struct cu_vks_key *out);

/* cu_vks_purge - destroy deleted key `name` and all its material now.
 * Returns 0, CU_ERR_NOTFOUND (no deleted key of that name), CU_ERR_DENIED
 * (purge protection is on: only the scheduled purge may destroy it) or
 * CU_ERR_DB. */
int cu_vks_purge(cu_vks_t *vks, const char *name);

/* cu_vks_purge_due - purge every deleted key whose scheduled purge date
 * is <= now (the system's purge: allowed under purge protection).
 * *count (may be NULL) gets how many. Returns 0 or CU_ERR_DB. */
int cu_vks_purge_due(cu_vks_t *vks, int64_t now, int *count);

/* cu_vks_use - load the material of key `name` at `version` (NULL or ""
 * = latest) for one operation `op` (one CU_VKS_OP_* bit), after checking
 * the key is live, enabled, inside nbf/exp at `now` and permits op.
 * Those checks read the database on every call; the material comes from
 * the key cache when it holds this version loaded from the very sealed
 * bytes just read, else it is unsealed and loaded (and cached).
 * *key is the caller's (cu_vko_free, which wipes); *meta (may be NULL)
 * gets the version's metadata without tags and pub (NULL), on success
 * and also with CU_ERR_STATE and CU_ERR_DENIED (so a caller can tell a
 * wrong algorithm for the key type from a refusal); clear it with
 * cu_vks_key_clear. Returns 0,
 * CU_ERR_NOTFOUND, CU_ERR_STATE (disabled, not yet valid or expired: *why says
 * which), CU_ERR_DENIED (key_ops do not permit op), CU_ERR_AUTH (sealed
 * material fails to open: tampered database or wrong master key), CU_ERR_NOMEM
 * or CU_ERR_DB. */
int cu_vks_use(cu_vks_t *vks, const char *name, const char *version,
               unsigned op, int64_t now, cu_vko_t **key,
               struct cu_vks_key *meta, const char **why);

/* cu_vks_backup - an opaque, sealed blob of key `name` with all its
 * versions, restorable into this vault only. *blob (malloc) is the
 * caller's. Returns 0, CU_ERR_NOTFOUND, CU_ERR_NOMEM, CU_ERR_CRYPTO or
 * CU_ERR_DB. */
int cu_vks_backup(cu_vks_t *vks, const char *name, unsigned char **blob,
                  size_t *len);

/* cu_vks_restore - restore a backup blob under its key's name. *out
 * (may be NULL) gets the latest version. Returns 0, CU_ERR_AUTH or
 * CU_ERR_PARSE (not a backup of this vault), CU_ERR_EXISTS (a key of that
 * name exists, live or deleted: *out then holds only that key's name, as
 * stored, and its deleted_date, 0 when it is live), CU_ERR_NOMEM or
 * CU_ERR_DB. */
int cu_vks_restore(cu_vks_t *vks, const unsigned char *blob, size_t len,
                   struct cu_vks_key *out);

/* cu_vks_policy_get - key `name`'s rotation policy as a new JSON object
 * (caller decrefs), or NULL in *policy when none is set.
 * cu_vks_policy_set - store policy (copied). Both: 0, CU_ERR_NOTFOUND,
 * CU_ERR_NOMEM or CU_ERR_DB. */
int cu_vks_policy_get(cu_vks_t *vks, const char *name, json_t **policy);
int cu_vks_policy_set(cu_vks_t *vks, const char *name, const json_t *policy);

/* cu_vks_rotate - add a version to key `name` like its latest one (type,
 * size, key_ops, tags; enabled), with exp = now + the rotation policy's
 * attributes.expiryTime when the policy sets one. *out (may be NULL)
 * gets the new version. Returns as cu_vks_create, or CU_ERR_NOTFOUND. */
int cu_vks_rotate(cu_vks_t *vks, const char *name, struct cu_vks_key *out);

/* Azure's floors for a rotation policy, which the keys API enforces: a
 * Rotate trigger of at least 7 days, an expiryTime of at least 28, and a
 * timeBeforeExpiry at least 7 days shorter than the expiryTime. */
#define CU_VKS_ROTATE_MIN_S (7 * 86400)
#define CU_VKS_EXPIRY_MIN_S (28 * 86400)

/* cu_vks_policy_floors - whether a rotation policy (JSON: lifetimeActions,
 * attributes.expiryTime) keeps the floors above, its durations already
 * known to parse. Returns 0, or CU_ERR_RANGE with *why (may be NULL) a
 * sentence saying which floor it is under. */
int cu_vks_policy_floors(const json_t *policy, const char **why);

/* cu_vks_rotate_due - rotate every live key whose rotation policy has a
 * "Rotate" lifetime action that is due at `now` (timeAfterCreate after
 * the latest version's creation, or timeBeforeExpiry before its exp).
 * A policy below the floors (stored before they were enforced) is
 * ignored: it would make every version due at once, a new key version on
 * every pass. *count (may be NULL) gets how many. Returns 0 or the first
 * error. */
int cu_vks_rotate_due(cu_vks_t *vks, int64_t now, int *count);

/* cu_vks_duration - seconds of an ISO 8601 duration of whole days,
 * weeks, months (30 days) or years (365 days): "P90D", "P1Y". Returns 0
 * or CU_ERR_PARSE. */
int cu_vks_duration(const char *s, int64_t *secs);

/* cu_vks_check_expiry - record one "near expiry" event for each live
 * version whose exp falls within `window` seconds after now (once per
 * version; changing exp re-arms it). *count (may be NULL) gets how many.
 * Returns 0 or CU_ERR_DB. */
int cu_vks_check_expiry(cu_vks_t *vks, int64_t now, int64_t window, int *count);

/* cu_vks_notify - wake event-stream waiters (called after any commit
 * that added events). cu_vks_wait - wait until an event newer than
 * `since` may exist or timeout_ms passes. Returns 1 when woken by an
 * event, 0 on timeout. */
void cu_vks_notify(cu_vks_t *vks);
int cu_vks_wait(cu_vks_t *vks, int64_t since, int timeout_ms);

/* cu_vks_stop_waits - the vault is stopping: wake every cu_vks_wait now
 * and make later ones return 0 at once, so that long-polls and event
 * streams end instead of holding a graceful stop until they time out.
 * cu_vks_stopping - 1 once that was called, else 0. */
void cu_vks_stop_waits(cu_vks_t *vks);
int cu_vks_stopping(cu_vks_t *vks);

#endif

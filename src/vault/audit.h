/* audit.h - the vault's audit log and key event stream.
 *
 * Audit: one record per request (who, what, on which key and version,
 * the result, the request id, when), append-only and hash-chained: each
 * record's hash = SHA-256(previous record's hash || canonical record), the
 * first record's previous hash being 32 zero bytes. The canonical record
 * is the JSON object of its fields with sorted keys and no spaces. An
 * edited, inserted or deleted record breaks the chain from that point;
 * cu_vaudit_verify finds the first break. (Cutting records off the end
 * leaves a valid shorter chain: compare the last hash with one kept
 * elsewhere to catch that.)
 *
 * Events: key created, new version, enabled, disabled, deleted,
 * recovered, purged, near expiry, role assigned, role removed; numbered
 * by a sequence so a subscriber resumes with "since=SEQ".
 *
 * The audit log is a database of its own, DIR/audit.db beside the
 * keystore's DIR/vault.db (cu_vaudit_open), the events a table of the
 * keystore's (keystore.h), written with the changes they report. Apart
 * because every audit commit changes the file it lands in, and SQLite
 * drops every other connection's page cache of a file that changed: with
 * the audit in vault.db each key lookup of the hot path re-read its pages
 * (measured: 9 preads per unwrap, none apart). */
#ifndef CU_VAULT_AUDIT_H
#define CU_VAULT_AUDIT_H

#include "core/db.h"

#include <jansson.h>
#include <stdint.h>

/* Event types (the "type" member of an event). */
#define CU_VEV_CREATED      "key_created"
#define CU_VEV_NEW_VERSION  "key_new_version"
#define CU_VEV_ENABLED      "key_enabled"
#define CU_VEV_DISABLED     "key_disabled"
#define CU_VEV_DELETED      "key_deleted"
#define CU_VEV_RECOVERED    "key_recovered"
#define CU_VEV_PURGED       "key_purged"
#define CU_VEV_NEAR_EXPIRY  "key_near_expiry"
#define CU_VEV_ROLE_ADDED   "role_assigned"
#define CU_VEV_ROLE_REMOVED "role_removed"

/* One audit record. Strings are NUL-terminated; NULL is stored as "". */
struct cu_vaudit_rec {
	int64_t seq;   /* set by cu_vaudit_append */
	int64_t ts_ms; /* Unix milliseconds; 0: now */
	const char *principal;
	const char *op;
	const char *key;
	const char *version;
	const char *result; /* "ok", or an error code like "Forbidden" */
	const char *request_id;
};

/* cu_vaudit_open - open (creating it with its schema) the audit database
 * at path. *out is the caller's (cu_db_close). Returns as cu_db_open. */
int cu_vaudit_open(const char *path, cu_db_t **out);

/* cu_vaudit_adopt - copy into db (an audit database) the records of the
 * audit table an older version kept in the keystore's database at
 * legacy_path, those db does not have yet (by seq), in one durable
 * transaction: the chain goes on unbroken. A missing file or one without
 * that table is nothing to do. Run it before the keystore's migrations,
 * which drop the old table. Returns 0, CU_ERR_NOMEM or CU_ERR_DB. */
int cu_vaudit_adopt(cu_db_t *db, const char *legacy_path);

/* cu_vaudit_append - append rec in its own durable transaction, chained
 * to the last record (not while a writer, below, lives on the same file:
 * the writer keeps the chain's end in memory). rec->seq and rec->ts_ms are
 * filled in. Returns 0, CU_ERR_NOMEM, CU_ERR_CRYPTO or CU_ERR_DB. */
int cu_vaudit_append(cu_db_t *db, struct cu_vaudit_rec *rec);

/* A group-commit writer: the records of many concurrent requests go in
 * one transaction (one fsync) on the writer's own database connection,
 * so a request waits for about one commit and readers on other
 * connections never wait for the audit's fsync. There is no writer
 * thread: the first request to find no commit under way commits what is
 * queued, then hands the lead to the oldest record still queued. */
typedef struct cu_vaudit_writer cu_vaudit_writer_t;

/* cu_vaudit_writer_new - a writer on db (a connection of its own, owned
 * by the writer from now on, even on failure). Returns 0 and *out, or
 * CU_ERR_NOMEM. */
int cu_vaudit_writer_new(cu_db_t *db, cu_vaudit_writer_t **out);

/* cu_vaudit_writer_append - append rec and return once it is durable
 * (rec->seq and rec->ts_ms are filled in). Thread-safe. Returns 0, or
 * the error of the batch's commit (CU_ERR_NOMEM when no semaphore could
 * be made: nothing was queued). */
int cu_vaudit_writer_append(cu_vaudit_writer_t *w, struct cu_vaudit_rec *rec);

/* cu_vaudit_writer_free - close the writer's connection. NULL is fine.
 * No append may be running (every append returns only once its record
 * is written, so nothing is left queued). */
void cu_vaudit_writer_free(cu_vaudit_writer_t *w);

/* cu_vaudit_list - records with seq > since, oldest first, at most max,
 * as a JSON array (new reference, caller decrefs) of objects with seq,
 * ts (ms), principal, op, key, version, result, request_id and hash (hex).
 * Returns 0, CU_ERR_NOMEM or CU_ERR_DB. */
int cu_vaudit_list(cu_db_t *db, int64_t since, int64_t max, json_t **out);

/* cu_vaudit_verify - check the whole chain. Returns 0 when every record
 * is intact (*count, may be NULL, gets how many), CU_ERR_AUTH when a
 * record was edited, inserted or removed (*bad_seq gets the first record
 * that does not verify, or the first missing sequence number), or
 * CU_ERR_NOMEM / CU_ERR_CRYPTO / CU_ERR_DB. */
int cu_vaudit_verify(cu_db_t *db, int64_t *count, int64_t *bad_seq);

/* cu_vaudit_event_add - add an event inside the caller's open write
 * transaction (so it commits or rolls back with the change it reports).
 * key, version and detail may be NULL. Returns 0 or CU_ERR_DB. */
int cu_vaudit_event_add(cu_db_t *db, const char *type, const char *key,
                        const char *version, const char *detail);

/* cu_vaudit_events - events with seq > since, oldest first, at most max,
 * as a JSON array (caller decrefs) of {seq, ts, type, key, version,
 * detail}. Returns 0, CU_ERR_NOMEM or CU_ERR_DB. */
int cu_vaudit_events(cu_db_t *db, int64_t since, int64_t max, json_t **out);

/* cu_vaudit_events_last - the newest event's seq (0 when none) into
 * *seq. Returns 0 or CU_ERR_DB. */
int cu_vaudit_events_last(cu_db_t *db, int64_t *seq);

#endif

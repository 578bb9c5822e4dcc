/* objmeta.h - what an object version carries beside its content and its
 * Content-Type: its user metadata (x-amz-meta-*) and the standard
 * headers S3 keeps with an object and returns on GET and HEAD
 * (Cache-Control, Content-Disposition, Content-Encoding,
 * Content-Language, Expires).
 *
 * Both are the tenant's content (a Content-Disposition names a file, a
 * Content-Language says who it is for), so they are one record sealed
 * under the tenant key: AES-256-GCM (cu_skeys_seal) under a TK version
 * with "custos/meta/v1" || the object identity (cu_skeys_object_id) as
 * associated data; a record moved to another object or tenant does not
 * open. Content-Type stays a plaintext column (store/meta.h): listings
 * and copies read it without a key.
 *
 * The record's plaintext is JSON, in one of two forms:
 *   form 2, written now: {"v":2,"m":{NAME:VALUE,...},"h":{HEADER:VALUE,...}}
 *     m the user metadata (names in lower case, without "x-amz-meta-"),
 *     h the standard headers by their canonical names; an empty m or h
 *     is left out;
 *   form 1, written by earlier versions: {NAME:VALUE,...}, user
 *     metadata only.
 * Every member of form 1 is a string, so an integer "v" tells the forms
 * apart; both are read, so data directories written before keep
 * working. */
#ifndef CU_STORE_OBJMETA_H
#define CU_STORE_OBJMETA_H

#include <stddef.h>
#include <stdint.h>

#include "store/keys.h"

#define CU_SOBJMETA_USER_MAX 2048 /* bytes of user metadata: S3's limit */
/* bytes of the standard headers' values together: S3 limits a PUT's
 * whole header to 8 KB, so no request S3 takes is refused */
#define CU_SOBJMETA_STD_MAX 8192
#define CU_SOBJMETA_N_STD   5 /* standard headers kept */

typedef struct cu_sobjmeta cu_sobjmeta_t;

/* cu_sobjmeta_std_name - the canonical name of standard header i
 * ("Cache-Control", "Content-Disposition", "Content-Encoding",
 * "Content-Language", "Expires"), or NULL for i >= CU_SOBJMETA_N_STD. */
const char *cu_sobjmeta_std_name(size_t i);

/* cu_sobjmeta_new - an empty record into *out (cu_sobjmeta_free).
 * Returns 0 or CU_ERR_NOMEM. */
int cu_sobjmeta_new(cu_sobjmeta_t **out);

/* cu_sobjmeta_free - free m. NULL ok. Its copies of the standard headers
 * are wiped; the user metadata, held in jansson strings, is not (it is
 * tenant content, not key material, and the request's own headers it came
 * from are not wiped either). */
void cu_sobjmeta_free(cu_sobjmeta_t *m);

/* cu_sobjmeta_add_user - add the user metadata item name (without
 * "x-amz-meta-") = value, both NUL-terminated. S3 counts the names and
 * values against its limit. Returns 0, CU_ERR_TOOLARGE (the items would
 * pass CU_SOBJMETA_USER_MAX bytes), CU_ERR_INVAL (not UTF-8, or NULL) or
 * CU_ERR_NOMEM. */
int cu_sobjmeta_add_user(cu_sobjmeta_t *m, const char *name, const char *value);

/* cu_sobjmeta_set_std - set standard header i to value (NUL-terminated),
 * replacing an earlier one. From Content-Encoding the coding
 * "aws-chunked" is dropped: it says how the request's body was sent, not
 * what the object is (S3 drops it too). An empty value, or a
 * Content-Encoding of aws-chunked alone, leaves the header unset.
 * Returns 0, CU_ERR_RANGE (the standard headers would pass
 * CU_SOBJMETA_STD_MAX bytes), CU_ERR_INVAL (not UTF-8, i out of range, or
 * NULL) or CU_ERR_NOMEM. */
int cu_sobjmeta_set_std(cu_sobjmeta_t *m, size_t i, const char *value);

/* cu_sobjmeta_std - the value of standard header i, or NULL when unset
 * (or i is out of range). Valid until m changes or is freed. */
const char *cu_sobjmeta_std(const cu_sobjmeta_t *m, size_t i);

/* Called once per user metadata item; a non-zero return stops the walk
 * and is returned by cu_sobjmeta_user_each. */
typedef int (*cu_sobjmeta_user_fn)(void *arg, const char *name,
                                   const char *value);

/* cu_sobjmeta_user_each - fn for every user metadata item. Returns 0 or
 * what fn returned. */
int cu_sobjmeta_user_each(const cu_sobjmeta_t *m, cu_sobjmeta_user_fn fn,
                          void *arg);

/* cu_sobjmeta_seal - m as a sealed record (form 2) under the tenant's TK
 * version tk_version, bound to the object identity id (id_len bytes):
 * *out malloc'd (the caller frees it), *len its length; both NULL and 0
 * when m is NULL or holds nothing, so an object without metadata costs
 * no key use on GET. Returns 0, CU_ERR_TOOLARGE (the record would pass
 * CU_SMETA_META_MAX bytes), CU_ERR_NOMEM, or the errors of
 * cu_skeys_seal (CU_ERR_NOTFOUND: no such TK version; a root's). */
int cu_sobjmeta_seal(const cu_sobjmeta_t *m, cu_skeys_t *k, const char *tenant,
                     uint32_t tk_version, const unsigned char *id,
                     size_t id_len, unsigned char **out, size_t *len)
    __attribute__((warn_unused_result));

/* cu_sobjmeta_open - a record sealed by cu_sobjmeta_seal or by an
 * earlier version (form 1) for the object identity id under TK version
 * tk_version, into a new *out (cu_sobjmeta_free). sealed may be NULL with
 * len 0: an object without metadata (an empty record). Returns 0,
 * CU_ERR_AUTH (altered, or another object's), CU_ERR_PARSE (too short,
 * or opens to something that is not a record), CU_ERR_UNSUPPORTED (a
 * later form), CU_ERR_NOMEM, or the errors of cu_skeys_open (a denied
 * or unreachable root). */
int cu_sobjmeta_open(cu_skeys_t *k, const char *tenant, uint32_t tk_version,
                     const unsigned char *id, size_t id_len,
                     const unsigned char *sealed, size_t len,
                     cu_sobjmeta_t **out) __attribute__((warn_unused_result));

#endif

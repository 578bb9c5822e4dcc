/* xmlw.h - a small writer for S3 response documents.
 *
 * Builds XML into a growing buffer with a size bound. Text is escaped
 * (& < > " ' and control characters, as character references) and must be
 * valid UTF-8: invalid UTF-8, U+FFFE/U+FFFF and NUL are refused. Element
 * names are checked ([A-Za-z_][A-Za-z0-9._-]*, at most 64 bytes).
 *
 * Errors are sticky: after the first failure every call returns the same
 * error and writes nothing, so a document can be built with unchecked
 * calls and checked once at cu_xmlw_finish. Errors: CU_ERR_INVAL (bad name
 * or text, unbalanced close), CU_ERR_TOOLARGE (the bound would be passed),
 * CU_ERR_RANGE (nesting deeper than CU_XMLW_MAX_DEPTH), CU_ERR_NOMEM. */
#ifndef CU_XMLW_H
#define CU_XMLW_H

#include <stddef.h>
#include <stdint.h>

#define CU_XMLW_MAX_DEPTH 16
#define CU_XMLW_S3_NS     "http://s3.amazonaws.com/doc/2006-03-01/"

typedef struct cu_xmlw cu_xmlw_t;

/* cu_xmlw_new - a writer whose document may not exceed max_len bytes
 * (0 means 16 MiB). Returns 0 and sets *out (free with cu_xmlw_free), or
 * CU_ERR_NOMEM. */
int cu_xmlw_new(size_t max_len, cu_xmlw_t **out)
    __attribute__((warn_unused_result));

/* cu_xmlw_free - free the writer and any unfinished document. NULL ok. */
void cu_xmlw_free(cu_xmlw_t *w);

/* cu_xmlw_decl - write <?xml version="1.0" encoding="UTF-8"?> and a
 * newline; only as the first thing in the document. */
int cu_xmlw_decl(cu_xmlw_t *w);

/* cu_xmlw_open - write <name> (with xmlns="..." when xmlns is not NULL)
 * and make it the current element. */
int cu_xmlw_open(cu_xmlw_t *w, const char *name, const char *xmlns);

/* cu_xmlw_close - close the current element. */
int cu_xmlw_close(cu_xmlw_t *w);

/* cu_xmlw_text - write <name>text</name>, text being len bytes of UTF-8
 * (need not be NUL-terminated; may be empty). */
int cu_xmlw_text(cu_xmlw_t *w, const char *name, const char *text, size_t len);

/* cu_xmlw_str - cu_xmlw_text with a NUL-terminated string. */
int cu_xmlw_str(cu_xmlw_t *w, const char *name, const char *s);

/* cu_xmlw_u64 - <name>decimal</name>. */
int cu_xmlw_u64(cu_xmlw_t *w, const char *name, uint64_t v);

/* cu_xmlw_bool - <name>true</name> or <name>false</name>. */
int cu_xmlw_bool(cu_xmlw_t *w, const char *name, int v);

/* cu_xmlw_error_open - start an S3 error document: the declaration, then
 * <Error><Code/><Message/><Resource/><RequestId/> with <Error> left open
 * for extra elements (StringToSign, CanonicalRequest, ...); close it with
 * cu_xmlw_close. resource and request_id may be NULL (element left out). */
int cu_xmlw_error_open(cu_xmlw_t *w, const char *code, const char *message,
                       const char *resource, const char *request_id);

/* cu_xmlw_finish - end the document: every element must be closed. On
 * success *out (NUL-terminated, *len bytes without the NUL) belongs to
 * the caller (free with free()) and the writer is empty again. Returns 0,
 * the sticky error, or CU_ERR_INVAL when elements are still open. */
int cu_xmlw_finish(cu_xmlw_t *w, char **out, size_t *len)
    __attribute__((warn_unused_result));

/* cu_xmlw_error_doc - a complete S3 error document in one call (see
 * cu_xmlw_error_open), at most max_len bytes (0: 16 MiB). *out as for
 * cu_xmlw_finish. */
int cu_xmlw_error_doc(const char *code, const char *message,
                      const char *resource, const char *request_id,
                      size_t max_len, char **out, size_t *len)
    __attribute__((warn_unused_result));

#endif

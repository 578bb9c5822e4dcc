/* pki.h - a development PKI: a local CA, server and client certificates.
 *
 * For `custos dev`, `custos pki` and the tests: EC P-256 keys, SHA-256
 * signatures, X.509 v3. Not a production CA (no revocation, no policy).
 * PEM text of private keys is secret: free it with cu_pki_pem_free, which
 * wipes it. */
#ifndef CU_PKI_H
#define CU_PKI_H

#include <stddef.h>

#define CU_PKI_FINGERPRINT_LEN 64 /* hex digits of a SHA-256 */

/* File names cu_pki_init_dir writes, and cu_pki_issue_client_dir reads. */
#define CU_PKI_CA_CERT     "ca.pem"
#define CU_PKI_CA_KEY      "ca-key.pem"
#define CU_PKI_SERVER_CERT "server.pem"
#define CU_PKI_SERVER_KEY  "server-key.pem"

enum cu_pki_kind {
	CU_PKI_SERVER = 1, /* serverAuth EKU; SANs localhost, 127.0.0.1, ::1 */
	CU_PKI_CLIENT = 2, /* clientAuth EKU; CN = principal name */
};

/* cu_pki_ca_new - a self-signed CA (CA:TRUE, keyCertSign, valid `days`
 * days, 0 = 3650) with common name `cn`. Returns 0 with *cert_pem and
 * *key_pem (both NUL-terminated, free with cu_pki_pem_free), CU_ERR_INVAL,
 * CU_ERR_CRYPTO or CU_ERR_NOMEM. */
int cu_pki_ca_new(const char *cn, unsigned days, char **cert_pem,
                  char **key_pem);

/* cu_pki_issue - a certificate signed by the CA (its PEM cert and key) for
 * a fresh key. SERVER: CN `cn`, SANs DNS:localhost, IP:127.0.0.1, IP:::1
 * plus `extra_sans` (n entries; each an IP address if it parses as one,
 * else a DNS name). CLIENT: CN `cn` (1-64 bytes), no SANs, extra_sans
 * ignored. Valid `days` (0 = 825). Returns 0 with *cert_pem, *key_pem (free
 * with cu_pki_pem_free), CU_ERR_INVAL (bad CA PEM, key not the CA's, bad
 * name), CU_ERR_CRYPTO or CU_ERR_NOMEM. */
int cu_pki_issue(const char *ca_cert_pem, const char *ca_key_pem,
                 enum cu_pki_kind kind, const char *cn,
                 const char *const *extra_sans, size_t n, unsigned days,
                 char **cert_pem, char **key_pem);

/* cu_pki_fingerprint - lowercase hex SHA-256 of the DER of the first
 * certificate in `pem` (len bytes) into out (65 bytes with the NUL): the
 * value handlers see from cu_http_req_client_cert_sha256. Returns 0,
 * CU_ERR_PARSE, or CU_ERR_CRYPTO. */
int cu_pki_fingerprint(const char *pem, size_t len,
                       char out[CU_PKI_FINGERPRINT_LEN + 1]);

/* cu_pki_pem_free - wipe and free a PEM string from this module. NULL ok. */
void cu_pki_pem_free(char *pem);

/* cu_pki_read_file - read a whole file of at most `max` bytes into a fresh
 * NUL-terminated buffer (*out, free with cu_pki_pem_free; *len may be
 * NULL). Returns 0, CU_ERR_NOTFOUND, CU_ERR_TOOLARGE, CU_ERR_IO or
 * CU_ERR_NOMEM. */
int cu_pki_read_file(const char *path, size_t max, char **out, size_t *len);

/* cu_pki_write_file - write `len` bytes to `path` atomically (temporary
 * file, fsync, rename) with permissions `mode` (0600 for keys). Returns 0
 * or CU_ERR_IO. */
int cu_pki_write_file(const char *path, const void *data, size_t len,
                      unsigned mode);

/* cu_pki_init_dir - create `dir` (0700) if needed and write a fresh CA and
 * server certificate into it (the CU_PKI_* names above; keys 0600).
 * extra_sans as in cu_pki_issue. Refuses to overwrite an existing CA:
 * CU_ERR_EXISTS. Other returns: CU_ERR_IO, CU_ERR_CRYPTO, CU_ERR_NOMEM. */
int cu_pki_init_dir(const char *dir, const char *const *extra_sans, size_t n);

/* cu_pki_issue_client_dir - issue a client certificate for principal
 * `name` ([A-Za-z0-9._-], 1-64 bytes, not starting with '.') with the CA in
 * `dir`, written as DIR/client-NAME.pem and DIR/client-NAME-key.pem
 * (0600), overwriting any previous pair. `fp` (may be NULL) gets its
 * fingerprint. Returns 0, CU_ERR_INVAL (bad name), CU_ERR_NOTFOUND (no CA
 * in dir), CU_ERR_IO, CU_ERR_CRYPTO or CU_ERR_NOMEM. */
int cu_pki_issue_client_dir(const char *dir, const char *name,
                            char fp[CU_PKI_FINGERPRINT_LEN + 1]);

#endif
